//! # baseline-sdk — write Baseline cogs in Rust
//!
//! A cog is a WebAssembly component the Baseline host loads from its `cogs/`
//! folder. This crate hides the generated WIT bindings and gives you:
//!
//! - one trait, [`Cog`], whose methods all have defaults: implement what your
//!   cog does, nothing else;
//! - one macro, [`register_cog!`], that makes your type the cog;
//! - builders for Discord messages, embeds, buttons, selects, modals and
//!   commands ([`Message`], [`Embed`], [`Button`], [`Command`], …);
//! - typed helpers for the host's capabilities: [`kv`], [`cache`],
//!   [`settings`], [`log`], [`discord`], [`interaction`], [`llm`], [`system`].
//!
//! ```no_run
//! use baseline_sdk::prelude::*;
//!
//! struct Hello;
//!
//! impl Cog for Hello {
//!     fn manifest(&self) -> Manifest {
//!         Manifest::new().command(Command::new("hello", "Say hello"))
//!     }
//!     fn on_command(&self, cmd: CommandInvocation) -> Result<CommandResponse, CogError> {
//!         Ok(CommandResponse::text(format!("Hello, {}!", cmd.context.user.username)))
//!     }
//! }
//!
//! register_cog!(Hello);
//! ```
//!
//! Build with `cargo build --target wasm32-wasip2 --release` (or
//! `cargo component build --release`) and drop the `.wasm` file into the
//! host's `cogs/` folder.
#![deny(missing_docs)]

#[allow(missing_docs, clippy::all, unsafe_op_in_unsafe_fn)]
mod bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "baseline:cog/cog",
        additional_derives: [PartialEq],
    });
}

mod builders;
pub mod capabilities;
mod cog;
mod custom_id;
pub mod llm;

pub use capabilities::{cache, discord, interaction, kv, log, schedule, settings, system};
pub use cog::{Capability, Cog, Manifest};
pub use custom_id::CustomId;

/// The WIT package version, as a literal for `concat!`.
macro_rules! wit_version {
    () => {
        "0.3.0"
    };
}

/// The WIT package version this SDK was built against. The host reads it
/// from the component's exports and refuses versions it does not support.
pub const WIT_VERSION: &str = wit_version!();

/// The stamp, from the SDK's own version and [`WIT_VERSION`].
const STAMP: &str = concat!(
    "baseline-sdk ",
    env!("CARGO_PKG_VERSION"),
    " wit baseline:cog@",
    wit_version!()
);

// The SDK stamps its versions into the component, so an operator's
// `baseline cog check` can say which SDK built a cog (read by
// `host/src/runtime/inspect.rs`).
#[used]
#[unsafe(link_section = "baseline:sdk")]
static SDK_STAMP: [u8; STAMP.len()] = {
    let mut out = [0u8; STAMP.len()];
    let bytes = STAMP.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        out[i] = bytes[i];
        i += 1;
    }
    out
};

/// A pop-up form (Discord's modal).
pub use bindings::baseline::cog::types::Modal;
pub use bindings::baseline::cog::types::{
    ActionOutcome, ActionRow, AllowedMentions, Attachment, AttachmentInfo, Attribution,
    AutocompleteInvocation, AutomodAction, AutomodResponse, BanEvent, Button, ButtonStyle,
    CapabilityRequest, Channel, ChannelEvent, ChannelKind, Chart, Choice, ChoiceValue, CogError,
    Command, CommandInvocation, CommandOption, CommandResponse, Component, ComponentInvocation,
    ComponentKind, ComponentResponse, Embed, EmbedAuthor, EmbedField, EmbedFooter, Emoji,
    EmojisChanged, Event, EventKind, FieldKind, Form, FormField, GuildEvent, GuildInfo,
    GuildUpdated, Invite, InviteDeleted, InvocationContext, Member, MemberJoined, MemberKicked,
    MemberLeft, MemberUpdated, Message, MessageDeleted, MessageEdited, MessageInfo, MessagesPurged,
    ModalField, Moderation, NavPlacement, OptionEntry, OptionKind, OptionValue, OverwriteKind,
    Page, PageAccess, PageButton, PageContext, PermissionOverwrite, PinsChanged, Reaction, Reply,
    Role, RoleEvent, SelectKind, SelectMenu, SelectOption, Snowflake, Stat, Sticker,
    StickersChanged, Subcommand, SubcommandGroup, Table, TextInput, TextInputStyle, ThreadInfo,
    ThreadMembers, TimeoutEnded, User, View, ViewNode, VoiceChanged, VoiceState, WebhooksChanged,
};

pub use builders::ViewBuilder;

/// Everything a cog usually needs, in one `use`.
pub mod prelude {
    pub use crate::{
        ActionOutcome, ActionRow, Button, ButtonStyle, Capability, Choice, ChoiceValue, Cog,
        CogError, Command, CommandInvocation, CommandOption, CommandResponse, ComponentInvocation,
        ComponentResponse, CustomId, Embed, Event, EventKind, InvocationContext, Manifest, Message,
        Modal, OptionKind, OptionValue, Page, PageContext, Reply, SelectMenu, Subcommand,
        SubcommandGroup, TextInput, View, ViewBuilder, custom_id, register_cog,
    };
    pub use crate::{cache, discord, interaction, kv, llm, log, schedule, settings, system};
}

/// Make a type the cog of this crate. Call it once, at the crate root, with
/// an expression that builds the cog (a unit struct's name is enough).
///
/// The crate's name, version and description from `Cargo.toml` become the
/// defaults of the manifest.
///
/// ```no_run
/// # use baseline_sdk::prelude::*;
/// #[derive(Default)]
/// struct Counter { step: i64 }
/// impl Cog for Counter {}
/// register_cog!(Counter { step: 1 });
/// ```
#[macro_export]
macro_rules! register_cog {
    ($cog:expr) => {
        #[doc(hidden)]
        #[unsafe(no_mangle)]
        pub extern "Rust" fn __baseline_sdk_registration() -> $crate::__private::Registration {
            $crate::__private::Registration {
                cog: ::std::boxed::Box::new($cog),
                name: env!("CARGO_PKG_NAME"),
                version: env!("CARGO_PKG_VERSION"),
                description: env!("CARGO_PKG_DESCRIPTION"),
            }
        }
    };
}

#[doc(hidden)]
pub mod __private {
    /// What `register_cog!` hands the SDK.
    pub struct Registration {
        /// The cog.
        pub cog: Box<dyn crate::Cog>,
        /// `CARGO_PKG_NAME` of the cog crate.
        pub name: &'static str,
        /// `CARGO_PKG_VERSION` of the cog crate.
        pub version: &'static str,
        /// `CARGO_PKG_DESCRIPTION` of the cog crate.
        pub description: &'static str,
    }
}
