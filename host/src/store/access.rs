//! Who may manage which guild: the authorized users of each guild with
//! their role (the guild's owner, from Discord, or a tier delegated by an
//! admin), every change of a role with who made it, API tokens (hashed),
//! and what Discord last said about each signed-in user.
//!
//! The rule that a guild keeps at least one admin is enforced here, inside
//! the transaction that changes a role, so two admins removing each other
//! at once cannot both succeed. Who may make which change (nobody grants
//! above their own tier) is the API's rule.

use super::{Database, Pool, StoreError, now_millis, with_pool};

/// What a user may do in a guild (shared with the dashboard).
pub use baseline_api_types::Tier;

/// A user's role in a guild as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The guild's owner on Discord: an admin for as long as they own it.
    Owner,
    /// A delegated tier.
    Granted(Tier),
}

impl Role {
    /// The tier the role gives.
    pub fn tier(self) -> Tier {
        match self {
            Role::Owner => Tier::Admin,
            Role::Granted(tier) => tier,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Granted(tier) => tier.name(),
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text {
            "owner" => Some(Role::Owner),
            other => Tier::parse(other).map(Role::Granted),
        }
    }
}

/// One authorized user of a guild.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Authorized {
    /// The user.
    pub user_id: u64,
    /// Owner, or the tier granted.
    pub role: Role,
    /// Who granted it (absent for the owner).
    pub granted_by: Option<u64>,
}

/// One change of someone's access to a guild.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AccessChange {
    /// Who made it; absent when Discord did (an ownership transfer).
    pub actor_id: Option<u64>,
    /// Whose access changed.
    pub user_id: u64,
    /// Role before (absent: none).
    pub before: Option<String>,
    /// Role after (absent: removed).
    pub after: Option<String>,
    /// When, milliseconds since the Unix epoch.
    pub at_ms: i64,
}

/// Why a change was not made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// It would leave the guild without an admin.
    #[error("the guild must keep at least one admin")]
    LastAdmin,
    /// The owner's access comes from Discord, not from a grant.
    #[error("the guild owner's access comes from Discord and cannot be changed here")]
    Owner,
    /// The bot is not in that guild (or never was).
    #[error("the bot is not in this guild")]
    UnknownGuild,
    /// The guild already has as many people with access as allowed.
    #[error(
        "this server already has {0} people with access, the most allowed ([auth] max_grants_per_guild); remove someone first"
    )]
    TooMany(u32),
}

/// An API token as listed (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TokenInfo {
    /// Its id.
    pub id: String,
    /// The name its owner gave it.
    pub name: String,
    /// When it was made, ms since the epoch.
    pub created_at_ms: i64,
    /// When it was last used, ms since the epoch.
    pub last_used_at_ms: Option<i64>,
    /// When it stops working, ms since the epoch (absent: never).
    pub expires_at_ms: Option<i64>,
}

/// What Discord last said about a signed-in user.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UserRecord {
    /// The user.
    pub user_id: u64,
    /// Their username.
    pub username: String,
    /// On the bot's developer team.
    pub developer: bool,
    /// Their guilds, as Discord listed them.
    pub guilds: Vec<MemberGuild>,
    /// When this was read, ms since the epoch.
    pub refreshed_at_ms: i64,
}

/// A guild a user is in, as `users/@me/guilds` lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MemberGuild {
    /// The guild.
    pub id: u64,
    /// Its name.
    pub name: String,
    /// Its icon hash.
    pub icon: Option<String>,
    /// The user owns it.
    pub owner: bool,
    /// The user's permissions there (Discord's bit set).
    pub permissions: u64,
}

/// Discord's Manage Server permission.
pub const MANAGE_GUILD: u64 = 1 << 5;
/// How often an API token's `last_used_at` is written at most.
pub const TOKEN_USE_NOTED_EVERY_MS: i64 = 60_000;
/// Discord's Administrator permission.
pub const ADMINISTRATOR: u64 = 1 << 3;

impl MemberGuild {
    /// The user may manage the guild on Discord (owner, Administrator or
    /// Manage Server).
    pub fn manages(&self) -> bool {
        self.owner || self.permissions & (MANAGE_GUILD | ADMINISTRATOR) != 0
    }
}

/// A row of `access_history`: actor, user, role before, role after, at.
type HistoryRow = (Option<i64>, i64, Option<String>, Option<String>, i64);
/// A row of `api_tokens` as listed: id, name, created, last used, expires.
type TokenRow = (String, String, i64, Option<i64>, Option<i64>);

/// Access records in the database.
#[derive(Clone, Debug)]
pub struct AccessStore {
    db: Database,
    /// Most people with access in one guild, the owner included.
    max_grants: u32,
}

/// The default of [`AccessStore::with_max_grants`].
pub use crate::config::MAX_GRANTS_PER_GUILD;

/// The statement that locks a guild's access rows for a change: Postgres
/// locks the guild's row; SQLite's `BEGIN IMMEDIATE` already holds the
/// only write lock.
fn lock_guild(pool: &Pool) -> &'static str {
    match pool {
        Pool::Postgres(_) => "SELECT guild_id FROM guilds WHERE guild_id = $1 FOR UPDATE",
        Pool::Sqlite(_) => "SELECT guild_id FROM guilds WHERE guild_id = $1",
    }
}

impl AccessStore {
    /// On `db`.
    pub fn new(db: Database) -> Self {
        Self {
            db,
            max_grants: MAX_GRANTS_PER_GUILD,
        }
    }

    /// With at most `max` people with access in one guild: a grant to one
    /// more is refused ([`Refusal::TooMany`]). Each is listed with a name
    /// the bot may have to look up, so the list must stay bounded.
    pub fn with_max_grants(self, max: u32) -> Self {
        Self {
            max_grants: max.max(1),
            ..self
        }
    }

    /// `user`'s role in `guild`, if any.
    pub async fn role(&self, guild: u64, user: u64) -> Result<Option<Role>, StoreError> {
        let role: Option<String> = with_pool!(self.db, |pool| sqlx::query_scalar(
            "SELECT role FROM authorized_users WHERE guild_id = $1 AND user_id = $2"
        )
        .bind(guild as i64)
        .bind(user as i64)
        .fetch_optional(pool)
        .await)?;
        Ok(role.as_deref().and_then(Role::parse))
    }

    /// Every guild where `user` has a role.
    pub async fn roles_of(&self, user: u64) -> Result<Vec<(u64, Role)>, StoreError> {
        let rows: Vec<(i64, String)> = with_pool!(self.db, |pool| sqlx::query_as(
            "SELECT guild_id, role FROM authorized_users WHERE user_id = $1 ORDER BY guild_id"
        )
        .bind(user as i64)
        .fetch_all(pool)
        .await)?;
        Ok(rows
            .into_iter()
            .filter_map(|(g, r)| Role::parse(&r).map(|r| (g as u64, r)))
            .collect())
    }

    /// The authorized users of `guild`.
    pub async fn list(&self, guild: u64) -> Result<Vec<Authorized>, StoreError> {
        let rows: Vec<(i64, String, Option<i64>)> = with_pool!(self.db, |pool| {
            sqlx::query_as(
            "SELECT user_id, role, granted_by FROM authorized_users WHERE guild_id = $1 ORDER BY user_id"
        )
        .bind(guild as i64)
        .fetch_all(pool)
        .await
        })?;
        Ok(rows
            .into_iter()
            .filter_map(|(user, role, by)| {
                Some(Authorized {
                    user_id: user as u64,
                    role: Role::parse(&role)?,
                    granted_by: by.map(|b| b as u64),
                })
            })
            .collect())
    }

    /// Give `user` the tier `to` in `guild` (`None`: remove their access),
    /// as `actor`; recorded in the history. Refused when it would leave
    /// the guild without an admin, or touch the owner's role. Returns the
    /// role before.
    pub async fn change(
        &self,
        guild: u64,
        actor: u64,
        user: u64,
        to: Option<Tier>,
    ) -> Result<Result<Option<Role>, Refusal>, StoreError> {
        let (guild_id, user_id) = (guild as i64, user as i64);
        let now = now_millis();
        with_pool!(self.db, |pool| {
            let mut tx = pool.begin_with(self.db.begin_write()).await?;
            let known: Option<i64> = sqlx::query_scalar(lock_guild(self.db.pool()))
                .bind(guild_id)
                .fetch_optional(&mut *tx)
                .await?;
            if known.is_none() {
                return Ok(Err(Refusal::UnknownGuild));
            }
            let before: Option<String> = sqlx::query_scalar(
                "SELECT role FROM authorized_users WHERE guild_id = $1 AND user_id = $2",
            )
            .bind(guild_id)
            .bind(user_id)
            .fetch_optional(&mut *tx)
            .await?;
            let before = before.as_deref().and_then(Role::parse);
            if before == Some(Role::Owner) {
                return Ok(Err(Refusal::Owner));
            }
            if before.map(Role::tier) == to {
                return Ok(Ok(before));
            }
            if before.is_none() && to.is_some() {
                let holders: i64 =
                    sqlx::query_scalar("SELECT COUNT(*) FROM authorized_users WHERE guild_id = $1")
                        .bind(guild_id)
                        .fetch_one(&mut *tx)
                        .await?;
                if holders >= i64::from(self.max_grants) {
                    return Ok(Err(Refusal::TooMany(self.max_grants)));
                }
            }
            let was_admin = before.map(Role::tier) == Some(Tier::Admin);
            if was_admin && to != Some(Tier::Admin) {
                let admins: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM authorized_users WHERE guild_id = $1 AND role IN ('owner', 'admin')",
                )
                .bind(guild_id)
                .fetch_one(&mut *tx)
                .await?;
                if admins <= 1 {
                    return Ok(Err(Refusal::LastAdmin));
                }
            }
            match to {
                Some(tier) => {
                    sqlx::query(
                        "INSERT INTO authorized_users (guild_id, user_id, role, granted_by) VALUES ($1, $2, $3, $4)
                         ON CONFLICT (guild_id, user_id) DO UPDATE SET role = excluded.role, granted_by = excluded.granted_by",
                    )
                    .bind(guild_id)
                    .bind(user_id)
                    .bind(tier.name())
                    .bind(actor as i64)
                    .execute(&mut *tx)
                    .await?;
                }
                None => {
                    sqlx::query("DELETE FROM authorized_users WHERE guild_id = $1 AND user_id = $2")
                        .bind(guild_id)
                        .bind(user_id)
                        .execute(&mut *tx)
                        .await?;
                }
            }
            sqlx::query(
                "INSERT INTO access_history (guild_id, actor_id, user_id, role_before, role_after, at)
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(guild_id)
            .bind(actor as i64)
            .bind(user_id)
            .bind(before.map(Role::name))
            .bind(to.map(Tier::name))
            .bind(now)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(Ok(before))
        })
        .map_err(StoreError::from)
    }

    /// The latest changes of access to `guild`, newest first.
    pub async fn history(&self, guild: u64, limit: u32) -> Result<Vec<AccessChange>, StoreError> {
        let rows: Vec<HistoryRow> = with_pool!(self.db, |pool| sqlx::query_as(
            "SELECT actor_id, user_id, role_before, role_after, at FROM access_history
                 WHERE guild_id = $1 ORDER BY id DESC LIMIT $2"
        )
        .bind(guild as i64)
        .bind(limit as i64)
        .fetch_all(pool)
        .await)?;
        Ok(rows
            .into_iter()
            .map(|(actor, user, before, after, at)| AccessChange {
                actor_id: actor.map(|a| a as u64),
                user_id: user as u64,
                before,
                after,
                at_ms: at,
            })
            .collect())
    }

    /// Keep a new API token of `user` (its SHA-256, hex); its id.
    pub async fn create_token(
        &self,
        user: u64,
        name: &str,
        hash: &str,
        expires_at_ms: Option<i64>,
    ) -> Result<String, StoreError> {
        let id = uuid::Uuid::new_v4().simple().to_string();
        with_pool!(self.db, |pool| {
            sqlx::query(
            "INSERT INTO api_tokens (id, user_id, name, token_hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)"
        )
        .bind(&id)
        .bind(user as i64)
        .bind(name)
        .bind(hash)
        .bind(now_millis())
        .bind(expires_at_ms)
        .execute(pool)
        .await
        .map(|r| r.rows_affected())
        })?;
        Ok(id)
    }

    /// `user`'s API tokens, newest first.
    pub async fn tokens(&self, user: u64) -> Result<Vec<TokenInfo>, StoreError> {
        let rows: Vec<TokenRow> = with_pool!(self.db, |pool| sqlx::query_as(
            "SELECT id, name, created_at, last_used_at, expires_at FROM api_tokens
                 WHERE user_id = $1 ORDER BY created_at DESC, id"
        )
        .bind(user as i64)
        .fetch_all(pool)
        .await)?;
        Ok(rows
            .into_iter()
            .map(
                |(id, name, created_at_ms, last_used_at_ms, expires_at_ms)| TokenInfo {
                    id,
                    name,
                    created_at_ms,
                    last_used_at_ms,
                    expires_at_ms,
                },
            )
            .collect())
    }

    /// Revoke `user`'s token `id`; false when they have no such token.
    pub async fn revoke_token(&self, user: u64, id: &str) -> Result<bool, StoreError> {
        let deleted = with_pool!(self.db, |pool| sqlx::query(
            "DELETE FROM api_tokens WHERE id = $1 AND user_id = $2"
        )
        .bind(id)
        .bind(user as i64)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(deleted > 0)
    }

    /// The user whose live token has this hash. A read: its use is noted
    /// (`last_used_at`) at most once a minute per token, so a token used
    /// many times a second — or a flood of made-up ones, which never match —
    /// does not queue writes on the database (SQLite has one writer, shared
    /// with the cogs' kv).
    pub async fn token_user(&self, hash: &str) -> Result<Option<u64>, StoreError> {
        let now = now_millis();
        let found: Option<(i64, Option<i64>)> = with_pool!(self.db, |pool| sqlx::query_as(
            "SELECT user_id, last_used_at FROM api_tokens
             WHERE token_hash = $1 AND (expires_at IS NULL OR expires_at > $2)"
        )
        .bind(hash)
        .bind(now)
        .fetch_optional(pool)
        .await)?;
        let Some((user, last_used)) = found else {
            return Ok(None);
        };
        if last_used.is_none_or(|at| now - at >= TOKEN_USE_NOTED_EVERY_MS) {
            // Only if nobody noted it within the minute meanwhile: requests
            // racing on one token write once.
            with_pool!(self.db, |pool| sqlx::query(
                "UPDATE api_tokens SET last_used_at = $2 WHERE token_hash = $1
                 AND (last_used_at IS NULL OR last_used_at <= $3)"
            )
            .bind(hash)
            .bind(now)
            .bind(now - TOKEN_USE_NOTED_EVERY_MS)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        }
        Ok(Some(user as u64))
    }

    /// Remember what Discord said about a user.
    pub async fn save_user(&self, user: &UserRecord) -> Result<(), StoreError> {
        let guilds = serde_json::to_string(&user.guilds)
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        with_pool!(self.db, |pool| {
            sqlx::query(
            "INSERT INTO dashboard_users (user_id, username, developer, guilds, refreshed_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (user_id) DO UPDATE SET username = excluded.username, developer = excluded.developer,
                 guilds = excluded.guilds, refreshed_at = excluded.refreshed_at"
        )
        .bind(user.user_id as i64)
        .bind(&user.username)
        .bind(user.developer)
        .bind(guilds)
        .bind(user.refreshed_at_ms)
        .execute(pool)
        .await
        .map(|r| r.rows_affected())
        })?;
        Ok(())
    }

    /// What Discord said about `user` no longer counts (it refused their
    /// grant): their API tokens keep stored roles only until they sign in.
    pub async fn forget_discord(&self, user: u64) -> Result<(), StoreError> {
        with_pool!(self.db, |pool| sqlx::query(
            "UPDATE dashboard_users SET refreshed_at = 0 WHERE user_id = $1"
        )
        .bind(user as i64)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// The usernames of those of `users` who ever signed in.
    pub async fn usernames(
        &self,
        users: &[u64],
    ) -> Result<std::collections::HashMap<u64, String>, StoreError> {
        // One query, whatever the number of users (the ids are numbers, so
        // the list is built from them, never from outside text).
        if users.is_empty() {
            return Ok(std::collections::HashMap::new());
        }
        let ids: Vec<String> = users.iter().map(|u| (*u as i64).to_string()).collect();
        let query = format!(
            "SELECT user_id, username FROM dashboard_users WHERE user_id IN ({})",
            ids.join(",")
        );
        let rows: Vec<(i64, String)> =
            with_pool!(self.db, |pool| sqlx::query_as(&query).fetch_all(pool).await)?;
        Ok(rows
            .into_iter()
            .map(|(user, name)| (user as u64, name))
            .collect())
    }

    /// What Discord last said about `user`.
    pub async fn user(&self, user: u64) -> Result<Option<UserRecord>, StoreError> {
        let row: Option<(String, bool, String, i64)> = with_pool!(self.db, |pool| {
            sqlx::query_as(
            "SELECT username, developer, guilds, refreshed_at FROM dashboard_users WHERE user_id = $1"
        )
        .bind(user as i64)
        .fetch_optional(pool)
        .await
        })?;
        Ok(row.map(
            |(username, developer, guilds, refreshed_at_ms)| UserRecord {
                user_id: user,
                username,
                developer,
                guilds: serde_json::from_str(&guilds).unwrap_or_default(),
                refreshed_at_ms,
            },
        ))
    }
}
