//! The response bodies of the API as types: what handlers serialise and what the
//! OpenAPI document describes, so that the two cannot drift.

use std::collections::BTreeMap;

use keksdose_shared::{ConsentRecord, SiteConfig};
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
    /// With `?words=1` (loaders before `/loader` asked so): every word a visitor reads, per
    /// language the site offers, flat (`"texts.accept_all"`, `"units.month.one"`,
    /// `"legal_basis.consent"`…): the built-in ones (`shared/texts/<lang>.toml`)
    /// with the site's `texts` over them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub words: Option<std::collections::BTreeMap<String, keksdose_shared::texts::Words>>,
}

/// `GET /v1/consents/{consent_id}`: records without their personal part.
#[derive(Debug, Serialize, ToSchema)]
pub struct History {
    pub consent_id: String,
    pub site: String,
    pub records: Vec<ConsentRecord>,
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

/// `POST /v1/admin/sites/{site}/subjects/{subject}`
#[derive(Debug, Serialize, ToSchema)]
pub struct SubjectLinks {
    pub consents: Vec<String>,
}

pub use crate::service::proofs::{Proof, VerifyReport};
pub use crate::service::subjects::{Erasure, SubjectAccess};

/// `POST /v1/admin/sites/{site}/consents/{consent_id}/match`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Matches {
    pub consent_id: String,
    /// Every record of the consent, in order, compared with what was asked.
    pub records: Vec<crate::service::consents::RecordMatch>,
}
