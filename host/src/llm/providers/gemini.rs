//! Gemini's generateContent: request body, answer, usage.
//! `promptTokenCount` includes `cachedContentTokenCount`; thoughts are
//! outside `candidatesTokenCount` and billed as output; tool-use prompt
//! tokens are input.

use serde_json::{Value, json};

use crate::llm::model::{
    ChatRequest, ChatResponse, Finish, LlmError, Part, Role, ToolCall, ToolChoice, Usage,
};

fn parts(parts: &[Part]) -> Vec<Value> {
    parts
        .iter()
        .map(|part| match part {
            Part::Text(text) => json!({"text": text}),
            Part::Image { media_type, data } => {
                json!({"inlineData": {"mimeType": media_type, "data": data}})
            }
            Part::ToolCall(call) => {
                json!({"functionCall": {"name": call.name, "args": call.arguments}})
            }
            Part::ToolResult { name, content, .. } => {
                let response = serde_json::from_str::<Value>(content)
                    .ok()
                    .filter(Value::is_object)
                    .unwrap_or_else(|| json!({"result": content}));
                json!({"functionResponse": {"name": name, "response": response}})
            }
        })
        .collect()
}

/// The body of `POST /models/{model}:generateContent`.
pub fn body(request: &ChatRequest) -> Value {
    let contents: Vec<Value> = request
        .messages
        .iter()
        .map(|message| {
            let role = match message.role {
                Role::Assistant => "model",
                Role::User | Role::Tool => "user",
            };
            json!({"role": role, "parts": parts(&message.parts)})
        })
        .collect();
    let mut generation = json!({"maxOutputTokens": request.max_tokens});
    if let Some(schema) = &request.schema {
        generation["responseMimeType"] = json!("application/json");
        generation["responseJsonSchema"] = schema.clone();
    }
    if let Some(temperature) = request.temperature {
        generation["temperature"] = json!(temperature);
    }
    if !request.stop.is_empty() {
        generation["stopSequences"] = json!(request.stop);
    }
    let mut body = json!({"contents": contents, "generationConfig": generation});
    if let Some(system) = &request.system {
        body["systemInstruction"] = json!({"parts": [{"text": system}]});
    }
    if !request.tools.is_empty() {
        let declarations: Vec<Value> = request
            .tools
            .iter()
            .map(|t| json!({"name": t.name, "description": t.description, "parametersJsonSchema": t.parameters}))
            .collect();
        body["tools"] = json!([{"functionDeclarations": declarations}]);
        body["toolConfig"] = json!({"functionCallingConfig": match &request.tool_choice {
            ToolChoice::Auto => json!({"mode": "AUTO"}),
            ToolChoice::None => json!({"mode": "NONE"}),
            ToolChoice::Required => json!({"mode": "ANY"}),
            ToolChoice::Tool(name) => json!({"mode": "ANY", "allowedFunctionNames": [name]}),
        }});
    }
    body
}

/// Usage in one shape.
pub fn usage(usage: &Value) -> Usage {
    let n = |v: &Value| v.as_u64().unwrap_or(0);
    let prompt = n(&usage["promptTokenCount"]);
    let cached = n(&usage["cachedContentTokenCount"]);
    let thoughts = n(&usage["thoughtsTokenCount"]);
    Usage {
        input: prompt.saturating_sub(cached) + n(&usage["toolUsePromptTokenCount"]),
        cache_read: cached,
        cache_write_5m: 0,
        cache_write_1h: 0,
        output: n(&usage["candidatesTokenCount"]) + thoughts,
        reasoning: thoughts,
        ..Usage::default()
    }
}

/// The answer of `generateContent`.
pub fn parse(answer: &Value) -> Result<ChatResponse, LlmError> {
    if let Some(reason) = answer["promptFeedback"]["blockReason"].as_str() {
        return Err(LlmError::ContentFiltered(format!(
            "the prompt was blocked ({reason})"
        )));
    }
    let candidate = &answer["candidates"][0];
    let finish = match candidate["finishReason"].as_str() {
        Some("MAX_TOKENS") => Finish::Length,
        Some(reason @ ("SAFETY" | "RECITATION" | "PROHIBITED_CONTENT" | "BLOCKLIST" | "SPII")) => {
            return Err(LlmError::ContentFiltered(format!(
                "the answer was stopped ({reason})"
            )));
        }
        _ => Finish::Stop,
    };
    let mut text = String::new();
    let mut tool_calls = Vec::new();
    for (index, part) in candidate["content"]["parts"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        if let Some(piece) = part["text"].as_str() {
            text.push_str(piece);
        } else if let Some(call) = part.get("functionCall") {
            let name = call["name"].as_str().unwrap_or_default().to_string();
            tool_calls.push(ToolCall {
                // Gemini gives calls no id: the name and position stand in.
                id: call["id"]
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("{name}-{index}")),
                name,
                arguments: call["args"].clone(),
            });
        }
    }
    let finish = if tool_calls.is_empty() {
        finish
    } else {
        Finish::ToolCalls
    };
    Ok(ChatResponse {
        text,
        tool_calls,
        json: None,
        finish,
        usage: usage(&answer["usageMetadata"]),
        model: answer["modelVersion"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    })
}
