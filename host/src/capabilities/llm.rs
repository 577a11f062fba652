//! `llm`: language models through the host's metered gateway. Denied unless
//! the operator grants `llm` (it spends money); the gateway itself arrives
//! with the LLM issue and answers `not-available` until then.

use super::CogState;
use crate::wit::baseline::cog::llm::{ChatRequest, ChatResponse, Host, LlmError};

impl Host for CogState {
    async fn chat(
        &mut self,
        _request: ChatRequest,
    ) -> wasmtime::Result<Result<ChatResponse, LlmError>> {
        if let Err(denial) = self.grants.check("llm") {
            return Ok(Err(LlmError::Denied(denial)));
        }
        Ok(Err(LlmError::NotAvailable(
            "the LLM gateway is not part of this host yet".into(),
        )))
    }
}
