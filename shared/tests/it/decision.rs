//! Decisions resolve against a config: nothing pre-ticked, necessary locked on,
//! unknown ids refused; a stored decision restated, sent again or taken back; and
//! when a stored decision must be renewed.

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

/// `d` as the cookie keeps it.
fn kept(config: &keksdose_shared::SiteConfig, d: &Decision, id: Option<&str>) -> StoredDecision {
    let choices = d.resolve(config).unwrap();
    let mut s = StoredDecision::from_choices(
        &choices,
        d.action,
        &config.version(),
        1,
        1_795_293_490,
        Signals::default(),
    );
    s.consent_id = id.map(String::from);
    s
}

#[test]
fn a_stored_decision_restated_or_sent_again_resolves_to_itself() {
    let config = small();
    for d in [
        Decision::new(Action::AcceptAll),
        Decision::new(Action::RejectAll),
        custom(&[("analytics", true)], &[("segment", false)]),
        custom(&[], &[("google-ads", true)]),
    ] {
        let s = kept(&config, &d, Some("c1"));
        let want = d.resolve(&config).unwrap();
        assert_eq!(
            Decision::restate(&config, Some(&s))
                .resolve(&config)
                .unwrap(),
            want
        );
        assert_eq!(
            Decision::resend(&config, &s).resolve(&config).unwrap(),
            want
        );
    }
    // Without a decision: only the necessary.
    assert_eq!(
        Decision::restate(&config, None).resolve(&config).unwrap(),
        Decision::new(Action::RejectAll).resolve(&config).unwrap()
    );
}

#[test]
fn always_allow_adds_one_service_and_nothing_the_visitor_did_not_allow() {
    let config = small();
    let none = Decision::allowing(&config, None, "mixpanel")
        .resolve(&config)
        .unwrap();
    let on: Vec<&str> = none
        .iter()
        .filter(|(_, on)| *on)
        .map(|(id, _)| id)
        .collect();
    assert_eq!(on, ["necessary", "mixpanel", "session"]);

    // Accepted before segment joined analytics: the category is in the cookie,
    // segment is not, and stays off.
    let mut old = kept(&config, &Decision::new(Action::AcceptAll), Some("c1"));
    old.granted.remove("segment");
    let d = Decision::allowing(&config, Some(&old), "google-ads");
    let choices = d.resolve(&config).unwrap();
    assert!(choices.allowed("mixpanel") && choices.allowed("google-ads"));
    assert!(!choices.allowed("segment") && !choices.allowed("analytics"));
}

#[test]
fn only_necessary_withdraws_an_acknowledged_consent_beyond_the_necessary() {
    use keksdose_shared::withdrawal::{Withdrawn, needs_reload, reject_action};
    let mut config = small();
    let accepted = kept(&config, &Decision::new(Action::AcceptAll), Some("c1"));
    let rejected = kept(&config, &Decision::new(Action::RejectAll), Some("c1"));
    assert_eq!(reject_action(&config, Some(&accepted)), Action::Withdraw);
    assert_eq!(reject_action(&config, Some(&rejected)), Action::RejectAll);
    assert_eq!(reject_action(&config, None), Action::RejectAll);
    let mut pending = accepted.clone();
    pending.consent_id = None;
    assert_eq!(reject_action(&config, Some(&pending)), Action::RejectAll);

    let gone = Withdrawn::between(&config, &accepted, &rejected);
    assert_eq!(gone.categories, ["analytics", "marketing"]);
    assert_eq!(gone.services, ["google-ads", "mixpanel", "segment"]);
    let ran = |ids: &[&str]| ids.iter().map(|s| s.to_string()).collect();
    assert!(
        !needs_reload(&config, &gone, &ran(&["mixpanel"])),
        "not asked for"
    );
    config.consent.reload_on_withdraw = true;
    assert!(needs_reload(&config, &gone, &ran(&["mixpanel"])));
    assert!(needs_reload(&config, &gone, &ran(&["analytics"])));
    assert!(!needs_reload(&config, &gone, &ran(&["session"])));
    assert!(Withdrawn::between(&config, &rejected, &accepted).is_empty());
}
