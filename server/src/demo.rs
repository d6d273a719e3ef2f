//! The built-in demo sites: the example configs from `examples/sites/`, compiled
//! into the binary so that `keksdose serve --demo` works from any folder.

use std::net::SocketAddr;

use anyhow::Context as _;
use keksdose_shared::SiteConfig;

/// The example sites, by id.
pub const EXAMPLES: [(&str, &str); 7] = [
    ("saas", include_str!("../../examples/sites/saas.toml")),
    (
        "coaching",
        include_str!("../../examples/sites/coaching.toml"),
    ),
    // The five operators Keksdose was built from, faithful to their policies.
    (
        "sessionbutler",
        include_str!("../../examples/sites/sessionbutler.toml"),
    ),
    (
        "dogandme",
        include_str!("../../examples/sites/dogandme.toml"),
    ),
    ("sevdesk", include_str!("../../examples/sites/sevdesk.toml")),
    (
        "fluxcess",
        include_str!("../../examples/sites/fluxcess.toml"),
    ),
    ("tutory", include_str!("../../examples/sites/tutory.toml")),
];

/// The example configs, validated.
pub fn configs() -> anyhow::Result<Vec<(&'static str, SiteConfig)>> {
    EXAMPLES
        .iter()
        .map(|(id, text)| {
            let config =
                SiteConfig::from_toml(text).with_context(|| format!("example site {id}"))?;
            config
                .validate()
                .with_context(|| format!("example site {id}"))?;
            Ok((*id, config))
        })
        .collect()
}

/// The origins the demo pages are served from.
pub fn origins(listen: SocketAddr) -> Vec<String> {
    let mut origins = vec![format!("http://{listen}")];
    if listen.ip().is_loopback() || listen.ip().is_unspecified() {
        for host in ["localhost", "127.0.0.1"] {
            let o = format!("http://{host}:{}", listen.port());
            if !origins.contains(&o) {
                origins.push(o);
            }
        }
    }
    origins
}

/// Creates the example sites, or renews their origins and keys and publishes
/// changed configs; returns each site's API key (renewed at every start).
pub async fn install<S: keksdose_store::Store>(
    store: &S,
    listen: SocketAddr,
) -> anyhow::Result<Vec<(&'static str, String)>> {
    let mut keys = Vec::new();
    for (id, config) in configs()? {
        let key = crate::service::sites::ensure(store, id, origins(listen), config)
            .await
            .with_context(|| format!("example site {id}"))?;
        keys.push((id, key));
    }
    Ok(keys)
}

/// The demo's console accounts: one per role, each with that role on every
/// demo site, with a new password at every start (printed, like the keys).
pub const OPERATORS: [(&str, crate::service::operators::Role); 3] = [
    ("admin@demo.example", crate::service::operators::Role::Admin),
    (
        "editor@demo.example",
        crate::service::operators::Role::Editor,
    ),
    ("dpo@demo.example", crate::service::operators::Role::Dpo),
];

/// Creates or renews the demo's console accounts; returns (email, password).
pub async fn install_operators<S: keksdose_store::Store>(
    store: &S,
) -> anyhow::Result<Vec<(&'static str, String)>> {
    use crate::service::operators;
    let mut out = Vec::new();
    for (email, role) in OPERATORS {
        for (site, _) in configs()? {
            let has = operators::by_email(store, email)
                .await?
                .is_some_and(|o| o.role(site) == Some(role));
            if !has {
                operators::add(store, "demo", email, site, role, operators::Existing::Join).await?;
            }
        }
        let Some(o) = operators::by_email(store, email).await? else {
            anyhow::bail!("demo account {email} was not created");
        };
        let password = operators::initial_password();
        // Printed for whoever runs the demo, who need not change it.
        operators::set_password(store, "demo", &o, &password, operators::Chosen::ByOwner).await?;
        out.push((email, password));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_example_is_a_valid_demo_site() {
        assert_eq!(super::configs().unwrap().len(), 7);
        let origins = super::origins("127.0.0.1:8080".parse().unwrap());
        assert_eq!(origins, ["http://127.0.0.1:8080", "http://localhost:8080"]);
        let is_origin = crate::service::sites::is_origin;
        assert!(is_origin("https://www.example.com") && !is_origin("https://example.com/x"));
        assert!(!is_origin("http://example.com"));
    }
}
