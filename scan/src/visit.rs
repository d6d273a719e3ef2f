//! One visit: a page opened in a fresh browser, in one of the three states, and
//! everything it set and contacted before and after the decision.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::Serialize;
use serde_json::{Value, json};

use crate::browser::{Driver, Session};

/// The three states a page is visited in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// The banner shown, nothing decided.
    NoDecision,
    /// "Nur Notwendige" clicked, then the page loaded again.
    RejectAll,
    /// "Alle akzeptieren" clicked, then the page loaded again.
    AcceptAll,
}

impl State {
    pub const ALL: [State; 3] = [State::NoDecision, State::RejectAll, State::AcceptAll];

    pub fn as_str(self) -> &'static str {
        match self {
            State::NoDecision => "no_decision",
            State::RejectAll => "reject_all",
            State::AcceptAll => "accept_all",
        }
    }

    /// The banner button that takes the page to this state.
    fn action(self) -> Option<&'static str> {
        match self {
            State::NoDecision => None,
            State::RejectAll => Some("reject_all"),
            State::AcceptAll => Some("accept_all"),
        }
    }
}

/// How long each part of a visit may take.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    /// A page load (WebDriver's page-load timeout).
    pub page_load: Duration,
    /// Waiting for the network to fall quiet after a load or a click.
    pub settle: Duration,
    /// Waiting for the banner to show, and for the decision to be acknowledged.
    pub banner: Duration,
}

/// What set a cookie or storage key: a response's `Set-Cookie`, or a script.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct SetBy {
    /// `response` or `script`.
    pub via: &'static str,
    /// The response's URL, or the script's (with `:line`).
    pub url: String,
}

impl SetBy {
    /// "response URL", "script URL:line", or "an inline script run by URL:line".
    pub fn describe(&self) -> String {
        if self.url.starts_with("an inline script") {
            self.url.clone()
        } else {
            format!("{} {}", self.via, self.url)
        }
    }
}

/// A request the page (or anything on it) made.
#[derive(Debug, Clone, Serialize)]
pub struct Request {
    pub url: String,
    pub host: String,
    /// DevTools' resource type: Document, Script, Stylesheet, Font, Image, XHR, …
    pub kind: String,
    /// What made it: the script or document that asked for it.
    pub initiator: Option<String>,
    pub after_decision: bool,
}

/// A cookie as the browser keeps it.
#[derive(Debug, Clone, Serialize)]
pub struct SeenCookie {
    pub name: String,
    pub domain: String,
    pub path: String,
    /// Seconds from when it was seen to when it expires; `None` for a session cookie.
    pub lifetime_secs: Option<u64>,
    pub http_only: bool,
    pub secure: bool,
    pub same_site: Option<String>,
    pub set_by: Option<SetBy>,
    /// There before the decision (in a visit without one: at all).
    pub before_decision: bool,
    /// There after the decision and the reload.
    pub after_decision: bool,
}

/// A storage key or IndexedDB database of the page's origin.
#[derive(Debug, Clone, Serialize)]
pub struct SeenStorage {
    /// `local_storage`, `session_storage` or `indexed_db` (the config's storage codes).
    pub storage: String,
    pub name: String,
    pub set_by: Option<SetBy>,
    /// There before the decision (in a visit without one: at all).
    pub before_decision: bool,
    /// There after the decision and the reload.
    pub after_decision: bool,
}

/// An element the page marked for Keksdose to hold back (`data-consent`).
#[derive(Debug, Clone, Serialize)]
pub struct Blockable {
    /// `script` or `iframe`.
    pub tag: String,
    pub service: String,
    pub url: Option<String>,
    /// Its opening tag as the page has it (the typo is in there).
    pub markup: String,
    /// Whether the markup itself left it free to run or load (a script whose
    /// `type` is not `text/plain`, an iframe with a `src`) before any decision.
    pub unblocked: bool,
}

/// The page's Keksdose loader tag.
#[derive(Debug, Clone, Serialize)]
pub struct LoaderTag {
    pub src: String,
    /// The CMP's base URL (everything before `/k.js` or `/s/…`).
    pub server: String,
    pub site: Option<String>,
}

/// Everything one visit saw.
#[derive(Debug, Clone, Serialize)]
pub struct Visit {
    pub page: String,
    pub state: State,
    /// The page did not finish loading within the bound.
    pub timed_out: bool,
    /// A visit that failed (the browser could not open the page, …).
    pub error: Option<String>,
    pub banner_shown: bool,
    /// The decision was acknowledged by the ledger (states other than no decision).
    pub decided: bool,
    pub requests: Vec<Request>,
    pub cookies: Vec<SeenCookie>,
    pub storage: Vec<SeenStorage>,
    #[serde(skip)]
    pub elements: Vec<Blockable>,
    #[serde(skip)]
    pub links: Vec<String>,
    #[serde(skip)]
    pub loader: Option<LoaderTag>,
}

const BUTTON: &str = "const h = document.querySelector('#keksdose-root');\
    return (h && h.shadowRoot && h.shadowRoot.querySelector('button[data-action=\"' + arguments[0] + '\"]')) || null;";

const DECIDED: &str = "try { const g = window.keksdose && window.keksdose.get(); return !!(g && g.consentId); } catch (e) { return false; }";

/// The page's DOM facts: loader tag, blockable elements, links, storage keys.
const DOM: &str = r#"
const done = arguments[arguments.length - 1];
const abs = (u) => { try { return new URL(u, location.href).href; } catch (e) { return null; } };
let loader = null;
for (const s of document.querySelectorAll('script[src]')) {
  const src = abs(s.getAttribute('src'));
  if (!src) continue;
  const u = new URL(src);
  let m = /^(.*)\/s\/([A-Za-z0-9_-]+)\/k\.js$/.exec(u.pathname);
  if (m) { loader = { src, server: u.origin + m[1], site: m[2] }; break; }
  m = /^(.*)\/k\.js$/.exec(u.pathname);
  if (m) { loader = { src, server: u.origin + m[1], site: s.getAttribute('data-site') }; break; }
}
const elements = [];
for (const e of document.querySelectorAll('script[data-consent], iframe[data-consent]')) {
  const tag = e.tagName.toLowerCase();
  const raw = e.getAttribute('src') || e.getAttribute('data-src');
  const type = (e.getAttribute('type') || '').trim().toLowerCase();
  const unblocked = tag === 'script' ? type !== 'text/plain' : e.hasAttribute('src');
  const html = e.outerHTML;
  const markup = html.slice(0, Math.min(html.indexOf('>') + 1 || 200, 200));
  elements.push({ tag, service: e.getAttribute('data-consent') || '', url: raw ? abs(raw) : null, unblocked, markup });
}
const links = [];
for (const a of document.querySelectorAll('a[href]')) {
  const h = abs(a.getAttribute('href'));
  if (h) links.push(h);
}
const keys = (s) => { try { const o = []; for (let i = 0; i < s.length; i++) o.push(s.key(i)); return o; } catch (e) { return []; } };
let local = [], session = [];
try { local = keys(window.localStorage); } catch (e) {}
try { session = keys(window.sessionStorage); } catch (e) {}
const writes = (window.__keksdoseScan || []).slice();
const finish = (dbs) => done({ loader, elements, links, local, session, dbs, writes });
try {
  indexedDB.databases().then((l) => finish(l.map((d) => d.name)), () => finish([]));
} catch (e) { finish([]); }
"#;

/// What the page's DOM said at one moment.
#[derive(Debug, Default)]
struct Dom {
    loader: Option<LoaderTag>,
    elements: Vec<Blockable>,
    links: Vec<String>,
    storage: Vec<(String, String)>,
    writes: Vec<(String, String, Option<String>)>,
}

fn read_dom(v: &Value) -> Dom {
    let strings = |key: &str| -> Vec<String> {
        v.get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|s| s.as_str().map(str::to_string))
            .collect()
    };
    let s = |o: &Value, k: &str| o.get(k).and_then(Value::as_str).map(str::to_string);
    let loader = v.get("loader").filter(|l| !l.is_null()).and_then(|l| {
        Some(LoaderTag {
            src: s(l, "src")?,
            server: s(l, "server")?,
            site: s(l, "site"),
        })
    });
    let elements = v
        .get("elements")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|e| Blockable {
            tag: s(e, "tag").unwrap_or_default(),
            service: s(e, "service").unwrap_or_default(),
            url: s(e, "url"),
            markup: s(e, "markup").unwrap_or_default(),
            unblocked: e.get("unblocked").and_then(Value::as_bool).unwrap_or(false),
        })
        .collect();
    let mut storage = Vec::new();
    for (key, kind) in [
        ("local", "local_storage"),
        ("session", "session_storage"),
        ("dbs", "indexed_db"),
    ] {
        storage.extend(strings(key).into_iter().map(|n| (kind.to_string(), n)));
    }
    let writes = v
        .get("writes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|w| Some((s(w, "kind")?, s(w, "name")?, s(w, "by"))))
        .collect();
    Dom {
        loader,
        elements,
        links: strings("links"),
        storage,
        writes,
    }
}

/// The network log of a visit, folded as it is read.
#[derive(Debug, Default)]
struct Network {
    urls: HashMap<String, String>,
    requests: Vec<Request>,
    /// Cookie name → the response that set it (the first one).
    set_cookie: BTreeMap<String, String>,
    /// Requests seen at the last poll, to tell when the network falls quiet.
    seen: usize,
}

impl Network {
    fn take(&mut self, events: Vec<Value>, after_decision: bool) {
        for e in events {
            let method = e.get("method").and_then(Value::as_str).unwrap_or_default();
            let p = &e["params"];
            match method {
                "Network.requestWillBeSent" => {
                    let Some(url) = p["request"]["url"].as_str() else {
                        continue;
                    };
                    if !(url.starts_with("http://") || url.starts_with("https://")) {
                        continue;
                    }
                    if let Some(id) = p["requestId"].as_str() {
                        self.urls.insert(id.to_string(), url.to_string());
                    }
                    self.requests.push(Request {
                        url: url.to_string(),
                        host: host_of(url).unwrap_or_default(),
                        kind: p["type"].as_str().unwrap_or("Other").to_string(),
                        initiator: initiator(&p["initiator"]),
                        after_decision,
                    });
                }
                "Network.responseReceivedExtraInfo" => {
                    let Some(url) = p["requestId"].as_str().and_then(|id| self.urls.get(id)) else {
                        continue;
                    };
                    let Some(headers) = p["headers"].as_object() else {
                        continue;
                    };
                    for (k, v) in headers {
                        if !k.eq_ignore_ascii_case("set-cookie") {
                            continue;
                        }
                        for line in v.as_str().unwrap_or_default().split('\n') {
                            let name = line.split(';').next().unwrap_or_default();
                            let name = name.split('=').next().unwrap_or_default().trim();
                            if !name.is_empty() {
                                self.set_cookie
                                    .entry(name.to_string())
                                    .or_insert_with(|| url.clone());
                            }
                        }
                    }
                }
                _ => {}
            }
        }
    }
}

/// Who asked for a request: the script on its stack, else the document or the
/// initiator's own address.
fn initiator(i: &Value) -> Option<String> {
    let frames = i["stack"]["callFrames"].as_array();
    if let Some(url) = frames
        .into_iter()
        .flatten()
        .filter_map(|f| f["url"].as_str())
        .find(|u| !u.is_empty())
    {
        return Some(url.to_string());
    }
    i["url"].as_str().map(str::to_string)
}

/// The host of an http(s) URL, lowercased.
pub fn host_of(url: &str) -> Option<String> {
    let u = url::Url::parse(url).ok()?;
    u.host_str().map(str::to_ascii_lowercase)
}

/// What a visit collected so far: kept when a later step fails.
#[derive(Debug, Default)]
struct Collected {
    net: Network,
    writes: Vec<(String, String, Option<String>)>,
    /// Cookies and keys before the decision (or, without one, at the end).
    before_cookies: Vec<SeenCookie>,
    before_storage: BTreeSet<(String, String)>,
    /// After the decision and the reload, if the visit got that far.
    after_cookies: Option<Vec<SeenCookie>>,
    after_storage: BTreeSet<(String, String)>,
    clicked: bool,
}

/// Opens `page` in a fresh browser and takes it to `state`.
pub async fn visit(driver: &Driver, page: &str, state: State, bounds: Bounds) -> Visit {
    let mut visit = Visit {
        page: page.to_string(),
        state,
        timed_out: false,
        error: None,
        banner_shown: false,
        decided: false,
        requests: Vec::new(),
        cookies: Vec::new(),
        storage: Vec::new(),
        elements: Vec::new(),
        links: Vec::new(),
        loader: None,
    };
    let session = match driver.session(bounds.page_load).await {
        Ok(s) => s,
        Err(e) => {
            visit.error = Some(format!("{e:#}"));
            return visit;
        }
    };
    let mut got = Collected::default();
    if let Err(e) = run(&session, &mut visit, &mut got, bounds).await {
        visit.error = Some(format!("{e:#}"));
        // What the visit saw until then still counts.
        if let Ok(events) = session.network_events().await {
            got.net.take(events, got.clicked);
        }
        if let Ok(now) = cookies(&session).await {
            if got.clicked {
                got.after_cookies = Some(now);
            } else if got.before_cookies.is_empty() {
                got.before_cookies = now;
            }
        }
    }
    finish(&mut visit, got);
    session.close().await;
    visit
}

async fn run(s: &Session, visit: &mut Visit, got: &mut Collected, bounds: Bounds) -> Result<()> {
    if let Err(e) = s.client().goto(&visit.page).await {
        if !is_timeout(&e) {
            return Err(e.into());
        }
        visit.timed_out = true;
        // What it did until then still counts; the rest of it is stopped.
        let _ = s.eval("window.stop(); return true;", vec![]).await;
    }
    // A page the browser could not load, or an error page, is no page to check.
    let loaded = s
        .eval(
            "const n = performance.getEntriesByType('navigation')[0];\
             return [location.href, (n && n.responseStatus) || 0];",
            vec![],
        )
        .await?;
    let (href, status) = (
        loaded[0].as_str().unwrap_or_default(),
        loaded[1].as_u64().unwrap_or_default(),
    );
    if href.starts_with("chrome-error:") {
        anyhow::bail!("the browser could not load the page (connection refused, no such host, …)");
    }
    if status >= 400 {
        anyhow::bail!("the page answered HTTP {status}");
    }
    let action = visit.state.action();
    if !visit.timed_out && !bounds.banner.is_zero() {
        // A positive sign that the loader got as far as showing the banner.
        let button = action.unwrap_or("reject_all");
        visit.banner_shown = wait_for(s, BUTTON, vec![json!(button)], bounds.banner)
            .await?
            .is_some();
    }
    settle(s, &mut got.net, false, bounds.settle).await?;
    let dom = read_dom(&s.eval_async(DOM, vec![]).await?);
    got.before_cookies = cookies(s).await?;
    got.before_storage = dom.storage.iter().cloned().collect();
    got.writes.extend(dom.writes.iter().cloned());
    visit.elements = dom.elements;
    visit.links = dom.links;
    visit.loader = dom.loader;
    // Whatever started while the page was read is still before any decision.
    got.net.take(s.network_events().await?, false);

    let (Some(action), true) = (action, visit.banner_shown) else {
        return Ok(());
    };
    let found = s.eval(BUTTON, vec![json!(action)]).await?;
    let Some(id) = found
        .get("element-6066-11e4-a52e-4f735466cecf")
        .and_then(Value::as_str)
    else {
        anyhow::bail!("the banner's {action} button went away before it could be clicked");
    };
    let element =
        fantoccini::elements::Element::from_element_id(s.client().clone(), id.to_string().into());
    element
        .click()
        .await
        .with_context(|| format!("clicking the banner's {action} button"))?;
    got.clicked = true;
    visit.decided = wait_for(s, DECIDED, vec![], bounds.banner).await?.is_some();
    settle(s, &mut got.net, true, bounds.settle).await?;
    got.writes
        .extend(read_dom(&s.eval_async(DOM, vec![]).await?).writes);
    // The next page view: what runs for a returning visitor.
    if let Err(e) = s.client().refresh().await {
        if !is_timeout(&e) {
            return Err(e.into());
        }
        visit.timed_out = true;
        let _ = s.eval("window.stop(); return true;", vec![]).await;
    }
    settle(s, &mut got.net, true, bounds.settle).await?;
    let dom = read_dom(&s.eval_async(DOM, vec![]).await?);
    got.writes.extend(dom.writes);
    got.after_storage = dom.storage.into_iter().collect();
    got.after_cookies = Some(cookies(s).await?);
    got.net.take(s.network_events().await?, true);
    Ok(())
}

/// Puts what a visit collected into it: each cookie and key once, with whether
/// it was there before the decision and whether it was there after it.
fn finish(visit: &mut Visit, got: Collected) {
    let key = |c: &SeenCookie| (c.name.clone(), c.domain.clone(), c.path.clone());
    let before: BTreeSet<_> = got.before_cookies.iter().map(key).collect();
    let mut all: BTreeMap<(String, String, String), SeenCookie> = BTreeMap::new();
    for mut c in got.before_cookies {
        c.before_decision = true;
        all.insert(key(&c), c);
    }
    for mut c in got.after_cookies.into_iter().flatten() {
        c.before_decision = before.contains(&key(&c));
        c.after_decision = true;
        all.insert(key(&c), c);
    }
    let by_script = |kind: &str, name: &str| {
        got.writes
            .iter()
            .find(|(k, n, by)| k == kind && n == name && by.is_some())
            .and_then(|(_, _, by)| by.clone())
            .map(|url| SetBy { via: "script", url })
    };
    visit.cookies = all
        .into_values()
        .map(|mut c| {
            c.set_by = got
                .net
                .set_cookie
                .get(&c.name)
                .map(|url| SetBy {
                    via: "response",
                    url: url.clone(),
                })
                .or_else(|| by_script("cookie", &c.name));
            c
        })
        .collect();
    let keys: BTreeSet<(String, String)> = got
        .before_storage
        .union(&got.after_storage)
        .cloned()
        .collect();
    visit.storage = keys
        .into_iter()
        .map(|(storage, name)| {
            let k = (storage.clone(), name.clone());
            SeenStorage {
                before_decision: got.before_storage.contains(&k),
                after_decision: got.after_storage.contains(&k),
                set_by: by_script(&storage, &name),
                storage,
                name,
            }
        })
        .collect();
    visit.requests = got.net.requests;
}

fn is_timeout(e: &fantoccini::error::CmdError) -> bool {
    let text = e.to_string().to_ascii_lowercase();
    text.contains("timeout") || text.contains("timed out")
}

/// Polls `script` until it returns something truthy, up to `limit`.
async fn wait_for(
    s: &Session,
    script: &str,
    args: Vec<Value>,
    limit: Duration,
) -> Result<Option<Value>> {
    let deadline = Instant::now() + limit;
    loop {
        let v = s.eval(script, args.clone()).await?;
        if !(v.is_null() || v == json!(false)) {
            return Ok(Some(v));
        }
        if Instant::now() > deadline {
            return Ok(None);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Reads the network log until no request has started for a while (or `limit`).
async fn settle(s: &Session, net: &mut Network, after: bool, limit: Duration) -> Result<()> {
    // Tags often fire on a timer after the load: quiet for a second, and never
    // less than a second and a half in all.
    const QUIET: Duration = Duration::from_millis(1000);
    const LEAST: Duration = Duration::from_millis(1500);
    let started = Instant::now();
    let deadline = started + limit;
    let mut quiet_since = Instant::now();
    loop {
        net.take(s.network_events().await?, after);
        if net.requests.len() != net.seen {
            net.seen = net.requests.len();
            quiet_since = Instant::now();
        }
        if (quiet_since.elapsed() >= QUIET && started.elapsed() >= LEAST)
            || Instant::now() > deadline
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

/// Every cookie the browser holds, for every domain.
async fn cookies(s: &Session) -> Result<Vec<SeenCookie>> {
    let v = s.cdp("Network.getAllCookies", json!({})).await?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default();
    Ok(v["cookies"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            let session = c["session"].as_bool().unwrap_or(false);
            let expires = c["expires"].as_f64().unwrap_or(-1.0);
            SeenCookie {
                name: c["name"].as_str().unwrap_or_default().to_string(),
                domain: c["domain"].as_str().unwrap_or_default().to_string(),
                path: c["path"].as_str().unwrap_or("/").to_string(),
                lifetime_secs: (!session && expires > 0.0)
                    .then(|| (expires - now).max(0.0).round() as u64),
                http_only: c["httpOnly"].as_bool().unwrap_or(false),
                secure: c["secure"].as_bool().unwrap_or(false),
                same_site: c["sameSite"].as_str().map(str::to_string),
                set_by: None,
                before_decision: false,
                after_decision: false,
            }
        })
        .collect())
}
