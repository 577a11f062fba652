//! The in-process cache: moka caches bounded in bytes (least recently used
//! entries go first), entries expiring by themselves at their own time to
//! live, per-space usage counted for quotas, and broadcast channels for
//! pub/sub.
//!
//! The bound is split in three rooms, each evicting only its own entries:
//! sessions (`session:…`, `session-refresh:…`: a quarter), the API's
//! rate-limit windows (`ratelimit:…`: a sixteenth) and everything else (the
//! cogs' spaces, the LLM response cache, the rest). So no flood of cog
//! writes or of clients from many addresses can evict a signed-in user's
//! session, and a flood of addresses can evict only other rate-limit
//! windows.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use moka::notification::RemovalCause;
use parking_lot::Mutex;
use tokio::sync::{broadcast, mpsc};

use super::{Cache, CacheFailure, Space, SpaceUsage};
use crate::store::kv::parse_integer;

/// Bytes an entry is counted for beyond its key and value (the map's own
/// bookkeeping), so a flood of empty values is bounded too.
const ENTRY_OVERHEAD: usize = 96;
/// The default bound: 256 MiB.
pub const DEFAULT_BYTES: u64 = 256 << 20;

#[derive(Clone)]
struct Item {
    value: Arc<[u8]>,
    expires: Instant,
    /// The space the entry counts in, if any.
    space: Option<Arc<str>>,
}

struct PerEntryExpiry;

impl moka::Expiry<String, Item> for PerEntryExpiry {
    fn expire_after_create(&self, _key: &String, item: &Item, now: Instant) -> Option<Duration> {
        Some(item.expires.saturating_duration_since(now))
    }

    fn expire_after_update(
        &self,
        _key: &String,
        item: &Item,
        now: Instant,
        _current: Option<Duration>,
    ) -> Option<Duration> {
        Some(item.expires.saturating_duration_since(now))
    }
}

/// The entries of one space: each key's size and expiry, and their total.
#[derive(Default)]
struct SpaceEntries {
    keys: HashMap<String, (u64, Instant)>,
    bytes: u64,
}

impl SpaceEntries {
    fn usage(&self) -> SpaceUsage {
        SpaceUsage {
            keys: self.keys.len() as u64,
            bytes: self.bytes,
        }
    }

    fn put(&mut self, key: &str, size: u64, expires: Instant) {
        if let Some((old, _)) = self.keys.insert(key.to_string(), (size, expires)) {
            self.bytes -= old;
        }
        self.bytes += size;
    }

    /// Forget `key` if it is the entry that expires at `expires` (a newer
    /// entry under the same key stays).
    fn forget(&mut self, key: &str, expires: Instant) {
        if self.keys.get(key).is_some_and(|(_, at)| *at == expires)
            && let Some((size, _)) = self.keys.remove(key)
        {
            self.bytes -= size;
        }
    }

    /// Forget every expired entry; their full keys' suffixes.
    fn prune(&mut self, now: Instant) -> Vec<String> {
        let expired: Vec<String> = self
            .keys
            .iter()
            .filter(|(_, (_, at))| *at <= now)
            .map(|(key, _)| key.clone())
            .collect();
        for key in &expired {
            if let Some((size, _)) = self.keys.remove(key) {
                self.bytes -= size;
            }
        }
        expired
    }
}

type Spaces = Arc<Mutex<HashMap<Arc<str>, SpaceEntries>>>;

type Entries = moka::sync::Cache<String, Item>;

/// Which room a key lives in.
fn room(key: &str) -> usize {
    if key.starts_with("session:") || key.starts_with("session-refresh:") {
        0
    } else if key.starts_with("ratelimit:") {
        1
    } else {
        2
    }
}

/// The embedded default.
pub struct InProcessCache {
    /// Sessions, rate-limit windows, the rest ([`room`]).
    rooms: [Entries; 3],
    spaces: Spaces,
    /// Serialises read-modify-write operations (increment, quota checks).
    writes: Mutex<()>,
    channels: Mutex<HashMap<String, broadcast::Sender<String>>>,
    housekeeping: Arc<std::sync::atomic::AtomicBool>,
}

impl Drop for InProcessCache {
    fn drop(&mut self) {
        self.housekeeping
            .store(false, std::sync::atomic::Ordering::Relaxed);
    }
}

/// How often expired entries are removed when nothing else touches the
/// cache (moka's timer wheel resolves expiry to about a second).
const HOUSEKEEPING: Duration = Duration::from_secs(1);

impl Default for InProcessCache {
    fn default() -> Self {
        Self::new(DEFAULT_BYTES)
    }
}

/// Bytes an entry of a space counts for: the cog's own key (the full key
/// without the space's `prefix:`) and the value, as Redis counts them.
fn size(prefix: &str, full_key: &str, value_len: usize) -> u64 {
    (full_key.len().saturating_sub(prefix.len() + 1) + value_len) as u64
}

impl InProcessCache {
    /// A cache holding at most `max_bytes` (keys, values and overhead):
    /// a quarter for sessions, a sixteenth for rate-limit windows, the rest
    /// for everything else.
    pub fn new(max_bytes: u64) -> Self {
        let spaces: Spaces = Arc::default();
        let max_bytes = max_bytes.max(16);
        // Sessions and rate-limit windows are evicted least recently used
        // first: moka's default admission (TinyLFU) could turn away a new
        // user's session from a full room.
        let lru = moka::policy::EvictionPolicy::lru;
        let rooms = [
            Self::room(max_bytes / 4, &spaces, lru()),
            Self::room(max_bytes / 16, &spaces, lru()),
            Self::room(
                max_bytes - max_bytes / 4 - max_bytes / 16,
                &spaces,
                moka::policy::EvictionPolicy::default(),
            ),
        ];
        // Expired entries go even when nobody reads or writes.
        let housekeeping = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let running = housekeeping.clone();
        let caches = rooms.clone();
        let _ = std::thread::Builder::new()
            .name("cache-housekeeping".into())
            .spawn(move || {
                while running.load(std::sync::atomic::Ordering::Relaxed) {
                    std::thread::sleep(HOUSEKEEPING);
                    for cache in &caches {
                        cache.run_pending_tasks();
                    }
                }
            });
        Self {
            rooms,
            spaces,
            writes: Mutex::new(()),
            channels: Mutex::new(HashMap::new()),
            housekeeping,
        }
    }

    fn room(max_bytes: u64, spaces: &Spaces, policy: moka::policy::EvictionPolicy) -> Entries {
        let counted = spaces.clone();
        moka::sync::Cache::builder()
            .max_capacity(max_bytes.max(1))
            .eviction_policy(policy)
            .weigher(|key: &String, item: &Item| {
                (key.len() + item.value.len() + ENTRY_OVERHEAD).min(u32::MAX as usize) as u32
            })
            .expire_after(PerEntryExpiry)
            .eviction_listener(move |key: Arc<String>, item: Item, _cause: RemovalCause| {
                // Whatever the cause (expired, evicted, replaced, deleted),
                // the entry no longer counts; a replacement is counted anew.
                if let Some(space) = &item.space {
                    let mut spaces = counted.lock();
                    if let Some(entries) = spaces.get_mut(space) {
                        entries.forget(&key, item.expires);
                        if entries.keys.is_empty() {
                            spaces.remove(space);
                        }
                    }
                }
            })
            .build()
    }

    /// The room `key` lives in.
    fn entries(&self, key: &str) -> &Entries {
        &self.rooms[room(key)]
    }

    fn channel(&self, name: &str) -> broadcast::Sender<String> {
        self.channels
            .lock()
            .entry(name.to_string())
            .or_insert_with(|| broadcast::channel(256).0)
            .clone()
    }

    /// Bytes held now (after pending evictions run).
    pub fn weighted_size(&self) -> u64 {
        self.rooms
            .iter()
            .map(|room| {
                room.run_pending_tasks();
                room.weighted_size()
            })
            .sum()
    }

    /// Bytes held now, as the cache last counted them (no maintenance run).
    pub fn held_bytes(&self) -> u64 {
        self.rooms.iter().map(|room| room.weighted_size()).sum()
    }

    fn live(&self, key: &str) -> Option<Item> {
        self.entries(key)
            .get(key)
            .filter(|item| item.expires > Instant::now())
    }

    fn insert(&self, key: String, value: Vec<u8>, ttl: Duration, space: Option<Arc<str>>) {
        let expires = Instant::now() + ttl;
        if let Some(space) = &space {
            self.spaces.lock().entry(space.clone()).or_default().put(
                &key,
                size(space, &key, value.len()),
                expires,
            );
        }
        let item = Item {
            value: value.into(),
            expires,
            space,
        };
        self.entries(&key).insert(key, item);
    }

    fn usage(&self, prefix: &str) -> SpaceUsage {
        self.spaces
            .lock()
            .get(prefix)
            .map(SpaceEntries::usage)
            .unwrap_or_default()
    }

    /// Drop the expired entries of a space now (moka would, within a second or so).
    fn prune(&self, prefix: &str) {
        let expired = match self.spaces.lock().get_mut(prefix) {
            Some(entries) => entries.prune(Instant::now()),
            None => return,
        };
        for key in expired {
            self.entries(&key).invalidate(&key);
        }
    }

    /// Add `delta` to the counter at `key` (created with `ttl`, within
    /// `space`'s quota when it has one); the new value.
    fn add(
        &self,
        key: &str,
        delta: i64,
        ttl: Duration,
        space: Option<&Space>,
    ) -> Result<i64, CacheFailure> {
        let _write = self.writes.lock();
        let (next, expires) = match self.live(key) {
            Some(item) => (
                parse_integer(&item.value)
                    .ok_or(CacheFailure::NotAnInteger)?
                    .checked_add(delta)
                    .ok_or(CacheFailure::NotAnInteger)?,
                item.expires,
            ),
            None => (delta, Instant::now() + ttl),
        };
        let value = next.to_string().into_bytes();
        if let Some(space) = space {
            self.admit(space, key, value.len())?;
        }
        let ttl = expires.saturating_duration_since(Instant::now());
        self.insert(
            key.to_string(),
            value,
            ttl,
            space.map(|space| space.prefix.as_str().into()),
        );
        Ok(next)
    }

    /// Refuse adding `key` (replacing what it holds) with `value` to `space`
    /// when that passes its quota. Expired entries are given back first.
    fn admit(&self, space: &Space, key: &str, value_len: usize) -> Result<(), CacheFailure> {
        let check = |this: &Self| {
            let used = this.usage(&space.prefix);
            let old = this.entries(key).get(key);
            let added_keys = u64::from(old.is_none());
            let new = size(&space.prefix, key, value_len);
            let old_bytes = old.map_or(0, |item| size(&space.prefix, key, item.value.len()));
            if added_keys > 0 && used.keys + added_keys > space.max_keys {
                return Err(space.refusal("keys", used.keys, space.max_keys));
            }
            if new > old_bytes && used.bytes + (new - old_bytes) > space.max_bytes {
                return Err(space.refusal("bytes", used.bytes, space.max_bytes));
            }
            Ok(())
        };
        check(self).or_else(|_| {
            self.prune(&space.prefix);
            check(self)
        })
    }
}

#[async_trait::async_trait]
impl Cache for InProcessCache {
    fn backend(&self) -> &'static str {
        "in-process"
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, CacheFailure> {
        Ok(self.live(key).map(|item| item.value.to_vec()))
    }

    async fn set(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), CacheFailure> {
        let _write = self.writes.lock();
        self.insert(key.to_string(), value, ttl, None);
        Ok(())
    }

    async fn replace(
        &self,
        key: &str,
        value: Vec<u8>,
        ttl: Duration,
    ) -> Result<bool, CacheFailure> {
        // Under the write lock, which `delete` takes too: no delete can fall
        // between the check and the write.
        let _write = self.writes.lock();
        if self.live(key).is_none() {
            return Ok(false);
        }
        self.insert(key.to_string(), value, ttl, None);
        Ok(true)
    }

    async fn delete(&self, key: &str) -> Result<bool, CacheFailure> {
        let _write = self.writes.lock();
        Ok(self
            .entries(key)
            .remove(key)
            .is_some_and(|item| item.expires > Instant::now()))
    }

    async fn increment(&self, key: &str, delta: i64, ttl: Duration) -> Result<i64, CacheFailure> {
        self.add(key, delta, ttl, None)
    }

    async fn publish(&self, channel: &str, message: &str) -> Result<(), CacheFailure> {
        // No subscriber is not an error.
        let _ = self.channel(channel).send(message.to_string());
        Ok(())
    }

    async fn subscribe(
        &self,
        channel: &str,
    ) -> Result<mpsc::UnboundedReceiver<String>, CacheFailure> {
        let mut source = self.channel(channel).subscribe();
        let (sender, receiver) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            loop {
                match source.recv().await {
                    Ok(message) => {
                        if sender.send(message).is_err() {
                            break;
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => break,
                }
            }
        });
        Ok(receiver)
    }

    async fn ping(&self) -> Result<Duration, CacheFailure> {
        Ok(Duration::ZERO)
    }

    async fn space_set(
        &self,
        space: &Space,
        key: &str,
        value: Vec<u8>,
        ttl: Duration,
    ) -> Result<(), CacheFailure> {
        let key = space.key(key);
        let _write = self.writes.lock();
        self.admit(space, &key, value.len())?;
        self.insert(key, value, ttl, Some(space.prefix.as_str().into()));
        Ok(())
    }

    async fn space_increment(
        &self,
        space: &Space,
        key: &str,
        delta: i64,
        ttl: Duration,
    ) -> Result<i64, CacheFailure> {
        self.add(&space.key(key), delta, ttl, Some(space))
    }

    async fn space_delete(&self, space: &Space, key: &str) -> Result<bool, CacheFailure> {
        self.delete(&space.key(key)).await
    }

    async fn space_usage(&self, prefix: &str) -> Result<Vec<(String, SpaceUsage)>, CacheFailure> {
        self.entries(prefix).run_pending_tasks();
        let now = Instant::now();
        let mut found: Vec<(String, SpaceUsage)> = self
            .spaces
            .lock()
            .iter_mut()
            .filter(|(space, _)| space.starts_with(prefix))
            .map(|(space, entries)| {
                entries.prune(now);
                (space.to_string(), entries.usage())
            })
            .filter(|(_, usage)| usage.keys > 0)
            .collect();
        found.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(found)
    }
}
