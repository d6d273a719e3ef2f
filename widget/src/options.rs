//! What the loader hands to [`crate::mount`], read strictly, and what the banner
//! hands back: the decision event.
//!
//! Both are plain data, so they are tested natively; `mount` only moves them
//! across the JavaScript boundary ([`Json`] is how the reader sees the options
//! object: `mount` lets it read the JavaScript object itself, one level at a
//! time, so that no copy of the whole object is ever held in WASM memory).
//!
//! The options are read by hand rather than through serde: serde's derived
//! deserialisers of the whole site config, with any deserialiser, cost the banner
//! some 60 KB of WASM (issue 6). The reader is as strict as the derives in
//! `keksdose-shared`: unknown fields, missing required fields and wrong types are
//! refused with their path, defaults are the config's own, enums go through
//! their serde names, and a test checks that it reads every example config and
//! every default exactly as serde does. A field added to the config fails to
//! compile here until it is read.

use std::collections::BTreeMap;

use keksdose_shared::config::{
    Appearance, Category, ConsentModeSettings, ConsentSettings, ConsentSignal, Cookie, LegalBasis,
    Localized, Party, ProofRetention, Purpose, RetentionEvent, Safeguard, Service, SiteInfo,
    Transfer, default_languages,
};
use keksdose_shared::cookie::StoredDecision;
use keksdose_shared::texts::TextOverrides;
use keksdose_shared::{Choices, Decision, SiteConfig};
use serde::Deserialize;
use serde::de::value::{Error as EnumError, StrDeserializer};

use crate::site::Site;
use crate::state::Layer;

/// What the reader needs of a JSON-like value.
pub trait Json: Sized {
    /// The value one level deep: an array's items and an object's fields (in
    /// order) stay values of their own, read when the reader gets to them.
    fn node(&self) -> Node<Self>;
}

/// One level of a [`Json`] value.
#[derive(Debug, Clone, PartialEq)]
pub enum Node<V> {
    Null,
    Bool(bool),
    Number(f64),
    String(String),
    Array(Vec<V>),
    Object(Vec<(String, V)>),
}

/// Reads `mount`'s options. A consent cookie that does not parse counts as no
/// decision, as everywhere else; anything else malformed is an error that says
/// what was wrong and where (the first problem found).
pub fn read<V: Json>(options: &V) -> Result<(Site, Layer), String> {
    let r = Reader::default();
    let o = Obj::new(
        &r,
        options,
        "options",
        // `focus` and `returnFocus` (taking over the server-rendered layer) are
        // read by `mount` itself: an element is no JSON.
        &[
            "config",
            "lang",
            "stored",
            "layer",
            "apiBase",
            "focus",
            "returnFocus",
        ],
    );
    // The body of `GET /v1/sites/{site}/config`.
    let published = o.obj("config", &["site", "version", "config", "words"]);
    published.string("site"); // part of the wire format; the banner needs only the config
    let version = published.string("version");
    let config = read_config(&published.obj("config", CONFIG_FIELDS));
    let stored = o.opt_string("stored");
    let layer = match o.opt_string("layer").as_deref() {
        None | Some("first") => Layer::First,
        Some("settings") => Layer::Settings,
        Some(other) => {
            r.fail(format!(
                "options.layer: unknown variant \"{other}\", expected \"first\" or \"settings\""
            ));
            Layer::First
        }
    };
    let (lang, api_base) = (o.opt_string("lang"), o.opt_string("apiBase"));
    // The words of the language shown, of those the site offers (`words`: a map of
    // language to a map of strings).
    let lang = config.language_for(lang.as_deref()).to_string();
    let words = published.item("words").and_then(|all| {
        let all = Obj::map(&r, all.value, &all.path());
        all.get(&lang).map(|item| item.strings())
    });
    if let Some(error) = r.error.take() {
        return Err(format!("keksdose: invalid mount options: {error}"));
    }
    let Some(words) = words else {
        return Err(format!(
            "keksdose: invalid mount options: options.config.words: no words in {lang:?}"
        ));
    };
    let stored = stored.and_then(|value| StoredDecision::decode(&value).ok());
    let site = Site::new(config, version, lang, words, stored, api_base.as_deref());
    Ok((site, layer))
}

/// Keeps the first problem found ("path: what is wrong") while reading goes on
/// with stand-in values, which are thrown away with the result. Not returning
/// early is what keeps the reader small: building a struct field by field with
/// `?` after each compiles to drop code for every prefix of its fields.
#[derive(Default)]
pub struct Reader {
    error: std::cell::RefCell<Option<String>>,
}

impl Reader {
    fn fail(&self, message: String) {
        self.error.borrow_mut().get_or_insert(message);
    }

    /// The first problem, if any.
    pub fn error(&self) -> Option<String> {
        self.error.borrow().clone()
    }
}

pub const CONFIG_FIELDS: &[&str] = &[
    "site",
    "consent",
    "appearance",
    "consent_mode",
    "texts",
    "categories",
    "purposes",
    "services",
];

/// A [`SiteConfig`] as its serde derive reads it (`deny_unknown_fields`, the same
/// defaults), but without serde. Problems go to the object's [`Reader`].
pub fn read_config<V: Json>(c: &Obj<V>) -> SiteConfig {
    let site = c.obj(
        "site",
        &[
            "name",
            "controller",
            "languages",
            "privacy_policy_url",
            "imprint_url",
            "policy_version",
            "policy_valid_from",
        ],
    );
    let site = SiteInfo {
        name: site.string("name"),
        controller: party(&site.obj("controller", PARTY_FIELDS)),
        languages: match site.get("languages") {
            None => default_languages(),
            Some(_) => site.list("languages", |v| v.string()),
        },
        privacy_policy_url: site.localized("privacy_policy_url"),
        imprint_url: site.localized("imprint_url"),
        policy_version: site.string("policy_version"),
        policy_valid_from: site.opt_string("policy_valid_from"),
    };
    let consent = match c.defaulted_obj(
        "consent",
        &[
            "lifetime",
            "revision",
            "reload_on_withdraw",
            "proof_retention",
        ],
    ) {
        None => ConsentSettings::default(),
        Some(o) => {
            let d = ConsentSettings::default();
            ConsentSettings {
                lifetime: o.string_or("lifetime", d.lifetime),
                revision: o.u32_or("revision", d.revision),
                reload_on_withdraw: o.bool_or("reload_on_withdraw", d.reload_on_withdraw),
                proof_retention: proof_retention(&o),
            }
        }
    };
    let appearance = match c.defaulted_obj("appearance", &["position", "theme", "accent_color"]) {
        None => Appearance::default(),
        Some(o) => {
            let d = Appearance::default();
            Appearance {
                position: o.variant_or("position", d.position),
                theme: o.variant_or("theme", d.theme),
                accent_color: o.string_or("accent_color", d.accent_color),
            }
        }
    };
    let consent_mode = match c.defaulted_obj(
        "consent_mode",
        &[
            "mode",
            "ads_data_redaction",
            "url_passthrough",
            "wait_for_update",
        ],
    ) {
        None => ConsentModeSettings::default(),
        Some(o) => {
            let d = ConsentModeSettings::default();
            ConsentModeSettings {
                mode: o.variant_or("mode", d.mode),
                ads_data_redaction: o.bool_or("ads_data_redaction", d.ads_data_redaction),
                url_passthrough: o.bool_or("url_passthrough", d.url_passthrough),
                wait_for_update: o.u32_or("wait_for_update", d.wait_for_update),
            }
        }
    };
    let mut texts = BTreeMap::new();
    if let Some(languages) = c.get("texts") {
        let languages = Obj::map(c.r, languages.value, &languages.path());
        for (lang, value) in &languages.fields {
            let path = format!("{}.{lang}", languages.path);
            let o = Obj::new(c.r, value, &path, TextOverrides::NAMES);
            let mut overrides = TextOverrides::default();
            for (name, _) in &o.fields {
                if let Some(field) = overrides.field_mut(name) {
                    *field = o.opt_string(name);
                }
            }
            texts.insert(lang.clone(), overrides);
        }
    }
    SiteConfig {
        site,
        consent,
        appearance,
        consent_mode,
        texts,
        categories: c.list("categories", |v| {
            let o = v.obj(&["id", "name", "description"]);
            Category {
                id: o.string("id"),
                name: o.opt_localized("name"),
                description: o.opt_localized("description"),
            }
        }),
        purposes: c.list("purposes", |v| {
            let o = v.obj(&[
                "id",
                "name",
                "description",
                "double_opt_in",
                "services",
                "retention",
                "recipients",
                "processors",
                "transfers",
                "proof_retention",
            ]);
            Purpose {
                id: o.string("id"),
                name: o.localized("name"),
                description: o.localized("description"),
                double_opt_in: o.bool_or("double_opt_in", false),
                services: o.list("services", |v| v.string()),
                retention: o.opt_localized("retention"),
                recipients: o.list("recipients", |v| v.localized()),
                processors: o.list("processors", |v| party(&v.obj(PARTY_FIELDS))),
                transfers: transfers(&o),
                proof_retention: proof_retention(&o),
            }
        }),
        services: c.list("services", |v| service(&v.obj(SERVICE_FIELDS))),
    }
}

const PARTY_FIELDS: &[&str] = &["name", "address", "country", "contact"];

fn proof_retention<V: Json>(o: &Obj<V>) -> Option<ProofRetention> {
    o.opt_obj("proof_retention", &["keep", "after"])
        .map(|r| ProofRetention {
            keep: r.string("keep"),
            after: r.variant("after", RetentionEvent::Withdrawal),
        })
}

fn transfers<V: Json>(o: &Obj<V>) -> Vec<Transfer> {
    o.list("transfers", |v| {
        let o = v.obj(&["country", "safeguard"]);
        Transfer {
            country: o.string("country"),
            safeguard: o.variant("safeguard", Safeguard::Consent),
        }
    })
}

fn party<V: Json>(o: &Obj<V>) -> Party {
    Party {
        name: o.string("name"),
        address: o.string("address"),
        country: o.string("country"),
        contact: o.opt_string("contact"),
    }
}

const SERVICE_FIELDS: &[&str] = &[
    "id",
    "name",
    "category",
    "description",
    "purposes",
    "provider",
    "legal_basis",
    "cookies",
    "fingerprinting",
    "privacy_policy_url",
    "opt_out_url",
    "transfers",
    "consent_mode",
    "hosts",
    "retention",
];

fn service<V: Json>(o: &Obj<V>) -> Service {
    Service {
        id: o.string("id"),
        name: o.string("name"),
        category: o.string("category"),
        description: o.localized("description"),
        purposes: o.list("purposes", |v| v.localized()),
        provider: o.opt_obj("provider", PARTY_FIELDS).map(|p| party(&p)),
        // The stand-ins after a problem are never seen.
        legal_basis: o.variant("legal_basis", LegalBasis::Consent),
        cookies: o.list("cookies", |v| {
            let o = v.obj(&["name", "storage", "domain", "lifetime", "purpose"]);
            Cookie {
                name: o.string("name"),
                storage: o.variant_or("storage", Default::default()),
                domain: o.opt_string("domain"),
                lifetime: o.string("lifetime"),
                purpose: o.localized("purpose"),
            }
        }),
        fingerprinting: o.bool_or("fingerprinting", false),
        privacy_policy_url: o.opt_string("privacy_policy_url"),
        opt_out_url: o.opt_string("opt_out_url"),
        transfers: transfers(o),
        consent_mode: o.list("consent_mode", |v| v.variant(ConsentSignal::AdStorage)),
        hosts: o.list("hosts", |v| v.string()),
        retention: o.opt_localized("retention"),
    }
}

/// An object whose fields were checked against the known ones.
pub struct Obj<'r, V> {
    r: &'r Reader,
    path: String,
    fields: Vec<(String, V)>,
}

impl<'r, V: Json> Obj<'r, V> {
    /// An object with exactly the `known` fields or fewer.
    pub fn new(r: &'r Reader, value: &V, path: &str, known: &[&str]) -> Obj<'r, V> {
        let obj = Obj::map(r, value, path);
        if let Some((name, _)) = obj
            .fields
            .iter()
            .find(|(name, _)| !known.contains(&name.as_str()))
        {
            r.fail(format!("{path}: unknown field \"{name}\""));
        }
        obj
    }

    /// An object with any fields (a map).
    fn map(r: &'r Reader, value: &V, path: &str) -> Obj<'r, V> {
        let fields = match value.node() {
            Node::Object(fields) => fields,
            _ => {
                r.fail(format!("{path}: expected an object"));
                Vec::new()
            }
        };
        Obj {
            r,
            path: path.to_string(),
            fields,
        }
    }

    fn get<'s>(&'s self, name: &'s str) -> Option<Item<'s, V>> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, value)| Item {
                r: self.r,
                parent: &self.path,
                key: Key::Name(name),
                value,
            })
    }

    /// A field that must be there.
    fn item<'s>(&'s self, name: &'s str) -> Option<Item<'s, V>> {
        let item = self.get(name);
        if item.is_none() {
            self.r
                .fail(format!("{}: missing field \"{name}\"", self.path));
        }
        item
    }

    /// An optional field: absent and `null` are `None`.
    fn opt<'s>(&'s self, name: &'s str) -> Option<Item<'s, V>> {
        self.get(name)
            .filter(|i| !matches!(i.value.node(), Node::Null))
    }

    fn string(&self, name: &str) -> String {
        self.item(name).map(|i| i.string()).unwrap_or_default()
    }

    fn opt_string(&self, name: &str) -> Option<String> {
        self.opt(name).map(|i| i.string())
    }

    fn localized(&self, name: &str) -> Localized {
        self.item(name)
            .map_or(Localized::Same(String::new()), |i| i.localized())
    }

    fn opt_localized(&self, name: &str) -> Option<Localized> {
        self.opt(name).map(|i| i.localized())
    }

    fn obj<'s>(&'s self, name: &'s str, known: &[&str]) -> Obj<'s, V> {
        match self.item(name) {
            Some(i) => i.obj(known),
            None => Obj {
                r: self.r,
                path: String::new(),
                fields: Vec::new(),
            },
        }
    }

    fn opt_obj<'s>(&'s self, name: &'s str, known: &[&str]) -> Option<Obj<'s, V>> {
        self.opt(name).map(|i| i.obj(known))
    }

    /// An object that has defaults when absent (but is no object when `null`).
    fn defaulted_obj<'s>(&'s self, name: &'s str, known: &[&str]) -> Option<Obj<'s, V>> {
        self.get(name).map(|i| i.obj(known))
    }

    fn string_or(&self, name: &str, default: String) -> String {
        self.get(name).map_or(default, |i| i.string())
    }

    fn bool_or(&self, name: &str, default: bool) -> bool {
        match self.get(name) {
            None => default,
            Some(i) => match i.value.node() {
                Node::Bool(b) => b,
                _ => i.fail("a boolean", default),
            },
        }
    }

    fn u32_or(&self, name: &str, default: u32) -> u32 {
        match self.get(name) {
            None => default,
            Some(i) => match i.value.node() {
                Node::Number(n) if n.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&n) => {
                    n as u32
                }
                _ => i.fail("a whole number from 0 to 4294967295", default),
            },
        }
    }

    /// A required enum; `stand_in` only stands in after a problem.
    fn variant<T: for<'de> Deserialize<'de>>(&self, name: &str, stand_in: T) -> T {
        match self.item(name) {
            Some(i) => i.variant(stand_in),
            None => stand_in,
        }
    }

    fn variant_or<T: for<'de> Deserialize<'de>>(&self, name: &str, default: T) -> T {
        match self.get(name) {
            Some(i) => i.variant(default),
            None => default,
        }
    }

    /// A list; absent is empty.
    fn list<T>(&self, name: &str, item: impl Fn(Item<'_, V>) -> T) -> Vec<T> {
        let Some(list) = self.get(name) else {
            return Vec::new();
        };
        let Node::Array(values) = list.value.node() else {
            return list.fail("a list", Vec::new());
        };
        let path = list.path();
        let mut out = Vec::with_capacity(values.len());
        for (i, value) in values.iter().enumerate() {
            out.push(item(Item {
                r: self.r,
                parent: &path,
                key: Key::Index(i),
                value,
            }));
        }
        out
    }
}

/// A value and where it is; the path is spelled out only for a problem.
struct Item<'a, V> {
    r: &'a Reader,
    parent: &'a str,
    key: Key<'a>,
    value: &'a V,
}

#[derive(Clone, Copy)]
enum Key<'a> {
    Name(&'a str),
    Index(usize),
}

impl<'a, V: Json> Item<'a, V> {
    fn path(&self) -> String {
        match self.key {
            Key::Name(name) => format!("{}.{name}", self.parent),
            Key::Index(i) => format!("{}[{i}]", self.parent),
        }
    }

    /// Records "expected …" here and returns the stand-in.
    fn fail<T>(&self, expected: &str, stand_in: T) -> T {
        self.r.fail(format!("{}: expected {expected}", self.path()));
        stand_in
    }

    fn string(&self) -> String {
        match self.value.node() {
            Node::String(s) => s,
            _ => self.fail("a string", String::new()),
        }
    }

    fn obj(&self, known: &[&str]) -> Obj<'a, V> {
        Obj::new(self.r, self.value, &self.path(), known)
    }

    /// A text, or a map of language to text (the untagged [`Localized`]).
    fn localized(&self) -> Localized {
        match self.value.node() {
            Node::String(s) => Localized::Same(s),
            _ => {
                Localized::PerLanguage(self.strings_expected("a text or a map of language to text"))
            }
        }
    }

    /// A map of strings (the words of a language).
    fn strings(&self) -> BTreeMap<String, String> {
        self.strings_expected("a map of strings")
    }

    fn strings_expected(&self, expected: &str) -> BTreeMap<String, String> {
        // `insert`, not `collect`: see `State::new`.
        let mut texts = BTreeMap::new();
        let Node::Object(fields) = self.value.node() else {
            return self.fail(expected, texts);
        };
        for (key, text) in fields {
            match text.node() {
                Node::String(text) => texts.insert(key, text),
                _ => return self.fail(expected, BTreeMap::new()),
            };
        }
        texts
    }

    /// An enum's variant by its serde name, so that the names live in one place.
    fn variant<T: for<'de> Deserialize<'de>>(&self, stand_in: T) -> T {
        let Node::String(name) = self.value.node() else {
            return self.fail("a string", stand_in);
        };
        match T::deserialize(StrDeserializer::<EnumError>::new(&name)) {
            Ok(v) => v,
            Err(e) => {
                self.r.fail(format!("{}: {e}", self.path()));
                stand_in
            }
        }
    }
}

/// What `on_decision` receives (as a plain object with these fields in
/// camelCase; `export.rs` builds it).
#[derive(Debug)]
pub struct DecisionEvent<'a> {
    /// `accept_all`, `reject_all`, `custom` or `withdraw`.
    pub action: &'static str,
    /// The switches, for `custom` (empty otherwise): what to POST as the decision.
    pub categories: &'a BTreeMap<String, bool>,
    pub services: &'a BTreeMap<String, bool>,
    /// The decision resolved against the config: every category and service with
    /// its yes/no, what the loader applies and writes to the cookie.
    pub choices: Option<Choices>,
    /// The version of the config the visitor was shown.
    pub config_version: &'a str,
    /// The language the banner was shown in.
    pub lang: &'a str,
}

impl<'a> DecisionEvent<'a> {
    pub fn new(site: &'a Site, decision: &'a Decision) -> DecisionEvent<'a> {
        DecisionEvent {
            action: decision.action.as_str(),
            categories: &decision.categories,
            services: &decision.services,
            // Our own decisions always resolve against the config they came from.
            choices: decision.resolve(&site.config).ok(),
            config_version: &site.version,
            lang: &site.lang,
        }
    }
}

#[cfg(test)]
mod tests {
    use keksdose_shared::{Action, Decision, SiteConfig};
    use serde::Deserialize;
    use serde_json::json;

    use super::*;

    /// The tests read JSON where `mount` reads the JavaScript object.
    impl Json for serde_json::Value {
        fn node(&self) -> Node<Self> {
            match self {
                serde_json::Value::Null => Node::Null,
                serde_json::Value::Bool(b) => Node::Bool(*b),
                serde_json::Value::Number(n) => Node::Number(n.as_f64().unwrap()),
                serde_json::Value::String(s) => Node::String(s.clone()),
                serde_json::Value::Array(a) => Node::Array(a.clone()),
                serde_json::Value::Object(o) => {
                    Node::Object(o.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                }
            }
        }
    }

    fn parse(json: &str) -> Result<(Site, Layer), String> {
        read(&serde_json::from_str::<serde_json::Value>(json).unwrap())
    }

    const FIXTURE: &str = include_str!("../tests/fixtures/saas.json");

    fn options(extra: serde_json::Value) -> String {
        let mut o =
            json!({ "config": serde_json::from_str::<serde_json::Value>(FIXTURE).unwrap() });
        if let (Some(o), Some(extra)) = (o.as_object_mut(), extra.as_object()) {
            o.extend(extra.clone());
        }
        o.to_string()
    }

    #[test]
    fn reads_the_options_the_loader_passes() {
        let (site, layer) = parse(&options(json!({}))).unwrap();
        assert_eq!(layer, Layer::First);
        assert_eq!(site.lang, "de");
        assert!(site.stored.is_none());
        assert_eq!(site.version, site.config.version());

        let cookie = "1.c-123..1717200000.v1.1.a...";
        let (site, layer) = parse(&options(json!({
            "lang": "en-US", "stored": cookie, "layer": "settings", "apiBase": "https://cmp.example"
        })))
        .unwrap();
        assert_eq!(layer, Layer::Settings);
        assert_eq!(site.lang, "en");
        assert_eq!(
            site.stored.as_ref().and_then(|s| s.consent_id.as_deref()),
            Some("c-123")
        );
        assert_eq!(
            site.history_url().as_deref(),
            Some("https://cmp.example/v1/consents/c-123?lang=en")
        );

        // A broken cookie is no decision; a broken option is an error.
        let (site, _) = parse(&options(json!({ "stored": "garbage" }))).unwrap();
        assert!(site.stored.is_none());
        let err = parse(&options(json!({ "layer": "third" }))).unwrap_err();
        assert!(err.contains("unknown variant"), "{err}");
        assert!(parse(&options(json!({ "colour": "red" }))).is_err());
        assert!(parse("{}").is_err());
        assert!(parse("[]").is_err());
    }

    /// The config as serde reads the same JSON, or serde's refusal.
    fn both(
        config: &serde_json::Value,
    ) -> (Result<SiteConfig, String>, Result<SiteConfig, String>) {
        let r = Reader::default();
        let config_read = read_config(&Obj::new(&r, config, "config", CONFIG_FIELDS));
        let ours = r.error().map_or(Ok(config_read), Err);
        let serde = SiteConfig::deserialize(config).map_err(|e| e.to_string());
        (ours, serde)
    }

    #[test]
    fn reads_every_example_config_as_serde_does() {
        for example in [
            include_str!("../../examples/sites/saas.toml"),
            include_str!("../../examples/sites/coaching.toml"),
            include_str!("../../examples/sites/sessionbutler.toml"),
            include_str!("../../examples/sites/dogandme.toml"),
            include_str!("../../examples/sites/sevdesk.toml"),
            include_str!("../../examples/sites/fluxcess.toml"),
            include_str!("../../examples/sites/tutory.toml"),
        ] {
            let config = SiteConfig::from_toml(example).unwrap();
            let (ours, serde) = both(&serde_json::to_value(&config).unwrap());
            assert_eq!(ours.unwrap(), config);
            assert_eq!(serde.unwrap(), config);
        }
    }

    fn minimal() -> serde_json::Value {
        json!({ "site": {
            "name": "S",
            "controller": { "name": "C", "address": "A", "country": "DE" },
            "privacy_policy_url": "https://s.example/p",
            "imprint_url": { "de": "https://s.example/i" },
            "policy_version": "1",
        }})
    }

    /// `json` with `value` at the dotted `path` (`services.0.id`); `null` removes it.
    fn with(
        mut json: serde_json::Value,
        path: &str,
        value: serde_json::Value,
    ) -> serde_json::Value {
        let (parent, last) = path.rsplit_once('.').unwrap_or(("", path));
        let mut at = &mut json;
        for key in parent.split('.').filter(|k| !k.is_empty()) {
            at = match key.parse::<usize>() {
                Ok(i) => &mut at[i],
                Err(_) => &mut at[key],
            };
        }
        match (at, last.parse::<usize>()) {
            (serde_json::Value::Array(a), Ok(i)) => a[i] = value,
            (serde_json::Value::Object(o), _) if value == "REMOVE" => {
                o.remove(last);
            }
            (serde_json::Value::Object(o), _) => {
                o.insert(last.to_string(), value);
            }
            (other, _) => panic!("cannot set {path} in {other}"),
        }
        json
    }

    #[test]
    fn fills_in_defaults_and_refuses_what_serde_refuses() {
        let (ours, serde) = both(&minimal());
        assert_eq!(ours.unwrap(), serde.unwrap());

        let service = json!({
            "id": "x", "name": "X", "category": "analytics", "description": "d",
            "legal_basis": "consent",
            "cookies": [{ "name": "_x", "lifetime": "1d", "purpose": "p" }],
            "transfers": [{ "country": "US", "safeguard": "scc" }],
            "consent_mode": ["analytics_storage"],
            "provider": null,
        });
        let full = with(minimal(), "services", json!([service]));
        let full = with(
            full,
            "purposes",
            json!([{ "id": "n", "name": "N", "description": "D" }]),
        );
        let full = with(
            full,
            "categories",
            json!([{ "id": "analytics", "name": null }]),
        );
        let full = with(
            full,
            "texts",
            json!({ "de": { "title": "T", "intro": null } }),
        );
        let full = with(full, "consent", json!({ "revision": 3 }));
        let full = with(full, "appearance", json!({ "theme": "dark" }));
        let full = with(full, "consent_mode", json!({ "mode": "advanced" }));
        let (ours, serde) = both(&full);
        assert_eq!(ours.unwrap(), serde.unwrap());

        // Each of these breaks the config in one place; both readers refuse it.
        for (path, bad) in [
            ("site.name", json!("REMOVE")),
            ("site.name", json!(null)),
            ("site.name", json!(1)),
            ("site.colour", json!("red")),
            ("site.languages", json!(null)),
            ("site.languages", json!("de")),
            ("site.languages", json!([1])),
            ("site.imprint_url", json!({ "de": 1 })),
            ("site.imprint_url", json!(["x"])),
            ("site.controller.contact", json!(1)),
            ("site.controller.zip", json!("1")),
            ("site.controller", json!(null)),
            ("consent", json!(null)),
            ("consent.revision", json!(-1)),
            ("consent.revision", json!(1.5)),
            ("consent.revision", json!(4_294_967_296_u64)),
            ("consent.revision", json!("1")),
            ("consent.lifetime", json!(null)),
            ("consent.reload_on_withdraw", json!(null)),
            ("appearance.position", json!("left")),
            ("appearance.theme", json!(null)),
            ("appearance.accent_color", json!(null)),
            ("consent_mode.mode", json!("full")),
            ("consent_mode.wait_for_update", json!(true)),
            ("texts", json!(null)),
            ("texts.de", json!("x")),
            ("texts.de.tittle", json!("x")),
            ("texts.de.title", json!(1)),
            ("categories", json!(null)),
            ("categories", json!({})),
            ("categories.0.id", json!("REMOVE")),
            ("categories.0.name", json!(1)),
            ("purposes.0.double_opt_in", json!("yes")),
            ("purposes.0.services", json!([null])),
            ("services.0.legal_basis", json!("REMOVE")),
            ("services.0.legal_basis", json!("whim")),
            ("services.0.purposes", json!(["a", 1])),
            ("services.0.provider", json!({ "name": "P" })),
            ("services.0.cookies.0.storage", json!("disk")),
            ("services.0.cookies.0.purpose", json!(null)),
            ("services.0.cookies.0.lifetime", json!("REMOVE")),
            ("services.0.transfers.0.safeguard", json!("hope")),
            ("services.0.consent_mode", json!(["ad_spying"])),
            ("services.0.hosts", json!("x.example")),
            ("services.0.fingerprinting", json!(null)),
            ("services.0.extra", json!(1)),
        ] {
            let (ours, serde) = both(&with(full.clone(), path, bad.clone()));
            assert!(serde.is_err(), "serde took {path} = {bad}");
            let err = ours
                .err()
                .unwrap_or_else(|| panic!("we took {path} = {bad}"));
            let at = path.replace(".0", "[0]");
            let at = at.rsplit_once('.').map_or("", |(parent, _)| parent);
            assert!(err.starts_with("config."), "{path} = {bad}: {err}");
            assert!(err.contains(at), "{path} = {bad}: {err} does not name {at}");
        }
    }

    #[test]
    fn the_decision_event_carries_the_resolved_choices_and_version() {
        let (site, _) = parse(&options(json!({ "lang": "en" }))).unwrap();
        let decision = Decision::new(Action::RejectAll);
        let event = DecisionEvent::new(&site, &decision);
        assert_eq!(event.action, "reject_all");
        assert_eq!(event.config_version, site.version);
        assert_eq!(event.lang, "en");
        assert!(event.categories.is_empty() && event.services.is_empty());
        let choices = event.choices.unwrap();
        assert!(choices.services["login"]);
        assert!(!choices.services["mixpanel"]);
        assert!(!choices.categories["analytics"]);
    }
}

#[cfg(test)]
mod fixture {
    use keksdose_shared::SiteConfig;
    use serde_json::json;

    /// `tests/fixtures/saas.json` (what the browser tests mount) is exactly what
    /// the server serves for `examples/sites/saas.toml` as site `saas`. Run with
    /// `KEKSDOSE_BLESS=1` to rewrite it after the example changed.
    #[test]
    fn the_browser_fixture_is_the_saas_example() {
        let config = SiteConfig::from_toml(include_str!("../../examples/sites/saas.toml")).unwrap();
        let words = keksdose_shared::texts::words_by_language(&config);
        let expected = json!({ "site": "saas", "version": config.version(), "config": config, "words": words });
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/saas.json");
        if std::env::var_os("KEKSDOSE_BLESS").is_some() {
            std::fs::write(
                path,
                serde_json::to_string_pretty(&expected).unwrap() + "\n",
            )
            .unwrap();
        }
        let actual: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        assert_eq!(
            actual, expected,
            "run with KEKSDOSE_BLESS=1 to update {path}"
        );
    }
}
