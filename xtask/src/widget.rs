//! Building the banner: cargo (wasm32) → wasm-bindgen → wasm-opt → `static/widget/`.
//!
//! The output is a pair of content-hashed files, `banner.<hash>.js` and
//! `banner.<hash>.wasm`, plus `static/widget/manifest.json` naming them, so the server
//! can serve them with an immutable cache lifetime and the loader finds the current
//! pair through the manifest. One hash over both files names both: the JS glue and
//! its WASM only work as a pair. The loader imports the JS and passes the WASM URL
//! explicitly (`init({module_or_path})`), so the WASM's name is free.
//!
//! wasm-bindgen, wasm-opt and terser are skipped when the input WASM and the tool
//! versions are unchanged since the last run (a stamp under `target/widget-bindgen/`).
//! wasm-opt and terser (which minifies the glue JS) are optimisations only: when one
//! fails, the build warns and ships that file unoptimised, and writes no stamp, so
//! the next build tries again.
//!
//! The loader is minified here too ([`minify_loader`]): `static/k.js` stays the
//! readable source, `static/widget/k.min.js` is what the server sends as `/k.js`
//! (it names its source's SHA-256, so the server never sends one made from an
//! older `k.js`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};

use crate::setup::{self, hex};
use crate::{Workspace, step};

pub const TARGET: &str = "wasm32-unknown-unknown";
const PROFILE: &str = "wasm-release";

/// WASM features that wasm-opt must accept. Current rustc emits these for wasm32 by
/// default (bulk memory and non-trapping float-to-int since Rust 1.87; reference types
/// and multivalue since 1.82); binaryen rejects a module using a feature not enabled.
/// The strip flags matter when the profile keeps debug info or custom sections.
/// `--converge` repeats -Oz until the module stops shrinking (0.4 KB brotli less;
/// bench/README.md lists the other flags tried).
const WASM_OPT_ARGS: &[&str] = &[
    "-Oz",
    "--converge",
    "--strip-debug",
    "--strip-producers",
    "--enable-bulk-memory",
    "--enable-bulk-memory-opt",
    "--enable-nontrapping-float-to-int",
    "--enable-sign-ext",
    "--enable-mutable-globals",
    "--enable-reference-types",
    "--enable-multivalue",
];

/// The glue is an ES module; its exports keep their names, everything inside is
/// compressed and mangled (6.4 → 4.6 KB brotli).
const TERSER_ARGS: &[&str] = &["--module", "--compress", "passes=2", "--mangle"];

/// Builds the widget and installs it into `static/widget/`.
pub fn build(ws: &Workspace) -> Result<()> {
    step("building the widget for wasm32 (profile wasm-release)");
    ws.run(
        ws.cargo().args([
            "build",
            "-p",
            "keksdose-widget",
            "--target",
            TARGET,
            "--profile",
            PROFILE,
        ]),
        "building keksdose-widget for wasm32",
    )?;

    let target_dir = ws.target_dir();
    let input = target_dir
        .join(TARGET)
        .join(PROFILE)
        .join("keksdose_widget.wasm");
    let out_dir = target_dir.join("widget-bindgen");
    let (js, wasm) = bindgen_and_optimise(ws, &input, &out_dir)?;
    install(ws, &js, &wasm)?;
    minify_loader(ws)
}

/// terser for the loader, a classic script (not `--module`): compressed and
/// mangled inside its function; property names, `window.keksdose` and the
/// `"__KEKSDOSE_WIDGET__"` the server replaces stay as they are.
const LOADER_TERSER_ARGS: &[&str] = &["--compress", "passes=2", "--mangle", "--comments", "false"];

/// The loader's two halves: (source in `static/`, minified file in
/// `static/widget/`, what it is served as, terser's arguments, what must
/// survive minification for the server and the tests).
type Half = (
    &'static str,
    &'static str,
    &'static str,
    &'static [&'static str],
    &'static [&'static str],
);
const LOADER_HALVES: &[Half] = &[
    (
        "k.js",
        "k.min.js",
        "/k.js",
        LOADER_TERSER_ARGS,
        &[
            "\"__KEKSDOSE_WIDGET__\"",
            "\"__KEKSDOSE_SITE__\"",
            "\"__KEKSDOSE_PART__\"",
            "__KEKSDOSE_TEST__",
            "__keksdoseCore",
            ".keksdose=",
        ],
    ),
    // The other half is an ES module whose only statement is its default
    // export: the server writes that function into the per-site loader.
    (
        "k-banner.js",
        "k-banner.min.js",
        "/widget/k-banner.HASH.js",
        &[
            "--module",
            "--compress",
            "passes=2",
            "--mangle",
            "--comments",
            "false",
        ],
        &["export default function("],
    ),
];

/// Both halves of the loader, `static/k.js` → `static/widget/k.min.js` and
/// `static/k-banner.js` → `static/widget/k-banner.min.js`, each with a first
/// line naming its source's SHA-256 (`server/src/http/assets.rs` serves a
/// minified file only for that source). Skipped when that file exists for this
/// source, terser version and arguments. When terser fails, the build warns and
/// removes the minified file: the server then sends the source.
pub fn minify_loader(ws: &Workspace) -> Result<()> {
    for half in LOADER_HALVES {
        minify_half(ws, half)?;
    }
    keep_part_copies(ws)
}

/// The server serves the other half as `/widget/k-banner.{hash}.js` (the first
/// ten hex digits of its text's SHA-256) and writes that name into `/k.js`. A
/// browser may hold a `/k.js` from before the last build for its cache
/// lifetime, so the minified half is kept under that name too, with the one it
/// replaces (the most recent other copy); older copies are removed. The server
/// serves every such file.
fn keep_part_copies(ws: &Workspace) -> Result<()> {
    let dir = ws.root.join("static/widget");
    let Ok(text) = std::fs::read_to_string(dir.join("k-banner.min.js")) else {
        return Ok(()); // terser failed: the server sends the source
    };
    // The server writes the default export's function into the per-site loader.
    if !text
        .lines()
        .nth(1)
        .is_some_and(|l| l.starts_with("export default function("))
    {
        bail!(
            "static/widget/k-banner.min.js does not start with `export default function(` after its first line"
        );
    }
    let name = format!(
        "k-banner.{}.js",
        &hex(&Sha256::digest(text.as_bytes()))[..10]
    );
    let copies = || -> Result<Vec<(std::time::SystemTime, String)>> {
        let mut found = Vec::new();
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let file = entry.file_name().to_string_lossy().into_owned();
            let hashed = file
                .strip_prefix("k-banner.")
                .and_then(|rest| rest.strip_suffix(".js"))
                .is_some_and(|h| h.len() == 10 && h.bytes().all(|b| b.is_ascii_hexdigit()));
            if hashed {
                found.push((entry.metadata()?.modified()?, file));
            }
        }
        found.sort();
        Ok(found)
    };
    let previous = copies()?
        .into_iter()
        .rev()
        .map(|(_, file)| file)
        .find(|file| *file != name);
    if !dir.join(&name).exists() {
        std::fs::write(dir.join(&name), &text)?;
    }
    for (_, file) in copies()? {
        if file != name && Some(&file) != previous.as_ref() {
            std::fs::remove_file(dir.join(&file))
                .with_context(|| format!("removing old {file}"))?;
        }
    }
    Ok(())
}

fn minify_half(ws: &Workspace, &(name, min_name, served, args, keeps): &Half) -> Result<()> {
    let source_path = ws.root.join("static").join(name);
    let source = std::fs::read(&source_path)
        .with_context(|| format!("reading {}", source_path.display()))?;
    let digest = hex(&Sha256::digest(&source));
    let terser = ws.root.join("node_modules/.bin/terser");
    let version = setup::output(Command::new(&terser).arg("--version")).unwrap_or_default();
    // The source's digest (which the server checks) and one of the tool and its
    // arguments (which decides whether to run it again).
    let build = hex(&Sha256::digest(
        format!("{} {}", version.trim(), args.join(" ")).as_bytes(),
    ));
    let preamble = format!(
        "/*! Keksdose loader, static/{name} minified; source-sha256:{} build:{} */",
        &digest[..16],
        &build[..8]
    );
    let dir = ws.root.join("static/widget");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let out = dir.join(min_name);
    let current =
        std::fs::read_to_string(&out).is_ok_and(|m| m.lines().next() == Some(preamble.as_str()));
    if current && !version.is_empty() {
        step(&format!(
            "terser (the loader): static/{name} unchanged, skipped"
        ));
    } else {
        step(&format!("terser (the loader): static/{name}"));
        let tmp = dir.join(format!(".{min_name}.tmp"));
        let run = Command::new(&terser)
            .arg(&source_path)
            .args(args)
            .stdin(Stdio::null())
            .output();
        let made = match run {
            Ok(o) if o.status.success() => String::from_utf8(o.stdout)
                .ok()
                .map(|code| format!("{preamble}\n{}\n", code.trim_end())),
            Ok(o) => {
                eprintln!(
                    "xtask: warning: terser failed on static/{name} ({}): {}",
                    o.status,
                    String::from_utf8_lossy(&o.stderr)
                        .lines()
                        .next()
                        .unwrap_or_default()
                );
                None
            }
            Err(err) => {
                eprintln!("xtask: warning: could not run {} ({err})", terser.display());
                None
            }
        };
        let Some(made) = made else {
            let _ = std::fs::remove_file(&out);
            eprintln!("xtask: warning: {served} will be served unminified");
            return Ok(());
        };
        for keep in keeps {
            let n = made.matches(keep).count();
            if n == 0 || ((keep.starts_with('"') || keep.starts_with("export")) && n != 1) {
                let _ = std::fs::remove_file(&out);
                bail!(
                    "minified static/{name} has {keep} {n} times; terser changed what the server or the tests rely on"
                );
            }
        }
        // Via a temporary file and a rename, so a starting server never reads half of it.
        std::fs::write(&tmp, made).with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, &out).with_context(|| format!("writing {}", out.display()))?;
    }
    eprintln!(
        "    {:<22} {}",
        format!("{name} (source)"),
        sizes(&source_path, source.len())
    );
    let len = std::fs::metadata(&out).map(|m| m.len()).unwrap_or_default();
    eprintln!(
        "    {:<22} {}",
        format!("{min_name} ({served})"),
        sizes(&out, usize::try_from(len).unwrap_or(usize::MAX))
    );
    Ok(())
}

/// wasm-bindgen, wasm-opt and terser into `out_dir`, unless the stamp says they are
/// current.
/// Returns the glue JS and the final WASM.
fn bindgen_and_optimise(
    ws: &Workspace,
    input: &Path,
    out_dir: &Path,
) -> Result<(PathBuf, PathBuf)> {
    let input_bytes =
        std::fs::read(input).with_context(|| format!("reading {}", input.display()))?;
    let bindgen = setup::cargo_bin_or_path("wasm-bindgen");
    let wasm_opt = ws.root.join("node_modules/.bin/wasm-opt");
    let mut hasher = Sha256::new();
    hasher.update(&input_bytes);
    hasher.update(setup::output(Command::new(&bindgen).arg("--version")).unwrap_or_default());
    hasher.update(setup::output(Command::new(&wasm_opt).arg("--version")).unwrap_or_default());
    hasher.update(WASM_OPT_ARGS.join(" "));
    hasher.update(TERSER_ARGS.join(" "));
    let terser = ws.root.join("node_modules/.bin/terser");
    hasher.update(setup::output(Command::new(&terser).arg("--version")).unwrap_or_default());
    let fingerprint = hex(&hasher.finalize());

    let stamp = out_dir.join(".xtask-stamp");
    let js = out_dir.join("banner.min.js");
    let final_wasm = out_dir.join("banner.final.wasm");
    if js.is_file()
        && final_wasm.is_file()
        && std::fs::read_to_string(&stamp).is_ok_and(|s| s.trim() == fingerprint)
    {
        step("wasm-bindgen, wasm-opt and terser: input unchanged, skipped");
        return Ok((js, final_wasm));
    }
    let _ = std::fs::remove_file(&stamp);

    step("wasm-bindgen --target web");
    ws.run(
        Command::new(&bindgen)
            .args([
                "--target",
                "web",
                "--no-typescript",
                "--out-name",
                "banner",
                "--out-dir",
            ])
            .arg(out_dir)
            .arg(input),
        "wasm-bindgen",
    )?;
    let bindgen_wasm = out_dir.join("banner_bg.wasm");

    step("wasm-opt -Oz");
    let optimised = out_dir.join("banner.opt.wasm");
    let _ = std::fs::remove_file(&optimised);
    // Its output is captured: a validation failure prints thousands of lines.
    let opt = Command::new(&wasm_opt)
        .args(WASM_OPT_ARGS)
        .arg("-o")
        .arg(&optimised)
        .arg(&bindgen_wasm)
        .stdin(Stdio::null())
        .output();
    let mut complete = true;
    let chosen = match opt {
        Ok(out) if out.status.success() && optimised.is_file() => &optimised,
        Ok(out) => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let head: Vec<&str> = stderr.lines().take(12).collect();
            eprintln!(
                "xtask: warning: wasm-opt failed ({}); shipping the unoptimised WASM. Its first lines:\n{}",
                out.status,
                head.join("\n")
            );
            complete = false;
            &bindgen_wasm
        }
        Err(err) => {
            eprintln!(
                "xtask: warning: could not run {} ({err}); shipping the unoptimised WASM",
                wasm_opt.display()
            );
            complete = false;
            &bindgen_wasm
        }
    };
    std::fs::copy(chosen, &final_wasm)
        .with_context(|| format!("writing {}", final_wasm.display()))?;

    step("terser (the glue JS)");
    let glue = out_dir.join("banner.js");
    let _ = std::fs::remove_file(&js);
    let minified = Command::new(&terser)
        .arg(&glue)
        .args(TERSER_ARGS)
        .arg("-o")
        .arg(&js)
        .stdin(Stdio::null())
        .output();
    match minified {
        Ok(out) if out.status.success() && js.is_file() => {}
        Ok(out) => {
            eprintln!(
                "xtask: warning: terser failed ({}); shipping the glue JS unminified: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
                    .lines()
                    .next()
                    .unwrap_or_default()
            );
            std::fs::copy(&glue, &js)?;
            complete = false;
        }
        Err(err) => {
            eprintln!(
                "xtask: warning: could not run {} ({err}); shipping the glue JS unminified",
                terser.display()
            );
            std::fs::copy(&glue, &js)?;
            complete = false;
        }
    }
    if complete {
        std::fs::write(&stamp, fingerprint)?;
    }
    Ok((js, final_wasm))
}

/// Copies the pair into `static/widget/` under hashed names, writes `manifest.json`,
/// removes older pairs but the one it replaced, and prints the sizes. The replaced
/// pair stays because a browser may hold a `k.js` naming it for a few minutes
/// (`/k.js` is cached for 5 minutes; the server writes the names into it).
fn install(ws: &Workspace, js: &Path, wasm: &Path) -> Result<()> {
    let js_bytes = std::fs::read(js).with_context(|| format!("reading {}", js.display()))?;
    let wasm_bytes = std::fs::read(wasm).with_context(|| format!("reading {}", wasm.display()))?;
    let mut hasher = Sha256::new();
    hasher.update(&js_bytes);
    hasher.update(&wasm_bytes);
    let hash = &hex(&hasher.finalize())[..10];

    let dir = ws.root.join("static/widget");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let js_name = format!("banner.{hash}.js");
    let wasm_name = format!("banner.{hash}.wasm");
    // The names in the manifest being replaced: every quoted `banner.…` in it.
    let previous: Vec<String> = std::fs::read_to_string(dir.join("manifest.json"))
        .unwrap_or_default()
        .split('"')
        .filter(|part| part.starts_with("banner."))
        .map(String::from)
        .collect();
    std::fs::write(dir.join(&js_name), &js_bytes)?;
    std::fs::write(dir.join(&wasm_name), &wasm_bytes)?;

    let manifest = format!(
        "{{\"js\": \"{js_name}\", \"wasm\": \"{wasm_name}\", \"wasm_bytes\": {}, \"js_bytes\": {}}}\n",
        wasm_bytes.len(),
        js_bytes.len()
    );
    // Written via a temporary file and a rename, so a running server never reads half of it.
    let tmp = dir.join(".manifest.json.tmp");
    std::fs::write(&tmp, manifest)?;
    std::fs::rename(&tmp, dir.join("manifest.json"))?;

    for entry in std::fs::read_dir(&dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let hashed =
            name.starts_with("banner.") && (name.ends_with(".js") || name.ends_with(".wasm"));
        if hashed && name != js_name && name != wasm_name && !previous.contains(&name) {
            std::fs::remove_file(entry.path()).with_context(|| format!("removing old {name}"))?;
        }
    }

    step(&format!(
        "widget installed in static/widget/ as {js_name} + {wasm_name}"
    ));
    eprintln!(
        "    {:<22} {}",
        wasm_name,
        sizes(&dir.join(&wasm_name), wasm_bytes.len())
    );
    eprintln!(
        "    {:<22} {}",
        js_name,
        sizes(&dir.join(&js_name), js_bytes.len())
    );
    Ok(())
}

/// "123456 B raw, 45678 B gzip, 40000 B brotli", with whichever compressors exist.
fn sizes(file: &Path, raw: usize) -> String {
    let mut parts = vec![format!("{raw:>8} B raw")];
    for (tool, args) in [
        ("gzip", &["-9", "-c"][..]),
        ("brotli", &["-q", "11", "-c"][..]),
    ] {
        if let Ok(n) = compressed_len(tool, args, file) {
            parts.push(format!("{n:>8} B {tool}"));
        }
    }
    parts.join(", ")
}

fn compressed_len(tool: &str, args: &[&str], file: &Path) -> Result<usize> {
    let out = Command::new(tool)
        .args(args)
        .arg(file)
        .stderr(Stdio::null())
        .output()?;
    if !out.status.success() {
        bail!("{tool} failed");
    }
    Ok(out.stdout.len())
}
