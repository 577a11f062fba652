//! The reference cog's UI module: the `table` page, drawn in the admin's
//! browser. Picking a die is the module's own state (no call to the host);
//! a roll goes through the cog's `act` (`roll`), which counts it with the
//! server's other rolls and answers with the die.
//!
//! Built for `wasm32-unknown-unknown` and shipped as `reference.ui.wasm`
//! beside `reference.wasm` (`just cogs`).

use baseline_ui_sdk::{ActOutcome, Tier, Ui, UiEvent, UiModule, ViewBuilder, export_ui};

const DICE: [u32; 4] = [4, 6, 20, 100];
/// Rolls kept in the table.
const KEPT: usize = 10;

struct Table {
    sides: u32,
    rolls: Vec<(u32, u32)>,
    pending: Option<u32>,
    problem: Option<String>,
}

impl UiModule for Table {
    fn init(ui: &mut Ui) -> Self {
        let table = Table {
            sides: 6,
            rolls: Vec::new(),
            pending: None,
            problem: None,
        };
        table.draw(ui);
        table
    }

    fn event(&mut self, ui: &mut Ui, event: UiEvent) {
        match event {
            UiEvent::Click { action } if action == "roll" => {
                if self.pending.is_none() {
                    let payload = serde_json::json!({ "sides": self.sides });
                    match ui.call("roll", payload) {
                        Ok(id) => {
                            self.pending = Some(id);
                            self.problem = None;
                        }
                        Err(problem) => self.problem = Some(problem),
                    }
                }
            }
            UiEvent::Click { action } => {
                if let Some(sides) = action.strip_prefix('d').and_then(|n| n.parse().ok())
                    && DICE.contains(&sides)
                {
                    self.sides = sides;
                }
            }
            UiEvent::ActionResult { request, result } if Some(request) == self.pending => {
                self.pending = None;
                match result {
                    Ok(ActOutcome {
                        data: Some(data), ..
                    }) => {
                        let die = data.get("die").and_then(|d| d.as_u64()).unwrap_or(0) as u32;
                        let sides = data.get("sides").and_then(|d| d.as_u64()).unwrap_or(0) as u32;
                        self.rolls.insert(0, (sides, die));
                        self.rolls.truncate(KEPT);
                    }
                    Ok(_) => self.problem = Some("The cog answered without a die.".into()),
                    Err(problem) => self.problem = Some(problem),
                }
            }
            _ => return,
        }
        self.draw(ui);
    }
}

impl Table {
    fn draw(&self, ui: &mut Ui) {
        let may_roll = ui.context().tier >= Tier::Editor;
        let mut view = ViewBuilder::new();
        let heading = view.heading("Dice table");
        let intro = view.text(
            "Pick a die, then roll. Picking happens here in your browser; each roll goes \
             to the cog and counts with the server's other rolls.",
        );
        let picks: Vec<u32> = DICE
            .iter()
            .map(|&sides| {
                let label = match sides == self.sides {
                    true => format!("d{sides} ✓"),
                    false => format!("d{sides}"),
                };
                view.button(label, format!("d{sides}"))
            })
            .collect();
        let picker = view.row(picks);
        let chosen = view.stat("Die", format!("d{}", self.sides));
        let last = view.stat(
            "Last roll",
            match (self.pending, self.rolls.first()) {
                (Some(_), _) => "rolling…".to_string(),
                (None, Some((_, die))) => die.to_string(),
                (None, None) => "–".to_string(),
            },
        );
        let figures = view.row(vec![chosen, last]);
        let mut children = vec![heading, intro, picker, figures];
        if may_roll {
            children.push(view.button(format!("Roll a d{}", self.sides), "roll"));
        } else {
            children.push(view.text("Rolling needs the editor tier in this server."));
        }
        if let Some(problem) = &self.problem {
            children.push(view.text(format!("Not rolled: {problem}")));
        }
        if !self.rolls.is_empty() {
            let rows = self
                .rolls
                .iter()
                .map(|(sides, die)| vec![format!("d{sides}"), die.to_string()])
                .collect();
            children.push(view.table(vec!["Die".into(), "Rolled".into()], rows));
        }
        let root = view.column(children);
        ui.show(&view.finish(root));
    }
}

export_ui!(Table);
