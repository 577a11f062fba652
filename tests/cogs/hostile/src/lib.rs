//! A cog that misbehaves on purpose, one command per way of misbehaving.
//! The host's tests run each and check that the host survives, reports the
//! right error, and still serves healthy cogs afterwards.

use baseline_sdk::prelude::*;

struct Hostile;

impl Cog for Hostile {
    fn manifest(&self) -> Manifest {
        let mut manifest = Manifest::new();
        for (name, what) in [
            ("spin", "Loop forever"),
            ("hog", "Allocate memory until something gives"),
            ("recurse", "Recurse without end"),
            ("huge", "Answer with a 4 MiB message"),
            ("boom", "Panic"),
            ("flood", "Call the host a million times"),
            ("ban", "Ban a user without the capability"),
            ("spend", "Call the LLM without the capability"),
            ("fine", "Answer normally"),
            (
                "memo",
                "Count calls in instance memory (shows instance reuse)",
            ),
            (
                "long",
                "Answer with 2 001 characters (over Discord's limit)",
            ),
            ("rows", "Answer with 6 rows of buttons (Discord allows 5)"),
            ("clock", "Read the clock (a WASI call) a million times"),
        ] {
            manifest = manifest.command(Command::new(name, what));
        }
        manifest = manifest
            .command(
                Command::new("post", "Post in a channel, perhaps another guild's")
                    .option(CommandOption::text("channel", "Channel id").required()),
            )
            .command(
                Command::new("slow", "Answer after a while")
                    .option(CommandOption::integer("ms", "How long to take").required())
                    .option(CommandOption::boolean("private", "Answer ephemerally")),
            )
            .command(Command::new(
                "steal",
                "Offer a button that claims to be another cog's",
            ))
            .command(Command::new("defer", "Answer `defer` and stop"))
            .command(
                Command::new(
                    "burst",
                    "Post many messages at once (meets its REST budget)",
                )
                .option(CommandOption::integer("count", "How many").required()),
            )
            .command(Command::new(
                "form",
                "Open a form and echo what is typed in it",
            ))
            .command(Command::new(
                "pick",
                "Offer a select menu, with a file attached",
            ))
            .command(Command::new(
                "chatty",
                "Follow up twice, then answer (the answer comes last)",
            ))
            .event(EventKind::MessageCreate);
        manifest
            .capability(
                "discord.members.ban",
                "Wants to ban people (the operator should say no).",
            )
            .capability("kv", "Tries to read other cogs' keys.")
            .capability("discord.messages", "Posts where it should not.")
            .page(Page::new("cycle", "A view whose containers loop"))
            .page(Page::new(
                "dangling",
                "A view naming a node that is not there",
            ))
            .page(Page::new("admins", "An admin page").admin_only())
            .page(Page::new("spin", "A page whose render never ends"))
            .page(Page::new("drawn", "A UI-module page without a module").ui_module())
            .page(Page::new(
                "escape",
                "A button whose action names a path out of its page",
            ))
    }

    fn render(&self, context: PageContext) -> Result<View, CogError> {
        use baseline_sdk::ViewNode;
        match context.route.as_str() {
            "cycle" => Ok(View {
                root: 0,
                nodes: vec![ViewNode::Column(vec![1]), ViewNode::Row(vec![0])],
            }),
            "dangling" => Ok(View {
                root: 0,
                nodes: vec![ViewNode::Column(vec![5])],
            }),
            "escape" => {
                let mut view = ViewBuilder::new();
                let button = view.button(
                    "Innocent",
                    "../../../../reference/pages/stats/actions/reset",
                );
                Ok(view.finish(button))
            }
            "spin" => loop {
                std::hint::black_box(());
            },
            _ => {
                let mut view = ViewBuilder::new();
                let text = view.text(format!("for {}", context.user_id));
                Ok(view.finish(text))
            }
        }
    }

    fn on_component(&self, component: ComponentInvocation) -> Result<ComponentResponse, CogError> {
        if component.values.iter().any(|v| v == "slow") {
            std::thread::sleep(std::time::Duration::from_millis(2_500));
        }
        let fields: Vec<String> = component
            .fields
            .iter()
            .map(|f| format!("{}={}", f.custom_id, f.value))
            .collect();
        Ok(ComponentResponse::Reply(
            Message::text(format!(
                "{:?} {}: {} values [{}]",
                component.kind,
                component.custom_id,
                fields.join(", "),
                component.values.join(",")
            ))
            .reply(),
        ))
    }

    fn on_event(&self, _event: Event, _context: InvocationContext) -> Result<(), CogError> {
        panic!("the hostile cog panicked on an event on purpose")
    }

    fn on_command(&self, command: CommandInvocation) -> Result<CommandResponse, CogError> {
        match command.name.as_str() {
            "spin" => {
                let mut n: u64 = 0;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            "hog" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![7u8; 1 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            "recurse" => Ok(CommandResponse::text(
                depth(std::hint::black_box(1)).to_string(),
            )),
            "huge" => Ok(CommandResponse::text("x".repeat(4 << 20))),
            "long" => Ok(CommandResponse::text("é".repeat(2_001))),
            "rows" => {
                let mut message = Message::text("too many rows");
                for row in 0..6 {
                    message = message.row(vec![Button::primary(format!("row:{row}"), "go").into()]);
                }
                Ok(CommandResponse::Reply(message.reply()))
            }
            "clock" => {
                let mut last = std::time::SystemTime::UNIX_EPOCH;
                for _ in 0..1_000_000 {
                    last = std::hint::black_box(std::time::SystemTime::now());
                }
                Ok(CommandResponse::text(format!("{last:?}")))
            }
            "boom" => panic!("the hostile cog panicked on purpose"),
            "flood" => {
                for i in 0..1_000_000u32 {
                    let _ = baseline_sdk::cache::get(&format!("k{i}"));
                }
                Ok(CommandResponse::text("flooded"))
            }
            "ban" => {
                baseline_sdk::discord::ban(42, 0, Some("hostile"))?;
                Ok(CommandResponse::text("banned"))
            }
            "spend" => {
                baseline_sdk::llm::chat(&baseline_sdk::llm::ChatRequest::new([]))?;
                Ok(CommandResponse::text("spent"))
            }
            "memo" => {
                static CALLS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
                let calls = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                // On stderr too: a later call's panic message must not
                // start with what earlier calls of the instance wrote.
                eprintln!("memo {calls}");
                Ok(CommandResponse::text(calls.to_string()))
            }
            "peek" => {
                use baseline_sdk::kv::{self, Scope};
                // Every way a cog could name another cog's data: the same key,
                // the other cog's name in the key, the cog-wide space.
                let mut found = Vec::new();
                for key in [
                    "rolls",
                    "reference:rolls",
                    "reference/rolls",
                    "cog:reference:rolls",
                ] {
                    for scope in [
                        Scope::Guild,
                        Scope::Global,
                        Scope::User(command.context.user.id),
                    ] {
                        if let Some(value) = kv::get(scope, key)? {
                            found.push(format!("{key}={}", String::from_utf8_lossy(&value)));
                        }
                    }
                }
                let listed = kv::list_keys(Scope::Guild, "", None, 1000)?.keys;
                Ok(CommandResponse::text(format!(
                    "found [{}] listed [{}]",
                    found.join(","),
                    listed.join(",")
                )))
            }
            "post" => {
                let channel: u64 = command
                    .text("channel")
                    .and_then(|c| c.parse().ok())
                    .ok_or_else(|| CogError::User("channel must be an id".into()))?;
                Ok(CommandResponse::text(
                    match baseline_sdk::discord::send_message(
                        channel,
                        &Message::text("from hostile"),
                    ) {
                        Ok(id) => format!("sent {id}"),
                        Err(error) => format!("refused: {error:?}"),
                    },
                ))
            }
            "slow" => {
                let ms = command.integer("ms").unwrap_or(2_500).clamp(0, 60_000) as u64;
                std::thread::sleep(std::time::Duration::from_millis(ms));
                let text = format!("slept {ms} ms");
                Ok(if command.boolean("private") == Some(true) {
                    CommandResponse::ephemeral(Message::text(text))
                } else {
                    CommandResponse::text(text)
                })
            }
            "steal" => Ok(CommandResponse::Reply(
                Message::text("click me")
                    .row([Button::primary("reference:again:6:1", "Roll").into()])
                    .reply(),
            )),
            "defer" => Ok(CommandResponse::Defer(false)),
            "burst" => {
                let channel = command.context.channel_id.unwrap_or_default();
                let count = command.integer("count").unwrap_or(1).clamp(1, 100);
                let mut sent = 0;
                let mut stopped = String::from("none");
                for n in 0..count {
                    match baseline_sdk::discord::send_message(
                        channel,
                        &Message::text(format!("burst {n}")),
                    ) {
                        Ok(_) => sent += 1,
                        Err(error) => {
                            stopped = format!("{error:?}");
                            break;
                        }
                    }
                }
                Ok(CommandResponse::text(format!(
                    "sent {sent}, stopped by {stopped}"
                )))
            }
            "pick" => Ok(CommandResponse::Reply(
                Message::text("pick colours")
                    .row([SelectMenu::text("pick")
                        .option("Red", "red")
                        .option("Blue", "blue")
                        .option("Slowly", "slow")
                        .into()])
                    .file("notes.txt", b"colours: red, blue".to_vec())
                    .reply(),
            )),
            "form" => Ok(CommandResponse::Modal(
                Modal::new("form", "Tell me")
                    .input(TextInput::short("name", "Your name"))
                    .input(TextInput::paragraph("story", "A story").optional()),
            )),
            "chatty" => {
                for n in 1..=2 {
                    baseline_sdk::interaction::follow_up(
                        &Message::text(format!("follow-up {n}")).reply(),
                    )?;
                }
                Ok(CommandResponse::text("answer"))
            }
            _ => Ok(CommandResponse::text("fine")),
        }
    }
}

#[inline(never)]
#[allow(unconditional_recursion)]
fn depth(n: u64) -> u64 {
    // No locals in linear memory: the wasm call stack itself overflows.
    std::hint::black_box(depth(std::hint::black_box(n + 1))) + 1
}

register_cog!(Hostile);
