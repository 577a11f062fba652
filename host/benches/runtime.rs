//! Runtime benchmarks (`just bench`, or `cargo bench -p baseline-host --bench runtime`
//! after building the guests). Figures and the command go in docs/benchmarks.md.
//!
//! 1. fresh instance + trivial command: p50/p99 over 20 000 sequential calls,
//!    plus a criterion estimate of the mean;
//! 2. invocations per second with calls spread over both cores;
//! 3. cold compile vs artifact-cache load, per cog;
//! 4. reload latency: from the file write, and from the end of compilation,
//!    to the new version serving.
//!
//! Set `BASELINE_BENCH_EXTRA=path/a.wasm:command,path/b.wasm:command` to
//! measure more cogs (e.g. componentize-py or jco builds) in part 1, and
//! `BASELINE_BENCH_TWINS=dir` (holding tally.wasm, tally-py.wasm and
//! tally-js.wasm, as `just bench` builds them) for the per-language part.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use baseline_host::capabilities::{Scope, Services};
use baseline_host::config::Config;
use baseline_host::runtime::{Call, LoadedCog, Runtime, watcher};
use baseline_host::wit::types::{CommandInvocation, InvocationContext, User};
use criterion::Criterion;
use hdrhistogram::Histogram;

fn guests() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("guests/wasm32-wasip2/cog")
}

fn invocation(name: &str) -> CommandInvocation {
    CommandInvocation {
        name: name.into(),
        group: None,
        subcommand: None,
        options: vec![],
        context: InvocationContext {
            guild_id: Some(1),
            channel_id: Some(2),
            user: User {
                id: 3,
                username: "bench".into(),
                global_name: None,
                bot: false,
                avatar: None,
            },
            member: None,
            locale: None,
            interaction_id: 4,
        },
    }
}

fn scope(cog: &str) -> Scope {
    Scope {
        cog: Arc::from(cog),
        guild_id: Some(1),
        user_id: Some(3),
        channel_id: Some(2),
        interaction_id: Some(4),
        interaction: None,
        // The runtime sets it from the cog.
        wit: Default::default(),
    }
}

async fn call(runtime: &Arc<Runtime>, cog: &Arc<LoadedCog>, command: &str) {
    let answer = runtime
        .invoke(cog, scope(cog.name()), Call::Command(invocation(command)))
        .await;
    assert!(answer.is_ok(), "{answer:?}");
}

/// The tally twins (Rust, Python, JavaScript), each under both instance
/// policies: `/tally amount:1` reads the settings and increments a kv
/// counter (two host calls) and answers with a message and a button.
fn languages(twins: &Path, data: &Path) {
    use baseline_host::config::{CogConfig, InstanceMode};
    use baseline_host::wit::types::{OptionEntry, OptionValue};
    let single = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for (file, command) in [
        ("tally.wasm", "tally"),
        ("tally-py.wasm", "pytally"),
        ("tally-js.wasm", "jstally"),
    ] {
        let source = twins.join(file);
        if !source.exists() {
            println!("{file}: not built (just bench builds it)");
            continue;
        }
        let size = std::fs::metadata(&source).unwrap().len();
        // Fresh and reuse alone; what `auto` picks (with its default
        // spare); and fresh instances made ahead of calls (two spares) at
        // 200 calls/s, a rate the housekeeping thread keeps up with, beside
        // reuse at that pace (a call after 5 ms idle finds cold caches).
        let paced = Some(Duration::from_millis(5));
        for (mode, spares, gap) in [
            (InstanceMode::Fresh, Some(0), None),
            (InstanceMode::Reuse, Some(0), None),
            (InstanceMode::Auto, None, None),
            (InstanceMode::Fresh, Some(2), paced),
            (InstanceMode::Reuse, Some(0), paced),
        ] {
            let cogs = tempfile::tempdir().unwrap();
            std::fs::copy(&source, cogs.path().join(file)).unwrap();
            let name = file.trim_end_matches(".wasm");
            let mut config = Config {
                cogs_dir: cogs.path().to_path_buf(),
                data_dir: data.to_path_buf(),
                ..Config::default()
            };
            config.cogs.insert(
                name.into(),
                CogConfig {
                    instances: mode,
                    spare_instances: spares,
                    ..CogConfig::default()
                },
            );
            let runtime = Runtime::new(config, Services::in_process()).expect("runtime");
            let loaded = Instant::now();
            let cog = single
                .block_on(runtime.load_file(&cogs.path().join(file)))
                .expect("twin loads");
            let load = loaded.elapsed();
            let mut invocation = invocation(command);
            invocation.options.push(OptionEntry {
                name: "amount".into(),
                value: OptionValue::Integer(1),
            });
            let mut histogram = Histogram::<u64>::new(3).unwrap();
            single.block_on(async {
                for round in 0..1_100 {
                    if let Some(gap) = gap {
                        tokio::time::sleep(gap).await;
                    }
                    let started = Instant::now();
                    let answer = runtime
                        .invoke(&cog, scope(cog.name()), Call::Command(invocation.clone()))
                        .await;
                    assert!(
                        matches!(answer, Ok(baseline_host::runtime::Answer::Command(Ok(_)))),
                        "{answer:?}"
                    );
                    if round >= 100 {
                        histogram
                            .record(started.elapsed().as_nanos() as u64)
                            .unwrap();
                    }
                }
            });
            let paced = gap.map_or(String::new(), |gap| {
                format!(", a call every {} ms", gap.as_millis())
            });
            println!(
                "{file} ({:.1} MiB, load {:.0} ms, first call at load {:.0} µs) {mode:?} ({:?}, {} spares{paced}): `/{command} amount:1` p50 {:.1} µs, p99 {:.1} µs (1 000 calls; {} of 1 100 found a spare)",
                size as f64 / 1048576.0,
                load.as_secs_f64() * 1e3,
                cog.instantiate_time.unwrap_or_default().as_secs_f64() * 1e6,
                cog.policy,
                cog.spares_wanted(),
                histogram.value_at_quantile(0.5) as f64 / 1e3,
                histogram.value_at_quantile(0.99) as f64 / 1e3,
                cog.calls_on_spares(),
            );
        }
    }
}

fn make_runtime(cogs: &Path, data: &Path) -> Arc<Runtime> {
    let config = Config {
        cogs_dir: cogs.to_path_buf(),
        data_dir: data.to_path_buf(),
        ..Config::default()
    };
    Runtime::new(config, Services::in_process()).expect("runtime")
}

fn percentiles(
    rt: &tokio::runtime::Runtime,
    runtime: &Arc<Runtime>,
    cog: &Arc<LoadedCog>,
    command: &str,
    calls: u32,
) {
    let mut histogram = Histogram::<u64>::new(3).unwrap();
    rt.block_on(async {
        for _ in 0..calls / 10 {
            call(runtime, cog, command).await; // warm-up
        }
        for _ in 0..calls {
            let started = Instant::now();
            call(runtime, cog, command).await;
            histogram
                .record(started.elapsed().as_nanos() as u64)
                .unwrap();
        }
    });
    println!(
        "{:?} + `{}` on `{}`: p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs ({} calls)",
        cog.policy,
        command,
        cog.name(),
        histogram.value_at_quantile(0.5) as f64 / 1e3,
        histogram.value_at_quantile(0.99) as f64 / 1e3,
        histogram.max() as f64 / 1e3,
        calls
    );
}

fn throughput(runtime: &Arc<Runtime>, cog: &Arc<LoadedCog>, command: &'static str) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let count = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let seconds = 5;
    rt.block_on(async {
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let (runtime, cog, count, stop) =
                (runtime.clone(), cog.clone(), count.clone(), stop.clone());
            tasks.push(tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    call(&runtime, &cog, command).await;
                    count.fetch_add(1, Ordering::Relaxed);
                }
            }));
        }
        tokio::time::sleep(Duration::from_secs(seconds)).await;
        stop.store(true, Ordering::Relaxed);
        for task in tasks {
            task.await.unwrap();
        }
    });
    println!(
        "throughput, 8 tasks on 2 worker threads, `{command}` on `{}`: {:.0} invocations/s",
        cog.name(),
        count.load(Ordering::Relaxed) as f64 / seconds as f64
    );
}

fn compile_vs_cache(wasm: &Path) {
    let engine = baseline_host::runtime::engine::build(&Default::default()).unwrap();
    let bytes = std::fs::read(wasm).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let artifact = dir.path().join("a.cwasm");
    let mut compile = Vec::new();
    let mut load = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let compiled = engine.precompile_component(&bytes).unwrap();
        compile.push(started.elapsed());
        std::fs::write(&artifact, &compiled).unwrap();
        let started = Instant::now();
        // SAFETY: the artifact was just written by this engine.
        let component =
            unsafe { wasmtime::component::Component::deserialize_file(&engine, &artifact) }
                .unwrap();
        load.push(started.elapsed());
        drop(component);
    }
    compile.sort();
    load.sort();
    println!(
        "{}: {} KiB wasm, {} KiB compiled; cold compile median {:.1} ms, cache load median {:.2} ms",
        wasm.file_name().unwrap().to_string_lossy(),
        bytes.len() / 1024,
        std::fs::metadata(&artifact).unwrap().len() / 1024,
        compile[2].as_secs_f64() * 1e3,
        load[2].as_secs_f64() * 1e3
    );
}

fn reload_latency() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let cogs = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let runtime = make_runtime(cogs.path(), data.path());
    let debounce = runtime.config().runtime.reload_debounce_ms;
    let original = std::fs::read(guests().join("reference.wasm")).unwrap();
    let file = cogs.path().join("reference.wasm");
    let mut from_write = Vec::new();
    let mut after_compile = Vec::new();
    rt.block_on(async {
        let _watcher = watcher::watch(runtime.clone()).unwrap();
        for round in 0..10u8 {
            let mut bytes = original.clone();
            // A custom section (id 0, 7 bytes: name length, "bench", round).
            bytes.extend_from_slice(&[0, 7, 5, b'b', b'e', b'n', b'c', b'h', round]);
            let before = runtime.registry().get("reference").map(|c| c.hash.clone());
            let written = Instant::now();
            std::fs::write(&file, &bytes).unwrap();
            loop {
                assert!(
                    written.elapsed() < Duration::from_secs(60),
                    "reload never became visible: {:?}",
                    runtime.registry().failures()
                );
                if let Some(cog) = runtime.registry().get("reference")
                    && Some(&cog.hash) != before.as_ref()
                {
                    let visible = Instant::now();
                    from_write.push(visible - written);
                    after_compile.push(visible - cog.compiled_at);
                    break;
                }
                tokio::time::sleep(Duration::from_micros(200)).await;
            }
        }
    });
    from_write.sort();
    after_compile.sort();
    println!(
        "reload of reference.wasm (debounce {debounce} ms, fresh compile each time): from write median {:.1} ms, max {:.1} ms; \
         visible after compile ends median {:.2} ms, max {:.2} ms (10 reloads)",
        from_write[5].as_secs_f64() * 1e3,
        from_write[9].as_secs_f64() * 1e3,
        after_compile[5].as_secs_f64() * 1e3,
        after_compile[9].as_secs_f64() * 1e3
    );
}

fn main() {
    let guests = guests();
    assert!(
        guests.join("hostile.wasm").exists(),
        "build the guests first: just bench"
    );
    let cogs = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    for name in ["hostile", "reference", "status"] {
        std::fs::copy(
            guests.join(format!("{name}.wasm")),
            cogs.path().join(format!("{name}.wasm")),
        )
        .unwrap();
    }
    let runtime = make_runtime(cogs.path(), data.path());
    let single = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    single.block_on(runtime.load_dir());
    let hostile = runtime.registry().get("hostile").unwrap();
    let status = runtime.registry().get("status").unwrap();

    println!("== 1. fresh instance + command");
    percentiles(&single, &runtime, &hostile, "fine", 20_000);
    percentiles(&single, &runtime, &status, "status", 20_000);
    if let Ok(extra) = std::env::var("BASELINE_BENCH_EXTRA") {
        for item in extra.split(',').filter(|s| !s.is_empty()) {
            let (path, command) = item.rsplit_once(':').expect("path:command");
            let cog = single
                .block_on(runtime.load_file(Path::new(path)))
                .expect("extra cog loads");
            percentiles(&single, &runtime, &cog, command, 2_000);
        }
    }
    if let Some(twins) = std::env::var_os("BASELINE_BENCH_TWINS") {
        println!("== 1b. per language (the tally twins)");
        languages(Path::new(&twins), data.path());
    }
    if std::env::var_os("BASELINE_BENCH_QUICK").is_some() {
        return;
    }
    let mut criterion = Criterion::default()
        .configure_from_args()
        .measurement_time(Duration::from_secs(5));
    criterion.bench_function("fresh instance + trivial command (hostile fine)", |b| {
        b.to_async(&single)
            .iter(|| call(&runtime, &hostile, "fine"))
    });

    println!("== 2. throughput");
    throughput(&runtime, &hostile, "fine");

    println!("== 3. cold compile vs cache load");
    for name in ["hostile", "reference", "status"] {
        compile_vs_cache(&guests.join(format!("{name}.wasm")));
    }

    println!("== 4. reload latency");
    reload_latency();
    criterion.final_summary();
}
