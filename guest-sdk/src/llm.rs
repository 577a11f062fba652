//! Language models through the host's metered gateway (capability `llm`,
//! which the operator grants; the models a cog may name beyond the
//! defaults are the operator's list too).
//!
//! A chat is a [`ChatRequest`] of [`ChatMessage`]s; the answer says who
//! answered and what it cost. Tools are the cog's: when the model calls
//! one, run it and send the result back ([`ChatRequest::push_tool_results`]).
//! A [`ChatRequest::json_schema`] answer arrives checked against the schema.
//!
//! ```no_run
//! use baseline_sdk::llm::{self, ChatMessage, ChatRequest};
//! # fn f() -> Result<(), baseline_sdk::CogError> {
//! let answer = llm::chat(
//!     &ChatRequest::new([ChatMessage::system("Be brief."), ChatMessage::user("Why is the sky blue?")])
//!         .max_tokens(200)
//!         .cache_answer(3_600),
//! )?;
//! println!("{} ({} µ$)", answer.text, answer.cost_micros);
//! # Ok(()) }
//! ```
//!
//! Streamed into the interaction's reply, edited as the answer arrives:
//!
//! ```no_run
//! use baseline_sdk::llm::{self, ChatMessage, ChatRequest};
//! # fn f() -> Result<(), baseline_sdk::CogError> {
//! let request = ChatRequest::new([ChatMessage::user("Tell me a story")]);
//! let answer = llm::stream_into_reply(&request, std::time::Duration::from_secs(1), |answer| {
//!     format!("{}\n-# {} µ$", answer.text, answer.cost_micros)
//! })?;
//! # Ok(()) }
//! ```

use crate::CogError;
pub use crate::bindings::baseline::cog::llm::*;

impl ChatMessage {
    /// A message of `role` holding `text`.
    pub fn text(role: Role, text: impl Into<String>) -> Self {
        ChatMessage {
            role,
            parts: vec![Part::Text(text.into())],
        }
    }
    /// Instructions.
    pub fn system(text: impl Into<String>) -> Self {
        Self::text(Role::System, text)
    }
    /// The human's words.
    pub fn user(text: impl Into<String>) -> Self {
        Self::text(Role::User, text)
    }
    /// The model's earlier answer.
    pub fn assistant(text: impl Into<String>) -> Self {
        Self::text(Role::Assistant, text)
    }
    /// The human's words with an image.
    pub fn user_with_image(text: impl Into<String>, image: Image) -> Self {
        ChatMessage {
            role: Role::User,
            parts: vec![Part::Text(text.into()), Part::Image(image)],
        }
    }
    /// The text parts, joined.
    pub fn plain_text(&self) -> String {
        self.parts
            .iter()
            .filter_map(|p| match p {
                Part::Text(t) => Some(t.as_str()),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Tool {
    /// A tool: its name, what it does, its parameters' JSON Schema.
    pub fn new(
        name: impl Into<String>,
        description: impl Into<String>,
        parameters: serde_json::Value,
    ) -> Self {
        Tool {
            name: name.into(),
            description: description.into(),
            parameters: parameters.to_string(),
        }
    }
}

impl ToolCall {
    /// The arguments, parsed.
    pub fn args<T: serde::de::DeserializeOwned>(&self) -> Result<T, CogError> {
        serde_json::from_str(&self.arguments).map_err(|e| {
            CogError::Internal(format!(
                "the model called `{}` with arguments that do not fit: {e}",
                self.name
            ))
        })
    }
}

impl ChatRequest {
    /// A request of `messages` to the operator's default model.
    pub fn new(messages: impl IntoIterator<Item = ChatMessage>) -> Self {
        ChatRequest {
            model: None,
            messages: messages.into_iter().collect(),
            tools: Vec::new(),
            tool_choice: ToolChoice::Auto,
            json_schema: None,
            max_tokens: None,
            temperature: None,
            stop: Vec::new(),
            cache_prompt: false,
            cache_answer_seconds: None,
        }
    }
    /// Name the model.
    pub fn model(mut self, model: impl Into<String>) -> Self {
        self.model = Some(model.into());
        self
    }
    /// Offer a tool.
    pub fn tool(mut self, tool: Tool) -> Self {
        self.tools.push(tool);
        self
    }
    /// Say whether a tool must be called.
    pub fn tool_choice(mut self, choice: ToolChoice) -> Self {
        self.tool_choice = choice;
        self
    }
    /// Ask for JSON fitting `schema`.
    pub fn json_schema(mut self, schema: serde_json::Value) -> Self {
        self.json_schema = Some(schema.to_string());
        self
    }
    /// Most tokens to generate.
    pub fn max_tokens(mut self, tokens: u32) -> Self {
        self.max_tokens = Some(tokens);
        self
    }
    /// Sampling temperature.
    pub fn temperature(mut self, temperature: f32) -> Self {
        self.temperature = Some(temperature);
        self
    }
    /// Cache the prompt's prefix with the provider.
    pub fn cache_prompt(mut self) -> Self {
        self.cache_prompt = true;
        self
    }
    /// Keep the answer in the host's response cache for `seconds`.
    pub fn cache_answer(mut self, seconds: u32) -> Self {
        self.cache_answer_seconds = Some(seconds);
        self
    }
    /// Add the model's tool calls of `answer` and their `results` (in
    /// order) to the conversation, for the next round of the tool loop. A
    /// call without a result (fewer results than calls) is answered with
    /// an error for the model, never left out.
    pub fn push_tool_results(&mut self, answer: &ChatResponse, mut results: Vec<String>) {
        results.resize(
            answer.tool_calls.len().max(results.len()),
            "error: the tool gave no result".into(),
        );
        let mut parts: Vec<Part> = Vec::new();
        if !answer.text.is_empty() {
            parts.push(Part::Text(answer.text.clone()));
        }
        parts.extend(answer.tool_calls.iter().cloned().map(Part::ToolCall));
        self.messages.push(ChatMessage {
            role: Role::Assistant,
            parts,
        });
        self.messages.push(ChatMessage {
            role: Role::Tool,
            parts: answer
                .tool_calls
                .iter()
                .zip(results)
                .map(|(call, content)| {
                    Part::ToolResult(ToolResult {
                        call_id: call.id.clone(),
                        name: call.name.clone(),
                        content,
                    })
                })
                .collect(),
        });
    }
}

impl ChatResponse {
    /// The structured answer, parsed into `T`.
    pub fn json_as<T: serde::de::DeserializeOwned>(&self) -> Result<T, CogError> {
        let json = self
            .json
            .as_deref()
            .ok_or_else(|| CogError::Internal("the answer holds no JSON".into()))?;
        serde_json::from_str(json)
            .map_err(|e| CogError::Internal(format!("the answer's JSON does not fit: {e}")))
    }
}

/// Most characters of a Discord message's content.
const MESSAGE_CHARS: usize = 2_000;

/// Stream `request`'s answer into the interaction's original response,
/// editing it at most once per `every` (Discord allows about five edits in
/// five seconds; a second is a sane pace), then once more with
/// `last(&answer)` — the whole answer with whatever the cog adds (a
/// footer), or nothing when it returns an empty string (a round that ended
/// in tool calls). Returns the whole answer. Text longer than a message is
/// cut with `…` in the message (the returned answer is whole).
pub fn stream_into_reply(
    request: &ChatRequest,
    every: std::time::Duration,
    last: impl FnOnce(&ChatResponse) -> String,
) -> Result<ChatResponse, CogError> {
    let stream = stream_chat(request)?;
    let mut shown = String::new();
    let mut last_edit = std::time::Instant::now();
    let mut edited = String::new();
    let fit = |text: &str| -> String {
        if text.chars().count() <= MESSAGE_CHARS {
            text.to_string()
        } else {
            let mut cut: String = text.chars().take(MESSAGE_CHARS - 1).collect();
            cut.push('…');
            cut
        }
    };
    while let Some(piece) = stream.next()? {
        shown.push_str(&piece);
        if last_edit.elapsed() >= every && !shown.trim().is_empty() {
            let text = fit(&shown);
            if text != edited {
                crate::interaction::edit_original(&crate::Message::text(text.clone()))?;
                edited = text;
            }
            last_edit = std::time::Instant::now();
        }
    }
    let answer = stream.finish()?;
    let text = fit(&last(&answer));
    if !text.is_empty() && text != edited {
        crate::interaction::edit_original(&crate::Message::text(text))?;
    }
    Ok(answer)
}
