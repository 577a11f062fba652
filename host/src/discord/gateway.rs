//! The gateway connection: twilight runs each shard (identify, heartbeats,
//! resumes, reconnects) and parses only the event types asked for — the
//! client's own and what the listener wants (interactions, and the events
//! loaded cogs subscribe to); everything else is skipped unread. This
//! module keeps the client's facts from what arrives — the bot's id and
//! application id, the shard count, which guild each channel is in, which
//! guilds each shard holds — writes every shard's state and latency to the
//! [`ShardMonitor`], and hands every event to a [`Listener`] (the
//! dispatcher). It calls no cog.
//!
//! One task per shard reads its events; a shard whose session ends for
//! good (a fatal close code such as 4004, a bad token) stays recorded as
//! `disconnected` until the process stops.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use http::Method;
use twilight_gateway::error::ReceiveMessageErrorType;
use twilight_gateway::queue::InMemoryQueue;
use twilight_gateway::{
    CloseFrame, ConfigBuilder, Event, EventTypeFlags, Intents, MessageSender, Shard, ShardId,
};

use super::rest::Body;
use super::shards::{self, ShardMonitor};
use super::{DiscordLink, Endpoint};
use crate::config::DiscordConfig;

/// The event types the client reads for its own facts, whatever the
/// listener wants. The connection's own messages (HELLO, RECONNECT,
/// INVALID_SESSION, RESUMED) are read so that the shard's state is looked
/// at after each step of a reconnect: closed → resuming or identifying →
/// connected.
pub const OWN_EVENTS: EventTypeFlags = EventTypeFlags::READY
    .union(EventTypeFlags::RESUMED)
    .union(EventTypeFlags::GATEWAY_HELLO)
    .union(EventTypeFlags::GATEWAY_RECONNECT)
    .union(EventTypeFlags::GATEWAY_INVALIDATE_SESSION)
    .union(EventTypeFlags::GUILD_CREATE)
    .union(EventTypeFlags::GUILD_UPDATE)
    .union(EventTypeFlags::GUILD_DELETE)
    .union(EventTypeFlags::CHANNEL_CREATE)
    .union(EventTypeFlags::CHANNEL_DELETE)
    .union(EventTypeFlags::THREAD_CREATE);

/// What receives the gateway's events, after the client has taken its facts.
pub trait Listener: Send + Sync + 'static {
    /// The event types to parse beyond [`OWN_EVENTS`] (asked before each
    /// event, so it may change while the shards run).
    fn wanted(&self) -> EventTypeFlags;
    /// One event from `shard`. Called on the shard's reading task: it must
    /// not wait (spawn what takes time).
    fn on_event(&self, shard: u32, event: Event);
}

/// What the gateway learned about the session, shared with the dispatcher
/// and the health server.
pub struct Session {
    /// The bot's user id (from READY).
    pub bot_id: AtomicU64,
    /// The bot's shard count (from READY, or the configured total).
    pub total_shards: AtomicU32,
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
            shard_range,
            ready: tokio::sync::Notify::new(),
        }
    }

    /// The shard ids this process should run (empty until the shard count
    /// is known to a process running all of them).
    pub fn expected_shards(&self) -> Vec<u32> {
        match self.shard_range {
            Some((first, last, _)) => (first as u32..=last as u32).collect(),
            None => (0..self.total_shards.load(Ordering::Relaxed)).collect(),
        }
    }

    /// Whether this process runs the shard of `guild` (Discord's rule:
    /// `(guild >> 22) % shards`).
    pub fn runs_guild(&self, guild: u64) -> bool {
        match self.shard_range {
            None => true,
            Some((first, last, total)) => {
                let shard = (guild >> 22) % total.max(1);
                (first..=last).contains(&shard)
            }
        }
    }

    /// Wait until a shard is ready (returns at once if one was already).
    pub async fn ready(&self) {
        self.ready.notified().await;
    }
}

/// What every shard's task shares.
struct Context {
    link: Arc<DiscordLink>,
    monitor: Arc<ShardMonitor>,
    session: Arc<Session>,
    listener: Arc<dyn Listener>,
}

impl Context {
    /// Keep the client's facts: ids, shard count, the channel map, each shard's guilds.
    fn observe(&self, shard: u32, event: &Event) {
        match event {
            Event::Ready(ready) => {
                self.link
                    .rest
                    .application_id
                    .store(ready.application.id.get(), Ordering::Relaxed);
                self.session
                    .bot_id
                    .store(ready.user.id.get(), Ordering::Relaxed);
                if let Some(info) = ready.shard {
                    self.session
                        .total_shards
                        .store(info.total(), Ordering::Relaxed);
                }
                tracing::info!(shard, guilds = ready.guilds.len(), "shard ready");
                self.session.ready.notify_waiters();
                self.session.ready.notify_one();
            }
            Event::GuildCreate(create) => {
                self.monitor.guild_joined(shard, create.id().get());
                if let twilight_model::gateway::payload::incoming::GuildCreate::Available(guild) =
                    &**create
                {
                    for channel in guild.channels.iter().chain(&guild.threads) {
                        self.link
                            .note_channel(channel.id.get(), Some(guild.id.get()));
                    }
                }
            }
            Event::GuildDelete(delete) if !delete.unavailable.unwrap_or(false) => {
                self.monitor.guild_left(shard, delete.id.get());
            }
            Event::ChannelCreate(e) => self
                .link
                .note_channel(e.id.get(), e.guild_id.map(|g| g.get())),
            Event::ThreadCreate(e) => self
                .link
                .note_channel(e.id.get(), e.guild_id.map(|g| g.get())),
            Event::ChannelDelete(e) => self.link.forget_channel(e.id.get()),
            _ => {}
        }
    }

    fn total(&self, shard: u32) -> u32 {
        self.session
            .total_shards
            .load(Ordering::Relaxed)
            .max(shard + 1)
    }

    /// Read one shard's events until it closes for good; its state goes to
    /// the monitor when it changes and, with its latency, once a second.
    async fn run(self: Arc<Self>, mut shard: Shard) {
        let id = shard.id().number();
        let mut reported = shards::state_name(shard.state());
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let wanted = OWN_EVENTS | self.listener.wanted();
            tokio::select! {
                item = next_event(&mut shard, wanted) => match item {
                    None => break,
                    Some(Ok(event)) => {
                        self.observe(id, &event);
                        let connection = matches!(
                            event,
                            Event::GatewayClose(_)
                                | Event::GatewayHello(_)
                                | Event::GatewayReconnect
                                | Event::GatewayInvalidateSession(_)
                                | Event::Resumed
                        );
                        if !connection {
                            self.listener.on_event(id, event);
                        }
                    }
                    Some(Err(error)) => {
                        let what = match error.kind() {
                            ReceiveMessageErrorType::Deserializing { event } => {
                                tracing::debug!(shard = id, payload = %event, "the unreadable gateway payload");
                                format!("unreadable event {}", event_name(event))
                            }
                            ReceiveMessageErrorType::Reconnect => "reconnect failed".into(),
                            _ => "receive failed".into(),
                        };
                        let cause = std::error::Error::source(&error).map(ToString::to_string);
                        tracing::warn!(shard = id, what, cause, "a gateway message was skipped");
                    }
                },
                _ = tick.tick() => {
                    let latency = shard.latency().recent().first().copied();
                    self.write(id, reported, latency).await;
                    continue;
                }
            }
            let now = shards::state_name(shard.state());
            if now != reported {
                tracing::info!(shard = id, from = reported, to = now, "shard state");
                if let Err(error) = self
                    .monitor
                    .transition(id, self.total(id), reported, now)
                    .await
                {
                    tracing::warn!(%error, "the shard monitor could not write");
                }
                reported = now;
            }
        }
        tracing::error!(
            shard = id,
            state = ?shard.state(),
            "the shard closed for good (a fatal close code); this process no longer runs it"
        );
        // Keep saying so, rather than letting the record age out as if
        // the process had died.
        loop {
            self.write(id, "disconnected", None).await;
            tick.tick().await;
        }
    }

    async fn write(&self, id: u32, state: &'static str, latency: Option<Duration>) {
        if let Err(error) = self
            .monitor
            .observe(id, self.total(id), state, latency)
            .await
        {
            tracing::warn!(%error, shard = id, "the shard monitor could not write");
        }
    }
}

/// The next event of `shard` that is `wanted`, as twilight's
/// `StreamExt::next_event` reads it — but for GUILD_STICKERS_UPDATE, which
/// twilight 0.18 drops unparsed (its event-name table lacks it, so its
/// filter never matches): read here from the raw message.
async fn next_event(
    shard: &mut Shard,
    wanted: EventTypeFlags,
) -> Option<Result<Event, twilight_gateway::error::ReceiveMessageError>> {
    use futures_util::StreamExt as _;
    use serde::de::DeserializeSeed as _;
    use twilight_gateway::Message;
    use twilight_model::gateway::event::GatewayEventDeserializer;
    loop {
        let json = match shard.next().await? {
            Ok(Message::Close(frame)) => return Some(Ok(Event::GatewayClose(frame))),
            Ok(Message::Text(json)) => json,
            Err(error) => return Some(Err(error)),
        };
        // Only while stickers are wanted is a message's header read here
        // (twilight reads it again in `parse`).
        let stickers = wanted
            .contains(EventTypeFlags::GUILD_STICKERS_UPDATE)
            .then(|| GatewayEventDeserializer::from_json(&json))
            .flatten()
            .filter(|d| d.event_type() == Some("GUILD_STICKERS_UPDATE"));
        if let Some(deserializer) = stickers {
            let mut reader = serde_json::Deserializer::from_str(&json);
            match deserializer.deserialize(&mut reader) {
                Ok(event) => return Some(Ok(event.into())),
                Err(error) => {
                    tracing::warn!(%error, "an unreadable GUILD_STICKERS_UPDATE was skipped");
                    continue;
                }
            }
        }
        if let Some(event) = twilight_gateway::parse(json, wanted).transpose() {
            return Some(event.map(Into::into));
        }
    }
}

/// The `t` of a raw gateway payload, for a log line (not the payload itself).
fn event_name(json: &str) -> String {
    twilight_model::gateway::event::GatewayEventDeserializer::from_json(json)
        .and_then(|d| d.event_type().map(str::to_string))
        .unwrap_or_else(|| "(not a gateway payload)".into())
}

/// The intents the bot asks for: every non-privileged one, and members and
/// message content where the operator enabled them (always on the simulator).
fn intents(endpoint: &Endpoint, config: &DiscordConfig) -> Intents {
    let privileged = Intents::GUILD_MEMBERS | Intents::GUILD_PRESENCES | Intents::MESSAGE_CONTENT;
    let mut intents = Intents::all().difference(privileged);
    if endpoint.simulated || config.privileged_intents {
        intents |= Intents::GUILD_MEMBERS | Intents::MESSAGE_CONTENT;
    }
    intents
}

/// Running shards: they run until [`Gateway::shutdown`] or drop.
pub struct Gateway {
    /// What the gateway learned about the session.
    pub session: Arc<Session>,
    monitor: Arc<ShardMonitor>,
    senders: Vec<(u32, MessageSender)>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Gateway {
    /// Connect to `endpoint` and start the shards (all, as Discord
    /// recommends, or `config.shards` of `config.total_shards`); every
    /// event goes to `listener`.
    pub async fn connect(
        link: Arc<DiscordLink>,
        endpoint: &Endpoint,
        config: &DiscordConfig,
        session: Arc<Session>,
        monitor: Arc<ShardMonitor>,
        listener: Arc<dyn Listener>,
    ) -> anyhow::Result<Self> {
        // How many shards, and how many may identify at once.
        let info = link
            .rest
            .call(
                None,
                Method::GET,
                "/gateway/bot",
                Body::Empty,
                Instant::now() + Duration::from_secs(10),
            )
            .await
            .map_err(|error| anyhow::anyhow!("cannot ask Discord for the gateway: {error}"))?;
        let limit = &info["session_start_limit"];
        let concurrency = limit["max_concurrency"].as_u64().unwrap_or(1).max(1) as u16;
        let starts = limit["total"].as_u64().unwrap_or(1_000) as u32;
        let remaining = (limit["remaining"].as_u64().unwrap_or(1_000) as u32).min(starts);
        let reset_after = Duration::from_millis(limit["reset_after"].as_u64().unwrap_or(0));
        let (ids, total) = match session.shard_range {
            Some((first, last, total)) => ((first as u32..=last as u32).collect(), total as u32),
            None => {
                let total = info["shards"].as_u64().unwrap_or(1).max(1) as u32;
                ((0..total).collect::<Vec<u32>>(), total)
            }
        };
        session.total_shards.store(total, Ordering::Relaxed);
        let queue = InMemoryQueue::new(concurrency, remaining, reset_after, starts);
        let mut builder =
            ConfigBuilder::new(endpoint.token.clone(), intents(endpoint, config)).queue(queue);
        if endpoint.simulated {
            let address = endpoint
                .base
                .split_once("://")
                .map_or(endpoint.base.as_str(), |(_, rest)| rest)
                .trim_end_matches('/');
            builder = builder.proxy_url(format!("ws://{address}"));
        }
        let shared = builder.build();
        let context = Arc::new(Context {
            link,
            monitor: monitor.clone(),
            session: session.clone(),
            listener,
        });
        let mut senders = Vec::new();
        let mut tasks = Vec::new();
        for id in ids {
            let shard = Shard::with_config(ShardId::new(id, total), shared.clone());
            senders.push((id, shard.sender()));
            tasks.push(tokio::spawn(context.clone().run(shard)));
        }
        Ok(Self {
            session,
            monitor,
            senders,
            tasks,
        })
    }

    /// Close every shard and tell the monitor at once (the records then
    /// say `disconnected` until they age out), rather than leaving other
    /// processes to wait for the time to live.
    pub async fn shutdown(mut self) {
        for (_, sender) in &self.senders {
            let _ = sender.close(CloseFrame::NORMAL);
        }
        // Give the close frames a moment to go out.
        tokio::time::sleep(Duration::from_millis(100)).await;
        for task in self.tasks.drain(..) {
            task.abort();
        }
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
        for task in &self.tasks {
            task.abort();
        }
    }
}
