//! The cookie declaration from the server (`GET /v1/sites/{site}/declaration`
//! and `.html`): made from the config the site serves, its policy's versions
//! from the publish times, the visitor's own decision only for a consent of
//! this site, and bad queries refused.

use keksdose_tests::TestServer;
use serde_json::{Value, json};

use crate::api::{decide, demo_key};

async fn get(http: &reqwest::Client, server: &TestServer, path: &str) -> (u16, Value) {
    let resp = http.get(server.url(path)).send().await.unwrap();
    (
        resp.status().as_u16(),
        resp.json().await.unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn the_declaration_is_the_served_config_with_its_versions_and_the_visitors_decision() {
    let server = TestServer::start().await.unwrap();
    let http = reqwest::Client::new();
    let (status, d) = get(&http, &server, "/v1/sites/coaching/declaration?lang=en-GB").await;
    assert_eq!(status, 200, "{d}");
    assert_eq!(d["language"], "en");
    let (_, published) = get(&http, &server, "/v1/sites/coaching/config").await;
    assert_eq!(d["config_version"], published["version"]);
    let services: Vec<&Value> = d["categories"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["services"].as_array().unwrap())
        .collect();
    assert_eq!(
        services.len(),
        published["config"]["services"].as_array().unwrap().len(),
        "every service, once"
    );
    let youtube = services.iter().find(|s| s["id"] == "youtube").unwrap();
    let visitor_info = youtube["cookies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "VISITOR_INFO1_LIVE")
        .unwrap();
    assert_eq!(
        visitor_info["lifetime"],
        json!({"code": "6mo", "text": "6 months"}),
        "lifetimes worded in English"
    );
    assert_eq!(d["visitor"], Value::Null);
    assert_eq!(d["policy"]["versions"].as_array().unwrap().len(), 1);
    assert_eq!(d["policy"]["versions"][0]["until"], Value::Null);

    // A new policy version, published: the old one is valid until then.
    let key = demo_key(&server, "coaching");
    let mut config = published["config"].clone();
    config["site"]["policy_version"] = json!("Stand: 01.12.2026");
    config["site"]["policy_valid_from"] = json!("2026-12-01");
    let resp = http
        .put(server.url("/v1/admin/sites/coaching/config"))
        .bearer_auth(&key)
        .json(&config)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let (_, d) = get(&http, &server, "/v1/sites/coaching/declaration?lang=de").await;
    let versions = d["policy"]["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 2, "{d}");
    assert_eq!(versions[0]["version"], "Stand: 01.12.2026");
    assert_eq!(versions[0]["from"], "2026-12-01");
    assert_eq!(versions[0]["until"], Value::Null);
    assert_eq!(versions[1]["until"], "2026-12-01", "{d}");
    assert!(
        versions[0]["text"].as_str().unwrap().contains("01.12.2026"),
        "{d}"
    );
    assert_eq!(d["policy"]["valid_from"], "2026-12-01");

    // The visitor's own decision, only for a consent of this site.
    let receipt = decide(&http, &server, "coaching", "accept_all").await;
    let id = receipt["consent_id"].as_str().unwrap();
    let (_, d) = get(
        &http,
        &server,
        &format!("/v1/sites/coaching/declaration?consent={id}"),
    )
    .await;
    assert_eq!(d["visitor"]["consent_id"], id);
    assert_eq!(d["visitor"]["action"], "accept_all");
    let other = decide(&http, &server, "saas", "accept_all").await;
    let other = other["consent_id"].as_str().unwrap();
    // Asked with a consent ID it never is cached, even one it does not know
    // (a browser's cookie may be ahead of its record).
    let resp = http
        .get(server.url("/v1/sites/coaching/declaration?consent=nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["cache-control"], "private, no-store");
    let resp = http
        .get(server.url("/v1/sites/coaching/declaration"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["cache-control"], "public, max-age=60");
    for id in [other, "nope"] {
        let (status, d) = get(
            &http,
            &server,
            &format!("/v1/sites/coaching/declaration?consent={id}"),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(d["visitor"], Value::Null, "{id}");
    }

    // The fragment: escaped HTML, no script, not cached with a consent in it.
    let resp = http
        .get(server.url(&format!(
            "/v1/sites/coaching/declaration.html?lang=de&consent={id}"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert_eq!(resp.headers()["cache-control"], "private, no-store");
    let html = resp.text().await.unwrap();
    assert!(
        html.starts_with("<section class=\"kd-decl\" lang=\"de\""),
        "{html}"
    );
    assert!(
        html.contains(id) && html.contains("data-consent-open"),
        "{html}"
    );
    assert!(!html.to_lowercase().contains("<script"), "{html}");

    for (path, status) in [
        ("/v1/sites/coaching/declaration?lang=%3Cb%3E", 400),
        ("/v1/sites/coaching/declaration?colour=red", 400),
        ("/v1/sites/coaching/declaration?consent=x%20y", 400),
        ("/v1/sites/nobody/declaration", 404),
        ("/v1/sites/nobody/declaration.html", 404),
    ] {
        let (got, body) = get(&http, &server, path).await;
        assert_eq!(got, status, "{path}: {body}");
        assert!(
            body["error"]["code"].is_string(),
            "{path}: a JSON error: {body}"
        );
    }
}

/// Re-consent after a material change, for signed-in users: the site's backend
/// asks whether the subject's consent predates the policy in force.
#[tokio::test]
async fn a_backend_learns_whether_a_users_consent_predates_the_current_policy() {
    let server = TestServer::start().await.unwrap();
    let http = reqwest::Client::new();
    let key = demo_key(&server, "coaching");
    let ask = |subject: &'static str| {
        let (http, server, key) = (http.clone(), &server, key.clone());
        async move {
            let resp = http
                .get(server.url(&format!(
                    "/v1/admin/sites/coaching/subjects/{subject}/renewal"
                )))
                .bearer_auth(&key)
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 200);
            resp.json::<Value>().await.unwrap()
        }
    };
    let link = |id: String| {
        let (http, server, key) = (http.clone(), &server, key.clone());
        async move {
            let resp = http
                .post(server.url("/v1/admin/sites/coaching/subjects/lehrerin-17"))
                .bearer_auth(&key)
                .json(&json!({"consent_id": id}))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 200);
        }
    };
    let r = ask("niemand").await;
    assert_eq!(r["predates_current_policy"], true, "no consent at all: {r}");
    assert_eq!(r["consents"], json!([]));

    let first = decide(&http, &server, "coaching", "accept_all").await;
    link(first["consent_id"].as_str().unwrap().to_string()).await;
    let r = ask("lehrerin-17").await;
    assert_eq!(r["predates_current_policy"], false, "{r}");

    // A material change: a new policy version.
    let (_, published) = get(&http, &server, "/v1/sites/coaching/config").await;
    let mut config = published["config"].clone();
    config["site"]["policy_version"] = json!("Stand: 01.12.2026");
    let resp = http
        .put(server.url("/v1/admin/sites/coaching/config"))
        .bearer_auth(&key)
        .json(&config)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let r = ask("lehrerin-17").await;
    assert_eq!(r["predates_current_policy"], true, "{r}");
    assert_eq!(r["policy_version"], "Stand: 01.12.2026");
    assert_eq!(
        r["consents"][0]["policy_version"],
        published["config"]["site"]["policy_version"]
    );

    // She agrees to the new one at her next sign-in.
    let again = decide(&http, &server, "coaching", "accept_all").await;
    link(again["consent_id"].as_str().unwrap().to_string()).await;
    let r = ask("lehrerin-17").await;
    assert_eq!(r["predates_current_policy"], false, "{r}");
    assert_eq!(r["consents"].as_array().unwrap().len(), 2);
    assert_eq!(r["consents"][1]["predates_current_policy"], true, "{r}");

    // Another site's key learns nothing here.
    let resp = http
        .get(server.url("/v1/admin/sites/coaching/subjects/lehrerin-17/renewal"))
        .bearer_auth(demo_key(&server, "saas"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
}
