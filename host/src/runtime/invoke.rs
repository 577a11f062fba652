//! Running one call of one cog: a fresh instance from the cog's
//! `InstancePre`, a store with the invocation's limits (memory cap, epoch
//! deadline, host-call budget), the export call, the output cap, and the
//! bookkeeping (metrics, a log line on failure). Whatever the cog does, the
//! result is a value: an [`Answer`] or an [`InvocationError`]. The
//! instances that wait for calls (warm, spare) and their budget are in
//! [`super::warm`]; what a call computes is charged by [`super::charge`].

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::Instrument;
use wasmtime::Store;

use super::call::{Answer, Call};
use super::metrics::Outcome;
use super::sandbox::{LimitExceeded, Sandbox};
use super::warm::{Filling, PoolKey, SPARE_PAUSE, SPARE_WARM_UP, Warm, WarmPool};
use super::{FailureKind, InvocationError, LoadedCog, Runtime};
use crate::capabilities::{CogState, Scope};
use crate::config::LimitsConfig;
use wasmtime::component::Instance;
use wasmtime::component::InstancePre;

type CallFuture<'a, R> = Pin<Box<dyn Future<Output = wasmtime::Result<R>> + Send + 'a>>;

/// Bytes a value takes as JSON, without building the JSON.
fn output_size<T: serde::Serialize>(value: &T) -> usize {
    struct Counter(usize);
    impl std::io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter(0);
    let _ = serde_json::to_writer(&mut counter, value);
    counter.0
}

/// Tell limits, timeouts, panics and other traps apart.
fn classify(error: &wasmtime::Error, sandbox: &Sandbox) -> (FailureKind, String) {
    let state = &sandbox.caps;
    if let Some(limit) = error.downcast_ref::<LimitExceeded>() {
        let kind = match limit {
            LimitExceeded::Memory(_) => FailureKind::Memory,
            LimitExceeded::HostCalls(_) => FailureKind::HostCalls,
        };
        return (kind, limit.to_string());
    }
    if sandbox.meter.memory.hit {
        return (
            FailureKind::Memory,
            format!("memory limit of {} MiB reached", state.limits.memory_mib),
        );
    }
    let stderr = state.stderr();
    match error.downcast_ref::<wasmtime::Trap>() {
        Some(wasmtime::Trap::Interrupt) => (
            FailureKind::Timeout,
            format!("deadline of {} ms passed", state.limits.deadline_ms),
        ),
        Some(wasmtime::Trap::StackOverflow) => {
            (FailureKind::StackOverflow, "wasm stack overflow".into())
        }
        Some(wasmtime::Trap::UnreachableCodeReached) if stderr.contains("panicked") => (
            FailureKind::Panic,
            stderr.lines().take(3).collect::<Vec<_>>().join(" | "),
        ),
        Some(trap) => {
            let mut detail = trap.to_string();
            if !stderr.is_empty() {
                detail = format!(
                    "{detail}; stderr: {}",
                    stderr.lines().take(3).collect::<Vec<_>>().join(" | ")
                );
            }
            (FailureKind::Trap, detail)
        }
        None => (FailureKind::Trap, format!("{error:#}")),
    }
}

/// How a cog's invocations get their instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum InstancePolicy {
    /// A fresh instance per call.
    Fresh,
    /// Warm instances per guild, each serving up to `max_calls` calls and
    /// dropped after any failure.
    Reuse {
        /// Calls before the instance is recycled.
        max_calls: u32,
    },
}

/// A fresh instance's first call (instantiation and `manifest`) slower than
/// this makes `auto` choose reuse. Measured on the 2-core development
/// machine (docs/benchmarks.md), release host: a Rust cog takes ~15 µs, a
/// componentize-py cog ~500 µs, a componentize-js cog ~400 µs, so 250 µs
/// sits between them. A debug host runs wasmtime about ten times slower, so
/// the threshold scales with it.
pub const REUSE_THRESHOLD: Duration =
    Duration::from_micros(if cfg!(debug_assertions) { 2_500 } else { 250 });
/// Default `reuse_calls`.
pub const DEFAULT_REUSE_CALLS: u32 = 1_000;
/// What one call brings to the instance it runs on: its scope and the
/// meter's inputs. The capabilities' state ([`CogState`], with its WASI
/// context) is built only when the call needs a fresh instance.
pub(crate) struct Admission {
    pub(crate) scope: Scope,
    /// The cog is demoted: the call computes in turns.
    pub(crate) demoted: bool,
    /// The cog's share, charged with the call's computing.
    pub(crate) share: Option<Arc<super::share::CogShare>>,
    /// Microseconds the call computes, read by the caller afterwards.
    pub(crate) computed_us: Arc<std::sync::atomic::AtomicU64>,
}

impl Admission {
    /// A call outside any cog's share (loading, probes).
    pub(crate) fn unshared(scope: Scope) -> Self {
        Self {
            scope,
            demoted: false,
            share: None,
            computed_us: Arc::default(),
        }
    }
}

/// Takes a call's computing off its cog's running total when dropped.
struct TickGuard {
    share: Arc<super::share::CogShare>,
    computed_us: Arc<std::sync::atomic::AtomicU64>,
}

impl Drop for TickGuard {
    fn drop(&mut self) {
        self.share
            .call_ended(self.computed_us.load(std::sync::atomic::Ordering::Acquire));
    }
}

impl Runtime {
    /// A store for `state` with the invocation limits in place: the memory
    /// cap, the host-call budget (counted on every entry into the host, WASI
    /// included) and the deadline. The cog yields to the executor at every
    /// epoch tick, so a spinning cog never holds a worker thread for longer
    /// than a tick, and traps once `state.deadline_at` has passed.
    pub(crate) fn store(&self, sandbox: Sandbox) -> Store<Sandbox> {
        let mut store = Store::new(&self.engine, sandbox);
        store.limiter(|sandbox| &mut sandbox.meter.memory);
        store.call_hook(move |mut context, hook| match hook {
            wasmtime::CallHook::CallingHost => context.data_mut().meter.count_call(),
            _ => Ok(()),
        });
        let throttle = self.epoch_tick * 19;
        store.epoch_deadline_callback(move |mut context| {
            let state = &mut context.data_mut().meter;
            if Instant::now() >= state.deadline_at {
                return Ok(wasmtime::UpdateDeadline::Interrupt);
            }
            // A demoted cog's calls take turns: one computes a tick, rests
            // nineteen, passes the turn — a twentieth of one thread for the cog.
            if state.sees_demotion()
                && let Some(share) = state.share.clone()
            {
                let turn = state.main_turn.clone();
                return Ok(wasmtime::UpdateDeadline::YieldCustom(
                    1,
                    Box::pin(async move {
                        tokio::time::sleep(throttle).await;
                        turn.lock().take();
                        let next = share.main_turn().await;
                        *turn.lock() = next;
                    }),
                ));
            }
            // Every tick ends the poll: what the call computed is charged
            // ([`super::charge`]), and other tasks get the thread.
            Ok(wasmtime::UpdateDeadline::YieldCustom(
                1,
                Box::pin(tokio::task::yield_now()),
            ))
        });
        store.set_epoch_deadline(1);
        store
    }

    /// Instantiate `pre` in a fresh store for `state` within `limits`.
    async fn instantiate(
        &self,
        pre: &InstancePre<Sandbox>,
        mut sandbox: Sandbox,
        limits: LimitsConfig,
    ) -> Result<(Store<Sandbox>, Instance), (FailureKind, String)> {
        sandbox.meter.begin(limits.deadline());
        let mut store = self.store(sandbox);
        // The bare instance: its exports were type-checked once, at load
        // (`super::exports`), not again for every instance.
        match pre.instantiate_async(&mut store).await {
            Ok(instance) => Ok((store, instance)),
            Err(error) => {
                let (kind, detail) = classify(&error, store.data());
                let kind = if kind == FailureKind::Trap {
                    FailureKind::Instantiate
                } else {
                    kind
                };
                Err((kind, format!("while instantiating: {detail}")))
            }
        }
    }

    /// Run `call` within `limits` on an instance of `pre`: from `pool`, a
    /// warm one for this guild (under reuse: `Some(max_calls)`) or a spare
    /// when there is one, else a fresh one. Under reuse the instance goes
    /// back to `pool` for its guild afterwards if the call succeeded. The
    /// failure is classified, never propagated as a panic.
    pub(crate) async fn run<R, F>(
        &self,
        pre: &InstancePre<Sandbox>,
        pool: Option<(&WarmPool, Option<u32>)>,
        admission: Admission,
        caps: impl FnOnce(Scope) -> CogState + Send,
        limits: LimitsConfig,
        call: F,
    ) -> Result<R, (FailureKind, String)>
    where
        R: Send,
        F: for<'a> FnOnce(&'a Instance, &'a mut Store<Sandbox>) -> CallFuture<'a, R> + Send,
    {
        let Admission {
            scope,
            demoted,
            share,
            computed_us,
        } = admission;
        let key = PoolKey::of(&scope);
        let wall_clock = self.wall_clock(&limits);
        let warm = pool.and_then(|(pool, reuse)| pool.take(key, reuse.is_some()));
        // Whatever way the call ends (answer, trap, wall-clock timeout), the
        // ticks it computed leave its cog's running total.
        let _ticks = share.clone().map(|share| TickGuard {
            share,
            computed_us: computed_us.clone(),
        });
        let account = self.account(computed_us, share.clone());
        let run = async move {
            let (mut store, instance, calls) = match warm {
                // A warm instance keeps its capabilities' state; only the
                // scope and the meter's inputs are the call's own.
                Some(mut warm) => {
                    let data = warm.store.data_mut();
                    data.caps.begin_call(scope);
                    data.meter.demoted = demoted;
                    data.meter.share = share;
                    (warm.store, warm.instance, warm.calls)
                }
                None => {
                    let mut sandbox = Sandbox::new(caps(scope), &limits);
                    sandbox.meter.demoted = demoted;
                    sandbox.meter.share = share;
                    let (store, instance) = self.instantiate(pre, sandbox, limits).await?;
                    (store, instance, 0)
                }
            };
            store.data_mut().meter.begin(limits.deadline());
            store
                .data_mut()
                .caps
                .set_deadline(Instant::now() + limits.deadline());
            store.set_epoch_deadline(1);
            let result = call(&instance, &mut store).await;
            store.data().meter.main_turn.lock().take();
            store.data_mut().caps.end_call();
            match result {
                Ok(value) => Ok((
                    value,
                    Warm {
                        store,
                        instance,
                        calls: calls + 1,
                        idle_since: Instant::now(),
                    },
                )),
                Err(error) => Err(classify(&error, store.data())),
            }
        };
        let run = super::charge::Charged::new(run, account);
        match tokio::time::timeout(wall_clock, run).await {
            Ok(Ok((value, warm))) => {
                match pool {
                    Some((pool, Some(max_calls))) if warm.calls < max_calls => pool.put(key, warm),
                    // A cog that keeps spares is one whose instances are
                    // dear: dropping one (the pool's decommit) is done off
                    // the call's path too — while the instances waiting to
                    // be dropped fit in the warm budget (they still hold
                    // slots of the instance pool); else here.
                    Some((pool, _)) if pool.spares_wanted > 0 && self.warm.try_hold() => {
                        let budget = self.warm.clone();
                        self.housekeeping.handle().spawn(async move {
                            drop(warm);
                            budget.release(1);
                        });
                    }
                    _ => {}
                }
                Ok(value)
            }
            Ok(Err(failure)) => Err(failure),
            Err(_) => Err((
                FailureKind::Timeout,
                format!(
                    "deadline of {} ms passed (in a host call)",
                    limits.deadline_ms
                ),
            )),
        }
    }

    /// Where a call's computing is charged: `computed_us`, and the cog's
    /// running total in `share` (which the call may demote).
    fn account(
        &self,
        computed_us: Arc<std::sync::atomic::AtomicU64>,
        share: Option<Arc<super::share::CogShare>>,
    ) -> super::charge::Account {
        super::charge::Account {
            computed_us,
            share,
            after: Duration::from_millis(self.config.runtime.penalty_after_ms),
            penalty: Duration::from_millis(self.config.runtime.penalty_ms),
            cap: self.epoch_tick * 2,
            settled: false,
            exact: false,
        }
    }

    /// The fastest of three bare instantiations of `pre` (for the `auto`
    /// instance policy; the first one pays for cold pages), each within the
    /// load deadline: a start function that spins is stopped there.
    pub(crate) async fn time_instantiation(
        &self,
        pre: &InstancePre<Sandbox>,
        exports: &super::exports::Exports,
        state: impl Fn() -> Sandbox,
        limits: LimitsConfig,
    ) -> Result<Duration, (FailureKind, String)> {
        let mut fastest: Option<Duration> = None;
        for _ in 0..3 {
            // What a fresh instance costs a call: instantiating it, and the
            // first call into it (an interpreter may set itself up lazily
            // there: componentize-js instantiates in ~25 µs, then its
            // first call takes ~500 µs).
            let started = Instant::now();
            self.first_call(pre, exports, state(), limits).await?;
            let took = started.elapsed();
            fastest = Some(fastest.map_or(took, |f| f.min(took)));
        }
        Ok(fastest.unwrap_or_default())
    }

    /// How long a call within `limits` may take in all: the epoch stops
    /// wasm code at the deadline; this also stops a cog stuck in an async
    /// host call.
    fn wall_clock(&self, limits: &LimitsConfig) -> Duration {
        limits.deadline() + self.epoch_tick * 4 + Duration::from_millis(50)
    }

    /// Instantiate `pre` for `sandbox` and give it its first call
    /// (`manifest`), within `limits`.
    async fn first_call(
        &self,
        pre: &InstancePre<Sandbox>,
        exports: &super::exports::Exports,
        sandbox: Sandbox,
        limits: LimitsConfig,
    ) -> Result<(Store<Sandbox>, Instance), (FailureKind, String)> {
        let made = async {
            let (mut store, instance) = self.instantiate(pre, sandbox, limits).await?;
            match exports.manifest(&instance, &mut store).await {
                Ok(_) => Ok((store, instance)),
                Err(error) => {
                    let (kind, detail) = classify(&error, store.data());
                    Err((kind, format!("in its first call: {detail}")))
                }
            }
        };
        tokio::time::timeout(self.wall_clock(&limits), made)
            .await
            .unwrap_or_else(|_| {
                Err((
                    FailureKind::Timeout,
                    format!(
                        "instantiating and a first call took over {} ms",
                        limits.deadline_ms
                    ),
                ))
            })
    }

    /// The capabilities' state of an instance of `cog` serving `scope`.
    fn cog_state(&self, cog: &LoadedCog, scope: Scope) -> CogState {
        let mut caps = CogState::new(
            scope,
            cog.grants.clone(),
            self.services.clone(),
            cog.settings_defaults.clone(),
            cog.limits,
        );
        caps.set_quotas(cog.quotas);
        caps
    }

    /// Make the spares `cog` is missing, on the housekeeping thread (at the
    /// lowest priority, off the host's workers), unless that is under way
    /// already. A spare that fails to instantiate or to answer its first
    /// call stops the top-up (logged) for [`SPARE_PAUSE`]; then the next
    /// call or the sweeper tries again.
    pub(crate) fn top_up_spares(&self, cog: &Arc<LoadedCog>) {
        // A demoted cog makes no spares: its warm-ups would compute on the
        // housekeeping thread while its calls wait their turn.
        if cog.share.demoted() || !cog.warm.start_filling() {
            return;
        }
        let filling = Filling(cog.clone());
        // A replaced version (its last calls ending) makes no more spares.
        let current = self
            .registry
            .get(cog.name())
            .is_some_and(|now| Arc::ptr_eq(&now, cog));
        let Some(runtime) = self.me.upgrade().filter(|_| current) else {
            return;
        };
        self.housekeeping.handle().spawn(async move {
            let cog = &filling.0;
            while cog.warm.spares() < cog.warm.spares_wanted
                && !cog.share.demoted()
                && runtime.warm.try_hold()
            {
                cog.warm
                    .warm_ups
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                match runtime.spare(cog).await {
                    Ok(spare) => {
                        if !cog.warm.add_spare(spare) {
                            // Over the memory budget: no more for now.
                            break;
                        }
                    }
                    Err((kind, detail)) => {
                        runtime.warm.release(1);
                        cog.warm.pause_spares();
                        tracing::warn!(
                            cog = %cog.name(), failure = kind.name(), %detail,
                            "a spare instance could not be made; calls instantiate their own, next try in {} s",
                            SPARE_PAUSE.as_secs()
                        );
                        break;
                    }
                }
            }
        });
    }

    /// A spare instance of `cog`: instantiated and given its first call
    /// (`manifest`) outside any guild, with no capability and a deadline
    /// near what that took at load; then given the cog's grants.
    async fn spare(&self, cog: &LoadedCog) -> Result<Warm, (FailureKind, String)> {
        let scope = Scope {
            cog: Arc::from(cog.name()),
            wit: cog.facts.version,
            ..Default::default()
        };
        // The warm-up runs with no capability (as `manifest` does at load:
        // nothing it calls reaches a service from this thread) and within
        // a deadline near what its first call took at load.
        let mut caps = self.cog_state(cog, scope);
        caps.grants = Arc::default();
        let limits = LimitsConfig {
            deadline_ms: cog.limits.deadline_ms.min(
                (cog.instantiate_time.unwrap_or_default() * 20)
                    .max(SPARE_WARM_UP)
                    .as_millis() as u64,
            ),
            ..cog.limits
        };
        // The warm-up's computing is the cog's: charged to its share like a
        // call's, so a cog whose instances are dear to make is demoted by
        // making them too (and makes none while demoted).
        let computed = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let _ticks = TickGuard {
            share: cog.share.clone(),
            computed_us: computed.clone(),
        };
        let account = self.account(computed, Some(cog.share.clone()));
        let (mut store, instance) = super::charge::Charged::new(
            self.first_call(&cog.pre, &cog.exports, Sandbox::new(caps, &limits), limits),
            account,
        )
        .await?;
        store.data_mut().caps.grants = cog.grants.clone();
        Ok(Warm {
            store,
            instance,
            calls: 0,
            idle_since: Instant::now(),
        })
    }

    /// Run `call` on `cog` for `scope` within the cog's share (see
    /// [`super::share`]).
    pub async fn invoke(
        &self,
        cog: &Arc<LoadedCog>,
        scope: Scope,
        call: Call,
    ) -> Result<Answer, InvocationError> {
        self.invoke_here(cog, scope, call).await
    }

    /// Run `call` on an instance of `cog` for `scope` in one of the cog's
    /// own slots, count it, log a failure with the cog, guild and export,
    /// and demote the cog when the call ran long.
    async fn invoke_here(
        &self,
        cog: &Arc<LoadedCog>,
        scope: Scope,
        call: Call,
    ) -> Result<Answer, InvocationError> {
        // A demoted cog runs at most a couple of calls at once, so its slow
        // calls never hold many of the global permits.
        let demoted = cog.share.demoted();
        let _demoted_slot = match demoted {
            true => Some(cog.share.demoted_slot().await),
            false => None,
        };
        let _slot = cog.share.slot().await;
        let _permit = self
            .permits
            .acquire()
            .await
            .expect("the invocation semaphore is never closed");
        let started = Instant::now();
        let export = call.export();
        let guild = scope.guild_id;
        // At DEBUG: an INFO span would format its fields on every call. The
        // failure line below names the cog, guild and export itself.
        let span = tracing::debug_span!("invoke", cog = %cog.name(), guild = ?scope.guild_id, user = ?scope.user_id, export);
        let computed = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let mut scope = scope;
        scope.wit = cog.facts.version;
        let admission = Admission {
            scope,
            demoted,
            share: Some(cog.share.clone()),
            computed_us: computed.clone(),
        };
        let exports = cog.exports.clone();
        let result = self
            .run(
                &cog.pre,
                Some(cog.pool()),
                admission,
                // Built only when the call needs a fresh instance.
                |scope| self.cog_state(cog, scope),
                cog.limits,
                move |instance, store| {
                    Box::pin(async move { exports.call(instance, store, call).await })
                },
            )
            .instrument(span)
            .await;
        let result = result.and_then(|answer| {
            let size = output_size(&answer);
            if size > cog.limits.output_bytes() {
                Err((
                    FailureKind::OutputTooLarge,
                    format!(
                        "answer of {size} bytes exceeds the {} KiB cap",
                        cog.limits.output_kib
                    ),
                ))
            } else {
                Ok(answer)
            }
        });
        let outcome = match &result {
            Ok(answer) if answer.cog_error().is_some() => Outcome::CogError,
            Ok(_) => Outcome::Ok,
            Err((kind, _)) => Outcome::Failed(*kind),
        };
        let took = started.elapsed();
        cog.metrics.record(outcome, took);
        // A call that trapped (or ran into a limit) pauses the spares: a cog
        // that fails every call would otherwise have each failure paid for
        // with a warm-up. (A deadline passed waiting on a slow database is
        // not the instance's fault.)
        if let Outcome::Failed(kind) = outcome
            && kind != FailureKind::Timeout
        {
            cog.warm.pause_spares();
        }
        self.top_up_spares(cog);
        // Running into a limit demotes too (the epoch callback demotes a
        // cog whose calls compute for long while they run): a cog that burns
        // its whole budget on every message costs the others little. A
        // deadline passed while waiting on the host (a slow database) is not
        // the cog's computing and demotes nothing.
        let computed = Duration::from_micros(computed.load(std::sync::atomic::Ordering::Acquire));
        let demote = match outcome {
            Outcome::Failed(FailureKind::Timeout) => {
                computed >= Duration::from_millis(self.config.runtime.penalty_after_ms)
            }
            Outcome::Failed(
                FailureKind::HostCalls | FailureKind::Memory | FailureKind::OutputTooLarge,
            ) => true,
            _ => false,
        };
        if demote {
            cog.share
                .demote(Duration::from_millis(self.config.runtime.penalty_ms));
        }
        result.map_err(|(kind, detail)| {
            let error = InvocationError {
                cog: cog.name().to_string(),
                kind,
                detail,
            };
            tracing::warn!(cog = %cog.name(), guild, export, failure = kind.name(), %error, "invocation failed");
            error
        })
    }
}
