//! Decisions resolve against a config: nothing pre-ticked, necessary locked on,
//! unknown ids refused; and when a stored decision must be renewed.

use std::collections::BTreeMap;

use keksdose_shared::cookie::StoredDecision;
use keksdose_shared::decision::Signals;
use keksdose_shared::renewal::{Renewal, check};
use keksdose_shared::{Action, Decision};

use crate::fixtures::{SMALL, small};

fn custom(categories: &[(&str, bool)], services: &[(&str, bool)]) -> Decision {
    let map = |pairs: &[(&str, bool)]| {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect::<BTreeMap<_, _>>()
    };
    Decision {
        action: Action::Custom,
        categories: map(categories),
        services: map(services),
    }
}

#[test]
fn accept_all_allows_everything_and_reject_all_only_necessary() {
    let config = small();
    let all = Decision::new(Action::AcceptAll).resolve(&config).unwrap();
    assert!(all.iter().all(|(_, on)| on), "{all:?}");
    for action in [Action::RejectAll, Action::Withdraw] {
        let none = Decision::new(action).resolve(&config).unwrap();
        let allowed: Vec<&str> = none
            .iter()
            .filter(|(_, on)| *on)
            .map(|(id, _)| id)
            .collect();
        assert_eq!(allowed, ["necessary", "session"]);
        assert!(!none.allowed("mixpanel") && !none.allowed("analytics"));
    }
}

#[test]
fn custom_switches_nothing_on_that_the_visitor_did_not() {
    let config = small();
    let nothing = custom(&[], &[]).resolve(&config).unwrap();
    assert_eq!(
        nothing,
        Decision::new(Action::RejectAll).resolve(&config).unwrap()
    );

    let analytics = custom(&[("analytics", true)], &[])
        .resolve(&config)
        .unwrap();
    assert!(
        analytics.allowed("analytics")
            && analytics.allowed("mixpanel")
            && analytics.allowed("segment")
    );
    assert!(!analytics.allowed("marketing") && !analytics.allowed("google-ads"));
}

#[test]
fn a_category_is_allowed_only_when_all_its_services_are() {
    let config = small();
    let one = custom(&[("analytics", true)], &[("segment", false)])
        .resolve(&config)
        .unwrap();
    assert!(one.allowed("mixpanel"));
    assert!(!one.allowed("segment"));
    assert!(
        !one.allowed("analytics"),
        "data-consent=\"analytics\" must not run when segment is refused"
    );

    let both = custom(&[], &[("mixpanel", true), ("segment", true)])
        .resolve(&config)
        .unwrap();
    assert!(both.allowed("analytics"));
}

#[test]
fn refuses_unknown_ids_refused_necessary_and_contradictions() {
    let config = small();
    let err = custom(
        &[("werbung", true), ("necessary", false)],
        &[("hotjar", true), ("session", false)],
    )
    .resolve(&config)
    .unwrap_err()
    .to_string();
    for expected in [
        "categories.werbung: unknown category",
        "categories.necessary: necessary services cannot be refused",
        "services.hotjar: unknown service",
        "services.session: necessary services cannot be refused",
    ] {
        assert!(err.contains(expected), "{expected} not in\n{err}");
    }
    let mut contradiction = Decision::new(Action::AcceptAll);
    contradiction.categories.insert("analytics".into(), false);
    let err = contradiction.resolve(&config).unwrap_err().to_string();
    assert!(err.contains("contradicts action \"accept_all\""), "{err}");
    let mut consistent = Decision::new(Action::RejectAll);
    consistent.categories.insert("necessary".into(), true);
    consistent.resolve(&config).unwrap();
}

fn stored(config: &keksdose_shared::SiteConfig, action: Action, at: u64) -> StoredDecision {
    let choices = Decision::new(action).resolve(config).unwrap();
    StoredDecision::from_choices(
        &choices,
        action,
        &config.version(),
        config.consent.revision,
        at,
        Signals::default(),
    )
}

#[test]
fn a_decision_holds_until_its_lifetime_ends() {
    let config = small();
    let at = 1_700_000_000;
    let d = stored(&config, Action::AcceptAll, at);
    assert_eq!(check(&config, &d, at + 1), None);
    assert_eq!(check(&config, &d, at + 359 * 86_400), None);
    assert_eq!(
        check(&config, &d, at + 360 * 86_400),
        Some(Renewal::Expired),
        "12mo = 360 days"
    );
}

#[test]
fn a_text_fix_keeps_the_decision_and_a_new_service_or_revision_asks_again() {
    let config = small();
    let at = 1_700_000_000;
    let d = stored(&config, Action::RejectAll, at);

    let text_fix =
        keksdose_shared::SiteConfig::from_toml(&SMALL.replace("Produktanalyse", "Produkt-Analyse"))
            .unwrap();
    assert_ne!(text_fix.version(), config.version());
    assert_eq!(check(&text_fix, &d, at + 60), None);

    let mut removed = config.clone();
    removed.services.retain(|s| s.id != "segment");
    assert_eq!(check(&removed, &d, at + 60), None);

    let mut new_necessary = config.clone();
    let mut csrf = new_necessary.service("session").unwrap().clone();
    csrf.id = "csrf".into();
    new_necessary.services.push(csrf);
    assert_eq!(check(&new_necessary, &d, at + 60), None);

    let mut new_service = config.clone();
    let mut hotjar = new_service.service("mixpanel").unwrap().clone();
    hotjar.id = "hotjar".into();
    new_service.services.push(hotjar);
    assert_eq!(
        check(&new_service, &d, at + 60),
        Some(Renewal::NewIds(vec!["hotjar".into()]))
    );

    let mut revised = config.clone();
    revised.consent.revision = 2;
    assert_eq!(
        check(&revised, &d, at + 60),
        Some(Renewal::Revision {
            stored: 1,
            current: 2
        })
    );
}
