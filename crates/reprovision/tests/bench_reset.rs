//! Benchmark (ignored by default; run with
//! `cargo test --release -p reignite-reprovision --test bench_reset -- --ignored --nocapture`).
//!
//! A root with `REIGNITE_BENCH_KEPT` files (default 1,000,000) under kept
//! `/var/lib/docker` and `REIGNITE_BENCH_UNDECLARED` undeclared files
//! (default 100,000) in 1,000 directories under `/opt`, `/srv`, `/home` and
//! `/var/lib` beside the kept tree, plus 1,000 files directly in `/etc` beside
//! kept SSH host keys. Measured side by side, each on its own copy:
//! * `rm -rf` of the undeclared paths alone;
//! * `boot` of a staged reset (until the new generation is recorded), then
//!   purging the trash (`confirm`);
//! * flatcar-reset's method: `find -xdev -depth -regextype egrep -not -regex`
//!   and one `rm`/`rmdir` per entry;
//! * `plan` on the same root.
//!
//! Prints every time and ratio and checks the targets of issue 4: boot ≤ 0.1×
//! rm, boot+purge ≤ 1.2× rm, flatcar ≥ 20× boot+purge, plan < 1 s. Use an
//! ext4 directory (`REIGNITE_BENCH_DIR`) for numbers that mean something.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use reignite_reprovision::boot::{self, BootOptions, Provisioner};
use reignite_reprovision::reset::{self, OemEdits};

const KEEP: &[&str] = &["/var/lib/docker/**", "regex:/etc/ssh/ssh_host_.*"];

fn env_n(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Builds the benchmark root; returns the undeclared top-level paths.
fn build(root: &Path, kept: usize, undeclared: usize) -> Vec<String> {
    image(root);
    provision(root, &config(&[("/etc/hostname", "old")], KEEP));
    for i in 0..kept {
        let d = root.join(format!("var/lib/docker/overlay/{}", i / 1000));
        if i % 1000 == 0 {
            std::fs::create_dir_all(&d).unwrap();
        }
        std::fs::write(d.join(format!("f{i}")), b"layer").unwrap();
    }
    let mut tops = Vec::new();
    let per_dir = (undeclared / 1000).max(1);
    for d in 0..1000 {
        let top = ["opt", "srv", "home", "var/lib"][d % 4];
        let rel = format!("{top}/undeclared{d}");
        std::fs::create_dir_all(root.join(&rel)).unwrap();
        for f in 0..per_dir {
            std::fs::write(root.join(format!("{rel}/f{f}")), b"junk").unwrap();
        }
        tops.push(rel);
    }
    std::fs::create_dir_all(root.join("etc/ssh")).unwrap();
    for k in ["rsa", "ecdsa", "ed25519"] {
        std::fs::write(root.join(format!("etc/ssh/ssh_host_{k}_key")), b"key").unwrap();
    }
    for f in 0..1000 {
        let rel = format!("etc/stray{f}");
        std::fs::write(root.join(&rel), b"junk").unwrap();
        tops.push(rel);
    }
    let s = staged_request(Some(1), false, false, None);
    reset::stage(
        root,
        &s,
        Some(&config(&[("/etc/hostname", "new")], KEEP)),
        &OemEdits::default(),
    )
    .unwrap();
    tops
}

fn timed(f: impl FnOnce()) -> Duration {
    let t = Instant::now();
    f();
    t.elapsed()
}

#[test]
#[ignore = "benchmark: minutes of I/O; run explicitly"]
fn bench_reset_vs_rm_and_flatcar() {
    let kept = env_n("REIGNITE_BENCH_KEPT", 1_000_000);
    let undeclared = env_n("REIGNITE_BENCH_UNDECLARED", 100_000);
    let base = std::env::var("REIGNITE_BENCH_DIR")
        .unwrap_or_else(|_| std::env::temp_dir().display().to_string());
    let mk = || tempfile::tempdir_in(&base).unwrap();
    eprintln!("building 3 roots: {kept} kept files, {undeclared} undeclared files in 1000 dirs + 1000 in /etc");

    let a = mk();
    let tops = build(a.path(), kept, undeclared);
    let t_rm = timed(|| {
        assert!(Command::new("rm")
            .arg("-rf")
            .args(&tops)
            .current_dir(a.path())
            .status()
            .unwrap()
            .success());
    });
    drop(a);

    let b = mk();
    build(b.path(), kept, undeclared);
    let p = TestProvisioner::default();
    let c = p
        .validate(&config(&[("/etc/hostname", "new")], KEEP))
        .unwrap();
    let t_plan = timed(|| {
        let plan = reignite_reprovision::plan::reset_plan(b.path(), &c, &[], false).unwrap();
        assert!(plan.summary.remove >= 1000, "{:?}", plan.summary);
    });
    let t_boot = timed(|| {
        boot::boot(b.path(), &p, &BootOptions::default()).unwrap();
    });
    let t_purge = timed(|| {
        reignite_reprovision::rollback::confirm(b.path()).unwrap();
    });
    drop(b);

    let cdir = mk();
    build(cdir.path(), kept, undeclared);
    // flatcar-reset's regex for the same keep-set (`-K /var/lib/docker
    // '/etc/ssh/ssh_host_.*'`), plus what its walk skips (`/usr`) and
    // reignite's state, which the reset keeps too.
    let marker = "(/var/lib/docker/.*|/var/lib/docker|/etc/ssh/ssh_host_.*|/var/lib/reignite/.*|/var/lib/reignite|\
                  /usr/.*|/usr|/flatcar-backup|/flatcar-backup/.*|/selective-os-reset)";
    let script = format!(
        "find . -xdev -depth -regextype egrep -not -regex '\\.{marker}' -not -path . -print0 | \
         while IFS= read -r -d '' p; do if [ -d \"$p\" ] && [ ! -L \"$p\" ]; then rmdir \"$p\" 2>/dev/null; else rm -f \"$p\"; fi; done"
    );
    let t_flatcar = timed(|| {
        assert!(Command::new("bash")
            .arg("-c")
            .arg(&script)
            .current_dir(cdir.path())
            .status()
            .unwrap()
            .success());
    });
    assert!(cdir.path().join("var/lib/docker/overlay/0").exists());
    drop(cdir);

    let removal = t_boot + t_purge;
    let r = |x: Duration, y: Duration| x.as_secs_f64() / y.as_secs_f64();
    eprintln!("rm -rf undeclared:        {t_rm:?}");
    eprintln!("plan:                     {t_plan:?}");
    eprintln!(
        "boot (reset):             {t_boot:?}   = {:.3}x rm   (target <= 0.1)",
        r(t_boot, t_rm)
    );
    eprintln!("purge (confirm):          {t_purge:?}");
    eprintln!(
        "boot + purge:             {removal:?}   = {:.3}x rm   (target <= 1.2)",
        r(removal, t_rm)
    );
    eprintln!(
        "flatcar find + rm/rmdir:  {t_flatcar:?}   = {:.1}x boot+purge (target >= 20)",
        r(t_flatcar, removal)
    );
    assert!(t_plan < Duration::from_secs(1), "plan took {t_plan:?}");
    assert!(r(t_boot, t_rm) <= 0.1, "boot is not <= 0.1x rm");
    assert!(r(removal, t_rm) <= 1.2, "boot + purge is not <= 1.2x rm");
    assert!(
        r(t_flatcar, removal) >= 20.0,
        "flatcar's method is not >= 20x slower"
    );
}
