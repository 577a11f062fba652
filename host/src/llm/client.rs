//! Sending a chat request to one configured provider and reading the
//! answer or the error (no retries or fallback yet: issue 12).

use std::time::Duration;

use super::model::{ChatRequest, ChatResponse, LlmError};
use super::providers::Kind;

/// A provider as the operator configured it.
#[derive(Debug, Clone)]
pub struct Provider {
    /// Its API.
    pub kind: Kind,
    /// Its base URL (the public one, or a simulator's).
    pub base_url: String,
    /// The key.
    pub key: String,
    /// How long one call may take.
    pub timeout: Duration,
}

impl Provider {
    /// `kind` at its public base URL.
    pub fn new(kind: Kind, key: impl Into<String>) -> Self {
        Self {
            kind,
            base_url: kind.default_base().to_string(),
            key: key.into(),
            timeout: Duration::from_secs(60),
        }
    }

    /// At another base URL (a simulator, a proxy).
    pub fn at(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = base_url.into().trim_end_matches('/').to_string();
        self
    }
}

/// Run `request` on `provider`.
pub async fn chat(
    http: &reqwest::Client,
    provider: &Provider,
    request: &ChatRequest,
) -> Result<ChatResponse, LlmError> {
    let url = format!(
        "{}{}",
        provider.base_url,
        provider.kind.chat_path(&request.model)
    );
    let mut call = http
        .post(url)
        .timeout(provider.timeout)
        .json(&provider.kind.body(request));
    for (name, value) in provider.kind.auth_headers(&provider.key) {
        call = call.header(name, value);
    }
    let response = call.send().await.map_err(|error| {
        if error.is_timeout() {
            LlmError::Timeout(provider.timeout)
        } else {
            LlmError::ProviderDown(format!("no answer: {error}"))
        }
    })?;
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let body: serde_json::Value = response
        .json()
        .await
        .map_err(|e| LlmError::ProviderDown(format!("an unreadable answer: {e}")))?;
    if !(200..300).contains(&status) {
        return Err(provider.kind.error(status, retry_after, &body));
    }
    provider.kind.read(&body, request)
}
