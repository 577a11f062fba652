//! The dashboard's files, served on the API's port beside `/api/v1`: the
//! built Yew app from `dashboard_dir` (`just dashboard` makes it), every
//! path that is not a file answered with `index.html` so the app's own
//! routes (`/guilds/123`) survive a reload — for GET and HEAD only: any
//! other method outside `/api/v1` is a 405 (a POST to a made-up path is no
//! page load, and must not look like a success to a script probing routes). Every answer says
//! `Cache-Control: no-cache` — the file names carry no content hash, so the
//! browser revalidates (a 304 against `Last-Modified`) instead of running
//! yesterday's wasm against today's API. Compression (gzip, brotli) is the
//! router's, for the API's answers too.
//!
//! The app's pages carry a Content-Security-Policy: scripts and wasm only
//! from this origin (`'wasm-unsafe-eval'` lets the app and the cogs' UI
//! modules compile), workers only from here, nothing framed, no plugins —
//! so a cog's UI module, which the dashboard runs in a worker, cannot pull
//! code or send data anywhere else either.

use std::path::Path;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse};
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;

/// What `/` says when no dashboard was built.
const NOT_BUILT: &str = "<!doctype html><meta charset=utf-8><title>Baseline</title>\
<h1>Baseline</h1><p>The dashboard is not built here. Run <code>just dashboard</code> \
(or <code>just run</code>, which builds it), or point <code>dashboard_dir</code> \
(env <code>BASELINE_DASHBOARD_DIR</code>) at a built one.</p>\
<p>The API is at <a href=\"/api/v1/health\">/api/v1/health</a>; sign in at \
<a href=\"/api/v1/auth/login\">/api/v1/auth/login</a>.</p>";

/// The dashboard's Content-Security-Policy.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
worker-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-src 'none'; \
frame-ancestors 'none'; object-src 'none'; base-uri 'none'; form-action 'self'";

/// The routes outside `/api/v1`: the dashboard from `dir`, or a page that
/// says how to build it.
pub fn router<S: Clone + Send + Sync + 'static>(dir: Option<&Path>) -> Router<S> {
    let Some(dir) = dir.filter(|d| d.join("index.html").is_file()) else {
        if let Some(dir) = dir {
            tracing::warn!(dir = %dir.display(), "dashboard_dir has no index.html; the dashboard is not served");
        }
        return Router::new().fallback(axum::routing::get(|| async {
            (StatusCode::OK, Html(NOT_BUILT)).into_response()
        }));
    };
    let files = ServeDir::new(dir)
        .append_index_html_on_directories(true)
        .fallback(ServeFile::new(dir.join("index.html")));
    Router::new()
        .fallback_service(axum::routing::get_service(files))
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-cache"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
}
