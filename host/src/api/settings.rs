//! A guild's settings of a cog: read (with the schema's defaults), write
//! (validated against the cog's schema: 422 with a path per field, audited
//! with who and before/after), and the audit trail.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::routing::get;
use serde_json::Value;

use super::access::{GuildEditor, GuildViewer};
use baseline_api_types::{SettingsChange, SettingsView};

use super::error::FieldError;
use super::{ApiError, ApiState};
use crate::runtime::LoadedCog;

#[derive(serde::Deserialize)]
pub struct CogPath {
    #[allow(dead_code)]
    guild_id: String,
    cog: String,
}

fn cog_with_settings(state: &ApiState, name: &str) -> Result<Arc<LoadedCog>, ApiError> {
    let cog = state
        .runtime
        .registry()
        .get(name)
        .ok_or_else(|| ApiError::NotFound(format!("no cog `{name}` is loaded")))?;
    if cog.settings_schema.is_none() {
        return Err(ApiError::NotFound(format!("cog `{name}` has no settings")));
    }
    Ok(cog)
}

fn view(cog: &LoadedCog, saved: Option<Value>) -> SettingsView {
    let schema = cog
        .settings_schema
        .as_ref()
        .expect("checked by cog_with_settings");
    SettingsView {
        value: schema.with_defaults(saved.as_ref()),
        schema: schema.document.clone(),
    }
}

/// This guild's settings of a cog.
#[utoipa::path(get, path = "/api/v1/guilds/{guild_id}/cogs/{cog}/settings",
    params(("guild_id" = String, Path), ("cog" = String, Path)),
    extensions(("x-tier" = json!("viewer"))),
    responses((status = 200, body = SettingsView), (status = 401), (status = 403), (status = 404)))]
pub async fn get_settings(
    access: GuildViewer,
    State(state): State<ApiState>,
    Path(path): Path<CogPath>,
) -> Result<Json<SettingsView>, ApiError> {
    let cog = cog_with_settings(&state, &path.cog)?;
    let saved = state
        .runtime
        .services()
        .settings
        .get(cog.name(), access.guild_id)
        .await?;
    Ok(Json(view(&cog, saved)))
}

/// Replace this guild's settings of a cog. Missing fields take the defaults.
#[utoipa::path(put, path = "/api/v1/guilds/{guild_id}/cogs/{cog}/settings",
    params(("guild_id" = String, Path), ("cog" = String, Path)),
    request_body(content = Object, description = "The settings object"),
    extensions(("x-tier" = json!("editor"))),
    responses((status = 200, body = SettingsView), (status = 401), (status = 403), (status = 404), (status = 422, description = "Field errors")))]
pub async fn put_settings(
    access: GuildEditor,
    State(state): State<ApiState>,
    Path(path): Path<CogPath>,
    body: Result<Json<Value>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<SettingsView>, ApiError> {
    let cog = cog_with_settings(&state, &path.cog)?;
    let Json(document) = body?;
    let schema = cog
        .settings_schema
        .as_ref()
        .expect("checked by cog_with_settings");
    let before = state
        .runtime
        .services()
        .settings
        .get(cog.name(), access.guild_id)
        .await?
        .map(|saved| schema.with_defaults(Some(&saved)))
        .unwrap_or_else(|| schema.defaults.clone());
    let merged = schema.accept(&document).map_err(|problems| {
        ApiError::Invalid(
            problems
                .into_iter()
                .map(|v| FieldError {
                    path: v.path,
                    message: v.message,
                })
                .collect(),
        )
    })?;
    check_discord_ids(
        &state,
        access.session.user_id,
        access.guild_id,
        &schema.document,
        &before,
        &merged,
    )
    .await?;
    state
        .runtime
        .services()
        .settings
        .put(
            cog.name(),
            access.guild_id,
            merged.clone(),
            Some(access.session.user_id),
        )
        .await?;
    Ok(Json(view(&cog, Some(merged))))
}

/// Most Discord ids one save may add (each may cost a call to Discord).
const MAX_NEW_IDS: usize = 25;

/// The Discord ids this save adds (not those already saved) name a
/// channel, a role or a member of this guild: a settings document is the
/// admin's claim, and a cog that posts to "its" log channel must not be
/// pointed at another server's. 422 by field otherwise.
async fn check_discord_ids(
    state: &ApiState,
    user: u64,
    guild: u64,
    schema: &Value,
    before: &Value,
    after: &Value,
) -> Result<(), ApiError> {
    use crate::schema::{DISCORD_CHANNEL, DISCORD_ROLE, discord_refs};
    let known: std::collections::HashSet<(String, u64)> = discord_refs(schema, before)
        .into_iter()
        .map(|r| (r.path, r.id))
        .collect();
    let added: Vec<_> = discord_refs(schema, after)
        .into_iter()
        .filter(|r| !known.contains(&(r.path.clone(), r.id)))
        .collect();
    if added.is_empty() {
        return Ok(());
    }
    if added.len() > MAX_NEW_IDS {
        return Err(ApiError::BadRequest(format!(
            "one save may add at most {MAX_NEW_IDS} channels, roles or members"
        )));
    }
    let ids = |list: Vec<Value>| -> std::collections::HashSet<u64> {
        list.iter()
            .filter_map(|item| item["id"].as_str()?.parse().ok())
            .collect()
    };
    let wants = |format| added.iter().any(|r| r.format == format);
    let channels = match wants(DISCORD_CHANNEL) {
        true => ids(super::guilds::through_bot(
            state,
            user,
            guild,
            &format!("/guilds/{guild}/channels"),
            super::guilds::BOT_WAIT,
        )
        .await?),
        false => Default::default(),
    };
    let roles = match wants(DISCORD_ROLE) {
        true => ids(super::guilds::through_bot(
            state,
            user,
            guild,
            &format!("/guilds/{guild}/roles"),
            super::guilds::BOT_WAIT,
        )
        .await?),
        false => Default::default(),
    };
    let mut problems = Vec::new();
    for reference in added {
        let (found, what) = match reference.format {
            DISCORD_CHANNEL => (channels.contains(&reference.id), "channel"),
            DISCORD_ROLE => (roles.contains(&reference.id), "role"),
            _ => {
                let path = format!("/guilds/{guild}/members/{}", reference.id);
                match super::guilds::through_bot::<Value>(
                    state,
                    user,
                    guild,
                    &path,
                    super::guilds::BOT_WAIT,
                )
                .await
                {
                    Ok(_) => (true, "member"),
                    Err(ApiError::NotFound(_)) => (false, "member"),
                    Err(error) => return Err(error),
                }
            }
        };
        if !found {
            problems.push(FieldError {
                path: reference.path,
                message: format!("{what} {} is not in this server", reference.id),
            });
        }
    }
    match problems.is_empty() {
        true => Ok(()),
        false => Err(ApiError::Invalid(problems)),
    }
}

/// The latest changes of this guild's settings of a cog, newest first.
#[utoipa::path(get, path = "/api/v1/guilds/{guild_id}/cogs/{cog}/settings/audit",
    params(("guild_id" = String, Path), ("cog" = String, Path)),
    extensions(("x-tier" = json!("viewer"))),
    responses((status = 200, body = [SettingsChange]), (status = 401), (status = 403), (status = 404)))]
pub async fn audit(
    access: GuildViewer,
    State(state): State<ApiState>,
    Path(path): Path<CogPath>,
) -> Result<Json<Vec<SettingsChange>>, ApiError> {
    let cog = cog_with_settings(&state, &path.cog)?;
    Ok(Json(
        state
            .runtime
            .services()
            .settings
            .history(cog.name(), access.guild_id, 100)
            .await?,
    ))
}

pub fn router() -> axum::Router<ApiState> {
    axum::Router::new()
        .route(
            "/guilds/{guild_id}/cogs/{cog}/settings",
            get(get_settings).put(put_settings),
        )
        .route("/guilds/{guild_id}/cogs/{cog}/settings/audit", get(audit))
}
