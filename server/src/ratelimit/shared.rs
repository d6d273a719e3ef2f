//! The buckets every server shares, in Redis (`redis_url`): each check is one
//! atomic step of a Lua script ([`BUCKET`]), so N servers behind a load balancer
//! let a client through as often as one would.
//!
//! **Keys.** A bucket is `keksdose:rl:<route>:<hash>`; nothing raw goes to Redis.
//! Every server must derive the same hash for a client, yet it must not be
//! linkable to the pseudonyms in records. The key is HMAC-SHA-256(the site's
//! secret as stored, `"keksdose ratelimit v1"`), and the hash is that key's HMAC
//! of the client's /24 or /48 network ([`Pseudonymiser::ip`]): every server reads
//! the same secret from the shared store, while the records' pseudonyms are HMACs
//! under the secret itself, so the two cannot be matched, and whoever reads
//! Redis without the store cannot test networks against the hashes. Only
//! requests to a known site come here: one that names no site (a visitor's
//! history) or an unknown one has no secret to derive a key from, and a key kept
//! in Redis itself would let whoever reads Redis test all 2^24 networks against
//! its buckets. Those are limited per server ([`super::RateLimits::check`]).
//!
//! **Clock.** The script reads Redis's `TIME`: one clock for every server, so
//! their clocks' skew does not matter. A clock that steps back (a failover to a
//! replica) only pauses refilling.
//!
//! **Failure.** A request waits at most `redis_timeout_ms` for its check: the
//! step runs as a task on this module's runtime, and the request's own timer
//! aborts it, so the wait is bounded even when that runtime is starved. On an
//! error or timeout, and while Redis is known to be down, the caller decides
//! with this server's own buckets ([`super::Limiter`]). One late or failed
//! answer leaves the connection alone (a slow Redis is not a dead one);
//! [`STRIKES`] in a row, or a connection error at once, mark Redis down (one log
//! line, not one per request), drop the connection and wake the task that
//! reconnects; until that task has connected and run the script once, checks
//! do not wait on Redis at all. Each connection has a generation, and a check's
//! failure counts against its own connection only, so a check still running on
//! a dropped connection cannot take down the next. The waits between attempts
//! double from [`RETRY_FIRST`] to [`RETRY_LAST`] and start over only after a
//! connection has stayed up [`STABLE`]: a Redis that keeps failing shortly after
//! each reconnection is retried ever more slowly rather than every second. The
//! task and the connection run on a small runtime of their own, started without
//! waiting for Redis, so a server starts with Redis down and connects when it
//! comes up. The log names Redis by host:port only (the URL may hold a
//! password).

use std::net::IpAddr;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use hmac::{Hmac, KeyInit, Mac};
use keksdose_store::SiteMeta;
use redis::AsyncConnectionConfig;
use redis::aio::MultiplexedConnection;
use sha2::Sha256;
use tokio::sync::Notify;

use super::Route;
use crate::metrics::LimiterBackend;
use crate::pseudonym::Pseudonymiser;
use crate::settings::Limit;

/// Checks in a row that failed or came late before Redis counts as down.
pub const STRIKES: u32 = 3;
/// Connecting, and running the script once on the new connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// Waits between connection attempts, doubling from the first to the last.
const RETRY_FIRST: Duration = Duration::from_millis(250);
const RETRY_LAST: Duration = Duration::from_secs(5);
/// How long a connection must stay up for the waits to start over.
const STABLE: Duration = Duration::from_secs(30);

const PREFIX: &str = "keksdose:rl:";
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
    /// How long a check waits for Redis.
    timeout: Duration,
    handle: tokio::runtime::Handle,
    runtime: Option<tokio::runtime::Runtime>,
}

struct Inner {
    client: redis::Client,
    /// host:port, for the log.
    addr: String,
    script: redis::Script,
    /// While `state` is `UP`, the connection; changed together with `state`.
    live: Mutex<Option<Live>>,
    state: AtomicU8,
    /// Wakes the reconnecting task when a check took Redis down.
    wake: Notify,
    errors: AtomicU64,
    fallbacks: AtomicU64,
}

/// The connection the checks use.
struct Live {
    conn: MultiplexedConnection,
    /// Counts connections made: a failure on an older one is not this one's.
    generation: u64,
    /// Checks on this connection that failed or came late, in a row.
    strikes: u32,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("redis", &self.inner.addr)
            .field("state", &self.inner.state.load(Ordering::Relaxed))
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Shared {
    /// Starts connecting to `url` in the background, checks waiting `timeout`
    /// for Redis; fails only if the URL does not parse or no runtime can be
    /// started.
    pub fn start(url: &str, timeout: Duration) -> Result<Shared, String> {
        let shared = Shared::new(url, timeout)?;
        shared.handle.spawn(keep_connected(shared.inner.clone()));
        Ok(shared)
    }

    /// The runtime, without the task that connects.
    fn new(url: &str, timeout: Duration) -> Result<Shared, String> {
        let inner = Arc::new(Inner::new(url)?);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("keksdose-redis")
            .enable_all()
            .build()
            .map_err(|e| format!("starting the Redis runtime: {e}"))?;
        Ok(Shared {
            inner,
            timeout,
            handle: runtime.handle().clone(),
            runtime: Some(runtime),
        })
    }

    /// One step of the shared bucket of `client` at `site` for `route`: the
    /// decision, or `None` when the caller must decide with its own buckets
    /// (Redis down, slow or failing). Needs a runtime with timers (the
    /// caller's: the wait is bounded there).
    pub async fn check(
        &self,
        route: Route,
        site: &SiteMeta,
        client: IpAddr,
        limit: Limit,
    ) -> Option<Result<(), u64>> {
        let inner = &self.inner;
        let live = match inner.state.load(Ordering::Acquire) {
            UP => lock(&inner.live)
                .as_ref()
                .map(|l| (l.conn.clone(), l.generation)),
            _ => None,
        };
        let Some((mut conn, generation)) = live else {
            inner.fallbacks.fetch_add(1, Ordering::Relaxed);
            return None;
        };
        let key = bucket(route, site, client);
        let mut task = AbortOnDrop({
            let inner = inner.clone();
            self.handle.spawn(async move {
                let mut step = inner.script.key(key);
                step.arg(limit.per_minute).arg(limit.burst);
                step.invoke_async::<u64>(&mut conn).await
            })
        });
        let (failure, broken) = match tokio::time::timeout(self.timeout, &mut task.0).await {
            Ok(Ok(Ok(wait))) => {
                inner.answered(generation);
                return Some(if wait == 0 { Ok(()) } else { Err(wait) });
            }
            Ok(Ok(Err(e))) => (
                e.to_string(),
                e.is_unrecoverable_error() || e.is_connection_dropped(),
            ),
            Ok(Err(e)) => (format!("the Redis task failed: {e}"), false),
            Err(_) => {
                task.0.abort();
                (
                    format!("no answer within {} ms", self.timeout.as_millis()),
                    false,
                )
            }
        };
        inner.fallbacks.fetch_add(1, Ordering::Relaxed);
        inner.failed(generation, &failure, broken);
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

/// A check's step in Redis, aborted when dropped: a check that timed out, or
/// whose request went away, leaves nothing waiting on the connection.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The Redis key of `client`'s bucket for `route` at `site`: a hash under the
/// site's rate-limit key.
fn bucket(route: Route, site: &SiteMeta, client: IpAddr) -> String {
    let hash = site_key(&site.secret).ip(client);
    format!("{PREFIX}{}:{hash}", route.name())
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
            live: Mutex::new(None),
            state: AtomicU8::new(STARTING),
            wake: Notify::new(),
            errors: AtomicU64::new(0),
            fallbacks: AtomicU64::new(0),
        })
    }

    /// Connection `generation` answered a check: its strikes start over.
    fn answered(&self, generation: u64) {
        if let Some(live) = lock(&self.live).as_mut()
            && live.generation == generation
        {
            live.strikes = 0;
        }
    }

    /// A check on connection `generation` failed (`broken`: the connection is
    /// gone) or came late: counted, and a strike against that connection if it
    /// is still the one in use. The last strike, or a broken connection, takes
    /// Redis down: the connection is dropped, it is said once in the log, and
    /// the reconnecting task is woken. Returns whether this call took it down.
    fn failed(&self, generation: u64, reason: &str, broken: bool) -> bool {
        self.errors.fetch_add(1, Ordering::Relaxed);
        let mut live = lock(&self.live);
        match live.as_mut() {
            Some(l) if l.generation == generation => {
                l.strikes += 1;
                if !broken && l.strikes < STRIKES {
                    return false;
                }
            }
            // Already down, or an older connection: not the current one's fault.
            _ => return false,
        }
        *live = None;
        self.state.store(DOWN, Ordering::Release);
        drop(live);
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

    /// Connects and runs the script once (so that a Redis that answers PING
    /// but refuses writes stays down). Requests on the connection have no
    /// timeout of their own: each check's caller bounds its wait.
    async fn connect(&self) -> redis::RedisResult<MultiplexedConnection> {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(None);
        let mut conn = self
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await?;
        let _: u64 = self
            .script
            .key(format!("{PREFIX}probe"))
            .arg(60)
            .arg(1)
            .invoke_async(&mut conn)
            .await?;
        Ok(conn)
    }
}

/// The waits between connection attempts.
#[derive(Debug)]
struct Backoff {
    next: Duration,
}

impl Backoff {
    fn new() -> Backoff {
        Backoff { next: RETRY_FIRST }
    }

    /// The wait before the next attempt; the one after is twice as long, up to
    /// [`RETRY_LAST`].
    fn wait(&mut self) -> Duration {
        let wait = self.next;
        self.next = (wait * 2).min(RETRY_LAST);
        wait
    }

    /// A connection was up for `up` before it failed: only one that stayed up
    /// [`STABLE`] starts the waits over.
    fn was_up(&mut self, up: Duration) {
        if up >= STABLE {
            self.next = RETRY_FIRST;
        }
    }
}

/// Keeps a connection while Redis is up: connects at start and after a check
/// took Redis down, waiting longer between attempts ([`Backoff`]).
async fn keep_connected(inner: Arc<Inner>) {
    let mut backoff = Backoff::new();
    let mut generation = 0;
    loop {
        match tokio::time::timeout(2 * CONNECT_TIMEOUT, inner.connect()).await {
            Ok(Ok(conn)) => {
                generation += 1;
                let was = {
                    let mut live = lock(&inner.live);
                    *live = Some(Live {
                        conn,
                        generation,
                        strikes: 0,
                    });
                    inner.state.swap(UP, Ordering::AcqRel)
                };
                let msg = if was == DOWN {
                    "rate limits: Redis is back, buckets shared again"
                } else {
                    "rate limits: buckets shared through Redis"
                };
                crate::log::info(msg, &[("redis", &inner.addr)]);
                let since = Instant::now();
                // A permit left from earlier only makes this look again.
                while inner.state.load(Ordering::Acquire) == UP {
                    inner.wake.notified().await;
                }
                backoff.was_up(since.elapsed());
            }
            failed => {
                let reason = match failed {
                    Ok(Err(e)) => e.to_string(),
                    _ => format!("no connection within {} s", (2 * CONNECT_TIMEOUT).as_secs()),
                };
                inner.errors.fetch_add(1, Ordering::Relaxed);
                if inner.state.swap(DOWN, Ordering::AcqRel) != DOWN {
                    inner.unreachable(&reason);
                }
            }
        }
        tokio::time::sleep(backoff.wait()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::site;
    use super::*;
    use crate::pseudonym::random_token;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// An address no earlier run used: buckets in a shared Redis outlive a run.
    fn random_ip() -> IpAddr {
        let mut b = [0u8; 16];
        getrandom::fill(&mut b).unwrap();
        IpAddr::from(b)
    }

    #[test]
    fn a_bucket_key_is_the_same_on_every_server_and_unlinkable_to_records() {
        let saas = site("saas");
        let key = bucket(Route::Consents, &saas, ip("203.0.113.7"));
        // Another server derives it from the same stored secret, for the same network.
        assert_eq!(bucket(Route::Consents, &saas, ip("203.0.113.99")), key);
        let (prefix, hash) = key.rsplit_once(':').unwrap();
        assert_eq!(prefix, "keksdose:rl:consents");
        assert_eq!(hash.len(), 64);
        assert!(hash.bytes().all(|b| b.is_ascii_hexdigit()), "{key}");
        assert!(!key.contains("203.0.113"), "{key}");
        // Not the record's pseudonym of that network, nor another site's key.
        let record = Pseudonymiser::new(&saas.secret).ip(ip("203.0.113.7"));
        assert_ne!(hash, record);
        let other = bucket(Route::Consents, &site("saas"), ip("203.0.113.7"));
        assert_ne!(other, key, "another secret, another key");
        assert_ne!(bucket(Route::Config, &saas, ip("203.0.113.7")), key);
    }

    /// `inner` as the reconnecting task leaves it: up on `conn`, its
    /// connection number `generation`.
    fn install(inner: &Inner, conn: MultiplexedConnection, generation: u64) {
        *lock(&inner.live) = Some(Live {
            conn,
            generation,
            strikes: 0,
        });
        inner.state.store(UP, Ordering::Release);
    }

    #[tokio::test]
    async fn late_answers_take_redis_down_after_three_in_a_row_a_lost_connection_at_once() {
        let inner = Inner::new("redis://:secret@127.0.0.1:1").unwrap();
        let (conn, _listener) = silent().await;
        let up = |generation| install(&inner, conn.clone(), generation);
        assert_eq!(inner.addr, "127.0.0.1:1", "host:port only, no password");
        assert!(
            !inner.failed(0, "while starting", false),
            "not up, nothing to take down"
        );
        up(1);
        // Two late answers, then one in time: the strikes start over.
        assert!(!inner.failed(1, "no answer within 100 ms", false));
        assert!(!inner.failed(1, "no answer within 100 ms", false));
        inner.answered(1);
        assert!(!inner.failed(1, "no answer within 100 ms", false));
        assert!(!inner.failed(1, "no answer within 100 ms", false));
        assert_eq!(
            inner.state.load(Ordering::Acquire),
            UP,
            "a slow Redis is not a dead one"
        );
        assert!(lock(&inner.live).is_some(), "and keeps its connection");
        assert!(
            inner.failed(1, "no answer within 100 ms", false),
            "the third in a row"
        );
        assert!(
            !inner.failed(1, "refused", true),
            "already down: no second log line"
        );
        assert_eq!(inner.state.load(Ordering::Acquire), DOWN);
        assert!(lock(&inner.live).is_none());
        assert_eq!(inner.errors.load(Ordering::Relaxed), 7);

        // A broken connection takes it down at once; failures of the one
        // before never touch a newer one, however many.
        up(2);
        for _ in 0..2 * STRIKES {
            assert!(!inner.failed(1, "connection reset", true));
        }
        inner.answered(1);
        assert_eq!(inner.state.load(Ordering::Acquire), UP);
        assert_eq!(lock(&inner.live).as_ref().map(|l| l.strikes), Some(0));
        assert!(inner.failed(2, "connection reset", true));
        assert_eq!(inner.state.load(Ordering::Acquire), DOWN);
    }

    /// A connection whose Redis hangs: the listener accepts and never answers
    /// (a RESP2 connection sends nothing before the first command).
    async fn silent() -> (MultiplexedConnection, tokio::net::TcpListener) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("redis://{}", listener.local_addr().unwrap());
        let info = redis::IntoConnectionInfo::into_connection_info(url).unwrap();
        // No CLIENT SETINFO at connecting: this Redis answers nothing at all.
        let quiet = info.redis_settings().clone().set_skip_set_lib_name();
        let client = redis::Client::open(info.set_redis_settings(quiet)).unwrap();
        let config = AsyncConnectionConfig::new().set_response_timeout(None);
        let conn = client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .unwrap();
        (conn, listener)
    }

    #[test]
    fn the_waits_between_attempts_start_over_only_after_a_stable_connection() {
        let mut b = Backoff::new();
        let waits: Vec<u64> = (0..7).map(|_| b.wait().as_millis() as u64).collect();
        assert_eq!(waits, [250, 500, 1000, 2000, 4000, 5000, 5000]);
        // Up for a few seconds, then down again: no faster than before.
        b.was_up(Duration::from_secs(3));
        assert_eq!(b.wait(), RETRY_LAST);
        b.was_up(STABLE);
        assert_eq!(b.wait(), RETRY_FIRST);
        assert_eq!(b.wait(), 2 * RETRY_FIRST);
    }

    #[tokio::test]
    async fn with_redis_unreachable_every_check_falls_back_and_is_counted() {
        let shared = Shared::start("redis://127.0.0.1:1", Duration::from_millis(100)).unwrap();
        let limit = Limit {
            per_minute: 1,
            burst: 1,
        };
        let saas = site("saas");
        // While starting and once down alike: no decision, the caller's buckets decide.
        for _ in 0..50 {
            let answer = shared
                .check(Route::Consents, &saas, ip("203.0.113.7"), limit)
                .await;
            assert_eq!(answer, None);
        }
        // The reconnecting task found it down: said so, and counted its attempt.
        let deadline = Instant::now() + Duration::from_secs(10);
        while shared.backend().redis_errors == 0 {
            assert!(Instant::now() < deadline, "no connection attempt");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let backend = shared.backend();
        assert_eq!(backend.redis_up, Some(false));
        assert_eq!(backend.fallbacks, 50);
    }

    /// A `Shared` as if its task had connected it to `conn`, with a
    /// `timeout` per check.
    fn connected_to(conn: MultiplexedConnection, timeout: Duration) -> Shared {
        let shared = Shared::new("redis://127.0.0.1:1", timeout).unwrap();
        install(&shared.inner, conn, 0);
        shared
    }

    #[tokio::test]
    async fn a_check_waits_its_budget_even_when_the_redis_runtime_is_starved() {
        let (conn, _listener) = silent().await;
        let budget = Duration::from_millis(50);
        let shared = connected_to(conn, budget);
        let limit = Limit {
            per_minute: 1,
            burst: 1,
        };
        let saas = site("saas");
        // A Redis that hangs: each check gives up after its budget; three
        // strikes and the connection is dropped.
        for i in 1..=STRIKES {
            let t0 = Instant::now();
            let answer = shared
                .check(Route::Consents, &saas, random_ip(), limit)
                .await;
            assert_eq!(answer, None);
            let waited = t0.elapsed();
            assert!(
                waited >= budget && waited < Duration::from_secs(1),
                "{waited:?}"
            );
            assert_eq!(shared.backend().redis_up, Some(i < STRIKES), "after {i}");
        }
        assert_eq!(shared.backend().fallbacks, u64::from(STRIKES));

        // The Redis runtime's one worker is blocked: the step never even
        // starts, yet the request waits no longer than its budget.
        let (conn, _listener) = silent().await;
        let shared = connected_to(conn, budget);
        let (blocked, unblock) = std::sync::mpsc::channel::<()>();
        shared.handle.spawn(async move {
            let _ = unblock.recv_timeout(Duration::from_secs(10));
        });
        let t0 = Instant::now();
        let answer = shared
            .check(Route::Consents, &saas, random_ip(), limit)
            .await;
        let waited = t0.elapsed();
        drop(blocked);
        assert_eq!(answer, None);
        assert!(
            waited < Duration::from_secs(2),
            "{waited:?}: bounded by the request's own timer"
        );
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
        let deadline = Instant::now() + Duration::from_secs(10);
        while shared.backend().redis_up != Some(true) {
            assert!(Instant::now() < deadline, "Redis did not come up");
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

        // Two servers, one site: what one takes, the other cannot. A budget
        // that a busy machine does not miss: this counts exact outcomes.
        let budget = Duration::from_secs(2);
        let (a, b) = (
            Shared::start(&url, budget).unwrap(),
            Shared::start(&url, budget).unwrap(),
        );
        until_up(&a).await;
        until_up(&b).await;
        let saas = site("saas");
        let limit = Limit {
            per_minute: 1,
            burst: 2,
        };
        let client = random_ip();
        let mut answers = Vec::new();
        for server in [&a, &b, &a, &b] {
            answers.push(server.check(Route::Consents, &saas, client, limit).await);
        }
        assert_eq!(
            answers,
            [Some(Ok(())), Some(Ok(())), Some(Err(60)), Some(Err(60))]
        );
        // Another network of the same site has its own bucket.
        assert_eq!(
            b.check(Route::Consents, &saas, random_ip(), limit).await,
            Some(Ok(()))
        );
        assert_eq!(a.backend().fallbacks + b.backend().fallbacks, 0);
    }
}
