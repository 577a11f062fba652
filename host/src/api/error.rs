//! One error type for every route, one mapping to responses. Internal
//! details are logged (inside the request's span, with its id) and shown to
//! clients only as a plain 500.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

pub use baseline_api_types::FieldError;

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 401: no valid session.
    #[error("sign in first")]
    Unauthorized,
    /// 401: signing in failed (why, in words).
    #[error("{0}")]
    SignInFailed(String),
    /// 403: the session may not act on this guild or route.
    #[error("{0}")]
    Forbidden(String),
    /// 404: the named thing does not exist.
    #[error("{0}")]
    NotFound(String),
    /// 400: the request itself is malformed.
    #[error("{0}")]
    BadRequest(String),
    /// 413: the body is larger than the API accepts.
    #[error("the request body is larger than {} KiB", super::MAX_BODY_BYTES >> 10)]
    TooLarge,
    /// 422: the document breaks the schema, field by field.
    #[error("the settings do not match the cog's schema")]
    Invalid(Vec<FieldError>),
    /// 429: too many requests from this client; retry after a second.
    #[error("too many requests; slow down")]
    RateLimited,
    /// 422: a cog refused the request, in its own words (`cog-error.user`).
    #[error("{0}")]
    CogRefused(String),
    /// 502: a cog failed or answered with something the host cannot use.
    #[error("{0}")]
    CogFailed(String),
    /// 503: a backing service is down (named).
    #[error("{0}")]
    Unavailable(String),
    /// 500: logged, never shown.
    #[error("internal error")]
    Internal(String),
}

#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    fields: Option<&'a [FieldError]>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            ApiError::Unauthorized | ApiError::SignInFailed(_) => {
                (StatusCode::UNAUTHORIZED, "unauthorized")
            }
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not-found"),
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad-request"),
            ApiError::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "too-large"),
            ApiError::RateLimited => (StatusCode::TOO_MANY_REQUESTS, "rate-limited"),
            ApiError::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid"),
            ApiError::CogRefused(_) => (StatusCode::UNPROCESSABLE_ENTITY, "cog-refused"),
            ApiError::CogFailed(_) => (StatusCode::BAD_GATEWAY, "cog-failed"),
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ApiError::Internal(detail) => {
                tracing::error!(detail, "internal error answering a request");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal")
            }
        };
        let fields = match &self {
            ApiError::Invalid(fields) => Some(fields.as_slice()),
            _ => None,
        };
        (
            status,
            Json(Body {
                error: code,
                message: self.to_string(),
                fields,
            }),
        )
            .into_response()
    }
}

impl ApiError {
    /// A backing service (`database`, `cache`, …) failed. Its error text
    /// may name hosts, users or queries: it goes to the log, inside the
    /// request's span (with its request id), and the client learns only
    /// which part is down.
    pub fn service(part: &'static str, error: impl std::fmt::Display) -> Self {
        tracing::error!(part, %error, "a backing service failed while answering a request");
        ApiError::Unavailable(format!(
            "the {part} is unavailable; the operator's log has the details"
        ))
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(error: crate::store::StoreError) -> Self {
        ApiError::service("database", error)
    }
}

impl From<axum::extract::rejection::JsonRejection> for ApiError {
    fn from(rejection: axum::extract::rejection::JsonRejection) -> Self {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge
        } else {
            ApiError::BadRequest(rejection.body_text())
        }
    }
}
