//! Hostile cogs: each misbehaviour ends only its own invocation, with the
//! right typed error and a counted failure, and a healthy cog still answers
//! afterwards.

use std::sync::Arc;
use std::time::{Duration, Instant};

use baseline_host::config::CogConfig;
use baseline_host::runtime::{Answer, Call, FailureKind, LoadError, Runtime};
use baseline_host::wit::types::{CogError, CommandResponse};

use crate::support::*;

async fn setup() -> (Arc<Runtime>, tempfile::TempDir) {
    setup_with(300).await
}

/// The hostile cog with a deadline of `deadline_ms`.
async fn setup_with(deadline_ms: u64) -> (Arc<Runtime>, tempfile::TempDir) {
    let cogs = tempfile::tempdir().unwrap();
    let mut config = config(cogs.path());
    config.cogs.insert(
        "hostile".into(),
        CogConfig {
            deadline_ms: Some(deadline_ms),
            ..CogConfig::default()
        },
    );
    let runtime = runtime(config);
    install("hostile", cogs.path(), "hostile.wasm");
    install("reference", cogs.path(), "reference.wasm");
    let results = runtime.load_dir().await;
    assert!(
        results.iter().all(|(_, r)| r.is_ok()),
        "{:?}",
        results
            .iter()
            .map(|(p, r)| (p, r.as_ref().err().map(ToString::to_string)))
            .collect::<Vec<_>>()
    );
    (runtime, cogs)
}

/// The hostile cog alone, configured by `cog` (keep the folder while the
/// runtime runs).
pub(crate) async fn hostile_under(cog: CogConfig) -> (Arc<Runtime>, tempfile::TempDir) {
    let cogs = tempfile::tempdir().unwrap();
    let mut config = config(cogs.path());
    config.cogs.insert("hostile".into(), cog);
    let runtime = runtime(config);
    install("hostile", cogs.path(), "hostile.wasm");
    runtime.load_dir().await;
    (runtime, cogs)
}

async fn hostile(
    runtime: &Arc<Runtime>,
    name: &str,
) -> Result<Answer, baseline_host::runtime::InvocationError> {
    let cog = runtime.registry().get("hostile").unwrap();
    let invocation = command(name, None, vec![], GUILD, USER);
    runtime
        .invoke(
            &cog,
            scope("hostile", &invocation),
            Call::Command(invocation),
        )
        .await
}

/// The healthy cog and the hostile cog's own healthy command both still work.
async fn still_healthy(runtime: &Arc<Runtime>) {
    let reference = runtime.registry().get("reference").unwrap();
    let invocation = command("dice", Some("roll"), vec![], GUILD, USER);
    let answer = runtime
        .invoke(
            &reference,
            scope("reference", &invocation),
            Call::Command(invocation),
        )
        .await;
    assert!(
        matches!(answer, Ok(Answer::Command(Ok(CommandResponse::Reply(_))))),
        "{answer:?}"
    );
    assert!(matches!(
        hostile(runtime, "fine").await,
        Ok(Answer::Command(Ok(_)))
    ));
}

/// `name` fails with `kind`. The deadline is generous: these limits are
/// not about time, and a debug host on a machine busy with the rest of the
/// suite (a browser, compilers) once took over 300 ms to fill 64 MiB.
async fn expect_failure(name: &str, kind: FailureKind, detail: &str) {
    let (runtime, _cogs) = setup_with(3_000).await;
    let started = Instant::now();
    let error = hostile(&runtime, name)
        .await
        .expect_err("the hostile command must fail");
    assert_eq!(error.kind, kind, "{error}");
    assert!(
        error.detail.contains(detail),
        "detail `{}` should mention `{detail}`",
        error.detail
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{name} took {:?}",
        started.elapsed()
    );
    let metrics = runtime
        .registry()
        .get("hostile")
        .unwrap()
        .metrics
        .snapshot();
    assert_eq!(metrics.failures.get(kind.name()), Some(&1), "{metrics:?}");
    still_healthy(&runtime).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_infinite_loop_is_stopped_at_its_deadline() {
    let (runtime, _cogs) = setup().await;
    let started = Instant::now();
    let error = hostile(&runtime, "spin").await.unwrap_err();
    let took = started.elapsed();
    assert_eq!(error.kind, FailureKind::Timeout, "{error}");
    assert!(
        took >= Duration::from_millis(290) && took < Duration::from_millis(1500),
        "stopped after {took:?}"
    );
    still_healthy(&runtime).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_memory_bomb_hits_the_cap() {
    expect_failure("hog", FailureKind::Memory, "64 MiB").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deep_recursion_overflows_the_stack_only() {
    expect_failure("recurse", FailureKind::StackOverflow, "stack overflow").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_response_is_refused() {
    expect_failure("huge", FailureKind::OutputTooLarge, "1024 KiB").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_is_reported_with_its_message() {
    expect_failure("boom", FailureKind::Panic, "panicked on purpose").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_call_flood_exhausts_the_budget() {
    expect_failure("flood", FailureKind::HostCalls, "10000").await;
}

/// WASI functions count too: reading the clock without end is a flood.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wasi_calls_count_against_the_budget() {
    expect_failure("clock", FailureKind::HostCalls, "10000").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ungranted_capabilities_are_denied_as_values() {
    let (runtime, _cogs) = setup().await;
    // The manifest asked for discord.members.ban; the operator did not
    // grant it: the user is told (the SDK turns the denial into words).
    let ban = hostile(&runtime, "ban").await.unwrap();
    let Answer::Command(Err(CogError::User(message))) = &ban else {
        panic!("{ban:?}")
    };
    assert!(
        message.starts_with("Not allowed here") && message.contains("operator has not granted"),
        "{message}"
    );
    // llm was not even asked for: the author's bug, for the log.
    let spend = hostile(&runtime, "spend").await.unwrap();
    let Answer::Command(Err(CogError::Internal(message))) = &spend else {
        panic!("{spend:?}")
    };
    assert!(
        message.contains("Denied") && message.contains("not in the cog's manifest"),
        "{message}"
    );
    let metrics = runtime
        .registry()
        .get("hostile")
        .unwrap()
        .metrics
        .snapshot();
    assert_eq!(
        (metrics.cog_errors, metrics.failures.len()),
        (2, 0),
        "{metrics:?}"
    );
    still_healthy(&runtime).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_granted_capability_gets_past_the_check() {
    let (runtime, _cogs) = hostile_under(CogConfig {
        grant: vec!["discord.members.ban".into()],
        ..CogConfig::default()
    })
    .await;
    let ban = hostile(&runtime, "ban").await.unwrap();
    let Answer::Command(Err(CogError::Internal(message))) = &ban else {
        panic!("{ban:?}")
    };
    // Granted: the call reaches the (not yet built) Discord side, not a denial.
    assert!(message.contains("NotAvailable"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cog_from_a_future_wit_is_refused_with_the_versions() {
    let cogs = tempfile::tempdir().unwrap();
    let runtime = runtime(config(cogs.path()));
    let path = install("future-wit", cogs.path(), "future.wasm");
    let error = runtime
        .load_file(&path)
        .await
        .err()
        .expect("must be refused");
    assert!(
        matches!(error, LoadError::UnsupportedWit { ref found, .. } if found == "0.4.0"),
        "{error}"
    );
    let message = error.to_string();
    assert!(
        message.contains("built against baseline:cog@0.4.0")
            && message.contains("this host loads baseline:cog@0.1.0 to 0.3.0")
            && message.contains("upgrade the host"),
        "{message}"
    );
    assert!(runtime.registry().failures().contains_key(&path));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_hostile_calls_at_once_leave_the_host_serving() {
    let (runtime, _cogs) = setup().await;
    let mut tasks = Vec::new();
    for name in [
        "spin", "hog", "recurse", "boom", "flood", "huge", "hog", "boom",
    ] {
        let runtime = runtime.clone();
        tasks.push(tokio::spawn(async move {
            hostile(&runtime, name).await.is_err()
        }));
    }
    for task in tasks {
        assert!(task.await.unwrap(), "every hostile call fails");
    }
    still_healthy(&runtime).await;
}

/// `hostile`'s command `name` in `guild`: its reply's text (`memo` counts
/// its calls in the instance's memory), or the failure.
async fn memo(runtime: Arc<Runtime>, guild: u64, name: &'static str) -> String {
    let cog = runtime.registry().get("hostile").unwrap();
    let invocation = command(name, None, vec![], guild, USER);
    match runtime
        .invoke(
            &cog,
            scope("hostile", &invocation),
            Call::Command(invocation),
        )
        .await
    {
        Ok(Answer::Command(Ok(CommandResponse::Reply(reply)))) => {
            reply.message.content.unwrap_or_default()
        }
        other => format!("{other:?}"),
    }
}

/// Until `hostile` has `count` spare instances ready (made on the
/// housekeeping thread after a load or a call).
async fn spares_ready(runtime: &Arc<Runtime>, count: usize) {
    let cog = runtime.registry().get("hostile").unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while cog.spare_instances() < count {
        assert!(
            Instant::now() < deadline,
            "{} of {count} spares ready after 20 s",
            cog.spare_instances()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Spares are made ahead of calls and serve one call each: under `fresh`
/// nothing of a call survives into the next even when a spare served it;
/// under `reuse` a spare becomes the instance of the guild it served and
/// never goes back to serve another guild. They count against the warm
/// budget and die with their cog version.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spare_instances_serve_one_call_each() {
    use baseline_host::config::InstanceMode;

    for (instances, expected) in [
        (InstanceMode::Fresh, ["1", "1", "1", "1"]),
        (InstanceMode::Reuse, ["1", "2", "1", "3"]),
    ] {
        let (runtime, cogs) = hostile_under(CogConfig {
            instances,
            spare_instances: Some(2),
            ..CogConfig::default()
        })
        .await;
        let cog = runtime.registry().get("hostile").unwrap();
        assert_eq!(cog.spares_wanted(), 2);
        let mut served = Vec::new();
        for (guild, expected) in [1, 1, 2, 1].into_iter().zip(expected) {
            spares_ready(&runtime, 2).await;
            served.push(memo(runtime.clone(), guild, "memo").await);
            assert_eq!(
                served.last().unwrap(),
                expected,
                "{instances:?}: {served:?}"
            );
        }
        // Fresh: every call found a spare; reuse: guild 1's first call and
        // guild 2's did, guild 1's others its own warm instance.
        let expected_on_spares = if instances == InstanceMode::Fresh {
            4
        } else {
            2
        };
        assert_eq!(cog.calls_on_spares(), expected_on_spares, "{instances:?}");
        spares_ready(&runtime, 2).await;
        let held = runtime.warm_instances();
        assert_eq!(held, 2 + cog.idle_instances(), "spares hold the budget");
        // A failure drops the instance it ran on (under reuse guild 3's
        // own, which had counted 1), and the next call finds a spare; a trap
        // pauses the refill (the next instance would likely trap too, and
        // each costs a warm-up).
        assert_eq!(memo(runtime.clone(), 3, "memo").await, "1");
        spares_ready(&runtime, 2).await;
        assert!(memo(runtime.clone(), 3, "boom").await.contains("Panic"));
        let left = cog.spare_instances();
        assert!(left >= 1, "{instances:?}");
        assert_eq!(memo(runtime.clone(), 3, "memo").await, "1");
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(
            cog.spare_instances(),
            left - 1,
            "{instances:?}: refills paused after the trap"
        );

        // A new version makes its own spares; the old one's go with it
        // and give their budget back.
        drop(cog);
        runtime
            .load_file(&cogs.path().join("hostile.wasm"))
            .await
            .unwrap();
        spares_ready(&runtime, 2).await;
        let deadline = Instant::now() + Duration::from_secs(20);
        while runtime.warm_instances() != 2 {
            assert!(
                Instant::now() < deadline,
                "{instances:?}: {} instances held after a reload, the new version's 2 spares expected",
                runtime.warm_instances()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    // The default: a fast cog keeps none.
    let (runtime, _cogs) = hostile_under(CogConfig::default()).await;
    assert_eq!(
        runtime.registry().get("hostile").unwrap().spares_wanted(),
        0
    );
}

/// Under `reuse`, warm instances keep memory between calls of one guild,
/// never across guilds, and are dropped after a failure; under `fresh`
/// nothing survives a call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warm_instances_stay_in_their_guild_and_die_on_failure() {
    use baseline_host::config::InstanceMode;
    use baseline_host::runtime::InstancePolicy;

    let (runtime, _cogs) = hostile_under(CogConfig {
        instances: InstanceMode::Reuse,
        reuse_calls: Some(3),
        ..CogConfig::default()
    })
    .await;
    assert_eq!(
        runtime.registry().get("hostile").unwrap().policy,
        InstancePolicy::Reuse { max_calls: 3 }
    );

    assert_eq!(memo(runtime.clone(), 1, "memo").await, "1");
    assert_eq!(memo(runtime.clone(), 1, "memo").await, "2");
    assert_eq!(
        memo(runtime.clone(), 2, "memo").await,
        "1",
        "another guild never gets guild 1's instance"
    );
    assert_eq!(memo(runtime.clone(), 1, "memo").await, "3");
    assert_eq!(
        memo(runtime.clone(), 1, "memo").await,
        "1",
        "recycled after 3 calls"
    );
    assert_eq!(memo(runtime.clone(), 1, "memo").await, "2");
    // A failure drops the instance it ran on; its message is the call's
    // own (not the `memo N` lines earlier calls wrote to stderr).
    let boom = memo(runtime.clone(), 1, "boom").await;
    assert!(boom.contains("Panic"), "{boom}");
    assert!(
        boom.contains("panicked on purpose") && !boom.contains("memo "),
        "{boom}"
    );
    assert_eq!(memo(runtime.clone(), 1, "memo").await, "1");
    assert_eq!(
        runtime.registry().get("hostile").unwrap().idle_instances(),
        2
    );

    // The default for a small Rust cog is measured at load: fresh.
    let (runtime, _cogs) = hostile_under(CogConfig::default()).await;
    let cog = runtime.registry().get("hostile").unwrap();
    assert_eq!(
        cog.policy,
        InstancePolicy::Fresh,
        "instantiation took {:?}",
        cog.instantiate_time
    );
    assert_eq!(memo(runtime.clone(), 1, "memo").await, "1");
    assert_eq!(memo(runtime.clone(), 1, "memo").await, "1");
}

/// Spare warm-ups are the cog's computing: an interpreter-like cog whose
/// every instance computes ~150 ms before its first answer, and whose every
/// call traps, is demoted by making its spares, makes none while demoted or
/// after a trap — and another cog's spares keep up beside it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spare_warm_ups_are_charged_and_a_trapping_cog_stops_making_them() {
    let _cpu = CPU_HEAVY.lock().await;
    let cogs = tempfile::tempdir().unwrap();
    let mut config = config(cogs.path());
    for (cog, spares) in [("heavy-start", 4), ("reference", 1)] {
        config.cogs.insert(
            cog.into(),
            CogConfig {
                spare_instances: Some(spares),
                ..CogConfig::default()
            },
        );
    }
    let runtime = runtime(config);
    install("heavy-start", cogs.path(), "heavy-start.wasm");
    install("reference", cogs.path(), "reference.wasm");
    runtime.load_dir().await;
    let heavy = runtime.registry().get("heavy-start").unwrap();
    let reference = runtime.registry().get("reference").unwrap();

    // Its first warm-up computes past `penalty_after_ms` (100): demoted,
    // and no second warm-up while demoted.
    eventually(
        "the warm-ups charged: a demotion",
        Duration::from_secs(20),
        || heavy.share.demotions() > 0,
    )
    .await;
    assert!(heavy.share.demoted());
    // Every call traps; none is paid for with another warm-up.
    for _ in 0..5 {
        let invocation = command("heavy", None, vec![], GUILD, USER);
        let failed = runtime
            .invoke(
                &heavy,
                scope("heavy-start", &invocation),
                Call::Command(invocation),
            )
            .await
            .unwrap_err();
        assert_eq!(failed.kind, FailureKind::Panic);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        heavy.spare_warm_ups() <= 2,
        "{} warm-ups for a demoted cog whose calls trap",
        heavy.spare_warm_ups()
    );
    assert_eq!(heavy.share.demotions(), 1);
    // The other cog's spare is there, and serves its calls.
    eventually("reference's spare", Duration::from_secs(20), || {
        reference.spare_instances() >= 1
    })
    .await;
    let invocation = command("dice", Some("roll"), vec![], GUILD, USER);
    runtime
        .invoke(
            &reference,
            scope("reference", &invocation),
            Call::Command(invocation),
        )
        .await
        .unwrap();
    assert_eq!(reference.calls_on_spares(), 1);
    assert_eq!(reference.share.demotions(), 0);
}

/// `hostile`'s `memo` in a direct message from `user`.
async fn memo_in_dm(runtime: &Arc<Runtime>, user: u64) -> String {
    let cog = runtime.registry().get("hostile").unwrap();
    let mut invocation = command("memo", None, vec![], GUILD, user);
    invocation.context.guild_id = None;
    let scope = scope("hostile", &invocation);
    assert_eq!(scope.guild_id, None);
    match runtime.invoke(&cog, scope, Call::Command(invocation)).await {
        Ok(Answer::Command(Ok(CommandResponse::Reply(reply)))) => {
            reply.message.content.unwrap_or_default()
        }
        other => format!("{other:?}"),
    }
}

/// Under `reuse`, a warm instance made for one user's direct messages is
/// that user's: two users in DMs never share one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_messages_never_share_a_warm_instance_across_users() {
    use baseline_host::config::InstanceMode;
    let (runtime, _cogs) = hostile_under(CogConfig {
        instances: InstanceMode::Reuse,
        ..CogConfig::default()
    })
    .await;
    assert_eq!(memo_in_dm(&runtime, 1).await, "1");
    assert_eq!(memo_in_dm(&runtime, 1).await, "2");
    assert_eq!(memo_in_dm(&runtime, 2).await, "1", "another user's DM");
    assert_eq!(memo_in_dm(&runtime, 1).await, "3");
    assert_eq!(
        memo(runtime.clone(), 1, "memo").await,
        "1",
        "a guild is apart too"
    );
}

/// Idle warm instances keep the memory they grew to: they are kept only
/// within the memory budgets (per cog and across cogs).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warm_instances_are_kept_within_a_memory_budget() {
    use baseline_host::config::InstanceMode;
    let (runtime, _cogs) = hostile_under(CogConfig {
        instances: InstanceMode::Reuse,
        ..CogConfig::default()
    })
    .await;
    assert_eq!(memo(runtime.clone(), 1, "memo").await, "1");
    let cog = runtime.registry().get("hostile").unwrap();
    assert_eq!(cog.idle_instances(), 1);
    let one = cog.warm_bytes();
    assert!(one > 0, "an idle instance keeps its memory");
    assert_eq!(runtime.warm_bytes(), one);
    assert_eq!(memo(runtime.clone(), 1, "memo").await, "2");
    assert_eq!(
        runtime.warm_bytes(),
        one,
        "taken and put back: counted once"
    );

    // A budget smaller than one instance: none is kept, calls run fresh.
    let cogs = tempfile::tempdir().unwrap();
    let mut config = config(cogs.path());
    config.runtime.max_warm_mib_per_cog = 0;
    config.cogs.insert(
        "hostile".into(),
        CogConfig {
            instances: InstanceMode::Reuse,
            ..CogConfig::default()
        },
    );
    let runtime = super::support::runtime(config);
    install("hostile", cogs.path(), "hostile.wasm");
    runtime.load_dir().await;
    for _ in 0..3 {
        assert_eq!(memo(runtime.clone(), 1, "memo").await, "1");
    }
    let cog = runtime.registry().get("hostile").unwrap();
    assert_eq!(cog.idle_instances(), 0);
    assert_eq!(runtime.warm_instances(), 0, "no slot held for it either");
    assert_eq!(runtime.warm_bytes(), 0);
}
