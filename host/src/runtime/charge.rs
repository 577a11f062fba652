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
//!
//! Reading a thread's CPU clock is a system call (about half a microsecond
//! here), as much as a cheap call's whole poll; so a call starts on the
//! wall clock, which costs nothing: a poll shorter than [`SHORT_POLL`] is
//! charged its wall time (preemption could add at most that). The first
//! longer poll is charged its wall time up to [`Account::cap`] (two epoch
//! ticks: a computing call yields every tick, so only a preempted poll is
//! cut), and from then on the call reads its thread's CPU clock around
//! every poll. A cheap call preempted once is thus charged at most a couple
//! of milliseconds, and a call that computes is charged exactly.
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

/// A poll shorter than this is charged its wall-clock time.
const SHORT_POLL: Duration = Duration::from_micros(50);

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
    /// The most one poll measured on the wall clock is charged (two ticks).
    pub(crate) cap: Duration,
    /// This call demoted the cog, or found it demoted: nothing more to do.
    pub(crate) settled: bool,
    /// This call had a long poll: its polls are measured on the CPU clock.
    pub(crate) exact: bool,
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
        let account = this.account;
        if account.exact
            && let Some(before) = thread_cpu()
        {
            let answer = this.inner.poll(cx);
            let after = thread_cpu().unwrap_or(before);
            account.charge(after.saturating_sub(before));
            return answer;
        }
        let started = Instant::now();
        let answer = this.inner.poll(cx);
        let wall = started.elapsed();
        if wall < SHORT_POLL {
            account.charge(wall);
        } else {
            account.charge(wall.min(account.cap));
            account.exact = true;
        }
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
            cap: Duration::from_millis(2),
            settled: false,
            exact: false,
        }
    }

    #[tokio::test]
    async fn a_poll_is_charged_its_cpu_not_its_sleep() {
        let share = Arc::new(CogShare::new("test", 4));
        let computed = {
            let account = account(&share);
            let computed = account.computed_us.clone();
            // Asleep on the thread (as if preempted) for 150 ms in each of
            // three polls: the first is charged at most its cap, the
            // others their CPU — no demotion.
            Charged::new(
                async {
                    for _ in 0..3 {
                        std::thread::sleep(Duration::from_millis(150));
                        tokio::task::yield_now().await;
                    }
                },
                account,
            )
            .await;
            computed.load(Ordering::Acquire)
        };
        assert!(computed < 5_000, "charged {computed} µs for sleeping");
        assert!(!share.demoted());
        // Computing for 150 ms, yielding every millisecond as a call does
        // at every epoch tick, demotes.
        Charged::new(
            async {
                for _ in 0..150 {
                    let started = thread_cpu().unwrap();
                    while thread_cpu().unwrap() - started < Duration::from_millis(1) {
                        std::hint::black_box(());
                    }
                    tokio::task::yield_now().await;
                }
            },
            account(&share),
        )
        .await;
        assert!(share.demoted());
        assert_eq!(share.demotions(), 1);
    }
}
