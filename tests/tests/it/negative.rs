//! Hostile input, driven by the served OpenAPI document: every operation of
//! `/v1/openapi.json` is called with bad and foreign API keys, malformed path and
//! query parameters, and bodies that are not JSON, of the wrong shape, missing
//! each required field, with each field of the wrong type, with extra fields and
//! oversized. Every answer must be one of the operation's documented statuses,
//! never a 5xx, and every error must be the API's JSON error for its status.
//!
//! `KEKSDOSE_NEGATIVE_ROUNDS` repeats the whole run (`cargo xtask soak` does).
//! The isolation table (every admin operation, every pair of sites) is here too:
//! it is driven by the same document.

use reqwest::{Method, StatusCode};
use serde_json::{Map, Value, json};

use keksdose_tests::TestServer;

use crate::api::{decide, demo_key, get_json, verify};

/// One request to send.
struct Case {
    what: String,
    method: Method,
    path: String,
    key: Option<String>,
    content_type: Option<&'static str>,
    body: Option<Vec<u8>>,
    /// The input is odd but valid (any string is a site's user id; a nullable
    /// field may be null): a 2xx is right. Every other case must be refused.
    may_succeed: bool,
}

/// A schema with `$ref`s resolved against the document.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(r) => {
            let name = r.trim_start_matches("#/components/schemas/");
            resolve(doc, &doc["components"]["schemas"][name])
        }
        None => schema,
    }
}

/// A value of another JSON type than `v` (and than the schema wants).
fn wrong_types(v: &Value) -> Vec<Value> {
    let all = [
        json!(7),
        json!("text"),
        json!(true),
        json!([1, 2]),
        json!({"x": 1}),
        Value::Null,
    ];
    all.into_iter()
        .filter(|w| std::mem::discriminant(w) != std::mem::discriminant(v))
        .collect()
}

/// Bad versions of a valid object body: each field missing, each field of each
/// wrong type, an extra field, an oversized string, and not an object at all.
fn bad_bodies(doc: &Value, schema: &Value, valid: &Value) -> Vec<(String, Value, bool)> {
    let schema = resolve(doc, schema);
    let mut out = Vec::new();
    let obj = valid.as_object().unwrap();
    for required in schema["required"].as_array().into_iter().flatten() {
        let name = required.as_str().unwrap();
        let mut b = obj.clone();
        b.remove(name);
        out.push((format!("without {name}"), Value::Object(b), false));
    }
    let props: Vec<String> = schema["properties"]
        .as_object()
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default();
    for name in &props {
        let current = obj.get(name).cloned().unwrap_or(json!("x"));
        let nullable = schema["properties"][name]["type"]
            .as_array()
            .is_some_and(|t| t.contains(&json!("null")));
        for w in wrong_types(&current) {
            let mut b = obj.clone();
            b.insert(name.clone(), w.clone());
            out.push((
                format!("{name} = {w}"),
                Value::Object(b),
                w.is_null() && nullable,
            ));
        }
        let mut b = obj.clone();
        b.insert(name.clone(), json!("é".repeat(40_000)));
        out.push((format!("{name} = 80 KB string"), Value::Object(b), false));
    }
    let mut b = obj.clone();
    b.insert("unexpected_field".into(), json!(1));
    out.push(("an extra field".into(), Value::Object(b), false));
    out.push(("[]".into(), json!([]), false));
    out.push(("null".into(), Value::Null, false));
    out.push(("a string".into(), json!("hello"), false));
    out.push(("{}".into(), Value::Object(Map::new()), false));
    out
}

/// Malformed values for a path or query parameter.
fn bad_params(name: &str) -> Vec<String> {
    let mut v = vec![
        "nope".to_string(),
        "x".repeat(3000),
        "%00".into(),
        "%FF%FE".into(),
        "..%2F..%2Fetc".into(),
        "-1".into(),
        "%20".into(),
    ];
    if matches!(name, "from" | "to") {
        v.push("yesterday".into());
        v.push("2024-13-45T99:00:00Z".into());
    }
    if name == "limit" {
        v.extend(["0".into(), "abc".into(), "99999999999999999999".into()]);
    }
    v
}

#[tokio::test]
async fn every_operation_answers_malformed_and_foreign_input_with_a_documented_4xx_never_a_5xx() {
    let server = TestServer::start().await.unwrap();
    let http = reqwest::Client::new();
    let doc = get_json(&http, &server, "/v1/openapi.json", None).await;
    let saas_key = demo_key(&server, "saas");
    let coaching_key = demo_key(&server, "coaching");
    let receipt = decide(&http, &server, "saas", "accept_all").await;
    let consent_id = receipt["consent_id"].as_str().unwrap().to_string();
    let config = get_json(&http, &server, "/v1/sites/saas/config", None).await;
    let version = config["version"].as_str().unwrap().to_string();
    let users = get_json(&http, &server, "/v1/admin/sites/saas/users", Some("saas")).await;
    let user_id = users["users"][0]["id"].as_str().unwrap().to_string();

    // A valid body per request schema: bad ones are made from it.
    let valid_body = |schema_ref: &str| -> Value {
        match schema_ref.trim_start_matches("#/components/schemas/") {
            "ConsentRequest" => {
                json!({"config_version": version, "action": "custom", "language": "de",
                       "categories": {"analytics": true}, "services": {}, "page": "/x",
                       "signals": {"gpc": false, "dnt": false}})
            }
            "BackendConsent" => {
                json!({"subject": "u1", "purposes": {"newsletter": "requested"}, "language": "de",
                       "client": {"ip": "203.0.113.7", "user_agent": "Mozilla/5.0"}})
            }
            "MatchClient" => json!({"ip": "203.0.113.7", "user_agent": "Mozilla/5.0"}),
            "Link" => json!({"consent_id": consent_id}),
            "NewUser" => json!({"email": "neg@example.org", "role": "dpo"}),
            "RoleChange" => json!({"role": "dpo"}),
            "SiteConfig" => config["config"].clone(),
            other => panic!("no valid example for request schema {other}: add one"),
        }
    };

    let mut cases = Vec::new();
    for (template, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            let method: Method = method.to_uppercase().parse().unwrap();
            let secured = op.get("security").is_some();
            let params: Vec<(String, String)> = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| {
                    (
                        p["name"].as_str().unwrap().to_string(),
                        p["in"].as_str().unwrap().to_string(),
                    )
                })
                .collect();
            let fill = |name: &str, bad: Option<&str>| -> String {
                let mut path = template.clone();
                for (p, _) in params.iter().filter(|(_, at)| at == "path") {
                    let value = match (bad, p.as_str()) {
                        (Some(b), _) if p == name => b.to_string(),
                        (_, "site") => "saas".into(),
                        (_, "consent_id") => consent_id.clone(),
                        (_, "subject") => "u1".into(),
                        (_, "id") => user_id.clone(),
                        (_, other) => panic!("no value for path parameter {other}"),
                    };
                    path = path.replace(&format!("{{{p}}}"), &value);
                }
                path
            };
            let good_path = fill("", None);
            let key = secured.then(|| saas_key.clone());
            let schema_ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
                .as_str()
                .map(String::from);
            let good_body = schema_ref
                .as_deref()
                .map(|r| serde_json::to_vec(&valid_body(r)).unwrap());
            let case =
                |what: String, path: String, key: Option<String>, ct, body, may_succeed| Case {
                    what: format!("{method} {template}: {what}"),
                    method: method.clone(),
                    path,
                    key,
                    content_type: ct,
                    body,
                    may_succeed,
                };

            if secured {
                for (what, k) in [
                    ("no key", None),
                    ("an empty key", Some(String::new())),
                    ("a made-up key", Some("kd_notakey".to_string())),
                    ("a key of 10 KB", Some("k".repeat(10_000))),
                    ("another site's key", Some(coaching_key.clone())),
                ] {
                    cases.push(case(
                        what.into(),
                        good_path.clone(),
                        k,
                        good_body.as_ref().map(|_| "application/json"),
                        good_body.clone(),
                        false,
                    ));
                }
            }
            for (p, at) in &params {
                for bad in bad_params(p) {
                    let path = if at == "path" {
                        fill(p, Some(&bad))
                    } else if at == "query" {
                        format!("{good_path}?{p}={bad}")
                    } else {
                        continue; // headers: If-None-Match below
                    };
                    cases.push(case(
                        format!("{p} = {:.40}", bad),
                        path,
                        key.clone(),
                        good_body.as_ref().map(|_| "application/json"),
                        good_body.clone(),
                        // Any subject may be asked for; a consent ID the
                        // site does not know gives a declaration without a
                        // visitor (a browser's cookie may outlive its record).
                        p == "subject" || p == "consent",
                    ));
                }
            }
            if let Some(r) = &schema_ref {
                let schema = json!({"$ref": r});
                for (what, b, may_succeed) in bad_bodies(&doc, &schema, &valid_body(r)) {
                    cases.push(case(
                        format!("body {what:.60}"),
                        good_path.clone(),
                        key.clone(),
                        Some("application/json"),
                        Some(serde_json::to_vec(&b).unwrap()),
                        may_succeed,
                    ));
                }
                for (what, ct, body) in [
                    ("not JSON", Some("application/json"), b"{\"a\":".to_vec()),
                    ("empty", Some("application/json"), Vec::new()),
                    ("text/plain", Some("text/plain"), good_body.clone().unwrap()),
                    ("no content type", None, good_body.clone().unwrap()),
                    (
                        "invalid UTF-8",
                        Some("application/json"),
                        vec![b'"', 0xff, 0xfe, b'"'],
                    ),
                    ("deeply nested", Some("application/json"), {
                        let mut v = "[".repeat(100_000).into_bytes();
                        v.extend("]".repeat(100_000).into_bytes());
                        v
                    }),
                    ("3 MB", Some("application/json"), vec![b' '; 3 << 20]),
                ] {
                    cases.push(case(
                        format!("body {what}"),
                        good_path.clone(),
                        key.clone(),
                        ct,
                        Some(body),
                        false,
                    ));
                }
            }
        }
    }

    let rounds = keksdose_tests::env_number("KEKSDOSE_NEGATIVE_ROUNDS", 1) as usize;
    let mut sent = 0;
    let mut failures = Vec::new();
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    for _ in 0..rounds {
        for c in &cases {
            let mut req = http.request(c.method.clone(), server.url(&c.path));
            if let Some(k) = &c.key {
                req = req.header("Authorization", format!("Bearer {k}"));
            }
            if let Some(ct) = c.content_type {
                req = req.header("Content-Type", ct);
            }
            if let Some(b) = &c.body {
                req = req.body(b.clone());
            }
            let resp = req.send().await.unwrap();
            sent += 1;
            let status = resp.status();
            *statuses.entry(status.as_u16()).or_default() += 1;
            let (template, method) = doc_op_of(&doc, &c.what);
            let documented = doc["paths"][template][method]["responses"]
                .as_object()
                .unwrap()
                .contains_key(status.as_str());
            let text = resp.text().await.unwrap_or_default();
            let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            let well_formed_error = status.is_success()
                || status == StatusCode::NOT_MODIFIED
                || body["error"]["code"].as_str().is_some_and(|code| {
                    serde_json::from_value::<keksdose_shared::api::ErrorCode>(json!(code))
                        .is_ok_and(|c| c.status() == status.as_u16())
                });
            let refused_as_it_should = c.may_succeed || status.is_client_error();
            if status.is_server_error()
                || !documented
                || !well_formed_error
                || !refused_as_it_should
            {
                failures.push(format!("{}: {status} {:.200}", c.what, text));
            }
        }
    }
    println!(
        "NEGATIVE RESULT operations: {}, cases sent: {sent}, 5xx: {}, failures: {}, statuses: {statuses:?}",
        doc["paths"]
            .as_object()
            .unwrap()
            .values()
            .map(|o| o.as_object().unwrap().len())
            .sum::<usize>(),
        failures.iter().filter(|f| f.contains(": 5")).count(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {sent} answers were a 5xx, undocumented, not the JSON error, or accepted bad input:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // The cases did reach the checks they aim at, not only the key check.
    for code in [400, 401, 403, 404, 413, 415, 422] {
        assert!(statuses.contains_key(&code), "no {code} among {statuses:?}");
    }
    assert!(sent >= 400 * rounds, "only {sent} cases");
}

/// The path template and method a case's description starts with.
fn doc_op_of<'a>(doc: &'a Value, what: &str) -> (&'a str, String) {
    let (method, rest) = what.split_once(' ').unwrap();
    let template = rest.split_once(": ").unwrap().0;
    let (key, _) = doc["paths"]
        .as_object()
        .unwrap()
        .get_key_value(template)
        .unwrap();
    (key.as_str(), method.to_lowercase())
}

/// The demo sites (one API key each).
const SITES: [&str; 7] = [
    "saas",
    "coaching",
    "sessionbutler",
    "dogandme",
    "sevdesk",
    "fluxcess",
    "tutory",
];

/// Isolation, table-driven from the OpenAPI document so that a new admin route is
/// covered the day it is added: every secured operation, for every pair of demo
/// sites, called on one site's data with the other's key, must answer 403 and
/// show nothing of it; afterwards no ledger has changed. Each key does work on
/// its own site, so the 403s are not a key that works nowhere.
#[tokio::test]
async fn no_site_key_reads_exports_withdraws_or_verifies_anything_of_another_site() {
    let server = TestServer::start().await.unwrap();
    let http = reqwest::Client::new();
    let doc = get_json(&http, &server, "/v1/openapi.json", None).await;
    let mut keys = std::collections::HashMap::new();
    let mut consents = std::collections::HashMap::new();
    let mut users = std::collections::HashMap::new();
    for site in SITES {
        keys.insert(site, demo_key(&server, site));
        // A user of this site only (the demo's accounts have a role on every site).
        let added: Value = http
            .post(server.url(&format!("/v1/admin/sites/{site}/users")))
            .bearer_auth(&keys[site])
            .json(&json!({"email": format!("only-{site}@example.org"), "role": "dpo"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        users.insert(site, added["user"]["id"].as_str().unwrap().to_string());
        let receipt = decide(&http, &server, site, "reject_all").await;
        consents.insert(site, receipt["consent_id"].as_str().unwrap().to_string());
    }
    // Each key works on its own site (the 403s below are not a key that works
    // nowhere), and what each ledger holds before.
    let mut before = Vec::new();
    for site in SITES {
        let r = verify(&http, &server, site).await;
        assert_eq!(r["verified"], true, "{r}");
        before.push(r["records"].clone());
    }

    let mut cases = 0;
    let mut leaks = Vec::new();
    let mut operations = 0;
    for (template, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            if op.get("security").is_none() {
                continue;
            }
            operations += 1;
            let method: Method = method.to_uppercase().parse().unwrap();
            let has_body = op.get("requestBody").is_some();
            for owner in SITES {
                let path = template
                    .replace("{site}", owner)
                    .replace("{consent_id}", &consents[owner])
                    .replace("{subject}", "u1")
                    .replace("{id}", &users[owner]);
                for intruder in SITES.iter().filter(|s| **s != owner) {
                    let mut req = http
                        .request(method.clone(), server.url(&path))
                        .bearer_auth(&keys[intruder]);
                    if has_body {
                        req = req.json(&json!({"consent_id": consents[owner], "subject": "u1",
                                               "purposes": {"newsletter": "requested"},
                                               "email": "intruder@example.org", "role": "admin"}));
                    }
                    let resp = req.send().await.unwrap();
                    let status = resp.status();
                    let text = resp.text().await.unwrap_or_default();
                    cases += 1;
                    if status != StatusCode::FORBIDDEN || text.contains(&consents[owner]) {
                        leaks.push(format!(
                            "{method} {path} with {intruder}'s key: {status} {text:.200}"
                        ));
                    }
                }
            }
        }
    }
    let mut after = Vec::new();
    for site in SITES {
        after.push(verify(&http, &server, site).await["records"].clone());
    }
    println!(
        "ISOLATION RESULT admin operations: {operations}, cases: {cases}, leaks: {}",
        leaks.len()
    );
    assert!(leaks.is_empty(), "{}", leaks.join("\n"));
    assert_eq!(before, after, "nothing was written through a foreign key");
    assert!(operations >= 11 && cases == operations * SITES.len() * (SITES.len() - 1));
}
