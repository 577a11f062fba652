//! A metered call: the gateway's answer, charged to a guild and a cog
//! within their budgets. Before the call, its worst-case cost (the prompt's
//! estimated tokens at the dearest route's input rate, plus `max_tokens`
//! at its output rate) is reserved on every budget that applies; after,
//! the real cost is settled and a usage row written — for failures too, so
//! no path skips the check or the record.

use std::collections::HashMap;
use std::time::Instant;

use super::gateway::{Gateway, Route};
use super::model::{ChatRequest, ChatResponse, LlmError, Part, Usage};
use super::pricing::{self, Price};
use crate::store::StoreError;
use crate::store::llm::{LlmStore, PriceRow, UsageRow};

/// Who is calling: the guild charged, the cog, the user it is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The guild (absent: no guild budget applies).
    pub guild_id: Option<u64>,
    /// The cog.
    pub cog: String,
    /// The user.
    pub user_id: Option<u64>,
}

/// What a call cost and who answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Charged {
    /// Micro-dollars.
    pub cost_micros: u64,
    /// The provider that answered.
    pub provider: String,
    /// Its model.
    pub model: String,
    /// A fallback route answered.
    pub fallback: bool,
}

/// The gateway, the routes per model, the prices, the books.
pub struct LlmService {
    gateway: Gateway,
    /// Model name as cogs ask for it → its chain of routes.
    routes: HashMap<String, Vec<Route>>,
    default_model: String,
    store: LlmStore,
    prices: parking_lot::RwLock<HashMap<(String, String), Price>>,
}

fn price_of(row: &PriceRow) -> Price {
    Price {
        input: row.input,
        cache_read: row.cache_read,
        cache_write_5m: row.cache_write_5m,
        cache_write_1h: row.cache_write_1h,
        output: row.output,
    }
}

/// Tokens a prompt will take, estimated (four characters a token, 85 an
/// image): an upper bound is what a reservation needs, not the truth.
fn estimate(request: &ChatRequest) -> u64 {
    let mut chars = request.system.as_deref().map_or(0, str::len) as u64;
    let mut images = 0;
    for message in &request.messages {
        for part in &message.parts {
            match part {
                Part::Text(text) => chars += text.len() as u64,
                Part::Image { .. } => images += 1,
                Part::ToolCall(call) => chars += call.arguments.to_string().len() as u64,
                Part::ToolResult { content, .. } => chars += content.len() as u64,
            }
        }
    }
    for tool in &request.tools {
        chars += tool.parameters.to_string().len() as u64 + tool.name.len() as u64;
    }
    chars.div_ceil(4) + 8 * request.messages.len() as u64 + images * 85
}

impl LlmService {
    /// The service over `gateway`, routing each model name to its chain,
    /// with `store` for prices, budgets and usage (the pricing table is
    /// seeded with the current models' prices where it has no row).
    pub async fn new(
        gateway: Gateway,
        routes: HashMap<String, Vec<Route>>,
        default_model: String,
        store: LlmStore,
    ) -> Result<Self, StoreError> {
        let seeds: Vec<PriceRow> = pricing::SEEDED
            .iter()
            .map(|(provider, model, since, price)| PriceRow {
                provider: provider.to_string(),
                model: model.to_string(),
                input: price.input,
                output: price.output,
                cache_read: price.cache_read,
                cache_write_5m: price.cache_write_5m,
                cache_write_1h: price.cache_write_1h,
                effective_from: since.to_string(),
            })
            .collect();
        store.seed_prices(&seeds).await?;
        let service = Self {
            gateway,
            routes,
            default_model,
            store,
            prices: Default::default(),
        };
        service.reload_prices().await?;
        Ok(service)
    }

    /// Read the pricing table again (after an edit through the API).
    pub async fn reload_prices(&self) -> Result<(), StoreError> {
        let rows = self.store.prices().await?;
        *self.prices.write() = rows
            .iter()
            .map(|row| ((row.provider.clone(), row.model.clone()), price_of(row)))
            .collect();
        Ok(())
    }

    fn price(&self, route: &Route) -> Option<Price> {
        self.prices
            .read()
            .get(&(route.provider.clone(), route.model.clone()))
            .copied()
    }

    /// Run `request` for `caller`: reserve, call, settle, record.
    pub async fn chat(
        &self,
        caller: &Caller,
        mut request: ChatRequest,
    ) -> Result<(ChatResponse, Charged), LlmError> {
        if request.model.is_empty() {
            request.model = self.default_model.clone();
        }
        let chain = self.routes.get(&request.model).cloned().ok_or_else(|| {
            LlmError::Invalid(format!("no provider serves the model `{}`", request.model))
        })?;
        // The worst case, at the dearest route's rates.
        let worst_usage = Usage {
            input: estimate(&request),
            output: u64::from(request.max_tokens),
            ..Usage::default()
        };
        let mut worst = 0;
        for route in &chain {
            let price = self.price(route).ok_or_else(|| {
                LlmError::Invalid(format!(
                    "`{}` at `{}` has no price: add one before routing to it",
                    route.model, route.provider
                ))
            })?;
            worst = worst.max(pricing::cost_micros(&worst_usage, &price));
        }
        let unavailable =
            |e: StoreError| LlmError::ProviderDown(format!("the budget book is unavailable: {e}"));
        let reservation = match caller.guild_id {
            Some(guild) => {
                let at = crate::store::now_millis();
                match self
                    .store
                    .reserve(guild, &caller.cog, worst, at)
                    .await
                    .map_err(unavailable)?
                {
                    Ok(held) => Some(held),
                    Err(budget) => {
                        let whose = match &budget.cog {
                            Some(cog) => format!("cog `{cog}`'s"),
                            None => "this server's".to_string(),
                        };
                        return Err(LlmError::BudgetExceeded(format!(
                            "{whose} {} budget of ${:.2} would be passed by this call (up to ${:.4})",
                            budget.period.name(),
                            budget.limit_micros as f64 / 1e6,
                            worst as f64 / 1e6
                        )));
                    }
                }
            }
            None => None,
        };
        let started = Instant::now();
        let result = self.gateway.chat(&chain, &request).await;
        let latency_ms = started.elapsed().as_millis() as u64;
        let (usage, served, outcome) = match &result {
            Ok((answer, served)) => (answer.usage, Some(served.clone()), "ok".to_string()),
            Err(error) => (Usage::default(), None, error_kind(error).to_string()),
        };
        let route = served
            .as_ref()
            .map(|s| Route {
                provider: s.provider.clone(),
                model: s.model.clone(),
            })
            .unwrap_or_else(|| chain[0].clone());
        let cost = self
            .price(&route)
            .map_or(0, |p| pricing::cost_micros(&usage, &p));
        if let Some(held) = &reservation {
            self.store.settle(held, cost).await.map_err(unavailable)?;
        }
        let row = UsageRow {
            guild_id: caller.guild_id,
            cog: caller.cog.clone(),
            user_id: caller.user_id,
            provider: route.provider.clone(),
            model: route.model.clone(),
            operation: "chat".into(),
            input_tokens: usage.total_input(),
            cached_tokens: usage.cache_read,
            cache_write_tokens: usage.cache_write_5m + usage.cache_write_1h,
            output_tokens: usage.output,
            reasoning_tokens: usage.reasoning,
            cost_micros: cost,
            latency_ms,
            outcome,
            fallback: served.as_ref().is_some_and(|s| s.fallback),
            cache_hit: false,
        };
        if let Err(error) = self.store.record(&row).await {
            tracing::error!(%error, cog = %caller.cog, "could not record an LLM call's usage");
        }
        let (answer, served) = result?;
        Ok((
            answer,
            Charged {
                cost_micros: cost,
                provider: served.provider,
                model: served.model,
                fallback: served.fallback,
            },
        ))
    }
}

/// A short name of an error for usage rows.
fn error_kind(error: &LlmError) -> &'static str {
    match error {
        LlmError::Auth(_) => "auth",
        LlmError::RateLimited { .. } => "rate-limited",
        LlmError::ContextTooLong(_) => "context-too-long",
        LlmError::ContentFiltered(_) => "content-filtered",
        LlmError::Invalid(_) => "invalid",
        LlmError::ProviderDown(_) => "provider-down",
        LlmError::Timeout(_) => "timeout",
        LlmError::StreamCut { .. } => "stream-cut",
        LlmError::BudgetExceeded(_) => "budget-exceeded",
        LlmError::NotGranted(_) => "not-granted",
    }
}
