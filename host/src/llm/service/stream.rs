//! A metered stream: reserved like a chat, read piece by piece, charged
//! when it ends — at the provider's usage when it ended whole, at the
//! reserved worst case when it was cut or dropped (the provider bills what
//! it generated, reasoning and tool arguments included, which the host
//! never saw: an estimate from the text received would under-charge).

use std::sync::Arc;

use super::{Caller, Charged, LlmService, Prepared, charged, error_kind, tokens_of};
use crate::llm::client::ChatStream;
use crate::llm::gateway::Served;
use crate::llm::model::{ChatRequest, ChatResponse, LlmError, Usage};

impl LlmService {
    /// Stream `request` for `caller`: reserved like a chat; read it with
    /// [`MeteredStream::next_text`] and end it with
    /// [`MeteredStream::finish`], which settles and records — at the
    /// provider's usage when the stream ended whole, else at its worst
    /// case, since the provider bills a cut stream too.
    pub async fn stream(
        self: &Arc<Self>,
        caller: &Caller,
        mut request: ChatRequest,
    ) -> Result<MeteredStream, LlmError> {
        let prepared = self.prepare(caller, &mut request).await?;
        match self.gateway.stream(&prepared.chain, &request).await {
            Ok((stream, served)) => Ok(MeteredStream {
                service: self.clone(),
                caller: caller.clone(),
                prepared: Some(prepared),
                stream: Some(stream),
                served,
            }),
            Err(error) => {
                self.conclude(
                    caller,
                    &prepared,
                    "stream",
                    Usage::default(),
                    None,
                    error_kind(&error),
                )
                .await?;
                Err(error)
            }
        }
    }
}

/// A streamed answer being read, charged when it ends.
pub struct MeteredStream {
    service: Arc<LlmService>,
    caller: Caller,
    prepared: Option<Prepared>,
    stream: Option<ChatStream>,
    served: Served,
}

impl MeteredStream {
    /// The next piece of text; `None` at the end.
    pub async fn next_text(&mut self) -> Result<Option<String>, LlmError> {
        match &mut self.stream {
            Some(stream) => stream.next_text().await,
            None => Ok(None),
        }
    }

    /// The whole answer and its charge; a cut stream is charged its worst
    /// case and answered with [`LlmError::StreamCut`].
    pub async fn finish(mut self) -> Result<(ChatResponse, Charged), LlmError> {
        let (Some(stream), Some(prepared)) = (self.stream.take(), self.prepared.take()) else {
            return Err(LlmError::Invalid("the stream was already finished".into()));
        };
        let received = tokens_of(stream.text());
        let result = stream.finish();
        let (usage, outcome) = match &result {
            Ok(answer) => (answer.usage, "ok"),
            Err(error) => (
                Usage {
                    input: prepared.prompt,
                    output: received,
                    ..Usage::default()
                },
                error_kind(error),
            ),
        };
        let cost = self
            .service
            .conclude(
                &self.caller,
                &prepared,
                "stream",
                usage,
                Some(&self.served),
                outcome,
            )
            .await?;
        let answer = result?;
        Ok((answer, charged(cost, &self.served)))
    }
}

impl Drop for MeteredStream {
    /// A stream dropped unread is still charged (its worst case), so a
    /// reservation never stays held and dropping is never cheaper.
    fn drop(&mut self) {
        if let (Some(stream), Some(prepared)) = (self.stream.take(), self.prepared.take()) {
            let usage = Usage {
                input: prepared.prompt,
                output: tokens_of(stream.text()),
                ..Usage::default()
            };
            let (service, caller, served) = (
                self.service.clone(),
                self.caller.clone(),
                self.served.clone(),
            );
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(async move {
                    let _ = service
                        .conclude(
                            &caller,
                            &prepared,
                            "stream",
                            usage,
                            Some(&served),
                            "dropped",
                        )
                        .await;
                });
            }
        }
    }
}
