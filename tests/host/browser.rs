//! The dashboard in a real browser: Debian's headless Chromium driven
//! through its chromedriver (WebDriver, with fantoccini) against the host
//! serving the built dashboard, signed in through the simulator's OAuth2
//! page. A screenshot of every page goes to
//! `$CARGO_TARGET_DIR/browser-screenshots/` (kept as a test artifact).
//!
//! Needs `just dashboard` (the built app) and `chromium` + `chromium-driver`
//! (`just test` installs both when missing).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use baseline_discord_sim::world::{DEMO_GUILD, DEMO_OWNER};
use baseline_host::store::access::{AccessStore, Role, Tier};
use baseline_host::store::guilds::GuildStore;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use baseline_host::discord::ShardMonitor;

use crate::login::{site_on, site_with};
use crate::support::*;

/// The built dashboard (`just dashboard`).
fn dashboard_site() -> PathBuf {
    let site = guest_target()
        .parent()
        .expect("the target folder")
        .join("dashboard-site");
    assert!(
        site.join("index.html").is_file() && site.join("baseline_dashboard_bg.wasm").is_file(),
        "the dashboard is not built at {}: run `just dashboard` (`just test` does)",
        site.display()
    );
    site
}

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// chromedriver on a free port, and a headless Chromium session through it.
async fn browser() -> (Driver, Client) {
    let port = free_port();
    let driver = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver (Debian's chromium-driver; `just test` installs it)");
    let driver = Driver(driver);
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "chromedriver did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        json!({"binary": "/usr/bin/chromium",
               "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                        "--window-size=1200,800"]}),
    );
    // chromedriver speaks plain HTTP on loopback: no TLS connector.
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let client = ClientBuilder::new(connector)
        .capabilities(capabilities)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a Chromium session through chromedriver");
    (driver, client)
}

/// Where screenshots go.
fn shots() -> PathBuf {
    let dir = guest_target()
        .parent()
        .expect("the target folder")
        .join("browser-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn shot(client: &Client, name: &str) {
    let png = client.screenshot().await.expect("a screenshot");
    std::fs::write(shots().join(format!("{name}.png")), png).unwrap();
}

async fn find(client: &Client, css: &str) -> fantoccini::elements::Element {
    match client
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css(css))
        .await
    {
        Ok(element) => element,
        Err(error) => panic!(
            "no `{css}` on {:?}: {error}",
            client.current_url().await.ok()
        ),
    }
}

async fn find_text(client: &Client, css: &str, text: &str) -> fantoccini::elements::Element {
    let started = Instant::now();
    loop {
        for element in client.find_all(Locator::Css(css)).await.unwrap_or_default() {
            if element.text().await.unwrap_or_default().contains(text) {
                return element;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no `{css}` reading {text:?} on {:?}",
            client.current_url().await.ok()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Click the `css` element reading `text`.
async fn click_text(client: &Client, css: &str, text: &str) {
    find_text(client, css, text).await.click().await.unwrap();
}

/// Click the `css` element.
async fn click(client: &Client, css: &str) {
    find(client, css).await.click().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_signs_in_switches_a_cog_and_hands_out_access() {
    let dashboard = dashboard_site();
    let site = site_with(100, |config| {
        config.dashboard_dir = Some(dashboard);
        install("status", &config.cogs_dir, "status.wasm");
        install("reference", &config.cogs_dir, "reference.wasm");
    })
    .await;
    let (_driver, client) = browser().await;

    // Signed out: the sign-in card.
    client.goto(&format!("{}/", site.url)).await.unwrap();
    let sign_in = find_text(&client, "a.button", "Sign in with Discord").await;
    shot(&client, "01-signed-out").await;
    sign_in.click().await.unwrap();

    // The simulator's consent page: be ada, the demo guild's owner.
    let ada = find_text(&client, "a", "Authorize as ada").await;
    shot(&client, "02-discord-authorize").await;
    ada.click().await.unwrap();

    // Back on the dashboard, signed in: the server switcher.
    let server = find_text(&client, ".guilds a", "Baseline Demo").await;
    find_text(&client, ".user", "ada").await;
    shot(&client, "03-servers").await;
    server.click().await.unwrap();

    // The server's page: its cogs, each with a switch.
    find(&client, "table.cogs").await;
    let url = client.current_url().await.unwrap();
    assert_eq!(url.path(), format!("/guilds/{DEMO_GUILD}"));
    shot(&client, "04-server-cogs").await;
    let switch = find(&client, "input[aria-label='status on in this server']").await;
    assert_eq!(
        switch.prop("checked").await.unwrap().as_deref(),
        Some("true")
    );
    switch.click().await.unwrap();
    find_text(&client, ".toast", "status is off in this server.").await;
    shot(&client, "05-cog-switched-off").await;
    let store = GuildStore::new(site.runtime.services().database.clone().unwrap());
    assert_eq!(
        store.cog_switch(DEMO_GUILD, "status").await.unwrap(),
        Some(false)
    );

    // A reload keeps the page (the host answers the app's routes).
    client.refresh().await.unwrap();
    let switch = find(&client, "input[aria-label='status on in this server']").await;
    assert_eq!(
        switch.prop("checked").await.unwrap().as_deref(),
        Some("false")
    );

    // Settings from the cog's JSON Schema: a value over its maximum is
    // refused by the server and shown at its field; a good one is saved;
    // a second change is reverted from the audit trail.
    click_text(&client, "table.cogs a", "Settings").await;
    let max_count = find(&client, "#field-max_count").await;
    shot(&client, "06-settings").await;
    let set = |value: &'static str| {
        let client = client.clone();
        async move {
            let input = find(&client, "#field-max_count").await;
            input.clear().await.unwrap();
            input.send_keys(&format!("{value}\u{E004}")).await.unwrap();
            click_text(&client, "button", "Save").await;
        }
    };
    drop(max_count);
    set("500").await;
    find(&client, ".field.invalid #field-max_count").await;
    find_text(&client, ".field.invalid .error", "50").await;
    shot(&client, "07-settings-refused").await;
    set("20").await;
    find_text(&client, ".toast", "Saved.").await;
    set("30").await;
    find_text(&client, ".audit code", "max_count: 20 → 30").await;
    shot(&client, "08-settings-audit").await;
    click(&client, "button[aria-label='Revert change 1']").await;
    find_text(&client, ".toast", "Reverted.").await;
    let saved = site
        .runtime
        .services()
        .settings
        .get("reference", DEMO_GUILD)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        saved["max_count"], 20,
        "reverted to the value before the last change"
    );

    // A channel picker: the server's channels by name, saved as an id.
    let picker = find(&client, "select#field-dice_channel").await;
    picker.select_by_label("#dice").await.unwrap();
    click_text(&client, "button", "Save").await;
    // The audit trail shows the change once it is saved (an earlier
    // "Saved." toast may still be up: toasts stay six seconds).
    find_text(&client, ".audit code", "dice_channel").await;
    let saved = site
        .runtime
        .services()
        .settings
        .get("reference", DEMO_GUILD)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        saved["dice_channel"],
        (baseline_discord_sim::world::DEMO_CHANNEL + 1).to_string()
    );
    shot(&client, "08b-settings-channel-picker").await;

    // Access: find grace, make her an editor, see the history, remove her
    // (after the confirmation).
    click_text(&client, ".tabs a", "Access").await;
    find(&client, "table.access").await;
    let query = find(&client, "#member-query").await;
    query.send_keys("gra").await.unwrap();
    click_text(&client, "button", "Find").await;
    click(&client, "button[aria-label='Make grace editor']").await;
    let grace = (DEMO_OWNER + 1).to_string();
    find_text(&client, ".toast", "grace is now editor.").await;
    // Names, not ids: grace as the bot sees her, ada as she signed in.
    find_text(&client, "table.access tr", "grace").await;
    find_text(&client, "table.history tr", "ada").await;
    find_text(&client, "table.history tr", "editor").await;
    shot(&client, "09-access-granted").await;
    let access = AccessStore::new(site.runtime.services().database.clone().unwrap());
    assert_eq!(
        access.role(DEMO_GUILD, DEMO_OWNER + 1).await.unwrap(),
        Some(Role::Granted(Tier::Editor))
    );
    // The confirmation is the dashboard's own dialog, usable from the
    // keyboard: focus starts on Cancel, Escape cancels, Tab and Enter confirm.
    let remove = find(&client, &format!("button[aria-label='Remove {grace}']")).await;
    remove.click().await.unwrap();
    find_text(&client, "[role='alertdialog']", "Remove grace's access?").await;
    let focused = client.active_element().await.unwrap();
    assert_eq!(focused.text().await.unwrap(), "Cancel");
    focused.send_keys("\u{E00C}").await.unwrap();
    assert!(
        client
            .find(Locator::Css("[role='alertdialog']"))
            .await
            .is_err(),
        "Escape closes the dialog"
    );
    assert_eq!(
        access.role(DEMO_GUILD, DEMO_OWNER + 1).await.unwrap(),
        Some(Role::Granted(Tier::Editor)),
        "cancelled: nothing removed"
    );
    click(&client, &format!("button[aria-label='Remove {grace}']")).await;
    find(&client, "[role='alertdialog']").await;
    client
        .active_element()
        .await
        .unwrap()
        .send_keys("\u{E004}")
        .await
        .unwrap();
    let confirm = client.active_element().await.unwrap();
    assert_eq!(confirm.text().await.unwrap(), "Remove access");
    confirm.send_keys("\u{E007}").await.unwrap();
    find_text(&client, ".toast", "grace's access was removed").await;
    shot(&client, "10-access-removed").await;
    assert_eq!(access.role(DEMO_GUILD, DEMO_OWNER + 1).await.unwrap(), None);

    // At a phone's width the sidebar stacks above the page.
    client.set_window_size(390, 844).await.unwrap();
    client
        .goto(&format!(
            "{}/guilds/{DEMO_GUILD}/cogs/reference/settings",
            site.url
        ))
        .await
        .unwrap();
    find(&client, "#field-max_count").await;
    let columns = client
        .execute(
            "return getComputedStyle(document.querySelector('.layout')).gridTemplateColumns.split(' ').length",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(columns, json!(1), "one column at a phone's width");
    let overflow = client
        .execute(
            "return document.documentElement.scrollWidth - window.innerWidth",
            vec![],
        )
        .await
        .unwrap();
    assert!(
        overflow.as_f64().unwrap_or(1.0) <= 0.0,
        "nothing wider than a phone's screen (overflow {overflow} px)"
    );
    shot(&client, "11-phone-settings").await;
    client.set_window_size(1200, 800).await.unwrap();

    // Sign out: back to the sign-in card.
    click_text(&client, "button", "Sign out").await;
    find_text(&client, "a.button", "Sign in with Discord").await;
    shot(&client, "12-signed-out-again").await;
    client.close().await.unwrap();
}

/// Start `bytes` in the dashboard's UI worker, as the page would; what the
/// worker answers first (`idle` once running, else its error).
async fn in_worker(client: &Client, bytes: &[u8]) -> String {
    let script = r#"
        const [bytes, done] = arguments;
        const worker = new Worker('/ui-worker.js');
        worker.onmessage = (event) => {
            if (event.data.type === 'error') { worker.terminate(); done('error: ' + event.data.message); }
            if (event.data.type === 'idle') { worker.terminate(); done('idle'); }
        };
        worker.postMessage({ type: 'start', bytes: new Uint8Array(bytes).buffer,
            context: { guild_id: '1', cog: 'x', route: 'y', tier: 'viewer', locale: 'en' }, canAct: false });
    "#;
    let answer = client
        .execute_async(script, vec![json!(bytes)])
        .await
        .expect("the worker answers");
    answer.as_str().unwrap_or_default().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cog_pages_and_ui_modules_work_in_the_browser() {
    let dashboard = dashboard_site();
    let ui = ui_guest("reference-ui");
    let site = site_with(100, |config| {
        config.dashboard_dir = Some(dashboard);
        install("reference", &config.cogs_dir, "reference.wasm");
        install("hostile", &config.cogs_dir, "hostile.wasm");
        std::fs::copy(&ui, config.cogs_dir.join("reference.ui.wasm")).unwrap();
    })
    .await;
    let (_driver, client) = browser().await;
    client
        .goto(&format!(
            "{}/api/v1/auth/login?as_user={DEMO_OWNER}&return_to=%2Fguilds%2F{DEMO_GUILD}",
            site.url
        ))
        .await
        .unwrap();

    // The cog's pages are in the sidebar of the server's pages.
    click_text(&client, ".pages a", "Dice statistics").await;
    find_text(&client, "h1", "Dice statistics").await;
    find_text(&client, ".v-stat", "Dice rolled").await;
    find(&client, ".v-chart svg rect.v-bar").await;
    shot(&client, "20-cog-page-rendered").await;

    // A form: the cog's action, its notice as a toast, the page again.
    let goal = find(&client, ".v-form input[name='goal']").await;
    goal.clear().await.unwrap();
    goal.send_keys("7").await.unwrap();
    click_text(&client, ".v-form button", "Set the goal").await;
    find_text(&client, ".toasts .toast", "Goal set: 7 dice.").await;
    find_text(&client, ".v-stat", "0 of 7").await;
    shot(&client, "21-cog-page-form").await;

    // A dangerous button asks first, in the dashboard's own dialog.
    click_text(&client, ".page-view button.danger", "Reset counters").await;
    let dialog = find(&client, "[role='alertdialog']").await;
    shot(&client, "22-cog-page-confirm").await;
    let focused = client
        .execute("return document.activeElement.textContent", vec![])
        .await
        .unwrap();
    assert_eq!(focused, json!("Cancel"), "the safe choice has the focus");
    dialog
        .find(Locator::Css("button.danger"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    find_text(&client, ".toasts .toast", "Counters reset.").await;

    // The UI module's page: picking a die is the module's own state; a
    // roll goes through the cog and comes back into the module's table.
    click_text(&client, ".pages a", "Dice table").await;
    find_text(&client, ".page-view button", "Roll a d6").await;
    click_text(&client, ".page-view button", "d20").await;
    click_text(&client, ".page-view button", "Roll a d20").await;
    let row = find_text(&client, ".page-view table tbody tr", "d20").await;
    let die: u32 = row
        .text()
        .await
        .unwrap()
        .split_whitespace()
        .last()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=20).contains(&die));
    shot(&client, "23-ui-module-page").await;
    let namespace = baseline_host::store::kv::Namespace {
        cog: "reference".into(),
        partition: baseline_host::store::kv::Partition::Guild(DEMO_GUILD),
    };
    let rolled = site
        .runtime
        .services()
        .kv
        .get(&namespace, "rolls:d20")
        .await
        .unwrap();
    assert_eq!(
        rolled.as_deref(),
        Some(&b"1"[..]),
        "the roll counted in the cog's kv"
    );

    // The worker refuses a module that imports anything but the bridge
    // (the host refuses it at load too; this is the browser's own check).
    for (imports, refused) in [
        (
            r#"(import "bridge" "fetch" (func (param i32 i32)))"#,
            "bridge.fetch",
        ),
        (
            r#"(import "env" "emit_view" (func (param i32 i32)))"#,
            "env.emit_view",
        ),
        (r#"(import "bridge" "toString" (func))"#, "bridge.toString"),
        (
            r#"(import "bridge" "constructor" (func))"#,
            "bridge.constructor",
        ),
        (r#"(import "bridge" "emit_view" (memory 1))"#, "(memory)"),
    ] {
        let answer = in_worker(&client, &ui_fixture(imports, "", UI_EVENT)).await;
        assert!(
            answer.starts_with("error:")
                && answer.contains(refused)
                && answer.contains("may import only"),
            "{imports}: {answer}"
        );
    }
    let bridge_only = r#"(import "bridge" "emit_view" (func (param i32 i32)))"#;
    assert_eq!(
        in_worker(&client, &ui_fixture(bridge_only, "", UI_EVENT)).await,
        "idle"
    );

    // A module that names an action out of its page, from its start-up code
    // with no click: the dashboard refuses the name before any request, and
    // the module's next, well-named call reaches its own page's one URL.
    let escape =
        r#"{\"action\":\"../../../../reference/pages/stats/actions/reset\",\"payload\":{}}"#;
    let roll = r#"{\"action\":\"roll\",\"payload\":{\"sides\":6}}"#;
    let module = ui_fixture(
        r#"(import "bridge" "call_action" (func $call (param i32 i32) (result i32)))"#,
        &format!(
            "(drop (call $call (i32.const 2048) (i32.const {}))) (drop (call $call (i32.const 4096) (i32.const {})))",
            escape.replace('\\', "").len(),
            roll.replace('\\', "").len(),
        ),
        &format!(
            r#"{UI_EVENT} (data (i32.const 2048) "{escape}") (data (i32.const 4096) "{roll}")"#
        ),
    );
    swap_ui_module(&site, &client, module).await;
    let d6 = || async {
        site.runtime
            .services()
            .kv
            .get(&namespace, "rolls:d6")
            .await
            .unwrap()
    };
    let started = Instant::now();
    while d6().await.is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the module's well-named action never reached the cog"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let requests = client
        .execute(
            "return performance.getEntriesByType('resource').map(e => e.name).filter(n => n.includes('/api/v1/guilds/'))",
            vec![],
        )
        .await
        .unwrap();
    let requests: Vec<String> = serde_json::from_value(requests).unwrap();
    let acts: Vec<&String> = requests.iter().filter(|r| r.contains("/act")).collect();
    assert_eq!(
        acts.len(),
        1,
        "only the well-named action was sent: {requests:?}"
    );
    assert!(
        acts[0].ends_with(&format!(
            "/guilds/{DEMO_GUILD}/cogs/reference/pages/table/act"
        )),
        "{requests:?}"
    );
    assert!(
        !requests
            .iter()
            .any(|r| r.contains("stats") || r.contains("reset")),
        "no request left the page: {requests:?}"
    );

    // A page the host renders whose button names a `..` action: refused
    // with the reason, so there is no button to click.
    client
        .goto(&format!(
            "{}/guilds/{DEMO_GUILD}/cogs/hostile/pages/escape",
            site.url
        ))
        .await
        .unwrap();
    find_text(&client, "section.card.error", "an action name holds only").await;
    assert!(
        client
            .find(Locator::Css(".page-view button"))
            .await
            .is_err(),
        "no button of that view is drawn"
    );
    client.back().await.unwrap();

    // A module that emits views in a loop is stopped at the cap, before the
    // tab has drawn them all.
    let divider = r#"{\"root\":0,\"nodes\":[{\"type\":\"divider\"}]}"#;
    let flood = ui_fixture(
        r#"(import "bridge" "emit_view" (func $emit (param i32 i32)))"#,
        &format!(
            "(local $i i32) (loop $again (call $emit (i32.const 2048) (i32.const {})) \
             (local.set $i (i32.add (local.get $i) (i32.const 1))) \
             (br_if $again (i32.lt_u (local.get $i) (i32.const 1000000))))",
            divider.replace('\\', "").len()
        ),
        &format!(r#"{UI_EVENT} (data (i32.const 2048) "{divider}")"#),
    );
    swap_ui_module(&site, &client, flood).await;
    find_text(&client, ".ui-stopped", "more than 16 views in one call").await;

    // A module that never returns is stopped by the page's watchdog.
    swap_ui_module(
        &site,
        &client,
        ui_fixture("", "(loop $forever (br $forever))", UI_EVENT),
    )
    .await;
    find_text(&client, ".ui-stopped", "did not answer in time").await;
    shot(&client, "24-ui-module-stopped").await;
    client.close().await.unwrap();
}

/// Put `module` in place of the reference cog's UI module, reload the cog
/// and the page.
async fn swap_ui_module(site: &crate::login::Site, client: &Client, module: Vec<u8>) {
    let cogs = &site.runtime.config().cogs_dir;
    std::fs::write(cogs.join("reference.ui.wasm"), module).unwrap();
    site.runtime
        .load_file(&cogs.join("reference.wasm"))
        .await
        .unwrap();
    client.refresh().await.unwrap();
}

/// The dashboard with ada on the developer team, a shard monitor, and `cogs`.
async fn developer_site(cogs: &[&'static str]) -> crate::login::Site {
    let dashboard = dashboard_site();
    site_on(
        100,
        |config| {
            config.dashboard_dir = Some(dashboard);
            config.auth.developers = vec![DEMO_OWNER];
            for cog in cogs {
                install(cog, &config.cogs_dir, &format!("{cog}.wasm"));
            }
        },
        None,
        |services| {
            let monitor =
                ShardMonitor::new(services.cache.clone(), "test/1/a", Duration::from_secs(60));
            services.with_shards(std::sync::Arc::new(monitor))
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_developer_team_sees_the_bots_cogs_shards_and_spend() {
    let site = developer_site(&["reference", "hostile"]).await;
    // A copy of hostile under another name arrives: its commands belong to
    // hostile (recorded when it loaded), so it is refused — and shown.
    let squat = install("hostile", &site.runtime.config().cogs_dir, "zz-squat.wasm");
    let refused = match site.runtime.load_file(&squat).await {
        Ok(_) => panic!("the squatter loaded"),
        Err(error) => error.to_string(),
    };
    assert!(refused.contains("belongs to cog `hostile`"), "{refused}");
    let monitor = site.runtime.services().shards.clone().unwrap();
    // Shard 0 of 2 reports; shard 1 never does.
    monitor.observe(0, 2, "connecting", None).await.unwrap();
    for ms in [40, 42, 45] {
        monitor
            .observe(0, 2, "connected", Some(Duration::from_millis(ms)))
            .await
            .unwrap();
    }
    let (_driver, client) = browser().await;
    client
        .goto(&format!(
            "{}/api/v1/auth/login?as_user={DEMO_OWNER}&return_to=%2Fbot%2Fcogs",
            site.url
        ))
        .await
        .unwrap();

    // Cogs: each with its capabilities, the cog's reasons, and the grants.
    let ban = find_text(
        &client,
        "article[aria-label='cog hostile'] tr",
        "discord.members.ban",
    )
    .await;
    let row = ban.text().await.unwrap();
    assert!(
        row.contains("Wants to ban people") && row.ends_with("no"),
        "{row}"
    );
    let card = find_text(&client, "article.op-card", "zz-squat.wasm").await;
    let first = client
        .execute(
            "return document.querySelector('article.op-card').textContent",
            vec![],
        )
        .await
        .unwrap();
    assert!(
        first.as_str().unwrap_or_default().contains("zz-squat.wasm"),
        "a refused file comes first: {first}"
    );
    let text = card.text().await.unwrap();
    assert!(
        text.contains("failed")
            && text.contains("belongs to cog `hostile`")
            && text.contains("[commands]"),
        "{text}"
    );
    shot(&client, "30-bot-cogs").await;
    find_text(
        &client,
        "article[aria-label='cog reference'] .file",
        "WIT 0.3.0",
    )
    .await;
    click(&client, "button[aria-label='Reload reference']").await;
    find_text(&client, ".toasts .toast", "reference 0.1.0 reloaded.").await;

    // Shards: the reporting one with its latency graph, the silent one
    // named, a guild looked up; the page refreshes by itself.
    click_text(&client, ".bot a", "Shards").await;
    find(&client, "article[aria-label='shard 0'] svg polyline").await;
    find_text(&client, "article[aria-label='shard 0']", "45 ms").await;
    find_text(&client, "[role='alert']", "shards 1 lately").await;
    let lookup = find(&client, "#guild-lookup").await;
    lookup.send_keys(&DEMO_GUILD.to_string()).await.unwrap();
    click_text(&client, ".lookup button", "Look up").await;
    let shard = baseline_host::discord::shards::shard_of(DEMO_GUILD, 2);
    find_text(
        &client,
        ".lookup-answer",
        &format!("is on shard {shard} of 2"),
    )
    .await;
    monitor
        .observe(0, 2, "connected", Some(Duration::from_millis(77)))
        .await
        .unwrap();
    find_text(&client, "article[aria-label='shard 0']", "77 ms").await;
    shot(&client, "31-bot-shards").await;

    // LLM spend: an empty state before any call, then the calls by day,
    // cog and model.
    click_text(&client, ".bot a", "LLM spend").await;
    find_text(&client, ".card.empty", "No language-model calls yet").await;
    let store =
        baseline_host::store::llm::LlmStore::new(site.runtime.services().database.clone().unwrap());
    for (cog, cost) in [("ask", 12_000), ("ask", 345), ("reference", 1)] {
        store
            .record(&baseline_host::store::llm::UsageRow {
                guild_id: Some(DEMO_GUILD),
                cog: cog.into(),
                user_id: Some(DEMO_OWNER),
                provider: "openai".into(),
                model: "gpt-6-luna".into(),
                operation: "chat".into(),
                input_tokens: 100,
                cached_tokens: 0,
                cache_write_tokens: 0,
                output_tokens: 20,
                reasoning_tokens: 0,
                cost_micros: cost,
                latency_ms: 40,
                outcome: "ok".into(),
                fallback: false,
                cache_hit: false,
                images: 0,
                audio_ms: 0,
                at_ms: 0,
            })
            .await
            .unwrap();
    }
    client.refresh().await.unwrap();
    find_text(&client, ".op-figures", "$0.012346").await;
    find(&client, ".v-chart svg").await;
    let by_cog = find_text(&client, "section[aria-label='By cog'] tr", "ask").await;
    assert!(
        by_cog.text().await.unwrap().contains("$0.012345"),
        "the cog's spend"
    );
    shot(&client, "32-bot-llm").await;
    client.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_admin_sets_resets_and_removes_an_llm_budget() {
    let site = developer_site(&["reference"]).await;
    let store =
        baseline_host::store::llm::LlmStore::new(site.runtime.services().database.clone().unwrap());
    let (_driver, client) = browser().await;
    client
        .goto(&format!(
            "{}/api/v1/auth/login?as_user={DEMO_OWNER}&return_to=%2Fguilds%2F{DEMO_GUILD}%2Fspend",
            site.url
        ))
        .await
        .unwrap();
    find_text(&client, "section[aria-label='budgets']", "No budget").await;
    find(&client, "#budget-period")
        .await
        .select_by_label("daily")
        .await
        .unwrap();
    let limit = find(&client, "#budget-limit").await;
    limit.send_keys("1.5").await.unwrap();
    click_text(&client, ".budget-form button", "Set budget").await;
    let row = find_text(
        &client,
        "section[aria-label='budgets'] tr",
        "the whole server",
    )
    .await;
    assert!(
        row.text().await.unwrap().contains("$1.500000"),
        "{}",
        row.text().await.unwrap()
    );
    let budgets = store.guild_budgets(DEMO_GUILD).await.unwrap();
    assert_eq!(
        (
            budgets.len(),
            budgets[0].limit_micros,
            budgets[0].cog.clone()
        ),
        (1, 1_500_000, None)
    );
    shot(&client, "13-server-spend").await;
    // The toasts sit over the table's last column: dismissed before each click.
    let dismiss = || async {
        while let Ok(close) = client.find(Locator::Css(".toasts button.close")).await {
            let _ = close.click().await;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    dismiss().await;
    click(&client, "button[aria-label='Reset the whole server daily']").await;
    find_text(&client, ".toasts .toast", "Budgets saved.").await;
    dismiss().await;
    click(
        &client,
        "button[aria-label='Remove the whole server daily']",
    )
    .await;
    find_text(&client, "section[aria-label='budgets']", "No budget").await;
    assert!(store.guild_budgets(DEMO_GUILD).await.unwrap().is_empty());
    client.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_playground_runs_commands_as_a_user_and_its_buttons_work() {
    let site = developer_site(&["reference", "hostile"]).await;
    // The whole bot: its shard on the simulator's gateway, its commands
    // registered.
    let endpoint = baseline_host::discord::Endpoint {
        base: site.sim.http_url(),
        token: "simulated-token".into(),
        simulated: true,
    };
    let services = site.runtime.services();
    let _bot = baseline_host::dispatch::Discord::start(
        site.runtime.clone(),
        services.discord.clone().unwrap(),
        &endpoint,
        site.runtime.config().discord.clone(),
        Some(GuildStore::new(services.database.clone().unwrap())),
        services.shards.clone().unwrap(),
    )
    .await
    .unwrap();
    let world = &site.sim.sim().world;
    eventually("commands registered", Duration::from_secs(20), || {
        let state = world.state.lock();
        state.commands.global.len() + state.commands.guilds.values().map(Vec::len).sum::<usize>()
            > 0
    })
    .await;
    let (_driver, client) = browser().await;
    client
        .goto(&format!(
            "{}/api/v1/auth/login?as_user={DEMO_OWNER}&return_to=%2Fbot%2Fplayground",
            site.url
        ))
        .await
        .unwrap();

    // /dice roll sides:20, as ada: an embed with a working button.
    let command = find(&client, "select#play-command").await;
    command.select_by_label("/dice roll").await.unwrap();
    let sides = find(&client, "input#opt-sides").await;
    sides.send_keys("20").await.unwrap();
    click_text(&client, "button", "Run").await;
    find_text(&client, ".turn-what", "/dice roll sides:20").await;
    find(&client, ".d-message .d-embed").await;
    shot(&client, "40-playground-roll").await;
    click_text(&client, ".d-message .d-button", "Roll again").await;
    find_text(&client, ".turn-what", "clicked reference:again:20:1").await;
    let turns = client.find_all(Locator::Css(".turn")).await.unwrap();
    assert_eq!(turns.len(), 2, "each use is a turn of its own");

    // An ephemeral answer is marked as Discord marks it.
    command.select_by_label("/dice stats").await.unwrap();
    click_text(&client, "button", "Run").await;
    find_text(&client, ".d-ephemeral", "Only you can see this").await;
    shot(&client, "41-playground-ephemeral").await;

    // A modal: drawn as a form, sent, and the cog reads what was typed.
    command.select_by_label("/form").await.unwrap();
    click_text(&client, "button", "Run").await;
    let name = find(&client, ".d-modal input#modal-name").await;
    name.send_keys("Ada").await.unwrap();
    find(&client, ".d-modal textarea#modal-story")
        .await
        .send_keys("engines")
        .await
        .unwrap();
    shot(&client, "42-playground-modal").await;
    click_text(&client, ".d-modal button", "Submit").await;
    find_text(&client, ".d-content", "name=Ada").await;
    client.close().await.unwrap();
}

/// The dashboard's wasm, gzip -9, must stay under this (bytes). Set from
/// measurement: 144 KB on 2026-11-29 with the first three pages; the budget
/// left room for the settings forms, cog pages and the playground, which
/// took it to 301 KB (docs/benchmarks.md says where the bytes go). A change
/// that blows it up has to say why here (docs/dashboard.md). Raised to
/// 320 KiB on 2026-11-30 for the LLM spend page (314 KB with it: its usage
/// and price shapes and four tables, 12.4 KB); first paint stayed far under
/// its 1 s target.
const WASM_GZIP_BUDGET: usize = 320 * 1024;

#[test]
fn the_dashboard_stays_under_its_size_budget() {
    use std::io::Write as _;
    let wasm = std::fs::read(dashboard_site().join("baseline_dashboard_bg.wasm")).unwrap();
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gzip.write_all(&wasm).unwrap();
    let size = gzip.finish().unwrap().len();
    assert!(
        size <= WASM_GZIP_BUDGET,
        "the dashboard's wasm is {size} bytes gzipped, over its budget of {WASM_GZIP_BUDGET}"
    );
}

/// First contentful paint of the sign-in page and of a server's page,
/// loopback, headless Chromium; prints the figures for docs/benchmarks.md:
/// `cargo test -p baseline-host --test host dashboard_first_paint -- --ignored --nocapture`
/// (after `just dashboard`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, not a check: run it by name"]
async fn dashboard_first_paint() {
    let dashboard = dashboard_site();
    let site = site_with(100, |config| {
        config.dashboard_dir = Some(dashboard);
        install("status", &config.cogs_dir, "status.wasm");
    })
    .await;
    let (_driver, client) = browser().await;
    let paint =
        "return performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? null";
    let ready =
        "const n = performance.getEntriesByType('navigation')[0]; return n ? n.loadEventEnd : null";
    let mut signed_out = Vec::new();
    for _ in 0..5 {
        client.goto(&format!("{}/", site.url)).await.unwrap();
        find_text(&client, "a.button", "Sign in with Discord").await;
        let fcp = client.execute(paint, vec![]).await.unwrap();
        let load = client.execute(ready, vec![]).await.unwrap();
        signed_out.push((fcp, load));
    }
    println!("sign-in page, 5 loads: (first contentful paint ms, load event ms) {signed_out:?}");
    client
        .goto(&format!(
            "{}/api/v1/auth/login?as_user={DEMO_OWNER}&return_to=%2Fguilds%2F{DEMO_GUILD}",
            site.url
        ))
        .await
        .unwrap();
    find(&client, "table.cogs").await;
    let mut server = Vec::new();
    for _ in 0..5 {
        client.refresh().await.unwrap();
        find(&client, "table.cogs").await;
        let fcp = client.execute(paint, vec![]).await.unwrap();
        server.push(fcp);
    }
    println!(
        "a server's page (signed in, reloaded), 5 loads: first contentful paint ms {server:?}"
    );
    client.close().await.unwrap();
}
