//! Cog pages: the view format a cog's `render` (through the host) and a
//! cog's UI module (in the browser) both produce, its one validator, and the
//! API shapes around pages.
//!
//! A view is flat: `nodes` with containers naming their children by index
//! (WIT has no recursive types, and a flat list cannot smuggle unbounded
//! nesting past a parser). [`View::check`] is what makes it drawable: every
//! index in range, a tree (no node reached twice, so no cycle), bounded
//! depth, node count and text. The host checks what `render` and `act`
//! return before anything reaches a browser; the dashboard checks what a UI
//! module emits before it draws it.

use serde::{Deserialize, Serialize};

use crate::Tier;

/// Most nodes in one view.
pub const MAX_NODES: usize = 2_000;
/// Deepest nesting of containers (the root is at depth 1).
pub const MAX_DEPTH: usize = 24;
/// Most bytes of text across a view (labels, cells, headings, values).
pub const MAX_TEXT_BYTES: usize = 256 << 10;
/// Most rows in one table.
pub const MAX_TABLE_ROWS: usize = 1_000;
/// Most points in one chart.
pub const MAX_CHART_POINTS: usize = 500;
/// Most fields in one form.
pub const MAX_FORM_FIELDS: usize = 50;
/// Longest action name.
pub const MAX_ACTION_LEN: usize = 64;

/// A page the cog draws (or its UI module draws) with the dashboard's components.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct View {
    /// Index of the root node in `nodes`.
    pub root: u32,
    /// Every node; containers refer to others by index.
    pub nodes: Vec<ViewNode>,
}

/// One node of a [`View`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum ViewNode {
    /// Children stacked vertically.
    Column {
        /// Indices into `nodes`.
        children: Vec<u32>,
    },
    /// Children side by side (wrapping on narrow screens).
    Row {
        /// Indices into `nodes`.
        children: Vec<u32>,
    },
    /// A heading.
    Heading {
        /// Its text.
        text: String,
    },
    /// A paragraph of plain text.
    Text {
        /// Its text.
        text: String,
    },
    /// Preformatted text.
    Code {
        /// Its text.
        text: String,
    },
    /// A table.
    Table {
        /// Column headers.
        columns: Vec<String>,
        /// Rows, each as long as `columns`.
        rows: Vec<Vec<String>>,
    },
    /// A figure with a caption.
    Stat {
        /// Caption.
        label: String,
        /// The figure as shown.
        value: String,
    },
    /// A bar or line chart.
    Chart {
        /// Title.
        title: String,
        /// A line instead of bars.
        line: bool,
        /// Labels along the x axis.
        labels: Vec<String>,
        /// One value per label.
        values: Vec<f64>,
    },
    /// A button that runs `action`.
    Button {
        /// Its text.
        label: String,
        /// The action it runs.
        action: String,
        /// Drawn in red; the dashboard asks for confirmation first.
        danger: bool,
    },
    /// A form whose submission runs `action` with the fields as a JSON object.
    Form {
        /// The action it runs.
        action: String,
        /// Its fields.
        fields: Vec<FormField>,
        /// Text of the submit button.
        submit_label: String,
    },
    /// A horizontal rule.
    Divider,
}

/// A field of a page form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FormField {
    /// Key in the submitted object.
    pub name: String,
    /// Label.
    pub label: String,
    /// How it is entered.
    pub kind: FieldKind,
    /// Current value as text (`true`/`false` for a checkbox).
    pub value: String,
}

/// How a form field is entered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum FieldKind {
    /// One line of text.
    Text,
    /// Several lines.
    Textarea,
    /// A number (submitted as a JSON number).
    Number,
    /// A checkbox (submitted as a JSON boolean).
    Checkbox,
}

/// Why a view cannot be drawn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewError(pub String);

impl std::fmt::Display for ViewError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ViewError {}

impl View {
    /// The children of node `index` (empty for leaves and out of range).
    pub fn children(&self, index: u32) -> &[u32] {
        match self.nodes.get(index as usize) {
            Some(ViewNode::Column { children } | ViewNode::Row { children }) => children,
            _ => &[],
        }
    }

    /// Whether this view can be drawn: see the module's documentation.
    pub fn check(&self) -> Result<(), ViewError> {
        let fail = |message: String| Err(ViewError(message));
        let count = self.nodes.len();
        if count == 0 {
            return fail("the view has no nodes".into());
        }
        if count > MAX_NODES {
            return fail(format!(
                "the view has {count} nodes; at most {MAX_NODES} are drawn"
            ));
        }
        if self.root as usize >= count {
            return fail(format!(
                "the root is node {}, but the view has {count} nodes",
                self.root
            ));
        }
        let mut text = 0usize;
        let mut references = 0usize;
        for (index, node) in self.nodes.iter().enumerate() {
            text += node_text(node);
            references += self.children(index as u32).len();
            check_node(index, node, count)?;
        }
        // In a tree every node but the root has one parent.
        if references >= count {
            return fail(format!(
                "the view's containers name {references} children among {count} nodes: some node is reached twice (a cycle, or a child shared by two containers)"
            ));
        }
        if text > MAX_TEXT_BYTES {
            return fail(format!(
                "the view holds {text} bytes of text; at most {MAX_TEXT_BYTES} are drawn"
            ));
        }
        // Walk from the root: each node reached once (a tree: no cycle, no
        // shared child that would multiply the drawing), bounded depth.
        let mut seen = vec![false; count];
        let mut stack = vec![(self.root, 1usize)];
        while let Some((index, depth)) = stack.pop() {
            if std::mem::replace(&mut seen[index as usize], true) {
                return fail(format!(
                    "node {index} is reached twice (a cycle, or a child shared by two containers)"
                ));
            }
            if depth > MAX_DEPTH {
                return fail(format!(
                    "the view nests deeper than {MAX_DEPTH} levels (at node {index})"
                ));
            }
            for &child in self.children(index) {
                stack.push((child, depth + 1));
            }
        }
        Ok(())
    }
}

fn node_text(node: &ViewNode) -> usize {
    match node {
        ViewNode::Column { .. } | ViewNode::Row { .. } | ViewNode::Divider => 0,
        ViewNode::Heading { text } | ViewNode::Text { text } | ViewNode::Code { text } => {
            text.len()
        }
        ViewNode::Table { columns, rows } => columns
            .iter()
            .chain(rows.iter().flatten())
            .map(String::len)
            .sum(),
        ViewNode::Stat { label, value } => label.len() + value.len(),
        ViewNode::Chart { title, labels, .. } => {
            title.len() + labels.iter().map(String::len).sum::<usize>()
        }
        ViewNode::Button { label, action, .. } => label.len() + action.len(),
        ViewNode::Form {
            action,
            fields,
            submit_label,
        } => {
            action.len()
                + submit_label.len()
                + fields
                    .iter()
                    .map(|f| f.name.len() + f.label.len() + f.value.len())
                    .sum::<usize>()
        }
    }
}

/// Whether `name` is an action name: 1 to [`MAX_ACTION_LEN`] ASCII letters,
/// digits, `_` and `-`. The one owner of the rule: views are checked with it
/// (host and dashboard), the dashboard checks a UI module's `call_action`
/// with it before any request, and the host's act route checks it again.
/// A name is data sent in a request body, never part of a URL, but a closed
/// pattern keeps it so wherever it travels.
pub fn check_action_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > MAX_ACTION_LEN {
        return Err(format!(
            "an action name is 1 to {MAX_ACTION_LEN} bytes, not {}",
            name.len()
        ));
    }
    match name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-'))
    {
        Some(bad) => Err(format!(
            "an action name holds only letters, digits, `_` and `-`, not {bad:?}"
        )),
        None => Ok(()),
    }
}

fn check_action(index: usize, action: &str) -> Result<(), ViewError> {
    check_action_name(action).map_err(|why| ViewError(format!("node {index}: {why}")))
}

fn check_node(index: usize, node: &ViewNode, count: usize) -> Result<(), ViewError> {
    let fail = |message: String| Err(ViewError(message));
    match node {
        ViewNode::Column { children } | ViewNode::Row { children } => {
            if let Some(child) = children.iter().find(|&&c| c as usize >= count) {
                return fail(format!(
                    "node {index} refers to node {child}, but the view has {count} nodes"
                ));
            }
        }
        ViewNode::Table { columns, rows } => {
            if rows.len() > MAX_TABLE_ROWS {
                return fail(format!(
                    "the table at node {index} has {} rows; at most {MAX_TABLE_ROWS} are drawn",
                    rows.len()
                ));
            }
            if let Some((row, cells)) = rows
                .iter()
                .enumerate()
                .find(|(_, cells)| cells.len() != columns.len())
            {
                return fail(format!(
                    "row {row} of the table at node {index} has {} cells for {} columns",
                    cells.len(),
                    columns.len()
                ));
            }
        }
        ViewNode::Chart { labels, values, .. } => {
            if labels.len() != values.len() {
                return fail(format!(
                    "the chart at node {index} has {} labels for {} values",
                    labels.len(),
                    values.len()
                ));
            }
            if values.len() > MAX_CHART_POINTS {
                return fail(format!(
                    "the chart at node {index} has {} points; at most {MAX_CHART_POINTS} are drawn",
                    values.len()
                ));
            }
            if values.iter().any(|v| !v.is_finite()) {
                return fail(format!(
                    "the chart at node {index} has a value that is not a finite number"
                ));
            }
        }
        ViewNode::Button { action, .. } => check_action(index, action)?,
        ViewNode::Form { action, fields, .. } => {
            check_action(index, action)?;
            if fields.len() > MAX_FORM_FIELDS {
                return fail(format!(
                    "the form at node {index} has {} fields; at most {MAX_FORM_FIELDS}",
                    fields.len()
                ));
            }
            let mut names = std::collections::HashSet::new();
            if let Some(field) = fields.iter().find(|f| !names.insert(f.name.as_str())) {
                return fail(format!(
                    "the form at node {index} has two fields named `{}`",
                    field.name
                ));
            }
        }
        ViewNode::Heading { .. }
        | ViewNode::Text { .. }
        | ViewNode::Code { .. }
        | ViewNode::Stat { .. }
        | ViewNode::Divider => {}
    }
    Ok(())
}

/// Builds a [`View`]: add nodes, then [`finish`](Self::finish) with the root.
#[derive(Debug, Default, Clone)]
pub struct ViewBuilder {
    nodes: Vec<ViewNode>,
}

impl ViewBuilder {
    /// An empty view.
    pub fn new() -> Self {
        Self::default()
    }
    /// Add a node; its index.
    pub fn add(&mut self, node: ViewNode) -> u32 {
        self.nodes.push(node);
        (self.nodes.len() - 1) as u32
    }
    /// A heading.
    pub fn heading(&mut self, text: impl Into<String>) -> u32 {
        self.add(ViewNode::Heading { text: text.into() })
    }
    /// A paragraph.
    pub fn text(&mut self, text: impl Into<String>) -> u32 {
        self.add(ViewNode::Text { text: text.into() })
    }
    /// A figure with a caption.
    pub fn stat(&mut self, label: impl Into<String>, value: impl Into<String>) -> u32 {
        self.add(ViewNode::Stat {
            label: label.into(),
            value: value.into(),
        })
    }
    /// A button running `action`.
    pub fn button(&mut self, label: impl Into<String>, action: impl Into<String>) -> u32 {
        self.add(ViewNode::Button {
            label: label.into(),
            action: action.into(),
            danger: false,
        })
    }
    /// A button running `action` after the admin confirms (drawn in red).
    pub fn danger_button(&mut self, label: impl Into<String>, action: impl Into<String>) -> u32 {
        self.add(ViewNode::Button {
            label: label.into(),
            action: action.into(),
            danger: true,
        })
    }
    /// A table.
    pub fn table(&mut self, columns: Vec<String>, rows: Vec<Vec<String>>) -> u32 {
        self.add(ViewNode::Table { columns, rows })
    }
    /// Preformatted text.
    pub fn code(&mut self, text: impl Into<String>) -> u32 {
        self.add(ViewNode::Code { text: text.into() })
    }
    /// A horizontal rule.
    pub fn divider(&mut self) -> u32 {
        self.add(ViewNode::Divider)
    }
    /// A form submitting its fields to `action`.
    pub fn form(
        &mut self,
        action: impl Into<String>,
        fields: Vec<FormField>,
        submit_label: impl Into<String>,
    ) -> u32 {
        self.add(ViewNode::Form {
            action: action.into(),
            fields,
            submit_label: submit_label.into(),
        })
    }
    /// Children stacked.
    pub fn column(&mut self, children: Vec<u32>) -> u32 {
        self.add(ViewNode::Column { children })
    }
    /// Children side by side.
    pub fn row(&mut self, children: Vec<u32>) -> u32 {
        self.add(ViewNode::Row { children })
    }
    /// The view, rooted at `root`.
    pub fn finish(self, root: u32) -> View {
        View {
            root,
            nodes: self.nodes,
        }
    }
}

/// How a page is drawn.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum PageDrawing {
    /// The host calls the cog's `render`; the dashboard draws the view.
    Rendered,
    /// The cog's UI module draws it in the browser.
    UiModule {
        /// Where to fetch the module (its hash in the path: cache it forever).
        url: String,
        /// SHA-256 of the module, hex.
        sha256: String,
    },
    /// The page wants a UI module the host refused (or the cog ships none).
    Refused {
        /// Why, for the admin.
        reason: String,
    },
}

/// A page a cog contributes to a guild (`GET …/guilds/{guild_id}/pages`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PageLink {
    /// The cog.
    pub cog: String,
    /// The page's route under the cog.
    pub route: String,
    /// Its title.
    pub title: String,
    /// Where its link goes: `sidebar`, `cog-settings` or `hidden`.
    pub nav: String,
    /// How it is drawn.
    pub drawing: PageDrawing,
    /// Whether the caller may run its actions.
    pub can_act: bool,
}

/// A rendered page (`GET …/cogs/{cog}/pages/{route}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PageView {
    /// The page's title.
    pub title: String,
    /// What to draw, checked.
    pub view: View,
    /// Whether the caller may run its actions.
    pub can_act: bool,
}

/// An action to run (`POST …/pages/{route}/act`): the name travels in the
/// body, so whatever a cog or its UI module names, the request stays on its
/// page's one URL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ActRequest {
    /// The action's name ([`check_action_name`]).
    pub action: String,
    /// A JSON object: the form's fields, or `{}` for a button.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub payload: serde_json::Value,
}

/// What an action did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ActOutcome {
    /// A notice for the admin.
    pub notice: Option<String>,
    /// The page to draw now, checked (absent: render again).
    pub view: Option<View>,
    /// Data for a UI module.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub data: Option<serde_json::Value>,
}

/// What a UI module may read about its page (`page_context`): no session,
/// no token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UiContext {
    /// The guild, as a string id.
    pub guild_id: String,
    /// The cog.
    pub cog: String,
    /// The page's route.
    pub route: String,
    /// The viewer's tier in the guild.
    pub tier: Tier,
    /// The browser's language (`en-GB`).
    pub locale: String,
}

/// What the dashboard tells a UI module (`ui_event`, JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum UiEvent {
    /// A button of the module's view was clicked.
    Click {
        /// The button's action.
        action: String,
    },
    /// A form of the module's view was submitted.
    Submit {
        /// The form's action.
        action: String,
        /// Its fields.
        values: serde_json::Value,
    },
    /// The answer to a `call_action`.
    ActionResult {
        /// The id `call_action` returned.
        request: u32,
        /// The cog's answer, or why there is none.
        result: Result<ActOutcome, String>,
    },
}

/// What a UI module asks with `call_action` (JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UiActionCall {
    /// The cog's action.
    pub action: String,
    /// Its payload (a JSON object).
    pub payload: serde_json::Value,
}

/// The UI-module ABI this dashboard speaks (`ui_abi_version`).
pub const UI_ABI_VERSION: i32 = 1;
/// Largest UI module the host serves.
pub const MAX_UI_MODULE_BYTES: usize = 4 << 20;
/// Most memory a UI module may declare as its maximum (64 KiB pages): 64
/// MiB. A module must declare one, so the browser itself stops its growth
/// there; the dashboard's check after each call is the second line.
pub const MAX_UI_MEMORY_PAGES: u64 = 1_024;
/// Most views a UI module may emit in one call into it (start-up or one
/// event); past it the dashboard stops the module.
pub const MAX_UI_VIEWS_PER_CALL: u32 = 16;
/// Largest view a UI module may emit, in bytes of JSON (parsed on the
/// page's thread).
pub const MAX_UI_VIEW_BYTES: usize = 1 << 20;
/// The only imports a UI module may have: (module, name, parameters, results),
/// all `i32`.
pub const UI_IMPORTS: &[(&str, &str, usize, usize)] = &[
    ("bridge", "emit_view", 2, 0),
    ("bridge", "call_action", 2, 1),
    ("bridge", "page_context", 2, 1),
];
/// The functions a UI module must export: (name, parameters, results), all
/// `i32`; and it exports its `memory`.
pub const UI_EXPORTS: &[(&str, usize, usize)] = &[
    ("ui_alloc", 1, 1),
    ("ui_abi_version", 0, 1),
    ("ui_init", 0, 0),
    ("ui_event", 2, 0),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn text(t: &str) -> ViewNode {
        ViewNode::Text { text: t.into() }
    }

    fn problem(view: View) -> String {
        view.check().unwrap_err().0
    }

    #[test]
    fn a_tree_is_drawable() {
        let mut b = ViewBuilder::new();
        let a = b.heading("a");
        let c = b.stat("n", "1");
        let row = b.row(vec![c]);
        let root = b.column(vec![a, row]);
        assert_eq!(b.finish(root).check(), Ok(()));
    }

    #[test]
    fn broken_views_are_refused_with_the_reason() {
        let cycle = View {
            root: 0,
            nodes: vec![
                ViewNode::Column { children: vec![1] },
                ViewNode::Row { children: vec![0] },
            ],
        };
        assert!(problem(cycle).contains("reached twice"));
        let shared = View {
            root: 0,
            nodes: vec![
                ViewNode::Column {
                    children: vec![1, 1],
                },
                text("x"),
            ],
        };
        assert!(problem(shared).contains("reached twice"));
        let out_of_range = View {
            root: 0,
            nodes: vec![ViewNode::Column { children: vec![7] }],
        };
        assert_eq!(
            problem(out_of_range),
            "node 0 refers to node 7, but the view has 1 nodes"
        );
        let bad_root = View {
            root: 3,
            nodes: vec![text("x")],
        };
        assert!(problem(bad_root).contains("the root is node 3"));
        assert!(
            problem(View {
                root: 0,
                nodes: vec![]
            })
            .contains("no nodes")
        );
        let deep = View {
            root: 0,
            nodes: (0..40u32)
                .map(|i| ViewNode::Column {
                    children: if i < 39 { vec![i + 1] } else { vec![] },
                })
                .collect(),
        };
        assert!(problem(deep).contains("deeper than 24"));
        let many = View {
            root: 0,
            nodes: vec![ViewNode::Divider; MAX_NODES + 1],
        };
        assert!(problem(many).contains("2001 nodes"));
        let big = View {
            root: 0,
            nodes: vec![text(&"x".repeat(MAX_TEXT_BYTES + 1))],
        };
        assert!(problem(big).contains("bytes of text"));
        let ragged = View {
            root: 0,
            nodes: vec![ViewNode::Table {
                columns: vec!["a".into(), "b".into()],
                rows: vec![vec!["1".into()]],
            }],
        };
        assert!(problem(ragged).contains("1 cells for 2 columns"));
        let nan = View {
            root: 0,
            nodes: vec![ViewNode::Chart {
                title: "t".into(),
                line: false,
                labels: vec!["a".into()],
                values: vec![f64::NAN],
            }],
        };
        assert!(problem(nan).contains("finite"));
        let nameless = View {
            root: 0,
            nodes: vec![ViewNode::Button {
                label: "x".into(),
                action: String::new(),
                danger: false,
            }],
        };
        assert!(problem(nameless).contains("1 to 64 bytes"));
        let escaping = View {
            root: 0,
            nodes: vec![ViewNode::Button {
                label: "x".into(),
                action: "../../../../reference/pages/stats/actions/reset".into(),
                danger: false,
            }],
        };
        assert!(problem(escaping).contains("not '.'"));
    }

    #[test]
    fn action_names_are_a_closed_pattern() {
        for good in ["roll", "set-goal", "reset_all", "A9", &"a".repeat(64)] {
            assert_eq!(check_action_name(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "..",
            "../x",
            "a/b",
            "a?b=1",
            "a#b",
            "a%2Fb",
            "a b",
            "a\\b",
            "é",
            &"a".repeat(65),
        ] {
            assert!(check_action_name(bad).is_err(), "{bad:?} passed");
        }
    }

    #[test]
    fn the_json_shape_is_tagged() {
        let view = View {
            root: 0,
            nodes: vec![ViewNode::Column { children: vec![1] }, ViewNode::Divider],
        };
        let json = serde_json::to_string(&view).unwrap();
        assert_eq!(
            json,
            r#"{"root":0,"nodes":[{"type":"column","children":[1]},{"type":"divider"}]}"#
        );
        let event: UiEvent = serde_json::from_str(r#"{"kind":"click","action":"roll"}"#).unwrap();
        assert_eq!(
            event,
            UiEvent::Click {
                action: "roll".into()
            }
        );
    }
}
