//! Discord's REST API as the host calls it for cogs: one HTTP client, the
//! bot's authorization, per-cog budgets (a token bucket per cog, so one cog
//! cannot spend the bot's global rate limit), Discord's own limits honoured
//! (a 429's `Retry-After`, and a bucket whose `X-RateLimit-Remaining` hit 0
//! waits for its `X-RateLimit-Reset-After`), and 5xx retried — all within
//! the caller's deadline.
//!
//! twilight reads the gateway; these calls go through our own client
//! because the outcome (429 with its `Retry-After`, the headers) must reach
//! the cog as a typed error, and because attachments need multipart bodies
//! with several files. Responses are read with twilight's model types.
//!
//! Two transports share the work: JSON and empty bodies — every interaction
//! callback, most calls — go through hyper's client with an `http::Uri`
//! built straight from the path (reqwest parsed each URL with `url::Url`
//! and converted it back, about a quarter of the host's instructions per
//! interaction: docs/benchmarks.md); uploads go through reqwest, whose
//! multipart form is the well-kept encoder (it sends only through reqwest's
//! own client).

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use backon::Retryable as _;
use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue, USER_AGENT};
use http::{Method, StatusCode};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use parking_lot::Mutex;
use serde_json::Value;

/// Why a REST call failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RestError {
    /// Discord's rate limit (or the cog's budget): retry after this long.
    #[error("rate limited; retry after {} ms", .0.as_millis())]
    RateLimited(Duration),
    /// 404.
    #[error("not found: {0}")]
    NotFound(String),
    /// 403.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// 400: Discord refused the body.
    #[error("invalid request: {0}")]
    Invalid(String),
    /// Another failure status, or no answer.
    #[error("Discord failed: {0}")]
    Failed(String),
}

/// A file to upload with a message.
#[derive(Debug, Clone)]
pub struct Upload {
    /// File name.
    pub filename: String,
    /// MIME type.
    pub content_type: Option<String>,
    /// Bytes.
    pub data: Vec<u8>,
}

/// What a request carries.
#[derive(Debug, Clone, Default)]
pub enum Body {
    /// Nothing.
    #[default]
    Empty,
    /// A JSON body.
    Json(Value),
    /// `payload_json` plus files.
    Multipart(Value, Vec<Upload>),
}

impl Body {
    /// JSON, or multipart when there are files.
    pub fn message(payload: Value, files: Vec<Upload>) -> Self {
        if files.is_empty() {
            Body::Json(payload)
        } else {
            Body::Multipart(payload, files)
        }
    }
}

/// REST budgets: token buckets (governor's GCRA), one per cog and guild
/// within one per cog.
type Budgets = governor::DefaultKeyedRateLimiter<(String, u64)>;

/// The budgets' rates: per cog and guild, and per cog across guilds.
#[derive(Debug, Clone, Copy)]
pub struct BudgetRates {
    /// Calls a second one cog may make for one guild …
    pub per_second: u32,
    /// … and at once.
    pub burst: u32,
    /// Calls a second one cog may make across all guilds …
    pub cog_per_second: u32,
    /// … and at once.
    pub cog_burst: u32,
}

/// Who a call is charged to: a cog, in a guild (or outside guilds: a
/// direct message, an interaction's follow-up).
#[derive(Debug, Clone, Copy)]
pub struct Payer<'a> {
    /// The cog.
    pub cog: &'a str,
    /// The guild it acts in, if any.
    pub guild: Option<u64>,
}

/// Budget keys of a cog across guilds (`u64::MAX` is no guild's id).
const EVERY_GUILD: u64 = u64::MAX;
/// Spends between two sweeps of idle budget keys (a bot in many guilds
/// would otherwise keep a key per guild and cog for ever).
const SWEEP_EVERY: u64 = 10_000;

/// Why one attempt failed, and whether another may follow.
enum Attempt {
    /// Discord unreachable, or a 5xx: retry after the backoff.
    Transient(RestError),
    /// A 429: retry after Discord's wait.
    Wait(Duration, RestError),
    /// No retry helps.
    Final(RestError),
}

impl Attempt {
    fn into_error(self) -> RestError {
        match self {
            Attempt::Transient(error) | Attempt::Wait(_, error) | Attempt::Final(error) => error,
        }
    }
}

/// Counters of REST traffic, for metrics.
#[derive(Debug, Default)]
pub struct RestCounters {
    /// Requests sent.
    pub requests: AtomicU64,
    /// 429 answers received.
    pub rate_limited: AtomicU64,
    /// Calls refused by a cog's own budget.
    pub budget_refusals: AtomicU64,
}

/// The HTTP client of JSON calls (TLS for discord.com, plain HTTP for a
/// simulator on loopback).
type Hyper = HyperClient<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// What came back from one request.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

/// The REST client.
pub struct Rest {
    hyper: Hyper,
    uploads: reqwest::Client,
    base: String,
    authorization: HeaderValue,
    user_agent: HeaderValue,
    budgets: Budgets,
    cog_budgets: Budgets,
    spends: AtomicU64,
    blocked: Mutex<HashMap<String, Instant>>,
    global_block: Mutex<Option<Instant>>,
    /// The application id (from READY).
    pub application_id: AtomicU64,
    /// Traffic counters.
    pub counters: RestCounters,
}

const ATTEMPTS: u32 = 4;
/// How long one request may take, answer included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// The largest answer read (Discord's largest are lists of 1 000 members,
/// well under this); a larger one fails instead of filling memory.
const MAX_ANSWER_BYTES: usize = 16 << 20;

impl Rest {
    /// A client for `base` (`https://discord.com` or a simulator's URL) with
    /// the bot `token`, each cog within its budgets (`rates`).
    pub fn new(base: &str, token: &str, rates: BudgetRates) -> Self {
        let quota = |per_second: u32, burst: u32| {
            governor::Quota::per_second(NonZeroU32::new(per_second.max(1)).expect("≥ 1"))
                .allow_burst(NonZeroU32::new(burst.max(1)).expect("≥ 1"))
        };
        let authorization = if token.starts_with("Bot ") {
            token.to_string()
        } else {
            format!("Bot {token}")
        };
        let user_agent = format!(
            "DiscordBot (https://github.com/baseline, {})",
            crate::VERSION
        );
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_webpki_roots()
            .https_or_http()
            .enable_http1()
            .build();
        Self {
            hyper: HyperClient::builder(TokioExecutor::new()).build(https),
            uploads: reqwest::Client::builder()
                .timeout(REQUEST_TIMEOUT)
                // Discord's API does not redirect.
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("a TLS backend is compiled in"),
            base: format!("{}/api/v10", base.trim_end_matches('/')),
            // A token with a byte no header may carry is refused by every
            // call (as Discord would refuse it), not by a panic here.
            authorization: HeaderValue::from_str(&authorization)
                .unwrap_or_else(|_| HeaderValue::from_static("Bot invalid-token")),
            user_agent: HeaderValue::from_str(&user_agent).expect("an ASCII user agent"),
            budgets: governor::RateLimiter::keyed(quota(rates.per_second, rates.burst)),
            cog_budgets: governor::RateLimiter::keyed(quota(
                rates.cog_per_second.max(rates.per_second),
                rates.cog_burst.max(rates.burst),
            )),
            spends: AtomicU64::new(0),
            blocked: Mutex::new(HashMap::new()),
            global_block: Mutex::new(None),
            application_id: AtomicU64::new(0),
            counters: RestCounters::default(),
        }
    }

    /// The application id, once READY has told it.
    pub fn application_id(&self) -> u64 {
        self.application_id.load(Ordering::Relaxed)
    }

    /// Take one call from `cog`'s budget in `guild` and from its budget
    /// across guilds, or say how long until one is free. One guild's calls
    /// cannot spend another's: a cog logging a raid in one guild still
    /// answers in the others.
    fn spend(&self, cog: &str, guild: Option<u64>) -> Result<(), Duration> {
        use governor::clock::{Clock, DefaultClock};
        let wait = |not_until: governor::NotUntil<_>| {
            not_until.wait_time_from(DefaultClock::default().now())
        };
        if self.spends.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.budgets.retain_recent();
            self.cog_budgets.retain_recent();
        }
        self.budgets
            .check_key(&(cog.to_string(), guild.unwrap_or(0)))
            .map_err(wait)?;
        self.cog_budgets
            .check_key(&(cog.to_string(), EVERY_GUILD))
            .map_err(wait)
    }

    /// Make a call. `cog` is charged to its budget (the host's own calls
    /// pass `None`). Waits for rate limits only when the wait ends before
    /// `deadline`; otherwise answers `RateLimited`.
    pub async fn call(
        &self,
        cog: Option<&str>,
        method: Method,
        path: &str,
        body: Body,
        deadline: Instant,
    ) -> Result<Value, RestError> {
        let payer = cog.map(|cog| Payer { cog, guild: None });
        self.call_with_reason(payer, method, path, body, deadline, None)
            .await
    }

    /// [`Rest::call`] with a reason for the guild's audit log
    /// (`X-Audit-Log-Reason`), for moderation actions.
    pub async fn call_with_reason(
        &self,
        payer: Option<Payer<'_>>,
        method: Method,
        path: &str,
        body: Body,
        deadline: Instant,
        reason: Option<&str>,
    ) -> Result<Value, RestError> {
        let cog = payer.map(|p| p.cog);
        if let Some(payer) = payer
            && let Err(wait) = self.spend(payer.cog, payer.guild)
        {
            self.counters
                .budget_refusals
                .fetch_add(1, Ordering::Relaxed);
            return Err(RestError::RateLimited(wait));
        }
        let bucket = format!("{method} {}", route_key(path));
        // Transport failures and 5xx back off (100 ms doubling, with
        // jitter); a 429 waits what Discord asked. Either only while the
        // wait ends before the caller's deadline.
        let backoff = backon::ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(100))
            .with_max_times(ATTEMPTS as usize - 1)
            .with_jitter();
        let attempt = || self.attempt(&method, path, &bucket, &body, reason, cog, deadline);
        attempt
            .retry(backoff)
            .when(|failure| !matches!(failure, Attempt::Final(_)))
            .adjust(|failure, backoff| {
                let wait = match failure {
                    Attempt::Wait(wait, _) => backoff.map(|_| *wait),
                    _ => backoff,
                }?;
                (Instant::now() + wait < deadline).then_some(wait)
            })
            .notify(|failure, wait| match failure {
                Attempt::Transient(error) => {
                    tracing::warn!(%error, path, retry_in_ms = wait.as_millis() as u64, "Discord failed; retrying")
                }
                _ => tracing::debug!(path, "retrying after Discord's rate limit"),
            })
            .await
            .map_err(Attempt::into_error)
    }

    /// One try of a call: wait out a known block, send, read the answer.
    #[allow(clippy::too_many_arguments)]
    async fn attempt(
        &self,
        method: &Method,
        path: &str,
        bucket: &str,
        body: &Body,
        reason: Option<&str>,
        cog: Option<&str>,
        deadline: Instant,
    ) -> Result<Value, Attempt> {
        let bucket_until = self.blocked.lock().get(bucket).copied();
        let global_until = *self.global_block.lock();
        if let Some(until) = bucket_until.max(global_until) {
            let now = Instant::now();
            if until > now {
                if until > deadline {
                    return Err(Attempt::Final(RestError::RateLimited(until - now)));
                }
                tokio::time::sleep_until(until.into()).await;
            }
        }
        self.counters.requests.fetch_add(1, Ordering::Relaxed);
        let Answer {
            status,
            headers,
            body: bytes,
        } = self
            .send(method.clone(), path, body, reason)
            .await
            .map_err(|error| Attempt::Transient(RestError::Failed(error)))?;
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<f64>().ok())
        };
        if header("x-ratelimit-remaining") == Some(0.0)
            && let Some(reset) = header("x-ratelimit-reset-after")
        {
            let mut blocked = self.blocked.lock();
            let now = Instant::now();
            // Forget buckets whose reset has passed, so the map stays small.
            if blocked.len() > 1_024 {
                blocked.retain(|_, until| *until > now);
            }
            blocked.insert(bucket.to_string(), now + seconds(reset));
        }
        let header_retry_after = header("retry-after");
        let global_scope = headers
            .get("x-ratelimit-scope")
            .is_some_and(|v| v == "global");
        if status.is_success() {
            return if bytes.is_empty() {
                Ok(Value::Null)
            } else {
                serde_json::from_slice(&bytes).map_err(|e| {
                    Attempt::Final(RestError::Failed(format!("unreadable answer: {e}")))
                })
            };
        }
        let text = String::from_utf8_lossy(&bytes);
        let json: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        let message = json["message"].as_str().unwrap_or(&text).to_string();
        Err(match status.as_u16() {
            429 => {
                self.counters.rate_limited.fetch_add(1, Ordering::Relaxed);
                let retry_after = json["retry_after"]
                    .as_f64()
                    .or(header_retry_after)
                    .unwrap_or(1.0);
                let wait = seconds(retry_after);
                let global = json["global"].as_bool().unwrap_or(false) || global_scope;
                if global {
                    // Every call waits, not only this one.
                    *self.global_block.lock() = Some(Instant::now() + wait);
                }
                tracing::warn!(
                    path,
                    retry_after_ms = wait.as_millis() as u64,
                    global,
                    cog,
                    "Discord rate limit hit"
                );
                Attempt::Wait(wait, RestError::RateLimited(wait))
            }
            500..=599 => Attempt::Transient(RestError::Failed(format!("{status}: {message}"))),
            404 => Attempt::Final(RestError::NotFound(message)),
            403 => Attempt::Final(RestError::Forbidden(message)),
            400 => {
                let detail = if json["errors"].is_null() {
                    message
                } else {
                    format!("{message}: {}", json["errors"])
                };
                Attempt::Final(RestError::Invalid(detail))
            }
            _ => Attempt::Final(RestError::Failed(format!("{status}: {message}"))),
        })
    }

    /// Send one request and read its answer within [`REQUEST_TIMEOUT`];
    /// a transport failure as text.
    async fn send(
        &self,
        method: Method,
        path: &str,
        body: &Body,
        reason: Option<&str>,
    ) -> Result<Answer, String> {
        // Discord reads it percent-encoded, at most 512 characters.
        let reason = reason.filter(|r| !r.is_empty()).map(|reason| {
            HeaderValue::from_str(&percent_encode(
                &reason.chars().take(512).collect::<String>(),
            ))
            .expect("percent-encoded text is a header value")
        });
        let url = format!("{}{path}", self.base);
        let exchange = async {
            match body {
                Body::Multipart(payload, files) => {
                    self.send_upload(method, url, reason, payload, files).await
                }
                Body::Empty | Body::Json(_) => self.send_json(method, url, reason, body).await,
            }
        };
        tokio::time::timeout(REQUEST_TIMEOUT, exchange)
            .await
            .unwrap_or_else(|_| Err(format!("no answer within {} s", REQUEST_TIMEOUT.as_secs())))
    }

    /// A JSON (or empty) request through hyper.
    async fn send_json(
        &self,
        method: Method,
        url: String,
        reason: Option<HeaderValue>,
        body: &Body,
    ) -> Result<Answer, String> {
        let uri = http::Uri::try_from(url).map_err(|error| format!("bad request path: {error}"))?;
        let mut request = http::Request::builder()
            .method(method)
            .uri(uri)
            .header(AUTHORIZATION, self.authorization.clone())
            .header(USER_AGENT, self.user_agent.clone());
        if let Some(reason) = reason {
            request = request.header("x-audit-log-reason", reason);
        }
        let content = match body {
            Body::Json(value) => {
                request =
                    request.header(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                Bytes::from(serde_json::to_vec(value).map_err(|error| error.to_string())?)
            }
            _ => Bytes::new(),
        };
        let request = request
            .body(Full::new(content))
            .map_err(|error| format!("bad request: {error}"))?;
        let response = self
            .hyper
            .request(request)
            .await
            .map_err(|error| format!("cannot reach Discord: {error}"))?;
        let (parts, body) = response.into_parts();
        let body = Limited::new(body, MAX_ANSWER_BYTES)
            .collect()
            .await
            .map_err(|error| format!("reading the answer failed: {error}"))?
            .to_bytes();
        Ok(Answer {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }

    /// A message with files: multipart through reqwest.
    async fn send_upload(
        &self,
        method: Method,
        url: String,
        reason: Option<HeaderValue>,
        payload: &Value,
        files: &[Upload],
    ) -> Result<Answer, String> {
        let mut form = reqwest::multipart::Form::new().text("payload_json", payload.to_string());
        for (index, file) in files.iter().enumerate() {
            let mut part =
                reqwest::multipart::Part::bytes(file.data.clone()).file_name(file.filename.clone());
            if let Some(kind) = &file.content_type {
                part = part
                    .mime_str(kind)
                    .map_err(|error| format!("bad content type {kind:?}: {error}"))?;
            }
            form = form.part(format!("files[{index}]"), part);
        }
        let mut request = self
            .uploads
            .request(method, url)
            .header(AUTHORIZATION, self.authorization.clone())
            .header(USER_AGENT, self.user_agent.clone())
            .multipart(form);
        if let Some(reason) = reason {
            request = request.header("x-audit-log-reason", reason);
        }
        let response = request
            .send()
            .await
            .map_err(|error| format!("cannot reach Discord: {error}"))?;
        let status = response.status();
        let headers = response.headers().clone();
        if response.content_length().unwrap_or(0) > MAX_ANSWER_BYTES as u64 {
            return Err("the answer is too large".into());
        }
        let body = response
            .bytes()
            .await
            .map_err(|error| format!("reading the answer failed: {error}"))?;
        Ok(Answer {
            status,
            headers,
            body,
        })
    }
}

/// A wait Discord asked for, in seconds, as a duration: negative, NaN or
/// absurd values (from a broken proxy) become 0 s to an hour, never a panic.
fn seconds(value: f64) -> Duration {
    if value.is_finite() {
        Duration::from_secs_f64(value.clamp(0.0, 3_600.0))
    } else {
        Duration::from_secs(1)
    }
}

/// What stays as is in a path segment or header value: RFC 3986's
/// unreserved characters; everything else is percent-encoded.
const NOT_UNRESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Percent-encode a path segment or header value (unreserved characters
/// stay): emoji in reaction routes, audit-log reasons.
pub fn percent_encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, NOT_UNRESERVED).to_string()
}

/// A route's rate-limit key: its path with ids other than the major
/// parameter (the first channel, guild or webhook id) replaced.
fn route_key(path: &str) -> String {
    let mut major_seen = false;
    path.split('/')
        .map(|part| {
            if !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()) {
                if major_seen {
                    return "{id}";
                }
                major_seen = true;
            }
            part
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments_keep_only_unreserved_characters() {
        assert_eq!(percent_encode("a-Z_0.~"), "a-Z_0.~");
        assert_eq!(percent_encode("👍"), "%F0%9F%91%8D");
        assert_eq!(percent_encode("name:123 /?"), "name%3A123%20%2F%3F");
    }

    #[test]
    fn route_keys_keep_the_major_parameter_only() {
        assert_eq!(
            route_key("/channels/12/messages/34"),
            "/channels/12/messages/{id}"
        );
        assert_eq!(
            route_key("/guilds/5/members/6/roles/7"),
            "/guilds/5/members/{id}/roles/{id}"
        );
    }

    #[test]
    fn odd_waits_from_headers_never_panic() {
        assert_eq!(seconds(-3.0), Duration::ZERO);
        assert_eq!(seconds(f64::INFINITY), Duration::from_secs(1));
        assert_eq!(seconds(f64::NAN), Duration::from_secs(1));
        assert_eq!(seconds(1e12), Duration::from_secs(3_600));
        assert_eq!(seconds(0.25), Duration::from_millis(250));
    }

    #[test]
    fn a_cog_budget_refills_over_time() {
        let rates = BudgetRates {
            per_second: 10,
            burst: 2,
            cog_per_second: 100,
            cog_burst: 100,
        };
        let rest = Rest::new("http://127.0.0.1:1", "t", rates);
        assert!(rest.spend("a", Some(1)).is_ok());
        assert!(rest.spend("a", Some(1)).is_ok());
        let wait = rest.spend("a", Some(1)).unwrap_err();
        assert!(wait <= Duration::from_millis(100), "{wait:?}");
        assert!(rest.spend("b", Some(1)).is_ok(), "budgets are per cog");
        std::thread::sleep(Duration::from_millis(120));
        assert!(rest.spend("a", Some(1)).is_ok());
    }

    #[test]
    fn one_guilds_calls_do_not_spend_anothers_within_the_cogs_cap() {
        let rates = BudgetRates {
            per_second: 1,
            burst: 5,
            cog_per_second: 1,
            cog_burst: 12,
        };
        let rest = Rest::new("http://127.0.0.1:1", "t", rates);
        // A raid in guild 1 spends guild 1's budget …
        let spent = (0..50)
            .filter(|_| rest.spend("log", Some(1)).is_ok())
            .count();
        assert_eq!(spent, 5);
        // … and guild 2 still has all of its own.
        let spent = (0..50)
            .filter(|_| rest.spend("log", Some(2)).is_ok())
            .count();
        assert_eq!(spent, 5);
        // The cog's cap across guilds still binds: 12 in all.
        let spent = (0..50)
            .filter(|_| rest.spend("log", Some(3)).is_ok())
            .count();
        assert_eq!(spent, 2, "12 − 10 left for a third guild");
    }
}
