//! The settings layer ("Cookie-Einstellungen"): every category with its switch and
//! services, the visitor's consent ID if they have one, and three equal buttons —
//! "Auswahl speichern", "Alle akzeptieren", "Nur Notwendige". Its close button
//! (and Escape) never decides: see [`Msg::Close`].

use std::rc::Rc;

use yew::prelude::*;

use super::category::CategoryItem;
use super::consent_info::ConsentInfo;
use crate::site::SiteRef;
use crate::state::{Msg, State};

#[derive(Properties, PartialEq)]
pub struct SettingsProps {
    pub site: SiteRef,
    pub state: Rc<State>,
    pub on_msg: Callback<Msg>,
}

#[component]
pub fn Settings(props: &SettingsProps) -> Html {
    let site = &props.site;
    let t = &site.texts;
    let send = |msg: Msg| props.on_msg.reform(move |_: MouseEvent| msg.clone());
    let categories = site.view.categories.iter().map(|c| {
        html! {
            <CategoryItem
                key={c.id.clone()}
                site={site.clone()}
                id={AttrValue::from(c.id.clone())}
                state={props.state.clone()}
                on_msg={props.on_msg.clone()}
            />
        }
    });
    let consent = site
        .stored
        .as_ref()
        .filter(|s| s.consent_id.is_some())
        .map(|_| html! { <ConsentInfo site={site.clone()} /> });
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
