//! Crash tests of the trash: a failpoint at every commit point in turn, then
//! recovery in both directions.

use std::path::Path;

use super::*;
use crate::keep::{KeepPattern, KeepSet};
use crate::tree::snapshot;

fn build(root: &Path) {
    for (p, c) in [
        ("etc/ssh/ssh_host_rsa_key", "key"),
        ("etc/ssh/sshd_config", "cfg"),
        ("etc/hostname", "old"),
        ("opt/app/bin/x", "x"),
        ("opt/app/lib/y", "y"),
        ("var/lib/docker/a/b", "data"),
        ("var/lib/other/f", "f"),
        ("srv/one", "1"),
        ("home/core/.bashrc", "rc"),
    ] {
        let p = root.join(p);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, c).unwrap();
    }
    std::os::unix::fs::symlink("../opt/app", root.join("etc/app")).unwrap();
}

fn keep() -> KeepSet {
    KeepSet::new(vec![
        KeepPattern::parse("/var/lib/docker/**", "t").unwrap(),
        KeepPattern::parse("/etc/ssh/ssh_host_*", "t").unwrap(),
    ])
    .unwrap()
}

/// What the new generation writes after the move (stands in for the files
/// stage).
fn provision(root: &Path) {
    std::fs::write(root.join("etc/hostname"), "new").unwrap();
    std::fs::create_dir_all(root.join("opt/new")).unwrap();
    std::fs::write(root.join("opt/new/z"), "z").unwrap();
}

#[test]
fn move_then_rollback_restores_exactly() {
    let d = tempfile::tempdir().unwrap();
    let r = d.path();
    build(r);
    let before = snapshot(r, &[TRASH_DIR]).unwrap();
    let ks = keep();
    let scan = crate::scan::scan(r, &ks).unwrap();
    let t = Trash::new(r);
    let mut j = t.begin(2, Some(1), &ks, &scan).unwrap();
    assert_eq!(j.phase, Phase::Moved);
    let after = snapshot(r, &[TRASH_DIR]).unwrap();
    let kept: Vec<_> = after.keys().cloned().collect();
    assert_eq!(
        kept,
        [
            "etc",
            "etc/ssh",
            "etc/ssh/ssh_host_rsa_key",
            "var",
            "var/lib",
            "var/lib/docker",
            "var/lib/docker/a",
            "var/lib/docker/a/b"
        ]
    );
    t.set_phase(&mut j, Phase::Provisioning).unwrap();
    provision(r);
    t.set_phase(&mut j, Phase::Provisioned).unwrap();
    t.rollback(&mut j).unwrap();
    assert_eq!(snapshot(r, &[TRASH_DIR]).unwrap(), before);
    assert!(!t.dir(2).exists(), "trash purged after rollback");
}

#[test]
fn crash_at_every_failpoint_of_begin_then_resume_or_rollback() {
    let ks = keep();
    for direction in ["resume", "rollback"] {
        let mut n = 1;
        loop {
            let d = tempfile::tempdir().unwrap();
            let r = d.path();
            build(r);
            let before = snapshot(r, &[TRASH_DIR]).unwrap();
            let scan = crate::scan::scan(r, &ks).unwrap();
            let t = Trash::new(r);
            failpoint::arm("*", n);
            let res = t.begin(2, Some(1), &ks, &scan);
            let tripped = !failpoint::disarm();
            if !tripped {
                assert!(res.is_ok());
                break;
            }
            assert!(
                matches!(res, Err(TrashError::Failpoint(_))),
                "n={n}: {res:?}"
            );
            // Kept data is never touched, whatever the crash point.
            let now = snapshot(r, &[TRASH_DIR]).unwrap();
            for k in ["etc/ssh/ssh_host_rsa_key", "var/lib/docker/a/b"] {
                assert_eq!(now.get(k), before.get(k), "n={n}");
            }
            match t.journal(2).unwrap() {
                None => assert_eq!(now, before, "no journal, nothing moved (n={n})"),
                Some(mut j) if direction == "resume" => {
                    t.resume(&mut j).unwrap();
                    assert_eq!(j.phase, Phase::Moved);
                    let rescan = crate::scan::scan(r, &ks).unwrap();
                    assert!(rescan.removals.is_empty(), "n={n}: {:?}", rescan.removals);
                }
                Some(mut j) => {
                    t.rollback(&mut j).unwrap();
                    assert_eq!(snapshot(r, &[TRASH_DIR]).unwrap(), before, "n={n}");
                }
            }
            n += 1;
        }
        assert!(n > 5, "the walk has several commit points");
    }
}

#[test]
fn crash_at_every_failpoint_of_rollback_then_rollback_again() {
    let ks = keep();
    let mut n = 1;
    loop {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        build(r);
        let before = snapshot(r, &[TRASH_DIR]).unwrap();
        let scan = crate::scan::scan(r, &ks).unwrap();
        let t = Trash::new(r);
        let mut j = t.begin(2, Some(1), &ks, &scan).unwrap();
        t.set_phase(&mut j, Phase::Provisioning).unwrap();
        provision(r);
        failpoint::arm("*", n);
        let res = t.rollback(&mut j);
        let tripped = !failpoint::disarm();
        if !tripped {
            res.unwrap();
            break;
        }
        assert!(res.is_err());
        let mut j = t.journal(2).unwrap().unwrap_or(j);
        if j.phase == Phase::RolledBack || !t.dir(2).exists() {
            // The crash hit the purge; the restore itself was complete.
            t.purge_leftovers().unwrap();
        } else {
            t.rollback(&mut j).unwrap();
        }
        assert_eq!(snapshot(r, &[TRASH_DIR]).unwrap(), before, "n={n}");
        n += 1;
    }
    assert!(n > 4);
}

#[test]
fn purge_removes_trash_and_a_second_begin_refuses_an_unfinished_one() {
    let d = tempfile::tempdir().unwrap();
    let r = d.path();
    build(r);
    let ks = keep();
    let scan = crate::scan::scan(r, &ks).unwrap();
    let t = Trash::new(r);
    t.begin(2, Some(1), &ks, &scan).unwrap();
    assert!(t.begin(2, Some(1), &ks, &scan).is_err());
    assert_eq!(t.journals().unwrap().len(), 1);
    t.purge(2).unwrap();
    assert!(t.journals().unwrap().is_empty());
    assert!(std::fs::read_dir(r.join(TRASH_DIR))
        .unwrap()
        .next()
        .is_none());
}
