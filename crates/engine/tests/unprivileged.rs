//! `apply` run by an unprivileged user (uid/gid 65534) on a root that user
//! owns, against Debian's Ignition 2.14 `fetch` + `files` run the same way
//! (`setpriv --reuid=65534 --regid=65534 --clear-groups`). Where Ignition
//! succeeds, reignite must too, with an identical tree (everything owned by
//! 65534, nothing chowned to root); where Ignition fails (any `passwd`
//! section: its lookups need `chroot`), reignite must fail too, before
//! writing anything. Not compared: links whose target is root-owned on the
//! host, which Ignition fails to chown because it stats the target in the
//! host's namespace (§6.7; reignite stats inside the root, deliberately).
//!
//! reignite runs in a child: this test binary re-executed under `setpriv`
//! with `REIGNITE_UNPRIV_ROOT`/`REIGNITE_UNPRIV_CONFIG` set, running only
//! [`unprivileged_child`], which applies through the library.
//!
//! Skips with a reason when not root, or when `setpriv` or Ignition 2.14 is
//! missing.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use common::*;
use serde_json::{json, Value};

const IGNITION: &str = "/usr/lib/dracut/modules.d/30ignition/ignition";
const NOBODY: u32 = 65534;

fn setpriv() -> Command {
    let mut c = Command::new("setpriv");
    c.args([
        &format!("--reuid={NOBODY}"),
        &format!("--regid={NOBODY}"),
        "--clear-groups",
    ]);
    c
}

fn base_root(root: &Path) {
    selinux_stub(root);
    std::fs::create_dir_all(root.join("etc/systemd/system")).unwrap();
    std::fs::write(
        root.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/bash\ncore:x:500:500:Core:/home/core:/bin/bash\n",
    )
    .unwrap();
    std::fs::write(root.join("etc/group"), "root:x:0:\ncore:x:500:\n").unwrap();
}

/// Makes `dir` and everything below it 65534's.
fn give_away(dir: &Path) {
    let st = Command::new("chown")
        .args(["-R", &format!("{NOBODY}:{NOBODY}")])
        .arg(dir)
        .status()
        .unwrap();
    assert!(st.success());
}

fn cases() -> Vec<(&'static str, Value)> {
    vec![
        (
            "files",
            json!({"storage": {
                "files": [{"path": "/etc/motd", "contents": {"source": "data:,hello"}},
                          {"path": "/opt/x/tool", "mode": 493},
                          {"path": "/etc/app.conf", "append": [{"source": "data:,more"}]}],
                "directories": [{"path": "/var/lib/app", "mode": 448}],
                "links": [{"path": "/etc/rel", "target": "motd"},
                          {"path": "/hard", "target": "/etc/motd", "hard": true}]}}),
        ),
        (
            "units",
            json!({"systemd": {"units": [
                {"name": "a.service", "contents": "[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n", "enabled": true},
                {"name": "m.service", "mask": true},
                {"name": "b.service", "dropins": [{"name": "x.conf", "contents": "[Service]\n"}]}]}}),
        ),
        (
            "users",
            json!({"passwd": {"users": [{"name": "alice", "sshAuthorizedKeys": ["ssh-ed25519 AAAA a"]}]}}),
        ),
        ("groups", json!({"passwd": {"groups": [{"name": "g1"}]}})),
    ]
}

fn run_ignition(work: &Path, root: &Path, config: &str) -> Result<(), String> {
    let path = ignition_workdir(work, config);
    give_away(work);
    for stage in ["fetch", "files"] {
        let out = ignition_stage(setpriv().arg(IGNITION), work, root, stage, &path)
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(format!(
                "{stage}: {}",
                String::from_utf8_lossy(&out.stdout)
                    .lines()
                    .rev()
                    .find(|l| l.contains("CRITICAL"))
                    .unwrap_or("failed")
            ));
        }
    }
    Ok(())
}

fn run_reignite_child(root: &Path, config: &str) -> Result<(), String> {
    let exe = std::env::current_exe().unwrap();
    let out = setpriv()
        .arg(exe)
        .args([
            "--exact",
            "unprivileged_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("REIGNITE_UNPRIV_ROOT", root)
        .env("REIGNITE_UNPRIV_CONFIG", config)
        .output()
        .map_err(|e| e.to_string())?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    match stderr
        .lines()
        .find_map(|l| l.strip_prefix("child result: "))
    {
        Some("ok") => Ok(()),
        Some(e) => Err(e.to_string()),
        None => Err(format!("child did not report: {}", stderr.trim())),
    }
}

/// Ignition's own outputs and the SELinux stub are not compared; neither is
/// reignite's state directory (it cannot be written as 65534 yet, see
/// [`KNOWN_GAPS`], and is not Ignition's).
fn normalise(mut snap: BTreeMap<String, String>) -> BTreeMap<String, String> {
    snap.retain(|k, _| !k.starts_with("/var/lib/reignite") && !k.starts_with("/etc/selinux"));
    for k in ["/var/lib", "/var"] {
        if !snap
            .keys()
            .any(|p| p.starts_with(&format!("{k}/")) && !p.starts_with("/var/lib/reignite"))
        {
            snap.remove(k);
        }
    }
    for (k, v) in snap.iter_mut() {
        if k.ends_with("20-ignition.preset") {
            // 2.14 writes preset lines in map order.
            let mut lines: Vec<&str> = v.split("\\n").collect();
            lines.sort();
            *v = lines.join("\\n");
        }
    }
    snap
}

/// The child side: applies the config to the root given in the environment
/// and reports on stderr. Does nothing in an ordinary test run.
#[test]
fn unprivileged_child() {
    let (Ok(root), Ok(config)) = (
        std::env::var("REIGNITE_UNPRIV_ROOT"),
        std::env::var("REIGNITE_UNPRIV_CONFIG"),
    ) else {
        return;
    };
    let cfg: reignite_spec::Config = serde_json::from_str(&config).unwrap();
    let r = run(Path::new(&root), &cfg);
    eprintln!(
        "child result: {}",
        match r {
            Ok(_) => "ok".to_string(),
            Err(e) => e.to_string(),
        }
    );
}

#[test]
fn apply_as_unprivileged_user_matches_ignition() {
    if !is_root() {
        eprintln!("skipping apply_as_unprivileged_user_matches_ignition: needs root to switch to uid {NOBODY}");
        return;
    }
    if Command::new("setpriv").arg("--version").output().is_err() {
        eprintln!("skipping apply_as_unprivileged_user_matches_ignition: setpriv not installed (util-linux)");
        return;
    }
    if !Path::new(IGNITION).exists() {
        eprintln!("skipping apply_as_unprivileged_user_matches_ignition: {IGNITION} absent (Debian package `ignition`)");
        return;
    }
    let mut failures = Vec::new();
    for (name, body) in cases() {
        let mut cfg = body.clone();
        cfg["ignition"] = json!({"version": "3.3.0"});
        let config = cfg.to_string();
        let w = tempfile::tempdir().unwrap();
        std::fs::set_permissions(
            w.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        let (a, b) = (w.path().join("a/root"), w.path().join("b/root"));
        base_root(&a);
        base_root(&b);
        give_away(w.path());
        let before = snapshot(&b, false);
        let ign = run_ignition(&w.path().join("a"), &a, &config);
        let rei = run_reignite_child(&b, &config);
        let outcome = match (&ign, &rei) {
            (Err(_), Err(_)) => {
                if name.starts_with("users") || name.starts_with("groups") {
                    let (before, after) = (normalise(before), normalise(snapshot(&b, false)));
                    let changed: Vec<_> = after
                        .iter()
                        .filter(|(k, v)| before.get(*k) != Some(v))
                        .map(|(k, _)| k.clone())
                        .collect();
                    if !changed.is_empty() {
                        failures.push(format!("{name}: failed after writing {changed:?}"));
                    }
                }
                Ok(())
            }
            (Ok(()), Ok(())) => {
                let (sa, sb) = (
                    normalise(snapshot(&a, false)),
                    normalise(snapshot(&b, false)),
                );
                if sa == sb {
                    Ok(())
                } else {
                    let keys: std::collections::BTreeSet<_> = sa.keys().chain(sb.keys()).collect();
                    Err(keys
                        .into_iter()
                        .filter(|k| sa.get(*k) != sb.get(*k))
                        .map(|k| {
                            format!("  {k}: ignition {:?} / reignite {:?}", sa.get(k), sb.get(k))
                        })
                        .collect::<Vec<_>>()
                        .join("\n"))
                }
            }
            _ => Err(format!("ignition {ign:?}, reignite {rei:?}")),
        };
        if let Err(e) = outcome {
            failures.push(format!("{name}: {e}"));
        }
    }
    eprintln!(
        "unprivileged apply: {} cases, {} failures",
        cases().len(),
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
