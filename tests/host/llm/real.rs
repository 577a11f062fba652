//! The gateway against the real providers, for whichever key is set in the
//! environment (`OPENAI_API_KEY`, `ANTHROPIC_API_KEY`, `GEMINI_API_KEY`,
//! `XAI_API_KEY`; the model with `BASELINE_E2E_<PROVIDER>_MODEL`, else the
//! cheapest seeded one). Without a key the test says it was skipped and
//! passes: the machines this project is built on cannot reach a provider,
//! the simulator stands in for them everywhere else. It spends a fraction of
//! a cent per key.

use baseline_host::llm::client::{self, Provider};
use baseline_host::llm::model::{ChatRequest, Message};
use baseline_host::llm::pricing::{cost_micros, seeded};
use baseline_host::llm::providers::Kind;

const PROVIDERS: [(Kind, &str, &str); 4] = [
    (Kind::OpenAi, "OPENAI_API_KEY", "gpt-6-luna"),
    (Kind::Anthropic, "ANTHROPIC_API_KEY", "claude-haiku-5-5"),
    (Kind::Gemini, "GEMINI_API_KEY", "gemini-3.5-flash-lite"),
    (Kind::Xai, "XAI_API_KEY", "grok-4.20-0309"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_providers_answer_when_their_key_is_set() {
    let http = reqwest::Client::new();
    let mut tried = 0;
    for (kind, variable, cheapest) in PROVIDERS {
        let Ok(key) = std::env::var(variable) else {
            eprintln!("skipped {}: {variable} is not set", kind.name());
            continue;
        };
        tried += 1;
        let model = std::env::var(format!("BASELINE_E2E_{}_MODEL", kind.name().to_uppercase()))
            .unwrap_or_else(|_| cheapest.to_string());
        let provider = Provider::new(kind, key);
        let request = ChatRequest {
            model: model.clone(),
            system: Some("Answer with one word.".into()),
            messages: vec![Message::user("What colour is a clear daytime sky?")],
            max_tokens: 16,
            ..Default::default()
        };
        let answer = client::chat(&http, &provider, &request)
            .await
            .unwrap_or_else(|error| panic!("{} {model}: {error}", kind.name()));
        assert!(
            !answer.text.trim().is_empty(),
            "{} answered nothing",
            kind.name()
        );
        assert!(answer.usage.total_input() > 0 && answer.usage.output > 0);
        let mut stream = client::stream(&http, &provider, &request).await.unwrap();
        while stream.next_text().await.unwrap().is_some() {}
        let streamed = stream.finish().unwrap();
        assert!(streamed.usage.output > 0, "a stream reports its usage");
        if let Some(price) = seeded(kind.name(), &model) {
            eprintln!(
                "{} {model}: {:?} — {} µ$",
                kind.name(),
                answer.text.trim(),
                cost_micros(&answer.usage, &price)
            );
        }
    }
    if tried == 0 {
        eprintln!(
            "skipped: no provider key is set (OPENAI_API_KEY, ANTHROPIC_API_KEY, GEMINI_API_KEY, XAI_API_KEY)"
        );
    }
}
