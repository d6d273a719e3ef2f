//! Chromium through chromedriver: one driver per scan, one session (a fresh profile,
//! so no cookie, storage or cache carries over) per visit.
//!
//! What WebDriver itself does not give is read from chromedriver's own endpoints:
//! the DevTools protocol (`goog/cdp/execute`: every cookie with its attributes, a
//! script run before the page's own) and the performance log (every network event:
//! requests with their initiator, responses with their `Set-Cookie` headers).

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder};
use serde_json::{Value, json};
use tempfile::TempDir;

/// Chromium's flags. Site isolation is turned off so that a third-party iframe's
/// requests reach the page's own log (an out-of-process frame's would not).
const CHROME_ARGS: &[&str] = &[
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-site-isolation-trials",
    "--disable-features=IsolateOrigins,site-per-process",
    "--window-size=1280,900",
];

/// Run in every frame before the page's own scripts: notes who writes a cookie
/// (`document.cookie`), a storage key or an IndexedDB database, by the first frame
/// of the writer's stack that has an address.
const HOOK: &str = r#"(() => {
  if (window.__keksdoseScan) return;
  const log = [];
  Object.defineProperty(window, '__keksdoseScan', { value: log });
  // The stack: "Error", then by, note and the wrapper (the hook's own frames),
  // then the writer: a script with an address, or an inline script inserted by
  // one (the loader running a blocked inline script), or the page's own.
  const by = () => {
    const lines = String(new Error().stack || '').split('\n').slice(4);
    const at = (l) => { const m = /(https?:\/\/[^\s()]+?):(\d+):\d+/.exec(l); return m && m[1] + ':' + m[2]; };
    if (!lines.length) return null;
    const first = at(lines[0]);
    if (first) return first;
    for (const l of lines.slice(1)) {
      const u = at(l);
      if (u) return 'an inline script run by ' + u;
    }
    return 'an inline script';
  };
  const note = (kind, name) => { try { log.push({ kind, name: String(name), by: by() }); } catch (e) {} };
  const d = Object.getOwnPropertyDescriptor(Document.prototype, 'cookie');
  if (d && d.set) {
    Object.defineProperty(Document.prototype, 'cookie', {
      configurable: true, enumerable: d.enumerable,
      get() { return d.get.call(this); },
      set(v) { note('cookie', String(v).split(';')[0].split('=')[0].trim()); d.set.call(this, v); },
    });
  }
  const set = Storage.prototype.setItem;
  Storage.prototype.setItem = function (k, v) {
    let kind = 'session_storage';
    try { if (this === window.localStorage) kind = 'local_storage'; } catch (e) {}
    note(kind, k);
    return set.call(this, k, v);
  };
  if (window.IDBFactory) {
    const open = IDBFactory.prototype.open;
    IDBFactory.prototype.open = function (name, version) {
      note('indexed_db', name);
      return version === undefined ? open.call(this, name) : open.call(this, name, version);
    };
  }
})();"#;

/// A chromedriver process; [`Driver::session`] opens a browser on it.
#[derive(Debug)]
pub struct Driver {
    child: Child,
    port: u16,
    dir: TempDir,
    chromium: String,
    args: Vec<String>,
}

impl Driver {
    /// Starts `chromedriver` on a port it picks itself (read back from its log).
    pub async fn start(chromedriver: &str, chromium: &str, extra_args: &[String]) -> Result<Self> {
        let chromedriver = &in_path(chromedriver);
        let chromium = &in_path(chromium);
        let dir = tempfile::Builder::new()
            .prefix("keksdose-scan-")
            .tempdir()?;
        let log = dir.path().join("chromedriver.log");
        let child = Command::new(chromedriver)
            .arg("--port=0")
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .with_context(|| {
                format!("starting {chromedriver} (install chromedriver, e.g. Debian's chromium-driver, or pass --chromedriver)")
            })?;
        let mut driver = Self {
            child,
            port: 0,
            dir,
            chromium: chromium.to_string(),
            args: CHROME_ARGS
                .iter()
                .map(|a| a.to_string())
                .chain(extra_args.iter().cloned())
                .collect(),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let port = text.lines().find_map(|l| {
                l.split("started successfully on port ")
                    .nth(1)
                    .and_then(|p| p.trim().parse::<u16>().ok())
            });
            if let Some(port) = port {
                driver.port = port;
                return Ok(driver);
            }
            if let Ok(Some(status)) = driver.child.try_wait() {
                bail!("chromedriver exited ({status}); its log:\n{text}");
            }
            if Instant::now() > deadline {
                bail!("chromedriver did not start within 20 s; its log:\n{text}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A browser in a fresh profile, its page loads bounded by `page_load`, with
    /// the network log on and the writers' hook installed.
    pub async fn session(&self, page_load: Duration) -> Result<Session> {
        let profile = tempfile::Builder::new()
            .prefix("profile-")
            .tempdir_in(self.dir.path())?;
        let mut args = self.args.clone();
        args.push(format!("--user-data-dir={}", profile.path().display()));
        // Setting up waits for the new browser's first (blank) page: bounded
        // generously, not by the page-load bound, which a busy machine's renderer
        // can miss before any page is asked for ("Timed out receiving message
        // from renderer" on a fresh browser, seen in CI). The bound applies from
        // the visit's first page on.
        let setup = page_load.max(SETUP);
        let ms = u64::try_from(setup.as_millis()).unwrap_or(u64::MAX);
        let caps = json!({
            "goog:chromeOptions": {
                "binary": self.chromium,
                "args": args,
                "perfLoggingPrefs": { "enableNetwork": true, "enablePage": false },
            },
            "goog:loggingPrefs": { "performance": "ALL" },
            "pageLoadStrategy": "normal",
            "timeouts": { "pageLoad": ms, "script": ms },
        });
        let Value::Object(caps) = caps else {
            bail!("capabilities are not an object")
        };
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .with_context(|| format!("opening a Chromium session ({})", self.chromium))?;
        let session = Session {
            client,
            _profile: profile,
        };
        session
            .cdp(
                "Page.addScriptToEvaluateOnNewDocument",
                json!({ "source": HOOK }),
            )
            .await?;
        session
            .client
            .update_timeouts(fantoccini::wd::TimeoutConfiguration::new(
                Some(page_load),
                Some(page_load),
                None,
            ))
            .await
            .context("setting the page-load bound")?;
        Ok(session)
    }
}

/// How long a new browser may take to be ready for its first page.
const SETUP: Duration = Duration::from_secs(30);

/// A program's path: as given when it names a directory, else the first match on
/// `PATH` (chromedriver wants Chromium's full path).
fn in_path(program: &str) -> String {
    if program.contains('/') {
        return program.to_string();
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
        .map_or_else(|| program.to_string(), |p| p.display().to_string())
}

impl Drop for Driver {
    fn drop(&mut self) {
        // chromedriver and every Chromium it started are one process group.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One browser (one profile).
#[derive(Debug)]
pub struct Session {
    client: Client,
    _profile: TempDir,
}

/// A chromedriver command fantoccini lacks.
#[derive(Debug)]
struct Raw {
    path: &'static str,
    body: Value,
}

impl WebDriverCompatibleCommand for Raw {
    fn endpoint(&self, base: &url::Url, id: Option<&str>) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/{}", id.unwrap_or_default(), self.path))
    }
    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(self.body.to_string()))
    }
}

impl Session {
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// A DevTools protocol command.
    pub async fn cdp(&self, cmd: &str, params: Value) -> Result<Value> {
        self.client
            .issue_cmd(Raw {
                path: "goog/cdp/execute",
                body: json!({ "cmd": cmd, "params": params }),
            })
            .await
            .with_context(|| format!("DevTools {cmd}"))
    }

    /// The network events logged since the last call, as `{method, params}`.
    pub async fn network_events(&self) -> Result<Vec<Value>> {
        let entries = self
            .client
            .issue_cmd(Raw {
                path: "se/log",
                body: json!({ "type": "performance" }),
            })
            .await
            .context("reading the performance log")?;
        let mut events = Vec::new();
        for entry in entries.as_array().into_iter().flatten() {
            let Some(text) = entry.get("message").and_then(Value::as_str) else {
                continue;
            };
            let Ok(message) = serde_json::from_str::<Value>(text) else {
                continue;
            };
            if let Some(m) = message.get("message") {
                events.push(m.clone());
            }
        }
        Ok(events)
    }

    /// Runs `script` (a function body) in the page.
    pub async fn eval(&self, script: &str, args: Vec<Value>) -> Result<Value> {
        self.client
            .execute(script, args)
            .await
            .context("running a script in the page")
    }

    /// Runs `script`, which calls its last argument with the result.
    pub async fn eval_async(&self, script: &str, args: Vec<Value>) -> Result<Value> {
        self.client
            .execute_async(script, args)
            .await
            .context("running a script in the page")
    }

    /// Ends the session (closes Chromium).
    pub async fn close(self) {
        let _ = self.client.close().await;
    }
}
