//! Sites, their API keys and their configs.

use keksdose_shared::SiteConfig;
use keksdose_store::{SiteMeta, Store, now_ms};
use sha2::{Digest, Sha256};

use super::{Error, Result};
use crate::pseudonym::random_token;

/// The prefix of every API key, so that leaked keys are easy to spot and scan for.
pub const KEY_PREFIX: &str = "kd_";

/// SHA-256 (hex) of an API key, as the store keeps it.
pub fn key_hash(key: &str) -> String {
    keksdose_shared::canonical::hex(&Sha256::digest(key.as_bytes()))
}

/// A new API key and its hash; only the hash is ever stored.
fn new_key() -> (String, String) {
    let key = format!("{KEY_PREFIX}{}", random_token(32));
    let hash = key_hash(&key);
    (key, hash)
}

/// `https://host[:port]` (or plain http for localhost), nothing after it.
pub fn is_origin(o: &str) -> bool {
    let rest = o
        .strip_prefix("https://")
        .or_else(|| o.strip_prefix("http://"));
    rest.is_some_and(|r| {
        !r.is_empty()
            && !r.contains(['/', '?', '#', ' '])
            && (o.starts_with("https://")
                || r.starts_with("localhost")
                || r.starts_with("127.0.0.1"))
    })
}

/// A site's config after validation, or every problem with its path.
fn validated(config: SiteConfig) -> Result<SiteConfig> {
    config
        .validate()
        .map_err(|e| Error::invalid_with("the config is invalid", &e))?;
    Ok(config)
}

/// Whether `id` and `origins` may make a new site.
pub fn check_new(id: &str, origins: &[String]) -> Result<()> {
    if !keksdose_shared::config::is_id(id) {
        return Err(Error::invalid(format!(
            "id: expected lowercase letters, digits, '-' and '_', starting with a letter, got {id:?}"
        )));
    }
    if let Some(o) = origins.iter().find(|o| !is_origin(o)) {
        return Err(Error::invalid(format!(
            "origin: expected an origin like https://www.example.com (no path), got {o:?}"
        )));
    }
    Ok(())
}

/// Creates a site with its first config; returns the site and its API key,
/// which is shown only now.
pub async fn create<S: Store>(
    store: &S,
    id: &str,
    origins: Vec<String>,
    config: SiteConfig,
) -> Result<(SiteMeta, String)> {
    check_new(id, &origins)?;
    let config = validated(config)?;
    let (key, key_hash) = new_key();
    let site = SiteMeta {
        id: id.to_string(),
        origins,
        created_at: keksdose_shared::time::rfc3339_millis(now_ms()),
        key_hash,
        secret: random_token(32),
        config_version: config.version(),
    };
    store.create_site(site.clone(), config).await?;
    Ok((site, key))
}

/// The site, or a 404.
pub async fn get<S: Store>(store: &S, id: &str) -> Result<SiteMeta> {
    store
        .site(id)
        .await?
        .ok_or_else(|| Error::not_found(format!("unknown site {id:?}")))
}

/// Replaces a site's API key; the old one stops working at once. Returns the
/// new key, shown only now.
pub async fn rotate_key<S: Store>(store: &S, id: &str) -> Result<String> {
    let meta = get(store, id).await?;
    let (key, key_hash) = new_key();
    store.update_site(SiteMeta { key_hash, ..meta }).await?;
    Ok(key)
}

/// Validates and publishes a config; a config equal to the current one
/// publishes nothing. Returns the version now current and the one before.
pub async fn publish<S: Store>(
    store: &S,
    site: &SiteMeta,
    config: SiteConfig,
) -> Result<(String, String)> {
    let config = validated(config)?;
    let previous = site.config_version.clone();
    if config.version() == previous {
        return Ok((previous.clone(), previous));
    }
    Ok((store.publish_config(&site.id, config).await?, previous))
}

/// Every site with the number of records in its ledger.
pub async fn list<S: Store>(store: &S) -> Result<Vec<(SiteMeta, u64)>> {
    let mut out = Vec::new();
    for s in store.sites().await? {
        let records = store.head(&s.id).await?.map_or(0, |h| h.seq);
        out.push((s, records));
    }
    Ok(out)
}

/// The ids a command is about: one site (which must exist), or every site.
pub async fn chosen<S: Store>(store: &S, id: Option<&str>) -> Result<Vec<String>> {
    match id {
        Some(id) => Ok(vec![get(store, id).await?.id]),
        None => Ok(store.sites().await?.into_iter().map(|s| s.id).collect()),
    }
}

/// Creates the site, or, if it exists, gives it these origins and a new key
/// and publishes the config if it differs (the demo sites at every start).
/// Returns the API key.
pub async fn ensure<S: Store>(
    store: &S,
    id: &str,
    origins: Vec<String>,
    config: SiteConfig,
) -> Result<String> {
    let Some(meta) = store.site(id).await? else {
        return Ok(create(store, id, origins, config).await?.1);
    };
    let (key, key_hash) = new_key();
    let meta = SiteMeta {
        key_hash,
        origins,
        ..meta
    };
    store.update_site(meta.clone()).await?;
    publish(store, &meta, config).await?;
    Ok(key)
}
