//! The privileged part of the apply differential test: owners by id and name
//! (chown to other uids), users and groups (Ignition runs `useradd --root`,
//! which chroots) and SSH keys. Cases in `tests/apply-differential/privileged/`.
//! Skips with a printed reason unless running as root.

use std::path::{Path, PathBuf};

use reignite_tests_integration::harness::{run_corpus, CorpusRun};

fn reignite_bin() -> PathBuf {
    std::env::var_os("REIGNITE_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_reignite-under-test").into())
}

#[test]
fn privileged_apply_matches_ignition_2_14_on_directory_roots() {
    if !reignite_tests_integration::is_root() {
        eprintln!("SKIPPED: not root (chown to other uids and useradd --root need it)");
        return;
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/apply-differential/privileged");
    let report = Path::new(env!("CARGO_TARGET_TMPDIR")).join("privileged-apply-differential.txt");
    match run_corpus("apply differential (privileged)", &dir, reignite_bin()) {
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
