//! The simulated world: users, guilds with channels, roles and members,
//! messages, registered application commands and interactions in flight —
//! and the JSON Discord would send for each of them.
//!
//! All state sits behind one lock ([`World::state`]); nothing here awaits
//! while holding it.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use parking_lot::Mutex;
use serde_json::{Value, json};

/// The bot user's id (also the application id).
pub const BOT_ID: u64 = 1_000_000_000_000_000_001;
/// The demo guild.
pub const DEMO_GUILD: u64 = 2_000_000_000_000_000_002;
/// The demo guild's #general.
pub const DEMO_CHANNEL: u64 = 3_000_000_000_000_000_003;
/// The demo guild's owner.
pub const DEMO_OWNER: u64 = 4_000_000_000_000_000_004;

/// Discord's ADMINISTRATOR permission bit.
pub const ADMINISTRATOR: u64 = 0x8;
/// What the bot's role in the demo guild allows: kick, ban, view audit
/// log, manage messages, manage roles, moderate members.
pub const BOT_PERMISSIONS: u64 = 0x2 | 0x4 | 0x80 | 0x2000 | 0x1000_0000 | 0x100_0000_0000;

/// Discord's View Audit Log permission: without it (or Administrator), the
/// bot is not sent GUILD_AUDIT_LOG_ENTRY_CREATE.
pub const VIEW_AUDIT_LOG: u64 = 0x80;

/// What @everyone may do in the demo guild: view channels, send messages,
/// read history, use application commands, add reactions.
pub const EVERYONE_PERMISSIONS: u64 = 0x400 | 0x800 | 0x1_0000 | 0x8000_0000 | 0x40;

/// A simulated user.
#[derive(Debug, Clone)]
pub struct SimUser {
    /// Id.
    pub id: u64,
    /// Username.
    pub username: String,
    /// A bot account.
    pub bot: bool,
}

/// A channel (guild channel, thread or DM).
#[derive(Debug, Clone)]
pub struct SimChannel {
    /// Id.
    pub id: u64,
    /// Its guild; `None` for a DM.
    pub guild_id: Option<u64>,
    /// Name.
    pub name: String,
    /// Discord channel type (0 text, 1 DM, 11 public thread, ...).
    pub kind: u8,
    /// Category or, for a thread, the parent channel.
    pub parent_id: Option<u64>,
    /// Topic.
    pub topic: Option<String>,
    /// Position.
    pub position: i64,
    /// The other user of a DM.
    pub recipient: Option<u64>,
}

/// A role.
#[derive(Debug, Clone)]
pub struct SimRole {
    /// Id.
    pub id: u64,
    /// Name.
    pub name: String,
    /// Permission bits.
    pub permissions: u64,
    /// Position.
    pub position: i64,
}

/// A user's membership of a guild.
#[derive(Debug, Clone, Default)]
pub struct SimMember {
    /// Roles (not counting @everyone).
    pub roles: Vec<u64>,
    /// Nickname.
    pub nick: Option<String>,
    /// Timed out until, RFC 3339.
    pub timeout_until: Option<String>,
}

/// A guild.
#[derive(Debug, Clone)]
pub struct SimGuild {
    /// Id.
    pub id: u64,
    /// Name.
    pub name: String,
    /// Owner.
    pub owner_id: u64,
    /// Roles; the first is @everyone (its id is the guild's).
    pub roles: Vec<SimRole>,
    /// Members by user id.
    pub members: BTreeMap<u64, SimMember>,
    /// Banned user ids.
    pub bans: Vec<u64>,
    /// Whether the bot is in the guild.
    pub bot_present: bool,
}

/// A message.
#[derive(Debug, Clone)]
pub struct SimMessage {
    /// Id.
    pub id: u64,
    /// Channel.
    pub channel_id: u64,
    /// Author.
    pub author_id: u64,
    /// The message body as sent (content, embeds, components, flags, ...).
    pub body: Value,
    /// When it was sent.
    pub timestamp: String,
    /// When it was last edited.
    pub edited: Option<String>,
    /// Message type (0 default, 20 a command's response, 19 a reply).
    pub kind: u8,
    /// The interaction it answers, if any.
    pub interaction_id: Option<u64>,
    /// Reactions: (emoji, user id).
    pub reactions: Vec<(String, u64)>,
}

/// One thing the bot did in answer to an interaction.
#[derive(Debug, Clone, serde::Serialize)]
pub struct InteractionResponse {
    /// `callback`, `edit-original`, `delete-original` or `follow-up`.
    pub kind: &'static str,
    /// The callback type (4 reply, 5 deferred, 6 deferred update, 7 update,
    /// 8 autocomplete result, 9 modal), for callbacks.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub callback_type: Option<u8>,
    /// The body sent.
    pub data: Value,
    /// The message it created or changed, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// Milliseconds since the interaction was sent.
    pub after_ms: u64,
    /// Microseconds since the interaction was sent.
    pub after_us: u64,
}

/// An interaction sent to the bot and what it answered.
#[derive(Debug, Clone)]
pub struct SimInteraction {
    /// Id.
    pub id: u64,
    /// Token (for the callback and webhooks).
    pub token: String,
    /// Discord interaction type (2 command, 3 component, 4 autocomplete, 5 modal).
    pub kind: u8,
    /// Guild.
    pub guild_id: Option<u64>,
    /// Channel.
    pub channel_id: u64,
    /// The acting user.
    pub user_id: u64,
    /// When it was sent.
    pub sent: std::time::Instant,
    /// What the bot answered, in order.
    pub responses: Vec<InteractionResponse>,
    /// The message of the original response, once there is one.
    pub original_message: Option<u64>,
    /// For a component interaction: the message the component sits on.
    pub source_message: Option<u64>,
    /// A callback is being processed (so a second one is refused at once).
    pub claimed: bool,
}

impl SimInteraction {
    /// The callback type, if the bot has called back.
    pub fn callback(&self) -> Option<u8> {
        self.responses
            .iter()
            .find(|r| r.kind == "callback")
            .and_then(|r| r.callback_type)
    }

    /// Whether the bot has answered completely: a final callback; a
    /// deferred response whose original was then edited or filled by a
    /// follow-up; a deferred update followed by an edit or a follow-up.
    pub fn answered(&self) -> bool {
        match self.callback() {
            None => false,
            Some(5) => self
                .responses
                .iter()
                .any(|r| r.kind == "edit-original" || r.kind == "follow-up"),
            Some(6) => self.responses.iter().any(|r| r.kind != "callback"),
            Some(_) => true,
        }
    }
}

/// Commands the bot registered.
#[derive(Debug, Clone, Default)]
pub struct Registrations {
    /// Global commands.
    pub global: Vec<Value>,
    /// Per-guild commands.
    pub guilds: HashMap<u64, Vec<Value>>,
    /// How many bulk overwrites the bot made.
    pub overwrites: u64,
}

/// A REST request the bot made.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RequestRecord {
    /// Method.
    pub method: String,
    /// Path (no query).
    pub path: String,
    /// Status answered.
    pub status: u16,
}

/// The mutable part of the world.
#[derive(Debug, Default)]
pub struct State {
    /// Users by id.
    pub users: BTreeMap<u64, SimUser>,
    /// Guilds by id.
    pub guilds: BTreeMap<u64, SimGuild>,
    /// Channels by id (guild channels, threads and DMs).
    pub channels: BTreeMap<u64, SimChannel>,
    /// Messages by id (deleted ones are removed).
    pub messages: BTreeMap<u64, SimMessage>,
    /// Registered application commands.
    pub commands: Registrations,
    /// Interactions by id.
    pub interactions: HashMap<u64, SimInteraction>,
    /// Interaction tokens → interaction ids.
    pub tokens: HashMap<String, u64>,
    /// OAuth2 authorization codes not yet exchanged.
    pub oauth_codes: HashMap<String, PendingCode>,
    /// OAuth2 access tokens.
    pub oauth_tokens: HashMap<String, Grant>,
    /// OAuth2 refresh tokens → user ids.
    pub oauth_refresh: HashMap<String, u64>,
    /// The last REST requests the bot made (at most [`REQUEST_LOG`]).
    pub requests: VecDeque<RequestRecord>,
    /// Files users attached to commands, by attachment id (the last
    /// [`FILES_KEPT`]), served under `/cdn/attachments/{id}/{filename}`.
    pub files: VecDeque<(u64, SimFile)>,
    /// Each guild's audit log, newest first (at most [`AUDIT_KEPT`] entries).
    pub audit_log: BTreeMap<u64, VecDeque<Value>>,
}

/// How many audit-log entries a guild keeps.
pub const AUDIT_KEPT: usize = 1_000;

/// How long Discord folds a moderator's repeated message deletions of one
/// author in one channel into one entry (its count grows; no new entry is
/// announced).
pub const AUDIT_FOLD: std::time::Duration = std::time::Duration::from_secs(300);

/// How many attached files are kept.
pub const FILES_KEPT: usize = 64;

/// A file a user attached.
#[derive(Debug, Clone)]
pub struct SimFile {
    /// Its name.
    pub filename: String,
    /// Its media type.
    pub content_type: String,
    /// Its bytes.
    pub data: Vec<u8>,
}

/// How many REST requests are remembered.
pub const REQUEST_LOG: usize = 10_000;

/// Everything the simulator knows.
pub struct World {
    /// Where the simulator listens.
    pub addr: SocketAddr,
    /// The state.
    pub state: Mutex<State>,
    next_id: AtomicU64,
    /// Bumped whenever an interaction is answered, so waiters can look again.
    pub changed: tokio::sync::watch::Sender<u64>,
}

/// Now, as Discord writes timestamps.
pub fn now() -> String {
    humantime::format_rfc3339_micros(SystemTime::now()).to_string()
}

impl World {
    /// The seeded demo world: the bot, ada (owner of the demo guild), grace
    /// and linus; the guild "Baseline Demo" with #general and #dice,
    /// @everyone, Admin (ada has it) and Baseline (the bot's).
    pub fn demo(addr: SocketAddr) -> Self {
        let mut state = State::default();
        for (id, name, bot) in [
            (BOT_ID, "baseline", true),
            (DEMO_OWNER, "ada", false),
            (DEMO_OWNER + 1, "grace", false),
            (DEMO_OWNER + 2, "linus", false),
        ] {
            state.users.insert(
                id,
                SimUser {
                    id,
                    username: name.into(),
                    bot,
                },
            );
        }
        let mut members: BTreeMap<u64, SimMember> = state
            .users
            .keys()
            .map(|id| (*id, SimMember::default()))
            .collect();
        members.get_mut(&DEMO_OWNER).unwrap().roles = vec![DEMO_GUILD + 1];
        members.get_mut(&BOT_ID).unwrap().roles = vec![DEMO_GUILD + 2];
        state.guilds.insert(
            DEMO_GUILD,
            SimGuild {
                id: DEMO_GUILD,
                name: "Baseline Demo".into(),
                owner_id: DEMO_OWNER,
                roles: vec![
                    SimRole {
                        id: DEMO_GUILD,
                        name: "@everyone".into(),
                        permissions: EVERYONE_PERMISSIONS,
                        position: 0,
                    },
                    SimRole {
                        id: DEMO_GUILD + 1,
                        name: "Admin".into(),
                        permissions: ADMINISTRATOR,
                        position: 2,
                    },
                    // What the bot was invited with: moderation and the
                    // audit log (so its entries reach it).
                    SimRole {
                        id: DEMO_GUILD + 2,
                        name: "Baseline".into(),
                        permissions: BOT_PERMISSIONS,
                        position: 1,
                    },
                ],
                members,
                bans: Vec::new(),
                bot_present: true,
            },
        );
        for (offset, name) in ["general", "dice"].into_iter().enumerate() {
            let id = DEMO_CHANNEL + offset as u64;
            state.channels.insert(
                id,
                SimChannel {
                    id,
                    guild_id: Some(DEMO_GUILD),
                    name: name.into(),
                    kind: 0,
                    parent_id: None,
                    topic: None,
                    position: offset as i64,
                    recipient: None,
                },
            );
        }
        Self {
            addr,
            state: Mutex::new(state),
            next_id: AtomicU64::new(9_000_000_000_000_000_000),
            changed: tokio::sync::watch::channel(0).0,
        }
    }

    /// A fresh snowflake.
    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Tell waiters that an interaction changed.
    pub fn notify(&self) {
        self.changed.send_modify(|n| *n += 1);
    }

    /// The bot's user object.
    pub fn bot_user(&self) -> Value {
        let mut user = user_json(&SimUser {
            id: BOT_ID,
            username: "baseline".into(),
            bot: true,
        });
        // The current user's own fields, as READY and `GET /users/@me` carry them.
        for (key, value) in [
            ("mfa_enabled", json!(false)),
            ("verified", json!(true)),
            ("email", Value::Null),
            ("flags", json!(0)),
            ("public_flags", json!(0)),
            ("banner", Value::Null),
            ("accent_color", Value::Null),
            ("locale", json!("en-US")),
        ] {
            user[key] = value;
        }
        user
    }

    /// Guild ids on `shard` of `total` (Discord's `(guild_id >> 22) % total`),
    /// among the guilds the bot is in.
    pub fn guilds_on_shard(&self, shard: u64, total: u64) -> Vec<u64> {
        self.state
            .lock()
            .guilds
            .values()
            .filter(|g| g.bot_present && shard_of(g.id, total) == shard)
            .map(|g| g.id)
            .collect()
    }

    /// The READY dispatch payload for one shard.
    pub fn ready(&self, session_id: &str, shard: [u64; 2]) -> Value {
        let guilds: Vec<Value> = self
            .guilds_on_shard(shard[0], shard[1])
            .into_iter()
            .map(|id| json!({"id": id.to_string(), "unavailable": true}))
            .collect();
        json!({
            "v": 10,
            "user": self.bot_user(),
            "guilds": guilds,
            "session_id": session_id,
            "resume_gateway_url": format!("ws://{}", self.addr),
            "shard": shard,
            "application": {"id": BOT_ID.to_string(), "flags": 0},
        })
    }

    /// The complete GUILD_CREATE payload of a guild.
    pub fn guild_create(&self, guild_id: u64) -> Option<Value> {
        let state = self.state.lock();
        let guild = state.guilds.get(&guild_id)?;
        let members: Vec<Value> = guild
            .members
            .iter()
            .filter_map(|(id, member)| Some(member_json(state.users.get(id)?, member)))
            .collect();
        let channels: Vec<Value> = state
            .channels
            .values()
            .filter(|c| c.guild_id == Some(guild_id) && !is_thread(c.kind))
            .map(channel_json)
            .collect();
        let roles: Vec<Value> = guild.roles.iter().map(role_json).collect();
        Some(json!({
            "id": guild.id.to_string(), "name": guild.name, "icon": null, "owner_id": guild.owner_id.to_string(),
            "verification_level": 0, "default_message_notifications": 0, "explicit_content_filter": 0,
            "roles": roles, "emojis": [], "features": [], "mfa_level": 0, "system_channel_flags": 0,
            "premium_tier": 0, "preferred_locale": "en-US", "nsfw_level": 0, "stickers": [],
            "premium_progress_bar_enabled": false, "joined_at": "2024-01-01T00:00:00.000000+00:00",
            "large": false, "member_count": members.len(), "voice_states": [], "members": members,
            "channels": channels, "threads": [], "presences": [], "stage_instances": [],
            "guild_scheduled_events": [], "afk_timeout": 300, "application_id": null,
        }))
    }

    /// The guild object (GET /guilds/{id}, GUILD_UPDATE): GUILD_CREATE's
    /// payload without the extras only GUILD_CREATE carries.
    pub fn guild_object(&self, guild_id: u64) -> Option<Value> {
        let mut value = self.guild_create(guild_id)?;
        if let Some(fields) = value.as_object_mut() {
            for extra in [
                "members",
                "channels",
                "threads",
                "presences",
                "voice_states",
                "joined_at",
                "large",
                "member_count",
                "stage_instances",
                "guild_scheduled_events",
            ] {
                fields.remove(extra);
            }
        }
        Some(value)
    }

    /// A user's JSON, if the user exists.
    pub fn user(&self, id: u64) -> Option<Value> {
        self.state.lock().users.get(&id).map(user_json)
    }
}

/// The shard a guild belongs to.
pub fn shard_of(guild_id: u64, total: u64) -> u64 {
    (guild_id >> 22) % total.max(1)
}

/// Thread channel types.
pub fn is_thread(kind: u8) -> bool {
    matches!(kind, 10..=12)
}

/// A user object.
pub fn user_json(user: &SimUser) -> Value {
    json!({"id": user.id.to_string(), "username": user.username, "discriminator": "0",
           "global_name": null, "avatar": null, "bot": user.bot})
}

/// A guild member object.
pub fn member_json(user: &SimUser, member: &SimMember) -> Value {
    json!({"user": user_json(user), "nick": member.nick,
           "roles": member.roles.iter().map(u64::to_string).collect::<Vec<_>>(),
           "joined_at": "2024-01-01T00:00:00.000000+00:00", "deaf": false, "mute": false, "flags": 0,
           "pending": false, "communication_disabled_until": member.timeout_until})
}

/// A role object.
pub fn role_json(role: &SimRole) -> Value {
    json!({"id": role.id.to_string(), "name": role.name, "color": 0,
           "colors": {"primary_color": 0, "secondary_color": null, "tertiary_color": null},
           "hoist": false, "icon": null, "unicode_emoji": null, "position": role.position,
           "permissions": role.permissions.to_string(), "managed": false, "mentionable": false, "flags": 0})
}

/// A channel object.
pub fn channel_json(channel: &SimChannel) -> Value {
    let mut value = json!({"id": channel.id.to_string(), "type": channel.kind, "name": channel.name,
        "position": channel.position, "permission_overwrites": [], "nsfw": false,
        "topic": channel.topic, "parent_id": channel.parent_id.map(|p| p.to_string())});
    if let Some(guild) = channel.guild_id {
        value["guild_id"] = json!(guild.to_string());
    }
    if let Some(recipient) = channel.recipient {
        value["recipients"] =
            json!([{"id": recipient.to_string(), "username": "user", "discriminator": "0"}]);
    }
    if is_thread(channel.kind) {
        value["thread_metadata"] = json!({"archived": false, "auto_archive_duration": 1440,
            "archive_timestamp": now(), "locked": false});
        value["owner_id"] = json!(BOT_ID.to_string());
    }
    value
}

/// Embeds as Discord returns them: each with its `type` (`rich` for the
/// embeds bots send).
fn embeds_json(sent: Option<&Value>) -> Value {
    let mut embeds = sent.cloned().unwrap_or(json!([]));
    if let Some(list) = embeds.as_array_mut() {
        for embed in list.iter_mut().filter(|e| e.is_object()) {
            if embed.get("type").is_none() {
                embed["type"] = json!("rich");
            }
        }
    }
    embeds
}

/// A message object, as REST answers and MESSAGE_CREATE carries it.
pub fn message_json(state: &State, message: &SimMessage) -> Value {
    let author = state
        .users
        .get(&message.author_id)
        .map(user_json)
        .unwrap_or_else(|| json!({"id": message.author_id.to_string(), "username": "unknown", "discriminator": "0"}));
    let guild_id = state
        .channels
        .get(&message.channel_id)
        .and_then(|c| c.guild_id);
    let body = &message.body;
    let mut reactions: Vec<Value> = Vec::new();
    for (emoji, _) in &message.reactions {
        if reactions.iter().any(|r| r["emoji"]["name"] == json!(emoji)) {
            continue;
        }
        let count = message.reactions.iter().filter(|(e, _)| e == emoji).count();
        let me = message
            .reactions
            .iter()
            .any(|(e, u)| e == emoji && *u == BOT_ID);
        reactions.push(
            json!({"count": count, "count_details": {"burst": 0, "normal": count}, "me": me,
            "me_burst": false, "burst_colors": [], "emoji": {"id": null, "name": emoji}}),
        );
    }
    let mut value = json!({
        "id": message.id.to_string(), "channel_id": message.channel_id.to_string(),
        "author": author, "content": body.get("content").and_then(Value::as_str).unwrap_or(""),
        "timestamp": message.timestamp, "edited_timestamp": message.edited,
        "tts": body.get("tts").and_then(Value::as_bool).unwrap_or(false),
        "mention_everyone": false, "mentions": [], "mention_roles": [],
        "attachments": body.get("attachments").cloned().unwrap_or(json!([])),
        "embeds": embeds_json(body.get("embeds")),
        "components": body.get("components").cloned().unwrap_or(json!([])),
        "reactions": reactions, "pinned": false, "type": message.kind,
        "flags": body.get("flags").and_then(Value::as_u64).unwrap_or(0),
    });
    if let Some(guild) = guild_id {
        value["guild_id"] = json!(guild.to_string());
    }
    if message.interaction_id.is_some() {
        value["webhook_id"] = json!(BOT_ID.to_string());
        value["application_id"] = json!(BOT_ID.to_string());
    }
    value
}

/// An authorization code waiting to be exchanged.
#[derive(Debug, Clone)]
pub struct PendingCode {
    /// Who approved.
    pub user: u64,
    /// The redirect URI it was issued for.
    pub redirect_uri: String,
    /// The PKCE challenge (S256), when the request had one.
    pub challenge: Option<String>,
    /// When it stops being accepted.
    pub expires: std::time::Instant,
}

/// An access token.
#[derive(Debug, Clone, Copy)]
pub struct Grant {
    /// Whose it is.
    pub user: u64,
    /// When it stops being accepted.
    pub expires: std::time::Instant,
}
