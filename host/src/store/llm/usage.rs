//! The usage table: one row per LLM call, and its sums for the analytics API.

use super::LlmStore;
use crate::store::{StoreError, with_pool};

/// One call, as the usage table keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageRow {
    /// The guild charged, if any.
    pub guild_id: Option<u64>,
    /// The cog that called.
    pub cog: String,
    /// The user it was for, if known.
    pub user_id: Option<u64>,
    /// The provider that answered (or was last tried).
    pub provider: String,
    /// Its model.
    pub model: String,
    /// `chat`, `stream`, `image`, `transcription`, `count`.
    pub operation: String,
    /// Every input token (cached and written included).
    pub input_tokens: u64,
    /// Of those, read from the cache.
    pub cached_tokens: u64,
    /// Of those, written to the cache.
    pub cache_write_tokens: u64,
    /// Output tokens (reasoning included).
    pub output_tokens: u64,
    /// Of those, reasoning.
    pub reasoning_tokens: u64,
    /// What it cost, micro-dollars.
    pub cost_micros: u64,
    /// How long it took.
    pub latency_ms: u64,
    /// `ok`, or the error's kind.
    pub outcome: String,
    /// A fallback route answered.
    pub fallback: bool,
    /// Served from the response cache.
    pub cache_hit: bool,
    /// Images generated.
    pub images: u64,
    /// Audio transcribed, milliseconds.
    pub audio_ms: u64,
    /// When (ms since the epoch; set by [`LlmStore::record`] when 0).
    pub at_ms: i64,
}

/// Which calls to sum: a time range, optionally one guild or one cog.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UsageFilter {
    /// From (ms since the epoch, inclusive).
    pub from_ms: i64,
    /// To (exclusive).
    pub to_ms: i64,
    /// Only this guild.
    pub guild_id: Option<u64>,
    /// Only this cog.
    pub cog: Option<String>,
}

/// How to group sums.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsageGroup {
    /// One group of everything.
    All,
    /// By UTC day (`2026-11-30`).
    Day,
    /// By guild id (`0`: calls with no guild).
    Guild,
    /// By cog.
    Cog,
    /// By `provider/model`.
    Model,
}

/// Sums over calls.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct UsageTotals {
    /// Calls.
    pub calls: u64,
    /// Of those, failed.
    pub errors: u64,
    /// Input tokens (cached and written included).
    pub input_tokens: u64,
    /// Of those, read from the prompt cache.
    pub cached_tokens: u64,
    /// Of those, written to it.
    pub cache_write_tokens: u64,
    /// Output tokens (reasoning included).
    pub output_tokens: u64,
    /// Images generated.
    pub images: u64,
    /// Audio transcribed, ms.
    pub audio_ms: u64,
    /// Cost, micro-dollars.
    pub cost_micros: u64,
    /// Answered from the response cache.
    pub cache_hits: u64,
    /// Answered by a fallback route.
    pub fallbacks: u64,
    /// Sum of latencies, ms (divide by `calls` for the mean).
    pub latency_ms: u64,
}

/// The columns of a usage row, in the order `recent` reads them.
const COLUMNS: &str =
    "guild_id, cog, user_id, provider, model, operation, input_tokens, cached_tokens,
    cache_write_tokens, output_tokens, reasoning_tokens, cost_micros, latency_ms, outcome, fallback,
    cache_hit, images, audio_ms, at_ms";

impl LlmStore {
    /// Record one call.
    pub async fn record(&self, row: &UsageRow) -> Result<(), StoreError> {
        let at = if row.at_ms == 0 {
            crate::store::now_millis()
        } else {
            row.at_ms
        };
        let n = |v: u64| v.min(i64::MAX as u64) as i64;
        with_pool!(self.db, |pool| {
            sqlx::query(&format!(
                "INSERT INTO llm_usage ({COLUMNS})
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)"
            ))
            .bind(row.guild_id.map(|g| g as i64))
            .bind(&row.cog)
            .bind(row.user_id.map(|u| u as i64))
            .bind(&row.provider)
            .bind(&row.model)
            .bind(&row.operation)
            .bind(n(row.input_tokens))
            .bind(n(row.cached_tokens))
            .bind(n(row.cache_write_tokens))
            .bind(n(row.output_tokens))
            .bind(n(row.reasoning_tokens))
            .bind(n(row.cost_micros))
            .bind(n(row.latency_ms))
            .bind(&row.outcome)
            .bind(row.fallback)
            .bind(row.cache_hit)
            .bind(n(row.images))
            .bind(n(row.audio_ms))
            .bind(at)
            .execute(pool)
            .await
            .map(|_| ())
        })?;
        Ok(())
    }

    /// The latest calls of a guild, newest first.
    pub async fn recent(&self, guild: u64, limit: u32) -> Result<Vec<UsageRow>, StoreError> {
        use sqlx::Row as _;
        let n = |v: i64| v.max(0) as u64;
        let rows = with_pool!(self.db, |pool| {
            sqlx::query(&format!(
                "SELECT {COLUMNS} FROM llm_usage WHERE guild_id = $1 ORDER BY id DESC LIMIT $2"
            ))
            .bind(guild as i64)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await
            .and_then(|rows| {
                rows.iter()
                    .map(|r| {
                        Ok(UsageRow {
                            guild_id: r.try_get::<Option<i64>, _>(0)?.map(|g| g as u64),
                            cog: r.try_get(1)?,
                            user_id: r.try_get::<Option<i64>, _>(2)?.map(|u| u as u64),
                            provider: r.try_get(3)?,
                            model: r.try_get(4)?,
                            operation: r.try_get(5)?,
                            input_tokens: n(r.try_get(6)?),
                            cached_tokens: n(r.try_get(7)?),
                            cache_write_tokens: n(r.try_get(8)?),
                            output_tokens: n(r.try_get(9)?),
                            reasoning_tokens: n(r.try_get(10)?),
                            cost_micros: n(r.try_get(11)?),
                            latency_ms: n(r.try_get(12)?),
                            outcome: r.try_get(13)?,
                            fallback: r.try_get(14)?,
                            cache_hit: r.try_get(15)?,
                            images: n(r.try_get(16)?),
                            audio_ms: n(r.try_get(17)?),
                            at_ms: r.try_get(18)?,
                        })
                    })
                    .collect::<Result<Vec<_>, sqlx::Error>>()
            })
        })?;
        Ok(rows)
    }

    /// Sums of the calls `filter` selects, grouped by `group`, in key order
    /// (days as `2026-11-30`, guilds as their id, `0` for none).
    pub async fn usage(
        &self,
        filter: &UsageFilter,
        group: UsageGroup,
    ) -> Result<Vec<(String, UsageTotals)>, StoreError> {
        use sqlx::Row as _;
        let key = match group {
            UsageGroup::All => "''",
            UsageGroup::Day => "CAST(at_ms / 86400000 AS TEXT)",
            UsageGroup::Guild => "CAST(COALESCE(guild_id, 0) AS TEXT)",
            UsageGroup::Cog => "cog",
            UsageGroup::Model => "provider || '/' || model",
        };
        let mut conditions = vec!["at_ms >= $1", "at_ms < $2"];
        if filter.guild_id.is_some() {
            conditions.push("guild_id = $3");
        }
        if filter.cog.is_some() {
            conditions.push(if filter.guild_id.is_some() {
                "cog = $4"
            } else {
                "cog = $3"
            });
        }
        let sum = |column: &str| format!("CAST(COALESCE(SUM({column}), 0) AS BIGINT)");
        let sql = format!(
            "SELECT {key} AS k, COUNT(*), {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}
             FROM llm_usage WHERE {}{}",
            sum("CASE WHEN outcome = 'ok' THEN 0 ELSE 1 END"),
            sum("input_tokens"),
            sum("cached_tokens"),
            sum("cache_write_tokens"),
            sum("output_tokens"),
            sum("images"),
            sum("audio_ms"),
            sum("cost_micros"),
            sum("CASE WHEN cache_hit THEN 1 ELSE 0 END"),
            sum("CASE WHEN fallback THEN 1 ELSE 0 END"),
            sum("latency_ms"),
            conditions.join(" AND "),
            if group == UsageGroup::All {
                ""
            } else {
                " GROUP BY k"
            }
        );
        let n = |v: i64| v.max(0) as u64;
        let rows = with_pool!(self.db, |pool| {
            let mut query = sqlx::query(&sql).bind(filter.from_ms).bind(filter.to_ms);
            if let Some(guild) = filter.guild_id {
                query = query.bind(guild as i64);
            }
            if let Some(cog) = &filter.cog {
                query = query.bind(cog.clone());
            }
            query.fetch_all(pool).await.and_then(|rows| {
                rows.iter()
                    .map(|r| {
                        Ok((
                            r.try_get::<String, _>(0)?,
                            UsageTotals {
                                calls: n(r.try_get(1)?),
                                errors: n(r.try_get(2)?),
                                input_tokens: n(r.try_get(3)?),
                                cached_tokens: n(r.try_get(4)?),
                                cache_write_tokens: n(r.try_get(5)?),
                                output_tokens: n(r.try_get(6)?),
                                images: n(r.try_get(7)?),
                                audio_ms: n(r.try_get(8)?),
                                cost_micros: n(r.try_get(9)?),
                                cache_hits: n(r.try_get(10)?),
                                fallbacks: n(r.try_get(11)?),
                                latency_ms: n(r.try_get(12)?),
                            },
                        ))
                    })
                    .collect::<Result<Vec<_>, sqlx::Error>>()
            })
        })?;
        let mut rows = rows;
        if group == UsageGroup::Day {
            for (key, _) in &mut rows {
                let day: i64 = key.parse().unwrap_or(0);
                *key = super::Period::Daily.window(day * 86_400_000);
            }
            rows.sort_by(|a, b| a.0.cmp(&b.0));
        } else if group != UsageGroup::All {
            rows.sort_by(|a, b| a.0.cmp(&b.0));
        }
        Ok(rows)
    }
}
