//! OpenAI's API (`/openai/v1`) and xAI's OpenAI-shaped one (`/xai/v1`):
//! chat completions with tools, `response_format` JSON schemas and SSE
//! streaming (usage only with `stream_options.include_usage`), image
//! generation, audio transcription (multipart), and input-token counting.
//!
//! Usage as each reports it: OpenAI's `prompt_tokens` include
//! `prompt_tokens_details.cached_tokens` (automatic caching of a repeated
//! prefix of at least 1 024 tokens, in steps of 128); xAI's reasoning
//! tokens (`completion_tokens_details.reasoning_tokens`) are outside
//! `completion_tokens`, so its total is prompt + completion + reasoning.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Json;
use axum::extract::{Multipart, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

use crate::reply::{self, Answer, Conversation, Force, Tool, Turn};
use crate::{Provider, Sim, tokens, wire};

static NEXT: AtomicU64 = AtomicU64::new(1);

fn next_id(prefix: &str) -> String {
    format!("{prefix}-sim-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// A 1×1 PNG, the image every generation returns.
pub const PIXEL_PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";

fn text_of(content: &Value) -> (String, u64) {
    match content {
        Value::String(text) => (text.clone(), 0),
        Value::Array(parts) => {
            let text = parts
                .iter()
                .filter_map(|p| p["text"].as_str())
                .collect::<Vec<_>>()
                .join("\n");
            let images = parts.iter().filter(|p| p["type"] == "image_url").count() as u64;
            (text, images)
        }
        _ => (String::new(), 0),
    }
}

/// The request as the simulator's model reads it.
fn conversation(body: &Value) -> Conversation {
    let mut conversation = Conversation {
        model: body["model"].as_str().unwrap_or_default().to_string(),
        ..Conversation::default()
    };
    for message in body["messages"].as_array().into_iter().flatten() {
        let (text, images) = text_of(&message["content"]);
        match message["role"].as_str().unwrap_or("user") {
            "system" | "developer" => conversation.system.push_str(&text),
            role => conversation.turns.push(Turn {
                role: role.to_string(),
                text,
                images,
            }),
        }
    }
    for tool in body["tools"].as_array().into_iter().flatten() {
        conversation.tools.push(Tool {
            name: tool["function"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            schema: tool["function"]["parameters"].clone(),
        });
    }
    conversation.force = match &body["tool_choice"] {
        Value::String(choice) if choice == "none" => Force::None,
        Value::String(choice) if choice == "required" => Force::Any,
        Value::Object(choice) => Force::Named(
            choice["function"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        ),
        _ => Force::Auto,
    };
    conversation.schema = match body["response_format"]["type"].as_str() {
        Some("json_schema") => Some(body["response_format"]["json_schema"]["schema"].clone()),
        Some("json_object") => Some(json!({"type": "object"})),
        _ => None,
    };
    conversation.max_tokens = body["max_completion_tokens"]
        .as_u64()
        .or_else(|| body["max_tokens"].as_u64());
    conversation
}

/// Usage in the provider's words.
fn usage(sim: &Sim, provider: Provider, conversation: &Conversation, answer: &Answer) -> Value {
    let prompt = conversation.prompt_tokens();
    let completion = answer.tokens();
    let mut cached = 0;
    if prompt >= tokens::MIN_CACHED {
        // The prefix: everything but the last turn.
        let mut prefix = conversation.clone();
        prefix.turns.pop();
        let prefix_tokens = prefix.prompt_tokens();
        let key = format!(
            "{}|{:?}|{:?}",
            prefix.system,
            prefix.turns.iter().map(|t| &t.text).collect::<Vec<_>>(),
            prefix
                .tools
                .iter()
                .map(|t| (&t.name, t.schema.to_string()))
                .collect::<Vec<_>>()
        );
        if prefix_tokens >= tokens::MIN_CACHED && sim.cache.hit(provider.name(), &key) {
            cached = prefix_tokens / tokens::CACHE_STEP * tokens::CACHE_STEP;
        }
    }
    match provider {
        Provider::Xai => {
            let reasoning = completion / 2;
            // xAI's exact bill: 10^10 ticks a dollar, at its listed rates
            // (µ$ per million tokens: input, cached, output), ×100 ticks
            // per µ$-per-million for each token.
            let (input, read, output) = match conversation.model.as_str() {
                "grok-4.7" => (2_000_000, 500_000, 6_000_000),
                _ => (1_250_000, 200_000, 2_500_000),
            };
            let ticks =
                ((prompt - cached) * input + cached * read + (completion + reasoning) * output)
                    / 100;
            json!({"prompt_tokens": prompt, "completion_tokens": completion,
                   "total_tokens": prompt + completion + reasoning,
                   "cost_in_usd_ticks": ticks,
                   "prompt_tokens_details": {"cached_tokens": cached, "text_tokens": prompt, "image_tokens": 0, "audio_tokens": 0},
                   "completion_tokens_details": {"reasoning_tokens": reasoning, "audio_tokens": 0,
                       "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0},
                   "num_sources_used": 0})
        }
        _ => json!({"prompt_tokens": prompt, "completion_tokens": completion,
                    "total_tokens": prompt + completion,
                    "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
                    "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                        "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}}),
    }
}

fn finish_reason(answer: &Answer) -> &'static str {
    match answer {
        Answer::ToolCall(..) => "tool_calls",
        Answer::Text(_, true) => "length",
        _ => "stop",
    }
}

async fn chat(sim: Arc<Sim>, provider: Provider, headers: HeaderMap, body: Value) -> Response {
    let path = format!("{}/chat/completions", provider.base_path());
    let fault = match wire::admit(&sim, provider, &path, &headers, &body).await {
        Ok(fault) => fault,
        Err(response) => return response,
    };
    if body["messages"].as_array().is_none_or(Vec::is_empty) {
        return wire::error(
            provider,
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "'messages' must be a non-empty array",
        );
    }
    let conversation = conversation(&body);
    let answer = reply::answer(&conversation);
    let usage = usage(&sim, provider, &conversation, &answer);
    let model = body["model"].as_str().unwrap_or("sim").to_string();
    let id = next_id("chatcmpl");
    let created = 1_764_400_000;
    if body["stream"] == true {
        let include_usage = body["stream_options"]["include_usage"] == true;
        let chunk = |delta: Value, finish: Option<&str>| {
            json!({"id": id, "object": "chat.completion.chunk", "created": created, "model": model,
                   "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
            .to_string()
        };
        let mut events = vec![(
            None,
            chunk(json!({"role": "assistant", "content": ""}), None),
        )];
        match &answer {
            Answer::ToolCall(name, arguments) => {
                let call_id = next_id("call");
                events.push((
                    None,
                    chunk(
                        json!({"tool_calls": [{"index": 0, "id": call_id, "type": "function",
                    "function": {"name": name, "arguments": ""}}]}),
                        None,
                    ),
                ));
                let text = arguments.to_string();
                for piece in text.as_bytes().chunks(8) {
                    let piece = String::from_utf8_lossy(piece).to_string();
                    events.push((
                        None,
                        chunk(
                            json!({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}),
                            None,
                        ),
                    ));
                }
            }
            Answer::Refusal(text) => events.push((None, chunk(json!({"refusal": text}), None))),
            other => {
                for piece in reply::chunks(&other.text()) {
                    events.push((None, chunk(json!({"content": piece}), None)));
                }
            }
        }
        events.push((None, chunk(json!({}), Some(finish_reason(&answer)))));
        if include_usage {
            events.push((
                None,
                json!({"id": id, "object": "chat.completion.chunk", "created": created,
                "model": model, "choices": [], "usage": usage})
                .to_string(),
            ));
        }
        events.push((None, "[DONE]".to_string()));
        return wire::sse(
            events,
            fault.map(|f| f.after_chunks.unwrap_or(2)),
            sim.pace(),
        );
    }
    if fault.is_some() {
        return wire::cut(provider);
    }
    let message = match &answer {
        Answer::ToolCall(name, arguments) => {
            json!({"role": "assistant", "content": null, "refusal": null,
            "tool_calls": [{"id": next_id("call"), "type": "function",
                "function": {"name": name, "arguments": arguments.to_string()}}]})
        }
        Answer::Refusal(text) => json!({"role": "assistant", "content": null, "refusal": text}),
        other => json!({"role": "assistant", "content": other.text(), "refusal": null}),
    };
    Json(json!({"id": id, "object": "chat.completion", "created": created, "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish_reason(&answer)}],
        "usage": usage, "system_fingerprint": "fp_sim"}))
    .into_response()
}

async fn images(sim: Arc<Sim>, provider: Provider, headers: HeaderMap, body: Value) -> Response {
    let path = format!("{}/images/generations", provider.base_path());
    match wire::admit(&sim, provider, &path, &headers, &body).await {
        Ok(None) => {}
        Ok(Some(_)) => return wire::cut(provider),
        Err(response) => return response,
    }
    let prompt = body["prompt"].as_str().unwrap_or_default();
    if prompt.is_empty() {
        return wire::error(
            provider,
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "prompt is required",
        );
    }
    let n = body["n"].as_u64().unwrap_or(1).clamp(1, 10);
    let data: Vec<Value> = (0..n)
        .map(|_| json!({"b64_json": PIXEL_PNG, "revised_prompt": prompt}))
        .collect();
    let mut answer = json!({"created": 1_764_400_000, "data": data});
    if provider == Provider::OpenAi {
        // Image output tokens by quality, as OpenAI reports them for 1024².
        let per_image = match body["quality"].as_str() {
            Some("low") => 272,
            Some("high") => 4_160,
            _ => 1_056,
        };
        answer["usage"] = json!({"input_tokens": tokens::count(prompt), "output_tokens": per_image * n,
            "total_tokens": tokens::count(prompt) + per_image * n,
            "input_tokens_details": {"text_tokens": tokens::count(prompt), "image_tokens": 0}});
    }
    Json(answer).into_response()
}

async fn transcriptions(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    mut form: Multipart,
) -> Response {
    let provider = Provider::OpenAi;
    let (mut model, mut filename, mut bytes) = (String::new(), String::new(), 0usize);
    while let Ok(Some(field)) = form.next_field().await {
        match field.name() {
            Some("model") => model = field.text().await.unwrap_or_default(),
            Some("file") => {
                filename = field.file_name().unwrap_or("audio").to_string();
                bytes = field.bytes().await.map(|b| b.len()).unwrap_or(0);
            }
            _ => {}
        }
    }
    let body = json!({"model": model, "file": filename, "bytes": bytes});
    match wire::admit(
        &sim,
        provider,
        "/openai/v1/audio/transcriptions",
        &headers,
        &body,
    )
    .await
    {
        Ok(None) => {}
        Ok(Some(_)) => return wire::cut(provider),
        Err(response) => return response,
    }
    if bytes == 0 || model.is_empty() {
        return wire::error(
            provider,
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "a file and a model are required",
        );
    }
    let text = format!("Simulated transcript of {filename} ({bytes} bytes).");
    // 16 000 bytes a second of audio, as 16 kHz 8-bit mono would be.
    let seconds = (bytes as u64).div_ceil(16_000).max(1);
    // Billed by the minute: whisper-1 and gpt-transcribe report a duration.
    let usage = if model == "whisper-1" || model == "gpt-transcribe" {
        json!({"type": "duration", "seconds": seconds})
    } else {
        let audio = seconds * 10;
        json!({"type": "tokens", "input_tokens": audio, "output_tokens": tokens::count(&text),
               "total_tokens": audio + tokens::count(&text),
               "input_token_details": {"audio_tokens": audio, "text_tokens": 0}})
    };
    Json(json!({"text": text, "usage": usage})).into_response()
}

async fn count(sim: Arc<Sim>, headers: HeaderMap, body: Value) -> Response {
    let provider = Provider::OpenAi;
    match wire::admit(
        &sim,
        provider,
        "/openai/v1/responses/input_tokens",
        &headers,
        &body,
    )
    .await
    {
        Ok(_) => {}
        Err(response) => return response,
    }
    let conversation = match &body["input"] {
        Value::String(text) => Conversation {
            turns: vec![Turn {
                role: "user".into(),
                text: text.clone(),
                images: 0,
            }],
            ..Default::default()
        },
        input => conversation(&json!({"messages": input})),
    };
    let mut conversation = conversation;
    if let Some(instructions) = body["instructions"].as_str() {
        conversation.system = instructions.to_string();
    }
    Json(json!({"object": "response.input_tokens", "input_tokens": conversation.prompt_tokens()}))
        .into_response()
}

/// xAI's `POST /tokenize-text` (`{text, model}` → one entry per token).
async fn tokenize(sim: Arc<Sim>, headers: HeaderMap, body: Value) -> Response {
    let provider = Provider::Xai;
    if let Err(response) =
        wire::admit(&sim, provider, "/xai/v1/tokenize-text", &headers, &body).await
    {
        return response;
    }
    let Some(text) = body["text"].as_str() else {
        return wire::error(
            provider,
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "text is required",
        );
    };
    let ids: Vec<Value> = (0..tokens::count(text))
        .map(|i| json!({"token_id": 1_000 + i, "string_token": "", "token_bytes": []}))
        .collect();
    Json(json!({"token_ids": ids})).into_response()
}

pub fn router(sim: Arc<Sim>) -> axum::Router {
    let route = |provider: Provider| {
        move |State(sim): State<Arc<Sim>>, headers: HeaderMap, Json(body): Json<Value>| {
            chat(sim, provider, headers, body)
        }
    };
    let image = |provider: Provider| {
        move |State(sim): State<Arc<Sim>>, headers: HeaderMap, Json(body): Json<Value>| {
            images(sim, provider, headers, body)
        }
    };
    axum::Router::new()
        .route("/openai/v1/chat/completions", post(route(Provider::OpenAi)))
        .route("/xai/v1/chat/completions", post(route(Provider::Xai)))
        .route(
            "/openai/v1/images/generations",
            post(image(Provider::OpenAi)),
        )
        .route("/xai/v1/images/generations", post(image(Provider::Xai)))
        .route("/openai/v1/audio/transcriptions", post(transcriptions))
        .route(
            "/openai/v1/responses/input_tokens",
            post(
                |State(sim): State<Arc<Sim>>, headers: HeaderMap, Json(body): Json<Value>| {
                    count(sim, headers, body)
                },
            ),
        )
        .route(
            "/xai/v1/tokenize-text",
            post(
                |State(sim): State<Arc<Sim>>, headers: HeaderMap, Json(body): Json<Value>| {
                    tokenize(sim, headers, body)
                },
            ),
        )
        .with_state(sim)
}
