//! `cargo xtask soak`: the long forms of the reliability tests (issue 5), each a
//! test of the `it` binary run with the environment that makes it long, and the
//! fuzz targets. Every test prints a line with `RESULT`; the soak collects them
//! and prints them together at the end, with each step's pass or fail.
//!
//! The short forms of the same tests run in `cargo xtask test`.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::{Workspace, fuzz, setup, step};

/// One long test: its name filter and the environment that makes it long.
struct Soak {
    what: &'static str,
    test: &'static str,
    env: &'static [(&'static str, &'static str)],
}

const SOAKS: &[Soak] = &[
    Soak {
        what: "crash safety: SIGKILL at random moments",
        test: "durability::every_acknowledged_record_survives_repeated_sigkill_during_concurrent_writes",
        env: &[("KEKSDOSE_CRASH_KILLS", "40")],
    },
    Soak {
        what: "power cuts: unsynced journal bytes thrown away, index kept, lost or older",
        test: "durability::every_acknowledged_record_survives_repeated_power_cuts_during_concurrent_writes",
        env: &[("KEKSDOSE_CRASH_KILLS", "40")],
    },
    Soak {
        what: "hostile input from the OpenAPI document",
        test: "negative::every_operation_answers_malformed_and_foreign_input_with_a_documented_4xx_never_a_5xx",
        env: &[("KEKSDOSE_NEGATIVE_ROUNDS", "10")],
    },
    Soak {
        what: "isolation of sites' keys",
        test: "negative::no_site_key_reads_exports_withdraws_or_verifies_anything_of_another_site",
        env: &[],
    },
    // With sled's default 32 MiB cache, RSS rises for the first minutes while
    // the cache fills (86 MB after 5 min at 300/s); a 4 MiB cache fills in about
    // a minute, so that five minutes show whether anything else grows.
    Soak {
        what: "steady load for five minutes (4 MiB index cache)",
        test: "load::a_steady_load_runs_without_errors_and_with_open_files_and_memory_flat",
        env: &[
            ("KEKSDOSE_LOAD_SECS", "300"),
            ("KEKSDOSE_LOAD_RATE", "300"),
            ("KEKSDOSE_SLED_CACHE_MB", "4"),
        ],
    },
];

/// Seconds each fuzz target runs in the soak.
const FUZZ_SECONDS: u64 = 120;

pub fn run(ws: &Workspace) -> Result<()> {
    let started = Instant::now();
    ws.run(
        ws.cargo()
            .args(["build", "-p", "keksdose-server", "--bin", "keksdose"]),
        "building the keksdose binary",
    )?;
    let mut summary = Vec::new();
    let mut failed = Vec::new();
    for soak in SOAKS {
        step(soak.what);
        let mut cmd = ws.cargo();
        cmd.args([
            "test",
            "-p",
            "keksdose-tests",
            "--test",
            "it",
            soak.test,
            "--",
            "--exact",
            "--nocapture",
        ])
        .envs(soak.env.iter().copied())
        .env("KEKSDOSE_TEST_MOUNT", "require")
        .env("CHROMEDRIVER", setup::CHROMEDRIVER)
        .env("CHROMIUM", setup::CHROMIUM)
        .stdout(Stdio::piped());
        let mut child = cmd.spawn().context("starting cargo test")?;
        let out = child.stdout.take().context("no stdout")?;
        let mut results = Vec::new();
        for line in BufReader::new(out).lines() {
            let line = line?;
            println!("{line}");
            if line.contains("RESULT") {
                results.push(line);
            }
        }
        let ok = child.wait()?.success();
        if !ok {
            failed.push(soak.what);
        }
        if results.is_empty() {
            results.push("(no figures printed)".into());
        }
        summary.push((soak.what, ok, results));
    }

    step(&format!("fuzzing, {FUZZ_SECONDS} s per target"));
    match fuzz::run(ws, FUZZ_SECONDS) {
        Ok(report) => summary.push((
            "fuzzing",
            true,
            vec![format!(
                "FUZZ RESULT targets: {}, executions: {}, crashes: {}",
                report.targets.len(),
                report.executions(),
                report.crashes()
            )],
        )),
        Err(e) => {
            // The report, crashes included, was printed above.
            failed.push("fuzzing");
            summary.push(("fuzzing", false, vec![format!("{e:#}")]));
        }
    }

    step(&format!(
        "soak summary ({} min)",
        started.elapsed().as_secs() / 60
    ));
    for (what, ok, results) in &summary {
        println!("{} {what}", if *ok { "PASS" } else { "FAIL" });
        for r in results {
            println!("     {}", r.trim());
        }
    }
    if !failed.is_empty() {
        bail!("soak failed: {}", failed.join("; "));
    }
    Ok(())
}
