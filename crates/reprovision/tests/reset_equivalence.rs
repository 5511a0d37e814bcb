//! The product guarantee on a directory root: after `reset` to config C with
//! keep-set K and `boot`, the tree equals a fresh apply of C on the image plus
//! exactly the K-matched paths from before (content, mode, owner, link
//! targets) — also after a crash at any failpoint followed by another `boot`;
//! and `rollback` brings back the exact previous tree.

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::*;
use reignite_reprovision::boot::{self, BootOptions, BootOutcome, Provisioner};
use reignite_reprovision::generations::Store;
use reignite_reprovision::keep::KeepSet;
use reignite_reprovision::reset::{self, OemEdits};
use reignite_reprovision::tree::{snapshot, NodeState};
use reignite_reprovision::{failpoint, rollback};

const KEEP: &[&str] = &[
    "/var/lib/docker/**",
    "regex:/etc/ssh/ssh_host_.*",
    "/home/*/.ssh",
];

fn write(root: &Path, rel: &str, c: &str, mode: u32) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, c).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn drift(root: &Path) {
    write(root, "opt/junk/a/b", "junk", 0o644);
    write(root, "etc/foo", "manual", 0o644);
    write(root, "etc/app.conf", "edited by hand", 0o644);
    write(root, "var/lib/docker/image/layer", "layer data", 0o600);
    write(root, "var/lib/docker/containers/c1/config", "cfg", 0o640);
    write(root, "etc/ssh/ssh_host_ed25519_key", "secret key", 0o600);
    write(root, "etc/ssh/ssh_host_ed25519_key.pub", "pub key", 0o644);
    write(
        root,
        "etc/machine-id",
        "0123456789abcdef0123456789abcdef\n",
        0o444,
    );
    write(root, "srv/www/index.html", "hi", 0o644);
    write(
        root,
        "home/core/.ssh/authorized_keys",
        "ssh-ed25519 AAAA",
        0o600,
    );
    write(root, "home/core/.bashrc", "alias x=y", 0o644);
    write(root, "var/log/old.log", "log", 0o644);
    std::os::unix::fs::symlink("/usr/bin/sh", root.join("opt/junk/sh")).unwrap();
    std::os::unix::fs::symlink("../var/lib/docker", root.join("etc/docker-link")).unwrap();
    std::fs::set_permissions(
        root.join("var/lib/docker"),
        std::fs::Permissions::from_mode(0o710),
    )
    .unwrap();
}

fn c0() -> Vec<u8> {
    config(
        &[
            ("/etc/hostname", "old-host\n"),
            ("/etc/app.conf", "v=1\n"),
            ("/opt/old/tool", "tool"),
        ],
        KEEP,
    )
}

fn c1() -> Vec<u8> {
    config(
        &[("/etc/hostname", "new-host\n"), ("/etc/new.conf", "v=2\n")],
        KEEP,
    )
}

fn comparable(mut t: BTreeMap<String, NodeState>) -> BTreeMap<String, NodeState> {
    // The trash and reignite's state are not part of the promise; `boot` is
    // the ESP mount point on a real host (the first-boot flag lives there).
    t.retain(|k, _| {
        !k.starts_with(".reignite-trash")
            && !k.starts_with("var/lib/reignite")
            && k != "boot"
            && !k.starts_with("boot/")
    });
    t
}

/// A fresh apply of `cfg` on the image, plus the `keep`-matched paths of
/// `before` with their parents (parents keep their old metadata).
fn expected(
    image_dir: &Path,
    cfg: &[u8],
    before: &BTreeMap<String, NodeState>,
) -> BTreeMap<String, NodeState> {
    let fresh = tempfile::tempdir().unwrap();
    copy_tree(image_dir, fresh.path());
    let p = TestProvisioner::default();
    let canonical = p.validate(cfg).unwrap();
    boot::restore_factory(fresh.path(), "usr/share/factory").unwrap();
    p.apply(fresh.path(), &canonical).unwrap();
    let mut exp = snapshot(fresh.path(), &[]).unwrap();
    let keep = KeepSet::new(boot::config_keep_patterns(&canonical).unwrap()).unwrap();
    for (path, st) in before {
        if keep.matches(&format!("/{path}")).is_some() {
            exp.insert(path.clone(), st.clone());
            let mut anc = path.as_str();
            while let Some((parent, _)) = anc.rsplit_once('/') {
                exp.insert(parent.to_string(), before[parent].clone());
                anc = parent;
            }
        }
    }
    comparable(exp)
}

fn host(image_dir: &Path) -> tempfile::TempDir {
    let h = tempfile::tempdir().unwrap();
    copy_tree(image_dir, h.path());
    provision(h.path(), &c0());
    drift(h.path());
    h
}

fn stage(root: &Path, cfg: &[u8]) {
    let staged = staged_request(
        Store::new(root).state().unwrap().current,
        false,
        false,
        None,
    );
    reset::stage(root, &staged, Some(cfg), &OemEdits::default()).unwrap();
}

#[test]
fn reset_equals_fresh_apply_plus_kept_paths_and_rollback_restores() {
    let img = tempfile::tempdir().unwrap();
    image(img.path());
    let h = host(img.path());
    let r = h.path();
    let before = snapshot(r, &[]).unwrap();
    stage(r, &c1());
    let out = boot::boot(r, &TestProvisioner::default(), &BootOptions::default()).unwrap();
    assert!(
        matches!(out, BootOutcome::Reset { generation: 2, .. }),
        "{out:?}"
    );
    let actual = comparable(snapshot(r, &[]).unwrap());
    let exp = expected(img.path(), &c1(), &before);
    similar_asserts::assert_eq!(actual, exp);
    // Spot checks of the promise.
    assert!(
        !r.join("etc/machine-id").exists(),
        "machine-id goes so systemd does a first boot"
    );
    assert!(
        !r.join("etc/docker-link").exists(),
        "a symlink to a kept dir is itself removed, not followed"
    );
    assert!(!r.join(reset::MARKER).exists() && !r.join(reset::FIRST_BOOT).exists());
    let states: Vec<_> = Store::new(r)
        .list()
        .unwrap()
        .iter()
        .map(|g| (g.meta.number, g.state))
        .collect();
    assert_eq!(states, [(1, "superseded"), (2, "active")]);
    // Rollback renames everything back, byte for byte.
    assert_eq!(rollback::rollback_latest(r).unwrap(), Some(1));
    similar_asserts::assert_eq!(comparable(snapshot(r, &[]).unwrap()), comparable(before));
    let states: Vec<_> = Store::new(r)
        .list()
        .unwrap()
        .iter()
        .map(|g| (g.meta.number, g.state))
        .collect();
    assert_eq!(states, [(1, "active"), (2, "rolled-back")]);
}

#[test]
fn crash_at_every_failpoint_then_boot_again_converges() {
    let img = tempfile::tempdir().unwrap();
    image(img.path());
    let mut n = 1;
    loop {
        let h = host(img.path());
        let r = h.path();
        let before = snapshot(r, &[]).unwrap();
        stage(r, &c1());
        failpoint::arm("*", n);
        let first = boot::boot(r, &TestProvisioner::default(), &BootOptions::default());
        let tripped = !failpoint::disarm();
        if !tripped {
            first.unwrap();
            break;
        }
        assert!(first.is_err(), "n={n}");
        // Kept data is intact at the crash point.
        let now = snapshot(r, &[]).unwrap();
        for k in [
            "var/lib/docker/image/layer",
            "etc/ssh/ssh_host_ed25519_key",
            "home/core/.ssh/authorized_keys",
        ] {
            assert_eq!(now.get(k), before.get(k), "n={n}: {k}");
        }
        boot::boot(r, &TestProvisioner::default(), &BootOptions::default()).unwrap();
        similar_asserts::assert_eq!(
            comparable(snapshot(r, &[]).unwrap()),
            expected(img.path(), &c1(), &before),
            "n={n}"
        );
        assert_eq!(Store::new(r).state().unwrap().current, Some(2), "n={n}");
        n += 1;
    }
    assert!(n > 8, "boot passes many commit points ({n})");
}

#[test]
fn invalid_config_or_failed_apply_changes_nothing() {
    let img = tempfile::tempdir().unwrap();
    image(img.path());
    let h = host(img.path());
    let r = h.path();
    let before = snapshot(r, &[]).unwrap();
    // Invalid: the stage is refused before anything moves.
    stage(r, br#"{"storage":{}}"#);
    let e = boot::boot(r, &TestProvisioner::default(), &BootOptions::default()).unwrap_err();
    assert!(e.to_string().contains("invalid"), "{e}");
    reset::unstage(r).unwrap();
    assert_eq!(
        comparable(snapshot(r, &[]).unwrap()),
        comparable(before.clone())
    );
    // Full disk during apply: rolled back to the previous generation.
    stage(r, &c1());
    let full_disk = TestProvisioner {
        fail_on: Some("/etc/new.conf".into()),
    };
    let e = boot::boot(r, &full_disk, &BootOptions::default()).unwrap_err();
    assert!(matches!(e, boot::BootError::ApplyFailed(_)), "{e}");
    reset::unstage(r).unwrap();
    similar_asserts::assert_eq!(comparable(snapshot(r, &[]).unwrap()), comparable(before));
    assert_eq!(Store::new(r).state().unwrap().current, Some(1));
}

#[test]
fn dropping_a_kept_path_needs_allow_data_loss() {
    let img = tempfile::tempdir().unwrap();
    image(img.path());
    let h = host(img.path());
    let r = h.path();
    let narrower = config(&[("/etc/hostname", "x\n")], &["regex:/etc/ssh/ssh_host_.*"]);
    stage(r, &narrower);
    let e = boot::boot(r, &TestProvisioner::default(), &BootOptions::default()).unwrap_err();
    match e {
        boot::BootError::DataNoLongerKept { from: 1, paths } => {
            assert!(paths.contains(&"var/lib/docker".to_string()), "{paths:?}");
            assert!(paths.contains(&"home/core/.ssh".to_string()), "{paths:?}");
        }
        e => panic!("{e}"),
    }
    assert!(r.join("var/lib/docker/image/layer").exists());
}

#[test]
fn unconfirmed_try_is_reverted_by_the_next_boot() {
    let img = tempfile::tempdir().unwrap();
    image(img.path());
    let h = host(img.path());
    let r = h.path();
    let before = comparable(snapshot(r, &[]).unwrap());
    let staged = staged_request(Some(1), false, false, Some(0));
    reset::stage(r, &staged, Some(&c1()), &OemEdits::default()).unwrap();
    boot::boot(r, &TestProvisioner::default(), &BootOptions::default()).unwrap();
    let states: Vec<_> = Store::new(r)
        .list()
        .unwrap()
        .iter()
        .map(|g| g.state)
        .collect();
    assert_eq!(states, ["previous", "trying"]);
    let out = boot::boot(r, &TestProvisioner::default(), &BootOptions::default()).unwrap();
    assert_eq!(out, BootOutcome::RevertedTo(1));
    similar_asserts::assert_eq!(comparable(snapshot(r, &[]).unwrap()), before);
    let states: Vec<_> = Store::new(r)
        .list()
        .unwrap()
        .iter()
        .map(|g| g.state)
        .collect();
    assert_eq!(states, ["active", "rolled-back"]);
}

#[test]
fn confirmed_try_is_kept_and_trash_purged() {
    let img = tempfile::tempdir().unwrap();
    image(img.path());
    let h = host(img.path());
    let r = h.path();
    let staged = staged_request(Some(1), false, true, Some(0));
    reset::stage(r, &staged, Some(&c1()), &OemEdits::default()).unwrap();
    boot::boot(r, &TestProvisioner::default(), &BootOptions::default()).unwrap();
    assert!(
        r.join("etc/machine-id").exists(),
        "--keep-machine-id keeps the file"
    );
    assert_eq!(rollback::confirm(r).unwrap(), vec![2]);
    assert_eq!(
        boot::boot(r, &TestProvisioner::default(), &BootOptions::default()).unwrap(),
        BootOutcome::Nothing
    );
    assert_eq!(Store::new(r).state().unwrap().current, Some(2));
    assert!(
        rollback::rollback_latest(r).unwrap().is_none(),
        "nothing to roll back after confirm"
    );
}
