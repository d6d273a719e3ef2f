//! The report: every figure with its samples, median, min and max, and its target;
//! written as `results.json` and as the Markdown table `results.md`.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result};
use serde_json::{Value, json};

/// Which way a target points.
#[derive(Debug, Clone, Copy)]
pub enum Target {
    /// The median must be at least this.
    AtLeast(f64),
    /// The median must be at most this.
    AtMost(f64),
    /// No target: the figure is context (a baseline, a breakdown).
    None,
}

/// One measured quantity: its samples (one per round or load) and its target.
#[derive(Debug, Clone)]
pub struct Figure {
    pub group: &'static str,
    pub name: String,
    pub unit: &'static str,
    pub samples: Vec<f64>,
    pub target: Target,
}

impl Figure {
    pub fn new(group: &'static str, name: impl Into<String>, unit: &'static str) -> Self {
        Self {
            group,
            name: name.into(),
            unit,
            samples: Vec::new(),
            target: Target::None,
        }
    }

    pub fn target(mut self, target: Target) -> Self {
        self.target = target;
        self
    }

    pub fn samples(mut self, samples: Vec<f64>) -> Self {
        self.samples = samples;
        self
    }

    pub fn one(self, value: f64) -> Self {
        self.samples(vec![value])
    }

    pub fn median(&self) -> Option<f64> {
        let mut s = self.samples.clone();
        if s.is_empty() {
            return None;
        }
        s.sort_by(f64::total_cmp);
        let n = s.len();
        Some(if n % 2 == 1 {
            s[n / 2]
        } else {
            (s[n / 2 - 1] + s[n / 2]) / 2.0
        })
    }

    fn min(&self) -> Option<f64> {
        self.samples.iter().copied().reduce(f64::min)
    }

    fn max(&self) -> Option<f64> {
        self.samples.iter().copied().reduce(f64::max)
    }

    /// Whether the median meets the target; `None` without a target or samples.
    pub fn met(&self) -> Option<bool> {
        let m = self.median()?;
        match self.target {
            Target::AtLeast(t) => Some(m >= t),
            Target::AtMost(t) => Some(m <= t),
            Target::None => None,
        }
    }

    fn target_text(&self) -> String {
        match self.target {
            Target::AtLeast(t) => format!("≥ {}", number(t)),
            Target::AtMost(t) => format!("≤ {}", number(t)),
            Target::None => String::new(),
        }
    }

    fn to_json(&self) -> Value {
        json!({
            "group": self.group,
            "name": self.name,
            "unit": self.unit,
            "median": self.median(),
            "min": self.min(),
            "max": self.max(),
            "n": self.samples.len(),
            "samples": self.samples,
            "target": self.target_text(),
            "met": self.met(),
        })
    }
}

/// A number for people: integers with thin grouping, small values with decimals.
pub fn number(v: f64) -> String {
    if v.abs() >= 100.0 {
        let s = format!("{:.0}", v);
        let (sign, digits) = s.strip_prefix('-').map_or(("", s.as_str()), |d| ("-", d));
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        format!("{sign}{out}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// The machine and build the figures were measured on.
pub fn machine(root: &Path) -> Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']).to_string())
        .unwrap_or_default();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_kib: u64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    let out = |cmd: &str, args: &[&str]| -> String {
        Command::new(cmd)
            .args(args)
            .current_dir(root)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default()
    };
    let dirty = !out("git", &["status", "--porcelain", "--untracked-files=no"]).is_empty();
    json!({
        "cpu": cpu,
        "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "memory_gib": (mem_kib as f64 / 1024.0 / 1024.0 * 10.0).round() / 10.0,
        "kernel": out("uname", &["-r"]),
        "rustc": out("rustc", &["--version"]),
        "chromium": out("chromium", &["--version"]),
        "commit": out("git", &["rev-parse", "--short=12", "HEAD"]),
        "dirty": dirty,
        "date": out("date", &["-u", "+%Y-%m-%dT%H:%M:%SZ"]),
    })
}

/// The run a report is compared with: the `results.json` it replaces.
#[derive(Debug, Default)]
pub struct Baseline {
    /// `commit, date` of that run.
    pub of: String,
    /// Median, min and max by group and figure name (the banner's groups, with
    /// and without throttling, share their figures' names).
    pub figures: std::collections::HashMap<String, (f64, f64, f64)>,
}

impl Baseline {
    /// The figures of an earlier `results.json`; empty if there is none.
    pub fn read(path: &Path) -> Baseline {
        let Some(json) = std::fs::read_to_string(path)
            .ok()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        else {
            return Baseline::default();
        };
        let m = &json["machine"];
        let figures = json["figures"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| {
                Some((
                    key(f["group"].as_str()?, f["name"].as_str()?),
                    (
                        f["median"].as_f64()?,
                        f["min"].as_f64()?,
                        f["max"].as_f64()?,
                    ),
                ))
            })
            .collect();
        Baseline {
            of: format!(
                "{}, {}",
                m["commit"].as_str().unwrap_or("?"),
                m["date"].as_str().unwrap_or("?")
            ),
            figures,
        }
    }

    /// The earlier median, with its min–max, and this median's change against it.
    fn cells(&self, f: &Figure) -> (String, String) {
        let (Some((median, min, max)), Some(now)) =
            (self.figures.get(&key(f.group, &f.name)), f.median())
        else {
            return (String::new(), String::new());
        };
        let change = if *median == 0.0 {
            String::new()
        } else {
            format!("{:+.0} %", (now - median) / median * 100.0)
        };
        (
            format!("{} ({}–{})", number(*median), number(*min), number(*max)),
            change,
        )
    }
}

fn key(group: &str, name: &str) -> String {
    format!("{group}\u{1f}{name}")
}

/// The figures of the `results.json` at `path` in groups this run did not measure
/// (a partial run, `--only`), each marked with the run it came from
/// (`carried_from`: `commit, date`), so that a partial run keeps the rest.
fn carried(path: &Path, figures: &[Figure]) -> Vec<Value> {
    let Some(json) = std::fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
    else {
        return Vec::new();
    };
    let m = &json["machine"];
    let of = format!(
        "{}, {}",
        m["commit"].as_str().unwrap_or("?"),
        m["date"].as_str().unwrap_or("?")
    );
    json["figures"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|f| {
            let group = f["group"].as_str().unwrap_or_default();
            !figures.iter().any(|g| g.group == group)
        })
        .map(|f| {
            let mut f = f.clone();
            if f["carried_from"].is_null() {
                f["carried_from"] = json!(of);
            }
            f
        })
        .collect()
}

/// Writes `results.json` and `results.md` into `dir`; the Markdown compares each
/// figure with the `results.json` it replaces. A partial run (`settings.only`)
/// keeps the other groups of that file, marked as carried over.
pub fn write(dir: &Path, machine: &Value, settings: &Value, figures: &[Figure]) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    let baseline = Baseline::read(&dir.join("results.json"));
    let carried = if settings["only"].is_string() {
        carried(&dir.join("results.json"), figures)
    } else {
        Vec::new()
    };
    let mut all: Vec<Value> = figures.iter().map(Figure::to_json).collect();
    all.extend(carried.iter().cloned());
    let json = json!({
        "machine": machine,
        "settings": settings,
        "figures": all,
    });
    let path = dir.join("results.json");
    std::fs::write(&path, serde_json::to_string_pretty(&json)? + "\n")
        .with_context(|| format!("writing {}", path.display()))?;
    let path = dir.join("results.md");
    std::fs::write(
        &path,
        markdown(machine, settings, figures, &baseline) + &carried_markdown(&carried),
    )
    .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

fn markdown(machine: &Value, settings: &Value, figures: &[Figure], baseline: &Baseline) -> String {
    let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let mut md = String::new();
    let _ = writeln!(md, "# Keksdose benchmark results\n");
    let _ = writeln!(
        md,
        "Written by `cargo xtask bench`; what each figure means, and why a target is \
         missed where it is, is in [README.md](README.md).\n"
    );
    let _ = writeln!(
        md,
        "- Commit `{}`{}, {}\n- Machine: {} ({} cores, {} GiB), Linux {}\n- {}; {}\n- Settings: `{}`\n",
        s(&machine["commit"]),
        if machine["dirty"].as_bool() == Some(true) {
            " (with uncommitted changes)"
        } else {
            ""
        },
        s(&machine["date"]),
        s(&machine["cpu"]),
        machine["cores"],
        machine["memory_gib"],
        s(&machine["kernel"]),
        s(&machine["rustc"]),
        s(&machine["chromium"]),
        settings,
    );
    if !baseline.figures.is_empty() {
        let _ = writeln!(
            md,
            "\"before\" is the run this one replaced (commit {}): its median (min–max), \
             and \"change\" this median against it. On this shared machine a change within \
             the earlier run's min–max is noise.\n",
            baseline.of
        );
    }
    let mut group = "";
    for f in figures {
        if f.group != group {
            group = f.group;
            let _ = writeln!(
                md,
                "\n## {group}\n\n| figure | median | min | max | n | target | | before | change |\n|---|--:|--:|--:|--:|--:|---|--:|--:|"
            );
        }
        let cell = |v: Option<f64>| v.map(number).unwrap_or_else(|| "–".into());
        let mark = match f.met() {
            Some(true) => "met",
            Some(false) => "**missed**",
            None => "",
        };
        let (before, change) = baseline.cells(f);
        let _ = writeln!(
            md,
            "| {} ({}) | {} | {} | {} | {} | {} | {} | {} | {} |",
            f.name,
            f.unit,
            cell(f.median()),
            cell(f.min()),
            cell(f.max()),
            f.samples.len(),
            f.target_text(),
            mark,
            before,
            change
        );
    }
    md
}

/// The carried-over groups (see [`carried`]), each under the run it came from.
fn carried_markdown(carried: &[Value]) -> String {
    let mut md = String::new();
    let mut group = String::new();
    for f in carried {
        let s = |k: &str| f[k].as_str().unwrap_or_default().to_string();
        if s("group") != group {
            group = s("group");
            let _ = writeln!(
                md,
                "\n## {group}\n\nNot measured in this run (`--only`): carried over from the run of {}.\n\n\
                 | figure | median | min | max | n | target | |\n|---|--:|--:|--:|--:|--:|---|",
                s("carried_from")
            );
        }
        let cell = |k: &str| f[k].as_f64().map(number).unwrap_or_else(|| "–".into());
        let mark = match f["met"].as_bool() {
            Some(true) => "met",
            Some(false) => "**missed**",
            None => "",
        };
        let _ = writeln!(
            md,
            "| {} ({}) | {} | {} | {} | {} | {} | {} |",
            s("name"),
            s("unit"),
            cell("median"),
            cell("min"),
            cell("max"),
            f["n"],
            s("target"),
            mark
        );
    }
    md
}

/// The value at quantile `q` (0..=1) of sorted samples, nearest rank.
pub fn quantile(sorted: &[u32], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64) * q).ceil() as usize;
    f64::from(sorted[i.clamp(1, sorted.len()) - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_min_max_and_targets() {
        let f = Figure::new("g", "x", "ms")
            .samples(vec![3.0, 1.0, 2.0, 10.0])
            .target(Target::AtMost(2.5));
        assert_eq!(f.median(), Some(2.5));
        assert_eq!(f.min(), Some(1.0));
        assert_eq!(f.max(), Some(10.0));
        assert_eq!(f.met(), Some(true));
        let f = f.target(Target::AtLeast(3.0));
        assert_eq!(f.met(), Some(false));
        assert_eq!(Figure::new("g", "y", "ms").met(), None);
    }

    #[test]
    fn a_report_compares_each_figure_with_the_run_it_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let machine = json!({"commit": "abc", "date": "d1"});
        let fig = |v: f64| Figure::new("g", "writes", "1/s").samples(vec![v * 0.9, v, v * 1.1]);
        // Another group's figure of the same name is another figure.
        let other = |v: f64| Figure::new("h", "writes", "1/s").one(v);
        write(dir.path(), &machine, &json!({}), &[fig(100.0), other(7.0)]).unwrap();
        let first = std::fs::read_to_string(dir.path().join("results.md")).unwrap();
        assert!(
            !first.contains("before\" is"),
            "nothing to compare with yet"
        );
        write(
            dir.path(),
            &json!({"commit": "def"}),
            &json!({}),
            &[fig(80.0), other(7.0)],
        )
        .unwrap();
        let md = std::fs::read_to_string(dir.path().join("results.md")).unwrap();
        assert!(md.contains("commit abc, d1"), "{md}");
        assert!(md.contains("| 100 (90.0–110) | -20 % |"), "{md}");
        assert!(md.contains("| 7.00 (7.00–7.00) | +0 % |"), "{md}");
    }

    #[test]
    fn a_partial_run_keeps_the_other_groups() {
        let dir = tempfile::tempdir().unwrap();
        let one = |g: &'static str, v: f64| Figure::new(g, "x", "ms").one(v);
        let full = json!({"only": null});
        let partial = json!({"only": "banner"});
        write(
            dir.path(),
            &json!({"commit": "abc", "date": "d1"}),
            &full,
            &[one("ledger", 1.0), one("banner", 2.0)],
        )
        .unwrap();
        write(
            dir.path(),
            &json!({"commit": "def", "date": "d2"}),
            &partial,
            &[one("banner", 3.0)],
        )
        .unwrap();
        let json: Value = serde_json::from_str(
            &std::fs::read_to_string(dir.path().join("results.json")).unwrap(),
        )
        .unwrap();
        let figures = json["figures"].as_array().unwrap();
        assert_eq!(figures.len(), 2, "{json}");
        assert_eq!(figures[0]["median"], 3.0);
        assert_eq!(figures[1]["group"], "ledger");
        assert_eq!(figures[1]["carried_from"], "abc, d1");
        let md = std::fs::read_to_string(dir.path().join("results.md")).unwrap();
        assert!(md.contains("carried over from the run of abc, d1"), "{md}");
        // Carried again, it keeps the run it came from; a full run drops it.
        write(
            dir.path(),
            &json!({"commit": "ghi", "date": "d3"}),
            &partial,
            &[one("banner", 4.0)],
        )
        .unwrap();
        let md = std::fs::read_to_string(dir.path().join("results.md")).unwrap();
        assert!(md.contains("carried over from the run of abc, d1"), "{md}");
        write(
            dir.path(),
            &json!({"commit": "jkl", "date": "d4"}),
            &full,
            &[one("banner", 5.0)],
        )
        .unwrap();
        let md = std::fs::read_to_string(dir.path().join("results.md")).unwrap();
        assert!(!md.contains("ledger"), "{md}");
    }

    #[test]
    fn quantiles_are_nearest_rank() {
        let s: Vec<u32> = (1..=1000).collect();
        assert_eq!(quantile(&s, 0.5), 500.0);
        assert_eq!(quantile(&s, 0.99), 990.0);
        assert_eq!(quantile(&s, 0.999), 999.0);
        assert_eq!(quantile(&s, 1.0), 1000.0);
        assert_eq!(quantile(&[7], 0.999), 7.0);
    }

    #[test]
    fn numbers_for_people() {
        assert_eq!(number(25123.4), "25,123");
        assert_eq!(number(1234567.0), "1,234,567");
        assert_eq!(number(12.34), "12.3");
        assert_eq!(number(0.456), "0.46");
        assert_eq!(number(-1500.0), "-1,500");
    }
}
