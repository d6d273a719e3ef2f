//! Decisions: what a visitor chose, and how a choice resolves against a config
//! into a full yes/no for every category and every service.
//!
//! Nothing is pre-ticked: in a `custom` decision every category and service the
//! visitor did not switch on is off. A category counts as allowed only when every
//! one of its services is, so that `data-consent="analytics"` never runs code the
//! visitor refused for one analytics service.
//!
//! A stored decision is read back into a `custom` decision by one rule
//! ([`Decision::restate`]): the banner's switches when the settings reopen, the
//! loader's "Immer erlauben" ([`Decision::allowing`]) and a pending decision sent
//! again ([`Decision::resend`]). The loader (`static/k-banner.js`) implements these and
//! [`Decision::resolve`] too, held to this code by `shared/vectors/choices.json`;
//! the banner starts its switches over its view of the config by the same rule
//! (`widget/src/state.rs`, held to [`Decision::restate`] by a test there).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::{NECESSARY, SiteConfig, ValidationError, ValidationErrors};
use crate::cookie::StoredDecision;

/// What the visitor did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// "Alle akzeptieren".
    AcceptAll,
    /// "Nur Notwendige" as a first decision.
    RejectAll,
    /// "Auswahl speichern" with categories and services chosen one by one.
    Custom,
    /// Consent taken back: only necessary services stay allowed.
    Withdraw,
}

impl Action {
    pub const ALL: [Action; 4] = [
        Action::AcceptAll,
        Action::RejectAll,
        Action::Custom,
        Action::Withdraw,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::AcceptAll => "accept_all",
            Action::RejectAll => "reject_all",
            Action::Custom => "custom",
            Action::Withdraw => "withdraw",
        }
    }

    /// One letter, for the cookie.
    pub fn code(self) -> char {
        match self {
            Action::AcceptAll => 'a',
            Action::RejectAll => 'r',
            Action::Custom => 'c',
            Action::Withdraw => 'w',
        }
    }

    pub fn from_code(c: char) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.code() == c)
    }
}

/// For every category and service of a config, whether it is allowed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Choices {
    pub categories: BTreeMap<String, bool>,
    pub services: BTreeMap<String, bool>,
}

impl Choices {
    /// Whether a service or a category is allowed (`data-consent` takes either).
    /// An id the decision does not cover is not allowed.
    pub fn allowed(&self, id: &str) -> bool {
        self.services
            .get(id)
            .or_else(|| self.categories.get(id))
            .copied()
            .unwrap_or(false)
    }

    /// Every id, category or service, with its value.
    pub fn iter(&self) -> impl Iterator<Item = (&str, bool)> {
        self.categories
            .iter()
            .chain(&self.services)
            .map(|(k, v)| (k.as_str(), *v))
    }
}

/// Signals the browser sent with the decision.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Signals {
    /// `navigator.globalPrivacyControl`.
    pub gpc: bool,
    /// `navigator.doNotTrack == "1"`.
    pub dnt: bool,
}

/// A visitor's decision as the banner sends it, before it is resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Decision {
    pub action: Action,
    /// For `custom`: the categories switched on or off.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub categories: BTreeMap<String, bool>,
    /// For `custom`: services switched on or off one by one (they win over their
    /// category's switch).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub services: BTreeMap<String, bool>,
}

impl Decision {
    pub fn new(action: Action) -> Decision {
        Decision {
            action,
            categories: BTreeMap::new(),
            services: BTreeMap::new(),
        }
    }

    /// `stored` read against `config` as a `custom` decision that switches every
    /// category and service: a service is on when `stored` explicitly allowed it
    /// (a service the stored decision does not name, e.g. one added to a category
    /// the visitor allowed, stays off: nothing is pre-ticked); a category is on
    /// when all of its services are, as [`resolve`](Self::resolve) counts it;
    /// necessary ones are always on. Without a stored decision, only the
    /// necessary ones are on. Resolving it gives back `stored`'s choices for the
    /// config `stored` was made on.
    pub fn restate(config: &SiteConfig, stored: Option<&StoredDecision>) -> Decision {
        Decision::switches(config, |id| stored.is_some_and(|s| s.allowed(id)))
    }

    /// "Immer erlauben" on a two-click placeholder: the stored decision (if any)
    /// restated, with service `service` switched on as well.
    pub fn allowing(
        config: &SiteConfig,
        stored: Option<&StoredDecision>,
        service: &str,
    ) -> Decision {
        Decision::switches(config, |id| {
            id == service || stored.is_some_and(|s| s.allowed(id))
        })
    }

    /// The `custom` decision with every service of `config` switched as
    /// `allowed` says and every category on when all of its services are.
    fn switches(config: &SiteConfig, allowed: impl Fn(&str) -> bool) -> Decision {
        let mut d = Decision::new(Action::Custom);
        // Filled by `insert`, not `collect`: every `collect` into a BTreeMap
        // brings its own sort into the banner's WASM (issue 6).
        for s in &config.services {
            let on = s.category == NECESSARY || allowed(&s.id);
            d.services.insert(s.id.clone(), on);
        }
        for c in config.categories() {
            let on = {
                let mut services = config.services_in(&c.id).peekable();
                c.id == NECESSARY
                    || if services.peek().is_none() {
                        allowed(&c.id)
                    } else {
                        services.all(|s| d.services.get(&s.id).copied().unwrap_or(false))
                    }
            };
            d.categories.insert(c.id, on);
        }
        d
    }

    /// A decision left pending by an earlier page, to be sent again (with the
    /// same idempotency key and `stored`'s config version): `accept_all`,
    /// `reject_all` and `withdraw` as they are; `custom` with every category and
    /// service of `config` (the config the loader has now) that `stored` covers,
    /// switched as `stored` has it. `config` may be newer than the version
    /// `stored` was made on (a decision holds across versions,
    /// [`crate::renewal`]): an id only the newer one has (a necessary service) is
    /// left out instead of named to a version that does not know it, and one
    /// only the older has resolves by its category's switch, which `stored`
    /// has on only if it allowed every service of that category.
    pub fn resend(config: &SiteConfig, stored: &StoredDecision) -> Decision {
        let mut d = Decision::new(stored.action);
        if stored.action != Action::Custom {
            return d;
        }
        let covered = |id: &str| stored.granted.contains(id) || stored.denied.contains(id);
        for c in config.categories() {
            if covered(&c.id) {
                let on = stored.allowed(&c.id);
                d.categories.insert(c.id, on);
            }
        }
        for s in &config.services {
            if covered(&s.id) {
                d.services.insert(s.id.clone(), stored.allowed(&s.id));
            }
        }
        d
    }

    /// Resolves the decision against `config`: every category and service gets a
    /// value. Refuses unknown ids, a refused necessary category or service, and
    /// choices that contradict a non-custom action.
    pub fn resolve(&self, config: &SiteConfig) -> Result<Choices, ValidationErrors> {
        let mut errors = Vec::new();
        let mut err =
            |path: String, message: String| errors.push(ValidationError { path, message });
        let categories = config.categories();

        for (id, on) in &self.categories {
            if !categories.iter().any(|c| &c.id == id) {
                err(
                    format!("categories.{id}"),
                    format!("unknown category {id:?} in this config version"),
                );
            } else if id == NECESSARY && !on {
                err(
                    format!("categories.{id}"),
                    "necessary services cannot be refused".into(),
                );
            }
        }
        for (id, on) in &self.services {
            match config.service(id) {
                None => err(
                    format!("services.{id}"),
                    format!("unknown service {id:?} in this config version"),
                ),
                Some(s) if s.category == NECESSARY && !on => err(
                    format!("services.{id}"),
                    "necessary services cannot be refused".into(),
                ),
                Some(_) => {}
            }
        }

        let fixed = match self.action {
            Action::AcceptAll => Some(true),
            Action::RejectAll | Action::Withdraw => Some(false),
            Action::Custom => None,
        };
        let mut choices = Choices::default();
        for s in &config.services {
            let on = s.category == NECESSARY
                || match fixed {
                    Some(all) => all,
                    None => self
                        .services
                        .get(&s.id)
                        .or_else(|| self.categories.get(&s.category))
                        .copied()
                        .unwrap_or(false),
                };
            choices.services.insert(s.id.clone(), on);
        }
        for c in &categories {
            let mut services = config.services_in(&c.id).peekable();
            let on = c.id == NECESSARY
                || if services.peek().is_none() {
                    fixed.unwrap_or_else(|| self.categories.get(&c.id).copied().unwrap_or(false))
                } else {
                    services.all(|s| choices.services.get(&s.id).copied().unwrap_or(false))
                };
            choices.categories.insert(c.id.clone(), on);
        }

        if let Some(all) = fixed {
            for (kind, given) in [
                ("categories", &self.categories),
                ("services", &self.services),
            ] {
                for (id, on) in given {
                    if *on != all && choices.allowed(id) != *on {
                        err(
                            format!("{kind}.{id}"),
                            format!(
                                "contradicts action {:?}; send action \"custom\" to choose one by one",
                                self.action.as_str()
                            ),
                        );
                    }
                }
            }
        }

        if errors.is_empty() {
            Ok(choices)
        } else {
            Err(ValidationErrors(errors))
        }
    }
}
