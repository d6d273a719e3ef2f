//! Records: the hash commits to everything but the erasable personal content,
//! erasure keeps the chain verifiable, and any tampering is found.

use keksdose_shared::record::{Broken, ChainVerifier, GENESIS, Source};
use keksdose_shared::{Action, ConsentRecord, Decision, Personal};

use crate::fixtures::small;

/// A chain of `n` sealed records for site "beispiel".
pub fn chain(n: u64) -> Vec<ConsentRecord> {
    let config = small();
    let mut prev = GENESIS.to_string();
    (1..=n)
        .map(|seq| {
            let action = if seq % 2 == 1 {
                Action::AcceptAll
            } else {
                Action::Withdraw
            };
            let r = ConsentRecord {
                format: 1,
                site: "beispiel".into(),
                seq,
                consent_id: format!("consent{seq:04}AAAAAAAAAAAAA"),
                received_at: keksdose_shared::time::rfc3339_millis(1_795_293_490_000 + seq * 1000),
                action,
                source: Source::Banner,
                config_version: config.version(),
                choices: Decision::new(action).resolve(&config).unwrap(),
                purposes: Default::default(),
                language: "de".into(),
                signals: Default::default(),
                personal_hash: String::new(),
                personal: Some(Personal {
                    salt: format!("salt{seq}"),
                    address_hash: None,
                    page: Some("/preise".into()),
                    ip_hash: Some("aa".repeat(16)),
                    ua_hash: Some("bb".repeat(16)),
                    subject_hash: None,
                }),
                prev_hash: prev.clone(),
                record_hash: String::new(),
            }
            .seal()
            .unwrap();
            prev.clone_from(&r.record_hash);
            r
        })
        .collect()
}

fn verify(records: &[ConsentRecord]) -> Result<u64, Broken> {
    let mut v = ChainVerifier::new("beispiel");
    for r in records {
        v.push(r)?;
    }
    Ok(v.verified())
}

#[test]
fn a_sealed_chain_verifies() {
    let records = chain(5);
    assert_eq!(verify(&records), Ok(5));
    assert_eq!(records[0].prev_hash, GENESIS);
    assert_eq!(records[1].prev_hash, records[0].record_hash);
    assert_eq!(records[0].record_hash.len(), 64);
}

#[test]
fn erasure_drops_personal_content_and_the_chain_still_verifies() {
    let mut records = chain(3);
    let before = records[1].record_hash.clone();
    records[1].erase_personal();
    assert!(records[1].personal.is_none());
    assert_eq!(records[1].compute_hash().unwrap(), before);
    assert_eq!(verify(&records), Ok(3));
    let json = serde_json::to_string(&records[1]).unwrap();
    assert!(
        !json.contains("/preise") && !json.contains("salt2"),
        "{json}"
    );
}

#[test]
fn any_tampering_is_found_at_the_right_record() {
    let mut changed_choice = chain(4);
    changed_choice[1]
        .choices
        .services
        .insert("mixpanel".into(), true);
    assert_eq!(verify(&changed_choice), Err(Broken::RecordHash { seq: 2 }));

    let mut changed_personal = chain(4);
    changed_personal[1].personal.as_mut().unwrap().page = Some("/other".into());
    assert_eq!(
        verify(&changed_personal),
        Err(Broken::PersonalHash { seq: 2 })
    );

    let mut resealed = chain(4);
    resealed[1].action = Action::AcceptAll;
    resealed[1] = resealed[1].clone().seal().unwrap();
    assert_eq!(
        verify(&resealed),
        Err(Broken::Link { seq: 3 }),
        "a rewritten record breaks the next link"
    );

    let mut dropped = chain(4);
    dropped.remove(1);
    assert_eq!(
        verify(&dropped),
        Err(Broken::Sequence {
            seq: 3,
            expected: 2
        })
    );
}

#[test]
fn the_hash_is_sha256_over_jcs_without_record_hash_and_personal() {
    let r = &chain(1)[0];
    let mut value = serde_json::to_value(r).unwrap();
    let obj = value.as_object_mut().unwrap();
    obj.remove("record_hash");
    obj.remove("personal");
    let jcs = keksdose_shared::canonical::to_canonical_json(&value).unwrap();
    assert!(
        jcs.starts_with("{\"action\":\"accept_all\",\"choices\":{"),
        "{jcs}"
    );
    assert_eq!(
        keksdose_shared::canonical::sha256_hex(jcs.as_bytes()),
        r.record_hash
    );
    let personal =
        keksdose_shared::canonical::to_canonical_json(r.personal.as_ref().unwrap()).unwrap();
    assert_eq!(
        keksdose_shared::canonical::sha256_hex(personal.as_bytes()),
        r.personal_hash
    );
}
