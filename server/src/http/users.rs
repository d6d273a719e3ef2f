//! The admin API's side of the console: the site's users and their roles, the
//! API key's rotation and the audit trail (`Authorization: Bearer <site key>`;
//! whatever the console does, a machine can do here too). Each handler
//! authorises, reads the request and calls one service.

use actix_web::{HttpRequest, HttpResponse, web};
use keksdose_store::Store;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{AppState, HttpError, auth, body};
use crate::service::operators::{self, AuditTrail, OperatorView, Role};
use crate::service::{Error, sites};

/// The audit trail's actor for a request with the site's key.
pub const API_KEY: &str = "api-key";

/// Body of `POST /v1/admin/sites/{site}/users`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    /// The operator's e-mail, how they sign in.
    pub email: String,
    pub role: Role,
}

/// Body of `PUT /v1/admin/sites/{site}/users/{id}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleChange {
    pub role: Role,
}

/// A user given a role; a new account comes with its initial password, shown
/// only in this answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserAdded {
    pub user: OperatorView,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

/// `{"users": [...]}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Users {
    pub site: String,
    pub users: Vec<OperatorView>,
}

/// A new API key, shown only in this answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct NewKey {
    pub site: String,
    pub api_key: String,
}

/// Query of `GET /v1/admin/sites/{site}/audit`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// At most this many entries, newest first (1 to 1000, default 100).
    pub limit: Option<usize>,
}

/// `GET /v1/admin/sites/{site}/users`: the operators with a role on the site.
#[utoipa::path(get, path = "/v1/admin/sites/{site}/users", tag = "admin",
    params(("site" = String, Path, description = "The site id")), security(("api_key" = [])),
    responses(
        (status = 200, description = "The console's users with a role on this site", body = Users),
        (status = 401, description = "No API key", body = keksdose_shared::api::ApiError),
        (status = 403, description = "The key is not valid for this site, or the Origin is not allowed", body = keksdose_shared::api::ApiError)))]
pub async fn list<S: Store>(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState<S>>,
) -> Result<HttpResponse, HttpError> {
    let site = auth::authorise(&req, &*state.store, &path).await?;
    let users = operators::of_site(&*state.store, &site.id).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(Users {
            site: site.id,
            users,
        }))
}

/// `POST /v1/admin/sites/{site}/users`: gives an e-mail a role on the site (a
/// new account gets an initial password, in this answer only).
#[utoipa::path(post, path = "/v1/admin/sites/{site}/users", tag = "admin",
    params(("site" = String, Path, description = "The site id")), security(("api_key" = [])),
    request_body = NewUser,
    responses(
        (status = 201, description = "The user has the role; a new account's initial password", body = UserAdded),
        (status = 400, description = "Malformed request (bad JSON, wrong types, unknown fields, not an e-mail address)", body = keksdose_shared::api::ApiError),
        (status = 401, description = "No API key", body = keksdose_shared::api::ApiError),
        (status = 403, description = "The key is not valid for this site, or the Origin is not allowed", body = keksdose_shared::api::ApiError),
        (status = 408, description = "The body did not arrive in time", body = keksdose_shared::api::ApiError),
        (status = 413, description = "Body too large", body = keksdose_shared::api::ApiError),
        (status = 415, description = "Not application/json", body = keksdose_shared::api::ApiError),
        (status = 503, description = "Storage cannot take writes right now (see Retry-After)", body = keksdose_shared::api::ApiError)))]
pub async fn add<S: Store>(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState<S>>,
) -> Result<HttpResponse, HttpError> {
    let site = auth::authorise(&req, &*state.store, &path).await?;
    let new: NewUser = body::read_json(&req, payload, 4096).await?;
    let added = operators::add(
        &*state.store,
        API_KEY,
        &new.email,
        &site.id,
        new.role,
        operators::Existing::Refuse,
    )
    .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Cache-Control", "no-store"))
        .json(UserAdded {
            user: OperatorView {
                id: added.operator.id,
                email: added.operator.email,
                role: new.role,
                created_at: added.operator.created_at,
            },
            password: added.password,
        }))
}

/// `PUT /v1/admin/sites/{site}/users/{id}`: changes the role of a user of the site.
#[utoipa::path(put, path = "/v1/admin/sites/{site}/users/{id}", tag = "admin",
    params(("site" = String, Path, description = "The site id"), ("id" = String, Path, description = "The user's id")), security(("api_key" = [])),
    request_body = RoleChange,
    responses(
        (status = 200, description = "The role is changed", body = OperatorView),
        (status = 400, description = "Malformed request (bad JSON, wrong types, unknown fields)", body = keksdose_shared::api::ApiError),
        (status = 401, description = "No API key", body = keksdose_shared::api::ApiError),
        (status = 403, description = "The key is not valid for this site, or the Origin is not allowed", body = keksdose_shared::api::ApiError),
        (status = 404, description = "No such user on this site", body = keksdose_shared::api::ApiError),
        (status = 408, description = "The body did not arrive in time", body = keksdose_shared::api::ApiError),
        (status = 413, description = "Body too large", body = keksdose_shared::api::ApiError),
        (status = 415, description = "Not application/json", body = keksdose_shared::api::ApiError),
        (status = 503, description = "Storage cannot take writes right now (see Retry-After)", body = keksdose_shared::api::ApiError)))]
pub async fn set<S: Store>(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    payload: web::Payload,
    state: web::Data<AppState<S>>,
) -> Result<HttpResponse, HttpError> {
    let (site, id) = path.into_inner();
    let site = auth::authorise(&req, &*state.store, &site).await?;
    let change: RoleChange = body::read_json(&req, payload, 4096).await?;
    let o = operators::set_role(&*state.store, API_KEY, &id, &site.id, Some(change.role)).await?;
    Ok(HttpResponse::Ok().json(OperatorView {
        id: o.id,
        email: o.email,
        role: change.role,
        created_at: o.created_at,
    }))
}

/// `DELETE /v1/admin/sites/{site}/users/{id}`: takes the user's role on the site away.
#[utoipa::path(delete, path = "/v1/admin/sites/{site}/users/{id}", tag = "admin",
    params(("site" = String, Path, description = "The site id"), ("id" = String, Path, description = "The user's id")), security(("api_key" = [])),
    responses(
        (status = 204, description = "The user has no role on this site any more"),
        (status = 401, description = "No API key", body = keksdose_shared::api::ApiError),
        (status = 403, description = "The key is not valid for this site, or the Origin is not allowed", body = keksdose_shared::api::ApiError),
        (status = 404, description = "No such user on this site", body = keksdose_shared::api::ApiError),
        (status = 503, description = "Storage cannot take writes right now (see Retry-After)", body = keksdose_shared::api::ApiError)))]
pub async fn remove<S: Store>(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<AppState<S>>,
) -> Result<HttpResponse, HttpError> {
    let (site, id) = path.into_inner();
    let site = auth::authorise(&req, &*state.store, &site).await?;
    operators::set_role(&*state.store, API_KEY, &id, &site.id, None).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /v1/admin/sites/{site}/key`: a new API key; the one used for this
/// request stops working.
#[utoipa::path(post, path = "/v1/admin/sites/{site}/key", tag = "admin",
    params(("site" = String, Path, description = "The site id")), security(("api_key" = [])),
    responses(
        (status = 201, description = "The new key, shown only now (only its SHA-256 is kept)", body = NewKey),
        (status = 401, description = "No API key", body = keksdose_shared::api::ApiError),
        (status = 403, description = "The key is not valid for this site, or the Origin is not allowed", body = keksdose_shared::api::ApiError),
        (status = 503, description = "Storage cannot take writes right now (see Retry-After)", body = keksdose_shared::api::ApiError)))]
pub async fn rotate_key<S: Store>(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState<S>>,
) -> Result<HttpResponse, HttpError> {
    let site = auth::authorise(&req, &*state.store, &path).await?;
    // Noted first: a new key is never lost to a failed note after it.
    operators::audit(
        &*state.store,
        API_KEY,
        "key_rotate",
        Some(&site.id),
        None,
        "",
    )
    .await?;
    let api_key = sites::rotate_key(&*state.store, &site.id).await?;
    Ok(HttpResponse::Created()
        .insert_header(("Cache-Control", "no-store"))
        .json(NewKey {
            site: site.id,
            api_key,
        }))
}

/// `GET /v1/admin/sites/{site}/audit`: the site's part of the operators' audit
/// trail, newest first, and whether the whole trail's hash chain verified.
#[utoipa::path(get, path = "/v1/admin/sites/{site}/audit", tag = "admin",
    params(("site" = String, Path, description = "The site id"), AuditQuery), security(("api_key" = [])),
    responses(
        (status = 200, description = "Sign-ins, publishes, withdrawals, erasures, exports, key rotations and user changes, with who did them", body = AuditTrail),
        (status = 400, description = "Malformed request (bad query)", body = keksdose_shared::api::ApiError),
        (status = 401, description = "No API key", body = keksdose_shared::api::ApiError),
        (status = 403, description = "The key is not valid for this site, or the Origin is not allowed", body = keksdose_shared::api::ApiError)))]
pub async fn audit<S: Store>(
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<AuditQuery>,
    state: web::Data<AppState<S>>,
) -> Result<HttpResponse, HttpError> {
    let site = auth::authorise(&req, &*state.store, &path).await?;
    let limit = query.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(Error::bad_request("limit: expected 1 to 1000").into());
    }
    let trail = operators::trail(&*state.store, &site.id, limit).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(trail))
}
