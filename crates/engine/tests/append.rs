//! Appends to existing files: done in place on the existing inode (hard links
//! keep sharing it, as with Ignition), exactly once whatever the interruption,
//! and not repeated by a re-apply.

mod common;

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use common::*;
use reignite_engine::{ApplyError, Outcome, Root};
use serde_json::json;

const OLD: &str = "old line\n";
const WANT: &str = "old line\n+first\n+second\n";

/// A root with `/etc/f` (0640) hard-linked as `/srv/g`, and `/etc/plain`.
fn prepare(r: &Path) -> u64 {
    std::fs::create_dir_all(r.join("etc")).unwrap();
    std::fs::create_dir_all(r.join("srv")).unwrap();
    std::fs::write(r.join("etc/f"), OLD).unwrap();
    std::fs::set_permissions(
        r.join("etc/f"),
        std::os::unix::fs::PermissionsExt::from_mode(0o640),
    )
    .unwrap();
    std::fs::hard_link(r.join("etc/f"), r.join("srv/g")).unwrap();
    std::fs::write(r.join("etc/plain"), "p").unwrap();
    std::fs::metadata(r.join("etc/f")).unwrap().ino()
}

fn cfg() -> reignite_spec::Config {
    config(json!({
        "ignition": {"version": "3.3.0"},
        "storage": {"files": [
            {"path": "/etc/f", "append": [data("+first\n"), data("+second\n")]},
            {"path": "/etc/plain", "append": [data("+x")], "mode": 384}
        ]}
    }))
}

fn check(r: &Path, ino: u64) {
    for p in ["etc/f", "srv/g"] {
        let md = std::fs::metadata(r.join(p)).unwrap();
        assert_eq!(md.ino(), ino, "{p} is still the same inode");
        assert_eq!(md.nlink(), 2, "{p}");
        assert_eq!(md.mode() & 0o7777, 0o640, "{p} keeps its mode");
        assert_eq!(std::fs::read_to_string(r.join(p)).unwrap(), WANT, "{p}");
    }
    assert_eq!(std::fs::read_to_string(r.join("etc/plain")).unwrap(), "p+x");
    assert_eq!(
        std::fs::metadata(r.join("etc/plain")).unwrap().mode() & 0o7777,
        0o600
    );
}

#[test]
fn append_keeps_the_hard_link_group() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    let ino = prepare(r);
    let Outcome::Applied { manifest, .. } = run(r, &cfg()).unwrap() else {
        panic!("not applied");
    };
    check(r, ino);
    let rec = manifest.node("/etc/f").unwrap();
    assert!(!rec.created);
    assert_eq!(rec.size, Some(WANT.len() as u64));
    assert_eq!(
        rec.sha256.as_deref(),
        Some(hex::encode(<sha2::Sha256 as sha2::Digest>::digest(WANT)).as_str())
    );
    // No scratch or temporary file is left next to the targets.
    let names: Vec<_> = std::fs::read_dir(r.join("etc"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names.len(), 3, "{names:?}"); // f, plain, .ignition-result.json
}

#[test]
fn reapply_does_not_append_twice() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    let ino = prepare(r);
    run(r, &cfg()).unwrap();
    let before = snapshot(r, false);
    assert!(matches!(
        run(r, &cfg()).unwrap(),
        Outcome::AlreadyApplied { generation: 1 }
    ));
    assert_eq!(snapshot(r, false), before);
    check(r, ino);
}

#[test]
fn provision_again_with_the_journal_does_not_append_twice() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    let ino = prepare(r);
    let f = DataFetcher;
    let root = Root::open(r).unwrap();
    reignite_engine::provision(&root, &cfg(), opts(&f), &mut |_| {}).unwrap();
    reignite_engine::provision(&root, &cfg(), opts(&f), &mut |_| {}).unwrap();
    check(r, ino);
}

#[test]
fn interrupted_around_the_append_then_rerun_appends_once() {
    let clean = tempfile::tempdir().unwrap();
    prepare(clean.path());
    run(clean.path(), &cfg()).unwrap();
    let want = snapshot(clean.path(), true);
    let mut n = 0;
    loop {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        let ino = prepare(r);
        match run_failing_at(r, &cfg(), n) {
            Err(ApplyError::Injected(k)) => assert_eq!(k, n),
            Ok(_) => break,
            Err(e) => panic!("unexpected error at {n}: {e}"),
        }
        // A second interruption (its points are numbered differently), then
        // a complete run.
        let _ = run_failing_at(r, &cfg(), n);
        run(r, &cfg()).unwrap_or_else(|e| panic!("re-run after failure at {n}: {e}"));
        check(r, ino);
        assert_eq!(snapshot(r, true), want, "tree after failure at {n}");
        n += 1;
    }
    // Announce, between fragments, after the last fragment, for each file.
    assert!(n >= 8, "only {n} commit points");
}

#[test]
fn partial_append_of_a_killed_apply_is_undone() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    let ino = prepare(r);
    // Interrupt between the two fragments of /etc/f, then tear the file as a
    // kill in the middle of the second write would.
    let mut n = 0;
    loop {
        let t2 = tempfile::tempdir().unwrap();
        prepare(t2.path());
        let _ = run_failing_at(t2.path(), &cfg(), n);
        if std::fs::read_to_string(t2.path().join("etc/f")).unwrap() == "old line\n+first\n" {
            break;
        }
        n += 1;
        assert!(n < 50, "no commit point between fragments");
    }
    assert!(matches!(
        run_failing_at(r, &cfg(), n),
        Err(ApplyError::Injected(_))
    ));
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(r.join("etc/f"))
        .unwrap();
    std::io::Write::write_all(&mut f, b"+sec").unwrap();
    drop(f);
    run(r, &cfg()).unwrap();
    check(r, ino);
}

#[test]
fn failed_fetch_of_a_fragment_appends_nothing() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    let ino = prepare(r);
    let mut bad = data("+second\n");
    bad.verification.hash = Some(format!("sha256-{}", "0".repeat(64)));
    let cfg = config(json!({
        "ignition": {"version": "3.3.0"},
        "storage": {"files": [{"path": "/etc/f", "append": [data("+first\n"), bad]}]}
    }));
    let e = run(r, &cfg).unwrap_err();
    assert!(e.to_string().contains("/etc/f"), "{e}");
    assert_eq!(std::fs::read_to_string(r.join("srv/g")).unwrap(), OLD);
    assert_eq!(std::fs::metadata(r.join("etc/f")).unwrap().ino(), ino);
    let names: Vec<_> = std::fs::read_dir(r.join("etc"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
}
