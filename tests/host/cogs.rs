//! The example cogs through the runtime: the reference cog's command,
//! button round-trip, event handler, kv scoping, settings and page; the
//! status cog's embed.

use std::sync::Arc;

use baseline_host::capabilities::Scope;
use baseline_host::runtime::{Answer, Call, Runtime};
use baseline_host::wit::types::{
    CogError, CommandResponse, Component, ComponentInvocation, ComponentKind, ComponentResponse,
    Event, MessageInfo, OptionEntry, OptionValue, PageContext, User, ViewNode,
};

use crate::support::*;

async fn setup() -> (Arc<Runtime>, tempfile::TempDir) {
    let cogs = tempfile::tempdir().unwrap();
    let runtime = runtime(config(cogs.path()));
    install("reference", cogs.path(), "reference.wasm");
    install("status", cogs.path(), "status.wasm");
    for (path, result) in runtime.load_dir().await {
        result.unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
    (runtime, cogs)
}

async fn run(runtime: &Arc<Runtime>, cog: &str, call: Call, scope: Scope) -> Answer {
    let cog = runtime.registry().get(cog).unwrap();
    runtime.invoke(&cog, scope, call).await.expect("invocation")
}

fn roll_options(sides: i64, count: i64) -> Vec<OptionEntry> {
    vec![
        OptionEntry {
            name: "sides".into(),
            value: OptionValue::Integer(sides),
        },
        OptionEntry {
            name: "count".into(),
            value: OptionValue::Integer(count),
        },
    ]
}

async fn dice(
    runtime: &Arc<Runtime>,
    sub: &str,
    options: Vec<OptionEntry>,
    guild: u64,
    user: u64,
) -> Answer {
    let invocation = command("dice", Some(sub), options, guild, user);
    let scope = scope("reference", &invocation);
    run(runtime, "reference", Call::Command(invocation), scope).await
}

fn stat_field(answer: &Answer, field: &str) -> String {
    let Answer::Command(Ok(CommandResponse::Reply(reply))) = answer else {
        panic!("{answer:?}")
    };
    assert!(reply.ephemeral);
    reply.message.embeds[0]
        .fields
        .iter()
        .find(|f| f.name == field)
        .unwrap()
        .value
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_roll_answers_with_an_embed_and_a_button_that_round_trips() {
    let (runtime, _cogs) = setup().await;
    let answer = dice(&runtime, "roll", roll_options(20, 3), GUILD, USER).await;
    let Answer::Command(Ok(CommandResponse::Reply(reply))) = &answer else {
        panic!("{answer:?}")
    };
    let title = reply.message.embeds[0].title.clone().unwrap();
    assert!(title.starts_with("🎲"), "{title}");
    assert!(
        reply.message.embeds[0]
            .description
            .as_ref()
            .unwrap()
            .starts_with("3d20: ")
    );
    let Component::Button(button) = &reply.message.components[0].components[0] else {
        panic!()
    };
    let custom_id = button.custom_id.clone().unwrap();
    // The cog's own id: the host adds its namespace on the way to Discord.
    assert_eq!(custom_id, "again:20:3");

    // Click it.
    let click = ComponentInvocation {
        kind: ComponentKind::Button,
        custom_id,
        values: vec![],
        fields: vec![],
        message_id: Some(77),
        context: command("dice", None, vec![], GUILD, USER).context,
    };
    let scope = Scope {
        cog: Arc::from("reference"),
        guild_id: Some(GUILD),
        user_id: Some(USER),
        ..Default::default()
    };
    let answer = run(&runtime, "reference", Call::Component(click), scope).await;
    let Answer::Component(Ok(ComponentResponse::Update(message))) = &answer else {
        panic!("{answer:?}")
    };
    assert!(
        message.embeds[0]
            .description
            .as_ref()
            .unwrap()
            .starts_with("3d20: ")
    );
    assert_eq!(
        stat_field(&dice(&runtime, "stats", vec![], GUILD, USER).await, "You"),
        "6"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kv_is_scoped_by_guild_and_user() {
    let (runtime, _cogs) = setup().await;
    const OTHER_GUILD: u64 = 999;
    const OTHER_USER: u64 = 555;
    dice(&runtime, "roll", roll_options(6, 4), GUILD, USER).await;
    dice(&runtime, "roll", roll_options(6, 2), GUILD, OTHER_USER).await;
    dice(&runtime, "roll", roll_options(6, 1), OTHER_GUILD, USER).await;
    let here = dice(&runtime, "stats", vec![], GUILD, USER).await;
    assert_eq!(stat_field(&here, "This server"), "6");
    assert_eq!(stat_field(&here, "You"), "4");
    let there = dice(&runtime, "stats", vec![], OTHER_GUILD, USER).await;
    assert_eq!(stat_field(&there, "This server"), "1");
    assert_eq!(stat_field(&there, "You"), "1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_reach_the_cog_with_defaults() {
    let (runtime, _cogs) = setup().await;
    // Default max_count is 10.
    let answer = dice(&runtime, "roll", roll_options(6, 11), GUILD, USER).await;
    assert!(
        matches!(&answer, Answer::Command(Err(CogError::User(m))) if m.contains("at most 10")),
        "{answer:?}"
    );
    runtime
        .services()
        .settings
        .put(
            "reference",
            GUILD,
            serde_json::json!({"max_count": 2}),
            None,
        )
        .await
        .unwrap();
    let answer = dice(&runtime, "roll", roll_options(6, 3), GUILD, USER).await;
    assert!(
        matches!(&answer, Answer::Command(Err(CogError::User(m))) if m.contains("at most 2")),
        "{answer:?}"
    );
    // Another guild keeps the defaults.
    let answer = dice(&runtime, "roll", roll_options(6, 3), 7, USER).await;
    assert!(matches!(answer, Answer::Command(Ok(_))), "{answer:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_and_pages_use_the_same_storage() {
    let (runtime, _cogs) = setup().await;
    let author = User {
        id: USER,
        username: "tester".into(),
        global_name: None,
        bot: false,
        avatar: None,
    };
    let message = MessageInfo {
        id: 1,
        channel_id: 200,
        guild_id: Some(GUILD),
        author: author.clone(),
        content: "hello".into(),
        timestamp: "2026-11-26T00:00:00Z".into(),
        edited_timestamp: None,
        attachments: vec![],
        embed_count: 0,
    };
    let context = command("x", None, vec![], GUILD, USER).context;
    let scope = Scope {
        cog: Arc::from("reference"),
        guild_id: Some(GUILD),
        user_id: Some(USER),
        ..Default::default()
    };
    for _ in 0..3 {
        let answer = run(
            &runtime,
            "reference",
            Call::Event(
                Box::new(Event::MessageCreate(message.clone())),
                context.clone(),
            ),
            scope.clone(),
        )
        .await;
        assert!(matches!(answer, Answer::Event(Ok(()))), "{answer:?}");
    }
    let page = PageContext {
        guild_id: GUILD,
        user_id: USER,
        route: "stats".into(),
        query: vec![],
    };
    let answer = run(
        &runtime,
        "reference",
        Call::Render(page.clone()),
        scope.clone(),
    )
    .await;
    let Answer::Render(Ok(view)) = &answer else {
        panic!("{answer:?}")
    };
    assert!(
        view.nodes.iter().any(
            |n| matches!(n, ViewNode::Stat(s) if s.label == "Messages seen" && s.value == "3")
        ),
        "{view:?}"
    );
    let answer = run(
        &runtime,
        "reference",
        Call::Act(page.clone(), "reset".into(), "{}".into()),
        scope.clone(),
    )
    .await;
    assert!(
        matches!(&answer, Answer::Act(Ok(outcome)) if outcome.notice.as_deref() == Some("Counters reset.")),
        "{answer:?}"
    );
    let Answer::Render(Ok(view)) = run(&runtime, "reference", Call::Render(page), scope).await
    else {
        panic!()
    };
    assert!(
        view.nodes.iter().any(
            |n| matches!(n, ViewNode::Stat(s) if s.label == "Messages seen" && s.value == "0")
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_shows_version_uptime_and_cogs() {
    let (runtime, _cogs) = setup().await;
    let invocation = command("status", None, vec![], GUILD, USER);
    let scope = scope("status", &invocation);
    let answer = run(&runtime, "status", Call::Command(invocation), scope).await;
    let Answer::Command(Ok(CommandResponse::Reply(reply))) = &answer else {
        panic!("{answer:?}")
    };
    assert!(reply.ephemeral);
    let field = |name: &str| {
        reply.message.embeds[0]
            .fields
            .iter()
            .find(|f| f.name.starts_with(name))
            .unwrap()
            .value
            .clone()
    };
    assert_eq!(field("Version"), baseline_host::VERSION);
    assert!(field("Uptime").ends_with('s'));
    assert!(field("Cogs (2)").contains("`reference`") && field("Cogs (2)").contains("`status`"));
    assert_eq!(field("Shards"), "not available yet");
}

/// A cog written in Python (componentize-py) answers through the same
/// contract, reaches kv, and gets warm-instance reuse by measurement.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_cog_works_and_is_reused_by_measurement() {
    let _cores = crate::support::CPU_HEAVY.lock().await;
    use baseline_host::runtime::InstancePolicy;
    let cogs = tempfile::tempdir().unwrap();
    let runtime = runtime(config(cogs.path()));
    std::fs::copy(python_guest(), cogs.path().join("pyecho.wasm")).unwrap();
    let cog = runtime
        .load_file(&cogs.path().join("pyecho.wasm"))
        .await
        .expect("the Python cog loads");
    assert!(
        matches!(cog.policy, InstancePolicy::Reuse { .. }),
        "instantiation took {:?}",
        cog.instantiate_time
    );
    assert_eq!(cog.spares_wanted(), 1, "a slow first call keeps a spare");
    let text = |answer: Answer| match answer {
        Answer::Command(Ok(CommandResponse::Reply(reply))) => {
            reply.message.content.unwrap_or_default()
        }
        other => panic!("{other:?}"),
    };
    let hello = command("pyhello", None, vec![], GUILD, USER);
    let answer = runtime
        .invoke(&cog, scope("pyecho", &hello), Call::Command(hello))
        .await
        .unwrap();
    assert_eq!(text(answer), "Hello from Python, tester!");
    for expected in 1..=3 {
        let count = command("pycount", None, vec![], GUILD, USER);
        let answer = runtime
            .invoke(&cog, scope("pyecho", &count), Call::Command(count))
            .await
            .unwrap();
        assert_eq!(text(answer), format!("Python counted {expected}"));
    }
    // Counted in kv, so another guild starts again.
    let count = command("pycount", None, vec![], 7, USER);
    let answer = runtime
        .invoke(&cog, scope("pyecho", &count), Call::Command(count))
        .await
        .unwrap();
    assert_eq!(text(answer), "Python counted 1");
}
