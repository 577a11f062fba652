//! Builders for the WIT records: messages, embeds, components, commands,
//! responses and dashboard views. Each constructor takes what Discord
//! requires; chained calls add the rest.

use crate::{
    ActionOutcome, ActionRow, Button, ButtonStyle, ChannelKind, Chart, Choice, ChoiceValue,
    Command, CommandInvocation, CommandOption, CommandResponse, Component, ComponentResponse,
    Embed, EmbedField, EmbedFooter, FieldKind, Form, FormField, Message, Modal, NavPlacement,
    OptionKind, OptionValue, Page, PageAccess, PageButton, Reply, SelectKind, SelectMenu,
    SelectOption, Stat, Subcommand, SubcommandGroup, Table, TextInput, TextInputStyle, View,
    ViewNode,
};

impl Message {
    /// An empty message.
    pub fn new() -> Self {
        Message {
            content: None,
            embeds: Vec::new(),
            components: Vec::new(),
            attachments: Vec::new(),
            allowed_mentions: None,
            tts: false,
        }
    }
    /// A message with just text.
    pub fn text(content: impl Into<String>) -> Self {
        Self::new().content(content)
    }
    /// Set the text.
    pub fn content(mut self, content: impl Into<String>) -> Self {
        self.content = Some(content.into());
        self
    }
    /// Add an embed.
    pub fn embed(mut self, embed: Embed) -> Self {
        self.embeds.push(embed);
        self
    }
    /// Add a row of components.
    pub fn row(mut self, components: impl IntoIterator<Item = Component>) -> Self {
        self.components.push(ActionRow {
            components: components.into_iter().collect(),
        });
        self
    }
    /// Attach a file.
    pub fn file(mut self, filename: impl Into<String>, data: Vec<u8>) -> Self {
        self.attachments.push(crate::Attachment {
            filename: filename.into(),
            content_type: None,
            description: None,
            data,
        });
        self
    }
    /// As a reply everyone in the channel sees.
    pub fn reply(self) -> Reply {
        Reply {
            message: self,
            ephemeral: false,
        }
    }
    /// As a reply only the invoking user sees.
    pub fn ephemeral(self) -> Reply {
        Reply {
            message: self,
            ephemeral: true,
        }
    }
}

impl Default for Message {
    fn default() -> Self {
        Self::new()
    }
}

impl Embed {
    /// An empty embed.
    pub fn new() -> Self {
        Embed {
            title: None,
            description: None,
            url: None,
            color: None,
            timestamp: None,
            fields: Vec::new(),
            author: None,
            footer: None,
            image_url: None,
            thumbnail_url: None,
        }
    }
    /// Set the title.
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }
    /// Set the main text.
    pub fn description(mut self, text: impl Into<String>) -> Self {
        self.description = Some(text.into());
        self
    }
    /// Set the side colour (0xRRGGBB).
    pub fn color(mut self, color: u32) -> Self {
        self.color = Some(color);
        self
    }
    /// Add a field.
    pub fn field(
        mut self,
        name: impl Into<String>,
        value: impl Into<String>,
        inline: bool,
    ) -> Self {
        self.fields.push(EmbedField {
            name: name.into(),
            value: value.into(),
            inline,
        });
        self
    }
    /// Set the footer text.
    pub fn footer(mut self, text: impl Into<String>) -> Self {
        self.footer = Some(EmbedFooter {
            text: text.into(),
            icon_url: None,
        });
        self
    }
    /// Set the timestamp (RFC 3339).
    pub fn timestamp(mut self, timestamp: impl Into<String>) -> Self {
        self.timestamp = Some(timestamp.into());
        self
    }
}

impl Default for Embed {
    fn default() -> Self {
        Self::new()
    }
}

impl Button {
    fn styled(style: ButtonStyle, custom_id: impl Into<String>, label: impl Into<String>) -> Self {
        Button {
            style,
            label: Some(label.into()),
            emoji: None,
            custom_id: Some(custom_id.into()),
            url: None,
            disabled: false,
        }
    }
    /// A blurple button; `custom_id` is the cog's own (see
    /// [`custom_id!`](crate::custom_id)), sent back to `on_component` on click.
    pub fn primary(custom_id: impl Into<String>, label: impl Into<String>) -> Self {
        Self::styled(ButtonStyle::Primary, custom_id, label)
    }
    /// A grey button.
    pub fn secondary(custom_id: impl Into<String>, label: impl Into<String>) -> Self {
        Self::styled(ButtonStyle::Secondary, custom_id, label)
    }
    /// A green button.
    pub fn success(custom_id: impl Into<String>, label: impl Into<String>) -> Self {
        Self::styled(ButtonStyle::Success, custom_id, label)
    }
    /// A red button.
    pub fn danger(custom_id: impl Into<String>, label: impl Into<String>) -> Self {
        Self::styled(ButtonStyle::Danger, custom_id, label)
    }
    /// A button that opens a URL.
    pub fn link(url: impl Into<String>, label: impl Into<String>) -> Self {
        Button {
            style: ButtonStyle::Link,
            label: Some(label.into()),
            emoji: None,
            custom_id: None,
            url: Some(url.into()),
            disabled: false,
        }
    }
    /// Add an emoji.
    pub fn emoji(mut self, emoji: impl Into<String>) -> Self {
        self.emoji = Some(emoji.into());
        self
    }
    /// Show it greyed out.
    pub fn disabled(mut self) -> Self {
        self.disabled = true;
        self
    }
}

impl From<Button> for Component {
    fn from(button: Button) -> Self {
        Component::Button(button)
    }
}

impl From<SelectMenu> for Component {
    fn from(select: SelectMenu) -> Self {
        Component::Select(select)
    }
}

impl SelectMenu {
    /// A select of fixed text options.
    pub fn text(custom_id: impl Into<String>) -> Self {
        Self::of(SelectKind::Text, custom_id)
    }
    /// A select of any kind (users, roles, channels, …).
    pub fn of(kind: SelectKind, custom_id: impl Into<String>) -> Self {
        SelectMenu {
            kind,
            custom_id: custom_id.into(),
            placeholder: None,
            options: Vec::new(),
            min_values: None,
            max_values: None,
            channel_kinds: Vec::new(),
            disabled: false,
        }
    }
    /// Add an option to a text select.
    pub fn option(mut self, label: impl Into<String>, value: impl Into<String>) -> Self {
        self.options.push(SelectOption {
            label: label.into(),
            value: value.into(),
            description: None,
            emoji: None,
            default: false,
        });
        self
    }
    /// Set the placeholder.
    pub fn placeholder(mut self, text: impl Into<String>) -> Self {
        self.placeholder = Some(text.into());
        self
    }
    /// Allow choosing between `min` and `max` values.
    pub fn range(mut self, min: u8, max: u8) -> Self {
        self.min_values = Some(min);
        self.max_values = Some(max);
        self
    }
}

impl Modal {
    /// A modal with no fields yet.
    pub fn new(custom_id: impl Into<String>, title: impl Into<String>) -> Self {
        Modal {
            custom_id: custom_id.into(),
            title: title.into(),
            inputs: Vec::new(),
        }
    }
    /// Add a text field.
    pub fn input(mut self, input: TextInput) -> Self {
        self.inputs.push(input);
        self
    }
}

impl TextInput {
    /// A required one-line field.
    pub fn short(custom_id: impl Into<String>, label: impl Into<String>) -> Self {
        Self::styled(TextInputStyle::Short, custom_id, label)
    }
    /// A required multi-line field.
    pub fn paragraph(custom_id: impl Into<String>, label: impl Into<String>) -> Self {
        Self::styled(TextInputStyle::Paragraph, custom_id, label)
    }
    fn styled(
        style: TextInputStyle,
        custom_id: impl Into<String>,
        label: impl Into<String>,
    ) -> Self {
        TextInput {
            custom_id: custom_id.into(),
            label: label.into(),
            style,
            placeholder: None,
            value: None,
            required: true,
            min_length: None,
            max_length: None,
        }
    }
    /// Make the field optional.
    pub fn optional(mut self) -> Self {
        self.required = false;
        self
    }
}

impl CommandResponse {
    /// Reply with text everyone sees.
    pub fn text(content: impl Into<String>) -> Self {
        CommandResponse::Reply(Message::text(content).reply())
    }
    /// Reply with a message everyone sees.
    pub fn message(message: Message) -> Self {
        CommandResponse::Reply(message.reply())
    }
    /// Reply with a message only the user sees.
    pub fn ephemeral(message: Message) -> Self {
        CommandResponse::Reply(message.ephemeral())
    }
    /// The cog has already answered during this call (through
    /// [`crate::interaction`]: an edit of the original response, a follow-up).
    pub fn answered() -> Self {
        CommandResponse::Defer(false)
    }
}

impl ComponentResponse {
    /// Replace the message the component sits on.
    pub fn update(message: Message) -> Self {
        ComponentResponse::Update(message)
    }
    /// Reply with a message only the user sees.
    pub fn ephemeral(message: Message) -> Self {
        ComponentResponse::Reply(message.ephemeral())
    }
}

impl Command {
    /// A command with no options yet. Name: lowercase, 1-32 characters.
    pub fn new(name: impl Into<String>, description: impl Into<String>) -> Self {
        Command {
            name: name.into(),
            description: description.into(),
            options: Vec::new(),
            subcommands: Vec::new(),
            groups: Vec::new(),
            default_member_permissions: None,
            guild_only: false,
            nsfw: false,
        }
    }
    /// Add an option.
    pub fn option(mut self, option: CommandOption) -> Self {
        self.options.push(option);
        self
    }
    /// Add a subcommand.
    pub fn subcommand(mut self, subcommand: Subcommand) -> Self {
        self.subcommands.push(subcommand);
        self
    }
    /// Add a subcommand group.
    pub fn group(mut self, group: SubcommandGroup) -> Self {
        self.groups.push(group);
        self
    }
    /// Only members with these permission bits may use it by default.
    pub fn default_member_permissions(mut self, bits: u64) -> Self {
        self.default_member_permissions = Some(bits);
        self
    }
    /// Only usable in guilds.
    pub fn guild_only(mut self) -> Self {
        self.guild_only = true;
        self
    }
}

impl Subcommand {
    /// A subcommand with no options yet.
    pub fn new(name: impl Into<String>, description: impl Into<String>) -> Self {
        Subcommand {
            name: name.into(),
            description: description.into(),
            options: Vec::new(),
        }
    }
    /// Add an option.
    pub fn option(mut self, option: CommandOption) -> Self {
        self.options.push(option);
        self
    }
}

impl SubcommandGroup {
    /// A group with no subcommands yet.
    pub fn new(name: impl Into<String>, description: impl Into<String>) -> Self {
        SubcommandGroup {
            name: name.into(),
            description: description.into(),
            subcommands: Vec::new(),
        }
    }
    /// Add a subcommand.
    pub fn subcommand(mut self, subcommand: Subcommand) -> Self {
        self.subcommands.push(subcommand);
        self
    }
}

impl CommandOption {
    /// An optional option of the given kind.
    pub fn new(kind: OptionKind, name: impl Into<String>, description: impl Into<String>) -> Self {
        CommandOption {
            name: name.into(),
            description: description.into(),
            kind,
            required: false,
            choices: Vec::new(),
            autocomplete: false,
            min_value: None,
            max_value: None,
            min_length: None,
            max_length: None,
            channel_kinds: Vec::new(),
        }
    }
    /// A text option.
    pub fn text(name: impl Into<String>, description: impl Into<String>) -> Self {
        Self::new(OptionKind::Text, name, description)
    }
    /// An integer option.
    pub fn integer(name: impl Into<String>, description: impl Into<String>) -> Self {
        Self::new(OptionKind::Integer, name, description)
    }
    /// A user option.
    pub fn user(name: impl Into<String>, description: impl Into<String>) -> Self {
        Self::new(OptionKind::User, name, description)
    }
    /// A boolean option.
    pub fn boolean(name: impl Into<String>, description: impl Into<String>) -> Self {
        Self::new(OptionKind::Boolean, name, description)
    }
    /// A file the user attaches.
    pub fn attachment(name: impl Into<String>, description: impl Into<String>) -> Self {
        Self::new(OptionKind::Attachment, name, description)
    }
    /// The user must give it.
    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }
    /// Offer a fixed text choice.
    pub fn choice(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.choices.push(Choice {
            name: name.into(),
            value: ChoiceValue::Text(value.into()),
        });
        self
    }
    /// Ask the cog for suggestions while the user types.
    pub fn autocomplete(mut self) -> Self {
        self.autocomplete = true;
        self
    }
    /// Bound a number option.
    pub fn range(mut self, min: f64, max: f64) -> Self {
        self.min_value = Some(min);
        self.max_value = Some(max);
        self
    }
    /// Bound an integer option (whole numbers, as Discord shows them).
    ///
    /// ```
    /// use baseline_sdk::CommandOption;
    /// let sides = CommandOption::integer("sides", "Sides per die").between(2, 1000);
    /// assert_eq!((sides.min_value, sides.max_value), (Some(2.0), Some(1000.0)));
    /// ```
    pub fn between(mut self, min: i64, max: i64) -> Self {
        self.min_value = Some(min as f64);
        self.max_value = Some(max as f64);
        self
    }
    /// A number option (any number).
    pub fn number(name: impl Into<String>, description: impl Into<String>) -> Self {
        Self::new(OptionKind::Number, name, description)
    }
    /// A channel option.
    pub fn channel(name: impl Into<String>, description: impl Into<String>) -> Self {
        Self::new(OptionKind::Channel, name, description)
    }
    /// A role option.
    pub fn role(name: impl Into<String>, description: impl Into<String>) -> Self {
        Self::new(OptionKind::Role, name, description)
    }
    /// A user-or-role option.
    pub fn mentionable(name: impl Into<String>, description: impl Into<String>) -> Self {
        Self::new(OptionKind::Mentionable, name, description)
    }
    /// Limit a channel option to some kinds.
    pub fn channel_kinds(mut self, kinds: impl IntoIterator<Item = ChannelKind>) -> Self {
        self.channel_kinds = kinds.into_iter().collect();
        self
    }
}

impl CommandInvocation {
    /// The value of an option, if the user gave it.
    pub fn option(&self, name: &str) -> Option<&OptionValue> {
        self.options
            .iter()
            .find(|entry| entry.name == name)
            .map(|entry| &entry.value)
    }
    /// A text option's value.
    pub fn text(&self, name: &str) -> Option<&str> {
        match self.option(name) {
            Some(OptionValue::Text(text)) => Some(text),
            _ => None,
        }
    }
    /// An integer option's value.
    pub fn integer(&self, name: &str) -> Option<i64> {
        match self.option(name) {
            Some(OptionValue::Integer(value)) => Some(*value),
            _ => None,
        }
    }
    /// A boolean option's value.
    pub fn boolean(&self, name: &str) -> Option<bool> {
        match self.option(name) {
            Some(OptionValue::Boolean(value)) => Some(*value),
            _ => None,
        }
    }
    /// A user option's id.
    pub fn user(&self, name: &str) -> Option<u64> {
        match self.option(name) {
            Some(OptionValue::User(id) | OptionValue::Mentionable(id)) => Some(*id),
            _ => None,
        }
    }
    /// A number option's value (integers given to a number option too).
    pub fn number(&self, name: &str) -> Option<f64> {
        match self.option(name) {
            Some(OptionValue::Number(value)) => Some(*value),
            Some(OptionValue::Integer(value)) => Some(*value as f64),
            _ => None,
        }
    }
    /// A channel option's id.
    pub fn channel(&self, name: &str) -> Option<u64> {
        match self.option(name) {
            Some(OptionValue::Channel(id)) => Some(*id),
            _ => None,
        }
    }
    /// A role option's id (or a mentionable option's, whichever it names).
    pub fn role(&self, name: &str) -> Option<u64> {
        match self.option(name) {
            Some(OptionValue::Role(id) | OptionValue::Mentionable(id)) => Some(*id),
            _ => None,
        }
    }
    /// An attachment option's file.
    pub fn attachment(&self, name: &str) -> Option<&crate::AttachmentInfo> {
        match self.option(name) {
            Some(OptionValue::Attachment(file)) => Some(file),
            _ => None,
        }
    }
}

impl Page {
    /// A sidebar page anyone authorized on the guild may open.
    pub fn new(route: impl Into<String>, title: impl Into<String>) -> Self {
        Page {
            route: route.into(),
            title: title.into(),
            nav: NavPlacement::Sidebar,
            access: PageAccess::Member,
            ui_module: false,
        }
    }
    /// Only guild admins may open it.
    pub fn admin_only(mut self) -> Self {
        self.access = PageAccess::Admin;
        self
    }
    /// Only the bot's developer team may open it.
    pub fn developer_only(mut self) -> Self {
        self.access = PageAccess::Developer;
        self
    }
    /// Where its link appears (the sidebar by default).
    pub fn nav(mut self, nav: NavPlacement) -> Self {
        self.nav = nav;
        self
    }
    /// Drawn in the browser by the cog's UI module (`NAME.ui.wasm`, written
    /// with `baseline-ui-sdk`) instead of by [`Cog::render`](crate::Cog::render);
    /// the module reaches the cog through [`Cog::act`](crate::Cog::act).
    pub fn ui_module(mut self) -> Self {
        self.ui_module = true;
        self
    }
}

impl ActionOutcome {
    /// Show `notice` to the admin and draw the page again.
    pub fn notice(notice: impl Into<String>) -> Self {
        ActionOutcome {
            notice: Some(notice.into()),
            view: None,
            data: None,
        }
    }
    /// Answer a UI module with `data` (serialized as JSON).
    pub fn data<T: serde::Serialize>(data: &T) -> Result<Self, crate::CogError> {
        let data = serde_json::to_string(data)
            .map_err(|e| crate::CogError::Internal(format!("cannot encode the page data: {e}")))?;
        Ok(ActionOutcome {
            notice: None,
            view: None,
            data: Some(data),
        })
    }
}

/// Builds a dashboard [`View`]: add nodes, then `finish` with the root.
/// Containers take the indices that `add` returned.
///
/// ```no_run
/// # use baseline_sdk::ViewBuilder;
/// let mut view = ViewBuilder::new();
/// let title = view.heading("Rolls");
/// let total = view.stat("Total", "42");
/// let root = view.column(vec![title, total]);
/// let view = view.finish(root);
/// ```
#[derive(Debug, Default)]
pub struct ViewBuilder {
    nodes: Vec<ViewNode>,
}

impl ViewBuilder {
    /// An empty view.
    pub fn new() -> Self {
        Self::default()
    }
    /// Add any node; returns its index.
    pub fn add(&mut self, node: ViewNode) -> u32 {
        self.nodes.push(node);
        (self.nodes.len() - 1) as u32
    }
    /// A heading.
    pub fn heading(&mut self, text: impl Into<String>) -> u32 {
        self.add(ViewNode::Heading(text.into()))
    }
    /// A paragraph.
    pub fn text(&mut self, text: impl Into<String>) -> u32 {
        self.add(ViewNode::Text(text.into()))
    }
    /// A figure with a caption.
    pub fn stat(&mut self, label: impl Into<String>, value: impl Into<String>) -> u32 {
        self.add(ViewNode::Stat(Stat {
            label: label.into(),
            value: value.into(),
        }))
    }
    /// A table.
    pub fn table(&mut self, columns: Vec<String>, rows: Vec<Vec<String>>) -> u32 {
        self.add(ViewNode::Table(Table { columns, rows }))
    }
    /// A bar chart.
    pub fn bar_chart(
        &mut self,
        title: impl Into<String>,
        labels: Vec<String>,
        values: Vec<f64>,
    ) -> u32 {
        self.add(ViewNode::Chart(Chart {
            title: title.into(),
            line: false,
            labels,
            values,
        }))
    }
    /// A button that calls `act` with `action`.
    pub fn button(&mut self, label: impl Into<String>, action: impl Into<String>) -> u32 {
        self.add(ViewNode::Button(PageButton {
            label: label.into(),
            action: action.into(),
            danger: false,
        }))
    }
    /// A form with text fields `(name, label, value)` that calls `act` with `action`.
    pub fn form(
        &mut self,
        action: impl Into<String>,
        fields: Vec<(String, String, String)>,
        submit: impl Into<String>,
    ) -> u32 {
        let fields = fields
            .into_iter()
            .map(|(name, label, value)| FormField {
                name,
                label,
                kind: FieldKind::Text,
                value,
            })
            .collect();
        self.add(ViewNode::Form(Form {
            action: action.into(),
            fields,
            submit_label: submit.into(),
        }))
    }
    /// Children stacked vertically.
    pub fn column(&mut self, children: Vec<u32>) -> u32 {
        self.add(ViewNode::Column(children))
    }
    /// Children side by side.
    pub fn row(&mut self, children: Vec<u32>) -> u32 {
        self.add(ViewNode::Row(children))
    }
    /// The finished view with `root` at the top.
    pub fn finish(self, root: u32) -> View {
        View {
            root,
            nodes: self.nodes,
        }
    }
}
