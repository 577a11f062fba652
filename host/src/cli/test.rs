//! `baseline cog test FILE.wasm SCRIPT.toml`: run a script of steps against
//! a cog in the sandbox, with in-process services (kv, cache, settings in
//! memory), and check each answer. Language-neutral: the same script tests
//! a cog written in Rust, Python or JavaScript (`cogs/tally*/tally.test.toml`).
//!
//! ```toml
//! [[step]]
//! command = "tally"                     # a slash command, with options
//! options = { amount = 5, note = "first" }
//! expect = "Tally: 5 (+5 — first)"      # text the answer must contain
//!
//! [[step]]
//! click = "add:1"                       # the cog's own custom id ("" = the last answer's first component)
//! expect = "Tally: 6 (+1)"
//!
//! [[step]]
//! settings = { title = "Score", step = 3 }   # this guild's settings, checked against the schema
//!
//! [[step]]
//! command = "tally"
//! options = { amount = 0 }
//! expect_error = "must be 1 to 1000"    # what the user reads of a refusal
//! ```
//!
//! Every step may name `guild` and `user`; the defaults are those of
//! `baseline cog call`. A step fails when the cog refuses without an
//! `expect_error`, and when the host would not send the answer (a custom
//! id over Discord's limit once the host's prefix is added, say). Exits 0 when every step passes, 1 when one fails
//! (the rest still run), 2 when the cog or the script cannot be read.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Args;
use serde::Deserialize;

use super::{one_off_runtime, render};
use crate::capabilities::Scope;
use crate::config::Config;
use crate::runtime::{Answer, Call, LoadedCog, Runtime};
use crate::wit::types::{
    CogError, CommandResponse, Component, ComponentInvocation, ComponentKind, ComponentResponse,
    Message,
};

/// Arguments of `baseline cog test`.
#[derive(Debug, Args)]
pub struct TestArgs {
    /// The cog's `.wasm` file.
    file: PathBuf,
    /// The script: TOML with `[[step]]` tables.
    script: PathBuf,
    /// Grant every capability, as if the operator had.
    #[arg(long)]
    grant_all: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Script {
    #[serde(default)]
    step: Vec<Step>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Step {
    /// A slash command (`dice roll`).
    command: Option<String>,
    /// Its options.
    #[serde(default)]
    options: toml::Table,
    /// A click on the cog's custom id (empty: the last answer's first component).
    click: Option<String>,
    /// The values chosen, for a select.
    #[serde(default)]
    values: Vec<String>,
    /// This guild's settings, saved before the next steps.
    settings: Option<toml::Table>,
    /// Text the answer must contain.
    expect: Option<String>,
    /// Text the refusal the user reads must contain.
    expect_error: Option<String>,
    guild: Option<u64>,
    user: Option<u64>,
}

const GUILD: u64 = 100_000_000_000_000_001;
const USER: u64 = 300_000_000_000_000_001;
const CHANNEL: u64 = 200_000_000_000_000_001;

/// Run `baseline cog test`.
pub async fn test(config: Config, args: TestArgs) -> anyhow::Result<ExitCode> {
    let script: Script = match std::fs::read_to_string(&args.script)
        .with_context(|| format!("cannot read {}", args.script.display()))
        .and_then(|text| {
            toml::from_str(&text)
                .with_context(|| format!("{} is not a script", args.script.display()))
        }) {
        Ok(script) => script,
        Err(error) => {
            eprintln!("{error:#}");
            return Ok(ExitCode::from(2));
        }
    };
    let runtime = one_off_runtime(config)?;
    let Some(cog) = super::call::open(&runtime, &args.file, args.grant_all).await else {
        return Ok(ExitCode::from(2));
    };
    let cog = Arc::new(cog);
    let mut last: Option<Message> = None;
    let mut failed = 0;
    for (index, step) in script.step.iter().enumerate() {
        let number = index + 1;
        match run_step(&runtime, &cog, step, &mut last).await {
            Ok(said) => println!("ok   {number}. {said}"),
            Err(error) => {
                failed += 1;
                println!("FAIL {number}. {error:#}");
            }
        }
    }
    println!(
        "{} of {} steps passed",
        script.step.len() - failed,
        script.step.len()
    );
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// One step: what it did, or why it failed.
async fn run_step(
    runtime: &Arc<Runtime>,
    cog: &Arc<LoadedCog>,
    step: &Step,
    last: &mut Option<Message>,
) -> anyhow::Result<String> {
    let (guild, user) = (step.guild.unwrap_or(GUILD), step.user.unwrap_or(USER));
    let scope = Scope {
        cog: Arc::from(cog.name()),
        guild_id: Some(guild),
        user_id: Some(user),
        channel_id: Some(CHANNEL),
        interaction_id: Some(1),
        interaction: None,
        wit: cog.facts.version,
    };
    let (what, call) = match (&step.command, &step.click, &step.settings) {
        (None, None, Some(settings)) => {
            let value = serde_json::to_value(settings)?;
            super::call::save_settings(runtime, cog, guild, value.clone()).await?;
            return Ok(format!("settings {value}"));
        }
        (Some(command), None, None) => {
            let options: Vec<String> = step
                .options
                .iter()
                .map(|(name, value)| match value {
                    toml::Value::String(text) => format!("{name}={text}"),
                    other => format!("{name}={other}"),
                })
                .collect();
            let invocation = super::call::invocation(
                &cog.manifest.commands,
                command,
                &options,
                (guild, user, CHANNEL),
            )?;
            let shown = std::iter::once(format!("/{command}"))
                .chain(options)
                .collect::<Vec<_>>()
                .join(" ");
            (shown, Call::Command(invocation))
        }
        (None, Some(id), None) => {
            let id = if id.is_empty() {
                first_button(last.as_ref()).context("the last answer has no button to click")?
            } else {
                id.clone()
            };
            let invocation = ComponentInvocation {
                kind: if step.values.is_empty() {
                    ComponentKind::Button
                } else {
                    ComponentKind::Select
                },
                custom_id: id.clone(),
                values: step.values.clone(),
                fields: vec![],
                message_id: Some(1),
                context: super::call::context(guild, user, CHANNEL, 1),
            };
            (format!("click {id}"), Call::Component(invocation))
        }
        _ => anyhow::bail!("a step is one of `command`, `click` or `settings`"),
    };
    if step.expect.is_some() && step.expect_error.is_some() {
        anyhow::bail!("{what}: a step expects an answer or a refusal, not both");
    }
    let answer = runtime
        .invoke(cog, scope, call)
        .await
        .map_err(|error| anyhow::anyhow!("{what}: the call failed: {error}"))?;
    if let Some(message) = answered_message(&answer) {
        *last = Some(message.clone());
    }
    // What the host would send: the wire's custom ids within Discord's
    // limits, or the answer is refused (the user sees an apology).
    let mut wire = answer.clone();
    let ids = crate::discord::outgoing::CustomIds::of(cog.name(), cog.facts.version);
    if let Err(refusal) = crate::dispatch::interactions::ready_answer(ids, &mut wire) {
        anyhow::bail!("{what}: the host would not send this answer: {refusal:?}");
    }
    let shown = render::answer(&answer);
    let refusal = match answer.cog_error() {
        Some(CogError::User(words)) => Some(words.clone()),
        Some(CogError::Internal(detail)) => {
            anyhow::bail!("{what}: the cog reported an internal error: {detail}")
        }
        None => None,
    };
    match (&step.expect, &step.expect_error, &refusal) {
        (Some(expected), _, None) if !shown.contains(expected.as_str()) => {
            anyhow::bail!("{what}: expected `{expected}` in:\n{}", indent(&shown))
        }
        (Some(expected), _, Some(words)) => {
            anyhow::bail!("{what}: expected `{expected}`, but the cog refused: {words}")
        }
        (None, Some(expected), None) => {
            anyhow::bail!(
                "{what}: expected a refusal with `{expected}`, but it answered:\n{}",
                indent(&shown)
            )
        }
        (None, Some(expected), Some(words)) if !words.contains(expected.as_str()) => {
            anyhow::bail!("{what}: expected a refusal with `{expected}`, got: {words}")
        }
        (None, None, Some(words)) => anyhow::bail!("{what}: the cog refused: {words}"),
        _ => Ok(format!(
            "{what} → {}",
            shown.lines().next().unwrap_or_default().trim()
        )),
    }
}

/// The message an answer shows, if it shows one.
fn answered_message(answer: &Answer) -> Option<&Message> {
    match answer {
        Answer::Command(Ok(CommandResponse::Reply(reply)))
        | Answer::Component(Ok(ComponentResponse::Reply(reply))) => Some(&reply.message),
        Answer::Component(Ok(ComponentResponse::Update(message))) => Some(message),
        _ => None,
    }
}

/// The custom id of the first component (button or select) of `message`.
fn first_button(message: Option<&Message>) -> Option<String> {
    message?
        .components
        .iter()
        .flat_map(|row| &row.components)
        .find_map(|component| match component {
            Component::Button(button) => button.custom_id.clone(),
            Component::Select(select) => Some(select.custom_id.clone()),
        })
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|line| format!("    {line}"))
        .collect::<Vec<_>>()
        .join("\n")
}
