//! What Discord says, as cogs see it: serenity's model types (which parsed
//! the gateway's JSON) turned into the WIT's invocation, event and entity
//! records.

use serenity::all::{
    ActionRowComponent, ChannelType, CommandDataOption, CommandDataOptionValue,
    CommandDataResolved, CommandInteraction, ComponentInteraction, ComponentInteractionDataKind,
    GuildChannel, Member as SMember, Message as SMessage, ModalInteraction, Role as SRole,
    User as SUser,
};

use crate::wit::types::{
    AttachmentInfo, AutocompleteInvocation, Channel, ChannelKind, CommandInvocation,
    ComponentInvocation, ComponentKind, InvocationContext, Member, MessageInfo, ModalField,
    OptionEntry, OptionValue, Role, User,
};

/// A user.
pub fn user(user: &SUser) -> User {
    User {
        id: user.id.get(),
        username: user.name.clone(),
        global_name: user.global_name.clone(),
        bot: user.bot,
    }
}

/// A guild member.
pub fn member(member: &SMember) -> Member {
    Member {
        user: user(&member.user),
        nick: member.nick.clone(),
        roles: member.roles.iter().map(|r| r.get()).collect(),
        joined_at: member.joined_at.map(|t| t.to_string()),
        permissions: member.permissions.map(|p| p.bits()),
    }
}

/// A role.
pub fn role(role: &SRole) -> Role {
    Role {
        id: role.id.get(),
        name: role.name.clone(),
        color: role.colour.0,
        position: i32::from(role.position),
        permissions: role.permissions.bits(),
        managed: role.managed,
        mentionable: role.mentionable,
    }
}

/// A channel kind.
pub fn channel_kind(kind: ChannelType) -> ChannelKind {
    match kind {
        ChannelType::Private => ChannelKind::DirectMessage,
        ChannelType::Voice => ChannelKind::Voice,
        ChannelType::Category => ChannelKind::Category,
        ChannelType::News => ChannelKind::Announcement,
        ChannelType::NewsThread => ChannelKind::AnnouncementThread,
        ChannelType::PublicThread => ChannelKind::PublicThread,
        ChannelType::PrivateThread => ChannelKind::PrivateThread,
        ChannelType::Stage => ChannelKind::Stage,
        ChannelType::Forum => ChannelKind::Forum,
        ChannelType::Unknown(16) => ChannelKind::Media,
        _ => ChannelKind::Text,
    }
}

/// A guild channel.
pub fn channel(channel: &GuildChannel) -> Channel {
    Channel {
        id: channel.id.get(),
        name: channel.name.clone(),
        kind: channel_kind(channel.kind),
        parent_id: channel.parent_id.map(|p| p.get()),
        position: i32::from(channel.position),
        topic: channel.topic.clone(),
    }
}

/// A message.
pub fn message(message: &SMessage) -> MessageInfo {
    MessageInfo {
        id: message.id.get(),
        channel_id: message.channel_id.get(),
        guild_id: message.guild_id.map(|g| g.get()),
        author: user(&message.author),
        content: message.content.clone(),
        timestamp: message.timestamp.to_string(),
        edited_timestamp: message.edited_timestamp.map(|t| t.to_string()),
        attachments: message
            .attachments
            .iter()
            .map(|a| AttachmentInfo {
                id: a.id.get(),
                filename: a.filename.clone(),
                url: a.url.clone(),
                content_type: a.content_type.clone(),
                size: u64::from(a.size),
            })
            .collect(),
        embed_count: message.embeds.len() as u32,
    }
}

fn context(
    guild: Option<u64>,
    channel: u64,
    who: &SUser,
    membership: Option<&SMember>,
    locale: &str,
    interaction: u64,
) -> InvocationContext {
    InvocationContext {
        guild_id: guild,
        channel_id: Some(channel),
        user: user(who),
        member: membership.map(member),
        locale: Some(locale.to_string()),
        interaction_id: interaction,
    }
}

fn option_value(
    value: &CommandDataOptionValue,
    resolved: &CommandDataResolved,
) -> Option<OptionValue> {
    Some(match value {
        CommandDataOptionValue::String(s) => OptionValue::Text(s.clone()),
        CommandDataOptionValue::Integer(i) => OptionValue::Integer(*i),
        CommandDataOptionValue::Number(n) => OptionValue::Number(*n),
        CommandDataOptionValue::Boolean(b) => OptionValue::Boolean(*b),
        CommandDataOptionValue::User(id) => OptionValue::User(id.get()),
        CommandDataOptionValue::Channel(id) => OptionValue::Channel(id.get()),
        CommandDataOptionValue::Role(id) => OptionValue::Role(id.get()),
        CommandDataOptionValue::Mentionable(id) => OptionValue::Mentionable(id.get()),
        CommandDataOptionValue::Attachment(id) => {
            let found = resolved.attachments.get(id);
            OptionValue::Attachment(AttachmentInfo {
                id: id.get(),
                filename: found.map(|a| a.filename.clone()).unwrap_or_default(),
                url: found.map(|a| a.url.clone()).unwrap_or_default(),
                content_type: found.and_then(|a| a.content_type.clone()),
                size: found.map_or(0, |a| u64::from(a.size)),
            })
        }
        CommandDataOptionValue::Autocomplete { value, .. } => OptionValue::Text(value.clone()),
        _ => return None,
    })
}

/// Group, subcommand and the leaf options of a command's data.
fn flatten(
    options: &[CommandDataOption],
    resolved: &CommandDataResolved,
) -> (Option<String>, Option<String>, Vec<OptionEntry>) {
    if let Some(first) = options.first() {
        match &first.value {
            CommandDataOptionValue::SubCommandGroup(inner) => {
                let (_, sub, leaf) = flatten(inner, resolved);
                return (Some(first.name.clone()), sub, leaf);
            }
            CommandDataOptionValue::SubCommand(inner) => {
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
pub fn command(interaction: &CommandInteraction) -> CommandInvocation {
    let (group, subcommand, options) =
        flatten(&interaction.data.options, &interaction.data.resolved);
    CommandInvocation {
        name: interaction.data.name.clone(),
        group,
        subcommand,
        options,
        context: context(
            interaction.guild_id.map(|g| g.get()),
            interaction.channel_id.get(),
            &interaction.user,
            interaction.member.as_deref(),
            &interaction.locale,
            interaction.id.get(),
        ),
    }
}

/// An autocomplete request: the command so far, and the focused option.
pub fn autocomplete(interaction: &CommandInteraction) -> AutocompleteInvocation {
    let focused = interaction.data.autocomplete();
    AutocompleteInvocation {
        command: command(interaction),
        focused: focused
            .as_ref()
            .map(|f| f.name.to_string())
            .unwrap_or_default(),
        partial: focused
            .as_ref()
            .map(|f| f.value.to_string())
            .unwrap_or_default(),
    }
}

/// A button click or select choice.
pub fn component(interaction: &ComponentInteraction) -> ComponentInvocation {
    fn ids<T: ToString>(values: &[T]) -> Vec<String> {
        values.iter().map(ToString::to_string).collect()
    }
    let (kind, values) = match &interaction.data.kind {
        ComponentInteractionDataKind::Button | ComponentInteractionDataKind::Unknown(_) => {
            (ComponentKind::Button, Vec::new())
        }
        ComponentInteractionDataKind::StringSelect { values } => {
            (ComponentKind::Select, values.clone())
        }
        ComponentInteractionDataKind::UserSelect { values } => (ComponentKind::Select, ids(values)),
        ComponentInteractionDataKind::RoleSelect { values } => (ComponentKind::Select, ids(values)),
        ComponentInteractionDataKind::MentionableSelect { values } => {
            (ComponentKind::Select, ids(values))
        }
        ComponentInteractionDataKind::ChannelSelect { values } => {
            (ComponentKind::Select, ids(values))
        }
    };
    ComponentInvocation {
        kind,
        custom_id: interaction.data.custom_id.clone(),
        values,
        fields: Vec::new(),
        message_id: Some(interaction.message.id.get()),
        context: context(
            interaction.guild_id.map(|g| g.get()),
            interaction.channel_id.get(),
            &interaction.user,
            interaction.member.as_ref(),
            &interaction.locale,
            interaction.id.get(),
        ),
    }
}

/// A modal submission.
pub fn modal(interaction: &ModalInteraction) -> ComponentInvocation {
    let fields = interaction
        .data
        .components
        .iter()
        .flat_map(|row| row.components.iter())
        .filter_map(|c| match c {
            ActionRowComponent::InputText(input) => Some(ModalField {
                custom_id: input.custom_id.clone(),
                value: input.value.clone().unwrap_or_default(),
            }),
            _ => None,
        })
        .collect();
    ComponentInvocation {
        kind: ComponentKind::ModalSubmit,
        custom_id: interaction.data.custom_id.clone(),
        values: Vec::new(),
        fields,
        message_id: interaction.message.as_ref().map(|m| m.id.get()),
        context: context(
            interaction.guild_id.map(|g| g.get()),
            interaction.channel_id.get(),
            &interaction.user,
            interaction.member.as_ref(),
            &interaction.locale,
            interaction.id.get(),
        ),
    }
}
