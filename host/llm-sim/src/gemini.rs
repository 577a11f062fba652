//! Gemini's API (`/gemini/v1beta`, `x-goog-api-key`):
//! `models/{model}:generateContent`, `:streamGenerateContent?alt=sse`
//! (bare `data:` chunks, no `[DONE]`, totals in the last chunk's
//! `usageMetadata`) and `:countTokens`; function calling and
//! `responseSchema`/`responseJsonSchema`.
//!
//! Usage as Gemini reports it: `promptTokenCount` **includes**
//! `cachedContentTokenCount` (implicit caching of a repeated prefix of at
//! least 1 024 tokens), `thoughtsTokenCount` is **outside**
//! `candidatesTokenCount` (the simulated model thinks half as many tokens
//! as it answers), and the total is prompt + candidates + thoughts.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

use crate::reply::{self, Answer, Conversation, Force, Tool, Turn};
use crate::{Provider, Sim, tokens, wire};

fn read(body: &Value) -> Conversation {
    let mut conversation = Conversation::default();
    for part in body["systemInstruction"]["parts"]
        .as_array()
        .into_iter()
        .flatten()
    {
        conversation
            .system
            .push_str(part["text"].as_str().unwrap_or_default());
    }
    for content in body["contents"].as_array().into_iter().flatten() {
        let parts = content["parts"].as_array().cloned().unwrap_or_default();
        let result = parts.iter().find(|p| p.get("functionResponse").is_some());
        let mut turn = Turn {
            role: match (result, content["role"].as_str()) {
                (Some(_), _) => "tool".into(),
                (None, Some("model")) => "assistant".into(),
                _ => "user".into(),
            },
            ..Default::default()
        };
        for part in &parts {
            if let Some(text) = part["text"].as_str() {
                turn.text.push_str(text);
            } else if part.get("inlineData").is_some() {
                turn.images += 1;
            } else if let Some(response) = part.get("functionResponse") {
                turn.text.push_str(&response["response"].to_string());
            } else if let Some(call) = part.get("functionCall") {
                turn.text.push_str(&call["args"].to_string());
            }
        }
        conversation.turns.push(turn);
    }
    for tools in body["tools"].as_array().into_iter().flatten() {
        for declaration in tools["functionDeclarations"]
            .as_array()
            .into_iter()
            .flatten()
        {
            conversation.tools.push(Tool {
                name: declaration["name"].as_str().unwrap_or_default().to_string(),
                schema: lower_types(
                    declaration
                        .get("parametersJsonSchema")
                        .or_else(|| declaration.get("parameters"))
                        .cloned()
                        .unwrap_or(json!({"type": "object"})),
                ),
            });
        }
    }
    let calling = &body["toolConfig"]["functionCallingConfig"];
    conversation.force = match calling["mode"].as_str() {
        Some("NONE") => Force::None,
        Some("ANY" | "VALIDATED") => match calling["allowedFunctionNames"]
            .get(0)
            .and_then(Value::as_str)
        {
            Some(name) => Force::Named(name.to_string()),
            None => Force::Any,
        },
        _ => Force::Auto,
    };
    let generation = &body["generationConfig"];
    conversation.schema = generation
        .get("responseJsonSchema")
        .or_else(|| generation.get("responseSchema"))
        .cloned()
        .map(lower_types);
    conversation.max_tokens = generation["maxOutputTokens"].as_u64();
    conversation
}

/// Gemini's OpenAPI-style schemas name types in capitals (`OBJECT`).
fn lower_types(schema: Value) -> Value {
    match schema {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(key, value)| match (key.as_str(), value) {
                    ("type", Value::String(kind)) => (key, Value::String(kind.to_lowercase())),
                    (_, value) => (key, lower_types(value)),
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(lower_types).collect()),
        other => other,
    }
}

fn usage(sim: &Sim, conversation: &Conversation, answer: &Answer) -> Value {
    let prompt = conversation.prompt_tokens();
    let candidates = answer.tokens();
    let thoughts = candidates / 2;
    let mut prefix = conversation.clone();
    prefix.turns.pop();
    let prefix_tokens = prefix.prompt_tokens();
    let key = format!(
        "{}|{:?}",
        prefix.system,
        prefix.turns.iter().map(|t| &t.text).collect::<Vec<_>>()
    );
    let cached = if prefix_tokens >= tokens::MIN_CACHED && sim.cache.hit("gemini", &key) {
        prefix_tokens
    } else {
        0
    };
    let mut usage = json!({"promptTokenCount": prompt, "candidatesTokenCount": candidates,
        "thoughtsTokenCount": thoughts, "totalTokenCount": prompt + candidates + thoughts});
    if cached > 0 {
        usage["cachedContentTokenCount"] = json!(cached);
    }
    usage
}

fn candidate(answer: &Answer, parts: Vec<Value>) -> Value {
    let finish = match answer {
        Answer::Text(_, true) => "MAX_TOKENS",
        Answer::Refusal(_) => "SAFETY",
        _ => "STOP",
    };
    match answer {
        Answer::Refusal(_) => json!({"finishReason": finish, "index": 0}),
        _ => {
            json!({"content": {"role": "model", "parts": parts}, "finishReason": finish, "index": 0})
        }
    }
}

async fn call(
    State(sim): State<Arc<Sim>>,
    Path(call): Path<String>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let provider = Provider::Gemini;
    let path = format!("/gemini/v1beta/models/{call}");
    let fault = match wire::admit(&sim, provider, &path, &headers, &body).await {
        Ok(fault) => fault,
        Err(response) => return response,
    };
    let Some((model, method)) = call.rsplit_once(':') else {
        return wire::error(
            provider,
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "no such method",
        );
    };
    if method == "countTokens" {
        // `{contents}` alone, or a whole `generateContentRequest` (system
        // instruction and tools counted too).
        let counted = read(body.get("generateContentRequest").unwrap_or(&body));
        return Json(json!({"totalTokens": counted.prompt_tokens()})).into_response();
    }
    let conversation = read(&body);
    if conversation.turns.is_empty() {
        return wire::error(
            provider,
            StatusCode::BAD_REQUEST,
            "INVALID_ARGUMENT",
            "contents is not specified",
        );
    }
    let answer = reply::answer(&conversation);
    let usage = usage(&sim, &conversation, &answer);
    let version = model.to_string();
    match method {
        "generateContent" => {
            if fault.is_some() {
                return wire::cut(provider);
            }
            let parts = match &answer {
                Answer::ToolCall(name, args) => {
                    vec![json!({"functionCall": {"name": name, "args": args}})]
                }
                other => vec![json!({"text": other.text()})],
            };
            Json(json!({"candidates": [candidate(&answer, parts)], "usageMetadata": usage, "modelVersion": version}))
                .into_response()
        }
        "streamGenerateContent" => {
            let mut events: Vec<(Option<&'static str>, String)> = Vec::new();
            match &answer {
                Answer::ToolCall(name, args) => events.push((None, json!({"candidates": [
                    {"content": {"role": "model", "parts": [{"functionCall": {"name": name, "args": args}}]}, "index": 0}],
                    "modelVersion": version}).to_string())),
                Answer::Refusal(_) => {}
                other => {
                    for piece in reply::chunks(&other.text()) {
                        events.push((None, json!({"candidates": [{"content": {"role": "model", "parts": [{"text": piece}]},
                            "index": 0}], "modelVersion": version}).to_string()));
                    }
                }
            }
            events.push((
                None,
                json!({"candidates": [candidate(&answer, vec![json!({"text": ""})])],
                "usageMetadata": usage, "modelVersion": version})
                .to_string(),
            ));
            wire::sse(
                events,
                fault.map(|f| f.after_chunks.unwrap_or(2)),
                sim.pace(),
            )
        }
        _ => wire::error(
            provider,
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "no such method",
        ),
    }
}

pub fn router(sim: Arc<Sim>) -> axum::Router {
    axum::Router::new()
        .route("/gemini/v1beta/models/{call}", post(call))
        .with_state(sim)
}
