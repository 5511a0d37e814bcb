//! Properties every input must satisfy, shared by the cargo-fuzz target
//! (`fuzz/fuzz_targets/parse.rs`) and the proptest smoke test
//! (`tests/fuzz_smoke.rs`), so the quick in-suite run checks exactly what
//! long fuzzing runs check. Panics when a property is violated.

use crate::report::Kind;
use crate::{parse, ParseError};

/// Checks [`parse`] on arbitrary bytes:
///
/// * it returns (no panic, no stack overflow);
/// * JSON that `serde_json` accepts is never reported as a JSON *syntax*
///   error (Go accepts a superset: lone surrogates, invalid UTF-8, deeper
///   nesting);
/// * every entry of an accepted config is a warning with a position;
/// * an accepted config serialised back to JSON parses (as the newest
///   version) to the same config, when the newest rules accept it.
#[doc(hidden)]
pub fn fuzz_check(data: &[u8]) {
    let res = parse(data);
    if serde_json::from_slice::<serde_json::Value>(data).is_ok() {
        if let Err(ParseError::Invalid(r)) = &res {
            for e in &r.entries {
                assert!(
                    e.path.is_some() || e.message.starts_with("json: "),
                    "valid JSON reported as a syntax error: {e}"
                );
            }
        }
    }
    let Ok(p) = res else { return };
    for e in &p.report.entries {
        assert_ne!(e.kind, Kind::Error, "accepted config with an error: {e}");
        assert!(
            e.line.is_some_and(|l| l >= 1),
            "entry without position: {e}"
        );
    }
    let json = serde_json::to_vec(&p.config).expect("config serialises");
    if let Ok(q) = parse(&json) {
        assert_eq!(
            q.config, p.config,
            "round trip through JSON changed the config"
        );
    }
}
