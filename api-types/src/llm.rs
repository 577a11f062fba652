//! The LLM gateway's analytics and budgets: usage summed over a time range
//! and grouped (`GET /api/v1/llm/usage/…`), and a guild's budgets with what
//! their current window has spent (`/api/v1/guilds/{guild_id}/llm/budgets`).
//! Money is integer micro-dollars throughout.

use serde::{Deserialize, Serialize};

/// Sums over calls.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UsageTotals {
    /// Calls.
    pub calls: u64,
    /// Of those, failed (refused budgets included).
    pub errors: u64,
    /// Input tokens (cached and written included).
    pub input_tokens: u64,
    /// Of those, read from the prompt cache.
    pub cached_tokens: u64,
    /// Of those, written to the prompt cache.
    pub cache_write_tokens: u64,
    /// Output tokens (reasoning included).
    pub output_tokens: u64,
    /// Images generated.
    pub images: u64,
    /// Audio transcribed, milliseconds.
    pub audio_ms: u64,
    /// Cost, micro-dollars.
    pub cost_micros: u64,
    /// Answered from the response cache.
    pub cache_hits: u64,
    /// Answered by a fallback route.
    pub fallbacks: u64,
    /// Mean latency, milliseconds.
    pub mean_latency_ms: u64,
}

/// One group of a report: a day (`2026-11-30`), a guild id (`0`: no
/// guild), a cog, or `provider/model`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UsageGroup {
    /// The group's key.
    pub key: String,
    /// Its sums.
    pub totals: UsageTotals,
}

/// A usage report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UsageReport {
    /// First day (UTC), inclusive.
    pub from: String,
    /// Last day (UTC), inclusive.
    pub to: String,
    /// How `groups` are grouped: `day`, `guild`, `cog`, `model` or `none`.
    pub group: String,
    /// The guild the report is limited to, if any.
    pub guild_id: Option<String>,
    /// The cog the report is limited to, if any.
    pub cog: Option<String>,
    /// Everything in the range.
    pub total: UsageTotals,
    /// The groups, in key order (days oldest first).
    pub groups: Vec<UsageGroup>,
}

/// A budget of a guild, with its current window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BudgetView {
    /// The cog it limits (absent: the guild across cogs).
    pub cog: Option<String>,
    /// `daily` or `monthly` (UTC windows).
    pub period: String,
    /// The limit, micro-dollars.
    pub limit_micros: u64,
    /// The current window (`2026-11-30`, `2026-11`).
    pub window: String,
    /// Spent in it.
    pub spent_micros: u64,
    /// Held by calls in flight.
    pub reserved_micros: u64,
}

/// Set a budget (`PUT`), or reset a window's spend (`POST …/reset`, where
/// `limit_micros` is ignored).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BudgetChange {
    /// The cog (absent: the guild's own budget).
    #[serde(default)]
    pub cog: Option<String>,
    /// `daily` or `monthly`.
    pub period: String,
    /// The limit, micro-dollars.
    #[serde(default)]
    pub limit_micros: u64,
}
