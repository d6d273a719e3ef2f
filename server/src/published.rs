//! The published configs, ready to serve: the config endpoint is the hot path of
//! every first visit, and every recorded decision is checked against the config
//! it names, so each site's current config is parsed and serialised once per
//! version and kept in memory.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use keksdose_shared::SiteConfig;

use keksdose_store::{SiteMeta, Store, StoreError};

/// A site's current config as the public API serves it.
#[derive(Debug)]
pub struct Published {
    /// The site's id.
    pub site: String,
    pub version: String,
    pub config: SiteConfig,
    /// `{"site", "version", "config"}`, serialised and compressed once.
    pub json: crate::http::assets::Encoded,
    /// `/s/{site}/k.js`: the loader with this version and its first layers,
    /// made on the first request for it ([`crate::http::assets::Assets::site_loader`]).
    pub site_loader: std::sync::OnceLock<Option<crate::http::assets::Asset>>,
}

/// The cache, keyed by site id; an entry is replaced when the site's current
/// version changes.
#[derive(Debug, Default)]
pub struct PublishedCache(RwLock<HashMap<String, Arc<Published>>>);

impl PublishedCache {
    /// The site's current config.
    pub async fn get<S: Store>(
        &self,
        store: &S,
        site: &SiteMeta,
    ) -> Result<Arc<Published>, StoreError> {
        if let Some(p) = self.0.read().ok().and_then(|m| m.get(&site.id).cloned())
            && p.version == site.config_version
        {
            return Ok(p);
        }
        let config = store
            .config(&site.id, &site.config_version)
            .await?
            .ok_or_else(|| {
                StoreError::Internal(format!(
                    "site {:?} has no config {}",
                    site.id, site.config_version
                ))
            })?;
        let json = serde_json::to_vec(&crate::http::schema::PublishedConfig {
            site: site.id.clone(),
            version: site.config_version.clone(),
            words: keksdose_shared::texts::words_by_language(&config),
            config: config.clone(),
        })
        .map_err(|e| StoreError::Internal(e.to_string()))?;
        let p = Arc::new(Published {
            site: site.id.clone(),
            version: site.config_version.clone(),
            config,
            json: crate::http::assets::Encoded::with_brotli(
                json,
                crate::http::assets::CONFIG_BROTLI_QUALITY,
            ),
            site_loader: std::sync::OnceLock::new(),
        });
        if let Ok(mut m) = self.0.write() {
            m.insert(site.id.clone(), p.clone());
        }
        Ok(p)
    }
}
