//! Gateway events → the WIT's `event`: which guild, channel and acting
//! user each concerns, and the record cogs receive. The bot's own messages
//! translate to nothing (a cog answering messages would otherwise answer
//! itself). Delivery to cogs is the dispatcher's ([`crate::dispatch::events`]).

use twilight_gateway::{Event as GatewayEvent, EventTypeFlags};
use twilight_model::channel::Channel as TChannel;
use twilight_model::channel::message::EmojiReactionType;
use twilight_model::gateway::GatewayReaction;

use super::incoming;
use super::memory::MessageMemory;
use crate::wit::types::{
    BanEvent, ChannelEvent, Event, EventKind, GuildEvent, Member, MemberLeft, MessageDeleted,
    MessageEdited, MessageInfo, MessagesPurged, Reaction, Role, RoleEvent, User,
};

/// The kind of an event, as manifests subscribe to it.
pub fn kind(event: &Event) -> EventKind {
    match event {
        Event::MessageCreate(_) => EventKind::MessageCreate,
        Event::MessageUpdate(_) => EventKind::MessageUpdate,
        Event::MessageDelete(_) => EventKind::MessageDelete,
        Event::MessageDeleteBulk(_) => EventKind::MessageDeleteBulk,
        Event::MemberJoin(_) => EventKind::MemberJoin,
        Event::MemberLeave(_) => EventKind::MemberLeave,
        Event::MemberUpdate(_) => EventKind::MemberUpdate,
        Event::MemberBan(_) => EventKind::MemberBan,
        Event::MemberUnban(_) => EventKind::MemberUnban,
        Event::ReactionAdd(_) => EventKind::ReactionAdd,
        Event::ReactionRemove(_) => EventKind::ReactionRemove,
        Event::RoleCreate(_) => EventKind::RoleCreate,
        Event::RoleUpdate(_) => EventKind::RoleUpdate,
        Event::RoleDelete(_) => EventKind::RoleDelete,
        Event::ChannelCreate(_) => EventKind::ChannelCreate,
        Event::ChannelUpdate(_) => EventKind::ChannelUpdate,
        Event::ChannelDelete(_) => EventKind::ChannelDelete,
        Event::GuildJoin(_) => EventKind::GuildJoin,
        Event::GuildLeave(_) => EventKind::GuildLeave,
    }
}

/// The gateway event types a subscription to `kind` needs parsed. A cog
/// that gets edits and deletions with the message as it was (`before`,
/// WIT 0.2.0 on) needs the messages posted before them parsed too, for the
/// host to remember them (`super::memory`).
pub fn flags(kind: EventKind, remembers: bool) -> EventTypeFlags {
    let remembered = if remembers {
        EventTypeFlags::MESSAGE_CREATE
    } else {
        EventTypeFlags::empty()
    };
    match kind {
        EventKind::MessageCreate => EventTypeFlags::MESSAGE_CREATE,
        EventKind::MessageUpdate => EventTypeFlags::MESSAGE_UPDATE | remembered,
        EventKind::MessageDelete => EventTypeFlags::MESSAGE_DELETE | remembered,
        EventKind::MessageDeleteBulk => EventTypeFlags::MESSAGE_DELETE_BULK | remembered,
        EventKind::MemberJoin => EventTypeFlags::MEMBER_ADD,
        EventKind::MemberLeave => EventTypeFlags::MEMBER_REMOVE,
        EventKind::MemberUpdate => EventTypeFlags::MEMBER_UPDATE,
        EventKind::MemberBan => EventTypeFlags::BAN_ADD,
        EventKind::MemberUnban => EventTypeFlags::BAN_REMOVE,
        EventKind::ReactionAdd => EventTypeFlags::REACTION_ADD,
        EventKind::ReactionRemove => EventTypeFlags::REACTION_REMOVE,
        EventKind::RoleCreate => EventTypeFlags::ROLE_CREATE,
        EventKind::RoleUpdate => EventTypeFlags::ROLE_UPDATE,
        EventKind::RoleDelete => EventTypeFlags::ROLE_DELETE,
        EventKind::ChannelCreate => EventTypeFlags::CHANNEL_CREATE,
        EventKind::ChannelUpdate => EventTypeFlags::CHANNEL_UPDATE,
        EventKind::ChannelDelete => EventTypeFlags::CHANNEL_DELETE,
        EventKind::GuildJoin => EventTypeFlags::GUILD_CREATE,
        EventKind::GuildLeave => EventTypeFlags::GUILD_DELETE,
    }
}

/// A user known only by id (0: nobody known), as the actor of an event.
pub fn actor(id: u64) -> User {
    User {
        id,
        username: String::new(),
        global_name: None,
        bot: false,
    }
}

fn emoji(reaction: &EmojiReactionType) -> String {
    match reaction {
        EmojiReactionType::Unicode { name } => name.clone(),
        EmojiReactionType::Custom { name, id, .. } => {
            format!("{}:{}", name.clone().unwrap_or_default(), id.get())
        }
    }
}

/// Whether a cog subscribed to `kind` gets the message as it was: edits,
/// deletions and purges, for cogs of WIT 0.2.0 on (0.1.0's events have no
/// `before`, so remembering for them would keep what nobody reads).
pub fn remembers(kind: EventKind, version: crate::wit::WitVersion) -> bool {
    version >= crate::wit::WitVersion::V0_2
        && matches!(
            kind,
            EventKind::MessageUpdate | EventKind::MessageDelete | EventKind::MessageDeleteBulk
        )
}

/// What the memory held about an event's messages before the event.
#[derive(Debug, Default)]
pub struct Before {
    /// The message an edit or a deletion concerns.
    pub one: Option<MessageInfo>,
    /// The messages of a purge.
    pub many: Vec<MessageInfo>,
    /// A posted or edited message as already converted for the memory,
    /// so that [`translate`] does not convert it again.
    pub now: Option<MessageInfo>,
}

/// Keep `memory` up to date with `event` and return what it held before.
/// Call it in the order events arrive (the gateway's listener does), not
/// on the tasks that deliver them.
pub fn remember(memory: &MessageMemory, event: &GatewayEvent, bot_id: u64) -> Before {
    match event {
        GatewayEvent::MessageCreate(e) if e.message.author.id.get() != bot_id => {
            let now = incoming::message(&e.message);
            memory.remember(now.clone());
            Before {
                now: Some(now),
                ..Before::default()
            }
        }
        GatewayEvent::MessageUpdate(e) if e.as_ref().0.author.id.get() != bot_id => {
            let before = memory.recall(e.as_ref().0.id.get());
            let now = incoming::message(&e.0);
            memory.remember(now.clone());
            Before {
                one: before,
                now: Some(now),
                ..Before::default()
            }
        }
        GatewayEvent::MessageDelete(e) => Before {
            one: memory.forget(e.id.get()),
            ..Before::default()
        },
        GatewayEvent::MessageDeleteBulk(e) => Before {
            many: e
                .ids
                .iter()
                .filter_map(|id| memory.forget(id.get()))
                .collect(),
            ..Before::default()
        },
        _ => Before::default(),
    }
}

/// A gateway event as a cog event: (guild, channel, actor, event), with
/// what the host remembered of its messages before it. `None` for events
/// cogs cannot subscribe to.
pub fn translate(
    event: &GatewayEvent,
    bot_id: u64,
    before: Before,
) -> Option<(Option<u64>, Option<u64>, User, Event)> {
    Some(match event {
        GatewayEvent::MessageCreate(e) => {
            let m = &e.message;
            if m.author.id.get() == bot_id {
                return None;
            }
            (
                m.guild_id.map(|g| g.get()),
                Some(m.channel_id.get()),
                incoming::user(&m.author),
                Event::MessageCreate(before.now.unwrap_or_else(|| incoming::message(m))),
            )
        }
        GatewayEvent::MessageUpdate(e) => {
            let m = &e.as_ref().0;
            if m.author.id.get() == bot_id {
                return None;
            }
            (
                m.guild_id.map(|g| g.get()),
                Some(m.channel_id.get()),
                incoming::user(&m.author),
                Event::MessageUpdate(MessageEdited {
                    after: before.now.unwrap_or_else(|| incoming::message(m)),
                    before: before.one,
                }),
            )
        }
        GatewayEvent::MessageDelete(e) => (
            e.guild_id.map(|g| g.get()),
            Some(e.channel_id.get()),
            actor(0),
            Event::MessageDelete(MessageDeleted {
                id: e.id.get(),
                channel_id: e.channel_id.get(),
                guild_id: e.guild_id.map(|g| g.get()),
                before: before.one,
            }),
        ),
        GatewayEvent::MessageDeleteBulk(e) => (
            e.guild_id.map(|g| g.get()),
            Some(e.channel_id.get()),
            actor(0),
            Event::MessageDeleteBulk(MessagesPurged {
                ids: e.ids.iter().map(|id| id.get()).collect(),
                channel_id: e.channel_id.get(),
                guild_id: e.guild_id.map(|g| g.get()),
                before: before.many,
            }),
        ),
        // The moderator is not in the event (the audit log names them).
        GatewayEvent::BanAdd(e) => (
            Some(e.guild_id.get()),
            None,
            actor(0),
            Event::MemberBan(BanEvent {
                guild_id: e.guild_id.get(),
                user: incoming::user(&e.user),
            }),
        ),
        GatewayEvent::BanRemove(e) => (
            Some(e.guild_id.get()),
            None,
            actor(0),
            Event::MemberUnban(BanEvent {
                guild_id: e.guild_id.get(),
                user: incoming::user(&e.user),
            }),
        ),
        GatewayEvent::MemberAdd(e) => (
            Some(e.guild_id.get()),
            None,
            incoming::user(&e.member.user),
            Event::MemberJoin(incoming::member(&e.member)),
        ),
        GatewayEvent::MemberRemove(e) => (
            Some(e.guild_id.get()),
            None,
            incoming::user(&e.user),
            Event::MemberLeave(MemberLeft {
                guild_id: e.guild_id.get(),
                user: incoming::user(&e.user),
            }),
        ),
        GatewayEvent::MemberUpdate(e) => (
            Some(e.guild_id.get()),
            None,
            incoming::user(&e.user),
            Event::MemberUpdate(Member {
                user: incoming::user(&e.user),
                nick: e.nick.clone(),
                roles: e.roles.iter().map(|r| r.get()).collect(),
                joined_at: e.joined_at.map(incoming::timestamp),
                permissions: None,
            }),
        ),
        GatewayEvent::ReactionAdd(e) => reaction(&e.as_ref().0, true),
        GatewayEvent::ReactionRemove(e) => reaction(&e.as_ref().0, false),
        GatewayEvent::RoleCreate(e) => (
            Some(e.guild_id.get()),
            None,
            actor(0),
            Event::RoleCreate(RoleEvent {
                guild_id: e.guild_id.get(),
                role: incoming::role(&e.role),
            }),
        ),
        GatewayEvent::RoleUpdate(e) => (
            Some(e.guild_id.get()),
            None,
            actor(0),
            Event::RoleUpdate(RoleEvent {
                guild_id: e.guild_id.get(),
                role: incoming::role(&e.role),
            }),
        ),
        GatewayEvent::RoleDelete(e) => (
            Some(e.guild_id.get()),
            None,
            actor(0),
            Event::RoleDelete(RoleEvent {
                guild_id: e.guild_id.get(),
                role: Role {
                    id: e.role_id.get(),
                    name: String::new(),
                    color: 0,
                    position: 0,
                    permissions: 0,
                    managed: false,
                    mentionable: false,
                },
            }),
        ),
        GatewayEvent::ChannelCreate(e) => channel(&e.as_ref().0, Event::ChannelCreate)?,
        GatewayEvent::ChannelUpdate(e) => channel(&e.as_ref().0, Event::ChannelUpdate)?,
        GatewayEvent::ChannelDelete(e) => channel(&e.as_ref().0, Event::ChannelDelete)?,
        _ => return None,
    })
}

fn reaction(r: &GatewayReaction, added: bool) -> (Option<u64>, Option<u64>, User, Event) {
    let user_id = r.user_id.get();
    let actor = r
        .member
        .as_ref()
        .map(|m| incoming::user(&m.user))
        .unwrap_or_else(|| actor(user_id));
    let record = Reaction {
        message_id: r.message_id.get(),
        channel_id: r.channel_id.get(),
        guild_id: r.guild_id.map(|g| g.get()),
        user_id,
        emoji: emoji(&r.emoji),
    };
    let event = if added {
        Event::ReactionAdd(record)
    } else {
        Event::ReactionRemove(record)
    };
    (
        r.guild_id.map(|g| g.get()),
        Some(r.channel_id.get()),
        actor,
        event,
    )
}

/// A guild channel's event (`None` for a channel outside guilds).
fn channel(
    c: &TChannel,
    wrap: fn(ChannelEvent) -> Event,
) -> Option<(Option<u64>, Option<u64>, User, Event)> {
    let guild = c.guild_id?.get();
    Some((
        Some(guild),
        Some(c.id.get()),
        actor(0),
        wrap(ChannelEvent {
            guild_id: guild,
            channel: incoming::channel(c),
        }),
    ))
}

/// A guild-join or guild-leave event.
pub fn guild_event(guild: u64, name: &str, owner: Option<u64>, joined: bool) -> Event {
    let record = GuildEvent {
        guild_id: guild,
        name: name.to_string(),
        owner_id: owner,
    };
    if joined {
        Event::GuildJoin(record)
    } else {
        Event::GuildLeave(record)
    }
}
