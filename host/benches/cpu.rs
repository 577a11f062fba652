//! CPU per interaction: how much processor time the bot's process spends
//! for one slash command, gateway frame in → callback sent. The simulator
//! runs in a process of its own (`baseline sim`), so only the bot's work is
//! counted; the bot is the real `baseline run` with the `ping` test cog
//! (`/fine` answered at once, ephemerally; once with a fresh instance per
//! call, Rust cogs' default, once on warm instances) and, as reference
//! points, a minimal serenity bot and a minimal twilight bot giving the
//! same answer (`examples/serenity_ping.rs`, `examples/twilight_ping.rs`).
//!
//! Load: a closed loop of 16 simulated users (`/_sim/commands`), 300 warm-up
//! commands, then `BASELINE_BENCH_COMMANDS` (default 40 000: shorter runs
//! vary by ±8 µs on a 2-core machine, these by ±2) measured. CPU
//! is the process's user + system time from `/proc/PID/stat`, all threads.
//!
//! `just bench-cpu` builds the release binaries first.
//!
//! With `BASELINE_BENCH_CALLGRIND=1` each bot runs under
//! `valgrind --tool=callgrind` instead, instrumentation switched on only
//! for the measured commands (`callgrind_control -i on/off`), and the
//! figure is *instructions* per interaction: repeatable whatever else the
//! machine is doing, where CPU time varies by ±15 µs between runs on a
//! 2-core machine. Default 1 000 commands in this mode (valgrind runs the
//! bot ~50× slower).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// User + system CPU of a process, all threads, in microseconds; and its
/// minor page faults (each a trip into the kernel: a fresh instance's
/// memory touched for the first time, say).
fn cpu_us(pid: u32) -> (u64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc/PID/stat");
    // Fields after the command name (which may hold spaces) in parentheses.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    let faults: u64 = fields[7].parse().unwrap();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
    (ticks * 1_000_000 / hz, faults)
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn registrations(http: &reqwest::Client, sim: &str) -> Value {
    match http.get(format!("{sim}/_sim/commands")).send().await {
        Ok(response) => response.json().await.unwrap_or(Value::Null),
        Err(_) => Value::Null,
    }
}

/// Wait until this bot has registered `/fine` (a bulk overwrite after
/// `before`) or, when the same commands were registered already (a second
/// `baseline run` changes nothing), until it answers `/fine`.
async fn wait_for_fine(http: &reqwest::Client, sim: &str, before: u64) {
    let started = Instant::now();
    loop {
        if started.elapsed() > Duration::from_secs(5) {
            let answer: Value = match http
                .post(format!("{sim}/_sim/commands"))
                .json(&json!({"name": "fine"}))
                .send()
                .await
            {
                Ok(response) => response.json().await.unwrap_or(Value::Null),
                Err(_) => Value::Null,
            };
            if answer["answered"] == true {
                return;
            }
        }
        let registered = registrations(http, sim).await;
        if registered["overwrites"].as_u64().unwrap_or(0) > before
            && registered["global"]
                .as_array()
                .is_some_and(|c| c.iter().any(|c| c["name"] == "fine"))
        {
            return;
        }
        // Under valgrind, compiling the cog alone takes a minute or more.
        let patience = if callgrind_out().is_some() { 900 } else { 60 };
        assert!(
            started.elapsed() < Duration::from_secs(patience),
            "the bot never registered /fine"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Run `count` commands with 16 users at once; how long it took.
async fn drive(http: &reqwest::Client, sim: &str, count: usize) -> Duration {
    let started = Instant::now();
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut users = Vec::new();
    for _ in 0..16 {
        let (http, sim, next) = (http.clone(), sim.to_string(), next.clone());
        users.push(tokio::spawn(async move {
            while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < count {
                let answer: Value = http
                    .post(format!("{sim}/_sim/commands"))
                    .json(&json!({"name": "fine"}))
                    .send()
                    .await
                    .expect("the simulator answers")
                    .json()
                    .await
                    .expect("JSON");
                assert!(answer["answered"] == true, "{answer}");
            }
        }));
    }
    for user in users {
        user.await.unwrap();
    }
    started.elapsed()
}

async fn measure(
    name: &str,
    bot: Child,
    before: u64,
    http: &reqwest::Client,
    sim: &str,
    count: usize,
) {
    let mut bot = Killed(bot);
    wait_for_fine(http, sim, before).await;
    let pid = bot.0.id();
    if let Some(out) = callgrind_out() {
        drive(http, sim, 100).await;
        callgrind_control(&["-i", "on"], pid);
        let took = drive(http, sim, count).await;
        callgrind_control(&["-i", "off"], pid);
        // A clean exit writes the profile (a kill would lose it).
        // SAFETY: sending SIGTERM to our own child.
        unsafe { libc::kill(pid as i32, libc::SIGTERM) };
        let _ = bot.0.wait();
        let instructions = callgrind_total(&out, pid);
        println!(
            "{name}: {count} interactions in {:.2} s under valgrind: {:.0} instructions per interaction",
            took.as_secs_f64(),
            instructions as f64 / count as f64
        );
        return;
    }
    drive(http, sim, 300).await;
    let (cpu_before, faults_before) = cpu_us(pid);
    let took = drive(http, sim, count).await;
    let (cpu_after, faults_after) = cpu_us(pid);
    println!(
        "{name}: {count} interactions in {:.2} s ({:.0}/s): {:.0} µs CPU, {:.1} page faults per interaction",
        took.as_secs_f64(),
        count as f64 / took.as_secs_f64(),
        (cpu_after - cpu_before) as f64 / count as f64,
        (faults_after - faults_before) as f64 / count as f64
    );
}

/// Where callgrind writes its profiles, when the bench counts instructions.
fn callgrind_out() -> Option<PathBuf> {
    std::env::var_os("BASELINE_BENCH_CALLGRIND")
        .filter(|v| v == "1")
        .map(|_| std::env::temp_dir().join("baseline-bench-callgrind"))
}

/// `program args…`, or under callgrind (instrumentation off until
/// `callgrind_control -i on`) when the bench counts instructions.
fn bot_command(program: &Path) -> Command {
    match callgrind_out() {
        Some(out) => {
            std::fs::create_dir_all(&out).unwrap();
            let mut command = Command::new("valgrind");
            command
                .arg("--tool=callgrind")
                .arg("--instr-atstart=no")
                .arg(format!(
                    "--callgrind-out-file={}/callgrind.%p",
                    out.display()
                ))
                .arg(program);
            command
        }
        None => Command::new(program),
    }
}

fn callgrind_control(args: &[&str], pid: u32) {
    let status = Command::new("callgrind_control")
        .args(args)
        .arg(pid.to_string())
        .stdout(Stdio::null())
        .status()
        .expect("callgrind_control (valgrind) is installed");
    assert!(status.success(), "callgrind_control {args:?} failed");
}

/// Instructions counted in `pid`'s profile (every thread, every dump).
fn callgrind_total(out: &Path, pid: u32) -> u64 {
    let prefix = format!("callgrind.{pid}");
    let mut total = 0;
    for entry in std::fs::read_dir(out).unwrap().flatten() {
        if !entry.file_name().to_string_lossy().starts_with(&prefix) {
            continue;
        }
        let text = std::fs::read_to_string(entry.path()).unwrap();
        total += text
            .lines()
            // `totals:` is the count; callgrind also writes a `summary:`
            // (0 when instrumentation was off at the start).
            .find_map(|line| line.strip_prefix("totals:"))
            .and_then(|n| n.trim().parse::<u64>().ok())
            .unwrap_or(0);
        // `BASELINE_BENCH_KEEP_PROFILES=1` keeps them for `callgrind_annotate`.
        if std::env::var_os("BASELINE_BENCH_KEEP_PROFILES").is_none() {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    assert!(
        total > 0,
        "no callgrind profile of {pid} in {}",
        out.display()
    );
    total
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace.join("target"));
    let baseline = target.join("release/baseline");
    let ping = target.join("release/examples/serenity_ping");
    let twilight = target.join("release/examples/twilight_ping");
    let cog = target.join("guests/wasm32-wasip2/cog/ping.wasm");
    for needed in [&baseline, &ping, &twilight, &cog] {
        assert!(
            needed.exists(),
            "{} is missing: run `just bench-cpu`",
            needed.display()
        );
    }
    let count: usize = std::env::var("BASELINE_BENCH_COMMANDS")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(if callgrind_out().is_some() {
            1_000
        } else {
            40_000
        });

    let port = free_port();
    let sim_url = format!("http://127.0.0.1:{port}");
    let _sim = Killed(
        Command::new(&baseline)
            .args(["sim", "--addr", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("baseline sim"),
    );
    let http = reqwest::Client::new();
    let started = Instant::now();
    while http
        .get(format!("{sim_url}/_sim/world"))
        .send()
        .await
        .is_err()
    {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the simulator did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let dir = tempfile::tempdir().unwrap();
    let cogs = dir.path().join("cogs");
    std::fs::create_dir_all(&cogs).unwrap();
    std::fs::copy(&cog, cogs.join("ping.wasm")).unwrap();
    let overwrites = |r: Value| r["overwrites"].as_u64().unwrap_or(0);
    // Once with a fresh instance per call (what `auto` picks for a Rust
    // cog), once on warm instances per guild: the host's own share without
    // the instantiation and teardown of a fresh instance.
    // Under valgrind the instance pool must fit its address space: a
    // smaller pool, and memory slots of 256 MiB instead of 4 GiB.
    let pool = match callgrind_out() {
        Some(_) => {
            "[runtime]\nmax_concurrent = 16\nmax_warm_instances = 16\nmemory_reservation_mib = 256\n"
        }
        None => "",
    };
    let fresh = dir.path().join("fresh.toml");
    // Named, not left to `auto`: under valgrind instantiation runs ~50×
    // slower and `auto` would pick warm instances.
    std::fs::write(
        &fresh,
        format!("{pool}[cogs.ping]\ninstances = \"fresh\"\n"),
    )
    .unwrap();
    let reuse = dir.path().join("reuse.toml");
    std::fs::write(
        &reuse,
        format!("{pool}[cogs.ping]\ninstances = \"reuse\"\n"),
    )
    .unwrap();
    for (name, data, config) in [
        ("a fresh instance per call", "data", &fresh),
        ("warm instances", "data-reuse", &reuse),
    ] {
        let before = overwrites(registrations(&http, &sim_url).await);
        let host = spawn_host(&baseline, &sim_url, &cogs, &dir.path().join(data), config);
        let name = format!("baseline run (ping cog, {name})");
        measure(&name, host, before, &http, &sim_url, count).await;
    }
    for (name, bot) in [
        ("minimal serenity bot", &ping),
        ("minimal twilight bot", &twilight),
    ] {
        let before = overwrites(registrations(&http, &sim_url).await);
        let bot = bot_command(bot)
            .arg(&sim_url)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("a reference bot");
        measure(name, bot, before, &http, &sim_url, count).await;
    }
}

fn spawn_host(baseline: &Path, sim: &str, cogs: &Path, data: &Path, config: &Path) -> Child {
    let mut command = bot_command(baseline);
    command
        .env("BASELINE_CONFIG", config)
        .arg("run")
        .env("BASELINE_DISCORD_URL", sim)
        .env("BASELINE_COGS_DIR", cogs)
        .env("BASELINE_DATA_DIR", data)
        .env("BASELINE_API_ADDR", "127.0.0.1:0")
        .env("BASELINE_HEALTH_ADDR", "127.0.0.1:0")
        .env_remove("DISCORD_TOKEN")
        .env_remove("DATABASE_URL")
        .env_remove("REDIS_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("baseline run")
}
