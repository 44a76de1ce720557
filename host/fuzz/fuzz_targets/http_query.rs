//! `cargo +nightly fuzz run http_query`: see `ami_host::fuzzing::http_query`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ami_host::fuzzing::http_query(data));
