//! Keksdose banner.
#![forbid(unsafe_code)]
