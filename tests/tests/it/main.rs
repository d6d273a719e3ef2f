//! Keksdose's integration and end-to-end tests: one test binary, one module per topic.
//! Shared fixtures (`TestServer`, `Browser`) live in the crate's library, `tests/src/`.

// Test code may unwrap: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod abuse;
mod admin;
mod api;
mod banner;
mod browser;
mod cli;
mod console;
mod declaration;
mod disk;
mod durability;
mod load;
mod migrate;
mod negative;
mod ops;
mod postgres;
mod proxy;
mod redis;
mod retention;
mod scan;
