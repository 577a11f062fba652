//! The bot's own pages, for its developer team: cogs (state, last error,
//! counters and latency, the capabilities each asks for with its reason and
//! whether it was granted, reload), shards (state, latency graphs from the
//! monitor's history, transitions, guild → shard lookup, refreshed every
//! five seconds) and LLM spend (by day, cog and model, with the prices).

use baseline_api_types::llm::UsageReport;
use baseline_api_types::operators::{
    CogStatus, GuildShardView, ModelPrice, ShardRecord, ShardsView,
};
use wasm_bindgen::JsCast as _;
use wasm_bindgen::closure::Closure;
use yew::prelude::*;

use crate::api;
use crate::components::{Toast, use_toaster};
use crate::view::chart;

/// How often the shard page refreshes, in milliseconds.
const REFRESH_MS: i32 = 5_000;

fn micros(us: u64) -> String {
    match us {
        0..1_000 => format!("{us} µs"),
        1_000..1_000_000 => format!("{:.1} ms", us as f64 / 1_000.0),
        _ => format!("{:.2} s", us as f64 / 1_000_000.0),
    }
}

/// The cogs this host runs.
#[function_component(CogsPage)]
pub fn cogs_page() -> Html {
    let cogs = use_state(|| None::<Result<Vec<CogStatus>, String>>);
    let generation = use_state(|| 0u32);
    let toaster = use_toaster();
    {
        let cogs = cogs.clone();
        use_effect_with(*generation, move |_| {
            wasm_bindgen_futures::spawn_local(async move {
                let found = api::get::<Vec<CogStatus>>("/api/v1/cogs").await;
                cogs.set(Some(found.map_err(|f| f.to_string())));
            });
        });
    }
    let reload = {
        let (generation, toaster) = (generation.clone(), toaster.clone());
        Callback::from(move |name: String| {
            let (generation, toaster) = (generation.clone(), toaster.clone());
            wasm_bindgen_futures::spawn_local(async move {
                let path = format!("/api/v1/cogs/{}/reload", api::segment(&name));
                match api::post_for::<_, serde_json::Value>(&path, &serde_json::json!({})).await {
                    Ok(answer) => toaster.show(Toast::info(format!(
                        "{name} {} reloaded.",
                        answer["version"].as_str().unwrap_or("")
                    ))),
                    Err(failure) => toaster.show(Toast::error(format!("{name}: {failure}"))),
                }
                generation.set(*generation + 1);
            });
        })
    };
    let body = match &*cogs {
        None => html! { <div class="skeleton" aria-busy="true">{ "\u{a0}" }</div> },
        Some(Err(why)) => html! { <p class="error" role="alert">{ why }</p> },
        Some(Ok(list)) if list.is_empty() => {
            html! { <p class="muted">{ "No cog is loaded. Drop a .wasm file into the cogs folder." }</p> }
        }
        Some(Ok(list)) => {
            // What needs the operator first: refused files, then cogs
            // whose last reload failed, then the rest (each in the host's
            // order).
            let mut ordered: Vec<&CogStatus> = list.iter().collect();
            ordered.sort_by_key(|cog| match cog.state.as_str() {
                "failed" => 0,
                "loaded-with-error" => 1,
                _ => 2,
            });
            ordered
                .into_iter()
                .map(|cog| cog_card(cog, &reload))
                .collect::<Html>()
        }
    };
    html! {
        <>
            <h1>{ "Cogs" }</h1>
            <p class="muted">{ "Every cog file this process loaded, with what it asked for. Reasons are the cog's own words; grants are the operator's (baseline.toml)." }</p>
            <div class="op-cards">{ body }</div>
        </>
    }
}

fn cog_card(cog: &CogStatus, reload: &Callback<String>) -> Html {
    let name = cog.name.clone().unwrap_or_else(|| cog.file.clone());
    let onclick = {
        let (reload, name) = (reload.clone(), name.clone());
        Callback::from(move |_: MouseEvent| reload.emit(name.clone()))
    };
    let state_class = match cog.state.as_str() {
        "loaded" => "ok",
        "loaded-with-error" => "warn",
        _ => "bad",
    };
    html! {
        <article class="op-card" key={cog.file.clone()} aria-label={format!("cog {name}")}>
            <header>
                <h2>{ &name }{ " " }<span class="muted">{ cog.version.clone().unwrap_or_default() }</span></h2>
                <span class={classes!("state", state_class)}>{ &cog.state }</span>
                if cog.name.is_some() {
                    <button type="button" class="button" {onclick} aria-label={format!("Reload {name}")}>{ "Reload" }</button>
                }
            </header>
            <p class="muted file">{ &cog.file }
                if let Some(wit) = &cog.wit_version { { format!(" · WIT {wit}") } }
                if let Some(declared) = &cog.declared_name { { format!(" · suggests the name {declared}") } }
            </p>
            if let Some(error) = &cog.last_error { <pre class="v-code error">{ error }</pre> }
            if let Some(m) = &cog.metrics {
                <dl class="op-figures">
                    <div><dt>{ "Calls" }</dt><dd>{ m.invocations }</dd></div>
                    <div><dt>{ "Answered" }</dt><dd>{ m.ok }</dd></div>
                    <div><dt>{ "Cog errors" }</dt><dd>{ m.cog_errors }</dd></div>
                    <div><dt>{ "Ended by the host" }</dt><dd>{ m.failures.values().sum::<u64>() }
                        if !m.failures.is_empty() {
                            <span class="muted">{ format!(" ({})", m.failures.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ")) }</span>
                        }</dd></div>
                    if m.invocations > 0 {
                        <div><dt>{ "p50 / p99" }</dt><dd>{ format!("{} / {}", micros(m.p50_us), micros(m.p99_us)) }</dd></div>
                    }
                </dl>
            }
            if !cog.capabilities.is_empty() {
                <table class="cogs capabilities">
                    <thead><tr><th>{ "Capability" }</th><th>{ "The cog's reason" }</th><th>{ "Granted" }</th></tr></thead>
                    <tbody>{ for cog.capabilities.iter().map(|c| html! {
                        <tr key={c.name.clone()}>
                            <td><code>{ &c.name }</code></td>
                            <td>{ &c.reason }</td>
                            <td class={classes!(if c.granted { "ok" } else { "bad" })}>{ if c.granted { "yes" } else { "no" } }</td>
                        </tr>
                    }) }</tbody>
                </table>
            }
            if let Some(ui) = &cog.ui_module { <p class="muted">{ format!("UI module: {ui}") }</p> }
        </article>
    }
}

/// Every shard, refreshed every few seconds, and a guild → shard lookup.
#[function_component(ShardsPage)]
pub fn shards_page() -> Html {
    let shards = use_state(|| None::<Result<ShardsView, String>>);
    {
        let shards = shards.clone();
        use_effect_with((), move |_| {
            let load = move || {
                let shards = shards.clone();
                wasm_bindgen_futures::spawn_local(async move {
                    let found = api::get::<ShardsView>("/api/v1/shards").await;
                    shards.set(Some(found.map_err(|f| f.to_string())));
                });
            };
            load();
            let tick = Closure::<dyn FnMut()>::new(load);
            let window = web_sys::window();
            let handle = window.as_ref().and_then(|w| {
                w.set_interval_with_callback_and_timeout_and_arguments_0(
                    tick.as_ref().unchecked_ref(),
                    REFRESH_MS,
                )
                .ok()
            });
            move || {
                if let (Some(window), Some(handle)) = (window, handle) {
                    window.clear_interval_with_handle(handle);
                }
                drop(tick);
            }
        });
    }
    let now = js_sys::Date::now() as i64;
    let body = match &*shards {
        None => html! { <div class="skeleton" aria-busy="true">{ "\u{a0}" }</div> },
        Some(Err(why)) => html! { <p class="error" role="alert">{ why }</p> },
        Some(Ok(view)) => html! {
            <>
                <p>{ format!("{} shards; {} reporting.", view.total, view.shards.len()) }</p>
                if !view.missing.is_empty() {
                    <p class="error" role="alert">{ format!("No process has reported shards {} lately.", view.missing.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")) }</p>
                }
                <div class="op-cards">{ for view.shards.iter().map(|s| shard_card(s, now)) }</div>
            </>
        },
    };
    html! {
        <>
            <h1>{ "Shards" }</h1>
            <p class="muted">{ "Every shard of the bot, from every process, as the shard monitor last saw it; refreshed every 5 seconds." }</p>
            <GuildLookup />
            { body }
        </>
    }
}

fn shard_card(shard: &ShardRecord, now: i64) -> Html {
    let state_class = match shard.state.as_str() {
        "connected" => "ok",
        "connecting" | "resuming" => "warn",
        _ => "bad",
    };
    let labels: Vec<String> = shard
        .latency_history
        .iter()
        .map(|s| {
            let ago = (now - s.at_ms).max(0) / 1000;
            format!("-{ago}s")
        })
        .collect();
    let values: Vec<f64> = shard.latency_history.iter().map(|s| s.latency_ms).collect();
    html! {
        <article class="op-card" key={shard.id} aria-label={format!("shard {}", shard.id)}>
            <header>
                <h2>{ format!("Shard {} of {}", shard.id, shard.total) }</h2>
                <span class={classes!("state", state_class)}>{ &shard.state }</span>
            </header>
            <dl class="op-figures">
                <div><dt>{ "Latency" }</dt><dd>{ shard.latency_ms.map(|l| format!("{l:.0} ms")).unwrap_or_else(|| "–".into()) }</dd></div>
                <div><dt>{ "Guilds" }</dt><dd>{ shard.guilds }</dd></div>
                <div><dt>{ "Process" }</dt><dd><code>{ &shard.process }</code></dd></div>
                <div><dt>{ "Last seen" }</dt><dd>{ format!("{} s ago", ((now - shard.last_seen_ms).max(0)) / 1000) }</dd></div>
            </dl>
            if values.is_empty() {
                <p class="muted">{ "No latency measured yet." }</p>
            } else {
                { chart("Heartbeat latency (ms)", true, &labels, &values) }
            }
            if !shard.transitions.is_empty() {
                <details>
                    <summary>{ format!("{} state changes", shard.transitions.len()) }</summary>
                    <ul>{ for shard.transitions.iter().rev().map(|t| html! {
                        <li>{ format!("{} s ago: {} → {}", ((now - t.at_ms).max(0)) / 1000, t.from, t.to) }</li>
                    }) }</ul>
                </details>
            }
        </article>
    }
}

/// Which shard serves a guild.
#[function_component(GuildLookup)]
fn guild_lookup() -> Html {
    let input = use_node_ref();
    let found = use_state(|| None::<Result<GuildShardView, String>>);
    let onsubmit = {
        let (input, found) = (input.clone(), found.clone());
        Callback::from(move |event: SubmitEvent| {
            event.prevent_default();
            let id = input
                .cast::<web_sys::HtmlInputElement>()
                .map(|i| i.value().trim().to_string())
                .unwrap_or_default();
            let found = found.clone();
            wasm_bindgen_futures::spawn_local(async move {
                let answer = api::get::<GuildShardView>(&format!(
                    "/api/v1/shards/guilds/{}",
                    api::segment(&id)
                ))
                .await;
                found.set(Some(answer.map_err(|f| f.to_string())));
            });
        })
    };
    html! {
        <form class="grant lookup" {onsubmit}>
            <label for="guild-lookup">{ "Which shard serves guild" }</label>
            <input id="guild-lookup" ref={input} inputmode="numeric" placeholder="guild id" />
            <button type="submit" class="button">{ "Look up" }</button>
            { match &*found {
                None => Html::default(),
                Some(Ok(view)) => html! {
                    <span class="lookup-answer" role="status">{ format!("Guild {} is on shard {} of {}{}", view.guild_id, view.shard_id, view.total,
                        match &view.shard { Some(s) => format!(" ({}, {})", s.state, s.process), None => ", which is not reporting".into() }) }</span>
                },
                Some(Err(why)) => html! { <span class="error" role="alert">{ why }</span> },
            } }
        </form>
    }
}

/// `$1.234567` from micro-dollars.
pub(crate) fn dollars(micros: u64) -> String {
    format!("${}.{:06}", micros / 1_000_000, micros % 1_000_000)
}

/// A table of usage groups: key, calls, errors, tokens, cost.
pub(crate) fn usage_table(title: &str, what: &str, report: &UsageReport) -> Html {
    html! {
        <section class="op-card" aria-label={title.to_string()}>
            <h2>{ title }</h2>
            if report.groups.is_empty() {
                <p class="muted">{ "No calls in this range." }</p>
            } else {
                <table class="cogs">
                    <thead><tr><th>{ what }</th><th>{ "Calls" }</th><th>{ "Errors" }</th><th>{ "Tokens in / cached / out" }</th><th>{ "Cost" }</th></tr></thead>
                    <tbody>{ for report.groups.iter().map(|g| html! {
                        <tr key={g.key.clone()}>
                            <td><code>{ &g.key }</code></td>
                            <td>{ g.totals.calls }</td>
                            <td>{ g.totals.errors }</td>
                            <td>{ format!("{} / {} / {}", g.totals.input_tokens, g.totals.cached_tokens, g.totals.output_tokens) }</td>
                            <td>{ dollars(g.totals.cost_micros) }</td>
                        </tr>
                    }) }</tbody>
                </table>
            }
        </section>
    }
}

/// LLM spend over the last 30 days: by day (a chart), by cog, by model,
/// and the price of every model.
#[function_component(LlmPage)]
pub fn llm_page() -> Html {
    type Loaded = Result<(Vec<UsageReport>, Option<Vec<ModelPrice>>), String>;
    let loaded = use_state(|| None::<Loaded>);
    {
        let loaded = loaded.clone();
        use_effect_with((), move |_| {
            wasm_bindgen_futures::spawn_local(async move {
                let mut reports = Vec::new();
                for group in ["day", "cog", "model"] {
                    match api::get::<UsageReport>(&format!(
                        "/api/v1/llm/usage/summary?group={group}"
                    ))
                    .await
                    {
                        Ok(report) => reports.push(report),
                        Err(failure) => return loaded.set(Some(Err(failure.to_string()))),
                    }
                }
                // No gateway (no database): the books may still hold calls.
                let prices = api::get::<Vec<ModelPrice>>("/api/v1/llm/models").await.ok();
                loaded.set(Some(Ok((reports, prices))));
            });
        });
    }
    let body = match &*loaded {
        None => html! { <div class="skeleton" aria-busy="true">{ "\u{a0}" }</div> },
        Some(Err(why)) => html! { <p class="error" role="alert">{ why }</p> },
        Some(Ok((reports, prices))) => {
            let days = &reports[0];
            let total = &days.total;
            let labels: Vec<String> = days.groups.iter().map(|g| g.key[5..].to_string()).collect();
            let values: Vec<f64> = days
                .groups
                .iter()
                .map(|g| g.totals.cost_micros as f64 / 1e6)
                .collect();
            html! {
                <>
                    <dl class="op-figures" aria-label="totals">
                        <div><dt>{ "Spent" }</dt><dd>{ dollars(total.cost_micros) }</dd></div>
                        <div><dt>{ "Calls" }</dt><dd>{ total.calls }</dd></div>
                        <div><dt>{ "Failed" }</dt><dd>{ total.errors }</dd></div>
                        <div><dt>{ "From the cache" }</dt><dd>{ total.cache_hits }</dd></div>
                        <div><dt>{ "Fallbacks" }</dt><dd>{ total.fallbacks }</dd></div>
                        <div><dt>{ "Mean latency" }</dt><dd>{ format!("{} ms", total.mean_latency_ms) }</dd></div>
                    </dl>
                    if total.calls == 0 {
                        <section class="card empty">
                            <h2>{ "No language-model calls yet" }</h2>
                            <p>{ "When a cog granted llm calls a model, its spend shows here by day, cog and model." }</p>
                        </section>
                    } else {
                        { chart("Spend per day ($)", false, &labels, &values) }
                    }
                    { usage_table("By cog", "Cog", &reports[1]) }
                    { usage_table("By model", "Model", &reports[2]) }
                    if let Some(prices) = prices {
                    <section class="op-card" aria-label="prices">
                        <h2>{ "Prices (per million tokens; per image; per minute)" }</h2>
                        <table class="cogs">
                            <thead><tr><th>{ "Model" }</th><th>{ "In" }</th><th>{ "Cached" }</th><th>{ "Out" }</th><th>{ "Image" }</th><th>{ "Minute" }</th><th>{ "Since" }</th></tr></thead>
                            <tbody>{ for prices.iter().filter(|p| p.routed).map(|p| html! {
                                <tr key={format!("{}/{}/{}/{}", p.provider, p.model, p.effective_from, p.min_input_tokens)}>
                                    <td><code>{ format!("{}/{}", p.provider, p.model) }</code>
                                        if p.min_input_tokens > 0 { { format!(" ≥ {} tokens in", p.min_input_tokens) } }</td>
                                    <td>{ dollars(p.input) }</td>
                                    <td>{ dollars(p.cache_read) }</td>
                                    <td>{ dollars(p.output) }</td>
                                    <td>{ dollars(p.image) }</td>
                                    <td>{ dollars(p.audio_minute) }</td>
                                    <td>{ &p.effective_from }</td>
                                </tr>
                            }) }</tbody>
                        </table>
                    </section>
                    }
                </>
            }
        }
    };
    html! {
        <>
            <h1>{ "LLM spend" }</h1>
            <p class="muted">{ "The last 30 days (UTC), every server. Each server's admins set its budgets in its Spend tab." }</p>
            <div class="op-cards">{ body }</div>
        </>
    }
}
