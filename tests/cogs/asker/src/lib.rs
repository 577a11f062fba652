//! `/ask op question [model]`: the `llm` capability's test cog. Each `op`
//! drives one path of the capability and answers with what came back, or
//! with the gateway's refusal in words (`refused: …`):
//!
//! - `chat` — the question, answered with `text [provider/model cost]`;
//! - `cached` — the same, kept in the response cache for a minute
//!   (`… cached` when it came from there);
//! - `json` — structured output with a fixed schema; `bad-schema` — a
//!   schema that is not one;
//! - `tool` — offers `roll_dice`, runs the loop once with the result `4`;
//! - `bad-tool` — a tool whose name is not allowed; `huge` — 17 MiB of text;
//! - `stream` — reads the stream piece by piece: `N pieces: text [cost]`;
//! - `leak` — opens a stream and returns without reading it;
//! - `streams` — opens five streams at once (the fifth is refused);
//! - `image`, `count` — an image (its media type and size), a token count;
//! - `transcribe` — a second of silence as a WAV file.

use baseline_sdk::llm::{self, ChatMessage, ChatRequest, FinishReason, LlmError, Tool};
use baseline_sdk::prelude::*;

struct Asker;

fn refused(error: LlmError) -> String {
    format!("refused: {error:?}")
}

fn priced(answer: &llm::ChatResponse) -> String {
    format!(
        "[{}/{} {} µ$]{}",
        answer.provider,
        answer.model,
        answer.cost_micros,
        if answer.cached { " cached" } else { "" }
    )
}

fn run(op: &str, question: &str, model: Option<String>) -> Result<String, LlmError> {
    let mut request = ChatRequest::new([
        ChatMessage::system("Be brief."),
        ChatMessage::user(question),
    ])
    .max_tokens(200);
    request.model = model.clone();
    Ok(match op {
        "chat" => {
            let answer = llm::chat(&request)?;
            format!("{} {}", answer.text, priced(&answer))
        }
        "cached" => {
            let answer = llm::chat(&request.cache_answer(60))?;
            format!("{} {}", answer.text, priced(&answer))
        }
        "json" => {
            let answer = llm::chat(&request.json_schema(serde_json::json!({
                "type": "object",
                "properties": {"mood": {"type": "string", "enum": ["calm", "stormy"]}, "score": {"type": "integer"}},
                "required": ["mood", "score"],
                "additionalProperties": false
            })))?;
            format!(
                "{} {}",
                answer.json.clone().unwrap_or_default(),
                priced(&answer)
            )
        }
        "bad-schema" => {
            request.json_schema = Some(r#"{"type": 12}"#.into());
            llm::chat(&request)?.text
        }
        "tool" => {
            let mut request = request.tool(Tool::new(
                "roll_dice",
                "Roll dice",
                serde_json::json!({"type": "object", "properties": {"sides": {"type": "integer", "minimum": 2}}, "required": ["sides"]}),
            ));
            let first = llm::chat(&request)?;
            if first.finish != FinishReason::ToolCalls {
                return Ok(format!("no tool call: {}", first.text));
            }
            let call = format!(
                "{}({})",
                first.tool_calls[0].name, first.tool_calls[0].arguments
            );
            request.push_tool_results(&first, vec!["4".into()]);
            let second = llm::chat(&request)?;
            format!("{call} → {} {}", second.text, priced(&second))
        }
        "huge" => {
            let request = ChatRequest::new([ChatMessage::user("x".repeat(17 << 20))]);
            llm::chat(&request)?.text
        }
        "bad-tool" => {
            llm::chat(&request.tool(Tool::new(
                "no spaces allowed",
                "x",
                serde_json::json!({"type": "object"}),
            )))?
            .text
        }
        "stream" => {
            let stream = llm::stream_chat(&request)?;
            let mut pieces = 0;
            while stream.next()?.is_some() {
                pieces += 1;
            }
            let answer = stream.finish()?;
            format!("{pieces} pieces: {} {}", answer.text, priced(&answer))
        }
        "leak" => {
            let _stream = llm::stream_chat(&request)?;
            "left open".into()
        }
        "streams" => {
            let mut open = Vec::new();
            for n in 1..=5 {
                match llm::stream_chat(&request) {
                    Ok(stream) => open.push(stream),
                    Err(error) => return Ok(format!("stream {n}: {}", refused(error))),
                }
            }
            format!("{} open", open.len())
        }
        "image" => {
            let image = llm::generate_image(&llm::ImageRequest {
                model,
                prompt: question.into(),
                size: None,
                quality: Some("low".into()),
            })?;
            format!(
                "{} {} bytes [{}/{} {} µ$]",
                image.image.media_type,
                image.image.data.len(),
                image.provider,
                image.model,
                image.cost_micros
            )
        }
        "count" => format!("{} tokens", llm::count_tokens(&request)?),
        "transcribe" => {
            let heard = llm::transcribe(&llm::TranscriptionRequest {
                model,
                audio: llm::Audio::File(("silence.wav".into(), vec![0; 32_000])),
                language: Some("en".into()),
            })?;
            format!(
                "{} [{}/{} {} µ$]",
                heard.text, heard.provider, heard.model, heard.cost_micros
            )
        }
        other => format!("unknown op {other}"),
    })
}

impl Cog for Asker {
    fn manifest(&self) -> Manifest {
        Manifest::new()
            .command(
                Command::new("ask", "Ask the language model")
                    .option(CommandOption::text("op", "Which path").required())
                    .option(CommandOption::text("question", "What to ask").required())
                    .option(CommandOption::text("model", "Which model")),
            )
            .capability("llm", "Answers questions with a language model.")
    }

    fn on_command(&self, command: CommandInvocation) -> Result<CommandResponse, CogError> {
        let op = command.text("op").unwrap_or("chat");
        let question = command.text("question").unwrap_or_default();
        let model = command.text("model").map(str::to_string);
        Ok(CommandResponse::text(
            run(op, question, model).unwrap_or_else(refused),
        ))
    }
}

register_cog!(Asker);
