//! The Discord client: the gateway connection, REST, the shard monitor,
//! the interaction handle, and the mapping of Discord's models into the
//! WIT's records and back. It calls no cog: the dispatcher
//! ([`crate::dispatch`]) receives what arrives and runs the cogs.
//!
//! - [`gateway`]: twilight's shards (one task each), the session's facts, events to a [`gateway::Listener`].
//! - [`rest`]: the REST client (per-cog budgets, 429s).
//! - [`interaction`]: one interaction's token and acknowledgement state.
//! - [`incoming`] / [`events`]: twilight's models → WIT records and events.
//! - [`memory`]: what was there before an update (messages, guilds, members).
//! - [`attribution`]: audit-log entries matched to the events they explain.
//! - [`outgoing`] / [`limits`]: WIT → Discord JSON, checked against Discord's limits.
//! - [`shards`]: the shard monitor (state and latency of every shard, in the cache).
//!
//! With a token it talks to discord.com; without one, to the simulator
//! (in-process, or the one at `discord.url`), through the same code.

pub mod attribution;
pub mod events;
pub mod gateway;
pub mod incoming;
pub mod interaction;
pub mod limits;
pub mod memory;
pub mod oauth;
pub mod outgoing;
pub mod rest;
pub mod shards;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use http::Method;
use parking_lot::RwLock;

pub use interaction::InteractionHandle;
use rest::{Body, Rest, RestError};
pub use shards::ShardMonitor;

use crate::config::DiscordConfig;

/// What the `discord` and `interaction` capabilities need: the REST client
/// and which guild each channel belongs to.
pub struct DiscordLink {
    /// The REST client.
    pub rest: Rest,
    channels: RwLock<HashMap<u64, Option<u64>>>,
    /// Where attachments are downloaded: Discord's CDN, or the simulator's
    /// stand-in for it (`{base}/cdn`).
    cdn: String,
    files: reqwest::Client,
    /// Users whose data is being forgotten: the bot's memories listen.
    forgotten: tokio::sync::broadcast::Sender<u64>,
}

/// The addresses Discord serves attachments from; a cog may have the host
/// download nothing else (no fetching of arbitrary URLs through the host).
const CDN_PREFIXES: &[&str] = &[
    "https://cdn.discordapp.com/attachments/",
    "https://media.discordapp.net/attachments/",
];

impl DiscordLink {
    /// A link to `base` with the bot `token`.
    pub fn new(base: &str, token: &str, config: &DiscordConfig) -> Self {
        Self {
            rest: Rest::new(
                base,
                token,
                rest::BudgetRates {
                    per_second: config.cog_rest_per_second,
                    burst: config.cog_rest_burst,
                    cog_per_second: config.cog_rest_total_per_second,
                    cog_burst: config.cog_rest_total_burst,
                },
            ),
            channels: RwLock::new(HashMap::new()),
            cdn: if base.starts_with("https://discord.com") {
                "https://cdn.discordapp.com".into()
            } else {
                format!("{}/cdn", base.trim_end_matches('/'))
            },
            // Never redirected elsewhere: the CDN answers itself or fails.
            files: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap_or_default(),
            forgotten: tokio::sync::broadcast::channel(64).0,
        }
    }

    /// Tell the bot's memories to forget `user` (what they remember of
    /// their messages and membership); the store's copies are the caller's.
    pub fn forget_user(&self, user: u64) {
        let _ = self.forgotten.send(user);
    }

    /// Users to forget, as [`DiscordLink::forget_user`] announces them.
    pub fn forgotten(&self) -> tokio::sync::broadcast::Receiver<u64> {
        self.forgotten.subscribe()
    }

    /// Download the attachment at `url` (one of Discord's attachment
    /// addresses, nothing else), at most `max_bytes`.
    pub async fn download_attachment(
        &self,
        url: &str,
        max_bytes: usize,
    ) -> Result<Vec<u8>, String> {
        let path = attachment_path(url).ok_or_else(|| {
            "only Discord attachment URLs (https://cdn.discordapp.com/attachments/CHANNEL/ID/NAME) can be fetched".to_string()
        })?;
        let mut response = self
            .files
            .get(format!("{}/attachments/{path}", self.cdn))
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .map_err(|e| format!("the attachment could not be fetched: {e}"))?;
        if !response.status().is_success() {
            return Err(format!(
                "the attachment could not be fetched: {}",
                response.status()
            ));
        }
        let mut data = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| format!("the attachment could not be read: {e}"))?
        {
            if data.len() + chunk.len() > max_bytes {
                return Err(format!("the attachment is larger than {max_bytes} bytes"));
            }
            data.extend_from_slice(&chunk);
        }
        Ok(data)
    }

    /// Remember that `channel` is in `guild` (`None`: a DM).
    pub fn note_channel(&self, channel: u64, guild: Option<u64>) {
        self.channels.write().insert(channel, guild);
    }

    /// Forget a deleted channel.
    pub fn forget_channel(&self, channel: u64) {
        self.channels.write().remove(&channel);
    }

    /// The guild of a channel (asking Discord when it is not known yet; the
    /// lookup is charged to `cog`, so a cog naming random channels spends
    /// its own budget, not the bot's).
    pub async fn guild_of(
        &self,
        cog: Option<&str>,
        channel: u64,
    ) -> Result<Option<u64>, RestError> {
        if let Some(guild) = self.channels.read().get(&channel) {
            return Ok(*guild);
        }
        let found = self
            .rest
            .call(
                cog,
                Method::GET,
                &format!("/channels/{channel}"),
                Body::Empty,
                Instant::now() + Duration::from_secs(5),
            )
            .await?;
        let guild = found["guild_id"].as_str().and_then(|g| g.parse().ok());
        self.note_channel(channel, guild);
        Ok(guild)
    }
}

/// `CHANNEL/ID/NAME` of a Discord attachment URL (the query kept): two
/// numeric ids and a plain file name — no dot segments, no escapes, no
/// other path — or `None`.
pub fn attachment_path(url: &str) -> Option<&str> {
    let rest = CDN_PREFIXES.iter().find_map(|p| url.strip_prefix(p))?;
    if rest.contains(['%', '#', '\\']) {
        return None;
    }
    let path = rest.split_once('?').map_or(rest, |(path, _)| path);
    let mut parts = path.split('/');
    let (channel, id, name) = (parts.next()?, parts.next()?, parts.next()?);
    let numeric = |s: &str| !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit());
    let plain = !name.is_empty()
        && name.len() <= 255
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    (parts.next().is_none() && numeric(channel) && numeric(id) && plain).then_some(rest)
}

#[cfg(test)]
mod attachment_tests {
    use super::attachment_path;

    #[test]
    fn only_plain_attachment_urls_pass() {
        let good = "https://cdn.discordapp.com/attachments/123/456/voice-message.ogg";
        assert_eq!(attachment_path(good), Some("123/456/voice-message.ogg"));
        assert!(
            attachment_path("https://media.discordapp.net/attachments/1/2/a.png?ex=1&is=2")
                .is_some()
        );
        for bad in [
            "https://cdn.discordapp.com/attachments/123/456/../../_sim/world",
            "https://cdn.discordapp.com/attachments/123/456/%2e%2e",
            "https://cdn.discordapp.com/attachments/%2e%2e/%2e%2e/_sim/world",
            "https://cdn.discordapp.com/attachments/123/456/a/b.ogg",
            "https://cdn.discordapp.com/attachments/x/456/a.ogg",
            "https://cdn.discordapp.com/attachments/123/456/.hidden",
            "https://cdn.discordapp.com/attachments/123/456/",
            "https://cdn.discordapp.com/attachments/123/456/a.ogg#frag",
            "https://cdn.discordapp.com.evil.example/attachments/1/2/a.ogg",
            "http://cdn.discordapp.com/attachments/1/2/a.ogg",
            "https://evil.example/attachments/1/2/a.ogg",
        ] {
            assert_eq!(attachment_path(bad), None, "{bad}");
        }
    }
}

/// Where the host connects.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// `https://discord.com` or a simulator's `http://127.0.0.1:PORT`.
    pub base: String,
    /// The bot token.
    pub token: String,
    /// Whether it is a simulator (no rate limiter, privileged intents on).
    pub simulated: bool,
}
