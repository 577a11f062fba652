use baseline_host::store::Database;
use baseline_host::store::llm::{Budget, LlmStore, Period};

const GUILD: u64 = 42;
/// 2026-11-29T12:00:00Z.
const NOON: i64 = 1_795_953_600_000;

async fn stores(url: &str) -> (LlmStore, LlmStore) {
    // Two pools: two processes of one bot sharing its database.
    let first = Database::connect(url).await.unwrap();
    first.migrate().await.unwrap();
    let second = Database::connect(url).await.unwrap();
    (LlmStore::new(first), LlmStore::new(second))
}

async fn sqlite_url(dir: &tempfile::TempDir) -> String {
    Database::sqlite_url(dir.path())
}

async fn limits_reservations_and_resets(store: &LlmStore) {
    store
        .set_budget(&Budget {
            guild_id: GUILD,
            cog: None,
            period: Period::Daily,
            limit_micros: 1_000,
        })
        .await
        .unwrap();
    store
        .set_budget(&Budget {
            guild_id: GUILD,
            cog: Some("ask".into()),
            period: Period::Monthly,
            limit_micros: 600,
        })
        .await
        .unwrap();
    // Within both: reserved on both, settled at the real cost.
    let held = store
        .reserve(GUILD, "ask", 400, NOON)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(held.rows.len(), 2);
    assert_eq!(
        store.spend(GUILD, None, Period::Daily, NOON).await.unwrap(),
        (0, 400)
    );
    store.settle(&held, 150).await.unwrap();
    assert_eq!(
        store.spend(GUILD, None, Period::Daily, NOON).await.unwrap(),
        (150, 0)
    );
    assert_eq!(
        store
            .spend(GUILD, Some("ask"), Period::Monthly, NOON)
            .await
            .unwrap(),
        (150, 0)
    );
    // Over the cog's monthly budget (150 + 500 > 600): refused, named,
    // and nothing reserved anywhere.
    let refused = store
        .reserve(GUILD, "ask", 500, NOON)
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(
        (refused.cog.as_deref(), refused.period),
        (Some("ask"), Period::Monthly)
    );
    assert_eq!(
        store.spend(GUILD, None, Period::Daily, NOON).await.unwrap(),
        (150, 0)
    );
    // Another cog only meets the guild's budget.
    let other = store
        .reserve(GUILD, "other", 800, NOON)
        .await
        .unwrap()
        .unwrap();
    store.settle(&other, 800).await.unwrap();
    assert!(
        store
            .reserve(GUILD, "other", 100, NOON)
            .await
            .unwrap()
            .is_err(),
        "the guild's day is spent"
    );
    // The next day is a new window; an admin's reset empties this one.
    assert!(
        store
            .reserve(GUILD, "other", 100, NOON + 86_400_000)
            .await
            .unwrap()
            .is_ok()
    );
    store.reset(GUILD, None, Period::Daily, NOON).await.unwrap();
    assert_eq!(
        store.spend(GUILD, None, Period::Daily, NOON).await.unwrap(),
        (0, 0)
    );
    // No budget: nothing to reserve on, always allowed.
    let free = store
        .reserve(7, "ask", 1_000_000, NOON)
        .await
        .unwrap()
        .unwrap();
    assert!(free.rows.is_empty());
}

/// Two processes, twenty calls each at once, against a budget with room
/// for ten: exactly ten pass, and the spend never passes the limit.
async fn two_processes_cannot_overspend(first: LlmStore, second: LlmStore) {
    first
        .set_budget(&Budget {
            guild_id: GUILD,
            cog: None,
            period: Period::Daily,
            limit_micros: 1_000,
        })
        .await
        .unwrap();
    let mut calls = Vec::new();
    for n in 0..40 {
        let store = if n % 2 == 0 {
            first.clone()
        } else {
            second.clone()
        };
        calls.push(tokio::spawn(async move {
            match store.reserve(GUILD, "ask", 100, NOON).await.unwrap() {
                Ok(held) => {
                    store.settle(&held, 100).await.unwrap();
                    true
                }
                Err(_) => false,
            }
        }));
    }
    let mut passed = 0;
    for call in calls {
        passed += usize::from(call.await.unwrap());
    }
    assert_eq!(passed, 10);
    assert_eq!(
        first.spend(GUILD, None, Period::Daily, NOON).await.unwrap(),
        (1_000, 0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn budgets_hold_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let (first, _) = stores(&sqlite_url(&dir).await).await;
    limits_reservations_and_resets(&first).await;
    let dir = tempfile::tempdir().unwrap();
    let (first, second) = stores(&sqlite_url(&dir).await).await;
    two_processes_cannot_overspend(first, second).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn budgets_hold_on_postgres() {
    let (first, _) = stores(&crate::store::fresh_postgres_url().await).await;
    limits_reservations_and_resets(&first).await;
    let (first, second) = stores(&crate::store::fresh_postgres_url().await).await;
    two_processes_cannot_overspend(first, second).await;
}
