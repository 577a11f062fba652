//! Hot reload through the real watcher: new files load, replaced files swap
//! without failing a single in-flight invocation, broken files leave the old
//! version serving, deleted files unload, renames are followed (a file's
//! name is its cog's name), and a second cog claiming a command is refused
//! naming both.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use baseline_host::runtime::{Answer, Call, Runtime, watcher};

use crate::support::*;

const WAIT: Duration = Duration::from_secs(20);

/// The same component with a custom section appended: a different file
/// (new hash, so a real reload) with the same cog inside.
fn variant(package: &str, tag: u8) -> Vec<u8> {
    let mut bytes = std::fs::read(guest(package)).unwrap();
    let name = b"reload-test";
    let payload = [tag; 16];
    bytes.push(0); // custom section id
    bytes.push((1 + name.len() + payload.len()) as u8);
    bytes.push(name.len() as u8);
    bytes.extend_from_slice(name);
    bytes.extend_from_slice(&payload);
    bytes
}

/// Write through a temporary file and a rename, as deploy tools do.
fn deploy(bytes: &[u8], to: &Path) {
    let temporary = to.with_extension("partial");
    std::fs::write(&temporary, bytes).unwrap();
    std::fs::rename(&temporary, to).unwrap();
}

async fn roll(runtime: &Arc<Runtime>) -> Result<Answer, String> {
    let cog = runtime
        .registry()
        .by_command("dice")
        .ok_or("no cog owns /dice")?;
    let invocation = command("dice", Some("roll"), vec![], GUILD, USER);
    runtime
        .invoke(
            &cog,
            scope("reference", &invocation),
            Call::Command(invocation),
        )
        .await
        .map_err(|e| e.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swap_under_load_fails_nothing_and_garbage_keeps_the_old_version() {
    let cogs = tempfile::tempdir().unwrap();
    let runtime = runtime(config(cogs.path()));
    let _watcher = watcher::watch(runtime.clone()).unwrap();
    let file = cogs.path().join("reference.wasm");

    deploy(&variant("reference", 1), &file);
    eventually("reference loads", WAIT, || {
        runtime.registry().get("reference").is_some()
    })
    .await;
    let first = runtime.registry().get("reference").unwrap().hash.clone();

    // Invocations run continuously on both cores while the file is replaced.
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let mut workers = Vec::new();
    for _ in 0..4 {
        let (runtime, stop, ok, failed) =
            (runtime.clone(), stop.clone(), ok.clone(), failed.clone());
        workers.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                match roll(&runtime).await {
                    Ok(Answer::Command(Ok(_))) => ok.fetch_add(1, Ordering::Relaxed),
                    other => {
                        eprintln!("failed during swap: {other:?}");
                        failed.fetch_add(1, Ordering::Relaxed)
                    }
                };
            }
        }));
    }
    for tag in 2..=4 {
        deploy(&variant("reference", tag), &file);
        let before = runtime.registry().get("reference").unwrap().hash.clone();
        eventually("the new version serves", WAIT, || {
            runtime.registry().get("reference").unwrap().hash != before
        })
        .await;
    }
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        worker.await.unwrap();
    }
    assert_ne!(runtime.registry().get("reference").unwrap().hash, first);
    assert_eq!(
        failed.load(Ordering::Relaxed),
        0,
        "invocations failed during the swaps"
    );
    assert!(
        ok.load(Ordering::Relaxed) > 10,
        "too few invocations ran: {}",
        ok.load(Ordering::Relaxed)
    );

    // Garbage: the old version keeps serving and the failure is recorded.
    let serving = runtime.registry().get("reference").unwrap().hash.clone();
    deploy(b"\0asm this is not a component", &file);
    eventually("the failure is recorded", WAIT, || {
        runtime.registry().failures().contains_key(&file)
    })
    .await;
    assert_eq!(runtime.registry().get("reference").unwrap().hash, serving);
    assert!(matches!(roll(&runtime).await, Ok(Answer::Command(Ok(_)))));
    let failure = &runtime.registry().failures()[&file];
    assert!(
        failure.error.contains("malformed") || failure.error.contains("not"),
        "{}",
        failure.error
    );

    // A good file again clears the failure.
    deploy(&variant("reference", 9), &file);
    eventually("the good file loads", WAIT, || {
        runtime.registry().get("reference").unwrap().hash != serving
    })
    .await;
    assert!(!runtime.registry().failures().contains_key(&file));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_unloads_and_rename_is_followed() {
    let cogs = tempfile::tempdir().unwrap();
    let runtime = runtime(config(cogs.path()));
    let _watcher = watcher::watch(runtime.clone()).unwrap();
    let file = install("reference", cogs.path(), "reference.wasm");
    eventually("reference loads", WAIT, || {
        runtime.registry().get("reference").is_some()
    })
    .await;

    // A file's name is its cog's name: renamed to `dice.wasm`, the file
    // is the cog `dice` (its manifest's suggestion is only that), and
    // `reference` (its file gone) unloads.
    let renamed = cogs.path().join("dice.wasm");
    std::fs::rename(&file, &renamed).unwrap();
    eventually("the renamed file is the cog `dice`", WAIT, || {
        runtime
            .registry()
            .get("dice")
            .is_some_and(|cog| cog.path == renamed)
    })
    .await;
    eventually("reference unloads", WAIT, || {
        runtime.registry().get("reference").is_none()
    })
    .await;
    // Renamed back, it is `reference` again.
    std::fs::rename(&renamed, &file).unwrap();
    eventually("the cog follows the rename back", WAIT, || {
        runtime
            .registry()
            .get("reference")
            .is_some_and(|cog| cog.path == file)
    })
    .await;

    std::fs::remove_file(&file).unwrap();
    eventually("reference unloads", WAIT, || {
        runtime.registry().get("reference").is_none()
    })
    .await;
    assert!(runtime.registry().by_command("dice").is_none());
    assert!(
        runtime.registry().failures().is_empty(),
        "a removed file's failure goes too"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_claim_on_a_command_is_refused_naming_both() {
    let cogs = tempfile::tempdir().unwrap();
    let runtime = runtime(config(cogs.path()));
    install("clash", cogs.path(), "clash.wasm");
    install("status", cogs.path(), "status.wasm");
    // Loaded together, neither gets /status, whatever their files' order:
    // both are refused, each naming both and the way out.
    let results = runtime.load_dir().await;
    for (file, result) in &results {
        let refused = result
            .as_ref()
            .err()
            .unwrap_or_else(|| panic!("{} must be refused", file.display()))
            .to_string();
        assert!(
            refused.contains("/status")
                && refused.contains("`clash`, `status`")
                && refused.contains("[commands] status"),
            "{refused}"
        );
    }
    assert!(runtime.registry().by_command("status").is_none());
    assert_eq!(runtime.registry().failures().len(), 2);

    // The operator names the owner: it loads, the other is refused.
    let mut named = config(cogs.path());
    named.commands.insert("status".into(), "status".into());
    let runtime = super::support::runtime(named);
    let results = runtime.load_dir().await;
    assert!(results[1].1.is_ok(), "{:?}", results[1].1.as_ref().err());
    let refused = results[0].1.as_ref().err().unwrap().to_string();
    assert!(refused.contains("named in baseline.toml"), "{refused}");
    assert_eq!(
        runtime.registry().by_command("status").unwrap().name(),
        "status"
    );

    // A file that arrives later and declares a loaded cog's command is
    // refused, naming both.
    let runtime = super::support::runtime(config(cogs.path()));
    std::fs::remove_file(cogs.path().join("clash.wasm")).unwrap();
    runtime.load_dir().await;
    install("clash", cogs.path(), "clash.wasm");
    let refused = runtime
        .load_file(&cogs.path().join("clash.wasm"))
        .await
        .err()
        .expect("the second claim must be refused")
        .to_string();
    assert!(
        refused.contains("/status") && refused.contains("`clash`") && refused.contains("`status`"),
        "{refused}"
    );
    assert_eq!(
        runtime.registry().by_command("status").unwrap().name(),
        "status"
    );
}

/// A runtime over a SQLite database in `data` (kept across "restarts").
async fn runtime_on(
    data: &Path,
    cogs: &Path,
    change: impl FnOnce(&mut baseline_host::config::Config),
) -> Arc<Runtime> {
    let db =
        baseline_host::store::Database::connect(&baseline_host::store::Database::sqlite_url(data))
            .await
            .unwrap();
    db.migrate().await.unwrap();
    let mut config = config(cogs);
    change(&mut config);
    Runtime::new(
        config,
        baseline_host::capabilities::Services::with_database(db),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commands_recorded_owner_keeps_it_whatever_file_loads_first() {
    let data = tempfile::tempdir().unwrap();
    let cogs = tempfile::tempdir().unwrap();
    // A new user's first start with the real cog and a copy saved under a
    // name that sorts first: neither gets /dice until the operator says.
    install("reference", cogs.path(), "reference.wasm");
    install("reference", cogs.path(), "aaa-anything.wasm");
    let first = runtime_on(data.path(), cogs.path(), |_| {}).await;
    let results = first.load_dir().await;
    assert!(results.iter().all(|(_, result)| result.is_err()));
    assert!(first.registry().by_command("dice").is_none());
    drop(first);
    std::fs::remove_file(cogs.path().join("aaa-anything.wasm")).unwrap();
    let first = runtime_on(data.path(), cogs.path(), |_| {}).await;
    first.load_dir().await;
    assert_eq!(
        first.registry().by_command("dice").unwrap().name(),
        "reference"
    );
    drop(first);

    // A copy saved under a name that sorts first, on the next start: it is
    // refused naming both, and /dice stays with its recorded owner.
    install("reference", cogs.path(), "aaa-anything.wasm");
    for start in 0..2 {
        let runtime = runtime_on(data.path(), cogs.path(), |_| {}).await;
        let results = runtime.load_dir().await;
        assert!(results[0].0.ends_with("aaa-anything.wasm"));
        let refused = results[0]
            .1
            .as_ref()
            .err()
            .expect("the squatter is refused")
            .to_string();
        assert!(
            refused.contains("/dice")
                && refused.contains("`aaa-anything`")
                && refused.contains("`reference`")
                && refused.contains("recorded owner")
                && refused.contains("[commands]"),
            "start {start}: {refused}"
        );
        assert!(
            results[1].1.is_ok(),
            "start {start}: {:?}",
            results[1].1.as_ref().err()
        );
        assert_eq!(
            runtime.registry().by_command("dice").unwrap().name(),
            "reference"
        );
        assert!(
            runtime
                .registry()
                .failures()
                .keys()
                .any(|f| f.ends_with("aaa-anything.wasm"))
        );
    }

    // Even with the owner's file gone, the command is not up for grabs.
    std::fs::remove_file(cogs.path().join("reference.wasm")).unwrap();
    let runtime = runtime_on(data.path(), cogs.path(), |_| {}).await;
    let results = runtime.load_dir().await;
    assert!(results[0].1.is_err());
    assert!(runtime.registry().by_command("dice").is_none());

    // The operator moves it by naming the owner; the record follows.
    install("reference", cogs.path(), "reference.wasm");
    let moved = |config: &mut baseline_host::config::Config| {
        config.commands.insert("dice".into(), "aaa-anything".into());
    };
    let runtime = runtime_on(data.path(), cogs.path(), moved).await;
    let results = runtime.load_dir().await;
    assert!(results[0].1.is_ok(), "{:?}", results[0].1.as_ref().err());
    let refused = results[1].1.as_ref().err().unwrap().to_string();
    assert!(refused.contains("named in baseline.toml"), "{refused}");
    assert_eq!(
        runtime.registry().by_command("dice").unwrap().name(),
        "aaa-anything"
    );
    drop(runtime);
    std::fs::remove_file(cogs.path().join("aaa-anything.wasm")).unwrap();
    let runtime = runtime_on(data.path(), cogs.path(), |_| {}).await;
    let results = runtime.load_dir().await;
    assert!(
        results[0].1.is_err(),
        "the record moved with the operator's name"
    );
}
