//! The analytics API (usage summed by day, guild, cog and model over a
//! range) and a guild's budgets API — each guild-scoped route tried with
//! another guild's id.

use std::sync::Arc;

use axum::http::StatusCode;
use baseline_host::store::llm::{UsageRow, parse_day};
use serde_json::{Value, json};

use super::metered::{ask, caller, setup};
use super::{send, session};

const A: u64 = 111;
const B: u64 = 222;

fn row(guild: u64, cog: &str, model: &str, day: &str, cost: u64, outcome: &str) -> UsageRow {
    UsageRow {
        guild_id: Some(guild),
        cog: cog.into(),
        user_id: Some(7),
        provider: "openai".into(),
        model: model.into(),
        operation: "chat".into(),
        input_tokens: 100,
        cached_tokens: 40,
        cache_write_tokens: 0,
        output_tokens: 10,
        reasoning_tokens: 0,
        cost_micros: cost,
        latency_ms: 30,
        outcome: outcome.into(),
        fallback: false,
        cache_hit: false,
        images: 0,
        audio_ms: 0,
        // Noon of that day.
        at_ms: parse_day(day).unwrap() + 43_200_000,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_is_summed_by_day_guild_cog_and_model_for_who_may_see_it() {
    let dir = tempfile::tempdir().unwrap();
    let (_sim, service, store) = setup(&dir).await;
    let rows = [
        row(A, "ask", "gpt-6-luna", "2026-11-28", 100, "ok"),
        row(A, "ask", "gpt-6-luna", "2026-11-29", 200, "ok"),
        row(A, "ask", "gpt-6-luna", "2026-11-29", 0, "budget-exceeded"),
        row(A, "other", "claude-haiku-5-5", "2026-11-30", 400, "ok"),
        row(B, "ask", "gpt-6-luna", "2026-11-30", 800, "ok"),
        // Outside the range asked for.
        row(A, "ask", "gpt-6-luna", "2026-10-01", 5_000, "ok"),
    ];
    for r in &rows {
        store.record(r).await.unwrap();
    }
    let service = Arc::new(service);
    let (runtime, _cogs) = super::api_runtime(&dir, service.clone()).await;
    let developer = session(&runtime, true, &[]).await;
    let admin_of_a = session(&runtime, false, &[A]).await;
    let get =
        |uri: &str, token: &str| send(&runtime, "GET", uri.to_string(), token.to_string(), None);
    let range = "from=2026-11-28&to=2026-11-30";

    // By day: each day's sums, oldest first.
    let (status, report) = get(&format!("/api/v1/llm/usage/summary?{range}"), &developer).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let days: Vec<(&str, u64, u64)> = report["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["key"].as_str().unwrap(),
                g["totals"]["cost_micros"].as_u64().unwrap(),
                g["totals"]["calls"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        days,
        [
            ("2026-11-28", 100, 1),
            ("2026-11-29", 200, 2),
            ("2026-11-30", 1_200, 2)
        ]
    );
    assert_eq!(report["total"]["cost_micros"], 1_500);
    // A timeline: the quiet days are there, at zero.
    let (_, wider) = get(
        "/api/v1/llm/usage/summary?from=2026-11-26&to=2026-11-30",
        &developer,
    )
    .await;
    let keys: Vec<&str> = wider["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["key"].as_str().unwrap())
        .collect();
    assert_eq!(
        keys,
        [
            "2026-11-26",
            "2026-11-27",
            "2026-11-28",
            "2026-11-29",
            "2026-11-30"
        ]
    );
    assert_eq!(wider["groups"][0]["totals"]["calls"], 0);
    assert_eq!(report["total"]["calls"], 5);
    assert_eq!(report["total"]["errors"], 1);
    assert_eq!(report["total"]["cached_tokens"], 200);
    assert_eq!(report["total"]["mean_latency_ms"], 30);
    assert_eq!(
        (report["from"].as_str(), report["to"].as_str()),
        (Some("2026-11-28"), Some("2026-11-30"))
    );
    // By guild, cog and model.
    let keys = |report: &Value| -> Vec<(String, u64)> {
        report["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| {
                (
                    g["key"].as_str().unwrap().to_string(),
                    g["totals"]["cost_micros"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    let (_, by) = get(
        &format!("/api/v1/llm/usage/summary?{range}&group=guild"),
        &developer,
    )
    .await;
    assert_eq!(keys(&by), [(A.to_string(), 700), (B.to_string(), 800)]);
    let (_, by) = get(
        &format!("/api/v1/llm/usage/summary?{range}&group=cog"),
        &developer,
    )
    .await;
    assert_eq!(
        keys(&by),
        [("ask".to_string(), 1_100), ("other".to_string(), 400)]
    );
    let (_, by) = get(
        &format!("/api/v1/llm/usage/summary?{range}&group=model"),
        &developer,
    )
    .await;
    assert_eq!(
        keys(&by),
        [
            ("openai/claude-haiku-5-5".to_string(), 400),
            ("openai/gpt-6-luna".to_string(), 1_100)
        ]
    );
    let (_, none) = get(
        &format!("/api/v1/llm/usage/summary?{range}&group=none"),
        &developer,
    )
    .await;
    assert_eq!(
        (
            none["groups"].as_array().unwrap().len(),
            none["total"]["cost_micros"].as_u64()
        ),
        (0, Some(1_500))
    );
    // One cog across guilds.
    let (status, by_cog) = get(&format!("/api/v1/llm/usage/by-cog/ask?{range}"), &developer).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (
            by_cog["cog"].as_str(),
            by_cog["total"]["cost_micros"].as_u64()
        ),
        (Some("ask"), Some(1_100))
    );

    // A guild's admin sees that guild, not the other, not the whole bot.
    let (status, mine) = get(
        &format!("/api/v1/llm/usage/by-guild/{A}?{range}&group=cog"),
        &admin_of_a,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{mine}");
    assert_eq!(
        keys(&mine),
        [("ask".to_string(), 300), ("other".to_string(), 400)]
    );
    assert_eq!(mine["guild_id"], A.to_string());
    let (status, _) = get(
        &format!("/api/v1/llm/usage/by-guild/{B}?{range}"),
        &admin_of_a,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "another guild's id");
    for uri in [
        format!("/api/v1/llm/usage/summary?{range}"),
        format!("/api/v1/llm/usage/by-cog/ask?{range}"),
    ] {
        assert_eq!(
            get(&uri, &admin_of_a).await.0,
            StatusCode::FORBIDDEN,
            "{uri}"
        );
    }
    let (status, _) = get(
        &format!("/api/v1/llm/usage/by-guild/{A}?{range}&group=guild"),
        &admin_of_a,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "no list of other guilds");
    let (status, _) = get(
        &format!("/api/v1/llm/usage/by-guild/{A}?{range}"),
        "bl_nonsense",
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Bad ranges say what is wrong.
    for query in [
        "from=2026-13-01",
        "from=2026-11-30&to=2026-11-01",
        "from=2020-01-01&to=2026-11-30",
        "group=week",
        "to=yesterday",
    ] {
        let (status, error) = get(&format!("/api/v1/llm/usage/summary?{query}"), &developer).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {error}");
    }

    // A real call shows in today's report, by default the last 30 days.
    let (_, charged) = service.chat(&caller(A), ask("hello"), None).await.unwrap();
    let (_, today) = get("/api/v1/llm/usage/by-guild/111?group=none", &admin_of_a).await;
    let day = 86_400_000;
    let since = (baseline_host::store::now_millis() / day - 29) * day;
    let expected = charged.cost_micros
        + rows
            .iter()
            .filter(|r| r.guild_id == Some(A) && r.at_ms >= since)
            .map(|r| r.cost_micros)
            .sum::<u64>();
    assert_eq!(
        today["total"]["cost_micros"].as_u64(),
        Some(expected),
        "{today}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guild_admins_set_reset_and_remove_their_budgets_only() {
    let dir = tempfile::tempdir().unwrap();
    let (_sim, service, _store) = setup(&dir).await;
    let service = Arc::new(service);
    let (runtime, _cogs) = super::api_runtime(&dir, service.clone()).await;
    let admin_of_a = session(&runtime, false, &[A]).await;
    let admin_of_b = session(&runtime, false, &[B]).await;
    let call = |method: &'static str, uri: String, token: &str, body: Option<Value>| {
        send(&runtime, method, uri, token.to_string(), body)
    };
    let budgets = format!("/api/v1/guilds/{A}/llm/budgets");

    let (status, set) = call(
        "PUT",
        budgets.clone(),
        &admin_of_a,
        Some(json!({"period": "daily", "limit_micros": 1_000_000})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{set}");
    let (status, _) = call(
        "PUT",
        budgets.clone(),
        &admin_of_a,
        Some(json!({"cog": "ask", "period": "monthly", "limit_micros": 5_000_000})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // Spend some, and see it against both budgets.
    let (_, charged) = service.chat(&caller(A), ask("hello"), None).await.unwrap();
    let (status, list) = call("GET", budgets.clone(), &admin_of_a, None).await;
    assert_eq!(status, StatusCode::OK);
    let list = list.as_array().unwrap().clone();
    assert_eq!(list.len(), 2, "{list:?}");
    assert!(
        list.iter()
            .all(|b| b["spent_micros"] == charged.cost_micros && b["reserved_micros"] == 0)
    );
    assert_eq!(list[0]["period"], "daily");
    assert_eq!(list[0]["window"].as_str().unwrap().len(), 10);
    assert_eq!(
        (
            list[1]["cog"].as_str(),
            list[1]["window"].as_str().unwrap().len()
        ),
        (Some("ask"), 7)
    );

    // A budget set after the spending starts from what the books say.
    let (status, list) = call(
        "PUT",
        budgets.clone(),
        &admin_of_a,
        Some(json!({"period": "monthly", "limit_micros": 9_000_000})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let monthly = list
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["cog"].is_null() && b["period"] == "monthly")
        .unwrap();
    assert_eq!(monthly["spent_micros"], charged.cost_micros, "{list}");
    call("DELETE", format!("{budgets}/monthly"), &admin_of_a, None).await;
    // Spent while it was gone, then set again: the books count that too.
    let (_, more) = service.chat(&caller(A), ask("again"), None).await.unwrap();
    let (_, list) = call(
        "PUT",
        budgets.clone(),
        &admin_of_a,
        Some(json!({"period": "monthly", "limit_micros": 9_000_000})),
    )
    .await;
    let monthly = list
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["cog"].is_null() && b["period"] == "monthly")
        .unwrap();
    assert_eq!(
        monthly["spent_micros"],
        charged.cost_micros + more.cost_micros,
        "{list}"
    );
    call("DELETE", format!("{budgets}/monthly"), &admin_of_a, None).await;

    // Another guild's admin can neither see nor touch them.
    assert_eq!(
        call("GET", budgets.clone(), &admin_of_b, None).await.0,
        StatusCode::FORBIDDEN
    );
    let (status, _) = call(
        "PUT",
        budgets.clone(),
        &admin_of_b,
        Some(json!({"period": "daily", "limit_micros": 0})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = call(
        "POST",
        format!("{budgets}/reset"),
        &admin_of_b,
        Some(json!({"period": "daily"})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        call("DELETE", format!("{budgets}/daily"), &admin_of_b, None)
            .await
            .0,
        StatusCode::FORBIDDEN
    );

    // Reset: the daily window's spend back to zero, the cog's month untouched.
    let (status, after) = call(
        "POST",
        format!("{budgets}/reset"),
        &admin_of_a,
        Some(json!({"period": "daily"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(after[0]["spent_micros"], 0);
    assert_eq!(
        after[1]["spent_micros"],
        charged.cost_micros + more.cost_micros
    );
    // Remove: gone, and a second removal is a 404.
    let (status, after) = call(
        "DELETE",
        format!("{budgets}/monthly?cog=ask"),
        &admin_of_a,
        None,
    )
    .await;
    assert_eq!(
        (status, after.as_array().unwrap().len()),
        (StatusCode::OK, 1)
    );
    assert_eq!(
        call(
            "DELETE",
            format!("{budgets}/monthly?cog=ask"),
            &admin_of_a,
            None
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
    // Bad input says what is wrong.
    for body in [
        json!({"period": "weekly", "limit_micros": 1}),
        json!({"period": "daily", "limit_micros": u64::MAX}),
        json!({"cog": "../etc", "period": "daily", "limit_micros": 1}),
        json!({"limit_micros": 1}),
    ] {
        let (status, error) = call("PUT", budgets.clone(), &admin_of_a, Some(body.clone())).await;
        assert!(
            status == StatusCode::BAD_REQUEST || status == StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {status} {error}"
        );
    }
}
