//! A local Discord for tests and for `baseline run` without a token: the
//! gateway (WebSocket, JSON text frames) and REST (`/api/v10`) on loopback,
//! speaking the real protocols so the host's real client (serenity) is what
//! gets exercised. Every payload it sends is checked in its tests by
//! deserialising it with serenity's own model types.
//!
//! It depends on nothing of the host.

mod gateway;
mod rest;
pub mod world;

use std::net::SocketAddr;
use std::sync::Arc;

pub use world::World;

/// A running simulator.
pub struct Simulator {
    addr: SocketAddr,
    world: Arc<World>,
    task: tokio::task::JoinHandle<()>,
}

impl Simulator {
    /// Start on `addr` (port 0 picks a free one) with the seeded demo world.
    pub async fn start(addr: SocketAddr) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let world = Arc::new(World::demo(addr));
        let app = rest::router(world.clone()).merge(gateway::router(world.clone()));
        let task = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, app).await {
                tracing::error!(%error, "the Discord simulator stopped");
            }
        });
        Ok(Self { addr, world, task })
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
    pub fn world(&self) -> &Arc<World> {
        &self.world
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        self.task.abort();
    }
}
