//! The wasm-bindgen exports: [`mount`] and its [`Handle`] (documented at the crate
//! root), and [`wasm_memory_bytes`] for the benchmark. Everything here moves values
//! across the JavaScript boundary; the logic is in [`crate::options`],
//! [`crate::state`] and the components.

use std::rc::Rc;

use js_sys::{Array, Object, Reflect};

use wasm_bindgen::prelude::*;
use web_sys::{CssStyleSheet, Element, HtmlElement, ShadowRoot, ShadowRootInit, ShadowRootMode};
use yew::{AppHandle, Callback, Renderer};

use crate::components::{Banner, BannerProps};
use crate::options::{self, DecisionEvent, Json, Node};
use crate::site::SiteRef;
use crate::state::{Decided, Flags, Layer};

/// A mounted banner.
#[wasm_bindgen]
pub struct Handle {
    app: Option<AppHandle<Banner>>,
    container: Element,
}

#[wasm_bindgen]
impl Handle {
    /// Removes the banner from its shadow root. Calling it again does nothing.
    pub fn unmount(&mut self) {
        if let Some(app) = self.app.take() {
            app.destroy();
        }
        self.container.remove();
    }
}

/// Mounts the banner into an open shadow root on `host`; see the crate docs.
#[wasm_bindgen]
pub fn mount(
    host: Element,
    options: JsValue,
    on_decision: js_sys::Function,
    on_close: js_sys::Function,
) -> Result<Handle, JsValue> {
    let (site, layer) = options::read(&options).map_err(|e| js_sys::Error::new(&e))?;

    // Taking over from the loader's server-rendered first layer: the control
    // focused there (its place among the controls Tab stops at) and where focus
    // came from.
    let focus = Reflect::get(&options, &"focus".into())
        .ok()
        .and_then(|v| v.as_f64())
        .filter(|i| i.fract() == 0.0 && (0.0..64.0).contains(i))
        .map(|i| i as usize);
    // The settings asked for on that layer ("Einstellungen"): closing them
    // shows the first layer, as it would in the banner's own first layer.
    let from_first = Reflect::get(&options, &"fromFirst".into())
        .ok()
        .is_some_and(|v| v.as_bool() == Some(true));
    let return_focus = Reflect::get(&options, &"returnFocus".into())
        .ok()
        .and_then(|v| v.dyn_into::<HtmlElement>().ok());

    let root = match host.shadow_root() {
        Some(root) => root,
        None => host.attach_shadow(&ShadowRootInit::new(ShadowRootMode::Open))?,
    };
    let document = host
        .owner_document()
        .ok_or_else(|| js_sys::Error::new("keksdose: host element has no document"))?;
    // Rendered hidden beside what the root holds (the server-rendered layer),
    // which goes only once the banner is there: `on_shown`, in the same task.
    let container = document.create_element("div")?;
    container.set_attribute("data-keksdose-banner", "")?;
    container.set_attribute("hidden", "")?;
    if root.has_child_nodes() {
        // In place of a layer already shown: no second slide-in.
        container.set_attribute("data-takeover", "")?;
    }
    root.append_child(&container)?;

    let site = SiteRef(Rc::new(site));
    let style_adopted = adopt(&root, &site.stylesheet);
    let on_shown = {
        let (root, container) = (root.clone(), container.clone());
        Callback::from(move |()| {
            // Unmounted before its first render (yew then still creates and
            // renders it, in the container taken out of the root): it shows
            // nothing and leaves the root to whoever is there now.
            if !container
                .parent_node()
                .is_some_and(|parent| parent.is_same_node(Some(&root)))
            {
                return None;
            }
            // Where the visitor's focus is in the layer replaced, now: they may
            // have moved it (Tab) since the loader called `mount`. `None` when
            // that layer does not have it; `Some(None)` for its dialog itself.
            // The layer replaced is a first layer: a place among its controls
            // names none of the settings' ("Einstellungen" pressed there by
            // keyboard), which start with their dialog focused.
            let focused = (layer == Layer::First)
                .then(|| root.active_element())
                .flatten()
                .and_then(|active| {
                    let dialog = active.closest("[role=dialog]").ok().flatten()?;
                    if container.contains(Some(&dialog)) {
                        return None;
                    }
                    Some(if active.is_same_node(Some(&dialog)) {
                        None
                    } else {
                        crate::focus::index_of(&dialog, &active)
                    })
                });
            let mut child = root.first_child();
            while let Some(node) = child {
                child = node.next_sibling();
                if node != *container {
                    let _ = root.remove_child(&node);
                }
            }
            let _ = container.remove_attribute("hidden");
            focused
        })
    };
    let on_decision = {
        let site = site.clone();
        Callback::from(move |decision: Decided| {
            let event = DecisionEvent::new(&site, &decision);
            let result =
                event_object(&event).and_then(|value| on_decision.call1(&JsValue::NULL, &value));
            report(result);
        })
    };
    let on_close = Callback::from(move |()| report(on_close.call0(&JsValue::NULL)));
    let props = BannerProps {
        site,
        layer,
        on_decision,
        on_close,
        style_adopted,
        focus,
        from_first,
        return_focus,
        on_shown,
    };
    let app = Renderer::<Banner>::with_root_and_props(container.clone(), props).render();
    Ok(Handle {
        app: Some(app),
        container,
    })
}

/// Gives `root` the banner's stylesheet as a constructed one (`adoptedStyleSheets`):
/// no `<style>` element, so that a host page whose Content Security Policy has
/// no `'unsafe-inline'` in `style-src` still applies it. False where the browser
/// cannot construct stylesheets (Safari before 16.4): the banner renders a
/// `<style>` then.
fn adopt(root: &ShadowRoot, css: &str) -> bool {
    let Ok(sheet) = CssStyleSheet::new() else {
        return false;
    };
    if sheet.replace_sync(css).is_err() {
        return false;
    }
    root.set_adopted_style_sheets(&Array::of1(&sheet));
    true
}

/// The current size of the WASM linear memory in bytes, for the benchmark to read
/// after the banner shows. Memory only grows, so this is also its high-water mark.
#[wasm_bindgen(js_name = wasmMemoryBytes)]
pub fn wasm_memory_bytes() -> u32 {
    wasm_bindgen::memory()
        .unchecked_into::<js_sys::WebAssembly::Memory>()
        .buffer()
        .unchecked_into::<js_sys::ArrayBuffer>()
        .byte_length()
}

/// A JavaScript value as [`options::read`] reads it, with what `JSON.stringify`
/// would keep: in objects, `undefined` and function values are left out; in
/// arrays they become `null`, as do numbers that are not finite.
impl Json for JsValue {
    fn node(&self) -> Node<JsValue> {
        if let Some(s) = self.as_string() {
            Node::String(s)
        } else if let Some(b) = self.as_bool() {
            Node::Bool(b)
        } else if let Some(n) = self.as_f64() {
            if n.is_finite() {
                Node::Number(n)
            } else {
                Node::Null
            }
        } else if Array::is_array(self) {
            let items = Array::from(self);
            Node::Array(
                items
                    .iter()
                    .map(|item| if dropped(&item) { JsValue::NULL } else { item })
                    .collect(),
            )
        } else if self.is_object() && !self.is_function() {
            let mut fields = Vec::new();
            for entry in Object::entries(self.unchecked_ref()).iter() {
                let entry = Array::from(&entry);
                let item = entry.get(1);
                if !dropped(&item) {
                    fields.push((entry.get(0).as_string().unwrap_or_default(), item));
                }
            }
            Node::Object(fields)
        } else {
            Node::Null
        }
    }
}

/// What `JSON.stringify` leaves out of objects.
fn dropped(value: &JsValue) -> bool {
    value.is_undefined() || value.is_function()
}

/// The decision event as the plain object `onDecision` receives (see the crate
/// docs), built directly rather than through a serialiser: serde's machinery for
/// one object of flags and strings would cost the banner kilobytes.
fn event_object(event: &DecisionEvent) -> Result<JsValue, JsValue> {
    object(&[
        ("action", event.action.into()),
        ("categories", flags(event.categories)?),
        ("services", flags(event.services)?),
        ("configVersion", event.config_version.into()),
        ("lang", event.lang.into()),
    ])
}

/// `{id: true|false, …}`.
fn flags(flags: &Flags) -> Result<JsValue, JsValue> {
    let out = Object::new();
    for (id, on) in &flags.0 {
        Reflect::set(&out, &id.into(), &(*on).into())?;
    }
    Ok(out.into())
}

fn object(fields: &[(&str, JsValue)]) -> Result<JsValue, JsValue> {
    let out = Object::new();
    for (key, value) in fields {
        Reflect::set(&out, &(*key).into(), value)?;
    }
    Ok(out.into())
}

/// A callback that threw: the page's problem, but it must be visible.
fn report(result: Result<JsValue, JsValue>) {
    if let Err(e) = result {
        web_sys::console::error_2(&JsValue::from_str("keksdose: callback failed:"), &e);
    }
}
