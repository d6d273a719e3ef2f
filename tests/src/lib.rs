//! Test fixtures for Keksdose's integration and end-to-end tests.
//!
//! What belongs here: the few helpers every test topic needs, namely a [`TestServer`]
//! (the real `keksdose` binary on a random port with a temporary store) and a
//! [`Browser`] (headless Debian Chromium driven through chromedriver). What does not:
//! assertions, fixtures or page objects of one topic; those live beside that topic's
//! tests under `tests/it/`.
//!
//! Both helpers own child processes and end them on `Drop`, so a failing test leaves
//! nothing running. They need the binary built first (`cargo xtask test` does that)
//! and Chromium installed (so does `cargo xtask test`).
#![forbid(unsafe_code)]

mod browser;
mod server;

use std::path::PathBuf;

pub use browser::Browser;
pub use server::{Schema, TestServer, binary, on_postgres};

/// The workspace root (the tests crate's parent directory).
pub fn workspace_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}

/// Copies the directory `from` into `to`, recursively (a test's own copy of
/// `static/`, say, with pages added).
pub fn copy_dir(from: &std::path::Path, to: &std::path::Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// A `data:text/html` URL for `html`, percent-encoded so that `#`, `%` and friends
/// survive. Handy for browser tests that need a page but no server.
pub fn data_url(html: &str) -> String {
    let mut url = String::from("data:text/html;charset=utf-8,");
    for byte in html.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~<>/=:;,'()!*".contains(&byte) {
            url.push(char::from(byte));
        } else {
            url.push_str(&format!("%{byte:02X}"));
        }
    }
    url
}

/// The last `max` bytes of a log file, for error messages.
fn log_tail(path: &std::path::Path, max: usize) -> String {
    let text = std::fs::read(path).unwrap_or_default();
    let start = text.len().saturating_sub(max);
    String::from_utf8_lossy(&text[start..]).into_owned()
}

/// A number from the environment (how long or how often a test runs), or
/// `default` when it is unset or not a number.
pub fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Whether the tests that need PostgreSQL may run (`KEKSDOSE_TEST_POSTGRES`
/// names a database, as `.ci/run` sets it); if not, says so on stderr.
pub fn postgres_available() -> bool {
    if std::env::var("KEKSDOSE_TEST_POSTGRES").is_err() {
        eprintln!("SKIPPED: KEKSDOSE_TEST_POSTGRES is not set (a PostgreSQL URL)");
        return false;
    }
    true
}

/// Runs `keksdose --data data <args>` (the binary the tests run) to its end.
/// A binary that cannot start fails the test that asked.
#[allow(clippy::expect_used)]
pub fn keksdose(data: &std::path::Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(binary())
        .arg("--data")
        .arg(data)
        .args(args)
        .current_dir(workspace_root())
        .output()
        .expect("the keksdose binary runs")
}

/// A command's standard output and error, as text.
pub fn output_text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}
