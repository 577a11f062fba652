//! Messages remembered across restarts, for the `before` of edits and
//! deletions: opaque bodies by message id, with the guild, channel and
//! author to trim and forget by. The discord layer decides what a body is
//! (`discord::memory::messages`) and writes behind its in-process memory.

use super::{Database, StoreError, now_millis, with_pool};

/// One remembered message.
#[derive(Debug, Clone, PartialEq)]
pub struct Remembered {
    /// Message id.
    pub message: u64,
    /// Its guild.
    pub guild: u64,
    /// Its channel.
    pub channel: u64,
    /// Its author.
    pub author: u64,
    /// What the discord layer keeps of it.
    pub body: Vec<u8>,
}

/// The remembered messages of every guild.
#[derive(Clone)]
pub struct RememberedMessages {
    db: Database,
}

fn id(value: u64) -> i64 {
    value as i64
}

impl RememberedMessages {
    /// On `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// Remember `messages` (replacing what was kept under their ids), as
    /// seen now.
    pub async fn put(&self, messages: &[Remembered]) -> Result<(), StoreError> {
        if messages.is_empty() {
            return Ok(());
        }
        let now = now_millis();
        with_pool!(self.db, |pool| {
            let mut tx = pool.begin().await?;
            for m in messages {
                sqlx::query(
                    "INSERT INTO remembered_messages (message_id, guild_id, channel_id, author_id, body, bytes, seen_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)
                     ON CONFLICT (message_id) DO UPDATE SET body = excluded.body,
                        bytes = excluded.bytes, seen_at = excluded.seen_at",
                )
                .bind(id(m.message))
                .bind(id(m.guild))
                .bind(id(m.channel))
                .bind(id(m.author))
                .bind(&m.body)
                .bind(m.body.len() as i64)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await
        })?;
        Ok(())
    }

    /// The bodies kept under `ids` (those that are), by id.
    pub async fn get(&self, ids: &[u64]) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        let mut found = Vec::new();
        for message in ids {
            let body: Option<Vec<u8>> = with_pool!(self.db, |pool| sqlx::query_scalar(
                "SELECT body FROM remembered_messages WHERE message_id = $1"
            )
            .bind(id(*message))
            .fetch_optional(pool)
            .await)?;
            if let Some(body) = body {
                found.push((*message, body));
            }
        }
        Ok(found)
    }

    /// Forget `ids` (deleted messages).
    pub async fn delete(&self, ids: &[u64]) -> Result<u64, StoreError> {
        let mut gone = 0;
        for message in ids {
            gone += with_pool!(self.db, |pool| sqlx::query(
                "DELETE FROM remembered_messages WHERE message_id = $1"
            )
            .bind(id(*message))
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        }
        Ok(gone)
    }

    /// Forget every message `user` wrote ("forget user"); how many went.
    pub async fn forget_author(&self, user: u64) -> Result<u64, StoreError> {
        Ok(with_pool!(self.db, |pool| sqlx::query(
            "DELETE FROM remembered_messages WHERE author_id = $1"
        )
        .bind(id(user))
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?)
    }

    /// Forget what is older than `max_age_ms`, and in each guild whose
    /// messages pass `guild_bytes`, the oldest until it is within; how many
    /// went.
    pub async fn trim(&self, max_age_ms: i64, guild_bytes: i64) -> Result<u64, StoreError> {
        let cutoff = now_millis() - max_age_ms;
        let mut gone = with_pool!(self.db, |pool| sqlx::query(
            "DELETE FROM remembered_messages WHERE seen_at < $1"
        )
        .bind(cutoff)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        let over: Vec<i64> = with_pool!(self.db, |pool| sqlx::query_scalar(
            "SELECT guild_id FROM remembered_messages GROUP BY guild_id HAVING SUM(bytes) > $1"
        )
        .bind(guild_bytes)
        .fetch_all(pool)
        .await)?;
        for guild in over {
            gone += with_pool!(self.db, |pool| {
                sqlx::query(
                "DELETE FROM remembered_messages WHERE message_id IN (
                    SELECT message_id FROM (
                        SELECT message_id, SUM(bytes) OVER (ORDER BY seen_at DESC, message_id DESC) AS newer
                        FROM remembered_messages WHERE guild_id = $1
                    ) ranked WHERE newer > $2)"
            )
            .bind(guild)
            .bind(guild_bytes)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
            })?;
        }
        Ok(gone)
    }

    /// Messages and bytes kept for `guild`.
    pub async fn held(&self, guild: u64) -> Result<(u64, u64), StoreError> {
        let (count, bytes): (i64, Option<i64>) = with_pool!(self.db, |pool| {
            sqlx::query_as(
            "SELECT COUNT(*), CAST(SUM(bytes) AS BIGINT) FROM remembered_messages WHERE guild_id = $1"
        )
        .bind(id(guild))
        .fetch_one(pool)
        .await
        })?;
        Ok((count as u64, bytes.unwrap_or(0) as u64))
    }
}
