//! The published test vectors (`shared/vectors/*.json`): produced by this crate,
//! checked in, and read by the JavaScript loader's tests and by an independent
//! RFC 8785 implementation, so that the Rust and JS sides never drift.
//!
//! The files must equal what the code produces now; run with `UPDATE_VECTORS=1` to
//! rewrite them after a deliberate change.

use std::path::PathBuf;

use keksdose_shared::canonical::to_canonical_json;
use keksdose_shared::config::NECESSARY;
use keksdose_shared::cookie::StoredDecision;
use keksdose_shared::decision::Signals;
use keksdose_shared::withdrawal::{self, Withdrawn};
use keksdose_shared::{Action, Decision, SiteConfig};
use serde_json::{Value, json};

use crate::fixtures::{SMALL, small};

fn check(name: &str, produced: &Value) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("vectors")
        .join(name);
    let text = format!("{}\n", serde_json::to_string_pretty(produced).unwrap());
    if std::env::var_os("UPDATE_VECTORS").is_some() {
        std::fs::write(&path, &text).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == text,
        "{} differs from what the code produces; rerun with UPDATE_VECTORS=1 if the change is deliberate",
        path.display()
    );
}

#[test]
fn cookie_vectors_are_current() {
    let config = small();
    let version = config.version();
    let mut valid = Vec::new();
    /// name, action, ids switched on, consent id, pending key, signals
    type Case<'a> = (
        &'a str,
        Action,
        &'a [(&'a str, bool)],
        Option<&'a str>,
        Option<&'a str>,
        Signals,
    );
    let cases: [Case; 5] = [
        (
            "accept all",
            Action::AcceptAll,
            &[],
            Some("kq3Xg0bT2m9yQ1vZ8cJ4Aw"),
            None,
            Signals::default(),
        ),
        (
            "only necessary",
            Action::RejectAll,
            &[],
            Some("Zm9vYmFyYmF6cXV4MTIzNA"),
            None,
            Signals::default(),
        ),
        (
            "custom: analytics only, GPC",
            Action::Custom,
            &[("analytics", true)],
            Some("AAAAAAAAAAAAAAAAAAAAAA"),
            None,
            Signals {
                gpc: true,
                dnt: false,
            },
        ),
        (
            "custom: one service, DNT, not yet acknowledged",
            Action::Custom,
            &[("mixpanel", true)],
            None,
            Some("req-7f3a9c"),
            Signals {
                gpc: false,
                dnt: true,
            },
        ),
        (
            "withdrawal pending, GPC and DNT",
            Action::Withdraw,
            &[],
            Some("kq3Xg0bT2m9yQ1vZ8cJ4Aw"),
            Some("req-0001"),
            Signals {
                gpc: true,
                dnt: true,
            },
        ),
    ];
    for (name, action, picks, consent_id, pending, signals) in cases {
        let mut d = Decision::new(action);
        for (id, on) in picks {
            if config.service(id).is_some() {
                d.services.insert((*id).into(), *on);
            } else {
                d.categories.insert((*id).into(), *on);
            }
        }
        let choices = d.resolve(&config).unwrap();
        let mut s =
            StoredDecision::from_choices(&choices, action, &version, 1, 1_795_293_490, signals);
        s.consent_id = consent_id.map(String::from);
        s.pending = pending.map(String::from);
        let value = s.encode().unwrap();
        assert_eq!(StoredDecision::decode(&value).unwrap(), s);
        valid.push(json!({"name": name, "value": value, "decision": s}));
    }
    let good = valid[2]["value"].as_str().unwrap().to_string();
    let invalid: Vec<Value> = [
        ("empty", String::new()),
        ("unknown format version", good.replacen("1.", "2.", 1)),
        ("one field too many", format!("{good}.")),
        (
            "one field too few",
            good.rsplit_once('.').unwrap().0.to_string(),
        ),
        ("unknown action", good.replace(".c.g.", ".z.g.")),
        ("unknown flag", good.replace(".c.g.", ".c.x.")),
        ("flags not canonical", good.replace(".c.g.", ".c.gg.")),
        (
            "ids not sorted",
            good.replace("analytics:mixpanel", "mixpanel:analytics"),
        ),
        ("id with upper case", good.replace("mixpanel", "Mixpanel")),
        (
            "id granted and denied",
            good.replace(".google-ads:marketing", ".google-ads:mixpanel"),
        ),
        (
            "leading zero in a number",
            good.replace(".1795293490.", ".01795293490."),
        ),
        ("no config version", good.replace(&version, "")),
        (
            "consent id with a bad character",
            good.replace("AAAAAAAAAAAAAAAAAAAAAA", "AAAA+AAAA"),
        ),
        ("too long", format!("{good}{}", ":a".repeat(2000))),
    ]
    .into_iter()
    .map(|(name, value)| {
        let error = StoredDecision::decode(&value).expect_err(name).to_string();
        json!({"name": name, "value": value, "error": error})
    })
    .collect();
    check(
        "cookie.json",
        &json!({
            "description": "Consent cookie vectors (format 1). `valid`: value and the decision it encodes; decoding the value must give the decision, encoding the decision must give the value. `invalid`: values a conforming parser must refuse (the banner then asks again).",
            "cookie_name_prefix": keksdose_shared::cookie::PREFIX,
            "valid": valid,
            "invalid": invalid,
        }),
    );
}

#[test]
fn record_and_config_vectors_are_current() {
    let records = crate::record::chain(3);
    let mut erased = records.clone();
    erased[1].erase_personal();
    let record_vectors: Vec<Value> = erased
        .iter()
        .map(|r| {
            let mut value = serde_json::to_value(r).unwrap();
            let obj = value.as_object_mut().unwrap();
            obj.remove("record_hash");
            obj.remove("personal");
            let mut v = json!({
                "record": r,
                "canonical": to_canonical_json(&value).unwrap(),
            });
            if let Some(p) = &r.personal {
                v["personal_canonical"] = json!(to_canonical_json(p).unwrap());
            }
            v
        })
        .collect();
    let config = small();
    check(
        "records.json",
        &json!({
            "description": "Record and config hash vectors. For each record: `canonical` is the RFC 8785 (JCS) form of `record` without `record_hash` and `personal`; record_hash = hex(SHA-256(canonical)); personal_hash = hex(SHA-256(JCS(personal))) when personal is present (record 2 had its personal content erased and still verifies); each prev_hash is the record_hash before it (the first is 64 zeros). For the config: version = base64url(SHA-256(JCS(config))), no padding.",
            "records": record_vectors,
            "config": {
                "config": config,
                "canonical": to_canonical_json(&config).unwrap(),
                "version": config.version(),
            },
        }),
    );
}

// ---- The loader's rules (static/k-banner.js): choices and withdrawals. ---------

/// The example sites (examples/sites/*.toml) and one with a category of its own,
/// each as the `config` the loader receives from `GET /v1/sites/{site}/config`.
fn loader_configs() -> Vec<(&'static str, SiteConfig)> {
    let example = |toml: &str| {
        let config = SiteConfig::from_toml(toml).unwrap();
        config.validate().unwrap();
        config
    };
    let own_category = example(&format!("{SMALL}{RESEARCH}"));
    vec![
        (
            "saas",
            example(include_str!("../../../examples/sites/saas.toml")),
        ),
        (
            "coaching",
            example(include_str!("../../../examples/sites/coaching.toml")),
        ),
        (
            "sessionbutler",
            example(include_str!("../../../examples/sites/sessionbutler.toml")),
        ),
        (
            "dogandme",
            example(include_str!("../../../examples/sites/dogandme.toml")),
        ),
        (
            "sevdesk",
            example(include_str!("../../../examples/sites/sevdesk.toml")),
        ),
        (
            "tutory",
            example(include_str!("../../../examples/sites/tutory.toml")),
        ),
        ("own-category", own_category),
    ]
}

/// A category that is not built in, appended to the small fixture.
const RESEARCH: &str = r##"
[[categories]]
id = "research"
name = { de = "Nutzerforschung", en = "User research" }
description = { de = "Interviews und Umfragen.", en = "Interviews and surveys." }

[[services]]
id = "hotjar"
name = "Hotjar"
category = "research"
description = { de = "Umfragen", en = "Surveys" }
legal_basis = "consent"
privacy_policy_url = "https://www.hotjar.com/legal/policies/privacy/"
provider = { name = "Hotjar Ltd.", address = "Dragonara Business Centre, St Julian's, Malta", country = "MT" }
cookies = [{ name = "_hj*", lifetime = "1y", purpose = { de = "Kennung", en = "Identifier" } }]
"##;

const AT: u64 = 1_795_293_490;

/// A decision as the cookie keeps it: `decision` resolved against `config`.
fn stored_of(config: &SiteConfig, decision: &Decision, consent_id: Option<&str>) -> StoredDecision {
    let choices = decision.resolve(config).unwrap();
    let mut s = StoredDecision::from_choices(
        &choices,
        decision.action,
        &config.version(),
        config.consent.revision,
        AT,
        Signals::default(),
    );
    s.consent_id = consent_id.map(String::from);
    s
}

fn optional(config: &SiteConfig) -> (Vec<String>, Vec<String>) {
    let categories = config
        .categories()
        .into_iter()
        .map(|c| c.id)
        .filter(|id| id != NECESSARY)
        .collect();
    let services = config
        .services
        .iter()
        .filter(|s| s.category != NECESSARY)
        .map(|s| s.id.clone())
        .collect();
    (categories, services)
}

fn custom(categories: &[(&str, bool)], services: &[(&str, bool)]) -> Decision {
    let mut d = Decision::new(Action::Custom);
    for (id, on) in categories {
        d.categories.insert((*id).into(), *on);
    }
    for (id, on) in services {
        d.services.insert((*id).into(), *on);
    }
    d
}

/// The decisions every config is resolved with: the fixed actions, nothing, each
/// optional category and service alone, a category with one of its services
/// refused, necessary named explicitly.
fn decisions(config: &SiteConfig) -> Vec<(String, Decision)> {
    let (categories, services) = optional(config);
    let mut out = vec![
        ("accept_all".to_string(), Decision::new(Action::AcceptAll)),
        ("reject_all".to_string(), Decision::new(Action::RejectAll)),
        ("withdraw".to_string(), Decision::new(Action::Withdraw)),
        ("custom, nothing switched".to_string(), custom(&[], &[])),
        (
            "custom, necessary named".to_string(),
            custom(&[(NECESSARY, true)], &[]),
        ),
    ];
    if let Some(c) = categories.first() {
        out.push((
            format!("accept_all naming {c} on"),
            custom(&[], &[]).with_action(Action::AcceptAll, &[(c, true)]),
        ));
    }
    for c in &categories {
        out.push((format!("custom, category {c}"), custom(&[(c, true)], &[])));
        out.push((
            format!("custom, category {c} off"),
            custom(&[(c, false)], &[]),
        ));
        let members: Vec<&str> = config.services_in(c).map(|s| s.id.as_str()).collect();
        if let [first, _, ..] = members[..] {
            out.push((
                format!("custom, category {c} but {first} off"),
                custom(&[(c, true)], &[(first, false)]),
            ));
        }
    }
    for s in &services {
        out.push((format!("custom, service {s}"), custom(&[], &[(s, true)])));
    }
    if let [a, b, ..] = &services[..] {
        out.push((
            format!("custom, services {a} and {b}, every category off"),
            custom(
                &categories
                    .iter()
                    .map(|c| (c.as_str(), false))
                    .collect::<Vec<_>>(),
                &[(a, true), (b, true)],
            ),
        ));
    }
    if let Some(n) = config.services_in(NECESSARY).next() {
        out.push((
            format!("custom, necessary service {} named", n.id),
            custom(&[], &[(&n.id, true)]),
        ));
    }
    out
}

trait WithAction {
    fn with_action(self, action: Action, categories: &[(&str, bool)]) -> Decision;
}
impl WithAction for Decision {
    fn with_action(mut self, action: Action, categories: &[(&str, bool)]) -> Decision {
        self.action = action;
        for (id, on) in categories {
            self.categories.insert((*id).into(), *on);
        }
        self
    }
}

/// The stored decisions the derived rules start from: none, the fixed actions,
/// a few custom ones (with and without a consent ID), and one made before a
/// service joined a category the visitor allowed (`old`: that service is
/// missing from the cookie).
fn stored_cases(config: &SiteConfig) -> Vec<(String, Option<StoredDecision>)> {
    let (categories, services) = optional(config);
    let mut out = vec![
        ("no decision".to_string(), None),
        (
            "accept_all".to_string(),
            Some(stored_of(
                config,
                &Decision::new(Action::AcceptAll),
                Some("c-accept"),
            )),
        ),
        (
            "reject_all".to_string(),
            Some(stored_of(
                config,
                &Decision::new(Action::RejectAll),
                Some("c-reject"),
            )),
        ),
        (
            "withdraw".to_string(),
            Some(stored_of(
                config,
                &Decision::new(Action::Withdraw),
                Some("c-withdraw"),
            )),
        ),
    ];
    if let Some(c) = categories.first() {
        out.push((
            format!("custom: {c}, not yet acknowledged"),
            Some(stored_of(config, &custom(&[(c, true)], &[]), None)),
        ));
    }
    if let Some(s) = services.last() {
        out.push((
            format!("custom: {s}"),
            Some(stored_of(config, &custom(&[], &[(s, true)]), Some("c-one"))),
        ));
    }
    if let Some(c) = categories
        .iter()
        .find(|c| config.services_in(c).count() >= 2)
    {
        let mut old = stored_of(config, &Decision::new(Action::AcceptAll), Some("c-old"));
        let newer = config.services_in(c).last().unwrap().id.clone();
        old.granted.remove(&newer);
        out.push((
            format!("accept_all made before {newer} joined {c}"),
            Some(old),
        ));
    }
    out
}

#[test]
fn choice_vectors_are_current() {
    let configs = loader_configs();
    let mut resolve = Vec::new();
    let mut restate = Vec::new();
    let mut allowing = Vec::new();
    let mut resend = Vec::new();
    for (name, config) in &configs {
        for (case, decision) in decisions(config) {
            let choices = decision.resolve(config).unwrap();
            resolve.push(json!({
                "name": format!("{name}: {case}"),
                "config": name, "decision": decision, "choices": choices,
            }));
        }
        let (_, services) = optional(config);
        for (case, stored) in stored_cases(config) {
            let d = Decision::restate(config, stored.as_ref());
            let choices = d.resolve(config).unwrap();
            // Nothing pre-ticked: restating allows nothing the cookie did not.
            assert!(
                choices.iter().all(|(id, on)| !on
                    || stored.as_ref().is_some_and(|s| s.allowed(id))
                    || id == NECESSARY
                    || config.service(id).is_some_and(|s| s.category == NECESSARY)),
                "{name}: {case}"
            );
            restate.push(json!({
                "name": format!("{name}: {case}"),
                "config": name, "stored": stored, "decision": d, "choices": choices,
            }));
            for service in services.iter().take(2) {
                let d = Decision::allowing(config, stored.as_ref(), service);
                let choices = d.resolve(config).unwrap();
                assert!(choices.allowed(service));
                allowing.push(json!({
                    "name": format!("{name}: {case}, then always allow {service}"),
                    "config": name, "stored": stored, "service": service,
                    "decision": d, "choices": choices,
                }));
            }
            if let Some(stored) = &stored {
                let d = Decision::resend(config, stored);
                let choices = d.resolve(config).unwrap();
                let again = StoredDecision::from_choices(
                    &choices,
                    d.action,
                    &stored.config_version,
                    stored.revision,
                    stored.decided_at,
                    stored.signals,
                );
                if !case.contains("made before") {
                    // Sent again, it records exactly what the cookie holds.
                    assert_eq!(
                        (&again.granted, &again.denied),
                        (&stored.granted, &stored.denied),
                        "{name}: {case}"
                    );
                }
                resend.push(json!({
                    "name": format!("{name}: pending {case}"),
                    "config": name, "stored": stored, "decision": d, "recorded": choices,
                }));
            }
        }
    }
    // A pending decision made on an older version of saas: it lacked the
    // necessary service `language` (which keeps the decision) and had a service
    // `hotjar` since removed. The decision sent again names neither; the ledger
    // checks it against the older version.
    let (_, saas) = &configs[0];
    let mut older = saas.clone();
    older.services.retain(|s| s.id != "language");
    let mut hotjar = older
        .services
        .iter()
        .find(|s| s.id == "mixpanel")
        .unwrap()
        .clone();
    hotjar.id = "hotjar".into();
    hotjar.name = "Hotjar".into();
    older.services.push(hotjar);
    for (case, decision) in [
        ("custom: analytics", custom(&[("analytics", true)], &[])),
        (
            "custom: analytics but hotjar",
            custom(&[("analytics", true)], &[("hotjar", false)]),
        ),
        (
            "custom: hotjar and intercom",
            custom(&[], &[("hotjar", true), ("intercom", true)]),
        ),
    ] {
        let stored = stored_of(&older, &decision, Some("c-older"));
        let d = Decision::resend(saas, &stored);
        let recorded = d.resolve(&older).unwrap();
        // Never more than the visitor allowed.
        assert!(
            recorded.iter().all(|(id, on)| !on || stored.allowed(id)),
            "{case}"
        );
        resend.push(json!({
            "name": format!("saas: pending {case}, made on an older version"),
            "config": "saas", "stored": stored, "decision": d,
            "recorded": recorded,
        }));
    }
    check(
        "choices.json",
        &json!({
            "description": "How a decision resolves against a config (Decision::resolve) and the decisions the loader derives from a stored one. `configs`: each site's config as GET /v1/sites/{site}/config returns it under `config`; `loader_views`: the same as the per-site loader carries it (SiteConfig::loader_view), which must decide everything the loader decides exactly as the whole config. `resolve`: `decision` (action, categories, services: the body of POST /v1/sites/{site}/consents) resolves to `choices` (every category and service: nothing pre-ticked, necessary always on, a category on only when all of its services are). `restate`: the stored decision (the cookie's, as in cookie.json) as the custom decision the settings open with; `allowing`: \"Immer erlauben\" of `service` on top of it; `resend`: a pending decision sent again, whose `recorded` choices are what the ledger records (checked against the version the decision names). `built_in_categories`: the ids the loader takes for categories before a site's config arrived.",
            "configs": configs.iter().map(|(n, c)| (n.to_string(), serde_json::to_value(c).unwrap())).collect::<serde_json::Map<_, _>>(),
            "loader_views": configs.iter().map(|(n, c)| (n.to_string(), c.loader_view())).collect::<serde_json::Map<_, _>>(),
            "built_in_categories": keksdose_shared::texts::BUILT_IN_CATEGORIES,
            "resolve": resolve,
            "restate": restate,
            "allowing": allowing,
            "resend": resend,
        }),
    );
}

#[test]
fn withdrawal_vectors_are_current() {
    let configs = loader_configs();
    let mut reject = Vec::new();
    let mut between = Vec::new();
    for (name, config) in &configs {
        for (case, stored) in stored_cases(config) {
            reject.push(json!({
                "name": format!("{name}: {case}"),
                "config": name, "stored": stored,
                "action": withdrawal::reject_action(config, stored.as_ref()),
            }));
            let Some(before) = stored else { continue };
            let (categories, services) = optional(config);
            // (`withdraw` resolves as `reject_all` does.)
            let mut afters = vec![
                ("reject_all", Decision::new(Action::RejectAll)),
                ("accept_all", Decision::new(Action::AcceptAll)),
            ];
            if let Some(s) = services.first() {
                afters.push(("custom: the first service only", custom(&[], &[(s, true)])));
            }
            if let Some(c) = categories.last() {
                afters.push(("custom: the last category only", custom(&[(c, true)], &[])));
            }
            for (after_case, decision) in afters {
                let after = stored_of(config, &decision, before.consent_id.as_deref());
                let withdrawn = Withdrawn::between(config, &before, &after);
                // Scripts that ran: none, each withdrawn id alone, a service of
                // each withdrawn category alone, a necessary service.
                let mut rans: Vec<Vec<String>> = vec![vec![]];
                for id in withdrawn.services.iter().chain(&withdrawn.categories) {
                    rans.push(vec![id.clone()]);
                }
                for c in &withdrawn.categories {
                    if let Some(s) = config.services_in(c).next() {
                        rans.push(vec![s.id.clone()]);
                    }
                }
                if let Some(s) = config.services_in(NECESSARY).next() {
                    rans.push(vec![s.id.clone()]);
                }
                let reloads: Vec<Value> = rans
                    .into_iter()
                    .map(|ran| {
                        let set = ran.iter().cloned().collect();
                        json!({"ran": ran, "reload": withdrawal::needs_reload(config, &withdrawn, &set)})
                    })
                    .collect();
                between.push(json!({
                    "name": format!("{name}: {case}, then {after_case}"),
                    "config": name, "before": before, "after": after,
                    "withdrawn": withdrawn,
                    "refused_services": withdrawal::refused_services(config, &after),
                    "reload": reloads,
                }));
            }
        }
    }
    // The config lost a service the visitor had allowed: it is withdrawn too (a
    // service id the config no longer has).
    let (_, saas) = &configs[0];
    let mut older = saas.clone();
    let mut hotjar = older
        .services
        .iter()
        .find(|s| s.id == "mixpanel")
        .unwrap()
        .clone();
    hotjar.id = "hotjar".into();
    older.services.push(hotjar);
    let before = stored_of(&older, &Decision::new(Action::AcceptAll), Some("c-older"));
    let after = stored_of(saas, &Decision::new(Action::Withdraw), Some("c-older"));
    let withdrawn = Withdrawn::between(saas, &before, &after);
    assert!(withdrawn.contains("hotjar"));
    between.push(json!({
        "name": "saas: accept_all on an older version with hotjar, then withdraw",
        "config": "saas", "before": before, "after": after,
        "withdrawn": withdrawn,
        "refused_services": withdrawal::refused_services(saas, &after),
        "reload": [
            {"ran": ["hotjar"], "reload": withdrawal::needs_reload(saas, &withdrawn, &["hotjar".to_string()].into())},
            {"ran": ["login"], "reload": withdrawal::needs_reload(saas, &withdrawn, &["login".to_string()].into())},
        ],
    }));
    check(
        "withdrawal.json",
        &json!({
            "description": "Taking consent back (shared/src/withdrawal.rs), with the configs of choices.json. `reject_action`: what \"Nur Notwendige\" records after the stored decision (`withdraw` only with a consent ID and something beyond the necessary allowed). `between`: what `after` no longer allows of what `before` allowed (`withdrawn`, split into the config's categories and everything else: the opt-out hooks get it), the services whose cookies are deleted after `after` (`refused_services`, in config order), and for sets of blocked scripts that ran on the page whether the page reloads (only with consent.reload_on_withdraw).",
            "reject_action": reject,
            "between": between,
        }),
    );
}

/// The language the banner shows in (`SiteConfig::language_for`): the loader's
/// `choose` picks the server-rendered first layer by it, the banner's WASM
/// renders in it, and the two must agree for every page and browser.
#[test]
fn language_vectors_are_current() {
    let with = |languages: &[&str]| {
        let mut config = small();
        config.site.languages = languages.iter().map(|l| l.to_string()).collect();
        config
    };
    let offers: Vec<Vec<&str>> = vec![
        vec!["de", "en"],
        vec!["en", "de"],
        vec!["de"],
        vec!["de-AT", "de", "en"],
        vec!["de", "de-CH", "fr"],
        vec!["fr-CA", "en"],
        vec!["PT-br", "pt"],
    ];
    let asked: Vec<Option<&str>> = vec![
        None,
        Some(""),
        Some("de"),
        Some("DE"),
        Some("de-DE"),
        Some("de-AT"),
        Some("de-at"),
        Some("de-CH"),
        Some("en"),
        Some("en-GB"),
        Some("en_GB"),
        Some("fr"),
        Some("fr-CA"),
        Some("fr-FR"),
        Some("pt-BR"),
        Some("pt-PT"),
        Some("it"),
        Some("-"),
        Some("x-klingon"),
    ];
    let mut cases = Vec::new();
    for offered in &offers {
        let config = with(offered);
        for a in &asked {
            cases.push(json!({
                "languages": offered, "asked": a, "shown": config.language_for(*a),
            }));
        }
    }
    check(
        "language.json",
        &json!({
            "description": "The language the banner shows in (SiteConfig::language_for): the offered language equal to the asked one ignoring case, else the one equal to its primary subtag, else the first offered. `asked` is the page's lang attribute, or the browser's language without one (null: neither).",
            "cases": cases,
        }),
    );
}
