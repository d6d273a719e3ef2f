//! Fuzz target `config`: see `keksdose_shared::fuzzing::config` for the properties it checks.
#![no_main]
#![forbid(unsafe_code)]

libfuzzer_sys::fuzz_target!(|data: &[u8]| keksdose_shared::fuzzing::config(data));
