//! What the LLM gateway spent, and the budgets that bound it.
//!
//! - `GET /api/v1/llm/usage/summary` (developer team): every call, grouped;
//! - `GET /api/v1/llm/usage/by-guild/{guild_id}` (anyone who may view that
//!   guild: its admins, its members with access, the developer team);
//! - `GET /api/v1/llm/usage/by-cog/{cog}` (developer team);
//!
//! each with `from` and `to` (UTC days `2026-11-01`, inclusive; default
//! the last 30 days, at most 366) and `group` (`day` — every day of the
//! range, quiet ones at zero —, `guild`, `cog`, `model` or `none`; default
//! `day`).
//!
//! - `GET /api/v1/guilds/{guild_id}/llm/budgets` (viewers): each budget
//!   and what its current window has spent and holds;
//! - `PUT` (admins): set one (`{cog?, period, limit_micros}`);
//!   `DELETE …/budgets/{period}` with `?cog=`: remove one;
//! - `POST …/budgets/reset` (admins): the current window's spend back to 0.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::routing::{delete, get, post};
use baseline_api_types::llm::{BudgetChange, BudgetView, UsageGroup, UsageReport, UsageTotals};

use super::access::{Developer, GuildAdmin, GuildViewer};
use super::{ApiError, ApiState};
use crate::store::llm::{Budget, LlmStore, Period, UsageFilter, UsageGroup as Grouping, parse_day};

const DAY_MS: i64 = 86_400_000;
/// The longest range a report covers.
const MAX_DAYS: i64 = 366;

fn store(state: &ApiState) -> Result<LlmStore, ApiError> {
    state
        .runtime
        .services()
        .database
        .clone()
        .map(LlmStore::new)
        .ok_or_else(|| ApiError::Unavailable("this host keeps no LLM books (no database)".into()))
}

/// The query of a report.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Range {
    /// First day, `YYYY-MM-DD` (UTC).
    from: Option<String>,
    /// Last day, inclusive.
    to: Option<String>,
    /// `day`, `guild`, `cog`, `model` or `none`.
    group: Option<String>,
}

fn day(name: &str, text: &str) -> Result<i64, ApiError> {
    parse_day(text).ok_or_else(|| {
        ApiError::BadRequest(format!(
            "`{name}` must be a day like 2026-11-30, not `{text}`"
        ))
    })
}

/// The filter and grouping a query asks for.
fn read_range(range: &Range) -> Result<(UsageFilter, Grouping, &'static str), ApiError> {
    let today = crate::store::now_millis().div_euclid(DAY_MS) * DAY_MS;
    let to = match &range.to {
        Some(text) => day("to", text)?,
        None => today,
    };
    let from = match &range.from {
        Some(text) => day("from", text)?,
        None => to - 29 * DAY_MS,
    };
    if from > to {
        return Err(ApiError::BadRequest("`from` is after `to`".into()));
    }
    if (to - from) / DAY_MS >= MAX_DAYS {
        return Err(ApiError::BadRequest(format!(
            "a report covers at most {MAX_DAYS} days"
        )));
    }
    let (group, name) = match range.group.as_deref().unwrap_or("day") {
        "day" => (Grouping::Day, "day"),
        "guild" => (Grouping::Guild, "guild"),
        "cog" => (Grouping::Cog, "cog"),
        "model" => (Grouping::Model, "model"),
        "none" => (Grouping::All, "none"),
        other => {
            return Err(ApiError::BadRequest(format!(
                "`group` is day, guild, cog, model or none, not `{other}`"
            )));
        }
    };
    Ok((
        UsageFilter {
            from_ms: from,
            to_ms: to + DAY_MS,
            guild_id: None,
            cog: None,
        },
        group,
        name,
    ))
}

fn totals(sums: &crate::store::llm::UsageTotals) -> UsageTotals {
    UsageTotals {
        calls: sums.calls,
        errors: sums.errors,
        input_tokens: sums.input_tokens,
        cached_tokens: sums.cached_tokens,
        cache_write_tokens: sums.cache_write_tokens,
        output_tokens: sums.output_tokens,
        images: sums.images,
        audio_ms: sums.audio_ms,
        cost_micros: sums.cost_micros,
        cache_hits: sums.cache_hits,
        fallbacks: sums.fallbacks,
        mean_latency_ms: sums.latency_ms.checked_div(sums.calls).unwrap_or(0),
    }
}

/// The report of `filter`, grouped.
async fn report(
    state: &ApiState,
    filter: UsageFilter,
    group: Grouping,
    group_name: &str,
) -> Result<UsageReport, ApiError> {
    let store = store(state)?;
    let total = store
        .usage(&filter, Grouping::All)
        .await?
        .into_iter()
        .next()
        .map(|(_, sums)| totals(&sums))
        .unwrap_or_default();
    let mut groups: Vec<UsageGroup> = match group {
        Grouping::All => Vec::new(),
        _ => store
            .usage(&filter, group)
            .await?
            .into_iter()
            .map(|(key, sums)| UsageGroup {
                key,
                totals: totals(&sums),
            })
            .collect(),
    };
    if group == Grouping::Day {
        // Every day of the range, the quiet ones at zero: a timeline.
        let mut found: std::collections::HashMap<String, UsageTotals> =
            groups.drain(..).map(|g| (g.key, g.totals)).collect();
        let mut day = filter.from_ms;
        while day < filter.to_ms {
            let key = Period::Daily.window(day);
            let totals = found.remove(&key).unwrap_or_default();
            groups.push(UsageGroup { key, totals });
            day += DAY_MS;
        }
    }
    Ok(UsageReport {
        from: Period::Daily.window(filter.from_ms),
        to: Period::Daily.window(filter.to_ms - DAY_MS),
        group: group_name.into(),
        guild_id: filter.guild_id.map(|g| g.to_string()),
        cog: filter.cog,
        total,
        groups,
    })
}

/// Every LLM call of the bot in a range, grouped.
#[utoipa::path(get, path = "/api/v1/llm/usage/summary", params(Range),
    responses((status = 200, body = UsageReport), (status = 400), (status = 401), (status = 403), (status = 503)))]
pub async fn summary(
    _: Developer,
    State(state): State<ApiState>,
    Query(range): Query<Range>,
) -> Result<Json<UsageReport>, ApiError> {
    let (filter, group, name) = read_range(&range)?;
    Ok(Json(report(&state, filter, group, name).await?))
}

/// One guild's LLM calls in a range, grouped.
#[utoipa::path(get, path = "/api/v1/llm/usage/by-guild/{guild_id}",
    params(("guild_id" = String, Path), Range),
    responses((status = 200, body = UsageReport), (status = 400), (status = 401), (status = 403), (status = 503)),
    extensions(("x-tier" = json!("viewer"))))]
pub async fn by_guild(
    access: GuildViewer,
    State(state): State<ApiState>,
    Query(range): Query<Range>,
) -> Result<Json<UsageReport>, ApiError> {
    let (mut filter, group, name) = read_range(&range)?;
    if group == Grouping::Guild && !access.session.developer {
        return Err(ApiError::BadRequest(
            "a guild's report is grouped by day, cog, model or none".into(),
        ));
    }
    filter.guild_id = Some(access.guild_id);
    Ok(Json(report(&state, filter, group, name).await?))
}

#[derive(serde::Deserialize)]
pub struct CogPath {
    cog: String,
}

/// One cog's LLM calls in a range, across guilds, grouped.
#[utoipa::path(get, path = "/api/v1/llm/usage/by-cog/{cog}",
    params(("cog" = String, Path), Range),
    responses((status = 200, body = UsageReport), (status = 400), (status = 401), (status = 403), (status = 503)))]
pub async fn by_cog(
    _: Developer,
    State(state): State<ApiState>,
    Path(path): Path<CogPath>,
    Query(range): Query<Range>,
) -> Result<Json<UsageReport>, ApiError> {
    let (mut filter, group, name) = read_range(&range)?;
    filter.cog = Some(path.cog);
    Ok(Json(report(&state, filter, group, name).await?))
}

/// A guild's budgets with their current windows.
async fn views(store: &LlmStore, guild: u64) -> Result<Vec<BudgetView>, ApiError> {
    let now = crate::store::now_millis();
    let mut views = Vec::new();
    for budget in store.guild_budgets(guild).await? {
        let (spent, reserved) = store
            .spend(guild, budget.cog.as_deref(), budget.period, now)
            .await?;
        views.push(BudgetView {
            cog: budget.cog,
            period: budget.period.name().into(),
            limit_micros: budget.limit_micros,
            window: budget.period.window(now),
            spent_micros: spent,
            reserved_micros: reserved,
        });
    }
    Ok(views)
}

/// The guild's LLM budgets.
#[utoipa::path(get, path = "/api/v1/guilds/{guild_id}/llm/budgets",
    params(("guild_id" = String, Path)),
    responses((status = 200, body = [BudgetView]), (status = 401), (status = 403), (status = 503)),
    extensions(("x-tier" = json!("viewer"))))]
pub async fn budgets(
    access: GuildViewer,
    State(state): State<ApiState>,
) -> Result<Json<Vec<BudgetView>>, ApiError> {
    Ok(Json(views(&store(&state)?, access.guild_id).await?))
}

/// Most micro-dollars a budget may be ($1 000 000).
const MAX_BUDGET: u64 = 1_000_000_000_000;

fn read_change(change: &BudgetChange) -> Result<(Option<String>, Period), ApiError> {
    let period = Period::parse(&change.period).ok_or_else(|| {
        ApiError::BadRequest(format!(
            "`period` is daily or monthly, not `{}`",
            change.period
        ))
    })?;
    let cog = change.cog.clone().filter(|c| !c.is_empty());
    if let Some(cog) = &cog
        && (cog.len() > 64
            || !cog
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
    {
        return Err(ApiError::BadRequest(format!("`{cog}` is not a cog name")));
    }
    Ok((cog, period))
}

/// Set one of the guild's LLM budgets.
#[utoipa::path(put, path = "/api/v1/guilds/{guild_id}/llm/budgets",
    params(("guild_id" = String, Path)), request_body = BudgetChange,
    responses((status = 200, body = [BudgetView]), (status = 400), (status = 401), (status = 403), (status = 503)),
    extensions(("x-tier" = json!("admin"))))]
pub async fn set_budget(
    access: GuildAdmin,
    State(state): State<ApiState>,
    body: Result<Json<BudgetChange>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Vec<BudgetView>>, ApiError> {
    let Json(change) = body?;
    let (cog, period) = read_change(&change)?;
    if change.limit_micros > MAX_BUDGET {
        return Err(ApiError::BadRequest(format!(
            "a budget is at most {MAX_BUDGET} micro-dollars"
        )));
    }
    let store = store(&state)?;
    store
        .set_budget(&Budget {
            guild_id: access.guild_id,
            cog: cog.clone(),
            period,
            limit_micros: change.limit_micros,
        })
        .await?;
    tracing::info!(guild = access.guild_id, cog = ?cog, period = period.name(), limit = change.limit_micros,
        by = access.session.user_id, "LLM budget set");
    Ok(Json(views(&store, access.guild_id).await?))
}

#[derive(serde::Deserialize)]
pub struct BudgetPath {
    guild_id: String,
    period: String,
}

#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CogQuery {
    /// The cog (absent: the guild's own budget).
    cog: Option<String>,
}

/// Remove one of the guild's LLM budgets.
#[utoipa::path(delete, path = "/api/v1/guilds/{guild_id}/llm/budgets/{period}",
    params(("guild_id" = String, Path), ("period" = String, Path), CogQuery),
    responses((status = 200, body = [BudgetView]), (status = 400), (status = 401), (status = 403), (status = 404), (status = 503)),
    extensions(("x-tier" = json!("admin"))))]
pub async fn remove_budget(
    access: GuildAdmin,
    State(state): State<ApiState>,
    Path(path): Path<BudgetPath>,
    Query(query): Query<CogQuery>,
) -> Result<Json<Vec<BudgetView>>, ApiError> {
    let _ = path.guild_id;
    let (cog, period) = read_change(&BudgetChange {
        cog: query.cog,
        period: path.period,
        limit_micros: 0,
    })?;
    let store = store(&state)?;
    if !store
        .remove_budget(access.guild_id, cog.as_deref(), period)
        .await?
    {
        return Err(ApiError::NotFound("no such budget".into()));
    }
    Ok(Json(views(&store, access.guild_id).await?))
}

/// Reset the current window's spend of one of the guild's budgets.
#[utoipa::path(post, path = "/api/v1/guilds/{guild_id}/llm/budgets/reset",
    params(("guild_id" = String, Path)), request_body = BudgetChange,
    responses((status = 200, body = [BudgetView]), (status = 400), (status = 401), (status = 403), (status = 503)),
    extensions(("x-tier" = json!("admin"))))]
pub async fn reset_budget(
    access: GuildAdmin,
    State(state): State<ApiState>,
    body: Result<Json<BudgetChange>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Vec<BudgetView>>, ApiError> {
    let Json(change) = body?;
    let (cog, period) = read_change(&change)?;
    let store = store(&state)?;
    store
        .reset(
            access.guild_id,
            cog.as_deref(),
            period,
            crate::store::now_millis(),
        )
        .await?;
    tracing::info!(guild = access.guild_id, cog = ?cog, period = period.name(),
        by = access.session.user_id, "LLM budget window reset");
    Ok(Json(views(&store, access.guild_id).await?))
}

pub fn router() -> axum::Router<ApiState> {
    axum::Router::new()
        .route("/llm/usage/summary", get(summary))
        .route("/llm/usage/by-guild/{guild_id}", get(by_guild))
        .route("/llm/usage/by-cog/{cog}", get(by_cog))
        .route(
            "/guilds/{guild_id}/llm/budgets",
            get(budgets).put(set_budget),
        )
        .route("/guilds/{guild_id}/llm/budgets/reset", post(reset_budget))
        .route(
            "/guilds/{guild_id}/llm/budgets/{period}",
            delete(remove_budget),
        )
}
