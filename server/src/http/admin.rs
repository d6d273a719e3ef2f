//! The admin API (bearer key of the site): proofs and chain verification.

use actix_web::{HttpRequest, HttpResponse, web};
use keksdose_shared::api::ErrorCode;
use keksdose_shared::record::{Broken, ChainVerifier};

use super::{AppState, HttpError, auth};
use crate::store::Store;

/// How many records one read of the ledger takes while verifying.
const PAGE: usize = 1000;

/// `GET /v1/admin/sites/{site}/consents/{consent_id}/proof`: every record of the
/// consent ID with hashes and chain links, each checked against its neighbours
/// in the ledger, and the config versions the visitor was shown.
pub async fn proof<S: Store>(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<AppState<S>>,
) -> Result<HttpResponse, HttpError> {
    let (site, consent_id) = path.into_inner();
    auth::authorise(&req, &state.store, &site)?;
    let records = state.store.consent(&site, &consent_id)?;
    if records.is_empty() {
        return Err(HttpError::new(
            ErrorCode::NotFound,
            format!("no records of consent ID {consent_id:?}"),
        ));
    }
    let mut verified = true;
    let mut entries = Vec::new();
    for r in &records {
        // A record verifies when its own hashes hold and it links to the record
        // before it in the ledger, and the record after it links to it.
        let own = r.verify_self();
        let prev_ok = match r.seq {
            1 => r.prev_hash == keksdose_shared::record::GENESIS,
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
        entries.push(serde_json::json!({
            "record": r,
            "verified": ok,
            "problem": own.err().map(|e| e.to_string())
                .or_else(|| (!prev_ok).then(|| format!("record {}: prev_hash does not match record {}", r.seq, r.seq.saturating_sub(1))))
                .or_else(|| (!next_ok).then(|| format!("record {}: the next record does not link to it", r.seq + 1))),
            "next_prev_hash": next.first().map(|n| n.prev_hash.clone()),
        }));
    }
    let mut versions: Vec<&str> = records.iter().map(|r| r.config_version.as_str()).collect();
    versions.dedup();
    let mut configs = serde_json::Map::new();
    for v in versions {
        if let Some(c) = state.store.config(&site, v)? {
            configs.insert(v.to_string(), serde_json::to_value(c).unwrap_or_default());
        }
    }
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(serde_json::json!({
            "site": site,
            "consent_id": consent_id,
            "verified": verified,
            "records": entries,
            "configs": configs,
        })))
}

/// `GET /v1/admin/sites/{site}/verify`: recomputes the whole chain and reports the
/// first broken link, if any.
pub async fn verify<S: Store>(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState<S>>,
) -> Result<HttpResponse, HttpError> {
    let site = path.into_inner();
    auth::authorise(&req, &state.store, &site)?;
    let mut verifier = ChainVerifier::new(&site);
    let mut broken: Option<Broken> = None;
    'pages: loop {
        let from = verifier.verified() + 1;
        let page = state.store.records(&site, from, u64::MAX, PAGE)?;
        if page.is_empty() {
            break;
        }
        for r in &page {
            if let Err(e) = verifier.push(r) {
                broken = Some(e);
                break 'pages;
            }
        }
    }
    let head = state.store.head(&site)?;
    Ok(HttpResponse::Ok().insert_header(("Cache-Control", "no-store")).json(serde_json::json!({
        "site": site,
        "verified": broken.is_none(),
        "records": head.as_ref().map_or(0, |h| h.seq),
        "checked": verifier.verified(),
        "head": head.map(|h| h.hash),
        "first_broken": broken.as_ref().map(|b| serde_json::json!({"error": b.to_string(), "detail": b})),
    })))
}
