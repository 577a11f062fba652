//! The LLM gateway (issue 12) against the LLM simulator. Here: each
//! provider on its wire format — text, tools, structured output, usage
//! read the provider's way and priced to the micro-dollar, errors typed.
//! Beside: retries and fallback (`gateway`), budgets on both back ends,
//! metered calls and streams, images, transcription and counts (`media`),
//! the response cache, the `llm` capability, the pricing and usage APIs.

use std::time::Duration;

use baseline_host::llm::client::{Provider, chat};
use baseline_host::llm::model::{
    ChatRequest, Finish, LlmError, Message, Part, Role, ToolChoice, ToolSpec, Usage,
};
use baseline_host::llm::pricing::{cost_micros, seeded};
use baseline_host::llm::providers::Kind;
use baseline_llm_sim::{LlmSimulator, Provider as SimProvider};
use serde_json::{Value, json};

mod answer_cache;
mod budgets;
mod capability;
mod gateway;
mod media;
mod metered;
mod metered_streams;
mod prices;
mod pricing_api;
mod real;
mod usage_api;

const KINDS: [(Kind, SimProvider, &str); 4] = [
    (Kind::OpenAi, SimProvider::OpenAi, "gpt-6-luna"),
    (Kind::Anthropic, SimProvider::Anthropic, "claude-haiku-5-5"),
    (Kind::Gemini, SimProvider::Gemini, "gemini-3.8-flash"),
    (Kind::Xai, SimProvider::Xai, "grok-4.7"),
];

async fn sim() -> LlmSimulator {
    LlmSimulator::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

fn provider(sim: &LlmSimulator, kind: Kind, sim_kind: SimProvider) -> Provider {
    Provider::new(kind, "test-key").at(sim.base_url(sim_kind))
}

/// A gateway over the simulator's OpenAI (with `openai_key`) and
/// Anthropic, `attempts` tries per route, short backoffs.
fn sim_gateway(
    sim: &LlmSimulator,
    openai_key: &str,
    attempts: u32,
) -> baseline_host::llm::gateway::Gateway {
    use baseline_host::llm::gateway::{Gateway, RetryPolicy};
    let providers = std::collections::HashMap::from([
        (
            "openai".to_string(),
            Provider::new(Kind::OpenAi, openai_key).at(sim.base_url(SimProvider::OpenAi)),
        ),
        (
            "anthropic".to_string(),
            provider(sim, Kind::Anthropic, SimProvider::Anthropic),
        ),
    ]);
    let policy = RetryPolicy {
        attempts,
        base: Duration::from_millis(5),
        max_wait: Duration::from_secs(2),
    };
    Gateway::new(providers, policy)
}

fn ask(model: &str, text: &str) -> ChatRequest {
    ChatRequest {
        model: model.into(),
        system: Some("Be brief.".into()),
        messages: vec![Message::user(text)],
        max_tokens: 300,
        ..Default::default()
    }
}

fn dice() -> ToolSpec {
    ToolSpec {
        name: "roll_dice".into(),
        description: "Roll dice".into(),
        parameters: json!({"type": "object", "properties": {"sides": {"type": "integer", "minimum": 6}},
            "required": ["sides"]}),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_provider_answers_text_tools_and_structured_output() {
    let sim = sim().await;
    let http = reqwest::Client::new();
    for (kind, sim_kind, model) in KINDS {
        let provider = provider(&sim, kind, sim_kind);
        let what = kind.name();
        // Text.
        let answer = chat(&http, &provider, &ask(model, "hello there"))
            .await
            .unwrap();
        assert!(answer.text.contains("hello there"), "{what}: {answer:?}");
        assert_eq!(answer.finish, Finish::Stop, "{what}");
        assert!(
            answer.usage.input > 0 && answer.usage.output > 0,
            "{what}: {:?}",
            answer.usage
        );
        // A tool: called with schema-fitting arguments, then its result read.
        let mut request = ask(model, "go");
        request.tools = vec![dice()];
        request.tool_choice = ToolChoice::Tool("roll_dice".into());
        let called = chat(&http, &provider, &request).await.unwrap();
        assert_eq!(called.finish, Finish::ToolCalls, "{what}");
        let call = called.tool_calls[0].clone();
        assert_eq!(
            (call.name.as_str(), &call.arguments),
            ("roll_dice", &json!({"sides": 6})),
            "{what}"
        );
        request.tool_choice = ToolChoice::Auto;
        request.messages.push(Message {
            role: Role::Assistant,
            parts: vec![Part::ToolCall(call.clone())],
            cache: false,
        });
        request.messages.push(Message {
            role: Role::Tool,
            parts: vec![Part::ToolResult {
                call_id: call.id.clone(),
                name: call.name.clone(),
                content: "4".into(),
            }],
            cache: false,
        });
        let after = chat(&http, &provider, &request).await.unwrap();
        assert!(
            after.text.starts_with("The tool answered:"),
            "{what}: {after:?}"
        );
        // Structured output, parsed.
        let mut structured = ask(model, "a person");
        structured.schema = Some(
            json!({"type": "object", "properties": {"name": {"type": "string"},
            "age": {"type": "integer", "minimum": 18}}, "required": ["name", "age"], "additionalProperties": false}),
        );
        let person = chat(&http, &provider, &structured).await.unwrap();
        assert_eq!(
            person.json,
            Some(json!({"name": "example", "age": 18})),
            "{what}"
        );
    }
    // What went on the wire is each provider's documented shape.
    let log: Value = http
        .get(format!("{}/_sim/requests", sim.control_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let first = |provider: &str| {
        log.as_array()
            .unwrap()
            .iter()
            .find(|e| e["provider"] == provider)
            .cloned()
            .unwrap()
    };
    let openai = first("openai")["body"].clone();
    assert_eq!(
        openai["messages"][0],
        json!({"role": "system", "content": "Be brief."})
    );
    assert_eq!(openai["max_completion_tokens"], 300);
    let anthropic = first("anthropic")["body"].clone();
    assert_eq!(anthropic["system"][0]["type"], "text");
    assert_eq!(anthropic["max_tokens"], 300);
    let gemini = first("gemini")["body"].clone();
    assert_eq!(gemini["systemInstruction"]["parts"][0]["text"], "Be brief.");
    assert_eq!(gemini["generationConfig"]["maxOutputTokens"], 300);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anthropic_prompt_caching_is_priced_to_the_micro_dollar() {
    let sim = sim().await;
    let http = reqwest::Client::new();
    let provider = provider(&sim, Kind::Anthropic, SimProvider::Anthropic);
    let rules = "The rules of the game, at length. ".repeat(200);
    let ask = |question: &str| ChatRequest {
        model: "claude-haiku-5-5".into(),
        system: Some(rules.clone()),
        cache_system: true,
        messages: vec![Message::user(question)],
        max_tokens: 300,
        ..Default::default()
    };
    let price = seeded("anthropic", "claude-haiku-5-5").unwrap();
    // First call: the 1 700-token system prompt is written to the cache, not
    // also billed as input.
    let first = chat(&http, &provider, &ask("first")).await.unwrap();
    assert_eq!(first.usage.cache_write_5m, 1_700);
    assert_eq!((first.usage.cache_read, first.usage.cache_write_1h), (0, 0));
    let input = first.usage.input;
    let output = first.usage.output;
    // 1 700 × $0.125/M + input × $0.10/M + output × $0.50/M, rounded up once.
    let expected = (1_700u64 * 125_000 + input * 100_000 + output * 500_000).div_ceil(1_000_000);
    assert_eq!(cost_micros(&first.usage, &price), expected);
    // Second call: read at $0.01/M instead.
    let second = chat(&http, &provider, &ask("again")).await.unwrap();
    assert_eq!(second.usage.cache_read, 1_700);
    assert_eq!(second.usage.cache_write_5m, 0);
    let expected =
        (1_700u64 * 10_000 + second.usage.input * 100_000 + second.usage.output * 500_000)
            .div_ceil(1_000_000);
    assert_eq!(cost_micros(&second.usage, &price), expected);
    assert!(cost_micros(&second.usage, &price) < cost_micros(&first.usage, &price));
}

#[test]
fn each_providers_usage_is_read_its_own_way() {
    use baseline_host::llm::providers::{anthropic, gemini, openai};
    // OpenAI: cached and written are inside prompt_tokens.
    let usage = openai::usage(
        &json!({"prompt_tokens": 2000, "completion_tokens": 100,
        "prompt_tokens_details": {"cached_tokens": 1024, "cache_write_tokens": 256},
        "completion_tokens_details": {"reasoning_tokens": 40}}),
        false,
    );
    assert_eq!(
        usage,
        Usage {
            input: 720,
            cache_read: 1024,
            cache_write_5m: 256,
            cache_write_1h: 0,
            output: 100,
            reasoning: 40,
            ..Usage::default()
        }
    );
    // xAI: reasoning outside completion.
    let usage = openai::usage(
        &json!({"prompt_tokens": 100, "completion_tokens": 10,
        "prompt_tokens_details": {"cached_tokens": 0}, "completion_tokens_details": {"reasoning_tokens": 30}}),
        true,
    );
    assert_eq!((usage.output, usage.reasoning), (40, 30));
    // Anthropic: input excludes the cache; writes split by TTL.
    let usage = anthropic::usage(
        &json!({"input_tokens": 50, "output_tokens": 20, "cache_read_input_tokens": 0,
        "cache_creation_input_tokens": 3000, "cache_creation": {"ephemeral_5m_input_tokens": 1000, "ephemeral_1h_input_tokens": 2000}}),
    );
    assert_eq!(usage.total_input(), 3050);
    assert_eq!((usage.cache_write_5m, usage.cache_write_1h), (1000, 2000));
    // Gemini: cached inside prompt, thoughts outside candidates.
    let usage = gemini::usage(
        &json!({"promptTokenCount": 1500, "cachedContentTokenCount": 1200,
        "candidatesTokenCount": 80, "thoughtsTokenCount": 40, "toolUsePromptTokenCount": 10}),
    );
    assert_eq!(
        usage,
        Usage {
            input: 310,
            cache_read: 1200,
            cache_write_5m: 0,
            cache_write_1h: 0,
            output: 120,
            reasoning: 40,
            ..Usage::default()
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_errors_come_back_typed() {
    let sim = sim().await;
    let http = reqwest::Client::new();
    let control = sim.control_url();
    for (kind, sim_kind, model) in KINDS {
        let what = kind.name();
        http.post(format!("{control}/_sim/faults"))
            .json(&json!({"provider": sim_kind.name(), "kind": "rate-limit", "retry_after_s": 3}))
            .send()
            .await
            .unwrap();
        let provider = provider(&sim, kind, sim_kind);
        assert_eq!(
            chat(&http, &provider, &ask(model, "x")).await.unwrap_err(),
            LlmError::RateLimited {
                retry_after: Some(Duration::from_secs(3))
            },
            "{what}"
        );
        http.post(format!("{control}/_sim/faults"))
            .json(&json!({"provider": sim_kind.name(), "kind": "server-error"}))
            .send()
            .await
            .unwrap();
        assert!(
            matches!(
                chat(&http, &provider, &ask(model, "x")).await,
                Err(LlmError::ProviderDown(_))
            ),
            "{what}"
        );
        let refused = Provider::new(kind, "bad-key").at(sim.base_url(sim_kind));
        assert!(
            matches!(
                chat(&http, &refused, &ask(model, "x")).await,
                Err(LlmError::Auth(_))
            ),
            "{what}"
        );
        assert!(
            matches!(
                chat(&http, &provider, &ask("no-such-model", "x")).await,
                Err(LlmError::Invalid(_))
            ),
            "{what}"
        );
        assert!(
            matches!(
                chat(&http, &provider, &ask(model, "[[refuse]]")).await,
                Err(LlmError::ContentFiltered(_))
            ),
            "{what}"
        );
    }
}

/// Read a whole stream: its text pieces and its end.
async fn read_stream(
    http: &reqwest::Client,
    provider: &Provider,
    request: &ChatRequest,
) -> (
    Vec<String>,
    Result<baseline_host::llm::model::ChatResponse, LlmError>,
) {
    let mut stream = baseline_host::llm::client::stream(http, provider, request)
        .await
        .unwrap();
    let mut pieces = Vec::new();
    loop {
        match stream.next_text().await {
            Ok(Some(piece)) => pieces.push(piece),
            Ok(None) => break,
            Err(error) => return (pieces, Err(error)),
        }
    }
    (pieces, stream.finish())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_carry_the_same_answer_and_usage_and_a_cut_is_an_error() {
    let sim = sim().await;
    let http = reqwest::Client::new();
    let control = sim.control_url();
    for (kind, sim_kind, model) in KINDS {
        let what = kind.name();
        let provider = provider(&sim, kind, sim_kind);
        let whole = chat(&http, &provider, &ask(model, "tell me a story"))
            .await
            .unwrap();
        let (pieces, end) = read_stream(&http, &provider, &ask(model, "tell me a story")).await;
        let streamed = end.unwrap();
        assert!(pieces.len() > 3, "{what}: text arrives in pieces");
        assert_eq!(pieces.concat(), whole.text, "{what}");
        assert_eq!(streamed.text, whole.text, "{what}");
        assert_eq!(
            streamed.usage, whole.usage,
            "{what}: a stream is billed like the whole answer"
        );
        // A tool call, streamed.
        let mut request = ask(model, "go");
        request.tools = vec![dice()];
        request.tool_choice = ToolChoice::Tool("roll_dice".into());
        let (_, called) = read_stream(&http, &provider, &request).await;
        let called = called.unwrap();
        assert_eq!(called.finish, Finish::ToolCalls, "{what}");
        assert_eq!(
            called.tool_calls[0].arguments,
            json!({"sides": 6}),
            "{what}"
        );
        // Cut after five events: the text so far, then an error — not an
        // answer without usage.
        http.post(format!("{control}/_sim/faults"))
            .json(&json!({"provider": sim_kind.name(), "kind": "cut-stream", "after_chunks": 5}))
            .send()
            .await
            .unwrap();
        let mut stream =
            baseline_host::llm::client::stream(&http, &provider, &ask(model, "tell me a story"))
                .await
                .unwrap();
        while let Ok(Some(_)) = stream.next_text().await {}
        assert!(stream.started(), "{what}: part of the answer had arrived");
        assert!(
            matches!(stream.finish(), Err(LlmError::StreamCut { .. })),
            "{what}"
        );
        // Refused before the stream opens: a typed error (a fallback may follow).
        http.post(format!("{control}/_sim/faults"))
            .json(&json!({"provider": sim_kind.name(), "kind": "rate-limit"}))
            .send()
            .await
            .unwrap();
        let refused = baseline_host::llm::client::stream(&http, &provider, &ask(model, "x")).await;
        assert!(
            matches!(refused, Err(LlmError::RateLimited { .. })),
            "{what}"
        );
    }
}

/// A signed-in session's token: a developer, or a user who manages `guilds`.
async fn session(
    runtime: &std::sync::Arc<baseline_host::runtime::Runtime>,
    developer: bool,
    guilds: &[u64],
) -> String {
    let session = baseline_host::api::access::Session {
        user_id: 5,
        developer,
        guilds: guilds.to_vec(),
        ..Default::default()
    };
    baseline_host::api::access::create_session(
        runtime.services().cache.as_ref(),
        &session,
        Duration::from_secs(60),
    )
    .await
    .unwrap()
}

/// One API request as `token`: the status and the JSON answer.
async fn send(
    runtime: &std::sync::Arc<baseline_host::runtime::Runtime>,
    method: &'static str,
    uri: String,
    token: String,
    body: Option<Value>,
) -> (axum::http::StatusCode, Value) {
    use tower::ServiceExt as _;
    let request = axum::http::Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(
            body.map(|b| axum::body::Body::from(b.to_string()))
                .unwrap_or_else(axum::body::Body::empty),
        )
        .unwrap();
    let app = baseline_host::api::router(baseline_host::api::ApiState::new(runtime.clone()));
    let response = app.oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice::<Value>(&bytes).unwrap_or(Value::Null),
    )
}

/// A runtime over the database in `dir` with `service` as its gateway, for
/// the API (its cogs folder, empty, lives as long as the second value).
async fn api_runtime(
    dir: &tempfile::TempDir,
    service: std::sync::Arc<baseline_host::llm::service::LlmService>,
) -> (
    std::sync::Arc<baseline_host::runtime::Runtime>,
    tempfile::TempDir,
) {
    let cogs = tempfile::tempdir().unwrap();
    let db = baseline_host::store::Database::connect(&baseline_host::store::Database::sqlite_url(
        dir.path(),
    ))
    .await
    .unwrap();
    let runtime = baseline_host::runtime::Runtime::new(
        crate::support::config(cogs.path()),
        baseline_host::capabilities::Services::with_database(db).with_llm(service),
    )
    .unwrap();
    (runtime, cogs)
}
