//! The one wasmtime `Engine`: component model, pooling allocator, epoch
//! interruption driven by a ticker thread, Cranelift optimising for speed.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use wasmtime::{Engine, InstanceAllocationStrategy, OptLevel, PoolingAllocationConfig};

use crate::config::RuntimeConfig;

/// Build the engine. The pool is sized for `max_concurrent` invocations,
/// `max_warm_instances` idle ones, and a few slots for loading (a manifest
/// call instantiates the cog too).
pub fn build(config: &RuntimeConfig) -> anyhow::Result<Engine> {
    let mut wasm = wasmtime::Config::new();
    wasm.wasm_component_model(true)
        .epoch_interruption(true)
        .cranelift_opt_level(OptLevel::Speed)
        .parallel_compilation(true);

    // Running invocations, idle warm instances, and a few for loading.
    let instances = config.max_concurrent + config.max_warm_instances + 16;
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(instances)
        // Components built by componentize-py or jco hold dozens of core
        // instances and large tables; Rust cogs hold a handful.
        .max_core_instances_per_component(64)
        .total_core_instances(instances * 16)
        .max_memories_per_component(8)
        .total_memories(instances * 2)
        .max_tables_per_component(16)
        .total_tables(instances * 4)
        .table_elements(100_000)
        .max_memory_size((config.max_memory_mib as usize) << 20)
        .max_component_instance_size(4 << 20)
        .max_unused_warm_slots(instances / 2)
        // Reset a slot's first pages with memset instead of giving them back
        // to the kernel: the next instance then starts without page faults.
        // A small Rust cog touches well under this; measured in docs/benchmarks.md.
        .linear_memory_keep_resident(2 << 20)
        .table_keep_resident(64 << 10)
        .pagemap_scan(wasmtime::Enabled::Auto);
    wasm.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    if let Some(mib) = config.memory_reservation_mib {
        // The pool refuses a memory larger than its slot.
        wasm.memory_reservation(mib.max(config.max_memory_mib) << 20);
    }
    Engine::new(&wasm).map_err(|error| anyhow::anyhow!("cannot create the wasm engine: {error}"))
}

/// Advances the engine's epoch every tick until dropped. Deadlines are
/// counted in ticks, so a tick is the granularity of every deadline.
pub struct EpochTicker {
    stop: Arc<AtomicBool>,
}

impl EpochTicker {
    /// Start ticking `engine` every `tick`.
    pub fn start(engine: Engine, tick: Duration) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        std::thread::Builder::new()
            .name("epoch-ticker".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(tick);
                    engine.increment_epoch();
                }
            })
            .expect("spawning the epoch ticker thread");
        Self { stop }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_memory_reservation_still_fits_the_largest_memory() {
        // A pool of 16 + 16 + 16 instances reserves ~100 memories: with the
        // default 4 GiB each that is ~400 GiB of address space; with 64 MiB
        // asked (below the 256 MiB any cog may get) each slot is 256 MiB.
        let config = RuntimeConfig {
            max_concurrent: 16,
            max_warm_instances: 16,
            memory_reservation_mib: Some(64),
            ..RuntimeConfig::default()
        };
        let engine = build(&config).expect("the pool fits and accepts 256 MiB memories");
        // A module whose memory may grow to the per-cog maximum compiles
        // and instantiates in that pool.
        // `(module (memory 1 4096))`: one page, up to 256 MiB.
        let wasm = [
            0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
            0x05, 0x05, 0x01, 0x01, 0x01, 0x80, 0x20, // memory: min 1, max 4096
        ];
        let module = wasmtime::Module::new(&engine, wasm).unwrap();
        let mut store = wasmtime::Store::new(&engine, ());
        wasmtime::Instance::new(&mut store, &module, &[]).expect("instantiates in the pool");
    }
}
