use baseline_host::llm::gateway::{BREAKER_FAILURES, Gateway, Route};
use baseline_host::llm::model::LlmError;

use baseline_llm_sim::LlmSimulator;
use serde_json::{Value, json};

use super::ask;

async fn setup(key: &str) -> (LlmSimulator, Gateway) {
    let sim = super::sim().await;
    let gateway = super::sim_gateway(&sim, key, 3);
    (sim, gateway)
}

fn chain() -> Vec<Route> {
    vec![
        Route {
            provider: "openai".into(),
            model: "gpt-6-luna".into(),
        },
        Route {
            provider: "anthropic".into(),
            model: "claude-haiku-5-5".into(),
        },
    ]
}

async fn fault(sim: &LlmSimulator, body: Value) {
    reqwest::Client::new()
        .post(format!("{}/_sim/faults", sim.control_url()))
        .json(&body)
        .send()
        .await
        .unwrap();
}

async fn calls_to(sim: &LlmSimulator, provider: &str) -> usize {
    let log: Value = reqwest::get(format!("{}/_sim/requests", sim.control_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    log.as_array()
        .unwrap()
        .iter()
        .filter(|e| e["provider"] == provider)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_429_is_waited_out_a_long_one_falls_back() {
    let (sim, gateway) = setup("k").await;
    fault(
        &sim,
        json!({"provider": "openai", "kind": "rate-limit", "retry_after_s": 0}),
    )
    .await;
    let (_, served) = gateway.chat(&chain(), &ask("", "hello")).await.unwrap();
    assert_eq!(
        (served.provider.as_str(), served.attempts, served.fallback),
        ("openai", 2, false)
    );
    fault(
        &sim,
        json!({"provider": "openai", "kind": "rate-limit", "retry_after_s": 3600}),
    )
    .await;
    let (answer, served) = gateway.chat(&chain(), &ask("", "hello")).await.unwrap();
    assert_eq!(
        (served.provider.as_str(), served.model.as_str()),
        ("anthropic", "claude-haiku-5-5")
    );
    assert!(served.fallback && served.attempts == 2);
    assert!(answer.text.contains("hello"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_retried_then_fall_back_and_open_the_circuit() {
    let (sim, gateway) = setup("k").await;
    fault(
        &sim,
        json!({"provider": "openai", "kind": "server-error", "count": 100}),
    )
    .await;
    let (_, served) = gateway.chat(&chain(), &ask("", "hello")).await.unwrap();
    assert_eq!(
        (served.provider.as_str(), served.attempts),
        ("anthropic", 4),
        "three tries, then the next route"
    );
    // Two more failing calls reach five failures in a row: the circuit
    // opens and openai is not called at all.
    gateway.chat(&chain(), &ask("", "hello")).await.unwrap();
    assert_eq!(calls_to(&sim, "openai").await, 6);
    assert!(!gateway.closed("openai"));
    let (_, served) = gateway.chat(&chain(), &ask("", "hello")).await.unwrap();
    assert_eq!(
        (served.provider.as_str(), served.attempts),
        ("anthropic", 1)
    );
    assert_eq!(
        calls_to(&sim, "openai").await,
        6,
        "an open circuit is not called"
    );
    // The counts above assume five failures open a circuit.
    const { assert!(BREAKER_FAILURES == 5) };
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_key_falls_back_and_a_bad_request_does_not() {
    let (sim, gateway) = setup("bad-key").await;
    let (_, served) = gateway.chat(&chain(), &ask("", "hello")).await.unwrap();
    assert_eq!(
        (served.provider.as_str(), served.attempts),
        ("anthropic", 2),
        "no retry of a refused key"
    );
    let unknown = vec![
        Route {
            provider: "anthropic".into(),
            model: "no-such-model".into(),
        },
        chain()[1].clone(),
    ];
    let refused = gateway.chat(&unknown, &ask("", "hello")).await;
    assert!(matches!(refused, Err(LlmError::Invalid(_))), "{refused:?}");
    assert_eq!(
        calls_to(&sim, "anthropic").await,
        2,
        "an invalid request is not sent elsewhere"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_falls_back_before_it_opens_never_after() {
    let (sim, gateway) = setup("k").await;
    fault(
        &sim,
        json!({"provider": "openai", "kind": "rate-limit", "retry_after_s": 3600}),
    )
    .await;
    let (mut stream, served) = gateway
        .stream(&chain(), &ask("", "tell me a story"))
        .await
        .unwrap();
    assert!(served.fallback);
    while let Ok(Some(_)) = stream.next_text().await {}
    stream.finish().unwrap();
    // Cut after part of the answer: reported, not retried anywhere.
    fault(
        &sim,
        json!({"provider": "openai", "kind": "cut-stream", "after_chunks": 4}),
    )
    .await;
    let before = calls_to(&sim, "anthropic").await;
    let (mut stream, served) = gateway
        .stream(&chain(), &ask("", "tell me a story"))
        .await
        .unwrap();
    assert_eq!(served.provider, "openai");
    while let Ok(Some(_)) = stream.next_text().await {}
    assert!(stream.started());
    assert!(matches!(stream.finish(), Err(LlmError::StreamCut { .. })));
    assert_eq!(calls_to(&sim, "anthropic").await, before);
}
