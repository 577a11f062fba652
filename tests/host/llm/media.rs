//! Images, transcription and token counts: on each provider's wire format
//! (bodies as the providers document them), then metered — priced per
//! token, per image or per minute, recorded, held to budgets.

use std::collections::HashMap;

use baseline_host::llm::client::{self, Provider};
use baseline_host::llm::gateway::{Gateway, RetryPolicy, Route};
use baseline_host::llm::model::{ImageRequest, LlmError, TranscriptionRequest};
use baseline_host::llm::pricing::{cost_micros, seeded};
use baseline_host::llm::providers::Kind;
use baseline_host::llm::service::LlmService;
use baseline_host::store::Database;
use baseline_host::store::llm::{Budget, LlmStore, Period};
use baseline_llm_sim::Provider as SimProvider;

use super::{KINDS, ask, provider, sim};

/// The body of the last request the simulator received on `path`.
fn last_body(sim: &baseline_llm_sim::LlmSimulator, path: &str) -> serde_json::Value {
    sim.sim()
        .requests
        .all()
        .into_iter()
        .rev()
        .find(|r| r.path.ends_with(path))
        .map(|r| r.body)
        .unwrap_or_default()
}

fn picture(model: &str, quality: &str) -> ImageRequest {
    ImageRequest {
        model: model.into(),
        prompt: "a red die on a green table".into(),
        size: Some("1024x1536".into()),
        quality: Some(quality.into()),
        user: Some("7".into()),
    }
}

fn speech(model: &str, bytes: usize) -> TranscriptionRequest {
    TranscriptionRequest {
        model: model.into(),
        filename: "voice-message.ogg".into(),
        audio: vec![1; bytes],
        language: Some("en".into()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn images_transcripts_and_counts_on_each_wire_format() {
    let sim = sim().await;
    let http = reqwest::Client::new();
    let openai = provider(&sim, Kind::OpenAi, SimProvider::OpenAi);
    let xai = provider(&sim, Kind::Xai, SimProvider::Xai);

    // OpenAI draws: the body as documented, a PNG back, tokens by quality.
    let image = client::image(&http, &openai, &picture("gpt-image-2", "low"))
        .await
        .unwrap();
    assert_eq!(image.media_type, "image/png");
    assert!(image.data.starts_with(b"\x89PNG"));
    assert_eq!((image.usage.output, image.usage.images), (272, 1));
    let body = last_body(&sim, "/images/generations");
    assert_eq!(
        body,
        serde_json::json!({"model": "gpt-image-2", "prompt": "a red die on a green table", "n": 1,
            "output_format": "png", "size": "1024x1536", "quality": "low", "user": "7"})
    );
    // xAI draws with an aspect ratio, not a size; one image, priced per image.
    let image = client::image(&http, &xai, &picture("grok-imagine-image", "high"))
        .await
        .unwrap();
    assert_eq!(image.usage.images, 1);
    let body = last_body(&sim, "/images/generations");
    assert_eq!(body["aspect_ratio"], "2:3");
    assert_eq!(body["response_format"], "b64_json");
    assert!(body.get("size").is_none() && body.get("quality").is_none());
    // Anthropic does not draw: said before any request.
    let anthropic = provider(&sim, Kind::Anthropic, SimProvider::Anthropic);
    assert!(matches!(
        client::image(&http, &anthropic, &picture("claude-haiku-5-5", "low")).await,
        Err(LlmError::Invalid(why)) if why.contains("does not generate images")
    ));

    // Whisper bills a duration: 40 000 bytes at 16 000 a second are 3 s.
    let heard = client::transcribe(&http, &openai, &speech("whisper-1", 40_000))
        .await
        .unwrap();
    assert!(heard.text.contains("voice-message.ogg"), "{}", heard.text);
    assert_eq!(heard.usage.audio_ms, 3_000);
    // gpt-4o-transcribe bills audio tokens in and text tokens out.
    let heard = client::transcribe(&http, &openai, &speech("gpt-4o-transcribe", 40_000))
        .await
        .unwrap();
    assert_eq!((heard.usage.input, heard.usage.audio_ms), (30, 0));
    assert!(heard.usage.output > 0);
    assert_eq!(
        last_body(&sim, "/audio/transcriptions")["model"],
        "gpt-4o-transcribe"
    );

    // Counting: each provider's own endpoint agrees with what the chat is
    // billed for the same prompt (xAI's tokenizer counts the text alone).
    for (kind, sim_kind, model) in KINDS {
        let provider = provider(&sim, kind, sim_kind);
        let request = ask(model, "How many tokens is this question?");
        let counted = client::count(&http, &provider, &request).await.unwrap();
        assert!(counted > 0, "{kind:?}");
        if kind != Kind::Xai {
            let billed = client::chat(&http, &provider, &request).await.unwrap();
            assert_eq!(counted, billed.usage.total_input(), "{kind:?}");
        }
    }
    let counted = last_body(&sim, "/tokenize-text");
    assert_eq!(counted["model"], "grok-4.7");
    assert!(
        counted["text"]
            .as_str()
            .unwrap()
            .contains("How many tokens")
    );
    let gemini = last_body(&sim, ":countTokens");
    assert_eq!(
        gemini["generateContentRequest"]["model"],
        "models/gemini-3.8-flash"
    );
}

/// A service over the simulator's OpenAI and xAI with the media routes.
pub(super) async fn media_service(
    dir: &tempfile::TempDir,
    sim: &baseline_llm_sim::LlmSimulator,
) -> (LlmService, LlmStore) {
    let db = Database::connect(&Database::sqlite_url(dir.path()))
        .await
        .unwrap();
    db.migrate().await.unwrap();
    let store = LlmStore::new(db);
    let providers = HashMap::from([
        (
            "openai".to_string(),
            Provider::new(Kind::OpenAi, "k").at(sim.base_url(SimProvider::OpenAi)),
        ),
        (
            "xai".to_string(),
            Provider::new(Kind::Xai, "k").at(sim.base_url(SimProvider::Xai)),
        ),
    ]);
    let route = |provider: &str, model: &str| {
        (
            model.to_string(),
            vec![Route {
                provider: provider.into(),
                model: model.into(),
            }],
        )
    };
    let routes = HashMap::from([
        route("openai", "gpt-6-luna"),
        route("openai", "gpt-image-2"),
        route("openai", "whisper-1"),
        route("openai", "gpt-4o-transcribe"),
        route("xai", "grok-imagine-image"),
        route("xai", "grok-4.7"),
    ]);
    let service = LlmService::new(
        Gateway::new(providers, RetryPolicy::default()),
        routes,
        "gpt-6-luna".into(),
        store.clone(),
    )
    .await
    .unwrap();
    (service, store)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn images_and_minutes_are_priced_recorded_and_budgeted() {
    let dir = tempfile::tempdir().unwrap();
    let sim = sim().await;
    let (service, store) = media_service(&dir, &sim).await;
    let caller = super::metered::caller(42);

    // The default image model, priced by its tokens.
    let mut request = picture("", "medium");
    request.user = None;
    let (image, charged) = service.image(&caller, request).await.unwrap();
    assert_eq!(charged.model, "gpt-image-2");
    let price = seeded("openai", "gpt-image-2").unwrap();
    assert_eq!(charged.cost_micros, cost_micros(&image.usage, &price));
    // 1 056 output tokens at $30/M = 31 680 µ$, plus the prompt's few.
    assert!((31_680..31_800).contains(&charged.cost_micros));
    // xAI's image: $0.02 flat.
    let (_, charged) = service
        .image(&caller, picture("grok-imagine-image", "low"))
        .await
        .unwrap();
    assert_eq!(charged.cost_micros, 20_000);
    // Whisper by the minute: 3 s at $0.006/min = 300 µ$.
    let (_, charged) = service
        .transcribe(&caller, speech("", 40_000))
        .await
        .unwrap();
    assert_eq!(
        (charged.model.as_str(), charged.cost_micros),
        ("whisper-1", 300)
    );
    // A count is free but recorded.
    let counted = service
        .count(&caller, ask("gpt-6-luna", "count me"))
        .await
        .unwrap();
    assert!(counted > 0);

    let rows = store.recent(42, 10).await.unwrap();
    let ops: Vec<(&str, u64, u64, u64)> = rows
        .iter()
        .map(|r| (r.operation.as_str(), r.images, r.audio_ms, r.cost_micros))
        .collect();
    assert_eq!(ops[0], ("count", 0, 0, 0));
    assert_eq!(ops[1], ("transcription", 0, 3_000, 300));
    assert_eq!(ops[2], ("image", 1, 0, 20_000));
    assert_eq!(ops[3].0, "image");
    assert_eq!(rows[0].input_tokens, counted);

    // Empty or oversized audio is refused before any provider is called.
    assert!(matches!(
        service.transcribe(&caller, speech("", 0)).await,
        Err(LlmError::Invalid(_))
    ));
    assert!(matches!(
        service.transcribe(&caller, speech("", (25 << 20) + 1)).await,
        Err(LlmError::Invalid(why)) if why.contains("at most")
    ));

    // A budget stops images too: the worst case of one more does not fit.
    let now = baseline_host::store::now_millis();
    // What the books say was spent today (a new budget starts from it).
    let spent: u64 = store
        .recent(42, 100)
        .await
        .unwrap()
        .iter()
        .map(|r| r.cost_micros)
        .sum();
    store
        .set_budget(&Budget {
            guild_id: 42,
            cog: None,
            period: Period::Daily,
            limit_micros: spent + 30_000,
        })
        .await
        .unwrap();
    assert_eq!(
        store.spend(42, None, Period::Daily, now).await.unwrap().0,
        spent
    );
    let before = sim.sim().requests.all().len();
    assert!(matches!(
        service.image(&caller, picture("", "high")).await,
        Err(LlmError::BudgetExceeded(_))
    ));
    assert!(matches!(
        service.transcribe(&caller, speech("", 24 << 20)).await,
        Err(LlmError::BudgetExceeded(_))
    ));
    assert_eq!(
        sim.sim().requests.all().len(),
        before,
        "no provider was called"
    );
    // …while an image priced at $0.02 still fits.
    service
        .image(&caller, picture("grok-imagine-image", "low"))
        .await
        .unwrap();
}
