//! Test helpers.
#![forbid(unsafe_code)]
