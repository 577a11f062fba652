//! Streamed answers, read event by event into text deltas and, at the
//! proper end of the stream, the whole answer with its usage. A stream
//! that stops before its end (no `[DONE]`, no `message_stop`, no final
//! `finishReason`) is an error naming how far it got — never a silent
//! answer with no usage (the "$0 stream" bug of other gateways).

use serde_json::Value;

use super::Kind;
use crate::llm::model::{ChatResponse, Finish, LlmError, ToolCall, Usage};

/// Reads one provider's stream.
#[derive(Debug)]
pub struct Accumulator {
    kind: Kind,
    text: String,
    /// Tool calls by index: id, name, arguments text.
    calls: Vec<(String, String, String)>,
    finish: Option<Finish>,
    usage: Option<Usage>,
    model: String,
    ended: bool,
    /// Events read.
    pub events: usize,
}

impl Accumulator {
    /// For `kind`'s stream.
    pub fn new(kind: Kind) -> Self {
        Self {
            kind,
            text: String::new(),
            calls: Vec::new(),
            finish: None,
            usage: None,
            model: String::new(),
            ended: false,
            events: 0,
        }
    }

    /// Text received so far.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether any of the answer has arrived (after that, no fallback).
    pub fn started(&self) -> bool {
        !self.text.is_empty() || !self.calls.is_empty()
    }

    fn call_at(&mut self, index: usize) -> &mut (String, String, String) {
        while self.calls.len() <= index {
            self.calls.push(Default::default());
        }
        &mut self.calls[index]
    }

    /// Read one event (`name` is the SSE event name, empty when none);
    /// the new text, if any.
    pub fn feed(&mut self, name: &str, data: &str) -> Result<Option<String>, LlmError> {
        self.events += 1;
        if data.trim() == "[DONE]" {
            self.ended = true;
            return Ok(None);
        }
        let event: Value = serde_json::from_str(data)
            .map_err(|e| LlmError::ProviderDown(format!("an unreadable stream event: {e}")))?;
        match self.kind {
            Kind::OpenAi | Kind::Xai => self.openai(&event),
            Kind::Anthropic => self.anthropic(name, &event),
            Kind::Gemini => self.gemini(&event),
        }
    }

    fn openai(&mut self, event: &Value) -> Result<Option<String>, LlmError> {
        if let Some(model) = event["model"].as_str() {
            self.model = model.to_string();
        }
        if event["usage"].is_object() {
            self.usage = Some(super::openai::usage(
                &event["usage"],
                self.kind == Kind::Xai,
            ));
        }
        let choice = &event["choices"][0];
        match choice["finish_reason"].as_str() {
            Some("length") => self.finish = Some(Finish::Length),
            Some("tool_calls") => self.finish = Some(Finish::ToolCalls),
            Some("content_filter") => {
                return Err(LlmError::ContentFiltered(
                    "the provider's content filter".into(),
                ));
            }
            Some(_) => self.finish = Some(Finish::Stop),
            None => {}
        }
        let delta = &choice["delta"];
        if let Some(refusal) = delta["refusal"].as_str() {
            return Err(LlmError::ContentFiltered(refusal.to_string()));
        }
        for call in delta["tool_calls"].as_array().into_iter().flatten() {
            let index = call["index"].as_u64().unwrap_or(0) as usize;
            let slot = self.call_at(index);
            if let Some(id) = call["id"].as_str() {
                slot.0 = id.to_string();
            }
            if let Some(name) = call["function"]["name"].as_str() {
                slot.1 = name.to_string();
            }
            slot.2
                .push_str(call["function"]["arguments"].as_str().unwrap_or_default());
        }
        let piece = delta["content"]
            .as_str()
            .filter(|t| !t.is_empty())
            .map(str::to_string);
        if let Some(piece) = &piece {
            self.text.push_str(piece);
        }
        Ok(piece)
    }

    fn anthropic(&mut self, name: &str, event: &Value) -> Result<Option<String>, LlmError> {
        let kind = if name.is_empty() {
            event["type"].as_str().unwrap_or_default()
        } else {
            name
        };
        match kind {
            "message_start" => {
                self.model = event["message"]["model"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                self.usage = Some(super::anthropic::usage(&event["message"]["usage"]));
            }
            "content_block_start" if event["content_block"]["type"] == "tool_use" => {
                let index = event["index"].as_u64().unwrap_or(0) as usize;
                let block = &event["content_block"];
                let slot = self.call_at(index);
                slot.0 = block["id"].as_str().unwrap_or_default().to_string();
                slot.1 = block["name"].as_str().unwrap_or_default().to_string();
            }
            "content_block_delta" => {
                let delta = &event["delta"];
                match delta["type"].as_str() {
                    Some("text_delta") => {
                        let piece = delta["text"].as_str().unwrap_or_default().to_string();
                        self.text.push_str(&piece);
                        return Ok(Some(piece).filter(|p| !p.is_empty()));
                    }
                    Some("input_json_delta") => {
                        let index = event["index"].as_u64().unwrap_or(0) as usize;
                        let piece = delta["partial_json"]
                            .as_str()
                            .unwrap_or_default()
                            .to_string();
                        self.call_at(index).2.push_str(&piece);
                    }
                    _ => {}
                }
            }
            "message_delta" => {
                // Usage here is cumulative: it replaces, keeping what only
                // message_start said (the cache counts) when absent.
                let mut usage = self.usage.unwrap_or_default();
                let fresh = super::anthropic::usage(&event["usage"]);
                usage.output = fresh.output;
                if event["usage"].get("input_tokens").is_some() {
                    usage.input = fresh.input;
                    usage.cache_read = fresh.cache_read;
                    usage.cache_write_5m = fresh.cache_write_5m;
                    usage.cache_write_1h = fresh.cache_write_1h;
                }
                self.usage = Some(usage);
                self.finish = Some(match event["delta"]["stop_reason"].as_str() {
                    Some("max_tokens") => Finish::Length,
                    Some("tool_use") => Finish::ToolCalls,
                    Some("refusal") => {
                        return Err(LlmError::ContentFiltered("the model refused".into()));
                    }
                    _ => Finish::Stop,
                });
            }
            "message_stop" => self.ended = true,
            "error" => {
                return Err(LlmError::ProviderDown(format!(
                    "the stream failed: {}",
                    event["error"]["message"].as_str().unwrap_or("no message")
                )));
            }
            _ => {}
        }
        Ok(None)
    }

    fn gemini(&mut self, event: &Value) -> Result<Option<String>, LlmError> {
        if let Some(model) = event["modelVersion"].as_str() {
            self.model = model.to_string();
        }
        if event["usageMetadata"].is_object() {
            self.usage = Some(super::gemini::usage(&event["usageMetadata"]));
        }
        let candidate = &event["candidates"][0];
        let mut piece = String::new();
        for part in candidate["content"]["parts"]
            .as_array()
            .into_iter()
            .flatten()
        {
            if let Some(text) = part["text"].as_str() {
                piece.push_str(text);
            } else if let Some(call) = part.get("functionCall") {
                let index = self.calls.len();
                let name = call["name"].as_str().unwrap_or_default().to_string();
                *self.call_at(index) = (format!("{name}-{index}"), name, call["args"].to_string());
            }
        }
        match candidate["finishReason"].as_str() {
            Some("MAX_TOKENS") => {
                self.finish = Some(Finish::Length);
                self.ended = true;
            }
            Some(
                reason @ ("SAFETY" | "RECITATION" | "PROHIBITED_CONTENT" | "BLOCKLIST" | "SPII"),
            ) => {
                return Err(LlmError::ContentFiltered(format!(
                    "the answer was stopped ({reason})"
                )));
            }
            Some(_) => {
                self.finish = Some(Finish::Stop);
                self.ended = true;
            }
            None => {}
        }
        self.text.push_str(&piece);
        Ok(Some(piece).filter(|p| !p.is_empty()))
    }

    /// The whole answer, if the stream reached its end.
    pub fn finish(self) -> Result<ChatResponse, LlmError> {
        if !self.ended {
            return Err(LlmError::StreamCut {
                events: self.events,
                text: self.text.chars().count(),
            });
        }
        let usage = self.usage.ok_or_else(|| {
            LlmError::ProviderDown(
                "the stream ended without usage (was include_usage asked?)".into(),
            )
        })?;
        let mut tool_calls = Vec::new();
        for (id, name, arguments) in self.calls {
            tool_calls.push(ToolCall {
                id,
                name,
                arguments: serde_json::from_str(if arguments.is_empty() {
                    "{}"
                } else {
                    &arguments
                })
                .map_err(|e| {
                    LlmError::Invalid(format!("streamed tool arguments are not JSON: {e}"))
                })?,
            });
        }
        let finish = match (&self.finish, tool_calls.is_empty()) {
            (_, false) => Finish::ToolCalls,
            (Some(finish), true) => *finish,
            (None, true) => Finish::Stop,
        };
        Ok(ChatResponse {
            text: self.text,
            tool_calls,
            json: None,
            finish,
            usage,
            model: self.model,
        })
    }
}
