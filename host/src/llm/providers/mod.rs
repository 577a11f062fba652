//! Each provider's wire format: the body of a chat request, where it goes,
//! how to read the answer and its usage, how to read an error. Pure
//! functions; [`super::client`] sends.

pub mod anthropic;
pub mod gemini;
pub mod media;
pub mod openai;
pub mod stream;

use std::time::Duration;

use serde_json::Value;

use super::model::{ChatRequest, ChatResponse, LlmError};

/// A provider's API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// OpenAI.
    OpenAi,
    /// Anthropic.
    Anthropic,
    /// Google Gemini.
    Gemini,
    /// xAI (OpenAI's shapes, xAI's usage rules).
    Xai,
}

impl Kind {
    /// Its name in configuration and usage rows.
    pub fn name(self) -> &'static str {
        match self {
            Kind::OpenAi => "openai",
            Kind::Anthropic => "anthropic",
            Kind::Gemini => "gemini",
            Kind::Xai => "xai",
        }
    }

    /// From its name.
    pub fn named(name: &str) -> Option<Self> {
        match name {
            "openai" => Some(Kind::OpenAi),
            "anthropic" => Some(Kind::Anthropic),
            "gemini" => Some(Kind::Gemini),
            "xai" => Some(Kind::Xai),
            _ => None,
        }
    }

    /// The public API's base URL.
    pub fn default_base(self) -> &'static str {
        match self {
            Kind::OpenAi => "https://api.openai.com/v1",
            Kind::Anthropic => "https://api.anthropic.com",
            Kind::Gemini => "https://generativelanguage.googleapis.com/v1beta",
            Kind::Xai => "https://api.x.ai/v1",
        }
    }

    /// The chat request's body.
    pub fn body(self, request: &ChatRequest) -> Value {
        match self {
            Kind::OpenAi | Kind::Xai => openai::body(request),
            Kind::Anthropic => anthropic::body(request),
            Kind::Gemini => gemini::body(request),
        }
    }

    /// Where the chat request goes, under the base URL.
    pub fn chat_path(self, model: &str) -> String {
        match self {
            Kind::OpenAi | Kind::Xai => "/chat/completions".into(),
            Kind::Anthropic => "/v1/messages".into(),
            Kind::Gemini => format!("/models/{model}:generateContent"),
        }
    }

    /// The streamed request: its path and body (usage asked for where it
    /// must be).
    pub fn stream_request(self, request: &ChatRequest) -> (String, Value) {
        let mut body = self.body(request);
        let path = match self {
            Kind::OpenAi | Kind::Xai => {
                body["stream"] = Value::Bool(true);
                body["stream_options"] = serde_json::json!({"include_usage": true});
                self.chat_path(&request.model)
            }
            Kind::Anthropic => {
                body["stream"] = Value::Bool(true);
                self.chat_path(&request.model)
            }
            Kind::Gemini => format!("/models/{}:streamGenerateContent?alt=sse", request.model),
        };
        (path, body)
    }

    /// The headers that carry `key` (and the API version).
    pub fn auth_headers(self, key: &str) -> Vec<(&'static str, String)> {
        match self {
            Kind::OpenAi | Kind::Xai => vec![("authorization", format!("Bearer {key}"))],
            Kind::Anthropic => vec![
                ("x-api-key", key.to_string()),
                ("anthropic-version", "2023-06-01".to_string()),
            ],
            Kind::Gemini => vec![("x-goog-api-key", key.to_string())],
        }
    }

    /// The answer, read.
    pub fn read(self, answer: &Value, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        let mut response = match self {
            Kind::OpenAi | Kind::Xai => openai::parse(answer, self == Kind::Xai)?,
            Kind::Anthropic => anthropic::parse(answer)?,
            Kind::Gemini => gemini::parse(answer)?,
        };
        if request.schema.is_some() && response.tool_calls.is_empty() {
            response.json = Some(serde_json::from_str(&response.text).map_err(|e| {
                LlmError::Invalid(format!("the model's structured answer is not JSON: {e}"))
            })?);
        }
        if response.model.is_empty() {
            response.model = request.model.clone();
        }
        Ok(response)
    }

    /// An error answer, read: the kind by status (and the provider's code),
    /// `Retry-After` for rate limits.
    pub fn error(self, status: u16, retry_after: Option<Duration>, body: &Value) -> LlmError {
        let message = body["error"]["message"]
            .as_str()
            .or_else(|| body["message"].as_str())
            .unwrap_or("no message")
            .to_string();
        let code = body["error"]["code"]
            .as_str()
            .or_else(|| body["error"]["type"].as_str())
            .or_else(|| body["error"]["status"].as_str())
            .unwrap_or("");
        match status {
            401 | 403 => LlmError::Auth(message),
            429 if code == "insufficient_quota" => {
                LlmError::ProviderDown(format!("out of quota: {message}"))
            }
            429 => LlmError::RateLimited { retry_after },
            400 | 413
                if code == "context_length_exceeded"
                    || message.contains("too long")
                    || message.contains("context length") =>
            {
                LlmError::ContextTooLong(message)
            }
            400..=499 => LlmError::Invalid(format!("{status} {code}: {message}")),
            _ => LlmError::ProviderDown(format!("{status} {code}: {message}")),
        }
    }
}
