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
    let categories = site.config.categories().into_iter().map(|c| {
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
                    <a href={site.text(&site.config.site.privacy_policy_url).to_string()}
                        target="_blank" rel="noopener">{ &t.privacy_policy }</a>
                    <a href={site.text(&site.config.site.imprint_url).to_string()}
                        target="_blank" rel="noopener">{ &t.imprint }</a>
                    <span class="kd-muted">{ policy_version(&site.config.site.policy_version, &t.policy_version) }
                        { for site.config.site.policy_valid_from.as_deref()
                            .and_then(|d| keksdose_shared::time::parse_rfc3339(&format!("{d}T00:00:00Z")))
                            .map(|ms| format!(" · {} {}", t.valid_from, crate::wording::date(site, ms / 1000))) }</span>
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

/// The privacy policy's version under the banner's own label ("Stand: …",
/// "Version: …"): a label the site wrote in front of it ("Stand: 01.06.2024") is
/// dropped, so that an English banner does not say "Stand".
fn policy_version(value: &str, label: &str) -> String {
    let bare = ["Stand:", "Version:", "Stand", "Version"]
        .iter()
        .find_map(|p| value.strip_prefix(p))
        .unwrap_or(value)
        .trim();
    format!("{label}: {bare}")
}

#[cfg(test)]
mod tests {
    use super::policy_version;

    #[test]
    fn the_policy_version_carries_the_banners_label() {
        assert_eq!(
            policy_version("Stand: 01.06.2024", "Version"),
            "Version: 01.06.2024"
        );
        assert_eq!(policy_version("01.06.2024", "Stand"), "Stand: 01.06.2024");
        assert_eq!(policy_version("v3 (2025)", "Version"), "Version: v3 (2025)");
    }
}
