//! REST under `/api/v10`, as the bot (and the OAuth2 flow) calls it.
//!
//! Every response carries Discord's rate-limit headers; every request is
//! recorded (see `GET /_sim/requests`) and first checked against the
//! injected REST faults (429 with `Retry-After`, 500, delays). Unknown routes
//! answer 404 with Discord's JSON error shape; a bot route without an
//! `Authorization` header answers 401.

mod body;
mod channels;
mod guilds;
mod interactions;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

pub use body::DiscordBody;

use crate::Sim;
use crate::world::RequestRecord;

pub use crate::error::{ApiError, ApiResult, snowflake};

pub fn router(sim: Arc<Sim>) -> Router {
    Router::new()
        .route("/api/v10/gateway", get(gateway))
        .route("/api/v10/gateway/bot", get(gateway_bot))
        .route("/api/v10/users/@me", get(me))
        .route("/api/v10/applications/@me", get(application))
        .route("/api/v10/oauth2/applications/@me", get(application))
        .route("/api/v10/users/{user}", get(user))
        .merge(channels::router())
        .merge(guilds::router())
        .merge(interactions::router())
        .merge(crate::oauth::api_router())
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(sim.clone(), around))
        .with_state(sim)
}

/// Faults, authorization, rate-limit headers and the request log.
async fn around(State(sim): State<Arc<Sim>>, request: Request, next: Next) -> Response {
    let method = request.method().to_string();
    let path = request.uri().path().to_string();
    if !path.starts_with("/api/") {
        return next.run(request).await;
    }
    let fault = sim.faults.take(&method, &path);
    let mut response = if let Some(fault) = fault {
        if fault.delay_ms > 0 {
            tokio::time::sleep(Duration::from_millis(fault.delay_ms)).await;
        }
        match fault.status {
            Some(429) => rate_limited(fault.retry_after_ms),
            Some(status) => (
                StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                Json(json!({"message": "500: Internal Server Error", "code": 0})),
            )
                .into_response(),
            None => authorized_run(request, next, &path).await,
        }
    } else {
        authorized_run(request, next, &path).await
    };
    let limited = response.status() == StatusCode::TOO_MANY_REQUESTS;
    let headers = response.headers_mut();
    if !limited {
        headers.insert("x-ratelimit-limit", HeaderValue::from_static("50"));
        headers.insert("x-ratelimit-remaining", HeaderValue::from_static("49"));
        headers.insert("x-ratelimit-reset-after", HeaderValue::from_static("1.000"));
        headers.insert("x-ratelimit-bucket", HeaderValue::from_static("simulated"));
    }
    let mut state = sim.world.state.lock();
    if state.requests.len() == crate::world::REQUEST_LOG {
        state.requests.pop_front();
    }
    state.requests.push_back(RequestRecord {
        method,
        path,
        status: response.status().as_u16(),
    });
    response
}

async fn authorized_run(request: Request, next: Next, path: &str) -> Response {
    // Webhook and interaction routes are authorized by their token; the
    // OAuth2 token exchange by the client secret in its form.
    let open = path.starts_with("/api/v10/webhooks/")
        || path.starts_with("/api/v10/interactions/")
        || path == "/api/v10/oauth2/token"
        || path == "/api/v10/gateway";
    if !open && !request.headers().contains_key("authorization") {
        return ApiError(StatusCode::UNAUTHORIZED, 0, "401: Unauthorized".into()).into_response();
    }
    next.run(request).await
}

/// A 429 as Discord sends it.
pub fn rate_limited(retry_after_ms: u64) -> Response {
    let seconds = retry_after_ms as f64 / 1000.0;
    let mut response = (
        StatusCode::TOO_MANY_REQUESTS,
        Json(json!({"message": "You are being rate limited.", "retry_after": seconds, "global": false, "code": 0})),
    )
        .into_response();
    let headers = response.headers_mut();
    let whole = retry_after_ms.div_ceil(1000).to_string();
    headers.insert("retry-after", HeaderValue::from_str(&whole).unwrap());
    headers.insert("x-ratelimit-limit", HeaderValue::from_static("50"));
    headers.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
    headers.insert(
        "x-ratelimit-reset-after",
        HeaderValue::from_str(&format!("{seconds:.3}")).unwrap(),
    );
    headers.insert("x-ratelimit-bucket", HeaderValue::from_static("simulated"));
    headers.insert("x-ratelimit-scope", HeaderValue::from_static("user"));
    response
}

async fn gateway(State(sim): State<Arc<Sim>>) -> Json<Value> {
    Json(json!({"url": format!("ws://{}", sim.world.addr)}))
}

async fn gateway_bot(State(sim): State<Arc<Sim>>) -> Json<Value> {
    Json(json!({
        "url": format!("ws://{}", sim.world.addr),
        "shards": sim.recommended_shards(),
        "session_start_limit": {"total": 1000, "remaining": 1000, "reset_after": 0, "max_concurrency": 16},
    }))
}

async fn me(State(sim): State<Arc<Sim>>, headers: axum::http::HeaderMap) -> ApiResult {
    // A bearer token is an OAuth2 user; anything else is the bot.
    if let Some(mut user) = crate::oauth::bearer_user(&sim, &headers)? {
        // The current-user fields the `identify` scope brings.
        for (field, value) in [
            ("mfa_enabled", serde_json::json!(false)),
            ("locale", serde_json::json!("en-US")),
            ("flags", serde_json::json!(0)),
            ("public_flags", serde_json::json!(0)),
            ("premium_type", serde_json::json!(0)),
            ("banner", serde_json::Value::Null),
            ("accent_color", serde_json::Value::Null),
        ] {
            user[field] = value;
        }
        return Ok(Json(user));
    }
    Ok(Json(sim.world.bot_user()))
}

/// The bot's application (discord.py, discord.js and others read it at login).
async fn application(State(sim): State<Arc<Sim>>) -> ApiResult {
    let (owner, guilds) = {
        let state = sim.world.state.lock();
        (
            state
                .users
                .get(&crate::world::DEMO_OWNER)
                .map(crate::world::user_json),
            state.guilds.len(),
        )
    };
    Ok(Json(serde_json::json!({
        "id": crate::world::BOT_ID.to_string(),
        "name": "baseline",
        "icon": null,
        "description": "A Baseline bot on the Discord simulator",
        "summary": "",
        "type": null,
        "bot_public": true,
        "bot_require_code_grant": false,
        "verify_key": "0000000000000000000000000000000000000000000000000000000000000000",
        "flags": 0,
        "team": null,
        "owner": owner,
        "bot": sim.world.bot_user(),
        "approximate_guild_count": guilds,
        "redirect_uris": [],
        "interactions_endpoint_url": null,
        "tags": [],
    })))
}

async fn user(
    State(sim): State<Arc<Sim>>,
    axum::extract::Path(user): axum::extract::Path<String>,
) -> ApiResult {
    let id = snowflake(&user, "User")?;
    sim.world
        .user(id)
        .map(Json)
        .ok_or_else(|| ApiError::unknown("User"))
}

async fn not_found() -> ApiError {
    ApiError(StatusCode::NOT_FOUND, 0, "404: Not Found".into())
}
