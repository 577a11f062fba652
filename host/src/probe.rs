//! Health probes of the backing services: one type and one unit
//! (microseconds) for every place that reports them — the API's
//! `/api/v1/health`, the health server's `/readyz`, and the `system`
//! capability (the status cog's `/status`).

use std::time::Duration;

use serde::Serialize;

use crate::cache::Cache;
use crate::store::Database;

/// One backing service's answer to a ping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Probe {
    /// `postgres`, `sqlite`, `redis`, `in-process`.
    pub backend: String,
    /// Whether it answered.
    pub healthy: bool,
    /// Round trip of the ping in microseconds, when it answered.
    pub latency_micros: Option<u64>,
    /// Why not, when it did not (may name hosts and users: for operators only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Probe {
    /// A probe from a ping's result.
    pub fn from_ping<E: std::fmt::Display>(backend: &str, ping: Result<Duration, E>) -> Self {
        match ping {
            Ok(took) => Self {
                backend: backend.into(),
                healthy: true,
                latency_micros: Some(took.as_micros() as u64),
                error: None,
            },
            Err(error) => Self {
                backend: backend.into(),
                healthy: false,
                latency_micros: None,
                error: Some(error.to_string()),
            },
        }
    }

    /// Ping the database.
    pub async fn database(db: &Database) -> Self {
        Self::from_ping(db.backend(), db.ping().await)
    }

    /// Ping the cache.
    pub async fn cache(cache: &dyn Cache) -> Self {
        Self::from_ping(cache.backend(), cache.ping().await)
    }

    /// The same probe without the error text (for callers who may not see it).
    pub fn redacted(self) -> Self {
        Self {
            error: None,
            ..self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_probe_reports_microseconds_or_the_error() {
        let up = Probe::from_ping::<String>("sqlite", Ok(Duration::from_micros(1_500)));
        assert_eq!(up.latency_micros, Some(1_500));
        assert!(up.healthy && up.error.is_none());
        let down = Probe::from_ping::<&str>("redis", Err("connection refused"));
        assert!(!down.healthy && down.latency_micros.is_none());
        assert_eq!(down.error.as_deref(), Some("connection refused"));
        assert_eq!(down.redacted().error, None);
    }
}
