//! Cog key-value storage: the [`KvStore`] seam, the in-process map of the
//! embedded default ([`InProcessKv`]) and the database-backed store
//! ([`SqlKv`], Postgres or SQLite). Keys are always fully namespaced
//! (cog + partition) by the caller; nothing here trusts a cog.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
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

/// What one cog may keep in one guild (or in its global space): keys and
/// bytes (keys plus values). A write that would pass either is refused;
/// writes that shrink are always allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    /// Most keys.
    pub keys: u64,
    /// Most bytes.
    pub bytes: u64,
    /// Most bytes the cog keeps across all its guilds and its global space
    /// together (`[quotas] kv_total_bytes`): a cog that writes in every
    /// guild it is in cannot fill the disk.
    pub total_bytes: u64,
}

impl Quota {
    /// No limit (tests, tools).
    pub const UNLIMITED: Quota = Quota {
        keys: u64::MAX,
        bytes: u64::MAX,
        total_bytes: u64::MAX,
    };

    /// The refusal for a write that adds `bytes` to the cog's `total`
    /// across its guilds, if any.
    fn check_total(&self, total: u64, bytes: i64, ns: &Namespace) -> Result<(), StoreError> {
        if bytes > 0 && total.saturating_add(bytes as u64) > self.total_bytes {
            return Err(StoreError::QuotaExceeded(format!(
                "kv quota reached: cog `{}` keeps {total} of {} bytes across all its guilds ([quotas] kv_total_bytes); this write needs {bytes} more",
                ns.cog, self.total_bytes
            )));
        }
        Ok(())
    }

    /// The refusal for a write that adds `keys` and `bytes` to `used`, if any.
    fn check(&self, used: Usage, keys: i64, bytes: i64, ns: &Namespace) -> Result<(), StoreError> {
        let place = match ns.partition {
            Partition::Global => "its global space".to_string(),
            Partition::Guild(guild) | Partition::User { guild, .. } => format!("guild {guild}"),
        };
        if keys > 0 && used.keys.saturating_add(keys as u64) > self.keys {
            return Err(StoreError::QuotaExceeded(format!(
                "kv quota reached: cog `{}` keeps {} of {} keys in {place}",
                ns.cog, used.keys, self.keys
            )));
        }
        if bytes > 0 && used.bytes.saturating_add(bytes as u64) > self.bytes {
            return Err(StoreError::QuotaExceeded(format!(
                "kv quota reached: cog `{}` keeps {} of {} bytes in {place}; this write needs {bytes} more",
                ns.cog, used.bytes, self.bytes
            )));
        }
        Ok(())
    }
}

/// What a cog keeps in one guild (or its global space, guild 0).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Usage {
    /// Keys stored.
    pub keys: u64,
    /// Bytes of keys and values stored.
    pub bytes: u64,
}

/// One cog's usage in one guild (0: its global space).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CogUsage {
    /// The cog.
    pub cog: String,
    /// The guild, 0 for the cog's global space.
    pub guild_id: u64,
    /// What it keeps there.
    #[serde(flatten)]
    pub usage: Usage,
}

/// Storage behind `kv`. Implementations must keep namespaces apart.
#[async_trait::async_trait]
pub trait KvStore: Send + Sync {
    /// Read a live value.
    async fn get(&self, ns: &Namespace, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Write a value with an optional time to live, within `quota`.
    async fn set(
        &self,
        ns: &Namespace,
        key: &str,
        value: Vec<u8>,
        ttl: Option<Duration>,
        quota: Quota,
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
    /// Add to an integer value, within `quota`.
    async fn increment(
        &self,
        ns: &Namespace,
        key: &str,
        delta: i64,
        quota: Quota,
    ) -> Result<i64, StoreError>;
    /// Delete everything stored for `user` in any cog and guild; returns how many keys went.
    async fn forget_user(&self, user: u64) -> Result<u64, StoreError>;
    /// What each cog keeps per guild (all cogs when `cog` is absent).
    async fn usage(&self, cog: Option<&str>) -> Result<Vec<CogUsage>, StoreError>;
    /// Delete expired keys (at most about `batch`); how many went.
    async fn sweep_expired(&self, batch: u32) -> Result<u64, StoreError>;
}

/// Bytes a key and its value count for.
fn size(key: &str, value: &[u8]) -> i64 {
    (key.len() + value.len()) as i64
}

impl Partition {
    /// The guild a partition's usage counts in (0: the cog's global space).
    pub fn usage_guild(self) -> u64 {
        match self {
            Partition::Guild(guild) | Partition::User { guild, .. } => guild,
            Partition::Global => 0,
        }
    }
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

impl InProcessKv {
    /// Usage of the guild (or global space) `ns` counts in, expired keys included.
    fn used(entries: &BTreeMap<(Namespace, String), Entry>, ns: &Namespace) -> Usage {
        let guild = ns.partition.usage_guild();
        entries
            .iter()
            .filter(|((other, _), _)| other.cog == ns.cog && other.partition.usage_guild() == guild)
            .fold(Usage::default(), |used, ((_, key), entry)| Usage {
                keys: used.keys + 1,
                bytes: used.bytes + size(key, &entry.value) as u64,
            })
    }

    /// Check `quota` for replacing `key` in `ns` with `value`.
    fn admit(
        entries: &BTreeMap<(Namespace, String), Entry>,
        ns: &Namespace,
        key: &str,
        value: &[u8],
        quota: Quota,
    ) -> Result<(), StoreError> {
        let old = entries.get(&(ns.clone(), key.to_string()));
        let keys = i64::from(old.is_none());
        let bytes = size(key, value) - old.map_or(0, |e| size(key, &e.value));
        quota.check(Self::used(entries, ns), keys, bytes, ns)?;
        if quota.total_bytes != u64::MAX {
            let total: u64 = entries
                .iter()
                .filter(|((other, _), _)| other.cog == ns.cog)
                .map(|((_, key), entry)| size(key, &entry.value) as u64)
                .sum();
            quota.check_total(total, bytes, ns)?;
        }
        Ok(())
    }
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
        quota: Quota,
    ) -> Result<(), StoreError> {
        let expires = ttl.map(|ttl| Instant::now() + ttl);
        let mut entries = self.entries.lock();
        Self::admit(&entries, ns, key, &value, quota)?;
        entries.insert((ns.clone(), key.to_string()), Entry { value, expires });
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

    async fn increment(
        &self,
        ns: &Namespace,
        key: &str,
        delta: i64,
        quota: Quota,
    ) -> Result<i64, StoreError> {
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
        Self::admit(&entries, ns, key, next.to_string().as_bytes(), quota)?;
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

    async fn usage(&self, cog: Option<&str>) -> Result<Vec<CogUsage>, StoreError> {
        let entries = self.entries.lock();
        let mut totals: BTreeMap<(String, u64), Usage> = BTreeMap::new();
        for ((ns, key), entry) in entries.iter() {
            if cog.is_some_and(|cog| cog != ns.cog) {
                continue;
            }
            let used = totals
                .entry((ns.cog.clone(), ns.partition.usage_guild()))
                .or_default();
            used.keys += 1;
            used.bytes += size(key, &entry.value) as u64;
        }
        Ok(totals
            .into_iter()
            .map(|((cog, guild_id), usage)| CogUsage {
                cog,
                guild_id,
                usage,
            })
            .collect())
    }

    async fn sweep_expired(&self, _batch: u32) -> Result<u64, StoreError> {
        let now = Instant::now();
        let mut entries = self.entries.lock();
        let before = entries.len();
        entries.retain(|_, entry| entry.live(now));
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

/// `cog_kv` in the database, with `cog_kv_usage` kept in step. Expired
/// rows are invisible at once and deleted by [`KvStore::sweep_expired`]
/// (the host runs it in the background) or when next written.
///
/// Every write runs in a transaction that first takes the row of
/// `cog_kv_usage` for the cog and guild (creating it): writes to one cog's
/// guild are serialised, so the quota check and the usage count are exact
/// on Postgres as on SQLite, and a read-modify-write (`increment`) needs no
/// dialect of its own.
#[derive(Clone)]
pub struct SqlKv {
    db: Database,
    totals: Arc<CogTotals>,
}

/// Each cog's bytes across all its guilds, as last read from
/// `cog_kv_usage` and moved by this process's writes since. Read again
/// after [`TOTAL_FRESH`] (other processes write too, and deletes by sweep
/// or "forget user" are not followed), so the cross-guild bound holds to
/// within what the bot's processes write in that time; the per-guild quota
/// stays exact.
#[derive(Default)]
struct CogTotals(Mutex<HashMap<String, (i64, Instant)>>);

/// How long a cog's cross-guild total is trusted before it is read again.
const TOTAL_FRESH: Duration = Duration::from_secs(10);

impl SqlKv {
    /// A store over `db` (migrated).
    pub fn new(db: Database) -> Self {
        Self {
            db,
            totals: Arc::default(),
        }
    }

    /// The bytes `cog` keeps across all its guilds (see [`CogTotals`]).
    async fn total(&self, cog: &str) -> Result<u64, StoreError> {
        if let Some((bytes, at)) = self.totals.0.lock().get(cog)
            && at.elapsed() < TOTAL_FRESH
        {
            return Ok((*bytes).max(0) as u64);
        }
        let bytes: i64 = with_pool!(self.db, |pool| sqlx::query_scalar(
            "SELECT CAST(COALESCE(SUM(bytes), 0) AS BIGINT) FROM cog_kv_usage WHERE cog = $1"
        )
        .bind(cog)
        .fetch_one(pool)
        .await)?;
        self.totals
            .0
            .lock()
            .insert(cog.to_string(), (bytes, Instant::now()));
        Ok(bytes.max(0) as u64)
    }

    /// Move `cog`'s remembered total by a committed write's `bytes`.
    fn moved(&self, cog: &str, bytes: i64) {
        if let Some((total, _)) = self.totals.0.lock().get_mut(cog) {
            *total += bytes;
        }
    }
}

const NS: &str = "cog = $1 AND scope = $2 AND guild_id = $3 AND user_id = $4";

/// `sqlx::query_as(sql)` with one key's columns bound: `$1`–`$4` the
/// namespace ([`NS`]), `$5` the key.
macro_rules! for_key {
    ($sql:expr, $ns:expr, $key:expr) => {{
        let (scope, guild, user) = $ns.partition.columns();
        sqlx::query_as($sql)
            .bind(&$ns.cog)
            .bind(scope)
            .bind(guild)
            .bind(user)
            .bind($key)
    }};
}
/// Write one key (binds: cog, scope, guild, user, key, value, expires_at).
const UPSERT: &str = "INSERT INTO cog_kv (cog, scope, guild_id, user_id, key, value, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
     ON CONFLICT (cog, scope, guild_id, user_id, key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at";
/// Create or lock the usage row of (cog, guild) and read it.
const USAGE_LOCK: &str = "INSERT INTO cog_kv_usage (cog, guild_id, keys, bytes) VALUES ($1, $2, 0, 0) \
     ON CONFLICT (cog, guild_id) DO UPDATE SET keys = cog_kv_usage.keys RETURNING keys, bytes";
/// Add to the usage row of (cog, guild).
const USAGE_ADD: &str =
    "UPDATE cog_kv_usage SET keys = keys + $3, bytes = bytes + $4 WHERE cog = $1 AND guild_id = $2";

/// Run `$body` in a transaction holding the usage row of (`$cog`, `$guild`),
/// with `$used` the usage before it. The body evaluates to `(result, keys
/// added, bytes added)`; the usage row is moved by those and the
/// transaction committed. An error anywhere rolls everything back.
macro_rules! usage_tx {
    ($db:expr, $cog:expr, $guild:expr, |$tx:ident, $used:ident| $body:block) => {
        with_pool!($db, |pool| {
            async {
                let mut $tx = pool.begin_with($db.begin_write()).await?;
                let (keys, bytes): (i64, i64) = sqlx::query_as(USAGE_LOCK)
                    .bind($cog)
                    .bind($guild as i64)
                    .fetch_one(&mut *$tx)
                    .await?;
                let $used = Usage {
                    keys: keys.max(0) as u64,
                    bytes: bytes.max(0) as u64,
                };
                let (result, added_keys, added_bytes): (_, i64, i64) = $body;
                if added_keys != 0 || added_bytes != 0 {
                    sqlx::query(USAGE_ADD)
                        .bind($cog)
                        .bind($guild as i64)
                        .bind(added_keys)
                        .bind(added_bytes)
                        .execute(&mut *$tx)
                        .await?;
                }
                $tx.commit().await?;
                Ok::<_, StoreError>(result)
            }
            .await
        })
    };
}

/// Delete the rows of one (cog, guild) that `condition` (binds $1 cog, $2
/// guild, $3 a number) selects, keeping the usage row in step; how many went.
async fn delete_counted(
    db: &Database,
    cog: &str,
    guild: i64,
    condition: &str,
    number: i64,
) -> Result<u64, StoreError> {
    let sql = format!(
        "DELETE FROM cog_kv WHERE cog = $1 AND guild_id = $2 AND {condition} RETURNING key, value"
    );
    usage_tx!(db, cog, guild, |tx, _used| {
        let rows: Vec<(String, Vec<u8>)> = sqlx::query_as(&sql)
            .bind(cog)
            .bind(guild)
            .bind(number)
            .fetch_all(&mut *tx)
            .await?;
        let bytes: i64 = rows.iter().map(|(key, value)| size(key, value)).sum();
        (rows.len() as u64, -(rows.len() as i64), -bytes)
    })
}

impl SqlKv {
    /// Refuse, without taking the writer's lock, a write that cannot fit:
    /// a cog at its quota that goes on writing costs two reads, not a
    /// transaction that every other writer waits for (SQLite has one
    /// writer). The transaction checks again, exactly.
    async fn precheck(
        &self,
        ns: &Namespace,
        key: &str,
        quota: Quota,
        size_hint: Option<usize>,
    ) -> Result<u64, StoreError> {
        if quota == Quota::UNLIMITED {
            return Ok(0);
        }
        let total = match quota.total_bytes {
            u64::MAX => 0,
            _ => self.total(&ns.cog).await?,
        };
        let usage: Option<(i64, i64)> = with_pool!(self.db, |pool| sqlx::query_as(
            "SELECT keys, bytes FROM cog_kv_usage WHERE cog = $1 AND guild_id = $2"
        )
        .bind(&ns.cog)
        .bind(ns.partition.usage_guild() as i64)
        .fetch_optional(pool)
        .await)?;
        let used = usage.map_or(Usage::default(), |(keys, bytes)| Usage {
            keys: keys.max(0) as u64,
            bytes: bytes.max(0) as u64,
        });
        let most = size_hint.map_or(0, |n| (key.len() + n) as u64);
        if used.keys < quota.keys
            && used.bytes + most <= quota.bytes
            && total.saturating_add(most) <= quota.total_bytes
        {
            return Ok(total);
        }
        let sql = format!("SELECT value FROM cog_kv WHERE {NS} AND key = $5");
        let old: Option<(Vec<u8>,)> = with_pool!(self.db, |pool| for_key!(&sql, ns, key)
            .fetch_optional(pool)
            .await)?;
        let added_keys = i64::from(old.is_none());
        let added_bytes = match size_hint {
            Some(n) => (key.len() + n) as i64 - old.as_ref().map_or(0, |(v,)| size(key, v)),
            None => 0,
        };
        quota.check(used, added_keys, added_bytes, ns)?;
        quota.check_total(total, added_bytes, ns)?;
        Ok(total)
    }
}

/// What a write decides from the row it replaces (value and expiry, if
/// any): the new value and expiry, and what to answer.
type Decide<R> = Box<
    dyn FnOnce(Option<(&[u8], Option<i64>)>) -> Result<(Vec<u8>, Option<i64>, R), StoreError>
        + Send,
>;

impl SqlKv {
    /// Write one key: read the row it replaces, let `decide` make the new
    /// one, check the quota against the difference, write, count — all in
    /// one transaction holding the guild's usage row.
    async fn write<R: Send + 'static>(
        &self,
        ns: &Namespace,
        key: &str,
        quota: Quota,
        size_hint: Option<usize>,
        decide: impl FnOnce(
            Option<(&[u8], Option<i64>)>,
        ) -> Result<(Vec<u8>, Option<i64>, R), StoreError>
        + Send
        + 'static,
    ) -> Result<R, StoreError> {
        let decide: Decide<R> = Box::new(decide);
        let (scope, guild, user) = ns.partition.columns();
        // The cog's total across guilds, read once for both checks.
        let total = self.precheck(ns, key, quota, size_hint).await?;
        let select = format!("SELECT value, expires_at FROM cog_kv WHERE {NS} AND key = $5");
        let (answer, moved) =
            usage_tx!(self.db, &ns.cog, ns.partition.usage_guild(), |tx, used| {
                let old: Option<(Vec<u8>, Option<i64>)> =
                    for_key!(&select, ns, key).fetch_optional(&mut *tx).await?;
                let (value, expires, answer) = decide(
                    old.as_ref()
                        .map(|(value, expires)| (value.as_slice(), *expires)),
                )?;
                let added_keys = i64::from(old.is_none());
                let added_bytes = size(key, &value) - old.as_ref().map_or(0, |(v, _)| size(key, v));
                quota.check(used, added_keys, added_bytes, ns)?;
                quota.check_total(total, added_bytes, ns)?;
                sqlx::query(UPSERT)
                    .bind(&ns.cog)
                    .bind(scope)
                    .bind(guild)
                    .bind(user)
                    .bind(key)
                    .bind(&value)
                    .bind(expires)
                    .execute(&mut *tx)
                    .await?;
                ((answer, added_bytes), added_keys, added_bytes)
            })?;
        self.moved(&ns.cog, moved);
        Ok(answer)
    }
}

#[async_trait::async_trait]
impl KvStore for SqlKv {
    async fn get(&self, ns: &Namespace, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let sql = format!("SELECT value, expires_at FROM cog_kv WHERE {NS} AND key = $5");
        let row: Option<(Vec<u8>, Option<i64>)> =
            with_pool!(self.db, |pool| for_key!(&sql, ns, key)
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
        quota: Quota,
    ) -> Result<(), StoreError> {
        let expires = ttl.map(|ttl| now_millis() + ttl.as_millis() as i64);
        let length = value.len();
        self.write(ns, key, quota, Some(length), move |_| {
            Ok((value, expires, ()))
        })
        .await
    }

    async fn delete(&self, ns: &Namespace, key: &str) -> Result<bool, StoreError> {
        // Deleting what is not there takes no writer's lock.
        let exists = format!("SELECT 1 FROM cog_kv WHERE {NS} AND key = $5");
        let found: Option<(i32,)> = with_pool!(self.db, |pool| for_key!(&exists, ns, key)
            .fetch_optional(pool)
            .await)?;
        if found.is_none() {
            return Ok(false);
        }
        let sql = format!("DELETE FROM cog_kv WHERE {NS} AND key = $5 RETURNING value, expires_at");
        let (live, freed) =
            usage_tx!(self.db, &ns.cog, ns.partition.usage_guild(), |tx, _used| {
                let row: Option<(Vec<u8>, Option<i64>)> =
                    for_key!(&sql, ns, key).fetch_optional(&mut *tx).await?;
                match row {
                    Some((value, expires)) => (
                        (
                            expires.is_none_or(|at| at > now_millis()),
                            size(key, &value),
                        ),
                        -1,
                        -size(key, &value),
                    ),
                    None => ((false, 0), 0, 0),
                }
            })?;
        self.moved(&ns.cog, -freed);
        Ok(live)
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

    async fn increment(
        &self,
        ns: &Namespace,
        key: &str,
        delta: i64,
        quota: Quota,
    ) -> Result<i64, StoreError> {
        let now = now_millis();
        self.write(ns, key, quota, None, move |old| {
            let (current, expires) =
                match old.filter(|(_, expires)| expires.is_none_or(|at| at > now)) {
                    Some((value, expires)) => (
                        parse_integer(value).ok_or(StoreError::NotAnInteger)?,
                        expires,
                    ),
                    None => (0, None),
                };
            let next = current.checked_add(delta).ok_or(StoreError::NotAnInteger)?;
            Ok((next.to_string().into_bytes(), expires, next))
        })
        .await
    }

    async fn forget_user(&self, user: u64) -> Result<u64, StoreError> {
        let groups: Vec<(String, i64)> = with_pool!(self.db, |pool| sqlx::query_as(
            "SELECT DISTINCT cog, guild_id FROM cog_kv WHERE scope = 'u' AND user_id = $1"
        )
        .bind(user as i64)
        .fetch_all(pool)
        .await)?;
        let mut deleted = 0;
        for (cog, guild) in groups {
            deleted += delete_counted(
                &self.db,
                &cog,
                guild,
                "scope = 'u' AND user_id = $3",
                user as i64,
            )
            .await?;
        }
        Ok(deleted)
    }

    async fn usage(&self, cog: Option<&str>) -> Result<Vec<CogUsage>, StoreError> {
        let rows: Vec<(String, i64, i64, i64)> = with_pool!(self.db, |pool| sqlx::query_as(
            "SELECT cog, guild_id, keys, bytes FROM cog_kv_usage \
             WHERE (cog = $1 OR $2) AND keys > 0 ORDER BY cog, guild_id"
        )
        .bind(cog.unwrap_or(""))
        .bind(cog.is_none())
        .fetch_all(pool)
        .await)?;
        Ok(rows
            .into_iter()
            .map(|(cog, guild, keys, bytes)| CogUsage {
                cog,
                guild_id: guild as u64,
                usage: Usage {
                    keys: keys.max(0) as u64,
                    bytes: bytes.max(0) as u64,
                },
            })
            .collect())
    }

    async fn sweep_expired(&self, batch: u32) -> Result<u64, StoreError> {
        let now = now_millis();
        let groups: Vec<(String, i64)> = with_pool!(self.db, |pool| {
            sqlx::query_as(
            "SELECT DISTINCT cog, guild_id FROM cog_kv WHERE expires_at IS NOT NULL AND expires_at <= $1 LIMIT $2"
        )
        .bind(now)
        .bind(i64::from(batch.max(1)))
        .fetch_all(pool)
        .await
        })?;
        let mut deleted = 0;
        for (cog, guild) in groups {
            deleted += delete_counted(
                &self.db,
                &cog,
                guild,
                "expires_at IS NOT NULL AND expires_at <= $3",
                now,
            )
            .await?;
        }
        Ok(deleted)
    }
}

/// Delete expired kv rows every `every` until the store goes away; logs
/// what it removed and any failure (and tries again next time).
pub fn spawn_sweeper(kv: std::sync::Weak<dyn KvStore>, every: Duration) {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            let Some(kv) = kv.upgrade() else { return };
            match kv.sweep_expired(100).await {
                Ok(0) => {}
                Ok(deleted) => tracing::debug!(deleted, "expired kv keys swept"),
                Err(error) => tracing::warn!(%error, "sweeping expired kv keys failed; will retry"),
            }
        }
    });
}
