//! The guilds a signed-in user may manage, and who has access to each:
//! authorized users with their tier, grants and revocations by admins
//! (never above the granter's own tier, never the last admin), and the
//! history of every change.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde::Deserialize;

use super::access::{Caller, GuildAdmin, GuildViewer, access_store, tier_in};
use super::bot_calls::MEMBER_LOOKUPS;
use super::{ApiError, ApiState};
use baseline_api_types::{
    AccessChangeView, AuthorizedView, ChannelView, GrantRequest, GuildView, MemberView, RoleView,
};

use crate::store::access::{AccessStore, Refusal, Role};
use crate::store::guilds::GuildStore;

/// The routes.
pub fn router() -> Router<ApiState> {
    Router::new()
        .route("/guilds", get(list))
        .route(
            "/guilds/{guild_id}/authorized-users",
            get(authorized).post(grant),
        )
        .route("/guilds/{guild_id}/authorized-users/history", get(history))
        .route(
            "/guilds/{guild_id}/authorized-users/{user_id}",
            delete(revoke),
        )
        .route("/guilds/{guild_id}/members", get(members))
        .route("/guilds/{guild_id}/channels", get(channels))
        .route("/guilds/{guild_id}/roles", get(roles))
}

fn store(state: &ApiState) -> Result<AccessStore, ApiError> {
    access_store(state)
        .map(|store| store.with_max_grants(state.runtime.config().auth.max_grants_per_guild))
        .ok_or_else(|| ApiError::Unavailable("access needs the database".into()))
}

/// The guilds the caller may manage, with their tier, whether the bot is
/// in each, and an invite link where it is not. The developer team sees
/// every guild the bot is in.
#[utoipa::path(get, path = "/api/v1/guilds", responses((status = 200, body = [GuildView]), (status = 401)))]
async fn list(
    State(state): State<ApiState>,
    Caller(session): Caller,
) -> Result<Json<Vec<GuildView>>, ApiError> {
    let database = state.runtime.services().database.clone();
    let known = match &database {
        Some(db) => GuildStore::new(db.clone()).list().await?,
        None => Vec::new(),
    };
    let mut ids: Vec<u64> = session.guilds.clone();
    if let Some(access) = access_store(&state) {
        ids.extend(
            access
                .roles_of(session.user_id)
                .await?
                .into_iter()
                .map(|(g, _)| g),
        );
    }
    if session.developer {
        ids.extend(known.iter().filter(|g| g.active).map(|g| g.guild_id));
    }
    ids.sort_unstable();
    ids.dedup();
    // Names Discord gave at sign-in, for guilds the bot is not in.
    let discord_names = match (access_store(&state), session.user_id) {
        (Some(access), user) => access
            .user(user)
            .await?
            .map(|u| u.guilds)
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    let mut views = Vec::new();
    for id in ids {
        let Some(tier) = tier_in(&state, &session, id).await? else {
            continue;
        };
        let record = known.iter().find(|g| g.guild_id == id);
        let bot_present = record.is_some_and(|g| g.active);
        let name = record
            .map(|g| g.name.clone())
            .or_else(|| {
                discord_names
                    .iter()
                    .find(|g| g.id == id)
                    .map(|g| g.name.clone())
            })
            .unwrap_or_default();
        views.push(GuildView {
            id: id.to_string(),
            name,
            tier,
            bot_present,
            invite_url: match (&state.login, bot_present) {
                (Some(login), false) => Some(login.invite_url(id)),
                _ => None,
            },
        });
    }
    Ok(Json(views))
}

/// The authorized users of a guild.
#[utoipa::path(get, path = "/api/v1/guilds/{guild_id}/authorized-users",
    params(("guild_id" = String, Path)),
    extensions(("x-tier" = json!("viewer"))),
    responses((status = 200, body = [AuthorizedView]), (status = 401), (status = 403)))]
async fn authorized(
    access: GuildViewer,
    State(state): State<ApiState>,
) -> Result<Json<Vec<AuthorizedView>>, ApiError> {
    let list = store(&state)?.list(access.guild_id).await?;
    let ids: Vec<u64> = list.iter().map(|a| a.user_id).collect();
    let names = names(&state, access.session.user_id, access.guild_id, &ids).await?;
    Ok(Json(
        list.into_iter()
            .map(|a| AuthorizedView {
                username: names.get(&a.user_id).cloned(),
                user_id: a.user_id.to_string(),
                tier: a.role.tier(),
                owner: a.role == Role::Owner,
                granted_by: a.granted_by.map(|b| b.to_string()),
            })
            .collect(),
    ))
}

/// How long a request the API makes through the bot may take.
pub(super) const BOT_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Usernames of `users`: those who signed in here from the store (one
/// query), the rest as the bot sees them in `guild` — remembered, absent
/// members too, and looked up within the API's Discord budget
/// ([`super::bot_calls`]) on behalf of `viewer`, at most
/// [`MEMBER_LOOKUPS`] for one answer. Unknown ones are left out; a failed
/// or unaffordable lookup is not an error (ids still show).
async fn names(
    state: &ApiState,
    viewer: u64,
    guild: u64,
    users: &[u64],
) -> Result<std::collections::HashMap<u64, String>, ApiError> {
    let mut names = store(state)?.usernames(users).await?;
    if state.runtime.services().discord.is_none() {
        return Ok(names);
    }
    if bot_is_in(state, guild).await.is_err() {
        return Ok(names);
    }
    let calls = &state.bot_calls;
    let mut missing = Vec::new();
    let unknown: Vec<u64> = users
        .iter()
        .copied()
        .filter(|u| !names.contains_key(u))
        .collect();
    for user in unknown {
        match calls.name(guild, user) {
            Some(Some(name)) => {
                names.insert(user, name);
            }
            Some(None) => {}
            None if missing.len() < MEMBER_LOOKUPS as usize && calls.admit(viewer) => {
                missing.push(user)
            }
            None => {}
        }
    }
    let lookups = missing.iter().map(|user| async move {
        let path = format!("/guilds/{guild}/members/{user}");
        let wait = std::time::Duration::from_secs(3);
        match through_bot_admitted::<twilight_model::guild::Member>(state, &path, wait).await {
            Ok(member) => {
                calls.remember(guild, *user, Some(member.user.name.clone()));
                Some((*user, member.user.name))
            }
            Err(ApiError::NotFound(_)) => {
                calls.remember(guild, *user, None);
                None
            }
            Err(_) => None,
        }
    });
    names.extend(
        futures_util::future::join_all(lookups)
            .await
            .into_iter()
            .flatten(),
    );
    Ok(names)
}

fn refusal(refusal: Refusal) -> ApiError {
    match refusal {
        Refusal::UnknownGuild => ApiError::NotFound(refusal.to_string()),
        Refusal::LastAdmin | Refusal::Owner => ApiError::Forbidden(refusal.to_string()),
        Refusal::TooMany(_) => ApiError::Forbidden(refusal.to_string()),
    }
}

fn user_id(text: &str) -> Result<u64, ApiError> {
    text.parse()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| ApiError::BadRequest(format!("`{text}` is not a user id")))
}

/// Give someone a tier in the guild (or change theirs). Nobody grants
/// above their own tier.
#[utoipa::path(post, path = "/api/v1/guilds/{guild_id}/authorized-users",
    params(("guild_id" = String, Path)), request_body = GrantRequest,
    extensions(("x-tier" = json!("admin"))),
    responses((status = 204), (status = 400), (status = 401), (status = 403), (status = 404)))]
async fn grant(
    access: GuildAdmin,
    State(state): State<ApiState>,
    Json(request): Json<GrantRequest>,
) -> Result<StatusCode, ApiError> {
    let user = user_id(&request.user_id)?;
    if request.tier > access.tier {
        return Err(ApiError::Forbidden(format!(
            "you cannot grant {} with the {} tier",
            request.tier.name(),
            access.tier.name()
        )));
    }
    store(&state)?
        .change(
            access.guild_id,
            access.session.user_id,
            user,
            Some(request.tier),
        )
        .await?
        .map_err(refusal)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct UserPath {
    #[allow(dead_code)]
    guild_id: String,
    user_id: String,
}

/// Remove someone's delegated access. The owner's access follows Discord;
/// the last admin stays.
#[utoipa::path(delete, path = "/api/v1/guilds/{guild_id}/authorized-users/{user_id}",
    params(("guild_id" = String, Path), ("user_id" = String, Path)),
    extensions(("x-tier" = json!("admin"))),
    responses((status = 204), (status = 401), (status = 403), (status = 404)))]
async fn revoke(
    access: GuildAdmin,
    State(state): State<ApiState>,
    Path(path): Path<UserPath>,
) -> Result<StatusCode, ApiError> {
    let user = user_id(&path.user_id)?;
    let before = store(&state)?
        .change(access.guild_id, access.session.user_id, user, None)
        .await?
        .map_err(refusal)?;
    match before {
        Some(_) => Ok(StatusCode::NO_CONTENT),
        None => Err(ApiError::NotFound(format!(
            "user {user} has no access to guild {} to remove",
            access.guild_id
        ))),
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
struct HistoryQuery {
    /// How many changes, newest first (at most 500; default 100).
    limit: Option<u32>,
}

/// Who granted what to whom, and when.
#[utoipa::path(get, path = "/api/v1/guilds/{guild_id}/authorized-users/history",
    params(("guild_id" = String, Path), HistoryQuery),
    extensions(("x-tier" = json!("viewer"))),
    responses((status = 200, body = [AccessChangeView]), (status = 401), (status = 403)))]
async fn history(
    access: GuildViewer,
    State(state): State<ApiState>,
    Query(query): Query<HistoryQuery>,
) -> Result<Json<Vec<AccessChangeView>>, ApiError> {
    let limit = query.limit.unwrap_or(100).clamp(1, 500);
    let changes = store(&state)?.history(access.guild_id, limit).await?;
    let mut ids: Vec<u64> = changes
        .iter()
        .flat_map(|c| [Some(c.user_id), c.actor_id])
        .flatten()
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let names = names(&state, access.session.user_id, access.guild_id, &ids).await?;
    Ok(Json(
        changes
            .into_iter()
            .map(|c| AccessChangeView {
                actor_name: c.actor_id.and_then(|a| names.get(&a).cloned()),
                user_name: names.get(&c.user_id).cloned(),
                actor_id: c.actor_id.map(|a| a.to_string()),
                user_id: c.user_id.to_string(),
                before: c.before,
                after: c.after,
                at_ms: c.at_ms,
            })
            .collect(),
    ))
}

#[derive(Deserialize, utoipa::IntoParams)]
struct MemberQuery {
    /// The start of a username or nickname.
    query: String,
    /// How many (1–100, default 25).
    limit: Option<u32>,
}

/// Members whose name starts with `query`, for the grant form (through
/// the bot's view of the guild).
#[utoipa::path(get, path = "/api/v1/guilds/{guild_id}/members",
    params(("guild_id" = String, Path), MemberQuery),
    extensions(("x-tier" = json!("admin"))),
    responses((status = 200, body = [MemberView]), (status = 400), (status = 401), (status = 403), (status = 503)))]
async fn members(
    access: GuildAdmin,
    State(state): State<ApiState>,
    Query(query): Query<MemberQuery>,
) -> Result<Json<Vec<MemberView>>, ApiError> {
    let text = query.query.trim();
    if text.is_empty() || text.chars().count() > 100 {
        return Err(ApiError::BadRequest("query is 1 to 100 characters".into()));
    }
    let path = format!(
        "/guilds/{}/members/search?query={}&limit={}",
        access.guild_id,
        crate::discord::rest::percent_encode(text),
        query.limit.unwrap_or(25).clamp(1, 100)
    );
    let members: Vec<twilight_model::guild::Member> = through_bot(
        &state,
        access.session.user_id,
        access.guild_id,
        &path,
        BOT_WAIT,
    )
    .await?;
    Ok(Json(
        members
            .into_iter()
            .map(|m| MemberView {
                user_id: m.user.id.get().to_string(),
                username: m.user.name,
                global_name: m.user.global_name,
                nick: m.nick,
            })
            .collect(),
    ))
}

/// `path` of Discord's API through the bot on behalf of `user`, read as
/// `T`, within the API's Discord budget ([`super::bot_calls`]); 429 over
/// it, 404 when Discord says so, 503 when the host has no Discord
/// connection or Discord does not answer.
pub(super) async fn through_bot<T: serde::de::DeserializeOwned>(
    state: &ApiState,
    user: u64,
    guild: u64,
    path: &str,
    within: std::time::Duration,
) -> Result<T, ApiError> {
    bot_is_in(state, guild).await?;
    if state.runtime.services().discord.is_some() && !state.bot_calls.admit(user) {
        return Err(ApiError::RateLimited);
    }
    through_bot_admitted(state, path, within).await
}

/// 404 unless the bot is in `guild`: Discord would refuse the call anyway
/// (an invalid request, counted against the bot), and anyone may make a
/// guild of their own that Discord says they manage.
async fn bot_is_in(state: &ApiState, guild: u64) -> Result<(), ApiError> {
    let Some(db) = state.runtime.services().database.clone() else {
        return Ok(());
    };
    match GuildStore::new(db).get(guild).await? {
        Some(record) if record.active => Ok(()),
        _ => Err(ApiError::NotFound(
            "the bot is not in this server; add it first".into(),
        )),
    }
}

/// [`through_bot`] for a call already admitted.
async fn through_bot_admitted<T: serde::de::DeserializeOwned>(
    state: &ApiState,
    path: &str,
    within: std::time::Duration,
) -> Result<T, ApiError> {
    let link = state
        .runtime
        .services()
        .discord
        .clone()
        .ok_or_else(|| ApiError::Unavailable("the bot has no Discord connection".into()))?;
    let deadline = std::time::Instant::now() + within;
    let found = link
        .rest
        .call(
            None,
            http::Method::GET,
            path,
            crate::discord::rest::Body::Empty,
            deadline,
        )
        .await
        .map_err(|error| match error {
            crate::discord::rest::RestError::NotFound(what) => {
                ApiError::NotFound(format!("Discord has no such thing: {what}"))
            }
            error => ApiError::Unavailable(format!("Discord did not answer: {error}")),
        })?;
    serde_json::from_value(found)
        .map_err(|error| ApiError::Unavailable(format!("Discord's answer was unreadable: {error}")))
}

/// The guild's channels (not threads), for channel pickers.
#[utoipa::path(get, path = "/api/v1/guilds/{guild_id}/channels",
    params(("guild_id" = String, Path)),
    extensions(("x-tier" = json!("viewer"))),
    responses((status = 200, body = [ChannelView]), (status = 401), (status = 403), (status = 503)))]
async fn channels(
    access: GuildViewer,
    State(state): State<ApiState>,
) -> Result<Json<Vec<ChannelView>>, ApiError> {
    let channels: Vec<twilight_model::channel::Channel> = through_bot(
        &state,
        access.session.user_id,
        access.guild_id,
        &format!("/guilds/{}/channels", access.guild_id),
        BOT_WAIT,
    )
    .await?;
    let mut views: Vec<ChannelView> = channels
        .into_iter()
        .map(|c| ChannelView {
            id: c.id.get().to_string(),
            name: c.name.unwrap_or_default(),
            kind: u8::from(c.kind),
            parent_id: c.parent_id.map(|p| p.get().to_string()),
            position: c.position.unwrap_or(0),
        })
        .collect();
    views.sort_by_key(|c| (c.position, c.name.clone()));
    Ok(Json(views))
}

/// The guild's roles, highest first, for role pickers.
#[utoipa::path(get, path = "/api/v1/guilds/{guild_id}/roles",
    params(("guild_id" = String, Path)),
    extensions(("x-tier" = json!("viewer"))),
    responses((status = 200, body = [RoleView]), (status = 401), (status = 403), (status = 503)))]
async fn roles(
    access: GuildViewer,
    State(state): State<ApiState>,
) -> Result<Json<Vec<RoleView>>, ApiError> {
    let roles: Vec<twilight_model::guild::Role> = through_bot(
        &state,
        access.session.user_id,
        access.guild_id,
        &format!("/guilds/{}/roles", access.guild_id),
        BOT_WAIT,
    )
    .await?;
    let mut views: Vec<RoleView> = roles
        .into_iter()
        .map(|r| RoleView {
            id: r.id.get().to_string(),
            name: r.name,
            color: r.colors.primary_color,
            position: r.position,
            managed: r.managed,
        })
        .collect();
    views.sort_by_key(|r| std::cmp::Reverse(r.position));
    Ok(Json(views))
}
