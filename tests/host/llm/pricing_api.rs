use std::sync::Arc;

use axum::http::StatusCode;
use baseline_host::llm::pricing::{Price, cost_micros};
use serde_json::{Value, json};

use super::metered::{ask, caller, setup};
use super::{send, session};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn developers_read_and_set_prices_and_calls_use_them() {
    let dir = tempfile::tempdir().unwrap();
    let (_sim, service, _store) = setup(&dir).await;
    let service = Arc::new(service);
    let (runtime, _cogs) = super::api_runtime(&dir, service.clone()).await;
    let (developer, admin) = (
        session(&runtime, true, &[]).await,
        session(&runtime, false, &[]).await,
    );
    let send = |method: &'static str, uri: &'static str, token: &str, body: Option<Value>| {
        send(&runtime, method, uri.to_string(), token.to_string(), body)
    };
    let (status, models) = send("GET", "/api/v1/llm/models", &developer, None).await;
    assert_eq!(status, StatusCode::OK, "{models}");
    let luna = models
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["model"] == "gpt-6-luna")
        .unwrap()
        .clone();
    assert_eq!(
        (luna["input"].as_u64(), luna["routed"].as_bool()),
        (Some(100_000), Some(true))
    );
    assert_eq!(
        send("GET", "/api/v1/llm/models", &admin, None).await.0,
        StatusCode::FORBIDDEN
    );
    // Ten times dearer from now on.
    let dear = json!({"input": 1_000_000, "output": 5_000_000, "cache_read": 100_000,
        "cache_write_5m": 1_250_000, "cache_write_1h": 1_250_000, "effective_from": "2026-11-30"});
    let uri = "/api/v1/llm/models/openai/gpt-6-luna/pricing";
    assert_eq!(
        send("PUT", uri, &admin, Some(dear.clone())).await.0,
        StatusCode::FORBIDDEN
    );
    let (status, set) = send("PUT", uri, &developer, Some(dear.clone())).await;
    assert_eq!(status, StatusCode::OK, "{set}");
    assert_eq!(set["routed"], true);
    let (answer, charged) = service.chat(&caller(42), ask("hello"), None).await.unwrap();
    let price = Price {
        input: 1_000_000,
        cache_read: 100_000,
        cache_write_5m: 1_250_000,
        cache_write_1h: 1_250_000,
        output: 5_000_000,
        image: 0,
        audio_minute: 0,
    };
    assert_eq!(charged.cost_micros, cost_micros(&answer.usage, &price));
    // Bad input is refused.
    let (status, _) = send(
        "PUT",
        "/api/v1/llm/models/acme/x/pricing",
        &developer,
        Some(dear.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let mut undated = dear.clone();
    undated["effective_from"] = json!("soon");
    let (status, why) = send("PUT", uri, &developer, Some(undated)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(why.to_string().contains("effective_from"), "{why}");
    let mut absurd = dear;
    absurd["input"] = json!(u64::MAX);
    assert_eq!(
        send("PUT", uri, &developer, Some(absurd)).await.0,
        StatusCode::BAD_REQUEST
    );
}
