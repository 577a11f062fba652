//! What the bot's developer team reads about the bot itself: cogs (state,
//! errors, counters, capabilities with the cog's reasons) and shards
//! (state, latency history, transitions).

use serde::{Deserialize, Serialize};

/// A cog file as operators see it (`GET /api/v1/cogs`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CogStatus {
    /// Cog name (absent for a file that never loaded).
    pub name: Option<String>,
    /// Version serving.
    pub version: Option<String>,
    /// `loaded`, `failed` (nothing serving) or `loaded-with-error` (an older
    /// version serves, the newer file failed).
    pub state: String,
    /// The file.
    pub file: String,
    /// The last load error of this file.
    pub last_error: Option<String>,
    /// Slash commands.
    pub commands: Vec<String>,
    /// Capabilities granted.
    pub granted: Vec<String>,
    /// Capabilities asked for but withheld.
    pub withheld: Vec<String>,
    /// Every capability the cog asks for, with its reason and whether the
    /// operator granted it.
    #[serde(default)]
    pub capabilities: Vec<CapabilityStatus>,
    /// Invocation counters and latency.
    pub metrics: Option<CogCounters>,
    /// Its pages, and the state of its UI module (`none`, `served`,
    /// `refused: why`).
    #[serde(default)]
    pub ui_module: Option<String>,
    /// The version of the Baseline WIT it was built against (`0.2.0`).
    #[serde(default)]
    pub wit_version: Option<String>,
    /// The name its manifest suggests, when the operator named it otherwise.
    #[serde(default)]
    pub declared_name: Option<String>,
}

/// A capability a cog asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CapabilityStatus {
    /// Its name (`kv`, `discord.members.ban`, …).
    pub name: String,
    /// Why the cog says it needs it (a claim, not a fact).
    pub reason: String,
    /// Granted by the operator's configuration.
    pub granted: bool,
}

/// A cog's invocation counters since the host started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CogCounters {
    /// Invocations started.
    pub invocations: u64,
    /// Answered normally.
    pub ok: u64,
    /// Answered with a cog error.
    pub cog_errors: u64,
    /// Ended by the host, by kind (`timeout`, `memory`, …).
    pub failures: std::collections::BTreeMap<String, u64>,
    /// Median duration (µs).
    pub p50_us: u64,
    /// 90th percentile (µs).
    pub p90_us: u64,
    /// 99th percentile (µs).
    pub p99_us: u64,
    /// Longest (µs).
    pub max_us: u64,
}

/// A latency measurement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LatencySample {
    /// When (Unix ms).
    pub at_ms: i64,
    /// Heartbeat round trip (ms).
    pub latency_ms: f64,
}

/// A change of state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Transition {
    /// When (Unix ms).
    pub at_ms: i64,
    /// The state before.
    pub from: String,
    /// The state after.
    pub to: String,
}

/// One shard as the monitor knows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ShardRecord {
    /// Shard id.
    pub id: u32,
    /// Total shards of the bot.
    pub total: u32,
    /// `connecting`, `connected`, `resuming` or `disconnected`.
    pub state: String,
    /// Last heartbeat round trip (ms), once known.
    pub latency_ms: Option<f64>,
    /// Guilds on the shard.
    pub guilds: u32,
    /// The process that runs it (`host/pid/instance`).
    pub process: String,
    /// When it was last written (Unix ms).
    pub last_seen_ms: i64,
    /// Recent latencies, oldest first.
    pub latency_history: Vec<LatencySample>,
    /// Recent state changes, oldest first.
    pub transitions: Vec<Transition>,
}

/// Every shard of the bot (`GET /api/v1/shards`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ShardsView {
    /// The bot's shard count.
    pub total: u32,
    /// The shards with a live record, by id.
    pub shards: Vec<ShardRecord>,
    /// Shard ids no process has reported within the monitor's time to live.
    pub missing: Vec<u32>,
}

/// The shard that serves a guild (`GET /api/v1/shards/guilds/{guild_id}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GuildShardView {
    /// The guild.
    pub guild_id: String,
    /// Its shard: `(guild_id >> 22) % total`.
    pub shard_id: u32,
    /// The bot's shard count.
    pub total: u32,
    /// That shard's record, when it is live.
    pub shard: Option<ShardRecord>,
}

/// A model's price (`GET /api/v1/llm/models`, `PUT …/pricing`): integer
/// micro-dollars per million tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ModelPrice {
    /// The provider (`openai`, `anthropic`, `gemini`, `xai`).
    #[serde(default)]
    pub provider: String,
    /// The provider's model name.
    #[serde(default)]
    pub model: String,
    /// Input.
    pub input: u64,
    /// Output (reasoning included).
    pub output: u64,
    /// Input read from the prompt cache.
    pub cache_read: u64,
    /// Input written to the cache for five minutes.
    pub cache_write_5m: u64,
    /// Input written to the cache for an hour.
    pub cache_write_1h: u64,
    /// The first day (UTC) it applies (`2026-11-29`); the latest day not
    /// after today is in effect.
    pub effective_from: String,
    /// Per image generated (micro-dollars).
    #[serde(default)]
    pub image: u64,
    /// Per minute of audio transcribed (micro-dollars).
    #[serde(default)]
    pub audio_minute: u64,
    /// The long-context tier: these rates price whole requests with at
    /// least this many input tokens (0: every request).
    #[serde(default)]
    pub min_input_tokens: u64,
    /// Whether a route of this host reaches it.
    #[serde(default)]
    pub routed: bool,
}
