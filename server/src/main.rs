//! `keksdose`: the Keksdose server and its admin CLI.
//!
//! This file is glue: it parses the command line and hands over to the library
//! modules — [`sites`] (published site configs), [`demo`] (the built-in example
//! sites) and [`http`] (the actix-web API). It owns no logic of its own.

#![forbid(unsafe_code)]

mod demo;
mod http;
mod sites;
#[allow(dead_code)] // wired into the HTTP API in the next commits
mod store;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use keksdose_shared::SiteConfig;

/// Keksdose: consent banner server with tamper-evident proofs.
#[derive(Debug, Parser)]
#[command(name = "keksdose", version)]
struct Cli {
    /// Where the server keeps its data.
    #[arg(
        long,
        global = true,
        env = "KEKSDOSE_DATA",
        default_value = "./keksdose-data"
    )]
    data: PathBuf,
    /// Address the HTTP server listens on.
    #[arg(
        long,
        global = true,
        env = "KEKSDOSE_LISTEN",
        default_value = "127.0.0.1:8080"
    )]
    listen: SocketAddr,
    /// Folder of static files (the loader, the built banner, the demo pages).
    #[arg(long, global = true, env = "KEKSDOSE_STATIC", default_value = "static")]
    static_dir: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs the HTTP server.
    Serve {
        /// Also serve the built-in example sites and the demo pages.
        #[arg(long)]
        demo: bool,
    },
    /// Site configs.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
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
    let result = match cli.command {
        Command::Serve { demo } => serve(&cli.listen, &cli.static_dir, demo),
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

fn serve(listen: &SocketAddr, static_dir: &std::path::Path, demo: bool) -> anyhow::Result<()> {
    let mut registry = sites::Sites::default();
    if demo {
        for site in demo::sites(*listen)? {
            registry.insert(site);
        }
    }
    let base = format!("http://{listen}");
    if demo {
        println!("Keksdose demo on {base}/demo/");
        for site in registry.iter() {
            let note = if site.config.needs_banner() {
                ""
            } else {
                "  (only necessary: no banner)"
            };
            println!(
                "  site {:<15} config {base}/v1/sites/{}/config{note}",
                site.id, site.id
            );
        }
    }
    http::run(*listen, static_dir.to_path_buf(), registry)
        .with_context(|| format!("serving on {listen}"))
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
fn load(path: &std::path::Path) -> anyhow::Result<SiteConfig> {
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
