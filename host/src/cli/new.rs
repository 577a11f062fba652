//! `baseline cog new NAME [--lang rust|python|js]`: a cog that builds out
//! of the box — a Rust crate (`cargo build --target wasm32-wasip2
//! --release` or `cargo component build --release`), a Python module
//! (componentize-py) or a JavaScript module (componentize-js).
//!
//! The SDK comes with it: this binary carries the `baseline-sdk` sources,
//! the Python and JavaScript helper modules and the WIT it was built with,
//! and writes them into the new cog (`baseline-sdk/`, `baseline/`,
//! `baseline.js`, `wit/`), so someone with only the binary can build a
//! cog, against exactly the interface this host speaks. `--sdk DIR` points
//! a Rust cog at an SDK checkout instead.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use clap::Args;

/// The language of a new cog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    /// A crate using the `baseline-sdk` crate.
    Rust,
    /// A module built with componentize-py.
    Python,
    /// A module built with componentize-js.
    Js,
}

/// Arguments of `baseline cog new`.
#[derive(Debug, Args)]
pub struct NewArgs {
    /// The cog's name: lowercase letters, digits and `-`.
    name: String,
    /// The language to write it in.
    #[arg(long, value_enum, default_value = "rust")]
    lang: Lang,
    /// Where to create the crate (default: ./NAME).
    #[arg(long, value_name = "DIR")]
    path: Option<PathBuf>,
    /// Use the `baseline-sdk` crate at this path (a checkout of Baseline's
    /// `guest-sdk`) instead of the copy this binary writes into the crate;
    /// env BASELINE_SDK.
    #[arg(long, env = "BASELINE_SDK", value_name = "DIR")]
    sdk: Option<PathBuf>,
}

/// The SDK's sources this binary was built with, written into each new cog.
const SDK_SOURCES: &[(&str, &str)] = &[
    ("lib.rs", include_str!("../../../guest-sdk/src/lib.rs")),
    (
        "builders.rs",
        include_str!("../../../guest-sdk/src/builders.rs"),
    ),
    (
        "capabilities.rs",
        include_str!("../../../guest-sdk/src/capabilities.rs"),
    ),
    ("cog.rs", include_str!("../../../guest-sdk/src/cog.rs")),
    (
        "custom_id.rs",
        include_str!("../../../guest-sdk/src/custom_id.rs"),
    ),
    ("llm.rs", include_str!("../../../guest-sdk/src/llm.rs")),
];

/// The Python helper module (`baseline`), written into a Python cog.
const PYTHON_HELPER: &str = include_str!("../../../guest-sdk/python/baseline/__init__.py");

/// The JavaScript helper, its build script and its pinned toolchain,
/// written into a JavaScript cog.
const JS_FILES: &[(&str, &str)] = &[
    (
        "baseline.js",
        include_str!("../../../guest-sdk/js/baseline.js"),
    ),
    ("build.mjs", include_str!("../../../guest-sdk/js/build.mjs")),
    (
        "package.json",
        include_str!("../../../guest-sdk/js/package.json"),
    ),
    (
        "package-lock.json",
        include_str!("../../../guest-sdk/js/package-lock.json"),
    ),
];

/// The WIT this host speaks (the SDK's bindings are generated from it).
const WIT_FILES: &[(&str, &str)] = &[
    ("cache.wit", include_str!("../../../wit/cache.wit")),
    ("cog.wit", include_str!("../../../wit/cog.wit")),
    ("discord.wit", include_str!("../../../wit/discord.wit")),
    (
        "interaction.wit",
        include_str!("../../../wit/interaction.wit"),
    ),
    ("kv.wit", include_str!("../../../wit/kv.wit")),
    ("llm.wit", include_str!("../../../wit/llm.wit")),
    ("log.wit", include_str!("../../../wit/log.wit")),
    ("schedule.wit", include_str!("../../../wit/schedule.wit")),
    ("settings.wit", include_str!("../../../wit/settings.wit")),
    ("system.wit", include_str!("../../../wit/system.wit")),
    ("types.wit", include_str!("../../../wit/types.wit")),
];

/// The vendored SDK's manifest (the workspace's versions, spelled out).
fn sdk_cargo_toml() -> String {
    format!(
        r#"[package]
name = "baseline-sdk"
description = "Write Baseline cogs in Rust (a copy written by `baseline cog new`, for Baseline {version})"
version = "{version}"
edition = "2024"
publish = false

[dependencies]
wit-bindgen = {{ version = "0.63.0", default-features = false, features = ["macros", "realloc"] }}
serde = {{ version = "1", features = ["derive"] }}
serde_json = "1"
schemars = {{ version = "1", features = ["preserve_order"] }}
"#,
        version = crate::VERSION
    )
}

/// `my-cog` → `MyCog`: the cog's type.
fn type_name(name: &str) -> String {
    name.split('-')
        .map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
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
    let type_name = type_name(name);
    match args.lang {
        Lang::Rust => rust(name, &type_name, &dir, args.sdk)?,
        Lang::Python | Lang::Js if args.sdk.is_some() => {
            bail!(
                "--sdk points a Rust cog at an SDK checkout; it does not apply to --lang python or js"
            )
        }
        Lang::Python => python(name, &type_name, &dir)?,
        Lang::Js => js(name, &type_name, &dir)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Write the WIT this binary speaks into `dir/wit`.
fn write_wit(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir.join("wit"))?;
    for (file, text) in WIT_FILES {
        std::fs::write(dir.join("wit").join(file), text)?;
    }
    Ok(())
}

/// A Rust crate using the SDK (a vendored copy, or the checkout at `sdk`).
fn rust(name: &str, type_name: &str, dir: &Path, sdk: Option<PathBuf>) -> anyhow::Result<()> {
    let sdk = match sdk {
        Some(sdk) => sdk
            .canonicalize()
            .with_context(|| format!("the baseline-sdk crate is not at {}", sdk.display()))?,
        None => {
            // The SDK and the WIT, as this binary knows them.
            std::fs::create_dir_all(dir.join("baseline-sdk/src"))?;
            std::fs::write(dir.join("baseline-sdk/Cargo.toml"), sdk_cargo_toml())?;
            for (file, text) in SDK_SOURCES {
                std::fs::write(dir.join("baseline-sdk/src").join(file), text)?;
            }
            write_wit(dir)?;
            PathBuf::from("baseline-sdk")
        }
    };
    std::fs::create_dir_all(dir.join("src"))?;
    std::fs::write(dir.join("Cargo.toml"), cargo_toml(name, &sdk))?;
    std::fs::write(dir.join("src/lib.rs"), lib_rs(name, type_name))?;
    std::fs::write(dir.join(".gitignore"), "/target\n")?;
    let crate_file = name.replace('-', "_");
    println!("Created cog `{name}` in {}.", dir.display());
    if dir.join("baseline-sdk").exists() {
        println!(
            "The SDK and the WIT of Baseline {} are in baseline-sdk/ and wit/.",
            crate::VERSION
        );
    }
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
    Ok(())
}

/// The last steps of a Python or JavaScript scaffold, built into `NAME.wasm`.
fn try_and_deploy(name: &str) {
    println!("Try it:     baseline cog call {name}.wasm {name}");
    println!("Deploy it:  cp {name}.wasm /path/to/baseline/cogs/{name}.wasm");
}

/// A Python module with the helper module and the WIT beside it.
fn python(name: &str, type_name: &str, dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir.join("baseline"))?;
    std::fs::write(dir.join("baseline/__init__.py"), PYTHON_HELPER)?;
    write_wit(dir)?;
    std::fs::write(dir.join("app.py"), app_py(name, type_name))?;
    std::fs::write(dir.join(".gitignore"), "*.wasm\n__pycache__/\n")?;
    println!("Created cog `{name}` in {} (Python).", dir.display());
    println!(
        "The helper module and the WIT of Baseline {} are in baseline/ and wit/.",
        crate::VERSION
    );
    println!();
    println!("Build it:   pip install componentize-py==0.25.1   (once)");
    println!(
        "            cd {} && componentize-py -d wit -w baseline:cog/cog componentize app -o {name}.wasm",
        dir.display()
    );
    try_and_deploy(name);
    Ok(())
}

/// A JavaScript module with the helper, its build script, its pinned
/// toolchain and the WIT beside it.
fn js(name: &str, type_name: &str, dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    for (file, text) in JS_FILES {
        std::fs::write(dir.join(file), text)?;
    }
    write_wit(dir)?;
    std::fs::write(dir.join("app.js"), app_js(name, type_name))?;
    std::fs::write(dir.join(".gitignore"), "*.wasm\nnode_modules/\n")?;
    println!("Created cog `{name}` in {} (JavaScript).", dir.display());
    println!(
        "The helper module, its build script and the WIT of Baseline {} are in baseline.js, build.mjs and wit/.",
        crate::VERSION
    );
    println!();
    println!(
        "Build it:   cd {} && npm ci && node build.mjs app.js {name}.wasm",
        dir.display()
    );
    try_and_deploy(name);
    Ok(())
}

fn app_py(name: &str, type_name: &str) -> String {
    format!(
        r#""""The `{name}` cog. Start from `/{name}` below; Baseline's `cogs/tally-py`
shows a button round trip and settings too.
"""

from baseline import Cog, Command, Manifest, Option, export, kv, log, message, option, reply


class {type_name}(Cog):
    def manifest(self):
        return (Manifest("{name}", "A Baseline cog")
                .command(Command("{name}", "Say hello").option(Option.text("name", "Who to greet")))
                .capability("kv", "Counts greetings."))

    def on_command(self, command):
        who = option(command, "name") or command.context.user.username
        count = kv.increment("greetings")
        log.info(f"greeted {{who}}")
        return reply(message(f"Hello, {{who}}! (greeting #{{count}})"))


Handler, Pages = export({type_name}())
"#
    )
}

fn app_js(name: &str, type_name: &str) -> String {
    format!(
        r#"// The `{name}` cog. Start from `/{name}` below; Baseline's `cogs/tally-js`
// shows a button round trip and settings too.
import {{ Cog, Command, Manifest, Option, exportCog, kv, log, message, option, reply }} from 'baseline';

class {type_name} extends Cog {{
  manifest() {{
    return new Manifest('{name}', 'A Baseline cog')
      .command(new Command('{name}', 'Say hello').option(Option.text('name', 'Who to greet')))
      .capability('kv', 'Counts greetings.');
  }}

  onCommand(command) {{
    const who = option(command, 'name') ?? command.context.user.username;
    const count = kv.increment('greetings');
    log.info(`greeted ${{who}}`);
    return reply(message(`Hello, ${{who}}! (greeting #${{count}})`));
  }}
}}

export const {{ handler, pages }} = exportCog(new {type_name}());
"#
    )
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

fn lib_rs(name: &str, type_name: &str) -> String {
    format!(
        r#"//! The `{name}` cog. Start from `/{name}` below; the `reference` cog in
//! Baseline's `cogs/reference` shows buttons, events, kv, settings and pages.

use baseline_sdk::prelude::*;

struct {type_name};

impl Cog for {type_name} {{
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

register_cog!({type_name});
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cog_types_are_named_after_the_cog() {
        assert_eq!(type_name("greeter"), "Greeter");
        assert_eq!(type_name("mod-log"), "ModLog");
        assert_eq!(type_name("a2-b"), "A2B");
    }

    /// Every SDK source and WIT file is carried (a new file would otherwise
    /// be missing from scaffolded cogs, which would then not build).
    #[test]
    fn the_scaffold_carries_every_sdk_and_wit_file() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        for (dir, carried) in [("guest-sdk/src", SDK_SOURCES), ("wit", WIT_FILES)] {
            // Files only: `wit/released/` holds the older versions, which a
            // new cog does not need.
            let mut on_disk: Vec<String> = std::fs::read_dir(root.join(dir))
                .unwrap()
                .map(|e| e.unwrap())
                .filter(|e| e.file_type().unwrap().is_file())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            on_disk.sort();
            let mut names: Vec<String> = carried.iter().map(|(f, _)| f.to_string()).collect();
            names.sort();
            assert_eq!(names, on_disk, "{dir}");
        }
    }
}
