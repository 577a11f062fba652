//! Witness: a cog of the WIT in development (`wit/`) that subscribes to
//! every event kind and keeps the last event of each, with who the host
//! said acted, as JSON in kv (`last:<Kind>`). `/witnessed kind:<Kind>`
//! answers with it, so a test can check every field the host filled
//! (before-states, attribution) through Discord, as a cog sees them.
//! `/witness-timer name:<n> delay:<ms>` sets a timer (`schedule`); when it
//! runs, `on-timer` keeps it as `last:Timer`. Each kind is also counted
//! per guild (`/witnessed kind:count:<Kind>`); a message saying `flood …`
//! costs a millisecond of computing, as a cog doing real work per message
//! would (the fairness test floods with them).
//! Built with wit-bindgen alone, its types serialisable.

wit_bindgen::generate!({
    path: "../../../wit",
    world: "baseline:cog/cog",
    additional_derives: [serde::Serialize],
});

use baseline::cog::kv::{self, Scope};
use baseline::cog::types::*;
use baseline::cog::{discord, schedule};
use exports::baseline::cog::{handler, pages};

struct Witness;

const EVERY_KIND: &[EventKind] = &[
    EventKind::MessageCreate,
    EventKind::MessageUpdate,
    EventKind::MessageDelete,
    EventKind::MessageDeleteBulk,
    EventKind::MemberJoin,
    EventKind::MemberLeave,
    EventKind::MemberUpdate,
    EventKind::MemberBan,
    EventKind::MemberUnban,
    EventKind::ReactionAdd,
    EventKind::ReactionRemove,
    EventKind::RoleCreate,
    EventKind::RoleUpdate,
    EventKind::RoleDelete,
    EventKind::ChannelCreate,
    EventKind::ChannelUpdate,
    EventKind::ChannelDelete,
    EventKind::GuildJoin,
    EventKind::GuildLeave,
    EventKind::MemberKick,
    EventKind::TimeoutExpired,
    EventKind::ThreadCreate,
    EventKind::ThreadUpdate,
    EventKind::ThreadDelete,
    EventKind::ThreadMembers,
    EventKind::GuildUpdate,
    EventKind::EmojisUpdate,
    EventKind::StickersUpdate,
    EventKind::VoiceUpdate,
    EventKind::InviteCreate,
    EventKind::InviteDelete,
    EventKind::WebhooksUpdate,
    EventKind::AutomodAction,
    EventKind::PinsUpdate,
];

fn reply(content: String) -> CommandResponse {
    CommandResponse::Reply(Reply {
        message: Message {
            content: Some(content),
            embeds: vec![],
            components: vec![],
            attachments: vec![],
            allowed_mentions: None,
            tts: false,
        },
        ephemeral: false,
    })
}

fn internal(error: impl std::fmt::Debug) -> CogError {
    CogError::Internal(format!("{error:?}"))
}

impl handler::Guest for Witness {
    fn manifest() -> CogManifest {
        CogManifest {
            name: "witness".into(),
            version: "1.0.0".into(),
            description: "Keeps the last event of each kind".into(),
            commands: vec![
                Command {
                    name: "witness-audit".into(),
                    description: "The audit log's last entries, as JSON".into(),
                    options: vec![],
                    subcommands: vec![],
                    groups: vec![],
                    default_member_permissions: None,
                    guild_only: true,
                    nsfw: false,
                },
                Command {
                    name: "witness-timer".into(),
                    description: "Set a timer".into(),
                    options: vec![
                        option("name", OptionKind::Text),
                        option("delay", OptionKind::Integer),
                    ],
                    subcommands: vec![],
                    groups: vec![],
                    default_member_permissions: None,
                    guild_only: true,
                    nsfw: false,
                },
                Command {
                    name: "witnessed".into(),
                    description: "The last event of a kind, as JSON".into(),
                    options: vec![CommandOption {
                        name: "kind".into(),
                        description: "The event's kind, e.g. MemberBan".into(),
                        kind: OptionKind::Text,
                        required: true,
                        choices: vec![],
                        autocomplete: false,
                        min_value: None,
                        max_value: None,
                        min_length: None,
                        max_length: Some(40),
                        channel_kinds: vec![],
                    }],
                    subcommands: vec![],
                    groups: vec![],
                    default_member_permissions: None,
                    guild_only: true,
                    nsfw: false,
                },
            ],
            events: EVERY_KIND.to_vec(),
            settings_schema: None,
            capabilities: vec![
                CapabilityRequest {
                    name: "kv".into(),
                    reason: "keeps the last event of each kind".into(),
                },
                CapabilityRequest {
                    name: "schedule".into(),
                    reason: "sets the timers it is asked to".into(),
                },
                CapabilityRequest {
                    name: "discord.audit-log".into(),
                    reason: "reads the audit log when asked".into(),
                },
            ],
            pages: vec![],
        }
    }

    fn on_command(invocation: CommandInvocation) -> Result<CommandResponse, CogError> {
        if invocation.name == "witness-audit" {
            return Ok(reply(match discord::read_audit_log(None, None, 10) {
                Ok(entries) => serde_json::to_string(&entries).map_err(internal)?,
                Err(error) => format!("refused: {error:?}"),
            }));
        }
        if invocation.name == "witness-timer" {
            let mut name = String::new();
            let mut delay = 0;
            for entry in &invocation.options {
                match &entry.value {
                    OptionValue::Text(text) => name = text.clone(),
                    OptionValue::Integer(ms) => delay = *ms,
                    _ => {}
                }
            }
            schedule::after(&name, delay.max(0) as u64, &format!("payload of {name}"))
                .map_err(internal)?;
            return Ok(reply(format!("timer {name} set")));
        }
        let kind = invocation
            .options
            .iter()
            .find_map(|o| match &o.value {
                OptionValue::Text(kind) => Some(kind.clone()),
                _ => None,
            })
            .unwrap_or_default();
        let key = match kind.starts_with("count:") {
            true => kind.clone(),
            false => format!("last:{kind}"),
        };
        let seen = kv::get(Scope::Guild, &key).map_err(internal)?;
        Ok(reply(
            seen.map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_else(|| "none".into()),
        ))
    }

    fn on_component(_: ComponentInvocation) -> Result<ComponentResponse, CogError> {
        Err(CogError::Internal("no components".into()))
    }

    fn on_autocomplete(_: AutocompleteInvocation) -> Result<Vec<Choice>, CogError> {
        Ok(vec![])
    }

    fn on_event(event: Event, context: InvocationContext) -> Result<(), CogError> {
        if let Event::MessageCreate(message) = &event
            && message.content.starts_with("flood ")
        {
            let started = std::time::Instant::now();
            let mut spun = 0u64;
            while started.elapsed() < std::time::Duration::from_millis(1) {
                spun = std::hint::black_box(spun.wrapping_add(1));
            }
        }
        let value = serde_json::to_value(&event).map_err(internal)?;
        let kind = value
            .as_object()
            .and_then(|o| o.keys().next().cloned())
            .unwrap_or_default();
        kv::increment(Scope::Guild, &format!("count:{kind}"), 1).map_err(internal)?;
        let seen = serde_json::json!({"event": value[&kind], "actor": context.user.id.to_string()});
        kv::set(
            Scope::Guild,
            &format!("last:{kind}"),
            seen.to_string().as_bytes(),
            None,
        )
        .map_err(internal)
    }

    fn on_timer(name: String, payload: String, context: InvocationContext) -> Result<(), CogError> {
        let seen = serde_json::json!({"name": name, "payload": payload,
            "guild": context.guild_id.map(|g| g.to_string())});
        kv::set(
            Scope::Guild,
            "last:Timer",
            seen.to_string().as_bytes(),
            None,
        )
        .map_err(internal)
    }
}

fn option(name: &str, kind: OptionKind) -> CommandOption {
    CommandOption {
        name: name.into(),
        description: name.into(),
        kind,
        required: true,
        choices: vec![],
        autocomplete: false,
        min_value: None,
        max_value: None,
        min_length: None,
        max_length: None,
        channel_kinds: vec![],
    }
}

impl pages::Guest for Witness {
    fn render(_: PageContext) -> Result<View, CogError> {
        Err(CogError::User("no pages".into()))
    }

    fn act(_: PageContext, _: String, _: String) -> Result<ActionOutcome, CogError> {
        Err(CogError::User("no pages".into()))
    }
}

export!(Witness);
