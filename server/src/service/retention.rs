//! Retention: dropping the personal content of records older than a duration,
//! keeping every hash so the chains still verify.

use keksdose_shared::lifetime::Lifetime;
use keksdose_store::{Change, Store, now_ms};

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

/// Drops the personal content of every record of `sites` received more than
/// `older_than` (e.g. "3y", "36mo") ago.
pub async fn purge<S: Store>(store: &S, sites: &[String], older_than: &str) -> Result<Vec<Purged>> {
    let age = Lifetime::parse(older_than)
        .ok()
        .and_then(Lifetime::seconds)
        .ok_or_else(|| {
            Error::bad_request(format!(
                "expected a duration like \"3y\" or \"36mo\", got {older_than:?}"
            ))
        })?;
    let cutoff_ms = now_ms().saturating_sub(age.saturating_mul(1000));
    let cutoff = keksdose_shared::time::rfc3339_millis(cutoff_ms);
    let mut done = Vec::new();
    for site in sites {
        let mut erase = Vec::new();
        let mut next = 1;
        'pages: loop {
            let page = store.records(site, next, u64::MAX, 1000).await?;
            let Some(last) = page.last() else { break };
            next = last.seq + 1;
            for r in &page {
                if r.received_at >= cutoff {
                    break 'pages;
                }
                if r.personal.is_some() {
                    erase.push(Change::Erase {
                        site: site.clone(),
                        seq: r.seq,
                    });
                }
            }
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
