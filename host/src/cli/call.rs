//! `baseline cog call FILE COMMAND [--option name=value]...`: run one slash
//! command of a cog in the sandbox, against in-process services, and print
//! the answer. A cog author's way to try a command with no Discord at all.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use clap::Args;

use super::{one_line, one_off_runtime, render};
use crate::capabilities::{Grants, Scope};
use crate::config::Config;
use crate::runtime::{Answer, Call};
use crate::wit::types::{
    CommandInvocation, CommandOption, InvocationContext, OptionEntry, OptionKind, OptionValue, User,
};

/// Arguments of `baseline cog call`.
#[derive(Debug, Args)]
pub struct CallArgs {
    /// The cog's `.wasm` file.
    file: PathBuf,
    /// The command, with its subcommand if any: `dice roll` or `dice/roll`.
    command: String,
    /// An option as `name=value` (repeatable).
    #[arg(long = "option", short = 'o', value_name = "NAME=VALUE")]
    options: Vec<String>,
    /// Guild id of the invocation.
    #[arg(long, default_value_t = 100_000_000_000_000_001)]
    guild: u64,
    /// User id of the invoking user.
    #[arg(long, default_value_t = 300_000_000_000_000_001)]
    user: u64,
    /// Channel id of the invocation.
    #[arg(long, default_value_t = 200_000_000_000_000_001)]
    channel: u64,
    /// This guild's settings for the cog, as JSON (validated against the cog's schema).
    #[arg(long, value_name = "JSON")]
    settings: Option<String>,
    /// Grant every capability, as if the operator had (to try an `llm` or moderation cog).
    #[arg(long)]
    grant_all: bool,
    /// Print what Discord would receive: the interaction callback's JSON body.
    #[arg(long)]
    json: bool,
}

/// Run `baseline cog call`.
pub async fn call(config: Config, args: CallArgs) -> anyhow::Result<ExitCode> {
    let runtime = one_off_runtime(config)?;
    let Some(cog) = open(&runtime, &args.file, args.grant_all).await else {
        return Ok(ExitCode::from(2));
    };
    let invocation = build_invocation(&cog.manifest.commands, &args)?;
    if let Some(settings) = &args.settings {
        let value: serde_json::Value =
            serde_json::from_str(settings).context("--settings is not JSON")?;
        save_settings(&runtime, &cog, args.guild, value)
            .await
            .context("--settings")?;
    }
    let cog = Arc::new(cog);
    let scope = Scope {
        cog: Arc::from(cog.name()),
        guild_id: Some(args.guild),
        user_id: Some(args.user),
        channel_id: Some(args.channel),
        interaction_id: invocation.context.interaction_id.into(),
        interaction: None,
        wit: cog.facts.version,
    };
    let result = runtime.invoke(&cog, scope, Call::Command(invocation)).await;
    if args.json {
        // What Discord would receive: the interaction callback's body.
        let ok = matches!(result, Ok(Answer::Command(Ok(_))));
        let ids = crate::discord::outgoing::CustomIds::of(cog.name(), cog.facts.version);
        let body = crate::dispatch::interactions::callback_json(ids, result);
        println!("{}", serde_json::to_string_pretty(&body)?);
        return Ok(if ok {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        });
    }
    match result {
        Ok(answer) => {
            print!("{}", render::answer(&answer));
            Ok(match answer {
                Answer::Command(Ok(_)) => ExitCode::SUCCESS,
                _ => ExitCode::from(1),
            })
        }
        Err(error) => {
            eprintln!("invocation failed: {error}");
            eprintln!(
                "a Discord user would see: {}",
                crate::dispatch::failures::for_failure(error.kind)
            );
            Ok(ExitCode::from(1))
        }
    }
}

/// The cog in `file`, loaded to be tried (every capability granted with
/// `grant_all`); `None` once the reason it cannot be is printed.
pub(super) async fn open(
    runtime: &Arc<crate::runtime::Runtime>,
    file: &std::path::Path,
    grant_all: bool,
) -> Option<crate::runtime::LoadedCog> {
    match runtime.open(file).await {
        Ok(mut cog) => {
            if grant_all {
                cog.grants = Arc::new(Grants::all());
            }
            Some(cog)
        }
        Err(error) => {
            eprintln!("{}: {}", file.display(), one_line(&error));
            None
        }
    }
}

/// The context `baseline cog call` and `cog test` invoke with: the CLI user
/// in `guild` and `channel`.
pub(super) fn context(
    guild: u64,
    user: u64,
    channel: u64,
    interaction_id: u64,
) -> InvocationContext {
    InvocationContext {
        guild_id: Some(guild),
        channel_id: Some(channel),
        user: User {
            id: user,
            username: "cli-user".into(),
            global_name: Some("CLI user".into()),
            bot: false,
            avatar: None,
        },
        member: None,
        locale: Some("en-US".into()),
        interaction_id,
    }
}

/// Save `value` as `guild`'s settings of `cog`, once checked against its schema.
pub(super) async fn save_settings(
    runtime: &crate::runtime::Runtime,
    cog: &crate::runtime::LoadedCog,
    guild: u64,
    value: serde_json::Value,
) -> anyhow::Result<()> {
    let Some(schema) = &cog.manifest.settings_schema else {
        bail!("cog `{}` declares no settings", cog.name())
    };
    let schema = crate::schema::SettingsSchema::compile(schema).map_err(anyhow::Error::msg)?;
    if let Err(problems) = schema.accept(&value) {
        let errors: Vec<String> = problems
            .iter()
            .map(|v| format!("`{}`: {}", v.path, v.message))
            .collect();
        bail!(
            "the settings do not match the cog's schema: {}",
            errors.join("; ")
        );
    }
    runtime
        .services()
        .settings
        .put(cog.name(), guild, value, None)
        .await
        .map_err(|e| anyhow::anyhow!("{e:?}"))
}

fn build_invocation(
    commands: &[crate::wit::types::Command],
    args: &CallArgs,
) -> anyhow::Result<CommandInvocation> {
    invocation(
        commands,
        &args.command,
        &args.options,
        (args.guild, args.user, args.channel),
    )
}

/// The invocation of `command` (`dice roll`) with `raw` options
/// (`name=value`), checked against the cog's `commands`, from (guild,
/// user, channel).
pub(super) fn invocation(
    commands: &[crate::wit::types::Command],
    command_line: &str,
    raw: &[String],
    (guild, user, channel): (u64, u64, u64),
) -> anyhow::Result<CommandInvocation> {
    let words: Vec<&str> = command_line
        .split(|c: char| c == '/' || c.is_whitespace())
        .filter(|w| !w.is_empty())
        .collect();
    let Some((name, rest)) = words.split_first() else {
        bail!("no command given")
    };
    let name = name.trim_start_matches('/');
    let Some(command) = commands.iter().find(|c| c.name == name) else {
        let known: Vec<String> = commands.iter().map(|c| format!("/{}", c.name)).collect();
        bail!(
            "the cog has no command `/{name}` (it has: {})",
            if known.is_empty() {
                "none".into()
            } else {
                known.join(", ")
            }
        );
    };
    let (group, subcommand, declared): (Option<String>, Option<String>, &[CommandOption]) =
        match rest {
            [] if command.subcommands.is_empty() && command.groups.is_empty() => {
                (None, None, &command.options)
            }
            [] => bail!(
                "`/{name}` needs a subcommand: {}",
                subcommand_names(command).join(", ")
            ),
            [sub] => match command.subcommands.iter().find(|s| s.name == *sub) {
                Some(found) => (None, Some(found.name.clone()), &found.options),
                None => bail!(
                    "`/{name}` has no subcommand `{sub}` (it has: {})",
                    subcommand_names(command).join(", ")
                ),
            },
            [group, sub] => {
                let found = command
                    .groups
                    .iter()
                    .find(|g| g.name == *group)
                    .and_then(|g| g.subcommands.iter().find(|s| s.name == *sub))
                    .with_context(|| format!("`/{name}` has no `{group} {sub}`"))?;
                (
                    Some(group.to_string()),
                    Some(found.name.clone()),
                    &found.options,
                )
            }
            _ => bail!("too many words in `{command_line}`"),
        };
    let mut options = Vec::new();
    for raw in raw {
        let (key, value) = raw
            .split_once('=')
            .with_context(|| format!("--option `{raw}` is not name=value"))?;
        let Some(option) = declared.iter().find(|o| o.name == key) else {
            let known: Vec<&str> = declared.iter().map(|o| o.name.as_str()).collect();
            bail!(
                "unknown option `{key}` (options: {})",
                if known.is_empty() {
                    "none".into()
                } else {
                    known.join(", ")
                }
            );
        };
        options.push(OptionEntry {
            name: key.to_string(),
            value: parse_option(option, value)?,
        });
    }
    for option in declared.iter().filter(|o| o.required) {
        if !options.iter().any(|entry| entry.name == option.name) {
            bail!("option `{}` is required", option.name);
        }
    }
    let interaction_id = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1);
    Ok(CommandInvocation {
        name: name.to_string(),
        group,
        subcommand,
        options,
        context: context(guild, user, channel, interaction_id),
    })
}

fn subcommand_names(command: &crate::wit::types::Command) -> Vec<String> {
    let mut names: Vec<String> = command.subcommands.iter().map(|s| s.name.clone()).collect();
    for group in &command.groups {
        names.extend(
            group
                .subcommands
                .iter()
                .map(|s| format!("{} {}", group.name, s.name)),
        );
    }
    names
}

fn parse_option(option: &CommandOption, value: &str) -> anyhow::Result<OptionValue> {
    let id = || {
        value
            .trim_start_matches("<@")
            .trim_start_matches(['&', '#', '!'])
            .trim_end_matches('>')
            .parse::<u64>()
    };
    let bad = || {
        anyhow::anyhow!(
            "option `{}` expects {}, got `{value}`",
            option.name,
            render::option_kind(option.kind)
        )
    };
    Ok(match option.kind {
        OptionKind::Text => OptionValue::Text(value.to_string()),
        OptionKind::Integer => OptionValue::Integer(value.parse().map_err(|_| bad())?),
        OptionKind::Number => OptionValue::Number(value.parse().map_err(|_| bad())?),
        OptionKind::Boolean => OptionValue::Boolean(value.parse().map_err(|_| bad())?),
        OptionKind::User => OptionValue::User(id().map_err(|_| bad())?),
        OptionKind::Channel => OptionValue::Channel(id().map_err(|_| bad())?),
        OptionKind::Role => OptionValue::Role(id().map_err(|_| bad())?),
        OptionKind::Mentionable => OptionValue::Mentionable(id().map_err(|_| bad())?),
        OptionKind::Attachment => {
            bail!("attachment options cannot be given on the command line yet")
        }
    })
}
