//! The Baseline host: owns Discord, storage and the LLM providers, and runs
//! cogs — sandboxed WebAssembly components — lending them capabilities
//! through the WIT interfaces in `wit/`.
//!
//! Module map, bottom layer first (docs/architecture.md has the picture;
//! `tests/layers.rs` checks that every import goes downwards):
//! - [`wit`]: the bindings generated from `wit/`, the types every layer shares;
//! - [`config`]: the operator's `baseline.toml` and environment overrides;
//! - [`telemetry`]: logging (JSON lines or human-readable);
//! - [`schema`]: the rules of cog settings schemas (compile, defaults, merge, validate);
//! - [`store`]: the database (Postgres or SQLite): kv, settings, guilds, access;
//! - [`cache`]: Redis or in process, with per-cog spaces;
//! - [`probe`]: health probes of the database and the cache;
//! - [`discord`]: the Discord client (gateway, REST, shard monitor, model mapping, OAuth2);
//! - [`llm`]: the LLM gateway (providers' wire formats, usage, costs);
//! - [`capabilities`]: one module per WIT import interface, each checking the
//!   cog's grants and scope before any side effect;
//! - [`runtime`]: the wasmtime engine, loading, hot reload, invocation, limits;
//! - [`dispatch`]: gateway events and interactions → cogs → Discord;
//! - [`health`]: `/livez`, `/readyz` and `/metrics` on the health port;
//! - [`api`]: the HTTP API (`/api/v1`): sign-in, sessions, tiers, routes;
//! - [`cli`]: the `baseline` command line.

pub mod api;
pub mod cache;
pub mod capabilities;
pub mod cli;
pub mod config;
pub mod discord;
pub mod dispatch;
pub mod health;
pub mod llm;
pub mod probe;
pub mod runtime;
pub mod schema;
pub mod store;
pub mod telemetry;
pub mod wit;

/// Baseline's version, as shown by `/status` and `baseline --version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
