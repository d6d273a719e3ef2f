//! The console under `/console/`: operators and data-protection officers sign
//! in and see, prove and manage consent in a browser.
//!
//! Server-rendered HTML with no script at all: every page is a GET, every
//! change a form POST answered by a redirect or a page (POST-redirect-GET), so
//! the console works with a strict Content Security Policy ([`CSP`]) and with
//! a keyboard and a screen reader as plain HTML does. Charts are SVG drawn
//! here. Each handler signs the request in ([`Ctx`]), checks the operator's
//! role on the site ([`Ctx::site`]), and calls the same services as the JSON
//! API and the CLI.
//!
//! A session is a cookie scripts cannot read (`__Host-`, `Secure`,
//! `HttpOnly`, `SameSite=Strict`), known to the store only by its hash, ended
//! after [`operators::IDLE_MS`] without a request. Every POST must come from
//! the console's own origin (`Origin` and `Sec-Fetch-Site`) and carry the
//! session's CSRF token. Sign-in is rate limited per account and per network.

mod pages;
mod words;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::Instant;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use keksdose_store::{SiteMeta, Store};

use super::AppState;
use super::history_page::esc;
use crate::ratelimit::Limiter;
use crate::service::operators::{self, Need, Operator, Role, Session};
use crate::settings::Limit;
pub use words::Lang;

/// The session cookie.
pub const COOKIE: &str = "__Host-keksdose-console";

/// Every console page: its own stylesheet and its one script (the editor's
/// live preview), requests only to itself, frames only of its own banner
/// previews, forms only to itself.
pub const CSP: &str = "default-src 'none'; script-src 'self'; connect-src 'self'; \
    style-src 'self'; img-src 'self'; frame-src 'self'; form-action 'self'; \
    frame-ancestors 'none'; base-uri 'none'";

const CSS: &str = include_str!("console.css");
const JS: &str = include_str!("console.js");

/// The console's limits, kept by each server in its memory. Password attempts
/// (sign-in, and the current password when changing it): per account five at
/// once, then one a minute; sign-ins per network (the same /24 or /48) thirty
/// at once, then ten a minute. A whole-ledger verification: two at once per
/// site, then one a minute.
#[derive(Debug)]
pub struct ConsoleLimits {
    account: Limiter,
    network: Limiter,
    verify: Limiter,
}

impl Default for ConsoleLimits {
    fn default() -> ConsoleLimits {
        ConsoleLimits {
            account: Limiter::new(Limit {
                per_minute: 1,
                burst: 5,
            }),
            network: Limiter::new(Limit {
                per_minute: 10,
                burst: 30,
            }),
            verify: Limiter::new(Limit {
                per_minute: 1,
                burst: 2,
            }),
        }
    }
}

impl ConsoleLimits {
    /// Takes a verification of `site`'s whole ledger, or the seconds to wait.
    pub fn verify(&self, site: &str) -> Result<(), u64> {
        self.verify.check(site.to_string(), Instant::now())
    }
}

pub fn routes<S: Store>(cfg: &mut web::ServiceConfig) {
    use pages as p;
    cfg.service(
        web::scope("/console")
            // A config in the editor may be as large as the API takes.
            .app_data(
                web::FormConfig::default()
                    .limit(512 * 1024)
                    .error_handler(|e, req| {
                        let lang = Lang::of_request(req);
                        let status = match &e {
                            actix_web::error::UrlencodedError::Overflow { .. } => {
                                StatusCode::PAYLOAD_TOO_LARGE
                            }
                            actix_web::error::UrlencodedError::ContentType => {
                                StatusCode::UNSUPPORTED_MEDIA_TYPE
                            }
                            _ => StatusCode::BAD_REQUEST,
                        };
                        let page = error_page(
                            lang,
                            status,
                            lang.t(
                                "The form could not be read.",
                                "Das Formular ist nicht lesbar.",
                            ),
                        );
                        actix_web::error::InternalError::from_response(e, page).into()
                    }),
            )
            .app_data(web::QueryConfig::default().error_handler(|e, req| {
                let lang = Lang::of_request(req);
                let page = error_page(
                    lang,
                    StatusCode::BAD_REQUEST,
                    lang.t(
                        "The address could not be read.",
                        "Die Adresse ist nicht lesbar.",
                    ),
                );
                actix_web::error::InternalError::from_response(e, page).into()
            }))
            .route("", web::get().to(home::<S>))
            .route("/", web::get().to(home::<S>))
            .route("/console.css", web::get().to(css))
            .route("/console.js", web::get().to(js))
            .route("/sign-in", web::get().to(sign_in_page::<S>))
            .route("/sign-in", web::post().to(sign_in::<S>))
            .route("/sign-out", web::post().to(sign_out::<S>))
            .route("/language", web::post().to(language::<S>))
            .route("/account", web::get().to(account::<S>))
            .route("/account", web::post().to(change_password::<S>))
            .route("/sites/{site}", web::get().to(p::overview::<S>))
            .route("/sites/{site}/verify", web::post().to(p::verify::<S>))
            .route("/sites/{site}/consents", web::get().to(p::log::<S>))
            .route("/sites/{site}/export", web::get().to(p::export::<S>))
            .route("/sites/{site}/consents/{id}", web::get().to(p::proof::<S>))
            .route(
                "/sites/{site}/consents/{id}/banner",
                web::get().to(p::banner::<S>),
            )
            .route(
                "/sites/{site}/consents/{id}/proof-pack",
                web::get().to(p::proof_pack::<S>),
            )
            .route(
                "/sites/{site}/consents/{id}/withdraw",
                web::post().to(p::withdraw::<S>),
            )
            .route("/sites/{site}/subjects", web::get().to(p::subjects::<S>))
            .route("/sites/{site}/subjects", web::post().to(p::subject::<S>))
            .route(
                "/sites/{site}/subjects/export",
                web::post().to(p::subject_export::<S>),
            )
            .route(
                "/sites/{site}/subjects/erase",
                web::post().to(p::subject_erase::<S>),
            )
            .route("/sites/{site}/config", web::get().to(p::config::<S>))
            .route("/sites/{site}/config", web::post().to(p::config_check::<S>))
            .route(
                "/sites/{site}/config/draft",
                web::post().to(p::config_draft::<S>),
            )
            .route(
                "/sites/{site}/config/publish",
                web::post().to(p::config_publish::<S>),
            )
            .route(
                "/sites/{site}/config/preview",
                web::get().to(p::config_preview::<S>),
            )
            .route("/sites/{site}/users", web::get().to(p::users::<S>))
            .route("/sites/{site}/users", web::post().to(p::user_add::<S>))
            .route(
                "/sites/{site}/users/{id}",
                web::post().to(p::user_role::<S>),
            )
            .route("/sites/{site}/key", web::post().to(p::key_rotate::<S>))
            .route("/sites/{site}/audit", web::get().to(p::audit::<S>))
            .default_service(web::to(unknown_page)),
    );
}

/// A form's fields.
pub type Form = web::Form<HashMap<String, String>>;

/// A page that is not what was asked for: an error, a redirect.
pub type Page = HttpResponse;

/// A handler's answer when it stops early: the page it shows instead (actix
/// wants an error type; this one just carries the page).
pub struct Fail(std::cell::Cell<Option<HttpResponse>>);

impl From<HttpResponse> for Fail {
    fn from(page: HttpResponse) -> Fail {
        Fail(std::cell::Cell::new(Some(page)))
    }
}

impl std::fmt::Debug for Fail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Fail")
    }
}

impl std::fmt::Display for Fail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a console page")
    }
}

impl actix_web::ResponseError for Fail {
    fn error_response(&self) -> HttpResponse {
        self.0
            .take()
            .unwrap_or_else(|| HttpResponse::InternalServerError().finish())
    }
}

/// What a console handler answers.
pub type Answer = Result<Page, Fail>;

/// The value of the request's cookie `name`.
fn cookie(req: &HttpRequest, name: &str) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (k, v) = pair.trim().split_once('=')?;
            (k == name).then(|| v.to_string())
        })
}

/// A signed-in request.
#[derive(Debug)]
pub struct Ctx {
    token: String,
    pub session: Session,
    pub operator: Operator,
    pub lang: Lang,
}

impl Ctx {
    /// The request's session, or `None`.
    pub async fn of<S: Store>(req: &HttpRequest, store: &S) -> Option<Ctx> {
        let token = cookie(req, COOKIE)?;
        let (session, operator) = operators::session(store, &token).await.ok()??;
        let lang = Lang::parse(&session.lang).unwrap_or_default();
        Some(Ctx {
            token,
            session,
            operator,
            lang,
        })
    }

    /// For a page: the session, or the way to the sign-in (or, with a
    /// password handed over, to the account page to choose one's own).
    pub async fn page<S: Store>(req: &HttpRequest, store: &S) -> Result<Ctx, Page> {
        match Ctx::of(req, store).await {
            Some(ctx) if ctx.operator.must_change_password && req.path() != "/console/account" => {
                Err(see_other("/console/account"))
            }
            Some(ctx) => Ok(ctx),
            None => Err(see_other("/console/sign-in")),
        }
    }

    /// For a form: the session, from the console's origin, with its CSRF token.
    pub async fn form<S: Store>(req: &HttpRequest, store: &S, form: &Form) -> Result<Ctx, Page> {
        let lang = Lang::of_request(req);
        if !same_origin(req) {
            return Err(error_page(
                lang,
                StatusCode::FORBIDDEN,
                lang.t(
                    "This form was not sent from the console's own pages.",
                    "Dieses Formular kam nicht von den Seiten der Konsole.",
                ),
            ));
        }
        let Some(ctx) = Ctx::of(req, store).await else {
            return Err(error_page(
                lang,
                StatusCode::UNAUTHORIZED,
                lang.t(
                    "Your session has ended. Please sign in again.",
                    "Ihre Sitzung ist abgelaufen. Bitte melden Sie sich erneut an.",
                ),
            ));
        };
        let allowed = ["/console/account", "/console/sign-out", "/console/language"];
        if ctx.operator.must_change_password && !allowed.contains(&req.path()) {
            return Err(ctx.error_page(
                StatusCode::FORBIDDEN,
                ctx.t(
                    "Choose your own password first (Account).",
                    "Wählen Sie zuerst Ihr eigenes Passwort (Konto).",
                ),
            ));
        }
        let sent = form.get("csrf").map_or("", String::as_str);
        if !constant_time_eq(sent.as_bytes(), ctx.session.csrf.as_bytes()) {
            return Err(ctx.error_page(StatusCode::FORBIDDEN,
                ctx.t(
                    "This form is missing its security token. Reload the page and try again.",
                    "Diesem Formular fehlt sein Sicherheits-Token. Laden Sie die Seite neu und versuchen Sie es noch einmal.",
                ),
            ));
        }
        Ok(ctx)
    }

    pub fn t<'a>(&self, en: &'a str, de: &'a str) -> &'a str {
        self.lang.t(en, de)
    }

    /// The site if the operator has a role on it that allows `need`. A site
    /// without a role (or none at all) is not found: nobody learns which sites
    /// exist; a role that does not allow it is forbidden.
    pub async fn site<S: Store>(
        &self,
        store: &S,
        site: &str,
        need: Need,
    ) -> Result<(SiteMeta, Role), Page> {
        let role = self.operator.role(site);
        let meta = match role {
            Some(_) => store.site(site).await.ok().flatten(),
            None => None,
        };
        let (Some(role), Some(meta)) = (role, meta) else {
            return Err(self.error_page(
                StatusCode::NOT_FOUND,
                self.t(
                    "There is no such site, or you have no role on it.",
                    "Diese Website gibt es nicht, oder Sie haben keine Rolle darauf.",
                ),
            ));
        };
        if !role.allows(need) {
            return Err(self.error_page(
                StatusCode::FORBIDDEN,
                self.t(
                    "Your role on this site does not allow this.",
                    "Ihre Rolle auf dieser Website erlaubt das nicht.",
                ),
            ));
        }
        Ok((meta, role))
    }

    /// An error as a page with this operator's header (and the way back).
    pub fn error_page(&self, status: StatusCode, message: &str) -> Page {
        error_page_for(Some(self), self.lang, status, message)
    }

    /// A service's refusal or failure as a page with this operator's header.
    pub fn service_error(&self, e: &crate::service::Error) -> Page {
        let (status, message) = service_status(e);
        self.error_page(status, &message)
    }

    /// The hidden field every form carries.
    pub fn csrf_field(&self) -> String {
        format!(
            "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
            esc(&self.session.csrf)
        )
    }

    /// The audit trail's name for this operator.
    pub fn actor(&self) -> String {
        self.operator.actor()
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    !a.is_empty()
        && a.len() == b.len()
        && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// For a GET that writes (an export or a proof pack is audited; a proof pack
/// may sign a checkpoint): refused when the browser says another site sent it.
#[allow(clippy::result_large_err)] // the error is the page shown instead, as in every handler
pub fn not_cross_site(req: &HttpRequest, lang: Lang) -> Result<(), Page> {
    let site = req
        .headers()
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok());
    match site {
        None | Some("same-origin" | "none") => Ok(()),
        Some(_) => Err(error_page(
            lang,
            StatusCode::FORBIDDEN,
            lang.t(
                "Open this from the console's own pages.",
                "Öffnen Sie dies von den Seiten der Konsole aus.",
            ),
        )),
    }
}

/// Whether a POST comes from the console's own origin: `Sec-Fetch-Site`, when
/// the browser sends it, says `same-origin`, and `Origin` names this host.
fn same_origin(req: &HttpRequest) -> bool {
    let h = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    if h("sec-fetch-site").is_some_and(|s| s != "same-origin") {
        return false;
    }
    let (Some(origin), Some(host)) = (h("origin"), h("host")) else {
        return false;
    };
    origin
        .split_once("://")
        .is_some_and(|(scheme, rest)| matches!(scheme, "http" | "https") && rest == host)
}

pub fn see_other(location: &str) -> Page {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location.to_string()))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

/// The headers every console answer carries.
fn secured(mut b: actix_web::HttpResponseBuilder) -> actix_web::HttpResponseBuilder {
    b.insert_header((header::CONTENT_SECURITY_POLICY, CSP))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "same-origin"))
        .content_type("text/html; charset=utf-8");
    b
}

/// A whole page: `title`, the site navigation when on a site, `body`.
pub fn page(ctx: Option<&Ctx>, lang: Lang, title: &str, nav: Option<Nav<'_>>, body: &str) -> Page {
    page_with(StatusCode::OK, ctx, lang, title, nav, body)
}

/// Where on a site a page is, for the navigation.
#[derive(Debug, Clone, Copy)]
pub struct Nav<'a> {
    pub site: &'a str,
    pub role: Role,
    pub here: &'static str,
}

pub fn page_with(
    status: StatusCode,
    ctx: Option<&Ctx>,
    lang: Lang,
    title: &str,
    nav: Option<Nav<'_>>,
    body: &str,
) -> Page {
    let t = |en, de| lang.t(en, de);
    let mut html = String::with_capacity(body.len() + 2048);
    let _ = write!(
        html,
        "<!doctype html><html lang=\"{}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · Keksdose</title><link rel=\"stylesheet\" href=\"/console/console.css\">\
         <script src=\"/console/console.js\" defer></script></head><body>\
         <a class=\"skip\" href=\"#main\">{}</a><header class=\"top\"><a class=\"brand\" href=\"/console/\">Keksdose</a>",
        lang.code(),
        esc(title),
        t("Skip to content", "Zum Inhalt springen"),
    );
    if let Some(ctx) = ctx {
        let _ = write!(
            html,
            "<nav aria-label=\"{}\"><ul><li><a href=\"/console/account\">{}</a></li>\
             <li><form method=\"post\" action=\"/console/language\">{}<input type=\"hidden\" name=\"lang\" value=\"{}\">\
             <button type=\"submit\" lang=\"{}\">{}</button></form></li>\
             <li><form method=\"post\" action=\"/console/sign-out\">{}<button type=\"submit\">{}</button></form></li></ul></nav>",
            t("Account", "Konto"),
            esc(&ctx.operator.email),
            ctx.csrf_field(),
            lang.other().code(),
            lang.other().code(),
            lang.other().name(),
            ctx.csrf_field(),
            t("Sign out", "Abmelden"),
        );
    } else {
        let _ = write!(
            html,
            "<nav aria-label=\"{}\"><ul><li><a href=\"?lang={}\" lang=\"{}\">{}</a></li></ul></nav>",
            t("Language", "Sprache"),
            lang.other().code(),
            lang.other().code(),
            lang.other().name()
        );
    }
    html.push_str("</header>");
    if let Some(nav) = nav {
        let mut items: Vec<(&str, String, &str)> = vec![(
            "overview",
            format!("/console/sites/{}", nav.site),
            t("Overview", "Übersicht"),
        )];
        if nav.role.allows(Need::Consents) {
            items.push((
                "consents",
                format!("/console/sites/{}/consents", nav.site),
                t("Consent log", "Einwilligungen"),
            ));
            items.push((
                "subjects",
                format!("/console/sites/{}/subjects", nav.site),
                t("Data subjects", "Betroffene"),
            ));
        }
        items.push((
            "config",
            format!("/console/sites/{}/config", nav.site),
            t("Config", "Konfiguration"),
        ));
        if nav.role.allows(Need::Manage) {
            items.push((
                "users",
                format!("/console/sites/{}/users", nav.site),
                t("Users and key", "Benutzer und Schlüssel"),
            ));
        }
        items.push((
            "audit",
            format!("/console/sites/{}/audit", nav.site),
            t("Audit trail", "Protokoll"),
        ));
        let _ = write!(
            html,
            "<nav class=\"site\" aria-label=\"{} {}\"><p class=\"site-id\">{} <strong>{}</strong> · {}</p><ul>",
            t("Site", "Website"),
            esc(nav.site),
            t("Site", "Website"),
            esc(nav.site),
            words::role(lang, nav.role),
        );
        for (id, href, label) in items {
            let current = if id == nav.here {
                " aria-current=\"page\""
            } else {
                ""
            };
            let _ = write!(html, "<li><a href=\"{href}\"{current}>{label}</a></li>");
        }
        html.push_str("</ul></nav>");
    }
    let _ = write!(
        html,
        "<main id=\"main\"><h1>{}</h1>{body}</main></body></html>",
        esc(title)
    );
    secured(HttpResponse::build(status)).body(html)
}

/// An error as a page, in `lang`.
pub fn error_page(lang: Lang, status: StatusCode, message: &str) -> Page {
    error_page_for(None, lang, status, message)
}

fn error_page_for(ctx: Option<&Ctx>, lang: Lang, status: StatusCode, message: &str) -> Page {
    let body = format!(
        "<p class=\"error\" role=\"alert\">{}</p><p><a href=\"/console/\">{}</a></p>",
        esc(message),
        lang.t("Back to the console", "Zurück zur Konsole")
    );
    let title = match status.as_u16() {
        404 => lang.t("Not found", "Nicht gefunden"),
        403 => lang.t("Not allowed", "Nicht erlaubt"),
        401 => lang.t("Signed out", "Abgemeldet"),
        429 => lang.t("Too many attempts", "Zu viele Versuche"),
        409 => lang.t("Not possible now", "Jetzt nicht möglich"),
        400 | 422 => lang.t("Not accepted", "Nicht angenommen"),
        _ => lang.t("Something went wrong", "Etwas ist schiefgegangen"),
    };
    page_with(status, ctx, lang, title, None, &body)
}

/// A service's refusal or failure: its status and message.
fn service_status(e: &crate::service::Error) -> (StatusCode, String) {
    let http: super::HttpError = match e {
        crate::service::Error::Refused(r) => {
            super::HttpError::new(r.error.code, r.error.message.clone())
        }
        crate::service::Error::Store(s) => {
            super::HttpError::from(keksdose_store::StoreError::Internal(s.to_string()))
        }
    };
    (actix_web::ResponseError::status_code(&http), e.to_string())
}

/// A service's refusal or failure as a page.
pub fn service_error(lang: Lang, e: &crate::service::Error) -> Page {
    let (status, message) = service_status(e);
    error_page(lang, status, &message)
}

async fn css() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(CSS)
}

async fn js() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(JS)
}

async fn unknown_page(req: HttpRequest) -> Page {
    let lang = Lang::of_request(&req);
    error_page(
        lang,
        StatusCode::NOT_FOUND,
        lang.t("There is no such page.", "Diese Seite gibt es nicht."),
    )
}

/// `/console/`: the operator's sites (one: straight to it).
async fn home<S: Store>(req: HttpRequest, state: web::Data<AppState<S>>) -> Answer {
    let ctx = Ctx::page(&req, &*state.store).await?;
    let sites: Vec<(&String, &Role)> = ctx.operator.roles.iter().collect();
    if let [(site, _)] = sites.as_slice() {
        return Ok(see_other(&format!("/console/sites/{site}")));
    }
    let mut body = String::new();
    if sites.is_empty() {
        let _ = write!(
            body,
            "<p>{}</p>",
            ctx.t(
                "You have no role on any site yet. An admin of a site can give you one.",
                "Sie haben noch auf keiner Website eine Rolle. Ein Admin einer Website kann Ihnen eine geben."
            )
        );
    } else {
        body.push_str("<ul class=\"cards\">");
        for (site, role) in sites {
            let _ = write!(
                body,
                "<li><a href=\"/console/sites/{0}\">{0}</a> <span>{1}</span></li>",
                esc(site),
                words::role(ctx.lang, *role)
            );
        }
        body.push_str("</ul>");
    }
    Ok(page(
        Some(&ctx),
        ctx.lang,
        ctx.t("Your sites", "Ihre Websites"),
        None,
        &body,
    ))
}

fn sign_in_form(lang: Lang, email: &str, problem: Option<&str>) -> String {
    let t = |en, de| lang.t(en, de);
    let mut body = String::new();
    if let Some(p) = problem {
        let _ = write!(
            body,
            "<p class=\"error\" role=\"alert\" id=\"problem\">{}</p>",
            esc(p)
        );
    }
    let described = if problem.is_some() {
        " aria-describedby=\"problem\""
    } else {
        ""
    };
    let _ = write!(
        body,
        "<form method=\"post\" action=\"/console/sign-in\" class=\"stack\">\
         <input type=\"hidden\" name=\"lang\" value=\"{}\">\
         <label for=\"email\">{}</label><input id=\"email\" name=\"email\" type=\"email\" autocomplete=\"username\" required value=\"{}\"{described}>\
         <label for=\"password\">{}</label><input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required{described}>\
         <button type=\"submit\" class=\"primary\">{}</button></form>\
         <p class=\"hint\">{} <code>keksdose user add EMAIL --site SITE --role admin|editor|dpo</code></p>",
        lang.code(),
        t("E-mail", "E-Mail"),
        esc(email),
        t("Password", "Passwort"),
        t("Sign in", "Anmelden"),
        t(
            "No account yet? The server's administrator creates one:",
            "Noch kein Konto? Die Administration des Servers legt eines an:"
        ),
    );
    body
}

/// `GET /console/sign-in`.
async fn sign_in_page<S: Store>(req: HttpRequest, state: web::Data<AppState<S>>) -> Page {
    if Ctx::of(&req, &*state.store).await.is_some() {
        return see_other("/console/");
    }
    let lang = Lang::of_request(&req);
    page(
        None,
        lang,
        lang.t("Sign in to the console", "Anmeldung zur Konsole"),
        None,
        &sign_in_form(lang, "", None),
    )
}

/// `POST /console/sign-in`.
async fn sign_in<S: Store>(req: HttpRequest, form: Form, state: web::Data<AppState<S>>) -> Answer {
    let lang = form
        .get("lang")
        .and_then(|l| Lang::parse(l))
        .unwrap_or_else(|| Lang::of_request(&req));
    if !same_origin(&req) {
        return Err(Fail::from(error_page(
            lang,
            StatusCode::FORBIDDEN,
            lang.t(
                "This form was not sent from the console's own pages.",
                "Dieses Formular kam nicht von den Seiten der Konsole.",
            ),
        )));
    }
    let email = form.get("email").map_or("", |e| e.trim());
    let password = form.get("password").map_or("", String::as_str);
    let title = lang.t("Sign in to the console", "Anmeldung zur Konsole");
    // Both limits are taken on every attempt, before the password is checked.
    let now = Instant::now();
    let network = state.ops.client_network(&req);
    let account = keksdose_shared::canonical::sha256_hex(email.to_lowercase().as_bytes());
    let limits = &state.limits;
    let limited = limits
        .network
        .check(network, now)
        .and(limits.account.check(account, now));
    if let Err(wait) = limited {
        let mut r = page_with(
            StatusCode::TOO_MANY_REQUESTS,
            None,
            lang,
            title,
            None,
            &sign_in_form(
                lang,
                email,
                Some(&format!(
                    "{} {wait} s.",
                    lang.t(
                        "Too many sign-in attempts. Try again in",
                        "Zu viele Anmeldeversuche. Versuchen Sie es wieder in"
                    )
                )),
            ),
        );
        if let Ok(v) = header::HeaderValue::from_str(&wait.to_string()) {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return Err(r.into());
    }
    let operator = operators::check_sign_in(&*state.store, email, password)
        .await
        .map_err(|e| service_error(lang, &e))?;
    let Some(operator) = operator else {
        // Noted after the answer, so that a known e-mail's wrong password
        // takes no longer than an unknown e-mail.
        let store = state.store.clone();
        let tried = email.to_string();
        actix_web::rt::spawn(async move {
            if let Ok(Some(known)) = operators::by_email(&*store, &tried).await {
                let _ = operators::audit(
                    &*store,
                    "anonymous",
                    "sign_in_refused",
                    None,
                    Some(&known.actor()),
                    "wrong password",
                )
                .await;
            }
        });
        return Err(Fail::from(page_with(
            StatusCode::UNAUTHORIZED,
            None,
            lang,
            title,
            None,
            &sign_in_form(
                lang,
                email,
                Some(lang.t(
                    "That e-mail and password do not match an account.",
                    "E-Mail und Passwort passen zu keinem Konto.",
                )),
            ),
        )));
    };
    let (token, _) = operators::start_session(&*state.store, &operator, lang.code())
        .await
        .map_err(|e| service_error(lang, &e))?;
    let mut r = see_other("/console/");
    let cookie = format!("{COOKIE}={token}; Path=/; Secure; HttpOnly; SameSite=Strict");
    if let Ok(v) = header::HeaderValue::from_str(&cookie) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(r)
}

/// `POST /console/sign-out`.
async fn sign_out<S: Store>(req: HttpRequest, form: Form, state: web::Data<AppState<S>>) -> Answer {
    let ctx = Ctx::form(&req, &*state.store, &form).await?;
    operators::end_session(&*state.store, &ctx.token, &ctx.operator)
        .await
        .map_err(|e| ctx.service_error(&e))?;
    let mut r = see_other("/console/sign-in");
    let cookie = format!("{COOKIE}=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0");
    if let Ok(v) = header::HeaderValue::from_str(&cookie) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(r)
}

/// `POST /console/language`: the session's pages in the other language.
async fn language<S: Store>(req: HttpRequest, form: Form, state: web::Data<AppState<S>>) -> Answer {
    let ctx = Ctx::form(&req, &*state.store, &form).await?;
    let lang = form
        .get("lang")
        .and_then(|l| Lang::parse(l))
        .unwrap_or(ctx.lang);
    operators::set_session_lang(&*state.store, &ctx.token, &ctx.session, lang.code())
        .await
        .map_err(|e| ctx.service_error(&e))?;
    // Back to the page the switch was on (a path of the console only).
    let back = req
        .headers()
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(|r| {
            r.split_once("/console/")
                .map(|(_, p)| format!("/console/{p}"))
        })
        .filter(|p| !p.contains(['\r', '\n']))
        .unwrap_or_else(|| "/console/".into());
    Ok(see_other(&back))
}

fn account_body(ctx: &Ctx, message: Option<(&str, bool)>) -> String {
    let t = |en, de| ctx.t(en, de);
    let mut body = String::new();
    if ctx.operator.must_change_password {
        let _ = write!(
            body,
            "<p class=\"warn\" role=\"status\">{}</p>",
            t(
                "Your password was handed to you. Choose your own before anything else.",
                "Ihr Passwort wurde Ihnen übergeben. Wählen Sie zuerst Ihr eigenes."
            )
        );
    }
    if let Some((m, ok)) = message {
        let class = if ok { "ok" } else { "error" };
        let _ = write!(body, "<p class=\"{class}\" role=\"status\">{}</p>", esc(m));
    }
    let _ = write!(
        body,
        "<dl class=\"facts\"><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd><code>{}</code></dd></dl><h2>{}</h2><ul>",
        t("E-mail", "E-Mail"),
        esc(&ctx.operator.email),
        t(
            "Account ID (as the audit trail names you)",
            "Konto-ID (so nennt Sie das Protokoll)"
        ),
        esc(&ctx.operator.id),
        t("Your roles", "Ihre Rollen"),
    );
    for (site, role) in &ctx.operator.roles {
        let _ = write!(
            body,
            "<li><a href=\"/console/sites/{0}\">{0}</a>: {1}</li>",
            esc(site),
            words::role(ctx.lang, *role)
        );
    }
    let _ = write!(
        body,
        "</ul><h2>{}</h2><form method=\"post\" action=\"/console/account\" class=\"stack\">{}\
         <label for=\"current\">{}</label><input id=\"current\" name=\"current\" type=\"password\" autocomplete=\"current-password\" required>\
         <label for=\"new\">{}</label><input id=\"new\" name=\"new\" type=\"password\" autocomplete=\"new-password\" minlength=\"{}\" required aria-describedby=\"new-hint\">\
         <p id=\"new-hint\" class=\"hint\">{}</p><button type=\"submit\">{}</button></form>",
        t("Change your password", "Passwort ändern"),
        ctx.csrf_field(),
        t("Current password", "Aktuelles Passwort"),
        t("New password", "Neues Passwort"),
        operators::MIN_PASSWORD,
        t("At least 12 characters.", "Mindestens 12 Zeichen."),
        t("Change password", "Passwort ändern"),
    );
    body
}

/// `GET /console/account`.
async fn account<S: Store>(req: HttpRequest, state: web::Data<AppState<S>>) -> Answer {
    let ctx = Ctx::page(&req, &*state.store).await?;
    Ok(page(
        Some(&ctx),
        ctx.lang,
        ctx.t("Your account", "Ihr Konto"),
        None,
        &account_body(&ctx, None),
    ))
}

/// `POST /console/account`: a new password, given the current one.
async fn change_password<S: Store>(
    req: HttpRequest,
    form: Form,
    state: web::Data<AppState<S>>,
) -> Answer {
    let ctx = Ctx::form(&req, &*state.store, &form).await?;
    let current = form.get("current").map_or("", String::as_str);
    let new = form.get("new").map_or("", String::as_str);
    let title = ctx.t("Your account", "Ihr Konto");
    // The current password is guessed no faster here than at the sign-in.
    let account = keksdose_shared::canonical::sha256_hex(ctx.operator.email.as_bytes());
    if let Err(wait) = state.limits.account.check(account, Instant::now()) {
        let mut r = ctx.error_page(
            StatusCode::TOO_MANY_REQUESTS,
            ctx.t(
                "Too many attempts. Try again in a minute.",
                "Zu viele Versuche. Versuchen Sie es in einer Minute wieder.",
            ),
        );
        if let Ok(v) = header::HeaderValue::from_str(&wait.to_string()) {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return Err(r.into());
    }
    if !operators::password_matches_async(&ctx.operator.password, current).await {
        return Ok(page_with(
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(&ctx),
            ctx.lang,
            title,
            None,
            &account_body(
                &ctx,
                Some((
                    ctx.t(
                        "The current password is not right.",
                        "Das aktuelle Passwort stimmt nicht.",
                    ),
                    false,
                )),
            ),
        ));
    }
    let changed = async {
        operators::set_password(
            &*state.store,
            &ctx.actor(),
            &ctx.operator,
            new,
            operators::Chosen::ByOwner,
        )
        .await?;
        // Every session of the account ends, this one too: sign in with the
        // new password (a session begun before the change is over anyway).
        operators::end_sessions_of(&*state.store, &ctx.operator.id, None).await
    }
    .await;
    if let Err(e) = changed {
        let crate::service::Error::Refused(_) = &e else {
            return Err(ctx.service_error(&e).into());
        };
        let message = ctx
            .t(
                "The new password needs at least 12 characters.",
                "Das neue Passwort braucht mindestens 12 Zeichen.",
            )
            .to_string();
        return Ok(page_with(
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(&ctx),
            ctx.lang,
            title,
            None,
            &account_body(&ctx, Some((&message, false))),
        ));
    }
    let body = format!(
        "<p class=\"ok\" role=\"status\">{}</p>{}",
        ctx.t(
            "Your password is changed. Sign in with the new one.",
            "Ihr Passwort ist geändert. Melden Sie sich mit dem neuen an."
        ),
        sign_in_form(ctx.lang, &ctx.operator.email, None)
    );
    let mut r = page(
        None,
        ctx.lang,
        ctx.t("Sign in to the console", "Anmeldung zur Konsole"),
        None,
        &body,
    );
    let cookie = format!("{COOKIE}=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0");
    if let Ok(v) = header::HeaderValue::from_str(&cookie) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(r)
}
