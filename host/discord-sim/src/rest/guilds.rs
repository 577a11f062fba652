//! Guilds, members, roles, bans and a guild's channels, as the bot calls them.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, put};
use axum::{Json, Router};
use serde_json::{Value, json};

use super::{ApiError, ApiResult, DiscordBody, snowflake};
use crate::Sim;
use crate::world::{BOT_ID, channel_json, is_thread, role_json};

/// Discord's audit-log action types the bot's own calls record.
mod action {
    pub const MEMBER_KICK: u16 = 20;
    pub const MEMBER_BAN_ADD: u16 = 22;
    pub const MEMBER_BAN_REMOVE: u16 = 23;
    pub const MEMBER_UPDATE: u16 = 24;
    pub const MEMBER_ROLE_UPDATE: u16 = 25;
}

/// A time as Discord writes it back (`+00:00`, not `Z`), whichever way the
/// bot wrote it.
fn discord_time(at: &str) -> String {
    match at.strip_suffix('Z') {
        Some(utc) => format!("{utc}+00:00"),
        None => at.to_string(),
    }
}

/// The reason a moderation call gives (`X-Audit-Log-Reason`, URL-encoded
/// as Discord asks).
pub fn reason(headers: &HeaderMap) -> Option<String> {
    let raw = headers.get("x-audit-log-reason")?.to_str().ok()?;
    Some(
        percent_encoding::percent_decode_str(raw)
            .decode_utf8_lossy()
            .into_owned(),
    )
}

pub fn router() -> Router<Arc<Sim>> {
    Router::new()
        .route("/api/v10/guilds/{guild}", get(guild))
        .route("/api/v10/guilds/{guild}/roles", get(roles))
        .route("/api/v10/guilds/{guild}/channels", get(channels))
        .route(
            "/api/v10/guilds/{guild}/members/search",
            get(search_members),
        )
        .route(
            "/api/v10/guilds/{guild}/members/{user}",
            get(member).patch(edit_member).delete(kick),
        )
        .route(
            "/api/v10/guilds/{guild}/members/{user}/roles/{role}",
            put(add_role).delete(remove_role),
        )
        .route(
            "/api/v10/guilds/{guild}/bans/{user}",
            put(ban).delete(unban),
        )
        .route("/api/v10/guilds/{guild}/audit-logs", get(audit_log))
}

/// The guild's audit log, newest first: `action_type`, `user_id`, `before`
/// and `limit` (1–100, default 50) filter it, as Discord's do.
async fn audit_log(
    State(sim): State<Arc<Sim>>,
    Path(guild): Path<String>,
    Query(query): Query<std::collections::HashMap<String, String>>,
) -> ApiResult {
    let guild = bot_guild(&sim, &guild)?;
    let limit = query
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(50)
        .clamp(1, 100);
    let action: Option<u64> = query.get("action_type").and_then(|a| a.parse().ok());
    let user = query.get("user_id").cloned();
    let before: Option<u64> = query.get("before").and_then(|b| b.parse().ok());
    let state = sim.world.state.lock();
    let entries: Vec<Value> = state
        .audit_log
        .get(&guild)
        .into_iter()
        .flatten()
        .filter(|e| action.is_none_or(|a| e["action_type"] == a))
        .filter(|e| user.as_ref().is_none_or(|u| e["user_id"] == json!(u)))
        .filter(|e| {
            before.is_none_or(|b| {
                e["id"]
                    .as_str()
                    .and_then(|id| id.parse::<u64>().ok())
                    .is_some_and(|id| id < b)
            })
        })
        .take(limit)
        .map(crate::actions::public_entry)
        .collect();
    Ok(Json(json!({
        "audit_log_entries": entries,
        "users": [],
        "integrations": [],
        "webhooks": [],
        "threads": [],
        "application_commands": [],
        "auto_moderation_rules": [],
        "guild_scheduled_events": [],
    })))
}

/// The guild, if the bot is in it; 403 otherwise (as Discord answers).
pub fn bot_guild(sim: &Sim, guild: &str) -> Result<u64, ApiError> {
    let id = snowflake(guild, "Guild")?;
    match sim.world.state.lock().guilds.get(&id) {
        Some(g) if g.bot_present => Ok(id),
        Some(_) => Err(ApiError::forbidden()),
        None => Err(ApiError::unknown("Guild")),
    }
}

async fn guild(State(sim): State<Arc<Sim>>, Path(guild): Path<String>) -> ApiResult {
    let id = bot_guild(&sim, &guild)?;
    let value = sim
        .world
        .guild_object(id)
        .ok_or_else(|| ApiError::unknown("Guild"))?;
    Ok(Json(value))
}

#[derive(serde::Deserialize)]
struct MemberSearch {
    query: Option<String>,
    limit: Option<u32>,
}

/// Members whose username or nickname starts with `query` (case
/// insensitive), at most `limit` (1–1000, default 1), as Discord answers.
async fn search_members(
    State(sim): State<Arc<Sim>>,
    Path(guild): Path<String>,
    axum::extract::Query(search): axum::extract::Query<MemberSearch>,
) -> ApiResult {
    let id = bot_guild(&sim, &guild)?;
    let Some(query) = search.query else {
        return Err(ApiError::invalid("query: This field is required"));
    };
    let limit = search.limit.unwrap_or(1);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::invalid(
            "limit: int value should be between 1 and 1000",
        ));
    }
    let query = query.to_lowercase();
    let state = sim.world.state.lock();
    let found: Vec<Value> = state.guilds[&id]
        .members
        .iter()
        .filter_map(|(user, member)| Some((state.users.get(user)?, member)))
        .filter(|(user, member)| {
            user.username.to_lowercase().starts_with(&query)
                || member
                    .nick
                    .as_deref()
                    .is_some_and(|n| n.to_lowercase().starts_with(&query))
        })
        .take(limit as usize)
        .map(|(user, member)| crate::world::member_json(user, member))
        .collect();
    Ok(Json(json!(found)))
}

async fn roles(State(sim): State<Arc<Sim>>, Path(guild): Path<String>) -> ApiResult {
    let id = bot_guild(&sim, &guild)?;
    let state = sim.world.state.lock();
    let roles: Vec<Value> = state.guilds[&id].roles.iter().map(role_json).collect();
    Ok(Json(json!(roles)))
}

async fn channels(State(sim): State<Arc<Sim>>, Path(guild): Path<String>) -> ApiResult {
    let id = bot_guild(&sim, &guild)?;
    let state = sim.world.state.lock();
    let channels: Vec<Value> = state
        .channels
        .values()
        .filter(|c| c.guild_id == Some(id) && !is_thread(c.kind))
        .map(channel_json)
        .collect();
    Ok(Json(json!(channels)))
}

fn member_ids(sim: &Sim, guild: &str, user: &str) -> Result<(u64, u64), ApiError> {
    Ok((bot_guild(sim, guild)?, snowflake(user, "User")?))
}

async fn member(
    State(sim): State<Arc<Sim>>,
    Path((guild, user)): Path<(String, String)>,
) -> ApiResult {
    let (guild, user) = member_ids(&sim, &guild, &user)?;
    let state = sim.world.state.lock();
    crate::actions::member_of(&state, guild, user)
        .map(Json)
        .ok_or_else(|| ApiError::unknown("Member"))
}

async fn edit_member(
    State(sim): State<Arc<Sim>>,
    Path((guild, user)): Path<(String, String)>,
    headers: HeaderMap,
    DiscordBody(body): DiscordBody,
) -> ApiResult {
    let (guild, user) = member_ids(&sim, &guild, &user)?;
    let kind = if body.get("roles").is_some() {
        action::MEMBER_ROLE_UPDATE
    } else {
        action::MEMBER_UPDATE
    };
    let changed = sim.update_member(guild, user, |member, _| {
        if let Some(nick) = body.get("nick") {
            member.nick = nick.as_str().map(str::to_string);
        }
        if let Some(until) = body.get("communication_disabled_until") {
            member.timeout_until = until.as_str().map(discord_time);
        }
        if let Some(roles) = body.get("roles").and_then(Value::as_array) {
            member.roles = roles
                .iter()
                .filter_map(|r| r.as_str().and_then(|s| s.parse().ok()))
                .collect();
        }
        Ok(())
    })?;
    sim.audit(
        guild,
        kind,
        BOT_ID,
        Some(user),
        reason(&headers).as_deref(),
        None,
    );
    Ok(Json(changed))
}

async fn kick(
    State(sim): State<Arc<Sim>>,
    Path((guild, user)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let (guild, user) = member_ids(&sim, &guild, &user)?;
    sim.remove_member(guild, user)?;
    sim.audit(
        guild,
        action::MEMBER_KICK,
        BOT_ID,
        Some(user),
        reason(&headers).as_deref(),
        None,
    );
    Ok(StatusCode::NO_CONTENT)
}

fn role_change(
    sim: &Sim,
    guild: &str,
    user: &str,
    role: &str,
    add: bool,
    headers: &HeaderMap,
) -> Result<StatusCode, ApiError> {
    let (guild, user) = member_ids(sim, guild, user)?;
    let role = snowflake(role, "Role")?;
    sim.update_member(guild, user, |member, found| {
        if !found.roles.iter().any(|r| r.id == role) {
            return Err(ApiError::unknown("Role"));
        }
        member.roles.retain(|r| *r != role);
        if add {
            member.roles.push(role);
        }
        Ok(())
    })?;
    sim.audit(
        guild,
        action::MEMBER_ROLE_UPDATE,
        BOT_ID,
        Some(user),
        reason(headers).as_deref(),
        None,
    );
    Ok(StatusCode::NO_CONTENT)
}

async fn add_role(
    State(sim): State<Arc<Sim>>,
    Path((guild, user, role)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    role_change(&sim, &guild, &user, &role, true, &headers)
}

async fn remove_role(
    State(sim): State<Arc<Sim>>,
    Path((guild, user, role)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    role_change(&sim, &guild, &user, &role, false, &headers)
}

async fn ban(
    State(sim): State<Arc<Sim>>,
    Path((guild, user)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let (guild, user) = member_ids(&sim, &guild, &user)?;
    if sim.world.user(user).is_none() {
        return Err(ApiError::unknown("User"));
    }
    let (newly, member) = {
        let mut state = sim.world.state.lock();
        let found = state.guilds.get_mut(&guild).expect("checked");
        let newly = !found.bans.contains(&user);
        if newly {
            found.bans.push(user);
        }
        (newly, found.members.contains_key(&user))
    };
    if newly {
        sim.ban_changed(guild, user, true);
    }
    if member {
        sim.remove_member(guild, user)?;
    }
    if newly {
        sim.audit(
            guild,
            action::MEMBER_BAN_ADD,
            BOT_ID,
            Some(user),
            reason(&headers).as_deref(),
            None,
        );
    }
    Ok(StatusCode::NO_CONTENT)
}

async fn unban(
    State(sim): State<Arc<Sim>>,
    Path((guild, user)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let (guild, user) = member_ids(&sim, &guild, &user)?;
    let mut state = sim.world.state.lock();
    let found = state.guilds.get_mut(&guild).expect("checked");
    if !found.bans.contains(&user) {
        return Err(ApiError::unknown("Ban"));
    }
    found.bans.retain(|b| *b != user);
    drop(state);
    sim.ban_changed(guild, user, false);
    sim.audit(
        guild,
        action::MEMBER_BAN_REMOVE,
        BOT_ID,
        Some(user),
        reason(&headers).as_deref(),
        None,
    );
    Ok(StatusCode::NO_CONTENT)
}
