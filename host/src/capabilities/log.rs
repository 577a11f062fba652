//! `log`: a cog's log lines, into the host's tracing with the cog, guild and
//! interaction attached. Messages and fields are truncated so a cog cannot
//! flood the log with one call (the host-call budget bounds the count).

use super::CogState;
use crate::wit::baseline::cog::log::{Host, Level};

/// Longest message kept, in bytes.
pub const MAX_MESSAGE: usize = 4096;
/// Most fields kept.
pub const MAX_FIELDS: usize = 32;

fn clip(text: &str, limit: usize) -> &str {
    if text.len() <= limit {
        return text;
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

impl Host for CogState {
    async fn write(
        &mut self,
        level: Level,
        message: String,
        fields: Vec<(String, String)>,
    ) -> wasmtime::Result<()> {
        if self.grants.check("log").is_err() {
            return Ok(());
        }
        let message = clip(&message, MAX_MESSAGE);
        let fields: Vec<String> = fields
            .iter()
            .take(MAX_FIELDS)
            .map(|(k, v)| format!("{}={}", clip(k, 64), clip(v, 256)))
            .collect();
        let joined = fields.join(" ");
        // No `fields=""` on lines without any.
        let fields = (!joined.is_empty()).then_some(joined.as_str());
        let cog = &*self.scope.cog;
        let guild = self.scope.guild_id;
        match level {
            Level::Trace => tracing::trace!(target: "cog", cog, guild, fields, "{message}"),
            Level::Debug => tracing::debug!(target: "cog", cog, guild, fields, "{message}"),
            Level::Info => tracing::info!(target: "cog", cog, guild, fields, "{message}"),
            Level::Warn => tracing::warn!(target: "cog", cog, guild, fields, "{message}"),
            Level::Error => tracing::error!(target: "cog", cog, guild, fields, "{message}"),
        }
        Ok(())
    }
}
