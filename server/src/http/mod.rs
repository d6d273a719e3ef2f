//! The HTTP API on actix-web: routes, and the static files (loader, banner, demo).
//!
//! Handlers are thin: they look up the site, call the domain, and map the result.
//! Every error leaves as `{"error": {"code", "message"}}` (see [`error`]), 404s
//! and malformed requests included.

mod error;

use std::net::SocketAddr;
use std::path::PathBuf;

use actix_web::http::header;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use keksdose_shared::api::ErrorCode;

pub use error::HttpError;

use crate::sites::Sites;

/// Runs the server until Ctrl-C or SIGTERM.
pub fn run(listen: SocketAddr, static_dir: PathBuf, sites: Sites) -> std::io::Result<()> {
    let sites = web::Data::new(sites);
    actix_web::rt::System::new().block_on(async move {
        HttpServer::new(move || {
            App::new()
                .app_data(sites.clone())
                .configure(|cfg| routes(cfg, &static_dir))
        })
        .bind(listen)?
        .run()
        .await
    })
}

/// Every route; also used by the in-process tests.
pub fn routes(cfg: &mut web::ServiceConfig, static_dir: &std::path::Path) {
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
            .limit(16 * 1024)
            .error_handler(|e, _| error::json_error(e).into()),
    )
    .route("/healthz", web::get().to(healthz))
    .route("/v1/sites/{site}/config", web::get().to(site_config))
    .service(
        actix_files::Files::new("/", static_dir)
            .index_file("index.html")
            .default_handler(web::to(not_found)),
    )
    .default_service(web::to(not_found));
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

async fn not_found(req: HttpRequest) -> HttpError {
    HttpError::new(
        ErrorCode::NotFound,
        format!("no such resource: {} {}", req.method(), req.path()),
    )
}

/// `GET /v1/sites/{site}/config`: the published config with its version.
async fn site_config(
    req: HttpRequest,
    path: web::Path<String>,
    sites: web::Data<Sites>,
) -> Result<HttpResponse, HttpError> {
    let id = path.into_inner();
    let site = sites
        .get(&id)
        .ok_or_else(|| HttpError::new(ErrorCode::NotFound, format!("unknown site {id:?}")))?;
    let etag = format!("\"{}\"", site.version);
    let not_modified = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut response = if not_modified {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    response
        .insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, "public, max-age=60"))
        .insert_header((header::VARY, "Origin"));
    if let Some(origin) = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok())
        && site.origins.iter().any(|o| o == origin)
    {
        response.insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.to_string()));
    }
    if not_modified {
        return Ok(response.finish());
    }
    Ok(response
        .content_type("application/json")
        .body(site.config_json.clone()))
}
