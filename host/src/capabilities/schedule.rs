//! `schedule`: timers. A cog asks for its `on-timer(name, payload)` to run
//! later in the guild of the current invocation; the host keeps the timer
//! in the database ([`crate::store::timers`]), so it runs after a restart,
//! and runs it once (`dispatch::timers`). The cog names only the timer;
//! the host adds the cog and guild, so no cog reaches another's timers.
//! Bounded: `[quotas] timers_per_guild` per cog and guild, names of at most
//! [`MAX_NAME_BYTES`], payloads of at most [`MAX_PAYLOAD_BYTES`], at most a
//! year ahead.

use super::CogState;
use crate::store::timers::{Timer, TimerError};
use crate::wit::baseline::cog::schedule::{Host, ScheduleError};

/// Longest timer name, in bytes.
pub const MAX_NAME_BYTES: usize = 100;
/// Largest payload, in bytes.
pub const MAX_PAYLOAD_BYTES: usize = 4 << 10;
/// Furthest ahead a timer may be set (a year), in milliseconds.
pub const MAX_AHEAD_MS: u64 = 366 * 86_400_000;

impl CogState {
    /// The common front of every schedule call: grant, guild, store.
    fn schedule_enter(&self) -> Result<(crate::store::timers::Timers, u64), ScheduleError> {
        if let Err(denial) = self.grants.check("schedule") {
            return Err(ScheduleError::Denied(denial));
        }
        let guild = self.scope.guild_id.ok_or(ScheduleError::NoGuild)?;
        let timers = self.services.timers.clone().ok_or_else(|| {
            ScheduleError::Unavailable(
                "timers need the database; this host runs without one".into(),
            )
        })?;
        Ok((timers, guild))
    }

    async fn schedule_set(
        &mut self,
        name: String,
        due_at: u64,
        payload: String,
    ) -> Result<(), ScheduleError> {
        let (timers, guild) = self.schedule_enter()?;
        if name.is_empty() || name.len() > MAX_NAME_BYTES {
            return Err(ScheduleError::Invalid(format!(
                "a timer's name is 1 to {MAX_NAME_BYTES} bytes"
            )));
        }
        if payload.len() > MAX_PAYLOAD_BYTES {
            return Err(ScheduleError::Invalid(format!(
                "a timer's payload is at most {MAX_PAYLOAD_BYTES} bytes"
            )));
        }
        let now = crate::store::now_millis().max(0) as u64;
        if due_at > now.saturating_add(MAX_AHEAD_MS) {
            return Err(ScheduleError::Invalid(
                "a timer is at most a year ahead".into(),
            ));
        }
        let timer = Timer {
            cog: self.scope.cog.to_string(),
            guild,
            name,
            due_at: due_at as i64,
            payload,
        };
        match timers.set(&timer, self.quotas.timers_per_guild).await {
            Ok(()) => Ok(()),
            Err(TimerError::TooMany(most)) => Err(ScheduleError::TooMany(most)),
            Err(TimerError::Store(error)) => Err(ScheduleError::Unavailable(error.to_string())),
        }
    }
}

impl Host for CogState {
    async fn after(
        &mut self,
        name: String,
        delay_ms: u64,
        payload: String,
    ) -> wasmtime::Result<Result<(), ScheduleError>> {
        let now = crate::store::now_millis().max(0) as u64;
        Ok(self
            .schedule_set(name, now.saturating_add(delay_ms), payload)
            .await)
    }

    async fn at(
        &mut self,
        name: String,
        at_ms: u64,
        payload: String,
    ) -> wasmtime::Result<Result<(), ScheduleError>> {
        Ok(self.schedule_set(name, at_ms, payload).await)
    }

    async fn cancel(&mut self, name: String) -> wasmtime::Result<Result<bool, ScheduleError>> {
        let (timers, guild) = match self.schedule_enter() {
            Ok(entered) => entered,
            Err(error) => return Ok(Err(error)),
        };
        Ok(timers
            .cancel(&self.scope.cog, guild, &name)
            .await
            .map_err(|e| ScheduleError::Unavailable(e.to_string())))
    }

    async fn pending(&mut self) -> wasmtime::Result<Result<Vec<(String, u64)>, ScheduleError>> {
        let (timers, guild) = match self.schedule_enter() {
            Ok(entered) => entered,
            Err(error) => return Ok(Err(error)),
        };
        Ok(timers
            .pending(&self.scope.cog, guild)
            .await
            .map(|list| {
                list.into_iter()
                    .map(|(name, at)| (name, at.max(0) as u64))
                    .collect()
            })
            .map_err(|e| ScheduleError::Unavailable(e.to_string())))
    }
}
