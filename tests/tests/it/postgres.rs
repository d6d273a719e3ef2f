//! Several servers on one PostgreSQL database: concurrent writers through all
//! of them, one killed and restarted and every database connection cut while
//! they write; then every acknowledged receipt is in one gapless, verified
//! chain per site. Needs `KEKSDOSE_TEST_POSTGRES` (`.ci/run` sets it); without
//! it the test says that it skipped.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use keksdose_tests::TestServer;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::api::{config_version, demo_key};

const SITES: [&str; 2] = ["saas", "coaching"];

fn postgres() -> bool {
    if std::env::var("KEKSDOSE_TEST_POSTGRES").is_err() {
        eprintln!("SKIPPED: KEKSDOSE_TEST_POSTGRES is not set (a PostgreSQL URL)");
        return false;
    }
    true
}

/// Posts a decision to one server; the receipt if it was acknowledged (a 503
/// while the database is cut off, or a refused connection while the server is
/// down, is not an acknowledgement).
async fn post(http: &reqwest::Client, base: &str, site: &str, body: &Value) -> Option<Value> {
    let resp = http
        .post(format!("{base}/v1/sites/{site}/consents"))
        .json(body)
        .send()
        .await
        .ok()?;
    match resp.status() {
        StatusCode::CREATED => resp.json().await.ok(),
        StatusCode::SERVICE_UNAVAILABLE => None,
        other => panic!(
            "POST to {base}: {other}: {}",
            resp.text().await.unwrap_or_default()
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_servers_on_one_database_keep_one_chain_per_site_through_a_kill_and_a_cut() {
    if !postgres() {
        return;
    }
    let servers = TestServer::start_cluster(3).await.unwrap();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let mut versions = BTreeMap::new();
    for site in SITES {
        versions.insert(site, config_version(&http, &servers[0], site).await);
    }
    let bases: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(
        servers.iter().map(|s| s.base_url().to_string()).collect(),
    ));
    let servers = Arc::new(Mutex::new(servers));

    // The same idempotency key through all three at once: one record.
    let body = json!({"config_version": versions["saas"], "action": "accept_all",
                      "language": "de", "idempotency_key": "one-key-three-servers"});
    let mut same = Vec::new();
    for base in bases.lock().await.clone() {
        let (http, body) = (http.clone(), body.clone());
        same.push(tokio::spawn(async move {
            post(&http, &base, "saas", &body).await
        }));
    }
    let mut receipts = Vec::new();
    for t in same {
        receipts.push(t.await.unwrap().expect("acknowledged"));
    }
    assert!(receipts.iter().all(|r| *r == receipts[0]), "{receipts:?}");

    // Writers through all three servers, round robin.
    let acknowledged: Arc<Mutex<Vec<(String, Value)>>> = Arc::default();
    let mut writers = Vec::new();
    for w in 0..9 {
        let (http, bases, acknowledged) = (http.clone(), bases.clone(), acknowledged.clone());
        let versions = versions.clone();
        writers.push(tokio::spawn(async move {
            let mut sent = 0;
            for i in 0..60 {
                let site = SITES[(w + i) % 2];
                let base = bases.lock().await[(w + i) % 3].clone();
                let action = ["accept_all", "reject_all"][i % 2];
                let mut body = json!({"config_version": versions[site],
                    "action": action, "language": "de"});
                if i % 5 == 0 {
                    body["idempotency_key"] = json!(format!("w{w}-i{i}"));
                }
                sent += 1;
                if let Some(r) = post(&http, &base, site, &body).await {
                    acknowledged.lock().await.push((site.to_string(), r));
                }
            }
            sent
        }));
    }
    // Mid-load: a server killed and restarted, then every database connection cut.
    tokio::time::sleep(Duration::from_millis(400)).await;
    {
        let mut servers = servers.lock().await;
        servers[1].kill().unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        servers[1].restart().await.unwrap();
        bases.lock().await[1] = servers[1].base_url().to_string();
    }
    let cut = servers.lock().await[0]
        .terminate_database_connections()
        .await
        .unwrap();
    assert!(cut >= 3, "each server holds connections: cut {cut}");
    let mut sent = 0;
    for w in writers {
        sent += w.await.unwrap();
    }
    let acknowledged = acknowledged.lock().await.clone();
    assert!(
        acknowledged.len() > sent / 2,
        "most writes acknowledged: {} of {sent}",
        acknowledged.len()
    );

    // Every acknowledged receipt is in its site's one chain, the seqs have no
    // gaps, every chain verifies, and nothing appears that was not sent.
    let servers = servers.lock().await;
    let last = &servers[1]; // restarted last: its demo keys are the valid ones
    for site in SITES {
        let key = demo_key(last, site);
        let text = http
            .get(last.url(&format!("/v1/admin/sites/{site}/consents?format=ndjson")))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let records: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let seqs: Vec<u64> = records.iter().map(|r| r["seq"].as_u64().unwrap()).collect();
        assert_eq!(
            seqs,
            (1..=records.len() as u64).collect::<Vec<_>>(),
            "{site}: gapless"
        );
        let by_seq: BTreeMap<u64, &Value> = records
            .iter()
            .map(|r| (r["seq"].as_u64().unwrap(), r))
            .collect();
        for (_, receipt) in acknowledged.iter().filter(|(s, _)| s == site) {
            let r = by_seq
                .get(&receipt["seq"].as_u64().unwrap())
                .unwrap_or_else(|| panic!("{site}: acknowledged {receipt} is missing"));
            assert_eq!(r["record_hash"], receipt["record_hash"], "{site}");
            assert_eq!(r["consent_id"], receipt["consent_id"], "{site}");
        }
        // Requests sent to this site, plus the three of the shared key.
        let to_site = sent / 2 + usize::from(site == "saas") * 3;
        assert!(
            records.len() <= to_site,
            "{site}: {} records",
            records.len()
        );
        for server in servers.iter() {
            let report: Value = http
                .get(server.url(&format!("/v1/admin/sites/{site}/verify")))
                .bearer_auth(&key)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert_eq!(report["verified"], json!(true), "{site}: {report}");
            assert_eq!(report["records"], json!(records.len()), "{site}: {report}");
        }
    }

    // A config published through one server is served by the others.
    let key = demo_key(last, "coaching");
    let mut config: Value = http
        .get(servers[0].url("/v1/sites/coaching/config"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut new = config["config"].take();
    new["site"]["policy_version"] = json!("Stand: 29.11.2026");
    let published: Value = http
        .put(servers[0].url("/v1/admin/sites/coaching/config"))
        .bearer_auth(&key)
        .json(&new)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for server in servers.iter() {
        assert_eq!(
            config_version(&http, server, "coaching").await,
            published["version"].as_str().unwrap(),
            "{}",
            server.base_url()
        );
    }
}
