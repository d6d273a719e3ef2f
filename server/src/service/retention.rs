//! Retention: dropping the personal content of records older than a duration,
//! keeping every hash so the chains still verify.

use keksdose_shared::lifetime::Lifetime;
use keksdose_store::{Change, Selection, Store, now_ms};

use super::{Error, Result};

/// What a purge of one site did.
#[derive(Debug)]
pub struct Purged {
    pub site: String,
    /// Records whose personal content was dropped now.
    pub erased: usize,
    /// Records received before this time were purged (RFC 3339).
    pub cutoff: String,
}

/// The time before which records are purged, for a duration like "3y" or
/// "36mo" before now.
pub fn cutoff(older_than: &str) -> Result<u64> {
    let age = Lifetime::parse(older_than)
        .ok()
        .and_then(Lifetime::seconds)
        .ok_or_else(|| {
            Error::bad_request(format!(
                "expected a duration like \"3y\" or \"36mo\", got {older_than:?}"
            ))
        })?;
    Ok(now_ms().saturating_sub(age.saturating_mul(1000)))
}

/// Drops the personal content of every record of `sites` received before
/// `cutoff_ms` (see [`cutoff`]).
pub async fn purge<S: Store>(store: &S, sites: &[String], cutoff_ms: u64) -> Result<Vec<Purged>> {
    let before = Selection {
        to_ms: Some(cutoff_ms),
        ..Selection::default()
    };
    let cutoff = keksdose_shared::time::rfc3339_millis(cutoff_ms);
    let mut done = Vec::new();
    for site in sites {
        let mut erase = Vec::new();
        let mut after = 0;
        loop {
            let page = store.select(site, &before, after, 1000).await?;
            let Some(last) = page.last() else { break };
            after = last.seq;
            erase.extend(
                page.iter()
                    .filter(|r| r.personal.is_some())
                    .map(|r| Change::Erase {
                        site: site.clone(),
                        seq: r.seq,
                    }),
            );
        }
        let erased = erase.len();
        store.change(erase).await?;
        done.push(Purged {
            site: site.clone(),
            erased,
            cutoff: cutoff.clone(),
        });
    }
    Ok(done)
}

// ------------------------------------------------------------ retention rules

use std::collections::{BTreeMap, HashMap};

use keksdose_shared::config::{ProofRetention, RetentionEvent, SiteConfig};
use keksdose_shared::record::{PurposeState, Source};
use keksdose_shared::{Action, ConsentRecord};
use keksdose_store::SiteMeta;

/// What applying a site's retention rules did.
#[derive(Debug, Default, serde::Serialize, utoipa::ToSchema)]
pub struct Applied {
    pub site: String,
    /// The time the rules were applied at (RFC 3339).
    pub at: String,
    /// Consent IDs whose proof aged out now.
    pub consents: usize,
    /// Records whose personal content was dropped now.
    pub erased: usize,
    /// Consent IDs still in force, which keep their proof whatever their age.
    pub in_force: usize,
}

/// What a consent's records say, as the rules need it.
#[derive(Default)]
struct Consent {
    /// Records that still hold personal content.
    personal: Vec<u64>,
    /// A record's time did not parse: the consent is left alone.
    unreadable: bool,
    last_ms: u64,
    /// The last banner decision (or operator withdrawal): action, time, config.
    decision: Option<(Action, u64, String)>,
    /// Each purpose's last state and its time.
    purposes: BTreeMap<String, (PurposeState, u64)>,
}

fn millis(rule: &ProofRetention) -> Option<u64> {
    Lifetime::parse(&rule.keep)
        .ok()
        .and_then(Lifetime::seconds)
        .map(|s| s.saturating_mul(1000))
}

/// The clock retention and the console's sessions run on: now, or in tests (debug builds only, so that a
/// stray variable can never move a release's clock) the time written in the
/// file `KEKSDOSE_TEST_CLOCK` names (RFC 3339), so that a test can let years
/// pass.
pub fn clock_ms() -> u64 {
    if !cfg!(debug_assertions) {
        return now_ms();
    }
    std::env::var_os("KEKSDOSE_TEST_CLOCK")
        .and_then(|path| std::fs::read_to_string(path).ok())
        .and_then(|text| keksdose_shared::time::parse_rfc3339(text.trim()))
        .unwrap_or_else(now_ms)
}

/// Applies the site's current config's retention rules at `now_ms`: the
/// personal content of every record of a consent whose proof has aged out is
/// dropped, its hashes kept (the chain still verifies).
///
/// - A banner decision follows `consent.proof_retention`, counted from its
///   expiry (its time plus the consent lifetime of the config it was made
///   under), its withdrawal, or its last record once it is no longer in force
///   (withdrawn or expired). A decision in force keeps its proof.
/// - A consent given through the backend (newsletter, calendar sync) follows
///   each of its purposes' `proof_retention`, counted from the withdrawal (or
///   refusal) of the purpose or from the consent's last record; it ages out only
///   once every purpose it holds has, and a purpose granted or awaiting its
///   confirmation keeps it, as does a purpose without a rule.
pub async fn apply<S: Store>(
    store: &S,
    site: &SiteMeta,
    config: &SiteConfig,
    now_ms: u64,
) -> Result<Applied> {
    let mut applied = Applied {
        site: site.id.clone(),
        at: keksdose_shared::time::rfc3339_millis(now_ms),
        ..Applied::default()
    };
    let banner_rule = config.consent.proof_retention.as_ref();
    let purpose_rules: HashMap<&str, &ProofRetention> = config
        .purposes
        .iter()
        .filter_map(|p| Some((p.id.as_str(), p.proof_retention.as_ref()?)))
        .collect();
    if banner_rule.is_none() && purpose_rules.is_empty() {
        return Ok(applied);
    }
    let mut consents: HashMap<String, Consent> = HashMap::new();
    let mut after = 0;
    loop {
        let page = store
            .select(&site.id, &Selection::default(), after, 1000)
            .await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        for r in &page {
            note(consents.entry(r.consent_id.clone()).or_default(), r);
        }
    }
    // The consent lifetime of each config version a decision names.
    let mut lifetimes: HashMap<String, u64> = HashMap::new();
    let mut erase = Vec::new();
    for consent in consents.values() {
        if consent.unreadable {
            // A record whose time does not parse: never guess its age.
            applied.in_force += 1;
            continue;
        }
        // A consent can hold a banner decision and purposes (a backend consent
        // recorded under a banner's consent ID): each part ages by its own rule,
        // and the consent only once every part has; a part in force keeps it.
        let mut parts: Vec<(bool, bool)> = Vec::new(); // (aged, in force)
        if let Some((action, at, version)) = &consent.decision {
            let lifetime = match lifetimes.get(version) {
                Some(l) => *l,
                None => {
                    let l = store
                        .config(&site.id, version)
                        .await?
                        .map_or(config.consent_lifetime_secs(), |c| {
                            c.consent_lifetime_secs()
                        })
                        .saturating_mul(1000);
                    lifetimes.insert(version.clone(), l);
                    l
                }
            };
            let withdrawn = *action == Action::Withdraw;
            let expires = at.saturating_add(lifetime);
            let in_force = !withdrawn && now_ms < expires;
            let aged = banner_rule.is_some_and(|rule| {
                let from = match rule.after {
                    RetentionEvent::Expiry => Some(expires),
                    RetentionEvent::Withdrawal => withdrawn.then_some(*at),
                    RetentionEvent::LastRecord => (!in_force).then_some(consent.last_ms),
                };
                match (from, millis(rule)) {
                    (Some(from), Some(keep)) => !in_force && now_ms >= from.saturating_add(keep),
                    _ => false,
                }
            });
            parts.push((aged, in_force));
        }
        for (purpose, (state, at)) in &consent.purposes {
            let ended = matches!(state, PurposeState::Withdrawn | PurposeState::Refused);
            let aged = purpose_rules.get(purpose.as_str()).is_some_and(|rule| {
                let from = match rule.after {
                    RetentionEvent::Withdrawal => *at,
                    RetentionEvent::LastRecord | RetentionEvent::Expiry => consent.last_ms,
                };
                ended && millis(rule).is_some_and(|keep| now_ms >= from.saturating_add(keep))
            });
            parts.push((aged, !ended));
        }
        if parts.iter().any(|(_, in_force)| *in_force) {
            applied.in_force += 1;
        }
        let aged = (!parts.is_empty() && parts.iter().all(|(aged, _)| *aged)).then_some(true);
        if aged == Some(true) && !consent.personal.is_empty() {
            applied.consents += 1;
            erase.extend(consent.personal.iter().map(|&seq| Change::Erase {
                site: site.id.clone(),
                seq,
            }));
        }
    }
    erase.sort_by_key(|c| match c {
        Change::Erase { seq, .. } => *seq,
        _ => 0,
    });
    applied.erased = erase.len();
    for chunk in erase.chunks(1000) {
        store.change(chunk.to_vec()).await?;
    }
    Ok(applied)
}

fn note(consent: &mut Consent, r: &ConsentRecord) {
    let Some(at) = keksdose_shared::time::parse_rfc3339(&r.received_at) else {
        consent.unreadable = true;
        return;
    };
    consent.last_ms = consent.last_ms.max(at);
    if r.personal.is_some() {
        consent.personal.push(r.seq);
    }
    match r.source {
        Source::Banner => {
            consent.decision = Some((r.action, at, r.config_version.clone()));
        }
        // An operator's withdrawal on the visitor's behalf ends a banner
        // decision and every purpose alike.
        Source::Operator => {
            if consent.decision.is_some() {
                consent.decision = Some((r.action, at, r.config_version.clone()));
            }
        }
        Source::Backend => {}
    }
    for (purpose, state) in &r.purposes {
        consent.purposes.insert(purpose.clone(), (*state, at));
    }
}
