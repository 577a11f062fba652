//! Discord's documented limits on what a bot sends, checked before sending:
//! a message, embed, component or modal over a limit is refused here with
//! the limit named, instead of Discord answering 400 (which, for an
//! interaction, would leave the user with nothing).
//!
//! Sources: discord.com/developers/docs — Message (content 2 000, 10
//! embeds, 10 attachments), Embed limits (title 256, description 4 096, 25
//! fields, field name 256 and value 1 024, footer 2 048, author 256, 6 000
//! characters in all), Message Components (5 action rows, 5 buttons or one
//! select per row, custom id 100, label 80, select: 25 options, option
//! label/value/description 100, placeholder 150), Modal (title 45, 5 text
//! inputs, label 45, value/placeholder 4 000 / 100), uploads (25 MiB in all
//! for a bot without boosts). Lengths count characters (Unicode scalar
//! values), as Discord does.

use crate::wit::types::{ActionRow, Component, Embed, Message, Modal, SelectKind};

/// Longest message content.
pub const CONTENT: usize = 2_000;
/// Most embeds per message.
pub const EMBEDS: usize = 10;
/// Longest embed title.
pub const EMBED_TITLE: usize = 256;
/// Longest embed description.
pub const EMBED_DESCRIPTION: usize = 4_096;
/// Most fields per embed.
pub const EMBED_FIELDS: usize = 25;
/// Longest field name.
pub const FIELD_NAME: usize = 256;
/// Longest field value.
pub const FIELD_VALUE: usize = 1_024;
/// Longest footer text.
pub const FOOTER: usize = 2_048;
/// Longest author name.
pub const AUTHOR: usize = 256;
/// Characters across all embeds of a message.
pub const EMBEDS_TOTAL: usize = 6_000;
/// Most action rows per message.
pub const ROWS: usize = 5;
/// Most buttons per row.
pub const BUTTONS_PER_ROW: usize = 5;
/// Longest custom id.
pub const CUSTOM_ID: usize = 100;
/// Longest button label.
pub const BUTTON_LABEL: usize = 80;
/// Most options of a select.
pub const SELECT_OPTIONS: usize = 25;
/// Longest select option label, value or description.
pub const SELECT_OPTION_TEXT: usize = 100;
/// Longest select placeholder.
pub const PLACEHOLDER: usize = 150;
/// Most attachments per message.
pub const ATTACHMENTS: usize = 10;
/// Most bytes of all attachments of a message.
pub const ATTACHMENT_BYTES: usize = 25 << 20;
/// Longest modal title.
pub const MODAL_TITLE: usize = 45;
/// Most text inputs of a modal.
pub const MODAL_INPUTS: usize = 5;
/// Longest text input label.
pub const INPUT_LABEL: usize = 45;
/// Longest text input value (and `max_length`).
pub const INPUT_VALUE: usize = 4_000;
/// Longest text input placeholder.
pub const INPUT_PLACEHOLDER: usize = 100;

fn chars(text: &str) -> usize {
    text.chars().count()
}

fn at_most(what: &str, text: &str, limit: usize) -> Result<(), String> {
    let length = chars(text);
    if length > limit {
        return Err(format!(
            "{what} is {length} characters; Discord allows {limit}"
        ));
    }
    Ok(())
}

fn count(what: &str, found: usize, limit: usize) -> Result<(), String> {
    if found > limit {
        return Err(format!("{found} {what}; Discord allows {limit}"));
    }
    Ok(())
}

fn embed(index: usize, embed: &Embed) -> Result<usize, String> {
    let at = |what: &str| format!("embed {} {what}", index + 1);
    let mut total = 0;
    let mut text = |what: &str, value: &str, limit: usize| {
        total += chars(value);
        at_most(&at(what), value, limit)
    };
    if let Some(title) = &embed.title {
        text("title", title, EMBED_TITLE)?;
    }
    if let Some(description) = &embed.description {
        text("description", description, EMBED_DESCRIPTION)?;
    }
    if let Some(footer) = &embed.footer {
        text("footer", &footer.text, FOOTER)?;
    }
    if let Some(author) = &embed.author {
        text("author name", &author.name, AUTHOR)?;
    }
    count(
        &format!("fields in embed {}", index + 1),
        embed.fields.len(),
        EMBED_FIELDS,
    )?;
    for (i, field) in embed.fields.iter().enumerate() {
        text(&format!("field {} name", i + 1), &field.name, FIELD_NAME)?;
        text(&format!("field {} value", i + 1), &field.value, FIELD_VALUE)?;
    }
    Ok(total)
}

fn rows(rows: &[ActionRow]) -> Result<(), String> {
    count("component rows", rows.len(), ROWS)?;
    for (r, row) in rows.iter().enumerate() {
        let at = format!("row {}", r + 1);
        let selects = row
            .components
            .iter()
            .filter(|c| matches!(c, Component::Select(_)))
            .count();
        if row.components.is_empty() {
            return Err(format!("{at} is empty; Discord needs 1 to 5 components"));
        }
        if selects > 0 && row.components.len() > 1 {
            return Err(format!(
                "{at} mixes a select with other components; a select fills its row"
            ));
        }
        count(
            &format!("buttons in {at}"),
            row.components.len(),
            BUTTONS_PER_ROW,
        )?;
        for (c, component) in row.components.iter().enumerate() {
            let at = format!("{at} component {}", c + 1);
            match component {
                Component::Button(button) => {
                    if let Some(id) = &button.custom_id {
                        at_most(&format!("{at} custom id"), id, CUSTOM_ID)?;
                    }
                    if let Some(label) = &button.label {
                        at_most(&format!("{at} label"), label, BUTTON_LABEL)?;
                    }
                }
                Component::Select(select) => {
                    at_most(&format!("{at} custom id"), &select.custom_id, CUSTOM_ID)?;
                    if let Some(placeholder) = &select.placeholder {
                        at_most(&format!("{at} placeholder"), placeholder, PLACEHOLDER)?;
                    }
                    count(
                        &format!("options in {at}"),
                        select.options.len(),
                        SELECT_OPTIONS,
                    )?;
                    if select.kind == SelectKind::Text && select.options.is_empty() {
                        return Err(format!("{at} is a text select without options"));
                    }
                    for (o, option) in select.options.iter().enumerate() {
                        let at = format!("{at} option {}", o + 1);
                        at_most(&format!("{at} label"), &option.label, SELECT_OPTION_TEXT)?;
                        at_most(&format!("{at} value"), &option.value, SELECT_OPTION_TEXT)?;
                        if let Some(description) = &option.description {
                            at_most(
                                &format!("{at} description"),
                                description,
                                SELECT_OPTION_TEXT,
                            )?;
                        }
                    }
                    for (what, value) in [
                        ("min values", select.min_values),
                        ("max values", select.max_values),
                    ] {
                        if let Some(value) = value
                            && usize::from(value) > SELECT_OPTIONS
                        {
                            return Err(format!(
                                "{at} {what} is {value}; Discord allows {SELECT_OPTIONS}"
                            ));
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

/// Check a message against Discord's limits; the first limit it passes, named.
pub fn check_message(message: &Message) -> Result<(), String> {
    if let Some(content) = &message.content {
        at_most("content", content, CONTENT)?;
    }
    count("embeds", message.embeds.len(), EMBEDS)?;
    let mut total = 0;
    for (i, e) in message.embeds.iter().enumerate() {
        total += embed(i, e)?;
    }
    if total > EMBEDS_TOTAL {
        return Err(format!(
            "the embeds hold {total} characters in all; Discord allows {EMBEDS_TOTAL}"
        ));
    }
    rows(&message.components)?;
    count("attachments", message.attachments.len(), ATTACHMENTS)?;
    let bytes: usize = message.attachments.iter().map(|a| a.data.len()).sum();
    if bytes > ATTACHMENT_BYTES {
        return Err(format!(
            "the attachments hold {bytes} bytes; Discord allows {ATTACHMENT_BYTES}"
        ));
    }
    Ok(())
}

/// Check a modal against Discord's limits.
pub fn check_modal(modal: &Modal) -> Result<(), String> {
    at_most("modal custom id", &modal.custom_id, CUSTOM_ID)?;
    at_most("modal title", &modal.title, MODAL_TITLE)?;
    if modal.inputs.is_empty() {
        return Err("a modal needs 1 to 5 text inputs".into());
    }
    count("text inputs", modal.inputs.len(), MODAL_INPUTS)?;
    for (i, input) in modal.inputs.iter().enumerate() {
        let at = format!("text input {}", i + 1);
        at_most(&format!("{at} custom id"), &input.custom_id, CUSTOM_ID)?;
        at_most(&format!("{at} label"), &input.label, INPUT_LABEL)?;
        if let Some(value) = &input.value {
            at_most(&format!("{at} value"), value, INPUT_VALUE)?;
        }
        if let Some(placeholder) = &input.placeholder {
            at_most(&format!("{at} placeholder"), placeholder, INPUT_PLACEHOLDER)?;
        }
        if input
            .max_length
            .is_some_and(|m| usize::from(m) > INPUT_VALUE)
        {
            return Err(format!("{at} max length is over {INPUT_VALUE}"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wit::fixtures::button;
    use crate::wit::types::{EmbedField, SelectMenu, SelectOption, TextInput, TextInputStyle};

    fn message() -> Message {
        Message {
            content: Some("hi".into()),
            embeds: vec![],
            components: vec![],
            attachments: vec![],
            allowed_mentions: None,
            tts: false,
        }
    }

    fn embed_with(fields: usize, value: &str) -> Embed {
        Embed {
            title: None,
            description: None,
            url: None,
            color: None,
            timestamp: None,
            fields: (0..fields)
                .map(|i| EmbedField {
                    name: format!("f{i}"),
                    value: value.into(),
                    inline: false,
                })
                .collect(),
            author: None,
            footer: None,
            image_url: None,
            thumbnail_url: None,
        }
    }

    #[test]
    fn each_message_limit_is_named() {
        assert!(check_message(&message()).is_ok());
        let cases: Vec<(Message, &str)> = vec![
            (
                Message {
                    content: Some("é".repeat(2_001)),
                    ..message()
                },
                "content is 2001 characters",
            ),
            (
                Message {
                    embeds: vec![embed_with(26, "v")],
                    ..message()
                },
                "26 fields in embed 1",
            ),
            (
                Message {
                    embeds: vec![embed_with(1, &"v".repeat(1_025))],
                    ..message()
                },
                "field 1 value is 1025",
            ),
            (
                Message {
                    embeds: (0..11).map(|_| embed_with(0, "")).collect(),
                    ..message()
                },
                "11 embeds",
            ),
            (
                Message {
                    embeds: (0..7).map(|_| embed_with(1, &"v".repeat(1_000))).collect(),
                    ..message()
                },
                "6000",
            ),
            (
                Message {
                    components: (0..6)
                        .map(|_| ActionRow {
                            components: vec![button("c:1")],
                        })
                        .collect(),
                    ..message()
                },
                "6 component rows",
            ),
            (
                Message {
                    components: vec![ActionRow {
                        components: (0..6).map(|_| button("c:1")).collect(),
                    }],
                    ..message()
                },
                "6 buttons in row 1",
            ),
            (
                Message {
                    components: vec![ActionRow {
                        components: vec![button(&format!("c:{}", "x".repeat(100)))],
                    }],
                    ..message()
                },
                "custom id is 102",
            ),
        ];
        for (message, expected) in cases {
            let error = check_message(&message).expect_err(expected);
            assert!(error.contains(expected), "{error} (expected {expected})");
        }
    }

    #[test]
    fn selects_and_modals() {
        let select = |options: usize| Message {
            components: vec![ActionRow {
                components: vec![Component::Select(SelectMenu {
                    kind: SelectKind::Text,
                    custom_id: "c:s".into(),
                    placeholder: None,
                    options: (0..options)
                        .map(|i| SelectOption {
                            label: format!("o{i}"),
                            value: format!("{i}"),
                            description: None,
                            emoji: None,
                            default: false,
                        })
                        .collect(),
                    min_values: None,
                    max_values: None,
                    channel_kinds: vec![],
                    disabled: false,
                })],
            }],
            ..message()
        };
        assert!(check_message(&select(25)).is_ok());
        assert!(
            check_message(&select(26))
                .unwrap_err()
                .contains("26 options")
        );
        let modal = |title: &str, inputs: usize| Modal {
            custom_id: "c:m".into(),
            title: title.into(),
            inputs: (0..inputs)
                .map(|i| TextInput {
                    custom_id: format!("i{i}"),
                    label: "label".into(),
                    style: TextInputStyle::Short,
                    placeholder: None,
                    value: None,
                    required: true,
                    min_length: None,
                    max_length: None,
                })
                .collect(),
        };
        assert!(check_modal(&modal("ok", 5)).is_ok());
        assert!(
            check_modal(&modal("ok", 6))
                .unwrap_err()
                .contains("6 text inputs")
        );
        assert!(
            check_modal(&modal(&"t".repeat(46), 1))
                .unwrap_err()
                .contains("title")
        );
    }
}
