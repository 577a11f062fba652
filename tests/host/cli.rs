//! The `baseline` binary as users run it: `cog check`, `cog call`,
//! `cog new` (and building what it made), and `run`.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::*;

fn baseline(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_baseline"))
        .args(args)
        .current_dir(dir)
        .env("BASELINE_DATA_DIR", guest_target().join("test-data"))
        .env("RUST_LOG", "warn")
        .output()
        .expect("running baseline")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `stream` (a command's stdout or stderr) contains `what`; else fail
/// showing all of it.
#[track_caller]
fn says(stream: &[u8], what: &str) {
    let text = text(stream);
    assert!(text.contains(what), "expected `{what}` in {text}");
}

#[test]
fn check_prints_the_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let reference = guest("reference");
    let out = baseline(&["cog", "check", reference.to_str().unwrap()], dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("reference 0.1.0")
            && stdout.contains("/dice roll")
            && stdout.contains("page /stats"),
        "{stdout}"
    );

    let out = baseline(
        &["cog", "check", "--json", reference.to_str().unwrap()],
        dir.path(),
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON manifest");
    assert_eq!(json["manifest"]["name"], "reference");
    assert_eq!(json["wit_version"], "0.3.0");
    assert_eq!(
        json["manifest"]["commands"][0]["subcommands"][0]["name"],
        "roll"
    );
    assert!(json["declared_name"].is_null());

    // Under another name (the operator's choice), the suggestion is shown.
    let dice = dir.path().join("dice.wasm");
    std::fs::copy(&reference, &dice).unwrap();
    let out = baseline(&["cog", "check", dice.to_str().unwrap()], dir.path());
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("dice 0.1.0")
            && stdout.contains("named `dice` by its file; it suggests `reference`"),
        "{stdout}"
    );
    let out = baseline(
        &["cog", "check", "--json", dice.to_str().unwrap()],
        dir.path(),
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON manifest");
    assert_eq!(
        (&json["manifest"]["name"], &json["declared_name"]),
        (&serde_json::json!("dice"), &serde_json::json!("reference"))
    );
}

#[test]
fn check_refuses_bad_files_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(guest("reference")).unwrap();
    std::fs::write(dir.path().join("truncated.wasm"), &bytes[..bytes.len() / 2]).unwrap();
    std::fs::write(dir.path().join("core.wasm"), b"\0asm\x01\0\0\0").unwrap();
    std::fs::write(dir.path().join("text.wasm"), b"hello").unwrap();
    let cases = [
        (dir.path().join("truncated.wasm"), "malformed"),
        (dir.path().join("core.wasm"), "not a component"),
        (dir.path().join("text.wasm"), "not a WebAssembly file"),
        (dir.path().join("missing.wasm"), "cannot read"),
        (guest("not-a-cog"), "another world"),
        (guest("future-wit"), "baseline:cog@0.4.0"),
    ];
    for (file, expected) in cases {
        let out = baseline(&["cog", "check", file.to_str().unwrap()], dir.path());
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{}: {stderr}", file.display());
        assert!(
            stderr.contains(expected),
            "{}: expected `{expected}` in {stderr}",
            file.display()
        );
        assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    }
}

#[test]
fn call_runs_a_command_and_prints_the_reply() {
    let dir = tempfile::tempdir().unwrap();
    let reference = guest("reference");
    let path = reference.to_str().unwrap();
    let out = baseline(
        &[
            "cog",
            "call",
            path,
            "dice roll",
            "--option",
            "sides=20",
            "--option",
            "count=2",
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("2d20: ") && stdout.contains("Roll again"),
        "{stdout}"
    );

    let out = baseline(
        &["cog", "call", path, "dice/roll", "-o", "count=1", "--json"],
        dir.path(),
    );
    // What Discord receives: the interaction callback, type 4 with the
    // message (its button's custom id as Discord gets it).
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON answer");
    assert_eq!(json["type"], 4, "{json}");
    assert_eq!(json["data"]["components"][0]["type"], 1, "{json}");
    assert_eq!(
        json["data"]["components"][0]["components"][0]["type"], 2,
        "{json}"
    );
    let description = json["data"]["embeds"][0]["description"].as_str().unwrap();
    assert!(
        description.starts_with("1d6: "),
        "default sides from the settings schema: {description}"
    );

    let out = baseline(
        &[
            "cog",
            "call",
            path,
            "dice roll",
            "--settings",
            r#"{"default_sides": 12}"#,
            "--json",
        ],
        dir.path(),
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON answer");
    assert!(
        json["data"]["embeds"][0]["description"]
            .as_str()
            .unwrap()
            .starts_with("1d12: ")
    );
    // A cog's refusal is the ephemeral notice the user would see.
    let out = baseline(
        &["cog", "call", path, "dice roll", "-o", "sides=1", "--json"],
        dir.path(),
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON answer");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        (json["type"].as_u64(), json["data"]["flags"].as_u64()),
        (Some(4), Some(64)),
        "{json}"
    );

    for (args, expected) in [
        (
            vec!["dice roll", "--option", "sides=lots"],
            "expects an integer",
        ),
        (
            vec!["dice roll", "--option", "colour=red"],
            "unknown option `colour`",
        ),
        (vec!["dice", "--option", "sides=2"], "needs a subcommand"),
        (vec!["nope"], "no command `/nope`"),
        (
            vec!["dice roll", "--settings", r#"{"default_sides": 1}"#],
            "do not match the cog's schema",
        ),
    ] {
        let mut full = vec!["cog", "call", path];
        full.extend(args);
        let out = baseline(&full, dir.path());
        assert!(!out.status.success());
        says(&out.stderr, expected);
    }

    let out = baseline(
        &["cog", "call", guest("hostile").to_str().unwrap(), "boom"],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(1));
    says(&out.stderr, "panic");
}

#[test]
fn new_scaffolds_a_cog_that_builds_and_loads() {
    let _cores = crate::support::CPU_HEAVY.blocking_lock();
    let dir = tempfile::tempdir().unwrap();
    let out = baseline(&["cog", "new", "greeter"], dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let crate_dir = dir.path().join("greeter");
    // Self-contained: the SDK and the WIT are in the crate, not a path to
    // the sources this binary was built from; the type is named after the cog.
    let lib = std::fs::read_to_string(crate_dir.join("src/lib.rs")).unwrap();
    assert!(
        lib.contains("struct Greeter;") && lib.contains("register_cog!(Greeter);"),
        "{lib}"
    );
    let manifest = std::fs::read_to_string(crate_dir.join("Cargo.toml")).unwrap();
    assert!(
        manifest.contains(r#"baseline-sdk = { path = "baseline-sdk" }"#),
        "{manifest}"
    );
    assert!(crate_dir.join("baseline-sdk/src/llm.rs").is_file());
    assert!(crate_dir.join("wit/types.wit").is_file());
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args([
            "build",
            "--target",
            "wasm32-wasip2",
            "--release",
            "--target-dir",
        ])
        .arg(guest_target().join("scaffold"))
        .current_dir(&crate_dir)
        .env_remove("CARGO_TARGET_DIR")
        .status()
        .unwrap();
    assert!(status.success(), "the scaffolded cog must build");
    let wasm = guest_target().join("scaffold/wasm32-wasip2/release/greeter.wasm");
    let out = baseline(
        &[
            "cog",
            "call",
            wasm.to_str().unwrap(),
            "greeter",
            "-o",
            "name=Ada",
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    says(&out.stdout, "Hello, Ada! (greeting #1)");

    // The cargo-component route (wasip1 + adapter) builds and loads too.
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["component", "build", "--release", "--target-dir"])
        .arg(guest_target().join("scaffold-component"))
        .current_dir(&crate_dir)
        .env_remove("CARGO_TARGET_DIR")
        .status()
        .expect("cargo-component must be installed (`just setup` installs cargo-component@0.21.1)");
    assert!(
        status.success(),
        "`cargo component build` of the scaffolded cog must succeed"
    );
    let wasm = guest_target().join("scaffold-component/wasm32-wasip1/release/greeter.wasm");
    let out = baseline(
        &["cog", "call", wasm.to_str().unwrap(), "greeter"],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    says(&out.stdout, "Hello, cli-user! (greeting #1)");

    let out = baseline(&["cog", "new", "Bad Name"], dir.path());
    assert!(!out.status.success() && text(&out.stderr).contains("not a cog name"));
    let out = baseline(&["cog", "new", "greeter"], dir.path());
    assert!(!out.status.success() && text(&out.stderr).contains("not empty"));
}

/// `baseline cog test` runs the same script against the Rust, Python and
/// JavaScript twins; a wrong expectation fails naming the step.
#[test]
fn cog_test_runs_a_script_against_each_twin() {
    let dir = tempfile::tempdir().unwrap();
    let twins = {
        let _cores = crate::support::CPU_HEAVY.blocking_lock();
        [
            (guest("tally"), "tally"),
            (
                crate::support::python_cog("cogs/tally-py", "tally-py.wasm"),
                "tally-py",
            ),
            (
                crate::support::js_cog("cogs/tally-js", "tally-js.wasm"),
                "tally-js",
            ),
        ]
    };
    for (wasm, name) in &twins {
        let file = dir.path().join(format!("{name}.wasm"));
        std::fs::copy(wasm, &file).unwrap();
        let script = workspace().join(format!("cogs/{name}/tally.test.toml"));
        let out = baseline(
            &[
                "cog",
                "test",
                file.to_str().unwrap(),
                script.to_str().unwrap(),
            ],
            dir.path(),
        );
        let stdout = text(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("8 of 8 steps passed"),
            "{name}: {stdout}{}",
            text(&out.stderr)
        );
    }
    let wrong = dir.path().join("wrong.toml");
    std::fs::write(
        &wrong,
        "[[step]]\ncommand = \"tally\"\noptions = { amount = 1 }\nexpect = \"Tally: 999\"\n\n\
         [[step]]\nclick = \"\"\nexpect = \"Tally: 2 (+1)\"\n\n\
         [[step]]\ncommand = \"tally\"\noptions = { amount = 0 }\n",
    )
    .unwrap();
    let file = dir.path().join("tally.wasm");
    let out = baseline(
        &[
            "cog",
            "test",
            file.to_str().unwrap(),
            wrong.to_str().unwrap(),
        ],
        dir.path(),
    );
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("FAIL 1. /tally amount=1: expected `Tally: 999` in:")
            && stdout.contains("Tally: 1 (+1)")
            && stdout.contains("ok   2. click add:1")
            && stdout.contains(
                "FAIL 3. /tally amount=0: the cog refused: The amount must be 1 to 1000."
            )
            && stdout.contains("1 of 3 steps passed"),
        "{stdout}"
    );
    std::fs::write(&wrong, "[[step]]\nbogus = 1\n").unwrap();
    let out = baseline(
        &[
            "cog",
            "test",
            file.to_str().unwrap(),
            wrong.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    says(&out.stderr, "is not a script");
}

/// `baseline cog watch` builds a scaffolded cog into a cogs folder, and
/// again when its source changes; a broken save leaves the built file.
#[test]
fn cog_watch_rebuilds_on_save() {
    let _cores = crate::support::CPU_HEAVY.blocking_lock();
    let dir = tempfile::tempdir().unwrap();
    let out = baseline(&["cog", "new", "echoer", "--lang", "python"], dir.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let cog = dir.path().join("echoer");
    let built = dir.path().join("cogs/echoer.wasm");
    let out = baseline(
        &["cog", "watch", "echoer", "--into", "cogs", "--once"],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    says(&out.stdout, "built echoer in");
    let first = std::fs::read(&built).unwrap();

    let mut watching = Command::new(env!("CARGO_BIN_EXE_baseline"))
        .args(["cog", "watch", "echoer", "--into", "cogs"])
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines = BufReader::new(watching.stdout.take().unwrap()).lines();
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            let _ = sender.send(line);
        }
    });
    let wait = |what: &str| loop {
        match receiver.recv_timeout(Duration::from_secs(120)) {
            Ok(line) if line.contains(what) => break,
            Ok(_) => {}
            Err(_) => panic!("no `{what}` from cog watch"),
        }
    };
    wait("watching");
    let app = cog.join("app.py");
    let source = std::fs::read_to_string(&app).unwrap();
    std::fs::write(&app, source.replace("Hello, ", "Howdy, ")).unwrap();
    wait("built echoer in");
    let second = std::fs::read(&built).unwrap();
    assert_ne!(first, second, "the save was built");
    let _ = watching.kill();
    let _ = watching.wait();
    let out = baseline(
        &["cog", "call", built.to_str().unwrap(), "echoer"],
        dir.path(),
    );
    says(&out.stdout, "Howdy, cli-user!");
}

#[test]
fn run_loads_the_cogs_folder_and_reloads_it() {
    let dir = tempfile::tempdir().unwrap();
    let cogs = dir.path().join("cogs");
    std::fs::create_dir(&cogs).unwrap();
    install("reference", &cogs, "reference.wasm");
    install("status", &cogs, "status.wasm");
    // The default, relative cogs folder, as `just run` uses it.
    let mut host = Running::spawn(
        dir.path(),
        &["run"],
        &[
            (
                "BASELINE_DATA_DIR",
                guest_target().join("test-data").display().to_string(),
            ),
            ("RUST_LOG", "info".into()),
        ],
    );
    host.wait_for("Press Ctrl-C");
    let seen = host.seen.clone();
    assert!(
        seen.iter()
            .any(|l| l.starts_with("LLM: the built-in simulator on http://")),
        "no key set: the LLM simulator serves ({seen:?})"
    );
    // The API of the running host answers over a real socket.
    let api = seen
        .iter()
        .find_map(|l| l.strip_prefix("API on http://"))
        .and_then(|rest| rest.split('/').next())
        .map(str::to_string);
    let get = |addr: &str, path: &str| {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        response
    };
    if let Some(addr) = &api {
        let health = get(addr, "/api/v1/health");
        assert!(
            health.starts_with("HTTP/1.1 200") && health.contains("\"status\":\"ok\""),
            "{health}"
        );
        let openapi = get(addr, "/api/v1/openapi.json");
        assert!(
            openapi.starts_with("HTTP/1.1 200")
                && openapi.contains("/api/v1/guilds/{guild_id}/cogs/{cog}/settings"),
            "{openapi}"
        );
        let guarded = get(addr, "/api/v1/cogs");
        assert!(guarded.starts_with("HTTP/1.1 401"), "{guarded}");
    }
    // With no token, the built-in simulator answers a command as the
    // printed curl line runs it.
    let control = seen
        .iter()
        .find_map(|l| l.trim().strip_prefix("curl -s "))
        .and_then(|rest| rest.split_whitespace().next())
        .map(str::to_string);
    let status_reply = control.as_ref().map(|url| {
        let url = url.clone();
        tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(async move {
                let started = Instant::now();
                loop {
                    let response = reqwest::Client::new()
                        .post(&url)
                        .json(&serde_json::json!({"name": "status"}))
                        .send()
                        .await
                        .unwrap();
                    // 404 until the commands are registered.
                    if response.status() == 200 || started.elapsed() > Duration::from_secs(30) {
                        return response.json::<serde_json::Value>().await.unwrap();
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            })
    });
    // Replace a cog in place: the running host must swap it, not refuse it.
    let mut bytes = std::fs::read(cogs.join("reference.wasm")).unwrap();
    bytes.extend_from_slice(&[0, 4, 3, b'n', b'e', b'w']);
    std::fs::write(cogs.join("reference.wasm"), bytes).unwrap();
    host.wait_for_new("\"message\":\"cog loaded\"");
    let output = host.seen.join("\n");
    drop(host);
    assert!(output.contains("2 cog(s) loaded"), "{output}");
    assert!(
        output.contains("reference 0.1.0 — /dice") && output.contains("status 0.1.0 — /status"),
        "{output}"
    );
    assert!(!output.contains("cog not loaded"), "{output}");
    assert!(api.is_some(), "the API address is printed: {output}");
    assert!(
        output.contains("the built-in simulator"),
        "the simulator is the default: {output}"
    );
    let reply = status_reply.expect("the control API's curl line is printed");
    assert_eq!(
        reply["reply"]["embeds"][0]["title"], "Baseline status",
        "{reply}"
    );
}

#[test]
fn sim_runs_the_discord_simulator_alone() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_baseline"))
        .args(["sim", "--addr", "127.0.0.1:0"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let addr = first
        .strip_prefix("Discord simulator on http://")
        .expect(&first)
        .to_string();
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(&addr).unwrap();
    write!(
        stream,
        "GET /api/v10/users/@me HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bot x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        response.starts_with("HTTP/1.1 200") && response.contains("\"bot\":true"),
        "{response}"
    );
}
