//! Several processes, one bot: two `baseline run` processes sharing one
//! Postgres, one Redis and one simulated bot with 4 shards, each owning 2.

use std::time::{Duration, Instant};

use baseline_discord_sim::Simulator;
use baseline_discord_sim::world::DEMO_GUILD;
use baseline_host::api::access::{Session, create_session};
use serde_json::{Value, json};

use crate::support::*;

/// A `baseline run` child of the cluster and the lines it prints.
struct Process(Running);

impl Process {
    fn start(shards: &str, env: &[(&str, String)], dir: &std::path::Path) -> Self {
        let mut env = env.to_vec();
        env.push(("RUST_LOG", "info".into()));
        Self(Running::spawn(
            dir,
            &["run", "--shards", shards, "--total-shards", "4"],
            &env,
        ))
    }

    /// Wait for a line containing `what`; the line.
    fn wait_for(&mut self, what: &str, within: Duration) -> String {
        self.0.wait_for_within(what, within)
    }

    /// The API's address, from its start-up line.
    fn api(&mut self) -> String {
        let line = self.wait_for("API on http://", Duration::from_secs(120));
        line.trim_start_matches("API on http://")
            .split('/')
            .next()
            .unwrap()
            .to_string()
    }
}

async fn shards(http: &reqwest::Client, api: &str, token: &str) -> Value {
    http.get(format!("http://{api}/api/v1/shards"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn until(what: &str, within: Duration, mut check: impl AsyncFnMut() -> bool) {
    let started = Instant::now();
    while !check().await {
        assert!(
            started.elapsed() < within,
            "timed out after {within:?} waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_run_one_bot_with_shared_postgres_and_redis() {
    let sim = Simulator::start(([127, 0, 0, 1], 0).into()).await.unwrap();
    // One guild on each of the 4 shards (the demo guild is on shard 3).
    let mut guilds = vec![DEMO_GUILD];
    for shard in 0..3u64 {
        let id = (1_000 + shard) << 22 | 7;
        assert_eq!((id >> 22) % 4, shard);
        let status = reqwest::Client::new()
            .post(format!("{}/_sim/guilds", sim.http_url()))
            .json(&json!({"name": format!("Shard {shard}"), "id": id.to_string()}))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 200);
        guilds.push(id);
    }
    let redis = OwnRedis::start(free_port());
    let cache = redis.connect().await;
    let database_url = crate::store::fresh_postgres_url().await;
    let dir = tempfile::tempdir().unwrap();
    let cogs = dir.path().join("cogs");
    std::fs::create_dir(&cogs).unwrap();
    install("reference", &cogs, "reference.wasm");
    std::fs::write(
        dir.path().join("baseline.toml"),
        "[discord]\nmonitor_ttl_ms = 3000\n",
    )
    .unwrap();
    let env = vec![
        ("DATABASE_URL", database_url),
        ("REDIS_URL", format!("redis://127.0.0.1:{}", redis.port())),
        ("BASELINE_DISCORD_URL", sim.http_url()),
        (
            "BASELINE_DATA_DIR",
            guest_target().join("test-data").display().to_string(),
        ),
    ];
    let mut a = Process::start("0-1", &env, dir.path());
    let mut b = Process::start("2-3", &env, dir.path());
    let (api_a, api_b) = (a.api(), b.api());
    let session = Session {
        user_id: 1,
        guilds: vec![],
        developer: true,
        ..Default::default()
    };
    let token = create_session(&cache, &session, Duration::from_secs(600))
        .await
        .unwrap();
    let http = reqwest::Client::new();

    // Shards identify `max_concurrency` at a time, 5 s apart.
    until(
        "all 4 shards connected, from either process",
        Duration::from_secs(60),
        async || {
            let view = shards(&http, &api_a, &token).await;
            view["shards"]
                .as_array()
                .is_some_and(|s| s.len() == 4 && s.iter().all(|s| s["state"] == "connected"))
        },
    )
    .await;
    let from_b = shards(&http, &api_b, &token).await;
    assert_eq!(from_b["total"], 4);
    let owners: Vec<&str> = from_b["shards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["process"].as_str().unwrap())
        .collect();
    assert_eq!(owners[0], owners[1]);
    assert_eq!(owners[2], owners[3]);
    assert_ne!(
        owners[0], owners[2],
        "two processes own the shards: {owners:?}"
    );

    // Every guild's events are handled by exactly one process: one message
    // each, and reference counts exactly one in each guild (kv in Postgres).
    for guild in &guilds {
        let status = http
            .post(format!("{}/_sim/messages", sim.http_url()))
            .json(&json!({"guild_id": guild.to_string(), "content": "hello"}))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 200);
    }
    let seen_in = async |guild: u64| -> Value {
        let answer: Value = http
            .post(format!("{}/_sim/commands", sim.http_url()))
            .json(
                &json!({"name": "dice stats", "guild_id": guild.to_string(), "timeout_ms": 10000}),
            )
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        answer["reply"]["embeds"][0]["fields"][2]["value"].clone()
    };
    for guild in guilds.clone() {
        until(
            &format!("guild {guild} counted its message"),
            Duration::from_secs(20),
            async || seen_in(guild).await == "1",
        )
        .await;
    }
    // Counted once, not twice: still 1 a moment later.
    tokio::time::sleep(Duration::from_millis(500)).await;
    for guild in &guilds {
        assert_eq!(seen_in(*guild).await, "1", "guild {guild}");
    }

    // A reload asked of B reaches A through Redis.
    let reload = http
        .post(format!("http://{api_b}/api/v1/cogs/reference/reload"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(reload.status(), 200);
    a.wait_for(
        "reloading on a notice from another process",
        Duration::from_secs(10),
    );

    // A dies: its shards age out of the monitor within the TTL (3 s).
    let _ = a.0.child.kill();
    let _ = a.0.child.wait();
    let killed = Instant::now();
    until("A's shards aged out", Duration::from_secs(10), async || {
        shards(&http, &api_b, &token).await["missing"] == json!([0, 1])
    })
    .await;
    assert!(
        killed.elapsed() < Duration::from_secs(6),
        "aged out in {:?}",
        killed.elapsed()
    );

    // A comes back: so do its shards.
    drop(a);
    let mut a = Process::start("0-1", &env, dir.path());
    a.api();
    until("A's shards back", Duration::from_secs(60), async || {
        let view = shards(&http, &api_b, &token).await;
        view["missing"] == json!([])
            && view["shards"]
                .as_array()
                .is_some_and(|s| s.iter().all(|s| s["state"] == "connected"))
    })
    .await;
    // The new A reads what the old A counted: kv lives in the shared Postgres.
    for guild in &guilds[1..3] {
        assert_eq!(
            seen_in(*guild).await,
            "1",
            "guild {guild} after A restarted"
        );
    }
}
