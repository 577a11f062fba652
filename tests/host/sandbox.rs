//! Sandbox limits that outlive one call: names the operator controls,
//! bounded loading, storage quotas, a bounded cache, fair shares between
//! cogs. Each test has a cog written to break the limit it checks.

use std::sync::Arc;
use std::time::{Duration, Instant};

use baseline_host::cache::{Cache, InProcessCache};
use baseline_host::capabilities::Services;
use baseline_host::config::{CogConfig, Config};
use baseline_host::runtime::{Answer, Call, FailureKind, LoadError, Runtime};
use baseline_host::store::Database;
use baseline_host::wit::types::{CommandResponse, OptionEntry, OptionValue};

use crate::support::*;

fn errors(
    results: &[(
        std::path::PathBuf,
        Result<Arc<baseline_host::runtime::LoadedCog>, LoadError>,
    )],
) -> Vec<(String, String)> {
    results
        .iter()
        .filter_map(|(path, result)| {
            result.as_ref().err().map(|e| {
                (
                    path.file_name().unwrap().to_string_lossy().into_owned(),
                    e.to_string(),
                )
            })
        })
        .collect()
}

/// A cog's name is the operator's: `a.wasm` is the cog `a`, whatever its
/// manifest suggests. A WIT 0.1.0 cog writes its name into its custom ids,
/// so under another name it is refused, in either load order; a 0.2.0 cog
/// loads under the operator's name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_cannot_claim_another_cogs_name_whatever_the_order() {
    // a.wasm first (name order), then the real file.
    let cogs = tempfile::tempdir().unwrap();
    let runtime = runtime(config(cogs.path()));
    install("wit-0-1", cogs.path(), "a.wasm");
    let real = install("wit-0-1", cogs.path(), "wit-0-1.wasm");
    let results = runtime.load_dir().await;
    let failed = errors(&results);
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0].0, "a.wasm");
    assert!(
        failed[0].1.contains("`a.wasm` is the cog `a`")
            && failed[0].1.contains("declares the name `wit-0-1`"),
        "{}",
        failed[0].1
    );
    let old = runtime.registry().get("wit-0-1").expect("loaded");
    assert_eq!(old.path, std::path::absolute(&real).unwrap());
    assert!(runtime.registry().get("a").is_none());

    // The other order: the real cog is serving, then the impostor arrives.
    let cogs = tempfile::tempdir().unwrap();
    let runtime = runtime_for(config(cogs.path()));
    let real = install("wit-0-1", cogs.path(), "wit-0-1.wasm");
    runtime.load_file(&real).await.unwrap();
    let before = runtime.registry().get("wit-0-1").unwrap();
    let impostor = install("wit-0-1", cogs.path(), "a.wasm");
    let error = runtime.load_file(&impostor).await.err().expect("refused");
    assert!(matches!(error, LoadError::NameMismatch { .. }), "{error}");
    let after = runtime.registry().get("wit-0-1").unwrap();
    assert!(Arc::ptr_eq(&before, &after), "the serving cog was replaced");

    // Since WIT 0.2.0 the operator's name is the cog's name: the reference
    // cog as `dice.wasm` is `dice`, and its suggestion is kept for display.
    let dice = install("reference", cogs.path(), "dice.wasm");
    let cog = runtime.load_file(&dice).await.unwrap();
    assert_eq!(cog.name(), "dice");
    assert_eq!(cog.declared_name.as_deref(), Some("reference"));
    assert!(runtime.registry().get("reference").is_none());

    // Cargo's file names (`future_wit.wasm`) read `_` as `-`; a file name
    // that is no cog name is refused with what to do.
    let bad = cogs.path().join("Not A Cog.wasm");
    std::fs::copy(guest("status"), &bad).unwrap();
    let error = runtime.load_file(&bad).await.err().expect("refused");
    assert!(
        error.to_string().contains("does not make a cog name"),
        "{error}"
    );
}

fn runtime_for(config: Config) -> Arc<Runtime> {
    runtime(config)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pin_names_the_file_and_its_content() {
    let cogs = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(guest("reference")).unwrap();
    let hash = baseline_host::runtime::artifacts::wasm_hash(&bytes);
    let mut config = config(cogs.path());
    config.cogs.insert(
        "reference".into(),
        CogConfig {
            file: Some("reference-1.4.wasm".into()),
            sha256: Some(hash.to_uppercase()),
            ..CogConfig::default()
        },
    );
    let runtime = runtime(config.clone());
    install("reference", cogs.path(), "reference-1.4.wasm");
    install("reference", cogs.path(), "reference.wasm");
    let results = runtime.load_dir().await;
    let failed = errors(&results);
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0].0, "reference.wasm");
    assert!(
        failed[0].1.contains("pinned to `reference-1.4.wasm`"),
        "{}",
        failed[0].1
    );
    let loaded = runtime.registry().get("reference").unwrap();
    assert!(loaded.path.ends_with("reference-1.4.wasm"));

    // Other content in the pinned file is refused, and names both hashes.
    let cogs = tempfile::tempdir().unwrap();
    let mut config = config.clone();
    config.cogs_dir = cogs.path().to_path_buf();
    let runtime = runtime_for(config);
    let file = install("status", cogs.path(), "reference-1.4.wasm");
    let error = runtime.load_file(&file).await.err().expect("refused");
    assert!(
        matches!(&error, LoadError::HashMismatch { expected, .. } if *expected == hash),
        "{error}"
    );
}

/// A cog whose start-up code spins is stopped at the load deadline; the
/// cogs after it load, and loading goes on working.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cog_that_spins_while_loading_is_refused_in_time() {
    let cogs = tempfile::tempdir().unwrap();
    let mut config = config(cogs.path());
    config.runtime.load_deadline_ms = 300;
    let runtime = runtime(config);
    install("spin-start", cogs.path(), "spin_start.wasm");
    install("status", cogs.path(), "status.wasm");
    let started = Instant::now();
    let results = runtime.load_dir().await;
    let took = started.elapsed();
    let failed = errors(&results);
    assert_eq!(failed.len(), 1, "{failed:?}");
    // (This cog's constructor runs at its first export call, `manifest`.)
    assert!(
        failed[0].1.contains("timeout") && failed[0].1.contains("300 ms"),
        "{}",
        failed[0].1
    );
    assert!(runtime.registry().get("status").is_some());
    // The epoch stops it at the deadline (plus a tick), not a watchdog later.
    assert!(took < Duration::from_secs(3), "loading took {took:?}");
    assert!(runtime.registry().failures().len() == 1);
}

async fn run(
    runtime: &Arc<Runtime>,
    cog: &str,
    round: i64,
) -> Result<Answer, baseline_host::runtime::InvocationError> {
    let loaded = runtime.registry().get(cog).unwrap();
    let invocation = command(
        cog,
        None,
        vec![OptionEntry {
            name: "round".into(),
            value: OptionValue::Integer(round),
        }],
        GUILD,
        USER,
    );
    runtime
        .invoke(&loaded, scope(cog, &invocation), Call::Command(invocation))
        .await
}

fn reply_text(answer: &Answer) -> String {
    match answer {
        Answer::Command(Ok(CommandResponse::Reply(reply))) => {
            reply.message.content.clone().unwrap_or_default()
        }
        other => format!("{other:?}"),
    }
}

/// A cog that writes 256 KiB values without end meets its kv quota, with
/// a message naming it; the database holds what the quota allows and no more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kv_writes_stop_at_the_quota() {
    let data = tempfile::tempdir().unwrap();
    let db = Database::connect(&Database::sqlite_url(data.path()))
        .await
        .unwrap();
    db.migrate().await.unwrap();
    let cogs = tempfile::tempdir().unwrap();
    let mut config = config(cogs.path());
    config.cogs.insert(
        "storm-kv".into(),
        CogConfig {
            kv_bytes: Some(1 << 20),
            ..CogConfig::default()
        },
    );
    let runtime = Runtime::new(config, Services::with_database(db)).unwrap();
    install("storm-kv", cogs.path(), "storm_kv.wasm");
    runtime.load_dir().await;
    let first = reply_text(&run(&runtime, "storm-kv", 1).await.unwrap());
    assert!(
        first.starts_with("refused after 3")
            && first.contains("kv quota reached")
            && first.contains("1048576 bytes"),
        "{first}"
    );
    // Later rounds are refused at once; the other guild has its own room.
    let second = reply_text(&run(&runtime, "storm-kv", 2).await.unwrap());
    assert!(second.starts_with("refused after 0"), "{second}");
    let usage = runtime.services().kv.usage(Some("storm-kv")).await.unwrap();
    assert_eq!(usage.len(), 1);
    assert_eq!(usage[0].guild_id, GUILD);
    assert!(usage[0].usage.bytes <= 1 << 20, "{usage:?}");
    assert_eq!(usage[0].usage.keys, 3);
}

/// The same for the cache, and the in-process cache as a whole stays
/// within its bound whatever many cogs and guilds write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_writes_stop_at_the_quota_and_the_cache_is_bounded() {
    let cogs = tempfile::tempdir().unwrap();
    let mut config = config(cogs.path());
    config.cogs.insert(
        "storm-cache".into(),
        CogConfig {
            cache_bytes: Some(1 << 20),
            ..CogConfig::default()
        },
    );
    let cache = Arc::new(InProcessCache::new(8 << 20));
    let services = Services::in_process().with_cache(cache.clone());
    let runtime = Runtime::new(config, services).unwrap();
    install("storm-cache", cogs.path(), "storm_cache.wasm");
    runtime.load_dir().await;
    let first = reply_text(&run(&runtime, "storm-cache", 1).await.unwrap());
    assert!(
        first.starts_with("refused after 3") && first.contains("cache quota reached"),
        "{first}"
    );
    // Many guilds, each within its quota: the whole cache stays bounded.
    let cog = runtime.registry().get("storm-cache").unwrap();
    for guild in 0..40u64 {
        let invocation = command("storm-cache", None, vec![], GUILD + guild, USER);
        let _ = runtime
            .invoke(
                &cog,
                scope("storm-cache", &invocation),
                Call::Command(invocation),
            )
            .await
            .unwrap();
    }
    let held = cache.weighted_size();
    assert!(
        held <= 8 << 20,
        "the cache holds {held} bytes, over its 8 MiB bound"
    );
    assert!(held > 4 << 20, "the cache should be nearly full: {held}");
}

/// Nothing lives in the in-process cache past its time to live, read or not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_in_process_cache_expires_entries_by_itself() {
    let cache = InProcessCache::new(64 << 20);
    for i in 0..100 {
        cache
            .set(&format!("k{i}"), vec![0; 1024], Duration::from_millis(50))
            .await
            .unwrap();
    }
    assert!(cache.weighted_size() >= 100 * 1024);
    // Nobody touches the cache: its own housekeeping removes them (moka
    // resolves expiry to about a second).
    eventually("expired entries are gone", Duration::from_secs(5), || {
        cache.held_bytes() == 0
    })
    .await;
}

/// One cog's invocations take at most its share of the slots: a cog whose
/// every call is slow waits behind itself, and another cog still answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_cog_waits_behind_itself_not_others() {
    let cogs = tempfile::tempdir().unwrap();
    let mut config = config(cogs.path());
    config.runtime.cog_concurrency = 2;
    let runtime = runtime(config);
    install("hostile", cogs.path(), "hostile.wasm");
    install("reference", cogs.path(), "reference.wasm");
    runtime.load_dir().await;
    let hostile = runtime.registry().get("hostile").unwrap();
    let mut slow = Vec::new();
    for _ in 0..6 {
        let runtime = runtime.clone();
        let hostile = hostile.clone();
        slow.push(tokio::spawn(async move {
            let invocation = command(
                "slow",
                None,
                vec![OptionEntry {
                    name: "ms".into(),
                    value: OptionValue::Integer(1_000),
                }],
                GUILD,
                USER,
            );
            runtime
                .invoke(
                    &hostile,
                    scope("hostile", &invocation),
                    Call::Command(invocation),
                )
                .await
        }));
    }
    eventually("two slow calls running", Duration::from_secs(5), || {
        hostile.share.running() == 2
    })
    .await;
    // The reference cog is not queued behind them (queued, it would wait a
    // second at least).
    let reference = runtime.registry().get("reference").unwrap();
    let invocation = command("dice", Some("roll"), vec![], GUILD, USER);
    let started = Instant::now();
    runtime
        .invoke(
            &reference,
            scope("reference", &invocation),
            Call::Command(invocation),
        )
        .await
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_millis(800),
        "{:?}",
        started.elapsed()
    );
    let mut most = 0;
    while slow.iter().any(|t| !t.is_finished()) {
        most = most.max(hostile.share.running());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(most <= 2, "{most} calls ran at once; the share is 2");
    for task in slow {
        task.await.unwrap().unwrap();
    }
}

/// A cog that runs to its deadline moves to the low-priority pool; its
/// calls still run there (and still end at the deadline).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cog_that_runs_long_is_demoted_and_still_bounded() {
    let (runtime, _cogs) = crate::hostile::hostile_under(CogConfig {
        deadline_ms: Some(200),
        ..CogConfig::default()
    })
    .await;
    let hostile = runtime.registry().get("hostile").unwrap();
    assert!(!hostile.share.demoted());
    // Demoted once it has computed 100 ms: within its first 200 ms call on
    // a quiet machine; a loaded one (the whole suite on two cores) may
    // give the spinning call less CPU than that before its deadline, so a
    // few calls may be needed — each still ended at the deadline.
    let spin = || async {
        let invocation = command("spin", None, vec![], GUILD, USER);
        let error = runtime
            .invoke(
                &hostile,
                scope("hostile", &invocation),
                Call::Command(invocation),
            )
            .await
            .unwrap_err();
        assert_eq!(error.kind, FailureKind::Timeout);
    };
    let mut calls = 0;
    while !hostile.share.demoted() {
        calls += 1;
        assert!(
            calls <= 20,
            "not demoted after {calls} calls to its deadline"
        );
        spin().await;
    }
    // Demoted, its calls still run, and still end at the deadline.
    spin().await;
    assert!(hostile.share.demoted());
    assert_eq!(hostile.share.demotions(), 1);
    let invocation = command("fine", None, vec![], GUILD, USER);
    let answer = runtime
        .invoke(
            &hostile,
            scope("hostile", &invocation),
            Call::Command(invocation),
        )
        .await
        .unwrap();
    assert_eq!(reply_text(&answer), "fine");
}

/// Pin the calling thread to CPU 0 and, where the test may (as root),
/// raise or lower its priority to `nice`.
fn on_cpu_zero(nice: i32) {
    // SAFETY: a CPU set on the stack, applied to this thread only; and
    // setpriority on this thread's own id.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(0, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
        libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, nice);
    }
}

/// On a host whose CPU is taken by other work — the host's two workers and
/// four higher-priority spinning threads all on CPU 0 (the other core stays
/// free for the rest of the suite) — a cheap cog called by 32 users at once
/// is never demoted (the time its calls were preempted is not its
/// computing), while a spinning cog still is once it has computed its
/// 100 ms.
#[test]
fn only_a_cogs_own_computing_demotes_it_on_a_saturated_host() {
    // Not beside the other tests that load the CPU (the storm checks
    // fairness inside the host).
    let _cpu = CPU_HEAVY.blocking_lock();
    let workers = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .on_thread_start(|| on_cpu_zero(0))
        .enable_all()
        .build()
        .unwrap();
    workers.block_on(saturated_host());
}

async fn saturated_host() {
    let cogs = tempfile::tempdir().unwrap();
    let mut config = config(cogs.path());
    config.cogs.insert(
        "hostile".into(),
        CogConfig {
            deadline_ms: Some(20_000),
            ..CogConfig::default()
        },
    );
    let db = baseline_host::store::Database::connect(&crate::store::fresh_postgres_url().await)
        .await
        .unwrap();
    db.migrate().await.unwrap();
    let runtime = Runtime::new(config, Services::with_database(db)).unwrap();
    install("tally", cogs.path(), "tally.wasm");
    install("hostile", cogs.path(), "hostile.wasm");
    runtime.load_dir().await;
    let tally = runtime.registry().get("tally").unwrap();

    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let spinners: Vec<_> = (0..4)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                on_cpu_zero(-10);
                let mut n = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            })
        })
        .collect();
    let until = std::time::Instant::now() + Duration::from_secs(4);
    let users: Vec<_> = (0..32u64)
        .map(|user| {
            let (runtime, tally) = (runtime.clone(), tally.clone());
            tokio::spawn(async move {
                let mut answered = 0u32;
                while std::time::Instant::now() < until {
                    let invocation = command("tally", None, vec![], GUILD, USER + user);
                    let answer = runtime
                        .invoke(
                            &tally,
                            scope("tally", &invocation),
                            Call::Command(invocation),
                        )
                        .await;
                    assert!(answer.is_ok(), "{answer:?}");
                    answered += 1;
                }
                answered
            })
        })
        .collect();
    let mut answered = 0;
    for user in users {
        answered += user.await.unwrap();
    }
    assert!(answered > 32, "the users were answered ({answered})");
    assert_eq!(
        tally.share.demotions(),
        0,
        "a cheap cog was demoted on a busy host after {answered} answers"
    );

    // The spinning cog, on the same busy CPU: demoted once it has computed
    // its 100 ms, long before its (raised) deadline.
    let hostile = runtime.registry().get("hostile").unwrap();
    let spin = {
        let (runtime, hostile) = (runtime.clone(), hostile.clone());
        tokio::spawn(async move {
            let invocation = command("spin", None, vec![], GUILD, USER);
            runtime
                .invoke(
                    &hostile,
                    scope("hostile", &invocation),
                    Call::Command(invocation),
                )
                .await
        })
    };
    eventually("the spinning cog demoted", Duration::from_secs(15), || {
        hostile.share.demotions() > 0
    })
    .await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for spinner in spinners {
        spinner.join().unwrap();
    }
    spin.abort();
    assert_eq!(tally.share.demotions(), 0);
}
