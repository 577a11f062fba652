//! The LLM gateway's added latency: the same chat request sent to the LLM
//! simulator directly (one reqwest POST, the answer read as JSON) and
//! through the host — the gateway alone (route, breaker, the provider's
//! body built and its answer read into the one model), and the metered
//! service (also the budget reservation, settlement and the usage row, on
//! SQLite and, when it answers, Postgres). Open loop at a fixed rate (a
//! request every 1/rate s, each on its own task, whatever the previous
//! ones are doing); p50/p99/max of each, and the gateway's added latency
//! as the difference of the percentiles.
//!
//! `just bench-llm` (release). Environment: `BASELINE_BENCH_RATE` (default
//! 1000 requests/s), `BASELINE_BENCH_SECONDS` per mode (default 10),
//! `BASELINE_BENCH_POSTGRES` (default `postgres://postgres@127.0.0.1/test`;
//! `none` to skip).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use baseline_host::llm::client::Provider;
use baseline_host::llm::gateway::{Gateway, RetryPolicy, Route};
use baseline_host::llm::model::{ChatRequest, Message};
use baseline_host::llm::providers::Kind;
use baseline_host::llm::service::{Caller, LlmService};
use baseline_host::store::Database;
use baseline_host::store::llm::LlmStore;
use baseline_llm_sim::{LlmSimulator, Provider as SimProvider};

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

fn request() -> ChatRequest {
    ChatRequest {
        model: "gpt-6-luna".into(),
        system: Some("Be brief.".into()),
        messages: vec![Message::user("What is a d20?")],
        max_tokens: 100,
        ..Default::default()
    }
}

/// Latencies (µs) of `rate` calls a second for `seconds`, and how many failed.
async fn open_loop<F, Fut>(rate: u64, seconds: u64, call: F) -> (Vec<u64>, usize)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool> + Send + 'static,
{
    let total = rate * seconds;
    let mut ticker = tokio::time::interval(Duration::from_nanos(1_000_000_000 / rate));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut tasks = Vec::with_capacity(total as usize);
    for _ in 0..total {
        ticker.tick().await;
        let started = Instant::now();
        let call = call();
        tasks.push(tokio::spawn(async move {
            let ok = call.await;
            (started.elapsed().as_micros() as u64, ok)
        }));
    }
    let mut latencies = Vec::with_capacity(tasks.len());
    let mut failed = 0;
    for task in tasks {
        let (micros, ok) = task.await.unwrap();
        if ok {
            latencies.push(micros);
        } else {
            failed += 1;
        }
    }
    latencies.sort_unstable();
    (latencies, failed)
}

struct Row {
    mode: &'static str,
    latencies: Vec<u64>,
    failed: usize,
}

async fn metered(
    sim: &LlmSimulator,
    url: &str,
    dir: &std::path::Path,
) -> anyhow::Result<LlmService> {
    let url = if url == "sqlite" {
        Database::sqlite_url(dir)
    } else {
        url.to_string()
    };
    let db = Database::connect(&url).await?;
    db.migrate().await?;
    let routes = HashMap::from([(
        "gpt-6-luna".to_string(),
        vec![Route {
            provider: "openai".into(),
            model: "gpt-6-luna".into(),
        }],
    )]);
    Ok(LlmService::new(gateway(sim), routes, "gpt-6-luna".into(), LlmStore::new(db)).await?)
}

fn gateway(sim: &LlmSimulator) -> Gateway {
    let providers = HashMap::from([(
        "openai".to_string(),
        Provider::new(Kind::OpenAi, "bench").at(sim.base_url(SimProvider::OpenAi)),
    )]);
    Gateway::new(providers, RetryPolicy::default())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let rate: u64 = std::env::var("BASELINE_BENCH_RATE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000);
    let seconds: u64 = std::env::var("BASELINE_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let postgres = std::env::var("BASELINE_BENCH_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1/test".into());
    let sim = LlmSimulator::start("127.0.0.1:0".parse()?).await?;
    let dir = tempfile::tempdir()?;
    let mut rows = Vec::new();

    // Direct: the body the gateway would send, posted and read as JSON.
    let http = reqwest::Client::new();
    let url = format!("{}/chat/completions", sim.base_url(SimProvider::OpenAi));
    let body = Kind::OpenAi.body(&request());
    let direct = || {
        let (http, url, body) = (http.clone(), url.clone(), body.clone());
        async move {
            match http.post(url).bearer_auth("bench").json(&body).send().await {
                Ok(response) => response.json::<serde_json::Value>().await.is_ok(),
                Err(_) => false,
            }
        }
    };
    // Warm both paths (connections, the sim's first answers).
    open_loop(200, 1, direct).await;
    let (latencies, failed) = open_loop(rate, seconds, direct).await;
    rows.push(Row {
        mode: "simulator, direct",
        latencies,
        failed,
    });

    let gateway = Arc::new(gateway(&sim));
    let chain = vec![Route {
        provider: "openai".into(),
        model: "gpt-6-luna".into(),
    }];
    let through = || {
        let (gateway, chain) = (gateway.clone(), chain.clone());
        async move { gateway.chat(&chain, &request()).await.is_ok() }
    };
    open_loop(200, 1, through).await;
    let (latencies, failed) = open_loop(rate, seconds, through).await;
    rows.push(Row {
        mode: "through the gateway",
        latencies,
        failed,
    });

    let mut books = vec![("sqlite", "metered (SQLite books)")];
    if postgres != "none" {
        books.push((postgres.as_str(), "metered (Postgres books)"));
    }
    for (url, mode) in books {
        let service = match metered(&sim, url, dir.path()).await {
            Ok(service) => Arc::new(service),
            Err(error) => {
                eprintln!("{mode}: skipped ({error})");
                continue;
            }
        };
        let caller = Caller {
            guild_id: Some(1),
            cog: "bench".into(),
            user_id: Some(2),
        };
        let call = || {
            let (service, caller) = (service.clone(), caller.clone());
            async move { service.chat(&caller, request(), None).await.is_ok() }
        };
        open_loop(200, 1, call).await;
        let (latencies, failed) = open_loop(rate, seconds, call).await;
        rows.push(Row {
            mode,
            latencies,
            failed,
        });
    }

    println!("{rate} requests/s for {seconds} s each (µs):");
    println!("| path | calls | failed | p50 | p99 | max | added p50 | added p99 |");
    println!("|---|---|---|---|---|---|---|---|");
    let (base50, base99) = (
        percentile(&rows[0].latencies, 0.50),
        percentile(&rows[0].latencies, 0.99),
    );
    for row in &rows {
        let (p50, p99) = (
            percentile(&row.latencies, 0.50),
            percentile(&row.latencies, 0.99),
        );
        println!(
            "| {} | {} | {} | {p50} | {p99} | {} | {} | {} |",
            row.mode,
            row.latencies.len(),
            row.failed,
            row.latencies.last().copied().unwrap_or(0),
            p50 as i64 - base50 as i64,
            p99 as i64 - base99 as i64,
        );
    }
    Ok(())
}
