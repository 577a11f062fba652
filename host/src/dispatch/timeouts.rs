//! Timeouts that run out. Discord sends an event when a moderator times a
//! member out or lifts it, and nothing when the time ends; a mod-log wants
//! "timeout expired" at that moment. The host watches every member it sees
//! with `communication-disabled-until` in the future (member updates, and
//! the members a guild's GUILD_CREATE carries — so a restart re-arms the
//! timeouts of the guilds' members Discord sends again) and delivers
//! `timeout-expired` when the time passes, unless the timeout was changed
//! or lifted first.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use twilight_model::util::Timestamp;

use super::Bot;
use crate::discord::events::actor;
use crate::wit::types::{Event, Member, TimeoutEnded};

/// Timeouts watched at once, at most (past it, new ones are not watched
/// and a warning says so).
const WATCHED: usize = 100_000;

/// The members' timeouts being watched, by (guild, user): when each ends.
#[derive(Default)]
pub struct Timeouts {
    armed: Mutex<HashMap<(u64, u64), String>>,
}

/// Microseconds since the epoch of an RFC 3339 time, if it reads.
fn micros(at: &str) -> Option<i64> {
    Timestamp::parse(at).ok().map(|t| t.as_micros())
}

fn now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

impl Timeouts {
    /// Watch `member`'s timeout in `guild`: arm it when it ends in the
    /// future, forget it when it was lifted.
    pub fn watch(&self, bot: &Arc<Bot>, guild: u64, member: &Member) {
        let key = (guild, member.user.id);
        let until = member
            .communication_disabled_until
            .as_deref()
            .and_then(|at| Some((at, micros(at)?)))
            .filter(|(_, at)| *at > now_micros());
        let mut armed = self.armed.lock();
        let Some((until, ends)) = until else {
            armed.remove(&key);
            return;
        };
        if armed.get(&key).is_some_and(|known| known == until) {
            return;
        }
        if armed.len() >= WATCHED && !armed.contains_key(&key) {
            tracing::warn!(
                guild,
                user = member.user.id,
                "too many timeouts watched; this one will not say when it ends"
            );
            return;
        }
        armed.insert(key, until.to_string());
        let wait = Duration::from_micros(u64::try_from(ends - now_micros()).unwrap_or(0));
        let (bot, member, until) = (bot.clone(), member.clone(), until.to_string());
        tokio::spawn(async move {
            tokio::time::sleep(wait).await;
            let still = {
                let mut armed = bot.timeouts.armed.lock();
                let still = armed.get(&key).is_some_and(|known| *known == until);
                if still {
                    armed.remove(&key);
                }
                still
            };
            if still {
                let member = bot
                    .guild_memory
                    .member(guild, member.user.id)
                    .unwrap_or(member);
                let event = Event::TimeoutExpired(TimeoutEnded {
                    guild_id: guild,
                    member,
                    until,
                });
                bot.deliver_event(Some(guild), None, actor(0), event).await;
            }
        });
    }

    /// Timeouts watched now.
    pub fn watched(&self) -> usize {
        self.armed.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_discord_writes_them() {
        let at = micros("2026-12-08T00:00:02.000000+00:00").unwrap();
        assert_eq!(micros("2026-12-08T00:00:00+00:00").unwrap() + 2_000_000, at);
        assert_eq!(micros("not a time"), None);
    }
}
