//! Search, export and statistics over a site's ledger (admin): the requests'
//! shapes, mapped to [`crate::service::export`].

use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};
use keksdose_store::Store;
use serde::Deserialize;

use super::schema::{SearchPage, Stats};
use super::{AppState, HttpError, auth};
use crate::service::export::{self, Format};

/// Query of `GET /v1/admin/sites/{site}/consents`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    /// RFC 3339 time or a date (`2026-11-01`), inclusive.
    pub from: Option<String>,
    /// RFC 3339 time or a date, exclusive.
    pub to: Option<String>,
    /// The site's own user id: only that subject's consents.
    pub subject: Option<String>,
    /// Continue after this sequence number (`next_cursor` of the previous page).
    pub cursor: Option<u64>,
    pub limit: Option<usize>,
    /// `json` (default, paged), `ndjson` or `csv` (the whole range, streamed).
    pub format: Option<String>,
    /// Only records of this action (`accept_all`, `reject_all`, `custom`, `withdraw`).
    pub action: Option<String>,
    /// Only records made against this config version.
    pub version: Option<String>,
}

/// `GET /v1/admin/sites/{site}/consents`: search by time range and subject, paged
/// with a cursor; `format=ndjson|csv` exports the whole selection as a stream.
#[utoipa::path(get, path = "/v1/admin/sites/{site}/consents", tag = "admin",
    params(("site" = String, Path, description = "The site id"), SearchQuery), security(("api_key" = [])),
    responses(
        (status = 200, description = "format=json: a page of records; format=ndjson or csv: the whole selection, streamed", 
         content((SearchPage = "application/json"), (String = "application/x-ndjson"), (String = "text/csv"))),
        (status = 400, description = "Malformed request (bad JSON, wrong types, unknown fields, bad query)", body = keksdose_shared::api::ApiError),
        (status = 401, description = "No API key", body = keksdose_shared::api::ApiError),
        (status = 403, description = "The key is not valid for this site, or the Origin is not allowed", body = keksdose_shared::api::ApiError)))]
pub async fn search<S: Store>(
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<SearchQuery>,
    state: web::Data<AppState<S>>,
) -> Result<HttpResponse, HttpError> {
    let site = auth::authorise(&req, &*state.store, &path).await?;
    let q = query.into_inner();
    let selection = export::selection(
        &site,
        q.from.as_deref(),
        q.to.as_deref(),
        q.subject.as_deref(),
    )?;
    let filter = export::Filter::parse(q.action.as_deref(), q.version.as_deref())?;
    let format = q.format.as_deref().unwrap_or("json");
    if format == "json"
        && let Some(h) = &selection.subject_hash
    {
        // One data subject's records: a subject access, noted as such.
        crate::service::operators::audit(
            &*state.store,
            super::users::API_KEY,
            "access",
            Some(&site.id),
            Some(&format!("subject:{h}")),
            "search",
        )
        .await?;
    }
    if format == "json" {
        let (records, next_cursor) = export::page(
            &*state.store,
            &site.id,
            &selection,
            &filter,
            q.cursor.unwrap_or(0),
            q.limit.unwrap_or(100),
        )
        .await?;
        return Ok(HttpResponse::Ok()
            .insert_header(("Cache-Control", "no-store"))
            .json(SearchPage {
                site: site.id,
                records,
                next_cursor,
            }));
    }
    let Some(format) = Format::parse(format) else {
        return Err(HttpError::new(
            keksdose_shared::api::ErrorCode::BadRequest,
            format!("format: expected json, ndjson or csv, got {format:?}"),
        ));
    };
    let detail = format!(
        "{} from {} to {}",
        q.format.as_deref().unwrap_or(""),
        q.from.as_deref().unwrap_or("start"),
        q.to.as_deref().unwrap_or("now")
    );
    crate::service::operators::audit(
        &*state.store,
        super::users::API_KEY,
        "export",
        Some(&site.id),
        selection
            .subject_hash
            .as_ref()
            .map(|h| format!("subject:{h}"))
            .as_deref(),
        &detail,
    )
    .await?;
    // An export starts after the cursor too, so that a broken download resumes.
    let after = q.cursor.unwrap_or(0);
    let pages = export::export(
        state.store.clone(),
        site.id.clone(),
        selection,
        filter,
        format,
        after,
    );
    let stream = futures_util::StreamExt::map(pages, |page| {
        page.map(Bytes::from)
            .map_err(|e| actix_web::error::ErrorInternalServerError(e.to_string()))
    });
    let (content_type, ext) = match format {
        Format::Csv => ("text/csv; charset=utf-8", "csv"),
        Format::Ndjson => ("application/x-ndjson", "ndjson"),
    };
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"{}-consents.{ext}\"", site.id),
        ))
        .insert_header(("Cache-Control", "no-store"))
        .streaming(stream))
}

/// Query of `GET /v1/admin/sites/{site}/stats`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct StatsQuery {
    pub from: Option<String>,
    pub to: Option<String>,
}

/// `GET /v1/admin/sites/{site}/stats`: decisions per day, per action, and how
/// often each category was allowed (banner decisions), over a range (default: the
/// last 30 days).
#[utoipa::path(get, path = "/v1/admin/sites/{site}/stats", tag = "admin",
    params(("site" = String, Path, description = "The site id"), StatsQuery), security(("api_key" = [])),
    responses(
        (status = 200, description = "Banner decisions per day, per action and per allowed category", body = Stats),
        (status = 400, description = "Malformed request (bad JSON, wrong types, unknown fields, bad query)", body = keksdose_shared::api::ApiError),
        (status = 401, description = "No API key", body = keksdose_shared::api::ApiError),
        (status = 403, description = "The key is not valid for this site, or the Origin is not allowed", body = keksdose_shared::api::ApiError)))]
pub async fn stats<S: Store>(
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<StatsQuery>,
    state: web::Data<AppState<S>>,
) -> Result<HttpResponse, HttpError> {
    let site = auth::authorise(&req, &*state.store, &path).await?;
    let query = query.into_inner();
    let (from, days) = export::stats(
        &*state.store,
        &site,
        query.from.as_deref(),
        query.to.as_deref(),
    )
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(Stats {
            site: site.id,
            from,
            to: query.to,
            days,
        }))
}
