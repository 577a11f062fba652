//! The Baseline host: owns Discord, storage and the LLM providers, and runs
//! cogs — sandboxed WebAssembly components — lending them capabilities
//! through the WIT interfaces in `wit/`.
//!
//! Module map (see `../shared/DESIGN.md` for the picture):
//! - [`runtime`]: the wasmtime engine, loading, hot reload, invocation, limits;
//! - [`capabilities`]: one module per WIT import interface, each checking the
//!   cog's grants and scope before any side effect;
//! - [`config`]: the operator's `baseline.toml` and environment overrides;
//! - [`cli`]: the `baseline` command line.

pub mod api;
pub mod cache;
pub mod capabilities;
pub mod cli;
pub mod config;
pub mod discord;
pub mod health;
pub mod runtime;
pub mod store;
pub mod telemetry;

/// Baseline's version, as shown by `/status` and `baseline --version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
