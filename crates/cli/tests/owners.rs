//! Kept data owned by a user whose uid the new config changes: `plan` flags
//! it (which user, old -> new id, how many paths), `switch` and `reset`
//! refuse it without a policy, `--remap-owners` chowns it (links themselves,
//! never their targets), on the real binary and engine. Needs root (chown).

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn reignite(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_reignite"))
        .args(args)
        .output()
        .unwrap()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn config(dir: &Path, name: &str, uid: u32) -> String {
    let v = serde_json::json!({
        "ignition": {"version": "3.4.0"},
        "passwd": {"users": [{"name": "alice", "uid": uid}]},
        "storage": {"files": [{"path": "/etc/motd", "contents": {"source": format!("data:,{name}")}}]},
    });
    let p = dir.join(format!("{name}.ign"));
    std::fs::write(&p, serde_json::to_vec(&v).unwrap()).unwrap();
    p.display().to_string()
}

struct Host {
    dir: tempfile::TempDir,
    root: PathBuf,
}

impl Host {
    fn r(&self) -> String {
        self.root.display().to_string()
    }
    fn uid(&self, p: &str) -> u32 {
        std::fs::symlink_metadata(self.root.join(p)).unwrap().uid()
    }
}

/// Generation 1 with alice = 4000, and data of hers under /srv/data that
/// no config declares (kept by a switch, and by `--keep` for a reset).
fn host() -> Option<Host> {
    if !rustix_is_root() {
        eprintln!("skipped: needs root to chown");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir_all(root.join("etc")).unwrap();
    let h = Host { dir, root };
    let v1 = config(h.dir.path(), "v1", 4000);
    ok(&reignite(&[
        "apply",
        "--format",
        "json",
        "--root",
        &h.r(),
        &v1,
    ]));
    std::fs::create_dir_all(h.root.join("srv/data/sub")).unwrap();
    std::fs::write(h.root.join("srv/data/sub/f"), "hers").unwrap();
    std::fs::write(h.root.join("outside"), "root's").unwrap();
    std::os::unix::fs::symlink("/outside", h.root.join("srv/data/link")).unwrap();
    for p in [
        "srv/data",
        "srv/data/sub",
        "srv/data/sub/f",
        "srv/data/link",
    ] {
        std::os::unix::fs::lchown(h.root.join(p), Some(4000), None).unwrap();
    }
    Some(h)
}

fn rustix_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"))
}

fn user_change(plan: &serde_json::Value) -> serde_json::Value {
    plan["owner-changes"]
        .as_array()
        .unwrap_or(&Vec::new())
        .iter()
        .find(|c| c["kind"] == "user")
        .cloned()
        .unwrap_or_default()
}

#[test]
fn switch_flags_refuses_and_remaps_owner_id_changes() {
    let Some(h) = host() else { return };
    let v2 = config(h.dir.path(), "v2", 4001);
    let plan: serde_json::Value = serde_json::from_str(&ok(&reignite(&[
        "plan",
        "--switch",
        "--format",
        "json",
        "--root",
        &h.r(),
        &v2,
    ])))
    .unwrap();
    assert_eq!(
        user_change(&plan),
        serde_json::json!({"kind": "user", "name": "alice", "old": 4000, "new": 4001, "paths": 4})
    );
    let human = ok(&reignite(&["plan", "--switch", "--root", &h.r(), &v2]));
    assert!(
        human.contains("user alice 4000 -> 4001 (4 path(s))"),
        "{human}"
    );

    let out = reignite(&["switch", "--root", &h.r(), &v2]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("user alice 4000 -> 4001 (4 path(s))"), "{err}");
    assert!(err.contains("--remap-owners"), "{err}");
    assert_eq!(h.uid("srv/data/sub/f"), 4000, "refused: nothing changed");
    let passwd = std::fs::read_to_string(h.root.join("etc/passwd")).unwrap();
    assert!(
        passwd
            .lines()
            .any(|l| l.starts_with("alice:") && l.split(':').nth(2) == Some("4000")),
        "{passwd}"
    );
    assert_eq!(
        std::fs::read_to_string(h.root.join("etc/motd")).unwrap(),
        "v1"
    );

    let stdout = ok(&reignite(&[
        "switch",
        "--root",
        &h.r(),
        "--remap-owners",
        &v2,
    ]));
    assert!(
        stdout.contains("owners: user alice 4000 -> 4001 (4 path(s)): remapped"),
        "{stdout}"
    );
    for p in [
        "srv/data",
        "srv/data/sub",
        "srv/data/sub/f",
        "srv/data/link",
    ] {
        assert_eq!(h.uid(p), 4001, "{p}");
    }
    assert_eq!(h.uid("outside"), 0, "a link's target is not followed");
}

#[test]
fn keep_owner_ids_acknowledges_and_leaves_the_numbers() {
    let Some(h) = host() else { return };
    let v2 = config(h.dir.path(), "v2", 4001);
    ok(&reignite(&[
        "switch",
        "--root",
        &h.r(),
        "--keep-owner-ids",
        &v2,
    ]));
    assert_eq!(h.uid("srv/data/sub/f"), 4000);
    assert_eq!(
        reignite(&[
            "switch",
            "--root",
            &h.r(),
            "--keep-owner-ids",
            "--remap-owners",
            &v2
        ])
        .status
        .code(),
        Some(2),
        "the two policies exclude each other"
    );
}

#[test]
fn reset_refuses_at_staging_and_boot_remaps_kept_data() {
    let Some(h) = host() else { return };
    let v2 = config(h.dir.path(), "v2", 4001);
    let plan: serde_json::Value = serde_json::from_str(&ok(&reignite(&[
        "plan",
        "--format",
        "json",
        "--keep",
        "/srv/data/**",
        "--root",
        &h.r(),
        &v2,
    ])))
    .unwrap();
    assert_eq!(user_change(&plan)["paths"], 4);
    let out = reignite(&["reset", "--keep", "/srv/data/**", "--root", &h.r(), &v2]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing was staged"));
    assert!(!h.root.join("var/lib/reignite/staged").exists());

    ok(&reignite(&[
        "reset",
        "--keep",
        "/srv/data/**",
        "--remap-owners",
        "--root",
        &h.r(),
        &v2,
    ]));
    let stdout = ok(&reignite(&["boot", "--root", &h.r()]));
    assert!(stdout.contains("generation 2 provisioned"), "{stdout}");
    for p in [
        "srv/data",
        "srv/data/sub",
        "srv/data/sub/f",
        "srv/data/link",
    ] {
        assert_eq!(h.uid(p), 4001, "{p}");
    }
}
