//! How the banner words what the config states in codes: lifetimes (`"13mo"` →
//! "13 Monate", "13 miesięcy"), kinds of storage, legal bases, third-country
//! safeguards, country codes and dates, in the banner's language.
//!
//! The words come from the server with the config ([`Site::words`],
//! `shared/texts/<lang>.toml`); only the plural rules are code
//! (`keksdose_shared::texts::plural`). A word the server did not send shows as
//! the code it stands for, never as an empty string.

use keksdose_shared::config::{LegalBasis, Safeguard, Storage};
use keksdose_shared::texts;

use crate::site::Site;

/// A cookie lifetime as a reader says it: "13 Monate", "1 year", "bis zum Ende der
/// Sitzung". A value that does not parse is shown as written.
pub fn lifetime(site: &Site, text: &str) -> String {
    texts::lifetime(&site.words, &site.lang, text)
}

/// The kind of storage, as a label next to the cookie's name.
pub fn storage(site: &Site, kind: Storage) -> String {
    texts::storage(&site.words, kind)
}

/// The legal basis of a service, with its article, as a privacy policy cites it.
pub fn legal_basis(site: &Site, basis: LegalBasis) -> String {
    texts::legal_basis(&site.words, basis)
}

/// The safeguard of a third-country transfer, with its article.
pub fn safeguard(site: &Site, s: Safeguard) -> String {
    texts::safeguard(&site.words, s)
}

/// A country's name for the usual third countries; the ISO code otherwise.
pub fn country(site: &Site, code: &str) -> String {
    texts::country(&site.words, code)
}

/// A Unix time as a date the way the language writes it: "01.06.2024",
/// "01/06/2024", "2024-06-01" (UTC).
pub fn date(site: &Site, unix_secs: u64) -> String {
    texts::date(&site.words, unix_secs)
}

#[cfg(test)]
mod tests {
    use keksdose_shared::SiteConfig;
    use keksdose_shared::config::{LegalBasis, Safeguard, Storage};
    use keksdose_shared::texts::words_for;

    use super::*;

    /// The saas example in `lang` (added to its languages).
    fn site(lang: &str) -> Site {
        let mut config =
            SiteConfig::from_toml(include_str!("../../examples/sites/saas.toml")).unwrap();
        if !config.site.languages.iter().any(|l| l == lang) {
            config.site.languages.push(lang.to_string());
        }
        let words = words_for(&config, lang);
        Site::new(config, "v".into(), lang.into(), words, None, None)
    }

    #[test]
    fn lifetimes_read_like_a_privacy_policy() {
        let (de, en) = (site("de"), site("en"));
        assert_eq!(lifetime(&de, "13mo"), "13 Monate");
        assert_eq!(lifetime(&de, "1y"), "1 Jahr");
        assert_eq!(lifetime(&de, "30d"), "30 Tage");
        assert_eq!(lifetime(&de, "session"), "bis zum Ende der Sitzung");
        assert_eq!(lifetime(&de, "persistent"), "bis zur Löschung");
        assert_eq!(lifetime(&en, "13mo"), "13 months");
        assert_eq!(lifetime(&en, "1w"), "1 week");
        assert_eq!(lifetime(&en, "15min"), "15 minutes");
        assert_eq!(lifetime(&en, "session"), "until the end of the session");
        assert_eq!(lifetime(&en, "forever"), "forever");
    }

    #[test]
    fn lifetimes_take_the_languages_plural_forms() {
        let pl = site("pl");
        assert_eq!(lifetime(&pl, "1mo"), "1 miesiąc");
        assert_eq!(lifetime(&pl, "2mo"), "2 miesiące");
        assert_eq!(lifetime(&pl, "13mo"), "13 miesięcy");
        assert_eq!(lifetime(&pl, "22mo"), "22 miesiące");
        let fr = site("fr");
        assert_ne!(lifetime(&fr, "1y"), lifetime(&fr, "2y").replace('2', "1"));
    }

    #[test]
    fn codes_become_words() {
        let (de, en) = (site("de"), site("en"));
        assert_eq!(storage(&de, Storage::LocalStorage), "Local Storage");
        assert_eq!(storage(&de, Storage::Pixel), "Zählpixel");
        assert_eq!(
            safeguard(&de, Safeguard::Scc),
            "Standardvertragsklauseln (Art. 46 Abs. 2 lit. c DSGVO)"
        );
        assert_eq!(
            safeguard(&en, Safeguard::Adequacy),
            "Adequacy decision (Art. 45 GDPR)"
        );
        assert_eq!(
            legal_basis(&de, LegalBasis::Consent),
            "Einwilligung (Art. 6 Abs. 1 lit. a DSGVO)"
        );
        assert_eq!(
            legal_basis(&en, LegalBasis::LegitimateInterest),
            "Legitimate interests (Art. 6(1)(f) GDPR)"
        );
        assert_eq!(country(&de, "US"), "USA");
        assert_eq!(country(&en, "US"), "United States");
        assert_eq!(country(&de, "BR"), "BR");
        assert_eq!(date(&de, 1_717_200_000), "01.06.2024");
        assert_eq!(date(&en, 1_717_200_000), "2024-06-01");
    }
}
