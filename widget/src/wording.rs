//! How the banner words what the config states in codes: lifetimes (`"13mo"` →
//! "13 Monate"), kinds of storage, third-country safeguards, country codes and
//! dates, in German and English (German for any other language we lack words for
//! is wrong, so English is the fallback there).
//!
//! Site texts proper (titles, buttons) come from `keksdose_shared::texts`; these
//! are the few phrases a config cannot override because they render its data.

use keksdose_shared::config::{LegalBasis, Safeguard, Storage};
use keksdose_shared::lifetime::{Lifetime, Unit};
use keksdose_shared::texts::Texts;

fn german(lang: &str) -> bool {
    lang.split('-').next() == Some("de")
}

/// A cookie lifetime as a reader says it: "13 Monate", "1 year", "bis zum Ende der
/// Sitzung". A value that does not parse is shown as written.
pub fn lifetime(text: &str, lang: &str, texts: &Texts) -> String {
    let Ok(parsed) = Lifetime::parse(text) else {
        return text.to_string();
    };
    let (amount, unit) = match parsed {
        Lifetime::Session => return texts.session.clone(),
        Lifetime::Persistent => return texts.persistent.clone(),
        Lifetime::Duration { amount, unit } => (amount, unit),
    };
    let one = amount == 1;
    let word = if german(lang) {
        match (unit, one) {
            (Unit::Second, true) => "Sekunde",
            (Unit::Second, false) => "Sekunden",
            (Unit::Minute, true) => "Minute",
            (Unit::Minute, false) => "Minuten",
            (Unit::Hour, true) => "Stunde",
            (Unit::Hour, false) => "Stunden",
            (Unit::Day, true) => "Tag",
            (Unit::Day, false) => "Tage",
            (Unit::Week, true) => "Woche",
            (Unit::Week, false) => "Wochen",
            (Unit::Month, true) => "Monat",
            (Unit::Month, false) => "Monate",
            (Unit::Year, true) => "Jahr",
            (Unit::Year, false) => "Jahre",
        }
    } else {
        match (unit, one) {
            (Unit::Second, true) => "second",
            (Unit::Second, false) => "seconds",
            (Unit::Minute, true) => "minute",
            (Unit::Minute, false) => "minutes",
            (Unit::Hour, true) => "hour",
            (Unit::Hour, false) => "hours",
            (Unit::Day, true) => "day",
            (Unit::Day, false) => "days",
            (Unit::Week, true) => "week",
            (Unit::Week, false) => "weeks",
            (Unit::Month, true) => "month",
            (Unit::Month, false) => "months",
            (Unit::Year, true) => "year",
            (Unit::Year, false) => "years",
        }
    };
    format!("{amount} {word}")
}

/// The kind of storage, as a label next to the cookie's name.
pub fn storage(kind: Storage, lang: &str) -> &'static str {
    match (kind, german(lang)) {
        (Storage::Cookie, _) => "Cookie",
        (Storage::LocalStorage, _) => "Local Storage",
        (Storage::SessionStorage, _) => "Session Storage",
        (Storage::IndexedDb, _) => "IndexedDB",
        (Storage::Pixel, true) => "Zählpixel",
        (Storage::Pixel, false) => "Tracking pixel",
    }
}

/// The legal basis of a service, with its article, as a privacy policy cites it.
pub fn legal_basis(basis: LegalBasis, lang: &str) -> &'static str {
    match (basis, german(lang)) {
        (LegalBasis::Consent, true) => "Einwilligung (Art. 6 Abs. 1 lit. a DSGVO)",
        (LegalBasis::Consent, false) => "Consent (Art. 6(1)(a) GDPR)",
        (LegalBasis::Contract, true) => "Vertragserfüllung (Art. 6 Abs. 1 lit. b DSGVO)",
        (LegalBasis::Contract, false) => "Performance of a contract (Art. 6(1)(b) GDPR)",
        (LegalBasis::LegalObligation, true) => {
            "Rechtliche Verpflichtung (Art. 6 Abs. 1 lit. c DSGVO)"
        }
        (LegalBasis::LegalObligation, false) => "Legal obligation (Art. 6(1)(c) GDPR)",
        (LegalBasis::LegitimateInterest, true) => {
            "Berechtigtes Interesse (Art. 6 Abs. 1 lit. f DSGVO)"
        }
        (LegalBasis::LegitimateInterest, false) => "Legitimate interests (Art. 6(1)(f) GDPR)",
    }
}

/// The safeguard of a third-country transfer, with its article.
pub fn safeguard(s: Safeguard, lang: &str) -> &'static str {
    match (s, german(lang)) {
        (Safeguard::Adequacy, true) => "Angemessenheitsbeschluss (Art. 45 DSGVO)",
        (Safeguard::Adequacy, false) => "Adequacy decision (Art. 45 GDPR)",
        (Safeguard::Scc, true) => "Standardvertragsklauseln (Art. 46 Abs. 2 lit. c DSGVO)",
        (Safeguard::Scc, false) => "Standard contractual clauses (Art. 46(2)(c) GDPR)",
        (Safeguard::Bcr, true) => "Verbindliche interne Datenschutzvorschriften (Art. 47 DSGVO)",
        (Safeguard::Bcr, false) => "Binding corporate rules (Art. 47 GDPR)",
        (Safeguard::Consent, true) => {
            "Ihre ausdrückliche Einwilligung (Art. 49 Abs. 1 lit. a DSGVO)"
        }
        (Safeguard::Consent, false) => "Your explicit consent (Art. 49(1)(a) GDPR)",
    }
}

/// A country's name for the usual third countries; the ISO code otherwise.
pub fn country(code: &str, lang: &str) -> String {
    let de = german(lang);
    let name = match code {
        "US" => Some(if de { "USA" } else { "United States" }),
        "GB" => Some(if de {
            "Vereinigtes Königreich"
        } else {
            "United Kingdom"
        }),
        "CH" => Some(if de { "Schweiz" } else { "Switzerland" }),
        "CA" => Some(if de { "Kanada" } else { "Canada" }),
        "IN" => Some(if de { "Indien" } else { "India" }),
        "CN" => Some("China"),
        "JP" => Some("Japan"),
        "AU" => Some(if de { "Australien" } else { "Australia" }),
        "IL" => Some("Israel"),
        "SG" => Some(if de { "Singapur" } else { "Singapore" }),
        _ => None,
    };
    name.map_or_else(|| code.to_string(), String::from)
}

/// A Unix time as a date: "01.06.2024" in German, "2024-06-01" otherwise (UTC).
pub fn date(unix_secs: u64, lang: &str) -> String {
    let iso = keksdose_shared::time::date(unix_secs);
    let parts: Vec<&str> = iso.split('-').collect();
    match (german(lang), parts.as_slice()) {
        (true, [y, m, d]) => format!("{d}.{m}.{y}"),
        _ => iso,
    }
}

#[cfg(test)]
mod tests {
    use keksdose_shared::SiteConfig;
    use keksdose_shared::config::{LegalBasis, Safeguard, Storage};
    use keksdose_shared::texts::for_language;

    use super::*;

    #[test]
    fn lifetimes_read_like_a_privacy_policy() {
        let config = SiteConfig::from_toml(include_str!("../../examples/sites/saas.toml")).unwrap();
        let de = for_language(&config, "de");
        let en = for_language(&config, "en");
        assert_eq!(lifetime("13mo", "de", &de), "13 Monate");
        assert_eq!(lifetime("1y", "de", &de), "1 Jahr");
        assert_eq!(lifetime("30d", "de", &de), "30 Tage");
        assert_eq!(lifetime("session", "de", &de), "bis zum Ende der Sitzung");
        assert_eq!(lifetime("persistent", "de", &de), "bis zur Löschung");
        assert_eq!(lifetime("13mo", "en", &en), "13 months");
        assert_eq!(lifetime("1w", "en-GB", &en), "1 week");
        assert_eq!(lifetime("15min", "en", &en), "15 minutes");
        assert_eq!(
            lifetime("session", "en", &en),
            "until the end of the session"
        );
        assert_eq!(lifetime("forever", "en", &en), "forever");
    }

    #[test]
    fn codes_become_words() {
        assert_eq!(storage(Storage::LocalStorage, "de"), "Local Storage");
        assert_eq!(storage(Storage::Pixel, "de"), "Zählpixel");
        assert_eq!(
            safeguard(Safeguard::Scc, "de"),
            "Standardvertragsklauseln (Art. 46 Abs. 2 lit. c DSGVO)"
        );
        assert_eq!(
            safeguard(Safeguard::Adequacy, "en"),
            "Adequacy decision (Art. 45 GDPR)"
        );
        assert_eq!(
            legal_basis(LegalBasis::Consent, "de"),
            "Einwilligung (Art. 6 Abs. 1 lit. a DSGVO)"
        );
        assert_eq!(
            legal_basis(LegalBasis::LegitimateInterest, "en"),
            "Legitimate interests (Art. 6(1)(f) GDPR)"
        );
        assert_eq!(country("US", "de"), "USA");
        assert_eq!(country("US", "en"), "United States");
        assert_eq!(country("BR", "de"), "BR");
        assert_eq!(date(1_717_200_000, "de"), "01.06.2024");
        assert_eq!(date(1_717_200_000, "en"), "2024-06-01");
    }
}
