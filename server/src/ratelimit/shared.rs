//! The buckets every server shares, in Redis (`redis_url`): each check is one
//! atomic step of a Lua script ([`BUCKET`]), so N servers behind a load balancer
//! let a client through as often as one would.
//!
//! **Keys.** A bucket is `keksdose:rl:<route>:<hash>`; nothing raw goes to Redis.
//! Every server must derive the same hash for a client, yet it must not be
//! linkable to the pseudonyms in records. For a known site the key is
//! HMAC-SHA-256(the site's secret as stored, `"keksdose ratelimit v1"`), and the
//! hash is that key's HMAC of the client's /24 or /48 network ([`Pseudonymiser::ip`]):
//! every server reads the same secret from the shared store, while the records'
//! pseudonyms are HMACs under the secret itself, so the two cannot be matched,
//! and whoever reads Redis without the store cannot test networks against the
//! hashes. Requests that name no site (a visitor's history) or an unknown one
//! use a key every server reads from Redis itself (`keksdose:rl:no-site-key`, a
//! random value set once with `SET NX`, read again every minute). That key sits
//! beside those buckets, so whoever can read Redis can test which networks made
//! such requests within the last refill period: the price of sharing that limit
//! too, documented rather than hidden. Without the key (not yet read), those
//! checks fall back as below.
//!
//! **Clock.** The script reads Redis's `TIME`: one clock for every server, so
//! their clocks' skew does not matter. A clock that steps back (a failover to a
//! replica) only pauses refilling.
//!
//! **Failure.** A check has [`CHECK_TIMEOUT`]; on an error or timeout, and while
//! Redis is known to be down, the caller decides with this server's own buckets
//! ([`super::Limiter`]), which are never stricter than the shared ones. A check
//! that fails marks Redis down (one log line, not one per request) and wakes the
//! task that reconnects; until that task has connected and run the script once,
//! checks do not wait on Redis at all. The task and the connection run on a
//! small runtime of their own, started without waiting for Redis, so a server
//! starts with Redis down and connects when it comes up. The log names Redis by
//! host:port only (the URL may hold a password).

use std::net::IpAddr;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use keksdose_store::SiteMeta;
use redis::AsyncConnectionConfig;
use redis::aio::MultiplexedConnection;
use sha2::Sha256;
use tokio::sync::Notify;

use super::Route;
use crate::metrics::LimiterBackend;
use crate::pseudonym::{Pseudonymiser, random_token};
use crate::settings::Limit;

/// How long a request waits for Redis before its own buckets decide.
pub const CHECK_TIMEOUT: Duration = Duration::from_millis(100);
/// Connecting, and each command of the reconnecting task.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// Waits between reconnection attempts, doubling from the first to the last.
const RETRY_FIRST: Duration = Duration::from_millis(250);
const RETRY_LAST: Duration = Duration::from_secs(5);
/// How often the no-site key is read again (it may have been evicted).
const REFRESH: Duration = Duration::from_secs(60);

const PREFIX: &str = "keksdose:rl:";
const NO_SITE_KEY: &str = "keksdose:rl:no-site-key";
/// What the site's secret is HMAC'd with for its rate-limit key.
const SITE_KEY_LABEL: &[u8] = b"keksdose ratelimit v1";

/// One step of a token bucket, the same as [`super::Limiter::check`]: `KEYS[1]`
/// the bucket (a hash of `tokens` and `at`, ms), `ARGV[1]` requests per minute,
/// `ARGV[2]` the burst. Returns 0 when a token was taken, else the whole
/// seconds until one is back. The key expires once the bucket would be full
/// again: an idle bucket is the same as none.
pub const BUCKET: &str = r"
if redis.replicate_commands then redis.replicate_commands() end
local per_ms = tonumber(ARGV[1]) / 60000
local burst = tonumber(ARGV[2])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local bucket = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(bucket[1]) or burst
local at = tonumber(bucket[2]) or now
if now > at then
  tokens = math.min(burst, tokens + (now - at) * per_ms)
  at = now
end
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = math.max(1, math.ceil((1 - tokens) / per_ms / 1000))
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', string.format('%d', at))
redis.call('PEXPIRE', KEYS[1], math.max(1, math.ceil((burst - tokens) / per_ms)))
return wait
";

/// Redis's state as the checks see it.
const STARTING: u8 = 0;
const UP: u8 = 1;
const DOWN: u8 = 2;

/// The shared buckets: a connection kept up by a task of its own.
pub struct Shared {
    inner: Arc<Inner>,
    handle: tokio::runtime::Handle,
    runtime: Option<tokio::runtime::Runtime>,
}

struct Inner {
    client: redis::Client,
    /// host:port, for the log.
    addr: String,
    script: redis::Script,
    /// While `state` is `UP`.
    conn: Mutex<Option<MultiplexedConnection>>,
    no_site: Mutex<Option<Arc<Pseudonymiser>>>,
    state: AtomicU8,
    /// Wakes the reconnecting task when a check found Redis gone.
    wake: Notify,
    errors: AtomicU64,
    fallbacks: AtomicU64,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("redis", &self.inner.addr)
            .field("state", &self.inner.state.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Shared {
    /// Starts connecting to `url` in the background; fails only if the URL does
    /// not parse or no runtime can be started.
    pub fn start(url: &str) -> Result<Shared, String> {
        let inner = Arc::new(Inner::new(url)?);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("keksdose-redis")
            .enable_all()
            .build()
            .map_err(|e| format!("starting the Redis runtime: {e}"))?;
        let handle = runtime.handle().clone();
        handle.spawn(keep_connected(inner.clone()));
        Ok(Shared {
            inner,
            handle,
            runtime: Some(runtime),
        })
    }

    /// One step of the shared bucket of `client` at `site` for `route`: the
    /// decision, or `None` when the caller must decide with its own buckets
    /// (Redis down, slow or failing, or no key for requests without a site).
    pub async fn check(
        &self,
        route: Route,
        site: Option<&SiteMeta>,
        client: IpAddr,
        limit: Limit,
    ) -> Option<Result<(), u64>> {
        let inner = &self.inner;
        let conn = match inner.state.load(Ordering::Acquire) {
            UP => lock(&inner.conn).clone(),
            _ => None,
        };
        let bucket = conn
            .as_ref()
            .and_then(|_| bucket(route, site, client, || lock(&inner.no_site).clone()));
        let (Some(mut conn), Some(bucket)) = (conn, bucket) else {
            inner.fallbacks.fetch_add(1, Ordering::Relaxed);
            return None;
        };
        let task = {
            let inner = inner.clone();
            self.handle.spawn(async move {
                let mut step = inner.script.key(bucket);
                step.arg(limit.per_minute).arg(limit.burst);
                tokio::time::timeout(CHECK_TIMEOUT, step.invoke_async::<u64>(&mut conn)).await
            })
        };
        let failure = match task.await {
            Ok(Ok(Ok(0))) => return Some(Ok(())),
            Ok(Ok(Ok(secs))) => return Some(Err(secs)),
            Ok(Ok(Err(e))) => e.to_string(),
            Ok(Err(_)) => format!("no answer within {} ms", CHECK_TIMEOUT.as_millis()),
            Err(e) => format!("the Redis task failed: {e}"),
        };
        inner.fallbacks.fetch_add(1, Ordering::Relaxed);
        inner.failed(&failure);
        None
    }

    /// For `/metrics`.
    pub fn backend(&self) -> LimiterBackend {
        LimiterBackend {
            redis_up: Some(self.inner.state.load(Ordering::Acquire) == UP),
            redis_errors: self.inner.errors.load(Ordering::Relaxed),
            fallbacks: self.inner.fallbacks.load(Ordering::Relaxed),
        }
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            // Nothing to flush; allowed inside an async context.
            rt.shutdown_background();
        }
    }
}

/// The Redis key of `client`'s bucket for `route` at `site`: a hash under the
/// site's rate-limit key, or under the no-site key (`None` if there is none yet).
fn bucket(
    route: Route,
    site: Option<&SiteMeta>,
    client: IpAddr,
    no_site: impl FnOnce() -> Option<Arc<Pseudonymiser>>,
) -> Option<String> {
    let hash = match site {
        Some(site) => site_key(&site.secret).ip(client),
        None => no_site()?.ip(client),
    };
    Some(format!("{PREFIX}{}:{hash}", route.name()))
}

/// HMAC-SHA-256(the site's secret, "keksdose ratelimit v1"): the same on every
/// server, and not the key of the records' pseudonyms.
fn site_key(secret: &str) -> Pseudonymiser {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(SITE_KEY_LABEL);
    let key = mac.finalize().into_bytes();
    Pseudonymiser::new(&base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        key,
    ))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Inner {
    fn new(url: &str) -> Result<Inner, String> {
        let client = redis::Client::open(url).map_err(|e| format!("redis_url: {e}"))?;
        Ok(Inner {
            addr: client.get_connection_info().addr().to_string(),
            client,
            script: redis::Script::new(BUCKET),
            conn: Mutex::new(None),
            no_site: Mutex::new(None),
            state: AtomicU8::new(STARTING),
            wake: Notify::new(),
            errors: AtomicU64::new(0),
            fallbacks: AtomicU64::new(0),
        })
    }

    /// A call to Redis failed: counted; if Redis was up, it is now down, said
    /// once in the log, and the reconnecting task is woken. Returns whether
    /// this call is the one that took it down.
    fn failed(&self, reason: &str) -> bool {
        self.errors.fetch_add(1, Ordering::Relaxed);
        if self
            .state
            .compare_exchange(UP, DOWN, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return false;
        }
        lock(&self.conn).take();
        self.unreachable(reason);
        self.wake.notify_one();
        true
    }

    fn unreachable(&self, reason: &str) {
        crate::log::line(
            "warn",
            "rate limits: Redis unreachable, falling back to per-instance buckets",
            &[("redis", &self.addr), ("error", &reason)],
        );
    }

    /// Connects, reads the no-site key and runs the script once (so that a
    /// Redis that answers PING but refuses writes stays down).
    async fn connect(&self) -> redis::RedisResult<(MultiplexedConnection, Pseudonymiser)> {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(CONNECT_TIMEOUT));
        let mut conn = self
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await?;
        let key = no_site_key(&mut conn).await?;
        let _: u64 = self
            .script
            .key(format!("{PREFIX}probe"))
            .arg(60)
            .arg(1)
            .invoke_async(&mut conn)
            .await?;
        Ok((conn, key))
    }
}

/// The key for requests without a site: set once by whichever server comes
/// first, then the same for all.
async fn no_site_key(conn: &mut MultiplexedConnection) -> redis::RedisResult<Pseudonymiser> {
    let _: redis::Value = redis::cmd("SET")
        .arg(NO_SITE_KEY)
        .arg(random_token(32))
        .arg("NX")
        .query_async(conn)
        .await?;
    let key: Option<String> = redis::cmd("GET").arg(NO_SITE_KEY).query_async(conn).await?;
    match key {
        Some(key) => Ok(Pseudonymiser::new(&key)),
        None => Err(redis::RedisError::from((
            redis::ErrorKind::Client,
            "the no-site key vanished between SET and GET",
        ))),
    }
}

/// Keeps a connection while Redis is up: connects at start and after a check
/// found Redis gone (retrying with growing waits), and reads the no-site key
/// again every [`REFRESH`].
async fn keep_connected(inner: Arc<Inner>) {
    let mut retry = RETRY_FIRST;
    loop {
        if inner.state.load(Ordering::Acquire) == UP {
            let _ = tokio::time::timeout(REFRESH, inner.wake.notified()).await;
            let conn = lock(&inner.conn).clone();
            match conn {
                Some(mut conn) if inner.state.load(Ordering::Acquire) == UP => {
                    match tokio::time::timeout(CONNECT_TIMEOUT, no_site_key(&mut conn)).await {
                        Ok(Ok(key)) => *lock(&inner.no_site) = Some(Arc::new(key)),
                        Ok(Err(e)) => {
                            inner.failed(&e.to_string());
                        }
                        Err(_) => {
                            inner.failed("no answer within 1 s");
                        }
                    }
                }
                // Taken down by a check: a short breath before reconnecting.
                _ => tokio::time::sleep(RETRY_FIRST).await,
            }
            continue;
        }
        match tokio::time::timeout(2 * CONNECT_TIMEOUT, inner.connect()).await {
            Ok(Ok((conn, key))) => {
                *lock(&inner.conn) = Some(conn);
                *lock(&inner.no_site) = Some(Arc::new(key));
                let was = inner.state.swap(UP, Ordering::AcqRel);
                let msg = if was == DOWN {
                    "rate limits: Redis is back, buckets shared again"
                } else {
                    "rate limits: buckets shared through Redis"
                };
                crate::log::info(msg, &[("redis", &inner.addr)]);
                retry = RETRY_FIRST;
            }
            failed => {
                let reason = match failed {
                    Ok(Err(e)) => e.to_string(),
                    _ => "no connection within 2 s".to_string(),
                };
                inner.errors.fetch_add(1, Ordering::Relaxed);
                if inner.state.swap(DOWN, Ordering::AcqRel) != DOWN {
                    inner.unreachable(&reason);
                }
                tokio::time::sleep(retry).await;
                retry = (retry * 2).min(RETRY_LAST);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::site;
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_bucket_key_is_the_same_on_every_server_and_unlinkable_to_records() {
        let saas = site("saas");
        let none = || None;
        let key = bucket(Route::Consents, Some(&saas), ip("203.0.113.7"), none).unwrap();
        // Another server derives it from the same stored secret, for the same network.
        assert_eq!(
            bucket(Route::Consents, Some(&saas), ip("203.0.113.99"), none),
            Some(key.clone())
        );
        let (prefix, hash) = key.rsplit_once(':').unwrap();
        assert_eq!(prefix, "keksdose:rl:consents");
        assert_eq!(hash.len(), 64);
        assert!(hash.bytes().all(|b| b.is_ascii_hexdigit()), "{key}");
        // Not the record's pseudonym of that network, nor another site's key.
        let record = Pseudonymiser::new(&saas.secret).ip(ip("203.0.113.7"));
        assert_ne!(hash, record);
        let other = bucket(
            Route::Consents,
            Some(&site("saas")),
            ip("203.0.113.7"),
            none,
        );
        assert_ne!(other, Some(key.clone()), "another secret, another key");
        assert_ne!(
            bucket(Route::Config, Some(&saas), ip("203.0.113.7"), none),
            Some(key)
        );
        // Without a site: the shared no-site key, or no shared bucket at all.
        assert_eq!(bucket(Route::History, None, ip("203.0.113.7"), none), None);
        let no_site = Arc::new(Pseudonymiser::new(&random_token(32)));
        let history = bucket(Route::History, None, ip("203.0.113.7"), || {
            Some(no_site.clone())
        })
        .unwrap();
        assert!(history.starts_with("keksdose:rl:history:"), "{history}");
        assert!(!history.contains("203.0.113"), "{history}");
    }

    #[test]
    fn a_failure_takes_redis_down_once_and_wakes_the_reconnection() {
        let inner = Inner::new("redis://:secret@127.0.0.1:1").unwrap();
        assert_eq!(inner.addr, "127.0.0.1:1", "host:port only, no password");
        assert!(
            !inner.failed("while starting"),
            "not up, nothing to take down"
        );
        inner.state.store(UP, Ordering::Release);
        assert!(inner.failed("refused"));
        assert!(!inner.failed("refused"), "already down: no second log line");
        assert_eq!(inner.state.load(Ordering::Acquire), DOWN);
        assert_eq!(inner.errors.load(Ordering::Relaxed), 3);
        assert!(lock(&inner.conn).is_none());
    }

    #[tokio::test]
    async fn with_redis_unreachable_every_check_falls_back_and_is_counted() {
        let shared = Shared::start("redis://127.0.0.1:1").unwrap();
        let limit = Limit {
            per_minute: 1,
            burst: 1,
        };
        let saas = site("saas");
        // While starting and once down alike: no decision, the caller's buckets decide.
        for _ in 0..50 {
            let answer = shared
                .check(Route::Consents, Some(&saas), ip("203.0.113.7"), limit)
                .await;
            assert_eq!(answer, None);
        }
        // The reconnecting task found it down: said so, and counted its attempt.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while shared.backend().redis_errors == 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "no connection attempt"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let backend = shared.backend();
        assert_eq!(backend.redis_up, Some(false));
        assert_eq!(backend.fallbacks, 50);
    }

    /// `KEKSDOSE_TEST_REDIS` (a Redis URL): the script against a real Redis, and
    /// two "servers" sharing one bucket.
    fn redis_url() -> Option<String> {
        let url = std::env::var("KEKSDOSE_TEST_REDIS").ok();
        if url.is_none() {
            eprintln!("SKIPPED: KEKSDOSE_TEST_REDIS is not set (a Redis URL)");
        }
        url
    }

    async fn until_up(shared: &Shared) {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while shared.backend().redis_up != Some(true) {
            assert!(
                std::time::Instant::now() < deadline,
                "Redis did not come up"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    #[tokio::test]
    async fn the_script_is_the_local_bucket_with_one_clock_for_all_servers() {
        let Some(url) = redis_url() else { return };
        let client = redis::Client::open(url.as_str()).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        let script = redis::Script::new(BUCKET);
        let key = format!("{PREFIX}test:{}", random_token(12));
        let mut answers = Vec::new();
        for _ in 0..4 {
            let wait: u64 = script
                .key(&key)
                .arg(60)
                .arg(3)
                .invoke_async(&mut conn)
                .await
                .unwrap();
            answers.push(wait);
        }
        assert_eq!(answers, [0, 0, 0, 1], "a burst of 3, then a second's wait");
        let ttl: i64 = redis::cmd("PTTL")
            .arg(&key)
            .query_async(&mut conn)
            .await
            .unwrap();
        // Empty at 1/s: full again in at most 3 s, and then gone.
        assert!((1..=3000).contains(&ttl), "{ttl}");
        let slow = format!("{PREFIX}test:{}", random_token(12));
        let waits: Vec<u64> = futures_util::future::join_all((0..2).map(|_| {
            let mut conn = conn.clone();
            let (script, slow) = (&script, &slow);
            async move {
                script
                    .key(slow)
                    .arg(2)
                    .arg(1)
                    .invoke_async(&mut conn)
                    .await
                    .unwrap()
            }
        }))
        .await;
        let mut sorted = waits.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, [0, 30], "2/min: one now, the next in 30 s");
        let _: () = redis::cmd("DEL")
            .arg(&key)
            .arg(&slow)
            .query_async(&mut conn)
            .await
            .unwrap();

        // Two servers, one site: what one takes, the other cannot.
        let (a, b) = (Shared::start(&url).unwrap(), Shared::start(&url).unwrap());
        until_up(&a).await;
        until_up(&b).await;
        let saas = site("saas");
        let limit = Limit {
            per_minute: 1,
            burst: 2,
        };
        let client = ip("203.0.113.7");
        let mut answers = Vec::new();
        for server in [&a, &b, &a, &b] {
            answers.push(
                server
                    .check(Route::Consents, Some(&saas), client, limit)
                    .await,
            );
        }
        assert_eq!(
            answers,
            [Some(Ok(())), Some(Ok(())), Some(Err(60)), Some(Err(60))]
        );
        // The visitor's history names no site: the shared no-site key.
        let history = Limit {
            per_minute: 60,
            burst: 1,
        };
        let other = ip("198.51.100.1");
        assert_eq!(
            a.check(Route::History, None, other, history).await,
            Some(Ok(()))
        );
        assert_eq!(
            b.check(Route::History, None, other, history).await,
            Some(Err(1))
        );
        assert_eq!(a.backend().fallbacks + b.backend().fallbacks, 0);
    }
}
