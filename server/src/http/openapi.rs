//! The OpenAPI document of the whole HTTP API, generated from the handlers'
//! annotations and the wire types (`utoipa`). Served at `/v1/openapi.json`;
//! committed as `server/openapi.json`, and a test fails when the two differ.

use utoipa::OpenApi;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};

use super::{admin, declaration, export, public, schema, subjects, users};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Keksdose",
        description = "Consent management with tamper-evident proofs. Errors are always `{\"error\": {\"code\", \"message\", \"details\"}}`.",
        license(name = "AGPL-3.0-or-later")
    ),
    paths(
        super::healthz,
        public::gpc,
        public::site_config,
        public::banner_view,
        public::loader_data,
        public::site_loader,
        public::preflight,
        public::record_consent,
        public::history,
        admin::keys,
        admin::proof,
        admin::verify,
        admin::checkpoint,
        admin::withdraw,
        admin::match_client,
        admin::proof_pack,
        subjects::renewal,
        declaration::json,
        declaration::html,
        admin::retention,
        admin::backend_consent,
        admin::put_config,
        admin::check_config,
        export::search,
        export::stats,
        subjects::link,
        subjects::access,
        subjects::erase,
        users::list,
        users::add,
        users::set,
        users::remove,
        users::rotate_key,
        users::audit,
    ),
    components(schemas(schema::Health)),
    modifiers(&BearerKey),
    tags(
        (name = "public", description = "Called from visitors' browsers; CORS limited to the site's origins"),
        (name = "admin", description = "`Authorization: Bearer <site API key>`; a key sees only its own site"),
        (name = "operations", description = "Health and public keys"),
    )
)]
pub struct ApiDoc;

struct BearerKey;

impl utoipa::Modify for BearerKey {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(components) = openapi.components.as_mut() {
            components.add_security_scheme(
                "api_key",
                SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
            );
        }
    }
}

/// The document as served and committed: pretty JSON with a final newline.
pub fn document() -> String {
    let mut text = ApiDoc::openapi().to_pretty_json().unwrap_or_default();
    text.push('\n');
    text
}

/// `GET /v1/openapi.json`
pub async fn serve() -> actix_web::HttpResponse {
    actix_web::HttpResponse::Ok()
        .content_type("application/json")
        .body(document())
}

#[cfg(test)]
mod tests {
    /// The committed `server/openapi.json` is what the code generates; rerun with
    /// `UPDATE_OPENAPI=1` after a deliberate API change.
    #[test]
    fn the_committed_document_is_current() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi.json");
        let generated = super::document();
        if std::env::var_os("UPDATE_OPENAPI").is_some() {
            std::fs::write(&path, &generated).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == generated,
            "server/openapi.json is stale: rerun with UPDATE_OPENAPI=1"
        );
    }
}
