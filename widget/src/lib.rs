//! Keksdose's consent banner: a yew app compiled to wasm32, mounted by the loader
//! (`k.js`) into an open shadow root on an element the loader owns, never into the
//! host page's `<body>` directly.
//!
//! The crate owns what the visitor sees and chooses — the first layer, the
//! settings, focus and keyboard handling, the look — and nothing else: it does not
//! read or write cookies, POST to the ledger, or apply decisions; the loader does,
//! with what [`mount`] hands it. The rules of the banner live in [`state`], pure
//! and unit-tested natively; [`components`] render it, one part per file. What
//! it shows comes worded from the server ([`view`]): the WASM holds no config
//! types, no languages and no wording of its own.
//!
//! # The loader's API
//!
//! ```js
//! import init, { mount } from "./keksdose_widget.js";
//! await init();
//! const handle = mount(hostElement, {
//!   view,                      // required: the body of GET /v1/sites/{site}/banner
//!                              //   ?version=…&lang=…: the config the loader decides
//!                              //   with, as the banner shows it, in one language
//!                              //   (the server picks it and words everything: `view`)
//!   stored: {                  // optional: the consent cookie, as the loader decoded
//!     consent_id: "…" | null,  //   it (only a valid one); starts the switches from
//!     decided_at: 1717200000,  //   what it granted and shows the consent ID and date
//!     granted: ["analytics", …],
//!   },
//!   layer: "settings",         // optional: "first" (default) or "settings"
//!                              //   (the "Cookie-Einstellungen" link)
//!   apiBase: "https://cmp.example", // optional: for the link to the visitor's history
//!   focus: 4,                  // optional: taking over the server-rendered first
//!                              //   layer, the control focused there (its index
//!                              //   among the dialog's controls Tab stops at)
//!   fromFirst: true,           // optional: the settings asked for on the server-
//!                              //   rendered first layer; closing them shows the
//!                              //   first layer, also over a `stored` decision
//!   returnFocus: element,      // optional: where focus returns at the end, when
//!                              //   the page's focus is not there now
//! }, onDecision, onClose);
//! // …later, after applying the decision:
//! handle.unmount();
//! ```
//!
//! `mount` throws an `Error` if the options are malformed (unknown fields
//! included), naming where.
//! It attaches an open shadow root to `hostElement` (or reuses the one there),
//! renders into a new `<div data-keksdose-banner>` in it, hidden, and once
//! rendered removes whatever else the root held — the loader's server-rendered
//! first layer (module `ssr`, feature `ssr`), replaced in the same task, without a
//! second slide-in — and gives it the banner's stylesheet as a constructed
//! one (`adoptedStyleSheets`; a `<style>` element only where the browser cannot
//! construct stylesheets), so that a host page's Content Security Policy needs
//! no `'unsafe-inline'` in `style-src`. The banner needs no Trusted Types policy
//! and its glue calls no `eval` or `new Function` (the glue's one `innerHTML`
//! setter is yew's, for raw HTML nodes, which the banner never renders);
//! compiling its WASM needs `'wasm-unsafe-eval'` in the page's `script-src`.
//!
//! `onDecision(event)` is called once when the visitor decides, after focus went
//! back to where it was before the banner opened:
//!
//! ```js
//! { action: "accept_all" | "reject_all" | "custom" | "withdraw",
//!   categories: { analytics: true, … },   // the switches, for "custom"; {} otherwise
//!   services: { mixpanel: true, … },      // the switches, for "custom"; {} otherwise
//!   configVersion: "…",                   // the config the visitor was shown
//!   lang: "de" }                          // the language it was shown in
//! ```
//!
//! `action`, `categories` and `services` are the `Decision` to POST to the ledger.
//! "Nur Notwendige" is `withdraw` when `stored` has a consent ID and allowed
//! anything beyond the necessary, else `reject_all`.
//!
//! `onClose()` is called when the visitor closes settings they reopened over an
//! earlier decision (`layer: "settings"` with a `stored` decision, not `fromFirst`): that decision
//! stands. Closing is never a choice: the first layer cannot be closed, and
//! closing settings without an earlier decision returns to the first layer.
//!
//! After either callback the banner renders nothing; `unmount()` removes it.
//!
//! `wasmMemoryBytes()` returns the byte length of the module's linear memory, for
//! the benchmark (issue 6) to read once the banner shows.

#![forbid(unsafe_code)]

pub mod components;
pub mod focus;
pub mod options;
pub mod site;
#[cfg(feature = "ssr")]
pub mod ssr;
pub mod state;
pub mod style;
pub mod view;

mod export;

/// talc, not dlmalloc: smaller (issue 13). Single-threaded WASM only, as the banner is.
#[cfg(all(target_family = "wasm", not(target_feature = "atomics")))]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

pub use export::{Handle, mount, wasm_memory_bytes};
