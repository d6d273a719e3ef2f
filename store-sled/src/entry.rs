//! What the journal and the index hold, as their own types: the on-disk
//! encoding, decoupled from the domain types the rest of Keksdose may rename.
//!
//! Schema 1, the one every `KEKSJ002` journal holds (Keksdose 0.1.0 wrote it):
//! each journal entry is one JSON object tagged by `"type"` ([`Entry`]); the
//! index keeps a site as a [`SiteRow`]. Records, configs and checkpoints are
//! stored in their public forms ([`ConsentRecord`], [`SiteConfig`],
//! [`Checkpoint`]), which are not free to change anyway: their JSON is what
//! record hashes, config versions and checkpoint signatures are computed over,
//! and the published vectors pin them. A change to these types is a new schema:
//! it needs a new journal magic and a decoder for this one kept beside it, and
//! the committed journal of 0.1.0 (`tests/fixtures/`) must still replay.
//! The index notes its schema ([`SCHEMA`], key `schema` of its `meta` tree; an
//! index of 0.1.0 has none and is schema 1), and an index of another schema is
//! refused rather than misread.

use keksdose_shared::{Checkpoint, ConsentRecord, SiteConfig};
use keksdose_store::{AuditEntry, SiteMeta, StoreError};
use serde::{Deserialize, Serialize};

/// The schema of journal entries and index rows this release writes and reads.
pub const SCHEMA: u32 = 1;

/// One change of state as the journal records it.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Entry {
    Site {
        site: SiteRow,
    },
    Config {
        site: String,
        version: String,
        published_at: String,
        config: Box<SiteConfig>,
    },
    Record {
        record: Box<ConsentRecord>,
        idempotency_key: Option<String>,
    },
    Change {
        change: ChangeRow,
    },
}

impl Entry {
    pub fn encode(&self) -> Result<Vec<u8>, StoreError> {
        serde_json::to_vec(self)
            .map_err(|e| StoreError::Internal(format!("encoding an entry: {e}")))
    }

    pub fn decode(bytes: &[u8]) -> Result<Entry, StoreError> {
        serde_json::from_slice(bytes)
            .map_err(|e| StoreError::Internal(format!("journal entry: {e}")))
    }
}

/// A site, as the journal and the index keep it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteRow {
    pub id: String,
    pub origins: Vec<String>,
    pub created_at: String,
    pub key_hash: String,
    pub secret: String,
    pub config_version: String,
}

impl From<SiteMeta> for SiteRow {
    fn from(s: SiteMeta) -> SiteRow {
        SiteRow {
            id: s.id,
            origins: s.origins,
            created_at: s.created_at,
            key_hash: s.key_hash,
            secret: s.secret,
            config_version: s.config_version,
        }
    }
}

impl From<SiteRow> for SiteMeta {
    fn from(s: SiteRow) -> SiteMeta {
        SiteMeta {
            id: s.id,
            origins: s.origins,
            created_at: s.created_at,
            key_hash: s.key_hash,
            secret: s.secret,
            config_version: s.config_version,
        }
    }
}

/// A [`keksdose_store::Change`], as the journal keeps it (an audit event sealed).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ChangeRow {
    Erase {
        site: String,
        seq: u64,
    },
    Link {
        site: String,
        subject_hash: String,
        consent_id: String,
    },
    Unlink {
        site: String,
        subject_hash: String,
    },
    Checkpoint {
        checkpoint: Checkpoint,
    },
    /// Added after 0.1.0 without a new schema: a journal of 0.1.0 has none, so
    /// it still replays (a journal with one does not replay on 0.1.0).
    Put {
        table: String,
        key: String,
        value: Option<String>,
    },
    /// An audit event as the writer sealed it (added like `Put`).
    Audit {
        entry: AuditEntry,
    },
}
