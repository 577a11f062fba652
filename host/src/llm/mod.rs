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
//! - [`service`]: a metered call — budgets reserved and settled, a usage
//!   row — for chats whole or streamed, images, transcription, counts;
//! - [`answer_cache`]: the opt-in response cache, per guild and cog;
//! - [`setup`]: providers and routes from the operator's `[llm]` configuration.
//!
//! The `llm` capability (`crate::capabilities::llm`) and the analytics API
//! (`crate::api::llm`) sit on [`service`]; `docs/llm.md` is the guide.

pub mod answer_cache;
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
