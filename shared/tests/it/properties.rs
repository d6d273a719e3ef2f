//! Property tests: any config that validation accepts round-trips through JSON and
//! TOML unchanged and keeps its version. The configs are built valid from
//! strategies (ids, languages, categories, services with providers, cookies and
//! transfers, purposes, text overrides), not filtered from random ones.
//!
//! 64 cases by default, so that `cargo test` stays fast; more with
//! `PROPTEST_CASES=10000 cargo test -p keksdose-shared --features toml properties`.

use std::collections::BTreeMap;

use keksdose_shared::SiteConfig;
use keksdose_shared::config::{
    Appearance, Category, ConsentModeKind, ConsentModeSettings, ConsentSettings, ConsentSignal,
    Cookie, LegalBasis, Localized, NECESSARY, Party, Position, ProofRetention, Purpose,
    RetentionEvent, Safeguard, Service, SiteInfo, Storage, Theme, Transfer,
};
use keksdose_shared::fuzzing;
use keksdose_shared::texts::TextOverrides;
use proptest::prelude::*;
use proptest::sample::{select, subsequence};

/// Languages with built-in texts, and two without (which need every text given).
const LANGUAGES: [&str; 6] = ["de", "en", "de-AT", "en-GB", "fr", "pl"];
const BUILT_IN_CATEGORIES: [&str; 6] = [
    NECESSARY,
    "functional",
    "analytics",
    "marketing",
    "affiliate",
    "social",
];
const THIRD_COUNTRIES: [&str; 4] = ["US", "GB", "CH", "IN"];
const EEA_COUNTRIES: [&str; 4] = ["DE", "IE", "FR", "NL"];

fn built_in(lang: &str) -> bool {
    lang.starts_with("de") || lang.starts_with("en")
}

/// A text that is not blank: letters, umlauts, quotes, backslashes, newlines, an emoji.
fn text() -> impl Strategy<Value = String> {
    r#"[A-Za-zÄäÖöÜüß0-9€😀][A-Za-z0-9 ÄäÖöÜüß.,:;!?&'"\\/()\n\t€😀#=*\[\]{}-]{0,40}"#
}

fn localized(langs: Vec<String>, text: BoxedStrategy<String>) -> impl Strategy<Value = Localized> {
    let per_language =
        proptest::collection::vec(text.clone(), langs.len()).prop_map(move |texts| {
            Localized::PerLanguage(langs.iter().cloned().zip(texts).collect::<BTreeMap<_, _>>())
        });
    prop_oneof![text.prop_map(Localized::Same), per_language]
}

fn url() -> BoxedStrategy<String> {
    prop_oneof![
        "https://[a-z][a-z0-9-]{0,10}\\.(de|com|eu)(:[1-9][0-9]{0,3})?(/[a-z0-9._~%-]{0,12}){0,3}(\\?[a-z]=[a-z0-9]{1,4})?",
        "http://(localhost|127\\.0\\.0\\.1)(:[1-9][0-9]{0,3})?(/[a-z]{0,8})?",
    ]
    .boxed()
}

fn host() -> impl Strategy<Value = String> {
    "[a-z0-9][a-z0-9-]{0,8}\\.(com|de|io|eu)"
}

fn party(country: BoxedStrategy<String>) -> impl Strategy<Value = Party> {
    (text(), text(), country, proptest::option::of(text())).prop_map(
        |(name, address, country, contact)| Party {
            name,
            address,
            country,
            contact,
        },
    )
}

fn countries(list: &'static [&'static str]) -> BoxedStrategy<String> {
    select(list.to_vec()).prop_map(String::from).boxed()
}

fn lifetime() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("session".to_string()),
        Just("persistent".to_string()),
        "[1-9][0-9]{0,5}(s|min|h|d|w|mo|y)",
    ]
}

fn cookie(langs: Vec<String>) -> impl Strategy<Value = Cookie> {
    (
        "[A-Za-z_][A-Za-z0-9_.-]{0,12}(\\*[A-Za-z0-9_]{0,4})?",
        select(vec![
            Storage::Cookie,
            Storage::LocalStorage,
            Storage::SessionStorage,
            Storage::IndexedDb,
            Storage::Pixel,
        ]),
        proptest::option::of(("\\.?", host()).prop_map(|(dot, h)| format!("{dot}{h}"))),
        lifetime(),
        localized(langs, text().boxed()),
    )
        .prop_map(|(name, storage, domain, lifetime, purpose)| Cookie {
            name,
            storage,
            domain,
            lifetime,
            purpose,
        })
}

/// A service in `category`: providers outside the EU/EEA come with their transfer.
fn service(langs: Vec<String>, category: String) -> impl Strategy<Value = Service> {
    let necessary = category == NECESSARY;
    let provider = prop_oneof![
        Just(None),
        party(countries(&EEA_COUNTRIES)).prop_map(Some),
        party(countries(&THIRD_COUNTRIES)).prop_map(Some),
    ];
    let transfer = (
        countries(&THIRD_COUNTRIES),
        select(vec![
            Safeguard::Adequacy,
            Safeguard::Scc,
            Safeguard::Bcr,
            Safeguard::Consent,
        ]),
    )
        .prop_map(|(country, safeguard)| Transfer { country, safeguard });
    let legal_basis = if necessary {
        select(vec![
            LegalBasis::Consent,
            LegalBasis::Contract,
            LegalBasis::LegalObligation,
            LegalBasis::LegitimateInterest,
        ])
        .boxed()
    } else {
        Just(LegalBasis::Consent).boxed()
    };
    let consent_mode = if necessary {
        Just(Vec::new()).boxed()
    } else {
        subsequence(ConsentSignal::ALL.to_vec(), 0..=3).boxed()
    };
    (
        (
            text(),
            localized(langs.clone(), text().boxed()),
            proptest::collection::vec(localized(langs.clone(), text().boxed()), 0..3),
            provider,
            legal_basis,
            proptest::collection::vec(cookie(langs), 0..3),
        ),
        (
            any::<bool>().prop_map(move |f| f && !necessary),
            proptest::option::of(url()),
            proptest::option::of(url()),
            proptest::collection::vec(transfer, 0..2),
            consent_mode,
            proptest::collection::vec(host(), 0..3),
        ),
    )
        .prop_map(
            move |(
                (name, description, purposes, provider, legal_basis, cookies),
                (fingerprinting, policy, opt_out_url, mut transfers, consent_mode, hosts),
            )| {
                // A third-party service states its privacy policy; a provider outside
                // the EU/EEA needs its transfer declared.
                let privacy_policy_url = match (&provider, policy) {
                    (Some(_), None) => Some("https://provider.example.com/privacy".into()),
                    (_, policy) => policy,
                };
                if let Some(p) = &provider
                    && !EEA_COUNTRIES.contains(&p.country.as_str())
                    && !transfers.iter().any(|t| t.country == p.country)
                {
                    transfers.push(Transfer {
                        country: p.country.clone(),
                        safeguard: Safeguard::Scc,
                    });
                }
                let purposes_retention = purposes.first().cloned();
                Service {
                    id: String::new(), // set by `config`, which keeps ids unique
                    name,
                    category: category.clone(),
                    description,
                    purposes,
                    provider,
                    legal_basis,
                    cookies,
                    fingerprinting,
                    privacy_policy_url,
                    opt_out_url,
                    transfers,
                    consent_mode,
                    hosts,
                    retention: purposes_retention,
                }
            },
        )
}

/// Overrides for every language: all texts for one without built-in texts, a few
/// (or none) for the others.
fn texts(langs: Vec<String>) -> impl Strategy<Value = BTreeMap<String, TextOverrides>> {
    let fields: Vec<&'static str> = TextOverrides::default()
        .fields()
        .into_iter()
        .map(|(f, _)| f)
        .collect();
    let n = fields.len();
    proptest::collection::vec(
        (
            proptest::collection::vec(text(), n),
            proptest::collection::vec(any::<bool>(), n),
        ),
        langs.len(),
    )
    .prop_map(move |per_lang| {
        let mut out = BTreeMap::new();
        for (lang, (values, given)) in langs.iter().zip(per_lang) {
            let full = !built_in(lang);
            let map: serde_json::Map<String, serde_json::Value> = fields
                .iter()
                .zip(values)
                .zip(given)
                .filter(|(_, given)| full || *given)
                .map(|((f, v), _)| ((*f).to_string(), v.into()))
                .collect();
            if !map.is_empty() {
                let o: TextOverrides = serde_json::from_value(map.into()).unwrap();
                out.insert(lang.clone(), o);
            }
        }
        out
    })
}

/// Custom categories (each with its services), built-in ones, necessary services.
type Draft = (
    Vec<(String, Option<Localized>, Option<Localized>, bool)>,
    Vec<Vec<Service>>,
);

fn categories(langs: Vec<String>) -> impl Strategy<Value = Draft> {
    let category = (
        prop_oneof![
            select(BUILT_IN_CATEGORIES.to_vec()).prop_map(String::from),
            "[a-z][a-z0-9_-]{0,10}".prop_map(|id| format!("{id}-c")),
        ],
        localized(langs.clone(), text().boxed()),
        localized(langs.clone(), text().boxed()),
        any::<bool>(),
    );
    proptest::collection::vec(category, 0..4).prop_flat_map(move |mut cats| {
        // Category ids are unique: drop repeats of a built-in id.
        let mut seen = std::collections::BTreeSet::new();
        cats.retain(|(id, ..)| seen.insert(id.clone()));
        let cats: Vec<_> = cats
            .into_iter()
            .map(|(id, name, description, omit)| {
                // Only a built-in category may leave out its texts, and only when
                // every language has built-in texts.
                let may_omit = omit
                    && BUILT_IN_CATEGORIES.contains(&id.as_str())
                    && langs.iter().all(|l| built_in(l));
                if may_omit {
                    (id, None, None, true)
                } else {
                    (id, Some(name), Some(description), false)
                }
            })
            .collect();
        let mut groups =
            vec![proptest::collection::vec(service(langs.clone(), NECESSARY.into()), 0..3).boxed()];
        for (id, ..) in &cats {
            groups
                .push(proptest::collection::vec(service(langs.clone(), id.clone()), 1..3).boxed());
        }
        (Just(cats), groups)
    })
}

fn config() -> impl Strategy<Value = SiteConfig> {
    subsequence(LANGUAGES.to_vec(), 1..=4)
        .prop_shuffle()
        .prop_map(|l| l.into_iter().map(String::from).collect::<Vec<_>>())
        .prop_flat_map(|langs| {
            let loc_url = prop_oneof![
                url().prop_map(Localized::Same),
                proptest::collection::vec(url(), langs.len()).prop_map({
                    let langs = langs.clone();
                    move |urls| Localized::PerLanguage(langs.iter().cloned().zip(urls).collect())
                }),
            ];
            (
                (
                    text(),
                    party(
                        countries(&EEA_COUNTRIES)
                            .prop_union(countries(&THIRD_COUNTRIES))
                            .boxed(),
                    ),
                    loc_url.clone(),
                    loc_url,
                    text(),
                ),
                (
                    (1u32..=730).prop_map(|d| format!("{d}d")),
                    1u32..=u32::MAX,
                    any::<bool>(),
                    select(vec![
                        Position::Bottom,
                        Position::Top,
                        Position::Center,
                        Position::BottomLeft,
                        Position::BottomRight,
                    ]),
                    select(vec![Theme::Auto, Theme::Light, Theme::Dark]),
                    "#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})",
                    (any::<bool>(), any::<bool>(), any::<bool>(), 0u32..=10_000),
                ),
                texts(langs.clone()),
                categories(langs.clone()),
                proptest::collection::vec(
                    (
                        "[a-z][a-z0-9_-]{0,10}",
                        localized(langs.clone(), text().boxed()),
                        localized(langs.clone(), text().boxed()),
                        any::<bool>(),
                        proptest::collection::vec(any::<prop::sample::Index>(), 0..3),
                    ),
                    0..3,
                ),
                Just(langs),
            )
        })
        .prop_map(
            |(
                (name, controller, privacy_policy_url, imprint_url, policy_version),
                (
                    lifetime,
                    revision,
                    reload_on_withdraw,
                    position,
                    theme,
                    accent_color,
                    (advanced, redaction, passthrough, wait),
                ),
                texts,
                (cats, groups),
                purposes,
                languages,
            )| {
                let mut services: Vec<Service> = groups.into_iter().flatten().collect();
                for (i, s) in services.iter_mut().enumerate() {
                    s.id = format!("s{i}");
                }
                let purposes = purposes
                    .into_iter()
                    .enumerate()
                    .map(
                        |(i, (id, name, description, double_opt_in, picks))| Purpose {
                            id: format!("{id}-p{i}"),
                            retention: double_opt_in.then(|| name.clone()),
                            recipients: vec![description.clone()],
                            processors: Vec::new(),
                            transfers: Vec::new(),
                            proof_retention: double_opt_in.then(|| ProofRetention {
                                keep: "4y".into(),
                                after: RetentionEvent::Withdrawal,
                            }),
                            name,
                            description,
                            double_opt_in,
                            services: if services.is_empty() {
                                Vec::new()
                            } else {
                                picks.iter().map(|p| p.get(&services).id.clone()).collect()
                            },
                        },
                    )
                    .collect();
                SiteConfig {
                    site: SiteInfo {
                        name,
                        controller,
                        languages,
                        privacy_policy_url,
                        imprint_url,
                        policy_version,
                        policy_valid_from: reload_on_withdraw.then(|| "2025-01-15".into()),
                    },
                    consent: ConsentSettings {
                        lifetime,
                        proof_retention: (revision % 2 == 1).then(|| ProofRetention {
                            keep: "3y".into(),
                            after: RetentionEvent::Expiry,
                        }),
                        revision,
                        reload_on_withdraw,
                    },
                    appearance: Appearance {
                        position,
                        theme,
                        accent_color,
                    },
                    consent_mode: ConsentModeSettings {
                        mode: if advanced {
                            ConsentModeKind::Advanced
                        } else {
                            ConsentModeKind::Basic
                        },
                        ads_data_redaction: redaction,
                        url_passthrough: passthrough,
                        wait_for_update: wait,
                    },
                    texts,
                    categories: cats
                        .into_iter()
                        .map(|(id, name, description, _)| Category {
                            id,
                            name,
                            description,
                        })
                        .collect(),
                    purposes,
                    services,
                }
            },
        )
}

/// 64, or `PROPTEST_CASES`.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(64)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn a_valid_config_round_trips_and_keeps_its_version(config in config()) {
        if let Err(e) = config.validate() {
            panic!("the strategy built an invalid config:\n{e}\n{config:#?}");
        }
        fuzzing::assert_round_trips(&config);
        // The same config written as TOML and as JSON has one version.
        let json = SiteConfig::from_json(&serde_json::to_string_pretty(&config).unwrap()).unwrap();
        let toml = SiteConfig::from_toml(&toml::to_string_pretty(&config).unwrap()).unwrap();
        prop_assert_eq!(json.version(), toml.version());
        prop_assert_eq!(json.version(), config.version());
    }
}
