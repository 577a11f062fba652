//! Cog key-value storage: the [`KvStore`] seam, the in-process map of the
//! embedded default ([`InProcessKv`]) and the database-backed store
//! ([`SqlKv`], Postgres or SQLite). Keys are always fully namespaced
//! (cog + partition) by the caller; nothing here trusts a cog.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::{Database, StoreError, now_millis, with_pool};

/// One page of keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPage {
    /// Keys in ascending byte order.
    pub keys: Vec<String>,
    /// The cursor for the next page; absent on the last one.
    pub next_cursor: Option<String>,
}

/// Whose data a key belongs to, fully resolved by the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
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
    async fn get(&self, ns: &Namespace, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Write a value with an optional time to live.
    async fn set(
        &self,
        ns: &Namespace,
        key: &str,
        value: Vec<u8>,
        ttl: Option<Duration>,
    ) -> Result<(), StoreError>;
    /// Delete; true when a live value existed.
    async fn delete(&self, ns: &Namespace, key: &str) -> Result<bool, StoreError>;
    /// Keys with `prefix` after `cursor`, at most `limit`.
    async fn list(
        &self,
        ns: &Namespace,
        prefix: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<KeyPage, StoreError>;
    /// Add to an integer value.
    async fn increment(&self, ns: &Namespace, key: &str, delta: i64) -> Result<i64, StoreError>;
    /// Delete everything stored for `user` in any cog and guild; returns how many keys went.
    async fn forget_user(&self, user: u64) -> Result<u64, StoreError>;
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
    async fn get(&self, ns: &Namespace, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
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
    ) -> Result<(), StoreError> {
        let expires = ttl.map(|ttl| Instant::now() + ttl);
        self.entries
            .lock()
            .insert((ns.clone(), key.to_string()), Entry { value, expires });
        Ok(())
    }

    async fn delete(&self, ns: &Namespace, key: &str) -> Result<bool, StoreError> {
        let removed = self.entries.lock().remove(&(ns.clone(), key.to_string()));
        Ok(removed.is_some_and(|e| e.live(Instant::now())))
    }

    async fn list(
        &self,
        ns: &Namespace,
        prefix: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<KeyPage, StoreError> {
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

    async fn increment(&self, ns: &Namespace, key: &str, delta: i64) -> Result<i64, StoreError> {
        let now = Instant::now();
        let mut entries = self.entries.lock();
        let slot = (ns.clone(), key.to_string());
        let (current, expires) = match entries.get(&slot).filter(|e| e.live(now)) {
            Some(entry) => (
                parse_integer(&entry.value).ok_or(StoreError::NotAnInteger)?,
                entry.expires,
            ),
            None => (0, None),
        };
        let next = current.checked_add(delta).ok_or(StoreError::NotAnInteger)?;
        entries.insert(
            slot,
            Entry {
                value: next.to_string().into_bytes(),
                expires,
            },
        );
        Ok(next)
    }

    async fn forget_user(&self, user: u64) -> Result<u64, StoreError> {
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

impl Partition {
    /// (scope letter, guild, user) as stored in `cog_kv`.
    fn columns(self) -> (&'static str, i64, i64) {
        match self {
            Partition::Guild(guild) => ("g", guild as i64, 0),
            Partition::User { guild, user } => ("u", guild as i64, user as i64),
            Partition::Global => ("c", 0, 0),
        }
    }
}

/// `cog_kv` in the database. Expired rows are invisible at once and deleted
/// when next touched.
#[derive(Clone)]
pub struct SqlKv {
    db: Database,
}

impl SqlKv {
    /// A store over `db` (migrated).
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

const NS: &str = "cog = $1 AND scope = $2 AND guild_id = $3 AND user_id = $4";
/// Write one key (binds: cog, scope, guild, user, key, value, expires_at).
const UPSERT: &str = "INSERT INTO cog_kv (cog, scope, guild_id, user_id, key, value, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
     ON CONFLICT (cog, scope, guild_id, user_id, key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at";

#[async_trait::async_trait]
impl KvStore for SqlKv {
    async fn get(&self, ns: &Namespace, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let (scope, guild, user) = ns.partition.columns();
        let sql = format!("SELECT value, expires_at FROM cog_kv WHERE {NS} AND key = $5");
        let row: Option<(Vec<u8>, Option<i64>)> = with_pool!(self.db, |pool| sqlx::query_as(&sql)
            .bind(&ns.cog)
            .bind(scope)
            .bind(guild)
            .bind(user)
            .bind(key)
            .fetch_optional(pool)
            .await)?;
        Ok(row
            .filter(|(_, expires)| expires.is_none_or(|at| at > now_millis()))
            .map(|(value, _)| value))
    }

    async fn set(
        &self,
        ns: &Namespace,
        key: &str,
        value: Vec<u8>,
        ttl: Option<Duration>,
    ) -> Result<(), StoreError> {
        let (scope, guild, user) = ns.partition.columns();
        let expires = ttl.map(|ttl| now_millis() + ttl.as_millis() as i64);
        with_pool!(self.db, |pool| sqlx::query(UPSERT)
            .bind(&ns.cog)
            .bind(scope)
            .bind(guild)
            .bind(user)
            .bind(key)
            .bind(&value)
            .bind(expires)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    async fn delete(&self, ns: &Namespace, key: &str) -> Result<bool, StoreError> {
        let (scope, guild, user) = ns.partition.columns();
        let sql = format!("DELETE FROM cog_kv WHERE {NS} AND key = $5 RETURNING expires_at");
        let row: Option<(Option<i64>,)> = with_pool!(self.db, |pool| sqlx::query_as(&sql)
            .bind(&ns.cog)
            .bind(scope)
            .bind(guild)
            .bind(user)
            .bind(key)
            .fetch_optional(pool)
            .await)?;
        Ok(row.is_some_and(|(expires,)| expires.is_none_or(|at| at > now_millis())))
    }

    async fn list(
        &self,
        ns: &Namespace,
        prefix: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<KeyPage, StoreError> {
        let (scope, guild, user) = ns.partition.columns();
        // Keys sort bytewise, so the keys with `prefix` are one run starting at
        // `prefix`: read from there (or after the cursor) and stop at the
        // first key outside the prefix.
        let start = match cursor {
            Some(cursor) if cursor >= prefix => cursor,
            _ => prefix,
        };
        let sql = format!(
            "SELECT key FROM cog_kv WHERE {NS} AND key >= $5 AND key <> $6 AND (expires_at IS NULL OR expires_at > $7) ORDER BY key LIMIT $8"
        );
        let rows: Vec<(String,)> = with_pool!(self.db, |pool| sqlx::query_as(&sql)
            .bind(&ns.cog)
            .bind(scope)
            .bind(guild)
            .bind(user)
            .bind(start)
            .bind(cursor.unwrap_or(""))
            .bind(now_millis())
            .bind(limit as i64 + 1)
            .fetch_all(pool)
            .await)?;
        let mut keys: Vec<String> = rows
            .into_iter()
            .map(|(key,)| key)
            .take_while(|key| key.starts_with(prefix))
            .collect();
        let more = keys.len() > limit as usize;
        keys.truncate(limit as usize);
        let next_cursor = if more { keys.last().cloned() } else { None };
        Ok(KeyPage { keys, next_cursor })
    }

    async fn increment(&self, ns: &Namespace, key: &str, delta: i64) -> Result<i64, StoreError> {
        let (scope, guild, user) = ns.partition.columns();
        let now = now_millis();
        match self.db.pool() {
            // One atomic statement; a value that is not an integer makes the
            // cast fail (SQLSTATE 22P02), an overflow 22003.
            super::Pool::Postgres(pool) => {
                let sql = "INSERT INTO cog_kv (cog, scope, guild_id, user_id, key, value, expires_at) \
                           VALUES ($1, $2, $3, $4, $5, convert_to($6::bigint::text, 'UTF8'), NULL) \
                           ON CONFLICT (cog, scope, guild_id, user_id, key) DO UPDATE SET \
                             value = convert_to((CASE WHEN cog_kv.expires_at IS NOT NULL AND cog_kv.expires_at <= $7 THEN 0 \
                                     ELSE convert_from(cog_kv.value, 'UTF8')::bigint END + $6::bigint)::text, 'UTF8'), \
                             expires_at = CASE WHEN cog_kv.expires_at IS NOT NULL AND cog_kv.expires_at <= $7 THEN NULL ELSE cog_kv.expires_at END \
                           RETURNING convert_from(value, 'UTF8')";
                let result: Result<(String,), sqlx::Error> = sqlx::query_as(sql)
                    .bind(&ns.cog)
                    .bind(scope)
                    .bind(guild)
                    .bind(user)
                    .bind(key)
                    .bind(delta)
                    .bind(now)
                    .fetch_one(pool)
                    .await;
                match result {
                    Ok((value,)) => value.parse().map_err(|_| StoreError::NotAnInteger),
                    Err(sqlx::Error::Database(error))
                        if matches!(error.code().as_deref(), Some("22P02" | "22003")) =>
                    {
                        Err(StoreError::NotAnInteger)
                    }
                    Err(error) => Err(error.into()),
                }
            }
            // SQLite serialises writers: read and write in one IMMEDIATE
            // transaction, which takes the write lock up front.
            super::Pool::Sqlite(pool) => {
                let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
                let sql = format!("SELECT value, expires_at FROM cog_kv WHERE {NS} AND key = $5");
                let row: Option<(Vec<u8>, Option<i64>)> = sqlx::query_as(&sql)
                    .bind(&ns.cog)
                    .bind(scope)
                    .bind(guild)
                    .bind(user)
                    .bind(key)
                    .fetch_optional(&mut *tx)
                    .await?;
                let (current, expires) =
                    match row.filter(|(_, expires)| expires.is_none_or(|at| at > now)) {
                        Some((value, expires)) => (
                            parse_integer(&value).ok_or(StoreError::NotAnInteger)?,
                            expires,
                        ),
                        None => (0, None),
                    };
                let next = current.checked_add(delta).ok_or(StoreError::NotAnInteger)?;
                sqlx::query(UPSERT)
                    .bind(&ns.cog)
                    .bind(scope)
                    .bind(guild)
                    .bind(user)
                    .bind(key)
                    .bind(next.to_string().into_bytes())
                    .bind(expires)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(next)
            }
        }
    }

    async fn forget_user(&self, user: u64) -> Result<u64, StoreError> {
        let deleted = with_pool!(self.db, |pool| sqlx::query(
            "DELETE FROM cog_kv WHERE scope = 'u' AND user_id = $1"
        )
        .bind(user as i64)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(deleted)
    }
}
