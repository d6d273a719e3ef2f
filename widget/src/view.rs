//! What the banner shows of a published config, in one language, worded by the
//! server: the view that `mount` is given (`GET /v1/sites/{site}/banner`) and
//! that the server renders its first layer from.
//!
//! The banner used to read the whole `SiteConfig` with every language's words
//! and word it itself: the reader, the config's types and the wording were
//! about a quarter of its WASM (issue 13). [`View::new`] does that work once,
//! on the server, per config version and language; the WASM only reads
//! strings and lists ([`crate::options`]) and renders them.

use keksdose_shared::SiteConfig;
use keksdose_shared::config::{NECESSARY, Service};
use keksdose_shared::texts::{self, Texts, Words};
use serde::Serialize;

use crate::style;

/// The banner's view of a config in one language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct View {
    /// The config's version as the server published it: the decision names it.
    pub version: String,
    /// The language shown, one the site offers.
    pub lang: String,
    /// The outermost element's classes: position and theme.
    pub classes: String,
    /// The stylesheet's rule with the config's colours ([`style::variables`]).
    pub colors: String,
    /// The site's privacy policy and imprint, in the language shown.
    pub privacy_policy_url: String,
    pub imprint_url: String,
    /// The policy's version under the banner's label, with the date it is valid
    /// from: "Stand: 01.06.2024 · Gültig ab 01.06.2024".
    pub policy: String,
    /// The banner's texts in the language shown.
    pub texts: Texts,
    /// How the language writes a date (`{d}.{m}.{y}`): the date of the
    /// visitor's consent in the settings.
    pub date_format: String,
    /// The categories in display order, `necessary` first.
    pub categories: Vec<CategoryView>,
}

/// A category with its services.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CategoryView {
    pub id: String,
    pub name: String,
    pub description: String,
    pub services: Vec<ServiceView>,
}

/// Everything the settings say about a service, worded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceView {
    pub id: String,
    pub name: String,
    pub description: String,
    pub fingerprinting: bool,
    /// Its provider (the site's controller for its own services) and address.
    pub provider: String,
    pub address: String,
    pub purposes: Vec<String>,
    /// The legal basis with its article.
    pub legal_basis: String,
    pub cookies: Vec<CookieView>,
    pub retention: Option<String>,
    /// "USA: Standardvertragsklauseln (Art. 46 Abs. 2 lit. c DSGVO)".
    pub transfers: Vec<String>,
    /// The provider's privacy policy and opt-out.
    pub links: Vec<Link>,
}

/// A link with its label: "Datenschutzerklärung (Mixpanel)".
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Link {
    pub url: String,
    pub label: String,
}

/// A cookie (or other storage) as the settings list it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CookieView {
    pub name: String,
    /// After the name: " (Cookie, .example.com) · Speicherdauer: 13 Monate".
    pub note: String,
    pub purpose: String,
}

impl View {
    /// The view of `config` (published as `version`) in `lang`, one the site
    /// offers, worded with `words`, the site's words in it
    /// (`keksdose_shared::texts::words_for`).
    pub fn new(config: &SiteConfig, version: &str, lang: &str, words: &Words) -> View {
        let fallback = config.default_language();
        let text = |l: &keksdose_shared::config::Localized| l.get(lang, fallback).to_string();
        let word = |key: &str| words.get(key).cloned().unwrap_or_default();
        let site = &config.site;
        let mut policy = policy_version(&site.policy_version, &word("texts.policy_version"));
        if let Some(ms) = site
            .policy_valid_from
            .as_deref()
            .and_then(|d| keksdose_shared::time::parse_rfc3339(&format!("{d}T00:00:00Z")))
        {
            policy.push_str(&format!(
                " · {} {}",
                word("texts.valid_from"),
                texts::date(words, ms / 1000)
            ));
        }
        let service = |s: &Service| {
            // A service without a provider is the site's own: the controller provides it.
            let provider = s.provider.as_ref().unwrap_or(&site.controller);
            let mut links = Vec::new();
            for (url, label) in [
                (&s.privacy_policy_url, "texts.privacy_policy"),
                (&s.opt_out_url, "texts.opt_out"),
            ] {
                if let Some(url) = url {
                    links.push(Link {
                        url: url.clone(),
                        label: format!("{} ({})", word(label), s.name),
                    });
                }
            }
            ServiceView {
                id: s.id.clone(),
                name: s.name.clone(),
                description: text(&s.description),
                fingerprinting: s.fingerprinting,
                provider: provider.name.clone(),
                address: provider.address.clone(),
                purposes: s.purposes.iter().map(text).collect(),
                legal_basis: texts::legal_basis(words, s.legal_basis),
                cookies: s
                    .cookies
                    .iter()
                    .map(|c| {
                        let mut kind = texts::storage(words, c.storage);
                        if let Some(domain) = &c.domain {
                            kind.push_str(", ");
                            kind.push_str(domain);
                        }
                        CookieView {
                            name: c.name.clone(),
                            note: format!(
                                " ({kind}) · {}: {}",
                                word("texts.lifetime"),
                                texts::lifetime(words, lang, &c.lifetime)
                            ),
                            purpose: text(&c.purpose),
                        }
                    })
                    .collect(),
                retention: s.retention.as_ref().map(text),
                transfers: s
                    .transfers
                    .iter()
                    .map(|t| {
                        format!(
                            "{}: {}",
                            texts::country(words, &t.country),
                            texts::safeguard(words, t.safeguard)
                        )
                    })
                    .collect(),
                links,
            }
        };
        let categories = config
            .categories()
            .into_iter()
            .map(|c| {
                let (name, description) = texts::category_text(config, words, &c.id, lang);
                CategoryView {
                    services: config.services_in(&c.id).map(service).collect(),
                    id: c.id,
                    name,
                    description,
                }
            })
            .collect();
        View {
            version: version.to_string(),
            lang: lang.to_string(),
            classes: style::root_classes(&config.appearance),
            colors: style::variables(&config.appearance),
            privacy_policy_url: text(&site.privacy_policy_url),
            imprint_url: text(&site.imprint_url),
            policy,
            texts: Texts::from_words(words),
            date_format: words
                .get("date.format")
                .cloned()
                .unwrap_or_else(|| "{y}-{m}-{d}".into()),
            categories,
        }
    }

    /// Whether `id` is the necessary category or one of its services: always on.
    pub fn is_necessary(&self, id: &str) -> bool {
        id == NECESSARY
            || self
                .categories
                .iter()
                .filter(|c| c.id == NECESSARY)
                .flat_map(|c| &c.services)
                .any(|s| s.id == id)
    }

    /// The service `id` with its category's id.
    pub fn service(&self, id: &str) -> Option<(&str, &ServiceView)> {
        self.categories.iter().find_map(|c| {
            c.services
                .iter()
                .find(|s| s.id == id)
                .map(|s| (c.id.as_str(), s))
        })
    }
}

/// The privacy policy's version under the banner's own label ("Stand: …",
/// "Version: …"): a label the site wrote in front of it ("Stand: 01.06.2024") is
/// dropped, so that an English banner does not say "Stand".
fn policy_version(value: &str, label: &str) -> String {
    let bare = ["Stand:", "Version:", "Stand", "Version"]
        .iter()
        .find_map(|p| value.strip_prefix(p))
        .unwrap_or(value)
        .trim();
    format!("{label}: {bare}")
}

#[cfg(test)]
mod tests {
    use keksdose_shared::texts::words_for;

    use super::*;

    fn saas(lang: &str) -> View {
        let config = SiteConfig::from_toml(include_str!("../../examples/sites/saas.toml")).unwrap();
        let words = words_for(&config, lang);
        View::new(&config, "v1", lang, &words)
    }

    #[test]
    fn the_policy_version_carries_the_banners_label() {
        assert_eq!(
            policy_version("Stand: 01.06.2024", "Version"),
            "Version: 01.06.2024"
        );
        assert_eq!(policy_version("01.06.2024", "Stand"), "Stand: 01.06.2024");
        assert_eq!(policy_version("v3 (2025)", "Version"), "Version: v3 (2025)");
    }

    #[test]
    fn the_view_is_worded_in_its_language() {
        let (de, en) = (saas("de"), saas("en"));
        assert_eq!(de.lang, "de");
        assert_eq!(de.categories[0].id, NECESSARY);
        assert_eq!(en.texts.accept_all, "Accept all");
        assert_eq!(de.date_format, "{d}.{m}.{y}");
        let (category, mixpanel) = de.service("mixpanel").unwrap();
        assert_eq!(category, "analytics");
        assert_eq!(
            mixpanel.legal_basis,
            "Einwilligung (Art. 6 Abs. 1 lit. a DSGVO)"
        );
        assert!(
            mixpanel
                .cookies
                .iter()
                .any(|c| c.note == " (Cookie) · Speicherdauer: 1 Jahr"),
            "{:?}",
            mixpanel.cookies
        );
        assert!(
            mixpanel.transfers.iter().any(|t| t.starts_with("USA: ")),
            "{:?}",
            mixpanel.transfers
        );
        let (_, en_mixpanel) = en.service("mixpanel").unwrap();
        assert!(
            en_mixpanel
                .transfers
                .iter()
                .any(|t| t.starts_with("United States: ")),
            "{:?}",
            en_mixpanel.transfers
        );
        assert!(de.is_necessary(NECESSARY));
        assert!(!de.is_necessary("mixpanel"));
        assert!(de.policy.starts_with(&de.texts.policy_version));
    }
}
