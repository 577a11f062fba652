//! `llm`: language models through the host's metered gateway
//! ([`crate::llm::service`]). Denied unless the operator grants `llm` (it
//! spends money); every call is charged to the invocation's guild and cog,
//! within their budgets — the cog never sees a key, a provider or a price
//! it could get around.

use super::CogState;
use crate::llm::model::{self, LlmError as GatewayError};
use crate::wit::baseline::cog::llm::{ChatRequest, ChatResponse, Host, LlmError, Role};

/// Most output tokens a cog may ask for in one call.
const MAX_TOKENS: u32 = 8_192;
/// Output tokens when the cog does not say.
const DEFAULT_TOKENS: u32 = 1_024;

fn wit_error(error: GatewayError) -> LlmError {
    match error {
        GatewayError::BudgetExceeded(why) => LlmError::BudgetExceeded(why),
        GatewayError::NotGranted(why) => LlmError::Denied(why),
        GatewayError::Invalid(why) if why.starts_with("no provider serves") => {
            LlmError::UnknownModel(why)
        }
        GatewayError::Invalid(why)
        | GatewayError::ContextTooLong(why)
        | GatewayError::ContentFiltered(why) => LlmError::Invalid(why),
        other => LlmError::Unavailable(other.to_string()),
    }
}

impl Host for CogState {
    async fn chat(
        &mut self,
        request: ChatRequest,
    ) -> wasmtime::Result<Result<ChatResponse, LlmError>> {
        if let Err(denial) = self.grants.check("llm") {
            return Ok(Err(LlmError::Denied(denial)));
        }
        let Some(service) = self.services.llm.clone() else {
            return Ok(Err(LlmError::NotAvailable(
                "this host runs no LLM gateway (it needs a database)".into(),
            )));
        };
        if !request.messages.iter().any(|m| m.role != Role::System) {
            return Ok(Err(LlmError::Invalid(
                "a chat needs at least one user message".into(),
            )));
        }
        let mut system = Vec::new();
        let mut messages = Vec::new();
        for message in request.messages {
            match message.role {
                Role::System => system.push(message.content),
                Role::User => messages.push(model::Message::user(message.content)),
                Role::Assistant => messages.push(model::Message {
                    role: model::Role::Assistant,
                    parts: vec![model::Part::Text(message.content)],
                    cache: false,
                }),
            }
        }
        let gateway_request = model::ChatRequest {
            model: request.model.unwrap_or_default(),
            system: (!system.is_empty()).then(|| system.join("\n")),
            messages,
            max_tokens: request
                .max_tokens
                .unwrap_or(DEFAULT_TOKENS)
                .clamp(1, MAX_TOKENS),
            temperature: request
                .temperature
                .filter(|t| t.is_finite())
                .map(|t| t.clamp(0.0, 2.0)),
            user: self.scope.user_id.map(|u| u.to_string()),
            ..Default::default()
        };
        let caller = crate::llm::service::Caller {
            guild_id: self.scope.guild_id,
            cog: self.scope.cog.to_string(),
            user_id: self.scope.user_id,
        };
        Ok(match service.chat(&caller, gateway_request).await {
            Ok((answer, charged)) => Ok(ChatResponse {
                content: answer.text,
                model: charged.model,
                provider: charged.provider,
                input_tokens: u32::try_from(answer.usage.total_input()).unwrap_or(u32::MAX),
                output_tokens: u32::try_from(answer.usage.output).unwrap_or(u32::MAX),
                cost_micros: charged.cost_micros,
            }),
            Err(error) => Err(wit_error(error)),
        })
    }
}
