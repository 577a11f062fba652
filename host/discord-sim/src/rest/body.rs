//! A message body as Discord accepts it: JSON, or multipart with a
//! `payload_json` part and `files[n]` parts. Uploaded files become the
//! message's attachment objects.

use axum::extract::{FromRequest, Multipart, Request};
use axum::http::header::CONTENT_TYPE;
use serde_json::{Value, json};

use crate::error::ApiError;

/// Attachment ids, unique across messages.
static NEXT_ATTACHMENT: std::sync::atomic::AtomicU64 =
    std::sync::atomic::AtomicU64::new(8_000_000_000_000_000_000);

/// The JSON of a request, with uploaded files described in `attachments`.
pub struct DiscordBody(pub Value);

impl<S: Send + Sync> FromRequest<S> for DiscordBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let multipart = request
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("multipart/form-data"));
        if !multipart {
            let bytes = axum::body::Bytes::from_request(request, state)
                .await
                .map_err(|e| ApiError::invalid(e.to_string()))?;
            if bytes.is_empty() {
                return Ok(Self(json!({})));
            }
            let value: Value = serde_json::from_slice(&bytes).map_err(|e| {
                ApiError(
                    axum::http::StatusCode::BAD_REQUEST,
                    50109,
                    format!("The request body contains invalid JSON: {e}"),
                )
            })?;
            if !value.is_object() {
                return Err(ApiError::invalid("the body must be a JSON object"));
            }
            return Ok(Self(value));
        }
        let mut form = Multipart::from_request(request, state)
            .await
            .map_err(|e| ApiError::invalid(e.to_string()))?;
        let mut payload = json!({});
        let mut files = Vec::new();
        while let Some(field) = form
            .next_field()
            .await
            .map_err(|e| ApiError::invalid(e.to_string()))?
        {
            let name = field.name().unwrap_or_default().to_string();
            let filename = field.file_name().map(str::to_string);
            let content_type = field.content_type().map(str::to_string);
            let data = field
                .bytes()
                .await
                .map_err(|e| ApiError::invalid(e.to_string()))?;
            if name == "payload_json" {
                payload = serde_json::from_slice(&data)
                    .map_err(|e| ApiError::invalid(format!("payload_json: {e}")))?;
                if !payload.is_object() {
                    return Err(ApiError::invalid("payload_json must be a JSON object"));
                }
            } else if name.starts_with("files[") || name == "file" {
                files.push((
                    filename.unwrap_or_else(|| name.clone()),
                    content_type,
                    data.len(),
                ));
            }
        }
        let attachments: Vec<Value> = files
            .into_iter()
            .map(|(filename, content_type, size)| {
                let id = NEXT_ATTACHMENT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                json!({"id": id.to_string(), "filename": filename, "size": size,
                       "content_type": content_type,
                       "url": format!("https://cdn.discordapp.com/attachments/{id}/{filename}"),
                       "proxy_url": format!("https://media.discordapp.net/attachments/{id}/{filename}")})
            })
            .collect();
        payload["attachments"] = json!(attachments);
        Ok(Self(payload))
    }
}
