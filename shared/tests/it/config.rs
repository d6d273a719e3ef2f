//! Site configs: parsing, validation that reports every problem with its path,
//! and the content-hash version.

use keksdose_shared::SiteConfig;

use crate::fixtures::{SMALL, small};

#[test]
fn toml_and_json_of_the_same_config_have_one_version() {
    let from_toml = small();
    let json = serde_json::to_string_pretty(&from_toml).unwrap();
    let from_json = SiteConfig::from_json(&json).unwrap();
    assert_eq!(from_toml.version(), from_json.version());
    assert_eq!(from_toml.version().len(), 43, "base64url of 32 bytes");
}

#[test]
fn version_is_stable_across_key_order_formatting_and_spelt_out_defaults() {
    let base = small().version();
    // Tables moved, whitespace changed, an inline table expanded, defaults spelt out.
    let reordered = SMALL
        .replace("[consent]\nlifetime = \"12mo\"", "")
        .replace(
            "[site]\n",
            "[consent]\nrevision = 1\nlifetime    =   \"12mo\"\nreload_on_withdraw = false\n\n[appearance]\nposition = \"bottom\"\n\n[site]\n",
        );
    assert_ne!(reordered, SMALL);
    assert_eq!(SiteConfig::from_toml(&reordered).unwrap().version(), base);

    let mut value: serde_json::Value = serde_json::to_value(small()).unwrap();
    // Reverse every object's key order.
    fn reverse(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(map) => {
                let mut entries: Vec<_> = std::mem::take(map).into_iter().collect();
                entries.reverse();
                for (k, mut v) in entries {
                    reverse(&mut v);
                    map.insert(k, v);
                }
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(reverse),
            _ => {}
        }
    }
    reverse(&mut value);
    let compact = serde_json::to_string(&value).unwrap();
    assert_eq!(SiteConfig::from_json(&compact).unwrap().version(), base);
}

#[test]
fn any_change_of_meaning_changes_the_version() {
    let base = small().version();
    let text_fix = SMALL.replace("Produktanalyse", "Produkt-Analyse");
    assert_ne!(SiteConfig::from_toml(&text_fix).unwrap().version(), base);
    let order = SMALL
        .replace("id = \"analytics\"", "id = \"tmp\"")
        .replace("id = \"marketing\"", "id = \"analytics\"");
    assert_ne!(SiteConfig::from_toml(&order).unwrap().version(), base);
}

#[test]
fn unknown_fields_are_refused_with_their_name() {
    let err = SiteConfig::from_toml(&SMALL.replace("[consent]", "[consent]\nlifetyme = \"1y\""))
        .unwrap_err();
    assert!(err.to_string().contains("lifetyme"), "{err}");
    let err = SiteConfig::from_json(r#"{"site": {}, "extra": 1}"#).unwrap_err();
    assert!(
        err.to_string().contains("extra") || err.to_string().contains("missing"),
        "{err}"
    );
}

#[test]
fn validation_lists_every_problem_with_its_path() {
    let broken = SMALL
        .replace("lifetime = \"12mo\"", "lifetime = \"forever\"")
        .replace("id = \"segment\"", "id = \"Segment\"")
        .replace("lifetime = \"90d\"", "lifetime = \"90 days\"")
        .replace("transfers = [{ country = \"US\", safeguard = \"scc\" }]", "")
        .replace("en = \"Product analytics\"", "fr = \"Analyse\"")
        .replace("imprint_url = \"https://beispiel.de/impressum\"", "imprint_url = \"http://beispiel.de/impressum\"")
        .replace("category = \"marketing\"", "category = \"werbung\"")
        .replace("[[categories]]\nid = \"marketing\"\n", "[[categories]]\nid = \"marketing\"\n\n[[categories]]\nid = \"empty\"\nname = \"Leer\"\ndescription = \"x\"\n");
    let config = SiteConfig::from_toml(&broken).unwrap();
    let errors = config.validate().unwrap_err();
    let paths: Vec<&str> = errors.0.iter().map(|e| e.path.as_str()).collect();
    let expected = [
        "site.imprint_url",
        "consent.lifetime",
        "categories[1]",
        "categories[2]",
        "services[1].description.fr",
        "services[1].transfers",
        "services[2].id",
        "services[3].category",
        "services[3].cookies[0].lifetime",
    ];
    for path in expected {
        assert!(paths.contains(&path), "missing {path} in:\n{errors}");
    }
    assert!(errors.0.len() >= expected.len());
    // A text missing in an offered language is no error, but a notice.
    assert!(!paths.contains(&"services[1].description"), "{errors}");
    assert!(
        config
            .notices()
            .iter()
            .any(|n| n.path == "services[1].description" && n.message.contains("\"en\"")),
        "{:?}",
        config.notices()
    );
    let text = errors.to_string();
    assert!(
        text.contains("services[3].cookies[0].lifetime: expected a duration like \"30d\""),
        "{text}"
    );
    assert!(
        text.contains("categories[2]: category \"empty\" has no services"),
        "{text}"
    );
    assert!(text.contains("the provider sits in \"US\""), "{text}");
}

#[test]
fn consent_rules_of_german_law_are_checked() {
    let li = SMALL.replacen(
        "legal_basis = \"consent\"",
        "legal_basis = \"legitimate_interest\"",
        1,
    );
    let errors = SiteConfig::from_toml(&li)
        .unwrap()
        .validate()
        .unwrap_err()
        .to_string();
    assert!(
        errors
            .contains("services[1].legal_basis: a service in category \"analytics\" needs consent"),
        "{errors}"
    );

    let dup = SMALL.replace("id = \"google-ads\"", "id = \"analytics\"");
    let errors = SiteConfig::from_toml(&dup)
        .unwrap()
        .validate()
        .unwrap_err()
        .to_string();
    assert!(
        errors.contains("services[3].id: \"analytics\" is used twice"),
        "{errors}"
    );
}

#[test]
fn necessary_is_always_first_and_a_site_with_only_necessary_services_needs_no_banner() {
    let config = small();
    let ids: Vec<String> = config.categories().into_iter().map(|c| c.id).collect();
    assert_eq!(ids, ["necessary", "analytics", "marketing"]);
    assert!(config.needs_banner());

    let mut only_necessary = config.clone();
    only_necessary.categories.clear();
    only_necessary
        .services
        .retain(|s| s.category == "necessary");
    only_necessary.validate().unwrap();
    assert!(!only_necessary.needs_banner());
}

#[test]
fn texts_fall_back_to_built_in_and_site_overrides_win() {
    let mut config = small();
    let de = keksdose_shared::texts::for_language(&config, "de");
    assert_eq!(de.reject_all, "Nur Notwendige");
    assert_eq!(
        keksdose_shared::texts::for_language(&config, "en").accept_all,
        "Accept all"
    );
    config.texts.insert(
        "de".into(),
        keksdose_shared::texts::TextOverrides {
            title: Some("Cookies bei Beispiel".into()),
            ..Default::default()
        },
    );
    config.validate().unwrap();
    let de = keksdose_shared::texts::for_language(&config, "de");
    assert_eq!(de.title, "Cookies bei Beispiel");
    assert_eq!(de.accept_all, "Alle akzeptieren");
    let words = keksdose_shared::texts::words_for(&config, "de");
    assert_eq!(words["texts.title"], "Cookies bei Beispiel");
    let (name, _) = keksdose_shared::texts::category_text(&config, &words, "analytics", "de");
    assert_eq!(name, "Statistik");
}

/// A site text missing in a language the site offers is valid (visitors reading
/// it see the default language's text) and a notice, with its path.
#[test]
fn a_site_text_missing_in_an_offered_language_is_a_notice_not_an_error() {
    let mut config = small();
    config.site.languages = vec!["de".into(), "en".into(), "fr".into()];
    config.categories[0].name = Some(keksdose_shared::config::Localized::PerLanguage(
        [
            ("de".to_string(), "Analyse".to_string()),
            ("en".to_string(), "Analysis".to_string()),
        ]
        .into(),
    ));
    config.validate().unwrap();
    let notices = config.notices();
    let name = notices
        .iter()
        .find(|n| n.path == "categories[0].name")
        .unwrap_or_else(|| panic!("{notices:?}"));
    assert_eq!(
        name.message,
        "has no text in \"fr\": visitors reading \"fr\" see the \"de\" one"
    );
    assert!(
        notices.iter().all(|n| n.message.contains("\"fr\"")),
        "{notices:?}"
    );
    config.site.languages.pop();
    assert_eq!(
        config.notices(),
        [],
        "none while every language has its text"
    );
    config.site.languages.push("fr".into());
    let words = keksdose_shared::texts::words_for(&config, "fr");
    let (name, _) =
        keksdose_shared::texts::category_text(&config, &words, &config.categories[0].id, "fr");
    assert_eq!(name, "Analyse", "the default language's, not empty");
    assert_eq!(words["texts.accept_all"], "Tout accepter");
}

#[test]
fn examples_shipped_with_the_project_are_valid() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/sites");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let config = SiteConfig::from_toml(&std::fs::read_to_string(&path).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            if let Err(e) = config.validate() {
                panic!("{}:\n{e}", path.display());
            }
            // Sites whose policies name only necessary cookies show no banner.
            let only_necessary = path
                .file_stem()
                .is_some_and(|s| s == "sessionbutler" || s == "fluxcess");
            assert_eq!(config.needs_banner(), !only_necessary, "{}", path.display());
            seen += 1;
        }
    }
    assert!(seen >= 7, "expected the seven example sites, found {seen}");
}
