//! The store suite, run the same on every back end: in-process, SQLite (a
//! fresh file) and Postgres (a fresh database on 127.0.0.1:5432, as on the
//! development and CI machines). Plus a cog writing through the real store
//! and its data surviving a restart.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use baseline_host::capabilities::Services;
use baseline_host::runtime::{Answer, Call};
use baseline_host::store::kv::{InProcessKv, KvStore, Namespace, Partition, Quota, SqlKv};
use baseline_host::store::settings::{InProcessSettings, SettingsStore, SqlSettings};
use baseline_host::store::{Database, StoreError};
use baseline_host::wit::types::{CommandResponse, OptionEntry, OptionValue};
use serde_json::json;

use crate::support::*;

const POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/test";

/// A fresh, migrated Postgres database of its own.
async fn postgres() -> Database {
    let db = Database::connect(&fresh_postgres_url().await)
        .await
        .unwrap();
    db.migrate().await.unwrap();
    db.migrate().await.expect("migrating twice is a no-op");
    db
}

/// The URL of a fresh, empty Postgres database of its own (stale ones of
/// earlier runs are dropped first).
pub async fn fresh_postgres_url() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let name = format!(
        "baseline_test_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let admin = Database::connect(POSTGRES)
        .await
        .expect("Postgres on 127.0.0.1:5432 (user postgres, database test)");
    let baseline_host::store::Pool::Postgres(pool) = admin.pool() else {
        unreachable!()
    };
    // Databases left by earlier test runs (another process id) go first.
    static SWEPT: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    SWEPT
        .get_or_init(|| async {
            let stale: Vec<(String,)> = sqlx::query_as(
                "SELECT datname FROM pg_database WHERE datname LIKE 'baseline_test_%'",
            )
            .fetch_all(pool)
            .await
            .unwrap();
            let mine = format!("baseline_test_{}_", std::process::id());
            for (name,) in stale.into_iter().filter(|(name,)| !name.starts_with(&mine)) {
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(pool)
                    .await;
            }
        })
        .await;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name}"))
        .execute(pool)
        .await
        .unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(pool)
        .await
        .unwrap();
    format!("postgres://postgres@127.0.0.1:5432/{name}")
}

/// A fresh, migrated SQLite file (the directory lives as long as the test).
async fn sqlite(dir: &tempfile::TempDir) -> Database {
    let db = Database::connect(&Database::sqlite_url(dir.path()))
        .await
        .unwrap();
    db.migrate().await.unwrap();
    db.migrate().await.expect("migrating twice is a no-op");
    db
}

fn ns(cog: &str, partition: Partition) -> Namespace {
    Namespace {
        cog: cog.into(),
        partition,
    }
}

async fn kv_suite(kv: Arc<dyn KvStore>) {
    // Namespaces are apart.
    kv.set(
        &ns("a", Partition::Guild(1)),
        "k",
        b"a1".to_vec(),
        None,
        Quota::UNLIMITED,
    )
    .await
    .unwrap();
    kv.set(
        &ns("b", Partition::Guild(1)),
        "k",
        b"b1".to_vec(),
        None,
        Quota::UNLIMITED,
    )
    .await
    .unwrap();
    kv.set(
        &ns("a", Partition::Guild(2)),
        "k",
        b"a2".to_vec(),
        None,
        Quota::UNLIMITED,
    )
    .await
    .unwrap();
    kv.set(
        &ns("a", Partition::User { guild: 1, user: 7 }),
        "k",
        b"u7".to_vec(),
        None,
        Quota::UNLIMITED,
    )
    .await
    .unwrap();
    assert_eq!(
        kv.get(&ns("a", Partition::Guild(1)), "k")
            .await
            .unwrap()
            .unwrap(),
        b"a1"
    );
    assert_eq!(
        kv.get(&ns("b", Partition::Guild(1)), "k")
            .await
            .unwrap()
            .unwrap(),
        b"b1"
    );
    assert_eq!(
        kv.get(&ns("a", Partition::Guild(2)), "k")
            .await
            .unwrap()
            .unwrap(),
        b"a2"
    );
    assert_eq!(
        kv.get(&ns("a", Partition::User { guild: 1, user: 7 }), "k")
            .await
            .unwrap()
            .unwrap(),
        b"u7"
    );
    assert_eq!(
        kv.get(&ns("a", Partition::Global), "k").await.unwrap(),
        None
    );
    // Overwrite and delete.
    kv.set(
        &ns("a", Partition::Guild(1)),
        "k",
        b"again".to_vec(),
        None,
        Quota::UNLIMITED,
    )
    .await
    .unwrap();
    assert_eq!(
        kv.get(&ns("a", Partition::Guild(1)), "k")
            .await
            .unwrap()
            .unwrap(),
        b"again"
    );
    assert!(kv.delete(&ns("b", Partition::Guild(1)), "k").await.unwrap());
    assert!(!kv.delete(&ns("b", Partition::Guild(1)), "k").await.unwrap());

    // Listing pages through a prefix, bytewise, without other namespaces.
    let space = ns("list", Partition::Guild(1));
    for i in 0..25 {
        kv.set(
            &space,
            &format!("item:{i:02}"),
            vec![],
            None,
            Quota::UNLIMITED,
        )
        .await
        .unwrap();
    }
    for other in ["item", "itemz", "Item:1", "other"] {
        kv.set(&space, other, vec![], None, Quota::UNLIMITED)
            .await
            .unwrap();
    }
    kv.set(
        &ns("list", Partition::Guild(2)),
        "item:99",
        vec![],
        None,
        Quota::UNLIMITED,
    )
    .await
    .unwrap();
    let mut all = Vec::new();
    let mut cursor = None;
    loop {
        let page = kv
            .list(&space, "item:", cursor.as_deref(), 10)
            .await
            .unwrap();
        assert!(page.keys.len() <= 10);
        all.extend(page.keys);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(
        all,
        (0..25).map(|i| format!("item:{i:02}")).collect::<Vec<_>>()
    );

    // Increment: counts, refuses text, survives concurrency.
    let counters = ns("count", Partition::Global);
    assert_eq!(
        kv.increment(&counters, "n", 5, Quota::UNLIMITED)
            .await
            .unwrap(),
        5
    );
    assert_eq!(
        kv.increment(&counters, "n", -2, Quota::UNLIMITED)
            .await
            .unwrap(),
        3
    );
    assert_eq!(kv.get(&counters, "n").await.unwrap().unwrap(), b"3");
    kv.set(&counters, "t", b"hello".to_vec(), None, Quota::UNLIMITED)
        .await
        .unwrap();
    assert_eq!(
        kv.increment(&counters, "t", 1, Quota::UNLIMITED).await,
        Err(StoreError::NotAnInteger)
    );
    let mut tasks = Vec::new();
    for _ in 0..40 {
        let kv = kv.clone();
        tasks.push(tokio::spawn(async move {
            kv.increment(&ns("count", Partition::Global), "race", 1, Quota::UNLIMITED)
                .await
                .unwrap()
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(
        kv.increment(&counters, "race", 0, Quota::UNLIMITED)
            .await
            .unwrap(),
        40,
        "no increment lost"
    );

    // Expiry.
    let expiring = ns("ttl", Partition::Guild(1));
    kv.set(
        &expiring,
        "short",
        b"v".to_vec(),
        Some(Duration::from_millis(50)),
        Quota::UNLIMITED,
    )
    .await
    .unwrap();
    kv.set(
        &expiring,
        "long",
        b"v".to_vec(),
        Some(Duration::from_secs(3600)),
        Quota::UNLIMITED,
    )
    .await
    .unwrap();
    assert!(kv.get(&expiring, "short").await.unwrap().is_some());
    tokio::time::sleep(Duration::from_millis(80)).await;
    assert_eq!(kv.get(&expiring, "short").await.unwrap(), None);
    assert!(kv.get(&expiring, "long").await.unwrap().is_some());
    assert_eq!(
        kv.list(&expiring, "", None, 10).await.unwrap().keys,
        ["long"]
    );
    assert_eq!(
        kv.increment(&expiring, "short", 1, Quota::UNLIMITED)
            .await
            .unwrap(),
        1,
        "an expired value counts as absent"
    );

    // Forgetting a user removes their keys in every cog and guild, nothing else.
    kv.set(
        &ns("b", Partition::User { guild: 2, user: 7 }),
        "k",
        vec![1],
        None,
        Quota::UNLIMITED,
    )
    .await
    .unwrap();
    kv.set(
        &ns("a", Partition::User { guild: 1, user: 8 }),
        "k",
        vec![1],
        None,
        Quota::UNLIMITED,
    )
    .await
    .unwrap();
    assert_eq!(kv.forget_user(7).await.unwrap(), 2);
    assert_eq!(
        kv.get(&ns("a", Partition::User { guild: 1, user: 7 }), "k")
            .await
            .unwrap(),
        None
    );
    assert!(
        kv.get(&ns("a", Partition::User { guild: 1, user: 8 }), "k")
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        kv.get(&ns("a", Partition::Guild(1)), "k")
            .await
            .unwrap()
            .is_some()
    );
}

/// Quotas are exact and per (cog, guild); deletes, expiry sweeps and
/// forgetting give room back; the global space has its own count.
async fn quota_suite(kv: Arc<dyn KvStore>) {
    use baseline_host::store::kv::Usage;
    let quota = Quota {
        keys: 3,
        bytes: 100,
        total_bytes: u64::MAX,
    };
    let guild = ns("q", Partition::Guild(5));
    let user = ns("q", Partition::User { guild: 5, user: 9 });
    let usage = |kv: Arc<dyn KvStore>| async move {
        kv.usage(Some("q"))
            .await
            .unwrap()
            .into_iter()
            .map(|u| (u.guild_id, u.usage))
            .collect::<Vec<_>>()
    };
    kv.set(&guild, "a", vec![0; 30], None, quota).await.unwrap(); // 31 bytes
    kv.set(&user, "b", vec![0; 30], None, quota).await.unwrap(); // 62
    // A third key that would pass the bytes is refused, naming the quota.
    let refused = kv
        .set(&guild, "c", vec![0; 40], None, quota)
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, StoreError::QuotaExceeded(m) if m.contains("100 bytes") && m.contains("guild 5")),
        "{refused:?}"
    );
    // Replacing a value counts only the difference; shrinking always works.
    kv.set(&guild, "a", vec![0; 60], None, quota).await.unwrap(); // 92
    kv.set(&guild, "a", vec![0; 1], None, quota).await.unwrap(); // 33
    kv.set(&guild, "c", vec![0; 9], None, quota).await.unwrap(); // 43, 3 keys
    let refused = kv.increment(&guild, "d", 1, quota).await.unwrap_err();
    assert!(
        matches!(&refused, StoreError::QuotaExceeded(m) if m.contains("3 keys")),
        "{refused:?}"
    );
    assert_eq!(
        usage(kv.clone()).await,
        vec![(5, Usage { keys: 3, bytes: 43 })]
    );
    // Another guild and the global space count apart.
    kv.set(&ns("q", Partition::Guild(6)), "a", vec![0; 90], None, quota)
        .await
        .unwrap();
    kv.set(&ns("q", Partition::Global), "g", vec![0; 90], None, quota)
        .await
        .unwrap();
    // Deleting and forgetting give room back.
    assert!(kv.delete(&guild, "c").await.unwrap());
    assert_eq!(kv.forget_user(9).await.unwrap(), 1);
    assert_eq!(
        usage(kv.clone()).await,
        vec![
            (0, Usage { keys: 1, bytes: 91 }),
            (5, Usage { keys: 1, bytes: 2 }),
            (6, Usage { keys: 1, bytes: 91 }),
        ]
    );
    // Expired keys still take room until swept; the sweep gives it back.
    kv.set(
        &guild,
        "t1",
        vec![0; 40],
        Some(Duration::from_millis(1)),
        quota,
    )
    .await
    .unwrap();
    kv.set(
        &guild,
        "t2",
        vec![0; 40],
        Some(Duration::from_millis(1)),
        quota,
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(kv.get(&guild, "t1").await.unwrap(), None);
    assert!(kv.set(&guild, "x", vec![0; 10], None, quota).await.is_err());
    assert_eq!(kv.sweep_expired(100).await.unwrap(), 2);
    assert_eq!(kv.sweep_expired(100).await.unwrap(), 0);
    kv.set(&guild, "x", vec![0; 10], None, quota).await.unwrap();
    assert_eq!(
        usage(kv.clone()).await[1],
        (5, Usage { keys: 2, bytes: 13 })
    );
    // Racing writers of one guild never pass the quota together.
    let tight = Quota {
        keys: 1_000,
        bytes: 10 * 21,
        total_bytes: u64::MAX,
    };
    let racing = ns("race", Partition::Guild(1));
    let mut tasks = Vec::new();
    for i in 0..40 {
        let kv = kv.clone();
        let racing = racing.clone();
        tasks.push(tokio::spawn(async move {
            kv.set(&racing, &format!("k{i:02}"), vec![0; 18], None, tight)
                .await
                .is_ok()
        }));
    }
    let mut stored = 0;
    for task in tasks {
        stored += u64::from(task.await.unwrap());
    }
    assert_eq!(stored, 10, "exactly ten 21-byte writes fit in 210 bytes");
    let used = kv.usage(Some("race")).await.unwrap();
    assert_eq!(
        used[0].usage,
        Usage {
            keys: 10,
            bytes: 210
        }
    );
    // Across guilds: each guild within its own quota, the cog's total
    // bounded all the same (a cog writing in every guild it is in).
    let everywhere = Quota {
        keys: 100,
        bytes: 1_000,
        total_bytes: 100,
    };
    for guild in 1..=3 {
        kv.set(
            &ns("wide", Partition::Guild(guild)),
            "k",
            vec![0; 29],
            None,
            everywhere,
        )
        .await
        .unwrap(); // 30 bytes each, 90 in all
    }
    let refused = kv
        .set(
            &ns("wide", Partition::Guild(4)),
            "k",
            vec![0; 29],
            None,
            everywhere,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, StoreError::QuotaExceeded(m)
            if m.contains("across all its guilds") && m.contains("kv_total_bytes") && m.contains("90 of 100")),
        "{refused:?}"
    );
    let refused = kv
        .set(
            &ns("wide", Partition::Global),
            "k",
            vec![0; 29],
            None,
            everywhere,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(refused, StoreError::QuotaExceeded(_)),
        "the global space counts too"
    );
    // Other cogs are not affected; a delete gives room back.
    kv.set(
        &ns("narrow", Partition::Guild(4)),
        "k",
        vec![0; 29],
        None,
        everywhere,
    )
    .await
    .unwrap();
    assert!(
        kv.delete(&ns("wide", Partition::Guild(1)), "k")
            .await
            .unwrap()
    );
    kv.set(
        &ns("wide", Partition::Guild(4)),
        "k",
        vec![0; 29],
        None,
        everywhere,
    )
    .await
    .unwrap();
}

async fn settings_suite(settings: Arc<dyn SettingsStore>, timestamps: bool) {
    // Racing writers: every audit row's `before` is the `after` of the one
    // before it — no two writers read the same `before`.
    let mut writers = Vec::new();
    for i in 0..12 {
        let settings = settings.clone();
        writers.push(tokio::spawn(async move {
            settings
                .put("race", 1, json!({"n": i}), Some(i))
                .await
                .unwrap();
        }));
    }
    for writer in writers {
        writer.await.unwrap();
    }
    let mut history = settings.history("race", 1, 50).await.unwrap();
    history.reverse();
    assert_eq!(history.len(), 12);
    assert_eq!(history[0].before, None);
    for pair in history.windows(2) {
        assert_eq!(
            pair[1].before.as_ref(),
            Some(&pair[0].after),
            "an audit row recorded a stale `before`"
        );
    }

    assert_eq!(settings.get("reference", 1).await.unwrap(), None);
    settings
        .put("reference", 1, json!({"max_count": 3}), Some(42))
        .await
        .unwrap();
    settings
        .put("reference", 1, json!({"max_count": 4}), Some(43))
        .await
        .unwrap();
    settings
        .put("reference", 2, json!({"max_count": 9}), None)
        .await
        .unwrap();
    settings.put("status", 1, json!({}), None).await.unwrap();
    assert_eq!(
        settings.get("reference", 1).await.unwrap(),
        Some(json!({"max_count": 4}))
    );
    assert_eq!(
        settings.get("reference", 2).await.unwrap(),
        Some(json!({"max_count": 9}))
    );
    let history = settings.history("reference", 1, 10).await.unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(
        (
            history[0].actor_id,
            history[0].before.clone(),
            history[0].after.clone()
        ),
        (
            Some(43),
            Some(json!({"max_count": 3})),
            json!({"max_count": 4})
        )
    );
    assert_eq!(
        (history[1].actor_id, history[1].before.clone()),
        (Some(42), None)
    );
    if timestamps {
        assert!(
            history[0].at.starts_with("20") && history[0].at.ends_with('Z'),
            "{}",
            history[0].at
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kv_in_process() {
    kv_suite(Arc::new(InProcessKv::default())).await;
    quota_suite(Arc::new(InProcessKv::default())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kv_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite(&dir).await;
    kv_suite(Arc::new(SqlKv::new(db.clone()))).await;
    quota_suite(Arc::new(SqlKv::new(db))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kv_postgres() {
    let db = postgres().await;
    kv_suite(Arc::new(SqlKv::new(db.clone()))).await;
    quota_suite(Arc::new(SqlKv::new(db))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_in_process() {
    settings_suite(Arc::new(InProcessSettings::default()), false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    settings_suite(Arc::new(SqlSettings::new(sqlite(&dir).await)), true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_postgres() {
    settings_suite(Arc::new(SqlSettings::new(postgres().await)), true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_url_or_a_missing_server_is_a_clear_error() {
    let error = Database::connect("mysql://x").await.unwrap_err();
    assert!(matches!(error, StoreError::InvalidUrl(_)), "{error}");
    let error = Database::connect_with_retry("postgres://postgres@127.0.0.1:1/none", 2)
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Unavailable(_)), "{error}");
}

/// The reference cog's counters go through SQLite and survive a restart
/// of the host (a new runtime over the same database file).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cog_writes_through_the_database_and_its_data_survives_a_restart() {
    let data = tempfile::tempdir().unwrap();
    let cogs = tempfile::tempdir().unwrap();
    install("reference", cogs.path(), "reference.wasm");
    let roll = |runtime: Arc<baseline_host::runtime::Runtime>| async move {
        let cog = runtime.registry().get("reference").unwrap();
        let options = vec![OptionEntry {
            name: "count".into(),
            value: OptionValue::Integer(3),
        }];
        let invocation = command("dice", Some("roll"), options, GUILD, USER);
        runtime
            .invoke(
                &cog,
                scope("reference", &invocation),
                Call::Command(invocation),
            )
            .await
            .unwrap();
        let stats = command("dice", Some("stats"), vec![], GUILD, USER);
        match runtime
            .invoke(&cog, scope("reference", &stats), Call::Command(stats))
            .await
            .unwrap()
        {
            Answer::Command(Ok(CommandResponse::Reply(reply))) => {
                reply.message.embeds[0].fields[0].value.clone()
            }
            other => panic!("{other:?}"),
        }
    };
    for expected in ["3", "6"] {
        let db = sqlite(&data).await;
        let runtime =
            baseline_host::runtime::Runtime::new(config(cogs.path()), Services::with_database(db))
                .unwrap();
        runtime.load_dir().await;
        assert_eq!(roll(runtime).await, expected);
    }
}

/// A Postgres server of the test's own (initdb in a temporary folder, run as
/// the `postgres` user), so the test can stop and restart it.
struct OwnPostgres {
    dir: tempfile::TempDir,
    bin: std::path::PathBuf,
    port: u16,
}

impl OwnPostgres {
    fn as_postgres(&self, program: &str, args: &[&str]) -> bool {
        std::process::Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join(program))
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    }

    fn create() -> Self {
        let versions = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL server binaries in /usr/lib/postgresql");
        let bin = versions
            .filter_map(Result::ok)
            .map(|e| e.path().join("bin"))
            .find(|b| b.join("initdb").exists())
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::process::Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(dir.path())
            .status()
            .unwrap();
        let port = free_port();
        let server = OwnPostgres { dir, bin, port };
        let data = server.dir.path().join("data");
        assert!(
            server.as_postgres(
                "initdb",
                &[
                    "-D",
                    data.to_str().unwrap(),
                    "-A",
                    "trust",
                    "-U",
                    "postgres"
                ]
            ),
            "initdb"
        );
        server
    }

    fn start(&self) {
        let data = self.dir.path().join("data");
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            self.port,
            self.dir.path().display()
        );
        assert!(
            self.as_postgres(
                "pg_ctl",
                &["-D", data.to_str().unwrap(), "-o", &options, "-w", "start"]
            ),
            "pg_ctl start"
        );
    }

    fn stop(&self) {
        let data = self.dir.path().join("data");
        self.as_postgres(
            "pg_ctl",
            &[
                "-D",
                data.to_str().unwrap(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
        );
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The database going away while the host runs: health names it, kv calls
/// fail with a clear error, and everything works again when it is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn losing_the_database_is_reported_and_recovered_from() {
    let server = OwnPostgres::create();
    server.start();
    let db = Database::connect(&server.url()).await.unwrap();
    db.migrate().await.unwrap();
    let kv = SqlKv::new(db.clone());
    let space = ns("a", Partition::Guild(1));
    kv.set(&space, "k", b"before".to_vec(), None, Quota::UNLIMITED)
        .await
        .unwrap();

    server.stop();
    let started = std::time::Instant::now();
    assert!(
        db.ping().await.is_err(),
        "ping fails while the server is down"
    );
    let error = kv.get(&space, "k").await.unwrap_err();
    assert!(matches!(error, StoreError::Unavailable(_)), "{error}");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "failed in {:?}",
        started.elapsed()
    );

    server.start();
    let mut back = false;
    for _ in 0..100 {
        if db.ping().await.is_ok() {
            back = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(back, "the pool reconnects by itself");
    assert_eq!(
        kv.get(&space, "k").await.unwrap().unwrap(),
        b"before",
        "the data is still there"
    );
}

/// A cog that tries every way of naming another cog's keys finds nothing,
/// on the real database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cog_cannot_reach_another_cogs_keys_through_the_database() {
    let data = tempfile::tempdir().unwrap();
    let cogs = tempfile::tempdir().unwrap();
    install("reference", cogs.path(), "reference.wasm");
    install("hostile", cogs.path(), "hostile.wasm");
    let runtime = baseline_host::runtime::Runtime::new(
        config(cogs.path()),
        Services::with_database(sqlite(&data).await),
    )
    .unwrap();
    runtime.load_dir().await;
    let reference = runtime.registry().get("reference").unwrap();
    let roll = command("dice", Some("roll"), vec![], GUILD, USER);
    runtime
        .invoke(&reference, scope("reference", &roll), Call::Command(roll))
        .await
        .unwrap();

    let hostile = runtime.registry().get("hostile").unwrap();
    let peek = command("peek", None, vec![], GUILD, USER);
    let answer = runtime
        .invoke(&hostile, scope("hostile", &peek), Call::Command(peek))
        .await
        .unwrap();
    let Answer::Command(Ok(CommandResponse::Reply(reply))) = &answer else {
        panic!("{answer:?}")
    };
    assert_eq!(reply.message.content.as_deref(), Some("found [] listed []"));
    // The reference cog's own view still has its counter.
    let stats = command("dice", Some("stats"), vec![], GUILD, USER);
    let answer = runtime
        .invoke(&reference, scope("reference", &stats), Call::Command(stats))
        .await
        .unwrap();
    assert!(format!("{answer:?}").contains("value: \"1\""), "{answer:?}");
}

async fn guilds_suite(db: Database) {
    use baseline_host::store::guilds::GuildStore;
    let store = GuildStore::new(db);
    assert!(store.joined(7, "Seven", 70).await.unwrap(), "a new install");
    assert!(
        !store.joined(7, "Seven renamed", 70).await.unwrap(),
        "seen again at start-up"
    );
    assert_eq!(
        store.authorized_users(7).await.unwrap(),
        [(70, "owner".to_string())]
    );
    let guild = store.get(7).await.unwrap().unwrap();
    assert_eq!((guild.name.as_str(), guild.active), ("Seven renamed", true));
    assert!(store.left(7).await.unwrap());
    assert!(
        !store.left(7).await.unwrap(),
        "leaving twice changes nothing"
    );
    assert!(!store.get(7).await.unwrap().unwrap().active);
    assert!(
        store.joined(7, "Seven", 71).await.unwrap(),
        "back after leaving: a new install"
    );
    assert_eq!(store.list().await.unwrap().len(), 1);
    assert_eq!(
        store.authorized_users(7).await.unwrap(),
        [(71, "owner".to_string())],
        "the new owner replaces the old: owner-derived access ends with ownership"
    );
    assert!(
        store.cog_enabled(7, "dice").await.unwrap(),
        "on unless turned off"
    );
    store
        .set_cog_enabled(7, "dice", false, Some(70))
        .await
        .unwrap();
    assert!(!store.cog_enabled(7, "dice").await.unwrap());
    assert!(
        store.cog_enabled(8, "dice").await.unwrap(),
        "only in that guild"
    );

    // A gateway delivers GUILD_CREATE for many guilds at once (start-up,
    // a burst of installs): every one is recorded, none fails because
    // another was being written (SQLite: "database is locked").
    let joins = (0..64u64).map(|n| {
        let store = store.clone();
        tokio::spawn(async move { store.joined(1_000 + n, "Burst", 70).await })
    });
    for join in futures_util::future::join_all(joins).await {
        assert!(join.unwrap().unwrap(), "a new install");
    }
    assert_eq!(store.list().await.unwrap().len(), 65);
}

#[tokio::test]
async fn guilds_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    guilds_suite(sqlite(&dir).await).await;
}

#[tokio::test]
async fn guilds_postgres() {
    guilds_suite(postgres().await).await;
}

async fn access_suite(db: Database) {
    use baseline_host::store::access::{AccessStore, MemberGuild, Refusal, Role, Tier, UserRecord};
    use baseline_host::store::guilds::GuildStore;
    let guilds = GuildStore::new(db.clone());
    let access = AccessStore::new(db.clone());
    let access_db = db;
    // Grants need the bot in the guild.
    assert_eq!(
        access.change(8, 1, 2, Some(Tier::Viewer)).await.unwrap(),
        Err(Refusal::UnknownGuild)
    );
    guilds.joined(8, "Eight", 80).await.unwrap();
    assert_eq!(access.role(8, 80).await.unwrap(), Some(Role::Owner));
    // The owner grants; each change is in the history with before and after.
    assert_eq!(
        access.change(8, 80, 81, Some(Tier::Editor)).await.unwrap(),
        Ok(None)
    );
    assert_eq!(
        access.change(8, 80, 81, Some(Tier::Admin)).await.unwrap(),
        Ok(Some(Role::Granted(Tier::Editor)))
    );
    assert_eq!(
        access.role(8, 81).await.unwrap(),
        Some(Role::Granted(Tier::Admin))
    );
    assert_eq!(
        access.roles_of(81).await.unwrap(),
        [(8, Role::Granted(Tier::Admin))]
    );
    // The owner's role is Discord's, not the dashboard's.
    assert_eq!(
        access.change(8, 81, 80, None).await.unwrap(),
        Err(Refusal::Owner)
    );
    // The owner leaves; the guild still has admin 81, then 81 cannot go.
    guilds.joined(8, "Eight", 82).await.unwrap();
    assert_eq!(
        access.role(8, 80).await.unwrap(),
        None,
        "owner-derived access ends"
    );
    assert_eq!(access.role(8, 82).await.unwrap(), Some(Role::Owner));
    assert_eq!(
        access.change(8, 82, 81, None).await.unwrap(),
        Ok(Some(Role::Granted(Tier::Admin)))
    );
    let history = access.history(8, 10).await.unwrap();
    type Summary<'a> = (Option<u64>, u64, Option<&'a str>, Option<&'a str>);
    let summary: Vec<Summary> = history
        .iter()
        .map(|c| {
            (
                c.actor_id,
                c.user_id,
                c.before.as_deref(),
                c.after.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (Some(82), 81, Some("admin"), None),
            (None, 82, None, Some("owner")),
            (None, 80, Some("owner"), None),
            (Some(80), 81, Some("editor"), Some("admin")),
            (Some(80), 81, None, Some("editor")),
            (None, 80, None, Some("owner")),
        ]
    );
    // An ownership transfer to someone with a grant makes it ownership.
    guilds.joined(9, "Nine", 90).await.unwrap();
    access
        .change(9, 90, 91, Some(Tier::Editor))
        .await
        .unwrap()
        .unwrap();
    guilds.joined(9, "Nine", 91).await.unwrap();
    assert_eq!(access.role(9, 91).await.unwrap(), Some(Role::Owner));

    // The last admin cannot go. (The owner's row always exists for a guild
    // the bot is in; drop it here to leave granted admins only.)
    guilds.joined(10, "Ten", 100).await.unwrap();
    access
        .change(10, 100, 101, Some(Tier::Admin))
        .await
        .unwrap()
        .unwrap();
    drop_owner_row(&access_db, 10).await;
    assert_eq!(
        access.change(10, 101, 101, None).await.unwrap(),
        Err(Refusal::LastAdmin)
    );
    assert_eq!(
        access
            .change(10, 101, 101, Some(Tier::Editor))
            .await
            .unwrap(),
        Err(Refusal::LastAdmin)
    );
    // Two admins removing each other at once: exactly one wins.
    access
        .change(10, 101, 102, Some(Tier::Admin))
        .await
        .unwrap()
        .unwrap();
    let (a, b) = tokio::join!(
        access.change(10, 101, 102, None),
        access.change(10, 102, 101, None)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert!(a.is_ok() != b.is_ok(), "{a:?} {b:?}");
    assert_eq!(
        access
            .list(10)
            .await
            .unwrap()
            .iter()
            .filter(|u| u.role.tier() == Tier::Admin)
            .count(),
        1
    );

    // API tokens: stored by hash, listed without it, revoked by their owner only.
    let id = access.create_token(81, "ci", "hash-1", None).await.unwrap();
    access
        .create_token(81, "old", "hash-2", Some(1))
        .await
        .unwrap();
    assert_eq!(access.token_user("hash-1").await.unwrap(), Some(81));
    assert_eq!(access.token_user("hash-2").await.unwrap(), None, "expired");
    assert_eq!(access.token_user("nope").await.unwrap(), None);
    let tokens = access.tokens(81).await.unwrap();
    assert_eq!(tokens.len(), 2);
    assert!(
        tokens
            .iter()
            .any(|t| t.id == id && t.last_used_at_ms.is_some())
    );
    assert!(!access.revoke_token(99, &id).await.unwrap(), "not theirs");
    assert!(access.revoke_token(81, &id).await.unwrap());
    assert_eq!(access.token_user("hash-1").await.unwrap(), None);

    // What Discord said about a user is kept for their API tokens.
    let record = UserRecord {
        user_id: 81,
        username: "grace".into(),
        developer: false,
        guilds: vec![MemberGuild {
            id: 8,
            name: "Eight".into(),
            icon: None,
            owner: false,
            permissions: 1 << 5,
        }],
        refreshed_at_ms: 5,
    };
    access.save_user(&record).await.unwrap();
    assert_eq!(access.user(81).await.unwrap(), Some(record.clone()));
    assert!(record.guilds[0].manages());
}

async fn drop_owner_row(db: &Database, guild: i64) {
    let sql = "DELETE FROM authorized_users WHERE guild_id = $1 AND role = 'owner'";
    match db.pool() {
        baseline_host::store::Pool::Postgres(pool) => {
            sqlx::query(sql).bind(guild).execute(pool).await.unwrap();
        }
        baseline_host::store::Pool::Sqlite(pool) => {
            sqlx::query(sql).bind(guild).execute(pool).await.unwrap();
        }
    }
}

#[tokio::test]
async fn access_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    access_suite(sqlite(&dir).await).await;
}

#[tokio::test]
async fn access_postgres() {
    access_suite(postgres().await).await;
}

/// Remembered messages: kept by id, trimmed by age and by each guild's
/// byte budget (oldest first), forgotten by author.
async fn remembered_suite(db: Database) {
    use baseline_host::store::remembered::{Remembered, RememberedMessages};
    let store = RememberedMessages::new(db);
    let message = |id: u64, guild: u64, author: u64| Remembered {
        message: id,
        guild,
        channel: 10,
        author,
        body: vec![b'x'; 100],
    };
    // Guild 1: ten messages, written one by one so each is newer.
    for id in 1..=10 {
        store.put(&[message(id, 1, 100 + id % 2)]).await.unwrap();
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    store.put(&[message(50, 2, 101)]).await.unwrap();
    assert_eq!(store.held(1).await.unwrap(), (10, 1_000));
    let found = store.get(&[3, 4, 99]).await.unwrap();
    assert_eq!(found.iter().map(|(id, _)| *id).collect::<Vec<_>>(), [3, 4]);
    // A put replaces.
    let mut edited = message(3, 1, 101);
    edited.body = b"edited".to_vec();
    store.put(&[edited]).await.unwrap();
    assert_eq!(store.get(&[3]).await.unwrap()[0].1, b"edited");

    // Within 450 bytes a guild keeps its newest: 3 (just edited, 6 bytes)
    // and 10, 9, 8, 7 (400) — the oldest went.
    let gone = store.trim(86_400_000, 450).await.unwrap();
    assert_eq!(gone, 5, "1, 2, 4, 5, 6");
    let kept: Vec<u64> = store
        .get(&(1..=10).collect::<Vec<_>>())
        .await
        .unwrap()
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(kept, [3, 7, 8, 9, 10]);
    assert_eq!(store.held(2).await.unwrap().0, 1, "another guild untouched");

    // Forgetting an author, in every guild.
    let forgotten = store.forget_author(101).await.unwrap();
    assert_eq!(forgotten, 4, "3, 7, 9 and guild 2's 50");
    assert_eq!(store.held(2).await.unwrap().0, 0);
    assert_eq!(store.delete(&[8, 8]).await.unwrap(), 1);
    // By age: everything is older than 0 ms from now, soon.
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert_eq!(store.trim(1, 1 << 30).await.unwrap(), 1);
    assert_eq!(store.held(1).await.unwrap(), (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remembered_messages_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    remembered_suite(sqlite(&dir).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remembered_messages_postgres() {
    remembered_suite(postgres().await).await;
}

/// Timers: set and replaced by name, bounded per cog and guild, due ones
/// taken once, cancelled by name, other cogs and guilds apart.
async fn timers_suite(db: Database) {
    use baseline_host::store::timers::{Timer, TimerError, Timers};
    let timers = Timers::new(db);
    let timer = |cog: &str, guild: u64, name: &str, due_at: i64| Timer {
        cog: cog.into(),
        guild,
        name: name.into(),
        due_at,
        payload: format!("{name}!"),
    };
    timers.set(&timer("a", 1, "x", 100), 2).await.unwrap();
    timers.set(&timer("a", 1, "y", 200), 2).await.unwrap();
    assert_eq!(
        timers.set(&timer("a", 1, "z", 300), 2).await,
        Err(TimerError::TooMany(2)),
        "a third in the guild passes the bound"
    );
    // Replacing one by name is not a third; another guild or cog has its own.
    timers.set(&timer("a", 1, "x", 50), 2).await.unwrap();
    timers.set(&timer("a", 2, "z", 300), 2).await.unwrap();
    timers.set(&timer("b", 1, "z", 300), 2).await.unwrap();
    assert_eq!(
        timers.pending("a", 1).await.unwrap(),
        vec![("x".to_string(), 50), ("y".to_string(), 200)]
    );
    let due = timers.due(250, 10).await.unwrap();
    assert_eq!(due.len(), 2);
    assert_eq!((due[0].name.as_str(), due[0].payload.as_str()), ("x", "x!"));
    // Taken once; a timer replaced since it was read is not taken.
    assert!(timers.take(&due[0]).await.unwrap());
    assert!(!timers.take(&due[0]).await.unwrap());
    timers.set(&timer("a", 1, "y", 900), 2).await.unwrap();
    assert!(!timers.take(&due[1]).await.unwrap(), "y was moved to 900");
    assert_eq!(timers.next_due().await.unwrap(), Some(300));
    assert!(timers.cancel("a", 1, "y").await.unwrap());
    assert!(!timers.cancel("a", 1, "y").await.unwrap());
    assert_eq!(timers.forget_cog("b").await.unwrap(), 1);
    assert_eq!(timers.pending("a", 2).await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timers_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    timers_suite(sqlite(&dir).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timers_postgres() {
    timers_suite(postgres().await).await;
}
