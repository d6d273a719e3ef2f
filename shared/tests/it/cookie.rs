//! The consent cookie: one canonical encoding, strict decoding, well under 4 KB.

use keksdose_shared::config::Limits;
use keksdose_shared::cookie::{CookieError, MAX_LEN, StoredDecision};
use keksdose_shared::decision::Signals;
use keksdose_shared::{Action, Decision};

use crate::fixtures::small;

fn sample() -> StoredDecision {
    let config = small();
    let mut d = Decision::new(Action::Custom);
    d.categories.insert("analytics".into(), true);
    let choices = d.resolve(&config).unwrap();
    let mut s = StoredDecision::from_choices(
        &choices,
        Action::Custom,
        &config.version(),
        1,
        1_795_293_490,
        Signals {
            gpc: true,
            dnt: false,
        },
    );
    s.consent_id = Some("kq3Xg0bT2m9yQ1vZ8cJ4Aw".into());
    s
}

#[test]
fn round_trips() {
    let s = sample();
    let value = s.encode().unwrap();
    assert!(
        value.starts_with("1.kq3Xg0bT2m9yQ1vZ8cJ4Aw..1795293490."),
        "{value}"
    );
    assert!(
        value.ends_with(".c.g.analytics:mixpanel:necessary:segment:session.google-ads:marketing"),
        "{value}"
    );
    assert_eq!(StoredDecision::decode(&value).unwrap(), s);
    assert!(s.allowed("mixpanel") && !s.allowed("google-ads") && !s.allowed("unknown"));
}

#[test]
fn every_character_is_a_cookie_octet() {
    let value = sample().encode().unwrap();
    // RFC 6265 cookie-octet: no controls, whitespace, DQUOTE, comma, semicolon, backslash.
    assert!(
        value
            .bytes()
            .all(|b| (0x21..=0x7e).contains(&b) && !b"\",;\\".contains(&b)),
        "{value}"
    );
}

#[test]
fn refuses_every_value_it_would_not_write() {
    let good = sample().encode().unwrap();
    let cases: Vec<(String, CookieError)> = vec![
        (good.replacen("1.", "2.", 1), CookieError::Version),
        (format!("{good}.x"), CookieError::Fields),
        (good.replace(".c.", ".x."), CookieError::Field("action")),
        (good.replace(".g.", ".dg."), CookieError::Field("flags")),
        (
            good.replace("analytics:mixpanel", "mixpanel:analytics"),
            CookieError::Field("granted"),
        ),
        (
            good.replace("1795293490", "01795293490"),
            CookieError::Field("decided_at"),
        ),
        (
            good.replace(".google-ads:", ".Google-ads:"),
            CookieError::Field("denied"),
        ),
        (
            good.replace(".google-ads:marketing", ".google-ads:mixpanel"),
            CookieError::Overlap,
        ),
        ("x".repeat(MAX_LEN + 1), CookieError::TooLong),
    ];
    for (value, expected) in cases {
        assert_eq!(StoredDecision::decode(&value), Err(expected), "{value}");
    }
}

#[test]
fn the_largest_config_validation_allows_fits_in_a_cookie() {
    let mut s = sample();
    s.pending = Some("p".repeat(64));
    s.consent_id = Some("c".repeat(64));
    s.granted = (0..Limits::SERVICES + Limits::CATEGORIES)
        .map(|i| format!("{}{i:03}", "s".repeat(Limits::ID_LEN - 3)))
        .collect();
    s.denied.clear();
    let value = s.encode().unwrap();
    assert!(value.len() <= MAX_LEN, "{} bytes", value.len());
    assert!(value.len() + "keksdose=; Path=/; Max-Age=31536000; SameSite=Lax; Secure".len() < 4096);
}
