//! One server's access: who may do what (tiers), granting with a member
//! search, revoking after a confirmation, and the history of every change.
//! Admins change it; everyone with access may read it.

use baseline_api_types::{AccessChangeView, AuthorizedView, GrantRequest, MemberView, Tier};
use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::components::{Confirm, Failed, Toast, use_toaster};
use crate::{Guilds, api, tabs};

#[derive(Properties, PartialEq)]
pub struct AccessProps {
    pub id: String,
}

/// The users and the history, loaded together.
#[derive(Clone, PartialEq)]
struct Loaded {
    users: Vec<AuthorizedView>,
    history: Vec<AccessChangeView>,
}

async fn load(id: &str) -> Result<Loaded, String> {
    let users = api::get::<Vec<AuthorizedView>>(&format!(
        "/api/v1/guilds/{}/authorized-users",
        api::segment(id)
    ))
    .await
    .map_err(|f| f.to_string())?;
    let history = api::get::<Vec<AccessChangeView>>(&format!(
        "/api/v1/guilds/{}/authorized-users/history?limit=50",
        api::segment(id)
    ))
    .await
    .map_err(|f| f.to_string())?;
    Ok(Loaded { users, history })
}

/// A time in ms since the epoch, in the browser's locale and time zone.
fn when(ms: i64) -> String {
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms as f64));
    String::from(date.to_locale_string("default", &wasm_bindgen::JsValue::UNDEFINED))
}

#[function_component(AccessPage)]
pub fn access_page(props: &AccessProps) -> Html {
    let guilds = use_context::<Guilds>().unwrap_or_default();
    let guild = guilds.iter().find(|g| g.id == props.id).cloned();
    let admin = guild.as_ref().is_some_and(|g| g.tier == Tier::Admin);
    let loaded = use_state(|| None::<Result<Loaded, String>>);
    let notice = use_toaster();
    let asking = use_state(|| None::<(String, String)>);
    let found = use_state(Vec::<MemberView>::new);
    let query = use_node_ref();
    let reload = {
        let (loaded, id) = (loaded.clone(), props.id.clone());
        Callback::from(move |_: ()| {
            let (loaded, id) = (loaded.clone(), id.clone());
            wasm_bindgen_futures::spawn_local(async move { loaded.set(Some(load(&id).await)) });
        })
    };
    {
        let reload = reload.clone();
        use_effect_with(props.id.clone(), move |_| reload.emit(()));
    }
    let search = {
        let (found, notice, query, id) = (
            found.clone(),
            notice.clone(),
            query.clone(),
            props.id.clone(),
        );
        Callback::from(move |event: SubmitEvent| {
            event.prevent_default();
            let text = query
                .cast::<HtmlInputElement>()
                .map(|i| i.value())
                .unwrap_or_default();
            let (found, notice, id) = (found.clone(), notice.clone(), id.clone());
            wasm_bindgen_futures::spawn_local(async move {
                let query = String::from(js_sys::encode_uri_component(&text));
                let path = format!("/api/v1/guilds/{}/members?query={query}", api::segment(&id));
                match api::get::<Vec<MemberView>>(&path).await {
                    Ok(members) => {
                        if members.is_empty() {
                            notice.show(Toast::info(format!(
                                "No member's name starts with “{text}”."
                            )));
                        }
                        found.set(members);
                    }
                    Err(failure) => notice.show(Toast::error(failure.to_string())),
                }
            });
        })
    };
    let grant = {
        let (notice, reload, id) = (notice.clone(), reload.clone(), props.id.clone());
        Callback::from(move |(user_id, name, tier): (String, String, Tier)| {
            let (notice, reload, id) = (notice.clone(), reload.clone(), id.clone());
            wasm_bindgen_futures::spawn_local(async move {
                let path = format!("/api/v1/guilds/{}/authorized-users", api::segment(&id));
                match api::post(
                    &path,
                    &GrantRequest {
                        user_id: user_id.clone(),
                        tier,
                    },
                )
                .await
                {
                    Ok(()) => notice.show(Toast::info(format!("{name} is now {}.", tier.name()))),
                    Err(failure) => notice.show(Toast::error(failure.to_string())),
                }
                reload.emit(());
            });
        })
    };
    let revoke = {
        let (notice, reload, id) = (notice.clone(), reload.clone(), props.id.clone());
        Callback::from(move |(user_id, name): (String, String)| {
            let (notice, reload, id) = (notice.clone(), reload.clone(), id.clone());
            wasm_bindgen_futures::spawn_local(async move {
                let path = format!(
                    "/api/v1/guilds/{}/authorized-users/{}",
                    api::segment(&id),
                    api::segment(&user_id.to_string())
                );
                match api::delete(&path).await {
                    Ok(()) => notice.show(Toast::info(format!("{name}'s access was removed."))),
                    Err(failure) => notice.show(Toast::error(failure.to_string())),
                }
                reload.emit(());
            });
        })
    };
    let title = guild
        .as_ref()
        .map(|g| g.name.clone())
        .unwrap_or_else(|| props.id.clone());
    let body = match &*loaded {
        None => html! { <div class="skeleton" aria-busy="true">{ "\u{a0}" }</div> },
        Some(Err(why)) => html! { <Failed message={why.clone()} on_retry={reload.clone()} /> },
        Some(Ok(loaded)) => html! {
            <>
            <table class="cogs access">
                <thead><tr><th>{ "User" }</th><th>{ "Tier" }</th><th>{ "Granted by" }</th><th></th></tr></thead>
                <tbody>
                { for loaded.users.iter().map(|user| {
                    let asking = asking.clone();
                    let who = (user.user_id.clone(), user.username.clone().unwrap_or_else(|| user.user_id.clone()));
                    html! {
                        <tr key={user.user_id.clone()}>
                            <td title={user.user_id.clone()}>{ user.username.clone().unwrap_or_else(|| user.user_id.clone()) }</td>
                            <td><span class={classes!("tier", user.tier.name())}>{ if user.owner { "owner" } else { user.tier.name() } }</span></td>
                            <td class="muted">{ user.granted_by.clone().unwrap_or_else(|| "Discord".into()) }</td>
                            <td>if admin && !user.owner {
                                <button class="button danger" aria-label={format!("Remove {}", user.user_id)}
                                    onclick={Callback::from(move |_| asking.set(Some(who.clone())))}>{ "Remove" }</button>
                            }</td>
                        </tr>
                    }
                }) }
                </tbody>
            </table>
            <h2>{ "History" }</h2>
            <table class="cogs history">
                <thead><tr><th>{ "When" }</th><th>{ "Who" }</th><th>{ "Whom" }</th><th>{ "Before" }</th><th>{ "After" }</th></tr></thead>
                <tbody>
                { for loaded.history.iter().map(|change| html! {
                    <tr>
                        <td>{ when(change.at_ms) }</td>
                        <td>{ change.actor_name.clone().or_else(|| change.actor_id.clone()).unwrap_or_else(|| "Discord".into()) }</td>
                        <td title={change.user_id.clone()}>{ change.user_name.clone().unwrap_or_else(|| change.user_id.clone()) }</td>
                        <td>{ change.before.clone().unwrap_or_else(|| "—".into()) }</td>
                        <td>{ change.after.clone().unwrap_or_else(|| "—".into()) }</td>
                    </tr>
                }) }
                </tbody>
            </table>
            </>
        },
    };
    let grant_form = admin.then(|| html! {
        <section class="grant">
            <h2>{ "Give access" }</h2>
            <form onsubmit={search}>
                <label for="member-query">{ "Member name starts with" }</label>
                <input id="member-query" ref={query} type="search" required=true maxlength="100" />
                <button class="button" type="submit">{ "Find" }</button>
            </form>
            <ul class="members">
            { for found.iter().map(|member| {
                let name = member.nick.clone().or_else(|| member.global_name.clone()).unwrap_or_else(|| member.username.clone());
                html! {
                    <li key={member.user_id.clone()}>
                        <span>{ name }<span class="muted">{ format!(" @{} · {}", member.username, member.user_id) }</span></span>
                        { for [Tier::Viewer, Tier::Editor, Tier::Admin].into_iter().map(|tier| {
                            let (grant, user_id, name) = (grant.clone(), member.user_id.clone(), member.username.clone());
                            html! {
                                <button class="button" aria-label={format!("Make {} {}", member.username, tier.name())}
                                    onclick={Callback::from(move |_| grant.emit((user_id.clone(), name.clone(), tier)))}>{ tier.name() }</button>
                            }
                        }) }
                    </li>
                }
            }) }
            </ul>
        </section>
    });
    html! {
        <>
            <h1>{ title }</h1>
            { tabs(&props.id, crate::Tab::Access) }
            if let Some((user_id, name)) = (*asking).clone() {
                <Confirm question={format!("Remove {name}'s access?")}
                    detail="They lose the dashboard for this server at once; Discord's own \"Manage server\" still counts."
                    confirm_label="Remove access"
                    on_confirm={{ let (asking, revoke) = (asking.clone(), revoke.clone());
                                  Callback::from(move |_| { asking.set(None); revoke.emit((user_id.clone(), name.clone())); }) }}
                    on_cancel={{ let asking = asking.clone(); Callback::from(move |_| asking.set(None)) }} />
            }
            { for grant_form }
            { body }
        </>
    }
}
