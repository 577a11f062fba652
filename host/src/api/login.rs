//! Signing in with Discord (OAuth2 authorization code with PKCE), signing
//! out, who am I, and the user's API tokens.
//!
//! 1. `GET /api/v1/auth/login[?return_to=/path]` makes a one-time `state`
//!    and a PKCE verifier and keeps them, with the return path, in a
//!    signed, short-lived (10 minutes) cookie in the browser that asked
//!    ([`super::sign_in_cookie`]): nothing is stored on the host until
//!    Discord sends the browser back. Then it redirects to Discord's
//!    authorize page. With the simulator, `as_user=ID` is passed on (sign
//!    in as that simulated person without the picker page).
//! 2. `GET /api/v1/auth/callback?code&state` opens the cookie (a state
//!    from another browser, or a forged or expired cookie, is refused),
//!    clears it, exchanges the code with the verifier and the client
//!    secret (Discord's code is single-use), reads the user and their
//!    guilds, and starts a session under a new id — whatever session cookie
//!    the browser had is ignored and ended (no fixation). Then back to the
//!    return path, which must be a path on this host (no open redirect).
//!
//! Both are rate-limited per network (`login_per_minute`: the address, or
//! its /64 for IPv6).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use super::access::{
    Caller, SESSION_COOKIE, Session, TOKEN_PREFIX, access_store, cookie, cookie_name, digest,
    end_session, random_secret, save_session, token,
};
use super::sign_in_cookie::{PendingSignIn, SignInSeal};
use super::{ApiError, ApiState};
use baseline_api_types::Me;

use crate::config::AuthConfig;
use crate::discord::oauth::{OAuthClient, OAuthError};
use crate::store::access::{TokenInfo, UserRecord};
use crate::store::now_millis;

/// The cookie that binds a sign-in's `state` to the browser that started it.
const LOGIN_COOKIE: &str = "baseline_login";
/// How long a sign-in may take from login to callback.
const LOGIN_TTL: Duration = Duration::from_secs(600);
/// Where the browser lands after signing in when it did not say: the
/// dashboard.
const DEFAULT_RETURN: &str = "/";

/// Sign-in as configured: the OAuth2 client and the session rules.
pub struct Login {
    oauth: OAuthClient,
    simulator: bool,
    secure_cookies: bool,
    developers: Vec<u64>,
    developer_guild: Option<(u64, u64)>,
    idle: Duration,
    max_age: Duration,
    refresh_every: Duration,
    per_minute: u32,
    seal: SignInSeal,
}

impl Login {
    /// Sign-in for `config` against Discord at `discord_base` (discord.com
    /// or the simulator) for application `application_id`, reached by
    /// browsers at `public_url`; `None` (with a warning) when no client
    /// secret is configured.
    pub fn new(
        config: &AuthConfig,
        discord_base: &str,
        application_id: u64,
        public_url: &str,
        simulator: Option<&str>,
    ) -> Option<Self> {
        let secret = config.client_secret.as_deref().or(simulator)?;
        let public_url = public_url.trim_end_matches('/');
        let redirect = format!("{public_url}/api/v1/auth/callback");
        let loopback = reqwest::Url::parse(public_url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
            .is_some_and(|h| h == "localhost" || h == "127.0.0.1" || h == "[::1]");
        if !loopback && public_url.starts_with("http://") {
            tracing::warn!(
                public_url,
                "sign-in cookies are Secure but the public URL is plain http: browsers will drop them; serve the API over https or set [auth] public_url"
            );
        }
        Some(Self {
            oauth: OAuthClient::new(
                discord_base,
                config.client_id.unwrap_or(application_id),
                secret,
                &redirect,
            ),
            simulator: simulator.is_some(),
            secure_cookies: !loopback,
            developers: config.developers.clone(),
            developer_guild: config.developer_guild.zip(config.developer_role),
            idle: Duration::from_secs(config.session_idle_minutes.max(1) * 60),
            max_age: Duration::from_secs(config.session_max_hours.max(1) * 3_600),
            refresh_every: Duration::from_secs(config.refresh_minutes.max(1) * 60),
            per_minute: config.login_per_minute,
            seal: SignInSeal::new(secret),
        })
    }

    /// A session's idle timeout.
    pub fn idle(&self) -> Duration {
        self.idle
    }

    /// A session's absolute lifetime, ms.
    pub fn max_age_ms(&self) -> i64 {
        self.max_age.as_millis() as i64
    }

    /// The page that adds the bot to `guild`.
    pub fn invite_url(&self, guild: u64) -> String {
        self.oauth.invite_url(guild)
    }

    /// Whether `session` should re-read Discord now.
    pub fn needs_refresh(&self, session: &Session, now: i64) -> bool {
        session.oauth.is_some()
            && now - session.refreshed_ms > self.refresh_every.as_millis() as i64
    }

    /// Re-read the user's guilds and team membership with their OAuth2
    /// token (refreshed when expired). `None`: Discord refused the grant
    /// (the session must end); Discord unreachable: the session goes on
    /// with what it knew.
    pub async fn refresh(
        &self,
        state: &ApiState,
        mut session: Session,
    ) -> Result<Option<Session>, ApiError> {
        let Some(mut tokens) = session.oauth.clone() else {
            return Ok(Some(session));
        };
        let now = now_millis();
        let result = async {
            if tokens.expires_at_ms <= now + 60_000 {
                let refresh = tokens
                    .refresh_token
                    .clone()
                    .ok_or_else(|| OAuthError::Refused("no refresh token".into()))?;
                tokens = self.oauth.refresh(&refresh).await?;
            }
            self.read_user(state, &tokens.access_token).await
        }
        .await;
        match result {
            Ok(record) => {
                session.guilds = managed(&record);
                session.username = record.username;
                session.developer = record.developer;
                session.refreshed_ms = now;
                session.oauth = Some(tokens);
                Ok(Some(session))
            }
            Err(OAuthError::Refused(why)) => {
                tracing::info!(
                    user = session.user_id,
                    why,
                    "Discord no longer accepts the sign-in; session ended"
                );
                // Its API tokens lose what Discord had said, too.
                if let Some(access) = access_store(state)
                    && let Err(error) = access.forget_discord(session.user_id).await
                {
                    tracing::warn!(%error, user = session.user_id, "could not mark what Discord said as stale");
                }
                Ok(None)
            }
            Err(OAuthError::Unavailable(why)) => {
                tracing::warn!(
                    user = session.user_id,
                    why,
                    "could not refresh a session from Discord; keeping what it knew"
                );
                session.refreshed_ms = now;
                // Tokens Discord rotated before the failure are the only
                // good ones now: the old refresh token is spent.
                session.oauth = Some(tokens);
                Ok(Some(session))
            }
        }
    }

    /// Who the token's user is, their guilds, and whether they are on the
    /// developer team; kept in the store for their API tokens.
    async fn read_user(
        &self,
        state: &ApiState,
        access_token: &str,
    ) -> Result<UserRecord, OAuthError> {
        let (user_id, username) = self.oauth.me(access_token).await?;
        let guilds = self.oauth.guilds(access_token).await?;
        let developer = self.is_developer(state, user_id).await;
        let record = UserRecord {
            user_id,
            username,
            developer,
            guilds,
            refreshed_at_ms: now_millis(),
        };
        if let Some(access) = access_store(state)
            && let Err(error) = access.save_user(&record).await
        {
            tracing::warn!(%error, user = user_id, "could not keep what Discord said about a user");
        }
        Ok(record)
    }

    /// On the developer team: listed, or holding the developer role in the
    /// developer guild (asked of Discord through the bot).
    async fn is_developer(&self, state: &ApiState, user: u64) -> bool {
        if self.developers.contains(&user) {
            return true;
        }
        let (Some((guild, role)), Some(link)) = (
            self.developer_guild,
            state.runtime.services().discord.clone(),
        ) else {
            return false;
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        match link
            .rest
            .call(
                None,
                http::Method::GET,
                &format!("/guilds/{guild}/members/{user}"),
                crate::discord::rest::Body::Empty,
                deadline,
            )
            .await
        {
            Ok(member) => member["roles"]
                .as_array()
                .is_some_and(|roles| roles.iter().any(|r| r.as_str() == Some(&role.to_string()))),
            Err(crate::discord::rest::RestError::NotFound(_)) => false,
            Err(error) => {
                tracing::warn!(%error, user, "could not check the developer role");
                false
            }
        }
    }

    /// Whether cookies are `Secure` (the public URL is not on loopback).
    pub fn secure_cookies(&self) -> bool {
        self.secure_cookies
    }

    /// A cookie for the whole site (`Path=/`, as `__Host-` names require).
    fn cookie(&self, name: &str, value: &str, max_age: Option<Duration>) -> HeaderValue {
        let mut text = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax");
        if let Some(age) = max_age {
            text.push_str(&format!("; Max-Age={}", age.as_secs()));
        }
        if self.secure_cookies {
            text.push_str("; Secure");
        }
        HeaderValue::from_str(&text).expect("cookie text is ASCII")
    }
}

/// The guilds Discord says the user may manage.
fn managed(record: &UserRecord) -> Vec<u64> {
    record
        .guilds
        .iter()
        .filter(|g| g.manages())
        .map(|g| g.id)
        .collect()
}

/// The routes under `/api/v1/auth`.
pub fn router() -> Router<ApiState> {
    Router::new()
        .route("/auth/login", get(login))
        .route("/auth/callback", get(callback))
        .route("/auth/me", get(me))
        .route("/auth/logout", post(logout))
        .route("/auth/tokens", get(list_tokens).post(create_token))
        .route("/auth/tokens/{id}", delete(revoke_token))
}

fn configured(state: &ApiState) -> Result<&Arc<Login>, ApiError> {
    state.login.as_ref().ok_or_else(|| {
        ApiError::Unavailable(
            "sign-in is not configured: set [auth] client_secret (BASELINE_OAUTH_SECRET)".into(),
        )
    })
}

/// Count a sign-in step for the caller's address; 429 over the limit.
async fn limit_login(
    state: &ApiState,
    login: &Login,
    from: std::net::SocketAddr,
) -> Result<(), ApiError> {
    if login.per_minute == 0 {
        return Ok(());
    }
    let minute = now_millis() / 60_000;
    let key = format!(
        "ratelimit:login:{}:{minute}",
        super::rate_limit::network(from.ip())
    );
    match state
        .runtime
        .services()
        .cache
        .increment(&key, 1, Duration::from_secs(120))
        .await
    {
        Ok(count) if count > login.per_minute as i64 => Err(ApiError::RateLimited),
        Ok(_) => Ok(()),
        Err(error) => {
            tracing::warn!(%error, "login rate limit cannot reach the cache; letting it through");
            Ok(())
        }
    }
}

/// A return path is a path on this host: `/…`, not `//host` or `/\host`
/// (which browsers read as another host), no scheme, no control characters.
pub fn local_path(path: &str) -> bool {
    path.starts_with('/')
        && !path.starts_with("//")
        && !path.starts_with("/\\")
        && path.len() <= 512
        && !path.chars().any(|c| c.is_control() || c == '\\')
}

#[derive(Deserialize, utoipa::IntoParams)]
struct LoginQuery {
    /// Where to go after signing in: a path on this host.
    return_to: Option<String>,
    /// Simulator only: sign in as this simulated user.
    as_user: Option<u64>,
}

/// Start signing in with Discord.
#[utoipa::path(get, path = "/api/v1/auth/login", params(LoginQuery),
    responses((status = 303, description = "to Discord's authorize page"), (status = 400), (status = 429), (status = 503)))]
async fn login(
    State(state): State<ApiState>,
    ConnectInfo(from): ConnectInfo<std::net::SocketAddr>,
    Query(query): Query<LoginQuery>,
) -> Result<Response, ApiError> {
    let login = configured(&state)?;
    limit_login(&state, login, from).await?;
    let return_to = query.return_to.unwrap_or_else(|| DEFAULT_RETURN.into());
    if !local_path(&return_to) {
        return Err(ApiError::BadRequest(
            "return_to must be a path on this site (starting with one /)".into(),
        ));
    }
    let state_id = random_secret();
    let verifier = format!("{}{}", random_secret(), random_secret());
    let pending = login.seal.seal(&PendingSignIn {
        state: state_id.clone(),
        verifier: verifier.clone(),
        return_to,
        expires_ms: now_millis() + LOGIN_TTL.as_millis() as i64,
    });
    let challenge =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(&verifier));
    let as_user = query.as_user.map(|u| u.to_string());
    let extra: Vec<(&str, &str)> = match (&as_user, login.simulator) {
        (Some(user), true) => vec![("as_user", user.as_str())],
        _ => Vec::new(),
    };
    let target = login.oauth.authorize_url(&state_id, &challenge, &extra);
    let mut response = (StatusCode::SEE_OTHER, [(header::LOCATION, target)]).into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        login.cookie(
            &cookie_name(&state, LOGIN_COOKIE),
            &pending,
            Some(LOGIN_TTL),
        ),
    );
    Ok(response)
}

#[derive(Deserialize, utoipa::IntoParams)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    /// Set by Discord when the person declined.
    error: Option<String>,
}

/// Discord sends the browser back here.
#[utoipa::path(get, path = "/api/v1/auth/callback", params(CallbackQuery),
    responses((status = 303, description = "signed in; to the return path"), (status = 400), (status = 401), (status = 429), (status = 503)))]
async fn callback(
    State(state): State<ApiState>,
    ConnectInfo(from): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    Query(query): Query<CallbackQuery>,
) -> Result<Response, ApiError> {
    let login = configured(&state)?;
    limit_login(&state, login, from).await?;
    if let Some(error) = query.error {
        return Err(ApiError::SignInFailed(format!(
            "Discord did not sign you in: {error}"
        )));
    }
    let (Some(code), Some(state_id)) = (query.code, query.state) else {
        return Err(ApiError::BadRequest(
            "the callback needs code and state".into(),
        ));
    };
    let cache = state.runtime.services().cache.clone();
    let stale = || {
        ApiError::BadRequest("this sign-in link is unknown, used or expired; sign in again".into())
    };
    if state_id.len() > 64 {
        return Err(stale());
    }
    // The browser that started it: its signed cookie names this state.
    let Some(pending) = cookie(&headers, &cookie_name(&state, LOGIN_COOKIE))
        .and_then(|value| login.seal.open(&value))
    else {
        return Err(ApiError::BadRequest(
            "this sign-in was started in another browser, or too long ago; sign in again".into(),
        ));
    };
    if pending.state != state_id {
        return Err(stale());
    }
    let tokens = login
        .oauth
        .exchange(&code, &pending.verifier)
        .await
        .map_err(|e| match e {
            OAuthError::Refused(why) => ApiError::SignInFailed(format!(
                "Discord refused the sign-in ({why}); sign in again"
            )),
            OAuthError::Unavailable(why) => {
                ApiError::Unavailable(format!("Discord is unavailable: {why}"))
            }
        })?;
    let record = login
        .read_user(&state, &tokens.access_token)
        .await
        .map_err(|e| ApiError::Unavailable(format!("could not read your Discord account: {e}")))?;
    // A session cookie the browser came with is ended, never reused.
    if let Some(old) = cookie(&headers, &cookie_name(&state, SESSION_COOKIE)) {
        let _ = end_session(cache.as_ref(), &old).await;
    }
    let now = now_millis();
    let session = Session {
        user_id: record.user_id,
        username: record.username.clone(),
        guilds: managed(&record),
        developer: record.developer,
        created_ms: now,
        touched_ms: now,
        refreshed_ms: now,
        oauth: Some(tokens),
    };
    let id = random_secret();
    save_session(cache.as_ref(), &id, &session, login.idle()).await?;
    tracing::info!(
        user = record.user_id,
        developer = record.developer,
        "signed in"
    );
    let mut response = (
        StatusCode::SEE_OTHER,
        [(header::LOCATION, pending.return_to)],
    )
        .into_response();
    let headers = response.headers_mut();
    headers.append(
        header::SET_COOKIE,
        login.cookie(&cookie_name(&state, SESSION_COOKIE), &id, None),
    );
    headers.append(
        header::SET_COOKIE,
        login.cookie(&cookie_name(&state, LOGIN_COOKIE), "", Some(Duration::ZERO)),
    );
    Ok(response)
}

/// Who is signed in.
#[utoipa::path(get, path = "/api/v1/auth/me", responses((status = 200, body = Me), (status = 401)))]
async fn me(State(state): State<ApiState>, Caller(session): Caller) -> Json<Me> {
    let max = state.login.as_ref().map(|l| l.max_age_ms()).unwrap_or(0);
    Json(Me {
        user_id: session.user_id.to_string(),
        username: session.username,
        developer: session.developer,
        manages: session.guilds.iter().map(u64::to_string).collect(),
        expires_at_ms: (session.created_ms > 0).then_some(session.created_ms + max),
    })
}

/// Sign out: the session ends and its cookie is cleared.
#[utoipa::path(post, path = "/api/v1/auth/logout", responses((status = 204), (status = 401), (status = 403)))]
async fn logout(
    State(state): State<ApiState>,
    headers: HeaderMap,
    _: Caller,
) -> Result<Response, ApiError> {
    let id = token(&state, &headers).ok_or(ApiError::Unauthorized)?;
    if id.starts_with(TOKEN_PREFIX) {
        return Err(ApiError::BadRequest(
            "an API token is revoked with DELETE /api/v1/auth/tokens/{id}, not signed out".into(),
        ));
    }
    end_session(state.runtime.services().cache.as_ref(), &id).await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    if let Some(login) = &state.login {
        response.headers_mut().append(
            header::SET_COOKIE,
            login.cookie(
                &cookie_name(&state, SESSION_COOKIE),
                "",
                Some(Duration::ZERO),
            ),
        );
    }
    Ok(response)
}

/// An API token as listed.
#[derive(Serialize, utoipa::ToSchema)]
pub struct TokenView {
    /// Its id (for revoking).
    id: String,
    /// Its name.
    name: String,
    /// Made at, ms since the epoch.
    created_at_ms: i64,
    /// Last used at, ms since the epoch.
    last_used_at_ms: Option<i64>,
    /// Stops working at, ms since the epoch.
    expires_at_ms: Option<i64>,
}

impl From<TokenInfo> for TokenView {
    fn from(t: TokenInfo) -> Self {
        Self {
            id: t.id,
            name: t.name,
            created_at_ms: t.created_at_ms,
            last_used_at_ms: t.last_used_at_ms,
            expires_at_ms: t.expires_at_ms,
        }
    }
}

/// A new API token.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewToken {
    /// What it is for (1–64 characters).
    name: String,
    /// Days until it stops working (absent: never).
    expires_in_days: Option<u32>,
}

/// A token just made: the only time its secret is shown.
#[derive(Serialize, utoipa::ToSchema)]
pub struct CreatedToken {
    /// Its id.
    id: String,
    /// The secret: `Authorization: Bearer <token>`.
    token: String,
}

fn tokens_store(state: &ApiState) -> Result<crate::store::access::AccessStore, ApiError> {
    access_store(state).ok_or_else(|| ApiError::Unavailable("API tokens need the database".into()))
}

/// The caller's API tokens.
#[utoipa::path(get, path = "/api/v1/auth/tokens", responses((status = 200, body = Vec<TokenView>), (status = 401)))]
async fn list_tokens(
    State(state): State<ApiState>,
    Caller(session): Caller,
) -> Result<Json<Vec<TokenView>>, ApiError> {
    let tokens = tokens_store(&state)?.tokens(session.user_id).await?;
    Ok(Json(tokens.into_iter().map(TokenView::from).collect()))
}

/// Make an API token for scripts; it acts as the caller.
#[utoipa::path(post, path = "/api/v1/auth/tokens", request_body = NewToken,
    responses((status = 201, body = CreatedToken), (status = 400), (status = 401), (status = 403)))]
async fn create_token(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Caller(session): Caller,
    Json(new): Json<NewToken>,
) -> Result<(StatusCode, Json<CreatedToken>), ApiError> {
    // A leaked token must not be able to outlive its revocation.
    if token(&state, &headers).is_some_and(|t| t.starts_with(TOKEN_PREFIX)) {
        return Err(ApiError::Forbidden(
            "API tokens are made from a signed-in session, not with another token".into(),
        ));
    }
    let name = new.name.trim();
    if name.is_empty() || name.chars().count() > 64 {
        return Err(ApiError::BadRequest(
            "a token's name is 1 to 64 characters".into(),
        ));
    }
    let store = tokens_store(&state)?;
    if store.tokens(session.user_id).await?.len() >= 25 {
        return Err(ApiError::BadRequest(
            "at most 25 API tokens per user; revoke one first".into(),
        ));
    }
    let secret = format!("{TOKEN_PREFIX}{}{}", random_secret(), random_secret());
    let expires = new
        .expires_in_days
        .map(|days| now_millis() + i64::from(days.clamp(1, 3_650)) * 86_400_000);
    let id = store
        .create_token(session.user_id, name, &digest(&secret), expires)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedToken { id, token: secret }),
    ))
}

/// Revoke one of the caller's API tokens.
#[utoipa::path(delete, path = "/api/v1/auth/tokens/{id}", params(("id" = String, Path)),
    responses((status = 204), (status = 401), (status = 403), (status = 404)))]
async fn revoke_token(
    State(state): State<ApiState>,
    Caller(session): Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if tokens_store(&state)?
        .revoke_token(session.user_id, &id)
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound(format!("you have no API token `{id}`")))
    }
}

#[cfg(test)]
mod tests {
    use super::local_path;

    #[test]
    fn only_paths_on_this_host_are_return_paths() {
        for good in ["/", "/guilds/1", "/api/v1/auth/me?x=1"] {
            assert!(local_path(good), "{good}");
        }
        for bad in [
            "https://evil.example",
            "//evil.example",
            "/\\evil.example",
            "/a\\b",
            "evil",
            "",
            "/\nSet-Cookie: x",
            "javascript:alert(1)",
        ] {
            assert!(!local_path(bad), "{bad}");
        }
    }
}
