//! `system`: facts about the host for status displays: version, uptime,
//! loaded cogs, database and cache health. Guilds and shards come with the
//! Discord integration and answer `not-available` until then.

use std::time::Instant;

use arc_swap::ArcSwap;
use std::sync::Arc;

use super::CogState;
use crate::runtime::bindings::baseline::cog::system::{
    CogSummary, Host, HostInfo, ServiceHealth, ShardInfo, SystemError,
};

/// What the host knows about itself, shared by every invocation.
pub struct HostFacts {
    started: Instant,
    cogs: ArcSwap<Vec<(String, String)>>,
}

impl HostFacts {
    /// Facts of a host starting now.
    pub fn new() -> Self {
        Self {
            started: Instant::now(),
            cogs: ArcSwap::from_pointee(Vec::new()),
        }
    }

    /// Record the loaded cogs (name, version); called by the registry on every change.
    pub fn set_cogs(&self, cogs: Vec<(String, String)>) {
        self.cogs.store(Arc::new(cogs));
    }

    /// Seconds since start.
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
        self.count_call()?;
        Ok(self.grants.check("system").map_err(SystemError::Denied))
    }
}

impl Host for CogState {
    async fn host(&mut self) -> wasmtime::Result<HostInfo> {
        self.count_call()?;
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
        Ok(Err(SystemError::NotAvailable(
            "guild count arrives with the Discord integration".into(),
        )))
    }

    async fn shards(&mut self) -> wasmtime::Result<Result<Vec<ShardInfo>, SystemError>> {
        if let Err(denied) = self.system_enter()? {
            return Ok(Err(denied));
        }
        Ok(Err(SystemError::NotAvailable(
            "shard status arrives with the Discord integration".into(),
        )))
    }

    async fn database(&mut self) -> wasmtime::Result<Result<ServiceHealth, SystemError>> {
        if let Err(denied) = self.system_enter()? {
            return Ok(Err(denied));
        }
        Ok(Err(SystemError::NotAvailable(
            "database health arrives with the store".into(),
        )))
    }

    async fn cache(&mut self) -> wasmtime::Result<Result<ServiceHealth, SystemError>> {
        if let Err(denied) = self.system_enter()? {
            return Ok(Err(denied));
        }
        Ok(Ok(ServiceHealth {
            backend: "in-process".into(),
            healthy: true,
            latency_micros: Some(0),
        }))
    }
}
