//! Cog pages in the dashboard: the pages of the cogs on in a guild, a
//! page rendered by its cog (`pages.render`), an action run by it
//! (`pages.act`), and a cog's browser UI module.
//!
//! Who may do what: the route's tier is the least (viewer to look, editor to
//! act); the page's declared access raises it (`admin` pages need the admin
//! tier, `developer` pages the developer team), and a cog turned off in the
//! guild has no pages there. What the cog returns is checked before it is
//! sent: a view the dashboard cannot draw (an index out of range, a cycle,
//! too deep, too large) is refused with the reason, never passed on.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use baseline_api_types::Tier;
use baseline_api_types::pages::{
    ActOutcome, ActRequest, FieldKind, FormField, PageDrawing, PageLink, PageView, View, ViewNode,
};

use super::access::{GuildAccess, GuildEditor, GuildViewer};
use super::guild_cogs::enabled_in;
use super::{ApiError, ApiState};
use crate::capabilities::Scope;
use crate::runtime::{Answer, Call, LoadedCog};
use crate::wit::types::{self as wit, CogError, NavPlacement, Page, PageAccess, PageContext};

#[derive(serde::Deserialize)]
pub struct PagePath {
    #[allow(dead_code)]
    guild_id: String,
    cog: String,
    route: String,
}

#[derive(serde::Deserialize)]
pub struct UiPath {
    #[allow(dead_code)]
    guild_id: String,
    cog: String,
    sha256: String,
}

/// Most query parameters passed to a page.
const MAX_QUERY_PAIRS: usize = 32;

/// Whether a caller with `tier` (a developer or not) may open `page`.
fn may_open<const T: u8>(access: &GuildAccess<T>, page: &Page) -> bool {
    match page.access {
        PageAccess::Member => true,
        PageAccess::Admin => access.tier >= Tier::Admin,
        PageAccess::Developer => access.session.developer,
    }
}

/// Whether a caller may run `page`'s actions: editors on member pages, as
/// for settings.
fn may_act<const T: u8>(access: &GuildAccess<T>, page: &Page) -> bool {
    may_open(access, page) && access.tier >= Tier::Editor
}

/// The cog and its page, if the caller may open it here.
async fn open_page<const T: u8>(
    state: &ApiState,
    access: &GuildAccess<T>,
    cog: &str,
    route: &str,
) -> Result<(Arc<LoadedCog>, Page), ApiError> {
    let not_found = || ApiError::NotFound(format!("no page `{route}` of cog `{cog}` here"));
    let loaded = state.runtime.registry().get(cog).ok_or_else(not_found)?;
    let page = loaded
        .manifest
        .pages
        .iter()
        .find(|p| p.route == route)
        .cloned()
        .ok_or_else(not_found)?;
    if !enabled_in(state, access.guild_id, cog).await? {
        return Err(ApiError::NotFound(format!(
            "cog `{cog}` is turned off in this server"
        )));
    }
    if !may_open(access, &page) {
        return Err(ApiError::Forbidden(match page.access {
            PageAccess::Developer => "only the bot's developer team may open this page".into(),
            _ => "this page needs the admin tier".into(),
        }));
    }
    Ok((loaded, page))
}

fn nav_name(nav: NavPlacement) -> &'static str {
    match nav {
        NavPlacement::Sidebar => "sidebar",
        NavPlacement::CogSettings => "cog-settings",
        NavPlacement::Hidden => "hidden",
    }
}

fn drawing(guild: u64, cog: &LoadedCog, page: &Page) -> PageDrawing {
    if !page.ui_module {
        return PageDrawing::Rendered;
    }
    match &cog.ui {
        Some(Ok(module)) => PageDrawing::UiModule {
            url: format!(
                "/api/v1/guilds/{guild}/cogs/{}/ui/{}",
                cog.name(),
                module.sha256
            ),
            sha256: module.sha256.clone(),
        },
        Some(Err(reason)) => PageDrawing::Refused {
            reason: format!("the host refused this cog's UI module: {reason}"),
        },
        None => PageDrawing::Refused {
            reason: format!(
                "this page is drawn by a UI module, and the cog ships none ({}.ui.wasm beside {}.wasm)",
                cog.name(),
                cog.name()
            ),
        },
    }
}

/// The pages of the cogs on in this guild that the caller may open.
#[utoipa::path(get, path = "/api/v1/guilds/{guild_id}/pages", params(("guild_id" = String, Path)),
    extensions(("x-tier" = json!("viewer"))),
    responses((status = 200, body = [PageLink]), (status = 401), (status = 403)))]
pub async fn list(
    access: GuildViewer,
    State(state): State<ApiState>,
) -> Result<Json<Vec<PageLink>>, ApiError> {
    let mut links = Vec::new();
    for cog in state.runtime.registry().list() {
        if cog.manifest.pages.is_empty() || !enabled_in(&state, access.guild_id, cog.name()).await?
        {
            continue;
        }
        for page in cog.manifest.pages.iter().filter(|p| may_open(&access, p)) {
            links.push(PageLink {
                cog: cog.name().to_string(),
                route: page.route.clone(),
                title: page.title.clone(),
                nav: nav_name(page.nav).into(),
                drawing: drawing(access.guild_id, &cog, page),
                can_act: may_act(&access, page),
            });
        }
    }
    Ok(Json(links))
}

fn context<const T: u8>(
    access: &GuildAccess<T>,
    route: &str,
    query: Vec<(String, String)>,
) -> PageContext {
    PageContext {
        guild_id: access.guild_id,
        user_id: access.session.user_id,
        route: route.to_string(),
        query,
    }
}

fn scope<const T: u8>(access: &GuildAccess<T>, cog: &LoadedCog) -> Scope {
    Scope {
        cog: Arc::from(cog.name()),
        guild_id: Some(access.guild_id),
        user_id: Some(access.session.user_id),
        ..Default::default()
    }
}

/// Run `call` and turn every way it can fail into an answer for the admin.
async fn call(
    state: &ApiState,
    cog: &Arc<LoadedCog>,
    scope: Scope,
    call: Call,
) -> Result<Answer, ApiError> {
    state
        .runtime
        .invoke(cog, scope, call)
        .await
        .map_err(|failure| {
            ApiError::CogFailed(format!(
                "cog `{}` failed ({}); the operator's log has the details",
                failure.cog,
                failure.kind.name()
            ))
        })
}

fn cog_error(cog: &LoadedCog, error: CogError) -> ApiError {
    match error {
        CogError::User(message) => ApiError::CogRefused(message),
        CogError::Internal(detail) => {
            tracing::warn!(cog = %cog.name(), %detail, "a page call failed inside the cog");
            ApiError::CogFailed(format!(
                "cog `{}` failed; the operator's log has the details",
                cog.name()
            ))
        }
    }
}

/// A view from the cog, checked; the reason when it cannot be drawn.
fn checked(cog: &LoadedCog, view: wit::View) -> Result<View, ApiError> {
    let view = convert(view);
    view.check().map_err(|problem| {
        tracing::warn!(cog = %cog.name(), %problem, "a cog's page view was refused");
        ApiError::CogFailed(format!(
            "cog `{}` answered with a page that cannot be drawn: {problem}",
            cog.name()
        ))
    })?;
    Ok(view)
}

/// A page drawn by its cog.
#[utoipa::path(get, path = "/api/v1/guilds/{guild_id}/cogs/{cog}/pages/{route}",
    params(("guild_id" = String, Path), ("cog" = String, Path), ("route" = String, Path)),
    extensions(("x-tier" = json!("viewer"))),
    responses((status = 200, body = PageView), (status = 401), (status = 403), (status = 404),
        (status = 422, description = "the cog refused, in its words"),
        (status = 502, description = "the cog failed or its view cannot be drawn")))]
pub async fn render(
    access: GuildViewer,
    State(state): State<ApiState>,
    Path(path): Path<PagePath>,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Json<PageView>, ApiError> {
    let (cog, page) = open_page(&state, &access, &path.cog, &path.route).await?;
    if page.ui_module {
        return Err(ApiError::BadRequest(
            "this page is drawn by the cog's UI module in the browser, not rendered by the host"
                .into(),
        ));
    }
    if query.len() > MAX_QUERY_PAIRS {
        return Err(ApiError::BadRequest(format!(
            "at most {MAX_QUERY_PAIRS} query parameters"
        )));
    }
    let context = context(&access, &page.route, query);
    let answer = call(&state, &cog, scope(&access, &cog), Call::Render(context)).await?;
    let Answer::Render(result) = answer else {
        return Err(ApiError::Internal(
            "render answered as another export".into(),
        ));
    };
    let view = checked(&cog, result.map_err(|e| cog_error(&cog, e))?)?;
    Ok(Json(PageView {
        title: page.title.clone(),
        view,
        can_act: may_act(&access, &page),
    }))
}

/// Run an action of a page (a button, a form, or a UI module's call). The
/// action is named in the body: one URL per page, so no name can make the
/// request land on another route.
#[utoipa::path(post, path = "/api/v1/guilds/{guild_id}/cogs/{cog}/pages/{route}/act",
    params(("guild_id" = String, Path), ("cog" = String, Path), ("route" = String, Path)),
    request_body = ActRequest,
    extensions(("x-tier" = json!("editor"))),
    responses((status = 200, body = ActOutcome), (status = 401), (status = 403), (status = 404),
        (status = 422, description = "the cog refused, in its words"),
        (status = 502, description = "the cog failed or answered with something unusable")))]
pub async fn act(
    access: GuildEditor,
    State(state): State<ApiState>,
    Path(path): Path<PagePath>,
    request: Result<Json<ActRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<ActOutcome>, ApiError> {
    let Json(request) = request?;
    let (cog, page) = open_page(&state, &access, &path.cog, &path.route).await?;
    if !may_act(&access, &page) {
        return Err(ApiError::Forbidden(
            "this page's actions need the admin tier".into(),
        ));
    }
    baseline_api_types::pages::check_action_name(&request.action).map_err(ApiError::BadRequest)?;
    if !request.payload.is_object() {
        return Err(ApiError::BadRequest("the payload is a JSON object".into()));
    }
    tracing::info!(guild = access.guild_id, cog = %cog.name(), page = %page.route,
        action = %request.action, by = access.session.user_id, "page action");
    let context = context(&access, &page.route, Vec::new());
    let call_ = Call::Act(context, request.action, request.payload.to_string());
    let answer = call(&state, &cog, scope(&access, &cog), call_).await?;
    let Answer::Act(result) = answer else {
        return Err(ApiError::Internal("act answered as another export".into()));
    };
    let outcome = result.map_err(|e| cog_error(&cog, e))?;
    let view = outcome.view.map(|v| checked(&cog, v)).transpose()?;
    let data = outcome
        .data
        .map(|text| {
            serde_json::from_str(&text).map_err(|e| {
                ApiError::CogFailed(format!(
                    "cog `{}` answered with page data that is not JSON: {e}",
                    cog.name()
                ))
            })
        })
        .transpose()?;
    Ok(Json(ActOutcome {
        notice: outcome.notice,
        view,
        data,
    }))
}

/// A cog's UI module, by its hash (cached for good: a new module has a new URL).
#[utoipa::path(get, path = "/api/v1/guilds/{guild_id}/cogs/{cog}/ui/{sha256}",
    params(("guild_id" = String, Path), ("cog" = String, Path), ("sha256" = String, Path)),
    extensions(("x-tier" = json!("viewer"))),
    responses((status = 200, content_type = "application/wasm"), (status = 401), (status = 403), (status = 404)))]
pub async fn ui_module(
    access: GuildViewer,
    State(state): State<ApiState>,
    Path(path): Path<UiPath>,
) -> Result<impl IntoResponse, ApiError> {
    let not_found = || ApiError::NotFound(format!("cog `{}` has no such UI module", path.cog));
    let cog = state
        .runtime
        .registry()
        .get(&path.cog)
        .ok_or_else(not_found)?;
    if !enabled_in(&state, access.guild_id, cog.name()).await? {
        return Err(not_found());
    }
    // Only to someone who may open one of the pages it draws.
    if !cog
        .manifest
        .pages
        .iter()
        .any(|p| p.ui_module && may_open(&access, p))
    {
        return Err(not_found());
    }
    match &cog.ui {
        Some(Ok(module)) if module.sha256 == path.sha256 => Ok((
            [
                (header::CONTENT_TYPE, "application/wasm"),
                (
                    header::CACHE_CONTROL,
                    "private, max-age=31536000, immutable",
                ),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            axum::body::Bytes::from_owner(module.bytes.clone()),
        )),
        _ => Err(not_found()),
    }
}

/// The host's view of a WIT view (the shapes are the same; the API's
/// tags its nodes).
fn convert(view: wit::View) -> View {
    let nodes = view
        .nodes
        .into_iter()
        .map(|node| match node {
            wit::ViewNode::Column(children) => ViewNode::Column { children },
            wit::ViewNode::Row(children) => ViewNode::Row { children },
            wit::ViewNode::Heading(text) => ViewNode::Heading { text },
            wit::ViewNode::Text(text) => ViewNode::Text { text },
            wit::ViewNode::Code(text) => ViewNode::Code { text },
            wit::ViewNode::Table(t) => ViewNode::Table {
                columns: t.columns,
                rows: t.rows,
            },
            wit::ViewNode::Stat(s) => ViewNode::Stat {
                label: s.label,
                value: s.value,
            },
            wit::ViewNode::Chart(c) => ViewNode::Chart {
                title: c.title,
                line: c.line,
                labels: c.labels,
                values: c.values,
            },
            wit::ViewNode::Button(b) => ViewNode::Button {
                label: b.label,
                action: b.action,
                danger: b.danger,
            },
            wit::ViewNode::Form(f) => ViewNode::Form {
                action: f.action,
                submit_label: f.submit_label,
                fields: f
                    .fields
                    .into_iter()
                    .map(|field| FormField {
                        name: field.name,
                        label: field.label,
                        value: field.value,
                        kind: match field.kind {
                            wit::FieldKind::Text => FieldKind::Text,
                            wit::FieldKind::Textarea => FieldKind::Textarea,
                            wit::FieldKind::Number => FieldKind::Number,
                            wit::FieldKind::Checkbox => FieldKind::Checkbox,
                        },
                    })
                    .collect(),
            },
            wit::ViewNode::Divider => ViewNode::Divider,
        })
        .collect();
    View {
        root: view.root,
        nodes,
    }
}

pub fn router() -> axum::Router<ApiState> {
    axum::Router::new()
        .route("/guilds/{guild_id}/pages", get(list))
        .route("/guilds/{guild_id}/cogs/{cog}/pages/{route}", get(render))
        .route("/guilds/{guild_id}/cogs/{cog}/pages/{route}/act", post(act))
        .route("/guilds/{guild_id}/cogs/{cog}/ui/{sha256}", get(ui_module))
}
