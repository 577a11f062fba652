//! Anthropic's Messages API: request body (with `cache_control`
//! breakpoints for cache hints), answer, usage. `input_tokens` exclude the
//! cache; writes come split by TTL in `cache_creation`.

use serde_json::{Value, json};

use crate::llm::model::{
    ChatRequest, ChatResponse, Finish, LlmError, Part, Role, ToolCall, ToolChoice, Usage,
};

const BREAKPOINT: &str = "cache_control";

fn blocks(parts: &[Part]) -> Vec<Value> {
    parts
        .iter()
        .map(|part| match part {
            Part::Text(text) => json!({"type": "text", "text": text}),
            Part::Image { media_type, data } => {
                json!({"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}})
            }
            Part::ToolCall(call) => json!({"type": "tool_use", "id": call.id, "name": call.name, "input": call.arguments}),
            Part::ToolResult { call_id, content, .. } => {
                json!({"type": "tool_result", "tool_use_id": call_id, "content": content})
            }
        })
        .collect()
}

/// The body of `POST /v1/messages`.
pub fn body(request: &ChatRequest) -> Value {
    let messages: Vec<Value> = request
        .messages
        .iter()
        .map(|message| {
            let mut content = blocks(&message.parts);
            if message.cache
                && let Some(last) = content.last_mut()
            {
                last[BREAKPOINT] = json!({"type": "ephemeral"});
            }
            let role = match message.role {
                Role::Assistant => "assistant",
                // Tool results go back in a user turn.
                Role::User | Role::Tool => "user",
            };
            json!({"role": role, "content": content})
        })
        .collect();
    let mut body =
        json!({"model": request.model, "max_tokens": request.max_tokens, "messages": messages});
    if let Some(system) = &request.system {
        let mut block = json!({"type": "text", "text": system});
        if request.cache_system {
            block[BREAKPOINT] = json!({"type": "ephemeral"});
        }
        body["system"] = json!([block]);
    }
    if !request.tools.is_empty() {
        body["tools"] = request
            .tools
            .iter()
            .map(|t| json!({"name": t.name, "description": t.description, "input_schema": t.parameters}))
            .collect();
        body["tool_choice"] = match &request.tool_choice {
            ToolChoice::Auto => json!({"type": "auto"}),
            ToolChoice::None => json!({"type": "none"}),
            ToolChoice::Required => json!({"type": "any"}),
            ToolChoice::Tool(name) => json!({"type": "tool", "name": name}),
        };
    }
    if let Some(schema) = &request.schema {
        body["output_config"] = json!({"format": {"type": "json_schema", "schema": schema}});
    }
    if let Some(temperature) = request.temperature {
        body["temperature"] = json!(temperature);
    }
    if !request.stop.is_empty() {
        body["stop_sequences"] = json!(request.stop);
    }
    if let Some(user) = &request.user {
        body["metadata"] = json!({"user_id": user});
    }
    body
}

/// Usage in one shape.
pub fn usage(usage: &Value) -> Usage {
    let n = |v: &Value| v.as_u64().unwrap_or(0);
    let written = n(&usage["cache_creation_input_tokens"]);
    let (five, hour) = match usage.get("cache_creation") {
        Some(split) if split.is_object() => (
            n(&split["ephemeral_5m_input_tokens"]),
            n(&split["ephemeral_1h_input_tokens"]),
        ),
        // No split reported: the default TTL, five minutes.
        _ => (written, 0),
    };
    Usage {
        input: n(&usage["input_tokens"]),
        cache_read: n(&usage["cache_read_input_tokens"]),
        cache_write_5m: five,
        cache_write_1h: hour,
        output: n(&usage["output_tokens"]),
        reasoning: 0,
        ..Usage::default()
    }
}

/// The answer of `POST /v1/messages`.
pub fn parse(answer: &Value) -> Result<ChatResponse, LlmError> {
    let finish = match answer["stop_reason"].as_str() {
        Some("max_tokens") => Finish::Length,
        Some("tool_use") => Finish::ToolCalls,
        Some("refusal") => return Err(LlmError::ContentFiltered("the model refused".into())),
        Some("model_context_window_exceeded") => {
            return Err(LlmError::ContextTooLong(
                "the model's context window is full".into(),
            ));
        }
        _ => Finish::Stop,
    };
    let mut text = String::new();
    let mut tool_calls = Vec::new();
    for block in answer["content"].as_array().into_iter().flatten() {
        match block["type"].as_str() {
            Some("text") => text.push_str(block["text"].as_str().unwrap_or_default()),
            Some("tool_use") => tool_calls.push(ToolCall {
                id: block["id"].as_str().unwrap_or_default().to_string(),
                name: block["name"].as_str().unwrap_or_default().to_string(),
                arguments: block["input"].clone(),
            }),
            _ => {}
        }
    }
    Ok(ChatResponse {
        text,
        tool_calls,
        json: None,
        finish,
        usage: usage(&answer["usage"]),
        model: answer["model"].as_str().unwrap_or_default().to_string(),
    })
}
