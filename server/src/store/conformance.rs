//! The behaviour every [`Store`] backend must show; run against each backend.

use std::collections::BTreeMap;

use keksdose_shared::record::{ChainVerifier, Source};
use keksdose_shared::{Action, Decision, Personal, SiteConfig};

use super::{Draft, SiteMeta, Store, StoreError};

pub fn config() -> SiteConfig {
    SiteConfig::from_toml(include_str!("../../../examples/sites/saas.toml"))
        .expect("example parses")
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
        choices: Decision::new(action).resolve(config).expect("resolves"),
        purposes: BTreeMap::new(),
        language: "de".into(),
        signals: Default::default(),
        personal: Personal {
            salt: "s".into(),
            page: Some("/".into()),
            ip_hash: None,
            ua_hash: None,
            subject_hash: None,
        },
        idempotency_key: key.map(String::from),
    }
}

/// Sites, configs, appends, lookups and idempotency.
pub async fn basics<S: Store>(store: &S) {
    let config = config();
    store
        .create_site(site("a"), config.clone())
        .await
        .expect("create");
    assert!(matches!(
        store.create_site(site("a"), config.clone()).await,
        Err(StoreError::Conflict(_))
    ));
    let meta = store.site("a").unwrap().expect("site a");
    assert_eq!(meta.config_version, config.version());
    assert_eq!(
        store.config("a", &config.version()).unwrap(),
        Some(config.clone())
    );

    let first = store
        .append("a", draft(&config, "c1", Action::AcceptAll, Some("k1")))
        .await
        .unwrap();
    assert_eq!(first.seq, 1);
    let again = store
        .append("a", draft(&config, "c1", Action::AcceptAll, Some("k1")))
        .await
        .unwrap();
    assert_eq!(again, first, "a retry with the same key is the same record");
    let second = store
        .append("a", draft(&config, "c1", Action::Withdraw, None))
        .await
        .unwrap();
    assert_eq!(
        (second.seq, second.prev_hash.as_str()),
        (2, first.record_hash.as_str())
    );
    assert!(matches!(
        store
            .append("nope", draft(&config, "c", Action::AcceptAll, None))
            .await,
        Err(StoreError::NotFound(_))
    ));

    assert_eq!(
        store.consent("a", "c1").unwrap(),
        vec![first.clone(), second.clone()]
    );
    assert_eq!(store.consent_site("c1").unwrap().as_deref(), Some("a"));
    assert_eq!(store.head("a").unwrap().map(|h| h.seq), Some(2));
    assert_eq!(store.records("a", 1, u64::MAX, 10).unwrap().len(), 2);

    // Concurrent appends to two sites: every one gets its place, the chains hold.
    store
        .create_site(site("b"), config.clone())
        .await
        .expect("create b");
    let mut tasks = Vec::new();
    for i in 0..50 {
        let site = if i % 2 == 0 { "a" } else { "b" };
        tasks.push(store.append(
            site,
            draft(&config, &format!("x{i}"), Action::AcceptAll, None),
        ));
    }
    for t in tasks {
        t.await.unwrap();
    }
    for (site, n) in [("a", 27), ("b", 25)] {
        let records = store.records(site, 1, u64::MAX, 1000).unwrap();
        assert_eq!(records.len(), n);
        let mut v = ChainVerifier::new(site);
        for r in &records {
            v.push(r).unwrap();
        }
    }
}

/// Writes with nothing to write are answered, not dropped.
pub async fn empty_changes_are_answered<S: Store>(store: &S) {
    store
        .change(Vec::new())
        .await
        .expect("an empty change succeeds");
}
