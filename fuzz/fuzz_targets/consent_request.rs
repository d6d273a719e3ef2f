//! Fuzz target `consent_request`: see `keksdose_shared::fuzzing::consent_request` for the properties it checks.
#![no_main]
#![forbid(unsafe_code)]

libfuzzer_sys::fuzz_target!(|data: &[u8]| keksdose_shared::fuzzing::consent_request(data));
