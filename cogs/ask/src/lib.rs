//! `ask`: a language model in the server, through the host's metered
//! gateway (capability `llm`; the operator grants it, sets budgets, and
//! picks the providers — with no key, `baseline run` answers from its LLM
//! simulator).
//!
//! - `/ask question` — a conversation that remembers the last turns (kv,
//!   per user and server; `/forget` clears it), with a dice tool the model
//!   may call, streamed into the reply by edits;
//! - `/classify text` — structured output: sentiment, topics and whether a
//!   moderator should look, as JSON checked against a schema;
//! - `/imagine prompt [quality]` — an image, attached to the reply;
//! - `/transcribe file` — the words of a voice message or audio file.
//!
//! Every answer says what it cost. A spent budget, a rate limit or a
//! refusal reaches the user in words (the SDK maps the gateway's errors).

use std::time::Duration;

use baseline_sdk::kv::{self, Scope};
use baseline_sdk::llm::{self, ChatMessage, ChatRequest, FinishReason, Tool};
use baseline_sdk::prelude::*;
use serde::{Deserialize, Serialize};

/// The guild settings: the schema the dashboard's form is drawn from is
/// derived from this type (`Manifest::settings`), its defaults from
/// `Default`.
#[derive(Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
struct Settings {
    /// Given to the model before every conversation.
    #[schemars(title = "Instructions", length(max = 2000))]
    system_prompt: String,
    /// Earlier questions and answers the model sees (0: none).
    #[schemars(title = "Turns remembered", range(min = 0, max = 20))]
    memory_turns: u32,
    /// The longest answer, in tokens.
    #[schemars(title = "Longest answer (tokens)", range(min = 16, max = 4000))]
    max_tokens: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            system_prompt: "You are a helpful member of this Discord server. Be brief.".into(),
            memory_turns: 6,
            max_tokens: 500,
        }
    }
}

/// One remembered turn.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Turn {
    question: String,
    answer: String,
}

/// Most characters of a remembered answer.
const REMEMBERED_CHARS: usize = 1_500;
/// Tool rounds before the cog stops asking.
const TOOL_ROUNDS: usize = 3;
/// How often a streamed answer is edited into the reply.
const EDIT_EVERY: Duration = Duration::from_millis(1_000);

/// The dice tool the model may call.
fn dice_tool() -> Tool {
    Tool::new(
        "roll_dice",
        "Roll dice and return each die and the total.",
        serde_json::json!({
            "type": "object",
            "properties": {
                "sides": {"type": "integer", "minimum": 2, "maximum": 1000, "description": "Sides per die"},
                "count": {"type": "integer", "minimum": 1, "maximum": 20, "description": "How many dice"}
            },
            "required": ["sides"],
            "additionalProperties": false
        }),
    )
}

#[derive(Deserialize)]
struct DiceArgs {
    sides: u32,
    #[serde(default = "one")]
    count: u32,
}

fn one() -> u32 {
    1
}

/// Run the dice tool: dice from the interaction id (predictable in tests,
/// new for every question).
fn roll_dice(seed: u64, args: &DiceArgs) -> String {
    let sides = args.sides.clamp(2, 1000);
    let count = args.count.clamp(1, 20);
    let mut state = seed | 1;
    let dice: Vec<u32> = (0..count)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % u64::from(sides)) as u32 + 1
        })
        .collect();
    serde_json::json!({"dice": dice, "total": dice.iter().sum::<u32>()}).to_string()
}

/// The structured answer of `/classify`.
#[derive(Debug, Deserialize)]
struct Classification {
    sentiment: String,
    topics: Vec<String>,
    needs_moderator: bool,
}

fn classification_schema() -> serde_json::Value {
    serde_json::json!({
        "type": "object",
        "properties": {
            "sentiment": {"type": "string", "enum": ["positive", "neutral", "negative"]},
            "topics": {"type": "array", "items": {"type": "string"}, "maxItems": 5},
            "needs_moderator": {"type": "boolean"}
        },
        "required": ["sentiment", "topics", "needs_moderator"],
        "additionalProperties": false
    })
}

/// `$0.000123` from micro-dollars.
fn dollars(micros: u64) -> String {
    format!("${}.{:06}", micros / 1_000_000, micros % 1_000_000)
}

struct Ask;

impl Ask {
    fn ask(&self, command: &CommandInvocation) -> Result<CommandResponse, CogError> {
        let question = command
            .text("question")
            .unwrap_or_default()
            .trim()
            .to_string();
        if question.is_empty() {
            return Err(CogError::User("Ask something.".into()));
        }
        let settings: Settings = baseline_sdk::settings::get()?;
        let user = command.context.user.id;
        let mut memory: Vec<Turn> = kv::get_json(Scope::User(user), "memory")?.unwrap_or_default();
        let keep = settings.memory_turns as usize;
        if memory.len() > keep {
            memory.drain(..memory.len() - keep);
        }
        let mut messages = vec![ChatMessage::system(settings.system_prompt.clone())];
        for turn in &memory {
            messages.push(ChatMessage::user(turn.question.clone()));
            messages.push(ChatMessage::assistant(turn.answer.clone()));
        }
        messages.push(ChatMessage::user(question.clone()));
        let mut request = ChatRequest::new(messages)
            .tool(dice_tool())
            .max_tokens(settings.max_tokens)
            .cache_prompt();
        let mut spent = 0;
        for _ in 0..TOOL_ROUNDS {
            let before = spent;
            let mut saved: Result<(), CogError> = Ok(());
            // The last edit of a round that answers carries the model and
            // what the whole question cost (tool rounds included).
            let answer = llm::stream_into_reply(&request, EDIT_EVERY, |answer| {
                if answer.finish == FinishReason::ToolCalls && !answer.tool_calls.is_empty() {
                    return String::new();
                }
                // Remember the turn before the last edit shows the answer,
                // so a question asked right after it already sees it.
                if keep > 0 {
                    memory.push(Turn {
                        question: question.chars().take(REMEMBERED_CHARS).collect(),
                        answer: answer.text.chars().take(REMEMBERED_CHARS).collect(),
                    });
                    if memory.len() > keep {
                        memory.remove(0);
                    }
                    saved = kv::set_json(Scope::User(user), "memory", &memory, Some(7 * 86_400))
                        .map_err(CogError::from);
                }
                let footer = format!(
                    "\n-# {} · {}",
                    answer.model,
                    dollars(before + answer.cost_micros)
                );
                let text = if answer.text.is_empty() {
                    "(no answer)"
                } else {
                    &answer.text
                };
                let mut shown: String = text.chars().take(2_000 - footer.chars().count()).collect();
                shown.push_str(&footer);
                shown
            })?;
            spent += answer.cost_micros;
            if answer.finish == FinishReason::ToolCalls && !answer.tool_calls.is_empty() {
                let results = answer
                    .tool_calls
                    .iter()
                    .map(|call| match call.name.as_str() {
                        "roll_dice" => match call.args::<DiceArgs>() {
                            Ok(args) => roll_dice(command.context.interaction_id, &args),
                            Err(error) => format!("error: {error:?}"),
                        },
                        other => format!("error: there is no tool `{other}`"),
                    })
                    .collect();
                request.push_tool_results(&answer, results);
                continue;
            }
            saved?;
            return Ok(CommandResponse::answered());
        }
        Err(CogError::User(
            "The model kept calling tools; ask again more simply.".into(),
        ))
    }

    fn classify(&self, command: &CommandInvocation) -> Result<CommandResponse, CogError> {
        let text = command.text("text").unwrap_or_default();
        let request = ChatRequest::new([
            ChatMessage::system(
                "Classify the message for a Discord moderator: sentiment, up to five topics, and whether a moderator should look.",
            ),
            ChatMessage::user(text),
        ])
        .json_schema(classification_schema())
        .max_tokens(300)
        .cache_answer(3_600);
        let answer = llm::chat(&request)?;
        let found: Classification = answer.json_as()?;
        let color = match found.sentiment.as_str() {
            "positive" => 0x57F287,
            "negative" => 0xED4245,
            _ => 0x5865F2,
        };
        let topics = if found.topics.is_empty() {
            "—".to_string()
        } else {
            found.topics.join(", ")
        };
        Ok(CommandResponse::message(
            Message::new().embed(
                Embed::new()
                    .title("Classification")
                    .color(color)
                    .field("Sentiment", found.sentiment.clone(), true)
                    .field("Topics", topics, true)
                    .field(
                        "Moderator",
                        if found.needs_moderator {
                            "should look"
                        } else {
                            "not needed"
                        },
                        true,
                    )
                    .footer(format!(
                        "{} · {}{}",
                        answer.model,
                        dollars(answer.cost_micros),
                        if answer.cached { " · cached" } else { "" }
                    )),
            ),
        ))
    }

    fn imagine(&self, command: &CommandInvocation) -> Result<CommandResponse, CogError> {
        let prompt = command.text("prompt").unwrap_or_default().to_string();
        let image = llm::generate_image(&llm::ImageRequest {
            model: None,
            prompt: prompt.clone(),
            size: Some("1024x1024".into()),
            quality: command.text("quality").map(str::to_string),
        })?;
        let extension = match image.image.media_type.as_str() {
            "image/jpeg" => "jpg",
            "image/webp" => "webp",
            _ => "png",
        };
        Ok(CommandResponse::message(
            Message::text(format!(
                "🎨 {} — {} · {}",
                prompt.chars().take(200).collect::<String>(),
                image.model,
                dollars(image.cost_micros)
            ))
            .file(format!("imagined.{extension}"), image.image.data),
        ))
    }

    fn transcribe(&self, command: &CommandInvocation) -> Result<CommandResponse, CogError> {
        let Some(file) = command.attachment("file") else {
            return Err(CogError::User(
                "Attach a voice message or an audio file.".into(),
            ));
        };
        let heard = llm::transcribe(&llm::TranscriptionRequest {
            model: None,
            audio: llm::Audio::Attachment(file.url.clone()),
            language: None,
        })?;
        Ok(CommandResponse::text(format!(
            "📝 {}\n-# {} · {} · {}",
            heard.text.chars().take(1_800).collect::<String>(),
            file.filename,
            heard.model,
            dollars(heard.cost_micros)
        )))
    }
}

impl Cog for Ask {
    fn manifest(&self) -> Manifest {
        Manifest::new()
            .command(
                Command::new(
                    "ask",
                    "Ask the language model (it remembers your last questions)",
                )
                .option(CommandOption::text("question", "What to ask").required()),
            )
            .command(Command::new(
                "forget",
                "Make the language model forget your conversation",
            ))
            .command(
                Command::new(
                    "classify",
                    "Classify a message: sentiment, topics, moderator needed",
                )
                .option(CommandOption::text("text", "The message").required()),
            )
            .command(
                Command::new("imagine", "Draw an image")
                    .option(CommandOption::text("prompt", "What to draw").required())
                    .option(
                        CommandOption::text("quality", "How carefully (dearer when higher)")
                            .choice("low", "low")
                            .choice("medium", "medium")
                            .choice("high", "high"),
                    ),
            )
            .command(
                Command::new("transcribe", "Write down what a voice message says").option(
                    CommandOption::attachment("file", "The voice message or audio file").required(),
                ),
            )
            .settings::<Settings>()
            .capability(
                "llm",
                "Answers, classifies, draws and transcribes with language models.",
            )
            .capability("kv", "Remembers each user's last questions for a week.")
            .capability("settings", "Reads the server's instructions and limits.")
    }

    fn on_command(&self, command: CommandInvocation) -> Result<CommandResponse, CogError> {
        match command.name.as_str() {
            "ask" => self.ask(&command),
            "forget" => {
                kv::delete(Scope::User(command.context.user.id), "memory")?;
                Ok(CommandResponse::ephemeral(Message::text(
                    "Forgotten: the next question starts a new conversation.",
                )))
            }
            "classify" => self.classify(&command),
            "imagine" => self.imagine(&command),
            "transcribe" => self.transcribe(&command),
            other => Err(CogError::Internal(format!("unknown command {other}"))),
        }
    }
}

register_cog!(Ask);
