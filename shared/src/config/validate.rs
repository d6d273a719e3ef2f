//! Semantic validation of a parsed [`SiteConfig`]: every problem, each with its path.
//!
//! Parsing already refused unknown fields and wrong types; this pass checks what
//! types cannot say — ids, references, languages, URLs, lifetimes, limits that keep
//! the consent cookie small, and the rules German law sets for a banner (non-
//! necessary services need consent, third-country transfers need a safeguard).

use std::collections::BTreeSet;
use std::fmt;

use super::{Localized, NECESSARY, Party, SiteConfig};
use crate::lifetime::Lifetime;
use crate::texts;

/// Bounds on a config, chosen so that a decision over every id fits the consent
/// cookie (well under 4 KB) and a banner stays readable.
#[derive(Debug, Clone, Copy)]
pub struct Limits;

impl Limits {
    pub const ID_LEN: usize = 24;
    pub const CATEGORIES: usize = 12;
    pub const SERVICES: usize = 80;
    pub const PURPOSES: usize = 40;
    pub const COOKIES_PER_SERVICE: usize = 50;
    pub const LANGUAGES: usize = 12;
    pub const TEXT_LEN: usize = 4000;
    pub const NAME_LEN: usize = 200;
    pub const URL_LEN: usize = 2000;
    pub const LIST_LEN: usize = 20;
}

/// One problem, where it is and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ValidationError {
    /// `services[2].cookies[0].lifetime`
    pub path: String,
    pub message: String,
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Every problem found, in document order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ValidationErrors(pub Vec<ValidationError>);

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

struct Check {
    errors: Vec<ValidationError>,
    /// What is valid but worth the operator's attention ([`SiteConfig::notices`]).
    notices: Vec<ValidationError>,
    languages: Vec<String>,
}

impl Check {
    fn err(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.errors.push(ValidationError {
            path: path.into(),
            message: message.into(),
        });
    }

    fn text(&mut self, path: &str, text: &str, max: usize) {
        if text.trim().is_empty() {
            self.err(path, "must not be empty");
        } else if text.chars().count() > max {
            self.err(path, format!("is longer than {max} characters"));
        }
    }

    fn localized(&mut self, path: &str, value: &Localized, max: usize) {
        match value {
            Localized::Same(s) => self.text(path, s, max),
            Localized::PerLanguage(map) => {
                for (lang, s) in map {
                    if !self.languages.contains(lang) {
                        self.err(
                            format!("{path}.{lang}"),
                            format!("language {lang:?} is not in site.languages"),
                        );
                    }
                    self.text(&format!("{path}.{lang}"), s, max);
                }
                // A language the text lacks is shown the default language's text
                // (`Localized::get`), else another's: valid, but worth a notice.
                if map.is_empty() {
                    self.err(path, "must give the text in at least one language");
                }
                let fallback = self.languages.first().filter(|l| map.contains_key(*l));
                let shown = fallback.or_else(|| map.keys().next()).cloned();
                for lang in self.languages.iter().filter(|l| !map.contains_key(*l)) {
                    if let Some(shown) = &shown {
                        self.notices.push(ValidationError {
                            path: path.to_string(),
                            message: format!(
                                "has no text in {lang:?}: visitors reading {lang:?} see the {shown:?} one"
                            ),
                        });
                    }
                }
            }
        }
    }

    fn url(&mut self, path: &str, url: &str) {
        if url.len() > Limits::URL_LEN {
            self.err(
                path,
                format!("is longer than {} characters", Limits::URL_LEN),
            );
        } else if !is_url(url) {
            self.err(
                path,
                format!("expected an absolute https:// URL, got {url:?}"),
            );
        }
    }

    fn localized_url(&mut self, path: &str, value: &Localized) {
        match value {
            Localized::Same(u) => self.url(path, u),
            Localized::PerLanguage(map) => {
                self.localized(path, value, Limits::URL_LEN);
                for (lang, u) in map {
                    self.url(&format!("{path}.{lang}"), u);
                }
            }
        }
    }

    fn party(&mut self, path: &str, party: &Party) {
        self.text(&format!("{path}.name"), &party.name, Limits::NAME_LEN);
        self.text(&format!("{path}.address"), &party.address, Limits::NAME_LEN);
        self.country(&format!("{path}.country"), &party.country);
        if let Some(contact) = &party.contact {
            self.text(&format!("{path}.contact"), contact, Limits::NAME_LEN);
        }
    }

    fn country(&mut self, path: &str, code: &str) {
        if code.len() != 2 || !code.bytes().all(|b| b.is_ascii_uppercase()) {
            self.err(
                path,
                format!("expected an ISO 3166-1 alpha-2 code like \"DE\" or \"US\", got {code:?}"),
            );
        }
    }

    fn id(&mut self, path: &str, id: &str, seen: &mut BTreeSet<String>) {
        if !is_id(id) {
            self.err(
                path,
                format!(
                    "expected an id of lowercase letters, digits, '-' and '_', starting with a letter, at most {} long, got {id:?}",
                    Limits::ID_LEN
                ),
            );
        } else if !seen.insert(id.to_string()) {
            self.err(
                path,
                format!(
                    "{id:?} is used twice; category, service and purpose ids share one namespace"
                ),
            );
        }
    }

    /// Third-country transfers at `{path}.transfers`.
    fn transfers(&mut self, path: &str, transfers: &[super::Transfer]) {
        self.count(
            &format!("{path}.transfers"),
            transfers.len(),
            Limits::LIST_LEN,
        );
        for (j, t) in transfers.iter().enumerate() {
            self.country(&format!("{path}.transfers[{j}].country"), &t.country);
            if EEA.contains(&t.country.as_str()) {
                self.err(
                    format!("{path}.transfers[{j}].country"),
                    format!(
                        "{:?} is in the EU/EEA; list only third countries",
                        t.country
                    ),
                );
            }
        }
    }

    /// A retention rule the server can apply: a period of at least a day and at
    /// most 30 years, counted from an event this kind of consent has.
    fn proof_retention(&mut self, path: &str, rule: &super::ProofRetention, banner: bool) {
        match Lifetime::parse(&rule.keep).map(Lifetime::seconds) {
            Ok(Some(secs)) if secs < 86_400 => {
                self.err(format!("{path}.keep"), "must be at least one day")
            }
            Ok(Some(secs)) if secs > 30 * 365 * 86_400 => self.err(
                format!("{path}.keep"),
                "must be at most 30 years (the longest limitation period, § 197 BGB)",
            ),
            Ok(Some(_)) => {}
            Ok(None) => self.err(
                format!("{path}.keep"),
                "must be a duration like \"3y\", not \"session\" or \"persistent\"",
            ),
            Err(e) => self.err(format!("{path}.keep"), e.to_string()),
        }
        if !banner && rule.after == super::RetentionEvent::Expiry {
            self.err(
                format!("{path}.after"),
                "a purpose's consent does not expire: count from \"withdrawal\" or \"last_record\"",
            );
        }
    }

    fn count(&mut self, path: &str, n: usize, max: usize) {
        if n > max {
            self.err(path, format!("has {n} entries, at most {max} are allowed"));
        }
    }
}

/// An id as `data-consent` and the cookie carry it.
pub fn is_id(id: &str) -> bool {
    let mut bytes = id.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z'))
        && id.len() <= Limits::ID_LEN
        && bytes.all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_'))
}

fn is_url(url: &str) -> bool {
    if url
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '"' | '<' | '>' | '\\'))
    {
        return false;
    }
    if let Some(rest) = url.strip_prefix("https://") {
        let host = rest.split(['/', '?', '#']).next().unwrap_or("");
        let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
        return is_host(&host.to_ascii_lowercase());
    }
    // Plain http only for a local development server.
    ["http://localhost", "http://127.0.0.1"]
        .iter()
        .any(|local| {
            url.strip_prefix(local)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with([':', '/']))
        })
}

fn is_language(tag: &str) -> bool {
    let (lang, region) = match tag.split_once('-') {
        Some((l, r)) => (l, Some(r)),
        None => (tag, None),
    };
    lang.len() == 2
        && lang.bytes().all(|b| b.is_ascii_lowercase())
        && region.is_none_or(|r| r.len() == 2 && r.bytes().all(|b| b.is_ascii_uppercase()))
}

fn is_color(c: &str) -> bool {
    c.strip_prefix('#')
        .is_some_and(|h| (h.len() == 3 || h.len() == 6) && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn is_host(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= 253
        && h.contains('.')
        && h.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

/// Countries of the EU and the EEA, to which transfers need no safeguard.
const EEA: [&str; 30] = [
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IT",
    "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK", "IS", "LI", "NO",
];

impl SiteConfig {
    /// Checks everything parsing cannot, and reports every problem found.
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let c = self.check();
        if c.errors.is_empty() {
            Ok(())
        } else {
            Err(ValidationErrors(c.errors))
        }
    }

    /// What a valid config leaves to the operator's judgement, each with its path:
    /// a site text missing in a language the site offers (visitors reading that
    /// language see the default language's text). `keksdose config check` prints them.
    pub fn notices(&self) -> Vec<ValidationError> {
        self.check().notices
    }

    fn check(&self) -> Check {
        let mut c = Check {
            errors: Vec::new(),
            notices: Vec::new(),
            languages: self.site.languages.clone(),
        };

        // site
        let site = &self.site;
        c.text("site.name", &site.name, Limits::NAME_LEN);
        c.party("site.controller", &site.controller);
        if site.languages.is_empty() {
            c.err("site.languages", "must name at least one language");
        }
        c.count("site.languages", site.languages.len(), Limits::LANGUAGES);
        let mut seen_lang = BTreeSet::new();
        for (i, lang) in site.languages.iter().enumerate() {
            if !is_language(lang) {
                c.err(
                    format!("site.languages[{i}]"),
                    format!("expected a language code like \"de\" or \"de-AT\", got {lang:?}"),
                );
            } else if !seen_lang.insert(lang) {
                c.err(
                    format!("site.languages[{i}]"),
                    format!("{lang:?} is listed twice"),
                );
            }
        }
        c.localized_url("site.privacy_policy_url", &site.privacy_policy_url);
        c.localized_url("site.imprint_url", &site.imprint_url);
        c.text(
            "site.policy_version",
            &site.policy_version,
            Limits::NAME_LEN,
        );
        if let Some(date) = &site.policy_valid_from
            && !crate::time::is_date(date)
        {
            c.err(
                "site.policy_valid_from",
                format!("expected a date like \"2025-01-15\", got {date:?}"),
            );
        }

        // consent
        if let Some(rule) = &self.consent.proof_retention {
            c.proof_retention("consent.proof_retention", rule, true);
        }
        match Lifetime::parse(&self.consent.lifetime).map(Lifetime::seconds) {
            Ok(Some(secs)) if secs < 86_400 => c.err("consent.lifetime", "must be at least one day"),
            Ok(Some(secs)) if secs > 2 * 365 * 86_400 => {
                c.err("consent.lifetime", "must be at most 2 years (24 months); supervisory authorities expect renewal within that")
            }
            Ok(Some(_)) => {}
            Ok(None) => c.err("consent.lifetime", "must be a duration, not \"session\" or \"persistent\""),
            Err(e) => c.err("consent.lifetime", e.to_string()),
        }
        if self.consent.revision == 0 {
            c.err("consent.revision", "starts at 1");
        }

        // appearance, consent mode
        if !is_color(&self.appearance.accent_color) {
            c.err(
                "appearance.accent_color",
                format!(
                    "expected a colour like \"#1d4ed8\", got {:?}",
                    self.appearance.accent_color
                ),
            );
        }
        if self.consent_mode.wait_for_update > 10_000 {
            c.err(
                "consent_mode.wait_for_update",
                "must be at most 10000 milliseconds",
            );
        }

        // texts
        for (lang, overrides) in &self.texts {
            if !self.site.languages.contains(lang) {
                c.err(
                    format!("texts.{lang}"),
                    format!("language {lang:?} is not in site.languages"),
                );
            }
            for (field, value) in overrides.fields() {
                if let Some(v) = value {
                    c.text(&format!("texts.{lang}.{field}"), v, Limits::TEXT_LEN);
                }
            }
        }
        for lang in &self.site.languages {
            if !texts::is_built_in(lang) {
                let given = self.texts.get(lang);
                let missing: Vec<&str> = texts::TextOverrides::default()
                    .fields()
                    .into_iter()
                    .map(|(f, _)| f)
                    .filter(|f| {
                        given
                            .is_none_or(|g| g.fields().iter().any(|(gf, v)| gf == f && v.is_none()))
                    })
                    .collect();
                if !missing.is_empty() {
                    c.err(
                        format!("texts.{lang}"),
                        format!(
                            "{lang:?} has no built-in texts; give all of them (missing: {})",
                            missing.join(", ")
                        ),
                    );
                }
            }
        }

        // ids: one namespace, so that data-consent="x" is never ambiguous
        let mut ids = BTreeSet::new();
        c.count("categories", self.categories.len(), Limits::CATEGORIES);
        for (i, cat) in self.categories.iter().enumerate() {
            let path = format!("categories[{i}]");
            c.id(&format!("{path}.id"), &cat.id, &mut ids);
            let built_in = texts::BUILT_IN_CATEGORIES.contains(&cat.id.as_str())
                && self.site.languages.iter().all(|l| texts::is_built_in(l));
            match (&cat.name, built_in) {
                (Some(name), _) => c.localized(&format!("{path}.name"), name, Limits::NAME_LEN),
                (None, true) => {}
                (None, false) => c.err(
                    format!("{path}.name"),
                    "is required for a category that is not built in",
                ),
            }
            match (&cat.description, built_in) {
                (Some(d), _) => c.localized(&format!("{path}.description"), d, Limits::TEXT_LEN),
                (None, true) => {}
                (None, false) => c.err(
                    format!("{path}.description"),
                    "is required for a category that is not built in",
                ),
            }
            if cat.id != NECESSARY && !self.services.iter().any(|s| s.category == cat.id) {
                c.err(
                    path.clone(),
                    format!("category {:?} has no services; visitors cannot know what they consent to (add its services or remove it)", cat.id),
                );
            }
        }
        if !ids.contains(NECESSARY) {
            ids.insert(NECESSARY.to_string());
        }

        c.count("services", self.services.len(), Limits::SERVICES);
        for (i, s) in self.services.iter().enumerate() {
            let path = format!("services[{i}]");
            c.id(&format!("{path}.id"), &s.id, &mut ids);
            c.text(&format!("{path}.name"), &s.name, Limits::NAME_LEN);
            if s.category != NECESSARY && !self.categories.iter().any(|cat| cat.id == s.category) {
                c.err(
                    format!("{path}.category"),
                    format!("unknown category {:?}", s.category),
                );
            }
            c.localized(
                &format!("{path}.description"),
                &s.description,
                Limits::TEXT_LEN,
            );
            c.count(
                &format!("{path}.purposes"),
                s.purposes.len(),
                Limits::LIST_LEN,
            );
            for (j, p) in s.purposes.iter().enumerate() {
                c.localized(&format!("{path}.purposes[{j}]"), p, Limits::NAME_LEN);
            }
            if let Some(provider) = &s.provider {
                c.party(&format!("{path}.provider"), provider);
                if s.privacy_policy_url.is_none() {
                    c.err(
                        format!("{path}.privacy_policy_url"),
                        "is required for a third-party service",
                    );
                }
            }
            if s.category != NECESSARY && s.legal_basis != super::LegalBasis::Consent {
                c.err(
                    format!("{path}.legal_basis"),
                    format!(
                        "a service in category {:?} needs consent (§ 25 TDDDG); other legal bases are for necessary services only",
                        s.category
                    ),
                );
            }
            if s.category == NECESSARY && s.fingerprinting {
                c.err(
                    format!("{path}.fingerprinting"),
                    "a necessary service must not fingerprint visitors",
                );
            }
            c.count(
                &format!("{path}.cookies"),
                s.cookies.len(),
                Limits::COOKIES_PER_SERVICE,
            );
            for (j, cookie) in s.cookies.iter().enumerate() {
                let cpath = format!("{path}.cookies[{j}]");
                c.text(&format!("{cpath}.name"), &cookie.name, Limits::NAME_LEN);
                if cookie.name.matches('*').count() > 1 || cookie.name == "*" {
                    c.err(
                        format!("{cpath}.name"),
                        "a pattern may hold one '*' with a fixed prefix or suffix",
                    );
                }
                if cookie
                    .name
                    .chars()
                    .any(|ch| ch.is_whitespace() || matches!(ch, ';' | ',' | '=' | '"'))
                {
                    c.err(
                        format!("{cpath}.name"),
                        format!("{:?} cannot be a cookie or storage key name", cookie.name),
                    );
                }
                if let Some(domain) = &cookie.domain
                    && !is_host(domain.trim_start_matches('.'))
                {
                    c.err(
                        format!("{cpath}.domain"),
                        format!("expected a host like \".example.com\", got {domain:?}"),
                    );
                }
                if let Err(e) = Lifetime::parse(&cookie.lifetime) {
                    c.err(format!("{cpath}.lifetime"), e.to_string());
                }
                c.localized(
                    &format!("{cpath}.purpose"),
                    &cookie.purpose,
                    Limits::TEXT_LEN,
                );
            }
            if let Some(u) = &s.privacy_policy_url {
                c.url(&format!("{path}.privacy_policy_url"), u);
            }
            if let Some(u) = &s.opt_out_url {
                c.url(&format!("{path}.opt_out_url"), u);
            }
            c.transfers(&path, &s.transfers);
            if let Some(r) = &s.retention {
                c.localized(&format!("{path}.retention"), r, Limits::NAME_LEN);
            }
            if let Some(provider) = &s.provider
                && provider.country.len() == 2
                && !EEA.contains(&provider.country.as_str())
                && !s.transfers.iter().any(|t| t.country == provider.country)
            {
                c.err(
                    format!("{path}.transfers"),
                    format!("the provider sits in {:?}, outside the EU/EEA: declare the transfer and its safeguard", provider.country),
                );
            }
            if s.category == NECESSARY && !s.consent_mode.is_empty() {
                c.err(
                    format!("{path}.consent_mode"),
                    "Consent Mode signals belong to services that need consent",
                );
            }
            c.count(&format!("{path}.hosts"), s.hosts.len(), Limits::LIST_LEN);
            for (j, h) in s.hosts.iter().enumerate() {
                if !is_host(h) {
                    c.err(
                        format!("{path}.hosts[{j}]"),
                        format!("expected a host name like \"cdn.example.com\", got {h:?}"),
                    );
                }
            }
        }

        c.count("purposes", self.purposes.len(), Limits::PURPOSES);
        for (i, p) in self.purposes.iter().enumerate() {
            let path = format!("purposes[{i}]");
            c.id(&format!("{path}.id"), &p.id, &mut ids);
            c.localized(&format!("{path}.name"), &p.name, Limits::NAME_LEN);
            c.localized(
                &format!("{path}.description"),
                &p.description,
                Limits::TEXT_LEN,
            );
            for (j, s) in p.services.iter().enumerate() {
                if self.service(s).is_none() {
                    c.err(
                        format!("{path}.services[{j}]"),
                        format!("unknown service {s:?}"),
                    );
                }
            }
            if let Some(r) = &p.retention {
                c.localized(&format!("{path}.retention"), r, Limits::NAME_LEN);
            }
            c.count(
                &format!("{path}.recipients"),
                p.recipients.len(),
                Limits::LIST_LEN,
            );
            for (j, r) in p.recipients.iter().enumerate() {
                c.localized(&format!("{path}.recipients[{j}]"), r, Limits::NAME_LEN);
            }
            c.count(
                &format!("{path}.processors"),
                p.processors.len(),
                Limits::LIST_LEN,
            );
            for (j, party) in p.processors.iter().enumerate() {
                c.party(&format!("{path}.processors[{j}]"), party);
            }
            c.transfers(&path, &p.transfers);
            if let Some(rule) = &p.proof_retention {
                c.proof_retention(&format!("{path}.proof_retention"), rule, false);
            }
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        for ok in ["necessary", "google-ads", "awin_2", "a"] {
            assert!(is_id(ok), "{ok}");
        }
        for bad in [
            "",
            "Mixpanel",
            "1abc",
            "a b",
            "a.b",
            "abcdefghijklmnopqrstuvwxy",
            "ä",
        ] {
            assert!(!is_id(bad), "{bad}");
        }
    }

    #[test]
    fn urls() {
        assert!(is_url("https://example.com/datenschutz"));
        assert!(is_url("http://localhost:8080/impressum"));
        for bad in [
            "http://example.com",
            "javascript:alert(1)",
            "https://",
            "https://x y.de",
            "/datenschutz",
            "https://localhost",
            "http://localhost.evil.com/",
        ] {
            assert!(!is_url(bad), "{bad}");
        }
    }

    #[test]
    fn languages_colours_hosts() {
        assert!(
            is_language("de") && is_language("de-AT") && !is_language("DE") && !is_language("deu")
        );
        assert!(
            is_color("#fff") && is_color("#1D4ed8") && !is_color("blue") && !is_color("#12345")
        );
        assert!(
            is_host("cdn.mxpnl.com")
                && !is_host("localhost")
                && !is_host("a..b")
                && !is_host("A.com")
        );
    }
}
