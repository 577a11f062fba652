//! The LLM gateway (issue 12): one request/response model in front of
//! OpenAI, Anthropic, Gemini and xAI on their real wire formats, usage
//! normalised to one shape, costs in integer micro-dollars.
//!
//! - [`model`]: the request, the answer, the typed errors;
//! - [`providers`]: each provider's body and how to read its answer and
//!   its usage (pure functions, tested against the LLM simulator);
//! - [`pricing`]: prices per model and the cost of a call, exactly;
//! - [`client`]: sending a request to a configured provider;
//! - [`gateway`]: retries with backoff, fallback chains, circuit breakers;
//! - [`service`]: a metered call — budgets reserved and settled, a usage row;
//! - [`setup`]: providers and routes from the operator's `[llm]` configuration.
//!
//! Built so far: chat whole or streamed (text, images in, tools,
//! structured output) and its costs. To come (docs/llm-simulator.md,
//! issue 12): budgets, usage rows, the response
//! cache, the `llm` capability and the analytics API.

pub mod client;
pub mod gateway;
pub mod model;
pub mod pricing;
pub mod providers;
pub mod service;
pub mod setup;

pub use model::{
    ChatRequest, ChatResponse, LlmError, Message, Part, Role, ToolCall, ToolChoice, ToolSpec, Usage,
};
