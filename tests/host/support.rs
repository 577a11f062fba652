//! Shared test machinery: build the guest cogs once per test binary, make
//! runtimes over temporary folders, wait for a condition without sleeping
//! blindly.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use baseline_host::capabilities::{Scope, Services};
use baseline_host::config::Config;
use baseline_host::runtime::Runtime;
use baseline_host::wit::types::{CommandInvocation, InvocationContext, OptionEntry, User};
use serde_json::{Value, json};

/// Every guest the tests use, as cargo package names.
pub const GUESTS: &[&str] = &[
    "status",
    "reference",
    "hostile",
    "future-wit",
    "not-a-cog",
    "clash",
    "storm-cache",
    "storm-kv",
    "storm-spin",
    "storm-flood",
    "spin-start",
    "heavy-start",
    "asker",
    "ask",
    "wit-0-1",
    "wit-0-2",
    "witness",
    "tally",
];

/// Held by the tests that keep both cores busy for a long time (building
/// a scaffolded cog, compiling the Python cog, the hostile storm), so they
/// take turns. The storm checks fairness *inside* the host; a compiler
/// taking both cores beside it made the normal cog's calls look like long
/// computing and demoted it (seen once, on a fresh machine whose cargo
/// caches were cold).
pub static CPU_HEAVY: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ has a parent")
        .to_path_buf()
}

/// Where guests are built: `$CARGO_TARGET_DIR/guests`, shared with `just`.
pub fn guest_target() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target"));
    let target = if target.is_absolute() {
        target
    } else {
        workspace().join(target)
    };
    target.join("guests")
}

/// The built `.wasm` of a guest package (built on first use; a no-op when fresh).
pub fn guest(package: &str) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut command = Command::new(cargo);
        command
            .current_dir(workspace())
            .args([
                "build",
                "--target",
                "wasm32-wasip2",
                "--profile",
                "cog",
                "--target-dir",
            ])
            .arg(guest_target())
            .env_remove("CARGO_TARGET_DIR");
        for package in GUESTS {
            command.args(["-p", package]);
        }
        let status = command
            .status()
            .expect("running cargo to build the test guests");
        assert!(status.success(), "building the test guests failed");
    });
    // Cargo names a library's file with `_` for `-` (a binary keeps `-`).
    let dir = guest_target().join("wasm32-wasip2/cog");
    let path = [package.replace('-', "_"), package.to_string()]
        .into_iter()
        .map(|file| dir.join(format!("{file}.wasm")))
        .find(|path| path.exists())
        .unwrap_or_else(|| dir.join(format!("{package}.wasm")));
    assert!(
        path.exists(),
        "guest {package} not found at {}",
        path.display()
    );
    path
}

/// The newest modification time among `paths` (files, or the files of
/// folders, not recursing into `node_modules`).
fn newest(paths: &[PathBuf]) -> Option<std::time::SystemTime> {
    let mut newest = None;
    for path in paths {
        let modified = std::fs::metadata(path).and_then(|m| m.modified()).ok();
        newest = newest.max(modified);
        if path.is_dir() {
            let children: Vec<PathBuf> = std::fs::read_dir(path)
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name().is_some_and(|n| {
                        n != "node_modules" && n != "__pycache__" && n != "released"
                    })
                })
                .collect();
            newest = newest.max(self::newest(&children));
        }
    }
    newest
}

/// Build `out` with `build` unless it is newer than every one of `inputs`.
fn built(out: PathBuf, inputs: &[PathBuf], build: impl FnOnce(&Path)) -> PathBuf {
    // Tests that need the same cog build it once, one after the other.
    static BUILDING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = BUILDING.lock().unwrap_or_else(|e| e.into_inner());
    let modified = std::fs::metadata(&out).and_then(|m| m.modified()).ok();
    if modified.is_none() || modified < newest(inputs) {
        std::fs::create_dir_all(out.parent().unwrap()).unwrap();
        build(&out);
    }
    out
}

/// A Python cog built with componentize-py (and the helper module in
/// `guest-sdk/python`) from the folder `source` of the workspace, when its
/// sources, the helper or the WIT changed.
pub fn python_cog(source: &str, out: &str) -> PathBuf {
    let root = workspace();
    let inputs = [
        root.join(source),
        root.join("guest-sdk/python"),
        root.join("wit"),
    ];
    built(guest_target().join(out), &inputs, |out| {
        let status = Command::new("componentize-py")
            .current_dir(root.join(source))
            .arg("-d")
            .arg(root.join("wit"))
            .args(["-w", "baseline:cog/cog", "componentize", "app", "-p", "."])
            .arg("-p")
            .arg(root.join("guest-sdk/python"))
            .arg("-o")
            .arg(out)
            .status()
            .expect(
                "componentize-py must be installed (`just setup` installs componentize-py==0.25.1)",
            );
        assert!(status.success(), "componentize-py failed for {source}");
    })
}

/// A JavaScript cog bundled with `guest-sdk/js` and built with
/// componentize-js (`guest-sdk/js/build.mjs`; `just setup` installs its
/// packages), when its sources, the helper or the WIT changed.
pub fn js_cog(source: &str, out: &str) -> PathBuf {
    let root = workspace();
    let inputs = [
        root.join(source),
        root.join("guest-sdk/js/baseline.js"),
        root.join("guest-sdk/js/build.mjs"),
        root.join("wit"),
    ];
    built(guest_target().join(out), &inputs, |out| {
        let status = Command::new("node")
            .arg(root.join("guest-sdk/js/build.mjs"))
            .arg(root.join(source).join("app.js"))
            .arg(out)
            .status()
            .expect("node must be installed");
        assert!(
            status.success(),
            "building {source} failed (are guest-sdk/js's packages installed? `just setup`)"
        );
    })
}

/// The Python test cog (`tests/cogs/python`).
pub fn python_guest() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| python_cog("tests/cogs/python", "pyecho.wasm"))
        .clone()
}

/// A configuration over a fresh temporary cogs folder; compiled artifacts
/// are shared between tests so each guest compiles once.
pub fn config(cogs: &Path) -> Config {
    // The host's log lines, when RUST_LOG asks for them (`RUST_LOG=warn
    // cargo test … -- --nocapture`), through the test harness's output.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let mut config = Config {
        cogs_dir: cogs.to_path_buf(),
        data_dir: guest_target().join("test-data"),
        ..Config::default()
    };
    config.runtime.reload_debounce_ms = 50;
    config
}

pub fn runtime(config: Config) -> Arc<Runtime> {
    Runtime::new(config, Services::in_process()).expect("runtime")
}

/// The built browser UI module of a package (`wasm32-unknown-unknown`;
/// built on first use).
pub fn ui_guest(package: &str) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .current_dir(workspace())
            .args([
                "build",
                "--target",
                "wasm32-unknown-unknown",
                "--profile",
                "cog",
                "--target-dir",
            ])
            .arg(guest_target())
            .args(["-p", "reference-ui"])
            .env_remove("CARGO_TARGET_DIR")
            .status()
            .expect("running cargo to build the UI modules");
        assert!(status.success(), "building the UI modules failed");
    });
    let path = guest_target()
        .join("wasm32-unknown-unknown/cog")
        .join(format!("{}.wasm", package.replace('-', "_")));
    assert!(
        path.exists(),
        "UI module {package} not found at {}",
        path.display()
    );
    path
}

/// A UI module in the text format: `imports`, the body of `ui_init`, and
/// the `ui_event` export (or none) spliced into a module that has the rest
/// of the ABI.
pub fn ui_fixture(imports: &str, init: &str, event: &str) -> Vec<u8> {
    wat::parse_str(format!(
        r#"(module
            {imports}
            (memory (export "memory") 1 16)
            (func (export "ui_alloc") (param i32) (result i32) i32.const 1024)
            (func (export "ui_abi_version") (result i32) i32.const 1)
            (func (export "ui_init") {init})
            {event})"#
    ))
    .unwrap()
}

/// The ABI's `ui_event`, doing nothing.
pub const UI_EVENT: &str = r#"(func (export "ui_event") (param i32 i32))"#;

/// Copy a guest into a cogs folder under a file name.
pub fn install(package: &str, cogs: &Path, file: &str) -> PathBuf {
    let to = cogs.join(file);
    std::fs::copy(guest(package), &to).expect("copying a guest");
    to
}

/// Poll `check` until it holds or `within` passes.
pub async fn eventually(what: &str, within: Duration, mut check: impl FnMut() -> bool) {
    let started = Instant::now();
    while !check() {
        assert!(
            started.elapsed() < within,
            "timed out after {within:?} waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

pub const GUILD: u64 = 100_000_000_000_000_001;
pub const USER: u64 = 300_000_000_000_000_001;

/// A command invocation in `guild` by `user`.
pub fn command(
    name: &str,
    subcommand: Option<&str>,
    options: Vec<OptionEntry>,
    guild: u64,
    user: u64,
) -> CommandInvocation {
    CommandInvocation {
        name: name.into(),
        group: None,
        subcommand: subcommand.map(Into::into),
        options,
        context: InvocationContext {
            guild_id: Some(guild),
            channel_id: Some(200),
            user: User {
                id: user,
                username: "tester".into(),
                global_name: None,
                bot: false,
                avatar: None,
            },
            member: None,
            locale: None,
            interaction_id: 4242,
        },
    }
}

/// The scope a host would give that invocation.
pub fn scope(cog: &str, invocation: &CommandInvocation) -> Scope {
    Scope {
        cog: Arc::from(cog),
        guild_id: invocation.context.guild_id,
        user_id: Some(invocation.context.user.id),
        channel_id: invocation.context.channel_id,
        interaction_id: Some(invocation.context.interaction_id),
        interaction: None,
        // The runtime sets it from the cog.
        wit: Default::default(),
    }
}

/// A free TCP port on loopback.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A Redis server of the test's own, so the test can stop and restart it.
pub struct OwnRedis {
    child: std::process::Child,
    port: u16,
}

impl OwnRedis {
    pub fn start(port: u16) -> Self {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server must be installed");
        OwnRedis { child, port }
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A client, once the server accepts connections.
    pub async fn connect(&self) -> baseline_host::cache::RedisCache {
        let url = format!("redis://127.0.0.1:{}", self.port);
        for _ in 0..100 {
            if let Ok(cache) = baseline_host::cache::RedisCache::connect(&url).await {
                return cache;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("own Redis on port {} did not start", self.port);
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ----- `baseline run` as a user starts it -----

/// `baseline run` in a folder of its own, its output lines collected.
pub struct Running {
    pub child: std::process::Child,
    pub lines: std::sync::mpsc::Receiver<String>,
    pub seen: Vec<String>,
}

impl Running {
    pub fn start(dir: &std::path::Path) -> Self {
        Self::spawn(dir, &["run"], &[])
    }

    /// `baseline ARGS` in `dir`: every port picked by the system, no
    /// Discord token, no database or Redis URL, no provider key, data under
    /// `dir/data`, warnings logged — then `env` on top.
    pub fn spawn(dir: &std::path::Path, args: &[&str], env: &[(&str, String)]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_baseline"))
            .args(args)
            .current_dir(dir)
            .env("BASELINE_DATA_DIR", dir.join("data"))
            .env("RUST_LOG", "warn")
            .env("BASELINE_API_ADDR", "127.0.0.1:0")
            .env("BASELINE_SIM_ADDR", "127.0.0.1:0")
            .env("BASELINE_LLM_SIM_ADDR", "127.0.0.1:0")
            .env("BASELINE_HEALTH_ADDR", "127.0.0.1:0")
            .env_remove("DISCORD_TOKEN")
            .env_remove("DATABASE_URL")
            .env_remove("REDIS_URL")
            .env_remove("OPENAI_API_KEY")
            .env_remove("ANTHROPIC_API_KEY")
            .env_remove("GEMINI_API_KEY")
            .env_remove("XAI_API_KEY")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (sender, lines) = std::sync::mpsc::channel();
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let sender = sender.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    let _ = sender.send(line);
                }
            });
        }
        Running {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// The origin of the Discord simulator's control API, once it is printed.
    pub fn simulator(&mut self) -> String {
        self.wait_for("/_sim/commands")
            .split_whitespace()
            .find(|w| w.starts_with("http://") && w.contains("/_sim/commands"))
            .map(|w| w.trim_end_matches("/_sim/commands").to_string())
            .expect("the simulator's control URL is printed")
    }

    /// Wait (up to a minute) for a line containing `what`; that line.
    pub fn wait_for(&mut self, what: &str) -> String {
        self.wait_for_within(what, Duration::from_secs(60))
    }

    /// Wait (up to a minute) for a line containing `what` printed from now on.
    pub fn wait_for_new(&mut self, what: &str) -> String {
        let started = Instant::now();
        loop {
            let remaining = Duration::from_secs(60).saturating_sub(started.elapsed());
            match self.lines.recv_timeout(remaining) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(what) {
                        return line;
                    }
                }
                Err(_) => panic!("no new `{what}` in:\n{}", self.seen.join("\n")),
            }
        }
    }

    /// Wait up to `within` for a line containing `what`; that line.
    pub fn wait_for_within(&mut self, what: &str, within: Duration) -> String {
        let started = Instant::now();
        loop {
            if let Some(line) = self.seen.iter().find(|l| l.contains(what)) {
                return line.clone();
            }
            let remaining = within.saturating_sub(started.elapsed());
            match self.lines.recv_timeout(remaining) {
                Ok(line) => self.seen.push(line),
                Err(_) => panic!(
                    "no `{what}` within {within:?}; printed:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `http://HOST:PORT` at the start of what follows `prefix` in `line`.
pub fn origin_after(line: &str, prefix: &str) -> String {
    let rest = &line[line.find(prefix).unwrap() + prefix.len()..];
    let host: String = rest["http://".len()..]
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != '/')
        .collect();
    format!("http://{host}")
}

/// GET `url` (with `cookie`, if any) and read the JSON answer.
pub async fn get_json(http: &reqwest::Client, url: String, cookie: &str) -> Value {
    let mut request = http.get(url);
    if !cookie.is_empty() {
        request = request.header("cookie", cookie);
    }
    request.send().await.unwrap().json().await.unwrap()
}

/// POST `body` to `url`.
pub async fn post(http: &reqwest::Client, url: String, body: Value) {
    http.post(url).json(&body).send().await.unwrap();
}

/// Run a command as ada in #general; wait until its reply holds `done`.
pub async fn run_command(
    http: &reqwest::Client,
    discord: &str,
    name: &str,
    options: Value,
    done: &str,
) -> Value {
    let started = Instant::now();
    let answer = loop {
        let response = http
            .post(format!("{discord}/_sim/commands"))
            .json(&json!({"name": name, "options": options, "timeout_ms": 30_000}))
            .send()
            .await
            .unwrap();
        // 404 until the bot has registered its commands (a cog built and
        // loaded under the whole suite's load can take a while: a generous
        // bound, not a timing claim).
        if response.status() != 404 || started.elapsed() > Duration::from_secs(90) {
            break response.json::<Value>().await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let id = answer["interaction_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    loop {
        let seen = get_json(http, format!("{discord}/_sim/interactions/{id}"), "").await;
        if seen.to_string().contains(done) {
            return seen;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "/{name} never said `{done}`: {seen}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
