//! The dashboard's own small design system: toasts (short notices that
//! go away by themselves, announced to screen readers) and a confirmation
//! dialog for destructive actions (focus on "Cancel", Escape cancels).

use std::rc::Rc;

use wasm_bindgen::JsCast as _;
use wasm_bindgen::closure::Closure;
use yew::prelude::*;

/// How long a toast stays, in milliseconds.
const TOAST_MS: i32 = 6_000;

/// A notice for the admin.
#[derive(Debug, Clone, PartialEq)]
pub struct Toast {
    /// What to say.
    pub text: String,
    /// A failure (drawn in red, announced assertively).
    pub error: bool,
}

impl Toast {
    /// A notice.
    pub fn info(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            error: false,
        }
    }
    /// A failure.
    pub fn error(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            error: true,
        }
    }
}

/// Pages push toasts through this context.
#[derive(Clone, PartialEq)]
pub struct Toaster(pub Callback<Toast>);

impl Toaster {
    /// Show `toast`.
    pub fn show(&self, toast: Toast) {
        self.0.emit(toast);
    }
}

/// The toaster of the current page (a no-op outside the shell).
#[hook]
pub fn use_toaster() -> Toaster {
    use_context::<Toaster>().unwrap_or_else(|| Toaster(Callback::noop()))
}

#[derive(Properties, PartialEq)]
pub struct ToastsProps {
    pub children: Html,
}

/// Provides a [`Toaster`] to `children` and draws the toasts.
#[function_component(Toasts)]
pub fn toasts(props: &ToastsProps) -> Html {
    let list = use_reducer(ToastList::default);
    let counter = use_mut_ref(|| 0u32);
    let push = {
        let list = list.clone();
        Callback::from(move |toast: Toast| {
            let id = {
                let mut counter = counter.borrow_mut();
                *counter += 1;
                *counter
            };
            list.dispatch(ToastChange::Add(id, toast));
            let list = list.clone();
            let expire = Closure::once_into_js(move || list.dispatch(ToastChange::Remove(id)));
            if let Some(window) = web_sys::window() {
                let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(
                    expire.unchecked_ref(),
                    TOAST_MS,
                );
            }
        })
    };
    let dismiss = |id: u32| {
        let list = list.clone();
        Callback::from(move |_: MouseEvent| list.dispatch(ToastChange::Remove(id)))
    };
    html! {
        <ContextProvider<Toaster> context={Toaster(push)}>
            { props.children.clone() }
            <div class="toasts" role="status" aria-live="polite">
                { for list.items.iter().map(|(id, toast)| html! {
                    <div key={*id} class={classes!("toast", toast.error.then_some("error"))}>
                        <span>{ &toast.text }</span>
                        <button type="button" class="close" aria-label="Dismiss" onclick={dismiss(*id)}>{ "×" }</button>
                    </div>
                }) }
            </div>
        </ContextProvider<Toaster>>
    }
}

#[derive(Default, PartialEq)]
struct ToastList {
    items: Vec<(u32, Toast)>,
}

enum ToastChange {
    Add(u32, Toast),
    Remove(u32),
}

impl Reducible for ToastList {
    type Action = ToastChange;

    fn reduce(self: Rc<Self>, action: ToastChange) -> Rc<Self> {
        let mut items = self.items.clone();
        match action {
            ToastChange::Add(id, toast) => {
                items.push((id, toast));
                // At most four at once: the oldest goes.
                if items.len() > 4 {
                    items.remove(0);
                }
            }
            ToastChange::Remove(id) => items.retain(|(i, _)| *i != id),
        }
        Rc::new(ToastList { items })
    }
}

#[derive(Properties, PartialEq)]
pub struct ConfirmProps {
    /// The question ("Reset counters?").
    pub question: String,
    /// What happens, in a sentence.
    #[prop_or_default]
    pub detail: String,
    /// Text of the confirming button.
    pub confirm_label: String,
    /// Confirmed.
    pub on_confirm: Callback<()>,
    /// Cancelled (button, Escape, or a click outside).
    pub on_cancel: Callback<()>,
}

/// A modal confirmation for a destructive action.
#[function_component(Confirm)]
pub fn confirm(props: &ConfirmProps) -> Html {
    let cancel_ref = use_node_ref();
    {
        let cancel_ref = cancel_ref.clone();
        use_effect_with((), move |_| {
            if let Some(button) = cancel_ref.cast::<web_sys::HtmlElement>() {
                let _ = button.focus();
            }
        });
    }
    let on_cancel = props.on_cancel.clone();
    let onkeydown = Callback::from(move |event: KeyboardEvent| {
        if event.key() == "Escape" {
            on_cancel.emit(());
        }
    });
    let cancel = props.on_cancel.reform(|_: MouseEvent| ());
    let backdrop = props.on_cancel.reform(|_: MouseEvent| ());
    let confirm = props.on_confirm.reform(|_: MouseEvent| ());
    let stop = Callback::from(|event: MouseEvent| event.stop_propagation());
    html! {
        <div class="backdrop" onclick={backdrop} {onkeydown}>
            <div class="dialog" role="alertdialog" aria-modal="true" aria-labelledby="confirm-question" onclick={stop}>
                <h2 id="confirm-question">{ &props.question }</h2>
                if !props.detail.is_empty() { <p>{ &props.detail }</p> }
                <div class="actions">
                    <button type="button" class="button" ref={cancel_ref} onclick={cancel}>{ "Cancel" }</button>
                    <button type="button" class="button danger" onclick={confirm}>{ &props.confirm_label }</button>
                </div>
            </div>
        </div>
    }
}

#[derive(Properties, PartialEq)]
pub struct FailedProps {
    /// What went wrong.
    pub message: String,
    /// Try again.
    pub on_retry: Callback<()>,
}

/// A part of a page that could not load: why, and a way to try again.
#[function_component(Failed)]
pub fn failed(props: &FailedProps) -> Html {
    let retry = props.on_retry.reform(|_: MouseEvent| ());
    html! {
        <div class="failed" role="alert">
            <p class="error">{ &props.message }</p>
            <button type="button" class="button" onclick={retry}>{ "Try again" }</button>
        </div>
    }
}
