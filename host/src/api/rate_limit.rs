//! Rate limiting: a fixed one-second window per client, counted in the
//! cache — so with Redis the limit holds across every process of the bot.
//! A client is its user when it sends a live session, else its address: a
//! made-up token counts against the address that sent it. A request with an
//! API token (`bl_…`, looked up in the database) is also counted against its
//! address *before* the lookup, so a flood of made-up tokens from one
//! address stops at the cache and never reaches the store. Window keys
//! expire two seconds after they were made.
//! Over the limit: 429 with `Retry-After`. If the cache is down the request
//! goes through (health must stay reachable to report that).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::ApiState;

/// The network a client address counts for: an IPv4 address itself, an
/// IPv6 address's /64 (one subscriber's whole allocation: counting each of
/// its 2^64 addresses apart would be no limit at all).
pub fn network(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

fn address(request: &Request) -> String {
    match request.extensions().get::<ConnectInfo<SocketAddr>>() {
        Some(ConnectInfo(address)) => format!("a:{}", network(address.ip())),
        None => "a:unknown".to_string(),
    }
}

/// The client a request counts for: its signed-in user, else its address.
/// A live session is left in the request for the handlers. `token` is the
/// request's own, read once by the caller.
async fn client(state: &ApiState, request: &mut Request, token: Option<String>) -> String {
    let Some(token) = token else {
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

/// Whether `client` is over `per_second` in this window (counting this
/// request). A cache that cannot count lets the request through.
async fn over(state: &ApiState, client: &str, window: u64, per_second: u32) -> bool {
    let key = format!("ratelimit:{client}:{window}");
    let cache = state.runtime.services().cache.clone();
    match cache.increment(&key, 1, Duration::from_secs(2)).await {
        Ok(count) => count > i64::from(per_second),
        Err(error) => {
            tracing::warn!(%error, "rate limiter cannot reach the cache; letting the request through");
            false
        }
    }
}

fn too_many() -> Response {
    let mut response = super::ApiError::RateLimited.into_response();
    response
        .headers_mut()
        .insert("retry-after", HeaderValue::from_static("1"));
    debug_assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    response
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
    let address = address(&request);
    let token = super::access::token(&state, request.headers());
    let api_token = token
        .as_deref()
        .is_some_and(|t| t.starts_with(super::access::TOKEN_PREFIX));
    if api_token && over(&state, &address, window, per_second).await {
        return too_many();
    }
    let client = client(&state, &mut request, token).await;
    // A made-up token was already counted against its address above.
    let counted = api_token && client == address;
    if !counted && over(&state, &client, window, per_second).await {
        return too_many();
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_count_by_their_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff:1:2:3".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(network(a), network(b));
        assert_eq!(network(a), "2001:db8:1:2::/64");
        assert_ne!(network(a), network(other));
        let v4: IpAddr = "192.0.2.7".parse().unwrap();
        assert_eq!(network(v4), "192.0.2.7");
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(network(mapped), "192.0.2.7");
    }
}
