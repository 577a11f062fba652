//! A page drawn by a cog's UI module: the module runs in a worker of its
//! own (`static/ui-worker.js`) with only the bridge, and this side draws
//! what it emits, forwards clicks and form submissions to it, runs the
//! actions it asks for against the host (which checks the admin's rights
//! again), and stops it when it is late (a watchdog: 2 s to start, 250 ms
//! per event) or its memory grows past 64 MiB. docs/ui-modules.md.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use baseline_api_types::Tier;
use baseline_api_types::pages::{ActOutcome, UiActionCall, UiContext, UiEvent, View};
use js_sys::{Object, Reflect};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast as _, JsValue};
use yew::prelude::*;

use crate::api;
use crate::cog_page::base;
use crate::components::{Confirm, Toast, Toaster, use_toaster};
use crate::view::{Action, ViewDraw};

/// Time the module has to start (compile, instantiate, `ui_init`).
const START_MS: i32 = 2_000;
/// Time the module has for each event.
const EVENT_MS: i32 = 250;
/// Memory the module may grow to.
const MAX_MEMORY: f64 = 64.0 * 1024.0 * 1024.0;

#[derive(Properties, PartialEq)]
pub struct UiPageProps {
    pub id: String,
    pub cog: String,
    pub route: String,
    /// Where the module is served (its hash in the path).
    pub url: String,
    pub can_act: bool,
    pub tier: Tier,
}

#[derive(Clone, PartialEq)]
enum Status {
    Loading,
    Running(Option<Rc<View>>),
    Stopped(String),
}

/// The worker's message handler, kept alive with the worker.
type OnMessage = Closure<dyn FnMut(web_sys::MessageEvent)>;

/// One running module.
struct Runner {
    worker: web_sys::Worker,
    status: UseStateHandle<Status>,
    toaster: Toaster,
    /// Messages posted and not yet answered with `idle`.
    outstanding: Cell<u32>,
    timer: Cell<Option<i32>>,
    stopped: Cell<bool>,
    /// The page's action URL base.
    base: String,
    watchdog: RefCell<Option<Closure<dyn FnMut()>>>,
    onmessage: RefCell<Option<OnMessage>>,
}

fn field(object: &JsValue, name: &str) -> JsValue {
    Reflect::get(object, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED)
}

fn message(kind: &str, fields: &[(&str, JsValue)]) -> Object {
    let object = Object::new();
    let _ = Reflect::set(&object, &"type".into(), &kind.into());
    for (name, value) in fields {
        let _ = Reflect::set(&object, &(*name).into(), value);
    }
    object
}

impl Runner {
    fn arm(&self, ms: i32) {
        if self.timer.get().is_some() || self.stopped.get() {
            return;
        }
        let (Some(window), Some(watchdog)) = (
            web_sys::window(),
            self.watchdog.borrow().as_ref().map(|c| c.as_ref().clone()),
        ) else {
            return;
        };
        if let Ok(id) = window
            .set_timeout_with_callback_and_timeout_and_arguments_0(watchdog.unchecked_ref(), ms)
        {
            self.timer.set(Some(id));
        }
    }

    fn disarm(&self) {
        if let (Some(id), Some(window)) = (self.timer.take(), web_sys::window()) {
            window.clear_timeout_with_handle(id);
        }
    }

    /// Stop the module for good, saying why.
    fn stop(&self, why: String) {
        if self.stopped.replace(true) {
            return;
        }
        self.worker.terminate();
        self.disarm();
        self.status.set(Status::Stopped(why));
    }

    /// Send the module an event.
    fn send(&self, event: &UiEvent) {
        if self.stopped.get() {
            return;
        }
        let json = serde_json::to_string(event).unwrap_or_default();
        let result = matches!(event, UiEvent::ActionResult { .. });
        let posted = message("event", &[("json", json.into()), ("result", result.into())]);
        if self.worker.post_message(&posted).is_ok() {
            self.outstanding.set(self.outstanding.get() + 1);
            self.arm(EVENT_MS);
        }
    }

    fn idle(&self, memory: f64) {
        self.outstanding
            .set(self.outstanding.get().saturating_sub(1));
        self.disarm();
        if memory > MAX_MEMORY {
            self.stop(format!(
                "The page's module grew to {} MiB of memory; at most 64 MiB are allowed.",
                (memory / 1048576.0).round()
            ));
        } else if self.outstanding.get() > 0 {
            self.arm(EVENT_MS);
        }
    }

    fn view(&self, json: &str) {
        match serde_json::from_str::<View>(json) {
            Ok(view) => match view.check() {
                Ok(()) => self.status.set(Status::Running(Some(Rc::new(view)))),
                Err(problem) => self.stop(format!(
                    "The page's module drew something the dashboard cannot show: {problem}."
                )),
            },
            Err(error) => self.stop(format!(
                "The page's module sent a view that is not one: {error}."
            )),
        }
    }

    /// Run the action the module asked for, and give it the answer.
    fn action(self: &Rc<Self>, request: u32, json: &str) {
        let call = serde_json::from_str::<UiActionCall>(json);
        let runner = self.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let result = match call {
                Ok(call) if call.payload.is_object() => {
                    crate::cog_page::act(&runner.base, &call.action, call.payload)
                        .await
                        .map_err(|f| f.to_string())
                }
                Ok(_) => Err("an action's payload is a JSON object".into()),
                Err(error) => Err(format!("the action call is not one: {error}")),
            };
            if let Ok(ActOutcome {
                notice: Some(notice),
                ..
            }) = &result
            {
                runner.toaster.show(Toast::info(notice.clone()));
            }
            runner.send(&UiEvent::ActionResult { request, result });
        });
    }

    fn receive(self: &Rc<Self>, data: JsValue) {
        if self.stopped.get() {
            return;
        }
        match field(&data, "type").as_string().as_deref() {
            Some("view") => self.view(&field(&data, "json").as_string().unwrap_or_default()),
            Some("action") => {
                let id = field(&data, "id").as_f64().unwrap_or(0.0) as u32;
                self.action(id, &field(&data, "json").as_string().unwrap_or_default());
            }
            Some("idle") => self.idle(field(&data, "memory").as_f64().unwrap_or(0.0)),
            Some("error") => self.stop(format!(
                "The page's module was stopped: {}.",
                field(&data, "message").as_string().unwrap_or_default()
            )),
            _ => {}
        }
    }
}

/// Start the module at `url` in a new worker.
async fn start(
    url: String,
    context: UiContext,
    can_act: bool,
    base: String,
    status: UseStateHandle<Status>,
    toaster: Toaster,
) -> Result<Rc<Runner>, String> {
    let bytes = api::get_bytes(&url).await.map_err(|f| f.to_string())?;
    let worker = web_sys::Worker::new("/ui-worker.js")
        .map_err(|e| format!("the browser cannot start a worker: {e:?}"))?;
    let runner = Rc::new(Runner {
        worker,
        status,
        toaster,
        outstanding: Cell::new(0),
        timer: Cell::new(None),
        stopped: Cell::new(false),
        base,
        watchdog: RefCell::new(None),
        onmessage: RefCell::new(None),
    });
    let weak: Weak<Runner> = Rc::downgrade(&runner);
    let watchdog = Closure::<dyn FnMut()>::new({
        let weak = weak.clone();
        move || {
            if let Some(runner) = weak.upgrade() {
                runner.timer.set(None);
                runner
                    .stop("The page's module did not answer in time and was stopped.".to_string());
            }
        }
    });
    let onmessage =
        Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |event: web_sys::MessageEvent| {
            if let Some(runner) = weak.upgrade() {
                runner.receive(event.data());
            }
        });
    runner
        .worker
        .set_onmessage(Some(onmessage.as_ref().unchecked_ref()));
    *runner.watchdog.borrow_mut() = Some(watchdog);
    *runner.onmessage.borrow_mut() = Some(onmessage);
    let context = js_sys::JSON::parse(&serde_json::to_string(&context).unwrap_or_default())
        .unwrap_or(JsValue::NULL);
    let start = message(
        "start",
        &[
            ("bytes", bytes.clone().into()),
            ("context", context),
            ("canAct", can_act.into()),
        ],
    );
    runner
        .worker
        .post_message_with_transfer(&start, &js_sys::Array::of1(&bytes))
        .map_err(|e| format!("cannot start the module: {e:?}"))?;
    runner.outstanding.set(1);
    runner.arm(START_MS);
    Ok(runner)
}

/// A page drawn by the cog's UI module.
#[function_component(UiModulePage)]
pub fn ui_module_page(props: &UiPageProps) -> Html {
    let status = use_state(|| Status::Loading);
    let runner = use_mut_ref(|| None::<Rc<Runner>>);
    let generation = use_state(|| 0u32);
    let asking = use_state(|| None::<Action>);
    let toaster = use_toaster();
    {
        let (status, runner, toaster) = (status.clone(), runner.clone(), toaster.clone());
        let locale = web_sys::window()
            .map(|w| w.navigator().language().unwrap_or_default())
            .unwrap_or_default();
        let context = UiContext {
            guild_id: props.id.clone(),
            cog: props.cog.clone(),
            route: props.route.clone(),
            tier: props.tier,
            locale,
        };
        let (url, can_act) = (props.url.clone(), props.can_act);
        let base = base(&props.id, &props.cog, &props.route);
        // The tier is in the deps: the server list (where it comes from) may
        // arrive after the page opened, and the module starts again with it.
        use_effect_with((url.clone(), *generation, props.tier), move |_| {
            status.set(Status::Loading);
            let slot = runner.clone();
            wasm_bindgen_futures::spawn_local(async move {
                match start(url, context, can_act, base, status.clone(), toaster).await {
                    Ok(started) => *slot.borrow_mut() = Some(started),
                    Err(why) => status.set(Status::Stopped(why)),
                }
            });
            move || {
                if let Some(runner) = runner.borrow_mut().take() {
                    runner.stopped.set(true);
                    runner.worker.terminate();
                    runner.disarm();
                    runner.worker.set_onmessage(None);
                }
            }
        });
    }
    let deliver = {
        let runner = runner.clone();
        Callback::from(move |action: Action| {
            if let Some(runner) = runner.borrow().as_ref() {
                runner.send(&match action.payload {
                    Some(values) => UiEvent::Submit {
                        action: action.name,
                        values,
                    },
                    None => UiEvent::Click {
                        action: action.name,
                    },
                });
            }
        })
    };
    let on_action = {
        let (asking, deliver) = (asking.clone(), deliver.clone());
        Callback::from(move |action: Action| match action.danger {
            true => asking.set(Some(action)),
            false => deliver.emit(action),
        })
    };
    let dialog = match &*asking {
        Some(action) => {
            let (yes, no, deliver, action) = (
                asking.clone(),
                asking.clone(),
                deliver.clone(),
                action.clone(),
            );
            html! {
                <Confirm question={format!("{}?", action.label)} confirm_label={action.label.clone()}
                    on_confirm={Callback::from(move |_| { yes.set(None); deliver.emit(action.clone()); })}
                    on_cancel={Callback::from(move |_| no.set(None))} />
            }
        }
        None => Html::default(),
    };
    match &*status {
        Status::Loading | Status::Running(None) => {
            html! { <div class="skeleton" aria-busy="true">{ "\u{a0}" }</div> }
        }
        Status::Running(Some(view)) => html! {
            <>
                // The module's own controls (picking, tabs) work for every
                // viewer; the host refuses actions a viewer may not run.
                <ViewDraw view={view.clone()} {on_action} can_act={true} busy={false} />
                { dialog }
            </>
        },
        Status::Stopped(why) => {
            let reload = {
                let generation = generation.clone();
                Callback::from(move |_: MouseEvent| generation.set(*generation + 1))
            };
            html! {
                <section class="card error" role="alert">
                    <h2>{ "This page stopped" }</h2>
                    <p class="ui-stopped">{ why }</p>
                    <button type="button" class="button" onclick={reload}>{ "Reload the page" }</button>
                </section>
            }
        }
    }
}
