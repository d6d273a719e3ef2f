//! What the server acknowledged survives a crash, and tampering with what is on
//! disk is found: SIGKILL during concurrent writes, restart, check everything.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use keksdose_tests::TestServer;
use serde_json::{Value, json};

use crate::api::{config_version, demo_key};

async fn verify(http: &reqwest::Client, server: &TestServer, site: &str) -> Value {
    http.get(server.url(&format!("/v1/admin/sites/{site}/verify")))
        .bearer_auth(demo_key(server, site))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_acknowledged_record_survives_sigkill_during_concurrent_writes() {
    let mut server = TestServer::start().await.unwrap();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let mut acknowledged: Vec<Value> = Vec::new();
    let mut kills = 0;

    for round in 0..3 {
        let version = config_version(&http, &server, "saas").await;
        let url = server.url("/v1/sites/saas/consents");
        let receipts = Arc::new(Mutex::new(Vec::new()));
        let writers: Vec<_> = (0..16)
            .map(|w| {
                let (http, url, version, receipts) = (http.clone(), url.clone(), version.clone(), receipts.clone());
                tokio::spawn(async move {
                    for i in 0..10_000 {
                        let body = json!({"config_version": version, "action": if (w + i) % 2 == 0 { "accept_all" } else { "reject_all" },
                                          "language": "de", "idempotency_key": format!("r{round}w{w}i{i}")});
                        match http.post(&url).json(&body).send().await {
                            Ok(resp) if resp.status() == 201 => {
                                let Ok(receipt) = resp.json::<Value>().await else { return };
                                receipts.lock().unwrap().push(receipt);
                            }
                            Ok(resp) => panic!("unexpected {}", resp.status()),
                            Err(_) => return, // the server is gone
                        }
                    }
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(400 + round * 150)).await;
        server.kill().unwrap();
        kills += 1;
        for w in writers {
            w.await.unwrap();
        }
        let got = receipts.lock().unwrap().len();
        assert!(
            got > 0,
            "round {round}: no write was acknowledged before the kill"
        );
        acknowledged.extend(receipts.lock().unwrap().drain(..));
        server.restart().await.unwrap();
    }

    // Every acknowledged receipt is there, with the same hash and place.
    let mut found = 0;
    for receipt in &acknowledged {
        let id = receipt["consent_id"].as_str().unwrap();
        let history: Value = http
            .get(server.url(&format!("/v1/consents/{id}")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let records = history["records"].as_array().unwrap();
        assert!(
            records
                .iter()
                .any(|r| r["seq"] == receipt["seq"] && r["record_hash"] == receipt["record_hash"]),
            "acknowledged {receipt} is missing after the crash"
        );
        found += 1;
    }
    let report = verify(&http, &server, "saas").await;
    assert_eq!(report["verified"], true, "{report}");
    let total = report["records"].as_u64().unwrap();
    assert!(
        total >= acknowledged.len() as u64,
        "{total} records, {} acknowledged",
        acknowledged.len()
    );
    println!(
        "kills: {kills}, acknowledged: {}, found: {found}, lost: {}",
        acknowledged.len(),
        acknowledged.len() - found
    );
}

/// Rewrites one journal entry in place as an attacker with disk access would
/// (keeping the checksum valid), so that only the hash chain can tell.
fn rewrite_journal_entry(journal: &std::path::Path, seq: u64, from: &str, to: &str) {
    let bytes = std::fs::read(journal).unwrap();
    let mut out = bytes[..8].to_vec();
    let mut pos = 8;
    let mut changed = false;
    while pos + 8 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[pos..pos + 4].try_into().unwrap()) as usize;
        let payload = &bytes[pos + 8..pos + 8 + len];
        let mut text = String::from_utf8(payload.to_vec()).unwrap();
        if text.contains(&format!("\"seq\":{seq},"))
            && text.contains(from)
            && text.contains("\"type\":\"record\"")
        {
            text = text.replacen(from, to, 1);
            changed = true;
        }
        out.extend_from_slice(&(text.len() as u32).to_le_bytes());
        out.extend_from_slice(&crc32fast::hash(text.as_bytes()).to_le_bytes());
        out.extend_from_slice(text.as_bytes());
        pos += 8 + len;
    }
    assert!(changed, "record {seq} with {from} not found in the journal");
    std::fs::write(journal, out).unwrap();
}

#[tokio::test]
async fn verification_finds_a_record_altered_on_disk() {
    let mut server = TestServer::start().await.unwrap();
    let http = reqwest::Client::new();
    let version = config_version(&http, &server, "coaching").await;
    for _ in 0..3 {
        let resp = http
            .post(server.url("/v1/sites/coaching/consents"))
            .json(&json!({"config_version": version, "action": "reject_all", "language": "de"}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201);
    }
    assert_eq!(verify(&http, &server, "coaching").await["verified"], true);
    server.kill().unwrap();

    // Turn the visitor's "Nur Notwendige" of record 2 into "Alle akzeptieren".
    let data = server.data_dir();
    rewrite_journal_entry(
        &data.join("journal"),
        2,
        "\"action\":\"reject_all\"",
        "\"action\":\"accept_all\"",
    );
    std::fs::remove_dir_all(data.join("index")).unwrap(); // rebuilt from the journal
    server.restart().await.unwrap();

    let report = verify(&http, &server, "coaching").await;
    assert_eq!(report["verified"], false, "{report}");
    assert_eq!(report["checked"], 1);
    assert_eq!(
        report["first_broken"]["detail"],
        json!({"kind": "record_hash", "seq": 2}),
        "{report}"
    );
}
