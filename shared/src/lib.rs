//! Keksdose's domain model, shared by the server (native) and the banner (wasm32).
//!
//! This crate owns the site config schema and its validation, decisions and how
//! they resolve against a config, the consent record and its hash chain, canonical
//! hashing (RFC 8785), the first-party consent cookie format, the rules of taking
//! consent back, the built-in texts and the wire format of API errors. It does no
//! IO and knows nothing of actix, sled or the DOM: every function here is pure, so
//! the same code decides on the server and in the visitor's browser.

#![forbid(unsafe_code)]

pub mod api;
pub mod canonical;
pub mod config;
pub mod consent_request;
pub mod cookie;
pub mod decision;
#[cfg(feature = "toml")]
pub mod fuzzing;
pub mod html;
pub mod lifetime;
pub mod record;
pub mod renewal;
pub mod texts;
pub mod time;
pub mod withdrawal;

pub use config::{SiteConfig, ValidationError, ValidationErrors};
pub use decision::{Action, Choices, Decision};
pub use record::{Checkpoint, ConsentRecord, Personal};
