//! `baseline:cog@0.2.0`, kept loadable: its bindings and the adapter from
//! the current version to it.
//!
//! What changed since (wit/released/README.md):
//! - `user`, `member`, `role` and `channel` gained fields (avatars,
//!   timeouts, overwrites, threads): every value that carries one — the
//!   invocations a cog receives, `discord.get-member`, `get-message`,
//!   `list-roles`, `list-channels` — reaches a 0.2.0 cog in its old shape,
//!   the new fields dropped. The `discord` import is therefore generated
//!   from 0.2.0 and served by today's implementation through
//!   [`convert`] (`crate::capabilities::legacy`); the other
//!   imports have today's shape and are today's modules (`with`).
//! - `event`: deletions, bans, role and channel changes carry who did it
//!   and the state before; member events are records of their own; kicks,
//!   timeouts that end, threads, voice, emojis, stickers, invites,
//!   webhooks, the guild's settings, auto-moderation and pins are new. A
//!   0.2.0 cog gets the kinds it has in their old shape — a kick as the
//!   `member-leave` it always was — and none of the others ([`event`]).
//! - the exports take and return the old types ([`crate::runtime`]'s
//!   `exports` calls them through this module's types).
//!
//! Values cross between the two versions through serde ([`super::adapt`]):
//! the generated types of two versions are distinct Rust types, and a field
//! today's type has beyond the old one is dropped on the way.

use super::adapt;
use crate::wit::types as now;

wasmtime::component::bindgen!({
    path: "../wit/released/0.2.0",
    world: "baseline:cog/cog",
    imports: { default: async | trappable },
    exports: { default: async },
    additional_derives: [serde::Serialize, serde::Deserialize, PartialEq],
    with: {
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

const VERSION: &str = "0.2.0";

/// A 0.2.0 manifest in today's types (the event kinds only grew).
pub fn manifest(manifest: &types::CogManifest) -> Result<now::CogManifest, String> {
    adapt(manifest, VERSION)
}

/// Today's event as a 0.2.0 cog receives it; `None` for kinds 0.2.0 does
/// not have.
pub fn event(event: &now::Event) -> Option<types::Event> {
    use now::Event as E;
    use types::Event as Old;
    let adapted: Result<Old, String> = match event {
        E::MessageCreate(message) => adapt(message, VERSION).map(Old::MessageCreate),
        E::MessageUpdate(edited) => adapt(edited, VERSION).map(Old::MessageUpdate),
        E::MessageDelete(deleted) => adapt(deleted, VERSION).map(Old::MessageDelete),
        E::MessageDeleteBulk(purged) => adapt(purged, VERSION).map(Old::MessageDeleteBulk),
        E::MemberJoin(joined) => adapt(&joined.member, VERSION).map(Old::MemberJoin),
        E::MemberLeave(left) => adapt(left, VERSION).map(Old::MemberLeave),
        // 0.2.0 has no kicks: a kick is a member leaving, as it always was.
        E::MemberKick(kicked) => adapt(
            &now::MemberLeft {
                guild_id: kicked.guild_id,
                user: kicked.user.clone(),
                before: None,
            },
            VERSION,
        )
        .map(Old::MemberLeave),
        E::MemberUpdate(updated) => adapt(&updated.after, VERSION).map(Old::MemberUpdate),
        E::MemberBan(ban) => adapt(ban, VERSION).map(Old::MemberBan),
        E::MemberUnban(ban) => adapt(ban, VERSION).map(Old::MemberUnban),
        E::ReactionAdd(reaction) => adapt(reaction, VERSION).map(Old::ReactionAdd),
        E::ReactionRemove(reaction) => adapt(reaction, VERSION).map(Old::ReactionRemove),
        E::RoleCreate(role) => adapt(role, VERSION).map(Old::RoleCreate),
        E::RoleUpdate(role) => adapt(role, VERSION).map(Old::RoleUpdate),
        E::RoleDelete(role) => adapt(role, VERSION).map(Old::RoleDelete),
        E::ChannelCreate(channel) => adapt(channel, VERSION).map(Old::ChannelCreate),
        E::ChannelUpdate(channel) => adapt(channel, VERSION).map(Old::ChannelUpdate),
        E::ChannelDelete(channel) => adapt(channel, VERSION).map(Old::ChannelDelete),
        E::GuildJoin(guild) => adapt(guild, VERSION).map(Old::GuildJoin),
        E::GuildLeave(guild) => adapt(guild, VERSION).map(Old::GuildLeave),
        E::TimeoutExpired(_)
        | E::ThreadCreate(_)
        | E::ThreadUpdate(_)
        | E::ThreadDelete(_)
        | E::ThreadMembers(_)
        | E::GuildUpdate(_)
        | E::EmojisUpdate(_)
        | E::StickersUpdate(_)
        | E::VoiceUpdate(_)
        | E::InviteCreate(_)
        | E::InviteDelete(_)
        | E::WebhooksUpdate(_)
        | E::AutomodAction(_)
        | E::PinsUpdate(_) => return None,
    };
    match adapted {
        Ok(event) => Some(event),
        Err(error) => {
            tracing::error!(%error, "an event could not be adapted to WIT 0.2.0");
            None
        }
    }
}

/// The kind a cog of 0.1.0 or 0.2.0 subscribes to for an event of `kind`
/// (a kick is a leave there); `None` when those versions lack it.
pub fn subscribed_as(kind: now::EventKind) -> Option<now::EventKind> {
    use now::EventKind as K;
    match kind {
        K::MemberKick => Some(K::MemberLeave),
        K::TimeoutExpired
        | K::ThreadCreate
        | K::ThreadUpdate
        | K::ThreadDelete
        | K::ThreadMembers
        | K::GuildUpdate
        | K::EmojisUpdate
        | K::StickersUpdate
        | K::VoiceUpdate
        | K::InviteCreate
        | K::InviteDelete
        | K::WebhooksUpdate
        | K::AutomodAction
        | K::PinsUpdate => None,
        other => Some(other),
    }
}

/// A value of today's types in 0.2.0's (an invocation, a page context)
/// or back (an answer): the shapes agree but for fields 0.2.0 lacks.
pub fn convert<A: serde::Serialize, B: serde::de::DeserializeOwned>(
    value: &A,
) -> Result<B, String> {
    adapt(value, VERSION)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::wit::fixtures::{member, message};

    #[test]
    fn events_reach_a_0_2_cog_in_their_old_shape() {
        let delete = now::Event::MessageDelete(now::MessageDeleted {
            id: 1,
            channel_id: 2,
            guild_id: Some(3),
            before: Some(message(1, "gone")),
            by: now::Attribution::NotRecorded,
        });
        let Some(types::Event::MessageDelete(old)) = event(&delete) else {
            panic!("a deletion stays a deletion");
        };
        assert_eq!(old.before.unwrap().content, "gone");
        let update = now::Event::MemberUpdate(now::MemberUpdated {
            guild_id: 3,
            after: member(4, Some("after")),
            before: Some(member(4, Some("before"))),
            by: now::Attribution::NoAccess,
        });
        let Some(types::Event::MemberUpdate(old)) = event(&update) else {
            panic!("an update stays an update");
        };
        assert_eq!(old.nick.as_deref(), Some("after"));
        assert_eq!(old.user.id, 4);
    }

    #[test]
    fn a_kick_is_a_leave_and_new_kinds_are_not_delivered() {
        let kick = now::Event::MemberKick(now::MemberKicked {
            guild_id: 3,
            user: member(4, None).user,
            before: Some(member(4, None)),
            by: now::Attribution::NotRecorded,
        });
        assert_eq!(
            event(&kick),
            Some(types::Event::MemberLeave(types::MemberLeft {
                guild_id: 3,
                user: types::User {
                    id: 4,
                    username: "ann".into(),
                    global_name: None,
                    bot: false
                }
            }))
        );
        assert_eq!(
            subscribed_as(now::EventKind::MemberKick),
            Some(now::EventKind::MemberLeave)
        );
        let pins = now::Event::PinsUpdate(now::PinsChanged {
            guild_id: 3,
            channel_id: 2,
            last_pin_timestamp: None,
            message_id: None,
            pinned: None,
            by: now::Attribution::NotRecorded,
        });
        assert_eq!(event(&pins), None);
        assert_eq!(subscribed_as(now::EventKind::PinsUpdate), None);
    }

    #[test]
    fn invocations_lose_the_new_fields_and_answers_carry_over() {
        let mut context = now::InvocationContext {
            guild_id: Some(3),
            channel_id: Some(2),
            user: member(4, None).user,
            member: Some(member(4, Some("nick"))),
            locale: None,
            interaction_id: 9,
        };
        if let Some(member) = &mut context.member {
            member.communication_disabled_until = Some("2026-12-08T00:00:00Z".into());
        }
        let old: types::InvocationContext = convert(&context).unwrap();
        assert_eq!(old.member.unwrap().nick.as_deref(), Some("nick"));
        let reply = types::CommandResponse::Defer(false);
        let back: now::CommandResponse = convert(&reply).unwrap();
        assert_eq!(back, now::CommandResponse::Defer(false));
    }
}
