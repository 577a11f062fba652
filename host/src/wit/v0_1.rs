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
//! Every import interface has the same shape as 0.2.0's, so the generated
//! code for them is replaced by the modules 0.2.0 uses (`with`: today's,
//! and 0.2.0's own `discord`) and linked a second time under the old names
//! ([`crate::capabilities::add_to_linker`]). Events and invocations reach a
//! 0.1.0 cog through 0.2.0's shapes ([`super::v0_2`]), which 0.1.0's
//! invocations, answers and pages share.

wasmtime::component::bindgen!({
    path: "../wit/released/0.1.0",
    world: "baseline:cog/cog",
    imports: { default: async | trappable },
    exports: { default: async },
    additional_derives: [serde::Serialize, serde::Deserialize, PartialEq],
    with: {
        "baseline:cog/discord": crate::wit::v0_2::baseline::cog::discord,
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

use super::v0_2::types as now;
use crate::wit::types as current;

fn same<A: serde::Serialize, B: serde::de::DeserializeOwned>(value: &A) -> Result<B, String> {
    super::adapt(value, "0.1.0")
}

/// A 0.1.0 manifest in today's types (every 0.1.0 manifest is a valid
/// current one: the event kinds only grew).
pub fn manifest(manifest: &types::CogManifest) -> Result<current::CogManifest, String> {
    same(manifest)
}

/// Today's event as a 0.1.0 cog receives it; `None` for kinds 0.1.0 does
/// not have.
pub fn event(event: &current::Event) -> Option<types::Event> {
    let event = super::v0_2::event(event)?;
    let adapted = match &event {
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
        let edit = current::Event::MessageUpdate(current::MessageEdited {
            after: message(1, "after"),
            before: Some(message(1, "before")),
        });
        let Some(types::Event::MessageUpdate(info)) = event(&edit) else {
            panic!("an edit stays an edit");
        };
        assert_eq!(info.content, "after");
        assert_eq!(info.author.username, "ann");
        let delete = current::Event::MessageDelete(current::MessageDeleted {
            id: 1,
            channel_id: 2,
            guild_id: Some(3),
            before: Some(message(1, "gone")),
            by: current::Attribution::NotRecorded,
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
        let ban = current::Event::MemberBan(current::BanEvent {
            guild_id: 3,
            user: message(1, "").author,
            by: current::Attribution::NoAccess,
        });
        assert_eq!(event(&ban), None);
        let purge = current::Event::MessageDeleteBulk(current::MessagesPurged {
            ids: vec![1, 2],
            channel_id: 2,
            guild_id: Some(3),
            before: vec![],
            by: current::Attribution::NotRecorded,
        });
        assert_eq!(event(&purge), None);
        let create = current::Event::MessageCreate(message(9, "hi"));
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
            vec![
                current::EventKind::MessageDelete,
                current::EventKind::GuildLeave
            ]
        );
        assert_eq!(current.capabilities[0].reason, "counts");
    }
}
