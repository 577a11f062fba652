//! Signing in with Discord through the simulator's OAuth2, sessions,
//! delegated tiers, API tokens, and the attacks the sign-in must refuse
//! (forged or reused state, a replayed code, a fixed session id, a
//! cross-origin POST, an open redirect). And, generated from the OpenAPI
//! document, every guild-scoped route called as an outsider, a lower tier
//! and signed out.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use baseline_discord_sim::Simulator;
use baseline_discord_sim::world::{BOT_ID, DEMO_GUILD, DEMO_OWNER};
use baseline_host::api::access::{Session, create_session};
use baseline_host::api::login::Login;
use baseline_host::api::{ApiState, router};
use baseline_host::capabilities::Services;
use baseline_host::runtime::Runtime;
use baseline_host::store::Database;
use baseline_host::store::access::{AccessStore, Tier};
use baseline_host::store::guilds::GuildStore;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::support::*;

const GRACE: u64 = DEMO_OWNER + 1;

pub(crate) struct Site {
    pub(crate) url: String,
    pub(crate) sim: Simulator,
    pub(crate) runtime: Arc<Runtime>,
    _data: tempfile::TempDir,
    _cogs: tempfile::TempDir,
}

/// The API with sign-in against a simulator, on a port of its own.
async fn site(per_minute: u32) -> Site {
    site_with(per_minute, |_| {}).await
}

/// [`site`] with the configuration changed by `change` (before the cogs
/// folder is loaded).
pub(crate) async fn site_with(
    per_minute: u32,
    change: impl FnOnce(&mut baseline_host::config::Config),
) -> Site {
    site_on(per_minute, change, None, |services| services).await
}

/// [`site_with`], with the cache in Redis at `redis_url` when given.
pub(crate) async fn site_on(
    per_minute: u32,
    change: impl FnOnce(&mut baseline_host::config::Config),
    redis_url: Option<&str>,
    services: impl FnOnce(Services) -> Services,
) -> Site {
    let sim = Simulator::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let data = tempfile::tempdir().unwrap();
    let cogs = tempfile::tempdir().unwrap();
    let db = Database::connect(&Database::sqlite_url(data.path()))
        .await
        .unwrap();
    db.migrate().await.unwrap();
    GuildStore::new(db.clone())
        .joined(DEMO_GUILD, "Baseline Demo", DEMO_OWNER)
        .await
        .unwrap();
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let mut config = config(cogs.path());
    config.auth.public_url = Some(url.clone());
    config.auth.login_per_minute = per_minute;
    change(&mut config);
    config.api_rate_limit = 0;
    let login = Login::new(
        &config.auth,
        &sim.http_url(),
        BOT_ID,
        &url,
        Some(baseline_discord_sim::oauth::CLIENT_SECRET),
    );
    assert!(login.is_some(), "the simulator's secret turns sign-in on");
    let link = Arc::new(baseline_host::discord::DiscordLink::new(
        &sim.http_url(),
        "simulated-token",
        &config.discord,
    ));
    let mut with = Services::with_database(db).with_discord(link);
    if let Some(url) = redis_url {
        with = with.with_cache(Arc::new(
            baseline_host::cache::RedisCache::connect(url)
                .await
                .unwrap(),
        ));
    }
    let runtime = Runtime::new(config, services(with)).unwrap();
    runtime.load_dir().await;
    baseline_host::api::serve(
        ApiState::new(runtime.clone())
            .with_login(login)
            .with_playground(Some(sim.http_url())),
        format!("127.0.0.1:{port}").parse().unwrap(),
    )
    .await
    .unwrap();
    Site {
        url,
        sim,
        runtime,
        _data: data,
        _cogs: cogs,
    }
}

/// A browser: follows nothing by itself, keeps cookies per name.
#[derive(Default)]
struct Browser {
    cookies: HashMap<String, String>,
}

struct Answer {
    status: StatusCode,
    location: String,
    body: Value,
}

impl Browser {
    async fn request(
        &mut self,
        method: &str,
        url: &str,
        origin: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let mut request = http.request(method.parse().unwrap(), url);
        if !self.cookies.is_empty() {
            let cookie: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            request = request.header("cookie", cookie.join("; "));
        }
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        for set in response.headers().get_all("set-cookie") {
            let text = set.to_str().unwrap();
            let pair = text.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() || text.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_string(), value.to_string());
            }
        }
        let status = response.status();
        let location = response
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_string())
            .unwrap_or_default();
        let body = response.json().await.unwrap_or(Value::Null);
        Answer {
            status: StatusCode::from_u16(status.as_u16()).unwrap(),
            location,
            body,
        }
    }

    async fn get(&mut self, url: &str) -> Answer {
        self.request("GET", url, None, None).await
    }

    /// A new API token named `ci`, made from this browser's session: the
    /// answer and the secret.
    async fn make_token(&mut self, site: &Site) -> (Answer, String) {
        let made = self
            .request(
                "POST",
                &format!("{}/api/v1/auth/tokens", site.url),
                Some(&site.url),
                Some(json!({"name": "ci"})),
            )
            .await;
        assert_eq!(made.status, StatusCode::CREATED, "{:?}", made.body);
        let token = made.body["token"].as_str().unwrap().to_string();
        (made, token)
    }

    /// Login → Discord's page → the callback URL Discord sends back to.
    async fn approve(&mut self, site: &Site, user: u64) -> String {
        let login = self
            .get(&format!("{}/api/v1/auth/login?as_user={user}", site.url))
            .await;
        assert_eq!(login.status, StatusCode::SEE_OTHER, "{:?}", login.body);
        assert!(
            login.location.starts_with(&site.sim.http_url()),
            "{}",
            login.location
        );
        assert!(login.location.contains("code_challenge_method=S256"));
        let approved = self.get(&login.location).await;
        assert_eq!(approved.status, StatusCode::SEE_OTHER);
        assert!(
            approved
                .location
                .starts_with(&format!("{}/api/v1/auth/callback?", site.url))
        );
        approved.location
    }

    /// Sign in as `user`; the session cookie is kept.
    async fn sign_in(&mut self, site: &Site, user: u64) {
        let callback = self.approve(site, user).await;
        let done = self.get(&callback).await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{:?}", done.body);
        assert_eq!(done.location, "/", "back to the dashboard");
        assert!(self.cookies.contains_key("baseline_session"));
        assert!(
            !self.cookies.contains_key("baseline_login"),
            "the binding cookie is cleared"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_with_discord_and_hand_out_access() {
    let site = site_with(100, |c| c.auth.developers = vec![DEMO_OWNER]).await;
    // A second guild of ada's that the bot has left: listed with an invite.
    let http = reqwest::Client::new();
    let added: Value = http
        .post(format!("{}/_sim/guilds", site.sim.http_url()))
        .json(&json!({"name": "Second", "owner_id": DEMO_OWNER.to_string()}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let second = added["guild_id"].as_str().unwrap().to_string();
    http.delete(format!("{}/_sim/guilds/{second}", site.sim.http_url()))
        .send()
        .await
        .unwrap();
    let mut ada = Browser::default();
    ada.sign_in(&site, DEMO_OWNER).await;
    let guilds = ada.get(&format!("{}/api/v1/guilds", site.url)).await;
    let listed = guilds.body.as_array().unwrap();
    assert_eq!(listed.len(), 2, "{listed:?}");
    let elsewhere = listed.iter().find(|g| g["id"] == second.as_str()).unwrap();
    assert_eq!(elsewhere["bot_present"], false);
    assert_eq!(elsewhere["tier"], "admin");
    assert_eq!(elsewhere["name"], "Second");
    let invite = elsewhere["invite_url"].as_str().unwrap();
    assert!(
        invite.contains(&format!("guild_id={second}")) && invite.contains("scope=bot"),
        "{invite}"
    );
    // ada is its admin on Discord's word, but the bot is not in it: the
    // pickers answer 404 without spending the bot's Discord budget (anyone
    // can make a guild of their own).
    for picker in ["channels", "roles", "members?query=a"] {
        let answer = ada
            .get(&format!("{}/api/v1/guilds/{second}/{picker}", site.url))
            .await;
        assert_eq!(
            answer.status,
            StatusCode::NOT_FOUND,
            "{picker}: {:?}",
            answer.body
        );
    }
    let asked = sim_requests(
        &http,
        &site.sim.http_url(),
        "GET",
        &format!("/api/v10/guilds/{second}/"),
    )
    .await;
    assert_eq!(asked, 0, "no call through the bot for a guild it is not in");
    let me = ada.get(&format!("{}/api/v1/auth/me", site.url)).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["username"], "ada");
    assert_eq!(me.body["manages"].as_array().unwrap().len(), 2);
    // ada owns the demo guild: admin there; grace is in it without rights.
    let mut grace = Browser::default();
    grace.sign_in(&site, GRACE).await;
    let guilds = grace.get(&format!("{}/api/v1/guilds", site.url)).await;
    assert_eq!(guilds.body, json!([]), "grace manages nothing yet");
    let users = format!("{}/api/v1/guilds/{DEMO_GUILD}/authorized-users", site.url);
    assert_eq!(grace.get(&users).await.status, StatusCode::FORBIDDEN);
    // ada makes grace an editor (from this site: Origin matches).
    let grant = ada
        .request(
            "POST",
            &users,
            Some(&site.url),
            Some(json!({"user_id": GRACE.to_string(), "tier": "editor"})),
        )
        .await;
    assert_eq!(grant.status, StatusCode::NO_CONTENT, "{:?}", grant.body);
    let guilds = grace.get(&format!("{}/api/v1/guilds", site.url)).await;
    assert_eq!(guilds.body[0]["id"], DEMO_GUILD.to_string());
    assert_eq!(guilds.body[0]["tier"], "editor");
    assert_eq!(guilds.body[0]["bot_present"], true);
    // An editor cannot hand out access, least of all above their tier.
    let escalate = grace
        .request(
            "POST",
            &users,
            Some(&site.url),
            Some(json!({"user_id": GRACE.to_string(), "tier": "admin"})),
        )
        .await;
    assert_eq!(escalate.status, StatusCode::FORBIDDEN);
    // The trail: who granted what to whom.
    let history = ada.get(&format!("{users}/history")).await;
    assert_eq!(history.body[0]["actor_id"], DEMO_OWNER.to_string());
    assert_eq!(history.body[0]["user_id"], GRACE.to_string());
    assert_eq!(history.body[0]["after"], "editor");
    // Revoked: grace loses access on her next request.
    let revoke = ada
        .request("DELETE", &format!("{users}/{GRACE}"), Some(&site.url), None)
        .await;
    assert_eq!(revoke.status, StatusCode::NO_CONTENT);
    assert_eq!(grace.get(&users).await.status, StatusCode::FORBIDDEN);
    // The owner's access follows Discord, not the dashboard.
    let own = ada
        .request(
            "DELETE",
            &format!("{users}/{DEMO_OWNER}"),
            Some(&site.url),
            None,
        )
        .await;
    assert_eq!(own.status, StatusCode::FORBIDDEN);

    // An API token acts as its user, is shown once, and can be revoked.
    let (made, token) = ada.make_token(&site).await;
    let http = reqwest::Client::new();
    let with_token = |path: &str| {
        http.get(format!("{}{path}", site.url))
            .bearer_auth(&token)
            .send()
    };
    let me = with_token("/api/v1/auth/me").await.unwrap();
    assert_eq!(me.status(), 200);
    // A token cannot make tokens (a leaked one must not outlive its revocation).
    let minted = http
        .post(format!("{}/api/v1/auth/tokens", site.url))
        .bearer_auth(&token)
        .json(&json!({"name": "more"}))
        .send()
        .await
        .unwrap();
    assert_eq!(minted.status(), 403);
    // It acts with what Discord said at sign-in (ada is a developer)…
    assert_eq!(with_token("/api/v1/cogs").await.unwrap().status(), 200);
    // …until Discord's word goes stale (a refused refresh, a transfer).
    AccessStore::new(site.runtime.services().database.clone().unwrap())
        .forget_discord(DEMO_OWNER)
        .await
        .unwrap();
    assert_eq!(with_token("/api/v1/cogs").await.unwrap().status(), 403);
    let stored = with_token(&format!("/api/v1/guilds/{DEMO_GUILD}/authorized-users"))
        .await
        .unwrap();
    assert_eq!(stored.status(), 200, "stored roles (ownership) still apply");
    let listed = ada.get(&format!("{}/api/v1/auth/tokens", site.url)).await;
    assert_eq!(listed.body[0]["name"], "ci");
    assert!(
        listed.body[0].get("token").is_none(),
        "the secret is never listed"
    );
    let id = made.body["id"].as_str().unwrap();
    let gone = ada
        .request(
            "DELETE",
            &format!("{}/api/v1/auth/tokens/{id}", site.url),
            Some(&site.url),
            None,
        )
        .await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT);
    assert_eq!(with_token("/api/v1/auth/me").await.unwrap().status(), 401);

    // Signing out: refused from another site, done from this one.
    let logout = format!("{}/api/v1/auth/logout", site.url);
    let forged = ada
        .request("POST", &logout, Some("http://evil.example"), None)
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let no_origin = ada.request("POST", &logout, None, None).await;
    assert_eq!(
        no_origin.status,
        StatusCode::FORBIDDEN,
        "a cookie POST without Origin"
    );
    let me = ada.get(&format!("{}/api/v1/auth/me", site.url)).await;
    assert_eq!(me.status, StatusCode::OK, "still signed in");
    let out = ada.request("POST", &logout, Some(&site.url), None).await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    assert!(!ada.cookies.contains_key("baseline_session"));
    let session_gone = ada.get(&format!("{}/api/v1/auth/me", site.url)).await;
    assert_eq!(session_gone.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_state_is_refused() {
    let site = site(100).await;
    let mut browser = Browser::default();
    let callback = browser.approve(&site, GRACE).await;
    let forged = callback.replace("state=", "state=x");
    assert_eq!(browser.get(&forged).await.status, StatusCode::BAD_REQUEST);
    // A state started in another browser (no binding cookie there).
    let mut other = Browser::default();
    assert_eq!(other.get(&callback).await.status, StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reused_state_is_refused() {
    let site = site(100).await;
    let mut browser = Browser::default();
    let callback = browser.approve(&site, GRACE).await;
    assert_eq!(browser.get(&callback).await.status, StatusCode::SEE_OTHER);
    assert_eq!(browser.get(&callback).await.status, StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_code_is_refused() {
    let site = site(100).await;
    // A code already exchanged, under a new sign-in's state: Discord
    // refuses it (used; and the verifier is the new sign-in's).
    let mut browser = Browser::default();
    let used = browser.approve(&site, GRACE).await;
    assert_eq!(browser.get(&used).await.status, StatusCode::SEE_OTHER);
    let code = used
        .split("code=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_string();
    let fresh = browser.approve(&site, GRACE).await;
    let state = fresh.split("state=").nth(1).unwrap().to_string();
    let replay = format!(
        "{}/api/v1/auth/callback?code={code}&state={state}",
        site.url
    );
    assert_eq!(browser.get(&replay).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fixed_session_id_is_replaced_and_ended() {
    let site = site(100).await;
    // An id planted in the browser before sign-in is ended, and the
    // sign-in gets a new one.
    let planted = create_session(
        site.runtime.services().cache.as_ref(),
        &Session {
            user_id: GRACE,
            ..Default::default()
        },
        Duration::from_secs(600),
    )
    .await
    .unwrap();
    let mut victim = Browser::default();
    victim
        .cookies
        .insert("baseline_session".into(), planted.clone());
    victim.sign_in(&site, GRACE).await;
    assert_ne!(victim.cookies["baseline_session"], planted);
    let old = reqwest::Client::new()
        .get(format!("{}/api/v1/auth/me", site.url))
        .bearer_auth(&planted)
        .send()
        .await
        .unwrap();
    assert_eq!(old.status(), 401, "the planted id no longer works");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_redirect_is_refused() {
    let site = site(100).await;
    let mut browser = Browser::default();
    for target in ["https://evil.example/", "//evil.example", "/\\evil.example"] {
        let url = format!(
            "{}/api/v1/auth/login?return_to={}",
            site.url,
            baseline_host::discord::rest::percent_encode(target)
        );
        assert_eq!(
            browser.get(&url).await.status,
            StatusCode::BAD_REQUEST,
            "{target}"
        );
    }
    let local = browser
        .get(&format!(
            "{}/api/v1/auth/login?return_to=%2Fguilds%2F1",
            site.url
        ))
        .await;
    assert_eq!(local.status, StatusCode::SEE_OTHER);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cross_origin_post_is_refused() {
    let site = site(100).await;
    let mut ada = Browser::default();
    ada.sign_in(&site, DEMO_OWNER).await;
    let users = format!("{}/api/v1/guilds/{DEMO_GUILD}/authorized-users", site.url);
    let grant = json!({"user_id": GRACE.to_string(), "tier": "admin"});
    for origin in [
        Some("http://evil.example"),
        Some("http://127.0.0.1:1"),
        None,
    ] {
        let forged = ada
            .request("POST", &users, origin, Some(grant.clone()))
            .await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN, "{origin:?}");
    }
    let list = ada.get(&users).await;
    assert_eq!(
        list.body.as_array().unwrap().len(),
        1,
        "nothing was granted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_is_rate_limited_per_address() {
    let site = site(3).await;
    let mut browser = Browser::default();
    let url = format!("{}/api/v1/auth/login", site.url);
    for _ in 0..3 {
        assert_eq!(browser.get(&url).await.status, StatusCode::SEE_OTHER);
    }
    assert_eq!(
        browser.get(&url).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_refresh_from_discord_and_end_when_it_refuses() {
    let site = site(100).await;
    let mut grace = Browser::default();
    grace.sign_in(&site, GRACE).await;
    // Make the session due for a refresh, with its access token expired.
    let cache = site.runtime.services().cache.clone();
    let id = grace.cookies["baseline_session"].clone();
    let key = format!("session:{}", baseline_host::api::access::digest(&id));
    let mut session: Session =
        serde_json::from_slice(&cache.get(&key).await.unwrap().unwrap()).unwrap();
    let refresh_token = session
        .oauth
        .as_ref()
        .unwrap()
        .refresh_token
        .clone()
        .unwrap();
    session.refreshed_ms = 0;
    session.oauth.as_mut().unwrap().expires_at_ms = 0;
    cache
        .set(
            &key,
            serde_json::to_vec(&session).unwrap(),
            Duration::from_secs(600),
        )
        .await
        .unwrap();
    let me = grace.get(&format!("{}/api/v1/auth/me", site.url)).await;
    assert_eq!(
        me.status,
        StatusCode::OK,
        "refreshed with the refresh token"
    );
    let session: Session =
        serde_json::from_slice(&cache.get(&key).await.unwrap().unwrap()).unwrap();
    let renewed = session.oauth.clone().unwrap();
    assert_ne!(
        renewed.refresh_token.as_deref(),
        Some(refresh_token.as_str())
    );
    assert!(session.refreshed_ms > 0);
    // Now Discord refuses the grant (the refresh token is spent): signed out.
    let mut stale = session.clone();
    stale.refreshed_ms = 0;
    stale.oauth.as_mut().unwrap().expires_at_ms = 0;
    stale.oauth.as_mut().unwrap().refresh_token = Some(refresh_token);
    cache
        .set(
            &key,
            serde_json::to_vec(&stale).unwrap(),
            Duration::from_secs(600),
        )
        .await
        .unwrap();
    let me = grace.get(&format!("{}/api/v1/auth/me", site.url)).await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED);
}

/// The tier a route declares in the OpenAPI document.
fn declared_tier(operation: &Value) -> Option<Tier> {
    serde_json::from_value(operation.get("x-tier")?.clone()).ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_guild_route_refuses_outsiders_lower_tiers_and_the_signed_out() {
    const OTHER: u64 = 77;
    let data = tempfile::tempdir().unwrap();
    let cogs = tempfile::tempdir().unwrap();
    install("status", cogs.path(), "status.wasm");
    let db = Database::connect(&Database::sqlite_url(data.path()))
        .await
        .unwrap();
    db.migrate().await.unwrap();
    let guilds = GuildStore::new(db.clone());
    guilds.joined(DEMO_GUILD, "Demo", DEMO_OWNER).await.unwrap();
    guilds.joined(OTHER, "Other", 7_000).await.unwrap();
    let access = AccessStore::new(db.clone());
    let (viewer, editor) = (501, 502);
    access
        .change(DEMO_GUILD, DEMO_OWNER, viewer, Some(Tier::Viewer))
        .await
        .unwrap()
        .unwrap();
    access
        .change(DEMO_GUILD, DEMO_OWNER, editor, Some(Tier::Editor))
        .await
        .unwrap()
        .unwrap();
    let runtime = Runtime::new(config(cogs.path()), Services::with_database(db)).unwrap();
    runtime.load_dir().await;
    let cache = runtime.services().cache.clone();
    let session = |user_id: u64, guilds: Vec<u64>| Session {
        user_id,
        guilds,
        ..Default::default()
    };
    let ttl = Duration::from_secs(600);
    let outsider = create_session(cache.as_ref(), &session(7_000, vec![OTHER]), ttl)
        .await
        .unwrap();
    let viewer = create_session(cache.as_ref(), &session(viewer, vec![]), ttl)
        .await
        .unwrap();
    let editor = create_session(cache.as_ref(), &session(editor, vec![]), ttl)
        .await
        .unwrap();
    let admin = create_session(cache.as_ref(), &session(DEMO_OWNER, vec![]), ttl)
        .await
        .unwrap();
    let send = |method: String, uri: String, token: Option<String>| {
        let runtime = runtime.clone();
        async move {
            let mut request = Request::builder()
                .method(method.as_str())
                .uri(uri)
                .header("content-type", "application/json");
            if let Some(token) = token {
                request = request.header("authorization", format!("Bearer {token}"));
            }
            let body = if method == "GET" {
                Body::empty()
            } else {
                Body::from("{}")
            };
            router(ApiState::new(runtime))
                .oneshot(request.body(body).unwrap())
                .await
                .unwrap()
                .status()
        }
    };
    let (status, document) = {
        let response = router(ApiState::new(runtime.clone()))
            .oneshot(
                Request::get("/api/v1/openapi.json")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 22)
            .await
            .unwrap();
        (status, serde_json::from_slice::<Value>(&bytes).unwrap())
    };
    assert_eq!(status, StatusCode::OK);
    let mut checked = 0;
    for (path, item) in document["paths"].as_object().unwrap() {
        if !path.starts_with("/api/v1/guilds/{guild_id}") {
            continue;
        }
        for (method, operation) in item.as_object().unwrap() {
            let need = declared_tier(operation)
                .unwrap_or_else(|| panic!("{method} {path} declares no x-tier"));
            let uri = path
                .replace("{guild_id}", &DEMO_GUILD.to_string())
                .replace("{cog}", "status")
                .replace("{user_id}", "503");
            let method = method.to_uppercase();
            let what = format!("{method} {uri}");
            assert_eq!(
                send(method.clone(), uri.clone(), None).await,
                StatusCode::UNAUTHORIZED,
                "{what} signed out"
            );
            assert_eq!(
                send(method.clone(), uri.clone(), Some(outsider.clone())).await,
                StatusCode::FORBIDDEN,
                "{what} as another guild's admin"
            );
            if need >= Tier::Editor {
                assert_eq!(
                    send(method.clone(), uri.clone(), Some(viewer.clone())).await,
                    StatusCode::FORBIDDEN,
                    "{what} as a viewer"
                );
            }
            if need >= Tier::Admin {
                assert_eq!(
                    send(method.clone(), uri.clone(), Some(editor.clone())).await,
                    StatusCode::FORBIDDEN,
                    "{what} as an editor"
                );
            }
            // The tier it declares is enough (the route is not closed to all).
            let enough = match need {
                Tier::Viewer => viewer.clone(),
                Tier::Editor => editor.clone(),
                Tier::Admin => admin.clone(),
            };
            let status = send(method.clone(), uri.clone(), Some(enough)).await;
            assert!(
                status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN,
                "{what} with the {need:?} tier it declares: {status}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 9, "only {checked} guild routes found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_find_members_and_the_developer_role_makes_developers() {
    // The demo guild's Admin role makes the developer team here.
    let site = site_with(100, |c| {
        c.auth.developer_guild = Some(DEMO_GUILD);
        c.auth.developer_role = Some(DEMO_GUILD + 1);
    })
    .await;
    let mut ada = Browser::default();
    ada.sign_in(&site, DEMO_OWNER).await;
    let me = ada.get(&format!("{}/api/v1/auth/me", site.url)).await;
    assert_eq!(me.body["developer"], true, "ada holds the Admin role");
    let mut grace = Browser::default();
    grace.sign_in(&site, GRACE).await;
    let me = grace.get(&format!("{}/api/v1/auth/me", site.url)).await;
    assert_eq!(me.body["developer"], false);
    // The grant form's search, through the bot's view of the guild.
    let members = format!("{}/api/v1/guilds/{DEMO_GUILD}/members?query=GRA", site.url);
    let found = ada.get(&members).await;
    assert_eq!(found.status, StatusCode::OK, "{:?}", found.body);
    assert_eq!(
        found.body,
        json!([{"user_id": GRACE.to_string(), "username": "grace", "global_name": null, "nick": null}])
    );
    assert_eq!(grace.get(&members).await.status, StatusCode::FORBIDDEN);
    // Channels and roles for the settings forms' pickers, through the bot.
    let channels = ada
        .get(&format!("{}/api/v1/guilds/{DEMO_GUILD}/channels", site.url))
        .await;
    assert_eq!(channels.status, StatusCode::OK, "{:?}", channels.body);
    let names: Vec<&str> = channels
        .body
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert!(
        names.contains(&"general") && names.contains(&"dice"),
        "{names:?}"
    );
    let roles = ada
        .get(&format!("{}/api/v1/guilds/{DEMO_GUILD}/roles", site.url))
        .await;
    assert_eq!(
        roles.body[0]["name"], "Admin",
        "highest first: {:?}",
        roles.body
    );
    assert_eq!(
        grace
            .get(&format!("{}/api/v1/guilds/{DEMO_GUILD}/channels", site.url))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let empty = ada
        .get(&format!(
            "{}/api/v1/guilds/{DEMO_GUILD}/members?query=%20",
            site.url
        ))
        .await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_live_in_redis_when_it_is_configured() {
    // The login rate limit is off here: its per-address window would be
    // shared with every other test using this Redis.
    let site = site_on(0, |_| {}, Some("redis://127.0.0.1:6379"), |s| s).await;
    assert_eq!(site.runtime.services().cache.backend(), "redis");
    let mut ada = Browser::default();
    ada.sign_in(&site, DEMO_OWNER).await;
    let id = ada.cookies["baseline_session"].clone();
    let key = format!("session:{}", baseline_host::api::access::digest(&id));
    assert!(
        site.runtime
            .services()
            .cache
            .get(&key)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        site.runtime
            .services()
            .cache
            .get(&format!("session:{id}"))
            .await
            .unwrap()
            .is_none(),
        "the id itself is never a key"
    );
    let me = ada.get(&format!("{}/api/v1/auth/me", site.url)).await;
    assert_eq!(me.status, StatusCode::OK);
    let out = ada
        .request(
            "POST",
            &format!("{}/api/v1/auth/logout", site.url),
            Some(&site.url),
            None,
        )
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    assert!(
        site.runtime
            .services()
            .cache
            .get(&key)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secure_sites_use_host_only_cookie_names() {
    let sim = Simulator::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let cogs = tempfile::tempdir().unwrap();
    let mut config = config(cogs.path());
    config.auth.public_url = Some("https://bot.example".into());
    let login = Login::new(
        &config.auth,
        &sim.http_url(),
        BOT_ID,
        "https://bot.example",
        Some(baseline_discord_sim::oauth::CLIENT_SECRET),
    );
    let runtime = Runtime::new(config, Services::in_process()).unwrap();
    let state = ApiState::new(runtime.clone()).with_login(login);
    let send = |request: Request<Body>| {
        let state = state.clone();
        async move {
            let mut request = request;
            request.extensions_mut().insert(axum::extract::ConnectInfo(
                "127.0.0.1:9".parse::<std::net::SocketAddr>().unwrap(),
            ));
            router(state).oneshot(request).await.unwrap()
        }
    };
    let started = send(
        Request::get("/api/v1/auth/login")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(started.status(), StatusCode::SEE_OTHER);
    let set = started.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(set.starts_with("__Host-baseline_login="), "{set}");
    assert!(
        set.contains("; Path=/;") && set.contains("; Secure"),
        "{set}"
    );
    // Only the host-only name counts: a plain one (which a sibling
    // subdomain could have set) is not a session here.
    let id = create_session(
        runtime.services().cache.as_ref(),
        &Session {
            user_id: GRACE,
            ..Default::default()
        },
        Duration::from_secs(600),
    )
    .await
    .unwrap();
    for (cookie, expected) in [
        (format!("baseline_session={id}"), StatusCode::UNAUTHORIZED),
        (format!("__Host-baseline_session={id}"), StatusCode::OK),
    ] {
        let me = send(
            Request::get("/api/v1/auth/me")
                .header("cookie", &cookie)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(me.status(), expected, "{cookie}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_may_name_only_this_servers_channels_roles_and_members() {
    use baseline_discord_sim::world::DEMO_CHANNEL;
    let site = site_with(100, |config| {
        install("reference", &config.cogs_dir, "reference.wasm");
    })
    .await;
    let http = reqwest::Client::new();
    // Another server, with a channel of its own.
    let other: Value = http
        .post(format!("{}/_sim/guilds", site.sim.http_url()))
        .json(&json!({"name": "Elsewhere", "owner_id": DEMO_OWNER.to_string()}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let foreign_channel = other["channel_id"]
        .as_str()
        .unwrap_or_else(|| panic!("{other}"))
        .to_string();
    let session = Session {
        user_id: DEMO_OWNER,
        guilds: vec![DEMO_GUILD],
        ..Default::default()
    };
    let token = create_session(
        site.runtime.services().cache.as_ref(),
        &session,
        Duration::from_secs(60),
    )
    .await
    .unwrap();
    let url = format!(
        "{}/api/v1/guilds/{DEMO_GUILD}/cogs/reference/settings",
        site.url
    );
    let save = |body: Value| {
        let (http, url, token) = (http.clone(), url.clone(), token.clone());
        async move {
            let answer = http
                .put(&url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap();
            (answer.status(), answer.json::<Value>().await.unwrap())
        }
    };
    // This server's channel and role: saved.
    let (status, body) = save(json!({
        "dice_channel": (DEMO_CHANNEL + 1).to_string(),
        "game_masters": (DEMO_GUILD + 1).to_string(),
    }))
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Another server's channel, a role that does not exist, and a user who
    // is not a member: refused at their fields.
    let (status, body) = save(json!({"dice_channel": foreign_channel})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["fields"][0]["path"], "/dice_channel");
    assert!(
        body["fields"][0]["message"]
            .as_str()
            .unwrap()
            .contains("is not in this server")
    );
    let (status, body) = save(json!({"game_masters": "12345"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["fields"][0]["path"], "/game_masters");
    // Not an id at all: the schema's format says so.
    let (status, body) = save(json!({"dice_channel": "#general"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["fields"][0]["path"], "/dice_channel");
    // The saved values are the first ones.
    let saved = site
        .runtime
        .services()
        .settings
        .get("reference", DEMO_GUILD)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(saved["dice_channel"], (DEMO_CHANNEL + 1).to_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn made_up_api_tokens_never_wait_for_the_databases_writer() {
    let site = site(100).await;
    let mut ada = Browser::default();
    ada.sign_in(&site, DEMO_OWNER).await;
    let (_, token) = ada.make_token(&site).await;
    let http = reqwest::Client::new();
    let me = |bearer: String| {
        let request = http
            .get(format!("{}/api/v1/auth/me", site.url))
            .bearer_auth(bearer);
        async move { request.send().await.unwrap().status().as_u16() }
    };
    let db = site.runtime.services().database.clone().unwrap();
    let baseline_host::store::Pool::Sqlite(pool) = db.pool() else {
        panic!("the site runs on SQLite")
    };
    let last_used = || async {
        sqlx::query_scalar::<_, Option<i64>>("SELECT last_used_at FROM api_tokens")
            .fetch_one(pool)
            .await
            .unwrap()
    };
    assert_eq!(me(token.clone()).await, 200);
    let first = last_used().await.expect("the first use is noted");

    // Another process holds SQLite's one writer (a cog's kv batch, say):
    // made-up tokens — malformed or well-formed — are still answered at
    // once, from a read, and so is the real token used again within the
    // minute (its use is not noted twice).
    let mut writer = pool.acquire().await.unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut *writer)
        .await
        .unwrap();
    let made_up = [
        "bl_".to_string(),
        "bl_../../x".to_string(),
        format!("bl_{}", "Z".repeat(64)),
        format!("bl_{}", "0".repeat(64)),
        format!("bl_{}", "a".repeat(63)),
    ];
    for bogus in made_up {
        let answered = tokio::time::timeout(Duration::from_secs(3), me(bogus.clone())).await;
        assert_eq!(answered, Ok(401), "{bogus}: answered without the writer");
    }
    let again = tokio::time::timeout(Duration::from_secs(3), me(token.clone())).await;
    assert_eq!(
        again,
        Ok(200),
        "a real token within its minute needs no write"
    );
    sqlx::query("ROLLBACK").execute(&mut *writer).await.unwrap();
    drop(writer);
    assert_eq!(
        last_used().await,
        Some(first),
        "noted once a minute at most"
    );

    // A minute later its use is noted again.
    sqlx::query("UPDATE api_tokens SET last_used_at = last_used_at - 61000")
        .execute(pool)
        .await
        .unwrap();
    assert_eq!(me(token.clone()).await, 200);
    assert!(last_used().await.unwrap() >= first);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_racing_a_session_refresh_keep_the_session() {
    let site = site(100).await;
    let mut grace = Browser::default();
    grace.sign_in(&site, GRACE).await;
    let cache = site.runtime.services().cache.clone();
    let id = grace.cookies["baseline_session"].clone();
    let key = format!("session:{}", baseline_host::api::access::digest(&id));
    let http = reqwest::Client::new();
    let sim = site.sim.http_url();
    let refreshes = || sim_requests(&http, &sim, "POST", "/api/v10/oauth2/token");
    for round in 0..3 {
        // Due for a refresh, the access token expired; Discord slow to
        // answer the refresh, so requests pile up behind the one refreshing,
        // and more come as it stores the session.
        make_due(cache.as_ref(), &key).await;
        http.post(format!("{sim}/_sim/faults/rest"))
            .json(&json!({"path": "/oauth2/token", "delay_ms": 300}))
            .send()
            .await
            .unwrap();
        let before = refreshes().await;
        let cookie = format!("baseline_session={id}");
        let me = format!("{}/api/v1/auth/me", site.url);
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let (http, cookie, me) = (http.clone(), cookie.clone(), me.clone());
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(i * 45)).await;
                    let mut statuses = Vec::new();
                    for _ in 0..4 {
                        let answer = http.get(&me).header("cookie", &cookie).send().await;
                        statuses.push(answer.unwrap().status().as_u16());
                    }
                    statuses
                })
            })
            .collect();
        for task in tasks {
            let statuses = task.await.unwrap();
            assert!(
                statuses.iter().all(|s| *s == 200),
                "round {round}: signed out by a racing refresh: {statuses:?}"
            );
        }
        assert_eq!(
            refreshes().await - before,
            1,
            "round {round}: one refresh for every request that raced it"
        );
        let me = grace.get(&format!("{}/api/v1/auth/me", site.url)).await;
        assert_eq!(me.status, StatusCode::OK, "round {round}: still signed in");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_sign_ins_from_many_addresses_stores_nothing_and_ends_no_session() {
    // A small cache, so that what a flood could make the host keep would
    // show (and, before sign-ins moved into a signed cookie, evicted the
    // sessions: 0.7 KiB kept per sign-in for ten minutes).
    let cache = Arc::new(baseline_host::cache::InProcessCache::new(1 << 20));
    let held = cache.clone();
    let site = site_on(40, |_| {}, None, move |services| services.with_cache(held)).await;
    let mut ada = Browser::default();
    ada.sign_in(&site, DEMO_OWNER).await;
    let me = format!("{}/api/v1/auth/me", site.url);
    assert_eq!(ada.get(&me).await.status, StatusCode::OK);
    let before = cache.weighted_size();
    // 2 000 sign-ins started from 50 addresses (127.0.0.2 to .51), each
    // address up to its limit.
    let login = format!("{}/api/v1/auth/login", site.url);
    let mut started = 0;
    for host in 2..52u8 {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .local_address(std::net::IpAddr::from([127, 0, 0, host]))
            .build()
            .unwrap();
        for _ in 0..41 {
            let answer = http.get(&login).send().await.unwrap();
            match answer.status().as_u16() {
                303 => started += 1,
                429 => {}
                other => panic!("sign-in answered {other}"),
            }
        }
    }
    assert_eq!(started, 50 * 40, "each address up to its limit, then 429");
    let grown = cache.weighted_size().saturating_sub(before);
    assert!(
        grown < 64 << 10,
        "2 000 pending sign-ins made the host keep {grown} bytes (only the per-address windows may stay)"
    );
    assert_eq!(ada.get(&me).await.status, StatusCode::OK, "still signed in");
    // A sign-in still works end to end afterwards.
    let mut grace = Browser::default();
    grace.sign_in(&site, GRACE).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_looping_on_the_access_pages_stays_within_the_apis_discord_budget() {
    let site = site_with(1_000, |config| config.auth.max_grants_per_guild = 42).await;
    // 40 people with access whom Discord does not know (the simulator
    // answers 404 for each): every name is a lookup through the bot.
    let access = AccessStore::new(site.runtime.services().database.clone().unwrap());
    for user in 0..40u64 {
        access
            .change(DEMO_GUILD, DEMO_OWNER, 7_000 + user, Some(Tier::Viewer))
            .await
            .unwrap()
            .unwrap();
    }
    let mut ada = Browser::default();
    ada.sign_in(&site, DEMO_OWNER).await;
    let http = reqwest::Client::new();
    let sim = site.sim.http_url();
    let members = format!("/api/v10/guilds/{DEMO_GUILD}/members/");
    let lookups = || sim_requests(&http, &sim, "GET", &members);
    let before = lookups().await;
    let users = format!("{}/api/v1/guilds/{DEMO_GUILD}/authorized-users", site.url);
    for _ in 0..20 {
        for url in [users.clone(), format!("{users}/history?limit=500")] {
            let answer = ada.get(&url).await;
            assert_eq!(answer.status, StatusCode::OK, "{url}: {:?}", answer.body);
        }
    }
    let made = lookups().await - before;
    // One page of names at once (25), then the user's 30 a minute: the
    // first answer looks up 25, the next the other 15 as the bucket refills
    // — and a name Discord does not know is remembered, never asked again.
    assert!(
        (25..=45).contains(&made),
        "40 listings made {made} member lookups through the bot"
    );
    let listed = ada.get(&users).await;
    assert_eq!(
        listed.body.as_array().unwrap().len(),
        41,
        "the owner and 40"
    );

    // Grants are capped per guild: 41 hold access, one more may be added.
    let grant = |user: u64| json!({"user_id": user.to_string(), "tier": "viewer"});
    let one_more = ada
        .request("POST", &users, Some(&site.url), Some(grant(8_000)))
        .await;
    assert_eq!(
        one_more.status,
        StatusCode::NO_CONTENT,
        "{:?}",
        one_more.body
    );
    let over = ada
        .request("POST", &users, Some(&site.url), Some(grant(8_001)))
        .await;
    assert_eq!(over.status, StatusCode::FORBIDDEN, "{:?}", over.body);
    assert!(
        over.body["message"]
            .as_str()
            .unwrap()
            .contains("max_grants_per_guild"),
        "{:?}",
        over.body
    );
    // A change of tier for someone who already has access is no new grant.
    let changed = ada
        .request(
            "POST",
            &users,
            Some(&site.url),
            Some(json!({"user_id": "8000", "tier": "editor"})),
        )
        .await;
    assert_eq!(changed.status, StatusCode::NO_CONTENT, "{:?}", changed.body);
}

/// The REST requests the simulator at `sim` saw whose method is `method`
/// and whose path starts with `path`.
async fn sim_requests(http: &reqwest::Client, sim: &str, method: &str, path: &str) -> usize {
    let log: Value = http
        .get(format!("{sim}/_sim/requests"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    log.as_array()
        .unwrap()
        .iter()
        .filter(|r| r["method"] == method && r["path"].as_str().unwrap().starts_with(path))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_discord_rotated_survive_a_refresh_that_failed_half_way() {
    let site = site(100).await;
    let mut grace = Browser::default();
    grace.sign_in(&site, GRACE).await;
    let cache = site.runtime.services().cache.clone();
    let id = grace.cookies["baseline_session"].clone();
    let key = format!("session:{}", baseline_host::api::access::digest(&id));
    let http = reqwest::Client::new();
    let sim = site.sim.http_url();
    let due = || make_due(cache.as_ref(), &key);
    let spent = due().await;
    // Discord rotates the refresh token, then fails to list the guilds.
    http.post(format!("{sim}/_sim/faults/rest"))
        .json(&json!({"path": "/users/@me/guilds", "status": 500, "count": 1}))
        .send()
        .await
        .unwrap();
    let me = format!("{}/api/v1/auth/me", site.url);
    assert_eq!(
        grace.get(&me).await.status,
        StatusCode::OK,
        "goes on as it was"
    );
    let kept: Session = serde_json::from_slice(&cache.get(&key).await.unwrap().unwrap()).unwrap();
    let kept = kept.oauth.unwrap().refresh_token.unwrap();
    assert_ne!(kept, spent, "the rotated refresh token was kept");
    // The next refresh, with Discord back, uses it and keeps the session.
    due().await;
    assert_eq!(
        grace.get(&me).await.status,
        StatusCode::OK,
        "still signed in"
    );
}

/// Make the session stored at `key` due for a refresh, its access token
/// expired; its refresh token.
async fn make_due(cache: &dyn baseline_host::cache::Cache, key: &str) -> String {
    let mut session: Session =
        serde_json::from_slice(&cache.get(key).await.unwrap().unwrap()).unwrap();
    session.refreshed_ms = 0;
    session.oauth.as_mut().unwrap().expires_at_ms = 0;
    cache
        .set(
            key,
            serde_json::to_vec(&session).unwrap(),
            Duration::from_secs(600),
        )
        .await
        .unwrap();
    session.oauth.unwrap().refresh_token.unwrap()
}
