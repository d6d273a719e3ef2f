//! The first layer rendered on the server (feature `ssr`): the same [`Banner`]
//! the WASM mounts, rendered to HTML by yew's server renderer, so that the
//! server can send the first layer with the loader and the visitor sees it
//! before the WASM arrives (issue 13). The loader puts it into the shadow root
//! in a `<div data-keksdose-banner>`, as `mount` does, with the same
//! stylesheet. That layer stays until "Einstellungen": the WASM, loaded
//! meanwhile, then renders the settings beside it and takes its place
//! (`mount`'s `fromFirst` and `returnFocus`); the markup is the same as the
//! WASM's own first layer, which shows when those settings are closed.
//!
//! Not hydratable: hydration would cost the banner's WASM the code to walk and
//! claim server markup (measured: 302 → 340 KB raw, 128 → 144 KB gzip), and a
//! mismatch would stop it. The WASM renders afresh, hidden, and replaces the
//! server's layer in the same task. (`mount`'s `focus`, the focused control's
//! place kept when the WASM's first layer replaces the server's, is not used by
//! the loader since it replaces that layer only with the settings.)

use std::future::Future;
use std::pin::pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use yew::{Callback, LocalServerRenderer};

use crate::components::{Banner, BannerProps};
use crate::site::{Site, SiteRef};
use crate::state::Layer;

/// The banner's first layer for `site`, as the WASM renders it into its
/// container with an adopted stylesheet. Nothing in the banner suspends or
/// waits for IO, so on the server the render is done when first polled:
/// polled a few times all the same, in case yew's stream yields between chunks.
pub fn first_layer(site: Site) -> String {
    layer(site, Layer::First)
}

/// Either layer for `site`, rendered as [`first_layer`] is: the console shows a
/// consent's banner and settings as its visitor saw them (the settings with the
/// switches of `site.stored`).
pub fn layer(site: Site, layer: Layer) -> String {
    let mut render = pin!(render_layer(site, layer));
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..64 {
        if let Poll::Ready(html) = render.as_mut().poll(&mut cx) {
            return html;
        }
    }
    panic!("yew's server renderer did not finish the banner's first layer")
}

/// [`first_layer`], awaited: in a browser yew's renderer runs on the event loop.
pub async fn render(site: Site) -> String {
    render_layer(site, Layer::First).await
}

async fn render_layer(site: Site, layer: Layer) -> String {
    let props = BannerProps {
        site: SiteRef(Rc::new(site)),
        layer,
        on_decision: Callback::noop(),
        on_close: Callback::noop(),
        style_adopted: true,
        focus: None,
        from_first: false,
        return_focus: None,
        on_shown: Callback::from(|()| None),
    };
    LocalServerRenderer::<Banner>::with_props(props)
        .hydratable(false)
        .render()
        .await
}

#[cfg(test)]
mod tests {
    use keksdose_shared::SiteConfig;

    use super::*;

    #[test]
    fn the_first_layer_renders_with_its_texts_and_three_equal_buttons() {
        let config = SiteConfig::from_toml(include_str!("../../examples/sites/saas.toml")).unwrap();
        let words = keksdose_shared::texts::words_for(&config, "en");
        let view = crate::view::View::new(&config, "v1", "en", &words);
        let html = first_layer(Site::new(view, None, None));
        assert!(html.starts_with("<div class=\""), "{html}");
        assert!(html.contains("role=\"dialog\""), "{html}");
        assert!(html.contains("lang=\"en\""), "{html}");
        for action in ["accept_all", "reject_all", "settings"] {
            assert!(
                html.contains(&format!("data-action=\"{action}\" class=\"kd-btn\"")),
                "{action} in {html}"
            );
        }
        assert!(html.contains(">Accept all</button>"), "{html}");
        assert!(!html.contains("<style"), "{html}");
        assert!(!html.contains("<!--"), "not hydratable: {html}");
    }
}
