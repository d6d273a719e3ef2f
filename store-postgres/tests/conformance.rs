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
