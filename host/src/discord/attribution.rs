//! Who did it: audit-log entries matched to the events they explain.
//!
//! Discord's events say what changed, never who changed it; the guild's
//! audit log does, announced on the gateway as GUILD_AUDIT_LOG_ENTRY_CREATE
//! to bots with View Audit Log — usually a few milliseconds after the
//! event, sometimes before it. An event that may have an entry asks
//! ([`Attributor::settle`]) with what an entry explaining it looks like
//! ([`Ask`]: action types, target, channel); it is answered by an entry
//! already here (and the entry is spent), or by the first matching entry
//! to arrive within the window (`[discord] attribution_wait_ms`), or by
//! nothing. Entries nobody asked for are kept for the window and dropped.
//!
//! Discord records no entry for much (a member deleting their own message
//! or leaving; a bot deleting one message), and folds repeated actions of
//! one moderator on one target into the entry it already has (message
//! deletions, voice moves and disconnects, within minutes: the count grows,
//! no new entry is announced). Those events end `not-recorded`: the host
//! never guesses a moderator.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use tokio::time::Instant;

use parking_lot::Mutex;
use tokio::sync::oneshot;
use twilight_model::guild::audit_log::AuditLogEntry;

/// Audit-log action types the host matches (Discord's numbers).
pub mod action {
    pub const GUILD_UPDATE: u16 = 1;
    pub const CHANNEL_CREATE: u16 = 10;
    pub const CHANNEL_UPDATE: u16 = 11;
    pub const CHANNEL_DELETE: u16 = 12;
    pub const OVERWRITE_CREATE: u16 = 13;
    pub const OVERWRITE_UPDATE: u16 = 14;
    pub const OVERWRITE_DELETE: u16 = 15;
    pub const MEMBER_KICK: u16 = 20;
    pub const MEMBER_BAN_ADD: u16 = 22;
    pub const MEMBER_BAN_REMOVE: u16 = 23;
    pub const MEMBER_UPDATE: u16 = 24;
    pub const MEMBER_ROLE_UPDATE: u16 = 25;
    pub const MEMBER_MOVE: u16 = 26;
    pub const MEMBER_DISCONNECT: u16 = 27;
    pub const ROLE_CREATE: u16 = 30;
    pub const ROLE_UPDATE: u16 = 31;
    pub const ROLE_DELETE: u16 = 32;
    pub const WEBHOOK_CREATE: u16 = 50;
    pub const WEBHOOK_UPDATE: u16 = 51;
    pub const WEBHOOK_DELETE: u16 = 52;
    pub const EMOJI_CREATE: u16 = 60;
    pub const EMOJI_UPDATE: u16 = 61;
    pub const EMOJI_DELETE: u16 = 62;
    pub const MESSAGE_DELETE: u16 = 72;
    pub const MESSAGE_BULK_DELETE: u16 = 73;
    pub const MESSAGE_PIN: u16 = 74;
    pub const MESSAGE_UNPIN: u16 = 75;
    pub const STICKER_CREATE: u16 = 90;
    pub const STICKER_UPDATE: u16 = 91;
    pub const STICKER_DELETE: u16 = 92;
    pub const THREAD_CREATE: u16 = 110;
    pub const THREAD_UPDATE: u16 = 111;
    pub const THREAD_DELETE: u16 = 112;
}

/// Entries kept per guild while nobody asked for them.
const KEPT_PER_GUILD: usize = 128;
/// Events of one guild waiting for an entry at once; past it an event is
/// delivered at once, `not-recorded` (a raid must not pile up waiters).
const WAITING_PER_GUILD: usize = 4_096;

/// The parts of an audit-log entry the host matches and reports.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The entry's id.
    pub id: u64,
    /// Its action type.
    pub action: u16,
    /// Who did it.
    pub user: Option<u64>,
    /// What it was done to (a user, role, channel, …, by action).
    pub target: Option<u64>,
    /// The reason given.
    pub reason: Option<String>,
    /// The channel, for actions that name one (deletions, pins, moves).
    pub channel: Option<u64>,
    /// The message, for pins.
    pub message: Option<u64>,
}

impl Entry {
    /// An entry as Discord announced it.
    pub fn of(entry: &AuditLogEntry) -> Self {
        let options = entry.options.as_ref();
        Self {
            id: entry.id.get(),
            action: u16::from(entry.action_type),
            user: entry.user_id.map(|u| u.get()),
            target: entry.target_id.map(|t| t.get()),
            reason: entry.reason.clone(),
            channel: options.and_then(|o| o.channel_id).map(|c| c.get()),
            message: options.and_then(|o| o.message_id).map(|m| m.get()),
        }
    }
}

/// What an entry explaining an event looks like.
#[derive(Debug, Clone, PartialEq)]
pub struct Ask {
    /// The event's guild.
    pub guild: u64,
    /// Action types that explain it.
    pub actions: Vec<u16>,
    /// Its target, when the entry names one the event knows.
    pub target: Option<u64>,
    /// Its channel, for actions whose entries name one.
    pub channel: Option<u64>,
}

impl Ask {
    fn matches(&self, entry: &Entry) -> bool {
        self.actions.contains(&entry.action)
            && self.target.is_none_or(|t| entry.target == Some(t))
            && self.channel.is_none_or(|c| entry.channel == Some(c))
    }
}

struct Waiter {
    ask: Ask,
    answer: oneshot::Sender<Entry>,
    number: u64,
}

#[derive(Default)]
struct GuildLog {
    kept: VecDeque<(Instant, Entry)>,
    waiting: Vec<Waiter>,
}

/// Audit-log entries and the events waiting for them, per guild.
pub struct Attributor {
    window: Duration,
    guilds: Mutex<HashMap<u64, GuildLog>>,
    numbers: std::sync::atomic::AtomicU64,
}

impl Attributor {
    /// Entries are awaited, and kept unasked, for `window`.
    pub fn new(window: Duration) -> Self {
        Self {
            window,
            guilds: Mutex::new(HashMap::new()),
            numbers: Default::default(),
        }
    }

    /// How long an event waits for its entry.
    pub fn window(&self) -> Duration {
        self.window
    }

    /// An entry Discord announced for `guild`: to the first event waiting
    /// for it, else kept for the window.
    pub fn entry(&self, guild: u64, entry: Entry) {
        let mut guilds = self.guilds.lock();
        let log = guilds.entry(guild).or_default();
        // Waiters whose event gave up are gone (their receiver dropped).
        log.waiting.retain(|w| !w.answer.is_closed());
        if let Some(at) = log.waiting.iter().position(|w| w.ask.matches(&entry)) {
            let waiter = log.waiting.remove(at);
            if let Err(entry) = waiter.answer.send(entry) {
                log.kept.push_back((Instant::now(), entry));
            }
            return;
        }
        let now = Instant::now();
        while log
            .kept
            .front()
            .is_some_and(|(at, _)| now.duration_since(*at) > self.window)
            || log.kept.len() >= KEPT_PER_GUILD
        {
            log.kept.pop_front();
        }
        log.kept.push_back((now, entry));
    }

    /// The entry explaining the event `ask` describes: one already here,
    /// or the first to arrive within the window; `None` when none does.
    pub async fn settle(&self, ask: Ask) -> Option<Entry> {
        let number = self
            .numbers
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let receiver =
            {
                let mut guilds = self.guilds.lock();
                let log = guilds.entry(ask.guild).or_default();
                let now = Instant::now();
                if let Some(at) = log.kept.iter().position(|(seen, e)| {
                    now.duration_since(*seen) <= self.window && ask.matches(e)
                }) {
                    return log.kept.remove(at).map(|(_, e)| e);
                }
                if log.waiting.len() >= WAITING_PER_GUILD {
                    return None;
                }
                let (answer, receiver) = oneshot::channel();
                log.waiting.push(Waiter {
                    ask: ask.clone(),
                    answer,
                    number,
                });
                receiver
            };
        match tokio::time::timeout(self.window, receiver).await {
            Ok(Ok(entry)) => Some(entry),
            _ => {
                let mut guilds = self.guilds.lock();
                if let Some(log) = guilds.get_mut(&ask.guild) {
                    log.waiting.retain(|w| w.number != number);
                    if log.kept.is_empty() && log.waiting.is_empty() {
                        guilds.remove(&ask.guild);
                    }
                }
                None
            }
        }
    }

    /// Events waiting now, in every guild.
    pub fn waiting(&self) -> usize {
        self.guilds.lock().values().map(|g| g.waiting.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: u64, action: u16, target: u64) -> Entry {
        Entry {
            id,
            action,
            user: Some(99),
            target: Some(target),
            reason: Some("spam".into()),
            channel: None,
            message: None,
        }
    }

    fn ask(actions: &[u16], target: u64) -> Ask {
        Ask {
            guild: 1,
            actions: actions.to_vec(),
            target: Some(target),
            channel: None,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn an_entry_after_the_event_answers_it() {
        let attributor = std::sync::Arc::new(Attributor::new(Duration::from_millis(1500)));
        let waiting = {
            let attributor = attributor.clone();
            tokio::spawn(async move { attributor.settle(ask(&[action::MEMBER_KICK], 5)).await })
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(attributor.waiting(), 1);
        // Another target's entry does not answer it.
        attributor.entry(1, entry(1, action::MEMBER_KICK, 6));
        attributor.entry(1, entry(2, action::MEMBER_KICK, 5));
        let found = waiting.await.unwrap().expect("answered");
        assert_eq!((found.id, found.reason.as_deref()), (2, Some("spam")));
        assert_eq!(attributor.waiting(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn an_entry_before_the_event_is_kept_for_it_and_spent_once() {
        let attributor = Attributor::new(Duration::from_millis(1500));
        attributor.entry(1, entry(7, action::MEMBER_BAN_ADD, 5));
        let found = attributor.settle(ask(&[action::MEMBER_BAN_ADD], 5)).await;
        assert_eq!(found.map(|e| e.id), Some(7));
        // Spent: a second ban event of the same user waits and ends unanswered.
        let again = attributor.settle(ask(&[action::MEMBER_BAN_ADD], 5)).await;
        assert_eq!(again, None);
    }

    #[tokio::test(start_paused = true)]
    async fn nothing_within_the_window_is_not_recorded_and_old_entries_expire() {
        let attributor = Attributor::new(Duration::from_millis(1500));
        attributor.entry(1, entry(7, action::ROLE_UPDATE, 3));
        tokio::time::sleep(Duration::from_secs(2)).await;
        let started = tokio::time::Instant::now();
        assert_eq!(
            attributor.settle(ask(&[action::ROLE_UPDATE], 3)).await,
            None
        );
        assert_eq!(started.elapsed(), Duration::from_millis(1500));
        assert_eq!(attributor.waiting(), 0);
    }

    #[test]
    fn a_channel_narrows_the_match() {
        let with_channel = Ask {
            guild: 1,
            actions: vec![action::MESSAGE_DELETE],
            target: Some(5),
            channel: Some(10),
        };
        let mut e = entry(1, action::MESSAGE_DELETE, 5);
        assert!(!with_channel.matches(&e));
        e.channel = Some(10);
        assert!(with_channel.matches(&e));
    }
}
