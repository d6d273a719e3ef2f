//! The one demo page a file alone cannot serve: `/demo/strict-csp.html`, the
//! coaching demo site under a strict, enforced Content Security Policy with
//! Trusted Types ([`STRICT_CSP`]), the policy the README asks a site to send.
//!
//! The page is read from the static folder like every demo page (none there:
//! 404). Each response gets a fresh nonce, written into the page in place of
//! [`NONCE_TOKEN`] and into the policy, as a site with inline scripts does it.
//! The header restricts that page only: nothing else the server sends changes.

use std::path::PathBuf;

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use keksdose_shared::api::ErrorCode;

use super::HttpError;

/// The page's path below the static folder, and its address.
pub const PAGE: &str = "demo/strict-csp.html";
/// What the page holds in place of the response's nonce.
pub const NONCE_TOKEN: &str = "__KEKSDOSE_NONCE__";
/// The policy, with `{nonce}` for the response's nonce. The CMP is the page's own
/// origin here, so `'self'` names both; `'wasm-unsafe-eval'` lets the banner's
/// WASM compile (it allows no JavaScript `eval`); `trusted-types keksdose`
/// allows the loader's policy and no other.
pub const STRICT_CSP: &str = "default-src 'none'; \
    script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
    style-src 'self'; img-src 'self'; connect-src 'self'; frame-src 'self'; \
    base-uri 'none'; form-action 'self'; object-src 'none'; \
    require-trusted-types-for 'script'; trusted-types keksdose";

/// `GET /demo/strict-csp.html`: the page from `static_dir`, with its nonce and policy.
pub async fn strict_csp(static_dir: PathBuf) -> Result<HttpResponse, HttpError> {
    let path = static_dir.join(PAGE);
    let page = web::block(move || std::fs::read_to_string(path))
        .await
        .ok()
        .and_then(Result::ok)
        .ok_or_else(|| {
            HttpError::new(
                ErrorCode::NotFound,
                format!("no such resource: GET /{PAGE}"),
            )
        })?;
    let nonce = crate::pseudonym::random_token(16);
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            STRICT_CSP.replace("{nonce}", &nonce),
        ))
        // A nonce is good for one response only.
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(page.replace(NONCE_TOKEN, &nonce)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_allows_no_inline_script_no_eval_and_only_the_loaders_policy() {
        let csp = STRICT_CSP.replace("{nonce}", "n0nce");
        let directive = |name: &str| {
            csp.split(';')
                .map(str::trim)
                .find(|d| d.split(' ').next() == Some(name))
                .unwrap_or_else(|| panic!("{name} in {csp}"))
                .to_string()
        };
        assert_eq!(
            directive("script-src"),
            "script-src 'self' 'nonce-n0nce' 'wasm-unsafe-eval'"
        );
        assert_eq!(directive("style-src"), "style-src 'self'");
        assert!(!csp.contains("unsafe-inline") && !csp.contains("'unsafe-eval'"));
        assert_eq!(
            directive("require-trusted-types-for"),
            "require-trusted-types-for 'script'"
        );
        assert_eq!(directive("trusted-types"), "trusted-types keksdose");
    }
}
