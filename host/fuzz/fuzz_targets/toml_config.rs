//! `cargo +nightly fuzz run toml_config`: see `ami_host::fuzzing::toml_config`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ami_host::fuzzing::toml_config(data));
