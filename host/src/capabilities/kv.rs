//! `kv`: durable key-value storage, scoped to cog + guild (optionally user,
//! or cog-wide). The cog names only a key and a scope; the host adds the cog
//! and guild from the invocation, so one cog cannot reach another cog's or
//! another guild's keys whatever it passes. Storage is a
//! [`KvStore`](crate::store::kv::KvStore): in-process or the database.

use std::time::Duration;

use super::CogState;
use crate::store::StoreError;
use crate::store::kv::{Namespace, Partition, Quota};
use crate::wit::baseline::cog::kv::{Host, KeyPage, KvError, Scope as KvScope};

/// Longest key, in bytes.
pub const MAX_KEY_BYTES: usize = 512;
/// Largest value, in bytes.
pub const MAX_VALUE_BYTES: usize = 256 << 10;
/// Most keys per listing page.
pub const MAX_PAGE: u32 = 1000;

fn from_store(error: StoreError) -> KvError {
    match error {
        StoreError::NotAnInteger => KvError::NotAnInteger,
        // 0.1 has no quota case: `unavailable` with the quota named.
        StoreError::QuotaExceeded(message) => KvError::Unavailable(message),
        // The host is out of space: said as such, and the operator alerted
        // (logged and counted where the error was made).
        StoreError::Full(message) => {
            KvError::Unavailable(format!("the bot's storage is full: {message}"))
        }
        other => KvError::Unavailable(other.to_string()),
    }
}

impl CogState {
    /// Resolve the cog's scope to a namespace, or the error the cog receives.
    fn kv_namespace(&self, scope: KvScope) -> Result<Namespace, KvError> {
        let partition = match (scope, self.scope.guild_id) {
            (KvScope::Global, _) => Partition::Global,
            (KvScope::Guild, Some(guild)) => Partition::Guild(guild),
            (KvScope::User(user), Some(guild)) => Partition::User { guild, user },
            (_, None) => return Err(KvError::NoGuild),
        };
        Ok(Namespace {
            cog: self.scope.cog.to_string(),
            partition,
        })
    }

    /// The common front of every kv call: budget, grant, key, namespace.
    fn kv_enter(
        &mut self,
        scope: KvScope,
        key: &str,
    ) -> wasmtime::Result<Result<Namespace, KvError>> {
        if let Err(denial) = self.grants.check("kv") {
            return Ok(Err(KvError::Denied(denial)));
        }
        if key.len() > MAX_KEY_BYTES || (key.is_empty()) {
            return Ok(Err(KvError::KeyTooLong(MAX_KEY_BYTES as u32)));
        }
        Ok(self.kv_namespace(scope))
    }
}

impl CogState {
    /// The quota of the space `ns` counts in.
    fn kv_quota(&self, ns: &Namespace) -> Quota {
        match ns.partition {
            Partition::Global => Quota {
                keys: self.quotas.kv_global_keys,
                bytes: self.quotas.kv_global_bytes,
                total_bytes: self.quotas.kv_total_bytes,
            },
            _ => Quota {
                keys: self.quotas.kv_keys,
                bytes: self.quotas.kv_bytes,
                total_bytes: self.quotas.kv_total_bytes,
            },
        }
    }
}

impl Host for CogState {
    async fn get(
        &mut self,
        scope: KvScope,
        key: String,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, KvError>> {
        let ns = match self.kv_enter(scope, &key)? {
            Ok(ns) => ns,
            Err(error) => return Ok(Err(error)),
        };
        Ok(self.services.kv.get(&ns, &key).await.map_err(from_store))
    }

    async fn set(
        &mut self,
        scope: KvScope,
        key: String,
        value: Vec<u8>,
        ttl_seconds: Option<u32>,
    ) -> wasmtime::Result<Result<(), KvError>> {
        let ns = match self.kv_enter(scope, &key)? {
            Ok(ns) => ns,
            Err(error) => return Ok(Err(error)),
        };
        if value.len() > MAX_VALUE_BYTES {
            return Ok(Err(KvError::ValueTooLarge(MAX_VALUE_BYTES as u32)));
        }
        let ttl = ttl_seconds.map(|s| Duration::from_secs(s.into()));
        Ok(self
            .services
            .kv
            .set(&ns, &key, value, ttl, self.kv_quota(&ns))
            .await
            .map_err(from_store))
    }

    async fn delete(
        &mut self,
        scope: KvScope,
        key: String,
    ) -> wasmtime::Result<Result<bool, KvError>> {
        let ns = match self.kv_enter(scope, &key)? {
            Ok(ns) => ns,
            Err(error) => return Ok(Err(error)),
        };
        Ok(self.services.kv.delete(&ns, &key).await.map_err(from_store))
    }

    async fn list_keys(
        &mut self,
        scope: KvScope,
        prefix: String,
        cursor: Option<String>,
        limit: u32,
    ) -> wasmtime::Result<Result<KeyPage, KvError>> {
        // An empty prefix lists everything; only its length is checked.
        let probe = if prefix.is_empty() {
            "-"
        } else {
            prefix.as_str()
        };
        let ns = match self.kv_enter(scope, probe)? {
            Ok(ns) => ns,
            Err(error) => return Ok(Err(error)),
        };
        let limit = limit.clamp(1, MAX_PAGE);
        Ok(self
            .services
            .kv
            .list(&ns, &prefix, cursor.as_deref(), limit)
            .await
            .map(|page| KeyPage {
                keys: page.keys,
                next_cursor: page.next_cursor,
            })
            .map_err(from_store))
    }

    async fn increment(
        &mut self,
        scope: KvScope,
        key: String,
        delta: i64,
    ) -> wasmtime::Result<Result<i64, KvError>> {
        let ns = match self.kv_enter(scope, &key)? {
            Ok(ns) => ns,
            Err(error) => return Ok(Err(error)),
        };
        Ok(self
            .services
            .kv
            .increment(&ns, &key, delta, self.kv_quota(&ns))
            .await
            .map_err(from_store))
    }
}
