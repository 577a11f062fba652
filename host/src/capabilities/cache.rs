//! `cache`: ephemeral values with a time to live, namespaced like `kv` by
//! cog and guild (cog-wide outside guilds). [`CacheStore`] is the seam for
//! Redis; [`InProcessCache`] is the embedded default.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::CogState;
use super::kv::MAX_KEY_BYTES;
use crate::runtime::bindings::baseline::cog::cache::{CacheError, Host};
use crate::store::kv::parse_integer;

/// Largest cached value, in bytes.
pub const MAX_VALUE_BYTES: usize = 256 << 10;
/// Longest time to live: one day.
pub const MAX_TTL_SECONDS: u32 = 86_400;

/// Storage behind `cache`; keys arrive fully namespaced.
#[async_trait::async_trait]
pub trait CacheStore: Send + Sync {
    /// Read a live value.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, CacheError>;
    /// Write with a time to live.
    async fn set(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), CacheError>;
    /// Delete; true when a live value existed.
    async fn delete(&self, key: &str) -> Result<bool, CacheError>;
    /// Add to an integer, creating it with `ttl` when missing.
    async fn increment(&self, key: &str, delta: i64, ttl: Duration) -> Result<i64, CacheError>;
}

/// An in-memory cache with lazy expiry.
#[derive(Default)]
pub struct InProcessCache {
    entries: Mutex<HashMap<String, (Vec<u8>, Instant)>>,
}

#[async_trait::async_trait]
impl CacheStore for InProcessCache {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, CacheError> {
        let mut entries = self.entries.lock();
        match entries.get(key) {
            Some((_, expires)) if *expires <= Instant::now() => {
                entries.remove(key);
                Ok(None)
            }
            found => Ok(found.map(|(value, _)| value.clone())),
        }
    }

    async fn set(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), CacheError> {
        self.entries
            .lock()
            .insert(key.to_string(), (value, Instant::now() + ttl));
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<bool, CacheError> {
        Ok(self
            .entries
            .lock()
            .remove(key)
            .is_some_and(|(_, expires)| expires > Instant::now()))
    }

    async fn increment(&self, key: &str, delta: i64, ttl: Duration) -> Result<i64, CacheError> {
        let now = Instant::now();
        let mut entries = self.entries.lock();
        let (current, expires) = match entries.get(key).filter(|(_, expires)| *expires > now) {
            Some((value, expires)) => (
                parse_integer(value).ok_or(CacheError::NotAnInteger)?,
                *expires,
            ),
            None => (0, now + ttl),
        };
        let next = current.checked_add(delta).ok_or(CacheError::NotAnInteger)?;
        entries.insert(key.to_string(), (next.to_string().into_bytes(), expires));
        Ok(next)
    }
}

impl CogState {
    /// Budget, grant and key checks; the namespaced key on success.
    fn cache_enter(&mut self, key: &str) -> wasmtime::Result<Result<String, CacheError>> {
        self.count_call()?;
        if let Err(denial) = self.grants.check("cache") {
            return Ok(Err(CacheError::Denied(denial)));
        }
        if key.is_empty() || key.len() > MAX_KEY_BYTES {
            return Ok(Err(CacheError::KeyTooLong(MAX_KEY_BYTES as u32)));
        }
        let guild = self
            .scope
            .guild_id
            .map_or_else(|| "global".to_string(), |g| g.to_string());
        Ok(Ok(format!("cog:{}:{guild}:{key}", self.scope.cog)))
    }
}

fn ttl(seconds: u32) -> Duration {
    Duration::from_secs(seconds.clamp(1, MAX_TTL_SECONDS).into())
}

impl Host for CogState {
    async fn get(&mut self, key: String) -> wasmtime::Result<Result<Option<Vec<u8>>, CacheError>> {
        match self.cache_enter(&key)? {
            Ok(key) => Ok(self.services.cache.get(&key).await),
            Err(error) => Ok(Err(error)),
        }
    }

    async fn set(
        &mut self,
        key: String,
        value: Vec<u8>,
        ttl_seconds: u32,
    ) -> wasmtime::Result<Result<(), CacheError>> {
        let key = match self.cache_enter(&key)? {
            Ok(key) => key,
            Err(error) => return Ok(Err(error)),
        };
        if value.len() > MAX_VALUE_BYTES {
            return Ok(Err(CacheError::ValueTooLarge(MAX_VALUE_BYTES as u32)));
        }
        Ok(self.services.cache.set(&key, value, ttl(ttl_seconds)).await)
    }

    async fn delete(&mut self, key: String) -> wasmtime::Result<Result<bool, CacheError>> {
        match self.cache_enter(&key)? {
            Ok(key) => Ok(self.services.cache.delete(&key).await),
            Err(error) => Ok(Err(error)),
        }
    }

    async fn increment(
        &mut self,
        key: String,
        delta: i64,
        ttl_seconds: u32,
    ) -> wasmtime::Result<Result<i64, CacheError>> {
        match self.cache_enter(&key)? {
            Ok(key) => Ok(self
                .services
                .cache
                .increment(&key, delta, ttl(ttl_seconds))
                .await),
            Err(error) => Ok(Err(error)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn expires_and_counts() {
        let cache = InProcessCache::default();
        cache
            .set("a", b"1".to_vec(), Duration::from_millis(1))
            .await
            .unwrap();
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(cache.get("a").await.unwrap(), None);
        assert_eq!(
            cache
                .increment("n", 2, Duration::from_secs(60))
                .await
                .unwrap(),
            2
        );
        assert_eq!(
            cache
                .increment("n", 3, Duration::from_secs(60))
                .await
                .unwrap(),
            5
        );
        assert!(cache.delete("n").await.unwrap());
        assert!(!cache.delete("n").await.unwrap());
    }
}
