//! Live `switch`: everything the previous generation created and the new
//! config no longer declares is removed, declared nodes are written fresh
//! (drift in managed files restored), undeclared state is kept and reported;
//! rollback restores the previous tree exactly; a crash at any failpoint
//! followed by the same switch converges.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::*;
use reignite_reprovision::boot::{self, Provisioner};
use reignite_reprovision::generations::{NewGeneration, Store};
use reignite_reprovision::tree::{snapshot, NodeState};
use reignite_reprovision::{failpoint, rollback, switch};

fn cfg(files: &[(&str, &str)], dirs: &[&str]) -> Vec<u8> {
    let fs: Vec<_> = files
        .iter()
        .map(|(p, c)| serde_json::json!({"path": p, "mode": 420, "contents": {"source": format!("data:,{c}")}}))
        .collect();
    let ds: Vec<_> = dirs
        .iter()
        .map(|d| serde_json::json!({"path": d, "mode": 493}))
        .collect();
    serde_json::to_vec(&serde_json::json!({"ignition": {"version": "3.4.0"}, "storage": {"files": fs, "directories": ds}}))
        .unwrap()
}

fn c0() -> Vec<u8> {
    cfg(
        &[
            ("/etc/hostname", "old"),
            ("/etc/app.conf", "v1"),
            ("/opt/app/tool", "t"),
        ],
        &["/opt/app"],
    )
}

fn c1() -> Vec<u8> {
    cfg(&[("/etc/hostname", "new"), ("/etc/new.conf", "v2")], &[])
}

fn host(img: &Path) -> tempfile::TempDir {
    let h = tempfile::tempdir().unwrap();
    copy_tree(img, h.path());
    let r = h.path();
    let p = TestProvisioner::default();
    let canonical = p.validate(&c0()).unwrap();
    boot::restore_factory(r, "usr/share/factory").unwrap();
    let m = p.apply(r, &canonical).unwrap();
    Store::new(r)
        .record(&NewGeneration {
            config: &canonical,
            config_sha256: &sha256_hex(&canonical),
            manifest: &m,
            keep: &[],
            command: "apply",
            try_deadline: None,
        })
        .unwrap();
    std::fs::write(r.join("etc/app.conf"), "edited by hand").unwrap();
    std::fs::write(r.join("etc/stray"), "undeclared").unwrap();
    h
}

fn sha256_hex(b: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(b))
}

fn comparable(mut t: BTreeMap<String, NodeState>) -> BTreeMap<String, NodeState> {
    t.retain(|k, _| !k.starts_with(".reignite-trash") && !k.starts_with("var/lib/reignite"));
    t
}

#[test]
fn switch_removes_leftovers_restores_drift_and_rolls_back_exactly() {
    let img = tempfile::tempdir().unwrap();
    image(img.path());
    let h = host(img.path());
    let r = h.path();
    let before = comparable(snapshot(r, &[]).unwrap());
    let out = switch::switch(r, &TestProvisioner::default(), &c1(), None).unwrap();
    assert_eq!(out.generation, 2);
    assert_eq!(
        std::fs::read_to_string(r.join("etc/hostname")).unwrap(),
        "new"
    );
    assert_eq!(
        std::fs::read_to_string(r.join("etc/new.conf")).unwrap(),
        "v2"
    );
    assert!(
        !r.join("etc/app.conf").exists(),
        "leftover of generation 1 removed"
    );
    assert!(!r.join("opt/app").exists(), "leftover directory removed");
    assert!(
        r.join("opt").exists(),
        "a parent the config did not create stays"
    );
    assert_eq!(
        std::fs::read_to_string(r.join("etc/stray")).unwrap(),
        "undeclared",
        "switch never removes what no generation created"
    );
    assert!(
        out.drift
            .iter()
            .any(|d| d.path == "/etc/stray" && d.kind == "undeclared"),
        "{:?}",
        out.drift
    );
    assert!(std::fs::read(r.join("etc/passwd")).is_ok());
    let states: Vec<_> = Store::new(r)
        .list()
        .unwrap()
        .iter()
        .map(|g| g.state)
        .collect();
    assert_eq!(states, ["superseded", "active"]);
    assert_eq!(rollback::rollback_latest(r).unwrap(), Some(1));
    similar_asserts::assert_eq!(comparable(snapshot(r, &[]).unwrap()), before);
}

#[test]
fn switch_plan_gives_every_change_a_reason() {
    let img = tempfile::tempdir().unwrap();
    image(img.path());
    let h = host(img.path());
    let r = h.path();
    let p = TestProvisioner::default();
    let c = p.validate(&c1()).unwrap();
    let plan = reignite_reprovision::plan::switch_plan(r, &c).unwrap();
    let got: Vec<_> = plan
        .changes
        .iter()
        .map(|c| (c.action, c.reason.as_str(), c.path.as_str()))
        .collect();
    for want in [
        ("update", "declared content differs", "/etc/hostname"),
        ("remove", "leftover of generation 1", "/etc/app.conf"),
        ("remove", "leftover of generation 1", "/opt/app"),
        ("remove", "leftover of generation 1", "/opt/app/tool"),
        ("create", "declared", "/etc/new.conf"),
        (
            "keep",
            "undeclared (a switch leaves it; a reset removes it)",
            "/etc/stray",
        ),
    ] {
        assert!(got.contains(&want), "{want:?} not in {got:#?}");
    }
    std::fs::write(r.join("etc/hostname"), "hand edit").unwrap();
    let plan2 = reignite_reprovision::plan::switch_plan(r, &c).unwrap();
    assert!(plan2
        .changes
        .iter()
        .any(|c| c.path == "/etc/hostname" && c.reason == "modified since generation 1"));
    assert_ne!(plan.hash, plan2.hash);
}

#[test]
fn switch_then_switch_back_restores_managed_drift() {
    let img = tempfile::tempdir().unwrap();
    image(img.path());
    let h = host(img.path());
    let r = h.path();
    switch::switch(r, &TestProvisioner::default(), &c1(), None).unwrap();
    rollback::confirm(r).unwrap();
    switch::switch(r, &TestProvisioner::default(), &c0(), None).unwrap();
    assert_eq!(
        std::fs::read_to_string(r.join("etc/app.conf")).unwrap(),
        "v1",
        "declared content is written fresh"
    );
    let again = switch::switch(r, &TestProvisioner::default(), &c0(), None).unwrap();
    assert_eq!(
        (again.generation, again.moved),
        (3, 0),
        "the same config again is a no-op"
    );
    assert!(!r.join("etc/new.conf").exists());
    assert_eq!(Store::new(r).state().unwrap().current, Some(3));
}

#[test]
fn crash_at_every_failpoint_then_switch_again_converges() {
    let img = tempfile::tempdir().unwrap();
    image(img.path());
    let reference = {
        let h = host(img.path());
        switch::switch(h.path(), &TestProvisioner::default(), &c1(), None).unwrap();
        let s = comparable(snapshot(h.path(), &[]).unwrap());
        (h, s)
    };
    let mut n = 1;
    loop {
        let h = host(img.path());
        let r = h.path();
        failpoint::arm("*", n);
        let first = switch::switch(r, &TestProvisioner::default(), &c1(), None);
        if failpoint::disarm() {
            first.unwrap();
            break;
        }
        assert!(first.is_err(), "n={n}");
        // Either the switch is completed by running it again, or it was
        // rolled back at the crash and runs from scratch.
        let again = switch::switch(r, &TestProvisioner::default(), &c1(), None);
        let again = match again {
            Ok(o) => o,
            Err(_) => switch::switch(r, &TestProvisioner::default(), &c1(), None).unwrap(),
        };
        assert_eq!(again.generation, 2, "n={n}");
        similar_asserts::assert_eq!(comparable(snapshot(r, &[]).unwrap()), reference.1, "n={n}");
        n += 1;
    }
    assert!(n > 5, "{n}");
}

#[test]
fn failed_apply_during_switch_restores_everything() {
    let img = tempfile::tempdir().unwrap();
    image(img.path());
    let h = host(img.path());
    let r = h.path();
    let before = comparable(snapshot(r, &[]).unwrap());
    let full_disk = TestProvisioner {
        fail_on: Some("/etc/new.conf".into()),
    };
    assert!(switch::switch(r, &full_disk, &c1(), None).is_err());
    similar_asserts::assert_eq!(comparable(snapshot(r, &[]).unwrap()), before);
    assert_eq!(Store::new(r).state().unwrap().current, Some(1));
}
