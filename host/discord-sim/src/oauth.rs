//! OAuth2, as the dashboard's login uses it, with Discord's checks:
//! `/oauth2/authorize` needs the application's `client_id` and a
//! `redirect_uri`; with `as_user` it approves at once as that simulated
//! user, without it it shows a page to pick one (the simulator's consent
//! screen). It redirects back with a one-time code bound to the redirect
//! URI, the client and, when the request carried a PKCE `code_challenge`
//! (S256), its challenge. `/api/v10/oauth2/token` exchanges the code (or a
//! refresh token) for a bearer token only with the client's secret (form
//! fields or HTTP Basic), the same redirect URI and the matching
//! `code_verifier`; with the bearer token, `users/@me` is that user and
//! `users/@me/guilds` lists their guilds with their permissions.
//! `POST /_sim/oauth/expire` ends every access token's life at once, so a
//! test can watch a client refresh.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::Engine as _;
use serde_json::{Value, json};
use sha2::Digest as _;

use crate::Sim;
use crate::actions::permissions_of;
use crate::error::{ApiError, ApiResult};
use crate::world::{BOT_ID, Grant, PendingCode};

/// The simulated application's OAuth2 client secret (its client id is the
/// bot's id, as on Discord).
pub const CLIENT_SECRET: &str = "simulated-client-secret";

/// How long an access token lives (Discord's: a week).
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(604_800);

/// How long an unused authorization code stays valid (Discord: minutes).
const CODE_LIFETIME: Duration = Duration::from_secs(600);

/// `/oauth2/authorize` (the browser-facing page) and the control route.
pub fn page_router(sim: Arc<Sim>) -> Router {
    Router::new()
        .route("/oauth2/authorize", get(authorize))
        .route("/_sim/oauth/expire", post(expire))
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
    client_id: Option<String>,
    redirect_uri: Option<String>,
    response_type: Option<String>,
    state: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    /// Simulator only: approve as this user (else a page to pick one).
    as_user: Option<u64>,
}

fn refuse(text: &str) -> Response {
    (StatusCode::BAD_REQUEST, text.to_string()).into_response()
}

async fn authorize(
    State(sim): State<Arc<Sim>>,
    Query(query): Query<AuthorizeQuery>,
    uri: axum::http::Uri,
) -> Response {
    if query.client_id.as_deref() != Some(BOT_ID.to_string().as_str()) {
        return refuse("Unknown application (client_id)");
    }
    let Some(redirect_uri) = query.redirect_uri.filter(|r| !r.is_empty()) else {
        return refuse("Invalid OAuth2 redirect_uri");
    };
    if query.response_type.as_deref().unwrap_or("code") != "code" {
        return refuse("unsupported response_type");
    }
    let challenge = match (query.code_challenge, query.code_challenge_method.as_deref()) {
        (None, _) => None,
        (Some(challenge), Some("S256")) if (43..=128).contains(&challenge.len()) => Some(challenge),
        _ => return refuse("invalid code_challenge (S256, 43 to 128 characters)"),
    };
    let Some(user) = query.as_user else {
        return picker(&sim, &uri);
    };
    if sim.world.user(user).is_none() {
        return refuse("no such simulated user");
    }
    let code = format!("sim-code-{}", sim.world.next_id());
    sim.world.state.lock().oauth_codes.insert(
        code.clone(),
        PendingCode {
            user,
            redirect_uri: redirect_uri.clone(),
            challenge,
            expires: Instant::now() + CODE_LIFETIME,
        },
    );
    let separator = if redirect_uri.contains('?') { '&' } else { '?' };
    let mut target = format!("{redirect_uri}{separator}code={code}");
    if let Some(state) = query.state {
        target.push_str(&format!("&state={}", urlencode(&state)));
    }
    Redirect::to(&target).into_response()
}

/// The consent screen: one link per simulated person, each the same
/// request with `as_user` added.
fn picker(sim: &Sim, uri: &axum::http::Uri) -> Response {
    let query = uri.query().unwrap_or("");
    let people: Vec<(u64, String)> = sim
        .world
        .state
        .lock()
        .users
        .values()
        .filter(|u| !u.bot)
        .map(|u| (u.id, u.username.clone()))
        .collect();
    let links: String = people
        .iter()
        .map(|(id, name)| {
            format!(
                "<li><a href=\"/oauth2/authorize?{}&amp;as_user={id}\">Authorize as <b>{}</b></a></li>",
                html_escape(query),
                html_escape(name)
            )
        })
        .collect();
    Html(format!(
        "<!doctype html><meta charset=utf-8><title>Discord simulator: authorize</title>\
         <h1>An application wants to sign you in</h1>\
         <p>This is the Discord simulator. Pick who you are:</p><ul>{links}</ul>"
    ))
    .into_response()
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
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
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

/// The client's credentials: HTTP Basic, else the form's fields.
fn client_credentials(headers: &HeaderMap, form: &TokenForm) -> Option<(String, String)> {
    let basic = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|pair| {
            let (id, secret) = pair.split_once(':')?;
            Some((id.to_string(), secret.to_string()))
        });
    basic.or_else(|| Some((form.client_id.clone()?, form.client_secret.clone()?)))
}

/// RFC 7636's S256: base64url (no padding) of the verifier's SHA-256.
pub fn s256(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier))
}

async fn token(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Form(form): Form<TokenForm>,
) -> Response {
    let error = |status: StatusCode, error: &str, description: &str| {
        (
            status,
            Json(json!({"error": error, "error_description": description})),
        )
            .into_response()
    };
    let invalid_grant = || {
        error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "Invalid \"code\" in request.",
        )
    };
    match client_credentials(&headers, &form) {
        Some((id, secret)) if id == BOT_ID.to_string() && secret == CLIENT_SECRET => {}
        _ => {
            return error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "Unknown client or wrong secret.",
            );
        }
    }
    let mut state = sim.world.state.lock();
    let user = match form.grant_type.as_str() {
        "authorization_code" => {
            // A code is gone once presented, right or wrong (no retries).
            let Some(pending) = form
                .code
                .as_deref()
                .and_then(|c| state.oauth_codes.remove(c))
            else {
                return invalid_grant();
            };
            if pending.expires < Instant::now() {
                return invalid_grant();
            }
            if form.redirect_uri.as_deref() != Some(pending.redirect_uri.as_str()) {
                return error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "Invalid \"redirect_uri\" in request.",
                );
            }
            if let Some(challenge) = &pending.challenge
                && form.code_verifier.as_deref().map(s256).as_deref() != Some(challenge.as_str())
            {
                return error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "Invalid \"code_verifier\" in request.",
                );
            }
            pending.user
        }
        "refresh_token" => {
            // A refresh token works once: it is replaced by the new one.
            let Some(user) = form
                .refresh_token
                .as_deref()
                .and_then(|t| state.oauth_refresh.remove(t))
            else {
                return invalid_grant();
            };
            user
        }
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "Unsupported grant type.",
            );
        }
    };
    let serial = sim.world.next_id();
    let (access, refresh) = (
        format!("sim-access-{serial}"),
        format!("sim-refresh-{serial}"),
    );
    state.oauth_tokens.insert(
        access.clone(),
        Grant {
            user,
            expires: Instant::now() + TOKEN_LIFETIME,
        },
    );
    state.oauth_refresh.insert(refresh.clone(), user);
    Json(json!({"access_token": access, "token_type": "Bearer",
                "expires_in": TOKEN_LIFETIME.as_secs(), "refresh_token": refresh,
                "scope": "identify guilds"}))
    .into_response()
}

/// Every access token expires now (refresh tokens stay good).
async fn expire(State(sim): State<Arc<Sim>>) -> Json<Value> {
    let now = Instant::now();
    let mut state = sim.world.state.lock();
    for grant in state.oauth_tokens.values_mut() {
        grant.expires = now;
    }
    Json(json!({"expired": state.oauth_tokens.len()}))
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
    let user = sim
        .world
        .state
        .lock()
        .oauth_tokens
        .get(token)
        .filter(|grant| grant.expires > Instant::now())
        .map(|grant| grant.user);
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
