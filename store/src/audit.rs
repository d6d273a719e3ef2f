//! The operators' audit trail: every sign-in, publish, withdrawal, erasure,
//! export, key rotation and user change, with who did it, in one chain of its
//! own that is tamper-evident like the ledger: each entry names the hash of the
//! one before it and its own hash covers everything it says.
//!
//! The server writes an [`AuditEvent`] ([`crate::Change::Audit`]); the store
//! seals it ([`seal`]) where it serialises its writes (the embedded store's
//! writer thread; PostgreSQL under a transaction lock), so that no two entries
//! share a `seq` however many servers write. [`verify`] recomputes a chain.

use keksdose_shared::canonical::{canonical_sha256, hex};
use keksdose_shared::record::GENESIS;
use serde::{Deserialize, Serialize};

use crate::{Result, StoreError};

/// What happened, by whom, before the store gives it its place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AuditEvent {
    /// Who: `operator:<id>` (a console user's id, never a password), `api-key`
    /// (a machine with the site's key) or `cli` (a command on the server).
    pub actor: String,
    /// What: `sign_in`, `sign_in_refused`, `sign_out`, `publish`, `withdraw`,
    /// `erase`, `export`, `key_rotate`, `user_add`, `user_change`, `user_remove`,
    /// `password_change`.
    pub action: String,
    /// The site it concerns; none for what concerns an account only (a sign-in).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
    /// What it was done to: a consent ID, a config version, an operator's id,
    /// a subject's keyed hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// A few words more (an export's format and range, a role given).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

/// An event with its place in the trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AuditEntry {
    pub seq: u64,
    /// When the store sealed it (RFC 3339 UTC, milliseconds; never before the
    /// entry before it).
    pub at: String,
    #[serde(flatten)]
    pub event: AuditEvent,
    /// The hash of the entry before (64 zeros for the first).
    pub prev_hash: String,
    /// SHA-256 (hex) of the entry's canonical JSON (RFC 8785) without this field.
    pub hash: String,
}

impl AuditEntry {
    /// The hash this entry should carry.
    pub fn compute_hash(&self) -> Result<String> {
        let unsealed = AuditEntry {
            hash: String::new(),
            ..self.clone()
        };
        let mut value = serde_json::to_value(&unsealed)
            .map_err(|e| StoreError::Internal(format!("audit entry: {e}")))?;
        if let Some(o) = value.as_object_mut() {
            o.remove("hash");
        }
        canonical_sha256(&value)
            .map(|h| hex(&h))
            .map_err(|e| StoreError::Internal(format!("audit entry: {e}")))
    }
}

/// The trail's last entry as the store knows it: (seq, hash, time in ms).
pub type AuditHead = (u64, String, u64);

/// Gives `event` its place after `head`.
pub fn seal(head: Option<&AuditHead>, event: AuditEvent, now_ms: u64) -> Result<AuditEntry> {
    let (seq, prev_hash, last_ms) = match head {
        Some((seq, hash, at)) => (seq + 1, hash.clone(), *at),
        None => (1, GENESIS.to_string(), 0),
    };
    let mut entry = AuditEntry {
        seq,
        at: keksdose_shared::time::rfc3339_millis(now_ms.max(last_ms)),
        event,
        prev_hash,
        hash: String::new(),
    };
    entry.hash = entry.compute_hash()?;
    Ok(entry)
}

/// The head an entry makes.
pub fn head_of(entry: &AuditEntry) -> AuditHead {
    (
        entry.seq,
        entry.hash.clone(),
        keksdose_shared::time::parse_rfc3339(&entry.at).unwrap_or(0),
    )
}

/// Checks entries read in order from the trail's start (or from after an entry
/// already checked: `before`): each hash is its content's, each links to the
/// one before, seqs run without a gap. Returns the first broken seq, if any.
pub fn verify<'a>(
    before: Option<&AuditEntry>,
    entries: impl IntoIterator<Item = &'a AuditEntry>,
) -> Option<u64> {
    let (mut seq, mut hash) = match before {
        Some(e) => (e.seq, e.hash.clone()),
        None => (0, GENESIS.to_string()),
    };
    for e in entries {
        let ok =
            e.seq == seq + 1 && e.prev_hash == hash && e.compute_hash().is_ok_and(|h| h == e.hash);
        if !ok {
            return Some(e.seq);
        }
        seq = e.seq;
        hash.clone_from(&e.hash);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(action: &str) -> AuditEvent {
        AuditEvent {
            actor: "cli".into(),
            action: action.into(),
            site: Some("saas".into()),
            target: None,
            detail: String::new(),
        }
    }

    #[test]
    fn a_sealed_chain_verifies_and_any_change_breaks_it() {
        let a = seal(None, event("publish"), 10).unwrap();
        let b = seal(Some(&head_of(&a)), event("export"), 5).unwrap();
        assert_eq!(b.seq, 2);
        assert_eq!(b.prev_hash, a.hash);
        assert_eq!(b.at, a.at, "time never runs backwards");
        assert_eq!(verify(None, [&a, &b]), None);
        let mut forged = b.clone();
        forged.event.actor = "operator:x".into();
        assert_eq!(verify(None, [&a, &forged]), Some(2));
        assert_eq!(verify(None, [&b]), Some(2), "a gap at the start");
        assert_eq!(verify(Some(&a), [&b]), None);
    }
}
