//! Search, export and statistics over a site's ledger (admin).
//!
//! Records are appended with non-decreasing `received_at`, so a time range maps
//! to a range of sequence numbers found by binary search; nothing needs a time
//! index. Exports stream page by page, so a million records never sit in memory.

use std::collections::BTreeMap;

use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};
use keksdose_shared::api::ErrorCode;
use keksdose_shared::time::parse_rfc3339;
use keksdose_shared::{ConsentRecord, record::Source};
use serde::Deserialize;

use super::schema::{DayStats, SearchPage, Stats};
use super::{AppState, HttpError, auth};
use crate::pseudonym::Pseudonymiser;
use crate::store::Store;

const EXPORT_PAGE: usize = 1000;

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
}

/// Milliseconds for an RFC 3339 time or a `YYYY-MM-DD` date.
fn instant(name: &str, text: &str) -> Result<u64, HttpError> {
    let full = if text.len() == 10 {
        format!("{text}T00:00:00Z")
    } else {
        text.to_string()
    };
    parse_rfc3339(&full).ok_or_else(|| {
        HttpError::new(
            ErrorCode::BadRequest,
            format!("{name}: expected a date like 2026-11-01 or a time like 2026-11-01T12:00:00Z"),
        )
    })
}

fn received_ms(r: &ConsentRecord) -> u64 {
    parse_rfc3339(&r.received_at).unwrap_or(0)
}

/// The first sequence number whose record was received at or after `t`.
fn first_at_or_after<S: Store>(store: &S, site: &str, t: u64, head: u64) -> Result<u64, HttpError> {
    let (mut lo, mut hi) = (1, head + 1);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        match store.records(site, mid, mid, 1)?.first() {
            Some(r) if received_ms(r) < t => lo = mid + 1,
            _ => hi = mid,
        }
    }
    Ok(lo)
}

/// Which records a query selects: a sequence range, optionally only some consent IDs.
struct Selection {
    from_seq: u64,
    to_seq: u64,
    consents: Option<Vec<String>>,
}

fn select<S: Store>(
    store: &S,
    site: &crate::store::SiteMeta,
    q: &SearchQuery,
) -> Result<Selection, HttpError> {
    let head = store.head(&site.id)?.map_or(0, |h| h.seq);
    let mut from_seq = match &q.from {
        Some(f) => first_at_or_after(store, &site.id, instant("from", f)?, head)?,
        None => 1,
    };
    let to_seq = match &q.to {
        Some(t) => first_at_or_after(store, &site.id, instant("to", t)?, head)?.saturating_sub(1),
        None => head,
    };
    if let Some(c) = q.cursor {
        from_seq = from_seq.max(c + 1);
    }
    let consents = match &q.subject {
        Some(s) => Some(store.subject(&site.id, &Pseudonymiser::new(&site.secret).subject(s))?),
        None => None,
    };
    Ok(Selection {
        from_seq,
        to_seq,
        consents,
    })
}

/// One page of the selection from `from_seq` on.
fn page<S: Store>(
    store: &S,
    site: &str,
    sel: &Selection,
    from_seq: u64,
    limit: usize,
) -> Result<Vec<ConsentRecord>, HttpError> {
    if from_seq > sel.to_seq {
        return Ok(Vec::new());
    }
    match &sel.consents {
        None => Ok(store.records(site, from_seq, sel.to_seq, limit)?),
        Some(ids) => {
            let mut out = Vec::new();
            for id in ids {
                out.extend(
                    store
                        .consent(site, id)?
                        .into_iter()
                        .filter(|r| (from_seq..=sel.to_seq).contains(&r.seq)),
                );
            }
            out.sort_by_key(|r| r.seq);
            out.truncate(limit);
            Ok(out)
        }
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

pub const CSV_HEADER: &str = "seq,received_at,consent_id,action,source,config_version,language,gpc,dnt,granted,denied,purposes,page,prev_hash,record_hash\n";

pub fn csv_line(r: &ConsentRecord) -> String {
    let ids = |on: bool| {
        r.choices
            .iter()
            .filter(|(_, v)| *v == on)
            .map(|(k, _)| k)
            .collect::<Vec<_>>()
            .join(" ")
    };
    let purposes = r
        .purposes
        .iter()
        .map(|(k, v)| {
            format!(
                "{k}={}",
                serde_json::to_value(v)
                    .ok()
                    .and_then(|v| v.as_str().map(String::from))
                    .unwrap_or_default()
            )
        })
        .collect::<Vec<_>>()
        .join(" ");
    let fields = [
        r.seq.to_string(),
        r.received_at.clone(),
        r.consent_id.clone(),
        r.action.as_str().to_string(),
        match r.source {
            Source::Banner => "banner",
            Source::Backend => "backend",
            Source::Operator => "operator",
        }
        .to_string(),
        r.config_version.clone(),
        r.language.clone(),
        r.signals.gpc.to_string(),
        r.signals.dnt.to_string(),
        ids(true),
        ids(false),
        purposes,
        r.personal
            .as_ref()
            .and_then(|p| p.page.clone())
            .unwrap_or_default(),
        r.prev_hash.clone(),
        r.record_hash.clone(),
    ];
    let mut line = fields
        .iter()
        .map(|f| csv_field(f))
        .collect::<Vec<_>>()
        .join(",");
    line.push('\n');
    line
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
    let site = auth::authorise(&req, &state.store, &path)?;
    let q = query.into_inner();
    let sel = select(&state.store, &site, &q)?;
    let format = q.format.as_deref().unwrap_or("json");
    match format {
        "json" => {
            let limit = q.limit.unwrap_or(100);
            if !(1..=1000).contains(&limit) {
                return Err(HttpError::new(
                    ErrorCode::BadRequest,
                    "limit: expected 1 to 1000",
                ));
            }
            let records = page(&state.store, &site.id, &sel, sel.from_seq, limit + 1)?;
            let more = records.len() > limit;
            let records: Vec<_> = records.into_iter().take(limit).collect();
            let next = if more {
                records.last().map(|r| r.seq)
            } else {
                None
            };
            Ok(HttpResponse::Ok()
                .insert_header(("Cache-Control", "no-store"))
                .json(SearchPage {
                    site: site.id,
                    records,
                    next_cursor: next,
                }))
        }
        "ndjson" | "csv" => {
            let csv = format == "csv";
            let site_id = site.id.clone();
            let start = (sel.from_seq, !csv);
            let stream = futures_util::stream::unfold(
                (state, sel, start),
                move |(state, sel, (next, header_done))| {
                    let site_id = site_id.clone();
                    async move {
                        if !header_done {
                            return Some((
                                Ok::<_, actix_web::Error>(Bytes::from_static(
                                    CSV_HEADER.as_bytes(),
                                )),
                                (state, sel, (next, true)),
                            ));
                        }
                        let records = match page(&state.store, &site_id, &sel, next, EXPORT_PAGE) {
                            Ok(r) if r.is_empty() => return None,
                            Ok(r) => r,
                            Err(e) => {
                                return Some((
                                    Err(actix_web::error::ErrorInternalServerError(e.to_string())),
                                    (state, sel, (u64::MAX, true)),
                                ));
                            }
                        };
                        let after = records.last().map_or(u64::MAX, |r| r.seq + 1);
                        let mut buf = String::new();
                        for r in &records {
                            if csv {
                                buf.push_str(&csv_line(r));
                            } else {
                                buf.push_str(&serde_json::to_string(r).unwrap_or_default());
                                buf.push('\n');
                            }
                        }
                        Some((Ok(Bytes::from(buf)), (state, sel, (after, true))))
                    }
                },
            );
            let (content_type, ext) = if csv {
                ("text/csv; charset=utf-8", "csv")
            } else {
                ("application/x-ndjson", "ndjson")
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
        other => Err(HttpError::new(
            ErrorCode::BadRequest,
            format!("format: expected json, ndjson or csv, got {other:?}"),
        )),
    }
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
    let site = auth::authorise(&req, &state.store, &path)?;
    let now = crate::store::sled_store::now_ms();
    let from = match &query.from {
        Some(f) => f.clone(),
        None => keksdose_shared::time::date((now / 1000).saturating_sub(29 * 86_400)),
    };
    let q = SearchQuery {
        from: Some(from.clone()),
        to: query.to.clone(),
        subject: None,
        cursor: None,
        limit: None,
        format: None,
    };
    let sel = select(&state.store, &site, &q)?;
    let mut days: BTreeMap<String, DayStats> = BTreeMap::new();
    let mut next = sel.from_seq;
    loop {
        let records = page(&state.store, &site.id, &sel, next, EXPORT_PAGE)?;
        let Some(last) = records.last() else { break };
        next = last.seq + 1;
        for r in records.iter().filter(|r| r.source == Source::Banner) {
            let day = days
                .entry(r.received_at.get(..10).unwrap_or_default().to_string())
                .or_default();
            day.decisions += 1;
            *day.actions
                .entry(r.action.as_str().to_string())
                .or_default() += 1;
            for (c, on) in &r.choices.categories {
                if *on {
                    *day.allowed.entry(c.clone()).or_default() += 1;
                }
            }
            day.gpc += u64::from(r.signals.gpc);
        }
    }
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(Stats {
            site: site.id,
            from,
            to: query.to.clone(),
            days,
        }))
}
