//! Who is calling and what they may touch. Sessions live in the cache under
//! `session:<token>`; the login flow (Discord OAuth2) that creates them comes
//! with the auth issue, tests create them with [`create_session`]. The token
//! comes from the `baseline_session` cookie or an `Authorization: Bearer` header.

use std::time::Duration;

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use serde::{Deserialize, Serialize};

use super::{ApiError, ApiState};
use crate::cache::Cache;

/// A signed-in user and what they may manage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// The Discord user.
    pub user_id: u64,
    /// Guilds the user may manage.
    pub guilds: Vec<u64>,
    /// Member of the bot's developer team (operator routes, every guild).
    pub developer: bool,
}

/// Store a session and return its token.
pub async fn create_session(
    cache: &dyn Cache,
    session: &Session,
    ttl: Duration,
) -> Result<String, ApiError> {
    let token = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let value = serde_json::to_vec(session).map_err(|e| ApiError::Internal(e.to_string()))?;
    cache
        .set(&format!("session:{token}"), value, ttl)
        .await
        .map_err(|e| ApiError::service("cache", e))?;
    Ok(token)
}

/// The session token a request carries: `Authorization: Bearer …` or the
/// `baseline_session` cookie.
pub(crate) fn token(headers: &axum::http::HeaderMap) -> Option<String> {
    if let Some(bearer) = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    {
        return Some(bearer.trim().to_string());
    }
    headers
        .get_all("cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            pair.trim()
                .strip_prefix("baseline_session=")
                .map(str::to_string)
        })
}

/// The session `token` names, if it is a live one. Tokens longer than 128
/// characters are never looked up.
pub(crate) async fn session(
    cache: &dyn Cache,
    token: &str,
) -> Result<Option<Session>, crate::cache::CacheFailure> {
    if token.is_empty() || token.len() > 128 {
        return Ok(None);
    }
    let stored = cache.get(&format!("session:{token}")).await?;
    Ok(stored.and_then(|bytes| serde_json::from_slice(&bytes).ok()))
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
        let token = token(&parts.headers).ok_or(ApiError::Unauthorized)?;
        let cache = state.runtime.services().cache.clone();
        let session = session(cache.as_ref(), &token)
            .await
            .map_err(|e| ApiError::service("cache", e))?
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

/// The caller may act on the guild in the path (`{guild_id}`); 403 otherwise.
pub struct GuildAccess {
    /// The session.
    pub session: Session,
    /// The guild from the path, checked.
    pub guild_id: u64,
}

#[derive(Deserialize)]
struct GuildPath {
    guild_id: String,
}

impl FromRequestParts<ApiState> for GuildAccess {
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
        if !session.developer && !session.guilds.contains(&guild_id) {
            return Err(ApiError::Forbidden(format!(
                "you may not manage guild {guild_id}"
            )));
        }
        Ok(GuildAccess { session, guild_id })
    }
}
