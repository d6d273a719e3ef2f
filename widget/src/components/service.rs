//! One service in an expanded category: its name (a disclosure) and switch, and
//! when expanded everything a privacy policy says about it — provider and address,
//! description, purposes, legal basis, cookies with their lifetimes, privacy and
//! opt-out links, third-country transfers with their safeguard, fingerprinting.

use keksdose_shared::config::NECESSARY;
use yew::prelude::*;

use super::switch::{Target, switch};
use crate::site::SiteRef;
use crate::state::{Msg, State};
use crate::view::ServiceView;

/// One service of the category `category`, switched as `state` says.
pub fn service(
    site: &SiteRef,
    category: &str,
    service: &ServiceView,
    state: &State,
    on_msg: &Callback<Msg>,
) -> Html {
    let id = service.id.as_str();
    let t = &site.view.texts;
    let name_id = format!("kd-svc-{id}");
    let details_id = format!("kd-svc-{id}-details");
    let necessary = category == NECESSARY;
    let expanded = state.service_expanded(id);

    let toggle = {
        let (on_msg, id) = (on_msg.clone(), id.to_string());
        Callback::from(move |()| on_msg.emit(Msg::ToggleService(id.clone())))
    };
    let disclose = {
        let (on_msg, id) = (on_msg.clone(), id.to_string());
        Callback::from(move |_: MouseEvent| on_msg.emit(Msg::ToggleServiceDetails(id.clone())))
    };
    let control = if necessary {
        html! { <span class="kd-always">{ &t.always_active }</span> }
    } else {
        switch(
            state.service_on(id),
            name_id.clone(),
            false,
            Target::Service(AttrValue::from(id.to_string())),
            toggle,
        )
    };
    html! {
        <li key={id.to_string()} class="kd-service">
            <div class="kd-row">
                <div>
                    <button type="button" class="kd-disclosure" aria-expanded={expanded.to_string()}
                        aria-controls={expanded.then(|| details_id.clone())} onclick={disclose}>
                        <span aria-hidden="true">{ if expanded { "▾ " } else { "▸ " } }</span>
                        <span id={name_id}>{ &service.name }</span>
                    </button>
                </div>
                { control }
            </div>
            if expanded {
                <div class="kd-details" id={details_id}>
                    { details(site, service) }
                </div>
            }
        </li>
    }
}

fn details(site: &SiteRef, service: &ServiceView) -> Html {
    let t = &site.view.texts;
    let list = |label: &String, items: &[String]| {
        (!items.is_empty()).then(|| {
            html! {
                <>
                    <dt>{ label }</dt>
                    <dd><ul>{ for items.iter().map(|item| html! { <li>{ item }</li> }) }</ul></dd>
                </>
            }
        })
    };
    let cookies = (!service.cookies.is_empty()).then(|| {
        html! {
            <>
                <dt>{ &t.cookies }</dt>
                <dd><ul>{ for service.cookies.iter().map(|c| html! {
                    <li class="kd-cookie">
                        <code>{ &c.name }</code>{ &c.note }
                        <br />{ &c.purpose }
                    </li>
                }) }</ul></dd>
            </>
        }
    });
    html! {
        <>
            <p>{ &service.description }</p>
            if service.fingerprinting {
                <p><strong>{ &t.fingerprinting }</strong></p>
            }
            <dl>
                <dt>{ &t.provider }</dt>
                <dd>{ &service.provider }<br />{ &service.address }</dd>
                { list(&t.purposes, &service.purposes) }
                <dt>{ &t.legal_basis }</dt>
                <dd>{ &service.legal_basis }</dd>
                { cookies }
                if let Some(retention) = &service.retention {
                    <dt>{ &t.retention }</dt>
                    <dd>{ retention }</dd>
                }
                { list(&t.transfer, &service.transfers) }
            </dl>
            <p class="kd-links">
                { for service.links.iter().map(|link| html! {
                    <a href={link.url.clone()} target="_blank" rel="noopener">{ &link.label }</a>
                }) }
            </p>
        </>
    }
}
