//! The visitor's own consent ID and the date of their decision, with a link to
//! their history (`GET /v1/consents/{id}`; the ID is the capability).

use yew::prelude::*;

use crate::site::SiteRef;

/// The visitor's consent ID and date, if the ledger acknowledged their decision.
pub fn consent_info(site: &SiteRef) -> Html {
    let t = &site.view.texts;
    let Some((stored, id)) = site
        .stored
        .as_ref()
        .and_then(|s| s.consent_id.as_ref().map(|id| (s, id)))
    else {
        return Html::default();
    };
    html! {
        <div class="kd-consent">
            <dl>
                <dt>{ &t.consent_id }</dt>
                <dd><code data-consent-id="">{ id }</code></dd>
                <dt>{ &t.consent_date }</dt>
                <dd>{ site.date(stored.decided_at) }</dd>
            </dl>
            if let Some(url) = site.history_url() {
                <p><a href={url} target="_blank" rel="noopener">{ &t.history }</a></p>
            }
        </div>
    }
}
