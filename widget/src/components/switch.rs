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

/// The switch for `target`, named by the element with the id `labelledby`;
/// `disabled` locks it (necessary services: shown on, cannot be changed).
pub fn switch(
    checked: bool,
    labelledby: String,
    disabled: bool,
    target: Target,
    on_toggle: Callback<()>,
) -> Html {
    let onclick = on_toggle.reform(|_: MouseEvent| ());
    let (category, service) = match target {
        Target::Category(id) => (Some(id), None),
        Target::Service(id) => (None, Some(id)),
    };
    html! {
        <button
            type="button"
            role="switch"
            class="kd-switch"
            aria-checked={if checked { "true" } else { "false" }}
            aria-labelledby={labelledby}
            disabled={disabled}
            data-category={category}
            data-service={service}
            {onclick}
        />
    }
}
