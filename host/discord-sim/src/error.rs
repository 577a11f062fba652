//! Discord's error answers (status, JSON code, message; `errors` for an
//! invalid form body), shared by every route of the simulator.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// A Discord error answer: status, JSON code and message.
#[derive(Debug)]
pub struct ApiError(pub StatusCode, pub u32, pub String);

impl ApiError {
    /// 404 with Discord's code for the kind of thing missing.
    pub fn unknown(what: &str) -> Self {
        let code = match what {
            "Channel" => 10003,
            "Guild" => 10004,
            "Member" => 10007,
            "Message" => 10008,
            "Role" => 10011,
            "User" => 10013,
            "Interaction" => 10062,
            "Webhook" => 10015,
            "Ban" => 10026,
            _ => 0,
        };
        Self(StatusCode::NOT_FOUND, code, format!("Unknown {what}"))
    }

    /// 400 Invalid Form Body.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self(StatusCode::BAD_REQUEST, 50035, message.into())
    }

    /// 403 Missing Access.
    pub fn forbidden() -> Self {
        Self(StatusCode::FORBIDDEN, 50001, "Missing Access".into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // Discord's "Invalid Form Body": the field's path and its error in
        // `errors`, nested by path segment (`embeds.0.fields`).
        if self.1 == 50035
            && let Some((path, message)) = self.2.split_once(": ")
            && !path.contains(' ')
        {
            let code = if message.contains("or fewer in length") {
                "BASE_TYPE_MAX_LENGTH"
            } else if message.contains("required") {
                "BASE_TYPE_REQUIRED"
            } else {
                "BASE_TYPE_INVALID"
            };
            let mut errors = json!({"_errors": [{"code": code, "message": message}]});
            for segment in path.rsplit('.') {
                errors = json!({ segment: errors });
            }
            return (
                self.0,
                Json(json!({"message": "Invalid Form Body", "code": 50035, "errors": errors})),
            )
                .into_response();
        }
        (self.0, Json(json!({"message": self.2, "code": self.1}))).into_response()
    }
}

/// A REST handler's result.
pub type ApiResult<T = Json<Value>> = Result<T, ApiError>;

/// Parse a snowflake from a path segment.
pub fn snowflake(text: &str, what: &str) -> Result<u64, ApiError> {
    text.parse().map_err(|_| ApiError::unknown(what))
}
