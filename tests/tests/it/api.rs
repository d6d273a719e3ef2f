//! The HTTP API against the real binary: config, recording decisions, history,
//! admin proofs and verification, and every error status a client can meet.

use keksdose_tests::TestServer;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// The API keys `serve --demo` printed, by site.
pub fn demo_key(server: &TestServer, site: &str) -> String {
    server
        .log()
        .lines()
        .rev() // keys are renewed at every start: the last one counts
        .find(|l| l.split_whitespace().next() == Some(site) && l.contains("API key"))
        .and_then(|l| l.split_whitespace().last())
        .map(String::from)
        .unwrap_or_else(|| {
            panic!(
                "no API key for {site} in the server's output:\n{}",
                server.log()
            )
        })
}

/// `GET path` (with the demo site's key for `site`, if given), which must answer
/// 200 with JSON.
pub async fn get_json(
    http: &reqwest::Client,
    server: &TestServer,
    path: &str,
    key_of: Option<&str>,
) -> Value {
    let mut req = http.get(server.url(path));
    if let Some(site) = key_of {
        req = req.bearer_auth(demo_key(server, site));
    }
    let resp = req.send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK, "GET {path}");
    resp.json().await.unwrap()
}

pub async fn config_version(http: &reqwest::Client, server: &TestServer, site: &str) -> String {
    let body = get_json(http, server, &format!("/v1/sites/{site}/config"), None).await;
    body["version"].as_str().unwrap().to_string()
}

/// A visitor's `action` on the site's current config, recorded: the receipt.
pub async fn decide(
    http: &reqwest::Client,
    server: &TestServer,
    site: &str,
    action: &str,
) -> Value {
    let version = config_version(http, server, site).await;
    let (status, receipt) = post(
        http,
        server,
        site,
        &json!({"config_version": version, "action": action, "language": "de"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{receipt}");
    receipt
}

/// `GET /v1/admin/sites/{site}/verify` with the demo site's key.
pub async fn verify(http: &reqwest::Client, server: &TestServer, site: &str) -> Value {
    get_json(
        http,
        server,
        &format!("/v1/admin/sites/{site}/verify"),
        Some(site),
    )
    .await
}

/// Every record of `site`, from the NDJSON export.
pub async fn export(http: &reqwest::Client, server: &TestServer, site: &str) -> Vec<Value> {
    http.get(server.url(&format!("/v1/admin/sites/{site}/consents?format=ndjson")))
        .bearer_auth(demo_key(server, site))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

pub async fn post(
    http: &reqwest::Client,
    server: &TestServer,
    site: &str,
    body: &Value,
) -> (StatusCode, Value) {
    let resp = http
        .post(server.url(&format!("/v1/sites/{site}/consents")))
        .json(body)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn error_code(body: &Value) -> &str {
    body["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("not an error body: {body}"))
}

#[tokio::test]
async fn the_config_is_served_with_its_version_etag_and_cors_for_the_sites_origins_only() {
    let server = TestServer::start().await.unwrap();
    let http = reqwest::Client::new();
    let resp = http
        .get(server.url("/v1/sites/saas/config"))
        .header("Origin", server.base_url())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let etag = resp.headers()["etag"].to_str().unwrap().to_string();
    assert_eq!(
        resp.headers()["access-control-allow-origin"],
        server.base_url()
    );
    assert!(
        resp.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("max-age")
    );
    let body: Value = resp.json().await.unwrap();
    assert_eq!(etag, format!("\"{}\"", body["version"].as_str().unwrap()));
    assert_eq!(body["site"], "saas");
    assert_eq!(body["config"]["site"]["name"], "Taskwerk");

    let cached = http
        .get(server.url("/v1/sites/saas/config"))
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(cached.status(), StatusCode::NOT_MODIFIED);
    // Without `?words=1` the body is as it was before words existed (a banner
    // still cached from then refuses fields it does not know).
    assert!(body.get("words").is_none(), "{body}");

    // With `?words=1` (the loader's request): every word in every language the
    // site offers, under an ETag of its own that names the version too.
    let with_words = http
        .get(server.url("/v1/sites/saas/config?words=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(with_words.status(), 200);
    let words_etag = with_words.headers()["etag"].to_str().unwrap().to_string();
    assert_ne!(words_etag, etag);
    assert!(
        words_etag.starts_with(&etag[..etag.len() - 1]),
        "{words_etag} names {etag}"
    );
    let body: Value = with_words.json().await.unwrap();
    assert_eq!(body["words"]["de"]["texts.reject_all"], "Nur Notwendige");
    assert_eq!(body["words"]["en"]["units.month.other"], "{n} months");
    assert_eq!(
        body["words"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["de", "en"]
    );
    let cached = http
        .get(server.url("/v1/sites/saas/config?words=1"))
        .header("If-None-Match", &words_etag)
        .send()
        .await
        .unwrap();
    assert_eq!(cached.status(), StatusCode::NOT_MODIFIED);
    let stale = http
        .get(server.url("/v1/sites/saas/config?words=1"))
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 200, "a body without words is not this one");

    let foreign = http
        .get(server.url("/v1/sites/saas/config"))
        .header("Origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), 200, "a config is public");
    assert!(
        foreign
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );

    let unknown = http
        .get(server.url("/v1/sites/nope/config"))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    assert_eq!(error_code(&unknown.json().await.unwrap()), "not_found");
}

#[tokio::test]
async fn a_decision_is_recorded_updated_withdrawn_and_listed_in_the_visitors_history() {
    let server = TestServer::start().await.unwrap();
    let http = reqwest::Client::new();
    let version = config_version(&http, &server, "saas").await;

    let (status, first) = post(
        &http,
        &server,
        "saas",
        &json!({"config_version": version, "action": "custom", "categories": {"analytics": true}, "language": "de", "page": "/preise?utm=x"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    let id = first["consent_id"].as_str().unwrap().to_string();
    assert_eq!(first["seq"], 1);
    assert_eq!(first["record_hash"].as_str().unwrap().len(), 64);

    let (status, second) =
        post(&http, &server, "saas", &json!({"consent_id": id, "config_version": version, "action": "withdraw", "language": "en"}))
            .await;
    assert_eq!(status, StatusCode::CREATED, "{second}");
    assert_eq!(second["consent_id"], id.as_str());

    let history: Value = http
        .get(server.url(&format!("/v1/consents/{id}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let records = history["records"].as_array().unwrap();
    assert_eq!(records.len(), 2);
    assert_eq!(records[0]["action"], "custom");
    assert_eq!(records[0]["choices"]["services"]["mixpanel"], true);
    assert_eq!(records[0]["choices"]["services"]["google-ads"], false);
    assert_eq!(records[1]["action"], "withdraw");
    assert_eq!(records[1]["prev_hash"], records[0]["record_hash"]);
    assert!(
        records.iter().all(|r| r.get("personal").is_none()),
        "no pseudonyms in the public history"
    );

    let unknown = http
        .get(server.url("/v1/consents/AAAAAAAAAAAAAAAAAAAAAA"))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
}

#[tokio::test]
async fn a_retry_with_the_same_idempotency_key_is_not_a_second_decision() {
    let server = TestServer::start().await.unwrap();
    let http = reqwest::Client::new();
    let version = config_version(&http, &server, "coaching").await;
    let body = json!({"config_version": version, "action": "accept_all", "language": "de", "idempotency_key": "req-42"});
    let (_, a) = post(&http, &server, "coaching", &body).await;
    let (status, b) = post(&http, &server, "coaching", &body).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(a, b);
    let history: Value = http
        .get(server.url(&format!(
            "/v1/consents/{}",
            a["consent_id"].as_str().unwrap()
        )))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(history["records"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn bad_input_gets_a_clear_4xx_and_changes_nothing() {
    let server = TestServer::start().await.unwrap();
    let http = reqwest::Client::new();
    let version = config_version(&http, &server, "saas").await;
    let url = server.url("/v1/sites/saas/consents");
    let send = |req: reqwest::RequestBuilder| async move {
        let resp = req.send().await.unwrap();
        let status = resp.status();
        (status, resp.json::<Value>().await.unwrap())
    };

    let cases: Vec<(reqwest::RequestBuilder, StatusCode, &str)> = vec![
        (http.post(&url).header("content-type", "application/json").body("{not json"), StatusCode::BAD_REQUEST, "bad_request"),
        (
            http.post(&url).json(&json!({"config_version": version, "action": "accept_all", "language": "de", "extra": 1})),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (http.post(&url).json(&json!({"config_version": version, "action": "maybe", "language": "de"})), StatusCode::BAD_REQUEST, "bad_request"),
        (http.post(&url).body("{}"), StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
        (
            http.post(&url).header("content-type", "application/json").body(format!("\"{}\"", "a".repeat(20_000))),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
        (
            http.post(&url).json(&json!({"config_version": "not-a-version", "action": "accept_all", "language": "de"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
        ),
        (
            http.post(&url).json(&json!({"config_version": version, "action": "custom", "services": {"hotjar": true}, "language": "de"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
        ),
        (
            http.post(&url).json(&json!({"config_version": version, "action": "custom", "categories": {"necessary": false}, "language": "de"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
        ),
        (http.post(&url).json(&json!({"config_version": version, "action": "withdraw", "language": "de"})), StatusCode::UNPROCESSABLE_ENTITY, "invalid"),
        (
            http.post(&url).json(&json!({"consent_id": "AAAAAAAAAAAAAAAAAAAAAA", "config_version": version, "action": "accept_all", "language": "de"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
        ),
        (http.post(&url).json(&json!({"config_version": version, "action": "accept_all", "language": "fr"})), StatusCode::UNPROCESSABLE_ENTITY, "invalid"),
        (
            http.post(&url).json(&json!({"config_version": version, "action": "accept_all", "language": "de", "page": "https://x/"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
        ),
        (
            http.post(&url).header("Origin", "https://evil.example").json(&json!({"config_version": version, "action": "accept_all", "language": "de"})),
            StatusCode::FORBIDDEN,
            "forbidden",
        ),
        (
            http.post(server.url("/v1/sites/nope/consents")).json(&json!({"config_version": version, "action": "accept_all", "language": "de"})),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (http.get(server.url("/v1/no/such/route")), StatusCode::NOT_FOUND, "not_found"),
    ];
    for (i, (req, status, code)) in cases.into_iter().enumerate() {
        let (got, body) = send(req).await;
        assert_eq!((got, error_code(&body)), (status, code), "case {i}: {body}");
        assert!(!body["error"]["message"].as_str().unwrap().is_empty());
    }
    let (_, unknown_service) = send(
        http.post(&url).json(&json!({"config_version": version, "action": "custom", "services": {"hotjar": true}, "language": "de"})),
    )
    .await;
    assert_eq!(
        unknown_service["error"]["details"][0]["path"],
        "services.hotjar"
    );

    // Nothing of the above reached the ledger.
    let key = demo_key(&server, "saas");
    let verify: Value = http
        .get(server.url("/v1/admin/sites/saas/verify"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(verify["records"], 0, "{verify}");
}

#[tokio::test]
async fn a_proof_shows_every_record_with_its_links_and_the_config_shown_and_keys_stay_with_their_site()
 {
    let server = TestServer::start().await.unwrap();
    let http = reqwest::Client::new();
    let version = config_version(&http, &server, "saas").await;
    let (_, other) = post(
        &http,
        &server,
        "saas",
        &json!({"config_version": version, "action": "accept_all", "language": "de"}),
    )
    .await;
    let (_, first) = post(
        &http,
        &server,
        "saas",
        &json!({"config_version": version, "action": "accept_all", "language": "de"}),
    )
    .await;
    let id = first["consent_id"].as_str().unwrap();
    post(&http, &server, "saas", &json!({"consent_id": id, "config_version": version, "action": "withdraw", "language": "de"})).await;

    let saas = demo_key(&server, "saas");
    let coaching = demo_key(&server, "coaching");
    let proof_url = server.url(&format!("/v1/admin/sites/saas/consents/{id}/proof"));
    let proof: Value = http
        .get(&proof_url)
        .bearer_auth(&saas)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(proof["verified"], true, "{proof}");
    let records = proof["records"].as_array().unwrap();
    assert_eq!(records.len(), 2);
    assert_eq!(records[0]["record"]["seq"], 2);
    assert_eq!(records[0]["record"]["prev_hash"], other["record_hash"]);
    assert_eq!(records[1]["record"]["action"], "withdraw");
    assert!(
        records[0]["record"]["personal"]["ip_hash"]
            .as_str()
            .unwrap()
            .len()
            == 64,
        "the operator sees pseudonyms"
    );
    assert_eq!(
        proof["configs"][&version]["site"]["name"], "Taskwerk",
        "the exact config shown is part of the proof"
    );

    for (key, status) in [
        (None, StatusCode::UNAUTHORIZED),
        (Some("kd_wrong"), StatusCode::FORBIDDEN),
        (Some(coaching.as_str()), StatusCode::FORBIDDEN),
    ] {
        for url in [proof_url.clone(), server.url("/v1/admin/sites/saas/verify")] {
            let mut req = http.get(&url);
            if let Some(k) = key {
                req = req.bearer_auth(k);
            }
            let resp = req.send().await.unwrap();
            assert_eq!(resp.status(), status, "{url} with {key:?}");
            let body: Value = resp.json().await.unwrap();
            assert!(body.get("records").is_none(), "nothing leaks: {body}");
        }
    }

    let verify: Value = http
        .get(server.url("/v1/admin/sites/saas/verify"))
        .bearer_auth(&saas)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (verify["verified"].clone(), verify["records"].clone()),
        (json!(true), json!(3))
    );
}

/// Publishes the saas site's config with "Accept all" in English reworded to
/// "Yes to all"; its new version.
async fn publish_yes_to_all(http: &reqwest::Client, server: &TestServer) -> String {
    let mut config = get_json(http, server, "/v1/sites/saas/config", None).await["config"].clone();
    config["texts"] = json!({ "en": { "accept_all": "Yes to all" } });
    let resp = http
        .put(server.url("/v1/admin/sites/saas/config"))
        .bearer_auth(demo_key(server, "saas"))
        .json(&config)
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{}", resp.text().await.unwrap());
    config_version(http, server, "saas").await
}

/// The banner's view of the config: one language, the one the site offers
/// nearest the page's (the loader's rule), of the version the loader decides
/// with (an old one too, after a publish), worded by the server; cached with an
/// ETag; bad queries and unknown versions are clear 4xx errors.
#[tokio::test]
async fn the_banner_view_is_one_language_of_the_version_asked_for() {
    let server = TestServer::start().await.unwrap();
    let http = reqwest::Client::new();
    let old = config_version(&http, &server, "saas").await;
    let get = |query: &str| {
        http.get(server.url(&format!("/v1/sites/saas/banner{query}")))
            .header("Origin", server.base_url())
            .send()
    };
    let resp = get("?lang=en-GB").await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["access-control-allow-origin"],
        server.base_url()
    );
    let etag = resp.headers()["etag"].to_str().unwrap().to_string();
    assert!(etag.starts_with(&format!("\"{old}.")), "{etag}");
    let en: Value = resp.json().await.unwrap();
    assert_eq!(en["version"], old.as_str());
    assert_eq!(en["lang"], "en");
    assert_eq!(en["texts"]["accept_all"], "Accept all");
    let mixpanel = en["categories"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["services"].as_array().unwrap())
        .find(|s| s["id"] == "mixpanel")
        .unwrap();
    assert_eq!(mixpanel["legal_basis"], "Consent (Art. 6(1)(a) GDPR)");
    assert_eq!(en["categories"][0]["id"], "necessary");

    // Without a language, or one the site does not offer: the site's first.
    for query in ["", "?lang=fr", "?lang=pt-BR", &format!("?version={old}")] {
        let body: Value = get(query).await.unwrap().json().await.unwrap();
        assert_eq!(body["lang"], "de", "{query}");
        assert_eq!(body["texts"]["accept_all"], "Alle akzeptieren");
    }
    let cached = http
        .get(server.url("/v1/sites/saas/banner?lang=en"))
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(cached.status(), StatusCode::NOT_MODIFIED);

    // A new version published: the old one is still served by name.
    let new = publish_yes_to_all(&http, &server).await;
    assert_ne!(new, old);
    let current: Value = get("?lang=en").await.unwrap().json().await.unwrap();
    assert_eq!(
        (
            current["version"].as_str(),
            current["texts"]["accept_all"].as_str()
        ),
        (Some(new.as_str()), Some("Yes to all"))
    );
    let earlier: Value = get(&format!("?lang=en&version={old}"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            earlier["version"].as_str(),
            earlier["texts"]["accept_all"].as_str()
        ),
        (Some(old.as_str()), Some("Accept all"))
    );

    for (query, status) in [
        ("?version=nope", StatusCode::NOT_FOUND),
        ("?version=%00", StatusCode::BAD_REQUEST),
        ("?lang=..%2Fetc", StatusCode::BAD_REQUEST),
        ("?langs=en", StatusCode::BAD_REQUEST),
        ("?lang=en&lang=de", StatusCode::BAD_REQUEST),
    ] {
        let resp = get(query).await.unwrap();
        assert_eq!(resp.status(), status, "{query}");
        let body: Value = resp.json().await.unwrap();
        error_code(&body);
    }
    let resp = http
        .get(server.url("/v1/sites/nope/banner"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_openapi_document_is_served_and_names_every_endpoint() {
    let server = TestServer::start().await.unwrap();
    let served = reqwest::get(server.url("/v1/openapi.json"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let committed =
        std::fs::read_to_string(keksdose_tests::workspace_root().join("server/openapi.json"))
            .unwrap();
    assert_eq!(served, committed);
    let doc: Value = serde_json::from_str(&served).unwrap();
    for (path, method) in [
        ("/v1/sites/{site}/config", "get"),
        ("/v1/sites/{site}/banner", "get"),
        ("/v1/sites/{site}/loader", "get"),
        ("/v1/sites/{site}/consents", "post"),
        ("/v1/consents/{consent_id}", "get"),
        ("/v1/admin/sites/{site}/consents/{consent_id}/proof", "get"),
        ("/v1/admin/sites/{site}/consents", "get"),
        ("/v1/admin/sites/{site}/consents", "post"),
        (
            "/v1/admin/sites/{site}/consents/{consent_id}/withdraw",
            "post",
        ),
        ("/v1/admin/sites/{site}/verify", "get"),
        ("/v1/admin/sites/{site}/config", "put"),
        ("/v1/admin/sites/{site}/stats", "get"),
        ("/v1/admin/sites/{site}/subjects/{subject}", "delete"),
        ("/v1/keys", "get"),
        ("/.well-known/gpc.json", "get"),
    ] {
        assert!(
            doc["paths"][path][method].is_object(),
            "{method} {path} is not documented"
        );
    }
}

/// What the per-site loader carries, as JSON for `/k.js` with `data-site`: the
/// current version's config, the first layer's stylesheet and its markup in
/// every language the site offers — the very text written into `/s/SITE/k.js`;
/// cached with an ETag, CORS for the site's origins only, a new one after a
/// publish; a query or an unknown site is a clear 4xx.
#[tokio::test]
async fn the_loaders_data_is_what_the_per_site_loader_carries() {
    let server = TestServer::start().await.unwrap();
    let http = reqwest::Client::new();
    let get = |origin: &str| {
        http.get(server.url("/v1/sites/saas/loader"))
            .header("Origin", origin)
            .send()
    };
    let old = config_version(&http, &server, "saas").await;
    let resp = get(server.base_url()).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["access-control-allow-origin"],
        server.base_url()
    );
    let etag = resp.headers()["etag"].to_str().unwrap().to_string();
    assert!(etag.starts_with(&format!("\"{old}.")), "{etag}");
    let text = resp.text().await.unwrap();
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["published"]["site"], "saas");
    assert_eq!(body["published"]["version"], old.as_str());
    assert!(body["published"]["config"]["services"].is_array(), "{body}");
    assert!(
        body["css"].as_str().is_some_and(|c| c.contains(":host")),
        "{body}"
    );
    let config = get_json(&http, &server, "/v1/sites/saas/config", None).await;
    let offered: Vec<&str> = config["config"]["site"]["languages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    let first = body["first"].as_object().unwrap();
    assert_eq!(
        first.keys().map(String::as_str).collect::<Vec<_>>(),
        {
            let mut o = offered.clone();
            o.sort();
            o
        },
        "a first layer per offered language"
    );
    assert!(first["de"].as_str().unwrap().contains("Alle akzeptieren"));
    assert!(first["en"].as_str().unwrap().contains("Accept all"));
    // The per-site loader carries the same text.
    let loader = http
        .get(server.url("/s/saas/k.js"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        loader.contains(&text),
        "the per-site loader carries the same data"
    );

    let foreign = get("https://elsewhere.example").await.unwrap();
    assert_eq!(foreign.status(), 200);
    assert!(
        foreign
            .headers()
            .get("access-control-allow-origin")
            .is_none(),
        "no CORS for another origin"
    );
    let cached = http
        .get(server.url("/v1/sites/saas/loader"))
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(cached.status(), StatusCode::NOT_MODIFIED);

    // A new version published: its config and its words, under a new ETag.
    let new = publish_yes_to_all(&http, &server).await;
    let resp = http
        .get(server.url("/v1/sites/saas/loader"))
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "the old ETag no longer matches");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["published"]["version"], new.as_str());
    assert!(body["first"]["en"].as_str().unwrap().contains("Yes to all"));

    for (path, status) in [
        ("/v1/sites/saas/loader?lang=en", StatusCode::BAD_REQUEST),
        ("/v1/sites/nope/loader", StatusCode::NOT_FOUND),
    ] {
        let resp = http.get(server.url(path)).send().await.unwrap();
        assert_eq!(resp.status(), status, "{path}");
        let body: Value = resp.json().await.unwrap();
        error_code(&body);
    }
}

#[tokio::test]
async fn cors_preflight_is_answered_for_the_sites_origins_only_and_gpc_is_declared() {
    let server = TestServer::start().await.unwrap();
    let http = reqwest::Client::new();
    let preflight = |origin: &str| {
        http.request(
            reqwest::Method::OPTIONS,
            server.url("/v1/sites/saas/consents"),
        )
        .header("Origin", origin)
        .header("Access-Control-Request-Method", "POST")
        .header("Access-Control-Request-Headers", "content-type")
        .send()
    };
    let ok = preflight(server.base_url()).await.unwrap();
    assert_eq!(ok.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        ok.headers()["access-control-allow-origin"],
        server.base_url()
    );
    assert!(
        ok.headers()["access-control-allow-methods"]
            .to_str()
            .unwrap()
            .contains("POST")
    );
    let foreign = preflight("https://evil.example").await.unwrap();
    assert_eq!(foreign.status(), StatusCode::FORBIDDEN);
    assert!(
        foreign
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );

    let gpc: Value = http
        .get(server.url("/.well-known/gpc.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(gpc["gpc"], true);
    let health: Value = http
        .get(server.url("/healthz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");
}
