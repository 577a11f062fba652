//! The loaded cogs: an immutable table swapped atomically on every change,
//! so readers never lock and an invocation keeps the version it started with.
//! Also the record of the last load failure per file, where operators look.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use arc_swap::ArcSwap;
use parking_lot::Mutex;

use super::metrics::CogMetrics;
use super::share::CogShare;
use super::{LoadError, LoadedCog};
use crate::capabilities::system::HostFacts;

/// A file that failed to load, as shown to operators.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LoadFailure {
    /// When it failed.
    pub at: SystemTime,
    /// The one-line reason.
    pub error: String,
}

#[derive(Default, Clone)]
struct CogTable {
    by_name: BTreeMap<String, Arc<LoadedCog>>,
    by_command: HashMap<String, String>,
    by_file: HashMap<PathBuf, String>,
}

/// Every loaded cog, by name, command and file.
pub struct CogRegistry {
    table: ArcSwap<CogTable>,
    /// Serialises writers; readers go through `table` without locking.
    writer: Mutex<()>,
    failures: Mutex<BTreeMap<PathBuf, LoadFailure>>,
    metrics: Mutex<HashMap<String, Arc<CogMetrics>>>,
    shares: Mutex<HashMap<String, Arc<CogShare>>>,
    facts: Arc<HostFacts>,
    changes: tokio::sync::watch::Sender<u64>,
}

impl CogRegistry {
    pub(crate) fn new(facts: Arc<HostFacts>) -> Self {
        Self {
            table: ArcSwap::from_pointee(CogTable::default()),
            writer: Mutex::new(()),
            failures: Mutex::new(BTreeMap::new()),
            metrics: Mutex::new(HashMap::new()),
            shares: Mutex::new(HashMap::new()),
            facts,
            changes: tokio::sync::watch::channel(0).0,
        }
    }

    /// Told of every change of the loaded set (its value counts the changes):
    /// command registration watches it.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// The counters of a cog (created on first use, kept across reloads).
    pub fn metrics_for(&self, name: &str) -> Arc<CogMetrics> {
        self.metrics
            .lock()
            .entry(name.to_string())
            .or_default()
            .clone()
    }

    /// The share of a cog (created on first use with `concurrency` slots,
    /// kept across reloads; a changed `concurrency` makes a new one).
    pub fn share_for(&self, name: &str, concurrency: u32) -> Arc<CogShare> {
        let mut shares = self.shares.lock();
        let share = shares
            .entry(name.to_string())
            .or_insert_with(|| Arc::new(CogShare::new(name, concurrency)));
        if share.concurrency() != concurrency.max(1) {
            *share = Arc::new(CogShare::new(name, concurrency));
        }
        share.clone()
    }

    /// Swap `cog` in, replacing the version from the same file. Refused when
    /// another file has the same cog name or one of its commands.
    pub(crate) fn install(&self, cog: LoadedCog) -> Result<Arc<LoadedCog>, LoadError> {
        let _writer = self.writer.lock();
        let current = self.table.load();
        let name = cog.name().to_string();
        if let Some(existing) = current.by_name.get(&name)
            && existing.path != cog.path
        {
            return Err(LoadError::NameTaken {
                name,
                other: existing.path.clone(),
            });
        }
        let previous_from_file = current.by_file.get(&cog.path).cloned();
        for command in &cog.manifest.commands {
            if let Some(owner) = current.by_command.get(&command.name)
                && *owner != name
                && Some(owner) != previous_from_file.as_ref()
            {
                return Err(LoadError::CommandConflict {
                    command: command.name.clone(),
                    cog: name,
                    owner: owner.clone(),
                });
            }
        }
        let mut next = (**current).clone();
        if let Some(previous) = previous_from_file {
            remove_cog(&mut next, &previous);
        }
        remove_cog(&mut next, &name);
        let cog = Arc::new(cog);
        for command in &cog.manifest.commands {
            next.by_command.insert(command.name.clone(), name.clone());
        }
        next.by_file.insert(cog.path.clone(), name.clone());
        next.by_name.insert(name, cog.clone());
        self.publish(next);
        self.failures.lock().remove(&cog.path);
        Ok(cog)
    }

    /// Unload whatever came from `path`.
    pub(crate) fn remove_file(&self, path: &Path) -> Option<Arc<LoadedCog>> {
        let _writer = self.writer.lock();
        self.failures.lock().remove(path);
        let current = self.table.load();
        let name = current.by_file.get(path)?.clone();
        let removed = current.by_name.get(&name).cloned();
        let mut next = (**current).clone();
        remove_cog(&mut next, &name);
        self.publish(next);
        removed
    }

    fn publish(&self, table: CogTable) {
        self.facts.set_cogs(
            table
                .by_name
                .values()
                .map(|c| (c.name().to_string(), c.manifest.version.clone()))
                .collect(),
        );
        self.table.store(Arc::new(table));
        self.changes.send_modify(|n| *n += 1);
    }

    pub(crate) fn record_failure(&self, path: &Path, error: &LoadError) {
        self.failures.lock().insert(
            path.to_path_buf(),
            LoadFailure {
                at: SystemTime::now(),
                error: error.to_string(),
            },
        );
    }

    /// A cog by name.
    pub fn get(&self, name: &str) -> Option<Arc<LoadedCog>> {
        self.table.load().by_name.get(name).cloned()
    }

    /// The cog that owns a slash command.
    pub fn by_command(&self, command: &str) -> Option<Arc<LoadedCog>> {
        let table = self.table.load();
        table
            .by_command
            .get(command)
            .and_then(|name| table.by_name.get(name))
            .cloned()
    }

    /// The cog loaded from a file.
    pub fn by_file(&self, path: &Path) -> Option<Arc<LoadedCog>> {
        let table = self.table.load();
        table
            .by_file
            .get(path)
            .and_then(|name| table.by_name.get(name))
            .cloned()
    }

    /// Every loaded cog, by name.
    pub fn list(&self) -> Vec<Arc<LoadedCog>> {
        self.table.load().by_name.values().cloned().collect()
    }

    /// The last load failure of each file that has one.
    pub fn failures(&self) -> BTreeMap<PathBuf, LoadFailure> {
        self.failures.lock().clone()
    }
}

fn remove_cog(table: &mut CogTable, name: &str) {
    if let Some(cog) = table.by_name.remove(name) {
        table.by_command.retain(|_, owner| owner != name);
        table
            .by_file
            .retain(|path, owner| owner != name || *path != cog.path);
    }
}
