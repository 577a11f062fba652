//! The cog guide (docs/cogs.md, "Your first cog"), followed word for word:
//! each `first-cog-<language>` shell block runs as written, in a folder
//! where `baseline run` watches `cogs/`, and the simulator is asked for each
//! greeting. A guide whose steps stop working fails here.
//!
//! The one liberty taken: the Rust crate's `target/` is a link to a build
//! folder kept between runs, so the test does not compile the SDK's
//! dependencies from nothing every time.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use serde_json::json;

use crate::support::*;

/// The shell lines of the block fenced as ```` ```sh {tag} ```` in the guide.
fn block(tag: &str) -> Vec<String> {
    let guide = std::fs::read_to_string(workspace().join("docs/cogs.md")).unwrap();
    let fence = format!("```sh {tag}\n");
    let start = guide
        .find(&fence)
        .unwrap_or_else(|| panic!("docs/cogs.md has no `{tag}` block"))
        + fence.len();
    let end = start + guide[start..].find("```").unwrap();
    guide[start..end]
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// Run the lines of `tag` from `root`, as a user's shell would (`cd`
/// carries over); how long they took.
fn follow(tag: &str, root: &Path) -> std::time::Duration {
    let started = Instant::now();
    let bin = Path::new(env!("CARGO_BIN_EXE_baseline")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cwd: PathBuf = root.to_path_buf();
    for line in block(tag) {
        if let Some(dir) = line.strip_prefix("cd ") {
            cwd = cwd.join(dir);
            continue;
        }
        if line.starts_with("cargo build") && !cwd.join("target").exists() {
            let kept = guest_target().join("guide-rust");
            std::fs::create_dir_all(&kept).unwrap();
            std::os::unix::fs::symlink(&kept, cwd.join("target")).unwrap();
        }
        let status = Command::new("sh")
            .args(["-c", &line])
            .current_dir(&cwd)
            .env("PATH", &path)
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("CARGO")
            .env_remove("RUSTFLAGS")
            .status()
            .unwrap();
        assert!(status.success(), "`{line}` (in the `{tag}` block) failed");
    }
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_cog_guide_works_in_every_language() {
    let _cores = CPU_HEAVY.lock().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("cogs")).unwrap();
    let mut host = Running::start(dir.path());
    host.wait_for("Press Ctrl-C");
    let discord = host.simulator();
    let http = reqwest::Client::new();
    for (tag, command) in [
        ("first-cog-rust", "greeter"),
        ("first-cog-python", "greeter-py"),
        ("first-cog-js", "greeter-js"),
    ] {
        let root = dir.path().to_path_buf();
        let took = tokio::task::spawn_blocking(move || follow(tag, &root))
            .await
            .unwrap();
        println!("{tag}: the guide's steps took {:.1} s", took.as_secs_f64());
        let answer = run_command(
            &http,
            &discord,
            command,
            json!({"name": "Ada"}),
            "Hello, Ada!",
        )
        .await;
        assert!(
            answer["reply"]["content"] == "Hello, Ada! (greeting #1)",
            "{tag}: {answer}"
        );
    }
}
