//! Hot reload: a `notify` watcher on the cogs folder. Events are debounced
//! (a copy in progress produces several), then each touched `.wasm` file is
//! loaded if it exists — compiled off the async threads, swapped in only if
//! valid — or unloaded if it is gone. A rename is a removal plus a creation.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;

use super::Runtime;

/// Is this a cog file (`*.wasm`, not a browser UI module `*.ui.wasm`)?
pub fn is_cog_file(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    name.ends_with(".wasm") && !name.ends_with(".ui.wasm") && !name.starts_with('.')
}

/// A running watcher; dropping it stops watching.
pub struct CogWatcher {
    _watcher: notify::RecommendedWatcher,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for CogWatcher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Watch the runtime's cogs folder and apply changes until dropped.
pub fn watch(runtime: Arc<Runtime>) -> anyhow::Result<CogWatcher> {
    let dir = runtime.config().cogs_dir.clone();
    std::fs::create_dir_all(&dir)?;
    let (sender, mut receiver) = mpsc::unbounded_channel::<PathBuf>();
    let mut watcher =
        notify::recommended_watcher(move |event: notify::Result<notify::Event>| match event {
            Ok(event) if !event.kind.is_access() => {
                for path in event.paths {
                    let _ = sender.send(path);
                }
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "cogs folder watcher error"),
        })?;
    watcher.watch(&dir, RecursiveMode::NonRecursive)?;
    let debounce = Duration::from_millis(runtime.config().runtime.reload_debounce_ms);
    let task = tokio::spawn(async move {
        while let Some(first) = receiver.recv().await {
            let mut touched = BTreeSet::from([first]);
            // Gather what arrives until the folder has been quiet for `debounce`.
            while let Ok(Some(path)) = tokio::time::timeout(debounce, receiver.recv()).await {
                touched.insert(path);
            }
            // A changed UI module reloads its cog (which checks it again),
            // even when the cog's own file is unchanged.
            let ui_changed: BTreeSet<PathBuf> = touched
                .iter()
                .filter_map(|p| super::ui_module::cog_for(p))
                .filter(|cog| cog.exists())
                .collect();
            // Removals first: a rename is a removal plus a creation, and the
            // cog's name must be free before the new file claims it.
            let (present, gone): (Vec<PathBuf>, Vec<PathBuf>) = touched
                .into_iter()
                .filter(|p| is_cog_file(p))
                .partition(|p| p.exists());
            for path in gone {
                runtime.unload_file(&path);
            }
            for path in &present {
                reload(&runtime, path, ui_changed.contains(path)).await;
            }
            for path in ui_changed.iter().filter(|p| !present.contains(p)) {
                reload(&runtime, path, true).await;
            }
        }
    });
    tracing::info!(dir = %dir.display(), "watching the cogs folder for changes");
    Ok(CogWatcher {
        _watcher: watcher,
        task,
    })
}

async fn reload(runtime: &Arc<Runtime>, path: &Path, force: bool) {
    // An unchanged file (touched, or written twice) is not reloaded.
    if !force
        && let (Some(current), Ok(bytes)) = (
            runtime.registry().by_file(path),
            tokio::fs::read(path).await,
        )
        && current.hash == super::artifacts::wasm_hash(&bytes)
    {
        return;
    }
    let _ = runtime.load_file(path).await;
}
