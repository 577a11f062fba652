//! Calls to the host's API from the browser: same origin, the session
//! cookie, JSON in the shared types.

use baseline_api_types::ErrorBody;
use wasm_bindgen::JsCast as _;
use wasm_bindgen_futures::JsFuture;

/// Why a call failed.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// 401: not signed in (or the session ended).
    SignedOut,
    /// 422: the document breaks the schema; the message and the fields.
    Invalid(String, Vec<baseline_api_types::FieldError>),
    /// Another refusal, with the API's message.
    Refused(u16, String),
    /// No answer, or an unreadable one.
    Network(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::SignedOut => write!(f, "You are signed out."),
            Failure::Invalid(message, _) => write!(f, "{message}"),
            Failure::Refused(status, message) => write!(f, "{message} ({status})"),
            Failure::Network(why) => write!(f, "The bot did not answer: {why}"),
        }
    }
}

/// `part` as one path segment of an API URL: percent-encoded, so a `/`,
/// `?` or `#` in it stays inside the segment. Encoding alone leaves `.` and
/// `..` (and `%2E`) as dot-segments the browser resolves away, so a part
/// made only of dots is sent as a literal `%2E…` that names nothing.
pub fn segment(part: &str) -> String {
    if part.is_empty() || part.bytes().all(|b| b == b'.') {
        return "%252E".repeat(part.len().max(1));
    }
    String::from(js_sys::encode_uri_component(part))
}

fn js(error: wasm_bindgen::JsValue) -> Failure {
    Failure::Network(format!("{error:?}"))
}

async fn send(method: &str, path: &str) -> Result<web_sys::Response, Failure> {
    send_body(method, path, None).await
}

async fn send_body(
    method: &str,
    path: &str,
    json: Option<String>,
) -> Result<web_sys::Response, Failure> {
    let init = web_sys::RequestInit::new();
    init.set_method(method);
    init.set_credentials(web_sys::RequestCredentials::SameOrigin);
    if let Some(json) = json {
        let headers = web_sys::Headers::new().map_err(js)?;
        headers
            .set("content-type", "application/json")
            .map_err(js)?;
        init.set_headers(&headers);
        init.set_body(&wasm_bindgen::JsValue::from_str(&json));
    }
    let request = web_sys::Request::new_with_str_and_init(path, &init).map_err(js)?;
    let window = web_sys::window().ok_or_else(|| Failure::Network("no window".into()))?;
    let answer = JsFuture::from(window.fetch_with_request(&request))
        .await
        .map_err(js)?;
    let response: web_sys::Response = answer.dyn_into().map_err(js)?;
    match response.status() {
        200..=299 => Ok(response),
        401 => Err(Failure::SignedOut),
        status => {
            let text = text(&response).await.unwrap_or_default();
            match serde_json::from_str::<ErrorBody>(&text) {
                Ok(ErrorBody {
                    message,
                    fields: Some(fields),
                    ..
                }) if status == 422 => Err(Failure::Invalid(message, fields)),
                Ok(body) => Err(Failure::Refused(status, body.message)),
                Err(_) => Err(Failure::Refused(status, text)),
            }
        }
    }
}

async fn text(response: &web_sys::Response) -> Result<String, Failure> {
    let promise = response.text().map_err(js)?;
    let value = JsFuture::from(promise).await.map_err(js)?;
    Ok(value.as_string().unwrap_or_default())
}

/// GET `path` and read it as `T`.
pub async fn get<T: serde::de::DeserializeOwned>(path: &str) -> Result<T, Failure> {
    let response = send("GET", path).await?;
    let body = text(&response).await?;
    serde_json::from_str(&body).map_err(|e| Failure::Network(format!("unreadable answer: {e}")))
}

/// POST `path` with no body.
pub async fn post_empty(path: &str) -> Result<(), Failure> {
    send("POST", path).await.map(|_| ())
}

/// PUT `body` as JSON to `path` and read the answer as `T`.
pub async fn put<B: serde::Serialize, T: serde::de::DeserializeOwned>(
    path: &str,
    body: &B,
) -> Result<T, Failure> {
    let json = serde_json::to_string(body).map_err(|e| Failure::Network(e.to_string()))?;
    let response = send_body("PUT", path, Some(json)).await?;
    let body = text(&response).await?;
    serde_json::from_str(&body).map_err(|e| Failure::Network(format!("unreadable answer: {e}")))
}

/// POST `body` as JSON to `path`, expecting no answer body.
pub async fn post<B: serde::Serialize>(path: &str, body: &B) -> Result<(), Failure> {
    let json = serde_json::to_string(body).map_err(|e| Failure::Network(e.to_string()))?;
    send_body("POST", path, Some(json)).await.map(|_| ())
}

/// DELETE `path`.
pub async fn delete(path: &str) -> Result<(), Failure> {
    send("DELETE", path).await.map(|_| ())
}

/// POST `body` as JSON to `path` and read the answer as `T`.
pub async fn post_for<B: serde::Serialize, T: serde::de::DeserializeOwned>(
    path: &str,
    body: &B,
) -> Result<T, Failure> {
    let json = serde_json::to_string(body).map_err(|e| Failure::Network(e.to_string()))?;
    let response = send_body("POST", path, Some(json)).await?;
    let body = text(&response).await?;
    serde_json::from_str(&body).map_err(|e| Failure::Network(format!("unreadable answer: {e}")))
}

/// GET `path` as bytes.
pub async fn get_bytes(path: &str) -> Result<js_sys::ArrayBuffer, Failure> {
    let response = send("GET", path).await?;
    let promise = response.array_buffer().map_err(js)?;
    let value = JsFuture::from(promise).await.map_err(js)?;
    value.dyn_into().map_err(js)
}
