//! Operating the server: settings in layers, rate limits, `/metrics`, and request
//! logs that never hold an IP address, user agent or consent ID.

use keksdose_tests::TestServer;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::api::{config_version, decide, demo_key, post};

/// A POST of a decision from the client `forwarded_for` (the server trusts
/// 127.0.0.1 as a proxy in these tests).
async fn post_from(
    http: &reqwest::Client,
    server: &TestServer,
    forwarded_for: &str,
    version: &str,
) -> reqwest::Response {
    http.post(server.url("/v1/sites/saas/consents"))
        .header("X-Forwarded-For", forwarded_for)
        .json(&json!({"config_version": version, "action": "reject_all", "language": "de"}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_flooding_client_gets_429_with_retry_after_while_others_are_served() {
    // Every layer at work: the file sets the proxy and a consents limit that the
    // environment overrides; the environment sets a history limit that a flag overrides.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("keksdose.toml");
    std::fs::write(
        &file,
        "trusted_proxies = [\"127.0.0.1\"]\n\
         [rate_limits.consents]\nper_minute = 1\nburst = 100\n",
    )
    .unwrap();
    let server = TestServer::start_with(|c| {
        c.env("KEKSDOSE_CONFIG", &file)
            .env("KEKSDOSE_RATE_CONSENTS", "1:3")
            .env("KEKSDOSE_RATE_HISTORY", "60:60")
            .args(["--rate-history", "1:2"]);
    })
    .await
    .unwrap();
    let http = reqwest::Client::new();
    let version = config_version(&http, &server, "saas").await;

    let mut statuses = Vec::new();
    let mut refused = None;
    for _ in 0..8 {
        let resp = post_from(&http, &server, "203.0.113.7", &version).await;
        statuses.push(resp.status().as_u16());
        if resp.status() == StatusCode::TOO_MANY_REQUESTS {
            refused = Some(resp);
        }
    }
    assert_eq!(statuses, [201, 201, 201, 429, 429, 429, 429, 429]);
    let refused = refused.unwrap();
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited", "{body}");

    // Another network is served; the same /24 is not; another site is its own bucket.
    let other = post_from(&http, &server, "198.51.100.9", &version).await;
    assert_eq!(other.status(), StatusCode::CREATED);
    let same_net = post_from(&http, &server, "203.0.113.250", &version).await;
    assert_eq!(same_net.status(), StatusCode::TOO_MANY_REQUESTS);
    // A client cannot escape by claiming another address left of the proxy's entry.
    let spoofed = post_from(&http, &server, "192.0.2.1, 203.0.113.7", &version).await;
    assert_eq!(spoofed.status(), StatusCode::TOO_MANY_REQUESTS);

    // A stranger probing consent IDs: 404s, then 429.
    let mut probes = Vec::new();
    for i in 0..4 {
        let resp = http
            .get(server.url(&format!("/v1/consents/probe{i:018}")))
            .header("X-Forwarded-For", "203.0.113.7")
            .send()
            .await
            .unwrap();
        probes.push(resp.status().as_u16());
    }
    assert_eq!(probes, [404, 404, 429, 429]);

    let metrics = http
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("keksdose_rate_limited_total{limit=\"consents\"} 7"),
        "{metrics}"
    );
    assert!(
        metrics.contains("keksdose_rate_limited_total{limit=\"history\"} 2"),
        "{metrics}"
    );
}

#[tokio::test]
async fn x_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy() {
    let server = TestServer::start_with(|c| {
        c.args(["--rate-history", "1:5"]);
    })
    .await
    .unwrap();
    let http = reqwest::Client::new();
    let mut statuses = Vec::new();
    for i in 0..8 {
        let resp = http
            .get(server.url("/v1/consents/AAAAAAAAAAAAAAAAAAAAAA"))
            .header("X-Forwarded-For", format!("198.51.{i}.1"))
            .send()
            .await
            .unwrap();
        statuses.push(resp.status().as_u16());
    }
    assert_eq!(statuses, [404, 404, 404, 404, 404, 429, 429, 429]);
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_the_ledgers_group_commits() {
    let server = TestServer::start_with(|c| {
        c.args(["--metrics-token", "test-metrics-token"]);
    })
    .await
    .unwrap();
    let http = reqwest::Client::new();
    let metrics = || async {
        let resp = http
            .get(server.url("/metrics"))
            .bearer_auth("test-metrics-token")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert!(
            resp.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/plain; version=0.0.4")
        );
        resp.text().await.unwrap()
    };
    let value = |text: &str, series: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or(0.0)
    };

    let before = metrics().await;
    assert_eq!(
        value(&before, "keksdose_records_appended_total"),
        0.0,
        "{before}"
    );
    let batches_before = value(&before, "keksdose_journal_batch_size_count");
    let version = config_version(&http, &server, "saas").await;
    for _ in 0..2 {
        let (status, _) = post(
            &http,
            &server,
            "saas",
            &json!({"config_version": version, "action": "accept_all", "language": "de"}),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let after = metrics().await;
    assert_eq!(
        value(&after, "keksdose_records_appended_total"),
        2.0,
        "{after}"
    );
    assert!(value(&after, "keksdose_journal_batch_size_count") >= batches_before + 1.0);
    assert!(value(&after, "keksdose_journal_sync_seconds_count") >= 1.0);
    assert!(value(&after, "keksdose_journal_sync_seconds_sum") > 0.0);
    let route = "route=\"/v1/sites/{site}/consents\"";
    assert_eq!(
        value(
            &after,
            &format!("keksdose_http_requests_total{{{route},status=\"2xx\"}}")
        ),
        2.0,
        "{after}"
    );
    assert_eq!(
        value(
            &after,
            &format!("keksdose_http_request_duration_seconds_count{{{route}}}")
        ),
        2.0
    );
    assert_eq!(
        value(
            &after,
            &format!("keksdose_http_request_duration_seconds_bucket{{{route},le=\"+Inf\"}}")
        ),
        2.0
    );

    // With a token set, nobody else reads them.
    for auth in [None, Some("wrong")] {
        let mut req = http.get(server.url("/metrics"));
        if let Some(a) = auth {
            req = req.bearer_auth(a);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"]["code"], "unauthorized");
    }
    assert!(!server.log().contains("test-metrics-token"));
}

#[tokio::test]
async fn logs_and_the_data_directory_hold_no_ip_user_agent_or_user_id() {
    let server = TestServer::start_with(|c| {
        c.args(["--trusted-proxies", "127.0.0.1"]);
    })
    .await
    .unwrap();
    let ua = "KeksProbe/4.2 (unique-ua-7f3a9c)";
    let ip = "203.0.113.77";
    let http = reqwest::Client::builder().user_agent(ua).build().unwrap();
    let version = config_version(&http, &server, "saas").await;
    let resp = http
        .post(server.url("/v1/sites/saas/consents?utm_source=secret-query-value"))
        .header("X-Forwarded-For", ip)
        .json(&json!({"config_version": version, "action": "accept_all", "language": "de", "page": "/secret-page-path"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let receipt: Value = resp.json().await.unwrap();
    let id = receipt["consent_id"].as_str().unwrap();
    let history = http
        .get(server.url(&format!("/v1/consents/{id}")))
        .header("X-Forwarded-For", ip)
        .send()
        .await
        .unwrap();
    assert_eq!(history.status(), 200);
    http.get(server.url("/no/such/path-with-secret-segment"))
        .header("X-Forwarded-For", ip)
        .send()
        .await
        .unwrap();

    // An IPv6 visitor, and a site user id (newsletter sign-up, then linked).
    let ip6 = "2001:db8:abcd:12::7";
    let resp = http
        .post(server.url("/v1/sites/saas/consents"))
        .header("X-Forwarded-For", ip6)
        .json(&json!({"config_version": version, "action": "reject_all", "language": "de"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let user = "kundin-4711@example.org";
    let key = demo_key(&server, "coaching");
    let resp = http
        .post(server.url("/v1/admin/sites/coaching/consents"))
        .bearer_auth(&key)
        .header("X-Forwarded-For", ip)
        // The double opt-in's proof: the address and user agent the site's
        // backend saw at the sign-up, kept only as keyed hashes.
        .json(&json!({"subject": user, "purposes": {"newsletter": "requested"},
                      "client": {"ip": "198.51.100.23", "user_agent": "DoiProbe/1.0 (unique-doi-ua-2b7e)"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    // A banner decision on the coaching site, linked to the same user.
    let banner = decide(&http, &server, "coaching", "reject_all").await;
    let resp = http
        .post(server.url(&format!("/v1/admin/sites/coaching/subjects/{user}")))
        .bearer_auth(&key)
        .json(&json!({"consent_id": banner["consent_id"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        StatusCode::OK,
        "{}",
        resp.text().await.unwrap()
    );

    let log = server.log();
    for secret in [
        ua,
        "unique-ua-7f3a9c",
        ip,
        ip6,
        "2001:db8:abcd",
        user,
        id,
        "secret-query-value",
        "secret-page-path",
        "path-with-secret-segment",
        "198.51.100.23",
        "unique-doi-ua-2b7e",
    ] {
        assert!(!log.contains(secret), "the log holds {secret:?}:\n{log}");
    }

    // Nor does any file of the data directory (journal, index, keys), in any
    // form we could have written: as text, or the address's network part.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await; // sled's flush
    let mut files = 0;
    let mut stack = vec![server.data_dir()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            files += 1;
            let bytes = std::fs::read(&path).unwrap();
            for secret in [
                ua,
                "unique-ua-7f3a9c",
                ip,
                "203.0.113.",
                ip6,
                "2001:db8:abcd",
                user,
                "kundin-4711",
                "198.51.100.23",
                "198.51.100.",
                "unique-doi-ua-2b7e",
            ] {
                assert!(
                    !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                    "{} holds {secret:?}",
                    path.display()
                );
            }
        }
    }
    assert!(files >= 3, "scanned {files} files");
    let journal = std::fs::read(server.data_dir().join("journal")).unwrap();
    assert!(
        journal.windows(9).any(|w| w == b"\"ip_hash\""),
        "the journal holds the keyed hashes instead"
    );
    let requests: Vec<&str> = log.lines().filter(|l| l.contains("msg=request")).collect();
    assert!(
        requests.iter().all(|l| !l.contains("127.0.0.1")),
        "a request line holds the peer address:\n{log}"
    );
    assert!(
        requests.iter().any(|l| l
            .contains("method=POST route=/v1/sites/{site}/consents status=201")
            && l.ends_with(" site=saas")),
        "{log}"
    );
    assert!(
        requests
            .iter()
            .any(|l| l.contains("method=GET route=/v1/consents/{consent_id} status=200")),
        "{log}"
    );
    assert!(
        log.lines().any(|l| l.contains("level=info msg=starting")),
        "{log}"
    );
}

#[tokio::test]
async fn an_unknown_key_in_the_settings_file_stops_the_server_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("keksdose.toml");
    std::fs::write(
        &file,
        "listen = \"127.0.0.1:1\"\ntrusted_proxy = [\"10.0.0.1\"]\n",
    )
    .unwrap();
    let err = TestServer::start_with(|c| {
        c.env("KEKSDOSE_CONFIG", &file);
    })
    .await
    .unwrap_err()
    .to_string();
    assert!(err.contains("unknown field `trusted_proxy`"), "{err}");
    assert!(err.contains("keksdose.toml"), "{err}");
}
