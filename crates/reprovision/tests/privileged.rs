//! Privileged suite: needs root (mounts a tmpfs, chowns files). Skips with a
//! printed reason otherwise. Checks that a reset never crosses into another
//! filesystem and that owners survive both the trash and the factory restore.

mod common;

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;

use common::*;
use reignite_reprovision::boot::{self, BootOptions, Provisioner};
use reignite_reprovision::generations::{NewGeneration, Store};
use reignite_reprovision::reset::{self, OemEdits, Staged};
use reignite_reprovision::rollback;

fn is_root() -> bool {
    reignite_reprovision::reset::running_as_root()
}

/// Unmounts on drop.
struct Mount(std::path::PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

fn provision(root: &Path, cfg: &[u8]) {
    let p = TestProvisioner::default();
    let c = p.validate(cfg).unwrap();
    let m = p.apply(root, &c).unwrap();
    let keep = boot::config_keep_patterns(&c).unwrap();
    Store::new(root)
        .record(&NewGeneration {
            config: &c,
            config_sha256: "x",
            manifest: &m,
            keep: &keep,
            command: "apply",
            try_deadline: None,
        })
        .unwrap();
}

fn stage(root: &Path, cfg: &[u8]) {
    let s = Staged {
        format: 1,
        keep: vec![],
        keep_machine_id: false,
        try_seconds: None,
        from_generation: Some(1),
        has_config: true,
        allow_data_loss: false,
        owners: Default::default(),
        plan_hash: None,
    };
    reset::stage(root, &s, Some(cfg), &OemEdits::default()).unwrap();
}

#[test]
fn privileged_reset_never_crosses_mounts_and_keeps_owners() {
    if !is_root() {
        eprintln!("skipping privileged_reset_never_crosses_mounts_and_keeps_owners: needs root (mount, chown)");
        return;
    }
    let img = tempfile::tempdir().unwrap();
    image(img.path());
    std::os::unix::fs::lchown(
        img.path().join("usr/share/factory/etc/shadow"),
        Some(0),
        Some(42),
    )
    .unwrap();
    let h = tempfile::tempdir().unwrap();
    let r = h.path();
    copy_tree(img.path(), r);
    let cfg = config(&[("/etc/hostname", "h")], &["/var/lib/data/**"]);
    provision(r, &cfg);
    std::fs::create_dir_all(r.join("mnt/other")).unwrap();
    let st = Command::new("mount")
        .args(["-t", "tmpfs", "tmpfs"])
        .arg(r.join("mnt/other"))
        .status()
        .unwrap();
    if !st.success() {
        eprintln!("skipping: cannot mount tmpfs here");
        return;
    }
    let _m = Mount(r.join("mnt/other"));
    std::fs::write(r.join("mnt/other/file"), "on another filesystem").unwrap();
    std::fs::create_dir_all(r.join("var/lib/data")).unwrap();
    std::fs::write(r.join("var/lib/data/db"), "data").unwrap();
    std::os::unix::fs::lchown(r.join("var/lib/data/db"), Some(1234), Some(5678)).unwrap();
    std::fs::write(r.join("opt-file"), "x").unwrap();
    std::os::unix::fs::lchown(r.join("opt-file"), Some(999), Some(999)).unwrap();
    stage(r, &cfg);
    let out = boot::boot(r, &TestProvisioner::default(), &BootOptions::default()).unwrap();
    assert!(matches!(out, boot::BootOutcome::Reset { .. }));
    assert_eq!(
        std::fs::read_to_string(r.join("mnt/other/file")).unwrap(),
        "on another filesystem"
    );
    let md = std::fs::metadata(r.join("var/lib/data/db")).unwrap();
    assert_eq!(
        (md.uid(), md.gid()),
        (1234, 5678),
        "kept data keeps its owner"
    );
    assert_eq!(
        std::fs::metadata(r.join("etc/shadow")).unwrap().gid(),
        42,
        "factory restore copies the owner"
    );
    assert!(!r.join("opt-file").exists());
    let j = reignite_reprovision::trash::Trash::new(r)
        .journals()
        .unwrap();
    eprintln!(
        "journal: {:?}",
        j.iter().map(|j| (&j.moved, j.phase)).collect::<Vec<_>>()
    );
    assert_eq!(rollback::rollback_latest(r).unwrap(), Some(1));
    eprintln!(
        "{:?}",
        std::fs::read_dir(r)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect::<Vec<_>>()
    );
    let md = std::fs::symlink_metadata(r.join("opt-file")).unwrap();
    assert_eq!(
        (md.uid(), md.gid()),
        (999, 999),
        "rollback restores owners exactly"
    );
}
