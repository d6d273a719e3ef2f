//! The one demo page a file alone cannot serve: `/demo/strict-csp.html`, the
//! coaching demo site under a strict, enforced Content Security Policy with
//! Trusted Types ([`STRICT_CSP`]), the policy the README asks a site to send.
//!
//! The page is read from the static folder like every demo page (none there:
//! 404). Each response gets a fresh nonce, written into the page in place of
//! [`NONCE_TOKEN`] and into the policy, as a site with inline scripts does it.
//! The header restricts that page only: nothing else the server sends changes.
//!
//! Every demo page also comes in the per-site embed form: with `?embed=site`
//! its `<script src="/k.js" data-site="SITE">` is sent as
//! `<script src="/s/SITE/k.js">` ([`per_site`]), so that the tests and the
//! benchmark run each page through both forms of the contract.

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

/// Whether the request asks for the per-site embed form (`embed=site` in the query).
pub fn wants_per_site(query: &str) -> bool {
    query.split('&').any(|p| p == "embed=site")
}

/// `page` with its loader in the per-site form: each
/// `<script src="/k.js" data-site="SITE"` becomes `<script src="/s/SITE/k.js"`.
pub fn per_site(page: &str) -> String {
    const FORM: &str = "<script src=\"/k.js\" data-site=\"";
    let mut out = String::with_capacity(page.len());
    let mut rest = page;
    while let Some(at) = rest.find(FORM) {
        out.push_str(&rest[..at]);
        let after = &rest[at + FORM.len()..];
        let Some(end) = after.find('"') else {
            out.push_str(&rest[at..]);
            return out;
        };
        out.push_str(&format!("<script src=\"/s/{}/k.js\"", &after[..end]));
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

async fn read(static_dir: PathBuf, name: String) -> Result<String, HttpError> {
    let path = static_dir.join(&name);
    web::block(move || std::fs::read_to_string(path))
        .await
        .ok()
        .and_then(Result::ok)
        .ok_or_else(|| {
            HttpError::new(
                ErrorCode::NotFound,
                format!("no such resource: GET /{name}"),
            )
        })
}

/// `GET /demo/{page}.html?embed=site`: a demo page in the per-site embed form.
pub async fn page(static_dir: PathBuf, name: String) -> Result<HttpResponse, HttpError> {
    let valid = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !valid {
        return Err(HttpError::new(
            ErrorCode::NotFound,
            format!("no such resource: GET /demo/{name}.html"),
        ));
    }
    let page = read(static_dir, format!("demo/{name}.html")).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(per_site(&page)))
}

/// `GET /demo/strict-csp.html`: the page from `static_dir`, with its nonce and
/// policy (in the per-site form with `?embed=site`).
pub async fn strict_csp(static_dir: PathBuf, query: String) -> Result<HttpResponse, HttpError> {
    let page = read(static_dir, PAGE.to_string()).await?;
    let page = if wants_per_site(&query) {
        per_site(&page)
    } else {
        page
    };
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
    fn the_per_site_form_names_the_site_in_the_path() {
        let page = "<head>\n<script src=\"/k.js\" data-site=\"saas\" async></script>\n<script src=\"/x.js\"></script>";
        assert_eq!(
            per_site(page),
            "<head>\n<script src=\"/s/saas/k.js\" async></script>\n<script src=\"/x.js\"></script>"
        );
        assert_eq!(per_site("no loader"), "no loader");
        assert!(wants_per_site("lang=en&embed=site") && !wants_per_site("embed=sites"));
    }

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
