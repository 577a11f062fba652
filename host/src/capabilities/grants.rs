//! Which capabilities a cog may use: the one check every capability makes
//! before any side effect.
//!
//! A cog may use a capability when (1) it asked for it in its manifest — `log`
//! and `interaction` need no asking — and (2) the operator allows it: the safe
//! defaults below, plus `grant`, minus `deny` in the cog's config. Anything
//! that acts on members or spends money is never a default.

use std::collections::BTreeSet;

use crate::config::CogConfig;

/// Every capability the host knows, with whether it is granted by default.
pub const CAPABILITIES: &[(&str, bool, &str)] = &[
    ("log", true, "write log lines"),
    (
        "interaction",
        true,
        "follow up on and edit its own interaction responses",
    ),
    ("kv", true, "durable key-value storage in its own space"),
    ("cache", true, "ephemeral storage in its own space"),
    ("settings", true, "read the guild's settings for it"),
    ("system", true, "read uptime, shards and service health"),
    (
        "schedule",
        true,
        "set timers that run it later in a server, kept across restarts",
    ),
    (
        "discord.messages",
        true,
        "send, edit, delete and read messages",
    ),
    (
        "discord.reactions",
        true,
        "add and remove the bot's reactions",
    ),
    (
        "discord.guild.read",
        true,
        "list the guild's roles and channels",
    ),
    ("discord.members.read", true, "read members of the guild"),
    ("discord.threads", true, "create threads"),
    (
        "discord.roles.manage",
        false,
        "give and take members' roles",
    ),
    ("discord.dm", false, "send direct messages to users"),
    ("discord.members.kick", false, "kick members"),
    ("discord.members.ban", false, "ban users"),
    ("discord.members.timeout", false, "time members out"),
    (
        "discord.audit-log",
        false,
        "read the server's audit log (who did what)",
    ),
    ("llm", false, "call language models (spends money)"),
];

/// Capabilities a cog may use without listing them in its manifest.
const IMPLICIT: &[&str] = &["log", "interaction"];

/// Whether `name` is a capability this host knows.
pub fn is_known(name: &str) -> bool {
    CAPABILITIES.iter().any(|(known, _, _)| *known == name)
}

/// The resolved grants of one loaded cog.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Grants {
    granted: BTreeSet<String>,
    /// Requested in the manifest but not allowed by the operator.
    withheld: BTreeSet<String>,
    /// Models the cog may name with `llm`, beyond the operator's defaults
    /// (`"*"`: any).
    llm_models: BTreeSet<String>,
}

impl Grants {
    /// Resolve the grants from what the manifest requests and the operator's config.
    pub fn resolve<'a>(
        requested: impl IntoIterator<Item = &'a str>,
        config: Option<&CogConfig>,
    ) -> Self {
        let allowed = |name: &str| {
            let default = CAPABILITIES
                .iter()
                .any(|(known, default, _)| *known == name && *default);
            let granted = config.is_some_and(|c| c.grant.iter().any(|g| g == name));
            let denied = config.is_some_and(|c| c.deny.iter().any(|d| d == name));
            (default || granted) && !denied
        };
        let mut grants = Grants::default();
        for name in requested.into_iter().chain(IMPLICIT.iter().copied()) {
            if !is_known(name) {
                continue;
            }
            if allowed(name) {
                grants.granted.insert(name.to_string());
            } else if !IMPLICIT.contains(&name) {
                grants.withheld.insert(name.to_string());
            }
        }
        if let Some(config) = config {
            grants.llm_models = config.llm_models.iter().cloned().collect();
        }
        grants
    }

    /// Grants for everything known (used by `baseline cog call --grant-all`).
    pub fn all() -> Self {
        Grants {
            granted: CAPABILITIES
                .iter()
                .map(|(name, _, _)| name.to_string())
                .collect(),
            withheld: BTreeSet::new(),
            llm_models: BTreeSet::from(["*".to_string()]),
        }
    }

    /// `Ok` when the cog may name `model` (the operator's default models
    /// always, others when listed in its `llm_models`).
    pub fn check_model(&self, model: &str, defaults: &[&str]) -> Result<(), String> {
        if defaults.contains(&model)
            || self.llm_models.contains("*")
            || self.llm_models.contains(model)
        {
            Ok(())
        } else {
            Err(format!(
                "the operator has not allowed this cog the model `{model}` (llm_models in its config)"
            ))
        }
    }

    /// The models the cog may name beyond the defaults.
    pub fn llm_models(&self) -> impl Iterator<Item = &str> {
        self.llm_models.iter().map(String::as_str)
    }

    /// May the cog use `capability`?
    pub fn allows(&self, capability: &str) -> bool {
        self.granted.contains(capability)
    }

    /// `Ok` when granted, else the denial message the cog receives.
    pub fn check(&self, capability: &str) -> Result<(), String> {
        if self.allows(capability) {
            Ok(())
        } else if self.withheld.contains(capability) {
            Err(format!(
                "capability `{capability}` was requested but the operator has not granted it"
            ))
        } else {
            Err(format!(
                "capability `{capability}` is not in the cog's manifest"
            ))
        }
    }

    /// Granted capability names.
    pub fn granted(&self) -> impl Iterator<Item = &str> {
        self.granted.iter().map(String::as_str)
    }

    /// Requested but withheld capability names (warned about at load time).
    pub fn withheld(&self) -> impl Iterator<Item = &str> {
        self.withheld.iter().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(grant: &[&str], deny: &[&str]) -> CogConfig {
        CogConfig {
            grant: grant.iter().map(|s| s.to_string()).collect(),
            deny: deny.iter().map(|s| s.to_string()).collect(),
            ..CogConfig::default()
        }
    }

    /// (requested, grant, deny, capability, allowed)
    type Case<'a> = (&'a [&'a str], &'a [&'a str], &'a [&'a str], &'a str, bool);

    #[test]
    fn table() {
        let cases: &[Case] = &[
            (&["kv"], &[], &[], "kv", true),
            (&[], &[], &[], "kv", false),         // not asked for
            (&[], &[], &[], "log", true),         // implicit
            (&[], &[], &[], "interaction", true), // implicit
            (&["llm"], &[], &[], "llm", false),   // spends money
            (&["llm"], &["llm"], &[], "llm", true),
            (
                &["discord.members.ban"],
                &[],
                &[],
                "discord.members.ban",
                false,
            ),
            (
                &["discord.members.ban"],
                &["discord.members.ban"],
                &[],
                "discord.members.ban",
                true,
            ),
            (
                &["discord.roles.manage"],
                &[],
                &[],
                "discord.roles.manage",
                false,
            ),
            (&["discord.dm"], &[], &[], "discord.dm", false),
            (&["discord.messages"], &[], &[], "discord.messages", true),
            (
                &["discord.messages"],
                &[],
                &["discord.messages"],
                "discord.messages",
                false,
            ),
            (&["kv"], &["llm"], &[], "llm", false), // granted but not asked for
            (&["made.up"], &["made.up"], &[], "made.up", false), // unknown
            (&[], &[], &["log"], "log", false),
        ];
        for (requested, grant, deny, capability, allowed) in cases {
            let grants = Grants::resolve(requested.iter().copied(), Some(&config(grant, deny)));
            assert_eq!(
                grants.allows(capability),
                *allowed,
                "{requested:?} +{grant:?} -{deny:?} → {capability}"
            );
        }
    }

    #[test]
    fn denial_messages_say_why() {
        let grants = Grants::resolve(["llm"], None);
        assert!(
            grants
                .check("llm")
                .unwrap_err()
                .contains("operator has not granted")
        );
        assert!(
            grants
                .check("kv")
                .unwrap_err()
                .contains("not in the cog's manifest")
        );
        assert_eq!(grants.withheld().collect::<Vec<_>>(), ["llm"]);
    }

    #[test]
    fn models_beyond_the_defaults_need_listing() {
        let mut listed = config(&["llm"], &[]);
        listed.llm_models = vec!["claude-haiku-5-5".into()];
        let grants = Grants::resolve(["llm"], Some(&listed));
        let defaults = ["gpt-6-luna", "gpt-image-2"];
        assert!(grants.check_model("gpt-6-luna", &defaults).is_ok());
        assert!(grants.check_model("claude-haiku-5-5", &defaults).is_ok());
        assert!(
            grants
                .check_model("claude-fable-5-1", &defaults)
                .unwrap_err()
                .contains("llm_models")
        );
        let unlisted = Grants::resolve(["llm"], Some(&config(&["llm"], &[])));
        assert!(unlisted.check_model("claude-haiku-5-5", &defaults).is_err());
        let any = {
            let mut c = config(&["llm"], &[]);
            c.llm_models = vec!["*".into()];
            Grants::resolve(["llm"], Some(&c))
        };
        assert!(any.check_model("claude-fable-5-1", &defaults).is_ok());
        assert!(Grants::all().check_model("anything", &[]).is_ok());
    }

    /// The Rust SDK names every capability this host knows (its
    /// `Capability` enum), and none it does not.
    #[test]
    fn the_sdk_names_the_same_capabilities() {
        let sdk = include_str!("../../../guest-sdk/src/cog.rs");
        let named: Vec<&str> = sdk
            .lines()
            .filter_map(|line| line.trim().strip_prefix("Capability::"))
            .filter_map(|arm| arm.split("=> \"").nth(1))
            .filter_map(|rest| rest.split('"').next())
            .collect();
        let known: Vec<&str> = CAPABILITIES
            .iter()
            .map(|(name, _, _)| *name)
            .filter(|name| !IMPLICIT.contains(name))
            .collect();
        assert_eq!(named, known);
    }

    #[test]
    fn money_and_member_actions_are_never_defaults() {
        for (name, default, _) in CAPABILITIES {
            if *name == "llm"
                || name.starts_with("discord.members.") && *name != "discord.members.read"
                || *name == "discord.roles.manage"
            {
                assert!(!default, "{name} must not be granted by default");
            }
        }
    }
}
