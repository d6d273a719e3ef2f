//! The body of `POST /v1/sites/{site}/consents` and every check of it that needs
//! only the config version it names: the decision resolves, the language is one of
//! the config's, the idempotency key and the consent ID are tokens, a withdrawal
//! names what it withdraws, and the page is a bounded path.
//!
//! What it does not own: finding the config version (the server's store or its
//! cache) and whether a well-formed consent ID exists for the site (the store).
//! The server asks the store that one question where this module's order puts it,
//! after the idempotency key and before the page ([`ConsentProblem::Page`]).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::config::{SiteConfig, ValidationErrors};
use crate::decision::{Action, Choices, Decision, Signals};

/// The body of `POST /v1/sites/{site}/consents`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ConsentRequest {
    /// The visitor's existing consent ID, for an update or a withdrawal.
    #[serde(default)]
    pub consent_id: Option<String>,
    /// A key the banner chose for this decision; a retry with the same key
    /// returns the first receipt instead of recording twice.
    #[serde(default)]
    pub idempotency_key: Option<String>,
    /// The version of the config the visitor was shown.
    pub config_version: String,
    pub action: Action,
    #[serde(default)]
    pub categories: BTreeMap<String, bool>,
    #[serde(default)]
    pub services: BTreeMap<String, bool>,
    pub language: String,
    #[serde(default)]
    pub signals: Signals,
    /// The path of the page the decision was made on.
    #[serde(default)]
    pub page: Option<String>,
}

/// What a request that passed every check resolves to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedConsent {
    /// Every category and service of the config, allowed or not.
    pub choices: Choices,
    /// The page's path, without query or fragment.
    pub page: Option<String>,
}

/// One thing wrong with a request. [`ConsentRequest::check`] reports them in the
/// order its checks run, which is the order they are listed here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsentProblem {
    /// The decision does not resolve against the config (every problem with its path).
    Decision(ValidationErrors),
    /// The language is not one the config offers.
    Language {
        language: String,
        languages: Vec<String>,
    },
    /// The idempotency key is not a token.
    IdempotencyKey,
    /// The consent ID is not one of the site's: not a token (this module), or not
    /// in the store (the server).
    ConsentId { consent_id: String, site: String },
    /// A withdrawal without the consent ID it withdraws.
    WithdrawalWithoutConsentId,
    /// The page is not a bounded path.
    Page,
}

impl fmt::Display for ConsentProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConsentProblem::Decision(_) => {
                f.write_str("the decision does not fit the config version it names")
            }
            ConsentProblem::Language {
                language,
                languages,
            } => write!(
                f,
                "language: {language:?} is not one of the config's languages ({})",
                languages.join(", ")
            ),
            ConsentProblem::IdempotencyKey => {
                f.write_str("idempotency_key: expected 1 to 64 letters, digits, '-' or '_'")
            }
            ConsentProblem::ConsentId { consent_id, site } => write!(
                f,
                "consent_id: {consent_id:?} is not a consent ID of site {site:?}"
            ),
            ConsentProblem::WithdrawalWithoutConsentId => {
                f.write_str("consent_id: a withdrawal names the consent ID it withdraws")
            }
            ConsentProblem::Page => {
                f.write_str("page: expected a path like \"/preise\" of at most 512 characters")
            }
        }
    }
}

/// A consent ID or an idempotency key: 1 to 64 ASCII letters, digits, `-`, `_`.
pub fn is_token(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The path only: no origin, query or fragment, bounded.
pub fn clean_page(page: &str) -> Option<String> {
    let path = page.split(['?', '#']).next().unwrap_or("");
    if !path.starts_with('/') || path.len() > 512 || path.chars().any(char::is_control) {
        return None;
    }
    Some(path.to_string())
}

impl ConsentRequest {
    /// The decision as it resolves against a config.
    pub fn decision(&self) -> Decision {
        Decision {
            action: self.action,
            categories: self.categories.clone(),
            services: self.services.clone(),
        }
    }

    /// Checks the request against `config`, the version it names, of site `site`:
    /// the resolved choices and the cleaned page, or every problem found, in the
    /// order of [`ConsentProblem`]'s variants.
    pub fn check(
        &self,
        site: &str,
        config: &SiteConfig,
    ) -> Result<CheckedConsent, Vec<ConsentProblem>> {
        let mut problems = Vec::new();
        let choices = match self.decision().resolve(config) {
            Ok(choices) => Some(choices),
            Err(e) => {
                problems.push(ConsentProblem::Decision(e));
                None
            }
        };
        if !config.site.languages.contains(&self.language) {
            problems.push(ConsentProblem::Language {
                language: self.language.clone(),
                languages: config.site.languages.clone(),
            });
        }
        if self
            .idempotency_key
            .as_deref()
            .is_some_and(|k| !is_token(k))
        {
            problems.push(ConsentProblem::IdempotencyKey);
        }
        match &self.consent_id {
            Some(id) if !is_token(id) => problems.push(ConsentProblem::ConsentId {
                consent_id: id.clone(),
                site: site.to_string(),
            }),
            Some(_) => {}
            None if self.action == Action::Withdraw => {
                problems.push(ConsentProblem::WithdrawalWithoutConsentId);
            }
            None => {}
        }
        let page = match self.page.as_deref().map(clean_page) {
            Some(None) => {
                problems.push(ConsentProblem::Page);
                None
            }
            Some(page) => page,
            None => None,
        };
        match choices {
            Some(choices) if problems.is_empty() => Ok(CheckedConsent { choices, page }),
            _ => Err(problems),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens() {
        assert!(is_token("kq3Xg0bT2m9yQ1vZ8cJ4Aw") && is_token("req-42") && is_token("a_b"));
        for bad in ["", "a b", "ä", "a.b", &"a".repeat(65)] {
            assert!(!is_token(bad), "{bad:?}");
        }
        assert!(is_token(&"a".repeat(64)));
    }

    #[test]
    fn pages_keep_only_a_bounded_path() {
        assert_eq!(clean_page("/preise?utm=x#top").as_deref(), Some("/preise"));
        assert_eq!(clean_page("/").as_deref(), Some("/"));
        let long = format!("/{}", "a".repeat(511));
        assert_eq!(clean_page(&long), Some(long.clone()));
        for bad in [
            "https://x/",
            "preise",
            "",
            "?/a",
            "/a\nb",
            &format!("{long}a"),
        ] {
            assert_eq!(clean_page(bad), None, "{bad:?}");
        }
    }
}
