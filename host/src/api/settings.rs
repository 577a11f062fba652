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
