//! The catalogue of well-known trackers and third-party services (`catalogue.toml`,
//! compiled in): what a scan proposes for what it finds undeclared.

use std::sync::OnceLock;

use anyhow::{Context, Result};
pub use keksdose_shared::config::name_matches;
use keksdose_shared::config::{Localized, Party, Storage, Transfer};
use serde::Deserialize;

/// The catalogue file, as the project keeps it.
pub const SOURCE: &str = include_str!("../catalogue.toml");

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    trackers: Vec<Tracker>,
}

/// One service: what a config entry for it would say, and where that comes from.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tracker {
    pub id: String,
    pub name: String,
    pub category: String,
    pub legal_basis: String,
    pub description: Localized,
    pub provider: Party,
    pub privacy_policy_url: String,
    #[serde(default)]
    pub transfers: Vec<Transfer>,
    pub hosts: Vec<String>,
    /// The vendor's documentation the entry was taken from, and when.
    pub source: String,
    #[serde(default)]
    pub cookies: Vec<TrackerCookie>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackerCookie {
    pub name: String,
    #[serde(default)]
    pub storage: Storage,
    pub lifetime: String,
    pub purpose: Localized,
}

/// The compiled-in catalogue, parsed once.
pub fn all() -> &'static [Tracker] {
    static CATALOGUE: OnceLock<Vec<Tracker>> = OnceLock::new();
    CATALOGUE.get_or_init(|| parse(SOURCE).unwrap_or_default())
}

/// Parses a catalogue file.
pub fn parse(text: &str) -> Result<Vec<Tracker>> {
    let file: File = toml::from_str(text).context("reading the tracker catalogue")?;
    Ok(file.trackers)
}

/// Whether `host` is `pattern` or, for `*.x`, x or a subdomain of it.
pub fn host_matches(pattern: &str, host: &str) -> bool {
    match pattern.strip_prefix("*.") {
        Some(base) => host == base || host.ends_with(&format!(".{base}")),
        None => host == pattern,
    }
}

impl Tracker {
    pub fn knows_host(&self, host: &str) -> bool {
        self.hosts.iter().any(|p| host_matches(p, host))
    }

    pub fn cookie(&self, storage: Storage, name: &str) -> Option<&TrackerCookie> {
        self.cookies
            .iter()
            .find(|c| c.storage == storage && name_matches(&c.name, name))
    }
}

/// The entry that knows this host.
pub fn by_host(host: &str) -> Option<&'static Tracker> {
    all().iter().find(|t| t.knows_host(host))
}

/// The entry that knows this cookie or storage key.
pub fn by_name(storage: Storage, name: &str) -> Option<&'static Tracker> {
    all().iter().find(|t| t.cookie(storage, name).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;
    use keksdose_shared::lifetime::Lifetime;

    #[test]
    fn the_catalogue_parses_and_every_entry_is_usable() {
        let all = parse(SOURCE).expect("catalogue");
        assert!(all.len() >= 20, "only {} entries", all.len());
        let mut ids = std::collections::BTreeSet::new();
        for t in &all {
            assert!(ids.insert(t.id.clone()), "{} twice", t.id);
            assert!(!t.hosts.is_empty(), "{} names no host", t.id);
            assert!(t.source.contains("https://"), "{} names no source", t.id);
            for c in &t.cookies {
                Lifetime::parse(&c.lifetime).unwrap_or_else(|e| panic!("{} {}: {e}", t.id, c.name));
            }
        }
    }

    #[test]
    fn the_example_sites_trackers_are_known() {
        for (host, id) in [
            ("www.google-analytics.com", "google-analytics"),
            ("fonts.googleapis.com", "google-fonts"),
            ("static.hotjar.com", "hotjar"),
            ("cdn.mxpnl.com", "mixpanel"),
            ("connect.facebook.net", "meta-pixel"),
        ] {
            assert_eq!(by_host(host).map(|t| t.id.as_str()), Some(id), "{host}");
        }
        for name in [
            "_ga",
            "_ga_ABC123",
            "_hjSessionUser_123",
            "mp_0a1b2c3d_mixpanel",
            "_fbp",
        ] {
            assert!(by_name(Storage::Cookie, name).is_some(), "{name}");
        }
        assert!(by_host("example.org").is_none());
        assert!(by_name(Storage::Cookie, "sessionid").is_none());
    }

    #[test]
    fn patterns() {
        assert!(host_matches("*.hotjar.com", "hotjar.com"));
        assert!(host_matches("*.hotjar.com", "static.hotjar.com"));
        assert!(!host_matches("*.hotjar.com", "nothotjar.com"));
        assert!(!host_matches("hotjar.com", "static.hotjar.com"));
        assert!(name_matches("_ga_*", "_ga_X1"));
        assert!(!name_matches("_ga_*", "_ga"));
    }
}
