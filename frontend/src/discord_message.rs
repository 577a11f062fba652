//! A Discord message drawn as Discord would: content with mentions,
//! embeds (colour bar, author, title, description, fields, footer),
//! buttons by style, select menus, and "Only you can see this" for an
//! ephemeral one. Read from Discord's own message JSON (the simulator's
//! record), so what the playground shows is what a user would get.
//! Nothing in it becomes markup: text is text, link buttons show their
//! address without following it.

use serde_json::Value;
use yew::prelude::*;

/// The ephemeral flag.
const EPHEMERAL: u64 = 64;

/// What a user did with a component: (message id, custom id, values).
pub type ComponentUse = (String, String, Option<Vec<String>>);

#[derive(Properties, PartialEq)]
pub struct MessageProps {
    /// Discord's message object.
    pub message: Value,
    /// A click or a pick.
    pub on_use: Callback<ComponentUse>,
    /// An interaction is running.
    pub busy: bool,
    /// The users the playground knows, for user selects: (id, name).
    #[prop_or_default]
    pub users: Vec<(String, String)>,
}

/// Content with `<@id>`, `<@&id>` and `<#id>` drawn as mentions.
fn content(text: &str) -> Html {
    let mut parts = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find('<') {
        let Some(len) = rest[start..].find('>') else {
            break;
        };
        let token = &rest[start + 1..start + len];
        let mention = if let Some(id) = token.strip_prefix("@&") {
            Some(format!("@role {id}"))
        } else if let Some(id) = token.strip_prefix('@') {
            Some(format!("@{}", id.trim_start_matches('!')))
        } else {
            token.strip_prefix('#').map(|id| format!("#{id}"))
        };
        match mention {
            Some(shown)
                if token.len() > 1
                    && token[1..]
                        .trim_start_matches(['&', '!'])
                        .bytes()
                        .all(|b| b.is_ascii_digit()) =>
            {
                parts.push(html! { { &rest[..start] } });
                parts.push(html! { <span class="d-mention">{ shown }</span> });
            }
            _ => parts.push(html! { { &rest[..start + len + 1] } }),
        }
        rest = &rest[start + len + 1..];
    }
    parts.push(html! { { rest } });
    parts.into_iter().collect()
}

fn hex(color: u64) -> String {
    format!("#{:06x}", color & 0xff_ffff)
}

fn embed(embed: &Value) -> Html {
    let color = embed["color"]
        .as_u64()
        .map(hex)
        .unwrap_or_else(|| "#1e1f22".into());
    let fields = embed["fields"].as_array().cloned().unwrap_or_default();
    html! {
        <div class="d-embed">
            <svg class="d-embed-bar" viewBox="0 0 4 10" preserveAspectRatio="none" aria-hidden="true"><rect width="4" height="10" fill={color} /></svg>
            <div class="d-embed-body">
                if let Some(author) = embed["author"]["name"].as_str() { <div class="d-embed-author">{ author }</div> }
                if let Some(title) = embed["title"].as_str() { <div class="d-embed-title">{ title }</div> }
                if let Some(text) = embed["description"].as_str() { <div class="d-embed-description">{ content(text) }</div> }
                if !fields.is_empty() {
                    <div class="d-embed-fields">
                    { for fields.iter().map(|f| html! {
                        <div class={classes!("d-embed-field", (f["inline"] == true).then_some("inline"))}>
                            <div class="d-embed-field-name">{ f["name"].as_str().unwrap_or_default() }</div>
                            <div>{ content(f["value"].as_str().unwrap_or_default()) }</div>
                        </div>
                    }) }
                    </div>
                }
                if let Some(footer) = embed["footer"]["text"].as_str() { <div class="d-embed-footer">{ footer }</div> }
            </div>
        </div>
    }
}

fn button(props: &MessageProps, message_id: &str, component: &Value) -> Html {
    let label = component["label"].as_str().unwrap_or_default().to_string();
    let emoji = component["emoji"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let text = match (emoji.is_empty(), label.is_empty()) {
        (true, _) => label.clone(),
        (false, true) => emoji.clone(),
        (false, false) => format!("{emoji} {label}"),
    };
    let style = component["style"].as_u64().unwrap_or(2);
    if style == 5 {
        let url = component["url"].as_str().unwrap_or_default().to_string();
        return html! { <span class="d-button link" title={url.clone()}>{ format!("{text} ↗") }<span class="muted">{ format!(" {url}") }</span></span> };
    }
    let class = match style {
        1 => "primary",
        3 => "success",
        4 => "danger",
        _ => "secondary",
    };
    let disabled = props.busy || component["disabled"] == true;
    let onclick = {
        let (on_use, message_id, custom_id) = (
            props.on_use.clone(),
            message_id.to_string(),
            component["custom_id"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        );
        Callback::from(move |_: MouseEvent| {
            on_use.emit((message_id.clone(), custom_id.clone(), None))
        })
    };
    html! { <button type="button" class={classes!("d-button", class)} {disabled} {onclick}>{ text }</button> }
}

#[derive(Properties, PartialEq)]
struct SelectProps {
    message_id: String,
    component: Value,
    users: Vec<(String, String)>,
    busy: bool,
    on_use: Callback<ComponentUse>,
}

/// A select menu: its options (or the known users for a user select), and
/// "Choose" to send the pick.
#[function_component(DiscordSelect)]
fn discord_select(props: &SelectProps) -> Html {
    let select = use_node_ref();
    let component = &props.component;
    let options: Vec<(String, String)> = match component["type"].as_u64() {
        Some(5) => props.users.clone(),
        _ => component["options"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|o| {
                (
                    o["value"].as_str().unwrap_or_default().to_string(),
                    o["label"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect(),
    };
    let many = component["max_values"].as_u64().unwrap_or(1) > 1;
    let placeholder = component["placeholder"]
        .as_str()
        .unwrap_or("Make a selection")
        .to_string();
    let onclick = {
        let (on_use, message_id, custom_id, select) = (
            props.on_use.clone(),
            props.message_id.clone(),
            component["custom_id"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            select.clone(),
        );
        Callback::from(move |_: MouseEvent| {
            let Some(element) = select.cast::<web_sys::HtmlSelectElement>() else {
                return;
            };
            let chosen = element.selected_options();
            let values: Vec<String> = (0..chosen.length())
                .filter_map(|i| chosen.item(i))
                .filter_map(|o| o.get_attribute("value"))
                .filter(|v| !v.is_empty())
                .collect();
            if !values.is_empty() {
                on_use.emit((message_id.clone(), custom_id.clone(), Some(values)));
            }
        })
    };
    let disabled = props.busy || component["disabled"] == true;
    html! {
        <div class="d-select">
            <select ref={select} multiple={many} {disabled} aria-label={placeholder.clone()}>
                if !many { <option value="">{ placeholder }</option> }
                { for options.into_iter().map(|(value, label)| html! { <option value={value}>{ label }</option> }) }
            </select>
            <button type="button" class="d-button secondary" {disabled} {onclick}>{ "Choose" }</button>
        </div>
    }
}

/// One message of the bot.
#[function_component(DiscordMessage)]
pub fn discord_message(props: &MessageProps) -> Html {
    let message = &props.message;
    let id = message["id"].as_str().unwrap_or_default().to_string();
    let ephemeral = message["flags"].as_u64().unwrap_or(0) & EPHEMERAL != 0;
    let embeds = message["embeds"].as_array().cloned().unwrap_or_default();
    let rows = message["components"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let author = message["author"]["username"]
        .as_str()
        .unwrap_or("the bot")
        .to_string();
    html! {
        <article class={classes!("d-message", ephemeral.then_some("ephemeral"))} aria-label="the bot's message">
            <div class="d-author">{ author }<span class="d-bot">{ "APP" }</span></div>
            if let Some(text) = message["content"].as_str().filter(|t| !t.is_empty()) {
                <div class="d-content">{ content(text) }</div>
            }
            { for embeds.iter().map(embed) }
            { for rows.iter().map(|row| html! {
                <div class="d-row">
                { for row["components"].as_array().into_iter().flatten().map(|c| match c["type"].as_u64() {
                    Some(2) => button(props, &id, c),
                    Some(3 | 5 | 6 | 7 | 8) => html! {
                        <DiscordSelect message_id={id.clone()} component={c.clone()} users={props.users.clone()}
                            busy={props.busy} on_use={props.on_use.clone()} />
                    },
                    _ => Html::default(),
                }) }
                </div>
            }) }
            if let Some(files) = message["attachments"].as_array().filter(|a| !a.is_empty()) {
                <div class="d-files">{ for files.iter().map(|f| html! { <span class="d-file">{ format!("📎 {}", f["filename"].as_str().unwrap_or("file")) }</span> }) }</div>
            }
            if ephemeral { <div class="d-ephemeral">{ "Only you can see this" }</div> }
        </article>
    }
}
