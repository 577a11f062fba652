//! Reliability around single calls: retries with exponential backoff and
//! full jitter, honouring `Retry-After`; a fallback chain of (provider,
//! model) routes the operator configures; a circuit breaker per provider.
//! A stream falls back only while it opens — once part of the answer has
//! been read, a failure is reported, not retried (the cog already showed
//! the beginning).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::client::{self, ChatStream, Provider};
use super::model::{
    ChatRequest, ChatResponse, ImageAnswer, ImageRequest, LlmError, Transcript,
    TranscriptionRequest,
};

/// One step of a fallback chain.
#[derive(Debug, Clone)]
pub struct Route {
    /// The provider's configured name.
    pub provider: String,
    /// The model there.
    pub model: String,
}

/// How hard to try one route.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Tries per route (the first included).
    pub attempts: u32,
    /// First backoff.
    pub base: Duration,
    /// Longest backoff, and the longest `Retry-After` waited out (longer
    /// ones move to the next route at once).
    pub max_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 3,
            base: Duration::from_millis(200),
            max_wait: Duration::from_secs(5),
        }
    }
}

/// Consecutive failures that open a provider's circuit.
pub const BREAKER_FAILURES: u32 = 5;
/// How long an open circuit stays open before one trial call.
pub const BREAKER_COOLDOWN: Duration = Duration::from_secs(30);

#[derive(Debug, Default)]
struct Breaker {
    failures: u32,
    open_until: Option<Instant>,
}

/// Which route answered, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Served {
    /// The provider that answered.
    pub provider: String,
    /// The model.
    pub model: String,
    /// Calls made in all (retries and fallbacks included).
    pub attempts: u32,
    /// A route after the first one answered.
    pub fallback: bool,
}

/// The configured providers, their breakers, the retry policy.
pub struct Gateway {
    http: reqwest::Client,
    providers: HashMap<String, Provider>,
    breakers: Mutex<HashMap<String, Breaker>>,
    policy: RetryPolicy,
}

/// Whether another try of the same route may succeed.
fn retryable(error: &LlmError) -> bool {
    matches!(
        error,
        LlmError::RateLimited { .. } | LlmError::ProviderDown(_) | LlmError::Timeout(_)
    )
}

/// Whether the next route may succeed where this one failed (a request the
/// provider found invalid, or a filtered answer, would fail anywhere).
fn falls_back(error: &LlmError) -> bool {
    retryable(error) || matches!(error, LlmError::Auth(_))
}

impl Gateway {
    /// A gateway over `providers` (by name).
    pub fn new(providers: HashMap<String, Provider>, policy: RetryPolicy) -> Self {
        Self {
            http: reqwest::Client::new(),
            providers,
            breakers: Mutex::new(HashMap::new()),
            policy,
        }
    }

    /// Whether `provider`'s circuit lets a call through now.
    pub fn closed(&self, provider: &str) -> bool {
        let mut breakers = self.breakers.lock();
        let breaker = breakers.entry(provider.to_string()).or_default();
        match breaker.open_until {
            Some(until) if Instant::now() < until => false,
            Some(_) => {
                // Half open: one trial; a failure opens it again at once.
                breaker.open_until = None;
                breaker.failures = BREAKER_FAILURES - 1;
                true
            }
            None => true,
        }
    }

    fn record(&self, provider: &str, ok: bool) {
        let mut breakers = self.breakers.lock();
        let breaker = breakers.entry(provider.to_string()).or_default();
        if ok {
            *breaker = Breaker::default();
            return;
        }
        breaker.failures += 1;
        if breaker.failures >= BREAKER_FAILURES {
            breaker.open_until = Some(Instant::now() + BREAKER_COOLDOWN);
            tracing::warn!(
                provider,
                "LLM provider's circuit opened after repeated failures"
            );
        }
    }

    /// How long to wait before try `attempt` (1 = the first retry).
    fn backoff(&self, attempt: u32, error: &LlmError) -> Option<Duration> {
        if let LlmError::RateLimited {
            retry_after: Some(after),
        } = error
        {
            return (*after <= self.policy.max_wait).then_some(*after);
        }
        let ceiling = self
            .policy
            .base
            .saturating_mul(1 << attempt.min(16))
            .min(self.policy.max_wait);
        // Full jitter: anywhere up to the exponential ceiling.
        Some(ceiling.mul_f64(fastrand::f64()))
    }

    /// Try each route in order, each with retries, skipping open circuits;
    /// `call` makes one call of one route (the provider and its model name).
    async fn run<T, F, Fut>(&self, chain: &[Route], call: F) -> Result<(T, Served), LlmError>
    where
        F: Fn(reqwest::Client, Provider, String) -> Fut,
        Fut: std::future::Future<Output = Result<T, LlmError>>,
    {
        let mut attempts = 0;
        let mut last = LlmError::ProviderDown("no route is configured for this model".into());
        for (index, route) in chain.iter().enumerate() {
            let Some(provider) = self.providers.get(&route.provider) else {
                last = LlmError::ProviderDown(format!(
                    "no provider `{}` is configured",
                    route.provider
                ));
                continue;
            };
            if !self.closed(&route.provider) {
                last = LlmError::ProviderDown(format!(
                    "`{}` is failing; its circuit is open",
                    route.provider
                ));
                continue;
            }
            for attempt in 0..self.policy.attempts.max(1) {
                attempts += 1;
                let result = call(self.http.clone(), provider.clone(), route.model.clone()).await;
                match result {
                    Ok(answer) => {
                        self.record(&route.provider, true);
                        return Ok((
                            answer,
                            Served {
                                provider: route.provider.clone(),
                                model: route.model.clone(),
                                attempts,
                                fallback: index > 0,
                            },
                        ));
                    }
                    Err(error) => {
                        self.record(&route.provider, !retryable(&error));
                        tracing::info!(provider = %route.provider, model = %route.model, attempt, %error, "LLM call failed");
                        let again = retryable(&error) && attempt + 1 < self.policy.attempts;
                        let wait = if again {
                            self.backoff(attempt + 1, &error)
                        } else {
                            None
                        };
                        let moving_on = !falls_back(&error);
                        last = error;
                        if moving_on {
                            return Err(last);
                        }
                        match wait {
                            Some(wait) => tokio::time::sleep(wait).await,
                            None => break,
                        }
                    }
                }
            }
        }
        Err(last)
    }

    /// A whole answer from the first route that gives one.
    pub async fn chat(
        &self,
        chain: &[Route],
        request: &ChatRequest,
    ) -> Result<(ChatResponse, Served), LlmError> {
        self.run(chain, |http, provider, model| {
            let routed = ChatRequest {
                model,
                ..request.clone()
            };
            async move { client::chat(&http, &provider, &routed).await }
        })
        .await
    }

    /// A stream from the first route that opens one. After it opens there
    /// is no fallback: a cut is the caller's to report.
    pub async fn stream(
        &self,
        chain: &[Route],
        request: &ChatRequest,
    ) -> Result<(ChatStream, Served), LlmError> {
        self.run(chain, |http, provider, model| {
            let routed = ChatRequest {
                model,
                ..request.clone()
            };
            async move { client::stream(&http, &provider, &routed).await }
        })
        .await
    }

    /// An image from the first route that draws one.
    pub async fn image(
        &self,
        chain: &[Route],
        request: &ImageRequest,
    ) -> Result<(ImageAnswer, Served), LlmError> {
        self.run(chain, |http, provider, model| {
            let routed = ImageRequest {
                model,
                ..request.clone()
            };
            async move { client::image(&http, &provider, &routed).await }
        })
        .await
    }

    /// A transcript from the first route that listens.
    pub async fn transcribe(
        &self,
        chain: &[Route],
        request: &TranscriptionRequest,
    ) -> Result<(Transcript, Served), LlmError> {
        self.run(chain, |http, provider, model| {
            let routed = TranscriptionRequest {
                model,
                ..request.clone()
            };
            async move { client::transcribe(&http, &provider, &routed).await }
        })
        .await
    }

    /// The input tokens of `request` on the first route that counts.
    pub async fn count(
        &self,
        chain: &[Route],
        request: &ChatRequest,
    ) -> Result<(u64, Served), LlmError> {
        self.run(chain, |http, provider, model| {
            let routed = ChatRequest {
                model,
                ..request.clone()
            };
            async move { client::count(&http, &provider, &routed).await }
        })
        .await
    }
}

/// Providers by name, shared.
pub type Providers = Arc<HashMap<String, Provider>>;
