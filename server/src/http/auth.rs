//! Admin authentication: `Authorization: Bearer <site API key>`.
//!
//! Only the SHA-256 of a key is stored; a presented key is hashed and compared in
//! constant time with the hash of the site named in the path, so a key never
//! reaches another site's data.

use actix_web::HttpRequest;
use actix_web::http::header;
use keksdose_shared::api::ErrorCode;
use keksdose_store::{SiteMeta, Store};

use super::HttpError;
use crate::service::sites::{KEY_PREFIX, key_hash};

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The site named in the path, if the request carries its key.
pub async fn authorise<S: Store>(
    req: &HttpRequest,
    store: &S,
    site: &str,
) -> Result<SiteMeta, HttpError> {
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|k| k.starts_with(KEY_PREFIX) && k.len() <= 128)
        .ok_or_else(|| {
            HttpError::new(
                ErrorCode::Unauthorized,
                "send the site's API key as Authorization: Bearer kd_…",
            )
        })?;
    let hash = key_hash(presented);
    // Unknown site and wrong key answer alike, so keys cannot probe for site ids.
    match store.site(site).await? {
        Some(meta) if constant_time_eq(meta.key_hash.as_bytes(), hash.as_bytes()) => Ok(meta),
        _ => Err(HttpError::new(
            ErrorCode::Forbidden,
            "this API key is not valid for this site",
        )),
    }
}
