//! The ledger under load: the release binary on loopback, driven by [`crate::client`].
//!
//! Order of the run: config GET throughput; durable consent POSTs at 1, 16, 64 and
//! 256 clients (rounds of `round_secs`); a fill to `records` records at 64 clients,
//! sampling the server's RSS on the way; then, at that size, bytes on disk per
//! record, proof lookups, chain verification and the NDJSON export.
//!
//! The steps of that run (the demo sites as the load sees them, rounds of consent
//! POSTs, the fill, proof lookups, verification and export) are public for
//! [`crate::postgres`], which runs them against servers on PostgreSQL; each takes
//! the addresses its connections are spread over.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use keksdose_tests::TestServer;
use serde_json::{Value, json};

use crate::client::{Conn, Response, request};
use crate::report::{Figure, Target, quantile};

const GROUP: &str = "Ledger";

/// Connections of the fill.
const FILL_CLIENTS: usize = 64;

#[derive(Debug, Clone)]
pub struct Options {
    /// Records in the ledger for the at-size figures (1 M by default).
    pub records: u64,
    /// Rounds per throughput figure.
    pub rounds: usize,
    /// Seconds per round.
    pub round_secs: u64,
}

/// A demo site, as the load uses it.
#[derive(Debug, Clone)]
pub struct Site {
    id: String,
    version: String,
    key: String,
    /// Its non-necessary category ids, for custom decisions.
    categories: Vec<String>,
}

/// What a load round measured.
#[derive(Debug)]
pub struct Round {
    pub per_sec: f64,
    /// Sorted latencies, µs.
    latencies: Vec<u32>,
    /// Answers 503 (unavailable), each retried (see [`send`]).
    pub unavailable: u64,
}

impl Round {
    /// Answers 503 per 1,000 requests answered.
    pub fn unavailable_per_1000(&self) -> f64 {
        self.unavailable as f64 * 1000.0 / self.latencies.len().max(1) as f64
    }
}

pub async fn run(options: &Options, figures: &mut Vec<Figure>) -> Result<()> {
    let server = TestServer::start().await?;
    refuse_tmpfs(&server.data_dir())?;
    // One instance: every connection to it.
    let addrs = [address(&server)];
    let addr = &addrs[0];
    let http = http_client()?;
    let sites = Arc::new(demo_sites(&http, &server).await?);
    let counter = Arc::new(AtomicU64::new(0));
    let round = Duration::from_secs(options.round_secs);
    eprintln!("bench: ledger on {addr} (pid {})", server.pid());

    // The config, as every first visit fetches it.
    let mut config = Vec::new();
    for _ in 0..options.rounds {
        let sites = sites.clone();
        let r = load(&addrs, 64, round, move |i, _| {
            let site = &sites[i as usize % sites.len()];
            let req = request(
                "GET",
                &format!("/v1/sites/{}/config", site.id),
                &["Accept-Encoding: gzip, deflate, br"],
                b"",
            );
            (req, false)
        })
        .await?;
        config.push(r.per_sec);
    }
    figures.push(
        Figure::new(GROUP, "GET config, 64 clients", "req/s")
            .samples(config)
            .target(Target::AtLeast(100_000.0)),
    );

    // Durable consent writes.
    for clients in CLIENTS {
        let mut rounds = Vec::new();
        for _ in 0..options.rounds {
            rounds.push(writes(&addrs, clients, round, &sites, &counter).await?);
        }
        write_figures(GROUP, clients, &rounds, figures, |what| {
            match (what, clients) {
                ("throughput", 64) => Target::AtLeast(25_000.0),
                ("p50", 1) => Target::AtMost(0.5),
                ("p99", 64) => Target::AtMost(10.0),
                _ => Target::None,
            }
        });
    }

    // Fill to the target size, sampling the server's RSS at each tenth.
    let pid = server.pid();
    let mut rss_samples = Vec::new();
    let filled = fill_to(&addrs, &sites, &counter, options.records, |have| {
        let kib = rss_kib(pid);
        rss_samples.push((have, kib));
        format!("RSS {} MiB", kib / 1024)
    })
    .await?;
    // RSS now, before verification and export read the whole ledger.
    let rss_final = mb(rss_kib(pid));
    // Every consent request so far was answered 201: one record each (verification
    // below checks the ledger holds exactly these).
    let have = filled.records;
    let at = format!("at {} records", crate::report::number(have as f64));
    figures.push(
        Figure::new(
            GROUP,
            "POST consent during the fill to size, 64 clients",
            "writes/s",
        )
        .one(filled.per_sec),
    );
    let data = server.data_dir();
    let disk = disk_bytes(&data)?;
    figures.push(
        Figure::new(GROUP, format!("bytes on disk per record, {at}"), "B")
            .one(disk as f64 / have as f64)
            .target(Target::AtMost(800.0)),
    );
    let index = disk_bytes(&data.join("index"))?;
    let journal = disk.saturating_sub(index);
    figures.push(
        Figure::new(GROUP, "of which sled's index, per record", "B")
            .one(index as f64 / have as f64),
    );
    figures.push(
        Figure::new(GROUP, "of which the journal and the rest, per record", "B")
            .one(journal as f64 / have as f64),
    );
    figures.push(
        Figure::new(GROUP, format!("server RSS {at}, after the fill"), "MB")
            .one(rss_final)
            .target(Target::AtMost(150.0)),
    );
    figures.push(
        Figure::new(GROUP, "server RSS at each tenth of the fill", "MB")
            .samples(rss_samples.iter().map(|(_, kib)| mb(*kib)).collect()),
    );
    // Flatness: growth over the last half of the fill (1 M → 10 M with --records 10M).
    if let Some(&(mid_n, mid_rss)) = rss_samples.iter().find(|(n, _)| *n >= have / 2 && *n > 0) {
        figures.push(
            Figure::new(
                GROUP,
                format!(
                    "server RSS growth from {} to {} records",
                    crate::report::number(mid_n as f64),
                    crate::report::number(have as f64)
                ),
                "MB",
            )
            .one(rss_final - mb(mid_rss)),
        );
    }

    let (p50, p99) = lookups(addr, &sites, &filled.ids, options.rounds).await?;
    figures.push(Figure::new(GROUP, format!("proof lookup p50, {at}"), "ms").samples(p50));
    figures.push(
        Figure::new(GROUP, format!("proof lookup p99, {at}"), "ms")
            .samples(p99)
            .target(Target::AtMost(2.0)),
    );
    read_back(
        GROUP,
        &at,
        &http,
        server.base_url(),
        &sites,
        have,
        options.rounds,
        figures,
    )
    .await?;
    figures.push(
        Figure::new(
            GROUP,
            "server RSS after verification and export read the whole ledger",
            "MB",
        )
        .one(mb(rss_kib(pid))),
    );
    let errors = server_errors(&http, server.base_url()).await?;
    if errors > 0 {
        bail!("the server answered {errors} requests with 5xx");
    }
    Ok(())
}

/// The client counts of the write rounds.
pub const CLIENTS: [usize; 4] = [1, 16, 64, 256];

/// `127.0.0.1:<port>` of a server.
pub fn address(server: &TestServer) -> String {
    server.base_url().trim_start_matches("http://").to_string()
}

/// The client for everything but the load: long timeouts for verification and
/// export of the whole ledger.
pub fn http_client() -> Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .timeout(Duration::from_secs(600))
        .build()?)
}

/// The four demo sites with the API keys `server` printed at its start.
pub async fn demo_sites(http: &reqwest::Client, server: &TestServer) -> Result<Vec<Site>> {
    let mut sites = Vec::new();
    for id in ["saas", "coaching", "tutory", "sessionbutler"] {
        let body: Value = http
            .get(server.url(&format!("/v1/sites/{id}/config")))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let categories = body["config"]["categories"]
            .as_array()
            .map(|cs| {
                cs.iter()
                    .filter_map(|c| c["id"].as_str())
                    .filter(|c| *c != "necessary")
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default();
        sites.push(Site {
            id: id.into(),
            version: body["version"].as_str().context("config version")?.into(),
            key: demo_key(server, id)?,
            categories,
        });
    }
    Ok(sites)
}

/// One round of durable consent POSTs: `clients` connections spread round robin
/// over `addrs` for `duration`.
pub async fn writes(
    addrs: &[String],
    clients: usize,
    duration: Duration,
    sites: &Arc<Vec<Site>>,
    counter: &Arc<AtomicU64>,
) -> Result<Round> {
    writes_routed(addrs, Route::Client, clients, duration, sites, counter).await
}

/// How a load spreads its requests over several servers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// Each client keeps to one server (clients round robin over them): what a
    /// proxy does that balances connections.
    Client,
    /// Each request goes to the server of its site, picked as the nginx
    /// example's `hash` on the site picks it ([`nginx_hash`]); every client has
    /// a connection to each server (as nginx has to each upstream).
    Site,
}

/// The server nginx's `hash $key;` (not `consistent`) picks for `key` among
/// `servers` of equal weight, all up: `((crc32(key) >> 16) & 0x7fff) % servers`
/// (`ngx_http_upstream_get_hash_peer`, first try). For the benchmark's four
/// sites and two servers: saas and tutory on one, coaching and sessionbutler on
/// the other.
pub fn nginx_hash(key: &str, servers: usize) -> usize {
    let hash = (crc32fast::hash(key.as_bytes()) >> 16) & 0x7fff;
    hash as usize % servers.max(1)
}

/// [`writes`] with the requests spread over `addrs` by `route`.
pub async fn writes_routed(
    addrs: &[String],
    route: Route,
    clients: usize,
    duration: Duration,
    sites: &Arc<Vec<Site>>,
    counter: &Arc<AtomicU64>,
) -> Result<Round> {
    let (sites, counter) = (sites.clone(), counter.clone());
    let count = sites.len() as u64;
    // Each site's server, as nginx would pick it.
    let servers: Vec<usize> = sites
        .iter()
        .map(|s| nginx_hash(&s.id, addrs.len()))
        .collect();
    load_routed(addrs, route, clients, duration, move |_, last| {
        let n = counter.fetch_add(1, Ordering::Relaxed);
        let (req, keep) = consent(&sites, n, last);
        (req, keep, servers[(n % count) as usize])
    })
    .await
}

/// The figures of `clients`' write rounds: throughput, p50, p99, p999, each
/// with the target `target` gives its name ("throughput", "p50", …).
pub fn write_figures(
    group: &'static str,
    clients: usize,
    rounds: &[Round],
    figures: &mut Vec<Figure>,
    target: impl Fn(&str) -> Target,
) {
    let name = |what: &str| format!("POST consent, {clients} client{}: {what}", plural(clients));
    let measured = [
        (
            "throughput",
            "writes/s",
            rounds.iter().map(|r| r.per_sec).collect::<Vec<_>>(),
        ),
        ("p50", "ms", lat(rounds, 0.5)),
        ("p99", "ms", lat(rounds, 0.99)),
        ("p999", "ms", lat(rounds, 0.999)),
    ];
    for (what, unit, samples) in measured {
        figures.push(
            Figure::new(group, name(what), unit)
                .samples(samples)
                .target(target(what)),
        );
    }
}

/// What a fill brought.
#[derive(Debug)]
pub struct Filled {
    /// One consent ID in a thousand, with its site's index.
    pub ids: Vec<(usize, String)>,
    /// Records in the ledger now: every consent request of the run was answered
    /// 201, one record each.
    pub records: u64,
    /// Writes per second during the fill.
    pub per_sec: f64,
    /// Answers 503 (unavailable) during the fill, each retried.
    pub unavailable: u64,
}

/// Writes consents at [`FILL_CLIENTS`] connections spread over `addrs` until the
/// ledger holds `records`, keeping one consent ID in a thousand. At each tenth it
/// logs the count and what `progress` says (and may sample).
pub async fn fill_to(
    addrs: &[String],
    sites: &Arc<Vec<Site>>,
    counter: &Arc<AtomicU64>,
    records: u64,
    mut progress: impl FnMut(u64) -> String,
) -> Result<Filled> {
    let ids = Arc::new(std::sync::Mutex::new(Vec::<(usize, String)>::new()));
    let step = (records / 10).max(1);
    let start = Instant::now();
    let before = counter.load(Ordering::Relaxed);
    let mut unavailable = 0;
    loop {
        let have = counter.load(Ordering::Relaxed);
        eprintln!(
            "bench: {have} records, {}, {:.0} s",
            progress(have),
            start.elapsed().as_secs_f64()
        );
        let kept = ids.lock().map_or(0, |ids| ids.len());
        if have >= records && kept > 0 {
            break;
        }
        // At least a few thousand, so that there are IDs to look up.
        let want = step.min(records.saturating_sub(have)).max(5000);
        unavailable += fill(addrs, sites, counter, want, &ids).await?;
    }
    let records = counter.load(Ordering::Relaxed);
    let ids = ids.lock().map_err(|_| anyhow::anyhow!("ids lock"))?.clone();
    Ok(Filled {
        ids,
        records,
        per_sec: (records - before) as f64 / start.elapsed().as_secs_f64(),
        unavailable,
    })
}

/// `rounds` of 2,000 proof lookups of the kept consent IDs at `addr`, one client;
/// the p50 and p99 of each round, ms.
pub async fn lookups(
    addr: &str,
    sites: &[Site],
    ids: &[(usize, String)],
    rounds: usize,
) -> Result<(Vec<f64>, Vec<f64>)> {
    if ids.is_empty() {
        bail!("the fill kept no consent IDs");
    }
    let mut p50 = Vec::new();
    let mut p99 = Vec::new();
    for r in 0..rounds {
        let mut conn = Conn::connect(addr).await?;
        let mut lat = Vec::new();
        for i in 0..2000usize {
            let (s, id) = &ids[(i * 7919 + r * 104_729) % ids.len()];
            let site = &sites[*s];
            let req = request(
                "GET",
                &format!("/v1/admin/sites/{}/consents/{id}/proof", site.id),
                &[&format!("Authorization: Bearer {}", site.key)],
                b"",
            );
            let t = Instant::now();
            let resp = conn.send(&req).await?;
            lat.push(t.elapsed().as_micros() as u32);
            if resp.status != 200 {
                bail!(
                    "proof lookup answered {}: {}",
                    resp.status,
                    String::from_utf8_lossy(&resp.body)
                );
            }
        }
        lat.sort_unstable();
        p50.push(quantile(&lat, 0.5) / 1000.0);
        p99.push(quantile(&lat, 0.99) / 1000.0);
    }
    Ok((p50, p99))
}

/// Chain verification of every site (the whole ledger, which must hold exactly
/// `have` records) and the NDJSON export of every site, `rounds` times, at `base`.
#[allow(clippy::too_many_arguments)] // the figures' group and size, and what to read
pub async fn read_back(
    group: &'static str,
    at: &str,
    http: &reqwest::Client,
    base: &str,
    sites: &[Site],
    have: u64,
    rounds: usize,
    figures: &mut Vec<Figure>,
) -> Result<()> {
    let mut verify = Vec::new();
    let mut verify_rate = Vec::new();
    let mut export_rate = Vec::new();
    let mut record_bytes = 0.0;
    for _ in 0..rounds {
        let t = Instant::now();
        let mut checked = 0;
        let mut records = 0;
        for site in sites {
            let report: Value = http
                .get(format!("{base}/v1/admin/sites/{}/verify", site.id))
                .bearer_auth(&site.key)
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?;
            if report["verified"] != json!(true) {
                bail!("verification failed: {report}");
            }
            checked += report["checked"].as_u64().unwrap_or(0);
            records += report["records"].as_u64().unwrap_or(0);
        }
        let secs = t.elapsed().as_secs_f64();
        if records != have {
            bail!("the ledger holds {records} records; {have} were acknowledged");
        }
        verify.push(secs);
        verify_rate.push(checked as f64 / secs);

        let t = Instant::now();
        let mut lines = 0u64;
        let mut bytes = 0u64;
        for site in sites {
            let mut resp = http
                .get(format!(
                    "{base}/v1/admin/sites/{}/consents?format=ndjson&from=2000-01-01",
                    site.id
                ))
                .bearer_auth(&site.key)
                .send()
                .await?
                .error_for_status()?;
            while let Some(chunk) = resp.chunk().await? {
                lines += chunk.iter().filter(|b| **b == b'\n').count() as u64;
                bytes += chunk.len() as u64;
            }
        }
        export_rate.push(lines as f64 / t.elapsed().as_secs_f64());
        record_bytes = bytes as f64 / lines.max(1) as f64;
        if lines < have {
            bail!("the export had {lines} lines for {have} records");
        }
    }
    figures.push(
        Figure::new(group, format!("chain verification, every site, {at}"), "s").samples(verify),
    );
    figures.push(Figure::new(group, "chain verification rate", "records/s").samples(verify_rate));
    figures.push(Figure::new(group, "NDJSON export, every site", "records/s").samples(export_rate));
    figures.push(Figure::new(group, "a record as exported (NDJSON line)", "B").one(record_bytes));
    Ok(())
}

/// How many requests the server at `base` answered with 5xx: its own count (its
/// log has a line per request, gigabytes at ten million records).
pub async fn server_errors(http: &reqwest::Client, base: &str) -> Result<u64> {
    let metrics = http
        .get(format!("{base}/metrics"))
        .send()
        .await?
        .error_for_status()?
        .text()
        .await?;
    let errors: f64 = metrics
        .lines()
        .filter(|l| l.starts_with("keksdose_http_requests_total") && l.contains("status=\"5xx\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    Ok(errors as u64)
}

pub fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// The `q` quantile of each round, in ms.
fn lat(rounds: &[Round], q: f64) -> Vec<f64> {
    rounds
        .iter()
        .map(|r| quantile(&r.latencies, q) / 1000.0)
        .collect()
}

/// `clients` connections, spread round robin over `addrs`, sending
/// `make(n, last_consent_id)` back to back for `duration`; every answer must be
/// 2xx, after retries of a 503 (see [`send`]). `make` also says whether the
/// answer's consent ID is one to update later (see [`consent`]).
async fn load<F>(addrs: &[String], clients: usize, duration: Duration, make: F) -> Result<Round>
where
    F: Fn(u64, Option<&str>) -> (Vec<u8>, bool) + Send + Sync + 'static,
{
    load_routed(addrs, Route::Client, clients, duration, move |n, last| {
        let (req, keep) = make(n, last);
        (req, keep, 0)
    })
    .await
}

/// `clients` connections sending what `make` makes for `duration`; `make` also
/// names the server for the request (an index into `addrs`), which
/// [`Route::Site`] follows.
async fn load_routed<F>(
    addrs: &[String],
    route: Route,
    clients: usize,
    duration: Duration,
    make: F,
) -> Result<Round>
where
    F: Fn(u64, Option<&str>) -> (Vec<u8>, bool, usize) + Send + Sync + 'static,
{
    let make = Arc::new(make);
    let start = Arc::new(tokio::sync::Barrier::new(clients + 1));
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (make, start) = (make.clone(), start.clone());
        // A client's connections: the one server it keeps to, or one to each.
        let to: Vec<String> = match route {
            Route::Client => vec![addrs[c % addrs.len()].clone()],
            Route::Site => addrs.to_vec(),
        };
        tasks.push(tokio::spawn(async move {
            let mut conns = Vec::with_capacity(to.len());
            for addr in &to {
                conns.push(Conn::connect(addr).await?);
            }
            let mut latencies = Vec::with_capacity(4096);
            let mut unavailable = 0;
            let mut last: Option<String> = None;
            start.wait().await;
            let began = Instant::now();
            let mut n = c as u64;
            while began.elapsed() < duration {
                let (req, keep, server) = make(n, last.as_deref());
                let conn = &mut conns[server % to.len()];
                let t = Instant::now();
                let resp = send(conn, &req, &mut unavailable).await?;
                latencies.push(t.elapsed().as_micros() as u32);
                if !(200..300).contains(&resp.status) {
                    bail!(
                        "answer {}: {}",
                        resp.status,
                        String::from_utf8_lossy(&resp.body)
                    );
                }
                if resp.status == 201 && keep {
                    last = receipt_id(&resp.body);
                }
                n += clients as u64;
            }
            Ok::<_, anyhow::Error>((latencies, unavailable))
        }));
    }
    start.wait().await;
    let began = Instant::now();
    let mut latencies = Vec::new();
    let mut unavailable = 0;
    for t in tasks {
        let (l, u) = t.await??;
        latencies.extend(l);
        unavailable += u;
    }
    let secs = began.elapsed().as_secs_f64();
    latencies.sort_unstable();
    Ok(Round {
        per_sec: latencies.len() as f64 / secs,
        latencies,
        unavailable,
    })
}

/// [`FILL_CLIENTS`] connections spread over `addrs` writing `want` more
/// consents; one ID in a thousand is kept. Returns how many answers were 503
/// (each retried).
async fn fill(
    addrs: &[String],
    sites: &Arc<Vec<Site>>,
    counter: &Arc<AtomicU64>,
    want: u64,
    ids: &Arc<std::sync::Mutex<Vec<(usize, String)>>>,
) -> Result<u64> {
    let done = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for c in 0..FILL_CLIENTS {
        let (sites, counter, done, ids, addr) = (
            sites.clone(),
            counter.clone(),
            done.clone(),
            ids.clone(),
            addrs[c % addrs.len()].clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::connect(&addr).await?;
            let mut last: Option<String> = None;
            let mut unavailable = 0;
            while done.fetch_add(1, Ordering::Relaxed) < want {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let (req, keep) = consent(&sites, n, last.as_deref());
                let resp = send(&mut conn, &req, &mut unavailable).await?;
                if !(200..300).contains(&resp.status) {
                    bail!(
                        "answer {}: {}",
                        resp.status,
                        String::from_utf8_lossy(&resp.body)
                    );
                }
                let id = receipt_id(&resp.body);
                if n.is_multiple_of(1000)
                    && let (Some(id), Ok(mut ids)) = (&id, ids.lock())
                {
                    ids.push(((n % sites.len() as u64) as usize, id.clone()));
                }
                if keep {
                    last = id;
                }
            }
            Ok::<_, anyhow::Error>(unavailable)
        }));
    }
    let mut unavailable = 0;
    for t in tasks {
        unavailable += t.await??;
    }
    Ok(unavailable)
}

/// How often [`send`] sends a request that was answered 503.
const ATTEMPTS: usize = 5;

/// Sends `req` and reads the answer; a 503 (unavailable: the store could not
/// commit, e.g. PostgreSQL rolled the batch back) is counted in `unavailable` and
/// the same request sent again, as the loader retries a pending decision with its
/// idempotency key: one record either way. The latency a caller measures around
/// this is the visitor's, retries included.
async fn send(conn: &mut Conn, req: &[u8], unavailable: &mut u64) -> Result<Response> {
    let mut attempt = 1;
    loop {
        let resp = conn.send(req).await?;
        if resp.status != 503 || attempt == ATTEMPTS {
            return Ok(resp);
        }
        *unavailable += 1;
        attempt += 1;
    }
}

fn receipt_id(body: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    v["consent_id"].as_str().map(String::from)
}

/// The `n`-th decision of the load: about 400 bytes, rotating over the sites,
/// actions and languages. Of the first site's decisions, one in five updates the
/// last consent ID the connection got for that site; the `bool` says whether this
/// decision's ID is such an ID.
fn consent(sites: &[Site], n: u64, last: Option<&str>) -> (Vec<u8>, bool) {
    let site = &sites[(n % sites.len() as u64) as usize];
    let action = match n % 10 {
        0..=4 => "accept_all",
        5..=7 => "reject_all",
        _ => "custom",
    };
    let categories: serde_json::Map<String, Value> = if action == "custom" {
        site.categories
            .iter()
            .enumerate()
            .map(|(i, c)| (c.clone(), json!((n >> i) & 1 == 1)))
            .collect()
    } else {
        serde_json::Map::new()
    };
    let mut body = json!({
        "config_version": site.version,
        "action": action,
        "categories": categories,
        "language": if n.is_multiple_of(5) { "en" } else { "de" },
        "signals": {"gpc": n.is_multiple_of(13), "dnt": false},
        "idempotency_key": format!("bench-{n:016x}-{:016x}", n.wrapping_mul(0x9e37_79b9_7f4a_7c15)),
        "page": format!("/produkte/kategorie-{}/seite-{}?utm_source=newsletter&utm_campaign=herbst", n % 17, n % 50),
    });
    if let Some(id) = last
        && n.is_multiple_of(5)
        && n.is_multiple_of(sites.len() as u64)
    {
        body["consent_id"] = json!(id);
    }
    let body = serde_json::to_vec(&body).unwrap_or_default();
    let req = request(
        "POST",
        &format!("/v1/sites/{}/consents", site.id),
        &[
            "Accept-Encoding: gzip, deflate, br",
            "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 Safari/537.36",
        ],
        &body,
    );
    (req, n.is_multiple_of(sites.len() as u64))
}

/// The demo key the server printed for `site` at start.
fn demo_key(server: &TestServer, site: &str) -> Result<String> {
    server
        .log()
        .lines()
        .rev()
        .find(|l| l.split_whitespace().next() == Some(site) && l.contains("API key"))
        .and_then(|l| l.split_whitespace().last())
        .map(String::from)
        .with_context(|| format!("no API key for {site} in the server's output"))
}

/// Durable writes on tmpfs cost nothing: such a figure would be meaningless.
pub fn refuse_tmpfs(dir: &Path) -> Result<()> {
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    let dir = dir.canonicalize()?;
    let fs = mounts
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (_, point, kind) = (f.next()?, f.next()?, f.next()?);
            dir.starts_with(point)
                .then_some((point.len(), kind.to_string()))
        })
        .max_by_key(|(len, _)| *len)
        .map(|(_, kind)| kind)
        .unwrap_or_default();
    if fs == "tmpfs" || fs == "ramfs" {
        bail!(
            "the server's data directory {} is on {fs}, where fdatasync costs nothing; \
             set TMPDIR to a directory on a disk (cargo xtask bench uses target/bench-tmp)",
            dir.display()
        );
    }
    Ok(())
}

/// KiB → MB (10^6 bytes, as the targets are written).
pub fn mb(kib: u64) -> f64 {
    kib as f64 * 1024.0 / 1e6
}

/// The process's resident memory, KiB.
pub fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Bytes allocated on disk under `dir` (blocks, not apparent sizes).
fn disk_bytes(dir: &Path) -> Result<u64> {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0;
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let entry = entry?;
        let meta = entry.metadata()?;
        total += if meta.is_dir() {
            disk_bytes(&entry.path())?
        } else {
            meta.blocks() * 512
        };
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nginx_hash_splits_the_benchmark_sites_as_nginx_does() {
        // Expected values from nginx's formula over zlib's CRC-32 (Python:
        // `((zlib.crc32(b"saas") >> 16) & 0x7fff) % 2`): the four sites the
        // benchmark writes to go two and two.
        let servers: Vec<usize> = ["saas", "coaching", "tutory", "sessionbutler"]
            .iter()
            .map(|s| nginx_hash(s, 2))
            .collect();
        assert_eq!(servers, [1, 0, 1, 0]);
        assert_eq!(nginx_hash("saas", 1), 0);
    }
}
