//! Fair shares between cogs. Every cog gets its own slice of the global
//! invocation slots (`cog_concurrency`), a bounded queue for gateway events
//! (`event_queue`; beyond it events are shed and counted), and CPU only
//! where it does not cost the others:
//!
//! Wasm runs on the host's async workers and yields at every epoch tick.
//! A call that has run longer than `penalty_after_ms`, and every call of a
//! cog *demoted* for doing so (for `penalty_ms` after its last long call),
//! yields through the **low-priority gate** instead: it goes on only once
//! a task on the penalty pool — a thread at the lowest CPU priority (`nice
//! 19`) — has run. When the machine has CPU to spare that is at once; when
//! the host is busy, the kernel runs the busy threads first, so a cog that
//! burns CPU on every message takes what the rest leaves, and the cogs that
//! answer in microseconds keep their latency.
//!
//! A share belongs to the cog's name, so a reload keeps its counters and
//! its place.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

/// One cog's share.
pub struct CogShare {
    slots: Arc<Semaphore>,
    concurrency: u32,
    queued_events: Arc<AtomicU32>,
    shed_events: AtomicU64,
    demotions: AtomicU64,
    /// Milliseconds since `origin` until which the cog is demoted.
    demoted_until: AtomicU64,
    origin: Instant,
}

impl CogShare {
    /// A share of `concurrency` slots.
    pub fn new(concurrency: u32) -> Self {
        let concurrency = concurrency.max(1);
        Self {
            slots: Arc::new(Semaphore::new(concurrency as usize)),
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

    /// Times the cog was demoted to the low-priority gate.
    pub fn demotions(&self) -> u64 {
        self.demotions.load(Ordering::Relaxed)
    }

    /// Whether the cog's calls go through the low-priority gate now.
    pub fn demoted(&self) -> bool {
        self.origin.elapsed().as_millis() as u64 <= self.demoted_until.load(Ordering::Relaxed)
            && self.demoted_until.load(Ordering::Relaxed) != 0
    }

    /// Send the cog's calls through the low-priority gate for `for_` from now.
    pub(crate) fn demote(&self, for_: Duration) {
        let until = (self.origin.elapsed() + for_).as_millis() as u64;
        let before = self.demoted_until.swap(until.max(1), Ordering::AcqRel);
        if before == 0 || before < self.origin.elapsed().as_millis() as u64 {
            self.demotions.fetch_add(1, Ordering::Relaxed);
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

/// The penalty pool: a tokio runtime of its own whose worker threads run
/// at the lowest scheduling priority (`nice 19` on Linux). Long-running
/// calls wait for it at every tick (the gate); it also runs the sweeper of
/// idle warm instances.
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
        let share = CogShare::new(2);
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
        let share = CogShare::new(1);
        assert!(!share.demoted());
        share.demote(Duration::from_millis(50));
        assert!(share.demoted());
        assert_eq!(share.demotions(), 1);
        std::thread::sleep(Duration::from_millis(80));
        assert!(!share.demoted());
    }
}
