//! The append rules every backend shares: where a draft goes in its site's
//! chain (sealing), what a retried idempotency key gets back, and the subject
//! link a record brings with it.
//!
//! A backend serialises the appends of each ledger (the embedded store has one
//! writer thread; a database locks the site's head row) and hands each group
//! commit to one [`Batch`]. The batch tracks the heads as its records move them
//! and the idempotency keys it has placed, so that a key used twice in one
//! commit yields one record. Only once the backend has made the batch durable
//! does it take the new heads ([`Batch::into_heads`]); a batch that fails is
//! dropped, and the heads stay where they were.

use std::collections::HashMap;

use keksdose_shared::ConsentRecord;
use keksdose_shared::record::{FORMAT, GENESIS};

use crate::{Change, Draft, Head, Result, StoreError};

/// Gives a draft its place after `head` (the ledger's first record without
/// one): `seq` one more, `prev_hash` the head's hash, and a time that never
/// runs backwards within a ledger, whatever the clock does.
pub fn seal(site: &str, head: Option<&Head>, draft: Draft, now_ms: u64) -> Result<ConsentRecord> {
    let (seq, prev_hash, last_ms) = match head {
        Some(h) => (h.seq + 1, h.hash.clone(), h.at_ms),
        None => (1, GENESIS.to_string(), 0),
    };
    let at_ms = now_ms.max(last_ms);
    ConsentRecord {
        format: FORMAT,
        site: site.to_string(),
        seq,
        consent_id: draft.consent_id,
        received_at: keksdose_shared::time::rfc3339_millis(at_ms),
        action: draft.action,
        source: draft.source,
        config_version: draft.config_version,
        choices: draft.choices,
        purposes: draft.purposes,
        language: draft.language,
        signals: draft.signals,
        personal_hash: String::new(),
        personal: Some(draft.personal),
        prev_hash,
        record_hash: String::new(),
    }
    .seal()
    .map_err(|e| StoreError::Internal(format!("sealing a record: {e}")))
}

/// What one draft became.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Appended {
    /// Its idempotency key was used in a commit before this batch: the record it
    /// made then, durable already (a backend may answer it at once).
    Known(ConsentRecord),
    /// Its idempotency key was used earlier in this batch: that record, durable
    /// only with the batch.
    Existing(ConsentRecord),
    /// A new record, to be written with its idempotency key and, when its draft
    /// named a subject, the link that makes it findable by that subject from
    /// the moment it exists (access and erasure).
    New {
        record: ConsentRecord,
        idempotency_key: Option<String>,
        link: Option<Change>,
    },
}

impl Appended {
    /// The record the caller is answered with.
    pub fn record(&self) -> &ConsentRecord {
        match self {
            Appended::Known(r) | Appended::Existing(r) | Appended::New { record: r, .. } => r,
        }
    }
}

/// The appends of one group commit.
#[derive(Debug, Default)]
pub struct Batch {
    /// Heads this batch moved, by site.
    heads: HashMap<String, Head>,
    /// Idempotency keys placed in this batch, by (site, key).
    keys: HashMap<(String, String), ConsentRecord>,
}

impl Batch {
    pub fn new() -> Batch {
        Batch::default()
    }

    /// Places one draft of `site`. `head` is the ledger's head before this batch
    /// (asked only if the batch has not moved it yet); `known` looks a key up
    /// among the records committed before this batch.
    pub fn place(
        &mut self,
        site: &str,
        draft: Draft,
        head: impl FnOnce() -> Result<Option<Head>>,
        known: impl FnOnce(&str) -> Result<Option<ConsentRecord>>,
        now_ms: u64,
    ) -> Result<Appended> {
        if let Some(k) = &draft.idempotency_key {
            if let Some(r) = self.keys.get(&(site.to_string(), k.clone())) {
                return Ok(Appended::Existing(r.clone()));
            }
            if let Some(r) = known(k)? {
                return Ok(Appended::Known(r));
            }
        }
        let before = match self.heads.get(site) {
            Some(h) => Some(h.clone()),
            None => head()?,
        };
        let key = draft.idempotency_key.clone();
        let record = seal(site, before.as_ref(), draft, now_ms)?;
        self.heads.insert(site.to_string(), Head::of(&record));
        if let Some(k) = &key {
            self.keys
                .insert((site.to_string(), k.clone()), record.clone());
        }
        let link = record
            .personal
            .as_ref()
            .and_then(|p| p.subject_hash.clone())
            .map(|subject_hash| Change::Link {
                site: site.to_string(),
                subject_hash,
                consent_id: record.consent_id.clone(),
            });
        Ok(Appended::New {
            record,
            idempotency_key: key,
            link,
        })
    }

    /// The heads this batch moved, for the backend to keep once the batch is durable.
    pub fn into_heads(self) -> HashMap<String, Head> {
        self.heads
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use keksdose_shared::record::{ChainVerifier, Source};
    use keksdose_shared::{Action, Choices, Personal};

    use super::*;

    fn draft(key: Option<&str>, subject: Option<&str>) -> Draft {
        Draft {
            consent_id: "c".into(),
            action: Action::AcceptAll,
            source: Source::Banner,
            config_version: "v".into(),
            choices: Choices::default(),
            purposes: BTreeMap::new(),
            language: "de".into(),
            signals: Default::default(),
            personal: Personal {
                salt: "s".into(),
                address_hash: None,
                page: None,
                ip_hash: None,
                ua_hash: None,
                subject_hash: subject.map(String::from),
            },
            idempotency_key: key.map(String::from),
        }
    }

    #[test]
    fn a_batch_chains_its_records_and_keeps_time_from_running_backwards() {
        let mut batch = Batch::new();
        let first = batch
            .place("a", draft(None, None), || Ok(None), |_| Ok(None), 5_000)
            .unwrap();
        // The clock went back: the record keeps its predecessor's time.
        let second = batch
            .place(
                "a",
                draft(None, None),
                || panic!("the batch knows the head"),
                |_| Ok(None),
                1_000,
            )
            .unwrap();
        let (first, second) = (first.record().clone(), second.record().clone());
        assert_eq!((first.seq, second.seq), (1, 2));
        assert_eq!(second.received_at, first.received_at);
        let mut v = ChainVerifier::new("a");
        v.push(&first).unwrap();
        v.push(&second).unwrap();
        assert_eq!(batch.into_heads()["a"], Head::of(&second));
    }

    #[test]
    fn a_key_yields_one_record_within_a_batch_and_after_it() {
        let mut batch = Batch::new();
        let head = Head {
            seq: 7,
            hash: "ab".repeat(32),
            at_ms: 0,
        };
        let a = batch
            .place(
                "a",
                draft(Some("k"), None),
                || Ok(Some(head.clone())),
                |_| Ok(None),
                1,
            )
            .unwrap();
        assert_eq!(a.record().seq, 8);
        let again = batch
            .place("a", draft(Some("k"), None), || Ok(None), |_| Ok(None), 2)
            .unwrap();
        assert_eq!(again, Appended::Existing(a.record().clone()));
        // Another site's key is another key.
        let b = batch
            .place("b", draft(Some("k"), None), || Ok(None), |_| Ok(None), 3)
            .unwrap();
        assert!(matches!(b, Appended::New { .. }));
        // A key committed before the batch.
        let old = a.record().clone();
        let known = Batch::new()
            .place(
                "a",
                draft(Some("k2"), None),
                || panic!("a retry needs no head"),
                |k| Ok((k == "k2").then(|| old.clone())),
                4,
            )
            .unwrap();
        assert_eq!(known, Appended::Known(old));
    }

    #[test]
    fn a_record_with_a_subject_brings_its_link() {
        let placed = Batch::new()
            .place("a", draft(None, Some("h")), || Ok(None), |_| Ok(None), 1)
            .unwrap();
        let Appended::New { link, .. } = placed else {
            panic!("new record expected");
        };
        assert_eq!(
            link,
            Some(Change::Link {
                site: "a".into(),
                subject_hash: "h".into(),
                consent_id: "c".into()
            })
        );
    }
}
