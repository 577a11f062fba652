//! `interaction`: follow-ups and edits of the current interaction's
//! response. Whoever speaks first acknowledges the interaction: a follow-up
//! sent before the host has answered defers it first, so it is always valid.

use std::sync::Arc;

use super::CogState;
use crate::discord::outgoing::CustomIds;
use crate::discord::rest::RestError;
use crate::discord::{DiscordLink, InteractionHandle, outgoing};
use crate::wit::baseline::cog::interaction::{Host, InteractionError};
use crate::wit::types::{Message, Reply};

type Entered = (Arc<InteractionHandle>, Arc<DiscordLink>);

impl CogState {
    fn interaction_enter(&mut self) -> wasmtime::Result<Result<Entered, InteractionError>> {
        if let Err(denial) = self.grants.check("interaction") {
            return Ok(Err(InteractionError::Denied(denial)));
        }
        let Some(handle) = self.scope.interaction.clone() else {
            return Ok(Err(if self.scope.interaction_id.is_some() {
                InteractionError::NotAvailable(
                    "there is no Discord connection here (`baseline cog call` runs without one)"
                        .into(),
                )
            } else {
                InteractionError::NoInteraction
            }));
        };
        let Some(link) = self.services.discord.clone() else {
            return Ok(Err(InteractionError::NotAvailable(
                "there is no Discord connection here".into(),
            )));
        };
        Ok(Ok((handle, link)))
    }
}

fn failure(error: RestError) -> InteractionError {
    match error {
        RestError::RateLimited(wait) => {
            InteractionError::RateLimited(wait.as_millis().min(u32::MAX as u128) as u32)
        }
        RestError::Invalid(message) => InteractionError::Invalid(message),
        other => InteractionError::Failed(other.to_string()),
    }
}

impl Host for CogState {
    async fn follow_up(&mut self, reply: Reply) -> wasmtime::Result<Result<u64, InteractionError>> {
        let (handle, link) = match self.interaction_enter()? {
            Ok(entered) => entered,
            Err(error) => return Ok(Err(error)),
        };
        let mut reply = reply;
        let ids = CustomIds::of(&self.scope.cog, self.scope.wit);
        if let Err(problem) = ids.ready(&mut reply.message) {
            return Ok(Err(InteractionError::Invalid(problem)));
        }
        let (body, files) = outgoing::reply(&reply);
        Ok(handle
            .follow_up(&link.rest, Some(&self.scope.cog), body, files)
            .await
            .map_err(failure))
    }

    async fn edit_original(
        &mut self,
        message: Message,
    ) -> wasmtime::Result<Result<(), InteractionError>> {
        let (handle, link) = match self.interaction_enter()? {
            Ok(entered) => entered,
            Err(error) => return Ok(Err(error)),
        };
        let mut message = message;
        let ids = CustomIds::of(&self.scope.cog, self.scope.wit);
        if let Err(problem) = ids.ready(&mut message) {
            return Ok(Err(InteractionError::Invalid(problem)));
        }
        let (body, files) = outgoing::message(&message, true);
        Ok(handle
            .edit_original(&link.rest, Some(&self.scope.cog), body, files)
            .await
            .map_err(failure))
    }

    async fn delete_original(&mut self) -> wasmtime::Result<Result<(), InteractionError>> {
        let (handle, link) = match self.interaction_enter()? {
            Ok(entered) => entered,
            Err(error) => return Ok(Err(error)),
        };
        Ok(handle
            .delete_original(&link.rest, Some(&self.scope.cog))
            .await
            .map_err(failure))
    }
}
