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

mod schema;

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use keksdose_shared::record::ChainVerifier;
use keksdose_shared::{Checkpoint, ConsentRecord, SiteConfig};
use keksdose_store::{
    Appended, Batch, Change, Draft, Head, PublicKey, Result, Selection, SiteMeta, Store,
    StoreError, now_ms,
};
use tokio::sync::{mpsc, oneshot};
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, Config, NoTls, Row};

/// The most jobs one group commit takes.
const MAX_BATCH: usize = 1024;
/// Connections for reads.
const READERS: usize = 4;
/// How often a batch is placed again after a failure before its COMMIT.
const ATTEMPTS: usize = 3;

/// The store on a database.
pub struct PgStore {
    db: Arc<Db>,
    tx: Option<mpsc::UnboundedSender<Job>>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The connection string may hold a password.
        f.debug_struct("PgStore").finish_non_exhaustive()
    }
}

/// The connections.
struct Db {
    config: Config,
    handle: tokio::runtime::Handle,
    readers: Vec<Mutex<Arc<Client>>>,
    next: AtomicUsize,
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
    async fn reader(&self, i: usize, fresh: bool) -> Result<Arc<Client>> {
        let current = self.readers[i]
            .lock()
            .map_err(|_| StoreError::Internal("reader lock poisoned".into()))?
            .clone();
        if !fresh && !current.is_closed() {
            return Ok(current);
        }
        let new = Arc::new(self.connect().await?);
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
        let mut writer = connect(config.clone(), &handle).await?;
        durable(&writer).await?;
        schema::migrate(&mut writer)
            .await
            .map_err(|e| db_error(&e))?;
        let mut readers = Vec::with_capacity(READERS);
        for _ in 0..READERS {
            readers.push(Mutex::new(Arc::new(
                connect(config.clone(), &handle).await?,
            )));
        }
        let db = Arc::new(Db {
            config,
            handle: handle.clone(),
            readers,
            next: AtomicUsize::new(0),
        });
        let (tx, rx) = mpsc::unbounded_channel();
        handle.spawn(run(rx, writer, db.clone()));
        Ok(PgStore {
            db,
            tx: Some(tx),
            runtime: Some(runtime),
        })
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
        let applied = schema::migrate(&mut client).await.map_err(|e| db_error(&e));
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
        }
        tx.commit().await.map_err(|e| db_error(&e))
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
            columns
                .4
                .push(serde_json::to_string(r).map_err(|e| json_error(&e))?);
        }
        tx.execute(
            "INSERT INTO records (site, seq, consent_id, received_ms, idempotency_key, record) \
             SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::bigint[], $5::text[], $6::text[])",
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

fn record_of(row: &Row) -> Result<ConsentRecord> {
    serde_json::from_str(row.get::<_, &str>(0)).map_err(|e| json_error(&e))
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
        let rows = self
            .db
            .query(
                "SELECT config FROM configs WHERE site = $1 AND version = $2",
                &[&site, &version],
            )
            .await?;
        rows.first()
            .map(|r| serde_json::from_str(r.get::<_, &str>(0)).map_err(|e| json_error(&e)))
            .transpose()
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
                "SELECT record FROM records WHERE site = $1 AND seq >= $2 AND seq <= $3 \
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
                "SELECT record FROM records WHERE consent_id = $1 AND site = $2 ORDER BY seq",
                &[&consent_id, &site],
            )
            .await?;
        rows.iter().map(record_of).collect()
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
        let rows = self
            .db
            .query(
                "SELECT record FROM records r WHERE site = $1 AND seq > $2 \
                 AND ($3::bigint IS NULL OR received_ms >= $3) \
                 AND ($4::bigint IS NULL OR received_ms < $4) \
                 AND ($5::text IS NULL OR consent_id IN \
                      (SELECT consent_id FROM subjects s WHERE s.site = $1 AND s.subject_hash = $5)) \
                 ORDER BY seq LIMIT $6",
                &[
                    &site,
                    &big(after),
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
}

impl From<tokio_postgres::Error> for Failed {
    fn from(e: tokio_postgres::Error) -> Failed {
        Failed::Before(e)
    }
}

/// Whether placing the batch again may succeed: the database was gone for a
/// moment (see [`transient`]), or another instance took a key first.
fn retryable(e: &tokio_postgres::Error) -> bool {
    transient(e) || e.code() == Some(&SqlState::UNIQUE_VIOLATION)
}

/// The writer: one group commit after another.
async fn run(mut rx: mpsc::UnboundedReceiver<Job>, mut client: Client, db: Arc<Db>) {
    while let Some(first) = rx.recv().await {
        let mut jobs = vec![first];
        while jobs.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let mut last = None;
        let mut outcomes = None;
        let mut reconnect = false;
        for _ in 0..ATTEMPTS {
            if reconnect || client.is_closed() {
                match db.connect().await {
                    Ok(c) => client = c,
                    Err(e) => {
                        last = Some(e);
                        continue;
                    }
                }
            }
            match commit(&mut client, &jobs).await {
                Ok(o) => {
                    outcomes = Some(o);
                    break;
                }
                Err(Failed::Before(e)) if retryable(&e) => {
                    // A connection the database ended may not know it yet.
                    reconnect = transient(&e);
                    last = Some(db_error(&e));
                }
                Err(Failed::Before(e) | Failed::AtCommit(e)) => {
                    last = Some(db_error(&e));
                    break;
                }
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

/// One group commit: every job in one transaction, the appends placed by the
/// shared rules against heads locked for the transaction.
async fn commit(client: &mut Client, jobs: &[Job]) -> std::result::Result<Vec<Outcome>, Failed> {
    let tx = client.transaction().await?;
    let mut batch = Batch::new();
    // Each appended site's head before the batch, read with its row locked.
    let mut locked: HashMap<String, Option<Head>> = HashMap::new();
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
    if !sites.is_empty() {
        for row in tx
            .query(
                "SELECT id, head_seq, head_hash, head_at_ms FROM sites WHERE id = ANY($1) \
                 ORDER BY id COLLATE \"C\" FOR UPDATE",
                &[&sites],
            )
            .await?
        {
            locked.insert(row.get(0), head_of(row.get(1), row.get(2), row.get(3)));
        }
    }
    let mut outcomes = Vec::with_capacity(jobs.len());
    for job in jobs {
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
                    insert_config(&tx, &site.id, &version, config).await?;
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
                    insert_config(&tx, site, &version, config).await?;
                    Outcome::Version(Ok(version))
                }
            }
            Job::Append { site, draft, .. } => Outcome::Record(Box::new(
                append(&tx, &mut batch, &mut locked, site, draft).await?,
            )),
            Job::Change { changes, .. } => {
                for change in changes {
                    apply(&tx, change).await?;
                }
                Outcome::Unit(Ok(()))
            }
        };
        outcomes.push(outcome);
    }
    for (site, head) in batch.into_heads() {
        tx.execute(
            "UPDATE sites SET head_seq = $2, head_hash = $3, head_at_ms = $4 WHERE id = $1",
            &[&site, &big(head.seq), &head.hash, &big(head.at_ms)],
        )
        .await?;
    }
    tx.commit().await.map_err(Failed::AtCommit)?;
    Ok(outcomes)
}

fn unknown(site: &str) -> StoreError {
    StoreError::NotFound(format!("unknown site {site:?}"))
}

async fn insert_config(
    tx: &tokio_postgres::Transaction<'_>,
    site: &str,
    version: &str,
    config: &SiteConfig,
) -> std::result::Result<(), tokio_postgres::Error> {
    let text = serde_json::to_string(config).unwrap_or_default();
    let published = keksdose_shared::time::rfc3339_millis(now_ms());
    tx.execute(
        "INSERT INTO configs (site, version, published_at, config) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (site, version) DO NOTHING",
        &[&site, &version, &published, &text],
    )
    .await?;
    Ok(())
}

/// Places one draft in the batch and writes it (with its subject link).
async fn append(
    tx: &tokio_postgres::Transaction<'_>,
    batch: &mut Batch,
    locked: &mut HashMap<String, Option<Head>>,
    site: &str,
    draft: &Draft,
) -> std::result::Result<Result<ConsentRecord>, tokio_postgres::Error> {
    if !locked.contains_key(site) {
        let row = tx
            .query_opt(
                "SELECT head_seq, head_hash, head_at_ms FROM sites WHERE id = $1 FOR UPDATE",
                &[&site],
            )
            .await?;
        let Some(row) = row else {
            return Ok(Err(unknown(site)));
        };
        locked.insert(
            site.to_string(),
            head_of(row.get(0), row.get(1), row.get(2)),
        );
    }
    let known = match &draft.idempotency_key {
        Some(k) => tx
            .query_opt(
                "SELECT record FROM records WHERE site = $1 AND idempotency_key = $2",
                &[&site, k],
            )
            .await?
            .map(|r| record_of(&r)),
        None => None,
    };
    let head = locked.get(site).cloned().flatten();
    let placed = batch.place(
        site,
        draft.clone(),
        || Ok(head),
        |_| known.transpose(),
        now_ms(),
    );
    let (record, key, link) = match placed {
        Ok(Appended::Known(r) | Appended::Existing(r)) => return Ok(Ok(r)),
        Ok(Appended::New {
            record,
            idempotency_key,
            link,
        }) => (record, idempotency_key, link),
        Err(e) => return Ok(Err(e)),
    };
    let text = match serde_json::to_string(&record) {
        Ok(t) => t,
        Err(e) => return Ok(Err(json_error(&e))),
    };
    let at = Head::of(&record).at_ms;
    tx.execute(
        "INSERT INTO records (site, seq, consent_id, received_ms, idempotency_key, record) \
         VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            &site,
            &big(record.seq),
            &record.consent_id,
            &big(at),
            &key,
            &text,
        ],
    )
    .await?;
    if let Some(link) = &link {
        apply(tx, link).await?;
    }
    Ok(Ok(record))
}

/// Applies one change; applying it twice changes nothing.
async fn apply(
    tx: &tokio_postgres::Transaction<'_>,
    change: &Change,
) -> std::result::Result<(), tokio_postgres::Error> {
    match change {
        Change::Erase { site, seq } => {
            let row = tx
                .query_opt(
                    "SELECT record FROM records WHERE site = $1 AND seq = $2 FOR UPDATE",
                    &[site, &big(*seq)],
                )
                .await?;
            if let Some(Ok(mut record)) = row.map(|r| record_of(&r))
                && record.personal.is_some()
            {
                record.erase_personal();
                let text = serde_json::to_string(&record).unwrap_or_default();
                tx.execute(
                    "UPDATE records SET record = $3 WHERE site = $1 AND seq = $2",
                    &[site, &big(*seq), &text],
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
