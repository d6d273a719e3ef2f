//! The first-party consent cookie: a compact, versioned, strictly parsed form of a
//! visitor's decision, read by the loader on every page view.
//!
//! ```text
//! 1.<consent_id>.<pending>.<decided_at>.<config_version>.<revision>.<action>.<flags>.<granted>.<denied>
//! ```
//!
//! Fields are separated by `.`; `granted` and `denied` are ids joined by `:`, sorted
//! and disjoint; `flags` is `g` (GPC), `d` (DNT), both as `gd`, or empty; `pending`
//! is the idempotency key of a decision not yet acknowledged by the server (the
//! banner sends it again until a receipt arrives). Every character is a valid
//! cookie octet, so the value needs no encoding. There is exactly one encoding of
//! a decision: a value that [`StoredDecision::encode`] would not produce is refused,
//! and a refused cookie means "no decision" (the banner asks again). The JavaScript
//! loader implements the same parser and is tested against `shared/vectors/cookie.json`.

use std::collections::BTreeSet;

use crate::config::validate::is_id;
use crate::consent_request::is_token;
use crate::decision::{Action, Choices, Signals};

/// The start of the cookie's name; the site id follows ([`name`]).
pub const PREFIX: &str = "keksdose_";

/// The cookie's name for a site: `keksdose_<site id>`. Sites that share a host
/// (a shop and its blog, the demo sites) never read each other's decisions.
pub fn name(site: &str) -> String {
    format!("{PREFIX}{site}")
}

/// The format version, the value's first field.
pub const VERSION: &str = "1";

/// The longest value we write; browsers keep at least 4096 bytes per cookie
/// including its name and attributes.
pub const MAX_LEN: usize = 3800;

/// A decision as the visitor's browser keeps it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredDecision {
    /// The server's consent ID; `None` until the first receipt arrived.
    pub consent_id: Option<String>,
    /// Idempotency key of a decision the server has not acknowledged yet.
    pub pending: Option<String>,
    /// Unix time in seconds.
    pub decided_at: u64,
    pub config_version: String,
    /// The config's `consent.revision` at the time.
    pub revision: u32,
    pub action: Action,
    pub signals: Signals,
    /// Ids (categories and services) allowed.
    pub granted: BTreeSet<String>,
    /// Ids refused.
    pub denied: BTreeSet<String>,
}

/// Why a cookie value was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CookieError {
    #[error("unknown cookie format version")]
    Version,
    #[error("wrong number of fields")]
    Fields,
    #[error("malformed field {0}")]
    Field(&'static str),
    #[error("an id is both granted and denied")]
    Overlap,
    #[error("longer than {MAX_LEN} bytes")]
    TooLong,
}

fn is_number(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 13
        && s.bytes().all(|b| b.is_ascii_digit())
        && (s == "0" || !s.starts_with('0'))
}

impl StoredDecision {
    /// The stored form of resolved choices.
    pub fn from_choices(
        choices: &Choices,
        action: Action,
        config_version: &str,
        revision: u32,
        decided_at: u64,
        signals: Signals,
    ) -> StoredDecision {
        let (granted, denied) = choices.iter().fold(
            (BTreeSet::new(), BTreeSet::new()),
            |(mut g, mut d), (id, on)| {
                if on {
                    g.insert(id.to_string())
                } else {
                    d.insert(id.to_string())
                };
                (g, d)
            },
        );
        StoredDecision {
            consent_id: None,
            pending: None,
            decided_at,
            config_version: config_version.to_string(),
            revision,
            action,
            signals,
            granted,
            denied,
        }
    }

    /// Whether a service or category is allowed.
    pub fn allowed(&self, id: &str) -> bool {
        self.granted.contains(id)
    }

    /// The cookie value.
    pub fn encode(&self) -> Result<String, CookieError> {
        let ids_ok = |set: &BTreeSet<String>| set.iter().all(|id| is_id(id));
        if !self.consent_id.as_deref().is_none_or(is_token) {
            return Err(CookieError::Field("consent_id"));
        }
        if !self.pending.as_deref().is_none_or(is_token) {
            return Err(CookieError::Field("pending"));
        }
        if !is_token(&self.config_version) {
            return Err(CookieError::Field("config_version"));
        }
        if !ids_ok(&self.granted) || !ids_ok(&self.denied) {
            return Err(CookieError::Field("ids"));
        }
        if self.granted.intersection(&self.denied).next().is_some() {
            return Err(CookieError::Overlap);
        }
        let join =
            |set: &BTreeSet<String>| set.iter().map(String::as_str).collect::<Vec<_>>().join(":");
        let flags = match (self.signals.gpc, self.signals.dnt) {
            (true, true) => "gd",
            (true, false) => "g",
            (false, true) => "d",
            (false, false) => "",
        };
        let value = [
            VERSION,
            self.consent_id.as_deref().unwrap_or(""),
            self.pending.as_deref().unwrap_or(""),
            &self.decided_at.to_string(),
            &self.config_version,
            &self.revision.to_string(),
            &self.action.code().to_string(),
            flags,
            &join(&self.granted),
            &join(&self.denied),
        ]
        .join(".");
        if value.len() > MAX_LEN {
            return Err(CookieError::TooLong);
        }
        Ok(value)
    }

    /// Reads a cookie value; anything [`encode`](Self::encode) would not write is refused.
    pub fn decode(value: &str) -> Result<StoredDecision, CookieError> {
        if value.len() > MAX_LEN {
            return Err(CookieError::TooLong);
        }
        let fields: Vec<&str> = value.split('.').collect();
        if fields.first() != Some(&VERSION) {
            return Err(CookieError::Version);
        }
        let [
            _,
            consent_id,
            pending,
            decided_at,
            config_version,
            revision,
            action,
            flags,
            granted,
            denied,
        ] = fields[..]
        else {
            return Err(CookieError::Fields);
        };
        let optional = |s: &str, name| match s {
            "" => Ok(None),
            s if is_token(s) => Ok(Some(s.to_string())),
            _ => Err(CookieError::Field(name)),
        };
        let number = |s: &str, name| {
            if is_number(s) {
                s.parse::<u64>().map_err(|_| CookieError::Field(name))
            } else {
                Err(CookieError::Field(name))
            }
        };
        let ids = |s: &str, name| -> Result<BTreeSet<String>, CookieError> {
            if s.is_empty() {
                return Ok(BTreeSet::new());
            }
            let list: Vec<&str> = s.split(':').collect();
            // Sorted and unique: the one canonical encoding.
            if !list.iter().all(|id| is_id(id)) || !list.windows(2).all(|w| w[0] < w[1]) {
                return Err(CookieError::Field(name));
            }
            let mut set = BTreeSet::new();
            for id in list {
                set.insert(id.to_string());
            }
            Ok(set)
        };
        let decision = StoredDecision {
            consent_id: optional(consent_id, "consent_id")?,
            pending: optional(pending, "pending")?,
            decided_at: number(decided_at, "decided_at")?,
            config_version: optional(config_version, "config_version")?
                .ok_or(CookieError::Field("config_version"))?,
            revision: u32::try_from(number(revision, "revision")?)
                .map_err(|_| CookieError::Field("revision"))?,
            action: match action.as_bytes() {
                [c] => Action::from_code(char::from(*c)).ok_or(CookieError::Field("action"))?,
                _ => return Err(CookieError::Field("action")),
            },
            signals: match flags {
                "" => Signals {
                    gpc: false,
                    dnt: false,
                },
                "g" => Signals {
                    gpc: true,
                    dnt: false,
                },
                "d" => Signals {
                    gpc: false,
                    dnt: true,
                },
                "gd" => Signals {
                    gpc: true,
                    dnt: true,
                },
                _ => return Err(CookieError::Field("flags")),
            },
            granted: ids(granted, "granted")?,
            denied: ids(denied, "denied")?,
        };
        if decision
            .granted
            .intersection(&decision.denied)
            .next()
            .is_some()
        {
            return Err(CookieError::Overlap);
        }
        Ok(decision)
    }
}
