//! The Baseline dashboard: a Yew app compiled to wasm and served by the
//! host on the API's port (`just dashboard` builds it; docs/dashboard.md).
//! It speaks only to `/api/v1` with the session cookie, reading the
//! responses with the types the host writes them with
//! (`baseline-api-types`).

mod access;
mod api;
mod guild;
mod settings;

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
                let here = matches!(&current, Some(Route::Guild { id } | Route::Access { id } | Route::Settings { id, .. }) if *id == guild.id);
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
            </nav>
            <section class="content">
                <header class="topbar">
                    <span class="user">{ &props.me.username }
                        if props.me.developer { <span class="tier admin">{ "developer" }</span> }
                    </span>
                    <button class="button" onclick={sign_out}>{ "Sign out" }</button>
                </header>
                <ContextProvider<Guilds> context={known}>
                    <Switch<Route> render={page} />
                </ContextProvider<Guilds>>
            </section>
        </div>
    }
}

/// The tabs of a server's pages.
pub fn tabs(id: &str, access: bool) -> Html {
    html! {
        <nav class="tabs" aria-label="Server pages">
            <Link<Route> to={Route::Guild { id: id.to_string() }} classes={classes!((!access).then_some("current"))}>{ "Cogs" }</Link<Route>>
            <Link<Route> to={Route::Access { id: id.to_string() }} classes={classes!(access.then_some("current"))}>{ "Access" }</Link<Route>>
        </nav>
    }
}

fn page(route: Route) -> Html {
    match route {
        Route::Servers => html! { <p class="muted">{ "Pick a server on the left." }</p> },
        Route::Guild { id } => html! { <guild::GuildPage {id} /> },
        Route::Access { id } => html! { <access::AccessPage {id} /> },
        Route::Settings { id, cog } => html! { <settings::SettingsPage {id} {cog} /> },
        Route::NotFound => html! { <p class="muted">{ "There is no such page." }</p> },
    }
}

fn main() {
    yew::Renderer::<App>::new().render();
}
