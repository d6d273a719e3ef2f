//! What the banner shows and never changes while it is open: the site config, its
//! version, the chosen language with its texts, the visitor's earlier decision and
//! the API's base URL. Built once at mount; components share it by reference.

use std::ops::Deref;
use std::rc::Rc;

use keksdose_shared::SiteConfig;
use keksdose_shared::cookie::StoredDecision;
use keksdose_shared::texts::{Texts, Words};
use yew::AttrValue;

use crate::style;

/// The fixed inputs of one banner.
#[derive(Debug)]
pub struct Site {
    pub config: SiteConfig,
    /// The config's version as the server published it.
    pub version: String,
    /// The language the banner is shown in (one the site offers).
    pub lang: String,
    /// Every word in that language, as the server resolved them for the site
    /// (`keksdose_shared::texts::words_for`): the banner links none of its own.
    pub words: Words,
    /// The `texts.*` of [`words`](Self::words), as fields.
    pub texts: Texts,
    /// The visitor's earlier decision, if the consent cookie held a valid one.
    pub stored: Option<StoredDecision>,
    /// `https://cmp.example`, without a trailing slash; links to the visitor's own
    /// history need it.
    pub api_base: Option<String>,
    /// The stylesheet with the config's colours ([`style`]), made once: every
    /// render shares it instead of formatting 6 KB again.
    pub stylesheet: AttrValue,
}

impl Site {
    /// `lang` is the language shown, one the site offers (`SiteConfig::language_for`
    /// picks it from what the page asked for); `words` are the site's words in it
    /// (the config response's `words[lang]`).
    pub fn new(
        config: SiteConfig,
        version: String,
        lang: String,
        words: Words,
        stored: Option<StoredDecision>,
        api_base: Option<&str>,
    ) -> Site {
        let texts = Texts::from_words(&words);
        let stylesheet = format!("{}{}", style::CSS, style::variables(&config.appearance)).into();
        Site {
            config,
            version,
            lang,
            words,
            texts,
            stored,
            api_base: api_base
                .map(|b| b.trim_end_matches('/').to_string())
                .filter(|b| !b.is_empty()),
            stylesheet,
        }
    }

    /// A localized config text in the banner's language.
    pub fn text<'a>(&self, value: &'a keksdose_shared::config::Localized) -> &'a str {
        value.get(&self.lang, self.config.default_language())
    }

    /// The visitor's history of consents, when there is a consent ID and an API.
    pub fn history_url(&self) -> Option<String> {
        let id = self.stored.as_ref()?.consent_id.as_ref()?;
        Some(format!(
            "{}/v1/consents/{id}?lang={}",
            self.api_base.as_ref()?,
            self.lang
        ))
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
            config,
            "v".into(),
            "en".into(),
            words,
            StoredDecision::decode("1.c-123..1717200000.v1.1.a...").ok(),
            Some("https://cmp.example/"),
        );
        assert_eq!(en.texts.accept_all, "Accept all");
        assert_eq!(en.api_base.as_deref(), Some("https://cmp.example"));
        assert_eq!(
            en.history_url().as_deref(),
            Some("https://cmp.example/v1/consents/c-123?lang=en")
        );
    }
}
