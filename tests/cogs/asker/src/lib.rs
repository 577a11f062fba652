//! `/ask question:…`: the question to the host's LLM gateway, answered with
//! the reply, who served it and what it cost — or the gateway's refusal in
//! words (a spent budget, a denied capability). The `llm` capability's
//! test cog.

use baseline_sdk::llm::{self, ChatMessage, ChatRequest, Role};
use baseline_sdk::prelude::*;

struct Asker;

impl Cog for Asker {
    fn manifest(&self) -> Manifest {
        Manifest::new()
            .command(
                Command::new("ask", "Ask the language model")
                    .option(CommandOption::text("question", "What to ask").required()),
            )
            .capability("llm", "Answers questions with a language model.")
    }

    fn on_command(&self, command: CommandInvocation) -> Result<CommandResponse, CogError> {
        let question = command.text("question").unwrap_or_default().to_string();
        let request = ChatRequest {
            model: None,
            messages: vec![
                ChatMessage {
                    role: Role::System,
                    content: "Be brief.".into(),
                },
                ChatMessage {
                    role: Role::User,
                    content: question,
                },
            ],
            max_tokens: Some(200),
            temperature: None,
        };
        match llm::chat(&request) {
            Ok(answer) => Ok(CommandResponse::text(format!(
                "{} [{}/{} {} µ$]",
                answer.content, answer.provider, answer.model, answer.cost_micros
            ))),
            Err(error) => Err(CogError::User(format!("{error:?}"))),
        }
    }
}

register_cog!(Asker);
