//! The storm cogs: four cogs built from this one file (packages
//! `storm-cache`, `storm-kv`, `storm-spin`, `storm-flood`), each
//! misbehaving on every message it sees, the way its name says. The storm
//! test runs them together against a normal cog; each also has a `/NAME`
//! command that does its thing once, for the quota tests.
//!
//! - `storm-cache`: writes 64 new 256 KiB cache values.
//! - `storm-kv`: writes 16 new 256 KiB kv values.
//! - `storm-spin`: spins until the host stops it.
//! - `storm-flood`: calls WASI (the clock) until its host-call budget ends.

use baseline_sdk::prelude::*;

const NAME: &str = env!("CARGO_PKG_NAME");

struct Storm;

/// Misbehave once; how many writes went through before a refusal (if any).
fn misbehave(round: u64) -> String {
    let value = vec![0x5a; 256 << 10];
    match NAME {
        "storm-cache" => {
            for i in 0..64 {
                if let Err(error) =
                    baseline_sdk::cache::set(&format!("r{round}:{i}"), &value, 3_600)
                {
                    return format!("refused after {i}: {error:?}");
                }
            }
            "wrote 64".into()
        }
        "storm-kv" => {
            for i in 0..16 {
                if let Err(error) = baseline_sdk::kv::set(
                    baseline_sdk::kv::Scope::Guild,
                    &format!("r{round}:{i}"),
                    &value,
                    None,
                ) {
                    return format!("refused after {i}: {error:?}");
                }
            }
            "wrote 16".into()
        }
        "storm-spin" => {
            let mut n: u64 = 0;
            loop {
                n = std::hint::black_box(n.wrapping_add(1));
            }
        }
        _ => {
            let mut last = std::time::SystemTime::UNIX_EPOCH;
            for _ in 0..1_000_000 {
                last = std::hint::black_box(std::time::SystemTime::now());
            }
            format!("{last:?}")
        }
    }
}

fn round() -> u64 {
    baseline_sdk::cache::increment("round", 1, 3_600).unwrap_or(0) as u64
}

impl Cog for Storm {
    fn manifest(&self) -> Manifest {
        Manifest::new()
            .command(
                Command::new(NAME, "Misbehave once")
                    .option(CommandOption::integer("round", "Which round (key prefix)")),
            )
            .event(EventKind::MessageCreate)
            .capability("kv", "Fills its kv quota.")
            .capability("cache", "Fills its cache quota.")
    }

    fn on_command(&self, command: CommandInvocation) -> Result<CommandResponse, CogError> {
        let round = command
            .options
            .iter()
            .find(|o| o.name == "round")
            .and_then(|o| match &o.value {
                OptionValue::Integer(n) => Some(*n as u64),
                _ => None,
            })
            .unwrap_or(0);
        Ok(CommandResponse::text(misbehave(round)))
    }

    fn on_event(&self, _event: Event, _context: InvocationContext) -> Result<(), CogError> {
        misbehave(round());
        Ok(())
    }
}

register_cog!(Storm);
