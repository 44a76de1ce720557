//! `cargo +nightly fuzz run decoder`: see `ami_host::fuzzing::decoder`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ami_host::fuzzing::decoder(data));
