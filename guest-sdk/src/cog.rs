//! The `Cog` trait and the glue that routes the host's calls to it.

use std::sync::OnceLock;

use crate::__private::Registration;
use crate::bindings::exports::baseline::cog::{handler, pages};
use crate::{
    ActionOutcome, AutocompleteInvocation, CapabilityRequest, Choice, CogError, Command,
    CommandInvocation, CommandResponse, ComponentInvocation, ComponentResponse, Event, EventKind,
    InvocationContext, Page, PageContext, View,
};

/// A cog. Every method has a default, so implement only what the cog does.
///
/// Keep state in [`kv`](crate::kv) or [`cache`](crate::cache), not in
/// fields or statics: a small cog gets a fresh instance for every call, and
/// a cog that is slow to start (an interpreter) may get a warm instance
/// that served earlier calls of the same guild — never another guild's —
/// and is dropped after a while or after any failure. Either way nothing
/// in memory is guaranteed to survive from one call to the next.
pub trait Cog: 'static {
    /// Describe the cog. Name, version and description default to the
    /// crate's `Cargo.toml`; the name is a suggestion (the operator's file
    /// name, `NAME.wasm`, is the cog's name in the host). The host calls
    /// this once when it loads the cog, and no capability may be used here.
    fn manifest(&self) -> Manifest {
        Manifest::new()
    }

    /// Run one of the cog's slash commands.
    fn on_command(&self, command: CommandInvocation) -> Result<CommandResponse, CogError> {
        Err(CogError::User(format!(
            "`/{}` is not implemented yet.",
            command.name
        )))
    }

    /// Handle a click, a select choice or a modal submission of a component
    /// this cog made; `component.id()` reads its custom id back
    /// ([`CustomId`](crate::CustomId)).
    fn on_component(&self, component: ComponentInvocation) -> Result<ComponentResponse, CogError> {
        Err(CogError::User(format!(
            "`{}` is not handled.",
            component.custom_id
        )))
    }

    /// Suggest choices while the user types an option with autocomplete.
    fn on_autocomplete(&self, _request: AutocompleteInvocation) -> Result<Vec<Choice>, CogError> {
        Ok(Vec::new())
    }

    /// Handle a gateway event listed in the manifest's `events`.
    fn on_event(&self, _event: Event, _context: InvocationContext) -> Result<(), CogError> {
        Ok(())
    }

    /// A timer this cog set ([`crate::schedule`]) is due, in its guild
    /// (`context.guild_id`): its name and payload.
    fn on_timer(
        &self,
        _name: String,
        _payload: String,
        _context: InvocationContext,
    ) -> Result<(), CogError> {
        Ok(())
    }

    /// Draw a dashboard page declared in the manifest.
    fn render(&self, context: PageContext) -> Result<View, CogError> {
        Err(CogError::User(format!(
            "This cog has no page `{}`.",
            context.route
        )))
    }

    /// Run a page action (a button or a form); `payload` is a JSON object.
    fn act(
        &self,
        context: PageContext,
        action: String,
        _payload: String,
    ) -> Result<ActionOutcome, CogError> {
        Err(CogError::User(format!(
            "Page `{}` has no action `{action}`.",
            context.route
        )))
    }
}

/// What the cog declares: commands, events, settings, capabilities, pages.
/// Built with chained calls; anything left empty takes the crate's defaults.
#[derive(Debug, Clone, Default)]
pub struct Manifest {
    inner: crate::bindings::baseline::cog::types::CogManifest,
}

// Generated types cannot take a derive here; WIT enums have no default.
#[allow(clippy::derivable_impls)]
impl Default for crate::bindings::baseline::cog::types::CogManifest {
    fn default() -> Self {
        Self {
            name: String::new(),
            version: String::new(),
            description: String::new(),
            commands: Vec::new(),
            events: Vec::new(),
            settings_schema: None,
            capabilities: Vec::new(),
            pages: Vec::new(),
        }
    }
}

/// The host's capabilities by name, so a typo is a compile error:
/// `.capability(Capability::Kv, "Counts greetings.")`. Strings still work
/// (a capability newer than this SDK).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capability {
    /// Durable key-value storage (granted by default).
    Kv,
    /// Ephemeral storage (granted by default).
    Cache,
    /// The guild's settings for the cog (granted by default).
    Settings,
    /// Uptime, shards, service health (granted by default).
    System,
    /// Timers that run the cog later in a guild (granted by default).
    Schedule,
    /// Send, edit, delete and read messages (granted by default).
    DiscordMessages,
    /// The bot's reactions (granted by default).
    DiscordReactions,
    /// The guild's roles and channels (granted by default).
    DiscordGuildRead,
    /// Members of the guild (granted by default).
    DiscordMembersRead,
    /// Threads (granted by default).
    DiscordThreads,
    /// Give and take roles (the operator must grant it).
    DiscordRolesManage,
    /// Direct messages (the operator must grant it).
    DiscordDm,
    /// Kick members (the operator must grant it).
    DiscordMembersKick,
    /// Ban users (the operator must grant it).
    DiscordMembersBan,
    /// Time members out (the operator must grant it).
    DiscordMembersTimeout,
    /// Read the server's audit log (the operator must grant it).
    DiscordAuditLog,
    /// Language models — spends money (the operator must grant it).
    Llm,
}

impl Capability {
    /// Its name in manifests and the operator's configuration.
    pub fn name(self) -> &'static str {
        match self {
            Capability::Kv => "kv",
            Capability::Cache => "cache",
            Capability::Settings => "settings",
            Capability::System => "system",
            Capability::Schedule => "schedule",
            Capability::DiscordMessages => "discord.messages",
            Capability::DiscordReactions => "discord.reactions",
            Capability::DiscordGuildRead => "discord.guild.read",
            Capability::DiscordMembersRead => "discord.members.read",
            Capability::DiscordThreads => "discord.threads",
            Capability::DiscordRolesManage => "discord.roles.manage",
            Capability::DiscordDm => "discord.dm",
            Capability::DiscordMembersKick => "discord.members.kick",
            Capability::DiscordMembersBan => "discord.members.ban",
            Capability::DiscordMembersTimeout => "discord.members.timeout",
            Capability::DiscordAuditLog => "discord.audit-log",
            Capability::Llm => "llm",
        }
    }
}

impl From<Capability> for String {
    fn from(capability: Capability) -> Self {
        capability.name().to_string()
    }
}

impl Manifest {
    /// An empty manifest (name, version and description from `Cargo.toml`).
    pub fn new() -> Self {
        Self::default()
    }
    /// Override the cog's name (lowercase letters, digits and `-`).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.inner.name = name.into();
        self
    }
    /// Override the version.
    pub fn version(mut self, version: impl Into<String>) -> Self {
        self.inner.version = version.into();
        self
    }
    /// Override the description.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.inner.description = description.into();
        self
    }
    /// Add a slash command.
    pub fn command(mut self, command: Command) -> Self {
        self.inner.commands.push(command);
        self
    }
    /// Subscribe to a gateway event.
    pub fn event(mut self, kind: EventKind) -> Self {
        self.inner.events.push(kind);
        self
    }
    /// Declare the settings' JSON Schema from the type the cog reads them
    /// into, so the two cannot drift: derive `schemars::JsonSchema` (doc
    /// comments become descriptions; `#[schemars(range(min = 2, max = 1000))]`,
    /// `#[schemars(extend("format" = "discord-channel"))]` for a channel
    /// picker) and `Default` with `#[serde(default)]`, whose values become
    /// each property's `default`.
    ///
    /// ```
    /// use baseline_sdk::Manifest;
    /// #[derive(Default, serde::Deserialize, serde::Serialize, schemars::JsonSchema)]
    /// #[serde(default)]
    /// struct Settings {
    ///     /// Sides of a die when none is given.
    ///     #[schemars(range(min = 2, max = 1000))]
    ///     sides: u32,
    /// }
    /// let manifest = Manifest::new().settings::<Settings>();
    /// let schema: serde_json::Value =
    ///     serde_json::from_str(manifest.settings_schema_text().unwrap()).unwrap();
    /// assert_eq!(schema["properties"]["sides"]["maximum"], 1000);
    /// assert_eq!(schema["properties"]["sides"]["default"], 0);
    /// ```
    ///
    /// Declaring settings asks for the `settings` capability too.
    pub fn settings<T: schemars::JsonSchema>(mut self) -> Self {
        let schema = schemars::schema_for!(T);
        self.inner.settings_schema = serde_json::to_string(&schema).ok();
        self.reads_settings()
    }
    /// The settings schema declared so far, as JSON text.
    pub fn settings_schema_text(&self) -> Option<&str> {
        self.inner.settings_schema.as_deref()
    }
    /// Declare the settings' JSON Schema (draft 2020-12), as JSON text.
    /// Give every property a `default` so a new guild starts valid
    /// ([`settings`](Self::settings) derives it from the type instead).
    pub fn settings_schema(mut self, schema: impl Into<String>) -> Self {
        self.inner.settings_schema = Some(schema.into());
        self.reads_settings()
    }
    /// Ask for `settings` unless the cog did already.
    fn reads_settings(self) -> Self {
        let name = Capability::Settings.name();
        if self.inner.capabilities.iter().any(|c| c.name == name) {
            return self;
        }
        self.capability(name, "Reads its settings for the server.")
    }
    /// Ask for a capability, with the reason the operator will read (asked
    /// again, the reason given last stands).
    pub fn capability(mut self, name: impl Into<String>, reason: impl Into<String>) -> Self {
        let (name, reason) = (name.into(), reason.into());
        match self.inner.capabilities.iter_mut().find(|c| c.name == name) {
            Some(asked) => asked.reason = reason,
            None => self
                .inner
                .capabilities
                .push(CapabilityRequest { name, reason }),
        }
        self
    }
    /// Contribute a dashboard page.
    pub fn page(mut self, page: Page) -> Self {
        self.inner.pages.push(page);
        self
    }
}

unsafe extern "Rust" {
    // Defined by `register_cog!` in the cog's crate.
    fn __baseline_sdk_registration() -> Registration;
}

fn registration() -> &'static Registration {
    struct Shared(Registration);
    // SAFETY: a cog instance is single-threaded; the host never shares one.
    unsafe impl Send for Shared {}
    unsafe impl Sync for Shared {}
    static CELL: OnceLock<Shared> = OnceLock::new();
    // SAFETY: the symbol is defined by `register_cog!`; without it the cog
    // fails to link with an error naming `__baseline_sdk_registration`.
    &CELL
        .get_or_init(|| Shared(unsafe { __baseline_sdk_registration() }))
        .0
}

fn cog() -> &'static dyn Cog {
    registration().cog.as_ref()
}

struct Exports;

impl handler::Guest for Exports {
    fn manifest() -> crate::bindings::baseline::cog::types::CogManifest {
        let registration = registration();
        let mut manifest = registration.cog.manifest().inner;
        if manifest.name.is_empty() {
            manifest.name = registration.name.to_string();
        }
        if manifest.version.is_empty() {
            manifest.version = registration.version.to_string();
        }
        if manifest.description.is_empty() {
            manifest.description = registration.description.to_string();
        }
        manifest
    }
    fn on_command(invocation: CommandInvocation) -> Result<CommandResponse, CogError> {
        cog().on_command(invocation)
    }
    fn on_component(invocation: ComponentInvocation) -> Result<ComponentResponse, CogError> {
        cog().on_component(invocation)
    }
    fn on_autocomplete(invocation: AutocompleteInvocation) -> Result<Vec<Choice>, CogError> {
        cog().on_autocomplete(invocation)
    }
    fn on_event(event: Event, context: InvocationContext) -> Result<(), CogError> {
        cog().on_event(event, context)
    }
    fn on_timer(name: String, payload: String, context: InvocationContext) -> Result<(), CogError> {
        cog().on_timer(name, payload, context)
    }
}

impl pages::Guest for Exports {
    fn render(context: PageContext) -> Result<View, CogError> {
        cog().render(context)
    }
    fn act(
        context: PageContext,
        action: String,
        payload: String,
    ) -> Result<ActionOutcome, CogError> {
        cog().act(context, action, payload)
    }
}

crate::bindings::export!(Exports with_types_in crate::bindings);
