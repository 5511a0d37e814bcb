//! `reignite apply --root` against Debian's Ignition 2.14 (fetch + files) on
//! the unprivileged corpus in `tests/apply-differential/*.json`: both engines
//! start from identical roots and must end in identical trees (see the crate
//! docs for what is compared and which differences are tolerated, and why).

use std::path::{Path, PathBuf};

use reignite_tests_integration::harness::{run_corpus, CorpusRun};

fn reignite_bin() -> PathBuf {
    std::env::var_os("REIGNITE_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_reignite-under-test").into())
}

#[test]
fn apply_matches_ignition_2_14_on_directory_roots() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/apply-differential");
    let report = Path::new(env!("CARGO_TARGET_TMPDIR")).join("apply-differential.txt");
    match run_corpus("apply differential (unprivileged)", &dir, reignite_bin()) {
        CorpusRun::Skipped(reason) => eprintln!("SKIPPED: {reason}"),
        CorpusRun::IgnitionOnly(s, ok) | CorpusRun::Compared(s, ok) => {
            match std::fs::write(&report, &s) {
                Ok(()) => eprintln!("{s}\n(report written to {})", report.display()),
                Err(e) => eprintln!("{s}\n(could not write {}: {e})", report.display()),
            }
            assert!(
                ok,
                "differences between reignite and Ignition 2.14; see above"
            );
        }
    }
}
