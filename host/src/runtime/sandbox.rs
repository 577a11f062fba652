//! The store data of one cog instance: the capabilities' [`CogState`] and
//! the runtime's meters around it — the host-call budget, the memory cap,
//! the deadline, and the computing time that feeds the cog's fair share
//! ([`super::share`]). Capabilities never see the meters; the store's call
//! hook and epoch callback (`invoke`) update them on every entry into the
//! host and every tick.

use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime_wasi::{WasiCtxView, WasiView};

use super::share::CogShare;
use crate::capabilities::CogState;
use crate::config::LimitsConfig;

/// A limit an invocation ran into; carried inside the wasmtime error that
/// ends it, so it can be told apart from other traps.
#[derive(Debug, Clone, Copy, thiserror::Error)]
pub enum LimitExceeded {
    /// Memory cap (bytes).
    #[error("memory limit of {} MiB reached", .0 >> 20)]
    Memory(usize),
    /// Host-call budget.
    #[error("host-call budget of {0} calls exhausted")]
    HostCalls(u32),
}

/// What a wasmtime store holds for one instance.
pub struct Sandbox {
    /// What the capabilities see.
    pub caps: CogState,
    pub(crate) meter: Meter,
}

/// The runtime's accounting of one call (or of the calls a warm instance
/// serves, reset by [`Meter::begin`]).
pub(crate) struct Meter {
    host_calls: u32,
    host_call_budget: u32,
    /// Since when it has run wasm without coming back from the host.
    pub(crate) computing_since: Instant,
    /// Microseconds the current call (instantiation included) has spent
    /// running wasm — not waiting in host calls or for the executor.
    pub(crate) computed_us: Arc<std::sync::atomic::AtomicU64>,
    /// When it last resumed after yielding to the executor.
    pub(crate) resumed_at: Arc<parking_lot::Mutex<Option<Instant>>>,
    /// When the current call must end (checked at every epoch tick).
    pub(crate) deadline_at: Instant,
    /// This call ran long, or its cog is demoted (see `runtime::share`).
    pub(crate) demoted: bool,
    /// The cog's share, demoted when this call runs long.
    pub(crate) share: Option<Arc<CogShare>>,
    /// The cog's turn to compute on the host's workers, while this long
    /// call holds it.
    pub(crate) main_turn: Arc<parking_lot::Mutex<Option<tokio::sync::OwnedSemaphorePermit>>>,
    pub(crate) memory: MemoryCap,
}

impl Sandbox {
    /// Store data for `caps` within `limits`.
    pub fn new(caps: CogState, limits: &LimitsConfig) -> Self {
        let now = Instant::now();
        Self {
            caps,
            meter: Meter {
                host_calls: 0,
                host_call_budget: limits.host_calls,
                computing_since: now,
                computed_us: Arc::default(),
                resumed_at: Arc::default(),
                deadline_at: now + limits.deadline(),
                demoted: false,
                share: None,
                main_turn: Arc::default(),
                memory: MemoryCap {
                    cap: limits.memory_bytes(),
                    hit: false,
                },
            },
        }
    }

    /// Host calls made so far.
    pub fn host_calls(&self) -> u32 {
        self.meter.host_calls
    }
}

impl WasiView for Sandbox {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        self.caps.wasi_view()
    }
}

impl Meter {
    /// Start a call that must end within `deadline`: a fresh host-call budget and clock.
    pub(crate) fn begin(&mut self, deadline: Duration) {
        let now = Instant::now();
        self.host_calls = 0;
        self.memory.hit = false;
        self.computing_since = now;
        *self.resumed_at.lock() = None;
        self.deadline_at = now + deadline;
    }

    /// Count one call into the host (a capability, a WASI function, a
    /// canonical built-in); past the budget the invocation ends. Called by
    /// the store's call hook on every entry into the host, so nothing a cog
    /// can call escapes the budget.
    pub(crate) fn count_call(&mut self) -> wasmtime::Result<()> {
        self.host_calls += 1;
        if self.host_calls > self.host_call_budget {
            return Err(wasmtime::Error::new(LimitExceeded::HostCalls(
                self.host_call_budget,
            )));
        }
        Ok(())
    }

    /// Count the wasm running since `computing_since` as computing, and
    /// demote the cog when its running calls, alone or together, have
    /// computed for `after`.
    pub(crate) fn count_computing(&mut self, now: Instant, after: Duration, penalty: Duration) {
        use std::sync::atomic::Ordering;
        let since = match self.resumed_at.lock().take() {
            Some(resumed) => resumed.max(self.computing_since),
            None => self.computing_since,
        };
        let micros = now.saturating_duration_since(since).as_micros() as u64;
        self.computing_since = now;
        if micros == 0 {
            return;
        }
        let mine = self.computed_us.fetch_add(micros, Ordering::AcqRel) + micros;
        if let Some(share) = &self.share {
            let together = share.computed(micros);
            if !self.demoted && share.demoted() {
                self.demoted = true;
            } else if !self.demoted
                && (mine >= after.as_micros() as u64 || together >= after.as_micros() as u64)
            {
                self.demoted = true;
                share.demote(penalty);
            }
        }
    }
}

/// The memory cap of one invocation; remembers when it was hit so the
/// failure is reported as a memory limit, not a generic trap.
pub struct MemoryCap {
    cap: usize,
    pub(crate) hit: bool,
}

impl wasmtime::ResourceLimiter for MemoryCap {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.cap {
            self.hit = true;
            return Err(wasmtime::Error::new(LimitExceeded::Memory(self.cap)));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 1_000_000)
    }
}
