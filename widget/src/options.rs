//! What the loader hands to [`crate::mount`], read strictly, and what the banner
//! hands back: the decision event.
//!
//! Both are plain data, so they are tested natively; `mount` only moves them
//! across the JavaScript boundary as JSON.

use std::collections::BTreeMap;

use keksdose_shared::cookie::StoredDecision;
use keksdose_shared::{Choices, Decision, SiteConfig};
use serde::{Deserialize, Serialize};

use crate::site::Site;
use crate::state::Layer;

/// `mount`'s `options` argument.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct MountOptions {
    /// The body of `GET /v1/sites/{site}/config`.
    config: Published,
    lang: Option<String>,
    /// The consent cookie's value.
    stored: Option<String>,
    layer: Option<LayerOption>,
    api_base: Option<String>,
}

/// A published config as the server serves it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Published {
    #[allow(dead_code)] // part of the wire format; the banner needs only the config
    site: String,
    version: String,
    config: SiteConfig,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum LayerOption {
    First,
    Settings,
}

/// Reads `mount`'s options (as JSON). A consent cookie that does not parse counts
/// as no decision, as everywhere else; anything else malformed is an error that
/// says what was wrong.
pub fn parse(json: &str) -> Result<(Site, Layer), String> {
    let options: MountOptions =
        serde_json::from_str(json).map_err(|e| format!("keksdose: invalid mount options: {e}"))?;
    let stored = options
        .stored
        .as_deref()
        .and_then(|value| StoredDecision::decode(value).ok());
    let layer = match options.layer {
        Some(LayerOption::Settings) => Layer::Settings,
        Some(LayerOption::First) | None => Layer::First,
    };
    let site = Site::new(
        options.config.config,
        options.config.version,
        options.lang.as_deref(),
        stored,
        options.api_base.as_deref(),
    );
    Ok((site, layer))
}

/// What `on_decision` receives.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DecisionEvent<'a> {
    /// `accept_all`, `reject_all`, `custom` or `withdraw`.
    pub action: &'static str,
    /// The switches, for `custom` (empty otherwise): what to POST as the decision.
    pub categories: &'a BTreeMap<String, bool>,
    pub services: &'a BTreeMap<String, bool>,
    /// The decision resolved against the config: every category and service with
    /// its yes/no, what the loader applies and writes to the cookie.
    pub choices: Option<Choices>,
    /// The version of the config the visitor was shown.
    pub config_version: &'a str,
    /// The language the banner was shown in.
    pub lang: &'a str,
}

impl<'a> DecisionEvent<'a> {
    pub fn new(site: &'a Site, decision: &'a Decision) -> DecisionEvent<'a> {
        DecisionEvent {
            action: decision.action.as_str(),
            categories: &decision.categories,
            services: &decision.services,
            // Our own decisions always resolve against the config they came from.
            choices: decision.resolve(&site.config).ok(),
            config_version: &site.version,
            lang: &site.lang,
        }
    }
}

#[cfg(test)]
mod tests {
    use keksdose_shared::{Action, Decision};
    use serde_json::json;

    use super::*;

    const FIXTURE: &str = include_str!("../tests/fixtures/saas.json");

    fn options(extra: serde_json::Value) -> String {
        let mut o =
            json!({ "config": serde_json::from_str::<serde_json::Value>(FIXTURE).unwrap() });
        if let (Some(o), Some(extra)) = (o.as_object_mut(), extra.as_object()) {
            o.extend(extra.clone());
        }
        o.to_string()
    }

    #[test]
    fn reads_the_options_the_loader_passes() {
        let (site, layer) = parse(&options(json!({}))).unwrap();
        assert_eq!(layer, Layer::First);
        assert_eq!(site.lang, "de");
        assert!(site.stored.is_none());
        assert_eq!(site.version, site.config.version());

        let cookie = "1.c-123..1717200000.v1.1.a...";
        let (site, layer) = parse(&options(json!({
            "lang": "en-US", "stored": cookie, "layer": "settings", "apiBase": "https://cmp.example"
        })))
        .unwrap();
        assert_eq!(layer, Layer::Settings);
        assert_eq!(site.lang, "en");
        assert_eq!(
            site.stored.as_ref().and_then(|s| s.consent_id.as_deref()),
            Some("c-123")
        );
        assert_eq!(
            site.history_url().as_deref(),
            Some("https://cmp.example/v1/consents/c-123")
        );

        // A broken cookie is no decision; a broken option is an error.
        let (site, _) = parse(&options(json!({ "stored": "garbage" }))).unwrap();
        assert!(site.stored.is_none());
        let err = parse(&options(json!({ "layer": "third" }))).unwrap_err();
        assert!(err.contains("unknown variant"), "{err}");
        assert!(parse(&options(json!({ "colour": "red" }))).is_err());
        assert!(parse("{}").is_err());
    }

    #[test]
    fn the_decision_event_carries_the_resolved_choices_and_version() {
        let (site, _) = parse(&options(json!({ "lang": "en" }))).unwrap();
        let decision = Decision::new(Action::RejectAll);
        let event = serde_json::to_value(DecisionEvent::new(&site, &decision)).unwrap();
        assert_eq!(event["action"], "reject_all");
        assert_eq!(event["configVersion"], site.version.as_str());
        assert_eq!(event["lang"], "en");
        assert_eq!(event["categories"], json!({}));
        assert_eq!(event["choices"]["services"]["login"], true);
        assert_eq!(event["choices"]["services"]["mixpanel"], false);
        assert_eq!(event["choices"]["categories"]["analytics"], false);
    }
}

#[cfg(test)]
mod fixture {
    use keksdose_shared::SiteConfig;
    use serde_json::json;

    /// `tests/fixtures/saas.json` (what the browser tests mount) is exactly what
    /// the server serves for `examples/sites/saas.toml` as site `saas`. Run with
    /// `KEKSDOSE_BLESS=1` to rewrite it after the example changed.
    #[test]
    fn the_browser_fixture_is_the_saas_example() {
        let config = SiteConfig::from_toml(include_str!("../../examples/sites/saas.toml")).unwrap();
        let expected = json!({ "site": "saas", "version": config.version(), "config": config });
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/saas.json");
        if std::env::var_os("KEKSDOSE_BLESS").is_some() {
            std::fs::write(
                path,
                serde_json::to_string_pretty(&expected).unwrap() + "\n",
            )
            .unwrap();
        }
        let actual: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        assert_eq!(
            actual, expected,
            "run with KEKSDOSE_BLESS=1 to update {path}"
        );
    }
}
