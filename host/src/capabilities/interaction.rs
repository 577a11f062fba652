//! `interaction`: follow-ups and edits of the current interaction's response.
//! The checks are real now; the Discord calls arrive with the Discord
//! integration and answer `not-available` until then.

use super::CogState;
use crate::runtime::bindings::baseline::cog::interaction::{Host, InteractionError};
use crate::runtime::bindings::types::{Message, Reply};

impl CogState {
    fn interaction_enter(&mut self) -> wasmtime::Result<Result<(), InteractionError>> {
        self.count_call()?;
        if let Err(denial) = self.grants.check("interaction") {
            return Ok(Err(InteractionError::Denied(denial)));
        }
        if self.scope.interaction_id.is_none() {
            return Ok(Err(InteractionError::NoInteraction));
        }
        Ok(Err(InteractionError::NotAvailable(
            "interaction responses arrive with the Discord integration".into(),
        )))
    }
}

impl Host for CogState {
    async fn follow_up(
        &mut self,
        _reply: Reply,
    ) -> wasmtime::Result<Result<u64, InteractionError>> {
        Ok(self.interaction_enter()?.map(|()| 0))
    }

    async fn edit_original(
        &mut self,
        _message: Message,
    ) -> wasmtime::Result<Result<(), InteractionError>> {
        self.interaction_enter()
    }

    async fn delete_original(&mut self) -> wasmtime::Result<Result<(), InteractionError>> {
        self.interaction_enter()
    }
}
