//! The `ask` example cog end to end, as `just run` runs it: `baseline run`
//! with the repository's `baseline.toml`, no provider key (so the LLM
//! simulator answers), commands through the Discord simulator's control
//! API — a streamed, remembered conversation with a tool call,
//! classification, an image, a transcript of an attached voice message —
//! and the calls in the usage summary with their cost, read through the
//! API as the developer team.

use std::collections::HashMap;

use base64::Engine as _;
use serde_json::json;

use crate::support::*;

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
    let discord = host.simulator();
    assert!(
        host.seen.iter().any(|l| l.contains("ask 0.1.0 — /ask")),
        "{:?}",
        host.seen
    );
    let http = reqwest::Client::new();
    // A slow model: the answer arrives over about two seconds, so the reply
    // is edited as it streams.
    post(&http, format!("{llm}/_sim/pace"), json!({"chunk_ms": 120})).await;

    let first = run_command(
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
    let tool = run_command(
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

    let classified = run_command(
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

    let imagined = run_command(
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
    let heard = run_command(
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
