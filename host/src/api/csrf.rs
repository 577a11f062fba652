//! Cross-site request forgery. A browser attaches the session cookie to
//! requests other sites make it send; so a state-changing request (POST,
//! PUT, PATCH, DELETE) that carries the cookie must come from this site:
//! its `Origin` must be the public URL's origin or the configured dashboard
//! origin, or — when a browser sends no `Origin` — `Sec-Fetch-Site` must
//! say `same-origin`. Otherwise 403. A request with `Authorization: Bearer`
//! and no cookie carries nothing ambient and is not checked. The cookie is
//! also `SameSite=Lax`, so modern browsers do not send it on other sites'
//! POSTs at all; this check covers older ones and same-site subdomains.

use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::access::{SESSION_COOKIE, cookie, cookie_name};
use super::{ApiError, ApiState};

/// The origins whose pages may change state with the session cookie.
fn allowed(state: &ApiState) -> Vec<String> {
    let config = state.runtime.config();
    let public = config
        .auth
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", config.api_addr));
    [Some(public), config.dashboard_origin.clone()]
        .into_iter()
        .flatten()
        .filter_map(|url| reqwest::Url::parse(&url).ok())
        .map(|url| url.origin().ascii_serialization())
        .collect()
}

/// The middleware.
pub async fn check(State(state): State<ApiState>, request: Request, next: Next) -> Response {
    let unsafe_method = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    let headers = request.headers();
    if !unsafe_method || cookie(headers, &cookie_name(&state, SESSION_COOKIE)).is_none() {
        return next.run(request).await;
    }
    let origin = headers.get("origin").and_then(|v| v.to_str().ok());
    let same_site = match origin {
        Some(origin) => allowed(&state)
            .iter()
            .any(|a| a == origin.trim_end_matches('/')),
        None => headers
            .get("sec-fetch-site")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|site| site == "same-origin"),
    };
    if same_site {
        next.run(request).await
    } else {
        tracing::warn!(
            origin,
            method = %request.method(),
            path = request.uri().path(),
            "cross-site request refused"
        );
        ApiError::Forbidden(
            "cross-site request refused: a change made with the session cookie must come from this site (Origin)".into(),
        )
        .into_response()
    }
}
