//! The public API, called from visitors' browsers: the config, recording a
//! decision, and a visitor's own history. CORS is limited to the site's origins.
//! Each route is rate limited per pseudonymised client ([`crate::ratelimit`]).

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder, web};
use keksdose_shared::api::{ApiError, ErrorCode};
use keksdose_shared::consent_request::ConsentRequest;
use keksdose_store::{SiteMeta, Store};

use super::schema::{Gpc, History, PublishedConfig};
use super::{AppState, HttpError};
use crate::ratelimit::Route;
use crate::service::consents::{self, Client};

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

async fn site_of<S: Store>(state: &AppState<S>, id: &str) -> Result<SiteMeta, HttpError> {
    state.store.site(id).await?.ok_or_else(|| unknown_site(id))
}

pub(super) fn unknown_site(id: &str) -> HttpError {
    HttpError::new(ErrorCode::NotFound, format!("unknown site {id:?}"))
}

/// The request's Origin if the site allows it; a browser request from any other
/// origin is refused, a request without Origin (a server) is let through.
pub(super) fn allowed_origin(
    req: &HttpRequest,
    site: &SiteMeta,
) -> Result<Option<String>, HttpError> {
    match req
        .headers()
        .get(header::ORIGIN)
        .map(|o| o.to_str().unwrap_or(""))
    {
        None => Ok(None),
        Some(origin) if crate::service::sites::origin_allowed(&site.origins, origin) => {
            Ok(Some(origin.to_string()))
        }
        Some(origin) => Err(HttpError::new(
            ErrorCode::Forbidden,
            format!("origin {origin:?} is not allowed for site {:?}", site.id),
        )),
    }
}

pub(super) fn cors(r: &mut HttpResponseBuilder, origin: Option<String>) {
    r.insert_header((header::VARY, "Origin"));
    if let Some(o) = origin {
        r.insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, o));
    }
}

/// Takes a token of `route`'s limit for this client and site (an unknown site
/// counts as one, so that probing for sites is limited too); over the limit,
/// the 429 to answer, with `Retry-After` and CORS for the site's origins.
pub(super) async fn over_limit<S: Store>(
    req: &HttpRequest,
    state: &AppState<S>,
    route: Route,
    site: Option<&SiteMeta>,
) -> Option<HttpResponse> {
    let secs = state.ops.check(req, route, site).await.err()?;
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

/// `GET /s/{site}/k.js`: the per-site loader, which carries the site's published
/// config and its first layer in each language, so that the banner shows one
/// round trip after the page asked for the script (issue 13). Limited like the
/// config it carries; a classic script needs no CORS.
#[utoipa::path(get, path = "/s/{site}/k.js", tag = "public",
    params(("site" = String, Path, description = "The site id"), ("If-None-Match" = Option<String>, Header, description = "An ETag seen before")),
    responses(
        (status = 200, description = "The loader with the site's config and first layers (JavaScript)", content_type = "text/javascript"),
        (status = 304, description = "Unchanged since If-None-Match"),
        (status = 404, description = "Unknown site, or the server has no loader", body = keksdose_shared::api::ApiError),
        (status = 429, description = "Rate limited (see Retry-After)", body = keksdose_shared::api::ApiError)))]
pub async fn site_loader<S: Store>(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState<S>>,
) -> Result<HttpResponse, HttpError> {
    let site = state.store.site(&path).await?;
    if let Some(r) = over_limit(&req, &state, Route::Config, site.as_ref()).await {
        return Ok(r);
    }
    let site = site.ok_or_else(|| unknown_site(&path))?;
    let published = state.published.get(&*state.store, &site).await?;
    if published.site_loader.get().is_none() {
        let (state, published) = (state.clone(), published.clone());
        // Rendered and compressed once per version, off the async workers.
        web::block(move || {
            published
                .site_loader
                .get_or_init(|| state.assets.site_loader(&published));
        })
        .await
        .map_err(|e| keksdose_store::StoreError::Internal(e.to_string()))?;
    }
    match published.site_loader.get() {
        Some(Some(loader)) => Ok(loader.respond(&req)),
        _ => Err(HttpError::new(
            ErrorCode::NotFound,
            "this server has no loader (static/k.js and static/k-banner.js)".to_string(),
        )),
    }
}

/// `GET /v1/sites/{site}/loader`: what the per-site loader carries, as JSON —
/// the config as the loader needs it, the first layer's stylesheet and its
/// markup in every language the site offers. `/k.js` with `data-site` asks for
/// it instead of the config, so that the server's first layer shows in that
/// form too, without waiting for the banner's WASM.
#[utoipa::path(get, path = "/v1/sites/{site}/loader", tag = "public",
    params(("site" = String, Path, description = "The site id"),
        ("If-None-Match" = Option<String>, Header, description = "An ETag seen before")),
    responses(
        (status = 200, description = "`published` (`site`, `version`, `config` as the loader needs it, `words`: the placeholders' per language), `css` (the first layer's stylesheet), `first` (per language, the first layer's markup); what `/k.js` asks for in place of the config. The ETag: the version and a digest", body = Object),
        (status = 400, description = "Malformed query (this endpoint takes none)", body = keksdose_shared::api::ApiError),
        (status = 304, description = "Unchanged since If-None-Match"),
        (status = 404, description = "Unknown site", body = keksdose_shared::api::ApiError),
        (status = 429, description = "Rate limited (see Retry-After)", body = keksdose_shared::api::ApiError)))]
pub async fn loader_data<S: Store>(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState<S>>,
) -> Result<HttpResponse, HttpError> {
    let site = state.store.site(&path).await?;
    if let Some(r) = over_limit(&req, &state, Route::Config, site.as_ref()).await {
        return Ok(r);
    }
    if !req.query_string().is_empty() {
        return Err(HttpError::new(
            ErrorCode::BadRequest,
            format!(
                "invalid query: this endpoint takes none, got {:?}",
                req.query_string()
            ),
        ));
    }
    let site = site.ok_or_else(|| unknown_site(&path))?;
    let origin = allowed_origin(&req, &site).unwrap_or(None);
    let published = state.published.get(&*state.store, &site).await?;
    if published.loader_data.get().is_none() {
        let published = published.clone();
        // Rendered and compressed once per version, off the async workers.
        web::block(move || {
            published.loader_data();
        })
        .await
        .map_err(|e| keksdose_store::StoreError::Internal(e.to_string()))?;
    }
    let data = published.loader_data();
    let (mut r, not_modified) = json_cached(&req, data.etag.clone(), origin);
    if not_modified {
        return Ok(r.finish());
    }
    Ok(data.encoded.respond(&req, &mut r))
}

/// `GET /v1/sites/{site}/config`: the published config with its version.
#[utoipa::path(get, path = "/v1/sites/{site}/config", tag = "public",
    params(("site" = String, Path, description = "The site id"),
        ("words" = Option<String>, Query, description = "`1`: with the words a visitor reads, per language the site offers (loaders before `/v1/sites/{site}/loader` asked so)"),
        ("If-None-Match" = Option<String>, Header, description = "An ETag seen before")),
    responses(
        (status = 200, description = "The published config and its version (the ETag; with words=1, the version and a digest of the words)", body = PublishedConfig),
        (status = 400, description = "Malformed query (words other than 1)", body = keksdose_shared::api::ApiError),
        (status = 304, description = "Unchanged since If-None-Match"),
        (status = 404, description = "Unknown site or consent ID", body = keksdose_shared::api::ApiError),
        (status = 429, description = "Rate limited (see Retry-After)", body = keksdose_shared::api::ApiError)))]
pub async fn site_config<S: Store>(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState<S>>,
) -> Result<HttpResponse, HttpError> {
    let site = state.store.site(&path).await?;
    if let Some(r) = over_limit(&req, &state, Route::Config, site.as_ref()).await {
        return Ok(r);
    }
    let site = site.ok_or_else(|| unknown_site(&path))?;
    // A config is public; CORS headers only for the site's own origins.
    let origin = allowed_origin(&req, &site).unwrap_or(None);
    let published = state.published.get(&*state.store, &site).await?;
    let words = match web::Query::<WordsQuery>::from_query(req.query_string()) {
        Ok(q) => match q.into_inner().words.as_deref() {
            None => false,
            Some("1") => true,
            Some(other) => {
                return Err(HttpError::new(
                    ErrorCode::BadRequest,
                    format!("words: expected 1, got {other:?}"),
                ));
            }
        },
        Err(e) => {
            return Err(HttpError::new(
                ErrorCode::BadRequest,
                format!("invalid query: {e}"),
            ));
        }
    };
    let etag = if words {
        published.words_etag.clone()
    } else {
        format!("\"{}\"", published.version)
    };
    let (mut r, not_modified) = json_cached(&req, etag, origin);
    if not_modified {
        return Ok(r.finish());
    }
    let body = if words {
        &published.json_words
    } else {
        &published.json
    };
    Ok(body.respond(&req, &mut r))
}

/// `GET /v1/sites/{site}/banner?lang=…&version=…`: the config as the banner
/// shows it, in the language the site offers that is nearest `lang`
/// (`SiteConfig::language_for`, the loader's rule), everything worded: what the
/// banner's WASM mounts with. `version` names the config the loader decides
/// with, so that the banner shows exactly that one (default: the current one).
#[utoipa::path(get, path = "/v1/sites/{site}/banner", tag = "public",
    params(("site" = String, Path, description = "The site id"),
        ("lang" = Option<String>, Query, description = "The page's language (`de`, `en-GB`); without it the site's default"),
        ("version" = Option<String>, Query, description = "A config version of the site, current or old; without it the current one"),
        ("If-None-Match" = Option<String>, Header, description = "An ETag seen before")),
    responses(
        (status = 200, description = "The banner's view: `version`, `lang`, `classes`, `colors`, `privacy_policy_url`, `imprint_url`, `policy`, `texts` (by name), `date_format`, `categories` with their `services`, each worded (the ETag: the version and a digest of the view)", body = Object),
        (status = 400, description = "Malformed query (an unknown field, a `lang` that is no language tag, a `version` that is no config version)", body = keksdose_shared::api::ApiError),
        (status = 304, description = "Unchanged since If-None-Match"),
        (status = 404, description = "Unknown site or config version", body = keksdose_shared::api::ApiError),
        (status = 429, description = "Rate limited (see Retry-After)", body = keksdose_shared::api::ApiError)))]
pub async fn banner_view<S: Store>(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState<S>>,
) -> Result<HttpResponse, HttpError> {
    let site = state.store.site(&path).await?;
    if let Some(r) = over_limit(&req, &state, Route::Config, site.as_ref()).await {
        return Ok(r);
    }
    let query = web::Query::<BannerQuery>::from_query(req.query_string())
        .map_err(|e| HttpError::new(ErrorCode::BadRequest, format!("invalid query: {e}")))?
        .into_inner();
    check_lang(query.lang.as_deref())?;
    if let Some(version) = &query.version
        && !keksdose_shared::consent_request::is_token(version)
    {
        return Err(HttpError::new(
            ErrorCode::BadRequest,
            format!("version: expected a config version, got {version:?}"),
        ));
    }
    let site = site.ok_or_else(|| unknown_site(&path))?;
    let origin = allowed_origin(&req, &site).unwrap_or(None);
    let published = state.published.get(&*state.store, &site).await?;
    // The current version's views were made once, with the config; an older
    // version (a loader holding a config cached before a publish: at most a day,
    // and rate limited like the config) is made for the request and sent as it
    // is, without the cost of compressing it.
    let made;
    let (body, etag) = match query.version.as_deref() {
        Some(v) if v != published.version => {
            let config = state.store.config(&site.id, v).await?.ok_or_else(|| {
                HttpError::new(
                    ErrorCode::NotFound,
                    format!("site {:?} has no config version {v:?}", site.id),
                )
            })?;
            let lang = config.language_for(query.lang.as_deref()).to_string();
            let words = keksdose_shared::texts::words_for(&config, &lang);
            let view = keksdose_widget::view::View::new(&config, v, &lang, &words);
            let json = serde_json::to_vec(&view)
                .map_err(|e| HttpError::new(ErrorCode::Internal, e.to_string()))?;
            let etag = format!("\"{v}.{}\"", crate::published::short_digest(&json));
            made = etag;
            (Err(json), &made)
        }
        _ => {
            let lang = published.config.language_for(query.lang.as_deref());
            let (body, etag) = published.banner.get(lang).ok_or_else(|| {
                HttpError::new(ErrorCode::Internal, format!("no banner view in {lang:?}"))
            })?;
            (Ok(body), etag)
        }
    };
    let (mut r, not_modified) = json_cached(&req, etag.clone(), origin);
    if not_modified {
        return Ok(r.finish());
    }
    Ok(match body {
        Ok(encoded) => encoded.respond(&req, &mut r),
        Err(json) => r
            .append_header((header::VARY, "Accept-Encoding"))
            .body(json),
    })
}

/// The start of a public JSON answer cached for 60 s under `etag`, with CORS
/// for `origin`, and whether it is a 304 (the client has `etag` already: the
/// builder is to be finished without a body).
fn json_cached(
    req: &HttpRequest,
    etag: String,
    origin: Option<String>,
) -> (HttpResponseBuilder, bool) {
    let not_modified = crate::http::assets::etag_matches(req, &etag);
    let mut r = if not_modified {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    r.insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, "public, max-age=60"));
    cors(&mut r, origin);
    if not_modified {
        r.append_header((header::VARY, "Accept-Encoding"));
    } else {
        r.content_type("application/json");
    }
    (r, not_modified)
}

/// A `lang` query parameter: a language tag, else a 400 that says so.
pub(super) fn check_lang(lang: Option<&str>) -> Result<(), HttpError> {
    match lang {
        Some(lang) if !is_language_tag(lang) => Err(HttpError::new(
            ErrorCode::BadRequest,
            format!("lang: expected a language tag like \"de\" or \"pt-BR\", got {lang:?}"),
        )),
        _ => Ok(()),
    }
}

/// The query of the banner endpoint; nothing else.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct BannerQuery {
    lang: Option<String>,
    version: Option<String>,
}

/// `?words=1` of the config endpoint.
#[derive(serde::Deserialize)]
struct WordsQuery {
    words: Option<String>,
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
    let site = site_of(&state, &path).await?;
    let origin = allowed_origin(&req, &site)?;
    let mut r = HttpResponse::NoContent();
    cors(&mut r, origin);
    r.insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, "POST"))
        .insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, "Content-Type"))
        .insert_header((header::ACCESS_CONTROL_MAX_AGE, "86400"));
    Ok(r.finish())
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
    // A site changed through another server may take a second to show here
    // (its origins, its current config); a decision naming a newer config
    // version is checked against that version all the same.
    let site = state.store.site_recent(&path).await?;
    if let Some(r) = over_limit(&req, &state, Route::Consents, site.as_ref()).await {
        return Ok(r);
    }
    let site = site.ok_or_else(|| unknown_site(&path))?;
    let origin = allowed_origin(&req, &site)?;
    let body: ConsentRequest = super::body::read_json(&req, payload, MAX_BODY).await?;
    let client = Client {
        ip: state.ops.client_ip(&req),
        user_agent: req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok()),
    };
    let record =
        consents::record_banner(&*state.store, &state.published, &site, body, client).await?;
    let mut r = HttpResponse::Created();
    cors(&mut r, origin);
    r.insert_header((
        header::LOCATION,
        format!("/v1/consents/{}", record.consent_id),
    ));
    Ok(r.json(record.receipt()))
}

/// `?lang=` of the history page.
#[derive(serde::Deserialize)]
struct LangQuery {
    lang: Option<String>,
}

/// A BCP 47 language tag as far as a page's `lang` goes: 2–3 letters, then
/// subtags of 1–8 letters or digits (`de`, `pt-BR`, `sr-Latn-RS`), 35 at most.
pub(super) fn is_language_tag(tag: &str) -> bool {
    let mut parts = tag.split('-');
    tag.len() <= 35
        && parts.next().is_some_and(|p| {
            (2..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphabetic())
        })
        && parts.all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// Whether the request prefers HTML to JSON: a browser's navigation
/// (`Accept: text/html,…`), not `fetch` or curl (`*/*`) or an API client.
fn wants_html(req: &HttpRequest) -> bool {
    let Some(accept) = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    // The weight (`q`) the header gives `media` by name, 0 when it is not named.
    let weight = |media: &str| {
        accept
            .split(',')
            .filter_map(|part| {
                let mut params = part.split(';');
                let name = params.next()?.trim();
                name.eq_ignore_ascii_case(media).then(|| {
                    params
                        .filter_map(|p| p.trim().strip_prefix("q="))
                        .find_map(|q| q.trim().parse::<f32>().ok())
                        .unwrap_or(1.0)
                })
            })
            .fold(0.0_f32, f32::max)
    };
    let html = weight("text/html");
    html > 0.0 && html > weight("application/json")
}

/// `GET /v1/consents/{consent_id}`: a visitor's own history; the ID is the
/// capability. Personal content (pseudonyms, page) is left out. A browser
/// (`Accept: text/html`) gets it as a page in the visitor's language (`?lang=`,
/// else the newest record's).
#[utoipa::path(get, path = "/v1/consents/{consent_id}", tag = "public",
    params(("consent_id" = String, Path, description = "A consent ID"),
        ("lang" = Option<String>, Query, description = "The page's language (with Accept: text/html), one the site offers")),
    responses(
        (status = 200, description = "The visitor's own records, without pseudonyms; the ID is the capability. With `Accept: text/html`, the same as a page in the visitor's language (`lang`, else the newest record's).", body = History),
        (status = 400, description = "Malformed query (lang not a language tag)", body = keksdose_shared::api::ApiError),
        (status = 404, description = "Unknown site or consent ID", body = keksdose_shared::api::ApiError),
        (status = 429, description = "Rate limited (see Retry-After)", body = keksdose_shared::api::ApiError)))]
pub async fn history<S: Store>(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState<S>>,
) -> Result<HttpResponse, HttpError> {
    if let Some(r) = over_limit(&req, &state, Route::History, None).await {
        return Ok(r);
    }
    let consent_id = path.into_inner();
    // `?lang=`: a language tag, else a 400 (whether or not the site offers it:
    // one it does not gets the page in the site's default language).
    let asked = match web::Query::<LangQuery>::from_query(req.query_string()) {
        Ok(q) => q.into_inner().lang,
        Err(e) => {
            return Err(HttpError::new(
                ErrorCode::BadRequest,
                format!("invalid query: {e}"),
            ));
        }
    };
    if let Some(lang) = asked.as_deref().filter(|l| !is_language_tag(l)) {
        return Err(HttpError::new(
            ErrorCode::BadRequest,
            format!("lang: expected a language tag like \"de\" or \"pt-BR\", got {lang:?}"),
        ));
    }
    let (site, records) = consents::history(&*state.store, &consent_id).await?;
    let mut r = HttpResponse::Ok();
    cors(&mut r, allowed_origin(&req, &site).unwrap_or(None));
    r.insert_header((header::CACHE_CONTROL, "no-store"))
        .append_header((header::VARY, "Accept"));
    if wants_html(&req) {
        // A browser opening the banner's link: the page, in the visitor's language.
        let published = state.published.get(&*state.store, &site).await?;
        let config = &published.config;
        let lang = super::history_page::language(config, asked.as_deref(), &records);
        r.insert_header((header::CONTENT_SECURITY_POLICY, super::history_page::CSP))
            .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
            .content_type("text/html; charset=utf-8");
        return Ok(r.body(super::history_page::render(
            config,
            lang,
            &consent_id,
            &records,
        )));
    }
    Ok(r.json(History {
        consent_id,
        site: site.id,
        records,
    }))
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    #[test]
    fn the_history_is_a_page_only_for_a_client_that_prefers_html() {
        let wants = |accept: Option<&str>| {
            let mut r = TestRequest::default();
            if let Some(a) = accept {
                r = r.insert_header(("Accept", a));
            }
            super::wants_html(&r.to_http_request())
        };
        // Chromium's and Firefox's navigations.
        assert!(wants(Some(
            "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
        )));
        assert!(wants(Some("application/json;q=0.5, TEXT/HTML")));
        // fetch, curl, API clients, and one that weighs JSON higher.
        assert!(!wants(None));
        assert!(!wants(Some("*/*")));
        assert!(!wants(Some("application/json")));
        assert!(!wants(Some("text/html;q=0.1, application/json")));
        assert!(!wants(Some("text/html;q=0")));
    }

    #[test]
    fn a_page_language_is_a_language_tag() {
        for ok in ["de", "pt-BR", "sr-Latn-RS", "fil"] {
            assert!(super::is_language_tag(ok), "{ok}");
        }
        for bad in [
            "", "nope", "-1", " ", "..%2F", "de-", "d", "de_AT", "x\u{0}",
        ] {
            assert!(!super::is_language_tag(bad), "{bad:?}");
        }
    }
}
