//! Write a cog's browser UI module: the part of a dashboard page that runs
//! in the admin's browser, beside the cog that runs in the host.
//!
//! A UI module is a core WebAssembly module built for
//! `wasm32-unknown-unknown` and shipped as `NAME.ui.wasm` beside the cog's
//! `NAME.wasm`. The dashboard runs it in a worker with three functions and
//! nothing else (no DOM, no `fetch`, no cookies): show a [`View`], call one
//! of this cog's actions (the cog's `act`, with the admin's rights, checked
//! by the host), and read the page's [`UiContext`]. The dashboard draws the
//! view with its own components; clicks and form submissions come back as
//! [`UiEvent`]s, and so do the answers to [`Ui::call`].
//!
//! ```no_run
//! use baseline_ui_sdk::{export_ui, Ui, UiEvent, UiModule, ViewBuilder};
//!
//! struct Counter { clicks: u32 }
//!
//! impl UiModule for Counter {
//!     fn init(ui: &mut Ui) -> Self {
//!         let counter = Counter { clicks: 0 };
//!         counter.draw(ui);
//!         counter
//!     }
//!     fn event(&mut self, ui: &mut Ui, event: UiEvent) {
//!         if let UiEvent::Click { .. } = event {
//!             self.clicks += 1;
//!             self.draw(ui);
//!         }
//!     }
//! }
//!
//! impl Counter {
//!     fn draw(&self, ui: &mut Ui) {
//!         let mut view = ViewBuilder::new();
//!         let figure = view.stat("Clicks", self.clicks.to_string());
//!         let button = view.button("Click", "click");
//!         let root = view.column(vec![figure, button]);
//!         ui.show(&view.finish(root));
//!     }
//! }
//!
//! export_ui!(Counter);
//! ```
//!
//! The ABI (version [`ABI_VERSION`]), for other languages: imports
//! `bridge.emit_view(ptr, len)`, `bridge.call_action(ptr, len) -> id`,
//! `bridge.page_context(ptr, cap) -> len`; exports `memory`,
//! `ui_alloc(len) -> ptr`, `ui_abi_version() -> 1`, `ui_init()`,
//! `ui_event(ptr, len)` (the module frees what `ui_alloc` gave). All values
//! are `i32`, all payloads UTF-8 JSON. See `docs/ui-modules.md`.

pub use baseline_api_types::Tier;
pub use baseline_api_types::pages::{
    ActOutcome, FieldKind, FormField, UI_ABI_VERSION as ABI_VERSION, UiActionCall, UiContext,
    UiEvent, View, ViewBuilder, ViewNode,
};

#[cfg(target_arch = "wasm32")]
mod bridge {
    #[link(wasm_import_module = "bridge")]
    unsafe extern "C" {
        pub fn emit_view(ptr: *const u8, len: usize);
        pub fn call_action(ptr: *const u8, len: usize) -> i32;
        pub fn page_context(ptr: *mut u8, cap: usize) -> usize;
    }
}

/// Stand-ins off wasm (docs and `cargo check` on the host); a module only
/// ever runs on wasm32.
#[cfg(not(target_arch = "wasm32"))]
mod bridge {
    pub unsafe fn emit_view(_ptr: *const u8, _len: usize) {}
    pub unsafe fn call_action(_ptr: *const u8, _len: usize) -> i32 {
        -1
    }
    pub unsafe fn page_context(_ptr: *mut u8, _cap: usize) -> usize {
        0
    }
}

/// A UI module: built once when the page opens, then told every event.
pub trait UiModule: Sized {
    /// The page opened: build the state and show a first view.
    fn init(ui: &mut Ui) -> Self;
    /// A click, a form submission, or the answer to a [`Ui::call`].
    fn event(&mut self, ui: &mut Ui, event: UiEvent);
}

/// The bridge to the dashboard.
pub struct Ui {
    context: UiContext,
}

impl Ui {
    fn new() -> Self {
        Self {
            context: read_context(),
        }
    }

    /// The page: guild, cog, route, the viewer's tier, the browser's language.
    pub fn context(&self) -> &UiContext {
        &self.context
    }

    /// Show `view` (the dashboard checks it and draws it on the next frame).
    pub fn show(&mut self, view: &View) {
        let json = serde_json::to_vec(view).expect("a view always serializes");
        // SAFETY: the dashboard copies `len` bytes from `ptr` out of this
        // module's memory before it returns.
        unsafe { bridge::emit_view(json.as_ptr(), json.len()) }
    }

    /// Run `action` of this cog's page with `payload` (a JSON object); the
    /// answer comes later as [`UiEvent::ActionResult`] with the id returned
    /// here. `Err` when the dashboard refuses at once (too many calls in
    /// flight, a viewer who may not act).
    pub fn call(&mut self, action: &str, payload: serde_json::Value) -> Result<u32, String> {
        let call = UiActionCall {
            action: action.into(),
            payload,
        };
        let json = serde_json::to_vec(&call).expect("a call always serializes");
        // SAFETY: as in `show`.
        let id = unsafe { bridge::call_action(json.as_ptr(), json.len()) };
        match id {
            id if id > 0 => Ok(id as u32),
            -2 => Err("too many actions are already running; wait for one to answer".into()),
            -3 => Err("your tier in this server cannot run this page's actions".into()),
            _ => Err("the dashboard refused the action".into()),
        }
    }
}

fn read_context() -> UiContext {
    let mut buffer = vec![0u8; 512];
    loop {
        // SAFETY: the dashboard writes at most `cap` bytes at `ptr`.
        let len = unsafe { bridge::page_context(buffer.as_mut_ptr(), buffer.len()) };
        if len <= buffer.len() {
            buffer.truncate(len);
            break;
        }
        buffer.resize(len, 0);
    }
    serde_json::from_slice(&buffer).unwrap_or(UiContext {
        guild_id: String::new(),
        cog: String::new(),
        route: String::new(),
        tier: Tier::Viewer,
        locale: "en".into(),
    })
}

#[doc(hidden)]
pub mod __private {
    use super::*;
    use std::cell::RefCell;

    /// The module's state. A UI module runs on one thread (wasm32 without
    /// threads), and the dashboard never calls in while a call is running.
    pub struct State<T>(RefCell<Option<(T, Ui)>>);

    // SAFETY: wasm32-unknown-unknown modules here have one thread.
    unsafe impl<T> Sync for State<T> {}

    impl<T: UiModule> State<T> {
        pub const fn new() -> Self {
            Self(RefCell::new(None))
        }

        pub fn init(&self) {
            let mut ui = Ui::new();
            let module = T::init(&mut ui);
            *self.0.borrow_mut() = Some((module, ui));
        }

        /// # Safety
        /// `ptr`/`len` came from [`alloc`] and hold the event's JSON.
        pub unsafe fn event(&self, ptr: *mut u8, len: usize) {
            // SAFETY: allocated by `alloc` with this length; ours now.
            let bytes = unsafe { take(ptr, len) };
            let Ok(event) = serde_json::from_slice::<UiEvent>(&bytes) else {
                return;
            };
            if let Some((module, ui)) = self.0.borrow_mut().as_mut() {
                module.event(ui, event);
            }
        }
    }

    impl<T: UiModule> Default for State<T> {
        fn default() -> Self {
            Self::new()
        }
    }

    fn layout(len: usize) -> std::alloc::Layout {
        std::alloc::Layout::array::<u8>(len.max(1)).expect("a small buffer")
    }

    /// A buffer of `len` bytes for the dashboard to write an event into.
    pub fn alloc(len: usize) -> *mut u8 {
        // SAFETY: the layout is non-zero in size.
        unsafe { std::alloc::alloc(layout(len)) }
    }

    /// # Safety
    /// `ptr` came from [`alloc`] with `len`.
    unsafe fn take(ptr: *mut u8, len: usize) -> Vec<u8> {
        // SAFETY: `len` bytes were allocated and written at `ptr`.
        let bytes = unsafe { std::slice::from_raw_parts(ptr, len) }.to_vec();
        // SAFETY: allocated by `alloc` with the same layout.
        unsafe { std::alloc::dealloc(ptr, layout(len)) };
        bytes
    }
}

/// Export `$module` (a [`UiModule`]) with the ABI's functions.
#[macro_export]
macro_rules! export_ui {
    ($module:ty) => {
        static __BASELINE_UI: $crate::__private::State<$module> = $crate::__private::State::new();

        #[unsafe(no_mangle)]
        pub extern "C" fn ui_abi_version() -> i32 {
            $crate::ABI_VERSION
        }

        #[unsafe(no_mangle)]
        pub extern "C" fn ui_alloc(len: usize) -> *mut u8 {
            $crate::__private::alloc(len)
        }

        #[unsafe(no_mangle)]
        pub extern "C" fn ui_init() {
            __BASELINE_UI.init()
        }

        /// # Safety
        /// Called by the dashboard with a buffer from `ui_alloc`.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn ui_event(ptr: *mut u8, len: usize) {
            // SAFETY: the ABI's contract.
            unsafe { __BASELINE_UI.event(ptr, len) }
        }
    };
}
