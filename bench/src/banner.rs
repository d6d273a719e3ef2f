//! The banner in headless Chromium: the demo's SaaS page in both embed forms
//! ([`Form`]: the generic `/k.js` with `data-site`, and the per-site loader
//! `/s/saas/k.js` with the config and the server-rendered first layer written in),
//! cold, interleaved with the same page without any loader as the baseline; then
//! as a returning visitor whose cookie says "Alle akzeptieren". Once over the
//! network as it is, once throttled to slow 4G (150 ms RTT, 1.6 Mbit/s down,
//! 750 kbit/s up) by chromedriver's network conditions. Then Lighthouse (mobile
//! preset) on both forms ([`lighthouse`]).
//!
//! What is read comes from the page itself: a script registered through the
//! DevTools protocol (`Page.addScriptToEvaluateOnNewDocument`, before any of the
//! page's scripts) records the paint entries, the layout shifts, the first
//! animation frame in which a banner button has a size, the moment the banner's
//! WASM and its view of the config were there beside the server's first layer (per-site form), and the moment the first
//! consented script runs (the demo's scripts report to `window.__demo.ran`). Bytes
//! are Resource Timing's `transferSize` of the requests to the Keksdose server
//! (`/k.js`, `/s/{site}/k.js`, `/widget/`, `/v1/`); sizes per encoding are fetched again with
//! `Accept-Encoding: br` and `gzip`; the server's first layer per language is
//! rendered here ([`first_layers`]). JS heap from `Runtime.getHeapUsage`, WASM
//! memory from the banner module's `wasmMemoryBytes()`.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use fantoccini::wd::WebDriverCompatibleCommand;
use keksdose_tests::{Browser, TestServer};
use serde_json::{Value, json};

use crate::report::{Figure, Target};

#[derive(Debug, Clone)]
pub struct Options {
    /// Loads per page and profile.
    pub loads: usize,
}

/// Recorded from the first moment of every page (see the module comment).
const PROBE: &str = r##"(() => {
  const r = (window.__kb = { cls: 0, shifted: [], fp: null, fcp: null, banner: null, ready: null, lcp: null, lcpNode: null, consented: null, started: null, activated: null });
  // k.js's first act is a Consent Mode default pushed to dataLayer: its start.
  const dl = [];
  dl.push = function () {
    if (r.started === null) r.started = performance.now();
    return Array.prototype.push.apply(this, arguments);
  };
  window.dataLayer = dl;
  // The loader inserts each consented script with data-keksdose-ran.
  new MutationObserver((records) => {
    if (r.activated !== null) return;
    for (const m of records)
      for (const n of m.addedNodes)
        if (n.nodeType === 1 && n.hasAttribute("data-keksdose-ran")) {
          r.activated = performance.now();
          return;
        }
  }).observe(document, { childList: true, subtree: true });
  try {
    new PerformanceObserver((l) => {
      for (const e of l.getEntries()) {
        if (e.hadRecentInput) continue;
        r.cls += e.value;
        for (const s of e.sources || []) {
          const n = s.node;
          r.shifted.push(n ? (n.id ? "#" + n.id : n.nodeName.toLowerCase()) + (n.parentElement ? " in " + n.parentElement.nodeName.toLowerCase() : "") : "?");
        }
      }
    }).observe({ type: "layout-shift", buffered: true });
    new PerformanceObserver((l) => {
      for (const e of l.getEntries()) {
        r.lcp = e.startTime;
        const n = e.element;
        r.lcpNode = n ? (n.id ? "#" + n.id : n.nodeName.toLowerCase()) + (n.closest && n.closest("[data-takeover]") ? " (the WASM's)" : "") : "?";
      }
    }).observe({ type: "largest-contentful-paint", buffered: true });
    new PerformanceObserver((l) => {
      for (const e of l.getEntries()) {
        if (e.name === "first-paint") r.fp = e.startTime;
        if (e.name === "first-contentful-paint") r.fcp = e.startTime;
      }
    }).observe({ type: "paint", buffered: true });
  } catch (e) {}
  const ran = [];
  ran.push = function () {
    if (r.consented === null) r.consented = performance.now();
    return Array.prototype.push.apply(this, arguments);
  };
  window.__demo = { ran: ran };
  // The banner's WASM and its view of the config are there, beside the server's
  // first layer: the loader marks the host data-ready, and
  // "Einstellungen" would open the settings at once. Watched from the first
  // frame that sees the host, so the time is the mutation's.
  let watched = null;
  const poll = () => {
    const host = document.getElementById("keksdose-root");
    const root = host && host.shadowRoot;
    if (host && watched !== host) {
      watched = host;
      if (r.ready === null && host.hasAttribute("data-ready")) r.ready = performance.now();
      new MutationObserver(() => {
        if (r.ready === null && host.hasAttribute("data-ready")) r.ready = performance.now();
      }).observe(host, { attributes: true, attributeFilter: ["data-ready"] });
    }
    const b = root && root.querySelector("button");
    if (b && b.getBoundingClientRect().height > 0) r.banner = performance.now();
    else requestAnimationFrame(poll);
  };
  requestAnimationFrame(poll);
})();"##;

/// What one load of a page yielded.
const COLLECT: &str = r#"const ours = (n) => /\/k\.js|\/widget\/|\/v1\//.test(new URL(n).pathname);
const res = performance.getEntriesByType("resource").filter((e) => ours(e.name));
const kjs = res.find((e) => /^\/(s\/[^/]+\/)?k\.js$/.test(new URL(e.name).pathname));
const nav = performance.getEntriesByType("navigation")[0];
return {
  fp: __kb.fp, fcp: __kb.fcp, cls: __kb.cls, shifted: __kb.shifted, banner: __kb.banner, ready: __kb.ready, lcp: __kb.lcp, lcpNode: __kb.lcpNode, consented: __kb.consented,
  started: __kb.started, activated: __kb.activated,
  loader: kjs ? kjs.responseEnd : null,
  dcl: nav ? nav.domContentLoadedEventStart : null,
  load: nav ? nav.loadEventEnd : null,
  bytes: res.reduce((s, e) => s + e.transferSize, 0),
  urls: res.map((e) => [e.name, e.initiatorType, e.transferSize]),
};"#;

/// A POST to chromedriver's session, for what WebDriver itself lacks.
#[derive(Debug)]
struct Session {
    method: http::Method,
    path: &'static str,
    body: Value,
}

impl WebDriverCompatibleCommand for Session {
    fn endpoint(&self, base: &url::Url, id: Option<&str>) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/{}", id.unwrap_or_default(), self.path))
    }
    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        let body = (self.method == http::Method::POST).then(|| self.body.to_string());
        (self.method.clone(), body)
    }
}

async fn cdp(browser: &Browser, cmd: &str, params: Value) -> Result<Value> {
    browser
        .client()
        .issue_cmd(Session {
            method: http::Method::POST,
            path: "goog/cdp/execute",
            body: json!({"cmd": cmd, "params": params}),
        })
        .await
        .with_context(|| format!("DevTools {cmd}"))
}

/// Throttles to slow 4G, or lifts the throttling.
async fn throttle(browser: &Browser, slow: bool) -> Result<()> {
    let cmd = if slow {
        Session {
            method: http::Method::POST,
            path: "chromium/network_conditions",
            body: json!({"network_conditions": {
                "offline": false,
                "latency": 150,
                "download_throughput": 1_600_000 / 8,
                "upload_throughput": 750_000 / 8,
            }}),
        }
    } else {
        Session {
            method: http::Method::DELETE,
            path: "chromium/network_conditions",
            body: Value::Null,
        }
    };
    match browser.client().issue_cmd(cmd).await {
        Ok(_) => Ok(()),
        // Deleting conditions that were never set is an error to chromedriver.
        Err(_) if !slow => Ok(()),
        Err(e) => Err(e).context("setting network conditions"),
    }
}

/// The two ways a site embeds the banner (issue 13), on the same demo page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    /// `<script src="/k.js" data-site="saas" async>`: then what the per-site
    /// loader carries (`/v1/sites/saas/loader`) and the loader's other half, then
    /// the server-rendered first layer; the WASM beside it for the settings.
    Generic,
    /// `<script src="/s/saas/k.js" async>` (the demo server rewrites the page for
    /// `?embed=site`): the config and the server-rendered first layer come with the
    /// loader; the WASM beside it for the settings.
    PerSite,
}

impl Form {
    const ALL: [Form; 2] = [Form::Generic, Form::PerSite];

    fn path(self) -> &'static str {
        match self {
            Form::Generic => "/demo/saas.html",
            Form::PerSite => "/demo/saas.html?embed=site",
        }
    }

    /// The generic form keeps the groups' names of the runs before issue 13, so
    /// that results.md compares them.
    fn group(self, slow: bool) -> &'static str {
        match (self, slow) {
            (Form::Generic, true) => "Banner, slow 4G (150 ms RTT, 1.6 Mbit/s)",
            (Form::Generic, false) => "Banner, loopback without throttling",
            (Form::PerSite, true) => {
                "Banner per site (/s/saas/k.js), slow 4G (150 ms RTT, 1.6 Mbit/s)"
            }
            (Form::PerSite, false) => "Banner per site (/s/saas/k.js), loopback without throttling",
        }
    }
}

/// What shows that a first visit is complete, in either form: the first
/// layer's button, and the settings ready beside it.
const FIRST_VISIT_DONE: &str = "return window.__kb && window.__kb.banner && window.__kb.ready";

/// One profile's samples of one form.
#[derive(Debug, Default)]
struct Samples {
    banner: Vec<f64>,
    /// The loader's `responseEnd`.
    loader: Vec<f64>,
    /// Chromium's largest contentful paint, and the nodes it named.
    lcp: Vec<f64>,
    lcp_nodes: Vec<String>,
    /// The WASM and the view are there (settings ready), from navigation start…
    ready: Vec<f64>,
    /// … and after the first layer showed.
    ready_after_banner: Vec<f64>,
    fp: Vec<f64>,
    fp_base: Vec<f64>,
    fcp: Vec<f64>,
    fcp_base: Vec<f64>,
    cls: Vec<f64>,
    cls_base: Vec<f64>,
    first_bytes: Vec<f64>,
    heap: Vec<f64>,
    heap_base: Vec<f64>,
    wasm: Vec<f64>,
    returning_bytes: Vec<f64>,
    consented: Vec<f64>,
    consented_after_loader: Vec<f64>,
    activated_after_loader: Vec<f64>,
    loader_started: Vec<f64>,
    returning_fp: Vec<f64>,
    returning_dcl: Vec<f64>,
    /// What moved in returning visits' layout shifts.
    shifted: Vec<String>,
    returning_cls: Vec<f64>,
}

/// Measures the banner in both forms and Lighthouse; returns notes for the
/// report's settings (Lighthouse's version and LCP elements, or why it did not run).
pub async fn run(options: &Options, figures: &mut Vec<Figure>) -> Result<Value> {
    let root = keksdose_tests::workspace_root();
    let manifest: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("static/widget/manifest.json"))
            .context("static/widget/manifest.json: build the widget (cargo xtask widget)")?,
    )?;
    // The demo's static files with one page added: the SaaS page without k.js.
    let dir = tempfile::Builder::new()
        .prefix("keksdose-bench-")
        .tempdir()?;
    let static_dir = dir.path().join("static");
    keksdose_tests::copy_dir(&root.join("static"), &static_dir)?;
    let page = std::fs::read_to_string(static_dir.join("demo/saas.html"))?;
    let baseline: String = page
        .lines()
        .filter(|l| !l.contains("/k.js"))
        .map(|l| format!("{l}\n"))
        .collect();
    if baseline == page {
        bail!("demo/saas.html has no k.js line to leave out");
    }
    if baseline.contains("k.js") {
        bail!("demo/saas.html: the baseline without the loader still names k.js");
    }
    std::fs::write(static_dir.join("demo/saas-baseline.html"), baseline)?;
    let server = TestServer::start_with(|cmd| {
        cmd.arg("--static-dir").arg(&static_dir);
    })
    .await?;

    let browser = Browser::start().await?;
    cdp(
        &browser,
        "Page.addScriptToEvaluateOnNewDocument",
        json!({"source": PROBE}),
    )
    .await?;
    let result = measure(options, &server, &browser, figures).await;
    let _ = browser.close().await;
    result?;
    sizes(&server, &manifest, figures).await?;
    first_layers(figures)?;
    Ok(lighthouse(&root, &server, figures).await)
}

/// One cold first visit of `form`'s page, or of the baseline (`None`): what
/// COLLECT read, and the JS heap used (KiB).
async fn first_visit(
    server: &TestServer,
    browser: &Browser,
    form: Option<Form>,
) -> Result<(Value, f64)> {
    cold(browser).await?;
    let url = match form {
        Some(form) => server.url(form.path()),
        None => server.url("/demo/saas-baseline.html"),
    };
    browser.client().goto(&url).await?;
    match form {
        Some(_) => wait_for(browser, FIRST_VISIT_DONE).await?,
        None => wait_for(browser, "return window.__kb && window.__kb.fp").await?,
    };
    // Room for a late layout shift.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let m = browser.eval(COLLECT).await?;
    let heap = cdp(browser, "Runtime.getHeapUsage", json!({})).await?;
    let used = heap["usedSize"].as_f64().unwrap_or(f64::NAN) / 1024.0;
    Ok((m, used))
}

async fn measure(
    options: &Options,
    server: &TestServer,
    browser: &Browser,
    figures: &mut Vec<Figure>,
) -> Result<()> {
    for slow in [true, false] {
        eprintln!(
            "bench: {} / {}",
            Form::Generic.group(slow),
            Form::PerSite.group(slow)
        );
        throttle(browser, slow).await?;
        let mut samples = [Samples::default(), Samples::default()];
        // First visits: cold cache, no cookies; the baseline and the two forms take
        // turns at going first.
        let pages = [None, Some(Form::Generic), Some(Form::PerSite)];
        for i in 0..options.loads {
            let mut base = None;
            for k in 0..pages.len() {
                let form = pages[(i + k) % pages.len()];
                let (m, used) = first_visit(server, browser, form).await?;
                let Some(form) = form else {
                    base = Some((m, used));
                    continue;
                };
                let s = &mut samples[form as usize];
                let banner = num(&m["banner"])?;
                s.banner.push(banner);
                s.loader.push(num(&m["loader"])?);
                // Absent only if Chromium reported none: then no sample.
                s.lcp.extend(m["lcp"].as_f64());
                if let Some(n) = m["lcpNode"].as_str() {
                    s.lcp_nodes.push(n.to_string());
                }
                let ready = num(&m["ready"])?;
                s.ready.push(ready);
                s.ready_after_banner.push(ready - banner);
                s.fp.push(num(&m["fp"])?);
                s.fcp.push(num(&m["fcp"])?);
                s.cls.push(num(&m["cls"])?);
                s.first_bytes.push(num(&m["bytes"])?);
                s.heap.push(used);
                s.wasm.push(wasm_memory(browser).await? / 1024.0);
            }
            // The one baseline of this turn, paired with both forms.
            let (m, used) = base.context("no baseline load")?;
            for s in &mut samples {
                s.fp_base.push(num(&m["fp"])?);
                s.fcp_base.push(num(&m["fcp"])?);
                s.cls_base.push(num(&m["cls"])?);
                s.heap_base.push(used);
            }
        }
        for form in Form::ALL {
            returning(options, server, browser, form, &mut samples[form as usize]).await?;
        }
        let [generic, per_site] = samples;
        push(figures, Form::Generic, generic, slow);
        push(figures, Form::PerSite, per_site, slow);
    }
    Ok(())
}

/// A returning visitor: "Alle akzeptieren" once, then loads with the cookie and
/// the HTTP cache of that visit (all within a minute, the shortest cache lifetime).
async fn returning(
    options: &Options,
    server: &TestServer,
    browser: &Browser,
    form: Form,
    s: &mut Samples,
) -> Result<()> {
    let page = server.url(form.path());
    cold(browser).await?;
    browser.client().goto(&page).await?;
    wait_for(browser, "return window.__kb && window.__kb.banner").await?;
    browser
        .eval(
            r#"const b = [...document.getElementById("keksdose-root").shadowRoot.querySelectorAll("button")]
                 .find((b) => /Alle akzeptieren/.test(b.textContent));
               b.click();"#,
        )
        .await?;
    wait_for(
        browser,
        // 1.<consent_id>.<pending>…: recorded once the ID is there and nothing pends.
        r#"const c = document.cookie.split("; ").find((c) => c.startsWith("keksdose_saas="));
           const p = c && c.slice("keksdose_saas=".length).split(".");
           return p && p[1] && !p[2] ? true : null;"#,
    )
    .await
    .context("the decision's cookie")?;
    wait_for(browser, "return window.__kb && window.__kb.consented").await?;
    for _ in 0..options.loads {
        browser.client().goto("about:blank").await?;
        browser.client().goto(&page).await?;
        wait_for(browser, "return window.__kb && window.__kb.consented").await?;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let m = browser.eval(COLLECT).await?;
        if m["banner"] != Value::Null {
            bail!("the banner showed to a returning visitor ({form:?}): {m}");
        }
        let (consented, started) = (num(&m["consented"])?, num(&m["started"])?);
        s.consented.push(consented);
        s.consented_after_loader.push(consented - started);
        s.activated_after_loader
            .push(num(&m["activated"])? - started);
        s.loader_started.push(started);
        s.returning_bytes.push(num(&m["bytes"])?);
        s.returning_fp.push(num(&m["fp"])?);
        s.returning_dcl.push(num(&m["dcl"])?);
        s.returning_cls.push(num(&m["cls"])?);
        if let Some(nodes) = m["shifted"].as_array().filter(|n| !n.is_empty()) {
            s.shifted
                .extend(nodes.iter().filter_map(|n| n.as_str().map(String::from)));
        }
    }
    Ok(())
}

fn push(figures: &mut Vec<Figure>, form: Form, mut s: Samples, slow: bool) {
    let group = form.group(slow);
    s.shifted.sort();
    s.shifted.dedup();
    s.lcp_nodes.sort();
    s.lcp_nodes.dedup();
    eprintln!(
        "bench: {group}: largest contentful paint: {}",
        s.lcp_nodes.join(", ")
    );
    if !s.shifted.is_empty() {
        eprintln!(
            "bench: {group}: returning visits' layout shifts moved: {}",
            s.shifted.join(", ")
        );
    }
    let delay: Vec<f64> = s.fp.iter().zip(&s.fp_base).map(|(a, b)| a - b).collect();
    let heap: Vec<f64> = s
        .heap
        .iter()
        .zip(&s.heap_base)
        .map(|(a, b)| a - b)
        .collect();
    let f = |name: &str, unit: &'static str, v: Vec<f64>| Figure::new(group, name, unit).samples(v);
    // Issue 13's target is the per-site form's; the generic form keeps the earlier one.
    let banner_target = match (form, slow) {
        (Form::PerSite, true) => Target::AtMost(450.0),
        (Form::Generic, true) => Target::AtMost(650.0),
        (_, false) => Target::None,
    };
    figures
        .push(f("first visit: first banner button visible", "ms", s.banner).target(banner_target));
    figures.push(f(
        "first visit: loader arrived (its responseEnd)",
        "ms",
        s.loader,
    ));
    figures.push(f(
        "first visit: largest contentful paint (Chromium, not simulated)",
        "ms",
        s.lcp,
    ));
    figures.push(f(
        "first visit: settings ready (the WASM and the view there), from navigation start",
        "ms",
        s.ready,
    ));
    figures.push(f(
        "first visit: first layer visible → settings ready",
        "ms",
        s.ready_after_banner,
    ));
    figures.push(f("first visit: first paint, with banner", "ms", s.fp));
    figures.push(f(
        "first visit: first paint, baseline without k.js",
        "ms",
        s.fp_base,
    ));
    figures.push(
        f(
            "first visit: first paint delay (with − baseline, per pair)",
            "ms",
            delay,
        )
        .target(Target::AtMost(16.7)),
    );
    figures.push(f(
        "first visit: first contentful paint, with banner",
        "ms",
        s.fcp,
    ));
    figures.push(f(
        "first visit: first contentful paint, baseline",
        "ms",
        s.fcp_base,
    ));
    figures.push(
        f("first visit: layout shift, with banner", "CLS", s.cls).target(Target::AtMost(0.0)),
    );
    figures.push(f("first visit: layout shift, baseline", "CLS", s.cls_base));
    figures.push(f(
        "first visit: Keksdose bytes on the wire (as Chromium fetched them)",
        "B",
        s.first_bytes,
    ));
    figures.push(f("first visit: JS heap used, with banner", "KiB", s.heap));
    figures.push(f("first visit: JS heap used, with − baseline", "KiB", heap));
    figures.push(
        f(
            "first visit: WASM memory after the banner shows",
            "KiB",
            s.wasm,
        )
        .target(Target::AtMost(256.0)),
    );
    figures.push(
        f(
            "returning visitor: Keksdose bytes on the wire",
            "B",
            s.returning_bytes,
        )
        .target(Target::AtMost(4096.0)),
    );
    figures.push(f(
        "returning visitor: consented scripts running, from navigation start",
        "ms",
        s.consented,
    ));
    figures.push(f(
        "returning visitor: k.js starts, from navigation start",
        "ms",
        s.loader_started,
    ));
    figures.push(
        f(
            "returning visitor: first consented script inserted, after k.js starts",
            "ms",
            s.activated_after_loader,
        )
        .target(Target::AtMost(20.0)),
    );
    figures.push(f(
        "returning visitor: first consented script ran, after k.js starts (includes fetching the demo's vendor script)",
        "ms",
        s.consented_after_loader,
    ));
    figures.push(f("returning visitor: first paint", "ms", s.returning_fp));
    figures.push(f(
        "returning visitor: DOMContentLoaded",
        "ms",
        s.returning_dcl,
    ));
    figures.push(f("returning visitor: layout shift", "CLS", s.returning_cls));
}

/// The status line and headers of a 304 to `path` revalidated with its ETag.
async fn revalidation(http: &reqwest::Client, server: &TestServer, path: &str) -> Result<f64> {
    let first = http
        .get(server.url(path))
        .header("Accept-Encoding", "br")
        .send()
        .await?
        .error_for_status()?;
    let etag = first
        .headers()
        .get("etag")
        .with_context(|| format!("{path}: no ETag"))?
        .to_str()?
        .to_string();
    let again = http
        .get(server.url(path))
        .header("Accept-Encoding", "br")
        .header("If-None-Match", etag)
        .send()
        .await?;
    if again.status() != reqwest::StatusCode::NOT_MODIFIED {
        bail!("{path} with its ETag answered {}", again.status());
    }
    let head: usize = again
        .headers()
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum();
    Ok((head + "HTTP/1.1 304 Not Modified\r\n\r\n".len()) as f64)
}

/// The banner's size per encoding, as the server sends it, and the first visit's
/// Keksdose requests per encoding: generic (k.js, the per-site loader's data, the loader's other
/// half, the banner's module and WASM) and per site (`/s/saas/k.js`, module, WASM).
async fn sizes(server: &TestServer, manifest: &Value, figures: &mut Vec<Figure>) -> Result<()> {
    let group = "Banner, bytes per encoding";
    let http = reqwest::Client::new();
    // The other half's name is the server's (named by its content), in the
    // manifest it serves.
    let served: Value = http
        .get(server.url("/widget/manifest.json"))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let part = format!(
        "/widget/{}",
        served["part"].as_str().context("served manifest part")?
    );
    let js = format!(
        "/widget/{}",
        manifest["js"].as_str().context("manifest js")?
    );
    let wasm = format!(
        "/widget/{}",
        manifest["wasm"].as_str().context("manifest wasm")?
    );
    let first = [
        "/k.js",
        // What /k.js asks for in place of the config: the per-site loader's data.
        "/v1/sites/saas/loader",
        js.as_str(),
        wasm.as_str(),
        "/s/saas/k.js",
        "/s/coaching/k.js",
        part.as_str(),
        // What the banner is mounted with, fetched beside its WASM.
        "/v1/sites/saas/banner?lang=de",
    ];
    // A returning visitor once the cache lifetimes (k.js 5 min, the loader's
    // data 60 s) are over: both are revalidated. Status line and headers of the
    // two 304s.
    let mut generic = 0.0;
    for path in ["/k.js", "/v1/sites/saas/loader"] {
        generic += revalidation(&http, server, path).await?;
    }
    figures.push(
        Figure::new(
            group,
            "returning visitor after the cache lifetimes: two 304s (k.js, /loader)",
            "B",
        )
        .one(generic)
        .target(Target::AtMost(4096.0)),
    );
    // Per site: the loader alone, max-age=60 and stale-while-revalidate for a day,
    // so after a minute the cached copy runs and this 304 comes in the background.
    figures.push(
        Figure::new(
            group,
            "per site, returning visitor after 60 s: one 304 (/s/saas/k.js, in the background)",
            "B",
        )
        .one(revalidation(&http, server, "/s/saas/k.js").await?)
        .target(Target::AtMost(4096.0)),
    );
    for encoding in ["br", "gzip", "identity"] {
        let mut sizes = Vec::new();
        for path in first {
            let resp = http
                .get(server.url(path))
                .header("Accept-Encoding", encoding)
                .send()
                .await?
                .error_for_status()?;
            sizes.push(resp.bytes().await?.len() as f64);
        }
        let br = encoding == "br";
        let at_most = |kib: f64| {
            if br {
                Target::AtMost(kib * 1024.0)
            } else {
                Target::None
            }
        };
        let banner = sizes[2] + sizes[3];
        figures.push(
            Figure::new(group, format!("banner WASM + JS glue, {encoding}"), "B")
                .one(banner)
                .target(at_most(80.0)),
        );
        figures.push(Figure::new(group, format!("WASM alone, {encoding}"), "B").one(sizes[3]));
        figures.push(
            Figure::new(group, format!("k.js, {encoding}"), "B")
                .one(sizes[0])
                .target(at_most(6.0)),
        );
        figures.push(
            Figure::new(
                group,
                format!("the loader's other half (k-banner.js), {encoding}"),
                "B",
            )
            .one(sizes[6]),
        );
        figures.push(
            Figure::new(
                group,
                format!(
                    "the per-site loader's data /v1/sites/saas/loader (config, stylesheet, first layers), {encoding}"
                ),
                "B",
            )
            .one(sizes[1]),
        );
        figures.push(
            Figure::new(
                group,
                format!("the banner's view of the config (saas, de), {encoding}"),
                "B",
            )
            .one(sizes[7]),
        );
        figures.push(
            Figure::new(
                group,
                format!(
                    "per-site loader /s/saas/k.js (loader, config, stylesheet, first layer), {encoding}"
                ),
                "B",
            )
            .one(sizes[4])
            .target(at_most(12.0)),
        );
        figures.push(
            Figure::new(
                group,
                format!("per-site loader /s/coaching/k.js (5 languages), {encoding}"),
                "B",
            )
            .one(sizes[5]),
        );
        figures.push(
            Figure::new(
                group,
                format!("first visit, every Keksdose response body, {encoding}"),
                "B",
            )
            .one(sizes[..4].iter().sum::<f64>() + sizes[6] + sizes[7]),
        );
        figures.push(
            Figure::new(
                group,
                format!("per site: first visit, every Keksdose response body, {encoding}"),
                "B",
            )
            .one(sizes[2] + sizes[3] + sizes[4] + sizes[7]),
        );
    }
    Ok(())
}

/// The server's first layer of the demo SaaS site (`examples/sites/saas.toml`)
/// offering each built-in language alone, rendered here as `/s/{site}/k.js`
/// renders it: bytes as is and with brotli at the server's release level.
fn first_layers(figures: &mut Vec<Figure>) -> Result<()> {
    use keksdose_shared::{SiteConfig, texts};
    let group = "Banner, the server's first layer per language (saas)";
    let toml =
        std::fs::read_to_string(keksdose_tests::workspace_root().join("examples/sites/saas.toml"))?;
    for lang in texts::LANGUAGES {
        let mut config = SiteConfig::from_toml(&toml)?;
        config.site.languages = vec![lang.to_string()];
        let version = config.version();
        let words = texts::words_for(&config, lang);
        let view = keksdose_widget::view::View::new(&config, &version, lang, &words);
        let site = keksdose_widget::site::Site::new(view, None, None);
        let html = keksdose_widget::ssr::first_layer(site);
        let params = brotli::enc::BrotliEncoderParams {
            quality: 11,
            lgwin: 22,
            ..Default::default()
        };
        let mut br = Vec::new();
        brotli::BrotliCompress(&mut html.as_bytes(), &mut br, &params)?;
        for (encoding, bytes) in [("identity", html.len()), ("br", br.len())] {
            figures.push(Figure::new(group, format!("{lang}, {encoding}"), "B").one(bytes as f64));
        }
    }
    Ok(())
}

/// Lighthouse runs per form (median of these).
const LIGHTHOUSE_RUNS: usize = 3;

/// Lighthouse (`node_modules/lighthouse`, its default mobile preset: simulated
/// slow 4G and a 4× slower CPU) on the demo SaaS page in both forms, with Debian's
/// Chromium: LCP and total blocking time. Returns Lighthouse's version and the
/// LCP elements, or why it could not run (then no figures: none are made up).
async fn lighthouse(
    root: &std::path::Path,
    server: &TestServer,
    figures: &mut Vec<Figure>,
) -> Value {
    let cli = root.join("node_modules/lighthouse/cli/index.js");
    let version = std::fs::read_to_string(root.join("node_modules/lighthouse/package.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        .and_then(|p| p["version"].as_str().map(String::from));
    let Some(version) = version.filter(|_| cli.is_file()) else {
        eprintln!("bench: Lighthouse is not installed (npm ci); no Lighthouse figures");
        return json!({"lighthouse": "not installed"});
    };
    let chrome = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let mut notes = serde_json::Map::new();
    notes.insert("lighthouse".into(), json!(version));
    for form in Form::ALL {
        let group = match form {
            Form::Generic => "Lighthouse, mobile preset (simulated slow 4G, 4× CPU), generic /k.js",
            Form::PerSite => {
                "Lighthouse, mobile preset (simulated slow 4G, 4× CPU), per site /s/saas/k.js"
            }
        };
        eprintln!("bench: {group}");
        let (mut lcp, mut tbt, mut elements, mut tasks) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut failure = None;
        for _ in 0..LIGHTHOUSE_RUNS {
            match lighthouse_once(&cli, &chrome, &server.url(form.path())).await {
                Ok((l, t, e, long)) => {
                    tasks.push(long);
                    lcp.push(l);
                    tbt.push(t);
                    elements.push(e);
                }
                Err(e) => {
                    eprintln!("bench: Lighthouse failed: {e:#}");
                    failure = Some(format!("{e:#}"));
                    break;
                }
            }
        }
        let key = format!("{form:?}");
        if let Some(failure) = failure {
            notes.insert(key, json!({"failed": failure}));
            continue;
        }
        elements.sort();
        elements.dedup();
        eprintln!("bench: LCP element(s): {}", elements.join(" | "));
        notes.insert(
            key,
            json!({"lcp_elements": elements, "long_tasks_per_run": tasks}),
        );
        figures.push(
            Figure::new(group, "largest contentful paint", "ms")
                .samples(lcp)
                .target(Target::AtMost(1200.0)),
        );
        figures.push(
            Figure::new(group, "total blocking time", "ms")
                .samples(tbt)
                .target(Target::AtMost(100.0)),
        );
    }
    Value::Object(notes)
}

/// One Lighthouse run: LCP (ms), TBT (ms), the LCP element as Lighthouse names it,
/// and the long tasks (`[url, start, duration]`).
async fn lighthouse_once(
    cli: &std::path::Path,
    chrome: &str,
    url: &str,
) -> Result<(f64, f64, String, Value)> {
    let out = tokio::process::Command::new("node")
        .arg(cli)
        .arg(url)
        .args([
            "--output=json",
            "--output-path=stdout",
            "--quiet",
            "--only-categories=performance",
            "--chrome-flags=--headless=new --no-sandbox",
        ])
        .env("CHROME_PATH", chrome)
        .kill_on_drop(true)
        .output()
        .await
        .context("running node (Node.js is needed for Lighthouse)")?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        bail!(
            "lighthouse exited with {}: {}",
            out.status,
            err.lines().rev().take(5).collect::<Vec<_>>().join(" / ")
        );
    }
    let report: Value = serde_json::from_slice(&out.stdout).context("Lighthouse's JSON")?;
    if let Some(e) = report["runtimeError"]["message"].as_str() {
        bail!("Lighthouse: {e}");
    }
    let audit = |id: &str| -> Result<f64> {
        report["audits"][id]["numericValue"]
            .as_f64()
            .with_context(|| {
                format!(
                    "Lighthouse gave no {id}: {}",
                    report["audits"][id]["errorMessage"]
                )
            })
    };
    let element = find_node(&report["audits"]["largest-contentful-paint-element"]["details"])
        .unwrap_or_else(|| "?".into());
    // Where the blocking time comes from: the long tasks (simulated times, ms) and
    // the script they are attributed to.
    let long: Vec<Value> = report["audits"]["long-tasks"]["details"]["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| {
            json!([
                t["url"],
                t["startTime"].as_f64().map(f64::round),
                t["duration"]
            ])
        })
        .collect();
    Ok((
        audit("largest-contentful-paint")?,
        audit("total-blocking-time")?,
        element,
        json!(long),
    ))
}

/// The first node in a Lighthouse audit's details: its label and selector.
fn find_node(v: &Value) -> Option<String> {
    match v {
        Value::Object(o) => {
            if o.get("type").and_then(Value::as_str) == Some("node") {
                return Some(format!(
                    "{} ({})",
                    o.get("nodeLabel").and_then(Value::as_str).unwrap_or("?"),
                    o.get("selector").and_then(Value::as_str).unwrap_or("?")
                ));
            }
            o.values().find_map(find_node)
        }
        Value::Array(a) => a.iter().find_map(find_node),
        _ => None,
    }
}

/// A cold start: no HTTP cache, no cookies, a blank page.
async fn cold(browser: &Browser) -> Result<()> {
    browser.client().goto("about:blank").await?;
    cdp(browser, "Network.clearBrowserCache", json!({})).await?;
    cdp(browser, "Network.clearBrowserCookies", json!({})).await?;
    Ok(())
}

/// Polls `script` until it returns something other than null/false (30 s at most).
async fn wait_for(browser: &Browser, script: &str) -> Result<Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let v = browser.eval(script).await?;
        if !(v.is_null() || v == Value::Bool(false)) {
            return Ok(v);
        }
        if Instant::now() > deadline {
            bail!("waited 30 s for `{script}` in the browser");
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The banner module's linear memory, bytes (the module is the one k.js imported).
async fn wasm_memory(browser: &Browser) -> Result<f64> {
    let v = browser
        .eval_async(
            r#"const done = arguments[arguments.length - 1];
               const e = performance.getEntriesByType("resource").find((e) => /\/widget\/banner\.[^/]*\.js$/.test(e.name));
               if (!e) { done(null); } else {
                 import(e.name).then((m) => done(typeof m.wasmMemoryBytes === "function" ? m.wasmMemoryBytes() : null),
                                     (err) => done(null));
               }"#,
            Vec::new(),
        )
        .await?;
    Ok(v.as_f64().unwrap_or(f64::NAN))
}

fn num(v: &Value) -> Result<f64> {
    v.as_f64()
        .with_context(|| format!("expected a number, got {v}"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_first_layer_in_every_language_and_smaller_with_brotli() {
        let mut figures = Vec::new();
        super::first_layers(&mut figures).unwrap();
        assert_eq!(figures.len(), 2 * keksdose_shared::texts::LANGUAGES.len());
        for pair in figures.chunks(2) {
            let (raw, br) = (pair[0].median().unwrap(), pair[1].median().unwrap());
            assert!(0.0 < br && br < raw, "{}: {br} of {raw}", pair[0].name);
        }
    }
}
