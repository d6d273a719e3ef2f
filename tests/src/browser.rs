//! [`Browser`]: headless Debian Chromium, driven through chromedriver by fantoccini.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use fantoccini::{Client, ClientBuilder};
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::log_tail;

/// Chromium's flags. The background-networking ones matter on a machine without
/// internet: without them Chromium's own connections are refused, many at a time.
const CHROME_ARGS: &[&str] = &[
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,900",
];

/// A chromedriver process with one headless Chromium session, in a fresh profile.
///
/// chromedriver is `$CHROMEDRIVER` (default `/usr/bin/chromedriver`), Chromium is
/// `$CHROMIUM` (default `/usr/bin/chromium`). Call [`close`](Self::close) at the end of
/// a test to end the session cleanly; on `Drop` chromedriver and every Chromium process
/// it started (one process group) are killed.
#[derive(Debug)]
pub struct Browser {
    client: Client,
    driver: Child,
    dir: TempDir,
}

impl Browser {
    /// Starts chromedriver on a port it picks itself (`--port=0`, read back from
    /// its log, so no other test's driver can answer in its place) and opens a
    /// session.
    pub async fn start() -> Result<Self> {
        // Under a full suite on two cores, chromedriver or Chromium now and then
        // fails to come up in time: a fresh start is tried twice more.
        let mut tries = 0;
        loop {
            tries += 1;
            match Self::start_once().await {
                Ok(browser) => return Ok(browser),
                Err(e) if tries < 3 => {
                    eprintln!("browser did not start (try {tries} of 3), trying again: {e:#}");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn start_once() -> Result<Self> {
        let chromedriver =
            std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into());
        let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        let dir = tempfile::Builder::new()
            .prefix("keksdose-browser-")
            .tempdir()?;
        let log = dir.path().join("chromedriver.log");
        let driver = Command::new(&chromedriver)
            .arg("--port=0")
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group, so Drop can end Chromium together with it.
            .process_group(0)
            .spawn()
            .with_context(|| format!("starting {chromedriver} (install Debian's chromium-driver, or set CHROMEDRIVER)"))?;
        // From here on, `guard`'s Drop cleans up if anything fails.
        let mut guard = DriverGuard(Some(driver));

        let deadline = Instant::now() + Duration::from_secs(20);
        let port = loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let port = text.lines().find_map(|l| {
                l.split("started successfully on port ")
                    .nth(1)
                    .and_then(|p| p.trim().parse::<u16>().ok())
            });
            if let Some(port) = port {
                break port;
            }
            if Instant::now() > deadline {
                bail!(
                    "chromedriver did not start within 20 s; its log:\n{}",
                    log_tail(&log, 8000)
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };

        let profile = dir.path().join("profile");
        let mut args: Vec<String> = CHROME_ARGS.iter().map(|a| a.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.display()));
        let caps = json!({ "goog:chromeOptions": { "binary": chromium, "args": args } });
        let Value::Object(caps) = caps else {
            bail!("capabilities are not an object")
        };

        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .with_context(|| {
                format!(
                    "opening a Chromium session ({chromium}); chromedriver's log:\n{}",
                    log_tail(&log, 8000)
                )
            })?;
        let driver = guard.0.take().context("chromedriver guard emptied")?;
        Ok(Self {
            client,
            driver,
            dir,
        })
    }

    /// The fantoccini client, for navigation, element lookups, clicks and waits.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Runs `script` in the page and returns its result as JSON. `script` is a
    /// function body: `return document.title;`.
    pub async fn eval(&self, script: &str) -> Result<Value> {
        self.eval_with(script, Vec::new()).await
    }

    /// Like [`eval`](Self::eval), with `args` available as `arguments[0..]`.
    pub async fn eval_with(&self, script: &str, args: Vec<Value>) -> Result<Value> {
        self.client
            .execute(script, args)
            .await
            .with_context(|| format!("running script in the browser: {script}"))
    }

    /// Runs `script` asynchronously: it receives a callback as its last argument
    /// and must call it with the result, e.g.
    /// `const done = arguments[arguments.length - 1]; fetch(u).then(r => done(r.status));`.
    pub async fn eval_async(&self, script: &str, args: Vec<Value>) -> Result<Value> {
        self.client
            .execute_async(script, args)
            .await
            .with_context(|| format!("running async script in the browser: {script}"))
    }

    /// chromedriver's log so far (useful in a failing test's message).
    pub fn driver_log(&self) -> String {
        log_tail(&self.dir.path().join("chromedriver.log"), 20_000)
    }

    /// Ends the WebDriver session (closes Chromium), then stops chromedriver.
    pub async fn close(self) -> Result<()> {
        self.client
            .clone()
            .close()
            .await
            .context("closing the browser session")?;
        Ok(())
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        kill_group(&mut self.driver);
    }
}

/// Kills chromedriver on an error path inside `Browser::start`.
struct DriverGuard(Option<Child>);

impl Drop for DriverGuard {
    fn drop(&mut self) {
        if let Some(child) = self.0.as_mut() {
            kill_group(child);
        }
    }
}

/// SIGKILL to the child's process group (chromedriver and the Chromium it started),
/// then reap the child. `kill(1)` because this crate forbids `unsafe` (no libc).
fn kill_group(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", child.id())])
        .stderr(Stdio::null())
        .status();
    let _ = child.kill();
    let _ = child.wait();
}
