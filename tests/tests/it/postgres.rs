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
    if !keksdose_tests::postgres_available() {
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

/// The checkpoints the servers signed (site, seq, key id), oldest first, read
/// from the database.
async fn signed(client: &tokio_postgres::Client) -> Vec<(String, i64, String)> {
    client
        .query(
            "SELECT site, seq, checkpoint::json->>'key_id' FROM checkpoints \
             ORDER BY checkpoint::json->>'signed_at', site",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_server_at_a_time_signs_the_periodic_checkpoints_and_another_takes_over() {
    if !keksdose_tests::postgres_available() {
        return;
    }
    let mut servers = TestServer::start_cluster_with(3, |c| {
        c.env("KEKSDOSE_CHECKPOINT_EVERY_SECS", "1");
    })
    .await
    .unwrap();
    let client = servers[0].schema().unwrap().client().await.unwrap();
    let http = reqwest::Client::new();
    let version = config_version(&http, &servers[0], "saas").await;
    let body = json!({"config_version": version, "action": "accept_all", "language": "de"});
    // Each server's key id, from a checkpoint it signs on demand.
    let mut key_of = Vec::new();
    for server in &servers {
        let c: Value = http
            .post(server.url("/v1/admin/sites/saas/checkpoints"))
            .bearer_auth(demo_key(&servers[2], "saas"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        key_of.push(c["key_id"].as_str().unwrap().to_string());
    }
    let on_demand = signed(&client).await.len();
    assert_eq!(on_demand, 1, "three at seq 0: one row, the last one's");

    // Decisions through all three until three periodic checkpoints are there.
    let mut i = 0;
    let periodic = |all: Vec<(String, i64, String)>| -> Vec<String> {
        all.into_iter()
            .filter(|(_, seq, _)| *seq > 0)
            .map(|(_, _, key)| key)
            .collect()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let first = loop {
        let base = servers[i % 3].base_url().to_string();
        assert!(post(&http, &base, "saas", &body).await.is_some());
        i += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
        let keys = periodic(signed(&client).await);
        if keys.len() >= 3 {
            break keys;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no periodic checkpoints: {keys:?}"
        );
    };
    assert!(
        first.iter().all(|k| *k == first[0]),
        "one server signs while it holds the lease: {first:?}"
    );
    let holder = key_of.iter().position(|k| *k == first[0]).unwrap();

    // The holder dies; one of the others takes over, and only one.
    servers[holder].kill().unwrap();
    let alive: Vec<String> = (0..3)
        .filter(|s| *s != holder)
        .map(|s| servers[s].base_url().to_string())
        .collect();
    let before = first.len();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let after = loop {
        assert!(post(&http, &alive[i % 2], "saas", &body).await.is_some());
        i += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
        let keys = periodic(signed(&client).await);
        let taken: Vec<String> = keys
            .into_iter()
            .skip(before)
            .skip_while(|k| *k == first[0])
            .collect();
        if taken.len() >= 3 {
            break taken;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "nobody took over: {taken:?}"
        );
    };
    assert_ne!(after[0], first[0]);
    assert!(
        after.iter().all(|k| *k == after[0]),
        "after the takeover one server signs: {after:?}"
    );
    // The checkpoints verify on both servers left, whichever of the three
    // signed them, and each lists all three keys.
    for base in &alive {
        let report: Value = http
            .get(format!("{base}/v1/admin/sites/saas/verify"))
            .bearer_auth(demo_key(&servers[2], "saas"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            report["checkpoint_matches"],
            json!(true),
            "{base}: {report}"
        );
        let keys: Value = http
            .get(format!("{base}/v1/keys"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for key in &key_of {
            assert!(
                keys.to_string().contains(key.as_str()),
                "{base}: {key} in {keys}"
            );
        }
    }
}

/// A server that is stopped (SIGTERM, as a deploy does) gives its leases back:
/// another server takes the periodic checkpoint at its next round, not three of
/// the stopped one's rounds later (here three hours).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_server_gives_its_leases_back_at_once() {
    if !keksdose_tests::postgres_available() {
        return;
    }
    // The first signs hourly and takes the lease at its start; the second
    // would sign every second.
    let started = std::sync::atomic::AtomicUsize::new(0);
    let servers = TestServer::start_cluster_with(2, |c| {
        let first = started.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0;
        c.env(
            "KEKSDOSE_CHECKPOINT_EVERY_SECS",
            if first { "3600" } else { "1" },
        );
    })
    .await
    .unwrap();
    let client = servers[0].schema().unwrap().client().await.unwrap();
    let http = reqwest::Client::new();
    let pid = servers[0].pid();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    // Stopped: its process has ended (a zombie until reaped, or gone).
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        if state.is_empty() || state.split(") ").nth(1).is_some_and(|s| s.starts_with('Z')) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the first server did not stop"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        !servers[0].log().contains("lease not given back"),
        "{}",
        servers[0].log()
    );
    // A decision through the second; it signs it at one of its next rounds.
    let version = config_version(&http, &servers[1], "saas").await;
    let receipt = post(
        &http,
        servers[1].base_url(),
        "saas",
        &json!({"config_version": version, "action": "accept_all", "language": "de"}),
    )
    .await
    .expect("acknowledged");
    let seq = receipt["seq"].as_i64().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !signed(&client)
        .await
        .iter()
        .any(|(site, s, _)| site == "saas" && *s >= seq)
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the second server never took the lease: {:?}\n{}",
            signed(&client).await,
            servers[1].log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
