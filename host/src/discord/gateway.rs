//! The gateway connection: serenity runs the shards (identify, heartbeats,
//! resumes, reconnects); this module keeps the client's own facts from what
//! arrives — the bot's id and application id, the shard count, which guild
//! each channel is in, which guilds each shard holds — writes every shard's
//! state and latency to the [`ShardMonitor`], and hands every event to a
//! [`Listener`] (the dispatcher). It calls no cog.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use serenity::all::{
    ClientBuilder, Context, Event as GatewayEvent, EventHandler, GatewayIntents, HttpBuilder,
    RawEventHandler, ShardManager, ShardStageUpdateEvent,
};

use super::shards::{self, ShardMonitor};
use super::{DiscordLink, Endpoint};
use crate::config::DiscordConfig;

/// What receives the gateway's events, after the client has taken its facts.
#[async_trait::async_trait]
pub trait Listener: Send + Sync + 'static {
    /// One event from `shard`.
    async fn on_event(&self, shard: u32, event: GatewayEvent);
}

/// What the gateway learned about the session, shared with the dispatcher
/// and the health server.
pub struct Session {
    /// The bot's user id (from READY).
    pub bot_id: AtomicU64,
    /// The bot's shard count (from READY, or the configured total).
    pub total_shards: AtomicU32,
    /// serenity stopped for good (a fatal close code).
    stopped: AtomicBool,
    /// The shards this process runs: `(first, last, total)`; `None` for all.
    shard_range: Option<(u64, u64, u64)>,
    ready: tokio::sync::Notify,
}

impl Session {
    /// A session that will run `shard_range` (`(first, last, total)`; `None`: all).
    pub fn new(shard_range: Option<(u64, u64, u64)>) -> Self {
        Self {
            bot_id: AtomicU64::new(0),
            total_shards: AtomicU32::new(shard_range.map_or(0, |(_, _, total)| total as u32)),
            stopped: AtomicBool::new(false),
            shard_range,
            ready: tokio::sync::Notify::new(),
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

    /// Wait until a shard is ready (returns at once if one was already).
    pub async fn ready(&self) {
        self.ready.notified().await;
    }
}

struct Handler {
    link: Arc<DiscordLink>,
    monitor: Arc<ShardMonitor>,
    session: Arc<Session>,
    listener: Arc<dyn Listener>,
}

impl Handler {
    /// Keep the client's facts: ids, shard count, the channel map, each shard's guilds.
    fn observe(&self, shard: u32, event: &GatewayEvent) {
        match event {
            GatewayEvent::Ready(ready) => {
                self.link
                    .rest
                    .application_id
                    .store(ready.ready.application.id.get(), Ordering::Relaxed);
                self.session
                    .bot_id
                    .store(ready.ready.user.id.get(), Ordering::Relaxed);
                if let Some(info) = ready.ready.shard {
                    self.session
                        .total_shards
                        .store(info.total, Ordering::Relaxed);
                }
                tracing::info!(shard = ?ready.ready.shard.map(|s| s.id.0), guilds = ready.ready.guilds.len(), "shard ready");
                self.session.ready.notify_waiters();
                self.session.ready.notify_one();
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
            }
            GatewayEvent::GuildDelete(delete) if !delete.guild.unavailable => {
                self.monitor.guild_left(shard, delete.guild.id.get());
            }
            GatewayEvent::ChannelCreate(e) => self
                .link
                .note_channel(e.channel.id.get(), Some(e.channel.guild_id.get())),
            GatewayEvent::ThreadCreate(e) => self
                .link
                .note_channel(e.thread.id.get(), Some(e.thread.guild_id.get())),
            GatewayEvent::ChannelDelete(e) => self.link.forget_channel(e.channel.id.get()),
            _ => {}
        }
    }
}

#[serenity::async_trait]
impl RawEventHandler for Handler {
    async fn raw_event(&self, ctx: Context, event: GatewayEvent) {
        let shard = ctx.shard_id.0;
        self.observe(shard, &event);
        self.listener.on_event(shard, event).await;
    }
}

#[serenity::async_trait]
impl EventHandler for Handler {
    /// A shard changed state (connecting, connected, resuming, ...): tell the monitor at once.
    async fn shard_stage_update(&self, _ctx: Context, event: ShardStageUpdateEvent) {
        let (from, to) = (shards::state_name(event.old), shards::state_name(event.new));
        tracing::info!(shard = event.shard_id.0, from, to, "shard state");
        let total = self
            .session
            .total_shards
            .load(Ordering::Relaxed)
            .max(event.shard_id.0 + 1);
        if let Err(error) = self
            .monitor
            .transition(event.shard_id.0, total, from, to)
            .await
        {
            tracing::warn!(%error, "the shard monitor could not write");
        }
    }
}

/// Running shards: they run until [`Gateway::shutdown`] or drop.
pub struct Gateway {
    /// What the gateway learned about the session.
    pub session: Arc<Session>,
    monitor: Arc<ShardMonitor>,
    manager: Arc<ShardManager>,
    task: tokio::task::JoinHandle<()>,
    watcher: tokio::task::JoinHandle<()>,
}

impl Gateway {
    /// Connect to `endpoint` and start the shards (all, or `config.shards`
    /// of `config.total_shards`); every event goes to `listener`.
    pub async fn connect(
        link: Arc<DiscordLink>,
        endpoint: &Endpoint,
        config: &DiscordConfig,
        session: Arc<Session>,
        monitor: Arc<ShardMonitor>,
        listener: Arc<dyn Listener>,
    ) -> anyhow::Result<Self> {
        let range = session.shard_range;
        let mut http = HttpBuilder::new(&endpoint.token);
        if endpoint.simulated {
            // serenity's rate limiter builds URLs without the proxy.
            http = http.proxy(&endpoint.base).ratelimiter_disabled(true);
        }
        let mut intents = GatewayIntents::non_privileged();
        if endpoint.simulated || config.privileged_intents {
            intents |= GatewayIntents::GUILD_MEMBERS | GatewayIntents::MESSAGE_CONTENT;
        }
        let handler = || Handler {
            link: link.clone(),
            monitor: monitor.clone(),
            session: session.clone(),
            listener: listener.clone(),
        };
        let mut client = ClientBuilder::new_with_http(http.build(), intents)
            .raw_event_handler(handler())
            .event_handler(handler())
            .await?;
        let manager = client.shard_manager.clone();
        let stopped = session.clone();
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
        let watcher = tokio::spawn(watch_shards(
            session.clone(),
            monitor.clone(),
            manager.clone(),
        ));
        Ok(Self {
            session,
            monitor,
            manager,
            task,
            watcher,
        })
    }

    /// The shard manager (state and latency per shard).
    pub fn shards(&self) -> &Arc<ShardManager> {
        &self.manager
    }

    /// Close every shard and tell the monitor at once (the records then
    /// say `disconnected` until they age out), rather than leaving other
    /// processes to wait for the time to live.
    pub async fn shutdown(self) {
        self.watcher.abort();
        self.manager.shutdown_all().await;
        self.task.abort();
        let total = self.session.total_shards.load(Ordering::Relaxed);
        for shard in self.monitor.local() {
            let _ = self
                .monitor
                .observe(shard.id, total.max(shard.total), "disconnected", None)
                .await;
        }
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.watcher.abort();
        self.task.abort();
    }
}

/// Write every shard's state and latency to the monitor, once a second.
async fn watch_shards(
    session: Arc<Session>,
    monitor: Arc<ShardMonitor>,
    manager: Arc<ShardManager>,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let shards: Vec<(u32, &'static str, Option<Duration>)> =
            if session.stopped.load(Ordering::Relaxed) {
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
        let stopped: Vec<(u32, &'static str, Option<Duration>)> = monitor
            .local()
            .into_iter()
            .filter(|record| !shards.iter().any(|(id, _, _)| *id == record.id))
            .map(|record| (record.id, "disconnected", None))
            .collect();
        for (id, state, latency) in shards.into_iter().chain(stopped) {
            let total = session.total_shards.load(Ordering::Relaxed).max(id + 1);
            if let Err(error) = monitor.observe(id, total, state, latency).await {
                tracing::warn!(%error, shard = id, "the shard monitor could not write");
            }
        }
    }
}
