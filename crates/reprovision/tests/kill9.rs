//! Randomly timed `kill -9` of a reset (`boot` on a root with 300 subtrees to
//! move and kept data beside them), each followed by recovery (`boot`
//! again): the result is always the converged tree and kept data is intact.
//!
//! The child is this same test binary running `kill9_child` with
//! `REIGNITE_KILL9_ROOT` set. `REIGNITE_KILL9_RUNS` sets the number of kills:
//! 50 by default (each run costs a few `syncfs`, seconds on a busy disk);
//! the full proof is `REIGNITE_KILL9_RUNS=200`.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use reignite_reprovision::boot::{self, BootOptions, Provisioner};
use reignite_reprovision::generations::{NewGeneration, Store};
use reignite_reprovision::reset::{self, OemEdits, Staged};
use reignite_reprovision::tree::{snapshot, NodeState};

fn cfg() -> Vec<u8> {
    config(
        &[("/etc/hostname", "new"), ("/etc/app/a.conf", "a")],
        &["/var/lib/data/**"],
    )
}

/// Builds the template host: generation 1, 300 undeclared subtrees, kept data.
fn template(dir: &Path) {
    image(dir);
    let p = TestProvisioner::default();
    let c = p
        .validate(&config(&[("/etc/hostname", "old")], &["/var/lib/data/**"]))
        .unwrap();
    boot::restore_factory(dir, "usr/share/factory").unwrap();
    let m = p.apply(dir, &c).unwrap();
    let keep = boot::config_keep_patterns(&c).unwrap();
    Store::new(dir)
        .record(&NewGeneration {
            config: &c,
            config_sha256: "c0",
            manifest: &m,
            keep: &keep,
            command: "apply",
            try_deadline: None,
        })
        .unwrap();
    for i in 0..10 {
        for j in 0..30 {
            let f = dir.join(format!("opt/d{i}/e{j}/f"));
            std::fs::create_dir_all(f.parent().unwrap()).unwrap();
            std::fs::write(f, "x").unwrap();
        }
    }
    for j in 0..50 {
        std::fs::create_dir_all(dir.join("var/lib/data")).unwrap();
        std::fs::write(
            dir.join(format!("var/lib/data/blob{j}")),
            format!("data {j}"),
        )
        .unwrap();
    }
    let s = Staged {
        format: 1,
        keep: vec![],
        keep_machine_id: false,
        try_seconds: None,
        from_generation: Some(1),
        has_config: true,
        allow_data_loss: false,
        plan_hash: None,
    };
    reset::stage(dir, &s, Some(&cfg()), &OemEdits::default()).unwrap();
}

fn comparable(mut t: BTreeMap<String, NodeState>) -> BTreeMap<String, NodeState> {
    t.retain(|k, _| !k.starts_with(".reignite-trash") && !k.starts_with("var/lib/reignite"));
    t
}

#[test]
fn kill9_child() {
    let Ok(root) = std::env::var("REIGNITE_KILL9_ROOT") else {
        return;
    };
    boot::boot(
        Path::new(&root),
        &TestProvisioner::default(),
        &BootOptions::default(),
    )
    .unwrap();
}

#[test]
fn kill9_at_random_times_then_recover() {
    let runs: u32 = std::env::var("REIGNITE_KILL9_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let tpl = tempfile::tempdir().unwrap();
    template(tpl.path());
    let data_before: BTreeMap<_, _> = snapshot(tpl.path(), &[])
        .unwrap()
        .into_iter()
        .filter(|(k, _)| k.starts_with("var/lib/data"))
        .collect();
    // Reference: an uninterrupted run, timed.
    let reference = tempfile::tempdir().unwrap();
    copy_tree(tpl.path(), reference.path());
    let exe = std::env::current_exe().unwrap();
    let child = |root: &Path| {
        Command::new(&exe)
            .args(["--exact", "kill9_child", "--nocapture", "--test-threads=1"])
            .env("REIGNITE_KILL9_ROOT", root)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    let t0 = Instant::now();
    assert!(child(reference.path()).wait().unwrap().success());
    let full = t0.elapsed();
    let want = comparable(snapshot(reference.path(), &[]).unwrap());
    let mut rng: u64 = 0x9e37_79b9_7f4a_7c15 ^ full.as_nanos() as u64;
    let mut killed_mid_way = 0;
    for i in 0..runs {
        let h = tempfile::tempdir().unwrap();
        copy_tree(tpl.path(), h.path());
        rng = rng
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let delay = Duration::from_nanos((rng >> 11) % (full.as_nanos() as u64 + 1));
        let mut c = child(h.path());
        std::thread::sleep(delay);
        let _ = c.kill(); // SIGKILL
        let status = c.wait().unwrap();
        if !status.success() {
            killed_mid_way += 1;
        }
        boot::boot(
            h.path(),
            &TestProvisioner::default(),
            &BootOptions::default(),
        )
        .unwrap_or_else(|e| panic!("run {i} (killed after {delay:?}): recovery failed: {e}"));
        let got = snapshot(h.path(), &[]).unwrap();
        let data: BTreeMap<_, _> = got
            .iter()
            .filter(|(k, _)| k.starts_with("var/lib/data"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        assert_eq!(data, data_before, "run {i}: kept data changed");
        similar_asserts::assert_eq!(
            comparable(got),
            want.clone(),
            "run {i} (killed after {delay:?})"
        );
    }
    eprintln!("{runs} kills, {killed_mid_way} while the reset was running (full run {full:?})");
    assert!(
        runs < 10 || killed_mid_way > 0,
        "no kill landed during the reset"
    );
}
