//! The settings layer ("Cookie-Einstellungen"): every category with its switch and
//! services, the visitor's consent ID if they have one, and three equal buttons —
//! "Auswahl speichern", "Alle akzeptieren", "Nur Notwendige". Its close button
//! (and Escape) never decides: see [`Msg::Close`].

use yew::prelude::*;

use super::category::category;
use super::consent_info::consent_info;
use crate::site::SiteRef;
use crate::state::{Msg, State};

/// The settings of `site`'s banner with the switches of `state`; every
/// button and switch sends to `on_msg`.
pub fn settings(site: &SiteRef, state: &State, on_msg: &Callback<Msg>) -> Html {
    let t = &site.view.texts;
    let send = |msg: Msg| on_msg.reform(move |_: MouseEvent| msg.clone());
    let categories = site
        .view
        .categories
        .iter()
        .map(|c| category(site, c, state, on_msg));
    let consent = consent_info(site);
    html! {
        <>
            <div class="kd-head">
                <h2 id="kd-title">{ &t.settings_title }</h2>
                <button type="button" class="kd-close" aria-label={t.close.clone()}
                    title={t.close.clone()} onclick={send(Msg::Close)}>
                    <span aria-hidden="true">{ "×" }</span>
                </button>
            </div>
            <div class="kd-body">
                <p id="kd-desc">{ &t.settings_intro }</p>
                <p class="kd-links">
                    <a href={site.view.privacy_policy_url.clone()}
                        target="_blank" rel="noopener">{ &t.privacy_policy }</a>
                    <a href={site.view.imprint_url.clone()}
                        target="_blank" rel="noopener">{ &t.imprint }</a>
                    <span class="kd-muted">{ &site.view.policy }</span>
                </p>
                { for categories }
                { consent }
            </div>
            <div class="kd-foot">
                <div class="kd-actions">
                    <button type="button" class="kd-btn" data-action="save"
                        onclick={send(Msg::Save)}>{ &t.save }</button>
                    <button type="button" class="kd-btn" data-action="accept_all"
                        onclick={send(Msg::AcceptAll)}>{ &t.accept_all }</button>
                    <button type="button" class="kd-btn" data-action="reject_all"
                        onclick={send(Msg::RejectAll)}>{ &t.reject_all }</button>
                </div>
            </div>
        </>
    }
}
