//! The admin API (bearer key of the site): proofs, verification, checkpoints,
//! withdrawals and consents recorded by the site's backend, config publishing.
//! Search, export and stats are in [`super::export`]; subjects in [`super::subjects`].

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse, web};
use keksdose_shared::api::ErrorCode;
use keksdose_shared::record::{GENESIS, PurposeState, Source};
use keksdose_shared::{Action, Choices, ConsentRecord, Decision, Personal, SiteConfig};
use serde::Deserialize;

use super::schema::{BrokenLink, ConfigPublished, Keys, Proof, ProofEntry, VerifyReport};
use super::{AppState, HttpError, auth, body};
use crate::pseudonym::{Pseudonymiser, random_token};
use crate::store::{Change, Draft, Store, sled_store::now_ms};

/// The largest config a site may publish.
const MAX_CONFIG: usize = 512 * 1024;

fn not_found(what: String) -> HttpError {
    HttpError::new(ErrorCode::NotFound, what)
}

/// `GET /v1/admin/sites/{site}/consents/{consent_id}/proof`: every record of the
/// consent ID with hashes and chain links, each checked against its neighbours
/// in the ledger, the config versions the visitor was shown, and the signed
/// checkpoint that covers the latest record.
#[utoipa::path(get, path = "/v1/admin/sites/{site}/consents/{consent_id}/proof", tag = "admin",
    params(("site" = String, Path, description = "The site id"), ("consent_id" = String, Path, description = "A consent ID")), security(("api_key" = [])),
    responses(
        (status = 200, description = "Every record of the consent ID, checked, with the configs shown and the covering checkpoint", body = Proof),
        (status = 401, description = "No API key", body = keksdose_shared::api::ApiError),
        (status = 403, description = "The key is not valid for this site, or the Origin is not allowed", body = keksdose_shared::api::ApiError),
        (status = 404, description = "Unknown site or consent ID", body = keksdose_shared::api::ApiError)))]
pub async fn proof<S: Store>(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<AppState<S>>,
) -> Result<HttpResponse, HttpError> {
    let (site, consent_id) = path.into_inner();
    auth::authorise(&req, &state.store, &site)?;
    let records = state.store.consent(&site, &consent_id)?;
    if records.is_empty() {
        return Err(not_found(format!(
            "no records of consent ID {consent_id:?}"
        )));
    }
    let mut verified = true;
    let mut entries = Vec::new();
    for r in &records {
        // A record verifies when its own hashes hold, it links to the record
        // before it in the ledger, and the record after it links to it.
        let own = r.verify_self();
        let prev_ok = match r.seq {
            1 => r.prev_hash == GENESIS,
            n => state
                .store
                .records(&site, n - 1, n - 1, 1)?
                .first()
                .is_some_and(|p| p.record_hash == r.prev_hash && p.verify_self().is_ok()),
        };
        let next = state.store.records(&site, r.seq + 1, r.seq + 1, 1)?;
        let next_ok = next.first().is_none_or(|n| n.prev_hash == r.record_hash);
        let ok = own.is_ok() && prev_ok && next_ok;
        verified &= ok;
        let problem = own.err().map(|e| e.to_string()).or_else(|| {
            (!prev_ok).then(|| {
                format!(
                    "record {}: prev_hash does not match record {}",
                    r.seq,
                    r.seq - 1
                )
            })
        });
        let problem = problem.or_else(|| {
            (!next_ok).then(|| format!("record {} does not link to record {}", r.seq + 1, r.seq))
        });
        entries.push(ProofEntry {
            record: r.clone(),
            verified: ok,
            problem,
            next_prev_hash: next.first().map(|n| n.prev_hash.clone()),
        });
    }
    let mut configs = BTreeMap::new();
    for r in &records {
        if !configs.contains_key(&r.config_version)
            && let Some(c) = state.store.config(&site, &r.config_version)?
        {
            configs.insert(r.config_version.clone(), c);
        }
    }
    let last = records.last().map_or(0, |r| r.seq);
    let checkpoint = state.store.checkpoint_covering(&site, last)?;
    let checkpoint_valid = checkpoint.as_ref().map(|c| state.signer.verify(c));
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(Proof {
            site,
            consent_id,
            verified,
            records: entries,
            configs,
            checkpoint,
            checkpoint_signature_valid: checkpoint_valid,
        }))
}

/// `GET /v1/admin/sites/{site}/verify`: recomputes the whole chain and reports the
/// first broken link, if any, and whether the latest checkpoint still matches.
#[utoipa::path(get, path = "/v1/admin/sites/{site}/verify", tag = "admin",
    params(("site" = String, Path, description = "The site id")), security(("api_key" = [])),
    responses(
        (status = 200, description = "The whole chain recomputed; the first broken link, if any", body = VerifyReport),
        (status = 401, description = "No API key", body = keksdose_shared::api::ApiError),
        (status = 403, description = "The key is not valid for this site, or the Origin is not allowed", body = keksdose_shared::api::ApiError)))]
pub async fn verify<S: Store>(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState<S>>,
) -> Result<HttpResponse, HttpError> {
    let site = path.into_inner();
    auth::authorise(&req, &state.store, &site)?;
    let (checked, broken) = state.store.verify_chain(&site)?;
    let head = state.store.head(&site)?;
    let checkpoint = state.store.latest_checkpoint(&site)?;
    // The checkpoint still matches when its signature holds and the record it
    // names has the hash it signed.
    let checkpoint_matches = match &checkpoint {
        None => None,
        Some(c) => Some(
            state.signer.verify(c)
                && (c.seq == 0
                    || state
                        .store
                        .records(&site, c.seq, c.seq, 1)?
                        .first()
                        .is_some_and(|r| r.record_hash == c.head_hash)),
        ),
    };
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(VerifyReport {
            site,
            verified: broken.is_none() && checkpoint_matches != Some(false),
            records: head.as_ref().map_or(0, |h| h.seq),
            checked,
            head: head.map(|h| h.hash),
            first_broken: broken.as_ref().map(|b| BrokenLink {
                error: b.to_string(),
                detail: serde_json::to_value(b).unwrap_or_default(),
            }),
            checkpoint,
            checkpoint_matches,
        }))
}

/// `POST /v1/admin/sites/{site}/checkpoints`: signs the ledger's head now.
#[utoipa::path(post, path = "/v1/admin/sites/{site}/checkpoints", tag = "admin",
    params(("site" = String, Path, description = "The site id")), security(("api_key" = [])),
    responses(
        (status = 201, description = "The ledger head, signed now (Ed25519 over JCS without signature)", body = keksdose_shared::Checkpoint),
        (status = 401, description = "No API key", body = keksdose_shared::api::ApiError),
        (status = 403, description = "The key is not valid for this site, or the Origin is not allowed", body = keksdose_shared::api::ApiError),
        (status = 503, description = "Storage cannot take writes right now (see Retry-After)", body = keksdose_shared::api::ApiError)))]
pub async fn checkpoint<S: Store>(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState<S>>,
) -> Result<HttpResponse, HttpError> {
    let site = path.into_inner();
    auth::authorise(&req, &state.store, &site)?;
    let c = sign_head(&state, &site).await?;
    Ok(HttpResponse::Created().json(c))
}

/// Signs and stores a checkpoint of `site`'s current head.
pub async fn sign_head<S: Store>(
    state: &AppState<S>,
    site: &str,
) -> Result<keksdose_shared::Checkpoint, HttpError> {
    let (seq, hash) = state
        .store
        .head(site)?
        .map_or((0, GENESIS.to_string()), |h| (h.seq, h.hash));
    let c = state.signer.sign(site, seq, &hash, now_ms());
    state
        .store
        .change(vec![Change::Checkpoint {
            checkpoint: c.clone(),
        }])
        .await?;
    Ok(c)
}

/// `GET /v1/keys`: the public keys that sign checkpoints (JWK).
#[utoipa::path(get, path = "/v1/keys", tag = "operations",
    responses((status = 200, description = "The public keys that sign checkpoints", body = Keys)))]
pub async fn keys<S: Store>(state: web::Data<AppState<S>>) -> HttpResponse {
    HttpResponse::Ok().json(Keys {
        keys: vec![state.signer.public_jwk()],
    })
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

/// `POST /v1/admin/sites/{site}/consents/{consent_id}/withdraw`: a withdrawal
/// received by other means (an e-mail "Widerspruch"): only necessary services stay
/// allowed, and every purpose is withdrawn.
#[utoipa::path(post, path = "/v1/admin/sites/{site}/consents/{consent_id}/withdraw", tag = "admin",
    params(("site" = String, Path, description = "The site id"), ("consent_id" = String, Path, description = "A consent ID")), security(("api_key" = [])),
    responses(
        (status = 201, description = "A withdrawal recorded on the visitor's behalf", body = keksdose_shared::record::Receipt),
        (status = 401, description = "No API key", body = keksdose_shared::api::ApiError),
        (status = 403, description = "The key is not valid for this site, or the Origin is not allowed", body = keksdose_shared::api::ApiError),
        (status = 404, description = "Unknown site or consent ID", body = keksdose_shared::api::ApiError),
        (status = 503, description = "Storage cannot take writes right now (see Retry-After)", body = keksdose_shared::api::ApiError)))]
pub async fn withdraw<S: Store>(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<AppState<S>>,
) -> Result<HttpResponse, HttpError> {
    let (site_id, consent_id) = path.into_inner();
    let site = auth::authorise(&req, &state.store, &site_id)?;
    let history = state.store.consent(&site.id, &consent_id)?;
    let Some(last) = history.last() else {
        return Err(not_found(format!(
            "no records of consent ID {consent_id:?}"
        )));
    };
    let published = state.published.get(&state.store, &site)?;
    let config = &published.config;
    let purposes = purpose_states(&history)
        .into_iter()
        .filter(|(_, s)| matches!(s, PurposeState::Requested | PurposeState::Granted))
        .map(|(p, _)| (p, PurposeState::Withdrawn))
        .collect();
    let choices = Decision::new(Action::Withdraw)
        .resolve(config)
        .map_err(|e| HttpError::invalid("the current config cannot resolve a withdrawal", &e))?;
    let record = state
        .store
        .append(
            &site.id,
            Draft {
                consent_id,
                action: Action::Withdraw,
                source: Source::Operator,
                config_version: site.config_version.clone(),
                choices,
                purposes,
                language: last.language.clone(),
                signals: Default::default(),
                personal: Personal {
                    salt: random_token(16),
                    page: None,
                    ip_hash: None,
                    ua_hash: None,
                    subject_hash: None,
                },
                idempotency_key: None,
            },
        )
        .await?;
    Ok(HttpResponse::Created().json(record.receipt()))
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
}

/// `POST /v1/admin/sites/{site}/consents`: a consent given outside the banner
/// (newsletter double opt-in, calendar sync, push), recorded in the same ledger.
#[utoipa::path(post, path = "/v1/admin/sites/{site}/consents", tag = "admin",
    params(("site" = String, Path, description = "The site id")), security(("api_key" = [])),
    request_body = BackendConsent,
    responses(
        (status = 201, description = "A consent given outside the banner, recorded", body = keksdose_shared::record::Receipt),
        (status = 400, description = "Malformed request (bad JSON, wrong types, unknown fields, bad query)", body = keksdose_shared::api::ApiError),
        (status = 401, description = "No API key", body = keksdose_shared::api::ApiError),
        (status = 403, description = "The key is not valid for this site, or the Origin is not allowed", body = keksdose_shared::api::ApiError),
        (status = 409, description = "Conflict", body = keksdose_shared::api::ApiError),
        (status = 408, description = "The body did not arrive in time", body = keksdose_shared::api::ApiError),
        (status = 413, description = "Body too large", body = keksdose_shared::api::ApiError),
        (status = 415, description = "Not application/json", body = keksdose_shared::api::ApiError),
        (status = 422, description = "Well-formed but invalid (every problem with its path in details)", body = keksdose_shared::api::ApiError),
        (status = 503, description = "Storage cannot take writes right now (see Retry-After)", body = keksdose_shared::api::ApiError)))]
pub async fn backend_consent<S: Store>(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState<S>>,
) -> Result<HttpResponse, HttpError> {
    let site = auth::authorise(&req, &state.store, &path)?;
    let body: BackendConsent = body::read_json(&req, payload, super::public::MAX_BODY).await?;
    let published = state.published.get(&state.store, &site)?;
    let config = &published.config;
    let invalid = |m: String| HttpError::new(ErrorCode::Invalid, m);
    if body.purposes.is_empty() {
        return Err(invalid("purposes: name at least one purpose".into()));
    }
    let (consent_id, history) = match &body.consent_id {
        Some(id) => {
            let history = state.store.consent(&site.id, id)?;
            if history.is_empty() {
                return Err(invalid(format!(
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
            return Err(invalid(format!(
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
            return Err(HttpError::new(
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
        return Err(invalid(format!(
            "language: {language:?} is not one of the config's languages"
        )));
    }
    let subject_hash = match &body.subject {
        Some(s) if s.is_empty() || s.len() > 256 => {
            return Err(invalid("subject: expected 1 to 256 characters".into()));
        }
        Some(s) => Some(Pseudonymiser::new(&site.secret).subject(s)),
        None => None,
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
    let record = state
        .store
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
                    page: None,
                    ip_hash: None,
                    ua_hash: None,
                    subject_hash,
                },
                idempotency_key: body.idempotency_key,
            },
        )
        .await?;
    Ok(HttpResponse::Created().json(record.receipt()))
}

/// `PUT /v1/admin/sites/{site}/config`: validates and publishes a new config
/// version; every earlier version stays retrievable for proofs.
#[utoipa::path(put, path = "/v1/admin/sites/{site}/config", tag = "admin",
    params(("site" = String, Path, description = "The site id")), security(("api_key" = [])),
    request_body = keksdose_shared::SiteConfig,
    responses(
        (status = 200, description = "Published (or unchanged); older versions stay stored", body = ConfigPublished),
        (status = 400, description = "Malformed request (bad JSON, wrong types, unknown fields, bad query)", body = keksdose_shared::api::ApiError),
        (status = 401, description = "No API key", body = keksdose_shared::api::ApiError),
        (status = 403, description = "The key is not valid for this site, or the Origin is not allowed", body = keksdose_shared::api::ApiError),
        (status = 408, description = "The body did not arrive in time", body = keksdose_shared::api::ApiError),
        (status = 413, description = "Body too large", body = keksdose_shared::api::ApiError),
        (status = 415, description = "Not application/json", body = keksdose_shared::api::ApiError),
        (status = 422, description = "Well-formed but invalid (every problem with its path in details)", body = keksdose_shared::api::ApiError),
        (status = 503, description = "Storage cannot take writes right now (see Retry-After)", body = keksdose_shared::api::ApiError)))]
pub async fn put_config<S: Store>(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState<S>>,
) -> Result<HttpResponse, HttpError> {
    let site = auth::authorise(&req, &state.store, &path)?;
    let config: SiteConfig = body::read_json(&req, payload, MAX_CONFIG).await?;
    config
        .validate()
        .map_err(|e| HttpError::invalid("the config is invalid", &e))?;
    let previous = site.config_version.clone();
    let version = if config.version() == previous {
        previous.clone()
    } else {
        state.store.publish_config(&site.id, config).await?
    };
    Ok(HttpResponse::Ok().json(ConfigPublished {
        site: site.id,
        version,
        previous,
    }))
}
