//! The texts a visitor reads, built in for the 24 official EU languages.
//!
//! Each language is one file, `shared/texts/<lang>.toml`, with the same keys
//! (`tests/it/texts.rs` holds every file to German's). Read flat, a file is
//! [`Words`]: `"texts.title"`, `"categories.necessary.name"`,
//! `"legal_basis.consent"`, `"units.month.one"`, `"countries.US"`,
//! `"date.format"`. The `texts.*` keys are the banner's texts proper, which a site
//! overrides per language (`[texts.<lang>]` in its config, [`TextOverrides`]); the
//! others word what a config states in codes (lifetimes, legal bases, safeguards,
//! countries, dates) and name the usual categories.
//!
//! The table is read by the server (feature `toml`), which resolves a site's words
//! per language ([`words_for`]) and sends them with the config: the banner's WASM
//! links no language at all, only the plural rules ([`plural`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::{Localized, SiteConfig};

/// A language's words, flat: `"texts.accept_all"` → `"Alle akzeptieren"`.
pub type Words = BTreeMap<String, String>;

/// The languages Keksdose ships words for: the official languages of the EU.
pub const LANGUAGES: [&str; 24] = [
    "bg", "cs", "da", "de", "el", "en", "es", "et", "fi", "fr", "ga", "hr", "hu", "it", "lt", "lv",
    "mt", "nl", "pl", "pt", "ro", "sk", "sl", "sv",
];

/// The primary subtag of a language tag: `"de"` of `"de-AT"`, lower case.
fn primary(lang: &str) -> String {
    lang.split(['-', '_'])
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase()
}

macro_rules! texts {
    ($( $field:ident ),* $(,)?) => {
        /// A site's overrides of the built-in texts for one language.
        #[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(deny_unknown_fields)]
        pub struct TextOverrides {
            $(
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub $field: Option<String>,
            )*
        }

        impl TextOverrides {
            /// The fields' names, as in a config.
            pub const NAMES: &[&str] = &[$( stringify!($field) ),*];

            /// Every field by name, for validation.
            pub fn fields(&self) -> Vec<(&'static str, Option<&String>)> {
                vec![$( (stringify!($field), self.$field.as_ref()) ),*]
            }

            /// The field called `name`, for readers that do not go through serde
            /// (the banner reads its options from a JavaScript object).
            pub fn field_mut(&mut self, name: &str) -> Option<&mut Option<String>> {
                match name {
                    $( stringify!($field) => Some(&mut self.$field), )*
                    _ => None,
                }
            }
        }

        /// The texts the banner shows in one language.
        #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        pub struct Texts {
            $( pub $field: String, )*
        }

        impl Texts {
            /// The `texts.*` of resolved [`Words`] (an absent one is empty: the
            /// server sends every one).
            pub fn from_words(words: &Words) -> Texts {
                Texts { $( $field: text(words, stringify!($field)), )* }
            }

            /// The texts `get` gives for each field's name (`"accept_all"`):
            /// the banner reads them from its view of the config.
            pub fn from_fn(mut get: impl FnMut(&'static str) -> String) -> Texts {
                Texts { $( $field: get(stringify!($field)), )* }
            }
        }
    };
}

texts! {
    title, intro, accept_all, reject_all, settings, save, settings_title, settings_intro,
    always_active, show_services, hide_services, provider, purposes, legal_basis, cookies,
    lifetime, retention, valid_from, session, persistent, fingerprinting, transfer, privacy_policy, imprint, opt_out,
    policy_version, consent_id, consent_date, history, close, placeholder, provider_privacy,
    load_content, always_allow, gpc_notice,
}

/// `texts.<name>` of `words`, else empty. Not inlined: the banner's WASM calls
/// it once a field and would otherwise carry the map lookup that many times.
#[inline(never)]
fn text(words: &Words, name: &str) -> String {
    words
        .get(&format!("texts.{name}"))
        .cloned()
        .unwrap_or_default()
}

/// Whether Keksdose ships words for `lang` (`de-AT` counts as `de`).
pub fn is_built_in(lang: &str) -> bool {
    LANGUAGES.contains(&primary(lang).as_str())
}

/// The built-in words of every language, read once from the files compiled in.
#[cfg(feature = "toml")]
fn table() -> &'static BTreeMap<&'static str, Words> {
    use std::sync::OnceLock;
    macro_rules! files {
        ($($lang:literal),*) => {
            [$( ($lang, include_str!(concat!("../texts/", $lang, ".toml"))) ),*]
        };
    }
    static TABLE: OnceLock<BTreeMap<&'static str, Words>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let files = files!(
            "bg", "cs", "da", "de", "el", "en", "es", "et", "fi", "fr", "ga", "hr", "hu", "it",
            "lt", "lv", "mt", "nl", "pl", "pt", "ro", "sk", "sl", "sv"
        );
        files
            .into_iter()
            .map(|(lang, text)| {
                let value: toml::Table = text
                    .parse()
                    .unwrap_or_else(|e| panic!("shared/texts/{lang}.toml: {e}"));
                let mut words = Words::new();
                flatten("", &value, &mut words);
                // Whose plural rules its units follow, wherever the words are
                // used (a language a site adds borrows another's).
                words.insert("language.code".into(), lang.into());
                (lang, words)
            })
            .collect()
    })
}

/// `[a.b] c = "x"` as `"a.b.c" → "x"`; what is no string (the review list) is left out.
#[cfg(feature = "toml")]
fn flatten(prefix: &str, table: &toml::Table, out: &mut Words) {
    for (key, value) in table {
        let path = format!("{prefix}{key}");
        match value {
            toml::Value::String(s) => {
                out.insert(path, s.clone());
            }
            toml::Value::Table(t) if key != "review" => flatten(&format!("{path}."), t, out),
            _ => {}
        }
    }
}

/// A built-in language's words as shipped (`de-AT` gives German's).
#[cfg(feature = "toml")]
pub fn built_in(lang: &str) -> Option<&'static Words> {
    table().get(primary(lang).as_str())
}

/// The words a visitor of `config`'s site reads in `lang` (one the site offers):
/// the built-in ones with the site's `[texts.<lang>]` over them. A language
/// Keksdose does not ship takes its texts from the site (validation asks for all
/// of them) and the rest (legal bases, units, countries…) from the site's
/// default language, else English.
#[cfg(feature = "toml")]
pub fn words_for(config: &SiteConfig, lang: &str) -> Words {
    let mut words = built_in(lang)
        .or_else(|| built_in(config.default_language()))
        .or_else(|| built_in("en"))
        .cloned()
        .unwrap_or_default();
    if !is_built_in(lang) {
        words.retain(|k, _| !k.starts_with("texts."));
    }
    if let Some(overrides) = config.texts.get(lang) {
        for (field, value) in overrides.fields() {
            if let Some(v) = value {
                words.insert(format!("texts.{field}"), v.clone());
            }
        }
    }
    words
}

/// [`words_for`] every language the site offers, as the config's response carries them.
#[cfg(feature = "toml")]
pub fn words_by_language(config: &SiteConfig) -> BTreeMap<String, Words> {
    config
        .site
        .languages
        .iter()
        .map(|l| (l.clone(), words_for(config, l)))
        .collect()
}

/// The banner's texts in `lang` as the site configured them ([`words_for`]).
#[cfg(feature = "toml")]
pub fn for_language(config: &SiteConfig, lang: &str) -> Texts {
    Texts::from_words(&words_for(config, lang))
}

/// The CLDR plural categories a language uses for whole numbers, in the order of
/// [`plural`]'s rules. Every language file gives each unit in exactly these.
pub fn plural_categories(lang: &str) -> &'static [&'static str] {
    match primary(lang).as_str() {
        "cs" | "sk" | "hr" | "lt" | "ro" => &["one", "few", "other"],
        "pl" => &["one", "few", "many"],
        "lv" => &["zero", "one", "other"],
        "sl" => &["one", "two", "few", "other"],
        "ga" | "mt" => &["one", "two", "few", "many", "other"],
        _ => &["one", "other"],
    }
}

/// The CLDR plural category of the whole number `n` in `lang` (CLDR 46's
/// cardinal rules with `v = 0`; a language without rules here has one/other).
pub fn plural(lang: &str, n: u64) -> &'static str {
    let (n10, n100) = (n % 10, n % 100);
    let teen = (11..=19).contains(&n100);
    match primary(lang).as_str() {
        "fr" | "pt" if n <= 1 => "one",
        "fr" | "pt" => "other",
        "cs" | "sk" => match n {
            1 => "one",
            2..=4 => "few",
            _ => "other",
        },
        "pl" => match n {
            1 => "one",
            _ if (2..=4).contains(&n10) && !(12..=14).contains(&n100) => "few",
            _ => "many",
        },
        "hr" => match n10 {
            1 if n100 != 11 => "one",
            2..=4 if !(12..=14).contains(&n100) => "few",
            _ => "other",
        },
        "lt" => match n10 {
            1 if !teen => "one",
            2..=9 if !teen => "few",
            _ => "other",
        },
        "lv" => match n10 {
            _ if n10 == 0 || teen => "zero",
            1 => "one",
            _ => "other",
        },
        "sl" => match n100 {
            1 => "one",
            2 => "two",
            3 | 4 => "few",
            _ => "other",
        },
        "ro" => match n {
            1 => "one",
            _ if n == 0 || (1..=19).contains(&n100) => "few",
            _ => "other",
        },
        "ga" => match n {
            1 => "one",
            2 => "two",
            3..=6 => "few",
            7..=10 => "many",
            _ => "other",
        },
        "mt" => match n {
            1 => "one",
            2 => "two",
            _ if n == 0 || (3..=10).contains(&n100) => "few",
            _ if teen => "many",
            _ => "other",
        },
        _ if n == 1 => "one",
        _ => "other",
    }
}

/// `n` of a unit (`"month"`) in `lang`'s words: "13 Monate", "5 miesięcy". The
/// plural rule is that of the language the words are in (`language.code`: a
/// language Keksdose does not ship has another's units), else `lang`'s.
pub fn count(words: &Words, lang: &str, unit: &str, n: u64) -> String {
    let lang = words.get("language.code").map_or(lang, String::as_str);
    let form = words
        .get(&format!("units.{unit}.{}", plural(lang, n)))
        .or_else(|| words.get(&format!("units.{unit}.other")));
    match form {
        Some(f) => f.replace("{n}", &n.to_string()),
        None => format!("{n} {unit}"),
    }
}

/// A lifetime as a reader says it: "13 Monate", "1 year", "bis zum Ende der
/// Sitzung" (`texts.session`, `texts.persistent`). A value that does not parse
/// is shown as written. The banner's and the server's one wording.
pub fn lifetime(words: &Words, lang: &str, text: &str) -> String {
    use crate::lifetime::{Lifetime, Unit};
    let Ok(parsed) = Lifetime::parse(text) else {
        return text.to_string();
    };
    let (amount, unit) = match parsed {
        Lifetime::Session => return word(words, "texts.session", text),
        Lifetime::Persistent => return word(words, "texts.persistent", text),
        Lifetime::Duration { amount, unit } => (amount, unit),
    };
    let unit = match unit {
        Unit::Second => "second",
        Unit::Minute => "minute",
        Unit::Hour => "hour",
        Unit::Day => "day",
        Unit::Week => "week",
        Unit::Month => "month",
        Unit::Year => "year",
    };
    count(words, lang, unit, amount.into())
}

/// A Unix time as a date the way the language writes it (`date.format`):
/// "01.06.2024", "01/06/2024", "2024-06-01" (UTC).
pub fn date(words: &Words, unix_secs: u64) -> String {
    match words.get("date.format") {
        Some(format) => date_in(format, unix_secs),
        None => crate::time::date(unix_secs),
    }
}

/// A Unix time as a date in `format` (the words' `date.format`: `{d}`, `{m}` and
/// `{y}` stand for the day, month and year). Filled in by one pass over the
/// format rather than `str::replace`, whose pattern search would cost the
/// banner's WASM 2 KB (issue 13).
pub fn date_in(format: &str, unix_secs: u64) -> String {
    let iso = crate::time::date(unix_secs);
    let (Some(y), Some(m), Some(d)) = (iso.get(..4), iso.get(5..7), iso.get(8..10)) else {
        return iso;
    };
    if iso.len() != 10 {
        return iso; // after the year 9999
    }
    let mut out = String::with_capacity(format.len() + 4);
    let mut rest = format;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let part = match rest.get(start..start + 3) {
            Some("{d}") => d,
            Some("{m}") => m,
            Some("{y}") => y,
            _ => {
                out.push('{');
                rest = &rest[start + 1..];
                continue;
            }
        };
        out.push_str(part);
        rest = &rest[start + 3..];
    }
    out.push_str(rest);
    out
}

/// The kind of storage, as a label next to a cookie's name.
pub fn storage(words: &Words, kind: crate::config::Storage) -> String {
    word(words, &format!("storage.{}", kind.as_str()), kind.as_str())
}

/// A legal basis with its article, as a privacy policy cites it.
pub fn legal_basis(words: &Words, basis: crate::config::LegalBasis) -> String {
    word(
        words,
        &format!("legal_basis.{}", basis.as_str()),
        basis.as_str(),
    )
}

/// The safeguard of a third-country transfer, with its article.
pub fn safeguard(words: &Words, s: crate::config::Safeguard) -> String {
    word(words, &format!("safeguard.{}", s.as_str()), s.as_str())
}

/// A country's name for the usual third countries; the ISO code otherwise.
pub fn country(words: &Words, code: &str) -> String {
    word(words, &format!("countries.{code}"), code)
}

/// The word at `key`, else `code`: a word missing shows as the code it stands
/// for, never as an empty string.
pub fn word(words: &Words, key: &str, code: &str) -> String {
    words.get(key).cloned().unwrap_or_else(|| code.to_string())
}

/// The ids of the usual categories, those the built-in words name. The loader
/// sorts a stored decision's ids by them only until the site's config arrives;
/// after that, by the config's categories.
pub const BUILT_IN_CATEGORIES: [&str; 6] = [
    "necessary",
    "functional",
    "analytics",
    "marketing",
    "affiliate",
    "social",
];

/// A category's name and description in `lang`: the site's own, else the words'
/// (built in for the usual categories), else its id.
pub fn category_text(config: &SiteConfig, words: &Words, id: &str, lang: &str) -> (String, String) {
    let fallback = config.default_language();
    let cat = config.categories.iter().find(|c| c.id == id);
    let pick = |own: Option<&Localized>, field: &str| match own {
        Some(l) => l.get(lang, fallback).to_string(),
        None => words
            .get(&format!("categories.{id}.{field}"))
            .cloned()
            .unwrap_or_else(|| id.to_string()),
    };
    (
        pick(cat.and_then(|c| c.name.as_ref()), "name"),
        pick(cat.and_then(|c| c.description.as_ref()), "description"),
    )
}
