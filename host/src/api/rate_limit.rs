//! Rate limiting: a fixed one-second window per client, counted in the
//! cache — so with Redis the limit holds across every process of the bot.
//! A client is its session token when it sends one, else its address.
//! Over the limit: 429 with `Retry-After`. If the cache is down the request
//! goes through (health must stay reachable to report that).

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::ApiState;

fn client(request: &Request) -> String {
    let token = super::access::token(request.headers());
    match token {
        // Bounded like the session guard's tokens (at most 128 characters).
        Some(token) => format!("t:{}", token.chars().take(128).collect::<String>()),
        None => match request.extensions().get::<ConnectInfo<SocketAddr>>() {
            Some(ConnectInfo(address)) => format!("a:{}", address.ip()),
            None => "a:unknown".to_string(),
        },
    }
}

/// The middleware; `limit` requests per second per client.
pub async fn limit(State(state): State<ApiState>, request: Request, next: Next) -> Response {
    let per_second = state.runtime.config().api_rate_limit;
    if per_second == 0 {
        return next.run(request).await;
    }
    let window = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let key = format!("ratelimit:{}:{window}", client(&request));
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
