//! The LLM gateway's durable state: budgets per guild and per cog (daily
//! and monthly windows) with **reservations** — a call reserves its
//! worst-case cost on every budget that applies before it is sent, and
//! settles the real cost after, all in single statements that check and
//! add at once, so several processes spending against one budget cannot
//! overshoot it together.

mod prices;
mod usage;

pub use prices::PriceRow;
pub use usage::{UsageFilter, UsageGroup, UsageRow, UsageTotals};

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

    /// From its name.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "daily" => Some(Period::Daily),
            "monthly" => Some(Period::Monthly),
            _ => None,
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

/// Midnight UTC of `2026-11-30`, in ms since the epoch (`None`: not a
/// date). Hinnant's days-from-civil, the inverse of the above.
pub fn parse_day(text: &str) -> Option<i64> {
    let mut parts = text.splitn(3, '-');
    let (year, month, day): (i64, i64, i64) = (
        parts.next()?.parse().ok()?,
        parts.next()?.parse().ok()?,
        parts.next()?.parse().ok()?,
    );
    if text.len() != 10 || !(1970..=9999).contains(&year) || !(1..=12).contains(&month) {
        return None;
    }
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days_in_month = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=days_in_month[(month - 1) as usize]).contains(&day) {
        return None;
    }
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some((era * 146_097 + doe - 719_468) * 86_400_000)
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
    ///
    /// A budget set in the middle of its window starts from what the usage
    /// book says was already spent in it (a daily budget set at noon counts
    /// the morning's calls).
    pub async fn set_budget(&self, budget: &Budget) -> Result<(), StoreError> {
        let cog = budget.cog.clone().unwrap_or_default();
        let now = crate::store::now_millis();
        let window = budget.period.window(now);
        let since = match budget.period {
            Period::Daily => parse_day(&window),
            Period::Monthly => parse_day(&format!("{window}-01")),
        }
        .unwrap_or(now);
        with_pool!(self.db, |pool| {
            let mut tx = pool.begin_with(self.db.begin_write()).await?;
            sqlx::query(
                "INSERT INTO llm_budgets (guild_id, cog, period, limit_micros) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (guild_id, cog, period) DO UPDATE SET limit_micros = excluded.limit_micros",
            )
            .bind(budget.guild_id as i64)
            .bind(&cog)
            .bind(budget.period.name())
            .bind(budget.limit_micros as i64)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO llm_spend (guild_id, cog, period, window_start, spent_micros)
                 SELECT $1, $2, $3, $4, CAST(COALESCE(SUM(cost_micros), 0) AS BIGINT) FROM llm_usage
                 WHERE guild_id = $1 AND ($2 = '' OR cog = $2) AND at_ms >= $5
                 ON CONFLICT DO NOTHING",
            )
            .bind(budget.guild_id as i64)
            .bind(&cog)
            .bind(budget.period.name())
            .bind(&window)
            .bind(since)
            .execute(&mut *tx)
            .await?;
            tx.commit().await
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

    /// Every budget of `guild` (its own and its cogs').
    pub async fn guild_budgets(&self, guild: u64) -> Result<Vec<Budget>, StoreError> {
        let rows: Vec<(String, String, i64)> = with_pool!(self.db, |pool| {
            sqlx::query_as(
                "SELECT cog, period, limit_micros FROM llm_budgets WHERE guild_id = $1 ORDER BY cog, period",
            )
            .bind(guild as i64)
            .fetch_all(pool)
            .await
        })?;
        Ok(rows
            .into_iter()
            .map(|(cog, period, limit)| Budget {
                guild_id: guild,
                cog: (!cog.is_empty()).then_some(cog),
                period: Period::parse(&period).unwrap_or(Period::Daily),
                limit_micros: limit.max(0) as u64,
            })
            .collect())
    }

    /// Remove a budget, and its windows' spend (calls made while it is gone
    /// are not counted there: set again, it starts from the usage book);
    /// true when there was one.
    pub async fn remove_budget(
        &self,
        guild: u64,
        cog: Option<&str>,
        period: Period,
    ) -> Result<bool, StoreError> {
        let cog = cog.unwrap_or("");
        let done = with_pool!(self.db, |pool| {
            let mut tx = pool.begin_with(self.db.begin_write()).await?;
            let removed = sqlx::query(
                "DELETE FROM llm_budgets WHERE guild_id = $1 AND cog = $2 AND period = $3",
            )
            .bind(guild as i64)
            .bind(cog)
            .bind(period.name())
            .execute(&mut *tx)
            .await?
            .rows_affected();
            sqlx::query(
                "DELETE FROM llm_spend WHERE guild_id = $1 AND cog = $2 AND period = $3
                 AND reserved_micros = 0",
            )
            .bind(guild as i64)
            .bind(cog)
            .bind(period.name())
            .execute(&mut *tx)
            .await?;
            tx.commit().await.map(|_| removed)
        })?;
        Ok(done > 0)
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
        self.reserve_with(Some(guild), cog, micros, at_ms, &[])
            .await
    }

    /// [`reserve`](Self::reserve) on the guild's budgets (if any guild)
    /// and on `operator`'s — the bot-wide budgets of the operator's
    /// configuration, kept under guild 0, which apply to every call.
    pub async fn reserve_with(
        &self,
        guild: Option<u64>,
        cog: &str,
        micros: u64,
        at_ms: i64,
        operator: &[Budget],
    ) -> Result<Result<Reservation, Budget>, StoreError> {
        let mut budgets = match guild {
            Some(guild) => self.budgets(guild, cog).await?,
            None => Vec::new(),
        };
        budgets.extend(operator.iter().cloned());
        let rows: Vec<(u64, String, &'static str, String, u64)> = budgets
            .iter()
            .map(|b| {
                (
                    b.guild_id,
                    b.cog.clone().unwrap_or_default(),
                    b.period.name(),
                    b.period.window(at_ms),
                    b.limit_micros,
                )
            })
            .collect();
        if rows.is_empty() {
            // No budget applies: nothing to hold, no write transaction.
            return Ok(Ok(Reservation {
                rows: Vec::new(),
                micros,
            }));
        }
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
        if reservation.rows.is_empty() {
            return Ok(());
        }
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

    #[test]
    fn days_parse_back_to_their_windows() {
        for at in [0, 1_795_996_799_999, 1_835_395_200_000, 1_798_761_600_000] {
            let day = Period::Daily.window(at);
            let midnight = parse_day(&day).unwrap();
            assert_eq!(Period::Daily.window(midnight), day);
            assert!(midnight <= at && at - midnight < 86_400_000);
        }
        for bad in [
            "2026-02-30",
            "2026-13-01",
            "2026-1-01",
            "x",
            "2027-02-29",
            "",
        ] {
            assert_eq!(parse_day(bad), None, "{bad}");
        }
        assert!(parse_day("2028-02-29").is_some());
    }
}
