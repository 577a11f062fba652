//! A cog of `baseline:cog@0.1.0`, kept forever: every host must load it and
//! answer through it (tests/host/versions.rs). Built against the released
//! WIT with wit-bindgen alone, not the SDK (the SDK moves on with the WIT),
//! and never changed: what it does is what a 0.1.0 cog could do.
//!
//! - `/old word:<text>` replies with a button whose custom id it writes
//!   itself, with its name before it (`wit-0-1:echo:<text>`, the 0.1.0 rule);
//! - a click counts in kv and says how many;
//! - edits and deletions of messages are noted in kv, `/old-seen` shows
//!   the last one (the event reaches it in its 0.1.0 shape);
//! - a dashboard page says which version it is.

wit_bindgen::generate!({
    path: "../../../wit/released/0.1.0",
    world: "baseline:cog/cog",
});

use baseline::cog::kv::{self, Scope};
use baseline::cog::types::*;
use exports::baseline::cog::{handler, pages};

const NAME: &str = "wit-0-1";

struct Old;

fn text(content: String, components: Vec<ActionRow>) -> Message {
    Message {
        content: Some(content),
        embeds: vec![],
        components,
        attachments: vec![],
        allowed_mentions: None,
        tts: false,
    }
}

fn reply(message: Message) -> Reply {
    Reply {
        message,
        ephemeral: false,
    }
}

fn command(name: &str, options: Vec<CommandOption>) -> Command {
    Command {
        name: name.into(),
        description: format!("{name}, from a WIT 0.1.0 cog"),
        options,
        subcommands: vec![],
        groups: vec![],
        default_member_permissions: None,
        guild_only: true,
        nsfw: false,
    }
}

fn internal(error: kv::KvError) -> CogError {
    CogError::Internal(format!("{error:?}"))
}

impl handler::Guest for Old {
    fn manifest() -> CogManifest {
        CogManifest {
            name: NAME.into(),
            version: "1.0.0".into(),
            description: "A cog of WIT 0.1.0".into(),
            commands: vec![
                command(
                    "old",
                    vec![CommandOption {
                        name: "word".into(),
                        description: "What to echo".into(),
                        kind: OptionKind::Text,
                        required: true,
                        choices: vec![],
                        autocomplete: false,
                        min_value: None,
                        max_value: None,
                        min_length: None,
                        max_length: Some(20),
                        channel_kinds: vec![],
                    }],
                ),
                command("old-seen", vec![]),
            ],
            events: vec![EventKind::MessageUpdate, EventKind::MessageDelete],
            settings_schema: None,
            capabilities: vec![CapabilityRequest {
                name: "kv".into(),
                reason: "counts clicks and notes events".into(),
            }],
            pages: vec![Page {
                route: "old".into(),
                title: "WIT 0.1.0".into(),
                nav: NavPlacement::Sidebar,
                access: PageAccess::Admin,
                ui_module: false,
            }],
        }
    }

    fn on_command(invocation: CommandInvocation) -> Result<CommandResponse, CogError> {
        match invocation.name.as_str() {
            "old" => {
                let word = invocation
                    .options
                    .iter()
                    .find_map(|o| match (&o.name[..], &o.value) {
                        ("word", OptionValue::Text(word)) => Some(word.clone()),
                        _ => None,
                    })
                    .unwrap_or_default();
                let button = Button {
                    style: ButtonStyle::Primary,
                    label: Some("Echo".into()),
                    emoji: None,
                    custom_id: Some(format!("{NAME}:echo:{word}")),
                    url: None,
                    disabled: false,
                };
                Ok(CommandResponse::Reply(reply(text(
                    format!("0.1.0 says {word}"),
                    vec![ActionRow {
                        components: vec![Component::Button(button)],
                    }],
                ))))
            }
            "old-seen" => {
                let seen = kv::get(Scope::Guild, "seen").map_err(internal)?;
                let seen = seen.map(|b| String::from_utf8_lossy(&b).into_owned());
                Ok(CommandResponse::Reply(reply(text(
                    format!("0.1.0 saw {}", seen.as_deref().unwrap_or("nothing")),
                    vec![],
                ))))
            }
            other => Err(CogError::User(format!("no command {other}"))),
        }
    }

    fn on_component(invocation: ComponentInvocation) -> Result<ComponentResponse, CogError> {
        let Some(word) = invocation.custom_id.strip_prefix(&format!("{NAME}:echo:")) else {
            return Err(CogError::Internal(format!(
                "unknown custom id {}",
                invocation.custom_id
            )));
        };
        let clicks = kv::increment(Scope::Guild, "clicks", 1).map_err(internal)?;
        Ok(ComponentResponse::Reply(reply(text(
            format!("0.1.0 echoed {word}, click {clicks}"),
            vec![],
        ))))
    }

    fn on_autocomplete(_: AutocompleteInvocation) -> Result<Vec<Choice>, CogError> {
        Ok(vec![])
    }

    fn on_event(event: Event, _context: InvocationContext) -> Result<(), CogError> {
        let seen = match event {
            Event::MessageUpdate(message) => format!("an edit to {:?}", message.content),
            Event::MessageDelete(deleted) => format!("the deletion of {}", deleted.id),
            other => format!("{other:?}"),
        };
        kv::set(Scope::Guild, "seen", seen.as_bytes(), None).map_err(internal)
    }
}

impl pages::Guest for Old {
    fn render(_context: PageContext) -> Result<View, CogError> {
        Ok(View {
            root: 0,
            nodes: vec![ViewNode::Text("a page of WIT 0.1.0".into())],
        })
    }

    fn act(
        _context: PageContext,
        action: String,
        _payload: String,
    ) -> Result<ActionOutcome, CogError> {
        Ok(ActionOutcome {
            notice: Some(format!("0.1.0 did {action}")),
            view: None,
            data: None,
        })
    }
}

export!(Old);
