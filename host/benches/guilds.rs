//! Host memory per guild and event throughput: a release `baseline run`
//! (a child process, so only the host is measured) with 4 shards against
//! the simulator (in this process), on SQLite and the in-process cache.
//!
//! 1. Start the host with the demo guild; wait until its 4 shards are
//!    connected; read its resident memory (VmRSS).
//! 2. Add 1 000 guilds (each with #general, @everyone, its owner and 20
//!    members), spread over the 4 shards; wait until the host reports all of
//!    them in the shard monitor; read VmRSS again. Memory per guild is the
//!    difference over 1 000.
//! 3. Post 20 000 messages across those guilds at a steady rate; the
//!    `reference` cog (subscribed to messages, one kv increment each)
//!    handles them; throughput is messages handled over the time until the
//!    host's metrics count every one handled or shed (a cog whose queue is
//!    full sheds the excess).
//!
//! `just bench-guilds`. Environment: `BASELINE_BENCH_GUILDS` (default 1000),
//! `BASELINE_BENCH_MEMBERS` (default 20), `BASELINE_BENCH_MESSAGES` (default
//! 20000), `BASELINE_BENCH_EVENT_RATE` (messages per second, default 2000),
//! `BASELINE_BENCH_DATABASE_URL` (Postgres instead of SQLite).

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use baseline_discord_sim::Simulator;
use baseline_discord_sim::world::{DEMO_CHANNEL, DEMO_OWNER};
use serde_json::json;

/// What the host keeps: the lowest resident memory over 20 s of readings
/// (every 250 ms). The host may still be working through queued events
/// (database writes, member events) when the count of guilds is complete,
/// and freed memory goes back to the system within about a second, so a
/// single reading says more about timing than about what is kept.
async fn settled_rss_kib(pid: u32) -> u64 {
    let mut lowest = u64::MAX;
    for _ in 0..80 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        lowest = lowest.min(rss_kib(pid));
    }
    lowest
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

/// The host's metric lines that start with `prefix` and contain `with`, summed.
async fn metric(http: &reqwest::Client, health: &str, prefix: &str, with: &str) -> f64 {
    let text = match http.get(format!("http://{health}/metrics")).send().await {
        Ok(response) => response.text().await.unwrap_or_default(),
        Err(_) => return 0.0,
    };
    text.lines()
        .filter(|l| l.starts_with(prefix) && l.contains(with))
        .filter_map(|l| l.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()))
        .sum()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let guilds: u64 = std::env::var("BASELINE_BENCH_GUILDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let messages: u64 = std::env::var("BASELINE_BENCH_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace.join("target"));
    let binary = target.join("release/baseline");
    let cog = target.join("guests/wasm32-wasip2/cog/reference.wasm");
    anyhow::ensure!(
        binary.exists() && cog.exists(),
        "build first: `just bench-guilds`"
    );

    let sim = Simulator::start(([127, 0, 0, 1], 0).into()).await?;
    let dir = tempfile::tempdir()?;
    std::fs::create_dir(dir.path().join("cogs"))?;
    std::fs::copy(&cog, dir.path().join("cogs/reference.wasm"))?;
    let health_port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let health = format!("127.0.0.1:{health_port}");
    let mut host = Command::new(&binary)
        .args(["run", "--shards", "0-3", "--total-shards", "4"])
        .current_dir(dir.path())
        .env("BASELINE_DISCORD_URL", sim.http_url())
        .env("BASELINE_API_ADDR", "127.0.0.1:0")
        .env("BASELINE_HEALTH_ADDR", &health)
        .env("RUST_LOG", "warn")
        .envs(
            std::env::var("BASELINE_BENCH_MALLOC_CONF")
                .ok()
                .map(|conf| ("_RJEM_MALLOC_CONF", conf)),
        )
        .env_remove("DISCORD_TOKEN")
        .env_remove("DATABASE_URL")
        .envs(
            std::env::var("BASELINE_BENCH_DATABASE_URL")
                .ok()
                .map(|url| ("DATABASE_URL", url)),
        )
        .env_remove("REDIS_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()?;
    let pid = host.id();
    let http = reqwest::Client::new();
    let wait_guilds = |want: f64| {
        let http = http.clone();
        let health = health.clone();
        async move {
            let started = Instant::now();
            loop {
                let have = metric(&http, &health, "baseline_shard_guilds{", "").await;
                let connected = metric(
                    &http,
                    &health,
                    "baseline_shard_state{",
                    "state=\"connected\"",
                )
                .await;
                if have >= want && connected >= 4.0 {
                    return Ok(started.elapsed());
                }
                anyhow::ensure!(
                    started.elapsed() < Duration::from_secs(180),
                    "the host reports {have} guilds, want {want}"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    wait_guilds(1.0).await?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let before = settled_rss_kib(pid).await;

    // 1 000 guilds, 20 members each, spread over the shards.
    let member_count: u64 = std::env::var("BASELINE_BENCH_MEMBERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let members: Vec<u64> = (0..member_count)
        .map(|n| 7_000_000_000_000_000_000 + n)
        .collect();
    let mut guild_ids = Vec::new();
    let started = Instant::now();
    for n in 0..guilds {
        let id = (10_000 + n) << 22 | 1;
        sim.sim()
            .add_guild(&format!("Guild {n}"), DEMO_OWNER, Some(id))
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        for member in &members {
            sim.sim()
                .add_member(id, *member, "member")
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        }
        guild_ids.push(id);
    }
    let took = wait_guilds(guilds as f64 + 1.0).await?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = settled_rss_kib(pid).await;
    let per_guild = (after.saturating_sub(before)) as f64 * 1024.0 / guilds as f64;
    println!(
        "guilds: {guilds} joined in {:.1} s (host saw all {:.1} s after the first)",
        started.elapsed().as_secs_f64(),
        took.as_secs_f64()
    );
    println!(
        "host RSS: {} KiB before, {} KiB after → {:.1} KB per guild",
        before,
        after,
        per_guild / 1000.0
    );

    // Event throughput: messages across the guilds, handled by `reference`.
    let channels: Vec<u64> = {
        let state = sim.world().state.lock();
        guild_ids
            .iter()
            .filter_map(|g| {
                state
                    .channels
                    .values()
                    .find(|c| c.guild_id == Some(*g))
                    .map(|c| c.id)
            })
            .collect()
    };
    let base = metric(
        &http,
        &health,
        "baseline_cog_invocations_total{cog=\"reference\"}",
        "",
    )
    .await;
    let shed_base = metric(
        &http,
        &health,
        "baseline_cog_events_shed_total{cog=\"reference\"}",
        "",
    )
    .await;
    // Paced: a gateway delivers events as they happen. A burst faster than
    // the cog runs fills its queue (`[runtime] event_queue`) and the excess
    // is shed, by design; the rate says what the host sustains.
    let rate: u64 = std::env::var("BASELINE_BENCH_EVENT_RATE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000)
        .max(1);
    let started = Instant::now();
    for n in 0..messages {
        let due = started + Duration::from_secs_f64(n as f64 / rate as f64);
        if n % 50 == 0 && due > Instant::now() {
            tokio::time::sleep_until(due.into()).await;
        }
        let channel = channels
            .get(n as usize % channels.len().max(1))
            .copied()
            .unwrap_or(DEMO_CHANNEL);
        sim.sim()
            .create_message(
                channel,
                DEMO_OWNER,
                json!({"content": format!("message {n}")}),
                0,
                None,
            )
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    }
    let sent = started.elapsed();
    let (handled, shed) = loop {
        let handled = metric(
            &http,
            &health,
            "baseline_cog_invocations_total{cog=\"reference\"}",
            "",
        )
        .await
            - base;
        let shed = metric(
            &http,
            &health,
            "baseline_cog_events_shed_total{cog=\"reference\"}",
            "",
        )
        .await
            - shed_base;
        if handled + shed >= messages as f64 {
            break (handled, shed);
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(300),
            "only {handled} of {messages} handled ({shed} shed)"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let total = started.elapsed();
    println!(
        "events: {messages} messages sent at {rate}/s in {:.2} s; {handled} handled, {shed} shed, all done after {:.2} s → {:.0} events/s handled (each one cog invocation with a kv increment)",
        sent.as_secs_f64(),
        total.as_secs_f64(),
        handled / total.as_secs_f64()
    );
    println!("host RSS at the end: {} KiB", settled_rss_kib(pid).await);
    let _ = host.kill();
    let _ = host.wait();
    Ok(())
}
