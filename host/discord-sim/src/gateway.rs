//! The gateway: HELLO, IDENTIFY → READY + GUILD_CREATE for the shard's
//! guilds, heartbeats with ACKs, dispatches with increasing sequence
//! numbers, RESUME with replay of what a session missed then RESUMED, and
//! the faults a test can inject: RECONNECT (op 7), INVALID_SESSION (op 9),
//! a close with a given code, or a dropped socket.
//!
//! A session outlives its connection: dispatches for a disconnected session
//! are buffered (up to [`REPLAY_BUFFER`]) and replayed when it resumes. A new
//! IDENTIFY for the same shard replaces the old session.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use axum::routing::get;
use futures_util::{SinkExt, StreamExt};
use parking_lot::Mutex;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::world::shard_of;
use crate::{Sim, World};

/// Heartbeat interval announced in HELLO (ms): short, so latency is known soon.
pub const HEARTBEAT_INTERVAL_MS: u64 = 1_000;
/// Dispatches kept per session for replay.
pub const REPLAY_BUFFER: usize = 4_096;

/// What a connection task is told to do.
#[derive(Debug)]
enum Outbound {
    /// Send a text frame.
    Frame(String),
    /// Send a close frame with this code, then end.
    Close(u16, String),
    /// End without a close frame (the TCP connection just drops).
    Drop,
}

struct Session {
    shard: [u64; 2],
    seq: u64,
    buffer: VecDeque<(u64, String)>,
    connection: Option<(u64, mpsc::UnboundedSender<Outbound>)>,
}

impl Session {
    fn push(&mut self, event: &str, data: Value) {
        self.seq += 1;
        let text = frame(0, data, Some(self.seq), Some(event));
        if self.buffer.len() == REPLAY_BUFFER {
            self.buffer.pop_front();
        }
        self.buffer.push_back((self.seq, text.clone()));
        if let Some((_, sender)) = &self.connection
            && sender.send(Outbound::Frame(text)).is_err()
        {
            self.connection = None;
        }
    }
}

/// A fault to inject into the gateway connection(s) of a shard.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum GatewayFault {
    /// Send op 7 RECONNECT.
    Reconnect,
    /// Send op 9 INVALID_SESSION; when not resumable the session is forgotten.
    InvalidSession {
        /// Whether the client may resume.
        #[serde(default)]
        resumable: bool,
    },
    /// Close the socket with this code (4000-4014 are Discord's).
    Close {
        /// The close code.
        code: u16,
    },
    /// Drop the TCP connection without a close frame.
    Drop,
    /// Send the last dispatch named `event` again, with a new sequence
    /// number (as a faulty replay would): a client must not act twice.
    Duplicate {
        /// The dispatch name, e.g. `INTERACTION_CREATE`.
        event: String,
    },
}

/// The state of one shard's session, for the control API.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SessionInfo {
    /// Session id.
    pub session_id: String,
    /// `[shard, total]`.
    pub shard: [u64; 2],
    /// Last sequence number sent.
    pub seq: u64,
    /// Whether a socket is attached.
    pub connected: bool,
    /// Connections this session has had (1 + resumes).
    pub connections: u64,
}

/// All gateway sessions.
#[derive(Default)]
pub struct Gateway {
    sessions: Mutex<HashMap<String, Session>>,
    connections: std::sync::atomic::AtomicU64,
    resumes: Mutex<HashMap<String, u64>>,
}

impl Gateway {
    /// Send a dispatch to every session whose shard holds `guild` (every
    /// shard-0 session when there is no guild).
    pub fn dispatch(&self, guild: Option<u64>, event: &str, data: Value) -> usize {
        let mut sessions = self.sessions.lock();
        let mut reached = 0;
        for session in sessions.values_mut() {
            let target = guild.map(|g| shard_of(g, session.shard[1])).unwrap_or(0);
            if session.shard[0] == target {
                session.push(event, data.clone());
                reached += 1;
            }
        }
        reached
    }

    /// Inject a fault into the sessions of `shard` (all shards when `None`).
    /// Returns how many sessions it reached.
    pub fn inject(&self, shard: Option<u64>, fault: &GatewayFault) -> usize {
        let mut sessions = self.sessions.lock();
        let mut reached = 0;
        let mut forget = Vec::new();
        for (id, session) in sessions.iter_mut() {
            if shard.is_some_and(|s| s != session.shard[0]) {
                continue;
            }
            if let GatewayFault::Duplicate { event } = fault {
                let last = session.buffer.iter().rev().find_map(|(_, text)| {
                    let frame: Value = serde_json::from_str(text).ok()?;
                    (frame["t"] == event.as_str()).then(|| frame["d"].clone())
                });
                if let Some(data) = last {
                    session.push(event, data);
                    reached += 1;
                }
                continue;
            }
            let Some((_, sender)) = &session.connection else {
                continue;
            };
            let outbound = match fault {
                GatewayFault::Reconnect => Outbound::Frame(frame(7, Value::Null, None, None)),
                GatewayFault::InvalidSession { resumable } => {
                    if !resumable {
                        forget.push(id.clone());
                    }
                    Outbound::Frame(frame(9, json!(resumable), None, None))
                }
                GatewayFault::Close { code } => {
                    if !resumable_close(*code) {
                        forget.push(id.clone());
                    }
                    Outbound::Close(*code, close_reason(*code).into())
                }
                GatewayFault::Drop => Outbound::Drop,
                GatewayFault::Duplicate { .. } => unreachable!("handled above"),
            };
            if sender.send(outbound).is_ok() {
                reached += 1;
            }
        }
        for id in forget {
            sessions.remove(&id);
        }
        reached
    }

    /// Every session, by shard.
    pub fn sessions(&self) -> Vec<SessionInfo> {
        let sessions = self.sessions.lock();
        let resumes = self.resumes.lock();
        let mut list: Vec<SessionInfo> = sessions
            .iter()
            .map(|(id, s)| SessionInfo {
                session_id: id.clone(),
                shard: s.shard,
                seq: s.seq,
                connected: s.connection.is_some(),
                connections: 1 + resumes.get(id).copied().unwrap_or(0),
            })
            .collect();
        list.sort_by_key(|s| s.shard);
        list
    }
}

/// Close codes after which the client may resume.
fn resumable_close(code: u16) -> bool {
    !matches!(code, 4004 | 4007 | 4009 | 4010 | 4011 | 4012 | 4013 | 4014)
}

fn close_reason(code: u16) -> &'static str {
    match code {
        4000 => "Unknown error",
        4001 => "Unknown opcode",
        4002 => "Decode error",
        4003 => "Not authenticated",
        4004 => "Authentication failed",
        4005 => "Already authenticated",
        4007 => "Invalid seq",
        4008 => "Rate limited",
        4009 => "Session timed out",
        4010 => "Invalid shard",
        4011 => "Sharding required",
        4012 => "Invalid API version",
        4013 => "Invalid intent(s)",
        4014 => "Disallowed intent(s)",
        _ => "Closed by the simulator",
    }
}

pub fn router(sim: Arc<Sim>) -> Router {
    Router::new().route("/", get(upgrade)).with_state(sim)
}

async fn upgrade(ws: WebSocketUpgrade, State(sim): State<Arc<Sim>>) -> Response {
    ws.on_upgrade(move |socket| connection(socket, sim))
}

/// A frame as Discord sends it: compact, with `t`, `s` and `op` before `d`
/// (clients such as twilight read those three by scanning the text before
/// parsing the payload, so a nested `"op":` in `d` must not come first).
pub fn frame(op: u8, d: Value, s: Option<u64>, t: Option<&str>) -> String {
    format!(
        r#"{{"t":{},"s":{},"op":{op},"d":{d}}}"#,
        Value::from(t),
        Value::from(s)
    )
}

async fn connection(socket: WebSocket, sim: Arc<Sim>) {
    let (world, gateway) = (&sim.world, &sim.gateway);
    let connection_id = gateway
        .connections
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let (mut sink, mut stream) = socket.split();
    let (sender, mut outbound) = mpsc::unbounded_channel::<Outbound>();
    let hello = frame(
        10,
        json!({"heartbeat_interval": HEARTBEAT_INTERVAL_MS}),
        None,
        None,
    );
    if sink.send(Message::Text(hello.into())).await.is_err() {
        return;
    }
    let mut session_id: Option<String> = None;
    loop {
        tokio::select! {
            out = outbound.recv() => match out {
                Some(Outbound::Frame(text)) => {
                    if sink.send(Message::Text(text.into())).await.is_err() {
                        break;
                    }
                }
                Some(Outbound::Close(code, reason)) => {
                    let _ = sink
                        .send(Message::Close(Some(CloseFrame { code, reason: reason.into() })))
                        .await;
                    break;
                }
                Some(Outbound::Drop) | None => break,
            },
            incoming = stream.next() => {
                let text = match incoming {
                    Some(Ok(Message::Text(text))) => text.to_string(),
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                    Some(Ok(_)) => continue,
                };
                let Ok(payload) = serde_json::from_str::<Value>(&text) else {
                    tracing::warn!(frame = %text, "simulator: a frame that is not JSON; closing with 4002");
                    let _ = sink.send(Message::Close(Some(CloseFrame { code: 4002, reason: "Decode error".into() }))).await;
                    break;
                };
                match payload["op"].as_u64() {
                    Some(1) => {
                        let _ = sender.send(Outbound::Frame(frame(11, Value::Null, None, None)));
                    }
                    Some(2) if session_id.is_none() => {
                        session_id = Some(identify(world, gateway, &payload["d"], connection_id, sender.clone()));
                    }
                    Some(6) if session_id.is_none() => {
                        session_id = resume(gateway, &payload["d"], connection_id, sender.clone());
                        if session_id.is_none() {
                            let _ = sender.send(Outbound::Frame(frame(9, json!(false), None, None)));
                        }
                    }
                    Some(2 | 6) => {
                        let _ = sender.send(Outbound::Close(4005, "Already authenticated".into()));
                    }
                    Some(3 | 4 | 8) => {}
                    _ => {
                        tracing::warn!(frame = %text, "simulator: unknown opcode; closing with 4001");
                        let _ = sender.send(Outbound::Close(4001, "Unknown opcode".into()));
                    }
                }
            }
        }
    }
    // Detach, keeping the session for a resume.
    if let Some(id) = session_id
        && let Some(session) = gateway.sessions.lock().get_mut(&id)
        && session
            .connection
            .as_ref()
            .is_some_and(|(c, _)| *c == connection_id)
    {
        session.connection = None;
    }
}

fn identify(
    world: &World,
    gateway: &Gateway,
    d: &Value,
    connection_id: u64,
    sender: mpsc::UnboundedSender<Outbound>,
) -> String {
    let shard = d["shard"]
        .as_array()
        .map(|s| {
            [
                s.first().and_then(Value::as_u64).unwrap_or(0),
                s.get(1).and_then(Value::as_u64).unwrap_or(1).max(1),
            ]
        })
        .unwrap_or([0, 1]);
    let session_id = format!("sim-{}", world.next_id());
    let ready = world.ready(&session_id, shard);
    let creates: Vec<Value> = world
        .guilds_on_shard(shard[0], shard[1])
        .into_iter()
        .filter_map(|g| world.guild_create(g))
        .collect();
    let mut sessions = gateway.sessions.lock();
    sessions.retain(|_, s| s.shard != shard);
    let mut session = Session {
        shard,
        seq: 0,
        buffer: VecDeque::new(),
        connection: Some((connection_id, sender)),
    };
    session.push("READY", ready);
    for create in creates {
        session.push("GUILD_CREATE", create);
    }
    sessions.insert(session_id.clone(), session);
    session_id
}

fn resume(
    gateway: &Gateway,
    d: &Value,
    connection_id: u64,
    sender: mpsc::UnboundedSender<Outbound>,
) -> Option<String> {
    let id = d["session_id"].as_str()?.to_string();
    let from = d["seq"].as_u64().unwrap_or(0);
    let mut sessions = gateway.sessions.lock();
    let session = sessions.get_mut(&id)?;
    // The previous socket, if still attached, is dropped (as Discord does).
    if let Some((_, old)) = session.connection.take() {
        let _ = old.send(Outbound::Drop);
    }
    for (seq, text) in &session.buffer {
        if *seq > from {
            let _ = sender.send(Outbound::Frame(text.clone()));
        }
    }
    session.connection = Some((connection_id, sender));
    session.push("RESUMED", json!({}));
    *gateway.resumes.lock().entry(id.clone()).or_default() += 1;
    Some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_put_the_opcode_sequence_and_type_before_the_payload() {
        let text = frame(
            0,
            json!({"op": 9, "x": "y"}),
            Some(7),
            Some("MESSAGE_CREATE"),
        );
        assert_eq!(
            text,
            r#"{"t":"MESSAGE_CREATE","s":7,"op":0,"d":{"op":9,"x":"y"}}"#
        );
        let parsed: Value = serde_json::from_str(&frame(11, Value::Null, None, None)).unwrap();
        assert_eq!(parsed, json!({"t": null, "s": null, "op": 11, "d": null}));
    }
}
