//! Plain-text renderings of manifests and answers for the terminal.

use std::fmt::Write as _;

use crate::wit::types::{
    CommandOption, CommandResponse, Component, ComponentResponse, Message, OptionKind, Reply,
};

/// An option kind as a user would name it.
pub fn option_kind(kind: OptionKind) -> &'static str {
    match kind {
        OptionKind::Text => "text",
        OptionKind::Integer => "an integer",
        OptionKind::Number => "a number",
        OptionKind::Boolean => "true or false",
        OptionKind::User => "a user id",
        OptionKind::Channel => "a channel id",
        OptionKind::Role => "a role id",
        OptionKind::Mentionable => "a user or role id",
        OptionKind::Attachment => "an attachment",
    }
}
use crate::runtime::{Answer, LoadedCog};

/// A manifest as an operator reads it.
pub fn manifest(cog: &LoadedCog) -> String {
    let m = &cog.manifest;
    let mut out = String::new();
    let _ = writeln!(out, "{} {} — {}", m.name, m.version, m.description);
    if let Some(declared) = &cog.declared_name {
        let _ = writeln!(
            out,
            "  named `{}` by its file; it suggests `{}`",
            m.name,
            declared.escape_debug()
        );
    }
    let _ = writeln!(
        out,
        "  built against baseline:cog@{}{}",
        cog.facts.wit_version,
        cog.facts
            .sdk
            .as_ref()
            .map(|s| format!(" ({s})"))
            .unwrap_or_default()
    );
    let instances = match cog.policy {
        crate::runtime::InstancePolicy::Fresh => "a fresh instance per call".to_string(),
        crate::runtime::InstancePolicy::Reuse { max_calls } => {
            format!("warm instances per guild, recycled every {max_calls} calls")
        }
    };
    let instantiate = cog
        .instantiate_time
        .map(|t| format!(" (instantiates in {:.0} µs)", t.as_secs_f64() * 1e6))
        .unwrap_or_default();
    let _ = writeln!(out, "  instances: {instances}{instantiate}");
    let _ = writeln!(out, "  commands:");
    if m.commands.is_empty() {
        let _ = writeln!(out, "    (none)");
    }
    for command in &m.commands {
        let _ = writeln!(
            out,
            "    /{} — {}{}",
            command.name,
            command.description,
            options(&command.options)
        );
        for sub in &command.subcommands {
            let _ = writeln!(
                out,
                "    /{} {} — {}{}",
                command.name,
                sub.name,
                sub.description,
                options(&sub.options)
            );
        }
        for group in &command.groups {
            for sub in &group.subcommands {
                let _ = writeln!(
                    out,
                    "    /{} {} {} — {}{}",
                    command.name,
                    group.name,
                    sub.name,
                    sub.description,
                    options(&sub.options)
                );
            }
        }
    }
    if !m.events.is_empty() {
        let _ = writeln!(
            out,
            "  events: {}",
            m.events
                .iter()
                .map(|e| format!("{e:?}")
                    .trim_start_matches("EventKind::")
                    .to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let _ = writeln!(
        out,
        "  settings: {}",
        if m.settings_schema.is_some() {
            "yes (JSON Schema)"
        } else {
            "none"
        }
    );
    for request in &m.capabilities {
        let state = if cog.grants.allows(&request.name) {
            "granted"
        } else {
            "NOT GRANTED"
        };
        let _ = writeln!(
            out,
            "  capability {} [{state}]: {}",
            request.name, request.reason
        );
    }
    for page in &m.pages {
        let _ = writeln!(out, "  page /{} — {}", page.route, page.title);
    }
    out
}

fn options(options: &[CommandOption]) -> String {
    if options.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = options
        .iter()
        .map(|o| {
            if o.required {
                format!("<{}>", o.name)
            } else {
                format!("[{}]", o.name)
            }
        })
        .collect();
    format!("  {}", parts.join(" "))
}

fn message(out: &mut String, message: &Message) {
    if let Some(content) = &message.content {
        let _ = writeln!(out, "{content}");
    }
    for embed in &message.embeds {
        if let Some(title) = &embed.title {
            let _ = writeln!(out, "┃ {title}");
        }
        if let Some(description) = &embed.description {
            for line in description.lines() {
                let _ = writeln!(out, "┃ {line}");
            }
        }
        for field in &embed.fields {
            let _ = writeln!(
                out,
                "┃ {}: {}",
                field.name,
                field.value.replace('\n', "\n┃   ")
            );
        }
        if let Some(footer) = &embed.footer {
            let _ = writeln!(out, "┃ — {}", footer.text);
        }
    }
    for row in &message.components {
        let items: Vec<String> = row
            .components
            .iter()
            .map(|c| match c {
                Component::Button(b) => format!(
                    "[{}{}]{}",
                    b.emoji
                        .as_ref()
                        .map(|e| format!("{e} "))
                        .unwrap_or_default(),
                    b.label.as_deref().unwrap_or(""),
                    b.custom_id
                        .as_ref()
                        .or(b.url.as_ref())
                        .map(|id| format!(" ({id})"))
                        .unwrap_or_default()
                ),
                Component::Select(s) => {
                    format!("[select {}: {} options]", s.custom_id, s.options.len())
                }
            })
            .collect();
        let _ = writeln!(out, "{}", items.join("  "));
    }
    for file in &message.attachments {
        let _ = writeln!(out, "📎 {} ({} bytes)", file.filename, file.data.len());
    }
}

fn reply(out: &mut String, reply: &Reply) {
    if reply.ephemeral {
        let _ = writeln!(out, "(only you can see this)");
    }
    message(out, &reply.message);
}

/// An answer as a Discord user would roughly see it.
pub fn answer(answer: &Answer) -> String {
    let mut out = String::new();
    match answer {
        Answer::Command(Ok(CommandResponse::Reply(r)))
        | Answer::Component(Ok(ComponentResponse::Reply(r))) => reply(&mut out, r),
        Answer::Command(Ok(CommandResponse::Modal(m)))
        | Answer::Component(Ok(ComponentResponse::Modal(m))) => {
            let _ = writeln!(
                out,
                "(modal) {} [{}]: {}",
                m.title,
                m.custom_id,
                m.inputs
                    .iter()
                    .map(|i| i.label.clone())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        Answer::Command(Ok(CommandResponse::Defer(ephemeral))) => {
            let _ = writeln!(
                out,
                "(deferred{}) the bot is thinking…",
                if *ephemeral { ", ephemeral" } else { "" }
            );
        }
        Answer::Component(Ok(ComponentResponse::Update(m))) => {
            let _ = writeln!(out, "(message updated)");
            message(&mut out, m);
        }
        Answer::Component(Ok(ComponentResponse::DeferUpdate)) => {
            out.push_str("(update deferred)\n")
        }
        other => match other.cog_error() {
            Some(error) => {
                let _ = writeln!(
                    out,
                    "(only you can see this) {}",
                    match error {
                        crate::wit::types::CogError::User(m) => m.clone(),
                        crate::wit::types::CogError::Internal(m) =>
                            format!("Something went wrong. [internal: {m}]"),
                    }
                );
            }
            None => {
                let _ = writeln!(
                    out,
                    "{}",
                    serde_json::to_string_pretty(other).unwrap_or_default()
                );
            }
        },
    }
    out
}
