//! The site config: what a site operator writes once (TOML or JSON) and what the
//! banner shows, the loader enforces and a proof refers to.
//!
//! A config declares cookie *categories* (`necessary` is always present and
//! locked), *purposes* that are not cookies (newsletter, calendar sync, push), and
//! *services* with everything a German privacy policy states about them. Parsing
//! rejects unknown fields; [`SiteConfig::validate`] then reports every semantic
//! problem with its path. The config's *version* is the SHA-256 of its canonical
//! JSON, so two configs that mean the same have the same version.

pub(crate) mod validate;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use validate::{Limits, ValidationError, ValidationErrors, is_id};

use crate::canonical;
use crate::lifetime::Lifetime;

/// The id of the category that is always present, always on and cannot be refused.
pub const NECESSARY: &str = "necessary";

/// A site's complete consent configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SiteConfig {
    pub site: SiteInfo,
    #[serde(default)]
    pub consent: ConsentSettings,
    #[serde(default)]
    pub appearance: Appearance,
    #[serde(default)]
    pub consent_mode: ConsentModeSettings,
    /// Overrides of the built-in texts, per language.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub texts: BTreeMap<String, crate::texts::TextOverrides>,
    #[serde(default)]
    pub categories: Vec<Category>,
    #[serde(default)]
    pub purposes: Vec<Purpose>,
    #[serde(default)]
    pub services: Vec<Service>,
}

/// Who runs the site and where its legal pages are.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SiteInfo {
    /// The site's name as shown in the banner.
    pub name: String,
    /// The controller (Verantwortlicher): legal name and postal address.
    pub controller: Party,
    /// Languages the banner offers; the first is the default.
    #[serde(default = "default_languages")]
    pub languages: Vec<String>,
    pub privacy_policy_url: Localized,
    pub imprint_url: Localized,
    /// The privacy policy's version as the site states it, e.g. "30.06.2022". The
    /// banner shows it under its own label ("Stand: …" / "Version: …"); a leading
    /// "Stand:" or "Version:" written here is dropped.
    pub policy_version: String,
    /// The date this version of the privacy policy took effect ("gültig ab"),
    /// `YYYY-MM-DD`. The versions before it and their validity ("gültig von … bis
    /// …") come from the publish times of the site's config versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_valid_from: Option<String>,
}

/// How long a decision holds and when visitors are asked again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ConsentSettings {
    /// How long a decision holds before the banner asks again, e.g. "12mo".
    #[serde(default = "default_consent_lifetime")]
    pub lifetime: String,
    /// Raise this number to ask every visitor again (a change of the privacy policy
    /// or of processing that needs new consent). Text fixes keep it.
    #[serde(default = "default_revision")]
    pub revision: u32,
    /// After a withdrawal, reload the page so that scripts which already ran stop.
    #[serde(default)]
    pub reload_on_withdraw: bool,
    /// How long the proof of a banner decision is kept, and from when; the server
    /// erases the personal part of what has aged out on its own schedule. Absent:
    /// kept until erased by a subject request or `keksdose purge`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proof_retention: Option<ProofRetention>,
}

/// A retention rule for consent proofs: erase the personal part of a consent's
/// records `keep` after `after`. A consent still in force keeps its proof.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ProofRetention {
    /// How long, e.g. "3y", "4y", "30d".
    pub keep: String,
    /// The event the period is counted from.
    pub after: RetentionEvent,
}

/// What a retention period is counted from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RetentionEvent {
    /// The consent's withdrawal (for a newsletter: the unsubscription). A consent
    /// never withdrawn is kept.
    Withdrawal,
    /// The decision's expiry (banner decisions only): its time plus the consent
    /// lifetime of the config version it was made under.
    Expiry,
    /// The consent's last record, once it is no longer in force.
    LastRecord,
}

/// The banner's look.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Appearance {
    #[serde(default)]
    pub position: Position,
    #[serde(default)]
    pub theme: Theme,
    /// Buttons and links, `#rrggbb` or `#rgb`.
    #[serde(default = "default_accent")]
    pub accent_color: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Position {
    #[default]
    Bottom,
    Top,
    Center,
    BottomLeft,
    BottomRight,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Theme {
    /// Follows the visitor's `prefers-color-scheme`.
    #[default]
    Auto,
    Light,
    Dark,
}

/// Google Consent Mode v2 options.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ConsentModeSettings {
    /// `basic`: no Google tag loads before consent. `advanced`: Google tags load with
    /// everything denied and send cookieless pings.
    #[serde(default)]
    pub mode: ConsentModeKind,
    #[serde(default = "yes")]
    pub ads_data_redaction: bool,
    #[serde(default)]
    pub url_passthrough: bool,
    /// Milliseconds Google tags wait for the update after the defaults.
    #[serde(default = "default_wait_for_update")]
    pub wait_for_update: u32,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ConsentModeKind {
    #[default]
    Basic,
    Advanced,
}

/// A Google Consent Mode v2 signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ConsentSignal {
    AdStorage,
    AdUserData,
    AdPersonalization,
    AnalyticsStorage,
    FunctionalityStorage,
    PersonalizationStorage,
    SecurityStorage,
}

impl ConsentSignal {
    pub const ALL: [ConsentSignal; 7] = [
        ConsentSignal::AdStorage,
        ConsentSignal::AdUserData,
        ConsentSignal::AdPersonalization,
        ConsentSignal::AnalyticsStorage,
        ConsentSignal::FunctionalityStorage,
        ConsentSignal::PersonalizationStorage,
        ConsentSignal::SecurityStorage,
    ];

    /// The name gtag uses.
    pub fn as_str(self) -> &'static str {
        match self {
            ConsentSignal::AdStorage => "ad_storage",
            ConsentSignal::AdUserData => "ad_user_data",
            ConsentSignal::AdPersonalization => "ad_personalization",
            ConsentSignal::AnalyticsStorage => "analytics_storage",
            ConsentSignal::FunctionalityStorage => "functionality_storage",
            ConsentSignal::PersonalizationStorage => "personalization_storage",
            ConsentSignal::SecurityStorage => "security_storage",
        }
    }
}

impl Default for ConsentModeSettings {
    fn default() -> Self {
        ConsentModeSettings {
            mode: ConsentModeKind::Basic,
            ads_data_redaction: true,
            url_passthrough: false,
            wait_for_update: default_wait_for_update(),
        }
    }
}

impl Default for ConsentSettings {
    fn default() -> Self {
        ConsentSettings {
            lifetime: default_consent_lifetime(),
            revision: default_revision(),
            reload_on_withdraw: false,
            proof_retention: None,
        }
    }
}

impl Default for Appearance {
    fn default() -> Self {
        Appearance {
            position: Position::Bottom,
            theme: Theme::Auto,
            accent_color: default_accent(),
        }
    }
}

/// A cookie category. `name` and `description` may be left out for the built-in
/// ids (`necessary`, `functional`, `analytics`, `marketing`, `affiliate`, `social`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Category {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Localized>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<Localized>,
}

/// A consent that is not about cookies: a newsletter, a calendar sync, push.
/// Recorded by the site's backend through the admin API, in the same ledger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Purpose {
    pub id: String,
    pub name: Localized,
    pub description: Localized,
    /// The consent counts only once confirmed (e.g. by the link in an e-mail).
    #[serde(default)]
    pub double_opt_in: bool,
    /// Services this purpose passes data to (e.g. the newsletter's mail provider).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<String>,
    /// How long the purpose's data is kept (Art. 13(2)(a) GDPR), as the policy says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<Localized>,
    /// Recipients or categories of recipients (Art. 13(1)(e) GDPR).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recipients: Vec<Localized>,
    /// Processors acting on the site's behalf (Art. 28 GDPR).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub processors: Vec<Party>,
    /// Transfers to countries outside the EU/EEA.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transfers: Vec<Transfer>,
    /// How long the proof of this consent is kept after its withdrawal or its last
    /// record; the server applies it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proof_retention: Option<ProofRetention>,
}

/// A third-party (or first-party) service with all a privacy policy says about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Service {
    pub id: String,
    pub name: String,
    pub category: String,
    /// What the service does for the site, shown in the settings.
    pub description: Localized,
    /// The purposes of the processing, each a short phrase.
    #[serde(default)]
    pub purposes: Vec<Localized>,
    /// Who provides it; absent for the site's own first-party services.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<Party>,
    pub legal_basis: LegalBasis,
    #[serde(default)]
    pub cookies: Vec<Cookie>,
    /// How long the data is kept (Art. 13(2)(a) GDPR), as the policy says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<Localized>,
    /// Whether it identifies devices without cookies (fingerprinting).
    #[serde(default)]
    pub fingerprinting: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privacy_policy_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opt_out_url: Option<String>,
    /// Transfers to countries outside the EU/EEA.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transfers: Vec<Transfer>,
    /// Google Consent Mode signals granted when this service is allowed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub consent_mode: Vec<ConsentSignal>,
    /// Hosts the service loads from or sends to (shown to visitors, used by tests).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<String>,
}

/// A legal person with a postal address.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Party {
    pub name: String,
    /// Postal address, one line ("Straße 1, 12345 Stadt, Deutschland").
    pub address: String,
    /// ISO 3166-1 alpha-2 country code of the seat.
    pub country: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<String>,
}

/// Art. 6(1) GDPR.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum LegalBasis {
    /// Art. 6(1)(a): consent.
    Consent,
    /// Art. 6(1)(b): performance of a contract.
    Contract,
    /// Art. 6(1)(c): legal obligation.
    LegalObligation,
    /// Art. 6(1)(f): legitimate interests.
    LegitimateInterest,
}

impl LegalBasis {
    /// Its code in a config (and its key in the words: `legal_basis.<code>`).
    pub fn as_str(self) -> &'static str {
        match self {
            LegalBasis::Consent => "consent",
            LegalBasis::Contract => "contract",
            LegalBasis::LegalObligation => "legal_obligation",
            LegalBasis::LegitimateInterest => "legitimate_interest",
        }
    }

    /// The citation a privacy policy gives.
    pub fn article(self) -> &'static str {
        match self {
            LegalBasis::Consent => "Art. 6 Abs. 1 lit. a DSGVO",
            LegalBasis::Contract => "Art. 6 Abs. 1 lit. b DSGVO",
            LegalBasis::LegalObligation => "Art. 6 Abs. 1 lit. c DSGVO",
            LegalBasis::LegitimateInterest => "Art. 6 Abs. 1 lit. f DSGVO",
        }
    }
}

/// A cookie or similar storage a service sets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Cookie {
    /// The name; `*` stands for any run of characters (`_ga_*`).
    pub name: String,
    #[serde(default)]
    pub storage: Storage,
    /// The domain it is set on; absent means the site's own host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// How long it is kept, e.g. "13mo", "session", "persistent".
    pub lifetime: String,
    pub purpose: Localized,
}

impl Cookie {
    /// Whether `name` matches this cookie's name or pattern.
    pub fn matches(&self, name: &str) -> bool {
        name_matches(&self.name, name)
    }
}

/// Whether `name` matches a declared cookie or storage name: equal to it, or,
/// for a pattern with one `*`, starting with what comes before it and ending
/// with what comes after (`_ga_*`).
pub fn name_matches(pattern: &str, name: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == name,
        Some((prefix, suffix)) => {
            name.len() >= prefix.len() + suffix.len()
                && name.starts_with(prefix)
                && name.ends_with(suffix)
        }
    }
}

impl Storage {
    /// Its code in a config (and its key in the words: `storage.<code>`).
    pub fn as_str(self) -> &'static str {
        match self {
            Storage::Cookie => "cookie",
            Storage::LocalStorage => "local_storage",
            Storage::SessionStorage => "session_storage",
            Storage::IndexedDb => "indexed_db",
            Storage::Pixel => "pixel",
        }
    }
}

impl Safeguard {
    /// Its code in a config (and its key in the words: `safeguard.<code>`).
    pub fn as_str(self) -> &'static str {
        match self {
            Safeguard::Adequacy => "adequacy",
            Safeguard::Scc => "scc",
            Safeguard::Bcr => "bcr",
            Safeguard::Consent => "consent",
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Storage {
    #[default]
    Cookie,
    LocalStorage,
    SessionStorage,
    IndexedDb,
    /// A tracking pixel or similar without storage on the device.
    Pixel,
}

/// A transfer to a third country and its safeguard (Art. 44 ff. GDPR).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Transfer {
    /// ISO 3166-1 alpha-2.
    pub country: String,
    pub safeguard: Safeguard,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Safeguard {
    /// Art. 45: an adequacy decision (e.g. the EU-US Data Privacy Framework for a
    /// certified US recipient).
    Adequacy,
    /// Art. 46(2)(c): standard contractual clauses.
    Scc,
    /// Art. 47: binding corporate rules.
    Bcr,
    /// Art. 49(1)(a): the visitor's explicit consent.
    Consent,
}

/// A text per language (`{ de = "…", en = "…" }`), or one text for all languages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(untagged)]
pub enum Localized {
    Same(String),
    PerLanguage(BTreeMap<String, String>),
}

impl Localized {
    /// The text in `lang`, else in `fallback`, else any.
    pub fn get<'a>(&'a self, lang: &str, fallback: &str) -> &'a str {
        match self {
            Localized::Same(s) => s,
            Localized::PerLanguage(map) => map
                .get(lang)
                .or_else(|| map.get(fallback))
                .or_else(|| map.values().next())
                .map_or("", String::as_str),
        }
    }
}

/// Why a config text could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    #[cfg(feature = "toml")]
    #[error(transparent)]
    Toml(#[from] toml::de::Error),
}

impl SiteConfig {
    /// Reads a config from JSON (unknown fields are refused).
    pub fn from_json(text: &str) -> Result<SiteConfig, ParseError> {
        Ok(serde_json::from_str(text)?)
    }

    /// Reads a config from TOML (unknown fields are refused).
    #[cfg(feature = "toml")]
    pub fn from_toml(text: &str) -> Result<SiteConfig, ParseError> {
        Ok(toml::from_str(text)?)
    }

    /// The config's version: base64url(SHA-256(JCS(config))). Key order,
    /// formatting and the source format (TOML or JSON) do not change it; defaults
    /// are filled in before hashing, so spelling one out changes nothing either.
    pub fn version(&self) -> String {
        match canonical::canonical_sha256(self) {
            Ok(digest) => canonical::base64url(&digest),
            // A config holds only strings, integers and booleans, which always
            // have a canonical form.
            Err(e) => unreachable!("a site config always canonicalises: {e}"),
        }
    }

    /// Languages the banner offers; the first is the default.
    pub fn default_language(&self) -> &str {
        self.site.languages.first().map_or("de", String::as_str)
    }

    /// The config as the per-site loader (`/s/{site}/k.js`) carries it: without
    /// what only the banner's settings show — a service's description, purposes
    /// and transfers, a provider's address, country and contact, a cookie's
    /// purpose and lifetime, the categories' and purposes' descriptions, the
    /// site's texts (the loader shows only a placeholder's, from the words it
    /// carries beside the config) — which are most of a config's bytes.
    /// Everything the loader decides with is kept (ids, categories, cookie names,
    /// storages and domains, Consent Mode signals, the consent settings, the
    /// site, the names and links a placeholder shows); the loader's tests hold its decisions on this view
    /// to its decisions on the whole config (`shared/vectors/choices.json`,
    /// `loader_views`). The banner's settings get the whole config.
    pub fn loader_view(&self) -> serde_json::Value {
        let mut view = serde_json::to_value(self).unwrap_or_default();
        if let Some(map) = view.as_object_mut() {
            map.remove("texts");
        }
        let drop = |value: &mut serde_json::Value, keys: &[&str]| {
            if let Some(map) = value.as_object_mut() {
                for key in keys {
                    map.remove(*key);
                }
            }
        };
        let each =
            |value: &mut serde_json::Value, key: &str, f: &dyn Fn(&mut serde_json::Value)| {
                if let Some(items) = value.get_mut(key).and_then(|v| v.as_array_mut()) {
                    items.iter_mut().for_each(f);
                }
            };
        each(&mut view, "services", &|service| {
            drop(
                service,
                &["description", "purposes", "transfers", "retention"],
            );
            if let Some(provider) = service.get_mut("provider") {
                drop(provider, &["address", "country", "contact"]);
            }
            each(service, "cookies", &|cookie| {
                drop(cookie, &["purpose", "lifetime"])
            });
        });
        each(&mut view, "categories", &|category| {
            drop(category, &["description"])
        });
        each(&mut view, "purposes", &|purpose| {
            drop(
                purpose,
                &[
                    "description",
                    "retention",
                    "recipients",
                    "processors",
                    "transfers",
                    "proof_retention",
                ],
            )
        });
        view
    }

    /// The language a page gets the banner in, asked for by the page's `lang`
    /// (or, without one, the browser's language): the offered language equal to
    /// it, ignoring case, else the one equal to its primary subtag (`de-AT`
    /// asks for `de`), else the site's default. The one rule of the banner, the
    /// server's first layers and the loader (`choose` in `static/k.js`, held to
    /// `shared/vectors/language.json`).
    pub fn language_for(&self, asked: Option<&str>) -> &str {
        let offered = &self.site.languages;
        let asked = asked.unwrap_or_default();
        let primary = asked.split('-').next().unwrap_or_default();
        offered
            .iter()
            .find(|l| l.eq_ignore_ascii_case(asked))
            .or_else(|| offered.iter().find(|l| l.eq_ignore_ascii_case(primary)))
            .map_or_else(|| self.default_language(), String::as_str)
    }

    /// The categories in display order, `necessary` first, whether or not the
    /// config lists it.
    pub fn categories(&self) -> Vec<Category> {
        let mut out = vec![
            self.categories
                .iter()
                .find(|c| c.id == NECESSARY)
                .cloned()
                .unwrap_or(Category {
                    id: NECESSARY.into(),
                    name: None,
                    description: None,
                }),
        ];
        out.extend(
            self.categories
                .iter()
                .filter(|c| c.id != NECESSARY)
                .cloned(),
        );
        out
    }

    /// The services of a category.
    pub fn services_in<'a>(&'a self, category: &'a str) -> impl Iterator<Item = &'a Service> + 'a {
        self.services.iter().filter(move |s| s.category == category)
    }

    pub fn service(&self, id: &str) -> Option<&Service> {
        self.services.iter().find(|s| s.id == id)
    }

    /// Whether visitors must be asked at all: a site with only necessary services
    /// shows no banner, only its cookie declaration behind the settings link.
    pub fn needs_banner(&self) -> bool {
        self.services.iter().any(|s| s.category != NECESSARY)
            || self.categories.iter().any(|c| c.id != NECESSARY)
    }

    /// The consent lifetime in seconds (validation ensures it parses).
    pub fn consent_lifetime_secs(&self) -> u64 {
        Lifetime::parse(&self.consent.lifetime)
            .ok()
            .and_then(Lifetime::seconds)
            .unwrap_or(365 * 86_400)
    }
}

/// The languages of a config that names none.
pub fn default_languages() -> Vec<String> {
    vec!["de".into(), "en".into()]
}
fn default_consent_lifetime() -> String {
    "12mo".into()
}
fn default_revision() -> u32 {
    1
}
fn default_accent() -> String {
    "#1d4ed8".into()
}
fn default_wait_for_update() -> u32 {
    500
}
fn yes() -> bool {
    true
}
