//! What the banner shows and never changes while it is open: the server's view of
//! the site config in one language, the visitor's earlier decision and the API's
//! base URL. Built once at mount; components share it by reference.

use std::ops::Deref;
use std::rc::Rc;

use keksdose_shared::cookie::StoredDecision;
use keksdose_shared::texts;
use yew::AttrValue;

use crate::style;
use crate::view::View;

/// The fixed inputs of one banner.
#[derive(Debug)]
pub struct Site {
    /// The config as the banner shows it, in its language, worded by the server.
    pub view: View,
    /// The visitor's earlier decision, if the consent cookie held a valid one.
    pub stored: Option<Earlier>,
    /// `https://cmp.example`, without a trailing slash; links to the visitor's own
    /// history need it.
    pub api_base: Option<String>,
    /// The stylesheet with the config's colours ([`style`]), made once: every
    /// render shares it instead of copying 6 KB again.
    pub stylesheet: AttrValue,
}

impl Site {
    pub fn new(view: View, stored: Option<Earlier>, api_base: Option<&str>) -> Site {
        let mut stylesheet = String::with_capacity(style::CSS.len() + view.colors.len());
        stylesheet.push_str(style::CSS);
        stylesheet.push_str(&view.colors);
        Site {
            view,
            stored,
            api_base: api_base
                .map(|b| b.trim_end_matches('/').to_string())
                .filter(|b| !b.is_empty()),
            stylesheet: stylesheet.into(),
        }
    }

    /// The language the banner is shown in.
    pub fn lang(&self) -> &str {
        &self.view.lang
    }

    /// A date as the banner's language writes it ("01.06.2024").
    pub fn date(&self, unix_secs: u64) -> String {
        texts::date_in(&self.view.date_format, unix_secs)
    }

    /// The visitor's history of consents, when there is a consent ID and an API.
    pub fn history_url(&self) -> Option<String> {
        let id = self.stored.as_ref()?.consent_id.as_ref()?;
        Some(format!(
            "{}/v1/consents/{id}?lang={}",
            self.api_base.as_ref()?,
            self.view.lang
        ))
    }
}

/// The visitor's earlier decision as the banner needs it: the loader read it
/// from the consent cookie (`mount`'s `stored`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Earlier {
    /// The consent ID, once the ledger acknowledged the decision.
    pub consent_id: Option<String>,
    /// When it was made, in seconds since the epoch.
    pub decided_at: u64,
    /// Every category and service it allowed explicitly.
    pub granted: Vec<String>,
}

impl Earlier {
    /// Whether it allowed the service or category `id`.
    pub fn allowed(&self, id: &str) -> bool {
        self.granted.iter().any(|g| g == id)
    }
}

impl From<&StoredDecision> for Earlier {
    fn from(s: &StoredDecision) -> Earlier {
        Earlier {
            consent_id: s.consent_id.clone(),
            decided_at: s.decided_at,
            granted: s.granted.iter().cloned().collect(),
        }
    }
}

/// A shared [`Site`]; equal only to itself, so components compare it in O(1).
#[derive(Debug, Clone)]
pub struct SiteRef(pub Rc<Site>);

impl PartialEq for SiteRef {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
}

impl Deref for SiteRef {
    type Target = Site;

    fn deref(&self) -> &Site {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use keksdose_shared::SiteConfig;

    use super::*;

    #[test]
    fn texts_come_from_the_words_and_the_history_link_names_the_language() {
        let config = SiteConfig::from_toml(include_str!("../../examples/sites/saas.toml")).unwrap();
        let words = keksdose_shared::texts::words_for(&config, "en");
        let en = Site::new(
            View::new(&config, "v", "en", &words),
            StoredDecision::decode("1.c-123..1717200000.v1.1.a...")
                .ok()
                .as_ref()
                .map(Earlier::from),
            Some("https://cmp.example/"),
        );
        assert_eq!(en.view.texts.accept_all, "Accept all");
        assert_eq!(en.date(1_717_200_000), "2024-06-01");
        assert!(en.stylesheet.ends_with(&en.view.colors));
        assert_eq!(en.api_base.as_deref(), Some("https://cmp.example"));
        assert_eq!(
            en.history_url().as_deref(),
            Some("https://cmp.example/v1/consents/c-123?lang=en")
        );
    }
}
