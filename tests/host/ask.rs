//! The `ask` example cog end to end, as `just run` runs it: `baseline run`
//! with the repository's `baseline.toml`, no provider key (so the LLM
//! simulator answers), commands through the Discord simulator's control
//! API — a streamed, remembered conversation with a tool call,
//! classification, an image, a transcript of an attached voice message —
//! and the calls in the usage summary with their cost, read through the
//! API as the developer team.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

use crate::support::*;

/// `baseline run` in a folder of its own, its output lines collected.
struct Running {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Running {
    fn start(dir: &std::path::Path) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_baseline"))
            .args(["run"])
            .current_dir(dir)
            .env("BASELINE_DATA_DIR", dir.join("data"))
            .env("RUST_LOG", "warn")
            .env("BASELINE_API_ADDR", "127.0.0.1:0")
            .env("BASELINE_SIM_ADDR", "127.0.0.1:0")
            .env("BASELINE_LLM_SIM_ADDR", "127.0.0.1:0")
            .env("BASELINE_HEALTH_ADDR", "127.0.0.1:0")
            .env_remove("DISCORD_TOKEN")
            .env_remove("DATABASE_URL")
            .env_remove("REDIS_URL")
            .env_remove("OPENAI_API_KEY")
            .env_remove("ANTHROPIC_API_KEY")
            .env_remove("GEMINI_API_KEY")
            .env_remove("XAI_API_KEY")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (sender, lines) = std::sync::mpsc::channel();
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let sender = sender.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    let _ = sender.send(line);
                }
            });
        }
        Running {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Wait (up to a minute) for a line containing `what`; that line.
    fn wait_for(&mut self, what: &str) -> String {
        let started = Instant::now();
        loop {
            if let Some(line) = self.seen.iter().find(|l| l.contains(what)) {
                return line.clone();
            }
            let remaining = Duration::from_secs(60).saturating_sub(started.elapsed());
            match self.lines.recv_timeout(remaining) {
                Ok(line) => self.seen.push(line),
                Err(_) => panic!("no `{what}` in:\n{}", self.seen.join("\n")),
            }
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `http://HOST:PORT` at the start of what follows `prefix` in `line`.
fn origin_after(line: &str, prefix: &str) -> String {
    let rest = &line[line.find(prefix).unwrap() + prefix.len()..];
    let host: String = rest["http://".len()..]
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != '/')
        .collect();
    format!("http://{host}")
}

/// GET `url` (with `cookie`, if any) and read the JSON answer.
async fn get_json(http: &reqwest::Client, url: String, cookie: &str) -> Value {
    let mut request = http.get(url);
    if !cookie.is_empty() {
        request = request.header("cookie", cookie);
    }
    request.send().await.unwrap().json().await.unwrap()
}

/// POST `body` to `url`.
async fn post(http: &reqwest::Client, url: String, body: Value) {
    http.post(url).json(&body).send().await.unwrap();
}

/// Run a command as ada in #general; wait until its reply holds `done`.
async fn run(
    http: &reqwest::Client,
    discord: &str,
    name: &str,
    options: Value,
    done: &str,
) -> Value {
    let started = Instant::now();
    let answer = loop {
        let response = http
            .post(format!("{discord}/_sim/commands"))
            .json(&json!({"name": name, "options": options, "timeout_ms": 30_000}))
            .send()
            .await
            .unwrap();
        // 404 until the bot has registered its commands.
        if response.status() != 404 || started.elapsed() > Duration::from_secs(30) {
            break response.json::<Value>().await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let id = answer["interaction_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    loop {
        let seen = get_json(http, format!("{discord}/_sim/interactions/{id}"), "").await;
        if seen.to_string().contains(done) {
            return seen;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "/{name} never said `{done}`: {seen}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Sign in through the simulator's consent page as `user`: the cookies.
async fn sign_in(api: &str, user: u64) -> String {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut cookies: HashMap<String, String> = HashMap::new();
    let mut url = format!("{api}/api/v1/auth/login?as_user={user}");
    for _ in 0..5 {
        let jar: Vec<String> = cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let response = http
            .get(&url)
            .header("cookie", jar.join("; "))
            .send()
            .await
            .unwrap();
        for set in response.headers().get_all("set-cookie") {
            let pair = set.to_str().unwrap().split(';').next().unwrap();
            if let Some((name, value)) = pair.split_once('=') {
                cookies.insert(name.into(), value.into());
            }
        }
        match response.headers().get("location") {
            Some(next) => {
                let next = next.to_str().unwrap();
                if next == "/" {
                    break;
                }
                url = if next.starts_with('/') {
                    format!("{api}{next}")
                } else {
                    next.to_string()
                };
            }
            None => break,
        }
    }
    let session = cookies
        .get("baseline_session")
        .expect("signed in: a session cookie");
    format!("baseline_session={session}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ask_cog_answers_in_baseline_run_with_no_key_and_its_calls_are_in_the_summary() {
    let dir = tempfile::tempdir().unwrap();
    let cogs = dir.path().join("cogs");
    std::fs::create_dir(&cogs).unwrap();
    install("ask", &cogs, "ask.wasm");
    // The repository's own configuration, as `just run` reads it.
    std::fs::copy(
        workspace().join("baseline.toml"),
        dir.path().join("baseline.toml"),
    )
    .unwrap();
    let mut host = Running::start(dir.path());
    host.wait_for("Press Ctrl-C");
    let llm = origin_after(
        &host.wait_for("LLM: the built-in simulator on "),
        "simulator on ",
    );
    let api = origin_after(&host.wait_for("API on "), "API on ");
    let discord = host
        .wait_for("/_sim/commands")
        .split_whitespace()
        .find(|w| w.starts_with("http://") && w.contains("/_sim/commands"))
        .map(|w| w.trim_end_matches("/_sim/commands").to_string())
        .expect("the simulator's control URL is printed");
    assert!(
        host.seen.iter().any(|l| l.contains("ask 0.1.0 — /ask")),
        "{:?}",
        host.seen
    );
    let http = reqwest::Client::new();
    // A slow model: the answer arrives over about two seconds, so the reply
    // is edited as it streams.
    post(&http, format!("{llm}/_sim/pace"), json!({"chunk_ms": 120})).await;

    let first = run(
        &http,
        &discord,
        "ask",
        json!({"question": "What is a d20?"}),
        "· $0.",
    )
    .await;
    let reply = first["reply"]["content"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        reply.contains("What is a d20?") && reply.contains("gpt-6-luna · $0.0000"),
        "{first}"
    );
    let edits = first["responses"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["kind"] == "edit-original")
        .count();
    assert!(
        edits >= 2,
        "streamed by edits, the last with the footer: {first}"
    );
    post(&http, format!("{llm}/_sim/pace"), json!({"chunk_ms": 0})).await;
    // Remembered: the second question carries the first turn along.
    let requests_before = get_json(&http, format!("{llm}/_sim/requests"), "").await;
    let tool = run(
        &http,
        &discord,
        "ask",
        json!({"question": "Please roll dice for me"}),
        "· $0.",
    )
    .await;
    assert!(
        tool["reply"]["content"]
            .as_str()
            .unwrap_or_default()
            .contains("The tool answered"),
        "the model called the dice tool and got its result: {tool}"
    );
    let requests = get_json(&http, format!("{llm}/_sim/requests"), "").await;
    let asked = &requests.as_array().unwrap()[requests_before.as_array().unwrap().len()]["body"];
    assert!(
        asked.to_string().contains("What is a d20?"),
        "memory in kv: {asked}"
    );

    let classified = run(
        &http,
        &discord,
        "classify",
        json!({"text": "I love this server"}),
        "Sentiment",
    )
    .await;
    let fields = classified["reply"]["embeds"][0]["fields"].to_string();
    assert!(
        fields.contains("positive") || fields.contains("neutral") || fields.contains("negative"),
        "{classified}"
    );

    let imagined = run(
        &http,
        &discord,
        "imagine",
        json!({"prompt": "a red die", "quality": "low"}),
        "gpt-image-2",
    )
    .await;
    assert_eq!(
        imagined["reply"]["attachments"][0]["filename"], "imagined.png",
        "{imagined}"
    );

    let voice = base64::engine::general_purpose::STANDARD.encode(vec![0u8; 48_000]);
    let heard = run(
        &http,
        &discord,
        "transcribe",
        json!({"file": {"filename": "voice-message.ogg", "content_type": "audio/ogg", "data_base64": voice}}),
        "whisper-1",
    )
    .await;
    let content = heard["reply"]["content"].as_str().unwrap_or_default();
    assert!(
        content.contains("voice-message.ogg (48000 bytes)") && content.contains("$0.000300"),
        "3 s of whisper at $0.006/min: {heard}"
    );

    // Every call is in the usage summary, with its cost, for the developer team.
    let cookie = sign_in(&api, baseline_discord_sim::world::DEMO_OWNER).await;
    let summary = get_json(
        &http,
        format!("{api}/api/v1/llm/usage/summary?group=cog"),
        &cookie,
    )
    .await;
    let ask = summary["groups"]
        .as_array()
        .and_then(|groups| groups.iter().find(|g| g["key"] == "ask"))
        .unwrap_or_else(|| panic!("{summary}"));
    assert!(ask["totals"]["calls"].as_u64().unwrap() >= 6, "{summary}");
    assert!(
        ask["totals"]["images"] == 1 && ask["totals"]["audio_ms"] == 3_000,
        "{summary}"
    );
    assert!(
        ask["totals"]["cost_micros"].as_u64().unwrap() > 300,
        "{summary}"
    );
    assert_eq!(ask["totals"]["errors"], 0, "{summary}");
}
