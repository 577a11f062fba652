//! The bot health server, on its own port (`health_addr`, default
//! 127.0.0.1:8080) for container orchestrators and Prometheus:
//!
//! - `GET /livez`: the process answers (200).
//! - `GET /readyz`: this process's shards are all connected and the
//!   database and cache answer (200), else 503 — with the shards and the
//!   services in the body either way.
//! - `GET /metrics`: Prometheus (OpenMetrics text): shards (state, latency,
//!   guilds), invocations and failures per cog, interaction latency, Discord
//!   REST calls and 429s, database and cache health.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use serde_json::json;

use crate::dispatch::Bot;
use crate::probe::Probe;
use crate::runtime::Runtime;

/// What the health server reads.
#[derive(Clone)]
pub struct HealthState {
    /// The runtime (cogs, services).
    pub runtime: Arc<Runtime>,
    /// The Discord side.
    pub bot: Arc<Bot>,
}

/// The routes.
pub fn router(state: HealthState) -> Router {
    Router::new()
        .route("/livez", get(|| async { Json(json!({"status": "alive"})) }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .with_state(state)
}

/// Serve on `addr`; the address bound.
pub async fn serve(
    state: HealthState,
    addr: std::net::SocketAddr,
) -> anyhow::Result<std::net::SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr} for the health server: {e}"))?;
    let bound = listener.local_addr()?;
    let app = router(state);
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, app).await {
            tracing::error!(%error, "the health server stopped");
        }
    });
    Ok(bound)
}

/// The database (when there is one) and the cache, probed.
async fn services(runtime: &Runtime) -> (Option<Probe>, Probe, bool) {
    let services = runtime.services();
    let database = match &services.database {
        Some(db) => Some(Probe::database(db).await),
        None => None,
    };
    let cache = Probe::cache(services.cache.as_ref()).await;
    let healthy = database.as_ref().is_none_or(|d| d.healthy) && cache.healthy;
    (database, cache, healthy)
}

async fn ready(State(state): State<HealthState>) -> impl IntoResponse {
    let shards = state.bot.monitor.local();
    // Every shard this process should run must be there and connected
    // (a bucket identifies one shard every 5 s).
    let expected = state.bot.expected_shards();
    let connected = !expected.is_empty()
        && expected
            .iter()
            .all(|id| shards.iter().any(|s| s.id == *id && s.state == "connected"));
    let (database, cache, healthy) = services(&state.runtime).await;
    let ready = connected && healthy;
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(json!({
            "ready": ready,
            "process": state.bot.monitor.process(),
            "expected_shards": expected,
            "shards": shards,
            "database": database,
            "cache": cache,
        })),
    )
}

type Labels = Vec<(String, String)>;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

async fn metrics(State(state): State<HealthState>) -> impl IntoResponse {
    let mut registry = Registry::with_prefix("baseline");

    let up = Family::<Labels, Gauge>::default();
    let latency = Family::<Labels, Gauge<f64, std::sync::atomic::AtomicU64>>::default();
    let guilds = Family::<Labels, Gauge>::default();
    for shard in state.bot.monitor.local() {
        let id = shard.id.to_string();
        up.get_or_create(&labels(&[("shard", &id), ("state", &shard.state)]))
            .set(1);
        if let Some(ms) = shard.latency_ms {
            latency
                .get_or_create(&labels(&[("shard", &id)]))
                .set(ms / 1000.0);
        }
        guilds
            .get_or_create(&labels(&[("shard", &id)]))
            .set(i64::from(shard.guilds));
    }
    registry.register(
        "shard_state",
        "Shards of this process by state (1 per shard)",
        up,
    );
    registry.register(
        "shard_latency_seconds",
        "Last heartbeat round trip per shard",
        latency,
    );
    registry.register("shard_guilds", "Guilds per shard", guilds);

    let invocations = Family::<Labels, Counter>::default();
    let failures = Family::<Labels, Counter>::default();
    let cog_errors = Family::<Labels, Counter>::default();
    let shed = Family::<Labels, Counter>::default();
    let demotions = Family::<Labels, Counter>::default();
    let running = Family::<Labels, Gauge>::default();
    let spares = Family::<Labels, Gauge>::default();
    for cog in state.runtime.registry().list() {
        let snapshot = cog.metrics.snapshot();
        let name = cog.name();
        shed.get_or_create(&labels(&[("cog", name)]))
            .inc_by(cog.share.shed_events());
        demotions
            .get_or_create(&labels(&[("cog", name)]))
            .inc_by(cog.share.demotions());
        running
            .get_or_create(&labels(&[("cog", name)]))
            .set(cog.share.running() as i64);
        spares
            .get_or_create(&labels(&[("cog", name)]))
            .set(cog.spare_instances() as i64);
        invocations
            .get_or_create(&labels(&[("cog", name)]))
            .inc_by(snapshot.invocations);
        cog_errors
            .get_or_create(&labels(&[("cog", name)]))
            .inc_by(snapshot.cog_errors);
        for kind in crate::runtime::FailureKind::ALL {
            let count = snapshot.failures.get(kind.name()).copied().unwrap_or(0);
            failures
                .get_or_create(&labels(&[("cog", name), ("kind", kind.name())]))
                .inc_by(count);
        }
    }
    registry.register("cog_invocations", "Invocations per cog", invocations);
    registry.register(
        "cog_failures",
        "Invocations the host ended, per cog and kind",
        failures,
    );
    registry.register(
        "cog_errors",
        "Invocations the cog answered with its own error",
        cog_errors,
    );
    registry.register(
        "cog_events_shed",
        "Gateway events dropped because the cog's event queue was full",
        shed,
    );
    registry.register(
        "cog_demotions",
        "Times a cog was demoted for computing long or running into a limit",
        demotions,
    );
    registry.register("cog_running", "Invocations running now, per cog", running);
    registry.register(
        "cog_spare_instances",
        "Instances made ahead of calls and ready now, per cog",
        spares,
    );
    // What each cog keeps in kv, over all guilds (one cheap query).
    let kv_bytes = Family::<Labels, Gauge>::default();
    let kv_keys = Family::<Labels, Gauge>::default();
    match state.runtime.services().kv.usage(None).await {
        Ok(rows) => {
            for row in rows {
                let cog = labels(&[("cog", &row.cog)]);
                kv_bytes.get_or_create(&cog).inc_by(row.usage.bytes as i64);
                kv_keys.get_or_create(&cog).inc_by(row.usage.keys as i64);
            }
        }
        Err(error) => tracing::warn!(%error, "kv usage unavailable for /metrics"),
    }
    registry.register(
        "cog_kv_bytes",
        "kv bytes (keys and values) per cog",
        kv_bytes,
    );
    registry.register("cog_kv_keys", "kv keys per cog", kv_keys);
    let warm = Gauge::<i64>::default();
    warm.set(state.runtime.warm_instances() as i64);
    registry.register(
        "cog_warm_instances",
        "Idle warm and spare instances held across cogs",
        warm,
    );
    let warm_bytes = Gauge::<i64>::default();
    warm_bytes.set(state.runtime.warm_bytes() as i64);
    registry.register(
        "cog_warm_bytes",
        "Memory the idle warm and spare instances keep, across cogs",
        warm_bytes,
    );

    registry.register(
        "interaction_latency_seconds",
        "From an interaction's arrival to its first response",
        state.bot.interaction_seconds.clone(),
    );

    let counters = &state.bot.link.rest.counters;
    let rest = Counter::<u64>::default();
    rest.inc_by(counters.requests.load(Ordering::Relaxed));
    registry.register(
        "discord_rest_requests",
        "Discord REST requests sent for cogs and interactions",
        rest,
    );
    let limited = Counter::<u64>::default();
    limited.inc_by(counters.rate_limited.load(Ordering::Relaxed));
    registry.register(
        "discord_rest_rate_limited",
        "429 answers from Discord",
        limited,
    );
    let refused = Counter::<u64>::default();
    refused.inc_by(counters.budget_refusals.load(Ordering::Relaxed));
    registry.register(
        "discord_rest_budget_refusals",
        "Cog calls refused by the cog's own REST budget",
        refused,
    );

    let full = Counter::<u64>::default();
    full.inc_by(crate::store::FULL_REFUSALS.load(Ordering::Relaxed));
    registry.register(
        "store_full",
        "Writes refused because the database or its disk was full (alert on any)",
        full,
    );

    let (database, cache, _) = services(&state.runtime).await;
    let service_up = Family::<Labels, Gauge>::default();
    let none = Probe::from_ping::<&str>("none", Ok(std::time::Duration::ZERO));
    for (name, probe) in [
        ("database", database.as_ref().unwrap_or(&none)),
        ("cache", &cache),
    ] {
        service_up
            .get_or_create(&labels(&[("service", name), ("backend", &probe.backend)]))
            .set(i64::from(probe.healthy));
    }
    registry.register(
        "service_up",
        "Whether the database and the cache answer",
        service_up,
    );
    let uptime = Gauge::<i64>::default();
    uptime.set(state.runtime.services().host.uptime_seconds() as i64);
    registry.register("uptime_seconds", "Seconds since the host started", uptime);

    let mut text = String::new();
    if let Err(error) = encode(&mut text, &registry) {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("encoding failed: {error}"),
        )
            .into_response();
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response()
}
