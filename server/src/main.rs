//! `keksdose`: the Keksdose server and its admin CLI.
//!
//! This file is glue: it parses the command line and hands over to the modules —
//! [`settings`] (defaults < keksdose.toml < environment < flags), [`store`] (the
//! journal-backed ledger), [`http`] (the actix-web API), [`published`] (configs
//! ready to serve), [`pseudonym`] (keyed hashes), [`ratelimit`] and [`proxy`]
//! (who a client is and how often it may call), [`metrics`] and [`log`] (what the
//! operator sees) and [`demo`] (the built-in example sites). It owns no logic of
//! its own.

#![forbid(unsafe_code)]

mod demo;
mod http;
mod log;
mod metrics;
mod proxy;
mod pseudonym;
mod published;
mod ratelimit;
mod settings;
mod signing;
mod store;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use keksdose_shared::SiteConfig;

use crate::settings::{Flags, Settings};
use crate::store::{SiteMeta, SledStore, Store};

/// mimalloc instead of glibc's malloc: see the note in Cargo.toml.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Keksdose: consent banner server with tamper-evident proofs.
#[derive(Debug, Parser)]
#[command(name = "keksdose", version)]
struct Cli {
    /// Settings; see keksdose.example.toml for every one of them.
    #[command(flatten)]
    settings: Flags,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs the HTTP server.
    Serve {
        /// Also serve the built-in example sites (created if missing; their API
        /// keys are renewed and printed at every start).
        #[arg(long)]
        demo: bool,
    },
    /// Sites: create, list, rotate keys, publish configs.
    Site {
        #[command(subcommand)]
        command: SiteCommand,
    },
    /// Site configs.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Recomputes every record hash and chain link (offline; stop the server first).
    Verify {
        /// Only this site (default: every site).
        #[arg(long)]
        site: Option<String>,
    },
    /// Writes a site's records to standard output (offline).
    Export {
        #[arg(long)]
        site: String,
        /// `ndjson` (one record per line, as auditors recompute them) or `csv`.
        #[arg(long, default_value = "ndjson")]
        format: String,
        /// Only records received at or after this time (RFC 3339 or a date).
        #[arg(long)]
        from: Option<String>,
        /// Only records received before this time.
        #[arg(long)]
        to: Option<String>,
    },
    /// Retention: drops the personal content of records older than a duration
    /// (e.g. "3y"), keeping every hash so the chains still verify (offline).
    Purge {
        #[arg(long)]
        older_than: String,
        /// Only this site (default: every site).
        #[arg(long)]
        site: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum SiteCommand {
    /// Creates a site and prints its API key, once.
    Create {
        #[arg(long)]
        id: String,
        /// An origin allowed to embed the banner, e.g. https://www.example.com (repeatable).
        #[arg(long = "origin", required = true)]
        origins: Vec<String>,
        /// The site's config (TOML, or JSON if it ends in .json).
        #[arg(long)]
        config: PathBuf,
        /// Print `{"site": ..., "api_key": ...}`.
        #[arg(long)]
        json: bool,
    },
    /// Lists the sites.
    List,
    /// API keys.
    Key {
        #[command(subcommand)]
        command: KeyCommand,
    },
    /// Configs of a site.
    Config {
        #[command(subcommand)]
        command: SiteConfigCommand,
    },
}

#[derive(Debug, Subcommand)]
enum KeyCommand {
    /// Replaces a site's API key; the old one stops working at once.
    Rotate {
        #[arg(long)]
        id: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum SiteConfigCommand {
    /// Validates and publishes a new config version; old versions stay stored.
    Publish {
        #[arg(long)]
        id: String,
        #[arg(long)]
        config: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Parses and validates config files (TOML or JSON); lists every problem.
    Check {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load(&cli.settings) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match cli.command {
        Command::Serve { demo } => serve(&settings, demo),
        Command::Site { command } => block_on(site(&settings, command)),
        Command::Config {
            command: ConfigCommand::Check { files },
        } => check(&files),
        Command::Verify { site } => verify(&settings, site.as_deref()),
        Command::Export {
            site,
            format,
            from,
            to,
        } => export(&settings, &site, &format, from.as_deref(), to.as_deref()),
        Command::Purge { older_than, site } => {
            block_on(purge(&settings, &older_than, site.as_deref()))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn block_on<T, F: Future<Output = anyhow::Result<T>>>(f: F) -> anyhow::Result<T> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(f)
}

fn open(settings: &Settings) -> anyhow::Result<SledStore> {
    let data = &settings.data;
    SledStore::open_with_cache(data, settings.sled_cache_mb.saturating_mul(1024 * 1024))
        .with_context(|| format!("opening the data directory {}", data.display()))
}

fn new_key() -> (String, String) {
    let key = format!("{}{}", http::KEY_PREFIX, pseudonym::random_token(32));
    let hash = http::key_hash(&key);
    (key, hash)
}

fn serve(settings: &Settings, demo: bool) -> anyhow::Result<()> {
    let (data, listen) = (&settings.data, settings.listen);
    let store = open(settings)?;
    if demo {
        let base = format!("http://{listen}");
        let keys = block_on(async {
            let mut keys = Vec::new();
            for (id, config) in demo::configs()? {
                let (key, hash) = new_key();
                match store.site(id)? {
                    Some(meta) => {
                        store
                            .update_site(SiteMeta {
                                key_hash: hash,
                                origins: demo::origins(listen),
                                ..meta
                            })
                            .await?;
                        if store
                            .site(id)?
                            .is_some_and(|m| m.config_version != config.version())
                        {
                            store.publish_config(id, config).await?;
                        }
                    }
                    None => {
                        store
                            .create_site(new_site(id, demo::origins(listen), hash), config)
                            .await?
                    }
                }
                keys.push((id, key));
            }
            anyhow::Ok(keys)
        })?;
        println!("Keksdose demo: {base}/demo/");
        for (id, key) in keys {
            println!("  {id:<15} {base}/v1/sites/{id}/config   API key {key}");
        }
    }
    println!("Listening on http://{listen} (data in {})", data.display());
    let limits = &settings.rate_limits;
    let limit = |l: settings::Limit| match l.per_minute {
        0 => "off".to_string(),
        n => format!("{n}/min,burst={}", l.burst),
    };
    log::info(
        "starting",
        &[
            ("version", &env!("CARGO_PKG_VERSION")),
            ("listen", &listen),
            ("data", &data.display()),
            ("sled_cache_mb", &settings.sled_cache_mb),
            ("trusted_proxies", &settings.trusted_proxies.len()),
            ("metrics_token", &settings.metrics_token.is_some()),
            ("rate_consents", &limit(limits.consents)),
            ("rate_history", &limit(limits.history)),
            ("rate_config", &limit(limits.config)),
        ],
    );
    let signer = signing::Signer::load_or_create(data)
        .with_context(|| format!("the signing key in {}", data.display()))?;
    http::run(settings, store, signer).with_context(|| format!("serving on {listen}"))
}

fn new_site(id: &str, origins: Vec<String>, key_hash: String) -> SiteMeta {
    SiteMeta {
        id: id.to_string(),
        origins,
        created_at: keksdose_shared::time::rfc3339_millis(store::sled_store::now_ms()),
        key_hash,
        secret: pseudonym::random_token(32),
        config_version: String::new(),
    }
}

async fn site(settings: &Settings, command: SiteCommand) -> anyhow::Result<()> {
    let store = open(settings)?;
    match command {
        SiteCommand::Create {
            id,
            origins,
            config,
            json,
        } => {
            if !keksdose_shared::config::is_id(&id) {
                anyhow::bail!(
                    "--id: expected lowercase letters, digits, '-' and '_', starting with a letter, got {id:?}"
                );
            }
            for o in &origins {
                if !demo::is_origin(o) {
                    anyhow::bail!(
                        "--origin: expected an origin like https://www.example.com (no path), got {o:?}"
                    );
                }
            }
            let config = load(&config)?;
            let (key, hash) = new_key();
            store
                .create_site(new_site(&id, origins, hash), config)
                .await?;
            if json {
                println!("{}", serde_json::json!({"site": id, "api_key": key}));
            } else {
                println!("Created site {id}. Its API key (shown only now, keep it safe):\n{key}");
            }
        }
        SiteCommand::List => {
            for s in store.sites()? {
                let records = store.head(&s.id)?.map_or(0, |h| h.seq);
                println!(
                    "{:<20} config {}  {} records  origins {}",
                    s.id,
                    s.config_version,
                    records,
                    s.origins.join(" ")
                );
            }
        }
        SiteCommand::Key {
            command: KeyCommand::Rotate { id, json },
        } => {
            let meta = store
                .site(&id)?
                .with_context(|| format!("unknown site {id:?}"))?;
            let (key, hash) = new_key();
            store
                .update_site(SiteMeta {
                    key_hash: hash,
                    ..meta
                })
                .await?;
            if json {
                println!("{}", serde_json::json!({"site": id, "api_key": key}));
            } else {
                println!("New API key for {id} (the old one no longer works):\n{key}");
            }
        }
        SiteCommand::Config {
            command: SiteConfigCommand::Publish { id, config },
        } => {
            let config = load(&config)?;
            let version = store.publish_config(&id, config).await?;
            println!("Published config version {version} for {id}");
        }
    }
    Ok(())
}

/// The sites a command is about: one, or all.
fn chosen_sites(store: &SledStore, site: Option<&str>) -> anyhow::Result<Vec<String>> {
    match site {
        Some(id) => {
            store
                .site(id)?
                .with_context(|| format!("unknown site {id:?}"))?;
            Ok(vec![id.to_string()])
        }
        None => Ok(store.sites()?.into_iter().map(|s| s.id).collect()),
    }
}

fn verify(settings: &Settings, site: Option<&str>) -> anyhow::Result<()> {
    let store = open(settings)?;
    let mut broken = 0;
    for id in chosen_sites(&store, site)? {
        let (checked, first_broken) = store.verify_chain(&id)?;
        match first_broken {
            None => println!("{id}: {checked} records, chain intact"),
            Some(e) => {
                broken += 1;
                println!("{id}: BROKEN after {checked} good records: {e}");
            }
        }
    }
    if broken > 0 {
        anyhow::bail!("{broken} ledger(s) failed verification");
    }
    Ok(())
}

/// A bound for `--from`/`--to` in the RFC 3339 form records carry.
fn bound(name: &str, text: &str) -> anyhow::Result<String> {
    let full = if text.len() == 10 {
        format!("{text}T00:00:00Z")
    } else {
        text.to_string()
    };
    let ms = keksdose_shared::time::parse_rfc3339(&full).with_context(|| {
        format!("--{name}: expected a date like 2026-11-01 or an RFC 3339 time")
    })?;
    Ok(keksdose_shared::time::rfc3339_millis(ms))
}

fn export(
    settings: &Settings,
    site: &str,
    format: &str,
    from: Option<&str>,
    to: Option<&str>,
) -> anyhow::Result<()> {
    use std::io::Write as _;
    let csv = match format {
        "ndjson" => false,
        "csv" => true,
        other => anyhow::bail!("--format: expected ndjson or csv, got {other:?}"),
    };
    let from = from.map(|f| bound("from", f)).transpose()?;
    let to = to.map(|t| bound("to", t)).transpose()?;
    let store = open(settings)?;
    store
        .site(site)?
        .with_context(|| format!("unknown site {site:?}"))?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if csv {
        out.write_all(http::export::CSV_HEADER.as_bytes())?;
    }
    let mut next = 1;
    loop {
        let page = store.records(site, next, u64::MAX, 1000)?;
        let Some(last) = page.last() else { break };
        next = last.seq + 1;
        for r in &page {
            if from.as_ref().is_some_and(|f| &r.received_at < f)
                || to.as_ref().is_some_and(|t| &r.received_at >= t)
            {
                continue;
            }
            if csv {
                out.write_all(http::export::csv_line(r).as_bytes())?;
            } else {
                serde_json::to_writer(&mut out, r)?;
                out.write_all(b"\n")?;
            }
        }
    }
    out.flush()?;
    Ok(())
}

async fn purge(settings: &Settings, older_than: &str, site: Option<&str>) -> anyhow::Result<()> {
    let age = keksdose_shared::lifetime::Lifetime::parse(older_than)
        .ok()
        .and_then(keksdose_shared::lifetime::Lifetime::seconds)
        .with_context(|| {
            format!("--older-than: expected a duration like \"3y\" or \"36mo\", got {older_than:?}")
        })?;
    let cutoff = keksdose_shared::time::rfc3339_millis(
        store::sled_store::now_ms().saturating_sub(age * 1000),
    );
    let store = open(settings)?;
    for id in chosen_sites(&store, site)? {
        let mut erase = Vec::new();
        let mut next = 1;
        'pages: loop {
            let page = store.records(&id, next, u64::MAX, 1000)?;
            let Some(last) = page.last() else { break };
            next = last.seq + 1;
            for r in &page {
                if r.received_at >= cutoff {
                    break 'pages;
                }
                if r.personal.is_some() {
                    erase.push(store::Change::Erase {
                        site: id.clone(),
                        seq: r.seq,
                    });
                }
            }
        }
        let n = erase.len();
        store.change(erase).await?;
        println!(
            "{id}: dropped the personal content of {n} records received before {cutoff}; hashes kept"
        );
    }
    Ok(())
}

fn check(files: &[PathBuf]) -> anyhow::Result<()> {
    let mut failed = 0;
    for path in files {
        match load(path) {
            Ok(config) => println!(
                "{}: ok (version {}, {} services{})",
                path.display(),
                config.version(),
                config.services.len(),
                if config.needs_banner() {
                    ""
                } else {
                    ", only necessary: no banner"
                }
            ),
            Err(e) => {
                failed += 1;
                eprintln!("{}: invalid", path.display());
                for line in format!("{e:#}").lines() {
                    eprintln!("  {line}");
                }
            }
        }
    }
    if failed > 0 {
        anyhow::bail!("{failed} of {} configs are invalid", files.len());
    }
    Ok(())
}

/// Reads and validates a config file; TOML unless it ends in `.json`.
fn load(path: &Path) -> anyhow::Result<SiteConfig> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let config = if path.extension().is_some_and(|e| e == "json") {
        SiteConfig::from_json(&text)?
    } else {
        SiteConfig::from_toml(&text)?
    };
    config.validate()?;
    Ok(config)
}
