//! Guilds, members, roles, bans and a guild's channels, as the bot calls them.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, put};
use axum::{Json, Router};
use serde_json::{Value, json};

use super::{ApiError, ApiResult, DiscordBody, snowflake};
use crate::Sim;
use crate::world::{channel_json, is_thread, role_json};

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
    DiscordBody(body): DiscordBody,
) -> ApiResult {
    let (guild, user) = member_ids(&sim, &guild, &user)?;
    sim.update_member(guild, user, |member, _| {
        if let Some(nick) = body.get("nick") {
            member.nick = nick.as_str().map(str::to_string);
        }
        if let Some(until) = body.get("communication_disabled_until") {
            member.timeout_until = until.as_str().map(str::to_string);
        }
        if let Some(roles) = body.get("roles").and_then(Value::as_array) {
            member.roles = roles
                .iter()
                .filter_map(|r| r.as_str().and_then(|s| s.parse().ok()))
                .collect();
        }
        Ok(())
    })
    .map(Json)
}

async fn kick(
    State(sim): State<Arc<Sim>>,
    Path((guild, user)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let (guild, user) = member_ids(&sim, &guild, &user)?;
    sim.remove_member(guild, user)?;
    Ok(StatusCode::NO_CONTENT)
}

fn role_change(
    sim: &Sim,
    guild: &str,
    user: &str,
    role: &str,
    add: bool,
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
    Ok(StatusCode::NO_CONTENT)
}

async fn add_role(
    State(sim): State<Arc<Sim>>,
    Path((guild, user, role)): Path<(String, String, String)>,
) -> Result<StatusCode, ApiError> {
    role_change(&sim, &guild, &user, &role, true)
}

async fn remove_role(
    State(sim): State<Arc<Sim>>,
    Path((guild, user, role)): Path<(String, String, String)>,
) -> Result<StatusCode, ApiError> {
    role_change(&sim, &guild, &user, &role, false)
}

async fn ban(
    State(sim): State<Arc<Sim>>,
    Path((guild, user)): Path<(String, String)>,
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
    Ok(StatusCode::NO_CONTENT)
}

async fn unban(
    State(sim): State<Arc<Sim>>,
    Path((guild, user)): Path<(String, String)>,
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
    Ok(StatusCode::NO_CONTENT)
}
