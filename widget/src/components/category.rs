//! One category in the settings: its name, switch (or "Immer aktiv" for the
//! necessary one), description, and a disclosure that lists its services.

use std::rc::Rc;

use keksdose_shared::config::NECESSARY;
use yew::prelude::*;

use super::service::ServiceItem;
use super::switch::{Switch, Target};
use crate::site::SiteRef;
use crate::state::{Msg, State};

#[derive(Properties, PartialEq)]
pub struct CategoryItemProps {
    pub site: SiteRef,
    pub id: AttrValue,
    pub state: Rc<State>,
    pub on_msg: Callback<Msg>,
}

#[component]
pub fn CategoryItem(props: &CategoryItemProps) -> Html {
    let site = &props.site;
    let t = &site.texts;
    let id = props.id.as_str();
    let Some(category) = site.view.categories.iter().find(|c| c.id == id) else {
        return Html::default();
    };
    let name_id = format!("kd-cat-{id}");
    let desc_id = format!("kd-cat-{id}-desc");
    let list_id = format!("kd-cat-{id}-services");
    let necessary = id == NECESSARY;
    let expanded = props.state.expanded_categories.contains(id);
    let services = &category.services;

    let toggle = {
        let (on_msg, id) = (props.on_msg.clone(), id.to_string());
        Callback::from(move |()| on_msg.emit(Msg::ToggleCategory(id.clone())))
    };
    let disclose = {
        let (on_msg, id) = (props.on_msg.clone(), id.to_string());
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
                { for services.iter().map(|s| html! {
                    <ServiceItem
                        key={s.id.clone()}
                        site={site.clone()}
                        id={AttrValue::from(s.id.clone())}
                        state={props.state.clone()}
                        on_msg={props.on_msg.clone()}
                    />
                }) }
            </ul>
        }
    });
    html! {
        <section class="kd-category" aria-labelledby={name_id.clone()}>
            <div class="kd-row">
                <h3 id={name_id.clone()}>{ &category.name }</h3>
                { always }
                <Switch
                    checked={props.state.category_on(id)}
                    labelledby={AttrValue::from(name_id)}
                    disabled={necessary}
                    target={Target::Category(props.id.clone())}
                    on_toggle={toggle}
                />
            </div>
            <p class="kd-muted" id={desc_id}>{ &category.description }</p>
            { disclosure }
            { list }
        </section>
    }
}
