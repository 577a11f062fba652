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
//! - [`timeouts`]: the `timeout-expired` events Discord does not send.
//! - [`timers`]: cogs' timers (`schedule`), run when due.

pub mod commands;
pub mod events;
pub mod failures;
pub mod interactions;
pub mod timeouts;
pub mod timers;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use twilight_gateway::{Event as GatewayEvent, EventTypeFlags};

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
    /// Interaction ids handled lately (a replay after a resume is not
    /// answered twice). An LRU map under a lock rather than moka: every
    /// interaction inserts, and moka's write path cost ~4 µs of CPU per
    /// insert under the hot-path benchmark (docs/benchmarks.md).
    seen: parking_lot::Mutex<lru::LruCache<u64, ()>>,
    /// Each guild's switch of each cog, with when it was read. A map of
    /// our own, not a TTL or LRU cache: an expired or evicted "off" would
    /// turn the cog back on while the database is down, so "off" entries
    /// are never dropped and only stale "on" ones are pruned.
    switches: parking_lot::Mutex<std::collections::HashMap<(u64, String), (bool, Instant)>>,
    /// The gateway event types the loaded cogs subscribe to, with
    /// interactions.
    wanted: parking_lot::RwLock<EventTypeFlags>,
    /// Recent messages, for the `before` of edits and deletions.
    pub memory: crate::discord::memory::MessageMemory,
    /// Whether a loaded cog gets that `before` (so messages are remembered).
    remember: std::sync::atomic::AtomicBool,
    /// Guilds as last seen, for the `before` of every other update and for
    /// whether the bot may read the audit log.
    pub guild_memory: crate::discord::memory::GuildMemory,
    /// Whether a loaded cog gets before-states or attribution (so guilds
    /// are remembered and audit-log entries read).
    remember_guilds: std::sync::atomic::AtomicBool,
    /// Audit-log entries, matched to the events they explain.
    pub attributor: crate::discord::attribution::Attributor,
    /// Members' timeouts, each ending in a `timeout-expired` event.
    timeouts: timeouts::Timeouts,
    /// How long interactions waited for their first response (seconds).
    pub interaction_seconds: prometheus_client::metrics::histogram::Histogram,
}

/// How many interaction ids are remembered (Discord replays within a
/// resume, seconds after the first delivery).
const SEEN_INTERACTIONS: usize = 16_384;
/// Past this many (guild, cog) switches, stale "on" entries are pruned.
const SWITCHES: usize = 10_000;
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
                if switches.len() >= SWITCHES {
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
        self.seen.lock().put(id, ()).is_none()
    }

    async fn on_gateway_event(self: Arc<Self>, event: GatewayEvent, before: model::Before) {
        let event = match event {
            GatewayEvent::InteractionCreate(create) => {
                // Reached only if a caller hands an interaction here;
                // the gateway's listener spawns interactions on their own.
                self.on_interaction(create.0).await;
                return;
            }
            GatewayEvent::GuildCreate(create) => {
                use twilight_model::gateway::payload::incoming::GuildCreate;
                let GuildCreate::Available(guild) = *create else {
                    return;
                };
                let (id, owner) = (guild.id.get(), guild.owner_id.get());
                for member in &guild.members {
                    if member.communication_disabled_until.is_some() {
                        let member = crate::discord::incoming::member(member);
                        self.timeouts.watch(&self, id, &member);
                    }
                }
                let new = match &self.guilds {
                    Some(store) => {
                        store
                            .joined(id, &guild.name, owner)
                            .await
                            .unwrap_or_else(|error| {
                                tracing::error!(%error, guild = id, "cannot record the guild");
                                false
                            })
                    }
                    None => false,
                };
                if new {
                    tracing::info!(guild = id, name = %guild.name, owner, "joined a guild");
                    let event = model::guild_event(id, &guild.name, Some(owner), true);
                    self.deliver_event(Some(id), None, model::actor(owner), event)
                        .await;
                }
                return;
            }
            GatewayEvent::GuildUpdate(update) => {
                // An ownership transfer moves the owner's access (store::guilds).
                let (id, owner) = (update.id.get(), update.owner_id.get());
                if let Some(store) = &self.guilds
                    && let Err(error) = store.joined(id, &update.name, owner).await
                {
                    tracing::error!(%error, guild = id, "cannot record the guild's update");
                }
                GatewayEvent::GuildUpdate(update)
            }
            GatewayEvent::GuildDelete(delete) if !delete.unavailable.unwrap_or(false) => {
                let guild = delete.id.get();
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
            event => event,
        };
        let readable = before.audit_log;
        let before = self.recall_stored(before).await;
        let Some(mut translated) =
            model::translate(&event, self.session.bot_id.load(Ordering::Relaxed), before)
        else {
            return;
        };
        if let Some(ask) = translated.ask.take()
            && self.remember_guilds.load(Ordering::Relaxed)
        {
            // Who did it: an audit-log entry, awaited for the window unless
            // the bot cannot read the audit log at all.
            let entry = if readable == Some(false) {
                None
            } else {
                self.attributor.settle(ask).await
            };
            let moderator = entry
                .as_ref()
                .and_then(|e| e.user)
                .map(|id| self.user(translated.guild, id))
                .unwrap_or_else(|| model::actor(0));
            translated.attribute(entry, readable, moderator);
        }
        if let crate::wit::types::Event::MemberUpdate(update) = &translated.event {
            self.timeouts.watch(&self, update.guild_id, &update.after);
        }
        self.deliver_event(
            translated.guild,
            translated.channel,
            translated.actor,
            translated.event,
        )
        .await;
    }

    /// What the memory did not hold of an event's messages, from the store
    /// behind it; then the store follows the event (the new version of an
    /// edit written, deleted messages forgotten).
    async fn recall_stored(&self, mut before: model::Before) -> model::Before {
        use model::Stored;
        match before.stored.take() {
            None => {}
            Some(Stored::Edit(now)) => {
                before.one = self.memory.recall_stored(&[now.id]).await.pop();
                self.memory.persist(now);
            }
            Some(Stored::Delete(id)) => {
                before.one = self.memory.recall_stored(&[id]).await.pop();
                self.memory.forget_stored(vec![id]);
            }
            Some(Stored::Purge(ids)) => {
                before.many.extend(self.memory.recall_stored(&ids).await);
                self.memory.forget_stored(ids);
            }
        }
        before
    }

    /// A user as the guild memory knows them (only the id when it does not).
    fn user(&self, guild: Option<u64>, id: u64) -> crate::wit::types::User {
        guild
            .and_then(|guild| self.guild_memory.member(guild, id))
            .map(|m| m.user)
            .unwrap_or_else(|| model::actor(id))
    }

    /// The event types to parse: interactions, and what the loaded cogs
    /// subscribe to.
    fn subscribed(&self) -> (EventTypeFlags, bool, bool) {
        let mut wanted = EventTypeFlags::INTERACTION_CREATE;
        let mut remember = false;
        let mut remember_guilds = false;
        for cog in self.runtime.registry().list() {
            for kind in &cog.manifest.events {
                let remembers = model::remembers(*kind, cog.facts.version);
                remember |= remembers;
                remember_guilds |= model::remembers_guilds(*kind, cog.facts.version);
                wanted |= model::flags(*kind, remembers);
            }
        }
        if remember_guilds {
            wanted |= model::GUILD_MEMORY_EVENTS;
        }
        (wanted, remember, remember_guilds)
    }

    /// Keep [`Bot::wanted`] in step with the loaded cogs.
    async fn keep_events_wanted(self: Arc<Self>) {
        let mut changes = self.runtime.registry().subscribe();
        loop {
            let (wanted, remember, remember_guilds) = self.subscribed();
            *self.wanted.write() = wanted;
            self.remember.store(remember, Ordering::Relaxed);
            self.remember_guilds
                .store(remember_guilds, Ordering::Relaxed);
            if !remember {
                // No cog needs what messages said any more.
                self.memory.clear();
            }
            if !remember_guilds {
                self.guild_memory.clear();
            }
            if changes.changed().await.is_err() {
                return;
            }
        }
    }

    /// The memories' upkeep: messages written behind to the database (when
    /// there is one and `remember_messages_days` is not 0), trimmed to their
    /// age and per-guild budget every minute; users forgotten on request.
    async fn keep_memories(self: Arc<Self>) {
        let mut forgotten = self.link.forgotten();
        let store = self
            .guilds
            .as_ref()
            .filter(|_| self.config.remember_messages_days > 0)
            .map(|guilds| {
                crate::store::remembered::RememberedMessages::new(guilds.database().clone())
            });
        if let Some(store) = &store {
            self.memory.persist_to(store.clone());
        }
        let max_age = i64::from(self.config.remember_messages_days) * 86_400_000;
        let budget = i64::from(self.config.remember_messages_guild_mib) << 20;
        let mut trim = tokio::time::interval(Duration::from_secs(60));
        loop {
            tokio::select! {
                _ = trim.tick() => {
                    if let Some(store) = &store {
                        match store.trim(max_age, budget).await {
                            Ok(0) => {}
                            Ok(gone) => tracing::debug!(gone, "remembered messages trimmed"),
                            Err(error) => tracing::warn!(%error, "cannot trim the remembered messages"),
                        }
                    }
                }
                user = forgotten.recv() => match user {
                    Ok(user) => {
                        self.memory.forget_author(user);
                        self.guild_memory.forget_user(user);
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(_) => return,
                },
            }
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

/// The gateway's listener: every event on a task of its own.
struct ToBot(Arc<Bot>);

impl Listener for ToBot {
    fn wanted(&self) -> EventTypeFlags {
        *self.0.wanted.read()
    }

    fn on_event(&self, _shard: u32, event: GatewayEvent) {
        // Boxed, each kind on its own: a future's whole layout is copied
        // into the task, and the layout of one future for every kind is
        // that of the largest (the guild and event paths: ~50 KB, against
        // ~19 KB for an interaction; measured with `size_of_val`).
        match event {
            GatewayEvent::InteractionCreate(create) => {
                tokio::spawn(Box::pin(self.0.clone().on_interaction(create.0)));
            }
            GatewayEvent::GuildAuditLogEntryCreate(entry) => {
                // In the order it came: an event after it finds it kept.
                if let Some(guild) = entry.0.guild_id {
                    let entry = crate::discord::attribution::Entry::of(&entry.0);
                    self.0.attributor.entry(guild.get(), entry);
                }
            }
            event => {
                // The memories follow the events in the order they came,
                // before each goes to a task of its own.
                let bot = &self.0;
                let messages = bot.remember.load(Ordering::Relaxed).then_some(&bot.memory);
                let guilds = bot
                    .remember_guilds
                    .load(Ordering::Relaxed)
                    .then_some(&bot.guild_memory);
                let before = if messages.is_some() || guilds.is_some() {
                    let id = bot.session.bot_id.load(Ordering::Relaxed);
                    model::remember(messages, guilds, &event, id)
                } else {
                    model::Before::default()
                };
                tokio::spawn(Box::pin(bot.clone().on_gateway_event(event, before)));
            }
        }
    }
}

/// A connected bot: the gateway's shards and the dispatcher, running until
/// [`Discord::shutdown`] or drop.
pub struct Discord {
    /// The dispatcher.
    pub bot: Arc<Bot>,
    gateway: Gateway,
    registrar: AbortOnDrop,
    events: AbortOnDrop,
    memories: AbortOnDrop,
    timers: Option<AbortOnDrop>,
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
        let remember_bytes = config.remember_messages_mib as usize * 1024 * 1024;
        let remember_members = config.remember_members as usize;
        let attribution_wait = Duration::from_millis(config.attribution_wait_ms.into());
        let bot = Arc::new(Bot {
            runtime,
            link: link.clone(),
            config,
            session: session.clone(),
            monitor: monitor.clone(),
            guilds,
            registrar: commands::Registrar::default(),
            seen: parking_lot::Mutex::new(lru::LruCache::new(
                std::num::NonZeroUsize::new(SEEN_INTERACTIONS).expect("not zero"),
            )),
            switches: Default::default(),
            wanted: parking_lot::RwLock::new(EventTypeFlags::INTERACTION_CREATE),
            memory: crate::discord::memory::MessageMemory::new(remember_bytes),
            remember: Default::default(),
            guild_memory: crate::discord::memory::GuildMemory::new(remember_members),
            remember_guilds: Default::default(),
            attributor: crate::discord::attribution::Attributor::new(attribution_wait),
            timeouts: Default::default(),
            // 100 µs … ~3.3 s, doubling.
            interaction_seconds: prometheus_client::metrics::histogram::Histogram::new(
                prometheus_client::metrics::histogram::exponential_buckets(0.0001, 2.0, 16),
            ),
        });
        let (wanted, remember, remember_guilds) = bot.subscribed();
        *bot.wanted.write() = wanted;
        bot.remember.store(remember, Ordering::Relaxed);
        bot.remember_guilds
            .store(remember_guilds, Ordering::Relaxed);
        let events = AbortOnDrop(tokio::spawn(bot.clone().keep_events_wanted()));
        let memories = AbortOnDrop(tokio::spawn(bot.clone().keep_memories()));
        let timers = bot
            .runtime
            .services()
            .timers
            .clone()
            .map(|timers| AbortOnDrop(tokio::spawn(bot.clone().keep_timers(timers))));
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
            events,
            memories,
            timers,
        })
    }

    /// Close every shard and tell the monitor at once.
    pub async fn shutdown(self) {
        drop(self.registrar);
        drop(self.events);
        drop(self.memories);
        drop(self.timers);
        self.gateway.shutdown().await;
        // What was remembered reaches the store before the process ends.
        self.bot.memory.flush().await;
    }
}
