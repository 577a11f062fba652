//! Rate limiting: a fixed one-second window per client, counted in the
//! cache — so with Redis the limit holds across every process of the bot.
//! A client is its user when it sends a live session, else its address: a
//! made-up token counts against the address that sent it. Window keys
//! expire two seconds after they were made.
//! Over the limit: 429 with `Retry-After`. If the cache is down the request
//! goes through (health must stay reachable to report that).

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::ApiState;

fn address(request: &Request) -> String {
    match request.extensions().get::<ConnectInfo<SocketAddr>>() {
        Some(ConnectInfo(address)) => format!("a:{}", address.ip()),
        None => "a:unknown".to_string(),
    }
}

/// The client a request counts for: its signed-in user, else its address.
/// A live session is left in the request for the handlers.
async fn client(state: &ApiState, request: &mut Request) -> String {
    let Some(token) = super::access::token(state, request.headers()) else {
        return address(request);
    };
    match super::access::session(state, &token).await {
        Ok(Some(session)) => {
            let key = format!("u:{}", session.user_id);
            request
                .extensions_mut()
                .insert(super::access::Caller(session));
            key
        }
        _ => address(request),
    }
}

/// The middleware; `limit` requests per second per client.
pub async fn limit(State(state): State<ApiState>, mut request: Request, next: Next) -> Response {
    let per_second = state.runtime.config().api_rate_limit;
    if per_second == 0 {
        return next.run(request).await;
    }
    let window = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let key = format!("ratelimit:{}:{window}", client(&state, &mut request).await);
    let cache = state.runtime.services().cache.clone();
    match cache.increment(&key, 1, Duration::from_secs(2)).await {
        Ok(count) if count > per_second as i64 => {
            let mut response = super::ApiError::RateLimited.into_response();
            response
                .headers_mut()
                .insert("retry-after", HeaderValue::from_static("1"));
            debug_assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
            response
        }
        Ok(_) => next.run(request).await,
        Err(error) => {
            tracing::warn!(%error, "rate limiter cannot reach the cache; letting the request through");
            next.run(request).await
        }
    }
}
