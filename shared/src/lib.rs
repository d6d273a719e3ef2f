//! Keksdose domain model.
#![forbid(unsafe_code)]
