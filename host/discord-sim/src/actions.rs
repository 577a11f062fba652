//! Changes to the world that Discord would tell the bot about: each one
//! updates the state and sends the matching gateway dispatch. Used by the
//! bot's REST calls and by the control API (acting as a user) alike.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::Sim;
use crate::error::ApiError;
use crate::world::{
    BOT_ID, EVERYONE_PERMISSIONS, SimChannel, SimGuild, SimInteraction, SimMember, SimMessage,
    SimRole, SimUser, State, channel_json, member_json, message_json, now, role_json, user_json,
};

/// Discord's limits on a message body, and an empty message refused.
fn check_message(body: &Value, creating: bool) -> Result<(), ApiError> {
    crate::limits::check_message(body)?;
    let content = body.get("content").and_then(Value::as_str).unwrap_or("");
    let count = |key: &str| body.get(key).and_then(Value::as_array).map_or(0, Vec::len);
    let loading = body.get("flags").and_then(Value::as_u64).unwrap_or(0) & 128 != 0;
    if creating
        && !loading
        && content.is_empty()
        && count("embeds") == 0
        && count("components") == 0
        && count("attachments") == 0
    {
        return Err(ApiError(
            axum::http::StatusCode::BAD_REQUEST,
            50006,
            "Cannot send an empty message".into(),
        ));
    }
    Ok(())
}

impl Sim {
    /// The guild of a channel, or 404.
    pub fn channel_guild(&self, channel: u64) -> Result<Option<u64>, ApiError> {
        self.world
            .state
            .lock()
            .channels
            .get(&channel)
            .map(|c| c.guild_id)
            .ok_or_else(|| ApiError::unknown("Channel"))
    }

    /// Post a message as `author`; dispatches MESSAGE_CREATE.
    pub fn create_message(
        &self,
        channel: u64,
        author: u64,
        body: Value,
        kind: u8,
        interaction: Option<u64>,
    ) -> Result<Value, ApiError> {
        check_message(&body, true)?;
        let guild = self.channel_guild(channel)?;
        let id = self.world.next_id();
        let message = SimMessage {
            id,
            channel_id: channel,
            author_id: author,
            body,
            timestamp: now(),
            edited: None,
            kind,
            interaction_id: interaction,
            reactions: Vec::new(),
        };
        let (json, member) = {
            let mut state = self.world.state.lock();
            let json = message_json(&state, &message);
            let member = guild.and_then(|g| member_of(&state, g, author));
            state.messages.insert(id, message);
            (json, member)
        };
        let mut event = json.clone();
        if let Some(member) = member {
            let mut member = member;
            member.as_object_mut().map(|m| m.remove("user"));
            event["member"] = member;
        }
        self.gateway.dispatch(guild, "MESSAGE_CREATE", event);
        Ok(json)
    }

    /// Edit a message's content, embeds or components; dispatches MESSAGE_UPDATE.
    pub fn edit_message(&self, channel: u64, id: u64, body: Value) -> Result<Value, ApiError> {
        check_message(&body, false)?;
        let guild = self.channel_guild(channel)?;
        let json = {
            let mut state = self.world.state.lock();
            let message = state
                .messages
                .get_mut(&id)
                .filter(|m| m.channel_id == channel)
                .ok_or_else(|| ApiError::unknown("Message"))?;
            for key in ["content", "embeds", "components", "flags", "attachments"] {
                if let Some(value) = body.get(key) {
                    message.body[key] = value.clone();
                }
            }
            message.edited = Some(now());
            let message = message.clone();
            message_json(&state, &message)
        };
        self.gateway.dispatch(guild, "MESSAGE_UPDATE", json.clone());
        Ok(json)
    }

    /// Delete a message; dispatches MESSAGE_DELETE. Returns the guild and
    /// the message's author (for the audit log of a moderator's deletion).
    pub fn delete_message(&self, channel: u64, id: u64) -> Result<(Option<u64>, u64), ApiError> {
        let guild = self.channel_guild(channel)?;
        let author = {
            let mut state = self.world.state.lock();
            match state.messages.get(&id) {
                Some(m) if m.channel_id == channel => {
                    let author = m.author_id;
                    state.messages.remove(&id);
                    author
                }
                _ => return Err(ApiError::unknown("Message")),
            }
        };
        let mut event = json!({"id": id.to_string(), "channel_id": channel.to_string()});
        if let Some(guild) = guild {
            event["guild_id"] = json!(guild.to_string());
        }
        self.gateway.dispatch(guild, "MESSAGE_DELETE", event);
        Ok((guild, author))
    }

    /// Delete several messages of a channel at once; dispatches
    /// MESSAGE_DELETE_BULK with the ids that existed.
    pub fn purge_messages(&self, channel: u64, ids: &[u64]) -> Result<Option<u64>, ApiError> {
        let guild = self.channel_guild(channel)?;
        let deleted: Vec<String> = {
            let mut state = self.world.state.lock();
            ids.iter()
                .filter(|id| {
                    state
                        .messages
                        .get(id)
                        .is_some_and(|m| m.channel_id == channel)
                })
                .copied()
                .collect::<Vec<_>>()
                .into_iter()
                .map(|id| {
                    state.messages.remove(&id);
                    id.to_string()
                })
                .collect()
        };
        let mut event = json!({"ids": deleted, "channel_id": channel.to_string()});
        if let Some(guild) = guild {
            event["guild_id"] = json!(guild.to_string());
        }
        self.gateway.dispatch(guild, "MESSAGE_DELETE_BULK", event);
        Ok(guild)
    }

    /// Record an audit-log entry in `guild` — `user` did `action` (Discord's
    /// action type) to `target`, for `reason` — and announce it with
    /// GUILD_AUDIT_LOG_ENTRY_CREATE, after the event it explains, as
    /// Discord does. A message deletion within [`crate::world::AUDIT_FOLD`]
    /// of one by the same moderator of the same author in the same channel
    /// only raises that entry's count and announces nothing: Discord's
    /// folding, which leaves such deletions without a visible moderator.
    pub fn audit(
        &self,
        guild: u64,
        action: u16,
        user: u64,
        target: Option<u64>,
        reason: Option<&str>,
        options: Option<Value>,
    ) -> Value {
        let id = self.world.next_id();
        let mut entry = json!({
            "id": id.to_string(),
            "action_type": action,
            "user_id": user.to_string(),
            "target_id": target.map(|t| t.to_string()),
            "changes": [],
        });
        if let Some(reason) = reason {
            entry["reason"] = json!(reason);
        }
        if let Some(options) = options {
            entry["options"] = options;
        }
        {
            let mut state = self.world.state.lock();
            let log = state.audit_log.entry(guild).or_default();
            if action == MESSAGE_DELETE
                && let Some(folded) = log.iter_mut().find(|e| {
                    e["action_type"] == action
                        && e["user_id"] == entry["user_id"]
                        && e["target_id"] == entry["target_id"]
                        && e["options"]["channel_id"] == entry["options"]["channel_id"]
                })
                && folded["folded_since"].as_u64().is_some_and(|at| {
                    now_millis().saturating_sub(at) < crate::world::AUDIT_FOLD.as_millis() as u64
                })
            {
                let count = folded["options"]["count"]
                    .as_str()
                    .and_then(|c| c.parse::<u64>().ok())
                    .unwrap_or(1);
                folded["options"]["count"] = json!((count + 1).to_string());
                return public_entry(folded);
            }
            let mut kept = entry.clone();
            kept["folded_since"] = json!(now_millis());
            log.push_front(kept);
            log.truncate(crate::world::AUDIT_KEPT);
        }
        // Only a bot that may read the audit log is told.
        let readable = {
            let state = self.world.state.lock();
            permissions_of(&state, guild, BOT_ID)
                & (crate::world::VIEW_AUDIT_LOG | crate::world::ADMINISTRATOR)
                != 0
        };
        if readable {
            let mut event = entry.clone();
            event["guild_id"] = json!(guild.to_string());
            self.gateway
                .dispatch(Some(guild), "GUILD_AUDIT_LOG_ENTRY_CREATE", event);
        }
        entry
    }

    /// A user is banned (`banned`) or unbanned; dispatches GUILD_BAN_ADD or
    /// GUILD_BAN_REMOVE (a banned member is then removed, as Discord does).
    pub fn ban_changed(&self, guild: u64, user: u64, banned: bool) {
        let user_value = self.world.state.lock().users.get(&user).map(user_json);
        if let Some(user_value) = user_value {
            let name = if banned {
                "GUILD_BAN_ADD"
            } else {
                "GUILD_BAN_REMOVE"
            };
            self.gateway.dispatch(
                Some(guild),
                name,
                json!({"guild_id": guild.to_string(), "user": user_value}),
            );
        }
    }

    /// Add (`add`) or remove a reaction; dispatches MESSAGE_REACTION_ADD/REMOVE.
    pub fn react(
        &self,
        channel: u64,
        message: u64,
        user: u64,
        emoji: &str,
        add: bool,
    ) -> Result<(), ApiError> {
        let guild = self.channel_guild(channel)?;
        {
            let mut state = self.world.state.lock();
            let found = state
                .messages
                .get_mut(&message)
                .filter(|m| m.channel_id == channel)
                .ok_or_else(|| ApiError::unknown("Message"))?;
            let entry = (emoji.to_string(), user);
            let present = found.reactions.contains(&entry);
            if add && !present {
                found.reactions.push(entry);
            } else if !add && present {
                found.reactions.retain(|r| *r != entry);
            } else {
                return Ok(());
            }
        }
        let mut event = json!({"user_id": user.to_string(), "channel_id": channel.to_string(),
            "message_id": message.to_string(), "emoji": {"id": null, "name": emoji},
            "burst": false, "type": 0});
        if let Some(guild) = guild {
            event["guild_id"] = json!(guild.to_string());
        }
        let name = if add {
            "MESSAGE_REACTION_ADD"
        } else {
            "MESSAGE_REACTION_REMOVE"
        };
        self.gateway.dispatch(guild, name, event);
        Ok(())
    }

    /// A user joins a guild (created if unknown); dispatches GUILD_MEMBER_ADD.
    pub fn add_member(&self, guild: u64, user: u64, username: &str) -> Result<Value, ApiError> {
        let member = {
            let mut state = self.world.state.lock();
            state.users.entry(user).or_insert_with(|| SimUser {
                id: user,
                username: username.into(),
                bot: false,
            });
            let sim_user = state.users[&user].clone();
            let found = state
                .guilds
                .get_mut(&guild)
                .ok_or_else(|| ApiError::unknown("Guild"))?;
            let member = found.members.entry(user).or_default().clone();
            member_json(&sim_user, &member)
        };
        let mut event = member.clone();
        event["guild_id"] = json!(guild.to_string());
        self.gateway
            .dispatch(Some(guild), "GUILD_MEMBER_ADD", event);
        Ok(member)
    }

    /// A member leaves or is kicked; dispatches GUILD_MEMBER_REMOVE.
    pub fn remove_member(&self, guild: u64, user: u64) -> Result<(), ApiError> {
        let user_value = {
            let mut state = self.world.state.lock();
            let value = state
                .users
                .get(&user)
                .map(user_json)
                .ok_or_else(|| ApiError::unknown("User"))?;
            let found = state
                .guilds
                .get_mut(&guild)
                .ok_or_else(|| ApiError::unknown("Guild"))?;
            found
                .members
                .remove(&user)
                .ok_or_else(|| ApiError::unknown("Member"))?;
            value
        };
        self.gateway.dispatch(
            Some(guild),
            "GUILD_MEMBER_REMOVE",
            json!({"guild_id": guild.to_string(), "user": user_value}),
        );
        Ok(())
    }

    /// Change a member (roles, nickname, timeout) with `change`; dispatches
    /// GUILD_MEMBER_UPDATE.
    pub fn update_member(
        &self,
        guild: u64,
        user: u64,
        change: impl FnOnce(&mut SimMember, &SimGuild) -> Result<(), ApiError>,
    ) -> Result<Value, ApiError> {
        let member = {
            let mut state = self.world.state.lock();
            let sim_user = state
                .users
                .get(&user)
                .cloned()
                .ok_or_else(|| ApiError::unknown("User"))?;
            let found = state
                .guilds
                .get_mut(&guild)
                .ok_or_else(|| ApiError::unknown("Guild"))?;
            let snapshot = found.clone();
            let member = found
                .members
                .get_mut(&user)
                .ok_or_else(|| ApiError::unknown("Member"))?;
            change(member, &snapshot)?;
            member_json(&sim_user, member)
        };
        let mut event = member.clone();
        event["guild_id"] = json!(guild.to_string());
        self.gateway
            .dispatch(Some(guild), "GUILD_MEMBER_UPDATE", event);
        Ok(member)
    }

    /// The guild's ownership moves to `owner` (a member); dispatches
    /// GUILD_UPDATE with the guild object, as Discord does.
    pub fn transfer_guild(&self, guild: u64, owner: u64) -> Result<(), ApiError> {
        {
            let mut state = self.world.state.lock();
            let found = state
                .guilds
                .get_mut(&guild)
                .ok_or_else(|| ApiError::unknown("Guild"))?;
            if !found.members.contains_key(&owner) {
                return Err(ApiError::unknown("Member"));
            }
            found.owner_id = owner;
        }
        let update = self
            .world
            .guild_object(guild)
            .ok_or_else(|| ApiError::unknown("Guild"))?;
        self.gateway.dispatch(Some(guild), "GUILD_UPDATE", update);
        Ok(())
    }

    /// The bot is added to a new guild (with #general, @everyone and the
    /// owner as its members); dispatches GUILD_CREATE. Returns the guild id
    /// (`id` when given: tests pick ids to land on a given shard).
    pub fn add_guild(&self, name: &str, owner: u64, id: Option<u64>) -> Result<u64, ApiError> {
        let id = id.unwrap_or_else(|| self.world.next_id());
        if self.world.state.lock().guilds.contains_key(&id) {
            return Err(ApiError::invalid(format!("guild {id} exists already")));
        }
        let channel = self.world.next_id();
        {
            let mut state = self.world.state.lock();
            if !state.users.contains_key(&owner) {
                return Err(ApiError::unknown("User"));
            }
            let mut members = BTreeMap::new();
            members.insert(owner, SimMember::default());
            members.insert(BOT_ID, SimMember::default());
            state.guilds.insert(
                id,
                SimGuild {
                    id,
                    name: name.into(),
                    owner_id: owner,
                    roles: vec![SimRole {
                        id,
                        name: "@everyone".into(),
                        permissions: EVERYONE_PERMISSIONS,
                        position: 0,
                    }],
                    members,
                    bans: Vec::new(),
                    bot_present: true,
                },
            );
            state.channels.insert(
                channel,
                SimChannel {
                    id: channel,
                    guild_id: Some(id),
                    name: "general".into(),
                    kind: 0,
                    parent_id: None,
                    topic: None,
                    position: 0,
                    recipient: None,
                },
            );
        }
        let create = self.world.guild_create(id).expect("just created");
        self.gateway.dispatch(Some(id), "GUILD_CREATE", create);
        Ok(id)
    }

    /// The bot is removed from a guild; dispatches GUILD_DELETE.
    pub fn remove_bot(&self, guild: u64) -> Result<(), ApiError> {
        {
            let mut state = self.world.state.lock();
            let found = state
                .guilds
                .get_mut(&guild)
                .filter(|g| g.bot_present)
                .ok_or_else(|| ApiError::unknown("Guild"))?;
            found.bot_present = false;
        }
        self.gateway.dispatch(
            Some(guild),
            "GUILD_DELETE",
            json!({"id": guild.to_string()}),
        );
        Ok(())
    }

    /// Create a text channel or thread; dispatches CHANNEL_CREATE or THREAD_CREATE.
    pub fn create_channel(&self, channel: SimChannel) -> Value {
        let json = channel_json(&channel);
        let guild = channel.guild_id;
        let thread = crate::world::is_thread(channel.kind);
        self.world.state.lock().channels.insert(channel.id, channel);
        let event = if thread {
            let mut event = json.clone();
            event["newly_created"] = json!(true);
            ("THREAD_CREATE", event)
        } else {
            ("CHANNEL_CREATE", json.clone())
        };
        self.gateway.dispatch(guild, event.0, event.1);
        json
    }

    /// Delete a guild channel; dispatches CHANNEL_DELETE.
    pub fn delete_channel(&self, id: u64) -> Result<Value, ApiError> {
        let channel = self
            .world
            .state
            .lock()
            .channels
            .remove(&id)
            .ok_or_else(|| ApiError::unknown("Channel"))?;
        let json = channel_json(&channel);
        self.gateway
            .dispatch(channel.guild_id, "CHANNEL_DELETE", json.clone());
        Ok(json)
    }

    /// Create a role; dispatches GUILD_ROLE_CREATE.
    pub fn create_role(&self, guild: u64, name: &str, permissions: u64) -> Result<Value, ApiError> {
        let role = SimRole {
            id: self.world.next_id(),
            name: name.into(),
            permissions,
            position: 1,
        };
        let json = role_json(&role);
        self.world
            .state
            .lock()
            .guilds
            .get_mut(&guild)
            .ok_or_else(|| ApiError::unknown("Guild"))?
            .roles
            .push(role);
        self.gateway.dispatch(
            Some(guild),
            "GUILD_ROLE_CREATE",
            json!({"guild_id": guild.to_string(), "role": json}),
        );
        Ok(json)
    }

    /// Send an interaction to the bot; dispatches INTERACTION_CREATE and
    /// returns its id.
    #[allow(clippy::too_many_arguments)]
    pub fn send_interaction(
        &self,
        kind: u8,
        guild: Option<u64>,
        channel: u64,
        user: u64,
        data: Value,
        message: Option<u64>,
    ) -> Result<u64, ApiError> {
        let id = self.world.next_id();
        let token = format!("sim-interaction-token-{id}");
        let payload = {
            let mut state = self.world.state.lock();
            let channel_value = state
                .channels
                .get(&channel)
                .map(channel_json)
                .ok_or_else(|| ApiError::unknown("Channel"))?;
            let user_value = state
                .users
                .get(&user)
                .cloned()
                .ok_or_else(|| ApiError::unknown("User"))?;
            let mut payload = json!({
                "id": id.to_string(), "application_id": BOT_ID.to_string(), "type": kind,
                "data": data, "channel_id": channel.to_string(), "channel": channel_value,
                "token": token, "version": 1, "locale": "en-US", "entitlements": [],
                "attachment_size_limit": 10_485_760u64, "app_permissions": "2248473465835073",
                "authorizing_integration_owners": {"0": guild.unwrap_or(0).to_string()},
                "context": if guild.is_some() { 0 } else { 1 },
            });
            match guild {
                Some(guild) => {
                    let mut member = member_of(&state, guild, user)
                        .ok_or_else(|| ApiError::unknown("Member"))?;
                    member["permissions"] = json!(permissions_of(&state, guild, user).to_string());
                    payload["guild_id"] = json!(guild.to_string());
                    payload["guild_locale"] = json!("en-US");
                    payload["member"] = member;
                }
                None => payload["user"] = user_json(&user_value),
            }
            if let Some(message) = message {
                let found = state
                    .messages
                    .get(&message)
                    .ok_or_else(|| ApiError::unknown("Message"))?;
                payload["message"] = message_json(&state, found);
            }
            state.tokens.insert(token.clone(), id);
            state.interactions.insert(
                id,
                SimInteraction {
                    id,
                    token,
                    kind,
                    guild_id: guild,
                    channel_id: channel,
                    user_id: user,
                    sent: std::time::Instant::now(),
                    responses: Vec::new(),
                    original_message: None,
                    source_message: message,
                    claimed: false,
                },
            );
            payload
        };
        self.gateway.dispatch(guild, "INTERACTION_CREATE", payload);
        Ok(id)
    }
}

/// A member object of `user` in `guild`, if a member.
pub fn member_of(state: &State, guild: u64, user: u64) -> Option<Value> {
    let member = state.guilds.get(&guild)?.members.get(&user)?;
    Some(member_json(state.users.get(&user)?, member))
}

/// A member's permission bits in a guild (owner and Administrator: all).
pub fn permissions_of(state: &State, guild: u64, user: u64) -> u64 {
    let Some(found) = state.guilds.get(&guild) else {
        return 0;
    };
    if found.owner_id == user {
        return u64::MAX >> 13;
    }
    let roles = found
        .members
        .get(&user)
        .map(|m| m.roles.clone())
        .unwrap_or_default();
    let bits = found
        .roles
        .iter()
        .filter(|r| r.id == guild || roles.contains(&r.id))
        .fold(0, |bits, r| bits | r.permissions);
    if bits & crate::world::ADMINISTRATOR != 0 {
        u64::MAX >> 13
    } else {
        bits
    }
}

/// Discord's audit-log action type of a single message's deletion.
pub const MESSAGE_DELETE: u16 = 72;

fn now_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// An audit-log entry as Discord shows it (without the simulator's own
/// bookkeeping).
pub fn public_entry(entry: &Value) -> Value {
    let mut entry = entry.clone();
    if let Some(fields) = entry.as_object_mut() {
        fields.remove("folded_since");
    }
    entry
}
