//! Drawing a cog's page view (from its `render`, its `act`, or its UI
//! module) with the dashboard's own components: headings, text, tables,
//! figures, charts (SVG), buttons and forms. Nothing a cog sends becomes
//! markup or a URL: text is text, and buttons and forms only name actions.
//! The view was checked (`View::check`) before it gets here, so indices are
//! in range, it is a tree, and its depth is bounded.

use std::rc::Rc;

use baseline_api_types::pages::{FieldKind, FormField, View, ViewNode};
use serde_json::{Map, Value};
use wasm_bindgen::JsCast as _;
use yew::prelude::*;

/// What the admin did: a button (no payload) or a form (its fields).
#[derive(Debug, Clone, PartialEq)]
pub struct Action {
    /// The action's name.
    pub name: String,
    /// The form's fields, as the cog reads them.
    pub payload: Option<Value>,
    /// A dangerous button: confirmed first.
    pub danger: bool,
    /// The button's or form's label, for the confirmation.
    pub label: String,
}

#[derive(Properties, PartialEq)]
pub struct ViewProps {
    /// The view, checked.
    pub view: Rc<View>,
    /// Buttons and forms call this.
    pub on_action: Callback<Action>,
    /// Whether the viewer may act (buttons and forms are disabled otherwise).
    pub can_act: bool,
    /// An action is running: buttons and forms wait.
    pub busy: bool,
}

/// A page view.
#[function_component(ViewDraw)]
pub fn view_draw(props: &ViewProps) -> Html {
    html! { <div class="page-view">{ node(props, props.view.root) }</div> }
}

fn node(props: &ViewProps, index: u32) -> Html {
    let Some(item) = props.view.nodes.get(index as usize) else {
        return Html::default();
    };
    let disabled = !props.can_act || props.busy;
    match item {
        ViewNode::Column { children } => html! {
            <div class="v-column">{ for children.iter().map(|&c| html! { <div key={c} class="v-cell">{ node(props, c) }</div> }) }</div>
        },
        ViewNode::Row { children } => html! {
            <div class="v-row">{ for children.iter().map(|&c| html! { <div key={c} class="v-cell">{ node(props, c) }</div> }) }</div>
        },
        ViewNode::Heading { text } => html! { <h2>{ text }</h2> },
        ViewNode::Text { text } => html! { <p>{ text }</p> },
        ViewNode::Code { text } => html! { <pre class="v-code">{ text }</pre> },
        ViewNode::Stat { label, value } => html! {
            <div class="v-stat"><div class="v-stat-value">{ value }</div><div class="muted">{ label }</div></div>
        },
        ViewNode::Table { columns, rows } => html! {
            <div class="v-table-wrap">
                <table class="cogs v-table">
                    <thead><tr>{ for columns.iter().map(|c| html! { <th scope="col">{ c }</th> }) }</tr></thead>
                    <tbody>{ for rows.iter().map(|row| html! {
                        <tr>{ for row.iter().map(|cell| html! { <td>{ cell }</td> }) }</tr>
                    }) }</tbody>
                </table>
            </div>
        },
        ViewNode::Chart {
            title,
            line,
            labels,
            values,
        } => chart(title, *line, labels, values),
        ViewNode::Button {
            label,
            action,
            danger,
        } => {
            let on_action = props.on_action.clone();
            let act = Action {
                name: action.clone(),
                payload: None,
                danger: *danger,
                label: label.clone(),
            };
            let onclick = Callback::from(move |_: MouseEvent| on_action.emit(act.clone()));
            html! {
                <button type="button" class={classes!("button", danger.then_some("danger"))} {disabled} {onclick}>{ label }</button>
            }
        }
        ViewNode::Form {
            action,
            fields,
            submit_label,
        } => html! {
            <ViewForm {index} action={action.clone()} fields={fields.clone()}
                submit_label={submit_label.clone()} {disabled} on_action={props.on_action.clone()} />
        },
        ViewNode::Divider => html! { <hr /> },
    }
}

/// The form's fields as JSON: numbers as numbers, checkboxes as booleans.
fn read_form(form: &web_sys::HtmlFormElement, fields: &[FormField]) -> Result<Value, String> {
    let mut values = Map::new();
    let elements = form.elements();
    for field in fields {
        let element = elements
            .named_item(&field.name)
            .ok_or_else(|| format!("the field `{}` is missing", field.name))?;
        let value = match field.kind {
            FieldKind::Textarea => element
                .dyn_ref::<web_sys::HtmlTextAreaElement>()
                .map(|e| Value::String(e.value()))
                .unwrap_or(Value::Null),
            FieldKind::Checkbox => element
                .dyn_ref::<web_sys::HtmlInputElement>()
                .map(|e| Value::Bool(e.checked()))
                .unwrap_or(Value::Null),
            FieldKind::Number => {
                let text = element
                    .dyn_ref::<web_sys::HtmlInputElement>()
                    .map(|e| e.value())
                    .unwrap_or_default();
                let number: f64 = text
                    .trim()
                    .parse()
                    .map_err(|_| format!("{} is not a number", field.label))?;
                if number.fract() == 0.0 && number.abs() < 9.0e15 {
                    Value::from(number as i64)
                } else {
                    Value::from(number)
                }
            }
            FieldKind::Text => element
                .dyn_ref::<web_sys::HtmlInputElement>()
                .map(|e| Value::String(e.value()))
                .unwrap_or(Value::Null),
        };
        values.insert(field.name.clone(), value);
    }
    Ok(Value::Object(values))
}

#[derive(Properties, PartialEq)]
struct FormProps {
    index: u32,
    action: String,
    fields: Vec<FormField>,
    submit_label: String,
    disabled: bool,
    on_action: Callback<Action>,
}

/// A form of a page view; its own problem line for a number that is not one.
#[function_component(ViewForm)]
fn view_form(props: &FormProps) -> Html {
    let problem = use_state_eq(|| None::<String>);
    let (index, disabled, submit_label) = (props.index, props.disabled, &props.submit_label);
    let fields = &props.fields;
    let onsubmit = {
        let (on_action, fields, action, label, problem) = (
            props.on_action.clone(),
            props.fields.clone(),
            props.action.clone(),
            props.submit_label.clone(),
            problem.clone(),
        );
        Callback::from(move |event: SubmitEvent| {
            event.prevent_default();
            let Some(form) = event
                .target()
                .and_then(|t| t.dyn_into::<web_sys::HtmlFormElement>().ok())
            else {
                return;
            };
            match read_form(&form, &fields) {
                Ok(payload) => {
                    problem.set(None);
                    on_action.emit(Action {
                        name: action.clone(),
                        payload: Some(payload),
                        danger: false,
                        label: label.clone(),
                    });
                }
                Err(why) => problem.set(Some(why)),
            }
        })
    };
    html! {
        <form class="v-form" {onsubmit}>
            { for fields.iter().map(|field| {
                let id = format!("v{index}-{}", field.name);
                let input = match field.kind {
                    FieldKind::Textarea => html! { <textarea id={id.clone()} name={field.name.clone()} value={field.value.clone()} {disabled} /> },
                    FieldKind::Checkbox => html! { <input id={id.clone()} type="checkbox" name={field.name.clone()} checked={field.value == "true"} {disabled} /> },
                    FieldKind::Number => html! { <input id={id.clone()} type="number" step="any" name={field.name.clone()} value={field.value.clone()} {disabled} /> },
                    FieldKind::Text => html! { <input id={id.clone()} type="text" name={field.name.clone()} value={field.value.clone()} {disabled} /> },
                };
                html! { <div class="field" key={field.name.clone()}><label for={id}>{ &field.label }</label>{ input }</div> }
            }) }
            if let Some(why) = &*problem { <p class="error" role="alert">{ why }</p> }
            <div class="actions"><button type="submit" class="button primary" {disabled}>{ submit_label }</button></div>
        </form>
    }
}

/// A bar or line chart as SVG (no script, no style attribute); at most
/// about twelve captions along the axis.
pub fn chart(title: &str, line: bool, labels: &[String], values: &[f64]) -> Html {
    const W: f64 = 600.0;
    const H: f64 = 200.0;
    const BOTTOM: f64 = 24.0;
    const TOP: f64 = 8.0;
    let top = values.iter().cloned().fold(0.0_f64, f64::max);
    let floor = values.iter().cloned().fold(0.0_f64, f64::min);
    let span = if top - floor > 0.0 { top - floor } else { 1.0 };
    let n = values.len().max(1) as f64;
    let step = W / n;
    let y = |v: f64| TOP + (H - BOTTOM - TOP) * (1.0 - (v - floor) / span);
    let zero = y(0.0);
    let marks = if line {
        let points = values
            .iter()
            .enumerate()
            .map(|(i, v)| format!("{:.1},{:.1}", step * (i as f64 + 0.5), y(*v)))
            .collect::<Vec<_>>()
            .join(" ");
        html! { <polyline class="v-line" points={points} /> }
    } else {
        values
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let (a, b) = (y(*v), zero);
                html! {
                    <rect class="v-bar" x={format!("{:.1}", step * i as f64 + step * 0.15)} y={format!("{:.1}", a.min(b))}
                        width={format!("{:.1}", step * 0.7)} height={format!("{:.1}", (a - b).abs().max(0.5))}>
                        <title>{ format!("{}: {v}", labels.get(i).map(String::as_str).unwrap_or("")) }</title>
                    </rect>
                }
            })
            .collect::<Html>()
    };
    let every = labels.len().div_ceil(12).max(1);
    let captions = labels
        .iter()
        .enumerate()
        .filter(|(i, _)| i % every == 0)
        .map(|(i, label)| {
            // Kept inside the drawing: the first caption starts at its bar.
            let anchor = if i == 0 { "start" } else { "middle" };
            let x = if i == 0 { step * 0.15 } else { step * (i as f64 + 0.5) };
            html! { <text class="v-axis" x={format!("{x:.1}")} y={format!("{}", H - 6.0)} text-anchor={anchor}>{ label }</text> }
        })
        .collect::<Html>();
    let summary = labels
        .iter()
        .zip(values)
        .map(|(l, v)| format!("{l}: {v}"))
        .collect::<Vec<_>>()
        .join(", ");
    html! {
        <figure class="v-chart">
            <figcaption>{ title }</figcaption>
            <svg viewBox={format!("0 0 {W} {H}")} role="img" aria-label={format!("{title}. {summary}")}>
                <line class="v-zero" x1="0" x2={W.to_string()} y1={format!("{zero:.1}")} y2={format!("{zero:.1}")} />
                { marks }
                { captions }
            </svg>
        </figure>
    }
}
