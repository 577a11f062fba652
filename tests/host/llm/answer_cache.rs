//! The response cache: opt-in, keyed by guild, cog and the whole request,
//! never shared across guilds or cogs — in process and in Redis.

use std::sync::Arc;
use std::time::Duration;

use baseline_host::cache::{Cache, InProcessCache, RedisCache};
use baseline_host::llm::model::ChatRequest;
use baseline_host::llm::service::Caller;

use super::metered::{ask, setup};

/// Guild ids no earlier run used (Redis keeps answers for a minute).
fn fresh_guild() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        % 1_000_000_000_000
}

async fn answers_stay_with_their_guild_and_cog(cache: Arc<dyn Cache>) {
    let dir = tempfile::tempdir().unwrap();
    let (sim, service, store) = setup(&dir).await;
    let service = service.with_answer_cache(cache);
    let calls = || sim.sim().requests.all().len();
    let minute = Some(Duration::from_secs(60));
    let guild = fresh_guild();
    let other_guild = guild + 1;
    let who = |guild: Option<u64>, cog: &str, user: u64| Caller {
        guild_id: guild,
        cog: cog.into(),
        user_id: Some(user),
    };

    let (first, charged) = service
        .chat(&who(Some(guild), "ask", 7), ask("what is a d20?"), minute)
        .await
        .unwrap();
    assert!(charged.cost_micros > 0 && !charged.cached);
    let after_first = calls();
    // The same request, same guild and cog (another user): from the cache,
    // free, recorded as a hit, no provider called.
    let (again, charged) = service
        .chat(&who(Some(guild), "ask", 8), ask("what is a d20?"), minute)
        .await
        .unwrap();
    assert!(charged.cached && charged.cost_micros == 0);
    assert_eq!(again.text, first.text);
    assert_eq!(calls(), after_first, "answered from the cache");
    let rows = store.recent(guild, 10).await.unwrap();
    assert!(rows[0].cache_hit && rows[0].cost_micros == 0);
    assert!(!rows[1].cache_hit);

    // Another guild never gets the first guild's answer.
    let (_, charged) = service
        .chat(
            &who(Some(other_guild), "ask", 7),
            ask("what is a d20?"),
            minute,
        )
        .await
        .unwrap();
    assert!(!charged.cached);
    assert_eq!(calls(), after_first + 1);
    // Nor does another cog in the same guild.
    let (_, charged) = service
        .chat(&who(Some(guild), "other", 7), ask("what is a d20?"), minute)
        .await
        .unwrap();
    assert!(!charged.cached);
    // Any other parameter is another request.
    let warmer = ChatRequest {
        temperature: Some(1.5),
        ..ask("what is a d20?")
    };
    let (_, charged) = service
        .chat(&who(Some(guild), "ask", 7), warmer, minute)
        .await
        .unwrap();
    assert!(!charged.cached);
    // Opt-in: without a time to keep it, the cache is not read.
    let (_, charged) = service
        .chat(&who(Some(guild), "ask", 7), ask("what is a d20?"), None)
        .await
        .unwrap();
    assert!(!charged.cached);
    // Outside a guild, an answer is the user's own.
    service
        .chat(&who(None, "ask", guild), ask("in a DM"), minute)
        .await
        .unwrap();
    let (_, charged) = service
        .chat(&who(None, "ask", guild + 1), ask("in a DM"), minute)
        .await
        .unwrap();
    assert!(!charged.cached);
    let (_, charged) = service
        .chat(&who(None, "ask", guild), ask("in a DM"), minute)
        .await
        .unwrap();
    assert!(charged.cached);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_cached_in_process_stay_with_their_guild_and_cog() {
    answers_stay_with_their_guild_and_cog(Arc::new(InProcessCache::new(16 << 20))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_cached_in_redis_stay_with_their_guild_and_cog() {
    let redis = RedisCache::connect("redis://127.0.0.1:6379")
        .await
        .expect("Redis on 127.0.0.1:6379");
    answers_stay_with_their_guild_and_cog(Arc::new(redis)).await;
}
