//! Per-cog counters: invocations, outcomes, failures by kind and duration
//! percentiles. Kept by cog name, so they survive reloads; read by
//! `baseline` itself now and by the API and `/metrics` later.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hdrhistogram::Histogram;
use parking_lot::Mutex;

use super::FailureKind;

/// How an invocation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The cog answered.
    Ok,
    /// The cog answered with its own `cog-error`.
    CogError,
    /// The host ended it.
    Failed(FailureKind),
}

/// Counters of one cog.
pub struct CogMetrics {
    invocations: AtomicU64,
    ok: AtomicU64,
    cog_errors: AtomicU64,
    failures: [AtomicU64; FailureKind::ALL.len()],
    durations: Mutex<Histogram<u64>>,
}

impl Default for CogMetrics {
    fn default() -> Self {
        Self {
            invocations: AtomicU64::new(0),
            ok: AtomicU64::new(0),
            cog_errors: AtomicU64::new(0),
            failures: Default::default(),
            // Microseconds, from 1 µs to 10 min, 3 significant figures.
            durations: Mutex::new(
                Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid histogram bounds"),
            ),
        }
    }
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct MetricsSnapshot {
    /// Invocations started.
    pub invocations: u64,
    /// Answered normally.
    pub ok: u64,
    /// Answered with a cog error.
    pub cog_errors: u64,
    /// Ended by the host, by kind.
    pub failures: BTreeMap<&'static str, u64>,
    /// Median duration (µs).
    pub p50_us: u64,
    /// 90th percentile (µs).
    pub p90_us: u64,
    /// 99th percentile (µs).
    pub p99_us: u64,
    /// Longest (µs).
    pub max_us: u64,
}

impl CogMetrics {
    /// Record one finished invocation.
    pub fn record(&self, outcome: Outcome, duration: Duration) {
        self.invocations.fetch_add(1, Ordering::Relaxed);
        match outcome {
            Outcome::Ok => self.ok.fetch_add(1, Ordering::Relaxed),
            Outcome::CogError => self.cog_errors.fetch_add(1, Ordering::Relaxed),
            Outcome::Failed(kind) => self.failures[kind as usize].fetch_add(1, Ordering::Relaxed),
        };
        let micros = (duration.as_micros() as u64).clamp(1, 600_000_000);
        self.durations.lock().saturating_record(micros);
    }

    /// Read the counters.
    pub fn snapshot(&self) -> MetricsSnapshot {
        let durations = self.durations.lock();
        MetricsSnapshot {
            invocations: self.invocations.load(Ordering::Relaxed),
            ok: self.ok.load(Ordering::Relaxed),
            cog_errors: self.cog_errors.load(Ordering::Relaxed),
            failures: FailureKind::ALL
                .iter()
                .map(|kind| {
                    (
                        kind.name(),
                        self.failures[*kind as usize].load(Ordering::Relaxed),
                    )
                })
                .filter(|(_, count)| *count > 0)
                .collect(),
            p50_us: durations.value_at_quantile(0.5),
            p90_us: durations.value_at_quantile(0.9),
            p99_us: durations.value_at_quantile(0.99),
            max_us: durations.max(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_outcomes_and_percentiles() {
        let metrics = CogMetrics::default();
        for micros in 1..=100 {
            metrics.record(Outcome::Ok, Duration::from_micros(micros));
        }
        metrics.record(Outcome::CogError, Duration::from_micros(5));
        metrics.record(
            Outcome::Failed(FailureKind::Timeout),
            Duration::from_millis(200),
        );
        let snapshot = metrics.snapshot();
        assert_eq!(snapshot.invocations, 102);
        assert_eq!(snapshot.ok, 100);
        assert_eq!(snapshot.cog_errors, 1);
        assert_eq!(snapshot.failures.get("timeout"), Some(&1));
        assert!((49..=52).contains(&snapshot.p50_us), "{snapshot:?}");
        assert!(snapshot.max_us >= 199_000);
    }
}
