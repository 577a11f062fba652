//! OAuth2, as the dashboard's login will use it: `/oauth2/authorize`
//! approves at once as a chosen simulated user (`as_user`, default the demo
//! guild's owner) and redirects back with a code; `/api/v10/oauth2/token`
//! exchanges the code (or a refresh token) for a bearer token; with it,
//! `users/@me` is that user and `users/@me/guilds` lists their guilds.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde_json::{Value, json};

use crate::Sim;
use crate::actions::permissions_of;
use crate::error::{ApiError, ApiResult};
use crate::world::DEMO_OWNER;

/// `/oauth2/authorize` (the browser-facing page).
pub fn page_router(sim: Arc<Sim>) -> Router {
    Router::new()
        .route("/oauth2/authorize", get(authorize))
        .with_state(sim)
}

/// The token exchange and the user's guilds, under `/api/v10`.
pub fn api_router() -> Router<Arc<Sim>> {
    Router::new()
        .route("/api/v10/oauth2/token", post(token))
        .route("/api/v10/users/@me/guilds", get(my_guilds))
}

#[derive(serde::Deserialize)]
struct AuthorizeQuery {
    redirect_uri: String,
    response_type: Option<String>,
    state: Option<String>,
    /// Simulator only: approve as this user.
    as_user: Option<u64>,
}

async fn authorize(State(sim): State<Arc<Sim>>, Query(query): Query<AuthorizeQuery>) -> Response {
    if query.response_type.as_deref().unwrap_or("code") != "code" {
        return (StatusCode::BAD_REQUEST, "unsupported response_type").into_response();
    }
    let user = query.as_user.unwrap_or(DEMO_OWNER);
    if sim.world.user(user).is_none() {
        return (StatusCode::BAD_REQUEST, "no such simulated user").into_response();
    }
    let code = format!("sim-code-{}", sim.world.next_id());
    sim.world
        .state
        .lock()
        .oauth_codes
        .insert(code.clone(), user);
    let separator = if query.redirect_uri.contains('?') {
        '&'
    } else {
        '?'
    };
    let mut target = format!("{}{separator}code={code}", query.redirect_uri);
    if let Some(state) = query.state {
        target.push_str(&format!("&state={}", urlencode(&state)));
    }
    Redirect::to(&target).into_response()
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[derive(serde::Deserialize)]
struct TokenForm {
    grant_type: String,
    code: Option<String>,
    refresh_token: Option<String>,
}

async fn token(State(sim): State<Arc<Sim>>, Form(form): Form<TokenForm>) -> Response {
    let invalid = |error: &str| {
        (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": error, "error_description": "Invalid \"code\" in request."})),
        )
            .into_response()
    };
    let mut state = sim.world.state.lock();
    let user = match form.grant_type.as_str() {
        "authorization_code" => form
            .code
            .as_deref()
            .and_then(|c| state.oauth_codes.remove(c)),
        "refresh_token" => form
            .refresh_token
            .as_deref()
            .and_then(|t| t.strip_prefix("sim-refresh-"))
            .and_then(|t| state.oauth_tokens.get(&format!("sim-access-{t}")).copied()),
        _ => return invalid("unsupported_grant_type"),
    };
    let Some(user) = user else {
        return invalid("invalid_grant");
    };
    let serial = sim.world.next_id();
    let access = format!("sim-access-{serial}");
    state.oauth_tokens.insert(access.clone(), user);
    Json(
        json!({"access_token": access, "token_type": "Bearer", "expires_in": 604800,
                "refresh_token": format!("sim-refresh-{serial}"), "scope": "identify guilds"}),
    )
    .into_response()
}

/// The user behind a `Bearer` token; `None` for a bot token; 401 for an
/// unknown bearer token.
pub fn bearer_user(sim: &Sim, headers: &HeaderMap) -> Result<Option<Value>, ApiError> {
    let Some(token) = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return Ok(None);
    };
    let user = sim.world.state.lock().oauth_tokens.get(token).copied();
    match user.and_then(|u| sim.world.user(u)) {
        Some(user) => Ok(Some(user)),
        None => Err(ApiError(
            StatusCode::UNAUTHORIZED,
            0,
            "401: Unauthorized".into(),
        )),
    }
}

async fn my_guilds(State(sim): State<Arc<Sim>>, headers: HeaderMap) -> ApiResult {
    let user = bearer_user(&sim, &headers)?.ok_or_else(|| {
        ApiError(
            StatusCode::UNAUTHORIZED,
            0,
            "users/@me/guilds needs a user's bearer token".into(),
        )
    })?;
    let id: u64 = user["id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let state = sim.world.state.lock();
    let guilds: Vec<Value> = state
        .guilds
        .values()
        .filter(|g| g.members.contains_key(&id))
        .map(|g| {
            json!({"id": g.id.to_string(), "name": g.name, "icon": null, "owner": g.owner_id == id,
                   "permissions": permissions_of(&state, g.id, id).to_string(), "features": []})
        })
        .collect();
    Ok(Json(json!(guilds)))
}
