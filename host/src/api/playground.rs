//! The playground: the developer team runs a slash command as a simulated
//! Discord user, clicks the buttons and picks from the selects of the
//! answer, and fills its forms, through the Discord simulator the bot is
//! connected to — the real path (gateway, dispatch, the cog, REST), not a
//! shortcut. The answers are the simulator's record of the interaction:
//! Discord's own message JSON, which the dashboard draws as Discord would.
//!
//! It exists when the bot talks to a simulator (the embedded default of
//! `baseline run`, or `discord.url` pointing at one); against Discord
//! itself there is no one to play the user, and the routes say so.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use super::access::Developer;
use super::{ApiError, ApiState};

/// How long the simulator waits for the bot's answer.
const ANSWER_MS: u64 = 10_000;

/// The simulator the bot is connected to.
#[derive(Debug, Clone)]
pub struct Playground {
    /// Its HTTP base (`http://127.0.0.1:8090`).
    pub simulator: String,
    client: reqwest::Client,
}

impl Playground {
    /// The playground over the simulator at `simulator`.
    pub fn new(simulator: impl Into<String>) -> Self {
        Self {
            simulator: simulator.into().trim_end_matches('/').to_string(),
            client: reqwest::Client::builder()
                .timeout(Duration::from_millis(ANSWER_MS + 5_000))
                .build()
                .expect("a plain HTTP client"),
        }
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, ApiError> {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.simulator));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| ApiError::Unavailable(format!("the simulator did not answer: {e}")))?;
        let status = response.status();
        let body: Value = response.json().await.map_err(|e| {
            ApiError::Unavailable(format!("the simulator's answer was unreadable: {e}"))
        })?;
        match status.as_u16() {
            200..=299 | 504 => Ok(body),
            404 => Err(ApiError::NotFound(message(&body))),
            _ => Err(ApiError::BadRequest(message(&body))),
        }
    }
}

fn message(body: &Value) -> String {
    body["message"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| body.to_string())
}

fn playground(state: &ApiState) -> Result<&Playground, ApiError> {
    state.playground.as_deref().ok_or_else(|| {
        ApiError::Unavailable(
            "the playground needs the bot to talk to a Discord simulator (the default without DISCORD_TOKEN, or discord.url)"
                .into(),
        )
    })
}

/// Who may be played, where, and the commands the bot registered there.
#[utoipa::path(get, path = "/api/v1/playground",
    responses((status = 200, description = "`{guild_id, guild_name, channel_id, default_user, users: [{id, username}], commands: [Discord's command objects]}`"),
        (status = 401), (status = 403), (status = 503)))]
pub async fn overview(
    _: Developer,
    State(state): State<ApiState>,
) -> Result<Json<Value>, ApiError> {
    let playground = playground(&state)?;
    let world = playground
        .call(reqwest::Method::GET, "/_sim/world", None)
        .await?;
    let registered = playground
        .call(reqwest::Method::GET, "/_sim/commands", None)
        .await?;
    // The first server the bot is in, and its first text channel: where the
    // simulator runs commands when no place is named.
    let guild = world["guilds"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|g| g["bot_present"] == true)
        .cloned()
        .unwrap_or(Value::Null);
    let guild_id = guild["id"].clone();
    let channel_id = guild["channels"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["type"] == 0)
        .map(|c| c["id"].clone())
        .unwrap_or(Value::Null);
    let users: Vec<Value> = world["users"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|u| u["bot"] != true)
        .map(|u| json!({"id": u["id"], "username": u["username"]}))
        .collect();
    let mut commands: Vec<Value> = registered["global"].as_array().cloned().unwrap_or_default();
    if let Some(id) = guild_id.as_str() {
        commands.extend(
            registered["guilds"][id]
                .as_array()
                .cloned()
                .unwrap_or_default(),
        );
    }
    Ok(Json(json!({
        "guild_id": guild_id,
        "guild_name": guild["name"],
        "channel_id": channel_id,
        "default_user": guild["owner_id"],
        "users": users,
        "commands": commands,
    })))
}

/// A command to run as a user.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct PlayCommand {
    /// `dice roll` (command, group, subcommand).
    name: String,
    /// `{"sides": 20}`.
    #[serde(default)]
    #[schema(value_type = Object)]
    options: Value,
    /// The user who runs it (the demo owner when absent).
    user_id: Option<String>,
}

/// Run a slash command as a simulated user; the interaction as the
/// simulator recorded it (the reply, follow-ups, a modal, or a timeout).
#[utoipa::path(post, path = "/api/v1/playground/commands", request_body = PlayCommand,
    responses((status = 200, description = "the simulator's record of the interaction"), (status = 400), (status = 401), (status = 403), (status = 503)))]
pub async fn command(
    Developer(session): Developer,
    State(state): State<ApiState>,
    Json(play): Json<PlayCommand>,
) -> Result<Json<Value>, ApiError> {
    if play.name.trim().is_empty() || play.name.len() > 100 {
        return Err(ApiError::BadRequest(
            "a command name is 1 to 100 characters".into(),
        ));
    }
    tracing::info!(command = %play.name, by = session.user_id, "playground command");
    let mut body = json!({"name": play.name, "options": play.options, "timeout_ms": ANSWER_MS});
    if let Some(user) = play.user_id {
        body["user_id"] = json!(user);
    }
    let answer = playground(&state)?
        .call(reqwest::Method::POST, "/_sim/commands", Some(body))
        .await?;
    Ok(Json(answer))
}

/// A click on a button, or a pick from a select, of a message.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct PlayComponent {
    /// The message.
    message_id: String,
    /// The component's custom id.
    custom_id: String,
    /// For a select: the values picked.
    values: Option<Vec<String>>,
    /// Who clicks (the demo owner when absent).
    user_id: Option<String>,
}

/// Click a button or pick from a select as a simulated user.
#[utoipa::path(post, path = "/api/v1/playground/components", request_body = PlayComponent,
    responses((status = 200, description = "the simulator's record of the interaction"), (status = 400), (status = 401), (status = 403), (status = 404), (status = 503)))]
pub async fn component(
    _: Developer,
    State(state): State<ApiState>,
    Json(play): Json<PlayComponent>,
) -> Result<Json<Value>, ApiError> {
    let mut body = json!({"message_id": play.message_id, "custom_id": play.custom_id, "timeout_ms": ANSWER_MS});
    if let Some(values) = play.values {
        body["values"] = json!(values);
    }
    if let Some(user) = play.user_id {
        body["user_id"] = json!(user);
    }
    let answer = playground(&state)?
        .call(reqwest::Method::POST, "/_sim/components", Some(body))
        .await?;
    Ok(Json(answer))
}

/// A modal submitted.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct PlayModal {
    /// The modal's custom id.
    custom_id: String,
    /// The text inputs' values, by their custom ids.
    #[schema(value_type = Object)]
    fields: Value,
    /// The message whose button opened it, if one did.
    message_id: Option<String>,
    /// Who submits (the demo owner when absent).
    user_id: Option<String>,
}

/// Submit a modal the bot opened, as a simulated user.
#[utoipa::path(post, path = "/api/v1/playground/modals", request_body = PlayModal,
    responses((status = 200, description = "the simulator's record of the interaction"), (status = 400), (status = 401), (status = 403), (status = 404), (status = 503)))]
pub async fn modal(
    _: Developer,
    State(state): State<ApiState>,
    Json(play): Json<PlayModal>,
) -> Result<Json<Value>, ApiError> {
    let mut body =
        json!({"custom_id": play.custom_id, "fields": play.fields, "timeout_ms": ANSWER_MS});
    if let Some(message) = play.message_id {
        body["message_id"] = json!(message);
    }
    if let Some(user) = play.user_id {
        body["user_id"] = json!(user);
    }
    let answer = playground(&state)?
        .call(reqwest::Method::POST, "/_sim/modals", Some(body))
        .await?;
    Ok(Json(answer))
}

pub fn router() -> axum::Router<ApiState> {
    axum::Router::new()
        .route("/playground", get(overview))
        .route("/playground/commands", post(command))
        .route("/playground/components", post(component))
        .route("/playground/modals", post(modal))
}
