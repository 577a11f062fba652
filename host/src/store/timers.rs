//! Cogs' timers (the `schedule` capability): per cog and guild, by name,
//! each due at a time, kept across restarts. The scheduler
//! (`dispatch::timers`) takes the due ones and runs each once: taking a
//! timer deletes it only if it is still the one that was due, so a timer
//! replaced in the meantime, or taken by another process, is not run.

use super::{Database, StoreError, now_millis, with_pool};

/// A timer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timer {
    /// The cog's name.
    pub cog: String,
    /// The guild it runs in.
    pub guild: u64,
    /// Its name, the cog's own.
    pub name: String,
    /// When it is due, milliseconds since the Unix epoch.
    pub due_at: i64,
    /// What the cog handed over, given back when it runs.
    pub payload: String,
}

/// Why a timer could not be set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimerError {
    /// The guild already has `0` of the cog's timers.
    #[error("this server already has {0} timers of this cog")]
    TooMany(u32),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Every cog's timers.
#[derive(Clone)]
pub struct Timers {
    db: Database,
}

type Row = (String, i64, String, i64, String);

fn timer((cog, guild, name, due_at, payload): Row) -> Timer {
    Timer {
        cog,
        guild: guild as u64,
        name,
        due_at,
        payload,
    }
}

impl Timers {
    /// On `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// Set `timer` (replacing the cog's timer of that name in that guild),
    /// unless the guild would then hold more than `most` of the cog's.
    pub async fn set(&self, timer: &Timer, most: u32) -> Result<(), TimerError> {
        let guild = timer.guild as i64;
        let begin = self.db.begin_write();
        let held: i64 = with_pool!(self.db, |pool| async {
            let mut tx = pool.begin_with(begin).await?;
            let held: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM timers WHERE cog = $1 AND guild_id = $2 AND name <> $3",
            )
            .bind(&timer.cog)
            .bind(guild)
            .bind(&timer.name)
            .fetch_one(&mut *tx)
            .await?;
            if held < i64::from(most) {
                sqlx::query(
                    "INSERT INTO timers (cog, guild_id, name, due_at, payload, set_at)
                     VALUES ($1, $2, $3, $4, $5, $6)
                     ON CONFLICT (cog, guild_id, name) DO UPDATE SET due_at = excluded.due_at,
                        payload = excluded.payload, set_at = excluded.set_at",
                )
                .bind(&timer.cog)
                .bind(guild)
                .bind(&timer.name)
                .bind(timer.due_at)
                .bind(&timer.payload)
                .bind(now_millis())
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok::<_, sqlx::Error>(held)
        }
        .await)
        .map_err(StoreError::from)?;
        if held >= i64::from(most) {
            return Err(TimerError::TooMany(most));
        }
        Ok(())
    }

    /// Cancel the cog's timer `name` in `guild`; whether there was one.
    pub async fn cancel(&self, cog: &str, guild: u64, name: &str) -> Result<bool, StoreError> {
        let gone = with_pool!(self.db, |pool| sqlx::query(
            "DELETE FROM timers WHERE cog = $1 AND guild_id = $2 AND name = $3"
        )
        .bind(cog)
        .bind(guild as i64)
        .bind(name)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(gone > 0)
    }

    /// The cog's timers in `guild`, soonest first: names and due times.
    pub async fn pending(&self, cog: &str, guild: u64) -> Result<Vec<(String, i64)>, StoreError> {
        Ok(with_pool!(self.db, |pool| sqlx::query_as(
            "SELECT name, due_at FROM timers WHERE cog = $1 AND guild_id = $2 ORDER BY due_at, name"
        )
        .bind(cog)
        .bind(guild as i64)
        .fetch_all(pool)
        .await)?)
    }

    /// Timers due by `now`, soonest first, at most `limit`.
    pub async fn due(&self, now: i64, limit: u32) -> Result<Vec<Timer>, StoreError> {
        let rows: Vec<Row> = with_pool!(self.db, |pool| sqlx::query_as(
            "SELECT cog, guild_id, name, due_at, payload FROM timers WHERE due_at <= $1
             ORDER BY due_at LIMIT $2"
        )
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await)?;
        Ok(rows.into_iter().map(timer).collect())
    }

    /// When the soonest timer is due, if any.
    pub async fn next_due(&self) -> Result<Option<i64>, StoreError> {
        Ok(with_pool!(self.db, |pool| sqlx::query_scalar(
            "SELECT MIN(due_at) FROM timers"
        )
        .fetch_one(pool)
        .await)?)
    }

    /// Take `timer` to run it: true when it was still due as read (this
    /// caller runs it; it is gone from the store).
    pub async fn take(&self, timer: &Timer) -> Result<bool, StoreError> {
        let gone = with_pool!(self.db, |pool| sqlx::query(
            "DELETE FROM timers WHERE cog = $1 AND guild_id = $2 AND name = $3 AND due_at = $4"
        )
        .bind(&timer.cog)
        .bind(timer.guild as i64)
        .bind(&timer.name)
        .bind(timer.due_at)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(gone == 1)
    }

    /// Forget every timer of `cog` (its data is being deleted); how many.
    pub async fn forget_cog(&self, cog: &str) -> Result<u64, StoreError> {
        Ok(with_pool!(self.db, |pool| sqlx::query(
            "DELETE FROM timers WHERE cog = $1"
        )
        .bind(cog)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?)
    }
}
