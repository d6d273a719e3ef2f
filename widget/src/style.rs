//! The banner's look: one stylesheet ([`CSS`]) inside our shadow root, so that the
//! host page's CSS neither reaches in nor is touched, plus the few custom
//! properties a site config sets ([`variables`]).
//!
//! The default theme meets WCAG AA: body text is at least 7:1 on its background,
//! and the accent colour is checked here, not trusted: the text on accent buttons
//! is white or near-black, whichever contrasts more, and links fall back to the
//! text colour when the accent would fall under 4.5:1. The banner overlays the page
//! (`position: fixed`), so the page never shifts; its own privacy and imprint links
//! are inside it and never covered.

use keksdose_shared::config::{Appearance, Position, Theme};

/// The rules the first layer needs: all the server's first layer carries
/// (`/s/{site}/k.js`), before the banner's WASM brings the whole [`CSS`].
macro_rules! first_layer_css {
    () => {
        r#"
:host { all: initial; }
.kd-backdrop {
  --kd-bg: #ffffff; --kd-surface: #f3f4f6; --kd-text: #111827; --kd-muted: #4b5563;
  --kd-border: #d1d5db; --kd-off: #6b7280; --kd-link: var(--kd-link-light);
  position: fixed; inset: 0; z-index: 2147483647;
  display: flex; padding: 1rem; box-sizing: border-box;
  background: rgba(17, 24, 39, 0.35);
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  color: var(--kd-text); text-align: left; -webkit-text-size-adjust: 100%;
}
.kd-theme-dark {
  --kd-bg: #111827; --kd-surface: #1f2937; --kd-text: #f9fafb; --kd-muted: #d1d5db;
  --kd-border: #4b5563; --kd-off: #9ca3af; --kd-link: var(--kd-link-dark);
}
@media (prefers-color-scheme: dark) {
  .kd-theme-auto {
    --kd-bg: #111827; --kd-surface: #1f2937; --kd-text: #f9fafb; --kd-muted: #d1d5db;
    --kd-border: #4b5563; --kd-off: #9ca3af; --kd-link: var(--kd-link-dark);
  }
}
.kd-backdrop *, .kd-backdrop *::before, .kd-backdrop *::after { box-sizing: border-box; }
.kd-pos-bottom { align-items: flex-end; justify-content: center; }
.kd-pos-top { align-items: flex-start; justify-content: center; }
.kd-pos-center { align-items: center; justify-content: center; }
.kd-pos-bottom-left { align-items: flex-end; justify-content: flex-start; }
.kd-pos-bottom-right { align-items: flex-end; justify-content: flex-end; }
.kd-dialog {
  display: flex; flex-direction: column; width: 100%; max-width: 60rem;
  max-height: calc(100vh - 2rem); max-height: calc(100dvh - 2rem);
  background: var(--kd-bg); color: var(--kd-text);
  border: 1px solid var(--kd-border); border-radius: 0.75rem;
  box-shadow: 0 10px 40px rgba(0, 0, 0, 0.3);
  animation: kd-in 0.2s ease-out;
}
.kd-dialog:focus { outline: none; }
.kd-pos-center .kd-dialog { max-width: 40rem; }
.kd-pos-bottom-left .kd-dialog, .kd-pos-bottom-right .kd-dialog { max-width: 28rem; }
@keyframes kd-in { from { transform: translateY(0.5rem); } to { transform: none; } }
@media (prefers-reduced-motion: reduce) {
  .kd-dialog, .kd-switch, .kd-switch::after, .kd-btn::after { animation: none; transition: none; }
}
.kd-head { display: flex; align-items: flex-start; gap: 1rem; padding: 1.25rem 1.25rem 0; }
.kd-head h2 { flex: 1; }
.kd-body { padding: 0.5rem 1.25rem 0; overflow: auto; }
.kd-foot { padding: 1rem 1.25rem 1.25rem; }
h2 { margin: 0; font-size: 1.25rem; line-height: 1.3; font-weight: 700; }
p { margin: 0.5rem 0; }
a { color: var(--kd-link); text-decoration: underline; text-underline-offset: 2px; }
a:hover { text-decoration-thickness: 2px; }
.kd-links { display: flex; flex-wrap: wrap; gap: 0.25rem 1rem; margin: 0.5rem 0 0; }
.kd-actions {
  display: grid; grid-template-columns: repeat(3, minmax(0, 1fr)); gap: 0.5rem;
}
.kd-pos-bottom-left .kd-first .kd-actions, .kd-pos-bottom-right .kd-first .kd-actions {
  grid-template-columns: minmax(0, 1fr);
}
@media (max-width: 40rem) {
  .kd-backdrop { padding: 0.5rem; }
  .kd-actions { grid-template-columns: minmax(0, 1fr); }
  .kd-head { padding: 1rem 1rem 0; }
  .kd-body { padding: 0.5rem 1rem 0; }
  .kd-foot { padding: 0.75rem 1rem 1rem; }
}
button { font: inherit; color: inherit; cursor: pointer; }
.kd-btn {
  display: flex; align-items: center; justify-content: center; min-height: 2.75rem; margin: 0;
  padding: 0.625rem 1rem; border: 2px solid var(--kd-accent); border-radius: 0.5rem;
  background: var(--kd-accent); color: var(--kd-on-accent);
  font-size: 1rem; font-weight: 600; line-height: 1.25; text-align: center;
}
.kd-btn:hover { filter: brightness(1.08); }
.kd-btn[aria-busy="true"] { cursor: progress; }
.kd-btn[aria-busy="true"]::after {
  content: ""; flex: none; width: 0.875rem; height: 0.875rem; margin-inline-start: 0.5rem;
  border: 2px solid currentColor; border-right-color: transparent; border-radius: 50%;
  animation: kd-spin 0.8s linear infinite;
}
@keyframes kd-spin { to { transform: rotate(360deg); } }
[data-takeover] .kd-dialog { animation: none; }
:focus-visible { outline: 3px solid var(--kd-text); outline-offset: 2px; }
.kd-foot .kd-actions { margin-top: 0; }
"#
    };
}

/// The rules the first layer needs ([`CSS`] begins with them).
pub const FIRST_LAYER_CSS: &str = first_layer_css!();

/// The stylesheet: the first layer's rules, then the settings'. Colours come
/// from the custom properties that [`variables`] sets.
pub const CSS: &str = concat!(
    first_layer_css!(),
    r#".kd-layer-settings { align-items: center; justify-content: center; }
.kd-layer-settings .kd-dialog { max-width: 46rem; }
h3 { margin: 0; font-size: 1rem; font-weight: 700; }
h4 { margin: 0.75rem 0 0.25rem; font-size: 0.9375rem; font-weight: 700; }
ul { margin: 0.25rem 0; padding-left: 1.25rem; }
dl { margin: 0.25rem 0; }
dt { font-weight: 700; margin-top: 0.5rem; }
dd { margin: 0; }
.kd-muted { color: var(--kd-muted); font-size: 0.875rem; }
.kd-close {
  flex: none; width: 2.75rem; height: 2.75rem; margin: -0.5rem -0.5rem 0 0; padding: 0;
  border: 0; border-radius: 0.5rem; background: transparent; font-size: 1.5rem; line-height: 1;
}
.kd-close:hover { background: var(--kd-surface); }
.kd-category { border-top: 1px solid var(--kd-border); padding: 0.75rem 0; }
.kd-category:first-of-type { border-top: 0; }
.kd-row { display: flex; align-items: center; gap: 0.75rem; }
.kd-row > :first-child { flex: 1; min-width: 0; }
.kd-always { font-size: 0.875rem; font-weight: 600; color: var(--kd-muted); white-space: nowrap; }
.kd-switch {
  position: relative; flex: none; width: 3rem; height: 1.75rem; margin: 0; padding: 0;
  border: 2px solid var(--kd-off); border-radius: 1rem; background: var(--kd-off);
  transition: background 0.15s;
}
.kd-switch::after {
  content: ""; position: absolute; top: 0.125rem; left: 0.125rem;
  width: 1.25rem; height: 1.25rem; border-radius: 50%; background: #ffffff;
  transition: transform 0.15s;
}
.kd-switch[aria-checked="true"] { background: var(--kd-accent); border-color: var(--kd-accent); }
.kd-switch[aria-checked="true"]::after { transform: translateX(1.25rem); }
.kd-switch:disabled { cursor: not-allowed; opacity: 0.7; }
.kd-disclosure {
  margin: 0.25rem 0 0; padding: 0.25rem 0; border: 0; background: none;
  color: var(--kd-link); text-decoration: underline; text-underline-offset: 2px; text-align: left;
}
.kd-services { list-style: none; margin: 0.5rem 0 0; padding: 0; }
.kd-service {
  margin: 0.5rem 0 0; padding: 0.5rem 0.75rem; border-radius: 0.5rem; background: var(--kd-surface);
}
.kd-details { font-size: 0.875rem; padding-bottom: 0.25rem; }
.kd-cookie { margin-top: 0.25rem; }
.kd-cookie code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-weight: 700; }
.kd-consent { margin: 0.75rem 0 0; padding: 0.5rem 0.75rem; border-radius: 0.5rem; background: var(--kd-surface); font-size: 0.875rem; }
.kd-consent code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; word-break: break-all; }
"#
);

/// The light and dark backgrounds links must stand on (background and surface).
const LIGHT_BACKGROUNDS: [&str; 2] = ["#ffffff", "#f3f4f6"];
const DARK_BACKGROUNDS: [&str; 2] = ["#111827", "#1f2937"];
const LIGHT_TEXT: &str = "#111827";
const DARK_TEXT: &str = "#f9fafb";
const DEFAULT_ACCENT: &str = "#1d4ed8";

/// The custom properties for a config's appearance, as one CSS rule.
pub fn variables(appearance: &Appearance) -> String {
    let accent = normalize_hex(&appearance.accent_color).unwrap_or_else(|| DEFAULT_ACCENT.into());
    let on_accent = if contrast(&accent, "#ffffff") >= contrast(&accent, LIGHT_TEXT) {
        "#ffffff"
    } else {
        LIGHT_TEXT
    };
    let link = |backgrounds: [&str; 2], text: &str| {
        let worst = backgrounds
            .iter()
            .map(|bg| contrast(&accent, bg))
            .fold(f64::INFINITY, f64::min);
        if worst >= 4.5 {
            accent.clone()
        } else {
            text.to_string()
        }
    };
    format!(
        ".kd-backdrop {{ --kd-accent: {accent}; --kd-on-accent: {on_accent}; --kd-link-light: {}; --kd-link-dark: {}; }}",
        link(LIGHT_BACKGROUNDS, LIGHT_TEXT),
        link(DARK_BACKGROUNDS, DARK_TEXT),
    )
}

/// The classes of the outermost element for a config's appearance.
pub fn root_classes(appearance: &Appearance) -> String {
    let position = match appearance.position {
        Position::Bottom => "bottom",
        Position::Top => "top",
        Position::Center => "center",
        Position::BottomLeft => "bottom-left",
        Position::BottomRight => "bottom-right",
    };
    let theme = match appearance.theme {
        Theme::Auto => "auto",
        Theme::Light => "light",
        Theme::Dark => "dark",
    };
    format!("kd-backdrop kd-pos-{position} kd-theme-{theme}")
}

/// `#rgb` or `#rrggbb` as lower-case `#rrggbb`; anything else is refused (it goes
/// into a stylesheet).
fn normalize_hex(color: &str) -> Option<String> {
    let hex = color.strip_prefix('#')?;
    if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    match hex.len() {
        6 => Some(format!("#{}", hex.to_ascii_lowercase())),
        3 => Some(
            hex.chars()
                .flat_map(|c| [c, c])
                .fold(String::from("#"), |mut s, c| {
                    s.push(c.to_ascii_lowercase());
                    s
                }),
        ),
        _ => None,
    }
}

/// WCAG 2 relative luminance of a `#rrggbb` colour.
fn luminance(color: &str) -> f64 {
    let channel = |i: usize| {
        let v = color
            .get(1 + 2 * i..3 + 2 * i)
            .and_then(|h| u8::from_str_radix(h, 16).ok())
            .map_or(0.0, |v| f64::from(v) / 255.0);
        if v <= 0.040_45 {
            v / 12.92
        } else {
            ((v + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * channel(0) + 0.7152 * channel(1) + 0.0722 * channel(2)
}

/// WCAG 2 contrast ratio of two `#rrggbb` colours (1 to 21).
fn contrast(a: &str, b: &str) -> f64 {
    let (la, lb) = (luminance(a), luminance(b));
    (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
}

#[cfg(test)]
mod tests {
    use keksdose_shared::config::{Appearance, Position, Theme};

    use super::*;

    fn appearance(accent: &str) -> Appearance {
        Appearance {
            accent_color: accent.into(),
            ..Appearance::default()
        }
    }

    #[test]
    fn the_default_theme_meets_wcag_aa() {
        for (fg, bg) in [
            (LIGHT_TEXT, "#ffffff"),
            (LIGHT_TEXT, "#f3f4f6"),
            ("#4b5563", "#ffffff"),
            ("#4b5563", "#f3f4f6"),
            (DARK_TEXT, "#111827"),
            (DARK_TEXT, "#1f2937"),
            ("#d1d5db", "#111827"),
            ("#d1d5db", "#1f2937"),
            ("#ffffff", DEFAULT_ACCENT),
        ] {
            assert!(
                contrast(fg, bg) >= 4.5,
                "{fg} on {bg}: {}",
                contrast(fg, bg)
            );
        }
        assert!((contrast("#000000", "#ffffff") - 21.0).abs() < 1e-9);
    }

    #[test]
    fn accent_text_and_links_keep_their_contrast() {
        // The SaaS example's teal: white text, and good enough for links on white.
        let teal = variables(&appearance("#0f766e"));
        assert!(teal.contains("--kd-on-accent: #ffffff"), "{teal}");
        assert!(teal.contains("--kd-link-light: #0f766e"), "{teal}");
        assert!(
            teal.contains(&format!("--kd-link-dark: {DARK_TEXT}")),
            "{teal}"
        );
        // A light yellow: dark text on buttons, links in the text colour.
        let yellow = variables(&appearance("#fde047"));
        assert!(
            yellow.contains(&format!("--kd-on-accent: {LIGHT_TEXT}")),
            "{yellow}"
        );
        assert!(
            yellow.contains(&format!("--kd-link-light: {LIGHT_TEXT}")),
            "{yellow}"
        );
        assert!(yellow.contains("--kd-link-dark: #fde047"), "{yellow}");
    }

    #[test]
    fn only_hex_colours_reach_the_stylesheet() {
        assert_eq!(normalize_hex("#0F766E").as_deref(), Some("#0f766e"));
        assert_eq!(normalize_hex("#abc").as_deref(), Some("#aabbcc"));
        for bad in [
            "red",
            "#12345",
            "#xyzxyz",
            "#fff; } body { display:none",
            "",
        ] {
            assert_eq!(normalize_hex(bad), None, "{bad}");
        }
        assert!(variables(&appearance("red; }")).contains(DEFAULT_ACCENT));
    }

    #[test]
    fn position_and_theme_become_classes() {
        let a = Appearance {
            position: Position::BottomRight,
            theme: Theme::Auto,
            ..Appearance::default()
        };
        assert_eq!(
            root_classes(&a),
            "kd-backdrop kd-pos-bottom-right kd-theme-auto"
        );
        // Every class the function can produce is styled.
        for class in [
            "kd-pos-bottom",
            "kd-pos-top",
            "kd-pos-center",
            "kd-pos-bottom-left",
            "kd-theme-dark",
            "kd-theme-auto",
        ] {
            assert!(CSS.contains(&format!(".{class}")), "{class}");
        }
        assert!(CSS.contains("prefers-reduced-motion"));
        assert!(CSS.contains(":focus-visible"));
    }
}
