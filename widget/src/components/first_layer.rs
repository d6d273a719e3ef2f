//! The first layer: title, short text, the links to the privacy policy and the
//! imprint, and three buttons of equal size and weight — "Alle akzeptieren", "Nur
//! Notwendige", "Einstellungen" share one class and one style. There is no close
//! button: closing is not a choice.

use yew::prelude::*;

use crate::site::SiteRef;
use crate::state::Msg;

/// The first layer of `site`'s banner; its buttons send to `on_msg`.
pub fn first_layer(site: &SiteRef, on_msg: &Callback<Msg>) -> Html {
    let t = &site.view.texts;
    let send = |msg: Msg| on_msg.reform(move |_: MouseEvent| msg.clone());
    html! {
        <>
            <div class="kd-head">
                <h2 id="kd-title">{ &t.title }</h2>
            </div>
            <div class="kd-body">
                <p id="kd-desc">{ &t.intro }</p>
                <p class="kd-links">
                    <a href={site.view.privacy_policy_url.clone()}
                        target="_blank" rel="noopener">{ &t.privacy_policy }</a>
                    <a href={site.view.imprint_url.clone()}
                        target="_blank" rel="noopener">{ &t.imprint }</a>
                </p>
            </div>
            <div class="kd-foot">
                <div class="kd-actions">
                    <button type="button" class="kd-btn" data-action="accept_all"
                        onclick={send(Msg::AcceptAll)}>{ &t.accept_all }</button>
                    <button type="button" class="kd-btn" data-action="reject_all"
                        onclick={send(Msg::RejectAll)}>{ &t.reject_all }</button>
                    <button type="button" class="kd-btn" data-action="settings"
                        onclick={send(Msg::OpenSettings)}>{ &t.settings }</button>
                </div>
            </div>
        </>
    }
}
