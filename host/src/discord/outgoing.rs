//! What cogs say, in Discord's JSON: messages (content, embeds, components,
//! files, allowed mentions), replies, modals, autocomplete choices, and the
//! slash commands of a manifest. Field names and numbers follow Discord's
//! API reference (v10).

use serde_json::{Map, Value, json};

use super::rest::Upload;
use crate::wit::WitVersion;
use crate::wit::types::{
    ActionRow, AllowedMentions, ButtonStyle, ChannelKind, Choice, ChoiceValue, Command,
    CommandOption, Component, Embed, Message, Modal, OptionKind, Reply, SelectKind, TextInputStyle,
};

/// Message flag: only the invoking user sees it.
pub const EPHEMERAL: u64 = 1 << 6;

/// Discord's number for a channel kind.
pub fn channel_kind_number(kind: ChannelKind) -> u8 {
    match kind {
        ChannelKind::Text => 0,
        ChannelKind::DirectMessage => 1,
        ChannelKind::Voice => 2,
        ChannelKind::Category => 4,
        ChannelKind::Announcement => 5,
        ChannelKind::AnnouncementThread => 10,
        ChannelKind::PublicThread => 11,
        ChannelKind::PrivateThread => 12,
        ChannelKind::Stage => 13,
        ChannelKind::Forum => 15,
        ChannelKind::Media => 16,
    }
}

fn put(map: &mut Map<String, Value>, key: &str, value: Option<impl Into<Value>>) {
    if let Some(value) = value {
        map.insert(key.into(), value.into());
    }
}

/// A custom emoji `name:id` or a unicode emoji, as a partial emoji object.
fn emoji(text: &str) -> Value {
    match text.rsplit_once(':') {
        Some((name, id)) if id.bytes().all(|b| b.is_ascii_digit()) && !id.is_empty() => {
            json!({"name": name.trim_start_matches('<').trim_start_matches("a:").trim_start_matches(':'), "id": id})
        }
        _ => json!({"name": text}),
    }
}

fn embed(embed: &Embed) -> Value {
    let mut map = Map::new();
    put(&mut map, "title", embed.title.clone());
    put(&mut map, "description", embed.description.clone());
    put(&mut map, "url", embed.url.clone());
    put(&mut map, "color", embed.color);
    put(&mut map, "timestamp", embed.timestamp.clone());
    if !embed.fields.is_empty() {
        map.insert(
            "fields".into(),
            embed
                .fields
                .iter()
                .map(|f| json!({"name": f.name, "value": f.value, "inline": f.inline}))
                .collect(),
        );
    }
    if let Some(author) = &embed.author {
        map.insert(
            "author".into(),
            json!({"name": author.name, "url": author.url, "icon_url": author.icon_url}),
        );
    }
    if let Some(footer) = &embed.footer {
        map.insert(
            "footer".into(),
            json!({"text": footer.text, "icon_url": footer.icon_url}),
        );
    }
    put(
        &mut map,
        "image",
        embed.image_url.as_ref().map(|u| json!({"url": u})),
    );
    put(
        &mut map,
        "thumbnail",
        embed.thumbnail_url.as_ref().map(|u| json!({"url": u})),
    );
    Value::Object(map)
}

fn component(component: &Component) -> Value {
    match component {
        Component::Button(button) => {
            let style = match button.style {
                ButtonStyle::Primary => 1,
                ButtonStyle::Secondary => 2,
                ButtonStyle::Success => 3,
                ButtonStyle::Danger => 4,
                ButtonStyle::Link => 5,
            };
            let mut map = Map::new();
            map.insert("type".into(), json!(2));
            map.insert("style".into(), json!(style));
            put(&mut map, "label", button.label.clone());
            put(&mut map, "emoji", button.emoji.as_deref().map(emoji));
            put(&mut map, "custom_id", button.custom_id.clone());
            put(&mut map, "url", button.url.clone());
            map.insert("disabled".into(), json!(button.disabled));
            Value::Object(map)
        }
        Component::Select(select) => {
            let kind = match select.kind {
                SelectKind::Text => 3,
                SelectKind::User => 5,
                SelectKind::Role => 6,
                SelectKind::Mentionable => 7,
                SelectKind::Channel => 8,
            };
            let mut map = Map::new();
            map.insert("type".into(), json!(kind));
            map.insert("custom_id".into(), json!(select.custom_id));
            put(&mut map, "placeholder", select.placeholder.clone());
            put(&mut map, "min_values", select.min_values);
            put(&mut map, "max_values", select.max_values);
            map.insert("disabled".into(), json!(select.disabled));
            if select.kind == SelectKind::Text {
                map.insert(
                    "options".into(),
                    select
                        .options
                        .iter()
                        .map(|o| {
                            let mut option =
                                json!({"label": o.label, "value": o.value, "default": o.default});
                            if let Some(d) = &o.description {
                                option["description"] = json!(d);
                            }
                            if let Some(e) = &o.emoji {
                                option["emoji"] = emoji(e);
                            }
                            option
                        })
                        .collect(),
                );
            }
            if !select.channel_kinds.is_empty() {
                map.insert(
                    "channel_types".into(),
                    select
                        .channel_kinds
                        .iter()
                        .map(|k| json!(channel_kind_number(*k)))
                        .collect(),
                );
            }
            Value::Object(map)
        }
    }
}

fn rows(rows: &[ActionRow]) -> Value {
    rows.iter()
        .map(|row| json!({"type": 1, "components": row.components.iter().map(component).collect::<Vec<_>>()}))
        .collect()
}

fn allowed_mentions(mentions: Option<&AllowedMentions>) -> Value {
    let Some(m) = mentions else {
        return json!({"parse": []});
    };
    let mut parse = Vec::new();
    if m.users {
        parse.push("users");
    }
    if m.roles {
        parse.push("roles");
    }
    if m.everyone {
        parse.push("everyone");
    }
    json!({"parse": parse, "replied_user": m.replied_user})
}

/// A message body and its files. `editing` leaves out what an edit must not
/// reset (tts) and keeps the field list explicit (an empty list clears).
pub fn message(message: &Message, editing: bool) -> (Value, Vec<Upload>) {
    let mut map = Map::new();
    map.insert(
        "content".into(),
        json!(message.content.clone().unwrap_or_default()),
    );
    map.insert("embeds".into(), message.embeds.iter().map(embed).collect());
    map.insert("components".into(), rows(&message.components));
    map.insert(
        "allowed_mentions".into(),
        allowed_mentions(message.allowed_mentions.as_ref()),
    );
    if !editing {
        map.insert("tts".into(), json!(message.tts));
    }
    let uploads: Vec<Upload> = message
        .attachments
        .iter()
        .map(|a| Upload {
            filename: a.filename.clone(),
            content_type: a.content_type.clone(),
            data: a.data.clone(),
        })
        .collect();
    if !uploads.is_empty() {
        map.insert(
            "attachments".into(),
            message
                .attachments
                .iter()
                .enumerate()
                .map(
                    |(i, a)| json!({"id": i, "filename": a.filename, "description": a.description}),
                )
                .collect(),
        );
    }
    (Value::Object(map), uploads)
}

/// How one cog's custom ids are told from another's on the wire: the
/// cog's name and `:` before the id (`reference:roll`), which routes a
/// click back to that cog. A cog that could write another's prefix would
/// make that cog act — with its grants — on a click it never offered, so:
/// - since WIT 0.2.0 the host writes the prefix on the way out and strips
///   it on the way in; the cog only ever sees its own part, and cannot
///   name another cog's ids at all;
/// - a 0.1.0 cog writes the prefix itself; the host checks it is the
///   cog's own name.
#[derive(Debug, Clone, Copy)]
pub struct CustomIds<'a> {
    cog: &'a str,
    host_writes: bool,
}

impl<'a> CustomIds<'a> {
    /// The rule for the cog named `cog`, built against `version`.
    pub fn of(cog: &'a str, version: WitVersion) -> Self {
        Self {
            cog,
            host_writes: version.host_namespaces_custom_ids(),
        }
    }

    /// The cog's name.
    pub fn cog(&self) -> &'a str {
        self.cog
    }

    /// The cog's custom id `id` as it goes on the wire, or why it cannot.
    fn outgoing(&self, id: &mut String) -> Result<(), String> {
        if self.host_writes {
            id.insert(0, ':');
            id.insert_str(0, self.cog);
            return Ok(());
        }
        match custom_id_owner(id) {
            Some(owner) if owner == self.cog => Ok(()),
            _ => Err(format!(
                "custom id `{id}` must start with `{}:` (the cog's own name)",
                self.cog
            )),
        }
    }

    /// The custom id the cog wrote, for `wire` as it came back from Discord
    /// (its prefix named this cog).
    pub fn incoming(&self, wire: &str) -> String {
        match (self.host_writes, wire.split_once(':')) {
            (true, Some((_, own))) => own.to_string(),
            _ => wire.to_string(),
        }
    }

    /// Put the custom ids of `message` on the wire (or refuse one the cog
    /// does not own). Discord's limits are checked after, on the wire ids.
    pub fn message(&self, message: &mut Message) -> Result<(), String> {
        for row in &mut message.components {
            for component in &mut row.components {
                match component {
                    Component::Button(button) => {
                        if let Some(id) = &mut button.custom_id {
                            self.outgoing(id)?;
                        }
                    }
                    Component::Select(select) => self.outgoing(&mut select.custom_id)?,
                }
            }
        }
        Ok(())
    }

    /// The same for a modal (its text inputs' ids are only the modal's).
    pub fn modal(&self, modal: &mut Modal) -> Result<(), String> {
        self.outgoing(&mut modal.custom_id)
    }

    /// A message a cog sends through a capability, ready for the wire: its
    /// custom ids put there, then Discord's limits ([`super::limits`]).
    pub fn ready(&self, message: &mut Message) -> Result<(), String> {
        self.message(message)?;
        super::limits::check_message(message).map_err(|problem| self.explain(problem))
    }

    /// A limit `problem` found on the wire ids, said so that the cog's
    /// author understands it: the host's prefix counts towards the limit.
    pub fn explain(&self, problem: String) -> String {
        if self.host_writes && problem.contains("custom id") {
            format!(
                "{problem} (counting the `{}:` the host puts before the cog's own id)",
                self.cog
            )
        } else {
            problem
        }
    }
}

/// The custom-id rule, in one place: a custom id belongs to the cog named
/// before its first `:` (`reference:roll`); an id without one belongs to no cog.
pub fn custom_id_owner(id: &str) -> Option<&str> {
    id.split_once(':').map(|(owner, _)| owner)
}

/// A reply: the message with the ephemeral flag when asked.
pub fn reply(reply: &Reply) -> (Value, Vec<Upload>) {
    let (mut body, files) = message(&reply.message, false);
    if reply.ephemeral {
        body["flags"] = json!(EPHEMERAL);
    }
    (body, files)
}

/// A plain ephemeral notice (for failures and refusals).
pub fn notice(text: &str) -> Value {
    json!({"content": text, "flags": EPHEMERAL, "allowed_mentions": {"parse": []}})
}

/// A modal's callback data.
pub fn modal(modal: &Modal) -> Value {
    let inputs: Vec<Value> = modal
        .inputs
        .iter()
        .map(|input| {
            let mut map = Map::new();
            map.insert("type".into(), json!(4));
            map.insert("custom_id".into(), json!(input.custom_id));
            map.insert("label".into(), json!(input.label));
            map.insert(
                "style".into(),
                json!(match input.style {
                    TextInputStyle::Short => 1,
                    TextInputStyle::Paragraph => 2,
                }),
            );
            put(&mut map, "placeholder", input.placeholder.clone());
            put(&mut map, "value", input.value.clone());
            map.insert("required".into(), json!(input.required));
            put(&mut map, "min_length", input.min_length);
            put(&mut map, "max_length", input.max_length);
            json!({"type": 1, "components": [Value::Object(map)]})
        })
        .collect();
    json!({"custom_id": modal.custom_id, "title": modal.title, "components": inputs})
}

/// A choice, for fixed choices and autocomplete results.
pub fn choice(choice: &Choice) -> Value {
    let value = match &choice.value {
        ChoiceValue::Text(t) => json!(t),
        ChoiceValue::Integer(i) => json!(i),
        ChoiceValue::Number(n) => json!(n),
    };
    json!({"name": choice.name, "value": value})
}

fn option_kind(kind: OptionKind) -> u8 {
    match kind {
        OptionKind::Text => 3,
        OptionKind::Integer => 4,
        OptionKind::Boolean => 5,
        OptionKind::User => 6,
        OptionKind::Channel => 7,
        OptionKind::Role => 8,
        OptionKind::Mentionable => 9,
        OptionKind::Number => 10,
        OptionKind::Attachment => 11,
    }
}

fn option(option: &CommandOption) -> Value {
    let mut map = Map::new();
    map.insert("type".into(), json!(option_kind(option.kind)));
    map.insert("name".into(), json!(option.name));
    map.insert("description".into(), json!(option.description));
    map.insert("required".into(), json!(option.required));
    if !option.choices.is_empty() {
        map.insert(
            "choices".into(),
            option.choices.iter().map(choice).collect(),
        );
    }
    if option.autocomplete {
        map.insert("autocomplete".into(), json!(true));
    }
    put(&mut map, "min_value", option.min_value);
    put(&mut map, "max_value", option.max_value);
    put(&mut map, "min_length", option.min_length);
    put(&mut map, "max_length", option.max_length);
    if !option.channel_kinds.is_empty() {
        map.insert(
            "channel_types".into(),
            option
                .channel_kinds
                .iter()
                .map(|k| json!(channel_kind_number(*k)))
                .collect(),
        );
    }
    Value::Object(map)
}

/// A slash command as registered with Discord.
pub fn command(command: &Command) -> Value {
    let mut options: Vec<Value> = command.options.iter().map(option).collect();
    let subcommand = |name: &str, description: &str, opts: &[CommandOption]| {
        json!({"type": 1, "name": name, "description": description,
               "options": opts.iter().map(option).collect::<Vec<_>>()})
    };
    for sub in &command.subcommands {
        options.push(subcommand(&sub.name, &sub.description, &sub.options));
    }
    for group in &command.groups {
        options.push(json!({"type": 2, "name": group.name, "description": group.description,
            "options": group.subcommands.iter().map(|s| subcommand(&s.name, &s.description, &s.options)).collect::<Vec<_>>()}));
    }
    json!({
        "type": 1,
        "name": command.name,
        "description": command.description,
        "options": options,
        "default_member_permissions": command.default_member_permissions.map(|p| p.to_string()),
        "contexts": if command.guild_only { json!([0]) } else { json!([0, 1, 2]) },
        "nsfw": command.nsfw,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wit::fixtures::button;
    use crate::wit::types::ActionRow;

    fn with_button(id: &str) -> Message {
        Message {
            content: None,
            embeds: vec![],
            components: vec![ActionRow {
                components: vec![button(id)],
            }],
            attachments: vec![],
            allowed_mentions: None,
            tts: false,
        }
    }

    fn wire_id(message: &Message) -> &str {
        let Component::Button(button) = &message.components[0].components[0] else {
            panic!("a button")
        };
        button.custom_id.as_deref().unwrap()
    }

    #[test]
    fn since_0_2_the_host_namespaces_ids_and_no_cog_can_name_another() {
        let ids = CustomIds::of("dice", WitVersion::V0_2);
        // Another cog's name in the id stays inside this cog's namespace.
        let mut message = with_button("reference:again:6:1");
        ids.ready(&mut message).unwrap();
        assert_eq!(wire_id(&message), "dice:reference:again:6:1");
        assert_eq!(custom_id_owner(wire_id(&message)), Some("dice"));
        assert_eq!(
            ids.incoming("dice:reference:again:6:1"),
            "reference:again:6:1"
        );
        // The limit counts the prefix, and says so.
        let mut long = with_button(&"x".repeat(96));
        let problem = ids.ready(&mut long).unwrap_err();
        assert!(problem.contains("`dice:`"), "{problem}");
    }

    #[test]
    fn a_0_1_cog_writes_its_own_name_and_only_its_own() {
        let ids = CustomIds::of("dice", WitVersion::V0_1);
        let mut own = with_button("dice:again:6:1");
        ids.ready(&mut own).unwrap();
        assert_eq!(wire_id(&own), "dice:again:6:1");
        assert_eq!(ids.incoming("dice:again:6:1"), "dice:again:6:1");
        let mut other = with_button("reference:again:6:1");
        assert!(
            ids.ready(&mut other)
                .unwrap_err()
                .contains("must start with `dice:`")
        );
    }
}
