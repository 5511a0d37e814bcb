//! Hostile roots: symlink chains pointing outside, `..` in links and config
//! paths, symlinked parents of config paths, units and homes behind links.
//! After every apply (successful or not) the directory outside the root is
//! byte-for-byte unchanged.

mod common;

use std::os::unix::fs::symlink;
use std::path::Path;

use common::*;
use serde_json::json;

fn v(mut cfg: serde_json::Value) -> reignite_spec::Config {
    cfg["ignition"]["version"] = json!("3.5.0");
    config(cfg)
}

/// A scratch area with `root/` and `outside/` (with a decoy file).
fn setup() -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("root");
    let outside = t.path().join("outside");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::create_dir_all(outside.join("etc/systemd/system")).unwrap();
    std::fs::write(outside.join("secret"), "do not touch").unwrap();
    (t, root, outside)
}

fn check_outside_unchanged(outside: &Path, before: &std::collections::BTreeMap<String, String>) {
    assert_eq!(
        &snapshot(outside, false),
        before,
        "something outside the root changed"
    );
}

#[test]
fn absolute_chain_pointing_outside() {
    let (_t, root, outside) = setup();
    symlink("/y", root.join("x")).unwrap();
    symlink(&outside, root.join("y")).unwrap();
    let before = snapshot(&outside, false);
    let cfg = v(json!({"storage": {"files": [{"path": "/x/f", "contents": data("in")}]}}));
    run(&root, &cfg).unwrap();
    check_outside_unchanged(&outside, &before);
    // Re-rooted: the chain ends at <root><outside path>/f.
    let inside = root.join(outside.strip_prefix("/").unwrap()).join("f");
    assert_eq!(std::fs::read_to_string(inside).unwrap(), "in");
}

#[test]
fn relative_dotdot_links_stop_at_root() {
    let (_t, root, outside) = setup();
    std::fs::create_dir_all(root.join("a/b")).unwrap();
    symlink("../../../../../../outside", root.join("a/b/up")).unwrap();
    symlink("../../..", root.join("a/b/top")).unwrap();
    let before = snapshot(&outside, false);
    let cfg = v(json!({"storage": {"files": [
        {"path": "/a/b/up/secret2", "contents": data("1")},
        {"path": "/a/b/top/etc/g", "contents": data("2")},
        {"path": "/../../../outside/h", "contents": data("3")}
    ]}}));
    run(&root, &cfg).unwrap();
    check_outside_unchanged(&outside, &before);
    assert!(root.join("outside/secret2").exists());
    assert!(root.join("etc/g").exists());
    assert!(root.join("outside/h").exists());
}

#[test]
fn symlinked_parents_of_units_and_etc() {
    let (_t, root, outside) = setup();
    symlink(outside.join("etc"), root.join("etc")).unwrap();
    let before = snapshot(&outside, false);
    let cfg = v(json!({
        "storage": {"files": [{"path": "/etc/hostname", "contents": data("h")}]},
        "systemd": {"units": [
            {"name": "a.service", "contents": "[Unit]\n", "enabled": true,
             "dropins": [{"name": "d.conf", "contents": "x"}]},
            {"name": "m.service", "mask": true}
        ]}
    }));
    run(&root, &cfg).unwrap();
    check_outside_unchanged(&outside, &before);
}

#[test]
fn final_component_symlink_is_never_followed() {
    let (_t, root, outside) = setup();
    symlink(outside.join("secret"), root.join("l")).unwrap();
    symlink(outside.join("secret"), root.join("l2")).unwrap();
    let before = snapshot(&outside, false);
    let bad = v(json!({"storage": {"files": [{"path": "/l", "contents": data("x")}]}}));
    assert!(run(&root, &bad).is_err());
    check_outside_unchanged(&outside, &before);
    let append = v(json!({"storage": {"files": [{"path": "/l", "append": [data("x")]}]}}));
    assert!(run(&root, &append).is_err());
    check_outside_unchanged(&outside, &before);
    let perms = v(json!({"storage": {"directories": [{"path": "/l2", "mode": 511}]}}));
    assert!(run(&root, &perms).is_err());
    check_outside_unchanged(&outside, &before);
    let over = v(
        json!({"storage": {"files": [{"path": "/l", "contents": data("x"), "overwrite": true}]}}),
    );
    run(&root, &over).unwrap();
    check_outside_unchanged(&outside, &before);
    assert_eq!(std::fs::read_to_string(root.join("l")).unwrap(), "x");
}

#[test]
fn hard_link_target_behind_escaping_link() {
    let (_t, root, outside) = setup();
    symlink(&outside, root.join("esc")).unwrap();
    let before = snapshot(&outside, false);
    let cfg = v(json!({"storage": {"links": [
        {"path": "/hl", "target": "/esc/secret", "hard": true}
    ]}}));
    // <root><outside>/secret does not exist: the link fails instead of
    // reaching the real file outside.
    assert!(run(&root, &cfg).is_err());
    check_outside_unchanged(&outside, &before);
    assert!(!root.join("hl").exists());
}

#[test]
fn directory_and_owner_changes_stay_inside() {
    let (_t, root, outside) = setup();
    symlink(&outside, root.join("esc")).unwrap();
    let before = snapshot(&outside, false);
    let cfg = v(json!({"storage": {
        "directories": [{"path": "/esc/etc", "mode": 448}],
        "links": [{"path": "/esc/newlink", "target": "/secret"}]
    }}));
    run(&root, &cfg).unwrap();
    check_outside_unchanged(&outside, &before);
}

#[test]
fn home_and_ssh_keys_behind_escaping_link() {
    let (_t, root, outside) = setup();
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::write(root.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n").unwrap();
    std::fs::write(root.join("etc/group"), "root:x:0:\nusers:x:100:\n").unwrap();
    symlink(&outside, root.join("home")).unwrap();
    let before = snapshot(&outside, false);
    let cfg = v(json!({"passwd": {"users": [
        {"name": "core", "sshAuthorizedKeys": ["ssh-ed25519 AAAA core"]}
    ]}}));
    run(&root, &cfg).unwrap();
    check_outside_unchanged(&outside, &before);
    let inside = root
        .join(outside.strip_prefix("/").unwrap())
        .join("core/.ssh/authorized_keys.d/ignition");
    assert_eq!(
        std::fs::read_to_string(inside).unwrap(),
        "ssh-ed25519 AAAA core\n"
    );
}

#[test]
fn state_dir_behind_escaping_link() {
    let (_t, root, outside) = setup();
    std::fs::create_dir_all(root.join("var")).unwrap();
    symlink(&outside, root.join("var/lib")).unwrap();
    let before = snapshot(&outside, false);
    let cfg = v(json!({"storage": {"files": [{"path": "/f", "contents": data("x")}]}}));
    // mkdir_all refuses to traverse the symlink: a clear error, nothing outside.
    let r = run(&root, &cfg);
    check_outside_unchanged(&outside, &before);
    assert!(r.is_err());
}
