//! The control API, under `/_sim/`: inject faults into the next requests
//! to a provider (`POST /_sim/faults`), read back what the simulator was
//! sent (`GET /_sim/requests`, `DELETE` to forget).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::routing::post;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::Sim;

/// The providers the simulator speaks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// OpenAI.
    OpenAi,
    /// Anthropic.
    Anthropic,
    /// Google Gemini.
    Gemini,
    /// xAI.
    Xai,
}

impl Provider {
    /// Where its API lives on the simulator.
    pub fn base_path(self) -> &'static str {
        match self {
            Provider::OpenAi => "/openai/v1",
            Provider::Anthropic => "/anthropic",
            Provider::Gemini => "/gemini/v1beta",
            Provider::Xai => "/xai/v1",
        }
    }

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            Provider::OpenAi => "openai",
            Provider::Anthropic => "anthropic",
            Provider::Gemini => "gemini",
            Provider::Xai => "xai",
        }
    }
}

/// What goes wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultKind {
    /// 429 with `Retry-After` (the provider's rate-limit body).
    RateLimit,
    /// 500.
    ServerError,
    /// Anthropic's 529, 503 elsewhere.
    Overloaded,
    /// Answer after `delay_ms`.
    Slow,
    /// A stream that stops after `after_chunks` chunks, without its end
    /// (no usage, no `[DONE]`); a request that is not streamed fails as
    /// the connection would, with a 502.
    CutStream,
}

/// A fault for the next request(s) to a provider.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Fault {
    /// The provider.
    pub provider: Provider,
    /// What goes wrong.
    pub kind: FaultKind,
    /// For how many requests (1 by default).
    #[serde(default = "one")]
    pub count: u32,
    /// `Retry-After`, seconds (rate limits; 1 by default).
    #[serde(default)]
    pub retry_after_s: Option<u64>,
    /// How slow (`slow`; 2 000 by default).
    #[serde(default)]
    pub delay_ms: Option<u64>,
    /// Chunks before the cut (`cut-stream`; 2 by default).
    #[serde(default)]
    pub after_chunks: Option<usize>,
}

fn one() -> u32 {
    1
}

/// Faults waiting, per provider, in order.
#[derive(Default)]
pub struct Faults {
    queued: Mutex<HashMap<Provider, VecDeque<Fault>>>,
}

impl Faults {
    /// Queue `fault`.
    pub fn add(&self, fault: Fault) {
        self.queued
            .lock()
            .entry(fault.provider)
            .or_default()
            .push_back(fault);
    }

    /// The fault for the next request to `provider`, if any.
    pub fn take(&self, provider: Provider) -> Option<Fault> {
        let mut queued = self.queued.lock();
        let queue = queued.get_mut(&provider)?;
        let front = queue.front_mut()?;
        let fault = front.clone();
        front.count = front.count.saturating_sub(1);
        if front.count == 0 {
            queue.pop_front();
        }
        Some(fault)
    }
}

/// Most requests kept.
const KEPT: usize = 1_000;

/// A request the simulator got.
#[derive(Debug, Clone, Serialize)]
pub struct Logged {
    /// The provider.
    pub provider: Provider,
    /// The path.
    pub path: String,
    /// The credentials it carried (the key's header, the key masked).
    pub auth: String,
    /// Its JSON body (or a note for multipart bodies).
    pub body: Value,
}

/// Requests received, newest last.
#[derive(Default)]
pub struct RequestLog {
    entries: Mutex<VecDeque<Logged>>,
}

impl RequestLog {
    /// Remember a request.
    pub fn push(&self, entry: Logged) {
        let mut entries = self.entries.lock();
        if entries.len() == KEPT {
            entries.pop_front();
        }
        entries.push_back(entry);
    }

    /// Everything kept.
    pub fn all(&self) -> Vec<Logged> {
        self.entries.lock().iter().cloned().collect()
    }
}

async fn add_fault(State(sim): State<Arc<Sim>>, Json(fault): Json<Fault>) -> Json<Value> {
    sim.faults.add(fault);
    Json(json!({"queued": true}))
}

async fn requests(State(sim): State<Arc<Sim>>) -> Json<Value> {
    Json(json!(sim.requests.all()))
}

async fn forget(State(sim): State<Arc<Sim>>) -> Json<Value> {
    sim.requests.entries.lock().clear();
    Json(json!({"cleared": true}))
}

#[derive(Deserialize)]
struct Pace {
    chunk_ms: u64,
}

async fn set_pace(State(sim): State<Arc<Sim>>, Json(pace): Json<Pace>) -> Json<Value> {
    let ms = pace.chunk_ms.min(10_000);
    sim.pace_ms.store(ms, std::sync::atomic::Ordering::Relaxed);
    Json(json!({"chunk_ms": ms}))
}

pub fn router(sim: Arc<Sim>) -> axum::Router {
    axum::Router::new()
        .route("/_sim/faults", post(add_fault))
        .route("/_sim/pace", post(set_pace))
        .route(
            "/_sim/requests",
            axum::routing::get(requests).delete(forget),
        )
        .with_state(sim)
}
