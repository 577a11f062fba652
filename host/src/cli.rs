//! The `baseline` command line: `run` (the main job), `cog check`,
//! `cog call`, `cog test`, `cog new` and `cog watch` (for cog authors).

mod call;
mod new;
mod render;
mod test;
mod watch;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};

use crate::capabilities::Services;
use crate::config::Config;
use crate::discord::{DiscordLink, Endpoint, ShardMonitor};
use crate::dispatch::Discord;
use crate::runtime::{LoadError, Runtime, watcher};
use crate::store::Database;

/// Baseline: a Discord bot platform whose features are sandboxed,
/// hot-reloadable WebAssembly cogs.
#[derive(Debug, Parser)]
#[command(name = "baseline", version, about)]
pub struct Cli {
    /// Configuration file (default: ./baseline.toml when present; env BASELINE_CONFIG).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the bot: load every cog in the cogs folder and reload them as the files change.
    Run(RunArgs),
    /// Work with one cog file.
    #[command(subcommand)]
    Cog(CogCommand),
    /// Apply the database migrations and exit (`run` also applies them at start).
    Migrate,
    /// Run the Discord simulator alone (gateway and REST on loopback), for
    /// trying a bot or a client against it.
    Sim {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8090")]
        addr: std::net::SocketAddr,
    },
    /// Delete everything cogs stored about a Discord user, in every cog and guild.
    ForgetUser {
        /// The user's Discord id.
        user_id: u64,
    },
}

#[derive(Debug, Args)]
struct RunArgs {
    /// Folder of `.wasm` cogs (overrides the config; env BASELINE_COGS_DIR).
    #[arg(long, value_name = "DIR")]
    cogs: Option<PathBuf>,
    /// Folder for compiled artifacts and data (env BASELINE_DATA_DIR).
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Run only these shards, `A-B` inclusive (needs --total-shards); default: all.
    #[arg(long, value_name = "A-B", requires = "total_shards")]
    shards: Option<String>,
    /// Total shards of the bot, when this process runs a range of them.
    #[arg(long, value_name = "N")]
    total_shards: Option<u64>,
}

#[derive(Debug, Subcommand)]
enum CogCommand {
    /// Compile and validate a cog and print its manifest.
    Check {
        /// The cog's `.wasm` file.
        file: PathBuf,
        /// Print the manifest as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run one command of a cog in the sandbox, with in-process services, and print the answer.
    Call(call::CallArgs),
    /// Run a script of commands, clicks and settings against a cog and check the answers.
    Test(test::TestArgs),
    /// Create a new cog (Rust, Python or JavaScript) that builds out of the box.
    New(new::NewArgs),
    /// Rebuild a cog whenever its sources change, into a running host's cogs folder.
    Watch(watch::WatchArgs),
}

impl Cli {
    /// Run the chosen command.
    pub async fn run(self) -> anyhow::Result<ExitCode> {
        let mut config = Config::load(self.config.as_deref())?;
        match self.command {
            Command::Run(args) => {
                if let Some(cogs) = args.cogs {
                    config.cogs_dir = cogs;
                }
                if let Some(data) = args.data {
                    config.data_dir = data;
                }
                if args.shards.is_some() {
                    config.discord.shards = args.shards;
                }
                if args.total_shards.is_some() {
                    config.discord.total_shards = args.total_shards;
                }
                config.discord.shard_range()?;
                run(config).await
            }
            Command::Migrate => {
                let db = open_database(&config).await?;
                println!("Database {} is up to date.", db.backend());
                Ok(ExitCode::SUCCESS)
            }
            Command::Sim { addr } => {
                let sim = baseline_discord_sim::Simulator::start(addr).await?;
                println!("Discord simulator on {}", sim.http_url());
                println!("  REST:    {}/api/v10/users/@me", sim.http_url());
                println!("  gateway: ws://{}/?v=10", sim.addr());
                println!(
                    "  control: {}/_sim/world (ids), /_sim/commands, /_sim/messages — see the README",
                    sim.http_url()
                );
                println!(
                    "  point a bot at it: BASELINE_DISCORD_URL={} baseline run",
                    sim.http_url()
                );
                println!("Press Ctrl-C to stop.");
                tokio::signal::ctrl_c().await?;
                Ok(ExitCode::SUCCESS)
            }
            Command::ForgetUser { user_id } => {
                let db = open_database(&config).await?;
                let deleted = crate::store::kv::KvStore::forget_user(
                    &crate::store::kv::SqlKv::new(db),
                    user_id,
                )
                .await?;
                println!("Deleted {deleted} stored key(s) of user {user_id}.");
                Ok(ExitCode::SUCCESS)
            }
            Command::Cog(CogCommand::Check { file, json }) => check(config, file, json).await,
            Command::Cog(CogCommand::Call(args)) => call::call(config, args).await,
            Command::Cog(CogCommand::Test(args)) => test::test(config, args).await,
            Command::Cog(CogCommand::New(args)) => new::new(args),
            Command::Cog(CogCommand::Watch(args)) => {
                tokio::task::spawn_blocking(move || watch::watch(args)).await?
            }
        }
    }
}

/// Connect (retrying while the server is unreachable) and migrate.
async fn open_database(config: &Config) -> anyhow::Result<Database> {
    let url = config
        .database_url
        .clone()
        .unwrap_or_else(|| Database::sqlite_url(&config.data_dir));
    // Never print credentials: only what follows the `@`.
    let shown = url.rsplit('@').next().unwrap_or(&url).to_string();
    let db = Database::connect_with_retry(&url, 8)
        .await
        .with_context(|| format!("cannot open the database {shown}"))?;
    db.migrate()
        .await
        .with_context(|| format!("cannot migrate the database {shown}"))?;
    tracing::info!(backend = db.backend(), database = %shown, "database ready");
    Ok(db)
}

/// Redis when configured (retrying while it is unreachable), else in process.
async fn open_cache(config: &Config) -> anyhow::Result<std::sync::Arc<dyn crate::cache::Cache>> {
    let Some(url) = &config.redis_url else {
        return Ok(crate::cache::open(None, config.runtime.memory_cache_mib << 20).await?);
    };
    let shown = url.rsplit('@').next().unwrap_or(url).to_string();
    use backon::Retryable as _;
    let mut attempt = 0;
    (|| crate::cache::open(Some(url), 0))
        .retry(crate::config::reconnect_backoff(8))
        .notify(|error, delay| {
            attempt += 1;
            tracing::warn!(%error, attempt, retry_in_s = delay.as_secs(), "Redis not reachable; retrying");
        })
        .await
        .map_err(|error| anyhow::anyhow!("cannot reach Redis at {shown}: {error}"))
}

/// Where the bot connects: discord.com with a token, else a simulator —
/// the one at `discord.url`, or one started here. The simulator, when
/// started here, is returned so it lives as long as the host.
async fn discord_endpoint(
    config: &Config,
) -> anyhow::Result<(Endpoint, Option<baseline_discord_sim::Simulator>)> {
    let discord = &config.discord;
    if let Some(token) = &discord.token {
        let base = discord
            .url
            .clone()
            .unwrap_or_else(|| "https://discord.com".into());
        let simulated = discord.url.is_some();
        return Ok((
            Endpoint {
                base,
                token: token.clone(),
                simulated,
            },
            None,
        ));
    }
    if let Some(url) = &discord.url {
        let endpoint = Endpoint {
            base: url.clone(),
            token: "simulated-token".into(),
            simulated: true,
        };
        return Ok((endpoint, None));
    }
    let sim = baseline_discord_sim::Simulator::start(discord.simulator_addr)
        .await
        .with_context(|| {
            format!(
                "cannot start the Discord simulator on {} (set BASELINE_SIM_ADDR to another address, or DISCORD_TOKEN to use Discord)",
                discord.simulator_addr
            )
        })?;
    let endpoint = Endpoint {
        base: sim.http_url(),
        token: "simulated-token".into(),
        simulated: true,
    };
    Ok((endpoint, Some(sim)))
}

/// The LLM gateway for this run: the providers whose keys are set, or the
/// embedded LLM simulator (returned so it lives as long as the host);
/// answers cached in `cache` when a request asks.
async fn start_llm(
    config: &Config,
    db: crate::store::Database,
    cache: Arc<dyn crate::cache::Cache>,
) -> anyhow::Result<(
    Arc<crate::llm::service::LlmService>,
    Option<baseline_llm_sim::LlmSimulator>,
)> {
    use crate::llm::providers::Kind;
    let simulator = match config.llm.keys.is_empty() {
        true => {
            let addr = config.llm.simulator_addr;
            // Only this process talks to it: when the address is taken
            // (a second process of the bot on this machine), any port will do.
            let started = match baseline_llm_sim::LlmSimulator::start(addr).await {
                Err(error) if error.kind() == std::io::ErrorKind::AddrInUse => {
                    tracing::warn!(%addr, "the LLM simulator's address is taken; using a free port");
                    baseline_llm_sim::LlmSimulator::start(std::net::SocketAddr::new(addr.ip(), 0))
                        .await
                }
                other => other,
            };
            let started = started.with_context(|| {
                format!("cannot start the LLM simulator on {addr} (set BASELINE_LLM_SIM_ADDR, or a provider key such as OPENAI_API_KEY)")
            })?;
            // Streamed answers arrive word by word, as from a real model.
            started.set_pace(std::time::Duration::from_millis(40));
            Some(started)
        }
        false => None,
    };
    let at_sim = |kind: Kind| {
        let provider = match kind {
            Kind::OpenAi => baseline_llm_sim::Provider::OpenAi,
            Kind::Anthropic => baseline_llm_sim::Provider::Anthropic,
            Kind::Gemini => baseline_llm_sim::Provider::Gemini,
            Kind::Xai => baseline_llm_sim::Provider::Xai,
        };
        simulator
            .as_ref()
            .map(|sim| sim.base_url(provider))
            .unwrap_or_default()
    };
    let plan = crate::llm::setup::plan(&config.llm, Some(&at_sim)).map_err(anyhow::Error::msg)?;
    let policy = crate::llm::gateway::RetryPolicy {
        attempts: config.llm.attempts.max(1),
        ..Default::default()
    };
    let gateway = crate::llm::gateway::Gateway::new(plan.providers, policy);
    let service = crate::llm::service::LlmService::new(
        gateway,
        plan.routes,
        config.llm.default_model.clone(),
        crate::store::llm::LlmStore::new(db),
    )
    .await?
    .with_media_models(
        config.llm.image_model.clone(),
        config.llm.transcription_model.clone(),
    )
    .with_answer_cache(cache)
    .with_operator_budgets(
        config.llm.daily_budget_micros,
        config.llm.monthly_budget_micros,
    );
    Ok((Arc::new(service), simulator))
}

/// Sign-in with Discord for this run: the application's id and team asked
/// of Discord (its team, or its owner, is on the developer team beside
/// those configured), the secret configured — or, against the simulator,
/// the simulator's own (whose application belongs to the demo owner, ada).
/// `None` (with a warning) when it cannot be set up.
async fn sign_in(
    runtime: &Runtime,
    link: &DiscordLink,
    endpoint: &Endpoint,
    api_addr: std::net::SocketAddr,
) -> Option<crate::api::login::Login> {
    let config = runtime.config();
    let mut auth = config.auth.clone();
    let simulator = endpoint
        .simulated
        .then_some(baseline_discord_sim::oauth::CLIENT_SECRET);
    if auth.client_secret.is_none() && simulator.is_none() {
        tracing::warn!(
            "sign-in is off: set [auth] client_secret (or BASELINE_OAUTH_SECRET) to let people sign in with Discord"
        );
        return None;
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let application = link
        .rest
        .call(
            None,
            http::Method::GET,
            "/oauth2/applications/@me",
            crate::discord::rest::Body::Empty,
            deadline,
        )
        .await;
    let application_id = match (&application, auth.client_id) {
        (_, Some(id)) => id,
        (Ok(app), None) => app["id"]
            .as_str()
            .and_then(|id| id.parse().ok())
            .unwrap_or(0),
        (Err(error), None) => {
            tracing::warn!(%error, "sign-in is off: could not read the application's id from Discord (set [auth] client_id)");
            return None;
        }
    };
    match &application {
        Ok(app) => auth
            .developers
            .extend(crate::discord::oauth::application_team(app)),
        Err(error) => {
            tracing::warn!(%error, "could not read the application's team; the developer team is the configured one only")
        }
    }
    let public_url = auth
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{api_addr}"));
    crate::api::login::Login::new(
        &auth,
        &endpoint.base,
        application_id,
        &public_url,
        simulator,
    )
}

async fn run(config: Config) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(&config.cogs_dir)?;
    let db = open_database(&config).await?;
    let cache = open_cache(&config).await?;
    let backend = format!("{}, cache: {}", db.backend(), cache.backend());
    let (endpoint, simulator) = discord_endpoint(&config).await?;
    let discord_config = config.discord.clone();
    let link = Arc::new(DiscordLink::new(
        &endpoint.base,
        &endpoint.token,
        &discord_config,
    ));
    let guilds = crate::store::guilds::GuildStore::new(db.clone());
    let db_for_llm = db.clone();
    let services = Services::with_database(db)
        .with_cache(cache.clone())
        .with_discord(link.clone());
    let monitor = Arc::new(ShardMonitor::new(
        cache,
        services.host.process(),
        std::time::Duration::from_millis(discord_config.monitor_ttl_ms.max(1_000)),
    ));
    let services = services.with_shards(monitor.clone());
    let (llm, llm_simulator) = start_llm(&config, db_for_llm, services.cache.clone()).await?;
    let services = services.with_llm(llm);
    crate::store::kv::spawn_sweeper(
        Arc::downgrade(&services.kv),
        std::time::Duration::from_secs(30),
    );
    let health_addr = config.health_addr;
    let runtime = Runtime::new(config, services)?;
    let results = runtime.load_dir().await;
    let loaded = results.iter().filter(|(_, r)| r.is_ok()).count();
    tracing::info!(loaded, failed = results.len() - loaded, dir = %runtime.config().cogs_dir.display(), "cogs folder loaded");
    println!(
        "Baseline {} — {} cog(s) loaded from {} — database: {backend}",
        crate::VERSION,
        loaded,
        runtime.config().cogs_dir.display()
    );
    for cog in runtime.registry().list() {
        let commands: Vec<String> = cog
            .manifest
            .commands
            .iter()
            .map(|c| format!("/{}", c.name))
            .collect();
        println!(
            "  {} {} — {}",
            cog.name(),
            cog.manifest.version,
            if commands.is_empty() {
                "no commands".into()
            } else {
                commands.join(" ")
            }
        );
    }
    for (file, failure) in runtime.registry().failures() {
        println!("  not loaded: {}: {}", file.display(), failure.error);
    }
    let _watcher = watcher::watch(runtime.clone())?;
    let listener = crate::api::listen(runtime.config().api_addr).await?;
    let login = sign_in(&runtime, &link, &endpoint, listener.local_addr()?).await;
    let signing_in = login.is_some();
    let api = crate::api::serve_on(
        crate::api::ApiState::new(runtime.clone())
            .with_login(login)
            .with_playground(endpoint.simulated.then(|| endpoint.base.clone())),
        listener,
    )?;
    println!("API on http://{api}/api/v1/health (OpenAPI at /api/v1/openapi.json)");
    let dashboard = runtime
        .config()
        .dashboard_dir
        .as_ref()
        .is_some_and(|dir| dir.join("index.html").is_file());
    if dashboard {
        println!("Dashboard on http://{api}/ (docs/dashboard.md)");
    } else if signing_in {
        println!("Sign in with Discord: http://{api}/api/v1/auth/login (docs/access.md)");
    }
    println!(
        "Watching {} — drop a .wasm file in to load it, replace it to reload, delete it to unload.",
        runtime.config().cogs_dir.display()
    );
    let _notices = runtime.follow_notices().await?;
    let discord = Discord::start(
        runtime.clone(),
        link,
        &endpoint,
        discord_config,
        Some(guilds),
        monitor,
    )
    .await?;
    let health = crate::health::serve(
        crate::health::HealthState {
            runtime: runtime.clone(),
            bot: discord.bot.clone(),
        },
        health_addr,
    )
    .await?;
    println!("Health on http://{health}/readyz (liveness /livez, Prometheus /metrics)");
    match &simulator {
        Some(sim) => {
            println!(
                "Discord: the built-in simulator on {} (no DISCORD_TOKEN set), guild \"Baseline Demo\"",
                sim.http_url()
            );
            println!("Run a command as a Discord user would:");
            println!(
                "  curl -s {}/_sim/commands -H 'content-type: application/json' -d '{{\"name\": \"status\"}}'",
                sim.http_url()
            );
            if runtime.registry().by_command("dice").is_some() {
                println!(
                    "  curl -s {}/_sim/commands -H 'content-type: application/json' -d '{{\"name\": \"dice roll\", \"options\": {{\"sides\": 20}}}}'",
                    sim.http_url()
                );
            }
        }
        None if endpoint.simulated => println!("Discord: the simulator at {}", endpoint.base),
        None => println!("Discord: connecting to {}", endpoint.base),
    }
    match &llm_simulator {
        Some(sim) => println!(
            "LLM: the built-in simulator on {} (no provider key set; OpenAI, Anthropic, Gemini and xAI formats)",
            sim.control_url()
        ),
        None => println!(
            "LLM: {}",
            runtime
                .config()
                .llm
                .keys
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
    println!("Press Ctrl-C to stop.");
    tokio::signal::ctrl_c().await?;
    println!("Stopping.");
    discord.shutdown().await;
    Ok(ExitCode::SUCCESS)
}

/// A runtime for one-off commands: the operator's config, in-process services.
fn one_off_runtime(config: Config) -> anyhow::Result<Arc<Runtime>> {
    Runtime::new(config, Services::in_process())
}

async fn check(config: Config, file: PathBuf, json: bool) -> anyhow::Result<ExitCode> {
    let runtime = one_off_runtime(config)?;
    match runtime.open(&file).await {
        Ok(cog) => {
            if json {
                let out = serde_json::json!({
                    "file": file,
                    "wit_version": cog.facts.wit_version,
                    "declared_name": cog.declared_name,
                    "sdk": cog.facts.sdk,
                    "hash": cog.hash,
                    "manifest": cog.manifest,
                    "granted": cog.grants.granted().collect::<Vec<_>>(),
                    "instances": cog.policy,
                    "instantiate_us": cog.instantiate_time.map(|t| t.as_micros() as u64),
                    "withheld": cog.grants.withheld().collect::<Vec<_>>(),
                });
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                print!("{}", render::manifest(&cog));
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            eprintln!("{}: {}", file.display(), one_line(&error));
            Ok(ExitCode::from(2))
        }
    }
}

/// Errors are printed on one line, whatever the cause chain holds.
fn one_line(error: &LoadError) -> String {
    error.to_string().replace('\n', " ")
}
