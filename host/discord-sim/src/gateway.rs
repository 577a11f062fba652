//! The gateway: HELLO, IDENTIFY → READY + GUILD_CREATE for the shard's
//! guilds, heartbeats with ACKs, dispatches with increasing sequence numbers.
//! (RESUME with replay, RECONNECT, INVALID_SESSION and fault injection come
//! next; a RESUME is answered with INVALID_SESSION, not resumable, for now.)

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use axum::routing::get;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};

use crate::World;

/// Heartbeat interval announced in HELLO (ms): short, so latency is known soon.
pub const HEARTBEAT_INTERVAL_MS: u64 = 1_000;

pub fn router(world: Arc<World>) -> Router {
    Router::new().route("/", get(upgrade)).with_state(world)
}

async fn upgrade(ws: WebSocketUpgrade, State(world): State<Arc<World>>) -> Response {
    ws.on_upgrade(move |socket| session(socket, world))
}

/// A frame as Discord sends it.
pub fn frame(op: u8, d: Value, s: Option<u64>, t: Option<&str>) -> String {
    json!({"op": op, "d": d, "s": s, "t": t}).to_string()
}

async fn session(socket: WebSocket, world: Arc<World>) {
    let (mut sender, mut receiver) = socket.split();
    let mut seq = 0u64;
    let hello = frame(
        10,
        json!({"heartbeat_interval": HEARTBEAT_INTERVAL_MS}),
        None,
        None,
    );
    if sender.send(Message::Text(hello.into())).await.is_err() {
        return;
    }
    while let Some(Ok(message)) = receiver.next().await {
        let text = match message {
            Message::Text(text) => text.to_string(),
            Message::Close(_) => break,
            _ => continue,
        };
        let Ok(payload) = serde_json::from_str::<Value>(&text) else {
            tracing::warn!(frame = %text, "simulator: a frame that is not JSON; closing with 4002 (decode error)");
            break;
        };
        let mut out = Vec::new();
        match payload["op"].as_u64() {
            Some(1) => out.push(frame(11, Value::Null, None, None)),
            Some(2) => {
                let shard = payload["d"]["shard"]
                    .as_array()
                    .map(|s| [s[0].as_u64().unwrap_or(0), s[1].as_u64().unwrap_or(1)])
                    .unwrap_or([0, 1]);
                let session_id = format!("sim-{}", world.next_id());
                seq += 1;
                out.push(frame(
                    0,
                    world.ready(&session_id, shard),
                    Some(seq),
                    Some("READY"),
                ));
                for guild in world.guilds_on_shard(shard[0], shard[1]) {
                    if let Some(create) = world.guild_create(guild) {
                        seq += 1;
                        out.push(frame(0, create, Some(seq), Some("GUILD_CREATE")));
                    }
                }
            }
            Some(6) => out.push(frame(9, json!(false), None, None)),
            _ => {}
        }
        for text in out {
            if sender.send(Message::Text(text.into())).await.is_err() {
                return;
            }
        }
    }
}
