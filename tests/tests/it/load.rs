//! A sustained load at a steady rate well below capacity: zero errors, open files
//! and memory flat, latency percentiles reported. `KEKSDOSE_LOAD_SECS` sets the
//! length (10 s by default, the short form; `cargo xtask soak` runs minutes) and
//! `KEKSDOSE_LOAD_RATE` the requests per second (300). Figures are printed, not
//! asserted: this machine is shared and noisy; what is asserted is behaviour.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use keksdose_tests::TestServer;
use serde_json::{Value, json};

use crate::api::config_version;

/// Resident memory (KiB) and open files of a process, from `/proc`.
fn sample(pid: u32) -> (u64, usize) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count();
    (rss, fds)
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_steady_load_runs_without_errors_and_with_open_files_and_memory_flat() {
    let secs = keksdose_tests::env_number("KEKSDOSE_LOAD_SECS", 10);
    let rate = keksdose_tests::env_number("KEKSDOSE_LOAD_RATE", 300);
    let server = TestServer::start().await.unwrap();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .pool_max_idle_per_host(64)
        .build()
        .unwrap();
    let sites = ["saas", "coaching", "tutory"];
    let mut versions = Vec::new();
    for s in sites {
        versions.push(config_version(&http, &server, s).await);
    }
    let latencies = Arc::new(Mutex::new(Vec::<u64>::new()));
    let errors = Arc::new(Mutex::new(Vec::<String>::new()));
    let ids = Arc::new(Mutex::new(Vec::<String>::new()));
    let permits = Arc::new(tokio::sync::Semaphore::new(64));
    let mut samples = Vec::new();
    let start = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / rate));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut n: u64 = 0;
    let mut next_sample = Instant::now();
    while start.elapsed() < Duration::from_secs(secs) {
        tick.tick().await;
        if Instant::now() >= next_sample {
            samples.push((start.elapsed().as_secs(), sample(server.pid())));
            next_sample += Duration::from_secs(5);
        }
        n += 1;
        let permit = permits.clone().acquire_owned().await.unwrap();
        let i = (n % 3) as usize;
        let (site, version) = (sites[i], versions[i].clone());
        let kind = n % 10;
        let known = ids.lock().unwrap().last().cloned();
        let (http, latencies, errors, ids) =
            (http.clone(), latencies.clone(), errors.clone(), ids.clone());
        let base = server.base_url().to_string();
        tokio::spawn(async move {
            let t = Instant::now();
            // 70 % decisions (~400-byte bodies, new visitors and updates), 20 %
            // config reads, 10 % visitors' histories.
            let result = match (kind, known) {
                (0..=6, known) => {
                    let mut body = json!({"config_version": version,
                        "action": if n.is_multiple_of(4) { "custom" } else if n.is_multiple_of(2) { "accept_all" } else { "reject_all" },
                        "language": if n.is_multiple_of(5) { "en" } else { "de" },
                        "categories": if n.is_multiple_of(4) && site == "saas" { json!({"analytics": true, "marketing": false}) } else { json!({}) },
                        "signals": {"gpc": n.is_multiple_of(7), "dnt": false},
                        "idempotency_key": format!("load-{n}"),
                        "page": format!("/produkte/seite-{}", n % 50)});
                    if let (Some(id), 3, "saas") = (known, n % 7, site) {
                        body["consent_id"] = json!(id);
                    }
                    http.post(format!("{base}/v1/sites/{site}/consents"))
                        .json(&body)
                        .send()
                        .await
                }
                (7 | 8, _) => {
                    http.get(format!("{base}/v1/sites/{site}/config"))
                        .send()
                        .await
                }
                (_, Some(id)) => http.get(format!("{base}/v1/consents/{id}")).send().await,
                (_, None) => {
                    http.get(format!("{base}/v1/sites/{site}/config"))
                        .send()
                        .await
                }
            };
            let micros = t.elapsed().as_micros() as u64;
            match result {
                Ok(resp) if resp.status().is_success() => {
                    if resp.status() == 201
                        && site == "saas"
                        && let Ok(v) = resp.json::<Value>().await
                    {
                        ids.lock()
                            .unwrap()
                            .push(v["consent_id"].as_str().unwrap_or_default().into());
                    }
                    latencies.lock().unwrap().push(micros);
                }
                Ok(resp) => {
                    let status = resp.status();
                    let text = resp.text().await.unwrap_or_default();
                    errors.lock().unwrap().push(format!("{status} {text}"));
                }
                Err(e) => errors.lock().unwrap().push(e.to_string()),
            }
            drop(permit);
        });
    }
    // Let the last requests finish.
    let _ = permits.acquire_many(64).await.unwrap();
    samples.push((start.elapsed().as_secs(), sample(server.pid())));
    let elapsed = start.elapsed().as_secs_f64();

    let mut lat = latencies.lock().unwrap().clone();
    lat.sort_unstable();
    let errors = errors.lock().unwrap().clone();
    println!(
        "LOAD RESULT {secs} s at {rate}/s target: {} requests ({:.0}/s), errors: {}, \
         latency ms p50 {:.2} p99 {:.2} p999 {:.2} max {:.2}; \
         rss KiB / open files at (s): {}",
        lat.len() + errors.len(),
        (lat.len() + errors.len()) as f64 / elapsed,
        errors.len(),
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        percentile(&lat, 0.999),
        percentile(&lat, 1.0),
        samples
            .iter()
            .map(|(t, (rss, fds))| format!("{t}:{rss}/{fds}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    assert!(
        errors.is_empty(),
        "{} errors, e.g. {:?}",
        errors.len(),
        &errors[..errors.len().min(5)]
    );
    // Open files: what the first sample after the warm-up had, give or take
    // the connections in flight.
    let warm = samples
        .iter()
        .find(|(t, _)| *t >= 5)
        .map_or(samples[0].1, |s| s.1);
    let last = samples.last().unwrap().1;
    assert!(
        last.1 <= warm.1 + 70,
        "open files grew from {} to {}",
        warm.1,
        last.1
    );
    // Memory: flat once warm, over a run long enough to tell (the soak's). The
    // first minutes fill sled's page cache (32 MiB by default); after half the
    // run the growth left is sled's index of the records written meanwhile.
    if secs >= 120 {
        let settled = samples
            .iter()
            .find(|(t, _)| *t >= secs / 2)
            .map_or(warm, |s| s.1);
        assert!(
            last.0 <= settled.0 + settled.0 * 3 / 20,
            "memory grew from {} KiB at {} s to {} KiB",
            settled.0,
            secs / 2,
            last.0
        );
    }
}
