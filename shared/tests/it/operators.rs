//! The five operators Keksdose was built from (`../shared/seeds/`, README's
//! "The five operators"): each example config held to a table of what that
//! operator's privacy policy states — every service with its provider, seat,
//! cookies and lifetimes, data retention, third-country transfers and legal
//! basis, and every consent outside cookies with its double opt-in, proof
//! retention, processors and transfers. The tables were written from the
//! policies' text (line numbers in their comments), not from the configs; where
//! the law moved on since the policy, the table states what the law requires
//! today, as the config does, and says so.

use std::collections::BTreeSet;

use keksdose_shared::SiteConfig;

mod dogandme;
mod fluxcess;
mod sessionbutler;
mod sevdesk;
mod tutory;

/// A service as the policy states it.
pub struct Expect {
    pub service: &'static str,
    pub provider: Option<&'static str>,
    pub country: Option<&'static str>,
    /// (name, lifetime as the config writes it)
    pub cookies: &'static [(&'static str, &'static str)],
    /// A phrase of the German retention text.
    pub retention: Option<&'static str>,
    /// (country, safeguard)
    pub transfers: &'static [(&'static str, &'static str)],
    pub legal_basis: &'static str,
}

/// A consent outside cookies as the policy states it.
pub struct ExpectPurpose {
    pub purpose: &'static str,
    pub double_opt_in: bool,
    /// (keep, after)
    pub proof_retention: Option<(&'static str, &'static str)>,
    pub processors: &'static [&'static str],
    pub transfers: &'static [(&'static str, &'static str)],
}

fn code<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default()
}

fn check(id: &str, services: &[Expect], purposes: &[ExpectPurpose]) {
    let path = keksdose_tests_path(id);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let config = SiteConfig::from_toml(&text).unwrap_or_else(|e| panic!("{id}: {e}"));
    config
        .validate()
        .unwrap_or_else(|e| panic!("{id} does not pass `keksdose config check`: {e}"));
    let mut problems = Vec::new();
    let listed: BTreeSet<&str> = services.iter().map(|e| e.service).collect();
    for s in &config.services {
        if !listed.contains(s.id.as_str()) {
            problems.push(format!("service {:?} is not in the policy's table", s.id));
        }
    }
    for e in services {
        let Some(s) = config.service(e.service) else {
            problems.push(format!("the policy's service {:?} is missing", e.service));
            continue;
        };
        let provider = s.provider.as_ref();
        if provider.map(|p| p.name.as_str()) != e.provider {
            problems.push(format!(
                "{}: provider {:?}, the policy: {:?}",
                e.service,
                provider.map(|p| &p.name),
                e.provider
            ));
        }
        if provider.map(|p| p.country.as_str()) != e.country {
            problems.push(format!(
                "{}: provider's country {:?}, the policy: {:?}",
                e.service,
                provider.map(|p| &p.country),
                e.country
            ));
        }
        let cookies: BTreeSet<(&str, &str)> = s
            .cookies
            .iter()
            .map(|c| (c.name.as_str(), c.lifetime.as_str()))
            .collect();
        let expected: BTreeSet<(&str, &str)> = e.cookies.iter().copied().collect();
        if cookies != expected {
            problems.push(format!(
                "{}: cookies {cookies:?}, the policy: {expected:?}",
                e.service
            ));
        }
        let retention = s.retention.as_ref().map(|r| r.get("de", "de"));
        match (e.retention, retention) {
            (None, None) => {}
            (Some(phrase), Some(text)) if text.contains(phrase) => {}
            (want, got) => problems.push(format!(
                "{}: retention {got:?}, the policy: {want:?}",
                e.service
            )),
        }
        let transfers: BTreeSet<(String, String)> = s
            .transfers
            .iter()
            .map(|t| (t.country.clone(), code(&t.safeguard)))
            .collect();
        let expected: BTreeSet<(String, String)> = e
            .transfers
            .iter()
            .map(|(c, s)| (c.to_string(), s.to_string()))
            .collect();
        if transfers != expected {
            problems.push(format!(
                "{}: transfers {transfers:?}, the policy: {expected:?}",
                e.service
            ));
        }
        if code(&s.legal_basis) != e.legal_basis {
            problems.push(format!(
                "{}: legal basis {:?}, the policy: {:?}",
                e.service,
                code(&s.legal_basis),
                e.legal_basis
            ));
        }
    }
    let listed: BTreeSet<&str> = purposes.iter().map(|e| e.purpose).collect();
    for p in &config.purposes {
        if !listed.contains(p.id.as_str()) {
            problems.push(format!("purpose {:?} is not in the policy's table", p.id));
        }
    }
    for e in purposes {
        let Some(p) = config.purposes.iter().find(|p| p.id == e.purpose) else {
            problems.push(format!("the policy's purpose {:?} is missing", e.purpose));
            continue;
        };
        if p.double_opt_in != e.double_opt_in {
            problems.push(format!("{}: double opt-in {}", e.purpose, p.double_opt_in));
        }
        let rule = p
            .proof_retention
            .as_ref()
            .map(|r| (r.keep.clone(), code(&r.after)));
        let want = e
            .proof_retention
            .map(|(k, a)| (k.to_string(), a.to_string()));
        if rule != want {
            problems.push(format!(
                "{}: proof retention {rule:?}, the policy: {want:?}",
                e.purpose
            ));
        }
        let processors: BTreeSet<&str> = p.processors.iter().map(|x| x.name.as_str()).collect();
        let want: BTreeSet<&str> = e.processors.iter().copied().collect();
        if processors != want {
            problems.push(format!(
                "{}: processors {processors:?}, the policy: {want:?}",
                e.purpose
            ));
        }
        let transfers: BTreeSet<(String, String)> = p
            .transfers
            .iter()
            .map(|t| (t.country.clone(), code(&t.safeguard)))
            .collect();
        let want: BTreeSet<(String, String)> = e
            .transfers
            .iter()
            .map(|(c, s)| (c.to_string(), s.to_string()))
            .collect();
        if transfers != want {
            problems.push(format!(
                "{}: transfers {transfers:?}, the policy: {want:?}",
                e.purpose
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "{id}: the config differs from its policy:\n  {}",
        problems.join("\n  ")
    );
}

fn keksdose_tests_path(id: &str) -> String {
    format!("{}/../examples/sites/{id}.toml", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn sessionbutlers_config_says_what_its_policy_states() {
    check(
        "sessionbutler",
        sessionbutler::SERVICES,
        sessionbutler::PURPOSES,
    );
}

#[test]
fn dog_and_mes_config_says_what_its_policy_states() {
    check("dogandme", dogandme::SERVICES, dogandme::PURPOSES);
}

#[test]
fn sevdesks_config_says_what_its_policy_states() {
    check("sevdesk", sevdesk::SERVICES, sevdesk::PURPOSES);
}

#[test]
fn fluxcess_config_says_what_its_policy_states() {
    check("fluxcess", fluxcess::SERVICES, fluxcess::PURPOSES);
}

#[test]
fn tutorys_config_says_what_its_policy_states() {
    check("tutory", tutory::SERVICES, tutory::PURPOSES);
}

/// The table checker itself fails on a config that differs from its table.
#[test]
#[should_panic(expected = "cookies")]
fn a_config_that_differs_from_its_policy_fails() {
    const WRONG: &[Expect] = &[Expect {
        service: "google-ads",
        provider: Some("Google Ireland Limited"),
        country: Some("IE"),
        cookies: &[("_gcl_aw", "1d")],
        retention: None,
        transfers: &[("US", "adequacy")],
        legal_basis: "consent",
    }];
    let services: Vec<Expect> = dogandme::SERVICES
        .iter()
        .filter(|e| e.service != "google-ads")
        .map(|e| Expect { ..*e })
        .collect();
    let mut all: Vec<Expect> = services;
    all.extend(WRONG.iter().map(|e| Expect { ..*e }));
    check("dogandme", &all, dogandme::PURPOSES);
}
