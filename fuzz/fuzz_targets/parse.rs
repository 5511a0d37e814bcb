//! Fuzz target for reignite's Ignition config parser (`reignite_spec::parse`):
//! any input must give a result, never a panic, hang or stack overflow, and
//! the properties checked by `crates/spec/tests/fuzz_smoke.rs` must hold
//! (the same checks are shared in `reignite_spec::fuzz_check`).
//!
//! Run with `cargo +nightly fuzz run parse` from the repository root.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    reignite_spec::fuzz_check(data);
});
