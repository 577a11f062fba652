//! OpenAI's chat completions (and xAI's, the same shapes): request body,
//! answer, usage. OpenAI's `cached_tokens` and `cache_write_tokens` are
//! subsets of `prompt_tokens`, reasoning is inside `completion_tokens`;
//! xAI's reasoning is outside it, and xAI states its exact bill
//! (`cost_in_usd_ticks`).

use serde_json::{Value, json};

use crate::llm::model::{
    ChatRequest, ChatResponse, Finish, LlmError, Part, Role, ToolCall, ToolChoice, Usage,
};

fn content(parts: &[Part]) -> Value {
    let texts: Vec<&str> = parts
        .iter()
        .filter_map(|p| match p {
            Part::Text(text) => Some(text.as_str()),
            _ => None,
        })
        .collect();
    let images = parts.iter().any(|p| matches!(p, Part::Image { .. }));
    if !images {
        return Value::String(texts.join("\n"));
    }
    Value::Array(
        parts
            .iter()
            .filter_map(|part| match part {
                Part::Text(text) => Some(json!({"type": "text", "text": text})),
                Part::Image { media_type, data } => Some(json!({"type": "image_url",
                    "image_url": {"url": format!("data:{media_type};base64,{data}")}})),
                _ => None,
            })
            .collect(),
    )
}

/// The body of `POST /chat/completions`.
pub fn body(request: &ChatRequest) -> Value {
    let mut messages = Vec::new();
    if let Some(system) = &request.system {
        messages.push(json!({"role": "system", "content": system}));
    }
    for message in &request.messages {
        match message.role {
            Role::User => {
                messages.push(json!({"role": "user", "content": content(&message.parts)}))
            }
            Role::Assistant => {
                let calls: Vec<Value> = message
                    .parts
                    .iter()
                    .filter_map(|p| match p {
                        Part::ToolCall(call) => Some(json!({"id": call.id, "type": "function",
                            "function": {"name": call.name, "arguments": call.arguments.to_string()}})),
                        _ => None,
                    })
                    .collect();
                let mut turn = json!({"role": "assistant", "content": content(&message.parts)});
                if !calls.is_empty() {
                    turn["tool_calls"] = Value::Array(calls);
                }
                messages.push(turn);
            }
            Role::Tool => {
                for part in &message.parts {
                    if let Part::ToolResult {
                        call_id, content, ..
                    } = part
                    {
                        messages.push(
                            json!({"role": "tool", "tool_call_id": call_id, "content": content}),
                        );
                    }
                }
            }
        }
    }
    let mut body = json!({"model": request.model, "messages": messages,
        "max_completion_tokens": request.max_tokens});
    if !request.tools.is_empty() {
        body["tools"] = request
            .tools
            .iter()
            .map(|t| json!({"type": "function", "function": {"name": t.name, "description": t.description,
                "parameters": t.parameters}}))
            .collect();
        body["tool_choice"] = match &request.tool_choice {
            ToolChoice::Auto => json!("auto"),
            ToolChoice::None => json!("none"),
            ToolChoice::Required => json!("required"),
            ToolChoice::Tool(name) => json!({"type": "function", "function": {"name": name}}),
        };
    }
    if let Some(schema) = &request.schema {
        body["response_format"] = json!({"type": "json_schema",
            "json_schema": {"name": "answer", "schema": schema, "strict": true}});
    }
    if let Some(temperature) = request.temperature {
        body["temperature"] = json!(temperature);
    }
    if !request.stop.is_empty() {
        body["stop"] = json!(request.stop);
    }
    if let Some(user) = &request.user {
        body["user"] = json!(user);
    }
    body
}

/// Usage in one shape. `xai`: reasoning is reported outside completion.
pub fn usage(usage: &Value, xai: bool) -> Usage {
    let n = |v: &Value| v.as_u64().unwrap_or(0);
    let prompt = n(&usage["prompt_tokens"]);
    let cached = n(&usage["prompt_tokens_details"]["cached_tokens"]);
    let written = n(&usage["prompt_tokens_details"]["cache_write_tokens"]);
    let completion = n(&usage["completion_tokens"]);
    let reasoning = n(&usage["completion_tokens_details"]["reasoning_tokens"]);
    Usage {
        input: prompt.saturating_sub(cached + written),
        cache_read: cached,
        cache_write_5m: written,
        cache_write_1h: 0,
        output: if xai {
            completion + reasoning
        } else {
            completion
        },
        reasoning,
        // xAI's exact bill: 10^10 ticks a dollar, 10 000 a micro-dollar.
        billed_micros: xai
            .then(|| usage["cost_in_usd_ticks"].as_u64())
            .flatten()
            .map(|ticks| ticks.div_ceil(10_000)),
        ..Usage::default()
    }
}

/// The answer of `POST /chat/completions`.
pub fn parse(answer: &Value, xai: bool) -> Result<ChatResponse, LlmError> {
    let choice = &answer["choices"][0];
    let message = &choice["message"];
    if let Some(refusal) = message["refusal"].as_str() {
        return Err(LlmError::ContentFiltered(refusal.to_string()));
    }
    let finish = match choice["finish_reason"].as_str() {
        Some("length") => Finish::Length,
        Some("tool_calls") => Finish::ToolCalls,
        Some("content_filter") => {
            return Err(LlmError::ContentFiltered(
                "the provider's content filter".into(),
            ));
        }
        _ => Finish::Stop,
    };
    let mut tool_calls = Vec::new();
    for call in message["tool_calls"].as_array().into_iter().flatten() {
        let arguments = call["function"]["arguments"].as_str().unwrap_or("{}");
        tool_calls.push(ToolCall {
            id: call["id"].as_str().unwrap_or_default().to_string(),
            name: call["function"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            arguments: serde_json::from_str(arguments)
                .map_err(|e| LlmError::Invalid(format!("tool arguments are not JSON: {e}")))?,
        });
    }
    Ok(ChatResponse {
        text: message["content"].as_str().unwrap_or_default().to_string(),
        tool_calls,
        json: None,
        finish,
        usage: usage(&answer["usage"], xai),
        model: answer["model"].as_str().unwrap_or_default().to_string(),
    })
}
