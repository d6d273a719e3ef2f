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
mod store;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use keksdose_shared::SiteConfig;

use crate::settings::{Flags, Settings};
use crate::store::{SiteMeta, SledStore, Store};

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
    http::run(settings, store).with_context(|| format!("serving on {listen}"))
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
