//! The simulated world: the bot, its application, a demo guild with
//! channels, roles and users, and the JSON Discord would send for them.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};

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

/// A simulated guild.
#[derive(Debug, Clone)]
pub struct SimGuild {
    /// Id.
    pub id: u64,
    /// Name.
    pub name: String,
    /// Owner.
    pub owner_id: u64,
    /// Text channels: (id, name).
    pub channels: Vec<(u64, String)>,
    /// Roles: (id, name, permissions).
    pub roles: Vec<(u64, String, u64)>,
    /// Member user ids.
    pub members: Vec<u64>,
}

/// Everything the simulator knows.
pub struct World {
    /// Where the simulator listens.
    pub addr: SocketAddr,
    users: Mutex<Vec<SimUser>>,
    guilds: Mutex<Vec<SimGuild>>,
    next_id: AtomicU64,
}

impl World {
    /// The seeded demo world.
    pub fn demo(addr: SocketAddr) -> Self {
        let users = vec![
            SimUser {
                id: BOT_ID,
                username: "baseline".into(),
                bot: true,
            },
            SimUser {
                id: DEMO_OWNER,
                username: "ada".into(),
                bot: false,
            },
            SimUser {
                id: DEMO_OWNER + 1,
                username: "grace".into(),
                bot: false,
            },
            SimUser {
                id: DEMO_OWNER + 2,
                username: "linus".into(),
                bot: false,
            },
        ];
        let guild = SimGuild {
            id: DEMO_GUILD,
            name: "Baseline Demo".into(),
            owner_id: DEMO_OWNER,
            channels: vec![
                (DEMO_CHANNEL, "general".into()),
                (DEMO_CHANNEL + 1, "dice".into()),
            ],
            roles: vec![
                (
                    DEMO_GUILD,
                    "@everyone".into(),
                    0x0000_0000_0004_0000 | 0x800,
                ),
                (DEMO_GUILD + 1, "Admin".into(), 0x8),
            ],
            members: users.iter().map(|u| u.id).collect(),
        };
        Self {
            addr,
            users: Mutex::new(users),
            guilds: Mutex::new(vec![guild]),
            next_id: AtomicU64::new(9_000_000_000_000_000_000),
        }
    }

    /// A fresh snowflake.
    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// The bot's user object.
    pub fn bot_user(&self) -> Value {
        json!({"id": BOT_ID.to_string(), "username": "baseline", "discriminator": "0", "global_name": null, "avatar": null, "bot": true})
    }

    /// Guild ids on `shard` of `total` (Discord's `(guild_id >> 22) % total`).
    pub fn guilds_on_shard(&self, shard: u64, total: u64) -> Vec<u64> {
        self.guilds
            .lock()
            .iter()
            .map(|g| g.id)
            .filter(|id| (id >> 22) % total.max(1) == shard)
            .collect()
    }

    fn user_json(user: &SimUser) -> Value {
        json!({"id": user.id.to_string(), "username": user.username, "discriminator": "0", "global_name": null, "avatar": null, "bot": user.bot})
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
        let guilds = self.guilds.lock();
        let guild = guilds.iter().find(|g| g.id == guild_id)?;
        let users = self.users.lock();
        let roles: Vec<Value> = guild
            .roles
            .iter()
            .enumerate()
            .map(|(position, (id, name, permissions))| {
                json!({"id": id.to_string(), "name": name, "color": 0, "colors": {"primary_color": 0, "secondary_color": null, "tertiary_color": null},
                       "hoist": false, "icon": null, "unicode_emoji": null, "position": position, "permissions": permissions.to_string(),
                       "managed": false, "mentionable": false, "flags": 0})
            })
            .collect();
        let members: Vec<Value> = guild
            .members
            .iter()
            .filter_map(|id| users.iter().find(|u| u.id == *id))
            .map(|user| json!({"user": Self::user_json(user), "roles": [], "joined_at": "2024-01-01T00:00:00.000000+00:00", "deaf": false, "mute": false, "flags": 0}))
            .collect();
        let channels: Vec<Value> = guild
            .channels
            .iter()
            .enumerate()
            .map(|(position, (id, name))| json!({"id": id.to_string(), "type": 0, "name": name, "position": position, "guild_id": guild.id.to_string(), "permission_overwrites": [], "nsfw": false}))
            .collect();
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
}
