//! A cog's settings in one server: a form generated from the cog's JSON
//! Schema (text, numbers with their bounds, yes/no, choices from `enum`,
//! lists of text, nested objects), the server's validation errors shown by
//! field, save, and the audit trail with what each change did and a revert.
//! Editors and admins change; viewers read.
//!
//! Strings with `"format": "discord-channel"` or `"discord-role"` (and
//! lists of them) are picked from the server's channels and roles as the
//! bot sees them; `"discord-user"` takes a user id. The host checks that a
//! saved id is in this server.

use baseline_api_types::{ChannelView, FieldError, RoleView, SettingsChange, SettingsView, Tier};
use serde_json::{Map, Value};
use web_sys::{HtmlInputElement, HtmlSelectElement, HtmlTextAreaElement};
use yew::prelude::*;

use crate::components::{Failed, Toast, use_toaster};
use crate::{Guilds, api, tabs};

#[derive(Properties, PartialEq)]
pub struct SettingsProps {
    pub id: String,
    pub cog: String,
}

/// The server's channels and roles for the pickers, when the schema has
/// Discord formats (`Err`: why they could not be read).
#[derive(Clone, PartialEq, Default)]
pub struct Pickers {
    channels: Option<Result<Vec<ChannelView>, String>>,
    roles: Option<Result<Vec<RoleView>, String>>,
}

/// `value` with the field at JSON pointer `path` set to `new` (removed
/// when `new` is null: "none" in a picker).
fn set_at(value: &Value, path: &[String], new: Value) -> Value {
    let mut value = value.clone();
    let mut here = &mut value;
    for (i, key) in path.iter().enumerate() {
        if !here.is_object() {
            *here = Value::Object(Map::new());
        }
        let object = here.as_object_mut().expect("made an object");
        if i + 1 == path.len() {
            match new {
                Value::Null => object.remove(key),
                new => object.insert(key.clone(), new),
            };
            return value;
        }
        here = object
            .entry(key.clone())
            .or_insert_with(|| Value::Object(Map::new()));
    }
    new
}

fn pointer(path: &[String]) -> String {
    path.iter().map(|p| format!("/{p}")).collect()
}

/// The fields of an object schema (by name: the host sends schemas as
/// sorted JSON objects).
fn fields(
    schema: &Value,
    value: &Value,
    path: Vec<String>,
    errors: &[FieldError],
    editable: bool,
    change: &Callback<(Vec<String>, Value)>,
    pickers: &Pickers,
) -> Html {
    let Some(properties) = schema["properties"].as_object() else {
        return html! {};
    };
    properties
        .iter()
        .map(|(key, property)| {
            let mut here = path.clone();
            here.push(key.clone());
            field(
                key,
                property,
                &value[key],
                here,
                errors,
                editable,
                change,
                pickers,
            )
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn field(
    key: &str,
    schema: &Value,
    value: &Value,
    path: Vec<String>,
    errors: &[FieldError],
    editable: bool,
    change: &Callback<(Vec<String>, Value)>,
    pickers: &Pickers,
) -> Html {
    let id = format!("field{}", pointer(&path).replace('/', "-"));
    let title = schema["title"].as_str().unwrap_or(key).to_string();
    let description = schema["description"].as_str().map(str::to_string);
    let here = pointer(&path);
    let problems: Vec<&FieldError> = errors.iter().filter(|e| e.path == here).collect();
    let invalid = !problems.is_empty();
    let described = format!("{id}-help");
    let emit = {
        let (change, path) = (change.clone(), path.clone());
        move |new: Value| change.emit((path.clone(), new))
    };
    let input = match schema["type"].as_str() {
        Some("object") => {
            return html! {
                <fieldset class="group">
                    <legend>{ title }</legend>
                    { for description.map(|d| html! { <p class="muted">{ d }</p> }) }
                    { fields(schema, value, path, errors, editable, change, pickers) }
                </fieldset>
            };
        }
        Some("boolean") => {
            let onchange = Callback::from(move |e: Event| {
                let input: HtmlInputElement = e.target_unchecked_into();
                emit(Value::Bool(input.checked()));
            });
            html! { <input id={id.clone()} type="checkbox" checked={value.as_bool().unwrap_or(false)}
            disabled={!editable} aria-describedby={described.clone()} {onchange} /> }
        }
        Some(kind @ ("integer" | "number")) => {
            let integer = kind == "integer";
            let onchange = Callback::from(move |e: Event| {
                let input: HtmlInputElement = e.target_unchecked_into();
                let text = input.value();
                let parsed = if integer {
                    text.trim().parse::<i64>().map(Value::from).ok()
                } else {
                    text.trim()
                        .parse::<f64>()
                        .ok()
                        .and_then(|n| serde_json::Number::from_f64(n).map(Value::Number))
                };
                // What does not parse goes to the server as text: it says why.
                emit(parsed.unwrap_or(Value::String(text)));
            });
            let shown = match value {
                Value::Number(n) => n.to_string(),
                Value::String(s) => s.clone(),
                _ => String::new(),
            };
            html! { <input id={id.clone()} type="number" step={if integer { "1" } else { "any" }}
            min={schema["minimum"].as_f64().map(|m| m.to_string())}
            max={schema["maximum"].as_f64().map(|m| m.to_string())}
            value={shown} disabled={!editable} aria-invalid={invalid.to_string()}
            aria-describedby={described.clone()} {onchange} /> }
        }
        Some("string") | Some("array") if picker(schema, pickers).is_some() => {
            let (options, many) = picker(schema, pickers).expect("checked");
            let chosen: Vec<String> = match value {
                Value::String(id) => vec![id.clone()],
                Value::Array(ids) => ids
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect(),
                _ => Vec::new(),
            };
            let onchange = Callback::from(move |e: Event| {
                let select: HtmlSelectElement = e.target_unchecked_into();
                if many {
                    let options = select.selected_options();
                    let ids = (0..options.length())
                        .filter_map(|i| options.item(i))
                        .filter_map(|o| o.get_attribute("value"))
                        .filter(|v| !v.is_empty())
                        .map(Value::String)
                        .collect();
                    emit(Value::Array(ids));
                } else {
                    match select.value() {
                        id if id.is_empty() => emit(Value::Null),
                        id => emit(Value::String(id)),
                    }
                }
            });
            html! {
                <select id={id.clone()} multiple={many} disabled={!editable} aria-invalid={invalid.to_string()}
                    aria-describedby={described.clone()} {onchange}>
                    if !many { <option value="" selected={chosen.is_empty()}>{ "— none —" }</option> }
                    { for options.into_iter().map(|(value, label)| {
                        let selected = chosen.contains(&value);
                        html! { <option value={value.clone()} {selected}>{ label }</option> }
                    }) }
                </select>
            }
        }
        Some("array") if schema["items"]["type"] == "string" => {
            let onchange = Callback::from(move |e: Event| {
                let input: HtmlTextAreaElement = e.target_unchecked_into();
                let lines = input
                    .value()
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(|l| Value::String(l.to_string()))
                    .collect();
                emit(Value::Array(lines));
            });
            let shown: Vec<String> = value
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            html! { <textarea id={id.clone()} rows="4" value={shown.join("\n")} disabled={!editable}
            aria-invalid={invalid.to_string()} aria-describedby={described.clone()} {onchange} /> }
        }
        _ if schema["enum"].is_array() => {
            let options: Vec<Value> = schema["enum"].as_array().cloned().unwrap_or_default();
            let choices = options.clone();
            let onchange = Callback::from(move |e: Event| {
                let select: HtmlSelectElement = e.target_unchecked_into();
                let index: usize = select.value().parse().unwrap_or(0);
                emit(choices.get(index).cloned().unwrap_or(Value::Null));
            });
            html! {
                <select id={id.clone()} disabled={!editable} aria-describedby={described.clone()} {onchange}>
                    { for options.iter().enumerate().map(|(i, option)| {
                        let label = option.as_str().map(str::to_string).unwrap_or_else(|| option.to_string());
                        html! { <option value={i.to_string()} selected={option == value}>{ label }</option> }
                    }) }
                </select>
            }
        }
        _ => {
            let onchange = Callback::from(move |e: Event| {
                let input: HtmlInputElement = e.target_unchecked_into();
                emit(Value::String(input.value()));
            });
            let user = schema["format"] == "discord-user";
            html! { <input id={id.clone()} type="text" value={value.as_str().unwrap_or_default().to_string()}
            maxlength={schema["maxLength"].as_u64().map(|m| m.to_string())}
            placeholder={user.then_some("a member's user id")} inputmode={user.then_some("numeric")}
            disabled={!editable} aria-invalid={invalid.to_string()}
            aria-describedby={described.clone()} {onchange} /> }
        }
    };
    html! {
        <div class={classes!("field", invalid.then_some("invalid"))}>
            <label for={id.clone()}>{ title }</label>
            { input }
            <div id={described} class="help">
                { for description.map(|d| html! { <span class="muted">{ d }</span> }) }
                { for problems.iter().map(|p| html! { <span class="error" role="alert">{ &p.message }</span> }) }
            </div>
        </div>
    }
}

/// The choices of a channel or role picker, and whether several may be
/// picked; `None` when the field is no picker or the list is not loaded.
fn picker(schema: &Value, pickers: &Pickers) -> Option<(Vec<(String, String)>, bool)> {
    let (format, many) = match schema["type"].as_str() {
        Some("array") => (schema["items"]["format"].as_str()?, true),
        _ => (schema["format"].as_str()?, false),
    };
    let options = match format {
        "discord-channel" => match &pickers.channels {
            Some(Ok(channels)) => channels
                .iter()
                .filter(|c| c.kind != 4)
                .map(|c| {
                    let label = match c.kind {
                        2 | 13 => format!("{} (voice)", c.name),
                        _ => format!("#{}", c.name),
                    };
                    (c.id.clone(), label)
                })
                .collect(),
            _ => return None,
        },
        "discord-role" => match &pickers.roles {
            Some(Ok(roles)) => roles
                .iter()
                .map(|r| (r.id.clone(), format!("@{}", r.name)))
                .collect(),
            _ => return None,
        },
        _ => return None,
    };
    Some((options, many))
}

/// What a change did, key by key: `key: before → after`.
fn diff(before: Option<&Value>, after: &Value) -> Vec<String> {
    let empty = Map::new();
    let old = before.and_then(Value::as_object).unwrap_or(&empty);
    let new = after.as_object().unwrap_or(&empty);
    let mut keys: Vec<&String> = old.keys().chain(new.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| old.get(*k) != new.get(*k))
        .map(|k| {
            let show = |v: Option<&Value>| v.map_or("—".to_string(), Value::to_string);
            format!("{k}: {} → {}", show(old.get(k)), show(new.get(k)))
        })
        .collect()
}

#[function_component(SettingsPage)]
pub fn settings_page(props: &SettingsProps) -> Html {
    let guilds = use_context::<Guilds>().unwrap_or_default();
    let editable = guilds
        .iter()
        .any(|g| g.id == props.id && g.tier >= Tier::Editor);
    let loaded = use_state(|| None::<Result<SettingsView, String>>);
    let draft = use_state(|| Value::Null);
    let errors = use_state(Vec::<FieldError>::new);
    let audit = use_state(Vec::<SettingsChange>::new);
    let notice = use_toaster();
    let pickers = use_state(Pickers::default);
    let base = format!(
        "/api/v1/guilds/{}/cogs/{}/settings",
        api::segment(&props.id),
        api::segment(&props.cog)
    );
    {
        // The server's channels and roles, once, when the schema names them.
        let (pickers, id) = (pickers.clone(), props.id.clone());
        let schema = match &*loaded {
            Some(Ok(view)) => view.schema.to_string(),
            _ => String::new(),
        };
        use_effect_with(schema, move |schema| {
            let (channels, roles) = (
                schema.contains("discord-channel"),
                schema.contains("discord-role"),
            );
            if channels || roles {
                wasm_bindgen_futures::spawn_local(async move {
                    let mut found = Pickers::default();
                    if channels {
                        found.channels = Some(
                            api::get(&format!("/api/v1/guilds/{}/channels", api::segment(&id)))
                                .await
                                .map_err(|f| f.to_string()),
                        );
                    }
                    if roles {
                        found.roles = Some(
                            api::get(&format!("/api/v1/guilds/{}/roles", api::segment(&id)))
                                .await
                                .map_err(|f| f.to_string()),
                        );
                    }
                    pickers.set(found);
                });
            }
        });
    }
    let reload = {
        let (loaded, draft, audit, base) =
            (loaded.clone(), draft.clone(), audit.clone(), base.clone());
        Callback::from(move |_: ()| {
            let (loaded, draft, audit, base) =
                (loaded.clone(), draft.clone(), audit.clone(), base.clone());
            wasm_bindgen_futures::spawn_local(async move {
                match api::get::<SettingsView>(&base).await {
                    Ok(view) => {
                        draft.set(view.value.clone());
                        loaded.set(Some(Ok(view)));
                    }
                    Err(failure) => loaded.set(Some(Err(failure.to_string()))),
                }
                if let Ok(changes) = api::get::<Vec<SettingsChange>>(&format!("{base}/audit")).await
                {
                    audit.set(changes);
                }
            });
        })
    };
    {
        let reload = reload.clone();
        use_effect_with(base.clone(), move |_| reload.emit(()));
    }
    let save_value = {
        let (errors, notice, reload, base) =
            (errors.clone(), notice.clone(), reload.clone(), base.clone());
        Callback::from(move |(value, what): (Value, &'static str)| {
            let (errors, notice, reload, base) =
                (errors.clone(), notice.clone(), reload.clone(), base.clone());
            wasm_bindgen_futures::spawn_local(async move {
                match api::put::<_, SettingsView>(&base, &value).await {
                    Ok(_) => {
                        errors.set(Vec::new());
                        notice.show(Toast::info(what));
                        reload.emit(());
                    }
                    Err(api::Failure::Invalid(message, fields)) => {
                        notice.show(Toast::error(message));
                        errors.set(fields);
                    }
                    Err(failure) => notice.show(Toast::error(failure.to_string())),
                }
            });
        })
    };
    let change = {
        let draft = draft.clone();
        Callback::from(move |(path, new): (Vec<String>, Value)| {
            draft.set(set_at(&draft, &path, new))
        })
    };
    let onsubmit = {
        let (draft, save_value) = (draft.clone(), save_value.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            save_value.emit(((*draft).clone(), "Saved."));
        })
    };
    let body = match &*loaded {
        None => html! { <div class="skeleton" aria-busy="true">{ "\u{a0}" }</div> },
        Some(Err(why)) => html! { <Failed message={why.clone()} on_retry={reload.clone()} /> },
        Some(Ok(view)) => {
            let whole: Vec<&FieldError> = errors.iter().filter(|e| e.path.is_empty()).collect();
            html! {
                <form class="settings" {onsubmit} novalidate=true>
                    { for whole.iter().map(|e| html! { <p class="error" role="alert">{ &e.message }</p> }) }
                    { for [
                        ("channels", pickers.channels.as_ref().and_then(|r| r.as_ref().err())),
                        ("roles", pickers.roles.as_ref().and_then(|r| r.as_ref().err())),
                    ].into_iter().filter_map(|(what, why)| why.map(|why| html! {
                        <p class="error" role="alert">{ format!("The server's {what} could not be read ({why}); type ids instead.") }</p>
                    })) }
                    { fields(&view.schema, &draft, Vec::new(), &errors, editable, &change, &pickers) }
                    if editable {
                        <div class="actions">
                            <button class="button primary" type="submit">{ "Save" }</button>
                            <button class="button" type="button"
                                onclick={{ let reload = reload.clone(); let errors = errors.clone();
                                           Callback::from(move |_| { errors.set(Vec::new()); reload.emit(()) }) }}>{ "Reset" }</button>
                        </div>
                    }
                </form>
            }
        }
    };
    let trail = html! {
        <>
        <h2>{ "Changes" }</h2>
        if audit.is_empty() { <p class="muted">{ "Never changed: the defaults apply." }</p> }
        <ol class="audit">
        { for audit.iter().enumerate().map(|(i, c)| {
            let revert = c.before.clone().map(|before| {
                let save_value = save_value.clone();
                html! { <button class="button" aria-label={format!("Revert change {}", i + 1)}
                    onclick={Callback::from(move |_| save_value.emit((before.clone(), "Reverted.")))}>{ "Revert" }</button> }
            });
            html! {
                <li>
                    <span class="muted">{ &c.at }{ " · " }{ c.actor_id.map(|a| a.to_string()).unwrap_or_else(|| "the host".into()) }</span>
                    <ul>{ for diff(c.before.as_ref(), &c.after).into_iter().map(|d| html! { <li><code>{ d }</code></li> }) }</ul>
                    if editable { { for revert } }
                </li>
            }
        }) }
        </ol>
        </>
    };
    html! {
        <>
            <h1>{ format!("{} settings", props.cog) }</h1>
            { tabs(&props.id, crate::Tab::Cogs) }
            if !editable { <p class="muted">{ "You can look; an editor or admin can change these." }</p> }
            { body }
            { trail }
        </>
    }
}
