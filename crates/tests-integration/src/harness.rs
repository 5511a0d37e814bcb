//! Runs one corpus case through both engines on identical fresh roots and
//! compares the results; renders the summary printed by the test binaries.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::case::{self, Case, Expect, Known};
use crate::compare::{self, Difference, Excused};
use crate::exceptions;
use crate::ignition::{self, Outcome};
use crate::report::{self, ReportComparison};
use crate::tree::Tree;

/// The two engines and the environment they share.
#[derive(Debug)]
pub struct Harness {
    reignite: PathBuf,
    /// Holds the `setfiles` stub (kept alive for the `PATH` below).
    _stub_dir: tempfile::TempDir,
    path_env: OsString,
}

/// Everything learnt from one case.
#[derive(Debug)]
pub struct CaseResult {
    /// The case.
    pub case: Case,
    /// Ignition's run.
    pub ignition: Outcome,
    /// reignite's run.
    pub reignite: Outcome,
    /// Unexplained differences: each one fails the case.
    pub differences: Vec<Difference>,
    /// Differences covered by a global exception.
    pub excused: Vec<Excused>,
    /// Differences covered by the case's `known` list.
    pub known: Vec<(Known, Difference)>,
    /// `known` entries that matched nothing (fixed bugs, stale entries).
    pub stale_known: Vec<Known>,
    /// Corpus or harness problems (e.g. the expectation contradicts Ignition).
    pub problems: Vec<String>,
}

impl CaseResult {
    /// No unexplained difference and no problem.
    pub fn passed(&self) -> bool {
        self.differences.is_empty() && self.problems.is_empty()
    }
}

impl Harness {
    /// Prepares the shared environment; `reignite` is the binary to test.
    pub fn new(reignite: PathBuf) -> std::io::Result<Harness> {
        let stub_dir = tempfile::tempdir()?;
        let setfiles = stub_dir.path().join("setfiles");
        // Ignition 2.14 pipes the relabel list into `setfiles`; there is no
        // SELinux policy in a scratch root, so the stub only drains stdin.
        fs::write(&setfiles, "#!/bin/sh\ncat >/dev/null\n")?;
        fs::set_permissions(&setfiles, fs::Permissions::from_mode(0o755))?;
        let mut path_env = stub_dir.path().as_os_str().to_owned();
        path_env.push(":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
        Ok(Harness {
            reignite,
            _stub_dir: stub_dir,
            path_env,
        })
    }

    /// The `PATH` both engines run with.
    pub fn path_env(&self) -> &OsString {
        &self.path_env
    }

    /// Runs `reignite ARGS` (argv[0] `reignite`) in `work`.
    pub fn reignite(&self, work: &Path, args: &[&std::ffi::OsStr], tag: &str) -> Outcome {
        let mut cmd = Command::new(&self.reignite);
        cmd.arg0("reignite")
            .env_clear()
            .env("PATH", &self.path_env)
            .current_dir(work)
            .args(args);
        ignition::run_captured(cmd, work, tag)
    }

    /// Probes whether `reignite apply` is implemented: `Some(reason)` if not.
    pub fn apply_unimplemented(&self) -> Option<String> {
        let work = tempfile::tempdir().ok()?;
        let root = work.path().join("root");
        fs::create_dir(&root).ok()?;
        let config = work.path().join("config.ign");
        fs::write(&config, r#"{"ignition":{"version":"3.3.0"}}"#).ok()?;
        let o = self.reignite(
            work.path(),
            &[
                "apply".as_ref(),
                "--root".as_ref(),
                root.as_os_str(),
                config.as_os_str(),
            ],
            "probe",
        );
        (o.log.contains("not implemented")).then(|| format!("`reignite apply` {}", o.reason()))
    }

    /// Runs only Ignition on a fresh root for `case`.
    pub fn ignition_only(&self, case: &Case) -> std::io::Result<Outcome> {
        let work = tempfile::Builder::new()
            .prefix("reignite-diff-")
            .tempdir()?;
        let root = work.path().join("root");
        fs::create_dir_all(&root)?;
        case::populate_base(&root)?;
        case::populate_setup(&root, &case.setup)?;
        let config = work.path().join("config.ign");
        fs::write(&config, &case.config)?;
        Ok(ignition::run(work.path(), &root, &config, &self.path_env))
    }

    /// Runs `case` through both engines and compares.
    pub fn run_case(&self, case: &Case) -> std::io::Result<CaseResult> {
        let work = tempfile::Builder::new()
            .prefix("reignite-diff-")
            .tempdir()?;
        let w = work.path();
        let (ign_root, rei_root) = (w.join("ignition/root"), w.join("reignite/root"));
        for root in [&ign_root, &rei_root] {
            fs::create_dir_all(root)?;
            case::populate_base(root)?;
            case::populate_setup(root, &case.setup)?;
        }
        let config = w.join("config.ign");
        fs::write(&config, &case.config)?;
        let ign = ignition::run(&w.join("ignition"), &ign_root, &config, &self.path_env);
        let rei = self.reignite(
            &w.join("reignite"),
            &[
                "apply".as_ref(),
                "--root".as_ref(),
                rei_root.as_os_str(),
                config.as_os_str(),
            ],
            "reignite-apply",
        );
        let cmp = compare::compare_trees(&Tree::capture(&ign_root)?, &Tree::capture(&rei_root)?);

        let mut problems = Vec::new();
        let expected = case.expect == Expect::Success;
        if ign.success != expected {
            problems.push(format!(
                "the case expects {:?} but Ignition 2.14 {}: {}",
                case.expect,
                if ign.success { "succeeded" } else { "failed" },
                ign.reason()
            ));
        }
        let mut all = Vec::new();
        if ign.success != rei.success {
            all.push(Difference {
                path: "(exit)".into(),
                detail: if ign.success {
                    format!("ignition succeeded, reignite failed: {}", rei.reason())
                } else {
                    format!("ignition failed ({}), reignite succeeded", ign.reason())
                },
            });
        }
        all.extend(cmp.differences);
        let mut excused = cmp.excused;
        match report::compare(&ign.log, &rei.log) {
            ReportComparison::Same => {}
            ReportComparison::Excused(e) => excused.push(e),
            ReportComparison::Differs(d) => all.push(d),
        }
        let (mut differences, mut known) = (Vec::new(), Vec::new());
        for d in all {
            let line = d.to_string();
            match case.known.iter().find(|k| line.contains(&k.matches)) {
                Some(k) => known.push((k.clone(), d)),
                None => differences.push(d),
            }
        }
        let stale_known = case
            .known
            .iter()
            .filter(|k| !known.iter().any(|(h, _)| h.matches == k.matches))
            .cloned()
            .collect();
        Ok(CaseResult {
            case: case.clone(),
            ignition: ign,
            reignite: rei,
            differences,
            excused,
            known,
            stale_known,
            problems,
        })
    }
}

fn version_of(config: &str) -> String {
    serde_json::from_str::<serde_json::Value>(config)
        .ok()
        .and_then(|v| v.pointer("/ignition/version")?.as_str().map(str::to_string))
        .unwrap_or_else(|| "unparsable".into())
}

/// The printed report: one line per case, details of failures, tolerated
/// differences with their reasons, and what was covered.
pub fn summary(title: &str, results: &[CaseResult]) -> String {
    let mut s = format!("== {title}\n");
    for r in results {
        let _ = writeln!(
            s,
            "{} {:<44} ignition {:<7} reignite {:<7} excused {} known {}",
            if r.passed() { "PASS" } else { "FAIL" },
            r.case.name,
            if r.ignition.success { "ok" } else { "failed" },
            if r.reignite.success { "ok" } else { "failed" },
            r.excused.len(),
            r.known.len()
        );
    }
    for r in results.iter().filter(|r| !r.passed()) {
        let _ = writeln!(s, "\n-- FAIL {}: {}", r.case.name, r.case.description);
        for p in &r.problems {
            let _ = writeln!(s, "   problem: {p}");
        }
        for d in &r.differences {
            let _ = writeln!(s, "   {d}");
        }
        if !r.reignite.success {
            let _ = writeln!(s, "   reignite said: {}", r.reignite.reason());
        }
        if !r.ignition.success {
            let _ = writeln!(s, "   ignition said: {}", r.ignition.reason());
        }
    }
    let known: Vec<&(Known, Difference)> = results.iter().flat_map(|r| &r.known).collect();
    if !known.is_empty() {
        let _ = writeln!(s, "\n-- known per-case differences ({}):", known.len());
        for r in results {
            for (k, d) in &r.known {
                let _ = writeln!(
                    s,
                    "   [{}] {}: {d}\n       because: {}",
                    k.kind, r.case.name, k.reason
                );
            }
        }
    }
    for r in results {
        for k in &r.stale_known {
            let _ = writeln!(
                s,
                "   note: {}: known difference {:?} no longer occurs; remove it from the case",
                r.case.name, k.matches
            );
        }
    }
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for e in results.iter().flat_map(|r| &r.excused) {
        *counts.entry(e.exception.id).or_default() += 1;
    }
    let _ = writeln!(s, "\n-- global exceptions applied:");
    for e in exceptions::ALL {
        let _ = writeln!(
            s,
            "   {:<15} x{:<3} {}",
            e.id,
            counts.get(e.id).unwrap_or(&0),
            e.reason
        );
    }
    let mut versions: BTreeMap<String, usize> = BTreeMap::new();
    for r in results {
        *versions.entry(version_of(&r.case.config)).or_default() += 1;
    }
    let passed = results.iter().filter(|r| r.passed()).count();
    let failing = results
        .iter()
        .filter(|r| r.case.expect == Expect::Failure)
        .count();
    let _ = writeln!(
        s,
        "\n-- covered: {} cases ({} expected to fail in both engines); spec versions {:?}\n== {passed}/{} passed",
        results.len(),
        failing,
        versions,
        results.len()
    );
    s
}

/// What [`run_corpus`] found.
#[derive(Debug)]
pub enum CorpusRun {
    /// The oracle cannot run here.
    Skipped(String),
    /// `reignite apply` is not implemented yet: only the corpus expectations
    /// were checked against Ignition. The summary, and whether all held.
    IgnitionOnly(String, bool),
    /// Full comparison: the summary and whether every case passed.
    Compared(String, bool),
}

/// Loads every case in `dir` and runs it; see [`CorpusRun`].
pub fn run_corpus(title: &str, dir: &Path, reignite: PathBuf) -> CorpusRun {
    if let Some(reason) = ignition::unavailable() {
        return CorpusRun::Skipped(reason);
    }
    let mut cases = Case::load_dir(dir).unwrap_or_else(|e| panic!("corpus {}: {e}", dir.display()));
    // `REIGNITE_DIFF_FILTER=substring` runs only the matching cases.
    if let Ok(filter) = std::env::var("REIGNITE_DIFF_FILTER") {
        cases.retain(|c| c.name.contains(&filter));
    }
    let h = Harness::new(reignite).expect("creating the harness environment");
    if let Some(reason) = h.apply_unimplemented() {
        let mut s = format!("== {title}: comparison skipped: {reason}\n== checking the corpus against Ignition 2.14 only\n");
        let mut ok = true;
        for c in &cases {
            let o = h.ignition_only(c).expect("running Ignition");
            let good = o.success == (c.expect == Expect::Success);
            ok &= good;
            let _ = writeln!(
                s,
                "{} {:<44} ignition {}",
                if good { "PASS" } else { "FAIL" },
                c.name,
                if o.success {
                    "ok".to_string()
                } else {
                    format!("failed: {}", o.reason())
                }
            );
        }
        return CorpusRun::IgnitionOnly(s, ok);
    }
    let results: Vec<CaseResult> = cases
        .iter()
        .map(|c| {
            h.run_case(c)
                .unwrap_or_else(|e| panic!("case {}: {e}", c.name))
        })
        .collect();
    let ok = results.iter().all(CaseResult::passed);
    CorpusRun::Compared(summary(title, &results), ok)
}
