//! The fuzz targets' inputs as a plain test: every file in `fuzz/regressions/<target>/`
//! (inputs that once crashed a target, or that sit on a boundary) and in
//! `fuzz/seeds/<target>/` (the seed corpus) through the target's own entry function.

use std::path::{Path, PathBuf};

use keksdose_shared::fuzzing;

fn inputs(target: &str) -> Vec<PathBuf> {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let mut files = Vec::new();
    for kind in ["regressions", "seeds"] {
        let dir = fuzz.join(kind).join(target);
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            files.push(entry.unwrap().path());
        }
    }
    files.sort();
    files
}

fn check(target: &str, entry: fn(&[u8])) {
    let files = inputs(target);
    assert!(!files.is_empty(), "no inputs for {target}");
    for file in files {
        let data = std::fs::read(&file).unwrap();
        // On a panic, the captured output names the input.
        eprintln!("{target}: {}", file.display());
        entry(&data);
    }
}

#[test]
fn config() {
    check("config", fuzzing::config);
}

#[test]
fn cookie() {
    check("cookie", fuzzing::cookie);
}

#[test]
fn consent_request() {
    check("consent_request", fuzzing::consent_request);
}
