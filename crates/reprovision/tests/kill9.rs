//! Randomly timed `kill -9` of a reset (`boot` on a root with 1,000 subtrees
//! to move one by one and kept data beside them), each followed by recovery (`boot`
//! again): the result is always the converged tree and kept data is intact.
//!
//! The child is this same test binary running `kill9_child` with
//! `REIGNITE_KILL9_ROOT` set; it creates the file `REIGNITE_KILL9_READY`
//! just before calling `boot`, and the kill comes at a uniformly random time
//! within the duration of an uninterrupted `boot` after that, so kills land
//! in every step rather than in the process start-up. Before each recovery
//! the step the kill interrupted is read from the trash journal, and the
//! distribution is printed. `REIGNITE_KILL9_RUNS` sets the number of kills:
//! 200 by default, the figure.
//!
//! The roots live on `/dev/shm` when it is a writable tmpfs
//! (`REIGNITE_KILL9_TMPDIR` overrides): a `kill -9` loses no page cache, so
//! the filesystem's durability plays no part here (power loss is what the
//! `syncfs` commit points are for), while a `syncfs` of a disk shared with
//! other builds costs seconds per run.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use reignite_reprovision::boot::{self, BootOptions};
use reignite_reprovision::reset::{self, OemEdits};
use reignite_reprovision::trash::{Phase, Trash};
use reignite_reprovision::tree::{snapshot, NodeState};

/// Undeclared subtrees the reset moves one by one.
const SUBTREES: usize = 1000;

/// Kept data, checked unchanged after every recovery.
fn is_kept(path: &str) -> bool {
    path.starts_with("var/lib/data") || (path.starts_with("opt/") && path.ends_with("/keep"))
}

fn cfg() -> Vec<u8> {
    config(
        &[("/etc/hostname", "new"), ("/etc/app/a.conf", "a")],
        &["/var/lib/data/**", "/opt/*/keep"],
    )
}

/// Builds the template host: generation 1, 300 undeclared subtrees, kept data.
fn template(dir: &Path) {
    image(dir);
    provision(
        dir,
        &config(
            &[("/etc/hostname", "old")],
            &["/var/lib/data/**", "/opt/*/keep"],
        ),
    );
    // Each directory under /opt holds a kept file, so each of its other
    // entries is a removal of its own: SUBTREES renames, not one.
    for i in 0..SUBTREES / 50 {
        std::fs::create_dir_all(dir.join(format!("opt/d{i}"))).unwrap();
        std::fs::write(dir.join(format!("opt/d{i}/keep")), format!("kept {i}")).unwrap();
        for j in 0..50 {
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
    let s = staged_request(Some(1), false, false, None);
    reset::stage(dir, &s, Some(&cfg()), &OemEdits::default()).unwrap();
}

/// Scratch directory for the roots (see the module docs).
fn scratch() -> tempfile::TempDir {
    let base = std::env::var_os("REIGNITE_KILL9_TMPDIR")
        .map(std::path::PathBuf::from)
        .or_else(|| {
            let shm = Path::new("/dev/shm");
            tempfile::tempdir_in(shm).is_ok().then(|| shm.to_path_buf())
        })
        .unwrap_or_else(std::env::temp_dir);
    tempfile::tempdir_in(base).unwrap()
}

fn comparable(mut t: BTreeMap<String, NodeState>) -> BTreeMap<String, NodeState> {
    t.retain(|k, _| !k.starts_with(".reignite-trash") && !k.starts_with("var/lib/reignite"));
    t
}

/// The step of the reset a kill interrupted, from what it left on disk.
fn step(root: &Path, exited_ok: bool) -> String {
    if exited_ok {
        return "finished before the kill".into();
    }
    let journals = Trash::new(root).journals().unwrap();
    let Some(j) = journals.last() else {
        return "1 before the journal (validation, scan)".into();
    };
    match j.phase {
        Phase::Moving => {
            let old = Trash::new(root).dir(j.generation).join("old");
            let done = j.moved.iter().filter(|p| old.join(p).exists()).count();
            let quarter = (4 * done / j.moved.len().max(1)).min(3);
            format!(
                "2 moving into the trash, {}-{} % done",
                quarter * 25,
                quarter * 25 + 25
            )
        }
        Phase::Moved => "3 moved".into(),
        Phase::Provisioning => "4 provisioning (factory, files stage, record)".into(),
        Phase::Provisioned => "5 provisioned (clearing the markers)".into(),
        other => format!("unexpected phase {other:?}"),
    }
}

#[test]
fn kill9_child() {
    let Ok(root) = std::env::var("REIGNITE_KILL9_ROOT") else {
        return;
    };
    if let Ok(ready) = std::env::var("REIGNITE_KILL9_READY") {
        std::fs::write(ready, "").unwrap();
    }
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
        .unwrap_or(200);
    let tpl = scratch();
    template(tpl.path());
    let data_before: BTreeMap<_, _> = snapshot(tpl.path(), &[])
        .unwrap()
        .into_iter()
        .filter(|(k, _)| is_kept(k))
        .collect();
    // Reference: an uninterrupted run, timed.
    let reference = scratch();
    copy_tree(tpl.path(), reference.path());
    let exe = std::env::current_exe().unwrap();
    let ready_dir = tempfile::tempdir().unwrap();
    let ready = ready_dir.path().join("ready");
    // Starts the child and returns once it is about to call `boot`.
    let child = |root: &Path| {
        let _ = std::fs::remove_file(&ready);
        let mut c = Command::new(&exe)
            .args(["--exact", "kill9_child", "--nocapture", "--test-threads=1"])
            .env("REIGNITE_KILL9_ROOT", root)
            .env("REIGNITE_KILL9_READY", &ready)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        while !ready.exists() {
            if let Some(st) = c.try_wait().unwrap() {
                panic!("the child exited before starting the reset: {st}");
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        c
    };
    let t_all = Instant::now();
    let mut c = child(reference.path());
    let t0 = Instant::now();
    assert!(c.wait().unwrap().success());
    let full = t0.elapsed();
    let want = comparable(snapshot(reference.path(), &[]).unwrap());
    let mut rng: u64 = 0x9e37_79b9_7f4a_7c15 ^ full.as_nanos() as u64;
    let mut killed_mid_way = 0;
    let mut steps: BTreeMap<String, u32> = BTreeMap::new();
    for i in 0..runs {
        let h = scratch();
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
        *steps.entry(step(h.path(), status.success())).or_default() += 1;
        boot::boot(
            h.path(),
            &TestProvisioner::default(),
            &BootOptions::default(),
        )
        .unwrap_or_else(|e| panic!("run {i} (killed after {delay:?}): recovery failed: {e}"));
        let got = snapshot(h.path(), &[]).unwrap();
        let data: BTreeMap<_, _> = got
            .iter()
            .filter(|(k, _)| is_kept(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        assert_eq!(data, data_before, "run {i}: kept data changed");
        similar_asserts::assert_eq!(
            comparable(got),
            want.clone(),
            "run {i} (killed after {delay:?})"
        );
    }
    eprintln!(
        "{runs} kills in {:.1?} ({:.0?} per kill and recovery), {killed_mid_way} while the reset was running (uninterrupted boot: {full:?}); step the kill interrupted:",
        t_all.elapsed(),
        t_all.elapsed() / runs.max(1)
    );
    for (s, n) in &steps {
        eprintln!("  {n:>4}  {s}");
    }
    assert!(
        runs < 10 || killed_mid_way > 0,
        "no kill landed during the reset"
    );
    assert!(
        runs < 50 || steps.keys().filter(|s| !s.starts_with("finished")).count() >= 3,
        "kills landed in fewer than 3 different steps: {steps:?}"
    );
}
