//! Checking a cog's manifest against Discord's rules and the host's, so that
//! a bad manifest is refused at load with every problem listed, instead of
//! failing later at command registration.

use std::collections::HashSet;

use crate::capabilities::grants;
use crate::schema::SettingsSchema;
use crate::wit::types::{ChoiceValue, CogManifest, Command, CommandOption, OptionKind};

/// The cog-name rule, in words (the one rule: file names, pins, manifests,
/// `baseline cog new`).
pub const COG_NAME_RULE: &str = "1-32 lowercase letters, digits or `-`, not starting with `-` (it prefixes the cog's custom ids)";

/// Whether `name` is a cog name: see [`COG_NAME_RULE`].
pub fn valid_cog_name(name: &str) -> bool {
    (1..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
}

fn valid_command_name(name: &str) -> bool {
    (1..=32).contains(&name.chars().count())
        && name
            .chars()
            .all(|c| c == '-' || c == '_' || (c.is_alphanumeric() && !c.is_uppercase()))
}

fn check_description(problems: &mut Vec<String>, what: &str, description: &str) {
    let len = description.chars().count();
    if !(1..=100).contains(&len) {
        problems.push(format!(
            "{what}: description must be 1-100 characters (has {len})"
        ));
    }
}

fn check_options(problems: &mut Vec<String>, what: &str, options: &[CommandOption]) {
    if options.len() > 25 {
        problems.push(format!(
            "{what}: at most 25 options (has {})",
            options.len()
        ));
    }
    let mut names = HashSet::new();
    let mut optional_seen = false;
    for option in options {
        let at = format!("{what} option `{}`", option.name);
        if !valid_command_name(&option.name) {
            problems.push(format!(
                "{at}: name must be 1-32 lowercase letters, digits, `-` or `_`"
            ));
        }
        if !names.insert(option.name.as_str()) {
            problems.push(format!("{at}: declared twice"));
        }
        check_description(problems, &at, &option.description);
        if option.required && optional_seen {
            problems.push(format!(
                "{at}: required options must come before optional ones"
            ));
        }
        optional_seen |= !option.required;
        let numeric = matches!(option.kind, OptionKind::Integer | OptionKind::Number);
        let choosable = numeric || option.kind == OptionKind::Text;
        if !option.choices.is_empty() {
            if !choosable {
                problems.push(format!(
                    "{at}: only text, integer and number options can have choices"
                ));
            }
            if option.autocomplete {
                problems.push(format!("{at}: choices and autocomplete cannot be combined"));
            }
            if option.choices.len() > 25 {
                problems.push(format!("{at}: at most 25 choices"));
            }
            for choice in &option.choices {
                let fits = matches!(
                    (&choice.value, option.kind),
                    (ChoiceValue::Text(_), OptionKind::Text)
                        | (ChoiceValue::Integer(_), OptionKind::Integer)
                        | (
                            ChoiceValue::Number(_) | ChoiceValue::Integer(_),
                            OptionKind::Number
                        )
                );
                if !fits {
                    problems.push(format!(
                        "{at}: choice `{}` has a value of another type than the option",
                        choice.name
                    ));
                }
            }
        }
        if option.autocomplete && !choosable {
            problems.push(format!(
                "{at}: only text, integer and number options can autocomplete"
            ));
        }
        if (option.min_value.is_some() || option.max_value.is_some()) && !numeric {
            problems.push(format!(
                "{at}: min/max value only apply to integer and number options"
            ));
        }
        if let (Some(min), Some(max)) = (option.min_value, option.max_value)
            && min > max
        {
            problems.push(format!("{at}: min value {min} is above max value {max}"));
        }
        if (option.min_length.is_some() || option.max_length.is_some())
            && option.kind != OptionKind::Text
        {
            problems.push(format!("{at}: min/max length only apply to text options"));
        }
        if !option.channel_kinds.is_empty() && option.kind != OptionKind::Channel {
            problems.push(format!("{at}: channel kinds only apply to channel options"));
        }
    }
}

fn check_command(problems: &mut Vec<String>, command: &Command) {
    let what = format!("command `/{}`", command.name);
    if !valid_command_name(&command.name) {
        problems.push(format!(
            "{what}: name must be 1-32 lowercase letters, digits, `-` or `_`"
        ));
    }
    check_description(problems, &what, &command.description);
    let nested = !command.subcommands.is_empty() || !command.groups.is_empty();
    if nested && !command.options.is_empty() {
        problems.push(format!(
            "{what}: a command has options or subcommands, not both"
        ));
    }
    check_options(problems, &what, &command.options);
    if command.subcommands.len() + command.groups.len() > 25 {
        problems.push(format!("{what}: at most 25 subcommands and groups"));
    }
    let mut names = HashSet::new();
    for sub in &command.subcommands {
        let at = format!("{what} subcommand `{}`", sub.name);
        if !valid_command_name(&sub.name) || !names.insert(sub.name.clone()) {
            problems.push(format!("{at}: invalid or repeated name"));
        }
        check_description(problems, &at, &sub.description);
        check_options(problems, &at, &sub.options);
    }
    for group in &command.groups {
        let at = format!("{what} group `{}`", group.name);
        if !valid_command_name(&group.name) || !names.insert(group.name.clone()) {
            problems.push(format!("{at}: invalid or repeated name"));
        }
        check_description(problems, &at, &group.description);
        if group.subcommands.is_empty() || group.subcommands.len() > 25 {
            problems.push(format!("{at}: needs 1-25 subcommands"));
        }
        let mut inner = HashSet::new();
        for sub in &group.subcommands {
            let at = format!("{at} subcommand `{}`", sub.name);
            if !valid_command_name(&sub.name) || !inner.insert(sub.name.clone()) {
                problems.push(format!("{at}: invalid or repeated name"));
            }
            check_description(problems, &at, &sub.description);
            check_options(problems, &at, &sub.options);
        }
    }
}

/// Every problem with `manifest`; empty when it is valid.
pub fn problems(manifest: &CogManifest) -> Vec<String> {
    match check(manifest) {
        Ok(_) => Vec::new(),
        Err(problems) => problems,
    }
}

/// Check `manifest` and compile its settings schema (once): the schema, if
/// it declares one, or every problem found.
pub fn check(manifest: &CogManifest) -> Result<Option<SettingsSchema>, Vec<String>> {
    let mut problems = rules(manifest);
    let schema = match manifest
        .settings_schema
        .as_deref()
        .map(SettingsSchema::compile)
    {
        Some(Ok(schema)) => Some(schema),
        Some(Err(problem)) => {
            problems.push(problem);
            None
        }
        None => None,
    };
    if problems.is_empty() {
        Ok(schema)
    } else {
        Err(problems)
    }
}

/// Every problem with `manifest` other than its settings schema's.
fn rules(manifest: &CogManifest) -> Vec<String> {
    let mut problems = Vec::new();
    if !valid_cog_name(&manifest.name) {
        problems.push(format!("name `{}` must be {COG_NAME_RULE}", manifest.name));
    }
    if manifest.version.trim().is_empty() {
        problems.push("version is empty".into());
    }
    if manifest.commands.len() > 100 {
        problems.push(format!(
            "at most 100 commands (has {})",
            manifest.commands.len()
        ));
    }
    let mut names = HashSet::new();
    for command in &manifest.commands {
        if !names.insert(command.name.as_str()) {
            problems.push(format!("command `/{}` declared twice", command.name));
        }
        check_command(&mut problems, command);
    }
    for request in &manifest.capabilities {
        if !grants::is_known(&request.name) {
            problems.push(format!(
                "capability `{}` is unknown to this host",
                request.name
            ));
        }
        if request.reason.trim().is_empty() {
            problems.push(format!(
                "capability `{}` needs a reason for the operator",
                request.name
            ));
        }
    }
    let mut routes = HashSet::new();
    for page in &manifest.pages {
        let valid = !page.route.is_empty()
            && page
                .route
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'/');
        if !valid || !routes.insert(page.route.as_str()) {
            problems.push(format!(
                "page route `{}` is invalid or repeated",
                page.route
            ));
        }
        if page.title.trim().is_empty() {
            problems.push(format!("page `{}` has no title", page.route));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wit::types::{
        CapabilityRequest, Choice, NavPlacement, Page, PageAccess, Subcommand,
    };

    fn option(name: &str, kind: OptionKind, required: bool) -> CommandOption {
        CommandOption {
            name: name.into(),
            description: "an option".into(),
            kind,
            required,
            choices: vec![],
            autocomplete: false,
            min_value: None,
            max_value: None,
            min_length: None,
            max_length: None,
            channel_kinds: vec![],
        }
    }

    fn command(name: &str) -> Command {
        Command {
            name: name.into(),
            description: "a command".into(),
            options: vec![],
            subcommands: vec![],
            groups: vec![],
            default_member_permissions: None,
            guild_only: false,
            nsfw: false,
        }
    }

    fn manifest(commands: Vec<Command>) -> CogManifest {
        CogManifest {
            name: "good".into(),
            version: "1.0.0".into(),
            description: "fine".into(),
            commands,
            events: vec![],
            settings_schema: None,
            capabilities: vec![],
            pages: vec![],
        }
    }

    fn one_problem(manifest: &CogManifest, expected: &str) {
        let found = problems(manifest);
        assert!(
            found.iter().any(|p| p.contains(expected)),
            "expected `{expected}` in {found:?}"
        );
    }

    #[test]
    fn a_good_manifest_has_no_problems() {
        let mut ping = command("ping");
        ping.options = vec![
            option("target", OptionKind::User, true),
            option("times", OptionKind::Integer, false),
        ];
        assert_eq!(problems(&manifest(vec![ping])), Vec::<String>::new());
    }

    #[test]
    fn discord_rules_are_checked() {
        one_problem(&manifest(vec![command("Ping")]), "lowercase");
        one_problem(
            &manifest(vec![command("ping"), command("ping")]),
            "declared twice",
        );
        let mut long = command("ping");
        long.description = "x".repeat(101);
        one_problem(&manifest(vec![long]), "1-100 characters");
        let mut order = command("ping");
        order.options = vec![
            option("a", OptionKind::Text, false),
            option("b", OptionKind::Text, true),
        ];
        one_problem(&manifest(vec![order]), "required options must come before");
        let mut both = command("ping");
        both.options = vec![option("a", OptionKind::Text, false)];
        both.subcommands = vec![Subcommand {
            name: "s".into(),
            description: "d".into(),
            options: vec![],
        }];
        one_problem(&manifest(vec![both]), "options or subcommands, not both");
        let mut choices = command("ping");
        let mut flag = option("flag", OptionKind::Boolean, false);
        flag.choices = vec![Choice {
            name: "yes".into(),
            value: ChoiceValue::Text("y".into()),
        }];
        choices.options = vec![flag];
        one_problem(
            &manifest(vec![choices]),
            "only text, integer and number options can have choices",
        );
        let mut mismatch = command("ping");
        let mut count = option("count", OptionKind::Integer, false);
        count.choices = vec![Choice {
            name: "one".into(),
            value: ChoiceValue::Text("1".into()),
        }];
        mismatch.options = vec![count];
        one_problem(&manifest(vec![mismatch]), "value of another type");
        let mut range = command("ping");
        let mut bounded = option("n", OptionKind::Number, false);
        bounded.min_value = Some(5.0);
        bounded.max_value = Some(1.0);
        range.options = vec![bounded];
        one_problem(&manifest(vec![range]), "is above max value");
    }

    #[test]
    fn host_rules_are_checked() {
        let mut bad_name = manifest(vec![]);
        bad_name.name = "Not Valid".into();
        one_problem(&bad_name, "must be 1-32 lowercase");
        let mut unknown = manifest(vec![]);
        unknown.capabilities = vec![CapabilityRequest {
            name: "root".into(),
            reason: "please".into(),
        }];
        one_problem(&unknown, "capability `root` is unknown");
        let mut no_reason = manifest(vec![]);
        no_reason.capabilities = vec![CapabilityRequest {
            name: "kv".into(),
            reason: " ".into(),
        }];
        one_problem(&no_reason, "needs a reason");
        let mut schema = manifest(vec![]);
        schema.settings_schema = Some("{not json".into());
        one_problem(&schema, "not JSON");
        schema.settings_schema = Some(
            r#"{"type": "object", "properties": {"n": {"type": "integer", "default": "six"}}}"#
                .into(),
        );
        one_problem(&schema, "defaults do not satisfy it");
        let mut pages = manifest(vec![]);
        let page = Page {
            route: "Stats".into(),
            title: "".into(),
            nav: NavPlacement::Sidebar,
            access: PageAccess::Member,
            ui_module: false,
        };
        pages.pages = vec![page];
        one_problem(&pages, "route `Stats` is invalid");
        one_problem(&pages, "has no title");
    }
}
