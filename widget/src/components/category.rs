//! One category in the settings: its name, switch (or "Immer aktiv" for the
//! necessary one), description, and a disclosure that lists its services.

use keksdose_shared::config::NECESSARY;
use yew::prelude::*;

use super::service::service;
use super::switch::{Target, switch};
use crate::site::SiteRef;
use crate::state::{Msg, State};
use crate::view::CategoryView;

/// One category of `site`'s view, switched as `state` says.
pub fn category(
    site: &SiteRef,
    category: &CategoryView,
    state: &State,
    on_msg: &Callback<Msg>,
) -> Html {
    let t = &site.view.texts;
    let id = category.id.as_str();
    let name_id = format!("kd-cat-{id}");
    let desc_id = format!("kd-cat-{id}-desc");
    let list_id = format!("kd-cat-{id}-services");
    let necessary = id == NECESSARY;
    let expanded = state.category_expanded(id);
    let services = &category.services;

    let toggle = {
        let (on_msg, id) = (on_msg.clone(), id.to_string());
        Callback::from(move |()| on_msg.emit(Msg::ToggleCategory(id.clone())))
    };
    let disclose = {
        let (on_msg, id) = (on_msg.clone(), id.to_string());
        Callback::from(move |_: MouseEvent| on_msg.emit(Msg::ToggleCategoryDetails(id.clone())))
    };
    let always = necessary.then(|| html! { <span class="kd-always">{ &t.always_active }</span> });
    let disclosure = (!services.is_empty()).then(|| {
        html! {
            <button type="button" class="kd-disclosure" aria-expanded={expanded.to_string()}
                aria-controls={expanded.then(|| list_id.clone())} onclick={disclose}>
                <span aria-hidden="true">{ if expanded { "▾ " } else { "▸ " } }</span>
                { format!("{} ({})", if expanded { &t.hide_services } else { &t.show_services }, services.len()) }
            </button>
        }
    });
    let list = (expanded && !services.is_empty()).then(|| {
        html! {
            <ul class="kd-services" id={list_id.clone()}>
                { for services.iter().map(|s| service(site, id, s, state, on_msg)) }
            </ul>
        }
    });
    html! {
        <section key={id.to_string()} class="kd-category" aria-labelledby={name_id.clone()}>
            <div class="kd-row">
                <h3 id={name_id.clone()}>{ &category.name }</h3>
                { always }
                { switch(
                    state.category_on(id),
                    name_id,
                    necessary,
                    Target::Category(AttrValue::from(id.to_string())),
                    toggle,
                ) }
            </div>
            <p class="kd-muted" id={desc_id}>{ &category.description }</p>
            { disclosure }
            { list }
        </section>
    }
}
