//! Fair shares between cogs. Every cog gets its own slice of the global
//! invocation slots (`cog_concurrency`), a bounded queue for gateway events
//! (`event_queue`; beyond it events are shed and counted), and CPU only
//! where it does not cost the others:
//!
//! Wasm yields to the executor at every epoch tick. The host counts the
//! time each call spends computing (running wasm — not waiting in host
//! calls or for the executor). When a cog's running calls have computed
//! for `penalty_after_ms`, one call or many together, or a call runs into a
//! limit, the cog is *demoted* for `penalty_ms`: its calls run two at a
//! time at most, and take turns computing — one computes a tick, rests
//! nineteen, and passes the turn — so the whole cog gets a twentieth of one
//! thread and holds at most two of the global slots. A cog that burns CPU on every
//! message thus competes with itself, and the cogs that answer in
//! microseconds keep their latency. Every call stays on the host's own
//! workers, so the connections its host calls open (database, Redis,
//! Discord) belong to the host's runtime like everyone else's.
//!
//! A share belongs to the cog's name, so a reload keeps its counters and
//! its place.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

/// Calls a demoted cog may run at once.
pub const DEMOTED_CONCURRENCY: usize = 2;

/// One cog's share.
pub struct CogShare {
    cog: String,
    slots: Arc<Semaphore>,
    /// One at a time: the cog's long calls still on the host's workers take
    /// turns computing (see the epoch callback in `runtime::invoke`).
    main_gate: Arc<Semaphore>,
    /// Microseconds its running calls have computed so far, together.
    inflight_us: AtomicU64,
    /// A demoted cog's calls run two at a time at most.
    demoted_slots: Arc<Semaphore>,
    concurrency: u32,
    queued_events: Arc<AtomicU32>,
    /// Events shed per guild, for the guilds that shed most lately (a cog's
    /// health page says which guild floods).
    shed_by_guild: parking_lot::Mutex<lru::LruCache<u64, u64>>,
    /// Events waiting or running per guild (0: outside guilds).
    queued_by_guild: Arc<parking_lot::Mutex<std::collections::HashMap<u64, GuildQueue>>>,
    shed_events: AtomicU64,
    demotions: AtomicU64,
    /// Milliseconds since `origin` until which the cog is demoted.
    demoted_until: AtomicU64,
    origin: Instant,
}

impl CogShare {
    /// The share of `cog`: `concurrency` slots.
    pub fn new(cog: &str, concurrency: u32) -> Self {
        let concurrency = concurrency.max(1);
        Self {
            cog: cog.to_string(),
            slots: Arc::new(Semaphore::new(concurrency as usize)),
            main_gate: Arc::new(Semaphore::new(1)),
            inflight_us: AtomicU64::new(0),
            demoted_slots: Arc::new(Semaphore::new(DEMOTED_CONCURRENCY)),
            concurrency,
            queued_events: Arc::new(AtomicU32::new(0)),
            queued_by_guild: Default::default(),
            shed_by_guild: parking_lot::Mutex::new(lru::LruCache::new(
                std::num::NonZeroUsize::new(SHED_GUILDS).expect("not zero"),
            )),
            shed_events: AtomicU64::new(0),
            demotions: AtomicU64::new(0),
            demoted_until: AtomicU64::new(0),
            origin: Instant::now(),
        }
    }

    /// Wait for one of the cog's own slots.
    pub(crate) async fn slot(&self) -> tokio::sync::OwnedSemaphorePermit {
        self.slots
            .clone()
            .acquire_owned()
            .await
            .expect("a cog's slots are never closed")
    }

    /// Count `micros` computed by one of its running calls; what its
    /// running calls have computed together.
    pub(crate) fn computed(&self, micros: u64) -> u64 {
        self.inflight_us.fetch_add(micros, Ordering::AcqRel) + micros
    }

    /// A call that computed `micros` has ended.
    pub(crate) fn call_ended(&self, micros: u64) {
        let _ = self
            .inflight_us
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |t| {
                Some(t.saturating_sub(micros))
            });
    }

    /// Wait for one of the slots a demoted cog's calls share.
    pub(crate) async fn demoted_slot(&self) -> tokio::sync::OwnedSemaphorePermit {
        self.demoted_slots
            .clone()
            .acquire_owned()
            .await
            .expect("a cog's slots are never closed")
    }

    /// Wait for the cog's turn to compute on the host's workers.
    pub(crate) async fn main_turn(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        self.main_gate.clone().acquire_owned().await.ok()
    }

    /// Its slots.
    pub fn concurrency(&self) -> u32 {
        self.concurrency
    }

    /// Invocations of this cog running right now.
    pub fn running(&self) -> u32 {
        self.concurrency - self.slots.available_permits() as u32
    }

    /// Take a place in the cog's event queue for an event of `guild`, or
    /// `None` when there is none (the event is then shed and counted). The
    /// place is given back when the ticket is dropped. Places are kept per
    /// guild: a guild gets one while it holds fewer than
    /// `limits.per_guild`, and while the cog's queue holds fewer than
    /// `limits.per_cog` (beyond those running) — or, whatever the cog's
    /// queue holds, while the guild holds less than its fair share of it
    /// (`per_cog` split among the guilds in the queue, at least
    /// [`GUILD_RESERVE`]), so one guild's flood never sheds a quiet guild's
    /// events; and while all cogs' queues together (`total`) hold fewer
    /// than `limits.total`.
    pub fn enqueue_event(
        &self,
        guild: Option<u64>,
        limits: EventLimits,
        total: &Arc<AtomicU32>,
    ) -> Option<EventTicket> {
        let key = guild.unwrap_or(0);
        let mut by_guild = self.queued_by_guild.lock();
        let held = by_guild.get(&key).map_or(0, |q| q.held);
        let queued = self.queued_events.load(Ordering::Acquire);
        let cog_full = queued >= limits.per_cog.saturating_add(self.concurrency);
        // With the cog's queue full, a guild still gets in below its fair
        // share of it (the queue split among the guilds in it, at least
        // the reserve): the guilds holding more — the flood — are shed.
        let guilds = by_guild.len() as u32 + u32::from(!by_guild.contains_key(&key));
        let fair_share = (limits.per_cog / guilds.max(1)).max(GUILD_RESERVE);
        let admitted = held < limits.per_guild.saturating_add(self.concurrency)
            && (!cog_full || held < fair_share)
            && total.load(Ordering::Acquire) < limits.total;
        if !admitted {
            drop(by_guild);
            self.shed_events.fetch_add(1, Ordering::Relaxed);
            *self.shed_by_guild.lock().get_or_insert_mut(key, || 0) += 1;
            return None;
        }
        let queue = by_guild.entry(key).or_insert_with(|| GuildQueue {
            held: 0,
            // A guild runs at most half the cog's slots at once: its
            // flood waits here, not in the cog's queue, where another
            // guild's event would wait behind all of it.
            turns: Arc::new(Semaphore::new((self.concurrency as usize).div_ceil(2))),
        });
        queue.held += 1;
        let turns = queue.turns.clone();
        drop(by_guild);
        self.queued_events.fetch_add(1, Ordering::AcqRel);
        total.fetch_add(1, Ordering::AcqRel);
        Some(EventTicket {
            cog: self.queued_events.clone(),
            by_guild: self.queued_by_guild.clone(),
            guild: key,
            total: total.clone(),
            turns,
        })
    }

    /// Events of `guild` shed so far (0 once the guild is no longer among
    /// the [`SHED_GUILDS`] that shed most lately).
    pub fn shed_events_of(&self, guild: Option<u64>) -> u64 {
        self.shed_by_guild
            .lock()
            .peek(&guild.unwrap_or(0))
            .copied()
            .unwrap_or(0)
    }

    /// Events of `guild` waiting or running now.
    pub fn queued_events_of(&self, guild: Option<u64>) -> u32 {
        self.queued_by_guild
            .lock()
            .get(&guild.unwrap_or(0))
            .map_or(0, |q| q.held)
    }

    /// Events waiting or running now.
    pub fn queued_events(&self) -> u32 {
        self.queued_events.load(Ordering::Relaxed)
    }

    /// Events shed so far because the queue was full.
    pub fn shed_events(&self) -> u64 {
        self.shed_events.load(Ordering::Relaxed)
    }

    /// Times the cog was demoted.
    pub fn demotions(&self) -> u64 {
        self.demotions.load(Ordering::Relaxed)
    }

    /// Whether the cog is demoted now.
    pub fn demoted(&self) -> bool {
        self.origin.elapsed().as_millis() as u64 <= self.demoted_until.load(Ordering::Relaxed)
            && self.demoted_until.load(Ordering::Relaxed) != 0
    }

    /// Demote the cog for `for_` from now.
    pub(crate) fn demote(&self, for_: Duration) {
        let until = (self.origin.elapsed() + for_).as_millis() as u64;
        let before = self.demoted_until.swap(until.max(1), Ordering::AcqRel);
        if before == 0 || before < self.origin.elapsed().as_millis() as u64 {
            self.demotions.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                cog = %self.cog,
                demoted_for_s = for_.as_secs(),
                "a cog computed for long or ran into a limit; its calls take turns at a twentieth of a thread for a while"
            );
        }
    }
}

/// Guilds whose shed events a cog counts apart (the most recent).
pub const SHED_GUILDS: usize = 1_024;

/// A guild holding fewer events than this in a cog's queue always gets a
/// place, even when the cog's queue is full of other guilds' events.
pub const GUILD_RESERVE: u32 = 8;

/// How many events may wait (beyond those running).
#[derive(Debug, Clone, Copy)]
pub struct EventLimits {
    /// For one cog and one guild.
    pub per_guild: u32,
    /// For one cog.
    pub per_cog: u32,
    /// For all cogs together.
    pub total: u32,
}

impl EventLimits {
    /// The limits of `[runtime]`.
    pub fn of(config: &crate::config::RuntimeConfig) -> Self {
        Self {
            per_guild: config.event_queue_per_guild,
            per_cog: config.event_queue,
            total: config.event_queue_total,
        }
    }
}

/// One guild's events in a cog's queue.
struct GuildQueue {
    /// Waiting or running.
    held: u32,
    /// Turns to run: half the cog's slots.
    turns: Arc<Semaphore>,
}

/// A place in a cog's event queue.
pub struct EventTicket {
    cog: Arc<AtomicU32>,
    by_guild: Arc<parking_lot::Mutex<std::collections::HashMap<u64, GuildQueue>>>,
    guild: u64,
    total: Arc<AtomicU32>,
    turns: Arc<Semaphore>,
}

impl EventTicket {
    /// Wait for the guild's turn to run the event: a guild's events take
    /// at most half the cog's slots, so a flood in one guild waits in its
    /// own line and another guild's event reaches the cog's queue behind
    /// at most those few. Hold the permit while the event runs.
    pub async fn turn(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        self.turns.clone().acquire_owned().await.ok()
    }
}

impl Drop for EventTicket {
    fn drop(&mut self) {
        self.cog.fetch_sub(1, Ordering::AcqRel);
        self.total.fetch_sub(1, Ordering::AcqRel);
        let mut by_guild = self.by_guild.lock();
        if let Some(queue) = by_guild.get_mut(&self.guild) {
            queue.held -= 1;
            if queue.held == 0 {
                by_guild.remove(&self.guild);
            }
        }
    }
}

/// A housekeeping thread at the lowest scheduling priority (`nice 19` on
/// Linux), with a tokio runtime of its own: it runs the sweeper of idle
/// warm instances, off the host's workers.
pub(crate) struct Housekeeping {
    runtime: Option<tokio::runtime::Runtime>,
}

impl Housekeeping {
    pub(crate) fn start(threads: usize) -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads.max(1))
            .thread_name("housekeeping")
            .on_thread_start(lower_priority)
            .enable_all()
            .build()?;
        Ok(Self {
            runtime: Some(runtime),
        })
    }

    pub(crate) fn handle(&self) -> &tokio::runtime::Handle {
        self.runtime
            .as_ref()
            .expect("housekeeping lives as long as the runtime")
            .handle()
    }
}

impl Drop for Housekeeping {
    fn drop(&mut self) {
        // Dropping a runtime blocks; the host may be dropped inside async code.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority on the calling thread's id only changes its nice value.
    unsafe {
        let tid = libc::gettid();
        libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, 19);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_event_queue_is_bounded_and_given_back() {
        let share = CogShare::new("x", 2);
        let total = Arc::new(AtomicU32::new(0));
        let limits = EventLimits {
            per_guild: 100,
            per_cog: 3,
            total: 1_000,
        };
        // 2 running + 3 waiting fill the cog's queue; one guild alone then
        // still has its reserve, and no more.
        let tickets: Vec<_> = (0..10)
            .filter_map(|_| share.enqueue_event(None, limits, &total))
            .collect();
        assert_eq!(tickets.len(), GUILD_RESERVE as usize);
        assert_eq!(share.shed_events(), 10 - u64::from(GUILD_RESERVE));
        drop(tickets);
        assert_eq!(share.queued_events(), 0);
        assert_eq!(total.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn one_guilds_flood_does_not_shed_another_guilds_events() {
        let share = CogShare::new("x", 1);
        let total = Arc::new(AtomicU32::new(0));
        let limits = EventLimits {
            per_guild: 16,
            per_cog: 32,
            total: 10_000,
        };
        // Guild 1 floods: it gets its own allowance, and no more.
        let flood: Vec<_> = (0..1_000)
            .filter_map(|_| share.enqueue_event(Some(1), limits, &total))
            .collect();
        assert_eq!(flood.len(), 17, "16 waiting + 1 running");
        assert_eq!(share.shed_events(), 1_000 - 17);
        assert_eq!(share.shed_events_of(Some(1)), 1_000 - 17);
        // Guild 2 gets in; and with the cog's queue full of many guilds,
        // a quiet guild still gets its reserve.
        let mut others: Vec<_> = (2..10u64)
            .flat_map(|g| std::iter::repeat_n(g, 10))
            .filter_map(|g| share.enqueue_event(Some(g), limits, &total))
            .collect();
        assert!(share.queued_events() > 33, "past the cog's own limit");
        let quiet = share.enqueue_event(Some(99), limits, &total);
        assert!(
            quiet.is_some(),
            "a quiet guild's event is never shed for others'"
        );
        others.push(quiet.unwrap());
        assert_eq!(share.queued_events_of(Some(99)), 1);
        assert_eq!(share.shed_events_of(Some(99)), 0);
        // The total bounds everything.
        let tight = EventLimits {
            total: total.load(Ordering::Relaxed),
            ..limits
        };
        assert!(share.enqueue_event(Some(100), tight, &total).is_none());
        drop(flood);
        drop(others);
        assert_eq!(
            (share.queued_events(), total.load(Ordering::Relaxed)),
            (0, 0)
        );
    }

    #[test]
    fn demotion_expires() {
        let share = CogShare::new("test", 1);
        assert!(!share.demoted());
        share.demote(Duration::from_millis(50));
        assert!(share.demoted());
        assert_eq!(share.demotions(), 1);
        std::thread::sleep(Duration::from_millis(80));
        assert!(!share.demoted());
    }
}
