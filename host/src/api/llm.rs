//! The LLM gateway for the bot's developer team: the models and their
//! prices (integer micro-dollars per million tokens, per image, per minute
//! of audio), editable — a price takes effect on its `effective_from` day
//! (UTC; a day already begun: the next call), per long-context tier.
//! What was spent: [`super::llm_usage`].

use axum::Json;
use axum::extract::{Path, State};
use axum::routing::{get, put};
use baseline_api_types::operators::ModelPrice;

use super::access::Developer;
use super::{ApiError, ApiState};
use crate::store::llm::PriceRow;

fn service(state: &ApiState) -> Result<std::sync::Arc<crate::llm::service::LlmService>, ApiError> {
    state
        .runtime
        .services()
        .llm
        .clone()
        .ok_or_else(|| ApiError::Unavailable("this host runs no LLM gateway".into()))
}

/// Every priced model, and whether a route of this host reaches it.
#[utoipa::path(get, path = "/api/v1/llm/models",
    responses((status = 200, body = [ModelPrice]), (status = 401), (status = 403), (status = 503)))]
pub async fn models(
    _: Developer,
    State(state): State<ApiState>,
) -> Result<Json<Vec<ModelPrice>>, ApiError> {
    let prices = service(&state)?.prices().await?;
    Ok(Json(
        prices
            .into_iter()
            .map(|(row, routed)| ModelPrice {
                provider: row.provider,
                model: row.model,
                input: row.input,
                output: row.output,
                cache_read: row.cache_read,
                cache_write_5m: row.cache_write_5m,
                cache_write_1h: row.cache_write_1h,
                effective_from: row.effective_from,
                image: row.image,
                audio_minute: row.audio_minute,
                min_input_tokens: row.min_input_tokens,
                routed,
            })
            .collect(),
    ))
}

#[derive(serde::Deserialize)]
pub struct ModelPath {
    provider: String,
    model: String,
}

/// Most micro-dollars per million tokens a rate may be ($1 000 000/M).
const MAX_RATE: u64 = 1_000_000_000_000;

/// Set a model's price.
#[utoipa::path(put, path = "/api/v1/llm/models/{provider}/{model}/pricing",
    params(("provider" = String, Path), ("model" = String, Path)), request_body = ModelPrice,
    responses((status = 200, body = ModelPrice), (status = 400), (status = 401), (status = 403), (status = 503)))]
pub async fn set_pricing(
    Developer(session): Developer,
    State(state): State<ApiState>,
    Path(path): Path<ModelPath>,
    body: Result<Json<ModelPrice>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<ModelPrice>, ApiError> {
    let Json(price) = body?;
    if crate::llm::providers::Kind::named(&path.provider).is_none() {
        return Err(ApiError::BadRequest(format!(
            "`{}` is not a provider",
            path.provider
        )));
    }
    if path.model.is_empty() || path.model.len() > 100 {
        return Err(ApiError::BadRequest(
            "a model name is 1 to 100 characters".into(),
        ));
    }
    if crate::store::llm::parse_day(&price.effective_from).is_none() {
        return Err(ApiError::BadRequest(format!(
            "`effective_from` must be a day like 2026-12-01, not `{}`",
            price.effective_from
        )));
    }
    let rates = [
        price.input,
        price.output,
        price.cache_read,
        price.cache_write_5m,
        price.cache_write_1h,
        price.image,
        price.audio_minute,
    ];
    if rates.iter().any(|&rate| rate > MAX_RATE) {
        return Err(ApiError::BadRequest(format!(
            "rates are at most {MAX_RATE} micro-dollars (per million tokens, per image, per minute)"
        )));
    }
    let row = PriceRow {
        provider: path.provider.clone(),
        model: path.model.clone(),
        input: price.input,
        output: price.output,
        cache_read: price.cache_read,
        cache_write_5m: price.cache_write_5m,
        cache_write_1h: price.cache_write_1h,
        effective_from: price.effective_from.clone(),
        image: price.image,
        audio_minute: price.audio_minute,
        min_input_tokens: price.min_input_tokens,
    };
    let llm = service(&state)?;
    llm.set_price(&row).await?;
    tracing::info!(provider = %path.provider, model = %path.model, by = session.user_id, "LLM price set");
    let routed = llm
        .prices()
        .await?
        .into_iter()
        .any(|(r, routed)| routed && r.provider == path.provider && r.model == path.model);
    Ok(Json(ModelPrice {
        provider: path.provider,
        model: path.model,
        routed,
        ..price
    }))
}

pub fn router() -> axum::Router<ApiState> {
    axum::Router::new()
        .route("/llm/models", get(models))
        .route("/llm/models/{provider}/{model}/pricing", put(set_pricing))
}
