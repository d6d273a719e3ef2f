//! Published site configs, held in memory, ready to serve.
//!
//! A [`Site`] keeps its config, the config's version and the exact JSON bytes the
//! config endpoint answers with (serialised once, not per request). The ledger
//! issue puts these behind the store; this module does no IO.

use std::collections::BTreeMap;

use keksdose_shared::SiteConfig;

/// One site as the public API serves it.
#[derive(Debug, Clone)]
pub struct Site {
    pub id: String,
    /// Origins allowed to call the public API from a browser (CORS).
    pub origins: Vec<String>,
    pub config: SiteConfig,
    pub version: String,
    /// `{"site", "version", "config"}`, serialised once.
    pub config_json: Vec<u8>,
}

impl Site {
    pub fn new(id: &str, origins: Vec<String>, config: SiteConfig) -> Site {
        let version = config.version();
        let config_json = serde_json::to_vec(&serde_json::json!({
            "site": id,
            "version": version,
            "config": config,
        }))
        .unwrap_or_default();
        Site {
            id: id.to_string(),
            origins,
            config,
            version,
            config_json,
        }
    }
}

/// Every site this server knows, by id.
#[derive(Debug, Default, Clone)]
pub struct Sites(BTreeMap<String, Site>);

impl Sites {
    pub fn insert(&mut self, site: Site) {
        self.0.insert(site.id.clone(), site);
    }

    pub fn get(&self, id: &str) -> Option<&Site> {
        self.0.get(id)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Site> {
        self.0.values()
    }
}
