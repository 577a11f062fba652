//! The operator's configuration: `baseline.toml` (path from `--config` or
//! `BASELINE_CONFIG`, else `./baseline.toml` when it exists), then
//! environment overrides. Everything has a default, so no file is needed.
//!
//! ```toml
//! cogs_dir = "cogs"
//! data_dir = ".baseline"
//!
//! [limits]            # defaults for every cog
//! deadline_ms = 2000
//! memory_mib = 64
//!
//! [cogs.reference]    # one cog
//! deadline_ms = 500
//! grant = ["llm"]     # on top of the safe defaults
//! deny = ["discord.messages"]
//! ```
//!
//! Environment: `BASELINE_COGS_DIR`, `BASELINE_DATA_DIR`, `DATABASE_URL`,
//! `REDIS_URL`, `BASELINE_DASHBOARD_ORIGIN`, `BASELINE_PUBLIC_URL`, `BASELINE_OAUTH_SECRET`, `BASELINE_DASHBOARD_DIR`, `BASELINE_API_ADDR`, `BASELINE_HEALTH_ADDR`, `DISCORD_TOKEN`, `BASELINE_DISCORD_URL`, `OPENAI_API_KEY`, `ANTHROPIC_API_KEY`, `GEMINI_API_KEY`, `XAI_API_KEY`, `BASELINE_LLM_SIM_ADDR`,
//! `BASELINE_SIM_ADDR`, and
//! `BASELINE_GRANT_<COG>` / `BASELINE_DENY_<COG>` (comma-separated capability
//! names; `-` in the cog name becomes `_`, e.g. `BASELINE_GRANT_MY_COG=llm`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

/// The whole configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Folder watched for `.wasm` cogs.
    pub cogs_dir: PathBuf,
    /// Folder for the compiled-artifact cache and the embedded SQLite database.
    pub data_dir: PathBuf,
    /// `postgres://…` or `sqlite://…`; absent means SQLite in `data_dir`
    /// (env `DATABASE_URL`).
    pub database_url: Option<String>,
    /// `redis://…`; absent means the in-process cache (env `REDIS_URL`).
    pub redis_url: Option<String>,
    /// Where the HTTP API listens (env `BASELINE_API_ADDR`); port 0 picks a free one.
    pub api_addr: std::net::SocketAddr,
    /// API requests per second per client (signed-in user, else address); 0 turns the limit off.
    pub api_rate_limit: u32,
    /// The one web origin (`https://dash.example.com`) whose pages may call
    /// the API from a browser with the admin's cookie (env
    /// `BASELINE_DASHBOARD_ORIGIN`). None by default: the dashboard served
    /// by the host itself is same-origin and needs none.
    pub dashboard_origin: Option<String>,
    /// The built dashboard (`index.html`, the wasm, CSS) served on the
    /// API's port (env `BASELINE_DASHBOARD_DIR`; `just run` sets it). Absent:
    /// `/` explains how to build it.
    pub dashboard_dir: Option<PathBuf>,
    /// Where the health server (liveness, readiness, Prometheus metrics)
    /// listens (env `BASELINE_HEALTH_ADDR`); port 0 picks a free one.
    pub health_addr: std::net::SocketAddr,
    /// Engine-wide settings.
    pub runtime: RuntimeConfig,
    /// Default limits of every invocation.
    pub limits: LimitsConfig,
    /// Default storage quotas of every cog.
    pub quotas: QuotaConfig,
    /// Per-cog overrides and grants, by cog name.
    pub cogs: BTreeMap<String, CogConfig>,
    /// Owners of slash commands named by the operator (`dice = "reference"`),
    /// over what the store recorded when a cog first loaded with them.
    pub commands: BTreeMap<String, String>,
    /// The Discord connection.
    pub discord: DiscordConfig,
    /// Sign-in with Discord and sessions (the dashboard and the API).
    pub auth: AuthConfig,
    /// The LLM gateway's providers and routes.
    pub llm: LlmConfig,
}

/// The LLM gateway: providers (keys from the environment), which model
/// goes where, and the simulator used when no key is set.
///
/// ```toml
/// [llm]
/// default_model = "gpt-6-luna"
/// [llm.routes]                       # a model → its fallback chain
/// "gpt-6-luna" = ["openai/gpt-6-luna", "anthropic/claude-haiku-5-5"]
/// [llm.base_urls]                    # another endpoint for a provider
/// openai = "https://proxy.example.com/v1"
/// ```
/// Keys: env `OPENAI_API_KEY`, `ANTHROPIC_API_KEY`, `GEMINI_API_KEY`,
/// `XAI_API_KEY` (never in the file). With none set, the embedded LLM
/// simulator serves every provider.
#[derive(Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LlmConfig {
    /// The model a cog gets when it names none.
    pub default_model: String,
    /// The image model a cog gets when it names none.
    pub image_model: String,
    /// The transcription model a cog gets when it names none.
    pub transcription_model: String,
    /// The bot's own cap on LLM spend, micro-dollars a UTC day (every
    /// call, every server, DMs; servers' budgets cannot lift it).
    pub daily_budget_micros: Option<u64>,
    /// The same a UTC month.
    pub monthly_budget_micros: Option<u64>,
    /// Model → `provider/model` routes, tried in order. A model with no
    /// entry is served by the provider whose price table has it.
    pub routes: BTreeMap<String, Vec<String>>,
    /// Provider → base URL, overriding the public one.
    pub base_urls: BTreeMap<String, String>,
    /// Provider → key (from the environment only; never serialized).
    #[serde(skip)]
    pub keys: BTreeMap<String, String>,
    /// Where the embedded LLM simulator listens when no key is set (env
    /// `BASELINE_LLM_SIM_ADDR`).
    pub simulator_addr: std::net::SocketAddr,
    /// Tries per route.
    pub attempts: u32,
    /// Seconds one call may take.
    pub timeout_secs: u64,
}

impl Default for LlmConfig {
    fn default() -> Self {
        Self {
            default_model: "gpt-6-luna".into(),
            image_model: "gpt-image-2".into(),
            transcription_model: "whisper-1".into(),
            daily_budget_micros: None,
            monthly_budget_micros: None,
            routes: BTreeMap::new(),
            base_urls: BTreeMap::new(),
            keys: BTreeMap::new(),
            simulator_addr: std::net::SocketAddr::from(([127, 0, 0, 1], 8091)),
            attempts: 3,
            timeout_secs: 60,
        }
    }
}

impl std::fmt::Debug for LlmConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LlmConfig")
            .field("default_model", &self.default_model)
            .field("image_model", &self.image_model)
            .field("transcription_model", &self.transcription_model)
            .field("daily_budget_micros", &self.daily_budget_micros)
            .field("monthly_budget_micros", &self.monthly_budget_micros)
            .field("routes", &self.routes)
            .field("base_urls", &self.base_urls)
            .field("keys", &self.keys.keys().collect::<Vec<_>>())
            .field("simulator_addr", &self.simulator_addr)
            .finish()
    }
}

/// Most people with access in one guild by default (`[auth]
/// max_grants_per_guild`).
pub const MAX_GRANTS_PER_GUILD: u32 = 100;

/// Sign-in with Discord (OAuth2) and sessions.
///
/// ```toml
/// [auth]
/// public_url = "https://bot.example.com"   # where browsers reach the API
/// client_secret = "…"                       # or env BASELINE_OAUTH_SECRET
/// developers = [123456789012345678]
/// developer_guild = 234567890123456789      # members of this role there
/// developer_role = 345678901234567890       # are on the developer team
/// ```
#[derive(Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// The URL browsers use to reach the API; Discord sends them back to
    /// `{public_url}/api/v1/auth/callback` (register that redirect URI in
    /// the Discord application). Default `http://{api_addr}` (env
    /// `BASELINE_PUBLIC_URL`).
    pub public_url: Option<String>,
    /// The OAuth2 client id; default the bot's application id.
    pub client_id: Option<u64>,
    /// The OAuth2 client secret (env `BASELINE_OAUTH_SECRET`). Without it
    /// (and without the simulator) sign-in is off.
    pub client_secret: Option<String>,
    /// User ids on the bot's developer team (operator routes, read access
    /// to every guild).
    pub developers: Vec<u64>,
    /// A guild whose members with `developer_role` are on the developer team.
    pub developer_guild: Option<u64>,
    /// The role in `developer_guild` that makes a developer.
    pub developer_role: Option<u64>,
    /// A session unused this long ends (minutes).
    pub session_idle_minutes: u64,
    /// A session ends this long after sign-in whatever its use (hours).
    pub session_max_hours: u64,
    /// How often a session re-reads the user's guilds and team membership
    /// from Discord (minutes).
    pub refresh_minutes: u64,
    /// Sign-in attempts (login and callback) per minute per address (an
    /// IPv6 address's /64).
    pub login_per_minute: u32,
    /// Discord REST calls the API may make through the bot per second, for
    /// all users together (names on the access page, member search,
    /// channel and role pickers); the bot's whole budget is Discord's 50/s.
    pub api_discord_per_second: u32,
    /// The same, per signed-in user per minute.
    pub api_discord_per_user_per_minute: u32,
    /// Most people with access (owner included) in one guild.
    pub max_grants_per_guild: u32,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            public_url: None,
            client_id: None,
            client_secret: None,
            developers: Vec::new(),
            developer_guild: None,
            developer_role: None,
            session_idle_minutes: 12 * 60,
            session_max_hours: 7 * 24,
            refresh_minutes: 10,
            login_per_minute: 20,
            api_discord_per_second: 5,
            api_discord_per_user_per_minute: 30,
            max_grants_per_guild: MAX_GRANTS_PER_GUILD,
        }
    }
}

impl std::fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthConfig")
            .field("public_url", &self.public_url)
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "<set>"),
            )
            .field("developers", &self.developers)
            .field("developer_guild", &self.developer_guild)
            .field("developer_role", &self.developer_role)
            .finish_non_exhaustive()
    }
}

/// The Discord connection: the real Discord with a token, else the
/// simulator (in process, or an external one at `url`).
#[derive(Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DiscordConfig {
    /// The bot token (env `DISCORD_TOKEN`). Absent: run against the simulator.
    #[serde(skip_serializing)]
    pub token: Option<String>,
    /// Base URL of a Discord-compatible server (a simulator run with
    /// `baseline sim`), instead of discord.com (env `BASELINE_DISCORD_URL`).
    pub url: Option<String>,
    /// Where the in-process simulator listens when there is no token and no
    /// `url` (env `BASELINE_SIM_ADDR`); port 0 picks a free one.
    pub simulator_addr: std::net::SocketAddr,
    /// Shards this process runs, `A-B` inclusive; absent means all (autosharding).
    pub shards: Option<String>,
    /// Total shards of the bot; needed with `shards`.
    pub total_shards: Option<u64>,
    /// Register commands in this guild (instant) instead of globally.
    pub dev_guild: Option<u64>,
    /// Ask for the privileged intents (server members, message content);
    /// enable them in Discord's developer portal first. Always on with the simulator.
    pub privileged_intents: bool,
    /// Defer an interaction when its cog has not answered within this (ms).
    pub defer_after_ms: u64,
    /// Discord REST calls one cog may make per second for one guild
    /// (sustained).
    pub cog_rest_per_second: u32,
    /// Discord REST calls one cog may make for one guild in a burst.
    pub cog_rest_burst: u32,
    /// Discord REST calls one cog may make a second across all guilds
    /// (`cog_rest_per_second` is per guild within it), well under Discord's
    /// 50 a second for the whole bot.
    pub cog_rest_total_per_second: u32,
    /// … and in a burst.
    pub cog_rest_total_burst: u32,
    /// How long a shard's record in the shard monitor lives unless its
    /// process writes it again (every second): a dead process's shards age
    /// out after this.
    pub monitor_ttl_ms: u64,
    /// Recent messages the host remembers, so that a cog subscribed to
    /// edits or deletions learns what the message said before (MiB of
    /// memory per process; 0: remember none). Kept only while a loaded cog
    /// subscribes to `message-update`, `message-delete` or
    /// `message-delete-bulk`; the least recently seen go first.
    pub remember_messages_mib: u32,
    /// Days a guild message is remembered in the database (behind the
    /// in-process memory), so that an edit or deletion after a restart
    /// still has its `before` (0: not in the database). Deleted by "forget
    /// user" (`DELETE /api/v1/users/{id}/data`).
    pub remember_messages_days: u32,
    /// What one guild's remembered messages may take in the database
    /// (MiB); past it the oldest are forgotten first.
    pub remember_messages_guild_mib: u32,
    /// Members the host remembers (across guilds, per process; the least
    /// recently seen go first), so that a member update or removal says
    /// what the member was before (nickname, roles, timeout; roles held
    /// when they left). Kept, with each guild's roles, channels, emojis,
    /// stickers and voice states, only while a loaded cog of WIT 0.3.0 on
    /// subscribes to an event with a before-state or attribution.
    pub remember_members: u32,
    /// How long an event that an audit-log entry may explain (a ban, a
    /// kick, a deletion, a role change, …) waits for it before it is
    /// delivered with `not-recorded` (milliseconds; docs/events.md).
    pub attribution_wait_ms: u32,
}

impl std::fmt::Debug for DiscordConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiscordConfig")
            .field("token", &self.token.as_ref().map(|_| "<set>"))
            .field("url", &self.url)
            .field("simulator_addr", &self.simulator_addr)
            .field("shards", &self.shards)
            .field("total_shards", &self.total_shards)
            .field("dev_guild", &self.dev_guild)
            .finish_non_exhaustive()
    }
}

impl Default for DiscordConfig {
    fn default() -> Self {
        Self {
            token: None,
            url: None,
            simulator_addr: std::net::SocketAddr::from(([127, 0, 0, 1], 8090)),
            shards: None,
            total_shards: None,
            dev_guild: None,
            privileged_intents: false,
            defer_after_ms: 2_000,
            cog_rest_per_second: 5,
            cog_rest_burst: 10,
            cog_rest_total_per_second: 25,
            cog_rest_total_burst: 50,
            monitor_ttl_ms: 10_000,
            remember_messages_mib: 16,
            remember_messages_days: 7,
            remember_messages_guild_mib: 64,
            remember_members: 200_000,
            attribution_wait_ms: 1_500,
        }
    }
}

impl DiscordConfig {
    /// The shard range `shards` names, checked against `total_shards`.
    pub fn shard_range(&self) -> anyhow::Result<Option<(u64, u64, u64)>> {
        let Some(range) = &self.shards else {
            return Ok(None);
        };
        let total = self
            .total_shards
            .context("`shards` needs `total_shards` (e.g. --shards 0-1 --total-shards 4)")?;
        let (first, last) = match range.split_once('-') {
            Some((a, b)) => (a.trim().parse::<u64>(), b.trim().parse::<u64>()),
            None => (range.trim().parse::<u64>(), range.trim().parse::<u64>()),
        };
        let (Ok(first), Ok(last)) = (first, last) else {
            anyhow::bail!("`shards` must look like `0-3` or `2`, not `{range}`");
        };
        if first > last || last >= total {
            anyhow::bail!("shards {first}-{last} do not fit in {total} total shards");
        }
        Ok(Some((first, last, total)))
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            cogs_dir: PathBuf::from("cogs"),
            data_dir: PathBuf::from(".baseline"),
            database_url: None,
            redis_url: None,
            api_addr: std::net::SocketAddr::from(([127, 0, 0, 1], 8000)),
            api_rate_limit: 50,
            dashboard_origin: None,
            dashboard_dir: None,
            health_addr: std::net::SocketAddr::from(([127, 0, 0, 1], 8080)),
            runtime: RuntimeConfig::default(),
            limits: LimitsConfig::default(),
            quotas: QuotaConfig::default(),
            cogs: BTreeMap::new(),
            commands: BTreeMap::new(),
            discord: DiscordConfig::default(),
            auth: AuthConfig::default(),
            llm: LlmConfig::default(),
        }
    }
}

/// Engine-wide settings; they size the pooling allocator.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RuntimeConfig {
    /// Invocations that may run at once; more wait their turn.
    pub max_concurrent: u32,
    /// Largest linear memory any cog may be given (MiB); per-cog caps are at most this.
    pub max_memory_mib: u64,
    /// Address space reserved for each linear memory of the pool (MiB).
    /// Unset: wasmtime's default (4 GiB on 64-bit hosts, so compiled code
    /// needs no bounds checks). Set it, at least `max_memory_mib`, where
    /// the process's address space is limited (`ulimit -v`, valgrind): the
    /// pool reserves about 2 × (`max_concurrent` + `max_warm_instances` +
    /// 16) memories of this size up front.
    pub memory_reservation_mib: Option<u64>,
    /// Epoch tick (ms): the granularity of deadlines.
    pub epoch_tick_ms: u64,
    /// Debounce of the cogs-folder watcher (ms).
    pub reload_debounce_ms: u64,
    /// Deadline of everything a cog runs while it is loaded (instantiation
    /// with its start functions, `manifest`, the timing probes), in ms.
    pub load_deadline_ms: u64,
    /// Invocations one cog may run at once (its share of
    /// `max_concurrent`); more wait their turn, behind no other cog.
    pub cog_concurrency: u32,
    /// Warm (reused) instances kept idle across all cogs.
    pub max_warm_instances: u32,
    /// Memory the idle warm and spare instances may keep, across cogs
    /// (MiB): an instance keeps the memory it grew to while it waits.
    pub max_warm_mib: u64,
    /// The same, for one cog (MiB).
    pub max_warm_mib_per_cog: u64,
    /// A warm instance idle for longer than this (ms) is dropped.
    pub warm_idle_ms: u64,
    /// Gateway events waiting for one cog (beyond those running); more are
    /// shed and counted (`baseline_cog_events_shed_total`) — but for a
    /// guild with fewer than a few waiting, so that a raid in one guild
    /// never sheds another's (`event_queue_per_guild`).
    pub event_queue: u32,
    /// Gateway events of one guild waiting for one cog; more of that guild's
    /// are shed, other guilds' still get in.
    pub event_queue_per_guild: u32,
    /// Gateway events waiting for all cogs together; the host's memory bound.
    pub event_queue_total: u32,
    /// A cog whose running calls have computed this long (ms), one or many
    /// together, is demoted for `penalty_ms`: two calls at a time, taking
    /// turns at a twentieth of one thread.
    pub penalty_after_ms: u64,
    /// How long a cog stays demoted after its last long call (ms).
    pub penalty_ms: u64,
    /// Total bytes the in-process cache may hold (all cogs and the host's
    /// own entries); the least recently used entries go first.
    pub memory_cache_mib: u64,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            max_concurrent: 128,
            max_memory_mib: 256,
            memory_reservation_mib: None,
            epoch_tick_ms: 1,
            reload_debounce_ms: 100,
            load_deadline_ms: 2_000,
            cog_concurrency: 16,
            max_warm_instances: 64,
            max_warm_mib: 1_024,
            max_warm_mib_per_cog: 256,
            warm_idle_ms: 60_000,
            event_queue: 256,
            event_queue_per_guild: 64,
            event_queue_total: 16_384,
            penalty_after_ms: 100,
            penalty_ms: 30_000,
            memory_cache_mib: 256,
        }
    }
}

/// Limits of one invocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Wall-clock deadline (ms).
    pub deadline_ms: u64,
    /// Linear memory cap (MiB).
    pub memory_mib: u64,
    /// Largest response a cog may return (KiB).
    pub output_kib: u64,
    /// Host calls one invocation may make.
    pub host_calls: u32,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            deadline_ms: 2_000,
            memory_mib: 64,
            output_kib: 1_024,
            host_calls: 10_000,
        }
    }
}

impl LimitsConfig {
    /// The deadline as a duration.
    pub fn deadline(&self) -> Duration {
        Duration::from_millis(self.deadline_ms)
    }
    /// Memory cap in bytes.
    pub fn memory_bytes(&self) -> usize {
        (self.memory_mib as usize) << 20
    }
    /// Output cap in bytes.
    pub fn output_bytes(&self) -> usize {
        (self.output_kib as usize) << 10
    }
}

/// What a cog may keep beyond one call: durable `kv` and ephemeral `cache`
/// storage, counted per cog and per guild (and for the cog's `global`
/// space). A write that would pass a quota is refused with a message naming it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QuotaConfig {
    /// kv bytes (keys + values) one cog may keep in one guild (its guild and user scopes).
    pub kv_bytes: u64,
    /// kv keys one cog may keep in one guild.
    pub kv_keys: u64,
    /// kv bytes one cog may keep in its `global` scope.
    pub kv_global_bytes: u64,
    /// kv keys one cog may keep in its `global` scope.
    pub kv_global_keys: u64,
    /// kv bytes one cog may keep across all its guilds and its global scope
    /// together.
    pub kv_total_bytes: u64,
    /// Cache bytes one cog may hold in one guild (or outside guilds).
    pub cache_bytes: u64,
    /// Cache keys one cog may hold in one guild (or outside guilds).
    pub cache_keys: u64,
    /// Timers (`schedule`) one cog may have pending in one guild.
    pub timers_per_guild: u32,
}

impl Default for QuotaConfig {
    fn default() -> Self {
        Self {
            kv_bytes: 16 << 20,
            kv_keys: 10_000,
            kv_global_bytes: 64 << 20,
            kv_global_keys: 50_000,
            kv_total_bytes: 1 << 30,
            cache_bytes: 4 << 20,
            cache_keys: 5_000,
            timers_per_guild: 100,
        }
    }
}

impl QuotaConfig {
    /// These defaults with one cog's overrides applied.
    pub fn with(self, cog: &CogConfig) -> Self {
        Self {
            kv_bytes: cog.kv_bytes.unwrap_or(self.kv_bytes),
            kv_keys: cog.kv_keys.unwrap_or(self.kv_keys),
            kv_global_bytes: cog.kv_global_bytes.unwrap_or(self.kv_global_bytes),
            kv_global_keys: cog.kv_global_keys.unwrap_or(self.kv_global_keys),
            kv_total_bytes: cog.kv_total_bytes.unwrap_or(self.kv_total_bytes),
            cache_bytes: cog.cache_bytes.unwrap_or(self.cache_bytes),
            cache_keys: cog.cache_keys.unwrap_or(self.cache_keys),
            timers_per_guild: self.timers_per_guild,
        }
    }
}

/// One cog's overrides. Unset limits take the defaults in `[limits]`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CogConfig {
    /// Deadline (ms).
    pub deadline_ms: Option<u64>,
    /// Memory cap (MiB).
    pub memory_mib: Option<u64>,
    /// Output cap (KiB).
    pub output_kib: Option<u64>,
    /// Host-call budget.
    pub host_calls: Option<u32>,
    /// Capabilities granted on top of the safe defaults (e.g. `llm`, `discord.members.ban`).
    pub grant: Vec<String>,
    /// Capabilities taken away, even safe ones.
    pub deny: Vec<String>,
    /// With `llm` granted: the models the cog may name (`"*"`: any routed
    /// model). Empty: only the operator's default models.
    pub llm_models: Vec<String>,
    /// Instance policy: `auto` (measured at load), `fresh` or `reuse`.
    pub instances: InstanceMode,
    /// Under `reuse`, calls one warm instance serves before it is recycled.
    pub reuse_calls: Option<u32>,
    /// Instances kept ready ahead of calls (instantiated and given a first
    /// call off the host's workers, never used by a guild), at most 16.
    /// Default: one when the cog's first call at load was slow (an
    /// interpreter), none otherwise.
    pub spare_instances: Option<u32>,
    /// Pin this cog name to a file in the cogs folder (a file name, or a
    /// path relative to the cogs folder): that file is this cog whatever it
    /// is called, and no other file can be. Without a pin, `NAME.wasm` is
    /// the cog `NAME`.
    pub file: Option<PathBuf>,
    /// With `file`: the SHA-256 (hex) the file must have; any other content
    /// is refused.
    pub sha256: Option<String>,
    /// kv bytes in one guild (default `[quotas] kv_bytes`).
    pub kv_bytes: Option<u64>,
    /// kv keys in one guild (default `[quotas] kv_keys`).
    pub kv_keys: Option<u64>,
    /// kv bytes in the `global` scope (default `[quotas] kv_global_bytes`).
    pub kv_global_bytes: Option<u64>,
    /// kv keys in the `global` scope (default `[quotas] kv_global_keys`).
    pub kv_global_keys: Option<u64>,
    /// kv bytes across all guilds (default `[quotas] kv_total_bytes`).
    pub kv_total_bytes: Option<u64>,
    /// Cache bytes in one guild (default `[quotas] cache_bytes`).
    pub cache_bytes: Option<u64>,
    /// Cache keys in one guild (default `[quotas] cache_keys`).
    pub cache_keys: Option<u64>,
    /// Invocations of this cog that may run at once (default
    /// `[runtime] cog_concurrency`).
    pub concurrency: Option<u32>,
    /// Off in every guild until a guild admin turns it on (and off, too,
    /// whenever the host cannot read a guild's switch).
    pub default_off: bool,
}

/// How a cog's invocations get their instance.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InstanceMode {
    /// Fresh when instantiation is cheap (small cogs), reuse when it is not
    /// (interpreter-based cogs); decided by timing an instantiation at load.
    #[default]
    Auto,
    /// A fresh instance for every call: nothing survives between calls.
    Fresh,
    /// Warm instances per guild, recycled after `reuse_calls` calls or any failure.
    Reuse,
}

impl Config {
    /// Read the file (when given or present) and apply the environment.
    pub fn load(path: Option<&Path>) -> anyhow::Result<Self> {
        let explicit = path
            .map(Path::to_path_buf)
            .or_else(|| std::env::var_os("BASELINE_CONFIG").map(PathBuf::from));
        let mut config = match explicit {
            Some(path) => Self::from_file(&path)?,
            None if Path::new("baseline.toml").exists() => {
                Self::from_file(Path::new("baseline.toml"))?
            }
            None => Self::default(),
        };
        config.apply_env(std::env::vars());
        Ok(config)
    }

    /// Parse a TOML file.
    pub fn from_file(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config file {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("invalid config file {}", path.display()))
    }

    /// Apply `BASELINE_*` overrides from `vars`.
    pub fn apply_env(&mut self, vars: impl IntoIterator<Item = (String, String)>) {
        for (key, value) in vars {
            let list = || {
                value
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect::<Vec<_>>()
            };
            if key == "BASELINE_COGS_DIR" {
                self.cogs_dir = PathBuf::from(&value);
            } else if key == "BASELINE_DATA_DIR" {
                self.data_dir = PathBuf::from(&value);
            } else if key == "DATABASE_URL" && !value.is_empty() {
                self.database_url = Some(value.clone());
            } else if key == "BASELINE_API_ADDR" {
                match value.parse() {
                    Ok(addr) => self.api_addr = addr,
                    Err(_) => tracing::warn!(
                        value,
                        "BASELINE_API_ADDR is not host:port; keeping {}",
                        self.api_addr
                    ),
                }
            } else if key == "BASELINE_HEALTH_ADDR" {
                match value.parse() {
                    Ok(addr) => self.health_addr = addr,
                    Err(_) => {
                        tracing::warn!(value, "BASELINE_HEALTH_ADDR is not host:port; ignored")
                    }
                }
            } else if key == "DISCORD_TOKEN" && !value.is_empty() {
                self.discord.token = Some(value.clone());
            } else if key == "BASELINE_DISCORD_URL" && !value.is_empty() {
                self.discord.url = Some(value.clone());
            } else if key == "BASELINE_SIM_ADDR" {
                match value.parse() {
                    Ok(addr) => self.discord.simulator_addr = addr,
                    Err(_) => tracing::warn!(value, "BASELINE_SIM_ADDR is not host:port; ignored"),
                }
            } else if key == "BASELINE_DASHBOARD_ORIGIN" && !value.is_empty() {
                self.dashboard_origin = Some(value.clone());
            } else if key == "BASELINE_DASHBOARD_DIR" && !value.is_empty() {
                self.dashboard_dir = Some(PathBuf::from(&value));
            } else if key == "BASELINE_PUBLIC_URL" && !value.is_empty() {
                self.auth.public_url = Some(value.clone());
            } else if key == "BASELINE_OAUTH_SECRET" && !value.is_empty() {
                self.auth.client_secret = Some(value.clone());
            } else if let Some(provider) =
                key.strip_suffix("_API_KEY").filter(|_| !value.is_empty())
            {
                let name = match provider {
                    "OPENAI" => Some("openai"),
                    "ANTHROPIC" => Some("anthropic"),
                    "GEMINI" => Some("gemini"),
                    "XAI" => Some("xai"),
                    _ => None,
                };
                if let Some(name) = name {
                    self.llm.keys.insert(name.into(), value.clone());
                }
            } else if key == "BASELINE_LLM_SIM_ADDR" {
                match value.parse() {
                    Ok(addr) => self.llm.simulator_addr = addr,
                    Err(_) => {
                        tracing::warn!(value, "BASELINE_LLM_SIM_ADDR is not host:port; ignored")
                    }
                }
            } else if key == "REDIS_URL" && !value.is_empty() {
                self.redis_url = Some(value.clone());
            } else if let Some(cog) = key.strip_prefix("BASELINE_GRANT_") {
                self.cogs
                    .entry(env_cog_name(cog))
                    .or_default()
                    .grant
                    .extend(list());
            } else if let Some(cog) = key.strip_prefix("BASELINE_DENY_") {
                self.cogs
                    .entry(env_cog_name(cog))
                    .or_default()
                    .deny
                    .extend(list());
            }
        }
    }

    /// The limits of one cog: its overrides over the defaults.
    pub fn limits_for(&self, cog: &str) -> LimitsConfig {
        let defaults = self.limits;
        match self.cogs.get(cog) {
            None => defaults,
            Some(overrides) => LimitsConfig {
                deadline_ms: overrides.deadline_ms.unwrap_or(defaults.deadline_ms),
                memory_mib: overrides
                    .memory_mib
                    .unwrap_or(defaults.memory_mib)
                    .min(self.runtime.max_memory_mib),
                output_kib: overrides.output_kib.unwrap_or(defaults.output_kib),
                host_calls: overrides.host_calls.unwrap_or(defaults.host_calls),
            },
        }
    }

    /// The quotas of one cog: its overrides over the defaults.
    pub fn quotas_for(&self, cog: &str) -> QuotaConfig {
        match self.cogs.get(cog) {
            None => self.quotas,
            Some(overrides) => self.quotas.with(overrides),
        }
    }

    /// Whether `cog` is on in a guild where nobody has switched it.
    pub fn on_by_default(&self, cog: &str) -> bool {
        !self.cogs.get(cog).is_some_and(|c| c.default_off)
    }

    /// Invocations `cog` may run at once.
    pub fn concurrency_for(&self, cog: &str) -> u32 {
        self.cogs
            .get(cog)
            .and_then(|c| c.concurrency)
            .unwrap_or(self.runtime.cog_concurrency)
            .clamp(1, self.runtime.max_concurrent.max(1))
    }

    /// Where compiled artifacts are cached.
    pub fn artifact_dir(&self) -> PathBuf {
        self.data_dir.join("compiled")
    }
}

fn env_cog_name(raw: &str) -> String {
    raw.to_ascii_lowercase().replace('_', "-")
}

/// How the host retries reaching its database or Redis at start-up:
/// 1 s doubling to 30 s, `attempts` tries in all.
pub fn reconnect_backoff(attempts: u32) -> backon::ExponentialBuilder {
    backon::ExponentialBuilder::default()
        .with_min_delay(Duration::from_secs(1))
        .with_max_delay(Duration::from_secs(30))
        .with_max_times(attempts.saturating_sub(1) as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_overrides_grants_and_folders() {
        let mut config = Config::default();
        config.apply_env([
            (
                "BASELINE_GRANT_MY_COG".to_string(),
                "llm, discord.dm".to_string(),
            ),
            ("BASELINE_DENY_REFERENCE".to_string(), "kv".to_string()),
            ("BASELINE_COGS_DIR".to_string(), "/srv/cogs".to_string()),
            ("UNRELATED".to_string(), "x".to_string()),
        ]);
        assert_eq!(config.cogs["my-cog"].grant, ["llm", "discord.dm"]);
        assert_eq!(config.cogs["reference"].deny, ["kv"]);
        assert_eq!(config.cogs_dir, PathBuf::from("/srv/cogs"));
    }

    #[test]
    fn per_cog_limits_override_defaults_and_respect_the_pool() {
        let config: Config = toml::from_str(
            "[limits]\ndeadline_ms = 100\n[cogs.big]\nmemory_mib = 100000\n[cogs.quick]\ndeadline_ms = 5\n",
        )
        .unwrap();
        assert_eq!(config.limits_for("quick").deadline_ms, 5);
        assert_eq!(config.limits_for("other").deadline_ms, 100);
        assert_eq!(
            config.limits_for("big").memory_mib,
            config.runtime.max_memory_mib
        );
    }

    #[test]
    fn shard_ranges_are_checked() {
        let mut discord = DiscordConfig {
            shards: Some("0-1".into()),
            total_shards: Some(4),
            ..Default::default()
        };
        assert_eq!(discord.shard_range().unwrap(), Some((0, 1, 4)));
        discord.shards = Some("3".into());
        assert_eq!(discord.shard_range().unwrap(), Some((3, 3, 4)));
        discord.shards = Some("2-4".into());
        assert!(discord.shard_range().is_err());
        discord.total_shards = None;
        assert!(
            discord
                .shard_range()
                .unwrap_err()
                .to_string()
                .contains("total_shards")
        );
    }

    #[test]
    fn unknown_keys_are_refused() {
        let error = toml::from_str::<Config>("[limits]\ndeadline = 5\n").unwrap_err();
        assert!(error.to_string().contains("unknown field"), "{error}");
    }
}
