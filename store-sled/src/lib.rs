//! The embedded store (`keksdose-store-sled`): a journal for durability, sled
//! for lookups, and one writer thread that group-commits.
//!
//! Why this holds. Every write is turned into journal entries by the single
//! writer thread, which owns the ledger heads, so appends to a site's chain are
//! strictly ordered and each record links to the one before it (the rules of
//! [`keksdose_store::append`], shared with every backend). The writer takes
//! every job that is waiting (a lone job at once: it blocks on the queue, not on
//! a timer), writes their entries in one `write`, `fdatasync`s once, and only
//! then applies them to sled and answers. A job is therefore acknowledged only
//! after its entry is on disk. A crash before the sync loses only jobs nobody
//! was told about; a crash after it is repaired on the next start by replaying
//! the journal into sled from the last offset sled had flushed (applying an
//! entry twice writes the same keys with the same values). sled is never
//! trusted for durability — its `flush` calls `sync_file_range`, not `fsync` —
//! and `flush_async` is never used (sled #1308: it deadlocks with many waiters).
//!
//! What is on disk is [`entry`]'s types, not the domain's: see there for the
//! schema and how it may change.
#![forbid(unsafe_code)]

pub mod entry;
pub mod journal;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use keksdose_shared::{Checkpoint, ConsentRecord, SiteConfig};
use keksdose_store::audit::AuditHead;
use keksdose_store::{
    Appended, AuditEntry, Batch, Change, Draft, Head, PublicKey, Result, Selection, SiteMeta,
    Store, StoreError, audit, now_ms,
};
use serde::Serialize;
use tokio::sync::oneshot;

use entry::{ChangeRow, Entry, SiteRow};
use journal::Journal;

/// How much memory sled may use for its page cache by default (its own 1 GB
/// default showed as 0.5–0.8 GB RSS under load); `sled_cache_mb` in the settings.
pub const CACHE_BYTES: u64 = 32 * 1024 * 1024;
/// Past this size the journal is compacted into the index.
const COMPACT_AT: u64 = 64 * 1024 * 1024;
/// How often sled is flushed, which bounds how much journal a restart replays.
const FLUSH_EVERY: Duration = Duration::from_secs(2);
/// The most jobs one group commit takes.
const MAX_BATCH: usize = 4096;

/// Told of each group commit once it is durable: how many jobs it answered, how
/// many of them were new ledger records, and how long the journal's write and
/// `fdatasync` took (the server's metrics).
pub type OnCommit = fn(jobs: usize, records: usize, sync: Duration);

enum Job {
    Change {
        changes: Vec<Change>,
        reply: oneshot::Sender<Result<()>>,
    },
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
}

#[derive(Clone)]
struct Trees {
    db: sled::Db,
    sites: sled::Tree,
    configs: sled::Tree,
    /// (site, version) → when the version last became current. Added after
    /// schema 1 without changing it: an index from before has no times for the
    /// versions published then (a rebuild from the journal restores those the
    /// journal still holds).
    config_times: sled::Tree,
    records: sled::Tree,
    consents: sled::Tree,
    consent_sites: sled::Tree,
    idempotency: sled::Tree,
    subjects: sled::Tree,
    checkpoints: sled::Tree,
    meta: sled::Tree,
    /// table NUL key → a document ([`Change::Put`]).
    docs: sled::Tree,
    /// seq (big-endian) → an audit entry.
    audit: sled::Tree,
}

/// The index as readers and the writer share it: `None` while the writer
/// rebuilds it (reads then answer "unavailable" for a moment).
type Shared = Arc<RwLock<Option<Arc<Trees>>>>;
/// Every site as last committed: the readers' copy of the writer's map, replaced
/// after each commit that changed a site (every request looks its site up).
type Sites = Arc<RwLock<HashMap<String, SiteMeta>>>;

/// The embedded store in a data directory.
pub struct SledStore {
    index: Shared,
    sites: Sites,
    /// The keys registered since the store opened. One data directory has one
    /// signing key, which its server registers at every start: nothing to keep.
    keys: RwLock<std::collections::BTreeMap<String, PublicKey>>,
    /// One process per data directory: its leases live in its memory.
    leases: keksdose_store::Leases,
    /// Held while the store is open: one server per data directory.
    _lock: std::fs::File,
    tx: Option<mpsc::Sender<Job>>,
    writer: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for SledStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SledStore").finish_non_exhaustive()
    }
}

fn internal(e: impl std::fmt::Display) -> StoreError {
    StoreError::Internal(e.to_string())
}

fn io_error(e: &std::io::Error) -> StoreError {
    use std::io::ErrorKind::*;
    match e.kind() {
        StorageFull | ReadOnlyFilesystem | PermissionDenied | QuotaExceeded => {
            StoreError::Unavailable(e.to_string())
        }
        _ if e.raw_os_error() == Some(28) => StoreError::Unavailable(e.to_string()),
        _ => StoreError::Unavailable(format!("write failed: {e}")),
    }
}

/// Brings a freshly opened index up to the journal: applies every entry after
/// the offset the index last recorded, flushes, records the new offset. Returns
/// the journal, open at its end.
fn replay(trees: &Trees, dir: &Path) -> Result<Journal> {
    // The index's schema: absent in an index of 0.1.0 or a new one, which are
    // schema 1; another number is an index this release cannot read.
    match trees.meta.get("schema").map_err(internal)? {
        Some(v) if v.as_ref() != entry::SCHEMA.to_be_bytes() => {
            return Err(internal(format!(
                "the index in {} has schema {:?}; this release reads schema {}",
                dir.display(),
                v.as_ref(),
                entry::SCHEMA
            )));
        }
        Some(_) => {}
        None => {
            trees
                .meta
                .insert("schema", &entry::SCHEMA.to_be_bytes())
                .map_err(internal)?;
        }
    }
    let from = trees
        .meta
        .get("journal_offset")
        .map_err(internal)?
        .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
        .map_or(0, u64::from_be_bytes);
    let opened = Journal::open(&dir.join("journal"), from).map_err(|e| match e.kind() {
        std::io::ErrorKind::InvalidData => internal(format!("journal: {e}")),
        _ => io_error(&e),
    })?;
    if opened.truncated > 0 {
        eprintln!(
            "keksdose: cut off a torn journal tail of {} bytes (never acknowledged)",
            opened.truncated
        );
    }
    for (payload, _) in &opened.entries {
        trees.apply(&Entry::decode(payload)?)?;
    }
    let journal = opened.journal;
    trees.db.flush().map_err(internal)?;
    trees
        .meta
        .insert("journal_offset", &journal.len().to_be_bytes())
        .map_err(internal)?;
    trees.db.flush().map_err(internal)?;
    Ok(journal)
}

fn key(parts: &[&[u8]]) -> Vec<u8> {
    let mut k = Vec::with_capacity(parts.iter().map(|p| p.len() + 1).sum());
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            k.push(0);
        }
        k.extend_from_slice(p);
    }
    k
}

/// The prefix of every key of a site (a site id holds no NUL).
fn site_prefix(site: &str) -> Vec<u8> {
    let mut prefix = site.as_bytes().to_vec();
    prefix.push(0);
    prefix
}

fn seq_key(site: &str, seq: u64) -> Vec<u8> {
    key(&[site.as_bytes(), &seq.to_be_bytes()])
}

impl Trees {
    fn open(dir: &Path, cache_bytes: u64) -> Result<Trees> {
        let db = sled::Config::new()
            .path(dir.join("index"))
            .cache_capacity(cache_bytes)
            .mode(sled::Mode::LowSpace)
            .open()
            .map_err(|e| internal(format!("opening {}: {e}", dir.display())))?;
        let tree = |name: &str| db.open_tree(name).map_err(internal);
        Ok(Trees {
            sites: tree("sites")?,
            configs: tree("configs")?,
            config_times: tree("config_times")?,
            records: tree("records")?,
            consents: tree("consents")?,
            consent_sites: tree("consent_sites")?,
            idempotency: tree("idempotency")?,
            subjects: tree("subjects")?,
            checkpoints: tree("checkpoints")?,
            meta: tree("meta")?,
            docs: tree("docs")?,
            audit: tree("audit")?,
            db,
        })
    }

    /// Applies one journal entry; applying it again changes nothing.
    fn apply(&self, entry: &Entry) -> Result<()> {
        match entry {
            Entry::Site { site } => {
                self.sites
                    .insert(site.id.as_bytes(), to_json(site)?)
                    .map_err(internal)?;
            }
            Entry::Config {
                site,
                version,
                config,
                published_at,
            } => {
                let k = key(&[site.as_bytes(), version.as_bytes()]);
                self.configs
                    .insert(k.clone(), to_json(config.as_ref())?)
                    .map_err(internal)?;
                // When it last became current: a version published again (a
                // rollback) is in force from then.
                self.config_times
                    .insert(k, published_at.as_bytes())
                    .map_err(internal)?;
            }
            Entry::Record {
                record,
                idempotency_key,
            } => {
                let site = record.site.as_bytes();
                self.records
                    .insert(seq_key(&record.site, record.seq), to_json(record.as_ref())?)
                    .map_err(internal)?;
                self.consents
                    .insert(
                        key(&[
                            site,
                            record.consent_id.as_bytes(),
                            &record.seq.to_be_bytes(),
                        ]),
                        &[],
                    )
                    .map_err(internal)?;
                self.consent_sites
                    .insert(record.consent_id.as_bytes(), site)
                    .map_err(internal)?;
                if let Some(k) = idempotency_key {
                    self.idempotency
                        .insert(key(&[site, k.as_bytes()]), &record.seq.to_be_bytes())
                        .map_err(internal)?;
                }
            }
            Entry::Change { change } => self.apply_change(change)?,
        }
        Ok(())
    }

    fn apply_change(&self, change: &ChangeRow) -> Result<()> {
        match change {
            ChangeRow::Erase { site, seq } => {
                if let Some(mut record) = self.record(site, *seq)?
                    && record.personal.is_some()
                {
                    record.erase_personal();
                    self.records
                        .insert(seq_key(site, *seq), to_json(&record)?)
                        .map_err(internal)?;
                }
            }
            ChangeRow::Link {
                site,
                subject_hash,
                consent_id,
            } => {
                self.subjects
                    .insert(
                        key(&[
                            site.as_bytes(),
                            subject_hash.as_bytes(),
                            consent_id.as_bytes(),
                        ]),
                        &[],
                    )
                    .map_err(internal)?;
            }
            ChangeRow::Unlink { site, subject_hash } => {
                let mut prefix = key(&[site.as_bytes(), subject_hash.as_bytes()]);
                prefix.push(0);
                for k in self.subjects.scan_prefix(&prefix).keys() {
                    self.subjects
                        .remove(k.map_err(internal)?)
                        .map_err(internal)?;
                }
            }
            ChangeRow::Put {
                table,
                key: k,
                value,
            } => {
                let k = key(&[table.as_bytes(), k.as_bytes()]);
                match value {
                    Some(v) => self.docs.insert(k, v.as_bytes()).map(drop),
                    None => self.docs.remove(k).map(drop),
                }
                .map_err(internal)?;
            }
            ChangeRow::Audit { entry } => {
                self.audit
                    .insert(entry.seq.to_be_bytes(), to_json(entry)?)
                    .map_err(internal)?;
            }
            ChangeRow::Checkpoint { checkpoint } => {
                self.checkpoints
                    .insert(
                        seq_key(&checkpoint.site, checkpoint.seq),
                        to_json(checkpoint)?,
                    )
                    .map_err(internal)?;
            }
        }
        Ok(())
    }

    fn audit_head(&self) -> Result<Option<AuditHead>> {
        match self.audit.iter().next_back() {
            None => Ok(None),
            Some(kv) => {
                let (_, v) = kv.map_err(internal)?;
                let entry: AuditEntry = serde_json::from_slice(&v).map_err(internal)?;
                Ok(Some(audit::head_of(&entry)))
            }
        }
    }

    fn record(&self, site: &str, seq: u64) -> Result<Option<ConsentRecord>> {
        self.records
            .get(seq_key(site, seq))
            .map_err(internal)?
            .map(|v| serde_json::from_slice(&v).map_err(internal))
            .transpose()
    }

    fn records(&self, site: &str, from: u64, to: u64, limit: usize) -> Result<Vec<ConsentRecord>> {
        if from > to {
            return Ok(Vec::new());
        }
        self.records
            .range(seq_key(site, from)..=seq_key(site, to))
            .take(limit)
            .map(|kv| {
                let (_, v) = kv.map_err(internal)?;
                serde_json::from_slice(&v).map_err(internal)
            })
            .collect()
    }

    /// The seqs of a consent ID's records, from the consent index alone.
    fn consent_seqs(&self, site: &str, consent_id: &str) -> Result<Vec<u64>> {
        // NUL separates the key's parts: no stored ID holds one, and an ID
        // asked with one would find another's keys (an existing ID + NUL).
        if site.contains('\0') || consent_id.contains('\0') {
            return Ok(Vec::new());
        }
        let mut prefix = key(&[site.as_bytes(), consent_id.as_bytes()]);
        prefix.push(0);
        self.consents
            .scan_prefix(&prefix)
            .keys()
            .map(|k| {
                let k = k.map_err(internal)?;
                k.get(prefix.len()..)
                    .and_then(|b| <[u8; 8]>::try_from(b).ok())
                    .map(u64::from_be_bytes)
                    .ok_or_else(|| internal("bad consent index key"))
            })
            .collect()
    }

    fn consent(&self, site: &str, consent_id: &str) -> Result<Vec<ConsentRecord>> {
        self.records_at(site, &self.consent_seqs(site, consent_id)?)
    }

    fn records_at(&self, site: &str, seqs: &[u64]) -> Result<Vec<ConsentRecord>> {
        let mut out = Vec::with_capacity(seqs.len());
        for seq in seqs {
            if let Some(r) = self.record(site, *seq)? {
                out.push(r);
            }
        }
        Ok(out)
    }

    fn subject(&self, site: &str, subject_hash: &str) -> Result<Vec<String>> {
        let mut prefix = key(&[site.as_bytes(), subject_hash.as_bytes()]);
        prefix.push(0);
        self.subjects
            .scan_prefix(&prefix)
            .keys()
            .map(|k| {
                let k = k.map_err(internal)?;
                Ok(String::from_utf8_lossy(&k[prefix.len()..]).into_owned())
            })
            .collect()
    }

    fn head(&self, site: &str) -> Result<Option<Head>> {
        let mut prefix = site.as_bytes().to_vec();
        prefix.push(0);
        match self.records.scan_prefix(&prefix).next_back() {
            None => Ok(None),
            Some(kv) => {
                let (_, v) = kv.map_err(internal)?;
                let r: ConsentRecord = serde_json::from_slice(&v).map_err(internal)?;
                Ok(Some(Head::of(&r)))
            }
        }
    }
}

/// `fsync`s every file below `dir`, and the folders themselves.
fn fsync_tree(dir: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            fsync_tree(&path)?;
        } else {
            std::fs::File::open(&path)?.sync_all()?;
        }
    }
    std::fs::File::open(dir)?.sync_all()
}

/// Whether the data directory takes a write of a few MiB (what rebuilding the
/// index needs at least): writes, syncs and removes a probe file.
fn disk_takes_writes(dir: &Path) -> std::io::Result<()> {
    let path = dir.join("probe");
    let result = std::fs::File::create(&path).and_then(|mut f| {
        use std::io::Write;
        f.write_all(&vec![0u8; 4 << 20])?;
        f.sync_all()
    });
    let _ = std::fs::remove_file(&path);
    result
}

fn to_json<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(internal)
}

impl SledStore {
    /// The index for a read; unavailable while the writer rebuilds it.
    fn trees(&self) -> Result<Arc<Trees>> {
        self.index
            .read()
            .map_err(|_| internal("the index lock is poisoned"))?
            .clone()
            .ok_or_else(|| StoreError::Unavailable("the index is being rebuilt".into()))
    }

    /// Opens the store in `dir` (created if missing), replays the journal into
    /// the index, and starts the writer.
    pub fn open(dir: &Path) -> Result<SledStore> {
        SledStore::open_with(dir, Options::default())
    }

    /// [`open`](Self::open) with [`Options`].
    pub fn open_with(dir: &Path, options: Options) -> Result<SledStore> {
        let Options {
            cache_bytes,
            on_commit,
        } = options;
        std::fs::create_dir_all(dir).map_err(|e| io_error(&e))?;
        let lock = std::fs::File::create(dir.join("lock")).map_err(|e| io_error(&e))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(StoreError::Unavailable(format!(
                    "the data directory {} is in use by another Keksdose server",
                    dir.display()
                )));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io_error(&e)),
        }
        let trees = Trees::open(dir, cache_bytes)?;
        let journal = replay(&trees, dir)?;
        let trees = Arc::new(trees);
        let index: Shared = Arc::new(RwLock::new(Some(trees.clone())));
        let sites: Sites = Arc::default();

        let mut writer = Writer {
            trees: Some(trees.clone()),
            shared: index.clone(),
            cache_bytes,
            journal,
            dir: dir.to_path_buf(),
            erased: false,
            poisoned: None,
            last_recovery: None,
            heads: HashMap::new(),
            audit_head: trees.audit_head()?,
            sites: HashMap::new(),
            published_sites: sites.clone(),
            last_flush: Instant::now(),
            dirty: false,
            on_commit,
        };
        for kv in trees.sites.iter() {
            let (_, v) = kv.map_err(internal)?;
            let site: SiteMeta = serde_json::from_slice::<SiteRow>(&v)
                .map_err(internal)?
                .into();
            if let Some(head) = trees.head(&site.id)? {
                writer.heads.insert(site.id.clone(), head);
            }
            writer.sites.insert(site.id.clone(), site);
        }
        writer.publish_sites();
        let (tx, rx) = mpsc::channel();
        let handle = std::thread::Builder::new()
            .name("keksdose-writer".into())
            .spawn(move || writer.run(&rx))
            .map_err(internal)?;
        drop(trees);
        Ok(SledStore {
            index,
            sites,
            keys: RwLock::default(),
            leases: keksdose_store::Leases::default(),
            _lock: lock,
            tx: Some(tx),
            writer: Some(handle),
        })
    }

    fn send<T: Send + 'static>(
        &self,
        job: impl FnOnce(oneshot::Sender<Result<T>>) -> Job,
    ) -> impl Future<Output = Result<T>> + Send + 'static {
        let (reply, answer) = oneshot::channel();
        let sent = self
            .tx
            .as_ref()
            .is_some_and(|tx| tx.send(job(reply)).is_ok());
        wait(sent, answer)
    }

    /// The folder of sled's index inside a data directory.
    pub fn index_path(dir: &Path) -> PathBuf {
        dir.join("index")
    }

    fn site_map(&self) -> Result<std::sync::RwLockReadGuard<'_, HashMap<String, SiteMeta>>> {
        // Unavailable while the index is rebuilt, as every read.
        self.trees()?;
        self.sites.read().map_err(|_| internal("site map poisoned"))
    }

    /// The first seq of `site` whose record was received at or after `t`
    /// (`head + 1` if none): records are sealed with non-decreasing times, so a
    /// time is a seq, found by binary search without a time index.
    fn first_at_or_after(&self, trees: &Trees, site: &str, t: u64, head: u64) -> Result<u64> {
        let (mut lo, mut hi) = (1, head + 1);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match trees.record(site, mid)? {
                Some(r) if Head::of(&r).at_ms < t => lo = mid + 1,
                _ => hi = mid,
            }
        }
        Ok(lo)
    }
}

/// How to open a [`SledStore`].
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// sled's page cache.
    pub cache_bytes: u64,
    pub on_commit: Option<OnCommit>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            cache_bytes: CACHE_BYTES,
            on_commit: None,
        }
    }
}

async fn wait<T>(sent: bool, answer: oneshot::Receiver<Result<T>>) -> Result<T> {
    if !sent {
        return Err(StoreError::Unavailable("the store is shutting down".into()));
    }
    answer
        .await
        .unwrap_or_else(|_| Err(StoreError::Internal("the writer stopped".into())))
}

impl Drop for SledStore {
    fn drop(&mut self) {
        self.tx.take();
        if let Some(handle) = self.writer.take() {
            let _ = handle.join();
        }
    }
}

impl Store for SledStore {
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
        self.send(|reply| Job::Append {
            site,
            draft: Box::new(draft),
            reply,
        })
    }

    fn change(&self, changes: Vec<Change>) -> impl Future<Output = Result<()>> + Send {
        self.send(|reply| Job::Change { changes, reply })
    }

    async fn register_key(&self, key: PublicKey) -> Result<()> {
        self.keys
            .write()
            .map_err(|_| internal("key map poisoned"))?
            .insert(key.key_id.clone(), key);
        Ok(())
    }

    async fn keys(&self) -> Result<Vec<PublicKey>> {
        Ok(self
            .keys
            .read()
            .map_err(|_| internal("key map poisoned"))?
            .values()
            .cloned()
            .collect())
    }

    async fn site(&self, id: &str) -> Result<Option<SiteMeta>> {
        Ok(self.site_map()?.get(id).cloned())
    }

    async fn sites(&self) -> Result<Vec<SiteMeta>> {
        let mut all: Vec<SiteMeta> = self.site_map()?.values().cloned().collect();
        all.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(all)
    }

    async fn config(&self, site: &str, version: &str) -> Result<Option<SiteConfig>> {
        self.trees()?
            .configs
            .get(key(&[site.as_bytes(), version.as_bytes()]))
            .map_err(internal)?
            .map(|v| serde_json::from_slice(&v).map_err(internal))
            .transpose()
    }

    async fn head(&self, site: &str) -> Result<Option<Head>> {
        self.trees()?.head(site)
    }

    async fn records(
        &self,
        site: &str,
        from: u64,
        to: u64,
        limit: usize,
    ) -> Result<Vec<ConsentRecord>> {
        self.trees()?.records(site, from, to, limit)
    }

    async fn consent(&self, site: &str, consent_id: &str) -> Result<Vec<ConsentRecord>> {
        self.trees()?.consent(site, consent_id)
    }

    async fn consent_site(&self, consent_id: &str) -> Result<Option<String>> {
        Ok(self
            .trees()?
            .consent_sites
            .get(consent_id.as_bytes())
            .map_err(internal)?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    async fn subject(&self, site: &str, subject_hash: &str) -> Result<Vec<String>> {
        self.trees()?.subject(site, subject_hash)
    }

    async fn checkpoint_covering(&self, site: &str, seq: u64) -> Result<Option<Checkpoint>> {
        self.trees()?
            .checkpoints
            .range(seq_key(site, seq)..=seq_key(site, u64::MAX))
            .next()
            .map(|kv| serde_json::from_slice(&kv.map_err(internal)?.1).map_err(internal))
            .transpose()
    }

    async fn latest_checkpoint(&self, site: &str) -> Result<Option<Checkpoint>> {
        self.trees()?
            .checkpoints
            .range(seq_key(site, 0)..=seq_key(site, u64::MAX))
            .next_back()
            .map(|kv| serde_json::from_slice(&kv.map_err(internal)?.1).map_err(internal))
            .transpose()
    }

    async fn select(
        &self,
        site: &str,
        selection: &Selection,
        after: u64,
        limit: usize,
    ) -> Result<Vec<ConsentRecord>> {
        let trees = self.trees()?;
        let head = trees.head(site)?.map_or(0, |h| h.seq);
        let from = match selection.from_ms {
            Some(t) => self.first_at_or_after(&trees, site, t, head)?,
            None => 1,
        }
        .max(after.saturating_add(1));
        let to = match selection.to_ms {
            Some(t) => self
                .first_at_or_after(&trees, site, t, head)?
                .saturating_sub(1),
            None => head,
        };
        if from > to {
            return Ok(Vec::new());
        }
        let Some(subject) = &selection.subject_hash else {
            return trees.records(site, from, to, limit);
        };
        // A subject's records: the seqs of its consent IDs from the consent
        // index, merged in order; only the page's records are read.
        let mut seqs = Vec::new();
        for id in trees.subject(site, subject)? {
            seqs.extend(
                trees
                    .consent_seqs(site, &id)?
                    .into_iter()
                    .filter(|seq| (from..=to).contains(seq)),
            );
        }
        seqs.sort_unstable();
        seqs.truncate(limit);
        trees.records_at(site, &seqs)
    }

    async fn doc(&self, table: &str, k: &str) -> Result<Option<String>> {
        Ok(self
            .trees()?
            .docs
            .get(key(&[table.as_bytes(), k.as_bytes()]))
            .map_err(internal)?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    async fn docs(&self, table: &str) -> Result<Vec<(String, String)>> {
        let prefix = site_prefix(table);
        self.trees()?
            .docs
            .scan_prefix(&prefix)
            .map(|kv| {
                let (k, v) = kv.map_err(internal)?;
                Ok((
                    String::from_utf8_lossy(&k[prefix.len()..]).into_owned(),
                    String::from_utf8_lossy(&v).into_owned(),
                ))
            })
            .collect()
    }

    async fn audit(&self, after: u64, limit: usize) -> Result<Vec<AuditEntry>> {
        self.trees()?
            .audit
            .range(after.saturating_add(1).to_be_bytes()..)
            .take(limit)
            .map(|kv| {
                let (_, v) = kv.map_err(internal)?;
                serde_json::from_slice(&v).map_err(internal)
            })
            .collect()
    }

    async fn lease(&self, name: &str, holder: &str, ttl_ms: u64) -> Result<bool> {
        Ok(self
            .leases
            .take(name, holder, ttl_ms, keksdose_store::now_ms()))
    }

    async fn config_times(&self, site: &str) -> Result<Vec<(String, String)>> {
        let prefix = site_prefix(site);
        let mut times = self
            .trees()?
            .config_times
            .scan_prefix(&prefix)
            .map(|kv| {
                let (k, v) = kv.map_err(internal)?;
                Ok((
                    String::from_utf8_lossy(&k[prefix.len()..]).into_owned(),
                    String::from_utf8_lossy(&v).into_owned(),
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        times.sort_by(|a, b| (&a.1, &a.0).cmp(&(&b.1, &b.0)));
        Ok(times)
    }

    async fn configs(&self, site: &str) -> Result<Vec<(String, SiteConfig)>> {
        let prefix = site_prefix(site);
        self.trees()?
            .configs
            .scan_prefix(&prefix)
            .map(|kv| {
                let (k, v) = kv.map_err(internal)?;
                let version = String::from_utf8_lossy(&k[prefix.len()..]).into_owned();
                Ok((version, serde_json::from_slice(&v).map_err(internal)?))
            })
            .collect()
    }

    async fn links(&self, site: &str) -> Result<Vec<(String, String)>> {
        let prefix = site_prefix(site);
        self.trees()?
            .subjects
            .scan_prefix(&prefix)
            .keys()
            .map(|k| {
                let k = k.map_err(internal)?;
                let rest = String::from_utf8_lossy(&k[prefix.len()..]).into_owned();
                rest.split_once('\0')
                    .map(|(s, c)| (s.to_string(), c.to_string()))
                    .ok_or_else(|| internal("bad subject index key"))
            })
            .collect()
    }

    async fn checkpoints(&self, site: &str) -> Result<Vec<Checkpoint>> {
        self.trees()?
            .checkpoints
            .scan_prefix(site_prefix(site))
            .values()
            .map(|v| serde_json::from_slice(&v.map_err(internal)?).map_err(internal))
            .collect()
    }

    async fn idempotency_keys(&self, site: &str) -> Result<Vec<(u64, String)>> {
        let prefix = site_prefix(site);
        let mut keys = self
            .trees()?
            .idempotency
            .scan_prefix(&prefix)
            .map(|kv| {
                let (k, v) = kv.map_err(internal)?;
                let seq = <[u8; 8]>::try_from(v.as_ref())
                    .map(u64::from_be_bytes)
                    .map_err(|_| internal("bad idempotency index value"))?;
                Ok((
                    seq,
                    String::from_utf8_lossy(&k[prefix.len()..]).into_owned(),
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        keys.sort_unstable();
        Ok(keys)
    }
}

/// The one thread that writes: owns the journal and the ledger heads.
struct Writer {
    /// The index; `None` only while it is being rebuilt.
    trees: Option<Arc<Trees>>,
    /// The readers' handle on the index, swapped when it is rebuilt.
    shared: Shared,
    cache_bytes: u64,
    journal: Journal,
    /// The data directory.
    dir: PathBuf,
    /// Personal content was erased since the journal was last compacted.
    erased: bool,
    /// Set when the index failed after a durable write: writes are refused
    /// until [`Writer::recover`] has rebuilt it from the journal.
    poisoned: Option<String>,
    last_recovery: Option<Instant>,
    heads: HashMap<String, Head>,
    /// The audit trail's last entry.
    audit_head: Option<AuditHead>,
    sites: HashMap<String, SiteMeta>,
    /// The readers' copy of `sites`.
    published_sites: Sites,
    last_flush: Instant,
    dirty: bool,
    on_commit: Option<OnCommit>,
}

/// A job's answer, sent once its entries are durable.
enum Answer {
    Unit(oneshot::Sender<Result<()>>),
    Version(oneshot::Sender<Result<String>>, String),
    Record(oneshot::Sender<Result<ConsentRecord>>, Box<ConsentRecord>),
}

impl Answer {
    fn fail(self, e: &StoreError) {
        let err = || match e {
            StoreError::Unavailable(m) => StoreError::Unavailable(m.clone()),
            other => StoreError::Internal(other.to_string()),
        };
        match self {
            Answer::Unit(reply) => drop(reply.send(Err(err()))),
            Answer::Version(reply, _) => drop(reply.send(Err(err()))),
            Answer::Record(reply, _) => drop(reply.send(Err(err()))),
        }
    }

    fn ok(self) {
        // A dropped receiver means the caller gave up waiting; nothing to do.
        match self {
            Answer::Unit(reply) => drop(reply.send(Ok(()))),
            Answer::Version(reply, v) => drop(reply.send(Ok(v))),
            Answer::Record(reply, r) => drop(reply.send(Ok(*r))),
        }
    }
}

impl Writer {
    fn index(&self) -> Result<&Trees> {
        self.trees
            .as_deref()
            .ok_or_else(|| StoreError::Unavailable("the index is being rebuilt".into()))
    }

    fn poison(&mut self, reason: &str) {
        if self.poisoned.is_none() {
            eprintln!("keksdose: the index failed {reason}; refusing writes until it is rebuilt");
        }
        self.poisoned = Some(reason.to_string());
    }

    /// Rebuilds a failed index from the journal, without a restart: closes sled
    /// (readers see "unavailable" meanwhile), opens it again — which clears the
    /// error sled keeps after a failed write — and replays the journal from the
    /// offset the index last recorded. Tried at most once a second; while the
    /// cause lasts (the disk still full) it fails and writes stay refused.
    fn recover(&mut self) {
        if self.poisoned.is_none()
            || self
                .last_recovery
                .is_some_and(|t| t.elapsed() < Duration::from_secs(1))
        {
            return;
        }
        self.last_recovery = Some(Instant::now());
        // Closing the failed index costs the readers it still serves; do it only
        // once the disk takes writes again.
        if disk_takes_writes(&self.dir).is_err() {
            return;
        }
        if let Ok(mut shared) = self.shared.write() {
            *shared = None;
        }
        self.trees = None;
        // sled holds a lock on its files until the last handle is gone; a reader
        // may still hold one for a moment.
        let mut opened = Trees::open(&self.dir, self.cache_bytes);
        for _ in 0..40 {
            if opened.is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(25));
            opened = Trees::open(&self.dir, self.cache_bytes);
        }
        let rebuilt = opened.and_then(|trees| replay(&trees, &self.dir).map(|_| trees));
        match rebuilt {
            Ok(trees) => {
                let trees = Arc::new(trees);
                self.publish_sites();
                if let Ok(mut shared) = self.shared.write() {
                    *shared = Some(trees.clone());
                }
                self.trees = Some(trees);
                self.poisoned = None;
                self.dirty = false;
                eprintln!("keksdose: the index was rebuilt from the journal; taking writes again");
            }
            Err(e) => {
                eprintln!("keksdose: rebuilding the index failed, will retry: {e}");
            }
        }
    }

    fn run(mut self, rx: &mpsc::Receiver<Job>) {
        loop {
            let first = match rx.recv_timeout(FLUSH_EVERY) {
                Ok(job) => job,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    self.recover();
                    self.flush_index();
                    continue;
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            };
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
            self.commit(batch);
            if self.last_flush.elapsed() >= FLUSH_EVERY {
                self.flush_index();
            }
        }
        self.flush_index();
    }

    /// Flushes sled and notes how much of the journal it now holds, so that the
    /// next start replays only the rest.
    fn flush_index(&mut self) {
        if !self.dirty {
            return;
        }
        if self.erased || self.journal.len() > COMPACT_AT {
            match self.compact() {
                Ok(()) => {
                    self.erased = false;
                    self.dirty = false;
                    self.last_flush = Instant::now();
                    return;
                }
                Err(e) => eprintln!("keksdose: journal compaction failed, will retry: {e}"),
            }
        }
        let offset = self.journal.len();
        let Ok(trees) = self.index() else { return };
        match trees.db.flush().and_then(|_| {
            trees
                .meta
                .insert("journal_offset", &offset.to_be_bytes())
                .map(drop)
        }) {
            Ok(()) => self.dirty = false,
            // sled keeps a failed write as an error for every later one (a full
            // disk, say): only a rebuilt index takes writes again.
            Err(e) => self.poison(&format!("flushing the index: {e}")),
        }
        self.last_flush = Instant::now();
    }

    /// Makes the index durable on its own (sled's flush, then `fsync` of every
    /// file, which sled never does), then empties the journal. Afterwards the
    /// journal holds nothing erased and nothing the index could not rebuild.
    /// A crash at any point leaves either the old journal (replayed in full:
    /// every entry applies idempotently, erasures after the records they erase)
    /// or an empty one over a durable index.
    fn compact(&mut self) -> std::io::Result<()> {
        let io = |e: sled::Error| std::io::Error::other(e.to_string());
        let trees = self
            .index()
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        trees.db.flush().map_err(io)?;
        fsync_tree(&self.dir.join("index"))?;
        trees
            .meta
            .insert("journal_offset", &journal::START.to_be_bytes())
            .map_err(io)?;
        trees.db.flush().map_err(io)?;
        fsync_tree(&self.dir.join("index"))?;
        self.journal.reset(&self.dir.join("journal"))
    }

    fn commit(&mut self, batch: Vec<Job>) {
        self.recover();
        if let Some(reason) = &self.poisoned {
            let e = StoreError::Unavailable(format!("the index is being rebuilt: {reason}"));
            for job in batch {
                job.refuse(&e);
            }
            return;
        }
        // The sites as they were, taken before this batch first changes one: for a
        // rollback, and to know whether the readers need the new ones.
        let mut sites_before: Option<HashMap<String, SiteMeta>> = None;
        let mut entries: Vec<Entry> = Vec::new();
        let mut answers: Vec<Answer> = Vec::new();
        // Sealing and idempotency, as every backend does them; the heads it moves
        // are taken only once the batch is durable.
        let mut appends = Batch::new();
        let mut erasing = false;
        let mut audit_head = self.audit_head.clone();

        for job in batch {
            match job {
                Job::CreateSite {
                    site,
                    config,
                    reply,
                } => {
                    if self.sites.contains_key(&site.id) {
                        let _ = reply.send(Err(StoreError::Conflict(format!(
                            "site {:?} exists already",
                            site.id
                        ))));
                        continue;
                    }
                    let version = config.version();
                    let site = SiteMeta {
                        config_version: version.clone(),
                        ..site
                    };
                    sites_before.get_or_insert_with(|| self.sites.clone());
                    self.sites.insert(site.id.clone(), site.clone());
                    entries.push(Entry::Config {
                        site: site.id.clone(),
                        version,
                        published_at: keksdose_shared::time::rfc3339_millis(now_ms()),
                        config,
                    });
                    entries.push(Entry::Site { site: site.into() });
                    answers.push(Answer::Unit(reply));
                }
                Job::UpdateSite { site, reply } => {
                    if !self.sites.contains_key(&site.id) {
                        let _ = reply.send(Err(unknown(&site.id)));
                        continue;
                    }
                    sites_before.get_or_insert_with(|| self.sites.clone());
                    self.sites.insert(site.id.clone(), site.clone());
                    entries.push(Entry::Site { site: site.into() });
                    answers.push(Answer::Unit(reply));
                }
                Job::Publish {
                    site,
                    config,
                    reply,
                } => {
                    if !self.sites.contains_key(&site) {
                        let _ = reply.send(Err(unknown(&site)));
                        continue;
                    }
                    sites_before.get_or_insert_with(|| self.sites.clone());
                    let Some(meta) = self.sites.get_mut(&site) else {
                        continue;
                    };
                    let version = config.version();
                    meta.config_version.clone_from(&version);
                    let meta = meta.clone();
                    entries.push(Entry::Config {
                        site: site.clone(),
                        version: version.clone(),
                        published_at: keksdose_shared::time::rfc3339_millis(now_ms()),
                        config,
                    });
                    entries.push(Entry::Site { site: meta.into() });
                    answers.push(Answer::Version(reply, version));
                }
                Job::Change { changes, reply } => {
                    erasing |= changes.iter().any(|c| matches!(c, Change::Erase { .. }));
                    let mut rows = Vec::with_capacity(changes.len());
                    let mut head = audit_head.clone();
                    let sealed = changes.into_iter().try_for_each(|change| {
                        rows.push(match change {
                            Change::Audit { event } => {
                                let entry = audit::seal(head.as_ref(), event, now_ms())?;
                                head = Some(audit::head_of(&entry));
                                ChangeRow::Audit { entry }
                            }
                            other => change_row(other)?,
                        });
                        Ok::<(), StoreError>(())
                    });
                    if let Err(e) = sealed {
                        let _ = reply.send(Err(e));
                        continue;
                    }
                    audit_head = head;
                    entries.extend(rows.into_iter().map(|change| Entry::Change { change }));
                    answers.push(Answer::Unit(reply));
                }
                Job::Append { site, draft, reply } => {
                    if !self.sites.contains_key(&site) {
                        let _ = reply.send(Err(unknown(&site)));
                        continue;
                    }
                    let placed = appends.place(
                        &site,
                        *draft,
                        || Ok(self.heads.get(&site).cloned()),
                        |k| self.known_key(&site, k),
                        now_ms(),
                    );
                    match placed {
                        // Durable before this batch: answered now, whatever the
                        // batch's own write does.
                        Ok(Appended::Known(record)) => {
                            let _ = reply.send(Ok(record));
                        }
                        // Placed earlier in this batch: durable with it.
                        Ok(Appended::Existing(record)) => {
                            answers.push(Answer::Record(reply, Box::new(record)));
                        }
                        Ok(Appended::New {
                            record,
                            idempotency_key,
                            link,
                        }) => {
                            answers.push(Answer::Record(reply, Box::new(record.clone())));
                            entries.push(Entry::Record {
                                record: Box::new(record),
                                idempotency_key,
                            });
                            if let Some(Change::Link {
                                site,
                                subject_hash,
                                consent_id,
                            }) = link
                            {
                                entries.push(Entry::Change {
                                    change: ChangeRow::Link {
                                        site,
                                        subject_hash,
                                        consent_id,
                                    },
                                });
                            }
                        }
                        Err(e) => {
                            let _ = reply.send(Err(e));
                        }
                    }
                }
            }
        }
        if entries.is_empty() {
            // Nothing to write (an empty change, or only retries answered from
            // the idempotency index): answer at once.
            answers.into_iter().for_each(Answer::ok);
            return;
        }

        let sync_started = Instant::now();
        let written = entries
            .iter()
            .map(Entry::encode)
            .collect::<Result<Vec<Vec<u8>>>>()
            .and_then(|p| self.journal.append(&p).map_err(|e| io_error(&e)));
        let sync_time = sync_started.elapsed();
        if let Err(e) = written {
            // Nothing of this batch is on disk and nobody was told otherwise:
            // forget it, as if it had never been asked for (the heads it moved
            // go with `appends`).
            if let Some(sites) = sites_before {
                self.sites = sites;
            }
            for answer in answers {
                answer.fail(&e);
            }
            return;
        }
        // The batch is durable: its answers are true whatever happens next.
        self.heads.extend(appends.into_heads());
        self.audit_head = audit_head;
        let applied = self
            .index()
            .and_then(|t| entries.iter().try_for_each(|e| t.apply(e)));
        if let Err(e) = &applied {
            // The index now lags the journal. No further write may build on an
            // index that is missing records until it is rebuilt from the journal.
            self.poison(&format!("after a durable write: {e}"));
        }
        self.dirty = true;
        self.erased |= erasing;
        // Only what the index holds too: after a failed apply the readers keep the
        // old sites until the rebuilt index has the new ones (see recover).
        if applied.is_ok() && sites_before.is_some() {
            self.publish_sites();
        }
        // Only what is durable and about to be acknowledged.
        if let Some(on_commit) = self.on_commit {
            let records = entries
                .iter()
                .filter(|e| matches!(e, Entry::Record { .. }))
                .count();
            on_commit(answers.len(), records, sync_time);
        }
        answers.into_iter().for_each(Answer::ok);
    }

    /// Hands the readers the committed sites.
    fn publish_sites(&self) {
        if let Ok(mut published) = self.published_sites.write() {
            published.clone_from(&self.sites);
        }
    }

    fn known_key(&self, site: &str, k: &str) -> Result<Option<ConsentRecord>> {
        let trees = self.index()?;
        match trees
            .idempotency
            .get(key(&[site.as_bytes(), k.as_bytes()]))
            .map_err(internal)?
        {
            None => Ok(None),
            Some(v) => {
                let seq = <[u8; 8]>::try_from(v.as_ref())
                    .map(u64::from_be_bytes)
                    .map_err(internal)?;
                trees.record(site, seq)
            }
        }
    }
}

/// A change as the journal keeps it; an audit event must be sealed first.
fn change_row(c: Change) -> Result<ChangeRow> {
    Ok(match c {
        Change::Erase { site, seq } => ChangeRow::Erase { site, seq },
        Change::Link {
            site,
            subject_hash,
            consent_id,
        } => ChangeRow::Link {
            site,
            subject_hash,
            consent_id,
        },
        Change::Unlink { site, subject_hash } => ChangeRow::Unlink { site, subject_hash },
        Change::Checkpoint { checkpoint } => ChangeRow::Checkpoint { checkpoint },
        Change::Put { table, key, value } => ChangeRow::Put { table, key, value },
        Change::Audit { .. } => {
            return Err(internal("an audit event reached the journal unsealed"));
        }
    })
}

fn unknown(site: &str) -> StoreError {
    StoreError::NotFound(format!("unknown site {site:?}"))
}

impl Job {
    /// Answers the job with an error, unwritten.
    fn refuse(self, e: &StoreError) {
        let e = || StoreError::Unavailable(e.to_string());
        match self {
            Job::CreateSite { reply, .. }
            | Job::UpdateSite { reply, .. }
            | Job::Change { reply, .. } => drop(reply.send(Err(e()))),
            Job::Publish { reply, .. } => drop(reply.send(Err(e()))),
            Job::Append { reply, .. } => drop(reply.send(Err(e()))),
        }
    }
}

#[cfg(test)]
mod tests {
    use keksdose_shared::Action;
    use keksdose_shared::record::ChainVerifier;
    use keksdose_store::conformance;

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn passes_the_conformance_suite() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        conformance::run(Arc::new(store)).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn passes_the_conformance_suite_after_reopening() {
        // Everything the suite wrote, replayed from the journal alone: the
        // replayed store answers as the one that wrote it.
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Arc::new(SledStore::open(dir.path()).unwrap());
            conformance::sealing(&*store).await;
            conformance::idempotency(store.clone()).await;
            conformance::unlink(&*store).await;
        }
        std::fs::remove_dir_all(SledStore::index_path(dir.path())).unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let config = conformance::config();
        let retry = store
            .append(
                "idem",
                conformance::draft(&config, "c1", Action::AcceptAll, Some("k1")),
            )
            .await
            .unwrap();
        assert_eq!(retry.seq, 1, "an idempotency key outlives a restart");
        assert_eq!(store.head("seal").await.unwrap().map(|h| h.seq), Some(5));
        assert_eq!(store.subject("unlink", "h2").await.unwrap(), ["c3"]);
        assert!(store.subject("unlink", "h1").await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn everything_acknowledged_is_there_after_reopening_even_without_sled_flush() {
        let dir = tempfile::tempdir().unwrap();
        let config = conformance::config();
        let mut acknowledged = Vec::new();
        {
            let store = SledStore::open(dir.path()).unwrap();
            store
                .create_site(conformance::site("a"), config.clone())
                .await
                .unwrap();
            for i in 0..20 {
                acknowledged.push(
                    store
                        .append(
                            "a",
                            conformance::draft(&config, &format!("c{i}"), Action::AcceptAll, None),
                        )
                        .await
                        .unwrap(),
                );
            }
        }
        // Lose sled's index entirely, as a power cut before its flush could: the
        // journal alone must bring every acknowledged record back.
        std::fs::remove_dir_all(SledStore::index_path(dir.path())).unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let found = store.records("a", 1, u64::MAX, 100).await.unwrap();
        assert_eq!(found, acknowledged);
        let mut v = ChainVerifier::new("a");
        found.iter().for_each(|r| v.push(r).unwrap());
        let next = store
            .append(
                "a",
                conformance::draft(&config, "after", Action::RejectAll, None),
            )
            .await
            .unwrap();
        assert_eq!(
            (next.seq, next.prev_hash.as_str()),
            (21, acknowledged[19].record_hash.as_str())
        );
    }

    #[tokio::test]
    async fn erased_personal_content_leaves_the_journal_and_stays_gone() {
        let dir = tempfile::tempdir().unwrap();
        let config = conformance::config();
        let journal = dir.path().join("journal");
        let contains = |needle: &str| {
            let bytes = std::fs::read(&journal).unwrap();
            bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
        };
        {
            let store = SledStore::open(dir.path()).unwrap();
            store
                .create_site(conformance::site("a"), config.clone())
                .await
                .unwrap();
            let mut d = conformance::draft(&config, "c1", Action::AcceptAll, None);
            d.personal.page = Some("/very-personal-page".into());
            let r = store.append("a", d).await.unwrap();
            assert!(
                contains("/very-personal-page"),
                "the journal holds it until erased"
            );
            store
                .change(vec![Change::Erase {
                    site: "a".into(),
                    seq: r.seq,
                }])
                .await
                .unwrap();
            // The writer compacts at its next flush (at most FLUSH_EVERY later).
            let deadline = Instant::now() + FLUSH_EVERY * 4;
            while contains("/very-personal-page") && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(100));
            }
            assert!(
                !contains("/very-personal-page"),
                "erased content is gone from the journal"
            );
            store
                .append(
                    "a",
                    conformance::draft(&config, "c2", Action::RejectAll, None),
                )
                .await
                .unwrap();
        }
        let store = SledStore::open(dir.path()).unwrap();
        let records = store.records("a", 1, u64::MAX, 10).await.unwrap();
        assert_eq!(records.len(), 2);
        assert!(records[0].personal.is_none());
        let mut v = ChainVerifier::new("a");
        records.iter().for_each(|r| v.push(r).unwrap());
    }

    #[test]
    fn an_index_of_another_schema_is_refused_not_misread() {
        let dir = tempfile::tempdir().unwrap();
        drop(SledStore::open(dir.path()).unwrap());
        {
            let trees = Trees::open(dir.path(), CACHE_BYTES).unwrap();
            assert_eq!(
                trees.meta.get("schema").unwrap().as_deref(),
                Some(&entry::SCHEMA.to_be_bytes()[..]),
                "a new index notes its schema"
            );
            trees.meta.insert("schema", &2u32.to_be_bytes()).unwrap();
            trees.db.flush().unwrap();
        }
        let err = SledStore::open(dir.path()).unwrap_err();
        assert!(
            err.to_string().contains("this release reads schema 1"),
            "{err}"
        );
    }

    #[test]
    fn a_second_server_on_the_same_data_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let _first = SledStore::open(dir.path()).unwrap();
        let err = SledStore::open(dir.path()).unwrap_err();
        assert!(
            err.to_string()
                .contains("in use by another Keksdose server"),
            "{err}"
        );
    }
}
