//! The response cache: an answer kept for a while under its guild, its cog
//! and a hash of the whole request (model, system prompt, messages, tools,
//! tool choice, schema, max tokens, temperature, stop — the request as
//! OpenAI's wire format carries it, without the end user's id), so the
//! same question from the same cog in the same server is answered again at
//! no cost. Requests opt in; nothing is ever shared across guilds or cogs
//! (the guild and cog are in the key, outside the hash), and outside a
//! guild the answer is the user's own. Each (guild, cog) holds a bounded
//! space of the cache (Redis, or in process).

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use super::gateway::Served;
use super::model::{ChatRequest, ChatResponse, Finish, ToolCall, Usage};
use super::service::Caller;
use crate::cache::{Cache, MAX_SPACE_TTL, Space};

/// Answers one (guild, cog) may keep.
pub const MAX_ANSWERS: u64 = 512;
/// Bytes they may take.
pub const MAX_BYTES: u64 = 4 << 20;

/// Answers kept in the cache.
pub struct AnswerCache {
    cache: Arc<dyn Cache>,
}

/// The space of `caller`'s answers.
fn space(caller: &Caller) -> Space {
    let whose = match (caller.guild_id, caller.user_id) {
        (Some(guild), _) => format!("g{guild}"),
        (None, Some(user)) => format!("u{user}"),
        (None, None) => "none".to_string(),
    };
    Space {
        prefix: format!("llm-answer:{whose}:{}", caller.cog),
        max_keys: MAX_ANSWERS,
        max_bytes: MAX_BYTES,
    }
}

/// The hash of everything in `request` that shapes the answer.
pub fn request_hash(request: &ChatRequest) -> String {
    let mut body = super::providers::openai::body(request);
    if let Some(object) = body.as_object_mut() {
        object.remove("user");
    }
    let digest = Sha256::digest(serde_json::to_vec(&body).unwrap_or_default());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn finish_name(finish: Finish) -> &'static str {
    match finish {
        Finish::Stop => "stop",
        Finish::Length => "length",
        Finish::ToolCalls => "tool-calls",
        Finish::Refused => "refused",
    }
}

impl AnswerCache {
    /// Over `cache`.
    pub fn new(cache: Arc<dyn Cache>) -> Self {
        Self { cache }
    }

    /// The kept answer of `request` for `caller`, if any.
    pub async fn get(
        &self,
        caller: &Caller,
        request: &ChatRequest,
    ) -> Option<(ChatResponse, Served)> {
        let key = space(caller).key(&request_hash(request));
        let bytes = match self.cache.get(&key).await {
            Ok(found) => found?,
            Err(error) => {
                tracing::warn!(%error, "the LLM answer cache is unavailable");
                return None;
            }
        };
        let kept: Value = serde_json::from_slice(&bytes).ok()?;
        let tool_calls = kept["tool_calls"]
            .as_array()?
            .iter()
            .map(|call| ToolCall {
                id: call["id"].as_str().unwrap_or_default().to_string(),
                name: call["name"].as_str().unwrap_or_default().to_string(),
                arguments: call["arguments"].clone(),
            })
            .collect();
        let finish = match kept["finish"].as_str()? {
            "length" => Finish::Length,
            "tool-calls" => Finish::ToolCalls,
            "refused" => Finish::Refused,
            _ => Finish::Stop,
        };
        Some((
            ChatResponse {
                text: kept["text"].as_str()?.to_string(),
                tool_calls,
                json: kept.get("json").filter(|j| !j.is_null()).cloned(),
                finish,
                usage: Usage::default(),
                model: kept["model"].as_str()?.to_string(),
            },
            Served {
                provider: kept["provider"].as_str()?.to_string(),
                model: kept["route_model"].as_str()?.to_string(),
                attempts: 0,
                fallback: false,
            },
        ))
    }

    /// Keep `answer` to `request` for `caller` for `ttl` (at most a day). A
    /// full space or an unavailable cache only means it is not kept.
    pub async fn put(
        &self,
        caller: &Caller,
        request: &ChatRequest,
        answer: &ChatResponse,
        served: &Served,
        ttl: Duration,
    ) {
        let space = space(caller);
        let kept = json!({
            "text": answer.text,
            "tool_calls": answer.tool_calls.iter().map(|c| json!({"id": c.id, "name": c.name, "arguments": c.arguments})).collect::<Vec<_>>(),
            "json": answer.json,
            "finish": finish_name(answer.finish),
            "model": answer.model,
            "provider": served.provider,
            "route_model": served.model,
        });
        let bytes = serde_json::to_vec(&kept).unwrap_or_default();
        let ttl = ttl.clamp(Duration::from_secs(1), MAX_SPACE_TTL);
        if let Err(error) = self
            .cache
            .space_set(&space, &request_hash(request), bytes, ttl)
            .await
        {
            tracing::debug!(%error, cog = %caller.cog, "an LLM answer was not kept");
        }
    }
}
