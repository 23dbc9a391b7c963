//! cargo-fuzz target `bundle`: uploaded files and archives (`flowvision_mib::bundle`);
//! see `web/mib/tests/fuzz_harness/mod.rs`.
#![no_main]

#[path = "../../tests/fuzz_harness/mod.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::bundle_bytes(data));
