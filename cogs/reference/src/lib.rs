//! The reference cog: the one to copy when you write your own.
//!
//! It shows every part of the SDK once:
//! - `/dice roll [sides] [count] [label]` — a command with options, choices
//!   and autocomplete, answered with an embed and a "Roll again" button;
//! - the button round-trip (`on_component`, custom id `reference:again:…`);
//! - an event handler (`message-create`) that counts messages per guild;
//! - kv: per-guild and per-user counters;
//! - typed settings with a JSON Schema and defaults;
//! - log lines;
//! - a dashboard page (`stats`) with a reset action.
//!
//! Nothing in memory survives from one call to the next for sure (a fresh
//! instance per call, or a warm one of the same guild for slow-starting
//! cogs), so all state is in kv.

use baseline_sdk::kv::{self, Scope};
use baseline_sdk::prelude::*;
use serde::Deserialize;

/// The guild settings; the schema below must accept what this deserialises.
#[derive(Debug, Deserialize)]
struct Settings {
    default_sides: u32,
    max_count: u32,
    label_suggestions: Vec<String>,
}

const SETTINGS_SCHEMA: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "default_sides": {"type": "integer", "minimum": 2, "maximum": 1000, "default": 6,
                      "title": "Default sides", "description": "Sides of a die when /dice roll gets none."},
    "max_count": {"type": "integer", "minimum": 1, "maximum": 50, "default": 10,
                  "title": "Most dice per roll"},
    "label_suggestions": {"type": "array", "items": {"type": "string", "maxLength": 50}, "maxItems": 25,
                          "default": ["attack", "damage", "initiative", "perception"],
                          "title": "Label suggestions", "description": "Offered while typing a roll's label."}
  }
}"#;

struct Reference;

impl Cog for Reference {
    fn manifest(&self) -> Manifest {
        Manifest::new()
            .command(
                Command::new("dice", "Roll dice and keep score")
                    .subcommand(
                        Subcommand::new("roll", "Roll some dice")
                            .option(
                                CommandOption::integer("sides", "Sides per die").range(2.0, 1000.0),
                            )
                            .option(
                                CommandOption::integer("count", "How many dice").range(1.0, 50.0),
                            )
                            .option(
                                CommandOption::text("label", "What the roll is for").autocomplete(),
                            ),
                    )
                    .subcommand(Subcommand::new(
                        "stats",
                        "How many dice this server and you have rolled",
                    )),
            )
            .event(EventKind::MessageCreate)
            .settings_schema(SETTINGS_SCHEMA)
            .capability("kv", "Keeps roll counters per server and per user.")
            .capability("settings", "Reads the server's default die and limits.")
            .page(Page::new("stats", "Dice statistics"))
    }

    fn on_command(&self, command: CommandInvocation) -> Result<CommandResponse, CogError> {
        match command.subcommand.as_deref() {
            Some("roll") => {
                let settings: Settings = baseline_sdk::settings::get()?;
                let sides = command
                    .integer("sides")
                    .map(|n| n as u32)
                    .unwrap_or(settings.default_sides);
                let count = command.integer("count").map(|n| n as u32).unwrap_or(1);
                if count > settings.max_count {
                    return Err(CogError::User(format!(
                        "This server allows at most {} dice per roll.",
                        settings.max_count
                    )));
                }
                let label = command.text("label").map(str::to_string);
                let message = roll(&command.context, sides, count, label.as_deref())?;
                Ok(CommandResponse::message(message))
            }
            Some("stats") => {
                let guild = kv::get_json::<i64>(Scope::Guild, "rolls")?.unwrap_or(0);
                let mine = kv::get_json::<i64>(Scope::User(command.context.user.id), "rolls")?
                    .unwrap_or(0);
                let messages = kv::get_json::<i64>(Scope::Guild, "messages")?.unwrap_or(0);
                Ok(CommandResponse::ephemeral(
                    Message::new().embed(
                        Embed::new()
                            .title("Dice statistics")
                            .field("This server", guild.to_string(), true)
                            .field("You", mine.to_string(), true)
                            .field("Messages seen", messages.to_string(), true),
                    ),
                ))
            }
            other => Err(CogError::User(format!("Unknown subcommand {other:?}."))),
        }
    }

    fn on_component(&self, component: ComponentInvocation) -> Result<ComponentResponse, CogError> {
        // custom id: reference:again:<sides>:<count>
        let parts: Vec<&str> = component.custom_id.split(':').collect();
        match parts.as_slice() {
            ["reference", "again", sides, count] => {
                let sides = sides.parse().map_err(|_| {
                    CogError::Internal(format!("bad custom id {}", component.custom_id))
                })?;
                let count = count.parse().map_err(|_| {
                    CogError::Internal(format!("bad custom id {}", component.custom_id))
                })?;
                Ok(ComponentResponse::update(roll(
                    &component.context,
                    sides,
                    count,
                    None,
                )?))
            }
            _ => Err(CogError::User("That button is no longer supported.".into())),
        }
    }

    fn on_autocomplete(
        &self,
        request: baseline_sdk::AutocompleteInvocation,
    ) -> Result<Vec<Choice>, CogError> {
        let settings: Settings = baseline_sdk::settings::get()?;
        let typed = request.partial.to_lowercase();
        Ok(settings
            .label_suggestions
            .into_iter()
            .filter(|label| label.to_lowercase().starts_with(&typed))
            .take(25)
            .map(|label| Choice {
                name: label.clone(),
                value: ChoiceValue::Text(label),
            })
            .collect())
    }

    fn on_event(&self, event: Event, _context: InvocationContext) -> Result<(), CogError> {
        if let Event::MessageCreate(message) = event
            && !message.author.bot
        {
            let seen = kv::increment(Scope::Guild, "messages", 1)?;
            log::write(
                log::Level::Debug,
                "message counted",
                &[("messages".into(), seen.to_string())],
            );
        }
        Ok(())
    }

    fn render(&self, context: PageContext) -> Result<View, CogError> {
        if context.route != "stats" {
            return Err(CogError::User(format!("No page `{}`.", context.route)));
        }
        let rolls = kv::get_json::<i64>(Scope::Guild, "rolls")?.unwrap_or(0);
        let messages = kv::get_json::<i64>(Scope::Guild, "messages")?.unwrap_or(0);
        let mut view = ViewBuilder::new();
        let heading = view.heading("Dice statistics");
        let rolls = view.stat("Dice rolled", rolls.to_string());
        let messages = view.stat("Messages seen", messages.to_string());
        let figures = view.row(vec![rolls, messages]);
        let reset = view.button("Reset counters", "reset");
        let root = view.column(vec![heading, figures, reset]);
        Ok(view.finish(root))
    }

    fn act(
        &self,
        context: PageContext,
        action: String,
        _payload: String,
    ) -> Result<ActionOutcome, CogError> {
        match action.as_str() {
            "reset" => {
                kv::delete(Scope::Guild, "rolls")?;
                kv::delete(Scope::Guild, "messages")?;
                log::info(&format!("counters reset by {}", context.user_id));
                Ok(ActionOutcome {
                    notice: Some("Counters reset.".into()),
                    view: None,
                })
            }
            other => Err(CogError::User(format!("Unknown action `{other}`."))),
        }
    }
}

/// Roll `count` dice of `sides`, count them in kv, and build the reply.
fn roll(
    context: &InvocationContext,
    sides: u32,
    count: u32,
    label: Option<&str>,
) -> Result<Message, CogError> {
    if !(2..=1000).contains(&sides) || !(1..=50).contains(&count) {
        return Err(CogError::User("Pick 2-1000 sides and 1-50 dice.".into()));
    }
    // The dice come from the interaction id: the same interaction (a retried
    // delivery) rolls the same, every new interaction rolls anew, and tests
    // can predict a roll. A game that needs secrecy would use WASI's random.
    let mut state = context.interaction_id ^ 0x9E37_79B9_7F4A_7C15;
    let dice: Vec<u32> = (0..count)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % sides as u64) as u32 + 1
        })
        .collect();
    let total: u32 = dice.iter().sum();
    kv::increment(Scope::Guild, "rolls", count as i64)?;
    kv::increment(Scope::User(context.user.id), "rolls", count as i64)?;
    log::info(&format!("rolled {count}d{sides} = {total}"));

    let title = match label {
        Some(label) => format!("🎲 {label}: {total}"),
        None => format!("🎲 {total}"),
    };
    let rolls = dice
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(" + ");
    Ok(Message::new()
        .embed(
            Embed::new()
                .title(title)
                .description(format!("{count}d{sides}: {rolls}"))
                .color(0x5865F2),
        )
        .row([
            Button::primary(format!("reference:again:{sides}:{count}"), "Roll again")
                .emoji("🎲")
                .into(),
        ]))
}

register_cog!(Reference);
