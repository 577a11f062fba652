//! Tally: the server keeps a running total. The same cog is written in
//! Rust (here), Python (`cogs/tally-py`) and JavaScript (`cogs/tally-js`),
//! and one set of behaviour tests runs against all three
//! (`tests/host/twins.rs`):
//!
//! - `/tally amount:<1-1000> [note:<text>]` adds to the guild's total (kv)
//!   and answers `Tally: 12 (+5 — note)` with a button that adds the step;
//! - the button (custom id `add:<step>`) adds the step and updates the
//!   message in place;
//! - settings: the title and the button's step (1-100), with defaults.

use baseline_sdk::kv::{self, Scope};
use baseline_sdk::prelude::*;
use serde::{Deserialize, Serialize};

/// The guild's settings (the dashboard's form is drawn from this type).
#[derive(Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(default)]
struct Settings {
    /// The word before the total.
    #[schemars(title = "Title", length(min = 1, max = 50))]
    title: String,
    /// What the button adds.
    #[schemars(title = "Button step", range(min = 1, max = 100))]
    step: i64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            title: "Tally".into(),
            step: 1,
        }
    }
}

struct Tally;

/// The message showing `total` after adding `added` (and why).
fn shown(settings: &Settings, total: i64, added: i64, note: Option<&str>) -> Message {
    let note = note.map(|n| format!(" — {n}")).unwrap_or_default();
    Message::text(format!("{}: {total} (+{added}{note})", settings.title)).row([Button::primary(
        custom_id!("add", settings.step),
        format!("+{}", settings.step),
    )
    .into()])
}

impl Cog for Tally {
    fn manifest(&self) -> Manifest {
        Manifest::new()
            .command(
                Command::new("tally", "Add to the server's tally")
                    .option(
                        CommandOption::integer("amount", "How much to add")
                            .required()
                            .between(1, 1000),
                    )
                    .option(CommandOption::text("note", "What it is for")),
            )
            .settings::<Settings>()
            .capability(Capability::Kv, "Keeps the server's total.")
    }

    fn on_command(&self, command: CommandInvocation) -> Result<CommandResponse, CogError> {
        let amount = command.integer("amount").unwrap_or(0);
        if !(1..=1000).contains(&amount) {
            return Err(CogError::User("The amount must be 1 to 1000.".into()));
        }
        let settings: Settings = settings::get()?;
        let total = kv::increment(Scope::Guild, "total", amount)?;
        Ok(CommandResponse::message(shown(
            &settings,
            total,
            amount,
            command.text("note"),
        )))
    }

    fn on_component(&self, component: ComponentInvocation) -> Result<ComponentResponse, CogError> {
        let id = component.id();
        if id.name() != "add" {
            return Err(CogError::User("That button is no longer supported.".into()));
        }
        let step: i64 = id.arg(0)?;
        let settings: Settings = settings::get()?;
        let total = kv::increment(Scope::Guild, "total", step)?;
        Ok(ComponentResponse::update(shown(
            &settings, total, step, None,
        )))
    }
}

register_cog!(Tally);
