//! Discord end to end: the host connected through its gateway to the simulator,
//! users acting through the simulator's control API, answers read back from
//! what the bot sent.

use std::sync::Arc;
use std::time::Duration;

use baseline_discord_sim::Simulator;
use baseline_discord_sim::world::{DEMO_CHANNEL, DEMO_GUILD, DEMO_OWNER};
use baseline_host::capabilities::Services;
use baseline_host::config::Config;
use baseline_host::discord::{DiscordLink, Endpoint, ShardMonitor};
use baseline_host::dispatch::Discord;
use baseline_host::runtime::Runtime;
use baseline_host::store::Database;
use baseline_host::store::guilds::GuildStore;
use serde_json::{Value, json};

use crate::support::*;

mod events;
mod twins;
mod versions;

struct Harness {
    sim: Simulator,
    runtime: Arc<Runtime>,
    discord: Option<Discord>,
    db: Database,
    config: Config,
    link: Arc<DiscordLink>,
    monitor: Arc<ShardMonitor>,
    http: reqwest::Client,
    dir: tempfile::TempDir,
}

const COGS: &[&str] = &["status", "reference", "hostile"];

impl Harness {
    async fn start(cogs: &[&str], tweak: impl FnOnce(&mut Config)) -> Self {
        let files: Vec<_> = cogs
            .iter()
            .map(|cog| (guest(cog), format!("{cog}.wasm")))
            .collect();
        Self::start_files(&files, tweak).await
    }

    /// Start with these cog files, each copied under its name.
    async fn start_files(
        cogs: &[(std::path::PathBuf, String)],
        tweak: impl FnOnce(&mut Config),
    ) -> Self {
        let sim = Simulator::start(([127, 0, 0, 1], 0).into()).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let cogs_dir = dir.path().join("cogs");
        std::fs::create_dir_all(&cogs_dir).unwrap();
        for (file, name) in cogs {
            std::fs::copy(file, cogs_dir.join(name)).expect("copying a cog");
        }
        let mut config = config(&cogs_dir);
        config.cogs.entry("hostile".into()).or_default().deadline_ms = Some(8_000);
        tweak(&mut config);
        // STORM_DB=postgres: the storm benchmark on Postgres (production's database).
        let url = if std::env::var("STORM_DB").is_ok_and(|db| db == "postgres") {
            crate::store::fresh_postgres_url().await
        } else {
            format!("sqlite://{}", dir.path().join("db.sqlite").display())
        };
        let db = Database::connect(&url).await.unwrap();
        db.migrate().await.unwrap();
        let link = Arc::new(DiscordLink::new(
            &sim.http_url(),
            "simulated-token",
            &config.discord,
        ));
        let services = Services::with_database(db.clone()).with_discord(link.clone());
        let monitor = Arc::new(ShardMonitor::new(
            services.cache.clone(),
            services.host.process(),
            Duration::from_millis(config.discord.monitor_ttl_ms),
        ));
        let services = services.with_shards(monitor.clone());
        let runtime = Runtime::new(config.clone(), services).unwrap();
        runtime.load_dir().await;
        let mut harness = Self {
            sim,
            runtime,
            discord: None,
            db,
            config,
            link,
            monitor,
            http: reqwest::Client::new(),
            dir,
        };
        harness.connect().await;
        let expected = harness
            .runtime
            .registry()
            .list()
            .iter()
            .map(|c| c.manifest.commands.len())
            .sum::<usize>();
        let world = &harness.sim.sim().world;
        eventually("commands registered", Duration::from_secs(20), || {
            let state = world.state.lock();
            state.commands.global.len()
                + state.commands.guilds.values().map(Vec::len).sum::<usize>()
                == expected
        })
        .await;
        harness
    }

    /// Start the bot and wait until its shard has identified.
    async fn connect(&mut self) {
        let gateway = &self.sim.sim().gateway;
        let before: Vec<String> = gateway
            .sessions()
            .into_iter()
            .map(|s| s.session_id)
            .collect();
        let endpoint = Endpoint {
            base: self.sim.http_url(),
            token: "simulated-token".into(),
            simulated: true,
        };
        self.discord = Some(
            Discord::start(
                self.runtime.clone(),
                self.link.clone(),
                &endpoint,
                self.config.discord.clone(),
                Some(GuildStore::new(self.db.clone())),
                self.monitor.clone(),
            )
            .await
            .unwrap(),
        );
        eventually("the shard identified", Duration::from_secs(20), || {
            gateway
                .sessions()
                .iter()
                .any(|s| s.connected && !before.contains(&s.session_id))
        })
        .await;
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let response = self
            .http
            .post(format!("{}{path}", self.sim.http_url()))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Run a slash command as ada in #general; the simulator's answer.
    async fn command(&self, body: Value) -> Value {
        let (status, answer) = self.post("/_sim/commands", body.clone()).await;
        assert_eq!(status, 200, "{body} → {answer}");
        answer
    }

    /// An interaction once it has at least `responses` responses.
    async fn interaction_with(&self, id: &str, responses: usize) -> Value {
        let started = std::time::Instant::now();
        loop {
            let found: Value = self
                .http
                .get(format!("{}/_sim/interactions/{id}", self.sim.http_url()))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if found["responses"]
                .as_array()
                .is_some_and(|r| r.len() >= responses)
            {
                return found;
            }
            assert!(started.elapsed() < Duration::from_secs(10), "{found}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The health server (`/livez`, `/readyz`, `/metrics`) of this bot.
    async fn health_server(&self) -> std::net::SocketAddr {
        let bot = self.discord.as_ref().unwrap().bot.clone();
        baseline_host::health::serve(
            baseline_host::health::HealthState {
                runtime: self.runtime.clone(),
                bot,
            },
            ([127, 0, 0, 1], 0).into(),
        )
        .await
        .unwrap()
    }

    fn overwrites(&self) -> u64 {
        self.sim.sim().world.state.lock().commands.overwrites
    }

    fn callbacks(&self, interaction: &str) -> usize {
        self.sim
            .sim()
            .world
            .state
            .lock()
            .requests
            .iter()
            .filter(|r| {
                r.path
                    .starts_with(&format!("/api/v10/interactions/{interaction}/"))
            })
            .count()
    }
}

fn content(answer: &Value) -> &str {
    answer["reply"]["content"].as_str().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_and_dice_answer_and_the_button_round_trips() {
    let h = Harness::start(COGS, |_| {}).await;
    let status = h.command(json!({"name": "status"})).await;
    assert_eq!(status["callback_type"], 4, "{status}");
    assert_eq!(status["reply"]["embeds"][0]["title"], "Baseline status");
    assert_eq!(status["reply"]["flags"], 64, "ephemeral");

    let roll = h
        .command(json!({"name": "dice roll", "options": {"sides": 20, "count": 2}}))
        .await;
    let embed = &roll["reply"]["embeds"][0];
    assert!(
        embed["description"].as_str().unwrap().starts_with("2d20"),
        "{roll}"
    );
    let button = &roll["reply"]["components"][0]["components"][0];
    assert_eq!(button["custom_id"], "reference:again:20:2");

    let (status, click) = h
        .post(
            "/_sim/components",
            json!({"message_id": roll["reply"]["id"], "custom_id": "reference:again:20:2"}),
        )
        .await;
    assert_eq!(status, 200, "{click}");
    assert_eq!(click["callback_type"], 7, "the message is updated in place");
    assert!(click["reply"]["edited_timestamp"].is_string());
    assert!(
        click["reply"]["embeds"][0]["description"]
            .as_str()
            .unwrap()
            .starts_with("2d20")
    );

    // Autocomplete offers the server's label suggestions.
    let (status, typed) = h
        .post(
            "/_sim/autocomplete",
            json!({"name": "dice roll", "options": {"label": "at"}, "focused": "label"}),
        )
        .await;
    assert_eq!(status, 200, "{typed}");
    assert_eq!(typed["choices"][0]["name"], "attack", "{typed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_command_is_deferred_within_the_deadline_then_completed() {
    let h = Harness::start(&["hostile"], |_| {}).await;
    let answer = h
        .command(json!({"name": "slow", "options": {"ms": 2600}, "timeout_ms": 10000}))
        .await;
    let responses = answer["responses"].as_array().unwrap();
    assert_eq!(responses[0]["kind"], "callback");
    assert_eq!(responses[0]["type"], 5, "deferred: {answer}");
    let deferred_after = responses[0]["after_ms"].as_u64().unwrap();
    assert!(
        (1900..3000).contains(&deferred_after),
        "deferred after {deferred_after} ms"
    );
    assert_eq!(responses[1]["kind"], "edit-original");
    assert_eq!(content(&answer), "slept 2600 ms");
    assert_eq!(answer["reply"]["flags"], 0, "no longer thinking");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_and_refusals_answer_with_an_ephemeral_human_message() {
    let h = Harness::start(&["hostile"], |_| {}).await;
    let boom = h.command(json!({"name": "boom"})).await;
    assert_eq!(boom["reply"]["flags"], 64);
    assert!(content(&boom).contains("Something went wrong"), "{boom}");
    let ban = h.command(json!({"name": "ban"})).await;
    assert_eq!(ban["reply"]["flags"], 64);
    assert!(
        !content(&ban).contains("Denied"),
        "internal details stay in the log: {ban}"
    );

    // Follow-ups sent by the cog while it runs: the first one acknowledges
    // (a deferral) and, as on Discord, fills the deferred response; the
    // cog's answer then comes as a follow-up of its own.
    let chatty = h.command(json!({"name": "chatty"})).await;
    let id = chatty["interaction_id"].as_str().unwrap().to_string();
    let chatty = h.interaction_with(&id, 4).await;
    let kinds: Vec<&str> = chatty["responses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["callback", "follow-up", "follow-up", "follow-up"],
        "{chatty}"
    );
    assert_eq!(
        content(&chatty),
        "follow-up 1",
        "the first follow-up filled the original"
    );
    assert_eq!(chatty["follow_ups"][2]["content"], "answer");

    // Answering `defer` and stopping would leave "thinking…" forever: the user is told.
    let deferred = h.command(json!({"name": "defer"})).await;
    assert_eq!(deferred["callback_type"], 4);
    assert_eq!(
        content(&deferred),
        "This command did not finish its answer."
    );

    // A cog cannot offer another cog's buttons (they would make that cog
    // act): its custom ids are its own, so a button it names after another
    // cog goes out in its own namespace and comes back to it.
    let stolen = h.command(json!({"name": "steal"})).await;
    let button = &stolen["reply"]["components"][0]["components"][0];
    assert_eq!(
        button["custom_id"], "hostile:reference:again:6:1",
        "{stolen}"
    );
    let (status, click) = h
        .post(
            "/_sim/components",
            json!({"message_id": stolen["reply"]["id"], "custom_id": "hostile:reference:again:6:1"}),
        )
        .await;
    assert_eq!(status, 200, "{click}");
    assert!(
        content(&click).contains("Button reference:again:6:1:"),
        "the click reached the cog that made the button: {click}"
    );
    let post = h
        .command(json!({"name": "post", "options": {"channel": DEMO_CHANNEL.to_string()}}))
        .await;
    assert!(
        content(&post).starts_with("sent "),
        "its own messages still go out: {post}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_private_answers_stay_private_and_slow_clicks_leave_the_message_alone() {
    let h = Harness::start(&["hostile"], |_| {}).await;
    // Deferred publicly by the host, answered privately by the cog: the
    // "thinking" message goes, the answer follows ephemeral.
    let answer = h
        .command(
            json!({"name": "slow", "options": {"ms": 2500, "private": true}, "timeout_ms": 10000}),
        )
        .await;
    let kinds: Vec<&str> = answer["responses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["callback", "delete-original", "follow-up"],
        "{answer}"
    );
    assert!(
        answer["reply"].is_null(),
        "no public message is left: {answer}"
    );
    assert_eq!(answer["follow_ups"][0]["flags"], 64);
    assert_eq!(answer["follow_ups"][0]["content"], "slept 2500 ms");

    // A slow select: a deferred update, then the answer as a message of its
    // own; the menu's message is not replaced.
    let offered = h.command(json!({"name": "pick"})).await;
    let (status, picked) = h
        .post(
            "/_sim/components",
            json!({"message_id": offered["reply"]["id"], "custom_id": "hostile:pick", "values": ["slow"], "timeout_ms": 10000}),
        )
        .await;
    assert_eq!(status, 200, "{picked}");
    assert_eq!(picked["callback_type"], 6);
    assert!(
        picked["follow_ups"][0]["content"]
            .as_str()
            .unwrap()
            .contains("values [slow]"),
        "{picked}"
    );
    let menu = &picked["reply"];
    assert_eq!(
        menu["content"], "pick colours",
        "the menu's message is intact: {picked}"
    );
    assert_eq!(
        menu["components"][0]["components"][0]["custom_id"],
        "hostile:pick"
    );
}

/// An answer over Discord's limits is never sent: the user is told at once
/// instead of waiting for a timed-out interaction. And when Discord refuses
/// an answer anyway, the user is told too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_over_discords_limits_fail_clearly_instead_of_timing_out() {
    let h = Harness::start(&["hostile"], |_| {}).await;
    for name in ["long", "rows"] {
        let answer = h.command(json!({"name": name})).await;
        assert_eq!(answer["reply"]["flags"], 64, "{answer}");
        assert!(
            content(&answer).contains("breaks one of Discord's limits"),
            "{answer}"
        );
        assert_eq!(answer["responses"].as_array().unwrap().len(), 1);
    }
    // Discord refuses a callback the host thought fine (injected 400).
    let (status, _) = h
        .post(
            "/_sim/faults/rest",
            json!({"path": "/callback", "method": "POST", "status": 400, "count": 1}),
        )
        .await;
    assert!((200..300).contains(&status), "{status}");
    let answer = h.command(json!({"name": "fine"})).await;
    assert_eq!(answer["reply"]["flags"], 64, "{answer}");
    assert!(
        content(&answer).contains("Discord refused its answer"),
        "{answer}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_reach_subscribed_cogs_only_even_when_one_panics() {
    let h = Harness::start(COGS, |_| {}).await;
    let (status, _) = h
        .post(
            "/_sim/messages",
            json!({"content": "hello", "user_id": (DEMO_OWNER + 1).to_string()}),
        )
        .await;
    assert_eq!(status, 200);
    let registry = h.runtime.registry();
    let hostile = registry.metrics_for("hostile");
    let reference = registry.metrics_for("reference");
    eventually("both subscribers ran", Duration::from_secs(10), || {
        hostile.snapshot().invocations == 1 && reference.snapshot().invocations == 1
    })
    .await;
    assert_eq!(hostile.snapshot().failures.get("panic"), Some(&1));
    assert_eq!(
        registry.metrics_for("status").snapshot().invocations,
        0,
        "status did not subscribe"
    );
    let stats = h.command(json!({"name": "dice stats"})).await;
    let fields = &stats["reply"]["embeds"][0]["fields"];
    assert_eq!(fields[2]["name"], "Messages seen");
    assert_eq!(fields[2]["value"], "1", "{stats}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cog_cannot_post_in_another_guild_and_has_its_own_rest_budget() {
    let h = Harness::start(&["hostile"], |_| {}).await;
    let (_, other) = h.post("/_sim/guilds", json!({"name": "Elsewhere"})).await;
    let foreign = other["channel_id"].as_str().unwrap().to_string();
    let refused = h
        .command(json!({"name": "post", "options": {"channel": foreign}}))
        .await;
    assert!(content(&refused).ends_with("WrongGuild"), "{refused}");
    let missing = h
        .command(json!({"name": "post", "options": {"channel": "12345"}}))
        .await;
    assert!(content(&missing).ends_with("NotFound"), "{missing}");
    let sent = h
        .command(json!({"name": "post", "options": {"channel": DEMO_CHANNEL.to_string()}}))
        .await;
    assert!(content(&sent).starts_with("sent "), "{sent}");
    let posted: Vec<Value> = h
        .http
        .get(format!(
            "{}/_sim/messages?channel_id={foreign}",
            h.sim.http_url()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(posted.is_empty(), "nothing reached the other guild");

    // The budget (burst 10, refilling 5/s) stops a burst; the channel lookups
    // above were charged to it too.
    let burst = h
        .command(json!({"name": "burst", "options": {"count": 30}}))
        .await;
    let text = content(&burst);
    let sent: u32 = text
        .strip_prefix("sent ")
        .and_then(|t| t.split(',').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(u32::MAX);
    assert!(
        (7..=12).contains(&sent) && text.contains("RateLimited("),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconnect_in_the_middle_of_a_burst_loses_and_duplicates_nothing() {
    let h = Arc::new(Harness::start(&["hostile"], |_| {}).await);
    // Every fault the shard resumes from: what was sent while it was away is replayed.
    let faults = [
        json!({"action": "reconnect"}),
        json!({"action": "drop"}),
        json!({"action": "close", "code": 4000}),
        json!({"action": "invalid_session", "resumable": true}),
    ];
    for (round, fault) in faults.iter().enumerate() {
        let mut runs = tokio::task::JoinSet::new();
        for n in 0..30 {
            let h = h.clone();
            runs.spawn(async move {
                tokio::time::sleep(Duration::from_millis(n * 10)).await;
                h.post(
                    "/_sim/commands",
                    json!({"name": "fine", "timeout_ms": 15000}),
                )
                .await
            });
        }
        tokio::time::sleep(Duration::from_millis(120)).await;
        let (_, reached) = h.post("/_sim/faults/gateway", fault.clone()).await;
        assert_eq!(reached["sessions"], 1, "{fault}");
        let mut ids = Vec::new();
        while let Some(result) = runs.join_next().await {
            let (status, answer) = result.unwrap();
            assert_eq!(status, 200, "across {fault}: {answer}");
            assert_eq!(content(&answer), "fine");
            ids.push(answer["interaction_id"].as_str().unwrap().to_string());
        }
        assert_eq!(ids.len(), 30);
        for id in &ids {
            assert_eq!(
                h.callbacks(id),
                1,
                "interaction {id} answered exactly once across {fault}"
            );
        }
        // The same interaction delivered twice is answered once.
        let (_, duplicated) = h
            .post(
                "/_sim/faults/gateway",
                json!({"action": "duplicate", "event": "INTERACTION_CREATE"}),
            )
            .await;
        assert_eq!(duplicated["sessions"], 1);
        let fine = h.command(json!({"name": "fine"})).await;
        assert_eq!(
            content(&fine),
            "fine",
            "the shard went on after the duplicate"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        for id in &ids {
            assert_eq!(
                h.callbacks(id),
                1,
                "interaction {id} answered once, duplicate or not"
            );
        }
        let sessions = h.sim.sim().gateway.sessions();
        assert_eq!(
            sessions[0].connections,
            round as u64 + 2,
            "the session was resumed, not replaced, after {fault}: {sessions:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callback_429s_and_500s_are_retried_within_the_deadline() {
    let h = Harness::start(&["hostile"], |_| {}).await;
    h.post(
        "/_sim/faults/rest",
        json!({"path": "/callback", "status": 429, "retry_after_ms": 300}),
    )
    .await;
    h.post(
        "/_sim/faults/rest",
        json!({"path": "/callback", "status": 500}),
    )
    .await;
    let answer = h.command(json!({"name": "fine"})).await;
    assert_eq!(content(&answer), "fine");
    assert_eq!(
        h.callbacks(answer["interaction_id"].as_str().unwrap()),
        3,
        "429, 500, then accepted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cogs_discord_call_waits_out_a_short_429_and_reports_a_long_one() {
    let h = Harness::start(&["hostile"], |_| {}).await;
    let channel = DEMO_CHANNEL.to_string();
    h.post(
        "/_sim/faults/rest",
        json!({"path": format!("/channels/{channel}/messages"), "method": "POST", "status": 429, "retry_after_ms": 400}),
    )
    .await;
    let started = std::time::Instant::now();
    let sent = h
        .command(json!({"name": "post", "options": {"channel": channel}}))
        .await;
    assert!(content(&sent).starts_with("sent "), "{sent}");
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "Retry-After was honoured"
    );
    // Longer than the cog's deadline (8 s here): the cog is told, nothing waits.
    h.post(
        "/_sim/faults/rest",
        json!({"path": format!("/channels/{channel}/messages"), "method": "POST", "status": 429, "retry_after_ms": 60000}),
    )
    .await;
    let limited = h
        .command(json!({"name": "post", "options": {"channel": channel}}))
        .await;
    assert!(
        content(&limited).contains("RateLimited(60000)"),
        "{limited}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_gateway_data_is_skipped_and_the_shard_stays_up() {
    let h = Harness::start(&["hostile"], |_| {}).await;
    let before = h.sim.sim().gateway.sessions();
    for (t, d) in [
        ("MESSAGE_CREATE", json!({"garbage": true})),
        ("INTERACTION_CREATE", json!({"id": "not a number"})),
        ("SOMETHING_NEW", json!({"x": 1})),
    ] {
        let (_, reached) = h.post("/_sim/dispatch", json!({"t": t, "d": d})).await;
        assert_eq!(reached["sessions"], 1, "{t} reached the shard");
    }
    let answer = h.command(json!({"name": "fine"})).await;
    assert_eq!(content(&answer), "fine");
    // The same session on the same socket: no reconnect, no re-identify.
    let after = h.sim.sim().gateway.sessions();
    assert_eq!(after[0].session_id, before[0].session_id);
    assert_eq!(after[0].connections, before[0].connections);
    assert!(after[0].seq >= before[0].seq + 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_are_registered_again_only_when_they_change() {
    let mut h = Harness::start(&["reference"], |_| {}).await;
    assert_eq!(h.overwrites(), 1);
    // Replacing the file with the same cog reloads it but changes no command.
    let cogs = h.dir.path().join("cogs");
    h.runtime
        .load_file(&cogs.join("reference.wasm"))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        h.overwrites(),
        1,
        "a reload that changes nothing registers nothing"
    );
    // A new cog brings a new command.
    install("status", &cogs, "status.wasm");
    h.runtime
        .load_file(&cogs.join("status.wasm"))
        .await
        .unwrap();
    let world = &h.sim.sim().world;
    eventually("/status registered", Duration::from_secs(10), || {
        world.state.lock().commands.global.len() == 2
    })
    .await;
    assert_eq!(h.overwrites(), 2);
    // A restarted host finds the commands already there: it reads them
    // (a GET) and writes nothing.
    let sim = h.sim.sim().clone();
    let reads = || {
        sim.world
            .state
            .lock()
            .requests
            .iter()
            .filter(|r| r.method == "GET" && r.path.ends_with("/commands"))
            .count()
    };
    let before = reads();
    h.discord.take().unwrap().shutdown().await;
    h.connect().await;
    eventually(
        "the restarted host read the commands",
        Duration::from_secs(10),
        || reads() > before,
    )
    .await;
    let answer = h.command(json!({"name": "status"})).await;
    assert_eq!(answer["reply"]["embeds"][0]["title"], "Baseline status");
    assert_eq!(h.overwrites(), 2, "nothing registered after the restart");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guild_installs_are_tracked_and_survive_restarts() {
    let mut h = Harness::start(&["reference"], |_| {}).await;
    let store = GuildStore::new(h.db.clone());
    eventually_async("demo guild recorded", || async {
        store.get(DEMO_GUILD).await.unwrap().is_some()
    })
    .await;
    assert_eq!(
        store.authorized_users(DEMO_GUILD).await.unwrap(),
        [(DEMO_OWNER, "owner".to_string())]
    );

    let (_, added) = h
        .post(
            "/_sim/guilds",
            json!({"name": "Second", "owner_id": (DEMO_OWNER + 2).to_string()}),
        )
        .await;
    let second: u64 = added["guild_id"].as_str().unwrap().parse().unwrap();
    eventually_async("second guild recorded", || async {
        store.get(second).await.unwrap().is_some_and(|g| g.active)
    })
    .await;
    assert_eq!(
        store.authorized_users(second).await.unwrap(),
        [(DEMO_OWNER + 2, "owner".to_string())]
    );

    h.http
        .delete(format!("{}/_sim/guilds/{second}", h.sim.http_url()))
        .send()
        .await
        .unwrap();
    eventually_async("second guild inactive", || async {
        store.get(second).await.unwrap().is_some_and(|g| !g.active)
    })
    .await;

    // A restart replays GUILD_CREATE for the demo guild: no duplicate rows,
    // nothing lost. (Marked inactive first, so its replay is visible.)
    h.discord.take().unwrap().shutdown().await;
    assert!(store.left(DEMO_GUILD).await.unwrap());
    h.connect().await;
    eventually_async("the replayed GUILD_CREATE handled", || async {
        store
            .get(DEMO_GUILD)
            .await
            .unwrap()
            .is_some_and(|g| g.active)
    })
    .await;
    let guilds = store.list().await.unwrap();
    assert_eq!(guilds.len(), 2, "{guilds:?}");
    assert!(guilds.iter().any(|g| g.guild_id == DEMO_GUILD && g.active));
    assert!(guilds.iter().any(|g| g.guild_id == second && !g.active));
    assert_eq!(store.authorized_users(DEMO_GUILD).await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ownership_transfer_moves_the_owners_access() {
    let h = Harness::start(&["reference"], |_| {}).await;
    let store = GuildStore::new(h.db.clone());
    eventually_async("demo guild recorded", || async {
        store.get(DEMO_GUILD).await.unwrap().is_some()
    })
    .await;
    let grace = DEMO_OWNER + 1;
    let answer = h
        .http
        .patch(format!("{}/_sim/guilds/{DEMO_GUILD}", h.sim.http_url()))
        .json(&json!({"owner_id": grace.to_string()}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 204);
    eventually_async("the new owner recorded (GUILD_UPDATE)", || async {
        store.authorized_users(DEMO_GUILD).await.unwrap() == [(grace, "owner".to_string())]
    })
    .await;
    let history = baseline_host::store::access::AccessStore::new(h.db.clone())
        .history(DEMO_GUILD, 10)
        .await
        .unwrap();
    assert_eq!(history[0].user_id, grace);
    assert_eq!(history[0].after.as_deref(), Some("owner"));
    assert_eq!(history[1].user_id, DEMO_OWNER);
    assert_eq!(history[1].after, None, "the old owner's owner access ended");
    assert_eq!(history[0].actor_id, None, "Discord made the change");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cog_turned_off_in_a_guild_is_not_run_there() {
    let h = Harness::start(&["reference", "hostile"], |_| {}).await;
    GuildStore::new(h.db.clone())
        .set_cog_enabled(DEMO_GUILD, "reference", false, Some(DEMO_OWNER))
        .await
        .unwrap();
    let answer = h.command(json!({"name": "dice roll"})).await;
    assert_eq!(answer["reply"]["flags"], 64);
    assert_eq!(content(&answer), "`/dice` is turned off in this server.");
    h.post("/_sim/messages", json!({"content": "hello"})).await;
    // hostile (still on) gets the message: once it has, reference would have too.
    let hostile = h.runtime.registry().metrics_for("hostile");
    eventually("hostile got the message", Duration::from_secs(10), || {
        hostile.snapshot().invocations == 1
    })
    .await;
    assert_eq!(
        h.runtime
            .registry()
            .metrics_for("reference")
            .snapshot()
            .invocations,
        0
    );
}

/// When the switch cannot be read (the database is gone), a cog turned off
/// stays off, and a cog the operator marked `default_off` is off in a guild
/// nobody switched it on in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_switch_that_cannot_be_read_keeps_the_cog_off() {
    let h = Harness::start(&["reference", "hostile"], |config| {
        config.cogs.entry("hostile".into()).or_default().default_off = true;
    })
    .await;
    GuildStore::new(h.db.clone())
        .set_cog_enabled(DEMO_GUILD, "reference", false, Some(DEMO_OWNER))
        .await
        .unwrap();
    let answer = h.command(json!({"name": "dice roll"})).await;
    assert_eq!(content(&answer), "`/dice` is turned off in this server.");
    let fine = h.command(json!({"name": "fine"})).await;
    assert_eq!(content(&fine), "`/fine` is turned off in this server.");
    // The database goes away; once the remembered switches are stale the
    // host asks it, fails, and keeps what it knew.
    match h.db.pool() {
        baseline_host::store::Pool::Sqlite(pool) => pool.close().await,
        baseline_host::store::Pool::Postgres(pool) => pool.close().await,
    }
    tokio::time::sleep(baseline_host::dispatch::SWITCH_TTL + Duration::from_millis(100)).await;
    let answer = h.command(json!({"name": "dice roll"})).await;
    assert_eq!(content(&answer), "`/dice` is turned off in this server.");
    let fine = h.command(json!({"name": "fine"})).await;
    assert_eq!(content(&fine), "`/fine` is turned off in this server.");
}

/// A flood of events for a cog that cannot keep up is shed beyond its
/// queue and counted, instead of piling up without end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_beyond_a_cogs_queue_are_shed_and_counted() {
    let h = Harness::start(&["storm-spin", "reference"], |config| {
        config.runtime.event_queue = 4;
        // One guild floods: its own allowance is what bounds it.
        config.runtime.event_queue_per_guild = 4;
        let spin = config.cogs.entry("storm-spin".into()).or_default();
        spin.concurrency = Some(1);
        spin.deadline_ms = Some(2_000);
    })
    .await;
    for i in 0..30 {
        h.post("/_sim/messages", json!({"content": format!("flood {i}")}))
            .await;
    }
    let spin = h.runtime.registry().get("storm-spin").unwrap();
    let reference = h.runtime.registry().metrics_for("reference");
    // reference keeps up with all 30; once it has seen them, so has the shedder.
    eventually(
        "reference saw every message",
        Duration::from_secs(20),
        || reference.snapshot().invocations == 30,
    )
    .await;
    // One runs (2 s), four wait; of 30, at least 20 cannot have had a place.
    eventually(
        "the spinner's excess is shed",
        Duration::from_secs(20),
        || spin.share.shed_events() >= 20,
    )
    .await;
    assert!(
        spin.share.queued_events() <= 5,
        "1 running + 4 waiting at most"
    );
    let addr = h.health_server().await;
    let metrics = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("baseline_cog_events_shed_total{cog=\"storm-spin\"}"),
        "{metrics}"
    );
    // reference counts messages in kv: its usage is reported.
    assert!(
        metrics.contains("baseline_cog_kv_keys{cog=\"reference\"}"),
        "{metrics}"
    );
}

async fn eventually_async<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = std::time::Instant::now();
    while !check().await {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "timed out waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_answers_for_its_own_shards_only() {
    let h = Harness::start(&["hostile"], |config| {
        config.discord.shards = Some("0".into());
        config.discord.total_shards = Some(2);
    })
    .await;
    assert_eq!(h.discord.as_ref().unwrap().bot.expected_shards(), [0]);
    // Give a wrong range time to show (shards identify in 5 s rounds).
    tokio::time::sleep(Duration::from_secs(6)).await;
    let sessions = h.sim.sim().gateway.sessions();
    assert_eq!(sessions.len(), 1, "only shard 0 runs here: {sessions:?}");
    assert_eq!(sessions[0].shard, [0, 2]);
    // The demo guild is on shard 1 of 2: nobody here answers for it.
    assert_eq!(baseline_discord_sim::world::shard_of(DEMO_GUILD, 2), 1);
    let (status, _) = h
        .post("/_sim/commands", json!({"name": "fine", "timeout_ms": 500}))
        .await;
    assert_eq!(status, 504);
    // A guild on shard 0 is served.
    let (_, added) = h
        .post(
            "/_sim/guilds",
            json!({"name": "Shard zero", "id": "9000000000000000000"}),
        )
        .await;
    let guild = added["guild_id"].as_str().unwrap().to_string();
    let answer = h.command(json!({"name": "fine", "guild_id": guild})).await;
    assert_eq!(content(&answer), "fine");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_modal_opens_and_its_submission_reaches_the_cog() {
    let h = Harness::start(&["hostile"], |_| {}).await;
    let opened = h.command(json!({"name": "form"})).await;
    assert_eq!(opened["callback_type"], 9, "{opened}");
    assert_eq!(opened["modal"]["custom_id"], "hostile:form");
    assert_eq!(
        opened["modal"]["components"][1]["components"][0]["style"],
        2
    );
    let (status, submitted) = h
        .post(
            "/_sim/modals",
            json!({"custom_id": "hostile:form", "fields": {"name": "Ada", "story": "engines"}}),
        )
        .await;
    assert_eq!(status, 200, "{submitted}");
    let text = content(&submitted);
    assert!(text.contains("ModalSubmit form: "), "{text}");
    assert!(
        text.contains("name=Ada") && text.contains("story=engines"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_development_guild_gets_the_commands_instead_of_everyone() {
    let h = Harness::start(&["reference"], |config| {
        config.discord.dev_guild = Some(DEMO_GUILD)
    })
    .await;
    let state = h.sim.sim().world.state.lock();
    assert!(state.commands.global.is_empty());
    assert_eq!(state.commands.guilds[&DEMO_GUILD][0]["name"], "dice");
}

/// A session token for the runtime's cache.
async fn session(runtime: &Runtime, developer: bool) -> String {
    use baseline_host::api::access::{Session, create_session};
    let session = Session {
        user_id: DEMO_OWNER,
        guilds: vec![DEMO_GUILD],
        developer,
        ..Default::default()
    };
    create_session(
        runtime.services().cache.as_ref(),
        &session,
        Duration::from_secs(600),
    )
    .await
    .unwrap()
}

impl Harness {
    /// Wait until the monitor has shard `id` connected with a latency.
    async fn shard_connected(&self, id: u32) -> baseline_host::discord::shards::ShardRecord {
        let started = std::time::Instant::now();
        loop {
            let (_, shards) = self.monitor.all().await.unwrap();
            if let Some(shard) = shards
                .into_iter()
                .find(|s| s.id == id && s.state == "connected" && s.latency_ms.is_some())
            {
                return shard;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "shard {id} never connected with a latency"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_shows_real_values_that_match_the_monitor() {
    let h = Harness::start(&["status", "reference"], |_| {}).await;
    let shard = h.shard_connected(0).await;
    let answer = h.command(json!({"name": "status"})).await;
    let fields: Vec<(String, String)> = answer["reply"]["embeds"][0]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["name"].as_str().unwrap().to_string(),
                f["value"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let field = |name: &str| {
        fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("no {name} in {fields:?}"))
    };
    assert_eq!(field("Version"), env!("CARGO_PKG_VERSION"));
    assert!(field("Uptime").ends_with('s'), "{fields:?}");
    assert_eq!(field("Guilds"), shard.guilds.to_string());
    assert_eq!(shard.guilds, 1);
    let shards = field("Shards");
    assert!(
        shards.starts_with("#0 connected · ") && shards.ends_with("ms · 1 guilds"),
        "{shards}"
    );
    assert!(
        field("Database").starts_with("✅ up (sqlite, "),
        "{fields:?}"
    );
    assert!(
        field("Cache").starts_with("✅ up (in-process, "),
        "{fields:?}"
    );
    assert!(
        field("Cogs (2)").contains("`reference` 0.1.0"),
        "{fields:?}"
    );
    for (name, value) in &fields {
        assert!(!value.contains("not available"), "{name}: {value}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_health_server_reports_readiness_and_prometheus_metrics() {
    let h = Harness::start(&["hostile"], |_| {}).await;
    h.shard_connected(0).await;
    h.command(json!({"name": "fine"})).await;
    h.command(json!({"name": "boom"})).await;
    let addr = h.health_server().await;
    let get = |path: &str| h.http.get(format!("http://{addr}{path}")).send();
    assert_eq!(get("/livez").await.unwrap().status(), 200);
    let ready = get("/readyz").await.unwrap();
    assert_eq!(ready.status(), 200);
    let ready: Value = ready.json().await.unwrap();
    assert_eq!(ready["shards"][0]["state"], "connected", "{ready}");
    assert_eq!(ready["database"]["backend"], "sqlite");
    // The latency of the second interaction is recorded once its callback's
    // answer has come back to the host: poll.
    let mut metrics = String::new();
    for _ in 0..100 {
        metrics = get("/metrics").await.unwrap().text().await.unwrap();
        if metrics.contains("baseline_interaction_latency_seconds_count 2") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for family in [
        "baseline_shard_state{shard=\"0\",state=\"connected\"} 1",
        "baseline_shard_latency_seconds{shard=\"0\"}",
        "baseline_shard_guilds{shard=\"0\"} 1",
        "baseline_cog_invocations_total{cog=\"hostile\"} 2",
        "baseline_cog_failures_total{cog=\"hostile\",kind=\"panic\"} 1",
        // A fast Rust cog keeps no spare instance.
        "baseline_cog_spare_instances{cog=\"hostile\"} 0",
        "baseline_interaction_latency_seconds_count 2",
        "baseline_discord_rest_requests_total ",
        "baseline_discord_rest_rate_limited_total 0",
        "baseline_service_up{service=\"database\",backend=\"sqlite\"} 1",
        "baseline_service_up{service=\"cache\",backend=\"in-process\"} 1",
    ] {
        assert!(metrics.contains(family), "missing `{family}` in\n{metrics}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shards_api_lists_every_shard_for_developers_only() {
    let h = Harness::start(&["reference"], |_| {}).await;
    h.shard_connected(0).await;
    let app = baseline_host::api::router(baseline_host::api::ApiState::new(h.runtime.clone()));
    let request = |path: &str, token: Option<String>| {
        let mut builder = axum::http::Request::get(path);
        if let Some(token) = token {
            builder = builder.header("authorization", format!("Bearer {token}"));
        }
        builder.body(axum::body::Body::empty()).unwrap()
    };
    let call = |request| {
        let app = app.clone();
        async move {
            use tower::ServiceExt;
            let response: axum::response::Response = app.oneshot(request).await.unwrap();
            let status = response.status().as_u16();
            let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
                .await
                .unwrap();
            (
                status,
                serde_json::from_slice::<Value>(&bytes).unwrap_or(Value::Null),
            )
        }
    };
    let developer = session(&h.runtime, true).await;
    let admin = session(&h.runtime, false).await;
    assert_eq!(call(request("/api/v1/shards", None)).await.0, 401);
    assert_eq!(call(request("/api/v1/shards", Some(admin))).await.0, 403);
    let (status, shards) = call(request("/api/v1/shards", Some(developer.clone()))).await;
    assert_eq!(status, 200, "{shards}");
    assert_eq!(shards["total"], 1);
    assert_eq!(shards["shards"][0]["state"], "connected");
    assert_eq!(shards["shards"][0]["guilds"], 1);
    assert!(
        !shards["shards"][0]["latency_history"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let (status, lookup) = call(request(
        &format!("/api/v1/shards/guilds/{DEMO_GUILD}"),
        Some(developer.clone()),
    ))
    .await;
    assert_eq!(status, 200, "{lookup}");
    assert_eq!(lookup["shard_id"], 0);
    assert_eq!(lookup["shard"]["process"], h.monitor.process());
    let (status, _) = call(request(
        "/api/v1/shards/guilds/not-a-guild",
        Some(developer),
    ))
    .await;
    assert_eq!(status, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_comes_back_from_faults_and_the_monitor_shows_it() {
    let h = Harness::start(&["hostile"], |_| {}).await;
    h.shard_connected(0).await;
    let sessions = || h.sim.sim().gateway.sessions();
    for fault in [
        json!({"action": "reconnect"}),
        json!({"action": "invalid_session", "resumable": true}),
        json!({"action": "drop"}),
        json!({"action": "close", "code": 4000}),
        json!({"action": "invalid_session", "resumable": false}),
    ] {
        let before = sessions();
        let (_, reached) = h.post("/_sim/faults/gateway", fault.clone()).await;
        assert_eq!(reached["sessions"], 1, "{fault}");
        // The shard reconnects: resumed (one more connection of the same
        // session) or identified anew.
        let reconnected = || {
            let now = sessions();
            now.iter().any(|s| {
                s.connected
                    && (s.session_id != before[0].session_id
                        || s.connections > before[0].connections)
            })
        };
        eventually(
            "the shard reconnected",
            Duration::from_secs(20),
            reconnected,
        )
        .await;
        // Whatever happened, a command sent now is answered exactly once.
        let (status, answer) = h
            .post(
                "/_sim/commands",
                json!({"name": "fine", "timeout_ms": 20000}),
            )
            .await;
        assert_eq!(
            status,
            200,
            "after {fault}: {answer}\nsessions {:?}",
            sessions()
        );
        assert_eq!(content(&answer), "fine", "{fault}");
        assert_eq!(
            h.callbacks(answer["interaction_id"].as_str().unwrap()),
            1,
            "{fault}"
        );
        let after = sessions();
        let resumed = after[0].session_id == before[0].session_id;
        let expect_resume = fault["action"] != "invalid_session" || fault["resumable"] == true;
        assert_eq!(resumed, expect_resume, "{fault}: {before:?} → {after:?}");
    }
    let shard = h.shard_connected(0).await;
    // One way back to `connected` per fault (after the first connection):
    // resuming four times, identifying anew once.
    let back: Vec<&str> = shard
        .transitions
        .iter()
        .skip(1)
        .filter(|t| t.to == "connected")
        .map(|t| t.from.as_str())
        .collect();
    assert!(back.len() >= 5, "{:?}", shard.transitions);
    assert!(back.contains(&"resuming"), "{:?}", shard.transitions);
    assert!(
        back.iter().any(|from| *from != "resuming"),
        "{:?}",
        shard.transitions
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fatal_close_code_stops_the_shard_and_the_monitor_says_so() {
    let h = Harness::start(&["hostile"], |_| {}).await;
    h.shard_connected(0).await;
    let bot = h.discord.as_ref().unwrap().bot.clone();
    let health = baseline_host::health::serve(
        baseline_host::health::HealthState {
            runtime: h.runtime.clone(),
            bot,
        },
        ([127, 0, 0, 1], 0).into(),
    )
    .await
    .unwrap();
    let ready = || async {
        h.http
            .get(format!("http://{health}/readyz"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(ready().await, 200);
    h.post(
        "/_sim/faults/gateway",
        json!({"action": "close", "code": 4004}),
    )
    .await;
    // The monitor says `disconnected` (not a passing reconnect state) and
    // keeps saying it; nobody identifies again; the process is not ready.
    let disconnected = || async {
        let (_, shards) = h.monitor.all().await.unwrap();
        shards
            .iter()
            .any(|s| s.id == 0 && s.state == "disconnected")
    };
    eventually_async("the monitor shows the shard disconnected", disconnected).await;
    tokio::time::sleep(Duration::from_millis(3_000)).await;
    assert!(disconnected().await, "still disconnected 3 s later");
    assert!(
        h.sim.sim().gateway.sessions().is_empty(),
        "no new IDENTIFY after 4004"
    );
    assert_eq!(ready().await, 503);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_select_menu_round_trips_and_files_are_uploaded() {
    let h = Harness::start(&["hostile"], |_| {}).await;
    let offered = h.command(json!({"name": "pick"})).await;
    let reply = &offered["reply"];
    assert_eq!(
        reply["components"][0]["components"][0]["type"], 3,
        "{offered}"
    );
    assert_eq!(reply["attachments"][0]["filename"], "notes.txt");
    assert_eq!(reply["attachments"][0]["size"], 18);
    let (status, picked) = h
        .post(
            "/_sim/components",
            json!({"message_id": reply["id"], "custom_id": "hostile:pick", "values": ["red", "blue"]}),
        )
        .await;
    assert_eq!(status, 200, "{picked}");
    assert!(
        content(&picked).ends_with("Select pick:  values [red,blue]"),
        "{picked}"
    );
}

/// Resident memory of this process, in bytes.
fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap_or(0)
        * 1024
}

/// `count` `/dice roll`s one after another; each one's time to its first
/// response (as the simulator saw it), in microseconds, sorted.
async fn dice_latencies(h: &Harness, count: usize) -> Vec<u64> {
    let mut latencies = Vec::with_capacity(count);
    for _ in 0..count {
        let answer = h.command(json!({"name": "dice roll"})).await;
        assert!(
            rolled(&answer),
            "{answer}\nshares: {:?}",
            h.runtime
                .registry()
                .list()
                .iter()
                .map(|c| (
                    c.name().to_string(),
                    c.share.demoted(),
                    c.share.demotions(),
                    c.share.running()
                ))
                .collect::<Vec<_>>()
        );
        latencies.push(answer["responses"][0]["after_us"].as_u64().unwrap());
        // A user's pace, not a closed loop: the storm goes on meanwhile.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    latencies.sort_unstable();
    latencies
}

/// Whether a `/dice roll` answer shows a roll.
fn rolled(answer: &Value) -> bool {
    answer["reply"]["embeds"][0]["description"]
        .as_str()
        .is_some_and(|d| d.starts_with("1d"))
}

fn p99(sorted: &[u64]) -> u64 {
    sorted[(sorted.len() * 99).div_ceil(100).saturating_sub(1)]
}

/// Memory the storm may add to the process: the in-process cache bound
/// (64 MiB here) plus the instances running at once and the allocator's
/// slack. Documented in docs/security.md and docs/benchmarks.md.
const STORM_MEMORY_BOUND: u64 = 256 << 20;

/// The storm: four hostile cogs — one filling the cache, one filling kv,
/// one spinning to its deadline and one exhausting its host-call budget on
/// every message — while messages flood in and a normal cog answers
/// commands. Nothing crashes, every command is answered, quotas hold,
/// events beyond a cog's queue are shed, and memory stays bounded.
/// With `measure`, also the normal cog's p99 against its quiet p99.
async fn storm(measure: bool) {
    // STORM_COGS (comma-separated) runs a subset, to see which costs what.
    let chosen = std::env::var("STORM_COGS").unwrap_or_default();
    let storm_cogs: Vec<&str> = ["storm-cache", "storm-kv", "storm-spin", "storm-flood"]
        .into_iter()
        .filter(|c| chosen.is_empty() || chosen.split(',').any(|x| x == *c))
        .collect();
    let mut cogs = vec!["reference"];
    cogs.extend(storm_cogs.iter().copied());
    let h = Harness::start(&cogs, |config| {
        config.runtime.memory_cache_mib = 64;
        for cog in ["storm-cache", "storm-kv", "storm-spin", "storm-flood"] {
            config.cogs.entry(cog.into()).or_default().deadline_ms = Some(1_000);
        }
    })
    .await;
    let rounds = std::env::var("STORM_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(if measure { 400 } else { 60 });
    let quiet = dice_latencies(&h, rounds).await;
    let rss_before = rss_bytes();

    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let poster = {
        let stop = stop.clone();
        let http = h.http.clone();
        let url = format!("{}/_sim/messages", h.sim.http_url());
        let pause = Duration::from_millis(if measure { 5 } else { 25 });
        tokio::spawn(async move {
            let mut posted = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let sent = http
                    .post(&url)
                    .json(&json!({"content": format!("storm {posted}"), "user_id": (DEMO_OWNER + 1).to_string()}))
                    .send()
                    .await;
                if sent.is_ok_and(|r| r.status().is_success()) {
                    posted += 1;
                }
                tokio::time::sleep(pause).await;
            }
            posted
        })
    };
    let full = storm_cogs.len() == 4;
    let spin = h
        .runtime
        .registry()
        .get(storm_cogs.first().copied().unwrap_or("reference"))
        .expect("a storm cog");
    eventually("the storm is on", Duration::from_secs(20), || {
        spin.metrics.snapshot().invocations > 0 || spin.share.running() > 0
    })
    .await;
    let mut peak = rss_bytes();
    // The storm's first second: the host finds the hostile cogs (their
    // first calls run on its own workers until their computing adds up) and
    // the storage cogs fill their quotas. Measured apart.
    let started = std::time::Instant::now();
    let mut transient = Vec::new();
    while started.elapsed() < Duration::from_secs(1) {
        transient.extend(dice_latencies(&h, 1).await);
    }
    let worst_transient = transient.iter().copied().max().unwrap_or(0);
    let stormy = {
        let mut latencies = Vec::new();
        for _ in 0..rounds {
            latencies.extend(dice_latencies(&h, 1).await);
            peak = peak.max(rss_bytes());
        }
        if std::env::var_os("STORM_TRACE").is_some() {
            let slow: Vec<(usize, u64)> = latencies
                .iter()
                .copied()
                .enumerate()
                .filter(|(_, us)| *us > 2 * p99(&quiet))
                .collect();
            println!("slow rounds (index, µs): {slow:?}");
        }
        latencies.sort_unstable();
        latencies
    };
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let posted = poster.await.unwrap();
    peak = peak.max(rss_bytes());

    let registry = h.runtime.registry();
    let metrics = |cog: &str| registry.metrics_for(cog).snapshot();
    let report = format!(
        "storm: {posted} messages; /dice p50/p99 quiet {}/{} µs, storm {}/{} µs \
         (first second: {} commands, worst {worst_transient} µs); \
         RSS {} MiB → peak {} MiB; spin: {:?} shed {} demotions {}; flood: {:?}; \
         cache: {:?}; kv: {:?}",
        quiet[quiet.len() / 2],
        p99(&quiet),
        stormy[stormy.len() / 2],
        p99(&stormy),
        transient.len(),
        rss_before >> 20,
        peak >> 20,
        metrics("storm-spin").failures,
        registry
            .get("storm-spin")
            .map_or(0, |c| c.share.shed_events()),
        registry
            .get("storm-spin")
            .map_or(0, |c| c.share.demotions()),
        metrics("storm-flood").failures,
        metrics("storm-cache"),
        metrics("storm-kv"),
    );
    println!("{report}");
    assert!(posted > 0, "{report}");
    if full {
        let spin = registry.get("storm-spin").unwrap();
        assert!(
            metrics("storm-spin")
                .failures
                .get("timeout")
                .copied()
                .unwrap_or(0)
                > 0,
            "{report}"
        );
        assert!(spin.share.demoted(), "{report}");
    }
    // Memory is the whole process's: only the benchmark, which runs alone,
    // can hold the storm to it (in the suite, other tests share the process).
    if measure {
        assert!(
            peak.saturating_sub(rss_before) < STORM_MEMORY_BOUND,
            "memory grew past the bound: {report}"
        );
    }
    let kv = h.runtime.services().kv.usage(None).await.unwrap();
    let quotas = h.runtime.config().quotas;
    for row in &kv {
        assert!(row.usage.bytes <= quotas.kv_bytes, "{row:?}");
    }
    // Every command was answered (dice_latencies checks each answer), and
    // the host still answers now.
    let after = h.command(json!({"name": "dice roll"})).await;
    assert!(rolled(&after), "{after}");
    if measure {
        assert!(
            p99(&stormy) <= 2 * p99(&quiet),
            "the normal cog's p99 more than doubled: {report}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_of_hostile_cogs_leaves_the_host_and_a_normal_cog_standing() {
    let _cores = crate::support::CPU_HEAVY.lock().await;
    storm(false).await;
}

/// The storm as a benchmark (`just bench-storm`, release build): also
/// checks the normal cog's p99 stays within twice its quiet p99.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: run with `just bench-storm`"]
async fn storm_benchmark() {
    storm(true).await;
}
