//! Channels, messages, reactions, threads and DM channels, as the bot calls them.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde_json::{Value, json};

use super::{ApiError, ApiResult, DiscordBody, snowflake};
use crate::Sim;
use crate::world::{BOT_ID, SimChannel, channel_json, message_json};

pub fn router() -> Router<Arc<Sim>> {
    Router::new()
        .route("/api/v10/channels/{channel}", get(channel))
        .route(
            "/api/v10/channels/{channel}/messages",
            post(create).get(list),
        )
        .route(
            "/api/v10/channels/{channel}/messages/{message}",
            get(one).patch(edit).delete(delete),
        )
        .route(
            "/api/v10/channels/{channel}/messages/{message}/reactions/{emoji}/{user}",
            put(react).delete(unreact),
        )
        .route(
            "/api/v10/channels/{channel}/messages/bulk-delete",
            post(bulk_delete),
        )
        .route("/api/v10/channels/{channel}/threads", post(thread))
        .route(
            "/api/v10/channels/{channel}/messages/{message}/threads",
            post(thread_from_message),
        )
        .route("/api/v10/users/@me/channels", post(open_dm))
}

async fn channel(State(sim): State<Arc<Sim>>, Path(channel): Path<String>) -> ApiResult {
    let id = snowflake(&channel, "Channel")?;
    let state = sim.world.state.lock();
    state
        .channels
        .get(&id)
        .map(|c| Json(channel_json(c)))
        .ok_or_else(|| ApiError::unknown("Channel"))
}

async fn create(
    State(sim): State<Arc<Sim>>,
    Path(channel): Path<String>,
    DiscordBody(body): DiscordBody,
) -> ApiResult {
    let channel = snowflake(&channel, "Channel")?;
    // The bot cannot post in a guild it is no longer in.
    if let Some(guild) = sim.channel_guild(channel)? {
        super::guilds::bot_guild(&sim, &guild.to_string())?;
    }
    let kind = if body.get("message_reference").is_some() {
        19
    } else {
        0
    };
    sim.create_message(channel, BOT_ID, body, kind, None)
        .map(Json)
}

#[derive(serde::Deserialize)]
struct ListQuery {
    limit: Option<usize>,
}

async fn list(
    State(sim): State<Arc<Sim>>,
    Path(channel): Path<String>,
    Query(query): Query<ListQuery>,
) -> ApiResult {
    let channel = snowflake(&channel, "Channel")?;
    sim.channel_guild(channel)?;
    let state = sim.world.state.lock();
    let messages: Vec<Value> = state
        .messages
        .values()
        .rev()
        .filter(|m| m.channel_id == channel)
        .take(query.limit.unwrap_or(50).clamp(1, 100))
        .map(|m| message_json(&state, m))
        .collect();
    Ok(Json(json!(messages)))
}

fn ids(channel: &str, message: &str) -> Result<(u64, u64), ApiError> {
    Ok((
        snowflake(channel, "Channel")?,
        snowflake(message, "Message")?,
    ))
}

async fn one(State(sim): State<Arc<Sim>>, Path((c, m)): Path<(String, String)>) -> ApiResult {
    let (channel, message) = ids(&c, &m)?;
    sim.channel_guild(channel)?;
    let state = sim.world.state.lock();
    state
        .messages
        .get(&message)
        .filter(|m| m.channel_id == channel)
        .map(|m| Json(message_json(&state, m)))
        .ok_or_else(|| ApiError::unknown("Message"))
}

async fn edit(
    State(sim): State<Arc<Sim>>,
    Path((c, m)): Path<(String, String)>,
    DiscordBody(body): DiscordBody,
) -> ApiResult {
    let (channel, message) = ids(&c, &m)?;
    let author = sim
        .world
        .state
        .lock()
        .messages
        .get(&message)
        .map(|m| m.author_id);
    if author.is_some_and(|a| a != BOT_ID) {
        return Err(ApiError(
            StatusCode::FORBIDDEN,
            50005,
            "Cannot edit a message authored by another user".into(),
        ));
    }
    sim.edit_message(channel, message, body).map(Json)
}

/// Discord's audit-log action types of deletions.
const MESSAGE_DELETE: u16 = 72;
const MESSAGE_BULK_DELETE: u16 = 73;

async fn delete(
    State(sim): State<Arc<Sim>>,
    Path((c, m)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let (channel, message) = ids(&c, &m)?;
    let (guild, author) = sim.delete_message(channel, message)?;
    // Another user's message deleted by the bot is a moderator's
    // deletion; its own is not recorded.
    if let Some(guild) = guild
        && author != BOT_ID
    {
        sim.audit(
            guild,
            MESSAGE_DELETE,
            BOT_ID,
            Some(author),
            super::guilds::reason(&headers).as_deref(),
            Some(json!({"channel_id": channel.to_string(), "count": "1"})),
        );
    }
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /channels/{channel}/messages/bulk-delete` with `{"messages": [ids]}`:
/// 2 to 100 ids of the channel's messages, as Discord checks them.
async fn bulk_delete(
    State(sim): State<Arc<Sim>>,
    Path(c): Path<String>,
    headers: HeaderMap,
    DiscordBody(body): DiscordBody,
) -> Result<StatusCode, ApiError> {
    let channel = snowflake(&c, "Channel")?;
    let ids: Vec<u64> = body["messages"]
        .as_array()
        .map(|ids| {
            ids.iter()
                .filter_map(|id| id.as_str().and_then(|s| s.parse().ok()))
                .collect()
        })
        .unwrap_or_default();
    if !(2..=100).contains(&ids.len()) {
        return Err(ApiError::invalid(
            "messages: Must be between 2 and 100 in length.",
        ));
    }
    if let Some(guild) = sim.purge_messages(channel, &ids)? {
        sim.audit(
            guild,
            MESSAGE_BULK_DELETE,
            BOT_ID,
            Some(channel),
            super::guilds::reason(&headers).as_deref(),
            Some(json!({"count": ids.len().to_string()})),
        );
    }
    Ok(StatusCode::NO_CONTENT)
}

async fn react(
    State(sim): State<Arc<Sim>>,
    Path((c, m, emoji, user)): Path<(String, String, String, String)>,
) -> Result<StatusCode, ApiError> {
    let (channel, message) = ids(&c, &m)?;
    if user != "@me" {
        return Err(ApiError::forbidden());
    }
    sim.react(channel, message, BOT_ID, &emoji, true)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn unreact(
    State(sim): State<Arc<Sim>>,
    Path((c, m, emoji, user)): Path<(String, String, String, String)>,
) -> Result<StatusCode, ApiError> {
    let (channel, message) = ids(&c, &m)?;
    let user = if user == "@me" {
        BOT_ID
    } else {
        snowflake(&user, "User")?
    };
    sim.react(channel, message, user, &emoji, false)?;
    Ok(StatusCode::NO_CONTENT)
}

fn new_thread(sim: &Sim, parent: u64, body: &Value) -> ApiResult {
    let guild = sim.channel_guild(parent)?;
    let name = body
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty() && n.chars().count() <= 100)
        .ok_or_else(|| ApiError::invalid("name: Must be between 1 and 100 in length."))?;
    let kind = body.get("type").and_then(Value::as_u64).unwrap_or(11) as u8;
    Ok(Json(sim.create_channel(SimChannel {
        id: sim.world.next_id(),
        guild_id: guild,
        name: name.into(),
        kind,
        parent_id: Some(parent),
        topic: None,
        position: 0,
        recipient: None,
    })))
}

async fn thread(
    State(sim): State<Arc<Sim>>,
    Path(channel): Path<String>,
    DiscordBody(body): DiscordBody,
) -> ApiResult {
    new_thread(&sim, snowflake(&channel, "Channel")?, &body)
}

async fn thread_from_message(
    State(sim): State<Arc<Sim>>,
    Path((c, m)): Path<(String, String)>,
    DiscordBody(body): DiscordBody,
) -> ApiResult {
    let (channel, message) = ids(&c, &m)?;
    if !sim.world.state.lock().messages.contains_key(&message) {
        return Err(ApiError::unknown("Message"));
    }
    new_thread(&sim, channel, &body)
}

async fn open_dm(State(sim): State<Arc<Sim>>, DiscordBody(body): DiscordBody) -> ApiResult {
    let recipient = body
        .get("recipient_id")
        .and_then(|v| {
            v.as_str()
                .and_then(|s| s.parse().ok())
                .or_else(|| v.as_u64())
        })
        .ok_or_else(|| ApiError::invalid("recipient_id: This field is required"))?;
    if sim.world.user(recipient).is_none() {
        return Err(ApiError::unknown("User"));
    }
    let existing = sim
        .world
        .state
        .lock()
        .channels
        .values()
        .find(|c| c.recipient == Some(recipient))
        .map(channel_json);
    if let Some(existing) = existing {
        return Ok(Json(existing));
    }
    let channel = SimChannel {
        id: sim.world.next_id(),
        guild_id: None,
        name: String::new(),
        kind: 1,
        parent_id: None,
        topic: None,
        position: 0,
        recipient: Some(recipient),
    };
    let json = channel_json(&channel);
    sim.world.state.lock().channels.insert(channel.id, channel);
    Ok(Json(json))
}
