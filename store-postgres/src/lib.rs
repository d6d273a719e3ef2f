//! The PostgreSQL store (`keksdose-store-postgres`): the ledger in one
//! database, shared by any number of `keksdose serve` processes.
//!
//! Why this holds. Every write of an instance goes to its one writer task,
//! which takes every job waiting at that moment into one transaction (group
//! commit: one COMMIT, one WAL flush) and answers only once the COMMIT has
//! returned. Appends are placed by [`keksdose_store::append::Batch`], the rules
//! every backend shares, against heads read with `SELECT … FOR UPDATE` on the
//! site's row: an instance appending to a site holds that row until it commits,
//! so two instances never seal two records after one head; the primary key
//! `(site, seq)` refuses a fork should that ever fail, and the unique index on
//! `(site, idempotency_key)` makes a key one record across instances. A batch
//! that fails before its COMMIT (a serialisation failure, a deadlock, a key
//! another instance took first, a lost connection) is rolled back by the
//! database and placed again from fresh heads, at most three times; then, and
//! when a COMMIT's outcome is unknown, its jobs are answered "unavailable" (and
//! a retried key is found, not written twice).
//!
//! Reads go over a few connections of their own, round robin, reconnecting
//! when the database dropped one. The connections and the writer run on a
//! small runtime the store owns, so they do not depend on the caller's.
#![forbid(unsafe_code)]

mod pack;
mod schema;

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use keksdose_shared::record::ChainVerifier;
use keksdose_shared::{Checkpoint, ConsentRecord, SiteConfig};
use keksdose_store::{
    Appended, AuditEntry, Batch, Change, ConsentProof, Draft, Head, PublicKey, Result, Selection,
    SiteMeta, Store, StoreError, audit, now_ms,
};
use tokio::sync::{mpsc, oneshot};
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, Config, NoTls, Row, Statement};

/// The most jobs one group commit takes.
const MAX_BATCH: usize = 1024;
/// Connections for reads.
const READERS: usize = 4;
/// How many config versions are kept in memory.
const CONFIGS_CACHED: usize = 1024;
/// How often a batch is placed again after a failure before its COMMIT.
const ATTEMPTS: usize = 3;
/// How long [`Store::site_recent`] answers a site from memory.
const SITE_FRESH: Duration = Duration::from_secs(1);
/// How many sites are kept in memory for it.
const SITES_CACHED: usize = 4096;
/// How many sites' heads the writer keeps, to place their batches ahead.
const HEADS_KEPT: usize = 4096;
/// How long the sites of a batch placed ahead that failed (most often: another
/// instance moved a head) are written under lock first, not placed ahead.
const SHARED_FOR: Duration = Duration::from_secs(1);

/// A proof's records (`$1` the consent ID, `$2` the site): each with the
/// records around it, on the primary key (a record between two of its own
/// comes once per neighbour).
const PROOF_RECORDS: &str = "SELECT r.consent_id = $1, r.seq, r.record, r.packed FROM records c \
     JOIN records r ON r.site = c.site AND r.seq BETWEEN c.seq - 1 AND c.seq + 1 \
     WHERE c.consent_id = $1 AND c.site = $2";

/// The checkpoint that covers a proof's latest record.
const PROOF_CHECKPOINT: &str = "SELECT checkpoint FROM checkpoints WHERE site = $2 AND seq >= \
     (SELECT max(seq) FROM records WHERE consent_id = $1 AND site = $2) \
     ORDER BY seq LIMIT 1";

/// The store on a database.
pub struct PgStore {
    db: Arc<Db>,
    /// Config versions read before: a version is its content's hash, so it
    /// never changes.
    configs: Mutex<HashMap<(String, String), SiteConfig>>,
    /// Sites read in the last second, for [`Store::site_recent`].
    sites: Arc<Mutex<RecentSites>>,
    tx: Option<mpsc::UnboundedSender<Job>>,
    runtime: Option<tokio::runtime::Runtime>,
    ahead: Arc<AheadCount>,
}

/// The writer's batches placed ahead ([`Place::Ahead`]): those that
/// committed so, and those placed again under lock.
#[derive(Debug, Default)]
struct AheadCount {
    committed: AtomicU64,
    again: AtomicU64,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The connection string may hold a password.
        f.debug_struct("PgStore").finish_non_exhaustive()
    }
}

/// Sites as read at a moment, for [`Store::site_recent`]. A change made
/// through this store forgets its site and moves the generation on, so that a
/// read that began before the change is not kept.
#[derive(Default)]
struct RecentSites {
    generation: u64,
    read: HashMap<String, (Instant, SiteMeta)>,
}

impl RecentSites {
    fn forget(sites: &Mutex<RecentSites>, id: &str) {
        if let Ok(mut s) = sites.lock() {
            s.generation += 1;
            s.read.remove(id);
        }
    }
}

/// The connections.
struct Db {
    config: Config,
    handle: tokio::runtime::Handle,
    readers: Vec<Mutex<Arc<Reader>>>,
    next: AtomicUsize,
}

/// A connection for reads, with the statements it has prepared (by their
/// SQL): a read then costs one round trip, not two, and is planned once.
struct Reader {
    client: Client,
    prepared: Mutex<HashMap<String, Statement>>,
}

impl Reader {
    fn new(client: Client) -> Reader {
        Reader {
            client,
            prepared: Mutex::new(HashMap::new()),
        }
    }

    async fn query(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> std::result::Result<Vec<Row>, tokio_postgres::Error> {
        let cached = self.prepared.lock().ok().and_then(|m| m.get(sql).cloned());
        let statement = match cached {
            Some(s) => s,
            None => {
                let s = self.client.prepare(sql).await?;
                if let Ok(mut m) = self.prepared.lock() {
                    m.insert(sql.to_string(), s.clone());
                }
                s
            }
        };
        let rows = self.client.query(&statement, params).await;
        if rows.is_err()
            && let Ok(mut m) = self.prepared.lock()
        {
            // A statement may have gone stale (a migration by a newer
            // release changed a table): prepared again on the next read.
            m.clear();
        }
        rows
    }
}

/// Whether the database is gone for now rather than refusing what was asked:
/// the connection closed or broken, the server shutting down or restarting
/// (`pg_terminate_backend` too), out of resources, a transaction rolled back.
fn transient(e: &tokio_postgres::Error) -> bool {
    e.is_closed()
        || e.code().is_none_or(|c| {
            let c = c.code();
            c.starts_with("08")
                || c.starts_with("57P")
                || c.starts_with("53")
                || c.starts_with("40")
        })
}

fn db_error(e: &tokio_postgres::Error) -> StoreError {
    if moved(e) {
        return StoreError::Unavailable(
            "database: a site's head moved while a batch was written after it; try again".into(),
        );
    }
    // The server's own message, not only "db error".
    let text = e.as_db_error().map_or_else(
        || e.to_string(),
        |d| format!("{}: {}", d.code().code(), d.message()),
    );
    if transient(e) {
        StoreError::Unavailable(format!("database: {text}"))
    } else {
        StoreError::Internal(format!("database: {text}"))
    }
}

fn json_error(e: &serde_json::Error) -> StoreError {
    StoreError::Internal(format!("stored JSON: {e}"))
}

impl Db {
    /// A new connection, driven on the store's runtime.
    async fn connect(&self) -> Result<Client> {
        connect(self.config.clone(), &self.handle).await
    }

    /// Slot `i`'s connection for a read; one the database dropped is replaced.
    async fn reader(&self, i: usize, fresh: bool) -> Result<Arc<Reader>> {
        let current = self.readers[i]
            .lock()
            .map_err(|_| StoreError::Internal("reader lock poisoned".into()))?
            .clone();
        if !fresh && !current.client.is_closed() {
            return Ok(current);
        }
        let new = Arc::new(Reader::new(self.connect().await?));
        if let Ok(mut slot) = self.readers[i].lock() {
            *slot = new.clone();
        }
        Ok(new)
    }

    /// A read, on the next connection; asked once more on a new connection
    /// when the database had ended that one (a restart, `pg_terminate_backend`).
    async fn query(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Vec<Row>> {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.readers.len();
        match self.reader(i, false).await?.query(sql, params).await {
            Err(e) if transient(&e) => self
                .reader(i, true)
                .await?
                .query(sql, params)
                .await
                .map_err(|e| db_error(&e)),
            other => other.map_err(|e| db_error(&e)),
        }
    }
}

async fn connect(config: Config, handle: &tokio::runtime::Handle) -> Result<Client> {
    handle
        .spawn(async move {
            let (client, connection) = config.connect(NoTls).await?;
            tokio::spawn(async move {
                // Ends when the client is dropped or the database goes away;
                // the next use of the client then sees it closed.
                let _ = connection.await;
            });
            // Statements are prepared once per connection, but planned at
            // each execution: a plan cached while a table was small (a scan
            // of it) would otherwise be kept as the table grows, until an
            // ANALYZE. Planning these costs far less than the round trip a
            // prepared statement saves. (The writer plans its own once:
            // `Writer::new`.)
            //
            // No JIT: the statements here are short (index probes, a page
            // of a site's records), but the planner may guess them long
            // where a range depends on a row found first (a proof's
            // neighbours: at 1.5 M records of one site it guessed 166,000
            // rows), and over `jit_above_cost` each execution compiled its
            // expressions anew: 5 ms of a 7 ms proof.
            client
                .batch_execute("SET plan_cache_mode = force_custom_plan; SET jit = off")
                .await?;
            Ok::<_, tokio_postgres::Error>(client)
        })
        .await
        .map_err(|e| StoreError::Internal(format!("connecting: {e}")))?
        .map_err(|e| StoreError::Unavailable(format!("connecting to the database: {e}")))
}

impl PgStore {
    /// Connects to the database at `url` (`postgres://…`; `?options=-csearch_path%3D…`
    /// picks a schema), refuses a database that does not make commits durable,
    /// migrates the schema, and starts the writer.
    pub async fn connect(url: &str) -> Result<PgStore> {
        let config: Config = url
            .parse()
            .map_err(|e| StoreError::Internal(format!("store: not a PostgreSQL URL: {e}")))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("keksdose-postgres")
            .enable_all()
            .build()
            .map_err(|e| StoreError::Internal(format!("runtime: {e}")))?;
        let handle = runtime.handle().clone();
        let sites = Arc::<Mutex<RecentSites>>::default();
        let ahead = Arc::<AheadCount>::default();
        match Self::start(config, handle, sites.clone(), ahead.clone()).await {
            Ok((db, tx)) => Ok(PgStore {
                db,
                configs: Mutex::new(HashMap::new()),
                sites,
                tx: Some(tx),
                runtime: Some(runtime),
                ahead,
            }),
            Err(e) => {
                // Dropping a runtime inside an async context would panic.
                runtime.shutdown_background();
                Err(e)
            }
        }
    }

    /// Connects, checks and migrates the database, and starts the writer on
    /// the store's runtime.
    async fn start(
        config: Config,
        handle: tokio::runtime::Handle,
        sites: Arc<Mutex<RecentSites>>,
        ahead: Arc<AheadCount>,
    ) -> Result<(Arc<Db>, mpsc::UnboundedSender<Job>)> {
        let mut writer = connect(config.clone(), &handle).await?;
        durable(&writer).await?;
        schema::migrate(&mut writer)
            .await
            .map_err(|e| db_error(&e))?;
        if let Some(at) = schema::newer(&writer).await.map_err(|e| db_error(&e))? {
            return Err(StoreError::Internal(schema::newer_error(at)));
        }
        let writer = Writer::new(writer).await?;
        let mut readers = Vec::with_capacity(READERS);
        for _ in 0..READERS {
            readers.push(Mutex::new(Arc::new(Reader::new(
                connect(config.clone(), &handle).await?,
            ))));
        }
        let db = Arc::new(Db {
            config,
            handle: handle.clone(),
            readers,
            next: AtomicUsize::new(0),
        });
        let (tx, rx) = mpsc::unbounded_channel();
        handle.spawn(run(rx, writer, db.clone(), sites, ahead));
        Ok((db, tx))
    }

    /// How many batches the writer placed ahead of their rows' locks (after
    /// the heads it last committed) that committed so, and how many of them
    /// were placed again under lock (a head had moved, a key was used before,
    /// or the database failed them otherwise).
    pub fn batches_ahead(&self) -> (u64, u64) {
        (
            self.ahead.committed.load(Ordering::Relaxed),
            self.ahead.again.load(Ordering::Relaxed),
        )
    }

    /// Migrates the schema of the database at `url` to this release's and
    /// returns how many migrations were applied (0: it was up to date).
    pub async fn migrate(url: &str) -> Result<usize> {
        let config: Config = url
            .parse()
            .map_err(|e| StoreError::Internal(format!("store: not a PostgreSQL URL: {e}")))?;
        let (mut client, connection) = config
            .connect(NoTls)
            .await
            .map_err(|e| StoreError::Unavailable(format!("connecting to the database: {e}")))?;
        let driver = tokio::spawn(connection);
        let applied = match schema::migrate(&mut client).await {
            Ok(n) => match schema::newer(&client).await {
                Ok(Some(at)) => Err(StoreError::Internal(schema::newer_error(at))),
                Ok(None) => Ok(n),
                Err(e) => Err(db_error(&e)),
            },
            Err(e) => Err(db_error(&e)),
        };
        drop(client);
        let _ = driver.await;
        applied
    }

    fn send<T: Send + 'static>(
        &self,
        job: impl FnOnce(oneshot::Sender<Result<T>>) -> Job,
    ) -> impl Future<Output = Result<T>> + Send + 'static {
        self.send_unless(None, job)
    }

    /// [`send`](Self::send), or the error `refused` at once.
    fn send_unless<T: Send + 'static>(
        &self,
        refused: Option<StoreError>,
        job: impl FnOnce(oneshot::Sender<Result<T>>) -> Job,
    ) -> impl Future<Output = Result<T>> + Send + 'static {
        let (reply, answer) = oneshot::channel();
        let sent = refused.is_none()
            && self
                .tx
                .as_ref()
                .is_some_and(|tx| tx.send(job(reply)).is_ok());
        async move {
            if let Some(e) = refused {
                return Err(e);
            }
            if !sent {
                return Err(StoreError::Unavailable("the store is shutting down".into()));
            }
            answer
                .await
                .unwrap_or_else(|_| Err(StoreError::Internal("the writer stopped".into())))
        }
    }
}

/// Copying a ledger sealed elsewhere (`keksdose migrate`): what the embedded
/// store holds goes in unchanged, hashes and all.
impl PgStore {
    /// Adds a site with every config version it has had, or, for a site that is
    /// here already (a migration run again), brings its key, origins and
    /// current version up to date and adds the versions it lacks. A site of
    /// the same id but another pseudonymisation key is another site:
    /// `Conflict`.
    pub async fn import_site(
        &self,
        site: &SiteMeta,
        configs: &[(String, SiteConfig)],
        times: &[(String, String)],
    ) -> Result<()> {
        let mut client = self.db.connect().await?;
        let tx = client.transaction().await.map_err(|e| db_error(&e))?;
        let origins = serde_json::to_string(&site.origins).unwrap_or_default();
        let placed = tx
            .execute(
                "INSERT INTO sites (id, origins, created_at, key_hash, secret, config_version) \
                 VALUES ($1, $2::text::jsonb, $3, $4, $5, $6) \
                 ON CONFLICT (id) DO UPDATE SET origins = EXCLUDED.origins, \
                 key_hash = EXCLUDED.key_hash, config_version = EXCLUDED.config_version \
                 WHERE sites.secret = EXCLUDED.secret AND sites.created_at = EXCLUDED.created_at",
                &[
                    &site.id,
                    &origins,
                    &site.created_at,
                    &site.key_hash,
                    &site.secret,
                    &site.config_version,
                ],
            )
            .await
            .map_err(|e| db_error(&e))?;
        if placed == 0 {
            return Err(StoreError::Conflict(format!(
                "site {:?} exists in the database as another site (other key, other creation time)",
                site.id
            )));
        }
        for (version, config) in configs {
            if config.version() != *version {
                return Err(StoreError::Internal(format!(
                    "site {:?}: config version {version} does not match its content",
                    site.id
                )));
            }
            insert_config(&tx, &site.id, version, config)
                .await
                .map_err(|e| db_error(&e))?;
            // When the version became current at the source, if it knows.
            if let Some((_, at)) = times.iter().find(|(v, _)| v == version) {
                tx.execute(
                    "UPDATE configs SET published_at = $3 WHERE site = $1 AND version = $2",
                    &[&site.id, version, at],
                )
                .await
                .map_err(|e| db_error(&e))?;
            }
        }
        let done = tx.commit().await.map_err(|e| db_error(&e));
        RecentSites::forget(&self.sites, &site.id);
        done
    }

    /// Appends records sealed elsewhere to the end of `site`'s ledger in one
    /// transaction, unchanged: they must continue its chain (the next seq, the
    /// head's hash as `prev_hash`, each hash recomputed), or nothing is written
    /// (`Conflict`). `keys`
    /// are the idempotency keys among them, by seq.
    pub async fn import_records(
        &self,
        site: &str,
        records: &[ConsentRecord],
        keys: &HashMap<u64, String>,
    ) -> Result<()> {
        let Some(last) = records.last() else {
            return Ok(());
        };
        let mut client = self.db.connect().await?;
        let tx = client.transaction().await.map_err(|e| db_error(&e))?;
        let row = tx
            .query_opt(
                "SELECT head_seq, head_hash FROM sites WHERE id = $1 FOR UPDATE",
                &[&site],
            )
            .await
            .map_err(|e| db_error(&e))?
            .ok_or_else(|| unknown(site))?;
        let (seq, hash): (i64, String) = (row.get(0), row.get(1));
        let mut chain = if seq == 0 {
            ChainVerifier::new(site)
        } else {
            ChainVerifier::resume(site, u64::try_from(seq).unwrap_or(0), &hash)
        };
        let mut columns = (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for r in records {
            // Every hash recomputed: a damaged record is refused, not copied.
            chain.push(r).map_err(|e| {
                StoreError::Conflict(format!(
                    "{site}: record {} does not continue the ledger at seq {}: {e}",
                    r.seq,
                    chain.verified()
                ))
            })?;
            columns.0.push(big(r.seq));
            columns.1.push(r.consent_id.clone());
            columns.2.push(big(Head::of(r).at_ms));
            columns.3.push(keys.get(&r.seq).cloned());
            columns.4.push(pack::pack(
                &serde_json::to_string(r).map_err(|e| json_error(&e))?,
            ));
        }
        tx.execute(
            "INSERT INTO records (site, seq, consent_id, received_ms, idempotency_key, packed) \
             SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::bigint[], $5::text[], $6::bytea[])",
            &[&site, &columns.0, &columns.1, &columns.2, &columns.3, &columns.4],
        )
        .await
        .map_err(|e| db_error(&e))?;
        let head = Head::of(last);
        tx.execute(
            "UPDATE sites SET head_seq = $2, head_hash = $3, head_at_ms = $4 WHERE id = $1",
            &[&site, &big(head.seq), &head.hash, &big(head.at_ms)],
        )
        .await
        .map_err(|e| db_error(&e))?;
        tx.commit().await.map_err(|e| db_error(&e))
    }

    /// Copies audit entries sealed elsewhere (`keksdose migrate`), unchanged:
    /// entries the target holds already must be the same (a resumed copy);
    /// the rest must continue its trail exactly, each hash recomputed, or
    /// nothing is written (`Conflict`).
    pub async fn import_audit(&self, entries: &[AuditEntry]) -> Result<()> {
        let mut client = self.db.connect().await?;
        let tx = client.transaction().await.map_err(|e| db_error(&e))?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&AUDIT_LOCK])
            .await
            .map_err(|e| db_error(&e))?;
        let (Some(first), Some(end)) = (entries.first(), entries.last()) else {
            return Ok(());
        };
        let entry = |r: &Row| {
            serde_json::from_str::<AuditEntry>(r.get::<_, &str>(0)).map_err(|e| json_error(&e))
        };
        // What the target holds of this page's seqs, and its last entry.
        let held = tx
            .query(
                "SELECT entry FROM audit WHERE seq BETWEEN $1 AND $2 ORDER BY seq",
                &[&big(first.seq), &big(end.seq)],
            )
            .await
            .map_err(|e| db_error(&e))?
            .iter()
            .map(entry)
            .collect::<Result<Vec<_>>>()?;
        let mut last = tx
            .query_opt("SELECT entry FROM audit ORDER BY seq DESC LIMIT 1", &[])
            .await
            .map_err(|e| db_error(&e))?
            .as_ref()
            .map(entry)
            .transpose()?;
        for e in entries {
            if let Some(h) = held.iter().find(|h| h.seq == e.seq) {
                if h.hash != e.hash {
                    return Err(StoreError::Conflict(format!(
                        "the target's audit entry {} is not this trail's",
                        e.seq
                    )));
                }
                continue;
            }
            if audit::verify(last.as_ref(), [e]).is_some() {
                return Err(StoreError::Conflict(format!(
                    "audit entry {} does not continue the target's trail",
                    e.seq
                )));
            }
            tx.execute(
                "INSERT INTO audit (seq, entry) VALUES ($1, $2)",
                &[
                    &big(e.seq),
                    &serde_json::to_string(e).map_err(|e| json_error(&e))?,
                ],
            )
            .await
            .map_err(|e| db_error(&e))?;
            last = Some(e.clone());
        }
        tx.commit().await.map_err(|e| db_error(&e))
    }
}

impl Drop for PgStore {
    fn drop(&mut self) {
        self.tx.take();
        if let Some(rt) = self.runtime.take() {
            // Every write was answered (its caller awaited it); nothing is left
            // to flush. Allowed inside an async context, unlike a blocking drop.
            rt.shutdown_background();
        }
    }
}

/// Refuses a database that acknowledges commits before they are on disk.
async fn durable(client: &Client) -> Result<()> {
    for setting in ["fsync", "synchronous_commit"] {
        let value: String = client
            .query_one(&format!("SHOW {setting}"), &[])
            .await
            .map_err(|e| db_error(&e))?
            .get(0);
        if value == "off" {
            return Err(StoreError::Unavailable(format!(
                "the database has {setting} = off: a commit could be lost after it was \
                 acknowledged; Keksdose needs it on"
            )));
        }
    }
    Ok(())
}

fn site_of(row: &Row) -> Result<SiteMeta> {
    let origins: String = row.get(1);
    Ok(SiteMeta {
        id: row.get(0),
        origins: serde_json::from_str(&origins).map_err(|e| json_error(&e))?,
        created_at: row.get(2),
        key_hash: row.get(3),
        secret: row.get(4),
        config_version: row.get(5),
    })
}

const SITE_COLUMNS: &str = "id, origins::text, created_at, key_hash, secret, config_version";

/// A record from columns `i` (`record`, its JSON text, as the first release
/// stored it) and `i + 1` (`packed`, see [`pack`]).
fn record_at(row: &Row, i: usize) -> Result<ConsentRecord> {
    let text = match (
        row.get::<_, Option<&str>>(i),
        row.get::<_, Option<&[u8]>>(i + 1),
    ) {
        (Some(text), _) => std::borrow::Cow::Borrowed(text),
        (None, Some(packed)) => std::borrow::Cow::Owned(
            pack::unpack(packed)
                .map_err(|e| StoreError::Internal(format!("stored record: {e}")))?,
        ),
        (None, None) => {
            return Err(StoreError::Internal(
                "a record row without its record".into(),
            ));
        }
    };
    serde_json::from_str(&text).map_err(|e| json_error(&e))
}

fn record_of(row: &Row) -> Result<ConsentRecord> {
    record_at(row, 0)
}

fn head_of(seq: i64, hash: String, at_ms: i64) -> Option<Head> {
    (seq > 0).then(|| Head {
        seq: u64::try_from(seq).unwrap_or(0),
        hash,
        at_ms: u64::try_from(at_ms).unwrap_or(0),
    })
}

/// Whether any of `keys` holds a NUL, which PostgreSQL's text cannot: no row
/// has such a key, so a read asked for one finds nothing without asking.
fn has_nul(keys: &[&str]) -> bool {
    keys.iter().any(|k| k.contains('\0'))
}

/// A `u64` as PostgreSQL's `bigint` (seqs and times stay far below its limit).
fn big(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl PgStore {
    /// The first seq of `site` (whose head is `head`) sealed at or after
    /// `at_ms`, or `head + 1`: a bisection, one primary-key read a step.
    async fn first_at(&self, site: &str, head: u64, at_ms: i64) -> Result<u64> {
        let (mut low, mut high) = (1, head.saturating_add(1));
        while low < high {
            let mid = low + (high - low) / 2;
            let rows = self
                .db
                .query(
                    "SELECT received_ms FROM records WHERE site = $1 AND seq = $2",
                    &[&site, &big(mid)],
                )
                .await?;
            let Some(row) = rows.first() else {
                return Err(StoreError::Internal(format!(
                    "{site}: record {mid} is missing below the head {head}"
                )));
            };
            if row.get::<_, i64>(0) >= at_ms {
                high = mid;
            } else {
                low = mid + 1;
            }
        }
        Ok(low)
    }
}

impl Store for PgStore {
    fn create_site(
        &self,
        site: SiteMeta,
        config: SiteConfig,
    ) -> impl Future<Output = Result<()>> + Send {
        self.send(|reply| Job::CreateSite {
            site,
            config: Box::new(config),
            reply,
        })
    }

    fn update_site(&self, site: SiteMeta) -> impl Future<Output = Result<()>> + Send {
        self.send(|reply| Job::UpdateSite { site, reply })
    }

    fn publish_config(
        &self,
        site: &str,
        config: SiteConfig,
    ) -> impl Future<Output = Result<String>> + Send {
        let site = site.to_string();
        self.send(|reply| Job::Publish {
            site,
            config: Box::new(config),
            reply,
        })
    }

    fn append(
        &self,
        site: &str,
        draft: Draft,
    ) -> impl Future<Output = Result<ConsentRecord>> + Send {
        let site = site.to_string();
        // A NUL would fail the whole group commit it joined: refused alone,
        // here (the services let none through; this is the last line).
        let key = draft.idempotency_key.as_deref().unwrap_or("");
        let refused = has_nul(&[&site, &draft.consent_id, key])
            .then(|| StoreError::Internal("a key with a NUL cannot be stored".into()));
        self.send_unless(refused, |reply| Job::Append {
            site,
            draft: Box::new(draft),
            reply,
        })
    }

    fn change(&self, changes: Vec<Change>) -> impl Future<Output = Result<()>> + Send {
        self.send(|reply| Job::Change { changes, reply })
    }

    async fn register_key(&self, key: PublicKey) -> Result<()> {
        if has_nul(&[&key.key_id, &key.x]) {
            return Err(StoreError::Internal(
                "a key with a NUL cannot be stored".into(),
            ));
        }
        // Committed on its own: one row, nothing to group.
        self.db
            .query(
                "INSERT INTO signing_keys (key_id, x) VALUES ($1, $2) \
                 ON CONFLICT (key_id) DO NOTHING",
                &[&key.key_id, &key.x],
            )
            .await?;
        Ok(())
    }

    async fn keys(&self) -> Result<Vec<PublicKey>> {
        let rows = self
            .db
            .query("SELECT key_id, x FROM signing_keys ORDER BY key_id", &[])
            .await?;
        Ok(rows
            .iter()
            .map(|r| PublicKey {
                key_id: r.get(0),
                x: r.get(1),
            })
            .collect())
    }

    async fn site(&self, id: &str) -> Result<Option<SiteMeta>> {
        if has_nul(&[id]) {
            return Ok(None);
        }
        let rows = self
            .db
            .query(
                &format!("SELECT {SITE_COLUMNS} FROM sites WHERE id = $1"),
                &[&id],
            )
            .await?;
        rows.first().map(site_of).transpose()
    }

    async fn site_recent(&self, id: &str) -> Result<Option<SiteMeta>> {
        let asked = Instant::now();
        let mut generation = None;
        if let Ok(s) = self.sites.lock() {
            if let Some((at, site)) = s.read.get(id)
                && asked.duration_since(*at) < SITE_FRESH
            {
                return Ok(Some(site.clone()));
            }
            generation = Some(s.generation);
        }
        let site = self.site(id).await?;
        if let Some(site) = &site
            && let Ok(mut s) = self.sites.lock()
            && generation == Some(s.generation)
        {
            if s.read.len() >= SITES_CACHED {
                s.read.clear();
            }
            // As of when it was asked: the row may be older than the answer.
            s.read.insert(id.to_string(), (asked, site.clone()));
        }
        Ok(site)
    }

    async fn sites(&self) -> Result<Vec<SiteMeta>> {
        let rows = self
            .db
            .query(
                &format!("SELECT {SITE_COLUMNS} FROM sites ORDER BY id"),
                &[],
            )
            .await?;
        rows.iter().map(site_of).collect()
    }

    async fn config(&self, site: &str, version: &str) -> Result<Option<SiteConfig>> {
        if has_nul(&[site, version]) {
            return Ok(None);
        }
        let key = (site.to_string(), version.to_string());
        if let Some(c) = self.configs.lock().ok().and_then(|m| m.get(&key).cloned()) {
            return Ok(Some(c));
        }
        let rows = self
            .db
            .query(
                "SELECT config FROM configs WHERE site = $1 AND version = $2",
                &[&site, &version],
            )
            .await?;
        let config: Option<SiteConfig> = rows
            .first()
            .map(|r| serde_json::from_str(r.get::<_, &str>(0)).map_err(|e| json_error(&e)))
            .transpose()?;
        if let Some(c) = &config
            && let Ok(mut m) = self.configs.lock()
        {
            if m.len() >= CONFIGS_CACHED {
                m.clear();
            }
            m.insert(key, c.clone());
        }
        Ok(config)
    }

    async fn head(&self, site: &str) -> Result<Option<Head>> {
        if has_nul(&[site]) {
            return Ok(None);
        }
        let rows = self
            .db
            .query(
                "SELECT head_seq, head_hash, head_at_ms FROM sites WHERE id = $1",
                &[&site],
            )
            .await?;
        Ok(rows
            .first()
            .and_then(|r| head_of(r.get(0), r.get(1), r.get(2))))
    }

    async fn records(
        &self,
        site: &str,
        from: u64,
        to: u64,
        limit: usize,
    ) -> Result<Vec<ConsentRecord>> {
        if from > to || limit == 0 || has_nul(&[site]) {
            return Ok(Vec::new());
        }
        let rows = self
            .db
            .query(
                "SELECT record, packed FROM records WHERE site = $1 AND seq >= $2 AND seq <= $3 \
                 ORDER BY seq LIMIT $4",
                &[&site, &big(from), &big(to), &big(limit as u64)],
            )
            .await?;
        rows.iter().map(record_of).collect()
    }

    async fn consent(&self, site: &str, consent_id: &str) -> Result<Vec<ConsentRecord>> {
        if has_nul(&[site, consent_id]) {
            return Ok(Vec::new());
        }
        let rows = self
            .db
            .query(
                "SELECT record, packed FROM records WHERE consent_id = $1 AND site = $2 ORDER BY seq",
                &[&consent_id, &site],
            )
            .await?;
        rows.iter().map(record_of).collect()
    }

    async fn consent_proof(&self, site: &str, consent_id: &str) -> Result<ConsentProof> {
        if has_nul(&[site, consent_id]) {
            return Ok(ConsentProof::default());
        }
        // Two queries at once on two connections, one round trip: the
        // consent ID's records with the seqs around each on the primary key
        // (a record between two of its own comes once per neighbour), and the
        // covering checkpoint. Each plans as a few index probes; as one
        // statement (a UNION) they took longer to plan than to run.
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 2] = [&consent_id, &site];
        let ledger = self.db.query(PROOF_RECORDS, &params);
        let checkpoint = self.db.query(PROOF_CHECKPOINT, &params);
        let (rows, checkpoint) = tokio::try_join!(ledger, checkpoint)?;
        let mut read = ConsentProof::default();
        let mut ledger: Vec<(i64, bool, &Row)> = rows
            .iter()
            .map(|row| (row.get(1), row.get(0), row))
            .collect();
        ledger.sort_unstable_by_key(|(seq, ..)| *seq);
        ledger.dedup_by_key(|(seq, ..)| *seq);
        for (_, own, row) in ledger {
            let record = record_at(row, 2)?;
            if own {
                read.records.push(record);
            } else {
                read.neighbours.push(record);
            }
        }
        let Some(last) = read.records.last().map(|r| r.seq) else {
            // The checkpoint covers nothing here.
            return Ok(ConsentProof::default());
        };
        read.checkpoint = checkpoint
            .first()
            .map(|r| serde_json::from_str::<Checkpoint>(r.get(0)).map_err(|e| json_error(&e)))
            .transpose()?;
        // The two queries see the ledger as of two moments: a record of this
        // consent ID committed between them may be newer than the checkpoint
        // found. Asked again for the records read.
        if read.checkpoint.as_ref().is_some_and(|c| c.seq < last) {
            read.checkpoint = self.checkpoint_covering(site, last).await?;
        }
        Ok(read)
    }

    async fn consent_site(&self, consent_id: &str) -> Result<Option<String>> {
        if has_nul(&[consent_id]) {
            return Ok(None);
        }
        let rows = self
            .db
            .query(
                "SELECT site FROM records WHERE consent_id = $1 LIMIT 1",
                &[&consent_id],
            )
            .await?;
        Ok(rows.first().map(|r| r.get(0)))
    }

    async fn subject(&self, site: &str, subject_hash: &str) -> Result<Vec<String>> {
        if has_nul(&[site, subject_hash]) {
            return Ok(Vec::new());
        }
        let rows = self
            .db
            .query(
                "SELECT consent_id FROM subjects WHERE site = $1 AND subject_hash = $2 \
                 ORDER BY consent_id",
                &[&site, &subject_hash],
            )
            .await?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    async fn checkpoint_covering(&self, site: &str, seq: u64) -> Result<Option<Checkpoint>> {
        if has_nul(&[site]) {
            return Ok(None);
        }
        let rows = self
            .db
            .query(
                "SELECT checkpoint FROM checkpoints WHERE site = $1 AND seq >= $2 \
                 ORDER BY seq LIMIT 1",
                &[&site, &big(seq)],
            )
            .await?;
        rows.first()
            .map(|r| serde_json::from_str(r.get::<_, &str>(0)).map_err(|e| json_error(&e)))
            .transpose()
    }

    async fn latest_checkpoint(&self, site: &str) -> Result<Option<Checkpoint>> {
        if has_nul(&[site]) {
            return Ok(None);
        }
        let rows = self
            .db
            .query(
                "SELECT checkpoint FROM checkpoints WHERE site = $1 ORDER BY seq DESC LIMIT 1",
                &[&site],
            )
            .await?;
        rows.first()
            .map(|r| serde_json::from_str(r.get::<_, &str>(0)).map_err(|e| json_error(&e)))
            .transpose()
    }

    async fn lease(&self, name: &str, holder: &str, ttl_ms: u64) -> Result<bool> {
        // The database's clock, so that the instances' clocks need not agree.
        let rows = self
            .db
            .query(
                "INSERT INTO leases (name, holder, until) \
                 VALUES ($1, $2, clock_timestamp() + $3 * interval '1 millisecond') \
                 ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, until = EXCLUDED.until \
                 WHERE leases.holder = EXCLUDED.holder OR leases.until <= clock_timestamp() \
                 RETURNING holder",
                &[&name, &holder, &(ttl_ms as f64)],
            )
            .await?;
        Ok(!rows.is_empty())
    }

    async fn config_times(&self, site: &str) -> Result<Vec<(String, String)>> {
        if has_nul(&[site]) {
            return Ok(Vec::new());
        }
        let rows = self
            .db
            .query(
                "SELECT version, published_at FROM configs WHERE site = $1 \
                 ORDER BY published_at COLLATE \"C\", version COLLATE \"C\"",
                &[&site],
            )
            .await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    async fn configs(&self, site: &str) -> Result<Vec<(String, SiteConfig)>> {
        if has_nul(&[site]) {
            return Ok(Vec::new());
        }
        let rows = self
            .db
            .query(
                "SELECT version, config FROM configs WHERE site = $1 ORDER BY version COLLATE \"C\"",
                &[&site],
            )
            .await?;
        rows.iter()
            .map(|r| {
                let config =
                    serde_json::from_str(r.get::<_, &str>(1)).map_err(|e| json_error(&e))?;
                Ok((r.get(0), config))
            })
            .collect()
    }

    async fn links(&self, site: &str) -> Result<Vec<(String, String)>> {
        if has_nul(&[site]) {
            return Ok(Vec::new());
        }
        let rows = self
            .db
            .query(
                "SELECT subject_hash, consent_id FROM subjects WHERE site = $1 \
                 ORDER BY subject_hash COLLATE \"C\", consent_id COLLATE \"C\"",
                &[&site],
            )
            .await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    async fn doc(&self, table: &str, key: &str) -> Result<Option<String>> {
        if has_nul(&[table, key]) {
            return Ok(None);
        }
        let rows = self
            .db
            .query(
                "SELECT value FROM docs WHERE tbl = $1 AND key = $2",
                &[&table, &key],
            )
            .await?;
        Ok(rows.first().map(|r| r.get(0)))
    }

    async fn docs(&self, table: &str) -> Result<Vec<(String, String)>> {
        if has_nul(&[table]) {
            return Ok(Vec::new());
        }
        let rows = self
            .db
            .query(
                "SELECT key, value FROM docs WHERE tbl = $1 ORDER BY key COLLATE \"C\"",
                &[&table],
            )
            .await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    async fn audit(&self, after: u64, limit: usize) -> Result<Vec<AuditEntry>> {
        let rows = self
            .db
            .query(
                "SELECT entry FROM audit WHERE seq > $1 ORDER BY seq LIMIT $2",
                &[&big(after), &(i64::try_from(limit).unwrap_or(i64::MAX))],
            )
            .await?;
        rows.iter()
            .map(|r| serde_json::from_str(r.get::<_, &str>(0)).map_err(|e| json_error(&e)))
            .collect()
    }

    async fn checkpoints(&self, site: &str) -> Result<Vec<Checkpoint>> {
        if has_nul(&[site]) {
            return Ok(Vec::new());
        }
        let rows = self
            .db
            .query(
                "SELECT checkpoint FROM checkpoints WHERE site = $1 ORDER BY seq",
                &[&site],
            )
            .await?;
        rows.iter()
            .map(|r| serde_json::from_str(r.get::<_, &str>(0)).map_err(|e| json_error(&e)))
            .collect()
    }

    async fn idempotency_keys(&self, site: &str) -> Result<Vec<(u64, String)>> {
        if has_nul(&[site]) {
            return Ok(Vec::new());
        }
        let rows = self
            .db
            .query(
                "SELECT seq, idempotency_key FROM records \
                 WHERE site = $1 AND idempotency_key IS NOT NULL ORDER BY seq",
                &[&site],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| (u64::try_from(r.get::<_, i64>(0)).unwrap_or(0), r.get(1)))
            .collect())
    }

    async fn select(
        &self,
        site: &str,
        selection: &Selection,
        after: u64,
        limit: usize,
    ) -> Result<Vec<ConsentRecord>> {
        if limit == 0 || has_nul(&[site, selection.subject_hash.as_deref().unwrap_or("")]) {
            return Ok(Vec::new());
        }
        let from = selection.from_ms.map(big);
        let to = selection.to_ms.map(big);
        // Times never run backwards along a site's chain (a record is sealed
        // at the later of the clock and its head's time), so a time range is
        // a seq range, found by bisection on the primary key: no index on time
        // is kept, and a page never scans past the range's end.
        let head = match (from, to) {
            (None, None) => 0,
            _ => match self.head(site).await? {
                Some(h) => h.seq,
                None => return Ok(Vec::new()),
            },
        };
        // A later page (`after` > 0) starts past `from` already: only the
        // first page looks for it (the query still checks each time).
        let start = match from {
            Some(at) if after == 0 => self.first_at(site, head, at).await?,
            _ => 1,
        }
        .max(after.saturating_add(1));
        let end = match to {
            Some(at) => self.first_at(site, head, at).await?,
            None => u64::MAX,
        };
        if start >= end {
            return Ok(Vec::new());
        }
        let rows = self
            .db
            .query(
                "SELECT record, packed FROM records r WHERE site = $1 AND seq >= $2 AND seq < $3 \
                 AND ($4::bigint IS NULL OR received_ms >= $4) \
                 AND ($5::bigint IS NULL OR received_ms < $5) \
                 AND ($6::text IS NULL OR consent_id IN \
                      (SELECT consent_id FROM subjects s WHERE s.site = $1 AND s.subject_hash = $6)) \
                 ORDER BY seq LIMIT $7",
                &[
                    &site,
                    &big(start),
                    &big(end),
                    &from,
                    &to,
                    &selection.subject_hash,
                    &big(limit as u64),
                ],
            )
            .await?;
        rows.iter().map(record_of).collect()
    }
}

enum Job {
    CreateSite {
        site: SiteMeta,
        config: Box<SiteConfig>,
        reply: oneshot::Sender<Result<()>>,
    },
    UpdateSite {
        site: SiteMeta,
        reply: oneshot::Sender<Result<()>>,
    },
    Publish {
        site: String,
        config: Box<SiteConfig>,
        reply: oneshot::Sender<Result<String>>,
    },
    Append {
        site: String,
        draft: Box<Draft>,
        reply: oneshot::Sender<Result<ConsentRecord>>,
    },
    Change {
        changes: Vec<Change>,
        reply: oneshot::Sender<Result<()>>,
    },
}

/// What one job came to in a batch, sent once the batch committed.
enum Outcome {
    Unit(Result<()>),
    Version(Result<String>),
    Record(Box<Result<ConsentRecord>>),
}

impl Job {
    fn answer(self, outcome: Outcome) {
        // A dropped receiver means the caller gave up waiting; nothing to do.
        match (self, outcome) {
            (
                Job::CreateSite { reply, .. }
                | Job::UpdateSite { reply, .. }
                | Job::Change { reply, .. },
                Outcome::Unit(r),
            ) => drop(reply.send(r)),
            (Job::Publish { reply, .. }, Outcome::Version(r)) => drop(reply.send(r)),
            (Job::Append { reply, .. }, Outcome::Record(r)) => drop(reply.send(*r)),
            (job, _) => job.fail(&StoreError::Internal("an answer of the wrong kind".into())),
        }
    }

    fn fail(self, e: &StoreError) {
        let e = || match e {
            StoreError::Unavailable(m) => StoreError::Unavailable(m.clone()),
            other => StoreError::Internal(other.to_string()),
        };
        match self {
            Job::CreateSite { reply, .. }
            | Job::UpdateSite { reply, .. }
            | Job::Change { reply, .. } => drop(reply.send(Err(e()))),
            Job::Publish { reply, .. } => drop(reply.send(Err(e()))),
            Job::Append { reply, .. } => drop(reply.send(Err(e()))),
        }
    }
}

/// How a batch failed.
enum Failed {
    /// Before its COMMIT: rolled back, and safe to place again.
    Before(tokio_postgres::Error),
    /// At its COMMIT: it may or may not have committed.
    AtCommit(tokio_postgres::Error),
    /// Before its COMMIT, and the connection could not even roll back: not
    /// committed, safe to place again, on another connection.
    Unusable(tokio_postgres::Error),
}

impl From<tokio_postgres::Error> for Failed {
    fn from(e: tokio_postgres::Error) -> Failed {
        Failed::Before(e)
    }
}

/// Whether placing the batch again may succeed: the database was gone for a
/// moment (see [`transient`]), or another instance took a key first.
fn retryable(e: &tokio_postgres::Error) -> bool {
    moved(e) || retryable_otherwise(e)
}

/// Whether the heads' UPDATE refused a head that is not the one its batch
/// was placed after: it divides by zero there (`Writes`), the one division of
/// the writer's statements. So it needs no function, nor the privilege to
/// create one, and does not depend on the database's language.
fn moved(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&SqlState::DIVISION_BY_ZERO)
}

fn retryable_otherwise(e: &tokio_postgres::Error) -> bool {
    // A "transaction aborted" should never be what a batch reports (see
    // `biased` below), but if it is, the failure before it was not a refusal.
    transient(e)
        || e.code() == Some(&SqlState::UNIQUE_VIOLATION)
        || e.code() == Some(&SqlState::IN_FAILED_SQL_TRANSACTION)
}

/// The writer's statements, prepared once on its connection, so that a batch
/// costs a few round trips whatever its size: its site rows locked and its
/// idempotency keys looked up together, its records and subject links
/// inserted in one statement each, its heads updated in one (which fails the
/// transaction, dividing by zero, where a head is not the one the batch was
/// placed after: see [`moved`]).
struct Writes {
    lock: Statement,
    lock_one: Statement,
    known: Statement,
    insert: Statement,
    link: Statement,
    heads: Statement,
}

/// The writer's connection and its statements.
struct Writer {
    client: Client,
    writes: Writes,
}

impl Writer {
    async fn new(client: Client) -> Result<Writer> {
        // The writer's statements are planned once, on this connection (unlike
        // the readers', see `connect`): planning them at each batch cost a
        // third of a one-record batch. A plan made while the tables were
        // empty must still hold when they are large, so no plan may scan a
        // table: no sequential scans, and the key lookup is one index probe
        // per key (LATERAL … LIMIT 1 with the partial index's own condition;
        // as a join, its plan made on an empty table read the whole index).
        client
            .batch_execute("SET plan_cache_mode = force_generic_plan; SET enable_seqscan = off")
            .await
            .map_err(|e| db_error(&e))?;
        let prepare = |sql| client.prepare(sql);
        let (lock, lock_one, known, insert, link, heads) = tokio::try_join!(
            prepare(
                "SELECT id, head_seq, head_hash, head_at_ms FROM sites WHERE id = ANY($1) \
                 ORDER BY id COLLATE \"C\" FOR UPDATE"
            ),
            prepare("SELECT head_seq, head_hash, head_at_ms FROM sites WHERE id = $1 FOR UPDATE"),
            prepare(
                "SELECT k.site, k.key, r.record, r.packed FROM unnest($1::text[], $2::text[]) AS k (site, key) \
                 CROSS JOIN LATERAL (SELECT record, packed FROM records r WHERE r.site = k.site \
                 AND r.idempotency_key = k.key AND r.idempotency_key IS NOT NULL LIMIT 1) r"
            ),
            prepare(
                "INSERT INTO records (site, seq, consent_id, received_ms, idempotency_key, packed) \
                 SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::bigint[], \
                 $5::text[], $6::bytea[])"
            ),
            prepare(
                "INSERT INTO subjects (site, subject_hash, consent_id) \
                 SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) ON CONFLICT DO NOTHING"
            ),
            prepare(
                "UPDATE sites s SET head_seq = h.seq, head_hash = h.hash, head_at_ms = h.at \
                 FROM unnest($1::text[], $2::bigint[], $3::text[], $4::bigint[], $5::bigint[], \
                 $6::text[]) AS h (id, seq, hash, at, seq_before, hash_before) \
                 WHERE s.id = h.id AND CASE WHEN s.head_seq = h.seq_before \
                 AND (h.seq_before = 0 OR s.head_hash = h.hash_before) THEN true \
                 ELSE 1 / (s.head_seq * 0) = 0 END"
            ),
        )
        .map_err(|e| db_error(&e))?;
        Ok(Writer {
            client,
            writes: Writes {
                lock,
                lock_one,
                known,
                insert,
                link,
                heads,
            },
        })
    }
}

/// The heads the writer last saw committed, so that a batch of appends to
/// sites it wrote before can be placed before anything is sent
/// ([`Place::Ahead`]): its rows locked, records written, heads moved and
/// COMMIT in one round trip. A head another instance moved meanwhile fails
/// that transaction (a record's seq taken, or the heads' UPDATE), and the
/// batch is placed again under lock.
#[derive(Default)]
struct Heads {
    /// Each site's head after the writer's last commit to it (`None`: its
    /// ledger was empty).
    known: HashMap<String, Option<Head>>,
    /// Sites of a batch placed ahead that failed lately (most often: another
    /// instance moved a head), until when their batches are placed under
    /// lock first.
    shared: HashMap<String, Instant>,
}

impl Heads {
    /// The heads to place `jobs` after, if they are all appends to sites
    /// whose heads are known and not shared.
    fn ahead(&mut self, jobs: &[Job], now: Instant) -> Option<HashMap<String, Option<Head>>> {
        self.shared.retain(|_, until| *until > now);
        let mut before = HashMap::new();
        for job in jobs {
            let Job::Append { site, .. } = job else {
                return None;
            };
            if self.shared.contains_key(site) {
                return None;
            }
            before.insert(site.clone(), self.known.get(site)?.clone());
        }
        Some(before)
    }

    /// The heads a committed batch left.
    fn learn(&mut self, after: HashMap<String, Option<Head>>) {
        if self.known.len() + after.len() > HEADS_KEPT {
            self.known.clear();
        }
        self.known.extend(after);
    }

    /// Forgets the heads of the sites `jobs` write (a batch that failed or
    /// whose outcome is unknown), and marks them shared until `shared`.
    fn forget(&mut self, jobs: &[Job], shared: Option<Instant>) {
        for job in jobs {
            let site = match job {
                Job::Append { site, .. } | Job::Publish { site, .. } => site,
                Job::UpdateSite { site, .. } => &site.id,
                Job::CreateSite { site, .. } => &site.id,
                Job::Change { .. } => continue,
            };
            self.known.remove(site);
            if let Some(until) = shared {
                if self.shared.len() >= HEADS_KEPT {
                    self.shared.clear();
                }
                self.shared.insert(site.clone(), until);
            }
        }
    }
}

/// How a batch is placed.
enum Place<'a> {
    /// After the heads its rows hold once locked (read in the first round
    /// trip); on a first attempt, with the appends that arrive meanwhile.
    Locked(Option<(&'a mut mpsc::UnboundedReceiver<Job>, &'a mut Option<Job>)>),
    /// After the heads the writer last committed, before anything is sent.
    Ahead(HashMap<String, Option<Head>>),
}

/// The writer: one group commit after another.
async fn run(
    mut rx: mpsc::UnboundedReceiver<Job>,
    writer: Writer,
    db: Arc<Db>,
    sites: Arc<Mutex<RecentSites>>,
    ahead_count: Arc<AheadCount>,
) {
    let mut writer = Some(writer);
    let mut heads = Heads::default();
    // A job taken from the queue by the batch before, which could not join it.
    let mut carried: Option<Job> = None;
    loop {
        let first = match carried.take() {
            Some(job) => job,
            None => match rx.recv().await {
                Some(job) => job,
                None => break,
            },
        };
        let mut jobs = vec![first];
        while jobs.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let mut last = None;
        let mut outcomes = None;
        // A batch placed ahead that fails is placed again under lock, as
        // often as any other batch.
        let mut ahead = heads.ahead(&jobs, Instant::now());
        let attempts = ATTEMPTS + usize::from(ahead.is_some());
        for attempt in 0..attempts {
            if writer.as_ref().is_none_or(|w| w.client.is_closed()) {
                writer = None;
                match db.connect().await.map(Writer::new) {
                    Ok(new) => match new.await {
                        Ok(w) => writer = Some(w),
                        Err(e) => {
                            last = Some(e);
                            continue;
                        }
                    },
                    Err(e) => {
                        last = Some(e);
                        continue;
                    }
                }
            }
            let Some(w) = writer.as_mut() else {
                continue;
            };
            // Late appends join a first attempt only: a batch placed again
            // looks every key up, and takes in no new ones.
            let (place, placed_ahead) = match ahead.take() {
                Some(before) => (Place::Ahead(before), true),
                None => (
                    Place::Locked((attempt == 0).then_some((&mut rx, &mut carried))),
                    false,
                ),
            };
            let result = commit(&w.client, &w.writes, &mut jobs, place).await;
            if placed_ahead {
                let counter = if result.is_ok() {
                    &ahead_count.committed
                } else {
                    &ahead_count.again
                };
                counter.fetch_add(1, Ordering::Relaxed);
            }
            if result.is_err() {
                // Another instance may have moved these heads (or the batch
                // failed otherwise): placed ahead, their batches lock first
                // for a while.
                heads.forget(&jobs, placed_ahead.then(|| Instant::now() + SHARED_FOR));
            }
            match result {
                Ok((o, after)) => {
                    heads.learn(after);
                    outcomes = Some(o);
                    break;
                }
                Err(Failed::Before(e)) if retryable(&e) => {
                    // A connection the database ended may not know it yet; one
                    // that only lost a deadlock or a key race is kept.
                    if lost(&e) {
                        writer = None;
                    }
                    last = Some(db_error(&e));
                }
                Err(Failed::Before(e)) => {
                    if lost(&e) {
                        writer = None;
                    }
                    last = Some(db_error(&e));
                    break;
                }
                Err(Failed::Unusable(e)) => {
                    writer = None;
                    last = Some(db_error(&e));
                }
                Err(Failed::AtCommit(e)) => {
                    // Where its transaction stands is not known: the next
                    // batch gets a connection of its own.
                    writer = None;
                    last = Some(db_error(&e));
                    break;
                }
            }
        }
        // A site this batch changed is read afresh by `site_recent` before
        // anyone hears of the change (and when its COMMIT's outcome is
        // unknown): here, where no caller's giving up can skip it.
        for job in &jobs {
            if let Job::UpdateSite {
                site: SiteMeta { id, .. },
                ..
            }
            | Job::Publish { site: id, .. } = job
            {
                RecentSites::forget(&sites, id);
            }
        }
        match outcomes {
            Some(outcomes) => jobs
                .into_iter()
                .zip(outcomes)
                .for_each(|(job, outcome)| job.answer(outcome)),
            None => {
                let e = last.unwrap_or_else(|| StoreError::Unavailable("database".into()));
                jobs.into_iter().for_each(|job| job.fail(&e));
            }
        }
    }
}

/// Whether the connection itself is gone (rather than the transaction refused).
fn lost(e: &tokio_postgres::Error) -> bool {
    e.is_closed()
        || e.code().is_none_or(|c| {
            let c = c.code();
            c.starts_with("08") || c.starts_with("57P")
        })
}

/// The records and subject links a batch has placed and not yet written.
#[derive(Default)]
struct Rows {
    site: Vec<String>,
    seq: Vec<i64>,
    consent_id: Vec<String>,
    received_ms: Vec<i64>,
    key: Vec<Option<String>>,
    /// Each record's JSON text, packed when the rows are written
    /// (`pack`), into `packed`.
    text: Vec<String>,
    packed: Vec<Vec<u8>>,
    links: Vec<(String, String, String)>,
}

impl Rows {
    fn push(
        &mut self,
        record: &ConsentRecord,
        text: String,
        key: Option<String>,
        link: Option<Change>,
    ) {
        self.site.push(record.site.clone());
        self.seq.push(big(record.seq));
        self.consent_id.push(record.consent_id.clone());
        self.received_ms.push(big(Head::of(record).at_ms));
        self.key.push(key);
        self.text.push(text);
        if let Some(Change::Link {
            site,
            subject_hash,
            consent_id,
        }) = link
        {
            self.links.push((site, subject_hash, consent_id));
        }
    }

    /// Packs the records placed so far (see [`pack_all`]).
    async fn pack(&mut self) {
        let texts = std::mem::take(&mut self.text);
        if !texts.is_empty() {
            self.packed.extend(pack_all(texts).await);
        }
    }

    /// Writes what is pending, two statements sent together; the records
    /// packed first, if they are not yet, so that nothing is awaited between
    /// sending the statements.
    async fn write(
        &mut self,
        tx: &Client,
        w: &Writes,
    ) -> std::result::Result<(), tokio_postgres::Error> {
        if self.site.is_empty() && self.links.is_empty() {
            return Ok(());
        }
        self.pack().await;
        let rows = std::mem::take(self);
        let packed = rows.packed;
        let mut links = rows.links;
        links.sort_unstable();
        links.dedup();
        let (mut sites, mut subjects, mut consents) = (Vec::new(), Vec::new(), Vec::new());
        for (site, subject, consent) in links {
            sites.push(site);
            subjects.push(subject);
            consents.push(consent);
        }
        let records = async {
            if rows.site.is_empty() {
                return Ok(0);
            }
            tx.execute(
                &w.insert,
                &[
                    &rows.site,
                    &rows.seq,
                    &rows.consent_id,
                    &rows.received_ms,
                    &rows.key,
                    &packed,
                ],
            )
            .await
        };
        let linked = async {
            if sites.is_empty() {
                return Ok(0);
            }
            tx.execute(&w.link, &[&sites, &subjects, &consents]).await
        };
        // `biased`: polled in the order sent, so that the first failure is the
        // one reported, not the "transaction aborted" of a statement after it.
        tokio::try_join!(biased; records, linked)?;
        Ok(())
    }
}

/// Fewer records than this are packed on the writer's thread alone.
const PACK_APART: usize = 8;

/// Packs a batch's records. Packing is most of the CPU a record costs the
/// writer, and every site row of the batch is locked meanwhile (another
/// instance appending to those sites waits): the second half is packed on
/// another thread at the same time.
async fn pack_all(texts: Vec<String>) -> Vec<Vec<u8>> {
    if texts.len() < PACK_APART {
        return texts.iter().map(|t| pack::pack(t)).collect();
    }
    let texts = Arc::new(texts);
    let half = texts.len() / 2;
    let shared = texts.clone();
    let apart = tokio::task::spawn_blocking(move || {
        shared[half..]
            .iter()
            .map(|t| pack::pack(t))
            .collect::<Vec<_>>()
    });
    let mut packed: Vec<Vec<u8>> = texts[..half].iter().map(|t| pack::pack(t)).collect();
    match apart.await {
        Ok(rest) => packed.extend(rest),
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        // Not run (the runtime is shutting down): here, then.
        Err(_) => packed.extend(texts[half..].iter().map(|t| pack::pack(t))),
    }
    packed
}

/// One group commit: every job in one transaction, the appends placed by the
/// shared rules, after the heads locked for the transaction or ahead of the
/// locks ([`Place`]).
///
/// The transaction is the writer's own `BEGIN` and `COMMIT`, each sent with the
/// statements beside it rather than awaited alone. Under lock: `BEGIN` with the
/// locks, and `COMMIT` with the records' and heads' writes; a batch then takes
/// two round trips, and holds its site rows (which another instance's writer
/// may be waiting for) for one: from the locks' answer to the COMMIT's. Placed
/// ahead: everything in one round trip ([`commit_ahead`]).
async fn commit(
    client: &Client,
    w: &Writes,
    jobs: &mut Vec<Job>,
    place: Place<'_>,
) -> std::result::Result<Committed, Failed> {
    let mut ended = false;
    let done = match place {
        Place::Locked(late) => commit_in(client, w, jobs, late, &mut ended).await,
        Place::Ahead(before) => commit_ahead(client, w, jobs, before, &mut ended).await,
    };
    if done.is_err() && !ended && !client.is_closed() {
        // Failed before its COMMIT was sent: the transaction (aborted or not)
        // is ended before the batch is placed again. If even that fails, the
        // connection is not to be used again.
        if let Err(e) = client.batch_execute("ROLLBACK").await {
            return Err(Failed::Unusable(e));
        }
    }
    done
}

/// A committed batch: each job's outcome, and every site's head after it.
type Committed = (Vec<Outcome>, HashMap<String, Option<Head>>);

/// A batch of appends placed after the heads the writer last committed
/// (`before`, every site the batch writes), before anything is sent: `BEGIN`,
/// its site rows' locks, its writes and COMMIT then go in one round trip
/// ([`finish`]). Its keys are not looked up: a key used before fails the
/// insert on the unique index, as a seq another instance took fails it on
/// the primary key, and the batch is placed again under lock.
async fn commit_ahead(
    tx: &Client,
    w: &Writes,
    jobs: &[Job],
    before: HashMap<String, Option<Head>>,
    ended: &mut bool,
) -> std::result::Result<Committed, Failed> {
    let mut placed = before.clone();
    let known = HashMap::new();
    let mut batch = Batch::new();
    let mut rows = Rows::default();
    let mut outcomes = Vec::with_capacity(jobs.len());
    for job in jobs {
        let Job::Append { site, draft, .. } = job else {
            // Never: `Heads::ahead` places appends only.
            outcomes.push(Outcome::Unit(Err(StoreError::Internal(
                "only appends are placed ahead".into(),
            ))));
            continue;
        };
        let placed = place(
            tx,
            w,
            &mut batch,
            &mut placed,
            &known,
            &mut rows,
            site,
            draft,
        )
        .await?;
        outcomes.push(Outcome::Record(Box::new(placed)));
    }
    let after = finish(tx, w, rows, batch, before, true, ended).await?;
    Ok((outcomes, after))
}

async fn commit_in(
    tx: &Client,
    w: &Writes,
    jobs: &mut Vec<Job>,
    mut late: Option<(&mut mpsc::UnboundedReceiver<Job>, &mut Option<Job>)>,
    ended: &mut bool,
) -> std::result::Result<Committed, Failed> {
    let begin = tx.batch_execute("BEGIN");
    // Every site row the batch will write, locked first and in one order (by
    // id): two instances whose batches touch the same sites in another order
    // would otherwise deadlock, and PostgreSQL would abort one of them.
    let mut sites: Vec<&str> = jobs
        .iter()
        .filter_map(|job| match job {
            Job::Append { site, .. } | Job::Publish { site, .. } => Some(site.as_str()),
            Job::UpdateSite { site, .. } => Some(site.id.as_str()),
            Job::CreateSite { .. } | Job::Change { .. } => None,
        })
        .filter(|site| !has_nul(&[site]))
        .collect();
    sites.sort_unstable();
    sites.dedup();
    // The batch's idempotency keys, looked up at once, sent with the locks
    // and before them: records placed before this batch by any instance. The
    // lookup does not wait for the site rows (while another instance's batch
    // holds them, it is done meanwhile, not after). A key another instance
    // commits between the lookup and the locks fails the insert on the unique
    // index, and the batch is placed again (as for late appends, below), its
    // keys then looked up after the locks.
    let (mut key_sites, mut keys) = (Vec::new(), Vec::new());
    for job in jobs.iter() {
        if let Job::Append { site, draft, .. } = job
            && let Some(k) = &draft.idempotency_key
        {
            key_sites.push(site.as_str());
            keys.push(k.as_str());
        }
    }
    let lock = async {
        if sites.is_empty() {
            return Ok(Vec::new());
        }
        tx.query(&w.lock, &[&sites]).await
    };
    let find = async {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        tx.query(&w.known, &[&key_sites, &keys]).await
    };
    // The audit trail's lock before any row lock, when the batch audits: taken
    // in one order by every instance, so that two batches never wait on each
    // other's locks the other way round.
    let audits = jobs.iter().any(|job| {
        matches!(job, Job::Change { changes, .. }
            if changes.iter().any(|c| matches!(c, Change::Audit { .. })))
    });
    // A batch placed again looks its keys up after the locks: it was placed
    // again because of such a race, perhaps, and must not lose another.
    let first_attempt = late.is_some();
    let (locked_rows, known_rows) = if audits {
        begin.await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&AUDIT_LOCK])
            .await?;
        tokio::try_join!(biased; lock, find)?
    } else if first_attempt {
        let ((), known, locked) = tokio::try_join!(biased; begin, find, lock)?;
        (locked, known)
    } else {
        let ((), locked, known) = tokio::try_join!(biased; begin, lock, find)?;
        (locked, known)
    };
    // Each appended site's head before the batch, read with its row locked.
    let mut locked: HashMap<String, Option<Head>> = locked_rows
        .iter()
        .map(|row| (row.get(0), head_of(row.get(1), row.get(2), row.get(3))))
        .collect();
    let mut known: HashMap<(String, String), std::result::Result<ConsentRecord, String>> =
        known_rows
            .iter()
            .map(|row| {
                let record = record_at(row, 2).map_err(|e| e.to_string());
                ((row.get(0), row.get(1)), record)
            })
            .collect();
    // The appends that came while the rows were locked (as long as another
    // instance held them, when several share the sites) join this batch if
    // their site is locked already: the rows are held once for more records.
    // Their keys were not looked up: a key committed before (a client's retry
    // after its answer) fails the insert on the unique index, and the batch is
    // placed again, every key looked up. The first job that cannot join waits
    // for the next batch, and every job after it, so that jobs keep their order.
    while let Some((rx, carried)) = late.as_mut().filter(|(_, c)| c.is_none())
        && jobs.len() < MAX_BATCH
    {
        match rx.try_recv() {
            Ok(job) => match &job {
                Job::Append { site, .. } if locked.contains_key(site.as_str()) => jobs.push(job),
                _ => **carried = Some(job),
            },
            Err(_) => break,
        }
    }
    let mut batch = Batch::new();
    let mut rows = Rows::default();
    let mut outcomes = Vec::with_capacity(jobs.len());
    for job in jobs.iter() {
        // Appends are written together; anything else comes after what the
        // jobs before it placed, as if each had been written at once.
        if !matches!(job, Job::Append { .. }) {
            rows.write(tx, w).await?;
        }
        let outcome = match job {
            Job::CreateSite { site, config, .. } => {
                let version = config.version();
                let origins = serde_json::to_string(&site.origins).unwrap_or_default();
                let created = tx
                    .execute(
                        "INSERT INTO sites (id, origins, created_at, key_hash, secret, config_version) \
                         VALUES ($1, $2::text::jsonb, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING",
                        &[
                            &site.id,
                            &origins,
                            &site.created_at,
                            &site.key_hash,
                            &site.secret,
                            &version,
                        ],
                    )
                    .await?;
                if created == 0 {
                    Outcome::Unit(Err(StoreError::Conflict(format!(
                        "site {:?} exists already",
                        site.id
                    ))))
                } else {
                    insert_config(tx, &site.id, &version, config).await?;
                    Outcome::Unit(Ok(()))
                }
            }
            Job::UpdateSite { site, .. } => {
                let origins = serde_json::to_string(&site.origins).unwrap_or_default();
                let updated = tx
                    .execute(
                        "UPDATE sites SET origins = $2::text::jsonb, created_at = $3, key_hash = $4, \
                         secret = $5, config_version = $6 WHERE id = $1",
                        &[
                            &site.id,
                            &origins,
                            &site.created_at,
                            &site.key_hash,
                            &site.secret,
                            &site.config_version,
                        ],
                    )
                    .await?;
                Outcome::Unit(if updated == 0 {
                    Err(unknown(&site.id))
                } else {
                    Ok(())
                })
            }
            Job::Publish { site, config, .. } => {
                let version = config.version();
                let updated = tx
                    .execute(
                        "UPDATE sites SET config_version = $2 WHERE id = $1",
                        &[site, &version],
                    )
                    .await?;
                if updated == 0 {
                    Outcome::Version(Err(unknown(site)))
                } else {
                    insert_config(tx, site, &version, config).await?;
                    Outcome::Version(Ok(version))
                }
            }
            Job::Append { site, draft, .. } => Outcome::Record(Box::new(
                place(
                    tx,
                    w,
                    &mut batch,
                    &mut locked,
                    &known,
                    &mut rows,
                    site,
                    draft,
                )
                .await?,
            )),
            // An audit event that cannot be written as JSON fails its job
            // before any of its changes is applied (as on the embedded store).
            Job::Change { changes, .. } if unwritable(changes).is_some() => {
                let e = unwritable(changes).map_or_else(String::new, |e| e.to_string());
                Outcome::Unit(Err(StoreError::Internal(format!("an audit event: {e}"))))
            }
            Job::Change { changes, .. } => {
                // A job is all or nothing: a savepoint, rolled back to if an
                // audit event cannot be sealed, so that none of its changes
                // stays while its caller hears it failed.
                tx.batch_execute("SAVEPOINT job").await?;
                let mut sealed = Ok(());
                for change in changes {
                    if let Change::Audit { event } = change {
                        sealed = append_audit(tx, event).await?;
                        if sealed.is_err() {
                            break;
                        }
                        continue;
                    }
                    apply(tx, change).await?;
                    // A key looked up before the batch may name the record
                    // just erased: a retry later in the batch gets it erased.
                    if let Change::Erase { site, seq } = change {
                        for ((s, _), record) in &mut known {
                            if let Ok(r) = record
                                && s == site
                                && r.seq == *seq
                            {
                                r.erase_personal();
                            }
                        }
                    }
                }
                if sealed.is_err() {
                    tx.batch_execute("ROLLBACK TO SAVEPOINT job").await?;
                } else {
                    tx.batch_execute("RELEASE SAVEPOINT job").await?;
                }
                Outcome::Unit(sealed)
            }
        };
        outcomes.push(outcome);
    }
    let after = finish(tx, w, rows, batch, locked, false, ended).await?;
    Ok((outcomes, after))
}

/// Sends a placed batch's writes and its COMMIT together: its records and
/// subject links, its heads moved (the UPDATE fails if a head is not the one
/// in `before` that the batch was placed after), and COMMIT, in one round
/// trip. A batch placed `ahead` sends its `BEGIN` and its site rows' locks
/// first in the same round trip, so that another instance's batch for those
/// sites waits for this one rather than the two waiting for each other.
/// Returns every site's head after the batch.
async fn finish(
    tx: &Client,
    w: &Writes,
    mut rows: Rows,
    batch: Batch,
    before: HashMap<String, Option<Head>>,
    ahead: bool,
    ended: &mut bool,
) -> std::result::Result<HashMap<String, Option<Head>>, Failed> {
    let moved = batch.into_heads();
    let (mut ids, mut seqs, mut hashes, mut ats) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut seqs_before, mut hashes_before) = (Vec::new(), Vec::new());
    for (site, head) in &moved {
        let prior = before.get(site).cloned().flatten();
        ids.push(site.as_str());
        seqs.push(big(head.seq));
        hashes.push(head.hash.as_str());
        ats.push(big(head.at_ms));
        seqs_before.push(prior.as_ref().map_or(0, |h| big(h.seq)));
        hashes_before.push(prior.map_or_else(String::new, |h| h.hash));
    }
    // In one order (by id), as every batch locks them.
    let mut locks: Vec<&str> = before.keys().map(String::as_str).collect();
    locks.sort_unstable();
    // A statement that failed before it was sent (an error of the client's
    // own, at once) must not be followed by a COMMIT of the others: by then
    // it has said so here, and the transaction is rolled back instead.
    let unsent = std::sync::atomic::AtomicBool::new(false);
    let noted = |r: std::result::Result<(), tokio_postgres::Error>| {
        if r.is_err() {
            unsent.store(true, Ordering::Relaxed);
        }
        r
    };
    let begun = async {
        if !ahead {
            return Ok(());
        }
        let begin = tx.batch_execute("BEGIN");
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&locks];
        let lock = tx.query(&w.lock, &params);
        noted(tokio::try_join!(biased; begin, lock).map(drop))
    };
    let heads = async {
        if ids.is_empty() {
            return Ok(0);
        }
        tx.execute(
            &w.heads,
            &[&ids, &seqs, &hashes, &ats, &seqs_before, &hashes_before],
        )
        .await
    };
    // Packed before the join, so that the records' INSERT is sent before the
    // heads' UPDATE and its failure is the one reported (see `Rows::write`),
    // and the COMMIT right after them.
    rows.pack().await;
    *ended = true;
    let written = async { noted(rows.write(tx, w).await) };
    let headed = async { noted(heads.await.map(drop)) };
    let end = async {
        let rollback = unsent.load(Ordering::Relaxed);
        let sent = if rollback { "ROLLBACK" } else { "COMMIT" };
        (rollback, tx.batch_execute(sent).await)
    };
    let (begun, written, headed, (rolled_back, committed)) =
        tokio::join!(biased; begun, written, headed, end);
    // Nothing was written if ROLLBACK went instead of the COMMIT, or if the
    // database refused a statement: that aborted the transaction, and the
    // COMMIT after it rolled it back. The batch can be placed again. An error
    // of the client's after the COMMIT went out (an answer it could not read)
    // proves nothing, and a COMMIT not answered may or may not have committed.
    let failed = begun.err().or(written.err()).or(headed.err());
    match (failed, committed) {
        (None, Ok(())) => {
            let mut after = before;
            after.extend(moved.into_iter().map(|(site, head)| (site, Some(head))));
            Ok(after)
        }
        (Some(e), _) if rolled_back || e.as_db_error().is_some() => Err(Failed::Before(e)),
        (Some(e), Ok(())) | (_, Err(e)) => Err(Failed::AtCommit(e)),
    }
}

fn unknown(site: &str) -> StoreError {
    StoreError::NotFound(format!("unknown site {site:?}"))
}

async fn insert_config(
    tx: &impl tokio_postgres::GenericClient,
    site: &str,
    version: &str,
    config: &SiteConfig,
) -> std::result::Result<(), tokio_postgres::Error> {
    let text = serde_json::to_string(config).unwrap_or_default();
    let published = keksdose_shared::time::rfc3339_millis(now_ms());
    tx.execute(
        "INSERT INTO configs (site, version, published_at, config) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (site, version) DO UPDATE SET published_at = EXCLUDED.published_at",
        &[&site, &version, &published, &text],
    )
    .await?;
    Ok(())
}

/// Places one draft in the batch; what it adds is written with the batch's
/// other records (with its subject link).
#[allow(clippy::too_many_arguments)]
async fn place(
    tx: &Client,
    w: &Writes,
    batch: &mut Batch,
    locked: &mut HashMap<String, Option<Head>>,
    known: &HashMap<(String, String), std::result::Result<ConsentRecord, String>>,
    rows: &mut Rows,
    site: &str,
    draft: &Draft,
) -> std::result::Result<Result<ConsentRecord>, tokio_postgres::Error> {
    if !locked.contains_key(site) {
        // A site the batch itself created (or one not there at all).
        let Some(row) = tx.query_opt(&w.lock_one, &[&site]).await? else {
            return Ok(Err(unknown(site)));
        };
        locked.insert(
            site.to_string(),
            head_of(row.get(0), row.get(1), row.get(2)),
        );
    }
    let head = locked.get(site).cloned().flatten();
    let placed = batch.place(
        site,
        draft.clone(),
        || Ok(head),
        |k| {
            known
                .get(&(site.to_string(), k.to_string()))
                .cloned()
                .transpose()
                .map_err(|e| StoreError::Internal(format!("stored JSON: {e}")))
        },
        now_ms(),
    );
    Ok(match placed {
        Ok(Appended::Known(r) | Appended::Existing(r)) => Ok(r),
        Ok(Appended::New {
            record,
            idempotency_key,
            link,
        }) => match serde_json::to_string(&record) {
            Ok(text) => {
                rows.push(&record, text, idempotency_key, link);
                Ok(record)
            }
            Err(e) => Err(json_error(&e)),
        },
        Err(e) => Err(e),
    })
}

/// The first audit event among `changes` that cannot be written as JSON.
fn unwritable(changes: &[Change]) -> Option<serde_json::Error> {
    changes.iter().find_map(|c| match c {
        Change::Audit { event } => serde_json::to_string(event).err(),
        _ => None,
    })
}

/// The transaction lock that serialises the audit trail's appends across
/// instances (any constant; "kdaudit" in ASCII).
const AUDIT_LOCK: i64 = 0x006b_6461_7564_6974;

/// Seals an audit event after the trail's last entry and inserts it.
async fn append_audit(
    tx: &Client,
    event: &keksdose_store::AuditEvent,
) -> std::result::Result<Result<()>, tokio_postgres::Error> {
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&AUDIT_LOCK])
        .await?;
    let last = tx
        .query_opt("SELECT entry FROM audit ORDER BY seq DESC LIMIT 1", &[])
        .await?;
    let head = match last.map(|r| serde_json::from_str::<AuditEntry>(r.get::<_, &str>(0))) {
        None => None,
        Some(Ok(e)) => Some(audit::head_of(&e)),
        Some(Err(e)) => return Ok(Err(json_error(&e))),
    };
    let entry = match audit::seal(head.as_ref(), event.clone(), now_ms()) {
        Ok(e) => e,
        Err(e) => return Ok(Err(e)),
    };
    let text = match serde_json::to_string(&entry) {
        Ok(t) => t,
        Err(e) => return Ok(Err(json_error(&e))),
    };
    tx.execute(
        "INSERT INTO audit (seq, entry) VALUES ($1, $2)",
        &[&big(entry.seq), &text],
    )
    .await?;
    Ok(Ok(()))
}

/// Applies one change; applying it twice changes nothing.
async fn apply(tx: &Client, change: &Change) -> std::result::Result<(), tokio_postgres::Error> {
    match change {
        Change::Erase { site, seq } => {
            let row = tx
                .query_opt(
                    "SELECT record, packed FROM records WHERE site = $1 AND seq = $2 FOR UPDATE",
                    &[site, &big(*seq)],
                )
                .await?;
            if let Some(Ok(mut record)) = row.map(|r| record_of(&r))
                && record.personal.is_some()
            {
                record.erase_personal();
                let packed = pack::pack(&serde_json::to_string(&record).unwrap_or_default());
                tx.execute(
                    "UPDATE records SET record = NULL, packed = $3 WHERE site = $1 AND seq = $2",
                    &[site, &big(*seq), &packed],
                )
                .await?;
            }
        }
        Change::Link {
            site,
            subject_hash,
            consent_id,
        } => {
            tx.execute(
                "INSERT INTO subjects (site, subject_hash, consent_id) VALUES ($1, $2, $3) \
                 ON CONFLICT DO NOTHING",
                &[site, subject_hash, consent_id],
            )
            .await?;
        }
        Change::Unlink { site, subject_hash } => {
            tx.execute(
                "DELETE FROM subjects WHERE site = $1 AND subject_hash = $2",
                &[site, subject_hash],
            )
            .await?;
        }
        Change::Put { table, key, value } => match value {
            Some(v) => {
                tx.execute(
                    "INSERT INTO docs (tbl, key, value) VALUES ($1, $2, $3) \
                     ON CONFLICT (tbl, key) DO UPDATE SET value = EXCLUDED.value",
                    &[table, key, v],
                )
                .await?;
            }
            None => {
                tx.execute(
                    "DELETE FROM docs WHERE tbl = $1 AND key = $2",
                    &[table, key],
                )
                .await?;
            }
        },
        // Sealed by `append_audit`, never here.
        Change::Audit { .. } => {}
        Change::Checkpoint { checkpoint } => {
            let text = serde_json::to_string(checkpoint).unwrap_or_default();
            tx.execute(
                "INSERT INTO checkpoints (site, seq, checkpoint) VALUES ($1, $2, $3) \
                 ON CONFLICT (site, seq) DO UPDATE SET checkpoint = EXCLUDED.checkpoint",
                &[&checkpoint.site, &big(checkpoint.seq), &text],
            )
            .await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    /// A proof's reads are planned without JIT, however costly the planner
    /// guesses them: on a database that would compile every statement
    /// (`jit_above_cost=0`, as a large enough table makes it for the
    /// neighbours' join), each reader's plan of them has no JIT.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn proof_reads_are_planned_without_jit() {
        let Ok(url) = std::env::var("KEKSDOSE_TEST_POSTGRES") else {
            eprintln!("SKIPPED: KEKSDOSE_TEST_POSTGRES is not set (a PostgreSQL URL)");
            return;
        };
        let (admin, connection) = tokio_postgres::connect(&url, NoTls).await.unwrap();
        tokio::spawn(connection);
        let mut bytes = [0u8; 6];
        getrandom::fill(&mut bytes).unwrap();
        let name = format!(
            "kd_test_{}",
            bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
        );
        admin
            .batch_execute(&format!("CREATE SCHEMA {name}"))
            .await
            .unwrap();
        let sep = if url.contains('?') { '&' } else { '?' };
        let forced =
            format!("{url}{sep}options=-csearch_path%3D{name}%20-cjit%3Don%20-cjit_above_cost%3D0");
        let read = async {
            let store = PgStore::connect(&forced).await?;
            let mut plans = Vec::new();
            let mut thresholds = Vec::new();
            for sql in [PROOF_RECORDS, PROOF_CHECKPOINT] {
                // The readers take turns: one round of them per statement.
                for _ in 0..READERS {
                    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 2] = [&"c", &"s"];
                    let rows = store.db.query(&format!("EXPLAIN {sql}"), &params).await?;
                    plans.push(
                        rows.iter()
                            .map(|r| r.get::<_, String>(0))
                            .collect::<Vec<_>>()
                            .join("\n"),
                    );
                }
            }
            for _ in 0..READERS {
                let rows = store.db.query("SHOW jit_above_cost", &[]).await?;
                thresholds.extend(rows.iter().map(|r| r.get::<_, String>(0)));
            }
            Ok::<_, StoreError>((plans, thresholds))
        }
        .await;
        // The database compiles where the store does not say otherwise: the
        // same statement on the admin's connection, with the same settings.
        let theirs = match &read {
            Ok(_) => {
                let set = format!("SET search_path = {name}; SET jit = on; SET jit_above_cost = 0");
                match admin.batch_execute(&set).await {
                    Ok(()) => admin
                        .query(&format!("EXPLAIN {PROOF_RECORDS}"), &[&"c", &"s"])
                        .await
                        .map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                }
            }
            Err(e) => Err(e.to_string()),
        };
        // Dropped before anything is asserted, also when the store failed.
        admin
            .batch_execute(&format!("RESET search_path; DROP SCHEMA {name} CASCADE"))
            .await
            .unwrap();
        let (plans, thresholds) = read.unwrap();
        let theirs = theirs.unwrap();
        // The URL's options reached every reader: without the store's own
        // setting, each of them would compile every statement.
        assert_eq!(thresholds, vec!["0"; READERS]);
        let jit = |plan: &str| plan.lines().any(|l| l.trim_start().starts_with("JIT:"));
        let available = theirs.iter().any(|r| jit(&r.get::<_, String>(0)));
        if !available {
            eprintln!("SKIPPED: this PostgreSQL has no JIT (llvmjit), nothing to turn off");
            return;
        }
        for plan in &plans {
            assert!(!jit(plan), "a proof read would be JIT-compiled:\n{plan}");
        }
    }
}
