//! The admin API (bearer key of the site): proofs, verification, checkpoints,
//! withdrawals and consents recorded by the site's backend, config publishing.
//! Search, export and stats are in [`super::export`]; subjects in [`super::subjects`].
//! Each handler authorises, reads the request and calls one service.

use actix_web::{HttpRequest, HttpResponse, web};
use keksdose_shared::SiteConfig;
use keksdose_store::Store;

use super::schema::{self, ConfigPublished, Keys, Proof, VerifyReport};
use super::users::API_KEY;
use super::{AppState, HttpError, auth, body};
pub use crate::service::consents::BackendConsent;
use crate::service::{consents, operators, proofs, sites};

/// The largest config a site may publish.
const MAX_CONFIG: usize = 512 * 1024;

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
    let site = auth::authorise(&req, &*state.store, &site).await?;
    let proof = proofs::proof(&*state.store, &site.id, &consent_id).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(proof))
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
    let site = auth::authorise(&req, &*state.store, &path).await?;
    let report = proofs::verify(&*state.store, &site.id).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(report))
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
    let site = auth::authorise(&req, &*state.store, &path).await?;
    let c = proofs::sign_head(&*state.store, &state.signer, &site.id).await?;
    Ok(HttpResponse::Created().json(c))
}

/// `GET /v1/keys`: the public keys that sign checkpoints (JWK).
#[utoipa::path(get, path = "/v1/keys", tag = "operations",
    responses((status = 200, description = "The public keys that sign checkpoints", body = Keys)))]
pub async fn keys<S: Store>(state: web::Data<AppState<S>>) -> Result<HttpResponse, HttpError> {
    let keys = state.store.keys().await?;
    Ok(HttpResponse::Ok().json(Keys {
        keys: keys.iter().map(crate::signing::jwk).collect(),
    }))
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
    let (site, consent_id) = path.into_inner();
    let site = auth::authorise(&req, &*state.store, &site).await?;
    if state.store.consent(&site.id, &consent_id).await?.is_empty() {
        let missing = format!("no records of consent ID {consent_id:?}");
        return Err(crate::service::Error::not_found(missing).into());
    }
    // Noted first: nothing is done that the trail does not hold.
    operators::audit(
        &*state.store,
        API_KEY,
        "withdraw",
        Some(&site.id),
        Some(&consent_id),
        "",
    )
    .await?;
    let record =
        consents::withdraw_for_visitor(&*state.store, &state.published, &site, consent_id).await?;
    Ok(HttpResponse::Created().json(record.receipt()))
}

/// `POST /v1/admin/sites/{site}/consents/{consent_id}/match`: whether an IP
/// address and/or user agent is the one a consent's records hold as a keyed hash
/// (a double opt-in's sign-up and confirmation, a banner decision's user agent):
/// how an operator shows in a dispute that a given address made the consent.
#[utoipa::path(post, path = "/v1/admin/sites/{site}/consents/{consent_id}/match", tag = "admin",
    params(("site" = String, Path, description = "The site id"), ("consent_id" = String, Path, description = "A consent ID")), security(("api_key" = [])),
    request_body = consents::MatchClient,
    responses(
        (status = 200, description = "Each record of the consent, compared", body = schema::Matches),
        (status = 400, description = "Malformed request (bad JSON, wrong types, unknown fields, bad query)", body = keksdose_shared::api::ApiError),
        (status = 401, description = "No API key", body = keksdose_shared::api::ApiError),
        (status = 403, description = "The key is not valid for this site, or the Origin is not allowed", body = keksdose_shared::api::ApiError),
        (status = 404, description = "Unknown site or consent ID", body = keksdose_shared::api::ApiError),
        (status = 408, description = "The body did not arrive in time", body = keksdose_shared::api::ApiError),
        (status = 413, description = "Body too large", body = keksdose_shared::api::ApiError),
        (status = 415, description = "Not application/json", body = keksdose_shared::api::ApiError),
        (status = 422, description = "Well-formed but invalid", body = keksdose_shared::api::ApiError)))]
pub async fn match_client<S: Store>(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    payload: web::Payload,
    state: web::Data<AppState<S>>,
) -> Result<HttpResponse, HttpError> {
    let (site, consent_id) = path.into_inner();
    let site = auth::authorise(&req, &*state.store, &site).await?;
    let body: consents::MatchClient =
        body::read_json(&req, payload, super::public::MAX_BODY).await?;
    let records = consents::match_client(&*state.store, &site, &consent_id, body).await?;
    Ok(HttpResponse::Ok().json(schema::Matches {
        consent_id,
        records,
    }))
}

/// `GET /v1/admin/sites/{site}/consents/{consent_id}/proof-pack`: the consent's
/// proof in one file that `keksdose verify-proof` checks offline.
#[utoipa::path(get, path = "/v1/admin/sites/{site}/consents/{consent_id}/proof-pack", tag = "admin",
    params(("site" = String, Path, description = "The site id"), ("consent_id" = String, Path, description = "A consent ID")), security(("api_key" = [])),
    responses(
        (status = 200, description = "The proof pack (a download); a record no checkpoint covered yet is covered by one signed now", body = crate::service::proofs::ProofPack),
        (status = 401, description = "No API key", body = keksdose_shared::api::ApiError),
        (status = 403, description = "The key is not valid for this site, or the Origin is not allowed", body = keksdose_shared::api::ApiError),
        (status = 404, description = "Unknown site or consent ID", body = keksdose_shared::api::ApiError),
        (status = 503, description = "Storage cannot take writes right now (see Retry-After)", body = keksdose_shared::api::ApiError)))]
pub async fn proof_pack<S: Store>(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<AppState<S>>,
) -> Result<HttpResponse, HttpError> {
    let (site, consent_id) = path.into_inner();
    let site = auth::authorise(&req, &*state.store, &site).await?;
    let pack = proofs::proof_pack(&*state.store, &state.signer, &site.id, &consent_id).await?;
    operators::audit(
        &*state.store,
        API_KEY,
        "proof_pack",
        Some(&site.id),
        Some(&consent_id),
        "",
    )
    .await?;
    let name = format!("keksdose-proof-{}-{}.json", site.id, consent_id);
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"{name}\""),
        ))
        .json(pack))
}

/// `POST /v1/admin/sites/{site}/retention`: applies the site's retention rules
/// now (the server does so on its own every `retention_every_secs`).
#[utoipa::path(post, path = "/v1/admin/sites/{site}/retention", tag = "admin",
    params(("site" = String, Path, description = "The site id")), security(("api_key" = [])),
    responses(
        (status = 200, description = "The rules applied: what aged out", body = crate::service::retention::Applied),
        (status = 401, description = "No API key", body = keksdose_shared::api::ApiError),
        (status = 403, description = "The key is not valid for this site, or the Origin is not allowed", body = keksdose_shared::api::ApiError),
        (status = 404, description = "Unknown site", body = keksdose_shared::api::ApiError),
        (status = 503, description = "Storage cannot take writes right now (see Retry-After)", body = keksdose_shared::api::ApiError)))]
pub async fn retention<S: Store>(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState<S>>,
) -> Result<HttpResponse, HttpError> {
    let site = auth::authorise(&req, &*state.store, &path).await?;
    let current = state.published.get(&*state.store, &site).await?;
    let applied = crate::service::retention::apply(
        &*state.store,
        &site,
        &current.config,
        crate::service::retention::clock_ms(),
    )
    .await?;
    Ok(HttpResponse::Ok().json(applied))
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
    let site = auth::authorise(&req, &*state.store, &path).await?;
    let body: BackendConsent = body::read_json(&req, payload, super::public::MAX_BODY).await?;
    let record = consents::record_backend(&*state.store, &state.published, &site, body).await?;
    Ok(HttpResponse::Created().json(record.receipt()))
}

/// `POST /v1/admin/sites/{site}/config/check`: validates a config as publishing
/// would and says what publishing it would do — its version, the paths that
/// differ from the published one, whether visitors are asked again — without
/// publishing (the console's *Check*).
#[utoipa::path(post, path = "/v1/admin/sites/{site}/config/check", tag = "admin",
    params(("site" = String, Path, description = "The site id")), security(("api_key" = [])),
    request_body = keksdose_shared::SiteConfig,
    responses(
        (status = 200, description = "Valid: what publishing it would do", body = crate::service::sites::ConfigCheck),
        (status = 400, description = "Malformed request (bad JSON, wrong types, unknown fields, bad query)", body = keksdose_shared::api::ApiError),
        (status = 401, description = "No API key", body = keksdose_shared::api::ApiError),
        (status = 403, description = "The key is not valid for this site, or the Origin is not allowed", body = keksdose_shared::api::ApiError),
        (status = 408, description = "The body did not arrive in time", body = keksdose_shared::api::ApiError),
        (status = 413, description = "Body too large", body = keksdose_shared::api::ApiError),
        (status = 415, description = "Not application/json", body = keksdose_shared::api::ApiError),
        (status = 422, description = "Well-formed but invalid (every problem with its path in details)", body = keksdose_shared::api::ApiError)))]
pub async fn check_config<S: Store>(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState<S>>,
) -> Result<HttpResponse, HttpError> {
    let site = auth::authorise(&req, &*state.store, &path).await?;
    let config: SiteConfig = body::read_json(&req, payload, MAX_CONFIG).await?;
    let check = sites::check(&*state.store, &site, config).await?;
    Ok(HttpResponse::Ok().json(check))
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
    let site = auth::authorise(&req, &*state.store, &path).await?;
    let config: SiteConfig = body::read_json(&req, payload, MAX_CONFIG).await?;
    // Valid (every problem with its path), noted, then published.
    let check = sites::check(&*state.store, &site, config.clone()).await?;
    let version = check.version;
    if !check.published {
        // Noted first (a config then refused as invalid is noted with its
        // version, and published never).
        let detail = format!("after {}", site.config_version);
        operators::audit(
            &*state.store,
            API_KEY,
            "publish",
            Some(&site.id),
            Some(&version),
            &detail,
        )
        .await?;
    }
    let (version, previous) = sites::publish(&*state.store, &site, config).await?;
    Ok(HttpResponse::Ok().json(ConfigPublished {
        site: site.id,
        version,
        previous,
    }))
}
