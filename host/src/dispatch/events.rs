//! Gateway events → cogs: each event (already turned into the WIT's
//! `event` by [`crate::discord::events`]) is delivered, concurrently, to
//! every loaded cog that subscribed to its kind and is enabled in the
//! event's guild. One cog failing (or panicking) does not keep the event
//! from the others; a cog whose queue is full sheds it — within each
//! guild's own allowance, so one guild's flood never sheds another's
//! (`runtime::share::CogShare::enqueue_event`).

use std::sync::Arc;

use super::Bot;
use crate::capabilities::Scope;
use crate::discord::events::kind;
use crate::runtime::Call;
use crate::wit::types::{Event, InvocationContext, User};

impl Bot {
    /// Deliver `event` to every subscribed cog enabled in `guild`; returns
    /// when all of them have run.
    pub async fn deliver_event(
        self: &Arc<Self>,
        guild: Option<u64>,
        channel: Option<u64>,
        actor: User,
        event: Event,
    ) {
        let wanted = kind(&event);
        // What a cog of 0.1.0 or 0.2.0 subscribed to for it (a kick is a
        // leave there), if those versions have it at all.
        let wanted_before_0_3 = crate::wit::v0_2::subscribed_as(wanted);
        let mut runs = tokio::task::JoinSet::new();
        for cog in self.runtime.registry().list() {
            let subscribed = if cog.facts.version < crate::wit::WitVersion::V0_3 {
                wanted_before_0_3.is_some_and(|kind| cog.manifest.events.contains(&kind))
            } else {
                cog.manifest.events.contains(&wanted)
            };
            if !subscribed || !self.enabled(guild, cog.name()).await {
                continue;
            }
            // A cog whose events pile up (a flood, or a cog too slow for its
            // traffic) sheds the excess instead of queueing without end.
            let limits = crate::runtime::share::EventLimits::of(&self.runtime.config().runtime);
            let Some(ticket) = cog
                .share
                .enqueue_event(guild, limits, self.runtime.events_queued())
            else {
                let shed = cog.share.shed_events();
                if shed.is_power_of_two() {
                    tracing::warn!(cog = %cog.name(), shed, "event queue full; events for this cog are shed");
                }
                continue;
            };
            let scope = Scope {
                cog: Arc::from(cog.name()),
                guild_id: guild,
                user_id: (actor.id != 0).then_some(actor.id),
                channel_id: channel,
                interaction_id: None,
                interaction: None,
                wit: cog.facts.version,
            };
            let context = InvocationContext {
                guild_id: guild,
                channel_id: channel,
                user: actor.clone(),
                member: None,
                locale: None,
                interaction_id: 0,
            };
            let call = Call::Event(Box::new(event.clone()), context);
            let runtime = self.runtime.clone();
            runs.spawn(async move {
                // The guild's turn first: its flood waits in its own line.
                let _turn = ticket.turn().await;
                // Failures are counted and logged by the runtime; the other cogs go on.
                let _ = runtime.invoke(&cog, scope, call).await;
                drop(ticket);
            });
        }
        while runs.join_next().await.is_some() {}
    }
}
