//! Rate limits on the public API: one token bucket per limit, site and
//! pseudonymised client.
//!
//! A client is its /24 (IPv4) or /48 (IPv6) network, HMAC'd with a key that lives
//! only in this process ([`Pseudonymiser::ip`]): the raw address is neither a map
//! key nor logged, and the keys cannot be linked to the pseudonyms in records.
//! One client flooding empties only its own bucket; everyone else keeps being
//! served. Memory stays bounded: a bucket that has refilled is the same as no
//! bucket and is dropped by a sweep, and at [`MAX_BUCKETS`] the least recently
//! used half goes (a huge distributed flood thereby resets some buckets, which
//! errs towards serving). Written by hand rather than with `governor`: the
//! keyed limiter, the eviction and `Retry-After` are about as much code around
//! `governor` as the bucket itself.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::pseudonym::{Pseudonymiser, random_token};
use crate::settings::{Limit, RateLimitSettings};

/// Buckets per limit before the least recently used half is dropped.
pub const MAX_BUCKETS: usize = 65_536;
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// One limit: `per_minute` requests, up to `burst` at once.
#[derive(Debug)]
pub struct Limiter {
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
            per_sec: f64::from(limit.per_minute) / 60.0,
            burst: f64::from(limit.burst),
            state: Mutex::new(Buckets {
                map: HashMap::new(),
                swept: Instant::now(),
            }),
            rejected: AtomicU64::new(0),
        }
    }

    /// Takes a token from `key`'s bucket, or says in how many seconds one is back.
    pub fn check(&self, key: String, now: Instant) -> Result<(), u64> {
        if self.per_sec <= 0.0 {
            return Ok(()); // "off"
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

/// Every limit of the public API.
#[derive(Debug)]
pub struct RateLimits {
    clients: Pseudonymiser,
    pub consents: Limiter,
    pub history: Limiter,
    pub config: Limiter,
}

impl RateLimits {
    pub fn new(s: &RateLimitSettings) -> RateLimits {
        RateLimits {
            clients: Pseudonymiser::new(&random_token(32)),
            consents: Limiter::new(s.consents),
            history: Limiter::new(s.history),
            config: Limiter::new(s.config),
        }
    }

    /// Lets a request of `client` to `site` (empty if none or unknown) through, or
    /// answers the seconds until it may retry.
    pub fn check(&self, route: Route, site: &str, client: IpAddr) -> Result<(), u64> {
        let limiter = match route {
            Route::Consents => &self.consents,
            Route::History => &self.history,
            Route::Config => &self.config,
        };
        let key = format!("{site}\0{}", self.clients.ip(client));
        limiter.check(key, Instant::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let limits = RateLimits::new(&RateLimitSettings {
            consents: Limit {
                per_minute: 1,
                burst: 1,
            },
            ..RateLimitSettings::default()
        });
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(
            limits
                .check(Route::Consents, "a", ip("203.0.113.7"))
                .is_ok()
        );
        assert!(
            limits
                .check(Route::Consents, "a", ip("203.0.113.200"))
                .is_err()
        );
        assert!(
            limits
                .check(Route::Consents, "b", ip("203.0.113.7"))
                .is_ok()
        );
        assert!(
            limits
                .check(Route::Consents, "a", ip("198.51.100.1"))
                .is_ok()
        );
    }
}
