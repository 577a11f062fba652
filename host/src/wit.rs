//! Host-side bindings generated from `wit/` (world `baseline:cog/cog`).
//!
//! Every import is async (capabilities may wait on the database or Discord)
//! and trappable: a host function returns `Err` only to end the invocation
//! for a limit (the host-call budget); expected failures are the WIT error
//! variants the cog receives as values.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "baseline:cog/cog",
    imports: { default: async | trappable },
    exports: { default: async },
    additional_derives: [serde::Serialize, PartialEq],
});

pub use baseline::cog::types;
pub use exports::baseline::cog::{handler, pages};
