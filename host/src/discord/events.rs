//! Gateway events → the WIT's `event`: which guild, channel and acting
//! user each concerns, and the record cogs receive. The bot's own messages
//! translate to nothing (a cog answering messages would otherwise answer
//! itself). Delivery to cogs is the dispatcher's ([`crate::dispatch::events`]).

use serenity::all::{Event as GatewayEvent, ReactionType};

use super::incoming;
use crate::wit::types::{
    ChannelEvent, Event, EventKind, GuildEvent, Member, MemberLeft, MessageDeleted, MessageInfo,
    Reaction, Role, RoleEvent, User,
};

/// The kind of an event, as manifests subscribe to it.
pub fn kind(event: &Event) -> EventKind {
    match event {
        Event::MessageCreate(_) => EventKind::MessageCreate,
        Event::MessageUpdate(_) => EventKind::MessageUpdate,
        Event::MessageDelete(_) => EventKind::MessageDelete,
        Event::MemberJoin(_) => EventKind::MemberJoin,
        Event::MemberLeave(_) => EventKind::MemberLeave,
        Event::MemberUpdate(_) => EventKind::MemberUpdate,
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

/// A user known only by id (0: nobody known), as the actor of an event.
pub fn actor(id: u64) -> User {
    User {
        id,
        username: String::new(),
        global_name: None,
        bot: false,
    }
}

fn emoji(reaction: &ReactionType) -> String {
    match reaction {
        ReactionType::Unicode(text) => text.clone(),
        ReactionType::Custom { name, id, .. } => {
            format!("{}:{}", name.clone().unwrap_or_default(), id.get())
        }
        _ => String::new(),
    }
}

/// A gateway event as a cog event: (guild, channel, actor, event). `None`
/// for events cogs cannot subscribe to.
pub fn translate(
    event: &GatewayEvent,
    bot_id: u64,
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
                Event::MessageCreate(incoming::message(m)),
            )
        }
        GatewayEvent::MessageUpdate(e) => {
            let author = e
                .author
                .as_ref()
                .map(incoming::user)
                .unwrap_or_else(|| actor(0));
            if author.id == bot_id {
                return None;
            }
            let info = MessageInfo {
                id: e.id.get(),
                channel_id: e.channel_id.get(),
                guild_id: e.guild_id.map(|g| g.get()),
                author: author.clone(),
                content: e.content.clone().unwrap_or_default(),
                timestamp: e.timestamp.map(|t| t.to_string()).unwrap_or_default(),
                edited_timestamp: e.edited_timestamp.map(|t| t.to_string()),
                attachments: Vec::new(),
                embed_count: e.embeds.as_ref().map_or(0, |v| v.len() as u32),
            };
            (
                e.guild_id.map(|g| g.get()),
                Some(e.channel_id.get()),
                author,
                Event::MessageUpdate(info),
            )
        }
        GatewayEvent::MessageDelete(e) => (
            e.guild_id.map(|g| g.get()),
            Some(e.channel_id.get()),
            actor(0),
            Event::MessageDelete(MessageDeleted {
                id: e.message_id.get(),
                channel_id: e.channel_id.get(),
                guild_id: e.guild_id.map(|g| g.get()),
            }),
        ),
        GatewayEvent::GuildMemberAdd(e) => (
            Some(e.member.guild_id.get()),
            None,
            incoming::user(&e.member.user),
            Event::MemberJoin(incoming::member(&e.member)),
        ),
        GatewayEvent::GuildMemberRemove(e) => (
            Some(e.guild_id.get()),
            None,
            incoming::user(&e.user),
            Event::MemberLeave(MemberLeft {
                guild_id: e.guild_id.get(),
                user: incoming::user(&e.user),
            }),
        ),
        GatewayEvent::GuildMemberUpdate(e) => (
            Some(e.guild_id.get()),
            None,
            incoming::user(&e.user),
            Event::MemberUpdate(Member {
                user: incoming::user(&e.user),
                nick: e.nick.clone(),
                roles: e.roles.iter().map(|r| r.get()).collect(),
                joined_at: Some(e.joined_at.to_string()),
                permissions: None,
            }),
        ),
        GatewayEvent::ReactionAdd(e) => reaction(&e.reaction, true)?,
        GatewayEvent::ReactionRemove(e) => reaction(&e.reaction, false)?,
        GatewayEvent::GuildRoleCreate(e) => (
            Some(e.role.guild_id.get()),
            None,
            actor(0),
            Event::RoleCreate(RoleEvent {
                guild_id: e.role.guild_id.get(),
                role: incoming::role(&e.role),
            }),
        ),
        GatewayEvent::GuildRoleUpdate(e) => (
            Some(e.role.guild_id.get()),
            None,
            actor(0),
            Event::RoleUpdate(RoleEvent {
                guild_id: e.role.guild_id.get(),
                role: incoming::role(&e.role),
            }),
        ),
        GatewayEvent::GuildRoleDelete(e) => (
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
        GatewayEvent::ChannelCreate(e) => channel(&e.channel, Event::ChannelCreate)?,
        GatewayEvent::ChannelUpdate(e) => channel(&e.channel, Event::ChannelUpdate)?,
        GatewayEvent::ChannelDelete(e) => channel(&e.channel, Event::ChannelDelete)?,
        _ => return None,
    })
}

fn reaction(
    r: &serenity::all::Reaction,
    added: bool,
) -> Option<(Option<u64>, Option<u64>, User, Event)> {
    let user_id = r.user_id.map(|u| u.get()).unwrap_or(0);
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
    Some((
        r.guild_id.map(|g| g.get()),
        Some(r.channel_id.get()),
        actor,
        event,
    ))
}

fn channel(
    c: &serenity::all::GuildChannel,
    wrap: fn(ChannelEvent) -> Event,
) -> Option<(Option<u64>, Option<u64>, User, Event)> {
    Some((
        Some(c.guild_id.get()),
        Some(c.id.get()),
        actor(0),
        wrap(ChannelEvent {
            guild_id: c.guild_id.get(),
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
