//! Retention as the operator's policy states it, applied by the running server
//! on a clock the test controls (`KEKSDOSE_TEST_CLOCK`), and the double opt-in's
//! proof with the addresses and user agents of both steps, kept only as keyed
//! hashes that a given address can be matched against.

use keksdose_tests::TestServer;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::admin::Admin;
use crate::api::{config_version, demo_key, post};

/// The coaching site with retention rules, and the file its retention clock
/// reads.
struct Site {
    admin: Admin,
    clock: std::path::PathBuf,
    _clock_dir: tempfile::TempDir,
}

impl std::ops::Deref for Site {
    type Target = Admin;
    fn deref(&self) -> &Admin {
        &self.admin
    }
}

impl Site {
    async fn newsletter(&self, id: Option<&str>, state: &str, ip: &str, ua: &str) -> String {
        let mut body =
            json!({"purposes": {"newsletter": state}, "client": {"ip": ip, "user_agent": ua}});
        if let Some(id) = id {
            body["consent_id"] = json!(id);
        }
        let (status, receipt) = self
            .send(
                reqwest::Method::POST,
                "/v1/admin/sites/coaching/consents",
                Some(body),
            )
            .await;
        assert_eq!(status, 201, "{receipt}");
        receipt["consent_id"].as_str().unwrap().to_string()
    }

    async fn banner(&self, body: Value) -> String {
        let version = config_version(&self.http, &self.server, "coaching").await;
        let mut body = body;
        body["config_version"] = json!(version);
        body["language"] = json!("de");
        let (status, receipt) = post(&self.http, &self.server, "coaching", &body).await;
        assert_eq!(status, 201, "{receipt}");
        receipt["consent_id"].as_str().unwrap().to_string()
    }

    /// Lets the retention clock stand `days` after now.
    fn set_clock(&self, days: u64) {
        let at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64
            + days * 86_400_000;
        std::fs::write(&self.clock, keksdose_shared::time::rfc3339_millis(at)).unwrap();
    }

    /// Lets the retention clock stand `days` after now, applies the rules, and
    /// checks that every chain still verifies.
    async fn apply_at(&self, days: u64) -> Value {
        self.set_clock(days);
        let (status, applied) = self
            .send(
                reqwest::Method::POST,
                "/v1/admin/sites/coaching/retention",
                None,
            )
            .await;
        assert_eq!(status, 200, "{applied}");
        let (status, verify) = self
            .send(
                reqwest::Method::GET,
                "/v1/admin/sites/coaching/verify",
                None,
            )
            .await;
        assert_eq!(status, 200, "{verify}");
        assert_eq!(
            verify["verified"], true,
            "after the run at +{days} days: {verify}"
        );
        applied
    }

    /// Whether each record of a consent still holds its personal part.
    async fn personal(&self, id: &str) -> Vec<bool> {
        let (status, proof) = self
            .send(
                reqwest::Method::GET,
                &format!("/v1/admin/sites/coaching/consents/{id}/proof"),
                None,
            )
            .await;
        assert_eq!(status, 200, "{proof}");
        assert_eq!(proof["verified"], true, "{proof}");
        proof["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["record"].get("personal").is_some())
            .collect()
    }
}

async fn start() -> Site {
    start_every(None).await
}

/// A server with the rules published, applying them every `every` seconds
/// (else at the default hour).
async fn start_every(every: Option<&'static str>) -> Site {
    let clock_dir = tempfile::tempdir().unwrap();
    let clock = clock_dir.path().join("clock");
    let server = {
        let clock = clock.clone();
        TestServer::start_with(move |c| {
            c.env("KEKSDOSE_TEST_CLOCK", &clock);
            if let Some(secs) = every {
                c.env("KEKSDOSE_RETENTION_EVERY_SECS", secs);
            }
        })
        .await
        .unwrap()
    };
    let site = Site {
        admin: Admin::on(server),
        clock,
        _clock_dir: clock_dir,
    };
    site.publish_rules().await;
    site
}

impl Site {
    async fn publish_rules(&self) {
        let site = self;
        // The coaching site with the rules fluxcess's policy states: newsletter
        // proof kept four years after the unsubscription; banner decisions 30 days
        // after they expire (the coaching site's decisions hold 6 months).
        let (_, current) = site
            .send(reqwest::Method::GET, "/v1/sites/coaching/config", None)
            .await;
        let mut config = current["config"].clone();
        config["consent"]["proof_retention"] = json!({"keep": "30d", "after": "expiry"});
        let newsletter = config["purposes"]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .find(|p| p["id"] == "newsletter")
            .unwrap();
        newsletter["proof_retention"] = json!({"keep": "4y", "after": "withdrawal"});
        let (status, published) = site
            .send(
                reqwest::Method::PUT,
                "/v1/admin/sites/coaching/config",
                Some(config.clone()),
            )
            .await;
        assert_eq!(status, 200, "{published}");

        // A rule the server cannot apply is refused, with its path.
        let mut bad = config;
        bad["purposes"][0]["proof_retention"] = json!({"keep": "4y", "after": "expiry"});
        let (status, err) = site
            .send(
                reqwest::Method::PUT,
                "/v1/admin/sites/coaching/config",
                Some(bad),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
        assert!(err.to_string().contains("proof_retention.after"), "{err}");
    }
}

#[tokio::test]
async fn retention_ages_out_ended_consents_by_their_own_rule_and_keeps_those_in_force() {
    let s = start().await;
    let ua = "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0";
    // Unsubscribed: signed up, confirmed, then cancelled.
    let cancelled = s.newsletter(None, "requested", "203.0.113.7", ua).await;
    s.newsletter(Some(&cancelled), "granted", "203.0.113.9", ua)
        .await;
    s.newsletter(Some(&cancelled), "withdrawn", "203.0.113.9", ua)
        .await;
    // Still subscribed.
    let subscribed = s.newsletter(None, "requested", "198.51.100.4", ua).await;
    s.newsletter(Some(&subscribed), "granted", "198.51.100.4", ua)
        .await;
    // Withdrawn by the operator on the subscriber's behalf (a letter).
    let by_letter = s.newsletter(None, "requested", "198.51.100.9", ua).await;
    s.newsletter(Some(&by_letter), "granted", "198.51.100.9", ua)
        .await;
    let (status, w) = s
        .send(
            reqwest::Method::POST,
            &format!("/v1/admin/sites/coaching/consents/{by_letter}/withdraw"),
            None,
        )
        .await;
    assert_eq!(status, 201, "{w}");
    // A banner decision, and one taken back.
    let accepted = s
        .banner(json!({"action": "accept_all", "page": "/kurse"}))
        .await;
    let withdrawn = s
        .banner(json!({"action": "accept_all", "page": "/kurse"}))
        .await;
    s.banner(json!({"action": "withdraw", "consent_id": withdrawn, "page": "/kurse"}))
        .await;
    // A banner decision whose consent ID the newsletter sign-up reused: the
    // decision ages by its rule, the subscription in force keeps them both.
    let mixed = s
        .banner(json!({"action": "accept_all", "page": "/kurse"}))
        .await;
    s.newsletter(Some(&mixed), "requested", "198.51.100.5", ua)
        .await;
    s.newsletter(Some(&mixed), "granted", "198.51.100.5", ua)
        .await;

    // Today nothing has aged: everything keeps its proof.
    let applied = s.apply_at(0).await;
    assert_eq!(applied["erased"], 0, "{applied}");
    for id in [
        &cancelled,
        &subscribed,
        &accepted,
        &withdrawn,
        &mixed,
        &by_letter,
    ] {
        assert!(s.personal(id).await.iter().all(|p| *p), "{id}");
    }

    // After 7 months the decisions have expired, but not 30 days ago yet.
    let applied = s.apply_at(7 * 30 - 20).await;
    assert_eq!(applied["erased"], 0, "{applied}");

    // After a year the banner decisions are 30 days past their expiry; the
    // newsletters keep theirs (one is in force, one cancelled under 4 years ago).
    let applied = s.apply_at(365).await;
    assert_eq!(applied["consents"], 2, "{applied}");
    assert_eq!(applied["erased"], 3, "{applied}");
    assert_eq!(s.personal(&accepted).await, [false]);
    assert_eq!(s.personal(&withdrawn).await, [false, false]);
    assert_eq!(s.personal(&cancelled).await, [true, true, true]);
    assert_eq!(s.personal(&mixed).await, [true, true, true]);
    assert_eq!(s.personal(&by_letter).await, [true, true, true]);

    // Four years and a day after the cancellation: its proof goes, the
    // subscription in force keeps its own, whatever its age.
    let applied = s.apply_at(4 * 365 + 2).await;
    assert_eq!(applied["consents"], 2, "{applied}");
    assert_eq!(applied["erased"], 6, "{applied}");
    assert_eq!(s.personal(&cancelled).await, [false, false, false]);
    assert_eq!(s.personal(&by_letter).await, [false, false, false]);
    assert_eq!(s.personal(&subscribed).await, [true, true]);
    assert_eq!(s.personal(&mixed).await, [true, true, true]);
    let applied = s.apply_at(30 * 365).await;
    assert_eq!(applied["erased"], 0, "{applied}");
    assert_eq!(s.personal(&subscribed).await, [true, true]);
    assert_eq!(s.personal(&mixed).await, [true, true, true]);
}

/// The server applies the rules on its own schedule (here every second), on
/// either store: a cancelled consent aged on the clock loses its proof without
/// an API call, and a subscription in force keeps its own.
#[tokio::test]
async fn the_server_applies_the_rules_on_its_own_schedule() {
    let s = start_every(Some("1")).await;
    let ua = "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0";
    let subscribed = s.newsletter(None, "requested", "198.51.100.4", ua).await;
    s.newsletter(Some(&subscribed), "granted", "198.51.100.4", ua)
        .await;
    let old = s.newsletter(None, "requested", "192.0.2.1", ua).await;
    s.newsletter(Some(&old), "withdrawn", "192.0.2.1", ua).await;
    s.set_clock(5 * 365);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while s.personal(&old).await != [false, false] {
        assert!(
            std::time::Instant::now() < deadline,
            "the periodic run never erased {old}:\n{}",
            s.server.log()
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(
        s.server.log().contains("retention applied"),
        "{}",
        s.server.log()
    );
    assert_eq!(s.personal(&subscribed).await, [true, true]);
}

#[tokio::test]
async fn a_double_opt_in_proves_both_steps_addresses_without_storing_them() {
    let s = start().await;
    let ua_signup = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/131.0";
    let ua_confirm = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) Safari/604.1";
    let id = s
        .newsletter(None, "requested", "203.0.113.7", ua_signup)
        .await;
    s.newsletter(Some(&id), "granted", "2001:db8::42", ua_confirm)
        .await;

    // The proof and the export carry the keyed hashes and the times, never
    // the address or the user agent.
    let (_, proof) = s
        .send(
            reqwest::Method::GET,
            &format!("/v1/admin/sites/coaching/consents/{id}/proof"),
            None,
        )
        .await;
    let records = proof["records"].as_array().unwrap();
    let personal: Vec<&Value> = records.iter().map(|r| &r["record"]["personal"]).collect();
    for p in &personal {
        assert_eq!(p["address_hash"].as_str().map(str::len), Some(64), "{p}");
        assert_eq!(p["ua_hash"].as_str().map(str::len), Some(64), "{p}");
    }
    assert_ne!(personal[0]["address_hash"], personal[1]["address_hash"]);
    let export = s
        .http
        .get(
            s.server
                .url("/v1/admin/sites/coaching/consents?format=ndjson"),
        )
        .bearer_auth(&s.key)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        export.contains(personal[1]["address_hash"].as_str().unwrap()),
        "{export}"
    );
    for raw in [
        "203.0.113.7",
        "2001:db8::42",
        "Chrome/131.0",
        "Safari/604.1",
    ] {
        assert!(!proof.to_string().contains(raw), "{raw} in the proof");
        assert!(!export.contains(raw), "{raw} in the export");
        assert!(!s.server.log().contains(raw), "{raw} in the log");
    }

    // In a dispute: was it this address, at which step?
    let path = format!("/v1/admin/sites/coaching/consents/{id}/match");
    let (status, m) = s
        .send(
            reqwest::Method::POST,
            &path,
            Some(json!({"ip": "203.0.113.7", "user_agent": ua_signup})),
        )
        .await;
    assert_eq!(status, 200, "{m}");
    let states = |m: &Value, field: &str| -> Vec<String> {
        m["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r[field].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(states(&m, "ip"), ["matches", "differs"]);
    assert_eq!(states(&m, "user_agent"), ["matches", "differs"]);
    let (_, m) = s
        .send(
            reqwest::Method::POST,
            &path,
            Some(json!({"ip": "2001:0db8:0:0::42"})),
        )
        .await;
    assert_eq!(
        states(&m, "ip"),
        ["differs", "matches"],
        "the same address however written"
    );
    assert_eq!(states(&m, "user_agent"), ["not_recorded", "not_recorded"]);
    let (_, m) = s
        .send(
            reqwest::Method::POST,
            &path,
            Some(json!({"ip": "203.0.113.8"})),
        )
        .await;
    assert_eq!(states(&m, "ip"), ["differs", "differs"]);

    // Bad input: a clear 4xx, nothing recorded.
    for (body, code) in [
        (json!({}), 422),
        (json!({"ip": "203.0.113"}), 422),
        (json!({"ip": "203.0.113.7", "port": 1}), 400),
    ] {
        let (status, err) = s
            .send(reqwest::Method::POST, &path, Some(body.clone()))
            .await;
        assert_eq!(status.as_u16(), code, "{body}: {err}");
    }
    let (status, _) = s
        .send(
            reqwest::Method::POST,
            "/v1/admin/sites/coaching/consents/nope/match",
            Some(json!({"ip": "203.0.113.7"})),
        )
        .await;
    assert_eq!(status, 404);
    let (status, err) = s
        .send(
            reqwest::Method::POST,
            "/v1/admin/sites/coaching/consents",
            Some(json!({"purposes": {"newsletter": "requested"}, "client": {"ip": "localhost"}})),
        )
        .await;
    assert_eq!(status, 422, "{err}");
    assert!(err.to_string().contains("client.ip"), "{err}");

    // Another site's key reaches nothing here.
    let other = demo_key(&s.server, "saas");
    let resp = s
        .http
        .post(s.server.url(&path))
        .bearer_auth(other)
        .json(&json!({"ip": "203.0.113.7"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
}
