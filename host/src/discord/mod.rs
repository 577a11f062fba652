//! Discord: serenity owns the gateway (shards, heartbeats, resumes); this
//! module turns what arrives into cog invocations and carries what cogs say
//! back.
//!
//! - [`rest`]: the REST client cogs' calls go through (budgets, 429s).
//! - [`commands`]: slash commands from manifests, registered when they change.
//! - [`interactions`]: commands, autocomplete, components, modals → cogs, with the 2 s defer.
//! - [`events`]: gateway events → subscribed cogs.
//! - [`incoming`] / [`outgoing`]: serenity's models → WIT records, WIT → Discord JSON.
//! - [`shards`]: the shard monitor (state and latency of every shard, in the cache).
//!
//! With a token it talks to discord.com; without one, to the simulator
//! (in-process, or the one at `discord.url`), through the same code.

pub mod commands;
pub mod events;
pub mod incoming;
pub mod interactions;
pub mod limits;
pub mod outgoing;
pub mod rest;
pub mod shards;

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock};
use reqwest::Method;
use serenity::all::{
    ClientBuilder, Context, Event as GatewayEvent, EventHandler, GatewayIntents, HttpBuilder,
    RawEventHandler, ShardManager, ShardStageUpdateEvent,
};

pub use interactions::InteractionHandle;
use rest::{Body, Rest, RestError};
pub use shards::ShardMonitor;

use crate::config::DiscordConfig;
use crate::runtime::Runtime;
use crate::store::guilds::GuildStore;

/// What the `discord` and `interaction` capabilities need: the REST client
/// and which guild each channel belongs to.
pub struct DiscordLink {
    /// The REST client.
    pub rest: Rest,
    channels: RwLock<HashMap<u64, Option<u64>>>,
}

impl DiscordLink {
    /// A link to `base` with the bot `token`.
    pub fn new(base: &str, token: &str, config: &DiscordConfig) -> Self {
        Self {
            rest: Rest::new(
                base,
                token,
                config.cog_rest_per_second,
                config.cog_rest_burst,
            ),
            channels: RwLock::new(HashMap::new()),
        }
    }

    /// Remember that `channel` is in `guild` (`None`: a DM).
    pub fn note_channel(&self, channel: u64, guild: Option<u64>) {
        self.channels.write().insert(channel, guild);
    }

    /// Forget a deleted channel.
    pub fn forget_channel(&self, channel: u64) {
        self.channels.write().remove(&channel);
    }

    /// The guild of a channel (asking Discord when it is not known yet; the
    /// lookup is charged to `cog`, so a cog naming random channels spends
    /// its own budget, not the bot's).
    pub async fn guild_of(
        &self,
        cog: Option<&str>,
        channel: u64,
    ) -> Result<Option<u64>, RestError> {
        if let Some(guild) = self.channels.read().get(&channel) {
            return Ok(*guild);
        }
        let found = self
            .rest
            .call(
                cog,
                Method::GET,
                &format!("/channels/{channel}"),
                Body::Empty,
                Instant::now() + Duration::from_secs(5),
            )
            .await?;
        let guild = found["guild_id"].as_str().and_then(|g| g.parse().ok());
        self.note_channel(channel, guild);
        Ok(guild)
    }
}

/// The running Discord side of the host.
pub struct Bot {
    /// The cog runtime.
    pub runtime: Arc<Runtime>,
    /// REST and the channel map (shared with the capabilities).
    pub link: Arc<DiscordLink>,
    /// The configuration.
    pub config: DiscordConfig,
    guilds: Option<GuildStore>,
    registrar: commands::Registrar,
    seen: Mutex<(VecDeque<u64>, HashSet<u64>)>,
    switches: Mutex<HashMap<(u64, String), (bool, Instant)>>,
    /// The bot's user id (from READY).
    pub bot_id: AtomicU64,
    /// The bot's shard count (from READY).
    pub total_shards: AtomicU32,
    /// The shard monitor.
    pub monitor: Arc<ShardMonitor>,
    /// serenity stopped for good (a fatal close code).
    stopped: std::sync::atomic::AtomicBool,
    /// The shards this process runs: `(first, last, total)`; `None` for all.
    shard_range: Option<(u64, u64, u64)>,
    ready: tokio::sync::Notify,
    /// How long interactions waited for their first response (seconds).
    pub interaction_seconds: prometheus_client::metrics::histogram::Histogram,
}

const SEEN_INTERACTIONS: usize = 4_096;
/// How long a guild's cog switch is trusted before it is read again.
pub const SWITCH_TTL: Duration = Duration::from_secs(5);

impl Bot {
    /// Whether `cog` is enabled in `guild` (always, outside guilds and
    /// without a database). When the switch cannot be read (the database is
    /// slow or down), the last state read is kept, however old; a guild
    /// never read counts the cog as on, unless the operator marked it
    /// `default_off`.
    pub async fn enabled(&self, guild: Option<u64>, cog: &str) -> bool {
        let (Some(guild), Some(store)) = (guild, &self.guilds) else {
            return true;
        };
        // Every event and interaction asks, for every cog it may reach: the
        // answer is kept for SWITCH_TTL, so a switch made through the API
        // (in any process) applies within that.
        let key = (guild, cog.to_string());
        let now = Instant::now();
        let known = self.switches.lock().get(&key).copied();
        if let Some((enabled, at)) = known
            && now.duration_since(at) < SWITCH_TTL
        {
            return enabled;
        }
        let default = self.runtime.config().on_by_default(cog);
        let fallback = known.map_or(default, |(enabled, _)| enabled);
        // Bounded: the 3 s interaction deadline must not wait on a stalled database.
        match tokio::time::timeout(Duration::from_millis(500), store.cog_switch(guild, cog)).await {
            Ok(Ok(switch)) => {
                let enabled = switch.unwrap_or(default);
                let mut switches = self.switches.lock();
                if switches.len() >= 10_000 {
                    // Stale "on" entries go; "off" ones stay, so a cog turned
                    // off stays off if the database later fails.
                    switches.retain(|_, (on, at)| !*on || now.duration_since(*at) < SWITCH_TTL);
                }
                switches.insert(key, (enabled, now));
                enabled
            }
            Ok(Err(error)) => {
                tracing::warn!(%error, guild, cog, enabled = fallback, "cannot read whether the cog is enabled; keeping the last known state");
                fallback
            }
            Err(_) => {
                tracing::warn!(
                    guild,
                    cog,
                    enabled = fallback,
                    "the database took over 500 ms to say whether the cog is enabled; keeping the last known state"
                );
                fallback
            }
        }
    }

    /// The shard ids this process should run (empty until READY tells an
    /// autosharded process the total).
    pub fn expected_shards(&self) -> Vec<u32> {
        match self.shard_range {
            Some((first, last, _)) => (first as u32..=last as u32).collect(),
            None => (0..self.total_shards.load(Ordering::Relaxed)).collect(),
        }
    }

    /// False when this interaction id was handled already (a replay).
    fn first_sighting(&self, id: u64) -> bool {
        let mut seen = self.seen.lock();
        if !seen.1.insert(id) {
            return false;
        }
        seen.0.push_back(id);
        if seen.0.len() > SEEN_INTERACTIONS
            && let Some(old) = seen.0.pop_front()
        {
            seen.1.remove(&old);
        }
        true
    }

    async fn on_gateway_event(self: Arc<Self>, shard: u32, event: GatewayEvent) {
        match &event {
            GatewayEvent::Ready(ready) => {
                self.link
                    .rest
                    .application_id
                    .store(ready.ready.application.id.get(), Ordering::Relaxed);
                self.bot_id
                    .store(ready.ready.user.id.get(), Ordering::Relaxed);
                if let Some(info) = ready.ready.shard {
                    self.total_shards.store(info.total, Ordering::Relaxed);
                }
                tracing::info!(shard = ?ready.ready.shard.map(|s| s.id.0), guilds = ready.ready.guilds.len(), "shard ready");
                self.ready.notify_waiters();
                self.ready.notify_one();
                return;
            }
            GatewayEvent::InteractionCreate(create) => {
                self.on_interaction(create.interaction.clone()).await;
                return;
            }
            GatewayEvent::GuildCreate(create) => {
                let guild = &create.guild;
                self.monitor.guild_joined(shard, guild.id.get());
                for channel in guild.channels.keys() {
                    self.link.note_channel(channel.get(), Some(guild.id.get()));
                }
                for thread in &guild.threads {
                    self.link
                        .note_channel(thread.id.get(), Some(guild.id.get()));
                }
                let new = match &self.guilds {
                    Some(store) => store
                        .joined(guild.id.get(), &guild.name, guild.owner_id.get())
                        .await
                        .unwrap_or_else(|error| {
                            tracing::error!(%error, guild = guild.id.get(), "cannot record the guild");
                            false
                        }),
                    None => false,
                };
                if new {
                    tracing::info!(guild = guild.id.get(), name = %guild.name, owner = guild.owner_id.get(), "joined a guild");
                    let event = events::guild_event(
                        guild.id.get(),
                        &guild.name,
                        Some(guild.owner_id.get()),
                        true,
                    );
                    self.deliver_event(
                        Some(guild.id.get()),
                        None,
                        events::actor(guild.owner_id.get()),
                        event,
                    )
                    .await;
                }
                return;
            }
            GatewayEvent::GuildDelete(delete) if !delete.guild.unavailable => {
                let guild = delete.guild.id.get();
                self.monitor.guild_left(shard, guild);
                if let Some(store) = &self.guilds
                    && let Err(error) = store.left(guild).await
                {
                    tracing::error!(%error, guild, "cannot record leaving the guild");
                }
                tracing::info!(guild, "left a guild");
                let event = events::guild_event(guild, "", None, false);
                self.deliver_event(Some(guild), None, events::actor(0), event)
                    .await;
                return;
            }
            GatewayEvent::ChannelCreate(e) => self
                .link
                .note_channel(e.channel.id.get(), Some(e.channel.guild_id.get())),
            GatewayEvent::ThreadCreate(e) => self
                .link
                .note_channel(e.thread.id.get(), Some(e.thread.guild_id.get())),
            GatewayEvent::ChannelDelete(e) => self.link.forget_channel(e.channel.id.get()),
            GatewayEvent::Unknown(unknown) => {
                tracing::warn!(kind = %unknown.kind, "skipped a gateway event this host does not know");
                return;
            }
            _ => {}
        }
        if let Some((guild, channel, actor, event)) =
            events::translate(&event, self.bot_id.load(Ordering::Relaxed))
        {
            self.deliver_event(guild, channel, actor, event).await;
        }
    }

    /// Keep the registered commands in step with the loaded cogs: once the
    /// first shard is ready, then after every change of the loaded set.
    async fn keep_commands_registered(self: Arc<Self>) {
        let mut changes = self.runtime.registry().subscribe();
        self.ready.notified().await;
        loop {
            if let Err(error) = self.sync_commands().await {
                tracing::error!(%error, "slash commands could not be registered; retrying on the next change or in 30 s");
                let _ = tokio::time::timeout(Duration::from_secs(30), changes.changed()).await;
                continue;
            }
            if changes.changed().await.is_err() {
                return;
            }
            // Let a burst of reloads settle.
            tokio::time::sleep(Duration::from_millis(200)).await;
            changes.mark_unchanged();
        }
    }
}

struct Handler(Arc<Bot>);

#[serenity::async_trait]
impl RawEventHandler for Handler {
    async fn raw_event(&self, ctx: Context, event: GatewayEvent) {
        self.0.clone().on_gateway_event(ctx.shard_id.0, event).await;
    }
}

#[serenity::async_trait]
impl EventHandler for Handler {
    /// A shard changed state (connecting, connected, resuming, ...): tell the monitor at once.
    async fn shard_stage_update(&self, _ctx: Context, event: ShardStageUpdateEvent) {
        let bot = &self.0;
        let (from, to) = (shards::state_name(event.old), shards::state_name(event.new));
        tracing::info!(shard = event.shard_id.0, from, to, "shard state");
        let total = bot
            .total_shards
            .load(Ordering::Relaxed)
            .max(event.shard_id.0 + 1);
        if let Err(error) = bot
            .monitor
            .transition(event.shard_id.0, total, from, to)
            .await
        {
            tracing::warn!(%error, "the shard monitor could not write");
        }
    }
}

impl Bot {
    /// Write every shard's state and latency to the monitor, once a second.
    async fn watch_shards(self: Arc<Self>, manager: Arc<ShardManager>) {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let shards: Vec<(u32, &'static str, Option<Duration>)> =
                if self.stopped.load(Ordering::Relaxed) {
                    Vec::new()
                } else {
                    manager
                        .runners
                        .lock()
                        .await
                        .iter()
                        .map(|(id, info)| (id.0, shards::state_name(info.stage), info.latency))
                        .collect()
                };
            // A shard serenity stopped (a fatal close code) is no longer run here.
            let stopped: Vec<(u32, &'static str, Option<Duration>)> = self
                .monitor
                .local()
                .into_iter()
                .filter(|record| !shards.iter().any(|(id, _, _)| *id == record.id))
                .map(|record| (record.id, "disconnected", None))
                .collect();
            for (id, state, latency) in shards.into_iter().chain(stopped) {
                let total = self.total_shards.load(Ordering::Relaxed).max(id + 1);
                if let Err(error) = self.monitor.observe(id, total, state, latency).await {
                    tracing::warn!(%error, shard = id, "the shard monitor could not write");
                }
            }
        }
    }
}

/// Where the host connects.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// `https://discord.com` or a simulator's `http://127.0.0.1:PORT`.
    pub base: String,
    /// The bot token.
    pub token: String,
    /// Whether it is a simulator (no rate limiter, privileged intents on).
    pub simulated: bool,
}

/// A connected bot: its shards run until [`Discord::shutdown`] or drop.
pub struct Discord {
    /// The bot.
    pub bot: Arc<Bot>,
    manager: Arc<ShardManager>,
    task: tokio::task::JoinHandle<()>,
    registrar: tokio::task::JoinHandle<()>,
    watcher: tokio::task::JoinHandle<()>,
}

impl Discord {
    /// Connect to `endpoint` with the link the capabilities already hold,
    /// start the shards (all, or `config.shards` of `config.total_shards`),
    /// and keep the commands registered.
    pub async fn start(
        runtime: Arc<Runtime>,
        link: Arc<DiscordLink>,
        endpoint: &Endpoint,
        config: DiscordConfig,
        guilds: Option<GuildStore>,
        monitor: Arc<ShardMonitor>,
    ) -> anyhow::Result<Self> {
        let range = config.shard_range()?;
        let mut config = config;
        if !(100..=2_500).contains(&config.defer_after_ms) {
            let clamped = config.defer_after_ms.clamp(100, 2_500);
            tracing::warn!(
                configured = config.defer_after_ms,
                used = clamped,
                "defer_after_ms must leave time before Discord's 3 s deadline"
            );
            config.defer_after_ms = clamped;
        }
        let mut http = HttpBuilder::new(&endpoint.token);
        if endpoint.simulated {
            // serenity's rate limiter builds URLs without the proxy.
            http = http.proxy(&endpoint.base).ratelimiter_disabled(true);
        }
        let mut intents = GatewayIntents::non_privileged();
        if endpoint.simulated || config.privileged_intents {
            intents |= GatewayIntents::GUILD_MEMBERS | GatewayIntents::MESSAGE_CONTENT;
        }
        let bot = Arc::new(Bot {
            runtime,
            link,
            config,
            guilds,
            registrar: commands::Registrar::default(),
            seen: Mutex::new((VecDeque::new(), HashSet::new())),
            switches: Mutex::new(HashMap::new()),
            bot_id: AtomicU64::new(0),
            total_shards: AtomicU32::new(range.map_or(0, |(_, _, total)| total as u32)),
            monitor,
            stopped: std::sync::atomic::AtomicBool::new(false),
            shard_range: range,
            ready: tokio::sync::Notify::new(),
            // 100 µs … ~3.3 s, doubling.
            interaction_seconds: prometheus_client::metrics::histogram::Histogram::new(
                prometheus_client::metrics::histogram::exponential_buckets(0.0001, 2.0, 16),
            ),
        });
        let mut client = ClientBuilder::new_with_http(http.build(), intents)
            .raw_event_handler(Handler(bot.clone()))
            .event_handler(Handler(bot.clone()))
            .await?;
        let manager = client.shard_manager.clone();
        let stopped = bot.clone();
        let task = tokio::spawn(async move {
            let result = match range {
                Some((first, last, total)) => {
                    client
                        .start_shard_range(first as u32..last as u32, total as u32)
                        .await
                }
                None => client.start_autosharded().await,
            };
            if let Err(error) = result {
                tracing::error!(%error, "the Discord connection stopped; this process runs no shard now");
            }
            // serenity gave up (a fatal close code such as 4004): no shard runs here.
            stopped.stopped.store(true, Ordering::Relaxed);
        });
        let registrar = tokio::spawn(bot.clone().keep_commands_registered());
        let watcher = tokio::spawn(bot.clone().watch_shards(manager.clone()));
        Ok(Self {
            bot,
            manager,
            task,
            registrar,
            watcher,
        })
    }

    /// The shard manager (state and latency per shard).
    pub fn shards(&self) -> &Arc<ShardManager> {
        &self.manager
    }

    /// Close every shard.
    /// Close every shard and tell the monitor at once (the records then
    /// say `disconnected` until they age out), rather than leaving other
    /// processes to wait for the time to live.
    pub async fn shutdown(self) {
        self.registrar.abort();
        self.watcher.abort();
        self.manager.shutdown_all().await;
        self.task.abort();
        let total = self.bot.total_shards.load(Ordering::Relaxed);
        for shard in self.bot.monitor.local() {
            let _ = self
                .bot
                .monitor
                .observe(shard.id, total.max(shard.total), "disconnected", None)
                .await;
        }
    }
}

impl Drop for Discord {
    fn drop(&mut self) {
        self.registrar.abort();
        self.watcher.abort();
        self.task.abort();
    }
}
