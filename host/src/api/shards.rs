//! Shards, for operators: every shard of the bot across processes (state,
//! latency, guilds, owning process, last seen, recent latencies), and which
//! shard serves a guild. Read from the shard monitor, so any process of the
//! bot answers for all of them.

use axum::Json;
use axum::extract::{Path, State};
use axum::routing::get;
use baseline_api_types::operators::{GuildShardView, ShardsView};

use super::access::Developer;
use super::{ApiError, ApiState};
use crate::discord::ShardMonitor;
use crate::discord::shards::{ShardRecord, shard_of};

fn monitor(state: &ApiState) -> Result<&std::sync::Arc<ShardMonitor>, ApiError> {
    state
        .runtime
        .services()
        .shards
        .as_ref()
        .ok_or_else(|| ApiError::Unavailable("this host has no Discord connection".into()))
}

async fn read(monitor: &ShardMonitor) -> Result<(u32, Vec<ShardRecord>), ApiError> {
    monitor
        .all()
        .await
        .map_err(|error| ApiError::service("shard monitor", error))
}

/// Every shard of the bot, from every process.
#[utoipa::path(get, path = "/api/v1/shards", responses((status = 200, body = ShardsView), (status = 401), (status = 403), (status = 503)))]
pub async fn list(
    _: Developer,
    State(state): State<ApiState>,
) -> Result<Json<ShardsView>, ApiError> {
    let (total, shards) = read(monitor(&state)?).await?;
    let missing = (0..total)
        .filter(|id| !shards.iter().any(|s| s.id == *id))
        .collect();
    Ok(Json(ShardsView {
        total,
        shards,
        missing,
    }))
}

/// The shard that serves a guild.
#[utoipa::path(get, path = "/api/v1/shards/guilds/{guild_id}", params(("guild_id" = String, Path, description = "Guild id")),
    responses((status = 200, body = GuildShardView), (status = 400), (status = 401), (status = 403), (status = 503)))]
pub async fn for_guild(
    _: Developer,
    State(state): State<ApiState>,
    Path(guild_id): Path<String>,
) -> Result<Json<GuildShardView>, ApiError> {
    let guild: u64 = guild_id
        .parse()
        .map_err(|_| ApiError::BadRequest(format!("`{guild_id}` is not a guild id")))?;
    let (total, shards) = read(monitor(&state)?).await?;
    if total == 0 {
        return Err(ApiError::Unavailable("no shard has reported yet".into()));
    }
    let shard_id = shard_of(guild, total);
    Ok(Json(GuildShardView {
        guild_id: guild.to_string(),
        shard_id,
        total,
        shard: shards.into_iter().find(|s| s.id == shard_id),
    }))
}

pub fn router() -> axum::Router<ApiState> {
    axum::Router::new()
        .route("/shards", get(list))
        .route("/shards/guilds/{guild_id}", get(for_guild))
}
