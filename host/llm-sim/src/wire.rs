//! What every provider's routes share: the key check, the request log,
//! injected faults, and each provider's error body.

// The errors here are the answers themselves (a `Response`), returned once
// per request: their size does not matter.
#![allow(clippy::result_large_err)]

use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::Sim;
use crate::control::{Fault, FaultKind, Logged, Provider};

/// The key the simulator refuses (401), for tests of that path.
pub const BAD_KEY: &str = "bad-key";
/// A model name the simulator does not know (404).
pub const UNKNOWN_MODEL: &str = "no-such-model";

/// An error in `provider`'s own shape.
pub fn error(provider: Provider, status: StatusCode, kind: &str, message: &str) -> Response {
    let body = match provider {
        Provider::OpenAi | Provider::Xai => {
            json!({"error": {"message": message, "type": kind, "param": null, "code": kind}})
        }
        Provider::Anthropic => json!({"type": "error", "error": {"type": kind, "message": message},
                                      "request_id": "req_sim"}),
        Provider::Gemini => {
            json!({"error": {"code": status.as_u16(), "message": message, "status": kind}})
        }
    };
    (status, axum::Json(body)).into_response()
}

/// The key `provider` expects, from its header; `Err` answers 401.
fn key(provider: Provider, headers: &HeaderMap) -> Result<String, Response> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let found = match provider {
        Provider::OpenAi | Provider::Xai => {
            header("authorization").and_then(|v| v.strip_prefix("Bearer ").map(str::to_string))
        }
        Provider::Anthropic => header("x-api-key"),
        Provider::Gemini => header("x-goog-api-key"),
    };
    match found {
        Some(key) if !key.is_empty() && key != BAD_KEY => Ok(key),
        _ => {
            let (kind, message) = match provider {
                Provider::Anthropic => ("authentication_error", "invalid x-api-key"),
                Provider::Gemini => (
                    "UNAUTHENTICATED",
                    "API key not valid. Please pass a valid API key.",
                ),
                _ => ("invalid_api_key", "Incorrect API key provided."),
            };
            Err(error(provider, StatusCode::UNAUTHORIZED, kind, message))
        }
    }
}

/// Check the key, log the request, apply a fault. `Ok(Some(fault))` for a
/// cut stream (the route cuts it), `Ok(None)` to answer normally.
pub async fn admit(
    sim: &Sim,
    provider: Provider,
    path: &str,
    headers: &HeaderMap,
    body: &Value,
) -> Result<Option<Fault>, Response> {
    if provider == Provider::Anthropic && headers.get("anthropic-version").is_none() {
        return Err(error(
            provider,
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "anthropic-version: header is required",
        ));
    }
    let key = key(provider, headers);
    sim.requests.push(Logged {
        provider,
        path: path.to_string(),
        auth: match &key {
            Ok(key) => format!("{}…", key.chars().take(4).collect::<String>()),
            Err(_) => "refused".into(),
        },
        body: body.clone(),
    });
    key?;
    if body["model"] == UNKNOWN_MODEL || path.contains(UNKNOWN_MODEL) {
        let kind = match provider {
            Provider::Anthropic => "not_found_error",
            Provider::Gemini => "NOT_FOUND",
            _ => "model_not_found",
        };
        return Err(error(
            provider,
            StatusCode::NOT_FOUND,
            kind,
            "The model does not exist.",
        ));
    }
    let Some(fault) = sim.faults.take(provider) else {
        return Ok(None);
    };
    match fault.kind {
        FaultKind::RateLimit => {
            let (kind, message) = match provider {
                Provider::Anthropic => (
                    "rate_limit_error",
                    "Number of requests has exceeded your rate limit.",
                ),
                Provider::Gemini => (
                    "RESOURCE_EXHAUSTED",
                    "Resource has been exhausted (e.g. check quota).",
                ),
                _ => ("rate_limit_exceeded", "Rate limit reached for requests."),
            };
            let mut response = error(provider, StatusCode::TOO_MANY_REQUESTS, kind, message);
            let after = fault.retry_after_s.unwrap_or(1).to_string();
            response.headers_mut().insert(
                "retry-after",
                HeaderValue::from_str(&after).expect("digits"),
            );
            Err(response)
        }
        FaultKind::ServerError => {
            let kind = match provider {
                Provider::Anthropic => "api_error",
                Provider::Gemini => "INTERNAL",
                _ => "server_error",
            };
            Err(error(
                provider,
                StatusCode::INTERNAL_SERVER_ERROR,
                kind,
                "The server had an error.",
            ))
        }
        FaultKind::Overloaded => match provider {
            Provider::Anthropic => Err(error(
                provider,
                StatusCode::from_u16(529).expect("a status"),
                "overloaded_error",
                "Overloaded",
            )),
            Provider::Gemini => Err(error(
                provider,
                StatusCode::SERVICE_UNAVAILABLE,
                "UNAVAILABLE",
                "The model is overloaded.",
            )),
            _ => Err(error(
                provider,
                StatusCode::SERVICE_UNAVAILABLE,
                "server_overloaded",
                "The engine is overloaded.",
            )),
        },
        FaultKind::Slow => {
            tokio::time::sleep(Duration::from_millis(fault.delay_ms.unwrap_or(2_000))).await;
            Ok(None)
        }
        FaultKind::CutStream => Ok(Some(fault)),
    }
}

/// A cut where a whole answer was due: the connection "drops".
pub fn cut(provider: Provider) -> Response {
    error(
        provider,
        StatusCode::BAD_GATEWAY,
        "connection_cut",
        "the simulator cut the connection",
    )
}

/// A server-sent-events body from `events` (`(event name, data)`), one
/// every `pace` (as a model generates); a cut stream ends after
/// `cut_after` events without an error.
pub fn sse(
    events: Vec<(Option<&'static str>, String)>,
    cut_after: Option<usize>,
    pace: Duration,
) -> Response {
    use futures_util::StreamExt as _;
    let keep = cut_after.unwrap_or(usize::MAX);
    let frames: Vec<Result<String, std::io::Error>> = events
        .into_iter()
        .take(keep)
        .map(|(name, data)| {
            Ok(match name {
                Some(name) => format!("event: {name}\ndata: {data}\n\n"),
                None => format!("data: {data}\n\n"),
            })
        })
        .collect();
    let paced = futures_util::stream::iter(frames).then(move |frame| async move {
        if !pace.is_zero() {
            tokio::time::sleep(pace).await;
        }
        frame
    });
    let body = axum::body::Body::from_stream(paced);
    (
        [
            ("content-type", "text/event-stream"),
            ("cache-control", "no-cache"),
        ],
        body,
    )
        .into_response()
}
