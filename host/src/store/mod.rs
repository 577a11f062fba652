//! Durable state: sqlx over **Postgres** (production; `DATABASE_URL`) or
//! **SQLite** (the embedded default, a file under the data folder). Both run
//! the same queries — written once with `$n` placeholders, which both accept
//! — through [`with_pool!`]; where the dialects differ (atomic increment) the
//! code says so. Migrations for each back end live in `migrations/`.
//!
//! This module knows nothing above it: no WIT type, no HTTP route.

pub mod access;
pub mod commands;
pub mod guilds;
pub mod kv;
pub mod llm;
pub mod remembered;
pub mod settings;
pub mod timers;

use std::path::Path;
use std::str::FromStr;
use std::time::{Duration, Instant};

use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

/// Why a store operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// A value that must be an integer is not.
    #[error("the stored value is not an integer")]
    NotAnInteger,
    /// The database did not answer or refused (message).
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The schema could not be brought up to date.
    #[error("migrations failed: {0}")]
    Migration(String),
    /// A write would pass a storage quota (which one, in words).
    #[error("{0}")]
    QuotaExceeded(String),
    /// The connection URL is not usable.
    #[error("invalid database URL: {0}")]
    InvalidUrl(String),
    /// The database or its disk is full: the write was refused and rolled
    /// back, nothing already stored is lost.
    #[error("the bot's storage is full (the database or its disk); the write was not made: {0}")]
    Full(String),
}

/// Writes refused because the database or its disk was full, since start
/// (`baseline_store_full_total`): the operator's alert.
pub static FULL_REFUSALS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        // SQLite's SQLITE_FULL (13) and Postgres's disk_full (53100), and
        // an operating system's "no space left" on either.
        let full = match &error {
            sqlx::Error::Database(db) => {
                matches!(db.code().as_deref(), Some("13" | "53100"))
            }
            sqlx::Error::Io(io) => io.kind() == std::io::ErrorKind::StorageFull,
            _ => false,
        };
        if full {
            FULL_REFUSALS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            tracing::error!(%error, "the database or its disk is full: writes are refused until space is freed");
            return StoreError::Full(error.to_string());
        }
        StoreError::Unavailable(error.to_string())
    }
}

/// The pool of one back end.
#[derive(Clone, Debug)]
pub enum Pool {
    /// Postgres.
    Postgres(PgPool),
    /// SQLite.
    Sqlite(SqlitePool),
}

/// Run the same expression against whichever pool `$db` holds; `$pool` is
/// bound to the typed pool in each arm.
#[macro_export]
#[doc(hidden)]
macro_rules! with_pool {
    ($db:expr, |$pool:ident| $body:expr) => {
        match $db.pool() {
            $crate::store::Pool::Postgres($pool) => $body,
            $crate::store::Pool::Sqlite($pool) => $body,
        }
    };
}
pub use with_pool;

/// The database: a pool and which back end it is.
#[derive(Clone, Debug)]
pub struct Database {
    pool: Pool,
}

/// Milliseconds since the Unix epoch (expiry times are stored this way).
pub fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Database {
    /// The SQLite URL of the embedded default in `data_dir`.
    pub fn sqlite_url(data_dir: &Path) -> String {
        format!("sqlite://{}", data_dir.join("baseline.db").display())
    }

    /// Connect once. `postgres://…` or `sqlite://PATH` (created if missing).
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let pool = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Pool::Postgres(
                PgPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(5))
                    .connect(url)
                    .await?,
            )
        } else if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)
                .map_err(|e| StoreError::InvalidUrl(e.to_string()))?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .busy_timeout(Duration::from_secs(5))
                .foreign_keys(true);
            if let Some(parent) = options.get_filename().parent() {
                std::fs::create_dir_all(parent)
                    .map_err(|e| StoreError::Unavailable(e.to_string()))?;
            }
            Pool::Sqlite(
                SqlitePoolOptions::new()
                    .max_connections(8)
                    .connect_with(options)
                    .await?,
            )
        } else {
            return Err(StoreError::InvalidUrl(format!(
                "`{}` is neither postgres:// nor sqlite://",
                url.split('@').next_back().unwrap_or(url)
            )));
        };
        Ok(Self { pool })
    }

    /// Connect, retrying with exponential backoff (1 s doubling to 30 s)
    /// while the database is unavailable, logging each failure; gives up
    /// after `attempts`.
    pub async fn connect_with_retry(url: &str, attempts: u32) -> Result<Self, StoreError> {
        use backon::Retryable as _;
        let mut attempt = 0;
        (|| Self::connect(url))
            .retry(crate::config::reconnect_backoff(attempts))
            .when(|error| !matches!(error, StoreError::InvalidUrl(_)))
            .notify(|error, delay| {
                attempt += 1;
                tracing::warn!(%error, attempt, retry_in_s = delay.as_secs(), "database not reachable; retrying");
            })
            .await
    }

    /// The statement that begins a transaction that will write. On SQLite
    /// it takes the write lock at once (`BEGIN IMMEDIATE`): a deferred
    /// transaction that reads first fails with "database is locked", without
    /// waiting, when another one wrote in between; an immediate one waits
    /// its turn within the busy timeout.
    pub fn begin_write(&self) -> &'static str {
        match self.pool {
            Pool::Postgres(_) => "BEGIN",
            Pool::Sqlite(_) => "BEGIN IMMEDIATE",
        }
    }

    /// The typed pool.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// `postgres` or `sqlite`.
    pub fn backend(&self) -> &'static str {
        match self.pool {
            Pool::Postgres(_) => "postgres",
            Pool::Sqlite(_) => "sqlite",
        }
    }

    /// Apply the migrations this binary carries that the database lacks.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let result = match &self.pool {
            Pool::Postgres(pool) => sqlx::migrate!("../migrations/postgres").run(pool).await,
            Pool::Sqlite(pool) => sqlx::migrate!("../migrations/sqlite").run(pool).await,
        };
        result.map_err(|error| StoreError::Migration(error.to_string()))
    }

    /// One round trip; its duration.
    pub async fn ping(&self) -> Result<Duration, StoreError> {
        let started = Instant::now();
        with_pool!(self, |pool| sqlx::query("SELECT 1")
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(started.elapsed())
    }
}
