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
    for (provider, model) in [
        ("openai", "gpt-image-2"),
        ("openai", "whisper-1"),
        ("anthropic", "claude-haiku-5-5"),
    ] {
        routes.insert(
            model.to_string(),
            vec![Route {
                provider: provider.into(),
                model: model.into(),
            }],
        );
    }
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
    let (answer, charged) = service.chat(&caller(42), ask("hello"), None).await.unwrap();
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
    let (answer, charged) = service.chat(&caller(42), ask("hello"), None).await.unwrap();
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
    let refused = service
        .chat(&caller(42), ask("hello"), None)
        .await
        .unwrap_err();
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
    service.chat(&caller(43), ask("hello"), None).await.unwrap();
    // A model without a price is not routed to.
    let mut unpriced = ask("hello");
    unpriced.model = "unpriced".into();
    assert!(matches!(
        service.chat(&caller(43), unpriced, None).await,
        Err(LlmError::Invalid(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operators_budget_holds_every_call_dms_included() {
    let dir = tempfile::tempdir().unwrap();
    let (_sim, service, store) = setup(&dir).await;
    let limit = 600;
    let service = service.with_operator_budgets(Some(limit), None);
    let dm = Caller {
        guild_id: None,
        cog: "ask".into(),
        user_id: Some(7),
    };
    // DMs have no server budget, but the bot's own holds them: calls pass
    // until the next one's worst case no longer fits.
    let mut answered = 0;
    let refusal = loop {
        match service.chat(&dm, ask("hello"), None).await {
            Ok(_) => answered += 1,
            Err(error) => break error,
        }
        assert!(answered < 100, "the operator's budget never refused");
    };
    assert!(answered >= 1);
    assert!(
        matches!(&refusal, LlmError::BudgetExceeded(why) if why.contains("the bot's daily budget")),
        "{refusal}"
    );
    let now = baseline_host::store::now_millis();
    let (spent, held) = store.spend(0, None, Period::Daily, now).await.unwrap();
    assert!(spent > 0 && spent <= limit && held == 0, "{spent} {held}");
    // A server's own, larger budget does not lift the bot's.
    store
        .set_budget(&Budget {
            guild_id: 42,
            cog: None,
            period: Period::Daily,
            limit_micros: 1_000_000_000,
        })
        .await
        .unwrap();
    assert!(matches!(
        service.chat(&caller(42), ask("hello"), None).await,
        Err(LlmError::BudgetExceeded(why)) if why.contains("the bot's")
    ));
}
