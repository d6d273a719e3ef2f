//! The console (`/console/`) in Chromium against the real server: each role
//! signs in and does its tasks; sites stay apart; forms need the console's
//! origin and the session's CSRF token; the session cookie's flags; sign-in
//! rate limits; axe-core on every page in both languages; the audit trail.

use std::time::{Duration, Instant};

use fantoccini::Locator;
use keksdose_tests::{Browser, TestServer, keksdose, output_text};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::api::{decide, demo_key};

const PATIENCE: Duration = Duration::from_secs(20);
const COOKIE: &str = "__Host-keksdose-console";

/// A demo server and a browser on its console.
struct Console {
    server: TestServer,
    browser: Browser,
    http: reqwest::Client,
}

impl Console {
    async fn start() -> Console {
        Console::on(TestServer::start().await.unwrap()).await
    }

    async fn on(server: TestServer) -> Console {
        Console {
            server,
            browser: Browser::start().await.unwrap(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        }
    }

    /// The password `serve --demo` printed for a demo account.
    fn password(&self, email: &str) -> String {
        self.server
            .log()
            .lines()
            .rev()
            .find(|l| l.split_whitespace().next() == Some(email) && l.contains("password"))
            .and_then(|l| l.split_whitespace().last())
            .map(String::from)
            .unwrap_or_else(|| panic!("no password for {email}:\n{}", self.server.log()))
    }

    async fn goto(&self, path: &str) {
        self.browser
            .client()
            .goto(&self.server.url(path))
            .await
            .unwrap();
    }

    async fn eval(&self, script: &str) -> Value {
        self.browser.eval(script).await.unwrap_or(Value::Null)
    }

    /// Waits until `script` returns something truthy.
    async fn wait(&self, what: &str, script: &str) -> Value {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let v = self.eval(script).await;
            let truthy = match &v {
                Value::Null => false,
                Value::Bool(b) => *b,
                Value::String(s) => !s.is_empty(),
                _ => true,
            };
            if truthy {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; the page says:\n{}",
                self.text().await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The page's text.
    async fn text(&self) -> String {
        self.eval("return document.body ? document.body.innerText : '';")
            .await
            .as_str()
            .unwrap_or("")
            .to_string()
    }

    /// Waits until a page with `needle` in its text is loaded.
    async fn wait_text(&self, needle: &str) {
        let script = format!(
            "return document.readyState === 'complete' && document.body.innerText.includes({});",
            json!(needle)
        );
        self.wait(&format!("a page saying {needle:?}"), &script)
            .await;
    }

    async fn path(&self) -> String {
        self.eval("return location.pathname + location.search;")
            .await
            .as_str()
            .unwrap_or("")
            .to_string()
    }

    /// Sets a field's value.
    async fn fill(&self, selector: &str, value: &str) {
        let e = self
            .browser
            .client()
            .find(Locator::Css(selector))
            .await
            .unwrap();
        e.clear().await.unwrap();
        e.send_keys(value).await.unwrap();
    }

    /// Clicks (a real click, as a visitor's).
    async fn click(&self, selector: &str) {
        let e = self
            .browser
            .client()
            .find(Locator::Css(selector))
            .await
            .unwrap_or_else(|e| panic!("{selector}: {e}"));
        e.click().await.unwrap();
    }

    async fn sign_in(&self, email: &str, password: &str) {
        self.goto("/console/sign-in?lang=en").await;
        self.wait(
            "the sign-in form",
            "return !!document.querySelector('#email');",
        )
        .await;
        self.fill("#email", email).await;
        self.fill("#password", password).await;
        self.click("form[action='/console/sign-in'] button").await;
        self.wait(
            "a page of the console after signing in",
            "return document.readyState === 'complete' && !location.pathname.endsWith('/sign-in')\
             && !!document.querySelector('form[action=\"/console/sign-out\"]');",
        )
        .await;
    }

    async fn sign_out(&self) {
        self.click("form[action='/console/sign-out'] button").await;
        self.wait(
            "the sign-in page",
            "return document.readyState === 'complete' && location.pathname.endsWith('/sign-in');",
        )
        .await;
    }

    /// The session cookie as the browser holds it.
    async fn session(&self) -> String {
        let cookies = self.browser.client().get_all_cookies().await.unwrap();
        cookies
            .iter()
            .find(|c| c.name() == COOKIE)
            .map(|c| c.value().to_string())
            .expect("a session cookie in the browser")
    }

    /// The CSRF token of the page's forms.
    async fn csrf(&self) -> String {
        self.eval(
            "const i = document.querySelector('input[name=csrf]'); return i ? i.value : null;",
        )
        .await
        .as_str()
        .expect("a form with a CSRF token on the page")
        .to_string()
    }

    /// `GET path` with the browser's session.
    async fn get(&self, session: &str, path: &str) -> (StatusCode, String) {
        let r = self
            .http
            .get(self.server.url(path))
            .header("Cookie", format!("{COOKIE}={session}"))
            .send()
            .await
            .unwrap();
        (r.status(), r.text().await.unwrap())
    }

    /// `POST path` with the browser's session, from `origin` (`None`: the
    /// server's own), with `form`.
    async fn post(
        &self,
        session: &str,
        origin: Option<&str>,
        path: &str,
        form: &[(&str, &str)],
    ) -> StatusCode {
        let own = self.server.url("");
        let own = own.trim_end_matches('/');
        self.http
            .post(self.server.url(path))
            .header("Cookie", format!("{COOKIE}={session}"))
            .header("Origin", origin.unwrap_or(own))
            .form(form)
            .send()
            .await
            .unwrap()
            .status()
    }

    async fn audit(&self, site: &str) -> Value {
        let r = self
            .http
            .get(
                self.server
                    .url(&format!("/v1/admin/sites/{site}/audit?limit=1000")),
            )
            .bearer_auth(demo_key(&self.server, site))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    }

    async fn finish(self) {
        self.browser.close().await.unwrap();
    }
}

/// Whether the audit trail holds `action` by `email`'s account (by id).
fn audited(trail: &Value, users: &Value, email: &str, action: &str) -> bool {
    let id = users["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == email)
        .map(|u| format!("operator:{}", u["id"].as_str().unwrap()))
        .unwrap_or_else(|| panic!("{email} in {users}"));
    trail["entries"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["actor"] == id.as_str() && e["action"] == action)
}

async fn users(c: &Console, site: &str) -> Value {
    c.http
        .get(c.server.url(&format!("/v1/admin/sites/{site}/users")))
        .bearer_auth(demo_key(&c.server, site))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// An editor raises the config's revision in the editor, sees that visitors
/// will be asked again, publishes; a visitor who had decided is asked again.
/// A DPO may check a config but not publish it.
#[tokio::test]
async fn an_editor_publishes_a_config_and_the_visitor_is_asked_again_and_a_dpo_cannot() {
    let c = Console::start().await;
    let revision = c
        .http
        .get(c.server.url("/v1/sites/saas/config"))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()["config"]["consent"]["revision"]
        .as_u64()
        .unwrap();
    // A visitor decides on the demo page.
    c.goto("/demo/saas.html").await;
    c.wait(
        "the banner's accept button",
        "const h = document.querySelector('#keksdose-root');\
         const b = h && h.shadowRoot && h.shadowRoot.querySelector('button[data-action=\"accept_all\"]');\
         if (!b) return false; b.click(); return true;",
    )
    .await;
    let cookie = c
        .wait(
            "an acknowledged decision",
            "const k = document.cookie.split('; ').find(c => c.startsWith('keksdose_saas='));\
             return k && k.split('.')[1] && k.split('.')[2] === '' ? k : null;",
        )
        .await
        .as_str()
        .unwrap()
        .to_string();

    // The DPO checks the same change: no publish button, and a forged publish is refused.
    c.sign_in("dpo@demo.example", &c.password("dpo@demo.example"))
        .await;
    c.goto("/console/sites/saas/config").await;
    c.wait_text("Check and preview").await;
    raise_revision(&c).await;
    c.click("form[action='/console/sites/saas/config'] button")
        .await;
    c.wait_text("Every visitor is asked again").await;
    assert_eq!(
        c.eval("return !!document.querySelector('form[action$=\"/config/publish\"]');")
            .await,
        json!(false),
        "no publish button for a DPO"
    );
    let version = c
        .eval("return document.querySelector('.ok code').textContent;")
        .await;
    let (session, csrf) = (c.session().await, c.csrf().await);
    let forged = c
        .post(
            &session,
            None,
            "/console/sites/saas/config/publish",
            &[("csrf", &csrf), ("version", version.as_str().unwrap())],
        )
        .await;
    assert_eq!(forged, StatusCode::FORBIDDEN, "a DPO cannot publish");
    c.sign_out().await;

    // The editor publishes it.
    c.sign_in("editor@demo.example", &c.password("editor@demo.example"))
        .await;
    c.goto("/console/sites/saas/config").await;
    c.wait_text("Check and preview").await;
    // The live preview: typed text reaches the preview without a click, once
    // valid; an invalid one is said in the status line.
    let live = "const t = document.querySelector('#config');\
        t.value += arguments[0]; t.dispatchEvent(new Event('input')); return true;";
    c.browser
        .eval_with(live, vec![json!("\nnot toml at all")])
        .await
        .unwrap();
    c.wait(
        "the status line to say the text cannot be read",
        "return document.querySelector('#preview-status').textContent.includes('cannot be read');",
    )
    .await;
    c.eval("const t = document.querySelector('#config'); t.value = t.value.replace('\\nnot toml at all', ''); return true;")
        .await;
    c.browser
        .eval_with(
            live,
            vec![json!("\n[texts.de]\ntitle = \"Live-Vorschau\"\n")],
        )
        .await
        .unwrap();
    c.wait(
        "the preview's first layer with the typed title",
        "const f = document.querySelector('iframe[src*=\"layer=first\"]');\
         return f && f.contentDocument && f.contentDocument.body.textContent.includes('Live-Vorschau');",
    )
    .await;
    raise_revision(&c).await;
    c.click("form[action='/console/sites/saas/config'] button")
        .await;
    c.wait_text("Every visitor is asked again").await;
    // The preview shows the banner's first layer as visitors will see it.
    c.wait(
        "the preview's first layer",
        "const f = document.querySelector('iframe[src*=\"layer=first\"]');\
         return f && f.contentDocument && !!f.contentDocument.querySelector('button[data-action=\"accept_all\"]');",
    )
    .await;
    c.click("form[action$='/config/publish'] input[name=confirm]")
        .await;
    c.click("form[action$='/config/publish'] button").await;
    c.wait_text("Published version").await;
    let published = c
        .http
        .get(c.server.url("/v1/sites/saas/config"))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(
        published["config"]["consent"]["revision"],
        json!(revision + 1)
    );
    let trail = c.audit("saas").await;
    let users = users(&c, "saas").await;
    assert!(
        audited(&trail, &users, "editor@demo.example", "publish"),
        "{trail}"
    );
    assert!(audited(&trail, &users, "editor@demo.example", "sign_in"));
    assert!(audited(&trail, &users, "dpo@demo.example", "sign_out"));
    let Console {
        server, browser, ..
    } = c;
    browser.close().await.unwrap();

    // The visitor comes back (a fresh browser: the config is cached 60 s) and is asked again.
    let visitor = Browser::start().await.unwrap();
    visitor
        .client()
        .goto(&server.url("/demo/index.html"))
        .await
        .unwrap();
    visitor
        .eval(&format!(
            "document.cookie = '{cookie}; Path=/'; return true;"
        ))
        .await
        .unwrap();
    visitor
        .client()
        .goto(&server.url("/demo/saas.html"))
        .await
        .unwrap();
    let deadline = Instant::now() + PATIENCE;
    loop {
        let shown = visitor
            .eval(
                "const h = document.querySelector('#keksdose-root');\
                 return !!(h && h.shadowRoot && h.shadowRoot.querySelector('button[data-action=\"reject_all\"]'));",
            )
            .await
            .unwrap_or(Value::Null);
        if shown == json!(true) {
            break;
        }
        assert!(Instant::now() < deadline, "the visitor was not asked again");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    visitor.close().await.unwrap();
}

/// Raises `revision` under `[consent]` in the editor's text.
async fn raise_revision(c: &Console) {
    let done = c
        .eval(
            "const t = document.querySelector('#config');\
             const before = t.value;\
             t.value = t.value.replace(/^revision = (\\d+)$/m, (m, n) => 'revision = ' + (Number(n) + 1));\
             return t.value !== before;",
        )
        .await;
    assert_eq!(done, json!(true), "the editor shows consent.revision");
}

/// A DPO finds a consent by its ID, sees its proof verified with the banner as
/// the visitor saw it, downloads the proof pack, which `keksdose verify-proof`
/// accepts (and refuses after one byte of a record is changed), and withdraws
/// it with a reason; the audit trail names the DPO for each.
#[tokio::test]
async fn a_dpo_proves_a_consent_with_the_banner_as_shown_and_the_pack_verifies_offline() {
    let c = Console::start().await;
    let first = decide(&c.http, &c.server, "coaching", "accept_all").await;
    let id = first["consent_id"].as_str().unwrap().to_string();
    decide(&c.http, &c.server, "coaching", "reject_all").await;

    c.sign_in("dpo@demo.example", &c.password("dpo@demo.example"))
        .await;
    c.goto("/console/sites/coaching/consents").await;
    c.wait_text("Consent log").await;
    c.fill("input[name=consent]", &id).await;
    c.click("form[role=search] button").await;
    c.wait_text("Proof of consent").await;
    assert!(c.path().await.ends_with(&format!("/consents/{id}")));
    let text = c.text().await;
    assert!(text.contains("verified"), "{text}");
    assert!(!text.contains("NOT verified"), "{text}");
    // The banner as shown: both layers, rendered from the stored config version.
    for (layer, button) in [("first", "accept_all"), ("settings", "save")] {
        c.wait(
            &format!("the {layer} layer as shown"),
            &format!(
                "const f = document.querySelector('iframe[src*=\"layer={layer}\"]');\
                 return f && f.contentDocument && !!f.contentDocument.querySelector('button[data-action=\"{button}\"]');"
            ),
        )
        .await;
    }
    // The settings show the switches the visitor left: everything allowed.
    let switches = c
        .eval(
            "const d = document.querySelector('iframe[src*=\"layer=settings\"]').contentDocument;\
             return [...d.querySelectorAll('[role=switch]')].map(s => s.getAttribute('aria-checked'));",
        )
        .await;
    let switches = switches.as_array().unwrap();
    assert!(!switches.is_empty());
    assert!(
        switches.iter().all(|s| s == "true"),
        "accept_all shows every switch on: {switches:?}"
    );

    // The proof pack, as the link downloads it, checked offline.
    let session = c.session().await;
    let (status, pack) = c
        .get(
            &session,
            &format!("/console/sites/coaching/consents/{id}/proof-pack"),
        )
        .await;
    assert_eq!(status, 200);
    let pack: Value = serde_json::from_str(&pack).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let check = |pack: &Value, name: &str| {
        let file = dir.path().join(name);
        std::fs::write(&file, serde_json::to_string_pretty(pack).unwrap()).unwrap();
        keksdose(
            &dir.path().join("no-data"),
            &["verify-proof", file.to_str().unwrap()],
        )
    };
    let ok = check(&pack, "pack.json");
    assert!(ok.status.success(), "{}", output_text(&ok));
    let mut bad = pack.clone();
    bad["records"][0]["language"] = json!("dx");
    let refused = check(&bad, "bad.json");
    assert!(!refused.status.success(), "{}", output_text(&refused));

    // A withdrawal on the visitor's behalf, with a reason.
    c.goto(&format!("/console/sites/coaching/consents/{id}"))
        .await;
    c.wait_text("Withdraw on the visitor's behalf").await;
    c.fill("#reason", "E-Mail vom 3. November: Widerruf").await;
    c.click("form[action$='/withdraw'] button").await;
    c.wait_text("Withdrawn").await;

    // A data subject's request: the site's user id linked to a consent, looked
    // up, exported and erased; and the consent log exported as CSV.
    let linked = c
        .http
        .post(c.server.url("/v1/admin/sites/coaching/subjects/kunde-4711"))
        .bearer_auth(demo_key(&c.server, "coaching"))
        .json(&json!({"consent_id": id}))
        .send()
        .await
        .unwrap();
    assert_eq!(linked.status(), 200);
    c.goto("/console/sites/coaching/subjects").await;
    c.wait(
        "the subject form",
        "return !!document.querySelector('input[name=subject]');",
    )
    .await;
    c.fill("input[name=subject]", "kunde-4711").await;
    c.click("form[action$='/subjects'] button").await;
    c.wait_text("Linked consents").await;
    assert!(c.text().await.contains(&id));
    let (session, csrf) = (c.session().await, c.csrf().await);
    let r = c
        .http
        .post(c.server.url("/console/sites/coaching/subjects/export"))
        .header("Cookie", format!("{COOKIE}={session}"))
        .header("Origin", c.server.url("").trim_end_matches('/'))
        .form(&[("csrf", csrf.as_str()), ("subject", "kunde-4711")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let access: Value = r.json().await.unwrap();
    assert_eq!(access["consents"][0]["consent_id"], json!(id));
    c.click("form[action$='/erase'] input[name=confirm]").await;
    c.click("form[action$='/erase'] button").await;
    c.wait_text("Erased.").await;
    let (status, csv) = c
        .get(&session, "/console/sites/coaching/export?format=csv")
        .await;
    assert_eq!(status, 200);
    assert!(csv.starts_with("seq,received_at,consent_id"), "{csv}");
    let trail = c.audit("coaching").await;
    let users = users(&c, "coaching").await;
    for action in [
        "sign_in",
        "proof_pack",
        "withdraw",
        "access",
        "export",
        "erase",
    ] {
        assert!(
            audited(&trail, &users, "dpo@demo.example", action),
            "{action}: {trail}"
        );
    }
    assert!(
        trail["entries"].as_array().unwrap().iter().any(
            |e| e["action"] == "withdraw" && e["detail"].as_str().unwrap().contains("Widerruf")
        ),
        "the reason is in the trail: {trail}"
    );
    assert_eq!(trail["verified"], json!(true));
    // The console's audit page shows the DPO's e-mail beside it.
    c.goto("/console/sites/coaching/audit").await;
    c.wait_text("Audit trail").await;
    let text = c.text().await;
    assert!(
        text.contains("dpo@demo.example") && text.contains("Consent withdrawn by the operator"),
        "{text}"
    );
    c.finish().await;
}

/// Every console route of a site, with a form for the POSTs.
fn routes(site: &str, consent: &str) -> Vec<(&'static str, String)> {
    [
        ("GET", format!("/console/sites/{site}")),
        ("GET", format!("/console/sites/{site}/consents")),
        ("GET", format!("/console/sites/{site}/export?format=csv")),
        ("GET", format!("/console/sites/{site}/consents/{consent}")),
        (
            "GET",
            format!("/console/sites/{site}/consents/{consent}/banner?layer=first"),
        ),
        (
            "GET",
            format!("/console/sites/{site}/consents/{consent}/proof-pack"),
        ),
        ("GET", format!("/console/sites/{site}/subjects")),
        ("GET", format!("/console/sites/{site}/config")),
        (
            "GET",
            format!("/console/sites/{site}/config/preview?layer=first"),
        ),
        ("GET", format!("/console/sites/{site}/users")),
        ("GET", format!("/console/sites/{site}/audit")),
        ("POST", format!("/console/sites/{site}/verify")),
        (
            "POST",
            format!("/console/sites/{site}/consents/{consent}/withdraw"),
        ),
        ("POST", format!("/console/sites/{site}/subjects")),
        ("POST", format!("/console/sites/{site}/subjects/export")),
        ("POST", format!("/console/sites/{site}/subjects/erase")),
        ("POST", format!("/console/sites/{site}/config")),
        ("POST", format!("/console/sites/{site}/config/draft")),
        ("POST", format!("/console/sites/{site}/config/publish")),
        ("POST", format!("/console/sites/{site}/users")),
        ("POST", format!("/console/sites/{site}/users/someone")),
        ("POST", format!("/console/sites/{site}/key")),
    ]
    .into_iter()
    .collect()
}

/// An admin adds a user with a role on one site; that user reaches nothing of
/// another site by any URL (404, as for a site that does not exist), and
/// within their own site only what their role allows (403).
#[tokio::test]
async fn a_user_of_one_site_reaches_no_other_site_by_any_url() {
    let c = Console::start().await;
    let saas = decide(&c.http, &c.server, "saas", "accept_all").await;
    let saas_id = saas["consent_id"].as_str().unwrap().to_string();
    let before = c
        .http
        .get(
            c.server
                .url(&format!("/v1/admin/sites/saas/consents/{saas_id}/proof")),
        )
        .bearer_auth(demo_key(&c.server, "saas"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();

    c.sign_in("admin@demo.example", &c.password("admin@demo.example"))
        .await;
    c.goto("/console/sites/coaching/users").await;
    c.wait_text("Add a user").await;
    c.fill("#new-email", "nur-coaching@example.org").await;
    c.eval("document.querySelector('#new-role').value = 'editor'; return true;")
        .await;
    c.click("form[action='/console/sites/coaching/users'] button")
        .await;
    c.wait_text("Initial password").await;
    let password = c
        .eval("return document.querySelector('.panel[role=status] code').textContent;")
        .await
        .as_str()
        .unwrap()
        .to_string();
    // The same e-mail added on another site by that site's admin (or key) is
    // refused: addresses are not verified, so one site's admin could have made
    // an account for someone else's address. The server's administrator joins it.
    c.goto("/console/sites/saas/users").await;
    c.wait_text("Add a user").await;
    c.fill("#new-email", "nur-coaching@example.org").await;
    c.click("form[action='/console/sites/saas/users'] button")
        .await;
    c.wait_text("has an account already").await;
    let r = c
        .http
        .post(c.server.url("/v1/admin/sites/saas/users"))
        .bearer_auth(demo_key(&c.server, "saas"))
        .json(&json!({"email": "Nur-Coaching@example.org", "role": "admin"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let saas_users = users(&c, "saas").await;
    assert!(
        !saas_users.to_string().contains("nur-coaching"),
        "{saas_users}"
    );
    // The admin rotates coaching's API key: shown once, the old one refused.
    let old_key = demo_key(&c.server, "coaching");
    c.goto("/console/sites/coaching/users").await;
    c.wait_text("Rotate the API key").await;
    c.click("form[action$='/key'] input[name=confirm]").await;
    c.click("form[action$='/key'] button").await;
    c.wait_text("The new API key").await;
    let new_key = c
        .eval("return document.querySelector('.panel[role=status] code').textContent;")
        .await
        .as_str()
        .unwrap()
        .to_string();
    let verify_with = async |key: &str| {
        c.http
            .get(c.server.url("/v1/admin/sites/coaching/verify"))
            .bearer_auth(key)
            .send()
            .await
            .unwrap()
            .status()
    };
    assert_eq!(verify_with(&old_key).await, StatusCode::FORBIDDEN);
    assert_eq!(verify_with(&new_key).await, StatusCode::OK);
    let trail: Value = c
        .http
        .get(c.server.url("/v1/admin/sites/coaching/audit?limit=1000"))
        .bearer_auth(&new_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let coaching_users: Value = c
        .http
        .get(c.server.url("/v1/admin/sites/coaching/users"))
        .bearer_auth(&new_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for action in ["user_add", "key_rotate"] {
        assert!(
            audited(&trail, &coaching_users, "admin@demo.example", action),
            "{action}: {trail}"
        );
    }
    c.sign_out().await;

    // The initial password was handed over: its owner must choose their own
    // before anything else.
    c.sign_in("nur-coaching@example.org", &password).await;
    assert_eq!(c.path().await, "/console/account");
    c.goto("/console/sites/coaching").await;
    c.wait_text("Choose your own before anything else").await;
    assert_eq!(c.path().await, "/console/account", "every page leads here");
    let own = "mein-eigenes-passwort-42";
    c.fill("#current", &password).await;
    c.fill("#new", own).await;
    c.click("form[action='/console/account'] button").await;
    c.wait_text("Sign in with the new one").await;
    c.sign_in("nur-coaching@example.org", own).await;
    assert!(
        c.path().await.ends_with("/console/sites/coaching"),
        "one site: straight to it"
    );
    let (session, csrf) = (c.session().await, c.csrf().await);
    for (method, path) in routes("saas", &saas_id) {
        let status = if method == "GET" {
            c.get(&session, &path).await.0
        } else {
            c.post(
                &session,
                None,
                &path,
                &[
                    ("csrf", &csrf),
                    ("confirm", "yes"),
                    ("reason", "x"),
                    ("subject", "u1"),
                    ("email", "x@example.org"),
                    ("role", "admin"),
                    ("do", "set"),
                    ("config", "{}"),
                ],
            )
            .await
        };
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}");
    }
    // Nothing of saas changed: its consent has the one record, its key works.
    let after = c
        .http
        .get(
            c.server
                .url(&format!("/v1/admin/sites/saas/consents/{saas_id}/proof")),
        )
        .bearer_auth(demo_key(&c.server, "saas"))
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 200, "the saas key still works");
    let after: Value = after.json().await.unwrap();
    let before: Value = serde_json::from_str(&before).unwrap();
    assert_eq!(after["records"], before["records"]);
    // On coaching, an editor may not see consents, subjects, users or the key.
    let coaching = decide(&c.http, &c.server, "coaching", "accept_all").await;
    let coaching_id = coaching["consent_id"].as_str().unwrap().to_string();
    for (method, path) in routes("coaching", &coaching_id) {
        let allowed =
            path.ends_with("/coaching") || path.contains("/config") || path.ends_with("/audit");
        if allowed {
            continue;
        }
        let status = if method == "GET" {
            c.get(&session, &path).await.0
        } else {
            c.post(
                &session,
                None,
                &path,
                &[("csrf", &csrf), ("confirm", "yes")],
            )
            .await
        };
        assert_eq!(status, StatusCode::FORBIDDEN, "an editor: {method} {path}");
    }
    c.finish().await;
}

/// The session cookie cannot be read by scripts, is bound to the console's
/// origin and is not sent cross-site; a form posted from another origin and a
/// form without the CSRF token change nothing.
#[tokio::test]
async fn forms_need_the_consoles_origin_and_token_and_the_cookie_is_locked_down() {
    let c = Console::start().await;
    let http = &c.http;
    let base = c.server.url("");
    let base = base.trim_end_matches('/').to_string();
    let password = c.password("admin@demo.example");
    // Sign-in from another origin is refused.
    let r = http
        .post(c.server.url("/console/sign-in"))
        .header("Origin", "https://evil.example")
        .form(&[
            ("email", "admin@demo.example"),
            ("password", password.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.headers().get("set-cookie").is_none());
    let r = http
        .post(c.server.url("/console/sign-in"))
        .header("Origin", &base)
        .form(&[
            ("email", "admin@demo.example"),
            ("password", password.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let set = r.headers()["set-cookie"].to_str().unwrap().to_string();
    let attrs: Vec<&str> = set.split(';').map(str::trim).collect();
    assert!(attrs[0].starts_with(&format!("{COOKIE}=")), "{set}");
    for flag in ["Path=/", "Secure", "HttpOnly", "SameSite=Strict"] {
        assert!(attrs.contains(&flag), "{flag} in {set}");
    }
    assert!(
        !attrs.iter().any(|a| a.to_lowercase().starts_with("domain")),
        "a __Host- cookie names no domain: {set}"
    );
    let session = attrs[0].split_once('=').unwrap().1.to_string();
    let (status, page) = c.get(&session, "/console/sites/saas/users").await;
    assert_eq!(status, 200);
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_string();
    let key = demo_key(&c.server, "saas");
    let key_works = async || {
        http.get(c.server.url("/v1/admin/sites/saas/verify"))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap()
            .status()
            == 200
    };
    let rotate = [("csrf", csrf.as_str()), ("confirm", "yes")];
    assert_eq!(
        c.post(
            &session,
            Some("https://evil.example"),
            "/console/sites/saas/key",
            &rotate
        )
        .await,
        StatusCode::FORBIDDEN,
        "another origin"
    );
    assert_eq!(
        c.post(
            &session,
            None,
            "/console/sites/saas/key",
            &[("confirm", "yes")]
        )
        .await,
        StatusCode::FORBIDDEN,
        "no CSRF token"
    );
    assert_eq!(
        c.post(
            &session,
            None,
            "/console/sites/saas/key",
            &[("csrf", "wrong"), ("confirm", "yes")]
        )
        .await,
        StatusCode::FORBIDDEN,
        "a wrong CSRF token"
    );
    assert!(key_works().await, "the key was not rotated");

    // In the browser: signed in, the cookie is invisible to scripts; a page of
    // another origin (localhost, not 127.0.0.1) posts a form to the console:
    // the cookie does not go with it and nothing changes.
    c.sign_in("admin@demo.example", &password).await;
    assert_eq!(
        c.eval("return document.cookie.includes('keksdose-console');")
            .await,
        json!(false),
        "HttpOnly"
    );
    let other = base.replace("127.0.0.1", "localhost");
    c.browser
        .client()
        .goto(&format!("{other}/demo/index.html"))
        .await
        .unwrap();
    c.eval(&format!(
        "const f = document.createElement('form'); f.method = 'post';\
         f.action = '{base}/console/sites/saas/key';\
         for (const [k, v] of [['confirm', 'yes'], ['csrf', {}]]) {{\
           const i = document.createElement('input'); i.name = k; i.value = v; f.append(i); }}\
         document.body.append(f); f.submit(); return true;",
        json!(csrf)
    ))
    .await;
    c.wait(
        "the console's answer to the cross-site form",
        "return document.readyState === 'complete' && location.pathname.endsWith('/key');",
    )
    .await;
    let text = c.text().await;
    assert!(!text.contains("The new API key"), "{text}");
    assert!(key_works().await, "a cross-site form rotated nothing");
    c.finish().await;
}

/// Sign-in is rate limited per account: after five wrong passwords even the
/// right one is refused for a while; another account is not held up.
#[tokio::test]
async fn sign_in_is_rate_limited_per_account() {
    let server = TestServer::start().await.unwrap();
    let c = Console::on(server).await;
    let base = c.server.url("");
    let base = base.trim_end_matches('/').to_string();
    let try_ = async |email: &str, password: &str| {
        c.http
            .post(c.server.url("/console/sign-in"))
            .header("Origin", &base)
            .form(&[("email", email), ("password", password)])
            .send()
            .await
            .unwrap()
    };
    for i in 0..5 {
        let r = try_("dpo@demo.example", "not the password").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    let r = try_("dpo@demo.example", &c.password("dpo@demo.example")).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().contains_key("retry-after"));
    assert!(r.headers().get("set-cookie").is_none());
    let r = try_("admin@demo.example", &c.password("admin@demo.example")).await;
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "another account signs in"
    );
    // Per network: thirty attempts at once, whatever the accounts.
    let mut refused_at = None;
    for i in 8..40 {
        let r = try_(&format!("nobody-{i}@example.org"), "guess").await;
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            refused_at = Some(i);
            break;
        }
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    // (Ten a minute come back meanwhile: on a slow machine a few more pass.)
    assert!(
        refused_at.is_some_and(|i| i >= 31),
        "from the 31st attempt of one network on, attempts wait: {refused_at:?}"
    );
    let r = try_("editor@demo.example", &c.password("editor@demo.example")).await;
    assert_eq!(
        r.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "even a right password, from that network, for now"
    );
    // The refused attempts are in the audit trail, against the account (each
    // noted just after its answer).
    let users = users(&c, "saas").await;
    let dpo = users["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == "dpo@demo.example")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let deadline = Instant::now() + PATIENCE;
    loop {
        let trail = c.audit("saas").await;
        let refused = trail["entries"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| {
                e["action"] == "sign_in_refused" && e["target"] == format!("operator:{dpo}")
            })
            .count();
        if refused == 5 {
            break;
        }
        assert!(
            refused < 5 && Instant::now() < deadline,
            "{refused}: {trail}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    c.finish().await;
}

/// Runs axe-core on the page; the violations, one line each.
async fn axe(c: &Console) -> Vec<String> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../node_modules/axe-core/axe.min.js"
    );
    let source = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{path}: {e} (run `npm ci` or `cargo xtask test`)"));
    c.browser.eval(&source).await.unwrap();
    let v = c
        .browser
        .eval_async(
            "const done = arguments[arguments.length - 1];\
             axe.run(document)\
               .then(r => done(r.passes.some(p => p.id === 'html-has-lang')\
                   ? r.violations.map(v => `${v.id} (${v.impact}): ${v.help} — ` +\
                       v.nodes.map(n => n.target.join(' > ') + ': ' + n.failureSummary).join(' | '))\
                   : ['axe checked no language']),\
                     e => done(['axe failed: ' + e]));",
            vec![],
        )
        .await
        .unwrap();
    serde_json::from_value(v).unwrap()
}

/// Every page of the console passes axe-core with no violation, in German
/// and in English.
#[tokio::test]
async fn every_console_page_passes_axe_in_german_and_english() {
    let c = Console::start().await;
    let first = decide(&c.http, &c.server, "tutory", "accept_all").await;
    let id = first["consent_id"].as_str().unwrap().to_string();
    // A signed-in user of the site, so that the subject's page has its consents.
    let linked = c
        .http
        .post(c.server.url("/v1/admin/sites/tutory/subjects/user-42"))
        .bearer_auth(demo_key(&c.server, "tutory"))
        .json(&json!({"consent_id": id}))
        .send()
        .await
        .unwrap();
    assert_eq!(linked.status(), 200);
    let mut found = Vec::new();
    for lang in ["de", "en"] {
        c.goto(&format!("/console/sign-in?lang={lang}")).await;
        c.wait(
            "the sign-in page",
            "return !!document.querySelector('#email');",
        )
        .await;
        for v in axe(&c).await {
            found.push(format!("[{lang}] sign-in: {v}"));
        }
    }
    c.sign_in("admin@demo.example", &c.password("admin@demo.example"))
        .await;
    for lang in ["en", "de"] {
        if lang == "de" {
            c.click("form[action='/console/language'] button").await;
            c.wait(
                "the German console",
                "return document.readyState === 'complete' && document.documentElement.lang === 'de';",
            )
            .await;
        }
        let pages = [
            "/console/account".to_string(),
            "/console/sites/tutory".to_string(),
            "/console/sites/tutory/consents".to_string(),
            format!("/console/sites/tutory/consents/{id}"),
            "/console/sites/tutory/subjects".to_string(),
            "/console/sites/tutory/config".to_string(),
            "/console/sites/tutory/users".to_string(),
            "/console/sites/tutory/audit".to_string(),
        ];
        for p in &pages {
            c.goto(p).await;
            c.wait(
                &format!("{p} loaded"),
                &format!(
                    "return document.readyState === 'complete' && document.documentElement.lang === '{lang}';"
                ),
            )
            .await;
            for v in axe(&c).await {
                found.push(format!("[{lang}] {p}: {v}"));
            }
        }
        // The pages after a form: a subject looked up, a config checked.
        c.goto("/console/sites/tutory/subjects").await;
        c.wait(
            "the subject form",
            "return !!document.querySelector('input[name=subject]');",
        )
        .await;
        c.fill("input[name=subject]", "user-42").await;
        c.click("form[action$='/subjects'] button").await;
        c.wait(
            "the subject's page",
            "return !!document.querySelector('form[action$=\"/erase\"]');",
        )
        .await;
        for v in axe(&c).await {
            found.push(format!("[{lang}] subject: {v}"));
        }
        c.goto("/console/sites/tutory/config").await;
        c.wait("the editor", "return !!document.querySelector('#config');")
            .await;
        c.click("form[action='/console/sites/tutory/config'] button")
            .await;
        c.wait(
            "the checked config",
            "return !!document.querySelector('iframe.banner');",
        )
        .await;
        for v in axe(&c).await {
            found.push(format!("[{lang}] config checked: {v}"));
        }
    }
    assert!(found.is_empty(), "{}", found.join("\n"));
    c.finish().await;
}

/// The README's screenshots of the console: `cargo xtask screenshots`.
#[tokio::test]
#[ignore = "writes docs/screenshots; run by `cargo xtask screenshots`"]
async fn console_screenshots() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let c = Console::start().await;
    let mut id = String::new();
    for (i, action) in [
        "accept_all",
        "reject_all",
        "accept_all",
        "accept_all",
        "reject_all",
    ]
    .iter()
    .enumerate()
    {
        let r = decide(&c.http, &c.server, "saas", action).await;
        if i == 0 {
            id = r["consent_id"].as_str().unwrap().to_string();
        }
    }
    c.browser
        .client()
        .set_window_size(1280, 1000)
        .await
        .unwrap();
    c.sign_in("admin@demo.example", &c.password("admin@demo.example"))
        .await;
    let shot = async |name: &str| {
        tokio::time::sleep(Duration::from_millis(800)).await;
        let png = c.browser.client().screenshot().await.unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    };
    for (path, name) in [
        ("/console/sites/saas".to_string(), "console-overview"),
        (
            format!("/console/sites/saas/consents/{id}"),
            "console-proof",
        ),
        (
            format!("/console/sites/saas/consents/{id}#banner"),
            "console-proof-banner",
        ),
        ("/console/sites/saas/config".to_string(), "console-config"),
    ] {
        c.goto(&path).await;
        c.wait("the page", "return document.readyState === 'complete';")
            .await;
        shot(name).await;
    }
    // The editor's check: differences, whether visitors are asked again, preview.
    raise_revision(&c).await;
    c.click("form[action='/console/sites/saas/config'] button")
        .await;
    c.wait_text("Every visitor is asked again").await;
    c.eval("document.querySelector('main h2').scrollIntoView(); return true;")
        .await;
    shot("console-config-checked").await;
    c.finish().await;
}

/// Hostile input on every console route, signed in as an admin: malformed
/// path parts, queries and forms are refused with a 4xx page, never a 5xx.
#[tokio::test]
async fn every_console_route_refuses_malformed_input_with_a_4xx_never_a_5xx() {
    let server = TestServer::start().await.unwrap();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let receipt = decide(&http, &server, "saas", "accept_all").await;
    let id = receipt["consent_id"].as_str().unwrap().to_string();
    let base = server.url("");
    let base = base.trim_end_matches('/').to_string();
    let c = Console::on(server).await;
    let r = c
        .http
        .post(c.server.url("/console/sign-in"))
        .header("Origin", &base)
        .form(&[
            ("email", "admin@demo.example"),
            ("password", c.password("admin@demo.example").as_str()),
        ])
        .send()
        .await
        .unwrap();
    let set = r.headers()["set-cookie"].to_str().unwrap().to_string();
    let session = set
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
        .to_string();
    let (_, page) = c.get(&session, "/console/sites/saas").await;
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_string();
    let bad_parts = [
        "nope",
        &"x".repeat(3000),
        "%00",
        "%FF%FE",
        "..%2F..%2Fetc",
        "%20",
    ];
    let mut failures = Vec::new();
    let mut sent = 0;
    let mut check = |what: String, status: StatusCode, must_refuse: bool| {
        sent += 1;
        if status.is_server_error() || (must_refuse && !status.is_client_error()) {
            failures.push(format!("{what}: {status}"));
        }
    };
    for (method, path) in routes("saas", &id) {
        // A path part that names nothing: another site, another consent.
        for bad in bad_parts {
            for (from, to) in [
                ("/sites/saas", format!("/sites/{bad}")),
                (id.as_str(), bad.to_string()),
            ] {
                if !path.contains(from) {
                    continue;
                }
                let p = path.replacen(from, &to, 1);
                let status = if method == "GET" {
                    c.get(&session, &p).await.0
                } else {
                    c.post(&session, None, &p, &[("csrf", &csrf)]).await
                };
                check(format!("{method} {p:.80}"), status, true);
            }
        }
        if method == "GET" {
            for q in [
                "from=yesterday",
                "to=2024-13-45",
                "action=everything",
                "version=nope",
                "format=xml",
                "seq=abc",
                "after=-1",
                "%FF=%FE",
            ] {
                let sep = if path.contains('?') { '&' } else { '?' };
                let (status, _) = c.get(&session, &format!("{path}{sep}{q}")).await;
                // Pages that take no such parameter may ignore it.
                check(format!("GET {path}{sep}{q}"), status, false);
            }
        } else {
            for (what, ct, body) in [
                ("JSON", "application/json", b"{\"csrf\":1}".to_vec()),
                (
                    "invalid UTF-8",
                    "application/x-www-form-urlencoded",
                    vec![0xff, 0xfe, b'=', 0xff],
                ),
                ("1 MB", "application/x-www-form-urlencoded", {
                    let mut b = format!("csrf={csrf}&x=").into_bytes();
                    b.extend(std::iter::repeat_n(b'a', 1 << 20));
                    b
                }),
                (
                    "no fields",
                    "application/x-www-form-urlencoded",
                    format!("csrf={csrf}").into_bytes(),
                ),
            ] {
                let status = c
                    .http
                    .post(c.server.url(&path))
                    .header("Cookie", format!("{COOKIE}={session}"))
                    .header("Origin", &base)
                    .header("Content-Type", ct)
                    .body(body)
                    .send()
                    .await
                    .unwrap()
                    .status();
                // A verification and a subject export need no field but the token.
                let may = what == "no fields"
                    && (path.ends_with("/verify") || path.ends_with("/sign-out"));
                check(format!("POST {path} {what}"), status, !may);
            }
        }
    }
    assert!(sent > 150, "{sent}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    c.finish().await;
}

/// A session ends after 30 minutes without a request and 12 hours after
/// sign-in however busy, on a clock the test moves (`KEKSDOSE_TEST_CLOCK`).
#[tokio::test]
async fn a_session_ends_when_idle_and_after_twelve_hours() {
    let dir = tempfile::tempdir().unwrap();
    let clock = dir.path().join("clock");
    let start = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let set = |ms: u64| {
        std::fs::write(&clock, keksdose_shared::time::rfc3339_millis(ms)).unwrap();
    };
    set(start);
    let server = {
        let clock = clock.clone();
        TestServer::start_with(move |c| {
            c.env("KEKSDOSE_TEST_CLOCK", &clock);
        })
        .await
        .unwrap()
    };
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let base = server.url("");
    let base = base.trim_end_matches('/').to_string();
    let password = server
        .log()
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with("admin@demo.example"))
        .and_then(|l| l.split_whitespace().last())
        .unwrap()
        .to_string();
    let sign_in = async || {
        let r = http
            .post(server.url("/console/sign-in"))
            .header("Origin", &base)
            .form(&[
                ("email", "admin@demo.example"),
                ("password", password.as_str()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let set = r.headers()["set-cookie"].to_str().unwrap().to_string();
        set.split(';')
            .next()
            .unwrap()
            .split_once('=')
            .unwrap()
            .1
            .to_string()
    };
    let signed_in = async |session: &str| {
        let r = http
            .get(server.url("/console/sites/saas"))
            .header("Cookie", format!("{COOKIE}={session}"))
            .send()
            .await
            .unwrap();
        match r.status() {
            StatusCode::OK => true,
            StatusCode::SEE_OTHER => {
                assert_eq!(r.headers()["location"], "/console/sign-in");
                false
            }
            other => panic!("{other}"),
        }
    };
    const MIN: u64 = 60_000;
    let session = sign_in().await;
    assert!(signed_in(&session).await);
    set(start + 29 * MIN);
    assert!(
        signed_in(&session).await,
        "29 minutes idle: still signed in"
    );
    set(start + 29 * MIN + 31 * MIN);
    assert!(!signed_in(&session).await, "31 minutes idle: signed out");
    set(start);
    assert!(
        !signed_in(&session).await,
        "and the session is gone for good"
    );

    // Busy, a request every 29 minutes: signed in until 12 hours have passed.
    let session = sign_in().await;
    let mut at = start;
    while at + 29 * MIN <= start + 12 * 60 * MIN {
        at += 29 * MIN;
        set(at);
        assert!(
            signed_in(&session).await,
            "{} min after sign-in",
            (at - start) / MIN
        );
    }
    set(start + 12 * 60 * MIN + 1);
    assert!(
        !signed_in(&session).await,
        "12 hours after sign-in: signed out"
    );
}

/// The console's *Check* through the API: what publishing a config would do,
/// without publishing it.
#[tokio::test]
async fn a_config_check_says_what_publishing_would_do_and_publishes_nothing() {
    let server = TestServer::start().await.unwrap();
    let http = reqwest::Client::new();
    let key = demo_key(&server, "saas");
    let published: Value = http
        .get(server.url("/v1/sites/saas/config"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let check = async |config: &Value| {
        let r = http
            .post(server.url("/v1/admin/sites/saas/config/check"))
            .bearer_auth(&key)
            .json(config)
            .send()
            .await
            .unwrap();
        (r.status(), r.json::<Value>().await.unwrap())
    };
    let mut config = published["config"].clone();
    let (status, same) = check(&config).await;
    assert_eq!(status, 200, "{same}");
    assert_eq!(same["published"], true);
    assert_eq!(same["reask"], json!({"kind": "no"}));
    assert_eq!(same["differences"], json!([]));

    config["site"]["policy_version"] = json!("Stand: 01.12.2026");
    let (_, text_fix) = check(&config).await;
    assert_eq!(text_fix["reask"], json!({"kind": "no"}), "{text_fix}");
    assert_eq!(
        text_fix["differences"],
        json!([{"path": "site.policy_version", "before": "\"Stand: 01.06.2024\"",
                "after": "\"Stand: 01.12.2026\""}])
    );

    let revision = config["consent"]["revision"].as_u64().unwrap();
    config["consent"]["revision"] = json!(revision + 1);
    let (_, raised) = check(&config).await;
    assert_eq!(
        raised["reask"],
        json!({"kind": "revision", "from": revision, "to": revision + 1})
    );
    assert_ne!(raised["version"], published["version"]);

    config["services"][0]["cookies"][0]["lifetime"] = json!("forever");
    let (status, invalid) = check(&config).await;
    assert_eq!(status, 422, "{invalid}");
    assert!(
        invalid["error"]["details"][0]["path"]
            .as_str()
            .unwrap()
            .starts_with("services[0].cookies[0]"),
        "{invalid}"
    );
    let now: Value = http
        .get(server.url("/v1/sites/saas/config"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        now["version"], published["version"],
        "nothing was published"
    );
}

/// The overview counts what visitors decided and shows the ledger's health;
/// the consent log filters by action and pages.
#[tokio::test]
async fn the_overview_counts_the_decisions_and_the_log_filters_them() {
    let c = Console::start().await;
    let version = crate::api::config_version(&c.http, &c.server, "sessionbutler").await;
    for (action, gpc) in [
        ("accept_all", false),
        ("accept_all", true),
        ("reject_all", true),
        ("reject_all", false),
        ("reject_all", false),
    ] {
        let (status, r) = crate::api::post(
            &c.http,
            &c.server,
            "sessionbutler",
            &json!({"config_version": version, "action": action, "language": "de",
                    "signals": {"gpc": gpc, "dnt": false}}),
        )
        .await;
        assert_eq!(status, 201, "{r}");
    }
    c.sign_in("dpo@demo.example", &c.password("dpo@demo.example"))
        .await;
    c.goto("/console/sites/sessionbutler").await;
    c.wait_text("Decisions per day").await;
    // Today's row of the table under the chart: 2 accepted, 3 only necessary.
    let today = keksdose_shared::time::rfc3339_millis(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64,
    )[..10]
        .to_string();
    let row = c
        .eval(&format!(
            "const th = [...document.querySelectorAll('details tbody th')].find(t => t.textContent === '{today}');\
             return th ? [...th.parentElement.querySelectorAll('td')].map(td => td.textContent) : null;"
        ))
        .await;
    assert_eq!(
        row,
        json!(["2", "3", "0", "0"]),
        "accept, reject, custom, withdraw"
    );
    let bars = c
        .eval("return document.querySelectorAll('svg rect.k-accept_all, svg rect.k-reject_all').length;")
        .await;
    assert_eq!(bars, json!(2), "today's bar in two parts");
    let text = c.text().await;
    assert!(text.contains("40.0 % (2 / 5)"), "the GPC share: {text}");
    assert!(text.contains(&version), "the config version live: {text}");
    assert!(text.contains("not yet"), "no verification yet: {text}");
    c.click("form[action$='/verify'] button").await;
    c.wait_text("records recomputed").await;
    let text = c.text().await;
    assert!(
        text.contains("intact") && text.contains("5 records recomputed"),
        "{text}"
    );

    // The log: only "only necessary", two a page is not asked — 50 a page; all
    // three on one; the CSV export of the selection has the three.
    c.goto("/console/sites/sessionbutler/consents?action=reject_all")
        .await;
    c.wait_text("Consent log").await;
    let rows = c
        .eval("return [...document.querySelectorAll('main table tbody tr')].map(r => r.cells[2].textContent);")
        .await;
    assert_eq!(
        rows,
        json!(["Only necessary", "Only necessary", "Only necessary"])
    );
    let session = c.session().await;
    let (status, csv) = c
        .get(
            &session,
            "/console/sites/sessionbutler/export?format=csv&action=reject_all",
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(csv.lines().count(), 4, "a header and three records: {csv}");
    assert!(
        csv.lines().skip(1).all(|l| l.contains(",reject_all,")),
        "{csv}"
    );
    c.finish().await;
}
