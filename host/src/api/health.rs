//! `GET /api/v1/health`: database, cache and cogs; 503 when a part is down.
//! Anyone gets the bare status; the developer team also gets which part is
//! failing and why (an error text can name hosts and users).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use serde::Serialize;

use super::ApiState;
use crate::probe::Probe;

/// The host's health: `status` for everyone, the rest for the developer team.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Health {
    /// `ok`, or `degraded` with `failing` naming the parts.
    status: &'static str,
    /// Parts that are down.
    #[serde(skip_serializing_if = "Option::is_none")]
    failing: Option<Vec<String>>,
    /// The database (absent when the host runs without one).
    #[serde(skip_serializing_if = "Option::is_none")]
    database: Option<Probe>,
    /// The cache.
    #[serde(skip_serializing_if = "Option::is_none")]
    cache: Option<Probe>,
    /// Loaded cogs.
    #[serde(skip_serializing_if = "Option::is_none")]
    cogs_loaded: Option<usize>,
    /// Cog files that failed to load.
    #[serde(skip_serializing_if = "Option::is_none")]
    cogs_failed: Option<usize>,
}

/// Health of the database, the cache and the cogs.
#[utoipa::path(get, path = "/api/v1/health", responses(
    (status = 200, description = "Everything answers", body = Health),
    (status = 503, description = "A part is down; `failing` names it", body = Health),
))]
pub async fn health(
    State(state): State<ApiState>,
    headers: axum::http::HeaderMap,
) -> (StatusCode, Json<Health>) {
    let services = state.runtime.services();
    let database = match &services.database {
        Some(db) => Some(Probe::database(db).await),
        None => None,
    };
    let cache = Probe::cache(services.cache.as_ref()).await;
    let mut failing = Vec::new();
    if database.as_ref().is_some_and(|d| !d.healthy) {
        failing.push("database".to_string());
    }
    if !cache.healthy {
        failing.push("cache".to_string());
    }
    let code = if failing.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let status = if failing.is_empty() { "ok" } else { "degraded" };
    let developer = match super::access::token(&state, &headers) {
        Some(token) => super::access::session(&state, &token)
            .await
            .ok()
            .flatten()
            .is_some_and(|session| session.developer),
        None => false,
    };
    if !developer {
        return (
            code,
            Json(Health {
                status,
                failing: None,
                database: None,
                cache: None,
                cogs_loaded: None,
                cogs_failed: None,
            }),
        );
    }
    let registry = state.runtime.registry();
    let body = Health {
        status,
        failing: Some(failing),
        database,
        cache: Some(cache),
        cogs_loaded: Some(registry.list().len()),
        cogs_failed: Some(registry.failures().len()),
    };
    (code, Json(body))
}

pub fn router() -> axum::Router<ApiState> {
    axum::Router::new().route("/health", get(health))
}
