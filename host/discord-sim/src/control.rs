//! The control API under `/_sim/`: act as a user (run a slash command, click
//! a button, submit a modal, type in an autocomplete option, post, edit or
//! delete a message, react, join or leave, add the bot to a new guild,
//! transfer a guild's ownership) and
//! read back what the bot did (its answers, its messages, its command
//! registrations, its REST requests), and inject faults.
//!
//! Ids may be omitted: the demo guild, #general and ada (the owner) are the
//! defaults. Ids are accepted as strings or numbers and returned as strings.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::Sim;
use crate::error::ApiError;
use crate::faults::RestFault;
use crate::gateway::GatewayFault;
use crate::world::{BOT_ID, DEMO_CHANNEL, DEMO_GUILD, DEMO_OWNER, SimChannel, message_json};

/// How long `/_sim/commands` and friends wait for the bot by default.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(5);

pub fn router(sim: Arc<Sim>) -> Router {
    Router::new()
        .route("/_sim/commands", post(run_command).get(registrations))
        .route("/cdn/attachments/{channel}/{id}/{filename}", get(cdn_file))
        .route("/_sim/components", post(click))
        .route("/_sim/modals", post(submit_modal))
        .route("/_sim/autocomplete", post(autocomplete))
        .route("/_sim/interactions/{id}", get(interaction))
        .route("/_sim/messages", post(post_message).get(bot_messages))
        .route("/_sim/flood", post(flood))
        .route(
            "/_sim/messages/{id}",
            patch(edit_message).delete(delete_message),
        )
        .route("/_sim/reactions", post(react))
        .route("/_sim/members", post(join))
        .route("/_sim/members/{guild}/{user}", delete(leave))
        .route("/_sim/guilds", post(add_guild))
        .route(
            "/_sim/guilds/{id}",
            delete(remove_guild).patch(update_guild),
        )
        .route("/_sim/channels", post(add_channel))
        .route("/_sim/channels/{id}", delete(remove_channel))
        .route("/_sim/roles", post(add_role))
        .route("/_sim/dispatch", post(raw_dispatch))
        .route("/_sim/requests", get(requests))
        .route("/_sim/sessions", get(sessions))
        .route("/_sim/world", get(world))
        .route("/_sim/faults/gateway", post(gateway_fault))
        .route("/_sim/faults/rest", post(rest_fault).get(rest_faults))
        .with_state(sim)
}

/// A snowflake given as a string or a number.
#[derive(Debug, Clone, Copy)]
struct Id(u64);

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::Number(n) => n
                .as_u64()
                .map(Id)
                .ok_or_else(|| serde::de::Error::custom("an id must be a positive integer")),
            Value::String(s) => s
                .parse()
                .map(Id)
                .map_err(|_| serde::de::Error::custom(format!("`{s}` is not a snowflake"))),
            other => Err(serde::de::Error::custom(format!(
                "an id must be a string or a number, not {other}"
            ))),
        }
    }
}

fn or(id: Option<Id>, default: u64) -> u64 {
    id.map_or(default, |i| i.0)
}

/// Where and who: the defaults are the demo guild, #general and ada.
#[derive(Debug, Deserialize)]
struct Actor {
    guild_id: Option<Id>,
    channel_id: Option<Id>,
    user_id: Option<Id>,
}

impl Actor {
    /// (guild, channel, user). A channel given without a guild implies its guild.
    fn resolve(&self, sim: &Sim) -> Result<(Option<u64>, u64, u64), ApiError> {
        let user = or(self.user_id, DEMO_OWNER);
        let (guild, channel) = match (self.guild_id, self.channel_id) {
            (_, Some(channel)) => (sim.channel_guild(channel.0)?, channel.0),
            (Some(guild), None) => {
                let state = sim.world.state.lock();
                let channel = state
                    .channels
                    .values()
                    .find(|c| c.guild_id == Some(guild.0))
                    .map(|c| c.id)
                    .ok_or_else(|| ApiError::unknown("Channel"))?;
                (Some(guild.0), channel)
            }
            (None, None) => (Some(DEMO_GUILD), DEMO_CHANNEL),
        };
        Ok((guild, channel, user))
    }
}

#[derive(Debug, Deserialize)]
struct CommandRequest {
    #[serde(flatten)]
    actor: Actor,
    /// `status`, `dice roll` or `admin cogs list` (command, group, subcommand).
    name: String,
    /// `{"sides": 20}`, or Discord's own `[{"name", "type", "value"}]`.
    #[serde(default)]
    options: Value,
    timeout_ms: Option<u64>,
}

/// The registered command called `name` for `guild` (guild commands first).
fn find_command(sim: &Sim, guild: Option<u64>, name: &str) -> Option<Value> {
    let state = sim.world.state.lock();
    let by_name = |list: &Vec<Value>| list.iter().find(|c| c["name"] == name).cloned();
    guild
        .and_then(|g| state.commands.guilds.get(&g).and_then(by_name))
        .or_else(|| by_name(&state.commands.global))
}

/// Option type of a value the user gave, from the definition when there is one.
fn option_json(
    name: &str,
    value: &Value,
    definition: Option<&Value>,
    focused: Option<&str>,
) -> Value {
    let kind = definition
        .and_then(|d| d["options"].as_array())
        .and_then(|list| list.iter().find(|o| o["name"] == name))
        .and_then(|o| o["type"].as_u64())
        .unwrap_or(match value {
            Value::Bool(_) => 5,
            Value::Number(n) if n.is_i64() || n.is_u64() => 4,
            Value::Number(_) => 10,
            _ => 3,
        });
    let value = match kind {
        // Ids travel as strings.
        6..=9 | 11 => json!(
            value
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| value.to_string())
        ),
        _ => value.clone(),
    };
    let mut option = json!({"name": name, "type": kind, "value": value});
    if focused == Some(name) {
        option["focused"] = json!(true);
    }
    option
}

/// The `data` of an application command interaction.
fn command_data(
    sim: &Sim,
    guild: Option<u64>,
    channel: u64,
    name: &str,
    options: &Value,
    focused: Option<&str>,
) -> Result<Value, ApiError> {
    let mut parts = name.split_whitespace();
    let top = parts.next().unwrap_or_default();
    let path: Vec<&str> = parts.collect();
    let command = find_command(sim, guild, top).ok_or_else(|| {
        let state = sim.world.state.lock();
        let mut known: Vec<String> = state
            .commands
            .global
            .iter()
            .chain(
                guild
                    .and_then(|g| state.commands.guilds.get(&g))
                    .into_iter()
                    .flatten(),
            )
            .filter_map(|c| c["name"].as_str().map(|n| format!("/{n}")))
            .collect();
        known.sort();
        ApiError(
            StatusCode::NOT_FOUND,
            10063,
            format!(
                "the bot has not registered /{top} here (registered: {})",
                if known.is_empty() {
                    "none".into()
                } else {
                    known.join(" ")
                }
            ),
        )
    })?;
    // Walk down to the subcommand the path names.
    let mut leaf = command.clone();
    let mut chain = Vec::new();
    for part in &path {
        let next = leaf["options"]
            .as_array()
            .and_then(|list| {
                list.iter()
                    .find(|o| o["name"] == *part && matches!(o["type"].as_u64(), Some(1 | 2)))
            })
            .cloned()
            .ok_or_else(|| ApiError::invalid(format!("/{top} has no subcommand `{part}`")))?;
        chain.push((part.to_string(), next["type"].as_u64().unwrap_or(1)));
        leaf = next;
    }
    let mut attachments = serde_json::Map::new();
    let given: Vec<Value> = match options {
        Value::Null => Vec::new(),
        Value::Array(list) => list.clone(),
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| match v.get("data_base64") {
                // A file: kept, served by the CDN routes, resolved by id.
                Some(_) => {
                    let attachment = attach(sim, channel, v)?;
                    let id = attachment["id"].clone();
                    attachments.insert(id.as_str().unwrap_or_default().to_string(), attachment);
                    Ok(option_json(k, &id, Some(&leaf), focused))
                }
                None => Ok(option_json(k, v, Some(&leaf), focused)),
            })
            .collect::<Result<_, ApiError>>()?,
        _ => return Err(ApiError::invalid("options must be an object or an array")),
    };
    let mut nested = json!(given);
    for (part, kind) in chain.into_iter().rev() {
        nested = json!([{"name": part, "type": kind, "options": nested}]);
    }
    let mut data = json!({"id": command["id"], "name": top, "type": 1, "options": nested});
    if let Some(guild) = command.get("guild_id") {
        data["guild_id"] = guild.clone();
    }
    if !attachments.is_empty() {
        data["resolved"] = json!({"attachments": attachments});
    }
    Ok(data)
}

/// Keep a file a user attached (`{"filename", "content_type",
/// "data_base64"}`) and describe it as Discord does, at Discord's CDN
/// address (the simulator serves `/cdn/attachments/…` in its place).
fn attach(sim: &Sim, channel: u64, file: &Value) -> Result<Value, ApiError> {
    use base64::Engine as _;
    let filename = file["filename"].as_str().unwrap_or("file").to_string();
    if filename.is_empty() || filename.contains('/') || filename.len() > 100 {
        return Err(ApiError::invalid("an attachment needs a plain filename"));
    }
    let data = base64::engine::general_purpose::STANDARD
        .decode(file["data_base64"].as_str().unwrap_or_default())
        .map_err(|e| ApiError::invalid(format!("data_base64 is not base64: {e}")))?;
    if data.len() > 10_485_760 {
        return Err(ApiError::invalid("attachments are at most 10 MiB here"));
    }
    let content_type = file["content_type"]
        .as_str()
        .unwrap_or("application/octet-stream")
        .to_string();
    let id = sim.world.next_id();
    let described = json!({"id": id.to_string(), "filename": filename, "size": data.len(),
        "content_type": content_type,
        "url": format!("https://cdn.discordapp.com/attachments/{channel}/{id}/{filename}"),
        "proxy_url": format!("https://media.discordapp.net/attachments/{channel}/{id}/{filename}")});
    let mut state = sim.world.state.lock();
    if state.files.len() >= crate::world::FILES_KEPT {
        state.files.pop_front();
    }
    state.files.push_back((
        id,
        crate::world::SimFile {
            filename,
            content_type,
            data,
        },
    ));
    Ok(described)
}

/// `GET /cdn/attachments/{channel}/{id}/{filename}`: a file a user attached.
async fn cdn_file(
    State(sim): State<Arc<Sim>>,
    axum::extract::Path((_channel, id, filename)): axum::extract::Path<(u64, u64, String)>,
) -> Response {
    let state = sim.world.state.lock();
    match state
        .files
        .iter()
        .find(|(kept, file)| *kept == id && file.filename == filename)
    {
        Some((_, file)) => (
            [(axum::http::header::CONTENT_TYPE, file.content_type.clone())],
            file.data.clone(),
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such attachment").into_response(),
    }
}

/// Wait until the bot has answered interaction `id`, then describe it.
async fn answer(sim: &Sim, id: u64, timeout: Option<u64>) -> Response {
    let wait = timeout.map_or(DEFAULT_WAIT, Duration::from_millis);
    let deadline = Instant::now() + wait;
    let mut changes = sim.world.changed.subscribe();
    let answered = loop {
        if sim
            .world
            .state
            .lock()
            .interactions
            .get(&id)
            .is_some_and(|i| i.answered())
        {
            break true;
        }
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero()
            || tokio::time::timeout(remaining, changes.changed())
                .await
                .is_err()
        {
            break false;
        }
    };
    let mut body = describe(sim, id);
    if answered {
        Json(body).into_response()
    } else {
        body["message"] = json!(format!(
            "the bot did not answer within {} ms",
            wait.as_millis()
        ));
        (StatusCode::GATEWAY_TIMEOUT, Json(body)).into_response()
    }
}

/// An interaction, what the bot answered, and the messages that came of it.
fn describe(sim: &Sim, id: u64) -> Value {
    let state = sim.world.state.lock();
    let Some(found) = state.interactions.get(&id) else {
        return json!({"message": "Unknown Interaction"});
    };
    let reply = found
        .original_message
        .and_then(|m| state.messages.get(&m))
        .map(|m| message_json(&state, m));
    let follow_ups: Vec<Value> = found
        .responses
        .iter()
        .filter(|r| r.kind == "follow-up")
        .filter_map(|r| r.message_id.as_deref()?.parse::<u64>().ok())
        .filter_map(|m| state.messages.get(&m))
        .map(|m| message_json(&state, m))
        .collect();
    let callback = found.responses.iter().find(|r| r.kind == "callback");
    let mut body = json!({
        "interaction_id": id.to_string(), "answered": found.answered(),
        "callback_type": found.callback(), "responses": found.responses,
        "reply": reply, "follow_ups": follow_ups,
    });
    match found.callback() {
        Some(8) => {
            body["choices"] = callback
                .map(|c| c.data["choices"].clone())
                .unwrap_or_default()
        }
        Some(9) => body["modal"] = callback.map(|c| c.data.clone()).unwrap_or_default(),
        _ => {}
    }
    body
}

async fn run_command(
    State(sim): State<Arc<Sim>>,
    Json(request): Json<CommandRequest>,
) -> Result<Response, ApiError> {
    let (guild, channel, user) = request.actor.resolve(&sim)?;
    let data = command_data(&sim, guild, channel, &request.name, &request.options, None)?;
    let id = sim.send_interaction(2, guild, channel, user, data, None)?;
    Ok(answer(&sim, id, request.timeout_ms).await)
}

#[derive(Debug, Deserialize)]
struct AutocompleteRequest {
    #[serde(flatten)]
    actor: Actor,
    name: String,
    #[serde(default)]
    options: Value,
    /// The option being typed in (its value in `options` is the partial text).
    focused: String,
    timeout_ms: Option<u64>,
}

async fn autocomplete(
    State(sim): State<Arc<Sim>>,
    Json(request): Json<AutocompleteRequest>,
) -> Result<Response, ApiError> {
    let (guild, channel, user) = request.actor.resolve(&sim)?;
    let data = command_data(
        &sim,
        guild,
        channel,
        &request.name,
        &request.options,
        Some(&request.focused),
    )?;
    let id = sim.send_interaction(4, guild, channel, user, data, None)?;
    Ok(answer(&sim, id, request.timeout_ms).await)
}

#[derive(Debug, Deserialize)]
struct ClickRequest {
    message_id: Id,
    custom_id: String,
    user_id: Option<Id>,
    /// For a select menu: the chosen values.
    values: Option<Vec<String>>,
    timeout_ms: Option<u64>,
}

async fn click(
    State(sim): State<Arc<Sim>>,
    Json(request): Json<ClickRequest>,
) -> Result<Response, ApiError> {
    let (channel, component_type) = {
        let state = sim.world.state.lock();
        let message = state
            .messages
            .get(&request.message_id.0)
            .ok_or_else(|| ApiError::unknown("Message"))?;
        let component = message.body["components"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|row| row["components"].as_array().cloned().unwrap_or_default())
            .find(|c| c["custom_id"] == request.custom_id.as_str())
            .ok_or_else(|| {
                ApiError::invalid(format!(
                    "the message has no component `{}`",
                    request.custom_id
                ))
            })?;
        if component["disabled"] == true {
            return Err(ApiError::invalid(format!(
                "`{}` is disabled",
                request.custom_id
            )));
        }
        (message.channel_id, component["type"].as_u64().unwrap_or(2))
    };
    let guild = sim.channel_guild(channel)?;
    let user = or(request.user_id, DEMO_OWNER);
    let mut data = json!({"custom_id": request.custom_id, "component_type": component_type});
    if component_type != 2 {
        data["values"] = json!(request.values.unwrap_or_default());
    }
    let id = sim.send_interaction(3, guild, channel, user, data, Some(request.message_id.0))?;
    Ok(answer(&sim, id, request.timeout_ms).await)
}

#[derive(Debug, Deserialize)]
struct ModalRequest {
    #[serde(flatten)]
    actor: Actor,
    custom_id: String,
    /// Text input custom id → value.
    #[serde(default)]
    fields: Map<String, Value>,
    message_id: Option<Id>,
    timeout_ms: Option<u64>,
}

async fn submit_modal(
    State(sim): State<Arc<Sim>>,
    Json(request): Json<ModalRequest>,
) -> Result<Response, ApiError> {
    let (guild, channel, user) = request.actor.resolve(&sim)?;
    let rows: Vec<Value> = request
        .fields
        .iter()
        .enumerate()
        // Discord numbers every component of the submission (`id`), rows
        // and inputs alike, from 1.
        .map(|(index, (id, value))| {
            let value = value.as_str().map(str::to_string).unwrap_or_else(|| value.to_string());
            let row = 2 * index as u32 + 1;
            json!({"type": 1, "id": row, "components": [{"type": 4, "id": row + 1, "custom_id": id, "value": value}]})
        })
        .collect();
    let data = json!({"custom_id": request.custom_id, "components": rows});
    let id = sim.send_interaction(
        5,
        guild,
        channel,
        user,
        data,
        request.message_id.map(|m| m.0),
    )?;
    Ok(answer(&sim, id, request.timeout_ms).await)
}

async fn interaction(
    State(sim): State<Arc<Sim>>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = crate::error::snowflake(&id, "Interaction")?;
    if !sim.world.state.lock().interactions.contains_key(&id) {
        return Err(ApiError::unknown("Interaction"));
    }
    Ok(Json(describe(&sim, id)))
}

#[derive(Debug, Deserialize)]
struct PostRequest {
    #[serde(flatten)]
    actor: Actor,
    content: String,
}

async fn post_message(
    State(sim): State<Arc<Sim>>,
    Json(request): Json<PostRequest>,
) -> Result<Json<Value>, ApiError> {
    let (_, channel, user) = request.actor.resolve(&sim)?;
    sim.create_message(channel, user, json!({"content": request.content}), 0, None)
        .map(Json)
}

#[derive(Debug, Deserialize)]
struct FloodRequest {
    #[serde(flatten)]
    actor: Actor,
    /// Messages to post.
    count: u32,
    /// How many a second (paced in 10 ms steps).
    per_second: u32,
}

/// Post `count` messages at `per_second` (a raid, a spam wave) as the
/// actor, on a task of its own: answers at once with when it will end.
/// Each message says `flood N`.
async fn flood(
    State(sim): State<Arc<Sim>>,
    Json(request): Json<FloodRequest>,
) -> Result<Json<Value>, ApiError> {
    let (_, channel, user) = request.actor.resolve(&sim)?;
    let per_step = (request.per_second / 100).max(1);
    let steps = request.count.div_ceil(per_step);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_millis(10));
        let mut sent = 0;
        for _ in 0..steps {
            tick.tick().await;
            for _ in 0..per_step.min(request.count - sent) {
                let body = json!({"content": format!("flood {sent}")});
                if sim.create_message(channel, user, body, 0, None).is_err() {
                    return;
                }
                sent += 1;
            }
        }
    });
    Ok(Json(json!({"count": request.count, "ms": steps * 10})))
}

#[derive(Debug, Deserialize)]
struct EditRequest {
    content: String,
}

fn message_channel(sim: &Sim, id: &str) -> Result<(u64, u64), ApiError> {
    let id = crate::error::snowflake(id, "Message")?;
    let channel = sim
        .world
        .state
        .lock()
        .messages
        .get(&id)
        .map(|m| m.channel_id)
        .ok_or_else(|| ApiError::unknown("Message"))?;
    Ok((channel, id))
}

async fn edit_message(
    State(sim): State<Arc<Sim>>,
    Path(id): Path<String>,
    Json(request): Json<EditRequest>,
) -> Result<Json<Value>, ApiError> {
    let (channel, id) = message_channel(&sim, &id)?;
    sim.edit_message(channel, id, json!({"content": request.content}))
        .map(Json)
}

async fn delete_message(
    State(sim): State<Arc<Sim>>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let (channel, id) = message_channel(&sim, &id)?;
    sim.delete_message(channel, id)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
struct MessagesQuery {
    channel_id: Option<String>,
    /// Every author, not only the bot.
    #[serde(default)]
    all: bool,
}

async fn bot_messages(
    State(sim): State<Arc<Sim>>,
    Query(query): Query<MessagesQuery>,
) -> Result<Json<Value>, ApiError> {
    let channel = query
        .channel_id
        .as_deref()
        .map(|c| crate::error::snowflake(c, "Channel"))
        .transpose()?;
    let state = sim.world.state.lock();
    let list: Vec<Value> = state
        .messages
        .values()
        .filter(|m| channel.is_none_or(|c| m.channel_id == c))
        .filter(|m| query.all || m.author_id == BOT_ID)
        .map(|m| message_json(&state, m))
        .collect();
    Ok(Json(json!(list)))
}

#[derive(Debug, Deserialize)]
struct ReactRequest {
    channel_id: Option<Id>,
    message_id: Id,
    user_id: Option<Id>,
    emoji: String,
    #[serde(default)]
    remove: bool,
}

async fn react(
    State(sim): State<Arc<Sim>>,
    Json(request): Json<ReactRequest>,
) -> Result<StatusCode, ApiError> {
    let channel = match request.channel_id {
        Some(c) => c.0,
        None => message_channel(&sim, &request.message_id.0.to_string())?.0,
    };
    sim.react(
        channel,
        request.message_id.0,
        or(request.user_id, DEMO_OWNER),
        &request.emoji,
        !request.remove,
    )?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
struct JoinRequest {
    guild_id: Option<Id>,
    user_id: Option<Id>,
    #[serde(default = "default_username")]
    username: String,
}

fn default_username() -> String {
    "newcomer".into()
}

async fn join(
    State(sim): State<Arc<Sim>>,
    Json(request): Json<JoinRequest>,
) -> Result<Json<Value>, ApiError> {
    let user = request.user_id.map_or_else(|| sim.world.next_id(), |u| u.0);
    sim.add_member(or(request.guild_id, DEMO_GUILD), user, &request.username)
        .map(Json)
}

async fn leave(
    State(sim): State<Arc<Sim>>,
    Path((guild, user)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    sim.remove_member(
        crate::error::snowflake(&guild, "Guild")?,
        crate::error::snowflake(&user, "User")?,
    )?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
struct GuildRequest {
    name: String,
    owner_id: Option<Id>,
    /// The new guild's id (default: a fresh one).
    id: Option<Id>,
}

async fn add_guild(
    State(sim): State<Arc<Sim>>,
    Json(request): Json<GuildRequest>,
) -> Result<Json<Value>, ApiError> {
    let id = sim.add_guild(
        &request.name,
        or(request.owner_id, DEMO_OWNER),
        request.id.map(|i| i.0),
    )?;
    let channel = sim
        .world
        .state
        .lock()
        .channels
        .values()
        .find(|c| c.guild_id == Some(id))
        .map(|c| c.id.to_string());
    Ok(Json(
        json!({"guild_id": id.to_string(), "channel_id": channel}),
    ))
}

#[derive(Debug, Deserialize)]
struct GuildUpdate {
    /// The new owner (a member of the guild).
    owner_id: Id,
}

/// Transfer a guild's ownership (GUILD_UPDATE).
async fn update_guild(
    State(sim): State<Arc<Sim>>,
    Path(id): Path<String>,
    Json(update): Json<GuildUpdate>,
) -> Result<StatusCode, ApiError> {
    sim.transfer_guild(crate::error::snowflake(&id, "Guild")?, update.owner_id.0)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn remove_guild(
    State(sim): State<Arc<Sim>>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    sim.remove_bot(crate::error::snowflake(&id, "Guild")?)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
struct ChannelRequest {
    guild_id: Option<Id>,
    name: String,
}

async fn add_channel(
    State(sim): State<Arc<Sim>>,
    Json(request): Json<ChannelRequest>,
) -> Result<Json<Value>, ApiError> {
    let guild = or(request.guild_id, DEMO_GUILD);
    if !sim.world.state.lock().guilds.contains_key(&guild) {
        return Err(ApiError::unknown("Guild"));
    }
    Ok(Json(sim.create_channel(SimChannel {
        id: sim.world.next_id(),
        guild_id: Some(guild),
        name: request.name,
        kind: 0,
        parent_id: None,
        topic: None,
        position: 9,
        recipient: None,
    })))
}

async fn remove_channel(
    State(sim): State<Arc<Sim>>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    sim.delete_channel(crate::error::snowflake(&id, "Channel")?)
        .map(Json)
}

#[derive(Debug, Deserialize)]
struct RoleRequest {
    guild_id: Option<Id>,
    name: String,
    #[serde(default)]
    permissions: u64,
}

async fn add_role(
    State(sim): State<Arc<Sim>>,
    Json(request): Json<RoleRequest>,
) -> Result<Json<Value>, ApiError> {
    sim.create_role(
        or(request.guild_id, DEMO_GUILD),
        &request.name,
        request.permissions,
    )
    .map(Json)
}

#[derive(Debug, Deserialize)]
struct RawDispatch {
    guild_id: Option<Id>,
    /// The event name, e.g. `MESSAGE_CREATE` (anything, to test bad data).
    t: String,
    /// The payload, as malformed as the test wants.
    d: Value,
}

/// Send any dispatch, well-formed or not, to the shard of `guild_id`.
async fn raw_dispatch(
    State(sim): State<Arc<Sim>>,
    Json(request): Json<RawDispatch>,
) -> Json<Value> {
    let reached = sim.gateway.dispatch(
        Some(or(request.guild_id, DEMO_GUILD)),
        &request.t,
        request.d,
    );
    Json(json!({"sessions": reached}))
}

async fn registrations(State(sim): State<Arc<Sim>>) -> Json<Value> {
    let state = sim.world.state.lock();
    let guilds: Map<String, Value> = state
        .commands
        .guilds
        .iter()
        .map(|(g, list)| (g.to_string(), json!(list)))
        .collect();
    Json(
        json!({"global": state.commands.global, "guilds": guilds, "overwrites": state.commands.overwrites}),
    )
}

async fn requests(State(sim): State<Arc<Sim>>) -> Json<Value> {
    Json(json!(sim.world.state.lock().requests))
}

async fn sessions(State(sim): State<Arc<Sim>>) -> Json<Value> {
    Json(json!(sim.gateway.sessions()))
}

async fn world(State(sim): State<Arc<Sim>>) -> Json<Value> {
    let state = sim.world.state.lock();
    let guilds: Vec<Value> = state
        .guilds
        .values()
        .map(|g| {
            let channels: Vec<Value> = state
                .channels
                .values()
                .filter(|c| c.guild_id == Some(g.id))
                .map(|c| json!({"id": c.id.to_string(), "name": c.name, "type": c.kind}))
                .collect();
            json!({"id": g.id.to_string(), "name": g.name, "owner_id": g.owner_id.to_string(),
                   "bot_present": g.bot_present, "channels": channels,
                   "roles": g.roles.iter().map(|r| json!({"id": r.id.to_string(), "name": r.name})).collect::<Vec<_>>(),
                   "members": g.members.keys().map(u64::to_string).collect::<Vec<_>>()})
        })
        .collect();
    let users: Vec<Value> = state
        .users
        .values()
        .map(|u| json!({"id": u.id.to_string(), "username": u.username, "bot": u.bot}))
        .collect();
    Json(json!({"bot_id": BOT_ID.to_string(), "users": users, "guilds": guilds}))
}

#[derive(Debug, Deserialize)]
struct GatewayFaultRequest {
    /// The shard (all when absent).
    shard: Option<u64>,
    #[serde(flatten)]
    fault: GatewayFault,
}

async fn gateway_fault(
    State(sim): State<Arc<Sim>>,
    Json(request): Json<GatewayFaultRequest>,
) -> Json<Value> {
    let reached = sim.gateway.inject(request.shard, &request.fault);
    Json(json!({"sessions": reached}))
}

async fn rest_fault(State(sim): State<Arc<Sim>>, Json(fault): Json<RestFault>) -> StatusCode {
    sim.faults.push(fault);
    StatusCode::NO_CONTENT
}

async fn rest_faults(State(sim): State<Arc<Sim>>) -> Json<Value> {
    Json(json!(sim.faults.pending()))
}
