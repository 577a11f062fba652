//! Which cogs a guild has turned on: the list (every loaded cog, with its
//! state in this guild) and the switch. A cog turned off in a guild is not
//! run there: its commands answer "turned off in this server" and it gets no
//! events of the guild.

use axum::Json;
use axum::extract::{Path, State};
use axum::routing::{get, put};
use baseline_api_types::{GuildCogView, Switch};
use serde::Deserialize;

use super::access::{GuildEditor, GuildViewer};
use super::{ApiError, ApiState};
use crate::store::guilds::GuildStore;

#[derive(Deserialize)]
pub struct CogPath {
    #[allow(dead_code)]
    guild_id: String,
    cog: String,
}

fn store(state: &ApiState) -> Result<GuildStore, ApiError> {
    state
        .runtime
        .services()
        .database
        .clone()
        .map(GuildStore::new)
        .ok_or_else(|| ApiError::Unavailable("this host has no database".into()))
}

fn unavailable(error: crate::store::StoreError) -> ApiError {
    ApiError::service("database", error)
}

/// Whether `cog` runs in `guild`: its switch there, else the operator's
/// default (the default alone when the host has no database).
pub(super) async fn enabled_in(state: &ApiState, guild: u64, cog: &str) -> Result<bool, ApiError> {
    let default = state.runtime.config().on_by_default(cog);
    match &state.runtime.services().database {
        Some(db) => Ok(GuildStore::new(db.clone())
            .cog_switch(guild, cog)
            .await
            .map_err(unavailable)?
            .unwrap_or(default)),
        None => Ok(default),
    }
}

/// Every loaded cog and whether it runs in this guild.
#[utoipa::path(get, path = "/api/v1/guilds/{guild_id}/cogs", params(("guild_id" = String, Path)),
    extensions(("x-tier" = json!("viewer"))),
    responses((status = 200, body = [GuildCogView]), (status = 401), (status = 403), (status = 503)))]
pub async fn list(
    access: GuildViewer,
    State(state): State<ApiState>,
) -> Result<Json<Vec<GuildCogView>>, ApiError> {
    let mut views = Vec::new();
    for cog in state.runtime.registry().list() {
        let enabled = enabled_in(&state, access.guild_id, cog.name()).await?;
        views.push(view(&cog, enabled));
    }
    Ok(Json(views))
}

/// Turn a cog on or off in this guild.
#[utoipa::path(put, path = "/api/v1/guilds/{guild_id}/cogs/{cog}/enabled",
    params(("guild_id" = String, Path), ("cog" = String, Path)), request_body = Switch,
    extensions(("x-tier" = json!("editor"))),
    responses((status = 200, body = GuildCogView), (status = 401), (status = 403), (status = 404), (status = 503)))]
pub async fn switch(
    access: GuildEditor,
    State(state): State<ApiState>,
    Path(path): Path<CogPath>,
    Json(switch): Json<Switch>,
) -> Result<Json<GuildCogView>, ApiError> {
    let cog = state
        .runtime
        .registry()
        .get(&path.cog)
        .ok_or_else(|| ApiError::NotFound(format!("no cog `{}` is loaded", path.cog)))?;
    let store = store(&state)?;
    store
        .set_cog_enabled(
            access.guild_id,
            cog.name(),
            switch.enabled,
            Some(access.session.user_id),
        )
        .await
        .map_err(unavailable)?;
    tracing::info!(
        guild = access.guild_id,
        cog = cog.name(),
        enabled = switch.enabled,
        by = access.session.user_id,
        "cog switched"
    );
    Ok(Json(view(&cog, switch.enabled)))
}

/// `cog` as a guild sees it.
fn view(cog: &crate::runtime::LoadedCog, enabled: bool) -> GuildCogView {
    GuildCogView {
        name: cog.name().to_string(),
        version: cog.manifest.version.clone(),
        description: cog.manifest.description.clone(),
        commands: cog
            .manifest
            .commands
            .iter()
            .map(|c| format!("/{}", c.name))
            .collect(),
        enabled,
        settings: cog.settings_schema.is_some(),
    }
}

pub fn router() -> axum::Router<ApiState> {
    axum::Router::new()
        .route("/guilds/{guild_id}/cogs", get(list))
        .route("/guilds/{guild_id}/cogs/{cog}/enabled", put(switch))
}
