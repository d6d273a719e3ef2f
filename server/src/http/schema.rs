//! The response bodies of the API as types: what handlers serialise and what the
//! OpenAPI document describes, so that the two cannot drift.

use std::collections::BTreeMap;

use keksdose_shared::{Checkpoint, ConsentRecord, SiteConfig};
use serde::Serialize;
use utoipa::ToSchema;

/// `GET /healthz`
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    pub status: &'static str,
}

/// `GET /.well-known/gpc.json`
#[derive(Debug, Serialize, ToSchema)]
pub struct Gpc {
    pub gpc: bool,
    #[serde(rename = "lastUpdate")]
    pub last_update: &'static str,
}

/// `GET /v1/sites/{site}/config`
#[derive(Debug, Serialize, ToSchema)]
pub struct PublishedConfig {
    pub site: String,
    /// base64url(SHA-256(JCS(config))); also the ETag.
    pub version: String,
    pub config: SiteConfig,
}

/// `GET /v1/consents/{consent_id}`: records without their personal part.
#[derive(Debug, Serialize, ToSchema)]
pub struct History {
    pub consent_id: String,
    pub site: String,
    pub records: Vec<ConsentRecord>,
}

/// One record of a proof with its check against the ledger around it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProofEntry {
    pub record: ConsentRecord,
    /// Its own hashes hold, it links to the record before it, and the record
    /// after it links to it.
    pub verified: bool,
    pub problem: Option<String>,
    /// `prev_hash` of the record after this one, if there is one.
    pub next_prev_hash: Option<String>,
}

/// `GET /v1/admin/sites/{site}/consents/{consent_id}/proof`
#[derive(Debug, Serialize, ToSchema)]
pub struct Proof {
    pub site: String,
    pub consent_id: String,
    pub verified: bool,
    pub records: Vec<ProofEntry>,
    /// Every config version the records name, by version: the exact texts,
    /// categories and services the visitor was shown.
    pub configs: BTreeMap<String, SiteConfig>,
    /// The first signed checkpoint at or after the latest record.
    pub checkpoint: Option<Checkpoint>,
    pub checkpoint_signature_valid: Option<bool>,
}

/// Where a chain broke.
#[derive(Debug, Serialize, ToSchema)]
pub struct BrokenLink {
    pub error: String,
    /// `{"kind": "record_hash" | "personal_hash" | "link" | "sequence" | "site" | "canonical", "seq": n, …}`
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
}

/// `GET /v1/admin/sites/{site}/verify`
#[derive(Debug, Serialize, ToSchema)]
pub struct VerifyReport {
    pub site: String,
    pub verified: bool,
    pub records: u64,
    pub checked: u64,
    pub head: Option<String>,
    pub first_broken: Option<BrokenLink>,
    pub checkpoint: Option<Checkpoint>,
    /// Whether the latest checkpoint's signature holds and the record it names
    /// still has the hash it signed.
    pub checkpoint_matches: Option<bool>,
}

/// A public key in JWK form.
#[derive(Debug, Serialize, ToSchema)]
pub struct Jwk {
    pub kid: String,
    pub kty: &'static str,
    pub crv: &'static str,
    pub alg: &'static str,
    #[serde(rename = "use")]
    pub use_: &'static str,
    /// The raw public key, base64url.
    pub x: String,
}

/// `GET /v1/keys`
#[derive(Debug, Serialize, ToSchema)]
pub struct Keys {
    pub keys: Vec<Jwk>,
}

/// `PUT /v1/admin/sites/{site}/config`
#[derive(Debug, Serialize, ToSchema)]
pub struct ConfigPublished {
    pub site: String,
    pub version: String,
    pub previous: String,
}

/// `GET /v1/admin/sites/{site}/consents` (format=json)
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchPage {
    pub site: String,
    pub records: Vec<ConsentRecord>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<u64>,
}

pub use keksdose_store::DayStats;

/// `GET /v1/admin/sites/{site}/stats`
#[derive(Debug, Serialize, ToSchema)]
pub struct Stats {
    pub site: String,
    pub from: String,
    pub to: Option<String>,
    /// By date (`YYYY-MM-DD`, UTC).
    pub days: BTreeMap<String, DayStats>,
}

/// One consent of a subject with all its records.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubjectConsent {
    pub consent_id: String,
    pub records: Vec<ConsentRecord>,
}

/// `GET /v1/admin/sites/{site}/subjects/{subject}`
#[derive(Debug, Serialize, ToSchema)]
pub struct SubjectAccess {
    pub site: String,
    pub consents: Vec<SubjectConsent>,
}

/// `POST /v1/admin/sites/{site}/subjects/{subject}`
#[derive(Debug, Serialize, ToSchema)]
pub struct SubjectLinks {
    pub consents: Vec<String>,
}

/// `DELETE /v1/admin/sites/{site}/subjects/{subject}`
#[derive(Debug, Serialize, ToSchema)]
pub struct Erasure {
    pub site: String,
    pub consents: Vec<String>,
    pub erased_records: usize,
}
