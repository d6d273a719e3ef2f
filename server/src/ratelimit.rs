//! Rate limits on the public API: one token bucket per limit, site and
//! pseudonymised client; in this process, or with `redis_url` in Redis, shared
//! by every server ([`shared`]).
//!
//! A client is its /24 (IPv4) or /48 (IPv6) network, HMAC'd ([`Pseudonymiser::ip`]):
//! the raw address is neither a key nor logged, and the keys cannot be linked to
//! the pseudonyms in records. The local buckets use a key that lives only in this
//! process; the shared ones a key every server derives alike from the site's
//! secret (see [`shared`]). A request that names no known site (a visitor's
//! history, an unknown site) has no such secret and is limited by this
//! process's buckets only, with Redis or without.
//! One client flooding empties only its own bucket; everyone else keeps being
//! served. Memory stays bounded: a bucket that has refilled is the same as no
//! bucket and is dropped by a sweep, and at [`MAX_BUCKETS`] the least recently
//! used half goes (a huge distributed flood thereby resets some buckets, which
//! errs towards serving). Written by hand rather than with `governor`: the
//! keyed limiter, the eviction and `Retry-After` are about as much code around
//! `governor` as the bucket itself.
//!
//! With Redis, a check is one step of the same bucket there; when Redis does not
//! answer in time, the check is decided by this process's buckets instead: the
//! same limit, counted by this server on its own. Redis being slow or down thus
//! refuses no request for want of an answer; meanwhile a client may get the
//! limit from each server rather than once in all.

pub mod shared;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use keksdose_store::SiteMeta;

use crate::metrics::LimiterBackend;
use crate::pseudonym::{Pseudonymiser, random_token};
use crate::settings::{Limit, Settings};

/// Buckets per limit before the least recently used half is dropped.
pub const MAX_BUCKETS: usize = 65_536;
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// One limit: `per_minute` requests, up to `burst` at once.
#[derive(Debug)]
pub struct Limiter {
    limit: Limit,
    per_sec: f64,
    burst: f64,
    state: Mutex<Buckets>,
    pub rejected: AtomicU64,
}

#[derive(Debug)]
struct Buckets {
    map: HashMap<String, (f64, Instant)>,
    swept: Instant,
}

impl Limiter {
    pub fn new(limit: Limit) -> Limiter {
        Limiter {
            limit,
            per_sec: f64::from(limit.per_minute) / 60.0,
            burst: f64::from(limit.burst),
            state: Mutex::new(Buckets {
                map: HashMap::new(),
                swept: Instant::now(),
            }),
            rejected: AtomicU64::new(0),
        }
    }

    /// `per_minute = 0`: every request passes.
    fn is_off(&self) -> bool {
        self.per_sec <= 0.0
    }

    /// Takes a token from `key`'s bucket, or says in how many seconds one is back.
    pub fn check(&self, key: String, now: Instant) -> Result<(), u64> {
        if self.is_off() {
            return Ok(());
        }
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if st.map.len() >= MAX_BUCKETS || now.duration_since(st.swept) >= SWEEP_EVERY {
            self.sweep(&mut st, now);
        }
        let (tokens, at) = st.map.entry(key).or_insert((self.burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * self.per_sec).min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            return Ok(());
        }
        self.rejected.fetch_add(1, Ordering::Relaxed);
        // Whole seconds, rounded up; `as` saturates and the value is small and positive.
        Err(((1.0 - *tokens) / self.per_sec).ceil().max(1.0) as u64)
    }

    fn sweep(&self, st: &mut Buckets, now: Instant) {
        let refill = Duration::from_secs_f64(self.burst / self.per_sec);
        st.map.retain(|_, (_, at)| now.duration_since(*at) < refill);
        if st.map.len() >= MAX_BUCKETS {
            let mut ats: Vec<Instant> = st.map.values().map(|(_, at)| *at).collect();
            let mid = ats.len() / 2;
            let median = *ats.select_nth_unstable(mid).1;
            st.map.retain(|_, (_, at)| *at > median);
        }
        st.swept = now;
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.state.lock().map_or(0, |st| st.map.len())
    }
}

/// The limited routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Consents,
    History,
    Config,
}

impl Route {
    /// Its name in metrics and in Redis keys.
    pub fn name(self) -> &'static str {
        match self {
            Route::Consents => "consents",
            Route::History => "history",
            Route::Config => "config",
        }
    }
}

/// Every limit of the public API.
#[derive(Debug)]
pub struct RateLimits {
    clients: Pseudonymiser,
    pub consents: Limiter,
    pub history: Limiter,
    pub config: Limiter,
    /// The buckets in Redis, with `redis_url`.
    shared: Option<shared::Shared>,
}

impl RateLimits {
    /// The limits; with `redis_url`, shared through Redis, which is connected to
    /// in the background (a server starts whether Redis is up or not), each
    /// check waiting at most `redis_timeout_ms` for it.
    pub fn new(settings: &Settings) -> RateLimits {
        let s = &settings.rate_limits;
        let redis = settings.redis_url.as_ref();
        let shared = redis.and_then(|url| {
            match shared::Shared::start(url.expose(), settings.redis_timeout()) {
                Ok(shared) => Some(shared),
                Err(e) => {
                    // Settings::check has parsed the URL; this is the runtime failing.
                    crate::log::line(
                        "warn",
                        "rate limits: Redis not used, each server keeps its own buckets",
                        &[("error", &e)],
                    );
                    None
                }
            }
        });
        RateLimits {
            clients: Pseudonymiser::new(&random_token(32)),
            consents: Limiter::new(s.consents),
            history: Limiter::new(s.history),
            config: Limiter::new(s.config),
            shared,
        }
    }

    fn limiter(&self, route: Route) -> &Limiter {
        match route {
            Route::Consents => &self.consents,
            Route::History => &self.history,
            Route::Config => &self.config,
        }
    }

    /// Lets a request of `client` to `site` (`None` if the path names none or an
    /// unknown one) through, or answers the seconds until it may retry. Only a
    /// known site's requests go to Redis.
    pub async fn check(
        &self,
        route: Route,
        site: Option<&SiteMeta>,
        client: IpAddr,
    ) -> Result<(), u64> {
        let limiter = self.limiter(route);
        if limiter.is_off() {
            return Ok(());
        }
        if let (Some(shared), Some(site)) = (&self.shared, site)
            && let Some(answer) = shared.check(route, site, client, limiter.limit).await
        {
            if answer.is_err() {
                limiter.rejected.fetch_add(1, Ordering::Relaxed);
            }
            return answer;
        }
        let site = site.map_or("", |s| s.id.as_str());
        let key = format!("{site}\0{}", self.clients.ip(client));
        limiter.check(key, Instant::now())
    }

    /// A client's network as a keyed hash (this server's own key).
    pub fn network(&self, client: IpAddr) -> String {
        self.clients.ip(client)
    }

    /// For `/metrics`: where checks are decided, and how often Redis failed.
    pub fn backend(&self) -> LimiterBackend {
        self.shared
            .as_ref()
            .map_or_else(LimiterBackend::default, shared::Shared::backend)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::RateLimitSettings;

    #[test]
    fn a_bucket_allows_its_burst_then_refills_at_its_rate() {
        let l = Limiter::new(Limit {
            per_minute: 60,
            burst: 3,
        });
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(l.check("a".into(), t0), Ok(()));
        }
        assert_eq!(l.check("a".into(), t0), Err(1));
        assert_eq!(l.check("b".into(), t0), Ok(()), "other clients are served");
        assert_eq!(
            l.check("a".into(), t0 + Duration::from_millis(1000)),
            Ok(())
        );
        assert_eq!(l.rejected.load(Ordering::Relaxed), 1);
        let slow = Limiter::new(Limit {
            per_minute: 2,
            burst: 1,
        });
        assert_eq!(slow.check("a".into(), t0), Ok(()));
        assert_eq!(slow.check("a".into(), t0), Err(30));
        let off = Limiter::new(Limit {
            per_minute: 0,
            burst: 0,
        });
        assert!((0..1000).all(|_| off.check("a".into(), t0).is_ok()));
    }

    #[test]
    fn memory_stays_bounded_and_idle_buckets_go() {
        let l = Limiter::new(Limit {
            per_minute: 600,
            burst: 10,
        });
        let t0 = Instant::now();
        for i in 0..MAX_BUCKETS + 10 {
            let _ = l.check(i.to_string(), t0 + Duration::from_micros(i as u64));
        }
        assert!(l.len() <= MAX_BUCKETS, "{}", l.len());
        // One second refills a bucket of 10 at 10/s; a minute later all are idle.
        let _ = l.check("late".into(), t0 + Duration::from_secs(61));
        assert_eq!(l.len(), 1);
    }

    #[test]
    fn clients_in_one_network_share_a_bucket_and_sites_are_separate() {
        let limits = RateLimits::new(&Settings {
            rate_limits: RateLimitSettings {
                consents: Limit {
                    per_minute: 1,
                    burst: 1,
                },
                ..RateLimitSettings::default()
            },
            ..Settings::default()
        });
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let (a, b) = (site("a"), site("b"));
        let check = |site: &SiteMeta, client: &str| {
            block_on(limits.check(Route::Consents, Some(site), ip(client)))
        };
        assert!(check(&a, "203.0.113.7").is_ok());
        assert!(check(&a, "203.0.113.200").is_err());
        assert!(check(&b, "203.0.113.7").is_ok());
        assert!(check(&a, "198.51.100.1").is_ok());
        assert_eq!(limits.backend(), LimiterBackend::default());
    }

    #[tokio::test]
    async fn with_redis_a_request_naming_no_site_is_limited_by_this_server_alone() {
        // Redis unreachable: a known site's check falls back (counted); one
        // naming none never asks Redis, so it is no fallback.
        let settings = Settings::from_toml(
            "redis_url = \"redis://127.0.0.1:1\"\n\
             [rate_limits.history]\nper_minute = 1\nburst = 1\n\
             [rate_limits.consents]\nper_minute = 1\nburst = 1\n",
        )
        .unwrap();
        let limits = RateLimits::new(&settings);
        let client: IpAddr = "198.51.100.1".parse().unwrap();
        assert_eq!(limits.check(Route::History, None, client).await, Ok(()));
        assert_eq!(limits.check(Route::History, None, client).await, Err(60));
        assert_eq!(limits.check(Route::Consents, None, client).await, Ok(()));
        assert_eq!(limits.backend().fallbacks, 0);
        let saas = site("saas");
        assert_eq!(
            limits.check(Route::Consents, Some(&saas), client).await,
            Ok(())
        );
        assert_eq!(limits.backend().fallbacks, 1);
        assert_eq!(limits.history.rejected.load(Ordering::Relaxed), 1);
    }

    /// A site as the store holds it, with a secret of its own.
    pub(super) fn site(id: &str) -> SiteMeta {
        SiteMeta {
            id: id.into(),
            origins: Vec::new(),
            created_at: String::new(),
            key_hash: String::new(),
            secret: random_token(32),
            config_version: String::new(),
        }
    }

    /// Drives a future that needs no runtime (the local limiter never waits).
    fn block_on<T>(f: impl Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }
}
