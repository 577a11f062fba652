//! `discord`: acting on Discord in the invocation's guild. Each function
//! needs its own capability (see `wit/discord.wit`). Before anything is sent:
//! the host-call budget, the grant, the invocation's guild, and — for a
//! channel — that the channel belongs to that guild (`wrong-guild`
//! otherwise). Member and role calls name the invocation's guild in the URL,
//! so they cannot reach another guild. Every call is charged to the cog's
//! REST budget.

use std::sync::Arc;
use std::time::Instant;

use http::Method;
use serde_json::{Value, json};

use super::CogState;
use crate::discord::outgoing::CustomIds;
use crate::discord::rest::{Body, RestError};
use crate::discord::{DiscordLink, incoming, outgoing};
use crate::wit::baseline::cog::discord::{AuditEntry, DiscordError, Host};
use twilight_model::channel::{Channel as TChannel, Message as TMessage};
use twilight_model::guild::{Member as TMember, Role as TRole};

use crate::wit::types::{Channel, ChannelKind, Member, Message, MessageInfo, Role};

fn failure(error: RestError) -> DiscordError {
    match error {
        RestError::RateLimited(wait) => {
            DiscordError::RateLimited(wait.as_millis().min(u32::MAX as u128) as u32)
        }
        RestError::NotFound(_) => DiscordError::NotFound,
        RestError::Invalid(message) => DiscordError::Invalid(message),
        RestError::Forbidden(message) => {
            DiscordError::Failed(format!("Discord refused: {message}"))
        }
        RestError::Failed(message) => DiscordError::Failed(message),
    }
}

fn id_of(value: &Value) -> u64 {
    value
        .as_str()
        .and_then(|s| s.parse().ok())
        .or_else(|| value.as_u64())
        .unwrap_or(0)
}

/// A REST answer read with twilight's model of it.
fn read<T: serde::de::DeserializeOwned>(what: &str, found: Value) -> Result<T, DiscordError> {
    serde_json::from_value(found)
        .map_err(|e| DiscordError::Failed(format!("unreadable {what} from Discord: {e}")))
}

/// What a checked call may use.
struct Entered {
    link: Arc<DiscordLink>,
    guild: u64,
    cog: Arc<str>,
    wit: crate::wit::WitVersion,
    deadline: Instant,
}

impl Entered {
    async fn call(&self, method: Method, path: &str, body: Body) -> Result<Value, DiscordError> {
        self.audited(method, path, body, None).await
    }

    /// A moderation call, with its reason in the guild's audit log.
    async fn audited(
        &self,
        method: Method,
        path: &str,
        body: Body,
        reason: Option<&str>,
    ) -> Result<Value, DiscordError> {
        self.link
            .rest
            .call_with_reason(
                Some(crate::discord::rest::Payer {
                    cog: &self.cog,
                    guild: (self.guild != 0).then_some(self.guild),
                }),
                method,
                path,
                body,
                self.deadline,
                reason,
            )
            .await
            .map_err(failure)
    }

    /// Send a message to `path`, its custom ids put on the wire (the cog's
    /// own namespace) and checked against Discord's limits.
    async fn message(
        &self,
        method: Method,
        path: &str,
        mut message: Message,
        editing: bool,
    ) -> Result<Value, DiscordError> {
        CustomIds::of(&self.cog, self.wit)
            .ready(&mut message)
            .map_err(DiscordError::Invalid)?;
        self.send_ready(method, path, &message, editing).await
    }

    /// Send a message already made ready for the wire.
    async fn send_ready(
        &self,
        method: Method,
        path: &str,
        message: &Message,
        editing: bool,
    ) -> Result<Value, DiscordError> {
        let (body, files) = outgoing::message(message, editing);
        self.call(method, path, Body::message(body, files)).await
    }

    /// The channel must be in the invocation's guild.
    async fn check_channel(&self, channel: u64) -> Result<(), DiscordError> {
        match self.link.guild_of(Some(&self.cog), channel).await {
            Ok(Some(guild)) if guild == self.guild => Ok(()),
            Ok(_) => Err(DiscordError::WrongGuild),
            Err(error) => Err(failure(error)),
        }
    }
}

impl CogState {
    /// Budget and grant: the front of every Discord call.
    fn discord_link(
        &mut self,
        capability: &str,
    ) -> wasmtime::Result<Result<Arc<DiscordLink>, DiscordError>> {
        if let Err(denial) = self.grants.check(capability) {
            return Ok(Err(DiscordError::Denied(denial)));
        }
        Ok(self.services.discord.clone().ok_or_else(|| {
            DiscordError::NotAvailable(
                "there is no Discord connection here (`baseline cog call` runs without one)".into(),
            )
        }))
    }

    /// Budget, grant, guild and link.
    fn discord_enter(
        &mut self,
        capability: &str,
    ) -> wasmtime::Result<Result<Entered, DiscordError>> {
        let link = match self.discord_link(capability)? {
            Ok(link) => link,
            Err(error) => return Ok(Err(error)),
        };
        let Some(guild) = self.scope.guild_id else {
            return Ok(Err(DiscordError::NoGuild));
        };
        Ok(Ok(Entered {
            link,
            guild,
            cog: self.scope.cog.clone(),
            wit: self.scope.wit,
            deadline: Instant::now() + self.limits.deadline(),
        }))
    }

    /// Enter, and check that `channel` is in the invocation's guild.
    async fn discord_channel(
        &mut self,
        capability: &str,
        channel: u64,
    ) -> wasmtime::Result<Result<Entered, DiscordError>> {
        let entered = match self.discord_enter(capability)? {
            Ok(entered) => entered,
            Err(error) => return Ok(Err(error)),
        };
        Ok(entered.check_channel(channel).await.map(|()| entered))
    }
}

/// Unwrap an entry or return its error as the call's result.
macro_rules! enter {
    ($expr:expr) => {
        match $expr? {
            Ok(entered) => entered,
            Err(error) => return Ok(Err(error)),
        }
    };
}

impl CogState {
    /// Add (`PUT`) or remove (`DELETE`) the bot's reaction.
    async fn react(
        &mut self,
        method: Method,
        channel: u64,
        id: u64,
        emoji: &str,
    ) -> wasmtime::Result<Result<(), DiscordError>> {
        let entered = enter!(self.discord_channel("discord.reactions", channel).await);
        let path = format!(
            "/channels/{channel}/messages/{id}/reactions/{}/@me",
            crate::discord::rest::percent_encode(emoji)
        );
        Ok(entered.call(method, &path, Body::Empty).await.map(|_| ()))
    }

    /// Give (`PUT`) or take (`DELETE`) a member's role.
    async fn member_role(
        &mut self,
        method: Method,
        user: u64,
        role: u64,
    ) -> wasmtime::Result<Result<(), DiscordError>> {
        let entered = enter!(self.discord_enter("discord.roles.manage"));
        let path = format!("/guilds/{}/members/{user}/roles/{role}", entered.guild);
        Ok(entered.call(method, &path, Body::Empty).await.map(|_| ()))
    }
}

impl Host for CogState {
    async fn read_audit_log(
        &mut self,
        action: Option<u16>,
        before: Option<u64>,
        limit: u8,
    ) -> wasmtime::Result<Result<Vec<AuditEntry>, DiscordError>> {
        let entered = enter!(self.discord_enter("discord.audit-log"));
        let mut path = format!(
            "/guilds/{}/audit-logs?limit={}",
            entered.guild,
            limit.clamp(1, 100)
        );
        if let Some(action) = action {
            path.push_str(&format!("&action_type={action}"));
        }
        if let Some(before) = before {
            path.push_str(&format!("&before={before}"));
        }
        let log = match entered.call(Method::GET, &path, Body::Empty).await {
            Ok(log) => log,
            Err(error) => return Ok(Err(error)),
        };
        Ok(
            read::<twilight_model::guild::audit_log::AuditLog>("audit log", log).map(|log| {
                log.entries
                    .iter()
                    .map(|e| {
                        let options = e.options.as_ref();
                        AuditEntry {
                            id: e.id.get(),
                            action: u16::from(e.action_type),
                            user_id: e.user_id.map(|u| u.get()),
                            target_id: e.target_id.map(|t| t.get()),
                            reason: e.reason.clone(),
                            channel_id: options.and_then(|o| o.channel_id).map(|c| c.get()),
                            count: options
                                .and_then(|o| o.count.as_deref())
                                .and_then(|c| c.parse().ok()),
                        }
                    })
                    .collect()
            }),
        )
    }

    async fn send_message(
        &mut self,
        channel: u64,
        message: Message,
    ) -> wasmtime::Result<Result<u64, DiscordError>> {
        let entered = enter!(self.discord_channel("discord.messages", channel).await);
        Ok(entered
            .message(
                Method::POST,
                &format!("/channels/{channel}/messages"),
                message,
                false,
            )
            .await
            .map(|sent| id_of(&sent["id"])))
    }

    async fn edit_message(
        &mut self,
        channel: u64,
        id: u64,
        message: Message,
    ) -> wasmtime::Result<Result<(), DiscordError>> {
        let entered = enter!(self.discord_channel("discord.messages", channel).await);
        Ok(entered
            .message(
                Method::PATCH,
                &format!("/channels/{channel}/messages/{id}"),
                message,
                true,
            )
            .await
            .map(|_| ()))
    }

    async fn delete_message(
        &mut self,
        channel: u64,
        id: u64,
    ) -> wasmtime::Result<Result<(), DiscordError>> {
        let entered = enter!(self.discord_channel("discord.messages", channel).await);
        Ok(entered
            .call(
                Method::DELETE,
                &format!("/channels/{channel}/messages/{id}"),
                Body::Empty,
            )
            .await
            .map(|_| ()))
    }

    async fn get_message(
        &mut self,
        channel: u64,
        id: u64,
    ) -> wasmtime::Result<Result<MessageInfo, DiscordError>> {
        let entered = enter!(self.discord_channel("discord.messages", channel).await);
        let found = match entered
            .call(
                Method::GET,
                &format!("/channels/{channel}/messages/{id}"),
                Body::Empty,
            )
            .await
        {
            Ok(found) => found,
            Err(error) => return Ok(Err(error)),
        };
        Ok(read::<TMessage>("message", found).map(|m| incoming::message(&m)))
    }

    async fn add_reaction(
        &mut self,
        channel: u64,
        id: u64,
        emoji: String,
    ) -> wasmtime::Result<Result<(), DiscordError>> {
        self.react(Method::PUT, channel, id, &emoji).await
    }

    async fn remove_reaction(
        &mut self,
        channel: u64,
        id: u64,
        emoji: String,
    ) -> wasmtime::Result<Result<(), DiscordError>> {
        self.react(Method::DELETE, channel, id, &emoji).await
    }

    async fn get_member(&mut self, user: u64) -> wasmtime::Result<Result<Member, DiscordError>> {
        let entered = enter!(self.discord_enter("discord.members.read"));
        let path = format!("/guilds/{}/members/{user}", entered.guild);
        Ok(entered
            .call(Method::GET, &path, Body::Empty)
            .await
            .and_then(|m| read::<TMember>("member", m))
            .map(|m| incoming::member(&m)))
    }

    async fn add_role(
        &mut self,
        user: u64,
        role: u64,
    ) -> wasmtime::Result<Result<(), DiscordError>> {
        self.member_role(Method::PUT, user, role).await
    }

    async fn remove_role(
        &mut self,
        user: u64,
        role: u64,
    ) -> wasmtime::Result<Result<(), DiscordError>> {
        self.member_role(Method::DELETE, user, role).await
    }

    async fn list_roles(&mut self) -> wasmtime::Result<Result<Vec<Role>, DiscordError>> {
        let entered = enter!(self.discord_enter("discord.guild.read"));
        let path = format!("/guilds/{}/roles", entered.guild);
        Ok(entered
            .call(Method::GET, &path, Body::Empty)
            .await
            .and_then(|list| read::<Vec<TRole>>("roles", list))
            .map(|list| list.iter().map(incoming::role).collect()))
    }

    async fn list_channels(&mut self) -> wasmtime::Result<Result<Vec<Channel>, DiscordError>> {
        let entered = enter!(self.discord_enter("discord.guild.read"));
        let path = format!("/guilds/{}/channels", entered.guild);
        Ok(entered
            .call(Method::GET, &path, Body::Empty)
            .await
            .and_then(|list| read::<Vec<TChannel>>("channels", list))
            .map(|list| {
                list.iter()
                    .inspect(|c| entered.link.note_channel(c.id.get(), Some(entered.guild)))
                    .map(incoming::channel)
                    .collect()
            }))
    }

    async fn create_thread(
        &mut self,
        channel: u64,
        name: String,
        from: Option<u64>,
    ) -> wasmtime::Result<Result<u64, DiscordError>> {
        let entered = enter!(self.discord_channel("discord.threads", channel).await);
        let path = match from {
            Some(message) => format!("/channels/{channel}/messages/{message}/threads"),
            None => format!("/channels/{channel}/threads"),
        };
        let body = json!({"name": name, "type": outgoing::channel_kind_number(ChannelKind::PublicThread), "auto_archive_duration": 1440});
        Ok(entered
            .call(Method::POST, &path, Body::Json(body))
            .await
            .map(|thread| {
                let id = id_of(&thread["id"]);
                entered.link.note_channel(id, Some(entered.guild));
                id
            }))
    }

    async fn send_dm(
        &mut self,
        user: u64,
        message: Message,
    ) -> wasmtime::Result<Result<u64, DiscordError>> {
        // A DM needs no guild, but it needs the grant.
        let link = enter!(self.discord_link("discord.dm"));
        let mut message = message;
        if let Err(problem) = CustomIds::of(&self.scope.cog, self.scope.wit).ready(&mut message) {
            return Ok(Err(DiscordError::Invalid(problem)));
        }
        let entered = Entered {
            link,
            guild: 0,
            cog: self.scope.cog.clone(),
            wit: self.scope.wit,
            deadline: Instant::now() + self.limits.deadline(),
        };
        let channel = match entered
            .call(
                Method::POST,
                "/users/@me/channels",
                Body::Json(json!({"recipient_id": user.to_string()})),
            )
            .await
        {
            Ok(channel) => id_of(&channel["id"]),
            Err(error) => return Ok(Err(error)),
        };
        entered.link.note_channel(channel, None);
        Ok(entered
            .send_ready(
                Method::POST,
                &format!("/channels/{channel}/messages"),
                &message,
                false,
            )
            .await
            .map(|sent| id_of(&sent["id"])))
    }

    async fn kick(
        &mut self,
        user: u64,
        reason: Option<String>,
    ) -> wasmtime::Result<Result<(), DiscordError>> {
        let entered = enter!(self.discord_enter("discord.members.kick"));
        tracing::info!(cog = %entered.cog, guild = entered.guild, user, reason = ?reason, "cog kicks a member");
        let path = format!("/guilds/{}/members/{user}", entered.guild);
        Ok(entered
            .audited(Method::DELETE, &path, Body::Empty, reason.as_deref())
            .await
            .map(|_| ()))
    }

    async fn ban(
        &mut self,
        user: u64,
        delete_seconds: u32,
        reason: Option<String>,
    ) -> wasmtime::Result<Result<(), DiscordError>> {
        let entered = enter!(self.discord_enter("discord.members.ban"));
        tracing::info!(cog = %entered.cog, guild = entered.guild, user, reason = ?reason, "cog bans a user");
        let path = format!("/guilds/{}/bans/{user}", entered.guild);
        let body = json!({"delete_message_seconds": delete_seconds.min(604_800)});
        Ok(entered
            .audited(Method::PUT, &path, Body::Json(body), reason.as_deref())
            .await
            .map(|_| ()))
    }

    async fn timeout(
        &mut self,
        user: u64,
        seconds: u32,
        reason: Option<String>,
    ) -> wasmtime::Result<Result<(), DiscordError>> {
        let entered = enter!(self.discord_enter("discord.members.timeout"));
        tracing::info!(cog = %entered.cog, guild = entered.guild, user, seconds, reason = ?reason, "cog times a member out");
        let until = (seconds > 0).then(|| {
            let at = std::time::SystemTime::now()
                + std::time::Duration::from_secs(u64::from(seconds.min(28 * 86_400)));
            humantime::format_rfc3339_seconds(at).to_string()
        });
        let path = format!("/guilds/{}/members/{user}", entered.guild);
        let body = json!({"communication_disabled_until": until});
        Ok(entered
            .audited(Method::PATCH, &path, Body::Json(body), reason.as_deref())
            .await
            .map(|_| ()))
    }
}
