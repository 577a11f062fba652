//! Who is calling and what they may touch.
//!
//! **Sessions** live in the cache under `session:<SHA-256 of the id>` (a
//! cache dump holds no usable id), made by the sign-in flow
//! ([`super::login`]) — or by [`create_session`] in tests. The id comes
//! from the `baseline_session` cookie or `Authorization: Bearer`. A
//! session ends when unused for `session_idle_minutes`, and
//! `session_max_hours` after sign-in whatever its use.
//! **API tokens** (`bl_…`, made by the user, stored hashed) act as their
//! user: stored roles always, what Discord said at the last sign-in while
//! it is recent.
//!
//! **Tiers** per guild, the highest that applies: the stored role
//! (`store::access`: the owner and delegated tiers), admin where Discord
//! says the user may manage the guild (owner, Administrator, Manage
//! Server), viewer everywhere for the developer team. Every guild-scoped
//! route takes [`GuildViewer`], [`GuildEditor`] or [`GuildAdmin`], so a
//! handler cannot forget the check, and the tier is read per request: a
//! revoked grant takes effect on the next request.

use std::time::Duration;

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use super::{ApiError, ApiState};
use crate::cache::Cache;
use crate::discord::oauth::Tokens;
use crate::store::access::{AccessStore, Tier};
use crate::store::now_millis;

/// The session cookie (`__Host-` prefixed when cookies are `Secure`).
pub const SESSION_COOKIE: &str = "baseline_session";

/// A signed-in user and what Discord last said about them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// The Discord user.
    pub user_id: u64,
    /// Their username.
    #[serde(default)]
    pub username: String,
    /// Guilds the user may manage on Discord (owner, Administrator, Manage
    /// Server) as of the last refresh: admin there.
    pub guilds: Vec<u64>,
    /// On the bot's developer team (operator routes, every guild to read).
    pub developer: bool,
    /// Signed in at, ms since the epoch (0: a test's session, no limit).
    #[serde(default)]
    pub created_ms: i64,
    /// Last used at, ms since the epoch.
    #[serde(default)]
    pub touched_ms: i64,
    /// Discord last read at, ms since the epoch.
    #[serde(default)]
    pub refreshed_ms: i64,
    /// The user's OAuth2 tokens (server side only; absent for API tokens
    /// and tests).
    #[serde(default)]
    pub oauth: Option<Tokens>,
}

/// SHA-256 of a secret, hex: how session ids and API tokens are stored.
pub fn digest(secret: &str) -> String {
    hex::encode(sha2::Sha256::digest(secret.as_bytes()))
}

/// A new random secret: 128 bits from the operating system, hex.
pub fn random_secret() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the operating system's random source");
    hex::encode(bytes)
}

fn session_key(id: &str) -> String {
    format!("session:{}", digest(id))
}

/// Store a session for `ttl` (its idle timeout) and return its id.
pub async fn create_session(
    cache: &dyn Cache,
    session: &Session,
    ttl: Duration,
) -> Result<String, ApiError> {
    let id = random_secret();
    save_session(cache, &id, session, ttl).await?;
    Ok(id)
}

/// Write `session` under `id` for `ttl`.
pub(crate) async fn save_session(
    cache: &dyn Cache,
    id: &str,
    session: &Session,
    ttl: Duration,
) -> Result<(), ApiError> {
    let value = serde_json::to_vec(session).map_err(|e| ApiError::Internal(e.to_string()))?;
    cache
        .set(&session_key(id), value, ttl)
        .await
        .map_err(|e| ApiError::service("cache", e))
}

/// Rewrite the session at `key` only while it exists; false when it ended.
async fn replace_session(
    cache: &dyn Cache,
    key: &str,
    session: &Session,
    ttl: Duration,
) -> Result<bool, ApiError> {
    let value = serde_json::to_vec(session).map_err(|e| ApiError::Internal(e.to_string()))?;
    cache
        .replace(key, value, ttl)
        .await
        .map_err(|e| ApiError::service("cache", e))
}

/// End the session `id`.
pub(crate) async fn end_session(cache: &dyn Cache, id: &str) -> Result<(), ApiError> {
    cache
        .delete(&session_key(id))
        .await
        .map(|_| ())
        .map_err(|e| ApiError::service("cache", e))
}

/// The name a cookie has on this site: `__Host-NAME` when cookies are
/// `Secure` (the browser then refuses one set by a sibling subdomain or for
/// another path), `NAME` on loopback over plain http.
pub fn cookie_name(state: &ApiState, name: &str) -> String {
    match &state.login {
        Some(login) if login.secure_cookies() => format!("__Host-{name}"),
        _ => name.to_string(),
    }
}

/// The credential a request carries: `Authorization: Bearer …` or the
/// session cookie.
pub(crate) fn token(state: &ApiState, headers: &axum::http::HeaderMap) -> Option<String> {
    if let Some(bearer) = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    {
        return Some(bearer.trim().to_string());
    }
    cookie(headers, &cookie_name(state, SESSION_COOKIE))
}

/// The value of cookie `name`.
pub(crate) fn cookie(headers: &axum::http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all("cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (key, value) = pair.trim().split_once('=')?;
            (key == name).then(|| value.to_string())
        })
}

/// How long a session's refresh lock lives at most; the refresh itself is
/// cut at [`REFRESH_WITHIN`], well before, so the lock is always released
/// by the request that took it.
const REFRESH_LOCK: Duration = Duration::from_secs(120);
/// The most a session refresh may take (three calls to Discord and a write).
const REFRESH_WITHIN: Duration = Duration::from_secs(60);

/// API tokens start with this, so they are told apart from session ids.
pub const TOKEN_PREFIX: &str = "bl_";

/// Whether `token` has the shape of an API token the host makes: the
/// prefix and 64 lowercase hex digits. Anything else is refused before the
/// store is asked.
pub fn well_formed_token(token: &str) -> bool {
    token.strip_prefix(TOKEN_PREFIX).is_some_and(|secret| {
        secret.len() == 64
            && secret
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// The session (or API token's user) `token` names, if it is live. Tokens
/// longer than 128 characters are never looked up.
pub(crate) async fn session(state: &ApiState, token: &str) -> Result<Option<Session>, ApiError> {
    if token.is_empty() || token.len() > 128 {
        return Ok(None);
    }
    if token.starts_with(TOKEN_PREFIX) {
        if !well_formed_token(token) {
            return Ok(None);
        }
        return token_session(state, token).await;
    }
    let cache = state.runtime.services().cache.clone();
    let stored = cache
        .get(&session_key(token))
        .await
        .map_err(|e| ApiError::service("cache", e))?;
    let Some(mut session) = stored.and_then(|bytes| serde_json::from_slice::<Session>(&bytes).ok())
    else {
        return Ok(None);
    };
    let Some(login) = &state.login else {
        // Without sign-in configured (tests), sessions are taken as stored.
        return Ok(Some(session));
    };
    let now = now_millis();
    if session.created_ms > 0 && now - session.created_ms > login.max_age_ms() {
        end_session(cache.as_ref(), token).await?;
        return Ok(None);
    }
    let key = session_key(token);
    if login.needs_refresh(&session, now) {
        // One refresh at a time per session (Discord rotates refresh
        // tokens: a second one racing would be refused and end the
        // session); the others go on with what the session knows. The lock
        // is held until the refreshed session is stored, and whoever takes
        // it reads the session again first: a request that read it before
        // the last refresh was stored must not refresh it a second time.
        let lock = format!("session-refresh:{}", digest(token));
        let first = cache
            .increment(&lock, 1, REFRESH_LOCK)
            .await
            .map_err(|e| ApiError::service("cache", e))?
            == 1;
        if first {
            // On a task of its own: a request dropped half-way (the client
            // went away) must not lose the tokens Discord just rotated.
            let (state, login, cache, key, token) = (
                state.clone(),
                login.clone(),
                cache.clone(),
                key.clone(),
                token.to_string(),
            );
            let refreshed = tokio::spawn(async move {
                let refreshed = tokio::time::timeout(
                    REFRESH_WITHIN,
                    refresh_locked(&state, &login, cache.as_ref(), &key, &token),
                )
                .await
                .unwrap_or_else(|_| {
                    tracing::warn!(
                        "a session refresh took too long; the session goes on as it was"
                    );
                    Err(ApiError::Unavailable("Discord is slow to answer".into()))
                });
                let _ = cache.delete(&lock).await;
                refreshed
            })
            .await
            .map_err(|e| ApiError::Internal(format!("the session refresh failed: {e}")))?;
            match refreshed {
                Ok(Some(fresh)) => session = fresh,
                Ok(None) => return Ok(None),
                // Discord or the cache unreachable: go on with what the
                // session knows.
                Err(_) => {}
            }
        }
    } else if now - session.touched_ms > 60_000 {
        // Keep it alive while it is used (one write a minute at most) —
        // but never bring back a session ended meanwhile (sign-out).
        session.touched_ms = now;
        if !replace_session(cache.as_ref(), &key, &session, login.idle()).await? {
            return Ok(None);
        }
    }
    Ok(Some(session))
}

/// The refresh of session `token` (stored at `key`), by the holder of its
/// refresh lock: read again, refreshed if still due, stored. `None`: the
/// session is gone (signed out meanwhile, or Discord refused the grant,
/// which ends it).
async fn refresh_locked(
    state: &ApiState,
    login: &super::login::Login,
    cache: &dyn Cache,
    key: &str,
    token: &str,
) -> Result<Option<Session>, ApiError> {
    let stored = cache
        .get(key)
        .await
        .map_err(|e| ApiError::service("cache", e))?;
    let Some(session) = stored.and_then(|bytes| serde_json::from_slice::<Session>(&bytes).ok())
    else {
        return Ok(None);
    };
    let now = now_millis();
    if !login.needs_refresh(&session, now) {
        return Ok(Some(session));
    }
    let Some(mut fresh) = login.refresh(state, session).await? else {
        // Discord no longer accepts the user's grant: signed out.
        end_session(cache, token).await?;
        return Ok(None);
    };
    fresh.touched_ms = now;
    if !replace_session(cache, key, &fresh, login.idle()).await? {
        return Ok(None);
    }
    Ok(Some(fresh))
}

/// The user behind an API token. Stored roles (ownership, grants) always
/// apply; what Discord said at the user's last sign-in (Manage Server, the
/// developer role) applies while it is recent — as long as an unused
/// session would live — and not after Discord refused the user's grant.
async fn token_session(state: &ApiState, token: &str) -> Result<Option<Session>, ApiError> {
    let Some(access) = access_store(state) else {
        return Ok(None);
    };
    let Some(user_id) = access.token_user(&digest(token)).await? else {
        return Ok(None);
    };
    let mut session = Session {
        user_id,
        ..Session::default()
    };
    if let Some(record) = access.user(user_id).await? {
        let window = state
            .login
            .as_ref()
            .map_or(i64::MAX, |login| login.idle().as_millis() as i64);
        session.username = record.username;
        if record.refreshed_at_ms > 0 && now_millis() - record.refreshed_at_ms <= window {
            session.guilds = record
                .guilds
                .iter()
                .filter(|g| g.manages())
                .map(|g| g.id)
                .collect();
            session.developer = record.developer;
        }
    }
    Ok(Some(session))
}

/// The access store, when the host has a database.
pub(crate) fn access_store(state: &ApiState) -> Option<AccessStore> {
    state
        .runtime
        .services()
        .database
        .clone()
        .map(AccessStore::new)
}

/// The caller's session; 401 without one. The rate limiter, which looks
/// the session up first, leaves it in the request's extensions.
#[derive(Clone)]
pub struct Caller(pub Session);

impl FromRequestParts<ApiState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, ApiError> {
        if let Some(Caller(session)) = parts.extensions.get::<Caller>() {
            return Ok(Caller(session.clone()));
        }
        let token = token(state, &parts.headers).ok_or(ApiError::Unauthorized)?;
        let session = session(state, &token)
            .await?
            .ok_or(ApiError::Unauthorized)?;
        Ok(Caller(session))
    }
}

/// A developer of the bot; 403 for anyone else.
pub struct Developer(pub Session);

impl FromRequestParts<ApiState> for Developer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, ApiError> {
        let Caller(session) = Caller::from_request_parts(parts, state).await?;
        if !session.developer {
            return Err(ApiError::Forbidden(
                "only the bot's developer team may do this".into(),
            ));
        }
        Ok(Developer(session))
    }
}

/// The tier `session` has in `guild`, if any: the highest of the stored
/// role, Discord's "may manage" and the developer team's read access.
pub async fn tier_in(
    state: &ApiState,
    session: &Session,
    guild: u64,
) -> Result<Option<Tier>, ApiError> {
    let mut tier = session.developer.then_some(Tier::Viewer);
    if session.guilds.contains(&guild) {
        tier = tier.max(Some(Tier::Admin));
    }
    if let Some(access) = access_store(state)
        && let Some(role) = access.role(guild, session.user_id).await?
    {
        tier = tier.max(Some(role.tier()));
    }
    Ok(tier)
}

/// The caller has at least tier `T` (0 viewer, 1 editor, 2 admin) in the
/// guild of the path (`{guild_id}`): 401 signed out, 403 otherwise.
pub struct GuildAccess<const T: u8> {
    /// The session.
    pub session: Session,
    /// The guild from the path, checked.
    pub guild_id: u64,
    /// The caller's tier there (at least `T`).
    pub tier: Tier,
}

/// Read access to the guild of the path.
pub type GuildViewer = GuildAccess<0>;
/// Settings and cog switches in the guild of the path.
pub type GuildEditor = GuildAccess<1>;
/// Access management in the guild of the path.
pub type GuildAdmin = GuildAccess<2>;

/// The tier a `GuildAccess<T>` needs.
pub const fn needed(t: u8) -> Tier {
    match t {
        0 => Tier::Viewer,
        1 => Tier::Editor,
        _ => Tier::Admin,
    }
}

#[derive(Deserialize)]
struct GuildPath {
    guild_id: String,
}

impl<const T: u8> FromRequestParts<ApiState> for GuildAccess<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, ApiError> {
        let Caller(session) = Caller::from_request_parts(parts, state).await?;
        let Path(path) = Path::<GuildPath>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::BadRequest("the path has no guild id".into()))?;
        let guild_id: u64 = path
            .guild_id
            .parse()
            .map_err(|_| ApiError::BadRequest(format!("`{}` is not a guild id", path.guild_id)))?;
        let need = needed(T);
        match tier_in(state, &session, guild_id).await? {
            Some(tier) if tier >= need => Ok(GuildAccess {
                session,
                guild_id,
                tier,
            }),
            Some(tier) => Err(ApiError::Forbidden(format!(
                "this needs the {} tier in guild {guild_id}; you have {}",
                need.name(),
                tier.name()
            ))),
            None => Err(ApiError::Forbidden(format!(
                "you may not manage guild {guild_id}"
            ))),
        }
    }
}
