//! What the operator sees and sets on the HTTP layer: the request log line and
//! metrics of every request ([`observe`]), `GET /metrics`, the client address
//! behind trusted proxies, and the rate limits' state.
//!
//! What this module does not do: decide limits per route (the handlers in
//! `public.rs` call [`Ops::check`] where they know the site) or keep any raw
//! client address beyond the request that carries it.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::Ordering;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{HttpRequest, HttpResponse};
use keksdose_shared::api::ErrorCode;
use keksdose_store::SiteMeta;

use super::HttpError;
use crate::proxy::{self, Cidr};
use crate::ratelimit::{RateLimits, Route};
use crate::settings::{Secret, Settings};
use crate::{log, metrics};

/// The operational part of the shared state.
#[derive(Debug)]
pub struct Ops {
    pub limits: RateLimits,
    pub trusted_proxies: Vec<Cidr>,
    pub metrics_token: Option<Secret>,
}

impl Ops {
    pub fn new(settings: &Settings) -> Ops {
        Ops {
            limits: RateLimits::new(settings),
            trusted_proxies: settings.trusted_proxies.clone(),
            metrics_token: settings.metrics_token.clone(),
        }
    }

    /// The client's address: the TCP peer, or behind a trusted proxy the address
    /// it forwarded ([`proxy::client_ip`]). Only ever pseudonymised.
    pub fn client_ip(&self, req: &HttpRequest) -> IpAddr {
        let peer = req
            .peer_addr()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |a| a.ip());
        let forwarded = req
            .headers()
            .get_all("x-forwarded-for")
            .filter_map(|v| v.to_str().ok());
        proxy::client_ip(peer, forwarded, &self.trusted_proxies)
    }

    /// The client's network (/24 or /48) as a keyed hash: the sign-in limit's key.
    pub fn client_network(&self, req: &HttpRequest) -> String {
        self.limits.network(self.client_ip(req))
    }

    /// Takes a token of `route`'s limit for this client (and `site`, `None` when
    /// the path names none or an unknown one); `Err` holds seconds to wait.
    pub async fn check(
        &self,
        req: &HttpRequest,
        route: Route,
        site: Option<&SiteMeta>,
    ) -> Result<(), u64> {
        self.limits.check(route, site, self.client_ip(req)).await
    }
}

/// Every request: one log line (method, route template, status, latency, site
/// id) and the HTTP metrics. Never the path, query, IP, user agent or body.
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = req.method().clone();
    let result = next.call(req).await;
    let elapsed = started.elapsed();
    let (status, route, site) = match &result {
        Ok(res) => {
            let r = res.request();
            let route = match r.match_pattern() {
                // actix-files mounted at the root matches with an empty pattern.
                Some(p) if p.is_empty() => "/{file}".to_string(),
                Some(p) => p,
                None => "(unmatched)".to_string(),
            };
            let site = r
                .match_info()
                .get("site")
                .filter(|s| keksdose_shared::config::is_id(s))
                .map(str::to_string);
            (res.status().as_u16(), route, site)
        }
        Err(e) => (
            e.as_response_error().status_code().as_u16(),
            "(unmatched)".to_string(),
            None,
        ),
    };
    metrics::HTTP.observe(&route, status, elapsed);
    let ms = format!("{:.1}", elapsed.as_secs_f64() * 1000.0);
    let mut fields: Vec<(&str, &dyn std::fmt::Display)> = vec![
        ("method", &method),
        ("route", &route),
        ("status", &status),
        ("ms", &ms),
    ];
    if let Some(site) = &site {
        fields.push(("site", site));
    }
    log::info("request", &fields);
    result
}

/// `GET /metrics`: Prometheus text format; with `metrics_token` set, only for
/// `Authorization: Bearer <token>`.
pub async fn metrics_page(req: HttpRequest, ops: &Ops) -> Result<HttpResponse, HttpError> {
    if let Some(token) = &ops.metrics_token {
        let presented = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        // Comparing digests: the time taken says nothing about the token itself.
        if crate::service::sites::key_hash(presented)
            != crate::service::sites::key_hash(token.expose())
        {
            return Err(HttpError::new(
                ErrorCode::Unauthorized,
                "send the metrics token as Authorization: Bearer …",
            ));
        }
    }
    let l = &ops.limits;
    let text = metrics::render(
        &[
            ("consents", l.consents.rejected.load(Ordering::Relaxed)),
            ("history", l.history.rejected.load(Ordering::Relaxed)),
            ("config", l.config.rejected.load(Ordering::Relaxed)),
        ],
        l.backend(),
    );
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(text))
}
