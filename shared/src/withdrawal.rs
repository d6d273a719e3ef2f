//! Taking consent back: when "Nur Notwendige" records a withdrawal instead of a
//! rejection, and what a new decision takes away from the one before it, which
//! the loader turns into the site's opt-out hooks, deleted cookies and, where
//! the site asks for it, a reload.
//!
//! The banner (the rule of [`reject_action`] over its view of the config, in
//! `widget/src/state.rs`, held to it by a test there) and the loader
//! (`static/k-banner.js`, all of it) apply these rules; the loader is held to this code
//! by `shared/vectors/withdrawal.json`. Nothing here looks at the page: which
//! blocked scripts already ran is the loader's to say ([`needs_reload`]'s `ran`).

use std::collections::BTreeSet;

use crate::config::{NECESSARY, SiteConfig};
use crate::cookie::StoredDecision;
use crate::decision::Action;

/// What "Nur Notwendige" records after `stored`: a withdrawal when the visitor
/// has a consent ID (the ledger acknowledged a decision) and allowed something
/// beyond the necessary, else a plain rejection. A decision never acknowledged
/// has nothing in the ledger to withdraw.
pub fn reject_action(config: &SiteConfig, stored: Option<&StoredDecision>) -> Action {
    let necessary = |id: &str| id == NECESSARY || config.services_in(NECESSARY).any(|s| s.id == id);
    let withdraws =
        stored.is_some_and(|s| s.consent_id.is_some() && s.granted.iter().any(|id| !necessary(id)));
    if withdraws {
        Action::Withdraw
    } else {
        Action::RejectAll
    }
}

/// The ids allowed by one decision and no longer by the next, split into the
/// config's categories and everything else (services, and ids the config no
/// longer has). Each list is sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Withdrawn {
    pub services: Vec<String>,
    pub categories: Vec<String>,
}

impl Withdrawn {
    /// What `after` no longer allows of what `before` allowed; `config` is the
    /// one `after` was made on.
    pub fn between(config: &SiteConfig, before: &StoredDecision, after: &StoredDecision) -> Self {
        let categories: BTreeSet<String> = config.categories().into_iter().map(|c| c.id).collect();
        let mut out = Withdrawn::default();
        for id in before.granted.iter().filter(|id| !after.allowed(id)) {
            if categories.contains(id) {
                out.categories.push(id.clone());
            } else {
                out.services.push(id.clone());
            }
        }
        out
    }

    pub fn is_empty(&self) -> bool {
        self.services.is_empty() && self.categories.is_empty()
    }

    /// Whether `id` is one of them.
    pub fn contains(&self, id: &str) -> bool {
        self.services
            .iter()
            .chain(&self.categories)
            .any(|w| w == id)
    }
}

/// The services whose cookies and storage entries the loader deletes after
/// `after`: every service of `config` it does not allow, in config order.
pub fn refused_services<'a>(config: &'a SiteConfig, after: &StoredDecision) -> Vec<&'a str> {
    config
        .services
        .iter()
        .filter(|s| !after.allowed(&s.id))
        .map(|s| s.id.as_str())
        .collect()
}

/// Whether the page must reload after `withdrawn` so that code which already
/// runs stops: only when the site asks for it (`consent.reload_on_withdraw`),
/// and only when a blocked script ran (`ran`: the `data-consent` ids of the
/// scripts the loader ran on this page) for a withdrawn id or for a service of
/// a withdrawn category.
pub fn needs_reload(config: &SiteConfig, withdrawn: &Withdrawn, ran: &BTreeSet<String>) -> bool {
    config.consent.reload_on_withdraw
        && withdrawn
            .services
            .iter()
            .chain(&withdrawn.categories)
            .any(|id| ran.contains(id) || config.services_in(id).any(|s| ran.contains(&s.id)))
}
