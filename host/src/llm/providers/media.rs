//! Images, transcription and token counting on each provider's wire
//! format: OpenAI's `/images/generations` (xAI's the same path, an aspect
//! ratio for a size), `/audio/transcriptions` (multipart; usage as a
//! duration or as tokens), and the four ways of counting a prompt's tokens
//! (OpenAI `/responses/input_tokens`, Anthropic `/v1/messages/count_tokens`,
//! Gemini `:countTokens`, xAI `/tokenize-text`).

use base64::Engine as _;
use serde_json::{Value, json};

use super::Kind;
use crate::llm::model::{
    ChatRequest, ImageAnswer, ImageRequest, LlmError, Part, Role, Transcript, Usage,
};

/// The body of `POST /images/generations`.
pub fn image_body(kind: Kind, request: &ImageRequest) -> Value {
    let mut body = json!({"model": request.model, "prompt": request.prompt, "n": 1});
    match kind {
        Kind::Xai => {
            // xAI takes an aspect ratio, not a size; base64 like OpenAI.
            body["response_format"] = json!("b64_json");
            if let Some(ratio) = request.size.as_deref().and_then(aspect_ratio) {
                body["aspect_ratio"] = json!(ratio);
            }
        }
        _ => {
            body["output_format"] = json!("png");
            if let Some(size) = &request.size {
                body["size"] = json!(size);
            }
            if let Some(quality) = &request.quality {
                body["quality"] = json!(quality);
            }
            if let Some(user) = &request.user {
                body["user"] = json!(user);
            }
        }
    }
    body
}

/// `1024x1536` → `2:3`.
fn aspect_ratio(size: &str) -> Option<&'static str> {
    match size {
        "1024x1024" => Some("1:1"),
        "1024x1536" => Some("2:3"),
        "1536x1024" => Some("3:2"),
        _ => None,
    }
}

/// The sizes and qualities an image request may name.
pub const SIZES: &[&str] = &["1024x1024", "1024x1536", "1536x1024"];
/// The qualities.
pub const QUALITIES: &[&str] = &["low", "medium", "high"];

/// The first image of an `/images/generations` answer, with its usage
/// (tokens where the provider reports them; always one image).
pub fn read_image(answer: &Value) -> Result<ImageAnswer, LlmError> {
    let encoded = answer["data"][0]["b64_json"]
        .as_str()
        .ok_or_else(|| LlmError::ProviderDown("the answer holds no image".into()))?;
    let data = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|e| LlmError::ProviderDown(format!("the image is not base64: {e}")))?;
    let n = |v: &Value| v.as_u64().unwrap_or(0);
    let usage = &answer["usage"];
    Ok(ImageAnswer {
        media_type: media_type(&data).to_string(),
        data,
        usage: Usage {
            input: n(&usage["input_tokens"]),
            output: n(&usage["output_tokens"]),
            images: 1,
            ..Usage::default()
        },
    })
}

/// The media type of image bytes, by their signature.
pub fn media_type(data: &[u8]) -> &'static str {
    match data {
        [0x89, b'P', b'N', b'G', ..] => "image/png",
        [0xFF, 0xD8, ..] => "image/jpeg",
        [
            b'R',
            b'I',
            b'F',
            b'F',
            _,
            _,
            _,
            _,
            b'W',
            b'E',
            b'B',
            b'P',
            ..,
        ] => "image/webp",
        [b'G', b'I', b'F', ..] => "image/gif",
        _ => "application/octet-stream",
    }
}

/// The multipart form of `POST /audio/transcriptions`.
pub fn transcription_form(
    model: &str,
    filename: &str,
    audio: Vec<u8>,
    language: Option<&str>,
) -> reqwest::multipart::Form {
    let mut form = reqwest::multipart::Form::new()
        .text("model", model.to_string())
        .text("response_format", "json")
        .part(
            "file",
            reqwest::multipart::Part::bytes(audio).file_name(filename.to_string()),
        );
    if let Some(language) = language {
        form = form.text("language", language.to_string());
    }
    form
}

/// A transcription answer: the text, and usage as a duration (whisper) or
/// as audio and text tokens.
pub fn read_transcript(answer: &Value) -> Result<Transcript, LlmError> {
    let text = answer["text"]
        .as_str()
        .ok_or_else(|| LlmError::ProviderDown("the answer holds no text".into()))?;
    let usage = &answer["usage"];
    let n = |v: &Value| v.as_u64().unwrap_or(0);
    let usage = match usage["type"].as_str() {
        Some("duration") => Usage {
            audio_ms: (usage["seconds"].as_f64().unwrap_or(0.0).max(0.0) * 1000.0).ceil() as u64,
            ..Usage::default()
        },
        _ => Usage {
            input: n(&usage["input_tokens"]),
            output: n(&usage["output_tokens"]),
            ..Usage::default()
        },
    };
    Ok(Transcript {
        text: text.to_string(),
        usage,
    })
}

/// The text of a chat request, as one string (for xAI's tokenizer).
fn plain_text(request: &ChatRequest) -> String {
    let mut text = request.system.clone().unwrap_or_default();
    for message in &request.messages {
        for part in &message.parts {
            match part {
                Part::Text(t) => text.push_str(t),
                Part::ToolCall(call) => text.push_str(&call.arguments.to_string()),
                Part::ToolResult { content, .. } => text.push_str(content),
                Part::Image { .. } => {}
            }
            text.push('\n');
        }
    }
    text
}

/// Where a token count goes and its body.
pub fn count_request(kind: Kind, request: &ChatRequest) -> (String, Value) {
    match kind {
        Kind::OpenAi => {
            // The Responses API's input items: role and text.
            let input: Vec<Value> = request
                .messages
                .iter()
                .map(|m| {
                    let role = match m.role {
                        Role::Assistant => "assistant",
                        _ => "user",
                    };
                    let text: Vec<String> = m
                        .parts
                        .iter()
                        .filter_map(|p| match p {
                            Part::Text(t) => Some(t.clone()),
                            Part::ToolResult { content, .. } => Some(content.clone()),
                            _ => None,
                        })
                        .collect();
                    json!({"role": role, "content": text.join("\n")})
                })
                .collect();
            let mut body = json!({"model": request.model, "input": input});
            if let Some(system) = &request.system {
                body["instructions"] = json!(system);
            }
            ("/responses/input_tokens".into(), body)
        }
        Kind::Anthropic => {
            let mut body = super::anthropic::body(request);
            if let Some(object) = body.as_object_mut() {
                for key in ["max_tokens", "stop_sequences", "temperature", "metadata"] {
                    object.remove(key);
                }
            }
            ("/v1/messages/count_tokens".into(), body)
        }
        Kind::Gemini => {
            let mut inner = super::gemini::body(request);
            inner["model"] = json!(format!("models/{}", request.model));
            if let Some(object) = inner.as_object_mut() {
                object.remove("generationConfig");
            }
            (
                format!("/models/{}:countTokens", request.model),
                json!({"generateContentRequest": inner}),
            )
        }
        Kind::Xai => (
            "/tokenize-text".into(),
            json!({"text": plain_text(request), "model": request.model}),
        ),
    }
}

/// The count in a token-count answer.
pub fn read_count(kind: Kind, answer: &Value) -> Result<u64, LlmError> {
    let count = match kind {
        Kind::OpenAi | Kind::Anthropic => answer["input_tokens"].as_u64(),
        Kind::Gemini => answer["totalTokens"].as_u64(),
        Kind::Xai => answer["token_ids"].as_array().map(|ids| ids.len() as u64),
    };
    count.ok_or_else(|| LlmError::ProviderDown("the answer holds no count".into()))
}
