//! One request and one answer for every provider, and the ways a call fails.

use serde_json::Value;

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The person.
    User,
    /// The model.
    Assistant,
    /// The result of a tool the model called.
    Tool,
}

/// A piece of a message.
#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    /// Text.
    Text(String),
    /// An image, base64 with its media type.
    Image {
        /// `image/png`, `image/jpeg`, …
        media_type: String,
        /// The bytes, base64.
        data: String,
    },
    /// A call the model made (in an assistant message).
    ToolCall(ToolCall),
    /// What a tool answered (in a tool message).
    ToolResult {
        /// The call it answers.
        call_id: String,
        /// The tool's name (Gemini matches results by name).
        name: String,
        /// Its output, as text.
        content: String,
    },
}

/// A call of a tool by the model.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    /// The provider's id of the call.
    pub id: String,
    /// The tool.
    pub name: String,
    /// Its arguments, a JSON object.
    pub arguments: Value,
}

/// One message of the conversation.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// Who wrote it.
    pub role: Role,
    /// Its parts.
    pub parts: Vec<Part>,
    /// Cache the prompt up to and including this message (a hint; only
    /// Anthropic needs it said).
    pub cache: bool,
}

impl Message {
    /// A text message from the user.
    pub fn user(text: impl Into<String>) -> Self {
        Self {
            role: Role::User,
            parts: vec![Part::Text(text.into())],
            cache: false,
        }
    }
}

/// A tool the model may call.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolSpec {
    /// Its name.
    pub name: String,
    /// What it does.
    pub description: String,
    /// Its parameters' JSON Schema.
    pub parameters: Value,
}

/// Whether the model must call a tool.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum ToolChoice {
    /// The model decides.
    #[default]
    Auto,
    /// No tool.
    None,
    /// Some tool.
    Required,
    /// This tool.
    Tool(String),
}

/// A chat request, whatever the provider.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChatRequest {
    /// The provider's model name.
    pub model: String,
    /// Instructions.
    pub system: Option<String>,
    /// Cache the system prompt (and the tools before it).
    pub cache_system: bool,
    /// The conversation.
    pub messages: Vec<Message>,
    /// Tools.
    pub tools: Vec<ToolSpec>,
    /// Tool choice.
    pub tool_choice: ToolChoice,
    /// A JSON Schema the answer must fit (structured output).
    pub schema: Option<Value>,
    /// Most tokens to generate.
    pub max_tokens: u32,
    /// Sampling temperature.
    pub temperature: Option<f32>,
    /// Stop sequences.
    pub stop: Vec<String>,
    /// An opaque id of the end user (for the provider's abuse checks).
    pub user: Option<String>,
}

/// Tokens of one call, in one shape whatever the provider said. Each
/// count is billed at one rate: `input` excludes what was read from or
/// written to the cache, `output` includes reasoning.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Input at the input rate.
    pub input: u64,
    /// Input read from the prompt cache.
    pub cache_read: u64,
    /// Input written to the cache for five minutes (or the provider's default).
    pub cache_write_5m: u64,
    /// Input written to the cache for an hour.
    pub cache_write_1h: u64,
    /// Output, reasoning included.
    pub output: u64,
    /// Of `output`, the reasoning ("thinking") tokens.
    pub reasoning: u64,
    /// Images generated.
    pub images: u64,
    /// Audio transcribed, milliseconds.
    pub audio_ms: u64,
    /// What the provider says it billed, when it says (xAI's
    /// `cost_in_usd_ticks`): it wins over the price table.
    pub billed_micros: Option<u64>,
}

impl Usage {
    /// Every input token, however billed.
    pub fn total_input(&self) -> u64 {
        self.input + self.cache_read + self.cache_write_5m + self.cache_write_1h
    }
}

/// Why the model stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    /// It was done.
    Stop,
    /// It hit `max_tokens`.
    Length,
    /// It called tools.
    ToolCalls,
    /// It refused, or a filter stopped it.
    Refused,
}

/// A completed chat.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatResponse {
    /// The text.
    pub text: String,
    /// Tools it called.
    pub tool_calls: Vec<ToolCall>,
    /// The answer as JSON, when a schema was asked for (checked to parse).
    pub json: Option<Value>,
    /// Why it stopped.
    pub finish: Finish,
    /// Tokens.
    pub usage: Usage,
    /// The model that answered, as the provider named it.
    pub model: String,
}

/// An image to generate.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImageRequest {
    /// The provider's model name.
    pub model: String,
    /// What to draw.
    pub prompt: String,
    /// `1024x1024`, … (OpenAI's sizes; xAI takes an aspect ratio instead).
    pub size: Option<String>,
    /// `low`, `medium`, `high`.
    pub quality: Option<String>,
    /// An opaque id of the end user.
    pub user: Option<String>,
}

/// A generated image.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageAnswer {
    /// `image/png`, …
    pub media_type: String,
    /// The bytes.
    pub data: Vec<u8>,
    /// Tokens (where the provider bills by token) and the image.
    pub usage: Usage,
}

/// Speech to transcribe.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TranscriptionRequest {
    /// The provider's model name.
    pub model: String,
    /// The file's name (its extension says the format).
    pub filename: String,
    /// The sound.
    pub audio: Vec<u8>,
    /// ISO-639-1 language, when known.
    pub language: Option<String>,
}

/// A transcript.
#[derive(Debug, Clone, PartialEq)]
pub struct Transcript {
    /// What was said.
    pub text: String,
    /// Tokens or duration, as the provider billed it.
    pub usage: Usage,
}

/// Why a call failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LlmError {
    /// The key was refused.
    #[error("the provider refused the key: {0}")]
    Auth(String),
    /// Slow down; retry after this long, if the provider said.
    #[error("rate limited by the provider{}", .retry_after.map(|d| format!(" (retry after {} ms)", d.as_millis())).unwrap_or_default())]
    RateLimited {
        /// `Retry-After`.
        retry_after: Option<std::time::Duration>,
    },
    /// The prompt is longer than the model takes.
    #[error("the prompt is too long for the model: {0}")]
    ContextTooLong(String),
    /// A filter stopped the answer.
    #[error("the provider's filter stopped the answer: {0}")]
    ContentFiltered(String),
    /// The request is wrong (the provider said why).
    #[error("the provider refused the request: {0}")]
    Invalid(String),
    /// The provider failed or is overloaded.
    #[error("the provider is down: {0}")]
    ProviderDown(String),
    /// No answer in time.
    #[error("no answer within {0:?}")]
    Timeout(std::time::Duration),
    /// A stream stopped before its end, after part of the answer: reported,
    /// never retried or passed off as complete.
    #[error("the stream was cut after {events} events ({text} characters of the answer)")]
    StreamCut {
        /// Events read.
        events: usize,
        /// Characters of text received.
        text: usize,
    },
    /// A budget is spent.
    #[error("budget exceeded: {0}")]
    BudgetExceeded(String),
    /// The cog was not granted `llm` (or this model).
    #[error("not granted: {0}")]
    NotGranted(String),
}
