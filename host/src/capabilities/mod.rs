//! Capabilities: the host side of each WIT import interface, one module per
//! interface, named after it. Every function checks the cog's grant and the
//! invocation's scope before it acts (the runtime's call hook has already
//! counted the call against the invocation's budget; capabilities never see
//! the runtime's meters).
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
pub mod legacy;
pub mod llm;
pub mod log;
pub mod schedule;
pub mod settings;
pub mod system;

use std::sync::Arc;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

pub use grants::Grants;

use crate::config::LimitsConfig;

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
    /// The LLM gateway, metered (absent without a database).
    pub llm: Option<Arc<crate::llm::service::LlmService>>,
    /// Cogs' timers (absent without a database).
    pub timers: Option<crate::store::timers::Timers>,
}

impl Services {
    /// kv and settings in `db`, the cache in process.
    pub fn with_database(db: crate::store::Database) -> Self {
        Self {
            kv: Arc::new(crate::store::kv::SqlKv::new(db.clone())),
            settings: Arc::new(crate::store::settings::SqlSettings::new(db.clone())),
            timers: Some(crate::store::timers::Timers::new(db.clone())),
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

    /// The same services with the LLM gateway.
    pub fn with_llm(self, llm: Arc<crate::llm::service::LlmService>) -> Self {
        Self {
            llm: Some(llm),
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
            llm: None,
            timers: None,
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
    /// The WIT version the cog was built against (the runtime sets it from
    /// the cog for every call).
    pub wit: crate::wit::WitVersion,
}

/// Resources (WASI streams, pollables, …) one instance may hold at once;
/// past it, creating another fails inside the cog instead of growing the
/// host's table.
pub const MAX_RESOURCES: usize = 1_000;

/// Per-invocation state: what the capabilities of one cog call can see.
/// Built fresh for every invocation and dropped with it (or kept with a
/// warm instance of the same guild, given a new [`Scope`] per call). The
/// runtime wraps it with its own meters (`runtime::sandbox`).
pub struct CogState {
    pub(crate) scope: Scope,
    pub(crate) grants: Arc<Grants>,
    pub(crate) services: Services,
    pub(crate) settings_defaults: Option<Arc<serde_json::Value>>,
    pub(crate) limits: LimitsConfig,
    /// What the cog may keep in kv and the cache (its quotas).
    pub(crate) quotas: crate::config::QuotaConfig,
    pub(crate) wasi: WasiCtx,
    pub(crate) table: ResourceTable,
    pub(crate) stderr: MemoryOutputPipe,
    /// Where the current call's stderr starts (a reused instance keeps
    /// what its earlier calls wrote).
    stderr_from: usize,
    /// Open `llm` streams (ended with the call).
    pub(crate) llm_streams: llm::Streams,
    /// When the current call's deadline passes (slow host calls answer
    /// before it, so the cog can still say something).
    pub(crate) deadline: Option<std::time::Instant>,
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
            limits,
            quotas: crate::config::QuotaConfig::default(),
            wasi,
            table: {
                let mut table = ResourceTable::new();
                table.set_max_capacity(MAX_RESOURCES);
                table
            },
            stderr,
            stderr_from: 0,
            llm_streams: llm::Streams::default(),
            deadline: None,
        }
    }

    /// The invocation's scope.
    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    /// Set what the cog may keep in kv and the cache.
    pub fn set_quotas(&mut self, quotas: crate::config::QuotaConfig) {
        self.quotas = quotas;
    }

    /// Start another call on a reused instance: new scope, and its own
    /// stderr from here on. Grants, limits and settings defaults belong to
    /// the cog and stay.
    pub fn begin_call(&mut self, scope: Scope) {
        self.scope = scope;
        self.stderr_from = self.stderr.contents().len();
    }

    /// The current call must be over by `at`.
    pub fn set_deadline(&mut self, at: std::time::Instant) {
        self.deadline = Some(at);
    }

    /// The call is over: what it opened and could leave behind (LLM
    /// streams, each settled at what was generated) ends with it.
    pub fn end_call(&mut self) {
        self.llm_streams.end_call();
    }

    /// The invocation's limits.
    pub fn limits(&self) -> &LimitsConfig {
        &self.limits
    }

    /// What the cog wrote to stderr in the current call (a panic message,
    /// usually).
    pub fn stderr(&self) -> String {
        let written = self.stderr.contents();
        String::from_utf8_lossy(&written[self.stderr_from.min(written.len())..]).into_owned()
    }

    /// WASI's view of this state (its context and resource table).
    pub fn wasi_view(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiView for CogState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        self.wasi_view()
    }
}

impl crate::wit::types::Host for CogState {}

/// Add every capability and WASI to a linker whose store data `T` holds a
/// [`CogState`] (reached through `state`).
pub fn add_to_linker<T: WasiView + Send + 'static>(
    linker: &mut wasmtime::component::Linker<T>,
    state: fn(&mut T) -> &mut CogState,
) -> wasmtime::Result<()> {
    use crate::wit::baseline::cog;
    use crate::wit::{SUPPORTED, WitVersion};
    use wasmtime::component::HasSelf;
    type D = HasSelf<CogState>;
    wasmtime_wasi::p2::add_to_linker_async(linker)?;
    crate::wit::Cog::add_to_linker::<T, D>(linker, state)?;
    // Every older version's imports, served by today's implementations
    // under the old names. Their functions have today's shapes (wasmtime
    // checks that structurally when it links a cog; the test cogs of each
    // released version prove it), but for `discord`, whose entities grew
    // in 0.3.0: 0.1.0 and 0.2.0 get 0.2.0's, adapted (`crate::wit::v0_2`).
    for (version, name) in SUPPORTED {
        if *version == WitVersion::CURRENT {
            continue;
        }
        for interface in crate::wit::IMPORTS {
            if !crate::wit::has_import(*version, interface) {
                continue;
            }
            let mut inst = linker.instance(&format!("baseline:cog/{interface}@{name}"))?;
            let inst = &mut inst;
            match *interface {
                "types" => {}
                "discord" => crate::wit::v0_2::baseline::cog::discord::add_to_linker_instance::<
                    T,
                    D,
                >(inst, state)?,
                "interaction" => cog::interaction::add_to_linker_instance::<T, D>(inst, state)?,
                "kv" => cog::kv::add_to_linker_instance::<T, D>(inst, state)?,
                "cache" => cog::cache::add_to_linker_instance::<T, D>(inst, state)?,
                "settings" => cog::settings::add_to_linker_instance::<T, D>(inst, state)?,
                "llm" => cog::llm::add_to_linker_instance::<T, D>(inst, state)?,
                "log" => cog::log::add_to_linker_instance::<T, D>(inst, state)?,
                "system" => cog::system::add_to_linker_instance::<T, D>(inst, state)?,
                other => wasmtime::bail!("no import interface `{other}`"),
            }
        }
    }
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
