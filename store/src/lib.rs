//! The storage seam of Keksdose: the [`Store`] trait the server is written
//! against, the types it speaks in, and the rules every backend shares.
//!
//! What belongs here: the interface (sites, config versions, the append-only
//! consent ledger, changes that need no place in the chain, and the queries the
//! API asks — a seq range, a consent ID, a subject, a time range, day statistics),
//! the append rules ([`append`]: sealing, idempotency, the subject link a record
//! brings), and behind the feature `conformance` the suite every backend must
//! pass. What does not: any IO. Each backend is a crate of its own
//! (`keksdose-store-sled` is the embedded one) that depends on this one, so a
//! second backend copies no rule and the server depends on the trait, not on a
//! backend.
//!
//! Every write resolves only once it is durable. Reads are `async` too, so
//! that a network store awaits its database; the embedded store reads its
//! index inline on the calling task (a lookup in sled's page cache or a read
//! of its file, microseconds, as before the trait was async).
#![forbid(unsafe_code)]

pub mod append;
pub mod audit;
#[cfg(feature = "conformance")]
pub mod conformance;
pub mod query;

/// Leases held in one process's memory: what a store serving one process keeps
/// (the embedded store, a test's), by name: (holder, until in ms since the epoch).
#[derive(Debug, Default)]
pub struct Leases(std::sync::Mutex<std::collections::HashMap<String, (String, u64)>>);

impl Leases {
    /// [`Store::lease`] at `now_ms`.
    pub fn take(&self, name: &str, holder: &str, ttl_ms: u64, now_ms: u64) -> bool {
        let mut leases = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match leases.get(name) {
            Some((other, until)) if other != holder && *until > now_ms => false,
            _ => {
                leases.insert(
                    name.to_string(),
                    (holder.to_string(), now_ms.saturating_add(ttl_ms)),
                );
                true
            }
        }
    }
}

use std::collections::BTreeMap;
use std::future::Future;
use std::time::{SystemTime, UNIX_EPOCH};

use keksdose_shared::decision::Signals;
use keksdose_shared::record::{PurposeState, Source};
use keksdose_shared::{Action, Checkpoint, Choices, ConsentRecord, Personal, SiteConfig};

pub use append::{Appended, Batch};
pub use audit::{AuditEntry, AuditEvent};
pub use query::{DayStats, Selection};

/// A site as the store keeps it. `Debug` redacts the secrets.
#[derive(Clone, PartialEq, Eq)]
pub struct SiteMeta {
    pub id: String,
    /// Origins allowed to call the public API from a browser.
    pub origins: Vec<String>,
    pub created_at: String,
    /// SHA-256 (hex) of the admin API key; the key itself is never stored.
    pub key_hash: String,
    /// The per-site key for pseudonymising IP addresses, user agents and user ids
    /// (HMAC-SHA-256), base64url.
    pub secret: String,
    /// The version of the config currently published.
    pub config_version: String,
}

impl std::fmt::Debug for SiteMeta {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SiteMeta")
            .field("id", &self.id)
            .field("origins", &self.origins)
            .field("created_at", &self.created_at)
            .field("key_hash", &"<redacted>")
            .field("secret", &"<redacted>")
            .field("config_version", &self.config_version)
            .finish()
    }
}

/// A record before the ledger gives it its place: [`append::seal`] fills in
/// `seq`, `received_at`, `prev_hash` and the hashes.
#[derive(Debug, Clone)]
pub struct Draft {
    pub consent_id: String,
    pub action: Action,
    pub source: Source,
    pub config_version: String,
    pub choices: Choices,
    pub purposes: BTreeMap<String, PurposeState>,
    pub language: String,
    pub signals: Signals,
    pub personal: Personal,
    /// A client's key for this decision: a retry with the same key gets the first
    /// record back instead of a second one.
    pub idempotency_key: Option<String>,
}

/// A change that needs no place in the chain: applied durably, and applying it
/// twice changes nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Drops a record's personal content; its hashes stay (erasure, retention).
    Erase { site: String, seq: u64 },
    /// Links a site user id (as its keyed hash) to a consent ID.
    Link {
        site: String,
        subject_hash: String,
        consent_id: String,
    },
    /// Removes every link of a subject.
    Unlink { site: String, subject_hash: String },
    /// Stores a signed checkpoint of a ledger's head.
    Checkpoint { checkpoint: Checkpoint },
    /// Puts a document (JSON text) under `key` in `table`, or with `None`
    /// deletes it: the console's operator accounts and sessions. Not part of
    /// any ledger; a later put replaces it.
    Put {
        table: String,
        key: String,
        value: Option<String>,
    },
    /// Appends an event to the operators' audit trail: the store seals it
    /// ([`audit::seal`]) after the trail's last entry.
    Audit { event: AuditEvent },
}

/// A public key that signs checkpoints (Ed25519): every server sharing a store
/// registers its own, and every server lists all of them (`GET /v1/keys`), so a
/// checkpoint verifies whichever server signed it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct PublicKey {
    /// The first 8 bytes of the key's SHA-256, hex (a checkpoint's `key_id`).
    pub key_id: String,
    /// The raw public key, base64url.
    pub x: String,
}

/// What a proof of a consent ID is checked against ([`Store::consent_proof`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConsentProof {
    /// Every record of the consent ID, in order.
    pub records: Vec<ConsentRecord>,
    /// The records just before and just after each of them in the ledger
    /// that are not among them, in order.
    pub neighbours: Vec<ConsentRecord>,
    /// The first checkpoint at or after the consent ID's latest record.
    pub checkpoint: Option<Checkpoint>,
}

/// The head of a site's ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub seq: u64,
    pub hash: String,
    /// Milliseconds since the epoch of the last record.
    pub at_ms: u64,
}

impl Head {
    /// The head a record makes.
    pub fn of(record: &ConsentRecord) -> Head {
        Head {
            seq: record.seq,
            hash: record.record_hash.clone(),
            at_ms: keksdose_shared::time::parse_rfc3339(&record.received_at).unwrap_or(0),
        }
    }
}

/// What can go wrong in the store, by what the caller should do about it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// The store refuses writes for now (a full or read-only disk, a lost
    /// database connection): retry later.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// A bug or damaged data.
    #[error("storage failure: {0}")]
    Internal(String),
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// Milliseconds since the Unix epoch, now (0 before 1970).
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The storage interface. Every backend passes the conformance suite (module
/// `conformance`, feature `conformance`); the server's services are written
/// against this trait only.
///
/// Writes resolve once durable; appends to one site's ledger are serialised by
/// the store, which seals them with [`append::Batch`], so that no two records
/// share a `seq` and each links to the one before it.
pub trait Store: Send + Sync + 'static {
    /// Creates a site with its first config (which becomes current).
    /// `Conflict` if the id exists.
    fn create_site(
        &self,
        site: SiteMeta,
        config: SiteConfig,
    ) -> impl Future<Output = Result<()>> + Send;
    /// Replaces a site's key hash (key rotation) or origins. `NotFound` if unknown.
    fn update_site(&self, site: SiteMeta) -> impl Future<Output = Result<()>> + Send;
    /// Stores a config version (kept forever), makes it current and returns its
    /// version. `NotFound` if the site is unknown.
    fn publish_config(
        &self,
        site: &str,
        config: SiteConfig,
    ) -> impl Future<Output = Result<String>> + Send;
    /// Appends a record to the site's ledger, durably, and returns it sealed; a
    /// draft whose idempotency key the site used before gets that record back.
    /// A draft with a subject hash links its consent ID to the subject.
    fn append(
        &self,
        site: &str,
        draft: Draft,
    ) -> impl Future<Output = Result<ConsentRecord>> + Send;
    /// Applies changes, durably, in order.
    fn change(&self, changes: Vec<Change>) -> impl Future<Output = Result<()>> + Send;
    /// Adds a public key that signs checkpoints (again: nothing changes).
    fn register_key(&self, key: PublicKey) -> impl Future<Output = Result<()>> + Send;

    fn site(&self, id: &str) -> impl Future<Output = Result<Option<SiteMeta>>> + Send;
    /// The site as it was at most a second ago: a store that several servers
    /// share may answer from memory, so that recording a decision costs no read
    /// of the site. A change made through this store is seen at once; one made
    /// through another server within a second. Only for paths that may lag
    /// that second (recording a decision); everything else asks [`site`](Self::site).
    fn site_recent(&self, id: &str) -> impl Future<Output = Result<Option<SiteMeta>>> + Send {
        self.site(id)
    }
    /// Every site, by id.
    fn sites(&self) -> impl Future<Output = Result<Vec<SiteMeta>>> + Send;
    /// A config version of a site, current or old.
    fn config(
        &self,
        site: &str,
        version: &str,
    ) -> impl Future<Output = Result<Option<SiteConfig>>> + Send;
    fn head(&self, site: &str) -> impl Future<Output = Result<Option<Head>>> + Send;
    /// Records `from..=to` of a site's ledger in order, at most `limit`.
    fn records(
        &self,
        site: &str,
        from: u64,
        to: u64,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<ConsentRecord>>> + Send;
    /// Every record of a consent ID, in order.
    fn consent(
        &self,
        site: &str,
        consent_id: &str,
    ) -> impl Future<Output = Result<Vec<ConsentRecord>>> + Send;
    /// What a proof of a consent ID is checked against, read together (see
    /// [`ConsentProof`]). No records: no such consent ID on this site. This
    /// default asks [`consent`](Self::consent), then [`records`](Self::records)
    /// and [`checkpoint_covering`](Self::checkpoint_covering); a backend with a
    /// query language may answer it in one query.
    fn consent_proof(
        &self,
        site: &str,
        consent_id: &str,
    ) -> impl Future<Output = Result<ConsentProof>> + Send {
        async move {
            let records = self.consent(site, consent_id).await?;
            let Some(last) = records.last().map(|r| r.seq) else {
                return Ok(ConsentProof::default());
            };
            let mut neighbours: BTreeMap<u64, ConsentRecord> = BTreeMap::new();
            for r in &records {
                let from = r.seq.saturating_sub(1).max(1);
                for n in self.records(site, from, r.seq.saturating_add(1), 3).await? {
                    neighbours.entry(n.seq).or_insert(n);
                }
            }
            for r in &records {
                neighbours.remove(&r.seq);
            }
            let checkpoint = self.checkpoint_covering(site, last).await?;
            Ok(ConsentProof {
                records,
                neighbours: neighbours.into_values().collect(),
                checkpoint,
            })
        }
    }
    /// The site a consent ID belongs to.
    fn consent_site(&self, consent_id: &str)
    -> impl Future<Output = Result<Option<String>>> + Send;
    /// The consent IDs linked to a subject (keyed hash of a site user id), sorted.
    fn subject(
        &self,
        site: &str,
        subject_hash: &str,
    ) -> impl Future<Output = Result<Vec<String>>> + Send;
    /// The first checkpoint at or after `seq` (the one that covers record `seq`).
    fn checkpoint_covering(
        &self,
        site: &str,
        seq: u64,
    ) -> impl Future<Output = Result<Option<Checkpoint>>> + Send;
    /// Every registered public key, by key id.
    fn keys(&self) -> impl Future<Output = Result<Vec<PublicKey>>> + Send;
    /// The latest checkpoint of a site.
    fn latest_checkpoint(
        &self,
        site: &str,
    ) -> impl Future<Output = Result<Option<Checkpoint>>> + Send;
    /// One page of a selection (a time range, a subject): the records with a
    /// `seq` above `after`, in order, at most `limit`. Paging by `after` keeps
    /// an export of any size out of memory.
    fn select(
        &self,
        site: &str,
        selection: &Selection,
        after: u64,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<ConsentRecord>>> + Send;

    /// Every config version of a site, old and current (its [`SiteMeta`]
    /// names the current one), sorted by version.
    fn configs(&self, site: &str)
    -> impl Future<Output = Result<Vec<(String, SiteConfig)>>> + Send;
    /// When each config version of a site last became its current one (RFC
    /// 3339 UTC; publishing the current version again changes nothing, a
    /// rollback to an older one moves it), as (version, time), sorted by time
    /// then version: the versions of the site's declaration and when each took
    /// effect.
    fn config_times(
        &self,
        site: &str,
    ) -> impl Future<Output = Result<Vec<(String, String)>>> + Send;
    /// Every subject link of a site as (subject hash, consent ID), sorted.
    fn links(&self, site: &str) -> impl Future<Output = Result<Vec<(String, String)>>> + Send;
    /// Every signed checkpoint of a site, by seq.
    fn checkpoints(&self, site: &str) -> impl Future<Output = Result<Vec<Checkpoint>>> + Send;
    /// The document under `key` in `table` ([`Change::Put`]).
    fn doc(&self, table: &str, key: &str) -> impl Future<Output = Result<Option<String>>> + Send;
    /// Every document of `table` as (key, value), by key.
    fn docs(&self, table: &str) -> impl Future<Output = Result<Vec<(String, String)>>> + Send;
    /// The audit trail's entries with a seq above `after`, in order, at most `limit`.
    fn audit(
        &self,
        after: u64,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<AuditEntry>>> + Send;

    /// Every idempotency key of a site with the seq of the record it gave, by seq.
    fn idempotency_keys(
        &self,
        site: &str,
    ) -> impl Future<Output = Result<Vec<(u64, String)>>> + Send;

    /// Takes or renews the lease `name` for `holder` for `ttl_ms`, and says
    /// whether `holder` has it now: no other holder's lease on it is running.
    /// Jobs that one server of many should do at a time (the periodic
    /// checkpoint) run only while their server holds the lease; the store's
    /// clock decides when a lease has run out.
    fn lease(
        &self,
        name: &str,
        holder: &str,
        ttl_ms: u64,
    ) -> impl Future<Output = Result<bool>> + Send;

    /// Banner decisions per UTC day over a selection's time range, counted by
    /// [`DayStats::count`]. This default pages through [`Store::select`]; a
    /// backend with a query language may answer it there.
    fn day_stats(
        &self,
        site: &str,
        selection: &Selection,
    ) -> impl Future<Output = Result<BTreeMap<String, DayStats>>> + Send {
        async move {
            let mut days: BTreeMap<String, DayStats> = BTreeMap::new();
            let mut after = 0;
            loop {
                let page = self.select(site, selection, after, 1000).await?;
                let Some(last) = page.last() else {
                    return Ok(days);
                };
                after = last.seq;
                for r in &page {
                    DayStats::count(&mut days, r);
                }
            }
        }
    }
}
