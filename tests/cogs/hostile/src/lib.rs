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
        ] {
            manifest = manifest.command(Command::new(name, what));
        }
        manifest
            .capability(
                "discord.members.ban",
                "Wants to ban people (the operator should say no).",
            )
            .capability("kv", "Tries to read other cogs' keys.")
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
                baseline_sdk::llm::chat(&baseline_sdk::llm::ChatRequest {
                    model: None,
                    messages: vec![],
                    max_tokens: None,
                    temperature: None,
                })?;
                Ok(CommandResponse::text("spent"))
            }
            "memo" => {
                static CALLS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
                let calls = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
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
