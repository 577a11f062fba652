//! Anthropic's Messages API (`/anthropic/v1/messages`, needs `x-api-key`
//! and `anthropic-version`): text, images, tools (`tool_use` /
//! `tool_result`), `output_config.format` JSON schemas, named-event SSE
//! streaming, token counting, and prompt caching with `cache_control`.
//!
//! Usage as Anthropic reports it: `input_tokens` **excludes** the cached
//! prefix; a prefix up to the last `cache_control` breakpoint (at least
//! 1 024 tokens) is written the first time (`cache_creation_input_tokens`,
//! split by TTL in `cache_creation`) and read after
//! (`cache_read_input_tokens`); a stream's `message_delta` carries the
//! cumulative usage.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

use crate::reply::{self, Answer, Conversation, Force, Tool, Turn};
use crate::{Provider, Sim, tokens, wire};

static NEXT: AtomicU64 = AtomicU64::new(1);

/// A piece of the prompt in the order Anthropic caches it (tools, system,
/// messages), with its tokens and its breakpoint, if any.
struct Segment {
    text: String,
    tokens: u64,
    ttl: Option<String>,
}

fn ttl(block: &Value) -> Option<String> {
    block
        .get("cache_control")
        .filter(|c| c.is_object())
        .map(|c| c["ttl"].as_str().unwrap_or("5m").to_string())
}

fn block_text(block: &Value) -> (String, u64) {
    match block["type"].as_str() {
        Some("text") => (block["text"].as_str().unwrap_or_default().to_string(), 0),
        Some("image") => (String::new(), 1),
        Some("tool_result") => match &block["content"] {
            Value::String(text) => (text.clone(), 0),
            Value::Array(parts) => (
                parts
                    .iter()
                    .filter_map(|p| p["text"].as_str())
                    .collect::<Vec<_>>()
                    .join("\n"),
                0,
            ),
            _ => (String::new(), 0),
        },
        Some("tool_use") => (block["input"].to_string(), 0),
        _ => (String::new(), 0),
    }
}

/// The conversation and its segments.
fn read(body: &Value) -> (Conversation, Vec<Segment>) {
    let mut conversation = Conversation::default();
    let mut segments = Vec::new();
    for tool in body["tools"].as_array().into_iter().flatten() {
        let name = tool["name"].as_str().unwrap_or_default().to_string();
        let schema = tool["input_schema"].clone();
        segments.push(Segment {
            tokens: tokens::count(&name) + tokens::count(&schema.to_string()),
            text: format!("tool {name} {schema}"),
            ttl: ttl(tool),
        });
        conversation.tools.push(Tool { name, schema });
    }
    match &body["system"] {
        Value::String(text) => {
            conversation.system = text.clone();
            segments.push(Segment {
                tokens: tokens::count(text),
                text: text.clone(),
                ttl: None,
            });
        }
        Value::Array(blocks) => {
            for block in blocks {
                let text = block["text"].as_str().unwrap_or_default().to_string();
                conversation.system.push_str(&text);
                segments.push(Segment {
                    tokens: tokens::count(&text),
                    text,
                    ttl: ttl(block),
                });
            }
        }
        _ => {}
    }
    for message in body["messages"].as_array().into_iter().flatten() {
        let role = message["role"].as_str().unwrap_or("user");
        let blocks: Vec<Value> = match &message["content"] {
            Value::String(text) => vec![json!({"type": "text", "text": text})],
            Value::Array(blocks) => blocks.clone(),
            _ => Vec::new(),
        };
        let is_result = blocks.iter().any(|b| b["type"] == "tool_result");
        let mut turn = Turn {
            role: if is_result {
                "tool".into()
            } else {
                role.to_string()
            },
            ..Default::default()
        };
        for (index, block) in blocks.iter().enumerate() {
            let (text, images) = block_text(block);
            let overhead = if index == 0 { tokens::PER_MESSAGE } else { 0 };
            segments.push(Segment {
                tokens: overhead
                    + if text.is_empty() {
                        0
                    } else {
                        tokens::count(&text)
                    }
                    + images * tokens::IMAGE_TOKENS,
                text: format!("{role}: {text}"),
                ttl: ttl(block),
            });
            if !turn.text.is_empty() && !text.is_empty() {
                turn.text.push('\n');
            }
            turn.text.push_str(&text);
            turn.images += images;
        }
        conversation.turns.push(turn);
    }
    conversation.force = match body["tool_choice"]["type"].as_str() {
        Some("none") => Force::None,
        Some("any") => Force::Any,
        Some("tool") => Force::Named(
            body["tool_choice"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        ),
        _ => Force::Auto,
    };
    if body["output_config"]["format"]["type"] == "json_schema" {
        conversation.schema = Some(body["output_config"]["format"]["schema"].clone());
    }
    conversation.max_tokens = body["max_tokens"].as_u64();
    // Automatic caching (top-level `cache_control`): the breakpoint moves
    // to the last block.
    if let (Some(ttl), Some(last)) = (ttl(body), segments.last_mut()) {
        last.ttl.get_or_insert(ttl);
    }
    (conversation, segments)
}

/// `input_tokens` (excluding the cache), the written tokens by TTL, and
/// the read tokens.
fn cache(sim: &Sim, segments: &[Segment]) -> (u64, u64, u64, u64) {
    let total: u64 = segments.iter().map(|s| s.tokens).sum();
    let Some(breakpoint) = segments.iter().rposition(|s| s.ttl.is_some()) else {
        return (total, 0, 0, 0);
    };
    let prefix: u64 = segments[..=breakpoint].iter().map(|s| s.tokens).sum();
    if prefix < tokens::MIN_CACHED {
        // Below the minimum: silently not cached, as Anthropic does.
        return (total, 0, 0, 0);
    }
    let key: String = segments[..=breakpoint]
        .iter()
        .map(|s| s.text.as_str())
        .collect::<Vec<_>>()
        .join("\u{1f}");
    if sim.cache.hit("anthropic", &key) {
        return (total - prefix, 0, 0, prefix);
    }
    // The hour-long part is the prefix up to the last 1h breakpoint.
    let hour: u64 = segments
        .iter()
        .rposition(|s| s.ttl.as_deref() == Some("1h"))
        .map(|at| segments[..=at].iter().map(|s| s.tokens).sum())
        .unwrap_or(0);
    (total - prefix, prefix - hour, hour, 0)
}

fn stop_reason(answer: &Answer) -> &'static str {
    match answer {
        Answer::ToolCall(..) => "tool_use",
        Answer::Text(_, true) => "max_tokens",
        Answer::Refusal(_) => "refusal",
        _ => "end_turn",
    }
}

async fn messages(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let provider = Provider::Anthropic;
    let fault = match wire::admit(&sim, provider, "/anthropic/v1/messages", &headers, &body).await {
        Ok(fault) => fault,
        Err(response) => return response,
    };
    if body["max_tokens"].as_u64().is_none() {
        return wire::error(
            provider,
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "max_tokens: Field required",
        );
    }
    if body["messages"].as_array().is_none_or(Vec::is_empty) {
        return wire::error(
            provider,
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "messages: at least one message is required",
        );
    }
    let (conversation, segments) = read(&body);
    let answer = reply::answer(&conversation);
    let (input, written_5m, written_1h, read_tokens) = cache(&sim, &segments);
    let output = answer.tokens();
    let usage = |output: u64| {
        json!({"input_tokens": input, "output_tokens": output,
               "cache_creation_input_tokens": written_5m + written_1h, "cache_read_input_tokens": read_tokens,
               "cache_creation": {"ephemeral_5m_input_tokens": written_5m, "ephemeral_1h_input_tokens": written_1h},
               "service_tier": "standard"})
    };
    let id = format!("msg_sim_{}", NEXT.fetch_add(1, Ordering::Relaxed));
    let model = body["model"].as_str().unwrap_or("sim").to_string();
    let tool_id = format!("toolu_sim_{}", NEXT.fetch_add(1, Ordering::Relaxed));
    let block = match &answer {
        Answer::ToolCall(name, input) => {
            json!({"type": "tool_use", "id": tool_id, "name": name, "input": input})
        }
        other => json!({"type": "text", "text": other.text()}),
    };
    if body["stream"] == true {
        let mut events = vec![(
            Some("message_start"),
            json!({"type": "message_start", "message": {"id": id, "type": "message",
                "role": "assistant", "model": model, "content": [], "stop_reason": null,
                "stop_sequence": null, "usage": usage(1)}})
            .to_string(),
        )];
        let start = match &answer {
            Answer::ToolCall(name, _) => {
                json!({"type": "tool_use", "id": tool_id, "name": name, "input": {}})
            }
            _ => json!({"type": "text", "text": ""}),
        };
        events.push((
            Some("content_block_start"),
            json!({"type": "content_block_start", "index": 0, "content_block": start}).to_string(),
        ));
        events.push((Some("ping"), json!({"type": "ping"}).to_string()));
        match &answer {
            Answer::ToolCall(_, input) => {
                let text = input.to_string();
                for piece in text.as_bytes().chunks(8) {
                    events.push((Some("content_block_delta"), json!({"type": "content_block_delta", "index": 0,
                        "delta": {"type": "input_json_delta", "partial_json": String::from_utf8_lossy(piece)}}).to_string()));
                }
            }
            other => {
                for piece in reply::chunks(&other.text()) {
                    events.push((
                        Some("content_block_delta"),
                        json!({"type": "content_block_delta", "index": 0,
                        "delta": {"type": "text_delta", "text": piece}})
                        .to_string(),
                    ));
                }
            }
        }
        events.push((
            Some("content_block_stop"),
            json!({"type": "content_block_stop", "index": 0}).to_string(),
        ));
        events.push((Some("message_delta"), json!({"type": "message_delta",
            "delta": {"stop_reason": stop_reason(&answer), "stop_sequence": null}, "usage": usage(output)}).to_string()));
        events.push((
            Some("message_stop"),
            json!({"type": "message_stop"}).to_string(),
        ));
        return wire::sse(
            events,
            fault.map(|f| f.after_chunks.unwrap_or(2)),
            sim.pace(),
        );
    }
    if fault.is_some() {
        return wire::cut(provider);
    }
    Json(
        json!({"id": id, "type": "message", "role": "assistant", "model": model, "content": [block],
        "stop_reason": stop_reason(&answer), "stop_sequence": null, "usage": usage(output)}),
    )
    .into_response()
}

async fn count_tokens(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Err(response) = wire::admit(
        &sim,
        Provider::Anthropic,
        "/anthropic/v1/messages/count_tokens",
        &headers,
        &body,
    )
    .await
    {
        return response;
    }
    let (_, segments) = read(&body);
    Json(json!({"input_tokens": segments.iter().map(|s| s.tokens).sum::<u64>()})).into_response()
}

pub fn router(sim: Arc<Sim>) -> axum::Router {
    axum::Router::new()
        .route("/anthropic/v1/messages", post(messages))
        .route("/anthropic/v1/messages/count_tokens", post(count_tokens))
        .with_state(sim)
}
