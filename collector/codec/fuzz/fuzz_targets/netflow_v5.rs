//! cargo-fuzz target `netflow_v5`: see `collector/codec/tests/fuzz_harness/mod.rs`.
#![no_main]

#[path = "../../tests/fuzz_harness/mod.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::netflow_v5(data));
