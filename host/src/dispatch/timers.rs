//! Cogs' timers, run (the `schedule` capability sets them). Every process
//! with a Discord connection looks for due timers four times a second and
//! runs those of the guilds its shards serve, each once: taking a timer
//! deletes it only if it is still the one that was due
//! ([`crate::store::timers::Timers::take`]), so a timer another process
//! took, or the cog replaced meanwhile, is not run twice. A timer runs
//! `on-timer(name, payload)` in its guild, if the cog is loaded and enabled
//! there; a failed run is logged like any call and not retried (a cog that
//! wants a retry sets its timer again).

use std::sync::Arc;
use std::time::Duration;

use super::Bot;
use crate::capabilities::Scope;
use crate::discord::events::actor;
use crate::runtime::Call;
use crate::store::timers::{Timer, Timers};
use crate::wit::types::InvocationContext;

/// How often the store is asked for due timers.
const TICK: Duration = Duration::from_millis(250);
/// Due timers taken per tick at most.
const PER_TICK: u32 = 200;

impl Bot {
    /// Run due timers until the bot stops.
    pub(super) async fn keep_timers(self: Arc<Self>, timers: Timers) {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let due = match timers.due(crate::store::now_millis(), PER_TICK).await {
                Ok(due) => due,
                Err(error) => {
                    tracing::warn!(%error, "cannot read the due timers; trying again");
                    continue;
                }
            };
            for timer in due {
                if !self.session.runs_guild(timer.guild) {
                    continue;
                }
                match timers.take(&timer).await {
                    Ok(true) => {
                        tokio::spawn(self.clone().fire(timer));
                    }
                    Ok(false) => {}
                    Err(error) => tracing::warn!(%error, "cannot take a due timer"),
                }
            }
        }
    }

    /// Run one timer's `on-timer`.
    async fn fire(self: Arc<Self>, timer: Timer) {
        let Some(cog) = self.runtime.registry().get(&timer.cog) else {
            tracing::info!(cog = %timer.cog, guild = timer.guild, name = %timer.name, "a timer of a cog that is not loaded is dropped");
            return;
        };
        if !self.enabled(Some(timer.guild), cog.name()).await {
            tracing::debug!(cog = %timer.cog, guild = timer.guild, name = %timer.name, "a timer of a cog turned off in its guild is dropped");
            return;
        }
        let scope = Scope {
            cog: Arc::from(cog.name()),
            guild_id: Some(timer.guild),
            wit: cog.facts.version,
            ..Scope::default()
        };
        let context = InvocationContext {
            guild_id: Some(timer.guild),
            channel_id: None,
            user: actor(0),
            member: None,
            locale: None,
            interaction_id: 0,
        };
        let call = Call::Timer(timer.name, timer.payload, context);
        // Failures are counted and logged by the runtime.
        let _ = self.runtime.invoke(&cog, scope, call).await;
    }
}
