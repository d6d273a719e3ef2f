//! An on/off switch: a real `<button role="switch" aria-checked>`, so Enter and
//! Space operate it and screen readers announce its state. Its name comes from the
//! element `labelledby` points at (the category's heading, the service's name).

use yew::prelude::*;

/// What a switch stands for; rendered as `data-category` or `data-service`, so
/// that tests and the loader's tests find a switch by id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Category(AttrValue),
    Service(AttrValue),
}

#[derive(Properties, PartialEq)]
pub struct SwitchProps {
    pub checked: bool,
    /// Id of the element that names the switch.
    pub labelledby: AttrValue,
    /// Locked (necessary services): shown on, cannot be changed.
    #[prop_or_default]
    pub disabled: bool,
    pub target: Target,
    #[prop_or_default]
    pub on_toggle: Callback<()>,
}

#[component]
pub fn Switch(props: &SwitchProps) -> Html {
    let onclick = props.on_toggle.reform(|_: MouseEvent| ());
    let (category, service) = match &props.target {
        Target::Category(id) => (Some(id.clone()), None),
        Target::Service(id) => (None, Some(id.clone())),
    };
    html! {
        <button
            type="button"
            role="switch"
            class="kd-switch"
            aria-checked={if props.checked { "true" } else { "false" }}
            aria-labelledby={props.labelledby.clone()}
            disabled={props.disabled}
            data-category={category}
            data-service={service}
            {onclick}
        />
    }
}
