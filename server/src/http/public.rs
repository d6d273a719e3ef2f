//! The public API, called from visitors' browsers: the config, recording a
//! decision, and a visitor's own history. CORS is limited to the site's origins.
//! Each route is rate limited per pseudonymised client ([`crate::ratelimit`]).

use std::collections::BTreeMap;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder, web};
use keksdose_shared::Personal;
use keksdose_shared::api::{ApiError, ErrorCode};
use keksdose_shared::consent_request::{CheckedConsent, ConsentProblem, ConsentRequest, is_token};
use keksdose_shared::record::Source;

use super::schema::{Gpc, History, PublishedConfig};
use super::{AppState, HttpError};
use crate::pseudonym::{Pseudonymiser, random_token};
use crate::ratelimit::Route;
use crate::store::{Draft, SiteMeta, Store};

/// The largest request body the public API reads.
pub const MAX_BODY: usize = 16 * 1024;

/// `GET /.well-known/gpc.json` (Global Privacy Control): this server honours GPC.
#[utoipa::path(get, path = "/.well-known/gpc.json", tag = "public",
    responses((status = 200, description = "This server honours Global Privacy Control", body = Gpc)))]
pub async fn gpc() -> HttpResponse {
    HttpResponse::Ok().json(Gpc {
        gpc: true,
        last_update: "2026-11-21",
    })
}

fn site_of<S: Store>(state: &AppState<S>, id: &str) -> Result<SiteMeta, HttpError> {
    state.store.site(id)?.ok_or_else(|| unknown_site(id))
}

fn unknown_site(id: &str) -> HttpError {
    HttpError::new(ErrorCode::NotFound, format!("unknown site {id:?}"))
}

/// The request's Origin if the site allows it; a browser request from any other
/// origin is refused, a request without Origin (a server) is let through.
fn allowed_origin(req: &HttpRequest, site: &SiteMeta) -> Result<Option<String>, HttpError> {
    match req
        .headers()
        .get(header::ORIGIN)
        .map(|o| o.to_str().unwrap_or(""))
    {
        None => Ok(None),
        Some(origin) if site.origins.iter().any(|o| o == origin) => Ok(Some(origin.to_string())),
        Some(origin) => Err(HttpError::new(
            ErrorCode::Forbidden,
            format!("origin {origin:?} is not allowed for site {:?}", site.id),
        )),
    }
}

fn cors(r: &mut HttpResponseBuilder, origin: Option<String>) {
    r.insert_header((header::VARY, "Origin"));
    if let Some(o) = origin {
        r.insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, o));
    }
}

/// Takes a token of `route`'s limit for this client and site (an unknown site
/// counts as one, so that probing for sites is limited too); over the limit,
/// the 429 to answer, with `Retry-After` and CORS for the site's origins.
fn over_limit<S: Store>(
    req: &HttpRequest,
    state: &AppState<S>,
    route: Route,
    site: Option<&SiteMeta>,
) -> Option<HttpResponse> {
    let site_id = site.map_or("", |s| s.id.as_str());
    let secs = state.ops.check(req, route, site_id).err()?;
    let mut r = HttpResponse::TooManyRequests();
    cors(
        &mut r,
        site.and_then(|s| allowed_origin(req, s).ok().flatten()),
    );
    r.insert_header((header::RETRY_AFTER, secs.to_string()));
    Some(r.json(ApiError::new(
        ErrorCode::RateLimited,
        format!("too many requests from your network; retry in {secs} s"),
    )))
}

/// `GET /v1/sites/{site}/config`: the published config with its version.
#[utoipa::path(get, path = "/v1/sites/{site}/config", tag = "public",
    params(("site" = String, Path, description = "The site id"), ("If-None-Match" = Option<String>, Header, description = "A version seen before")),
    responses(
        (status = 200, description = "The published config and its version (also the ETag)", body = PublishedConfig),
        (status = 304, description = "Unchanged since If-None-Match"),
        (status = 404, description = "Unknown site or consent ID", body = keksdose_shared::api::ApiError),
        (status = 429, description = "Rate limited (see Retry-After)", body = keksdose_shared::api::ApiError)))]
pub async fn site_config<S: Store>(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState<S>>,
) -> Result<HttpResponse, HttpError> {
    let site = state.store.site(&path)?;
    if let Some(r) = over_limit(&req, &state, Route::Config, site.as_ref()) {
        return Ok(r);
    }
    let site = site.ok_or_else(|| unknown_site(&path))?;
    // A config is public; CORS headers only for the site's own origins.
    let origin = allowed_origin(&req, &site).unwrap_or(None);
    let published = state.published.get(&state.store, &site)?;
    let etag = format!("\"{}\"", published.version);
    let not_modified = crate::http::assets::etag_matches(&req, &etag);
    let mut r = if not_modified {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    r.insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, "public, max-age=60"));
    cors(&mut r, origin);
    if not_modified {
        r.insert_header((header::VARY, "Accept-Encoding"));
        return Ok(r.finish());
    }
    r.content_type("application/json");
    Ok(published.json.respond(&req, &mut r))
}

/// `OPTIONS /v1/sites/{site}/consents`: the CORS preflight of a JSON POST.
#[utoipa::path(options, path = "/v1/sites/{site}/consents", tag = "public",
    params(("site" = String, Path, description = "The site id")),
    responses((status = 204, description = "CORS preflight for the site's origins"),
        (status = 403, description = "The key is not valid for this site, or the Origin is not allowed", body = keksdose_shared::api::ApiError),
        (status = 404, description = "Unknown site or consent ID", body = keksdose_shared::api::ApiError)))]
pub async fn preflight<S: Store>(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState<S>>,
) -> Result<HttpResponse, HttpError> {
    let site = site_of(&state, &path)?;
    let origin = allowed_origin(&req, &site)?;
    let mut r = HttpResponse::NoContent();
    cors(&mut r, origin);
    r.insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, "POST"))
        .insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, "Content-Type"))
        .insert_header((header::ACCESS_CONTROL_MAX_AGE, "86400"));
    Ok(r.finish())
}

/// The 422 for a problem of a consent request.
fn problem(p: &ConsentProblem) -> HttpError {
    match p {
        ConsentProblem::Decision(errors) => HttpError::invalid(p.to_string(), errors),
        other => HttpError::new(ErrorCode::Invalid, other.to_string()),
    }
}

/// `POST /v1/sites/{site}/consents`: records a decision, durably, and answers with
/// the receipt.
#[utoipa::path(post, path = "/v1/sites/{site}/consents", tag = "public",
    params(("site" = String, Path, description = "The site id")),
    request_body = ConsentRequest,
    responses(
        (status = 201, description = "Recorded durably (fdatasync'd) before this answer", body = keksdose_shared::record::Receipt),
        (status = 400, description = "Malformed request (bad JSON, wrong types, unknown fields, bad query)", body = keksdose_shared::api::ApiError),
        (status = 403, description = "The key is not valid for this site, or the Origin is not allowed", body = keksdose_shared::api::ApiError),
        (status = 404, description = "Unknown site or consent ID", body = keksdose_shared::api::ApiError),
        (status = 408, description = "The body did not arrive in time", body = keksdose_shared::api::ApiError),
        (status = 413, description = "Body too large", body = keksdose_shared::api::ApiError),
        (status = 415, description = "Not application/json", body = keksdose_shared::api::ApiError),
        (status = 422, description = "Well-formed but invalid (every problem with its path in details)", body = keksdose_shared::api::ApiError),
        (status = 429, description = "Rate limited (see Retry-After)", body = keksdose_shared::api::ApiError),
        (status = 503, description = "Storage cannot take writes right now (see Retry-After)", body = keksdose_shared::api::ApiError)))]
pub async fn record_consent<S: Store>(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState<S>>,
) -> Result<HttpResponse, HttpError> {
    let site = state.store.site(&path)?;
    if let Some(r) = over_limit(&req, &state, Route::Consents, site.as_ref()) {
        return Ok(r);
    }
    let site = site.ok_or_else(|| unknown_site(&path))?;
    let origin = allowed_origin(&req, &site)?;
    let body: ConsentRequest = super::body::read_json(&req, payload, MAX_BODY).await?;
    let invalid = |m: String| HttpError::new(ErrorCode::Invalid, m);

    // Almost every decision names the current version: take it from the cache
    // instead of parsing the config from the store per request.
    let published = state.published.get(&state.store, &site)?;
    let older;
    let config = if body.config_version == published.version {
        &published.config
    } else {
        older = state
            .store
            .config(&site.id, &body.config_version)?
            .ok_or_else(|| {
                invalid(format!(
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
        && state.store.consent_site(id)?.as_deref() != Some(site.id.as_str())
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
                    HttpError::new(
                        ErrorCode::Internal,
                        "a consent request refused without a problem",
                    )
                },
                problem,
            ));
        }
    };
    let consent_id = body.consent_id.unwrap_or_else(|| random_token(16));

    let pseudonyms = Pseudonymiser::new(&site.secret);
    let personal = Personal {
        salt: random_token(16),
        page,
        ip_hash: Some(pseudonyms.ip(state.ops.client_ip(&req))),
        ua_hash: req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| pseudonyms.user_agent(ua)),
        subject_hash: None,
    };
    let record = state
        .store
        .append(
            &site.id,
            Draft {
                consent_id,
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
        .await?;
    let mut r = HttpResponse::Created();
    cors(&mut r, origin);
    r.insert_header((
        header::LOCATION,
        format!("/v1/consents/{}", record.consent_id),
    ));
    Ok(r.json(record.receipt()))
}

/// `GET /v1/consents/{consent_id}`: a visitor's own history; the ID is the
/// capability. Personal content (pseudonyms, page) is left out.
#[utoipa::path(get, path = "/v1/consents/{consent_id}", tag = "public",
    params(("consent_id" = String, Path, description = "A consent ID")),
    responses(
        (status = 200, description = "The visitor's own records, without pseudonyms; the ID is the capability", body = History),
        (status = 404, description = "Unknown site or consent ID", body = keksdose_shared::api::ApiError),
        (status = 429, description = "Rate limited (see Retry-After)", body = keksdose_shared::api::ApiError)))]
pub async fn history<S: Store>(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState<S>>,
) -> Result<HttpResponse, HttpError> {
    if let Some(r) = over_limit(&req, &state, Route::History, None) {
        return Ok(r);
    }
    let id = path.into_inner();
    let not_found = || HttpError::new(ErrorCode::NotFound, "unknown consent ID");
    if !is_token(&id) {
        return Err(not_found());
    }
    let site_id = state.store.consent_site(&id)?.ok_or_else(not_found)?;
    let site = site_of(&state, &site_id)?;
    let mut records = state.store.consent(&site_id, &id)?;
    for r in &mut records {
        r.erase_personal();
    }
    let mut r = HttpResponse::Ok();
    cors(&mut r, allowed_origin(&req, &site).unwrap_or(None));
    r.insert_header((header::CACHE_CONTROL, "no-store"));
    Ok(r.json(History {
        consent_id: id,
        site: site_id,
        records,
    }))
}
