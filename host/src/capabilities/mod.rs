//! Capabilities: the host side of each WIT import interface, one module per
//! interface, named after it. Every function first counts the call against
//! the invocation's budget, then checks the cog's grant and the invocation's
//! scope, and only then acts.
//!
//! Adding a capability: add the interface to `wit/`, a module here that
//! implements the generated `Host` trait for [`CogState`], its name in
//! [`grants::CAPABILITIES`], and — if it needs a backing service — a field in
//! [`Services`] built in [`Services::in_process`] (and, later, by the service
//! container from the operator's configuration).

pub mod cache;
pub mod discord;
pub mod grants;
pub mod interaction;
pub mod kv;
pub mod llm;
pub mod log;
pub mod settings;
pub mod system;

use std::sync::Arc;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

pub use grants::Grants;

use crate::config::LimitsConfig;
use crate::runtime::LimitExceeded;

/// The backing services capabilities use. Cheap to clone.
#[derive(Clone)]
pub struct Services {
    /// Durable key-value store.
    pub kv: Arc<dyn crate::store::kv::KvStore>,
    /// Ephemeral cache.
    pub cache: Arc<dyn crate::cache::Cache>,
    /// Guild settings of cogs.
    pub settings: Arc<dyn crate::store::settings::SettingsStore>,
    /// Facts about this host for `system`.
    pub host: Arc<system::HostFacts>,
    /// The database, for health reports (absent in `baseline cog call`).
    pub database: Option<crate::store::Database>,
    /// Discord REST and the channel map (absent without a Discord connection).
    pub discord: Option<Arc<crate::discord::DiscordLink>>,
    /// The shard monitor (absent without a Discord connection).
    pub shards: Option<Arc<crate::discord::ShardMonitor>>,
}

impl Services {
    /// kv and settings in `db`, the cache in process.
    pub fn with_database(db: crate::store::Database) -> Self {
        Self {
            kv: Arc::new(crate::store::kv::SqlKv::new(db.clone())),
            settings: Arc::new(crate::store::settings::SqlSettings::new(db.clone())),
            database: Some(db),
            ..Self::in_process()
        }
    }

    /// The same services with a Discord connection.
    pub fn with_discord(self, link: Arc<crate::discord::DiscordLink>) -> Self {
        Self {
            discord: Some(link),
            ..self
        }
    }

    /// The same services with the shard monitor (for `system`).
    pub fn with_shards(self, monitor: Arc<crate::discord::ShardMonitor>) -> Self {
        Self {
            shards: Some(monitor),
            ..self
        }
    }

    /// The same services with another cache (Redis).
    pub fn with_cache(self, cache: Arc<dyn crate::cache::Cache>) -> Self {
        Self { cache, ..self }
    }

    /// Everything in process memory: `baseline cog call` and tests.
    pub fn in_process() -> Self {
        Self {
            kv: Arc::new(crate::store::kv::InProcessKv::default()),
            cache: Arc::new(crate::cache::InProcessCache::default()),
            settings: Arc::new(crate::store::settings::InProcessSettings::default()),
            host: Arc::new(system::HostFacts::new()),
            database: None,
            discord: None,
            shards: None,
        }
    }
}

/// Where an invocation happens and on whose behalf.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    /// The cog's name.
    pub cog: Arc<str>,
    /// The guild, absent in DMs and for cog-wide work.
    pub guild_id: Option<u64>,
    /// The acting user, when there is one.
    pub user_id: Option<u64>,
    /// The channel of the interaction or event.
    pub channel_id: Option<u64>,
    /// The interaction being answered, if any.
    pub interaction_id: Option<u64>,
    /// Its token and acknowledgement state, when it came from Discord.
    pub interaction: Option<Arc<crate::discord::InteractionHandle>>,
}

/// Resources (WASI streams, pollables, …) one instance may hold at once;
/// past it, creating another fails inside the cog instead of growing the
/// host's table.
pub const MAX_RESOURCES: usize = 1_000;

/// Per-invocation state: what the capabilities of one cog call can see.
/// Built fresh for every invocation and dropped with it.
pub struct CogState {
    pub(crate) scope: Scope,
    pub(crate) grants: Arc<Grants>,
    pub(crate) services: Services,
    pub(crate) settings_defaults: Option<Arc<serde_json::Value>>,
    pub(crate) limits: LimitsConfig,
    /// What the cog may keep in kv and the cache (its quotas).
    pub(crate) quotas: crate::config::QuotaConfig,
    pub(crate) host_calls: u32,
    /// When the current call started.
    pub(crate) started_at: std::time::Instant,
    /// Since when it has run wasm without coming back from the host.
    pub(crate) computing_since: std::time::Instant,
    /// Microseconds the current call (instantiation included) has spent
    /// running wasm — not waiting in host calls or for the executor.
    pub(crate) computed_us: Arc<std::sync::atomic::AtomicU64>,
    /// When it last resumed after yielding to the executor.
    pub(crate) resumed_at: Arc<parking_lot::Mutex<Option<std::time::Instant>>>,
    /// When the current call must end (checked at every epoch tick).
    pub(crate) deadline_at: std::time::Instant,
    /// This call ran long, or its cog is demoted (see `runtime::share`).
    pub(crate) demoted: bool,
    /// The cog's share, demoted when this call runs long.
    pub(crate) share: Option<Arc<crate::runtime::share::CogShare>>,
    /// The cog's turn to compute on the host's workers, while this long
    /// call holds it.
    pub(crate) main_turn: Arc<parking_lot::Mutex<Option<tokio::sync::OwnedSemaphorePermit>>>,
    pub(crate) memory: MemoryCap,
    pub(crate) wasi: WasiCtx,
    pub(crate) table: ResourceTable,
    pub(crate) stderr: MemoryOutputPipe,
}

impl CogState {
    /// State for one invocation. WASI gets no files, no environment, no
    /// network; stdout is discarded and stderr kept (64 KiB) for panic messages.
    pub fn new(
        scope: Scope,
        grants: Arc<Grants>,
        services: Services,
        settings_defaults: Option<Arc<serde_json::Value>>,
        limits: LimitsConfig,
    ) -> Self {
        let stderr = MemoryOutputPipe::new(64 << 10);
        let wasi = wasmtime_wasi::WasiCtxBuilder::new()
            .stderr(stderr.clone())
            .build();
        Self {
            scope,
            grants,
            services,
            settings_defaults,
            memory: MemoryCap {
                cap: limits.memory_bytes(),
                hit: false,
            },
            limits,
            quotas: crate::config::QuotaConfig::default(),
            host_calls: 0,
            started_at: std::time::Instant::now(),
            computing_since: std::time::Instant::now(),
            computed_us: Arc::default(),
            resumed_at: Arc::default(),
            deadline_at: std::time::Instant::now() + limits.deadline(),
            demoted: false,
            share: None,
            main_turn: Arc::default(),
            wasi,
            table: {
                let mut table = ResourceTable::new();
                table.set_max_capacity(MAX_RESOURCES);
                table
            },
            stderr,
        }
    }

    /// Count one call into the host (a capability, a WASI function, a
    /// canonical built-in); past the budget the invocation ends. Called by
    /// the store's call hook on every entry into the host, so nothing a cog
    /// can call escapes the budget.
    pub(crate) fn count_call(&mut self) -> wasmtime::Result<()> {
        self.host_calls += 1;
        if self.host_calls > self.limits.host_calls {
            return Err(wasmtime::Error::new(LimitExceeded::HostCalls(
                self.limits.host_calls,
            )));
        }
        Ok(())
    }

    /// Count the wasm running since `computing_since` as computing, and
    /// demote the cog when its running calls, alone or together, have
    /// computed for `after`.
    pub(crate) fn count_computing(
        &mut self,
        now: std::time::Instant,
        after: std::time::Duration,
        penalty: std::time::Duration,
    ) {
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

    /// Start another call on a reused instance: new scope, fresh budget.
    /// Grants, limits and settings defaults belong to the cog and stay.
    pub(crate) fn begin_call(&mut self, scope: Scope) {
        self.scope = scope;
        self.host_calls = 0;
        self.memory.hit = false;
    }

    /// What the cog wrote to stderr (a panic message, usually).
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.contents()).into_owned()
    }

    /// Host calls made so far.
    pub fn host_calls(&self) -> u32 {
        self.host_calls
    }
}

impl WasiView for CogState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
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

impl crate::runtime::bindings::types::Host for CogState {}

/// Add every capability and WASI to a linker.
pub fn add_to_linker(linker: &mut wasmtime::component::Linker<CogState>) -> wasmtime::Result<()> {
    wasmtime_wasi::p2::add_to_linker_async(linker)?;
    crate::runtime::bindings::Cog::add_to_linker::<_, wasmtime::component::HasSelf<_>>(
        linker,
        |state| state,
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_instance_holds_a_bounded_number_of_resources() {
        let mut state = CogState::new(
            Scope::default(),
            Arc::new(Grants::default()),
            Services::in_process(),
            None,
            LimitsConfig::default(),
        );
        assert_eq!(state.table.max_capacity(), MAX_RESOURCES);
        for i in 0..MAX_RESOURCES {
            state.table.push(i).expect("within the cap");
        }
        assert!(
            state.table.push(0usize).is_err(),
            "one past the cap is refused"
        );
    }
}
