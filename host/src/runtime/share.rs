//! Fair shares between cogs. Every cog gets its own slice of the global
//! invocation slots (`cog_concurrency`), a bounded queue for gateway events
//! (`event_queue`; beyond it events are shed and counted), and CPU only
//! where it does not cost the others:
//!
//! Wasm yields to the executor at every epoch tick. When a cog's running
//! calls have computed for longer than `penalty_after_ms` — one call, or
//! many together — the cog is *demoted* for `penalty_ms`: from then on
//! its calls run on the **low-priority pool**, a tokio runtime of its own
//! whose threads run at the lowest CPU priority (`nice 19`), so the kernel
//! runs them only with the CPU the rest of the host leaves. The long calls
//! still on the host's own workers when that happens take turns: one of
//! them computes for a tick, rests four, and passes the turn — a fifth of
//! one thread for the whole cog, until they end or meet their deadline. A cog that burns CPU on every message thus competes with
//! itself, and the cogs that answer in microseconds keep their latency.
//!
//! A share belongs to the cog's name, so a reload keeps its counters and
//! its place.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

/// One cog's share.
pub struct CogShare {
    cog: String,
    slots: Arc<Semaphore>,
    /// One at a time: the cog's long calls still on the host's workers take
    /// turns computing (see the epoch callback in `runtime::invoke`).
    main_gate: Arc<Semaphore>,
    /// Epoch ticks its running calls have computed so far, together.
    inflight_ticks: AtomicU32,
    concurrency: u32,
    queued_events: Arc<AtomicU32>,
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
            inflight_ticks: AtomicU32::new(0),
            concurrency,
            queued_events: Arc::new(AtomicU32::new(0)),
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

    /// Count a tick computed by one of its running calls; the ticks its
    /// running calls have computed together.
    pub(crate) fn tick(&self) -> u32 {
        self.inflight_ticks.fetch_add(1, Ordering::AcqRel) + 1
    }

    /// A call that computed `ticks` ticks has ended.
    pub(crate) fn call_ended(&self, ticks: u32) {
        let _ = self
            .inflight_ticks
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |t| {
                Some(t.saturating_sub(ticks))
            });
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

    /// Take a place in the cog's event queue, or `None` when `limit`
    /// events are already waiting or running (the event is then shed and
    /// counted). The place is given back when the ticket is dropped.
    pub fn enqueue_event(&self, limit: u32) -> Option<EventTicket> {
        let queued = self.queued_events.fetch_add(1, Ordering::AcqRel);
        if queued >= limit.saturating_add(self.concurrency) {
            self.queued_events.fetch_sub(1, Ordering::AcqRel);
            self.shed_events.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        Some(EventTicket(self.queued_events.clone()))
    }

    /// Events waiting or running now.
    pub fn queued_events(&self) -> u32 {
        self.queued_events.load(Ordering::Relaxed)
    }

    /// Events shed so far because the queue was full.
    pub fn shed_events(&self) -> u64 {
        self.shed_events.load(Ordering::Relaxed)
    }

    /// Times the cog was demoted to the low-priority pool.
    pub fn demotions(&self) -> u64 {
        self.demotions.load(Ordering::Relaxed)
    }

    /// Whether the cog's calls run on the low-priority pool now.
    pub fn demoted(&self) -> bool {
        self.origin.elapsed().as_millis() as u64 <= self.demoted_until.load(Ordering::Relaxed)
            && self.demoted_until.load(Ordering::Relaxed) != 0
    }

    /// Run the cog's calls on the low-priority pool for `for_` from now.
    pub(crate) fn demote(&self, for_: Duration) {
        let until = (self.origin.elapsed() + for_).as_millis() as u64;
        let before = self.demoted_until.swap(until.max(1), Ordering::AcqRel);
        if before == 0 || before < self.origin.elapsed().as_millis() as u64 {
            self.demotions.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                cog = %self.cog,
                demoted_for_s = for_.as_secs(),
                "a cog's call computed for long; its calls run on the low-priority pool for a while"
            );
        }
    }
}

/// A place in a cog's event queue.
pub struct EventTicket(Arc<AtomicU32>);

impl Drop for EventTicket {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The low-priority pool: a tokio runtime of its own whose worker threads
/// run at the lowest scheduling priority (`nice 19` on Linux). Demoted
/// cogs' calls run there; so does the sweeper of idle warm instances.
pub(crate) struct PenaltyPool {
    runtime: Option<tokio::runtime::Runtime>,
}

impl PenaltyPool {
    pub(crate) fn start(threads: usize) -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads.max(1))
            .thread_name("cog-penalty")
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
            .expect("the penalty pool lives as long as the runtime")
            .handle()
    }
}

impl Drop for PenaltyPool {
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
        let share = CogShare::new("test", 2);
        let tickets: Vec<_> = (0..5).filter_map(|_| share.enqueue_event(3)).collect();
        assert_eq!(tickets.len(), 5);
        assert!(share.enqueue_event(3).is_none());
        assert_eq!(share.shed_events(), 1);
        drop(tickets);
        assert_eq!(share.queued_events(), 0);
        assert!(share.enqueue_event(3).is_some());
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
