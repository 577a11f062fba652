//! `baseline cog watch [DIR] [--into COGS]`: rebuild a cog whenever its
//! sources change and put it into a running host's cogs folder, which
//! reloads it. The language is read from the folder: a `Cargo.toml` (Rust),
//! an `app.py` (Python, componentize-py) or an `app.js` with `build.mjs`
//! (JavaScript) — what `baseline cog new` makes.
//!
//! The new file is written beside its place and renamed into it, so the
//! host never reads half a component; a failed build leaves the running
//! version alone and prints the compiler's words.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::Args;
use notify::{RecursiveMode, Watcher};

/// Arguments of `baseline cog watch`.
#[derive(Debug, Args)]
pub struct WatchArgs {
    /// The cog's folder (default: the current one).
    #[arg(default_value = ".")]
    dir: PathBuf,
    /// The cogs folder of the running host.
    #[arg(long, default_value = "cogs", value_name = "DIR")]
    into: PathBuf,
    /// Build once and stop (no watching).
    #[arg(long)]
    once: bool,
}

/// How a cog in some language is built.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Build {
    /// `cargo build`; the crate's file name (`my_cog`).
    Rust { crate_file: String },
    /// componentize-py on `app.py`.
    Python,
    /// `node build.mjs app.js`.
    Js,
}

/// What `dir` holds, and the cog's name: the package's for Rust, the
/// folder's for Python and JavaScript (what `baseline cog new` names both).
fn detect(dir: &Path) -> anyhow::Result<(Build, String)> {
    let folder = dir
        .canonicalize()
        .with_context(|| format!("no folder {}", dir.display()))?
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if let Ok(manifest) = std::fs::read_to_string(dir.join("Cargo.toml")) {
        let table: toml::Table = toml::from_str(&manifest).context("Cargo.toml")?;
        let name = table
            .get("package")
            .and_then(|p| p.get("name"))
            .and_then(|n| n.as_str())
            .context("Cargo.toml has no [package] name")?
            .to_string();
        let crate_file = name.replace('-', "_");
        return Ok((Build::Rust { crate_file }, name));
    }
    if dir.join("app.py").is_file() {
        return Ok((Build::Python, folder));
    }
    if dir.join("app.js").is_file() && dir.join("build.mjs").is_file() {
        return Ok((Build::Js, folder));
    }
    bail!(
        "{} holds no cog: a Cargo.toml, an app.py or an app.js with build.mjs (what `baseline cog new` makes)",
        dir.display()
    )
}

/// Build the cog in `dir` into `out`.
fn build(how: &Build, dir: &Path, out: &Path) -> anyhow::Result<()> {
    let status = match how {
        Build::Rust { crate_file } => {
            let status = Command::new("cargo")
                .args(["build", "--target", "wasm32-wasip2", "--release"])
                .current_dir(dir)
                .status()
                .context("cannot run cargo")?;
            if status.success() {
                let built =
                    target_dir(dir)?.join(format!("wasm32-wasip2/release/{crate_file}.wasm"));
                std::fs::copy(&built, out)
                    .with_context(|| format!("cargo built no {}", built.display()))?;
            }
            status
        }
        Build::Python => Command::new("componentize-py")
            .args([
                "-d",
                "wit",
                "-w",
                "baseline:cog/cog",
                "componentize",
                "app",
                "-o",
            ])
            .arg(out)
            .current_dir(dir)
            .status()
            .context("cannot run componentize-py (pip install componentize-py==0.25.1)")?,
        Build::Js => Command::new("node")
            .args(["build.mjs", "app.js"])
            .arg(out)
            .current_dir(dir)
            .status()
            .context("cannot run node")?,
    };
    if !status.success() {
        bail!("the build failed ({status})");
    }
    Ok(())
}

/// Where cargo builds the crate in `dir` (a workspace's, `CARGO_TARGET_DIR`,
/// or `.cargo/config.toml`'s `build.target-dir`): cargo says.
fn target_dir(dir: &Path) -> anyhow::Result<PathBuf> {
    let out = Command::new("cargo")
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .current_dir(dir)
        .output()
        .context("cannot run cargo metadata")?;
    if !out.status.success() {
        bail!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let metadata: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    metadata["target_directory"]
        .as_str()
        .map(PathBuf::from)
        .context("cargo metadata names no target directory")
}

/// Build into `into/NAME.wasm` through a file beside it.
fn build_into(how: &Build, dir: &Path, into: &Path, name: &str) -> anyhow::Result<PathBuf> {
    let started = Instant::now();
    let dir = std::path::absolute(dir)?;
    let target = std::path::absolute(into.join(format!("{name}.wasm")))?;
    let partial = std::path::absolute(into.join(format!(".{name}.wasm.partial")))?;
    let built = build(how, &dir, &partial);
    if let Err(error) = built {
        let _ = std::fs::remove_file(&partial);
        return Err(error);
    }
    std::fs::rename(&partial, &target)?;
    println!(
        "built {name} in {:.1} s → {}",
        started.elapsed().as_secs_f64(),
        target.display()
    );
    Ok(target)
}

/// Whether a change at `path` is one of the cog's sources (not what builds make).
fn is_source(dir: &Path, path: &Path) -> bool {
    let relative = path.strip_prefix(dir).unwrap_or(path);
    !relative.components().any(|c| {
        matches!(
            c.as_os_str().to_str(),
            Some("target" | "node_modules" | "__pycache__" | ".git")
        )
    }) && path
        .extension()
        .is_none_or(|e| e != "wasm" && e != "partial")
}

/// Run `baseline cog watch`.
pub fn watch(args: WatchArgs) -> anyhow::Result<ExitCode> {
    let (how, name) = detect(&args.dir)?;
    std::fs::create_dir_all(&args.into)
        .with_context(|| format!("cannot make {}", args.into.display()))?;
    let first = build_into(&how, &args.dir, &args.into, &name);
    if args.once {
        return match first {
            Ok(_) => Ok(ExitCode::SUCCESS),
            Err(error) => {
                eprintln!("{error:#}");
                Ok(ExitCode::from(1))
            }
        };
    }
    if let Err(error) = first {
        eprintln!("{error:#}; waiting for a change");
    }
    let dir = std::path::absolute(&args.dir)?;
    let (sender, receiver) = std::sync::mpsc::channel::<PathBuf>();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Ok(event) = event
            && !event.kind.is_access()
        {
            for path in event.paths {
                let _ = sender.send(path);
            }
        }
    })?;
    watcher.watch(&dir, RecursiveMode::Recursive)?;
    println!("watching {} for changes (Ctrl-C to stop)", dir.display());
    loop {
        let Ok(first) = receiver.recv() else {
            return Ok(ExitCode::SUCCESS);
        };
        let mut changed = is_source(&dir, &first);
        // Let a burst of saves settle.
        while let Ok(path) = receiver.recv_timeout(Duration::from_millis(300)) {
            changed |= is_source(&dir, &path);
        }
        if changed && let Err(error) = build_into(&how, &args.dir, &args.into, &name) {
            eprintln!("{error:#}; the running version stays");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_sources_from_what_builds_make() {
        let dir = Path::new("/cog");
        assert!(is_source(dir, Path::new("/cog/app.py")));
        assert!(is_source(dir, Path::new("/cog/src/lib.rs")));
        assert!(!is_source(dir, Path::new("/cog/target/release/x.wasm")));
        assert!(!is_source(dir, Path::new("/cog/node_modules/esbuild/x.js")));
        assert!(!is_source(dir, Path::new("/cog/cog.wasm")));
        assert!(!is_source(
            dir,
            Path::new("/cog/baseline/__pycache__/a.pyc")
        ));
    }

    #[test]
    fn reads_the_language_from_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        assert!(detect(dir.path()).is_err());
        std::fs::write(dir.path().join("app.py"), "").unwrap();
        assert_eq!(detect(dir.path()).unwrap().0, Build::Python);
        std::fs::write(
            dir.path().join("Cargo.toml"),
            "[package]\nname = \"mod-log\"\n",
        )
        .unwrap();
        assert_eq!(
            detect(dir.path()).unwrap(),
            (
                Build::Rust {
                    crate_file: "mod_log".into()
                },
                "mod-log".into()
            )
        );
    }
}
