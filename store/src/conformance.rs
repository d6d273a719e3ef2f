//! The behaviour every [`Store`] backend must show (feature `conformance`).
//!
//! A backend's tests call [`run`] on a fresh store; each check is public too, so
//! that a test can show that a broken store fails the one it breaks. Every check
//! uses site ids of its own, so all of them share one store. Concurrency is
//! real: appends that must race are spawned as tasks on the caller's runtime
//! (a multi-threaded one, `#[tokio::test(flavor = "multi_thread")]`), not
//! futures awaited one after another.
//!
//! A check panics where a backend breaks the contract, as tests do. What the
//! suite cannot force is how a backend groups appends into commits: a key sent
//! many times at once may land in one batch or in several, and either must
//! yield one record (the rule itself is `append::Batch`'s, unit-tested there).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use keksdose_shared::record::{ChainVerifier, GENESIS, Source};
use keksdose_shared::{Action, Checkpoint, ConsentRecord, Decision, Personal, SiteConfig};

use crate::{
    Change, ConsentProof, DayStats, Draft, Head, PublicKey, Selection, SiteMeta, Store, StoreError,
};

/// The example SaaS site's config.
pub fn config() -> SiteConfig {
    SiteConfig::from_toml(include_str!("../../examples/sites/saas.toml"))
        .expect("the example config parses")
}

/// Another config (a second version for a site).
pub fn other_config() -> SiteConfig {
    let mut c = config();
    c.site.policy_version = "Stand: 01.12.2026".into();
    c
}

pub fn site(id: &str) -> SiteMeta {
    SiteMeta {
        id: id.into(),
        origins: vec!["https://example.com".into()],
        created_at: "2026-11-21T00:00:00.000Z".into(),
        key_hash: "00".repeat(32),
        secret: "c2VjcmV0".into(),
        config_version: String::new(),
    }
}

pub fn draft(config: &SiteConfig, consent_id: &str, action: Action, key: Option<&str>) -> Draft {
    Draft {
        consent_id: consent_id.into(),
        action,
        source: Source::Banner,
        config_version: config.version(),
        choices: Decision::new(action)
            .resolve(config)
            .expect("the action resolves"),
        purposes: BTreeMap::new(),
        language: "de".into(),
        signals: Default::default(),
        personal: Personal {
            salt: "s".into(),
            address_hash: None,
            page: Some("/".into()),
            ip_hash: Some("ip".into()),
            ua_hash: None,
            subject_hash: None,
        },
        idempotency_key: key.map(String::from),
    }
}

fn with_subject(mut d: Draft, subject_hash: &str) -> Draft {
    d.personal.subject_hash = Some(subject_hash.into());
    d
}

async fn new_site<S: Store>(store: &S, id: &str) -> SiteConfig {
    let config = config();
    store
        .create_site(site(id), config.clone())
        .await
        .unwrap_or_else(|e| panic!("creating site {id}: {e}"));
    config
}

async fn all<S: Store>(store: &S, site: &str) -> Vec<ConsentRecord> {
    store
        .records(site, 1, u64::MAX, usize::MAX)
        .await
        .expect("records")
}

fn assert_chain(site: &str, records: &[ConsentRecord]) {
    let mut v = ChainVerifier::new(site);
    for r in records {
        v.push(r)
            .unwrap_or_else(|e| panic!("site {site}: the chain breaks: {e}"));
    }
}

/// Every check, on one store.
pub async fn run<S: Store>(store: Arc<S>) {
    sites_and_configs(&*store).await;
    sealing(&*store).await;
    idempotency(store.clone()).await;
    subject_links(&*store).await;
    erasure(&*store).await;
    unlink(&*store).await;
    checkpoints(&*store).await;
    proof_reads(&*store).await;
    concurrent_appends(store.clone()).await;
    selections(&*store).await;
    keys(&*store).await;
    listings(&*store).await;
    leases(store.clone()).await;
    empty_changes_are_answered(&*store).await;
    documents(&*store).await;
    audit_trail(store.clone()).await;
}

/// Documents: put, replaced, deleted, listed by table and by key.
pub async fn documents<S: Store>(store: &S) {
    let put = |table: &str, key: &str, value: Option<&str>| Change::Put {
        table: table.into(),
        key: key.into(),
        value: value.map(str::to_string),
    };
    store
        .change(vec![
            put("operators", "b", Some(r#"{"n":1}"#)),
            put("operators", "a", Some(r#"{"n":2}"#)),
            put("sessions", "a", Some(r#"{"s":1}"#)),
            put("operators", "b", Some(r#"{"n":3}"#)),
        ])
        .await
        .unwrap();
    assert_eq!(
        store.doc("operators", "b").await.unwrap().as_deref(),
        Some(r#"{"n":3}"#),
        "a later put replaces a document"
    );
    assert_eq!(
        store.docs("operators").await.unwrap(),
        vec![
            ("a".to_string(), r#"{"n":2}"#.to_string()),
            ("b".to_string(), r#"{"n":3}"#.to_string())
        ],
        "a table's documents, by key, and only that table's"
    );
    store
        .change(vec![
            put("operators", "a", None),
            put("operators", "zz", None),
        ])
        .await
        .unwrap();
    assert_eq!(store.doc("operators", "a").await.unwrap(), None, "deleted");
    assert_eq!(
        store.doc("sessions", "a").await.unwrap().as_deref(),
        Some(r#"{"s":1}"#),
        "a delete in one table leaves another's document of the same key"
    );
    assert_eq!(store.doc("nothing", "a").await.unwrap(), None);
}

/// The audit trail: events written at once by many tasks are sealed one after
/// another into one chain that verifies, each kept as it was said.
pub async fn audit_trail<S: Store>(store: Arc<S>) {
    use crate::audit::{self, AuditEvent};
    let before = store.audit(0, usize::MAX).await.unwrap();
    assert_eq!(audit::verify(None, &before), None);
    let start = before.last().map_or(0, |e| e.seq);
    let mut tasks = Vec::new();
    for i in 0..40 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let event = AuditEvent {
                actor: format!("operator:{i}"),
                action: "publish".into(),
                site: (i % 2 == 0).then(|| "audited".to_string()),
                target: Some(format!("v{i}")),
                detail: String::new(),
            };
            store.change(vec![Change::Audit { event }]).await.unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let all = store.audit(0, usize::MAX).await.unwrap();
    let new: Vec<_> = all.iter().filter(|e| e.seq > start).collect();
    assert_eq!(
        new.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (start + 1..=start + 40).collect::<Vec<_>>(),
        "audit entries get seqs one after another"
    );
    assert_eq!(audit::verify(None, &all), None, "the audit trail verifies");
    let mut actors: Vec<_> = new.iter().map(|e| e.event.actor.clone()).collect();
    actors.sort();
    actors.dedup();
    assert_eq!(actors.len(), 40, "every event is kept once");
    let page = store.audit(start + 10, 5).await.unwrap();
    assert_eq!(
        page.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (start + 11..=start + 15).collect::<Vec<_>>(),
        "a page of the trail after a seq"
    );
}

/// Signing keys: registered once however often, all listed by key id.
pub async fn keys<S: Store>(store: &S) {
    let key = |id: &str| PublicKey {
        key_id: id.into(),
        x: format!("x-of-{id}"),
    };
    store.register_key(key("b2")).await.unwrap();
    store.register_key(key("a1")).await.unwrap();
    store.register_key(key("b2")).await.unwrap();
    let listed = store.keys().await.unwrap();
    assert_eq!(listed, [key("a1"), key("b2")], "every key once, by key id");
}

/// Sites and config versions: create (once), update, publish, every version kept.
pub async fn sites_and_configs<S: Store>(store: &S) {
    let (v1, v2) = (config(), other_config());
    store
        .create_site(site("cfg"), v1.clone())
        .await
        .expect("create");
    let mut again = site("cfg");
    again.origins = vec!["https://evil.example".into()];
    assert!(
        matches!(
            store.create_site(again, v2.clone()).await,
            Err(StoreError::Conflict(_))
        ),
        "a second site with the same id is a conflict"
    );
    let meta = store.site("cfg").await.unwrap().expect("site cfg");
    assert_eq!(
        meta.origins,
        site("cfg").origins,
        "the conflict changed nothing"
    );
    assert_eq!(
        meta.config_version,
        v1.version(),
        "the first config is current"
    );
    assert_eq!(
        store.config("cfg", &v1.version()).await.unwrap(),
        Some(v1.clone())
    );

    let version = store.publish_config("cfg", v2.clone()).await.unwrap();
    assert_eq!(version, v2.version());
    let meta = store.site("cfg").await.unwrap().expect("site cfg");
    assert_eq!(meta.config_version, v2.version());
    assert_eq!(
        store.config("cfg", &v1.version()).await.unwrap(),
        Some(v1),
        "an old version stays"
    );
    assert_eq!(
        store.config("cfg", &v2.version()).await.unwrap(),
        Some(v2.clone())
    );
    assert_eq!(store.config("cfg", "nope").await.unwrap(), None);
    assert_eq!(store.config("nope", &v2.version()).await.unwrap(), None);

    let rotated = SiteMeta {
        key_hash: "11".repeat(32),
        origins: vec!["https://a.example".into(), "https://b.example".into()],
        ..meta
    };
    store.update_site(rotated.clone()).await.unwrap();
    assert_eq!(store.site("cfg").await.unwrap(), Some(rotated));
    assert!(matches!(
        store.update_site(site("cfg-nope")).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.publish_config("cfg-nope", v2).await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(store.site("cfg-nope").await.unwrap(), None);
    let ids: Vec<String> = store
        .sites()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert!(ids.contains(&"cfg".to_string()) && !ids.contains(&"cfg-nope".to_string()));
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "sites by id: {ids:?}");
}

/// Sealing: seq from 1 without gaps, each record linked to the one before, its
/// hashes sound, time never backwards, and what was acknowledged is what is read.
pub async fn sealing<S: Store>(store: &S) {
    let config = new_site(store, "seal").await;
    assert_eq!(store.head("seal").await.unwrap(), None);
    let mut acknowledged = Vec::new();
    for (i, action) in [
        Action::AcceptAll,
        Action::RejectAll,
        Action::Withdraw,
        Action::AcceptAll,
        Action::RejectAll,
    ]
    .into_iter()
    .enumerate()
    {
        let id = if i % 2 == 0 { "one" } else { "two" };
        let d = draft(&config, id, action, None);
        let r = store.append("seal", d.clone()).await.expect("append");
        assert_eq!(r.seq, i as u64 + 1, "seq from 1 without gaps");
        assert_eq!(
            (
                &r.site,
                &r.consent_id,
                r.action,
                &r.config_version,
                &r.choices
            ),
            (
                &"seal".to_string(),
                &d.consent_id,
                d.action,
                &d.config_version,
                &d.choices
            ),
            "the record carries its draft"
        );
        assert_eq!(r.personal.as_ref(), Some(&d.personal));
        r.verify_self()
            .unwrap_or_else(|e| panic!("record {}: {e}", r.seq));
        match acknowledged.last() {
            None => assert_eq!(r.prev_hash, GENESIS),
            Some(p) => {
                let p: &ConsentRecord = p;
                assert_eq!(r.prev_hash, p.record_hash, "record {} links", r.seq);
                assert!(r.received_at >= p.received_at, "time runs forwards");
            }
        }
        acknowledged.push(r);
    }
    assert_eq!(
        all(store, "seal").await,
        acknowledged,
        "read as acknowledged"
    );
    assert_chain("seal", &acknowledged);
    assert_eq!(
        store.head("seal").await.unwrap(),
        acknowledged.last().map(Head::of)
    );
    assert_eq!(
        store.records("seal", 2, 4, 2).await.unwrap(),
        acknowledged[1..3],
        "a range, at most `limit`"
    );
    assert_eq!(store.records("seal", 6, u64::MAX, 10).await.unwrap(), []);
    let ones: Vec<_> = acknowledged
        .iter()
        .filter(|r| r.consent_id == "one")
        .cloned()
        .collect();
    assert_eq!(store.consent("seal", "one").await.unwrap(), ones);
    assert_eq!(store.consent("seal", "nope").await.unwrap(), []);
    assert_eq!(
        store.consent_site("two").await.unwrap().as_deref(),
        Some("seal")
    );
    assert_eq!(store.consent_site("nope").await.unwrap(), None);

    assert!(matches!(
        store
            .append("seal-nope", draft(&config, "x", Action::AcceptAll, None))
            .await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(store.head("seal-nope").await.unwrap(), None);
    assert_eq!(store.consent_site("x").await.unwrap(), None);
}

/// Idempotency keys: a retry after the answer, and the same key sent many
/// times at once, yield one record; keys are per site.
pub async fn idempotency<S: Store>(store: Arc<S>) {
    let config = new_site(&*store, "idem").await;
    new_site(&*store, "idem-b").await;
    let first = store
        .append("idem", draft(&config, "c1", Action::AcceptAll, Some("k1")))
        .await
        .unwrap();
    let retry = store
        .append("idem", draft(&config, "c1", Action::RejectAll, Some("k1")))
        .await
        .unwrap();
    assert_eq!(
        retry, first,
        "a retry with the same key is the first record"
    );
    assert_eq!(store.head("idem").await.unwrap().map(|h| h.seq), Some(1));
    let other_site = store
        .append(
            "idem-b",
            draft(&config, "c1", Action::AcceptAll, Some("k1")),
        )
        .await
        .unwrap();
    assert_eq!(other_site.site, "idem-b", "keys are per site");
    let no_key = store
        .append("idem", draft(&config, "c1", Action::Withdraw, None))
        .await
        .unwrap();
    assert_eq!(no_key.seq, 2);

    // The same key many times at once (one group commit or several).
    let tasks: Vec<_> = (0..32)
        .map(|_| {
            let store = store.clone();
            let d = draft(&config, "c2", Action::AcceptAll, Some("k2"));
            tokio::spawn(async move { store.append("idem", d).await })
        })
        .collect();
    let mut got = Vec::new();
    for t in tasks {
        got.push(t.await.expect("task").expect("append"));
    }
    assert!(
        got.iter().all(|r| *r == got[0]),
        "one record for one key, whoever was first"
    );
    let records = all(&*store, "idem").await;
    assert_eq!(records.len(), 3, "exactly one record for k2");
    assert_eq!(records[2], got[0]);
    assert_chain("idem", &records);
}

/// A record whose draft names a subject is findable by it once acknowledged.
pub async fn subject_links<S: Store>(store: &S) {
    let config = new_site(store, "subj").await;
    store
        .append(
            "subj",
            with_subject(draft(&config, "c1", Action::AcceptAll, None), "h1"),
        )
        .await
        .unwrap();
    assert_eq!(
        store.subject("subj", "h1").await.unwrap(),
        ["c1"],
        "a record with a subject is linked once acknowledged"
    );
    store
        .append("subj", draft(&config, "c2", Action::AcceptAll, None))
        .await
        .unwrap();
    assert_eq!(store.subject("subj", "h1").await.unwrap(), ["c1"]);
    let link = |consent_id: &str| Change::Link {
        site: "subj".into(),
        subject_hash: "h1".into(),
        consent_id: consent_id.into(),
    };
    store
        .change(vec![link("c2"), link("c2"), link("c1")])
        .await
        .unwrap();
    assert_eq!(
        store.subject("subj", "h1").await.unwrap(),
        ["c1", "c2"],
        "each consent ID once, sorted"
    );
    assert_eq!(
        store.subject("subj", "h2").await.unwrap(),
        Vec::<String>::new()
    );
    assert_eq!(
        store.subject("other", "h1").await.unwrap(),
        Vec::<String>::new()
    );
}

/// Erasure drops personal content and keeps every hash: the chain verifies.
/// It touches the one record named, not the same seq of another site.
pub async fn erasure<S: Store>(store: &S) {
    let config = new_site(store, "erase").await;
    new_site(store, "erase-b").await;
    for id in ["b1", "b2"] {
        store
            .append("erase-b", draft(&config, id, Action::AcceptAll, None))
            .await
            .unwrap();
    }
    let mut acknowledged = Vec::new();
    for id in ["c1", "c2", "c3"] {
        acknowledged.push(
            store
                .append("erase", draft(&config, id, Action::AcceptAll, None))
                .await
                .unwrap(),
        );
    }
    let erase = |seq| Change::Erase {
        site: "erase".into(),
        seq,
    };
    store.change(vec![erase(2)]).await.unwrap();
    store.change(vec![erase(2), erase(99)]).await.unwrap();
    let records = all(store, "erase").await;
    assert_eq!(records.len(), 3);
    assert_eq!(
        records[1].personal, None,
        "record 2's personal content is gone"
    );
    let mut expected = acknowledged[1].clone();
    expected.erase_personal();
    assert_eq!(records[1], expected, "only the personal content is gone");
    assert_eq!(records[0], acknowledged[0]);
    assert_eq!(records[2], acknowledged[2]);
    assert_chain("erase", &records);
    assert_eq!(store.consent("erase", "c2").await.unwrap(), [expected]);
    assert!(
        all(store, "erase-b")
            .await
            .iter()
            .all(|r| r.personal.is_some()),
        "another site's record 2 keeps its personal content"
    );
    // Appending goes on after an erasure.
    let next = store
        .append("erase", draft(&config, "c4", Action::RejectAll, None))
        .await
        .unwrap();
    assert_eq!(
        (next.seq, next.prev_hash.as_str()),
        (4, acknowledged[2].record_hash.as_str())
    );
}

/// Unlinking removes every link of one subject and nothing else, not even the
/// same subject hash's links on another site.
pub async fn unlink<S: Store>(store: &S) {
    let config = new_site(store, "unlink").await;
    new_site(store, "unlink-b").await;
    store
        .append(
            "unlink-b",
            with_subject(draft(&config, "b1", Action::AcceptAll, None), "h1"),
        )
        .await
        .unwrap();
    for (id, subject) in [("c1", "h1"), ("c2", "h1"), ("c3", "h2")] {
        store
            .append(
                "unlink",
                with_subject(draft(&config, id, Action::AcceptAll, None), subject),
            )
            .await
            .unwrap();
    }
    assert_eq!(store.subject("unlink", "h1").await.unwrap(), ["c1", "c2"]);
    store
        .change(vec![Change::Unlink {
            site: "unlink".into(),
            subject_hash: "h1".into(),
        }])
        .await
        .unwrap();
    assert_eq!(
        store.subject("unlink", "h1").await.unwrap(),
        Vec::<String>::new()
    );
    assert_eq!(
        store.subject("unlink", "h2").await.unwrap(),
        ["c3"],
        "another subject's links stay"
    );
    assert_eq!(
        store.subject("unlink-b", "h1").await.unwrap(),
        ["b1"],
        "the same subject's links on another site stay"
    );
    assert_eq!(all(store, "unlink").await.len(), 3, "records stay");
}

fn checkpoint(site: &str, seq: u64) -> Checkpoint {
    Checkpoint {
        site: site.into(),
        seq,
        head_hash: format!("{seq:064x}"),
        signed_at: "2026-11-21T00:00:00.000Z".into(),
        key_id: "k".into(),
        signature: "sig".into(),
    }
}

/// Checkpoints: the one covering a record, the latest, per site.
pub async fn checkpoints<S: Store>(store: &S) {
    // Two sites whose ids share a prefix.
    new_site(store, "cp").await;
    new_site(store, "cpx").await;
    assert_eq!(store.latest_checkpoint("cp").await.unwrap(), None);
    store
        .change(vec![
            Change::Checkpoint {
                checkpoint: checkpoint("cp", 2),
            },
            Change::Checkpoint {
                checkpoint: checkpoint("cp", 4),
            },
            Change::Checkpoint {
                checkpoint: checkpoint("cpx", 9),
            },
        ])
        .await
        .unwrap();
    let covering = |seq| store.checkpoint_covering("cp", seq);
    assert_eq!(covering(1).await.unwrap(), Some(checkpoint("cp", 2)));
    assert_eq!(covering(2).await.unwrap(), Some(checkpoint("cp", 2)));
    assert_eq!(covering(3).await.unwrap(), Some(checkpoint("cp", 4)));
    assert_eq!(covering(5).await.unwrap(), None);
    assert_eq!(
        store.latest_checkpoint("cp").await.unwrap(),
        Some(checkpoint("cp", 4)),
        "the latest checkpoint of this site"
    );
    assert_eq!(
        store.latest_checkpoint("cpx").await.unwrap(),
        Some(checkpoint("cpx", 9))
    );
    // Stored again (a retry): still one.
    store
        .change(vec![Change::Checkpoint {
            checkpoint: checkpoint("cp", 4),
        }])
        .await
        .unwrap();
    assert_eq!(
        store.latest_checkpoint("cp").await.unwrap(),
        Some(checkpoint("cp", 4))
    );
}

/// A proof's reads: a consent ID's records with the records around them and
/// the checkpoint that covers its latest, as the single reads give them; none
/// of another site's records with the same consent ID.
pub async fn proof_reads<S: Store>(store: &S) {
    let config = new_site(store, "proof").await;
    new_site(store, "proofx").await;
    // Seqs 1 to 7: a b a a c b d.
    for id in ["a", "b", "a", "a", "c", "b", "d"] {
        let d = draft(&config, id, Action::AcceptAll, None);
        store.append("proof", d).await.expect("append");
    }
    let other = draft(&config, "a", Action::RejectAll, None);
    let other = store.append("proofx", other).await.expect("append");
    store
        .change(vec![
            Change::Checkpoint {
                checkpoint: checkpoint("proof", 2),
            },
            Change::Checkpoint {
                checkpoint: checkpoint("proof", 5),
            },
        ])
        .await
        .unwrap();
    let ledger = all(store, "proof").await;
    let at = |seqs: &[u64]| -> Vec<ConsentRecord> {
        seqs.iter()
            .map(|s| ledger[*s as usize - 1].clone())
            .collect()
    };
    let read = store.consent_proof("proof", "a").await.unwrap();
    assert_eq!(read.records, at(&[1, 3, 4]), "a's records, in order");
    assert_eq!(read.neighbours, at(&[2, 5]), "around them, each once");
    assert_eq!(read.checkpoint, Some(checkpoint("proof", 5)));
    let read = store.consent_proof("proof", "b").await.unwrap();
    assert_eq!(read.records, at(&[2, 6]));
    assert_eq!(read.neighbours, at(&[1, 3, 5, 7]));
    assert_eq!(read.checkpoint, None, "no checkpoint covers record 6 yet");
    // The head: nothing after it.
    let read = store.consent_proof("proof", "d").await.unwrap();
    assert_eq!((read.records, read.neighbours), (at(&[7]), at(&[6])));
    // The same consent ID on another site is that site's alone.
    let read = store.consent_proof("proofx", "a").await.unwrap();
    assert_eq!(read.records, vec![other]);
    assert_eq!((read.neighbours, read.checkpoint), (vec![], None));
    // An existing ID with a NUL after it is another ID, not found.
    for (site, id) in [("proof", "nobody"), ("nowhere", "a"), ("proof", "a\0")] {
        assert_eq!(
            store.consent_proof(site, id).await.unwrap(),
            ConsentProof::default(),
            "{site:?} {id:?}"
        );
    }
}

/// What a copy of a site needs besides its records (`keksdose migrate`): every
/// config version, subject link, checkpoint and idempotency key of that site,
/// none of a site whose id starts the same.
pub async fn listings<S: Store>(store: &S) {
    let config = new_site(store, "ls").await;
    new_site(store, "lsx").await;
    let other = store.publish_config("ls", other_config()).await.unwrap();
    store.publish_config("lsx", other_config()).await.unwrap();
    let mut linked = draft(&config, "ls-c2", Action::AcceptAll, Some("k2"));
    linked.personal.subject_hash = Some("subj".into());
    let first = store
        .append("ls", draft(&config, "ls-c1", Action::RejectAll, Some("k1")))
        .await
        .unwrap();
    store
        .append("ls", draft(&config, "ls-c1", Action::AcceptAll, None))
        .await
        .unwrap();
    let third = store.append("ls", linked).await.unwrap();
    store
        .append(
            "lsx",
            draft(&config, "lsx-c1", Action::RejectAll, Some("kx")),
        )
        .await
        .unwrap();
    store
        .change(vec![
            Change::Link {
                site: "ls".into(),
                subject_hash: "subj".into(),
                consent_id: "ls-c1".into(),
            },
            Change::Link {
                site: "lsx".into(),
                subject_hash: "subj".into(),
                consent_id: "lsx-c1".into(),
            },
            Change::Checkpoint {
                checkpoint: checkpoint("ls", 2),
            },
            Change::Checkpoint {
                checkpoint: checkpoint("lsx", 1),
            },
        ])
        .await
        .unwrap();
    let mut versions = vec![config.version(), other];
    versions.sort();
    let configs = store.configs("ls").await.unwrap();
    assert_eq!(
        configs.iter().map(|(v, _)| v.clone()).collect::<Vec<_>>(),
        versions,
        "every config version of the site, sorted, none of another site's"
    );
    assert!(
        configs.iter().all(|(v, c)| c.version() == *v),
        "each version with its config"
    );
    let times = store.config_times("ls").await.unwrap();
    let mut timed: Vec<String> = times.iter().map(|(v, _)| v.clone()).collect();
    timed.sort();
    assert_eq!(
        timed, versions,
        "a publish time for every version of the site, no other site's"
    );
    assert!(
        times
            .iter()
            .all(|(_, t)| keksdose_shared::time::parse_rfc3339(t).is_some()),
        "publish times in RFC 3339: {times:?}"
    );
    assert!(
        times.windows(2).all(|w| w[0].1 <= w[1].1),
        "publish times in order: {times:?}"
    );
    // A rollback: the first version is current again, and latest in time.
    std::thread::sleep(std::time::Duration::from_millis(5));
    store.publish_config("ls", config.clone()).await.unwrap();
    let times = store.config_times("ls").await.unwrap();
    assert_eq!(
        times.last().map(|(v, _)| v.clone()),
        Some(config.version()),
        "a version published again is in force from then: {times:?}"
    );
    assert_eq!(
        store.links("ls").await.unwrap(),
        [
            ("subj".to_string(), "ls-c1".to_string()),
            ("subj".to_string(), "ls-c2".to_string())
        ],
        "the site's links, the one a record brought too"
    );
    assert_eq!(
        store.checkpoints("ls").await.unwrap(),
        [checkpoint("ls", 2)],
        "the site's checkpoints"
    );
    assert_eq!(
        store.idempotency_keys("ls").await.unwrap(),
        [(first.seq, "k1".to_string()), (third.seq, "k2".to_string())],
        "the site's idempotency keys by seq"
    );
    assert!(store.configs("nobody").await.unwrap().is_empty());
}

/// Leases: one holder at a time, renewed by its holder, free once run out.
pub async fn leases<S: Store>(store: Arc<S>) {
    // 32 servers asking for a free lease at once: one gets it.
    let mut asked = Vec::new();
    for i in 0..32 {
        let store = store.clone();
        asked.push(tokio::spawn(async move {
            store.lease("race", &format!("h{i}"), 60_000).await.unwrap()
        }));
    }
    let mut granted = 0;
    for a in asked {
        granted += usize::from(a.await.unwrap());
    }
    assert_eq!(granted, 1, "one of many asking at once gets a free lease");
    assert!(
        store.lease("job", "a", 60_000).await.unwrap(),
        "a free lease is taken"
    );
    assert!(
        !store.lease("job", "b", 60_000).await.unwrap(),
        "another holder's running lease is refused"
    );
    assert!(
        store.lease("job", "a", 60_000).await.unwrap(),
        "its holder renews it"
    );
    assert!(
        store.lease("other-job", "b", 300).await.unwrap(),
        "leases are by name"
    );
    assert!(!store.lease("other-job", "a", 300).await.unwrap());
    // Once b's lease has run out (the store's clock, so wait a little longer).
    let mut taken = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if store.lease("other-job", "a", 60_000).await.unwrap() {
            taken = true;
            break;
        }
    }
    assert!(taken, "a lease that ran out goes to the next holder");
    assert!(!store.lease("other-job", "b", 60_000).await.unwrap());
}

/// Many tasks appending to three sites at once: each acknowledged record has
/// its own place, and every chain holds exactly what was acknowledged.
pub async fn concurrent_appends<S: Store>(store: Arc<S>) {
    let sites = ["many-a", "many-b", "many-c"];
    let mut config = None;
    for s in sites {
        config = Some(new_site(&*store, s).await);
    }
    let config = config.expect("a config");
    let tasks: Vec<_> = (0..150)
        .map(|i| {
            let store = store.clone();
            let site = sites[i % 3];
            let d = draft(&config, &format!("x{i}"), Action::AcceptAll, None);
            tokio::spawn(async move { (site, store.append(site, d).await) })
        })
        .collect();
    let mut acknowledged: BTreeMap<&str, Vec<ConsentRecord>> = BTreeMap::new();
    for t in tasks {
        let (site, r) = t.await.expect("task");
        acknowledged
            .entry(site)
            .or_default()
            .push(r.expect("append"));
    }
    for (site, mut acked) in acknowledged {
        acked.sort_by_key(|r| r.seq);
        let seqs: Vec<u64> = acked.iter().map(|r| r.seq).collect();
        assert_eq!(
            seqs,
            (1..=50).collect::<Vec<u64>>(),
            "{site}: one place each, no gaps"
        );
        let stored = all(&*store, site).await;
        assert_eq!(stored, acked, "{site}: stored as acknowledged");
        assert_chain(site, &stored);
    }
}

/// Selections by time range, subject and cursor, and day statistics, against
/// the same filter applied to every record.
pub async fn selections<S: Store>(store: &S) {
    let config = new_site(store, "sel").await;
    for i in 0..12 {
        let mut d = draft(
            &config,
            &format!("c{}", i % 4),
            [Action::AcceptAll, Action::RejectAll, Action::Custom][i % 3],
            None,
        );
        if i % 3 == 2 {
            d.choices = Decision::new(Action::RejectAll)
                .resolve(&config)
                .expect("resolves");
            d.action = Action::Custom;
        }
        d.signals.gpc = i % 5 == 0;
        if i % 4 == 1 || i % 4 == 3 {
            // Two consent IDs of one subject, interleaved in the ledger.
            d = with_subject(d, "h");
        }
        if i == 7 {
            d.source = Source::Backend;
        }
        store.append("sel", d).await.unwrap();
        if i % 3 == 0 {
            // Distinct times, so that ranges have edges to test.
            tokio::time::sleep(Duration::from_millis(3)).await;
        }
    }
    let records = all(store, "sel").await;
    let ms = |r: &ConsentRecord| keksdose_shared::time::parse_rfc3339(&r.received_at).unwrap_or(0);
    let linked = store.subject("sel", "h").await.unwrap();
    assert_eq!(linked, ["c1", "c3"]);
    let mut cases = vec![Selection::default()];
    for r in [&records[0], &records[4], &records[9]] {
        cases.push(Selection {
            from_ms: Some(ms(r)),
            ..Selection::default()
        });
        cases.push(Selection {
            to_ms: Some(ms(r)),
            ..Selection::default()
        });
        cases.push(Selection {
            from_ms: Some(ms(&records[1])),
            to_ms: Some(ms(r) + 1),
            subject_hash: Some("h".into()),
        });
    }
    cases.push(Selection {
        subject_hash: Some("nobody".into()),
        ..Selection::default()
    });
    for sel in cases {
        let expected: Vec<ConsentRecord> = records
            .iter()
            .filter(|r| sel.in_time(r))
            .filter(|r| {
                sel.subject_hash
                    .as_ref()
                    .is_none_or(|s| s == "h" && linked.contains(&r.consent_id))
            })
            .cloned()
            .collect();
        let whole = store.select("sel", &sel, 0, 1000).await.unwrap();
        assert_eq!(whole, expected, "select {sel:?}");
        // Page by page, after a cursor.
        let mut paged = Vec::new();
        let mut after = 0;
        loop {
            let page = store.select("sel", &sel, after, 2).await.unwrap();
            assert!(page.len() <= 2);
            let Some(last) = page.last() else { break };
            after = last.seq;
            paged.extend(page);
        }
        assert_eq!(paged, expected, "select {sel:?} in pages of 2");
        let mut days = BTreeMap::new();
        for r in &expected {
            DayStats::count(&mut days, r);
        }
        assert_eq!(
            store.day_stats("sel", &sel).await.unwrap(),
            days,
            "day_stats {sel:?}"
        );
    }
    assert_eq!(
        store
            .select("sel-nope", &Selection::default(), 0, 10)
            .await
            .unwrap(),
        []
    );
}

/// Writes with nothing to write are answered, not dropped.
pub async fn empty_changes_are_answered<S: Store>(store: &S) {
    store
        .change(Vec::new())
        .await
        .expect("an empty change succeeds");
}
