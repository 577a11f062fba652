//! Cog pages through the API: the list of a guild's pages, a page rendered
//! by its cog, actions (buttons, forms, a UI module's calls) with the
//! page's access rules, views the host refuses to pass on, and UI modules:
//! served by hash, checked at load (only the bridge may be imported).

use axum::http::StatusCode;
use baseline_api_types::Tier;
use baseline_host::runtime::ui_module;
use baseline_host::store::access::AccessStore;
use baseline_host::store::guilds::GuildStore;
use serde_json::Value;

use crate::api::{App, MINE, app_with};
use crate::support::*;

const OWNER: u64 = 900;
const EDITOR: u64 = 901;
const VIEWER: u64 = 902;

async fn pages_app() -> App {
    let app = app_with(|cogs| {
        install("reference", cogs, "reference.wasm");
        std::fs::copy(ui_guest("reference-ui"), cogs.join("reference.ui.wasm")).unwrap();
        install("hostile", cogs, "hostile.wasm");
    })
    .await;
    let db = app.runtime.services().database.clone().unwrap();
    GuildStore::new(db.clone())
        .joined(MINE, "Mine", OWNER)
        .await
        .unwrap();
    let access = AccessStore::new(db);
    for (user, tier) in [(EDITOR, Tier::Editor), (VIEWER, Tier::Viewer)] {
        access
            .change(MINE, OWNER, user, Some(tier))
            .await
            .unwrap()
            .unwrap();
    }
    app
}

fn page(list: &Value, cog: &str, route: &str) -> Option<Value> {
    list.as_array()?
        .iter()
        .find(|p| p["cog"] == cog && p["route"] == route)
        .cloned()
}

fn find_stat<'a>(view: &'a Value, label: &str) -> Option<&'a str> {
    view["nodes"]
        .as_array()?
        .iter()
        .find(|n| n["type"] == "stat" && n["label"] == label)?["value"]
        .as_str()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cogs_pages_render_and_act_with_the_pages_access_rules() {
    let app = pages_app().await;
    // Signed in with Discord's "manage server" on MINE: the admin tier.
    let admin = app.token_for(OWNER, false).await;
    let editor = app.token_with(EDITOR, vec![], false).await;
    let viewer = app.token_with(VIEWER, vec![], false).await;
    let base = format!("/api/v1/guilds/{MINE}");

    // The list: the reference cog's two pages, drawn two ways; hostile's
    // admin page for the admin only; the UI-module page without a module
    // says why it cannot be shown.
    let (status, list, _) = app
        .send("GET", &format!("{base}/pages"), Some(&admin), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let stats = page(&list, "reference", "stats").expect("the stats page is listed");
    assert_eq!(stats["drawing"]["kind"], "rendered");
    assert_eq!(stats["can_act"], true);
    let table = page(&list, "reference", "table").expect("the table page is listed");
    assert_eq!(table["drawing"]["kind"], "ui-module");
    let url = table["drawing"]["url"].as_str().unwrap().to_string();
    assert!(page(&list, "hostile", "admins").is_some());
    let drawn = page(&list, "hostile", "drawn").unwrap();
    assert_eq!(drawn["drawing"]["kind"], "refused");
    assert!(
        drawn["drawing"]["reason"]
            .as_str()
            .unwrap()
            .contains("ships none"),
        "{drawn}"
    );
    let (_, viewer_list, _) = app
        .send("GET", &format!("{base}/pages"), Some(&viewer), None)
        .await;
    assert!(page(&viewer_list, "hostile", "admins").is_none());
    assert_eq!(
        page(&viewer_list, "reference", "stats").unwrap()["can_act"],
        false
    );

    // Rendered: the figures, then a form's action, then the page again.
    let stats_url = format!("{base}/cogs/reference/pages/stats");
    let (status, rendered, _) = app.send("GET", &stats_url, Some(&viewer), None).await;
    assert_eq!(status, StatusCode::OK, "{rendered}");
    assert_eq!(find_stat(&rendered["view"], "Dice rolled"), Some("0"));
    assert_eq!(find_stat(&rendered["view"], "Goal"), Some("none set"));
    let goal = format!("{stats_url}/act");
    let (status, outcome, _) = app
        .send(
            "POST",
            &goal,
            Some(&editor),
            Some(r#"{"action":"goal","payload":{"goal":5}}"#),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{outcome}");
    assert_eq!(outcome["notice"], "Goal set: 5 dice.");
    let (_, rendered, _) = app.send("GET", &stats_url, Some(&admin), None).await;
    assert_eq!(find_stat(&rendered["view"], "Goal"), Some("0 of 5"));
    // The cog's own refusal comes back in its words, as a 422.
    let (status, refused, _) = app
        .send(
            "POST",
            &goal,
            Some(&editor),
            Some(r#"{"action":"goal","payload":{"goal":-1}}"#),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert_eq!(refused["error"], "cog-refused");
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("whole number")
    );
    // A viewer may look, not act; a payload is an object.
    let (status, _, _) = app
        .send(
            "POST",
            &goal,
            Some(&viewer),
            Some(r#"{"action":"goal","payload":{"goal":1}}"#),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = app
        .send(
            "POST",
            &goal,
            Some(&editor),
            Some(r#"{"action":"goal","payload":[1]}"#),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // An action name is a closed pattern, checked before the cog is called;
    // the old per-action URLs are gone, so no name can become a path.
    for name in ["../../../../reference/pages/stats/actions/reset", "a/b", ""] {
        let body = serde_json::json!({"action": name, "payload": {}}).to_string();
        let (status, refused, _) = app.send("POST", &goal, Some(&editor), Some(&body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{name:?}: {refused}");
        assert!(
            refused["message"]
                .as_str()
                .unwrap()
                .contains("an action name"),
            "{refused}"
        );
    }
    let (status, _, _) = app
        .send(
            "POST",
            &format!("{stats_url}/actions/goal"),
            Some(&editor),
            Some(r#"{"payload":{"goal":6}}"#),
        )
        .await;
    assert!(
        status.is_client_error(),
        "the old action URL is no route: {status}"
    );
    let (_, rendered, _) = app.send("GET", &stats_url, Some(&admin), None).await;
    assert_eq!(find_stat(&rendered["view"], "Goal"), Some("0 of 5"));

    // The UI module's action: a roll through the cog, answered with data.
    let roll = format!("{base}/cogs/reference/pages/table/act");
    let (status, outcome, _) = app
        .send(
            "POST",
            &roll,
            Some(&editor),
            Some(r#"{"action":"roll","payload":{"sides":6}}"#),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{outcome}");
    let die = outcome["data"]["die"].as_u64().unwrap();
    assert!((1..=6).contains(&die), "{outcome}");
    let (_, rendered, _) = app.send("GET", &stats_url, Some(&admin), None).await;
    assert_eq!(find_stat(&rendered["view"], "Dice rolled"), Some("1"));
    // A UI-module page is not rendered by the host.
    let (status, _, _) = app
        .send(
            "GET",
            &format!("{base}/cogs/reference/pages/table"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // The admin page: not for editors, to look or to act.
    let admins = format!("{base}/cogs/hostile/pages/admins");
    let (status, _, _) = app.send("GET", &admins, Some(&editor), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body, _) = app.send("GET", &admins, Some(&admin), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _, _) = app
        .send(
            "POST",
            &format!("{admins}/act"),
            Some(&editor),
            Some(r#"{"action":"x","payload":{}}"#),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Another guild's id: not a page of ours to see.
    let (status, _, _) = app
        .send(
            "GET",
            "/api/v1/guilds/222/cogs/reference/pages/stats",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Undeclared pages and unloaded cogs are 404s.
    for missing in ["reference/pages/nope", "nobody/pages/stats"] {
        let (status, _, _) = app
            .send("GET", &format!("{base}/cogs/{missing}"), Some(&admin), None)
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{missing}");
    }

    // The UI module by its hash: the bytes, typed, cached for good.
    let (status, _, headers) = app.send("GET", &url, Some(&viewer), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "application/wasm");
    assert!(
        headers["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    let (status, _, _) = app
        .send(
            "GET",
            &format!("{base}/cogs/reference/ui/{}", "0".repeat(64)),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Turned off in the guild: no pages, no rendering, no module.
    let (status, _, _) = app
        .send(
            "PUT",
            &format!("{base}/cogs/reference/enabled"),
            Some(&editor),
            Some(r#"{"enabled":false}"#),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, list, _) = app
        .send("GET", &format!("{base}/pages"), Some(&admin), None)
        .await;
    assert!(page(&list, "reference", "stats").is_none(), "{list}");
    for uri in [stats_url.as_str(), url.as_str()] {
        let (status, _, _) = app.send("GET", uri, Some(&admin), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn views_that_cannot_be_drawn_and_cogs_that_hang_are_refused_with_the_reason() {
    let app = pages_app().await;
    let admin = app.token_for(OWNER, false).await;
    let base = format!("/api/v1/guilds/{MINE}/cogs/hostile/pages");
    for (route, reason) in [
        ("cycle", "reached twice"),
        ("dangling", "refers to node 5, but the view has 1 nodes"),
        ("spin", "timeout"),
        // A button whose action names a path out of the page.
        ("escape", "node 0: an action name holds only"),
    ] {
        let (status, body, _) = app
            .send("GET", &format!("{base}/{route}"), Some(&admin), None)
            .await;
        assert_eq!(status, StatusCode::BAD_GATEWAY, "{route}: {body}");
        assert_eq!(body["error"], "cog-failed");
        assert!(
            body["message"].as_str().unwrap().contains(reason),
            "{route}: {body}"
        );
    }
}

fn module(imports: &str, event: &str) -> Vec<u8> {
    ui_fixture(imports, "", event)
}

#[test]
fn a_ui_module_whose_memory_may_grow_past_64_mib_is_refused() {
    let with_memory = |memory: &str| {
        wat::parse_str(format!(
            r#"(module
                (memory (export "memory") {memory})
                (func (export "ui_alloc") (param i32) (result i32) i32.const 1024)
                (func (export "ui_abi_version") (result i32) i32.const 1)
                (func (export "ui_init"))
                {UI_EVENT})"#
        ))
        .unwrap()
    };
    assert_eq!(ui_module::check(&with_memory("1 1024")), Ok(()));
    for (memory, problem) in [
        ("1", "declares no maximum"),
        ("1 65536", "may grow to 65536 pages"),
        ("1 1025", "at most 1024 (64 MiB)"),
    ] {
        let refused = ui_module::check(&with_memory(memory)).unwrap_err();
        assert!(refused.contains(problem), "{memory}: {refused}");
    }
}

#[test]
fn a_ui_module_may_import_only_the_bridge() {
    let event = UI_EVENT;
    let bridge = r#"(import "bridge" "emit_view" (func (param i32 i32)))
        (import "bridge" "call_action" (func (param i32 i32) (result i32)))
        (import "bridge" "page_context" (func (param i32 i32) (result i32)))"#;
    assert_eq!(ui_module::check(&module(bridge, event)), Ok(()));
    assert_eq!(ui_module::check(&module("", event)), Ok(()));
    for (imports, exports, problem) in [
        (
            r#"(import "bridge" "fetch" (func (param i32 i32)))"#,
            event,
            "imports `bridge.fetch`",
        ),
        (
            r#"(import "env" "emit_view" (func (param i32 i32)))"#,
            event,
            "imports `env.emit_view`",
        ),
        (
            r#"(import "bridge" "toString" (func))"#,
            event,
            "imports `bridge.toString`",
        ),
        (
            r#"(import "bridge" "emit_view" (memory 1))"#,
            event,
            "not a function",
        ),
        (
            r#"(import "bridge" "emit_view" (func (param i64)))"#,
            event,
            "with the type",
        ),
        ("", "", "does not export `ui_event`"),
        (
            "",
            r#"(func (export "ui_event") (param i32))"#,
            "`ui_event` is not a function of 2 i32",
        ),
    ] {
        let found = ui_module::check(&module(imports, exports)).unwrap_err();
        assert!(found.contains(problem), "{imports} {exports}: {found}");
    }
    // A component is not a UI module.
    let component = std::fs::read(guest("status")).unwrap();
    assert!(
        ui_module::check(&component)
            .unwrap_err()
            .contains("component")
    );
    // The SDK's own output passes.
    let built = std::fs::read(ui_guest("reference-ui")).unwrap();
    assert_eq!(ui_module::check(&built), Ok(()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_ui_module_is_reported_on_its_page_and_a_fixed_one_served() {
    let app = app_with(|cogs| {
        install("reference", cogs, "reference.wasm");
        std::fs::write(
            cogs.join("reference.ui.wasm"),
            module(
                r#"(import "bridge" "fetch" (func (param i32 i32)))"#,
                UI_EVENT,
            ),
        )
        .unwrap();
    })
    .await;
    let admin = app.token_for(7, false).await;
    let list_url = format!("/api/v1/guilds/{MINE}/pages");
    let (_, list, _) = app.send("GET", &list_url, Some(&admin), None).await;
    let table = page(&list, "reference", "table").unwrap();
    assert_eq!(table["drawing"]["kind"], "refused", "{table}");
    assert!(
        table["drawing"]["reason"]
            .as_str()
            .unwrap()
            .contains("bridge.fetch")
    );
    // Fixed and reloaded: served, under its new hash.
    std::fs::copy(
        ui_guest("reference-ui"),
        app.cogs.path().join("reference.ui.wasm"),
    )
    .unwrap();
    app.runtime
        .load_file(&app.cogs.path().join("reference.wasm"))
        .await
        .unwrap();
    let (_, list, _) = app.send("GET", &list_url, Some(&admin), None).await;
    let table = page(&list, "reference", "table").unwrap();
    assert_eq!(table["drawing"]["kind"], "ui-module", "{table}");
    let (status, _, _) = app
        .send(
            "GET",
            table["drawing"]["url"].as_str().unwrap(),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
}
