//! [`TestServer`]: the real `keksdose` binary, started for one test.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use tempfile::TempDir;

use crate::{free_port, log_tail, workspace_root};

/// How long `start` waits for `GET /healthz` to answer 200.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// `keksdose serve --demo` on a free port of 127.0.0.1, with its store in a fresh
/// temporary directory and the workspace root as working directory (so it finds
/// `static/`). The binary is `target/debug/keksdose`, or `$KEKSDOSE_BIN` if set.
/// The process is killed, and the directory removed, when this value is dropped.
#[derive(Debug)]
pub struct TestServer {
    child: Child,
    base_url: String,
    dir: TempDir,
}

impl TestServer {
    /// Starts the server and waits until it is healthy.
    pub async fn start() -> Result<Self> {
        Self::start_with(|_| {}).await
    }

    /// Like [`start`](Self::start), letting the caller add arguments or environment
    /// variables to the command before it is spawned.
    pub async fn start_with(configure: impl FnOnce(&mut Command)) -> Result<Self> {
        let bin = std::env::var_os("KEKSDOSE_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|| workspace_root().join("target/debug/keksdose"));
        if !bin.is_file() {
            bail!(
                "{} does not exist: build it with `cargo build -p keksdose-server --bin keksdose` \
                 (`cargo xtask test` does), or point KEKSDOSE_BIN at it",
                bin.display()
            );
        }
        let dir = tempfile::Builder::new()
            .prefix("keksdose-test-")
            .tempdir()?;
        let data = dir.path().join("data");
        std::fs::create_dir(&data)?;
        let log = dir.path().join("server.log");
        let log_file = std::fs::File::create(&log)?;
        let port = free_port()?;
        let listen = format!("127.0.0.1:{port}");

        let mut cmd = Command::new(&bin);
        cmd.args(["serve", "--demo", "--listen", &listen, "--data"])
            .arg(&data)
            .current_dir(workspace_root())
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file);
        configure(&mut cmd);
        let child = cmd
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let mut server = Self {
            child,
            base_url: format!("http://{listen}"),
            dir,
        };
        server.wait_healthy(&log).await?;
        Ok(server)
    }

    async fn wait_healthy(&mut self, log: &Path) -> Result<()> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()?;
        let url = self.url("/healthz");
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "keksdose exited ({status}) before answering {url}; its output:\n{}",
                    log_tail(log, 8000)
                );
            }
            let last = match http.get(&url).send().await {
                Ok(resp) if resp.status() == reqwest::StatusCode::OK => return Ok(()),
                Ok(resp) => format!("status {}", resp.status()),
                Err(err) => err.to_string(),
            };
            if Instant::now() > deadline {
                bail!(
                    "keksdose did not answer 200 on {url} within {STARTUP_TIMEOUT:?} (last: {last}); \
                     its output:\n{}",
                    log_tail(log, 8000)
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// `http://127.0.0.1:<port>`, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// `base_url()` joined with `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// The server's data directory (its store), inside a temporary directory.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Everything the server printed so far (stdout and stderr).
    pub fn log(&self) -> String {
        log_tail(&self.dir.path().join("server.log"), usize::MAX)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
