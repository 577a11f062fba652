//! What a cog's calls cost in CPU, charged to its share ([`super::share`]).
//!
//! A call (or a spare's warm-up) runs as a future on some thread; every
//! poll of it runs on one thread from start to end, and a call that
//! computes yields at every epoch tick, so no poll lasts longer than a
//! tick. The time a poll took on its thread's CPU clock is what the call
//! computed then: its wasm and the host work done for it in that poll —
//! not time it waited (a host call to the database ends the poll), and not
//! time the thread was preempted, which a wall clock would count (on a busy
//! machine that made many short calls of a cheap cog add up to a penalty).
//! Two clock reads per poll, about half a microsecond each; a host call
//! that completes without waiting costs none.
//!
//! When a call's own computing, or that of the cog's running calls
//! together, reaches `penalty_after_ms`, the cog is demoted.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use super::share::CogShare;

/// The CPU time the calling thread has used (`CLOCK_THREAD_CPUTIME_ID`,
/// through libc, which the host already links: no crate does more than
/// this one call); `None` where there is no per-thread CPU clock.
pub(crate) fn thread_cpu() -> Option<Duration> {
    #[cfg(unix)]
    {
        let mut now = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime writes one timespec through a valid pointer.
        let done = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
        (done == 0).then(|| Duration::new(now.tv_sec as u64, now.tv_nsec as u32))
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// Where one call's computing is charged.
pub(crate) struct Account {
    /// Microseconds this call computed (read when it ends).
    pub(crate) computed_us: Arc<AtomicU64>,
    /// The cog's share: its running total, and its demotion.
    pub(crate) share: Option<Arc<CogShare>>,
    /// Computing (one call, or the running calls together) that demotes.
    pub(crate) after: Duration,
    /// How long a demotion lasts.
    pub(crate) penalty: Duration,
    /// This call demoted the cog, or found it demoted: nothing more to do.
    pub(crate) settled: bool,
}

impl Account {
    /// Charge `spent` of computing; demote the cog when its calls have
    /// computed for long.
    fn charge(&mut self, spent: Duration) {
        let micros = spent.as_micros() as u64;
        if micros == 0 {
            return;
        }
        let mine = self.computed_us.fetch_add(micros, Ordering::AcqRel) + micros;
        let Some(share) = &self.share else {
            return;
        };
        let together = share.computed(micros);
        if self.settled {
            return;
        }
        if share.demoted() {
            self.settled = true;
        } else if mine.max(together) >= self.after.as_micros() as u64 {
            self.settled = true;
            share.demote(self.penalty);
        }
    }
}

pin_project_lite::pin_project! {
    /// `inner`, with the CPU time of each of its polls charged to `account`.
    pub(crate) struct Charged<F> {
        #[pin]
        inner: F,
        account: Account,
    }
}

impl<F> Charged<F> {
    pub(crate) fn new(inner: F, account: Account) -> Self {
        Self { inner, account }
    }
}

impl<F: Future> Future for Charged<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let (cpu, wall) = (thread_cpu(), Instant::now());
        let answer = this.inner.poll(cx);
        let spent = match cpu.zip(thread_cpu()) {
            Some((before, after)) => after.saturating_sub(before),
            // No thread clock here: the poll's wall-clock time.
            None => wall.elapsed(),
        };
        this.account.charge(spent);
        answer
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(share: &Arc<CogShare>) -> Account {
        Account {
            computed_us: Arc::default(),
            share: Some(share.clone()),
            after: Duration::from_millis(100),
            penalty: Duration::from_secs(30),
            settled: false,
        }
    }

    #[tokio::test]
    async fn a_poll_is_charged_its_cpu_not_its_sleep() {
        let share = Arc::new(CogShare::new("test", 4));
        let computed = {
            let account = account(&share);
            let computed = account.computed_us.clone();
            // Asleep on the thread (not computing) for 150 ms inside one
            // poll: no CPU, no demotion.
            Charged::new(
                async { std::thread::sleep(Duration::from_millis(150)) },
                account,
            )
            .await;
            computed.load(Ordering::Acquire)
        };
        assert!(computed < 20_000, "charged {computed} µs for sleeping");
        assert!(!share.demoted());
        // Computing for 150 ms demotes.
        Charged::new(
            async {
                let started = thread_cpu().unwrap();
                while thread_cpu().unwrap() - started < Duration::from_millis(150) {
                    std::hint::black_box(());
                }
            },
            account(&share),
        )
        .await;
        assert!(share.demoted());
        assert_eq!(share.demotions(), 1);
    }
}
