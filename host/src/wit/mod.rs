//! Host-side bindings of the Baseline WIT, every released version.
//!
//! The module's root is the current version, generated from `wit/` (world
//! `baseline:cog/cog`): the types every layer of the host shares. Every
//! import is async (capabilities may wait on the database or Discord) and
//! trappable: a host function returns `Err` only to end the invocation for
//! a limit (the host-call budget); expected failures are the WIT error
//! variants the cog receives as values.
//!
//! Older versions are kept loadable ([`SUPPORTED`]): [`v0_2`] and [`v0_1`]
//! hold the bindings of `wit/released/0.2.0` and `0.1.0` and the adapters
//! to them (0.1.0 through 0.2.0). How a version differs decides how it is
//! adapted:
//! - an import interface whose functions have the same shape in both
//!   versions is served by the current implementation, linked a second
//!   time under the old version's name ([`crate::capabilities::add_to_linker`]);
//! - an import interface whose types changed is generated from the old
//!   version and served by the current implementation, its values
//!   converted (0.2.0's `discord`, [`v0_2`]);
//! - an export whose types changed is called with the old types and its
//!   values converted ([`v0_2`], [`v0_1`]);
//! - a rule that changed meaning is kept per cog by its [`WitVersion`]
//!   (custom ids: [`crate::discord::outgoing::CustomIds`]).

pub mod v0_1;
pub mod v0_2;

wasmtime::component::bindgen!({
    path: "../wit",
    world: "baseline:cog/cog",
    imports: { default: async | trappable },
    exports: { default: async },
    additional_derives: [serde::Serialize, serde::Deserialize, PartialEq],
});

pub use baseline::cog::types;
pub use exports::baseline::cog::{handler, pages};

/// A version of the Baseline WIT this host runs.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub enum WitVersion {
    /// `baseline:cog@0.1.0`: a cog writes its own name before its custom
    /// ids (`reference:roll`) and is refused under another name.
    V0_1,
    /// `baseline:cog@0.2.0`: custom ids are the cog's own; the host adds and
    /// strips its namespace, so a cog loads under any name.
    V0_2,
    /// `baseline:cog@0.3.0`: before-states and attribution on every
    /// update, the events a mod-log needs.
    #[default]
    V0_3,
}

/// Every version this host loads, oldest first, with its package version.
pub const SUPPORTED: &[(WitVersion, &str)] = &[
    (WitVersion::V0_1, "0.1.0"),
    (WitVersion::V0_2, "0.2.0"),
    (WitVersion::V0_3, "0.3.0"),
];

/// A value of one version as the same-shaped type of another, through
/// serde: the generated types of two versions are distinct Rust types, and
/// a field only the source has is dropped (an `option` only the target has
/// is absent). A disagreement beyond that is a bug of an adapter, reported
/// as such with the `version` adapted to or from.
pub(crate) fn adapt<A: serde::Serialize, B: serde::de::DeserializeOwned>(
    value: &A,
    version: &str,
) -> Result<B, String> {
    serde_json::to_value(value)
        .and_then(serde_json::from_value)
        .map_err(|error| format!("adapting to or from WIT {version}: {error}"))
}

impl WitVersion {
    /// The version `wit/` is at.
    pub const CURRENT: Self = Self::V0_3;

    /// The version named `version` (`0.2.0`), if this host loads it.
    pub fn parse(version: &str) -> Option<Self> {
        SUPPORTED
            .iter()
            .find(|(_, name)| *name == version)
            .map(|(v, _)| *v)
    }

    /// The package version, `0.2.0`.
    pub fn as_str(self) -> &'static str {
        SUPPORTED
            .iter()
            .find(|(v, _)| *v == self)
            .map(|(_, name)| *name)
            .unwrap_or("?")
    }

    /// The range this host loads, for refusals: `0.1.0 to 0.2.0`.
    pub fn range() -> String {
        let first = SUPPORTED.first().map(|(_, n)| *n).unwrap_or("?");
        let last = SUPPORTED.last().map(|(_, n)| *n).unwrap_or("?");
        format!("{first} to {last}")
    }

    /// Whether the host keeps this version's custom ids apart itself (the
    /// cog writes only its own part).
    pub fn host_namespaces_custom_ids(self) -> bool {
        self >= Self::V0_2
    }
}

impl std::fmt::Display for WitVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The import interfaces of the world, by their WIT name (each is linked
/// once per supported version: [`crate::capabilities::add_to_linker`]).
pub const IMPORTS: &[&str] = &[
    "types",
    "discord",
    "interaction",
    "kv",
    "cache",
    "settings",
    "llm",
    "log",
    "system",
    "schedule",
];

/// Whether `version` has the import interface `interface` (each is linked
/// only for the versions that have it).
pub fn has_import(version: WitVersion, interface: &str) -> bool {
    match interface {
        "schedule" => version >= WitVersion::V0_3,
        _ => IMPORTS.contains(&interface),
    }
}

/// Values the host's unit tests share.
#[cfg(test)]
pub(crate) mod fixtures {
    use super::types::{Button, ButtonStyle, Component, Member, MessageInfo, User};

    /// A blurple button "go" with the custom id `id`.
    pub(crate) fn button(id: &str) -> Component {
        Component::Button(Button {
            style: ButtonStyle::Primary,
            label: Some("go".into()),
            emoji: None,
            custom_id: Some(id.into()),
            url: None,
            disabled: false,
        })
    }

    /// A message `content` by ann in channel 2 of guild 3.
    pub(crate) fn message(id: u64, content: &str) -> MessageInfo {
        MessageInfo {
            id,
            channel_id: 2,
            guild_id: Some(3),
            author: User {
                id: 4,
                username: "ann".into(),
                global_name: None,
                bot: false,
                avatar: None,
            },
            content: content.into(),
            timestamp: "2026-11-30T00:00:00Z".into(),
            edited_timestamp: None,
            attachments: vec![],
            embed_count: 0,
        }
    }

    /// ann (user `id`), with a nickname and role 7.
    pub(crate) fn member(id: u64, nick: Option<&str>) -> Member {
        Member {
            user: User {
                id,
                username: "ann".into(),
                global_name: None,
                bot: false,
                avatar: None,
            },
            nick: nick.map(Into::into),
            roles: vec![7],
            joined_at: Some("2026-11-30T00:00:00+00:00".into()),
            permissions: None,
            communication_disabled_until: None,
            avatar: None,
            pending: false,
            flags: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::Digest;

    /// Released WIT is never edited: every cog built against it relies on
    /// it. The digest covers every `.wit` file of each released folder, by
    /// name and content.
    #[test]
    fn released_wit_is_frozen() {
        const DIGESTS: &[(&str, &str)] = &[
            (
                "0.1.0",
                "241c06717ad5c75f9900626cd4e56726dfb53348404f60db9a15980a749e2d80",
            ),
            (
                "0.2.0",
                "4dd69415c6fef7cd289e4e11138005a6c692d869d80b561ec55c56eb06961fdc",
            ),
        ];
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../wit/released");
        for (version, expected) in DIGESTS {
            let folder = root.join(version);
            let mut files: Vec<_> = std::fs::read_dir(&folder)
                .unwrap_or_else(|e| panic!("{}: {e}", folder.display()))
                .map(|entry| entry.unwrap().path())
                .filter(|path| path.extension().is_some_and(|e| e == "wit"))
                .collect();
            files.sort();
            let mut digest = sha2::Sha256::new();
            for file in &files {
                digest.update(file.file_name().unwrap().as_encoded_bytes());
                digest.update(std::fs::read(file).unwrap());
            }
            let found = hex::encode(digest.finalize());
            assert_eq!(
                &found, expected,
                "wit/released/{version} changed; released WIT is never edited (wit/released/README.md)"
            );
        }
    }

    /// Every supported version's package is where the host says, and the
    /// current version is the one `wit/` declares.
    #[test]
    fn the_current_version_is_the_one_wit_declares() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../wit");
        let types = std::fs::read_to_string(root.join("types.wit")).unwrap();
        assert!(
            types.starts_with(&format!("package baseline:cog@{};", WitVersion::CURRENT)),
            "wit/types.wit declares another version than WitVersion::CURRENT"
        );
        for (version, name) in SUPPORTED {
            if *version == WitVersion::CURRENT {
                continue;
            }
            let types = std::fs::read_to_string(root.join("released").join(name).join("types.wit"))
                .unwrap();
            assert!(types.starts_with(&format!("package baseline:cog@{name};")));
        }
        // Once the current version is released, `wit/` is that release
        // until the version is bumped.
        let released = root.join("released").join(WitVersion::CURRENT.as_str());
        if released.exists() {
            for entry in std::fs::read_dir(&released).unwrap() {
                let path = entry.unwrap().path();
                let name = path.file_name().unwrap();
                assert_eq!(
                    std::fs::read(&path).unwrap(),
                    std::fs::read(root.join(name)).unwrap(),
                    "wit/{} differs from its release {}: bump the version in wit/types.wit first",
                    name.to_string_lossy(),
                    WitVersion::CURRENT
                );
            }
        }
        assert_eq!(WitVersion::parse("0.1.0"), Some(WitVersion::V0_1));
        assert_eq!(WitVersion::parse("0.3.0"), Some(WitVersion::V0_3));
        assert_eq!(WitVersion::parse("0.4.0"), None);
        assert_eq!(WitVersion::range(), "0.1.0 to 0.3.0");
    }
}
