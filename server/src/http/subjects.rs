//! A site's own user ids (subjects), over HTTP: linking them to consent IDs,
//! access and export (Art. 15/20 GDPR), and erasure (Art. 17); the rules are in
//! [`crate::service::subjects`].

use actix_web::{HttpRequest, HttpResponse, web};
use keksdose_store::Store;
use serde::Deserialize;

use super::schema::{Erasure, SubjectAccess, SubjectLinks};
use super::{AppState, HttpError, auth, body};
use crate::service::subjects;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Link {
    pub consent_id: String,
}

/// `POST /v1/admin/sites/{site}/subjects/{subject}`: links a consent ID to the
/// site's user id.
#[utoipa::path(post, path = "/v1/admin/sites/{site}/subjects/{subject}", tag = "admin",
    params(("site" = String, Path, description = "The site id"), ("subject" = String, Path, description = "The site's own user id (stored only as a keyed hash)")), security(("api_key" = [])),
    request_body = Link,
    responses(
        (status = 200, description = "The subject's consent IDs after linking", body = SubjectLinks),
        (status = 400, description = "Malformed request (bad JSON, wrong types, unknown fields, bad query)", body = keksdose_shared::api::ApiError),
        (status = 401, description = "No API key", body = keksdose_shared::api::ApiError),
        (status = 403, description = "The key is not valid for this site, or the Origin is not allowed", body = keksdose_shared::api::ApiError),
        (status = 408, description = "The body did not arrive in time", body = keksdose_shared::api::ApiError),
        (status = 413, description = "Body too large", body = keksdose_shared::api::ApiError),
        (status = 415, description = "Not application/json", body = keksdose_shared::api::ApiError),
        (status = 422, description = "Well-formed but invalid (every problem with its path in details)", body = keksdose_shared::api::ApiError)))]
pub async fn link<S: Store>(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    payload: web::Payload,
    state: web::Data<AppState<S>>,
) -> Result<HttpResponse, HttpError> {
    let (site, subject) = path.into_inner();
    let site = auth::authorise(&req, &*state.store, &site).await?;
    subjects::subject_hash(&site, &subject)?;
    let body: Link = body::read_json(&req, payload, 4096).await?;
    let consents = subjects::link(&*state.store, &site, &subject, body.consent_id).await?;
    Ok(HttpResponse::Ok().json(SubjectLinks { consents }))
}

/// `GET /v1/admin/sites/{site}/subjects/{subject}`: every consent of the subject
/// with all its records (access and portability).
#[utoipa::path(get, path = "/v1/admin/sites/{site}/subjects/{subject}", tag = "admin",
    params(("site" = String, Path, description = "The site id"), ("subject" = String, Path, description = "The site's own user id (stored only as a keyed hash)")), security(("api_key" = [])),
    responses(
        (status = 200, description = "Every consent of the subject with all its records (Art. 15/20 GDPR)", body = SubjectAccess),
        (status = 400, description = "Malformed request (bad JSON, wrong types, unknown fields, bad query)", body = keksdose_shared::api::ApiError),
        (status = 401, description = "No API key", body = keksdose_shared::api::ApiError),
        (status = 403, description = "The key is not valid for this site, or the Origin is not allowed", body = keksdose_shared::api::ApiError)))]
pub async fn access<S: Store>(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<AppState<S>>,
) -> Result<HttpResponse, HttpError> {
    let (site, subject) = path.into_inner();
    let site = auth::authorise(&req, &*state.store, &site).await?;
    let access = subjects::access(&*state.store, &site, &subject).await?;
    let target = format!("subject:{}", subjects::subject_hash(&site, &subject)?);
    crate::service::operators::audit(
        &*state.store,
        super::users::API_KEY,
        "access",
        Some(&site.id),
        Some(&target),
        "",
    )
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(access))
}

/// `GET /v1/admin/sites/{site}/subjects/{subject}/renewal`: whether the
/// subject's consents predate the privacy policy in force, so that the site
/// can show its notice of a material change at the next sign-in.
#[utoipa::path(get, path = "/v1/admin/sites/{site}/subjects/{subject}/renewal", tag = "admin",
    params(("site" = String, Path, description = "The site id"), ("subject" = String, Path, description = "The site's own user id (stored only as a keyed hash)")), security(("api_key" = [])),
    responses(
        (status = 200, description = "The policy in force and whether each consent of the subject predates it", body = subjects::Renewal),
        (status = 400, description = "Malformed request (bad JSON, wrong types, unknown fields, bad query)", body = keksdose_shared::api::ApiError),
        (status = 401, description = "No API key", body = keksdose_shared::api::ApiError),
        (status = 403, description = "The key is not valid for this site, or the Origin is not allowed", body = keksdose_shared::api::ApiError)))]
pub async fn renewal<S: Store>(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<AppState<S>>,
) -> Result<HttpResponse, HttpError> {
    let (site, subject) = path.into_inner();
    let site = auth::authorise(&req, &*state.store, &site).await?;
    let current = state.published.get(&*state.store, &site).await?;
    let renewal = subjects::renewal(&*state.store, &site, &current.config, &subject).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(renewal))
}

/// `DELETE /v1/admin/sites/{site}/subjects/{subject}`: erasure. The personal
/// content of every linked record is dropped (hashes kept) and the links removed.
#[utoipa::path(delete, path = "/v1/admin/sites/{site}/subjects/{subject}", tag = "admin",
    params(("site" = String, Path, description = "The site id"), ("subject" = String, Path, description = "The site's own user id (stored only as a keyed hash)")), security(("api_key" = [])),
    responses(
        (status = 200, description = "Personal content of every linked record dropped, hashes kept (Art. 17 GDPR)", body = Erasure),
        (status = 400, description = "Malformed request (bad JSON, wrong types, unknown fields, bad query)", body = keksdose_shared::api::ApiError),
        (status = 401, description = "No API key", body = keksdose_shared::api::ApiError),
        (status = 403, description = "The key is not valid for this site, or the Origin is not allowed", body = keksdose_shared::api::ApiError),
        (status = 503, description = "Storage cannot take writes right now (see Retry-After)", body = keksdose_shared::api::ApiError)))]
pub async fn erase<S: Store>(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<AppState<S>>,
) -> Result<HttpResponse, HttpError> {
    let (site, subject) = path.into_inner();
    let site = auth::authorise(&req, &*state.store, &site).await?;
    let target = format!("subject:{}", subjects::subject_hash(&site, &subject)?);
    // Noted first: nothing is erased that the trail does not hold.
    crate::service::operators::audit(
        &*state.store,
        super::users::API_KEY,
        "erase",
        Some(&site.id),
        Some(&target),
        "",
    )
    .await?;
    let erasure = subjects::erase(&*state.store, &site, &subject).await?;
    Ok(HttpResponse::Ok().json(erasure))
}
