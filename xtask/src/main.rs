//! Build orchestration for Keksdose: `cargo xtask run | test | widget | screenshots | bench | fuzz | soak`.
//!
//! This crate owns the steps around cargo: installing the tools the build needs
//! (wasm32 target, the wasm-bindgen CLI, npm dev tools, Debian's Chromium), building
//! the widget into content-hashed files under `static/widget/`, and running the test
//! suites in order. It uses plain `std::process::Command`; every install step checks
//! first and does nothing when the tool is already there, so a second run is fast.
//! It does not build or test anything itself that cargo could: it calls cargo.
#![forbid(unsafe_code)]

mod fuzz;
mod setup;
mod soak;
mod widget;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  run [-- ARGS]   build the widget, then `keksdose serve --demo [ARGS]` on 127.0.0.1:8080
  test            install what is missing, build, and run every test suite in order
  widget          only build the widget into static/widget/
  screenshots     retake the README's banner screenshots (docs/screenshots/)
  bench [ARGS]    the benchmarks (release build): the ledger under load and the banner in
                  Chromium; writes bench/results.json and bench/results.md. ARGS go to
                  keksdose-bench: --only ledger|banner|postgres, --records N (1M), --rounds N (3),
                  --round-secs N (5), --loads N (15), --out DIR, --store postgres://… (the
                  ledger on PostgreSQL too, one and two instances, in a schema of its own)
  fuzz [SECONDS]  run each fuzz target of fuzz/ for SECONDS (default 60); fails on a crash
  soak            the long reliability runs: kills, power cuts, hostile input, load, fuzzing";

fn main() {
    if let Err(err) = real_main() {
        eprintln!("xtask: error: {err:#}");
        std::process::exit(1);
    }
}

fn real_main() -> Result<()> {
    let mut args = std::env::args_os().skip(1);
    let command = args.next().map(|c| c.to_string_lossy().into_owned());
    let rest: Vec<OsString> = args.collect();
    let ws = Workspace::locate()?;
    match command.as_deref() {
        Some("run") => run(&ws, rest),
        Some("test") => {
            if !rest.is_empty() {
                bail!("`cargo xtask test` takes no arguments\n{USAGE}");
            }
            test(&ws)
        }
        Some("widget") => {
            setup::build_tools(&ws)?;
            widget::build(&ws)
        }
        Some("screenshots") => screenshots(&ws),
        Some("bench") => bench(&ws, rest),
        Some("soak") => soak::run(&ws),
        Some("fuzz") => {
            let seconds = match rest.as_slice() {
                [] => 60,
                [s] => s.to_str().and_then(|s| s.parse().ok()).with_context(|| {
                    format!("SECONDS must be a whole number, not {s:?}\n{USAGE}")
                })?,
                _ => bail!("`cargo xtask fuzz` takes at most one argument\n{USAGE}"),
            };
            fuzz::run(&ws, seconds).map(drop)
        }
        Some("help" | "-h" | "--help") => {
            println!("{USAGE}");
            Ok(())
        }
        Some(other) => bail!("unknown command `{other}`\n{USAGE}"),
        None => bail!("no command given\n{USAGE}"),
    }
}

/// `cargo xtask run`: widget, then the demo server in the foreground.
fn run(ws: &Workspace, extra: Vec<OsString>) -> Result<()> {
    setup::build_tools(ws)?;
    widget::build(ws)?;
    // Everything after an optional `--` goes to `keksdose serve --demo`.
    let extra = match extra.first() {
        Some(first) if first == "--" => extra[1..].to_vec(),
        _ => extra,
    };
    step("starting the demo server (Ctrl-C stops it)");
    let mut cmd = ws.cargo();
    cmd.args([
        "run",
        "-p",
        "keksdose-server",
        "--bin",
        "keksdose",
        "--",
        "serve",
        "--demo",
    ])
    .args(extra);
    ws.run(&mut cmd, "the demo server")
}

/// `cargo xtask screenshots`: the ignored browser tests that photograph the
/// banner on the demo pages and the console into `docs/screenshots/`.
fn screenshots(ws: &Workspace) -> Result<()> {
    setup::build_tools(ws)?;
    setup::browser()?;
    widget::build(ws)?;
    ws.run(
        ws.cargo()
            .args(["build", "-p", "keksdose-server", "--bin", "keksdose"]),
        "building the keksdose binary",
    )?;
    step("taking the screenshots");
    ws.run(
        ws.cargo()
            .args([
                "test",
                "-p",
                "keksdose-tests",
                "--test",
                "it",
                "--",
                "--ignored",
                "--exact",
                "banner::readme_screenshots",
                "console::console_screenshots",
            ])
            .envs([
                ("CHROMEDRIVER", setup::CHROMEDRIVER),
                ("CHROMIUM", setup::CHROMIUM),
            ]),
        "the screenshot test",
    )
}

/// `cargo xtask bench`: the release server and the widget, then `keksdose-bench`
/// (also a release build: the load generator must cost little) with the server
/// binary it starts pointed at the release build.
fn bench(ws: &Workspace, args: Vec<OsString>) -> Result<()> {
    setup::build_tools(ws)?;
    setup::browser()?;
    widget::build(ws)?;
    step("building the server and the benchmarks (release)");
    ws.run(
        ws.cargo().args([
            "build",
            "--release",
            "-p",
            "keksdose-server",
            "--bin",
            "keksdose",
            "-p",
            "keksdose-bench",
            "--bin",
            "keksdose-bench",
        ]),
        "building the release binaries",
    )?;
    step("running the benchmarks");
    let target_dir = ws.target_dir();
    // Everything after an optional `--` goes to keksdose-bench.
    let args = match args.first() {
        Some(first) if first == "--" => args[1..].to_vec(),
        _ => args,
    };
    // The server's data directory must be on a real disk (on tmpfs, `fdatasync`
    // costs nothing): under target/, not /tmp, which is tmpfs on many systems.
    let tmp = target_dir.join("bench-tmp");
    std::fs::create_dir_all(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    ws.run(
        Command::new(target_dir.join("release/keksdose-bench"))
            .args(args)
            .current_dir(&ws.root)
            .env("TMPDIR", &tmp)
            .env("KEKSDOSE_BIN", target_dir.join("release/keksdose"))
            .envs([
                ("CHROMEDRIVER", setup::CHROMEDRIVER),
                ("CHROMIUM", setup::CHROMIUM),
            ]),
        "keksdose-bench",
    )
}

/// `cargo xtask test`: every suite, in order, stopping at the first failure.
fn test(ws: &Workspace) -> Result<()> {
    setup::build_tools(ws)?;
    setup::browser()?;
    widget::build(ws)?;

    let browser_env = [
        ("CHROMEDRIVER", setup::CHROMEDRIVER),
        ("CHROMIUM", setup::CHROMIUM),
    ];

    step("building the server binary the tests start");
    ws.run(
        ws.cargo()
            .args(["build", "-p", "keksdose-server", "--bin", "keksdose"]),
        "building the keksdose binary",
    )?;

    let postgres = std::env::var("KEKSDOSE_TEST_POSTGRES")
        .ok()
        .filter(|u| !u.is_empty());
    step("native tests (unit, integration, browser end-to-end)");
    ws.run(
        ws.cargo().args(["test", "--workspace"]).envs(browser_env),
        "native tests (`cargo test --workspace`)",
    )?;

    match &postgres {
        Some(_) => {
            // The store's conformance suite, the three-server test and the
            // migration ran on PostgreSQL above (they read the same variable);
            // now the HTTP, negative and isolation suites and the crash harness
            // again, each server on a schema of its own.
            step(
                "HTTP, negative and isolation suites, retention and the declaration, the banner \
                 in Chromium and the crash harness on PostgreSQL (KEKSDOSE_TEST_POSTGRES)",
            );
            ws.run(
                ws.cargo()
                    .args([
                        "test",
                        "-p",
                        "keksdose-tests",
                        "--test",
                        "it",
                        "--",
                        "api::",
                        "admin::",
                        "negative::",
                        // Retention on the store's own clock and lease, the
                        // double opt-in's proof, the declaration and re-consent.
                        "retention::",
                        "declaration::",
                        // The console: accounts, sessions and the audit trail
                        // as documents and a hash chain in PostgreSQL.
                        "console::",
                        // The banner and loader in Chromium: real clicks
                        // recorded in, and proofs read from, PostgreSQL.
                        "banner::",
                        // The crash harness (SIGKILL under concurrent writers).
                        "durability::every_acknowledged_record_survives_repeated_sigkill",
                    ])
                    .env("KEKSDOSE_TEST_STORE", "postgres")
                    .envs(browser_env),
                "the suites on PostgreSQL",
            )?;
        }
        None => step(
            "SKIPPED: PostgreSQL (its conformance suite and the HTTP, negative and isolation \
             suites on it): set KEKSDOSE_TEST_POSTGRES to a database URL, as .ci/run does",
        ),
    }
    // The tests of rate limits shared through Redis ran within `cargo test
    // --workspace` above (tests/it/redis.rs, ratelimit::shared); without Redis
    // they say so there and pass, and here too.
    if std::env::var("KEKSDOSE_TEST_REDIS").map_or(true, |u| u.is_empty()) {
        step(
            "SKIPPED: rate limits shared through Redis (three servers, one limit; Redis hanging \
             and back): set KEKSDOSE_TEST_REDIS to a Redis URL, as .ci/run does",
        );
    }

    step("checking that keksdose-shared builds for wasm32");
    ws.run(
        ws.cargo()
            .args(["check", "-p", "keksdose-shared", "--target", widget::TARGET]),
        "`cargo check -p keksdose-shared --target wasm32-unknown-unknown`",
    )?;

    step("widget tests in headless Chromium (wasm-bindgen-test-runner)");
    // `--tests` leaves out doctests: they cannot run under the wasm test runner.
    // The runner is set in .cargo/config.toml; its Chrome flags in widget/webdriver.json.
    ws.run(
        ws.cargo()
            .args([
                "test",
                "-p",
                "keksdose-widget",
                "--target",
                widget::TARGET,
                "--tests",
                // The markup test renders the first layer as the server does.
                "--features",
                "ssr",
            ])
            .envs(browser_env),
        "widget wasm tests",
    )?;

    let js_tests = js_test_files(&ws.root.join("tests/js"))?;
    if js_tests.is_empty() {
        step("no JavaScript tests (tests/js/*.test.mjs) yet; skipped");
    } else {
        step("JavaScript tests (node --test)");
        ws.run(
            Command::new("node")
                .arg("--test")
                .args(&js_tests)
                .current_dir(&ws.root),
            "JavaScript tests (`node --test tests/js/`)",
        )?;
    }
    step("all test suites passed");
    Ok(())
}

/// `tests/js/**/*.test.mjs`, sorted. Listed explicitly because `node --test DIR`
/// means different things in different Node versions.
fn js_test_files(dir: &Path) -> Result<Vec<PathBuf>> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
        for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
            let path = entry?.path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n != "node_modules") {
                    walk(&path, out)?;
                }
            } else if path.to_string_lossy().ends_with(".test.mjs") {
                out.push(path);
            }
        }
        Ok(())
    }
    let mut files = Vec::new();
    if dir.is_dir() {
        walk(dir, &mut files)?;
    }
    files.sort();
    Ok(files)
}

/// The workspace root and how to call cargo in it.
#[derive(Debug)]
pub struct Workspace {
    pub root: PathBuf,
}

impl Workspace {
    fn locate() -> Result<Self> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .context("xtask's manifest dir has no parent")?
            .to_path_buf();
        Ok(Self { root })
    }

    /// `cargo` (the one that runs us, so the toolchain matches), in the workspace
    /// root, with `~/.cargo/bin` on PATH so freshly installed tools are found.
    pub fn cargo(&self) -> Command {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.current_dir(&self.root);
        if let Some(path) = setup::path_with_cargo_bin() {
            cmd.env("PATH", path);
        }
        cmd
    }

    /// cargo's target directory: `$CARGO_TARGET_DIR` (relative to the root), or `target/`.
    pub fn target_dir(&self) -> PathBuf {
        let dir = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| self.root.join("target"));
        if dir.is_absolute() {
            dir
        } else {
            self.root.join(dir)
        }
    }

    /// Runs `cmd` to completion, failing with `what` in the message.
    pub fn run(&self, cmd: &mut Command, what: &str) -> Result<()> {
        let status = cmd
            .status()
            .with_context(|| format!("{what}: could not start {:?}", cmd.get_program()))?;
        if !status.success() {
            bail!("{what} failed ({status})");
        }
        Ok(())
    }
}

/// A visible progress line.
pub fn step(msg: &str) {
    eprintln!("\n==> {msg}");
}
