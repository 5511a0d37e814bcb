//! Re-runs and interrupted runs of the users and units steps converge:
//! a uid/gid change re-owns the home even when the apply is interrupted
//! after the databases were written, and disabling a unit removes its
//! enablement links and the `.wants` directories they leave empty, once,
//! with a second apply changing nothing. The expected trees come from
//! `accounts_differential.rs` and `ignition_differential.rs` (checked
//! against Debian's usermod and Ignition 2.14); here only convergence is
//! checked, against the uninterrupted run.
//!
//! Skips with a reason when not root (homes are chowned).

mod common;

use std::path::Path;

use common::*;
use serde_json::json;

fn accounts_root(dir: &Path) {
    std::fs::create_dir_all(dir.join("etc")).unwrap();
    std::fs::create_dir_all(dir.join("home/old/sub")).unwrap();
    std::fs::create_dir_all(dir.join("var/mail")).unwrap();
    std::fs::write(
        dir.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/bash\nold:x:1500:1500::/home/old:/bin/sh\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("etc/group"),
        "root:x:0:\nold:x:1500:\nspare:x:1600:\n",
    )
    .unwrap();
    std::fs::write(dir.join("etc/login.defs"), "USERGROUPS_ENAB yes\n").unwrap();
    std::fs::write(dir.join("home/old/sub/f"), "f").unwrap();
    std::fs::write(dir.join("var/mail/old"), "mail").unwrap();
    for p in ["home/old", "home/old/sub", "home/old/sub/f", "var/mail/old"] {
        std::os::unix::fs::lchown(dir.join(p), Some(1500), Some(1500)).unwrap();
    }
}

fn units_root(dir: &Path) {
    let units = dir.join("etc/systemd/system");
    std::fs::create_dir_all(&units).unwrap();
    std::fs::write(
        units.join("foo.service"),
        "[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n",
    )
    .unwrap();
    for (d, unit) in [
        ("multi-user.target.wants", "foo.service"),
        ("other.target.wants", "foo.service"),
        ("other.target.wants", "bar.service"),
    ] {
        std::fs::create_dir_all(units.join(d)).unwrap();
        std::os::unix::fs::symlink(
            format!("/etc/systemd/system/{unit}"),
            units.join(d).join(unit),
        )
        .unwrap();
    }
}

/// Applies `cfg` once uninterrupted, and again failing at every commit
/// point in turn (each failure followed by a plain re-run); every tree must
/// equal the uninterrupted one, and a further apply must change nothing.
fn converges(name: &str, build: fn(&Path), cfg: serde_json::Value) {
    let cfg = config(cfg);
    let want_dir = tempfile::tempdir().unwrap();
    build(want_dir.path());
    run(want_dir.path(), &cfg).unwrap_or_else(|e| panic!("{name}: apply: {e}"));
    let want = snapshot(want_dir.path(), true);
    run(want_dir.path(), &cfg).unwrap_or_else(|e| panic!("{name}: re-apply: {e}"));
    assert_eq!(
        snapshot(want_dir.path(), true),
        want,
        "{name}: re-apply changed the tree"
    );
    for n in 0.. {
        let d = tempfile::tempdir().unwrap();
        build(d.path());
        if run_failing_at(d.path(), &cfg, n).is_ok() {
            break;
        }
        run(d.path(), &cfg).unwrap_or_else(|e| panic!("{name}: re-run after failure {n}: {e}"));
        assert_eq!(
            snapshot(d.path(), true),
            want,
            "{name}: interrupted at commit point {n}"
        );
        assert!(n < 1000, "{name}: no end to commit points");
    }
}

#[test]
fn usermod_changes_converge() {
    if !is_root() {
        eprintln!("skipping usermod_changes_converge: needs root (chown)");
        return;
    }
    converges(
        "uid and gid change",
        accounts_root,
        json!({"ignition": {"version": "3.5.0"}, "passwd": {"users": [
            {"name": "old", "uid": 2500, "primaryGroup": "spare"}]}}),
    );
    converges(
        "home move with uid change",
        accounts_root,
        json!({"ignition": {"version": "3.5.0"}, "passwd": {"users": [
            {"name": "old", "uid": 2500, "homeDir": "/home/moved"}]}}),
    );
    let d = tempfile::tempdir().unwrap();
    accounts_root(d.path());
    run(
        d.path(),
        &config(
            json!({"ignition": {"version": "3.5.0"}, "passwd": {"users": [
            {"name": "old", "uid": 2500, "primaryGroup": "spare"}]}}),
        ),
    )
    .unwrap();
    let s = snapshot(d.path(), true);
    assert_eq!(s["/home/old/sub/f"], "file 644 2500:1600 \"f\"");
    assert_eq!(s["/var/mail/old"], "file 644 2500:1500 \"mail\"");
}

#[test]
fn disabling_units_removes_emptied_wants_dirs() {
    if !is_root() {
        eprintln!("skipping disabling_units_removes_emptied_wants_dirs: needs root");
        return;
    }
    let cfg = json!({"ignition": {"version": "3.3.0"}, "systemd": {"units": [
        {"name": "foo.service", "enabled": false}]}});
    converges("disable", units_root, cfg.clone());
    let d = tempfile::tempdir().unwrap();
    units_root(d.path());
    run(d.path(), &config(cfg)).unwrap();
    let units = d.path().join("etc/systemd/system");
    assert!(!units.join("multi-user.target.wants").exists());
    assert!(units.join("other.target.wants/bar.service").is_symlink());
    assert!(!units.join("other.target.wants/foo.service").exists());
}
