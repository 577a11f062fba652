//! The LLM gateway's durable state: budgets per guild and per cog (daily
//! and monthly windows) with **reservations** — a call reserves its
//! worst-case cost on every budget that applies before it is sent, and
//! settles the real cost after, all in single statements that check and
//! add at once, so several processes spending against one budget cannot
//! overshoot it together.

use super::{Database, StoreError, with_pool};

/// A budget's window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    /// A UTC day.
    Daily,
    /// A UTC month.
    Monthly,
}

impl Period {
    /// Its name in the database.
    pub fn name(self) -> &'static str {
        match self {
            Period::Daily => "daily",
            Period::Monthly => "monthly",
        }
    }

    /// The window containing `at_ms` (`2026-11-29`, `2026-11`).
    pub fn window(self, at_ms: i64) -> String {
        let (year, month, day) = civil(at_ms.div_euclid(86_400_000));
        match self {
            Period::Daily => format!("{year:04}-{month:02}-{day:02}"),
            Period::Monthly => format!("{year:04}-{month:02}"),
        }
    }
}

/// (year, month, day) of a day number since 1970-01-01 (Hinnant's
/// civil-from-days).
fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// A budget: who, which window, how much.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Budget {
    /// The guild.
    pub guild_id: u64,
    /// The cog (`None`: the guild's budget across cogs).
    pub cog: Option<String>,
    /// The window.
    pub period: Period,
    /// The limit, micro-dollars.
    pub limit_micros: u64,
}

/// A reservation held for one call: what to settle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    /// Budget rows reserved on: (guild, cog or '', period, window).
    pub rows: Vec<(u64, String, &'static str, String)>,
    /// The amount reserved on each.
    pub micros: u64,
}

/// Budgets and spend in the database.
#[derive(Clone, Debug)]
pub struct LlmStore {
    db: Database,
}

impl LlmStore {
    /// On `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// Set (or replace) a budget.
    pub async fn set_budget(&self, budget: &Budget) -> Result<(), StoreError> {
        let cog = budget.cog.clone().unwrap_or_default();
        with_pool!(self.db, |pool| {
            sqlx::query(
            "INSERT INTO llm_budgets (guild_id, cog, period, limit_micros) VALUES ($1, $2, $3, $4)
             ON CONFLICT (guild_id, cog, period) DO UPDATE SET limit_micros = excluded.limit_micros"
        )
        .bind(budget.guild_id as i64)
        .bind(&cog)
        .bind(budget.period.name())
        .bind(budget.limit_micros as i64)
        .execute(pool)
        .await
        .map(|_| ())
        })?;
        Ok(())
    }

    /// The budgets that apply to `cog` in `guild`: the guild's and the cog's.
    pub async fn budgets(&self, guild: u64, cog: &str) -> Result<Vec<Budget>, StoreError> {
        let rows: Vec<(String, String, i64)> = with_pool!(self.db, |pool| {
            sqlx::query_as(
            "SELECT cog, period, limit_micros FROM llm_budgets WHERE guild_id = $1 AND (cog = '' OR cog = $2)
             ORDER BY cog, period"
        )
        .bind(guild as i64)
        .bind(cog)
        .fetch_all(pool)
        .await
        })?;
        Ok(rows
            .into_iter()
            .map(|(cog, period, limit)| Budget {
                guild_id: guild,
                cog: (!cog.is_empty()).then_some(cog),
                period: if period == "monthly" {
                    Period::Monthly
                } else {
                    Period::Daily
                },
                limit_micros: limit.max(0) as u64,
            })
            .collect())
    }

    /// Reserve `micros` on every budget that applies to `cog` in `guild` at
    /// `at_ms`, or on none: `Err(Ok(budget))` names the one it would pass.
    pub async fn reserve(
        &self,
        guild: u64,
        cog: &str,
        micros: u64,
        at_ms: i64,
    ) -> Result<Result<Reservation, Budget>, StoreError> {
        let budgets = self.budgets(guild, cog).await?;
        let rows: Vec<(u64, String, &'static str, String, u64)> = budgets
            .iter()
            .map(|b| {
                (
                    guild,
                    b.cog.clone().unwrap_or_default(),
                    b.period.name(),
                    b.period.window(at_ms),
                    b.limit_micros,
                )
            })
            .collect();
        let refused: Option<usize> = with_pool!(self.db, |pool| {
            let mut tx = pool.begin_with(self.db.begin_write()).await?;
            let mut refused = None;
            for (index, (guild, cog, period, window, limit)) in rows.iter().enumerate() {
                sqlx::query(
                    "INSERT INTO llm_spend (guild_id, cog, period, window_start) VALUES ($1, $2, $3, $4)
                     ON CONFLICT DO NOTHING",
                )
                .bind(*guild as i64)
                .bind(cog)
                .bind(*period)
                .bind(window)
                .execute(&mut *tx)
                .await?;
                // Check and add in one statement: two processes cannot both
                // pass the check with room for only one.
                let done = sqlx::query(
                    "UPDATE llm_spend SET reserved_micros = reserved_micros + $5
                     WHERE guild_id = $1 AND cog = $2 AND period = $3 AND window_start = $4
                       AND spent_micros + reserved_micros + $5 <= $6",
                )
                .bind(*guild as i64)
                .bind(cog)
                .bind(*period)
                .bind(window)
                .bind(micros as i64)
                .bind(*limit as i64)
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() == 0 {
                    refused = Some(index);
                    break;
                }
            }
            match refused {
                Some(_) => tx.rollback().await?,
                None => tx.commit().await?,
            }
            Ok::<_, sqlx::Error>(refused)
        })?;
        Ok(match refused {
            Some(index) => Err(budgets[index].clone()),
            None => Ok(Reservation {
                rows: rows
                    .into_iter()
                    .map(|(guild, cog, period, window, _)| (guild, cog, period, window))
                    .collect(),
                micros,
            }),
        })
    }

    /// The call is over: release the reservation, add what it cost.
    pub async fn settle(
        &self,
        reservation: &Reservation,
        cost_micros: u64,
    ) -> Result<(), StoreError> {
        with_pool!(self.db, |pool| {
            let mut tx = pool.begin_with(self.db.begin_write()).await?;
            for (guild, cog, period, window) in &reservation.rows {
                sqlx::query(
                    "UPDATE llm_spend SET reserved_micros = reserved_micros - $5, spent_micros = spent_micros + $6
                     WHERE guild_id = $1 AND cog = $2 AND period = $3 AND window_start = $4",
                )
                .bind(*guild as i64)
                .bind(cog)
                .bind(*period)
                .bind(window)
                .bind(reservation.micros as i64)
                .bind(cost_micros as i64)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await
        })?;
        Ok(())
    }

    /// Spent and reserved in the window of `period` at `at_ms`.
    pub async fn spend(
        &self,
        guild: u64,
        cog: Option<&str>,
        period: Period,
        at_ms: i64,
    ) -> Result<(u64, u64), StoreError> {
        let row: Option<(i64, i64)> = with_pool!(self.db, |pool| sqlx::query_as(
            "SELECT spent_micros, reserved_micros FROM llm_spend
             WHERE guild_id = $1 AND cog = $2 AND period = $3 AND window_start = $4"
        )
        .bind(guild as i64)
        .bind(cog.unwrap_or(""))
        .bind(period.name())
        .bind(period.window(at_ms))
        .fetch_optional(pool)
        .await)?;
        Ok(row
            .map(|(s, r)| (s.max(0) as u64, r.max(0) as u64))
            .unwrap_or((0, 0)))
    }

    /// An admin's reset: the window's spend back to zero (reservations in
    /// flight stay).
    pub async fn reset(
        &self,
        guild: u64,
        cog: Option<&str>,
        period: Period,
        at_ms: i64,
    ) -> Result<(), StoreError> {
        with_pool!(self.db, |pool| sqlx::query(
            "UPDATE llm_spend SET spent_micros = 0
             WHERE guild_id = $1 AND cog = $2 AND period = $3 AND window_start = $4"
        )
        .bind(guild as i64)
        .bind(cog.unwrap_or(""))
        .bind(period.name())
        .bind(period.window(at_ms))
        .execute(pool)
        .await
        .map(|_| ()))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_utc_days_and_months() {
        // 2026-11-29T23:59:59.999Z and a millisecond later.
        let late = 1_795_996_799_999;
        assert_eq!(Period::Daily.window(late), "2026-11-29");
        assert_eq!(Period::Daily.window(late + 1), "2026-11-30");
        assert_eq!(Period::Monthly.window(late), "2026-11");
        assert_eq!(Period::Monthly.window(late + 86_400_000 + 1), "2026-12");
        assert_eq!(Period::Daily.window(0), "1970-01-01");
        // 2028-02-29, a leap day.
        assert_eq!(Period::Daily.window(1_835_395_200_000), "2028-02-29");
    }
}

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
    /// `chat`, `stream`, `image`, `transcription`.
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
}

impl LlmStore {
    /// Record one call.
    pub async fn record(&self, row: &UsageRow) -> Result<(), StoreError> {
        with_pool!(self.db, |pool| {
            sqlx::query(
            "INSERT INTO llm_usage (guild_id, cog, user_id, provider, model, operation, input_tokens,
                 cached_tokens, cache_write_tokens, output_tokens, reasoning_tokens, cost_micros, latency_ms,
                 outcome, fallback, cache_hit)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
        )
        .bind(row.guild_id.map(|g| g as i64))
        .bind(&row.cog)
        .bind(row.user_id.map(|u| u as i64))
        .bind(&row.provider)
        .bind(&row.model)
        .bind(&row.operation)
        .bind(row.input_tokens as i64)
        .bind(row.cached_tokens as i64)
        .bind(row.cache_write_tokens as i64)
        .bind(row.output_tokens as i64)
        .bind(row.reasoning_tokens as i64)
        .bind(row.cost_micros as i64)
        .bind(row.latency_ms as i64)
        .bind(&row.outcome)
        .bind(row.fallback)
        .bind(row.cache_hit)
        .execute(pool)
        .await
        .map(|_| ())
        })?;
        Ok(())
    }

    /// The latest calls of a guild, newest first.
    pub async fn recent(&self, guild: u64, limit: u32) -> Result<Vec<UsageRow>, StoreError> {
        type Row = (
            Option<i64>,
            String,
            Option<i64>,
            String,
            String,
            String,
            i64,
            i64,
            i64,
            i64,
            i64,
            i64,
            i64,
            String,
            bool,
            bool,
        );
        let rows: Vec<Row> = with_pool!(self.db, |pool| {
            sqlx::query_as(
            "SELECT guild_id, cog, user_id, provider, model, operation, input_tokens, cached_tokens,
                    cache_write_tokens, output_tokens, reasoning_tokens, cost_micros, latency_ms, outcome,
                    fallback, cache_hit
             FROM llm_usage WHERE guild_id = $1 ORDER BY id DESC LIMIT $2"
        )
        .bind(guild as i64)
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await
        })?;
        let n = |v: i64| v.max(0) as u64;
        Ok(rows
            .into_iter()
            .map(|r| UsageRow {
                guild_id: r.0.map(|g| g as u64),
                cog: r.1,
                user_id: r.2.map(|u| u as u64),
                provider: r.3,
                model: r.4,
                operation: r.5,
                input_tokens: n(r.6),
                cached_tokens: n(r.7),
                cache_write_tokens: n(r.8),
                output_tokens: n(r.9),
                reasoning_tokens: n(r.10),
                cost_micros: n(r.11),
                latency_ms: n(r.12),
                outcome: r.13,
                fallback: r.14,
                cache_hit: r.15,
            })
            .collect())
    }

    /// Seed the pricing table with `prices` (rows already there are kept:
    /// the operator's edits win).
    pub async fn seed_prices(&self, prices: &[PriceRow]) -> Result<(), StoreError> {
        for price in prices {
            self.write_price(price, false).await?;
        }
        Ok(())
    }

    /// Set a model's price (the operator's edit).
    pub async fn set_price(&self, price: &PriceRow) -> Result<(), StoreError> {
        self.write_price(price, true).await
    }

    /// Insert `price`; replace an existing row only when `replace`.
    async fn write_price(&self, price: &PriceRow, replace: bool) -> Result<(), StoreError> {
        let on_conflict = match replace {
            true => {
                "DO UPDATE SET input_micros_per_mtok = excluded.input_micros_per_mtok,
                 output_micros_per_mtok = excluded.output_micros_per_mtok,
                 cached_micros_per_mtok = excluded.cached_micros_per_mtok,
                 cache_write_5m_micros_per_mtok = excluded.cache_write_5m_micros_per_mtok,
                 cache_write_1h_micros_per_mtok = excluded.cache_write_1h_micros_per_mtok,
                 effective_from = excluded.effective_from"
            }
            false => "DO NOTHING",
        };
        let sql = format!(
            "INSERT INTO llm_model_pricing (provider, model, input_micros_per_mtok, output_micros_per_mtok,
                 cached_micros_per_mtok, cache_write_5m_micros_per_mtok, cache_write_1h_micros_per_mtok, effective_from)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (provider, model) {on_conflict}"
        );
        let rate = |r: u64| r.min(i64::MAX as u64) as i64;
        with_pool!(self.db, |pool| sqlx::query(&sql)
            .bind(&price.provider)
            .bind(&price.model)
            .bind(rate(price.input))
            .bind(rate(price.output))
            .bind(rate(price.cache_read))
            .bind(rate(price.cache_write_5m))
            .bind(rate(price.cache_write_1h))
            .bind(&price.effective_from)
            .execute(pool)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// Every price in the table.
    pub async fn prices(&self) -> Result<Vec<PriceRow>, StoreError> {
        type Row = (String, String, i64, i64, i64, i64, i64, String);
        let rows: Vec<Row> = with_pool!(self.db, |pool| {
            sqlx::query_as(
            "SELECT provider, model, input_micros_per_mtok, output_micros_per_mtok, cached_micros_per_mtok,
                    cache_write_5m_micros_per_mtok, cache_write_1h_micros_per_mtok, effective_from
             FROM llm_model_pricing ORDER BY provider, model"
        )
        .fetch_all(pool)
        .await
        })?;
        let n = |v: i64| v.max(0) as u64;
        Ok(rows
            .into_iter()
            .map(|r| PriceRow {
                provider: r.0,
                model: r.1,
                input: n(r.2),
                output: n(r.3),
                cache_read: n(r.4),
                cache_write_5m: n(r.5),
                cache_write_1h: n(r.6),
                effective_from: r.7,
            })
            .collect())
    }
}

/// A row of the pricing table: micro-dollars per million tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceRow {
    /// The provider.
    pub provider: String,
    /// The model.
    pub model: String,
    /// Input.
    pub input: u64,
    /// Output.
    pub output: u64,
    /// Cache reads.
    pub cache_read: u64,
    /// Cache writes, five minutes.
    pub cache_write_5m: u64,
    /// Cache writes, one hour.
    pub cache_write_1h: u64,
    /// Since when (`2026-11-29`).
    pub effective_from: String,
}
