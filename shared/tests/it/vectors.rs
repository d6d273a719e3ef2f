//! The published test vectors (`shared/vectors/*.json`): produced by this crate,
//! checked in, and read by the JavaScript loader's tests and by an independent
//! RFC 8785 implementation, so that the Rust and JS sides never drift.
//!
//! The files must equal what the code produces now; run with `UPDATE_VECTORS=1` to
//! rewrite them after a deliberate change.

use std::path::PathBuf;

use keksdose_shared::canonical::to_canonical_json;
use keksdose_shared::cookie::StoredDecision;
use keksdose_shared::decision::Signals;
use keksdose_shared::{Action, Decision};
use serde_json::{Value, json};

use crate::fixtures::small;

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
