//! `cargo xtask fuzz [SECONDS]`: runs every fuzz target of `fuzz/` (cargo-fuzz,
//! libFuzzer) for a while and reports, per target, how many inputs it ran and
//! whether it crashed. [`run`] is the whole of it, so that a longer command (the
//! soak) can call it too.
//!
//! The stable toolchain is enough: `--sanitizer none` leaves out AddressSanitizer,
//! the one part of cargo-fuzz that needs nightly (`-Zsanitizer`); coverage
//! instrumentation (`-Cpasses=sancov-module`) and libFuzzer work on stable, and
//! the code under test has no `unsafe`, which is what ASan would watch. Targets
//! are built with debug assertions, so an overflow is a crash too.
//!
//! Each target starts from its corpus (`fuzz/corpus/<target>/`, gitignored, grown
//! by earlier runs), the committed seeds (`fuzz/seeds/<target>/`) and regressions
//! (`fuzz/regressions/<target>/`). A crash leaves its input in
//! `fuzz/artifacts/<target>/`; the full libFuzzer output of the last run is in
//! `fuzz/logs/<target>.log`. Not part of `cargo xtask test`: the regression test
//! in `shared/tests/it/fuzz_regressions.rs` is the short form that runs there.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::{Workspace, setup, step};

/// The targets, in the order they run.
pub const TARGETS: [&str; 3] = ["config", "cookie", "consent_request"];

/// What one target did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetReport {
    pub target: &'static str,
    /// Inputs run (libFuzzer's `stat::number_of_executed_units`).
    pub executions: u64,
    /// Inputs that crashed it (libFuzzer stops at the first).
    pub crashes: Vec<PathBuf>,
}

/// What every target did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FuzzReport {
    pub seconds_per_target: u64,
    pub targets: Vec<TargetReport>,
}

impl FuzzReport {
    pub fn executions(&self) -> u64 {
        self.targets.iter().map(|t| t.executions).sum()
    }

    pub fn crashes(&self) -> usize {
        self.targets.iter().map(|t| t.crashes.len()).sum()
    }
}

impl fmt::Display for FuzzReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "fuzzing, {} s per target:", self.seconds_per_target)?;
        for t in &self.targets {
            writeln!(
                f,
                "  {:<16} {:>12} executions  {} crashes",
                t.target,
                t.executions,
                t.crashes.len()
            )?;
            for c in &t.crashes {
                writeln!(f, "    crash input: {}", c.display())?;
            }
        }
        write!(
            f,
            "  {:<16} {:>12} executions  {} crashes",
            "total",
            self.executions(),
            self.crashes()
        )
    }
}

/// Installs cargo-fuzz if missing, builds the targets, runs each for `seconds`,
/// prints the report and returns it; an error if a target crashed (the report is
/// printed first) or could not run.
pub fn run(ws: &Workspace, seconds: u64) -> Result<FuzzReport> {
    if seconds == 0 {
        bail!("fuzzing for 0 seconds would run nothing");
    }
    setup::cargo_fuzz(ws)?;
    let fuzz = ws.root.join("fuzz");
    step("building the fuzz targets (cargo fuzz build --sanitizer none)");
    ws.run(
        ws.cargo().args(["fuzz", "build", "--sanitizer", "none"]),
        "cargo fuzz build",
    )?;
    let mut report = FuzzReport {
        seconds_per_target: seconds,
        targets: Vec::new(),
    };
    for target in TARGETS {
        step(&format!("fuzzing {target} for {seconds} s"));
        let t = run_target(ws, &fuzz, target, seconds)?;
        eprintln!(
            "{target}: {} executions, {} crashes",
            t.executions,
            t.crashes.len()
        );
        report.targets.push(t);
    }
    println!("{report}");
    if report.crashes() > 0 {
        bail!(
            "{} fuzz target(s) crashed; each crash input is in fuzz/artifacts/<target>/: fix the bug, \
             then keep the input in fuzz/regressions/<target>/",
            report
                .targets
                .iter()
                .filter(|t| !t.crashes.is_empty())
                .count()
        );
    }
    Ok(report)
}

fn run_target(
    ws: &Workspace,
    fuzz: &Path,
    target: &'static str,
    seconds: u64,
) -> Result<TargetReport> {
    let corpus = fuzz.join("corpus").join(target);
    let artifacts = fuzz.join("artifacts").join(target);
    let logs = fuzz.join("logs");
    for dir in [&corpus, &artifacts, &logs] {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let before = files(&artifacts)?;
    let out = ws
        .cargo()
        .args(["fuzz", "run", "--sanitizer", "none", target])
        // The first directory takes what libFuzzer finds; the others are read.
        .arg(&corpus)
        .arg(fuzz.join("seeds").join(target))
        .arg(fuzz.join("regressions").join(target))
        .arg("--")
        .arg(format!("-max_total_time={seconds}"))
        .arg("-print_final_stats=1")
        .output()
        .with_context(|| format!("could not start cargo fuzz run {target}"))?;
    // libFuzzer writes everything to stderr.
    let log = String::from_utf8_lossy(&out.stderr);
    let log_file = logs.join(format!("{target}.log"));
    std::fs::write(&log_file, log.as_bytes())
        .with_context(|| format!("writing {}", log_file.display()))?;
    if !log.contains("INFO: Seed:") {
        bail!(
            "cargo fuzz run {target} did not start libFuzzer ({}); see {}",
            out.status,
            log_file.display()
        );
    }
    let crashes: Vec<PathBuf> = files(&artifacts)?.difference(&before).cloned().collect();
    if !out.status.success() && crashes.is_empty() {
        bail!(
            "cargo fuzz run {target} failed ({}) without a crash input; see {}",
            out.status,
            log_file.display()
        );
    }
    if !crashes.is_empty() {
        // The panic message and the input, as libFuzzer printed them.
        let lines: Vec<&str> = log.lines().collect();
        let start = lines
            .iter()
            .position(|l| l.contains("panicked at"))
            .unwrap_or(lines.len().saturating_sub(30));
        for line in lines[start..].iter().take(30) {
            eprintln!("  | {line}");
        }
    }
    Ok(TargetReport {
        target,
        executions: executions(&log).unwrap_or(0),
        crashes,
    })
}

/// The files in `dir`.
fn files(dir: &Path) -> Result<BTreeSet<PathBuf>> {
    let mut out = BTreeSet::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        out.insert(entry?.path());
    }
    Ok(out)
}

/// How many inputs libFuzzer ran: its final `stat::number_of_executed_units`,
/// else the count of its last status line (`#123456\tDONE …`, or the last
/// progress line before a crash).
fn executions(log: &str) -> Option<u64> {
    let stat = log.lines().rev().find_map(|l| {
        l.strip_prefix("stat::number_of_executed_units:")
            .and_then(|n| n.trim().parse().ok())
    });
    stat.or_else(|| {
        log.lines().rev().find_map(|l| {
            let (count, _) = l.strip_prefix('#')?.split_once(char::is_whitespace)?;
            count.parse().ok()
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn executions_come_from_the_final_stats_or_the_last_status_line() {
        let done = "INFO: Seed: 1\n#9\tINITED cov: 3550 ft: 7735 corp: 8/104Kb\n\
                    #59933\tDONE   cov: 5261 ft: 15941 corp: 1204/11057Kb exec/s: 2853 rss: 48Mb\n\
                    Done 59933 runs in 21 second(s)\n";
        assert_eq!(executions(done), Some(59_933));
        let stats = format!(
            "{done}stat::number_of_executed_units: 60001\nstat::average_exec_per_sec:     2453\n"
        );
        assert_eq!(executions(&stats), Some(60_001));
        let crash = "#1024\tpulse  cov: 10 ft: 12 corp: 3/30b\n#1100\tNEW    cov: 11\n\
                     thread '<unnamed>' panicked at shared/src/fuzzing.rs:1:1:\n\
                     ==1== ERROR: libFuzzer: deadly signal\n";
        assert_eq!(executions(crash), Some(1_100));
        assert_eq!(executions("error: could not compile"), None);
    }

    #[test]
    fn the_report_sums_its_targets() {
        let report = FuzzReport {
            seconds_per_target: 60,
            targets: vec![
                TargetReport {
                    target: "config",
                    executions: 10,
                    crashes: Vec::new(),
                },
                TargetReport {
                    target: "cookie",
                    executions: 5,
                    crashes: vec![PathBuf::from("fuzz/artifacts/cookie/crash-1")],
                },
            ],
        };
        assert_eq!((report.executions(), report.crashes()), (15, 1));
        let text = report.to_string();
        assert!(
            text.contains("crash input: fuzz/artifacts/cookie/crash-1"),
            "{text}"
        );
        assert!(
            text.lines()
                .last()
                .is_some_and(|l| l.contains("15 executions  1 crashes"))
        );
    }
}
