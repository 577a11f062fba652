//! Guilds the bot is in (install tracking), their authorized users, and
//! which cogs each guild has turned off.
//!
//! Joining creates the guild's row (or reactivates it) and makes the guild
//! owner its first authorized user; seeing it with another owner (a
//! transfer) moves the owner's access to the new owner, recorded in the
//! access history (`store::access`); leaving marks it inactive and keeps its
//! data. Both are idempotent: a restart replays GUILD_CREATE for every
//! guild without duplicating anything.

use super::{Database, Pool, StoreError, with_pool};

/// A guild as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct GuildRecord {
    /// Id.
    pub guild_id: u64,
    /// Name when last seen.
    pub name: String,
    /// Owner when last seen.
    pub owner_id: Option<u64>,
    /// Whether the bot is in it.
    pub active: bool,
}

/// Install tracking and per-guild cog switches in the database.
#[derive(Clone, Debug)]
pub struct GuildStore {
    db: Database,
}

impl GuildStore {
    /// On `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// The database it is on.
    pub fn database(&self) -> &Database {
        &self.db
    }

    /// The bot is in `guild` (joined now or seen again at start-up). Returns
    /// true when this is a new install (no row, or the row was inactive).
    pub async fn joined(&self, guild: u64, name: &str, owner: u64) -> Result<bool, StoreError> {
        let (id, owner) = (guild as i64, owner as i64);
        let now = match self.db.pool() {
            Pool::Postgres(_) => "now()",
            Pool::Sqlite(_) => "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
        };
        let upsert = format!(
            "INSERT INTO guilds (guild_id, name, owner_id, active) VALUES ($1, $2, $3, TRUE)
             ON CONFLICT (guild_id) DO UPDATE SET name = excluded.name, owner_id = excluded.owner_id,
                 active = TRUE, left_at = NULL,
                 joined_at = CASE WHEN guilds.active THEN guilds.joined_at ELSE {now} END"
        );
        // One transaction: the guild never exists without its owner, and an
        // ownership transfer moves the owner's access in the same step.
        let at = super::now_millis();
        let was_active: Option<bool> = with_pool!(self.db, |pool| {
            let mut tx = pool.begin_with(self.db.begin_write()).await?;
            let before: Option<(bool, Option<i64>)> =
                sqlx::query_as("SELECT active, owner_id FROM guilds WHERE guild_id = $1")
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?;
            sqlx::query(&upsert)
                .bind(id)
                .bind(name)
                .bind(owner)
                .execute(&mut *tx)
                .await?;
            let history = "INSERT INTO access_history (guild_id, actor_id, user_id, role_before, role_after, at)
                           VALUES ($1, NULL, $2, $3, $4, $5)";
            let old_owner = before.and_then(|(_, owner)| owner).filter(|o| *o != owner);
            if let Some(old) = old_owner {
                // The old owner's access ends (their row was the owner row:
                // one row per user and guild), and what Discord said about
                // them at sign-in no longer counts for their API tokens.
                let removed = sqlx::query(
                    "DELETE FROM authorized_users WHERE guild_id = $1 AND user_id = $2 AND role = 'owner'",
                )
                .bind(id)
                .bind(old)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                sqlx::query("UPDATE dashboard_users SET refreshed_at = 0 WHERE user_id = $1")
                    .bind(old)
                    .execute(&mut *tx)
                    .await?;
                if removed > 0 {
                    sqlx::query(history)
                        .bind(id)
                        .bind(old)
                        .bind("owner")
                        .bind(None::<&str>)
                        .bind(at)
                        .execute(&mut *tx)
                        .await?;
                }
            }
            let owner_role: Option<String> = sqlx::query_scalar(
                "SELECT role FROM authorized_users WHERE guild_id = $1 AND user_id = $2",
            )
            .bind(id)
            .bind(owner)
            .fetch_optional(&mut *tx)
            .await?;
            if owner_role.as_deref() != Some("owner") {
                sqlx::query(
                    "INSERT INTO authorized_users (guild_id, user_id, role) VALUES ($1, $2, 'owner')
                     ON CONFLICT (guild_id, user_id) DO UPDATE SET role = 'owner', granted_by = NULL",
                )
                .bind(id)
                .bind(owner)
                .execute(&mut *tx)
                .await?;
                sqlx::query(history)
                    .bind(id)
                    .bind(owner)
                    .bind(owner_role)
                    .bind("owner")
                    .bind(at)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok::<_, sqlx::Error>(before.map(|(active, _)| active))
        })?;
        Ok(was_active != Some(true))
    }

    /// The bot left (or was removed from) `guild`: marked inactive, data kept.
    /// Returns false when the guild was not known as active.
    pub async fn left(&self, guild: u64) -> Result<bool, StoreError> {
        let sql = match self.db.pool() {
            Pool::Postgres(_) => {
                "UPDATE guilds SET active = FALSE, left_at = now() WHERE guild_id = $1 AND active"
            }
            Pool::Sqlite(_) => {
                "UPDATE guilds SET active = FALSE, left_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE guild_id = $1 AND active"
            }
        };
        let changed = with_pool!(self.db, |pool| sqlx::query(sql)
            .bind(guild as i64)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(changed > 0)
    }

    /// One guild.
    pub async fn get(&self, guild: u64) -> Result<Option<GuildRecord>, StoreError> {
        let row: Option<(i64, String, Option<i64>, bool)> = with_pool!(self.db, |pool| {
            sqlx::query_as(
                "SELECT guild_id, name, owner_id, active FROM guilds WHERE guild_id = $1",
            )
            .bind(guild as i64)
            .fetch_optional(pool)
            .await
        })?;
        Ok(row.map(|(id, name, owner, active)| GuildRecord {
            guild_id: id as u64,
            name,
            owner_id: owner.map(|o| o as u64),
            active,
        }))
    }

    /// Every guild ever joined, by id.
    pub async fn list(&self) -> Result<Vec<GuildRecord>, StoreError> {
        let rows: Vec<(i64, String, Option<i64>, bool)> = with_pool!(self.db, |pool| {
            sqlx::query_as("SELECT guild_id, name, owner_id, active FROM guilds ORDER BY guild_id")
                .fetch_all(pool)
                .await
        })?;
        Ok(rows
            .into_iter()
            .map(|(id, name, owner, active)| GuildRecord {
                guild_id: id as u64,
                name,
                owner_id: owner.map(|o| o as u64),
                active,
            })
            .collect())
    }

    /// The users authorized on a guild, with their role.
    pub async fn authorized_users(&self, guild: u64) -> Result<Vec<(u64, String)>, StoreError> {
        let rows: Vec<(i64, String)> = with_pool!(self.db, |pool| {
            sqlx::query_as(
                "SELECT user_id, role FROM authorized_users WHERE guild_id = $1 ORDER BY user_id",
            )
            .bind(guild as i64)
            .fetch_all(pool)
            .await
        })?;
        Ok(rows.into_iter().map(|(u, r)| (u as u64, r)).collect())
    }

    /// Whether `cog` is turned on in `guild` (on unless turned off).
    pub async fn cog_enabled(&self, guild: u64, cog: &str) -> Result<bool, StoreError> {
        self.cog_switch(guild, cog)
            .await
            .map(|switch| switch.unwrap_or(true))
    }

    /// Whether `cog` was turned on or off in `guild`; `None` when nobody has
    /// switched it there (the cog's default applies).
    pub async fn cog_switch(&self, guild: u64, cog: &str) -> Result<Option<bool>, StoreError> {
        let enabled: Option<bool> = with_pool!(self.db, |pool| sqlx::query_scalar(
            "SELECT enabled FROM guild_cogs WHERE guild_id = $1 AND cog = $2"
        )
        .bind(guild as i64)
        .bind(cog)
        .fetch_optional(pool)
        .await)?;
        Ok(enabled)
    }

    /// Turn `cog` on or off in `guild`.
    pub async fn set_cog_enabled(
        &self,
        guild: u64,
        cog: &str,
        enabled: bool,
        by: Option<u64>,
    ) -> Result<(), StoreError> {
        with_pool!(self.db, |pool| {
            sqlx::query(
            "INSERT INTO guild_cogs (guild_id, cog, enabled, updated_by) VALUES ($1, $2, $3, $4)
             ON CONFLICT (guild_id, cog) DO UPDATE SET enabled = excluded.enabled, updated_by = excluded.updated_by"
        )
        .bind(guild as i64)
        .bind(cog)
        .bind(enabled)
        .bind(by.map(|b| b as i64))
        .execute(pool)
        .await
        .map(|r| r.rows_affected())
        })?;
        Ok(())
    }
}
