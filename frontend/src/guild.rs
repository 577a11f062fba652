//! One server's page: its cogs, each with its switch (for editors and
//! admins; read-only for viewers).

use baseline_api_types::{GuildCogView, Switch, Tier};
use yew::prelude::*;

use yew_router::prelude::Link;

use crate::components::{Failed, Toast, use_toaster};
use crate::{Guilds, Route, api, tabs};

#[derive(Properties, PartialEq)]
pub struct GuildProps {
    pub id: String,
}

#[function_component(GuildPage)]
pub fn guild_page(props: &GuildProps) -> Html {
    let guilds = use_context::<Guilds>().unwrap_or_default();
    let guild = guilds.iter().find(|g| g.id == props.id).cloned();
    let cogs = use_state(|| None::<Result<Vec<GuildCogView>, String>>);
    let attempt = use_state(|| 0u32);
    let notice = use_toaster();
    {
        let cogs = cogs.clone();
        use_effect_with((props.id.clone(), *attempt), move |(id, _)| {
            cogs.set(None);
            let id = id.clone();
            wasm_bindgen_futures::spawn_local(async move {
                let found = api::get::<Vec<GuildCogView>>(&format!(
                    "/api/v1/guilds/{}/cogs",
                    api::segment(&id)
                ))
                .await;
                cogs.set(Some(found.map_err(|f| f.to_string())));
            });
        });
    }
    let can_switch = guild.as_ref().is_some_and(|g| g.tier >= Tier::Editor);
    let toggle = {
        let (cogs, notice, id) = (cogs.clone(), notice.clone(), props.id.clone());
        Callback::from(move |(name, enabled): (String, bool)| {
            let (cogs, notice, id) = (cogs.clone(), notice.clone(), id.clone());
            wasm_bindgen_futures::spawn_local(async move {
                let path = format!(
                    "/api/v1/guilds/{}/cogs/{}/enabled",
                    api::segment(&id),
                    api::segment(&name)
                );
                match api::put::<_, GuildCogView>(&path, &Switch { enabled }).await {
                    Ok(updated) => {
                        if let Some(Ok(list)) = &*cogs {
                            let list = list
                                .iter()
                                .map(|c| {
                                    if c.name == updated.name {
                                        updated.clone()
                                    } else {
                                        c.clone()
                                    }
                                })
                                .collect();
                            cogs.set(Some(Ok(list)));
                        }
                        let state = if updated.enabled { "on" } else { "off" };
                        notice.show(Toast::info(format!(
                            "{} is {state} in this server.",
                            updated.name
                        )));
                    }
                    Err(failure) => notice.show(Toast::error(failure.to_string())),
                }
            });
        })
    };
    let title = guild
        .as_ref()
        .map(|g| g.name.clone())
        .unwrap_or_else(|| props.id.clone());
    let body = match &*cogs {
        None => html! { <div class="skeleton" aria-busy="true">{ "\u{a0}" }</div> },
        Some(Err(why)) => {
            let attempt = attempt.clone();
            html! { <Failed message={why.clone()} on_retry={Callback::from(move |_| attempt.set(*attempt + 1))} /> }
        }
        Some(Ok(list)) => html! {
            <table class="cogs">
                <thead><tr><th>{ "Cog" }</th><th>{ "Commands" }</th><th>{ "On" }</th></tr></thead>
                <tbody>
                { for list.iter().map(|cog| {
                    let (name, on) = (cog.name.clone(), cog.enabled);
                    let toggle = toggle.clone();
                    let onchange = Callback::from(move |_: Event| toggle.emit((name.clone(), !on)));
                    html! {
                        <tr key={cog.name.clone()}>
                            <td><strong>{ &cog.name }</strong>{ " " }<span class="muted">{ &cog.version }</span>
                                <div class="muted">{ &cog.description }</div>
                                if cog.settings {
                                    <Link<Route> to={Route::Settings { id: props.id.clone(), cog: cog.name.clone() }}>{ "Settings" }</Link<Route>>
                                }</td>
                            <td>{ cog.commands.join(" ") }</td>
                            <td><input type="checkbox" role="switch" checked={cog.enabled}
                                disabled={!can_switch} aria-label={format!("{} on in this server", cog.name)}
                                {onchange} /></td>
                        </tr>
                    }
                }) }
                </tbody>
            </table>
        },
    };
    html! {
        <>
            <h1>{ title }</h1>
            { tabs(&props.id, crate::Tab::Cogs) }
            if !can_switch { <p class="muted">{ "You can look; an editor or admin can change things here." }</p> }
            { body }
        </>
    }
}
