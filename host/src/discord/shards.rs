//! The shard monitor: every shard this process runs is written to the cache
//! (Redis, shared by every process of the bot; in process in the embedded
//! default) with a time to live — on each state change (ready, disconnect,
//! resume) and on every poll of the shard runners (once a second, so each
//! heartbeat ACK's latency lands within a second). A shard whose process
//! died stops being written and ages out; nobody has to clean up.
//!
//! Each record carries a short latency history (for graphs) and the last
//! state transitions. Any process can list every shard of the bot: it reads
//! the shard count, then one key per shard.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use crate::cache::{Cache, CacheFailure};
use crate::store::now_millis;

/// Cache key of one shard's record.
pub fn shard_key(id: u32) -> String {
    format!("baseline:shard:{id}")
}

/// Cache key of the bot's shard count.
pub const TOTAL_KEY: &str = "baseline:shards:total";
/// Latency samples kept per shard.
pub const HISTORY: usize = 60;
/// State transitions kept per shard.
pub const TRANSITIONS: usize = 20;

/// The shard a guild belongs to: Discord's `(guild_id >> 22) % total`.
pub fn shard_of(guild: u64, total: u32) -> u32 {
    ((guild >> 22) % u64::from(total.max(1))) as u32
}

// The records are the API's shapes (the dashboard reads them as they are).
pub use baseline_api_types::operators::{LatencySample, ShardRecord, Transition};

/// twilight's shard state, in the monitor's four words.
pub fn state_name(state: twilight_gateway::ShardState) -> &'static str {
    use twilight_gateway::ShardState as S;
    match state {
        S::Active => "connected",
        S::Resuming => "resuming",
        S::Disconnected { .. } | S::FatallyClosed => "disconnected",
        S::Identifying => "connecting",
    }
}

/// The monitor of this process's shards, and the reader of everyone's.
pub struct ShardMonitor {
    cache: Arc<dyn Cache>,
    process: String,
    ttl: Duration,
    local: Mutex<BTreeMap<u32, ShardRecord>>,
    guilds: Mutex<HashMap<u32, HashSet<u64>>>,
}

impl ShardMonitor {
    /// Records of `process` go to `cache` and live `ttl` unless written again.
    pub fn new(cache: Arc<dyn Cache>, process: &str, ttl: Duration) -> Self {
        Self {
            cache,
            process: process.to_string(),
            ttl,
            local: Mutex::new(BTreeMap::new()),
            guilds: Mutex::new(HashMap::new()),
        }
    }

    /// This process's name in the records.
    pub fn process(&self) -> &str {
        &self.process
    }

    /// How long a record lives unless written again.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// A guild is on `shard` (GUILD_CREATE).
    pub fn guild_joined(&self, shard: u32, guild: u64) {
        self.guilds.lock().entry(shard).or_default().insert(guild);
    }

    /// A guild left `shard` (GUILD_DELETE).
    pub fn guild_left(&self, shard: u32, guild: u64) {
        if let Some(set) = self.guilds.lock().get_mut(&shard) {
            set.remove(&guild);
        }
    }

    /// Guilds this process knows on `shard`.
    pub fn guild_count(&self, shard: u32) -> u32 {
        self.guilds.lock().get(&shard).map_or(0, |s| s.len() as u32)
    }

    /// Record what a shard is doing now and write it out.
    pub async fn observe(
        &self,
        id: u32,
        total: u32,
        state: &str,
        latency: Option<Duration>,
    ) -> Result<(), CacheFailure> {
        self.record(id, total, None, state, latency).await
    }

    /// Record a change of state the shard's task saw (`from` → `to`), even
    /// when it was too quick for the once-a-second poll to see `from`.
    pub async fn transition(
        &self,
        id: u32,
        total: u32,
        from: &str,
        to: &str,
    ) -> Result<(), CacheFailure> {
        self.record(id, total, Some(from), to, None).await
    }

    async fn record(
        &self,
        id: u32,
        total: u32,
        from: Option<&str>,
        state: &str,
        latency: Option<Duration>,
    ) -> Result<(), CacheFailure> {
        let now = now_millis();
        let guilds = self.guild_count(id);
        let record = {
            let mut local = self.local.lock();
            let record = local.entry(id).or_insert_with(|| ShardRecord {
                id,
                total,
                state: "disconnected".into(),
                latency_ms: None,
                guilds: 0,
                process: self.process.clone(),
                last_seen_ms: now,
                latency_history: Vec::new(),
                transitions: Vec::new(),
            });
            let from = from.unwrap_or(&record.state).to_string();
            if from != state {
                record.transitions.push(Transition {
                    at_ms: now,
                    from,
                    to: state.to_string(),
                });
                if record.transitions.len() > TRANSITIONS {
                    record.transitions.remove(0);
                }
                record.state = state.to_string();
            }
            if let Some(latency) = latency {
                let ms = latency.as_secs_f64() * 1000.0;
                // The figure changes on each heartbeat ACK; the poll
                // sees it every second. Keep one sample per measurement.
                if record.latency_ms != Some(ms) {
                    record.latency_history.push(LatencySample {
                        at_ms: now,
                        latency_ms: ms,
                    });
                    if record.latency_history.len() > HISTORY {
                        record.latency_history.remove(0);
                    }
                }
                record.latency_ms = Some(ms);
            } else if state != "connected" {
                record.latency_ms = None;
            }
            record.total = total;
            record.guilds = guilds;
            record.last_seen_ms = now;
            record.clone()
        };
        let json = serde_json::to_vec(&record).expect("a record serialises");
        self.cache.set(&shard_key(id), json, self.ttl).await?;
        self.cache
            .set(TOTAL_KEY, total.to_string().into_bytes(), self.ttl)
            .await
    }

    /// The records this process wrote, by shard.
    pub fn local(&self) -> Vec<ShardRecord> {
        self.local.lock().values().cloned().collect()
    }

    /// Every live shard of the bot, from every process, by id; and the
    /// bot's shard count (0 when no process has written one).
    pub async fn all(&self) -> Result<(u32, Vec<ShardRecord>), CacheFailure> {
        let total = match self.cache.get(TOTAL_KEY).await? {
            Some(bytes) => String::from_utf8_lossy(&bytes).parse().unwrap_or(0),
            None => return Ok((0, Vec::new())),
        };
        let mut records = Vec::new();
        for id in 0..total {
            if let Some(bytes) = self.cache.get(&shard_key(id)).await?
                && let Ok(record) = serde_json::from_slice::<ShardRecord>(&bytes)
            {
                records.push(record);
            }
        }
        Ok((total, records))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn records_age_out_and_keep_their_history_and_transitions() {
        let cache: Arc<dyn Cache> = Arc::new(crate::cache::InProcessCache::default());
        let monitor = ShardMonitor::new(cache.clone(), "test/1/a", Duration::from_millis(1_000));
        monitor.guild_joined(1, 42);
        monitor.observe(1, 2, "connecting", None).await.unwrap();
        monitor
            .observe(1, 2, "connected", Some(Duration::from_millis(12)))
            .await
            .unwrap();
        let (total, all) = monitor.all().await.unwrap();
        assert_eq!(total, 2);
        assert_eq!(all.len(), 1);
        let shard = &all[0];
        assert_eq!(
            (shard.id, shard.state.as_str(), shard.guilds),
            (1, "connected", 1)
        );
        assert_eq!(shard.latency_ms, Some(12.0));
        let moves: Vec<(&str, &str)> = shard
            .transitions
            .iter()
            .map(|t| (t.from.as_str(), t.to.as_str()))
            .collect();
        assert_eq!(
            moves,
            [("disconnected", "connecting"), ("connecting", "connected")]
        );
        // Another process reads the same records.
        let other = ShardMonitor::new(cache, "test/2/b", Duration::from_secs(1));
        assert_eq!(other.all().await.unwrap().1, all);
        tokio::time::sleep(Duration::from_millis(1_300)).await;
        assert!(other.all().await.unwrap().1.is_empty(), "aged out");
    }

    #[tokio::test]
    async fn history_keeps_one_sample_per_measurement_and_both_lists_are_capped() {
        let cache: Arc<dyn Cache> = Arc::new(crate::cache::InProcessCache::default());
        let monitor = ShardMonitor::new(cache, "test/1/a", Duration::from_secs(10));
        let ms = Duration::from_millis;
        monitor
            .observe(0, 1, "connected", Some(ms(12)))
            .await
            .unwrap();
        monitor
            .observe(0, 1, "connected", Some(ms(12)))
            .await
            .unwrap();
        assert_eq!(
            monitor.local()[0].latency_history.len(),
            1,
            "the same figure twice is one sample"
        );
        monitor
            .observe(0, 1, "connected", Some(ms(13)))
            .await
            .unwrap();
        assert_eq!(monitor.local()[0].latency_history.len(), 2);
        for n in 0..(HISTORY as u64 + 10) {
            monitor
                .observe(0, 1, "connected", Some(ms(20 + n)))
                .await
                .unwrap();
        }
        assert_eq!(monitor.local()[0].latency_history.len(), HISTORY);
        // A quick resume the poll never saw, reported as a transition.
        monitor
            .transition(0, 1, "resuming", "connected")
            .await
            .unwrap();
        let last = monitor.local()[0].transitions.last().cloned().unwrap();
        assert_eq!(
            (last.from.as_str(), last.to.as_str()),
            ("resuming", "connected")
        );
        for _ in 0..TRANSITIONS {
            monitor.observe(0, 1, "resuming", None).await.unwrap();
            monitor.observe(0, 1, "connected", None).await.unwrap();
        }
        assert_eq!(monitor.local()[0].transitions.len(), TRANSITIONS);
        monitor.observe(0, 1, "disconnected", None).await.unwrap();
        assert_eq!(
            monitor.local()[0].latency_ms,
            None,
            "no latency while disconnected"
        );
    }

    #[test]
    fn guilds_map_to_shards_as_discord_does() {
        assert_eq!(shard_of(2_000_000_000_000_000_002, 2), 1);
        assert_eq!(shard_of(2_000_000_000_000_000_002, 4), 3);
        assert_eq!(shard_of(5, 0), 0);
    }
}
