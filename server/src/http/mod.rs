//! The HTTP API on actix-web: routes, shared state, and the static files
//! (loader, banner, demo pages; the one under a strict CSP is `demo`'s).
//!
//! Handlers are thin: they parse the request, call one function of
//! [`crate::service`] (the layer the CLI calls too), and map the result. Every error leaves as `{"error": {"code",
//! "message"}}` ([`error`]), 404s and malformed requests included.

mod admin;
pub mod assets;
mod auth;
mod body;
mod console;
mod declaration;
mod demo;
mod error;
mod export;
mod history_page;
mod openapi;
mod ops;
mod public;
pub mod schema;
mod subjects;
mod users;

use std::sync::Arc;
use std::time::Duration;

use actix_web::middleware::from_fn;
use actix_web::{App, HttpRequest, HttpServer, web};
use keksdose_shared::api::ErrorCode;

pub use error::HttpError;
pub use ops::Ops;

use keksdose_store::Store;

use crate::published::PublishedCache;
use crate::service::proofs;
use crate::settings::Settings;

/// What every handler can reach.
#[derive(Debug)]
pub struct AppState<S> {
    /// Shared with the streams of running exports.
    pub store: Arc<S>,
    pub published: PublishedCache,
    pub signer: crate::signing::Signer,
    /// Rate limits, trusted proxies, the metrics token.
    pub ops: Ops,
    /// `/k.js` and the banner's files, compressed once, served from memory.
    pub assets: assets::Assets,
    /// The console's limits: sign-in attempts, verifications.
    pub limits: console::ConsoleLimits,
}

/// How long a client has to send a request's head (line and headers) before the
/// connection is closed with 408: slow-loris connections do not pile up.
pub const REQUEST_HEAD_TIMEOUT: Duration = Duration::from_secs(5);
/// How long an idle keep-alive connection stays open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// Runs the server until Ctrl-C or SIGTERM; actix stops accepting, lets running
/// requests finish, and the store's writer flushes when the state is dropped.
pub fn run<S: Store>(
    settings: &Settings,
    listener: std::net::TcpListener,
    store: S,
    signer: crate::signing::Signer,
) -> std::io::Result<()> {
    let state = web::Data::new(AppState {
        store: Arc::new(store),
        published: PublishedCache::default(),
        signer,
        ops: Ops::new(settings),
        assets: assets::Assets::load(&settings.static_dir)?,
        limits: console::ConsoleLimits::default(),
    });
    let static_dir = settings.static_dir.clone();
    actix_web::rt::System::new().block_on(async move {
        // This server's name on the leases of the periodic jobs.
        let holder = crate::pseudonym::random_token(16);
        let background = state.clone();
        let every = Duration::from_secs(settings.checkpoint_every_secs);
        let checkpoint_holder = holder.clone();
        actix_web::rt::spawn(async move {
            // Servers sharing a store take turns: the one holding the lease
            // signs, and keeps it by renewing it each round (a round late is
            // no loss); another takes over within three rounds of its crash,
            // at once after it stopped (it gives its leases back).
            let holder = checkpoint_holder;
            let ttl_ms = u64::try_from(every.as_millis().saturating_mul(3)).unwrap_or(u64::MAX);
            let mut tick = actix_web::rt::time::interval(every);
            loop {
                tick.tick().await;
                match background.store.lease("checkpoint", &holder, ttl_ms).await {
                    Ok(true) => {
                        proofs::checkpoint_grown(&*background.store, &background.signer).await;
                    }
                    Ok(false) => {}
                    Err(e) => {
                        crate::log::line("warn", "periodic checkpoint skipped", &[("error", &e)])
                    }
                }
            }
        });
        let background = state.clone();
        let every = Duration::from_secs(settings.retention_every_secs);
        let retention_holder = holder.clone();
        actix_web::rt::spawn(async move {
            // Like the checkpoint: one server at a time applies the rules.
            let holder = retention_holder;
            let ttl_ms = u64::try_from(every.as_millis().saturating_mul(3)).unwrap_or(u64::MAX);
            let mut tick = actix_web::rt::time::interval(every);
            loop {
                tick.tick().await;
                match background.store.lease("retention", &holder, ttl_ms).await {
                    Ok(true) => apply_retention(&background).await,
                    Ok(false) => {}
                    Err(e) => crate::log::line("warn", "retention skipped", &[("error", &e)]),
                }
            }
        });
        let server = HttpServer::new({
            let state = state.clone();
            move || {
                App::new()
                    .wrap(from_fn(ops::observe))
                    .app_data(state.clone())
                    .configure(|cfg| routes::<S>(cfg, &static_dir))
            }
        })
        .client_request_timeout(REQUEST_HEAD_TIMEOUT)
        .client_disconnect_timeout(Duration::from_secs(1))
        .keep_alive(KEEP_ALIVE)
        .listen(listener)?
        .shutdown_timeout(10)
        .run();
        let result = server.await;
        // A last checkpoint on the way out, so the newest records are covered;
        // then the periodic jobs' leases go back (a lease renewed for no time
        // has run out), so that another server takes them at its next round.
        proofs::checkpoint_grown(&*state.store, &state.signer).await;
        for job in ["checkpoint", "retention"] {
            if let Err(e) = state.store.lease(job, &holder, 0).await {
                crate::log::line(
                    "warn",
                    "lease not given back",
                    &[("job", &job), ("error", &e)],
                );
            }
        }
        result
    })
}

/// Applies every site's retention rules (the periodic run).
async fn apply_retention<S: Store>(state: &AppState<S>) {
    let sites = match state.store.sites().await {
        Ok(sites) => sites,
        Err(e) => {
            crate::log::line("warn", "retention skipped", &[("error", &e)]);
            return;
        }
    };
    match crate::service::operators::purge_sessions(&*state.store).await {
        Ok(0) => {}
        Ok(n) => crate::log::line("info", "console sessions purged", &[("sessions", &n)]),
        Err(e) => crate::log::line("warn", "console sessions not purged", &[("error", &e)]),
    }
    let now = crate::service::retention::clock_ms();
    for site in sites {
        let result = match state.published.get(&*state.store, &site).await {
            Ok(current) => {
                crate::service::retention::apply(&*state.store, &site, &current.config, now).await
            }
            Err(e) => Err(e.into()),
        };
        match result {
            Ok(a) if a.erased > 0 => crate::log::line(
                "info",
                "retention applied",
                &[
                    ("site", &a.site),
                    ("consents", &a.consents),
                    ("records", &a.erased),
                ],
            ),
            Ok(_) => {}
            Err(e) => crate::log::line(
                "warn",
                "retention failed",
                &[("site", &site.id), ("error", &e)],
            ),
        }
    }
}

/// Every route.
pub fn routes<S: Store>(cfg: &mut web::ServiceConfig, static_dir: &std::path::Path) {
    cfg.app_data(
        web::PathConfig::default()
            .error_handler(|e, _| HttpError::new(ErrorCode::BadRequest, e.to_string()).into()),
    )
    .app_data(
        web::QueryConfig::default()
            .error_handler(|e, _| HttpError::new(ErrorCode::BadRequest, e.to_string()).into()),
    )
    .app_data(
        web::JsonConfig::default()
            .limit(public::MAX_BODY)
            .error_handler(|e, _| error::json_error(e).into()),
    )
    .route("/healthz", web::get().to(healthz))
    .route("/metrics", web::get().to(metrics::<S>))
    .route("/.well-known/gpc.json", web::get().to(public::gpc))
    .route(
        "/v1/sites/{site}/config",
        web::get().to(public::site_config::<S>),
    )
    .route(
        "/v1/sites/{site}/banner",
        web::get().to(public::banner_view::<S>),
    )
    .route(
        "/v1/sites/{site}/loader",
        web::get().to(public::loader_data::<S>),
    )
    .route(
        "/v1/sites/{site}/consents",
        web::post().to(public::record_consent::<S>),
    )
    .route(
        "/v1/sites/{site}/declaration",
        web::get().to(declaration::json::<S>),
    )
    .route(
        "/v1/sites/{site}/declaration.html",
        web::get().to(declaration::html::<S>),
    )
    .route(
        "/v1/sites/{site}/consents",
        web::method(actix_web::http::Method::OPTIONS).to(public::preflight::<S>),
    )
    .route(
        "/v1/consents/{consent_id}",
        web::get().to(public::history::<S>),
    )
    .route("/v1/keys", web::get().to(admin::keys::<S>))
    .route("/v1/openapi.json", web::get().to(openapi::serve))
    .route(
        "/v1/admin/sites/{site}/consents",
        web::get().to(export::search::<S>),
    )
    .route(
        "/v1/admin/sites/{site}/consents",
        web::post().to(admin::backend_consent::<S>),
    )
    .route(
        "/v1/admin/sites/{site}/consents/{consent_id}/proof",
        web::get().to(admin::proof::<S>),
    )
    .route(
        "/v1/admin/sites/{site}/consents/{consent_id}/withdraw",
        web::post().to(admin::withdraw::<S>),
    )
    .route(
        "/v1/admin/sites/{site}/consents/{consent_id}/proof-pack",
        web::get().to(admin::proof_pack::<S>),
    )
    .route(
        "/v1/admin/sites/{site}/consents/{consent_id}/match",
        web::post().to(admin::match_client::<S>),
    )
    .route(
        "/v1/admin/sites/{site}/retention",
        web::post().to(admin::retention::<S>),
    )
    .route(
        "/v1/admin/sites/{site}/verify",
        web::get().to(admin::verify::<S>),
    )
    .route(
        "/v1/admin/sites/{site}/checkpoints",
        web::post().to(admin::checkpoint::<S>),
    )
    .route(
        "/v1/admin/sites/{site}/config",
        web::put().to(admin::put_config::<S>),
    )
    .route(
        "/v1/admin/sites/{site}/config/check",
        web::post().to(admin::check_config::<S>),
    )
    .route(
        "/v1/admin/sites/{site}/users",
        web::get().to(users::list::<S>),
    )
    .route(
        "/v1/admin/sites/{site}/users",
        web::post().to(users::add::<S>),
    )
    .route(
        "/v1/admin/sites/{site}/users/{id}",
        web::put().to(users::set::<S>),
    )
    .route(
        "/v1/admin/sites/{site}/users/{id}",
        web::delete().to(users::remove::<S>),
    )
    .route(
        "/v1/admin/sites/{site}/key",
        web::post().to(users::rotate_key::<S>),
    )
    .route(
        "/v1/admin/sites/{site}/audit",
        web::get().to(users::audit::<S>),
    )
    .route(
        "/v1/admin/sites/{site}/stats",
        web::get().to(export::stats::<S>),
    )
    .route(
        "/v1/admin/sites/{site}/subjects/{subject}",
        web::get().to(subjects::access::<S>),
    )
    .route(
        "/v1/admin/sites/{site}/subjects/{subject}",
        web::post().to(subjects::link::<S>),
    )
    .route(
        "/v1/admin/sites/{site}/subjects/{subject}",
        web::delete().to(subjects::erase::<S>),
    )
    .route(
        "/v1/admin/sites/{site}/subjects/{subject}/renewal",
        web::get().to(subjects::renewal::<S>),
    )
    // The banner is loaded by k.js from the site's own origin, not the CMP's: its
    // module, WASM and manifest need CORS. They are public and hold no credentials.
    .service(
        web::scope("/widget")
            .wrap(
                actix_web::middleware::DefaultHeaders::new()
                    .add((actix_web::http::header::ACCESS_CONTROL_ALLOW_ORIGIN, "*")),
            )
            .route("/{name}", get_or_head().to(widget_file::<S>))
            .default_service(web::to(not_found)),
    )
    .configure(console::routes::<S>)
    .route("/k.js", get_or_head().to(loader::<S>))
    .route("/s/{site}/k.js", get_or_head().to(public::site_loader::<S>))
    .route(&format!("/{}", demo::PAGE), {
        let static_dir = static_dir.to_path_buf();
        get_or_head().to(move |req: HttpRequest| {
            demo::strict_csp(static_dir.clone(), req.query_string().to_string())
        })
    })
    .route("/demo/{page}.html", {
        let static_dir = static_dir.to_path_buf();
        get_or_head()
            .guard(actix_web::guard::fn_guard(|ctx| {
                ctx.head().uri.query().is_some_and(demo::wants_per_site)
            }))
            .to(move |page: web::Path<String>| demo::page(static_dir.clone(), page.into_inner()))
    })
    .service(
        actix_files::Files::new("/", static_dir)
            .index_file("index.html")
            .default_handler(web::to(not_found)),
    )
    .default_service(web::to(not_found));
}

/// GET, and HEAD (which actix answers without the body), as the files had.
fn get_or_head() -> actix_web::Route {
    use actix_web::guard;
    web::route().guard(guard::Any(guard::Get()).or(guard::Head()))
}

/// `GET /k.js`: the loader, with the current banner's file names in it.
async fn loader<S: Store>(
    req: HttpRequest,
    state: web::Data<AppState<S>>,
) -> Result<actix_web::HttpResponse, HttpError> {
    match state.assets.loader(&req) {
        Some(r) => Ok(r),
        None => Err(not_found(req).await),
    }
}

/// `GET /widget/{name}`: the banner's module, WASM and manifest.
async fn widget_file<S: Store>(
    req: HttpRequest,
    name: web::Path<String>,
    state: web::Data<AppState<S>>,
) -> Result<actix_web::HttpResponse, HttpError> {
    hold_for_test(&name).await;
    match state.assets.widget(&req, &name) {
        Some(r) => Ok(r),
        None => Err(not_found(req).await),
    }
}

/// Tests only: with `KEKSDOSE_TEST_HOLD_WASM=PATH` set, the banner's WASM is
/// answered only once `PATH` exists (at most two minutes later), so that a
/// browser test can show what a visitor sees and does before it arrives (the
/// server-rendered first layer, issue 13). Unset, this does nothing.
async fn hold_for_test(name: &str) {
    static HOLD: std::sync::OnceLock<Option<std::path::PathBuf>> = std::sync::OnceLock::new();
    let hold = HOLD.get_or_init(|| std::env::var_os("KEKSDOSE_TEST_HOLD_WASM").map(Into::into));
    let Some(path) = hold.as_ref().filter(|_| name.ends_with(".wasm")) else {
        return;
    };
    for _ in 0..2400 {
        if path.exists() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "The server is up", body = schema::Health)))]
async fn healthz() -> actix_web::HttpResponse {
    actix_web::HttpResponse::Ok().json(schema::Health { status: "ok" })
}

async fn metrics<S: Store>(
    req: HttpRequest,
    state: web::Data<AppState<S>>,
) -> Result<actix_web::HttpResponse, HttpError> {
    ops::metrics_page(req, &state.ops).await
}

async fn not_found(req: HttpRequest) -> HttpError {
    HttpError::new(
        ErrorCode::NotFound,
        format!("no such resource: {} {}", req.method(), req.path()),
    )
}
