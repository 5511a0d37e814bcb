//! End-to-end tests of `apply` on temporary roots: Ignition's node rules,
//! ordering, contents, units and presets, idempotency, interruption at every
//! commit point, and bad input.

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};

use common::*;
use reignite_engine::{ApplyError, Outcome};
use serde_json::json;

fn v(cfg: serde_json::Value) -> reignite_spec::Config {
    let mut cfg = cfg;
    cfg["ignition"]["version"] = json!("3.5.0");
    config(cfg)
}

fn rich_config() -> reignite_spec::Config {
    v(json!({
        "storage": {
            "directories": [
                {"path": "/opt/app", "mode": 448},
                {"path": "/opt", "mode": 493}
            ],
            "files": [
                {"path": "/etc/hostname", "contents": data("host1\n"), "mode": 420},
                {"path": "/opt/app/bin/run", "contents": data("#!/bin/sh\n"), "mode": 493},
                {"path": "/etc/motd", "contents": data("a\n"), "append": [data("b\n"), data("c\n")]},
                {"path": "/etc/empty"}
            ],
            "links": [
                {"path": "/etc/localtime", "target": "/usr/share/zoneinfo/UTC"},
                {"path": "/opt/hard", "target": "/etc/hostname", "hard": true}
            ]
        },
        "systemd": {"units": [
            {"name": "b.service", "enabled": true, "contents": "[Service]\nExecStart=/bin/true\n"},
            {"name": "a.service", "enabled": false, "dropins": [{"name": "x.conf", "contents": ""}]},
            {"name": "t@x.service", "enabled": true},
            {"name": "t@y.service", "enabled": true},
            {"name": "m.service", "mask": true, "contents": "ignored\n"}
        ]},
        "kernelArguments": {"shouldExist": ["quiet"], "shouldNotExist": ["debug"]}
    }))
}

/// `rich_config` plus users and groups, on a root with account databases.
fn rich_config_with_accounts(root: &std::path::Path) -> reignite_spec::Config {
    std::fs::create_dir_all(root.join("etc/skel")).unwrap();
    std::fs::write(root.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n").unwrap();
    std::fs::write(root.join("etc/group"), "root:x:0:\nwheel:x:10:\n").unwrap();
    std::fs::write(root.join("etc/shadow"), "root:*:19000:0:99999:7:::\n").unwrap();
    std::fs::write(root.join("etc/gshadow"), "root:*::\nwheel:*::\n").unwrap();
    std::fs::write(root.join("etc/login.defs"), "USERGROUPS_ENAB yes\n").unwrap();
    std::fs::write(root.join("etc/skel/.profile"), "# profile\n").unwrap();
    let mut cfg = rich_config();
    let extra = v(json!({"passwd": {
        "groups": [{"name": "ops"}],
        "users": [
            {"name": "core", "groups": ["wheel", "ops"], "sshAuthorizedKeys": ["ssh-ed25519 AAAA core"]},
            {"name": "svc", "system": true, "noCreateHome": true}
        ]
    }}));
    cfg.passwd = extra.passwd;
    cfg
}

#[test]
fn applies_nodes_units_and_records_generation() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    let out = run(r, &rich_config()).unwrap();
    let Outcome::Applied {
        generation,
        manifest,
    } = out
    else {
        panic!("expected Applied")
    };
    assert_eq!(generation, 1);
    assert_eq!(
        std::fs::read_to_string(r.join("etc/hostname")).unwrap(),
        "host1\n"
    );
    assert_eq!(
        std::fs::read_to_string(r.join("etc/motd")).unwrap(),
        "a\nb\nc\n"
    );
    assert_eq!(std::fs::read(r.join("etc/empty")).unwrap(), b"");
    let md = std::fs::metadata(r.join("opt/app")).unwrap();
    assert_eq!(md.permissions().mode() & 0o7777, 0o700);
    let md = std::fs::metadata(r.join("opt/app/bin")).unwrap();
    assert_eq!(md.permissions().mode() & 0o7777, 0o755, "created parent");
    assert_eq!(
        std::fs::read_link(r.join("etc/localtime"))
            .unwrap()
            .to_str(),
        Some("/usr/share/zoneinfo/UTC")
    );
    assert_eq!(
        std::fs::metadata(r.join("opt/hard")).unwrap().ino(),
        std::fs::metadata(r.join("etc/hostname")).unwrap().ino()
    );
    assert_eq!(
        std::fs::read_to_string(r.join("etc/systemd/system-preset/20-ignition.preset")).unwrap(),
        "disable a.service\nenable b.service\nenable t@.service x y\n"
    );
    assert_eq!(
        std::fs::read(r.join("etc/systemd/system/a.service.d/x.conf")).unwrap(),
        b""
    );
    assert_eq!(
        std::fs::read_link(r.join("etc/systemd/system/m.service"))
            .unwrap()
            .to_str(),
        Some("/dev/null")
    );
    let kargs = std::fs::read_to_string(r.join("etc/reignite/kargs.json")).unwrap();
    assert!(kargs.contains("quiet") && kargs.contains("debug"));
    let result = std::fs::read_to_string(r.join("etc/.ignition-result.json")).unwrap();
    assert!(
        result.contains("\"provisioningDate\": \"2026-11-25T19:55:55Z\""),
        "{result}"
    );
    assert_eq!(
        std::fs::metadata(r.join("etc/.ignition-result.json"))
            .unwrap()
            .mode()
            & 0o777,
        0o600
    );
    // generation record
    assert_eq!(
        std::fs::read_to_string(r.join("var/lib/reignite/current")).unwrap(),
        "1\n"
    );
    let m =
        std::fs::read_to_string(r.join("var/lib/reignite/generations/1/manifest.json")).unwrap();
    assert_eq!(reignite_engine::Manifest::from_json(&m).unwrap(), *manifest);
    assert!(!r.join("var/lib/reignite/apply.journal").exists());
    // manifest content
    let host = manifest.node("/etc/hostname").unwrap();
    assert_eq!(host.mode, 0o644);
    assert!(host.created);
    assert_eq!(host.size, Some(6));
    assert!(manifest
        .node("/opt/app/bin")
        .is_some_and(|n| n.origin == reignite_engine::manifest::Origin::Parent));
    assert_eq!(manifest.preset_lines.len(), 3);
    assert_eq!(manifest.kernel_arguments.should_exist, ["quiet"]);
    // no temp files left anywhere
    for (p, _) in snapshot(r, false) {
        assert!(!p.contains(".reignite-tmp-"), "leftover {p}");
    }
}

#[test]
fn rerun_is_a_noop_and_other_config_is_refused() {
    let t = tempfile::tempdir().unwrap();
    let cfg = rich_config();
    run(t.path(), &cfg).unwrap();
    let before = snapshot(t.path(), false);
    assert!(matches!(
        run(t.path(), &cfg).unwrap(),
        Outcome::AlreadyApplied { generation: 1 }
    ));
    assert_eq!(before, snapshot(t.path(), false));
    let other = v(json!({"storage": {"files": [{"path": "/x", "contents": data("y")}]}}));
    let e = run(t.path(), &other).unwrap_err();
    assert!(
        matches!(e, ApplyError::AlreadyProvisioned { generation: 1, .. }),
        "{e}"
    );
}

#[test]
fn interrupted_at_every_commit_point_then_rerun_completes() {
    let cfg = rich_config();
    let clean = tempfile::tempdir().unwrap();
    run(clean.path(), &cfg).unwrap();
    let want = snapshot(clean.path(), true);
    let mut n = 0;
    loop {
        let t = tempfile::tempdir().unwrap();
        match run_failing_at(t.path(), &cfg, n) {
            Err(ApplyError::Injected(k)) => assert_eq!(k, n),
            Ok(_) => break,
            Err(e) => panic!("unexpected error at {n}: {e}"),
        }
        // A second interruption at the same point of the re-run, then a
        // clean re-run.
        let _ = run_failing_at(t.path(), &cfg, n);
        let out =
            run(t.path(), &cfg).unwrap_or_else(|e| panic!("re-run after failure at {n}: {e}"));
        // The second interrupted run may already have completed the apply
        // (its commit points are numbered differently).
        assert!(matches!(
            out,
            Outcome::Applied { .. } | Outcome::AlreadyApplied { .. }
        ));
        assert_eq!(snapshot(t.path(), true), want, "tree after failure at {n}");
        n += 1;
    }
    assert!(n > 10, "only {n} commit points");
}

/// The manifest as a sorted list of node, user and group descriptions.
fn manifest_summary(m: &reignite_engine::Manifest) -> Vec<String> {
    let mut v: Vec<String> = m
        .nodes
        .iter()
        .map(|n| format!("{n:?}"))
        .chain(m.users.iter().map(|u| format!("{u:?}")))
        .chain(m.groups.iter().map(|g| format!("{g:?}")))
        .chain(m.units.iter().map(|u| format!("{u:?}")))
        .collect();
    v.sort();
    v.dedup();
    v
}

#[test]
fn interrupted_with_accounts_then_rerun_completes() {
    let clean = tempfile::tempdir().unwrap();
    let cfg = rich_config_with_accounts(clean.path());
    run(clean.path(), &cfg).unwrap();
    let want = snapshot(clean.path(), true);
    let m = std::fs::read_to_string(
        clean
            .path()
            .join("var/lib/reignite/generations/1/manifest.json"),
    )
    .unwrap();
    let want_manifest = manifest_summary(&reignite_engine::Manifest::from_json(&m).unwrap());
    let mut n = 0;
    loop {
        let t = tempfile::tempdir().unwrap();
        rich_config_with_accounts(t.path());
        match run_failing_at(t.path(), &cfg, n) {
            Err(ApplyError::Injected(_)) => {}
            Ok(_) => break,
            Err(e) => panic!("unexpected error at {n}: {e}"),
        }
        run(t.path(), &cfg).unwrap_or_else(|e| panic!("re-run after failure at {n}: {e}"));
        assert_eq!(snapshot(t.path(), true), want, "tree after failure at {n}");
        let m = std::fs::read_to_string(
            t.path()
                .join("var/lib/reignite/generations/1/manifest.json"),
        )
        .unwrap();
        let m = reignite_engine::Manifest::from_json(&m).unwrap();
        assert_eq!(
            manifest_summary(&m),
            want_manifest,
            "manifest after failure at {n}"
        );
        let core = m.users.iter().find(|u| u.name == "core").unwrap();
        assert_eq!(
            core.action,
            reignite_engine::manifest::AccountAction::Created,
            "at {n}"
        );
        assert!(
            core.home_created,
            "home recorded as created after failure at {n}"
        );
        n += 1;
    }
}

#[test]
fn existing_nodes_follow_ignition_rules() {
    let cases: Vec<(serde_json::Value, &str)> = vec![
        (
            json!({"files": [{"path": "/f", "contents": data("new")}]}),
            "A file exists there already and overwrite is false",
        ),
        (
            json!({"files": [{"path": "/d", "contents": data("new")}]}),
            "A non regular file exists there already",
        ),
        (
            json!({"directories": [{"path": "/f"}]}),
            "A non-directory already exists and overwrite is false",
        ),
        (
            json!({"links": [{"path": "/l", "target": "/other"}]}),
            "a symlink exists at that path but points to /f, not /other",
        ),
        (
            json!({"links": [{"path": "/f", "target": "/x"}]}),
            "a non-symlink already exists at that path",
        ),
        (
            json!({"links": [{"path": "/f", "target": "/d/g", "hard": true}]}),
            "a file already exists at that path but is not the target",
        ),
    ];
    for (storage, msg) in cases {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        std::fs::write(r.join("f"), "old").unwrap();
        std::fs::create_dir(r.join("d")).unwrap();
        std::fs::write(r.join("d/g"), "g").unwrap();
        std::os::unix::fs::symlink("/f", r.join("l")).unwrap();
        let e = run(r, &v(json!({ "storage": storage }))).unwrap_err();
        assert!(e.to_string().contains(msg), "{storage}: {e}");
        assert_eq!(std::fs::read_to_string(r.join("f")).unwrap(), "old");
    }
}

#[test]
fn existing_nodes_that_are_fine() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    std::fs::write(r.join("f"), "old").unwrap();
    std::fs::write(r.join("keep"), "k").unwrap();
    std::fs::create_dir(r.join("d")).unwrap();
    std::os::unix::fs::symlink("/f", r.join("l")).unwrap();
    std::fs::hard_link(r.join("f"), r.join("h")).unwrap();
    let cfg = v(json!({"storage": {
        "files": [
            {"path": "/f", "append": [data("+more")]},
            {"path": "/keep", "mode": 384},
            {"path": "/over", "contents": data("x"), "overwrite": true}
        ],
        "directories": [{"path": "/d", "mode": 448}],
        "links": [{"path": "/l", "target": "/./f"}, {"path": "/h2", "target": "f", "hard": true}]
    }}));
    std::fs::write(r.join("over"), "replaced").unwrap();
    run(r, &cfg).unwrap();
    assert_eq!(std::fs::read_to_string(r.join("f")).unwrap(), "old+more");
    assert_eq!(std::fs::read_to_string(r.join("keep")).unwrap(), "k");
    assert_eq!(
        std::fs::metadata(r.join("keep")).unwrap().mode() & 0o7777,
        0o600
    );
    assert_eq!(std::fs::read_to_string(r.join("over")).unwrap(), "x");
    assert_eq!(
        std::fs::metadata(r.join("d")).unwrap().mode() & 0o7777,
        0o700
    );
    assert_eq!(
        std::fs::metadata(r.join("h2")).unwrap().ino(),
        std::fs::metadata(r.join("f")).unwrap().ino(),
        "relative hard-link target is joined to the root"
    );
}

#[test]
fn hash_mismatch_leaves_nothing() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    let mut res = data("hello");
    res.verification.hash = Some(format!("sha256-{}", "0".repeat(64)));
    let cfg = v(json!({"storage": {"files": [{"path": "/etc/f", "contents": res}]}}));
    let e = run(r, &cfg).unwrap_err();
    assert!(e.to_string().contains("hash verification failed"), "{e}");
    assert!(e.to_string().contains("/etc/f"), "{e}");
    assert!(!r.join("etc/f").exists());
    let leftovers: Vec<_> = std::fs::read_dir(r.join("etc")).unwrap().collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn unknown_user_names_node_and_name() {
    let t = tempfile::tempdir().unwrap();
    std::fs::create_dir(t.path().join("etc")).unwrap();
    std::fs::write(t.path().join("etc/passwd"), "root:x:0:0::/root:/bin/sh\n").unwrap();
    let cfg = v(json!({"storage": {"files": [{"path": "/f", "user": {"name": "bob"}}]}}));
    let e = run(t.path(), &cfg).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("/f") && msg.contains("\"bob\""), "{msg}");
}

#[test]
fn duplicate_resolved_paths_are_rejected() {
    let t = tempfile::tempdir().unwrap();
    std::fs::create_dir(t.path().join("real")).unwrap();
    std::os::unix::fs::symlink("/real", t.path().join("alias")).unwrap();
    let cfg = v(json!({"storage": {"files": [
        {"path": "/real/f", "contents": data("1")},
        {"path": "/alias/f", "contents": data("2")}
    ]}}));
    let e = run(t.path(), &cfg).unwrap_err();
    assert!(e.to_string().contains("also resolves there"), "{e}");
    assert!(!t.path().join("real/f").exists());
}

#[test]
fn root_that_is_not_a_directory_fails_early() {
    let t = tempfile::tempdir().unwrap();
    let f = t.path().join("file");
    std::fs::write(&f, "x").unwrap();
    assert!(reignite_engine::Root::open(&f).is_err());
}

#[test]
fn read_only_root_fails_before_any_write() {
    if !is_root() {
        eprintln!(
            "skipping read_only_root_fails_before_any_write: needs root for a read-only bind mount"
        );
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let mnt = t.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    // A read-only tmpfs mount in a private namespace is not available
    // everywhere; use a plain permission check instead when mounting fails.
    let ok = rustix::mount::mount(
        "none",
        &mnt,
        "tmpfs",
        rustix::mount::MountFlags::RDONLY,
        None::<&std::ffi::CStr>,
    );
    if ok.is_err() {
        eprintln!("skipping read_only_root_fails_before_any_write: cannot mount tmpfs here");
        return;
    }
    let e = run(&mnt, &rich_config()).unwrap_err();
    let _ = rustix::mount::unmount(&mnt, rustix::mount::UnmountFlags::DETACH);
    assert!(matches!(e, ApplyError::Root { .. }), "{e}");
    assert!(e.to_string().contains("nothing was changed"), "{e}");
}

#[test]
fn special_bits_applied_with_chown_first() {
    if !is_root() {
        eprintln!("skipping special_bits_applied_with_chown_first: needs root to chown");
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let cfg = v(json!({"storage": {
        "files": [{"path": "/suid", "contents": data("x"), "mode": 0o4755, "user": {"id": 1500}, "group": {"id": 1600}}],
        "directories": [{"path": "/tmpdir", "mode": 0o1777}]
    }}));
    run(t.path(), &cfg).unwrap();
    let md = std::fs::metadata(t.path().join("suid")).unwrap();
    assert_eq!(
        (md.mode() & 0o7777, md.uid(), md.gid()),
        (0o4755, 1500, 1600)
    );
    assert_eq!(
        std::fs::metadata(t.path().join("tmpdir")).unwrap().mode() & 0o7777,
        0o1777
    );
}

#[test]
fn unmask_removes_only_dev_null_links() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("etc/systemd/system");
    std::fs::create_dir_all(&d).unwrap();
    std::os::unix::fs::symlink("/dev/null", d.join("a.service")).unwrap();
    std::os::unix::fs::symlink("/elsewhere", d.join("b.service")).unwrap();
    let cfg = v(json!({"systemd": {"units": [
        {"name": "a.service", "mask": false},
        {"name": "b.service", "mask": false}
    ]}}));
    run(t.path(), &cfg).unwrap();
    assert!(std::fs::symlink_metadata(d.join("a.service")).is_err());
    assert!(std::fs::symlink_metadata(d.join("b.service")).is_ok());
}

#[test]
fn provision_records_no_generation_and_is_rerunnable_until_cleared() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    let f = DataFetcher;
    let root = reignite_engine::Root::open(r).unwrap();
    let cfg = rich_config();
    let m1 = reignite_engine::provision(&root, &cfg, opts(&f), &mut |_| {}).unwrap();
    assert!(!r.join("var/lib/reignite/current").exists());
    assert!(r.join("var/lib/reignite/apply.journal").exists());
    // Same config again: the journal marks the files as reignite's own.
    let m2 = reignite_engine::provision(&root, &cfg, opts(&f), &mut |_| {}).unwrap();
    assert_eq!(m1.nodes.len(), m2.nodes.len());
    assert!(m2.node("/etc/hostname").unwrap().created);
    reignite_engine::clear_journal(&root).unwrap();
    assert!(!r.join("var/lib/reignite/apply.journal").exists());
    // Without the journal the files are foreign: Ignition's rules apply.
    let e = reignite_engine::provision(&root, &cfg, opts(&f), &mut |_| {}).unwrap_err();
    assert!(e.to_string().contains("A file exists there already"), "{e}");
}

#[test]
fn temp_files_of_a_killed_apply_are_removed_on_rerun() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    let cfg = rich_config();
    // Interrupt after the first files are written.
    assert!(matches!(
        run_failing_at(r, &cfg, 8),
        Err(ApplyError::Injected(8))
    ));
    // What a kill in the middle of a write leaves behind.
    std::fs::create_dir_all(r.join("etc")).unwrap();
    std::fs::write(r.join("etc/.reignite-tmp-motd-1-2-3"), "partial").unwrap();
    run(r, &cfg).unwrap();
    let left: Vec<String> = snapshot(r, false)
        .into_keys()
        .filter(|p| p.contains(".reignite-tmp-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn per_file_fsync_gives_the_same_tree() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let cfg = rich_config();
    run(a.path(), &cfg).unwrap();
    let f = DataFetcher;
    let root = reignite_engine::Root::open(b.path()).unwrap();
    let mut o = opts(&f);
    o.durability = reignite_sysutil::Durability::Fsync;
    reignite_engine::apply(&root, &cfg, o, &mut |_| {}).unwrap();
    assert_eq!(snapshot(a.path(), false), snapshot(b.path(), false));
}

/// 300 files in 7 directories: several windows of files announced ahead in
/// the journal (one journal write per window).
fn many_files_config() -> reignite_spec::Config {
    let files: Vec<_> = (0..300)
        .map(|i| {
            let mut f =
                json!({"path": format!("/m/d{}/f{i}", i % 7), "contents": data(&format!("{i}\n"))});
            if i % 50 == 7 {
                f = json!({"path": format!("/m/d{}/f{i}", i % 7)});
            }
            f
        })
        .collect();
    v(json!({"storage": {"files": files}}))
}

fn manifest_of(r: &std::path::Path) -> reignite_engine::Manifest {
    let m =
        std::fs::read_to_string(r.join("var/lib/reignite/generations/1/manifest.json")).unwrap();
    reignite_engine::Manifest::from_json(&m).unwrap()
}

#[test]
fn interrupted_between_files_announced_ahead_then_rerun_completes() {
    let cfg = many_files_config();
    let clean = tempfile::tempdir().unwrap();
    run(clean.path(), &cfg).unwrap();
    let want = snapshot(clean.path(), true);
    let want_manifest = manifest_summary(&manifest_of(clean.path()));
    // Before the first file, inside the first window, at a window boundary,
    // inside a later window.
    for n in [0, 1, 60, 127, 128, 129, 200, 299] {
        let t = tempfile::tempdir().unwrap();
        assert!(
            matches!(
                run_failing_at(t.path(), &cfg, n),
                Err(ApplyError::Injected(_))
            ),
            "point {n}"
        );
        let _ = run_failing_at(t.path(), &cfg, n / 2);
        run(t.path(), &cfg).unwrap_or_else(|e| panic!("re-run after failure at {n}: {e}"));
        assert_eq!(snapshot(t.path(), true), want, "tree after failure at {n}");
        assert_eq!(
            manifest_summary(&manifest_of(t.path())),
            want_manifest,
            "manifest after failure at {n}"
        );
    }
}

#[test]
fn hash_mismatch_in_a_window_stops_at_that_file() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    let mut bad = data("five");
    bad.verification.hash = Some(format!("sha256-{}", "0".repeat(64)));
    let files: Vec<_> = (0..10)
        .map(|i| {
            let c = if i == 5 {
                bad.clone()
            } else {
                data(&i.to_string())
            };
            json!({"path": format!("/w/f{i}"), "contents": c})
        })
        .collect();
    let e = run(r, &v(json!({"storage": {"files": files}}))).unwrap_err();
    assert!(e.to_string().contains("/w/f5"), "{e}");
    for i in 0..10 {
        assert_eq!(r.join(format!("w/f{i}")).exists(), i < 5, "f{i}");
    }
    let left: Vec<String> = snapshot(r, false)
        .into_keys()
        .filter(|p| p.contains(".reignite-tmp-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn many_files_are_reported_and_recorded_in_order() {
    let t = tempfile::tempdir().unwrap();
    let cfg = many_files_config();
    let f = DataFetcher;
    let root = reignite_engine::Root::open(t.path()).unwrap();
    let mut events = Vec::new();
    reignite_engine::apply(&root, &cfg, opts(&f), &mut |e| {
        if e.step == "files" {
            events.push(e.subject.clone());
        }
    })
    .unwrap();
    let want: Vec<String> = cfg
        .storage
        .files
        .iter()
        .map(|f| f.node.path.clone())
        .collect();
    assert_eq!(events, want);
    let declared: Vec<String> = manifest_of(t.path())
        .nodes
        .iter()
        .filter(|n| n.origin == reignite_engine::manifest::Origin::Declared)
        .map(|n| n.path.clone())
        .collect();
    assert_eq!(declared, want);
    for (i, p) in want.iter().enumerate() {
        let got = std::fs::read_to_string(t.path().join(&p[1..])).unwrap();
        let expect = if i % 50 == 7 {
            String::new()
        } else {
            format!("{i}\n")
        };
        assert_eq!(got, expect, "{p}");
    }
}

#[test]
fn new_file_without_declared_owner_keeps_its_creation_owner() {
    if !is_root() {
        eprintln!("skipping: needs root to chown the fixture");
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    std::fs::create_dir(r.join("sg")).unwrap();
    std::os::unix::fs::chown(r.join("sg"), Some(0), Some(1234)).unwrap();
    std::fs::set_permissions(r.join("sg"), PermissionsExt::from_mode(0o2775)).unwrap();
    let cfg = v(json!({"storage": {"files": [
        {"path": "/sg/f", "contents": data("x")},
        {"path": "/sg/g", "contents": data("y"), "group": {"id": 0}},
        {"path": "/plain", "contents": data("z")}
    ]}}));
    let Outcome::Applied { manifest, .. } = run(r, &cfg).unwrap() else {
        panic!("not applied");
    };
    // As Ignition: the owner a new file gets by being created (here the
    // setgid directory's group), unless the config names one.
    let md = std::fs::metadata(r.join("sg/f")).unwrap();
    assert_eq!((md.uid(), md.gid()), (0, 1234));
    assert_eq!(manifest.node("/sg/f").unwrap().gid, 1234);
    let md = std::fs::metadata(r.join("sg/g")).unwrap();
    assert_eq!((md.uid(), md.gid()), (0, 0));
    let md = std::fs::metadata(r.join("plain")).unwrap();
    assert_eq!((md.uid(), md.gid(), md.mode() & 0o7777), (0, 0, 0o644));
}
