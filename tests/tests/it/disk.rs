//! Disk trouble: a full disk makes writes fail with a 503 JSON error and nothing
//! half-written, reads keep working, and the server takes writes again without a
//! restart once there is space; a read-only data directory, or one that another
//! server holds, is refused at start with a clear message.
//!
//! The full and read-only disk is a small tmpfs mounted on the data directory, which
//! needs root (or CAP_SYS_ADMIN). Where mounting is not permitted these tests say so
//! and pass, unless `KEKSDOSE_TEST_MOUNT=require` (which `.ci/run` sets) makes that a
//! failure.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use keksdose_tests::TestServer;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;

use crate::api::{config_version, export, get_json, post, verify};

/// A tmpfs mounted for one test; unmounted (lazily, even if busy) on drop.
struct Tmpfs {
    path: PathBuf,
}

impl Tmpfs {
    fn mount(path: &Path, size: &str) -> anyhow::Result<Tmpfs> {
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(path)
            .output()?;
        anyhow::ensure!(
            out.status.success(),
            "mount -t tmpfs on {}: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
        Ok(Tmpfs {
            path: path.to_path_buf(),
        })
    }

    fn remount(&self, options: &str) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,{options}")])
            .arg(&self.path)
            .status()
            .unwrap();
        assert!(status.success(), "remount,{options}");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

/// A server whose data directory is a tmpfs of `size`, or `None` where this
/// machine does not let us mount (and `KEKSDOSE_TEST_MOUNT` does not require it).
async fn server_on_tmpfs(size: &str) -> Option<(TestServer, Tmpfs)> {
    let mut mounted = None;
    let mut refused = None;
    let started = TestServer::start_prepared(
        |data| {
            match Tmpfs::mount(data, size) {
                Ok(fs) => mounted = Some(fs),
                Err(e) => refused = Some(e),
            }
            Ok(())
        },
        |_| {},
    )
    .await;
    if let Some(e) = refused {
        assert!(
            std::env::var("KEKSDOSE_TEST_MOUNT").as_deref() != Ok("require"),
            "KEKSDOSE_TEST_MOUNT=require, but: {e:#}"
        );
        eprintln!(
            "SKIPPED: cannot mount a tmpfs here ({e:#}); KEKSDOSE_TEST_MOUNT=require makes this fail"
        );
        return None;
    }
    // Any other failure to start is the test's failure.
    Some((started.unwrap(), mounted.unwrap()))
}

/// Fills the filesystem at `dir` up to the last byte with one file.
fn fill(dir: &Path) -> PathBuf {
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).unwrap();
    let chunk = vec![0u8; 64 * 1024];
    loop {
        match f.write(&chunk) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.raw_os_error() == Some(28) => break, // ENOSPC
            Err(e) => panic!("filling {}: {e}", path.display()),
        }
    }
    // Byte by byte for the rest of the last page.
    while f.write(&[0]).is_ok_and(|n| n == 1) {}
    path
}

fn decision(version: &str, i: usize) -> Value {
    json!({"config_version": version, "action": if i.is_multiple_of(2) { "accept_all" } else { "reject_all" },
           "language": "de", "page": format!("/disk/{i}")})
}

/// Every record of `site` from the NDJSON export: seqs from 1 without gaps, chain
/// verified. Returns how many there are.
async fn check_ledger(http: &reqwest::Client, server: &TestServer, site: &str) -> usize {
    let report = verify(http, server, site).await;
    assert_eq!(report["verified"], true, "{report}");
    let mut seqs: Vec<u64> = export(http, server, site)
        .await
        .iter()
        .map(|r| r["seq"].as_u64().unwrap())
        .collect();
    seqs.sort_unstable();
    let expected: Vec<u64> = (1..=seqs.len() as u64).collect();
    assert_eq!(seqs, expected, "sequence numbers without gaps");
    assert_eq!(report["records"], json!(seqs.len()), "{report}");
    seqs.len()
}

/// Posts until one is recorded (the disk came back), for at most 10 s.
async fn post_until_recorded(http: &reqwest::Client, server: &TestServer, body: &Value) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, receipt) = post(http, server, "saas", body).await;
        if status == StatusCode::CREATED {
            return receipt;
        }
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{receipt}");
        assert!(
            Instant::now() < deadline,
            "no write recorded 10 s after the disk came back: {receipt}; log:\n{}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A write refused for lack of disk: 503, the JSON error, Retry-After.
async fn assert_refused(http: &reqwest::Client, server: &TestServer, body: &Value, why: &str) {
    let resp = http
        .post(server.url("/v1/sites/saas/consents"))
        .json(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE, "{why}");
    assert!(
        resp.headers().contains_key("retry-after"),
        "{why}: Retry-After"
    );
    let err: Value = resp.json().await.unwrap();
    assert_eq!(err["error"]["code"], "unavailable", "{why}: {err}");
}

/// Reads still answer: the visitor's history, the config, the proof.
async fn assert_reads_work(http: &reqwest::Client, server: &TestServer, receipt: &Value) {
    let id = receipt["consent_id"].as_str().unwrap();
    let history = get_json(http, server, &format!("/v1/consents/{id}"), None).await;
    assert_eq!(history["records"][0]["seq"], receipt["seq"], "{history}");
    get_json(http, server, "/v1/sites/saas/config", None).await;
    let proof_path = format!("/v1/admin/sites/saas/consents/{id}/proof");
    get_json(http, server, &proof_path, Some("saas")).await;
}

#[tokio::test]
async fn a_full_disk_refuses_writes_with_503_keeps_reads_and_recovers_without_restart() {
    let Some((server, fs)) = server_on_tmpfs("48m").await else {
        return;
    };
    let http = reqwest::Client::new();
    let version = config_version(&http, &server, "saas").await;
    let mut receipts = Vec::new();
    for i in 0..5 {
        let (status, receipt) = post(&http, &server, "saas", &decision(&version, i)).await;
        assert_eq!(status, StatusCode::CREATED, "{receipt}");
        receipts.push(receipt);
    }

    let filler = fill(&fs.path);
    // A tmpfs allocates whole pages: what still fits in the files' last pages is
    // recorded (durably: nothing new is needed); the first write that needs a
    // page more is refused, a few records later at most.
    let mut i = 5;
    loop {
        let (status, receipt) = post(&http, &server, "saas", &decision(&version, i)).await;
        i += 1;
        if status == StatusCode::SERVICE_UNAVAILABLE {
            break;
        }
        assert_eq!(status, StatusCode::CREATED, "{receipt}");
        receipts.push(receipt);
        assert!(
            receipts.len() <= 5 + 8,
            "still recording on a full disk: {receipts:?}"
        );
    }
    let recorded = receipts.len();
    // Full for a few seconds: sled's own background flush (every 500 ms) meets
    // the full disk too, not only the journal.
    let full_since = std::time::Instant::now();
    while full_since.elapsed() < Duration::from_secs(3) {
        assert_refused(&http, &server, &decision(&version, i), "disk full").await;
        i += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_reads_work(&http, &server, &receipts[0]).await;

    std::fs::remove_file(&filler).unwrap();
    let receipt = post_until_recorded(&http, &server, &decision(&version, 99)).await;
    assert_eq!(
        receipt["seq"],
        json!(recorded + 1),
        "the refused writes left no trace"
    );
    for i in 100..110 {
        let (status, body) = post(&http, &server, "saas", &decision(&version, i)).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    assert_eq!(check_ledger(&http, &server, "saas").await, recorded + 11);
    drop(fs);
}

/// A filesystem cannot be remounted read-only while files on it are open for
/// writing (only the kernel does that, after errors), so a read-only data
/// directory is met at start: the server refuses it, naming it. (A write error at
/// run time — read-only or full — takes the path of the full-disk test above.)
#[tokio::test]
async fn a_read_only_data_directory_is_refused_at_start_with_a_clear_message() {
    let Some((mut server, fs)) = server_on_tmpfs("64m").await else {
        return;
    };
    let http = reqwest::Client::new();
    let version = config_version(&http, &server, "saas").await;
    let (status, first) = post(&http, &server, "saas", &decision(&version, 0)).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    server.kill().unwrap();
    fs.remount("ro");
    let err = server.restart().await.unwrap_err();
    let err = format!("{err:#}");
    assert!(
        err.contains("Read-only file system")
            && err.contains(&server.data_dir().display().to_string()),
        "{err}"
    );
    fs.remount("rw");
    server.restart().await.unwrap();
    let receipt = post_until_recorded(&http, &server, &decision(&version, 1)).await;
    assert_eq!(receipt["seq"], json!(2));
    assert_eq!(check_ledger(&http, &server, "saas").await, 2);
    drop(fs);
}

#[tokio::test]
async fn a_data_directory_held_by_another_server_is_refused_with_a_clear_message() {
    let server = TestServer::start().await.unwrap();
    let mut second = tokio::process::Command::new(keksdose_tests::binary())
        .args(["serve", "--demo", "--listen", "127.0.0.1:0", "--data"])
        .arg(server.data_dir())
        .current_dir(keksdose_tests::workspace_root())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let status = tokio::time::timeout(Duration::from_secs(20), second.wait())
        .await
        .unwrap_or_else(|_| panic!("a second server on the same data started and kept running"))
        .unwrap();
    assert!(
        !status.success(),
        "a second server on the same data started"
    );
    let mut stderr = String::new();
    second
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .await
        .unwrap();
    assert!(
        stderr.contains("in use by another") || stderr.contains("locked"),
        "{stderr}"
    );
    // The first server is untouched.
    let http = reqwest::Client::new();
    let version = config_version(&http, &server, "saas").await;
    let (status, body) = post(&http, &server, "saas", &decision(&version, 0)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}
