//! Keksdose's integration and end-to-end tests: one test binary, one module per topic.
//! Shared fixtures (`TestServer`, `Browser`) live in the crate's library, `tests/src/`.

mod browser;
