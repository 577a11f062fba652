//! One server's language-model spend (the last 30 days, by cog) and its
//! budgets: its admins set, reset and remove them; everyone with access
//! reads them. Money is shown in dollars, kept in micro-dollars.

use baseline_api_types::llm::{BudgetChange, BudgetView, UsageReport};
use web_sys::{HtmlInputElement, HtmlSelectElement};
use yew::prelude::*;

use crate::components::{Failed, Toast, use_toaster};
use crate::operators::{dollars, usage_table};
use crate::{Tab, api, tabs};

#[derive(Properties, PartialEq)]
pub struct SpendProps {
    pub id: String,
}

type Loaded = Result<(UsageReport, Vec<BudgetView>), String>;

/// A change to make: the method, the path under the server's budgets, the body.
type Change = (&'static str, String, Option<BudgetChange>);

#[function_component(SpendPage)]
pub fn spend_page(props: &SpendProps) -> Html {
    let loaded = use_state(|| None::<Loaded>);
    let generation = use_state(|| 0u32);
    let toaster = use_toaster();
    let base = format!("/api/v1/guilds/{}/llm/budgets", api::segment(&props.id));
    {
        let (loaded, id, base) = (loaded.clone(), props.id.clone(), base.clone());
        use_effect_with((props.id.clone(), *generation), move |_| {
            wasm_bindgen_futures::spawn_local(async move {
                let usage = api::get::<UsageReport>(&format!(
                    "/api/v1/llm/usage/by-guild/{}?group=cog",
                    api::segment(&id)
                ))
                .await;
                let budgets = api::get::<Vec<BudgetView>>(&base).await;
                loaded.set(Some(match (usage, budgets) {
                    (Ok(usage), Ok(budgets)) => Ok((usage, budgets)),
                    (Err(f), _) | (_, Err(f)) => Err(f.to_string()),
                }));
            });
        });
    }
    let change = {
        let (generation, toaster, base) = (generation.clone(), toaster.clone(), base.clone());
        Callback::from(move |(method, path, body): Change| {
            let (generation, toaster, url) =
                (generation.clone(), toaster.clone(), format!("{base}{path}"));
            wasm_bindgen_futures::spawn_local(async move {
                let done = match (method, &body) {
                    ("PUT", Some(body)) => api::put::<_, serde_json::Value>(&url, body)
                        .await
                        .map(|_| ()),
                    ("POST", Some(body)) => api::post(&url, body).await,
                    _ => api::delete(&url).await,
                };
                match done {
                    Ok(()) => toaster.show(Toast::info("Budgets saved.")),
                    Err(failure) => toaster.show(Toast::error(failure.to_string())),
                }
                generation.set(*generation + 1);
            });
        })
    };
    let (period, cog, limit) = (use_node_ref(), use_node_ref(), use_node_ref());
    let onsubmit = {
        let (change, period, cog, limit) =
            (change.clone(), period.clone(), cog.clone(), limit.clone());
        Callback::from(move |event: SubmitEvent| {
            event.prevent_default();
            let period = period
                .cast::<HtmlSelectElement>()
                .map(|s| s.value())
                .unwrap_or_default();
            let cog = cog
                .cast::<HtmlInputElement>()
                .map(|i| i.value().trim().to_string())
                .unwrap_or_default();
            let dollars = limit
                .cast::<HtmlInputElement>()
                .map(|i| i.value_as_number())
                .unwrap_or(f64::NAN);
            let body = BudgetChange {
                cog: (!cog.is_empty()).then_some(cog),
                period,
                limit_micros: if dollars.is_finite() && dollars >= 0.0 {
                    (dollars * 1e6).round() as u64
                } else {
                    0
                },
            };
            change.emit(("PUT", String::new(), Some(body)));
        })
    };
    let retry = {
        let generation = generation.clone();
        Callback::from(move |()| generation.set(*generation + 1))
    };
    let body = match &*loaded {
        None => html! { <div class="skeleton" aria-busy="true">{ "\u{a0}" }</div> },
        Some(Err(why)) => html! { <Failed message={why.clone()} on_retry={retry} /> },
        Some(Ok((usage, budgets))) => html! {
            <>
                <dl class="op-figures" aria-label="spend">
                    <div><dt>{ "Spent, 30 days" }</dt><dd>{ dollars(usage.total.cost_micros) }</dd></div>
                    <div><dt>{ "Calls" }</dt><dd>{ usage.total.calls }</dd></div>
                    <div><dt>{ "Failed" }</dt><dd>{ usage.total.errors }</dd></div>
                </dl>
                { usage_table("By cog", "Cog", usage) }
                <section class="op-card" aria-label="budgets">
                    <h2>{ "Budgets" }</h2>
                    if budgets.is_empty() {
                        <p class="muted">{ "No budget: language models may spend without a limit here (the bot's own cap aside)." }</p>
                    } else {
                        <table class="cogs">
                            <thead><tr><th>{ "For" }</th><th>{ "Period" }</th><th>{ "Spent" }</th><th>{ "Held" }</th><th>{ "Limit" }</th><th></th></tr></thead>
                            <tbody>{ for budgets.iter().map(|b| {
                                let query = b.cog.as_ref().map(|c| format!("?cog={c}")).unwrap_or_default();
                                let reset = {
                                    let (change, body) = (change.clone(), BudgetChange { cog: b.cog.clone(), period: b.period.clone(), limit_micros: 0 });
                                    Callback::from(move |_: MouseEvent| change.emit(("POST", "/reset".into(), Some(body.clone()))))
                                };
                                let remove = {
                                    let (change, path) = (change.clone(), format!("/{}{query}", b.period));
                                    Callback::from(move |_: MouseEvent| change.emit(("DELETE", path.clone(), None)))
                                };
                                let who = b.cog.clone().unwrap_or_else(|| "the whole server".into());
                                html! {
                                    <tr key={format!("{who}/{}", b.period)}>
                                        <td>{ &who }</td>
                                        <td>{ format!("{} ({})", b.period, b.window) }</td>
                                        <td>{ dollars(b.spent_micros) }</td>
                                        <td>{ dollars(b.reserved_micros) }</td>
                                        <td>{ dollars(b.limit_micros) }</td>
                                        <td>
                                            <button type="button" class="button" onclick={reset} aria-label={format!("Reset {who} {}", b.period)}>{ "Reset" }</button>
                                            <button type="button" class="button" onclick={remove} aria-label={format!("Remove {who} {}", b.period)}>{ "Remove" }</button>
                                        </td>
                                    </tr>
                                }
                            }) }</tbody>
                        </table>
                    }
                    <form class="budget-form" {onsubmit} aria-label="set a budget">
                        <label for="budget-period">{ "Period" }</label>
                        <select id="budget-period" ref={period}>
                            <option value="daily" selected=true>{ "daily" }</option>
                            <option value="monthly">{ "monthly" }</option>
                        </select>
                        <label for="budget-cog">{ "Cog (empty: the whole server)" }</label>
                        <input id="budget-cog" ref={cog} placeholder="ask" />
                        <label for="budget-limit">{ "Limit ($)" }</label>
                        <input id="budget-limit" ref={limit} type="number" min="0" step="0.01" required=true />
                        <button type="submit" class="button primary">{ "Set budget" }</button>
                    </form>
                </section>
            </>
        },
    };
    html! {
        <>
            { tabs(&props.id, Tab::Spend) }
            <h1>{ "Language-model spend" }</h1>
            <p class="muted">{ "What cogs spent on language models in this server over the last 30 days (UTC), and the budgets that stop them: a call that would pass one is refused before it is made." }</p>
            <div class="op-cards">{ body }</div>
        </>
    }
}
