//! One cog in three languages — `cogs/tally` (Rust), `cogs/tally-py`
//! (Python, componentize-py) and `cogs/tally-js` (JavaScript,
//! componentize-js) — and one set of behaviour tests run against each
//! through the Discord simulator: a command with options, a button round
//! trip, kv, settings, guild isolation, a stale button and bad input. What
//! a cog author gets from the helper modules is what the Rust SDK gives.

use std::path::PathBuf;

use baseline_discord_sim::world::{DEMO_CHANNEL, DEMO_GUILD};
use serde_json::{Value, json};

use super::{Harness, content};
use crate::support::{CPU_HEAVY, guest, js_cog, python_cog};

/// Click the first button of `answer`'s message; the answer to the click.
async fn click(h: &Harness, answer: &Value) -> Value {
    let button = &answer["reply"]["components"][0]["components"][0];
    let (status, clicked) = h
        .post(
            "/_sim/components",
            json!({"message_id": answer["reply"]["id"], "custom_id": button["custom_id"]}),
        )
        .await;
    assert_eq!(status, 200, "{clicked}");
    clicked
}

fn button(answer: &Value) -> (&str, &str) {
    let button = &answer["reply"]["components"][0]["components"][0];
    (
        button["custom_id"].as_str().unwrap_or_default(),
        button["label"].as_str().unwrap_or_default(),
    )
}

/// The behaviour every twin shares: `file` loaded as the cog `name`, whose
/// command is `/command`.
async fn behaves_as_a_tally(file: PathBuf, name: &str, command: &str) {
    let h = Harness::start_files(&[(file, format!("{name}.wasm"))], |_| {}).await;
    let run = |options: Value| {
        let h = &h;
        async move {
            h.command(json!({"name": command, "options": options}))
                .await
        }
    };

    // A command with options: kv keeps the total; the button carries the
    // step in its custom id, namespaced by the host.
    let first = run(json!({"amount": 5, "note": "first"})).await;
    assert_eq!(content(&first), "Tally: 5 (+5 — first)", "{first}");
    assert_eq!(button(&first), (&*format!("{name}:add:1"), "+1"));

    // The button round trip updates the message in place.
    let clicked = click(&h, &first).await;
    assert_eq!(clicked["callback_type"], 7, "{clicked}");
    assert_eq!(content(&clicked), "Tally: 6 (+1)", "{clicked}");

    // Settings: the admin's title and step apply to the next answer.
    h.runtime
        .services()
        .settings
        .put(name, DEMO_GUILD, json!({"title": "Score", "step": 3}), None)
        .await
        .unwrap();
    let second = run(json!({"amount": 2})).await;
    assert_eq!(content(&second), "Score: 8 (+2)", "{second}");
    assert_eq!(button(&second), (&*format!("{name}:add:3"), "+3"));
    let clicked = click(&h, &second).await;
    assert_eq!(content(&clicked), "Score: 11 (+3)", "{clicked}");

    // Another guild has its own total and its own (default) settings.
    let (_, other) = h.post("/_sim/guilds", json!({"name": "Elsewhere"})).await;
    let elsewhere = h
        .command(json!({
            "name": command,
            "options": {"amount": 1},
            "guild_id": other["guild_id"],
            "channel_id": other["channel_id"],
        }))
        .await;
    assert_eq!(content(&elsewhere), "Tally: 1 (+1)", "{elsewhere}");

    // A button the cog no longer knows (on a message an older version of
    // it posted), and an amount it refuses: the user reads why, privately.
    let (status, old) = h
        .as_bot(
            reqwest::Method::POST,
            &format!("/channels/{DEMO_CHANNEL}/messages"),
            Some(
                json!({"content": "old", "components": [{"type": 1, "components": [
                    {"type": 2, "style": 1, "label": "old", "custom_id": format!("{name}:gone")}
                ]}]}),
            ),
        )
        .await;
    assert_eq!(status, 200, "{old}");
    let (status, stale) = h
        .post(
            "/_sim/components",
            json!({"message_id": old["id"], "custom_id": format!("{name}:gone")}),
        )
        .await;
    assert_eq!(status, 200, "{stale}");
    assert_eq!(content(&stale), "That button is no longer supported.");
    assert_eq!(stale["reply"]["flags"], 64, "{stale}");
    let refused = run(json!({"amount": 0})).await;
    assert_eq!(
        content(&refused),
        "The amount must be 1 to 1000.",
        "{refused}"
    );
    assert_eq!(refused["reply"]["flags"], 64, "{refused}");

    // Nothing failed on the host's side.
    let metrics = h.runtime.registry().metrics_for(name).snapshot();
    assert!(metrics.failures.is_empty(), "{:?}", metrics.failures);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rust_tally_behaves() {
    behaves_as_a_tally(guest("tally"), "tally", "tally").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_tally_behaves() {
    let file = {
        let _heavy = CPU_HEAVY.lock().await;
        python_cog("cogs/tally-py", "tally-py.wasm")
    };
    behaves_as_a_tally(file, "tally-py", "pytally").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_javascript_tally_behaves() {
    let file = {
        let _heavy = CPU_HEAVY.lock().await;
        js_cog("cogs/tally-js", "tally-js.wasm")
    };
    behaves_as_a_tally(file, "tally-js", "jstally").await;
}
