//! The entry points of the fuzz targets in `fuzz/` (cargo-fuzz, libFuzzer), and
//! the properties they check. The regression test (`tests/it/fuzz_regressions.rs`)
//! runs every input kept in `fuzz/regressions/<target>/` through the same
//! functions, so a fixed crash stays fixed under a plain `cargo test`.
//!
//! Each function takes arbitrary bytes and panics only when a property is broken:
//! that panic is what the fuzzer reports as a crash. Input that does not parse is
//! uninteresting and returns at once.

use std::sync::LazyLock;

use crate::SiteConfig;
use crate::config::NECESSARY;
use crate::consent_request::ConsentRequest;
use crate::cookie::StoredDecision;
use crate::decision::Action;

/// The config the `consent_request` target checks requests against.
pub const SAAS_TOML: &str = include_str!("../../examples/sites/saas.toml");

static SAAS: LazyLock<SiteConfig> = LazyLock::new(|| {
    SiteConfig::from_toml(SAAS_TOML)
        .unwrap_or_else(|e| panic!("examples/sites/saas.toml does not parse: {e}"))
});

/// `config`: bytes as a TOML and as a JSON site config. Every config that
/// parses round-trips ([`assert_round_trips`]): the ones validation accepts,
/// which the server publishes, and the ones it refuses, so that the fuzzer need
/// not find a valid config before the round trip is tested at all.
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for config in [SiteConfig::from_toml(text), SiteConfig::from_json(text)]
        .into_iter()
        .flatten()
    {
        assert_round_trips(&config);
    }
}

/// A config serialised to JSON and to TOML parses back equal, with the same
/// version and the same validation result (accepted, or the same problems).
pub fn assert_round_trips(config: &SiteConfig) {
    let version = config.version();
    let validation = config.validate();
    let json = serde_json::to_string(config)
        .unwrap_or_else(|e| panic!("a valid config does not serialise to JSON: {e}"));
    let toml = toml::to_string(config)
        .unwrap_or_else(|e| panic!("a valid config does not serialise to TOML: {e}"));
    for (format, back) in [
        ("JSON", SiteConfig::from_json(&json)),
        ("TOML", SiteConfig::from_toml(&toml)),
    ] {
        let back = back.unwrap_or_else(|e| {
            panic!("a valid config does not parse back from its {format}: {e}\n{json}\n{toml}")
        });
        assert_eq!(&back, config, "{format} round trip changed the config");
        assert_eq!(
            back.version(),
            version,
            "{format} round trip changed the version"
        );
        assert_eq!(
            back.validate(),
            validation,
            "{format} round trip changed the validation"
        );
    }
}

/// `cookie`: bytes as a consent cookie value. A value that decodes is the one
/// encoding of its decision: encoding gives it back, byte for byte.
pub fn cookie(data: &[u8]) {
    let Ok(value) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(decision) = StoredDecision::decode(value) else {
        return;
    };
    let encoded = decision
        .encode()
        .unwrap_or_else(|e| panic!("a decoded cookie does not encode: {e}"));
    assert_eq!(
        encoded, value,
        "decode accepted a value encode would not write"
    );
    assert_eq!(
        StoredDecision::decode(&encoded).as_ref(),
        Ok(&decision),
        "encode → decode changed the decision"
    );
}

/// `consent_request`: bytes as the JSON body of `POST /v1/sites/saas/consents`,
/// checked against `examples/sites/saas.toml`. What passes the checks is what the
/// server may record: every id of the config resolved, necessary on, the
/// language offered, tokens well-formed, the page a bounded path.
pub fn consent_request(data: &[u8]) {
    let Ok(request) = serde_json::from_slice::<ConsentRequest>(data) else {
        return;
    };
    let config = &*SAAS;
    match request.check("saas", config) {
        Ok(checked) => {
            let ids = config.categories().into_iter().map(|c| c.id);
            let ids = ids.chain(config.services.iter().map(|s| s.id.clone()));
            let resolved = checked.choices.iter().count();
            assert_eq!(resolved, ids.clone().count(), "not every id resolved");
            for id in ids {
                let necessary =
                    id == NECESSARY || config.service(&id).is_some_and(|s| s.category == NECESSARY);
                assert!(
                    !necessary || checked.choices.allowed(&id),
                    "necessary {id:?} refused"
                );
                if matches!(request.action, Action::RejectAll | Action::Withdraw) {
                    assert_eq!(checked.choices.allowed(&id), necessary, "{id:?}");
                }
            }
            assert!(config.site.languages.contains(&request.language));
            assert!(
                request.action != Action::Withdraw || request.consent_id.is_some(),
                "a withdrawal without a consent ID passed"
            );
            if let Some(page) = &checked.page {
                assert!(page.starts_with('/') && page.len() <= 512, "{page:?}");
                assert!(!page.contains(['?', '#']) && !page.chars().any(char::is_control));
            }
        }
        Err(problems) => {
            assert!(!problems.is_empty(), "refused without a problem");
            for p in &problems {
                assert!(!p.to_string().is_empty());
            }
        }
    }
}
