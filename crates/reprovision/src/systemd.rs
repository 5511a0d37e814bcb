//! systemd on a live root: the unit actions of a transition and the
//! transient timer of `--try`.
//!
//! A transition from config A to config B (switch, rollback, the revert of a
//! try) on the running system's `/` with systemd running
//! (`/run/systemd/system`) does, through `systemctl`:
//!
//! 1. before any file goes: `stop`, then `disable`, each unit whose unit file
//!    A wrote and B no longer declares (systemctl needs the file to disable);
//! 2. after the files are in place: `daemon-reload`;
//! 3. `preset` of every unit B declares with `enabled` (exactly the units in
//!    B's `20-ignition.preset`, so systemd applies Ignition's own preset
//!    semantics), and of every unit A declared with `enabled` that B still
//!    has but no longer presets (it returns to the image's presets);
//! 4. only with `--restart-units`: `try-restart` of every remaining unit whose
//!    unit file, dropins or mask changed (running units only; nothing is
//!    started).
//!
//! One call per unit, so an error names the unit and carries systemctl's
//! stderr. On any other root, without systemd, or with `--no-systemd`,
//! nothing runs and the report says why.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use reignite_sysutil::CommandRunExt;
use serde::Serialize;
use sha2::{Digest, Sha256};

/// Name of the transient unit that reverts an unconfirmed `--try`.
pub const TRY_UNIT: &str = "reignite-try-revert";

/// What a transition does to units, from the two configs alone.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct UnitActions {
    /// Stopped and disabled before their files go.
    pub stop: Vec<String>,
    /// `systemctl preset` after the daemon-reload.
    pub preset: Vec<String>,
    /// Unit files, dropins or mask changed: `try-restart` with
    /// `--restart-units`.
    pub changed: Vec<String>,
}

#[derive(Debug, Default)]
struct UnitDecl {
    enabled: Option<bool>,
    has_contents: bool,
    /// (path, sha256 of contents or link target) of every file the unit
    /// entry makes.
    files: BTreeSet<(String, String)>,
}

fn sha(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

fn declared_units(config: &serde_json::Value) -> BTreeMap<String, UnitDecl> {
    let mut out = BTreeMap::new();
    for u in config["systemd"]["units"].as_array().into_iter().flatten() {
        let Some(name) = u["name"].as_str() else {
            continue;
        };
        let masked = u["mask"].as_bool() == Some(true);
        let mut d = UnitDecl {
            // A masked unit has no enablement to preset.
            enabled: u["enabled"].as_bool().filter(|_| !masked),
            ..UnitDecl::default()
        };
        let unit_path = format!("/etc/systemd/system/{name}");
        if masked {
            d.files.insert((unit_path.clone(), "-> /dev/null".into()));
        } else if let Some(c) = u["contents"].as_str() {
            d.has_contents = true;
            d.files.insert((unit_path.clone(), sha(c)));
        }
        for di in u["dropins"].as_array().into_iter().flatten() {
            if let (Some(n), Some(c)) = (di["name"].as_str(), di["contents"].as_str()) {
                d.files.insert((format!("{unit_path}.d/{n}"), sha(c)));
            }
        }
        out.insert(name.to_string(), d);
    }
    out
}

/// The unit actions of a transition from config `old` (None: no previous
/// config known) to config `new` (canonical Ignition JSON values).
pub fn unit_actions(old: Option<&serde_json::Value>, new: &serde_json::Value) -> UnitActions {
    let a = old.map(declared_units).unwrap_or_default();
    let b = declared_units(new);
    let stop: Vec<String> = a
        .iter()
        .filter(|(n, d)| d.has_contents && !b.get(*n).is_some_and(|x| x.has_contents))
        .map(|(n, _)| n.clone())
        .collect();
    let mut preset: BTreeSet<String> = b
        .iter()
        .filter(|(_, d)| d.enabled.is_some())
        .map(|(n, _)| n.clone())
        .collect();
    for (n, d) in &a {
        if d.enabled.is_some() && !stop.contains(n) && b.get(n).is_none_or(|x| x.enabled.is_none())
        {
            preset.insert(n.clone());
        }
    }
    let changed = a
        .keys()
        .chain(b.keys())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .filter(|n| !stop.contains(n))
        .filter(|n| {
            let fa = a.get(*n).map(|d| &d.files);
            let fb = b.get(*n).map(|d| &d.files);
            fa.unwrap_or(&BTreeSet::new()) != fb.unwrap_or(&BTreeSet::new())
        })
        .cloned()
        .collect();
    UnitActions {
        stop,
        preset: preset.into_iter().collect(),
        changed,
    }
}

/// What was done to systemd during a transition, for human and JSON output.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct SystemdReport {
    /// Why nothing was run (not a live root, no systemd, `--no-systemd`);
    /// `None` when the unit actions were carried out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    /// The planned actions.
    pub actions: UnitActions,
    /// The systemctl/systemd-run calls made, in order (arguments only).
    pub calls: Vec<String>,
    /// The first failed call, with the tool's stderr.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A systemctl or systemd-run call failed.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {source}")]
pub struct SystemdError {
    /// What was being done, naming the unit.
    pub what: String,
    /// The failed command with its stderr.
    #[source]
    pub source: reignite_sysutil::CommandError,
}

/// Whether and how unit actions run.
#[derive(Debug, Clone)]
pub struct Systemd {
    skip: Option<String>,
    systemctl: PathBuf,
    systemd_run: PathBuf,
    /// `--restart-units`: `try-restart` changed units.
    pub restart_units: bool,
}

impl Systemd {
    /// Nothing is run; `reason` is reported.
    pub fn skipped(reason: impl Into<String>) -> Self {
        Systemd {
            skip: Some(reason.into()),
            systemctl: "systemctl".into(),
            systemd_run: "systemd-run".into(),
            restart_units: false,
        }
    }

    /// Unit actions run with `systemctl` and `systemd-run` from `PATH`.
    pub fn live() -> Self {
        Systemd {
            skip: None,
            ..Systemd::skipped("")
        }
    }

    /// Unit actions run with these programs (tests use recording fakes).
    pub fn with_programs(systemctl: impl Into<PathBuf>, systemd_run: impl Into<PathBuf>) -> Self {
        Systemd {
            skip: None,
            systemctl: systemctl.into(),
            systemd_run: systemd_run.into(),
            restart_units: false,
        }
    }

    /// Live when `root` is `live_root` (the running system's `/`) and
    /// `runtime_dir` (`/run/systemd/system`) exists; skipped otherwise, or
    /// when `disabled` (`--no-systemd`).
    pub fn detect(root: &Path, live_root: &Path, runtime_dir: &Path, disabled: bool) -> Self {
        if disabled {
            return Systemd::skipped("--no-systemd was given");
        }
        let same = match (root.canonicalize(), live_root.canonicalize()) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        };
        if !same {
            return Systemd::skipped(format!(
                "{} is not the running system's {}",
                root.display(),
                live_root.display()
            ));
        }
        if !runtime_dir.is_dir() {
            return Systemd::skipped(format!(
                "systemd is not running ({} does not exist)",
                runtime_dir.display()
            ));
        }
        Systemd::live()
    }

    /// Sets `--restart-units`.
    pub fn restart_units(mut self, yes: bool) -> Self {
        self.restart_units = yes;
        self
    }

    /// Why nothing runs, if so.
    pub fn skip_reason(&self) -> Option<&str> {
        self.skip.as_deref()
    }

    /// A report for `actions` before anything ran.
    pub fn report(&self, actions: UnitActions) -> SystemdReport {
        SystemdReport {
            skipped: self.skip.clone(),
            actions,
            ..SystemdReport::default()
        }
    }

    fn call(
        &self,
        report: &mut SystemdReport,
        program: &Path,
        args: &[&str],
        what: String,
    ) -> Result<(), SystemdError> {
        report.calls.push(args.join(" "));
        Command::new(program).args(args).run().map_err(|source| {
            let e = SystemdError { what, source };
            report.error.get_or_insert_with(|| e.to_string());
            e
        })
    }

    fn systemctl(
        &self,
        report: &mut SystemdReport,
        args: &[&str],
        what: String,
    ) -> Result<(), SystemdError> {
        let p = self.systemctl.clone();
        self.call(report, &p, args, what)
    }

    /// Step 1: stop and disable the removed units (before their files go).
    pub fn before_files(&self, report: &mut SystemdReport) -> Result<(), SystemdError> {
        if self.skip.is_some() {
            return Ok(());
        }
        for u in report.actions.stop.clone() {
            self.systemctl(
                report,
                &["stop", &u],
                format!("stopping unit {u} (no longer declared)"),
            )?;
            self.systemctl(
                report,
                &["disable", &u],
                format!("disabling unit {u} (no longer declared)"),
            )?;
        }
        Ok(())
    }

    /// Steps 2–4: daemon-reload, presets, try-restart with
    /// `--restart-units`.
    pub fn after_files(&self, report: &mut SystemdReport) -> Result<(), SystemdError> {
        if self.skip.is_some() {
            return Ok(());
        }
        self.systemctl(
            report,
            &["daemon-reload"],
            "reloading systemd's units".into(),
        )?;
        for u in report.actions.preset.clone() {
            self.systemctl(
                report,
                &["preset", &u],
                format!("applying the preset of unit {u}"),
            )?;
        }
        if self.restart_units {
            for u in report.actions.changed.clone() {
                self.systemctl(
                    report,
                    &["try-restart", &u],
                    format!("restarting unit {u} (its files changed)"),
                )?;
            }
        }
        Ok(())
    }

    /// Stops a pending `--try` revert timer, if one is active. Returns
    /// whether one was stopped.
    pub fn cancel_revert(&self, report: &mut SystemdReport) -> Result<bool, SystemdError> {
        if self.skip.is_some() {
            return Ok(false);
        }
        let timer = format!("{TRY_UNIT}.timer");
        report.calls.push(format!("is-active --quiet {timer}"));
        let active = Command::new(&self.systemctl)
            .args(["is-active", "--quiet", &timer])
            .run()
            .is_ok();
        if active {
            self.systemctl(
                report,
                &["stop", &timer],
                format!("stopping the --try revert timer {timer}"),
            )?;
        }
        Ok(active)
    }

    /// Schedules `command` (the revert) as a transient timer unit firing
    /// after `seconds`, replacing an earlier one.
    pub fn schedule_revert(
        &self,
        report: &mut SystemdReport,
        seconds: u64,
        command: &[String],
    ) -> Result<(), SystemdError> {
        if self.skip.is_some() {
            return Ok(());
        }
        self.cancel_revert(report)?;
        let unit = format!("--unit={TRY_UNIT}");
        let on = format!("--on-active={seconds}s");
        let mut args: Vec<&str> = vec![
            &unit,
            &on,
            "--timer-property=AccuracySec=1s",
            "--description=reignite: revert an unconfirmed --try",
        ];
        args.extend(command.iter().map(String::as_str));
        let p = self.systemd_run.clone();
        report.calls.push(format!("systemd-run {}", args.join(" ")));
        Command::new(&p).args(&args).run().map_err(|source| {
            let e = SystemdError {
                what: format!("scheduling the --try revert ({TRY_UNIT}.timer)"),
                source,
            };
            report.error.get_or_insert_with(|| e.to_string());
            e
        })
    }
}

/// Writes the `--try` revert as runtime units into `dir` (the initramfs's
/// `/run/systemd/system`, which the real system's systemd reads after the
/// switch to the new root): `reignite-try-revert.timer` (`OnActiveSec=`,
/// pulled in by `timers.target`) and the oneshot `.service` running
/// `command`. Like a transient timer, it is gone after the next reboot.
/// Returns the files written.
pub fn write_runtime_timer(
    dir: &Path,
    seconds: u64,
    command: &[String],
) -> std::io::Result<Vec<PathBuf>> {
    let exec = command
        .iter()
        .map(|a| {
            if a.contains([' ', '"', '\\', '$', '%', ';']) {
                Err(std::io::Error::other(format!(
                    "cannot put {a:?} into a unit's ExecStart="
                )))
            } else {
                Ok(a.as_str())
            }
        })
        .collect::<Result<Vec<_>, _>>()?
        .join(" ");
    let timer = format!(
        "[Unit]\nDescription=reignite: revert an unconfirmed --try\n\n[Timer]\nOnActiveSec={seconds}s\nAccuracySec=1s\n"
    );
    let service = format!(
        "[Unit]\nDescription=reignite: revert an unconfirmed --try\n\n[Service]\nType=oneshot\nExecStart={exec}\n"
    );
    let wants = dir.join("timers.target.wants");
    std::fs::create_dir_all(&wants)?;
    let t = format!("{TRY_UNIT}.timer");
    let sv = format!("{TRY_UNIT}.service");
    crate::util::write_bytes(dir, &t, timer.as_bytes(), 0o644)?;
    crate::util::write_bytes(dir, &sv, service.as_bytes(), 0o644)?;
    let link = wants.join(&t);
    if std::fs::symlink_metadata(&link).is_err() {
        std::os::unix::fs::symlink(format!("../{t}"), &link)?;
    }
    Ok(vec![dir.join(t), dir.join(sv), link])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn unit(name: &str, contents: Option<&str>, enabled: Option<bool>) -> serde_json::Value {
        let mut u = json!({ "name": name });
        if let Some(c) = contents {
            u["contents"] = json!(c);
        }
        if let Some(e) = enabled {
            u["enabled"] = json!(e);
        }
        u
    }

    fn cfg(units: Vec<serde_json::Value>) -> serde_json::Value {
        json!({"ignition": {"version": "3.4.0"}, "systemd": {"units": units}})
    }

    #[test]
    fn actions_follow_the_two_configs() {
        let a = cfg(vec![
            unit("gone.service", Some("[Service]\n"), Some(true)),
            unit("same.service", Some("[Service]\n"), Some(true)),
            unit("edited.service", Some("[Service]\nA=1\n"), None),
            unit("vendor.service", None, Some(true)),
            json!({"name": "masked.service", "mask": true, "enabled": true}),
            json!({"name": "dropped-dropin.service", "dropins": [{"name": "x.conf", "contents": "[Unit]\n"}]}),
        ]);
        let b = cfg(vec![
            unit("same.service", Some("[Service]\n"), Some(true)),
            unit("edited.service", Some("[Service]\nA=2\n"), Some(false)),
            unit("new.service", Some("[Service]\n"), Some(true)),
        ]);
        let got = unit_actions(Some(&a), &b);
        assert_eq!(got.stop, ["gone.service"]);
        assert_eq!(
            got.preset,
            [
                "edited.service",
                "new.service",
                "same.service",
                "vendor.service"
            ],
            "declared with enabled, plus a unit that lost its preset line"
        );
        assert_eq!(
            got.changed,
            [
                "dropped-dropin.service",
                "edited.service",
                "masked.service",
                "new.service"
            ],
            "an unmasked unit changed too"
        );
        assert_eq!(unit_actions(Some(&b), &b).changed, Vec::<String>::new());
    }

    #[test]
    fn calls_in_order_and_errors_name_the_unit() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let log = d.path().join("log");
        let fake = d.path().join("systemctl");
        std::fs::write(
            &fake,
            format!(
                "#!/bin/sh\necho \"$*\" >> {}\n[ \"$2\" = bad.service ] && {{ echo 'Unit bad.service is broken.' >&2; exit 1; }}\nexit 0\n",
                log.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        let s = Systemd::with_programs(&fake, "/nonexistent/systemd-run").restart_units(true);
        let mut r = s.report(UnitActions {
            stop: vec!["old.service".into()],
            preset: vec!["a.service".into()],
            changed: vec!["a.service".into()],
        });
        s.before_files(&mut r).unwrap();
        s.after_files(&mut r).unwrap();
        assert_eq!(
            std::fs::read_to_string(&log).unwrap(),
            "stop old.service\ndisable old.service\ndaemon-reload\npreset a.service\ntry-restart a.service\n"
        );
        assert_eq!(r.calls.len(), 5);
        let mut r = s.report(UnitActions {
            preset: vec!["bad.service".into()],
            ..UnitActions::default()
        });
        let e = s.after_files(&mut r).unwrap_err().to_string();
        assert!(e.contains("applying the preset of unit bad.service"), "{e}");
        assert!(e.contains("Unit bad.service is broken."), "{e}");
        assert_eq!(r.error.as_deref(), Some(e.as_str()));
        // Skipped: nothing runs.
        let off = Systemd::skipped("--no-systemd was given");
        let mut r = off.report(UnitActions {
            stop: vec!["x.service".into()],
            ..UnitActions::default()
        });
        off.before_files(&mut r).unwrap();
        off.after_files(&mut r).unwrap();
        assert!(r.calls.is_empty());
    }

    #[test]
    fn runtime_timer_units() {
        let d = tempfile::tempdir().unwrap();
        let cmd: Vec<String> = [
            "/usr/bin/reignite",
            "rollback",
            "--if-unconfirmed",
            "--root",
            "/",
        ]
        .map(String::from)
        .to_vec();
        let files = write_runtime_timer(d.path(), 600, &cmd).unwrap();
        assert_eq!(files.len(), 3);
        let timer = std::fs::read_to_string(d.path().join("reignite-try-revert.timer")).unwrap();
        assert!(timer.contains("\nOnActiveSec=600s\n"), "{timer}");
        let service =
            std::fs::read_to_string(d.path().join("reignite-try-revert.service")).unwrap();
        assert!(
            service.contains("\nExecStart=/usr/bin/reignite rollback --if-unconfirmed --root /\n"),
            "{service}"
        );
        assert_eq!(
            std::fs::read_link(
                d.path()
                    .join("timers.target.wants/reignite-try-revert.timer")
            )
            .unwrap()
            .display()
            .to_string(),
            "../reignite-try-revert.timer"
        );
        let bad = vec!["/a b".to_string()];
        assert!(write_runtime_timer(d.path(), 1, &bad).is_err());
    }

    #[test]
    fn detection_names_the_reason() {
        let d = tempfile::tempdir().unwrap();
        let other = tempfile::tempdir().unwrap();
        let run = d.path().join("run-systemd");
        let s = Systemd::detect(d.path(), other.path(), &run, false);
        assert!(s
            .skip_reason()
            .unwrap()
            .contains("is not the running system's"));
        let s = Systemd::detect(d.path(), d.path(), &run, false);
        assert!(s.skip_reason().unwrap().contains("systemd is not running"));
        std::fs::create_dir(&run).unwrap();
        assert!(Systemd::detect(d.path(), d.path(), &run, false)
            .skip_reason()
            .is_none());
        assert_eq!(
            Systemd::detect(d.path(), d.path(), &run, true).skip_reason(),
            Some("--no-systemd was given")
        );
    }
}
