//! The queries the API asks of a ledger beyond a seq range: a selection by
//! time and subject ([`Selection`]), and decisions per day ([`DayStats`]).

use std::collections::BTreeMap;

use keksdose_shared::ConsentRecord;
use keksdose_shared::record::Source;
use serde::Serialize;

/// Which records of a site a search, an export or a statistic is about.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// Received at or after this time (milliseconds since the epoch).
    pub from_ms: Option<u64>,
    /// Received before this time.
    pub to_ms: Option<u64>,
    /// Only the consent IDs linked to this subject (keyed hash of a site user id).
    pub subject_hash: Option<String>,
}

impl Selection {
    /// Whether a record's time is within the range (the subject is the store's
    /// to check: links are not part of a record).
    pub fn in_time(&self, record: &ConsentRecord) -> bool {
        let at = keksdose_shared::time::parse_rfc3339(&record.received_at).unwrap_or(0);
        self.from_ms.is_none_or(|f| at >= f) && self.to_ms.is_none_or(|t| at < t)
    }
}

/// Banner decisions of one day.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DayStats {
    pub decisions: u64,
    pub actions: BTreeMap<String, u64>,
    /// How often each category was allowed.
    pub allowed: BTreeMap<String, u64>,
    /// Decisions sent with Global Privacy Control on.
    pub gpc: u64,
}

impl DayStats {
    /// Counts one record into its UTC day: banner decisions only (a backend
    /// consent or an operator's withdrawal is no visitor's choice in a banner).
    pub fn count(days: &mut BTreeMap<String, DayStats>, r: &ConsentRecord) {
        if r.source != Source::Banner {
            return;
        }
        let day = days
            .entry(r.received_at.get(..10).unwrap_or_default().to_string())
            .or_default();
        day.decisions += 1;
        *day.actions
            .entry(r.action.as_str().to_string())
            .or_default() += 1;
        for (c, on) in &r.choices.categories {
            if *on {
                *day.allowed.entry(c.clone()).or_default() += 1;
            }
        }
        day.gpc += u64::from(r.signals.gpc);
    }
}
