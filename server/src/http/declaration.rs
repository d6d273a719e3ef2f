//! `GET /v1/sites/{site}/declaration` (JSON) and `…/declaration.html` (an HTML
//! fragment): the site's cookie declaration ([`crate::service::declaration`]) for its
//! privacy page. The loader fills `<div data-keksdose-declaration>` with the
//! fragment; sites that build their pages ahead of time fetch either form.
//!
//! The fragment is plain, escaped HTML without script or style of its own (it
//! takes the page's look; its classes start with `kd-decl`), and its one button
//! carries `data-consent-open`, which the loader answers by opening the
//! settings.

use std::fmt::Write as _;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use keksdose_shared::api::ErrorCode;
use keksdose_shared::config::Party;
use keksdose_shared::texts::{self, Words};
use keksdose_store::Store;

use super::history_page::esc;
use super::public::{allowed_origin, cors, over_limit, unknown_site};
use super::{AppState, HttpError};
use crate::ratelimit::Route;
use crate::service::declaration::{self, Declaration, TransferEntry};

fn party(p: &Party) -> String {
    let mut s = esc(&p.name);
    let _ = write!(s, "<br>{}", esc(&p.address));
    if let Some(c) = &p.contact {
        let _ = write!(s, "<br>{}", esc(c));
    }
    s
}

fn transfers(list: &[TransferEntry]) -> String {
    list.iter()
        .map(|t| format!("{}: {}", esc(&t.country.text), esc(&t.safeguard.text)))
        .collect::<Vec<_>>()
        .join("<br>")
}

/// The declaration as an HTML fragment, in its language.
pub fn render(d: &Declaration, words: &Words) -> String {
    let w = |key: &str| esc(&texts::word(words, key, key));
    let mut h = String::new();
    let _ = write!(
        h,
        "<section class=\"kd-decl\" lang=\"{lang}\" data-config-version=\"{version}\">\
         <h2>{title}</h2><p>{intro}</p>\
         <div class=\"kd-decl-visitor\"><h3>{your}</h3><p>{status}</p>\
         <button type=\"button\" data-consent-open>{change}</button></div>\
         <dl class=\"kd-decl-site\"><dt>{controller}</dt><dd>{party}</dd>\
         <dt>{policy_label}</dt><dd>{policy}</dd></dl><p>{lifetime}</p>",
        lang = esc(&d.language),
        version = esc(&d.config_version),
        title = esc(&d.title),
        intro = esc(&d.intro),
        your = w("declaration.your_decision"),
        status = match &d.visitor {
            Some(v) => format!(
                "{} <span class=\"kd-decl-id\">{}: <code>{}</code></span>",
                esc(&v.text),
                w("texts.consent_id"),
                esc(&v.consent_id)
            ),
            None => w("declaration.no_decision"),
        },
        change = w("declaration.change"),
        controller = w("declaration.controller"),
        party = party(&d.controller),
        policy_label = w("texts.policy_version"),
        policy = {
            let mut p = esc(&d.policy.version);
            if let Some(current) = d.policy.versions.first().filter(|v| v.until.is_none()) {
                let _ = write!(p, " ({})", esc(&current.text));
            }
            p
        },
        lifetime = esc(&d.consent_lifetime),
    );
    if let Some(proof) = &d.proof_retention {
        let _ = write!(h, "<p>{}</p>", esc(proof));
    }
    let _ = write!(h, "<h3>{}</h3>", w("declaration.services"));
    for c in &d.categories {
        let _ = write!(
            h,
            "<section class=\"kd-decl-category\" data-category=\"{}\"><h4>{}</h4><p>{}</p>",
            esc(&c.id),
            esc(&c.name),
            esc(&c.description)
        );
        for s in &c.services {
            let _ = write!(
                h,
                "<article class=\"kd-decl-service\" data-service=\"{}\"><h5>{}</h5><p>{}</p><dl>\
                 <dt>{}</dt><dd>{}</dd>",
                esc(&s.id),
                esc(&s.name),
                esc(&s.description),
                w("texts.provider"),
                party(&s.provider)
            );
            if !s.purposes.is_empty() {
                let _ = write!(
                    h,
                    "<dt>{}</dt><dd>{}</dd>",
                    w("texts.purposes"),
                    s.purposes
                        .iter()
                        .map(|p| esc(p))
                        .collect::<Vec<_>>()
                        .join("<br>")
                );
            }
            let _ = write!(
                h,
                "<dt>{}</dt><dd>{}</dd>",
                w("texts.legal_basis"),
                esc(&s.legal_basis.text)
            );
            let _ = write!(h, "<dt>{}</dt><dd>", w("texts.cookies"));
            if s.cookies.is_empty() {
                h.push_str(&w("declaration.no_cookies"));
            } else {
                h.push_str("<table><tbody>");
                for k in &s.cookies {
                    let mut kind = esc(&k.storage.text);
                    if let Some(domain) = &k.domain {
                        let _ = write!(kind, ", {}", esc(domain));
                    }
                    let _ = write!(
                        h,
                        "<tr data-cookie=\"{name}\"><td><code>{name}</code> ({kind})</td>\
                         <td>{lifetime_label}: {lifetime}</td><td>{purpose}</td></tr>",
                        name = esc(&k.name),
                        lifetime_label = w("texts.lifetime"),
                        lifetime = esc(&k.lifetime.text),
                        purpose = esc(&k.purpose),
                    );
                }
                h.push_str("</tbody></table>");
            }
            h.push_str("</dd>");
            if let Some(r) = &s.retention {
                let _ = write!(h, "<dt>{}</dt><dd>{}</dd>", w("texts.retention"), esc(r));
            }
            if !s.transfers.is_empty() {
                let _ = write!(
                    h,
                    "<dt>{}</dt><dd>{}</dd>",
                    w("texts.transfer"),
                    transfers(&s.transfers)
                );
            }
            h.push_str("</dl>");
            if s.fingerprinting {
                let _ = write!(h, "<p><strong>{}</strong></p>", w("texts.fingerprinting"));
            }
            for (url, label) in [
                (&s.privacy_policy_url, "texts.privacy_policy"),
                (&s.opt_out_url, "texts.opt_out"),
            ] {
                if let Some(url) = url.as_ref().filter(|u| u.starts_with("https://")) {
                    let _ = write!(
                        h,
                        "<p><a href=\"{}\" rel=\"noopener\">{} ({})</a></p>",
                        esc(url),
                        w(label),
                        esc(&s.name)
                    );
                }
            }
            h.push_str("</article>");
        }
        h.push_str("</section>");
    }
    if !d.purposes.is_empty() {
        let _ = write!(h, "<h3>{}</h3>", w("declaration.purposes"));
        for p in &d.purposes {
            let _ = write!(
                h,
                "<article class=\"kd-decl-purpose\" data-purpose=\"{}\"><h4>{}</h4><p>{}</p>",
                esc(&p.id),
                esc(&p.name),
                esc(&p.description)
            );
            if p.double_opt_in {
                let _ = write!(h, "<p>{}</p>", w("declaration.double_opt_in"));
            }
            h.push_str("<dl>");
            let mut recipients: Vec<String> = p.recipients.iter().map(|r| esc(r)).collect();
            recipients.extend(p.services.iter().map(|s| esc(s)));
            if !recipients.is_empty() {
                let _ = write!(
                    h,
                    "<dt>{}</dt><dd>{}</dd>",
                    w("declaration.recipients"),
                    recipients.join("<br>")
                );
            }
            if !p.processors.is_empty() {
                let _ = write!(
                    h,
                    "<dt>{}</dt><dd>{}</dd>",
                    w("declaration.processors"),
                    p.processors
                        .iter()
                        .map(party)
                        .collect::<Vec<_>>()
                        .join("<br>")
                );
            }
            if !p.transfers.is_empty() {
                let _ = write!(
                    h,
                    "<dt>{}</dt><dd>{}</dd>",
                    w("texts.transfer"),
                    transfers(&p.transfers)
                );
            }
            if let Some(r) = &p.retention {
                let _ = write!(h, "<dt>{}</dt><dd>{}</dd>", w("texts.retention"), esc(r));
            }
            h.push_str("</dl>");
            if let Some(proof) = &p.proof_retention {
                let _ = write!(h, "<p>{}</p>", esc(proof));
            }
            h.push_str("</article>");
        }
    }
    if d.policy.versions.len() > 1 {
        let _ = write!(
            h,
            "<h3>{}</h3><ul class=\"kd-decl-versions\">",
            w("declaration.versions")
        );
        for v in &d.policy.versions {
            let _ = write!(h, "<li>{}: {}</li>", esc(&v.version), esc(&v.text));
        }
        h.push_str("</ul>");
    }
    h.push_str("</section>");
    h
}

/// The query of both forms.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Query {
    lang: Option<String>,
    consent: Option<String>,
}

async fn made<S: Store>(
    req: &HttpRequest,
    path: &str,
    state: &AppState<S>,
) -> Result<Result<Made, HttpResponse>, HttpError> {
    let site = state.store.site(path).await?;
    if let Some(r) = over_limit(req, state, Route::Config, site.as_ref()).await {
        return Ok(Err(r));
    }
    let site = site.ok_or_else(|| unknown_site(path))?;
    let origin = allowed_origin(req, &site).unwrap_or(None);
    let q = web::Query::<Query>::from_query(req.query_string())
        .map_err(|e| HttpError::new(ErrorCode::BadRequest, format!("invalid query: {e}")))?
        .into_inner();
    super::public::check_lang(q.lang.as_deref())?;
    if let Some(id) = &q.consent
        && !keksdose_shared::consent_request::is_token(id)
    {
        return Err(HttpError::new(
            ErrorCode::BadRequest,
            "consent: expected a consent ID (1 to 64 letters, digits, '-' or '_')",
        ));
    }
    let published = state.published.get(&*state.store, &site).await?;
    let d = declaration::declaration(
        &*state.store,
        &site,
        &published.config,
        q.lang.as_deref(),
        q.consent.as_deref(),
    )
    .await?;
    let words = texts::words_for(&published.config, &d.language);
    Ok(Ok(Made {
        personal: q.consent.is_some(),
        declaration: d,
        words,
        origin,
    }))
}

/// A declaration made for a request: with its words and CORS origin, and
/// whether it was asked for with a consent ID (then it is never cached).
struct Made {
    declaration: Declaration,
    words: Words,
    origin: Option<String>,
    personal: bool,
}

fn headers(r: &mut actix_web::HttpResponseBuilder, origin: Option<String>, personal: bool) {
    r.insert_header((
        header::CACHE_CONTROL,
        if personal {
            "private, no-store"
        } else {
            "public, max-age=60"
        },
    ));
    cors(r, origin);
}

/// `GET /v1/sites/{site}/declaration`: the declaration as data.
#[utoipa::path(get, path = "/v1/sites/{site}/declaration", tag = "public",
    params(("site" = String, Path, description = "The site id"),
        ("lang" = Option<String>, Query, description = "The language asked for (the site's, by its one rule; default: the site's first)"),
        ("consent" = Option<String>, Query, description = "The visitor's consent ID: the declaration then says what they decided")),
    responses(
        (status = 200, description = "The site's declaration in one of its languages", body = Declaration),
        (status = 400, description = "Malformed query", body = keksdose_shared::api::ApiError),
        (status = 404, description = "Unknown site", body = keksdose_shared::api::ApiError),
        (status = 429, description = "Rate limited (see Retry-After)", body = keksdose_shared::api::ApiError)))]
pub async fn json<S: Store>(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState<S>>,
) -> Result<HttpResponse, HttpError> {
    let m = match made(&req, &path, &state).await? {
        Ok(made) => made,
        Err(limited) => return Ok(limited),
    };
    let mut r = HttpResponse::Ok();
    headers(&mut r, m.origin, m.personal);
    Ok(r.json(m.declaration))
}

/// `GET /v1/sites/{site}/declaration.html`: the declaration as an HTML fragment.
#[utoipa::path(get, path = "/v1/sites/{site}/declaration.html", tag = "public",
    params(("site" = String, Path, description = "The site id"),
        ("lang" = Option<String>, Query, description = "The language asked for (the site's, by its one rule; default: the site's first)"),
        ("consent" = Option<String>, Query, description = "The visitor's consent ID: the declaration then says what they decided")),
    responses(
        (status = 200, description = "The site's declaration as an HTML fragment (a <section>)", content_type = "text/html"),
        (status = 400, description = "Malformed query", body = keksdose_shared::api::ApiError),
        (status = 404, description = "Unknown site", body = keksdose_shared::api::ApiError),
        (status = 429, description = "Rate limited (see Retry-After)", body = keksdose_shared::api::ApiError)))]
pub async fn html<S: Store>(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState<S>>,
) -> Result<HttpResponse, HttpError> {
    let m = match made(&req, &path, &state).await? {
        Ok(made) => made,
        Err(limited) => return Ok(limited),
    };
    let mut r = HttpResponse::Ok();
    headers(&mut r, m.origin, m.personal);
    Ok(r.content_type("text/html; charset=utf-8")
        .body(render(&m.declaration, &m.words)))
}
