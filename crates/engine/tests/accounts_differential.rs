//! Differential test of the native users/groups step against Debian's
//! shadow-utils: each case runs the commands Ignition would run
//! (`groupadd`/`groupmod`/`groupdel`/`useradd`/`usermod`/`userdel --root`,
//! ignition-semantics.md §6.9) on one scratch root and `apply` on an
//! identical one, then compares `/etc/{passwd,shadow,group,gshadow}` line by
//! line and the home directories (modes, owners, contents).
//!
//! Cases where the tools fail must fail in `apply` too, leaving the same
//! databases and homes (both write the databases before touching homes).
//! The base root's `old` user has a home with entries owned by it, by
//! others, with its group only, a symlink, a setuid binary, and a mail
//! spool, so uid/gid changes show what `usermod` re-owns.
//!
//! Skips with a reason when not root or when `useradd` is not installed
//! (Debian package `passwd`). The skeleton used has no subdirectories:
//! shadow-utils 4.13 copies those incompletely under `--root` (documented
//! difference, docs/apply.md).

mod common;

use std::path::Path;
use std::process::Command;

use common::*;
use serde_json::json;

const LOGIN_DEFS: &str = "\
UMASK 022
PASS_MAX_DAYS 99999
PASS_MIN_DAYS 0
PASS_WARN_AGE 7
UID_MIN 1000
UID_MAX 60000
GID_MIN 1000
GID_MAX 60000
USERGROUPS_ENAB yes
ENCRYPT_METHOD SHA512
";

/// Same "now" as `common::opts`, so shadow's last-change day matches.
const EPOCH: &str = "1795636555";

fn base_root(dir: &Path, with_shadow: bool, login_defs: bool) {
    std::fs::create_dir_all(dir.join("etc/default")).unwrap();
    std::fs::create_dir_all(dir.join("etc/skel")).unwrap();
    std::fs::write(
        dir.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\ncore:x:500:500:Core:/home/core:/bin/bash\nold:x:1500:1500::/home/old:/bin/sh\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("etc/group"),
        "root:x:0:\ndaemon:x:1:\nwheel:x:10:\nusers:x:100:\ndocker:x:990:old\ncore:x:500:\nold:x:1500:\nspare:x:1600:\n",
    )
    .unwrap();
    if with_shadow {
        std::fs::write(
            dir.join("etc/shadow"),
            "root:*:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\ncore:*:19000:0:99999:7:::\nold:*:19000:0:99999:7:::\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("etc/gshadow"),
            "root:*::\ndaemon:*::\nwheel:*::\nusers:*::\ndocker:!::old\ncore:!::\nold:!::\nspare:!::\n",
        )
        .unwrap();
        for f in ["shadow", "gshadow"] {
            std::fs::set_permissions(
                dir.join("etc").join(f),
                std::os::unix::fs::PermissionsExt::from_mode(0o640),
            )
            .unwrap();
        }
    }
    if login_defs {
        std::fs::write(dir.join("etc/login.defs"), LOGIN_DEFS).unwrap();
        std::fs::write(dir.join("etc/default/useradd"), "SHELL=/bin/sh\n").unwrap();
    }
    std::fs::write(dir.join("etc/skel/.bashrc"), "# bashrc\n").unwrap();
    std::fs::write(dir.join("etc/skel/.profile"), "# profile\n").unwrap();
    std::fs::create_dir_all(dir.join("home/old/sub/deeper")).unwrap();
    std::fs::create_dir_all(dir.join("home/old/rootdir")).unwrap();
    std::fs::create_dir_all(dir.join("var/mail")).unwrap();
    for (f, text) in [
        ("home/old/data", "old data"),
        ("home/old/sub/deeper/f", "f"),
        ("home/old/rootdir/mine", "mine"),
        ("home/old/rootfile", "root's"),
        ("home/old/other", "other's"),
        ("home/old/grouponly", "group only"),
        ("home/old/suid", "#!/bin/sh\n"),
        ("var/mail/old", "mail"),
    ] {
        std::fs::write(dir.join(f), text).unwrap();
    }
    std::os::unix::fs::symlink("/etc/passwd", dir.join("home/old/link")).unwrap();
    for (p, u, g) in [
        ("home/old", 1500, 1500),
        ("home/old/data", 1500, 1500),
        ("home/old/sub", 1500, 1500),
        ("home/old/sub/deeper", 1500, 1500),
        ("home/old/sub/deeper/f", 1500, 1500),
        ("home/old/rootdir", 0, 0),
        ("home/old/rootdir/mine", 1500, 0),
        ("home/old/rootfile", 0, 1500),
        ("home/old/other", 1234, 1500),
        ("home/old/grouponly", 1500, 777),
        ("home/old/link", 1500, 1500),
        ("home/old/suid", 1500, 1500),
        ("var/mail/old", 1500, 8),
    ] {
        std::os::unix::fs::lchown(dir.join(p), Some(u), Some(g)).unwrap();
    }
    // Login records (`struct lastlog`: 292 bytes, `struct faillog`: 32,
    // indexed by uid): old's lastlog record, and a faillog that ends at
    // uid 1000's record (so old's slot lies beyond its end).
    std::fs::create_dir_all(dir.join("var/log")).unwrap();
    let mut lastlog = vec![0u8; 1501 * 292];
    lastlog[1500 * 292..1500 * 292 + 4].copy_from_slice(&12345i32.to_le_bytes());
    lastlog[1500 * 292 + 4..1500 * 292 + 9].copy_from_slice(b"pts/0");
    std::fs::write(dir.join("var/log/lastlog"), lastlog).unwrap();
    let mut faillog = vec![0u8; 1001 * 32];
    faillog[1000 * 32..1000 * 32 + 2].copy_from_slice(&3i16.to_le_bytes());
    faillog[1000 * 32 + 4..1000 * 32 + 7].copy_from_slice(b"tty");
    std::fs::write(dir.join("var/log/faillog"), faillog).unwrap();
    // After the chown, which would clear them.
    std::fs::set_permissions(
        dir.join("home/old/suid"),
        std::os::unix::fs::PermissionsExt::from_mode(0o6755),
    )
    .unwrap();
}

fn tool(root: &Path, prog: &str, args: &[String]) -> Result<(), String> {
    let out = Command::new(prog)
        .arg("--root")
        .arg(root)
        .args(args)
        .env("SOURCE_DATE_EPOCH", EPOCH)
        .output()
        .unwrap();
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{prog} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn exists(root: &Path, file: &str, name: &str) -> bool {
    std::fs::read_to_string(root.join("etc").join(file))
        .unwrap_or_default()
        .lines()
        .any(|l| l.split(':').next() == Some(name))
}

/// Runs the commands Ignition ≥ 2.25 runs for `passwd`, stopping at the
/// first failure as Ignition does.
fn ignition_commands(root: &Path, passwd: &serde_json::Value) -> Result<(), String> {
    let s = |v: &serde_json::Value| v.as_str().unwrap().to_string();
    for g in passwd["groups"].as_array().cloned().unwrap_or_default() {
        let name = s(&g["name"]);
        if g["shouldExist"] == json!(false) {
            if exists(root, "group", &name) {
                tool(root, "groupdel", &[name])?;
            }
            continue;
        }
        let mut args = Vec::new();
        if let Some(gid) = g["gid"].as_i64() {
            args.extend(["--gid".into(), gid.to_string()]);
        }
        if let Some(h) = g["passwordHash"].as_str() {
            args.extend(["--password".into(), h.into()]);
        }
        if exists(root, "group", &name) {
            args.push(name);
            tool(root, "groupmod", &args)?;
        } else {
            if g["system"] == json!(true) {
                args.push("--system".into());
            }
            args.push(name);
            tool(root, "groupadd", &args)?;
        }
    }
    for u in passwd["users"].as_array().cloned().unwrap_or_default() {
        let name = s(&u["name"]);
        if u["shouldExist"] == json!(false) {
            if exists(root, "passwd", &name) {
                tool(root, "userdel", &["--remove".into(), name])?;
            }
            continue;
        }
        let mut args: Vec<String> = Vec::new();
        let hash = u["passwordHash"]
            .as_str()
            .map(|h| if h.is_empty() { "*" } else { h });
        if exists(root, "passwd", &name) {
            if let Some(h) = u["homeDir"].as_str() {
                args.extend(["--home".into(), h.into(), "--move-home".into()]);
            }
            if let Some(h) = hash {
                args.extend(["--password".into(), h.into()]);
            }
            if let Some(v) = u["uid"].as_i64() {
                args.extend(["--uid".into(), v.to_string()]);
            }
            if let Some(v) = u["gecos"].as_str() {
                args.extend(["--comment".into(), v.into()]);
            }
            if let Some(v) = u["primaryGroup"].as_str() {
                args.extend(["--gid".into(), v.into()]);
            }
            if let Some(v) = u["groups"].as_array() {
                let g: Vec<String> = v.iter().map(s).collect();
                args.extend(["--groups".into(), g.join(",")]);
            }
            if let Some(v) = u["shell"].as_str() {
                args.extend(["--shell".into(), v.into()]);
            }
            args.push(name.clone());
            tool(root, "usermod", &args)?;
        } else {
            if let Some(h) = u["homeDir"].as_str() {
                args.extend(["--home-dir".into(), h.into()]);
            }
            if u["noCreateHome"] == json!(true) {
                args.push("--no-create-home".into());
            } else {
                args.push("--create-home".into());
            }
            if u["noUserGroup"] == json!(true) {
                args.push("--no-user-group".into());
            }
            if u["system"] == json!(true) {
                args.push("--system".into());
            }
            args.extend(["--password".into(), hash.unwrap_or("*").into()]);
            if let Some(v) = u["uid"].as_i64() {
                args.extend(["--uid".into(), v.to_string()]);
            }
            if let Some(v) = u["gecos"].as_str() {
                args.extend(["--comment".into(), v.into()]);
            }
            if let Some(v) = u["primaryGroup"].as_str() {
                args.extend(["--gid".into(), v.into()]);
            }
            if let Some(v) = u["groups"].as_array() {
                let g: Vec<String> = v.iter().map(s).collect();
                args.extend(["--groups".into(), g.join(",")]);
            }
            if let Some(v) = u["shell"].as_str() {
                args.extend(["--shell".into(), v.into()]);
            }
            args.push(name.clone());
            tool(root, "useradd", &args)?;
            if let Some(h) = hash {
                tool(root, "usermod", &["--password".into(), h.into(), name])?;
            }
        }
    }
    Ok(())
}

fn compared(root: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for f in ["passwd", "shadow", "group", "gshadow"] {
        out.push((
            format!("/etc/{f}"),
            std::fs::read_to_string(root.join("etc").join(f)).unwrap_or_else(|_| "(absent)".into()),
        ));
    }
    for f in ["var/log/lastlog", "var/log/faillog"] {
        use sha2::Digest;
        let bytes = std::fs::read(root.join(f)).unwrap_or_default();
        out.push((
            format!("/{f}"),
            format!(
                "{} bytes, sha256 {}",
                bytes.len(),
                hex::encode(sha2::Sha256::digest(&bytes))
            ),
        ));
    }
    for dir in ["home", "var/home", "srv", "var/mail"] {
        let p = root.join(dir);
        if p.exists() {
            for (k, v) in snapshot(&p, false) {
                out.push((format!("/{dir}{k}"), v));
            }
        }
    }
    out
}

fn cases() -> Vec<(&'static str, serde_json::Value, bool, bool)> {
    vec![
        (
            "simple user",
            json!({"users": [{"name": "alice"}]}),
            true,
            true,
        ),
        (
            "full user",
            json!({"users": [{"name": "bob", "uid": 2000, "gecos": "Bob B", "shell": "/bin/zsh",
            "homeDir": "/var/home/bob", "groups": ["wheel", "docker"], "primaryGroup": "users",
            "passwordHash": "$6$abc$def"}]}),
            true,
            true,
        ),
        (
            "system users",
            json!({"users": [{"name": "svc", "system": true},
            {"name": "svc2", "system": true, "noCreateHome": true}]}),
            true,
            true,
        ),
        (
            "no home, no user group",
            json!({"users": [{"name": "nh", "noCreateHome": true},
            {"name": "nug", "noUserGroup": true}]}),
            true,
            true,
        ),
        (
            "empty hash",
            json!({"users": [{"name": "eh", "passwordHash": ""}]}),
            true,
            true,
        ),
        (
            "groups",
            json!({"groups": [{"name": "g1"}, {"name": "sg", "system": true},
            {"name": "g2", "gid": 5000, "passwordHash": "$1$x"}]}),
            true,
            true,
        ),
        (
            "sequence and preferred gid taken",
            json!({"groups": [{"name": "taken", "gid": 1601}],
            "users": [{"name": "u1", "uid": 1601}, {"name": "u2"}, {"name": "u3", "system": true}]}),
            true,
            true,
        ),
        (
            "modify existing user",
            json!({"users": [{"name": "core", "groups": ["wheel"],
            "shell": "/bin/sh", "passwordHash": "$6$new", "gecos": "CoreOS Admin"}]}),
            true,
            true,
        ),
        (
            "modify membership",
            json!({"users": [{"name": "old", "groups": ["wheel"]}]}),
            true,
            true,
        ),
        (
            "delete user with private group",
            json!({"users": [{"name": "old", "shouldExist": false},
            {"name": "ghost", "shouldExist": false}]}),
            true,
            true,
        ),
        (
            "delete group",
            json!({"groups": [{"name": "spare", "shouldExist": false}]}),
            true,
            true,
        ),
        (
            "modify group",
            json!({"groups": [{"name": "spare", "gid": 1700, "passwordHash": "$6$g"}]}),
            true,
            true,
        ),
        (
            "no shadow files",
            json!({"users": [{"name": "ns", "passwordHash": "$6$p"}],
            "groups": [{"name": "nsg"}]}),
            false,
            true,
        ),
        (
            "uid change re-owns the home and mail spool",
            json!({"users": [{"name": "old", "uid": 2500}]}),
            true,
            true,
        ),
        (
            "uid change to a lower uid moves login records",
            json!({"users": [{"name": "old", "uid": 1000}]}),
            true,
            true,
        ),
        (
            "primary group change re-owns the home",
            json!({"users": [{"name": "old", "primaryGroup": "spare"}]}),
            true,
            true,
        ),
        (
            "uid and primary group change",
            json!({"users": [{"name": "old", "uid": 2500, "primaryGroup": "1600"}]}),
            true,
            true,
        ),
        (
            "same uid and group change nothing",
            json!({"users": [{"name": "old", "uid": 1500, "primaryGroup": "old", "shell": "/bin/bash"}]}),
            true,
            true,
        ),
        (
            "home move with uid change",
            json!({"users": [{"name": "old", "homeDir": "/home/moved", "uid": 2501}]}),
            true,
            true,
        ),
        (
            "home move with trailing slash",
            json!({"users": [{"name": "old", "homeDir": "/home/moved2/", "primaryGroup": "spare"}]}),
            true,
            true,
        ),
        (
            "home move to a missing parent fails",
            json!({"users": [{"name": "old", "homeDir": "/var/home/moved", "uid": 2507}]}),
            true,
            true,
        ),
        (
            "same home with uid change",
            json!({"users": [{"name": "old", "homeDir": "/home/old", "uid": 2502}]}),
            true,
            true,
        ),
        (
            "home move onto an existing directory fails",
            json!({"users": [{"name": "old", "homeDir": "/home", "uid": 2503}]}),
            true,
            true,
        ),
        (
            "home move of a missing home",
            json!({"users": [{"name": "core", "homeDir": "/home/core2", "uid": 2504}]}),
            true,
            true,
        ),
        (
            "uid already in use fails",
            json!({"users": [{"name": "old", "uid": 500}]}),
            true,
            true,
        ),
        (
            "group gid change moves primary gids",
            json!({"groups": [{"name": "old", "gid": 1700}]}),
            true,
            true,
        ),
        (
            "group gid change, then uid change",
            json!({"groups": [{"name": "old", "gid": 1700}], "users": [{"name": "old", "uid": 2505}]}),
            true,
            true,
        ),
        (
            "uid change without login.defs",
            json!({"users": [{"name": "old", "uid": 2506}]}),
            true,
            false,
        ),
        (
            "no login.defs",
            json!({"users": [{"name": "nd"}, {"name": "nds", "system": true}]}),
            true,
            false,
        ),
    ]
}

#[test]
fn native_accounts_match_shadow_utils() {
    if !is_root() {
        eprintln!(
            "skipping native_accounts_match_shadow_utils: needs root (chown, useradd --root)"
        );
        return;
    }
    if Command::new("useradd").arg("--help").output().is_err() {
        eprintln!("skipping native_accounts_match_shadow_utils: useradd not installed (Debian package `passwd`)");
        return;
    }
    let mut failures = Vec::new();
    let total = cases().len();
    for (name, passwd, shadow, defs) in cases() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        base_root(a.path(), shadow, defs);
        base_root(b.path(), shadow, defs);
        let tools = ignition_commands(a.path(), &passwd);
        let cfg = config(json!({"ignition": {"version": "3.5.0"}, "passwd": passwd}));
        match (&tools, run(b.path(), &cfg)) {
            (Ok(()), Ok(_)) | (Err(_), Err(_)) => {}
            (t, r) => {
                failures.push(format!(
                    "{name}: tools {t:?}, apply {:?}",
                    r.map(|_| ()).map_err(|e| e.to_string())
                ));
                continue;
            }
        }
        let (want, got) = (compared(a.path()), compared(b.path()));
        if want != got {
            let diff: Vec<String> = want
                .iter()
                .zip(got.iter())
                .filter(|(w, g)| w != g)
                .map(|(w, g)| format!("  tools:   {w:?}\n  reignite: {g:?}"))
                .collect();
            failures.push(format!(
                "{name}:\n{}",
                if diff.is_empty() {
                    format!("  {want:?}\n  {got:?}")
                } else {
                    diff.join("\n")
                }
            ));
        }
    }
    eprintln!(
        "accounts differential: {}/{total} cases identical",
        total - failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The `In` files of a blackbox case's ROOT partition, written under `dir`.
fn blackbox_in(dir: &Path, case: &serde_json::Value) {
    for disk in case["In"].as_array().into_iter().flatten() {
        for p in disk["Partitions"].as_array().into_iter().flatten() {
            if p["Label"] != "ROOT" {
                continue;
            }
            for f in p["Files"].as_array().into_iter().flatten() {
                let d = f["Directory"]
                    .as_str()
                    .unwrap_or("")
                    .trim_start_matches('/');
                let path = dir.join(d).join(f["Name"].as_str().unwrap());
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, f["Contents"].as_str().unwrap_or("")).unwrap();
            }
        }
    }
}

/// The upstream blackbox cases with a `passwd` section (one instance each;
/// the rules do not change between spec versions), run through Debian's
/// tools and through `apply` from the same `In` tree: both must succeed or
/// both fail, with identical databases. Where the tools' result is not
/// upstream's `Out` (which comes from Fedora's shadow-utils), the case is
/// printed: those are the distro differences `blackbox.rs` lists as
/// expected failures, not reignite bugs.
#[test]
fn blackbox_passwd_cases_match_shadow_utils() {
    if !is_root() {
        eprintln!("skipping blackbox_passwd_cases_match_shadow_utils: needs root (useradd --root)");
        return;
    }
    if Command::new("useradd").arg("--help").output().is_err() {
        eprintln!("skipping blackbox_passwd_cases_match_shadow_utils: useradd not installed (Debian package `passwd`)");
        return;
    }
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/conformance/ignition-blackbox.json");
    let Ok(text) = std::fs::read_to_string(&path) else {
        eprintln!(
            "skipping blackbox_passwd_cases_match_shadow_utils: {} is absent",
            path.display()
        );
        return;
    };
    let corpus: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut seen = std::collections::BTreeSet::new();
    let mut failures = Vec::new();
    for case in corpus["positive"].as_array().unwrap() {
        let name = case["Name"].as_str().unwrap();
        let base = name.rsplit_once(' ').map_or(name, |(b, _)| b);
        let Ok(cfg) =
            serde_json::from_str::<serde_json::Value>(case["Config"].as_str().unwrap_or(""))
        else {
            continue;
        };
        let passwd = &cfg["passwd"];
        if passwd.is_null()
            || passwd.as_object().is_some_and(|o| o.is_empty())
            || !seen.insert(base)
        {
            continue;
        }
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        blackbox_in(a.path(), case);
        blackbox_in(b.path(), case);
        let tools = ignition_commands(a.path(), passwd);
        let cfg = config(json!({"ignition": {"version": "3.5.0"}, "passwd": passwd}));
        let applied = run(b.path(), &cfg).map(|_| ()).map_err(|e| e.to_string());
        let dbs = |r: &Path| -> Vec<String> {
            ["passwd", "shadow", "group", "gshadow"]
                .iter()
                .map(|f| std::fs::read_to_string(r.join("etc").join(f)).unwrap_or_default())
                .collect()
        };
        if tools.is_ok() != applied.is_ok() {
            failures.push(format!("{name}: tools {tools:?}, apply {applied:?}"));
        } else if dbs(a.path()) != dbs(b.path()) {
            failures.push(format!(
                "{name}: databases differ\n  tools:    {:?}\n  reignite: {:?}",
                dbs(a.path()),
                dbs(b.path())
            ));
        }
        let upstream_ok = tools.is_ok()
            && case["Out"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|d| d["Partitions"].as_array().into_iter().flatten())
                .filter(|p| p["Label"] == "ROOT")
                .flat_map(|p| p["Files"].as_array().into_iter().flatten())
                .filter(|f| f["Directory"] == "etc")
                .all(|f| {
                    let got = std::fs::read_to_string(
                        a.path().join("etc").join(f["Name"].as_str().unwrap()),
                    )
                    .unwrap_or_default();
                    got == f["Contents"].as_str().unwrap_or("")
                });
        eprintln!(
            "blackbox passwd {name}: Debian tools {}, reignite {}{}",
            if tools.is_ok() { "succeed" } else { "fail" },
            if applied.is_ok() { "succeeds" } else { "fails" },
            if upstream_ok {
                ""
            } else {
                "; upstream's Out (Fedora) differs from Debian's result"
            }
        );
    }
    assert!(
        seen.len() >= 6,
        "only {} passwd cases in the corpus",
        seen.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
