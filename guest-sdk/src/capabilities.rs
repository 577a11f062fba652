//! The host's capabilities, as the cog calls them. Each module wraps one WIT
//! interface; errors convert into [`CogError`] so `?` works in handlers.

use crate::CogError;

macro_rules! into_cog_error {
    ($error:ty, $what:literal) => {
        impl From<$error> for CogError {
            fn from(error: $error) -> Self {
                CogError::Internal(format!(concat!($what, ": {:?}"), error))
            }
        }
    };
}

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
into_cog_error!(kv::KvError, "kv");

/// Ephemeral values with a time to live.
pub mod cache {
    pub use crate::bindings::baseline::cog::cache::{CacheError, delete, get, increment, set};
}
into_cog_error!(cache::CacheError, "cache");

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
into_cog_error!(settings::SettingsError, "settings");

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
into_cog_error!(discord::DiscordError, "discord");

/// Follow-ups and edits of the current interaction's response.
pub mod interaction {
    pub use crate::bindings::baseline::cog::interaction::*;
}
into_cog_error!(interaction::InteractionError, "interaction");

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
into_cog_error!(system::SystemError, "system");
