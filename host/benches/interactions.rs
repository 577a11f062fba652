//! Interactions end to end through the Discord simulator: a simulated user's
//! slash command (the INTERACTION_CREATE dispatch leaves the simulator) →
//! twilight's gateway in the host → the cog → the interaction callback received by
//! the simulator. Open loop at fixed rates; reports p50/p99/max latency and
//! whether the rate was sustained (every interaction answered, the rate
//! actually sent, p99 under 100 ms).
//!
//! `just bench-discord` (release). The simulator, the host and the cog share
//! the machine's cores, as they do in `baseline run`.
//! Environment: `BASELINE_BENCH_COG` (default: the hostile test cog, whose
//! `fine` command answers at once), `BASELINE_BENCH_SECONDS` per rate
//! (default 5), `BASELINE_BENCH_RATES` (default `250,500,1000,2000,4000`).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use baseline_discord_sim::Simulator;
use baseline_discord_sim::world::{DEMO_CHANNEL, DEMO_GUILD, DEMO_OWNER};
use baseline_host::capabilities::Services;
use baseline_host::config::Config;
use baseline_host::discord::{DiscordLink, Endpoint, ShardMonitor};
use baseline_host::dispatch::Discord;
use baseline_host::runtime::Runtime;
use serde_json::json;

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let cog = std::env::var_os("BASELINE_BENCH_COG")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let target = std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| workspace.join("target"));
            target.join("guests/wasm32-wasip2/cog/hostile.wasm")
        });
    let seconds: u64 = std::env::var("BASELINE_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let rates: Vec<u64> = std::env::var("BASELINE_BENCH_RATES")
        .unwrap_or_else(|_| "250,500,1000,2000,4000".into())
        .split(',')
        .filter_map(|r| r.trim().parse().ok())
        .collect();

    let sim = Simulator::start(([127, 0, 0, 1], 0).into()).await?;
    let dir = tempfile::tempdir()?;
    let cogs = dir.path().join("cogs");
    std::fs::create_dir_all(&cogs)?;
    std::fs::copy(&cog, cogs.join("hostile.wasm")).map_err(|e| {
        anyhow::anyhow!(
            "{}: {e} (build it with `just bench-discord`)",
            cog.display()
        )
    })?;
    let config = Config {
        cogs_dir: cogs,
        data_dir: dir.path().join("data"),
        ..Config::default()
    };
    let link = Arc::new(DiscordLink::new(&sim.http_url(), "bench", &config.discord));
    let services = Services::in_process().with_discord(link.clone());
    let monitor = Arc::new(ShardMonitor::new(
        services.cache.clone(),
        services.host.process(),
        Duration::from_secs(10),
    ));
    let runtime = Runtime::new(config.clone(), services.with_shards(monitor.clone()))?;
    runtime.load_dir().await;
    let endpoint = Endpoint {
        base: sim.http_url(),
        token: "bench".into(),
        simulated: true,
    };
    let _discord = Discord::start(
        runtime.clone(),
        link,
        &endpoint,
        config.discord.clone(),
        None,
        monitor,
    )
    .await?;
    let state = &sim.sim().world.state;
    let started = Instant::now();
    while state.lock().commands.global.is_empty() {
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(30),
            "the bot never registered its commands"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let data = json!({"id": "1", "name": "fine", "type": 1, "options": []});
    let send = || {
        sim.sim()
            .send_interaction(
                2,
                Some(DEMO_GUILD),
                DEMO_CHANNEL,
                DEMO_OWNER,
                data.clone(),
                None,
            )
            .expect("the demo world has these ids")
    };
    let wait_answered = |ids: Vec<u64>, within: Duration| async move {
        let started = Instant::now();
        loop {
            let answered = {
                let state = state.lock();
                ids.iter()
                    .filter(|id| state.interactions[id].callback().is_some())
                    .count()
            };
            if answered == ids.len() || started.elapsed() > within {
                return ids;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    // Warm up: connections, instances, caches.
    let warm: Vec<u64> = (0..200).map(|_| send()).collect();
    wait_answered(warm, Duration::from_secs(10)).await;

    println!("| target/s | sent | achieved/s | answered | p50 | p99 | max | sustained |");
    println!("|---:|---:|---:|---:|---:|---:|---:|:---:|");
    for rate in rates {
        let period = Duration::from_secs_f64(1.0 / rate as f64);
        let total = rate * seconds;
        let mut ids = Vec::with_capacity(total as usize);
        let begin = Instant::now();
        for n in 0..total {
            let due = begin + period * n as u32;
            let now = Instant::now();
            if due > now {
                tokio::time::sleep_until(due.into()).await;
            }
            ids.push(send());
        }
        let sending = begin.elapsed();
        let ids = wait_answered(ids, Duration::from_secs(10)).await;
        let mut latencies: Vec<u64> = {
            let state = state.lock();
            ids.iter()
                .filter_map(|id| {
                    state.interactions[id]
                        .responses
                        .iter()
                        .find(|r| r.kind == "callback")
                        .map(|r| r.after_us)
                })
                .collect()
        };
        latencies.sort_unstable();
        let answered = latencies.len();
        let achieved = total as f64 / sending.as_secs_f64();
        let p50 = percentile(&latencies, 0.50);
        let p99 = percentile(&latencies, 0.99);
        let max = latencies.last().copied().unwrap_or(0);
        let sustained = answered == ids.len() && achieved >= rate as f64 * 0.95 && p99 < 100_000;
        println!(
            "| {rate} | {total} | {achieved:.0} | {answered} | {:.2} ms | {:.2} ms | {:.2} ms | {} |",
            p50 as f64 / 1000.0,
            p99 as f64 / 1000.0,
            max as f64 / 1000.0,
            if sustained { "yes" } else { "no" }
        );
        // Let the host drain before the next rate.
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Ok(())
}
