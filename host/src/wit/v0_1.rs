//! `baseline:cog@0.1.0`, kept loadable: its bindings and the adapter from
//! the current version to it.
//!
//! What changed since (wit/released/README.md):
//! - `cog-manifest` may name event kinds 0.1.0 lacks: a 0.1.0 manifest is
//!   read with the old types and converted ([`manifest`]);
//! - `event`: edits and deletions carry the message as it was, and purges,
//!   bans and unbans are new: a 0.1.0 cog gets the event in its old shape,
//!   and none of the new kinds (it cannot subscribe to them) ([`event`]);
//! - custom ids: a 0.1.0 cog writes its name before them itself (kept by
//!   [`crate::wit::WitVersion`] where messages are checked).
//!
//! Every import interface has the same shape as today's, so the generated
//! code for them is replaced by the current modules (`with`) and linked a
//! second time under the old names ([`crate::capabilities::add_to_linker`]).

use serde::Serialize;
use serde::de::DeserializeOwned;

wasmtime::component::bindgen!({
    path: "../wit/released/0.1.0",
    world: "baseline:cog/cog",
    imports: { default: async | trappable },
    exports: { default: async },
    additional_derives: [serde::Serialize, serde::Deserialize, PartialEq],
    with: {
        "baseline:cog/discord": crate::wit::baseline::cog::discord,
        "baseline:cog/interaction": crate::wit::baseline::cog::interaction,
        "baseline:cog/kv": crate::wit::baseline::cog::kv,
        "baseline:cog/cache": crate::wit::baseline::cog::cache,
        "baseline:cog/settings": crate::wit::baseline::cog::settings,
        "baseline:cog/llm": crate::wit::baseline::cog::llm,
        "baseline:cog/log": crate::wit::baseline::cog::log,
        "baseline:cog/system": crate::wit::baseline::cog::system,
    },
});

pub use baseline::cog::types;

use crate::wit::types as now;

/// A value of one version as the same-shaped type of another (through
/// serde: the generated types of two versions are distinct Rust types with
/// the same fields). Used where the shapes agree; a disagreement is a bug
/// of the adapter and reported as such.
fn same<A: Serialize, B: DeserializeOwned>(value: &A) -> Result<B, String> {
    serde_json::to_value(value)
        .and_then(serde_json::from_value)
        .map_err(|error| format!("adapting from WIT 0.1.0: {error}"))
}

/// A 0.1.0 manifest in today's types (every 0.1.0 manifest is a valid
/// current one: the event kinds only grew).
pub fn manifest(manifest: &types::CogManifest) -> Result<now::CogManifest, String> {
    same(manifest)
}

/// Today's event as a 0.1.0 cog receives it; `None` for kinds 0.1.0 does
/// not have.
pub fn event(event: &now::Event) -> Option<types::Event> {
    let adapted = match event {
        now::Event::MessageUpdate(edited) => same(&edited.after).map(types::Event::MessageUpdate),
        now::Event::MessageDelete(deleted) => {
            Ok(types::Event::MessageDelete(types::MessageDeleted {
                id: deleted.id,
                channel_id: deleted.channel_id,
                guild_id: deleted.guild_id,
            }))
        }
        now::Event::MessageDeleteBulk(_)
        | now::Event::MemberBan(_)
        | now::Event::MemberUnban(_) => {
            return None;
        }
        other => same(other),
    };
    match adapted {
        Ok(event) => Some(event),
        Err(error) => {
            tracing::error!(%error, "an event could not be adapted to WIT 0.1.0");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::wit::fixtures::message;

    #[test]
    fn edits_and_deletions_reach_a_0_1_cog_in_their_old_shape() {
        let edit = now::Event::MessageUpdate(now::MessageEdited {
            after: message(1, "after"),
            before: Some(message(1, "before")),
        });
        let Some(types::Event::MessageUpdate(info)) = event(&edit) else {
            panic!("an edit stays an edit");
        };
        assert_eq!(info.content, "after");
        assert_eq!(info.author.username, "ann");
        let delete = now::Event::MessageDelete(now::MessageDeleted {
            id: 1,
            channel_id: 2,
            guild_id: Some(3),
            before: Some(message(1, "gone")),
        });
        assert_eq!(
            event(&delete),
            Some(types::Event::MessageDelete(types::MessageDeleted {
                id: 1,
                channel_id: 2,
                guild_id: Some(3)
            }))
        );
    }

    #[test]
    fn kinds_0_1_lacks_are_not_delivered_and_the_rest_carry_over() {
        let ban = now::Event::MemberBan(now::BanEvent {
            guild_id: 3,
            user: message(1, "").author,
        });
        assert_eq!(event(&ban), None);
        let purge = now::Event::MessageDeleteBulk(now::MessagesPurged {
            ids: vec![1, 2],
            channel_id: 2,
            guild_id: Some(3),
            before: vec![],
        });
        assert_eq!(event(&purge), None);
        let create = now::Event::MessageCreate(message(9, "hi"));
        let Some(types::Event::MessageCreate(info)) = event(&create) else {
            panic!("a message stays a message");
        };
        assert_eq!((info.id, info.content.as_str()), (9, "hi"));
    }

    #[test]
    fn a_0_1_manifest_reads_as_a_current_one() {
        let old = types::CogManifest {
            name: "legacy".into(),
            version: "1.0.0".into(),
            description: "old".into(),
            commands: vec![],
            events: vec![
                types::EventKind::MessageDelete,
                types::EventKind::GuildLeave,
            ],
            settings_schema: None,
            capabilities: vec![types::CapabilityRequest {
                name: "kv".into(),
                reason: "counts".into(),
            }],
            pages: vec![],
        };
        let current = manifest(&old).unwrap();
        assert_eq!(current.name, "legacy");
        assert_eq!(
            current.events,
            vec![now::EventKind::MessageDelete, now::EventKind::GuildLeave]
        );
        assert_eq!(current.capabilities[0].reason, "counts");
    }
}
