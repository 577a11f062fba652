//! `baseline`: the host binary. See `baseline --help`.

use clap::Parser;

/// jemalloc: a long-running host that parses many short-lived gateway
/// payloads on several threads keeps far less memory with it than with the
/// system allocator (docs/benchmarks.md, memory per guild).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Give freed memory back to the system within about a second, also while
/// the host is idle (jemalloc's background thread; without it, purging only
/// happens on allocation), and never keep it as "muzzy" pages, which still
/// count as resident: a container's memory limit sees what the host really
/// holds. `_RJEM_MALLOC_CONF` overrides it.
#[allow(non_upper_case_globals)]
#[unsafe(export_name = "_rjem_malloc_conf")]
pub static malloc_conf: &[u8] = b"background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0\0";

fn main() -> std::process::ExitCode {
    baseline_host::telemetry::init();
    let cli = baseline_host::cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli.run()) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
