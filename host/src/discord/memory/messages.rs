//! Recent messages, remembered so that an edit or a deletion can tell what
//! the message said before. Discord sends only ids when a message is
//! deleted, and only the new state when one is edited; a mod-log needs
//! both sides.
//!
//! Bounded by bytes (an estimate of each message's size in memory), the
//! least recently seen forgotten first; filled only while a loaded cog
//! subscribes to edits or deletions (the dispatcher decides). One memory
//! per process: a guild's events all reach the process running its shard.

use lru::LruCache;
use parking_lot::Mutex;

use crate::wit::types::MessageInfo;

/// What one message is taken to cost beyond its strings (the record, the
/// map's entry).
const OVERHEAD: usize = 256;

/// Recent messages by id, within a byte budget.
pub struct MessageMemory {
    budget: usize,
    inner: Mutex<Held>,
}

struct Held {
    messages: LruCache<u64, (MessageInfo, usize)>,
    bytes: usize,
}

impl MessageMemory {
    /// A memory holding at most `budget` bytes of messages (0: none).
    pub fn new(budget: usize) -> Self {
        Self {
            budget,
            inner: Mutex::new(Held {
                messages: LruCache::unbounded(),
                bytes: 0,
            }),
        }
    }

    /// Remember `message` (replacing what was remembered under its id).
    pub fn remember(&self, message: MessageInfo) {
        let size = size_of(&message);
        let mut held = self.inner.lock();
        if size > self.budget {
            // Too big to keep: what was kept under its id is out of date.
            if let Some((_, old)) = held.messages.pop(&message.id) {
                held.bytes -= old;
            }
            return;
        }
        if let Some((_, old)) = held.messages.put(message.id, (message, size)) {
            held.bytes -= old;
        }
        held.bytes += size;
        while held.bytes > self.budget {
            match held.messages.pop_lru() {
                Some((_, (_, freed))) => held.bytes -= freed,
                None => break,
            }
        }
    }

    /// The message remembered under `id`, if any.
    pub fn recall(&self, id: u64) -> Option<MessageInfo> {
        self.inner.lock().messages.get(&id).map(|(m, _)| m.clone())
    }

    /// The message remembered under `id`, forgotten now (it was deleted).
    pub fn forget(&self, id: u64) -> Option<MessageInfo> {
        let mut held = self.inner.lock();
        let (message, size) = held.messages.pop(&id)?;
        held.bytes -= size;
        Some(message)
    }

    /// Forget everything.
    pub fn clear(&self) {
        let mut held = self.inner.lock();
        held.messages.clear();
        held.bytes = 0;
    }

    /// Messages and bytes held now.
    pub fn held(&self) -> (usize, usize) {
        let held = self.inner.lock();
        (held.messages.len(), held.bytes)
    }
}

/// The estimated bytes `message` holds.
fn size_of(message: &MessageInfo) -> usize {
    let author = &message.author;
    let attachments: usize = message
        .attachments
        .iter()
        .map(|a| {
            OVERHEAD / 2
                + a.filename.len()
                + a.url.len()
                + a.content_type.as_ref().map_or(0, String::len)
        })
        .sum();
    OVERHEAD
        + message.content.len()
        + message.timestamp.len()
        + message.edited_timestamp.as_ref().map_or(0, String::len)
        + author.username.len()
        + author.global_name.as_ref().map_or(0, String::len)
        + attachments
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::wit::fixtures::message;

    #[test]
    fn remembers_replaces_and_forgets() {
        let memory = MessageMemory::new(1 << 20);
        memory.remember(message(1, "first"));
        memory.remember(message(1, "edited"));
        assert_eq!(memory.recall(1).unwrap().content, "edited");
        assert_eq!(memory.held().0, 1);
        assert_eq!(memory.forget(1).unwrap().content, "edited");
        assert_eq!(memory.recall(1), None);
        assert_eq!(memory.held(), (0, 0));
        memory.remember(message(2, "kept"));
        memory.clear();
        assert_eq!((memory.recall(2), memory.held()), (None, (0, 0)));
    }

    #[test]
    fn stays_within_its_budget_forgetting_the_least_recent() {
        let one = size_of(&message(0, &"x".repeat(1000)));
        let memory = MessageMemory::new(one * 10);
        for id in 0..100 {
            memory.remember(message(id, &"x".repeat(1000)));
            // Seen again: 5 stays among the recent.
            memory.recall(5);
        }
        let (count, bytes) = memory.held();
        assert_eq!(count, 10);
        assert!(bytes <= one * 10);
        assert!(memory.recall(5).is_some(), "the recently seen is kept");
        assert!(memory.recall(0).is_none(), "the oldest is forgotten");
        assert!(memory.recall(99).is_some());
    }

    #[test]
    fn a_zero_budget_remembers_nothing() {
        let memory = MessageMemory::new(0);
        memory.remember(message(1, "hi"));
        assert_eq!(memory.recall(1), None);
        assert_eq!(memory.held(), (0, 0));
    }
}
