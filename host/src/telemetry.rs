//! Logging: JSON lines when the output is not a terminal (services, CI),
//! human-readable lines on a terminal. `RUST_LOG` filters as usual; by
//! default the host's own modules and cogs' log lines (target `cog`) log
//! at INFO and every dependency only at WARN — their INFO spans would
//! otherwise be created, and their fields formatted, on every request and
//! gateway frame (a fifth of the CPU of an interaction, measured in
//! docs/benchmarks.md).

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// The filter without `RUST_LOG`.
pub const DEFAULT_FILTER: &str =
    "warn,baseline=info,baseline_host=info,baseline_discord_sim=info,cog=info";

/// Install the global subscriber. Safe to call more than once (tests).
pub fn init() {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if std::io::stderr().is_terminal() {
        builder.try_init()
    } else {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init()
    };
}
