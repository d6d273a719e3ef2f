//! keksdose-shared's integration tests: the domain model's behaviour as the server,
//! the banner and an auditor rely on it. One target; one module per topic.

// Test code may unwrap: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod config;
mod cookie;
mod decision;
mod fixtures;
mod fuzz_regressions;
mod operators;
mod properties;
mod record;
mod texts;
mod vectors;
