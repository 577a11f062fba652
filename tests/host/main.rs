//! The host's integration tests: real cogs (built from `tests/cogs/` and
//! `cogs/` by the harness), a real runtime, the real `baseline` binary.
//! One binary, one module per area.

mod support;

mod api;
mod ask;
mod browser;
mod cache;
mod cli;
mod cluster;
mod cogs;
mod discord;
mod guide;
mod hostile;
mod llm;
mod login;
mod pages;
mod reload;
mod sandbox;
pub mod store;
