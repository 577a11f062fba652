//! Recent messages, remembered so that an edit or a deletion can tell what
//! the message said before. Discord sends only ids when a message is
//! deleted, and only the new state when one is edited; a mod-log needs
//! both sides.
//!
//! Bounded by bytes (an estimate of each message's size in memory), the
//! least recently seen forgotten first; filled only while a loaded cog
//! subscribes to edits or deletions (the dispatcher decides). One memory
//! per process: a guild's events all reach the process running its shard.
//!
//! With a database ([`MessageMemory::persist_to`]) every guild message is
//! also written behind, in batches on a task of its own, to
//! [`RememberedMessages`] — kept for days and within a budget per guild —
//! so that an edit or a deletion after a restart, or of a message the
//! memory let go, still has its `before`: the dispatcher reads the store
//! when the memory misses ([`MessageMemory::recall_stored`]).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use lru::LruCache;
use parking_lot::Mutex;
use tokio::sync::{mpsc, oneshot};

use crate::store::remembered::{Remembered, RememberedMessages};
use crate::wit::types::MessageInfo;

/// Writes waiting for the writer at most; past it they are dropped and
/// counted (the in-process memory still has them).
const WRITES_QUEUED: usize = 16_384;
/// Writes the writer makes in one transaction at most.
const WRITES_PER_BATCH: usize = 256;

/// A change for the store, in the order the memory saw it.
enum Write {
    Put(MessageInfo),
    Delete(Vec<u64>),
    Flush(oneshot::Sender<()>),
}

/// The store behind the memory, and the queue to its writer.
struct Persisted {
    store: RememberedMessages,
    writes: mpsc::Sender<Write>,
    dropped: AtomicU64,
}

/// What one message is taken to cost beyond its strings (the record, the
/// map's entry).
const OVERHEAD: usize = 256;

/// Recent messages by id, within a byte budget.
pub struct MessageMemory {
    budget: usize,
    inner: Mutex<Held>,
    persisted: OnceLock<Persisted>,
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
            persisted: OnceLock::new(),
        }
    }

    /// Write guild messages behind to `store` from now on (once; a second
    /// call changes nothing). Spawns the writer, which ends with the memory.
    pub fn persist_to(&self, store: RememberedMessages) {
        let (writes, queue) = mpsc::channel(WRITES_QUEUED);
        let persisted = Persisted {
            store: store.clone(),
            writes,
            dropped: AtomicU64::new(0),
        };
        if self.persisted.set(persisted).is_ok() {
            tokio::spawn(write_behind(store, queue));
        }
    }

    /// Remember `message` (replacing what was remembered under its id),
    /// here and, for a guild's message, in the store.
    pub fn remember(&self, message: MessageInfo) {
        if message.guild_id.is_some() {
            self.send(Write::Put(message.clone()));
        }
        self.remember_local(message);
    }

    /// Remember `message` here only (the store is written later by
    /// [`MessageMemory::persist`], once what it held was read).
    pub fn remember_local(&self, message: MessageInfo) {
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

    /// The message remembered under `id`, forgotten now (it was deleted),
    /// here and in the store.
    pub fn forget(&self, id: u64) -> Option<MessageInfo> {
        let mut held = self.inner.lock();
        let (message, size) = held.messages.pop(&id)?;
        held.bytes -= size;
        drop(held);
        self.send(Write::Delete(vec![id]));
        Some(message)
    }

    /// Forget every message `user` wrote, here (the store's are deleted by
    /// whoever forgets the user: `RememberedMessages::forget_author`).
    pub fn forget_author(&self, user: u64) -> usize {
        let mut held = self.inner.lock();
        let ids: Vec<u64> = held
            .messages
            .iter()
            .filter(|(_, (m, _))| m.author.id == user)
            .map(|(id, _)| *id)
            .collect();
        for id in &ids {
            if let Some((_, size)) = held.messages.pop(id) {
                held.bytes -= size;
            }
        }
        ids.len()
    }

    /// Whether a store is behind the memory.
    pub fn persists(&self) -> bool {
        self.persisted.get().is_some()
    }

    /// The messages the store kept under `ids` (those it did, readable).
    pub async fn recall_stored(&self, ids: &[u64]) -> Vec<MessageInfo> {
        let Some(persisted) = self.persisted.get() else {
            return Vec::new();
        };
        match persisted.store.get(ids).await {
            Ok(found) => found
                .into_iter()
                .filter_map(|(_, body)| serde_json::from_slice(&body).ok())
                .collect(),
            Err(error) => {
                tracing::warn!(%error, "cannot read the remembered messages; the event has no `before`");
                Vec::new()
            }
        }
    }

    /// Write `message` to the store (after its old version was read).
    pub fn persist(&self, message: MessageInfo) {
        if message.guild_id.is_some() {
            self.send(Write::Put(message));
        }
    }

    /// Delete `ids` from the store (after they were read).
    pub fn forget_stored(&self, ids: Vec<u64>) {
        self.send(Write::Delete(ids));
    }

    /// Wait until every write queued so far is in the store.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if let Some(persisted) = self.persisted.get()
            && persisted.writes.send(Write::Flush(done)).await.is_ok()
        {
            let _ = wait.await;
        }
    }

    /// Writes dropped because the writer fell behind, since start.
    pub fn dropped_writes(&self) -> u64 {
        self.persisted
            .get()
            .map_or(0, |p| p.dropped.load(Ordering::Relaxed))
    }

    fn send(&self, write: Write) {
        if let Some(persisted) = self.persisted.get()
            && persisted.writes.try_send(write).is_err()
        {
            let dropped = persisted.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if dropped.is_power_of_two() {
                tracing::warn!(
                    dropped,
                    "the remembered-messages writer falls behind; messages are kept in memory only"
                );
            }
        }
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

/// The writer: batches of puts in one transaction each, deletions in the
/// order they came, until the memory is dropped.
async fn write_behind(store: RememberedMessages, mut queue: mpsc::Receiver<Write>) {
    let mut puts: Vec<Remembered> = Vec::new();
    while let Some(first) = queue.recv().await {
        let mut next = Some(first);
        while let Some(write) = next.take() {
            match write {
                Write::Put(message) => {
                    if let Ok(body) = serde_json::to_vec(&message) {
                        puts.push(Remembered {
                            message: message.id,
                            guild: message.guild_id.unwrap_or(0),
                            channel: message.channel_id,
                            author: message.author.id,
                            body,
                        });
                    }
                }
                Write::Delete(ids) => {
                    save(&store, &mut puts).await;
                    if let Err(error) = store.delete(&ids).await {
                        tracing::warn!(%error, "cannot forget deleted messages in the store");
                    }
                }
                Write::Flush(done) => {
                    save(&store, &mut puts).await;
                    let _ = done.send(());
                }
            }
            if puts.len() < WRITES_PER_BATCH {
                next = queue.try_recv().ok();
            }
        }
        save(&store, &mut puts).await;
    }
}

async fn save(store: &RememberedMessages, puts: &mut Vec<Remembered>) {
    if puts.is_empty() {
        return;
    }
    if let Err(error) = store.put(puts).await {
        tracing::warn!(%error, count = puts.len(), "cannot write remembered messages; they are kept in memory only");
    }
    puts.clear();
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
