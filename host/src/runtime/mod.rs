//! The cog runtime: one wasmtime engine, the registry of loaded cogs, hot
//! reload from the cogs folder, and sandboxed invocation with limits.
//!
//! Life of a cog file: [`Runtime::load_file`] reads it, [`inspect`] checks
//! that it is a component of a supported WIT version, the
//! [`artifacts::ArtifactCache`] compiles it (or loads the cached artifact),
//! the linker pre-instantiates it, its `manifest` export runs in the sandbox
//! and is validated ([`manifest`]), its grants are resolved, and the
//! [`CogRegistry`] swaps it in atomically. Every call then gets a fresh
//! instance ([`Runtime::invoke`]), dropped when the call ends.
//!
//! This module knows no HTTP route and no Discord type beyond the WIT's own.

pub mod artifacts;
mod call;
mod charge;

pub mod engine;
mod exports;
pub mod inspect;
mod invoke;
pub mod manifest;
pub mod metrics;
pub mod notices;
mod registry;
pub mod sandbox;
pub mod share;
pub mod ui_module;
mod warm;
pub mod watcher;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use wasmtime::Engine;
use wasmtime::component::{InstancePre, Linker};

pub use call::{Answer, Call};
pub use invoke::InstancePolicy;
pub use registry::{CogRegistry, LoadFailure};
pub use sandbox::{LimitExceeded, Sandbox};

use crate::capabilities::{self, CogState, Grants, Services};
use crate::config::{Config, InstanceMode, LimitsConfig};
use crate::wit::types::CogManifest;
use artifacts::{ArtifactCache, Origin};
use inspect::ComponentFacts;
use metrics::CogMetrics;

/// Commands several cogs loaded together declare, with those cogs' names.
type Contested = std::collections::BTreeMap<String, Vec<String>>;

/// Why a cog file could not be loaded. Each message fits on one line and
/// says what to do.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read the file: {0}")]
    Unreadable(#[from] std::io::Error),
    /// The store could not be asked who owns the cog's commands.
    #[error("cannot read the owners of its commands from the database: {0}")]
    Store(String),
    /// Not WebAssembly at all.
    #[error("not a WebAssembly file (no `\\0asm` header)")]
    NotWasm,
    /// A core module, not a component.
    #[error(
        "a core WebAssembly module, not a component: build with `cargo build --target wasm32-wasip2` or `cargo component build`"
    )]
    NotAComponent,
    /// Truncated or corrupt.
    #[error("malformed WebAssembly: {0}")]
    Malformed(String),
    /// A component, but not a Baseline cog.
    #[error("a component of another world: it does not export `baseline:cog/handler` (its exports: {})", list_or_none(.exports))]
    WrongWorld {
        /// What it does export.
        exports: Vec<String>,
    },
    /// Built against a WIT version this host does not run.
    #[error("built against baseline:cog@{found}{}, but this host loads baseline:cog@{}: {}", sdk.as_ref().map(|s| format!(" ({s})")).unwrap_or_default(), crate::wit::WitVersion::range(), if version_newer(found) { "upgrade the host" } else { "rebuild the cog with a current SDK" })]
    UnsupportedWit {
        /// The version it exports.
        found: String,
        /// The SDK stamp, if any.
        sdk: Option<String>,
    },
    /// Cranelift refused it.
    #[error("does not compile: {0}")]
    Compile(String),
    /// It imports something the host does not provide.
    #[error("cannot be linked: {0}")]
    Link(String),
    /// `manifest` trapped or timed out.
    #[error("its manifest export failed: {0}")]
    ManifestFailed(String),
    /// Instantiating it while loading failed (a start function that spins, traps or runs out of memory).
    #[error("instantiating it while loading failed: {0}")]
    Instantiate(String),
    /// The manifest breaks Discord's or the host's rules.
    #[error("invalid manifest: {}", .0.join("; "))]
    InvalidManifest(Vec<String>),
    /// The file's name does not make a cog name.
    #[error(
        "the file name `{file}` does not make a cog name: name the file NAME.wasm with NAME 1-32 lowercase letters, digits, `-` or `_`, or pin it with `[cogs.NAME] file = \"{file}\"` in baseline.toml"
    )]
    BadFileName {
        /// The file name.
        file: String,
    },
    /// The manifest declares another name than the one the operator gave.
    #[error(
        "the file `{file}` is the cog `{name}`, but its manifest declares the name `{declared}`: a cog's name is the operator's choice, so it was not loaded (rename the file to `{declared}.wasm`, or pin it with `[cogs.{declared}] file = \"{file}\"` in baseline.toml)"
    )]
    NameMismatch {
        /// The file name.
        file: String,
        /// The name the operator gave (file name or pin).
        name: String,
        /// The name in its manifest.
        declared: String,
    },
    /// The name this file would give is pinned to another file.
    #[error(
        "the cog `{name}` is pinned to `{pinned}` in baseline.toml, so the file `{file}` is not loaded"
    )]
    PinnedElsewhere {
        /// The file name.
        file: String,
        /// The cog name.
        name: String,
        /// The file the pin names.
        pinned: String,
    },
    /// The content of a pinned file is not the one the pin names.
    #[error(
        "the file `{file}` of the cog `{name}` has SHA-256 {found}, but baseline.toml pins {expected}; it was not loaded"
    )]
    HashMismatch {
        /// The file name.
        file: String,
        /// The cog name.
        name: String,
        /// The pinned hash.
        expected: String,
        /// The file's hash.
        found: String,
    },
    /// Another file already provides a cog with this name.
    #[error("cog name `{name}` is already taken by {}", .other.display())]
    NameTaken {
        /// The name.
        name: String,
        /// The file that has it.
        other: PathBuf,
    },
    /// A command belongs to another cog: recorded when that cog first
    /// loaded with it, or named in `baseline.toml`.
    #[error(
        "command `/{command}` of cog `{cog}` belongs to cog `{owner}` ({why}); the cog `{cog}` was not loaded — to move the command, name its owner in baseline.toml: [commands] {command} = \"{cog}\""
    )]
    CommandOwned {
        /// The command.
        command: String,
        /// The cog being loaded.
        cog: String,
        /// The cog it belongs to.
        owner: String,
        /// Why: "named in baseline.toml" or "its recorded owner".
        why: &'static str,
    },
    /// Several cogs loaded together declare a command nobody owns yet.
    #[error(
        "command `/{command}` is declared by cogs `{claimants}`, loaded together, and has no owner yet: none of them gets it, whatever the order of their files; the cog `{cog}` was not loaded — name the owner in baseline.toml: [commands] {command} = \"…\""
    )]
    CommandContested {
        /// The command.
        command: String,
        /// The cog being loaded.
        cog: String,
        /// Every cog that declares it, joined.
        claimants: String,
    },
    /// Another cog already owns a command.
    #[error(
        "command `/{command}` of cog `{cog}` is already owned by cog `{owner}`; the cog `{cog}` was not loaded"
    )]
    CommandConflict {
        /// The command.
        command: String,
        /// The cog being loaded.
        cog: String,
        /// The cog that has it.
        owner: String,
    },
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}

fn version_newer(found: &str) -> bool {
    let parse = |v: &str| {
        v.split('.')
            .map(|p| p.parse::<u64>().unwrap_or(0))
            .collect::<Vec<_>>()
    };
    crate::wit::SUPPORTED
        .iter()
        .all(|(_, supported)| parse(found) > parse(supported))
}

/// Kinds of host-ended invocations, as counted in metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailureKind {
    /// Ran past its deadline.
    Timeout = 0,
    /// Tried to grow memory past its cap.
    Memory,
    /// Overflowed the wasm stack.
    StackOverflow,
    /// Panicked (Rust) or aborted.
    Panic,
    /// Any other trap.
    Trap,
    /// Returned more than the output cap.
    OutputTooLarge,
    /// Made more host calls than its budget.
    HostCalls,
    /// Could not be instantiated.
    Instantiate,
}

impl FailureKind {
    /// Every kind, in discriminant order.
    pub const ALL: [FailureKind; 8] = [
        FailureKind::Timeout,
        FailureKind::Memory,
        FailureKind::StackOverflow,
        FailureKind::Panic,
        FailureKind::Trap,
        FailureKind::OutputTooLarge,
        FailureKind::HostCalls,
        FailureKind::Instantiate,
    ];

    /// The kind's name in metrics and logs.
    pub fn name(self) -> &'static str {
        match self {
            FailureKind::Timeout => "timeout",
            FailureKind::Memory => "memory",
            FailureKind::StackOverflow => "stack-overflow",
            FailureKind::Panic => "panic",
            FailureKind::Trap => "trap",
            FailureKind::OutputTooLarge => "output-too-large",
            FailureKind::HostCalls => "host-calls",
            FailureKind::Instantiate => "instantiate",
        }
    }
}

/// An invocation the host ended. The cog's own `cog-error` is not one: it is
/// part of a normal [`Answer`].
#[derive(Debug, Clone, thiserror::Error)]
#[error("cog `{cog}` {}: {detail}", kind.name())]
pub struct InvocationError {
    /// The cog.
    pub cog: String,
    /// What kind of failure.
    pub kind: FailureKind,
    /// Details for the operator's log.
    pub detail: String,
}

/// Host calls a cog may make while it is loaded (WASI start-up; every
/// capability is denied then).
const LOAD_HOST_CALLS: u32 = 1_000;

/// A cog that is loaded and serving.
pub struct LoadedCog {
    /// Its manifest, validated.
    pub manifest: CogManifest,
    /// The file it came from.
    pub path: PathBuf,
    /// SHA-256 of the file.
    pub hash: String,
    /// WIT version and SDK stamp.
    pub facts: ComponentFacts,
    /// When it was loaded.
    pub loaded_at: SystemTime,
    /// Whether Cranelift ran or the cache served it, and how long that took.
    pub origin: (Origin, Duration),
    /// When compiling (or loading the artifact) ended; reload latency is measured from here.
    pub compiled_at: std::time::Instant,
    /// Limits of each invocation.
    pub limits: LimitsConfig,
    /// What it may keep in kv and the cache.
    pub quotas: crate::config::QuotaConfig,
    /// Resolved capability grants.
    pub grants: Arc<Grants>,
    /// Defaults of its settings schema, if it has one.
    pub settings_defaults: Option<Arc<serde_json::Value>>,
    /// Its settings schema, compiled, if it has one.
    pub settings_schema: Option<Arc<crate::schema::SettingsSchema>>,
    /// Its counters (shared with its previous and next versions).
    pub metrics: Arc<CogMetrics>,
    /// Its share of the invocation slots and event queue (kept across versions).
    pub share: Arc<share::CogShare>,
    /// Fresh instance per call, or warm instances reused per guild.
    pub policy: InstancePolicy,
    /// How long a fresh instance took at load to instantiate and answer a
    /// first call (`manifest`): what `auto` decided on.
    pub instantiate_time: Option<Duration>,
    /// Its browser UI module (`NAME.ui.wasm`): absent, checked, or refused
    /// with the reason.
    pub ui: Option<Result<Arc<ui_module::UiModule>, String>>,
    /// The name its manifest suggests, when the operator named it otherwise
    /// (the manifest's `name` is then the operator's).
    pub declared_name: Option<String>,
    warm: warm::WarmPool,
    pre: InstancePre<Sandbox>,
    /// Its exports, type-checked once (at load).
    exports: exports::Exports,
}

impl LoadedCog {
    /// Its waiting instances, and under reuse the calls one serves.
    fn pool(&self) -> (&warm::WarmPool, Option<u32>) {
        let reuse = match self.policy {
            InstancePolicy::Fresh => None,
            InstancePolicy::Reuse { max_calls } => Some(max_calls),
        };
        (&self.warm, reuse)
    }

    /// Warm instances idle right now.
    pub fn idle_instances(&self) -> usize {
        self.warm.idle()
    }

    /// Spare instances ready right now (made ahead of calls, unused).
    pub fn spare_instances(&self) -> usize {
        self.warm.spares()
    }

    /// Spare warm-ups begun (made or failed) since this version loaded.
    pub fn spare_warm_ups(&self) -> u64 {
        self.warm.warm_ups()
    }

    /// Memory this cog's waiting instances (idle and spare) keep now
    /// (bounded by `[runtime] max_warm_mib_per_cog`).
    pub fn warm_bytes(&self) -> u64 {
        self.warm.held_bytes()
    }

    /// Calls of this cog version that found a spare instance ready.
    pub fn calls_on_spares(&self) -> u64 {
        self.warm.spares_served()
    }

    /// Spare instances the cog keeps ready (`spare_instances`; by default
    /// one when its first call at load was slow, none otherwise).
    pub fn spares_wanted(&self) -> usize {
        self.warm.spares_wanted()
    }

    /// The cog's name.
    pub fn name(&self) -> &str {
        &self.manifest.name
    }
}

/// A compiled, linked cog whose manifest has not been read yet.
pub struct PreparedCog {
    /// The name the operator gave it (file name or pin).
    name: String,
    path: PathBuf,
    hash: String,
    facts: ComponentFacts,
    origin: (Origin, Duration),
    compiled_at: std::time::Instant,
    pre: InstancePre<Sandbox>,
}

/// The runtime: engine, linker, artifact cache, registry and services.
pub struct Runtime {
    /// Itself, for the work it hands to the housekeeping thread.
    me: std::sync::Weak<Runtime>,
    engine: Engine,
    linker: Linker<Sandbox>,
    artifacts: ArtifactCache,
    /// Events waiting or running for all cogs (`[runtime] event_queue_total`).
    events_queued: Arc<std::sync::atomic::AtomicU32>,
    config: Arc<Config>,
    services: Services,
    registry: CogRegistry,
    permits: Arc<tokio::sync::Semaphore>,
    warm: Arc<warm::WarmBudget>,
    housekeeping: share::Housekeeping,
    epoch_tick: Duration,
    _ticker: engine::EpochTicker,
}

impl Runtime {
    /// Build the engine, the linker with every capability, and an empty registry.
    pub fn new(mut config: Config, services: Services) -> anyhow::Result<Arc<Self>> {
        // The watcher reports absolute paths; files are known by those.
        config.cogs_dir = std::path::absolute(&config.cogs_dir)?;
        let engine = engine::build(&config.runtime)?;
        let mut linker = Linker::new(&engine);
        capabilities::add_to_linker(&mut linker, |sandbox: &mut Sandbox| &mut sandbox.caps)
            .map_err(|error| anyhow::anyhow!("linking capabilities: {error}"))?;
        let epoch_tick = Duration::from_millis(config.runtime.epoch_tick_ms.max(1));
        let ticker = engine::EpochTicker::start(engine.clone(), epoch_tick);
        let housekeeping = share::Housekeeping::start(1)?;
        let runtime = Arc::new_cyclic(|me| Self {
            me: me.clone(),
            artifacts: ArtifactCache::new(config.artifact_dir(), &engine),
            events_queued: Default::default(),
            registry: CogRegistry::new(services.host.clone()),
            permits: Arc::new(tokio::sync::Semaphore::new(
                config.runtime.max_concurrent as usize,
            )),
            warm: Arc::new(
                warm::WarmBudget::new(
                    config.runtime.max_warm_instances as usize,
                    Duration::from_millis(config.runtime.warm_idle_ms),
                )
                .with_bytes(
                    config.runtime.max_warm_mib << 20,
                    config.runtime.max_warm_mib_per_cog << 20,
                ),
            ),
            housekeeping,
            engine,
            linker,
            config: Arc::new(config),
            services,
            epoch_tick,
            _ticker: ticker,
        });
        // Idle warm instances hold pool slots: give back the stale ones.
        // And make the spares a top-up gave up on (a full budget, a failure).
        let weak = Arc::downgrade(&runtime);
        runtime.housekeeping.handle().spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let Some(runtime) = weak.upgrade() else {
                    return;
                };
                for cog in runtime.registry.list() {
                    cog.warm.expire();
                    runtime.top_up_spares(&cog);
                }
            }
        });
        Ok(runtime)
    }

    /// Idle warm instances held now, across cogs.
    pub fn warm_instances(&self) -> usize {
        self.warm.held()
    }

    /// Memory the idle warm and spare instances keep now, across cogs
    /// (bounded by `[runtime] max_warm_mib`).
    pub fn warm_bytes(&self) -> u64 {
        self.warm.held_bytes()
    }

    /// The loaded cogs.
    pub fn registry(&self) -> &CogRegistry {
        &self.registry
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Events waiting or running for all cogs together, the counter every
    /// cog's event queue shares.
    pub fn events_queued(&self) -> &Arc<std::sync::atomic::AtomicU32> {
        &self.events_queued
    }

    /// The services capabilities use.
    pub fn services(&self) -> &Services {
        &self.services
    }

    /// Inspect, compile (or load from cache) and link a cog. Blocking: run
    /// it on a blocking thread.
    pub fn prepare(&self, path: &Path, bytes: &[u8]) -> Result<PreparedCog, LoadError> {
        let name = self.cog_name(path)?;
        let facts = inspect::inspect(bytes)?;
        let hash = artifacts::wasm_hash(bytes);
        if let Some(expected) = self.config.cogs.get(&name).and_then(|c| c.sha256.as_ref())
            && !expected.eq_ignore_ascii_case(&hash)
        {
            return Err(LoadError::HashMismatch {
                file: file_name(path),
                name,
                expected: expected.to_ascii_lowercase(),
                found: hash,
            });
        }
        let (component, origin, took) =
            self.artifacts
                .load_or_compile(&self.engine, &hash, bytes, &name)?;
        let pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(|error| LoadError::Link(format!("{error:#}")))?;
        Ok(PreparedCog {
            name,
            path: path.to_path_buf(),
            hash,
            facts,
            origin: (origin, took),
            compiled_at: std::time::Instant::now(),
            pre,
        })
    }

    /// The name of the cog in `path`: the cog a `[cogs.NAME] file` pin
    /// gives it, else its file name (`NAME.wasm`, `_` read as `-`). A file
    /// whose name is pinned to another file has none.
    pub fn cog_name(&self, path: &Path) -> Result<String, LoadError> {
        let file = file_name(path);
        let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        let pinned_path = |pin: &Path| {
            std::path::absolute(self.config.cogs_dir.join(pin)).unwrap_or_else(|_| pin.into())
        };
        for (name, cog) in &self.config.cogs {
            if let Some(pin) = &cog.file
                && pinned_path(pin) == absolute
            {
                return Ok(name.clone());
            }
        }
        let stem = file
            .strip_suffix(".wasm")
            .unwrap_or(&file)
            .replace('_', "-");
        if !manifest::valid_cog_name(&stem) {
            return Err(LoadError::BadFileName { file });
        }
        if let Some(pin) = self.config.cogs.get(&stem).and_then(|c| c.file.as_ref()) {
            return Err(LoadError::PinnedElsewhere {
                file,
                name: stem,
                pinned: pin.display().to_string(),
            });
        }
        Ok(stem)
    }

    /// Run the cog's `manifest` export (no host calls allowed), validate it
    /// and resolve the cog's grants and limits.
    pub async fn describe(&self, prepared: PreparedCog) -> Result<LoadedCog, LoadError> {
        let version = prepared.facts.version;
        // Loading runs the cog's code too (start functions, `manifest`,
        // timing probes): under the load deadline, with no capability granted
        // and a small host-call budget for what WASI start-up needs.
        let limits = LimitsConfig {
            host_calls: LOAD_HOST_CALLS,
            deadline_ms: self.config.runtime.load_deadline_ms,
            ..self.config.limits
        };
        let scope = capabilities::Scope {
            cog: Arc::from("(loading)"),
            ..Default::default()
        };
        let caps = |scope| {
            CogState::new(
                scope,
                Arc::new(Grants::default()),
                self.services.clone(),
                None,
                limits,
            )
        };
        let (manifest, exports) = self
            .run(
                &prepared.pre,
                None,
                invoke::Admission::unshared(scope),
                caps,
                limits,
                |instance, store| {
                    Box::pin(async move {
                        // The one type check of the cog's exports.
                        let exports = exports::Exports::check(store, instance, version)?;
                        let manifest = exports.manifest(instance, store).await?;
                        Ok((manifest, exports))
                    })
                },
            )
            .await
            .map_err(
                |(kind, detail)| match detail.strip_prefix("while instantiating: ") {
                    // The start functions failed before `manifest` could run.
                    Some(detail) => LoadError::Instantiate(format!("{}: {detail}", kind.name())),
                    None => LoadError::ManifestFailed(format!("{}: {detail}", kind.name())),
                },
            )?;
        let mut manifest = manifest;
        // A cog that writes its own name before its custom ids (WIT 0.1.0)
        // works only under that name; since 0.2.0 the host keeps custom ids
        // apart and the operator's name is the cog's name, whatever it
        // suggests.
        let declared = (manifest.name != prepared.name).then(|| manifest.name.clone());
        if declared.is_some() && !version.host_namespaces_custom_ids() {
            return Err(LoadError::NameMismatch {
                file: file_name(&prepared.path),
                name: prepared.name,
                declared: manifest.name,
            });
        }
        manifest.name = prepared.name.clone();
        let settings_schema = manifest::check(&manifest)
            .map_err(LoadError::InvalidManifest)?
            .map(Arc::new);
        let settings_defaults = settings_schema
            .as_ref()
            .map(|schema| Arc::new(schema.defaults.clone()));
        let cog_config = self.config.cogs.get(&prepared.name);
        let probe = || {
            let caps = CogState::new(
                capabilities::Scope {
                    cog: Arc::from("(loading)"),
                    ..Default::default()
                },
                Arc::new(Grants::default()),
                self.services.clone(),
                None,
                limits,
            );
            Sandbox::new(caps, &limits)
        };
        let instantiate_time = self
            .time_instantiation(&prepared.pre, &exports, probe, limits)
            .await
            .map_err(|(kind, detail)| {
                LoadError::Instantiate(format!("{}: {detail}", kind.name()))
            })?;
        let reuse = InstancePolicy::Reuse {
            max_calls: cog_config
                .and_then(|c| c.reuse_calls)
                .unwrap_or(invoke::DEFAULT_REUSE_CALLS)
                .max(1),
        };
        let policy = match cog_config.map(|c| c.instances).unwrap_or_default() {
            InstanceMode::Fresh => InstancePolicy::Fresh,
            InstanceMode::Reuse => reuse,
            InstanceMode::Auto if instantiate_time > invoke::REUSE_THRESHOLD => reuse,
            InstanceMode::Auto => InstancePolicy::Fresh,
        };
        // A cog whose first call is slow keeps one instance ready, so a
        // guild's first call (or every call, under `fresh`) does not wait
        // for it.
        let spares = cog_config
            .and_then(|c| c.spare_instances)
            .unwrap_or(u32::from(instantiate_time > invoke::REUSE_THRESHOLD));
        let grants = Grants::resolve(
            manifest.capabilities.iter().map(|c| c.name.as_str()),
            cog_config,
        );
        for withheld in grants.withheld() {
            let reason = manifest
                .capabilities
                .iter()
                .find(|c| c.name == withheld)
                .map(|c| c.reason.as_str())
                .unwrap_or("");
            tracing::warn!(
                cog = %manifest.name, capability = withheld, reason,
                "cog asks for a capability that is not granted; calls needing it will be denied \
                 (grant it with `grant = [\"{withheld}\"]` under [cogs.{}] in baseline.toml)", manifest.name
            );
        }
        Ok(LoadedCog {
            limits: self.config.limits_for(&manifest.name),
            quotas: self.config.quotas_for(&manifest.name),
            metrics: self.registry.metrics_for(&manifest.name),
            share: self
                .registry
                .share_for(&manifest.name, self.config.concurrency_for(&manifest.name)),
            policy,
            instantiate_time: Some(instantiate_time),
            ui: None,
            warm: warm::WarmPool::new(self.warm.clone(), spares),
            grants: Arc::new(grants),
            settings_defaults,
            settings_schema,
            path: prepared.path,
            hash: prepared.hash,
            facts: prepared.facts,
            loaded_at: SystemTime::now(),
            origin: prepared.origin,
            compiled_at: prepared.compiled_at,
            pre: prepared.pre,
            exports,
            declared_name: declared,
            manifest,
        })
    }

    /// Read, prepare and describe a cog file without installing it (`baseline cog check`).
    pub async fn open(self: &Arc<Self>, path: &Path) -> Result<LoadedCog, LoadError> {
        let bytes = tokio::fs::read(path).await?;
        let runtime = self.clone();
        let file = path.to_path_buf();
        let prepared = tokio::task::spawn_blocking(move || runtime.prepare(&file, &bytes))
            .await
            .map_err(|error| LoadError::Compile(format!("compiler thread failed: {error}")))??;
        let mut cog = self.describe(prepared).await?;
        cog.ui = ui_module::load_beside(path).await;
        if let Some(Err(_)) = &cog.ui
            && let Some(page) = cog.manifest.pages.iter().find(|p| p.ui_module)
        {
            tracing::warn!(cog = %cog.manifest.name, page = %page.route, "the page's UI module was refused; the page shows why");
        }
        Ok(cog)
    }

    /// Load (or reload) a cog file and swap it in. On failure the previous
    /// version, if any, keeps serving and the error is recorded in the registry.
    /// A successful reload is announced to the bot's other processes.
    pub async fn load_file(self: &Arc<Self>, path: &Path) -> Result<Arc<LoadedCog>, LoadError> {
        let path = &std::path::absolute(path)?;
        let reload = self.registry.by_file(path).is_some();
        let result = self.load_quietly(path).await;
        if reload && let Ok(cog) = &result {
            self.announce(cog).await;
        }
        result
    }

    /// Load a cog file without telling other processes.
    async fn load_quietly(self: &Arc<Self>, path: &Path) -> Result<Arc<LoadedCog>, LoadError> {
        let opened = self.open(path).await;
        self.install_opened(path, opened, &Contested::new()).await
    }

    /// Swap in a cog opened from `path` (or record why it could not be),
    /// unless a command of it belongs to another cog or is `contested`.
    async fn install_opened(
        self: &Arc<Self>,
        path: &Path,
        opened: Result<LoadedCog, LoadError>,
        contested: &Contested,
    ) -> Result<Arc<LoadedCog>, LoadError> {
        let result = match opened {
            Ok(cog) => match self.command_owners_allow(&cog, contested).await {
                Ok(()) => self.registry.install(cog),
                Err(error) => Err(error),
            },
            Err(error) => Err(error),
        };
        if let Ok(cog) = &result {
            self.record_command_owners(cog).await;
        }
        match &result {
            Ok(cog) => {
                tracing::info!(
                    cog = %cog.name(), version = %cog.manifest.version, file = %path.display(),
                    origin = ?cog.origin.0, took_ms = cog.origin.1.as_secs_f64() * 1000.0,
                    commands = cog.manifest.commands.len(), "cog loaded"
                );
                self.top_up_spares(cog);
            }
            Err(error) => {
                let serving = self
                    .registry
                    .by_file(path)
                    .map(|cog| cog.manifest.version.clone());
                tracing::error!(
                    file = %path.display(), %error, previous_version_serving = ?serving,
                    "cog not loaded"
                );
                self.registry.record_failure(path, error);
            }
        }
        result
    }

    /// Whether `cog` may have its commands: none named in `baseline.toml`
    /// (`[commands]`) for another cog, none recorded in the store for
    /// another (its first owner, kept across restarts). Without a database
    /// only the operator's names and the loaded cogs count.
    async fn command_owners_allow(
        &self,
        cog: &LoadedCog,
        contested: &Contested,
    ) -> Result<(), LoadError> {
        let names: Vec<String> = cog
            .manifest
            .commands
            .iter()
            .map(|c| c.name.clone())
            .collect();
        let named = &self.config.commands;
        if let Some((command, owner)) = names
            .iter()
            .find_map(|c| named.get(c).filter(|o| *o != cog.name()).map(|o| (c, o)))
        {
            return Err(LoadError::CommandOwned {
                command: command.clone(),
                cog: cog.name().to_string(),
                owner: owner.clone(),
                why: "named in baseline.toml",
            });
        }
        let unnamed: Vec<String> = names
            .into_iter()
            .filter(|c| !named.contains_key(c))
            .collect();
        let recorded = match &self.services.database {
            Some(db) => crate::store::commands::CommandOwners::new(db.clone())
                .owners(&unnamed)
                .await
                .map_err(|e| LoadError::Store(e.to_string()))?,
            None => Default::default(),
        };
        match unnamed
            .iter()
            .find_map(|c| recorded.get(c).filter(|o| *o != cog.name()).map(|o| (c, o)))
        {
            Some((command, owner)) => Err(LoadError::CommandOwned {
                command: command.clone(),
                cog: cog.name().to_string(),
                owner: owner.clone(),
                why: "its recorded owner: the first cog loaded with it",
            }),
            None => match unnamed
                .iter()
                .filter(|c| !recorded.contains_key(*c))
                .find_map(|c| contested.get(c).map(|cogs| (c, cogs)))
            {
                Some((command, cogs)) => Err(LoadError::CommandContested {
                    command: command.clone(),
                    cog: cog.name().to_string(),
                    claimants: cogs.join("`, `"),
                }),
                None => Ok(()),
            },
        }
    }

    /// Record `cog` as the owner of its commands that have none (and of
    /// those the operator named it for). A store that cannot be written
    /// is logged: the cog is loaded, and the record is made next time.
    async fn record_command_owners(&self, cog: &LoadedCog) {
        let Some(db) = &self.services.database else {
            return;
        };
        let owners = crate::store::commands::CommandOwners::new(db.clone());
        let (named, first): (Vec<String>, Vec<String>) = cog
            .manifest
            .commands
            .iter()
            .map(|c| c.name.clone())
            .partition(|c| self.config.commands.contains_key(c));
        for (commands, replace) in [(named, true), (first, false)] {
            if commands.is_empty() {
                continue;
            }
            if let Err(error) = owners.record(&commands, cog.name(), replace).await {
                tracing::warn!(cog = %cog.name(), %error, "cannot record the owner of the cog's commands");
            }
        }
    }

    /// Load every `.wasm` file in the cogs folder, in name order.
    pub async fn load_dir(self: &Arc<Self>) -> Vec<(PathBuf, Result<Arc<LoadedCog>, LoadError>)> {
        let dir = &self.config.cogs_dir;
        let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
            Ok(entries) => entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| watcher::is_cog_file(p))
                .collect(),
            Err(error) => {
                tracing::warn!(dir = %dir.display(), %error, "cannot read the cogs folder");
                Vec::new()
            }
        };
        files.sort();
        // Every file is opened first, so that a command two of them declare
        // and nobody owns yet goes to neither (whatever their names'
        // order) until the operator names its owner.
        let mut opened = Vec::new();
        for file in files {
            let path = std::path::absolute(&file).unwrap_or_else(|_| file.clone());
            let cog = self.open(&path).await;
            opened.push((file, path, cog));
        }
        let mut claims: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        for (_, _, cog) in &opened {
            if let Ok(cog) = cog {
                for command in &cog.manifest.commands {
                    claims
                        .entry(command.name.clone())
                        .or_default()
                        .push(cog.name().to_string());
                }
            }
        }
        claims.retain(|_, cogs| cogs.len() > 1);
        let mut results = Vec::new();
        for (file, path, cog) in opened {
            let reload = self.registry.by_file(&path).is_some();
            let result = self.install_opened(&path, cog, &claims).await;
            if reload && let Ok(cog) = &result {
                self.announce(cog).await;
            }
            results.push((file, result));
        }
        results
    }

    /// Unload the cog that came from `path`, if any.
    pub fn unload_file(&self, path: &Path) -> Option<Arc<LoadedCog>> {
        let path = &std::path::absolute(path).ok()?;
        let removed = self.registry.remove_file(path);
        if let Some(cog) = &removed {
            tracing::info!(cog = %cog.name(), file = %path.display(), "cog unloaded (file removed)");
        }
        removed
    }
}
