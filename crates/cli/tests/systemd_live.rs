//! Unit actions on a live root, without a live systemd: the test hook
//! `REIGNITE_TEST_LIVE_ROOT` makes a scratch root count as the running
//! system's `/`, and a fake `systemctl` / `systemd-run` on PATH records every
//! call — with whether the unit's file existed at that moment — so the exact
//! order (stop before the files go, daemon-reload after they are in place,
//! presets, try-restart only with `--restart-units`, the `--try` timer and
//! `confirm` stopping it) is checked on the real binary and engine.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const FAKE: &str = r#"#!/bin/sh
unit=""
for a in "$@"; do unit="$a"; done
state=absent
[ -e "$FAKE_ROOT/etc/systemd/system/$unit" ] && state=present
echo "$(basename "$0") $* [$state]" >> "$FAKE_LOG"
if [ "$1" = is-active ]; then
  [ -e "$FAKE_ROOT/../timer-active" ] && exit 0
  exit 3
fi
if [ -n "$FAKE_FAIL" ] && [ "$unit" = "$FAKE_FAIL" ]; then
  echo "Failed to $1 $unit: Unit $unit has a bad setting." >&2
  exit 1
fi
exit 0
"#;

struct Host {
    _dir: tempfile::TempDir,
    root: PathBuf,
    bin: PathBuf,
    log: PathBuf,
}

fn unit(name: &str, contents: &str, enabled: Option<bool>) -> serde_json::Value {
    let mut u = serde_json::json!({"name": name, "contents": contents});
    if let Some(e) = enabled {
        u["enabled"] = e.into();
    }
    u
}

fn config(dir: &Path, name: &str, units: Vec<serde_json::Value>) -> String {
    let v = serde_json::json!({
        "ignition": {"version": "3.4.0"},
        "storage": {"files": [{"path": "/etc/motd", "contents": {"source": format!("data:,{name}")}}]},
        "systemd": {"units": units},
    });
    let p = dir.join(format!("{name}.ign"));
    std::fs::write(&p, serde_json::to_vec(&v).unwrap()).unwrap();
    p.display().to_string()
}

const INSTALL: &str = "[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n";

fn v1(dir: &Path) -> String {
    config(
        dir,
        "v1",
        vec![
            unit("gone.service", INSTALL, Some(true)),
            unit("edited.service", INSTALL, Some(true)),
            unit("same.service", INSTALL, None),
        ],
    )
}

fn v2(dir: &Path) -> String {
    config(
        dir,
        "v2",
        vec![
            unit(
                "edited.service",
                "[Service]\nExecStart=/bin/false\n[Install]\nWantedBy=multi-user.target\n",
                Some(true),
            ),
            unit("same.service", INSTALL, None),
            unit("new.service", INSTALL, Some(false)),
        ],
    )
}

fn host() -> Host {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::create_dir_all(&bin).unwrap();
    for tool in ["systemctl", "systemd-run"] {
        let p = bin.join(tool);
        std::fs::write(&p, FAKE).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let log = dir.path().join("calls.log");
    let h = Host {
        root,
        bin,
        log,
        _dir: dir,
    };
    let cfg = v1(h._dir.path());
    let out = h.run(&["apply", "--format", "json", "--root", &h.r(), &cfg], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    h
}

impl Host {
    fn r(&self) -> String {
        self.root.display().to_string()
    }

    fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let path = format!(
            "{}:{}",
            self.bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut c = Command::new(env!("CARGO_BIN_EXE_reignite"));
        c.args(args)
            .env("PATH", path)
            .env("FAKE_ROOT", &self.root)
            .env("FAKE_LOG", &self.log)
            .env_remove("FAKE_FAIL");
        for (k, v) in env {
            c.env(k, v);
        }
        c.output().unwrap()
    }

    fn live(&self, args: &[&str], extra: &[(&str, &str)]) -> Output {
        let r = self.r();
        let mut env = vec![("REIGNITE_TEST_LIVE_ROOT", r.as_str())];
        env.extend_from_slice(extra);
        self.run(args, &env)
    }

    fn calls(&self) -> Vec<String> {
        let c = std::fs::read_to_string(&self.log).unwrap_or_default();
        let _ = std::fs::remove_file(&self.log);
        c.lines().map(str::to_string).collect()
    }
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

#[test]
fn switch_stops_removed_units_before_their_files_go_then_reloads_and_presets() {
    let h = host();
    let cfg = v2(h._dir.path());
    let plan = ok(&h.live(
        &[
            "plan",
            "--switch",
            "--format",
            "json",
            "--root",
            &h.r(),
            &cfg,
        ],
        &[],
    ));
    let plan: serde_json::Value = serde_json::from_str(&plan).unwrap();
    assert_eq!(
        plan["unit-actions"],
        serde_json::json!({"stop": ["gone.service"], "preset": ["edited.service", "new.service"], "changed": ["edited.service", "new.service"]})
    );
    assert!(h.calls().is_empty(), "plan runs nothing");
    let stdout = ok(&h.live(&["switch", "--root", &h.r(), &cfg], &[]));
    assert_eq!(
        h.calls(),
        [
            "systemctl stop gone.service [present]",
            "systemctl disable gone.service [present]",
            "systemctl daemon-reload [absent]",
            "systemctl preset edited.service [present]",
            "systemctl preset new.service [present]",
        ],
        "no try-restart without --restart-units"
    );
    assert!(
        stdout.contains("systemd: systemctl stop gone.service"),
        "{stdout}"
    );
    assert!(!h.root.join("etc/systemd/system/gone.service").exists());
    assert!(
        !h.root.join("var/lib/reignite/apply.journal").exists(),
        "the engine's journal is dropped once the generation is recorded"
    );

    // Back, with restarts: new.service only exists in the undone generation.
    let out = h.live(
        &[
            "rollback",
            "--root",
            &h.r(),
            "--restart-units",
            "--format",
            "json",
        ],
        &[],
    );
    let v: serde_json::Value = serde_json::from_str(&ok(&out)).unwrap();
    assert_eq!(v["rolled-back-to"], 1);
    assert_eq!(
        h.calls(),
        [
            "systemctl is-active --quiet reignite-try-revert.timer [absent]",
            "systemctl stop new.service [present]",
            "systemctl disable new.service [present]",
            "systemctl daemon-reload [absent]",
            "systemctl preset edited.service [present]",
            "systemctl preset gone.service [present]",
            "systemctl try-restart edited.service [present]",
            "systemctl try-restart gone.service [present]",
        ]
    );
    assert_eq!(
        v["systemd"]["actions"]["changed"],
        serde_json::json!(["edited.service", "gone.service"])
    );
}

#[test]
fn restart_units_restarts_only_changed_units() {
    let h = host();
    let cfg = v2(h._dir.path());
    let out = h.live(
        &[
            "switch",
            "--root",
            &h.r(),
            "--restart-units",
            "--format",
            "json",
            &cfg,
        ],
        &[],
    );
    let v: serde_json::Value = serde_json::from_str(&ok(&out)).unwrap();
    let calls = h.calls();
    let restarts: Vec<_> = calls.iter().filter(|c| c.contains("try-restart")).collect();
    assert_eq!(
        restarts,
        [
            "systemctl try-restart edited.service [present]",
            "systemctl try-restart new.service [present]"
        ],
        "same.service did not change"
    );
    assert_eq!(
        calls.last().unwrap(),
        "systemctl try-restart new.service [present]"
    );
    assert_eq!(v["systemd"]["calls"].as_array().unwrap().len(), calls.len());
}

#[test]
fn no_unit_actions_off_a_live_root_or_with_no_systemd() {
    let h = host();
    let cfg = v2(h._dir.path());
    // Not the live root: the hook points elsewhere.
    let stdout = ok(&h.run(
        &["switch", "--root", &h.r(), &cfg],
        &[("REIGNITE_TEST_LIVE_ROOT", "/nonexistent")],
    ));
    assert!(h.calls().is_empty());
    assert!(
        stdout.contains("systemd: no unit actions (")
            && stdout.contains("is not the running system's"),
        "{stdout}"
    );
    let stdout = ok(&h.live(&["rollback", "--root", &h.r(), "--no-systemd"], &[]));
    assert!(h.calls().is_empty());
    assert!(stdout.contains("--no-systemd was given"), "{stdout}");
}

#[test]
fn a_failing_stop_names_the_unit_and_changes_nothing() {
    let h = host();
    let cfg = v2(h._dir.path());
    let out = h.live(
        &["switch", "--root", &h.r(), &cfg],
        &[("FAKE_FAIL", "gone.service")],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("stopping unit gone.service"), "{err}");
    assert!(err.contains("Unit gone.service has a bad setting"), "{err}");
    assert!(err.contains("nothing else was changed"), "{err}");
    assert!(h.root.join("etc/systemd/system/gone.service").exists());
    assert_eq!(
        std::fs::read_to_string(h.root.join("etc/motd")).unwrap(),
        "v1"
    );
}

#[test]
fn try_schedules_a_transient_timer_and_confirm_stops_it() {
    let h = host();
    let cfg = v2(h._dir.path());
    let stdout = ok(&h.live(&["switch", "--root", &h.r(), "--try", "5m", &cfg], &[]));
    assert!(stdout.contains("reverts in 300s"), "{stdout}");
    let calls = h.calls();
    let exe = env!("CARGO_BIN_EXE_reignite");
    let tail: Vec<_> = calls[calls.len() - 2..].to_vec();
    assert_eq!(
        tail,
        [
            "systemctl is-active --quiet reignite-try-revert.timer [absent]".to_string(),
            format!(
                "systemd-run --unit=reignite-try-revert --on-active=300s --timer-property=AccuracySec=1s --description=reignite: revert an unconfirmed --try {exe} rollback --if-unconfirmed --root {} [absent]",
                h.r()
            ),
        ]
    );
    // What the timer runs, once confirmed, does nothing.
    std::fs::write(h.root.join("../timer-active"), "").unwrap();
    let stdout = ok(&h.live(&["confirm", "--root", &h.r()], &[]));
    assert!(stdout.contains("Generation 2 confirmed"), "{stdout}");
    assert_eq!(
        h.calls(),
        [
            "systemctl is-active --quiet reignite-try-revert.timer [absent]",
            "systemctl stop reignite-try-revert.timer [absent]",
        ]
    );
    let stdout = ok(&h.live(&["rollback", "--if-unconfirmed", "--root", &h.r()], &[]));
    assert!(
        stdout.contains("confirmed; nothing to roll back"),
        "{stdout}"
    );
    assert!(h.calls().is_empty());
}

#[test]
fn the_timer_command_reverts_an_unconfirmed_try() {
    let h = host();
    let cfg = v2(h._dir.path());
    ok(&h.live(&["switch", "--root", &h.r(), "--try", "90s", &cfg], &[]));
    h.calls();
    let stdout = ok(&h.live(&["rollback", "--if-unconfirmed", "--root", &h.r()], &[]));
    assert!(stdout.contains("generation 1 is active again"), "{stdout}");
    assert_eq!(
        std::fs::read_to_string(h.root.join("etc/motd")).unwrap(),
        "v1"
    );
    assert!(h
        .calls()
        .iter()
        .any(|c| c == "systemctl stop new.service [present]"));
}

#[test]
fn a_tried_reset_gets_its_timer_when_boot_runs() {
    // On the running system's `/` with systemd: a transient timer.
    let h = host();
    let cfg = v2(h._dir.path());
    ok(&h.live(&["reset", "--root", &h.r(), "--try", "10m", &cfg], &[]));
    assert!(h.calls().is_empty(), "staging runs nothing");
    let stdout = ok(&h.live(&["boot", "--root", &h.r()], &[]));
    assert!(
        stdout.contains("Trying generation 2: reverts in"),
        "{stdout}"
    );
    let calls = h.calls();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert_eq!(
        calls[0],
        "systemctl is-active --quiet reignite-try-revert.timer [absent]"
    );
    assert!(
        calls[1].starts_with("systemd-run --unit=reignite-try-revert --on-active=")
            && calls[1].contains(&format!("rollback --if-unconfirmed --root {}", h.r())),
        "{}",
        calls[1]
    );

    // In the initramfs: runtime units for the real system's systemd.
    let h = host();
    let cfg = v2(h._dir.path());
    ok(&h.run(&["reset", "--root", &h.r(), "--try", "10m", &cfg], &[]));
    let units = h._dir.path().join("run-systemd-system");
    let stdout = ok(&h.run(
        &[
            "boot",
            "--root",
            &h.r(),
            "--try-timer-dir",
            &units.display().to_string(),
        ],
        &[],
    ));
    assert!(
        stdout.contains("reignite-try-revert.timer reverts it in"),
        "{stdout}"
    );
    assert!(h.calls().is_empty());
    let service = std::fs::read_to_string(units.join("reignite-try-revert.service")).unwrap();
    assert!(
        service.contains("rollback --if-unconfirmed --root /\n"),
        "{service}"
    );
    assert!(units
        .join("timers.target.wants/reignite-try-revert.timer")
        .exists());
}
