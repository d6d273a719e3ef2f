//! When a stored decision no longer holds and the banner must ask again.
//!
//! A decision holds for the consent lifetime, and across config versions as long
//! as nothing that needs consent was added and the site did not raise
//! `consent.revision` (a change of policy or processing that needs new consent).
//! A text fix, a removed service or a new necessary service keeps it.

use crate::config::{NECESSARY, SiteConfig};
use crate::cookie::StoredDecision;

/// Why the visitor must be asked again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Renewal {
    /// The consent lifetime ran out.
    Expired,
    /// The site raised `consent.revision`.
    Revision { stored: u32, current: u32 },
    /// Categories or services that need consent and that the decision does not cover.
    NewIds(Vec<String>),
}

/// `None` when `stored` still holds for `config` at `now` (Unix seconds).
pub fn check(config: &SiteConfig, stored: &StoredDecision, now: u64) -> Option<Renewal> {
    if now
        >= stored
            .decided_at
            .saturating_add(config.consent_lifetime_secs())
    {
        return Some(Renewal::Expired);
    }
    if stored.revision < config.consent.revision {
        return Some(Renewal::Revision {
            stored: stored.revision,
            current: config.consent.revision,
        });
    }
    let covered = |id: &str| stored.granted.contains(id) || stored.denied.contains(id);
    let new: Vec<String> = config
        .categories()
        .iter()
        .map(|c| c.id.as_str())
        .filter(|id| *id != NECESSARY)
        .chain(
            config
                .services
                .iter()
                .filter(|s| s.category != NECESSARY)
                .map(|s| s.id.as_str()),
        )
        .filter(|id| !covered(id))
        .map(String::from)
        .collect();
    if new.is_empty() {
        None
    } else {
        Some(Renewal::NewIds(new))
    }
}
