//! The PostgreSQL store against the conformance suite, in a schema of its own
//! that is dropped afterwards. Needs `KEKSDOSE_TEST_POSTGRES` (a URL such as
//! `postgres://postgres@127.0.0.1/test`, which `.ci/run` sets); without it the
//! test says that it skipped.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use keksdose_store::conformance;
use keksdose_store_postgres::PgStore;

/// A fresh schema on the test database, and the URL that uses it.
async fn schema() -> Option<(tokio_postgres::Client, String, String)> {
    let Ok(url) = std::env::var("KEKSDOSE_TEST_POSTGRES") else {
        eprintln!("SKIPPED: KEKSDOSE_TEST_POSTGRES is not set (a PostgreSQL URL)");
        return None;
    };
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("KEKSDOSE_TEST_POSTGRES={url}: {e}"));
    tokio::spawn(connection);
    let mut bytes = [0u8; 6];
    getrandom::fill(&mut bytes).unwrap();
    let name = format!(
        "kd_test_{}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    );
    client
        .batch_execute(&format!("CREATE SCHEMA {name}"))
        .await
        .unwrap();
    let sep = if url.contains('?') { '&' } else { '?' };
    let with_schema = format!("{url}{sep}options=-csearch_path%3D{name}");
    Some((client, name, with_schema))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn passes_the_conformance_suite() {
    let Some((admin, name, url)) = schema().await else {
        return;
    };
    {
        let store = Arc::new(PgStore::connect(&url).await.unwrap());
        conformance::run(store.clone()).await;
        // A second instance on the same database sees what the first wrote.
        let other = PgStore::connect(&url).await.unwrap();
        use keksdose_store::Store;
        assert_eq!(
            other.head("seal").await.unwrap(),
            store.head("seal").await.unwrap()
        );
    }
    admin
        .batch_execute(&format!("DROP SCHEMA {name} CASCADE"))
        .await
        .unwrap();
}

/// Records are stored packed; a row written before migration 4 (its JSON text
/// in `record`) is read as it was, in every read, and erasure packs it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn packed_rows_and_rows_from_before_migration_4_are_both_read() {
    use keksdose_shared::Action;
    use keksdose_store::{Change, Selection, Store};
    let Some((admin, name, url)) = schema().await else {
        return;
    };
    {
        let store = PgStore::connect(&url).await.unwrap();
        let config = conformance::config();
        store
            .create_site(conformance::site("old"), config.clone())
            .await
            .unwrap();
        let mut written = Vec::new();
        for (i, id) in ["a", "b", "a"].iter().enumerate() {
            let key = format!("k{i}");
            let d = conformance::draft(&config, id, Action::AcceptAll, Some(&key));
            written.push(store.append("old", d).await.unwrap());
        }
        // New rows: packed, no text, and far smaller than the text.
        let rows = admin
            .query(
                &format!(
                    "SELECT seq, record IS NULL, octet_length(packed) FROM {name}.records ORDER BY seq"
                ),
                &[],
            )
            .await
            .unwrap();
        for (row, record) in rows.iter().zip(&written) {
            assert!(row.get::<_, bool>(1), "record {} kept as text", record.seq);
            let packed = row.get::<_, i32>(2) as usize;
            let text = serde_json::to_string(record).unwrap().len();
            assert!(packed * 2 < text, "{packed} B packed for {text} B of text");
        }
        // Record 2 as a release before migration 4 wrote it.
        let text = serde_json::to_string(&written[1]).unwrap();
        admin
            .execute(
                &format!(
                    "UPDATE {name}.records SET record = $1, packed = NULL WHERE site = 'old' AND seq = 2"
                ),
                &[&text],
            )
            .await
            .unwrap();
        // A fresh instance (nothing cached) reads both forms everywhere.
        let fresh = PgStore::connect(&url).await.unwrap();
        assert_eq!(fresh.records("old", 1, 3, 10).await.unwrap(), written);
        assert_eq!(
            fresh.consent("old", "b").await.unwrap(),
            vec![written[1].clone()]
        );
        let all = fresh
            .select("old", &Selection::default(), 0, 10)
            .await
            .unwrap();
        assert_eq!(all, written);
        // The key of the old row still finds its record, not a new one.
        let again = fresh
            .append(
                "old",
                conformance::draft(&config, "b", Action::AcceptAll, Some("k1")),
            )
            .await
            .unwrap();
        assert_eq!(again, written[1]);
        assert_eq!(fresh.head("old").await.unwrap().unwrap().seq, 3);
        // Erasure rewrites the old row packed.
        fresh
            .change(vec![Change::Erase {
                site: "old".into(),
                seq: 2,
            }])
            .await
            .unwrap();
        let erased = fresh.records("old", 2, 2, 1).await.unwrap();
        assert!(erased[0].personal.is_none());
        assert_eq!(erased[0].record_hash, written[1].record_hash);
        let row = admin
            .query_one(
                &format!(
                    "SELECT record IS NULL, packed IS NOT NULL FROM {name}.records WHERE seq = 2"
                ),
                &[],
            )
            .await
            .unwrap();
        assert!(row.get::<_, bool>(0) && row.get::<_, bool>(1));
    }
    admin
        .batch_execute(&format!("DROP SCHEMA {name} CASCADE"))
        .await
        .unwrap();
}

/// Recording a decision reads its site from memory (`site_recent`): a change
/// made through the same instance shows at once, one made through another
/// instance once the second is up, and never later.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_changed_site_shows_at_once_here_and_within_a_second_on_another_instance() {
    use keksdose_store::Store;
    let Some((admin, name, url)) = schema().await else {
        return;
    };
    {
        let here = PgStore::connect(&url).await.unwrap();
        let there = PgStore::connect(&url).await.unwrap();
        let config = conformance::config();
        here.create_site(conformance::site("s"), config.clone())
            .await
            .unwrap();
        // An unknown site is asked again next time (not kept as unknown).
        assert!(there.site_recent("nowhere").await.unwrap().is_none());
        here.create_site(conformance::site("nowhere"), config.clone())
            .await
            .unwrap();
        assert!(there.site_recent("nowhere").await.unwrap().is_some());
        let before = here.site_recent("s").await.unwrap().unwrap();
        let read_there = std::time::Instant::now();
        assert_eq!(there.site_recent("s").await.unwrap().unwrap(), before);
        // Another origin, and a new config version, through this instance.
        let mut changed = before.clone();
        changed.origins.push("https://shop.example.com".into());
        here.update_site(changed.clone()).await.unwrap();
        let mut newer = config.clone();
        newer.site.name = format!("{} (new)", newer.site.name);
        let version = here.publish_config("s", newer).await.unwrap();
        let now_here = here.site_recent("s").await.unwrap().unwrap();
        assert_eq!(now_here.origins, changed.origins);
        assert_eq!(now_here.config_version, version);
        // The other instance answered from memory within its second (the
        // old site: it did not read it again)...
        let seen = there.site_recent("s").await.unwrap().unwrap();
        if read_there.elapsed() < std::time::Duration::from_millis(900) {
            assert_eq!(seen, before, "read again within the second");
        }
        // ...and reads it again once the second is over.
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        assert_eq!(there.site_recent("s").await.unwrap().unwrap(), now_here);
        assert_eq!(there.site("s").await.unwrap().unwrap(), now_here);
        // A change whose caller gave up waiting (the request went away) is
        // seen here at once all the same, once it is in the database.
        let mut again = now_here.clone();
        again.origins = vec!["https://other.example.org".into()];
        assert_eq!(here.site_recent("s").await.unwrap().unwrap(), now_here);
        drop(here.update_site(again.clone()));
        while here.site("s").await.unwrap().unwrap() != again {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        assert_eq!(here.site_recent("s").await.unwrap().unwrap(), again);
    }
    admin
        .batch_execute(&format!("DROP SCHEMA {name} CASCADE"))
        .await
        .unwrap();
}

/// Appends that arrive while the writer waits for a site's row (held here by
/// another connection, as another instance's batch would hold it) join that
/// batch without their keys looked up: a retried key committed before must
/// still get its first record back, once, and the others their own.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn appends_joining_a_batch_while_it_waits_for_the_rows_keep_their_keys() {
    use keksdose_shared::Action;
    use keksdose_store::Store;
    let Some((admin, name, url)) = schema().await else {
        return;
    };
    {
        let store = Arc::new(PgStore::connect(&url).await.unwrap());
        let config = conformance::config();
        store
            .create_site(conformance::site("s"), config.clone())
            .await
            .unwrap();
        let draft =
            |id: &str, key: &str| conformance::draft(&config, id, Action::AcceptAll, Some(key));
        // Written through another instance, so that this one's writer does
        // not know the head and locks the row first (a batch placed ahead
        // takes in no late appends).
        let other = PgStore::connect(&url).await.unwrap();
        let first = other.append("s", draft("a", "k0")).await.unwrap();
        // Another connection holds the site's row, as a batch of another
        // instance would.
        let (hold, holder_pid) = hold_site_row(&url, "s").await;
        let waiting = tokio::spawn({
            let store = store.clone();
            let d = draft("b", "k1");
            async move { store.append("s", d).await }
        });
        waiting_for(&admin, holder_pid, 1).await;
        // Queued while it waits (`append` queues its job when called): a retry
        // of k0, committed already, and a new key.
        let retried = store.append("s", draft("a", "k0"));
        let fresh = store.append("s", draft("c", "k2"));
        hold.batch_execute("COMMIT").await.unwrap();
        let (retried, fresh) = tokio::join!(retried, fresh);
        let b = waiting.await.unwrap().unwrap();
        assert_eq!(retried.unwrap(), first);
        let c = fresh.unwrap();
        let mut seqs = vec![first.seq, b.seq, c.seq];
        seqs.sort_unstable();
        assert_eq!(seqs, vec![1, 2, 3]);
        assert_eq!(store.head("s").await.unwrap().unwrap().seq, 3);
        let all = store.records("s", 1, 10, 10).await.unwrap();
        assert_eq!(all.len(), 3);
    }
    admin
        .batch_execute(&format!("DROP SCHEMA {name} CASCADE"))
        .await
        .unwrap();
}

/// A batch placed after the head this instance last wrote, where another
/// instance has moved it since, takes a seq that is taken: it is placed again
/// after the real head. Where the database's head went back instead (a
/// restore from a backup under a running server), the heads' UPDATE refuses
/// the batch rather than leave a gap. Either way: no seq twice, none skipped,
/// one chain.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_batch_placed_after_a_head_that_moved_is_placed_again_after_the_real_one() {
    use keksdose_shared::Action;
    use keksdose_shared::record::ChainVerifier;
    use keksdose_store::{Head, Store};
    let Some((admin, name, url)) = schema().await else {
        return;
    };
    {
        let a = PgStore::connect(&url).await.unwrap();
        let b = PgStore::connect(&url).await.unwrap();
        let config = conformance::config();
        a.create_site(conformance::site("m"), config.clone())
            .await
            .unwrap();
        let d = |id: &str| conformance::draft(&config, id, Action::AcceptAll, None);
        let mut seqs = Vec::new();
        for (store, id) in [(&a, "a1"), (&a, "a2"), (&b, "b1"), (&b, "b2"), (&a, "a3")] {
            seqs.push(store.append("m", d(id)).await.unwrap().seq);
        }
        assert_eq!(seqs, [1, 2, 3, 4, 5], "a3 after b's records");
        // a2 was placed ahead (after a1, which `a` wrote) and committed so;
        // a3 was placed ahead after a2, found seq 3 taken, and was placed
        // again under lock.
        assert_eq!(a.batches_ahead(), (1, 1));
        assert_eq!(b.batches_ahead(), (1, 0), "b2 after b1");
        let mut chain = ChainVerifier::new("m");
        for r in a.records("m", 1, 100, 100).await.unwrap() {
            chain.push(&r).unwrap();
        }
        // On a site only `a` writes (so not written under lock first, as
        // "m" is now for a second), the database's head goes back to record
        // 1, as a restore would take it, while `a` knows record 2 as its last.
        a.create_site(conformance::site("r"), config.clone())
            .await
            .unwrap();
        let one = a.append("r", d("r1")).await.unwrap();
        assert_eq!(a.append("r", d("r2")).await.unwrap().seq, 2);
        let head = Head::of(&one);
        admin
            .batch_execute(&format!(
                "DELETE FROM {name}.records WHERE site = 'r' AND seq = 2"
            ))
            .await
            .unwrap();
        admin
            .execute(
                &format!(
                    "UPDATE {name}.sites SET head_seq = 1, head_hash = $1, head_at_ms = $2 \
                     WHERE id = 'r'"
                ),
                &[&head.hash, &i64::try_from(head.at_ms).unwrap()],
            )
            .await
            .unwrap();
        assert_eq!(a.batches_ahead(), (2, 1), "r2 after r1");
        let again = a.append("r", d("r3")).await.unwrap();
        assert_eq!(a.batches_ahead(), (2, 2), "r3 placed again under lock");
        assert_eq!(
            (again.seq, &again.prev_hash),
            (2, &head.hash),
            "placed after the database's head, not after the one `a` knew"
        );
        let all = a.records("r", 1, 100, 100).await.unwrap();
        assert_eq!(all.len(), 2);
        let mut chain = ChainVerifier::new("r");
        for r in &all {
            chain.push(r).unwrap();
        }
        assert_eq!(a.head("r").await.unwrap(), Some(Head::of(&again)));
    }
    admin
        .batch_execute(&format!("DROP SCHEMA {name} CASCADE"))
        .await
        .unwrap();
}

/// A connection of its own with `site`'s row locked in an open transaction,
/// as another instance's batch holds it (`COMMIT` on it lets go), and its
/// backend's pid.
async fn hold_site_row(url: &str, site: &str) -> (tokio_postgres::Client, i32) {
    let (holder, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let pid: i32 = holder
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0);
    holder.batch_execute("BEGIN").await.unwrap();
    holder
        .execute("SELECT 1 FROM sites WHERE id = $1 FOR UPDATE", &[&site])
        .await
        .unwrap();
    (holder, pid)
}

/// Waits until `count` backends wait for the row `holder` holds: for it, or
/// for one that waits for it (the second in line waits on the first's tuple
/// lock). A positive sign, not a sleep; a failure after 30 s, not a hang.
async fn waiting_for(admin: &tokio_postgres::Client, holder: i32, count: i64) {
    let wait = async {
        loop {
            let waits: i64 = admin
                .query_one(
                    "WITH first AS (SELECT pid FROM pg_stat_activity \
                         WHERE $1 = ANY(pg_blocking_pids(pid))) \
                     SELECT count(*) FROM pg_stat_activity s \
                     WHERE s.pid IN (SELECT pid FROM first) \
                        OR EXISTS (SELECT 1 FROM first f \
                            WHERE f.pid = ANY(pg_blocking_pids(s.pid)))",
                    &[&holder],
                )
                .await
                .unwrap()
                .get(0);
            if waits >= count {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(30), wait)
        .await
        .unwrap_or_else(|_| panic!("{count} writer(s) never waited for the row"));
}

/// Two instances given one idempotency key at once (a client's retry sent to
/// the other server) while a third connection holds the site's row: each
/// writer looks the key up before it waits for the row, so neither finds it.
/// The one that gets the row second fails its insert on the unique index and
/// places its batch again: both answer the one record.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_key_sent_to_two_instances_while_the_row_is_held_makes_one_record() {
    use keksdose_shared::Action;
    use keksdose_store::Store;
    let Some((admin, name, url)) = schema().await else {
        return;
    };
    {
        let a = Arc::new(PgStore::connect(&url).await.unwrap());
        let b = Arc::new(PgStore::connect(&url).await.unwrap());
        let config = conformance::config();
        a.create_site(conformance::site("s"), config.clone())
            .await
            .unwrap();
        let draft = || conformance::draft(&config, "x", Action::AcceptAll, Some("k"));
        let (hold, holder_pid) = hold_site_row(&url, "s").await;
        let first = tokio::spawn({
            let (a, d) = (a.clone(), draft());
            async move { a.append("s", d).await }
        });
        waiting_for(&admin, holder_pid, 1).await;
        let second = tokio::spawn({
            let (b, d) = (b.clone(), draft());
            async move { b.append("s", d).await }
        });
        waiting_for(&admin, holder_pid, 2).await;
        hold.batch_execute("COMMIT").await.unwrap();
        let first = first.await.unwrap().unwrap();
        let second = second.await.unwrap().unwrap();
        assert_eq!(first, second);
        assert_eq!(first.seq, 1);
        assert_eq!(a.head("s").await.unwrap().unwrap().seq, 1);
        assert_eq!(b.records("s", 1, 10, 10).await.unwrap().len(), 1);
    }
    admin
        .batch_execute(&format!("DROP SCHEMA {name} CASCADE"))
        .await
        .unwrap();
}

/// A database a newer release migrated is refused, not read wrongly.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_database_migrated_by_a_newer_release_is_refused() {
    let Some((admin, name, url)) = schema().await else {
        return;
    };
    drop(PgStore::connect(&url).await.unwrap());
    admin
        .batch_execute(&format!(
            "INSERT INTO {name}.keksdose_migrations (version) VALUES (99)"
        ))
        .await
        .unwrap();
    let refused = PgStore::connect(&url).await.unwrap_err().to_string();
    assert!(refused.contains("migration 99, newer"), "{refused}");
    let refused = PgStore::migrate(&url).await.unwrap_err().to_string();
    assert!(refused.contains("migration 99, newer"), "{refused}");
    admin
        .batch_execute(&format!("DROP SCHEMA {name} CASCADE"))
        .await
        .unwrap();
}
