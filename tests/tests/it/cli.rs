//! The `keksdose` command line: sites and keys, config checks, offline verify,
//! export and purge, and the refusal of a second process on the same data.

use keksdose_tests::{TestServer, keksdose, output_text, workspace_root};
use serde_json::{Value, json};

#[test]
fn sites_are_created_listed_rekeyed_and_published_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = keksdose(
        &data,
        &[
            "site",
            "create",
            "--id",
            "shop",
            "--origin",
            "https://www.shop.de",
            "--config",
            "examples/sites/saas.toml",
            "--json",
        ],
    );
    assert!(out.status.success(), "{}", output_text(&out));
    let created: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(created["site"], "shop");
    let key = created["api_key"].as_str().unwrap().to_string();
    assert!(key.starts_with("kd_") && key.len() > 40);
    assert!(
        !std::fs::read_dir(&data).unwrap().any(|e| {
            let p = e.unwrap().path();
            p.is_file()
                && std::fs::read(&p)
                    .unwrap()
                    .windows(key.len())
                    .any(|w| w == key.as_bytes())
        }),
        "the key itself is not stored"
    );

    let again = keksdose(
        &data,
        &[
            "site",
            "create",
            "--id",
            "shop",
            "--origin",
            "https://www.shop.de",
            "--config",
            "examples/sites/saas.toml",
        ],
    );
    assert!(!again.status.success());
    assert!(
        output_text(&again).contains("exists already"),
        "{}",
        output_text(&again)
    );
    let bad = keksdose(
        &data,
        &[
            "site",
            "create",
            "--id",
            "Shop!",
            "--origin",
            "https://www.shop.de/path",
            "--config",
            "examples/sites/saas.toml",
        ],
    );
    assert!(!bad.status.success());

    let list = keksdose(&data, &["site", "list"]);
    assert!(
        output_text(&list).contains("shop") && output_text(&list).contains("https://www.shop.de"),
        "{}",
        output_text(&list)
    );

    let rotated = keksdose(&data, &["site", "key", "rotate", "--id", "shop", "--json"]);
    let rotated: Value = serde_json::from_slice(&rotated.stdout).unwrap();
    assert_ne!(rotated["api_key"], json!(key));

    let broken = dir.path().join("broken.toml");
    std::fs::write(
        &broken,
        std::fs::read_to_string(workspace_root().join("examples/sites/saas.toml"))
            .unwrap()
            .replace("lifetime = \"12mo\"", "lifetime = \"ewig\""),
    )
    .unwrap();
    let refused = keksdose(
        &data,
        &[
            "site",
            "config",
            "publish",
            "--id",
            "shop",
            "--config",
            broken.to_str().unwrap(),
        ],
    );
    assert!(!refused.status.success());
    assert!(
        output_text(&refused).contains("consent.lifetime"),
        "{}",
        output_text(&refused)
    );
    let published = keksdose(
        &data,
        &[
            "site",
            "config",
            "publish",
            "--id",
            "shop",
            "--config",
            "examples/sites/coaching.toml",
        ],
    );
    assert!(
        output_text(&published).contains("Published config version"),
        "{}",
        output_text(&published)
    );
}

#[test]
fn config_check_accepts_the_examples_and_lists_every_error_of_a_broken_config() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let examples: Vec<String> = [
        "saas",
        "coaching",
        "sessionbutler",
        "dogandme",
        "sevdesk",
        "fluxcess",
        "tutory",
    ]
    .iter()
    .map(|s| format!("examples/sites/{s}.toml"))
    .collect();
    let mut args = vec!["config", "check"];
    args.extend(examples.iter().map(String::as_str));
    let ok = keksdose(&data, &args);
    assert!(ok.status.success(), "{}", output_text(&ok));
    assert!(output_text(&ok).contains("only necessary: no banner"));

    let broken = dir.path().join("broken.toml");
    let config = std::fs::read_to_string(workspace_root().join("examples/sites/saas.toml"))
        .unwrap()
        .replace("lifetime = \"12mo\"", "lifetime = \"ewig\"")
        .replacen("country = \"DE\"", "country = \"Deutschland\"", 1)
        .replace("category = \"marketing\"", "category = \"werbung\"");
    std::fs::write(&broken, config).unwrap();
    let out = keksdose(&data, &["config", "check", broken.to_str().unwrap()]);
    assert!(!out.status.success());
    let report = output_text(&out);
    for path in [
        "consent.lifetime:",
        "site.controller.country:",
        ".category: unknown category \"werbung\"",
    ] {
        assert!(report.contains(path), "{path} missing in:\n{report}");
    }
}

#[tokio::test]
async fn offline_tools_verify_export_and_purge_and_a_running_server_keeps_its_data_to_itself() {
    let mut server = TestServer::start().await.unwrap();
    let http = reqwest::Client::new();
    let version = crate::api::config_version(&http, &server, "tutory").await;
    for _ in 0..3 {
        let (status, _) = crate::api::post(
            &http,
            &server,
            "tutory",
            &json!({"config_version": version, "action": "accept_all", "language": "de", "page": "/kurs/brueche"}),
        )
        .await;
        assert_eq!(status, 201);
    }
    let data = server.data_dir();
    let busy = keksdose(&data, &["verify"]);
    assert!(!busy.status.success());
    assert!(
        output_text(&busy).contains("in use by another Keksdose server"),
        "{}",
        output_text(&busy)
    );

    let signed = http
        .post(server.url("/v1/admin/sites/tutory/checkpoints"))
        .bearer_auth(crate::api::demo_key(&server, "tutory"))
        .send()
        .await
        .unwrap();
    assert_eq!(signed.status(), 201);

    server.kill().unwrap();
    let verified = keksdose(&data, &["verify", "--site", "tutory"]);
    assert!(
        verified.status.success()
            && output_text(&verified).contains("tutory: 3 records, chain intact, head ")
            && output_text(&verified).contains("; checkpoint at seq 3 signed and matching"),
        "{}",
        output_text(&verified)
    );
    // A data directory with another signing key (the old one lost): its
    // checkpoints cannot be checked, which is said, and is no failure.
    let key = std::fs::read(data.join("signing.key")).unwrap();
    std::fs::write(data.join("signing.key"), [7u8; 32]).unwrap();
    let unknown = keksdose(&data, &["verify", "--site", "tutory"]);
    assert!(
        unknown.status.success()
            && output_text(&unknown).contains("which this store does not know: not checked"),
        "{}",
        output_text(&unknown)
    );
    std::fs::write(data.join("signing.key"), key).unwrap();
    let export = keksdose(&data, &["export", "--site", "tutory"]);
    let lines: Vec<Value> = String::from_utf8_lossy(&export.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["personal"]["page"], "/kurs/brueche");

    // Without --older-than, purge applies the config's retention rules: tutory
    // keeps a banner decision's proof three years after its expiry, so three
    // decisions of today are in force and keep theirs.
    let rules = keksdose(&data, &["purge", "--site", "tutory"]);
    assert!(
        output_text(&rules).contains("tutory: 0 consents aged out by the config's retention rules, the personal content of 0 records dropped (hashes kept); 3 consents in force keep theirs"),
        "{}",
        output_text(&rules)
    );

    std::thread::sleep(std::time::Duration::from_millis(1100));
    let purge = keksdose(&data, &["purge", "--older-than", "1s", "--site", "tutory"]);
    assert!(purge.status.success(), "{}", output_text(&purge));
    assert!(
        output_text(&purge).contains("tutory: dropped the personal content of 3 records"),
        "{}",
        output_text(&purge)
    );
    let export = keksdose(&data, &["export", "--site", "tutory", "--format", "csv"]);
    assert!(!String::from_utf8_lossy(&export.stdout).contains("/kurs/brueche"));
    let journal = std::fs::read(data.join("journal")).unwrap();
    assert!(
        !journal.windows(13).any(|w| w == b"/kurs/brueche"),
        "purged content has left the journal"
    );
    assert!(output_text(&keksdose(&data, &["verify"])).contains("tutory: 3 records, chain intact"));
}

/// An origin written as SessionButler's policy spells its domains, in capitals,
/// is the origin browsers send (scheme and host in lowercase, no default port);
/// one site serves both its domains.
#[tokio::test]
async fn origins_spelled_with_capitals_are_the_ones_browsers_send() {
    let server = TestServer::start_prepared(
        |data| {
            let out = keksdose(
                data,
                &[
                    "site",
                    "create",
                    "--id",
                    "sebu",
                    "--origin",
                    "https://www.SessionButler.de",
                    "--origin",
                    "HTTPS://www.SeBu.tools:443",
                    "--config",
                    "examples/sites/sessionbutler.toml",
                ],
            );
            anyhow::ensure!(out.status.success(), "{}", output_text(&out));
            Ok(())
        },
        |_| {},
    )
    .await
    .unwrap();
    let http = reqwest::Client::new();
    let version = crate::api::config_version(&http, &server, "sebu").await;
    for (origin, status) in [
        ("https://www.sessionbutler.de", 201),
        ("https://www.sebu.tools", 201),
        ("https://www.sessionbutler.de:443", 201),
        ("http://www.sessionbutler.de", 403),
        ("https://sessionbutler.de", 403),
    ] {
        let resp = http
            .post(server.url("/v1/sites/sebu/consents"))
            .header("Origin", origin)
            .json(&json!({"config_version": version, "action": "reject_all", "language": "de"}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), status, "{origin}");
        if status == 201 {
            assert_eq!(
                resp.headers()["access-control-allow-origin"],
                origin,
                "the browser's own spelling goes back"
            );
        }
    }
}

/// A consent's proof pack (`GET …/proof-pack`) checks offline with
/// `keksdose verify-proof`, and is refused once one byte of a record, a record
/// between it and its checkpoint, or the signature is changed.
#[tokio::test]
async fn a_proof_pack_verifies_offline_and_not_after_one_byte_changed() {
    let server = TestServer::start().await.unwrap();
    let http = reqwest::Client::new();
    let key = crate::api::demo_key(&server, "coaching");
    let first = crate::api::decide(&http, &server, "coaching", "accept_all").await;
    let id = first["consent_id"].as_str().unwrap().to_string();
    // Other visitors decide in between: their records sit in the chain.
    for action in ["reject_all", "accept_all"] {
        crate::api::decide(&http, &server, "coaching", action).await;
    }
    let version = crate::api::config_version(&http, &server, "coaching").await;
    let (status, _) = crate::api::post(
        &http,
        &server,
        "coaching",
        &json!({"consent_id": id, "config_version": version, "action": "withdraw", "language": "de"}),
    )
    .await;
    assert_eq!(status, 201);
    let resp = http
        .get(server.url(&format!(
            "/v1/admin/sites/coaching/consents/{id}/proof-pack"
        )))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment"),
    );
    let pack: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(pack["records"].as_array().unwrap().len(), 2);
    let chain = pack["chain"].as_array().unwrap();
    assert_eq!(
        chain.len(),
        2,
        "the two other visitors' records between: {pack}"
    );
    assert!(
        chain.iter().all(|r| r.get("personal").is_none()),
        "no other visitor's personal part"
    );
    // The other site's key gets nothing.
    let resp = http
        .get(server.url(&format!(
            "/v1/admin/sites/coaching/consents/{id}/proof-pack"
        )))
        .bearer_auth(crate::api::demo_key(&server, "saas"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);

    let dir = tempfile::tempdir().unwrap();
    let check = |pack: &serde_json::Value, name: &str| {
        let file = dir.path().join(name);
        std::fs::write(&file, serde_json::to_string_pretty(pack).unwrap()).unwrap();
        keksdose(
            &dir.path().join("no-data"),
            &["verify-proof", file.to_str().unwrap()],
        )
    };
    let ok = check(&pack, "pack.json");
    assert!(ok.status.success(), "{}", output_text(&ok));
    assert!(
        output_text(&ok).contains("2 records verified"),
        "{}",
        output_text(&ok)
    );

    // One byte of the consent's first record: its received_at's last digit.
    let mut bad = pack.clone();
    let at = bad["records"][0]["received_at"]
        .as_str()
        .unwrap()
        .to_string();
    let digit = at.chars().nth(at.len() - 2).unwrap();
    let other = if digit == '9' {
        '8'
    } else {
        char::from(digit as u8 + 1)
    };
    bad["records"][0]["received_at"] = json!(format!("{}{other}Z", &at[..at.len() - 2]));
    let refused = check(&bad, "record.json");
    assert!(!refused.status.success(), "{}", output_text(&refused));
    assert!(
        output_text(&refused).contains("NOT verified"),
        "{}",
        output_text(&refused)
    );

    // One byte of another visitor's record between it and the checkpoint.
    let mut bad = pack.clone();
    bad["chain"][0]["language"] = json!("dx");
    assert!(!check(&bad, "chain.json").status.success());
    // A record left out of the chain.
    let mut bad = pack.clone();
    bad["chain"].as_array_mut().unwrap().remove(0);
    assert!(!check(&bad, "gap.json").status.success());
    // The checkpoint's signature.
    let mut bad = pack.clone();
    let sig = bad["checkpoints"][0]["signature"]
        .as_str()
        .unwrap()
        .to_string();
    let flipped = if sig.starts_with('A') { "B" } else { "A" };
    bad["checkpoints"][0]["signature"] = json!(format!("{flipped}{}", &sig[1..]));
    assert!(!check(&bad, "signature.json").status.success());
    // A config shown to the visitor, changed.
    let mut bad = pack.clone();
    let version = bad["records"][0]["config_version"]
        .as_str()
        .unwrap()
        .to_string();
    bad["configs"][&version]["site"]["name"] = json!("Someone else");
    assert!(!check(&bad, "config.json").status.success());
}
