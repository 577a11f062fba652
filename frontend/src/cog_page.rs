//! A cog's page in a server: found among the server's pages, then drawn
//! from the cog's `render` (here) or by the cog's UI module in the browser
//! ([`crate::ui_module`]). Buttons and forms run the cog's `act`; a
//! dangerous button asks first.

use std::rc::Rc;

use baseline_api_types::pages::{ActOutcome, ActRequest, PageDrawing, PageLink, PageView};
use yew::prelude::*;

use crate::components::{Confirm, Toast, use_toaster};
use crate::view::{Action, ViewDraw};
use crate::{Guilds, api, ui_module};

#[derive(Properties, PartialEq, Clone)]
pub struct PageProps {
    pub id: String,
    pub cog: String,
    pub route: String,
}

/// Where a page's API lives (each part percent-encoded: the guild id comes
/// from the address bar, the cog and route from the host's list).
pub fn base(id: &str, cog: &str, route: &str) -> String {
    let (id, cog, route) = (api::segment(id), api::segment(cog), api::segment(route));
    format!("/api/v1/guilds/{id}/cogs/{cog}/pages/{route}")
}

/// Run `action` of the page at `base` (its fixed URL: the name goes in the
/// body, checked first, so no name a cog or its module gives can reach
/// another route).
pub async fn act(
    base: &str,
    action: &str,
    payload: serde_json::Value,
) -> Result<ActOutcome, api::Failure> {
    baseline_api_types::pages::check_action_name(action)
        .map_err(|why| api::Failure::Refused(400, format!("The page named no action: {why}")))?;
    let request = ActRequest {
        action: action.to_string(),
        payload,
    };
    api::post_for::<_, ActOutcome>(&format!("{base}/act"), &request).await
}

/// The pages of a server's cogs, as the host lists them for the caller.
pub async fn pages_of(id: &str) -> Result<Vec<PageLink>, api::Failure> {
    api::get::<Vec<PageLink>>(&format!("/api/v1/guilds/{}/pages", api::segment(id))).await
}

/// A cog's page.
#[function_component(CogPage)]
pub fn cog_page(props: &PageProps) -> Html {
    let link = use_state(|| None::<Result<PageLink, String>>);
    {
        let link = link.clone();
        use_effect_with(props.clone(), move |props| {
            link.set(None);
            let props = props.clone();
            wasm_bindgen_futures::spawn_local(async move {
                let found = pages_of(&props.id)
                    .await
                    .map_err(|f| f.to_string())
                    .and_then(|pages| {
                        pages
                            .into_iter()
                            .find(|p| p.cog == props.cog && p.route == props.route)
                            .ok_or_else(|| {
                                "This server has no such page, or you may not open it.".to_string()
                            })
                    });
                link.set(Some(found));
            });
        });
    }
    let guilds = use_context::<Guilds>().unwrap_or_default();
    let guild = guilds.iter().find(|g| g.id == props.id).cloned();
    match &*link {
        None => html! { <div class="skeleton" aria-busy="true">{ "\u{a0}" }</div> },
        Some(Err(why)) => html! { <p class="error" role="alert">{ why }</p> },
        Some(Ok(page)) => {
            let body = match &page.drawing {
                PageDrawing::Rendered => html! {
                    <RenderedPage id={props.id.clone()} cog={props.cog.clone()} route={props.route.clone()} />
                },
                PageDrawing::UiModule { url, .. } => html! {
                    <ui_module::UiModulePage id={props.id.clone()} cog={props.cog.clone()} route={props.route.clone()}
                        url={url.clone()} can_act={page.can_act}
                        tier={guild.as_ref().map(|g| g.tier).unwrap_or(baseline_api_types::Tier::Viewer)} />
                },
                PageDrawing::Refused { reason } => html! {
                    <section class="card error" role="alert"><h2>{ "This page cannot be shown" }</h2><p>{ reason }</p></section>
                },
            };
            html! {
                <>
                    <h1>{ &page.title }</h1>
                    <p class="muted">{ format!("A page of the {} cog", page.cog) }
                        if matches!(page.drawing, PageDrawing::UiModule { .. }) { { ", drawn by its UI module" } }</p>
                    { body }
                </>
            }
        }
    }
}

/// A page the host renders by calling the cog.
#[function_component(RenderedPage)]
fn rendered_page(props: &PageProps) -> Html {
    let page = use_state(|| None::<Result<Rc<PageView>, String>>);
    let generation = use_state(|| 0u32);
    let busy = use_state(|| false);
    let asking = use_state(|| None::<Action>);
    let toaster = use_toaster();
    let url = base(&props.id, &props.cog, &props.route);
    {
        let page = page.clone();
        let url = url.clone();
        use_effect_with((url, *generation), move |(url, _)| {
            let url = url.clone();
            wasm_bindgen_futures::spawn_local(async move {
                let found = api::get::<PageView>(&url).await;
                page.set(Some(found.map(Rc::new).map_err(|f| f.to_string())));
            });
        });
    }
    let run = {
        let (page, generation, busy, toaster, url) = (
            page.clone(),
            generation.clone(),
            busy.clone(),
            toaster.clone(),
            url.clone(),
        );
        Callback::from(move |action: Action| {
            let (page, generation, busy, toaster) = (
                page.clone(),
                generation.clone(),
                busy.clone(),
                toaster.clone(),
            );
            let url = url.clone();
            busy.set(true);
            wasm_bindgen_futures::spawn_local(async move {
                let payload = action.payload.unwrap_or_else(|| serde_json::json!({}));
                match act(&url, &action.name, payload).await {
                    Ok(outcome) => {
                        if let Some(notice) = outcome.notice {
                            toaster.show(Toast::info(notice));
                        }
                        match (outcome.view, &*page) {
                            (Some(view), Some(Ok(current))) => {
                                let mut next = (**current).clone();
                                next.view = view;
                                page.set(Some(Ok(Rc::new(next))));
                            }
                            _ => generation.set(*generation + 1),
                        }
                    }
                    Err(failure) => toaster.show(Toast::error(failure.to_string())),
                }
                busy.set(false);
            });
        })
    };
    let on_action = {
        let (asking, run) = (asking.clone(), run.clone());
        Callback::from(move |action: Action| match action.danger {
            true => asking.set(Some(action)),
            false => run.emit(action),
        })
    };
    let dialog = match &*asking {
        Some(action) => {
            let (asking_yes, asking_no, run, action) =
                (asking.clone(), asking.clone(), run.clone(), action.clone());
            html! {
                <Confirm question={format!("{}?", action.label)} detail="This cannot be undone."
                    confirm_label={action.label.clone()}
                    on_confirm={Callback::from(move |_| { asking_yes.set(None); run.emit(action.clone()); })}
                    on_cancel={Callback::from(move |_| asking_no.set(None))} />
            }
        }
        None => Html::default(),
    };
    match &*page {
        None => html! { <div class="skeleton" aria-busy="true">{ "\u{a0}" }</div> },
        Some(Err(why)) => {
            let retry = {
                let generation = generation.clone();
                Callback::from(move |_: MouseEvent| generation.set(*generation + 1))
            };
            html! {
                <section class="card error" role="alert">
                    <h2>{ "The cog could not draw this page" }</h2>
                    <p>{ why }</p>
                    <button type="button" class="button" onclick={retry}>{ "Retry" }</button>
                </section>
            }
        }
        Some(Ok(page)) => html! {
            <>
                if !page.can_act { <p class="muted">{ "You can look; an editor or admin can use this page's buttons and forms." }</p> }
                <ViewDraw view={Rc::new(page.view.clone())} {on_action} can_act={page.can_act} busy={*busy} />
                { dialog }
            </>
        },
    }
}
