//! The published configs, ready to serve: the config (as `/loader` or within
//! `/s/{site}/k.js`) is on the path of every first visit, and every recorded
//! decision is checked against the config it names, so each site's current
//! config is parsed and serialised once per version and kept in memory.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use keksdose_shared::SiteConfig;
use sha2::Digest as _;

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
    /// The same with `words` (`?words=1`, what loaders before `/loader` asked for): a body of its
    /// own, so that a banner built before `words` existed, still cached by
    /// visitors, gets the body it knows.
    pub json_words: crate::http::assets::Encoded,
    /// The ETag of [`json_words`](Self::json_words): the version and a digest of
    /// the words, which change with the server's release, not the config.
    pub words_etag: String,
    /// `GET /v1/sites/{site}/banner`: per language the site offers, the banner's
    /// view of the config (`keksdose_widget::view::View`), serialised and
    /// compressed once, with its ETag (the version and a digest of the view:
    /// its words change with the server's release, not the config).
    pub banner: std::collections::BTreeMap<String, (crate::http::assets::Encoded, String)>,
    /// `/s/{site}/k.js`: the loader with this version and its first layers,
    /// made on the first request for it ([`crate::http::assets::Assets::site_loader`]).
    pub site_loader: std::sync::OnceLock<Option<crate::http::assets::Asset>>,
    /// What the per-site loader carries, made on the first request for it
    /// ([`loader_data`](Self::loader_data)).
    pub loader_data: std::sync::OnceLock<LoaderData>,
}

/// What the per-site loader carries (`crate::http::assets::site_literal`): the
/// config as the loader needs it, the first layer's stylesheet and its markup
/// in every language the site offers. `/s/{site}/k.js` has it written in;
/// `GET /v1/sites/{site}/loader` serves it as JSON, which `/k.js` with
/// `data-site` asks for instead of the config.
#[derive(Debug)]
pub struct LoaderData {
    /// The JSON text (a JavaScript literal too).
    pub text: String,
    /// The same, compressed once.
    pub encoded: crate::http::assets::Encoded,
    /// Its ETag: the version and a digest (the words and the markup change
    /// with the server's release, not the config).
    pub etag: String,
}

impl Published {
    /// What the per-site loader carries: rendered (every first layer) on the
    /// first call, then kept with this version. Call it off the async workers.
    pub fn loader_data(&self) -> &LoaderData {
        self.loader_data.get_or_init(|| {
            let text = crate::http::assets::site_literal(self);
            let etag = format!("\"{}.{}\"", self.version, short_digest(text.as_bytes()));
            LoaderData {
                encoded: crate::http::assets::Encoded::with_brotli(
                    text.clone().into_bytes(),
                    crate::http::assets::CONFIG_BROTLI_QUALITY,
                ),
                text,
                etag,
            }
        })
    }
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
        let body = |words| {
            serde_json::to_vec(&crate::http::schema::PublishedConfig {
                site: site.id.clone(),
                version: site.config_version.clone(),
                words,
                config: config.clone(),
            })
            .map_err(|e| StoreError::Internal(e.to_string()))
        };
        let json = body(None)?;
        let words = keksdose_shared::texts::words_by_language(&config);
        let words_json =
            serde_json::to_vec(&words).map_err(|e| StoreError::Internal(e.to_string()))?;
        let words_etag = format!("\"{}.{}\"", site.config_version, short_digest(&words_json));
        let mut banner = std::collections::BTreeMap::new();
        for (lang, words) in &words {
            let view = keksdose_widget::view::View::new(&config, &site.config_version, lang, words);
            let json =
                serde_json::to_vec(&view).map_err(|e| StoreError::Internal(e.to_string()))?;
            let etag = format!("\"{}.{}\"", site.config_version, short_digest(&json));
            banner.insert(
                lang.clone(),
                (
                    crate::http::assets::Encoded::with_brotli(
                        json,
                        crate::http::assets::CONFIG_BROTLI_QUALITY,
                    ),
                    etag,
                ),
            );
        }
        let json_words = body(Some(words))?;
        let p = Arc::new(Published {
            site: site.id.clone(),
            version: site.config_version.clone(),
            config,
            json: crate::http::assets::Encoded::with_brotli(
                json,
                crate::http::assets::CONFIG_BROTLI_QUALITY,
            ),
            json_words: crate::http::assets::Encoded::with_brotli(
                json_words,
                crate::http::assets::CONFIG_BROTLI_QUALITY,
            ),
            words_etag,
            banner,
            site_loader: std::sync::OnceLock::new(),
            loader_data: std::sync::OnceLock::new(),
        });
        if let Ok(mut m) = self.0.write() {
            m.insert(site.id.clone(), p.clone());
        }
        Ok(p)
    }
}

/// The first 6 bytes of `bytes`' SHA-256, in hex: an ETag's digest.
pub(crate) fn short_digest(bytes: &[u8]) -> String {
    sha2::Sha256::digest(bytes)[..6]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
