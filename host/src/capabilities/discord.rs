//! `discord`: acting on Discord in the invocation's guild. Each function
//! needs its own capability (see `wit/discord.wit`); the grant and the guild
//! are checked here, before anything is sent. The REST calls themselves
//! arrive with the Discord integration and answer `not-available` until then.

use super::CogState;
use crate::runtime::bindings::baseline::cog::discord::{DiscordError, Host};
use crate::runtime::bindings::types::{Channel, Member, Message, MessageInfo, Role};

impl CogState {
    /// Budget, grant and guild: the front of every Discord call.
    fn discord_enter(&mut self, capability: &str) -> wasmtime::Result<Result<u64, DiscordError>> {
        self.count_call()?;
        if let Err(denial) = self.grants.check(capability) {
            return Ok(Err(DiscordError::Denied(denial)));
        }
        let Some(guild) = self.scope.guild_id else {
            return Ok(Err(DiscordError::NoGuild));
        };
        Ok(Ok(guild))
    }

    fn discord_call<T>(&mut self, capability: &str) -> wasmtime::Result<Result<T, DiscordError>> {
        Ok(match self.discord_enter(capability)? {
            Ok(_guild) => Err(DiscordError::NotAvailable(format!(
                "`{capability}` calls arrive with the Discord integration"
            ))),
            Err(error) => Err(error),
        })
    }
}

impl Host for CogState {
    async fn send_message(
        &mut self,
        _channel: u64,
        _message: Message,
    ) -> wasmtime::Result<Result<u64, DiscordError>> {
        self.discord_call("discord.messages")
    }
    async fn edit_message(
        &mut self,
        _channel: u64,
        _id: u64,
        _message: Message,
    ) -> wasmtime::Result<Result<(), DiscordError>> {
        self.discord_call("discord.messages")
    }
    async fn delete_message(
        &mut self,
        _channel: u64,
        _id: u64,
    ) -> wasmtime::Result<Result<(), DiscordError>> {
        self.discord_call("discord.messages")
    }
    async fn get_message(
        &mut self,
        _channel: u64,
        _id: u64,
    ) -> wasmtime::Result<Result<MessageInfo, DiscordError>> {
        self.discord_call("discord.messages")
    }
    async fn add_reaction(
        &mut self,
        _channel: u64,
        _id: u64,
        _emoji: String,
    ) -> wasmtime::Result<Result<(), DiscordError>> {
        self.discord_call("discord.reactions")
    }
    async fn remove_reaction(
        &mut self,
        _channel: u64,
        _id: u64,
        _emoji: String,
    ) -> wasmtime::Result<Result<(), DiscordError>> {
        self.discord_call("discord.reactions")
    }
    async fn get_member(&mut self, _user: u64) -> wasmtime::Result<Result<Member, DiscordError>> {
        self.discord_call("discord.members.read")
    }
    async fn add_role(
        &mut self,
        _user: u64,
        _role: u64,
    ) -> wasmtime::Result<Result<(), DiscordError>> {
        self.discord_call("discord.roles.manage")
    }
    async fn remove_role(
        &mut self,
        _user: u64,
        _role: u64,
    ) -> wasmtime::Result<Result<(), DiscordError>> {
        self.discord_call("discord.roles.manage")
    }
    async fn list_roles(&mut self) -> wasmtime::Result<Result<Vec<Role>, DiscordError>> {
        self.discord_call("discord.guild.read")
    }
    async fn list_channels(&mut self) -> wasmtime::Result<Result<Vec<Channel>, DiscordError>> {
        self.discord_call("discord.guild.read")
    }
    async fn create_thread(
        &mut self,
        _channel: u64,
        _name: String,
        _from: Option<u64>,
    ) -> wasmtime::Result<Result<u64, DiscordError>> {
        self.discord_call("discord.threads")
    }
    async fn send_dm(
        &mut self,
        _user: u64,
        _message: Message,
    ) -> wasmtime::Result<Result<u64, DiscordError>> {
        // A DM needs no guild, but it needs the grant.
        self.count_call()?;
        if let Err(denial) = self.grants.check("discord.dm") {
            return Ok(Err(DiscordError::Denied(denial)));
        }
        Ok(Err(DiscordError::NotAvailable(
            "`discord.dm` calls arrive with the Discord integration".into(),
        )))
    }
    async fn kick(
        &mut self,
        _user: u64,
        _reason: Option<String>,
    ) -> wasmtime::Result<Result<(), DiscordError>> {
        self.discord_call("discord.members.kick")
    }
    async fn ban(
        &mut self,
        _user: u64,
        _delete_seconds: u32,
        _reason: Option<String>,
    ) -> wasmtime::Result<Result<(), DiscordError>> {
        self.discord_call("discord.members.ban")
    }
    async fn timeout(
        &mut self,
        _user: u64,
        _seconds: u32,
        _reason: Option<String>,
    ) -> wasmtime::Result<Result<(), DiscordError>> {
        self.discord_call("discord.members.timeout")
    }
}
