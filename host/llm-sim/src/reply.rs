//! What the simulated model says: the same for the same request, whatever
//! the wire format. Each provider module reads its request into a
//! [`Conversation`]; [`answer`] decides:
//!
//! 1. after a tool result: `The tool answered: …` (or JSON, when a schema
//!    is asked for);
//! 2. a tool call when one is forced, or when the last user message names
//!    a tool (`roll_dice` or "roll dice"), with arguments built from the
//!    tool's JSON Schema ([`example`]);
//! 3. JSON that fits the requested response schema;
//! 4. otherwise a sentence quoting the last user message, cut at
//!    `max_tokens` (finish reason "length").
//!
//! `[[refuse]]` in the last user message makes the model refuse (content
//! filter), for tests of that path.

use serde_json::{Map, Value, json};

use crate::tokens;

/// One turn of the conversation.
#[derive(Debug, Clone, Default)]
pub struct Turn {
    /// `user`, `assistant` or `tool`.
    pub role: String,
    /// Its text, all parts joined.
    pub text: String,
    /// Images in it.
    pub images: u64,
}

/// A tool the model may call.
#[derive(Debug, Clone)]
pub struct Tool {
    /// Its name.
    pub name: String,
    /// Its parameters' JSON Schema.
    pub schema: Value,
}

/// Whether and which tool the caller forces.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Force {
    /// The model decides.
    #[default]
    Auto,
    /// No tool.
    None,
    /// Some tool.
    Any,
    /// This tool.
    Named(String),
}

/// A request, whatever its format.
#[derive(Debug, Clone, Default)]
pub struct Conversation {
    /// The model asked for.
    pub model: String,
    /// The system prompt.
    pub system: String,
    /// The turns.
    pub turns: Vec<Turn>,
    /// The tools offered.
    pub tools: Vec<Tool>,
    /// Tool choice.
    pub force: Force,
    /// A JSON Schema the answer must fit.
    pub schema: Option<Value>,
    /// The most output tokens.
    pub max_tokens: Option<u64>,
}

/// What the model answers.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// Text; `true` when cut at `max_tokens`.
    Text(String, bool),
    /// A call of a tool with these arguments.
    ToolCall(String, Value),
    /// JSON fitting the schema.
    Json(Value),
    /// A refusal.
    Refusal(String),
}

impl Answer {
    /// The answer's text as the model writes it.
    pub fn text(&self) -> String {
        match self {
            Answer::Text(text, _) | Answer::Refusal(text) => text.clone(),
            Answer::ToolCall(_, arguments) => arguments.to_string(),
            Answer::Json(value) => value.to_string(),
        }
    }

    /// Output tokens.
    pub fn tokens(&self) -> u64 {
        match self {
            Answer::ToolCall(name, arguments) => {
                tokens::count(name) + tokens::count(&arguments.to_string())
            }
            other => tokens::count(&other.text()),
        }
    }
}

impl Conversation {
    /// Input tokens of the whole request.
    pub fn prompt_tokens(&self) -> u64 {
        let system = if self.system.is_empty() {
            0
        } else {
            tokens::count(&self.system)
        };
        let turns: u64 = self
            .turns
            .iter()
            .map(|t| tokens::PER_MESSAGE + tokens::count(&t.text) + t.images * tokens::IMAGE_TOKENS)
            .sum();
        let tools: u64 = self
            .tools
            .iter()
            .map(|t| tokens::count(&t.name) + tokens::count(&t.schema.to_string()))
            .sum();
        system + turns + tools
    }

    fn last_user(&self) -> &str {
        self.turns
            .iter()
            .rev()
            .find(|t| t.role == "user")
            .map(|t| t.text.as_str())
            .unwrap_or("")
    }
}

/// The model's answer to `conversation`.
pub fn answer(conversation: &Conversation) -> Answer {
    let last = conversation.turns.last();
    if last.is_some_and(|t| t.role == "tool") {
        let result = last.map(|t| t.text.clone()).unwrap_or_default();
        return match &conversation.schema {
            Some(schema) => Answer::Json(example(schema)),
            None => Answer::Text(format!("The tool answered: {result}."), false),
        };
    }
    let said = conversation.last_user();
    if said.contains("[[refuse]]") {
        return Answer::Refusal("I can't help with that.".into());
    }
    if conversation.force != Force::None && !conversation.tools.is_empty() {
        let lower = said.to_lowercase();
        let named = conversation.tools.iter().find(|t| {
            lower.contains(&t.name.to_lowercase())
                || lower.contains(&t.name.to_lowercase().replace('_', " "))
        });
        let chosen = match &conversation.force {
            Force::Named(name) => conversation.tools.iter().find(|t| &t.name == name),
            Force::Any => named.or(conversation.tools.first()),
            _ => named,
        };
        if let Some(tool) = chosen {
            return Answer::ToolCall(tool.name.clone(), example(&tool.schema));
        }
    }
    if let Some(schema) = &conversation.schema {
        return Answer::Json(example(schema));
    }
    let quoted: String = said.chars().take(120).collect();
    let text =
        format!("Simulated answer to \"{quoted}\": the simulator says hello, deterministically.");
    match conversation.max_tokens {
        Some(max) if tokens::count(&text) > max => {
            let cut: String = text.chars().take((max * 4) as usize).collect();
            Answer::Text(cut, true)
        }
        _ => Answer::Text(text, false),
    }
}

/// A value that fits `schema` (the common keywords: type, properties,
/// items, enum, const, default, minimum/maximum, minItems, anyOf/oneOf).
pub fn example(schema: &Value) -> Value {
    if let Some(value) = schema.get("const").or_else(|| schema.get("default")) {
        return value.clone();
    }
    if let Some(first) = schema.get("enum").and_then(|e| e.get(0)) {
        return first.clone();
    }
    if let Some(first) = schema
        .get("anyOf")
        .or_else(|| schema.get("oneOf"))
        .and_then(|a| a.get(0))
    {
        return example(first);
    }
    let kind = match schema.get("type") {
        Some(Value::Array(kinds)) => kinds
            .iter()
            .find(|k| *k != "null")
            .and_then(Value::as_str)
            .unwrap_or("null"),
        Some(Value::String(kind)) => kind.as_str(),
        _ if schema.get("properties").is_some() => "object",
        _ => "string",
    };
    match kind {
        "object" => {
            let mut object = Map::new();
            for (name, property) in schema
                .get("properties")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                object.insert(name.clone(), example(property));
            }
            Value::Object(object)
        }
        "array" => {
            let item = schema.get("items").map(example).unwrap_or(Value::Null);
            let count = schema
                .get("minItems")
                .and_then(Value::as_u64)
                .unwrap_or(1)
                .max(1);
            Value::Array(vec![item; count as usize])
        }
        "integer" => {
            let low = schema.get("minimum").and_then(Value::as_i64);
            let high = schema.get("maximum").and_then(Value::as_i64);
            json!(low.unwrap_or(1).min(high.unwrap_or(i64::MAX)))
        }
        "number" => {
            let low = schema.get("minimum").and_then(Value::as_f64);
            let high = schema.get("maximum").and_then(Value::as_f64);
            json!(low.unwrap_or(1.5).min(high.unwrap_or(f64::MAX)))
        }
        "boolean" => json!(true),
        "null" => Value::Null,
        _ => {
            let min = schema.get("minLength").and_then(Value::as_u64).unwrap_or(0) as usize;
            let text = match schema.get("format").and_then(Value::as_str) {
                Some("date-time") => "2026-11-29T12:00:00Z".to_string(),
                Some("date") => "2026-11-29".to_string(),
                Some("email") => "someone@example.com".to_string(),
                Some("uri") => "https://example.com/".to_string(),
                _ => "example".to_string(),
            };
            json!(format!(
                "{text}{}",
                "x".repeat(min.saturating_sub(text.len()))
            ))
        }
    }
}

/// The pieces a stream sends the text in: a word (and its space) each.
pub fn chunks(text: &str) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut current = String::new();
    for ch in text.chars() {
        current.push(ch);
        if ch == ' ' {
            pieces.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        pieces.push(current);
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asking(text: &str) -> Conversation {
        Conversation {
            turns: vec![Turn {
                role: "user".into(),
                text: text.into(),
                images: 0,
            }],
            ..Default::default()
        }
    }

    #[test]
    fn answers_are_deterministic_and_follow_the_rules() {
        let plain = asking("hello there");
        assert_eq!(answer(&plain), answer(&plain));
        assert!(matches!(answer(&plain), Answer::Text(t, false) if t.contains("hello there")));
        let mut tooled = asking("please roll dice for me");
        tooled.tools.push(Tool {
            name: "roll_dice".into(),
            schema: json!({"type": "object", "properties": {"sides": {"type": "integer", "minimum": 2}}, "required": ["sides"]}),
        });
        assert_eq!(
            answer(&tooled),
            Answer::ToolCall("roll_dice".into(), json!({"sides": 2}))
        );
        tooled.force = Force::None;
        assert!(matches!(answer(&tooled), Answer::Text(..)));
        let mut structured = asking("facts please");
        structured.schema = Some(json!({"type": "object", "properties": {
            "name": {"type": "string"}, "tags": {"type": "array", "items": {"enum": ["a", "b"]}},
            "score": {"type": "number", "maximum": 1}}}));
        assert_eq!(
            answer(&structured),
            Answer::Json(json!({"name": "example", "tags": ["a"], "score": 1.0}))
        );
        let mut short = asking("a long question");
        short.max_tokens = Some(3);
        assert!(matches!(answer(&short), Answer::Text(t, true) if t.chars().count() == 12));
        assert!(matches!(answer(&asking("[[refuse]]")), Answer::Refusal(_)));
        assert_eq!(chunks("a b c").concat(), "a b c");
    }
}
