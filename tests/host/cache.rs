//! The cache suite on both back ends — in-process and the real Redis on
//! 127.0.0.1:6379 — plus pub/sub, and Redis going away and coming back
//! (a Redis server of the test's own, on another port).

use std::sync::Arc;
use std::time::Duration;

use baseline_host::cache::{Cache, CacheFailure, InProcessCache, RedisCache, Space};

use crate::support::{OwnRedis, free_port};

fn unique(prefix: &str) -> String {
    format!(
        "test:{}:{}:{prefix}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

async fn suite(cache: Arc<dyn Cache>) {
    let key = |name: &str| unique(name);
    let (a, n, t, gone) = (key("a"), key("n"), key("t"), key("gone"));
    assert_eq!(cache.get(&a).await.unwrap(), None);
    cache
        .set(&a, b"1".to_vec(), Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(cache.get(&a).await.unwrap().unwrap(), b"1");
    // `replace` writes only over a live value.
    assert!(
        cache
            .replace(&a, b"2".to_vec(), Duration::from_secs(60))
            .await
            .unwrap()
    );
    assert_eq!(cache.get(&a).await.unwrap().unwrap(), b"2");
    assert!(cache.delete(&a).await.unwrap());
    assert!(!cache.delete(&a).await.unwrap());
    assert!(
        !cache
            .replace(&a, b"3".to_vec(), Duration::from_secs(60))
            .await
            .unwrap(),
        "nothing brought back after a delete"
    );
    assert_eq!(cache.get(&a).await.unwrap(), None);

    cache
        .set(&gone, b"x".to_vec(), Duration::from_millis(50))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(120)).await;
    assert_eq!(cache.get(&gone).await.unwrap(), None, "expired");

    assert_eq!(
        cache
            .increment(&n, 2, Duration::from_millis(300))
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        cache
            .increment(&n, 3, Duration::from_secs(60))
            .await
            .unwrap(),
        5,
        "the first TTL stays"
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        cache
            .increment(&n, 1, Duration::from_secs(60))
            .await
            .unwrap(),
        1,
        "the counter expired"
    );
    cache
        .set(&t, b"text".to_vec(), Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(
        cache.increment(&t, 1, Duration::from_secs(60)).await,
        Err(CacheFailure::NotAnInteger)
    );

    let mut tasks = Vec::new();
    let race = key("race");
    for _ in 0..50 {
        let (cache, race) = (cache.clone(), race.clone());
        tasks.push(tokio::spawn(async move {
            cache
                .increment(&race, 1, Duration::from_secs(60))
                .await
                .unwrap()
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(
        cache
            .increment(&race, 0, Duration::from_secs(60))
            .await
            .unwrap(),
        50
    );

    // Pub/sub: two subscribers both get the notice.
    let channel = key("channel");
    let mut first = cache.subscribe(&channel).await.unwrap();
    let mut second = cache.subscribe(&channel).await.unwrap();
    cache
        .publish(&channel, "cog reloaded: reference")
        .await
        .unwrap();
    for receiver in [&mut first, &mut second] {
        let message = tokio::time::timeout(Duration::from_secs(5), receiver.recv())
            .await
            .expect("a notice")
            .unwrap();
        assert_eq!(message, "cog reloaded: reference");
    }
    assert!(cache.ping().await.is_ok());
}

/// A cog's space: its quota in keys and bytes, replacements counted by
/// difference, deletes and expiry giving room back, counters counted,
/// other spaces apart; usage as the operator sees it.
async fn space_suite(cache: Arc<dyn Cache>) {
    let space = |name: &str| Space {
        prefix: unique(name),
        max_keys: 3,
        max_bytes: 100,
    };
    let (s, other) = (space("s"), space("other"));
    cache
        .space_set(&s, "a", vec![1; 30], Duration::from_secs(60))
        .await
        .unwrap(); // 31
    cache
        .space_set(&s, "b", vec![2; 30], Duration::from_secs(60))
        .await
        .unwrap(); // 62
    let refused = cache
        .space_set(&s, "c", vec![3; 40], Duration::from_secs(60))
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, CacheFailure::QuotaExceeded(m) if m.contains("100 bytes")),
        "{refused:?}"
    );
    assert_eq!(cache.get(&s.key("c")).await.unwrap(), None);
    // Replacing counts the difference; the value reads back under its key.
    cache
        .space_set(&s, "a", vec![1; 5], Duration::from_secs(60))
        .await
        .unwrap(); // 37
    assert_eq!(cache.get(&s.key("a")).await.unwrap().unwrap(), vec![1; 5]);
    assert_eq!(
        cache
            .space_increment(&s, "n", 5, Duration::from_secs(60))
            .await
            .unwrap(),
        5
    );
    assert_eq!(
        cache
            .space_increment(&s, "n", 2, Duration::from_secs(60))
            .await
            .unwrap(),
        7
    ); // 3 keys
    let refused = cache
        .space_set(&s, "d", vec![], Duration::from_secs(60))
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, CacheFailure::QuotaExceeded(m) if m.contains("3 keys")),
        "{refused:?}"
    );
    // Another space is apart.
    cache
        .space_set(&other, "d", vec![0; 90], Duration::from_secs(60))
        .await
        .unwrap();
    // Deleting and expiring give room back.
    assert!(cache.space_delete(&s, "b").await.unwrap());
    assert!(!cache.space_delete(&s, "b").await.unwrap());
    cache
        .space_set(&s, "short", vec![0; 50], Duration::from_millis(30))
        .await
        .unwrap();
    let usage = cache.space_usage(&s.prefix).await.unwrap();
    assert_eq!(usage.len(), 1, "{usage:?}");
    assert_eq!(usage[0].1.keys, 3, "{usage:?}");
    tokio::time::sleep(Duration::from_millis(60)).await;
    assert_eq!(cache.get(&s.key("short")).await.unwrap(), None);
    cache
        .space_set(&s, "e", vec![0; 50], Duration::from_secs(60))
        .await
        .expect("the expired key no longer counts");
    assert!(
        matches!(
            cache
                .space_increment(&s, "a", 1, Duration::from_secs(60))
                .await,
            Err(CacheFailure::NotAnInteger)
        ),
        "a non-integer value is not a counter"
    );
    // Counters are exact to the last bit (no float on the way).
    let big = Space {
        prefix: unique("big"),
        max_keys: 10,
        max_bytes: 1_000,
    };
    let ttl = Duration::from_secs(60);
    assert_eq!(
        cache
            .space_increment(&big, "n", i64::MAX - 1, ttl)
            .await
            .unwrap(),
        i64::MAX - 1
    );
    assert_eq!(
        cache.space_increment(&big, "n", 1, ttl).await.unwrap(),
        i64::MAX
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_in_process() {
    suite(Arc::new(InProcessCache::default())).await;
    space_suite(Arc::new(InProcessCache::default())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_redis() {
    let redis = RedisCache::connect("redis://127.0.0.1:6379")
        .await
        .expect("Redis on 127.0.0.1:6379");
    suite(Arc::new(redis.clone())).await;
    space_suite(Arc::new(redis)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_going_away_fails_clearly_and_recovers_by_itself() {
    let port = free_port();
    let server = OwnRedis::start(port);
    let cache = Arc::new(server.connect().await);
    let mut notices = cache.subscribe("notices").await.unwrap();
    cache
        .set("k", b"v".to_vec(), Duration::from_secs(60))
        .await
        .unwrap();

    drop(server);
    let started = std::time::Instant::now();
    let error = cache.get("k").await.unwrap_err();
    assert!(matches!(error, CacheFailure::Unavailable(_)), "{error}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "fails fast: {:?}",
        started.elapsed()
    );
    assert!(cache.ping().await.is_err());

    let _server = OwnRedis::start(port);
    let recovered = Arc::new(std::sync::atomic::AtomicBool::new(false));
    for _ in 0..200 {
        if cache.ping().await.is_ok() {
            recovered.store(true, std::sync::atomic::Ordering::Relaxed);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        recovered.load(std::sync::atomic::Ordering::Relaxed),
        "commands work again without a new client"
    );
    // The new server is empty (nothing persisted), and writes work.
    cache
        .set("k", b"again".to_vec(), Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(cache.get("k").await.unwrap().unwrap(), b"again");
    // The subscription came back too.
    let mut delivered = false;
    for _ in 0..100 {
        cache.publish("notices", "back").await.unwrap();
        if let Ok(Some(message)) =
            tokio::time::timeout(Duration::from_millis(100), notices.recv()).await
        {
            assert_eq!(message, "back");
            delivered = true;
            break;
        }
    }
    assert!(delivered, "the subscription resubscribed by itself");
}

/// Every key a cog's space leaves in Redis expires: its values and the
/// space's own bookkeeping.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_redis_key_of_a_space_has_a_ttl() {
    let cache = RedisCache::connect("redis://127.0.0.1:6379")
        .await
        .expect("Redis on 127.0.0.1:6379");
    let space = Space {
        prefix: unique("ttl"),
        max_keys: 10,
        max_bytes: 1_000,
    };
    cache
        .space_set(&space, "v", b"x".to_vec(), Duration::from_secs(30))
        .await
        .unwrap();
    cache
        .space_increment(&space, "n", 1, Duration::from_secs(30))
        .await
        .unwrap();
    let client = redis::Client::open("redis://127.0.0.1:6379").unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{}*", space.prefix))
        .query_async(&mut connection)
        .await
        .unwrap();
    assert_eq!(
        keys.len(),
        5,
        "two values and three bookkeeping keys: {keys:?}"
    );
    for key in keys {
        let ttl: i64 = redis::cmd("PTTL")
            .arg(&key)
            .query_async(&mut connection)
            .await
            .unwrap();
        assert!(ttl > 0, "{key} has no time to live ({ttl})");
    }
}
