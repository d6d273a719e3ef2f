//! Focus while the dialog is open: moved in on mount, kept in by Tab and
//! Shift-Tab, handed back on close to the element that had it before.
//!
//! The dialog lives in a shadow root, so "what has focus" is asked of the shadow
//! root (`document.activeElement` would only name our host element).

use wasm_bindgen::JsCast;
use web_sys::{Element, HtmlElement, KeyboardEvent, ShadowRoot};

/// What Tab may land on inside the dialog. Collapsed details are not rendered at
/// all, so everything matched is visible.
const TABBABLE: &str = "a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex=\"-1\"])";

/// The element that has focus in the page (outside our shadow root), to return
/// focus to later.
pub fn page_focus() -> Option<HtmlElement> {
    web_sys::window()?
        .document()?
        .active_element()?
        .dyn_into::<HtmlElement>()
        .ok()
}

/// Focus `el` without scrolling the page.
pub fn focus(el: &HtmlElement) {
    let options = web_sys::FocusOptions::new();
    options.set_prevent_scroll(true);
    // Focusing can only fail on a detached element; then there is nothing to do.
    let _ = el.focus_with_options(&options);
}

/// The `index`th control of `dialog` that Tab stops at, in document order.
pub fn control(dialog: &HtmlElement, index: usize) -> Option<HtmlElement> {
    tabbables(dialog).into_iter().nth(index)
}

/// Where `el` is among `dialog`'s controls Tab stops at (the inverse of [`control`]).
pub fn index_of(dialog: &Element, el: &Element) -> Option<usize> {
    tabbables(dialog)
        .iter()
        .position(|t| t.is_same_node(Some(el)))
}

/// Return focus to `el` if it is still in the document.
pub fn restore(el: Option<HtmlElement>) {
    if let Some(el) = el.filter(|e| e.is_connected()) {
        focus(&el);
    }
}

fn active_in(dialog: &Element) -> Option<Element> {
    dialog
        .get_root_node()
        .dyn_into::<ShadowRoot>()
        .ok()
        .and_then(|root| root.active_element())
        .or_else(|| web_sys::window()?.document()?.active_element())
}

fn tabbables(dialog: &Element) -> Vec<HtmlElement> {
    let Ok(list) = dialog.query_selector_all(TABBABLE) else {
        return Vec::new();
    };
    (0..list.length())
        .filter_map(|i| list.item(i)?.dyn_into::<HtmlElement>().ok())
        .collect()
}

/// On Tab: wrap from the last control to the first, on Shift-Tab from the first
/// (or the dialog itself) to the last, and pull focus back in if it got out.
pub fn trap(dialog: &HtmlElement, event: &KeyboardEvent) {
    let items = tabbables(dialog);
    let (Some(first), Some(last)) = (items.first(), items.last()) else {
        event.prevent_default();
        return;
    };
    let active = active_in(dialog);
    let is = |el: &HtmlElement| {
        active
            .as_ref()
            .is_some_and(|a| a == el.unchecked_ref::<Element>())
    };
    let inside = active
        .as_ref()
        .is_some_and(|a| dialog.contains(Some(a)) && a != dialog.unchecked_ref::<Element>());
    let target = if event.shift_key() {
        (!inside || is(first)).then_some(last)
    } else {
        (!inside || is(last)).then_some(first)
    };
    if let Some(target) = target {
        event.prevent_default();
        focus(target);
    }
}
