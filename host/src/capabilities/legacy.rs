//! The imports of older WIT versions whose types changed, served by
//! today's implementations: each call converts its arguments to today's
//! types, calls today's function and converts the answer back
//! ([`crate::wit::v0_2`] says what changed). Only `discord` needs it: its
//! entities (`member`, `role`, `channel`, `user` in messages) grew in
//! 0.3.0; 0.1.0's `discord` is 0.2.0's.

use crate::capabilities::CogState;
use crate::wit::baseline::cog::discord::Host as Now;
use crate::wit::v0_2::baseline::cog::discord::{DiscordError, Host};
use crate::wit::v0_2::types::{Channel, Member, Message, MessageInfo, Role};

/// A value in the other version's types: today's answer (and error: every
/// error case has the same shape in both) in 0.2.0's, or 0.2.0's message
/// in today's.
fn convert<A: serde::Serialize, B: serde::de::DeserializeOwned>(value: A) -> wasmtime::Result<B> {
    crate::wit::v0_2::convert(&value).map_err(wasmtime::Error::msg)
}

impl Host for CogState {
    async fn send_message(
        &mut self,
        channel: u64,
        message: Message,
    ) -> wasmtime::Result<Result<u64, DiscordError>> {
        convert(Now::send_message(self, channel, convert(message)?).await?)
    }

    async fn edit_message(
        &mut self,
        channel: u64,
        id: u64,
        message: Message,
    ) -> wasmtime::Result<Result<(), DiscordError>> {
        convert(Now::edit_message(self, channel, id, convert(message)?).await?)
    }

    async fn delete_message(
        &mut self,
        channel: u64,
        id: u64,
    ) -> wasmtime::Result<Result<(), DiscordError>> {
        convert(Now::delete_message(self, channel, id).await?)
    }

    async fn get_message(
        &mut self,
        channel: u64,
        id: u64,
    ) -> wasmtime::Result<Result<MessageInfo, DiscordError>> {
        convert(Now::get_message(self, channel, id).await?)
    }

    async fn add_reaction(
        &mut self,
        channel: u64,
        id: u64,
        emoji: String,
    ) -> wasmtime::Result<Result<(), DiscordError>> {
        convert(Now::add_reaction(self, channel, id, emoji).await?)
    }

    async fn remove_reaction(
        &mut self,
        channel: u64,
        id: u64,
        emoji: String,
    ) -> wasmtime::Result<Result<(), DiscordError>> {
        convert(Now::remove_reaction(self, channel, id, emoji).await?)
    }

    async fn get_member(&mut self, user: u64) -> wasmtime::Result<Result<Member, DiscordError>> {
        convert(Now::get_member(self, user).await?)
    }

    async fn add_role(
        &mut self,
        user: u64,
        role: u64,
    ) -> wasmtime::Result<Result<(), DiscordError>> {
        convert(Now::add_role(self, user, role).await?)
    }

    async fn remove_role(
        &mut self,
        user: u64,
        role: u64,
    ) -> wasmtime::Result<Result<(), DiscordError>> {
        convert(Now::remove_role(self, user, role).await?)
    }

    async fn list_roles(&mut self) -> wasmtime::Result<Result<Vec<Role>, DiscordError>> {
        convert(Now::list_roles(self).await?)
    }

    async fn list_channels(&mut self) -> wasmtime::Result<Result<Vec<Channel>, DiscordError>> {
        convert(Now::list_channels(self).await?)
    }

    async fn create_thread(
        &mut self,
        channel: u64,
        name: String,
        from: Option<u64>,
    ) -> wasmtime::Result<Result<u64, DiscordError>> {
        convert(Now::create_thread(self, channel, name, from).await?)
    }

    async fn send_dm(
        &mut self,
        user: u64,
        message: Message,
    ) -> wasmtime::Result<Result<u64, DiscordError>> {
        convert(Now::send_dm(self, user, convert(message)?).await?)
    }

    async fn kick(
        &mut self,
        user: u64,
        reason: Option<String>,
    ) -> wasmtime::Result<Result<(), DiscordError>> {
        convert(Now::kick(self, user, reason).await?)
    }

    async fn ban(
        &mut self,
        user: u64,
        delete_seconds: u32,
        reason: Option<String>,
    ) -> wasmtime::Result<Result<(), DiscordError>> {
        convert(Now::ban(self, user, delete_seconds, reason).await?)
    }

    async fn timeout(
        &mut self,
        user: u64,
        seconds: u32,
        reason: Option<String>,
    ) -> wasmtime::Result<Result<(), DiscordError>> {
        convert(Now::timeout(self, user, seconds, reason).await?)
    }
}
