//! The host's capabilities, as the cog calls them. Each module wraps one WIT
//! interface; errors convert into [`CogError`] so `?` works in handlers —
//! what the user can act on in words, the rest for the operator's log:
//!
//! ```
//! use baseline_sdk::{CogError, discord::DiscordError, kv::KvError};
//! let slow: CogError = DiscordError::RateLimited(1_500).into();
//! assert_eq!(slow, CogError::User("Discord asks to slow down; try again in 2 s.".into()));
//! let ungranted: CogError = KvError::Denied("capability `kv` was requested but the operator has not granted it".into()).into();
//! assert!(matches!(ungranted, CogError::User(words) if words.starts_with("Not allowed here")));
//! let undeclared: CogError = KvError::Denied("capability `kv` is not in the cog's manifest".into()).into();
//! assert!(matches!(undeclared, CogError::Internal(_)), "the author's bug, not the user's");
//! let full: CogError = KvError::Unavailable("kv quota reached: cog `x` keeps 16 MiB".into()).into();
//! assert!(matches!(full, CogError::User(words) if words.contains("full")));
//! let down: CogError = KvError::Unavailable("database unavailable".into()).into();
//! assert!(matches!(down, CogError::Internal(_)));
//! ```

use crate::CogError;

/// A capability error turned into what the user reads or the operator
/// logs: what the user can act on or should know (the operator has not
/// allowed it here, this needs a server, Discord or a quota says wait or
/// stop) becomes [`CogError::User`] in words; the rest — the cog's own
/// bugs, a capability missing from its manifest, a service down — is
/// [`CogError::Internal`], logged for the operator, and the user gets an
/// apology.
macro_rules! into_cog_error {
    ($error:ty, $what:literal, $words:expr) => {
        impl From<$error> for CogError {
            fn from(error: $error) -> Self {
                let words: fn(&$error) -> Option<String> = $words;
                match words(&error) {
                    Some(words) => CogError::User(words),
                    None => CogError::Internal(format!(concat!($what, ": {:?}"), error)),
                }
            }
        }
    };
}

/// The words for a denial: the operator's choice is the user's to know; a
/// capability the cog forgot to declare is its author's bug (`None`).
fn denial(why: &str) -> Option<String> {
    (!why.contains("manifest")).then(|| format!("Not allowed here: {why}."))
}

/// The words for a full quota, when the host said so.
fn quota(why: &str) -> Option<String> {
    why.contains("quota")
        .then(|| "This server's storage for this feature is full; an admin can clear some.".into())
}

/// Seconds to wait, rounded up, from Discord's milliseconds.
fn wait(ms: u32) -> String {
    format!(
        "Discord asks to slow down; try again in {} s.",
        ms.div_ceil(1_000).max(1)
    )
}

/// Said when a command that needs a server runs in a DM.
const NEEDS_SERVER: &str = "This only works in a server.";

/// Durable key-value storage in the cog's own space of the current guild.
///
/// ```no_run
/// use baseline_sdk::kv::{self, Scope};
/// # fn f() -> Result<(), baseline_sdk::CogError> {
/// let rolls = kv::increment(Scope::Guild, "rolls", 1)?;
/// kv::set_json(Scope::User(42), "last", &rolls, None)?;
/// let last: Option<i64> = kv::get_json(Scope::User(42), "last")?;
/// # Ok(()) }
/// ```
pub mod kv {
    pub use crate::bindings::baseline::cog::kv::{
        KeyPage, KvError, Scope, delete, get, increment, list_keys, set,
    };
    use serde::{Serialize, de::DeserializeOwned};

    /// Read a value stored with [`set_json`].
    pub fn get_json<T: DeserializeOwned>(scope: Scope, key: &str) -> Result<Option<T>, KvError> {
        match get(scope, key)? {
            Some(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|error| {
                KvError::Unavailable(format!(
                    "stored value of `{key}` is not the expected JSON: {error}"
                ))
            }),
            None => Ok(None),
        }
    }

    /// Store a value as JSON, optionally expiring after `ttl_seconds`.
    pub fn set_json<T: Serialize>(
        scope: Scope,
        key: &str,
        value: &T,
        ttl_seconds: Option<u32>,
    ) -> Result<(), KvError> {
        let bytes = serde_json::to_vec(value).map_err(|error| {
            KvError::Unavailable(format!("value of `{key}` cannot be JSON: {error}"))
        })?;
        set(scope, key, &bytes, ttl_seconds)
    }
}
into_cog_error!(kv::KvError, "kv", |error| {
    use kv::KvError as E;
    match error {
        E::Denied(why) => denial(why),
        E::NoGuild => Some(NEEDS_SERVER.into()),
        E::Unavailable(why) => quota(why),
        _ => None,
    }
});

/// Ephemeral values with a time to live.
pub mod cache {
    pub use crate::bindings::baseline::cog::cache::{CacheError, delete, get, increment, set};
}
into_cog_error!(cache::CacheError, "cache", |error| {
    use cache::CacheError as E;
    match error {
        E::Denied(why) => denial(why),
        E::Unavailable(why) => quota(why),
        _ => None,
    }
});

/// The guild's settings for this cog, validated by the host against the
/// manifest's schema.
///
/// ```no_run
/// #[derive(serde::Deserialize)]
/// struct Settings { sides: u32 }
/// # fn f() -> Result<(), baseline_sdk::CogError> {
/// let settings: Settings = baseline_sdk::settings::get()?;
/// # Ok(()) }
/// ```
pub mod settings {
    pub use crate::bindings::baseline::cog::settings::SettingsError;
    use serde::de::DeserializeOwned;

    /// This guild's settings, deserialised into `T`.
    pub fn get<T: DeserializeOwned>() -> Result<T, SettingsError> {
        let json = raw()?;
        serde_json::from_str(&json).map_err(|error| {
            SettingsError::Unavailable(format!("settings do not match the cog's type: {error}"))
        })
    }

    /// This guild's settings as JSON text.
    pub fn raw() -> Result<String, SettingsError> {
        crate::bindings::baseline::cog::settings::get()
    }
}
into_cog_error!(settings::SettingsError, "settings", |error| {
    use settings::SettingsError as E;
    match error {
        E::Denied(why) => denial(why),
        E::NoGuild => Some(NEEDS_SERVER.into()),
        _ => None,
    }
});

/// Structured logs into the host's tracing, tagged with cog and guild.
pub mod log {
    pub use crate::bindings::baseline::cog::log::{Level, write};

    /// Log at info level.
    pub fn info(message: &str) {
        write(Level::Info, message, &[]);
    }
    /// Log at warn level.
    pub fn warn(message: &str) {
        write(Level::Warn, message, &[]);
    }
    /// Log at error level.
    pub fn error(message: &str) {
        write(Level::Error, message, &[]);
    }
    /// Log at debug level.
    pub fn debug(message: &str) {
        write(Level::Debug, message, &[]);
    }
}

/// Acting on Discord in the current guild (each call needs its capability).
pub mod discord {
    pub use crate::bindings::baseline::cog::discord::*;
}
into_cog_error!(discord::DiscordError, "discord", |error| {
    use discord::DiscordError as E;
    match error {
        E::Denied(why) => denial(why),
        E::NoGuild => Some(NEEDS_SERVER.into()),
        E::RateLimited(ms) => Some(wait(*ms)),
        E::NotFound => Some("Discord could not find that (it may have been deleted).".into()),
        _ => None,
    }
});

/// Follow-ups and edits of the current interaction's response.
pub mod interaction {
    pub use crate::bindings::baseline::cog::interaction::*;
}
into_cog_error!(interaction::InteractionError, "interaction", |error| {
    use interaction::InteractionError as E;
    match error {
        E::Denied(why) => denial(why),
        E::RateLimited(ms) => Some(wait(*ms)),
        _ => None,
    }
});

pub use crate::llm;

impl From<llm::LlmError> for CogError {
    /// What the user can act on (a spent budget, a rate limit, a refusal, a
    /// prompt too long, a model the operator has not allowed) is said to
    /// them; the rest is the operator's to read in the log.
    fn from(error: llm::LlmError) -> Self {
        use llm::LlmError as E;
        match error {
            E::BudgetExceeded(why) => {
                CogError::User(format!("The language model budget is spent: {why}."))
            }
            E::RateLimited(after) => CogError::User(match after {
                Some(ms) => format!(
                    "The language model is busy; try again in {} s.",
                    ms.div_ceil(1_000)
                ),
                None => "The language model is busy; try again in a moment.".into(),
            }),
            E::ContentFiltered(why) => {
                CogError::User(format!("The model would not answer that ({why})."))
            }
            E::ContextTooLong(_) => {
                CogError::User("That is too long for the model; try something shorter.".into())
            }
            // A capability the cog forgot to declare is its author's bug.
            E::Denied(why) if why.contains("manifest") => {
                CogError::Internal(format!("llm: Denied({why:?})"))
            }
            E::Denied(why) => CogError::User(format!("Not allowed here: {why}.")),
            other => CogError::Internal(format!("llm: {other:?}")),
        }
    }
}

/// Facts about the host: version, uptime, cogs, shards, health.
pub mod system {
    pub use crate::bindings::baseline::cog::system::*;
}
into_cog_error!(system::SystemError, "system", |error| {
    use system::SystemError as E;
    match error {
        E::Denied(why) => denial(why),
        _ => None,
    }
});

/// Timers: this cog's [`Cog::on_timer`](crate::Cog::on_timer) run later in
/// the current guild, kept by the host across restarts, run once; setting a
/// name again replaces its timer. Capability `schedule`.
///
/// ```no_run
/// use std::time::Duration;
/// use baseline_sdk::schedule;
/// # fn f() -> Result<(), baseline_sdk::CogError> {
/// // Lift a mute in ten minutes; the payload says whose.
/// schedule::timer("unmute:42")
///     .after(Duration::from_secs(600))
///     .json(&42u64)
///     .set()?;
/// let pending = schedule::pending()?; // [("unmute:42", when)]
/// schedule::cancel("unmute:42")?;
/// # Ok(()) }
/// ```
pub mod schedule {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use crate::bindings::baseline::cog::schedule as raw;
    pub use raw::{ScheduleError, cancel, pending};

    /// A timer being set: [`timer`], then when, what, and [`TimerBuilder::set`].
    #[derive(Debug, Clone)]
    #[must_use = "a timer is set by `.set()`"]
    pub struct TimerBuilder {
        name: String,
        at_ms: Option<u64>,
        after_ms: u64,
        payload: String,
    }

    /// A timer named `name` (1 to 100 bytes; this cog's, in this guild), due
    /// at once unless given a time.
    pub fn timer(name: impl Into<String>) -> TimerBuilder {
        TimerBuilder {
            name: name.into(),
            at_ms: None,
            after_ms: 0,
            payload: String::new(),
        }
    }

    impl TimerBuilder {
        /// Due `delay` from now.
        pub fn after(mut self, delay: Duration) -> Self {
            self.at_ms = None;
            self.after_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
            self
        }

        /// Due at `at` (a time already past runs at once).
        pub fn at(mut self, at: SystemTime) -> Self {
            let ms = at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
            self.at_ms = Some(u64::try_from(ms).unwrap_or(u64::MAX));
            self
        }

        /// What `on_timer` receives (at most 4 KiB).
        pub fn payload(mut self, payload: impl Into<String>) -> Self {
            self.payload = payload.into();
            self
        }

        /// `value` as JSON for the payload (read it back with
        /// `serde_json::from_str` in `on_timer`).
        pub fn json<T: serde::Serialize>(mut self, value: &T) -> Self {
            self.payload = serde_json::to_string(value).unwrap_or_default();
            self
        }

        /// Set it, replacing this guild's timer of the same name.
        pub fn set(self) -> Result<(), ScheduleError> {
            match self.at_ms {
                Some(at) => raw::at(&self.name, at, &self.payload),
                None => raw::after(&self.name, self.after_ms, &self.payload),
            }
        }
    }
}
into_cog_error!(schedule::ScheduleError, "schedule", |error| {
    use schedule::ScheduleError as E;
    match error {
        E::Denied(why) => denial(why),
        E::NoGuild => Some(NEEDS_SERVER.into()),
        E::TooMany(most) => Some(format!(
            "This server already has {most} timers of this feature; cancel one first."
        )),
        _ => None,
    }
});
