//! `/status`: what the host is running and how healthy it is, as an
//! ephemeral embed. Fields the host cannot report yet say so instead of
//! failing the command.

use baseline_sdk::prelude::*;
use baseline_sdk::system::{self, ServiceHealth, ShardState};

struct Status;

impl Cog for Status {
    fn manifest(&self) -> Manifest {
        Manifest::new()
            .command(Command::new(
                "status",
                "Show the bot's version, uptime, shards and health",
            ))
            .capability(
                "system",
                "Reads uptime, shards and service health for /status.",
            )
    }

    fn on_command(&self, _command: CommandInvocation) -> Result<CommandResponse, CogError> {
        let host = system::host();
        let mut embed = Embed::new()
            .title("Baseline status")
            .color(0x57F287)
            .field("Version", host.version.clone(), true)
            .field("Uptime", format_uptime(host.uptime_seconds), true)
            .field(
                "Guilds",
                system::guild_count()
                    .map(|n| n.to_string())
                    .unwrap_or_else(unavailable),
                true,
            );

        let shards = match system::shards() {
            Ok(shards) if shards.is_empty() => "none".to_string(),
            Ok(shards) => shards
                .iter()
                .map(|shard| {
                    let latency = shard
                        .latency_ms
                        .map(|ms| {
                            if ms == 0 {
                                "<1 ms".to_string()
                            } else {
                                format!("{ms} ms")
                            }
                        })
                        .unwrap_or_else(|| "…".into());
                    format!(
                        "#{} {} · {latency} · {} guilds",
                        shard.id,
                        state(shard.state),
                        shard.guilds
                    )
                })
                .collect::<Vec<_>>()
                .join("\n"),
            Err(error) => unavailable(error),
        };
        embed = embed
            .field("Shards", shards, false)
            .field("Database", health(system::database()), true)
            .field("Cache", health(system::cache()), true);

        let cogs = host
            .cogs
            .iter()
            .map(|cog| format!("`{}` {}", cog.name, cog.version))
            .collect::<Vec<_>>()
            .join(", ");
        embed = embed.field(
            format!("Cogs ({})", host.cogs.len()),
            if cogs.is_empty() { "none".into() } else { cogs },
            false,
        );

        Ok(CommandResponse::ephemeral(Message::new().embed(embed)))
    }
}

fn unavailable<E>(_: E) -> String {
    "not available yet".to_string()
}

fn health(result: Result<ServiceHealth, system::SystemError>) -> String {
    match result {
        Ok(health) => {
            let state = if health.healthy { "✅ up" } else { "❌ down" };
            match health.latency_micros {
                Some(us) => format!("{state} ({}, {:.1} ms)", health.backend, us as f64 / 1000.0),
                None => format!("{state} ({})", health.backend),
            }
        }
        Err(error) => unavailable(error),
    }
}

fn state(state: ShardState) -> &'static str {
    match state {
        ShardState::Connecting => "connecting",
        ShardState::Connected => "connected",
        ShardState::Resuming => "resuming",
        ShardState::Disconnected => "disconnected",
    }
}

fn format_uptime(seconds: u64) -> String {
    let (days, hours, minutes, secs) = (
        seconds / 86_400,
        seconds / 3600 % 24,
        seconds / 60 % 60,
        seconds % 60,
    );
    match (days, hours, minutes) {
        (0, 0, 0) => format!("{secs}s"),
        (0, 0, _) => format!("{minutes}m {secs}s"),
        (0, _, _) => format!("{hours}h {minutes}m"),
        _ => format!("{days}d {hours}h"),
    }
}

register_cog!(Status);
