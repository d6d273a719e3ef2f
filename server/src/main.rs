//! `keksdose`: the Keksdose server and its admin CLI.
//!
//! This file only parses the command line and dispatches to [`cli`], whose
//! commands open the store and call the [`service`] layer — the same services
//! the HTTP handlers in [`http`] call. The other modules: [`settings`] (defaults
//! < keksdose.toml < environment < flags), [`published`] (configs ready to
//! serve), [`pseudonym`] (keyed hashes), [`ratelimit`] and [`proxy`] (who a
//! client is and how often it may call), [`signing`] (checkpoints), [`metrics`]
//! and [`log`] (what the operator sees) and [`demo`] (the built-in example
//! sites). The store itself is the `keksdose-store` trait with the embedded
//! backend of `keksdose-store-sled`.

#![forbid(unsafe_code)]

mod backend;
mod cli;
mod demo;
mod http;
mod log;
mod metrics;
mod proxy;
mod pseudonym;
mod published;
mod ratelimit;
mod service;
mod settings;
mod signing;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use futures_util::FutureExt as _;

use crate::cli::block_on;
use crate::settings::{Flags, Settings};

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
    /// Copies the store (the embedded one in `data`; stop its server first)
    /// into a PostgreSQL database and verifies every site there (again after
    /// an interruption: it goes on where the target ends).
    Migrate {
        /// The target database, `postgres://…`.
        #[arg(long)]
        to: String,
    },
    /// The PostgreSQL store's schema.
    Db {
        #[command(subcommand)]
        command: DbCommand,
    },
    /// Retention: applies each site's retention rules now (what the server does
    /// on its own every `retention_every_secs`), or with --older-than drops the
    /// personal content of every record older than a duration (e.g. "3y");
    /// every hash is kept, so the chains still verify (offline).
    Purge {
        #[arg(long)]
        older_than: Option<String>,
        /// Only this site (default: every site).
        #[arg(long)]
        site: Option<String>,
    },
    /// Checks a proof pack (`GET …/consents/{id}/proof-pack`) offline: every
    /// record's hashes, the ledger from each to a signed checkpoint, the
    /// signatures, the config versions. Needs no server and no data directory.
    VerifyProof {
        /// The pack (JSON).
        file: std::path::PathBuf,
    },
    /// The console's operator accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Scans a site in headless Chromium: each page with no decision, after "Nur
    /// Notwendige" and after "Alle akzeptieren" (a fresh profile each time), every
    /// cookie, storage key and third-party request held to the site's published
    /// config. Exits 1 when a violation is found (or, with --fail-on-warning, a
    /// warning), 2 when the scan itself failed.
    Scan(Box<ScanArgs>),
}

#[derive(Debug, clap::Args)]
struct ScanArgs {
    /// The first page to visit.
    url: String,
    /// The site id (the page's loader tag must name the same).
    #[arg(long)]
    site: String,
    /// At most this many pages, the first included; others are found through
    /// same-origin links, or the sitemap.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..))]
    pages: u16,
    /// Visit the pages this sitemap lists (up to --pages) instead of following links.
    #[arg(long)]
    sitemap: Option<String>,
    /// The Keksdose server's base URL, when not the one the page's loader tag names.
    #[arg(long)]
    server: Option<String>,
    /// Seconds a page may take to load; a page that takes longer is reported.
    #[arg(long, default_value_t = 20)]
    timeout: u64,
    /// Visits at a time (each is a Chromium of its own).
    #[arg(long, default_value_t = 2)]
    jobs: usize,
    /// Exits 1 on a warning too (a page that did not load, a decision not
    /// acknowledged: an incomplete scan), not only on a violation.
    #[arg(long)]
    fail_on_warning: bool,
    /// Writes the report as JSON (schema: docs/contract.md, "The scan report").
    #[arg(long)]
    json: Option<PathBuf>,
    /// Writes the report as one self-contained HTML page.
    #[arg(long)]
    html: Option<PathBuf>,
    /// chromedriver (Debian: chromium-driver), by path or on PATH.
    #[arg(long, env = "CHROMEDRIVER", default_value = "chromedriver")]
    chromedriver: String,
    /// Chromium (Debian: chromium), by path or on PATH.
    #[arg(long, env = "CHROMIUM", default_value = "chromium")]
    chromium: String,
    /// One more flag for Chromium (repeatable), e.g. --chromium-arg=--proxy-server=…
    #[arg(long = "chromium-arg", allow_hyphen_values = true)]
    chromium_args: Vec<String>,
}

/// `keksdose user …`: accounts of the console (`/console/`), each with a role
/// per site: `admin` (everything, users, the API key), `editor` (the config),
/// `dpo` (read, verify, export, subject requests, withdrawals; no publishing).
#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Gives EMAIL a role on a site; a new account gets an initial password,
    /// printed once.
    Add {
        email: String,
        #[arg(long)]
        site: String,
        /// admin, editor or dpo.
        #[arg(long)]
        role: String,
        #[arg(long)]
        json: bool,
    },
    /// Every account with its roles (or those with a role on one site).
    List {
        #[arg(long)]
        site: Option<String>,
    },
    /// Changes EMAIL's role on a site (`--role none` takes it away).
    Set {
        email: String,
        #[arg(long)]
        site: String,
        #[arg(long)]
        role: String,
    },
    /// Deletes an account (its id stays in the audit trail).
    Remove { email: String },
    /// Sets a new initial password for EMAIL, printed once; their sessions end.
    Password {
        email: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum SiteCommand {
    /// Creates a site and prints its API key, once.
    Create {
        #[arg(long)]
        id: String,
        /// An origin allowed to embed the banner, e.g. `https://www.example.com` (repeatable).
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
enum DbCommand {
    /// Creates or migrates the schema of the database `store` names (the
    /// server also does so at start).
    Migrate,
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
    let s = &settings;
    if let Command::Scan(args) = cli.command {
        return scan(*args);
    }
    let result = match cli.command {
        Command::Serve { demo } => cli::serve(s, demo),
        Command::Site { command } => match command {
            SiteCommand::Create {
                id,
                origins,
                config,
                json,
            } => block_on(cli::site_create(s, &id, origins, &config, json)),
            SiteCommand::List => block_on(cli::site_list(s)),
            SiteCommand::Key {
                command: KeyCommand::Rotate { id, json },
            } => block_on(cli::key_rotate(s, &id, json)),
            SiteCommand::Config {
                command: SiteConfigCommand::Publish { id, config },
            } => block_on(cli::config_publish(s, &id, &config)),
        },
        Command::Config {
            command: ConfigCommand::Check { files },
        } => cli::check(&files),
        Command::Verify { site } => block_on(cli::verify(s, site.as_deref())),
        Command::VerifyProof { file } => cli::verify_proof(&file),
        Command::User { command } => block_on(match command {
            UserCommand::Add {
                email,
                site,
                role,
                json,
            } => cli::user_add(s, email, site, role, json).boxed(),
            UserCommand::List { site } => cli::user_list(s, site).boxed(),
            UserCommand::Set { email, site, role } => cli::user_set(s, email, site, role).boxed(),
            UserCommand::Remove { email } => cli::user_remove(s, email).boxed(),
            UserCommand::Password { email, json } => cli::user_password(s, email, json).boxed(),
        }),
        Command::Export {
            site,
            format,
            from,
            to,
        } => block_on(cli::export(
            s,
            &site,
            &format,
            from.as_deref(),
            to.as_deref(),
        )),
        Command::Db {
            command: DbCommand::Migrate,
        } => block_on(cli::db_migrate(s)),
        Command::Migrate { to } => block_on(cli::migrate(s, &to)),
        Command::Purge { older_than, site } => {
            block_on(cli::purge(s, older_than.as_deref(), site.as_deref()))
        }
        Command::Scan(_) => Ok(()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// `keksdose scan`: 0 clean, 1 violations found (or warnings, with
/// `--fail-on-warning`), 2 the scan failed.
fn scan(args: ScanArgs) -> ExitCode {
    let options = keksdose_scan::Options {
        url: args.url,
        site: args.site,
        pages: usize::from(args.pages),
        sitemap: args.sitemap,
        server: args.server,
        timeout: std::time::Duration::from_secs(args.timeout.max(1)),
        jobs: args.jobs.max(1),
        chromedriver: args.chromedriver,
        chromium: args.chromium,
        chromium_args: args.chromium_args,
    };
    // The files are made before the scan (its decisions go into the ledger), so
    // an unwritable path fails at once, not after it.
    for path in [&args.json, &args.html].into_iter().flatten() {
        if let Err(e) = std::fs::File::create(path) {
            eprintln!("error: cannot write {}: {e}", path.display());
            return ExitCode::from(2);
        }
    }
    let written = block_on(async {
        // Interrupted, the scan's futures are dropped, and with them chromedriver
        // and its browsers (their own process group, which Ctrl-C does not reach).
        use tokio::signal::unix::{SignalKind, signal};
        let (mut term, mut hup) = (
            signal(SignalKind::terminate())?,
            signal(SignalKind::hangup())?,
        );
        let report = tokio::select! {
            report = keksdose_scan::run(&options) => report?,
            _ = tokio::signal::ctrl_c() => anyhow::bail!("interrupted"),
            _ = term.recv() => anyhow::bail!("terminated"),
            _ = hup.recv() => anyhow::bail!("hung up"),
        };
        if let Some(path) = &args.json {
            std::fs::write(path, serde_json::to_string_pretty(&report)? + "\n")
                .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))?;
        }
        if let Some(path) = &args.html {
            std::fs::write(path, report.html())
                .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))?;
        }
        Ok(report)
    });
    match written {
        Ok(report) => {
            print!("{}", report.summary());
            if report.violations() > 0 || (args.fail_on_warning && report.counts.warning > 0) {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
