//! `keksdose scan` against the real server and the demo pages, in Debian's
//! Chromium: the demo sites scan clean, a page made wrong on purpose yields exactly
//! its four mistakes, and a site of more than ten pages is crawled within the page
//! bound with a page that never finishes loading reported.

use std::collections::BTreeSet;
use std::net::TcpListener;
use std::path::Path;
use std::process::Output;

use keksdose_shared::config::Service;
use keksdose_tests::{TestServer, binary, output_text, workspace_root};
use serde::Deserialize;
use serde_json::Value;

/// Every host but the machine's own resolves to nothing: the scan sees the
/// requests a page makes to Google or Hotjar, and none of them leaves the machine.
const OFFLINE: &str = "--chromium-arg=--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1";

fn scan(args: &[&str], json: &Path) -> (Output, Value) {
    let out = std::process::Command::new(binary())
        .arg("scan")
        .args(args)
        .arg(OFFLINE)
        .arg("--json")
        .arg(json)
        .current_dir(workspace_root())
        .output()
        .expect("running keksdose scan");
    let report = std::fs::read_to_string(json)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null);
    (out, report)
}

/// `(kind, subject type, subject name)` of every finding of these severities.
fn findings(report: &Value, severities: &[&str]) -> BTreeSet<(String, String, String)> {
    report["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|f| severities.contains(&f["severity"].as_str().unwrap_or_default()))
        .map(|f| {
            (
                f["kind"].as_str().unwrap_or_default().to_string(),
                f["subject"]["type"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                f["subject"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_demo_sites_scan_clean() {
    let server = TestServer::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    for (site, page) in [
        ("saas", "/demo/saas.html"),
        ("coaching", "/demo/coaching.html"),
        ("sessionbutler", "/demo/sessionbutler.html"),
        ("dogandme", "/demo/dogandme.html"),
        ("sevdesk", "/demo/sevdesk.html"),
        ("fluxcess", "/demo/fluxcess.html"),
        ("tutory", "/demo/tutory.html"),
        // The per-site embed form, and a page under a strict CSP with Trusted Types.
        ("saas", "/demo/saas.html?embed=site"),
        ("coaching", "/demo/strict-csp.html"),
    ] {
        let json = dir.path().join(format!("{site}-{}.json", page.len()));
        // The demo page and what it links to on the demo (its privacy page).
        let (out, report) = scan(&[&server.url(page), "--site", site, "--pages", "2"], &json);
        let problems = findings(&report, &["violation", "warning"]);
        assert!(
            out.status.success() && problems.is_empty(),
            "{site}: {problems:#?}\n{}",
            output_text(&out)
        );
        // It did look: the banner was there, both decisions were acknowledged, and
        // after "Alle akzeptieren" the site's cookies were seen.
        // (SessionButler and fluxcess ask for no consent: they show no banner.)
        let banner = !matches!(site, "sessionbutler" | "fluxcess");
        let first = &report["pages"][0]["states"];
        for state in first.as_array().unwrap() {
            assert_eq!(state["banner_shown"], banner, "{site}: {state}");
            let decided = banner && state["state"] != "no_decision";
            assert_eq!(state["decided"], decided, "{site}: {state}");
        }
        let consent = format!("keksdose_{site}");
        assert_eq!(
            report["inventory"]
                .as_array()
                .unwrap()
                .iter()
                .any(|i| i["type"] == "cookie" && i["name"] == consent.as_str()),
            banner,
            "{site}: the consent cookie: {report}"
        );
        if site == "saas" {
            // Userlane's local-storage key, set by its script, only once allowed.
            let key = report["inventory"]
                .as_array()
                .unwrap()
                .iter()
                .find(|i| i["type"] == "local_storage" && i["name"] == "userlane_user")
                .cloned()
                .unwrap_or_else(|| panic!("userlane_user not seen: {report}"));
            assert_eq!(key["states"], serde_json::json!(["accept_all"]), "{key}");
            assert_eq!(key["before_decision"], false, "{key}");
            assert!(
                key["set_by"]
                    .to_string()
                    .contains("/demo/vendor/userlane.js"),
                "{key}"
            );
        }
    }
}

#[derive(Deserialize)]
struct Services {
    services: Vec<Service>,
}

#[tokio::test(flavor = "multi_thread")]
async fn a_page_made_wrong_on_purpose_yields_exactly_its_findings() {
    let server = TestServer::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("wrong.json");
    let html = dir.path().join("wrong.html");
    let page = server.url("/demo/scan-wrong.html");
    let (out, report) = scan(
        &[
            &page,
            "--site",
            "saas",
            "--pages",
            "1",
            "--html",
            html.to_str().unwrap(),
        ],
        &json,
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "violations exit 1: {}",
        output_text(&out)
    );
    let segment = server.url("/demo/vendor/segment.js");
    let want: BTreeSet<(String, String, String)> = [
        // 1. The undeclared tracker: its host and its cookies, before any decision
        // and still after "Nur Notwendige".
        ("before_consent", "host", "static.hotjar.com"),
        ("after_reject", "host", "static.hotjar.com"),
        ("undeclared", "host", "static.hotjar.com"),
        ("before_consent", "cookie", "_hjSessionUser_3141592"),
        ("after_reject", "cookie", "_hjSessionUser_3141592"),
        ("undeclared", "cookie", "_hjSessionUser_3141592"),
        ("before_consent", "cookie", "_hjSession_3141592"),
        ("after_reject", "cookie", "_hjSession_3141592"),
        ("undeclared", "cookie", "_hjSession_3141592"),
        // 2. The font from Google's servers.
        ("before_consent", "host", "fonts.googleapis.com"),
        ("after_reject", "host", "fonts.googleapis.com"),
        ("undeclared", "host", "fonts.googleapis.com"),
        // 3. The chat's session cookie kept a year, declared for 7 days.
        ("lifetime_understated", "cookie", "intercom-session-abc123"),
        // 4. The script a typo left unblocked, and the cookies it set.
        ("blocked_element_loaded", "element", segment.as_str()),
        ("before_consent", "cookie", "ajs_anonymous_id"),
        ("after_reject", "cookie", "ajs_anonymous_id"),
        ("before_consent", "cookie", "ajs_user_id"),
        ("after_reject", "cookie", "ajs_user_id"),
    ]
    .into_iter()
    .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
    .collect();
    assert_eq!(
        findings(&report, &["violation", "warning"]),
        want,
        "{}",
        output_text(&out)
    );

    // Who did it, as the report says.
    let finding = |kind: &str, name: &str| {
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["kind"] == kind && f["subject"]["name"] == name)
            .cloned()
            .unwrap()
    };
    let hj = finding("before_consent", "_hjSessionUser_3141592");
    assert!(
        hj["evidence"]
            .to_string()
            .contains("/demo/vendor/hotjar.js"),
        "the cookie names the script that set it: {hj}"
    );
    let long = finding("lifetime_understated", "intercom-session-abc123");
    assert_eq!(long["states"], serde_json::json!(["accept_all"]), "{long}");
    assert!(long["fix"].to_string().contains("as 1y"), "{long}");

    // The catalogue's proposals for the undeclared ones are config entries.
    let proposals = report["proposals"].as_array().unwrap();
    let ids: BTreeSet<&str> = proposals.iter().filter_map(|p| p["id"].as_str()).collect();
    assert_eq!(
        ids,
        BTreeSet::from(["google-fonts", "hotjar"]),
        "{proposals:?}"
    );
    for p in proposals {
        let parsed: Services = toml::from_str(p["toml"].as_str().unwrap())
            .unwrap_or_else(|e| panic!("proposal {} is no config entry: {e}", p["id"]));
        assert_eq!(parsed.services.len(), 1);
        if p["id"] == "hotjar" {
            let cookies = &parsed.services[0].cookies;
            assert!(cookies.iter().any(|c| c.matches("_hjSessionUser_3141592")));
            assert!(parsed.services[0].hosts.iter().any(|h| h == "hotjar.com"));
        }
    }

    // The HTML report: one page, no script, every violation in it.
    let html = std::fs::read_to_string(&html).unwrap();
    assert!(html.starts_with("<!doctype html>") && !html.contains("<script"));
    for name in [
        "static.hotjar.com",
        "fonts.googleapis.com",
        "intercom-session-abc123",
    ] {
        assert!(html.contains(name), "{name} in the HTML report");
    }
}

/// An address that accepts connections and never answers: a page with an image
/// from it never finishes loading.
fn hanging_address() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread")]
async fn a_site_of_more_than_ten_pages_is_crawled_within_its_bounds() {
    // Fourteen pages and one that never finishes loading, each linking to every
    // other, in the demo's own origin (so the banner works there).
    let dir = tempfile::tempdir().unwrap();
    let static_dir = dir.path().join("static");
    keksdose_tests::copy_dir(&workspace_root().join("static"), &static_dir).unwrap();
    std::fs::create_dir_all(static_dir.join("demo/crawl")).unwrap();
    // A broken link too: the page it leads to answers 404.
    let mut links = String::from("<a href=\"slow.html\">slow</a> <a href=\"gone.html\">gone</a>");
    for i in 0..14 {
        links.push_str(&format!(" <a href=\"p{i}.html\">{i}</a>"));
    }
    let page = |extra: &str| {
        format!(
            "<!doctype html><html lang=\"de\"><head><meta charset=\"utf-8\"><title>Seite</title>\
             <script src=\"/k.js\" data-site=\"saas\" async></script></head><body>{links}{extra}</body></html>"
        )
    };
    for i in 0..14 {
        std::fs::write(static_dir.join(format!("demo/crawl/p{i}.html")), page("")).unwrap();
    }
    let hang = hanging_address();
    std::fs::write(
        static_dir.join("demo/crawl/slow.html"),
        page(&format!("<img src=\"{hang}/never.png\" alt=\"\">")),
    )
    .unwrap();
    let server = TestServer::start_with(|cmd| {
        cmd.arg("--static-dir").arg(&static_dir);
    })
    .await
    .unwrap();
    let site = server.url("/demo/crawl");
    // A sitemap of four pages, which a scan bounded to three follows instead of links.
    std::fs::write(
        static_dir.join("demo/crawl/sitemap.xml"),
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\
             <url><loc>{site}/p13.html</loc></url><url><loc>{site}/p0.html</loc></url>\
             <url><loc>{site}/p12.html</loc></url><url><loc>{site}/p11.html</loc></url></urlset>"
        ),
    )
    .unwrap();
    let json = dir.path().join("crawl.json");
    let (out, report) = scan(
        &[
            &format!("{site}/p0.html"),
            "--site",
            "saas",
            "--pages",
            "11",
            "--timeout",
            "4",
            "--jobs",
            "2",
        ],
        &json,
    );
    assert!(report.is_object(), "a report: {}", output_text(&out));
    let pages: Vec<&str> = report["pages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["url"].as_str())
        .collect();
    assert_eq!(pages.len(), 11, "the page bound: {pages:?}");
    assert_eq!(pages[0], format!("{site}/p0.html"));
    let slow = format!("{site}/slow.html");
    let gone = format!("{site}/gone.html");
    assert_eq!(
        pages[1..3],
        [slow.as_str(), gone.as_str()],
        "found in link order"
    );
    for p in report["pages"].as_array().unwrap() {
        assert_eq!(p["states"].as_array().unwrap().len(), 3, "{p}");
        for s in p["states"].as_array().unwrap() {
            assert_eq!(s["timed_out"], p["url"] == slow.as_str(), "{p}");
            let error = s["error"].as_str().unwrap_or_default();
            assert_eq!(error.contains("HTTP 404"), p["url"] == gone.as_str(), "{p}");
        }
    }
    assert_eq!(
        findings(&report, &["violation", "warning"]),
        BTreeSet::from([
            ("page_timeout".into(), "page".into(), slow.clone()),
            ("page_error".into(), "page".into(), gone.clone()),
        ]),
        "{}",
        output_text(&out)
    );
    // With the sitemap: its pages, in its order, up to the bound.
    let json = dir.path().join("sitemap.json");
    let (out, report) = scan(
        &[
            &format!("{site}/p0.html"),
            "--site",
            "saas",
            "--pages",
            "3",
            "--sitemap",
            "sitemap.xml",
        ],
        &json,
    );
    let pages: Vec<&str> = report["pages"]
        .as_array()
        .unwrap_or_else(|| panic!("a report: {}", output_text(&out)))
        .iter()
        .filter_map(|p| p["url"].as_str())
        .collect();
    assert_eq!(
        pages,
        [
            format!("{site}/p0.html"),
            format!("{site}/p13.html"),
            format!("{site}/p12.html")
        ],
        "{}",
        output_text(&out)
    );
    assert!(out.status.success(), "{}", output_text(&out));
}
