//! Prices as they really work: a price takes effect on its day, a long
//! prompt reprices the whole request at its tier, and a provider that
//! states its bill (xAI's `cost_in_usd_ticks`) is charged what it billed.

use baseline_host::llm::model::{ChatRequest, Message};
use baseline_host::llm::pricing::{SCHEDULED, cost_micros, seeded};
use baseline_host::store::llm::{Period, PriceRow};

use super::metered::{ask, caller, setup};

fn row(provider: &str, model: &str, day: String, input: u64) -> PriceRow {
    PriceRow {
        provider: provider.into(),
        model: model.into(),
        input,
        output: input * 5,
        cache_read: input / 10,
        cache_write_5m: input,
        cache_write_1h: input,
        effective_from: day,
        image: 0,
        audio_minute: 0,
        min_input_tokens: 0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_price_takes_effect_on_its_day_and_long_prompts_pay_their_tier() {
    let dir = tempfile::tempdir().unwrap();
    let (_sim, service, store) = setup(&dir).await;
    let now = baseline_host::store::now_millis();
    let (today, tomorrow) = (
        Period::Daily.window(now),
        Period::Daily.window(now + 86_400_000),
    );
    // The seeded schedule is in the table: Gemini 4's new price from 12-01.
    let prices = store.prices().await.unwrap();
    assert!(prices.iter().any(|p| p.model == "gemini-4-carbon"
        && p.effective_from == "2026-12-01"
        && p.input == 4_000_000));
    assert_eq!(
        prices.iter().filter(|p| p.min_input_tokens > 0).count(),
        SCHEDULED.iter().filter(|s| s.3 > 0).count()
    );

    // Tomorrow's price does not touch today's calls…
    service
        .set_price(&row("openai", "gpt-6-luna", tomorrow, 100_000_000))
        .await
        .unwrap();
    let (answer, charged) = service.chat(&caller(42), ask("hello"), None).await.unwrap();
    let base = seeded("openai", "gpt-6-luna").unwrap();
    assert_eq!(charged.cost_micros, cost_micros(&answer.usage, &base));
    // …today's does, at once.
    service
        .set_price(&row("openai", "gpt-6-luna", today, 1_000_000))
        .await
        .unwrap();
    let (answer, charged) = service.chat(&caller(42), ask("hello"), None).await.unwrap();
    let mut ten_times = base;
    ten_times.input = 1_000_000;
    ten_times.output = 5_000_000;
    ten_times.cache_read = 100_000;
    assert_eq!(charged.cost_micros, cost_micros(&answer.usage, &ten_times));

    // Claude Haiku above 100K input tokens: the whole request at the long rate.
    let long = ChatRequest {
        model: "claude-haiku-5-5".into(),
        messages: vec![Message::user("a".repeat(420_000))],
        max_tokens: 50,
        ..Default::default()
    };
    let (answer, charged) = service.chat(&caller(42), long, None).await.unwrap();
    assert!(answer.usage.total_input() > 100_000);
    let tier = SCHEDULED
        .iter()
        .find(|s| s.1 == "claude-haiku-5-5" && s.3 > 0)
        .unwrap()
        .4;
    assert_eq!(charged.cost_micros, cost_micros(&answer.usage, &tier));
    assert!(
        charged.cost_micros
            > 4 * cost_micros(
                &answer.usage,
                &seeded("anthropic", "claude-haiku-5-5").unwrap()
            )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xai_is_charged_what_it_billed() {
    let dir = tempfile::tempdir().unwrap();
    let sim = super::sim().await;
    let (service, store) = super::media::media_service(&dir, &sim).await;
    let request = ChatRequest {
        model: "grok-4.7".into(),
        messages: vec![Message::user("what is a d20?")],
        max_tokens: 100,
        ..Default::default()
    };
    let (answer, charged) = service
        .chat(&caller(42), request.clone(), None)
        .await
        .unwrap();
    let billed = answer.usage.billed_micros.expect("xAI states its bill");
    assert_eq!(charged.cost_micros, billed);
    // The simulator bills at xAI's listed rates, which are the seeded ones.
    assert_eq!(
        billed,
        cost_micros(&answer.usage, &seeded("xai", "grok-4.7").unwrap())
    );
    // A price table out of date (here: free) does not make the call free.
    let today = Period::Daily.window(baseline_host::store::now_millis());
    service
        .set_price(&row("xai", "grok-4.7", today, 0))
        .await
        .unwrap();
    let (_, charged) = service.chat(&caller(42), request, None).await.unwrap();
    assert_eq!(charged.cost_micros, billed);
    assert_eq!(store.recent(42, 1).await.unwrap()[0].cost_micros, billed);
}
