//! Sending a chat request to one configured provider and reading the
//! answer or the error; images, transcription and token counts likewise.
//! One call to one provider: retries and fallback are the gateway's.

use std::time::Duration;

use super::model::{
    ChatRequest, ChatResponse, ImageAnswer, ImageRequest, LlmError, Transcript,
    TranscriptionRequest,
};
use super::providers::{Kind, media};

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

/// `Retry-After` in seconds, when the provider sent one.
fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}

/// POST `body` to `path` under `provider`'s base URL (JSON, or a
/// multipart form) and read the JSON answer or the provider's error.
async fn post(
    http: &reqwest::Client,
    provider: &Provider,
    path: &str,
    body: Body,
) -> Result<serde_json::Value, LlmError> {
    let mut call = http
        .post(format!("{}{path}", provider.base_url))
        .timeout(provider.timeout);
    call = match body {
        Body::Json(json) => call.json(&json),
        Body::Form(form) => call.multipart(form),
    };
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
    let retry_after = retry_after(&response);
    let body: serde_json::Value = response.json().await.map_err(|e| {
        if e.is_timeout() {
            LlmError::Timeout(provider.timeout)
        } else {
            LlmError::ProviderDown(format!("an unreadable answer: {e}"))
        }
    })?;
    if !(200..300).contains(&status) {
        return Err(provider.kind.error(status, retry_after, &body));
    }
    Ok(body)
}

/// A request body.
enum Body {
    Json(serde_json::Value),
    Form(reqwest::multipart::Form),
}

/// Run `request` on `provider`.
pub async fn chat(
    http: &reqwest::Client,
    provider: &Provider,
    request: &ChatRequest,
) -> Result<ChatResponse, LlmError> {
    let path = provider.kind.chat_path(&request.model);
    let answer = post(
        http,
        provider,
        &path,
        Body::Json(provider.kind.body(request)),
    )
    .await?;
    provider.kind.read(&answer, request)
}

/// Generate an image on `provider` (OpenAI and xAI draw).
pub async fn image(
    http: &reqwest::Client,
    provider: &Provider,
    request: &ImageRequest,
) -> Result<ImageAnswer, LlmError> {
    if !matches!(provider.kind, Kind::OpenAi | Kind::Xai) {
        return Err(LlmError::Invalid(format!(
            "{} does not generate images",
            provider.kind.name()
        )));
    }
    let body = media::image_body(provider.kind, request);
    let answer = post(http, provider, "/images/generations", Body::Json(body)).await?;
    media::read_image(&answer)
}

/// Transcribe speech on `provider` (OpenAI listens).
pub async fn transcribe(
    http: &reqwest::Client,
    provider: &Provider,
    request: &TranscriptionRequest,
) -> Result<Transcript, LlmError> {
    if provider.kind != Kind::OpenAi {
        return Err(LlmError::Invalid(format!(
            "{} does not transcribe",
            provider.kind.name()
        )));
    }
    let form = media::transcription_form(
        &request.model,
        &request.filename,
        request.audio.clone(),
        request.language.as_deref(),
    );
    let answer = post(http, provider, "/audio/transcriptions", Body::Form(form)).await?;
    media::read_transcript(&answer)
}

/// Count `request`'s input tokens on `provider`.
pub async fn count(
    http: &reqwest::Client,
    provider: &Provider,
    request: &ChatRequest,
) -> Result<u64, LlmError> {
    let (path, body) = media::count_request(provider.kind, request);
    let answer = post(http, provider, &path, Body::Json(body)).await?;
    media::read_count(provider.kind, &answer)
}

/// A streamed answer being read.
pub struct ChatStream {
    events: std::pin::Pin<
        Box<
            dyn futures_util::Stream<
                    Item = Result<
                        eventsource_stream::Event,
                        eventsource_stream::EventStreamError<reqwest::Error>,
                    >,
                > + Send,
        >,
    >,
    accumulator: super::providers::stream::Accumulator,
}

impl ChatStream {
    /// The next piece of the answer's text; `None` when the stream has
    /// ended (then [`finish`](Self::finish) tells whether it was whole).
    pub async fn next_text(&mut self) -> Result<Option<String>, LlmError> {
        use futures_util::StreamExt as _;
        loop {
            match self.events.next().await {
                Some(Ok(event)) => {
                    // An SSE event without a name is a "message".
                    let name = if event.event == "message" {
                        ""
                    } else {
                        event.event.as_str()
                    };
                    if let Some(text) = self.accumulator.feed(name, &event.data)? {
                        return Ok(Some(text));
                    }
                }
                Some(Err(error)) => {
                    return Err(LlmError::StreamCut {
                        events: self.accumulator.events,
                        text: self.accumulator.text().chars().count(),
                    })
                    .inspect_err(|_| tracing::warn!(%error, "an LLM stream broke"));
                }
                None => return Ok(None),
            }
        }
    }

    /// The text received so far.
    pub fn text(&self) -> &str {
        self.accumulator.text()
    }

    /// Whether any of the answer has arrived (fallback is only possible before).
    pub fn started(&self) -> bool {
        self.accumulator.started()
    }

    /// The whole answer with its usage, or [`LlmError::StreamCut`] when the
    /// stream stopped before its end.
    pub fn finish(self) -> Result<ChatResponse, LlmError> {
        self.accumulator.finish()
    }
}

/// Start `request` on `provider` as a stream.
pub async fn stream(
    http: &reqwest::Client,
    provider: &Provider,
    request: &ChatRequest,
) -> Result<ChatStream, LlmError> {
    use eventsource_stream::Eventsource as _;
    let (path, body) = provider.kind.stream_request(request);
    let mut call = http
        .post(format!("{}{path}", provider.base_url))
        .json(&body);
    for (name, value) in provider.kind.auth_headers(&provider.key) {
        call = call.header(name, value);
    }
    // The timeout covers opening the stream; reading it has its own pace.
    let response = tokio::time::timeout(provider.timeout, call.send())
        .await
        .map_err(|_| LlmError::Timeout(provider.timeout))?
        .map_err(|error| LlmError::ProviderDown(format!("no answer: {error}")))?;
    let status = response.status().as_u16();
    if !(200..300).contains(&status) {
        let retry_after = retry_after(&response);
        let body: serde_json::Value = response.json().await.unwrap_or_default();
        return Err(provider.kind.error(status, retry_after, &body));
    }
    Ok(ChatStream {
        events: Box::pin(response.bytes_stream().eventsource()),
        accumulator: super::providers::stream::Accumulator::new(provider.kind),
    })
}
