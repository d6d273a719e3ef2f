//! Tests the conformance suite itself: that it can fail. `MemoryStore` is a
//! small, obviously correct in-memory [`Store`] that passes
//! [`conformance::run`]; each [`Fault`] breaks it at one place, the way a
//! backend could plausibly get it wrong, and the check that covers that
//! behaviour must then panic. A fault that passes would be a gap in the suite.
#![cfg(feature = "conformance")]

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use keksdose_shared::{Checkpoint, ConsentRecord, SiteConfig};
use keksdose_store::{
    Appended, AuditEntry, Batch, Change, ConsentProof, Draft, Head, Leases, PublicKey, Result,
    Selection, SiteMeta, Store, StoreError, audit, conformance, now_ms,
};

/// One plausible backend bug, at one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// The head is not advanced after an append: the next record reuses its seq.
    ReuseSeq,
    /// Idempotency keys are never stored, so a retry is never recognised.
    ForgetIdempotencyKey,
    /// The link an appended record brings ([`Appended::New`]) is not written.
    NoSubjectLink,
    /// [`Change::Erase`] does nothing.
    EraseKeepsPersonal,
    /// [`Change::Unlink`] removes every link of the site, not just the subject's.
    UnlinkEverything,
    /// `latest_checkpoint` ignores the site: the latest checkpoint of any site.
    CheckpointOfOtherSite,
    /// `select` ignores the selection's time range.
    SelectIgnoresTime,
    /// Links are kept without a uniqueness check, so a consent ID linked twice
    /// is listed twice by `subject`.
    LinkedTwice,
    /// [`Change::Erase`] erases that seq on every site.
    EraseAnySite,
    /// [`Change::Unlink`] removes the subject hash's links on every site.
    UnlinkAnySite,
    /// Appends are not serialised: the head is read, the lock let go, and the
    /// record written after other appends may have moved the head.
    UnserialisedAppends,
    /// `configs` lists every site's versions.
    ListingsOfEverySite,
    /// `lease` grants every holder.
    LeaseForEveryone,
    /// Audit events are sealed from a head read outside the lock.
    UnserialisedAudit,
    /// `docs` lists every table's documents.
    DocsOfEveryTable,
    /// `consent_proof` reads the records around the consent ID's first
    /// record only.
    ProofAroundFirstOnly,
}

#[derive(Debug, Default)]
struct State {
    sites: BTreeMap<String, SiteMeta>,
    /// By (site, version).
    configs: BTreeMap<(String, String), SiteConfig>,
    config_times: BTreeMap<(String, String), String>,
    /// Each site's ledger, in seq order.
    records: BTreeMap<String, Vec<ConsentRecord>>,
    heads: BTreeMap<String, Head>,
    /// (site, key) -> seq.
    keys: BTreeMap<(String, String), u64>,
    /// (site, subject hash, consent ID), each once (a list, not a set, so that
    /// [`Fault::LinkedTwice`] can break the "once").
    links: Vec<(String, String, String)>,
    checkpoints: BTreeMap<(String, u64), Checkpoint>,
    signing_keys: BTreeMap<String, PublicKey>,
    docs: BTreeMap<(String, String), String>,
    audit: Vec<AuditEntry>,
}

impl State {
    fn record(&self, site: &str, seq: u64) -> Option<ConsentRecord> {
        self.records
            .get(site)?
            .iter()
            .find(|r| r.seq == seq)
            .cloned()
    }

    fn ledger(&self, site: &str) -> impl Iterator<Item = &ConsentRecord> {
        self.records.get(site).into_iter().flatten()
    }

    /// The consent IDs linked to a subject, sorted.
    fn subject(&self, site: &str, subject_hash: &str) -> Vec<String> {
        let mut ids: Vec<String> = self
            .links
            .iter()
            .filter(|(s, h, _)| s == site && h == subject_hash)
            .map(|(_, _, c)| c.clone())
            .collect();
        ids.sort();
        ids
    }
}

/// An in-memory [`Store`]: one mutex around the whole state, every operation
/// done under it, so appends are serialised trivially.
#[derive(Debug, Default)]
struct MemoryStore {
    state: Mutex<State>,
    leases: Leases,
    fault: Option<Fault>,
}

impl MemoryStore {
    fn new() -> MemoryStore {
        MemoryStore::default()
    }

    fn with(fault: Fault) -> MemoryStore {
        MemoryStore {
            fault: Some(fault),
            ..MemoryStore::default()
        }
    }

    fn has(&self, fault: Fault) -> bool {
        self.fault == Some(fault)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A check that panics never holds the lock; the state stays whole.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn apply(&self, s: &mut State, change: Change) {
        match change {
            Change::Erase { site, seq } => {
                if self.has(Fault::EraseKeepsPersonal) {
                    return;
                }
                let any = self.has(Fault::EraseAnySite);
                for (_, rs) in s.records.iter_mut().filter(|(s, _)| any || **s == site) {
                    if let Some(r) = rs.iter_mut().find(|r| r.seq == seq) {
                        r.erase_personal();
                    }
                }
            }
            Change::Link {
                site,
                subject_hash,
                consent_id,
            } => {
                let link = (site, subject_hash, consent_id);
                if self.has(Fault::LinkedTwice) || !s.links.contains(&link) {
                    s.links.push(link);
                }
            }
            Change::Unlink { site, subject_hash } => {
                let everything = self.has(Fault::UnlinkEverything);
                let any_site = self.has(Fault::UnlinkAnySite);
                s.links.retain(|(s, h, _)| {
                    !((any_site || *s == site) && (everything || *h == subject_hash))
                });
            }
            Change::Checkpoint { checkpoint } => {
                s.checkpoints
                    .insert((checkpoint.site.clone(), checkpoint.seq), checkpoint);
            }
            Change::Put { table, key, value } => match value {
                Some(v) => {
                    s.docs.insert((table, key), v);
                }
                None => {
                    s.docs.remove(&(table, key));
                }
            },
            // Sealed in `change`.
            Change::Audit { .. } => {}
        }
    }
}

fn unknown(site: &str) -> StoreError {
    StoreError::NotFound(format!("no site {site:?}"))
}

impl Store for MemoryStore {
    async fn create_site(&self, site: SiteMeta, config: SiteConfig) -> Result<()> {
        let mut s = self.state();
        if s.sites.contains_key(&site.id) {
            return Err(StoreError::Conflict(format!("site {:?} exists", site.id)));
        }
        let version = config.version();
        s.configs.insert((site.id.clone(), version.clone()), config);
        s.config_times.insert(
            (site.id.clone(), version.clone()),
            "2026-01-01T00:00:00.000Z".into(),
        );
        s.sites.insert(
            site.id.clone(),
            SiteMeta {
                config_version: version,
                ..site
            },
        );
        Ok(())
    }

    async fn update_site(&self, site: SiteMeta) -> Result<()> {
        let mut s = self.state();
        let Some(meta) = s.sites.get_mut(&site.id) else {
            return Err(unknown(&site.id));
        };
        *meta = site;
        Ok(())
    }

    async fn publish_config(&self, site: &str, config: SiteConfig) -> Result<String> {
        let mut s = self.state();
        let version = config.version();
        let Some(meta) = s.sites.get_mut(site) else {
            return Err(unknown(site));
        };
        meta.config_version.clone_from(&version);
        s.configs
            .insert((site.to_string(), version.clone()), config);
        static TICK: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let n = TICK.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        s.config_times.insert(
            (site.to_string(), version.clone()),
            format!(
                "2026-01-01T{:02}:{:02}:{:02}.000Z",
                n / 3600 % 24,
                n / 60 % 60,
                n % 60
            ),
        );
        Ok(version)
    }

    async fn register_key(&self, key: PublicKey) -> Result<()> {
        self.state().signing_keys.insert(key.key_id.clone(), key);
        Ok(())
    }

    async fn keys(&self) -> Result<Vec<PublicKey>> {
        Ok(self.state().signing_keys.values().cloned().collect())
    }

    async fn append(&self, site: &str, draft: Draft) -> Result<ConsentRecord> {
        let racy_head = if self.has(Fault::UnserialisedAppends) {
            let head = self.state().heads.get(site).cloned();
            // Long enough that the other appends in flight read the same head
            // however loaded the machine (a 1 ms pause let them pass in turn).
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            Some(head)
        } else {
            None
        };
        let mut s = self.state();
        if !s.sites.contains_key(site) {
            return Err(unknown(site));
        }
        let mut batch = Batch::new();
        let placed = {
            let s = &*s;
            batch.place(
                site,
                draft,
                || Ok(racy_head.unwrap_or_else(|| s.heads.get(site).cloned())),
                |k| {
                    Ok(s.keys
                        .get(&(site.to_string(), k.to_string()))
                        .and_then(|seq| s.record(site, *seq)))
                },
                now_ms(),
            )?
        };
        let (record, key, link) = match placed {
            Appended::Known(record) | Appended::Existing(record) => return Ok(record),
            Appended::New {
                record,
                idempotency_key,
                link,
            } => (record, idempotency_key, link),
        };
        s.records
            .entry(site.to_string())
            .or_default()
            .push(record.clone());
        if let Some(k) = key
            && !self.has(Fault::ForgetIdempotencyKey)
        {
            s.keys.insert((site.to_string(), k), record.seq);
        }
        if let Some(link) = link
            && !self.has(Fault::NoSubjectLink)
        {
            self.apply(&mut s, link);
        }
        if !self.has(Fault::ReuseSeq) {
            s.heads.extend(batch.into_heads());
        }
        Ok(record)
    }

    async fn change(&self, changes: Vec<Change>) -> Result<()> {
        for change in changes {
            if let Change::Audit { event } = change {
                let racy_head = if self.has(Fault::UnserialisedAudit) {
                    let head = self.state().audit.last().map(audit::head_of);
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                    Some(head)
                } else {
                    None
                };
                let mut s = self.state();
                let head = racy_head.unwrap_or_else(|| s.audit.last().map(audit::head_of));
                let entry = audit::seal(head.as_ref(), event, now_ms())?;
                s.audit.push(entry);
                continue;
            }
            let mut s = self.state();
            self.apply(&mut s, change);
        }
        Ok(())
    }

    async fn doc(&self, table: &str, key: &str) -> Result<Option<String>> {
        Ok(self
            .state()
            .docs
            .get(&(table.to_string(), key.to_string()))
            .cloned())
    }

    async fn docs(&self, table: &str) -> Result<Vec<(String, String)>> {
        let every = self.has(Fault::DocsOfEveryTable);
        Ok(self
            .state()
            .docs
            .iter()
            .filter(|((t, _), _)| every || t == table)
            .map(|((_, k), v)| (k.clone(), v.clone()))
            .collect())
    }

    async fn audit(&self, after: u64, limit: usize) -> Result<Vec<AuditEntry>> {
        Ok(self
            .state()
            .audit
            .iter()
            .filter(|e| e.seq > after)
            .take(limit)
            .cloned()
            .collect())
    }

    async fn site(&self, id: &str) -> Result<Option<SiteMeta>> {
        Ok(self.state().sites.get(id).cloned())
    }

    async fn sites(&self) -> Result<Vec<SiteMeta>> {
        Ok(self.state().sites.values().cloned().collect())
    }

    async fn config(&self, site: &str, version: &str) -> Result<Option<SiteConfig>> {
        Ok(self
            .state()
            .configs
            .get(&(site.to_string(), version.to_string()))
            .cloned())
    }

    async fn head(&self, site: &str) -> Result<Option<Head>> {
        Ok(self.state().heads.get(site).cloned())
    }

    async fn records(
        &self,
        site: &str,
        from: u64,
        to: u64,
        limit: usize,
    ) -> Result<Vec<ConsentRecord>> {
        Ok(self
            .state()
            .ledger(site)
            .filter(|r| (from..=to).contains(&r.seq))
            .take(limit)
            .cloned()
            .collect())
    }

    async fn consent(&self, site: &str, consent_id: &str) -> Result<Vec<ConsentRecord>> {
        Ok(self
            .state()
            .ledger(site)
            .filter(|r| r.consent_id == consent_id)
            .cloned()
            .collect())
    }

    async fn consent_proof(&self, site: &str, consent_id: &str) -> Result<ConsentProof> {
        let records = self.consent(site, consent_id).await?;
        let around = if self.has(Fault::ProofAroundFirstOnly) {
            &records[..records.len().min(1)]
        } else {
            &records[..]
        };
        let s = self.state();
        let mut neighbours: Vec<ConsentRecord> = s
            .ledger(site)
            .filter(|n| {
                around
                    .iter()
                    .any(|r| n.seq + 1 == r.seq || n.seq == r.seq + 1)
                    && !records.iter().any(|r| r.seq == n.seq)
            })
            .cloned()
            .collect();
        neighbours.dedup_by_key(|n| n.seq);
        let checkpoint = records.last().and_then(|last| {
            let range = (site.to_string(), last.seq)..=(site.to_string(), u64::MAX);
            s.checkpoints.range(range).next().map(|(_, c)| c.clone())
        });
        Ok(ConsentProof {
            records,
            neighbours,
            checkpoint,
        })
    }

    async fn consent_site(&self, consent_id: &str) -> Result<Option<String>> {
        Ok(self
            .state()
            .records
            .iter()
            .find(|(_, rs)| rs.iter().any(|r| r.consent_id == consent_id))
            .map(|(site, _)| site.clone()))
    }

    async fn subject(&self, site: &str, subject_hash: &str) -> Result<Vec<String>> {
        Ok(self.state().subject(site, subject_hash))
    }

    async fn checkpoint_covering(&self, site: &str, seq: u64) -> Result<Option<Checkpoint>> {
        let s = self.state();
        let range = (site.to_string(), seq)..=(site.to_string(), u64::MAX);
        Ok(s.checkpoints.range(range).next().map(|(_, c)| c.clone()))
    }

    async fn latest_checkpoint(&self, site: &str) -> Result<Option<Checkpoint>> {
        let s = self.state();
        if self.has(Fault::CheckpointOfOtherSite) {
            return Ok(s.checkpoints.values().max_by_key(|c| c.seq).cloned());
        }
        let range = (site.to_string(), 0)..=(site.to_string(), u64::MAX);
        Ok(s.checkpoints
            .range(range)
            .next_back()
            .map(|(_, c)| c.clone()))
    }

    async fn config_times(&self, site: &str) -> Result<Vec<(String, String)>> {
        let mut times: Vec<(String, String)> = self
            .state()
            .config_times
            .iter()
            .filter(|((s, _), _)| s == site)
            .map(|((_, v), t)| (v.clone(), t.clone()))
            .collect();
        times.sort_by(|a, b| (&a.1, &a.0).cmp(&(&b.1, &b.0)));
        Ok(times)
    }

    async fn configs(&self, site: &str) -> Result<Vec<(String, SiteConfig)>> {
        Ok(self
            .state()
            .configs
            .iter()
            .filter(|((s, _), _)| s == site || self.has(Fault::ListingsOfEverySite))
            .map(|((_, v), c)| (v.clone(), c.clone()))
            .collect())
    }

    async fn links(&self, site: &str) -> Result<Vec<(String, String)>> {
        let mut links: Vec<(String, String)> = self
            .state()
            .links
            .iter()
            .filter(|(s, _, _)| s == site)
            .map(|(_, h, c)| (h.clone(), c.clone()))
            .collect();
        links.sort();
        Ok(links)
    }

    async fn checkpoints(&self, site: &str) -> Result<Vec<Checkpoint>> {
        Ok(self
            .state()
            .checkpoints
            .iter()
            .filter(|((s, _), _)| s == site)
            .map(|(_, c)| c.clone())
            .collect())
    }

    async fn idempotency_keys(&self, site: &str) -> Result<Vec<(u64, String)>> {
        let mut keys: Vec<(u64, String)> = self
            .state()
            .keys
            .iter()
            .filter(|((s, _), _)| s == site)
            .map(|((_, k), seq)| (*seq, k.clone()))
            .collect();
        keys.sort();
        Ok(keys)
    }

    async fn lease(&self, name: &str, holder: &str, ttl_ms: u64) -> Result<bool> {
        if self.has(Fault::LeaseForEveryone) {
            return Ok(true);
        }
        Ok(self.leases.take(name, holder, ttl_ms, now_ms()))
    }

    async fn select(
        &self,
        site: &str,
        selection: &Selection,
        after: u64,
        limit: usize,
    ) -> Result<Vec<ConsentRecord>> {
        let s = self.state();
        let linked = selection.subject_hash.as_ref().map(|h| s.subject(site, h));
        let any_time = self.has(Fault::SelectIgnoresTime);
        Ok(s.ledger(site)
            .filter(|r| r.seq > after)
            .filter(|r| any_time || selection.in_time(r))
            .filter(|r| {
                linked
                    .as_ref()
                    .is_none_or(|ids| ids.contains(&r.consent_id))
            })
            .take(limit)
            .cloned()
            .collect())
    }
}

/// Runs `check` on a store with `fault`, in a task of its own, and asserts
/// that it panics.
/// Runs `check` on a store with `fault`: it must panic, at the assertion whose
/// message contains `expected` (not in its set-up, say).
async fn fails<F, Fut>(fault: Fault, expected: &str, check: F)
where
    F: FnOnce(Arc<MemoryStore>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let outcome = tokio::spawn(check(Arc::new(MemoryStore::with(fault)))).await;
    let Err(e) = outcome else {
        panic!("a store with {fault:?} passed the check");
    };
    let payload = e.into_panic();
    let message = payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default();
    assert!(
        message.contains(expected),
        "a store with {fault:?} failed, but not at {expected:?}: {message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_correct_store_passes_the_whole_suite() {
    conformance::run(Arc::new(MemoryStore::new())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_store_that_reuses_a_seq_fails_sealing() {
    fails(Fault::ReuseSeq, "seq from 1 without gaps", |s| async move {
        conformance::sealing(&*s).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_store_that_forgets_idempotency_keys_fails_idempotency() {
    fails(
        Fault::ForgetIdempotencyKey,
        "a retry with the same key is the first record",
        conformance::idempotency,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_store_that_drops_a_records_subject_link_fails_subject_links() {
    fails(
        Fault::NoSubjectLink,
        "a record with a subject is linked once acknowledged",
        |s| async move {
            conformance::subject_links(&*s).await;
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_store_whose_erasure_keeps_personal_content_fails_erasure() {
    fails(
        Fault::EraseKeepsPersonal,
        "record 2's personal content is gone",
        |s| async move {
            conformance::erasure(&*s).await;
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_store_that_unlinks_every_subject_of_a_site_fails_unlink() {
    fails(
        Fault::UnlinkEverything,
        "another subject's links stay",
        |s| async move {
            conformance::unlink(&*s).await;
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_store_that_answers_another_sites_latest_checkpoint_fails_checkpoints() {
    fails(
        Fault::CheckpointOfOtherSite,
        "the latest checkpoint of this site",
        |s| async move {
            conformance::checkpoints(&*s).await;
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_store_whose_proof_reads_miss_records_around_fails_proof_reads() {
    fails(
        Fault::ProofAroundFirstOnly,
        "around them, each once",
        |s| async move {
            conformance::proof_reads(&*s).await;
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_store_whose_select_ignores_time_fails_selections() {
    fails(
        Fault::SelectIgnoresTime,
        "select Selection",
        |s| async move {
            conformance::selections(&*s).await;
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_store_that_lists_a_consent_linked_twice_twice_fails_subject_links() {
    fails(
        Fault::LinkedTwice,
        "each consent ID once, sorted",
        |s| async move {
            conformance::subject_links(&*s).await;
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_store_whose_erasure_reaches_another_site_fails_erasure() {
    fails(
        Fault::EraseAnySite,
        "another site's record 2 keeps its personal content",
        |s| async move {
            conformance::erasure(&*s).await;
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_store_whose_unlink_reaches_another_site_fails_unlink() {
    fails(
        Fault::UnlinkAnySite,
        "the same subject's links on another site stay",
        |s| async move {
            conformance::unlink(&*s).await;
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_store_whose_appends_are_not_serialised_fails_concurrent_appends() {
    fails(
        Fault::UnserialisedAppends,
        "one place each, no gaps",
        conformance::concurrent_appends,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_store_that_lists_every_sites_configs_fails_listings() {
    fails(
        Fault::ListingsOfEverySite,
        "none of another site's",
        |s| async move {
            conformance::listings(&*s).await;
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_store_whose_audit_appends_are_not_serialised_fails_the_audit_trail() {
    fails(
        Fault::UnserialisedAudit,
        "audit entries get seqs one after another",
        conformance::audit_trail,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_store_that_lists_every_tables_documents_fails_documents() {
    fails(
        Fault::DocsOfEveryTable,
        "only that table's",
        |s| async move {
            conformance::documents(&*s).await;
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_store_that_grants_every_lease_fails_leases() {
    fails(
        Fault::LeaseForEveryone,
        "one of many asking at once gets a free lease",
        conformance::leases,
    )
    .await;
}
