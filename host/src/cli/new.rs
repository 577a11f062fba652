//! `baseline cog new NAME`: a Rust cog crate that builds out of the box with
//! `cargo build --target wasm32-wasip2 --release` or `cargo component build --release`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use clap::Args;

/// Arguments of `baseline cog new`.
#[derive(Debug, Args)]
pub struct NewArgs {
    /// The cog's name: lowercase letters, digits and `-`.
    name: String,
    /// Where to create the crate (default: ./NAME).
    #[arg(long, value_name = "DIR")]
    path: Option<PathBuf>,
    /// Path of the `baseline-sdk` crate (default: the SDK next to this host's
    /// sources; env BASELINE_SDK).
    #[arg(long, env = "BASELINE_SDK", value_name = "DIR")]
    sdk: Option<PathBuf>,
}

/// The SDK this binary was built with, when its sources are still there.
fn default_sdk() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("guest-sdk")
}

/// Run `baseline cog new`.
pub fn new(args: NewArgs) -> anyhow::Result<ExitCode> {
    let name = args.name.as_str();
    if !crate::runtime::manifest::valid_cog_name(name) {
        bail!(
            "`{name}` is not a cog name: {}",
            crate::runtime::manifest::COG_NAME_RULE
        );
    }
    // The one rule Cargo adds: a package name may not start with a digit.
    if name.as_bytes()[0].is_ascii_digit() {
        bail!(
            "`{name}` is a cog name, but not a Cargo package name (it starts with a digit); start it with a letter"
        );
    }
    let dir = args.path.unwrap_or_else(|| PathBuf::from(name));
    if dir.exists()
        && std::fs::read_dir(&dir)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        bail!("{} already exists and is not empty", dir.display());
    }
    let sdk = args.sdk.unwrap_or_else(default_sdk);
    let sdk = sdk.canonicalize().with_context(|| {
        format!(
            "the baseline-sdk crate is not at {} (give its path with --sdk)",
            sdk.display()
        )
    })?;
    std::fs::create_dir_all(dir.join("src"))?;
    std::fs::write(dir.join("Cargo.toml"), cargo_toml(name, &sdk))?;
    std::fs::write(dir.join("src/lib.rs"), lib_rs(name))?;
    std::fs::write(dir.join(".gitignore"), "/target\n")?;
    let crate_file = name.replace('-', "_");
    println!("Created cog `{name}` in {}.", dir.display());
    println!();
    println!(
        "Build it:   cd {} && cargo build --target wasm32-wasip2 --release",
        dir.display()
    );
    println!("   or:      cargo component build --release");
    println!("Try it:     baseline cog call target/wasm32-wasip2/release/{crate_file}.wasm {name}");
    println!(
        "Deploy it:  cp target/wasm32-wasip2/release/{crate_file}.wasm /path/to/baseline/cogs/{name}.wasm"
    );
    Ok(ExitCode::SUCCESS)
}

fn cargo_toml(name: &str, sdk: &Path) -> String {
    format!(
        r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"
description = "A Baseline cog"
publish = false

[lib]
crate-type = ["cdylib"]

[dependencies]
baseline-sdk = {{ path = "{sdk}" }}
serde = {{ version = "1", features = ["derive"] }}

[profile.release]
opt-level = "s"
lto = true
strip = true

# Keeps this crate out of any enclosing workspace.
[workspace]
"#,
        sdk = sdk.display().to_string().replace('\\', "/")
    )
}

fn lib_rs(name: &str) -> String {
    format!(
        r#"//! The `{name}` cog. Start from `/{name}` below; the `reference` cog in
//! Baseline's `cogs/reference` shows buttons, events, kv, settings and pages.

use baseline_sdk::prelude::*;

struct Cog_;

impl Cog for Cog_ {{
    fn manifest(&self) -> Manifest {{
        Manifest::new()
            .command(Command::new("{name}", "Say hello").option(CommandOption::text("name", "Who to greet")))
            .capability("kv", "Counts greetings.")
    }}

    fn on_command(&self, command: CommandInvocation) -> Result<CommandResponse, CogError> {{
        let who = command.text("name").unwrap_or(&command.context.user.username).to_string();
        let count = kv::increment(kv::Scope::Guild, "greetings", 1)?;
        log::info(&format!("greeted {{who}}"));
        Ok(CommandResponse::text(format!("Hello, {{who}}! (greeting #{{count}})")))
    }}
}}

register_cog!(Cog_);
"#
    )
}
