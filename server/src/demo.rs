//! The built-in demo sites: the example configs from `examples/sites/`, compiled
//! into the binary so that `keksdose serve --demo` works from any folder.

use std::net::SocketAddr;

use anyhow::Context as _;
use keksdose_shared::SiteConfig;

use crate::sites::Site;

/// The example sites, by id.
pub const EXAMPLES: [(&str, &str); 4] = [
    ("saas", include_str!("../../examples/sites/saas.toml")),
    (
        "coaching",
        include_str!("../../examples/sites/coaching.toml"),
    ),
    (
        "education",
        include_str!("../../examples/sites/education.toml"),
    ),
    (
        "necessary-only",
        include_str!("../../examples/sites/necessary-only.toml"),
    ),
];

/// The example sites, allowed from the demo pages' origin.
pub fn sites(listen: SocketAddr) -> anyhow::Result<Vec<Site>> {
    let mut origins = vec![format!("http://{listen}")];
    if listen.ip().is_loopback() {
        origins.push(format!("http://localhost:{}", listen.port()));
        origins.push(format!("http://127.0.0.1:{}", listen.port()));
    }
    origins.dedup();
    EXAMPLES
        .iter()
        .map(|(id, text)| {
            let config =
                SiteConfig::from_toml(text).with_context(|| format!("example site {id}"))?;
            config
                .validate()
                .with_context(|| format!("example site {id}"))?;
            Ok(Site::new(id, origins.clone(), config))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_example_is_a_valid_demo_site() {
        let sites = super::sites("127.0.0.1:8080".parse().unwrap()).unwrap();
        assert_eq!(sites.len(), 4);
        assert!(
            sites
                .iter()
                .all(|s| s.origins.contains(&"http://localhost:8080".to_string()))
        );
    }
}
