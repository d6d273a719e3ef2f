//! What the loader hands to [`crate::mount`], read strictly, and what the banner
//! hands back: the decision event.
//!
//! Both are plain data, so they are tested natively; `mount` only moves them
//! across the JavaScript boundary ([`Json`] is how the reader sees the options
//! object: `mount` lets it read the JavaScript object itself, one level at a
//! time, so that no copy of the whole object is ever held in WASM memory).
//!
//! The options are read by hand rather than through serde: serde's derived
//! deserialisers cost the banner tens of kilobytes of WASM (issue 6). The reader
//! is as strict as a derive with `deny_unknown_fields`: unknown fields, missing
//! fields and wrong types are refused with their path, and a test reads every
//! view of every example config exactly as the server writes it. A field added
//! to the [`View`] fails to compile here until it is read.

use keksdose_shared::texts::{TextOverrides, Texts};

use crate::site::{Earlier, Site};
use crate::state::{Decided, Flags, Layer};
use crate::view::{CategoryView, CookieView, Link, ServiceView, View};

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

/// Reads `mount`'s options. Anything malformed is an error that says what was
/// wrong and where (the first problem found).
pub fn read<V: Json>(options: &V) -> Result<(Site, Layer), String> {
    let r = Reader::default();
    let o = Obj::new(
        &r,
        options,
        "options",
        // `focus`, `returnFocus` and `fromFirst` (taking over the
        // server-rendered layer) are read by `mount` itself: an element is no JSON.
        &[
            "view",
            "stored",
            "layer",
            "apiBase",
            "focus",
            "returnFocus",
            "fromFirst",
        ],
    );
    // The body of `GET /v1/sites/{site}/banner`.
    let view = read_view(&o.obj("view", VIEW_FIELDS));
    // The consent cookie as the loader decoded it (only a valid one).
    let stored = o
        .opt_obj("stored", &["consent_id", "decided_at", "granted"])
        .map(|s| Earlier {
            consent_id: s.opt_string("consent_id"),
            decided_at: s.secs("decided_at"),
            granted: s.list("granted", |v| v.string()),
        });
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
    let api_base = o.opt_string("apiBase");
    if let Some(error) = r.error.take() {
        return Err(format!("keksdose: invalid mount options: {error}"));
    }
    Ok((Site::new(view, stored, api_base.as_deref()), layer))
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

pub const VIEW_FIELDS: &[&str] = &[
    "version",
    "lang",
    "classes",
    "colors",
    "privacy_policy_url",
    "imprint_url",
    "policy",
    "texts",
    "date_format",
    "categories",
];

/// A [`View`] as its serde derive writes it: every field required, no others.
/// Problems go to the object's [`Reader`].
pub fn read_view<V: Json>(o: &Obj<V>) -> View {
    View {
        version: o.string("version"),
        lang: o.string("lang"),
        classes: o.string("classes"),
        colors: o.string("colors"),
        privacy_policy_url: o.string("privacy_policy_url"),
        imprint_url: o.string("imprint_url"),
        policy: o.string("policy"),
        texts: {
            let t = o.obj("texts", TextOverrides::NAMES);
            Texts::from_fn(|name| t.string(name))
        },
        date_format: o.string("date_format"),
        categories: o.list("categories", |v| {
            let c = v.obj(&["id", "name", "description", "services"]);
            CategoryView {
                id: c.string("id"),
                name: c.string("name"),
                description: c.string("description"),
                services: c.list("services", |v| service(&v.obj(SERVICE_FIELDS))),
            }
        }),
    }
}

const SERVICE_FIELDS: &[&str] = &[
    "id",
    "name",
    "description",
    "fingerprinting",
    "provider",
    "address",
    "purposes",
    "legal_basis",
    "cookies",
    "retention",
    "transfers",
    "links",
];

fn service<V: Json>(o: &Obj<V>) -> ServiceView {
    ServiceView {
        id: o.string("id"),
        name: o.string("name"),
        description: o.string("description"),
        fingerprinting: o.bool("fingerprinting"),
        provider: o.string("provider"),
        address: o.string("address"),
        purposes: o.list("purposes", |v| v.string()),
        legal_basis: o.string("legal_basis"),
        cookies: o.list("cookies", |v| {
            let c = v.obj(&["name", "note", "purpose"]);
            CookieView {
                name: c.string("name"),
                note: c.string("note"),
                purpose: c.string("purpose"),
            }
        }),
        retention: o.opt_string("retention"),
        transfers: o.list("transfers", |v| v.string()),
        links: o.list("links", |v| {
            let l = v.obj(&["url", "label"]);
            Link {
                url: l.string("url"),
                label: l.string("label"),
            }
        }),
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
        let fields = match value.node() {
            Node::Object(fields) => fields,
            _ => {
                r.fail(format!("{path}: expected an object"));
                Vec::new()
            }
        };
        if let Some((name, _)) = fields
            .iter()
            .find(|(name, _)| !known.contains(&name.as_str()))
        {
            r.fail(format!("{path}: unknown field \"{name}\""));
        }
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

    fn string(&self, name: &str) -> String {
        self.item(name).map(|i| i.string()).unwrap_or_default()
    }

    /// An optional string: absent and `null` are `None`.
    fn opt_string(&self, name: &str) -> Option<String> {
        self.get(name)
            .filter(|i| !matches!(i.value.node(), Node::Null))
            .map(|i| i.string())
    }

    /// An optional object: absent and `null` are `None`.
    fn opt_obj<'s>(&'s self, name: &'s str, known: &[&str]) -> Option<Obj<'s, V>> {
        self.get(name)
            .filter(|i| !matches!(i.value.node(), Node::Null))
            .map(|i| i.obj(known))
    }

    /// Seconds since the epoch: a whole number from 0 to 2^53.
    fn secs(&self, name: &str) -> u64 {
        match self.item(name) {
            None => 0,
            Some(i) => match i.value.node() {
                Node::Number(n)
                    if n.fract() == 0.0 && (0.0..=9_007_199_254_740_992.0).contains(&n) =>
                {
                    n as u64
                }
                _ => i.fail("a whole number of seconds", 0),
            },
        }
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

    fn bool(&self, name: &str) -> bool {
        match self.item(name) {
            None => false,
            Some(i) => match i.value.node() {
                Node::Bool(b) => b,
                _ => i.fail("a boolean", false),
            },
        }
    }

    /// A list that must be there.
    fn list<T>(&self, name: &str, item: impl Fn(Item<'_, V>) -> T) -> Vec<T> {
        let Some(list) = self.item(name) else {
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
}

/// What `on_decision` receives (as a plain object with these fields in
/// camelCase; `export.rs` builds it).
#[derive(Debug)]
pub struct DecisionEvent<'a> {
    /// `accept_all`, `reject_all`, `custom` or `withdraw`.
    pub action: &'static str,
    /// The switches, for `custom` (empty otherwise): what to POST as the decision.
    pub categories: &'a Flags,
    pub services: &'a Flags,
    /// The version of the config the visitor was shown.
    pub config_version: &'a str,
    /// The language the banner was shown in.
    pub lang: &'a str,
}

impl<'a> DecisionEvent<'a> {
    pub fn new(site: &'a Site, decision: &'a Decided) -> DecisionEvent<'a> {
        DecisionEvent {
            action: decision.action.as_str(),
            categories: &decision.categories,
            services: &decision.services,
            config_version: &site.view.version,
            lang: &site.view.lang,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use keksdose_shared::{Action, SiteConfig};
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

    /// The options with the fixture's view in `lang`, and `extra`.
    fn options(lang: &str, extra: serde_json::Value) -> String {
        let fixture = serde_json::from_str::<serde_json::Value>(FIXTURE).unwrap();
        let mut o = json!({ "view": fixture[lang] });
        if let (Some(o), Some(extra)) = (o.as_object_mut(), extra.as_object()) {
            o.extend(extra.clone());
        }
        o.to_string()
    }

    #[test]
    fn reads_the_options_the_loader_passes() {
        let (site, layer) = parse(&options("de", json!({}))).unwrap();
        assert_eq!(layer, Layer::First);
        assert_eq!(site.view.lang, "de");
        assert!(site.stored.is_none());
        assert_eq!(site.view.texts.accept_all, "Alle akzeptieren");

        let stored = json!({ "consent_id": "c-123", "decided_at": 1_717_200_000, "granted": ["analytics", "mixpanel"] });
        let (site, layer) = parse(&options(
            "en",
            json!({ "stored": stored, "layer": "settings", "apiBase": "https://cmp.example" }),
        ))
        .unwrap();
        assert_eq!(layer, Layer::Settings);
        assert_eq!(site.view.lang, "en");
        assert_eq!(
            site.stored.as_ref().and_then(|s| s.consent_id.as_deref()),
            Some("c-123")
        );
        let earlier = site.stored.as_ref().unwrap();
        assert_eq!(earlier.decided_at, 1_717_200_000);
        assert!(earlier.allowed("mixpanel") && !earlier.allowed("segment"));
        assert_eq!(
            site.history_url().as_deref(),
            Some("https://cmp.example/v1/consents/c-123?lang=en")
        );

        // `null` is no earlier decision; anything broken is an error.
        let (site, _) = parse(&options("de", json!({ "stored": null }))).unwrap();
        assert!(site.stored.is_none());
        for bad in [
            json!("1.c-123..1717200000.v1.1.a..."),
            json!({ "consent_id": "c", "decided_at": 1.5, "granted": [] }),
            json!({ "consent_id": "c", "decided_at": -1, "granted": [] }),
            json!({ "consent_id": 1, "decided_at": 1, "granted": [] }),
            json!({ "decided_at": 1, "granted": ["a", 2] }),
            json!({ "consent_id": null, "granted": [] }),
            json!({ "consent_id": null, "decided_at": 1, "granted": [], "pending": "k" }),
        ] {
            let err = parse(&options("de", json!({ "stored": bad }))).unwrap_err();
            assert!(err.contains("options.stored"), "{bad}: {err}");
        }
        let err = parse(&options("de", json!({ "layer": "third" }))).unwrap_err();
        assert!(err.contains("unknown variant"), "{err}");
        assert!(parse(&options("de", json!({ "colour": "red" }))).is_err());
        // The old form, the whole published config, is refused by name.
        let err = parse(&options("de", json!({ "config": {} }))).unwrap_err();
        assert!(err.contains("unknown field \"config\""), "{err}");
        assert!(parse("{}").is_err());
        assert!(parse("[]").is_err());
    }

    /// Every example site's config as TOML, for the tests that go through each.
    pub(crate) const EXAMPLES: [&str; 7] = [
        include_str!("../../examples/sites/saas.toml"),
        include_str!("../../examples/sites/coaching.toml"),
        include_str!("../../examples/sites/sessionbutler.toml"),
        include_str!("../../examples/sites/dogandme.toml"),
        include_str!("../../examples/sites/sevdesk.toml"),
        include_str!("../../examples/sites/fluxcess.toml"),
        include_str!("../../examples/sites/tutory.toml"),
    ];

    /// The view as our reader reads its JSON, or the first problem.
    fn reread(view: &serde_json::Value) -> Result<View, String> {
        let r = Reader::default();
        let read = read_view(&Obj::new(&r, view, "view", VIEW_FIELDS));
        r.error().map_or(Ok(read), Err)
    }

    #[test]
    fn reads_every_view_of_every_example_as_the_server_writes_it() {
        for example in EXAMPLES {
            let config = SiteConfig::from_toml(example).unwrap();
            for lang in &config.site.languages {
                let words = keksdose_shared::texts::words_for(&config, lang);
                let view = View::new(&config, "v", lang, &words);
                let json = serde_json::to_value(&view).unwrap();
                assert_eq!(reread(&json).unwrap(), view, "{lang}");
            }
        }
    }

    /// `json` with `value` at the dotted `path` (`categories.0.id`); `"REMOVE"` removes it.
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
    fn refuses_a_view_broken_anywhere_naming_where() {
        let fixture = serde_json::from_str::<serde_json::Value>(FIXTURE).unwrap();
        let view = fixture["de"].clone();
        // The fixture's second category has services with cookies, transfers and links.
        assert!(reread(&view).is_ok());
        for (path, bad) in [
            ("version", json!("REMOVE")),
            ("version", json!(1)),
            ("lang", json!(null)),
            ("colour", json!("red")),
            ("texts", json!(["x"])),
            ("texts.title", json!(1)),
            ("texts.tittle", json!("x")),
            ("texts.title", json!("REMOVE")),
            ("date_format", json!(null)),
            ("categories", json!({})),
            ("categories", json!("REMOVE")),
            ("categories.1.id", json!("REMOVE")),
            ("categories.1.extra", json!(1)),
            ("categories.1.services", json!(null)),
            ("categories.1.services.0.fingerprinting", json!("no")),
            ("categories.1.services.0.purposes", json!(["a", 1])),
            ("categories.1.services.0.retention", json!(1)),
            ("categories.1.services.0.cookies.0.note", json!("REMOVE")),
            ("categories.1.services.0.links", json!([["u", "l"]])),
        ] {
            let err = reread(&with(view.clone(), path, bad.clone()))
                .err()
                .unwrap_or_else(|| panic!("we took {path} = {bad}"));
            let at = path.replace(".0", "[0]").replace(".1", "[1]");
            let at = at.rsplit_once('.').map_or("", |(parent, _)| parent);
            assert!(err.starts_with("view"), "{path} = {bad}: {err}");
            assert!(err.contains(at), "{path} = {bad}: {err} does not name {at}");
        }
    }

    #[test]
    fn the_decision_event_carries_the_version_and_language_shown() {
        let (site, _) = parse(&options("en", json!({}))).unwrap();
        let decision = Decided {
            action: Action::RejectAll,
            categories: Flags::default(),
            services: Flags::default(),
        };
        let event = DecisionEvent::new(&site, &decision);
        assert_eq!(event.action, "reject_all");
        assert_eq!(event.config_version, site.view.version);
        assert_eq!(event.lang, "en");
        assert!(event.categories.0.is_empty() && event.services.0.is_empty());
    }
}

#[cfg(test)]
mod fixture {
    use keksdose_shared::SiteConfig;
    use serde_json::json;

    use crate::view::View;

    /// `tests/fixtures/saas.json` (what the browser tests mount) is exactly what
    /// the server serves for `examples/sites/saas.toml` as site `saas`: its view
    /// in each language. Run with `KEKSDOSE_BLESS=1` to rewrite it after the
    /// example or the words changed.
    #[test]
    fn the_browser_fixture_is_the_saas_example() {
        let config = SiteConfig::from_toml(include_str!("../../examples/sites/saas.toml")).unwrap();
        let version = config.version();
        let mut expected = serde_json::Map::new();
        for lang in &config.site.languages {
            let words = keksdose_shared::texts::words_for(&config, lang);
            expected.insert(
                lang.clone(),
                json!(View::new(&config, &version, lang, &words)),
            );
        }
        let expected = serde_json::Value::Object(expected);
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
