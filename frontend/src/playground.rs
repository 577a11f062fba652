//! The playground (developer team): pick a simulated user and one of the
//! bot's slash commands, fill its options, run it through the Discord
//! simulator, and see the answer drawn as Discord would; its buttons and
//! selects work (each use is a new interaction), and a modal it opens can
//! be filled and sent. Every turn stays in the transcript, newest first.

use serde_json::{Map, Value, json};
use wasm_bindgen::JsCast as _;
use yew::prelude::*;

use crate::api;
use crate::discord_message::{ComponentUse, DiscordMessage};

/// A slash command as the playground offers it: `dice roll` and its options.
#[derive(Clone, PartialEq)]
struct Runnable {
    name: String,
    description: String,
    options: Vec<Value>,
}

/// Every runnable name of the registered commands: a command, or each of
/// its subcommands (and those of its groups).
fn runnables(commands: &[Value]) -> Vec<Runnable> {
    let mut found = Vec::new();
    for command in commands
        .iter()
        .filter(|c| c["type"].as_u64().unwrap_or(1) == 1)
    {
        let name = command["name"].as_str().unwrap_or_default();
        let options = command["options"].as_array().cloned().unwrap_or_default();
        let subs: Vec<&Value> = options
            .iter()
            .filter(|o| matches!(o["type"].as_u64(), Some(1 | 2)))
            .collect();
        if subs.is_empty() {
            found.push(Runnable {
                name: name.to_string(),
                description: command["description"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                options,
            });
            continue;
        }
        for sub in subs {
            let sub_name = format!("{name} {}", sub["name"].as_str().unwrap_or_default());
            if sub["type"] == 2 {
                for leaf in sub["options"].as_array().into_iter().flatten() {
                    found.push(Runnable {
                        name: format!("{sub_name} {}", leaf["name"].as_str().unwrap_or_default()),
                        description: leaf["description"].as_str().unwrap_or_default().to_string(),
                        options: leaf["options"].as_array().cloned().unwrap_or_default(),
                    });
                }
            } else {
                found.push(Runnable {
                    name: sub_name,
                    description: sub["description"].as_str().unwrap_or_default().to_string(),
                    options: sub["options"].as_array().cloned().unwrap_or_default(),
                });
            }
        }
    }
    found.sort_by(|a, b| a.name.cmp(&b.name));
    found
}

/// One thing done in the playground and what the bot answered.
#[derive(Clone, PartialEq)]
struct Turn {
    what: String,
    record: Result<Value, String>,
}

#[function_component(PlaygroundPage)]
pub fn playground_page() -> Html {
    let overview = use_state(|| None::<Result<Value, String>>);
    let chosen = use_state(|| 0usize);
    let user = use_state(String::new);
    let turns = use_state(Vec::<Turn>::new);
    let busy = use_state(|| false);
    let form = use_node_ref();
    {
        let overview = overview.clone();
        use_effect_with((), move |_| {
            wasm_bindgen_futures::spawn_local(async move {
                let found = api::get::<Value>("/api/v1/playground").await;
                overview.set(Some(found.map_err(|f| f.to_string())));
            });
        });
    }
    let Some(loaded) = &*overview else {
        return html! { <><h1>{ "Playground" }</h1><div class="skeleton" aria-busy="true">{ "\u{a0}" }</div></> };
    };
    let data = match loaded {
        Ok(data) => data.clone(),
        Err(why) => {
            return html! {
                <>
                    <h1>{ "Playground" }</h1>
                    <section class="card error" role="alert"><h2>{ "No playground here" }</h2><p>{ why }</p></section>
                </>
            };
        }
    };
    let commands = runnables(
        data["commands"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default(),
    );
    let users: Vec<(String, String)> = data["users"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|u| {
            (
                u["id"].as_str().unwrap_or_default().to_string(),
                u["username"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    // Who plays: the one picked, else the server's owner (the simulator's
    // default actor).
    let acting = match user.as_str() {
        "" => data["default_user"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        picked => picked.to_string(),
    };
    let user_name = |id: &str| {
        users
            .iter()
            .find(|(u, _)| u == id)
            .map(|(_, n)| n.clone())
            .unwrap_or_else(|| id.to_string())
    };
    // A turn: send `body` to `path`, put the answer on top of the transcript.
    let play = {
        let (turns, busy) = (turns.clone(), busy.clone());
        Callback::from(move |(what, path, body): (String, &'static str, Value)| {
            let (turns, busy) = (turns.clone(), busy.clone());
            busy.set(true);
            wasm_bindgen_futures::spawn_local(async move {
                let record = api::post_for::<_, Value>(path, &body)
                    .await
                    .map_err(|f| f.to_string());
                let mut list = (*turns).clone();
                list.insert(0, Turn { what, record });
                list.truncate(20);
                turns.set(list);
                busy.set(false);
            });
        })
    };
    let current = commands.get(*chosen).cloned();
    let onsubmit = {
        let (play, form, current, user) =
            (play.clone(), form.clone(), current.clone(), acting.clone());
        let who = user_name(&user);
        Callback::from(move |event: SubmitEvent| {
            event.prevent_default();
            let Some(command) = &current else { return };
            let Some(form) = form.cast::<web_sys::HtmlFormElement>() else {
                return;
            };
            let mut options = Map::new();
            let mut shown = Vec::new();
            let elements = form.elements();
            for option in &command.options {
                let name = option["name"].as_str().unwrap_or_default();
                let Some(element) = elements.named_item(&format!("opt-{name}")) else {
                    continue;
                };
                let text = match option["type"].as_u64() {
                    Some(5) => element
                        .dyn_ref::<web_sys::HtmlInputElement>()
                        .map(|i| i.checked().to_string())
                        .unwrap_or_default(),
                    _ => element
                        .dyn_ref::<web_sys::HtmlInputElement>()
                        .map(|i| i.value())
                        .or_else(|| {
                            element
                                .dyn_ref::<web_sys::HtmlSelectElement>()
                                .map(|s| s.value())
                        })
                        .unwrap_or_default(),
                };
                if text.trim().is_empty() {
                    continue;
                }
                let value = match option["type"].as_u64() {
                    Some(4) => text
                        .trim()
                        .parse::<i64>()
                        .map(Value::from)
                        .unwrap_or(Value::String(text.clone())),
                    Some(10) => text
                        .trim()
                        .parse::<f64>()
                        .map(Value::from)
                        .unwrap_or(Value::String(text.clone())),
                    Some(5) => Value::Bool(text == "true"),
                    _ => Value::String(text.clone()),
                };
                shown.push(format!("{name}:{text}"));
                options.insert(name.to_string(), value);
            }
            let mut body = json!({"name": command.name, "options": options});
            if !user.is_empty() {
                body["user_id"] = json!(user);
            }
            let what = format!("/{} {} — as {who}", command.name, shown.join(" "));
            play.emit((what, "/api/v1/playground/commands", body));
        })
    };
    let on_use = {
        let (play, user) = (play.clone(), acting.clone());
        let who = user_name(&user);
        Callback::from(move |(message_id, custom_id, values): ComponentUse| {
            let mut body = json!({"message_id": message_id, "custom_id": custom_id});
            let what = match &values {
                Some(values) => format!("picked {} — as {who}", values.join(", ")),
                None => format!("clicked {custom_id} — as {who}"),
            };
            if let Some(values) = values {
                body["values"] = json!(values);
            }
            if !user.is_empty() {
                body["user_id"] = json!(user);
            }
            play.emit((what, "/api/v1/playground/components", body));
        })
    };
    let on_modal = {
        let (play, user) = (play.clone(), acting.clone());
        Callback::from(
            move |(custom_id, fields, message_id): (String, Value, Option<String>)| {
                let mut body = json!({"custom_id": custom_id, "fields": fields});
                if let Some(message) = message_id {
                    body["message_id"] = json!(message);
                }
                if !user.is_empty() {
                    body["user_id"] = json!(user);
                }
                play.emit((
                    "sent the form".to_string(),
                    "/api/v1/playground/modals",
                    body,
                ));
            },
        )
    };
    let pick_command = {
        let chosen = chosen.clone();
        Callback::from(move |event: Event| {
            let select: web_sys::HtmlSelectElement = event.target_unchecked_into();
            chosen.set(select.value().parse().unwrap_or(0));
        })
    };
    let pick_user = {
        let user = user.clone();
        Callback::from(move |event: Event| {
            let select: web_sys::HtmlSelectElement = event.target_unchecked_into();
            user.set(select.value());
        })
    };
    html! {
        <>
            <h1>{ "Playground" }</h1>
            <p class="muted">{ format!("Run a command in {} as one of the simulator's users; the answer comes through the bot as Discord would send it.", data["guild_name"].as_str().unwrap_or("the simulator's server")) }</p>
            <form class="settings playground" ref={form} {onsubmit}>
                <div class="field">
                    <label for="play-user">{ "As" }</label>
                    <select id="play-user" onchange={pick_user}>
                        { for users.iter().map(|(id, name)| html! { <option value={id.clone()} selected={acting == *id}>{ name }</option> }) }
                    </select>
                </div>
                <div class="field">
                    <label for="play-command">{ "Command" }</label>
                    <select id="play-command" onchange={pick_command}>
                        { for commands.iter().enumerate().map(|(i, c)| html! { <option value={i.to_string()} selected={i == *chosen}>{ format!("/{}", c.name) }</option> }) }
                    </select>
                    if let Some(command) = &current { <span class="muted">{ &command.description }</span> }
                </div>
                if let Some(command) = &current {
                    { for command.options.iter().map(|option| option_field(&command.name, option)) }
                }
                <div class="actions"><button type="submit" class="button primary" disabled={*busy || current.is_none()}>{ if *busy { "Running…" } else { "Run" } }</button></div>
            </form>
            <ol class="transcript" aria-label="transcript">
            { for turns.iter().map(|turn| html! {
                <li class="turn">
                    <div class="turn-what">{ &turn.what }</div>
                    { draw(&turn.record, &on_use, &on_modal, *busy, &users) }
                </li>
            }) }
            </ol>
        </>
    }
}

/// An input for one option of a command.
fn option_field(command: &str, option: &Value) -> Html {
    let name = option["name"].as_str().unwrap_or_default();
    let id = format!("opt-{name}");
    let required = option["required"] == true;
    let label = format!("{name}{}", if required { " *" } else { "" });
    let input = match (option["type"].as_u64(), option["choices"].as_array()) {
        (_, Some(choices)) => html! {
            <select id={id.clone()} name={id.clone()}>
                if !required { <option value="">{ "—" }</option> }
                { for choices.iter().map(|c| {
                    let value = match &c["value"] { Value::String(s) => s.clone(), other => other.to_string() };
                    html! { <option value={value}>{ c["name"].as_str().unwrap_or_default() }</option> }
                }) }
            </select>
        },
        (Some(5), _) => html! { <input id={id.clone()} name={id.clone()} type="checkbox" /> },
        (Some(4 | 10), _) => html! {
            <input id={id.clone()} name={id.clone()} type="number" step={if option["type"] == 4 { "1" } else { "any" }}
                min={option["min_value"].as_f64().map(|v| v.to_string())} max={option["max_value"].as_f64().map(|v| v.to_string())} />
        },
        _ => html! { <input id={id.clone()} name={id.clone()} type="text" /> },
    };
    html! {
        <div class="field" key={format!("{command}/{name}")}>
            <label for={id}>{ label }</label>
            { input }
            <span class="muted">{ option["description"].as_str().unwrap_or_default() }</span>
        </div>
    }
}

/// What the bot did in one turn.
fn draw(
    record: &Result<Value, String>,
    on_use: &Callback<ComponentUse>,
    on_modal: &Callback<(String, Value, Option<String>)>,
    busy: bool,
    users: &[(String, String)],
) -> Html {
    let record = match record {
        Ok(record) => record,
        Err(why) => return html! { <p class="error" role="alert">{ why }</p> },
    };
    if record["answered"] != true {
        return html! { <p class="error" role="alert">{ record["message"].as_str().unwrap_or("The bot did not answer.") }</p> };
    }
    if record["callback_type"] == 9 {
        return html! { <ModalForm modal={record["modal"].clone()} on_submit={on_modal.clone()} {busy} /> };
    }
    let messages: Vec<Value> = record["reply"]
        .is_object()
        .then(|| record["reply"].clone())
        .into_iter()
        .chain(record["follow_ups"].as_array().cloned().unwrap_or_default())
        .collect();
    if messages.is_empty() {
        return html! { <p class="muted">{ "The bot acknowledged without a message." }</p> };
    }
    messages
        .into_iter()
        .map(|message| html! { <DiscordMessage {message} on_use={on_use.clone()} {busy} users={users.to_vec()} /> })
        .collect()
}

#[derive(Properties, PartialEq)]
struct ModalProps {
    modal: Value,
    on_submit: Callback<(String, Value, Option<String>)>,
    busy: bool,
}

/// A modal the bot opened, as a form.
#[function_component(ModalForm)]
fn modal_form(props: &ModalProps) -> Html {
    let inputs: Vec<Value> = props.modal["components"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|row| row["components"].as_array().cloned().unwrap_or_default())
        .filter(|c| c["type"] == 4)
        .collect();
    let onsubmit = {
        let (on_submit, inputs) = (props.on_submit.clone(), inputs.clone());
        let custom_id = props.modal["custom_id"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        Callback::from(move |event: SubmitEvent| {
            event.prevent_default();
            let Some(form) = event
                .target()
                .and_then(|t| t.dyn_into::<web_sys::HtmlFormElement>().ok())
            else {
                return;
            };
            let elements = form.elements();
            let mut fields = Map::new();
            for input in &inputs {
                let id = input["custom_id"].as_str().unwrap_or_default();
                let value = elements
                    .named_item(id)
                    .and_then(|e| {
                        e.dyn_ref::<web_sys::HtmlInputElement>()
                            .map(|i| i.value())
                            .or_else(|| {
                                e.dyn_ref::<web_sys::HtmlTextAreaElement>()
                                    .map(|t| t.value())
                            })
                    })
                    .unwrap_or_default();
                fields.insert(id.to_string(), Value::String(value));
            }
            on_submit.emit((custom_id.clone(), Value::Object(fields), None));
        })
    };
    html! {
        <form class="settings d-modal" {onsubmit} aria-label="the bot's form">
            <h2>{ props.modal["title"].as_str().unwrap_or("Form") }</h2>
            { for inputs.iter().map(|input| {
                let id = input["custom_id"].as_str().unwrap_or_default().to_string();
                let label = input["label"].as_str().unwrap_or_default().to_string();
                let value = input["value"].as_str().unwrap_or_default().to_string();
                let field = match input["style"].as_u64() {
                    Some(2) => html! { <textarea id={format!("modal-{id}")} name={id.clone()} value={value} /> },
                    _ => html! { <input id={format!("modal-{id}")} name={id.clone()} type="text" value={value} /> },
                };
                html! { <div class="field" key={id.clone()}><label for={format!("modal-{id}")}>{ label }</label>{ field }</div> }
            }) }
            <div class="actions"><button type="submit" class="button primary" disabled={props.busy}>{ "Submit" }</button></div>
        </form>
    }
}
