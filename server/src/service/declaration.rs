//! The cookie declaration: what a privacy policy lists by hand — every service
//! with its provider, purposes, legal basis, cookies and lifetimes, data
//! retention and transfers; the consents beyond cookies with their recipients,
//! processors and proof retention; the policy's versions and when each was in
//! force — made from the site's current config, worded in one of its languages.
//! It replaces the hand-written lists: the privacy page embeds it
//! (`<div data-keksdose-declaration>`, filled by the loader), and sites that
//! build their pages ahead of time take it as HTML or JSON from the server.
//! With a consent ID, it says what that visitor decided.

use keksdose_shared::config::{LegalBasis, Party, RetentionEvent, Safeguard, Storage};
use keksdose_shared::texts::{self, Words};
use keksdose_shared::{Action, SiteConfig};
use keksdose_store::{SiteMeta, Store};
use serde::Serialize;

use super::Result;

/// The declaration in one language.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Declaration {
    pub site: String,
    pub language: String,
    /// The config version it was made from.
    pub config_version: String,
    pub title: String,
    pub intro: String,
    pub controller: Party,
    pub policy: Policy,
    /// How long a banner decision holds, worded ("Ihre Entscheidung gilt 6 Monate …").
    pub consent_lifetime: String,
    /// How long the proof of a banner decision is kept, worded, if the site says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proof_retention: Option<String>,
    pub categories: Vec<CategoryEntry>,
    pub purposes: Vec<PurposeEntry>,
    /// The visitor's own decision, when a consent ID of this site was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub visitor: Option<Visitor>,
}

/// The privacy policy's version and the versions before it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Policy {
    /// As the site states it (`site.policy_version`).
    pub version: String,
    /// When it took effect: `site.policy_valid_from`, else its first publication
    /// (`YYYY-MM-DD`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<String>,
    /// Every version, newest first, "gültig von … bis …" from the times the
    /// site published configs carrying it.
    pub versions: Vec<PolicyVersion>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PolicyVersion {
    pub version: String,
    /// `YYYY-MM-DD`.
    pub from: String,
    /// `YYYY-MM-DD`; absent for the version in force.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
    /// Worded: "gültig vom 24.05.2018 bis 22.09.2020", "gültig seit …".
    pub text: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CategoryEntry {
    pub id: String,
    pub name: String,
    pub description: String,
    pub services: Vec<ServiceEntry>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ServiceEntry {
    pub id: String,
    pub name: String,
    pub description: String,
    /// The provider; the controller for the site's own services.
    pub provider: Party,
    pub purposes: Vec<String>,
    pub legal_basis: Worded,
    pub cookies: Vec<CookieEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retention: Option<String>,
    pub transfers: Vec<TransferEntry>,
    pub fingerprinting: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub privacy_policy_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opt_out_url: Option<String>,
}

/// A code of the config and its words.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Worded {
    pub code: String,
    pub text: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CookieEntry {
    pub name: String,
    pub storage: Worded,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    pub lifetime: Worded,
    pub purpose: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TransferEntry {
    pub country: Worded,
    pub safeguard: Worded,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PurposeEntry {
    pub id: String,
    pub name: String,
    pub description: String,
    pub double_opt_in: bool,
    /// The services it passes data to, by name.
    pub services: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retention: Option<String>,
    pub recipients: Vec<String>,
    pub processors: Vec<Party>,
    pub transfers: Vec<TransferEntry>,
    /// How long the proof of this consent is kept, worded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proof_retention: Option<String>,
}

/// What the visitor with this consent ID last decided on the site.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Visitor {
    pub consent_id: String,
    /// RFC 3339.
    pub decided_at: String,
    pub action: Action,
    /// Worded: "Ihre Entscheidung vom 01.06.2025: Alle akzeptiert."
    pub text: String,
}

fn storage(words: &Words, s: Storage) -> Worded {
    Worded {
        code: s.as_str().into(),
        text: texts::storage(words, s),
    }
}

fn legal_basis(words: &Words, b: LegalBasis) -> Worded {
    Worded {
        code: b.as_str().into(),
        text: texts::legal_basis(words, b),
    }
}

fn transfer(words: &Words, country: &str, safeguard: Safeguard) -> TransferEntry {
    TransferEntry {
        country: Worded {
            code: country.to_string(),
            text: texts::country(words, country),
        },
        safeguard: Worded {
            code: safeguard.as_str().into(),
            text: texts::safeguard(words, safeguard),
        },
    }
}

/// A date `YYYY-MM-DD` (or the start of an RFC 3339 time) as the language
/// writes it.
fn day(words: &Words, iso: &str) -> String {
    let date = iso.get(..10).unwrap_or(iso);
    keksdose_shared::time::parse_rfc3339(&format!("{date}T00:00:00Z"))
        .map_or_else(|| date.to_string(), |ms| texts::date(words, ms / 1000))
}

/// The sentence `declaration.<key>` with its placeholders filled in.
fn say(words: &Words, key: &str, fill: &[(&str, &str)]) -> String {
    let mut text = texts::word(words, &format!("declaration.{key}"), key);
    for (name, value) in fill {
        text = text.replace(&format!("{{{name}}}"), value);
    }
    text
}

fn proof_text(words: &Words, lang: &str, keep: &str, after: RetentionEvent) -> String {
    let key = match after {
        RetentionEvent::Withdrawal => "proof_withdrawal",
        RetentionEvent::Expiry => "proof_expiry",
        RetentionEvent::LastRecord => "proof_last_record",
    };
    say(
        words,
        key,
        &[("period", &texts::lifetime(words, lang, keep))],
    )
}

/// The declaration of `site` in `lang` (one it offers, by the one rule), with
/// the visitor of `consent_id` if that is a consent of this site.
pub async fn declaration<S: Store>(
    store: &S,
    site: &SiteMeta,
    config: &SiteConfig,
    asked: Option<&str>,
    consent_id: Option<&str>,
) -> Result<Declaration> {
    let lang = config.language_for(asked).to_string();
    let words = texts::words_for(config, &lang);
    let fallback = config.default_language();
    let text = |l: &keksdose_shared::config::Localized| l.get(&lang, fallback).to_string();

    // The policy's versions from the times its configs were published.
    let mut spans: Vec<(String, String)> = Vec::new(); // (policy version, from)
    for (version, at) in store.config_times(&site.id).await? {
        let Some(c) = store.config(&site.id, &version).await? else {
            continue;
        };
        if spans
            .last()
            .is_none_or(|(v, _)| *v != c.site.policy_version)
        {
            spans.push((
                c.site.policy_version.clone(),
                at.get(..10).unwrap_or(&at).into(),
            ));
        }
    }
    if spans
        .last()
        .is_none_or(|(v, _)| *v != config.site.policy_version)
    {
        // Published before the store kept times: known only as the current one.
        spans.push((config.site.policy_version.clone(), String::new()));
    }
    if let (Some(last), Some(from)) = (spans.last_mut(), &config.site.policy_valid_from) {
        last.1.clone_from(from);
    }
    let mut versions = Vec::new();
    for (i, (version, from)) in spans.iter().enumerate() {
        let until = spans.get(i + 1).map(|(_, f)| f.clone());
        let text = match &until {
            Some(u) => say(
                &words,
                "version_range",
                &[("from", &day(&words, from)), ("until", &day(&words, u))],
            ),
            None => say(&words, "version_current", &[("from", &day(&words, from))]),
        };
        if from.is_empty() {
            continue;
        }
        versions.push(PolicyVersion {
            version: version.clone(),
            from: from.clone(),
            until,
            text,
        });
    }
    versions.reverse();

    let categories = config
        .categories()
        .into_iter()
        .map(|c| {
            let (name, description) = texts::category_text(config, &words, &c.id, &lang);
            CategoryEntry {
                services: config
                    .services_in(&c.id)
                    .map(|s| ServiceEntry {
                        id: s.id.clone(),
                        name: s.name.clone(),
                        description: text(&s.description),
                        provider: s
                            .provider
                            .clone()
                            .unwrap_or_else(|| config.site.controller.clone()),
                        purposes: s.purposes.iter().map(text).collect(),
                        legal_basis: legal_basis(&words, s.legal_basis),
                        cookies: s
                            .cookies
                            .iter()
                            .map(|k| CookieEntry {
                                name: k.name.clone(),
                                storage: storage(&words, k.storage),
                                domain: k.domain.clone(),
                                lifetime: Worded {
                                    code: k.lifetime.clone(),
                                    text: texts::lifetime(&words, &lang, &k.lifetime),
                                },
                                purpose: text(&k.purpose),
                            })
                            .collect(),
                        retention: s.retention.as_ref().map(text),
                        transfers: s
                            .transfers
                            .iter()
                            .map(|t| transfer(&words, &t.country, t.safeguard))
                            .collect(),
                        fingerprinting: s.fingerprinting,
                        privacy_policy_url: s.privacy_policy_url.clone(),
                        opt_out_url: s.opt_out_url.clone(),
                    })
                    .collect(),
                id: c.id,
                name,
                description,
            }
        })
        .filter(|c| !c.services.is_empty())
        .collect();
    let purposes = config
        .purposes
        .iter()
        .map(|p| PurposeEntry {
            id: p.id.clone(),
            name: text(&p.name),
            description: text(&p.description),
            double_opt_in: p.double_opt_in,
            services: p
                .services
                .iter()
                .filter_map(|id| config.service(id).map(|s| s.name.clone()))
                .collect(),
            retention: p.retention.as_ref().map(text),
            recipients: p.recipients.iter().map(text).collect(),
            processors: p.processors.clone(),
            transfers: p
                .transfers
                .iter()
                .map(|t| transfer(&words, &t.country, t.safeguard))
                .collect(),
            proof_retention: p
                .proof_retention
                .as_ref()
                .map(|r| proof_text(&words, &lang, &r.keep, r.after)),
        })
        .collect();

    let visitor = match consent_id {
        Some(id) if keksdose_shared::consent_request::is_token(id) => store
            .consent(&site.id, id)
            .await?
            .into_iter()
            .rev()
            .find(|r| r.source != keksdose_shared::record::Source::Backend)
            .map(|r| {
                let decision = texts::word(
                    &words,
                    &format!("history.{}", r.action.as_str()),
                    r.action.as_str(),
                );
                Visitor {
                    consent_id: id.to_string(),
                    text: say(
                        &words,
                        "decided",
                        &[
                            ("date", &day(&words, &r.received_at)),
                            ("decision", &decision),
                        ],
                    ),
                    decided_at: r.received_at,
                    action: r.action,
                }
            }),
        _ => None,
    };

    Ok(Declaration {
        site: site.id.clone(),
        config_version: site.config_version.clone(),
        title: say(&words, "title", &[]),
        intro: say(&words, "intro", &[]),
        controller: config.site.controller.clone(),
        policy: Policy {
            version: config.site.policy_version.clone(),
            valid_from: spans
                .last()
                .map(|(_, f)| f.clone())
                .filter(|f| !f.is_empty()),
            versions,
        },
        consent_lifetime: say(
            &words,
            "consent_lifetime",
            &[(
                "period",
                &texts::lifetime(&words, &lang, &config.consent.lifetime),
            )],
        ),
        proof_retention: config
            .consent
            .proof_retention
            .as_ref()
            .map(|r| proof_text(&words, &lang, &r.keep, r.after)),
        categories,
        purposes,
        visitor,
        language: lang,
    })
}
