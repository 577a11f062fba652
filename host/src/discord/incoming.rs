//! What Discord says, as cogs see it: twilight's model types (which parsed
//! the gateway's JSON and the REST answers) turned into the WIT's
//! invocation, event and entity records.

use twilight_model::application::interaction::application_command::{
    CommandData, CommandDataOption, CommandOptionValue,
};
use twilight_model::application::interaction::message_component::MessageComponentInteractionData;
use twilight_model::application::interaction::modal::{
    ModalInteractionComponent, ModalInteractionData,
};
use twilight_model::application::interaction::{Interaction, InteractionDataResolved};
use twilight_model::channel::message::component::ComponentType;
use twilight_model::channel::{Attachment, Channel as TChannel, ChannelType, Message as TMessage};
use twilight_model::guild::{Member as TMember, PartialMember, Role as TRole};
use twilight_model::user::User as TUser;
use twilight_model::util::Timestamp;

use twilight_model::channel::permission_overwrite::PermissionOverwriteType;
use twilight_model::gateway::payload::incoming::MemberUpdate;

use crate::wit::types::{
    AttachmentInfo, AutocompleteInvocation, Channel, ChannelKind, CommandInvocation,
    ComponentInvocation, ComponentKind, InvocationContext, Member, MessageInfo, ModalField,
    OptionEntry, OptionValue, OverwriteKind, PermissionOverwrite, Role, ThreadInfo, User,
};

/// A timestamp as cogs see it (ISO 8601, `+00:00`).
pub fn timestamp(at: Timestamp) -> String {
    at.iso_8601().to_string()
}

/// A user.
pub fn user(user: &TUser) -> User {
    User {
        id: user.id.get(),
        username: user.name.clone(),
        global_name: user.global_name.clone(),
        bot: user.bot,
        avatar: user.avatar.map(|hash| hash.to_string()),
    }
}

/// A guild member.
pub fn member(member: &TMember) -> Member {
    Member {
        user: user(&member.user),
        nick: member.nick.clone(),
        roles: member.roles.iter().map(|r| r.get()).collect(),
        joined_at: member.joined_at.map(timestamp),
        permissions: None,
        communication_disabled_until: member.communication_disabled_until.map(timestamp),
        avatar: member.avatar.map(|hash| hash.to_string()),
        pending: member.pending,
        flags: member.flags.bits(),
    }
}

/// The member a member update describes (Discord sends it whole but for
/// permissions).
pub fn updated_member(update: &MemberUpdate) -> Member {
    Member {
        user: user(&update.user),
        nick: update.nick.clone(),
        roles: update.roles.iter().map(|r| r.get()).collect(),
        joined_at: update.joined_at.map(timestamp),
        permissions: None,
        communication_disabled_until: update.communication_disabled_until.map(timestamp),
        avatar: update.avatar.map(|hash| hash.to_string()),
        pending: update.pending,
        flags: update.flags.map_or(0, |f| f.bits()),
    }
}

/// The member an interaction carries (with the user from the interaction).
fn partial_member(member: &PartialMember, who: &TUser) -> Member {
    Member {
        user: user(member.user.as_ref().unwrap_or(who)),
        nick: member.nick.clone(),
        roles: member.roles.iter().map(|r| r.get()).collect(),
        joined_at: member.joined_at.map(timestamp),
        permissions: member.permissions.map(|p| p.bits()),
        communication_disabled_until: member.communication_disabled_until.map(timestamp),
        avatar: member.avatar.map(|hash| hash.to_string()),
        pending: false,
        flags: member.flags.bits(),
    }
}

/// A role.
#[allow(deprecated)] // `color`: the WIT's single colour is the role's primary one.
pub fn role(role: &TRole) -> Role {
    Role {
        id: role.id.get(),
        name: role.name.clone(),
        color: role.colors.primary_color,
        position: i32::try_from(role.position).unwrap_or(i32::MAX),
        permissions: role.permissions.bits(),
        managed: role.managed,
        mentionable: role.mentionable,
        hoist: role.hoist,
        icon: role
            .icon
            .map(|hash| hash.to_string())
            .or_else(|| role.unicode_emoji.clone()),
    }
}

/// A channel kind.
pub fn channel_kind(kind: ChannelType) -> ChannelKind {
    match kind {
        ChannelType::Private | ChannelType::Group => ChannelKind::DirectMessage,
        ChannelType::GuildVoice => ChannelKind::Voice,
        ChannelType::GuildCategory => ChannelKind::Category,
        ChannelType::GuildAnnouncement => ChannelKind::Announcement,
        ChannelType::AnnouncementThread => ChannelKind::AnnouncementThread,
        ChannelType::PublicThread => ChannelKind::PublicThread,
        ChannelType::PrivateThread => ChannelKind::PrivateThread,
        ChannelType::GuildStageVoice => ChannelKind::Stage,
        ChannelType::GuildForum => ChannelKind::Forum,
        ChannelType::GuildMedia => ChannelKind::Media,
        _ => ChannelKind::Text,
    }
}

/// A guild channel.
pub fn channel(channel: &TChannel) -> Channel {
    Channel {
        id: channel.id.get(),
        name: channel.name.clone().unwrap_or_default(),
        kind: channel_kind(channel.kind),
        parent_id: channel.parent_id.map(|p| p.get()),
        position: channel.position.unwrap_or(0),
        topic: channel.topic.clone(),
        nsfw: channel.nsfw.unwrap_or(false),
        slowmode_seconds: channel.rate_limit_per_user.map_or(0, u32::from),
        overwrites: channel
            .permission_overwrites
            .iter()
            .flatten()
            .filter_map(|o| {
                Some(PermissionOverwrite {
                    id: o.id.get(),
                    kind: match o.kind {
                        PermissionOverwriteType::Role => OverwriteKind::Role,
                        PermissionOverwriteType::Member => OverwriteKind::Member,
                        _ => return None,
                    },
                    allow: o.allow.bits(),
                    deny: o.deny.bits(),
                })
            })
            .collect(),
        bitrate: channel.bitrate,
        user_limit: channel.user_limit,
        thread: channel.thread_metadata.as_ref().map(|meta| ThreadInfo {
            owner_id: channel.owner_id.map(|o| o.get()),
            archived: meta.archived,
            locked: meta.locked,
            auto_archive_minutes: u32::from(meta.auto_archive_duration.number()),
            invitable: meta.invitable,
            message_count: channel.message_count,
            member_count: channel.member_count.map(|c| c.max(0) as u32),
        }),
    }
}

fn attachment(a: &Attachment) -> AttachmentInfo {
    AttachmentInfo {
        id: a.id.get(),
        filename: a.filename.clone(),
        url: a.url.clone(),
        content_type: a.content_type.clone(),
        size: a.size,
    }
}

/// A message.
pub fn message(message: &TMessage) -> MessageInfo {
    MessageInfo {
        id: message.id.get(),
        channel_id: message.channel_id.get(),
        guild_id: message.guild_id.map(|g| g.get()),
        author: user(&message.author),
        content: message.content.clone(),
        timestamp: timestamp(message.timestamp),
        edited_timestamp: message.edited_timestamp.map(timestamp),
        attachments: message.attachments.iter().map(attachment).collect(),
        embed_count: message.embeds.len() as u32,
    }
}

/// The user who acted: the member's user in a guild, else the interaction's user.
pub fn invoker(interaction: &Interaction) -> Option<&TUser> {
    interaction
        .member
        .as_ref()
        .and_then(|m| m.user.as_ref())
        .or(interaction.user.as_ref())
}

/// The interaction's channel (0 when Discord sent none).
pub fn channel_of(interaction: &Interaction) -> u64 {
    interaction
        .channel
        .as_ref()
        .map(|c| c.id.get())
        .or_else(|| {
            #[allow(deprecated)]
            interaction.channel_id.map(|c| c.get())
        })
        .unwrap_or(0)
}

/// Where and by whom an interaction was made; `None` without a user.
pub fn context(interaction: &Interaction) -> Option<InvocationContext> {
    let who = invoker(interaction)?;
    Some(InvocationContext {
        guild_id: interaction.guild_id.map(|g| g.get()),
        channel_id: Some(channel_of(interaction)),
        user: user(who),
        member: interaction.member.as_ref().map(|m| partial_member(m, who)),
        locale: Some(interaction.locale.clone().unwrap_or_else(|| "en-US".into())),
        interaction_id: interaction.id.get(),
    })
}

fn option_value(
    value: &CommandOptionValue,
    resolved: Option<&InteractionDataResolved>,
) -> Option<OptionValue> {
    Some(match value {
        CommandOptionValue::String(s) => OptionValue::Text(s.clone()),
        CommandOptionValue::Integer(i) => OptionValue::Integer(*i),
        CommandOptionValue::Number(n) => OptionValue::Number(*n),
        CommandOptionValue::Boolean(b) => OptionValue::Boolean(*b),
        CommandOptionValue::User(id) => OptionValue::User(id.get()),
        CommandOptionValue::Channel(id) => OptionValue::Channel(id.get()),
        CommandOptionValue::Role(id) => OptionValue::Role(id.get()),
        CommandOptionValue::Mentionable(id) => OptionValue::Mentionable(id.get()),
        CommandOptionValue::Attachment(id) => match resolved.and_then(|r| r.attachments.get(id)) {
            Some(found) => OptionValue::Attachment(attachment(found)),
            None => OptionValue::Attachment(AttachmentInfo {
                id: id.get(),
                filename: String::new(),
                url: String::new(),
                content_type: None,
                size: 0,
            }),
        },
        CommandOptionValue::Focused(value, _) => OptionValue::Text(value.clone()),
        CommandOptionValue::SubCommand(_) | CommandOptionValue::SubCommandGroup(_) => return None,
    })
}

/// Group, subcommand and the leaf options of a command's data.
fn flatten(
    options: &[CommandDataOption],
    resolved: Option<&InteractionDataResolved>,
) -> (Option<String>, Option<String>, Vec<OptionEntry>) {
    if let Some(first) = options.first() {
        match &first.value {
            CommandOptionValue::SubCommandGroup(inner) => {
                let (_, sub, leaf) = flatten(inner, resolved);
                return (Some(first.name.clone()), sub, leaf);
            }
            CommandOptionValue::SubCommand(inner) => {
                let (_, _, leaf) = flatten(inner, resolved);
                return (None, Some(first.name.clone()), leaf);
            }
            _ => {}
        }
    }
    let leaf = options
        .iter()
        .filter_map(|o| {
            Some(OptionEntry {
                name: o.name.clone(),
                value: option_value(&o.value, resolved)?,
            })
        })
        .collect();
    (None, None, leaf)
}

/// A slash command invocation.
pub fn command(data: &CommandData, context: InvocationContext) -> CommandInvocation {
    let (group, subcommand, options) = flatten(&data.options, data.resolved.as_ref());
    CommandInvocation {
        name: data.name.clone(),
        group,
        subcommand,
        options,
        context,
    }
}

/// The focused option of an autocomplete request, wherever it is nested.
fn focused(options: &[CommandDataOption]) -> Option<(&str, &str)> {
    options.iter().find_map(|o| match &o.value {
        CommandOptionValue::Focused(value, _) => Some((o.name.as_str(), value.as_str())),
        CommandOptionValue::SubCommand(inner) | CommandOptionValue::SubCommandGroup(inner) => {
            focused(inner)
        }
        _ => None,
    })
}

/// An autocomplete request: the command so far, and the focused option.
pub fn autocomplete(data: &CommandData, context: InvocationContext) -> AutocompleteInvocation {
    let (name, partial) = focused(&data.options).unwrap_or_default();
    let (name, partial) = (name.to_string(), partial.to_string());
    AutocompleteInvocation {
        command: command(data, context),
        focused: name,
        partial,
    }
}

/// A button click or select choice on message `message`.
pub fn component(
    data: &MessageComponentInteractionData,
    message: Option<u64>,
    context: InvocationContext,
) -> ComponentInvocation {
    let kind = match data.component_type {
        ComponentType::Button => ComponentKind::Button,
        ComponentType::TextSelectMenu
        | ComponentType::UserSelectMenu
        | ComponentType::RoleSelectMenu
        | ComponentType::MentionableSelectMenu
        | ComponentType::ChannelSelectMenu => ComponentKind::Select,
        _ => ComponentKind::Button,
    };
    ComponentInvocation {
        kind,
        custom_id: data.custom_id.clone(),
        values: data.values.clone(),
        fields: Vec::new(),
        message_id: message,
        context,
    }
}

/// The text inputs of a modal, however they are nested (rows, labels).
fn modal_fields(components: &[ModalInteractionComponent], into: &mut Vec<ModalField>) {
    for component in components {
        match component {
            ModalInteractionComponent::ActionRow(row) => modal_fields(&row.components, into),
            ModalInteractionComponent::Label(label) => {
                modal_fields(std::slice::from_ref(&*label.component), into)
            }
            ModalInteractionComponent::TextInput(input) => into.push(ModalField {
                custom_id: input.custom_id.clone(),
                value: input.value.clone(),
            }),
            _ => {}
        }
    }
}

/// A modal submission (from message `message`, when it was opened from one).
pub fn modal(
    data: &ModalInteractionData,
    message: Option<u64>,
    context: InvocationContext,
) -> ComponentInvocation {
    let mut fields = Vec::new();
    modal_fields(&data.components, &mut fields);
    ComponentInvocation {
        kind: ComponentKind::ModalSubmit,
        custom_id: data.custom_id.clone(),
        values: Vec::new(),
        fields,
        message_id: message,
        context,
    }
}

/// A guild's custom emoji.
pub fn emoji(emoji: &twilight_model::guild::Emoji) -> crate::wit::types::Emoji {
    crate::wit::types::Emoji {
        id: emoji.id.get(),
        name: emoji.name.clone(),
        animated: emoji.animated,
        managed: emoji.managed,
        roles: emoji.roles.iter().map(|r| r.get()).collect(),
    }
}

/// A guild's sticker.
pub fn sticker(
    sticker: &twilight_model::channel::message::sticker::Sticker,
) -> crate::wit::types::Sticker {
    crate::wit::types::Sticker {
        id: sticker.id.get(),
        name: sticker.name.clone(),
        description: sticker.description.clone(),
        tags: sticker.tags.clone(),
        available: sticker.available,
    }
}

/// Where and how a member is in voice; `None` when they are not.
pub fn voice_state(
    state: &twilight_model::voice::VoiceState,
) -> Option<crate::wit::types::VoiceState> {
    Some(crate::wit::types::VoiceState {
        channel_id: state.channel_id?.get(),
        mute: state.mute,
        deaf: state.deaf,
        self_mute: state.self_mute,
        self_deaf: state.self_deaf,
        streaming: state.self_stream,
        video: state.self_video,
        suppress: state.suppress,
    })
}

/// A guild's settings from a guild (`Guild` or `PartialGuild`: the same
/// fields by name).
macro_rules! guild_info {
    ($guild:expr) => {{
        let guild = $guild;
        crate::wit::types::GuildInfo {
            id: guild.id.get(),
            name: guild.name.clone(),
            description: guild.description.clone(),
            icon: guild.icon.map(|hash| hash.to_string()),
            owner_id: guild.owner_id.get(),
            verification_level: guild.verification_level.into(),
            explicit_content_filter: guild.explicit_content_filter.into(),
            default_notifications: guild.default_message_notifications.into(),
            mfa_level: guild.mfa_level.into(),
            afk_channel_id: guild.afk_channel_id.map(|c| c.get()),
            afk_timeout_seconds: u32::from(guild.afk_timeout.get()),
            system_channel_id: guild.system_channel_id.map(|c| c.get()),
            rules_channel_id: guild.rules_channel_id.map(|c| c.get()),
            vanity_url_code: guild.vanity_url_code.clone(),
            preferred_locale: guild.preferred_locale.clone(),
            features: guild
                .features
                .iter()
                .map(|f| std::borrow::Cow::<str>::from(f.clone()).into_owned())
                .collect(),
        }
    }};
}

/// A guild's settings, from the guild Discord sends when the bot joins
/// or a shard connects.
pub fn guild_info(guild: &twilight_model::guild::Guild) -> crate::wit::types::GuildInfo {
    guild_info!(guild)
}

/// A guild's settings, from a guild update.
pub fn updated_guild_info(
    guild: &twilight_model::guild::PartialGuild,
) -> crate::wit::types::GuildInfo {
    guild_info!(guild)
}
