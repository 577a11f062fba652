//! The interaction handle: one interaction's token and acknowledgement
//! state, shared by the dispatcher (which answers with what the cog
//! returned, or defers) and the cog's `interaction` capability (which may
//! defer, follow up or edit), so that whoever speaks first acknowledges it.

use std::time::{Duration, Instant};

use http::Method;
use serde_json::{Value, json};
pub use twilight_model::http::interaction::InteractionResponseType;

use super::outgoing::EPHEMERAL;
use super::rest::{Body, Rest, RestError, Upload};

/// Discord's deadline for the first response.
pub const FIRST_RESPONSE: Duration = Duration::from_secs(3);
/// How long an interaction token stays usable.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(15 * 60);

/// How far an interaction's acknowledgement has got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ack {
    /// Nothing sent yet.
    Pending,
    /// A deferral was sent. `update`: a deferred update of the message the
    /// component sits on (type 6), whose `@original` is that message; else a
    /// deferred reply (type 5) still "thinking", ephemeral or not.
    Deferred {
        /// A deferred update of the component's message.
        update: bool,
        /// A deferred reply only its user sees.
        ephemeral: bool,
    },
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
    /// A handle for interaction `id` with `token`; `update_deferral`: a
    /// component (deferring updates its message).
    pub fn new(id: u64, token: &str, update_deferral: bool) -> Self {
        Self {
            id,
            token: token.to_string(),
            update_deferral,
            received: Instant::now(),
            ack: tokio::sync::Mutex::new(Ack::Pending),
            first_response: std::sync::OnceLock::new(),
        }
    }

    /// When the interaction arrived.
    pub fn received(&self) -> Instant {
        self.received
    }

    /// How far its acknowledgement has got.
    pub async fn ack(&self) -> Ack {
        *self.ack.lock().await
    }

    /// Its original response now has its content.
    pub async fn completed(&self) {
        *self.ack.lock().await = Ack::Complete;
    }

    fn callback_path(&self) -> String {
        format!("/interactions/{}/{}/callback", self.id, self.token)
    }

    fn webhook_path(&self, app: u64, rest: &str) -> String {
        format!("/webhooks/{app}/{}{rest}", self.token)
    }

    /// Send the interaction callback of `kind`.
    pub async fn callback(
        &self,
        rest: &Rest,
        kind: InteractionResponseType,
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
                (InteractionResponseType::DeferredUpdateMessage, None)
            } else {
                (
                    InteractionResponseType::DeferredChannelMessageWithSource,
                    ephemeral.then(|| json!({"flags": EPHEMERAL})),
                )
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
        self.on_original(rest, cog, Method::PATCH, Body::message(body, files))
            .await
    }

    /// Delete the original response.
    pub async fn delete_original(&self, rest: &Rest, cog: Option<&str>) -> Result<(), RestError> {
        self.on_original(rest, cog, Method::DELETE, Body::Empty)
            .await
    }

    /// Act on `@original` (acknowledging first if needed); it is complete after.
    async fn on_original(
        &self,
        rest: &Rest,
        cog: Option<&str>,
        method: Method,
        body: Body,
    ) -> Result<(), RestError> {
        self.acknowledge(rest, false).await?;
        let path = self.webhook_path(rest.application_id(), "/messages/@original");
        rest.call(
            cog,
            method,
            &path,
            body,
            Instant::now() + Duration::from_secs(10),
        )
        .await?;
        *self.ack.lock().await = Ack::Complete;
        Ok(())
    }

    /// Answer with a message as the first response and count the
    /// interaction as answered, whether or not Discord took it (nothing
    /// else will be tried as a first response after this).
    pub async fn respond_once(&self, rest: &Rest, body: Value) -> Result<(), RestError> {
        let sent = self
            .callback(
                rest,
                InteractionResponseType::ChannelMessageWithSource,
                Some(body),
                Vec::new(),
            )
            .await;
        self.completed().await;
        sent
    }
}
