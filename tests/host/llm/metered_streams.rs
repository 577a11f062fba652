use std::sync::Arc;

use baseline_host::llm::model::LlmError;
use baseline_host::llm::pricing::{cost_micros, seeded};
use baseline_host::store::llm::{Budget, Period};
use serde_json::json;

use super::metered::{ask, caller, setup};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_are_charged_like_chats_and_a_cut_one_at_an_estimate() {
    let dir = tempfile::tempdir().unwrap();
    let (sim, service, store) = setup(&dir).await;
    let service = Arc::new(service);
    let now = baseline_host::store::now_millis();
    let (whole, _) = service
        .chat(&caller(42), ask("tell me a story"), None)
        .await
        .unwrap();
    let mut stream = service
        .stream(&caller(42), ask("tell me a story"))
        .await
        .unwrap();
    let mut text = String::new();
    while let Some(piece) = stream.next_text().await.unwrap() {
        text.push_str(&piece);
    }
    let (answer, charged) = stream.finish().await.unwrap();
    assert_eq!(text, whole.text);
    assert_eq!(
        charged.cost_micros,
        cost_micros(&answer.usage, &seeded("openai", "gpt-6-luna").unwrap())
    );
    let rows = store.recent(42, 10).await.unwrap();
    assert_eq!(
        (rows[0].operation.as_str(), rows[0].outcome.as_str()),
        ("stream", "ok")
    );
    assert_eq!(
        rows[0].cost_micros, rows[1].cost_micros,
        "a stream costs what the whole answer costs"
    );
    // Cut after part of the answer: reported, still charged (at an
    // estimate), the reservation released.
    reqwest::Client::new()
        .post(format!("{}/_sim/faults", sim.control_url()))
        .json(&json!({"provider": "openai", "kind": "cut-stream", "after_chunks": 5}))
        .send()
        .await
        .unwrap();
    let mut stream = service
        .stream(&caller(42), ask("tell me a story"))
        .await
        .unwrap();
    while let Ok(Some(_)) = stream.next_text().await {}
    assert!(matches!(
        stream.finish().await,
        Err(LlmError::StreamCut { .. })
    ));
    let rows = store.recent(42, 10).await.unwrap();
    assert_eq!(rows[0].outcome, "stream-cut");
    assert!(rows[0].cost_micros > 0 && rows[0].output_tokens > 0);
    // A stream dropped unread is settled too.
    let dropped = service
        .stream(&caller(42), ask("tell me a story"))
        .await
        .unwrap();
    drop(dropped);
    let waiting = std::time::Instant::now();
    while store.recent(42, 10).await.unwrap().len() < 4 {
        assert!(
            waiting.elapsed() < std::time::Duration::from_secs(5),
            "the dropped stream was never settled"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(store.recent(42, 1).await.unwrap()[0].outcome, "dropped");
    assert_eq!(
        store.spend(42, None, Period::Daily, now).await.unwrap().1,
        0,
        "nothing stays reserved"
    );
    // Budgets hold for streams: refused before anything opens.
    let spent = store.spend(42, None, Period::Daily, now).await.unwrap().0;
    store
        .set_budget(&Budget {
            guild_id: 42,
            cog: None,
            period: Period::Daily,
            limit_micros: spent + 1,
        })
        .await
        .unwrap();
    assert!(matches!(
        service.stream(&caller(42), ask("again")).await,
        Err(LlmError::BudgetExceeded(_))
    ));
}
