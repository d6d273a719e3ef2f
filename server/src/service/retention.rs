//! Retention: dropping the personal content of records older than a duration,
//! keeping every hash so the chains still verify.

use keksdose_shared::lifetime::Lifetime;
use keksdose_store::{Change, Selection, Store, now_ms};

use super::{Error, Result};

/// What a purge of one site did.
#[derive(Debug)]
pub struct Purged {
    pub site: String,
    /// Records whose personal content was dropped now.
    pub erased: usize,
    /// Records received before this time were purged (RFC 3339).
    pub cutoff: String,
}

/// The time before which records are purged, for a duration like "3y" or
/// "36mo" before now.
pub fn cutoff(older_than: &str) -> Result<u64> {
    let age = Lifetime::parse(older_than)
        .ok()
        .and_then(Lifetime::seconds)
        .ok_or_else(|| {
            Error::bad_request(format!(
                "expected a duration like \"3y\" or \"36mo\", got {older_than:?}"
            ))
        })?;
    Ok(now_ms().saturating_sub(age.saturating_mul(1000)))
}

/// Drops the personal content of every record of `sites` received before
/// `cutoff_ms` (see [`cutoff`]).
pub async fn purge<S: Store>(store: &S, sites: &[String], cutoff_ms: u64) -> Result<Vec<Purged>> {
    let before = Selection {
        to_ms: Some(cutoff_ms),
        ..Selection::default()
    };
    let cutoff = keksdose_shared::time::rfc3339_millis(cutoff_ms);
    let mut done = Vec::new();
    for site in sites {
        let mut erase = Vec::new();
        let mut after = 0;
        loop {
            let page = store.select(site, &before, after, 1000).await?;
            let Some(last) = page.last() else { break };
            after = last.seq;
            erase.extend(
                page.iter()
                    .filter(|r| r.personal.is_some())
                    .map(|r| Change::Erase {
                        site: site.clone(),
                        seq: r.seq,
                    }),
            );
        }
        let erased = erase.len();
        store.change(erase).await?;
        done.push(Purged {
            site: site.clone(),
            erased,
            cutoff: cutoff.clone(),
        });
    }
    Ok(done)
}
