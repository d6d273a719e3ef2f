//! The HTTP API on actix-web: routes, shared state, and the static files
//! (loader, banner, demo pages).
//!
//! Handlers are thin: they parse, call the domain (`keksdose-shared`) or the
//! store, and map the result. Every error leaves as `{"error": {"code",
//! "message"}}` ([`error`]), 404s and malformed requests included.

mod admin;
mod auth;
mod body;

pub use auth::{KEY_PREFIX, key_hash};
mod error;
mod ops;
mod public;

use actix_web::middleware::from_fn;
use actix_web::{App, HttpRequest, HttpServer, web};
use keksdose_shared::api::ErrorCode;

pub use error::HttpError;
pub use ops::Ops;

use crate::published::PublishedCache;
use crate::settings::Settings;
use crate::store::Store;

/// What every handler can reach.
#[derive(Debug)]
pub struct AppState<S> {
    pub store: S,
    pub published: PublishedCache,
    /// Rate limits, trusted proxies, the metrics token.
    pub ops: Ops,
}

/// Runs the server until Ctrl-C or SIGTERM; actix stops accepting, lets running
/// requests finish, and the store's writer flushes when the state is dropped.
pub fn run<S: Store>(settings: &Settings, store: S) -> std::io::Result<()> {
    let state = web::Data::new(AppState {
        store,
        published: PublishedCache::default(),
        ops: Ops::new(settings),
    });
    let static_dir = settings.static_dir.clone();
    actix_web::rt::System::new().block_on(async move {
        HttpServer::new(move || {
            App::new()
                .wrap(from_fn(ops::observe))
                .app_data(state.clone())
                .configure(|cfg| routes::<S>(cfg, &static_dir))
        })
        .bind(settings.listen)?
        .shutdown_timeout(10)
        .run()
        .await
    })
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
        "/v1/sites/{site}/consents",
        web::post().to(public::record_consent::<S>),
    )
    .route(
        "/v1/sites/{site}/consents",
        web::method(actix_web::http::Method::OPTIONS).to(public::preflight::<S>),
    )
    .route(
        "/v1/consents/{consent_id}",
        web::get().to(public::history::<S>),
    )
    .route(
        "/v1/admin/sites/{site}/consents/{consent_id}/proof",
        web::get().to(admin::proof::<S>),
    )
    .route(
        "/v1/admin/sites/{site}/verify",
        web::get().to(admin::verify::<S>),
    )
    .service(
        actix_files::Files::new("/", static_dir)
            .index_file("index.html")
            .default_handler(web::to(not_found)),
    )
    .default_service(web::to(not_found));
}

async fn healthz() -> actix_web::HttpResponse {
    actix_web::HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
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
