//! The LLM gateway's providers against the LLM simulator, on each
//! provider's wire format: text, tools, structured output, usage read the
//! provider's way and priced to the micro-dollar, errors typed.

use std::time::Duration;

use baseline_host::llm::client::{Provider, chat};
use baseline_host::llm::model::{
    ChatRequest, Finish, LlmError, Message, Part, Role, ToolChoice, ToolSpec, Usage,
};
use baseline_host::llm::pricing::{cost_micros, seeded};
use baseline_host::llm::providers::Kind;
use baseline_llm_sim::{LlmSimulator, Provider as SimProvider};
use serde_json::{Value, json};

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
            reasoning: 40
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
            reasoning: 40
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

mod gateway {

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
}

mod budgets {
    use baseline_host::store::Database;
    use baseline_host::store::llm::{Budget, LlmStore, Period};

    const GUILD: u64 = 42;
    /// 2026-11-29T12:00:00Z.
    const NOON: i64 = 1_795_953_600_000;

    async fn stores(url: &str) -> (LlmStore, LlmStore) {
        // Two pools: two processes of one bot sharing its database.
        let first = Database::connect(url).await.unwrap();
        first.migrate().await.unwrap();
        let second = Database::connect(url).await.unwrap();
        (LlmStore::new(first), LlmStore::new(second))
    }

    async fn sqlite_url(dir: &tempfile::TempDir) -> String {
        Database::sqlite_url(dir.path())
    }

    async fn limits_reservations_and_resets(store: &LlmStore) {
        store
            .set_budget(&Budget {
                guild_id: GUILD,
                cog: None,
                period: Period::Daily,
                limit_micros: 1_000,
            })
            .await
            .unwrap();
        store
            .set_budget(&Budget {
                guild_id: GUILD,
                cog: Some("ask".into()),
                period: Period::Monthly,
                limit_micros: 600,
            })
            .await
            .unwrap();
        // Within both: reserved on both, settled at the real cost.
        let held = store
            .reserve(GUILD, "ask", 400, NOON)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(held.rows.len(), 2);
        assert_eq!(
            store.spend(GUILD, None, Period::Daily, NOON).await.unwrap(),
            (0, 400)
        );
        store.settle(&held, 150).await.unwrap();
        assert_eq!(
            store.spend(GUILD, None, Period::Daily, NOON).await.unwrap(),
            (150, 0)
        );
        assert_eq!(
            store
                .spend(GUILD, Some("ask"), Period::Monthly, NOON)
                .await
                .unwrap(),
            (150, 0)
        );
        // Over the cog's monthly budget (150 + 500 > 600): refused, named,
        // and nothing reserved anywhere.
        let refused = store
            .reserve(GUILD, "ask", 500, NOON)
            .await
            .unwrap()
            .unwrap_err();
        assert_eq!(
            (refused.cog.as_deref(), refused.period),
            (Some("ask"), Period::Monthly)
        );
        assert_eq!(
            store.spend(GUILD, None, Period::Daily, NOON).await.unwrap(),
            (150, 0)
        );
        // Another cog only meets the guild's budget.
        let other = store
            .reserve(GUILD, "other", 800, NOON)
            .await
            .unwrap()
            .unwrap();
        store.settle(&other, 800).await.unwrap();
        assert!(
            store
                .reserve(GUILD, "other", 100, NOON)
                .await
                .unwrap()
                .is_err(),
            "the guild's day is spent"
        );
        // The next day is a new window; an admin's reset empties this one.
        assert!(
            store
                .reserve(GUILD, "other", 100, NOON + 86_400_000)
                .await
                .unwrap()
                .is_ok()
        );
        store.reset(GUILD, None, Period::Daily, NOON).await.unwrap();
        assert_eq!(
            store.spend(GUILD, None, Period::Daily, NOON).await.unwrap(),
            (0, 0)
        );
        // No budget: nothing to reserve on, always allowed.
        let free = store
            .reserve(7, "ask", 1_000_000, NOON)
            .await
            .unwrap()
            .unwrap();
        assert!(free.rows.is_empty());
    }

    /// Two processes, twenty calls each at once, against a budget with room
    /// for ten: exactly ten pass, and the spend never passes the limit.
    async fn two_processes_cannot_overspend(first: LlmStore, second: LlmStore) {
        first
            .set_budget(&Budget {
                guild_id: GUILD,
                cog: None,
                period: Period::Daily,
                limit_micros: 1_000,
            })
            .await
            .unwrap();
        let mut calls = Vec::new();
        for n in 0..40 {
            let store = if n % 2 == 0 {
                first.clone()
            } else {
                second.clone()
            };
            calls.push(tokio::spawn(async move {
                match store.reserve(GUILD, "ask", 100, NOON).await.unwrap() {
                    Ok(held) => {
                        store.settle(&held, 100).await.unwrap();
                        true
                    }
                    Err(_) => false,
                }
            }));
        }
        let mut passed = 0;
        for call in calls {
            passed += usize::from(call.await.unwrap());
        }
        assert_eq!(passed, 10);
        assert_eq!(
            first.spend(GUILD, None, Period::Daily, NOON).await.unwrap(),
            (1_000, 0)
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn budgets_hold_on_sqlite() {
        let dir = tempfile::tempdir().unwrap();
        let (first, _) = stores(&sqlite_url(&dir).await).await;
        limits_reservations_and_resets(&first).await;
        let dir = tempfile::tempdir().unwrap();
        let (first, second) = stores(&sqlite_url(&dir).await).await;
        two_processes_cannot_overspend(first, second).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn budgets_hold_on_postgres() {
        let (first, _) = stores(&crate::store::fresh_postgres_url().await).await;
        limits_reservations_and_resets(&first).await;
        let (first, second) = stores(&crate::store::fresh_postgres_url().await).await;
        two_processes_cannot_overspend(first, second).await;
    }
}

mod metered {
    use std::collections::HashMap;

    use baseline_host::llm::gateway::Route;
    use baseline_host::llm::model::{ChatRequest, LlmError, Message};
    use baseline_host::llm::pricing::{cost_micros, seeded};

    use baseline_host::llm::service::{Caller, LlmService};
    use baseline_host::store::Database;
    use baseline_host::store::llm::{Budget, LlmStore, Period};
    use baseline_llm_sim::LlmSimulator;
    use serde_json::json;

    pub(super) async fn setup(dir: &tempfile::TempDir) -> (LlmSimulator, LlmService, LlmStore) {
        let sim = super::sim().await;
        let db = Database::connect(&Database::sqlite_url(dir.path()))
            .await
            .unwrap();
        db.migrate().await.unwrap();
        let store = LlmStore::new(db);
        let mut routes = HashMap::new();
        routes.insert(
            "gpt-6-luna".to_string(),
            vec![
                Route {
                    provider: "openai".into(),
                    model: "gpt-6-luna".into(),
                },
                Route {
                    provider: "anthropic".into(),
                    model: "claude-haiku-5-5".into(),
                },
            ],
        );
        routes.insert(
            "unpriced".to_string(),
            vec![Route {
                provider: "openai".into(),
                model: "gpt-unknown".into(),
            }],
        );
        let service = LlmService::new(
            super::sim_gateway(&sim, "k", 2),
            routes,
            "gpt-6-luna".into(),
            store.clone(),
        )
        .await
        .unwrap();
        (sim, service, store)
    }

    pub(super) fn caller(guild: u64) -> Caller {
        Caller {
            guild_id: Some(guild),
            cog: "ask".into(),
            user_id: Some(7),
        }
    }

    pub(super) fn ask(text: &str) -> ChatRequest {
        ChatRequest {
            messages: vec![Message::user(text)],
            max_tokens: 200,
            ..Default::default()
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_call_is_priced_recorded_and_held_to_its_budgets() {
        let dir = tempfile::tempdir().unwrap();
        let (sim, service, store) = setup(&dir).await;
        // A call: answered, priced at the seeded rate, recorded.
        let (answer, charged) = service.chat(&caller(42), ask("hello")).await.unwrap();
        let expected = cost_micros(&answer.usage, &seeded("openai", "gpt-6-luna").unwrap());
        assert!(expected > 0);
        assert_eq!(charged.cost_micros, expected);
        let rows = store.recent(42, 10).await.unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(
            (
                rows[0].provider.as_str(),
                rows[0].cost_micros,
                rows[0].outcome.as_str()
            ),
            ("openai", expected, "ok")
        );
        assert_eq!(rows[0].input_tokens, answer.usage.total_input());
        // A fallback is recorded as one, priced at the route that answered.
        reqwest::Client::new()
            .post(format!("{}/_sim/faults", sim.control_url()))
            .json(&json!({"provider": "openai", "kind": "rate-limit", "retry_after_s": 3600}))
            .send()
            .await
            .unwrap();
        let (answer, charged) = service.chat(&caller(42), ask("hello")).await.unwrap();
        assert!(charged.fallback);
        assert_eq!(
            charged.cost_micros,
            cost_micros(
                &answer.usage,
                &seeded("anthropic", "claude-haiku-5-5").unwrap()
            )
        );
        let rows = store.recent(42, 10).await.unwrap();
        assert!(rows[0].fallback && rows[0].provider == "anthropic");
        // A budget with room for what was spent and a little more: the next
        // call's worst case does not fit, so it is refused before any
        // provider is called, and says which budget.
        let spent = store
            .spend(42, None, Period::Daily, baseline_host::store::now_millis())
            .await
            .unwrap();
        assert_eq!(spent.1, 0, "nothing stays reserved after settling");
        store
            .set_budget(&Budget {
                guild_id: 42,
                cog: None,
                period: Period::Daily,
                limit_micros: spent.0 + 10,
            })
            .await
            .unwrap();
        let refused = service.chat(&caller(42), ask("hello")).await.unwrap_err();
        assert!(
            matches!(&refused, LlmError::BudgetExceeded(why) if why.contains("this server's daily budget")),
            "{refused}"
        );
        assert_eq!(
            store.recent(42, 10).await.unwrap().len(),
            2,
            "no provider was called"
        );
        // Another guild's budget is its own.
        service.chat(&caller(43), ask("hello")).await.unwrap();
        // A model without a price is not routed to.
        let mut unpriced = ask("hello");
        unpriced.model = "unpriced".into();
        assert!(matches!(
            service.chat(&caller(43), unpriced).await,
            Err(LlmError::Invalid(_))
        ));
    }
}

mod metered_streams {
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
            .chat(&caller(42), ask("tell me a story"))
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
}

mod capability {

    use std::sync::Arc;

    use baseline_host::capabilities::Services;
    use baseline_host::config::CogConfig;

    use baseline_host::runtime::{Answer, Call, Runtime};
    use baseline_host::store::Database;
    use baseline_host::store::llm::{Budget, Period};
    use baseline_host::wit::types::{CogError, CommandResponse, OptionEntry, OptionValue};

    use crate::support::*;

    async fn ask(runtime: &Arc<Runtime>, guild: u64, question: &str) -> Answer {
        let cog = runtime.registry().get("asker").unwrap();
        let options = vec![OptionEntry {
            name: "question".into(),
            value: OptionValue::Text(question.into()),
        }];
        let invocation = command("ask", None, options, guild, USER);
        runtime
            .invoke(&cog, scope("asker", &invocation), Call::Command(invocation))
            .await
            .unwrap()
    }

    fn text(answer: &Answer) -> String {
        match answer {
            Answer::Command(Ok(CommandResponse::Reply(reply))) => {
                reply.message.content.clone().unwrap_or_default()
            }
            Answer::Command(Err(CogError::User(message))) => format!("refused: {message}"),
            other => format!("{other:?}"),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_granted_cog_asks_is_charged_and_stopped_by_the_budget() {
        let data = tempfile::tempdir().unwrap();
        let (_sim, service, store) = super::metered::setup(&data).await;
        let db = Database::connect(&Database::sqlite_url(data.path()))
            .await
            .unwrap();
        let cogs = tempfile::tempdir().unwrap();
        install("asker", cogs.path(), "asker.wasm");
        let mut config = config(cogs.path());
        config.cogs.insert(
            "asker".into(),
            CogConfig {
                grant: vec!["llm".into()],
                ..CogConfig::default()
            },
        );
        let services = Services::with_database(db).with_llm(Arc::new(service));
        let runtime = Runtime::new(config, services).unwrap();
        runtime.load_dir().await;

        let answer = text(&ask(&runtime, GUILD, "what is a d20?").await);
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
        // and no provider is called.
        store
            .set_budget(&Budget {
                guild_id: GUILD,
                cog: Some("asker".into()),
                period: Period::Monthly,
                limit_micros: rows[0].cost_micros,
            })
            .await
            .unwrap();
        let refused = text(&ask(&runtime, GUILD, "again?").await);
        assert!(
            refused.contains("BudgetExceeded") && refused.contains("cog `asker`'s monthly budget"),
            "{refused}"
        );
        assert_eq!(store.recent(GUILD, 10).await.unwrap().len(), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn without_the_grant_the_cog_is_denied() {
        let cogs = tempfile::tempdir().unwrap();
        install("asker", cogs.path(), "asker.wasm");
        let runtime = runtime(config(cogs.path()));
        runtime.load_dir().await;
        let answer = text(&ask(&runtime, GUILD, "hello").await);
        assert!(answer.contains("Denied"), "{answer}");
    }
}

mod pricing_api {
    use std::sync::Arc;
    use std::time::Duration;

    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use baseline_host::api::access::{Session, create_session};
    use baseline_host::api::{ApiState, router};
    use baseline_host::capabilities::Services;
    use baseline_host::llm::pricing::{Price, cost_micros};
    use baseline_host::runtime::Runtime;
    use serde_json::{Value, json};
    use tower::ServiceExt;

    use super::metered::{ask, caller, setup};
    use crate::support::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn developers_read_and_set_prices_and_calls_use_them() {
        let dir = tempfile::tempdir().unwrap();
        let (_sim, service, _store) = setup(&dir).await;
        let service = Arc::new(service);
        let cogs = tempfile::tempdir().unwrap();
        let db = baseline_host::store::Database::connect(
            &baseline_host::store::Database::sqlite_url(dir.path()),
        )
        .await
        .unwrap();
        let runtime = Runtime::new(
            config(cogs.path()),
            Services::with_database(db).with_llm(service.clone()),
        )
        .unwrap();
        let token = |developer: bool| {
            let runtime = runtime.clone();
            async move {
                let session = Session {
                    user_id: 5,
                    developer,
                    ..Default::default()
                };
                create_session(
                    runtime.services().cache.as_ref(),
                    &session,
                    Duration::from_secs(60),
                )
                .await
                .unwrap()
            }
        };
        let (developer, admin) = (token(true).await, token(false).await);
        let send = |method: &str, uri: &str, token: &str, body: Option<Value>| {
            let request = Request::builder()
                .method(method)
                .uri(uri)
                .header("authorization", format!("Bearer {token}"))
                .header("content-type", "application/json")
                .body(
                    body.map(|b| Body::from(b.to_string()))
                        .unwrap_or_else(Body::empty),
                )
                .unwrap();
            let app = router(ApiState::new(runtime.clone()));
            async move {
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
        let (answer, charged) = service.chat(&caller(42), ask("hello")).await.unwrap();
        let price = Price {
            input: 1_000_000,
            cache_read: 100_000,
            cache_write_5m: 1_250_000,
            cache_write_1h: 1_250_000,
            output: 5_000_000,
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
        let mut absurd = dear;
        absurd["input"] = json!(u64::MAX);
        assert_eq!(
            send("PUT", uri, &developer, Some(absurd)).await.0,
            StatusCode::BAD_REQUEST
        );
    }
}
