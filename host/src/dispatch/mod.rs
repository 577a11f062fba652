//! The dispatcher: the only Discord code that calls cogs. It receives what
//! the gateway hands on ([`crate::discord::gateway::Listener`]), drops
//! replayed interactions, asks each guild's cog switches, routes
//! interactions and events to cogs through the runtime, answers Discord
//! with what they returned (or a plain notice when they failed), and keeps
//! the slash commands registered.
//!
//! - [`interactions`]: commands, autocomplete, components, modals → cogs, with the 2 s defer.
//! - [`events`]: gateway events → subscribed cogs, each within its queue.
//! - [`commands`]: slash commands from manifests, registered when they change.
//! - [`failures`]: what the user is told when a call fails.

pub mod commands;
pub mod events;
pub mod failures;
pub mod interactions;

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serenity::all::Event as GatewayEvent;

use crate::config::DiscordConfig;
use crate::discord::gateway::{Gateway, Listener, Session};
use crate::discord::{DiscordLink, Endpoint, ShardMonitor, events as model};
use crate::runtime::Runtime;
use crate::store::guilds::GuildStore;

/// The dispatcher of one connected bot.
pub struct Bot {
    /// The cog runtime.
    pub runtime: Arc<Runtime>,
    /// REST and the channel map (shared with the capabilities).
    pub link: Arc<DiscordLink>,
    /// The configuration.
    pub config: DiscordConfig,
    /// What the gateway learned (bot id, shard count, readiness).
    pub session: Arc<Session>,
    /// The shard monitor.
    pub monitor: Arc<ShardMonitor>,
    guilds: Option<GuildStore>,
    registrar: commands::Registrar,
    seen: Mutex<(VecDeque<u64>, HashSet<u64>)>,
    switches: Mutex<HashMap<(u64, String), (bool, Instant)>>,
    /// How long interactions waited for their first response (seconds).
    pub interaction_seconds: prometheus_client::metrics::histogram::Histogram,
}

const SEEN_INTERACTIONS: usize = 4_096;
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

    /// The shard ids this process should run (see [`Session::expected_shards`]).
    pub fn expected_shards(&self) -> Vec<u32> {
        self.session.expected_shards()
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

    async fn on_gateway_event(self: Arc<Self>, event: GatewayEvent) {
        let event = match event {
            GatewayEvent::InteractionCreate(create) => {
                self.on_interaction(create.interaction).await;
                return;
            }
            GatewayEvent::GuildCreate(create) => {
                let guild = &create.guild;
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
                    let event = model::guild_event(
                        guild.id.get(),
                        &guild.name,
                        Some(guild.owner_id.get()),
                        true,
                    );
                    self.deliver_event(
                        Some(guild.id.get()),
                        None,
                        model::actor(guild.owner_id.get()),
                        event,
                    )
                    .await;
                }
                return;
            }
            GatewayEvent::GuildDelete(delete) if !delete.guild.unavailable => {
                let guild = delete.guild.id.get();
                if let Some(store) = &self.guilds
                    && let Err(error) = store.left(guild).await
                {
                    tracing::error!(%error, guild, "cannot record leaving the guild");
                }
                tracing::info!(guild, "left a guild");
                let event = model::guild_event(guild, "", None, false);
                self.deliver_event(Some(guild), None, model::actor(0), event)
                    .await;
                return;
            }
            GatewayEvent::Unknown(unknown) => {
                tracing::warn!(kind = %unknown.kind, "skipped a gateway event this host does not know");
                return;
            }
            GatewayEvent::Ready(_) => return,
            event => event,
        };
        if let Some((guild, channel, actor, event)) =
            model::translate(&event, self.session.bot_id.load(Ordering::Relaxed))
        {
            self.deliver_event(guild, channel, actor, event).await;
        }
    }

    /// Keep the registered commands in step with the loaded cogs: once the
    /// first shard is ready, then after every change of the loaded set.
    async fn keep_commands_registered(self: Arc<Self>) {
        let mut changes = self.runtime.registry().subscribe();
        self.session.ready().await;
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

/// The gateway's listener: every event on a task of the gateway's shard runner.
struct ToBot(Arc<Bot>);

#[async_trait::async_trait]
impl Listener for ToBot {
    async fn on_event(&self, _shard: u32, event: GatewayEvent) {
        self.0.clone().on_gateway_event(event).await;
    }
}

/// A connected bot: the gateway's shards and the dispatcher, running until
/// [`Discord::shutdown`] or drop.
pub struct Discord {
    /// The dispatcher.
    pub bot: Arc<Bot>,
    gateway: Gateway,
    registrar: AbortOnDrop,
}

/// A task that ends with its owner.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
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
        let session = Arc::new(Session::new(config.shard_range()?));
        let bot = Arc::new(Bot {
            runtime,
            link: link.clone(),
            config,
            session: session.clone(),
            monitor: monitor.clone(),
            guilds,
            registrar: commands::Registrar::default(),
            seen: Mutex::new((VecDeque::new(), HashSet::new())),
            switches: Mutex::new(HashMap::new()),
            // 100 µs … ~3.3 s, doubling.
            interaction_seconds: prometheus_client::metrics::histogram::Histogram::new(
                prometheus_client::metrics::histogram::exponential_buckets(0.0001, 2.0, 16),
            ),
        });
        let gateway = Gateway::connect(
            link,
            endpoint,
            &bot.config,
            session,
            monitor,
            Arc::new(ToBot(bot.clone())),
        )
        .await?;
        let registrar = AbortOnDrop(tokio::spawn(bot.clone().keep_commands_registered()));
        Ok(Self {
            bot,
            gateway,
            registrar,
        })
    }

    /// The shard manager (state and latency per shard).
    pub fn shards(&self) -> &Arc<serenity::all::ShardManager> {
        self.gateway.shards()
    }

    /// Close every shard and tell the monitor at once.
    pub async fn shutdown(self) {
        drop(self.registrar);
        self.gateway.shutdown().await;
    }
}
