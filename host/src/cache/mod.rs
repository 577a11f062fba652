//! The cache: ephemeral values with a time to live, atomic counters and
//! pub/sub for notices between processes ("cog reloaded"). **Redis** when
//! `REDIS_URL` is set, an **in-process** map otherwise (the embedded default);
//! both implement [`Cache`] and pass the same test suite.
//!
//! Keys arrive fully namespaced; nothing here trusts a cog.

mod memory;
mod redis_cache;

use std::time::Duration;

pub use memory::InProcessCache;
pub use redis_cache::RedisCache;
use tokio::sync::mpsc;

/// Why a cache operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CacheFailure {
    /// `increment` on a value that is not an integer.
    #[error("the cached value is not an integer")]
    NotAnInteger,
    /// The cache server did not answer (message); retrying later may work.
    #[error("cache unavailable: {0}")]
    Unavailable(String),
}

/// An ephemeral key-value store with pub/sub.
#[async_trait::async_trait]
pub trait Cache: Send + Sync {
    /// `redis` or `in-process`.
    fn backend(&self) -> &'static str;
    /// Read a live value.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, CacheFailure>;
    /// Write with a time to live.
    async fn set(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), CacheFailure>;
    /// Delete; true when a live value existed.
    async fn delete(&self, key: &str) -> Result<bool, CacheFailure>;
    /// Add to an integer (missing counts as 0, created with `ttl`); the new value.
    async fn increment(&self, key: &str, delta: i64, ttl: Duration) -> Result<i64, CacheFailure>;
    /// Send `message` to every subscriber of `channel`, in every process.
    async fn publish(&self, channel: &str, message: &str) -> Result<(), CacheFailure>;
    /// Messages of `channel` from now on. The subscription survives the
    /// server going away and coming back (messages sent meanwhile are lost).
    async fn subscribe(
        &self,
        channel: &str,
    ) -> Result<mpsc::UnboundedReceiver<String>, CacheFailure>;
    /// One round trip; its duration.
    async fn ping(&self) -> Result<Duration, CacheFailure>;
}

/// Redis at `url` when given, else in process.
pub async fn open(url: Option<&str>) -> Result<std::sync::Arc<dyn Cache>, CacheFailure> {
    Ok(match url {
        Some(url) => std::sync::Arc::new(RedisCache::connect(url).await?),
        None => std::sync::Arc::new(InProcessCache::default()),
    })
}
