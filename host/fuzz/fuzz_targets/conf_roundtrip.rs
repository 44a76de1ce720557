//! `cargo +nightly fuzz run conf_roundtrip`: see `ami_host::fuzzing::conf_roundtrip`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ami_host::fuzzing::conf_roundtrip(data));
