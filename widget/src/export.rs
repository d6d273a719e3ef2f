//! The wasm-bindgen exports: [`mount`] and its [`Handle`] (documented at the crate
//! root), and [`wasm_memory_bytes`] for the benchmark. Everything here moves values
//! across the JavaScript boundary; the logic is in [`crate::options`],
//! [`crate::state`] and the components.

use std::rc::Rc;

use keksdose_shared::Decision;
use wasm_bindgen::prelude::*;
use web_sys::{Element, ShadowRootInit, ShadowRootMode};
use yew::{AppHandle, Callback, Renderer};

use crate::components::{Banner, BannerProps};
use crate::options::{self, DecisionEvent};
use crate::site::SiteRef;

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
    let json = js_sys::JSON::stringify(&options)?
        .as_string()
        .ok_or_else(|| js_sys::Error::new("keksdose: mount options must be an object"))?;
    let (site, layer) = options::parse(&json).map_err(|e| js_sys::Error::new(&e))?;

    let root = match host.shadow_root() {
        Some(root) => root,
        None => host.attach_shadow(&ShadowRootInit::new(ShadowRootMode::Open))?,
    };
    while let Some(child) = root.first_child() {
        root.remove_child(&child)?;
    }
    let document = host
        .owner_document()
        .ok_or_else(|| js_sys::Error::new("keksdose: host element has no document"))?;
    let container = document.create_element("div")?;
    container.set_attribute("data-keksdose-banner", "")?;
    root.append_child(&container)?;

    let site = SiteRef(Rc::new(site));
    let on_decision = {
        let site = site.clone();
        Callback::from(move |decision: Decision| {
            let event = DecisionEvent::new(&site, &decision);
            let result = serde_json::to_string(&event)
                .map_err(|e| JsValue::from_str(&e.to_string()))
                .and_then(|text| js_sys::JSON::parse(&text))
                .and_then(|value| on_decision.call1(&JsValue::NULL, &value));
            report(result);
        })
    };
    let on_close = Callback::from(move |()| report(on_close.call0(&JsValue::NULL)));
    let props = BannerProps {
        site,
        layer,
        on_decision,
        on_close,
    };
    let app = Renderer::<Banner>::with_root_and_props(container.clone(), props).render();
    Ok(Handle {
        app: Some(app),
        container,
    })
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

/// A callback that threw: the page's problem, but it must be visible.
fn report(result: Result<JsValue, JsValue>) {
    if let Err(e) = result {
        web_sys::console::error_2(&JsValue::from_str("keksdose: callback failed:"), &e);
    }
}
