//! The dialog root: owns the [`State`], renders the stylesheet (unless the shadow
//! root adopted it) and the open layer inside `role="dialog"` (`aria-modal`, named
//! by the layer's title, described by its text), manages focus, and hands the
//! outcome to its callbacks.
//!
//! The dialog is focused on mount (the dialog itself, not a button, so that no
//! answer is preselected and a screen reader starts with the title), Tab is
//! trapped inside, Escape closes only where closing is allowed (see
//! [`Msg::Close`]), and on the way out focus returns to where it was.

use web_sys::{Element, HtmlElement};
use yew::prelude::*;

use super::first_layer::first_layer;
use super::settings::settings;
use crate::focus;
use crate::site::SiteRef;
use crate::state::{Decided, Layer, Msg, Outcome, State};

#[derive(Properties, PartialEq)]
pub struct BannerProps {
    pub site: SiteRef,
    /// The layer to open with.
    pub layer: Layer,
    /// The visitor decided.
    pub on_decision: Callback<Decided>,
    /// The visitor closed the settings they had reopened, without a new decision.
    pub on_close: Callback<()>,
    /// The shadow root has the stylesheet already (`adoptedStyleSheets`, which a
    /// strict Content Security Policy allows): no `<style>` element is rendered.
    #[prop_or_default]
    pub style_adopted: bool,
    /// Taking over from the server-rendered first layer (the same markup): the
    /// control the visitor had focused there, as its place among the controls Tab
    /// stops at, keeps the focus (else the dialog gets it, as on a fresh mount).
    #[prop_or_default]
    pub focus: Option<usize>,
    /// The settings opened from a first layer ("Einstellungen" on the loader's
    /// server-rendered one): closing them shows the first layer, also over an
    /// earlier decision (a renewal's), instead of closing the banner.
    #[prop_or_default]
    pub from_first: bool,
    /// Where focus returns at the end, when it is not where the page's focus is
    /// now (the loader's first layer had it, and remembered where it came from).
    #[prop_or_default]
    pub return_focus: Option<HtmlElement>,
    /// Called once the banner is in the DOM, before it takes the focus: `mount`
    /// removes the server-rendered layer then, in the same task (no flash), and
    /// says where the focus is in it now (`Some(None)`: its dialog; `None`: not
    /// in it), which then wins over `focus`.
    #[prop_or(Callback::from(|()| None))]
    pub on_shown: Callback<(), Option<Option<usize>>>,
}

#[component]
pub fn Banner(props: &BannerProps) -> Html {
    let site = props.site.clone();
    let state = {
        let (site, layer, from_first) = (site.clone(), props.layer, props.from_first);
        use_reducer_eq(move || {
            let mut state = State::new(&site.view, site.stored.as_ref(), layer);
            // Asked for on a first layer: closing goes back to one, whatever
            // was decided before (a renewal's first layer cannot be closed).
            state.reopened &= !from_first;
            state
        })
    };
    let dialog = use_node_ref();
    let previous_focus = use_mut_ref(|| None::<HtmlElement>);
    let captured = use_mut_ref(|| false);

    // Focus the dialog on mount and whenever the layer changes (the control that
    // had focus is gone then); remember the page's focus the first time. Taking
    // over a server-rendered layer, the control focused there keeps the focus.
    {
        let (dialog, previous_focus) = (dialog.clone(), previous_focus.clone());
        let (on_shown, return_focus) = (props.on_shown.clone(), props.return_focus.clone());
        let mut keep = props.focus;
        use_effect_with(state.layer, move |_| {
            if !captured.replace(true) {
                // The focus as it is in the layer just replaced wins over where
                // it was when `mount` was called.
                if let Some(now) = on_shown.emit(()) {
                    keep = now;
                }
                *previous_focus.borrow_mut() = return_focus.or_else(focus::page_focus);
            }
            let Some(el) = dialog.cast::<HtmlElement>() else {
                return;
            };
            let control = keep.take().and_then(|index| focus::control(&el, index));
            focus::focus(control.as_ref().unwrap_or(&el));
        });
    }
    // The end: focus goes back, then the outcome is handed over (the loader may
    // unmount us in its callback).
    {
        let (on_decision, on_close) = (props.on_decision.clone(), props.on_close.clone());
        use_effect_with(state.outcome.clone(), move |outcome| {
            if outcome.is_some() {
                focus::restore(previous_focus.borrow_mut().take());
            }
            match outcome {
                Some(Outcome::Decided(decision)) => on_decision.emit(decision.clone()),
                Some(Outcome::Closed) => on_close.emit(()),
                None => {}
            }
        });
    }

    let on_msg = {
        let state = state.clone();
        Callback::from(move |msg: Msg| state.dispatch(msg))
    };
    let onkeydown = {
        let (state, dialog) = (state.clone(), dialog.clone());
        Callback::from(move |e: KeyboardEvent| match e.key().as_str() {
            "Escape" => state.dispatch(Msg::Close),
            "Tab" => {
                if let Some(el) = dialog.cast::<HtmlElement>() {
                    focus::trap(&el, &e);
                }
            }
            _ => {}
        })
    };
    // A press on the backdrop must not move focus out of the dialog.
    let onmousedown = Callback::from(|e: MouseEvent| {
        let on_backdrop = e
            .target_dyn_into::<Element>()
            .and_then(|t| t.get_attribute("class"))
            .is_some_and(|c| c.starts_with("kd-backdrop"));
        if on_backdrop {
            e.prevent_default();
        }
    });

    let style = if props.style_adopted {
        Html::default()
    } else {
        html! { <style>{ site.stylesheet.clone() }</style> }
    };
    if state.outcome.is_some() {
        return style;
    }
    let (layer_class, body) = match state.layer {
        Layer::First => ("kd-first", first_layer(&site, &on_msg)),
        Layer::Settings => ("kd-settings", settings(&site, &state, &on_msg)),
    };
    let mut root = site.view.classes.clone();
    root.push_str(if state.layer == Layer::First {
        " kd-layer-first"
    } else {
        " kd-layer-settings"
    });
    html! {
        <>
            { style }
            <div class={root} {onmousedown}>
                <div
                    ref={dialog}
                    class={classes!("kd-dialog", layer_class)}
                    role="dialog"
                    aria-modal="true"
                    aria-labelledby="kd-title"
                    aria-describedby="kd-desc"
                    lang={site.view.lang.clone()}
                    tabindex="-1"
                    {onkeydown}
                >
                    { body }
                </div>
            </div>
        </>
    }
}
