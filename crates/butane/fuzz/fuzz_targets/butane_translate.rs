//! Fuzzes the Butane front end: arbitrary bytes through detection and
//! translation (with and without a files directory) must never panic, and
//! a success must produce JSON that `reignite_spec::parse` accepts.
//! Run: `cd crates/butane/fuzz && cargo +nightly fuzz run butane_translate`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use reignite_butane::{format_report, is_butane, translate, Options};

fuzz_target!(|data: &[u8]| {
    let _ = is_butane(data);
    let opts = Options {
        files_dir: Some(std::env::temp_dir()),
        ..Options::default()
    };
    let r = match translate(data, &opts) {
        Ok(t) => {
            // Round trip: whatever we emit is a valid Ignition config.
            let parsed = reignite_spec::parse(&t.json).expect("translation output parses");
            assert!(!parsed.report.is_fatal());
            t.report
        }
        Err(e) => e.report,
    };
    let _ = format_report(&r, false, "fuzz.bu", data, false);
    let _ = format_report(&r, true, "fuzz.bu", data, false);
});
