//! The pricing table (`llm_prices`): micro-dollars per million tokens, per
//! image and per minute of audio, seeded and edited by the operator. A
//! model may have several rows: one per day a price took effect, and per
//! long-context tier (`min_input_tokens`).

use super::LlmStore;
use crate::store::{StoreError, with_pool};

impl LlmStore {
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
                 image_micros = excluded.image_micros,
                 audio_minute_micros = excluded.audio_minute_micros"
            }
            false => "DO NOTHING",
        };
        let sql = format!(
            "INSERT INTO llm_prices (provider, model, input_micros_per_mtok, output_micros_per_mtok,
                 cached_micros_per_mtok, cache_write_5m_micros_per_mtok, cache_write_1h_micros_per_mtok, effective_from,
                 image_micros, audio_minute_micros, min_input_tokens)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
             ON CONFLICT (provider, model, effective_from, min_input_tokens) {on_conflict}"
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
            .bind(rate(price.image))
            .bind(rate(price.audio_minute))
            .bind(rate(price.min_input_tokens))
            .execute(pool)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// Every price in the table.
    pub async fn prices(&self) -> Result<Vec<PriceRow>, StoreError> {
        type Row = (
            String,
            String,
            i64,
            i64,
            i64,
            i64,
            i64,
            String,
            i64,
            i64,
            i64,
        );
        let rows: Vec<Row> = with_pool!(self.db, |pool| {
            sqlx::query_as(
            "SELECT provider, model, input_micros_per_mtok, output_micros_per_mtok, cached_micros_per_mtok,
                    cache_write_5m_micros_per_mtok, cache_write_1h_micros_per_mtok, effective_from,
                    image_micros, audio_minute_micros, min_input_tokens
             FROM llm_prices ORDER BY provider, model, effective_from, min_input_tokens"
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
                image: n(r.8),
                audio_minute: n(r.9),
                min_input_tokens: n(r.10),
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
    /// Per image generated, micro-dollars.
    pub image: u64,
    /// Per minute of audio transcribed, micro-dollars.
    pub audio_minute: u64,
    /// The long-context tier: the row prices whole requests with at least
    /// this many input tokens (0: every request).
    pub min_input_tokens: u64,
}
