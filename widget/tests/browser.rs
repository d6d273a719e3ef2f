//! The banner in real headless Chromium (wasm-bindgen-test through chromedriver):
//! mounted with the SaaS example's views exactly as the server serves them
//! (`fixtures/saas.json`, per language, kept equal to `examples/sites/saas.toml`
//! by a native unit test), driven by clicks and key events, checked through the
//! DOM and the callbacks the loader would receive.
//!
//! Run: `CHROMEDRIVER=/usr/bin/chromedriver cargo test -p keksdose-widget --target wasm32-unknown-unknown`
#![cfg(target_arch = "wasm32")]
// A panic in a test is a failed test. clippy's `allow-unwrap-in-tests` does not see
// `#[wasm_bindgen_test]` functions or their helpers as tests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use keksdose_shared::cookie::StoredDecision;
use keksdose_shared::decision::Signals;
use keksdose_shared::{Action, Decision, SiteConfig};
use serde_json::{Value, json};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;
use web_sys::{Element, HtmlElement, KeyboardEvent, KeyboardEventInit, ShadowRoot};

wasm_bindgen_test_configure!(run_in_browser);

const FIXTURE: &str = include_str!("fixtures/saas.json");

fn fixture() -> Value {
    serde_json::from_str(FIXTURE).unwrap()
}

fn document() -> web_sys::Document {
    web_sys::window().unwrap().document().unwrap()
}

/// A banner mounted into a fresh host element, with what its callbacks received.
struct Banner {
    host: Element,
    root: ShadowRoot,
    handle: keksdose_widget::Handle,
    decisions: Rc<RefCell<Vec<Value>>>,
    closes: Rc<Cell<u32>>,
}

impl Banner {
    /// The German view of the fixture, with `extra` options.
    async fn mount(extra: Value) -> Banner {
        Banner::mount_view(fixture()["de"].clone(), extra).await
    }

    async fn mount_view(view: Value, extra: Value) -> Banner {
        let host = document().create_element("div").unwrap();
        document().body().unwrap().append_child(&host).unwrap();
        let mut options = json!({ "view": view });
        options
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let options = js_sys::JSON::parse(&options.to_string()).unwrap();

        let decisions = Rc::new(RefCell::new(Vec::new()));
        let closes = Rc::new(Cell::new(0));
        let on_decision = {
            let decisions = decisions.clone();
            Closure::<dyn FnMut(JsValue)>::new(move |event: JsValue| {
                let text = js_sys::JSON::stringify(&event)
                    .unwrap()
                    .as_string()
                    .unwrap();
                decisions
                    .borrow_mut()
                    .push(serde_json::from_str(&text).unwrap());
            })
        };
        let on_close = {
            let closes = closes.clone();
            Closure::<dyn FnMut()>::new(move || closes.set(closes.get() + 1))
        };
        let handle = keksdose_widget::mount(
            host.clone(),
            options,
            on_decision.into_js_value().unchecked_into(),
            on_close.into_js_value().unchecked_into(),
        )
        .unwrap();
        yew::scheduler::flush().await;
        let root = host.shadow_root().expect("an open shadow root");
        Banner {
            host,
            root,
            handle,
            decisions,
            closes,
        }
    }

    fn find(&self, selector: &str) -> Option<HtmlElement> {
        self.root
            .query_selector(selector)
            .unwrap()
            .map(|e| e.unchecked_into())
    }

    fn all(&self, selector: &str) -> Vec<HtmlElement> {
        let list = self.root.query_selector_all(selector).unwrap();
        (0..list.length())
            .map(|i| list.item(i).unwrap().unchecked_into())
            .collect()
    }

    fn dialog(&self) -> Option<HtmlElement> {
        self.find("[role=dialog]")
    }

    /// The button with exactly this text.
    fn button(&self, text: &str) -> HtmlElement {
        self.all("button")
            .into_iter()
            .find(|b| b.text_content().unwrap_or_default().trim() == text)
            .unwrap_or_else(|| panic!("no button {text:?}"))
    }

    async fn click(&self, el: &HtmlElement) {
        el.click();
        yew::scheduler::flush().await;
    }

    /// The switch named by the element with this text (a category's heading).
    fn switch_named(&self, name: &str) -> HtmlElement {
        self.all("[role=switch]")
            .into_iter()
            .find(|s| {
                let label = s.get_attribute("aria-labelledby").unwrap();
                self.root
                    .get_element_by_id(&label)
                    .and_then(|l| l.text_content())
                    .is_some_and(|t| t.trim() == name)
            })
            .unwrap_or_else(|| panic!("no switch named {name:?}"))
    }

    fn focused(&self) -> Option<Element> {
        self.root.active_element()
    }

    async fn key(&self, target: &Element, key: &str, shift: bool) {
        let init = KeyboardEventInit::new();
        init.set_key(key);
        init.set_shift_key(shift);
        init.set_bubbles(true);
        init.set_cancelable(true);
        init.set_composed(true);
        let event = KeyboardEvent::new_with_keyboard_event_init_dict("keydown", &init).unwrap();
        target.dispatch_event(&event).unwrap();
        yew::scheduler::flush().await;
    }

    fn only_decision(&self) -> Value {
        let decisions = self.decisions.borrow();
        assert_eq!(decisions.len(), 1, "{decisions:?}");
        decisions[0].clone()
    }

    fn unmount(mut self) {
        self.handle.unmount();
        self.host.remove();
    }
}

fn text_of(root: &ShadowRoot, id: &str) -> String {
    root.get_element_by_id(id)
        .and_then(|e| e.text_content())
        .unwrap_or_default()
}

#[wasm_bindgen_test]
async fn the_dialog_is_labelled_and_takes_focus() {
    // Something on the page has focus before the banner opens.
    let page_button: HtmlElement = document()
        .create_element("button")
        .unwrap()
        .unchecked_into();
    page_button.set_text_content(Some("page"));
    document()
        .body()
        .unwrap()
        .append_child(&page_button)
        .unwrap();
    page_button.focus().unwrap();

    let banner = Banner::mount(json!({})).await;
    let dialog = banner.dialog().expect("a dialog");
    assert_eq!(dialog.get_attribute("aria-modal").as_deref(), Some("true"));
    let title = text_of(
        &banner.root,
        &dialog.get_attribute("aria-labelledby").unwrap(),
    );
    assert_eq!(title, "Wir respektieren Ihre Privatsphäre");
    let description = text_of(
        &banner.root,
        &dialog.get_attribute("aria-describedby").unwrap(),
    );
    assert!(
        description.starts_with("Wir verwenden Cookies"),
        "{description}"
    );
    assert_eq!(dialog.get_attribute("lang").as_deref(), Some("de"));

    // Focus moved into the dialog; the page's element lost it.
    let focused = banner.focused().expect("focus inside the shadow root");
    assert!(
        dialog.contains(Some(&focused)),
        "focus on {:?}",
        focused.outer_html()
    );
    assert_eq!(
        document().active_element().as_ref(),
        Some(banner.host.as_ref()),
        "the page sees focus on the banner's host"
    );

    // The banner overlays the page: fixed, so nothing on the page moves.
    let backdrop = banner.find(".kd-backdrop").unwrap();
    let style = web_sys::window()
        .unwrap()
        .get_computed_style(&backdrop)
        .unwrap()
        .unwrap();
    assert_eq!(style.get_property_value("position").unwrap(), "fixed");

    // The privacy policy and imprint links are inside the dialog.
    let links: Vec<_> = banner
        .all("a")
        .into_iter()
        .map(|a| (a.text_content().unwrap(), a.get_attribute("href").unwrap()))
        .collect();
    assert_eq!(
        links,
        [
            (
                "Datenschutzerklärung".to_string(),
                "https://www.taskwerk.de/datenschutz".to_string()
            ),
            (
                "Impressum".to_string(),
                "https://www.taskwerk.de/impressum".to_string()
            ),
        ]
    );

    // Deciding hands focus back to the page.
    banner.click(&banner.button("Nur Notwendige")).await;
    assert_eq!(
        document().active_element().as_ref(),
        Some(page_button.unchecked_ref::<Element>())
    );
    banner.unmount();
    page_button.remove();
}

#[wasm_bindgen_test]
async fn the_three_first_layer_buttons_are_equal() {
    // The example's corner banner stacks them; a full-width banner puts them in a row.
    for position in ["bottom_right", "bottom"] {
        let mut view = fixture()["de"].clone();
        let classes = view["classes"].as_str().unwrap().to_string();
        assert!(classes.contains("kd-pos-bottom-right"), "{classes}");
        view["classes"] = json!(classes.replace(
            "kd-pos-bottom-right",
            &format!("kd-pos-{}", position.replace('_', "-"))
        ));
        let banner = Banner::mount_view(view, json!({})).await;
        let buttons = banner.all(".kd-actions button");
        let texts: Vec<_> = buttons.iter().map(|b| b.text_content().unwrap()).collect();
        assert_eq!(
            texts,
            ["Alle akzeptieren", "Nur Notwendige", "Einstellungen"]
        );
        let window = web_sys::window().unwrap();
        let look = |b: &HtmlElement| {
            let rect = b.get_bounding_client_rect();
            let style = window.get_computed_style(b).unwrap().unwrap();
            let prop = |p: &str| style.get_property_value(p).unwrap();
            (
                rect.width().round() as i64,
                rect.height().round() as i64,
                prop("font-weight"),
                prop("font-size"),
                prop("background-color"),
                prop("color"),
                prop("border-top-width"),
                b.class_name(),
            )
        };
        let first = look(&buttons[0]);
        assert!(
            first.0 > 50 && first.1 >= 40,
            "{position}: visible, 44px tall: {first:?}"
        );
        for b in &buttons[1..] {
            assert_eq!(look(b), first, "{position}");
        }
        let tops: Vec<_> = buttons
            .iter()
            .map(|b| b.get_bounding_client_rect().top().round() as i64)
            .collect();
        let width = window.inner_width().unwrap().as_f64().unwrap();
        assert!(width > 640.0, "a desktop viewport: {width}px");
        if position == "bottom" {
            assert!(
                tops.iter().all(|t| *t == tops[0]),
                "one row on a desktop: {tops:?}"
            );
        }
        if position == "bottom_right" {
            assert!(
                tops[0] < tops[1] && tops[1] < tops[2],
                "stacked in the corner: {tops:?}"
            );
        }
        banner.unmount();
    }
}

#[wasm_bindgen_test]
async fn nothing_is_pre_ticked_in_the_settings_but_necessary() {
    let banner = Banner::mount(json!({})).await;
    banner.click(&banner.button("Einstellungen")).await;
    let dialog = banner.dialog().unwrap();
    let title = text_of(
        &banner.root,
        &dialog.get_attribute("aria-labelledby").unwrap(),
    );
    assert_eq!(title, "Cookie-Einstellungen");
    // Focus follows into the new layer.
    let focused = banner.focused().expect("focus in the dialog");
    assert!(dialog.contains(Some(&focused)));

    // Open every category's list of services, and every service's details.
    for disclosure in banner.all(".kd-category > .kd-disclosure") {
        banner.click(&disclosure).await;
    }
    for disclosure in banner.all(".kd-service .kd-disclosure") {
        banner.click(&disclosure).await;
    }
    let switches = banner.all("[role=switch]");
    let categories = banner.all("[role=switch][data-category]").len();
    let services = banner.all("[role=switch][data-service]").len();
    assert_eq!(
        categories, 5,
        "necessary, functional, analytics, marketing, affiliate"
    );
    assert_eq!(
        services, 7,
        "every non-necessary service has its own switch"
    );
    for s in &switches {
        let necessary = s.get_attribute("data-category").as_deref() == Some("necessary");
        assert_eq!(
            s.get_attribute("aria-checked").as_deref(),
            Some(if necessary { "true" } else { "false" }),
            "{}",
            s.outer_html()
        );
        assert_eq!(s.has_attribute("disabled"), necessary);
    }
    assert_eq!(banner.all("input[type=checkbox]:checked").len(), 0);
    let necessary = banner
        .find("#kd-cat-necessary")
        .unwrap()
        .parent_element()
        .unwrap();
    assert!(necessary.text_content().unwrap().contains("Immer aktiv"));

    // The details say what a privacy policy says.
    let text = dialog.text_content().unwrap();
    for expected in [
        "Mixpanel, Inc.",
        "One Front Street, 28th Floor, San Francisco, CA 94111, USA",
        "Art. 6 Abs. 1 lit. a DSGVO",
        "Art. 6 Abs. 1 lit. b DSGVO",
        "mp_*_mixpanel",
        "Speicherdauer: 1 Jahr",
        "Speicherdauer: 13 Monate",
        "Speicherdauer: bis zum Ende der Sitzung",
        "USA: Standardvertragsklauseln (Art. 46 Abs. 2 lit. c DSGVO)",
        "Erkennt Geräte auch ohne Cookies (Fingerprinting)",
        "Widerspruch (Opt-out) (Mixpanel)",
        "Stand: 01.06.2024",
    ] {
        assert!(text.contains(expected), "missing {expected:?}");
    }
    banner.unmount();
}

#[wasm_bindgen_test]
async fn only_necessary_on_the_first_layer_rejects_all() {
    let banner = Banner::mount(json!({})).await;
    banner.click(&banner.button("Nur Notwendige")).await;
    let event = banner.only_decision();
    assert_eq!(event["action"], "reject_all");
    let fields: Vec<&str> = event
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        fields,
        ["action", "categories", "configVersion", "lang", "services"]
    );
    assert_eq!(event["categories"], json!({}));
    assert_eq!(event["configVersion"], fixture()["de"]["version"]);
    assert_eq!(event["services"], json!({}));
    assert_eq!(banner.closes.get(), 0);
    assert!(
        banner.dialog().is_none(),
        "the banner is gone after the decision"
    );
    banner.unmount();
}

#[wasm_bindgen_test]
async fn statistik_on_and_save_gives_custom_with_only_analytics() {
    let banner = Banner::mount(json!({})).await;
    banner.click(&banner.button("Einstellungen")).await;
    let statistik = banner.switch_named("Statistik");
    banner.click(&statistik).await;
    assert_eq!(
        banner
            .switch_named("Statistik")
            .get_attribute("aria-checked")
            .as_deref(),
        Some("true")
    );
    banner.click(&banner.button("Auswahl speichern")).await;

    let event = banner.only_decision();
    assert_eq!(event["action"], "custom");
    assert_eq!(event["categories"]["analytics"], true);
    let config = SiteConfig::from_toml(EXAMPLES[0].1).unwrap();
    for service in &config.services {
        let expected = matches!(service.category.as_str(), "necessary" | "analytics");
        assert_eq!(event["services"][&service.id], expected, "{}", service.id);
    }
    assert_eq!(event["categories"]["marketing"], false);
    banner.unmount();
}

#[wasm_bindgen_test]
async fn tab_is_trapped_and_escape_is_not_a_choice() {
    let banner = Banner::mount(json!({})).await;
    let dialog = banner.dialog().unwrap();
    let tabbables = banner.all("a[href], button");
    let (first, last) = (&tabbables[0], &tabbables[tabbables.len() - 1]);
    assert_eq!(first.text_content().unwrap(), "Datenschutzerklärung");
    assert_eq!(last.text_content().unwrap(), "Einstellungen");

    // Shift-Tab from the dialog itself wraps to the last control…
    banner.key(&dialog, "Tab", true).await;
    assert_eq!(
        banner.focused().as_ref(),
        Some(last.unchecked_ref::<Element>())
    );
    // …Tab from the last to the first, Shift-Tab from the first to the last.
    banner.key(last, "Tab", false).await;
    assert_eq!(
        banner.focused().as_ref(),
        Some(first.unchecked_ref::<Element>())
    );
    banner.key(first, "Tab", true).await;
    assert_eq!(
        banner.focused().as_ref(),
        Some(last.unchecked_ref::<Element>())
    );

    // Escape on the first layer does nothing.
    banner.key(last, "Escape", false).await;
    assert!(banner.dialog().is_some());
    assert!(banner.decisions.borrow().is_empty());
    assert_eq!(banner.closes.get(), 0);

    // In settings reached from the first layer, Escape goes back, not away.
    banner.click(&banner.button("Einstellungen")).await;
    let settings = banner.dialog().unwrap();
    banner.key(&settings, "Escape", false).await;
    assert_eq!(banner.all(".kd-actions button").len(), 3);
    assert!(
        banner.find(".kd-first").is_some(),
        "back on the first layer"
    );
    assert!(banner.decisions.borrow().is_empty());
    assert_eq!(banner.closes.get(), 0);
    banner.unmount();
}

/// An "Alle akzeptieren" acknowledged as `consent_id`, as the loader passes the
/// decoded consent cookie to `mount` (`stored`).
fn accepted(consent_id: &str) -> Value {
    let config = SiteConfig::from_toml(EXAMPLES[0].1).unwrap();
    let choices = Decision::new(Action::AcceptAll).resolve(&config).unwrap();
    let mut stored = StoredDecision::from_choices(
        &choices,
        Action::AcceptAll,
        &config.version(),
        1,
        1_717_200_000,
        Signals::default(),
    );
    stored.consent_id = Some(consent_id.into());
    json!({
        "consent_id": stored.consent_id,
        "decided_at": stored.decided_at,
        "granted": stored.granted,
    })
}

#[wasm_bindgen_test]
async fn reopened_settings_show_the_consent_and_close_without_a_decision() {
    let options = json!({
        "stored": accepted("c-7f3a"),
        "layer": "settings",
        "apiBase": "https://cmp.example/",
    });
    let banner = Banner::mount(options.clone()).await;
    // The switches start from the earlier decision.
    assert_eq!(
        banner
            .switch_named("Statistik")
            .get_attribute("aria-checked")
            .as_deref(),
        Some("true")
    );
    assert_eq!(
        banner
            .find("[data-consent-id]")
            .unwrap()
            .text_content()
            .unwrap(),
        "c-7f3a"
    );
    let history = banner
        .all("a")
        .into_iter()
        .find(|a| a.text_content().unwrap() == "Verlauf Ihrer Einwilligungen")
        .unwrap();
    assert_eq!(
        history.get_attribute("href").as_deref(),
        Some("https://cmp.example/v1/consents/c-7f3a?lang=de")
    );
    assert!(
        banner
            .dialog()
            .unwrap()
            .text_content()
            .unwrap()
            .contains("01.06.2024")
    );

    banner
        .click(&banner.find("button[aria-label=\"Schließen\"]").unwrap())
        .await;
    assert_eq!(banner.closes.get(), 1);
    assert!(banner.decisions.borrow().is_empty());
    assert!(banner.dialog().is_none());
    banner.unmount();

    // "Nur Notwendige" over that consent is a withdrawal.
    let banner = Banner::mount(options).await;
    banner.click(&banner.button("Nur Notwendige")).await;
    assert_eq!(banner.only_decision()["action"], "withdraw");
    banner.unmount();
}

#[wasm_bindgen_test]
async fn english_in_the_english_view() {
    let banner = Banner::mount_view(fixture()["en"].clone(), json!({})).await;
    let texts: Vec<_> = banner
        .all(".kd-actions button")
        .iter()
        .map(|b| b.text_content().unwrap())
        .collect();
    assert_eq!(texts, ["Accept all", "Only necessary", "Settings"]);
    assert_eq!(
        banner.dialog().unwrap().get_attribute("lang").as_deref(),
        Some("en")
    );
    banner.click(&banner.button("Accept all")).await;
    let event = banner.only_decision();
    assert_eq!(event["action"], "accept_all");
    assert_eq!(event["lang"], "en");
    banner.unmount();
}

#[wasm_bindgen_test]
async fn malformed_options_are_refused() {
    let host = document().create_element("div").unwrap();
    let noop = js_sys::Function::new_no_args("");
    let options = js_sys::JSON::parse(r#"{"view": {"version": "x"}}"#).unwrap();
    let err = keksdose_widget::mount(host.clone(), options, noop.clone(), noop.clone())
        .err()
        .expect("an error");
    let message = js_sys::Error::from(err).message().as_string().unwrap();
    assert!(
        message.starts_with("keksdose: invalid mount options"),
        "{message}"
    );
    assert!(host.shadow_root().is_none(), "nothing attached on error");
}

/// Every example site, as TOML, for the tests that render each one.
const EXAMPLES: [(&str, &str); 7] = [
    ("saas", include_str!("../../examples/sites/saas.toml")),
    (
        "coaching",
        include_str!("../../examples/sites/coaching.toml"),
    ),
    (
        "sessionbutler",
        include_str!("../../examples/sites/sessionbutler.toml"),
    ),
    (
        "dogandme",
        include_str!("../../examples/sites/dogandme.toml"),
    ),
    ("sevdesk", include_str!("../../examples/sites/sevdesk.toml")),
    (
        "fluxcess",
        include_str!("../../examples/sites/fluxcess.toml"),
    ),
    ("tutory", include_str!("../../examples/sites/tutory.toml")),
];

/// `html` as the browser keeps it: parsed into a template and serialised again.
fn as_parsed(html: &str) -> String {
    let template: web_sys::HtmlTemplateElement = document()
        .create_element("template")
        .unwrap()
        .unchecked_into();
    template.set_inner_html(html);
    template.inner_html()
}

/// The server renders the first layer with `ssr::first_layer` (issue 13); the
/// WASM takes over by rendering the same markup in its place. For every example
/// site and each language it offers, the two are the same markup.
#[wasm_bindgen_test]
async fn the_server_rendered_first_layer_is_the_markup_the_banner_renders() {
    let mut compared = 0;
    for (name, toml) in EXAMPLES {
        let config = SiteConfig::from_toml(toml).unwrap();
        for lang in config.site.languages.clone() {
            let version = format!("v-{name}");
            let words = keksdose_shared::texts::words_for(&config, &lang);
            let view = keksdose_widget::view::View::new(&config, &version, &lang, &words);
            let site = keksdose_widget::site::Site::new(view.clone(), None, None);
            let server = as_parsed(&keksdose_widget::ssr::render(site).await);
            let banner = Banner::mount_view(json!(view), json!({})).await;
            let container = banner.find("[data-keksdose-banner]").unwrap();
            assert_eq!(
                container.inner_html(),
                server,
                "{name} in {lang}: the server's first layer differs from the banner's"
            );
            assert!(server.contains(&format!("lang=\"{lang}\"")), "{server}");
            compared += 1;
            banner.host.remove();
        }
    }
    assert!(compared >= 7, "{compared} layers compared");
}

/// The loader shows the server's first layer first; `mount` then renders beside
/// it, hidden, and replaces it once rendered: one dialog, no second slide-in,
/// the control focused there still focused, and focus returned at the end to
/// where it was before the first layer.
#[wasm_bindgen_test]
async fn mounting_over_the_server_rendered_layer_replaces_it_and_keeps_the_focus() {
    let config = SiteConfig::from_toml(EXAMPLES[0].1).unwrap();
    let words = keksdose_shared::texts::words_for(&config, "de");
    let view = keksdose_widget::view::View::new(&config, "v", "de", &words);
    let site = keksdose_widget::site::Site::new(view.clone(), None, None);
    let markup = keksdose_widget::ssr::render(site).await;

    let before = document().create_element("button").unwrap();
    document().body().unwrap().append_child(&before).unwrap();
    let before: HtmlElement = before.unchecked_into();
    before.focus().unwrap();

    // What the loader does with the server's layer.
    let host = document().create_element("div").unwrap();
    document().body().unwrap().append_child(&host).unwrap();
    let root = host
        .attach_shadow(&web_sys::ShadowRootInit::new(web_sys::ShadowRootMode::Open))
        .unwrap();
    let early = document().create_element("div").unwrap();
    early.set_attribute("data-keksdose-banner", "").unwrap();
    early.set_inner_html(&markup);
    root.append_child(&early).unwrap();
    let reject: HtmlElement = root
        .query_selector("[data-action=reject_all]")
        .unwrap()
        .unwrap()
        .unchecked_into();
    reject.focus().unwrap();

    let decisions = Rc::new(RefCell::new(Vec::<Value>::new()));
    let on_decision = {
        let decisions = decisions.clone();
        Closure::<dyn FnMut(JsValue)>::new(move |event: JsValue| {
            let text = js_sys::JSON::stringify(&event)
                .unwrap()
                .as_string()
                .unwrap();
            decisions
                .borrow_mut()
                .push(serde_json::from_str(&text).unwrap());
        })
    };
    let options = js_sys::JSON::parse(&json!({"view": view, "focus": 3}).to_string()).unwrap();
    js_sys::Reflect::set(&options, &"returnFocus".into(), &before).unwrap();
    let _handle = keksdose_widget::mount(
        host.clone(),
        options,
        on_decision.into_js_value().unchecked_into(),
        Closure::<dyn FnMut()>::new(|| {})
            .into_js_value()
            .unchecked_into(),
    )
    .unwrap();
    yew::scheduler::flush().await;

    assert_eq!(
        root.query_selector_all("[role=dialog]").unwrap().length(),
        1
    );
    assert!(!early.is_connected(), "the server's layer is gone");
    let container = root
        .query_selector("[data-keksdose-banner]")
        .unwrap()
        .unwrap();
    assert!(!container.has_attribute("hidden"));
    assert!(
        container.has_attribute("data-takeover"),
        "no second slide-in"
    );
    let focused = root.active_element().expect("focus inside the banner");
    assert_eq!(
        focused.get_attribute("data-action").as_deref(),
        Some("reject_all")
    );

    let reject: HtmlElement = root
        .query_selector("[data-action=reject_all]")
        .unwrap()
        .unwrap()
        .unchecked_into();
    reject.click();
    yew::scheduler::flush().await;
    assert_eq!(decisions.borrow().len(), 1);
    assert_eq!(decisions.borrow()[0]["action"], "reject_all");
    let active = document().active_element().unwrap();
    assert_eq!(
        &active,
        before.unchecked_ref::<Element>(),
        "focus went back to where it was"
    );
    host.remove();
    before.remove();
}
