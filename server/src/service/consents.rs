//! Recording consent: a visitor's decision in the banner, a consent given to
//! the site's backend (newsletter double opt-in and the like), a withdrawal the
//! operator received by other means; and a visitor's own history.

use std::collections::BTreeMap;
use std::net::IpAddr;

use keksdose_shared::api::ErrorCode;
use keksdose_shared::consent_request::{CheckedConsent, ConsentProblem, ConsentRequest, is_token};
use keksdose_shared::record::{PurposeState, Source};
use keksdose_shared::{Action, Choices, ConsentRecord, Decision, Personal};
use keksdose_store::{Draft, SiteMeta, Store};
use serde::Deserialize;

use super::{Error, Result};
use crate::pseudonym::{Pseudonymiser, random_token};
use crate::published::PublishedCache;

/// Who sent a decision, as the request showed it; only keyed hashes of it are
/// kept, and `Debug` shows neither.
#[derive(Clone, Copy)]
pub struct Client<'a> {
    pub ip: IpAddr,
    pub user_agent: Option<&'a str>,
}

impl std::fmt::Debug for Client<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Client(<redacted>)")
    }
}

/// The 422 for a problem of a consent request.
fn problem(p: &ConsentProblem) -> Error {
    match p {
        ConsentProblem::Decision(errors) => Error::invalid_with(p.to_string(), errors),
        other => Error::invalid(other.to_string()),
    }
}

/// Records a visitor's decision from the banner, checked against the config
/// version it names, durably; the visitor's address and user agent only as
/// keyed hashes.
pub async fn record_banner<S: Store>(
    store: &S,
    published: &PublishedCache,
    site: &SiteMeta,
    body: ConsentRequest,
    client: Client<'_>,
) -> Result<ConsentRecord> {
    // Almost every decision names the current version: take it from the cache
    // instead of parsing the config from the store per request.
    let current = published.get(store, site).await?;
    let older;
    let config = if body.config_version == current.version {
        &current.config
    } else {
        older = store
            .config(&site.id, &body.config_version)
            .await?
            .ok_or_else(|| {
                Error::invalid(format!(
                    "config_version: {:?} is not a version of site {:?}",
                    body.config_version, site.id
                ))
            })?;
        &older
    };
    let checked = body.check(&site.id, config);
    // The one check that needs the store: whether a well-formed consent ID is one
    // of this site's. Problems come in the order of the checks, so it is asked only
    // when nothing before it failed (a malformed ID is a problem of its own).
    let first = checked.as_ref().err().and_then(|p| p.first());
    if let Some(id) = &body.consent_id
        && first.is_none_or(|p| matches!(p, ConsentProblem::Page))
        && store.consent_site(id).await?.as_deref() != Some(site.id.as_str())
    {
        return Err(problem(&ConsentProblem::ConsentId {
            consent_id: id.clone(),
            site: site.id.clone(),
        }));
    }
    let CheckedConsent { choices, page } = match checked {
        Ok(checked) => checked,
        Err(problems) => {
            // `check` never refuses without a problem; the fuzz target checks that.
            return Err(problems.first().map_or_else(
                || {
                    Error::new(
                        ErrorCode::Internal,
                        "a consent request refused without a problem",
                    )
                },
                problem,
            ));
        }
    };
    let pseudonyms = Pseudonymiser::new(&site.secret);
    let personal = Personal {
        salt: random_token(16),
        address_hash: None,
        page,
        ip_hash: Some(pseudonyms.ip(client.ip)),
        ua_hash: client.user_agent.map(|ua| pseudonyms.user_agent(ua)),
        subject_hash: None,
    };
    Ok(store
        .append(
            &site.id,
            Draft {
                consent_id: body.consent_id.unwrap_or_else(|| random_token(16)),
                action: body.action,
                source: Source::Banner,
                config_version: body.config_version,
                choices,
                purposes: BTreeMap::new(),
                language: body.language,
                signals: body.signals,
                personal,
                idempotency_key: body.idempotency_key,
            },
        )
        .await?)
}

/// A visitor's own history, without personal content; the consent ID is the
/// capability. Unknown and malformed IDs are alike not found.
pub async fn history<S: Store>(
    store: &S,
    consent_id: &str,
) -> Result<(SiteMeta, Vec<ConsentRecord>)> {
    let not_found = || Error::not_found("unknown consent ID");
    if !is_token(consent_id) {
        return Err(not_found());
    }
    let site_id = store
        .consent_site(consent_id)
        .await?
        .ok_or_else(not_found)?;
    let site = store.site(&site_id).await?.ok_or_else(not_found)?;
    let mut records = store.consent(&site_id, consent_id).await?;
    for r in &mut records {
        r.erase_personal();
    }
    Ok((site, records))
}

/// Purpose states a consent ID holds after its records, in order.
fn purpose_states(records: &[ConsentRecord]) -> BTreeMap<String, PurposeState> {
    let mut states = BTreeMap::new();
    for r in records {
        for (p, s) in &r.purposes {
            states.insert(p.clone(), *s);
        }
    }
    states
}

/// A withdrawal the operator received by other means (an e-mail
/// "Widerspruch"): only necessary services stay allowed, and every purpose
/// requested or granted is withdrawn.
pub async fn withdraw_for_visitor<S: Store>(
    store: &S,
    published: &PublishedCache,
    site: &SiteMeta,
    consent_id: String,
) -> Result<ConsentRecord> {
    let history = store.consent(&site.id, &consent_id).await?;
    let Some(last) = history.last() else {
        return Err(Error::not_found(format!(
            "no records of consent ID {consent_id:?}"
        )));
    };
    let current = published.get(store, site).await?;
    let purposes = purpose_states(&history)
        .into_iter()
        .filter(|(_, s)| matches!(s, PurposeState::Requested | PurposeState::Granted))
        .map(|(p, _)| (p, PurposeState::Withdrawn))
        .collect();
    let choices = Decision::new(Action::Withdraw)
        .resolve(&current.config)
        .map_err(|e| Error::invalid_with("the current config cannot resolve a withdrawal", &e))?;
    let language = last.language.clone();
    Ok(store
        .append(
            &site.id,
            Draft {
                consent_id,
                action: Action::Withdraw,
                source: Source::Operator,
                config_version: site.config_version.clone(),
                choices,
                purposes,
                language,
                signals: Default::default(),
                personal: Personal {
                    salt: random_token(16),
                    address_hash: None,
                    page: None,
                    ip_hash: None,
                    ua_hash: None,
                    subject_hash: None,
                },
                idempotency_key: None,
            },
        )
        .await?)
}

/// The body of `POST /v1/admin/sites/{site}/consents`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BackendConsent {
    /// An existing consent ID (e.g. the confirmation of a newsletter sign-up).
    #[serde(default)]
    pub consent_id: Option<String>,
    /// The site's own user id; stored only as a keyed hash, and linked so that
    /// access and erasure find this consent.
    #[serde(default)]
    pub subject: Option<String>,
    /// Purpose states, e.g. `{"newsletter": "requested"}` then `{"newsletter": "granted"}`.
    pub purposes: BTreeMap<String, PurposeState>,
    #[serde(default)]
    pub language: Option<String>,
    #[serde(default)]
    pub idempotency_key: Option<String>,
    /// The address and user agent the site's backend saw at this step (the
    /// sign-up, the click on the confirmation link): the proof of a double
    /// opt-in. Stored only as keyed hashes; `…/consents/{id}/match` tells
    /// whether a given address or user agent is the one recorded.
    #[serde(default)]
    pub client: Option<SeenClient>,
}

/// What a site's backend saw of the person at one step of a consent.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SeenClient {
    /// The IP address (v4 or v6), e.g. `203.0.113.7`.
    #[schema(value_type = String)]
    pub ip: String,
    #[serde(default)]
    pub user_agent: Option<String>,
}

/// The longest user agent taken (longer ones are refused, not cut).
const MAX_USER_AGENT: usize = 1024;

impl SeenClient {
    /// The keyed hashes of address and user agent, or the problem.
    fn hashes(&self, p: &Pseudonymiser) -> Result<(String, Option<String>)> {
        let ua = self
            .user_agent
            .as_deref()
            .map(|ua| ua_hash(p, ua))
            .transpose()?;
        Ok((address_hash(p, &self.ip)?, ua))
    }
}

/// The keyed hash of an IP address as a site's backend reports it.
fn address_hash(p: &Pseudonymiser, ip: &str) -> Result<String> {
    let ip: IpAddr = ip.trim().parse().map_err(|_| {
        Error::invalid("client.ip: expected an IPv4 or IPv6 address like \"203.0.113.7\"")
    })?;
    Ok(p.address(ip))
}

/// The keyed hash of a user agent as a site's backend reports it.
fn ua_hash(p: &Pseudonymiser, ua: &str) -> Result<String> {
    if ua.is_empty() || ua.len() > MAX_USER_AGENT || ua.chars().any(char::is_control) {
        return Err(Error::invalid(format!(
            "client.user_agent: expected 1 to {MAX_USER_AGENT} bytes without control characters"
        )));
    }
    Ok(p.user_agent(ua))
}

/// A consent given outside the banner (newsletter double opt-in, calendar
/// sync, push), recorded in the same ledger. A purpose with double opt-in is
/// granted only after it was requested.
pub async fn record_backend<S: Store>(
    store: &S,
    published: &PublishedCache,
    site: &SiteMeta,
    body: BackendConsent,
) -> Result<ConsentRecord> {
    let current = published.get(store, site).await?;
    let config = &current.config;
    if body
        .idempotency_key
        .as_deref()
        .is_some_and(|k| !is_token(k))
    {
        return Err(Error::invalid(
            "idempotency_key: expected 1 to 64 letters, digits, '-' or '_'",
        ));
    }
    if body.purposes.is_empty() {
        return Err(Error::invalid("purposes: name at least one purpose"));
    }
    let (consent_id, history) = match &body.consent_id {
        Some(id) => {
            let history = store.consent(&site.id, id).await?;
            if history.is_empty() {
                return Err(Error::invalid(format!(
                    "consent_id: {id:?} is not a consent ID of site {:?}",
                    site.id
                )));
            }
            (id.clone(), history)
        }
        None => (random_token(16), Vec::new()),
    };
    let before = purpose_states(&history);
    for (id, state) in &body.purposes {
        let Some(purpose) = config.purposes.iter().find(|p| &p.id == id) else {
            return Err(Error::invalid(format!(
                "purposes.{id}: unknown purpose in the current config"
            )));
        };
        if purpose.double_opt_in
            && *state == PurposeState::Granted
            && !matches!(
                before.get(id),
                Some(PurposeState::Requested | PurposeState::Granted)
            )
        {
            return Err(Error::new(
                ErrorCode::Conflict,
                format!(
                    "purposes.{id}: double opt-in: record \"requested\" first, then \"granted\" once confirmed"
                ),
            ));
        }
    }
    let language = body
        .language
        .unwrap_or_else(|| config.default_language().to_string());
    if !config.site.languages.contains(&language) {
        return Err(Error::invalid(format!(
            "language: {language:?} is not one of the config's languages"
        )));
    }
    let pseudonyms = Pseudonymiser::new(&site.secret);
    let subject_hash = match &body.subject {
        Some(s) if !super::subjects::is_subject(s) => {
            return Err(Error::invalid(super::subjects::SUBJECT_RULE));
        }
        Some(s) => Some(pseudonyms.subject(s)),
        None => None,
    };
    let (address_hash, ua_hash) = match &body.client {
        Some(client) => {
            let (address, ua) = client.hashes(&pseudonyms)?;
            (Some(address), ua)
        }
        None => (None, None),
    };
    let action = if body
        .purposes
        .values()
        .all(|s| matches!(s, PurposeState::Withdrawn | PurposeState::Refused))
    {
        Action::Withdraw
    } else {
        Action::Custom
    };
    Ok(store
        .append(
            &site.id,
            Draft {
                consent_id,
                action,
                source: Source::Backend,
                config_version: site.config_version.clone(),
                choices: Choices::default(),
                purposes: body.purposes,
                language,
                signals: Default::default(),
                personal: Personal {
                    salt: random_token(16),
                    address_hash,
                    page: None,
                    ip_hash: None,
                    ua_hash,
                    subject_hash,
                },
                idempotency_key: body.idempotency_key,
            },
        )
        .await?)
}

/// The body of `POST /v1/admin/sites/{site}/consents/{consent_id}/match`: an
/// address and/or user agent to compare with what a consent's records hold.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MatchClient {
    #[serde(default)]
    pub ip: Option<String>,
    #[serde(default)]
    pub user_agent: Option<String>,
}

/// Whether a record's keyed hash is that of the value asked about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Compared {
    /// The record holds this value's keyed hash.
    Matches,
    /// The record holds another value's.
    Differs,
    /// The record holds none (the backend sent none, or this was not asked).
    NotRecorded,
    /// The record's personal part was erased (a subject request, retention).
    Erased,
}

/// One record of a consent, compared.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct RecordMatch {
    pub seq: u64,
    pub received_at: String,
    pub source: Source,
    #[schema(value_type = Object)]
    pub purposes: BTreeMap<String, PurposeState>,
    pub ip: Compared,
    pub user_agent: Compared,
}

/// Compares an address and/or user agent with each record of a consent: what an
/// operator shows in a dispute over a double opt-in ("this confirmation came
/// from that address"), without the address ever being stored.
pub async fn match_client<S: Store>(
    store: &S,
    site: &SiteMeta,
    consent_id: &str,
    body: MatchClient,
) -> Result<Vec<RecordMatch>> {
    if body.ip.is_none() && body.user_agent.is_none() {
        return Err(Error::invalid("name an ip, a user_agent or both"));
    }
    let p = Pseudonymiser::new(&site.secret);
    let address = body
        .ip
        .as_deref()
        .map(|ip| address_hash(&p, ip))
        .transpose()?;
    let ua = body
        .user_agent
        .as_deref()
        .map(|ua| ua_hash(&p, ua))
        .transpose()?;
    let records = store.consent(&site.id, consent_id).await?;
    if records.is_empty() {
        return Err(Error::not_found(format!(
            "unknown consent ID {consent_id:?} of site {:?}",
            site.id
        )));
    }
    let compare = |asked: &Option<String>, held: Option<&String>, erased: bool| match (asked, held)
    {
        _ if erased => Compared::Erased,
        (None, _) | (_, None) => Compared::NotRecorded,
        (Some(a), Some(h)) if a == h => Compared::Matches,
        _ => Compared::Differs,
    };
    Ok(records
        .into_iter()
        .map(|r| {
            let erased = r.personal.is_none();
            let personal = r.personal.as_ref();
            RecordMatch {
                seq: r.seq,
                ip: compare(
                    &address,
                    personal.and_then(|p| p.address_hash.as_ref()),
                    erased,
                ),
                user_agent: compare(&ua, personal.and_then(|p| p.ua_hash.as_ref()), erased),
                received_at: r.received_at,
                source: r.source,
                purposes: r.purposes,
            }
        })
        .collect())
}
