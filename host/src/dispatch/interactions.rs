//! Interactions → cogs: slash commands (by command name), autocomplete,
//! buttons and selects and modals (by the cog-owned custom-id prefix
//! `cog:`). The cog runs on its own task; if it has not answered within
//! `defer_after_ms` (2 s by default) the host acknowledges with a deferral,
//! so Discord's 3-second deadline is never missed, and the cog's answer then
//! completes the deferred response. A failure or refusal is answered with an
//! ephemeral, human message; the detail goes to the log.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use twilight_model::application::interaction::application_command::CommandData;
use twilight_model::application::interaction::{Interaction, InteractionData, InteractionType};

use super::{Bot, failures};
use crate::capabilities::Scope;
use crate::discord::incoming;
use crate::discord::interaction::{Ack, InteractionHandle, InteractionResponseType as Kind};
use crate::discord::outgoing::{self, CustomIds, EPHEMERAL};
use crate::discord::rest::{RestError, Upload};
use crate::runtime::{Answer, Call, InvocationError, LoadedCog};
use crate::wit::types::{
    CogError, CommandResponse, ComponentInvocation, ComponentResponse, InvocationContext,
};

/// Why the host would not send an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// A custom id a WIT 0.1.0 cog does not own.
    NotOwned(String),
    /// Over one of Discord's limits (which would answer 400).
    OverLimits(String),
}

/// Make `answer` ready for Discord, as the host sends it: the custom ids of
/// its message or modal put on the wire, then Discord's limits checked on
/// what would be sent.
pub fn ready_answer(ids: CustomIds<'_>, answer: &mut Answer) -> Result<(), Refusal> {
    let limits = match answer {
        Answer::Command(Ok(CommandResponse::Reply(reply)))
        | Answer::Component(Ok(ComponentResponse::Reply(reply))) => {
            ids.message(&mut reply.message).map_err(Refusal::NotOwned)?;
            crate::discord::limits::check_message(&reply.message)
        }
        Answer::Component(Ok(ComponentResponse::Update(message))) => {
            ids.message(message).map_err(Refusal::NotOwned)?;
            crate::discord::limits::check_message(message)
        }
        Answer::Command(Ok(CommandResponse::Modal(modal)))
        | Answer::Component(Ok(ComponentResponse::Modal(modal))) => {
            ids.modal(modal).map_err(Refusal::NotOwned)?;
            crate::discord::limits::check_modal(modal)
        }
        _ => Ok(()),
    };
    limits.map_err(|problem| Refusal::OverLimits(ids.explain(problem)))
}

/// What the host sends once the cog has answered.
enum Outgoing {
    /// A message (a reply, or the component's message updated).
    Message {
        body: Value,
        files: Vec<Upload>,
        update: bool,
    },
    /// Open a modal.
    Modal(Value),
    /// The cog asked to defer (ephemeral or not).
    Defer,
    /// A component asked to defer the update.
    DeferUpdate,
    /// A notice to the user (failure, refusal).
    Notice(String),
}

impl Outgoing {
    fn from_answer(ids: CustomIds<'_>, mut result: Result<Answer, InvocationError>) -> Self {
        // What will be sent as a message or a modal gets its custom ids put
        // on the wire (the cog's namespace; refused when a 0.1.0 cog wrote
        // another's), then is checked against Discord's limits (an answer
        // over one would be refused with 400 and leave the user with nothing).
        let cog = ids.cog();
        if let Ok(answer) = &mut result {
            match ready_answer(ids, answer) {
                Ok(()) => {}
                Err(Refusal::OverLimits(limit)) => {
                    tracing::warn!(
                        cog,
                        limit,
                        "the cog's answer breaks Discord's limits; it was not sent"
                    );
                    return Outgoing::Notice(failures::OVER_LIMITS.into());
                }
                Err(Refusal::NotOwned(problem)) => {
                    tracing::warn!(cog, problem, "the cog's answer was refused");
                    return Outgoing::Notice(failures::INTERNAL.into());
                }
            }
        }
        match result {
            Ok(Answer::Command(Ok(CommandResponse::Reply(reply)))) => {
                let (body, files) = outgoing::reply(&reply);
                Outgoing::Message {
                    body,
                    files,
                    update: false,
                }
            }
            Ok(Answer::Command(Ok(CommandResponse::Modal(modal)))) => {
                Outgoing::Modal(outgoing::modal(&modal))
            }
            Ok(Answer::Command(Ok(CommandResponse::Defer(_)))) => Outgoing::Defer,
            Ok(Answer::Component(Ok(ComponentResponse::Reply(reply)))) => {
                let (body, files) = outgoing::reply(&reply);
                Outgoing::Message {
                    body,
                    files,
                    update: false,
                }
            }
            Ok(Answer::Component(Ok(ComponentResponse::Update(message)))) => {
                let (body, files) = outgoing::message(&message, true);
                Outgoing::Message {
                    body,
                    files,
                    update: true,
                }
            }
            Ok(Answer::Component(Ok(ComponentResponse::Modal(modal)))) => {
                Outgoing::Modal(outgoing::modal(&modal))
            }
            Ok(Answer::Component(Ok(ComponentResponse::DeferUpdate))) => Outgoing::DeferUpdate,
            Ok(answer) => match answer.cog_error() {
                Some(CogError::User(message)) => Outgoing::Notice(message.clone()),
                Some(CogError::Internal(detail)) => {
                    tracing::warn!(cog, detail, "the cog reported an internal error");
                    Outgoing::Notice(failures::INTERNAL.into())
                }
                None => Outgoing::Notice(failures::UNSENDABLE.into()),
            },
            Err(error) => Outgoing::Notice(failures::for_failure(error.kind).into()),
        }
    }
}

/// The interaction callback Discord receives for `result` — the body the
/// bot POSTs (`{"type": 4, "data": {...}}`), through the same checks and
/// the same notices as a live interaction (files as their attachment
/// entries). `baseline cog call --json` prints it.
pub fn callback_json(ids: CustomIds<'_>, result: Result<Answer, InvocationError>) -> Value {
    let (kind, data) = match Outgoing::from_answer(ids, result) {
        Outgoing::Message { body, update, .. } => (
            if update {
                Kind::UpdateMessage
            } else {
                Kind::ChannelMessageWithSource
            },
            Some(body),
        ),
        Outgoing::Modal(modal) => (Kind::Modal, Some(modal)),
        Outgoing::Defer => (Kind::DeferredChannelMessageWithSource, None),
        Outgoing::DeferUpdate => (Kind::DeferredUpdateMessage, None),
        Outgoing::Notice(text) => (
            Kind::ChannelMessageWithSource,
            Some(outgoing::notice(&text)),
        ),
    };
    let mut body = json!({"type": kind});
    if let Some(data) = data {
        body["data"] = data;
    }
    body
}

impl Bot {
    /// Route one interaction.
    pub async fn on_interaction(self: Arc<Self>, mut interaction: Interaction) {
        let id = interaction.id.get();
        if !self.first_sighting(id) {
            tracing::debug!(
                interaction = id,
                "interaction seen before (replayed); not answered twice"
            );
            return;
        }
        let Some(context) = incoming::context(&interaction) else {
            tracing::warn!(interaction = id, "an interaction without a user; ignored");
            return;
        };
        let token = std::mem::take(&mut interaction.token);
        let message = interaction.message.as_ref().map(|m| m.id.get());
        match (interaction.kind, interaction.data.take()) {
            (
                InteractionType::ApplicationCommand,
                Some(InteractionData::ApplicationCommand(data)),
            ) => self.command(id, &token, &data, context).await,
            (
                InteractionType::ApplicationCommandAutocomplete,
                Some(InteractionData::ApplicationCommand(data)),
            ) => self.autocomplete(id, &token, &data, context).await,
            (_, Some(InteractionData::MessageComponent(data))) => {
                let invocation = incoming::component(&data, message, context);
                self.by_custom_id(id, &token, invocation, true).await
            }
            (_, Some(InteractionData::ModalSubmit(data))) => {
                let invocation = incoming::modal(&data, message, context);
                // A modal opened from a slash command has no message to update.
                self.by_custom_id(id, &token, invocation, message.is_some())
                    .await
            }
            (kind, _) => {
                tracing::debug!(
                    interaction = id,
                    ?kind,
                    "an interaction kind no cog handles"
                );
            }
        }
    }

    async fn command(
        self: Arc<Self>,
        id: u64,
        token: &str,
        data: &CommandData,
        context: InvocationContext,
    ) {
        let handle = Arc::new(InteractionHandle::new(id, token, false));
        let name = &data.name;
        let guild = context.guild_id;
        let Some(cog) = self.runtime.registry().by_command(name) else {
            tracing::warn!(command = %name, "no loaded cog owns this command");
            let text = failures::command_unavailable(name);
            self.deliver(&handle, "(none)", Outgoing::Notice(text))
                .await;
            return;
        };
        if !self.enabled(guild, cog.name()).await {
            let text = failures::command_off(name);
            self.deliver(&handle, cog.name(), Outgoing::Notice(text))
                .await;
            return;
        }
        let (user, channel) = (context.user.id, context.channel_id.unwrap_or(0));
        let call = Call::Command(incoming::command(data, context));
        let scope = self.scope(&cog, guild, user, channel, &handle);
        self.run(cog, scope, call, handle).await;
    }

    async fn autocomplete(
        self: Arc<Self>,
        id: u64,
        token: &str,
        data: &CommandData,
        context: InvocationContext,
    ) {
        let handle = InteractionHandle::new(id, token, false);
        let guild = context.guild_id;
        let mut choices = Vec::new();
        if let Some(cog) = self.runtime.registry().by_command(&data.name)
            && self.enabled(guild, cog.name()).await
        {
            let scope = Scope {
                cog: Arc::from(cog.name()),
                guild_id: guild,
                user_id: Some(context.user.id),
                channel_id: context.channel_id,
                interaction_id: None,
                interaction: None,
                wit: cog.facts.version,
            };
            let call = Call::Autocomplete(incoming::autocomplete(data, context));
            if let Ok(Answer::Autocomplete(Ok(list))) = self.runtime.invoke(&cog, scope, call).await
            {
                choices = list.iter().take(25).map(outgoing::choice).collect();
            }
        }
        if let Err(error) = handle
            .callback(
                &self.link.rest,
                Kind::ApplicationCommandAutocompleteResult,
                Some(json!({"choices": choices})),
                Vec::new(),
            )
            .await
        {
            tracing::warn!(%error, "autocomplete result not delivered");
        }
        self.record_latency(&handle);
    }

    /// A button, select or modal: routed by the custom id's `cog:` prefix.
    async fn by_custom_id(
        self: Arc<Self>,
        id: u64,
        token: &str,
        mut invocation: ComponentInvocation,
        on_message: bool,
    ) {
        let handle = Arc::new(InteractionHandle::new(id, token, on_message));
        let custom_id = &invocation.custom_id;
        let owner = outgoing::custom_id_owner(custom_id).unwrap_or("");
        let Some(cog) = self.runtime.registry().get(owner) else {
            tracing::warn!(custom_id, "no loaded cog owns this component");
            self.deliver(
                &handle,
                "(none)",
                Outgoing::Notice(failures::STALE_COMPONENT.into()),
            )
            .await;
            return;
        };
        let context = &invocation.context;
        let (guild, user, channel) = (
            context.guild_id,
            context.user.id,
            context.channel_id.unwrap_or(0),
        );
        if !self.enabled(guild, cog.name()).await {
            self.deliver(
                &handle,
                cog.name(),
                Outgoing::Notice(failures::FEATURE_OFF.into()),
            )
            .await;
            return;
        }
        // The cog sees its custom id as it wrote it.
        invocation.custom_id =
            CustomIds::of(cog.name(), cog.facts.version).incoming(&invocation.custom_id);
        let call = Call::Component(invocation);
        let scope = self.scope(&cog, guild, user, channel, &handle);
        self.run(cog, scope, call, handle).await;
    }

    fn scope(
        &self,
        cog: &LoadedCog,
        guild: Option<u64>,
        user: u64,
        channel: u64,
        handle: &Arc<InteractionHandle>,
    ) -> Scope {
        Scope {
            cog: Arc::from(cog.name()),
            guild_id: guild,
            user_id: Some(user),
            channel_id: Some(channel),
            interaction_id: Some(handle.id),
            interaction: Some(handle.clone()),
            wit: cog.facts.version,
        }
    }

    /// Run the cog; defer if it is slow; deliver its answer.
    async fn run(
        self: Arc<Self>,
        cog: Arc<LoadedCog>,
        scope: Scope,
        call: Call,
        handle: Arc<InteractionHandle>,
    ) {
        // The call runs on this task (no spawn, one wake-up less per
        // interaction); a panic in it is caught and answered as a failure.
        let invocation = std::panic::AssertUnwindSafe(self.runtime.invoke(&cog, scope, call));
        let mut invocation = std::pin::pin!(futures_util::FutureExt::catch_unwind(invocation));
        let defer_after = Duration::from_millis(self.config.defer_after_ms);
        let result = tokio::select! {
            result = &mut invocation => result,
            _ = tokio::time::sleep_until((handle.received() + defer_after).into()) => {
                // Defer while the cog goes on running.
                let (deferred, result) = tokio::join!(
                    handle.acknowledge(&self.link.rest, false),
                    &mut invocation
                );
                if let Err(error) = deferred {
                    tracing::warn!(%error, cog = cog.name(), "could not defer a slow interaction");
                }
                result
            }
        };
        let result = result.unwrap_or_else(|_| {
            Err(InvocationError {
                cog: cog.name().to_string(),
                kind: crate::runtime::FailureKind::Trap,
                detail: "the host panicked while running the call".into(),
            })
        });
        let outgoing = Outgoing::from_answer(CustomIds::of(cog.name(), cog.facts.version), result);
        self.deliver(&handle, cog.name(), outgoing).await;
    }

    /// Send the answer the way the interaction's state allows.
    async fn deliver(&self, handle: &InteractionHandle, cog: &str, outgoing: Outgoing) {
        let rest = &self.link.rest;
        let state = handle.ack().await;
        let ephemeral = |body: &Value| body["flags"].as_u64().unwrap_or(0) & EPHEMERAL != 0;
        let result = match (state, outgoing) {
            (
                Ack::Pending,
                Outgoing::Message {
                    body,
                    files,
                    update,
                },
            ) => {
                let kind = if update {
                    Kind::UpdateMessage
                } else {
                    Kind::ChannelMessageWithSource
                };
                let result = handle.callback(rest, kind, Some(body), files).await;
                if result.is_ok() {
                    handle.completed().await;
                }
                result
            }
            (Ack::Pending, Outgoing::Modal(modal)) => {
                handle
                    .callback(rest, Kind::Modal, Some(modal), Vec::new())
                    .await
            }
            (Ack::Pending, Outgoing::Defer) => {
                // The invocation is over: nothing could complete a deferral now.
                tracing::warn!(
                    cog,
                    "the cog answered `defer` and ended; nothing would complete the response"
                );
                handle
                    .respond_once(rest, outgoing::notice(failures::UNFINISHED))
                    .await
            }
            (Ack::Pending, Outgoing::DeferUpdate) => handle.acknowledge(rest, false).await,
            (Ack::Pending, Outgoing::Notice(text)) => {
                handle.respond_once(rest, outgoing::notice(&text)).await
            }
            // A deferred reply: the answer completes it — unless the answer is
            // private and the deferral was public: then the "thinking"
            // message goes and the answer follows, ephemeral.
            (
                Ack::Deferred {
                    update: false,
                    ephemeral: deferred_private,
                },
                Outgoing::Message { body, files, .. },
            ) => {
                if ephemeral(&body) && !deferred_private {
                    match handle.delete_original(rest, None).await {
                        Ok(()) => handle.follow_up(rest, None, body, files).await.map(|_| ()),
                        Err(error) => Err(error),
                    }
                } else {
                    handle.edit_original(rest, None, body, files).await
                }
            }
            (
                Ack::Deferred {
                    update: false,
                    ephemeral: deferred_private,
                },
                Outgoing::Notice(text),
            ) => {
                if deferred_private {
                    let body = json!({"content": text, "allowed_mentions": {"parse": []}});
                    handle.edit_original(rest, None, body, Vec::new()).await
                } else {
                    match handle.delete_original(rest, None).await {
                        Ok(()) => handle
                            .follow_up(rest, None, outgoing::notice(&text), Vec::new())
                            .await
                            .map(|_| ()),
                        Err(error) => Err(error),
                    }
                }
            }
            // A deferred update: `@original` is the component's message. Only
            // an update replaces it; anything else is a message of its own.
            (
                Ack::Deferred { update: true, .. } | Ack::Complete,
                Outgoing::Message {
                    body,
                    files,
                    update: true,
                },
            ) => handle.edit_original(rest, None, body, files).await,
            (
                Ack::Deferred { update: true, .. } | Ack::Complete,
                Outgoing::Message {
                    body,
                    files,
                    update: false,
                },
            ) => handle.follow_up(rest, None, body, files).await.map(|_| ()),
            (Ack::Deferred { update: true, .. } | Ack::Complete, Outgoing::Notice(text)) => handle
                .follow_up(rest, None, outgoing::notice(&text), Vec::new())
                .await
                .map(|_| ()),
            (_, Outgoing::Modal(_)) => handle
                .follow_up(
                    rest,
                    None,
                    outgoing::notice(failures::MODAL_TOO_LATE),
                    Vec::new(),
                )
                .await
                .map(|_| ()),
            (_, Outgoing::Defer | Outgoing::DeferUpdate) => Ok(()),
        };
        if let Err(error) = result {
            tracing::warn!(%error, cog, interaction = handle.id, "the answer to an interaction was not delivered");
            // Discord refused the answer itself (a limit the host does not
            // know, a bad URL in an embed…): tell the user instead of leaving
            // the interaction to time out.
            if matches!(error, RestError::Invalid(_)) {
                let text = failures::REFUSED_BY_DISCORD;
                let state = handle.ack().await;
                let fallback = match state {
                    Ack::Pending => handle.respond_once(rest, outgoing::notice(text)).await,
                    _ => handle
                        .follow_up(rest, None, outgoing::notice(text), Vec::new())
                        .await
                        .map(|_| ()),
                };
                if let Err(error) = fallback {
                    tracing::warn!(%error, cog, interaction = handle.id, "could not tell the user the answer was refused");
                }
            }
        }
        self.record_latency(handle);
    }

    fn record_latency(&self, handle: &InteractionHandle) {
        if let Some(took) = handle.first_response() {
            self.interaction_seconds.observe(took.as_secs_f64());
        }
    }
}
