//! `system`: facts about the host for status displays: version, uptime,
//! loaded cogs, database and cache health (a real ping each), and the bot's
//! shards and guild count from the shard monitor (every process's shards).

use std::time::Instant;

use arc_swap::ArcSwap;
use std::sync::Arc;

use super::CogState;
use crate::wit::baseline::cog::system::{
    CogSummary, Host, HostInfo, ServiceHealth, ShardInfo, ShardState, SystemError,
};

/// What the host knows about itself, shared by every invocation.
pub struct HostFacts {
    started: Instant,
    process: String,
    cogs: ArcSwap<Vec<(String, String)>>,
}

impl HostFacts {
    /// Facts of a host starting now.
    pub fn new() -> Self {
        let host = std::env::var("HOSTNAME")
            .ok()
            .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "localhost".into());
        let instance = uuid::Uuid::new_v4().simple().to_string();
        Self {
            started: Instant::now(),
            process: format!("{host}/{}/{}", std::process::id(), &instance[..8]),
            cogs: ArcSwap::from_pointee(Vec::new()),
        }
    }

    /// Record the loaded cogs (name, version); called by the registry on every change.
    pub fn set_cogs(&self, cogs: Vec<(String, String)>) {
        self.cogs.store(Arc::new(cogs));
    }

    /// Seconds since start.
    /// This process, as other processes of the bot see it: `host/pid/instance`.
    pub fn process(&self) -> &str {
        &self.process
    }

    pub fn uptime_seconds(&self) -> u64 {
        self.started.elapsed().as_secs()
    }
}

impl Default for HostFacts {
    fn default() -> Self {
        Self::new()
    }
}

impl CogState {
    fn system_enter(&mut self) -> wasmtime::Result<Result<(), SystemError>> {
        Ok(self.grants.check("system").map_err(SystemError::Denied))
    }
}

impl Host for CogState {
    async fn host(&mut self) -> wasmtime::Result<HostInfo> {
        let facts = &self.services.host;
        // Without the grant the cog still learns the version, never the cog list.
        let cogs = if self.grants.allows("system") {
            facts
                .cogs
                .load()
                .iter()
                .map(|(name, version)| CogSummary {
                    name: name.clone(),
                    version: version.clone(),
                })
                .collect()
        } else {
            Vec::new()
        };
        Ok(HostInfo {
            version: crate::VERSION.to_string(),
            uptime_seconds: facts.uptime_seconds(),
            cogs,
        })
    }

    async fn guild_count(&mut self) -> wasmtime::Result<Result<u32, SystemError>> {
        if let Err(denied) = self.system_enter()? {
            return Ok(Err(denied));
        }
        Ok(self
            .all_shards()
            .await
            .map(|shards| shards.iter().map(|s| s.guilds).sum()))
    }

    async fn shards(&mut self) -> wasmtime::Result<Result<Vec<ShardInfo>, SystemError>> {
        if let Err(denied) = self.system_enter()? {
            return Ok(Err(denied));
        }
        Ok(self.all_shards().await.map(|shards| {
            shards
                .into_iter()
                .map(|s| ShardInfo {
                    id: s.id,
                    total: s.total,
                    state: match s.state.as_str() {
                        "connected" => ShardState::Connected,
                        "resuming" => ShardState::Resuming,
                        "connecting" => ShardState::Connecting,
                        _ => ShardState::Disconnected,
                    },
                    latency_ms: s.latency_ms.map(|ms| ms.round() as u32),
                    guilds: s.guilds,
                })
                .collect()
        }))
    }

    async fn database(&mut self) -> wasmtime::Result<Result<ServiceHealth, SystemError>> {
        if let Err(denied) = self.system_enter()? {
            return Ok(Err(denied));
        }
        let Some(db) = self.services.database.clone() else {
            return Ok(Err(SystemError::NotAvailable(
                "there is no database here (`baseline cog call` runs without one)".into(),
            )));
        };
        Ok(Ok(service_health(crate::probe::Probe::database(&db).await)))
    }

    async fn cache(&mut self) -> wasmtime::Result<Result<ServiceHealth, SystemError>> {
        if let Err(denied) = self.system_enter()? {
            return Ok(Err(denied));
        }
        let cache = self.services.cache.clone();
        Ok(Ok(service_health(
            crate::probe::Probe::cache(cache.as_ref()).await,
        )))
    }
}

/// A backend's health as the WIT carries it (no error text: cogs do not see it).
fn service_health(probe: crate::probe::Probe) -> ServiceHealth {
    ServiceHealth {
        backend: probe.backend,
        healthy: probe.healthy,
        latency_micros: probe.latency_micros,
    }
}

impl CogState {
    /// Every live shard of the bot, from the monitor.
    fn all_shards(
        &self,
    ) -> impl std::future::Future<
        Output = Result<Vec<crate::discord::shards::ShardRecord>, SystemError>,
    > + Send
    + 'static {
        all_shards(self.services.shards.clone())
    }
}

async fn all_shards(
    monitor: Option<Arc<crate::discord::ShardMonitor>>,
) -> Result<Vec<crate::discord::shards::ShardRecord>, SystemError> {
    let Some(monitor) = monitor else {
        return Err(SystemError::NotAvailable(
            "there is no Discord connection here (`baseline cog call` runs without one)".into(),
        ));
    };
    monitor
        .all()
        .await
        .map(|(_, shards)| shards)
        .map_err(|error| {
            SystemError::NotAvailable(format!("the shard monitor cannot be read: {error}"))
        })
}
