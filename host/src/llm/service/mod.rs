//! A metered call: the gateway's answer, charged to a guild and a cog
//! within their budgets. Before the call, its worst-case cost (the prompt's
//! estimated tokens at the dearest route's input rate, plus `max_tokens`
//! at its output rate) is reserved on every budget that applies; after,
//! the real cost is settled and a usage row written — for failures too, so
//! no path skips the check or the record.

mod media;
mod stream;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

pub use media::MAX_AUDIO_BYTES;
pub use stream::MeteredStream;

use super::answer_cache::AnswerCache;
use super::gateway::{Gateway, Route, Served};
use super::model::{ChatRequest, ChatResponse, LlmError, Part, Usage};
use super::pricing::{self, Price, Schedule, Scheduled};
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
    /// Answered from the response cache.
    pub cached: bool,
}

/// The gateway, the routes per model, the prices, the books.
pub struct LlmService {
    gateway: Gateway,
    /// Model name as cogs ask for it → its chain of routes.
    routes: HashMap<String, Vec<Route>>,
    default_model: String,
    image_model: String,
    transcription_model: String,
    store: LlmStore,
    prices: parking_lot::RwLock<HashMap<(String, String), Schedule>>,
    answers: Option<AnswerCache>,
    /// The operator's bot-wide budgets (guild 0): every call, DMs included.
    operator_budgets: Vec<crate::store::llm::Budget>,
}

fn price_of(row: &PriceRow) -> Price {
    Price {
        input: row.input,
        cache_read: row.cache_read,
        cache_write_5m: row.cache_write_5m,
        cache_write_1h: row.cache_write_1h,
        output: row.output,
        image: row.image,
        audio_minute: row.audio_minute,
    }
}

/// Tokens an image may cost in a prompt at most (Anthropic's largest is
/// about 1 600; OpenAI's high detail about 1 100).
const IMAGE_TOKENS: u64 = 1_600;

/// Tokens a prompt may take, from above: every byte the provider will see
/// (system, messages, tool calls and results with their ids and names,
/// tools with their descriptions, the schema), a token per three bytes —
/// English runs near four, other scripts and adversarial text lower — and
/// the dearest an image can be. A reservation needs an upper bound, not
/// the truth; the real usage settles it.
fn estimate(request: &ChatRequest) -> u64 {
    let mut bytes = request.system.as_deref().map_or(0, str::len) as u64;
    let mut images = 0;
    for message in &request.messages {
        for part in &message.parts {
            bytes += match part {
                Part::Text(text) => text.len(),
                Part::Image { .. } => {
                    images += 1;
                    0
                }
                Part::ToolCall(call) => {
                    call.id.len() + call.name.len() + call.arguments.to_string().len()
                }
                Part::ToolResult {
                    call_id,
                    name,
                    content,
                } => call_id.len() + name.len() + content.len(),
            } as u64;
        }
    }
    for tool in &request.tools {
        bytes +=
            (tool.name.len() + tool.description.len() + tool.parameters.to_string().len()) as u64;
    }
    if let Some(schema) = &request.schema {
        bytes += schema.to_string().len() as u64;
    }
    bytes += request.stop.iter().map(|s| s.len() as u64).sum::<u64>();
    bytes.div_ceil(3) + 8 * (request.messages.len() as u64 + 1) + images * IMAGE_TOKENS
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
            .map(|(provider, model, since, price)| (*provider, *model, *since, 0, price))
            .chain(
                pricing::SCHEDULED
                    .iter()
                    .map(|(provider, model, since, min, price)| {
                        (*provider, *model, *since, *min, price)
                    }),
            )
            .map(
                |(provider, model, since, min_input_tokens, price)| PriceRow {
                    provider: provider.to_string(),
                    model: model.to_string(),
                    input: price.input,
                    output: price.output,
                    cache_read: price.cache_read,
                    cache_write_5m: price.cache_write_5m,
                    cache_write_1h: price.cache_write_1h,
                    effective_from: since.to_string(),
                    image: price.image,
                    audio_minute: price.audio_minute,
                    min_input_tokens,
                },
            )
            .collect();
        store.seed_prices(&seeds).await?;
        let service = Self {
            gateway,
            routes,
            default_model,
            image_model: "gpt-image-2".into(),
            transcription_model: "whisper-1".into(),
            store,
            prices: Default::default(),
            answers: None,
            operator_budgets: Vec::new(),
        };
        service.reload_prices().await?;
        Ok(service)
    }

    /// With these default models for images and transcription (else
    /// `gpt-image-2` and `whisper-1`).
    pub fn with_media_models(mut self, image: String, transcription: String) -> Self {
        self.image_model = image;
        self.transcription_model = transcription;
        self
    }

    /// With the operator's bot-wide budgets (micro-dollars a UTC day and a
    /// UTC month; `None`: no cap), which hold every call — in any server,
    /// in DMs — whatever the servers' own budgets say.
    pub fn with_operator_budgets(mut self, daily: Option<u64>, monthly: Option<u64>) -> Self {
        use crate::store::llm::{Budget, Period};
        self.operator_budgets = [(Period::Daily, daily), (Period::Monthly, monthly)]
            .into_iter()
            .filter_map(|(period, limit)| {
                limit.map(|limit_micros| Budget {
                    guild_id: 0,
                    cog: None,
                    period,
                    limit_micros,
                })
            })
            .collect();
        self
    }

    /// With a response cache in `cache` (requests opt in per call).
    pub fn with_answer_cache(mut self, cache: Arc<dyn crate::cache::Cache>) -> Self {
        self.answers = Some(AnswerCache::new(cache));
        self
    }

    /// The model a request gets when it names none.
    pub fn default_model(&self) -> &str {
        &self.default_model
    }

    /// The default chat, image and transcription models (every cog granted
    /// `llm` may use them).
    pub fn default_models(&self) -> [&str; 3] {
        [
            &self.default_model,
            &self.image_model,
            &self.transcription_model,
        ]
    }

    /// Whether any route serves `model`.
    pub fn serves(&self, model: &str) -> bool {
        self.routes.contains_key(model)
    }

    /// Read the pricing table again (after an edit through the API).
    pub async fn reload_prices(&self) -> Result<(), StoreError> {
        let rows = self.store.prices().await?;
        let mut schedules: HashMap<(String, String), Schedule> = HashMap::new();
        for row in &rows {
            schedules
                .entry((row.provider.clone(), row.model.clone()))
                .or_default()
                .push(Scheduled {
                    since: row.effective_from.clone(),
                    min_input_tokens: row.min_input_tokens,
                    price: price_of(row),
                });
        }
        *self.prices.write() = schedules;
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

    /// The price today of a request through `route` with `input` tokens.
    fn price(&self, route: &Route, input: u64) -> Option<Price> {
        self.prices
            .read()
            .get(&(route.provider.clone(), route.model.clone()))
            .and_then(|schedule| schedule.at(&today(), input))
    }

    /// The route chain of `request`'s model and a reservation of its worst
    /// case (the prompt's estimated tokens, and `max_tokens` of output).
    async fn prepare(
        &self,
        caller: &Caller,
        request: &mut ChatRequest,
    ) -> Result<Prepared, LlmError> {
        if request.model.is_empty() {
            request.model = self.default_model.clone();
        }
        let prompt = estimate(request);
        let worst = Usage {
            input: prompt,
            output: u64::from(request.max_tokens),
            ..Usage::default()
        };
        self.reserve(caller, &request.model, worst, prompt).await
    }

    /// The route chain of `model` and a reservation of `worst` at the
    /// dearest route's rates on every budget of the caller.
    async fn reserve(
        &self,
        caller: &Caller,
        model: &str,
        worst_usage: Usage,
        prompt: u64,
    ) -> Result<Prepared, LlmError> {
        let chain =
            self.routes.get(model).cloned().ok_or_else(|| {
                LlmError::Invalid(format!("no provider serves the model `{model}`"))
            })?;
        let mut worst = 0;
        let day = today();
        for route in &chain {
            let dearest = self
                .prices
                .read()
                .get(&(route.provider.clone(), route.model.clone()))
                .and_then(|schedule| schedule.worst(&day, &worst_usage))
                .ok_or_else(|| {
                    LlmError::Invalid(format!(
                        "`{}` at `{}` has no price: add one before routing to it",
                        route.model, route.provider
                    ))
                })?;
            worst = worst.max(dearest);
        }
        let reservation = match caller.guild_id.is_some() || !self.operator_budgets.is_empty() {
            true => {
                let at = crate::store::now_millis();
                match self
                    .store
                    .reserve_with(
                        caller.guild_id,
                        &caller.cog,
                        worst,
                        at,
                        &self.operator_budgets,
                    )
                    .await
                    .map_err(unavailable)?
                {
                    Ok(held) => Some(held),
                    Err(budget) => {
                        let whose = match (&budget.cog, budget.guild_id) {
                            (_, 0) => "the bot's".to_string(),
                            (Some(cog), _) => format!("cog `{cog}`'s"),
                            (None, _) => "this server's".to_string(),
                        };
                        return Err(LlmError::BudgetExceeded(format!(
                            "{whose} {} budget of {} would be passed by this call (up to {})",
                            budget.period.name(),
                            dollars(budget.limit_micros),
                            dollars(worst)
                        )));
                    }
                }
            }
            false => None,
        };
        Ok(Prepared {
            chain,
            reservation,
            prompt,
            worst,
            started: Instant::now(),
            guard: Some(Unsettled {
                store: self.store.clone(),
                caller: caller.clone(),
                model: model.to_string(),
            }),
            done: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Settle the reservation at the real cost and write the usage row.
    pub(super) async fn conclude(
        &self,
        caller: &Caller,
        prepared: &Prepared,
        operation: &str,
        usage: Usage,
        served: Option<&Served>,
        outcome: &str,
    ) -> Result<u64, LlmError> {
        prepared.concluded();
        let route = served
            .map(|s| Route {
                provider: s.provider.clone(),
                model: s.model.clone(),
            })
            .unwrap_or_else(|| prepared.chain[0].clone());
        // Counting tokens is free: its row shows the tokens at no cost.
        let priced = self
            .price(&route, usage.total_input())
            .map_or(0, |p| pricing::cost_micros(&usage, &p));
        let cost = match (operation, usage.billed_micros) {
            ("count", _) => 0,
            // The provider's own bill wins; a difference from the table is
            // the operator's to look at (a price changed).
            (_, Some(billed)) => {
                if billed.abs_diff(priced) > 1 + priced / 100 {
                    tracing::warn!(provider = %route.provider, model = %route.model, billed, priced,
                        "the provider billed another amount than the price table gives");
                }
                billed
            }
            // Whole, but no usage to price it by (a provider that left it
            // out, a price missing today): the worst case, never free.
            (_, None) if priced == 0 && outcome == "ok" => {
                tracing::warn!(provider = %route.provider, model = %route.model, operation,
                    "an LLM call with no usage or no price: charged its worst case");
                prepared.worst
            }
            // A stream that did not end whole: the provider bills what it
            // generated (reasoning, tool arguments) which the host never
            // saw, so the worst case is charged.
            _ if matches!(outcome, "stream-cut" | "dropped" | "cancelled") => prepared.worst,
            _ => priced,
        };
        let settle = async {
            match &prepared.reservation {
                Some(held) => self.store.settle(held, cost).await,
                None => Ok(()),
            }
        };
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
            images: usage.images,
            audio_ms: usage.audio_ms,
            at_ms: 0,
        };
        // Settled and recorded at once (two statements, not one after the other).
        let (settled, recorded) = tokio::join!(settle, self.store.record(&row));
        if let Err(error) = recorded {
            tracing::error!(%error, cog = %caller.cog, "could not record an LLM call's usage");
        }
        settled.map_err(unavailable)?;
        Ok(cost)
    }

    /// Run `request` for `caller`: reserve, call, settle, record. With
    /// `cache_for`, the answer is kept that long in the response cache of
    /// the caller's guild and cog, and an identical request there is
    /// answered from it at no cost.
    pub async fn chat(
        &self,
        caller: &Caller,
        mut request: ChatRequest,
        cache_for: Option<std::time::Duration>,
    ) -> Result<(ChatResponse, Charged), LlmError> {
        if request.model.is_empty() {
            request.model = self.default_model.clone();
        }
        let cache = cache_for.and_then(|ttl| self.answers.as_ref().map(|c| (c, ttl)));
        if let Some((answers, _)) = cache
            && let Some((answer, served)) = answers.get(caller, &request).await
        {
            self.record_hit(caller, &served, "chat").await;
            return Ok((
                answer,
                Charged {
                    cached: true,
                    ..charged(0, &served)
                },
            ));
        }
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
        if let Some((answers, ttl)) = cache {
            answers.put(caller, &request, &answer, &served, ttl).await;
        }
        Ok((answer, charged(cost, &served)))
    }

    /// The usage row of an answer from the response cache: no tokens, no cost.
    async fn record_hit(&self, caller: &Caller, served: &Served, operation: &str) {
        let row = UsageRow {
            guild_id: caller.guild_id,
            cog: caller.cog.clone(),
            user_id: caller.user_id,
            provider: served.provider.clone(),
            model: served.model.clone(),
            operation: operation.into(),
            input_tokens: 0,
            cached_tokens: 0,
            cache_write_tokens: 0,
            output_tokens: 0,
            reasoning_tokens: 0,
            cost_micros: 0,
            latency_ms: 0,
            outcome: "ok".into(),
            fallback: false,
            cache_hit: true,
            images: 0,
            audio_ms: 0,
            at_ms: 0,
        };
        if let Err(error) = self.store.record(&row).await {
            tracing::error!(%error, cog = %caller.cog, "could not record an LLM call's usage");
        }
    }
}

pub(super) fn charged(cost_micros: u64, served: &Served) -> Charged {
    Charged {
        cost_micros,
        provider: served.provider.clone(),
        model: served.model.clone(),
        fallback: served.fallback,
        cached: false,
    }
}

fn unavailable(error: StoreError) -> LlmError {
    LlmError::ProviderDown(format!("the budget book is unavailable: {error}"))
}

/// A call under way: its route chain, its reservation (of `worst`), when it
/// started. Dropped before it was concluded — the call was cancelled, most
/// often by the cog's deadline while the provider was still answering —
/// it settles itself at the worst case and records the call as
/// `cancelled`, so no reservation outlives its call and no bill goes
/// unrecorded.
pub(super) struct Prepared {
    chain: Vec<Route>,
    reservation: Option<crate::store::llm::Reservation>,
    prompt: u64,
    worst: u64,
    started: Instant,
    guard: Option<Unsettled>,
    done: std::sync::atomic::AtomicBool,
}

/// What a cancelled call needs to settle itself.
struct Unsettled {
    store: LlmStore,
    caller: Caller,
    model: String,
}

impl Prepared {
    /// The call is being concluded the ordinary way.
    fn concluded(&self) {
        self.done.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

impl Drop for Prepared {
    fn drop(&mut self) {
        if self.done.load(std::sync::atomic::Ordering::Relaxed) {
            return;
        }
        let (Some(guard), Ok(runtime)) = (self.guard.take(), tokio::runtime::Handle::try_current())
        else {
            return;
        };
        let (reservation, worst, started) = (self.reservation.take(), self.worst, self.started);
        let route = self.chain.first().cloned();
        runtime.spawn(async move {
            if let Some(held) = &reservation
                && let Err(error) = guard.store.settle(held, worst).await
            {
                tracing::error!(%error, "a cancelled LLM call's reservation could not be settled");
            }
            let route = route.unwrap_or(Route {
                provider: String::new(),
                model: guard.model.clone(),
            });
            let row = UsageRow {
                guild_id: guard.caller.guild_id,
                cog: guard.caller.cog.clone(),
                user_id: guard.caller.user_id,
                provider: route.provider,
                model: route.model,
                operation: "cancelled".into(),
                input_tokens: 0,
                cached_tokens: 0,
                cache_write_tokens: 0,
                output_tokens: 0,
                reasoning_tokens: 0,
                cost_micros: worst,
                latency_ms: started.elapsed().as_millis() as u64,
                outcome: "cancelled".into(),
                fallback: false,
                cache_hit: false,
                images: 0,
                audio_ms: 0,
                at_ms: 0,
            };
            if let Err(error) = guard.store.record(&row).await {
                tracing::error!(%error, "a cancelled LLM call could not be recorded");
            }
        });
    }
}

/// Tokens of received text, estimated as everywhere here.
/// `$12.50`, `$0.000250`: cents when whole, else every micro-dollar.
fn dollars(micros: u64) -> String {
    if micros.is_multiple_of(10_000) {
        format!("${}.{:02}", micros / 1_000_000, micros % 1_000_000 / 10_000)
    } else {
        format!("${}.{:06}", micros / 1_000_000, micros % 1_000_000)
    }
}

/// Today, UTC (`2026-11-30`): the day prices are looked up for.
fn today() -> String {
    crate::store::llm::Period::Daily.window(crate::store::now_millis())
}

pub(super) fn tokens_of(text: &str) -> u64 {
    (text.len() as u64).div_ceil(4)
}

/// A short name of an error for usage rows.
pub(super) fn error_kind(error: &LlmError) -> &'static str {
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
