//! `kv`: durable key-value storage, scoped to cog + guild (optionally user,
//! or cog-wide). The cog names only a key and a scope; the host adds the cog
//! and guild from the invocation, so one cog cannot reach another cog's or
//! another guild's keys whatever it passes.
//!
//! [`KvStore`] is the storage seam: [`InProcessKv`] now, SQL later.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::CogState;
use crate::runtime::bindings::baseline::cog::kv::{Host, KeyPage, KvError, Scope as KvScope};

/// Longest key, in bytes.
pub const MAX_KEY_BYTES: usize = 512;
/// Largest value, in bytes.
pub const MAX_VALUE_BYTES: usize = 256 << 10;
/// Most keys per listing page.
pub const MAX_PAGE: u32 = 1000;

/// Whose data a key belongs to, fully resolved by the host.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Partition {
    /// A guild's shared data.
    Guild(u64),
    /// One user's data in one guild.
    User {
        /// The guild.
        guild: u64,
        /// The user.
        user: u64,
    },
    /// The cog's data across guilds.
    Global,
}

/// A fully qualified key space: cog + partition.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Namespace {
    /// The owning cog.
    pub cog: String,
    /// The partition inside the cog's space.
    pub partition: Partition,
}

/// Storage behind `kv`. Implementations must keep namespaces apart.
#[async_trait::async_trait]
pub trait KvStore: Send + Sync {
    /// Read a live value.
    async fn get(&self, ns: &Namespace, key: &str) -> Result<Option<Vec<u8>>, KvError>;
    /// Write a value with an optional time to live.
    async fn set(
        &self,
        ns: &Namespace,
        key: &str,
        value: Vec<u8>,
        ttl: Option<Duration>,
    ) -> Result<(), KvError>;
    /// Delete; true when a live value existed.
    async fn delete(&self, ns: &Namespace, key: &str) -> Result<bool, KvError>;
    /// Keys with `prefix` after `cursor`, at most `limit`.
    async fn list(
        &self,
        ns: &Namespace,
        prefix: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<KeyPage, KvError>;
    /// Add to an integer value.
    async fn increment(&self, ns: &Namespace, key: &str, delta: i64) -> Result<i64, KvError>;
    /// Delete everything stored for `user` in any cog and guild; returns how many keys went.
    async fn forget_user(&self, user: u64) -> Result<u64, KvError>;
}

#[derive(Debug, Clone)]
struct Entry {
    value: Vec<u8>,
    expires: Option<Instant>,
}

impl Entry {
    fn live(&self, now: Instant) -> bool {
        self.expires.is_none_or(|at| at > now)
    }
}

/// The embedded default: a map in memory (lost on restart until the
/// database-backed store arrives).
#[derive(Default)]
pub struct InProcessKv {
    entries: Mutex<BTreeMap<(Namespace, String), Entry>>,
}

#[async_trait::async_trait]
impl KvStore for InProcessKv {
    async fn get(&self, ns: &Namespace, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        let entries = self.entries.lock();
        Ok(entries
            .get(&(ns.clone(), key.to_string()))
            .filter(|e| e.live(Instant::now()))
            .map(|e| e.value.clone()))
    }

    async fn set(
        &self,
        ns: &Namespace,
        key: &str,
        value: Vec<u8>,
        ttl: Option<Duration>,
    ) -> Result<(), KvError> {
        let expires = ttl.map(|ttl| Instant::now() + ttl);
        self.entries
            .lock()
            .insert((ns.clone(), key.to_string()), Entry { value, expires });
        Ok(())
    }

    async fn delete(&self, ns: &Namespace, key: &str) -> Result<bool, KvError> {
        let removed = self.entries.lock().remove(&(ns.clone(), key.to_string()));
        Ok(removed.is_some_and(|e| e.live(Instant::now())))
    }

    async fn list(
        &self,
        ns: &Namespace,
        prefix: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<KeyPage, KvError> {
        let now = Instant::now();
        let entries = self.entries.lock();
        let start = match cursor {
            Some(cursor) if cursor >= prefix => cursor.to_string(),
            _ => prefix.to_string(),
        };
        let mut keys = Vec::new();
        let mut more = false;
        for ((entry_ns, key), entry) in entries.range((ns.clone(), start)..) {
            if entry_ns != ns || !key.starts_with(prefix) {
                break;
            }
            if Some(key.as_str()) == cursor || !entry.live(now) {
                continue;
            }
            if keys.len() == limit as usize {
                more = true;
                break;
            }
            keys.push(key.clone());
        }
        let next_cursor = if more { keys.last().cloned() } else { None };
        Ok(KeyPage { keys, next_cursor })
    }

    async fn increment(&self, ns: &Namespace, key: &str, delta: i64) -> Result<i64, KvError> {
        let now = Instant::now();
        let mut entries = self.entries.lock();
        let slot = (ns.clone(), key.to_string());
        let (current, expires) = match entries.get(&slot).filter(|e| e.live(now)) {
            Some(entry) => (
                parse_integer(&entry.value).ok_or(KvError::NotAnInteger)?,
                entry.expires,
            ),
            None => (0, None),
        };
        let next = current.checked_add(delta).ok_or(KvError::NotAnInteger)?;
        entries.insert(
            slot,
            Entry {
                value: next.to_string().into_bytes(),
                expires,
            },
        );
        Ok(next)
    }

    async fn forget_user(&self, user: u64) -> Result<u64, KvError> {
        let mut entries = self.entries.lock();
        let before = entries.len();
        entries.retain(
            |(ns, _), _| !matches!(ns.partition, Partition::User { user: u, .. } if u == user),
        );
        Ok((before - entries.len()) as u64)
    }
}

/// Integers are stored as decimal text, so `get` shows them readably and
/// JSON helpers in the SDK read them as numbers.
pub fn parse_integer(bytes: &[u8]) -> Option<i64> {
    std::str::from_utf8(bytes).ok()?.trim().parse().ok()
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
        self.count_call()?;
        if let Err(denial) = self.grants.check("kv") {
            return Ok(Err(KvError::Denied(denial)));
        }
        if key.len() > MAX_KEY_BYTES || (key.is_empty()) {
            return Ok(Err(KvError::KeyTooLong(MAX_KEY_BYTES as u32)));
        }
        Ok(self.kv_namespace(scope))
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
        Ok(self.services.kv.get(&ns, &key).await)
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
        Ok(self.services.kv.set(&ns, &key, value, ttl).await)
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
        Ok(self.services.kv.delete(&ns, &key).await)
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
            .await)
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
        Ok(self.services.kv.increment(&ns, &key, delta).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(cog: &str, partition: Partition) -> Namespace {
        Namespace {
            cog: cog.into(),
            partition,
        }
    }

    #[tokio::test]
    async fn namespaces_are_apart() {
        let kv = InProcessKv::default();
        kv.set(&ns("a", Partition::Guild(1)), "k", b"a1".to_vec(), None)
            .await
            .unwrap();
        kv.set(&ns("b", Partition::Guild(1)), "k", b"b1".to_vec(), None)
            .await
            .unwrap();
        kv.set(&ns("a", Partition::Guild(2)), "k", b"a2".to_vec(), None)
            .await
            .unwrap();
        assert_eq!(
            kv.get(&ns("a", Partition::Guild(1)), "k")
                .await
                .unwrap()
                .unwrap(),
            b"a1"
        );
        assert_eq!(
            kv.get(&ns("b", Partition::Guild(1)), "k")
                .await
                .unwrap()
                .unwrap(),
            b"b1"
        );
        assert_eq!(
            kv.get(&ns("a", Partition::Guild(2)), "k")
                .await
                .unwrap()
                .unwrap(),
            b"a2"
        );
        assert_eq!(
            kv.get(&ns("a", Partition::Global), "k").await.unwrap(),
            None
        );
    }

    #[tokio::test]
    async fn listing_pages_through_a_prefix() {
        let kv = InProcessKv::default();
        let space = ns("a", Partition::Guild(1));
        for i in 0..25 {
            kv.set(&space, &format!("item:{i:02}"), vec![], None)
                .await
                .unwrap();
        }
        kv.set(&space, "other", vec![], None).await.unwrap();
        kv.set(&ns("a", Partition::Guild(2)), "item:99", vec![], None)
            .await
            .unwrap();
        let mut all = Vec::new();
        let mut cursor = None;
        loop {
            let page = kv
                .list(&space, "item:", cursor.as_deref(), 10)
                .await
                .unwrap();
            all.extend(page.keys);
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        assert_eq!(all.len(), 25);
        assert_eq!(all[0], "item:00");
        assert_eq!(all[24], "item:24");
    }

    #[tokio::test]
    async fn increment_counts_and_refuses_text() {
        let kv = InProcessKv::default();
        let space = ns("a", Partition::Global);
        assert_eq!(kv.increment(&space, "n", 5).await.unwrap(), 5);
        assert_eq!(kv.increment(&space, "n", -2).await.unwrap(), 3);
        kv.set(&space, "t", b"hello".to_vec(), None).await.unwrap();
        assert_eq!(
            kv.increment(&space, "t", 1).await,
            Err(KvError::NotAnInteger)
        );
    }

    #[tokio::test]
    async fn values_expire() {
        let kv = InProcessKv::default();
        let space = ns("a", Partition::Global);
        kv.set(&space, "k", b"v".to_vec(), Some(Duration::from_millis(1)))
            .await
            .unwrap();
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(kv.get(&space, "k").await.unwrap(), None);
    }

    #[tokio::test]
    async fn forgetting_a_user_removes_only_their_keys() {
        let kv = InProcessKv::default();
        kv.set(
            &ns("a", Partition::User { guild: 1, user: 7 }),
            "k",
            vec![1],
            None,
        )
        .await
        .unwrap();
        kv.set(
            &ns("b", Partition::User { guild: 2, user: 7 }),
            "k",
            vec![1],
            None,
        )
        .await
        .unwrap();
        kv.set(
            &ns("a", Partition::User { guild: 1, user: 8 }),
            "k",
            vec![1],
            None,
        )
        .await
        .unwrap();
        assert_eq!(kv.forget_user(7).await.unwrap(), 2);
        assert!(
            kv.get(&ns("a", Partition::User { guild: 1, user: 8 }), "k")
                .await
                .unwrap()
                .is_some()
        );
    }
}
