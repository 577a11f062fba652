//! What the API may spend of the bot's Discord REST budget. Some answers
//! need Discord (the names of the people with access, member search, a
//! guild's channels and roles), and those calls go out as the bot, outside
//! every cog's bucket but inside Discord's global limit for the whole bot
//! (50/s). A viewer looping on such a route must not reach that limit —
//! then every cog in every guild would be blocked, and repeated 429s risk
//! Discord's ban on invalid requests.
//!
//! So: a token bucket for all API calls through the bot
//! (`[auth] api_discord_per_second`) and one per signed-in user
//! (`api_discord_per_user_per_minute`), both with a burst of one page of
//! names; and member names remembered for ten minutes, not-found answers
//! included, in a bounded cache.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::config::AuthConfig;

/// The most names looked up through the bot for one answer (and so the
/// burst of each bucket: one page of the access list resolves at once).
pub const MEMBER_LOOKUPS: u32 = 25;
/// How long a member's name (or its absence) is remembered.
const NAME_TTL: Duration = Duration::from_secs(600);
/// Most names remembered.
const NAMES_KEPT: u64 = 50_000;

/// The API's share of the bot's Discord budget.
pub struct BotCalls {
    all: DefaultDirectRateLimiter,
    per_user: DefaultKeyedRateLimiter<u64>,
    /// (guild, user) → the member's name, `None` when Discord said there is
    /// no such member.
    names: moka::sync::Cache<(u64, u64), Option<String>>,
}

fn nonzero(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n.max(1)).expect("at least 1")
}

impl BotCalls {
    /// The budget `config` sets.
    pub fn new(config: &AuthConfig) -> Self {
        let all = Quota::per_second(nonzero(config.api_discord_per_second))
            .allow_burst(nonzero(MEMBER_LOOKUPS.max(config.api_discord_per_second)));
        let per_user = Quota::per_minute(nonzero(config.api_discord_per_user_per_minute))
            .allow_burst(nonzero(MEMBER_LOOKUPS));
        Self {
            all: RateLimiter::direct(all),
            per_user: RateLimiter::keyed(per_user),
            names: moka::sync::Cache::builder()
                .max_capacity(NAMES_KEPT)
                .time_to_live(NAME_TTL)
                .build(),
        }
    }

    /// Take one call through the bot for `user`, if both buckets allow it.
    pub fn admit(&self, user: u64) -> bool {
        if self.per_user.len() > 10_000 {
            self.per_user.retain_recent();
        }
        // The user's own bucket first: one user at their limit does not
        // spend the shared one.
        self.per_user.check_key(&user).is_ok() && self.all.check().is_ok()
    }

    /// The remembered name of `user` in `guild`: `Some(None)` when Discord
    /// said there is no such member.
    pub fn name(&self, guild: u64, user: u64) -> Option<Option<String>> {
        self.names.get(&(guild, user))
    }

    /// Remember `user`'s name in `guild` (`None`: not a member).
    pub fn remember(&self, guild: u64, user: u64, name: Option<String>) {
        self.names.insert((guild, user), name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_at_their_limit_leaves_the_shared_budget_to_others() {
        let config = AuthConfig {
            api_discord_per_second: 1,
            api_discord_per_user_per_minute: 1,
            ..AuthConfig::default()
        };
        let calls = BotCalls::new(&config);
        let first = (0..100).filter(|_| calls.admit(1)).count();
        assert_eq!(
            first, MEMBER_LOOKUPS as usize,
            "one page of names, then no more"
        );
        // The shared bucket had the same burst and user 1 spent it all.
        assert!(!calls.admit(2));
        calls.remember(7, 8, None);
        assert_eq!(calls.name(7, 8), Some(None));
        assert_eq!(calls.name(7, 9), None);
    }
}
