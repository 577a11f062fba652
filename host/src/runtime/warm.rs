//! The instances of a cog that wait for calls: idle warm instances (under
//! `reuse`, per guild — or per user in direct messages), spares made ahead
//! of calls on the housekeeping thread, and the budget they share across
//! cogs (instance slots and the memory they keep). The call path takes
//! from and gives back to them (`invoke`); what a spare's warm-up runs is
//! there too.

use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::Store;
use wasmtime::component::Instance;

use super::LoadedCog;
use super::sandbox::Sandbox;
use crate::capabilities::Scope;

pub(super) const MAX_IDLE_PER_GUILD: usize = 4;
pub(super) const MAX_IDLE_PER_COG: usize = 16;

pub(super) struct Warm {
    pub(super) store: Store<Sandbox>,
    pub(super) instance: Instance,
    pub(super) calls: u32,
    pub(super) idle_since: Instant,
}

impl Warm {
    /// The linear memory it keeps while it waits.
    pub(super) fn bytes(&self) -> u64 {
        self.store.data().meter.memory.held as u64
    }
}

/// Idle warm instances across all cogs: at most `max` at once, each idle
/// for at most `idle` (every one holds a slot of the instance pool).
pub(crate) struct WarmBudget {
    pub(super) held: std::sync::atomic::AtomicUsize,
    pub(super) max: usize,
    pub(super) idle: Duration,
    /// Memory the waiting instances keep, and its bounds.
    pub(super) bytes: std::sync::atomic::AtomicU64,
    pub(super) max_bytes: u64,
    pub(super) max_bytes_per_cog: u64,
}

impl WarmBudget {
    pub(crate) fn new(max: usize, idle: Duration) -> Self {
        Self {
            held: std::sync::atomic::AtomicUsize::new(0),
            max,
            idle,
            bytes: std::sync::atomic::AtomicU64::new(0),
            max_bytes: u64::MAX,
            max_bytes_per_cog: u64::MAX,
        }
    }

    /// With at most `max` bytes of memory kept by waiting instances across
    /// cogs, and `per_cog` by one cog's.
    pub(crate) fn with_bytes(self, max: u64, per_cog: u64) -> Self {
        Self {
            max_bytes: max,
            max_bytes_per_cog: per_cog,
            ..self
        }
    }

    pub(super) fn try_hold(&self) -> bool {
        use std::sync::atomic::Ordering;
        self.held
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
                (held < self.max).then_some(held + 1)
            })
            .is_ok()
    }

    pub(super) fn release(&self, count: usize) {
        self.held
            .fetch_sub(count, std::sync::atomic::Ordering::AcqRel);
    }

    /// Take `bytes` of the memory budget for a waiting instance of a cog
    /// whose waiting instances keep `cog_bytes` already.
    pub(super) fn try_hold_bytes(&self, bytes: u64, cog_bytes: u64) -> bool {
        use std::sync::atomic::Ordering;
        cog_bytes.saturating_add(bytes) <= self.max_bytes_per_cog
            && self
                .bytes
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
                    let next = held.saturating_add(bytes);
                    (next <= self.max_bytes).then_some(next)
                })
                .is_ok()
    }

    pub(super) fn release_bytes(&self, bytes: u64) {
        self.bytes
            .fetch_sub(bytes, std::sync::atomic::Ordering::AcqRel);
    }

    /// Idle warm instances held now, across cogs.
    pub(crate) fn held(&self) -> usize {
        self.held.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Memory the waiting instances keep now, across cogs.
    pub(crate) fn held_bytes(&self) -> u64 {
        self.bytes.load(std::sync::atomic::Ordering::Acquire)
    }
}

/// Most spare instances one cog may keep (`spare_instances`).
pub const MAX_SPARES: u32 = 16;
/// After a spare could not be made, how long until the next try.
pub(super) const SPARE_PAUSE: Duration = Duration::from_secs(60);
/// A spare's warm-up (instantiation and `manifest`) may take twenty times
/// what the cog's first call took at load, and at least this. A deadline is
/// wall-clock time, and the warm-up runs at the lowest priority: on a busy
/// machine it waits for the CPU, so the floor is generous (a warm-up cut
/// short pauses the cog's spares for a minute). What it computes is charged
/// to the cog, which a long warm-up demotes (and then makes no more).
pub(super) const SPARE_WARM_UP: Duration = Duration::from_secs(1);

/// Whose idle warm instances a call may run on: its guild's, or in direct
/// messages its user's own — never another guild's or another user's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum PoolKey {
    Guild(u64),
    Direct(u64),
}

impl PoolKey {
    /// The key of a call for `scope`; `None` (nothing kept) for a call that
    /// is neither a guild's nor a user's.
    pub(super) fn of(scope: &Scope) -> Option<Self> {
        match (scope.guild_id, scope.user_id) {
            (Some(guild), _) => Some(PoolKey::Guild(guild)),
            (None, Some(user)) => Some(PoolKey::Direct(user)),
            (None, None) => None,
        }
    }
}

/// A top-up of a cog's spares under way; over when dropped (however the
/// task ends).
pub(super) struct Filling(pub(super) Arc<LoadedCog>);

impl Drop for Filling {
    fn drop(&mut self) {
        self.0
            .warm
            .filling
            .store(false, std::sync::atomic::Ordering::Release);
    }
}

/// The instances of one cog version that wait for calls:
///
/// - *idle warm instances*, by guild (under `reuse`): never shared between
///   guilds; they die with the cog version that made them, when idle too
///   long, or when the global budget is spent;
/// - *spares*: instances made ahead of calls on the housekeeping thread —
///   instantiated and given one call (`manifest`, so an interpreter's lazy
///   set-up is done too) — that no guild has used. A call that finds one
///   skips the instantiation; a spare serves one call and is then dropped
///   (`fresh`) or kept for that call's guild (`reuse`). They hold slots of
///   the same global budget.
pub(crate) struct WarmPool {
    pub(super) idle: parking_lot::Mutex<std::collections::HashMap<PoolKey, Vec<Warm>>>,
    pub(super) spares: parking_lot::Mutex<Vec<Warm>>,
    /// Spares to keep ready.
    pub(super) spares_wanted: usize,
    /// A top-up of the spares is under way.
    pub(super) filling: std::sync::atomic::AtomicBool,
    /// Calls that found a spare.
    pub(super) spares_served: std::sync::atomic::AtomicU64,
    /// Spare warm-ups begun (made or failed).
    pub(super) warm_ups: std::sync::atomic::AtomicU64,
    /// After a spare failed to be made: no other try until then.
    pub(super) spares_paused_until: parking_lot::Mutex<Option<Instant>>,
    /// Memory its waiting instances (idle and spare) keep.
    pub(super) bytes: std::sync::atomic::AtomicU64,
    pub(super) budget: Arc<WarmBudget>,
}

impl WarmPool {
    pub(crate) fn new(budget: Arc<WarmBudget>, spares_wanted: u32) -> Self {
        Self {
            idle: Default::default(),
            spares: Default::default(),
            spares_wanted: spares_wanted.min(MAX_SPARES) as usize,
            filling: Default::default(),
            spares_served: Default::default(),
            warm_ups: Default::default(),
            spares_paused_until: Default::default(),
            bytes: Default::default(),
            budget,
        }
    }

    /// Keep `warm` waiting: its memory within this cog's and the host's
    /// budget (its slot of the instance budget is held already). False:
    /// it is over, and the caller drops it.
    pub(super) fn hold_bytes(&self, warm: &Warm) -> bool {
        use std::sync::atomic::Ordering;
        let bytes = warm.bytes();
        let held = self
            .budget
            .try_hold_bytes(bytes, self.bytes.load(Ordering::Acquire));
        if held {
            self.bytes.fetch_add(bytes, Ordering::AcqRel);
        }
        held
    }

    /// `warm` no longer waits: its slot and its memory go back.
    pub(super) fn let_go(&self, warm: &Warm) {
        let bytes = warm.bytes();
        self.bytes
            .fetch_sub(bytes, std::sync::atomic::Ordering::AcqRel);
        self.budget.release_bytes(bytes);
        self.budget.release(1);
    }

    /// An instance for a call from `key`: under reuse its own warm one
    /// first, else a spare.
    pub(super) fn take(&self, key: Option<PoolKey>, reuse: bool) -> Option<Warm> {
        if reuse
            && let Some(key) = key
            && let Some(warm) = self.take_idle(key)
        {
            return Some(warm);
        }
        let spare = self.spares.lock().pop()?;
        self.let_go(&spare);
        self.spares_served
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Some(spare)
    }

    /// Spare warm-ups begun since the cog version loaded.
    pub(crate) fn warm_ups(&self) -> u64 {
        self.warm_ups.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Calls that found a spare, since the cog version loaded.
    pub(crate) fn spares_served(&self) -> u64 {
        self.spares_served
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    pub(super) fn take_idle(&self, key: PoolKey) -> Option<Warm> {
        let mut idle = self.idle.lock();
        let slot = idle.get_mut(&key)?;
        while let Some(warm) = slot.pop() {
            self.let_go(&warm);
            if warm.idle_since.elapsed() < self.budget.idle {
                return Some(warm);
            }
        }
        None
    }

    /// Spares ready now.
    pub(crate) fn spares(&self) -> usize {
        self.spares.lock().len()
    }

    /// Spares this cog keeps ready.
    pub(crate) fn spares_wanted(&self) -> usize {
        self.spares_wanted
    }

    /// No spare is made until `SPARE_PAUSE` from now (a spare or a call
    /// failed: the next instance would likely fail too, and each costs a
    /// warm-up).
    pub(crate) fn pause_spares(&self) {
        if self.spares_wanted > 0 {
            *self.spares_paused_until.lock() = Some(Instant::now() + SPARE_PAUSE);
        }
    }

    /// Claim the top-up of the spares when some are missing, nobody else
    /// is at it, and no failure paused it.
    pub(super) fn start_filling(&self) -> bool {
        use std::sync::atomic::Ordering;
        self.spares_wanted > 0
            && self.spares() < self.spares_wanted
            && self
                .spares_paused_until
                .lock()
                .is_none_or(|until| Instant::now() >= until)
            && self
                .filling
                .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
    }

    /// Keep `spare` (its budget slot is already held) if its memory fits
    /// the budgets; false (the slot given back) if not.
    pub(super) fn add_spare(&self, spare: Warm) -> bool {
        if !self.hold_bytes(&spare) {
            self.budget.release(1);
            return false;
        }
        self.spares.lock().push(spare);
        true
    }

    pub(super) fn put(&self, key: Option<PoolKey>, warm: Warm) {
        // A call that is neither a guild's nor one user's keeps nothing.
        let Some(key) = key else {
            return;
        };
        let mut idle = self.idle.lock();
        let total: usize = idle.values().map(Vec::len).sum();
        let slot = idle.entry(key).or_default();
        if slot.len() < MAX_IDLE_PER_GUILD && total < MAX_IDLE_PER_COG && self.budget.try_hold() {
            if self.hold_bytes(&warm) {
                slot.push(warm);
            } else {
                self.budget.release(1);
            }
        }
    }

    /// Drop the instances idle for longer than the budget allows; how many went.
    pub(crate) fn expire(&self) -> usize {
        let mut idle = self.idle.lock();
        let mut dropped = 0;
        for slot in idle.values_mut() {
            let (stale, fresh): (Vec<Warm>, Vec<Warm>) = std::mem::take(slot)
                .into_iter()
                .partition(|warm| warm.idle_since.elapsed() >= self.budget.idle);
            *slot = fresh;
            for warm in &stale {
                self.let_go(warm);
            }
            dropped += stale.len();
        }
        idle.retain(|_, slot| !slot.is_empty());
        dropped
    }

    /// Memory its waiting instances keep now.
    pub(crate) fn held_bytes(&self) -> u64 {
        self.bytes.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Idle instances held right now.
    pub(crate) fn idle(&self) -> usize {
        self.idle.lock().values().map(Vec::len).sum()
    }
}

impl Drop for WarmPool {
    fn drop(&mut self) {
        let count = self.idle() + self.spares();
        self.budget.release(count);
        self.budget.release_bytes(self.held_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    pub(super) fn the_warm_budget_is_shared_and_given_back() {
        let budget = WarmBudget::new(2, Duration::from_secs(60));
        assert!(budget.try_hold());
        assert!(budget.try_hold());
        assert!(
            !budget.try_hold(),
            "a third idle instance is over the budget"
        );
        budget.release(1);
        assert_eq!(budget.held(), 1);
        assert!(budget.try_hold());
    }
}
