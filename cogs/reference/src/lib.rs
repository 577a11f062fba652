//! The reference cog: the one to copy when you write your own.
//!
//! It shows every part of the SDK once:
//! - `/dice roll [sides] [count] [label]` — a command with options, choices
//!   and autocomplete, answered with an embed and a "Roll again" button;
//! - the button round-trip (`on_component`, custom id `again:…` built with
//!   `custom_id!` and read back with `component.id()`);
//! - an event handler (`message-create`) that counts messages per guild;
//! - kv: per-guild and per-user counters;
//! - typed settings with a JSON Schema and defaults;
//! - log lines;
//! - dashboard pages: `stats`, rendered here (figures, a chart, a form and
//!   a reset button), and `table`, drawn in the browser by the cog's UI
//!   module (`cogs/reference/ui`, shipped as `reference.ui.wasm`), which
//!   rolls through this cog's `act`.
//!
//! Nothing in memory survives from one call to the next for sure (a fresh
//! instance per call, or a warm one of the same guild for slow-starting
//! cogs), so all state is in kv.

use baseline_sdk::kv::{self, Scope};
use baseline_sdk::prelude::*;
use baseline_sdk::{FieldKind, Form, FormField, PageButton, ViewNode};
use serde::Deserialize;

/// The guild settings; the schema below must accept what this deserialises.
#[derive(Debug, Deserialize)]
struct Settings {
    default_sides: u32,
    max_count: u32,
    label_suggestions: Vec<String>,
    /// Named in `/dice stats` as the place for dice talk (a channel picker
    /// in the dashboard).
    #[serde(default)]
    dice_channel: Option<String>,
    /// Named in `/dice stats` as who runs the games (a role picker).
    #[serde(default)]
    game_masters: Option<String>,
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
                          "title": "Label suggestions", "description": "Offered while typing a roll's label."},
    "dice_channel": {"type": "string", "format": "discord-channel", "title": "Dice channel",
                     "description": "Named in /dice stats as the place for dice talk."},
    "game_masters": {"type": "string", "format": "discord-role", "title": "Game masters",
                     "description": "Named in /dice stats as who runs the games."}
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
                                CommandOption::integer("sides", "Sides per die").between(2, 1000),
                            )
                            .option(CommandOption::integer("count", "How many dice").between(1, 50))
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
            .capability(
                Capability::Kv,
                "Keeps roll counters per server and per user.",
            )
            .capability(
                Capability::Settings,
                "Reads the server's default die and limits.",
            )
            .page(Page::new("stats", "Dice statistics"))
            .page(Page::new("table", "Dice table").ui_module())
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
                let settings: Settings = baseline_sdk::settings::get()?;
                let mut embed = Embed::new()
                    .title("Dice statistics")
                    .field("This server", guild.to_string(), true)
                    .field("You", mine.to_string(), true)
                    .field("Messages seen", messages.to_string(), true);
                if let Some(channel) = &settings.dice_channel {
                    embed = embed.field("Dice talk", format!("<#{channel}>"), true);
                }
                if let Some(role) = &settings.game_masters {
                    embed = embed.field("Game masters", format!("<@&{role}>"), true);
                }
                Ok(CommandResponse::ephemeral(Message::new().embed(embed)))
            }
            other => Err(CogError::User(format!("Unknown subcommand {other:?}."))),
        }
    }

    fn on_component(&self, component: ComponentInvocation) -> Result<ComponentResponse, CogError> {
        // custom id: again:<sides>:<count> (the host keeps it apart from
        // other cogs' ids)
        let id = component.id();
        match id.name() {
            "again" => {
                let (sides, count) = (id.arg(0)?, id.arg(1)?);
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
        let goal = kv::get_json::<i64>(Scope::Guild, "goal")?;
        let mut by_die = Vec::new();
        for sides in CHARTED_DICE {
            by_die.push(kv::get_json::<i64>(Scope::Guild, &die_key(sides))?.unwrap_or(0) as f64);
        }
        let mut view = ViewBuilder::new();
        let heading = view.heading("Dice statistics");
        let rolled = view.stat("Dice rolled", rolls.to_string());
        let seen = view.stat("Messages seen", messages.to_string());
        let target = view.stat(
            "Goal",
            match goal {
                Some(goal) if goal > 0 => format!("{rolls} of {goal}"),
                _ => "none set".into(),
            },
        );
        let figures = view.row(vec![rolled, seen, target]);
        let chart = view.bar_chart(
            "Dice rolled by size",
            CHARTED_DICE.iter().map(|s| format!("d{s}")).collect(),
            by_die,
        );
        let form = view.add(ViewNode::Form(Form {
            action: "goal".into(),
            fields: vec![FormField {
                name: "goal".into(),
                label: "Dice to roll in this server (0 for no goal)".into(),
                kind: FieldKind::Number,
                value: goal.unwrap_or(0).to_string(),
            }],
            submit_label: "Set the goal".into(),
        }));
        let reset = view.add(ViewNode::Button(PageButton {
            label: "Reset counters".into(),
            action: "reset".into(),
            danger: true,
        }));
        let root = view.column(vec![heading, figures, chart, form, reset]);
        Ok(view.finish(root))
    }

    fn act(
        &self,
        context: PageContext,
        action: String,
        payload: String,
    ) -> Result<ActionOutcome, CogError> {
        let payload: serde_json::Value = serde_json::from_str(&payload)
            .map_err(|e| CogError::Internal(format!("the payload is not JSON: {e}")))?;
        match (context.route.as_str(), action.as_str()) {
            ("stats", "reset") => {
                kv::delete(Scope::Guild, "rolls")?;
                kv::delete(Scope::Guild, "messages")?;
                for sides in CHARTED_DICE {
                    kv::delete(Scope::Guild, &die_key(sides))?;
                }
                log::info(&format!("counters reset by {}", context.user_id));
                Ok(ActionOutcome::notice("Counters reset."))
            }
            ("stats", "goal") => {
                let goal = payload
                    .get("goal")
                    .and_then(serde_json::Value::as_i64)
                    .filter(|goal| (0..=1_000_000).contains(goal))
                    .ok_or_else(|| {
                        CogError::User("The goal is a whole number from 0 to 1000000.".into())
                    })?;
                kv::set_json(Scope::Guild, "goal", &goal, None)?;
                Ok(ActionOutcome::notice(match goal {
                    0 => "Goal cleared.".to_string(),
                    goal => format!("Goal set: {goal} dice."),
                }))
            }
            ("table", "roll") => {
                let sides = payload
                    .get("sides")
                    .and_then(serde_json::Value::as_u64)
                    .filter(|sides| (2..=1000).contains(sides))
                    .ok_or_else(|| CogError::User("Pick a die of 2 to 1000 sides.".into()))?
                    as u32;
                // Each roll from the table gets the next number of a guild
                // counter as its seed: no two alike, and reproducible in tests.
                let seed = kv::increment(Scope::Guild, "table_rolls", 1)? as u64;
                let die = dice(seed.wrapping_mul(0x2545_F491_4F6C_DD1D), sides, 1)[0];
                count_roll(context.user_id, sides, 1)?;
                ActionOutcome::data(&serde_json::json!({ "sides": sides, "die": die }))
            }
            (route, other) => Err(CogError::User(format!(
                "Page `{route}` has no action `{other}`."
            ))),
        }
    }
}

/// Die sizes the statistics page charts.
const CHARTED_DICE: [u32; 7] = [4, 6, 8, 10, 12, 20, 100];

fn die_key(sides: u32) -> String {
    format!("rolls:d{sides}")
}

/// Count `count` dice of `sides` for the guild and the user.
fn count_roll(user: u64, sides: u32, count: u32) -> Result<(), CogError> {
    kv::increment(Scope::Guild, "rolls", count as i64)?;
    kv::increment(Scope::User(user), "rolls", count as i64)?;
    if CHARTED_DICE.contains(&sides) {
        kv::increment(Scope::Guild, &die_key(sides), count as i64)?;
    }
    Ok(())
}

/// `count` dice of `sides` from `seed` (xorshift).
fn dice(seed: u64, sides: u32, count: u32) -> Vec<u32> {
    let mut state = seed ^ 0x9E37_79B9_7F4A_7C15;
    (0..count)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % sides as u64) as u32 + 1
        })
        .collect()
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
    let dice = dice(context.interaction_id, sides, count);
    let total: u32 = dice.iter().sum();
    count_roll(context.user.id, sides, count)?;
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
            Button::primary(custom_id!("again", sides, count), "Roll again")
                .emoji("🎲")
                .into(),
        ]))
}

register_cog!(Reference);
