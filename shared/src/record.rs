//! The consent record and the hash chain that makes a site's ledger tamper-evident.
//!
//! A record's hash is SHA-256 (hex) over the JCS form of the record *without* its
//! `record_hash` and `personal` fields. The personal content (page, keyed hashes of
//! IP, user agent and site user id) is committed to by `personal_hash`, the SHA-256
//! of its own JCS form, salted so that the hash says nothing once the content is
//! gone. Erasure and retention purges drop `personal` and keep every hash, so the
//! chain still verifies. Records are never changed otherwise: an update or a
//! withdrawal is a new record. Record `n` holds the hash of record `n-1` in
//! `prev_hash`; the first holds [`GENESIS`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::canonical::{self, CanonicalError};
use crate::decision::{Action, Choices, Signals};

/// `prev_hash` of a ledger's first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The version of this record format.
pub const FORMAT: u32 = 1;

/// One entry of a site's ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ConsentRecord {
    /// Record format version ([`FORMAT`]).
    pub format: u32,
    pub site: String,
    /// Position in the site's ledger, from 1, without gaps.
    pub seq: u64,
    pub consent_id: String,
    /// Server time, RFC 3339 UTC with milliseconds.
    pub received_at: String,
    pub action: Action,
    pub source: Source,
    /// The version (content hash) of the config the visitor was shown.
    pub config_version: String,
    pub choices: Choices,
    /// Consents beyond cookies (newsletter, calendar sync, push), by purpose id.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub purposes: BTreeMap<String, PurposeState>,
    /// The banner's language.
    pub language: String,
    pub signals: Signals,
    /// SHA-256 (hex) over the JCS form of `personal`.
    pub personal_hash: String,
    /// Dropped by erasure and retention purges; never part of `record_hash`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub personal: Option<Personal>,
    pub prev_hash: String,
    /// SHA-256 (hex) over the JCS form of this record without `record_hash` and
    /// `personal`.
    pub record_hash: String,
}

/// Where a decision came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The visitor, in the banner or a two-click placeholder.
    Banner,
    /// The site's backend, e.g. a newsletter sign-up (admin API).
    Backend,
    /// The site operator on the visitor's behalf, e.g. a withdrawal by e-mail.
    Operator,
}

/// A consent beyond cookies, e.g. a newsletter with double opt-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PurposeState {
    /// Asked for, not yet confirmed (double opt-in: the e-mail went out).
    Requested,
    /// Given (and, for double opt-in, confirmed).
    Granted,
    Refused,
    Withdrawn,
}

/// The personal content of a record: pseudonymous, and erasable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Personal {
    /// Random, so that `personal_hash` reveals nothing after erasure.
    pub salt: String,
    /// The page path the decision was made on (no query string).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<String>,
    /// HMAC (per-site key) of the IP address truncated to /24 or /48.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_hash: Option<String>,
    /// HMAC (per-site key) of the user agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ua_hash: Option<String>,
    /// HMAC (per-site key) of the whole IP address the site's backend saw at this
    /// step of a backend consent (a double opt-in's sign-up or confirmation), so
    /// that a given address can be shown to match (`…/consents/{id}/match`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_hash: Option<String>,
    /// HMAC (per-site key) of the site's own user id, when the site linked one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_hash: Option<String>,
}

impl Personal {
    /// SHA-256 (hex) of the canonical JSON.
    pub fn hash(&self) -> Result<String, CanonicalError> {
        Ok(canonical::hex(&canonical::canonical_sha256(self)?))
    }
}

/// What the server answers when it has durably recorded a decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Receipt {
    pub consent_id: String,
    pub seq: u64,
    pub record_hash: String,
    pub received_at: String,
}

/// How a record fails verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Broken {
    #[error("record {seq}: record_hash does not match its content")]
    RecordHash { seq: u64 },
    #[error("record {seq}: personal content does not match personal_hash")]
    PersonalHash { seq: u64 },
    #[error("record {seq}: prev_hash does not match the hash of record {}", seq.saturating_sub(1))]
    Link { seq: u64 },
    #[error("record {seq}: expected sequence number {expected}")]
    Sequence { seq: u64, expected: u64 },
    #[error("record {seq}: belongs to site {found:?}, not {expected:?}")]
    Site {
        seq: u64,
        expected: String,
        found: String,
    },
    #[error("record {seq}: cannot be canonicalised")]
    Canonical { seq: u64 },
}

impl ConsentRecord {
    /// The hash this record's content commits to (what `record_hash` must be).
    pub fn compute_hash(&self) -> Result<String, CanonicalError> {
        let mut value = serde_json::to_value(self).map_err(|e| CanonicalError::from_serde(&e))?;
        if let Some(obj) = value.as_object_mut() {
            obj.remove("record_hash");
            obj.remove("personal");
        }
        let text = canonical::value_to_canonical_json(&value)?;
        Ok(canonical::sha256_hex(text.as_bytes()))
    }

    /// Fills in `personal_hash` and `record_hash`; the server calls this once, when
    /// it appends the record.
    pub fn seal(mut self) -> Result<ConsentRecord, CanonicalError> {
        if let Some(p) = &self.personal {
            self.personal_hash = p.hash()?;
        }
        self.record_hash = self.compute_hash()?;
        Ok(self)
    }

    /// Drops the personal content, keeping every hash (erasure, retention purge).
    pub fn erase_personal(&mut self) {
        self.personal = None;
    }

    /// Checks this record on its own: its hash, and its personal content if kept.
    pub fn verify_self(&self) -> Result<(), Broken> {
        let seq = self.seq;
        if let Some(p) = &self.personal
            && p.hash().ok().as_deref() != Some(self.personal_hash.as_str())
        {
            return Err(Broken::PersonalHash { seq });
        }
        match self.compute_hash() {
            Ok(h) if h == self.record_hash => Ok(()),
            Ok(_) => Err(Broken::RecordHash { seq }),
            Err(_) => Err(Broken::Canonical { seq }),
        }
    }

    pub fn receipt(&self) -> Receipt {
        Receipt {
            consent_id: self.consent_id.clone(),
            seq: self.seq,
            record_hash: self.record_hash.clone(),
            received_at: self.received_at.clone(),
        }
    }
}

/// Walks a ledger in sequence order and checks every record and link.
#[derive(Debug, Clone)]
pub struct ChainVerifier {
    site: String,
    next_seq: u64,
    prev_hash: String,
}

impl ChainVerifier {
    /// For a whole ledger, from record 1.
    pub fn new(site: &str) -> ChainVerifier {
        ChainVerifier {
            site: site.to_string(),
            next_seq: 1,
            prev_hash: GENESIS.to_string(),
        }
    }

    /// For the rest of a ledger after a record already trusted (`seq`, `hash`).
    pub fn resume(site: &str, seq: u64, hash: &str) -> ChainVerifier {
        ChainVerifier {
            site: site.to_string(),
            next_seq: seq + 1,
            prev_hash: hash.to_string(),
        }
    }

    /// Checks the next record; on success it becomes the head.
    pub fn push(&mut self, record: &ConsentRecord) -> Result<(), Broken> {
        let seq = record.seq;
        if record.site != self.site {
            return Err(Broken::Site {
                seq,
                expected: self.site.clone(),
                found: record.site.clone(),
            });
        }
        if seq != self.next_seq {
            return Err(Broken::Sequence {
                seq,
                expected: self.next_seq,
            });
        }
        record.verify_self()?;
        if record.prev_hash != self.prev_hash {
            return Err(Broken::Link { seq });
        }
        self.next_seq += 1;
        self.prev_hash.clone_from(&record.record_hash);
        Ok(())
    }

    /// The number of records verified so far.
    pub fn verified(&self) -> u64 {
        self.next_seq - 1
    }

    /// The hash of the last verified record ([`GENESIS`] before the first).
    pub fn head(&self) -> &str {
        &self.prev_hash
    }
}

impl CanonicalError {
    fn from_serde(e: &serde_json::Error) -> CanonicalError {
        CanonicalError::new(e.to_string())
    }
}

/// A signed statement of a ledger's head: "site S had `seq` records and the last
/// one's hash was `head_hash`". Whoever keeps a checkpoint can later detect any
/// rewrite of the history it covers. The signature is Ed25519 over the JCS form of
/// the checkpoint without `signature`, by the key `key_id` names (`GET /v1/keys`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    pub site: String,
    pub seq: u64,
    pub head_hash: String,
    pub signed_at: String,
    pub key_id: String,
    /// base64url, filled in by signing.
    #[serde(default)]
    pub signature: String,
}

impl Checkpoint {
    /// The bytes the signature covers: JCS of the checkpoint without `signature`.
    pub fn signed_bytes(&self) -> Result<Vec<u8>, CanonicalError> {
        let mut value = serde_json::to_value(self).map_err(|e| CanonicalError::from_serde(&e))?;
        if let Some(obj) = value.as_object_mut() {
            obj.remove("signature");
        }
        Ok(canonical::value_to_canonical_json(&value)?.into_bytes())
    }
}
