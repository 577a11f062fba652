//! Prices and the cost of a call. Rates are integer micro-dollars per
//! million tokens ($0.125 → 125 000); a call's cost is Σ tokens × rate in
//! `u128` — exact, in units of 10⁻¹² dollars — rounded up once to whole
//! micro-dollars (a budget never under-counts). Never priced from a
//! provider's total: each kind of token at its own rate, from the
//! normalised [`Usage`], where cached and written tokens are not also in
//! `input` (the double-billing bugs of other gateways; see
//! `../shared/LLM-PROVIDERS.md`, "Pitfalls").

use super::model::Usage;

/// Micro-dollars per million tokens, per kind of token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Price {
    /// Input.
    pub input: u64,
    /// Input read from the cache.
    pub cache_read: u64,
    /// Input written to the cache, five minutes (or the provider's only TTL).
    pub cache_write_5m: u64,
    /// Input written to the cache, one hour.
    pub cache_write_1h: u64,
    /// Output (reasoning included).
    pub output: u64,
    /// Per image generated (micro-dollars, not per million).
    pub image: u64,
    /// Per minute of audio transcribed (micro-dollars, not per million).
    pub audio_minute: u64,
}

/// One million, the unit of a rate.
const PER: u128 = 1_000_000;

/// What `usage` costs at `price`, in micro-dollars, rounded up.
pub fn cost_micros(usage: &Usage, price: &Price) -> u64 {
    let exact = u128::from(usage.input) * u128::from(price.input)
        + u128::from(usage.cache_read) * u128::from(price.cache_read)
        + u128::from(usage.cache_write_5m) * u128::from(price.cache_write_5m)
        + u128::from(usage.cache_write_1h) * u128::from(price.cache_write_1h)
        + u128::from(usage.output) * u128::from(price.output)
        + u128::from(usage.images) * u128::from(price.image) * PER
        + (u128::from(usage.audio_ms) * u128::from(price.audio_minute) * PER).div_ceil(60_000);
    u64::try_from(exact.div_ceil(PER)).unwrap_or(u64::MAX)
}

/// A seeded price: provider, model, the day it took effect, the rates.
pub type Seed = (&'static str, &'static str, &'static str, Price);

const fn price(
    input: u64,
    cache_read: u64,
    cache_write_5m: u64,
    cache_write_1h: u64,
    output: u64,
) -> Price {
    Price {
        input,
        cache_read,
        cache_write_5m,
        cache_write_1h,
        output,
        image: 0,
        audio_minute: 0,
    }
}

/// A price per image.
const fn per_image(micros: u64) -> Price {
    Price {
        image: micros,
        ..price(0, 0, 0, 0, 0)
    }
}

/// A price per minute of audio.
const fn per_minute(micros: u64) -> Price {
    Price {
        audio_minute: micros,
        ..price(0, 0, 0, 0, 0)
    }
}

/// The current models' prices as read on 2026-11-29 (`../shared/LLM-PROVIDERS.md`),
/// seeded into the pricing table; the operator edits them through the API.
/// Rows marked there as third-party figures are the best known, to be
/// checked against the provider's page.
pub const SEEDED: &[Seed] = &[
    (
        "openai",
        "gpt-6.2-astra",
        "2026-11-18",
        price(8_000_000, 400_000, 10_000_000, 10_000_000, 40_000_000),
    ),
    (
        "openai",
        "gpt-6.2-sol",
        "2026-11-29",
        price(2_000_000, 100_000, 2_500_000, 2_500_000, 10_000_000),
    ),
    (
        "openai",
        "gpt-6-luna",
        "2026-11-29",
        price(100_000, 10_000, 125_000, 125_000, 500_000),
    ),
    (
        "anthropic",
        "claude-fable-5-1",
        "2026-11-29",
        price(10_000_000, 250_000, 12_500_000, 20_000_000, 50_000_000),
    ),
    (
        "anthropic",
        "claude-opus-5-5",
        "2026-11-29",
        price(4_000_000, 200_000, 5_000_000, 8_000_000, 20_000_000),
    ),
    (
        "anthropic",
        "claude-sonnet-5-5",
        "2026-10-07",
        price(2_000_000, 100_000, 2_500_000, 4_000_000, 10_000_000),
    ),
    (
        "anthropic",
        "claude-haiku-5-5",
        "2026-11-29",
        price(100_000, 10_000, 125_000, 200_000, 500_000),
    ),
    (
        "gemini",
        "gemini-4-carbon",
        "2026-11-29",
        price(2_000_000, 100_000, 0, 0, 10_000_000),
    ),
    (
        "gemini",
        "gemini-4-argon",
        "2026-11-29",
        price(2_000_000, 100_000, 0, 0, 10_000_000),
    ),
    (
        "gemini",
        "gemini-4-hydrogen",
        "2026-11-29",
        price(1_500_000, 75_000, 0, 0, 7_500_000),
    ),
    (
        "gemini",
        "gemini-3.8-flash",
        "2026-10-07",
        price(750_000, 75_000, 0, 0, 3_750_000),
    ),
    (
        "gemini",
        "gemini-3.5-flash-lite",
        "2026-10-07",
        price(300_000, 30_000, 0, 0, 2_500_000),
    ),
    (
        "xai",
        "grok-4.7",
        "2026-11-29",
        price(2_000_000, 500_000, 0, 0, 6_000_000),
    ),
    (
        "xai",
        "grok-4.20-0309",
        "2026-11-29",
        price(1_250_000, 200_000, 0, 0, 2_500_000),
    ),
    // Images: gpt-image-2 by tokens (text in, image out), xAI per image.
    (
        "openai",
        "gpt-image-2",
        "2026-11-29",
        price(5_000_000, 0, 0, 0, 30_000_000),
    ),
    ("xai", "grok-imagine-image", "2026-11-29", per_image(20_000)),
    (
        "xai",
        "grok-imagine-image-pro",
        "2026-11-29",
        per_image(70_000),
    ),
    // Transcription: per minute, or by audio tokens.
    ("openai", "whisper-1", "2026-11-29", per_minute(6_000)),
    ("openai", "gpt-transcribe", "2026-11-29", per_minute(4_500)),
    (
        "openai",
        "gpt-4o-transcribe",
        "2026-11-29",
        price(2_500_000, 0, 0, 0, 10_000_000),
    ),
];

/// Prices that change on a day, and long-context tiers (the rate of the
/// whole request once its input reaches `min_input_tokens`), seeded beside
/// [`SEEDED`]: provider, model, the day, the tier's threshold, the rates.
pub const SCHEDULED: &[(&str, &str, &str, u64, Price)] = &[
    // Claude Haiku 5.5 above 100K input tokens (third-party figures).
    (
        "anthropic",
        "claude-haiku-5-5",
        "2026-11-29",
        100_001,
        price(500_000, 50_000, 625_000, 1_000_000, 2_500_000),
    ),
    // Gemini 4 doubles on 2026-12-01.
    (
        "gemini",
        "gemini-4-carbon",
        "2026-12-01",
        0,
        price(4_000_000, 200_000, 0, 0, 20_000_000),
    ),
    (
        "gemini",
        "gemini-4-argon",
        "2026-12-01",
        0,
        price(4_000_000, 200_000, 0, 0, 20_000_000),
    ),
    // xAI: a prompt of 200K tokens or more reprices the whole request.
    (
        "xai",
        "grok-4.7",
        "2026-11-29",
        200_000,
        price(4_000_000, 1_000_000, 0, 0, 12_000_000),
    ),
    (
        "xai",
        "grok-4.20-0309",
        "2026-11-29",
        200_000,
        price(2_500_000, 400_000, 0, 0, 5_000_000),
    ),
];

/// One row of a model's prices: since a day (`2026-12-01`; empty: always),
/// for requests of at least `min_input_tokens`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scheduled {
    /// The first day (UTC) it applies.
    pub since: String,
    /// The tier: requests with at least this many input tokens.
    pub min_input_tokens: u64,
    /// The rates.
    pub price: Price,
}

/// A model's prices over time and by the size of the request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Schedule {
    rows: Vec<Scheduled>,
}

impl Schedule {
    /// Add a row.
    pub fn push(&mut self, row: Scheduled) {
        self.rows.push(row);
    }

    /// The rows in effect on `day`: for each tier, its latest row not
    /// after that day (a new base price leaves the tiers above it alone).
    pub fn in_effect(&self, day: &str) -> impl Iterator<Item = &Scheduled> {
        let mut latest: Vec<&Scheduled> = Vec::new();
        for row in self.rows.iter().filter(|r| r.since.as_str() <= day) {
            match latest
                .iter_mut()
                .find(|kept| kept.min_input_tokens == row.min_input_tokens)
            {
                Some(kept) if kept.since < row.since => *kept = row,
                Some(_) => {}
                None => latest.push(row),
            }
        }
        latest.into_iter()
    }

    /// The price on `day` of a request with `input` tokens: the highest tier
    /// it reaches, applied to the whole request.
    pub fn at(&self, day: &str, input: u64) -> Option<Price> {
        self.in_effect(day)
            .filter(|r| r.min_input_tokens <= input)
            .max_by_key(|r| r.min_input_tokens)
            .map(|r| r.price)
    }

    /// The most `usage` can cost on `day` at any tier in effect (what a
    /// reservation holds: the prompt's size is only estimated).
    pub fn worst(&self, day: &str, usage: &Usage) -> Option<u64> {
        self.in_effect(day)
            .map(|r| cost_micros(usage, &r.price))
            .max()
    }
}

/// The seeded price of `model` at `provider`.
pub fn seeded(provider: &str, model: &str) -> Option<Price> {
    SEEDED
        .iter()
        .find(|(p, m, _, _)| *p == provider && *m == model)
        .map(|(_, _, _, price)| *price)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_of_token_at_its_rate_rounded_up_once() {
        let haiku = seeded("anthropic", "claude-haiku-5-5").unwrap();
        // 1 000 input at $0.10/M = 100 000 000 units; 1 700 written at
        // $0.125/M = 212 500 000; 19 output at $0.50/M = 9 500 000:
        // 322 000 000 units = 322 µ$ exactly.
        let usage = Usage {
            input: 1_000,
            cache_write_5m: 1_700,
            output: 19,
            ..Usage::default()
        };
        assert_eq!(cost_micros(&usage, &haiku), 322);
        // One token at $0.01/M is a hundredth of a micro-dollar: rounded up to 1.
        let one = Usage {
            cache_read: 1,
            ..Usage::default()
        };
        assert_eq!(cost_micros(&one, &haiku), 1);
        assert_eq!(cost_micros(&Usage::default(), &haiku), 0);
        // Reads are cheap, writes dear: the same tokens cost differently.
        let read = Usage {
            cache_read: 1_000_000,
            ..Usage::default()
        };
        let hour = Usage {
            cache_write_1h: 1_000_000,
            ..Usage::default()
        };
        assert_eq!(cost_micros(&read, &haiku), 10_000);
        assert_eq!(cost_micros(&hour, &haiku), 200_000);
        // No overflow for absurd counts.
        let huge = Usage {
            output: u64::MAX,
            ..Usage::default()
        };
        assert!(cost_micros(&huge, &haiku) > 0);
    }

    #[test]
    fn schedules_pick_the_day_and_the_tier() {
        let mut schedule = Schedule::default();
        let row = |since: &str, min: u64, input: u64| Scheduled {
            since: since.into(),
            min_input_tokens: min,
            price: price(input, 0, 0, 0, 0),
        };
        schedule.push(row("2026-11-29", 0, 1));
        schedule.push(row("2026-11-29", 100_001, 5));
        schedule.push(row("2026-12-01", 0, 2));
        let input = |p: Option<Price>| p.map(|p| p.input);
        assert_eq!(input(schedule.at("2026-11-28", 10)), None, "before any row");
        assert_eq!(input(schedule.at("2026-11-30", 10)), Some(1));
        assert_eq!(input(schedule.at("2026-11-30", 100_000)), Some(1));
        assert_eq!(
            input(schedule.at("2026-11-30", 100_001)),
            Some(5),
            "the long-context tier"
        );
        // From the new day, its base price; the tier above stays.
        assert_eq!(input(schedule.at("2026-12-01", 10)), Some(2));
        assert_eq!(input(schedule.at("2027-01-01", 500_000)), Some(5));
        // A tier alone on a later day does not make small requests free.
        schedule.push(row("2027-02-01", 100_001, 7));
        assert_eq!(input(schedule.at("2027-02-01", 10)), Some(2));
        assert_eq!(input(schedule.at("2027-02-01", 200_000)), Some(7));
        // The worst case spans the tiers in effect.
        let usage = Usage {
            input: 1_000_000,
            ..Usage::default()
        };
        assert_eq!(schedule.worst("2026-11-30", &usage), Some(5));
        // The whole request is repriced, not just the tokens past the line.
        let haiku = seeded("anthropic", "claude-haiku-5-5").unwrap();
        let long = SCHEDULED
            .iter()
            .find(|(p, m, _, min, _)| *p == "anthropic" && *m == "claude-haiku-5-5" && *min > 0)
            .unwrap()
            .4;
        let big = Usage {
            input: 150_000,
            ..Usage::default()
        };
        assert_eq!(cost_micros(&big, &haiku), 15_000);
        assert_eq!(cost_micros(&big, &long), 75_000);
    }

    #[test]
    fn images_and_minutes_have_their_own_prices() {
        let grok = seeded("xai", "grok-imagine-image").unwrap();
        let two = Usage {
            images: 2,
            ..Usage::default()
        };
        assert_eq!(cost_micros(&two, &grok), 40_000);
        // 90 s of whisper at $0.006/min = $0.009; one more ms rounds up.
        let whisper = seeded("openai", "whisper-1").unwrap();
        let minute_and_half = Usage {
            audio_ms: 90_000,
            ..Usage::default()
        };
        assert_eq!(cost_micros(&minute_and_half, &whisper), 9_000);
        let and_a_bit = Usage {
            audio_ms: 90_001,
            ..Usage::default()
        };
        assert_eq!(cost_micros(&and_a_bit, &whisper), 9_001);
        // gpt-image-2 medium: 1 056 output tokens at $30/M = 31 680 µ$, plus
        // 10 prompt tokens at $5/M = 50 µ$.
        let image = seeded("openai", "gpt-image-2").unwrap();
        let medium = Usage {
            input: 10,
            output: 1_056,
            images: 1,
            ..Usage::default()
        };
        assert_eq!(cost_micros(&medium, &image), 31_730);
    }
}
