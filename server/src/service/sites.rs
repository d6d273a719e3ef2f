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

/// `https://host[:port]` (or plain http for localhost), nothing after it; scheme
/// and host in any case.
pub fn is_origin(o: &str) -> bool {
    origin_key(o).is_some_and(|key| {
        let local = key
            .strip_prefix("http://")
            .map(|host| host.split(':').next().unwrap_or_default())
            .is_some_and(|host| host == "localhost" || host == "127.0.0.1");
        key.starts_with("https://") || local
    })
}

/// An origin as browsers compare it: scheme and host in lowercase, the scheme's
/// default port left out (`HTTPS://Www.Example.de:443` is
/// `https://www.example.de`); `None` if it is not `http(s)://host[:port]`.
pub fn origin_key(o: &str) -> Option<String> {
    let (scheme, rest) = o.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "https" => ":443",
        "http" => ":80",
        _ => return None,
    };
    // Browsers send an internationalised name as punycode: so must the site.
    if rest.is_empty() || !rest.is_ascii() || rest.contains(['/', '?', '#', ' ', '@', '\\']) {
        return None;
    }
    let lower = rest.to_ascii_lowercase();
    // A port follows the last ':' unless that ':' is inside an IPv6 literal.
    let (name, port) = match lower.rsplit_once(':') {
        Some((name, port)) if name.ends_with(']') || !name.contains(':') => (name, Some(port)),
        _ => (lower.as_str(), None),
    };
    if name.is_empty() || (name.starts_with('[') != name.ends_with(']')) {
        return None;
    }
    let port = match port {
        None => String::new(),
        Some(p) => {
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let n: u16 = p.parse().ok().filter(|n| *n > 0)?;
            let p = format!(":{n}");
            if p == default_port { String::new() } else { p }
        }
    };
    Some(format!("{scheme}://{name}{port}"))
}

/// Whether a browser's `Origin` is one of the site's origins.
pub fn origin_allowed(origins: &[String], origin: &str) -> bool {
    let Some(asked) = origin_key(origin) else {
        return false;
    };
    origins
        .iter()
        .any(|o| origin_key(o).is_some_and(|k| k == asked))
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

#[cfg(test)]
mod tests {
    use super::{is_origin, origin_allowed, origin_key};

    #[test]
    fn origins_compare_as_browsers_send_them() {
        let key = |o: &str| origin_key(o);
        assert_eq!(
            key("HTTPS://www.SessionButler.de").as_deref(),
            Some("https://www.sessionbutler.de")
        );
        assert_eq!(
            key("https://www.example.de:443").as_deref(),
            Some("https://www.example.de")
        );
        assert_eq!(
            key("http://localhost:80").as_deref(),
            Some("http://localhost")
        );
        assert_eq!(
            key("https://example.de:8443").as_deref(),
            Some("https://example.de:8443")
        );
        assert_eq!(
            key("http://[::1]:8080").as_deref(),
            Some("http://[::1]:8080")
        );
        assert_eq!(
            key("https://[2001:DB8::1]:443").as_deref(),
            Some("https://[2001:db8::1]")
        );
        assert_eq!(key("https://[::1]").as_deref(), Some("https://[::1]"));
        assert_eq!(
            key("https://example.de:0443").as_deref(),
            Some("https://example.de")
        );
        for bad in [
            "ftp://example.de",
            "https://",
            "https://example.de/",
            "https://example.de:",
            "https://example.de:12a",
            "https://user@example.de",
            "example.de",
            "https://example.de:65536",
            "https://example.de:0",
            "https://[::1]:abc",
            "https://münchen.de",
            "https://[::1",
        ] {
            assert_eq!(key(bad), None, "{bad}");
        }
        let site = ["https://www.SessionButler.de".to_string()];
        assert!(origin_allowed(&site, "https://www.sessionbutler.de"));
        assert!(origin_allowed(&site, "https://www.sessionbutler.de:443"));
        assert!(!origin_allowed(&site, "http://www.sessionbutler.de"));
        assert!(!origin_allowed(&site, "https://sessionbutler.de"));
        assert!(!origin_allowed(&site, "null"));
        assert!(is_origin("HTTPS://WWW.EXAMPLE.DE"));
        assert!(!is_origin("http://example.de"));
        assert!(is_origin("http://127.0.0.1:8080"));
        assert!(is_origin("http://localhost"));
        assert!(!is_origin("http://localhost.evil.example"));
        assert!(!is_origin("http://127.0.0.1.nip.io:8080"));
    }
}

/// Whether visitors who decided under one config are asked again under another
/// (`keksdose_shared::renewal`, for a decision made just now that covers every
/// category and service of the first).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reask {
    /// Decisions still hold.
    No,
    /// `consent.revision` is raised: everyone is asked again.
    Revision { from: u32, to: u32 },
    /// Categories or services that need consent are new: everyone who decided
    /// before is asked again.
    NewIds { ids: Vec<String> },
}

/// [`Reask`] from `current` to `next`.
pub fn reask(current: &SiteConfig, next: &SiteConfig) -> Reask {
    use keksdose_shared::renewal::{Renewal, check};
    let ids = current
        .categories()
        .iter()
        .map(|c| c.id.clone())
        .chain(current.services.iter().map(|s| s.id.clone()))
        .collect();
    let now = now_ms() / 1000;
    let stored = keksdose_shared::cookie::StoredDecision {
        consent_id: None,
        pending: None,
        decided_at: now,
        config_version: current.version(),
        revision: current.consent.revision,
        action: keksdose_shared::Action::AcceptAll,
        signals: Default::default(),
        granted: ids,
        denied: Default::default(),
    };
    match check(next, &stored, now) {
        None | Some(Renewal::Expired) => Reask::No,
        Some(Renewal::Revision { stored, current }) => Reask::Revision {
            from: stored,
            to: current,
        },
        Some(Renewal::NewIds(ids)) => Reask::NewIds { ids },
    }
}

/// Where two configs differ: a path and the value before and after (JSON,
/// cut at 120 characters; `null` where there was none).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Difference {
    pub path: String,
    pub before: String,
    pub after: String,
}

/// Where two configs differ (in their JSON form), at most 60 places.
pub fn differences(a: &SiteConfig, b: &SiteConfig) -> Vec<Difference> {
    fn shown(v: &serde_json::Value) -> String {
        let text = v.to_string();
        match text.char_indices().nth(120) {
            Some((i, _)) => format!("{}…", &text[..i]),
            None => text,
        }
    }
    fn walk(path: &str, a: &serde_json::Value, b: &serde_json::Value, out: &mut Vec<Difference>) {
        use serde_json::Value::{Array, Null, Object};
        if a == b || out.len() >= 60 {
            return;
        }
        match (a, b) {
            (Object(x), Object(y)) => {
                let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
                for k in keys {
                    let p = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    walk(
                        &p,
                        x.get(k).unwrap_or(&Null),
                        y.get(k).unwrap_or(&Null),
                        out,
                    );
                }
            }
            (Array(x), Array(y)) if x.len() == y.len() => {
                for (i, (xa, ya)) in x.iter().zip(y).enumerate() {
                    walk(&format!("{path}[{i}]"), xa, ya, out);
                }
            }
            _ => out.push(Difference {
                path: path.to_string(),
                before: shown(a),
                after: shown(b),
            }),
        }
    }
    let mut out = Vec::new();
    if let (Ok(a), Ok(b)) = (serde_json::to_value(a), serde_json::to_value(b)) {
        walk("", &a, &b, &mut out);
    }
    out
}

/// `POST /v1/admin/sites/{site}/config/check`: what publishing a config would do.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ConfigCheck {
    pub site: String,
    /// The version it would have.
    pub version: String,
    /// Whether it is the version published now (publishing changes nothing).
    pub published: bool,
    /// Where it differs from the published config (at most 60 places).
    pub differences: Vec<Difference>,
    /// Whether visitors who decided under the published config are asked again.
    pub reask: Reask,
    /// Texts missing in an offered language (the banner falls back to the default).
    pub notices: Vec<keksdose_shared::api::ValidationErrorBody>,
}

/// Validates `config` (every problem with its path, as publishing would) and
/// compares it with the site's published one.
pub async fn check<S: Store>(
    store: &S,
    site: &SiteMeta,
    config: SiteConfig,
) -> Result<ConfigCheck> {
    let config = validated(config)?;
    let current = store
        .config(&site.id, &site.config_version)
        .await?
        .ok_or_else(|| Error::not_found("the published config is not stored"))?;
    let version = config.version();
    Ok(ConfigCheck {
        site: site.id.clone(),
        published: version == site.config_version,
        differences: differences(&current, &config),
        reask: reask(&current, &config),
        notices: config.notices().iter().map(Into::into).collect(),
        version,
    })
}
