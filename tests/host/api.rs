//! The HTTP API through the real router (no socket): health, cogs,
//! settings with validation and audit, the guild guard tried with another
//! guild's id on every guild-scoped route, request ids, limits, OpenAPI.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use baseline_host::api::access::{Session, create_session};
use baseline_host::api::{ApiState, router};
use baseline_host::capabilities::Services;
use baseline_host::runtime::Runtime;
use baseline_host::store::Database;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::support::*;

pub(crate) const MINE: u64 = 111;
const THEIRS: u64 = 222;

pub(crate) struct App {
    pub(crate) runtime: Arc<Runtime>,
    pub(crate) _data: tempfile::TempDir,
    pub(crate) cogs: tempfile::TempDir,
}

async fn app() -> App {
    app_with(|cogs| {
        install("reference", cogs, "reference.wasm");
        install("status", cogs, "status.wasm");
        std::fs::write(cogs.join("broken.wasm"), b"not wasm").unwrap();
    })
    .await
}

/// An API over a SQLite store and the cogs `install` puts in the folder.
pub(crate) async fn app_with(install: impl FnOnce(&std::path::Path)) -> App {
    let data = tempfile::tempdir().unwrap();
    let cogs = tempfile::tempdir().unwrap();
    install(cogs.path());
    let db = Database::connect(&Database::sqlite_url(data.path()))
        .await
        .unwrap();
    db.migrate().await.unwrap();
    let runtime = Runtime::new(config(cogs.path()), Services::with_database(db)).unwrap();
    runtime.load_dir().await;
    App {
        runtime,
        _data: data,
        cogs,
    }
}

impl App {
    async fn token(&self, developer: bool) -> String {
        self.token_for(42, developer).await
    }

    pub(crate) async fn token_for(&self, user_id: u64, developer: bool) -> String {
        self.token_with(user_id, vec![MINE], developer).await
    }

    /// A session of `user_id`, who may manage `guilds` on Discord.
    pub(crate) async fn token_with(
        &self,
        user_id: u64,
        guilds: Vec<u64>,
        developer: bool,
    ) -> String {
        let session = Session {
            user_id,
            guilds,
            developer,
            ..Default::default()
        };
        create_session(
            self.runtime.services().cache.as_ref(),
            &session,
            Duration::from_secs(60),
        )
        .await
        .unwrap()
    }

    pub(crate) async fn send(
        &self,
        method: &str,
        uri: &str,
        token: Option<&str>,
        body: Option<&str>,
    ) -> (StatusCode, Value, axum::http::HeaderMap) {
        let mut request = Request::builder()
            .method(method)
            .uri(uri)
            .header("content-type", "application/json");
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let request = request
            .body(
                body.map(|b| Body::from(b.to_string()))
                    .unwrap_or_else(Body::empty),
            )
            .unwrap();
        let response = router(ApiState::new(self.runtime.clone()))
            .oneshot(request)
            .await
            .unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, json, headers)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_names_the_parts_to_developers_only() {
    let app = app().await;
    // Anyone, and a signed-in guild admin: the bare status.
    for token in [None, Some(app.token(false).await)] {
        let (status, body, _) = app
            .send("GET", "/api/v1/health", token.as_deref(), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body, json!({"status": "ok"}));
    }
    let developer = app.token(true).await;
    let (status, body, headers) = app
        .send("GET", "/api/v1/health", Some(&developer), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "ok");
    assert_eq!(body["database"]["backend"], "sqlite");
    assert_eq!(body["cache"]["backend"], "in-process");
    assert_eq!(body["cogs_loaded"], 2);
    assert_eq!(body["cogs_failed"], 1);
    assert!(headers.contains_key("x-request-id"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_is_503_with_a_dead_cache() {
    let server = OwnRedis::start(free_port());
    let cache = server.connect().await;
    let cogs = tempfile::tempdir().unwrap();
    let services = Services::in_process().with_cache(Arc::new(cache));
    let runtime = Runtime::new(config(cogs.path()), services).unwrap();
    let app = App {
        runtime,
        _data: tempfile::tempdir().unwrap(),
        cogs,
    };
    assert_eq!(
        app.send("GET", "/api/v1/health", None, None).await.0,
        StatusCode::OK
    );
    drop(server);
    // The session itself lives in the dead cache: everyone gets the bare status.
    let (status, body, _) = app.send("GET", "/api/v1/health", None, None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body, json!({"status": "degraded"}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cogs_are_for_developers() {
    let app = app().await;
    assert_eq!(
        app.send("GET", "/api/v1/cogs", None, None).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.send("GET", "/api/v1/cogs", Some("forged"), None)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    let admin = app.token(false).await;
    assert_eq!(
        app.send("GET", "/api/v1/cogs", Some(&admin), None).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.send("POST", "/api/v1/cogs/reference/reload", Some(&admin), None)
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    let developer = app.token(true).await;
    let (status, body, _) = app
        .send("GET", "/api/v1/cogs", Some(&developer), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let cogs = body.as_array().unwrap();
    let reference = cogs.iter().find(|c| c["name"] == "reference").unwrap();
    assert_eq!(reference["state"], "loaded");
    assert_eq!(reference["commands"], json!(["dice"]));
    assert_eq!(reference["wit_version"], "0.3.0");
    assert!(reference["declared_name"].is_null());
    assert!(reference["metrics"]["invocations"].is_number());
    let broken = cogs.iter().find(|c| c["state"] == "failed").unwrap();
    assert!(
        broken["last_error"]
            .as_str()
            .unwrap()
            .contains("not a WebAssembly file")
    );
    let (status, body, _) = app
        .send(
            "POST",
            "/api/v1/cogs/reference/reload",
            Some(&developer),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        app.send("POST", "/api/v1/cogs/nope/reload", Some(&developer), None)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_round_trip_validate_and_audit() {
    let app = app().await;
    let admin = app.token(false).await;
    let url = format!("/api/v1/guilds/{MINE}/cogs/reference/settings");
    let (status, body, _) = app.send("GET", &url, Some(&admin), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["value"]["default_sides"], 6);
    assert_eq!(body["schema"]["type"], "object");

    let (status, body, _) = app
        .send("PUT", &url, Some(&admin), Some(r#"{"default_sides": 20}"#))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["value"]["default_sides"], 20);
    assert_eq!(body["value"]["max_count"], 10, "defaults fill the rest");
    assert_eq!(
        app.send("GET", &url, Some(&admin), None).await.1["value"]["default_sides"],
        20
    );

    let (status, body, _) = app
        .send(
            "PUT",
            &url,
            Some(&admin),
            Some(r#"{"default_sides": 1, "max_count": "many", "extra": true}"#),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let paths: Vec<&str> = body["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert!(
        paths.contains(&"/default_sides") && paths.contains(&"/max_count"),
        "{body}"
    );
    assert!(
        paths.contains(&""),
        "additionalProperties is reported on the document: {body}"
    );
    assert_eq!(
        app.send("PUT", &url, Some(&admin), Some("[1, 2]")).await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        app.send("PUT", &url, Some(&admin), Some("{not json"))
            .await
            .0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        app.send("GET", &url, Some(&admin), None).await.1["value"]["default_sides"],
        20,
        "a refused write changes nothing"
    );

    let (status, body, _) = app
        .send("GET", &format!("{url}/audit"), Some(&admin), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body[0]["actor_id"], 42);
    assert_eq!(body[0]["after"]["default_sides"], 20);
    assert_eq!(body.as_array().unwrap().len(), 1);

    // The cog sees what the admin saved.
    let cog = app.runtime.registry().get("reference").unwrap();
    let invocation = command("dice", Some("roll"), vec![], MINE, USER);
    let answer = app
        .runtime
        .invoke(
            &cog,
            scope("reference", &invocation),
            baseline_host::runtime::Call::Command(invocation),
        )
        .await
        .unwrap();
    assert!(format!("{answer:?}").contains("1d20:"), "{answer:?}");

    assert_eq!(
        app.send(
            "GET",
            &format!("/api/v1/guilds/{MINE}/cogs/nope/settings"),
            Some(&admin),
            None
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.send(
            "GET",
            &format!("/api/v1/guilds/{MINE}/cogs/status/settings"),
            Some(&admin),
            None
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.send(
            "GET",
            "/api/v1/guilds/abc/cogs/reference/settings",
            Some(&admin),
            None
        )
        .await
        .0,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_guilds_id_is_refused_on_every_guild_route() {
    let app = app().await;
    let admin = app.token(false).await;
    let routes = [
        (
            "GET",
            format!("/api/v1/guilds/{THEIRS}/cogs/reference/settings"),
            None,
        ),
        (
            "PUT",
            format!("/api/v1/guilds/{THEIRS}/cogs/reference/settings"),
            Some(r#"{"default_sides": 20}"#),
        ),
        (
            "GET",
            format!("/api/v1/guilds/{THEIRS}/cogs/reference/settings/audit"),
            None,
        ),
        ("GET", format!("/api/v1/guilds/{THEIRS}/cogs"), None),
        (
            "PUT",
            format!("/api/v1/guilds/{THEIRS}/cogs/reference/enabled"),
            Some(r#"{"enabled": false}"#),
        ),
    ];
    for (method, url, body) in &routes {
        let (status, json, _) = app.send(method, url, Some(&admin), *body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {url}: {json}");
        assert_eq!(
            app.send(method, url, None, *body).await.0,
            StatusCode::UNAUTHORIZED,
            "{method} {url}"
        );
    }
    // Nothing was written to the other guild.
    let saved = app
        .runtime
        .services()
        .settings
        .get("reference", THEIRS)
        .await
        .unwrap();
    assert_eq!(saved, None);
    let store = baseline_host::store::guilds::GuildStore::new(
        app.runtime.services().database.clone().unwrap(),
    );
    assert!(
        store.cog_enabled(THEIRS, "reference").await.unwrap(),
        "still on in the other guild"
    );
    // A developer may act on any guild.
    let developer = app.token(true).await;
    assert_eq!(
        app.send("GET", &routes[0].1, Some(&developer), None)
            .await
            .0,
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_ids_limits_and_openapi() {
    let app = app().await;
    let request = Request::builder()
        .uri("/api/v1/health")
        .header("x-request-id", "abc-123")
        .body(Body::empty())
        .unwrap();
    let response = router(ApiState::new(app.runtime.clone()))
        .oneshot(request)
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "abc-123");

    let admin = app.token(false).await;
    let huge = format!(r#"{{"label_suggestions": ["{}"]}}"#, "x".repeat(300 << 10));
    let url = format!("/api/v1/guilds/{MINE}/cogs/reference/settings");
    assert_eq!(
        app.send("PUT", &url, Some(&admin), Some(&huge)).await.0,
        StatusCode::PAYLOAD_TOO_LARGE
    );

    let (status, doc, _) = app.send("GET", "/api/v1/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/api/v1/health",
        "/api/v1/cogs",
        "/api/v1/guilds/{guild_id}/cogs/{cog}/settings",
    ] {
        assert!(
            doc["paths"][path].is_object(),
            "{path} missing from the OpenAPI document"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_client_is_rate_limited_on_its_own() {
    let app = app().await;
    let limit = app.runtime.config().api_rate_limit;
    // Keyed by user: two sessions of one user share a limit, another user has their own.
    let (first, same_user, second) = (
        app.token(false).await,
        app.token(false).await,
        app.token_for(43, false).await,
    );
    let url = format!("/api/v1/guilds/{MINE}/cogs/reference/settings");
    // Stay inside one one-second window: start right after a second begins.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    tokio::time::sleep(Duration::from_nanos(
        1_000_000_000 - u64::from(now.subsec_nanos()) + 1_000_000,
    ))
    .await;
    let mut statuses = Vec::new();
    for i in 0..limit + 5 {
        let token = if i % 2 == 0 { &first } else { &same_user };
        statuses.push(app.send("GET", &url, Some(token), None).await.0);
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::OK).count(),
        limit as usize,
        "{statuses:?}"
    );
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
            .count(),
        5
    );
    let (status, body, headers) = app.send("GET", &url, Some(&first), None).await;
    assert_eq!(
        (
            status,
            headers.get("retry-after").map(|v| v.to_str().unwrap())
        ),
        (StatusCode::TOO_MANY_REQUESTS, Some("1")),
        "{body}"
    );
    // Another client is not affected.
    assert_eq!(
        app.send("GET", &url, Some(&second), None).await.0,
        StatusCode::OK
    );
    // A made-up token per request counts against the address that sent it.
    let mut statuses = Vec::new();
    for i in 0..limit + 5 {
        let bogus = format!("made-up-{i}");
        statuses.push(app.send("GET", &url, Some(&bogus), None).await.0);
    }
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
            .count(),
        5,
        "{statuses:?}"
    );
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::UNAUTHORIZED || *s == StatusCode::TOO_MANY_REQUESTS)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forgetting_a_user_deletes_their_cog_data_only() {
    use baseline_host::store::kv::{Namespace, Partition, Quota};
    let app = app().await;
    let kv = app.runtime.services().kv.clone();
    let space = |user| Namespace {
        cog: "reference".into(),
        partition: Partition::User { guild: MINE, user },
    };
    kv.set(&space(7), "rolls", b"3".to_vec(), None, Quota::UNLIMITED)
        .await
        .unwrap();
    kv.set(&space(8), "rolls", b"5".to_vec(), None, Quota::UNLIMITED)
        .await
        .unwrap();
    // And the messages the host remembers of them, for edits and deletions.
    use baseline_host::store::remembered::{Remembered, RememberedMessages};
    let remembered = RememberedMessages::new(app.runtime.services().database.clone().unwrap());
    let message = |id, author| Remembered {
        message: id,
        guild: MINE,
        channel: 1,
        author,
        body: b"{}".to_vec(),
    };
    remembered
        .put(&[message(70, 7), message(71, 7), message(80, 8)])
        .await
        .unwrap();
    let admin = app.token(false).await;
    assert_eq!(
        app.send("DELETE", "/api/v1/users/7/data", Some(&admin), None)
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    let developer = app.token(true).await;
    assert_eq!(
        app.send("DELETE", "/api/v1/users/x/data", Some(&developer), None)
            .await
            .0,
        StatusCode::BAD_REQUEST
    );
    let (status, body, _) = app
        .send("DELETE", "/api/v1/users/7/data", Some(&developer), None)
        .await;
    assert_eq!(
        (
            status,
            body["deleted_keys"].as_u64(),
            body["forgotten_messages"].as_u64()
        ),
        (StatusCode::OK, Some(1), Some(2)),
        "{body}"
    );
    assert!(remembered.get(&[70, 71]).await.unwrap().is_empty());
    assert_eq!(remembered.get(&[80]).await.unwrap().len(), 1);
    assert_eq!(kv.get(&space(7), "rolls").await.unwrap(), None);
    assert!(kv.get(&space(8), "rolls").await.unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_turns_a_cog_off_and_on_in_their_guild() {
    let app = app().await;
    let admin = app.token(false).await;
    let (status, list, _) = app
        .send(
            "GET",
            &format!("/api/v1/guilds/{MINE}/cogs"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["reference", "status"]);
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .all(|c| c["enabled"] == true)
    );
    let url = format!("/api/v1/guilds/{MINE}/cogs/reference/enabled");
    let (status, switched, _) = app
        .send("PUT", &url, Some(&admin), Some(r#"{"enabled": false}"#))
        .await;
    assert_eq!(status, StatusCode::OK, "{switched}");
    assert_eq!(switched["enabled"], false);
    let (_, list, _) = app
        .send(
            "GET",
            &format!("/api/v1/guilds/{MINE}/cogs"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(list[0]["enabled"], false);
    assert_eq!(list[1]["enabled"], true);
    // Bad input: an unknown cog, a body that is not the switch.
    let (status, _, _) = app
        .send(
            "PUT",
            &format!("/api/v1/guilds/{MINE}/cogs/nope/enabled"),
            Some(&admin),
            Some(r#"{"enabled": true}"#),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = app
        .send("PUT", &url, Some(&admin), Some(r#"{"enabled": "yes"}"#))
        .await;
    assert!(status.is_client_error(), "{status}");
    let (_, switched, _) = app
        .send("PUT", &url, Some(&admin), Some(r#"{"enabled": true}"#))
        .await;
    assert_eq!(switched["enabled"], true);
}

async fn raw(app: &App, request: Request<Body>) -> axum::response::Response {
    router(ApiState::new(app.runtime.clone()))
        .oneshot(request)
        .await
        .unwrap()
}

/// No web page may read the API with an admin's cookie unless its origin
/// is the configured dashboard's; by default none may.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_dashboard_origin_may_call_from_a_browser() {
    let app = app().await;
    let admin = app.token(false).await;
    let read = |origin: &str| {
        Request::builder()
            .uri(format!(
                "/api/v1/guilds/{MINE}/cogs/reference/settings/audit"
            ))
            .header("origin", origin)
            .header("cookie", format!("baseline_session={admin}"))
            .body(Body::empty())
            .unwrap()
    };
    let preflight = |origin: &str| {
        Request::builder()
            .method("OPTIONS")
            .uri("/api/v1/cogs/reference/reload")
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .body(Body::empty())
            .unwrap()
    };
    for origin in ["https://evil.example", "http://127.0.0.1:8000"] {
        let response = raw(&app, read(origin)).await;
        assert!(
            !response
                .headers()
                .contains_key("access-control-allow-origin"),
            "{origin} may read: {:?}",
            response.headers()
        );
        let response = raw(&app, preflight(origin)).await;
        assert!(
            !response
                .headers()
                .contains_key("access-control-allow-origin")
        );
    }

    // With a dashboard origin configured: that origin, and only it.
    let cogs = tempfile::tempdir().unwrap();
    let mut config = config(cogs.path());
    config.dashboard_origin = Some("https://dash.example".into());
    let configured = App {
        runtime: Runtime::new(config, Services::in_process()).unwrap(),
        _data: tempfile::tempdir().unwrap(),
        cogs,
    };
    let response = raw(&configured, preflight("https://dash.example")).await;
    assert_eq!(
        response.headers()["access-control-allow-origin"],
        "https://dash.example"
    );
    assert_eq!(
        response.headers()["access-control-allow-credentials"],
        "true"
    );
    let response = raw(&configured, preflight("https://evil.example")).await;
    assert!(
        !response
            .headers()
            .contains_key("access-control-allow-origin")
    );
}

/// A database failure answers 503 naming the part, never its error text
/// (which can name files, hosts and users); the log has it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_bodies_never_carry_database_errors() {
    let app = app().await;
    let admin = app.token(false).await;
    let url = format!("/api/v1/guilds/{MINE}/cogs/reference/settings/audit");
    assert_eq!(
        app.send("GET", &url, Some(&admin), None).await.0,
        StatusCode::OK
    );
    match app.runtime.services().database.as_ref().unwrap().pool() {
        baseline_host::store::Pool::Sqlite(pool) => pool.close().await,
        baseline_host::store::Pool::Postgres(pool) => pool.close().await,
    }
    let (status, body, _) = app.send("GET", &url, Some(&admin), None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(
        body["message"],
        "the database is unavailable; the operator's log has the details"
    );
    let text = body.to_string().to_lowercase();
    for leak in ["pool", "closed", "sqlite", "sqlx"] {
        assert!(!text.contains(leak), "{leak} in {body}");
    }
}

/// What a cog keeps, per guild, for the developer team only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cog_usage_is_reported_to_developers() {
    use baseline_host::store::kv::{Namespace, Partition, Quota};
    let app = app().await;
    let kv = app.runtime.services().kv.clone();
    kv.set(
        &Namespace {
            cog: "reference".into(),
            partition: Partition::Guild(MINE),
        },
        "rolls",
        b"12".to_vec(),
        None,
        Quota::UNLIMITED,
    )
    .await
    .unwrap();
    let url = "/api/v1/cogs/reference/usage";
    let admin = app.token(false).await;
    assert_eq!(
        app.send("GET", url, Some(&admin), None).await.0,
        StatusCode::FORBIDDEN
    );
    let developer = app.token(true).await;
    let (status, body, _) = app.send("GET", url, Some(&developer), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["kv"][0]["guild_id"], MINE);
    assert_eq!(body["kv"][0]["keys"], 1);
    assert_eq!(body["kv"][0]["bytes"], 7);
    assert_eq!(body["quotas"]["kv_keys"], 10_000);
    assert_eq!(body["share"]["concurrency"], 16);
    assert_eq!(
        app.send("GET", "/api/v1/cogs/nope/usage", Some(&developer), None)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_is_served_beside_the_api() {
    let site = tempfile::tempdir().unwrap();
    std::fs::write(
        site.path().join("index.html"),
        "<!doctype html><title>app</title>",
    )
    .unwrap();
    let script = format!("export default 1;{}", " ".repeat(4_000));
    std::fs::write(site.path().join("app.js"), &script).unwrap();
    let cogs = tempfile::tempdir().unwrap();
    let send =
        |method: &'static str, dir: Option<std::path::PathBuf>, uri: &'static str, gzip: bool| {
            let cogs = cogs.path().to_path_buf();
            async move {
                let mut config = config(&cogs);
                config.dashboard_dir = dir;
                let runtime = Runtime::new(config, Services::in_process()).unwrap();
                let mut request = Request::builder().method(method).uri(uri);
                if gzip {
                    request = request.header("accept-encoding", "gzip");
                }
                let response = router(ApiState::new(runtime))
                    .oneshot(request.body(Body::empty()).unwrap())
                    .await
                    .unwrap();
                let status = response.status();
                let headers = response.headers().clone();
                let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
                    .await
                    .unwrap();
                (status, headers, String::from_utf8_lossy(&bytes).to_string())
            }
        };
    let get = |dir, uri, gzip| send("GET", dir, uri, gzip);
    let dir = Some(site.path().to_path_buf());
    // The app, and its own routes (a reload on /guilds/1 gets the app too).
    for uri in ["/", "/guilds/123"] {
        let (status, headers, body) = get(dir.clone(), uri, false).await;
        assert_eq!(status, StatusCode::OK, "{uri}");
        assert!(body.contains("<title>app</title>"), "{uri}: {body}");
        assert_eq!(headers["cache-control"], "no-cache", "{uri}");
    }
    let (status, headers, body) = get(dir.clone(), "/app.js", false).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .contains("javascript")
    );
    assert_eq!(body, script);
    let (_, headers, _) = get(dir.clone(), "/app.js", true).await;
    assert_eq!(headers["content-encoding"], "gzip", "compressed when asked");
    // An unknown API path is a JSON 404, never the app.
    let (status, _, body) = get(dir.clone(), "/api/v1/no-such-route", false).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.contains("no such API route"), "{body}");
    // Without a built dashboard, `/` says how to build one.
    let (status, _, body) = get(None, "/", false).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("just dashboard"), "{body}");
    // The app's fallback is for page loads: GET and HEAD, built or not.
    for dir in [dir.clone(), None] {
        let (status, headers, _) = send("HEAD", dir.clone(), "/guilds/123", false).await;
        assert_eq!(status, StatusCode::OK, "HEAD {dir:?}");
        assert!(headers.contains_key("content-type"));
        for method in ["POST", "PUT", "DELETE", "PATCH"] {
            for uri in ["/made-up", "/", "/app.js"] {
                let (status, _, body) = send(method, dir.clone(), uri, false).await;
                assert_eq!(
                    status,
                    StatusCode::METHOD_NOT_ALLOWED,
                    "{method} {uri} {dir:?}: {body}"
                );
                assert!(!body.contains("<title>app</title>"), "{method} {uri}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_playground_is_for_developers_and_needs_a_simulator() {
    let app = app().await;
    let admin = app.token(false).await;
    let developer = app.token(true).await;
    for (method, uri, body) in [
        ("GET", "/api/v1/playground", None),
        (
            "POST",
            "/api/v1/playground/commands",
            Some(r#"{"name": "status"}"#),
        ),
        (
            "POST",
            "/api/v1/playground/components",
            Some(r#"{"message_id": "1", "custom_id": "x"}"#),
        ),
    ] {
        let (status, _, _) = app.send(method, uri, None, body).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{uri} signed out");
        let (status, _, _) = app.send(method, uri, Some(&admin), body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{uri} as a guild admin");
        // This API talks to no simulator: the playground says what it needs.
        let (status, answer, _) = app.send(method, uri, Some(&developer), body).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{uri}: {answer}");
        assert!(answer["message"].as_str().unwrap().contains("simulator"));
    }
}
