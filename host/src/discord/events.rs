//! Gateway events → the WIT's `event`: which guild, channel and acting
//! user each concerns, the record cogs receive, what the host remembered
//! before it ([`remember`], in the order events arrive) and what audit-log
//! entry would say who did it ([`Translated::ask`], settled by
//! [`super::attribution`]). The bot's own messages translate to nothing (a
//! cog answering messages would otherwise answer itself). Delivery to cogs
//! is the dispatcher's ([`crate::dispatch::events`]).

use twilight_gateway::{Event as GatewayEvent, EventTypeFlags};
use twilight_model::channel::Channel as TChannel;
use twilight_model::channel::message::EmojiReactionType;
use twilight_model::gateway::GatewayReaction;

use super::attribution::{Ask, Entry, action};
use super::incoming;
use super::memory::{GuildMemory, MessageMemory};
use crate::wit::WitVersion;
use crate::wit::types::{
    Attribution, AutomodAction, AutomodResponse, BanEvent, Channel, ChannelEvent, Emoji,
    EmojisChanged, Event, EventKind, GuildEvent, GuildInfo, GuildUpdated, Invite, InviteDeleted,
    Member, MemberJoined, MemberKicked, MemberLeft, MemberUpdated, MessageDeleted, MessageEdited,
    MessageInfo, MessagesPurged, Moderation, PinsChanged, Reaction, Role, RoleEvent, Sticker,
    StickersChanged, ThreadMembers, User, VoiceChanged, VoiceState, WebhooksChanged,
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
        Event::MemberKick(_) => EventKind::MemberKick,
        Event::MemberUpdate(_) => EventKind::MemberUpdate,
        Event::TimeoutExpired(_) => EventKind::TimeoutExpired,
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
        Event::ThreadCreate(_) => EventKind::ThreadCreate,
        Event::ThreadUpdate(_) => EventKind::ThreadUpdate,
        Event::ThreadDelete(_) => EventKind::ThreadDelete,
        Event::ThreadMembers(_) => EventKind::ThreadMembers,
        Event::GuildJoin(_) => EventKind::GuildJoin,
        Event::GuildLeave(_) => EventKind::GuildLeave,
        Event::GuildUpdate(_) => EventKind::GuildUpdate,
        Event::EmojisUpdate(_) => EventKind::EmojisUpdate,
        Event::StickersUpdate(_) => EventKind::StickersUpdate,
        Event::VoiceUpdate(_) => EventKind::VoiceUpdate,
        Event::InviteCreate(_) => EventKind::InviteCreate,
        Event::InviteDelete(_) => EventKind::InviteDelete,
        Event::WebhooksUpdate(_) => EventKind::WebhooksUpdate,
        Event::AutomodAction(_) => EventKind::AutomodAction,
        Event::PinsUpdate(_) => EventKind::PinsUpdate,
    }
}

/// The gateway events that keep the guild memory, parsed while a cog
/// gets before-states or attribution ([`remembers_guilds`]).
pub const GUILD_MEMORY_EVENTS: EventTypeFlags = EventTypeFlags::MEMBER_ADD
    .union(EventTypeFlags::MEMBER_UPDATE)
    .union(EventTypeFlags::MEMBER_REMOVE)
    .union(EventTypeFlags::MEMBER_CHUNK)
    .union(EventTypeFlags::ROLE_CREATE)
    .union(EventTypeFlags::ROLE_UPDATE)
    .union(EventTypeFlags::ROLE_DELETE)
    .union(EventTypeFlags::CHANNEL_CREATE)
    .union(EventTypeFlags::CHANNEL_UPDATE)
    .union(EventTypeFlags::CHANNEL_DELETE)
    .union(EventTypeFlags::THREAD_CREATE)
    .union(EventTypeFlags::THREAD_UPDATE)
    .union(EventTypeFlags::THREAD_DELETE)
    .union(EventTypeFlags::THREAD_LIST_SYNC)
    .union(EventTypeFlags::GUILD_UPDATE)
    .union(EventTypeFlags::GUILD_EMOJIS_UPDATE)
    .union(EventTypeFlags::GUILD_STICKERS_UPDATE)
    .union(EventTypeFlags::VOICE_STATE_UPDATE)
    .union(EventTypeFlags::GUILD_AUDIT_LOG_ENTRY_CREATE);

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
        EventKind::MemberLeave | EventKind::MemberKick => EventTypeFlags::MEMBER_REMOVE,
        EventKind::MemberUpdate | EventKind::TimeoutExpired => EventTypeFlags::MEMBER_UPDATE,
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
        EventKind::ThreadCreate => EventTypeFlags::THREAD_CREATE,
        EventKind::ThreadUpdate => EventTypeFlags::THREAD_UPDATE,
        EventKind::ThreadDelete => EventTypeFlags::THREAD_DELETE,
        EventKind::ThreadMembers => EventTypeFlags::THREAD_MEMBERS_UPDATE,
        EventKind::GuildJoin => EventTypeFlags::GUILD_CREATE,
        EventKind::GuildLeave => EventTypeFlags::GUILD_DELETE,
        EventKind::GuildUpdate => EventTypeFlags::GUILD_UPDATE,
        EventKind::EmojisUpdate => EventTypeFlags::GUILD_EMOJIS_UPDATE,
        EventKind::StickersUpdate => EventTypeFlags::GUILD_STICKERS_UPDATE,
        EventKind::VoiceUpdate => EventTypeFlags::VOICE_STATE_UPDATE,
        EventKind::InviteCreate => EventTypeFlags::INVITE_CREATE,
        EventKind::InviteDelete => EventTypeFlags::INVITE_DELETE,
        EventKind::WebhooksUpdate => EventTypeFlags::WEBHOOKS_UPDATE,
        EventKind::AutomodAction => EventTypeFlags::AUTO_MODERATION_ACTION_EXECUTION,
        EventKind::PinsUpdate => EventTypeFlags::CHANNEL_PINS_UPDATE,
    }
}

/// A user known only by id (0: nobody known), as the actor of an event.
pub fn actor(id: u64) -> User {
    User {
        id,
        username: String::new(),
        global_name: None,
        bot: false,
        avatar: None,
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
pub fn remembers(kind: EventKind, version: WitVersion) -> bool {
    version >= WitVersion::V0_2
        && matches!(
            kind,
            EventKind::MessageUpdate | EventKind::MessageDelete | EventKind::MessageDeleteBulk
        )
}

/// Whether a cog subscribed to `kind` gets a before-state or an
/// attribution that the guild memory and the audit log serve (WIT 0.3.0
/// on): every update, removal and moderation event.
pub fn remembers_guilds(kind: EventKind, version: WitVersion) -> bool {
    version >= WitVersion::V0_3
        && !matches!(
            kind,
            EventKind::MessageCreate
                | EventKind::MessageUpdate
                | EventKind::ReactionAdd
                | EventKind::ReactionRemove
                | EventKind::GuildJoin
                | EventKind::GuildLeave
                | EventKind::InviteCreate
                | EventKind::InviteDelete
                | EventKind::AutomodAction
                | EventKind::ThreadMembers
        )
}

/// What the host remembered about an event's subject before the event.
#[derive(Debug, Default)]
pub enum Prior {
    /// Nothing (not remembered, or nothing to remember).
    #[default]
    Nothing,
    /// The member as they were.
    Member(Box<Member>),
    /// The role as it was.
    Role(Box<Role>),
    /// The channel or thread as it was.
    Channel(Box<Channel>),
    /// The guild's settings as they were.
    Guild(Box<GuildInfo>),
    /// The guild's emojis as they were.
    Emojis(Vec<Emoji>),
    /// The guild's stickers as they were.
    Stickers(Vec<Sticker>),
    /// Where the member was in voice (`known`: the guild was remembered,
    /// so `None` means "not in voice").
    Voice {
        /// The state before.
        before: Option<VoiceState>,
        /// Whether the guild was remembered at all.
        known: bool,
    },
}

/// What the memories held about an event before it.
#[derive(Debug, Default)]
pub struct Before {
    /// The message an edit or a deletion concerns.
    pub one: Option<MessageInfo>,
    /// The messages of a purge.
    pub many: Vec<MessageInfo>,
    /// A posted or edited message as already converted for the memory,
    /// so that [`translate`] does not convert it again.
    pub now: Option<MessageInfo>,
    /// The subject of a member, role, channel, guild, emoji, sticker or
    /// voice event.
    pub prior: Prior,
    /// Whether the bot may read the guild's audit log, as remembered
    /// (`None`: not known).
    pub audit_log: Option<bool>,
    /// Messages the memory did not hold, to be read from the store (when
    /// one is behind it) before the event is delivered.
    pub stored: Option<Stored>,
}

/// What to read from the remembered-messages store for an event whose
/// messages the memory did not hold (then what to write back).
#[derive(Debug)]
pub enum Stored {
    /// An edit: its `before` is the stored version; then store `now`.
    Edit(MessageInfo),
    /// A deletion: its `before` is the stored message; then forget it.
    Delete(u64),
    /// A purge: these ids' stored messages join `many`; then forget them.
    Purge(Vec<u64>),
}

/// Keep the memories up to date with `event` and return what they held
/// before. `messages` and `guilds` are the memories in use (absent while
/// no cog needs them). Call it in the order events arrive (the gateway's
/// listener does), not on the tasks that deliver them.
pub fn remember(
    messages: Option<&MessageMemory>,
    guilds: Option<&GuildMemory>,
    event: &GatewayEvent,
    bot_id: u64,
) -> Before {
    let mut before = messages
        .map(|memory| remember_messages(memory, event, bot_id))
        .unwrap_or_default();
    if let Some(memory) = guilds {
        remember_guild(memory, event, &mut before);
        if let Some(guild) = event.guild_id() {
            before.audit_log = memory.can_read_audit_log(guild.get(), bot_id);
        }
    }
    before
}

fn remember_messages(memory: &MessageMemory, event: &GatewayEvent, bot_id: u64) -> Before {
    let persists = memory.persists();
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
            let stored = match (&before, persists) {
                (None, true) => {
                    // The store still has the old version: read it first.
                    memory.remember_local(now.clone());
                    Some(Stored::Edit(now.clone()))
                }
                _ => {
                    memory.remember(now.clone());
                    None
                }
            };
            Before {
                one: before,
                now: Some(now),
                stored,
                ..Before::default()
            }
        }
        GatewayEvent::MessageDelete(e) => {
            let one = memory.forget(e.id.get());
            let stored = (one.is_none() && persists).then(|| Stored::Delete(e.id.get()));
            Before {
                one,
                stored,
                ..Before::default()
            }
        }
        GatewayEvent::MessageDeleteBulk(e) => {
            let mut many = Vec::new();
            let mut missing = Vec::new();
            for id in &e.ids {
                match memory.forget(id.get()) {
                    Some(message) => many.push(message),
                    None => missing.push(id.get()),
                }
            }
            let stored = (!missing.is_empty() && persists).then_some(Stored::Purge(missing));
            Before {
                many,
                stored,
                ..Before::default()
            }
        }
        _ => Before::default(),
    }
}

fn remember_guild(memory: &GuildMemory, event: &GatewayEvent, before: &mut Before) {
    use twilight_model::gateway::payload::incoming::GuildCreate;
    before.prior = match event {
        GatewayEvent::GuildCreate(create) => {
            if let GuildCreate::Available(guild) = create.as_ref() {
                memory.seed(guild);
            }
            Prior::Nothing
        }
        GatewayEvent::GuildDelete(delete) if !delete.unavailable.unwrap_or(false) => {
            memory.forget_guild(delete.id.get());
            Prior::Nothing
        }
        GatewayEvent::GuildUpdate(update) => memory
            .put_info(update.id.get(), incoming::updated_guild_info(&update.0))
            .map_or(Prior::Nothing, |info| Prior::Guild(Box::new(info))),
        GatewayEvent::MemberAdd(add) => {
            memory.put_member(add.guild_id.get(), incoming::member(&add.member));
            Prior::Nothing
        }
        GatewayEvent::MemberChunk(chunk) => {
            for member in &chunk.members {
                memory.put_member(chunk.guild_id.get(), incoming::member(member));
            }
            Prior::Nothing
        }
        GatewayEvent::MemberUpdate(update) => memory
            .put_member(update.guild_id.get(), incoming::updated_member(update))
            .map_or(Prior::Nothing, |m| Prior::Member(Box::new(m))),
        GatewayEvent::MemberRemove(remove) => memory
            .remove_member(remove.guild_id.get(), remove.user.id.get())
            .map_or(Prior::Nothing, |m| Prior::Member(Box::new(m))),
        GatewayEvent::RoleCreate(e) => {
            memory.put_role(e.guild_id.get(), incoming::role(&e.role));
            Prior::Nothing
        }
        GatewayEvent::RoleUpdate(e) => memory
            .put_role(e.guild_id.get(), incoming::role(&e.role))
            .map_or(Prior::Nothing, |r| Prior::Role(Box::new(r))),
        GatewayEvent::RoleDelete(e) => memory
            .remove_role(e.guild_id.get(), e.role_id.get())
            .map_or(Prior::Nothing, |r| Prior::Role(Box::new(r))),
        GatewayEvent::ChannelCreate(e) => put_channel(memory, &e.0),
        GatewayEvent::ChannelUpdate(e) => put_channel(memory, &e.0),
        GatewayEvent::ThreadCreate(e) => put_channel(memory, &e.0),
        GatewayEvent::ThreadUpdate(e) => put_channel(memory, &e.0),
        GatewayEvent::ChannelDelete(e) => match e.0.guild_id {
            Some(guild) => memory
                .remove_channel(guild.get(), e.0.id.get())
                .map_or(Prior::Nothing, |c| Prior::Channel(Box::new(c))),
            None => Prior::Nothing,
        },
        GatewayEvent::ThreadDelete(e) => memory
            .remove_channel(e.guild_id.get(), e.id.get())
            .map_or(Prior::Nothing, |c| Prior::Channel(Box::new(c))),
        GatewayEvent::ThreadListSync(sync) => {
            for thread in &sync.threads {
                memory.put_channel(sync.guild_id.get(), incoming::channel(thread));
            }
            Prior::Nothing
        }
        GatewayEvent::GuildEmojisUpdate(e) => memory
            .put_emojis(
                e.guild_id.get(),
                e.emojis.iter().map(incoming::emoji).collect(),
            )
            .map_or(Prior::Nothing, Prior::Emojis),
        GatewayEvent::GuildStickersUpdate(e) => memory
            .put_stickers(
                e.guild_id.get(),
                e.stickers.iter().map(incoming::sticker).collect(),
            )
            .map_or(Prior::Nothing, Prior::Stickers),
        GatewayEvent::VoiceStateUpdate(e) => match e.0.guild_id {
            Some(guild) => {
                let (before, known) =
                    memory.put_voice(guild.get(), e.0.user_id.get(), incoming::voice_state(&e.0));
                Prior::Voice { before, known }
            }
            None => Prior::Nothing,
        },
        _ => std::mem::take(&mut before.prior),
    };
}

fn put_channel(memory: &GuildMemory, channel: &TChannel) -> Prior {
    match channel.guild_id {
        Some(guild) => memory
            .put_channel(guild.get(), incoming::channel(channel))
            .map_or(Prior::Nothing, |c| Prior::Channel(Box::new(c))),
        None => Prior::Nothing,
    }
}

/// A gateway event as cogs receive it, before attribution.
#[derive(Debug)]
pub struct Translated {
    /// The event's guild, absent in DMs.
    pub guild: Option<u64>,
    /// Its channel, when it has one.
    pub channel: Option<u64>,
    /// Who acted, as far as the event says (0: nobody known).
    pub actor: User,
    /// The event.
    pub event: Event,
    /// What an audit-log entry explaining it looks like, for events whose
    /// `by` the audit log can tell.
    pub ask: Option<Ask>,
}

impl Translated {
    fn new(guild: Option<u64>, channel: Option<u64>, actor: User, event: Event) -> Self {
        Self {
            guild,
            channel,
            actor,
            event,
            ask: None,
        }
    }

    fn asking(mut self, actions: &[u16], target: Option<u64>, channel: Option<u64>) -> Self {
        self.ask = self.guild.map(|guild| Ask {
            guild,
            actions: actions.to_vec(),
            target,
            channel,
        });
        self
    }

    /// Fill in who did it: `entry` is the audit-log entry that explains
    /// the event (if one did), `readable` whether the bot may read the
    /// audit log, `user` the moderator as a user. A member removal the
    /// entry calls a kick becomes `member-kick`; the moderator becomes
    /// the event's actor.
    pub fn attribute(&mut self, entry: Option<Entry>, readable: Option<bool>, user: User) {
        let by = match (&entry, readable) {
            (Some(entry), _) => Attribution::AuditLog(Moderation {
                moderator: user.clone(),
                reason: entry.reason.clone(),
                entry_id: entry.id,
            }),
            (None, Some(false)) => Attribution::NoAccess,
            (None, _) => Attribution::NotRecorded,
        };
        if entry.is_some() {
            self.actor = user;
        }
        let kicked = entry
            .as_ref()
            .is_some_and(|e| e.action == action::MEMBER_KICK);
        let pinned = entry
            .as_ref()
            .map(|e| (e.action == action::MESSAGE_PIN, e.message));
        match &mut self.event {
            Event::MemberLeave(left) if kicked => {
                self.event = Event::MemberKick(MemberKicked {
                    guild_id: left.guild_id,
                    user: left.user.clone(),
                    before: left.before.take(),
                    by,
                });
            }
            Event::MessageDelete(e) => e.by = by,
            Event::MessageDeleteBulk(e) => e.by = by,
            Event::MemberKick(e) => e.by = by,
            Event::MemberUpdate(e) => e.by = by,
            Event::MemberBan(e) | Event::MemberUnban(e) => e.by = by,
            Event::RoleCreate(e) | Event::RoleUpdate(e) | Event::RoleDelete(e) => e.by = by,
            Event::ChannelCreate(e)
            | Event::ChannelUpdate(e)
            | Event::ChannelDelete(e)
            | Event::ThreadCreate(e)
            | Event::ThreadUpdate(e)
            | Event::ThreadDelete(e) => e.by = by,
            Event::GuildUpdate(e) => e.by = by,
            Event::EmojisUpdate(e) => e.by = by,
            Event::StickersUpdate(e) => e.by = by,
            Event::VoiceUpdate(e) => e.by = by,
            Event::WebhooksUpdate(e) => e.by = by,
            Event::PinsUpdate(e) => {
                if let Some((pin, message)) = pinned {
                    e.pinned = Some(pin);
                    e.message_id = message;
                }
                e.by = by;
            }
            _ => {}
        }
    }
}

/// A gateway event as a cog event, with what the host remembered before
/// it and what would say who did it. `None` for events cogs cannot
/// subscribe to.
pub fn translate(event: &GatewayEvent, bot_id: u64, before: Before) -> Option<Translated> {
    use action::*;
    let not = Attribution::NotRecorded;
    let Before {
        one,
        many,
        now,
        prior,
        ..
    } = before;
    Some(match event {
        GatewayEvent::MessageCreate(e) => {
            let m = &e.message;
            if m.author.id.get() == bot_id {
                return None;
            }
            Translated::new(
                m.guild_id.map(|g| g.get()),
                Some(m.channel_id.get()),
                incoming::user(&m.author),
                Event::MessageCreate(now.unwrap_or_else(|| incoming::message(m))),
            )
        }
        GatewayEvent::MessageUpdate(e) => {
            let m = &e.as_ref().0;
            if m.author.id.get() == bot_id {
                return None;
            }
            Translated::new(
                m.guild_id.map(|g| g.get()),
                Some(m.channel_id.get()),
                incoming::user(&m.author),
                Event::MessageUpdate(MessageEdited {
                    after: now.unwrap_or_else(|| incoming::message(m)),
                    before: one,
                }),
            )
        }
        GatewayEvent::MessageDelete(e) => {
            // The entry names the author as its target; without the
            // message remembered, only the channel can be matched.
            let author = one.as_ref().map(|m| m.author.id);
            Translated::new(
                e.guild_id.map(|g| g.get()),
                Some(e.channel_id.get()),
                actor(0),
                Event::MessageDelete(MessageDeleted {
                    id: e.id.get(),
                    channel_id: e.channel_id.get(),
                    guild_id: e.guild_id.map(|g| g.get()),
                    before: one,
                    by: not,
                }),
            )
            .asking(&[MESSAGE_DELETE], author, Some(e.channel_id.get()))
        }
        GatewayEvent::MessageDeleteBulk(e) => Translated::new(
            e.guild_id.map(|g| g.get()),
            Some(e.channel_id.get()),
            actor(0),
            Event::MessageDeleteBulk(MessagesPurged {
                ids: e.ids.iter().map(|id| id.get()).collect(),
                channel_id: e.channel_id.get(),
                guild_id: e.guild_id.map(|g| g.get()),
                before: many,
                by: not,
            }),
        )
        .asking(&[MESSAGE_BULK_DELETE], Some(e.channel_id.get()), None),
        GatewayEvent::BanAdd(e) => Translated::new(
            Some(e.guild_id.get()),
            None,
            actor(0),
            Event::MemberBan(BanEvent {
                guild_id: e.guild_id.get(),
                user: incoming::user(&e.user),
                by: not,
            }),
        )
        .asking(&[MEMBER_BAN_ADD], Some(e.user.id.get()), None),
        GatewayEvent::BanRemove(e) => Translated::new(
            Some(e.guild_id.get()),
            None,
            actor(0),
            Event::MemberUnban(BanEvent {
                guild_id: e.guild_id.get(),
                user: incoming::user(&e.user),
                by: not,
            }),
        )
        .asking(&[MEMBER_BAN_REMOVE], Some(e.user.id.get()), None),
        GatewayEvent::MemberAdd(e) => Translated::new(
            Some(e.guild_id.get()),
            None,
            incoming::user(&e.member.user),
            Event::MemberJoin(MemberJoined {
                member: incoming::member(&e.member),
                invite: None,
            }),
        ),
        GatewayEvent::MemberRemove(e) => Translated::new(
            Some(e.guild_id.get()),
            None,
            incoming::user(&e.user),
            Event::MemberLeave(MemberLeft {
                guild_id: e.guild_id.get(),
                user: incoming::user(&e.user),
                before: match prior {
                    Prior::Member(m) => Some(*m),
                    _ => None,
                },
            }),
        )
        // A kick's entry makes it a `member-kick`; a ban's is the ban event's.
        .asking(&[MEMBER_KICK], Some(e.user.id.get()), None),
        GatewayEvent::MemberUpdate(e) => {
            let after = incoming::updated_member(e);
            let before = match prior {
                Prior::Member(m) => Some(*m),
                _ => None,
            };
            let actions: &[u16] = match &before {
                None => &[MEMBER_UPDATE, MEMBER_ROLE_UPDATE],
                Some(b) if b.roles != after.roles => &[MEMBER_ROLE_UPDATE],
                Some(b)
                    if b.nick != after.nick
                        || b.communication_disabled_until != after.communication_disabled_until =>
                {
                    &[MEMBER_UPDATE]
                }
                // Avatars, names, flags: Discord keeps no entry.
                Some(_) => &[],
            };
            let t = Translated::new(
                Some(e.guild_id.get()),
                None,
                incoming::user(&e.user),
                Event::MemberUpdate(MemberUpdated {
                    guild_id: e.guild_id.get(),
                    after,
                    before,
                    by: not,
                }),
            );
            if actions.is_empty() {
                t
            } else {
                t.asking(actions, Some(e.user.id.get()), None)
            }
        }
        GatewayEvent::ReactionAdd(e) => reaction(&e.as_ref().0, true),
        GatewayEvent::ReactionRemove(e) => reaction(&e.as_ref().0, false),
        GatewayEvent::RoleCreate(e) => role(
            e.guild_id.get(),
            incoming::role(&e.role),
            None,
            Event::RoleCreate,
            ROLE_CREATE,
        ),
        GatewayEvent::RoleUpdate(e) => role(
            e.guild_id.get(),
            incoming::role(&e.role),
            match prior {
                Prior::Role(r) => Some(*r),
                _ => None,
            },
            Event::RoleUpdate,
            ROLE_UPDATE,
        ),
        GatewayEvent::RoleDelete(e) => {
            let gone = match prior {
                Prior::Role(r) => *r,
                _ => Role {
                    id: e.role_id.get(),
                    name: String::new(),
                    color: 0,
                    position: 0,
                    permissions: 0,
                    managed: false,
                    mentionable: false,
                    hoist: false,
                    icon: None,
                },
            };
            role(e.guild_id.get(), gone, None, Event::RoleDelete, ROLE_DELETE)
        }
        GatewayEvent::ChannelCreate(e) => channel(
            &e.as_ref().0,
            Prior::Nothing,
            Event::ChannelCreate,
            &[CHANNEL_CREATE],
        )?,
        GatewayEvent::ChannelUpdate(e) => channel(
            &e.as_ref().0,
            prior,
            Event::ChannelUpdate,
            &[
                CHANNEL_UPDATE,
                OVERWRITE_CREATE,
                OVERWRITE_UPDATE,
                OVERWRITE_DELETE,
            ],
        )?,
        GatewayEvent::ChannelDelete(e) => {
            // The channel as it was is the one Discord sends.
            channel(
                &e.as_ref().0,
                Prior::Nothing,
                Event::ChannelDelete,
                &[CHANNEL_DELETE],
            )?
        }
        GatewayEvent::ThreadCreate(e) => channel(
            &e.as_ref().0,
            Prior::Nothing,
            Event::ThreadCreate,
            &[THREAD_CREATE],
        )?,
        GatewayEvent::ThreadUpdate(e) => {
            channel(&e.as_ref().0, prior, Event::ThreadUpdate, &[THREAD_UPDATE])?
        }
        GatewayEvent::ThreadDelete(e) => {
            let gone = match prior {
                Prior::Channel(c) => *c,
                _ => Channel {
                    id: e.id.get(),
                    name: String::new(),
                    kind: incoming::channel_kind(e.kind),
                    parent_id: Some(e.parent_id.get()),
                    position: 0,
                    topic: None,
                    nsfw: false,
                    slowmode_seconds: 0,
                    overwrites: vec![],
                    bitrate: None,
                    user_limit: None,
                    thread: None,
                },
            };
            Translated::new(
                Some(e.guild_id.get()),
                Some(e.id.get()),
                actor(0),
                Event::ThreadDelete(ChannelEvent {
                    guild_id: e.guild_id.get(),
                    channel: gone,
                    before: None,
                    by: not,
                }),
            )
            .asking(&[THREAD_DELETE], Some(e.id.get()), None)
        }
        GatewayEvent::ThreadMembersUpdate(e) => Translated::new(
            Some(e.guild_id.get()),
            Some(e.id.get()),
            actor(0),
            Event::ThreadMembers(ThreadMembers {
                guild_id: e.guild_id.get(),
                thread_id: e.id.get(),
                added: e
                    .added_members
                    .iter()
                    .filter_map(|m| m.user_id.map(|u| u.get()))
                    .collect(),
                removed: e.removed_member_ids.iter().map(|u| u.get()).collect(),
                member_count: e.member_count.max(0) as u32,
            }),
        ),
        GatewayEvent::GuildUpdate(e) => Translated::new(
            Some(e.id.get()),
            None,
            actor(0),
            Event::GuildUpdate(GuildUpdated {
                after: incoming::updated_guild_info(&e.0),
                before: match prior {
                    Prior::Guild(g) => Some(*g),
                    _ => None,
                },
                by: not,
            }),
        )
        .asking(&[GUILD_UPDATE], Some(e.id.get()), None),
        GatewayEvent::GuildEmojisUpdate(e) => list_changed(
            e.guild_id.get(),
            match prior {
                Prior::Emojis(list) => list,
                _ => Vec::new(),
            },
            e.emojis.iter().map(incoming::emoji).collect(),
            |e| e.id,
            [EMOJI_CREATE, EMOJI_DELETE, EMOJI_UPDATE],
            |guild_id, created, deleted, updated| {
                Event::EmojisUpdate(EmojisChanged {
                    guild_id,
                    created,
                    deleted,
                    updated,
                    by: Attribution::NotRecorded,
                })
            },
        ),
        GatewayEvent::GuildStickersUpdate(e) => list_changed(
            e.guild_id.get(),
            match prior {
                Prior::Stickers(list) => list,
                _ => Vec::new(),
            },
            e.stickers.iter().map(incoming::sticker).collect(),
            |s| s.id,
            [STICKER_CREATE, STICKER_DELETE, STICKER_UPDATE],
            |guild_id, created, deleted, updated| {
                Event::StickersUpdate(StickersChanged {
                    guild_id,
                    created,
                    deleted,
                    updated,
                    by: Attribution::NotRecorded,
                })
            },
        ),
        GatewayEvent::VoiceStateUpdate(e) => {
            let state = &e.0;
            let guild = state.guild_id?.get();
            let after = incoming::voice_state(state);
            let before = match prior {
                Prior::Voice { before, .. } => before,
                _ => None,
            };
            let user = state
                .member
                .as_ref()
                .map(|m| incoming::user(&m.user))
                .unwrap_or_else(|| actor(state.user_id.get()));
            let (actions, channel): (&[u16], Option<u64>) = match (&before, &after) {
                (Some(b), Some(a)) if b.channel_id != a.channel_id => {
                    (&[MEMBER_MOVE], Some(a.channel_id))
                }
                (Some(_), None) => (&[MEMBER_DISCONNECT], None),
                (Some(b), Some(a)) if b.mute != a.mute || b.deaf != a.deaf => {
                    (&[MEMBER_UPDATE], None)
                }
                _ => (&[], None),
            };
            // Moves and disconnects name no target; server mutes do.
            let target = (actions == [MEMBER_UPDATE]).then_some(state.user_id.get());
            let t = Translated::new(
                Some(guild),
                after.as_ref().or(before.as_ref()).map(|v| v.channel_id),
                user.clone(),
                Event::VoiceUpdate(VoiceChanged {
                    guild_id: guild,
                    user,
                    before,
                    after,
                    by: not,
                }),
            );
            if actions.is_empty() {
                t
            } else {
                t.asking(actions, target, channel)
            }
        }
        GatewayEvent::InviteCreate(e) => Translated::new(
            Some(e.guild_id.get()),
            Some(e.channel_id.get()),
            e.inviter
                .as_ref()
                .map(incoming::user)
                .unwrap_or_else(|| actor(0)),
            Event::InviteCreate(Invite {
                code: e.code.clone(),
                guild_id: e.guild_id.get(),
                channel_id: e.channel_id.get(),
                inviter: e.inviter.as_ref().map(incoming::user),
                uses: u32::from(e.uses),
                max_uses: u32::try_from(e.max_uses).unwrap_or(u32::MAX),
                max_age_seconds: u32::try_from(e.max_age).unwrap_or(u32::MAX),
                temporary: e.temporary,
                created_at: Some(incoming::timestamp(e.created_at)),
            }),
        ),
        GatewayEvent::InviteDelete(e) => Translated::new(
            Some(e.guild_id.get()),
            Some(e.channel_id.get()),
            actor(0),
            Event::InviteDelete(InviteDeleted {
                guild_id: e.guild_id.get(),
                channel_id: e.channel_id.get(),
                code: e.code.clone(),
            }),
        ),
        GatewayEvent::WebhooksUpdate(e) => Translated::new(
            Some(e.guild_id.get()),
            Some(e.channel_id.get()),
            actor(0),
            Event::WebhooksUpdate(WebhooksChanged {
                guild_id: e.guild_id.get(),
                channel_id: e.channel_id.get(),
                by: not,
            }),
        )
        .asking(
            &[WEBHOOK_CREATE, WEBHOOK_UPDATE, WEBHOOK_DELETE],
            None,
            None,
        ),
        GatewayEvent::AutoModerationActionExecution(e) => {
            use twilight_model::guild::auto_moderation::AutoModerationActionType as A;
            Translated::new(
                Some(e.guild_id.get()),
                e.channel_id.map(|c| c.get()),
                actor(e.user_id.get()),
                Event::AutomodAction(AutomodAction {
                    guild_id: e.guild_id.get(),
                    rule_id: e.rule_id.get(),
                    trigger: e.rule_trigger_type.into(),
                    response: match e.action.kind {
                        A::BlockMessage => AutomodResponse::BlockMessage,
                        A::Timeout => AutomodResponse::Timeout,
                        A::BlockMemberInteraction => AutomodResponse::BlockInteraction,
                        _ => AutomodResponse::SendAlert,
                    },
                    user_id: e.user_id.get(),
                    channel_id: e.channel_id.map(|c| c.get()),
                    message_id: e.message_id.map(|m| m.get()),
                    alert_message_id: e.alert_system_message_id.map(|m| m.get()),
                    content: e.content.clone(),
                    matched_keyword: e.matched_keyword.clone(),
                    matched_content: e.matched_content.clone(),
                }),
            )
        }
        GatewayEvent::ChannelPinsUpdate(e) => {
            let guild = e.guild_id?.get();
            Translated::new(
                Some(guild),
                Some(e.channel_id.get()),
                actor(0),
                Event::PinsUpdate(PinsChanged {
                    guild_id: guild,
                    channel_id: e.channel_id.get(),
                    last_pin_timestamp: e.last_pin_timestamp.map(incoming::timestamp),
                    message_id: None,
                    pinned: None,
                    by: not,
                }),
            )
            .asking(
                &[MESSAGE_PIN, MESSAGE_UNPIN],
                None,
                Some(e.channel_id.get()),
            )
        }
        _ => return None,
    })
}

/// A guild's list (emojis, stickers) changed: Discord sends the whole
/// list; what was added, removed and changed against `before`, asking for
/// the entry of the first change (`actions`: create, delete, update).
fn list_changed<T: Clone + PartialEq>(
    guild: u64,
    before: Vec<T>,
    now: Vec<T>,
    id: impl Fn(&T) -> u64,
    actions: [u16; 3],
    wrap: impl FnOnce(u64, Vec<T>, Vec<T>, Vec<(T, T)>) -> Event,
) -> Translated {
    let created: Vec<T> = now
        .iter()
        .filter(|n| !before.iter().any(|b| id(b) == id(n)))
        .cloned()
        .collect();
    let deleted: Vec<T> = before
        .iter()
        .filter(|b| !now.iter().any(|n| id(n) == id(b)))
        .cloned()
        .collect();
    let updated: Vec<(T, T)> = before
        .iter()
        .filter_map(|b| {
            let n = now.iter().find(|n| id(n) == id(b))?;
            (n != b).then(|| (b.clone(), n.clone()))
        })
        .collect();
    let (asked, target) = if let Some(first) = created.first() {
        (vec![actions[0]], Some(id(first)))
    } else if let Some(first) = deleted.first() {
        (vec![actions[1]], Some(id(first)))
    } else if let Some((_, first)) = updated.first() {
        (vec![actions[2]], Some(id(first)))
    } else {
        (actions.to_vec(), None)
    };
    Translated::new(
        Some(guild),
        None,
        actor(0),
        wrap(guild, created, deleted, updated),
    )
    .asking(&asked, target, None)
}

fn reaction(r: &GatewayReaction, added: bool) -> Translated {
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
    Translated::new(
        r.guild_id.map(|g| g.get()),
        Some(r.channel_id.get()),
        actor,
        event,
    )
}

fn role(
    guild: u64,
    role: Role,
    before: Option<Role>,
    wrap: fn(RoleEvent) -> Event,
    action: u16,
) -> Translated {
    let id = role.id;
    Translated::new(
        Some(guild),
        None,
        actor(0),
        wrap(RoleEvent {
            guild_id: guild,
            role,
            before,
            by: Attribution::NotRecorded,
        }),
    )
    .asking(&[action], Some(id), None)
}

/// A guild channel's or thread's event (`None` for a channel outside guilds).
fn channel(
    c: &TChannel,
    prior: Prior,
    wrap: fn(ChannelEvent) -> Event,
    actions: &[u16],
) -> Option<Translated> {
    let guild = c.guild_id?.get();
    Some(
        Translated::new(
            Some(guild),
            Some(c.id.get()),
            actor(0),
            wrap(ChannelEvent {
                guild_id: guild,
                channel: incoming::channel(c),
                before: match prior {
                    Prior::Channel(before) => Some(*before),
                    _ => None,
                },
                by: Attribution::NotRecorded,
            }),
        )
        .asking(actions, Some(c.id.get()), None),
    )
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

#[cfg(test)]
mod tests {
    use serde::de::DeserializeSeed;
    use twilight_model::gateway::event::GatewayEventDeserializer;

    /// Discord's GUILD_STICKERS_UPDATE, as the simulator sends it, reads.
    #[test]
    fn a_stickers_update_reads() {
        let json = r#"{"op":0,"s":1,"t":"GUILD_STICKERS_UPDATE","d":{"guild_id":"2","stickers":[{"id":"91","name":"wave","description":null,"tags":"wave","type":2,"format_type":1,"available":true,"guild_id":"2"}]}}"#;
        let de = GatewayEventDeserializer::from_json(json).unwrap();
        let mut json_de = serde_json::Deserializer::from_str(json);
        let event = de.deserialize(&mut json_de);
        assert!(event.is_ok(), "{event:?}");
    }
}
