//! The shapes the HTTP API answers with, shared by the host (which
//! serialises them, and derives their OpenAPI schemas with the `openapi`
//! feature) and the dashboard (which reads them), so the two cannot drift.
//! Ids are strings: Discord's snowflakes do not fit a JavaScript number.

use serde::{Deserialize, Serialize};

pub mod llm;
pub mod operators;
pub mod pages;

/// What a user may do in a guild, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    /// Read settings, cogs, the settings audit, who has access.
    Viewer,
    /// Also change settings and turn cogs on and off.
    Editor,
    /// Also manage who has access.
    Admin,
}

impl Tier {
    /// Its name (`viewer`, `editor`, `admin`).
    pub fn name(self) -> &'static str {
        match self {
            Tier::Viewer => "viewer",
            Tier::Editor => "editor",
            Tier::Admin => "admin",
        }
    }

    /// From its name.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "viewer" => Some(Tier::Viewer),
            "editor" => Some(Tier::Editor),
            "admin" => Some(Tier::Admin),
            _ => None,
        }
    }
}

/// The signed-in user (`GET /api/v1/auth/me`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Me {
    /// Discord user id.
    pub user_id: String,
    /// Username.
    pub username: String,
    /// On the bot's developer team.
    pub developer: bool,
    /// Guilds Discord says they may manage (ids).
    pub manages: Vec<String>,
    /// When the session ends at the latest, ms since the epoch (absent for
    /// API tokens).
    pub expires_at_ms: Option<i64>,
}

/// A guild the caller may see (`GET /api/v1/guilds`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GuildView {
    /// Guild id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// The caller's tier there.
    pub tier: Tier,
    /// The bot is in it.
    pub bot_present: bool,
    /// Where to add the bot, when it is not there.
    pub invite_url: Option<String>,
}

/// A loaded cog as a guild sees it (`GET /api/v1/guilds/{id}/cogs`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GuildCogView {
    /// Cog name.
    pub name: String,
    /// Version serving.
    pub version: String,
    /// One line about it.
    pub description: String,
    /// Its slash commands.
    pub commands: Vec<String>,
    /// Whether it runs in this guild.
    pub enabled: bool,
    /// It has settings (a form at `…/cogs/{cog}/settings`).
    #[serde(default)]
    pub settings: bool,
}

/// Turn a cog on or off in a guild (`PUT …/cogs/{cog}/enabled`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Switch {
    /// Run the cog in this guild or not.
    pub enabled: bool,
}

/// Someone with access to a guild (`GET …/authorized-users`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuthorizedView {
    /// Discord user id.
    pub user_id: String,
    /// Their username, when known (signed in here, or seen by the bot).
    #[serde(default)]
    pub username: Option<String>,
    /// Their tier.
    pub tier: Tier,
    /// The guild's owner on Discord (their access follows ownership).
    pub owner: bool,
    /// Who granted it.
    pub granted_by: Option<String>,
}

/// A grant (`POST …/authorized-users`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GrantRequest {
    /// Discord user id.
    pub user_id: String,
    /// `viewer`, `editor` or `admin`.
    pub tier: Tier,
}

/// One change of access (`GET …/authorized-users/history`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AccessChangeView {
    /// Who made it; absent when Discord did (an ownership transfer).
    pub actor_id: Option<String>,
    /// Whose access changed.
    pub user_id: String,
    /// The actor's username, when known.
    #[serde(default)]
    pub actor_name: Option<String>,
    /// The username of whose access changed, when known.
    #[serde(default)]
    pub user_name: Option<String>,
    /// Role before (`owner`, `admin`, `editor`, `viewer`; absent: none).
    pub before: Option<String>,
    /// Role after (absent: removed).
    pub after: Option<String>,
    /// When, ms since the epoch.
    pub at_ms: i64,
}

/// A member of a guild as the bot sees it (`GET …/members?query=`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MemberView {
    /// Discord user id.
    pub user_id: String,
    /// Username.
    pub username: String,
    /// Display name.
    pub global_name: Option<String>,
    /// Nickname in this guild.
    pub nick: Option<String>,
}

/// A channel of a guild as the bot sees it (`GET …/channels`), for the
/// settings forms' channel pickers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChannelView {
    /// Channel id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Discord's channel type (0 text, 2 voice, 4 category, 5 announcement, 15 forum, …).
    pub kind: u8,
    /// The category it sits in.
    pub parent_id: Option<String>,
    /// Its position in the list.
    pub position: i32,
}

/// A role of a guild as the bot sees it (`GET …/roles`), for the role pickers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RoleView {
    /// Role id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its colour (RGB).
    pub color: u32,
    /// Its position (higher is above).
    pub position: i64,
    /// Managed by an integration (cannot be given by hand).
    pub managed: bool,
}

/// A field that failed validation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FieldError {
    /// JSON pointer to the field (`/max_count`), empty for the whole document.
    pub path: String,
    /// What is wrong with it.
    pub message: String,
}

/// An error answer of the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// A short code (`unauthorized`, `forbidden`, `invalid`, …).
    pub error: String,
    /// What went wrong, in words for a person.
    pub message: String,
    /// For `invalid` (422): what is wrong, field by field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<Vec<FieldError>>,
}

/// A cog's settings in a guild (`GET/PUT …/cogs/{cog}/settings`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SettingsView {
    /// The settings, defaults filled in.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub value: serde_json::Value,
    /// The cog's JSON Schema, for forms.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub schema: serde_json::Value,
}

/// One change of a cog's settings in a guild (`GET …/settings/audit`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SettingsChange {
    /// Who saved it (absent for the host itself).
    pub actor_id: Option<u64>,
    /// The settings before (absent for the first save).
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub before: Option<serde_json::Value>,
    /// The settings after.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub after: serde_json::Value,
    /// When, RFC 3339 / ISO 8601 as the database wrote it.
    pub at: String,
}
