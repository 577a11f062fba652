//! The Baseline dashboard: a Yew app compiled to wasm and served by the
//! host on the API's port (`just dashboard` builds it; docs/dashboard.md).
//! It speaks only to `/api/v1` with the session cookie, reading the
//! responses with the types the host writes them with
//! (`baseline-api-types`).

mod access;
mod api;
mod cog_page;
mod components;
mod discord_message;
mod guild;
mod operators;
mod playground;
mod settings;
mod spend;
mod ui_module;
mod view;

use std::rc::Rc;

use baseline_api_types::{GuildView, Me};
use yew::prelude::*;
use yew_router::prelude::*;

/// The dashboard's pages.
#[derive(Clone, Routable, PartialEq)]
pub enum Route {
    /// Pick a server.
    #[at("/")]
    Servers,
    /// One server: its cogs.
    #[at("/guilds/:id")]
    Guild { id: String },
    /// One server: a cog's settings.
    #[at("/guilds/:id/cogs/:cog/settings")]
    Settings { id: String, cog: String },
    /// One server: who has access.
    #[at("/guilds/:id/access")]
    Access { id: String },
    /// One server: what language models cost it, and its budgets.
    #[at("/guilds/:id/spend")]
    Spend { id: String },
    /// One server: a page a cog contributes.
    #[at("/guilds/:id/cogs/:cog/pages/:route")]
    CogPage {
        id: String,
        cog: String,
        route: String,
    },
    /// The bot's cogs (developer team).
    #[at("/bot/cogs")]
    BotCogs,
    /// The bot's shards (developer team).
    #[at("/bot/shards")]
    BotShards,
    /// LLM spend (developer team).
    #[at("/bot/llm")]
    BotLlm,
    /// Run commands as a simulated user (developer team).
    #[at("/bot/playground")]
    Playground,
    /// Anything else.
    #[not_found]
    #[at("/404")]
    NotFound,
}

/// The servers the signed-in user may see, shared with every page.
pub type Guilds = Rc<Vec<GuildView>>;

/// What the first request found out about the visitor.
#[derive(Clone, PartialEq)]
enum Visitor {
    Loading,
    SignedOut,
    SignedIn(Me),
    Failed(String),
}

#[function_component(App)]
fn app() -> Html {
    let visitor = use_state(|| Visitor::Loading);
    {
        let visitor = visitor.clone();
        use_effect_with((), move |_| {
            wasm_bindgen_futures::spawn_local(async move {
                visitor.set(match api::get::<Me>("/api/v1/auth/me").await {
                    Ok(me) => Visitor::SignedIn(me),
                    Err(api::Failure::SignedOut) => Visitor::SignedOut,
                    Err(failure) => Visitor::Failed(failure.to_string()),
                });
            });
        });
    }
    let body = match &*visitor {
        Visitor::Loading => html! { <p class="muted" aria-busy="true">{ "Loading…" }</p> },
        Visitor::SignedOut => html! {
            <section class="card center">
                <h1>{ "Baseline" }</h1>
                <p>{ "Sign in with Discord to manage your servers." }</p>
                <a class="button primary" href="/api/v1/auth/login?return_to=/">{ "Sign in with Discord" }</a>
            </section>
        },
        Visitor::SignedIn(me) => html! {
            <BrowserRouter><Shell me={me.clone()} /></BrowserRouter>
        },
        Visitor::Failed(why) => html! {
            <section class="card error" role="alert">
                <h2>{ "The dashboard could not reach the bot" }</h2>
                <p>{ why }</p>
                <a class="button" href="/">{ "Retry" }</a>
            </section>
        },
    };
    html! { <main class="app">{ body }</main> }
}

#[derive(Properties, PartialEq)]
struct ShellProps {
    me: Me,
}

/// Signed in: the sidebar with the server switcher, the user menu, and
/// the page of the current route.
#[function_component(Shell)]
fn shell(props: &ShellProps) -> Html {
    let guilds = use_state(|| None::<Result<Guilds, String>>);
    {
        let guilds = guilds.clone();
        use_effect_with((), move |_| {
            wasm_bindgen_futures::spawn_local(async move {
                let found = api::get::<Vec<GuildView>>("/api/v1/guilds").await;
                guilds.set(Some(found.map(Rc::new).map_err(|f| f.to_string())));
            });
        });
    }
    let current = use_route::<Route>();
    let current_guild = match &current {
        Some(
            Route::Guild { id }
            | Route::Access { id }
            | Route::Spend { id }
            | Route::Settings { id, .. }
            | Route::CogPage { id, .. },
        ) => Some(id.clone()),
        _ => None,
    };
    let pages = use_state(Vec::<baseline_api_types::pages::PageLink>::new);
    {
        let pages = pages.clone();
        use_effect_with(current_guild.clone(), move |guild| {
            pages.set(Vec::new());
            if let Some(id) = guild.clone() {
                wasm_bindgen_futures::spawn_local(async move {
                    if let Ok(found) = cog_page::pages_of(&id).await {
                        pages.set(found);
                    }
                });
            }
        });
    }
    let list = match &*guilds {
        None => html! { <li class="skeleton" aria-busy="true">{ "\u{a0}" }</li> },
        Some(Err(why)) => html! { <li class="error" role="alert">{ why }</li> },
        Some(Ok(list)) if list.is_empty() => html! {
            <li class="muted">{ "No server you manage yet. Ask a server's admin for access." }</li>
        },
        Some(Ok(list)) => list
            .iter()
            .map(|guild| {
                let badge = html! { <span class={classes!("tier", guild.tier.name())}>{ guild.tier.name() }</span> };
                let here = current_guild.as_deref() == Some(guild.id.as_str());
                match (&guild.invite_url, guild.bot_present) {
                    (_, true) => html! {
                        <li key={guild.id.clone()} class={classes!(here.then_some("current"))}>
                            <Link<Route> to={Route::Guild { id: guild.id.clone() }}>{ &guild.name }</Link<Route>>
                            { badge }
                        </li>
                    },
                    (Some(invite), false) => html! {
                        <li key={guild.id.clone()} class="absent">{ &guild.name }
                            <a class="invite" href={invite.clone()}>{ "Invite the bot" }</a></li>
                    },
                    (None, false) => html! { <li key={guild.id.clone()} class="absent">{ &guild.name }</li> },
                }
            })
            .collect::<Html>(),
    };
    let sign_out = Callback::from(|_: MouseEvent| {
        wasm_bindgen_futures::spawn_local(async {
            let _ = api::post_empty("/api/v1/auth/logout").await;
            if let Some(window) = web_sys::window() {
                let _ = window.location().set_href("/");
            }
        });
    });
    let known: Guilds = match &*guilds {
        Some(Ok(list)) => list.clone(),
        _ => Rc::new(Vec::new()),
    };
    html! {
        <div class="layout">
            <nav class="sidebar" aria-label="Servers">
                <h2>{ "Servers" }</h2>
                <ul class="guilds">{ list }</ul>
                if props.me.developer {
                    <h2>{ "Bot" }</h2>
                    <ul class="guilds bot">
                    { for [(Route::BotCogs, "Cogs"), (Route::BotShards, "Shards"), (Route::BotLlm, "LLM spend"), (Route::Playground, "Playground")].into_iter().map(|(route, title)| {
                        let here = current.as_ref() == Some(&route);
                        html! { <li key={title} class={classes!(here.then_some("current"))}><Link<Route> to={route}>{ title }</Link<Route>></li> }
                    }) }
                    </ul>
                }
                if let Some(id) = &current_guild {
                    if pages.iter().any(|p| p.nav == "sidebar") {
                        <h2>{ "Pages" }</h2>
                        <ul class="guilds pages">
                        { for pages.iter().filter(|p| p.nav == "sidebar").map(|p| {
                            let here = matches!(&current, Some(Route::CogPage { cog, route, .. }) if *cog == p.cog && *route == p.route);
                            html! {
                                <li key={format!("{}/{}", p.cog, p.route)} class={classes!(here.then_some("current"))}>
                                    <Link<Route> to={Route::CogPage { id: id.clone(), cog: p.cog.clone(), route: p.route.clone() }}>{ &p.title }</Link<Route>>
                                    <span class="muted">{ &p.cog }</span>
                                </li>
                            }
                        }) }
                        </ul>
                    }
                }
            </nav>
            <section class="content">
                <header class="topbar">
                    <span class="user">{ &props.me.username }
                        if props.me.developer { <span class="tier admin">{ "developer" }</span> }
                    </span>
                    <button class="button" onclick={sign_out}>{ "Sign out" }</button>
                </header>
                <ContextProvider<Guilds> context={known}>
                    <components::Toasts>
                        <Switch<Route> render={page} />
                    </components::Toasts>
                </ContextProvider<Guilds>>
            </section>
        </div>
    }
}

/// A server's page, for its tabs.
#[derive(Clone, Copy, PartialEq)]
pub enum Tab {
    /// Its cogs (and their settings).
    Cogs,
    /// Who has access.
    Access,
    /// LLM spend and budgets.
    Spend,
}

/// The tabs of a server's pages.
pub fn tabs(id: &str, current: Tab) -> Html {
    let tab = |to: Route, tab: Tab, label: &str| {
        html! { <Link<Route> {to} classes={classes!((current == tab).then_some("current"))}>{ label }</Link<Route>> }
    };
    let id = id.to_string();
    html! {
        <nav class="tabs" aria-label="Server pages">
            { tab(Route::Guild { id: id.clone() }, Tab::Cogs, "Cogs") }
            { tab(Route::Access { id: id.clone() }, Tab::Access, "Access") }
            { tab(Route::Spend { id }, Tab::Spend, "Spend") }
        </nav>
    }
}

fn page(route: Route) -> Html {
    match route {
        Route::Servers => html! { <p class="muted">{ "Pick a server on the left." }</p> },
        Route::Guild { id } => html! { <guild::GuildPage {id} /> },
        Route::Access { id } => html! { <access::AccessPage {id} /> },
        Route::Spend { id } => html! { <spend::SpendPage {id} /> },
        Route::Settings { id, cog } => html! { <settings::SettingsPage {id} {cog} /> },
        Route::CogPage { id, cog, route } => html! { <cog_page::CogPage {id} {cog} {route} /> },
        Route::BotCogs => html! { <operators::CogsPage /> },
        Route::BotShards => html! { <operators::ShardsPage /> },
        Route::BotLlm => html! { <operators::LlmPage /> },
        Route::Playground => html! { <playground::PlaygroundPage /> },
        Route::NotFound => html! { <p class="muted">{ "There is no such page." }</p> },
    }
}

fn main() {
    yew::Renderer::<App>::new().render();
}
