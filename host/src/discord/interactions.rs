//! Interactions → cogs: slash commands (by command name), autocomplete,
//! buttons and selects and modals (by the cog-owned custom-id prefix
//! `cog:`). The cog runs on its own task; if it has not answered within
//! `defer_after_ms` (2 s by default) the host acknowledges with a deferral,
//! so Discord's 3-second deadline is never missed, and the cog's answer then
//! completes the deferred response. A failure or refusal is answered with an
//! ephemeral, human message; the detail goes to the log.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};
use serenity::all::{CommandInteraction, Interaction};

use super::Bot;
use super::outgoing::{self, EPHEMERAL};
use super::rest::{Body, Rest, RestError, Upload};
use crate::capabilities::Scope;
use crate::runtime::bindings::types::{
    CogError, CommandResponse, ComponentInvocation, ComponentResponse,
};
use crate::runtime::{Answer, Call, InvocationError, LoadedCog};

/// Discord's deadline for the first response.
pub const FIRST_RESPONSE: Duration = Duration::from_secs(3);
/// How long an interaction token stays usable.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(15 * 60);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ack {
    /// Nothing sent yet.
    Pending,
    /// A deferral was sent. `update`: a deferred update of the message the
    /// component sits on (type 6), whose `@original` is that message; else a
    /// deferred reply (type 5) still "thinking", ephemeral or not.
    Deferred { update: bool, ephemeral: bool },
    /// The original response has its content.
    Complete,
}

/// One interaction being answered, shared by the router and the cog's
/// `interaction` capability so that whoever speaks first acknowledges it.
pub struct InteractionHandle {
    /// Interaction id.
    pub id: u64,
    token: String,
    /// A component (or a modal submitted from a message): deferring means
    /// "update that message later" (type 6) rather than "thinking" (type 5).
    update_deferral: bool,
    received: Instant,
    ack: tokio::sync::Mutex<Ack>,
    first_response: std::sync::OnceLock<Duration>,
}

impl std::fmt::Debug for InteractionHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InteractionHandle")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl PartialEq for InteractionHandle {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

impl Eq for InteractionHandle {}

impl InteractionHandle {
    fn new(id: u64, token: &str, update_deferral: bool) -> Self {
        Self {
            id,
            token: token.to_string(),
            update_deferral,
            received: Instant::now(),
            ack: tokio::sync::Mutex::new(Ack::Pending),
            first_response: std::sync::OnceLock::new(),
        }
    }

    fn callback_path(&self) -> String {
        format!("/interactions/{}/{}/callback", self.id, self.token)
    }

    fn webhook_path(&self, app: u64, rest: &str) -> String {
        format!("/webhooks/{app}/{}{rest}", self.token)
    }

    async fn callback(
        &self,
        rest: &Rest,
        kind: u8,
        data: Option<Value>,
        files: Vec<Upload>,
    ) -> Result<(), RestError> {
        let mut body = json!({"type": kind});
        if let Some(data) = data {
            body["data"] = data;
        }
        rest.call(
            None,
            Method::POST,
            &self.callback_path(),
            Body::message(body, files),
            self.received + FIRST_RESPONSE,
        )
        .await?;
        let _ = self.first_response.set(self.received.elapsed());
        Ok(())
    }

    /// How long the first response took, once sent.
    pub fn first_response(&self) -> Option<Duration> {
        self.first_response.get().copied()
    }

    /// Make sure the interaction is acknowledged (deferring if nothing was
    /// sent yet), so follow-ups and edits are allowed.
    pub async fn acknowledge(&self, rest: &Rest, ephemeral: bool) -> Result<(), RestError> {
        let mut ack = self.ack.lock().await;
        if *ack == Ack::Pending {
            let (kind, data) = if self.update_deferral {
                (6, None)
            } else {
                (5, ephemeral.then(|| json!({"flags": EPHEMERAL})))
            };
            self.callback(rest, kind, data, Vec::new()).await?;
            *ack = Ack::Deferred {
                update: self.update_deferral,
                ephemeral: ephemeral && !self.update_deferral,
            };
        }
        Ok(())
    }

    /// Send a follow-up message (acknowledging first if needed); its id.
    /// After a deferred reply, Discord makes the first follow-up the
    /// original response.
    pub async fn follow_up(
        &self,
        rest: &Rest,
        cog: Option<&str>,
        body: Value,
        files: Vec<Upload>,
    ) -> Result<u64, RestError> {
        self.acknowledge(rest, false).await?;
        let path = self.webhook_path(rest.application_id(), "?wait=true");
        let message = rest
            .call(
                cog,
                Method::POST,
                &path,
                Body::message(body, files),
                Instant::now() + Duration::from_secs(10),
            )
            .await?;
        let mut ack = self.ack.lock().await;
        if matches!(*ack, Ack::Deferred { update: false, .. }) {
            *ack = Ack::Complete;
        }
        Ok(message["id"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0))
    }

    /// Replace the original response (completing a deferral).
    pub async fn edit_original(
        &self,
        rest: &Rest,
        cog: Option<&str>,
        body: Value,
        files: Vec<Upload>,
    ) -> Result<(), RestError> {
        self.acknowledge(rest, false).await?;
        let path = self.webhook_path(rest.application_id(), "/messages/@original");
        rest.call(
            cog,
            Method::PATCH,
            &path,
            Body::message(body, files),
            Instant::now() + Duration::from_secs(10),
        )
        .await?;
        *self.ack.lock().await = Ack::Complete;
        Ok(())
    }

    /// Delete the original response.
    pub async fn delete_original(&self, rest: &Rest, cog: Option<&str>) -> Result<(), RestError> {
        self.acknowledge(rest, false).await?;
        let path = self.webhook_path(rest.application_id(), "/messages/@original");
        rest.call(
            cog,
            Method::DELETE,
            &path,
            Body::Empty,
            Instant::now() + Duration::from_secs(10),
        )
        .await?;
        *self.ack.lock().await = Ack::Complete;
        Ok(())
    }
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
    fn from_answer(cog: &str, result: Result<Answer, InvocationError>) -> Self {
        // Discord's limits first: an answer over one would be refused with
        // 400 and leave the user with nothing.
        let within = match &result {
            Ok(Answer::Command(Ok(CommandResponse::Reply(reply))))
            | Ok(Answer::Component(Ok(ComponentResponse::Reply(reply)))) => {
                super::limits::check_message(&reply.message)
            }
            Ok(Answer::Component(Ok(ComponentResponse::Update(message)))) => {
                super::limits::check_message(message)
            }
            Ok(Answer::Command(Ok(CommandResponse::Modal(modal))))
            | Ok(Answer::Component(Ok(ComponentResponse::Modal(modal)))) => {
                super::limits::check_modal(modal)
            }
            _ => Ok(()),
        };
        if let Err(limit) = within {
            tracing::warn!(
                cog,
                limit,
                "the cog's answer breaks Discord's limits; it was not sent"
            );
            return Outgoing::Notice(
                "This command failed: its answer breaks one of Discord's limits. The bot's operator can see which in the log.".into(),
            );
        }
        // Components and modals must carry the cog's own custom ids (the
        // limits were checked just above).
        let owned = match &result {
            Ok(Answer::Command(Ok(CommandResponse::Reply(reply))))
            | Ok(Answer::Component(Ok(ComponentResponse::Reply(reply)))) => {
                outgoing::check_owned_ids(cog, &reply.message)
            }
            Ok(Answer::Component(Ok(ComponentResponse::Update(message)))) => {
                outgoing::check_owned_ids(cog, message)
            }
            Ok(Answer::Command(Ok(CommandResponse::Modal(modal))))
            | Ok(Answer::Component(Ok(ComponentResponse::Modal(modal)))) => {
                outgoing::check_owned_modal(cog, modal)
            }
            _ => Ok(()),
        };
        if let Err(problem) = owned {
            tracing::warn!(cog, problem, "the cog's answer was refused");
            return Outgoing::Notice(
                "Something went wrong on our side. The bot's operator can see the details in the log.".into(),
            );
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
                    Outgoing::Notice(
                        "Something went wrong on our side. The bot's operator can see the details in the log."
                            .into(),
                    )
                }
                None => Outgoing::Notice("This answer could not be sent.".into()),
            },
            Err(error) => Outgoing::Notice(error.kind.user_message().into()),
        }
    }
}

impl Bot {
    /// Route one interaction.
    pub async fn on_interaction(self: Arc<Self>, interaction: Interaction) {
        let id = interaction.id().get();
        if !self.first_sighting(id) {
            tracing::debug!(
                interaction = id,
                "interaction seen before (replayed); not answered twice"
            );
            return;
        }
        match interaction {
            Interaction::Command(command) => self.command(command).await,
            Interaction::Autocomplete(command) => self.autocomplete(command).await,
            Interaction::Component(component) => {
                let invocation = super::incoming::component(&component);
                self.by_custom_id(component.id.get(), &component.token, invocation, true)
                    .await
            }
            Interaction::Modal(modal) => {
                let invocation = super::incoming::modal(&modal);
                // A modal opened from a slash command has no message to update.
                let on_message = modal.message.is_some();
                self.by_custom_id(modal.id.get(), &modal.token, invocation, on_message)
                    .await
            }
            _ => {}
        }
    }

    async fn command(self: Arc<Self>, interaction: CommandInteraction) {
        let handle = Arc::new(InteractionHandle::new(
            interaction.id.get(),
            &interaction.token,
            false,
        ));
        let name = &interaction.data.name;
        let guild = interaction.guild_id.map(|g| g.get());
        let Some(cog) = self.runtime.registry().by_command(name) else {
            tracing::warn!(command = %name, "no loaded cog owns this command");
            let text = format!("`/{name}` is not available right now.");
            self.deliver(&handle, "(none)", Outgoing::Notice(text))
                .await;
            return;
        };
        if !self.enabled(guild, cog.name()).await {
            let text = format!("`/{name}` is turned off in this server.");
            self.deliver(&handle, cog.name(), Outgoing::Notice(text))
                .await;
            return;
        }
        let call = Call::Command(super::incoming::command(&interaction));
        let scope = self.scope(
            &cog,
            guild,
            interaction.user.id.get(),
            interaction.channel_id.get(),
            &handle,
        );
        self.run(cog, scope, call, handle).await;
    }

    async fn autocomplete(self: Arc<Self>, interaction: CommandInteraction) {
        let handle = InteractionHandle::new(interaction.id.get(), &interaction.token, false);
        let guild = interaction.guild_id.map(|g| g.get());
        let mut choices = Vec::new();
        if let Some(cog) = self.runtime.registry().by_command(&interaction.data.name)
            && self.enabled(guild, cog.name()).await
        {
            let scope = Scope {
                cog: Arc::from(cog.name()),
                guild_id: guild,
                user_id: Some(interaction.user.id.get()),
                channel_id: Some(interaction.channel_id.get()),
                interaction_id: None,
                interaction: None,
            };
            let call = Call::Autocomplete(super::incoming::autocomplete(&interaction));
            if let Ok(Answer::Autocomplete(Ok(list))) = self.runtime.invoke(&cog, scope, call).await
            {
                choices = list.iter().take(25).map(outgoing::choice).collect();
            }
        }
        if let Err(error) = handle
            .callback(
                &self.link.rest,
                8,
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
        invocation: ComponentInvocation,
        on_message: bool,
    ) {
        let handle = Arc::new(InteractionHandle::new(id, token, on_message));
        let custom_id = &invocation.custom_id;
        let owner = custom_id.split_once(':').map(|(cog, _)| cog).unwrap_or("");
        let Some(cog) = self.runtime.registry().get(owner) else {
            tracing::warn!(custom_id, "no loaded cog owns this component");
            self.deliver(
                &handle,
                "(none)",
                Outgoing::Notice("This button no longer works.".into()),
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
                Outgoing::Notice("This feature is turned off in this server.".into()),
            )
            .await;
            return;
        }
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
        let runtime = self.runtime.clone();
        let running = cog.clone();
        let mut task = tokio::spawn(async move { runtime.invoke(&running, scope, call).await });
        let defer_after = Duration::from_millis(self.config.defer_after_ms);
        let result = tokio::select! {
            result = &mut task => result,
            _ = tokio::time::sleep_until((handle.received + defer_after).into()) => {
                if let Err(error) = handle.acknowledge(&self.link.rest, false).await {
                    tracing::warn!(%error, cog = cog.name(), "could not defer a slow interaction");
                }
                task.await
            }
        };
        let result = result.unwrap_or_else(|error| {
            Err(InvocationError {
                cog: cog.name().to_string(),
                kind: crate::runtime::FailureKind::Trap,
                detail: format!("the invocation task failed: {error}"),
            })
        });
        let outgoing = Outgoing::from_answer(cog.name(), result);
        self.deliver(&handle, cog.name(), outgoing).await;
    }

    /// Send the answer the way the interaction's state allows.
    async fn deliver(&self, handle: &InteractionHandle, cog: &str, outgoing: Outgoing) {
        let rest = &self.link.rest;
        let state = *handle.ack.lock().await;
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
                let kind = if update { 7 } else { 4 };
                let result = handle.callback(rest, kind, Some(body), files).await;
                if result.is_ok() {
                    *handle.ack.lock().await = Ack::Complete;
                }
                result
            }
            (Ack::Pending, Outgoing::Modal(modal)) => {
                handle.callback(rest, 9, Some(modal), Vec::new()).await
            }
            (Ack::Pending, Outgoing::Defer) => {
                // The invocation is over: nothing could complete a deferral now.
                tracing::warn!(
                    cog,
                    "the cog answered `defer` and ended; nothing would complete the response"
                );
                let text = "This command did not finish its answer.";
                let result = handle
                    .callback(rest, 4, Some(outgoing::notice(text)), Vec::new())
                    .await;
                *handle.ack.lock().await = Ack::Complete;
                result
            }
            (Ack::Pending, Outgoing::DeferUpdate) => handle.acknowledge(rest, false).await,
            (Ack::Pending, Outgoing::Notice(text)) => {
                let result = handle
                    .callback(rest, 4, Some(outgoing::notice(&text)), Vec::new())
                    .await;
                *handle.ack.lock().await = Ack::Complete;
                result
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
                    outgoing::notice("This form took too long to open. Please try again."),
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
                let text = "This command failed: Discord refused its answer. The bot's operator can see why in the log.";
                let state = *handle.ack.lock().await;
                let fallback = match state {
                    Ack::Pending => {
                        let sent = handle
                            .callback(rest, 4, Some(outgoing::notice(text)), Vec::new())
                            .await;
                        *handle.ack.lock().await = Ack::Complete;
                        sent
                    }
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
