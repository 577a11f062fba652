//! The HTTP API under `/api/v1`: health, cogs, per-guild cog settings, and
//! the OpenAPI document generated from these handlers.
//!
//! [`router`] builds the whole app from an [`ApiState`] without serving it,
//! so tests send requests straight to it. Every guild-scoped route takes a
//! tiered guild extractor ([`access::GuildViewer`], [`access::GuildEditor`],
//! [`access::GuildAdmin`]), so a handler cannot forget the check.

pub mod access;
pub mod bot_calls;
mod cogs;
mod csrf;
mod dashboard;
mod error;
mod guild_cogs;
mod guilds;
mod health;
mod llm;
mod llm_usage;
pub mod login;
mod pages;
pub mod playground;
mod rate_limit;
mod settings;
mod shards;
mod sign_in_cookie;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, Method, Request};
use tower_http::cors::CorsLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;

pub use error::ApiError;

use crate::runtime::Runtime;

/// What handlers share: the runtime, and through it the services; sign-in
/// when it is configured.
#[derive(Clone)]
pub struct ApiState {
    /// The cog runtime (registry, services, config).
    pub runtime: Arc<Runtime>,
    /// Sign-in with Discord (absent: only sessions made otherwise work).
    pub login: Option<Arc<login::Login>>,
    /// The playground, when the bot talks to a Discord simulator.
    pub playground: Option<Arc<playground::Playground>>,
    /// The API's share of the bot's Discord budget.
    pub bot_calls: Arc<bot_calls::BotCalls>,
}

impl ApiState {
    /// The API of `runtime`, without sign-in.
    pub fn new(runtime: Arc<Runtime>) -> Self {
        Self {
            bot_calls: Arc::new(bot_calls::BotCalls::new(&runtime.config().auth)),
            runtime,
            login: None,
            playground: None,
        }
    }

    /// With the playground over the simulator at `simulator`.
    pub fn with_playground(self, simulator: Option<String>) -> Self {
        Self {
            playground: simulator.map(|url| Arc::new(playground::Playground::new(url))),
            ..self
        }
    }

    /// With sign-in.
    pub fn with_login(self, login: Option<login::Login>) -> Self {
        Self {
            login: login.map(Arc::new),
            ..self
        }
    }
}

/// Largest request body (settings documents are small).
pub const MAX_BODY_BYTES: usize = 256 << 10;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Baseline API",
        description = "Operate a Baseline bot: health, cogs, shards, per-guild settings."
    ),
    paths(
        health::health,
        cogs::list,
        cogs::reload,
        cogs::usage,
        cogs::forget_user,
        settings::get_settings,
        settings::put_settings,
        settings::audit,
        shards::list,
        shards::for_guild,
        guild_cogs::list,
        guild_cogs::switch,
        login::login,
        login::callback,
        login::me,
        login::logout,
        login::list_tokens,
        login::create_token,
        login::revoke_token,
        guilds::list,
        guilds::authorized,
        guilds::grant,
        guilds::revoke,
        guilds::history,
        guilds::members,
        guilds::channels,
        guilds::roles,
        pages::list,
        pages::render,
        pages::act,
        pages::ui_module,
        playground::overview,
        playground::command,
        playground::component,
        playground::modal,
        llm::models,
        llm::set_pricing,
        llm_usage::summary,
        llm_usage::by_guild,
        llm_usage::by_cog,
        llm_usage::budgets,
        llm_usage::set_budget,
        llm_usage::remove_budget,
        llm_usage::reset_budget,
    )
)]
struct ApiDoc;

async fn openapi() -> axum::Json<utoipa::openapi::OpenApi> {
    axum::Json(ApiDoc::openapi())
}

/// The whole app.
pub fn router(state: ApiState) -> Router {
    let request_id = HeaderName::from_static("x-request-id");
    let state_origin = state.runtime.config().dashboard_origin.clone();
    let api = Router::new()
        .merge(health::router())
        .merge(cogs::router())
        .merge(settings::router())
        .merge(shards::router())
        .merge(guild_cogs::router())
        .merge(login::router())
        .merge(guilds::router())
        .merge(pages::router())
        .merge(playground::router())
        .merge(llm::router())
        .merge(llm_usage::router())
        .route("/openapi.json", axum::routing::get(openapi))
        // A path under /api/v1 that names no route is a JSON 404, never
        // the dashboard's index.html.
        .fallback(|| async { ApiError::NotFound("no such API route".into()) });
    let dashboard_dir = state.runtime.config().dashboard_dir.clone();
    Router::new()
        .nest("/api/v1", api)
        .merge(dashboard::router(dashboard_dir.as_deref()))
        .layer(axum::middleware::from_fn_with_state(state.clone(), rate_limit::limit))
        .layer(axum::middleware::from_fn_with_state(state.clone(), csrf::check))
        .with_state(state)
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(tower_http::compression::CompressionLayer::new())
        .layer(cors(state_origin.as_deref()))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
            let id = request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
            tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), request_id = %id)
        }))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
}

/// Cross-origin access: only the configured dashboard origin, with
/// credentials; without one, no origin at all (browsers then refuse every
/// cross-origin read, and preflights of writes fail).
fn cors(origin: Option<&str>) -> CorsLayer {
    let Some(origin) = origin else {
        return CorsLayer::new();
    };
    match HeaderValue::from_str(origin.trim_end_matches('/')) {
        Ok(origin) => CorsLayer::new()
            .allow_origin(tower_http::cors::AllowOrigin::list([origin]))
            .allow_credentials(true)
            .allow_methods([
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
            ])
            .allow_headers([
                axum::http::header::CONTENT_TYPE,
                axum::http::header::AUTHORIZATION,
                HeaderName::from_static("x-request-id"),
            ])
            .max_age(Duration::from_secs(600)),
        Err(_) => {
            tracing::error!(
                origin,
                "dashboard_origin is not a valid origin; no cross-origin access allowed"
            );
            CorsLayer::new()
        }
    }
}

/// Serve the app on `addr` in the background; the address it listens on.
pub async fn serve(
    state: ApiState,
    addr: std::net::SocketAddr,
) -> anyhow::Result<std::net::SocketAddr> {
    serve_on(state, listen(addr).await?)
}

/// Bind the API's address (before serving: what signing in redirects to
/// depends on the port bound, which `:0` leaves to the system).
pub async fn listen(addr: std::net::SocketAddr) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))
}

/// Serve the API on `listener`; its address.
pub fn serve_on(
    state: ApiState,
    listener: tokio::net::TcpListener,
) -> anyhow::Result<std::net::SocketAddr> {
    let bound = listener.local_addr()?;
    let app = router(state);
    tokio::spawn(async move {
        let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
        if let Err(error) = axum::serve(listener, app).await {
            tracing::error!(%error, "the API server stopped");
        }
    });
    Ok(bound)
}
