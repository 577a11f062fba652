//! What cogs say, in Discord's JSON: messages (content, embeds, components,
//! files, allowed mentions), replies, modals, autocomplete choices, and the
//! slash commands of a manifest. Field names and numbers follow Discord's
//! API reference (v10).

use serde_json::{Map, Value, json};

use super::rest::Upload;
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

/// Refuse anything over Discord's limits ([`super::limits`]) and custom
/// ids the cog does not own: the checks every message a cog sends passes.
pub fn check_custom_ids(cog: &str, message: &Message) -> Result<(), String> {
    super::limits::check_message(message)?;
    check_owned_ids(cog, message)
}

/// Refuse custom ids a cog does not own. A button's, select's or modal's
/// custom id routes the click back to the cog its prefix names (`cog:`), so
/// a cog that could use another's prefix would make that cog act — with
/// that cog's grants — on a click it never offered.
pub fn check_owned_ids(cog: &str, message: &Message) -> Result<(), String> {
    for row in &message.components {
        for component in &row.components {
            let id = match component {
                Component::Button(button) => button.custom_id.as_deref(),
                Component::Select(select) => Some(select.custom_id.as_str()),
            };
            if let Some(id) = id {
                check_custom_id(cog, id)?;
            }
        }
    }
    Ok(())
}

/// The same for a modal.
pub fn check_modal(cog: &str, modal: &Modal) -> Result<(), String> {
    super::limits::check_modal(modal)?;
    check_owned_modal(cog, modal)
}

/// The ownership half of [`check_modal`].
pub fn check_owned_modal(cog: &str, modal: &Modal) -> Result<(), String> {
    check_custom_id(cog, &modal.custom_id)
}

/// The custom-id rule, in one place: a custom id belongs to the cog named
/// before its first `:` (`reference:roll`); an id without one belongs to no cog.
pub fn custom_id_owner(id: &str) -> Option<&str> {
    id.split_once(':').map(|(owner, _)| owner)
}

fn check_custom_id(cog: &str, id: &str) -> Result<(), String> {
    match custom_id_owner(id) {
        Some(owner) if owner == cog => Ok(()),
        _ => Err(format!(
            "custom id `{id}` must start with `{cog}:` (the cog's own name)"
        )),
    }
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
