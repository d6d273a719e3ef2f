//! `keksdose-bench`: the ledger under load and the banner in Chromium, written to
//! `bench/results.json` and `bench/results.md`. `cargo xtask bench` builds what it
//! needs (the release server, the widget, Chromium) and runs this.
//!
//! ```text
//! keksdose-bench [--only ledger|banner|postgres] [--store postgres://…] [--records N]
//!                [--rounds N] [--round-secs N] [--loads N] [--out DIR]
//! ```
//!
//! With `--store`, the ledger runs a second time on that PostgreSQL database
//! ([`postgres`]), beside the embedded figures; `--only postgres` runs only that.
//! The server is `$KEKSDOSE_BIN` (xtask points it at the release build).

mod banner;
mod client;
mod ledger;
mod postgres;
mod report;

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use serde_json::json;

#[derive(Debug)]
struct Args {
    only: Option<String>,
    /// A PostgreSQL URL to run the ledger on too.
    store: Option<String>,
    ledger: ledger::Options,
    banner: banner::Options,
    out: PathBuf,
}

fn parse() -> Result<Args> {
    let mut args = Args {
        only: None,
        store: None,
        ledger: ledger::Options {
            records: 1_000_000,
            rounds: 3,
            round_secs: 5,
        },
        banner: banner::Options { loads: 15 },
        out: keksdose_tests::workspace_root().join("bench"),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--only" => {
                let v = value()?;
                if !["ledger", "banner", "postgres"].contains(&v.as_str()) {
                    bail!("--only takes ledger, banner or postgres, not {v:?}");
                }
                args.only = Some(v);
            }
            "--store" => {
                let v = value()?;
                postgres::check_url(&v)?;
                args.store = Some(v);
            }
            "--records" => args.ledger.records = number(&value()?)?,
            "--rounds" => args.ledger.rounds = number(&value()?)? as usize,
            "--round-secs" => args.ledger.round_secs = number(&value()?)?,
            "--loads" => args.banner.loads = number(&value()?)? as usize,
            "--out" => args.out = PathBuf::from(value()?),
            other => bail!("unknown argument {other:?} (see the top of bench/src/main.rs)"),
        }
    }
    if args.ledger.rounds == 0 || args.banner.loads == 0 {
        bail!("--rounds and --loads must be at least 1");
    }
    if args.only.as_deref() == Some("postgres") && args.store.is_none() {
        bail!("--only postgres needs --store postgres://…");
    }
    Ok(args)
}

/// `1000000`, `1_000_000`, `1M` or `10M`.
fn number(text: &str) -> Result<u64> {
    let t = text.replace('_', "");
    let (digits, factor) = match t.strip_suffix(['M', 'm']) {
        Some(d) => (d, 1_000_000),
        None => match t.strip_suffix(['k', 'K']) {
            Some(d) => (d, 1_000),
            None => (t.as_str(), 1),
        },
    };
    Ok(digits
        .parse::<u64>()
        .with_context(|| format!("{text:?} is not a number"))?
        * factor)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let args = parse()?;
    let root = keksdose_tests::workspace_root();
    let machine = report::machine(&root);
    let mut figures = Vec::new();
    let only = args.only.as_deref();
    if only.is_none() || only == Some("ledger") {
        ledger::run(&args.ledger, &mut figures).await?;
    }
    let mut database = None;
    if let Some(url) = &args.store
        && only != Some("banner")
    {
        database = Some(postgres::run(&args.ledger, url, &mut figures).await?);
    }
    let mut banner = None;
    if only.is_none() || only == Some("banner") {
        banner = Some(banner::run(&args.banner, &mut figures).await?);
    }
    let settings = json!({
        "only": args.only,
        "store": args.store.as_deref().map(postgres::redact),
        "postgres": database,
        "banner": banner,
        "records": args.ledger.records,
        "rounds": args.ledger.rounds,
        "round_secs": args.ledger.round_secs,
        "loads": args.banner.loads,
        "server": keksdose_tests::binary(),
    });
    report::write(&args.out, &machine, &settings, &figures)?;
    println!("{}", std::fs::read_to_string(args.out.join("results.md"))?);
    let missed: Vec<String> = figures
        .iter()
        .filter(|f| f.met() == Some(false))
        .map(|f| format!("{}: {}", f.group, f.name))
        .collect();
    println!(
        "bench: wrote {} and results.md; {} figure(s), {} target(s) missed{}",
        args.out.join("results.json").display(),
        figures.len(),
        missed.len(),
        if missed.is_empty() {
            String::new()
        } else {
            format!(": {}", missed.join("; "))
        }
    );
    Ok(())
}
