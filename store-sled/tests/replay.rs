//! Upgrades: a journal written by an earlier release is replayed by this one
//! with nothing lost. The fixtures under `fixtures/` say how they were made.

use std::path::Path;

use keksdose_shared::ConsentRecord;
use keksdose_shared::record::ChainVerifier;
use keksdose_store::Store;
use keksdose_store_sled::SledStore;

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

#[tokio::test]
async fn a_journal_of_release_0_1_0_replays_with_every_record_and_config() {
    let from = fixture("journal-0.1.0");
    let dir = tempfile::tempdir().unwrap();
    // The journal alone, no index: everything comes from replaying it.
    std::fs::copy(from.join("journal"), dir.path().join("journal")).unwrap();
    let store = SledStore::open(dir.path()).unwrap();

    let sites = std::fs::read_to_string(from.join("sites.txt")).unwrap();
    let mut expected_sites = Vec::new();
    for line in sites.lines() {
        let (id, version) = line.split_once(' ').unwrap();
        let meta = store.site(id).await.unwrap().expect("the site is there");
        assert_eq!(meta.config_version, version, "{id}: the current config");
        assert!(
            store.config(id, version).await.unwrap().is_some(),
            "{id}: its config"
        );
        expected_sites.push(id.to_string());
    }
    let ids: Vec<String> = store
        .sites()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(ids, expected_sites);

    // Byte for byte what 0.1.0 exported after replaying the same journal.
    let expected = std::fs::read_to_string(from.join("records.ndjson")).unwrap();
    // (0.1.0's export ran site by site in this order.)
    let mut exported = String::new();
    for id in ["saas", "coaching", "education", "necessary-only"] {
        let records = store.records(id, 1, u64::MAX, usize::MAX).await.unwrap();
        let mut v = ChainVerifier::new(id);
        for r in &records {
            v.push(r).unwrap();
            exported.push_str(&serde_json::to_string(r).unwrap());
            exported.push('\n');
        }
    }
    assert_eq!(exported, expected);

    // What the changes did, as the replayed store answers: the erased subject's
    // records have no personal content and no links left, the linked subject
    // finds its consent ID, and the checkpoint is the one 0.1.0 signed.
    let records: Vec<ConsentRecord> = expected
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let subjects = std::fs::read_to_string(from.join("subjects.txt")).unwrap();
    let subjects: Vec<Vec<&str>> = subjects.lines().map(|l| l.split(' ').collect()).collect();
    let (saas_subject, saas_consent) = (subjects[0][1], subjects[0][2]);
    assert_eq!(
        store.subject("saas", saas_subject).await.unwrap(),
        [saas_consent]
    );
    let erased_subject = subjects[1][1];
    assert!(
        store
            .subject("coaching", erased_subject)
            .await
            .unwrap()
            .is_empty()
    );
    let newsletter = records
        .iter()
        .find(|r| r.site == "coaching" && !r.purposes.is_empty())
        .unwrap();
    let stored = store
        .consent("coaching", &newsletter.consent_id)
        .await
        .unwrap();
    assert_eq!(stored.len(), 2);
    assert!(
        stored.iter().all(|r| r.personal.is_none()),
        "the erased newsletter consent has no personal content"
    );
    assert!(
        store
            .consent("saas", saas_consent)
            .await
            .unwrap()
            .iter()
            .all(|r| r.personal.is_some()),
        "what was not erased keeps its personal content"
    );
    let checkpoint = store.latest_checkpoint("saas").await.unwrap().unwrap();
    assert_eq!(checkpoint.seq, 3);
    assert_eq!(
        checkpoint.head_hash,
        store.records("saas", 3, 3, 1).await.unwrap()[0].record_hash
    );
    let saas = records.iter().find(|r| r.site == "saas").unwrap();
    let saas_head = store.head("saas").await.unwrap().unwrap();

    // And the ledger goes on where it was.
    let next = store
        .append(
            "saas",
            keksdose_store::Draft {
                consent_id: "after-upgrade".into(),
                action: keksdose_shared::Action::RejectAll,
                source: keksdose_shared::record::Source::Banner,
                config_version: store.site("saas").await.unwrap().unwrap().config_version,
                choices: Default::default(),
                purposes: Default::default(),
                language: "de".into(),
                signals: Default::default(),
                personal: keksdose_shared::Personal {
                    salt: "s".into(),
                    address_hash: None,
                    page: None,
                    ip_hash: None,
                    ua_hash: None,
                    subject_hash: None,
                },
                idempotency_key: Some("fixture-1".into()),
            },
        )
        .await
        .unwrap();
    assert_eq!(&next, saas, "an idempotency key of 0.1.0 is still known");
    assert_eq!(store.head("saas").await.unwrap(), Some(saas_head));
}
