//! The in-process cache: a map with lazy expiry and broadcast channels.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::sync::{broadcast, mpsc};

use super::{Cache, CacheFailure};
use crate::store::kv::parse_integer;

/// The embedded default.
#[derive(Default)]
pub struct InProcessCache {
    entries: Mutex<HashMap<String, (Vec<u8>, Instant)>>,
    channels: Mutex<HashMap<String, broadcast::Sender<String>>>,
}

impl InProcessCache {
    fn channel(&self, name: &str) -> broadcast::Sender<String> {
        self.channels
            .lock()
            .entry(name.to_string())
            .or_insert_with(|| broadcast::channel(256).0)
            .clone()
    }
}

#[async_trait::async_trait]
impl Cache for InProcessCache {
    fn backend(&self) -> &'static str {
        "in-process"
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, CacheFailure> {
        let mut entries = self.entries.lock();
        match entries.get(key) {
            Some((_, expires)) if *expires <= Instant::now() => {
                entries.remove(key);
                Ok(None)
            }
            found => Ok(found.map(|(value, _)| value.clone())),
        }
    }

    async fn set(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), CacheFailure> {
        self.entries
            .lock()
            .insert(key.to_string(), (value, Instant::now() + ttl));
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<bool, CacheFailure> {
        Ok(self
            .entries
            .lock()
            .remove(key)
            .is_some_and(|(_, expires)| expires > Instant::now()))
    }

    async fn increment(&self, key: &str, delta: i64, ttl: Duration) -> Result<i64, CacheFailure> {
        let now = Instant::now();
        let mut entries = self.entries.lock();
        let (current, expires) = match entries.get(key).filter(|(_, expires)| *expires > now) {
            Some((value, expires)) => (
                parse_integer(value).ok_or(CacheFailure::NotAnInteger)?,
                *expires,
            ),
            None => (0, now + ttl),
        };
        let next = current
            .checked_add(delta)
            .ok_or(CacheFailure::NotAnInteger)?;
        entries.insert(key.to_string(), (next.to_string().into_bytes(), expires));
        Ok(next)
    }

    async fn publish(&self, channel: &str, message: &str) -> Result<(), CacheFailure> {
        // No subscriber is not an error.
        let _ = self.channel(channel).send(message.to_string());
        Ok(())
    }

    async fn subscribe(
        &self,
        channel: &str,
    ) -> Result<mpsc::UnboundedReceiver<String>, CacheFailure> {
        let mut source = self.channel(channel).subscribe();
        let (sender, receiver) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            loop {
                match source.recv().await {
                    Ok(message) => {
                        if sender.send(message).is_err() {
                            break;
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => break,
                }
            }
        });
        Ok(receiver)
    }

    async fn ping(&self) -> Result<Duration, CacheFailure> {
        Ok(Duration::ZERO)
    }
}
