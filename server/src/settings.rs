//! The server's settings, in layers: built-in defaults < `keksdose.toml` <
//! `KEKSDOSE_*` environment variables < command-line flags.
//!
//! The file is `--config FILE` (or `KEKSDOSE_CONFIG`), else `./keksdose.toml` if it
//! exists; `keksdose.example.toml` at the repository root documents every key.
//! Unknown keys are an error that names them. Environment variables and flags are
//! the same [`Flags`] (clap reads a flag's variable when the flag is absent), so
//! they are applied as one layer over the file. Site configs are not settings:
//! they live in the store. `Debug` of [`Settings`] redacts secrets ([`Secret`]).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::Deserialize;

use crate::proxy::Cidr;

/// Where the file layer comes from when neither `--config` nor `KEKSDOSE_CONFIG`
/// names one (and it exists).
pub const DEFAULT_FILE: &str = "keksdose.toml";

/// Every setting, resolved.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// The ledger's store: `postgres://…` for PostgreSQL; unset, the embedded
    /// store in `data`. A secret (the URL may hold a password).
    pub store: Option<Secret>,
    /// Where the server keeps its data (the embedded store, the signing key).
    pub data: PathBuf,
    /// Address the HTTP server listens on.
    pub listen: SocketAddr,
    /// Folder of static files (loader, built banner, demo pages).
    pub static_dir: PathBuf,
    /// sled's page cache, in MiB (sled's own default of 1 GB is far too much).
    pub sled_cache_mb: u64,
    /// How often the heads of grown ledgers are signed, in seconds. Servers
    /// sharing a database take turns: one of them at a time signs.
    pub checkpoint_every_secs: u64,
    /// How often each site's retention rules are applied, in seconds; one
    /// server of those sharing a database does it at a time.
    pub retention_every_secs: u64,
    /// Proxies whose `X-Forwarded-For` is believed (see [`crate::proxy`]).
    pub trusted_proxies: Vec<Cidr>,
    /// If set, `GET /metrics` requires `Authorization: Bearer <token>`.
    pub metrics_token: Option<Secret>,
    /// Redis for rate-limit buckets that every server shares (`redis://…`);
    /// unset, each server keeps its own. A secret (the URL may hold a password).
    pub redis_url: Option<Secret>,
    /// How long a rate-limit check waits for Redis, in ms, before this
    /// server's own buckets decide it.
    pub redis_timeout_ms: u64,
    pub rate_limits: RateLimitSettings,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            store: None,
            data: PathBuf::from("./keksdose-data"),
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            static_dir: PathBuf::from("static"),
            sled_cache_mb: 32,
            checkpoint_every_secs: 600,
            retention_every_secs: 3600,
            trusted_proxies: Vec::new(),
            metrics_token: None,
            redis_url: None,
            redis_timeout_ms: 100,
            rate_limits: RateLimitSettings::default(),
        }
    }
}

/// Per client (its /24 or /48 network) and, where the path names one, per site.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitSettings {
    /// `POST /v1/sites/{site}/consents`
    pub consents: Limit,
    /// `GET /v1/consents/{consent_id}` (per client across sites: it names none)
    pub history: Limit,
    /// `GET /v1/sites/{site}/config`
    pub config: Limit,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        RateLimitSettings {
            // A visitor decides a handful of times per visit; an office behind one
            // /24 still rarely has ten people deciding in the same few seconds.
            consents: Limit {
                per_minute: 30,
                burst: 10,
            },
            history: Limit {
                per_minute: 60,
                burst: 20,
            },
            config: Limit {
                per_minute: 600,
                burst: 100,
            },
        }
    }
}

/// A token bucket: `per_minute` requests on average, `burst` at once.
/// `per_minute = 0` turns the limit off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limit {
    pub per_minute: u32,
    pub burst: u32,
}

impl FromStr for Limit {
    type Err = String;

    /// `PER_MINUTE:BURST` (e.g. `30:10`) or `off`.
    fn from_str(s: &str) -> Result<Limit, String> {
        if s.trim() == "off" {
            return Ok(Limit {
                per_minute: 0,
                burst: 0,
            });
        }
        let bad = || format!("expected PER_MINUTE:BURST like \"30:10\", or \"off\", got {s:?}");
        let (rate, burst) = s.split_once(':').ok_or_else(bad)?;
        Limit {
            per_minute: rate.trim().parse().map_err(|_| bad())?,
            burst: burst.trim().parse().map_err(|_| bad())?,
        }
        .checked()
    }
}

impl Limit {
    fn checked(self) -> Result<Limit, String> {
        if self.per_minute > 0 && self.burst == 0 {
            return Err(
                "burst: must be at least 1 (or per_minute = 0 to turn the limit off)".into(),
            );
        }
        Ok(self)
    }
}

/// A value that `Debug` never shows.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// The settings as flags, each also read from its `KEKSDOSE_*` variable. Absent
/// ones leave the layers below alone.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Flags {
    /// Settings file [default: ./keksdose.toml if it exists]. Give it before the
    /// subcommand: `keksdose --config /etc/keksdose.toml serve`.
    #[arg(long = "config", env = "KEKSDOSE_CONFIG", value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// The ledger's store: a PostgreSQL URL (postgres://user@host/db) [default:
    /// the embedded store in --data].
    #[arg(
        long,
        global = true,
        env = "KEKSDOSE_STORE",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub store: Option<String>,
    /// Where the server keeps its data [default: ./keksdose-data].
    #[arg(long, global = true, env = "KEKSDOSE_DATA")]
    pub data: Option<PathBuf>,
    /// Address the HTTP server listens on [default: 127.0.0.1:8080].
    #[arg(long, global = true, env = "KEKSDOSE_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Folder of static files (the loader, the built banner, the demo pages)
    /// [default: static].
    #[arg(long, global = true, env = "KEKSDOSE_STATIC")]
    pub static_dir: Option<PathBuf>,
    /// sled's page cache in MiB [default: 32].
    #[arg(
        long,
        global = true,
        env = "KEKSDOSE_SLED_CACHE_MB",
        value_name = "MIB"
    )]
    pub sled_cache_mb: Option<u64>,
    /// Seconds between periodic checkpoints [default: 600].
    #[arg(
        long,
        global = true,
        env = "KEKSDOSE_CHECKPOINT_EVERY_SECS",
        value_name = "SECONDS",
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub checkpoint_every_secs: Option<u64>,
    /// Seconds between runs of the sites' retention rules [default: 3600].
    #[arg(
        long,
        global = true,
        env = "KEKSDOSE_RETENTION_EVERY_SECS",
        value_name = "SECONDS",
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub retention_every_secs: Option<u64>,
    /// Proxies (IPs or CIDR ranges, comma-separated) whose X-Forwarded-For is
    /// believed [default: none].
    #[arg(
        long,
        global = true,
        env = "KEKSDOSE_TRUSTED_PROXIES",
        value_delimiter = ',',
        value_name = "CIDR"
    )]
    pub trusted_proxies: Option<Vec<Cidr>>,
    /// Bearer token that GET /metrics requires [default: none, metrics are public].
    #[arg(
        long,
        global = true,
        env = "KEKSDOSE_METRICS_TOKEN",
        hide_env_values = true
    )]
    pub metrics_token: Option<String>,
    /// Redis that every server's rate-limit buckets share, as
    /// redis://:password@host:6379/0 [default: none, each server its own].
    #[arg(
        long,
        global = true,
        env = "KEKSDOSE_REDIS_URL",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub redis_url: Option<String>,
    /// Milliseconds a rate-limit check waits for Redis before this server's own
    /// buckets decide it [default: 100].
    #[arg(
        long,
        global = true,
        env = "KEKSDOSE_REDIS_TIMEOUT_MS",
        value_name = "MS",
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub redis_timeout_ms: Option<u64>,
    /// Limit on recording consents per client and site, PER_MINUTE:BURST or off [default: 30:10].
    #[arg(
        long,
        global = true,
        env = "KEKSDOSE_RATE_CONSENTS",
        value_name = "LIMIT"
    )]
    pub rate_consents: Option<Limit>,
    /// Limit on visitor history lookups per client [default: 60:20].
    #[arg(
        long,
        global = true,
        env = "KEKSDOSE_RATE_HISTORY",
        value_name = "LIMIT"
    )]
    pub rate_history: Option<Limit>,
    /// Limit on config fetches per client and site [default: 600:100].
    #[arg(
        long,
        global = true,
        env = "KEKSDOSE_RATE_CONFIG",
        value_name = "LIMIT"
    )]
    pub rate_config: Option<Limit>,
}

/// Why the settings could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
    /// A value that is wrong whichever layer set it (the value is not shown: it
    /// may be a secret).
    #[error("{0}")]
    Value(String),
}

impl Settings {
    /// Resolves every layer: defaults, the file, then environment and flags.
    pub fn load(flags: &Flags) -> Result<Settings, SettingsError> {
        let default_file = Path::new(DEFAULT_FILE);
        let file = match &flags.file {
            Some(path) => Some(path.as_path()),
            None => default_file.is_file().then_some(default_file),
        };
        let base = match file {
            None => Settings::default(),
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| SettingsError::Read {
                    path: path.to_path_buf(),
                    source,
                })?;
                Settings::from_toml(&text).map_err(|message| SettingsError::Invalid {
                    path: path.to_path_buf(),
                    message,
                })?
            }
        };
        let settings = base.with(flags);
        settings.check().map_err(SettingsError::Value)?;
        Ok(settings)
    }

    /// What can only be checked once every layer is in: the Redis URL parses
    /// (its text, which may hold a password, is not repeated).
    pub fn check(&self) -> Result<(), String> {
        if let Some(url) = &self.redis_url {
            redis::Client::open(url.expose()).map_err(|e| {
                format!(
                    "redis_url: expected a Redis URL like \"redis://[:password@]host[:port][/db]\" ({e})"
                )
            })?;
        }
        Ok(())
    }

    /// [`Settings::redis_timeout_ms`] as a duration.
    pub fn redis_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.redis_timeout_ms)
    }

    /// The file layer over the defaults.
    pub fn from_toml(text: &str) -> Result<Settings, String> {
        let s: Settings = toml::from_str(text).map_err(|e| e.to_string().trim_end().to_string())?;
        if s.checkpoint_every_secs == 0 {
            return Err("checkpoint_every_secs: must be at least 1".into());
        }
        if s.retention_every_secs == 0 {
            return Err("retention_every_secs: must be at least 1".into());
        }
        if s.redis_timeout_ms == 0 {
            return Err("redis_timeout_ms: must be at least 1".into());
        }
        for (name, limit) in [
            ("consents", s.rate_limits.consents),
            ("history", s.rate_limits.history),
            ("config", s.rate_limits.config),
        ] {
            limit
                .checked()
                .map_err(|e| format!("rate_limits.{name}.{e}"))?;
        }
        Ok(s)
    }

    /// Environment variables and flags over everything else.
    pub fn with(mut self, f: &Flags) -> Settings {
        fn set<T: Clone>(slot: &mut T, value: &Option<T>) {
            if let Some(v) = value {
                *slot = v.clone();
            }
        }
        set(&mut self.data, &f.data);
        set(&mut self.listen, &f.listen);
        set(&mut self.static_dir, &f.static_dir);
        set(&mut self.sled_cache_mb, &f.sled_cache_mb);
        set(&mut self.checkpoint_every_secs, &f.checkpoint_every_secs);
        set(&mut self.retention_every_secs, &f.retention_every_secs);
        set(&mut self.trusted_proxies, &f.trusted_proxies);
        set(&mut self.redis_timeout_ms, &f.redis_timeout_ms);
        set(&mut self.rate_limits.consents, &f.rate_consents);
        set(&mut self.rate_limits.history, &f.rate_history);
        set(&mut self.rate_limits.config, &f.rate_config);
        if let Some(t) = &f.metrics_token {
            self.metrics_token = Some(Secret(t.clone()));
        }
        if let Some(url) = &f.store {
            self.store = Some(Secret(url.clone()));
        }
        if let Some(url) = &f.redis_url {
            self.redis_url = Some(Secret(url.clone()));
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn each_layer_overrides_the_one_below() {
        let file = Settings::from_toml(
            r#"
            listen = "0.0.0.0:9000"
            data = "/var/lib/keksdose"
            trusted_proxies = ["10.0.0.0/8", "127.0.0.1"]
            [rate_limits.consents]
            per_minute = 5
            burst = 2
            "#,
        )
        .unwrap();
        let d = Settings::default();
        assert_eq!(file.listen.to_string(), "0.0.0.0:9000");
        assert_eq!(
            file.static_dir, d.static_dir,
            "unset keys keep their default"
        );
        assert_eq!(file.rate_limits.history, d.rate_limits.history);
        assert_eq!(
            file.rate_limits.consents,
            Limit {
                per_minute: 5,
                burst: 2
            }
        );
        assert_eq!(file.trusted_proxies.len(), 2);

        let flags = Flags {
            data: Some("/tmp/k".into()),
            rate_consents: Some("off".parse().unwrap()),
            ..Flags::default()
        };
        let s = file.with(&flags);
        assert_eq!(s.data, PathBuf::from("/tmp/k"));
        assert_eq!(
            s.listen.to_string(),
            "0.0.0.0:9000",
            "the file still counts"
        );
        assert_eq!(s.rate_limits.consents.per_minute, 0);
    }

    #[test]
    fn unknown_keys_and_bad_values_are_errors_that_say_where() {
        let e = Settings::from_toml("lisen = \"127.0.0.1:1\"").unwrap_err();
        assert!(e.contains("lisen"), "{e}");
        let e = Settings::from_toml("[rate_limits]\nconsent = { per_minute = 1, burst = 1 }")
            .unwrap_err();
        assert!(e.contains("consent"), "{e}");
        let e = Settings::from_toml("trusted_proxies = [\"10.0.0.0/40\"]").unwrap_err();
        assert!(e.contains("10.0.0.0/40"), "{e}");
        let e =
            Settings::from_toml("[rate_limits.history]\nper_minute = 5\nburst = 0").unwrap_err();
        assert!(e.starts_with("rate_limits.history.burst"), "{e}");
        assert!("30".parse::<Limit>().is_err());
        assert_eq!(
            "30:10".parse::<Limit>(),
            Ok(Limit {
                per_minute: 30,
                burst: 10
            })
        );
    }

    #[test]
    fn a_redis_url_is_a_secret_from_every_layer_and_checked_without_repeating_it() {
        let file = Settings::from_toml("redis_url = \"redis://:hunter2@10.0.0.5:6379/2\"").unwrap();
        assert_eq!(file.check(), Ok(()));
        assert!(!format!("{file:?}").contains("hunter2"));
        let flags = Flags {
            redis_url: Some("redis://:pw@cache.internal".into()),
            ..Flags::default()
        };
        let s = file.with(&flags);
        assert_eq!(
            s.redis_url.as_ref().map(Secret::expose),
            Some("redis://:pw@cache.internal")
        );
        let bad = Settings {
            redis_url: Some(Secret("http://:hunter2@10.0.0.5".into())),
            ..Settings::default()
        };
        let e = bad.check().unwrap_err();
        assert!(e.starts_with("redis_url: "), "{e}");
        assert!(!e.contains("hunter2"), "{e}");
    }

    #[test]
    fn the_redis_timeout_is_layered_and_at_least_one_ms() {
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            flags: Flags,
        }
        let parse = |args: &[&str]| {
            <Cli as clap::Parser>::try_parse_from(
                std::iter::once("keksdose").chain(args.iter().copied()),
            )
            .map(|cli| cli.flags)
        };
        assert_eq!(
            Settings::default().redis_timeout(),
            Duration::from_millis(100)
        );
        let file = Settings::from_toml("redis_timeout_ms = 250").unwrap();
        assert_eq!(file.redis_timeout_ms, 250);
        assert_eq!(file.clone().with(&Flags::default()).redis_timeout_ms, 250);
        let flags = parse(&["--redis-timeout-ms", "2000"]).unwrap();
        assert_eq!(flags.redis_timeout_ms, Some(2000));
        assert_eq!(file.with(&flags).redis_timeout(), Duration::from_secs(2));
        let e = Settings::from_toml("redis_timeout_ms = 0").unwrap_err();
        assert!(e.starts_with("redis_timeout_ms: "), "{e}");
        assert!(parse(&["--redis-timeout-ms", "0"]).is_err());
    }

    #[test]
    fn debug_never_shows_a_secret() {
        let s = Settings::from_toml("metrics_token = \"hunter2-very-secret\"").unwrap();
        assert_eq!(
            s.metrics_token.as_ref().map(Secret::expose),
            Some("hunter2-very-secret")
        );
        let shown = format!("{s:?}");
        assert!(
            !shown.contains("hunter2") && shown.contains("<redacted>"),
            "{shown}"
        );
    }

    #[test]
    fn the_example_file_documents_every_key_with_its_default() {
        let text = include_str!("../../keksdose.example.toml");
        assert_eq!(Settings::from_toml(text).unwrap(), Settings::default());
        // Uncommented, every key parses and still equals its default.
        let uncommented: String = text
            .lines()
            .map(|l| match l.strip_prefix("# ") {
                Some(rest)
                    if rest.starts_with('[')
                        || rest.split_once(" = ").is_some_and(|(k, _)| {
                            k.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
                        }) =>
                {
                    rest
                }
                _ => l,
            })
            .map(|l| format!("{l}\n"))
            .collect();
        let all = Settings::from_toml(&uncommented).unwrap();
        assert!(all.metrics_token.is_some(), "{uncommented}");
        assert!(all.store.is_some(), "{uncommented}");
        assert!(all.redis_url.is_some(), "{uncommented}");
        assert_eq!(all.check(), Ok(()));
        assert_eq!(
            Settings {
                metrics_token: None,
                store: None,
                redis_url: None,
                ..all
            },
            Settings::default()
        );
    }
}
