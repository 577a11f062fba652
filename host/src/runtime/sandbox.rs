//! The store data of one cog instance: the capabilities' [`CogState`] and
//! the runtime's meters around it — the host-call budget, the memory cap,
//! the deadline, and whether the call computes in turns because its cog is
//! demoted ([`super::share`]; what a call computes is charged by
//! [`super::charge`]). Capabilities never see the meters; the store's call
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
    /// When the current call must end (checked at every epoch tick).
    pub(crate) deadline_at: Instant,
    /// Its cog is demoted (see `runtime::share`): the call computes in turns.
    pub(crate) demoted: bool,
    /// The cog's share (whether it is demoted, and its turn to compute).
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
                deadline_at: now + limits.deadline(),
                demoted: false,
                share: None,
                main_turn: Arc::default(),
                memory: MemoryCap {
                    cap: limits.memory_bytes(),
                    hit: false,
                    held: 0,
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

    /// Whether the call must compute in turns: its cog was demoted (by
    /// this call's computing or another's) since it began.
    pub(crate) fn sees_demotion(&mut self) -> bool {
        if !self.demoted && self.share.as_ref().is_some_and(|share| share.demoted()) {
            self.demoted = true;
        }
        self.demoted
    }
}

/// The memory cap of one invocation; remembers when it was hit so the
/// failure is reported as a memory limit, not a generic trap.
pub struct MemoryCap {
    cap: usize,
    pub(crate) hit: bool,
    /// Bytes of linear memory the instance holds (all its memories: each
    /// is created through `memory_growing` too).
    pub(crate) held: usize,
}

impl wasmtime::ResourceLimiter for MemoryCap {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.cap {
            self.hit = true;
            return Err(wasmtime::Error::new(LimitExceeded::Memory(self.cap)));
        }
        self.held += desired.saturating_sub(current);
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
