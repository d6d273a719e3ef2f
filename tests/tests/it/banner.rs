//! The loader (`static/k.js`) and the banner on the demo pages, in headless Chromium
//! against the real server: what runs before and after a choice, what the ledger
//! records, and what a returning visitor downloads. Needs the widget built
//! (`cargo xtask widget`; `cargo xtask test` does it).

use std::time::{Duration, Instant};

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::key::Key;
use keksdose_tests::{Browser, TestServer};
use serde_json::{Value, json};

use crate::api::demo_key;

/// How long a test waits for something the page does on its own.
const PATIENCE: Duration = Duration::from_secs(20);

/// Every blocked script of /demo/saas.html, as the stand-ins report themselves.
const SAAS_SCRIPTS: [&str; 8] = [
    "mixpanel",
    "segment",
    "satismeter",
    "awin",
    "google-ads",
    "intercom",
    "userlane",
    "analytics-inline",
];

/// JS that sets `f` to the fields of this page's site cookie (`[]` when absent);
/// the site is named by the loader's script tag, in either embed form.
const COOKIE_FIELDS: &str = "const k = document.querySelector('script[data-site]');\
    const site = k ? k.dataset.site\
        : document.querySelector('script[src*=\"/s/\"]').getAttribute('src').split('/')[2];\
    const c = document.cookie.split('; ').find(c => c.startsWith('keksdose_' + site + '='));\
    const f = c ? c.slice(c.indexOf('=') + 1).split('.') : [];";

/// The two embed forms of the contract: `/k.js` with `data-site`, and the
/// per-site loader `/s/SITE/k.js` with the config and the server-rendered first
/// layer in it (the demo pages with `?embed=site`).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Embed {
    Generic,
    PerSite,
}

const EMBEDS: [Embed; 2] = [Embed::Generic, Embed::PerSite];

/// A browser and a server with the demo sites.
struct Demo {
    server: TestServer,
    browser: Browser,
    http: reqwest::Client,
    /// How `open` embeds the loader in the demo pages.
    embed: Embed,
}

impl Demo {
    async fn start() -> Demo {
        Demo::start_as(Embed::Generic).await
    }

    async fn start_as(embed: Embed) -> Demo {
        Demo {
            server: TestServer::start().await.unwrap(),
            browser: Browser::start().await.unwrap(),
            http: reqwest::Client::new(),
            embed,
        }
    }

    /// In `embed`'s form, with the banner's WASM held back by the server until
    /// `release` exists.
    async fn start_held(embed: Embed, release: &std::path::Path) -> Demo {
        Demo {
            server: TestServer::start_with(|cmd| {
                cmd.env("KEKSDOSE_TEST_HOLD_WASM", release);
            })
            .await
            .unwrap(),
            browser: Browser::start().await.unwrap(),
            http: reqwest::Client::new(),
            embed,
        }
    }

    /// Like [`start_as`](Self::start_as), serving a copy of `static/` in `dir` with
    /// `pages` (path below `static/`, content) added.
    async fn start_with_pages_as(
        embed: Embed,
        dir: &std::path::Path,
        pages: &[(&str, &str)],
    ) -> Demo {
        let static_dir = dir.join("static");
        keksdose_tests::copy_dir(
            &keksdose_tests::workspace_root().join("static"),
            &static_dir,
        )
        .unwrap();
        for (path, content) in pages {
            std::fs::write(static_dir.join(path), content).unwrap();
        }
        Demo {
            server: TestServer::start_with(|cmd| {
                cmd.arg("--static-dir").arg(&static_dir);
            })
            .await
            .unwrap(),
            browser: Browser::start().await.unwrap(),
            http: reqwest::Client::new(),
            embed,
        }
    }

    /// Opens `path`; a demo page in the embed form of this demo.
    async fn open(&self, path: &str) {
        let path = if self.embed == Embed::PerSite && path.contains(".html") {
            let sep = if path.contains('?') { '&' } else { '?' };
            format!("{path}{sep}embed=site")
        } else {
            path.to_string()
        };
        self.browser
            .client()
            .goto(&self.server.url(&path))
            .await
            .unwrap();
    }

    /// How many dialogs the banner's shadow root holds.
    async fn dialogs(&self) -> Value {
        self.eval(
            "return document.querySelector('#keksdose-root').shadowRoot.querySelectorAll('[role=dialog]').length;",
        )
        .await
    }

    /// Runs `script` (a function body); a page in the middle of navigating gives `Null`.
    async fn eval(&self, script: &str) -> Value {
        self.browser.eval(script).await.unwrap_or(Value::Null)
    }

    /// Waits until `script` returns something truthy, and returns it.
    async fn wait(&self, what: &str, script: &str) -> Value {
        self.wait_explained(what, script, None).await
    }

    /// [`wait`](Self::wait), saying on a timeout what `explain` returns then.
    async fn wait_explained(&self, what: &str, script: &str, explain: Option<&str>) -> Value {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let v = self.eval(script).await;
            let truthy = match &v {
                Value::Null => false,
                Value::Bool(b) => *b,
                Value::Number(n) => n.as_f64() != Some(0.0),
                Value::String(s) => !s.is_empty(),
                _ => true,
            };
            if truthy {
                return v;
            }
            if Instant::now() >= deadline {
                let state = match explain {
                    Some(explain) => self.eval(explain).await,
                    None => Value::Null,
                };
                panic!(
                    "waited {PATIENCE:?} for {what} ({:?} embed); last: {v}; then: {state}; server log:\n{}",
                    self.embed,
                    self.server.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the loader has `site`'s config: fetched (`/k.js`: what the
    /// per-site loader carries, `/v1/sites/{site}/loader`), or brought with it
    /// (the per-site loader, which has used it before any later task).
    async fn config_arrived(&self, site: &str) {
        let script = match self.embed {
            Embed::Generic => format!(
                "return performance.getEntriesByType('resource').some(e => e.name.includes('/v1/sites/{site}/loader'));"
            ),
            Embed::PerSite => format!(
                "return !!window.keksdose && performance.getEntriesByType('resource').some(e => e.name.includes('/s/{site}/k.js'));"
            ),
        };
        self.wait("the loader to have the config", &script).await;
    }

    /// Clicks the banner's button `data-action=action` inside its shadow root, once
    /// the banner shows it.
    async fn click(&self, action: &str) {
        let script = format!(
            "const h = document.querySelector('#keksdose-root');\
             const b = h && h.shadowRoot && h.shadowRoot.querySelector('button[data-action=\"{action}\"]');\
             if (!b) return false; b.click(); return true;"
        );
        self.wait(&format!("the banner's {action} button"), &script)
            .await;
    }

    /// The ids of the blocked scripts that ran, in order.
    async fn ran(&self) -> Vec<String> {
        let v = self
            .eval("return (window.__demo && window.__demo.ran) || [];")
            .await;
        serde_json::from_value(v).unwrap_or_default()
    }

    /// The stored decision's consent ID, once the server acknowledged it.
    async fn acknowledged_consent_id(&self) -> String {
        let v = self
            .wait(
                "an acknowledged decision in the cookie",
                &format!("{COOKIE_FIELDS} return f[1] && f[2] === '' ? f[1] : null;"),
            )
            .await;
        v.as_str().unwrap().to_string()
    }

    /// The cookie's action code (`a`, `r`, `c`, `w`), or null.
    async fn cookie_action(&self) -> Value {
        self.eval(&format!("{COOKIE_FIELDS} return f.length ? f[6] : null;"))
            .await
    }

    async fn json(&self, path: &str, key: Option<&str>) -> Value {
        let mut req = self.http.get(self.server.url(path));
        if let Some(key) = key {
            req = req.bearer_auth(key);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 200, "GET {path}");
        resp.json().await.unwrap()
    }

    async fn config(&self, site: &str) -> Value {
        self.json(&format!("/v1/sites/{site}/config"), None).await
    }

    /// The admin proof of a consent ID (with the demo site's key).
    async fn proof(&self, site: &str, consent_id: &str) -> Value {
        let key = demo_key(&self.server, site);
        self.json(
            &format!("/v1/admin/sites/{site}/consents/{consent_id}/proof"),
            Some(&key),
        )
        .await
    }

    /// Names of the page's cookies.
    async fn cookie_names(&self) -> Vec<String> {
        let v = self
            .eval("return document.cookie ? document.cookie.split('; ').map(c => c.split('=')[0]) : [];")
            .await;
        serde_json::from_value(v).unwrap_or_default()
    }

    /// URLs of every resource the page requested.
    async fn resources(&self) -> Vec<String> {
        let v = self
            .eval("return performance.getEntriesByType('resource').map(e => e.name);")
            .await;
        serde_json::from_value(v).unwrap_or_default()
    }

    /// Waits until every blocked script of the SaaS page ran.
    async fn saas_scripts_ran(&self, what: &str) {
        let script = format!(
            "return (window.__demo && window.__demo.ran.length) >= {};",
            SAAS_SCRIPTS.len()
        );
        self.wait(what, &script).await;
    }

    /// Waits until the first layer shows its three buttons.
    async fn first_layer(&self, what: &str) {
        self.wait(what, FIRST_LAYER_VISIBLE).await;
    }

    /// Remembers the server's first layer (`window.serversLayer`), to tell later
    /// whether it is still the one shown.
    async fn remember_servers_layer(&self) {
        self.eval(
            "window.serversLayer = document.querySelector('#keksdose-root').shadowRoot\
                 .querySelector('[data-keksdose-banner]'); return true;",
        )
        .await;
    }

    /// Waits until the loader marked the host `data-ready` (the server's layer shown): the
    /// banner's WASM and view are there, "Einstellungen" would open at once.
    async fn settings_ready(&self) {
        self.wait(
            "the WASM and the view to be there",
            "return document.querySelector('#keksdose-root').hasAttribute('data-ready');",
        )
        .await;
    }

    /// Waits until the settings layer is open, with its dialog focused if
    /// `focused` (as after a keyboard action).
    async fn settings_layer(&self, focused: bool) {
        let script = format!(
            "const h = document.querySelector('#keksdose-root');\
             const r = h && h.shadowRoot;\
             return !!(r && r.querySelector('button[data-action=\"save\"]')\
                 && (!{focused} || (r.activeElement && r.activeElement.getAttribute('role') === 'dialog')));"
        );
        self.wait("the settings layer", &script).await;
    }

    /// Presses `keys` one after the other on whatever has focus (WebDriver actions:
    /// real key events, nothing focused or clicked on the way).
    async fn press(&self, keys: &[Key]) {
        let mut seq = KeyActions::new("keyboard".into());
        for k in keys {
            let c = char::from(*k);
            seq = seq
                .then(KeyAction::Down { value: c })
                .then(KeyAction::Up { value: c });
        }
        self.browser.client().perform_actions(seq).await.unwrap();
    }

    async fn shift_tab(&self) {
        let shift = char::from(Key::Shift);
        let tab = char::from(Key::Tab);
        let seq = KeyActions::new("keyboard".into())
            .then(KeyAction::Down { value: shift })
            .then(KeyAction::Down { value: tab })
            .then(KeyAction::Up { value: tab })
            .then(KeyAction::Up { value: shift });
        self.browser.client().perform_actions(seq).await.unwrap();
    }

    /// What has focus: `banner:…` inside the banner's shadow root, `page:…` outside.
    async fn focus(&self) -> String {
        let v = self.eval(DESCRIBE_FOCUS).await;
        v.as_str().unwrap_or("none").to_string()
    }

    /// Presses Tab until `target` has focus; every stop on the way is returned.
    async fn tab_to(&self, target: &str) -> Vec<String> {
        let mut stops = Vec::new();
        for _ in 0..40 {
            self.press(&[Key::Tab]).await;
            let f = self.focus().await;
            stops.push(f.clone());
            if f == target {
                return stops;
            }
        }
        panic!("Tab never reached {target}; stops: {stops:?}");
    }

    async fn finish(self) {
        self.browser.close().await.unwrap();
    }
}

/// Names the focused element: `banner:<data-action>`, `banner:category:<id>`,
/// `banner:service:<id>`, `banner:disclosure:<category>`, `banner:dialog`,
/// `banner:link:<text>`; outside the banner `page:settings-link` or `page:<tag>`.
const DESCRIBE_FOCUS: &str = "const h = document.querySelector('#keksdose-root');\
    const a = h && h.shadowRoot ? h.shadowRoot.activeElement : null;\
    if (a) {\
      const d = a.dataset;\
      if (d.action) return 'banner:' + d.action;\
      if (d.category) return 'banner:category:' + d.category;\
      if (d.service) return 'banner:service:' + d.service;\
      if (a.classList.contains('kd-disclosure') && a.closest('li')) return 'banner:disclosure:service';\
      if (a.classList.contains('kd-disclosure')) return 'banner:disclosure:' + a.closest('section').getAttribute('aria-labelledby').slice(7);\
      if (a.getAttribute('role') === 'dialog') return 'banner:dialog';\
      if (a.tagName === 'A') return 'banner:link:' + a.textContent.trim();\
      return 'banner:' + a.tagName.toLowerCase() + '.' + a.className;\
    }\
    const e = document.activeElement;\
    if (e && e.hasAttribute('data-consent-open')) return 'page:settings-link';\
    return 'page:' + (e ? e.tagName.toLowerCase() : 'none');";

/// Whether the banner's three first-layer buttons are rendered with a size.
const FIRST_LAYER_VISIBLE: &str = "const h = document.querySelector('#keksdose-root');\
    if (!h || !h.shadowRoot) return false;\
    const bs = ['accept_all', 'reject_all', 'settings'].map(a => h.shadowRoot.querySelector(`button[data-action=\"${a}\"]`));\
    return bs.every(b => b && b.getBoundingClientRect().width > 0 && b.getBoundingClientRect().height > 0\
        && getComputedStyle(b).visibility === 'visible');";

#[tokio::test]
async fn before_any_choice_nothing_blocked_runs_and_the_banner_asks() {
    for embed in EMBEDS {
        let demo = Demo::start_as(embed).await;
        for page in ["/demo/saas.html", "/demo/coaching.html"] {
            demo.open(page).await;
            demo.first_layer("the first layer's three buttons").await;
            assert_eq!(
                demo.ran().await,
                Vec::<String>::new(),
                "{page}: nothing ran"
            );
            let iframes = demo
                .eval("return [...document.querySelectorAll('iframe')].filter(f => f.hasAttribute('src')).length;")
                .await;
            assert_eq!(iframes, json!(0), "{page}: no iframe has a src");
            let leaked: Vec<String> = demo
                .resources()
                .await
                .into_iter()
                .filter(|u| u.contains("/demo/vendor/") || u.contains("/demo/embed/"))
                .collect();
            assert!(
                leaked.is_empty(),
                "{page}: requests left before consent: {leaked:?}"
            );
            let first = demo.eval("return Array.from(window.dataLayer[0]);").await;
            assert_eq!(
                first,
                json!(["consent", "default", {
                    "ad_storage": "denied", "ad_user_data": "denied", "ad_personalization": "denied",
                    "analytics_storage": "denied", "functionality_storage": "denied",
                    "personalization_storage": "denied", "security_storage": "granted",
                    "wait_for_update": 500
                }]),
                "{page}: Consent Mode defaults come first"
            );
            assert_eq!(
                demo.eval("return window.keksdose.get();").await,
                Value::Null
            );
        }
        demo.finish().await;
    }
}

#[tokio::test]
async fn only_necessary_runs_nothing_and_records_reject_all() {
    for embed in EMBEDS {
        let demo = Demo::start_as(embed).await;
        let version = demo.config("saas").await["version"].clone();
        demo.open("/demo/saas.html").await;
        demo.click("reject_all").await;
        let id = demo.acknowledged_consent_id().await;
        demo.wait(
            "the banner to close",
            "return !document.querySelector('#keksdose-root');",
        )
        .await;
        assert_eq!(demo.cookie_action().await, json!("r"));
        // Give anything wrongly activated the time to run.
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(demo.ran().await, Vec::<String>::new());
        assert_eq!(
            demo.eval(
                "return window.keksdose.allowed('mixpanel') || window.keksdose.allowed('analytics');"
            )
            .await,
            json!(false)
        );

        let proof = demo.proof("saas", &id).await;
        let records = proof["records"].as_array().unwrap();
        assert_eq!(records.len(), 1, "{proof}");
        let record = &records[0]["record"];
        assert_eq!(record["action"], "reject_all");
        assert_eq!(record["config_version"], version, "the version shown");
        assert_eq!(record["source"], "banner");
        assert_eq!(proof["verified"], true);
        demo.finish().await;
    }
}

#[tokio::test]
async fn accept_all_runs_every_blocked_script_once_loads_iframes_and_grants_the_mapped_signals() {
    for embed in EMBEDS {
        let demo = Demo::start_as(embed).await;
        demo.open("/demo/saas.html").await;
        demo.click("accept_all").await;
        demo.saas_scripts_ran("every blocked script to run").await;
        demo.acknowledged_consent_id().await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let mut ran = demo.ran().await;
        assert_eq!(
            ran.last().map(String::as_str),
            Some("analytics-inline"),
            "in document order: the inline script is the last one: {ran:?}"
        );
        ran.sort();
        let mut expected: Vec<String> = SAAS_SCRIPTS.iter().map(|s| s.to_string()).collect();
        expected.sort();
        assert_eq!(ran, expected, "each exactly once");

        // The update grants exactly the signals the config maps the services to.
        let config = demo.config("saas").await;
        let mapped: Vec<String> = config["config"]["services"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|s| s["consent_mode"].as_array().cloned().unwrap_or_default())
            .map(|s| s.as_str().unwrap().to_string())
            .collect();
        assert!(
            mapped.contains(&"analytics_storage".to_string()),
            "{mapped:?}"
        );
        let update = demo
            .eval(
                "const u = [...window.dataLayer].map(e => Array.from(e))\
                   .filter(e => e[0] === 'consent' && e[1] === 'update');\
                 return u.length ? u[u.length - 1][2] : null;",
            )
            .await;
        for (signal, state) in update.as_object().expect("a consent update") {
            let granted = mapped.contains(signal) || signal == "security_storage";
            assert_eq!(
                state,
                if granted { "granted" } else { "denied" },
                "{signal} in {update}"
            );
        }
        assert_eq!(update.as_object().unwrap().len(), 7, "{update}");

        // The coaching site's two-click embeds (its own cookie: a fresh visitor there).
        demo.open("/demo/coaching.html").await;
        demo.click("accept_all").await;
        let loaded = demo
            .wait(
                "every coaching iframe to load its content",
                "const fs = [...document.querySelectorAll('iframe[data-consent]')];\
                 return fs.length >= 5 && fs.every(f => f.getAttribute('src') === f.dataset.src\
                     && f.contentDocument && f.contentDocument.readyState === 'complete'\
                     && f.contentDocument.body && f.contentDocument.body.textContent.trim() !== '') && fs.length;",
            )
            .await;
        assert_eq!(loaded, json!(5));
        demo.finish().await;
    }
}

#[tokio::test]
async fn a_returning_visitor_gets_no_banner_no_wasm_and_the_scripts_at_once() {
    for embed in EMBEDS {
        let demo = Demo::start_as(embed).await;
        demo.open("/demo/saas.html").await;
        // Decided in the settings, which only the banner's WASM renders: so the
        // first visit surely downloaded it (a click on the per-site form's
        // server-rendered first layer may come before the WASM is fetched).
        demo.click("settings").await;
        demo.settings_layer(false).await;
        demo.click("accept_all").await;
        demo.acknowledged_consent_id().await;
        let first = demo.resources().await;
        assert!(
            first.iter().any(|u| u.ends_with(".wasm")),
            "the first visit loaded the banner"
        );
        // The loader's other half: imported by /k.js, inline in the per-site loader.
        assert_eq!(
            first.iter().any(|u| u.contains("/widget/k-banner.")),
            matches!(embed, Embed::Generic),
            "{embed:?}: {first:?}"
        );

        demo.open("/demo/saas.html").await;
        demo.saas_scripts_ran("every blocked script to run from the cookie")
            .await;
        // The loader checks the cookie against the config; wait until it has it, and
        // has sent the Consent Mode update that follows.
        demo.wait(
            "the Consent Mode update from the stored decision",
            "return [...window.dataLayer].some(e => e[0] === 'consent' && e[1] === 'update');",
        )
        .await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(demo.ran().await.len(), SAAS_SCRIPTS.len(), "each once");
        assert_eq!(
            demo.eval("return !!document.querySelector('#keksdose-root');")
                .await,
            json!(false),
            "no banner"
        );
        let widget: Vec<String> = demo
            .resources()
            .await
            .into_iter()
            .filter(|u| u.contains("/widget/"))
            .collect();
        assert!(
            widget.is_empty(),
            "neither the banner nor the loader's other half: {widget:?}"
        );
        demo.finish().await;
    }
}

#[tokio::test]
async fn cookie_settings_only_necessary_after_accept_all_withdraws_and_deletes_cookies() {
    for embed in EMBEDS {
        let demo = Demo::start_as(embed).await;
        demo.open("/demo/saas.html").await;
        demo.click("accept_all").await;
        let id = demo.acknowledged_consent_id().await;
        demo.saas_scripts_ran("every blocked script to run").await;
        let before = demo.cookie_names().await;
        for name in [
            "mp_0a1b2c3d_mixpanel",
            "ajs_anonymous_id",
            "_gcl_au",
            "AWSESS",
        ] {
            assert!(
                before.iter().any(|n| n == name),
                "{name} set by its stand-in: {before:?}"
            );
        }
        let userlane = "return Object.keys(localStorage).filter(k => k.startsWith('userlane'));";
        assert_eq!(
            demo.eval(userlane).await,
            json!(["userlane_user"]),
            "local storage"
        );

        // The footer's "Cookie-Einstellungen" opens the settings; "Nur Notwendige" there.
        demo.browser
            .client()
            .find(fantoccini::Locator::Css("a[data-consent-open]"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        demo.settings_layer(false).await;
        demo.click("reject_all").await;

        // saas.toml sets reload_on_withdraw: the page reloads once the ledger answered.
        demo.wait(
            "an acknowledged withdrawal in the cookie",
            &format!("{COOKIE_FIELDS} return f[6] === 'w' && f[2] === '' && document.readyState === 'complete';"),
        )
        .await;
        assert_eq!(
            demo.acknowledged_consent_id().await,
            id,
            "the same consent ID"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(
            demo.ran().await,
            Vec::<String>::new(),
            "after the reload nothing ran"
        );
        let after = demo.cookie_names().await;
        let left: Vec<&String> = after
            .iter()
            .filter(|n| {
                [
                    "mp_",
                    "ajs_",
                    "_gcl",
                    "_aw_",
                    "AWSESS",
                    "intercom-",
                    "sm_",
                    "userlane",
                ]
                .iter()
                .any(|p| n.starts_with(p))
            })
            .collect();
        assert!(
            left.is_empty(),
            "refused services' cookies remain: {left:?}"
        );
        assert!(after.iter().any(|n| n == "keksdose_saas"));
        assert!(
            after.iter().any(|n| n == "__mp_opt_in_out_0a1b2c3d"),
            "the page's opt-out hook for mixpanel ran before the reload: {after:?}"
        );
        assert_eq!(
            demo.eval(userlane).await,
            json!([]),
            "declared local storage is removed too"
        );

        let history = demo.json(&format!("/v1/consents/{id}"), None).await;
        let actions: Vec<&str> = history["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["action"].as_str().unwrap())
            .collect();
        assert_eq!(actions, ["accept_all", "withdraw"], "{history}");
        let proof = demo.proof("saas", &id).await;
        assert_eq!(proof["records"][1]["record"]["action"], "withdraw");
        demo.finish().await;
    }
}

#[tokio::test]
async fn a_decision_the_ledger_missed_applies_at_once_and_is_sent_once_on_the_next_page() {
    for embed in EMBEDS {
        let mut demo = Demo::start_as(embed).await;
        demo.open("/demo/saas.html").await;
        demo.first_layer("the first layer's three buttons").await;
        demo.server.kill().unwrap();
        demo.click("accept_all").await;
        // Applied locally (the inline script needs no server), kept as pending.
        demo.wait(
            "the inline script to run",
            "return !!(window.__demo && window.__demo.ran.includes('analytics-inline'));",
        )
        .await;
        let pending = demo
            .wait(
                "a pending decision in the cookie",
                &format!(
                    "{COOKIE_FIELDS} return f[1] === '' && f[2] && f[6] === 'a' ? f[2] : null;"
                ),
            )
            .await;
        assert!(pending.as_str().is_some_and(|k| k.len() >= 16), "{pending}");

        // The next page view (the server is back, on another port of the same host).
        demo.server.restart().await.unwrap();
        demo.open("/demo/saas.html").await;
        let id = demo.acknowledged_consent_id().await;
        demo.open("/demo/saas.html").await;
        demo.saas_scripts_ran("every blocked script to run").await;
        assert_eq!(demo.acknowledged_consent_id().await, id);
        let history = demo.json(&format!("/v1/consents/{id}"), None).await;
        let records = history["records"].as_array().unwrap();
        assert_eq!(records.len(), 1, "recorded once: {history}");
        assert_eq!(records[0]["action"], "accept_all");
        demo.finish().await;
    }
}

#[tokio::test]
async fn the_banner_files_carry_cors_for_pages_on_other_origins() {
    let server = TestServer::start().await.unwrap();
    let http = reqwest::Client::new();
    let get = |path: String| {
        http.get(server.url(&path))
            .header("Origin", "https://www.shop.example")
            .send()
    };
    let manifest = get("/widget/manifest.json".into()).await.unwrap();
    assert_eq!(manifest.status(), 200);
    assert_eq!(manifest.headers()["access-control-allow-origin"], "*");
    let manifest: Value = manifest.json().await.unwrap();
    for file in ["js", "wasm"] {
        let name = manifest[file].as_str().unwrap();
        let resp = get(format!("/widget/{name}")).await.unwrap();
        assert_eq!(resp.status(), 200, "{name}");
        assert_eq!(resp.headers()["access-control-allow-origin"], "*", "{name}");
    }
    let missing = get("/widget/nope.js".into()).await.unwrap();
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn with_gpc_nothing_runs_before_a_choice_and_the_record_notes_the_signal() {
    for embed in EMBEDS {
        let demo = Demo::start_as(embed).await;
        demo.open("/demo/saas.html").await;
        demo.first_layer("the first layer's three buttons").await;
        // Chromium has no GPC setting: the test gives the page the signal.
        demo.eval(
            "Object.defineProperty(navigator, 'globalPrivacyControl', {value: true, configurable: true}); return true;",
        )
        .await;
        assert_eq!(demo.ran().await, Vec::<String>::new());
        // The visitor's explicit choice wins over the signal; the record notes both.
        demo.click("accept_all").await;
        let id = demo.acknowledged_consent_id().await;
        let flags = demo.eval(&format!("{COOKIE_FIELDS} return f[7];")).await;
        assert_eq!(flags, json!("g"), "the cookie notes GPC");
        let proof = demo.proof("saas", &id).await;
        assert_eq!(
            proof["records"][0]["record"]["signals"],
            json!({"gpc": true, "dnt": false}),
            "{proof}"
        );
        demo.finish().await;
    }
}

#[tokio::test]
async fn a_site_with_only_necessary_cookies_shows_no_banner_until_the_settings_link() {
    for embed in EMBEDS {
        let demo = Demo::start_as(embed).await;
        demo.open("/demo/sessionbutler.html").await;
        demo.config_arrived("sessionbutler").await;
        tokio::time::sleep(Duration::from_millis(800)).await;
        assert_eq!(
            demo.eval("return !!document.querySelector('#keksdose-root');")
                .await,
            json!(false),
            "no banner"
        );
        // The banner's module and WASM are not fetched. The loader's other half
        // is, on a first visit with `/k.js` (beside the config, before the config
        // says whether a banner shows), as the per-site loader carries it.
        let resources = demo.resources().await;
        assert!(
            !resources
                .iter()
                .any(|u| u.contains("/widget/banner.") || u.ends_with(".wasm")),
            "no banner download: {resources:?}"
        );
        demo.eval("document.querySelector('a[data-consent-open]').click(); return true;")
            .await;
        demo.wait(
            "the declaration behind the settings link",
            "const h = document.querySelector('#keksdose-root');\
             return !!(h && h.shadowRoot && h.shadowRoot.querySelector('[role=\"dialog\"]'));",
        )
        .await;
        assert_eq!(
            demo.eval("return location.hash;").await,
            json!(""),
            "the link's default is prevented"
        );
        demo.finish().await;
    }
}

#[tokio::test]
async fn the_javascript_api_records_decisions_and_reports_changes() {
    for embed in EMBEDS {
        let demo = Demo::start_as(embed).await;
        demo.open("/demo/saas.html").await;
        demo.first_layer("the first layer's three buttons").await;
        demo.eval(
            "window.__changes = []; window.__events = [];\
             keksdose.on('change', d => __changes.push(d));\
             document.addEventListener('keksdose:change', e => __events.push(e.detail));\
             keksdose.acceptAll(); return true;",
        )
        .await;
        let id = demo.acknowledged_consent_id().await;
        demo.wait(
            "the banner to close",
            "return !document.querySelector('#keksdose-root');",
        )
        .await;
        let got = demo.eval("return keksdose.get();").await;
        assert_eq!(got["consentId"], json!(id), "{got}");
        assert_eq!(got["services"]["mixpanel"], true, "{got}");
        assert_eq!(got["choices"]["analytics"], true, "{got}");
        assert_eq!(got["choices"]["necessary"], true, "{got}");
        assert!(
            got["choices"].get("mixpanel").is_none(),
            "services apart: {got}"
        );
        assert_eq!(
            demo.eval("return [keksdose.allowed('mixpanel'), keksdose.allowed('marketing'), keksdose.allowed('nope')];")
                .await,
            json!([true, true, false])
        );
        assert_eq!(
            demo.eval("return [__changes.length, __events.length, __events[0].configVersion === keksdose.get().configVersion];")
                .await,
            json!([1, 1, true])
        );
        let history = demo.json(&format!("/v1/consents/{id}"), None).await;
        assert_eq!(history["records"][0]["action"], "accept_all", "{history}");

        // Opt-out hooks: per id, for any, and the DOM event; kept in sessionStorage
        // because saas.toml reloads the page after a withdrawal.
        demo.eval(
            "const log = x => sessionStorage.setItem('optouts', JSON.stringify(\
                 JSON.parse(sessionStorage.getItem('optouts') || '[]').concat([x])));\
             keksdose.onOptOut('segment', id => log('hook:' + id));\
             keksdose.onOptOut('analytics', id => log('hook:' + id));\
             keksdose.onOptOut('necessary', id => log('hook:' + id));\
             keksdose.on('optout', d => log('any:' + d.categories.join('+') + '/' + d.services.length));\
             document.addEventListener('keksdose:optout', e => log('event:' + e.detail.services.includes('mixpanel')));\
             keksdose.rejectAll(); return true;",
        )
        .await;
        demo.wait(
            "an acknowledged withdrawal in the cookie",
            &format!("{COOKIE_FIELDS} return f[6] === 'w' && f[2] === '' && document.readyState === 'complete';"),
        )
        .await;
        let config = demo.config("saas").await;
        let optional_services = config["config"]["services"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["category"] != "necessary")
            .count();
        let mut optional_categories: Vec<&str> = config["config"]["categories"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap())
            .filter(|c| *c != "necessary")
            .collect();
        optional_categories.sort();
        let mut expected = vec![
            "hook:segment".to_string(),
            "hook:analytics".to_string(),
            format!("any:{}/{optional_services}", optional_categories.join("+")),
            "event:true".to_string(),
        ];
        expected.sort();
        let logged = demo
            .wait(
                "the opt-out log",
                "return JSON.parse(sessionStorage.getItem('optouts') || 'null');",
            )
            .await;
        let mut logged: Vec<String> = serde_json::from_value(logged).unwrap();
        logged.sort();
        assert_eq!(logged, expected, "each hook once, none for necessary");
        demo.finish().await;
    }
}

#[tokio::test]
async fn a_decision_on_one_site_never_applies_to_another_site_on_the_same_host() {
    for embed in EMBEDS {
        let demo = Demo::start_as(embed).await;
        demo.open("/demo/saas.html").await;
        demo.click("accept_all").await;
        let saas = demo.acknowledged_consent_id().await;
        // The coaching site also declares google-ads, but its visitor has not decided
        // there: nothing of it runs, its banner asks.
        demo.open("/demo/coaching.html").await;
        demo.wait(
            "the coaching banner",
            "const r = document.querySelector('#keksdose-root');\
             return !!(r && r.shadowRoot && r.shadowRoot.querySelector('button'));",
        )
        .await;
        assert_eq!(
            demo.ran().await,
            Vec::<String>::new(),
            "saas's decision ran on coaching"
        );
        let loaded = demo
            .eval("return [...document.querySelectorAll('iframe[data-consent]')].filter(f => f.getAttribute('src')).length;")
            .await;
        assert_eq!(loaded, 0, "an embed loaded without consent on coaching");
        demo.click("accept_all").await;
        let coaching = demo.acknowledged_consent_id().await;
        assert_ne!(coaching, saas);
        let history = demo.json(&format!("/v1/consents/{coaching}"), None).await;
        assert_eq!(history["site"], "coaching", "{history}");
        assert_eq!(history["records"][0]["action"], "accept_all", "{history}");
        let history = demo.json(&format!("/v1/consents/{saas}"), None).await;
        assert_eq!(history["records"].as_array().unwrap().len(), 1, "{history}");
        let names = demo.cookie_names().await;
        assert!(
            names.contains(&"keksdose_saas".to_string())
                && names.contains(&"keksdose_coaching".to_string()),
            "{names:?}"
        );
        demo.finish().await;
    }
}

#[tokio::test]
async fn a_two_click_placeholder_loads_one_embed_once_or_records_consent_for_its_service() {
    for embed in EMBEDS {
        let demo = Demo::start_as(embed).await;
        demo.open("/demo/coaching.html").await;
        let count = demo
            .wait(
                "a placeholder for each blocked embed",
                "const ps = document.querySelectorAll('[data-keksdose-placeholder]');\
                 return ps.length === document.querySelectorAll('iframe[data-consent]').length && ps.length;",
            )
            .await;
        assert_eq!(count, json!(5));
        let youtube = demo
            .eval(
                "return document.querySelector('[data-keksdose-placeholder=\"youtube\"]').textContent;",
            )
            .await;
        assert!(
            youtube.as_str().unwrap().contains("Google"),
            "names the provider: {youtube}"
        );

        // "Inhalt laden": this one embed, this once, and no decision.
        demo.eval(
            "document.querySelector('[data-keksdose-placeholder=\"youtube\"] [data-keksdose-load]').click(); return true;",
        )
        .await;
        let srcs = "return [...document.querySelectorAll('iframe[data-consent]')]\
                    .filter(f => f.hasAttribute('src')).map(f => f.dataset.consent);";
        assert_eq!(demo.eval(srcs).await, json!(["youtube"]));
        assert_eq!(demo.eval("return keksdose.get();").await, Value::Null);

        // "Immer erlauben": consent for that service, recorded like any other.
        demo.eval(
            "document.querySelector('[data-keksdose-placeholder=\"facebook\"] [data-keksdose-allow]').click(); return true;",
        )
        .await;
        let id = demo.acknowledged_consent_id().await;
        assert_eq!(demo.eval(srcs).await, json!(["youtube", "facebook"]));
        assert_eq!(
            demo.eval("return document.querySelectorAll('[data-keksdose-placeholder]').length;")
                .await,
            json!(3),
            "the others stay blocked"
        );
        let proof = demo.proof("coaching", &id).await;
        let record = &proof["records"][0]["record"];
        assert_eq!(record["action"], "custom", "{proof}");
        assert_eq!(record["choices"]["services"]["facebook"], true, "{proof}");
        assert_eq!(record["choices"]["services"]["youtube"], false, "{proof}");
        assert_eq!(
            demo.eval("return [keksdose.allowed('facebook'), keksdose.allowed('youtube'), keksdose.allowed('social')];")
                .await,
            json!([true, false, false])
        );
        demo.finish().await;
    }
}

/// Each language the coaching site offers, Latin and Greek script alike: the
/// first layer, a two-click placeholder and the settings speak it (the words the
/// server sends for it, its plural forms and legal citations included), the
/// dialog and the placeholder say which language they are in, and the decision
/// is recorded with it.
#[tokio::test]
async fn the_banner_the_settings_and_the_placeholders_speak_the_visitors_language() {
    for embed in EMBEDS {
        let demo = Demo::start_as(embed).await;
        let config = demo.json("/v1/sites/coaching/config?words=1", None).await;
        for lang in ["de", "en", "fr", "pl", "el"] {
            let words = &config["words"][lang];
            let word = |key: &str| {
                words[key]
                    .as_str()
                    .unwrap_or_else(|| panic!("{lang}: no {key} in {words}"))
                    .to_string()
            };
            demo.eval("document.cookie = 'keksdose_coaching=; path=/; max-age=0'; return true;")
                .await;
            demo.open(&format!("/demo/coaching.html?lang={lang}")).await;
            demo.first_layer("the first layer").await;
            let first = demo
                .eval(
                    "const r = document.querySelector('#keksdose-root').shadowRoot;\
                     const d = r.querySelector('[role=dialog]');\
                     const label = a => r.querySelector(`button[data-action=${a}]`).textContent;\
                     return {lang: d.closest('[lang]').getAttribute('lang'), title: r.querySelector('h2').textContent,\
                       accept: label('accept_all'), reject: label('reject_all'), settings: label('settings')};",
                )
                .await;
            assert_eq!(
                first,
                json!({"lang": lang, "title": word("texts.title"), "accept": word("texts.accept_all"),
                       "reject": word("texts.reject_all"), "settings": word("texts.settings")}),
                "{lang}: the first layer"
            );
            let placeholder = demo
                .wait(
                    "the YouTube placeholder",
                    "const p = document.querySelector('[data-keksdose-placeholder=\"youtube\"]');\
                     return p && {lang: p.lang, text: p.querySelector('p').textContent,\
                       load: p.querySelector('[data-keksdose-load]').textContent};",
                )
                .await;
            assert_eq!(placeholder["lang"], lang, "{placeholder}");
            assert_eq!(
                placeholder["load"],
                word("texts.load_content"),
                "{placeholder}"
            );
            let before_service = word("texts.placeholder");
            let before_service = before_service.split("{service}").next().unwrap();
            assert!(
                placeholder["text"]
                    .as_str()
                    .unwrap()
                    .starts_with(before_service),
                "{lang}: {placeholder}"
            );

            // The settings: every service's details disclosed.
            demo.click("settings").await;
            demo.settings_layer(false).await;
            demo.eval(
                "const r = document.querySelector('#keksdose-root').shadowRoot;\
                 r.querySelectorAll('section > .kd-disclosure[aria-expanded=false]').forEach(b => b.click());\
                 return true;",
            )
            .await;
            demo.wait(
                "the services listed",
                "return document.querySelector('#keksdose-root').shadowRoot.querySelectorAll('li.kd-service').length > 0;",
            )
            .await;
            demo.eval(
                "const r = document.querySelector('#keksdose-root').shadowRoot;\
                 r.querySelectorAll('li .kd-disclosure[aria-expanded=false]').forEach(b => b.click());\
                 return true;",
            )
            .await;
            let text = demo
                .wait(
                    "the services' details",
                    "const r = document.querySelector('#keksdose-root').shadowRoot;\
                     return r.querySelectorAll('li.kd-service dl').length > 0 && r.querySelector('[role=dialog]').textContent;",
                )
                .await;
            let text = text.as_str().unwrap();
            for key in [
                "texts.settings_title",
                "texts.save",
                "texts.always_active",
                "categories.necessary.name",
                "legal_basis.consent",
                "texts.lifetime",
            ] {
                assert!(
                    text.contains(&word(key)),
                    "{lang}: {key} ({}) in the settings:\n{text}",
                    word(key)
                );
            }
            // A lifetime in the language's plural form: the consent cookie's 6 months.
            let six_months = word(&format!(
                "units.month.{}",
                if matches!(lang, "pl") {
                    "many"
                } else {
                    "other"
                }
            ))
            .replace("{n}", "6");
            assert!(
                text.contains(&six_months),
                "{lang}: {six_months:?} in:\n{text}"
            );

            demo.click("accept_all").await;
            let id = demo.acknowledged_consent_id().await;
            let proof = demo.proof("coaching", &id).await;
            assert_eq!(proof["records"][0]["record"]["language"], lang, "{proof}");

            // The visitor's own history, from the settings' link: a page in the
            // same language, naming the decision, with no accessibility violation.
            demo.eval("document.querySelector('[data-consent-open]').click(); return true;")
                .await;
            let href = demo
                .wait(
                    "the history link in the settings",
                    "const h = document.querySelector('#keksdose-root');\
                     const a = h && h.shadowRoot && h.shadowRoot.querySelector('.kd-consent a');\
                     return a && a.href;",
                )
                .await;
            let href = href.as_str().unwrap();
            assert!(
                href.ends_with(&format!("/v1/consents/{id}?lang={lang}")),
                "{href}"
            );
            demo.browser.client().goto(href).await.unwrap();
            let page = demo
                .wait(
                    "the history page",
                    "const h = document.querySelector('h1'); return h && {lang: document.documentElement.lang,\
                       title: h.textContent, rows: document.querySelectorAll('tbody tr').length,\
                       decision: document.querySelector('tbody td:nth-child(2)').textContent};",
                )
                .await;
            assert_eq!(
                page,
                json!({"lang": lang, "title": word("texts.history"), "rows": 1,
                       "decision": word("history.accept_all")}),
                "{lang}: the history page"
            );
            let found = axe_page_violations(&demo).await;
            assert!(found.is_empty(), "{lang}, history page: {found:#?}");
        }
        demo.finish().await;
    }
}

/// Runs axe-core on the whole page (no shadow root, no buttons needed) and
/// returns its violations — or a line saying it checked nothing.
async fn axe_page_violations(demo: &Demo) -> Vec<String> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../node_modules/axe-core/axe.min.js"
    );
    let source = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{path}: {e} (run `npm ci` or `cargo xtask test`)"));
    demo.browser.eval(&source).await.unwrap();
    let v = demo
        .browser
        .eval_async(
            "const done = arguments[arguments.length - 1];\
             axe.run(document)\
               .then(r => done(r.passes.some(p => p.id === 'html-has-lang') && r.passes.some(p => p.id === 'valid-lang' || p.id === 'html-lang-valid')\
                   ? r.violations.map(v => `${v.id} (${v.impact}): ${v.help} — ` +\
                       v.nodes.map(n => n.target.join(' > ') + ': ' + n.failureSummary).join(' | '))\
                   : ['axe checked no language: ' + JSON.stringify(r.passes.map(p => p.id))]),\
                     e => done(['axe failed: ' + e]));",
            vec![],
        )
        .await
        .unwrap();
    serde_json::from_value(v).unwrap()
}

#[tokio::test]
async fn a_config_change_that_needs_consent_asks_again_and_a_text_change_does_not() {
    for embed in EMBEDS {
        let mut demo = Demo::start_as(embed).await;
        demo.open("/demo/saas.html").await;
        demo.click("accept_all").await;
        demo.acknowledged_consent_id().await;
        let cookie = demo.eval(&format!("{COOKIE_FIELDS} return c;")).await;
        let cookie = cookie.as_str().unwrap().to_string();
        let key = demo_key(&demo.server, "saas");
        let mut config = demo.config("saas").await["config"].clone();
        let (http, url) = (
            demo.http.clone(),
            demo.server.url("/v1/admin/sites/saas/config"),
        );
        let publish = |config: Value| http.put(&url).bearer_auth(&key).json(&config).send();

        // The same visitor with a fresh browser cache (the config is cached for 60 s).
        let revisit = async |demo: &mut Demo| {
            let old = std::mem::replace(&mut demo.browser, Browser::start().await.unwrap());
            old.close().await.unwrap();
            demo.open("/demo/index.html").await;
            demo.eval(&format!(
                "document.cookie = '{cookie}; Path=/'; return true;"
            ))
            .await;
            demo.open("/demo/saas.html").await;
            demo.config_arrived("saas").await;
            tokio::time::sleep(Duration::from_millis(800)).await;
        };

        // A text fix: the decision holds.
        config["site"]["policy_version"] = json!("Stand: 01.12.2026");
        let resp = publish(config.clone()).await.unwrap();
        assert_eq!(resp.status(), 200);
        revisit(&mut demo).await;
        assert_eq!(
            demo.eval("return !!document.querySelector('#keksdose-root');")
                .await,
            json!(false),
            "a text change does not ask again"
        );
        assert_eq!(demo.ran().await.len(), SAAS_SCRIPTS.len());

        // A new analytics service needs consent: the banner asks again; what the
        // visitor already allowed keeps running.
        let mut hotjar = config["services"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == "satismeter")
            .unwrap()
            .clone();
        hotjar["id"] = json!("hotjar");
        hotjar["name"] = json!("Hotjar");
        hotjar["consent_mode"] = json!([]);
        config["services"].as_array_mut().unwrap().push(hotjar);
        let resp = publish(config).await.unwrap();
        assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
        revisit(&mut demo).await;
        demo.first_layer("the first layer again").await;
        assert!(demo.ran().await.contains(&"mixpanel".to_string()));
        // "Einstellungen" there, and the settings closed (Escape): the first
        // layer again. The banner that asks cannot be closed without an answer,
        // also over the earlier decision it renews (in the per-site form, the
        // settings take the server's layer's place).
        demo.click("settings").await;
        demo.settings_layer(true).await;
        demo.press(&[Key::Escape]).await;
        demo.first_layer("the first layer after the settings were closed")
            .await;
        assert_eq!(demo.dialogs().await, json!(1), "{embed:?}");
        demo.finish().await;
    }
}

#[tokio::test]
async fn custom_settings_by_keyboard_only_with_the_focus_trapped_and_returned() {
    for embed in EMBEDS {
        let demo = Demo::start_as(embed).await;
        demo.open("/demo/saas.html").await;
        demo.first_layer("the first layer's three buttons").await;
        demo.wait(
            "the dialog to take the focus",
            "return document.querySelector('#keksdose-root').shadowRoot.activeElement !== null;",
        )
        .await;
        assert_eq!(
            demo.focus().await,
            "banner:dialog",
            "focus starts on the dialog, no answer preselected"
        );

        // Tab goes round the first layer's controls and never leaves the dialog.
        let mut stops = Vec::new();
        for _ in 0..10 {
            demo.press(&[Key::Tab]).await;
            stops.push(demo.focus().await);
        }
        let round = [
            "banner:link:Datenschutzerklärung",
            "banner:link:Impressum",
            "banner:accept_all",
            "banner:reject_all",
            "banner:settings",
        ];
        assert_eq!(&stops[..5], round, "{stops:?}");
        assert_eq!(&stops[5..], round, "Tab wraps round: {stops:?}");
        demo.press(&[Key::Tab]).await;
        assert_eq!(demo.focus().await, round[0]);
        demo.shift_tab().await;
        assert_eq!(
            demo.focus().await,
            "banner:settings",
            "Shift-Tab on the first control wraps to the last"
        );

        // Escape is not a choice: the first layer stays, nothing runs.
        demo.press(&[Key::Escape]).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        demo.first_layer("the first layer still open").await;
        assert_eq!(
            demo.cookie_action().await,
            Value::Null,
            "no decision stored"
        );

        // "Einstellungen" with Enter; in the settings, the analytics switch with Space,
        // the affiliate category's services disclosed with Enter, AWIN on with Space.
        demo.tab_to("banner:settings").await;
        demo.press(&[Key::Enter]).await;
        demo.settings_layer(true).await;
        let stops = demo.tab_to("banner:category:analytics").await;
        assert!(
            !stops.iter().any(|s| s == "banner:category:necessary"),
            "the necessary switch is locked, not a stop: {stops:?}"
        );
        demo.press(&[Key::Space]).await;
        demo.tab_to("banner:disclosure:affiliate").await;
        demo.press(&[Key::Enter]).await;
        demo.tab_to("banner:service:awin").await;
        demo.press(&[Key::Space]).await;
        let switches = demo
            .eval(
                "const r = document.querySelector('#keksdose-root').shadowRoot;\
                 return ['[data-category=analytics]', '[data-category=marketing]', '[data-service=awin]', '[data-category=affiliate]']\
                     .map(s => r.querySelector(s).getAttribute('aria-checked'));",
            )
            .await;
        assert_eq!(
            switches,
            json!(["true", "false", "true", "true"]),
            "analytics on, marketing off, AWIN (the affiliate category's only service) on"
        );
        // Tab keeps wrapping inside the larger layer too: "Nur Notwendige" is the
        // last control, the close button the first.
        let stops = demo.tab_to("banner:reject_all").await;
        demo.press(&[Key::Tab]).await;
        assert_eq!(
            demo.focus().await,
            "banner:button.kd-close",
            "after the last control Tab goes to the first ({stops:?})"
        );
        demo.shift_tab().await;
        assert_eq!(demo.focus().await, "banner:reject_all", "and back");
        demo.tab_to("banner:save").await;
        demo.press(&[Key::Enter]).await;

        let id = demo.acknowledged_consent_id().await;
        assert_eq!(demo.cookie_action().await, json!("c"));
        demo.wait(
            "the chosen services to run",
            "return window.__demo && window.__demo.ran.length >= 5;",
        )
        .await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(
            demo.ran().await,
            [
                "mixpanel",
                "segment",
                "satismeter",
                "awin",
                "analytics-inline"
            ],
            "analytics and AWIN ran, in document order; nothing else"
        );
        let proof = demo.proof("saas", &id).await;
        let record = &proof["records"][0]["record"];
        assert_eq!(record["action"], "custom", "{proof}");
        assert_eq!(record["choices"]["categories"]["analytics"], true);
        assert_eq!(record["choices"]["categories"]["marketing"], false);
        assert_eq!(record["choices"]["services"]["awin"], true);
        assert_eq!(record["choices"]["services"]["google-ads"], false);
        assert_eq!(record["choices"]["services"]["intercom"], false);

        // The footer's "Cookie-Einstellungen", reached by Tab through the page, opened
        // with Enter; Escape closes the reopened settings and the focus is back on it.
        demo.tab_to("page:settings-link").await;
        demo.press(&[Key::Enter]).await;
        demo.settings_layer(true).await;
        assert_eq!(
            demo.eval(
                "return document.querySelector('#keksdose-root').shadowRoot\
                     .querySelector('[data-category=analytics]').getAttribute('aria-checked');"
            )
            .await,
            json!("true"),
            "the settings show the decision in force"
        );
        demo.press(&[Key::Escape]).await;
        demo.wait(
            "the banner to close",
            "return !document.querySelector('#keksdose-root');",
        )
        .await;
        assert_eq!(
            demo.focus().await,
            "page:settings-link",
            "focus returned to the link that opened the settings"
        );
        assert_eq!(
            demo.cookie_action().await,
            json!("c"),
            "closing changed nothing"
        );
        let history = demo.json(&format!("/v1/consents/{id}"), None).await;
        assert_eq!(history["records"].as_array().unwrap().len(), 1, "{history}");
        demo.finish().await;
    }
}

/// Runs axe-core (from npm, `node_modules/axe-core`) on what `selector` matches (the
/// banner's host: its shadow tree is scanned too) and returns the violations, one
/// line each — or a line saying that axe looked at no buttons at all (so a scan that
/// missed the banner cannot pass).
async fn axe_violations(demo: &Demo, selector: &str) -> Vec<String> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../node_modules/axe-core/axe.min.js"
    );
    let source = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{path}: {e} (run `npm ci` or `cargo xtask test`)"));
    demo.browser.eval(&source).await.unwrap();
    let v = demo
        .browser
        .eval_async(
            "const done = arguments[arguments.length - 1];\
             axe.run(arguments[0])\
               .then(r => done(r.passes.some(p => p.id === 'button-name' && p.nodes.length > 2)\
                   ? r.violations.map(v => `${v.id} (${v.impact}): ${v.help} — ` +\
                       v.nodes.map(n => n.target.join(' > ') + ': ' + n.failureSummary).join(' | '))\
                   : ['axe checked no buttons: it did not see into ' + arguments[0]]),\
                     e => done(['axe failed: ' + e]));",
            vec![json!(selector)],
        )
        .await
        .unwrap();
    serde_json::from_value(v).unwrap()
}

#[tokio::test]
async fn axe_core_finds_no_accessibility_violations_in_the_banner_and_the_settings() {
    for embed in EMBEDS {
        let demo = Demo::start_as(embed).await;
        // The coaching site offers five languages, Greek script included.
        for lang in ["de", "en", "fr", "pl", "el"] {
            for page in ["/demo/saas.html", "/demo/coaching.html"] {
                if page.contains("saas") && !matches!(lang, "de" | "en") {
                    continue;
                }
                let url = format!("{page}?lang={lang}");
                demo.open(&url).await;
                demo.first_layer("the first layer's three buttons").await;
                let found = axe_violations(&demo, "#keksdose-root").await;
                assert!(found.is_empty(), "{url}, first layer: {found:#?}");
                if page.contains("coaching") {
                    let found = axe_violations(&demo, ".keksdose-placeholder").await;
                    assert!(
                        found.is_empty(),
                        "{url}, two-click placeholders: {found:#?}"
                    );
                }

                // The settings with every category and every service disclosed.
                demo.click("settings").await;
                demo.settings_layer(false).await;
                demo.eval(
                    "const r = document.querySelector('#keksdose-root').shadowRoot;\
                     r.querySelectorAll('section > .kd-disclosure[aria-expanded=false]').forEach(b => b.click());\
                     return true;",
                )
                .await;
                demo.wait(
                    "the services listed",
                    "return document.querySelector('#keksdose-root').shadowRoot.querySelectorAll('li.kd-service').length > 0;",
                )
                .await;
                demo.eval(
                    "const r = document.querySelector('#keksdose-root').shadowRoot;\
                     r.querySelectorAll('li .kd-disclosure[aria-expanded=false]').forEach(b => b.click());\
                     return true;",
                )
                .await;
                demo.wait(
                    "the services' details",
                    "return document.querySelector('#keksdose-root').shadowRoot.querySelectorAll('li.kd-service dl').length > 0;",
                )
                .await;
                let found = axe_violations(&demo, "#keksdose-root").await;
                assert!(found.is_empty(), "{url}, settings: {found:#?}");
            }
        }
        // The scan does see into the shadow root: a button without a name put there is found.
        demo.eval(
            "document.querySelector('#keksdose-root').shadowRoot.querySelector('[role=dialog]')\
                 .appendChild(document.createElement('button')); return true;",
        )
        .await;
        let found = axe_violations(&demo, "#keksdose-root").await;
        assert!(
            found.len() == 1 && found[0].starts_with("button-name"),
            "{found:#?}"
        );
        demo.finish().await;
    }
}

/// The README's screenshots: first layer and settings, desktop and mobile width,
/// German and English, and the first layer in French and Polish, written to
/// `docs/screenshots/`. Run by `cargo xtask screenshots`.
#[tokio::test]
#[ignore = "writes docs/screenshots/; run by `cargo xtask screenshots`"]
async fn readme_screenshots() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let demo = Demo::start().await;
    let client = demo.browser.client();
    for (width, height, device) in [(1280, 800, "desktop"), (390, 844, "mobile")] {
        client.set_window_size(width, height).await.unwrap();
        for lang in ["de", "en"] {
            demo.open(&format!("/demo/saas.html?lang={lang}")).await;
            demo.first_layer("the first layer's three buttons").await;
            // The dialog has focus (no visible ring on it); let any transition end.
            tokio::time::sleep(Duration::from_millis(600)).await;
            let png = client.screenshot().await.unwrap();
            std::fs::write(dir.join(format!("first-{lang}-{device}.png")), png).unwrap();

            demo.click("settings").await;
            demo.wait(
                "the settings layer",
                "const r = document.querySelector('#keksdose-root').shadowRoot;\
                 const b = r.querySelector('[data-category=analytics]');\
                 if (!b) return false;\
                 b.closest('section').querySelector('.kd-disclosure').click(); return true;",
            )
            .await;
            demo.wait(
                "the analytics services listed",
                "return document.querySelector('#keksdose-root').shadowRoot.querySelectorAll('li.kd-service').length > 0;",
            )
            .await;
            tokio::time::sleep(Duration::from_millis(600)).await;
            let png = client.screenshot().await.unwrap();
            std::fs::write(dir.join(format!("settings-{lang}-{device}.png")), png).unwrap();
        }
    }
    // Two more of the built-in languages, on the coaching site (it offers five).
    client.set_window_size(1280, 800).await.unwrap();
    for lang in ["fr", "pl"] {
        demo.eval("document.cookie = 'keksdose_coaching=; path=/; max-age=0'; return true;")
            .await;
        demo.open(&format!("/demo/coaching.html?lang={lang}")).await;
        demo.first_layer("the first layer's three buttons").await;
        tokio::time::sleep(Duration::from_millis(600)).await;
        let png = client.screenshot().await.unwrap();
        std::fs::write(dir.join(format!("first-{lang}-desktop.png")), png).unwrap();
    }
    // tutory's privacy page with its declaration, after "Nur Notwendige".
    demo.open("/demo/tutory-datenschutz.html").await;
    demo.first_layer("tutory's first layer").await;
    demo.click("reject_all").await;
    demo.acknowledged_consent_id().await;
    demo.wait(
        "the declaration with the visitor's decision",
        "const d = document.querySelector('[data-keksdose-declaration] .kd-decl');\
         return !!d && d.textContent.includes('Nur Notwendige') && !document.querySelector('#keksdose-root');",
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let png = client.screenshot().await.unwrap();
    std::fs::write(dir.join("declaration-de-desktop.png"), png).unwrap();
    demo.finish().await;
}

/// Blocked scripts run in the page's order, also when the loader applies a stored
/// decision while the page is still parsed: in minified HTML an inline script can
/// be the last child of its parent, with an external script right after that
/// parent, which must not run first.
/// `/k.js` (cached 5 minutes) from a newer release, answered by a server from
/// before `/v1/sites/{site}/loader` (an upgrade behind a load balancer): the
/// page answers that request with a 404 as such a server would. The loader
/// takes the config instead, and the banner's own first layer asks and records.
#[tokio::test]
async fn without_the_loaders_data_k_js_takes_the_config_and_the_banners_own_first_layer() {
    let page =
        std::fs::read_to_string(keksdose_tests::workspace_root().join("static/demo/saas.html"))
            .unwrap()
            .replacen(
                "<head>",
                "<head><script>const fetched = window.fetch; window.fetch = (url, init) =>\
           String(url).includes('/loader') ? Promise.resolve(new Response(\
             '{\"error\":{\"code\":\"not_found\",\"message\":\"no route\"}}',\
             { status: 404, headers: { 'content-type': 'application/json' } }))\
           : fetched(url, init);</script>",
                1,
            );
    let dir = tempfile::tempdir().unwrap();
    let demo = Demo::start_with_pages_as(
        Embed::Generic,
        dir.path(),
        &[("demo/old-server.html", &page)],
    )
    .await;
    demo.open("/demo/old-server.html").await;
    demo.first_layer("the banner's own first layer").await;
    let resources = demo.resources().await;
    assert!(
        resources
            .iter()
            .any(|u| u.contains("/v1/sites/saas/config?words=1"))
            && resources.iter().any(|u| u.ends_with(".wasm")),
        "the config and the banner: {resources:?}"
    );
    assert_eq!(
        demo.eval("return document.querySelector('#keksdose-root').hasAttribute('data-ready');")
            .await,
        json!(false),
        "not the server's layer"
    );
    demo.click("reject_all").await;
    demo.acknowledged_consent_id().await;
    assert_eq!(demo.cookie_action().await, json!("r"));
    demo.finish().await;
}

#[tokio::test]
async fn blocked_scripts_run_in_page_order_also_while_the_page_is_parsed() {
    // k.js without async: it runs before the body is parsed, the early path.
    const PAGE: &str = "<!doctype html><html lang=\"de\"><head><meta charset=\"utf-8\"><title>Order</title>\
        <script>window.order = [];</script><script src=\"/k.js\" data-site=\"saas\"></script></head><body>\
        <div><script type=\"text/plain\" data-consent=\"analytics\">order.push('inline-1')</script></div>\
        <script type=\"text/plain\" data-consent=\"analytics\" src=\"/demo/order-a.js\"></script>\
        <script type=\"text/plain\" data-consent=\"analytics\" src=\"/demo/order-b.js\"></script>\
        <p><script type=\"text/plain\" data-consent=\"analytics\">order.push('inline-2')</script></p>\
        <a href=\"#\" data-consent-open>Cookie-Einstellungen</a></body></html>";
    let dir = tempfile::tempdir().unwrap();
    for embed in EMBEDS {
        let demo = Demo::start_with_pages_as(
            embed,
            dir.path(),
            &[
                ("demo/order.html", PAGE),
                ("demo/order-a.js", "order.push('external-a');"),
                ("demo/order-b.js", "order.push('external-b');"),
            ],
        )
        .await;
        let expected = json!(["inline-1", "external-a", "external-b", "inline-2"]);
        demo.open("/demo/order.html").await;
        demo.first_layer("the banner on the order page").await;
        assert_eq!(
            demo.eval("return window.order;").await,
            json!([]),
            "nothing before a choice"
        );
        demo.click("accept_all").await;
        demo.acknowledged_consent_id().await;
        demo.wait(
            "the scripts after the choice",
            "return window.order.length === 4;",
        )
        .await;
        assert_eq!(demo.eval("return window.order;").await, expected);
        // A returning visitor: the stored decision applies while the page is parsed.
        for _ in 0..3 {
            demo.open("/demo/order.html").await;
            demo.wait(
                "the scripts of a returning visit",
                "return window.order && window.order.length === 4;",
            )
            .await;
            assert_eq!(demo.eval("return window.order;").await, expected);
        }
        demo.finish().await;
    }
}

/// A page served with a strict, enforced Content Security Policy and Trusted Types
/// (`/demo/strict-csp.html`: `script-src` with the site, its nonce and
/// `'wasm-unsafe-eval'` only, `style-src 'self'`, `require-trusted-types-for
/// 'script'`, `trusted-types keksdose`): the banner and the placeholder show,
/// styled; a click records the decision; the blocked scripts the visitor allowed
/// run (the external one through the loader's Trusted Types policy, the inline
/// one with the page's nonce) and the embed loads, also for a returning visitor;
/// and the page reports no violation, while it does report one for a plain string
/// given to a script's `src`.
#[tokio::test]
async fn under_a_strict_csp_with_trusted_types_the_banner_records_and_allowed_scripts_run() {
    const PAGE: &str = "/demo/strict-csp.html";
    const VIOLATIONS: &str = "return window.__cspViolations;";
    for embed in EMBEDS {
        let demo = Demo::start_as(embed).await;

        let resp = demo.http.get(demo.server.url(PAGE)).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        let csp = resp.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_string();
        for wanted in [
            "script-src 'self' 'nonce-",
            "require-trusted-types-for 'script'",
            "trusted-types keksdose",
            "style-src 'self';",
        ] {
            assert!(csp.contains(wanted), "{wanted} in {csp}");
        }
        assert!(
            !csp.contains("unsafe-inline") && !csp.contains("'unsafe-eval'"),
            "{csp}"
        );
        let nonce = csp
            .split("'nonce-")
            .nth(1)
            .and_then(|n| n.split('\'').next())
            .unwrap()
            .to_string();
        let page = resp.text().await.unwrap();
        assert!(page.contains(&format!("nonce=\"{nonce}\"")), "{page}");

        demo.open(PAGE).await;
        demo.first_layer("the banner under the strict CSP").await;
        // Styled, though no `<style>` may apply: the banner's sheet is adopted, and
        // so is the placeholder's.
        let styled = "const r = document.querySelector('#keksdose-root').shadowRoot;\
            const ph = document.querySelector('[data-keksdose-placeholder=\"youtube\"]');\
            return !!ph && getComputedStyle(r.querySelector('.kd-backdrop')).position === 'fixed'\
                && getComputedStyle(ph).display === 'flex' && !r.querySelector('style');";
        demo.wait("the banner and the placeholder, styled", styled)
            .await;
        // The server's first layer, passed through the policy: the loader marks
        // the host data-ready only beside it (the banner's WASM, had the policy
        // refused the markup, would show its own layer instead).
        demo.settings_ready().await;
        assert_eq!(
            demo.ran().await,
            Vec::<String>::new(),
            "nothing before a choice"
        );

        demo.click("accept_all").await;
        let id = demo.acknowledged_consent_id().await;
        let history = demo.json(&format!("/v1/consents/{id}"), None).await;
        let records = history["records"].as_array().unwrap();
        assert_eq!(records.len(), 1, "recorded once: {history}");
        assert_eq!(records[0]["action"], "accept_all", "{history}");

        let ran = "return (window.__demo && window.__demo.ran.length) >= 2;";
        let embed = "const f = document.querySelector('iframe[data-consent=\"youtube\"]');\
            return !!(f.contentDocument && /YouTube/.test(f.contentDocument.title));";
        demo.wait("the allowed scripts to run", ran).await;
        demo.wait("the allowed embed to load", embed).await;
        assert_eq!(demo.ran().await, ["google-ads", "marketing-inline"]);
        assert_eq!(demo.eval(VIOLATIONS).await, json!([]), "no violation");

        // A returning visitor: the stored decision applies while the page is parsed.
        demo.open(PAGE).await;
        demo.wait("the scripts of a returning visit", ran).await;
        demo.wait_explained(
            "the embed of a returning visit",
            embed,
            Some(
                "const f = document.querySelector('iframe[data-consent=\"youtube\"]');\
                 const d = f && f.contentDocument;\
                 return {src: f && f.getAttribute('src'), done: f && f.hasAttribute('data-keksdose-done'),\
                   hidden: f && f.getAttribute('data-keksdose-hidden'), ready: d && d.readyState,\
                   title: d && d.title, url: d && d.URL, placeholder: !!document.querySelector('[data-keksdose-placeholder]'),\
                   violations: window.__cspViolations, state: document.readyState,\
                   cookie: document.cookie};",
            ),
        )
        .await;
        assert_eq!(demo.ran().await, ["google-ads", "marketing-inline"]);
        assert_eq!(demo.eval(VIOLATIONS).await, json!([]), "no violation");

        // The policy is in force and the page hears of breaches: a string as a
        // script's URL is refused and reported.
        let refused = demo
            .eval(
                "try { document.createElement('script').src = '/demo/vendor/awin.js'; return false; }\
                 catch (e) { return e instanceof TypeError; }",
            )
            .await;
        assert_eq!(refused, json!(true), "Trusted Types are enforced");
        let reported = demo
            .wait(
                "the refused string reported",
                "const v = window.__cspViolations; return v.length && v.map(x => x.directive);",
            )
            .await;
        assert_eq!(reported, json!(["require-trusted-types-for"]));
        demo.finish().await;
    }
}

/// Whether the page has loaded the banner's WASM (a resource entry appears only
/// once the response is complete).
const WASM_LOADED: &str =
    "return performance.getEntriesByType('resource').some(e => e.name.endsWith('.wasm'));";

/// Issue 13: in both embed forms (`/k.js` with `data-site` asks for what the
/// per-site loader carries), the server's first layer works before the
/// banner's WASM arrives (held back by the server here until the test lets it
/// go): it shows with focus in the dialog, passes axe, and "Nur Notwendige"
/// records exactly one `reject_all`, which the WASM arriving later does not
/// repeat; "Einstellungen" shows as busy and opens the settings once it arrives.
#[tokio::test]
async fn before_the_wasm_arrives_the_server_rendered_first_layer_decides_and_settings_wait_for_it()
{
    for embed in EMBEDS {
        held_wasm(embed).await;
    }
}

/// [`before_the_wasm_arrives_the_server_rendered_first_layer_decides_and_settings_wait_for_it`]
/// in `embed`'s form.
async fn held_wasm(embed: Embed) {
    let dir = tempfile::tempdir().unwrap();

    // "Nur Notwendige" while the WASM is held.
    let release = dir.path().join("release-1");
    let demo = Demo::start_held(embed, &release).await;
    let version = demo.config("saas").await["version"].clone();
    demo.open("/demo/saas.html").await;
    demo.first_layer("the server's first layer").await;
    assert_eq!(
        demo.eval(WASM_LOADED).await,
        json!(false),
        "the WASM is held"
    );
    assert_eq!(
        demo.focus().await,
        "banner:dialog",
        "focus moved into the dialog"
    );
    let found = axe_violations(&demo, "#keksdose-root").await;
    assert!(found.is_empty(), "the server's first layer: {found:#?}");
    demo.press(&[Key::Tab]).await;
    assert_eq!(demo.focus().await, "banner:link:Datenschutzerklärung");
    demo.click("reject_all").await;
    let id = demo.acknowledged_consent_id().await;
    demo.wait(
        "the banner to close",
        "return !document.querySelector('#keksdose-root');",
    )
    .await;
    assert_eq!(demo.cookie_action().await, json!("r"));
    assert_eq!(demo.eval(WASM_LOADED).await, json!(false), "still held");

    std::fs::write(&release, "").unwrap();
    demo.wait("the WASM, let go, to arrive", WASM_LOADED).await;
    // The module's arrival is handled by the loader before anything asked for
    // it later: the reopened settings showing is the sign it got that far. The
    // decision taken before must not have brought back the first layer.
    demo.eval("window.keksdose.show(); return true;").await;
    demo.settings_layer(true).await;
    assert_eq!(
        demo.eval(
            "return document.querySelectorAll('#keksdose-root').length * 10 +\
                 document.querySelector('#keksdose-root').shadowRoot.querySelectorAll('[role=dialog]').length;"
        )
        .await,
        json!(11),
        "one banner, one dialog: the settings asked for"
    );
    let proof = demo.proof("saas", &id).await;
    let records = proof["records"].as_array().unwrap();
    assert_eq!(records.len(), 1, "recorded once: {proof}");
    assert_eq!(records[0]["record"]["action"], "reject_all");
    assert_eq!(records[0]["record"]["config_version"], version);
    assert_eq!(demo.ran().await, Vec::<String>::new());
    demo.finish().await;

    // "Einstellungen" while the WASM is held: busy, then the settings.
    let release = dir.path().join("release-2");
    let demo = Demo::start_held(embed, &release).await;
    demo.open("/demo/saas.html").await;
    demo.click("settings").await;
    demo.wait(
        "the settings button to show it is busy",
        "const r = document.querySelector('#keksdose-root').shadowRoot;\
         return r.querySelector('[data-action=settings]').getAttribute('aria-busy') === 'true';",
    )
    .await;
    assert_eq!(
        demo.eval(
            "return !!document.querySelector('#keksdose-root').shadowRoot.querySelector('[data-action=save]');"
        )
        .await,
        json!(false),
        "no settings before the WASM"
    );
    std::fs::write(&release, "").unwrap();
    demo.settings_layer(true).await;
    assert_eq!(demo.dialogs().await, json!(1), "one dialog");
    demo.click("save").await;
    let id = demo.acknowledged_consent_id().await;
    let proof = demo.proof("saas", &id).await;
    assert_eq!(proof["records"].as_array().unwrap().len(), 1, "{proof}");
    assert_eq!(proof["records"][0]["record"]["action"], "custom");
    demo.finish().await;

    // The WASM arriving changes nothing on the server's layer: the same
    // layer, the focus where the visitor put it. The banner takes its place
    // only with the settings.
    let release = dir.path().join("release-3");
    let demo = Demo::start_held(embed, &release).await;
    demo.open("/demo/saas.html").await;
    demo.first_layer("the server's first layer").await;
    demo.remember_servers_layer().await;
    demo.press(&[Key::Tab, Key::Tab]).await;
    assert_eq!(demo.focus().await, "banner:link:Impressum");
    std::fs::write(&release, "").unwrap();
    demo.settings_ready().await;
    assert_eq!(
        demo.eval(
            "const r = document.querySelector('#keksdose-root').shadowRoot;\
             return [r.querySelectorAll('[data-keksdose-banner]').length,\
                 r.querySelector('[data-keksdose-banner]') === window.serversLayer];"
        )
        .await,
        json!([1, true]),
        "still the server's layer, alone"
    );
    assert_eq!(demo.focus().await, "banner:link:Impressum", "focus kept");
    demo.press(&[Key::Tab]).await;
    assert_eq!(demo.focus().await, "banner:accept_all");
    demo.press(&[Key::Enter]).await;
    let id = demo.acknowledged_consent_id().await;
    let proof = demo.proof("saas", &id).await;
    assert_eq!(proof["records"].as_array().unwrap().len(), 1, "{proof}");
    assert_eq!(proof["records"][0]["record"]["action"], "accept_all");
    demo.finish().await;

    // "Nur Notwendige" clicked on the server's layer after "Einstellungen"
    // mounted the banner and before its first render replaced that layer: the
    // visitor's answer, recorded once, and the settings never show. The page
    // clicks in that moment: when the banner's hidden container appears beside
    // the server's layer (a mutation observer runs before the banner's render,
    // which is a later microtask).
    let release = dir.path().join("release-4");
    let demo = Demo::start_held(embed, &release).await;
    demo.open("/demo/saas.html").await;
    demo.first_layer("the server's first layer").await;
    demo.eval(
        "const r = document.querySelector('#keksdose-root').shadowRoot;\
         const early = r.querySelector('[data-keksdose-banner]');\
         new MutationObserver((records, observer) => {\
           if (!r.querySelector('[data-keksdose-banner][data-takeover][hidden]')) return;\
           observer.disconnect();\
           window.clickedDuringTakeover = early.isConnected;\
           if (early.isConnected) early.querySelector('[data-action=reject_all]').click();\
         }).observe(r, { childList: true });\
         window.settingsShown = false;\
         new MutationObserver(() => {\
           if (r.querySelector('[data-keksdose-banner][data-takeover]:not([hidden])')) window.settingsShown = true;\
         }).observe(r, { childList: true, subtree: true, attributes: true, attributeFilter: ['hidden'] });\
         return true;",
    )
    .await;
    demo.click("settings").await;
    std::fs::write(&release, "").unwrap();
    demo.wait(
        "the banner's hidden container beside the server's layer",
        "return window.clickedDuringTakeover !== undefined;",
    )
    .await;
    assert_eq!(
        demo.eval("return window.clickedDuringTakeover;").await,
        json!(true),
        "the click came while the banner was taking over"
    );
    let id = demo.acknowledged_consent_id().await;
    demo.wait(
        "the banner to close",
        "return !document.querySelector('#keksdose-root');",
    )
    .await;
    let proof = demo.proof("saas", &id).await;
    let records = proof["records"].as_array().unwrap();
    assert_eq!(records.len(), 1, "recorded once: {proof}");
    assert_eq!(records[0]["record"]["action"], "reject_all");
    assert_eq!(demo.cookie_action().await, json!("r"));
    assert_eq!(
        demo.eval("return window.settingsShown;").await,
        json!(false),
        "the settings never showed"
    );
    demo.finish().await;

    // "Einstellungen" by keyboard while the WASM is held: the settings, once
    // they open, have the focus on their dialog, not on whichever of their
    // controls has the place "Einstellungen" had among the first layer's.
    let release = dir.path().join("release-5");
    let demo = Demo::start_held(embed, &release).await;
    demo.open("/demo/saas.html").await;
    demo.first_layer("the server's first layer").await;
    demo.tab_to("banner:settings").await;
    demo.press(&[Key::Enter]).await;
    demo.wait(
        "the settings button to show it is busy",
        "const r = document.querySelector('#keksdose-root').shadowRoot;\
         return r.querySelector('[data-action=settings]').getAttribute('aria-busy') === 'true';",
    )
    .await;
    std::fs::write(&release, "").unwrap();
    demo.settings_layer(true).await;
    assert_eq!(demo.focus().await, "banner:dialog");
    assert_eq!(demo.dialogs().await, json!(1), "one dialog");
    demo.finish().await;
}

/// Issue 13: in both embed forms, the page's largest contentful paint is
/// the server's first layer, reported before the banner's WASM is asked for.
/// Asked for a frame after the layer showed, the WASM raced that report, and a
/// download done before the largest paint counts in Lighthouse's simulated LCP
/// (77 KB at slow 4G): it was then 2 s, not 1 s. And once the WASM is there,
/// the layer stays (the banner takes its place only with the settings): no
/// later copy of it to be the largest paint, no render on the visitor's time.
/// Three page views, as the race did not lose every time.
#[tokio::test]
async fn the_wasm_is_asked_for_only_after_the_first_layers_largest_paint_was_reported() {
    for embed in EMBEDS {
        wasm_after_the_layers_paint(embed).await;
    }
}

async fn wasm_after_the_layers_paint(embed: Embed) {
    let demo = Demo::start_as(embed).await;
    for view in 0..3 {
        demo.open("/demo/saas.html").await;
        demo.first_layer("the server's first layer").await;
        demo.remember_servers_layer().await;
        demo.settings_ready().await;
        let got = demo
            .eval(
                "const lcp = await new Promise(resolve => {\
                   new PerformanceObserver(l => resolve(l.getEntries()))\
                     .observe({ type: 'largest-contentful-paint', buffered: true });\
                   setTimeout(() => resolve([]), 2000);\
                 });\
                 const wasm = performance.getEntriesByType('resource').find(e => e.name.endsWith('.wasm'));\
                 const r = document.querySelector('#keksdose-root').shadowRoot;\
                 return {\
                   lcp: lcp.map(e => ({ at: e.startTime, size: e.size, element: e.element && e.element.nodeName })),\
                   wasm: wasm ? wasm.startTime : null,\
                   layers: r.querySelectorAll('[data-keksdose-banner]').length,\
                   same: r.querySelector('[data-keksdose-banner]') === window.serversLayer,\
                 };",
            )
            .await;
        let wasm = got["wasm"].as_f64().expect("the WASM was loaded");
        let lcp = got["lcp"].as_array().expect("largest paints");
        let last = lcp.last().expect("a largest contentful paint was reported");
        // An element in a shadow root is not exposed (null): the banner's, as the
        // demo page has no shadow root of its own.
        assert!(
            last["element"].is_null() && last["size"].as_f64() > Some(10_000.0),
            "the page's largest paint is the banner's ({embed:?}, view {view}): {got}"
        );
        assert!(
            last["at"].as_f64().unwrap() <= wasm,
            "the largest paint was reported before the WASM was asked for ({embed:?}, view {view}): {got}"
        );
        assert_eq!(
            (&got["layers"], &got["same"]),
            (&json!(1), &json!(true)),
            "the server's layer stays, alone ({embed:?}, view {view}): {got}"
        );
    }
    demo.finish().await;
}

/// A returning visitor's embeds load on every page view. Their `src` is set while
/// the page is parsed, and Chromium at times lets the iframe's own about:blank
/// navigation, begun when the parser inserted it, commit over that one (about 1
/// page load in 20 on a busy machine): the loader sends a frame that loaded blank
/// again. 15 views of 5 embeds each.
#[tokio::test]
async fn a_returning_visitors_embeds_load_on_every_page_view() {
    const PAGE: &str = "/demo/coaching.html";
    let demo = Demo::start_as(Embed::PerSite).await;
    demo.open(PAGE).await;
    demo.first_layer("the first layer").await;
    demo.click("accept_all").await;
    demo.acknowledged_consent_id().await;
    let loaded = "const fs = [...document.querySelectorAll('iframe[data-consent]')];\
        return fs.length === 5 && fs.every(f => f.contentDocument && f.contentDocument.readyState === 'complete'\
            && f.contentDocument.URL.endsWith(f.dataset.src));";
    let state = "return [...document.querySelectorAll('iframe[data-consent]')].map(f => ({src: f.getAttribute('src'),\
        url: f.contentDocument && f.contentDocument.URL, ready: f.contentDocument && f.contentDocument.readyState}));";
    for view in 1..=15 {
        demo.open(PAGE).await;
        demo.wait_explained(&format!("the embeds of view {view}"), loaded, Some(state))
            .await;
    }
    demo.finish().await;
}

/// The five operators Keksdose was built from, on their demo pages
/// (`examples/sites/<id>.toml`, `static/demo/<id>.html`), through both embed
/// forms: those whose policies need consent show the banner, record the
/// decision under the config version they serve and run exactly what it
/// allows; those with only necessary cookies show none, and their settings link
/// opens the declaration.
#[tokio::test]
async fn each_operators_demo_page_asks_and_records_as_its_policy_says() {
    for embed in EMBEDS {
        let demo = Demo::start_as(embed).await;
        for (site, action, runs, stays_blocked) in [
            ("dogandme", "accept_all", &["google-ads"][..], &[][..]),
            (
                "sevdesk",
                "reject_all",
                &["polyfill"][..],
                &[
                    "segment",
                    "mixpanel",
                    "satismeter",
                    "intercom",
                    "userlane",
                    "awin",
                ][..],
            ),
            (
                "tutory",
                "accept_all",
                &[
                    "userlike",
                    "flickr",
                    "pixabay",
                    "wikimedia-commons",
                    "openclipart",
                ][..],
                &[][..],
            ),
        ] {
            demo.open(&format!("/demo/{site}.html")).await;
            demo.first_layer(&format!("{site}'s first layer")).await;
            demo.click(action).await;
            let id = demo.acknowledged_consent_id().await;
            let version = demo.config(site).await["version"].clone();
            let proof = demo.proof(site, &id).await;
            let record = &proof["records"][0]["record"];
            assert_eq!(record["config_version"], version, "{site}: {proof}");
            assert_eq!(record["action"], action, "{site}: {proof}");
            assert_eq!(proof["verified"], true, "{site}: {proof}");
            let wanted = json!(runs);
            demo.wait(
                &format!("{site}'s allowed scripts to run"),
                &format!(
                    "const ran = (window.__demo && window.__demo.ran) || [];\
                     return {wanted}.every(s => ran.includes(s));"
                ),
            )
            .await;
            let ran = demo.ran().await;
            for blocked in stays_blocked {
                assert!(
                    !ran.iter().any(|r| r == blocked),
                    "{site}: {blocked} ran: {ran:?}"
                );
            }
        }
        for site in ["sessionbutler", "fluxcess"] {
            demo.open(&format!("/demo/{site}.html")).await;
            demo.config_arrived(site).await;
            demo.eval("document.querySelector('a[data-consent-open]').click(); return true;")
                .await;
            // The settings layer, not a first layer: had the loader opened a
            // banner on its own, the link would have found it open.
            demo.settings_layer(false).await;
            assert!(
                !demo
                    .resources()
                    .await
                    .iter()
                    .any(|u| u.contains("/v1/sites/") && u.contains("/consents")),
                "{site}: nothing recorded without a decision"
            );
        }
        demo.finish().await;
    }
}

/// The declaration on each operator's privacy page (`<div
/// data-keksdose-declaration>`, filled by the loader from the server): every
/// service and cookie of the config version the site serves, in the page's
/// language; after a decision it names the visitor's consent ID, and its button
/// opens the settings.
#[tokio::test]
async fn each_operators_privacy_page_shows_the_declaration_of_its_config() {
    let demo = Demo::start().await;
    for site in ["sessionbutler", "dogandme", "sevdesk", "fluxcess", "tutory"] {
        demo.open(&format!("/demo/{site}-datenschutz.html")).await;
        let shown = demo
            .wait(
                &format!("{site}'s declaration"),
                "const d = document.querySelector('[data-keksdose-declaration] .kd-decl');\
                 if (!d) return null;\
                 return {version: d.dataset.configVersion, lang: d.lang,\
                   services: [...d.querySelectorAll('[data-service]')].map(s => ({id: s.dataset.service,\
                     cookies: [...s.querySelectorAll('[data-cookie]')].map(c => c.dataset.cookie)})),\
                   purposes: [...d.querySelectorAll('[data-purpose]')].map(p => p.dataset.purpose),\
                   text: d.textContent};",
            )
            .await;
        let published = demo.config(site).await;
        let config = &published["config"];
        assert_eq!(shown["version"], published["version"], "{site}");
        assert_eq!(shown["lang"], "de", "{site}");
        let mut expected: Vec<Value> = config["services"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                json!({"id": s["id"], "cookies": s["cookies"].as_array().map_or(vec![], |cs| cs.iter().map(|c| c["name"].clone()).collect::<Vec<_>>())})
            })
            .collect();
        let mut got: Vec<Value> = shown["services"].as_array().unwrap().clone();
        let by_id = |v: &Value| v["id"].as_str().unwrap_or_default().to_string();
        expected.sort_by_key(by_id);
        got.sort_by_key(by_id);
        assert_eq!(
            got, expected,
            "{site}: the declaration's services and cookies"
        );
        let purposes: Vec<Value> = config["purposes"]
            .as_array()
            .map_or(vec![], |ps| ps.iter().map(|p| p["id"].clone()).collect());
        assert_eq!(shown["purposes"], json!(purposes), "{site}");
        let text = shown["text"].as_str().unwrap();
        assert!(
            text.contains(config["site"]["controller"]["name"].as_str().unwrap()),
            "{site}: the controller"
        );
        assert!(
            text.contains("noch keine Entscheidung"),
            "{site}: no decision yet: {text}"
        );
    }

    // After "Alle akzeptieren", tutory's declaration names the visitor's decision.
    demo.open("/demo/tutory-datenschutz.html").await;
    demo.first_layer("tutory's first layer").await;
    demo.click("accept_all").await;
    let id = demo.acknowledged_consent_id().await;
    demo.wait(
        "the declaration to name the consent ID",
        &format!(
            "const d = document.querySelector('[data-keksdose-declaration] .kd-decl');\
             return !!d && d.textContent.includes('{id}') && d.textContent.includes('Alle akzeptiert');"
        ),
    )
    .await;
    demo.eval("document.querySelector('[data-keksdose-declaration] button[data-consent-open]').click(); return true;")
        .await;
    demo.settings_layer(false).await;
    demo.finish().await;
}
