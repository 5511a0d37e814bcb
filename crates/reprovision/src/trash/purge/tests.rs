//! The purge deletes exactly the given directory: everything below it (more
//! entries than the skeleton and batch sizes, links unlinked and not
//! followed), nothing beside it, never into a mount; and it can be re-run.

use std::os::unix::fs::symlink;
use std::path::Path;

use super::*;

/// Builds a tree under `top`; returns how many entries it holds (not
/// counting `top`).
fn build(top: &Path, outside: &Path) -> u64 {
    let mut n = 0;
    std::fs::create_dir_all(top).unwrap();
    // Wide: more directories than the skeleton takes, and more files in one
    // directory than a batch.
    for d in 0..(SKELETON_DIRS + 40) {
        let dir = top.join(format!("wide/d{d:03}"));
        std::fs::create_dir_all(&dir).unwrap();
        n += 1;
        for f in 0..3 {
            std::fs::write(dir.join(format!("f{f}")), "x").unwrap();
            n += 1;
        }
    }
    n += 1; // wide
    for f in 0..(BATCH * 2 + 7) {
        std::fs::write(top.join(format!("flat{f:04}")), "y").unwrap();
        n += 1;
    }
    // Deep.
    let mut p = top.join("deep");
    for i in 0..40 {
        std::fs::create_dir(&p).unwrap();
        std::fs::write(p.join("leaf"), i.to_string()).unwrap();
        n += 2;
        p = p.join("d");
    }
    // Links to things outside that must survive, a dangling link, a fifo,
    // and a read-only directory.
    symlink(outside, top.join("link-to-dir")).unwrap();
    symlink(outside.join("keep.txt"), top.join("wide/d000/link-to-file")).unwrap();
    symlink("/nonexistent/x", top.join("dangling")).unwrap();
    rustix::fs::mknodat(
        rustix::fs::CWD,
        top.join("fifo"),
        FileType::Fifo,
        Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
    let ro = top.join("ro");
    std::fs::create_dir(&ro).unwrap();
    std::fs::write(ro.join("inside"), "z").unwrap();
    std::fs::set_permissions(&ro, std::os::unix::fs::PermissionsExt::from_mode(0o555)).unwrap();
    n + 6
}

fn outside(base: &Path) -> std::path::PathBuf {
    let o = base.join("outside");
    std::fs::create_dir_all(o.join("sub")).unwrap();
    std::fs::write(o.join("keep.txt"), "precious").unwrap();
    std::fs::write(o.join("sub/also"), "precious").unwrap();
    o
}

fn outside_intact(o: &Path) {
    assert_eq!(
        std::fs::read_to_string(o.join("keep.txt")).unwrap(),
        "precious"
    );
    assert_eq!(
        std::fs::read_to_string(o.join("sub/also")).unwrap(),
        "precious"
    );
}

#[test]
fn removes_everything_below_and_nothing_beside() {
    for threads in [1, 2, 4] {
        let d = tempfile::tempdir().unwrap();
        let o = outside(d.path());
        let top = d.path().join("1.purging");
        let n = build(&top, &o);
        let removed = purge_tree(&top, threads).unwrap();
        // The read-only directory's file is removable by its owner only when
        // the directory is writable; as root (CAP_DAC_OVERRIDE) it is.
        assert!(!top.exists(), "threads={threads}");
        assert_eq!(removed, n + 1, "threads={threads}: entries counted");
        outside_intact(&o);
    }
}

#[test]
fn missing_directory_is_nothing_to_do_and_a_rerun_finishes() {
    let d = tempfile::tempdir().unwrap();
    assert_eq!(purge_tree(&d.path().join("absent"), 2).unwrap(), 0);
    let o = outside(d.path());
    let top = d.path().join("2.purging");
    build(&top, &o);
    // An interrupted purge: part of the tree is already gone.
    std::fs::remove_dir_all(top.join("deep/d/d")).unwrap();
    std::fs::remove_dir_all(top.join("wide/d100")).unwrap();
    purge_tree(&top, 2).unwrap();
    assert!(!top.exists());
    outside_intact(&o);
}

#[test]
fn a_symlink_as_the_top_is_not_followed() {
    let d = tempfile::tempdir().unwrap();
    let o = outside(d.path());
    let top = d.path().join("3.purging");
    symlink(&o, &top).unwrap();
    assert!(purge_tree(&top, 2).is_err());
    outside_intact(&o);
}

#[test]
fn never_descends_into_a_mount() {
    if !rustix::process::geteuid().is_root() {
        eprintln!("SKIPPED: mounting a tmpfs needs root");
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let o = outside(d.path());
    let top = d.path().join("4.purging");
    build(&top, &o);
    let mnt = top.join("wide/d200/mnt");
    std::fs::create_dir(&mnt).unwrap();
    rustix::mount::mount(
        "purge-test",
        &mnt,
        "tmpfs",
        rustix::mount::MountFlags::empty(),
        None,
    )
    .unwrap();
    std::fs::write(mnt.join("on-the-mount"), "precious").unwrap();
    for threads in [1, 2] {
        let e = purge_tree(&top, threads).unwrap_err();
        assert_eq!(e.rel, Path::new("wide/d200/mnt"), "{e:?}");
        assert!(e.source.to_string().contains("mounted"), "{e:?}");
        assert_eq!(
            std::fs::read_to_string(mnt.join("on-the-mount")).unwrap(),
            "precious"
        );
    }
    rustix::mount::unmount(&mnt, rustix::mount::UnmountFlags::empty()).unwrap();
    purge_tree(&top, 2).unwrap();
    assert!(!top.exists());
    outside_intact(&o);
}
