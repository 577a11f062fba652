//! What the host remembers of Discord so that an update can say what was
//! there before it: Discord sends only the new state of anything that
//! changes, and only ids of what is deleted.
//!
//! - [`messages`]: recent messages (edits and deletions), by bytes.
//! - [`guilds`]: each guild's settings, roles, channels and threads,
//!   emojis, stickers and voice states, seeded when the guild arrives and
//!   kept by the events that change them; and members, by count.
//!
//! Both are filled only while a loaded cog gets the `before` they serve
//! (the dispatcher decides), in the order the gateway's events arrive.

pub mod guilds;
pub mod messages;

pub use guilds::GuildMemory;
pub use messages::MessageMemory;
