//! Running one call of one cog: a fresh instance from the cog's
//! `InstancePre`, a store with the invocation's limits (memory cap, epoch
//! deadline, host-call budget), the export call, the output cap, and the
//! bookkeeping (metrics, a log line on failure). Whatever the cog does, the
//! result is a value: an [`Answer`] or an [`InvocationError`].

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::Instrument;
use wasmtime::Store;

use super::bindings::types::{
    ActionOutcome, AutocompleteInvocation, Choice, CogError, CommandInvocation, CommandResponse,
    ComponentInvocation, ComponentResponse, Event, InvocationContext, PageContext, View,
};
use super::bindings::{Cog, CogPre};
use super::metrics::Outcome;
use super::{FailureKind, InvocationError, LimitExceeded, LoadedCog, Runtime};
use crate::capabilities::{CogState, Scope};
use crate::config::LimitsConfig;

/// One call into a cog.
#[derive(Debug, Clone)]
pub enum Call {
    /// `on-command`.
    Command(CommandInvocation),
    /// `on-component`.
    Component(ComponentInvocation),
    /// `on-autocomplete`.
    Autocomplete(AutocompleteInvocation),
    /// `on-event`.
    Event(Event, InvocationContext),
    /// `pages.render`.
    Render(PageContext),
    /// `pages.act`.
    Act(PageContext, String, String),
}

impl Call {
    /// The export's name, for logs.
    pub fn export(&self) -> &'static str {
        match self {
            Call::Command(_) => "on-command",
            Call::Component(_) => "on-component",
            Call::Autocomplete(_) => "on-autocomplete",
            Call::Event(..) => "on-event",
            Call::Render(_) => "render",
            Call::Act(..) => "act",
        }
    }
}

/// What a cog answered, per export. `Err` is the cog's own `cog-error`.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Answer {
    /// From `on-command`.
    Command(Result<CommandResponse, CogError>),
    /// From `on-component`.
    Component(Result<ComponentResponse, CogError>),
    /// From `on-autocomplete`.
    Autocomplete(Result<Vec<Choice>, CogError>),
    /// From `on-event`.
    Event(Result<(), CogError>),
    /// From `render`.
    Render(Result<View, CogError>),
    /// From `act`.
    Act(Result<ActionOutcome, CogError>),
}

impl Answer {
    /// The cog's own error, if it answered with one.
    pub fn cog_error(&self) -> Option<&CogError> {
        match self {
            Answer::Command(Err(e))
            | Answer::Component(Err(e))
            | Answer::Autocomplete(Err(e))
            | Answer::Event(Err(e))
            | Answer::Render(Err(e))
            | Answer::Act(Err(e)) => Some(e),
            _ => None,
        }
    }
}

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
fn classify(error: &wasmtime::Error, state: &CogState) -> (FailureKind, String) {
    if let Some(limit) = error.downcast_ref::<LimitExceeded>() {
        let kind = match limit {
            LimitExceeded::Memory(_) => FailureKind::Memory,
            LimitExceeded::HostCalls(_) => FailureKind::HostCalls,
        };
        return (kind, limit.to_string());
    }
    if state.memory.hit {
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

/// Instantiation slower than this makes `auto` choose reuse. Measured on
/// the 2-core development machine (docs/benchmarks.md), release host: a Rust
/// cog instantiates in ~15 µs, a componentize-py cog in ~700 µs, so 250 µs
/// sits well between them. A debug host runs wasmtime about ten times slower
/// (~250 µs and ~15 ms), so the threshold scales with it.
pub const REUSE_THRESHOLD: Duration =
    Duration::from_micros(if cfg!(debug_assertions) { 2_500 } else { 250 });
/// Default `reuse_calls`.
pub const DEFAULT_REUSE_CALLS: u32 = 1_000;
const MAX_IDLE_PER_GUILD: usize = 4;
const MAX_IDLE_PER_COG: usize = 64;

struct Warm {
    store: Store<CogState>,
    instance: Cog,
    calls: u32,
}

/// Idle warm instances of one cog version, by guild. They are never shared
/// between guilds, and die with the cog version that made them.
#[derive(Default)]
pub(crate) struct WarmPool {
    idle: parking_lot::Mutex<std::collections::HashMap<Option<u64>, Vec<Warm>>>,
}

impl WarmPool {
    fn take(&self, guild: Option<u64>) -> Option<Warm> {
        self.idle.lock().get_mut(&guild).and_then(Vec::pop)
    }

    fn put(&self, guild: Option<u64>, warm: Warm) {
        let mut idle = self.idle.lock();
        let total: usize = idle.values().map(Vec::len).sum();
        let slot = idle.entry(guild).or_default();
        if slot.len() < MAX_IDLE_PER_GUILD && total < MAX_IDLE_PER_COG {
            slot.push(warm);
        }
    }

    /// Idle instances held right now.
    pub(crate) fn idle(&self) -> usize {
        self.idle.lock().values().map(Vec::len).sum()
    }
}

impl Runtime {
    /// A store for `state` with the invocation limits in place.
    fn store(&self, state: CogState) -> Store<CogState> {
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| &mut state.memory);
        store.epoch_deadline_trap();
        store
    }

    /// Run `call` within `limits` on an instance of `pre`: a warm one from
    /// `pool` for this guild when there is one, else a fresh one (returned
    /// to `pool` afterwards if the call succeeded). The failure is
    /// classified, never propagated as a panic.
    pub(crate) async fn run<R, F>(
        &self,
        pre: &CogPre<CogState>,
        pool: Option<(&WarmPool, u32)>,
        state: CogState,
        limits: LimitsConfig,
        call: F,
    ) -> Result<R, (FailureKind, String)>
    where
        R: Send,
        F: for<'a> FnOnce(&'a Cog, &'a mut Store<CogState>) -> CallFuture<'a, R> + Send,
    {
        let guild = state.scope.guild_id;
        let tick = self.epoch_tick.as_nanos().max(1);
        let ticks = (limits.deadline().as_nanos() / tick) as u64 + 1;
        // The epoch stops wasm code; this also stops a cog stuck in an async host call.
        let wall_clock = limits.deadline() + self.epoch_tick * 4 + Duration::from_millis(50);
        let warm = pool.and_then(|(pool, _)| pool.take(guild));
        let run = async move {
            let (mut store, instance, calls) = match warm {
                Some(mut warm) => {
                    warm.store.data_mut().begin_call(state.scope.clone());
                    (warm.store, warm.instance, warm.calls)
                }
                None => {
                    let mut store = self.store(state);
                    store.set_epoch_deadline(ticks);
                    match pre.instantiate_async(&mut store).await {
                        Ok(instance) => (store, instance, 0),
                        Err(error) => {
                            let (kind, detail) = classify(&error, store.data());
                            let kind = if kind == FailureKind::Trap {
                                FailureKind::Instantiate
                            } else {
                                kind
                            };
                            return Err((kind, detail));
                        }
                    }
                }
            };
            store.set_epoch_deadline(ticks);
            match call(&instance, &mut store).await {
                Ok(value) => Ok((
                    value,
                    Warm {
                        store,
                        instance,
                        calls: calls + 1,
                    },
                )),
                Err(error) => Err(classify(&error, store.data())),
            }
        };
        match tokio::time::timeout(wall_clock, run).await {
            Ok(Ok((value, warm))) => {
                if let Some((pool, max_calls)) = pool
                    && warm.calls < max_calls
                {
                    pool.put(guild, warm);
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

    /// The fastest of three bare instantiations of `pre` (for the `auto`
    /// instance policy; the first one pays for cold pages).
    pub(crate) async fn time_instantiation(
        &self,
        pre: &CogPre<CogState>,
        state: impl Fn() -> CogState,
    ) -> Option<Duration> {
        let mut fastest = None;
        for _ in 0..3 {
            let mut store = self.store(state());
            store.set_epoch_deadline(u64::MAX / 2);
            let started = Instant::now();
            pre.instantiate_async(&mut store).await.ok()?;
            let took = started.elapsed();
            fastest = Some(fastest.map_or(took, |f: Duration| f.min(took)));
        }
        fastest
    }

    /// Run `call` on a fresh instance of `cog` for `scope`, count it, and log
    /// a failure with the cog, guild and export.
    pub async fn invoke(
        &self,
        cog: &Arc<LoadedCog>,
        scope: Scope,
        call: Call,
    ) -> Result<Answer, InvocationError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .expect("the invocation semaphore is never closed");
        let started = Instant::now();
        let export = call.export();
        let span = tracing::info_span!("invoke", cog = %cog.name(), guild = ?scope.guild_id, user = ?scope.user_id, export);
        let state = CogState::new(
            scope,
            cog.grants.clone(),
            self.services.clone(),
            cog.settings_defaults.clone(),
            cog.limits,
        );
        let result = self
            .run(
                &cog.pre,
                cog.pool(),
                state,
                cog.limits,
                move |instance, store| {
                    Box::pin(async move {
                        let handler = instance.baseline_cog_handler();
                        let pages = instance.baseline_cog_pages();
                        Ok(match call {
                            Call::Command(c) => {
                                Answer::Command(handler.call_on_command(store, &c).await?)
                            }
                            Call::Component(c) => {
                                Answer::Component(handler.call_on_component(store, &c).await?)
                            }
                            Call::Autocomplete(c) => {
                                Answer::Autocomplete(handler.call_on_autocomplete(store, &c).await?)
                            }
                            Call::Event(event, context) => {
                                Answer::Event(handler.call_on_event(store, &event, &context).await?)
                            }
                            Call::Render(context) => {
                                Answer::Render(pages.call_render(store, &context).await?)
                            }
                            Call::Act(context, action, payload) => Answer::Act(
                                pages.call_act(store, &context, &action, &payload).await?,
                            ),
                        })
                    })
                },
            )
            .instrument(span.clone())
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
        cog.metrics.record(outcome, started.elapsed());
        result.map_err(|(kind, detail)| {
            let error = InvocationError {
                cog: cog.name().to_string(),
                kind,
                detail,
            };
            span.in_scope(|| tracing::warn!(failure = kind.name(), %error, "invocation failed"));
            error
        })
    }
}
