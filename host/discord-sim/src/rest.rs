//! REST under `/api/v10`: what the gateway connection needs so far
//! (`gateway`, `gateway/bot`, `users/@me`). Unknown routes answer 404 with
//! Discord's JSON error shape.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::World;

pub fn router(world: Arc<World>) -> Router {
    Router::new()
        .route("/api/v10/gateway", get(gateway))
        .route("/api/v10/gateway/bot", get(gateway_bot))
        .route("/api/v10/users/@me", get(me))
        .fallback(not_found)
        .with_state(world)
}

async fn gateway(State(world): State<Arc<World>>) -> Json<Value> {
    Json(json!({"url": format!("ws://{}", world.addr)}))
}

async fn gateway_bot(State(world): State<Arc<World>>) -> Json<Value> {
    Json(json!({
        "url": format!("ws://{}", world.addr),
        "shards": 1,
        "session_start_limit": {"total": 1000, "remaining": 1000, "reset_after": 0, "max_concurrency": 1},
    }))
}

async fn me(State(world): State<Arc<World>>) -> Json<Value> {
    Json(world.bot_user())
}

async fn not_found() -> (StatusCode, Json<Value>) {
    (
        StatusCode::NOT_FOUND,
        Json(json!({"message": "404: Not Found", "code": 0})),
    )
}
