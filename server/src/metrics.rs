//! The figures behind `GET /metrics`, in Prometheus' text format (written by
//! hand: a few counters and histograms do not need a client library).
//!
//! Two sources: the HTTP layer counts requests and latencies per route template
//! (never per path, so labels stay few and carry no IDs), and the store's writer
//! reports each group commit ([`STORE`]). Values are process-wide atomics; they
//! start at zero with every process, as Prometheus expects of counters.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// A histogram with fixed upper bounds; counts are per bucket, summed on output.
#[derive(Debug)]
pub struct Histogram<const N: usize> {
    bounds: [f64; N],
    counts: [AtomicU64; N],
    above: AtomicU64,
    sum_bits: AtomicU64,
}

impl<const N: usize> Histogram<N> {
    pub const fn new(bounds: [f64; N]) -> Self {
        Histogram {
            bounds,
            counts: [const { AtomicU64::new(0) }; N],
            above: AtomicU64::new(0),
            sum_bits: AtomicU64::new(0),
        }
    }

    pub fn observe(&self, v: f64) {
        match self.bounds.iter().position(|b| v <= *b) {
            Some(i) => self.counts[i].fetch_add(1, Relaxed),
            None => self.above.fetch_add(1, Relaxed),
        };
        // An f64 sum in an AtomicU64; the closure always returns Some.
        let _ = self.sum_bits.fetch_update(Relaxed, Relaxed, |bits| {
            Some((f64::from_bits(bits) + v).to_bits())
        });
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        let mut total = 0;
        for (bound, count) in self.bounds.iter().zip(&self.counts) {
            total += count.load(Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {total}");
        }
        total += self.above.load(Relaxed);
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {total}");
        let sum = f64::from_bits(self.sum_bits.load(Relaxed));
        let braces = |l: &str| {
            if l.is_empty() {
                String::new()
            } else {
                format!("{{{l}}}")
            }
        };
        let _ = writeln!(out, "{name}_sum{} {sum}", braces(labels));
        let _ = writeln!(out, "{name}_count{} {total}", braces(labels));
    }
}

const LATENCY_BOUNDS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// What the store's writer reports after each successful group commit.
#[derive(Debug)]
pub struct StoreMetrics {
    pub records_appended: AtomicU64,
    /// Jobs (requests) that shared one journal write and `fdatasync`.
    pub batch_size: Histogram<11>,
    /// The journal write and its `fdatasync`, in seconds.
    pub sync_seconds: Histogram<12>,
}

pub static STORE: StoreMetrics = StoreMetrics {
    records_appended: AtomicU64::new(0),
    batch_size: Histogram::new([
        1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 1024.0, 4096.0,
    ]),
    sync_seconds: Histogram::new([
        0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
    ]),
};

impl StoreMetrics {
    /// One group commit: `jobs` answered, `records` of them new ledger records,
    /// after a journal write and sync that took `sync`.
    pub fn committed(&self, jobs: usize, records: usize, sync: Duration) {
        self.records_appended.fetch_add(records as u64, Relaxed);
        self.batch_size.observe(jobs as f64);
        self.sync_seconds.observe(sync.as_secs_f64());
    }
}

/// Per route template: answers by status class, and latencies.
#[derive(Debug, Default)]
pub struct HttpMetrics {
    routes: Mutex<BTreeMap<String, RouteStats>>,
}

#[derive(Debug)]
struct RouteStats {
    /// 1xx..5xx
    classes: [u64; 5],
    latency: Histogram<12>,
}

pub static HTTP: HttpMetrics = HttpMetrics {
    routes: Mutex::new(BTreeMap::new()),
};

impl HttpMetrics {
    /// One answered request; `route` is a template such as `/v1/sites/{site}/config`.
    pub fn observe(&self, route: &str, status: u16, latency: Duration) {
        let mut routes = self.routes.lock().unwrap_or_else(|p| p.into_inner());
        if !routes.contains_key(route) {
            routes.insert(
                route.to_string(),
                RouteStats {
                    classes: [0; 5],
                    latency: Histogram::new(LATENCY_BOUNDS),
                },
            );
        }
        if let Some(r) = routes.get_mut(route) {
            let class = usize::from(status / 100).clamp(1, 5) - 1;
            r.classes[class] += 1;
            r.latency.observe(latency.as_secs_f64());
        }
    }
}

/// Where the rate limits are decided, as the limiter reports it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LimiterBackend {
    /// Without `redis_url`, `None`; else whether Redis takes the checks now.
    pub redis_up: Option<bool>,
    /// Calls to Redis (checks and connection attempts) that failed or timed out.
    pub redis_errors: u64,
    /// Checks of a known site decided by this instance's own buckets although
    /// `redis_url` is set (those naming no site always are, and are not counted).
    pub fallbacks: u64,
}

/// Everything, in the text exposition format (version 0.0.4).
pub fn render(rate_limited: &[(&str, u64)], limiter: LimiterBackend) -> String {
    let mut out = String::new();
    let routes = HTTP.routes.lock().unwrap_or_else(|p| p.into_inner());
    out.push_str(
        "# HELP keksdose_http_requests_total HTTP requests answered, by route template and status class.\n\
         # TYPE keksdose_http_requests_total counter\n",
    );
    for (route, stats) in routes.iter() {
        for (i, n) in stats.classes.iter().enumerate().filter(|(_, n)| **n > 0) {
            let _ = writeln!(
                out,
                "keksdose_http_requests_total{{route=\"{}\",status=\"{}xx\"}} {n}",
                escape(route),
                i + 1
            );
        }
    }
    out.push_str(
        "# HELP keksdose_http_request_duration_seconds Time from request to response head, by route template.\n\
         # TYPE keksdose_http_request_duration_seconds histogram\n",
    );
    for (route, stats) in routes.iter() {
        let labels = format!("route=\"{}\"", escape(route));
        stats
            .latency
            .render(&mut out, "keksdose_http_request_duration_seconds", &labels);
    }
    drop(routes);
    out.push_str(
        "# HELP keksdose_rate_limited_total Requests refused with 429, by limit.\n\
         # TYPE keksdose_rate_limited_total counter\n",
    );
    for (limit, n) in rate_limited {
        let _ = writeln!(out, "keksdose_rate_limited_total{{limit=\"{limit}\"}} {n}");
    }
    let shared = u8::from(limiter.redis_up == Some(true));
    let _ = writeln!(
        out,
        "# HELP keksdose_ratelimit_backend Where rate limits are decided now (1): \"redis\", buckets shared by every server, or \"local\", this server's own; with redis_url set and Redis unreachable the limiter falls back to per-instance buckets. A visitor's history, which names no site, is limited per server either way.\n\
         # TYPE keksdose_ratelimit_backend gauge\n\
         keksdose_ratelimit_backend{{backend=\"redis\"}} {shared}\n\
         keksdose_ratelimit_backend{{backend=\"local\"}} {}",
        1 - shared
    );
    if limiter.redis_up.is_some() {
        let _ = writeln!(
            out,
            "# HELP keksdose_ratelimit_redis_errors_total Calls to Redis (checks and connection attempts) that failed or took over their budget (redis_timeout_ms); such a check falls back to per-instance buckets, and three in a row, or a lost connection, take Redis down until the server reconnects.\n\
             # TYPE keksdose_ratelimit_redis_errors_total counter\n\
             keksdose_ratelimit_redis_errors_total {}\n\
             # HELP keksdose_ratelimit_fallbacks_total Rate-limit checks of a known site that fell back to per-instance buckets because Redis was late, failing, unreachable or not yet connected.\n\
             # TYPE keksdose_ratelimit_fallbacks_total counter\n\
             keksdose_ratelimit_fallbacks_total {}",
            limiter.redis_errors, limiter.fallbacks
        );
    }
    let _ = writeln!(
        out,
        "# HELP keksdose_records_appended_total Consent records appended to the ledger (durable).\n\
         # TYPE keksdose_records_appended_total counter\n\
         keksdose_records_appended_total {}",
        STORE.records_appended.load(Relaxed)
    );
    out.push_str(
        "# HELP keksdose_journal_batch_size Requests sharing one journal write and fdatasync (group commit).\n\
         # TYPE keksdose_journal_batch_size histogram\n",
    );
    STORE
        .batch_size
        .render(&mut out, "keksdose_journal_batch_size", "");
    out.push_str(
        "# HELP keksdose_journal_sync_seconds Journal write plus fdatasync of one group commit.\n\
         # TYPE keksdose_journal_sync_seconds histogram\n",
    );
    STORE
        .sync_seconds
        .render(&mut out, "keksdose_journal_sync_seconds", "");
    out
}

/// A label value: backslash, quote and newline escaped.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_are_cumulative_with_sum_and_count() {
        let h = Histogram::new([1.0, 2.0]);
        for v in [0.5, 1.5, 1.5, 7.0] {
            h.observe(v);
        }
        let mut out = String::new();
        h.render(&mut out, "x", "route=\"/a\"");
        assert_eq!(
            out,
            "x_bucket{route=\"/a\",le=\"1\"} 1\n\
             x_bucket{route=\"/a\",le=\"2\"} 3\n\
             x_bucket{route=\"/a\",le=\"+Inf\"} 4\n\
             x_sum{route=\"/a\"} 10.5\n\
             x_count{route=\"/a\"} 4\n"
        );
    }

    #[test]
    fn requests_are_counted_by_route_template_and_status_class() {
        HTTP.observe("/test/{id}", 201, Duration::from_millis(3));
        HTTP.observe("/test/{id}", 429, Duration::from_millis(1));
        let text = render(&[("consents", 2)], LimiterBackend::default());
        assert!(
            text.contains("keksdose_http_requests_total{route=\"/test/{id}\",status=\"2xx\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("keksdose_http_requests_total{route=\"/test/{id}\",status=\"4xx\"} 1")
        );
        assert!(text.contains(
            "keksdose_http_request_duration_seconds_bucket{route=\"/test/{id}\",le=\"0.005\"} 2"
        ));
        assert!(text.contains("keksdose_rate_limited_total{limit=\"consents\"} 2"));
        assert!(text.contains("# TYPE keksdose_journal_sync_seconds histogram"));
        assert_eq!(escape("a\"b\\"), "a\\\"b\\\\");
        assert!(text.contains("keksdose_ratelimit_backend{backend=\"local\"} 1"));
        assert!(
            !text.contains("redis_errors"),
            "no Redis figures without redis_url"
        );
    }

    #[test]
    fn the_limiter_says_whether_it_fell_back_to_local_buckets() {
        let down = render(
            &[],
            LimiterBackend {
                redis_up: Some(false),
                redis_errors: 3,
                fallbacks: 7,
            },
        );
        for line in [
            "keksdose_ratelimit_backend{backend=\"redis\"} 0",
            "keksdose_ratelimit_backend{backend=\"local\"} 1",
            "keksdose_ratelimit_redis_errors_total 3",
            "keksdose_ratelimit_fallbacks_total 7",
        ] {
            assert!(down.lines().any(|l| l == line), "{line} in\n{down}");
        }
        assert!(down.contains("falls back to per-instance buckets"));
        let up = render(
            &[],
            LimiterBackend {
                redis_up: Some(true),
                ..LimiterBackend::default()
            },
        );
        assert!(
            up.lines()
                .any(|l| l == "keksdose_ratelimit_backend{backend=\"redis\"} 1")
        );
    }
}
