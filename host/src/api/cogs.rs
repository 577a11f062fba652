//! Cogs, for operators: what is loaded (version, state, last load error,
//! counters) and reloading one from its file.

use axum::Json;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use baseline_api_types::operators::{CapabilityStatus, CogCounters, CogStatus};
use serde::Serialize;

use super::access::Developer;
use super::{ApiError, ApiState};

/// Every loaded cog and every cog file that failed to load.
#[utoipa::path(get, path = "/api/v1/cogs", responses((status = 200, body = [CogStatus]), (status = 401), (status = 403)))]
pub async fn list(_: Developer, State(state): State<ApiState>) -> Json<Vec<CogStatus>> {
    let registry = state.runtime.registry();
    let failures = registry.failures();
    let mut views: Vec<CogStatus> = registry
        .list()
        .into_iter()
        .map(|cog| {
            let last_error = failures.get(&cog.path).map(|f| f.error.clone());
            CogStatus {
                name: Some(cog.name().to_string()),
                version: Some(cog.manifest.version.clone()),
                state: match last_error.is_some() {
                    true => "loaded-with-error".into(),
                    false => "loaded".into(),
                },
                file: cog.path.display().to_string(),
                last_error,
                commands: cog
                    .manifest
                    .commands
                    .iter()
                    .map(|c| c.name.clone())
                    .collect(),
                granted: cog.grants.granted().map(String::from).collect(),
                withheld: cog.grants.withheld().map(String::from).collect(),
                capabilities: cog
                    .manifest
                    .capabilities
                    .iter()
                    .map(|c| CapabilityStatus {
                        name: c.name.clone(),
                        reason: c.reason.clone(),
                        granted: !cog.grants.withheld().any(|w| w == c.name),
                    })
                    .collect(),
                metrics: Some(counters(cog.metrics.snapshot())),
                ui_module: cog.ui.as_ref().map(|ui| match ui {
                    Ok(module) => format!("served ({} bytes)", module.bytes.len()),
                    Err(reason) => format!("refused: {reason}"),
                }),
                wit_version: Some(cog.facts.wit_version.clone()),
                declared_name: cog.declared_name.clone(),
            }
        })
        .collect();
    for (file, failure) in failures {
        if registry.by_file(&file).is_none() {
            views.push(CogStatus {
                name: None,
                version: None,
                state: "failed".into(),
                file: file.display().to_string(),
                last_error: Some(failure.error),
                commands: vec![],
                granted: vec![],
                withheld: vec![],
                capabilities: vec![],
                metrics: None,
                ui_module: None,
                wit_version: None,
                declared_name: None,
            });
        }
    }
    Json(views)
}

fn counters(snapshot: crate::runtime::metrics::MetricsSnapshot) -> CogCounters {
    CogCounters {
        invocations: snapshot.invocations,
        ok: snapshot.ok,
        cog_errors: snapshot.cog_errors,
        failures: snapshot
            .failures
            .into_iter()
            .map(|(kind, count)| (kind.to_string(), count))
            .collect(),
        p50_us: snapshot.p50_us,
        p90_us: snapshot.p90_us,
        p99_us: snapshot.p99_us,
        max_us: snapshot.max_us,
    }
}

/// What a cog keeps beyond its calls, per guild (`0`/`global`: its global space).
#[derive(Serialize, utoipa::ToSchema)]
pub struct CogUsageView {
    /// The cog.
    cog: String,
    /// Its quotas.
    #[schema(value_type = Object)]
    quotas: crate::config::QuotaConfig,
    /// kv per guild: `guild_id`, `keys`, `bytes`.
    #[schema(value_type = Vec<Object>)]
    kv: Vec<crate::store::kv::CogUsage>,
    /// Cache per space (`cog:NAME:GUILD`): keys and bytes.
    #[schema(value_type = Object)]
    cache: std::collections::BTreeMap<String, crate::cache::SpaceUsage>,
    /// Its share: slots, running now, events waiting, events shed, demotions.
    #[schema(value_type = Object)]
    share: serde_json::Value,
}

/// kv and cache usage of a cog, per guild, with its quotas and share.
#[utoipa::path(get, path = "/api/v1/cogs/{name}/usage", params(("name" = String, Path, description = "Cog name")),
    responses((status = 200, body = CogUsageView), (status = 401), (status = 403), (status = 404), (status = 503)))]
pub async fn usage(
    _: Developer,
    State(state): State<ApiState>,
    Path(name): Path<String>,
) -> Result<Json<CogUsageView>, ApiError> {
    let runtime = &state.runtime;
    let cog = runtime
        .registry()
        .get(&name)
        .ok_or_else(|| ApiError::NotFound(format!("no cog `{name}` is loaded")))?;
    let services = runtime.services();
    let kv = services.kv.usage(Some(&name)).await?;
    let cache = services
        .cache
        .space_usage(&format!("cog:{name}:"))
        .await
        .map_err(|e| ApiError::service("cache", e))?
        .into_iter()
        .collect();
    Ok(Json(CogUsageView {
        cog: name,
        quotas: cog.quotas,
        kv,
        cache,
        share: serde_json::json!({
            "concurrency": cog.share.concurrency(),
            "running": cog.share.running(),
            "events_waiting": cog.share.queued_events(),
            "events_shed": cog.share.shed_events(),
            "demotions": cog.share.demotions(),
            "demoted": cog.share.demoted(),
        }),
    }))
}

/// Load the cog's file again (after fixing a grant, say).
#[utoipa::path(post, path = "/api/v1/cogs/{name}/reload", params(("name" = String, Path, description = "Cog name")),
    responses((status = 200, description = "`{name, version, hash}` of the version now serving"), (status = 404), (status = 422)))]
pub async fn reload(
    _: Developer,
    State(state): State<ApiState>,
    Path(name): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let runtime = &state.runtime;
    let cog = runtime
        .registry()
        .get(&name)
        .ok_or_else(|| ApiError::NotFound(format!("no cog `{name}` is loaded")))?;
    match runtime.load_file(&cog.path).await {
        Ok(cog) => Ok(Json(
            serde_json::json!({"name": cog.name(), "version": cog.manifest.version, "hash": cog.hash}),
        )),
        Err(error) => Err(ApiError::Invalid(vec![super::error::FieldError {
            path: String::new(),
            message: error.to_string(),
        }])),
    }
}

/// Delete everything cogs stored about a user, in every cog and guild,
/// and the messages the host remembers of theirs (Discord's data-deletion
/// expectations). Returns how many keys and messages went.
#[utoipa::path(delete, path = "/api/v1/users/{user_id}/data", params(("user_id" = String, Path, description = "Discord user id")),
    responses((status = 200, description = "`{\"deleted_keys\": n, \"forgotten_messages\": m}`: cog data and remembered messages deleted"), (status = 400), (status = 401), (status = 403)))]
pub async fn forget_user(
    Developer(session): Developer,
    State(state): State<ApiState>,
    Path(user_id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let user: u64 = user_id
        .parse()
        .map_err(|_| ApiError::BadRequest(format!("`{user_id}` is not a user id")))?;
    let services = state.runtime.services();
    let deleted = services.kv.forget_user(user).await?;
    // What the host remembers of their messages, stored and in memory.
    let messages = match &services.database {
        Some(db) => {
            crate::store::remembered::RememberedMessages::new(db.clone())
                .forget_author(user)
                .await?
        }
        None => 0,
    };
    if let Some(link) = &services.discord {
        link.forget_user(user);
    }
    tracing::info!(
        user,
        deleted,
        messages,
        by = session.user_id,
        "forgot a user's cog data"
    );
    Ok(Json(
        serde_json::json!({"deleted_keys": deleted, "forgotten_messages": messages}),
    ))
}

pub fn router() -> axum::Router<ApiState> {
    axum::Router::new()
        .route("/cogs", get(list))
        .route("/cogs/{name}/reload", post(reload))
        .route("/cogs/{name}/usage", get(usage))
        .route("/users/{user_id}/data", axum::routing::delete(forget_user))
}
