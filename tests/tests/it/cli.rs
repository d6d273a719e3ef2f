//! The `keksdose` command line: sites and keys, config checks, offline verify,
//! export and purge, and the refusal of a second process on the same data.

use std::process::{Command, Output};

use keksdose_tests::{TestServer, workspace_root};
use serde_json::{Value, json};

fn keksdose(data: &std::path::Path, args: &[&str]) -> Output {
    Command::new(workspace_root().join("target/debug/keksdose"))
        .arg("--data")
        .arg(data)
        .args(args)
        .current_dir(workspace_root())
        .output()
        .expect("the keksdose binary runs")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

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
    assert!(out.status.success(), "{}", text(&out));
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
    assert!(text(&again).contains("exists already"), "{}", text(&again));
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
        text(&list).contains("shop") && text(&list).contains("https://www.shop.de"),
        "{}",
        text(&list)
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
        text(&refused).contains("consent.lifetime"),
        "{}",
        text(&refused)
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
        text(&published).contains("Published config version"),
        "{}",
        text(&published)
    );
}

#[test]
fn config_check_accepts_the_examples_and_lists_every_error_of_a_broken_config() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let examples: Vec<String> = ["saas", "coaching", "education", "necessary-only"]
        .iter()
        .map(|s| format!("examples/sites/{s}.toml"))
        .collect();
    let mut args = vec!["config", "check"];
    args.extend(examples.iter().map(String::as_str));
    let ok = keksdose(&data, &args);
    assert!(ok.status.success(), "{}", text(&ok));
    assert!(text(&ok).contains("only necessary: no banner"));

    let broken = dir.path().join("broken.toml");
    let config = std::fs::read_to_string(workspace_root().join("examples/sites/saas.toml"))
        .unwrap()
        .replace("lifetime = \"12mo\"", "lifetime = \"ewig\"")
        .replacen("country = \"DE\"", "country = \"Deutschland\"", 1)
        .replace("category = \"marketing\"", "category = \"werbung\"");
    std::fs::write(&broken, config).unwrap();
    let out = keksdose(&data, &["config", "check", broken.to_str().unwrap()]);
    assert!(!out.status.success());
    let report = text(&out);
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
    let version = crate::api::config_version(&http, &server, "education").await;
    for _ in 0..3 {
        let (status, _) = crate::api::post(
            &http,
            &server,
            "education",
            &json!({"config_version": version, "action": "accept_all", "language": "de", "page": "/kurs/brueche"}),
        )
        .await;
        assert_eq!(status, 201);
    }
    let data = server.data_dir();
    let busy = keksdose(&data, &["verify"]);
    assert!(!busy.status.success());
    assert!(
        text(&busy).contains("in use by another Keksdose server"),
        "{}",
        text(&busy)
    );

    server.kill().unwrap();
    let verified = keksdose(&data, &["verify", "--site", "education"]);
    assert!(
        verified.status.success() && text(&verified).contains("education: 3 records, chain intact"),
        "{}",
        text(&verified)
    );
    let export = keksdose(&data, &["export", "--site", "education"]);
    let lines: Vec<Value> = String::from_utf8_lossy(&export.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["personal"]["page"], "/kurs/brueche");

    std::thread::sleep(std::time::Duration::from_millis(1100));
    let purge = keksdose(
        &data,
        &["purge", "--older-than", "1s", "--site", "education"],
    );
    assert!(purge.status.success(), "{}", text(&purge));
    assert!(
        text(&purge).contains("education: dropped the personal content of 3 records"),
        "{}",
        text(&purge)
    );
    let export = keksdose(&data, &["export", "--site", "education", "--format", "csv"]);
    assert!(!String::from_utf8_lossy(&export.stdout).contains("/kurs/brueche"));
    let journal = std::fs::read(data.join("journal")).unwrap();
    assert!(
        !journal.windows(13).any(|w| w == b"/kurs/brueche"),
        "purged content has left the journal"
    );
    assert!(text(&keksdose(&data, &["verify"])).contains("education: 3 records, chain intact"));
}
