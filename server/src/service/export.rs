//! Search, export and statistics over a site's ledger. The store answers the
//! selection (a time range, a subject) page by page; an export streams those
//! pages, so a million records never sit in memory.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures_util::Stream;
use keksdose_shared::ConsentRecord;
use keksdose_shared::record::Source;
use keksdose_shared::time::parse_rfc3339;
use keksdose_store::{DayStats, Selection, SiteMeta, Store, now_ms};

use super::{Error, Result};
use crate::pseudonym::Pseudonymiser;

/// Records per page of an export.
const EXPORT_PAGE: usize = 1000;

/// Milliseconds for an RFC 3339 time or a `YYYY-MM-DD` date (midnight UTC).
pub fn instant(name: &str, text: &str) -> Result<u64> {
    let full = if text.len() == 10 {
        format!("{text}T00:00:00Z")
    } else {
        text.to_string()
    };
    parse_rfc3339(&full).ok_or_else(|| {
        Error::bad_request(format!(
            "{name}: expected a date like 2026-11-01 or a time like 2026-11-01T12:00:00Z"
        ))
    })
}

/// The selection `from` (inclusive), `to` (exclusive) and a site user id name.
pub fn selection(
    site: &SiteMeta,
    from: Option<&str>,
    to: Option<&str>,
    subject: Option<&str>,
) -> Result<Selection> {
    let from_ms = from.map(|f| instant("from", f)).transpose()?;
    let to_ms = to.map(|t| instant("to", t)).transpose()?;
    if let (Some(f), Some(t)) = (from_ms, to_ms)
        && f >= t
    {
        return Err(Error::bad_request(
            "from: must be before to (to is not included)",
        ));
    }
    Ok(Selection {
        from_ms,
        to_ms,
        subject_hash: subject.map(|s| Pseudonymiser::new(&site.secret).subject(s)),
    })
}

/// What a search keeps of a selection besides time and subject: an action, a
/// config version (the console's log, the API's `action` and `version`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub action: Option<keksdose_shared::Action>,
    pub version: Option<String>,
}

impl Filter {
    /// From the query's words; an unknown action is refused.
    pub fn parse(action: Option<&str>, version: Option<&str>) -> Result<Filter> {
        let action = action
            .filter(|a| !a.is_empty())
            .map(|a| {
                keksdose_shared::Action::ALL
                    .into_iter()
                    .find(|x| x.as_str() == a)
                    .ok_or_else(|| {
                        Error::bad_request(format!(
                            "action: expected accept_all, reject_all, custom or withdraw, got {a:?}"
                        ))
                    })
            })
            .transpose()?;
        let version = version.filter(|v| !v.is_empty()).map(str::to_string);
        let is_version = |v: &str| {
            v.len() == 43
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        if let Some(v) = version.as_ref().filter(|v| !is_version(v)) {
            return Err(Error::bad_request(format!(
                "version: expected a config version (43 characters of base64url), got {:.60?}",
                v
            )));
        }
        Ok(Filter { action, version })
    }

    pub fn keeps(&self, r: &ConsentRecord) -> bool {
        self.action.is_none_or(|a| a == r.action)
            && self.version.as_ref().is_none_or(|v| *v == r.config_version)
    }

    fn is_empty(&self) -> bool {
        self.action.is_none() && self.version.is_none()
    }
}

/// How many records one page of a filtered search reads at most: a rare
/// action over a long ledger answers a short page with a cursor, not a scan
/// of the whole ledger.
const SCAN_LIMIT: usize = 20 * EXPORT_PAGE;

/// One page of a selection after the cursor `after`, and the cursor of the
/// next page if there is one (with a filter, a page may be short and still
/// have a next one).
pub async fn page<S: Store>(
    store: &S,
    site: &str,
    selection: &Selection,
    filter: &Filter,
    after: u64,
    limit: usize,
) -> Result<(Vec<ConsentRecord>, Option<u64>)> {
    if !(1..=1000).contains(&limit) {
        return Err(Error::bad_request("limit: expected 1 to 1000"));
    }
    if filter.is_empty() {
        let mut records = store.select(site, selection, after, limit + 1).await?;
        let more = records.len() > limit;
        records.truncate(limit);
        let next = if more {
            records.last().map(|r| r.seq)
        } else {
            None
        };
        return Ok((records, next));
    }
    let mut kept = Vec::new();
    let mut cursor = after;
    let mut scanned = 0;
    loop {
        let batch = store.select(site, selection, cursor, EXPORT_PAGE).await?;
        let Some(last) = batch.last().map(|r| r.seq) else {
            return Ok((kept, None));
        };
        scanned += batch.len();
        for r in batch {
            if filter.keeps(&r) {
                if kept.len() == limit {
                    // One more exists: the page ends at the last kept record.
                    let next = kept.last().map(|r: &ConsentRecord| r.seq);
                    return Ok((kept, next));
                }
                kept.push(r);
            }
        }
        cursor = last;
        if scanned >= SCAN_LIMIT {
            return Ok((kept, Some(cursor)));
        }
    }
}

/// How an export writes records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One record a line, as auditors recompute them.
    Ndjson,
    Csv,
}

impl Format {
    pub fn parse(text: &str) -> Option<Format> {
        match text {
            "ndjson" => Some(Format::Ndjson),
            "csv" => Some(Format::Csv),
            _ => None,
        }
    }

    /// What comes before the first record.
    pub fn header(self) -> &'static str {
        match self {
            Format::Ndjson => "",
            Format::Csv => CSV_HEADER,
        }
    }

    /// One record as a line, with its newline.
    pub fn line(self, r: &ConsentRecord) -> String {
        match self {
            Format::Ndjson => {
                let mut line = serde_json::to_string(r).unwrap_or_default();
                line.push('\n');
                line
            }
            Format::Csv => csv_line(r),
        }
    }
}

/// A whole selection after the cursor `after` as text, page by page: the
/// header, then each page's lines. A failing page ends the stream with the error.
pub fn export<S: Store>(
    store: Arc<S>,
    site: String,
    selection: Selection,
    filter: Filter,
    format: Format,
    after: u64,
) -> impl Stream<Item = Result<String>> + 'static {
    let header = Some(format.header().to_string()).filter(|h| !h.is_empty());
    let start = (store, site, selection, Some(after), header);
    let filter = Arc::new(filter);
    futures_util::stream::unfold(start, move |(store, site, sel, after, header)| {
        let filter = filter.clone();
        async move {
            if let Some(h) = header {
                return Some((Ok(h), (store, site, sel, after, None)));
            }
            let after = after?;
            match store.select(&site, &sel, after, EXPORT_PAGE).await {
                Ok(records) if records.is_empty() => None,
                Ok(records) => {
                    let next = records.last().map(|r| r.seq);
                    let text: String = records
                        .iter()
                        .filter(|r| filter.keeps(r))
                        .map(|r| format.line(r))
                        .collect();
                    Some((Ok(text), (store, site, sel, next, None)))
                }
                Err(e) => Some((Err(e.into()), (store, site, sel, None, None))),
            }
        }
    })
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

pub const CSV_HEADER: &str = "seq,received_at,consent_id,action,source,config_version,language,gpc,dnt,granted,denied,purposes,page,prev_hash,record_hash\n";

pub fn csv_line(r: &ConsentRecord) -> String {
    let ids = |on: bool| {
        r.choices
            .iter()
            .filter(|(_, v)| *v == on)
            .map(|(k, _)| k)
            .collect::<Vec<_>>()
            .join(" ")
    };
    let purposes = r
        .purposes
        .iter()
        .map(|(k, v)| {
            format!(
                "{k}={}",
                serde_json::to_value(v)
                    .ok()
                    .and_then(|v| v.as_str().map(String::from))
                    .unwrap_or_default()
            )
        })
        .collect::<Vec<_>>()
        .join(" ");
    let fields = [
        r.seq.to_string(),
        r.received_at.clone(),
        r.consent_id.clone(),
        r.action.as_str().to_string(),
        match r.source {
            Source::Banner => "banner",
            Source::Backend => "backend",
            Source::Operator => "operator",
        }
        .to_string(),
        r.config_version.clone(),
        r.language.clone(),
        r.signals.gpc.to_string(),
        r.signals.dnt.to_string(),
        ids(true),
        ids(false),
        purposes,
        r.personal
            .as_ref()
            .and_then(|p| p.page.clone())
            .unwrap_or_default(),
        r.prev_hash.clone(),
        r.record_hash.clone(),
    ];
    let mut line = fields
        .iter()
        .map(|f| csv_field(f))
        .collect::<Vec<_>>()
        .join(",");
    line.push('\n');
    line
}

/// Banner decisions per day over `from` (default: 29 days before today) to
/// `to`; returns the `from` it used, and the days.
pub async fn stats<S: Store>(
    store: &S,
    site: &SiteMeta,
    from: Option<&str>,
    to: Option<&str>,
) -> Result<(String, BTreeMap<String, DayStats>)> {
    let from = match from {
        Some(f) => f.to_string(),
        None => keksdose_shared::time::date((now_ms() / 1000).saturating_sub(29 * 86_400)),
    };
    let sel = selection(site, Some(&from), to, None)?;
    Ok((from, store.day_stats(&site.id, &sel).await?))
}
