//! The ledger on PostgreSQL (`--store postgres://…`): the steps of
//! [`crate::ledger`] against release `keksdose serve` processes that share one
//! database, in a schema made for the run and dropped after it.
//!
//! Order of the run:
//! - two servers on the schema (`KEKSDOSE_STORE` = the URL with
//!   `options=-csearch_path=<schema>`; each migrates it at start and has a data
//!   directory of its own for its signing key);
//! - durable consent POSTs at 1, 16, 64 and 256 clients, each round three ways,
//!   so that every figure sees the same table sizes and the same machine:
//!   against one instance; against both, each site's requests to one of them
//!   (as the nginx example routes: [`ledger::Route::Site`]); and against both,
//!   each client's requests to one of them, clients round robin (so each site's
//!   to both: [`ledger::Route::Client`]). The order of the three changes
//!   from round to round (six orders);
//! - a fill to `records` records through the first instance at 64 clients;
//! - at that size, after an `ANALYZE` and a `CHECKPOINT` (what autovacuum and the
//!   checkpointer would have done by then): bytes per
//!   record of every table and index of the schema (`pg_total_relation_size`: heap,
//!   TOAST and indexes), proof lookups, chain verification and the NDJSON export
//!   through the first instance.
//!
//! The database is the caller's. What else runs on it (other schemas, other
//! users) shares its WAL, its buffers and the machine, and shows in the figures.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use keksdose_tests::TestServer;
use serde_json::{Value, json};
use tokio_postgres::{Client, NoTls};

use crate::ledger::{self, CLIENTS, Route};
use crate::report::{Figure, Target, number};

const ONE: &str = "Ledger on PostgreSQL, one instance";
const TWO: &str = "Ledger on PostgreSQL, two instances, each site on one";
const MIXED: &str = "Ledger on PostgreSQL, two instances, each site on both";
const AT_SIZE: &str = "Ledger on PostgreSQL, at size";

/// Runs the PostgreSQL figures on the database at `url` (a `postgres://` URL
/// whose user may create and drop a schema); returns what the report should say
/// about that database (version, durability settings), without credentials.
pub async fn run(options: &ledger::Options, url: &str, figures: &mut Vec<Figure>) -> Result<Value> {
    let schema = Schema::create(url).await?;
    let admin = connect(url).await?;
    let database = describe(&admin).await?;
    if let Some(dir) = database["data_directory"].as_str()
        && Path::new(dir).exists()
    {
        // fsync on tmpfs costs nothing; the server itself refuses fsync=off.
        ledger::refuse_tmpfs(Path::new(dir))?;
    }
    eprintln!(
        "bench: ledger on PostgreSQL {}, schema {}",
        redact(url),
        schema.name
    );
    let store = schema.store.clone();
    let mut servers = Vec::new();
    for _ in 0..2 {
        let store = store.clone();
        servers.push(
            TestServer::start_with(move |cmd| {
                cmd.env("KEKSDOSE_STORE", store);
            })
            .await?,
        );
    }
    let addrs: Vec<String> = servers.iter().map(ledger::address).collect();
    let first = std::slice::from_ref(&addrs[0]);
    let http = ledger::http_client()?;
    // Each `serve --demo` renews the demo sites' API keys: the last one's hold.
    let sites = Arc::new(ledger::demo_sites(&http, &servers[1]).await?);
    let counter = Arc::new(AtomicU64::new(0));
    // 503s the write rounds sent again.
    let mut unavailable = 0;
    let round = Duration::from_secs(options.round_secs);
    eprintln!(
        "bench: instances on {} (pids {}, {})",
        addrs.join(" and "),
        servers[0].pid(),
        servers[1].pid()
    );

    // Durable consent writes, one instance and two, round after round: two
    // routed as the nginx example routes (each site's requests to one
    // instance), and two with every client's requests to one instance, clients
    // round robin (each site's requests to both).
    let deadlocks_before = deadlocks(&admin).await?;
    let mut one_figures = Vec::new();
    let mut two_figures = Vec::new();
    let mut mixed_figures = Vec::new();
    // The order of the three changes from round to round: a round runs while
    // PostgreSQL still writes back what the round before it wrote, and the one
    // after another would always pay for it (at one client, where two
    // instances cannot differ from one, the second of a fixed pair ran some
    // 10 % slower). Six orders: over any six rounds each mode is first, second
    // and third twice, and follows each other mode equally often.
    const ORDERS: [[usize; 3]; 6] = [
        [0, 1, 2],
        [1, 2, 0],
        [2, 0, 1],
        [0, 2, 1],
        [2, 1, 0],
        [1, 0, 2],
    ];
    let mut turn = 0;
    for clients in CLIENTS {
        let mut rounds: [Vec<ledger::Round>; 3] = Default::default();
        let runs = [
            (first, Route::Client),
            (&addrs[..], Route::Site),
            (&addrs[..], Route::Client),
        ];
        for _ in 0..options.rounds {
            for i in ORDERS[turn % ORDERS.len()] {
                let (to, route) = runs[i];
                let r = ledger::writes_routed(to, route, clients, round, &sites, &counter).await?;
                unavailable += r.unavailable;
                rounds[i].push(r);
            }
            turn += 1;
        }
        let [one, two, mixed] = &rounds;
        ledger::write_figures(ONE, clients, one, &mut one_figures, |what| {
            match (what, clients) {
                ("throughput", 64) => Target::AtLeast(10_000.0),
                ("p99", 64) => Target::AtMost(15.0),
                _ => Target::None,
            }
        });
        // Two instances no slower than one: at least the one-instance median.
        let one_median = Figure::new(ONE, "", "")
            .samples(one.iter().map(|r| r.per_sec).collect())
            .median();
        ledger::write_figures(TWO, clients, two, &mut two_figures, |what| {
            match (what, clients, one_median) {
                ("throughput", 64, Some(median)) => Target::AtLeast(median),
                _ => Target::None,
            }
        });
        ledger::write_figures(MIXED, clients, mixed, &mut mixed_figures, |_| Target::None);
        for (group, rounds, figures) in [
            (ONE, one, &mut one_figures),
            (TWO, two, &mut two_figures),
            (MIXED, mixed, &mut mixed_figures),
        ] {
            figures.push(
                Figure::new(
                    group,
                    format!(
                        "POST consent, {clients} client{}: answered 503 and sent again",
                        ledger::plural(clients)
                    ),
                    "per 1,000",
                )
                .samples(
                    rounds
                        .iter()
                        .map(ledger::Round::unavailable_per_1000)
                        .collect(),
                ),
            );
        }
    }
    // An instance's one writer cannot deadlock with itself: these are the two
    // instances' (or another user's of the database). The count reaches the
    // statistics within a second.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    mixed_figures.push(
        Figure::new(
            MIXED,
            "deadlocks PostgreSQL detected during the write rounds of all three (the database's count)",
            "deadlocks",
        )
        .one((deadlocks(&admin).await? - deadlocks_before) as f64),
    );
    figures.append(&mut one_figures);
    figures.append(&mut two_figures);
    figures.append(&mut mixed_figures);

    // Fill to size through the first instance. (Through both, each batch would
    // wait for the other instance's: the figures above say how that goes.)
    let wal_before = wal_lsn(&admin).await?;
    let written_before = counter.load(Ordering::Relaxed);
    let pids: Vec<u32> = servers.iter().map(TestServer::pid).collect();
    let filled = ledger::fill_to(first, &sites, &counter, options.records, |_| {
        format!(
            "RSS {} MiB",
            pids.iter().map(|p| ledger::rss_kib(*p)).sum::<u64>() / 1024
        )
    })
    .await?;
    let wal = wal_since(&admin, &wal_before).await?;
    // What autovacuum would have done by now after a million inserts (this
    // machine's database runs with it off): statistics, without which the
    // planner takes a million-row table for an empty one, and reads of a seq
    // range become scans of the rest of the site (verification at 1 M records
    // then takes many minutes); and a VACUUM (PostgreSQL 13 on vacuums a table
    // after inserts too), which marks the fill's rows as committed in their
    // pages. Without it, the first read of each row does that, and dirties
    // the page it reads: a proof lookup then waits to write another page back
    // to make room for its own (`DataFileWrite`), which is the fill's cost.
    admin
        .batch_execute(&format!(
            "VACUUM (ANALYZE) {0}.records, {0}.sites",
            schema.name
        ))
        .await?;
    // And the pages the fill left dirty, written as the checkpointer would have
    // by its next round (`checkpoint_timeout`): read while a checkpoint writes
    // them back, a lookup waits on that write-back (`DataFileWrite` when it
    // evicts a dirty buffer), which is the fill's cost, not the lookup's.
    // CHECKPOINT needs a superuser or `pg_checkpoint`; without, as it is.
    if let Err(e) = admin.batch_execute("CHECKPOINT").await {
        eprintln!(
            "bench: CHECKPOINT refused ({e}); lookups measured with the fill's pages unwritten"
        );
    }
    let have = filled.records;
    let at = format!("at {} records", number(have as f64));
    figures.push(
        Figure::new(
            AT_SIZE,
            "POST consent during the fill to size, 64 clients, one instance",
            "writes/s",
        )
        .one(filled.per_sec),
    );
    figures.push(
        Figure::new(
            AT_SIZE,
            "POST consent during the fill: answered 503 and sent again",
            "per 1,000",
        )
        .one(filled.unavailable as f64 * 1000.0 / (have - written_before).max(1) as f64),
    );
    figures.push(
        Figure::new(
            AT_SIZE,
            "WAL written per record during the fill (the whole database server's)",
            "B",
        )
        .one(wal as f64 / (have - written_before).max(1) as f64),
    );
    sizes(&admin, &schema.name, have, &at, figures).await?;
    for (which, pid) in ["first", "second"].iter().zip(&pids) {
        figures.push(
            Figure::new(AT_SIZE, format!("server RSS {at}, {which} instance"), "MB")
                .one(ledger::mb(ledger::rss_kib(*pid))),
        );
    }

    let (p50, p99) = ledger::lookups(&addrs[0], &sites, &filled.ids, options.rounds).await?;
    figures.push(Figure::new(AT_SIZE, format!("proof lookup p50, {at}"), "ms").samples(p50));
    figures.push(
        Figure::new(AT_SIZE, format!("proof lookup p99, {at}"), "ms")
            .samples(p99)
            .target(Target::AtMost(2.0)),
    );
    ledger::read_back(
        AT_SIZE,
        &at,
        &http,
        servers[0].base_url(),
        &sites,
        have,
        options.rounds,
        figures,
    )
    .await?;
    // Every 5xx must be a 503 the load counted and sent again.
    let mut errors = 0;
    for server in &servers {
        errors += ledger::server_errors(&http, server.base_url()).await?;
    }
    let unavailable = unavailable + filled.unavailable;
    if errors > unavailable {
        bail!("the servers answered {errors} requests with 5xx; the load saw {unavailable} 503s");
    }
    figures.push(
        Figure::new(
            AT_SIZE,
            "5xx answers in the whole run, both instances",
            "answers",
        )
        .one(errors as f64),
    );
    // The servers go before their schema.
    drop(servers);
    drop(schema);
    Ok(database)
}

/// Bytes per record of the schema's tables, with their TOAST and indexes; then
/// the records table's parts (heap, TOAST, each index) and the other tables.
async fn sizes(
    admin: &Client,
    schema: &str,
    records: u64,
    at: &str,
    figures: &mut Vec<Figure>,
) -> Result<()> {
    let per = |bytes: i64| bytes as f64 / records.max(1) as f64;
    let tables = admin
        .query(
            "SELECT c.relname, pg_relation_size(c.oid), pg_table_size(c.oid), \
                    pg_total_relation_size(c.oid) \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = $1 AND c.relkind = 'r' ORDER BY c.relname",
            &[&schema],
        )
        .await?;
    let total: i64 = tables.iter().map(|t| t.get::<_, i64>(3)).sum();
    figures.push(
        Figure::new(
            AT_SIZE,
            format!("bytes per record, every table with its indexes, {at}"),
            "B",
        )
        .one(per(total))
        .target(Target::AtMost(800.0)),
    );
    let records_row = tables
        .iter()
        .find(|t| t.get::<_, &str>(0) == "records")
        .context("the schema has no records table")?;
    let (heap, table, all): (i64, i64, i64) =
        (records_row.get(1), records_row.get(2), records_row.get(3));
    figures.push(Figure::new(AT_SIZE, "of which the records table's heap", "B").one(per(heap)));
    figures.push(
        Figure::new(
            AT_SIZE,
            "of which its TOAST (and free space and visibility maps)",
            "B",
        )
        .one(per(table - heap)),
    );
    let indexes = admin
        .query(
            "SELECT i.relname, pg_relation_size(i.oid) \
             FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid \
             JOIN pg_class t ON t.oid = x.indrelid \
             JOIN pg_namespace n ON n.oid = t.relnamespace \
             WHERE n.nspname = $1 AND t.relname = 'records' ORDER BY i.relname",
            &[&schema],
        )
        .await?;
    for index in &indexes {
        let name: &str = index.get(0);
        figures.push(
            Figure::new(AT_SIZE, format!("of which its index {name}"), "B").one(per(index.get(1))),
        );
    }
    let others: Vec<&str> = tables
        .iter()
        .map(|t| t.get::<_, &str>(0))
        .filter(|n| *n != "records")
        .collect();
    figures.push(
        Figure::new(
            AT_SIZE,
            format!("of which the other tables ({})", others.join(", ")),
            "B",
        )
        .one(per(total - all)),
    );
    Ok(())
}

/// A schema for one run, made on the database at `admin` and dropped with this
/// value (also when the run fails half way; a killed run leaves it, named
/// `kd_bench_<pid>_<time>`).
#[derive(Debug)]
struct Schema {
    admin: String,
    name: String,
    /// The store URL the servers get: the admin URL on this schema.
    store: String,
}

impl Schema {
    async fn create(admin: &str) -> Result<Schema> {
        let client = connect(admin).await?;
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let name = format!("kd_bench_{}_{since}", std::process::id());
        client
            .batch_execute(&format!("CREATE SCHEMA {name}"))
            .await
            .with_context(|| format!("creating the schema {name}"))?;
        let sep = if admin.contains('?') { '&' } else { '?' };
        let store = format!("{admin}{sep}options=-csearch_path%3D{name}&application_name={name}");
        Ok(Schema {
            admin: admin.to_string(),
            name,
            store,
        })
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        // Drop is not async: a thread with a runtime of its own.
        let (url, name) = (self.admin.clone(), self.name.clone());
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let client = connect(&url).await.ok()?;
                client
                    .batch_execute(&format!("DROP SCHEMA {name} CASCADE"))
                    .await
                    .ok()
            })
        });
        if !matches!(dropped.join(), Ok(Some(()))) {
            eprintln!(
                "bench: could not drop the schema {} (drop it by hand)",
                self.name
            );
        }
    }
}

/// A connection to `url`, driven on the current runtime.
async fn connect(url: &str) -> Result<Client> {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .with_context(|| format!("connecting to {}", redact(url)))?;
    tokio::spawn(connection);
    Ok(client)
}

/// The database as the report describes it: version and the settings that
/// decide what a durable write costs.
async fn describe(admin: &Client) -> Result<Value> {
    let mut out = serde_json::Map::new();
    for setting in [
        "server_version",
        "data_directory",
        "shared_buffers",
        "synchronous_commit",
        "fsync",
        "wal_sync_method",
        "commit_delay",
        "deadlock_timeout",
        "autovacuum",
        "full_page_writes",
    ] {
        // data_directory needs pg_read_all_settings; leave out what is refused.
        if let Ok(row) = admin.query_one(&format!("SHOW {setting}"), &[]).await {
            out.insert(setting.into(), json!(row.get::<_, String>(0)));
        }
    }
    Ok(Value::Object(out))
}

/// The database's count of deadlocks it detected and broke.
async fn deadlocks(admin: &Client) -> Result<i64> {
    Ok(admin
        .query_one(
            "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()",
            &[],
        )
        .await?
        .get(0))
}

async fn wal_lsn(admin: &Client) -> Result<String> {
    Ok(admin
        .query_one("SELECT pg_current_wal_lsn()::text", &[])
        .await?
        .get(0))
}

/// Bytes of WAL since `lsn`.
async fn wal_since(admin: &Client, lsn: &str) -> Result<i64> {
    let row = admin
        .query_one(
            "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::text::pg_lsn)::bigint",
            &[&lsn],
        )
        .await?;
    Ok(row.get(0))
}

/// `url` without its password, for the report and messages.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("…"));
            }
            u.to_string()
        }
        Err(_) => "(a connection string)".into(),
    }
}

/// Refuses a `--store` that is not a PostgreSQL URL.
pub fn check_url(url: &str) -> Result<()> {
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        bail!("--store takes a postgres://… URL, not {:?}", redact(url));
    }
    Ok(())
}
