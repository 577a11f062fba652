//! Interaction callbacks, the follow-up and original-response webhooks, and
//! application command registration (bulk overwrite, global and per guild).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

use super::{ApiError, ApiResult, DiscordBody, snowflake};
use crate::Sim;
use crate::world::{BOT_ID, InteractionResponse, message_json};

/// Message flag of a deferred response still "thinking".
pub const LOADING: u64 = 128;

pub fn router() -> Router<Arc<Sim>> {
    Router::new()
        .route(
            "/api/v10/interactions/{id}/{token}/callback",
            post(callback),
        )
        .route("/api/v10/webhooks/{app}/{token}", post(follow_up))
        .route(
            "/api/v10/webhooks/{app}/{token}/messages/{message}",
            get(get_message).patch(edit_message).delete(delete_message),
        )
        .route(
            "/api/v10/applications/{app}/commands",
            get(global_commands).put(overwrite_global),
        )
        .route(
            "/api/v10/applications/{app}/guilds/{guild}/commands",
            get(guild_commands).put(overwrite_guild),
        )
}

/// Time since the interaction was sent: (ms, µs).
fn elapsed(sim: &Sim, id: u64) -> (u64, u64) {
    let micros = sim
        .world
        .state
        .lock()
        .interactions
        .get(&id)
        .map(|i| i.sent.elapsed().as_micros() as u64)
        .unwrap_or(0);
    (micros / 1000, micros)
}

fn record(sim: &Sim, id: u64, response: InteractionResponse) {
    if let Some(found) = sim.world.state.lock().interactions.get_mut(&id) {
        found.responses.push(response);
    }
    sim.world.notify();
}

/// The interaction behind a webhook token (valid for 15 minutes).
fn by_token(sim: &Sim, app: &str, token: &str) -> Result<u64, ApiError> {
    if app != BOT_ID.to_string() {
        return Err(ApiError::unknown("Webhook"));
    }
    let state = sim.world.state.lock();
    let id = *state
        .tokens
        .get(token)
        .ok_or_else(|| ApiError::unknown("Webhook"))?;
    if state.interactions[&id].sent.elapsed() > std::time::Duration::from_secs(15 * 60) {
        return Err(ApiError(
            StatusCode::UNAUTHORIZED,
            50027,
            "Invalid Webhook Token".into(),
        ));
    }
    Ok(id)
}

async fn callback(
    State(sim): State<Arc<Sim>>,
    Path((id, token)): Path<(String, String)>,
    DiscordBody(body): DiscordBody,
) -> Result<StatusCode, ApiError> {
    let id = snowflake(&id, "Interaction")?;
    let callback_type =
        body.get("type")
            .and_then(Value::as_u64)
            .ok_or_else(|| ApiError::invalid("type: This field is required"))? as u8;
    // Check and claim under one lock: of two racing callbacks, one wins.
    let (kind, channel, source) = {
        let mut state = sim.world.state.lock();
        let found = state
            .interactions
            .get_mut(&id)
            .filter(|i| i.token == token)
            .ok_or_else(|| ApiError::unknown("Interaction"))?;
        if found.callback().is_some() || found.claimed {
            return Err(ApiError(
                StatusCode::BAD_REQUEST,
                40060,
                "Interaction has already been acknowledged.".into(),
            ));
        }
        if found.sent.elapsed() > std::time::Duration::from_secs(3) {
            return Err(ApiError::unknown("Interaction"));
        }
        found.claimed = true;
        (found.kind, found.channel_id, found.source_message)
    };
    let unclaim = |error: ApiError| {
        if let Some(found) = sim.world.state.lock().interactions.get_mut(&id) {
            found.claimed = false;
        }
        error
    };
    let allowed = match callback_type {
        1 => false,
        4 | 5 => kind != 4,
        6 | 7 => kind == 3 || kind == 5,
        8 => kind == 4,
        9 => kind == 2 || kind == 3,
        _ => false,
    };
    if !allowed {
        return Err(unclaim(ApiError::invalid(format!(
            "type: callback type {callback_type} is not valid for interaction type {kind}"
        ))));
    }
    let mut data = body.get("data").cloned().unwrap_or(json!({}));
    if callback_type == 9 {
        crate::limits::check_modal(&data).map_err(unclaim)?;
    }
    // Files uploaded with a multipart callback belong to the message in `data`.
    if let Some(uploaded) = body
        .get("attachments")
        .filter(|a| a.as_array().is_some_and(|a| !a.is_empty()))
    {
        data["attachments"] = uploaded.clone();
    }
    let message_id = match callback_type {
        4 => {
            let message = sim
                .create_message(channel, BOT_ID, data.clone(), 20, Some(id))
                .map_err(unclaim)?;
            message["id"].as_str().and_then(|s| s.parse::<u64>().ok())
        }
        5 => {
            let message = sim.create_message(
                channel,
                BOT_ID,
                json!({"content": "", "flags": data.get("flags").and_then(Value::as_u64).unwrap_or(0) | LOADING}),
                20,
                Some(id),
            )
            .map_err(unclaim)?;
            message["id"].as_str().and_then(|s| s.parse::<u64>().ok())
        }
        7 => {
            let source =
                source.ok_or_else(|| unclaim(ApiError::invalid("no message to update")))?;
            sim.edit_message(channel, source, data.clone())
                .map_err(unclaim)?;
            Some(source)
        }
        6 => source,
        _ => None,
    };
    if let Some(message) = message_id
        && let Some(found) = sim.world.state.lock().interactions.get_mut(&id)
    {
        found.original_message = Some(message);
    }
    let (after_ms, after_us) = elapsed(&sim, id);
    record(
        &sim,
        id,
        InteractionResponse {
            kind: "callback",
            callback_type: Some(callback_type),
            data,
            message_id: message_id.map(|m| m.to_string()),
            after_ms,
            after_us,
        },
    );
    Ok(StatusCode::NO_CONTENT)
}

async fn follow_up(
    State(sim): State<Arc<Sim>>,
    Path((app, token)): Path<(String, String)>,
    DiscordBody(body): DiscordBody,
) -> ApiResult {
    let id = by_token(&sim, &app, &token)?;
    let (channel, acknowledged) = {
        let state = sim.world.state.lock();
        let found = &state.interactions[&id];
        (found.channel_id, found.callback().is_some())
    };
    if !acknowledged {
        return Err(ApiError::unknown("Webhook"));
    }
    // After a deferred reply, the first follow-up fills the "thinking" message.
    let loading = {
        let state = sim.world.state.lock();
        let found = &state.interactions[&id];
        found
            .original_message
            .filter(|_| found.callback() == Some(5))
            .and_then(|m| state.messages.get(&m))
            .filter(|m| m.body.get("flags").and_then(Value::as_u64).unwrap_or(0) & LOADING != 0)
            .map(|m| (m.id, m.body["flags"].as_u64().unwrap_or(0)))
    };
    let message = match loading {
        Some((original, flags)) => {
            let mut filled = body.clone();
            filled["flags"] = json!(flags & !LOADING);
            sim.edit_message(channel, original, filled)?
        }
        None => sim.create_message(channel, BOT_ID, body.clone(), 0, Some(id))?,
    };
    let (after_ms, after_us) = elapsed(&sim, id);
    record(
        &sim,
        id,
        InteractionResponse {
            kind: "follow-up",
            callback_type: None,
            data: body,
            message_id: message["id"].as_str().map(str::to_string),
            after_ms,
            after_us,
        },
    );
    Ok(Json(message))
}

/// The interaction and the message a webhook message route names.
fn target(sim: &Sim, app: &str, token: &str, message: &str) -> Result<(u64, u64, u64), ApiError> {
    let id = by_token(sim, app, token)?;
    let state = sim.world.state.lock();
    let found = &state.interactions[&id];
    let message = if message == "@original" {
        found
            .original_message
            .ok_or_else(|| ApiError::unknown("Message"))?
    } else {
        snowflake(message, "Message")?
    };
    Ok((id, found.channel_id, message))
}

async fn get_message(
    State(sim): State<Arc<Sim>>,
    Path((app, token, message)): Path<(String, String, String)>,
) -> ApiResult {
    let (_, channel, message) = target(&sim, &app, &token, &message)?;
    let state = sim.world.state.lock();
    state
        .messages
        .get(&message)
        .filter(|m| m.channel_id == channel)
        .map(|m| Json(message_json(&state, m)))
        .ok_or_else(|| ApiError::unknown("Message"))
}

async fn edit_message(
    State(sim): State<Arc<Sim>>,
    Path((app, token, message)): Path<(String, String, String)>,
    DiscordBody(body): DiscordBody,
) -> ApiResult {
    let original = message == "@original";
    let (id, channel, message) = target(&sim, &app, &token, &message)?;
    // Completing a deferral ends the "thinking…" state.
    let mut body = body;
    if original {
        let flags = sim
            .world
            .state
            .lock()
            .messages
            .get(&message)
            .and_then(|m| m.body.get("flags").and_then(Value::as_u64))
            .unwrap_or(0);
        body["flags"] = json!(flags & !LOADING);
    }
    let edited = sim.edit_message(channel, message, body.clone())?;
    let (after_ms, after_us) = elapsed(&sim, id);
    record(
        &sim,
        id,
        InteractionResponse {
            kind: if original {
                "edit-original"
            } else {
                "edit-follow-up"
            },
            callback_type: None,
            data: body,
            message_id: Some(message.to_string()),
            after_ms,
            after_us,
        },
    );
    Ok(Json(edited))
}

async fn delete_message(
    State(sim): State<Arc<Sim>>,
    Path((app, token, message)): Path<(String, String, String)>,
) -> Result<StatusCode, ApiError> {
    let original = message == "@original";
    let (id, channel, message) = target(&sim, &app, &token, &message)?;
    sim.delete_message(channel, message)?;
    let (after_ms, after_us) = elapsed(&sim, id);
    record(
        &sim,
        id,
        InteractionResponse {
            kind: if original {
                "delete-original"
            } else {
                "delete-follow-up"
            },
            callback_type: None,
            data: Value::Null,
            message_id: Some(message.to_string()),
            after_ms,
            after_us,
        },
    );
    Ok(StatusCode::NO_CONTENT)
}

/// Check and store a command list as Discord would: ids, application id,
/// version, and the rules that Discord enforces on names and descriptions.
fn accept_commands(sim: &Sim, body: &Value, guild: Option<u64>) -> Result<Vec<Value>, ApiError> {
    let list = body
        .as_array()
        .ok_or_else(|| ApiError::invalid("the body must be an array of commands"))?;
    if list.len() > 100 {
        return Err(ApiError::invalid("Must be 100 or fewer in length."));
    }
    let mut names = std::collections::HashSet::new();
    let mut accepted = Vec::new();
    for (index, command) in list.iter().enumerate() {
        let name = command.get("name").and_then(Value::as_str).unwrap_or("");
        let kind = command.get("type").and_then(Value::as_u64).unwrap_or(1);
        let valid_name = !name.is_empty()
            && name.chars().count() <= 32
            && (kind != 1
                || name
                    .chars()
                    .all(|c| c.is_lowercase() || c.is_ascii_digit() || c == '-' || c == '_'));
        if !valid_name {
            return Err(ApiError::invalid(format!(
                "{index}.name: Command name is invalid"
            )));
        }
        let description = command
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or("");
        if kind == 1 && (description.is_empty() || description.chars().count() > 100) {
            return Err(ApiError::invalid(format!(
                "{index}.description: Must be between 1 and 100 in length."
            )));
        }
        if !names.insert((name.to_string(), kind)) {
            return Err(ApiError::invalid(format!(
                "{index}.name: Application command names must be unique"
            )));
        }
        let mut stored = command.clone();
        stored["id"] = json!(sim.world.next_id().to_string());
        stored["application_id"] = json!(BOT_ID.to_string());
        stored["version"] = json!(sim.world.next_id().to_string());
        stored["type"] = json!(kind);
        stored["default_member_permissions"] = command
            .get("default_member_permissions")
            .cloned()
            .unwrap_or(Value::Null);
        stored["nsfw"] = command.get("nsfw").cloned().unwrap_or(json!(false));
        if let Some(guild) = guild {
            stored["guild_id"] = json!(guild.to_string());
        }
        accepted.push(stored);
    }
    Ok(accepted)
}

fn check_app(app: &str) -> Result<(), ApiError> {
    if app == BOT_ID.to_string() {
        Ok(())
    } else {
        Err(ApiError::forbidden())
    }
}

async fn global_commands(State(sim): State<Arc<Sim>>, Path(app): Path<String>) -> ApiResult {
    check_app(&app)?;
    Ok(Json(json!(sim.world.state.lock().commands.global)))
}

async fn overwrite_global(
    State(sim): State<Arc<Sim>>,
    Path(app): Path<String>,
    Json(body): Json<Value>,
) -> ApiResult {
    check_app(&app)?;
    let accepted = accept_commands(&sim, &body, None)?;
    let mut state = sim.world.state.lock();
    state.commands.global = accepted.clone();
    state.commands.overwrites += 1;
    Ok(Json(json!(accepted)))
}

async fn guild_commands(
    State(sim): State<Arc<Sim>>,
    Path((app, guild)): Path<(String, String)>,
) -> ApiResult {
    check_app(&app)?;
    let guild = super::guilds::bot_guild(&sim, &guild)?;
    Ok(Json(json!(
        sim.world
            .state
            .lock()
            .commands
            .guilds
            .get(&guild)
            .cloned()
            .unwrap_or_default()
    )))
}

async fn overwrite_guild(
    State(sim): State<Arc<Sim>>,
    Path((app, guild)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> ApiResult {
    check_app(&app)?;
    let guild = super::guilds::bot_guild(&sim, &guild)?;
    let accepted = accept_commands(&sim, &body, Some(guild))?;
    let mut state = sim.world.state.lock();
    state.commands.guilds.insert(guild, accepted.clone());
    state.commands.overwrites += 1;
    Ok(Json(json!(accepted)))
}
