//! A site's own user ids (subjects): linking them to consent IDs, access and
//! export (Art. 15/20 GDPR), and erasure (Art. 17). Ids are kept only as keyed
//! hashes; erasure drops the personal content of every linked record and keeps
//! the hashes, so the chain still verifies.

use keksdose_shared::ConsentRecord;
use keksdose_store::{Change, SiteMeta, Store};
use serde::Serialize;
use utoipa::ToSchema;

use super::{Error, Result};
use crate::pseudonym::Pseudonymiser;

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

/// `DELETE /v1/admin/sites/{site}/subjects/{subject}`
#[derive(Debug, Serialize, ToSchema)]
pub struct Erasure {
    pub site: String,
    pub consents: Vec<String>,
    pub erased_records: usize,
}

/// What a site user id must be.
pub const SUBJECT_RULE: &str = "subject: expected 1 to 256 characters";

/// Whether `subject` is a site user id Keksdose takes.
pub fn is_subject(subject: &str) -> bool {
    (1..=256).contains(&subject.len())
}

/// The keyed hash of a site user id (given in a path: a malformed one is a 400).
pub fn subject_hash(site: &SiteMeta, subject: &str) -> Result<String> {
    if !is_subject(subject) {
        return Err(Error::bad_request(SUBJECT_RULE));
    }
    Ok(Pseudonymiser::new(&site.secret).subject(subject))
}

/// Links a consent ID of the site to a subject; the subject's consent IDs after.
pub async fn link<S: Store>(
    store: &S,
    site: &SiteMeta,
    subject: &str,
    consent_id: String,
) -> Result<Vec<String>> {
    let hash = subject_hash(site, subject)?;
    if store.consent_site(&consent_id).await?.as_deref() != Some(site.id.as_str()) {
        return Err(Error::invalid(format!(
            "consent_id: {consent_id:?} is not a consent ID of this site"
        )));
    }
    store
        .change(vec![Change::Link {
            site: site.id.clone(),
            subject_hash: hash.clone(),
            consent_id,
        }])
        .await?;
    Ok(store.subject(&site.id, &hash).await?)
}

/// Every consent of the subject with all its records.
pub async fn access<S: Store>(store: &S, site: &SiteMeta, subject: &str) -> Result<SubjectAccess> {
    let hash = subject_hash(site, subject)?;
    let mut consents = Vec::new();
    for id in store.subject(&site.id, &hash).await? {
        let records = store.consent(&site.id, &id).await?;
        consents.push(SubjectConsent {
            consent_id: id,
            records,
        });
    }
    Ok(SubjectAccess {
        site: site.id.clone(),
        consents,
    })
}

/// Erasure: the personal content of every linked record is dropped (hashes
/// kept) and the links removed, in one durable change.
pub async fn erase<S: Store>(store: &S, site: &SiteMeta, subject: &str) -> Result<Erasure> {
    let hash = subject_hash(site, subject)?;
    let ids = store.subject(&site.id, &hash).await?;
    let mut changes = Vec::new();
    for id in &ids {
        for r in store.consent(&site.id, id).await? {
            if r.personal.is_some() {
                changes.push(Change::Erase {
                    site: site.id.clone(),
                    seq: r.seq,
                });
            }
        }
    }
    let erased = changes.len();
    changes.push(Change::Unlink {
        site: site.id.clone(),
        subject_hash: hash,
    });
    store.change(changes).await?;
    Ok(Erasure {
        site: site.id.clone(),
        consents: ids,
        erased_records: erased,
    })
}

/// Whether a subject's consents were given under the privacy policy in force:
/// what a site's backend asks at a sign-in, to show its notice of a material
/// change (a new `policy_version` or a raised `consent.revision`) to those who
/// agreed to an older one.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Renewal {
    pub site: String,
    /// The policy in force: the current config's `policy_version` and
    /// `consent.revision`.
    pub policy_version: String,
    pub revision: u32,
    /// True when the subject's newest decision was made under an older policy
    /// version or revision, or the subject has none: show the notice.
    pub predates_current_policy: bool,
    /// Each consent of the subject, newest decision first.
    pub consents: Vec<RenewalConsent>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RenewalConsent {
    pub consent_id: String,
    /// The time of its latest record.
    pub decided_at: String,
    pub config_version: String,
    pub policy_version: String,
    pub revision: u32,
    pub predates_current_policy: bool,
}

/// [`Renewal`] of a subject against `current`, the config in force.
pub async fn renewal<S: Store>(
    store: &S,
    site: &SiteMeta,
    current: &keksdose_shared::SiteConfig,
    subject: &str,
) -> Result<Renewal> {
    let hash = subject_hash(site, subject)?;
    let mut consents = Vec::new();
    for id in store.subject(&site.id, &hash).await? {
        // The user's own last decision: an operator's withdrawal on their
        // behalf is not their agreement to a policy.
        let Some(last) = store
            .consent(&site.id, &id)
            .await?
            .into_iter()
            .rev()
            .find(|r| r.source != keksdose_shared::record::Source::Operator)
        else {
            continue;
        };
        let (policy_version, revision) = match store.config(&site.id, &last.config_version).await? {
            Some(c) => (c.site.policy_version, c.consent.revision),
            None => (String::new(), 0),
        };
        consents.push(RenewalConsent {
            predates_current_policy: policy_version != current.site.policy_version
                || revision < current.consent.revision,
            consent_id: id,
            decided_at: last.received_at,
            config_version: last.config_version,
            policy_version,
            revision,
        });
    }
    consents.sort_by(|a, b| b.decided_at.cmp(&a.decided_at));
    Ok(Renewal {
        site: site.id.clone(),
        policy_version: current.site.policy_version.clone(),
        revision: current.consent.revision,
        predates_current_policy: consents.first().is_none_or(|c| c.predates_current_policy),
        consents,
    })
}
