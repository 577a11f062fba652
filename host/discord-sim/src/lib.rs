//! A local Discord for tests and for `baseline run` without a token: the
//! gateway (WebSocket, JSON text frames), REST (`/api/v10`) and OAuth2 on
//! loopback, speaking the real protocols so the host's real client
//! (serenity) is what gets exercised, plus a control API under `/_sim/` to
//! act as users and read back what the bot did. Every payload it sends is
//! checked in its tests by deserialising it with serenity's own model types.
//!
//! Layout: [`world`] holds the state and renders Discord's JSON;
//! [`actions`] changes it and tells the [`gateway`]; [`rest`] and
//! [`oauth`] are what the bot calls; [`control`] is what tests and people
//! call; [`faults`] are injected REST failures.
//!
//! It depends on nothing of the host.

pub mod actions;
pub mod control;
pub mod error;
pub mod faults;
pub mod gateway;
pub mod limits;
pub mod oauth;
pub mod rest;
pub mod world;

use std::net::SocketAddr;
use std::sync::Arc;

pub use world::World;

/// The simulator's shared state: the world, the gateway sessions, the
/// injected REST faults.
pub struct Sim {
    /// Users, guilds, messages, commands, interactions.
    pub world: World,
    /// Gateway sessions.
    pub gateway: gateway::Gateway,
    /// Injected REST faults.
    pub faults: faults::RestFaults,
    shards: std::sync::atomic::AtomicU64,
}

impl Sim {
    /// The shard count `gateway/bot` recommends.
    pub fn recommended_shards(&self) -> u64 {
        self.shards.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Change the shard count `gateway/bot` recommends.
    pub fn set_recommended_shards(&self, shards: u64) {
        self.shards
            .store(shards.max(1), std::sync::atomic::Ordering::Relaxed);
    }
}

/// A running simulator.
pub struct Simulator {
    addr: SocketAddr,
    sim: Arc<Sim>,
    task: tokio::task::JoinHandle<()>,
}

impl Simulator {
    /// Start on `addr` (port 0 picks a free one) with the seeded demo world.
    pub async fn start(addr: SocketAddr) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let sim = Arc::new(Sim {
            world: World::demo(addr),
            gateway: gateway::Gateway::default(),
            faults: faults::RestFaults::default(),
            shards: std::sync::atomic::AtomicU64::new(1),
        });
        let app = rest::router(sim.clone())
            .merge(gateway::router(sim.clone()))
            .merge(control::router(sim.clone()))
            .merge(oauth::page_router(sim.clone()));
        // Gateway frames are small and latency-bound: no Nagle.
        let listener = axum::serve::ListenerExt::tap_io(listener, |stream| {
            let _ = stream.set_nodelay(true);
        });
        let task = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, app).await {
                tracing::error!(%error, "the Discord simulator stopped");
            }
        });
        Ok(Self { addr, sim, task })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its REST base, as serenity's `HttpBuilder::proxy` wants it.
    pub fn http_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The simulated world.
    pub fn world(&self) -> &World {
        &self.sim.world
    }

    /// Everything: world, gateway, faults.
    pub fn sim(&self) -> &Arc<Sim> {
        &self.sim
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        self.task.abort();
    }
}
