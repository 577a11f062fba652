//! `cache`: ephemeral values with a time to live, namespaced like `kv` by
//! cog and guild (cog-wide outside guilds), kept in the host's
//! [`Cache`](crate::cache::Cache): Redis or in-process.

use std::time::Duration;

use super::CogState;
use super::kv::MAX_KEY_BYTES;
use crate::cache::{CacheFailure, Space};
use crate::wit::baseline::cog::cache::{CacheError, Host};

/// Largest cached value, in bytes.
pub const MAX_VALUE_BYTES: usize = 256 << 10;
/// Longest time to live: one day.
pub const MAX_TTL_SECONDS: u32 = 86_400;

fn from_cache(failure: CacheFailure) -> CacheError {
    match failure {
        CacheFailure::NotAnInteger => CacheError::NotAnInteger,
        CacheFailure::Unavailable(message) => CacheError::Unavailable(message),
        // 0.1 has no quota case: `unavailable` with the quota named.
        CacheFailure::QuotaExceeded(message) => CacheError::Unavailable(message),
    }
}

impl CogState {
    /// Grant and key checks; the cog's space in this guild on success.
    fn cache_enter(&mut self, key: &str) -> Result<Space, CacheError> {
        if let Err(denial) = self.grants.check("cache") {
            return Err(CacheError::Denied(denial));
        }
        if key.is_empty() || key.len() > MAX_KEY_BYTES {
            return Err(CacheError::KeyTooLong(MAX_KEY_BYTES as u32));
        }
        let guild = self
            .scope
            .guild_id
            .map_or_else(|| "global".to_string(), |g| g.to_string());
        Ok(Space {
            prefix: format!("cog:{}:{guild}", self.scope.cog),
            max_keys: self.quotas.cache_keys,
            max_bytes: self.quotas.cache_bytes,
        })
    }
}

fn ttl(seconds: u32) -> Duration {
    Duration::from_secs(seconds.clamp(1, MAX_TTL_SECONDS).into())
}

impl Host for CogState {
    async fn get(&mut self, key: String) -> wasmtime::Result<Result<Option<Vec<u8>>, CacheError>> {
        Ok(match self.cache_enter(&key) {
            Ok(space) => self
                .services
                .cache
                .get(&space.key(&key))
                .await
                .map_err(from_cache),
            Err(error) => Err(error),
        })
    }

    async fn set(
        &mut self,
        key: String,
        value: Vec<u8>,
        ttl_seconds: u32,
    ) -> wasmtime::Result<Result<(), CacheError>> {
        let space = match self.cache_enter(&key) {
            Ok(space) => space,
            Err(error) => return Ok(Err(error)),
        };
        if value.len() > MAX_VALUE_BYTES {
            return Ok(Err(CacheError::ValueTooLarge(MAX_VALUE_BYTES as u32)));
        }
        Ok(self
            .services
            .cache
            .space_set(&space, &key, value, ttl(ttl_seconds))
            .await
            .map_err(from_cache))
    }

    async fn delete(&mut self, key: String) -> wasmtime::Result<Result<bool, CacheError>> {
        Ok(match self.cache_enter(&key) {
            Ok(space) => self
                .services
                .cache
                .space_delete(&space, &key)
                .await
                .map_err(from_cache),
            Err(error) => Err(error),
        })
    }

    async fn increment(
        &mut self,
        key: String,
        delta: i64,
        ttl_seconds: u32,
    ) -> wasmtime::Result<Result<i64, CacheError>> {
        Ok(match self.cache_enter(&key) {
            Ok(space) => self
                .services
                .cache
                .space_increment(&space, &key, delta, ttl(ttl_seconds))
                .await
                .map_err(from_cache),
            Err(error) => Err(error),
        })
    }
}
