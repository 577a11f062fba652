//! Redis: a `ConnectionManager` (one multiplexed connection that reconnects
//! by itself) for commands, and a resubscribing task per subscription.
//! Commands fail fast (1 s) while the server is away and work again as soon
//! as it is back.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::mpsc;

use super::{Cache, CacheFailure};

/// A cache in Redis.
#[derive(Clone)]
pub struct RedisCache {
    client: redis::Client,
    connection: ConnectionManager,
}

fn unavailable(error: redis::RedisError) -> CacheFailure {
    CacheFailure::Unavailable(error.to_string())
}

impl RedisCache {
    /// Connect to `url` (`redis://host:port/db`).
    pub async fn connect(url: &str) -> Result<Self, CacheFailure> {
        let client = redis::Client::open(url).map_err(unavailable)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Duration::from_secs(1))
            .set_response_timeout(Duration::from_secs(1))
            .set_number_of_retries(2)
            .set_max_delay(500);
        let connection = ConnectionManager::new_with_config(client.clone(), config)
            .await
            .map_err(unavailable)?;
        Ok(Self { client, connection })
    }

    async fn query<T: redis::FromRedisValue>(
        &self,
        command: &redis::Cmd,
    ) -> Result<T, CacheFailure> {
        let mut connection = self.connection.clone();
        command
            .query_async(&mut connection)
            .await
            .map_err(unavailable)
    }
}

#[async_trait::async_trait]
impl Cache for RedisCache {
    fn backend(&self) -> &'static str {
        "redis"
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, CacheFailure> {
        self.query(redis::cmd("GET").arg(key)).await
    }

    async fn set(&self, key: &str, value: Vec<u8>, ttl: Duration) -> Result<(), CacheFailure> {
        self.query(
            redis::cmd("SET")
                .arg(key)
                .arg(value)
                .arg("PX")
                .arg(ttl.as_millis().max(1) as u64),
        )
        .await
    }

    async fn delete(&self, key: &str) -> Result<bool, CacheFailure> {
        let removed: i64 = self.query(redis::cmd("DEL").arg(key)).await?;
        Ok(removed > 0)
    }

    async fn increment(&self, key: &str, delta: i64, ttl: Duration) -> Result<i64, CacheFailure> {
        // Create with the TTL only if missing, then add: one atomic transaction.
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("SET")
            .arg(key)
            .arg(0)
            .arg("NX")
            .arg("PX")
            .arg(ttl.as_millis().max(1) as u64)
            .ignore()
            .cmd("INCRBY")
            .arg(key)
            .arg(delta);
        let mut connection = self.connection.clone();
        let result: Result<(i64,), redis::RedisError> = pipe.query_async(&mut connection).await;
        match result {
            Ok((value,)) => Ok(value),
            Err(error) if error.to_string().contains("not an integer") => {
                Err(CacheFailure::NotAnInteger)
            }
            Err(error) => Err(unavailable(error)),
        }
    }

    async fn publish(&self, channel: &str, message: &str) -> Result<(), CacheFailure> {
        let _receivers: i64 = self
            .query(redis::cmd("PUBLISH").arg(channel).arg(message))
            .await?;
        Ok(())
    }

    async fn subscribe(
        &self,
        channel: &str,
    ) -> Result<mpsc::UnboundedReceiver<String>, CacheFailure> {
        let (sender, receiver) = mpsc::unbounded_channel();
        // The first subscription is made before returning, so a message
        // published right after `subscribe` returns is not missed.
        let mut pubsub = self.client.get_async_pubsub().await.map_err(unavailable)?;
        pubsub.subscribe(channel).await.map_err(unavailable)?;
        let client = self.client.clone();
        let channel = channel.to_string();
        tokio::spawn(async move {
            let mut pubsub = Some(pubsub);
            let mut delay = Duration::from_millis(100);
            loop {
                if let Some(mut current) = pubsub.take() {
                    let mut messages = current.on_message();
                    while let Some(message) = messages.next().await {
                        let Ok(text) = message.get_payload::<String>() else {
                            continue;
                        };
                        if sender.send(text).is_err() {
                            return; // nobody listens any more
                        }
                    }
                    delay = Duration::from_millis(100);
                    tracing::warn!(channel, "lost the Redis subscription; resubscribing");
                }
                if sender.is_closed() {
                    return;
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
                if let Ok(mut fresh) = client.get_async_pubsub().await
                    && fresh.subscribe(&channel).await.is_ok()
                {
                    pubsub = Some(fresh);
                }
            }
        });
        Ok(receiver)
    }

    async fn ping(&self) -> Result<Duration, CacheFailure> {
        let started = Instant::now();
        let _: String = self.query(&redis::cmd("PING")).await?;
        Ok(started.elapsed())
    }
}
