//! Each guild as the host last saw it: settings, roles, channels and
//! threads, emojis, stickers, voice states — and its members, the one part
//! that grows with the guild, kept by count (least recently seen forgotten
//! first, `[discord] remember_members`).
//!
//! Seeded from GUILD_CREATE (which carries everything but, in large
//! guilds, most members) and kept by the events that change each part.
//! What it holds is already in the WIT's shape: an update's `before` is a
//! clone of what is here.

use std::collections::HashMap;
use std::num::NonZeroUsize;

use lru::LruCache;
use parking_lot::Mutex;

use super::super::incoming;
use crate::wit::types::{Channel, Emoji, GuildInfo, Member, Role, Sticker, VoiceState};

/// Discord's View Audit Log permission bit.
const VIEW_AUDIT_LOG: u64 = 1 << 7;
/// Discord's Administrator permission bit (every permission).
const ADMINISTRATOR: u64 = 1 << 3;

/// One guild's remembered state (but members).
#[derive(Default)]
struct Guild {
    info: Option<GuildInfo>,
    roles: HashMap<u64, Role>,
    channels: HashMap<u64, Channel>,
    emojis: Vec<Emoji>,
    stickers: Vec<Sticker>,
    voice: HashMap<u64, VoiceState>,
}

/// Every guild of this process's shards, as last seen.
pub struct GuildMemory {
    guilds: Mutex<HashMap<u64, Guild>>,
    members: Mutex<LruCache<(u64, u64), Member>>,
}

impl GuildMemory {
    /// A memory keeping at most `members` members (at least one).
    pub fn new(members: usize) -> Self {
        Self {
            guilds: Mutex::new(HashMap::new()),
            members: Mutex::new(LruCache::new(
                NonZeroUsize::new(members.max(1)).expect("at least one"),
            )),
        }
    }

    /// Everything a guild's GUILD_CREATE says (replacing what was kept).
    pub fn seed(&self, guild: &twilight_model::guild::Guild) {
        let id = guild.id.get();
        let mut kept = Guild {
            info: Some(incoming::guild_info(guild)),
            ..Guild::default()
        };
        for role in &guild.roles {
            kept.roles.insert(role.id.get(), incoming::role(role));
        }
        for channel in guild.channels.iter().chain(&guild.threads) {
            kept.channels
                .insert(channel.id.get(), incoming::channel(channel));
        }
        kept.emojis = guild.emojis.iter().map(incoming::emoji).collect();
        kept.stickers = guild.stickers.iter().map(incoming::sticker).collect();
        for state in &guild.voice_states {
            if let Some(now) = incoming::voice_state(state) {
                kept.voice.insert(state.user_id.get(), now);
            }
        }
        self.guilds.lock().insert(id, kept);
        let mut members = self.members.lock();
        for member in &guild.members {
            members.put((id, member.user.id.get()), incoming::member(member));
        }
    }

    /// Forget a guild the bot left.
    pub fn forget_guild(&self, guild: u64) {
        self.guilds.lock().remove(&guild);
        // Members go with the LRU's turnover: finding them all would walk
        // the whole memory.
    }

    /// Forget everything.
    pub fn clear(&self) {
        self.guilds.lock().clear();
        self.members.lock().clear();
    }

    /// Guilds, and members, held now.
    pub fn held(&self) -> (usize, usize) {
        (self.guilds.lock().len(), self.members.lock().len())
    }

    fn with<T>(&self, guild: u64, f: impl FnOnce(&mut Guild) -> T) -> T {
        f(self.guilds.lock().entry(guild).or_default())
    }

    /// Remember `member`; returns what was remembered before.
    pub fn put_member(&self, guild: u64, member: Member) -> Option<Member> {
        self.members.lock().put((guild, member.user.id), member)
    }

    /// The member remembered, if any.
    pub fn member(&self, guild: u64, user: u64) -> Option<Member> {
        self.members.lock().get(&(guild, user)).cloned()
    }

    /// Forget a member who left; returns what was remembered.
    pub fn remove_member(&self, guild: u64, user: u64) -> Option<Member> {
        self.members.lock().pop(&(guild, user))
    }

    /// Forget a user everywhere ("forget user").
    pub fn forget_user(&self, user: u64) {
        let mut members = self.members.lock();
        let keys: Vec<_> = members
            .iter()
            .filter(|((_, u), _)| *u == user)
            .map(|(k, _)| *k)
            .collect();
        for key in keys {
            members.pop(&key);
        }
        for guild in self.guilds.lock().values_mut() {
            guild.voice.remove(&user);
        }
    }

    /// Remember a role; returns what was remembered before.
    pub fn put_role(&self, guild: u64, role: Role) -> Option<Role> {
        self.with(guild, |g| g.roles.insert(role.id, role))
    }

    /// Forget a deleted role; returns what was remembered.
    pub fn remove_role(&self, guild: u64, role: u64) -> Option<Role> {
        self.with(guild, |g| g.roles.remove(&role))
    }

    /// Remember a channel or thread; returns what was remembered before.
    pub fn put_channel(&self, guild: u64, channel: Channel) -> Option<Channel> {
        self.with(guild, |g| g.channels.insert(channel.id, channel))
    }

    /// Forget a deleted channel or thread; returns what was remembered.
    pub fn remove_channel(&self, guild: u64, channel: u64) -> Option<Channel> {
        self.with(guild, |g| g.channels.remove(&channel))
    }

    /// The channel or thread remembered, if any.
    pub fn channel(&self, guild: u64, channel: u64) -> Option<Channel> {
        self.with(guild, |g| g.channels.get(&channel).cloned())
    }

    /// Remember the guild's settings; returns what was remembered before.
    pub fn put_info(&self, guild: u64, info: GuildInfo) -> Option<GuildInfo> {
        self.with(guild, |g| g.info.replace(info))
    }

    /// Remember the guild's emojis; returns the list remembered before.
    pub fn put_emojis(&self, guild: u64, emojis: Vec<Emoji>) -> Option<Vec<Emoji>> {
        self.with(guild, |g| {
            let known = g.info.is_some() || !g.emojis.is_empty();
            let before = std::mem::replace(&mut g.emojis, emojis);
            known.then_some(before)
        })
    }

    /// Remember the guild's stickers; returns the list remembered before.
    pub fn put_stickers(&self, guild: u64, stickers: Vec<Sticker>) -> Option<Vec<Sticker>> {
        self.with(guild, |g| {
            let known = g.info.is_some() || !g.stickers.is_empty();
            let before = std::mem::replace(&mut g.stickers, stickers);
            known.then_some(before)
        })
    }

    /// Remember where a user is in voice (`None`: they left it); returns
    /// where they were, and whether the guild was known at all (a guild
    /// seeded by GUILD_CREATE knows who was in voice: absent means "not in
    /// voice", not "not remembered").
    pub fn put_voice(
        &self,
        guild: u64,
        user: u64,
        now: Option<VoiceState>,
    ) -> (Option<VoiceState>, bool) {
        self.with(guild, |g| {
            let before = match now {
                Some(state) => g.voice.insert(user, state),
                None => g.voice.remove(&user),
            };
            (before, g.info.is_some())
        })
    }

    /// Whether the bot (`bot`) may read the guild's audit log, by its
    /// remembered roles (or ownership); `None` while the guild or the bot's
    /// membership is not remembered.
    pub fn can_read_audit_log(&self, guild: u64, bot: u64) -> Option<bool> {
        let member = self.member(guild, bot)?;
        let guilds = self.guilds.lock();
        let kept = guilds.get(&guild)?;
        if kept.info.as_ref()?.owner_id == bot {
            return Some(true);
        }
        // @everyone's id is the guild's.
        let permissions = std::iter::once(&guild)
            .chain(&member.roles)
            .filter_map(|id| kept.roles.get(id))
            .fold(0, |all, role| all | role.permissions);
        Some(permissions & (VIEW_AUDIT_LOG | ADMINISTRATOR) != 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wit::fixtures::member;

    fn role(id: u64, permissions: u64) -> Role {
        Role {
            id,
            name: format!("role {id}"),
            color: 0,
            position: 0,
            permissions,
            managed: false,
            mentionable: false,
            hoist: false,
            icon: None,
        }
    }

    #[test]
    fn updates_return_what_was_there_before() {
        let memory = GuildMemory::new(10);
        assert_eq!(memory.put_role(1, role(5, 0)), None);
        let before = memory.put_role(1, role(5, 8)).unwrap();
        assert_eq!(before.permissions, 0);
        assert_eq!(memory.remove_role(1, 5).unwrap().permissions, 8);
        assert_eq!(memory.put_member(1, member(4, Some("old"))), None);
        let before = memory.put_member(1, member(4, Some("new"))).unwrap();
        assert_eq!(before.nick.as_deref(), Some("old"));
        assert_eq!(
            memory.remove_member(1, 4).unwrap().nick.as_deref(),
            Some("new")
        );
        assert_eq!(memory.member(1, 4), None);
    }

    #[test]
    fn members_are_kept_by_count_the_least_recent_forgotten() {
        let memory = GuildMemory::new(3);
        for id in 1..=3 {
            memory.put_member(1, member(id, None));
        }
        memory.member(1, 1); // seen again
        memory.put_member(1, member(4, None));
        assert!(memory.member(1, 1).is_some());
        assert!(memory.member(1, 2).is_none(), "the least recent goes");
        assert_eq!(memory.held().1, 3);
        memory.forget_user(4);
        assert!(memory.member(1, 4).is_none());
    }

    #[test]
    fn the_audit_log_is_readable_with_the_permission_or_administrator() {
        let memory = GuildMemory::new(10);
        assert_eq!(memory.can_read_audit_log(1, 9), None, "nothing known yet");
        memory.put_info(
            1,
            GuildInfo {
                id: 1,
                name: "g".into(),
                description: None,
                icon: None,
                owner_id: 2,
                verification_level: 0,
                explicit_content_filter: 0,
                default_notifications: 0,
                mfa_level: 0,
                afk_channel_id: None,
                afk_timeout_seconds: 300,
                system_channel_id: None,
                rules_channel_id: None,
                vanity_url_code: None,
                preferred_locale: "en-US".into(),
                features: vec![],
            },
        );
        memory.put_role(1, role(1, 0)); // @everyone
        memory.put_role(1, role(7, 0));
        memory.put_member(1, member(9, None)); // holds role 7
        assert_eq!(memory.can_read_audit_log(1, 9), Some(false));
        memory.put_role(1, role(7, VIEW_AUDIT_LOG));
        assert_eq!(memory.can_read_audit_log(1, 9), Some(true));
        memory.put_role(1, role(7, 0));
        memory.put_role(1, role(1, ADMINISTRATOR));
        assert_eq!(memory.can_read_audit_log(1, 9), Some(true));
    }
}
