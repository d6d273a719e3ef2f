//! One service in an expanded category: its name (a disclosure) and switch, and
//! when expanded everything a privacy policy says about it — provider and address,
//! description, purposes, legal basis, cookies with their lifetimes, privacy and
//! opt-out links, third-country transfers with their safeguard, fingerprinting.

use std::rc::Rc;

use keksdose_shared::config::{NECESSARY, Service};
use yew::prelude::*;

use super::switch::{Switch, Target};
use crate::site::SiteRef;
use crate::state::{Msg, State};
use crate::wording;

#[derive(Properties, PartialEq)]
pub struct ServiceItemProps {
    pub site: SiteRef,
    pub id: AttrValue,
    pub state: Rc<State>,
    pub on_msg: Callback<Msg>,
}

#[component]
pub fn ServiceItem(props: &ServiceItemProps) -> Html {
    let site = &props.site;
    let id = props.id.as_str();
    let Some(service) = site.config.service(id) else {
        return Html::default();
    };
    let t = &site.texts;
    let name_id = format!("kd-svc-{id}");
    let details_id = format!("kd-svc-{id}-details");
    let necessary = service.category == NECESSARY;
    let expanded = props.state.expanded_services.contains(id);

    let toggle = {
        let (on_msg, id) = (props.on_msg.clone(), id.to_string());
        Callback::from(move |()| on_msg.emit(Msg::ToggleService(id.clone())))
    };
    let disclose = {
        let (on_msg, id) = (props.on_msg.clone(), id.to_string());
        Callback::from(move |_: MouseEvent| on_msg.emit(Msg::ToggleServiceDetails(id.clone())))
    };
    let control = if necessary {
        html! { <span class="kd-always">{ &t.always_active }</span> }
    } else {
        html! {
            <Switch
                checked={props.state.service_on(id)}
                labelledby={AttrValue::from(name_id.clone())}
                target={Target::Service(props.id.clone())}
                on_toggle={toggle}
            />
        }
    };
    html! {
        <li class="kd-service">
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

fn details(site: &SiteRef, service: &Service) -> Html {
    let t = &site.texts;
    // A service without a provider is the site's own: the controller provides it.
    let provider = service
        .provider
        .as_ref()
        .unwrap_or(&site.config.site.controller);
    let purposes = (!service.purposes.is_empty()).then(|| {
        html! {
            <>
                <dt>{ &t.purposes }</dt>
                <dd><ul>{ for service.purposes.iter().map(|p| html! { <li>{ site.text(p) }</li> }) }</ul></dd>
            </>
        }
    });
    let cookies = (!service.cookies.is_empty()).then(|| {
        html! {
            <>
                <dt>{ &t.cookies }</dt>
                <dd><ul>{ for service.cookies.iter().map(|c| {
                    let mut kind = wording::storage(site, c.storage);
                    if let Some(domain) = &c.domain {
                        kind.push_str(", ");
                        kind.push_str(domain);
                    }
                    html! {
                        <li class="kd-cookie">
                            <code>{ &c.name }</code>{ format!(" ({kind}) · {}: {}", t.lifetime, wording::lifetime(site, &c.lifetime)) }
                            <br />{ site.text(&c.purpose) }
                        </li>
                    }
                }) }</ul></dd>
            </>
        }
    });
    let transfers = (!service.transfers.is_empty()).then(|| {
        html! {
            <>
                <dt>{ &t.transfer }</dt>
                <dd><ul>{ for service.transfers.iter().map(|tr| html! {
                    <li>{ format!("{}: {}", wording::country(site, &tr.country), wording::safeguard(site, tr.safeguard)) }</li>
                }) }</ul></dd>
            </>
        }
    });
    let links = [
        service
            .privacy_policy_url
            .as_ref()
            .map(|u| (u, &t.privacy_policy)),
        service.opt_out_url.as_ref().map(|u| (u, &t.opt_out)),
    ];
    html! {
        <>
            <p>{ site.text(&service.description) }</p>
            if service.fingerprinting {
                <p><strong>{ &t.fingerprinting }</strong></p>
            }
            <dl>
                <dt>{ &t.provider }</dt>
                <dd>{ &provider.name }<br />{ &provider.address }</dd>
                { purposes }
                <dt>{ &t.legal_basis }</dt>
                <dd>{ wording::legal_basis(site, service.legal_basis) }</dd>
                { cookies }
                if let Some(retention) = &service.retention {
                    <dt>{ &t.retention }</dt>
                    <dd>{ site.text(retention) }</dd>
                }
                { transfers }
            </dl>
            <p class="kd-links">
                { for links.into_iter().flatten().map(|(url, label)| html! {
                    <a href={url.clone()} target="_blank" rel="noopener">{ format!("{label} ({})", service.name) }</a>
                }) }
            </p>
        </>
    }
}
