//! Guild settings of cogs, with an audit trail of every change (who, when,
//! before, after). Values arrive here already validated against the cog's
//! schema; this module only stores them.

use parking_lot::Mutex;
use serde_json::Value;

use super::{Database, StoreError, with_pool};

/// One change of one cog's settings in one guild (shared with the API).
pub use baseline_api_types::SettingsChange;

/// Storage of settings per cog and guild.
#[async_trait::async_trait]
pub trait SettingsStore: Send + Sync {
    /// The saved settings object, if any.
    async fn get(&self, cog: &str, guild: u64) -> Result<Option<Value>, StoreError>;
    /// Save validated settings and record the change.
    async fn put(
        &self,
        cog: &str,
        guild: u64,
        value: Value,
        actor: Option<u64>,
    ) -> Result<(), StoreError>;
    /// The latest changes, newest first.
    async fn history(
        &self,
        cog: &str,
        guild: u64,
        limit: u32,
    ) -> Result<Vec<SettingsChange>, StoreError>;
}

/// Settings in memory: for `baseline cog call` and tests of the capability.
#[derive(Default)]
pub struct InProcessSettings {
    saved: Mutex<std::collections::HashMap<(String, u64), Value>>,
    changes: Mutex<Vec<(String, u64, SettingsChange)>>,
}

#[async_trait::async_trait]
impl SettingsStore for InProcessSettings {
    async fn get(&self, cog: &str, guild: u64) -> Result<Option<Value>, StoreError> {
        Ok(self.saved.lock().get(&(cog.to_string(), guild)).cloned())
    }

    async fn put(
        &self,
        cog: &str,
        guild: u64,
        value: Value,
        actor: Option<u64>,
    ) -> Result<(), StoreError> {
        // One lock over the swap and the record, so racing writers record
        // their changes in the order they made them.
        let mut saved = self.saved.lock();
        let before = saved.insert((cog.to_string(), guild), value.clone());
        let change = SettingsChange {
            actor_id: actor,
            before,
            after: value,
            at: String::new(),
        };
        self.changes.lock().push((cog.to_string(), guild, change));
        drop(saved);
        Ok(())
    }

    async fn history(
        &self,
        cog: &str,
        guild: u64,
        limit: u32,
    ) -> Result<Vec<SettingsChange>, StoreError> {
        let changes = self.changes.lock();
        Ok(changes
            .iter()
            .rev()
            .filter(|(c, g, _)| c == cog && *g == guild)
            .take(limit as usize)
            .map(|(_, _, change)| change.clone())
            .collect())
    }
}

/// `guild_settings` and `settings_audit` in the database.
#[derive(Clone)]
pub struct SqlSettings {
    db: Database,
}

impl SqlSettings {
    /// A store over `db` (migrated).
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

fn parse(text: &str) -> Result<Value, StoreError> {
    serde_json::from_str(text)
        .map_err(|error| StoreError::Unavailable(format!("stored settings are not JSON: {error}")))
}

#[async_trait::async_trait]
impl SettingsStore for SqlSettings {
    async fn get(&self, cog: &str, guild: u64) -> Result<Option<Value>, StoreError> {
        let row: Option<(String,)> = with_pool!(self.db, |pool| sqlx::query_as(
            "SELECT value FROM guild_settings WHERE guild_id = $1 AND cog = $2"
        )
        .bind(guild as i64)
        .bind(cog)
        .fetch_optional(pool)
        .await)?;
        row.map(|(text,)| parse(&text)).transpose()
    }

    async fn put(
        &self,
        cog: &str,
        guild: u64,
        value: Value,
        actor: Option<u64>,
    ) -> Result<(), StoreError> {
        let after = value.to_string();
        let actor = actor.map(|a| a as i64);
        // The read of `before` and both writes happen in one transaction that
        // holds the (guild, cog) lock, so the audit row always matches what
        // was replaced, even with writers racing: SQLite's IMMEDIATE
        // transaction takes the write lock up front; on Postgres a
        // transaction-scoped advisory lock on the pair does (a row lock
        // could not cover a row that does not exist yet).
        macro_rules! save {
            ($tx:expr, $lock:expr) => {{
                let mut tx = $tx;
                if let Some(lock) = $lock {
                    sqlx::query(lock)
                        .bind(format!("settings:{guild}:{cog}"))
                        .execute(&mut *tx)
                        .await?;
                }
                let before: Option<(String,)> =
                    sqlx::query_as("SELECT value FROM guild_settings WHERE guild_id = $1 AND cog = $2")
                        .bind(guild as i64)
                        .bind(cog)
                        .fetch_optional(&mut *tx)
                        .await?;
                sqlx::query(
                    "INSERT INTO guild_settings (guild_id, cog, value, updated_by) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (guild_id, cog) DO UPDATE SET value = excluded.value, updated_by = excluded.updated_by",
                )
                .bind(guild as i64)
                .bind(cog)
                .bind(&after)
                .bind(actor)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "INSERT INTO settings_audit (guild_id, cog, actor_id, before_value, after_value) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(guild as i64)
                .bind(cog)
                .bind(actor)
                .bind(before.map(|(b,)| b))
                .bind(&after)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
            }};
        }
        match self.db.pool() {
            super::Pool::Postgres(pool) => save!(
                pool.begin().await?,
                Some("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            ),
            super::Pool::Sqlite(pool) => {
                save!(pool.begin_with(self.db.begin_write()).await?, None::<&str>)
            }
        }
        Ok(())
    }

    async fn history(
        &self,
        cog: &str,
        guild: u64,
        limit: u32,
    ) -> Result<Vec<SettingsChange>, StoreError> {
        let sql = match self.db.backend() {
            "postgres" => {
                "SELECT actor_id, before_value, after_value, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') \
                           FROM settings_audit WHERE guild_id = $1 AND cog = $2 ORDER BY id DESC LIMIT $3"
            }
            _ => {
                "SELECT actor_id, before_value, after_value, at FROM settings_audit WHERE guild_id = $1 AND cog = $2 ORDER BY id DESC LIMIT $3"
            }
        };
        let rows: Vec<(Option<i64>, Option<String>, String, String)> =
            with_pool!(self.db, |pool| sqlx::query_as(sql)
                .bind(guild as i64)
                .bind(cog)
                .bind(limit as i64)
                .fetch_all(pool)
                .await)?;
        rows.into_iter()
            .map(|(actor, before, after, at)| {
                Ok(SettingsChange {
                    actor_id: actor.map(|a| a as u64),
                    before: before.as_deref().map(parse).transpose()?,
                    after: parse(&after)?,
                    at,
                })
            })
            .collect()
    }
}
