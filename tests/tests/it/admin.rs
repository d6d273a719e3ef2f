//! The admin API: search and export (checked by an independent RFC 8785
//! implementation, as an auditor would), withdrawals on a visitor's behalf,
//! backend consents with double opt-in, subjects (access, erasure), stats,
//! config publishing, signed checkpoints, and key isolation on every route.

use std::io::Write as _;
use std::process::{Command, Stdio};

use base64::Engine as _;
use keksdose_tests::{TestServer, workspace_root};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::api::{config_version, demo_key, post};

/// A demo server and the coaching site's key (also the retention tests').
pub(crate) struct Admin {
    pub(crate) server: TestServer,
    pub(crate) http: reqwest::Client,
    pub(crate) key: String,
}

impl Admin {
    async fn start() -> Admin {
        Admin::on(TestServer::start().await.unwrap())
    }

    /// `server`, with its coaching site's key.
    pub(crate) fn on(server: TestServer) -> Admin {
        let key = demo_key(&server, "coaching");
        Admin {
            server,
            http: reqwest::Client::new(),
            key,
        }
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        let resp = self
            .http
            .get(self.server.url(path))
            .bearer_auth(&self.key)
            .send()
            .await
            .unwrap();
        (resp.status(), resp.json().await.unwrap_or(Value::Null))
    }

    async fn text(&self, path: &str) -> String {
        let resp = self
            .http
            .get(self.server.url(path))
            .bearer_auth(&self.key)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        resp.text().await.unwrap()
    }

    pub(crate) async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .http
            .request(method, self.server.url(path))
            .bearer_auth(&self.key);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        (resp.status(), resp.json().await.unwrap_or(Value::Null))
    }

    async fn banner(&self, action: &str) -> Value {
        let version = config_version(&self.http, &self.server, "coaching").await;
        let (status, receipt) =
            post(&self.http, &self.server, "coaching", &json!({"config_version": version, "action": action, "language": "de", "page": "/kurse"}))
                .await;
        assert_eq!(status, 201, "{receipt}");
        receipt
    }
}

/// Recomputes every record hash and chain link of an NDJSON export with
/// `canonicalize` (the RFC 8785 reference implementation, from npm) in node.
fn audit_with_independent_jcs(ndjson: &str) -> Value {
    const SCRIPT: &str = r#"
import canonicalize from 'canonicalize';
import { createHash } from 'node:crypto';
const sha = (s) => createHash('sha256').update(s, 'utf8').digest('hex');
let input = ''; process.stdin.on('data', (d) => (input += d));
process.stdin.on('end', () => {
  let prev = null, checked = 0, bad = [];
  for (const line of input.split('\n').filter(Boolean)) {
    const r = JSON.parse(line);
    const { record_hash, personal, ...hashed } = r;
    if (sha(canonicalize(hashed)) !== record_hash) bad.push(`hash ${r.seq}`);
    if (personal && sha(canonicalize(personal)) !== r.personal_hash) bad.push(`personal ${r.seq}`);
    if (prev !== null && r.prev_hash !== prev) bad.push(`link ${r.seq}`);
    if (prev === null && r.seq === 1 && r.prev_hash !== '0'.repeat(64)) bad.push('genesis');
    prev = record_hash; checked += 1;
  }
  console.log(JSON.stringify({ checked, bad }));
});"#;
    let mut child = Command::new("node")
        .args(["--input-type=module", "-e", SCRIPT])
        .current_dir(workspace_root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node runs (cargo xtask test installs the npm dev tools)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(ndjson.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "node failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test]
async fn an_auditor_recomputes_every_hash_of_an_ndjson_export_with_an_independent_jcs() {
    let a = Admin::start().await;
    for action in ["accept_all", "reject_all", "accept_all", "custom"] {
        a.banner(action).await;
    }
    let ndjson = a
        .text("/v1/admin/sites/coaching/consents?format=ndjson")
        .await;
    assert_eq!(ndjson.lines().count(), 4);
    assert_eq!(
        audit_with_independent_jcs(&ndjson),
        json!({"checked": 4, "bad": []})
    );

    // A tampered line is caught by the same audit.
    let tampered = ndjson.replacen("\"action\":\"reject_all\"", "\"action\":\"accept_all\"", 1);
    assert_eq!(
        audit_with_independent_jcs(&tampered)["bad"],
        json!(["hash 2"])
    );

    let csv = a.text("/v1/admin/sites/coaching/consents?format=csv").await;
    let mut lines = csv.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("seq,received_at,consent_id,action,")
    );
    assert_eq!(lines.count(), 4);
    assert!(csv.contains(",reject_all,banner,"));
}

#[tokio::test]
async fn search_pages_with_a_cursor_and_filters_by_time() {
    let a = Admin::start().await;
    for _ in 0..5 {
        a.banner("accept_all").await;
    }
    let (_, first) = a.get("/v1/admin/sites/coaching/consents?limit=2").await;
    let seqs = |v: &Value| {
        v["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["seq"].as_u64().unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(seqs(&first), [1, 2]);
    assert_eq!(first["next_cursor"], 2);
    let (_, second) = a
        .get("/v1/admin/sites/coaching/consents?limit=2&cursor=2")
        .await;
    assert_eq!(seqs(&second), [3, 4]);
    let (_, last) = a
        .get("/v1/admin/sites/coaching/consents?limit=2&cursor=4")
        .await;
    assert_eq!(
        (seqs(&last), last["next_cursor"].clone()),
        (vec![5], Value::Null)
    );

    let (_, future) = a
        .get("/v1/admin/sites/coaching/consents?from=2999-01-01")
        .await;
    assert_eq!(seqs(&future), Vec::<u64>::new());
    let (_, past) = a
        .get("/v1/admin/sites/coaching/consents?from=2000-01-01&to=2999-01-01")
        .await;
    assert_eq!(seqs(&past).len(), 5);
    let (status, bad) = a
        .get("/v1/admin/sites/coaching/consents?from=gestern")
        .await;
    assert_eq!(
        (status, bad["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("bad_request"))
    );
}

#[tokio::test]
async fn newsletter_double_opt_in_is_provable_and_subjects_can_be_accessed_and_erased() {
    let a = Admin::start().await;
    let path = "/v1/admin/sites/coaching/consents";
    let (status, err) = a
        .send(
            reqwest::Method::POST,
            path,
            Some(json!({"subject": "user-4711", "purposes": {"newsletter": "granted"}})),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "confirmation before request: {err}"
    );
    let (status, err) = a
        .send(
            reqwest::Method::POST,
            path,
            Some(json!({"purposes": {"fax": "granted"}})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");

    let (status, requested) = a
        .send(
            reqwest::Method::POST,
            path,
            Some(json!({"subject": "user-4711", "purposes": {"newsletter": "requested"}})),
        )
        .await;
    assert_eq!(status, 201, "{requested}");
    let id = requested["consent_id"].as_str().unwrap();
    let (status, confirmed) = a
        .send(
            reqwest::Method::POST,
            path,
            Some(json!({"consent_id": id, "purposes": {"newsletter": "granted"}})),
        )
        .await;
    assert_eq!(status, 201, "{confirmed}");

    // A banner decision of the same person, linked afterwards.
    let banner = a.banner("accept_all").await;
    let (status, linked) = a
        .send(
            reqwest::Method::POST,
            "/v1/admin/sites/coaching/subjects/user-4711",
            Some(json!({"consent_id": banner["consent_id"]})),
        )
        .await;
    assert_eq!(status, 200, "{linked}");
    assert_eq!(linked["consents"].as_array().unwrap().len(), 2);

    let (_, access) = a.get("/v1/admin/sites/coaching/subjects/user-4711").await;
    let consents = access["consents"].as_array().unwrap();
    let newsletter = consents.iter().find(|c| c["consent_id"] == id).unwrap();
    let states: Vec<&Value> = newsletter["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["purposes"]["newsletter"])
        .collect();
    assert_eq!(states, [&json!("requested"), &json!("granted")]);
    assert_eq!(newsletter["records"][0]["source"], "backend");
    assert!(
        !access.to_string().contains("user-4711"),
        "the user id itself is never stored"
    );

    let (status, erased) = a
        .send(
            reqwest::Method::DELETE,
            "/v1/admin/sites/coaching/subjects/user-4711",
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(erased["erased_records"], 3);
    let (_, after) = a.get("/v1/admin/sites/coaching/subjects/user-4711").await;
    assert_eq!(after["consents"], json!([]));
    let (_, proof) = a
        .get(&format!("/v1/admin/sites/coaching/consents/{id}/proof"))
        .await;
    assert!(
        proof["records"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["record"].get("personal").is_none())
    );
    assert_eq!(
        proof["verified"], true,
        "erasure keeps the chain verifiable: {proof}"
    );
    let (_, verify) = a.get("/v1/admin/sites/coaching/verify").await;
    assert_eq!(verify["verified"], true);
}

#[tokio::test]
async fn an_operator_withdraws_on_the_visitors_behalf_and_stats_count_decisions() {
    let a = Admin::start().await;
    let receipt = a.banner("accept_all").await;
    a.banner("reject_all").await;
    let id = receipt["consent_id"].as_str().unwrap();
    let (status, w) = a
        .send(
            reqwest::Method::POST,
            &format!("/v1/admin/sites/coaching/consents/{id}/withdraw"),
            None,
        )
        .await;
    assert_eq!(status, 201, "{w}");
    let history: Value = a
        .http
        .get(a.server.url(&format!("/v1/consents/{id}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let last = history["records"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(
        (last["action"].as_str(), last["source"].as_str()),
        (Some("withdraw"), Some("operator"))
    );
    assert_eq!(last["choices"]["services"]["youtube"], false);
    let (status, _) = a
        .send(
            reqwest::Method::POST,
            "/v1/admin/sites/coaching/consents/AAAAAAAAAAAAAAAAAAAAAA/withdraw",
            None,
        )
        .await;
    assert_eq!(status, 404);

    let (_, stats) = a.get("/v1/admin/sites/coaching/stats").await;
    let days = stats["days"].as_object().unwrap();
    assert_eq!(days.len(), 1, "{stats}");
    let today = days.values().next().unwrap();
    assert_eq!(today["decisions"], 2, "banner decisions only: {stats}");
    assert_eq!(today["actions"], json!({"accept_all": 1, "reject_all": 1}));
    assert_eq!(today["allowed"]["social"], 1);
    assert_eq!(today["allowed"]["necessary"], 2);
}

#[tokio::test]
async fn a_new_config_version_is_published_after_validation_and_old_ones_stay_provable() {
    let a = Admin::start().await;
    let receipt = a.banner("accept_all").await;
    let old: Value = a
        .http
        .get(a.server.url("/v1/sites/coaching/config"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut config = old["config"].clone();
    config["site"]["policy_version"] = json!("Stand: 01.12.2026");

    let mut broken = config.clone();
    broken["consent"]["lifetime"] = json!("ewig");
    broken["services"][0]["legal_basis"] = json!("consent");
    let (status, err) = a
        .send(
            reqwest::Method::PUT,
            "/v1/admin/sites/coaching/config",
            Some(broken),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        err["error"]["details"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["path"] == "consent.lifetime"),
        "{err}"
    );

    let (status, published) = a
        .send(
            reqwest::Method::PUT,
            "/v1/admin/sites/coaching/config",
            Some(config),
        )
        .await;
    assert_eq!(status, 200, "{published}");
    assert_eq!(published["previous"], old["version"]);
    assert_ne!(published["version"], old["version"]);
    let new: Value = a
        .http
        .get(a.server.url("/v1/sites/coaching/config"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(new["version"], published["version"]);

    let (_, proof) = a
        .get(&format!(
            "/v1/admin/sites/coaching/consents/{}/proof",
            receipt["consent_id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(
        proof["configs"][old["version"].as_str().unwrap()]["site"]["policy_version"],
        old["config"]["site"]["policy_version"]
    );
}

#[tokio::test]
async fn checkpoints_are_signed_with_the_published_key_and_cover_the_proof() {
    let a = Admin::start().await;
    let receipt = a.banner("accept_all").await;
    let (status, checkpoint) = a
        .send(
            reqwest::Method::POST,
            "/v1/admin/sites/coaching/checkpoints",
            None,
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(
        (checkpoint["seq"].clone(), checkpoint["head_hash"].clone()),
        (json!(1), receipt["record_hash"].clone())
    );

    let keys: Value = a
        .http
        .get(a.server.url("/v1/keys"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let jwk = &keys["keys"][0];
    assert_eq!(
        (jwk["kid"].clone(), jwk["crv"].as_str()),
        (checkpoint["key_id"].clone(), Some("Ed25519"))
    );
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let public: [u8; 32] = b64
        .decode(jwk["x"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    let signature: [u8; 64] = b64
        .decode(checkpoint["signature"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    let mut signed = checkpoint.clone();
    signed.as_object_mut().unwrap().remove("signature");
    let message = keksdose_shared::canonical::to_canonical_json(&signed).unwrap();
    let key = ed25519_dalek::VerifyingKey::from_bytes(&public).unwrap();
    key.verify_strict(
        message.as_bytes(),
        &ed25519_dalek::Signature::from_bytes(&signature),
    )
    .expect("the signature verifies");

    let (_, proof) = a
        .get(&format!(
            "/v1/admin/sites/coaching/consents/{}/proof",
            receipt["consent_id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(proof["checkpoint"], checkpoint);
    assert_eq!(proof["checkpoint_signature_valid"], true);
    let (_, verify) = a.get("/v1/admin/sites/coaching/verify").await;
    assert_eq!(
        (
            verify["verified"].clone(),
            verify["checkpoint_matches"].clone()
        ),
        (json!(true), json!(true))
    );
}
