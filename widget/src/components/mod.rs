//! The banner's parts, one per file: [`banner::Banner`] is the one component,
//! the dialog root that owns the state and the focus; the others are plain
//! functions that render a part of it and dispatch [`crate::state::Msg`]s. None
//! of them holds state of its own, and each yew component costs the WASM about
//! 1 KB of lifecycle code (issue 13).

pub mod banner;
pub mod category;
pub mod consent_info;
pub mod first_layer;
pub mod service;
pub mod settings;
pub mod switch;

pub use banner::{Banner, BannerProps};
