//! The `llm` capability through a real cog (`tests/cogs/asker`): each path
//! of the WIT interface, what a cog may not do, budgets and grants.

use std::sync::Arc;

use baseline_host::capabilities::Services;
use baseline_host::config::CogConfig;
use baseline_host::runtime::{Answer, Call, Runtime};
use baseline_host::store::Database;
use baseline_host::store::llm::{Budget, LlmStore, Period};
use baseline_host::wit::types::{CogError, CommandResponse, OptionEntry, OptionValue};

use crate::support::*;

async fn ask(
    runtime: &Arc<Runtime>,
    guild: u64,
    op: &str,
    question: &str,
    model: Option<&str>,
) -> String {
    let cog = runtime.registry().get("asker").unwrap();
    let text = |name: &str, value: &str| OptionEntry {
        name: name.into(),
        value: OptionValue::Text(value.into()),
    };
    let mut options = vec![text("op", op), text("question", question)];
    if let Some(model) = model {
        options.push(text("model", model));
    }
    let invocation = command("ask", None, options, guild, USER);
    let answer = runtime
        .invoke(&cog, scope("asker", &invocation), Call::Command(invocation))
        .await
        .unwrap();
    match answer {
        Answer::Command(Ok(CommandResponse::Reply(reply))) => {
            reply.message.content.clone().unwrap_or_default()
        }
        Answer::Command(Err(CogError::User(message))) => format!("refused: {message}"),
        other => format!("{other:?}"),
    }
}

/// A runtime with the asker granted `llm` (and `models` beyond the
/// defaults), over the metered simulator service.
async fn granted(
    data: &tempfile::TempDir,
    cogs: &tempfile::TempDir,
    models: &[&str],
) -> (Arc<Runtime>, LlmStore, baseline_llm_sim::LlmSimulator) {
    let (sim, service, store) = super::metered::setup(data).await;
    let db = Database::connect(&Database::sqlite_url(data.path()))
        .await
        .unwrap();
    install("asker", cogs.path(), "asker.wasm");
    let mut config = config(cogs.path());
    config.cogs.insert(
        "asker".into(),
        CogConfig {
            grant: vec!["llm".into()],
            llm_models: models.iter().map(|m| m.to_string()).collect(),
            ..CogConfig::default()
        },
    );
    let service = service.with_answer_cache(Arc::new(baseline_host::cache::InProcessCache::new(
        16 << 20,
    )));
    let services = Services::with_database(db).with_llm(Arc::new(service));
    let runtime = Runtime::new(config, services).unwrap();
    runtime.load_dir().await;
    (runtime, store, sim)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_granted_cog_asks_is_charged_and_stopped_by_the_budget() {
    let (data, cogs) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (runtime, store, _sim) = granted(&data, &cogs, &[]).await;

    let answer = ask(&runtime, GUILD, "chat", "what is a d20?", None).await;
    assert!(
        answer.contains("what is a d20?") && answer.contains("[openai/gpt-6-luna"),
        "{answer}"
    );
    let rows = store.recent(GUILD, 10).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].cog.as_str(), rows[0].user_id),
        ("asker", Some(USER))
    );
    assert!(
        answer.contains(&format!("{} µ$", rows[0].cost_micros)),
        "{answer}"
    );

    // The cog's own budget, spent: the next question is refused in words,
    // and no provider is called — whatever the path.
    store
        .set_budget(&Budget {
            guild_id: GUILD,
            cog: Some("asker".into()),
            period: Period::Monthly,
            limit_micros: rows[0].cost_micros,
        })
        .await
        .unwrap();
    for op in ["chat", "stream", "json", "tool", "image", "transcribe"] {
        let refused = ask(&runtime, GUILD, op, "again?", None).await;
        assert!(
            refused.contains("BudgetExceeded") && refused.contains("cog `asker`'s monthly budget"),
            "{op}: {refused}"
        );
    }
    let rows = store.recent(GUILD, 10).await.unwrap();
    assert_eq!(rows.len(), 1, "no call was made");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_path_of_the_interface_works_and_bad_requests_are_refused() {
    let (data, cogs) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (runtime, store, _sim) = granted(&data, &cogs, &["claude-haiku-5-5"]).await;

    // Structured output: JSON fitting the schema.
    let json = ask(&runtime, GUILD, "json", "how is the sea?", None).await;
    let parsed: serde_json::Value =
        serde_json::from_str(json.split(" [").next().unwrap()).unwrap_or_default();
    assert!(
        ["calm", "stormy"].contains(&parsed["mood"].as_str().unwrap_or(""))
            && parsed["score"].is_i64(),
        "{json}"
    );
    // The cog's tool loop: the model calls the tool, the result goes back.
    let tool = ask(&runtime, GUILD, "tool", "please roll dice", None).await;
    assert!(
        tool.starts_with("roll_dice({\"sides\":2})") && tool.contains("The tool answered: 4"),
        "{tool}"
    );
    // A stream read piece by piece costs what the whole answer costs.
    let chat = ask(&runtime, GUILD, "chat", "tell me a story", None).await;
    let stream = ask(&runtime, GUILD, "stream", "tell me a story", None).await;
    let (pieces, streamed) = stream.split_once(" pieces: ").unwrap();
    assert!(pieces.parse::<u32>().unwrap() > 1, "{stream}");
    assert_eq!(streamed, chat, "the same answer and the same price");
    // An image and a transcript, at the default models.
    let image = ask(&runtime, GUILD, "image", "a red die", None).await;
    assert!(
        image.starts_with("image/png ") && image.contains("[openai/gpt-image-2"),
        "{image}"
    );
    let heard = ask(&runtime, GUILD, "transcribe", "", None).await;
    assert!(
        heard.contains("silence.wav") && heard.contains("[openai/whisper-1 200 µ$]"),
        "2 s of whisper at $0.006/min: {heard}"
    );
    let counted = ask(&runtime, GUILD, "count", "count these words", None).await;
    assert!(counted.ends_with(" tokens"), "{counted}");
    // The answer cache: the second identical request is free.
    let first = ask(&runtime, GUILD, "cached", "cache me", None).await;
    let second = ask(&runtime, GUILD, "cached", "cache me", None).await;
    assert!(
        !first.ends_with("cached") && second.ends_with("0 µ$] cached"),
        "{first} / {second}"
    );
    // A model the operator listed, and one it did not.
    let listed = ask(&runtime, GUILD, "chat", "hi", Some("claude-haiku-5-5")).await;
    assert!(listed.contains("[anthropic/claude-haiku-5-5"), "{listed}");
    let unlisted = ask(&runtime, GUILD, "chat", "hi", Some("claude-fable-5-1")).await;
    assert!(
        unlisted.contains("Denied") && unlisted.contains("llm_models"),
        "{unlisted}"
    );
    // What a cog sends is checked before any provider sees it.
    let before = store.recent(GUILD, 100).await.unwrap().len();
    let bad_tool = ask(&runtime, GUILD, "bad-tool", "hi", None).await;
    assert!(
        bad_tool.contains("Invalid") && bad_tool.contains("tool name"),
        "{bad_tool}"
    );
    let bad_schema = ask(&runtime, GUILD, "bad-schema", "hi", None).await;
    assert!(
        bad_schema.contains("Invalid") && bad_schema.contains("not a JSON Schema"),
        "{bad_schema}"
    );
    let huge = ask(&runtime, GUILD, "huge", "hi", None).await;
    assert!(
        huge.contains("Invalid") && huge.contains("at most"),
        "{huge}"
    );
    assert_eq!(store.recent(GUILD, 100).await.unwrap().len(), before);
    // At most four streams at once; the fifth is refused.
    let streams = ask(&runtime, GUILD, "streams", "hi", None).await;
    assert!(
        streams.starts_with("stream 5: refused") && streams.contains("at most 4"),
        "{streams}"
    );
    // A stream left open ends with the call: settled (as dropped), nothing
    // stays reserved.
    ask(&runtime, GUILD, "leak", "hi", None).await;
    let started = std::time::Instant::now();
    loop {
        let rows = store.recent(GUILD, 20).await.unwrap();
        // Four from `streams`, one from `leak`.
        if rows.iter().filter(|r| r.outcome == "dropped").count() >= 5 {
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "the streams left open were never settled"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let now = baseline_host::store::now_millis();
    for period in [Period::Daily, Period::Monthly] {
        assert_eq!(store.spend(GUILD, None, period, now).await.unwrap().1, 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_cut_off_by_the_deadline_settles_its_reservation() {
    let (data, cogs) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (runtime, store, sim) = granted(&data, &cogs, &[]).await;
    store
        .set_budget(&Budget {
            guild_id: GUILD,
            cog: None,
            period: Period::Daily,
            limit_micros: 1_000_000,
        })
        .await
        .unwrap();
    // The provider takes five seconds; the cog's deadline is two.
    reqwest::Client::new()
        .post(format!("{}/_sim/faults", sim.control_url()))
        .json(&serde_json::json!({"provider": "openai", "kind": "slow", "delay_ms": 5_000}))
        .send()
        .await
        .unwrap();
    let cog = runtime.registry().get("asker").unwrap();
    let options = vec![
        OptionEntry {
            name: "op".into(),
            value: OptionValue::Text("chat".into()),
        },
        OptionEntry {
            name: "question".into(),
            value: OptionValue::Text("slow?".into()),
        },
    ];
    let invocation = command("ask", None, options, GUILD, USER);
    let failed = runtime
        .invoke(&cog, scope("asker", &invocation), Call::Command(invocation))
        .await;
    // The cog hears of it in time to answer (not stopped by the runtime).
    let said = format!("{failed:?}");
    assert!(
        matches!(failed, Ok(Answer::Command(Ok(_))))
            && said.contains("Unavailable")
            && said.contains("deadline"),
        "{said}"
    );
    // Cancelled mid-call: the reservation is released and the call is on
    // the books at its worst case, not left held or forgotten.
    let now = baseline_host::store::now_millis();
    let started = std::time::Instant::now();
    let row = loop {
        if let Some(row) = store.recent(GUILD, 5).await.unwrap().into_iter().next() {
            break row;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "the cancelled call was never recorded"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert_eq!(row.outcome, "cancelled");
    assert!(row.cost_micros > 0);
    let (spent, held) = store.spend(GUILD, None, Period::Daily, now).await.unwrap();
    assert_eq!((spent, held), (row.cost_micros, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_grant_the_cog_is_denied() {
    let cogs = tempfile::tempdir().unwrap();
    install("asker", cogs.path(), "asker.wasm");
    let runtime = runtime(config(cogs.path()));
    runtime.load_dir().await;
    for op in ["chat", "stream", "image", "transcribe", "count"] {
        let answer = ask(&runtime, GUILD, op, "hello", None).await;
        assert!(answer.contains("Denied"), "{op}: {answer}");
    }
}
