//! The banner's components, one per file: [`banner::Banner`] is the dialog root
//! and owns the state; the others render a part of it and dispatch
//! [`crate::state::Msg`]s.

pub mod banner;
pub mod category;
pub mod consent_info;
pub mod first_layer;
pub mod service;
pub mod settings;
pub mod switch;

pub use banner::{Banner, BannerProps};
