//! Cog reload notices between the processes of one bot, over the cache's
//! pub/sub (Redis when shared). When a process reloads a cog (its file
//! changed, or an operator asked through the API), it publishes a notice;
//! every other process reloads that cog from its own copy of the file, so
//! a reload asked of one process reaches all of them. Loads at start-up are
//! not announced, and a reload made on a notice is not announced again.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{LoadedCog, Runtime};
use crate::cache::CacheFailure;

/// The pub/sub channel.
pub const CHANNEL: &str = "baseline:cogs";

/// "I reloaded this cog."
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notice {
    /// The process that reloaded it (`host/pid/instance`).
    pub process: String,
    /// The cog.
    pub cog: String,
    /// SHA-256 of the file it now runs.
    pub hash: String,
}

impl Runtime {
    /// Tell the other processes that `cog` was reloaded here.
    pub(crate) async fn announce(&self, cog: &LoadedCog) {
        let notice = Notice {
            process: self.services.host.process().to_string(),
            cog: cog.name().to_string(),
            hash: cog.hash.clone(),
        };
        let message = serde_json::to_string(&notice).expect("a notice serialises");
        if let Err(error) = self.services.cache.publish(CHANNEL, &message).await {
            tracing::warn!(%error, cog = %notice.cog, "could not tell the other processes about the reload");
        }
    }

    /// Follow the other processes' notices until the runtime is dropped.
    pub async fn follow_notices(
        self: &Arc<Self>,
    ) -> Result<tokio::task::JoinHandle<()>, CacheFailure> {
        let mut messages = self.services.cache.subscribe(CHANNEL).await?;
        let runtime = Arc::downgrade(self);
        Ok(tokio::spawn(async move {
            while let Some(message) = messages.recv().await {
                let Some(runtime) = runtime.upgrade() else {
                    return;
                };
                let notice: Notice = match serde_json::from_str(&message) {
                    Ok(notice) => notice,
                    Err(error) => {
                        tracing::warn!(%error, message, "an unreadable cog notice; ignored");
                        continue;
                    }
                };
                if notice.process == runtime.services.host.process() {
                    continue;
                }
                let Some(cog) = runtime.registry.get(&notice.cog) else {
                    tracing::info!(cog = %notice.cog, from = %notice.process, "another process reloaded a cog this one does not run");
                    continue;
                };
                tracing::info!(cog = %notice.cog, from = %notice.process, "reloading on a notice from another process");
                match runtime.load_quietly(&cog.path).await {
                    Ok(loaded) if loaded.hash != notice.hash => tracing::warn!(
                        cog = %notice.cog, here = %loaded.hash, there = %notice.hash,
                        "this process's file of the cog differs from the other process's"
                    ),
                    _ => {}
                }
            }
        }))
    }
}
