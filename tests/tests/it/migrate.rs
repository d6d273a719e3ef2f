//! `keksdose migrate --to postgres://…`: the embedded store copied into
//! PostgreSQL with every hash, link, key and checkpoint, verified there, and
//! served from there as before. Needs `KEKSDOSE_TEST_POSTGRES` (`.ci/run` sets
//! it); without it the tests say that they skipped.

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::Arc;

use keksdose_store::Store as _;
use keksdose_store::conformance;
use keksdose_tests::{
    Schema, TestServer, binary, keksdose, on_postgres, output_text, postgres_available,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::api::{config_version, demo_key, export, post, verify};

fn postgres() -> bool {
    if on_postgres() {
        eprintln!("SKIPPED: the source of a migration is the embedded store");
        return false;
    }
    postgres_available()
}

/// An admin request with the demo site's key; status and JSON body.
async fn admin(
    http: &reqwest::Client,
    server: &TestServer,
    method: reqwest::Method,
    site: &str,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = http
        .request(method, server.url(&format!("/v1/admin/sites/{site}{path}")))
        .bearer_auth(demo_key(server, site));
    if let Some(body) = body {
        req = req.json(&body);
    }
    let resp = req.send().await.unwrap();
    (resp.status(), resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_data_moves_to_postgres_with_every_hash_link_and_checkpoint() {
    if !postgres() {
        return;
    }
    let mut server = TestServer::start().await.unwrap();
    let http = reqwest::Client::new();
    let sites = ["saas", "coaching", "tutory"];

    // What the embedded store holds: decisions, one with an idempotency key,
    // a subject's link, another subject's erasure, a checkpoint.
    let saas = config_version(&http, &server, "saas").await;
    let keyed = json!({"config_version": saas, "action": "accept_all", "language": "de",
                       "idempotency_key": "sent-before-the-move"});
    let (status, first) = post(&http, &server, "saas", &keyed).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    let mut ids = Vec::new();
    for (site, action) in [
        ("saas", "reject_all"),
        ("coaching", "accept_all"),
        ("coaching", "reject_all"),
        ("tutory", "accept_all"),
    ] {
        let version = config_version(&http, &server, site).await;
        let (status, r) = post(
            &http,
            &server,
            site,
            &json!({"config_version": version, "action": action, "language": "de"}),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{r}");
        ids.push(r["consent_id"].as_str().unwrap().to_string());
    }
    for (subject, id) in [("user-kept", &ids[1]), ("user-erased", &ids[2])] {
        let (status, body) = admin(
            &http,
            &server,
            reqwest::Method::POST,
            "coaching",
            &format!("/subjects/{subject}"),
            Some(json!({"consent_id": id})),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, erased) = admin(
        &http,
        &server,
        reqwest::Method::DELETE,
        "coaching",
        "/subjects/user-erased",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{erased}");
    assert_eq!(erased["erased_records"], 1);
    let (status, checkpoint) = admin(
        &http,
        &server,
        reqwest::Method::POST,
        "saas",
        "/checkpoints",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{checkpoint}");
    let mut before = BTreeMap::new();
    for site in sites {
        let report = verify(&http, &server, site).await;
        assert_eq!(report["verified"], true, "{report}");
        before.insert(
            site,
            (report["head"].clone(), export(&http, &server, site).await),
        );
    }

    // The server stopped, the store copied.
    server.kill().unwrap();
    let data = server.data_dir();
    let schema = Arc::new(Schema::create().await.unwrap());
    let before_the_move = keksdose_shared::time::rfc3339_millis(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64,
    );
    let moved = keksdose(&data, &["migrate", "--to", schema.url()]);
    assert!(moved.status.success(), "{}", output_text(&moved));
    // Each config version keeps the time it became current (the declaration
    // dates the policy's versions by it), not the day of the move.
    let db = schema.client().await.unwrap();
    for row in db
        .query("SELECT site, version, published_at FROM configs", &[])
        .await
        .unwrap()
    {
        let (site, version, at): (String, String, String) = (row.get(0), row.get(1), row.get(2));
        assert!(
            at < before_the_move,
            "{site} {version}: published at {at}, the move began at {before_the_move}"
        );
    }
    for site in sites {
        let head = before[site].0.as_str().unwrap();
        assert!(
            output_text(&moved).contains(&format!("verified on the target, head {head}")),
            "{site}: {}",
            output_text(&moved)
        );
    }
    // The embedded server runs on a while: a subject erased, another linked to
    // a new decision. Migrated again (as after an interruption or a late
    // change), nothing is copied twice and the target follows: the erasure,
    // the link removed and the new one.
    server.restart().await.unwrap();
    let (status, erased) = admin(
        &http,
        &server,
        reqwest::Method::DELETE,
        "coaching",
        "/subjects/user-kept",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{erased}");
    let coaching = config_version(&http, &server, "coaching").await;
    let (status, late) = post(
        &http,
        &server,
        "coaching",
        &json!({"config_version": coaching, "action": "accept_all", "language": "de"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{late}");
    let (status, body) = admin(
        &http,
        &server,
        reqwest::Method::POST,
        "coaching",
        "/subjects/user-new",
        Some(json!({"consent_id": late["consent_id"]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let report = verify(&http, &server, "coaching").await;
    before.insert(
        "coaching",
        (
            report["head"].clone(),
            export(&http, &server, "coaching").await,
        ),
    );
    // The console's accounts and the audit trail as they are now (the erasure
    // through the key is in it).
    let (_, audit_before) = admin(
        &http,
        &server,
        reqwest::Method::GET,
        "coaching",
        "/audit?limit=1000",
        None,
    )
    .await;
    let (_, users_before) = admin(
        &http,
        &server,
        reqwest::Method::GET,
        "coaching",
        "/users",
        None,
    )
    .await;
    assert!(
        audit_before["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "erase" && e["actor"] == "api-key"),
        "{audit_before}"
    );
    server.kill().unwrap();
    let again = keksdose(&data, &["migrate", "--to", schema.url()]);
    assert!(again.status.success(), "{}", output_text(&again));
    for expected in [
        "saas: 2 records (0 copied now), 0 links, 1 checkpoints".to_string(),
        // (The restart signed the grown ledgers: checkpoints vary.)
        "coaching: 3 records (1 copied now, 1 erased since the last run), 1 links, ".to_string(),
        format!(
            "verified on the target, head {}",
            before["coaching"].0.as_str().unwrap()
        ),
    ] {
        assert!(
            output_text(&again).contains(&expected),
            "{expected}: {}",
            output_text(&again)
        );
    }
    // `keksdose verify` on the target, from the command line.
    let verified = Command::new(binary())
        .args(["verify", "--store", schema.url()])
        .output()
        .unwrap();
    assert!(verified.status.success(), "{}", output_text(&verified));
    let head = before["saas"].0.as_str().unwrap();
    assert!(
        output_text(&verified).contains(&format!(
            "saas: 2 records, chain intact, head {head}; checkpoint at seq 2 signed and matching"
        )),
        "{}",
        output_text(&verified)
    );

    // Served from PostgreSQL: the same records; the checkpoint verifies; the
    // idempotency key, the kept link and the erasure hold.
    let pg = TestServer::start_on_schema(schema, |_| {}).await.unwrap();
    for site in sites {
        assert_eq!(
            export(&http, &pg, site).await,
            before[site].1,
            "{site}: every record as it was"
        );
    }
    let report = verify(&http, &pg, "saas").await;
    assert_eq!(report["checkpoint_matches"], true, "{report}");
    // The console's accounts and the audit trail came along unchanged; the
    // server on PostgreSQL continues the same chain.
    assert!(
        output_text(&again).contains("audit entries; the trail verified on the target"),
        "{}",
        output_text(&again)
    );
    let (_, users_after) =
        admin(&http, &pg, reqwest::Method::GET, "coaching", "/users", None).await;
    assert_eq!(users_after, users_before);
    let (_, audit_after) = admin(
        &http,
        &pg,
        reqwest::Method::GET,
        "coaching",
        "/audit?limit=1000",
        None,
    )
    .await;
    assert_eq!(audit_after["verified"], true, "{audit_after}");
    let (old, new) = (
        audit_before["entries"].as_array().unwrap(),
        audit_after["entries"].as_array().unwrap(),
    );
    assert!(
        new.len() > old.len(),
        "the PostgreSQL server's start is audited after them"
    );
    assert_eq!(
        &new[new.len() - old.len()..],
        &old[..],
        "every entry as it was"
    );
    let (status, retried) = post(&http, &pg, "saas", &keyed).await;
    assert_eq!(status, StatusCode::CREATED, "{retried}");
    assert_eq!(
        (&retried["seq"], &retried["record_hash"]),
        (&first["seq"], &first["record_hash"]),
        "a retry sent before the move is answered with the first record"
    );
    for (subject, consents) in [
        ("user-new", json!([late["consent_id"]])),
        ("user-kept", json!([])),
        ("user-erased", json!([])),
    ] {
        let (_, access) = admin(
            &http,
            &pg,
            reqwest::Method::GET,
            "coaching",
            &format!("/subjects/{subject}"),
            None,
        )
        .await;
        let ids: Vec<&Value> = access["consents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| &c["consent_id"])
            .collect();
        assert_eq!(json!(ids), consents, "{subject}: {access}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_store_of_100_000_records_moves_with_the_same_head() {
    if !postgres() {
        return;
    }
    const RECORDS: usize = 100_000;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // Written through the store itself: 100,000 HTTP requests would test the
    // server's speed, not the copy.
    let head = {
        let store = Arc::new(keksdose_store_sled::SledStore::open(&data).unwrap());
        let config = conformance::config();
        store
            .create_site(conformance::site("big"), config.clone())
            .await
            .unwrap();
        let mut tasks = Vec::new();
        for t in 0..64 {
            let (store, config) = (store.clone(), config.clone());
            tasks.push(tokio::spawn(async move {
                for i in (t..RECORDS).step_by(64) {
                    let action = [
                        keksdose_shared::Action::AcceptAll,
                        keksdose_shared::Action::RejectAll,
                    ][i % 2];
                    let key = format!("k{i}");
                    let draft = conformance::draft(
                        &config,
                        &format!("consent-{}", i / 3),
                        action,
                        (i % 10 == 0).then_some(key.as_str()),
                    );
                    store.append("big", draft).await.unwrap();
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let head = store.head("big").await.unwrap().unwrap();
        assert_eq!(head.seq, RECORDS as u64);
        head.hash
    };
    let schema = Schema::create().await.unwrap();
    let started = std::time::Instant::now();
    let moved = keksdose(&data, &["migrate", "--to", schema.url()]);
    println!(
        "migrate: {RECORDS} records copied and verified in {:.1} s (debug build)",
        started.elapsed().as_secs_f64()
    );
    assert!(moved.status.success(), "{}", output_text(&moved));
    assert!(
        output_text(&moved).contains(&format!(
            "big: {RECORDS} records ({RECORDS} copied now), 0 links, 0 checkpoints; \
             verified on the target, head {head}"
        )),
        "{}",
        output_text(&moved)
    );
    let client = schema.client().await.unwrap();
    let row = client
        .query_one(
            "SELECT count(*), count(idempotency_key) FROM records WHERE site = 'big'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        (row.get::<_, i64>(0), row.get::<_, i64>(1)),
        (RECORDS as i64, (RECORDS / 10) as i64),
        "every record, with its idempotency key"
    );
}
