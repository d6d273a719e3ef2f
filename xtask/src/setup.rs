//! Installing the tools the build and the tests need, each only when it is missing.
//!
//! Every function here checks first and returns at once when the tool is present in
//! the right version, so a second `cargo xtask` run spends no time here. What it
//! installs: the wasm32 target (rustup), the wasm-bindgen CLI at the exact version
//! of the `wasm-bindgen` crate in Cargo.lock (cargo install), the npm dev tools of
//! the root package.json (wasm-opt from binaryen, the JCS reference implementation),
//! Debian's Chromium and ChromeDriver (apt-get, only for tests), and cargo-fuzz
//! (cargo install, only for `cargo xtask fuzz`).
//! Nothing is downloaded outside those package managers.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};

use crate::{Workspace, step};

pub const CHROMIUM: &str = "/usr/bin/chromium";
/// Debian's nginx (package nginx-light), for `tests/it/proxy.rs`.
pub const NGINX: &str = "/usr/sbin/nginx";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Everything `widget` needs: the wasm32 target, wasm-bindgen, the npm tools.
pub fn build_tools(ws: &Workspace) -> Result<()> {
    wasm_target(ws)?;
    wasm_bindgen(ws)?;
    npm_tools(ws)?;
    Ok(())
}

/// `rustup target add wasm32-unknown-unknown` unless it is installed already.
pub fn wasm_target(ws: &Workspace) -> Result<()> {
    let target = crate::widget::TARGET;
    let installed = output(
        Command::new("rustup")
            .args(["target", "list", "--installed"])
            .current_dir(&ws.root),
    )
    .context("`rustup target list --installed` failed; is rustup installed?")?;
    if installed.lines().any(|l| l.trim() == target) {
        return Ok(());
    }
    step(&format!("installing the Rust target {target}"));
    ws.run(
        Command::new("rustup")
            .args(["target", "add", target])
            .current_dir(&ws.root),
        "rustup target add",
    )
}

/// The wasm-bindgen CLI (and its test runner) at exactly the Cargo.lock version.
pub fn wasm_bindgen(ws: &Workspace) -> Result<()> {
    let want = locked_version(&ws.root.join("Cargo.lock"), "wasm-bindgen")?;
    let have = |tool: &str| tool_version(&cargo_bin_or_path(tool));
    let (cli, runner) = (have("wasm-bindgen"), have("wasm-bindgen-test-runner"));
    if cli.as_deref() == Some(want.as_str()) && runner.as_deref() == Some(want.as_str()) {
        return Ok(());
    }
    step(&format!(
        "installing wasm-bindgen-cli {want} (found: {}); this takes a few minutes once",
        cli.as_deref().unwrap_or("none")
    ));
    // Not `--locked`: the CLI's own lock file does not resolve on this registry.
    ws.run(
        ws.cargo()
            .args(["install", "wasm-bindgen-cli", "--version", &want]),
        "cargo install wasm-bindgen-cli",
    )?;
    let now = have("wasm-bindgen");
    if now.as_deref() != Some(want.as_str()) {
        bail!(
            "after installing, `wasm-bindgen --version` reports {:?}, not {want}; is another wasm-bindgen earlier on PATH?",
            now
        );
    }
    Ok(())
}

/// cargo-fuzz, for `cargo xtask fuzz`, unless `cargo fuzz` runs already.
pub fn cargo_fuzz(ws: &Workspace) -> Result<()> {
    if tool_version(&cargo_bin_or_path("cargo-fuzz")).is_some() {
        return Ok(());
    }
    step(&format!(
        "installing cargo-fuzz {CARGO_FUZZ}; this takes a few minutes once"
    ));
    ws.run(
        ws.cargo()
            .args(["install", "cargo-fuzz", "--version", CARGO_FUZZ]),
        "cargo install cargo-fuzz",
    )?;
    if tool_version(&cargo_bin_or_path("cargo-fuzz")).is_none() {
        bail!("after installing, `cargo-fuzz --version` does not run");
    }
    Ok(())
}

/// The cargo-fuzz `cargo xtask fuzz` installs (any installed version is used).
pub const CARGO_FUZZ: &str = "0.13.2";

/// `npm ci` when node_modules is missing or stale. Staleness is judged by a hash of
/// package.json and package-lock.json kept in node_modules, not by mtimes, which a
/// fresh clone sets arbitrarily.
pub fn npm_tools(ws: &Workspace) -> Result<()> {
    let modules = ws.root.join("node_modules");
    let stamp = modules.join(".xtask-stamp");
    let lock = ws.root.join("package-lock.json");
    let mut hasher = Sha256::new();
    for file in [ws.root.join("package.json"), lock.clone()] {
        if let Ok(bytes) = std::fs::read(&file) {
            hasher.update(&bytes);
        }
    }
    let want = hex(&hasher.finalize());
    if modules.is_dir() && std::fs::read_to_string(&stamp).is_ok_and(|s| s.trim() == want) {
        return Ok(());
    }
    let verb = if lock.is_file() { "ci" } else { "install" };
    step(&format!("installing npm dev tools (npm {verb})"));
    ws.run(
        Command::new("npm")
            .args([verb, "--no-audit", "--no-fund"])
            .current_dir(&ws.root)
            .stdin(Stdio::null()),
        &format!("npm {verb} (needs Node.js and npm)"),
    )?;
    std::fs::write(&stamp, want).with_context(|| format!("writing {}", stamp.display()))
}

/// Debian's Chromium and ChromeDriver, for the browser tests, and nginx, for
/// the test that runs the README's reverse-proxy example.
pub fn browser() -> Result<()> {
    if Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists() && Path::new(NGINX).exists()
    {
        return Ok(());
    }
    step("installing Chromium, ChromeDriver and nginx from Debian (apt-get)");
    let root = output(Command::new("id").arg("-u")).is_ok_and(|uid| uid.trim() == "0");
    let apt = |args: &[&str]| -> Command {
        let mut cmd = if root {
            Command::new("apt-get")
        } else {
            let mut sudo = Command::new("sudo");
            sudo.args(["-n", "apt-get"]);
            sudo
        };
        cmd.args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdin(Stdio::null());
        cmd
    };
    if !root && which("sudo").is_none() {
        bail!(
            "{CHROMIUM}, {CHROMEDRIVER} or {NGINX} is missing and we are not root and have no sudo: \
             install them with `apt-get install chromium chromium-driver nginx-light`"
        );
    }
    let run = |mut cmd: Command, what: &str| -> Result<()> {
        let status = cmd
            .status()
            .with_context(|| format!("could not start {what}"))?;
        if !status.success() {
            bail!("{what} failed ({status})");
        }
        Ok(())
    };
    run(apt(&["update"]), "apt-get update")?;
    run(
        apt(&[
            "install",
            "-y",
            "chromium",
            "chromium-driver",
            "nginx-light",
        ]),
        "apt-get install chromium chromium-driver nginx-light",
    )?;
    if !Path::new(CHROMIUM).exists() || !Path::new(CHROMEDRIVER).exists() {
        bail!("apt-get finished but {CHROMIUM} or {CHROMEDRIVER} is still missing");
    }
    if !Path::new(NGINX).exists() {
        bail!("apt-get finished but {NGINX} is still missing");
    }
    Ok(())
}

/// The version of `package` in a Cargo.lock; an error if there is none or several.
pub fn locked_version(lock: &Path, package: &str) -> Result<String> {
    let text =
        std::fs::read_to_string(lock).with_context(|| format!("reading {}", lock.display()))?;
    let mut found: Vec<String> = Vec::new();
    for block in text.split("[[package]]") {
        let field = |key: &str| {
            block.lines().find_map(|l| {
                let rest = l.trim().strip_prefix(key)?.trim_start().strip_prefix('=')?;
                Some(rest.trim().trim_matches('"').to_string())
            })
        };
        if field("name").as_deref() == Some(package)
            && let Some(v) = field("version")
            && !found.contains(&v)
        {
            found.push(v);
        }
    }
    match found.as_slice() {
        [one] => Ok(one.clone()),
        [] => bail!("{} has no package `{package}`", lock.display()),
        many => bail!(
            "{} has several versions of `{package}`: {many:?}",
            lock.display()
        ),
    }
}

/// `tool --version` → "0.2.130" (the last word), or None when it does not run.
fn tool_version(tool: &Path) -> Option<String> {
    let out = output(Command::new(tool).arg("--version")).ok()?;
    out.split_whitespace().last().map(str::to_string)
}

/// `$CARGO_HOME/bin/<tool>` if it exists (where `cargo install` puts it), else `<tool>`
/// to be found on PATH.
pub fn cargo_bin_or_path(tool: &str) -> PathBuf {
    cargo_home()
        .map(|h| h.join("bin").join(tool))
        .filter(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from(tool))
}

fn cargo_home() -> Option<PathBuf> {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
}

/// PATH with `$CARGO_HOME/bin` in front, for the cargo runner (`wasm-bindgen-test-runner`).
pub fn path_with_cargo_bin() -> Option<OsString> {
    let bin = cargo_home()?.join("bin");
    let old = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs: Vec<PathBuf> = std::env::split_paths(&old).collect();
    if dirs.contains(&bin) {
        return None;
    }
    dirs.insert(0, bin);
    std::env::join_paths(dirs).ok()
}

fn which(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
}

/// Runs `cmd` and returns its stdout; an error when it cannot start or fails.
pub fn output(cmd: &mut Command) -> Result<String> {
    let out = cmd
        .stderr(Stdio::null())
        .output()
        .with_context(|| format!("could not start {:?}", cmd.get_program()))?;
    if !out.status.success() {
        bail!("{:?} failed ({})", cmd.get_program(), out.status);
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locked_version_finds_the_one_version_of_a_package() -> Result<()> {
        let dir = std::env::temp_dir().join(format!("xtask-lock-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let lock = dir.join("Cargo.lock");
        std::fs::write(
            &lock,
            "version = 4\n\n[[package]]\nname = \"wasm-bindgen-macro\"\nversion = \"0.2.1\"\n\n\
             [[package]]\nname = \"wasm-bindgen\"\nversion = \"0.2.130\"\nsource = \"registry+x\"\n\n\
             [[package]]\nname = \"two\"\nversion = \"1.0.0\"\n\n[[package]]\nname = \"two\"\nversion = \"2.0.0\"\n",
        )?;
        assert_eq!(locked_version(&lock, "wasm-bindgen")?, "0.2.130");
        assert!(
            locked_version(&lock, "two").is_err(),
            "several versions are an error"
        );
        assert!(locked_version(&lock, "absent").is_err());
        std::fs::remove_dir_all(&dir)?;
        Ok(())
    }
}
