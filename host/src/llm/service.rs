//! A metered call: the gateway's answer, charged to a guild and a cog
//! within their budgets. Before the call, its worst-case cost (the prompt's
//! estimated tokens at the dearest route's input rate, plus `max_tokens`
//! at its output rate) is reserved on every budget that applies; after,
//! the real cost is settled and a usage row written — for failures too, so
//! no path skips the check or the record.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use super::client::ChatStream;
use super::gateway::{Gateway, Route, Served};
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

    /// Every price, with whether a route reaches the model.
    pub async fn prices(&self) -> Result<Vec<(PriceRow, bool)>, StoreError> {
        let rows = self.store.prices().await?;
        Ok(rows
            .into_iter()
            .map(|row| {
                let routed = self
                    .routes
                    .values()
                    .flatten()
                    .any(|r| r.provider == row.provider && r.model == row.model);
                (row, routed)
            })
            .collect())
    }

    /// Set a model's price; calls from now on use it.
    pub async fn set_price(&self, price: &PriceRow) -> Result<(), StoreError> {
        self.store.set_price(price).await?;
        self.reload_prices().await
    }

    fn price(&self, route: &Route) -> Option<Price> {
        self.prices
            .read()
            .get(&(route.provider.clone(), route.model.clone()))
            .copied()
    }

    /// The route chain of `request`'s model and a reservation of its worst
    /// case on the caller's budgets.
    async fn prepare(
        &self,
        caller: &Caller,
        request: &mut ChatRequest,
    ) -> Result<Prepared, LlmError> {
        if request.model.is_empty() {
            request.model = self.default_model.clone();
        }
        let chain = self.routes.get(&request.model).cloned().ok_or_else(|| {
            LlmError::Invalid(format!("no provider serves the model `{}`", request.model))
        })?;
        // The worst case, at the dearest route's rates.
        let prompt = estimate(request);
        let worst_usage = Usage {
            input: prompt,
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
        Ok(Prepared {
            chain,
            reservation,
            prompt,
            started: Instant::now(),
        })
    }

    /// Settle the reservation at the real cost and write the usage row.
    async fn conclude(
        &self,
        caller: &Caller,
        prepared: &Prepared,
        operation: &str,
        usage: Usage,
        served: Option<&Served>,
        outcome: &str,
    ) -> Result<u64, LlmError> {
        let route = served
            .map(|s| Route {
                provider: s.provider.clone(),
                model: s.model.clone(),
            })
            .unwrap_or_else(|| prepared.chain[0].clone());
        let cost = self
            .price(&route)
            .map_or(0, |p| pricing::cost_micros(&usage, &p));
        if let Some(held) = &prepared.reservation {
            self.store.settle(held, cost).await.map_err(unavailable)?;
        }
        let row = UsageRow {
            guild_id: caller.guild_id,
            cog: caller.cog.clone(),
            user_id: caller.user_id,
            provider: route.provider.clone(),
            model: route.model.clone(),
            operation: operation.into(),
            input_tokens: usage.total_input(),
            cached_tokens: usage.cache_read,
            cache_write_tokens: usage.cache_write_5m + usage.cache_write_1h,
            output_tokens: usage.output,
            reasoning_tokens: usage.reasoning,
            cost_micros: cost,
            latency_ms: prepared.started.elapsed().as_millis() as u64,
            outcome: outcome.into(),
            fallback: served.is_some_and(|s| s.fallback),
            cache_hit: false,
        };
        if let Err(error) = self.store.record(&row).await {
            tracing::error!(%error, cog = %caller.cog, "could not record an LLM call's usage");
        }
        Ok(cost)
    }

    /// Run `request` for `caller`: reserve, call, settle, record.
    pub async fn chat(
        &self,
        caller: &Caller,
        mut request: ChatRequest,
    ) -> Result<(ChatResponse, Charged), LlmError> {
        let prepared = self.prepare(caller, &mut request).await?;
        let result = self.gateway.chat(&prepared.chain, &request).await;
        let (usage, served, outcome) = match &result {
            Ok((answer, served)) => (answer.usage, Some(served), "ok"),
            Err(error) => (Usage::default(), None, error_kind(error)),
        };
        let cost = self
            .conclude(caller, &prepared, "chat", usage, served, outcome)
            .await?;
        let (answer, served) = result?;
        Ok((answer, charged(cost, &served)))
    }

    /// Stream `request` for `caller`: reserved like a chat; read it with
    /// [`MeteredStream::next_text`] and end it with
    /// [`MeteredStream::finish`], which settles and records — at the
    /// provider's usage when the stream ended whole, else at an estimate
    /// (the prompt and the text received), since the provider bills a cut
    /// stream too.
    pub async fn stream(
        self: &Arc<Self>,
        caller: &Caller,
        mut request: ChatRequest,
    ) -> Result<MeteredStream, LlmError> {
        let prepared = self.prepare(caller, &mut request).await?;
        match self.gateway.stream(&prepared.chain, &request).await {
            Ok((stream, served)) => Ok(MeteredStream {
                service: self.clone(),
                caller: caller.clone(),
                prepared: Some(prepared),
                stream: Some(stream),
                served,
            }),
            Err(error) => {
                self.conclude(
                    caller,
                    &prepared,
                    "stream",
                    Usage::default(),
                    None,
                    error_kind(&error),
                )
                .await?;
                Err(error)
            }
        }
    }
}

fn charged(cost_micros: u64, served: &Served) -> Charged {
    Charged {
        cost_micros,
        provider: served.provider.clone(),
        model: served.model.clone(),
        fallback: served.fallback,
    }
}

fn unavailable(error: StoreError) -> LlmError {
    LlmError::ProviderDown(format!("the budget book is unavailable: {error}"))
}

/// A call under way: its route chain, its reservation, when it started.
struct Prepared {
    chain: Vec<Route>,
    reservation: Option<crate::store::llm::Reservation>,
    prompt: u64,
    started: Instant,
}

/// A streamed answer being read, charged when it ends.
pub struct MeteredStream {
    service: Arc<LlmService>,
    caller: Caller,
    prepared: Option<Prepared>,
    stream: Option<ChatStream>,
    served: Served,
}

impl MeteredStream {
    /// The next piece of text; `None` at the end.
    pub async fn next_text(&mut self) -> Result<Option<String>, LlmError> {
        match &mut self.stream {
            Some(stream) => stream.next_text().await,
            None => Ok(None),
        }
    }

    /// The whole answer and its charge; a cut stream is charged at an
    /// estimate and answered with [`LlmError::StreamCut`].
    pub async fn finish(mut self) -> Result<(ChatResponse, Charged), LlmError> {
        let (Some(stream), Some(prepared)) = (self.stream.take(), self.prepared.take()) else {
            return Err(LlmError::Invalid("the stream was already finished".into()));
        };
        let received = tokens_of(stream.text());
        let result = stream.finish();
        let (usage, outcome) = match &result {
            Ok(answer) => (answer.usage, "ok"),
            Err(error) => (
                Usage {
                    input: prepared.prompt,
                    output: received,
                    ..Usage::default()
                },
                error_kind(error),
            ),
        };
        let cost = self
            .service
            .conclude(
                &self.caller,
                &prepared,
                "stream",
                usage,
                Some(&self.served),
                outcome,
            )
            .await?;
        let answer = result?;
        Ok((answer, charged(cost, &self.served)))
    }
}

impl Drop for MeteredStream {
    /// A stream dropped unread is still charged (at the estimate), so a
    /// reservation never stays held.
    fn drop(&mut self) {
        if let (Some(stream), Some(prepared)) = (self.stream.take(), self.prepared.take()) {
            let usage = Usage {
                input: prepared.prompt,
                output: tokens_of(stream.text()),
                ..Usage::default()
            };
            let (service, caller, served) = (
                self.service.clone(),
                self.caller.clone(),
                self.served.clone(),
            );
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(async move {
                    let _ = service
                        .conclude(
                            &caller,
                            &prepared,
                            "stream",
                            usage,
                            Some(&served),
                            "dropped",
                        )
                        .await;
                });
            }
        }
    }
}

/// Tokens of received text, estimated as everywhere here.
fn tokens_of(text: &str) -> u64 {
    (text.len() as u64).div_ceil(4)
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
