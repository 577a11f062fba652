//! Redis: a `ConnectionManager` (one multiplexed connection that reconnects
//! by itself) for commands, and a resubscribing task per subscription.
//! Commands fail fast (1 s) while the server is away and work again as soon
//! as it is back.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::mpsc;

use super::{Cache, CacheFailure, MAX_SPACE_TTL, Space, SpaceUsage};

/// Each space keeps, beside its values (`{prefix}:{key}`), an index of its
/// keys by expiry time (`{prefix}#index`, a sorted set), their sizes
/// (`{prefix}#sizes`, a hash) and its byte total (`{prefix}#bytes`). The
/// scripts below prune expired keys from them, check the quota and write,
/// atomically. The bookkeeping keys expire a day after the last write, when
/// every value they count has expired too.
const PRUNE: &str = r"
local now = tonumber(ARGV[1])
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)
if #expired > 0 then
  local freed = 0
  for _, member in ipairs(expired) do
    freed = freed + tonumber(redis.call('HGET', KEYS[3], member) or '0')
    redis.call('HDEL', KEYS[3], member)
  end
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
  redis.call('DECRBY', KEYS[4], freed)
end
";

/// Every script's `write(member, text, ttl)`: store `text` as `member` for
/// `ttl` ms if the space's quota (ARGV[5] keys, ARGV[6] bytes) allows, and
/// count it; nil, or the refusal ({1, used keys} or {2, used bytes}).
const WRITE: &str = r"
local function write(member, text, ttl)
  local size = string.len(member) + string.len(text)
  local old = redis.call('HGET', KEYS[3], member)
  local added_keys, added_bytes = 1, size
  if old then added_keys, added_bytes = 0, size - tonumber(old) end
  local used_keys = redis.call('ZCARD', KEYS[2])
  local used_bytes = tonumber(redis.call('GET', KEYS[4]) or '0')
  if added_keys > 0 and used_keys + added_keys > tonumber(ARGV[5]) then return {1, used_keys} end
  if added_bytes > 0 and used_bytes + added_bytes > tonumber(ARGV[6]) then return {2, used_bytes} end
  redis.call('SET', KEYS[1], text, 'PX', ttl)
  redis.call('ZADD', KEYS[2], tonumber(ARGV[1]) + ttl, member)
  redis.call('HSET', KEYS[3], member, size)
  redis.call('INCRBY', KEYS[4], added_bytes)
  for i = 2, 4 do redis.call('PEXPIRE', KEYS[i], ARGV[7]) end
  return nil
end
";

/// KEYS: value, index, sizes, bytes. ARGV: now ms, member, value, ttl ms,
/// max keys, max bytes, bookkeeping ttl ms. Returns {0} or {1, used keys}
/// or {2, used bytes}.
const SPACE_SET: &str = r"
return write(ARGV[2], ARGV[3], tonumber(ARGV[4])) or {0}
";

/// KEYS: value, index, sizes, bytes. ARGV: now ms, member, delta, ttl ms,
/// max keys, max bytes, bookkeeping ttl ms. Returns {0, new value as text}
/// or {1, used keys} or {2, used bytes} or {3} (not an integer).
const SPACE_INCREMENT: &str = r"
local member, ttl = ARGV[2], tonumber(ARGV[4])
local current = redis.call('GET', KEYS[1])
local old = redis.call('HGET', KEYS[3], member)
if current then
  local value = redis.pcall('INCRBY', KEYS[1], ARGV[3])
  if type(value) == 'table' and value.err then return {3} end
  local text = redis.call('GET', KEYS[1])
  local size = string.len(member) + string.len(text)
  if not old then
    -- A value the index does not know (written before it existed): it
    -- joins the space only within the quota.
    local used_keys = redis.call('ZCARD', KEYS[2])
    if used_keys + 1 > tonumber(ARGV[5]) then
      redis.call('INCRBY', KEYS[1], -tonumber(ARGV[3]))
      return {1, used_keys}
    end
    redis.call('ZADD', KEYS[2], tonumber(ARGV[1]) + math.max(redis.call('PTTL', KEYS[1]), 1), member)
    old = 0
  end
  redis.call('HSET', KEYS[3], member, size)
  redis.call('INCRBY', KEYS[4], size - tonumber(old))
  for i = 2, 4 do redis.call('PEXPIRE', KEYS[i], ARGV[7]) end
  -- The new value as text: a Lua number would round past 2^53.
  return {0, text}
end
return write(member, ARGV[3], ttl) or {0, ARGV[3]}
";

/// KEYS: value, index, sizes, bytes. ARGV: now ms, member. Returns DEL's count.
const SPACE_DELETE: &str = r"
local old = redis.call('HGET', KEYS[3], ARGV[2])
if old then
  redis.call('HDEL', KEYS[3], ARGV[2])
  redis.call('ZREM', KEYS[2], ARGV[2])
  redis.call('DECRBY', KEYS[4], tonumber(old))
end
return redis.call('DEL', KEYS[1])
";

/// KEYS: value (unused), index, sizes, bytes. ARGV: now ms. Returns {keys, bytes}.
const SPACE_USAGE: &str = r"
return {redis.call('ZCARD', KEYS[2]), tonumber(redis.call('GET', KEYS[4]) or '0')}
";

fn script(body: &str) -> redis::Script {
    redis::Script::new(&format!("{PRUNE}{WRITE}{body}"))
}

struct Scripts {
    set: redis::Script,
    increment: redis::Script,
    delete: redis::Script,
    usage: redis::Script,
}

fn scripts() -> &'static Scripts {
    static SCRIPTS: std::sync::OnceLock<Scripts> = std::sync::OnceLock::new();
    SCRIPTS.get_or_init(|| Scripts {
        set: script(SPACE_SET),
        increment: script(SPACE_INCREMENT),
        delete: script(SPACE_DELETE),
        usage: script(SPACE_USAGE),
    })
}

fn now_ms() -> i64 {
    crate::store::now_millis()
}

/// The invocation of `script` on `space`'s keys for `member`.
fn on_space<'a>(
    script: &'a redis::Script,
    space: &Space,
    member: &str,
) -> redis::ScriptInvocation<'a> {
    let mut invocation = script.prepare_invoke();
    invocation
        .key(space.key(member))
        .key(format!("{}#index", space.prefix))
        .key(format!("{}#sizes", space.prefix))
        .key(format!("{}#bytes", space.prefix))
        .arg(now_ms())
        .arg(member);
    invocation
}

fn quota_refusal(space: &Space, answer: &[i64]) -> Option<CacheFailure> {
    match answer {
        [1, used, ..] => Some(space.refusal("keys", *used as u64, space.max_keys)),
        [2, used, ..] => Some(space.refusal("bytes", *used as u64, space.max_bytes)),
        [3, ..] => Some(CacheFailure::NotAnInteger),
        _ => None,
    }
}

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

impl RedisCache {
    /// Run a writing space script (`SPACE_SET`, `SPACE_INCREMENT`) for
    /// `key` with `payload`; its answer, or the quota it ran into.
    async fn space_write(
        &self,
        script: &redis::Script,
        space: &Space,
        key: &str,
        payload: impl redis::ToRedisArgs,
        ttl: Duration,
    ) -> Result<Vec<i64>, CacheFailure> {
        let mut invocation = on_space(script, space, key);
        invocation
            .arg(payload)
            .arg(ttl.as_millis().max(1) as u64)
            .arg(space.max_keys)
            .arg(space.max_bytes)
            .arg(MAX_SPACE_TTL.as_millis() as u64 + 60_000);
        let mut connection = self.connection.clone();
        let answer: Vec<i64> = invocation
            .invoke_async(&mut connection)
            .await
            .map_err(unavailable)?;
        match quota_refusal(space, &answer) {
            Some(refusal) => Err(refusal),
            None => Ok(answer),
        }
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

    async fn replace(
        &self,
        key: &str,
        value: Vec<u8>,
        ttl: Duration,
    ) -> Result<bool, CacheFailure> {
        let written: Option<String> = self
            .query(
                redis::cmd("SET")
                    .arg(key)
                    .arg(value)
                    .arg("PX")
                    .arg(ttl.as_millis().max(1) as u64)
                    .arg("XX"),
            )
            .await?;
        Ok(written.is_some())
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

    async fn space_set(
        &self,
        space: &Space,
        key: &str,
        value: Vec<u8>,
        ttl: Duration,
    ) -> Result<(), CacheFailure> {
        self.space_write(&scripts().set, space, key, value, ttl)
            .await
            .map(|_| ())
    }

    async fn space_increment(
        &self,
        space: &Space,
        key: &str,
        delta: i64,
        ttl: Duration,
    ) -> Result<i64, CacheFailure> {
        let answer = self
            .space_write(&scripts().increment, space, key, delta, ttl)
            .await?;
        Ok(answer.get(1).copied().unwrap_or(0))
    }

    async fn space_delete(&self, space: &Space, key: &str) -> Result<bool, CacheFailure> {
        let invocation = on_space(&scripts().delete, space, key);
        let mut connection = self.connection.clone();
        let removed: i64 = invocation
            .invoke_async(&mut connection)
            .await
            .map_err(unavailable)?;
        Ok(removed > 0)
    }

    async fn space_usage(&self, prefix: &str) -> Result<Vec<(String, SpaceUsage)>, CacheFailure> {
        // SCAN the index keys of the spaces under `prefix` (operator-facing,
        // never on a cog's path).
        let mut connection = self.connection.clone();
        let mut cursor = 0u64;
        let mut spaces = Vec::new();
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(format!("{}*#index", escape_glob(prefix)))
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut connection)
                .await
                .map_err(unavailable)?;
            spaces.extend(
                keys.into_iter()
                    .filter_map(|k| k.strip_suffix("#index").map(String::from)),
            );
            if next == 0 {
                break;
            }
            cursor = next;
        }
        spaces.sort();
        let mut found = Vec::new();
        for prefix in spaces {
            let space = Space {
                prefix,
                max_keys: 0,
                max_bytes: 0,
            };
            let answer: Vec<i64> = on_space(&scripts().usage, &space, "-")
                .invoke_async(&mut connection)
                .await
                .map_err(unavailable)?;
            if let [keys, bytes, ..] = answer[..]
                && keys > 0
            {
                found.push((
                    space.prefix,
                    SpaceUsage {
                        keys: keys as u64,
                        bytes: bytes.max(0) as u64,
                    },
                ));
            }
        }
        Ok(found)
    }
}

/// `text` with Redis glob characters escaped.
fn escape_glob(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}
