//! Two servers on one PostgreSQL database behind nginx, configured by the
//! README's example (`examples/nginx/keksdose.conf`, only its marked lines
//! adapted): each site's decisions go to one server and the sites are spread
//! over both, visitors keep their own identity through the proxy
//! (`trusted_proxies`), and a server that dies is skipped. Needs
//! `KEKSDOSE_TEST_POSTGRES` and nginx (`cargo xtask test` installs Debian's
//! nginx-light); without either the test says that it skipped.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use keksdose_tests::{TestServer, workspace_root};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::api::{config_version, demo_key};

const NGINX: &str = "/usr/sbin/nginx";

/// The demo sites the test writes to.
const SITES: [&str; 7] = [
    "saas",
    "coaching",
    "dogandme",
    "fluxcess",
    "sessionbutler",
    "sevdesk",
    "tutory",
];

/// nginx in the foreground, stopped when dropped.
struct Nginx {
    child: Child,
    _dir: tempfile::TempDir,
    base: String,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM, so that the master ends its workers too (SIGKILL would
        // leave them running); SIGKILL only if it does not go.
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        for _ in 0..100 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts nginx with the example's server block, its upstreams pointed at
/// `upstreams` and listening on a free port; waits until it answers.
async fn nginx(upstreams: &[&TestServer]) -> Nginx {
    let example =
        std::fs::read_to_string(workspace_root().join("examples/nginx/keksdose.conf")).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let servers: String = upstreams
        .iter()
        .map(|s| {
            format!(
                "server {};\n    ",
                s.base_url().trim_start_matches("http://")
            )
        })
        .collect();
    let adapted = example
        .replace(
            "server 127.0.0.1:8081;  # ADAPT: one line per `keksdose serve`\n    server 127.0.0.1:8082;\n    ",
            &servers,
        )
        .replace(
            "listen 8080;  # ADAPT: listen 443 ssl http2; with your certificate",
            &format!("listen 127.0.0.1:{port};"),
        );
    assert!(
        adapted.contains(&format!("listen 127.0.0.1:{port};"))
            && !adapted.contains("server 127.0.0.1:8081;"),
        "the example's marked lines changed; adapt this test:\n{adapted}"
    );
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    std::fs::write(dir.path().join("keksdose.conf"), adapted).unwrap();
    std::fs::write(
        dir.path().join("nginx.conf"),
        format!(
            "daemon off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
             events {{}}\nhttp {{\n  access_log off;\n  client_body_temp_path {d}/body;\n\
             proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n\
             scgi_temp_path {d}/scgi;\n  include {d}/keksdose.conf;\n}}\n"
        ),
    )
    .unwrap();
    let child = Command::new(NGINX)
        .arg("-p")
        .arg(dir.path())
        .arg("-c")
        .arg(dir.path().join("nginx.conf"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let mut nginx = Nginx {
        child,
        _dir: dir,
        base,
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(r) = reqwest::get(format!("{}/healthz", nginx.base)).await
            && r.status() == StatusCode::OK
        {
            return nginx;
        }
        if let Some(status) = nginx.child.try_wait().unwrap() {
            panic!(
                "nginx exited ({status}): {}",
                std::fs::read_to_string(nginx._dir.path().join("error.log")).unwrap_or_default()
            );
        }
        assert!(Instant::now() < deadline, "nginx did not answer");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A fresh suffix, so that every request of the test has its own key.
fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// How many consent POSTs a server answered with 2xx, from its /metrics.
async fn consents_served(http: &reqwest::Client, server: &TestServer) -> u64 {
    let text = http
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find(|l| {
            l.starts_with(
                "keksdose_http_requests_total{route=\"/v1/sites/{site}/consents\",status=\"2xx\"}",
            )
        })
        .and_then(|l| l.rsplit(' ').next())
        .map_or(0, |n| n.parse().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_behind_the_example_nginx_serve_every_visitor_as_themselves() {
    if !keksdose_tests::postgres_available() {
        return;
    }
    if !std::path::Path::new(NGINX).exists() {
        eprintln!("SKIPPED: {NGINX} is missing (cargo xtask test installs nginx-light)");
        return;
    }
    // Two decisions per client and minute: through a proxy that is not
    // trusted, every visitor would be the proxy and share that one bucket.
    let mut servers = TestServer::start_cluster_with(2, |c| {
        c.env("KEKSDOSE_TRUSTED_PROXIES", "127.0.0.1")
            .env("KEKSDOSE_RATE_CONSENTS", "2:2");
    })
    .await
    .unwrap();
    let proxy = nginx(&[&servers[0], &servers[1]]).await;
    let http = reqwest::Client::new();
    let mut versions = std::collections::HashMap::new();
    for site in SITES {
        versions.insert(site, config_version(&http, &servers[0], site).await);
    }
    // As the loader sends a decision: with an idempotency key, once more on a
    // 502 (nginx does not resend a POST that may have reached a server that
    // died, e.g. on a kept-alive connection to it).
    let post = |site: &'static str, visitor: String| {
        let body = json!({
            "config_version": versions[&site],
            "action": "accept_all",
            "language": "de",
            "idempotency_key": format!("proxy-{}", rand_suffix()),
        });
        let (http, url) = (
            http.clone(),
            format!("{}/v1/sites/{site}/consents", proxy.base),
        );
        async move {
            for _ in 0..2 {
                let resp = http
                    .post(&url)
                    .header("X-Forwarded-For", &visitor)
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                let status = resp.status();
                if status != StatusCode::BAD_GATEWAY {
                    return (status, resp.json::<Value>().await.unwrap_or(Value::Null));
                }
            }
            (StatusCode::BAD_GATEWAY, Value::Null)
        }
    };
    let served = async || {
        [
            consents_served(&http, &servers[0]).await,
            consents_served(&http, &servers[1]).await,
        ]
    };

    // Twenty visitors from twenty networks: each is a client of its own, and
    // all of one site's decisions go to one server (the example routes by
    // site: two servers on one site's chain would take turns on its row).
    for i in 0..20 {
        let (status, r) = post("saas", format!("198.51.{i}.7")).await;
        assert_eq!(status, StatusCode::CREATED, "visitor {i}: {r}");
    }
    let after = served().await;
    assert!(
        after == [20, 0] || after == [0, 20],
        "one server took the site's decisions: {after:?}"
    );
    let home = usize::from(after[1] == 20);
    // The sites are spread: some other site's decisions go to the other server.
    // (nginx's `hash` without `consistent` does not depend on the servers'
    // addresses: `((crc32(site) >> 16) & 0x7fff) % 2` puts saas, tutory and
    // sevdesk on the second server, the other four on the first, every run.)
    let mut elsewhere = Vec::new();
    for (i, site) in SITES.into_iter().enumerate().skip(1) {
        let before = served().await;
        let (status, r) = post(site, format!("198.51.{}.8", 100 + i)).await;
        assert_eq!(status, StatusCode::CREATED, "{site}: {r}");
        let now = served().await;
        if now[1 - home] > before[1 - home] {
            elsewhere.push(site);
        }
    }
    assert!(
        !elsewhere.is_empty(),
        "no site went to the other server: {:?}",
        served().await
    );
    // One visitor over the limit is limited (by the site's server: all six go
    // there).
    let mut limited = 0;
    for _ in 0..6 {
        if post("saas", "203.0.113.9".into()).await.0 == StatusCode::TOO_MANY_REQUESTS {
            limited += 1;
        }
    }
    assert!(limited >= 2, "six from one visitor: {limited} limited");

    // The example keeps the metrics from the public.
    let metrics = http
        .get(format!("{}/metrics", proxy.base))
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), StatusCode::FORBIDDEN);

    // The site's server dies: nginx skips it, every decision is still recorded.
    servers[home].kill().unwrap();
    for i in 20..30 {
        let (status, r) = post("saas", format!("198.51.{i}.7")).await;
        assert_eq!(
            status,
            StatusCode::CREATED,
            "visitor {i} after the kill: {r}"
        );
    }
    let report: Value = http
        .get(format!("{}/v1/admin/sites/saas/verify", proxy.base))
        // The key the last server started printed (each start renews them),
        // whether or not that server is the one killed.
        .bearer_auth(demo_key(&servers[1], "saas"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(report["verified"], json!(true), "{report}");
    assert_eq!(report["records"], json!(30 + (6 - limited)), "{report}");
}
