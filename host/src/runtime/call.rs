//! What one call into a cog is — which export, with what — and what the cog
//! answered. Shared by the call path (`invoke`) and the typed export calls
//! (`exports`), which therefore import neither of each other for them.

use crate::wit::types::{
    ActionOutcome, AutocompleteInvocation, Choice, CogError, CommandInvocation, CommandResponse,
    ComponentInvocation, ComponentResponse, Event, InvocationContext, PageContext, View,
};

/// One call into a cog.
#[derive(Debug, Clone)]
pub enum Call {
    /// `on-command`.
    Command(CommandInvocation),
    /// `on-component`.
    Component(ComponentInvocation),
    /// `on-autocomplete`.
    Autocomplete(AutocompleteInvocation),
    /// `on-event`.
    Event(Box<Event>, InvocationContext),
    /// `pages.render`.
    Render(PageContext),
    /// `pages.act`.
    Act(PageContext, String, String),
    /// `on-timer`: the timer's name and payload.
    Timer(String, String, InvocationContext),
}

impl Call {
    /// The export's name, for logs.
    pub fn export(&self) -> &'static str {
        match self {
            Call::Command(_) => "on-command",
            Call::Component(_) => "on-component",
            Call::Autocomplete(_) => "on-autocomplete",
            Call::Event(..) => "on-event",
            Call::Render(_) => "render",
            Call::Act(..) => "act",
            Call::Timer(..) => "on-timer",
        }
    }
}

/// What a cog answered, per export. `Err` is the cog's own `cog-error`.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Answer {
    /// From `on-command`.
    Command(Result<CommandResponse, CogError>),
    /// From `on-component`.
    Component(Result<ComponentResponse, CogError>),
    /// From `on-autocomplete`.
    Autocomplete(Result<Vec<Choice>, CogError>),
    /// From `on-event`.
    Event(Result<(), CogError>),
    /// From `render`.
    Render(Result<View, CogError>),
    /// From `act`.
    Act(Result<ActionOutcome, CogError>),
    /// From `on-timer`.
    Timer(Result<(), CogError>),
}

impl Answer {
    /// The cog's own error, if it answered with one.
    pub fn cog_error(&self) -> Option<&CogError> {
        match self {
            Answer::Command(Err(e))
            | Answer::Component(Err(e))
            | Answer::Autocomplete(Err(e))
            | Answer::Event(Err(e))
            | Answer::Render(Err(e))
            | Answer::Act(Err(e))
            | Answer::Timer(Err(e)) => Some(e),
            _ => None,
        }
    }
}
