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
    /// A write would pass the space's quota (which one, in words).
    #[error("{0}")]
    QuotaExceeded(String),
}

/// A bounded part of the cache: one cog's keys in one guild. Its keys are
/// `{prefix}:{key}`; what they hold together is counted and capped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Space {
    /// The key prefix (`cog:NAME:GUILD`).
    pub prefix: String,
    /// Most live keys.
    pub max_keys: u64,
    /// Most bytes (keys plus values).
    pub max_bytes: u64,
}

impl Space {
    /// The full key of `key` in this space.
    pub fn key(&self, key: &str) -> String {
        format!("{}:{key}", self.prefix)
    }

    fn refusal(&self, what: &str, used: u64, max: u64) -> CacheFailure {
        CacheFailure::QuotaExceeded(format!(
            "cache quota reached: `{}` holds {used} of {max} {what}",
            self.prefix
        ))
    }
}

/// What a space holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct SpaceUsage {
    /// Live keys.
    pub keys: u64,
    /// Bytes of keys and values.
    pub bytes: u64,
}

/// The longest time to live of anything in a space (the space's own
/// bookkeeping keys live this long after the last write).
pub const MAX_SPACE_TTL: Duration = Duration::from_secs(86_400);

/// An ephemeral key-value store with pub/sub.
#[async_trait::async_trait]
pub trait Cache: Send + Sync {
    /// `redis` or `in-process`.
    fn backend(&self) -> &'static str;
    /// Read a live value.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, CacheFailure>;
    /// Write with a time to live.
    async fn set(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), CacheFailure>;
    /// Write only over a live value (a session's touch must not bring back
    /// a session ended meanwhile); true when it was written.
    async fn replace(&self, key: &str, value: Vec<u8>, ttl: Duration)
    -> Result<bool, CacheFailure>;
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
    /// Write `key` in `space` with a time to live, refused when the space
    /// would hold more than its quota.
    async fn space_set(
        &self,
        space: &Space,
        key: &str,
        value: Vec<u8>,
        ttl: Duration,
    ) -> Result<(), CacheFailure>;
    /// `increment` of `key` in `space`, counted against its quota.
    async fn space_increment(
        &self,
        space: &Space,
        key: &str,
        delta: i64,
        ttl: Duration,
    ) -> Result<i64, CacheFailure>;
    /// Delete `key` in `space`; true when a live value existed.
    async fn space_delete(&self, space: &Space, key: &str) -> Result<bool, CacheFailure>;
    /// What the spaces whose prefix starts with `prefix` hold, by prefix.
    async fn space_usage(&self, prefix: &str) -> Result<Vec<(String, SpaceUsage)>, CacheFailure>;
}

/// Redis at `url` when given, else in process holding at most `memory_bytes`.
pub async fn open(
    url: Option<&str>,
    memory_bytes: u64,
) -> Result<std::sync::Arc<dyn Cache>, CacheFailure> {
    Ok(match url {
        Some(url) => std::sync::Arc::new(RedisCache::connect(url).await?),
        None => std::sync::Arc::new(InProcessCache::new(memory_bytes)),
    })
}
