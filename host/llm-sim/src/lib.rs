//! A local LLM provider for tests and for `baseline run` without a key:
//! OpenAI (chat completions, images, transcription, token counting),
//! Anthropic (messages, token counting, prompt caching), Gemini
//! (generateContent, streamGenerateContent, countTokens) and xAI (OpenAI's
//! shapes with xAI's usage rules), each on its real wire format under its
//! own base URL on one loopback port, so the host's real clients are what
//! the tests exercise.
//!
//! Replies are deterministic ([`reply`]): the same request gets the same
//! answer, a tool call when a tool is named or forced, JSON that fits a
//! requested schema, usage numbers from a fixed token estimate, cached
//! tokens when a prefix is sent again. A control API under `/_sim/` injects
//! faults (429 with Retry-After, 500, overloaded, slow, a stream cut after
//! N chunks) and reads back the requests it got.
//!
//! It depends on nothing of the host.

pub mod anthropic;
pub mod control;
pub mod gemini;
pub mod openai;
pub mod reply;
pub mod tokens;
pub mod wire;

use std::net::SocketAddr;
use std::sync::Arc;

pub use control::{Fault, FaultKind, Provider};

/// The simulator's shared state.
#[derive(Default)]
pub struct Sim {
    /// Faults waiting for the next requests, per provider.
    pub faults: control::Faults,
    /// Requests received, newest last (bounded).
    pub requests: control::RequestLog,
    /// Prompt prefixes seen, for cache hits.
    pub cache: tokens::PrefixCache,
    /// Milliseconds between streamed events (0: all at once).
    pub pace_ms: std::sync::atomic::AtomicU64,
}

impl Sim {
    /// The pause between streamed events.
    pub fn pace(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.pace_ms.load(std::sync::atomic::Ordering::Relaxed))
    }
}

/// A running simulator.
pub struct LlmSimulator {
    addr: SocketAddr,
    sim: Arc<Sim>,
    task: tokio::task::JoinHandle<()>,
}

impl LlmSimulator {
    /// Start on `addr` (port 0 picks a free one).
    pub async fn start(addr: SocketAddr) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let sim = Arc::new(Sim::default());
        let app = openai::router(sim.clone())
            .merge(anthropic::router(sim.clone()))
            .merge(gemini::router(sim.clone()))
            .merge(control::router(sim.clone()));
        let task = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, app).await {
                tracing::error!(%error, "the LLM simulator stopped");
            }
        });
        Ok(Self { addr, sim, task })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL of `provider`, as its client wants it
    /// (`…/openai/v1`, `…/anthropic`, `…/gemini/v1beta`, `…/xai/v1`).
    pub fn base_url(&self, provider: Provider) -> String {
        format!("http://{}{}", self.addr, provider.base_path())
    }

    /// The control API's base (`/_sim/…`).
    pub fn control_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Pause `pace` between streamed events, as a model generating would
    /// (`POST /_sim/pace {"chunk_ms": 40}` does the same).
    pub fn set_pace(&self, pace: std::time::Duration) {
        self.sim.pace_ms.store(
            pace.as_millis().min(10_000) as u64,
            std::sync::atomic::Ordering::Relaxed,
        );
    }

    /// The shared state.
    pub fn sim(&self) -> &Arc<Sim> {
        &self.sim
    }
}

impl Drop for LlmSimulator {
    fn drop(&mut self) {
        self.task.abort();
    }
}
