//! The built-in words (`shared/texts/<lang>.toml`): every official EU language has
//! every word German has, none empty, with the same placeholders; the plural forms
//! its numbers need; and a word equal to English only where it is the same word in
//! that language (listed for review in the file, and printed here).

use std::collections::BTreeSet;

use keksdose_shared::texts::{self, LANGUAGES, Words};

fn placeholders(text: &str) -> Vec<&str> {
    let mut found: Vec<&str> = text
        .match_indices('{')
        .filter_map(|(i, _)| text[i..].find('}').map(|j| &text[i..=i + j]))
        .collect();
    found.sort_unstable();
    found
}

fn review_list(lang: &str) -> BTreeSet<String> {
    let path = format!("{}/texts/{lang}.toml", env!("CARGO_MANIFEST_DIR"));
    let table: toml::Table = std::fs::read_to_string(&path).unwrap().parse().unwrap();
    table
        .get("review")
        .and_then(|r| r.get("same_as_english"))
        .and_then(|l| l.as_array())
        .unwrap_or_else(|| panic!("{path}: no [review] same_as_english"))
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn every_language_has_every_word_with_the_same_placeholders() {
    let de = texts::built_in("de").unwrap();
    let en = texts::built_in("en").unwrap();
    let not_units = |w: &Words| -> BTreeSet<String> {
        w.keys()
            .filter(|k| !k.starts_with("units."))
            .cloned()
            .collect()
    };
    let keys = not_units(de);
    // The banner's texts are exactly the fields a site can override.
    let fields: BTreeSet<String> = texts::TextOverrides::NAMES
        .iter()
        .map(|f| format!("texts.{f}"))
        .collect();
    let in_files: BTreeSet<String> = keys
        .iter()
        .filter(|k| k.starts_with("texts."))
        .cloned()
        .collect();
    assert_eq!(in_files, fields);
    let mut reviewed = Vec::new();
    let mut problems = Vec::new();
    for lang in LANGUAGES {
        let words = texts::built_in(lang).unwrap_or_else(|| panic!("{lang}: not built in"));
        let have = not_units(words);
        for missing in keys.difference(&have) {
            problems.push(format!("{lang}: {missing} is missing"));
        }
        for extra in have.difference(&keys) {
            problems.push(format!("{lang}: {extra} is not a key of de.toml"));
        }
        let same = review_list(lang);
        for key in &keys {
            let Some(text) = words.get(key) else { continue };
            if text.trim().is_empty() {
                problems.push(format!("{lang}: {key} is empty"));
            }
            if placeholders(text) != placeholders(&de[key]) {
                problems.push(format!("{lang}: {key} has other placeholders: {text:?}"));
            }
            let english = lang != "en" && en.get(key) == Some(text);
            match (english, same.contains(key)) {
                (true, true) => reviewed.push(format!("{lang} {key} = {text:?}")),
                (true, false) => problems.push(format!(
                    "{lang}: {key} is English ({text:?}); if it is the same word in {lang}, list it in [review] same_as_english"
                )),
                (false, true) => {
                    problems.push(format!("{lang}: {key} is listed as English but is not"))
                }
                (false, false) => {}
            }
        }
        // Lifetimes: each unit in exactly the plural forms the language's whole
        // numbers use, each with the number in it.
        let categories = texts::plural_categories(lang);
        for unit in ["second", "minute", "hour", "day", "week", "month", "year"] {
            let prefix = format!("units.{unit}.");
            let forms: Vec<&str> = words
                .keys()
                .filter_map(|k| k.strip_prefix(&prefix))
                .collect();
            let mut expected = categories.to_vec();
            expected.sort_unstable();
            if forms != expected {
                problems.push(format!(
                    "{lang}: units.{unit} has {forms:?}, needs {expected:?}"
                ));
            }
            for n in 0..=130 {
                let text = texts::count(words, lang, unit, n);
                if !text.contains(&n.to_string()) || text.contains("{n}") {
                    problems.push(format!("{lang}: {n} {unit} reads {text:?}"));
                }
            }
        }
        let units: BTreeSet<&str> = words
            .keys()
            .filter_map(|k| k.strip_prefix("units."))
            .filter_map(|k| k.split('.').next())
            .collect();
        if units.len() != 7 {
            problems.push(format!("{lang}: units are {units:?}"));
        }
    }
    println!(
        "Equal to English on purpose (for review):\n  {}",
        reviewed.join("\n  ")
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn plural_rules_follow_cldr() {
    let cases: &[(&str, &[(u64, &str)])] = &[
        (
            "de",
            &[(0, "other"), (1, "one"), (2, "other"), (21, "other")],
        ),
        ("fr", &[(0, "one"), (1, "one"), (2, "other")]),
        (
            "pl",
            &[
                (1, "one"),
                (2, "few"),
                (4, "few"),
                (5, "many"),
                (12, "many"),
                (22, "few"),
                (25, "many"),
                (101, "many"),
            ],
        ),
        ("cs", &[(1, "one"), (3, "few"), (5, "other"), (22, "other")]),
        (
            "hr",
            &[
                (1, "one"),
                (21, "one"),
                (11, "other"),
                (3, "few"),
                (13, "other"),
                (24, "few"),
            ],
        ),
        (
            "lt",
            &[
                (1, "one"),
                (21, "one"),
                (11, "other"),
                (2, "few"),
                (9, "few"),
                (12, "other"),
                (10, "other"),
            ],
        ),
        (
            "lv",
            &[
                (0, "zero"),
                (1, "one"),
                (11, "zero"),
                (21, "one"),
                (2, "other"),
                (20, "zero"),
            ],
        ),
        (
            "sl",
            &[
                (1, "one"),
                (101, "one"),
                (2, "two"),
                (3, "few"),
                (4, "few"),
                (5, "other"),
            ],
        ),
        (
            "ro",
            &[
                (1, "one"),
                (0, "few"),
                (2, "few"),
                (19, "few"),
                (20, "other"),
                (101, "few"),
            ],
        ),
        (
            "ga",
            &[
                (1, "one"),
                (2, "two"),
                (3, "few"),
                (6, "few"),
                (7, "many"),
                (10, "many"),
                (11, "other"),
            ],
        ),
        (
            "mt",
            &[
                (1, "one"),
                (2, "two"),
                (0, "few"),
                (3, "few"),
                (10, "few"),
                (11, "many"),
                (19, "many"),
                (20, "other"),
                (102, "other"),
                (103, "few"),
            ],
        ),
    ];
    for (lang, expected) in cases {
        for (n, category) in *expected {
            assert_eq!(texts::plural(lang, *n), *category, "{lang} {n}");
            assert!(
                texts::plural_categories(lang).contains(category),
                "{lang} {category}"
            );
        }
    }
    assert_eq!(texts::plural("pl-PL", 3), "few");
}

#[test]
fn a_site_in_any_official_language_is_valid_without_texts_of_its_own() {
    let mut config = crate::fixtures::small();
    config.site.languages = LANGUAGES.iter().map(|l| l.to_string()).collect();
    config.site.languages.truncate(12); // the limit of languages per site
    config.validate().unwrap();
    for lang in &config.site.languages {
        let words = texts::words_for(&config, lang);
        assert_eq!(words, *texts::built_in(lang).unwrap(), "{lang}");
        let (name, description) = texts::category_text(&config, &words, "analytics", lang);
        assert!(!name.is_empty() && !description.is_empty(), "{lang}");
    }
    assert!(!texts::is_built_in("lb"));
    assert!(texts::is_built_in("pt-BR"));
}

/// A language Keksdose does not ship gets its texts from the site and its other
/// words (units, legal bases…) from the site's default language, whose plural
/// rules its lifetimes then follow.
#[test]
fn a_language_not_built_in_borrows_the_default_languages_words_and_plural_rules() {
    let mut config = crate::fixtures::small();
    config.site.languages = vec!["pl".into(), "de".into(), "en".into(), "lb".into()];
    let mut overrides = texts::TextOverrides::default();
    for name in texts::TextOverrides::NAMES {
        *overrides.field_mut(name).unwrap() = Some(format!("lb {name}"));
    }
    config.texts.insert("lb".into(), overrides);
    for cat in &mut config.categories {
        cat.name = Some(keksdose_shared::config::Localized::Same("Kategorie".into()));
        cat.description = Some(keksdose_shared::config::Localized::Same(
            "Beschreiwung".into(),
        ));
    }
    config.validate().unwrap();
    let words = texts::words_for(&config, "lb");
    assert_eq!(words["texts.accept_all"], "lb accept_all");
    assert_eq!(
        words["legal_basis.consent"],
        texts::built_in("pl").unwrap()["legal_basis.consent"]
    );
    assert_eq!(texts::count(&words, "lb", "month", 5), "5 miesięcy");
    assert_eq!(texts::count(&words, "lb", "month", 2), "2 miesiące");
}

/// The saas example's words in `lang` (added to its languages).
fn saas_words(lang: &str) -> Words {
    let mut config =
        keksdose_shared::SiteConfig::from_toml(include_str!("../../../examples/sites/saas.toml"))
            .unwrap();
    if !config.site.languages.iter().any(|l| l == lang) {
        config.site.languages.push(lang.to_string());
    }
    texts::words_for(&config, lang)
}

#[test]
fn lifetimes_read_like_a_privacy_policy() {
    let (de, en) = (saas_words("de"), saas_words("en"));
    assert_eq!(texts::lifetime(&de, "de", "13mo"), "13 Monate");
    assert_eq!(texts::lifetime(&de, "de", "1y"), "1 Jahr");
    assert_eq!(texts::lifetime(&de, "de", "30d"), "30 Tage");
    assert_eq!(
        texts::lifetime(&de, "de", "session"),
        "bis zum Ende der Sitzung"
    );
    assert_eq!(texts::lifetime(&de, "de", "persistent"), "bis zur Löschung");
    assert_eq!(texts::lifetime(&en, "en", "13mo"), "13 months");
    assert_eq!(texts::lifetime(&en, "en", "1w"), "1 week");
    assert_eq!(texts::lifetime(&en, "en", "15min"), "15 minutes");
    assert_eq!(
        texts::lifetime(&en, "en", "session"),
        "until the end of the session"
    );
    assert_eq!(texts::lifetime(&en, "en", "forever"), "forever");
}

#[test]
fn lifetimes_take_the_languages_plural_forms() {
    let pl = saas_words("pl");
    assert_eq!(texts::lifetime(&pl, "pl", "1mo"), "1 miesiąc");
    assert_eq!(texts::lifetime(&pl, "pl", "2mo"), "2 miesiące");
    assert_eq!(texts::lifetime(&pl, "pl", "13mo"), "13 miesięcy");
    assert_eq!(texts::lifetime(&pl, "pl", "22mo"), "22 miesiące");
    let fr = saas_words("fr");
    assert_ne!(
        texts::lifetime(&fr, "fr", "1y"),
        texts::lifetime(&fr, "fr", "2y").replace('2', "1")
    );
}

#[test]
fn codes_become_words() {
    use keksdose_shared::config::{LegalBasis, Safeguard, Storage};
    let (de, en) = (saas_words("de"), saas_words("en"));
    assert_eq!(texts::storage(&de, Storage::LocalStorage), "Local Storage");
    assert_eq!(texts::storage(&de, Storage::Pixel), "Zählpixel");
    assert_eq!(
        texts::safeguard(&de, Safeguard::Scc),
        "Standardvertragsklauseln (Art. 46 Abs. 2 lit. c DSGVO)"
    );
    assert_eq!(
        texts::safeguard(&en, Safeguard::Adequacy),
        "Adequacy decision (Art. 45 GDPR)"
    );
    assert_eq!(
        texts::legal_basis(&de, LegalBasis::Consent),
        "Einwilligung (Art. 6 Abs. 1 lit. a DSGVO)"
    );
    assert_eq!(
        texts::legal_basis(&en, LegalBasis::LegitimateInterest),
        "Legitimate interests (Art. 6(1)(f) GDPR)"
    );
    assert_eq!(texts::country(&de, "US"), "USA");
    assert_eq!(texts::country(&en, "US"), "United States");
    assert_eq!(texts::country(&de, "BR"), "BR");
    assert_eq!(texts::date(&de, 1_717_200_000), "01.06.2024");
    assert_eq!(texts::date(&en, 1_717_200_000), "2024-06-01");
    assert_eq!(texts::date_in("{m}/{d}/{y}", 1_717_200_000), "06/01/2024");
    assert_eq!(
        texts::date_in("{x} {d}{ {y}{", 1_717_200_000),
        "{x} 01{ 2024{"
    );
}
