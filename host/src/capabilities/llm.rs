//! `llm`: language models through the host's metered gateway
//! ([`crate::llm::service`]). Denied unless the operator grants `llm` (it
//! spends money) and limited to the models the operator allows the cog
//! (`llm_models`; the default models always). Every call — chat, stream,
//! image, transcription, count — is charged to the invocation's guild and
//! cog within their budgets: the cog never sees a key, a provider or a
//! price it could get around. What the cog sends is checked here (sizes,
//! tool names, JSON Schemas) before any provider sees it, and a structured
//! answer is checked against the cog's schema before the cog sees it.

use std::collections::HashMap;
use std::time::Duration;

use base64::Engine as _;
use wasmtime::component::Resource;

use super::CogState;
use crate::llm::model::{self, LlmError as GatewayError};
use crate::llm::service::{Caller, MeteredStream};
use crate::wit::baseline::cog::llm::{
    Audio, ChatRequest, ChatResponse, ChatStream, FinishReason, Host, HostChatStream, Image,
    ImageRequest, ImageResponse, LlmError, Part, Role, Tool, ToolCall, ToolChoice, Transcription,
    TranscriptionRequest, Usage,
};

/// Most output tokens a cog may ask for in one call.
const MAX_TOKENS: u32 = 8_192;
/// Output tokens when the cog does not say.
const DEFAULT_TOKENS: u32 = 1_024;
/// Most messages in one request.
const MAX_MESSAGES: usize = 500;
/// Most tools in one request.
const MAX_TOOLS: usize = 64;
/// Most stop sequences.
const MAX_STOP: usize = 4;
/// Most bytes of one image sent to a model.
const MAX_IMAGE_BYTES: usize = 5 << 20;
/// Image types models read.
const IMAGE_TYPES: &[&str] = &["image/png", "image/jpeg", "image/webp", "image/gif"];
/// Longest a cog may keep an answer in the response cache.
const MAX_ANSWER_SECONDS: u32 = 86_400;
/// Streams one instance may hold open at once.
pub const MAX_STREAMS: usize = 4;
/// Most bytes of one request (text, images, tools, schema together).
const MAX_REQUEST_BYTES: usize = 16 << 20;
/// Most images in one request.
const MAX_IMAGES: usize = 16;
/// Most bytes of one tool's description, of a tool's or the answer's schema.
const MAX_SCHEMA_BYTES: usize = 64 << 10;

/// The bytes and images of `request`, refused past the bounds before
/// anything is converted, copied or compiled.
fn check_size(request: &ChatRequest) -> Result<(), LlmError> {
    let mut bytes = request.model.as_ref().map_or(0, String::len)
        + request.json_schema.as_ref().map_or(0, String::len)
        + request.stop.iter().map(String::len).sum::<usize>();
    let mut images = 0;
    for tool in &request.tools {
        if tool.description.len() > MAX_SCHEMA_BYTES || tool.parameters.len() > MAX_SCHEMA_BYTES {
            return Err(invalid(format!(
                "tool `{}`: a description and a schema are at most {MAX_SCHEMA_BYTES} bytes each",
                tool.name.chars().take(64).collect::<String>()
            )));
        }
        bytes += tool.name.len() + tool.description.len() + tool.parameters.len();
    }
    if request
        .json_schema
        .as_ref()
        .is_some_and(|s| s.len() > MAX_SCHEMA_BYTES)
    {
        return Err(invalid(format!(
            "json-schema is at most {MAX_SCHEMA_BYTES} bytes"
        )));
    }
    for message in &request.messages {
        for part in &message.parts {
            bytes += match part {
                Part::Text(text) => text.len(),
                Part::Image(image) => {
                    images += 1;
                    image.data.len() + image.media_type.len()
                }
                Part::ToolCall(call) => call.id.len() + call.name.len() + call.arguments.len(),
                Part::ToolResult(result) => {
                    result.call_id.len() + result.name.len() + result.content.len()
                }
            };
        }
    }
    if images > MAX_IMAGES {
        return Err(invalid(format!("at most {MAX_IMAGES} images in a request")));
    }
    if bytes > MAX_REQUEST_BYTES {
        return Err(invalid(format!(
            "the request is {bytes} bytes; at most {MAX_REQUEST_BYTES}"
        )));
    }
    Ok(())
}

/// The open streams of one instance, by handle. They end with the call
/// that opened them ([`Streams::end_call`]): a stream dropped unread is
/// still settled, so no reservation outlives its call.
#[derive(Default)]
pub struct Streams {
    open: HashMap<u32, MeteredStream>,
    next: u32,
}

impl Streams {
    /// Drop every stream (each settles at what was generated).
    pub fn end_call(&mut self) {
        self.open.clear();
    }
}

fn wit_error(error: GatewayError) -> LlmError {
    match error {
        GatewayError::BudgetExceeded(why) => LlmError::BudgetExceeded(why),
        GatewayError::NotGranted(why) => LlmError::Denied(why),
        GatewayError::Invalid(why) if why.starts_with("no provider serves") => {
            LlmError::UnknownModel(why)
        }
        GatewayError::Invalid(why) => LlmError::Invalid(why),
        GatewayError::ContextTooLong(why) => LlmError::ContextTooLong(why),
        GatewayError::ContentFiltered(why) => LlmError::ContentFiltered(why),
        GatewayError::RateLimited { retry_after } => LlmError::RateLimited(
            retry_after.map(|d| u32::try_from(d.as_millis()).unwrap_or(u32::MAX)),
        ),
        cut @ GatewayError::StreamCut { .. } => LlmError::StreamCut(cut.to_string()),
        other => LlmError::Unavailable(other.to_string()),
    }
}

fn invalid(why: impl Into<String>) -> LlmError {
    LlmError::Invalid(why.into())
}

/// A JSON object given as text by the cog.
fn json_object(what: &str, text: &str) -> Result<serde_json::Value, LlmError> {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(value) if value.is_object() => Ok(value),
        Ok(_) => Err(invalid(format!("{what} must be a JSON object"))),
        Err(error) => Err(invalid(format!("{what} is not JSON: {error}"))),
    }
}

fn image_part(image: Image) -> Result<model::Part, LlmError> {
    if !IMAGE_TYPES.contains(&image.media_type.as_str()) {
        return Err(invalid(format!(
            "images must be one of {}, not `{}`",
            IMAGE_TYPES.join(", "),
            image.media_type
        )));
    }
    if image.data.len() > MAX_IMAGE_BYTES {
        return Err(invalid(format!(
            "an image is {} bytes; at most {MAX_IMAGE_BYTES}",
            image.data.len()
        )));
    }
    Ok(model::Part::Image {
        media_type: image.media_type,
        data: base64::engine::general_purpose::STANDARD.encode(&image.data),
    })
}

fn tool_spec(tool: Tool) -> Result<model::ToolSpec, LlmError> {
    let valid = !tool.name.is_empty()
        && tool.name.len() <= 64
        && tool
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !valid {
        return Err(invalid(format!(
            "tool name `{}` must be 1-64 letters, digits, `_` or `-`",
            tool.name
        )));
    }
    let parameters = json_object(
        &format!("tool `{}`'s parameters", tool.name),
        &tool.parameters,
    )?;
    if let Err(error) = jsonschema::validator_for(&parameters) {
        return Err(invalid(format!(
            "tool `{}`'s parameters are not a JSON Schema: {error}",
            tool.name
        )));
    }
    Ok(model::ToolSpec {
        name: tool.name,
        description: tool.description,
        parameters,
    })
}

/// A checked chat request: the gateway's request, the schema its answer
/// must fit, how long to keep the answer.
type Checked = (
    model::ChatRequest,
    Option<jsonschema::Validator>,
    Option<Duration>,
);

/// The gateway's request from the cog's, checked; with the schema the
/// answer must fit and how long to cache the answer.
fn gateway_request(request: ChatRequest, user: Option<u64>) -> Result<Checked, LlmError> {
    if request.messages.len() > MAX_MESSAGES {
        return Err(invalid(format!("at most {MAX_MESSAGES} messages")));
    }
    check_size(&request)?;
    if request.tools.len() > MAX_TOOLS {
        return Err(invalid(format!("at most {MAX_TOOLS} tools")));
    }
    if request.stop.len() > MAX_STOP {
        return Err(invalid(format!("at most {MAX_STOP} stop sequences")));
    }
    if !request.messages.iter().any(|m| m.role == Role::User) {
        return Err(invalid("a chat needs at least one user message"));
    }
    let mut system = Vec::new();
    let mut messages = Vec::new();
    for message in request.messages {
        let role = match message.role {
            Role::System => {
                for part in message.parts {
                    match part {
                        Part::Text(text) => system.push(text),
                        _ => return Err(invalid("system messages hold text only")),
                    }
                }
                continue;
            }
            Role::User => model::Role::User,
            Role::Assistant => model::Role::Assistant,
            Role::Tool => model::Role::Tool,
        };
        let mut parts = Vec::new();
        for part in message.parts {
            parts.push(match (role, part) {
                (_, Part::Text(text)) if role != model::Role::Tool => model::Part::Text(text),
                (model::Role::User, Part::Image(image)) => image_part(image)?,
                (model::Role::Assistant, Part::ToolCall(call)) => {
                    model::Part::ToolCall(model::ToolCall {
                        arguments: json_object("tool call arguments", &call.arguments)?,
                        id: call.id,
                        name: call.name,
                    })
                }
                (model::Role::Tool, Part::ToolResult(result)) => model::Part::ToolResult {
                    call_id: result.call_id,
                    name: result.name,
                    content: result.content,
                },
                (role, _) => {
                    return Err(invalid(format!(
                        "a {} message cannot hold that part (user: text and images; assistant: text and tool calls; tool: tool results)",
                        match role {
                            model::Role::User => "user",
                            model::Role::Assistant => "assistant",
                            model::Role::Tool => "tool",
                        }
                    )));
                }
            });
        }
        messages.push(model::Message {
            role,
            parts,
            cache: false,
        });
    }
    if request.cache_prompt && messages.len() >= 2 {
        // The prefix: everything but the last message.
        let at = messages.len() - 2;
        messages[at].cache = true;
    }
    let tools = request
        .tools
        .into_iter()
        .map(tool_spec)
        .collect::<Result<Vec<_>, _>>()?;
    let tool_choice = match request.tool_choice {
        ToolChoice::Auto => model::ToolChoice::Auto,
        ToolChoice::None => model::ToolChoice::None,
        ToolChoice::Required => model::ToolChoice::Required,
        ToolChoice::Named(name) => {
            if !tools.iter().any(|t| t.name == name) {
                return Err(invalid(format!(
                    "tool choice `{name}` is not among the tools"
                )));
            }
            model::ToolChoice::Tool(name)
        }
    };
    let (schema, validator) = match request.json_schema {
        Some(text) => {
            let schema = json_object("json-schema", &text)?;
            let validator = jsonschema::validator_for(&schema)
                .map_err(|e| invalid(format!("json-schema is not a JSON Schema: {e}")))?;
            (Some(schema), Some(validator))
        }
        None => (None, None),
    };
    let cache_for = request
        .cache_answer_seconds
        .filter(|s| *s > 0)
        .map(|s| Duration::from_secs(u64::from(s.min(MAX_ANSWER_SECONDS))));
    Ok((
        model::ChatRequest {
            model: request.model.unwrap_or_default(),
            system: (!system.is_empty()).then(|| system.join("\n")),
            cache_system: request.cache_prompt,
            messages,
            tools,
            tool_choice,
            schema,
            max_tokens: request
                .max_tokens
                .unwrap_or(DEFAULT_TOKENS)
                .clamp(1, MAX_TOKENS),
            temperature: request
                .temperature
                .filter(|t| t.is_finite())
                .map(|t| t.clamp(0.0, 2.0)),
            stop: request.stop,
            user: user.map(|u| u.to_string()),
        },
        validator,
        cache_for,
    ))
}

/// The cog's answer from the gateway's, the structured part checked.
fn wit_answer(
    answer: model::ChatResponse,
    charged: crate::llm::service::Charged,
    schema: Option<&jsonschema::Validator>,
) -> Result<ChatResponse, LlmError> {
    let json = match (schema, answer.json) {
        (Some(validator), Some(json)) => {
            if let Some(error) = validator.iter_errors(&json).next() {
                return Err(invalid(format!(
                    "the model's answer does not fit the schema: {error} (at {})",
                    error.instance_path()
                )));
            }
            Some(json.to_string())
        }
        (Some(_), None) if answer.tool_calls.is_empty() => {
            return Err(invalid("the model gave no structured answer"));
        }
        _ => None,
    };
    let finish = match answer.finish {
        model::Finish::Stop => FinishReason::Stop,
        model::Finish::Length => FinishReason::Length,
        model::Finish::ToolCalls => FinishReason::ToolCalls,
        model::Finish::Refused => FinishReason::Refused,
    };
    Ok(ChatResponse {
        text: answer.text,
        tool_calls: answer
            .tool_calls
            .into_iter()
            .map(|call| ToolCall {
                id: call.id,
                name: call.name,
                arguments: call.arguments.to_string(),
            })
            .collect(),
        json,
        finish,
        model: charged.model,
        provider: charged.provider,
        usage: Usage {
            input_tokens: answer.usage.total_input(),
            cached_tokens: answer.usage.cache_read,
            cache_write_tokens: answer.usage.cache_write_5m + answer.usage.cache_write_1h,
            output_tokens: answer.usage.output,
        },
        cached: charged.cached,
        cost_micros: charged.cost_micros,
    })
}

impl CogState {
    /// The gateway, once `llm` is granted and the model allowed.
    fn llm_gateway(
        &self,
        model: Option<&str>,
        default: fn(&crate::llm::service::LlmService) -> &str,
    ) -> Result<std::sync::Arc<crate::llm::service::LlmService>, LlmError> {
        self.grants.check("llm").map_err(LlmError::Denied)?;
        let service = self.services.llm.clone().ok_or_else(|| {
            LlmError::NotAvailable("this host runs no LLM gateway (it needs a database)".into())
        })?;
        let model = model.unwrap_or_else(|| default(&service));
        self.grants
            .check_model(model, &service.default_models())
            .map_err(LlmError::Denied)?;
        Ok(service)
    }

    /// The gateway and the checked request of a chat, stream or count:
    /// granted, the model allowed, the request within bounds.
    fn chat_call(
        &self,
        request: ChatRequest,
    ) -> Result<(std::sync::Arc<crate::llm::service::LlmService>, Checked), LlmError> {
        let service = self.llm_gateway(request.model.as_deref(), chat_default)?;
        Ok((service, gateway_request(request, self.scope.user_id)?))
    }

    fn caller(&self) -> Caller {
        Caller {
            guild_id: self.scope.guild_id,
            cog: self.scope.cog.to_string(),
            user_id: self.scope.user_id,
        }
    }
}

/// Run `call` until shortly before the invocation's deadline: a model
/// slower than the cog's deadline ends as `unavailable` the cog can
/// answer with, instead of the whole call being stopped (the call in
/// flight is settled at its worst case and recorded as cancelled).
async fn within<T>(
    deadline: Option<std::time::Instant>,
    deadline_ms: u64,
    call: impl std::future::Future<Output = Result<T, GatewayError>>,
) -> Result<T, GatewayError> {
    /// Left to the cog to answer after a cut-off call.
    const MARGIN: Duration = Duration::from_millis(150);
    let Some(deadline) = deadline else {
        return call.await;
    };
    let left = deadline
        .saturating_duration_since(std::time::Instant::now())
        .saturating_sub(MARGIN);
    match tokio::time::timeout(left, call).await {
        Ok(result) => result,
        Err(_) => Err(GatewayError::ProviderDown(format!(
            "the model did not answer within this command's deadline ({} ms; the operator sets `deadline_ms`)",
            deadline_ms
        ))),
    }
}

fn chat_default(service: &crate::llm::service::LlmService) -> &str {
    service.default_model()
}

impl Host for CogState {
    async fn chat(
        &mut self,
        request: ChatRequest,
    ) -> wasmtime::Result<Result<ChatResponse, LlmError>> {
        let (service, (request, schema, cache_for)) = match self.chat_call(request) {
            Ok(call) => call,
            Err(error) => return Ok(Err(error)),
        };
        Ok(
            match within(
                self.deadline,
                self.limits.deadline_ms,
                service.chat(&self.caller(), request, cache_for),
            )
            .await
            {
                Ok((answer, charged)) => wit_answer(answer, charged, schema.as_ref()),
                Err(error) => Err(wit_error(error)),
            },
        )
    }

    async fn stream_chat(
        &mut self,
        request: ChatRequest,
    ) -> wasmtime::Result<Result<Resource<ChatStream>, LlmError>> {
        let (service, (request, schema, _)) = match self.chat_call(request) {
            Ok(call) => call,
            Err(error) => return Ok(Err(error)),
        };
        if self.llm_streams.open.len() >= MAX_STREAMS {
            return Ok(Err(invalid(format!(
                "at most {MAX_STREAMS} streams may be open at once"
            ))));
        }
        if schema.is_some() {
            return Ok(Err(invalid(
                "a structured answer is not streamed: use `chat` with a json-schema",
            )));
        }
        Ok(
            match within(
                self.deadline,
                self.limits.deadline_ms,
                service.stream(&self.caller(), request),
            )
            .await
            {
                Ok(stream) => {
                    let id = self.llm_streams.next;
                    self.llm_streams.next = self.llm_streams.next.wrapping_add(1);
                    self.llm_streams.open.insert(id, stream);
                    Ok(Resource::new_own(id))
                }
                Err(error) => Err(wit_error(error)),
            },
        )
    }

    async fn generate_image(
        &mut self,
        request: ImageRequest,
    ) -> wasmtime::Result<Result<ImageResponse, LlmError>> {
        let service = match self.llm_gateway(request.model.as_deref(), |s| s.default_models()[1]) {
            Ok(service) => service,
            Err(error) => return Ok(Err(error)),
        };
        if request.prompt.trim().is_empty() || request.prompt.len() > 32_000 {
            return Ok(Err(invalid("the prompt must be 1 to 32 000 bytes")));
        }
        if let Some(size) = &request.size
            && !crate::llm::providers::media::SIZES.contains(&size.as_str())
        {
            return Ok(Err(invalid(format!(
                "size must be one of {}",
                crate::llm::providers::media::SIZES.join(", ")
            ))));
        }
        if let Some(quality) = &request.quality
            && !crate::llm::providers::media::QUALITIES.contains(&quality.as_str())
        {
            return Ok(Err(invalid("quality must be low, medium or high")));
        }
        let request = model::ImageRequest {
            model: request.model.unwrap_or_default(),
            prompt: request.prompt,
            size: request.size,
            quality: request.quality,
            user: self.scope.user_id.map(|u| u.to_string()),
        };
        Ok(
            match within(
                self.deadline,
                self.limits.deadline_ms,
                service.image(&self.caller(), request),
            )
            .await
            {
                Ok((answer, charged)) => Ok(ImageResponse {
                    image: Image {
                        media_type: answer.media_type,
                        data: answer.data,
                    },
                    model: charged.model,
                    provider: charged.provider,
                    cost_micros: charged.cost_micros,
                }),
                Err(error) => Err(wit_error(error)),
            },
        )
    }

    async fn transcribe(
        &mut self,
        request: TranscriptionRequest,
    ) -> wasmtime::Result<Result<Transcription, LlmError>> {
        use crate::llm::service::MAX_AUDIO_BYTES;

        let service = match self.llm_gateway(request.model.as_deref(), |s| s.default_models()[2]) {
            Ok(service) => service,
            Err(error) => return Ok(Err(error)),
        };
        let (filename, audio) = match request.audio {
            Audio::File((filename, data)) => (filename, data),
            Audio::Attachment(url) => {
                let Some(discord) = self.services.discord.clone() else {
                    return Ok(Err(LlmError::NotAvailable(
                        "attachments need a Discord connection".into(),
                    )));
                };
                let filename = url
                    .rsplit('/')
                    .next()
                    .and_then(|name| name.split('?').next())
                    .unwrap_or("audio")
                    .to_string();
                match discord.download_attachment(&url, MAX_AUDIO_BYTES).await {
                    Ok(data) => (filename, data),
                    Err(why) => return Ok(Err(invalid(why))),
                }
            }
        };
        let valid_name = !filename.is_empty()
            && filename.len() <= 200
            && !filename.contains(['/', '\\', '"', '\r', '\n']);
        if !valid_name {
            return Ok(Err(invalid("the audio needs a plain file name")));
        }
        let request = model::TranscriptionRequest {
            model: request.model.unwrap_or_default(),
            filename,
            audio,
            language: request.language,
        };
        Ok(
            match within(
                self.deadline,
                self.limits.deadline_ms,
                service.transcribe(&self.caller(), request),
            )
            .await
            {
                Ok((answer, charged)) => Ok(Transcription {
                    text: answer.text,
                    model: charged.model,
                    provider: charged.provider,
                    cost_micros: charged.cost_micros,
                }),
                Err(error) => Err(wit_error(error)),
            },
        )
    }

    async fn count_tokens(
        &mut self,
        request: ChatRequest,
    ) -> wasmtime::Result<Result<u32, LlmError>> {
        let (service, (request, _, _)) = match self.chat_call(request) {
            Ok(call) => call,
            Err(error) => return Ok(Err(error)),
        };
        Ok(
            match within(
                self.deadline,
                self.limits.deadline_ms,
                service.count(&self.caller(), request),
            )
            .await
            {
                Ok(tokens) => Ok(u32::try_from(tokens).unwrap_or(u32::MAX)),
                Err(error) => Err(wit_error(error)),
            },
        )
    }
}

impl HostChatStream for CogState {
    async fn next(
        &mut self,
        stream: Resource<ChatStream>,
    ) -> wasmtime::Result<Result<Option<String>, LlmError>> {
        let Some(open) = self.llm_streams.open.get_mut(&stream.rep()) else {
            return Ok(Err(invalid("this stream has ended")));
        };
        Ok(open.next_text().await.map_err(wit_error))
    }

    async fn finish(
        &mut self,
        stream: Resource<ChatStream>,
    ) -> wasmtime::Result<Result<ChatResponse, LlmError>> {
        let Some(mut open) = self.llm_streams.open.remove(&stream.rep()) else {
            return Ok(Err(invalid("this stream has ended")));
        };
        // Read what is left, then settle at the provider's usage.
        while let Ok(Some(_)) = open.next_text().await {}
        Ok(match open.finish().await {
            Ok((answer, charged)) => wit_answer(answer, charged, None),
            Err(error) => Err(wit_error(error)),
        })
    }

    async fn drop(&mut self, stream: Resource<ChatStream>) -> wasmtime::Result<()> {
        // Dropped unread: settled at what was generated (MeteredStream's Drop).
        self.llm_streams.open.remove(&stream.rep());
        Ok(())
    }
}
