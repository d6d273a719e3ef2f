//! Storage: the domain-level interface the server is written against, and its
//! embedded implementation (a journal for durability, sled for lookups).
//!
//! The interface speaks of sites, config versions and consent records — `append`,
//! `head`, `records`, `consent` — not of bytes and keys, so that a PostgreSQL
//! backend can implement it with real transactions. Writes are serialised by the
//! store (one writer per ledger); a write is acknowledged only once durable.

#[cfg(test)]
pub mod conformance;
pub mod journal;
pub mod sled_store;

use std::collections::BTreeMap;

use keksdose_shared::decision::Signals;
use keksdose_shared::record::{Broken, ChainVerifier, PurposeState, Source};
use keksdose_shared::{Action, Checkpoint, Choices, ConsentRecord, Personal, SiteConfig};
use serde::{Deserialize, Serialize};

pub use sled_store::SledStore;

/// A site as the store keeps it. `Debug` redacts the secrets.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
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

/// A record before the ledger gives it its place: the store fills in `seq`,
/// `received_at`, `prev_hash` and the hashes.
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

/// A change that needs no place in the chain: it is journalled and applied, and
/// applying it twice changes nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
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
}

/// The head of a site's ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Head {
    pub seq: u64,
    pub hash: String,
    /// Milliseconds since the epoch of the last record.
    pub at_ms: u64,
}

/// What can go wrong in the store, by what the caller should do about it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// The disk refuses writes (full, read-only): retry later.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// A bug or damaged data.
    #[error("storage failure: {0}")]
    Internal(String),
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// The storage interface; every backend passes the same conformance tests.
pub trait Store: Send + Sync + 'static {
    /// Creates a site with its first config. `Conflict` if the id exists.
    fn create_site(
        &self,
        site: SiteMeta,
        config: SiteConfig,
    ) -> impl Future<Output = Result<()>> + Send;
    /// Replaces a site's key hash (key rotation) or origins.
    fn update_site(&self, site: SiteMeta) -> impl Future<Output = Result<()>> + Send;
    /// Publishes a config version (kept forever) and makes it current.
    fn publish_config(
        &self,
        site: &str,
        config: SiteConfig,
    ) -> impl Future<Output = Result<String>> + Send;
    /// Appends a record to the site's ledger, durably, and returns it sealed.
    fn append(
        &self,
        site: &str,
        draft: Draft,
    ) -> impl Future<Output = Result<ConsentRecord>> + Send;
    /// Applies changes, durably, in order.
    fn change(&self, changes: Vec<Change>) -> impl Future<Output = Result<()>> + Send;

    fn site(&self, id: &str) -> Result<Option<SiteMeta>>;
    fn sites(&self) -> Result<Vec<SiteMeta>>;
    /// A config version of a site, current or old.
    fn config(&self, site: &str, version: &str) -> Result<Option<SiteConfig>>;
    fn head(&self, site: &str) -> Result<Option<Head>>;
    /// Records `from..=to` of a site's ledger in order, at most `limit`.
    fn records(&self, site: &str, from: u64, to: u64, limit: usize) -> Result<Vec<ConsentRecord>>;
    /// Every record of a consent ID, in order.
    fn consent(&self, site: &str, consent_id: &str) -> Result<Vec<ConsentRecord>>;
    /// The site a consent ID belongs to.
    fn consent_site(&self, consent_id: &str) -> Result<Option<String>>;
    /// The consent IDs linked to a subject (keyed hash of a site user id).
    fn subject(&self, site: &str, subject_hash: &str) -> Result<Vec<String>>;
    /// The first checkpoint at or after `seq` (the one that covers record `seq`).
    fn checkpoint_covering(&self, site: &str, seq: u64) -> Result<Option<Checkpoint>>;
    /// The latest checkpoint of a site.
    fn latest_checkpoint(&self, site: &str) -> Result<Option<Checkpoint>>;

    /// Recomputes a site's whole chain, page by page: how many records verified,
    /// and the first break if there is one.
    fn verify_chain(&self, site: &str) -> Result<(u64, Option<Broken>)> {
        let mut verifier = ChainVerifier::new(site);
        loop {
            let page = self.records(site, verifier.verified() + 1, u64::MAX, 1000)?;
            if page.is_empty() {
                return Ok((verifier.verified(), None));
            }
            for r in &page {
                if let Err(e) = verifier.push(r) {
                    return Ok((verifier.verified(), Some(e)));
                }
            }
        }
    }
}
