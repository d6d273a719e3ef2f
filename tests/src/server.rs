//! [`TestServer`]: the real `keksdose` binary, started for one test.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use tempfile::TempDir;

use crate::{log_tail, workspace_root};

/// How long `start` waits for `GET /healthz` to answer 200.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// `keksdose serve --demo` on a port of 127.0.0.1 that the server itself picks
/// (`--listen 127.0.0.1:0`) and logs in its startup line with its pid: the test
/// talks to the process it started, never to another test's server that took a
/// port it had let go. Its store is in a fresh
/// temporary directory and the workspace root as working directory (so it finds
/// `static/`). The binary is `target/debug/keksdose`, or `$KEKSDOSE_BIN` if set.
/// Rate limits are off (every test client is 127.0.0.1, one bucket); a test of
/// them turns them on with flags or `KEKSDOSE_RATE_*` in `start_with`.
/// With `KEKSDOSE_TEST_STORE=postgres` the ledger is on PostgreSQL instead
/// (`KEKSDOSE_TEST_POSTGRES` names the database), in a schema of its own.
/// The process is killed, and the directory (and the schema) removed, when this
/// value is dropped.
#[derive(Debug)]
pub struct TestServer {
    child: Child,
    base_url: String,
    dir: TempDir,
    /// Shared by the servers of one cluster; dropped with the last of them.
    schema: Option<std::sync::Arc<Schema>>,
}

/// A PostgreSQL schema made for one test, dropped with it.
#[derive(Debug)]
pub struct Schema {
    admin_url: String,
    name: String,
    /// The store URL that uses it.
    store: String,
}

/// Whether the tests run their servers on PostgreSQL (`KEKSDOSE_TEST_STORE=postgres`).
pub fn on_postgres() -> bool {
    std::env::var("KEKSDOSE_TEST_STORE").as_deref() == Ok("postgres")
}

impl Schema {
    /// A new schema in the database `KEKSDOSE_TEST_POSTGRES` names.
    pub async fn create() -> Result<Schema> {
        let admin_url = std::env::var("KEKSDOSE_TEST_POSTGRES").context(
            "KEKSDOSE_TEST_STORE=postgres needs KEKSDOSE_TEST_POSTGRES, a PostgreSQL URL",
        )?;
        let (client, connection) = tokio_postgres::connect(&admin_url, tokio_postgres::NoTls)
            .await
            .with_context(|| format!("connecting to {admin_url}"))?;
        let driver = tokio::spawn(connection);
        let mut bytes = [0u8; 8];
        getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("randomness: {e}"))?;
        let name = format!(
            "kd_it_{}",
            bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
        );
        client
            .batch_execute(&format!("CREATE SCHEMA {name}"))
            .await?;
        drop(client);
        let _ = driver.await;
        let sep = if admin_url.contains('?') { '&' } else { '?' };
        // The application name lets a test end exactly these connections.
        let store =
            format!("{admin_url}{sep}options=-csearch_path%3D{name}&application_name={name}");
        Ok(Schema {
            admin_url,
            name,
            store,
        })
    }
}

impl Schema {
    /// The store URL on this schema (`store`, `--to`).
    pub fn url(&self) -> &str {
        &self.store
    }

    /// A connection of the test's own to this schema.
    pub async fn client(&self) -> Result<tokio_postgres::Client> {
        let (client, connection) =
            tokio_postgres::connect(&self.admin_url, tokio_postgres::NoTls).await?;
        tokio::spawn(connection);
        client
            .batch_execute(&format!("SET search_path TO {}", self.name))
            .await?;
        Ok(client)
    }

    /// Ends every database connection of the servers on this schema, as a
    /// database restart or a network cut would; returns how many.
    async fn terminate(&self) -> Result<u64> {
        let (client, connection) =
            tokio_postgres::connect(&self.admin_url, tokio_postgres::NoTls).await?;
        tokio::spawn(connection);
        let row = client
            .query_one(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
                 WHERE application_name = $1",
                &[&self.name],
            )
            .await?;
        Ok(u64::try_from(row.get::<_, i64>(0)).unwrap_or(0))
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        // Drop is not async: a thread of its own with a runtime of its own.
        let (url, name) = (self.admin_url.clone(), self.name.clone());
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                    .await
                    .ok()?;
                tokio::spawn(connection);
                client
                    .batch_execute(&format!("DROP SCHEMA {name} CASCADE"))
                    .await
                    .ok()
            })
        });
        let _ = dropped.join();
    }
}

impl TestServer {
    /// Starts the server and waits until it is healthy.
    pub async fn start() -> Result<Self> {
        Self::start_with(|_| {}).await
    }

    /// Like [`start`](Self::start), letting the caller add arguments or environment
    /// variables to the command before it is spawned.
    pub async fn start_with(configure: impl FnOnce(&mut Command)) -> Result<Self> {
        Self::start_prepared(|_| Ok(()), configure).await
    }

    /// Like [`start_with`](Self::start_with), calling `prepare` with the (empty) data
    /// directory before the server starts: to mount a small filesystem there, say.
    pub async fn start_prepared(
        prepare: impl FnOnce(&Path) -> Result<()>,
        configure: impl FnOnce(&mut Command),
    ) -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("keksdose-test-")
            .tempdir()?;
        std::fs::create_dir(dir.path().join("data"))?;
        prepare(&dir.path().join("data"))?;
        let schema = if on_postgres() {
            Some(std::sync::Arc::new(Schema::create().await?))
        } else {
            None
        };
        Self::start_on(dir, schema, configure).await
    }

    /// `n` servers on one PostgreSQL database (a schema of their own), each with
    /// its own data directory, started one after another (each renews the demo
    /// sites' keys: the last one's count). Needs `KEKSDOSE_TEST_POSTGRES`.
    pub async fn start_cluster(n: usize) -> Result<Vec<Self>> {
        Self::start_cluster_with(n, |_| {}).await
    }

    /// Like [`start_cluster`](Self::start_cluster), each command configured
    /// as in [`start_with`](Self::start_with).
    pub async fn start_cluster_with(
        n: usize,
        configure: impl Fn(&mut Command),
    ) -> Result<Vec<Self>> {
        let schema = std::sync::Arc::new(Schema::create().await?);
        let mut servers = Vec::with_capacity(n);
        for _ in 0..n {
            let dir = tempfile::Builder::new()
                .prefix("keksdose-test-")
                .tempdir()?;
            std::fs::create_dir(dir.path().join("data"))?;
            servers.push(Self::start_on(dir, Some(schema.clone()), &configure).await?);
        }
        Ok(servers)
    }

    /// A server on `schema` (one a test made and filled, say), with a data
    /// directory of its own.
    pub async fn start_on_schema(
        schema: std::sync::Arc<Schema>,
        configure: impl FnOnce(&mut Command),
    ) -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("keksdose-test-")
            .tempdir()?;
        std::fs::create_dir(dir.path().join("data"))?;
        Self::start_on(dir, Some(schema), configure).await
    }

    /// The schema this server's store is on, if on PostgreSQL.
    pub fn schema(&self) -> Option<&std::sync::Arc<Schema>> {
        self.schema.as_ref()
    }

    /// Ends the database connections of every server on this server's schema
    /// (`pg_terminate_backend`); returns how many. Only on PostgreSQL.
    pub async fn terminate_database_connections(&self) -> Result<u64> {
        match &self.schema {
            Some(schema) => schema.terminate().await,
            None => bail!("this server is not on PostgreSQL"),
        }
    }

    async fn start_on(
        dir: TempDir,
        schema: Option<std::sync::Arc<Schema>>,
        configure: impl FnOnce(&mut Command),
    ) -> Result<Self> {
        let store = schema.as_ref().map(|s| s.store.clone());
        let child = spawn(dir.path(), store.as_deref(), configure)?;
        let mut server = Self {
            child,
            base_url: String::new(),
            dir,
            schema,
        };
        server.wait_healthy().await?;
        Ok(server)
    }

    /// Kills the process with SIGKILL, as a crash would: no shutdown, no flush.
    pub fn kill(&mut self) -> Result<()> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }

    /// Starts the server again on the same data directory (after [`kill`](Self::kill)
    /// or a crash), on a new port, and waits until it is healthy.
    pub async fn restart(&mut self) -> Result<()> {
        self.restart_with(|_| {}).await
    }

    /// Like [`restart`](Self::restart), with the command configured as in
    /// [`start_with`](Self::start_with) (a restart does not repeat the first start's).
    pub async fn restart_with(&mut self, configure: impl FnOnce(&mut Command)) -> Result<()> {
        if self.child.try_wait()?.is_none() {
            self.kill()?;
        }
        let store = self.schema.as_ref().map(|s| s.store.clone());
        self.child = spawn(self.dir.path(), store.as_deref(), configure)?;
        self.base_url.clear();
        self.wait_healthy().await
    }

    /// Waits for this process's startup line (its pid and the address it
    /// bound), then for `GET /healthz` there to answer 200.
    async fn wait_healthy(&mut self) -> Result<()> {
        let log = self.dir.path().join("server.log");
        let log = log.as_path();
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        let pid = format!(" pid={} ", self.child.id());
        while self.base_url.is_empty() {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "keksdose exited ({status}) before it listened; its output:\n{}",
                    log_tail(log, 8000)
                );
            }
            let text = std::fs::read_to_string(log).unwrap_or_default();
            let listen = text
                .lines()
                .filter(|l| l.contains("msg=starting") && l.contains(&pid))
                .find_map(|l| l.split(' ').find_map(|f| f.strip_prefix("listen=")));
            if let Some(addr) = listen {
                self.base_url = format!("http://{addr}");
                break;
            }
            if Instant::now() > deadline {
                bail!(
                    "keksdose did not log its address within {STARTUP_TIMEOUT:?}; its output:\n{}",
                    log_tail(log, 8000)
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()?;
        let url = self.url("/healthz");
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

    /// The server process's id (to read its memory and open files in `/proc`).
    pub fn pid(&self) -> u32 {
        self.child.id()
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

/// The `keksdose` binary the tests run: `$KEKSDOSE_BIN`, or the workspace's
/// debug build.
pub fn binary() -> PathBuf {
    std::env::var_os("KEKSDOSE_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target/debug/keksdose"))
}

/// Spawns `keksdose serve --demo` with its data in `dir/data` on a port it picks,
/// appending its output to `dir/server.log`.
fn spawn(dir: &Path, store: Option<&str>, configure: impl FnOnce(&mut Command)) -> Result<Child> {
    let bin = binary();
    if !bin.is_file() {
        bail!(
            "{} does not exist: build it with `cargo build -p keksdose-server --bin keksdose` \
             (`cargo xtask test` does), or point KEKSDOSE_BIN at it",
            bin.display()
        );
    }
    let log_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("server.log"))?;
    let mut cmd = Command::new(&bin);
    cmd.args(["serve", "--demo", "--listen", "127.0.0.1:0", "--data"])
        .arg(dir.join("data"))
        .current_dir(workspace_root())
        .stdin(Stdio::null())
        .stdout(log_file.try_clone()?)
        .stderr(log_file)
        .env("KEKSDOSE_RATE_CONSENTS", "off")
        .env("KEKSDOSE_RATE_HISTORY", "off")
        .env("KEKSDOSE_RATE_CONFIG", "off");
    if let Some(url) = store {
        cmd.env("KEKSDOSE_STORE", url);
    }
    configure(&mut cmd);
    cmd.spawn()
        .with_context(|| format!("starting {}", bin.display()))
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Then `schema`, if any, is dropped: the server no longer holds it.
    }
}
