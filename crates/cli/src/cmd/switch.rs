//! `reignite switch`: live transition to a new config, no reboot: the
//! previous generation's nodes (and accounts) are moved to the trash, the new
//! config is applied, remaining undeclared drift is reported. On a live `/`
//! with systemd, removed units are stopped first and daemon-reload, presets
//! and (with `--restart-units`) restarts follow. `--try` records the
//! generation as tried and schedules the revert as a transient systemd timer
//! (`reignite-try-revert`); with `--foreground` the command waits and rolls
//! back itself unless `reignite confirm` comes in time; without systemd the
//! next `reignite boot` reverts an expired try.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use reignite_reprovision::generations::Store;
use reignite_reprovision::owners::OwnerPolicy;
use reignite_reprovision::systemd::{Systemd, SystemdReport};

/// Output formats of the reconfiguration commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Text for people (not for parsing).
    Human,
    /// One JSON object.
    Json,
}

/// systemd options shared by `switch`, `rollback` and `confirm`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SystemdArgs {
    /// Do not run systemctl even on a live `/` with systemd running.
    #[arg(long)]
    pub no_systemd: bool,
    /// On a live `/`: `systemctl try-restart` units whose files changed.
    #[arg(long)]
    pub restart_units: bool,
}

/// Owner options shared by `switch` and `reset`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct OwnerArgs {
    /// Kept data owned by a user or group whose id changes: chown it to the new id.
    #[arg(long, conflicts_with = "keep_owner_ids")]
    pub remap_owners: bool,
    /// Kept data owned by a user or group whose id changes: leave its numeric owner.
    #[arg(long)]
    pub keep_owner_ids: bool,
}

impl OwnerArgs {
    /// The policy the flags select (refuse by default).
    pub(crate) fn policy(&self) -> OwnerPolicy {
        match (self.remap_owners, self.keep_owner_ids) {
            (true, _) => OwnerPolicy::Remap,
            (_, true) => OwnerPolicy::Keep,
            _ => OwnerPolicy::Refuse,
        }
    }
}

/// Test hook: `REIGNITE_TEST_LIVE_ROOT=DIR` makes DIR count as the running
/// system's `/` with systemd running (tests put a fake `systemctl` on PATH).
const TEST_LIVE_ROOT: &str = "REIGNITE_TEST_LIVE_ROOT";

/// Whether unit actions run on `root`: only on the running system's `/`
/// with `/run/systemd/system` present, and not with `--no-systemd`.
pub(crate) fn detect_systemd(root: &Path, args: &SystemdArgs) -> Systemd {
    let (live, run) = match std::env::var_os(TEST_LIVE_ROOT) {
        Some(d) => (PathBuf::from(&d), PathBuf::from(d)),
        None => (PathBuf::from("/"), PathBuf::from("/run/systemd/system")),
    };
    Systemd::detect(root, &live, &run, args.no_systemd).restart_units(args.restart_units)
}

/// The human lines of a systemd report (stdout).
pub(crate) fn print_systemd(r: &SystemdReport) {
    match &r.skipped {
        Some(why) => println!("systemd: no unit actions ({why})."),
        None => {
            for c in &r.calls {
                if c.starts_with("systemd-run ") {
                    println!("systemd: {c}");
                } else {
                    println!("systemd: systemctl {c}");
                }
            }
        }
    }
}

/// Arguments of `reignite switch`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Target root.
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
    /// Revert automatically unless `reignite confirm` comes within DURATION (e.g. 5m).
    #[arg(long = "try", value_name = "DURATION")]
    pub try_for: Option<String>,
    /// With --try: wait in the foreground and roll back when the time is up.
    #[arg(long, requires = "try_for")]
    pub foreground: bool,
    /// Refuse unless the plan in FILE (from `reignite plan --switch -o`) is still exact.
    #[arg(long, value_name = "FILE")]
    pub plan: Option<PathBuf>,
    #[command(flatten)]
    pub systemd: SystemdArgs,
    #[command(flatten)]
    pub owners: OwnerArgs,
    /// Output format.
    #[arg(long, value_enum, default_value = "human")]
    pub format: Format,
    #[command(flatten)]
    pub butane: crate::input::ButaneArgs,
    /// The new config: Ignition JSON or Butane YAML (`-` = stdin).
    #[arg(value_name = "CONFIG")]
    pub config: PathBuf,
}

/// The command the `--try` timer runs.
pub(crate) fn revert_command(root: &Path, restart_units: bool) -> Result<Vec<String>> {
    let exe =
        std::env::current_exe().context("locating the reignite binary for the --try timer")?;
    let mut cmd = vec![
        exe.display().to_string(),
        "rollback".into(),
        "--if-unconfirmed".into(),
        "--root".into(),
        root.display().to_string(),
    ];
    if restart_units {
        cmd.push("--restart-units".into());
    }
    Ok(cmd)
}

/// Runs `reignite switch`.
pub fn run(args: Args) -> Result<i32> {
    super::check_root(&args.root)?;
    super::boot::recover_hold(&args.root)?;
    if let Some(pf) = &args.plan {
        let plan = super::plan::compute_switch(&args.root, &args.config, &args.butane)?;
        super::plan::check_plan_file(pf, &plan)?;
    }
    let bytes = super::boot::read_config(&args.config, &args.butane)?;
    let try_secs = args
        .try_for
        .as_deref()
        .map(super::reset::parse_duration)
        .transpose()?;
    let systemd = detect_systemd(&args.root, &args.systemd);
    let prov = super::boot::EngineProvisioner::default();
    let opts = reignite_reprovision::switch::SwitchOptions {
        try_seconds: try_secs,
        systemd: systemd.clone(),
        owners: args.owners.policy(),
    };
    let mut out = reignite_reprovision::switch::switch_with(&args.root, &prov, &bytes, &opts)
        .with_context(|| {
            format!(
                "switching {} to {}",
                args.root.display(),
                args.config.display()
            )
        })?;
    // The --try revert: a transient timer on a live root.
    let mut try_note = None;
    if let (Some(secs), false) = (try_secs, args.foreground) {
        match systemd.skip_reason() {
            None => {
                let cmd = revert_command(&args.root, args.systemd.restart_units)?;
                if let Err(e) = systemd.schedule_revert(&mut out.systemd, secs, &cmd) {
                    // No safety net: do not leave an unguarded try behind.
                    let back = reignite_reprovision::rollback::rollback_latest_with(
                        &args.root, &systemd,
                    )
                    .map(|(g, _)| g);
                    anyhow::bail!(
                        "{e}; the switch was rolled back (now generation {})",
                        back.ok().flatten().map_or("?".into(), |g| g.to_string())
                    );
                }
                try_note = Some(format!(
                    "reverts in {secs}s unless `reignite confirm` (timer {}.timer)",
                    reignite_reprovision::systemd::TRY_UNIT
                ));
            }
            Some(why) => {
                try_note = Some(format!(
                    "no revert timer ({why}): the next `reignite boot` reverts it after {secs}s unless confirmed"
                ))
            }
        }
    }
    match args.format {
        Format::Json => {
            let v = serde_json::json!({
                "generation": out.generation,
                "moved": out.moved,
                "drift": out.drift,
                "systemd": out.systemd,
                "owners": out.owners,
                "try": try_note,
            });
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        Format::Human => {
            println!(
                "Switched {} to generation {} ({} subtree(s) of the previous generation moved to the trash).",
                args.root.display(),
                out.generation,
                out.moved
            );
            print_systemd(&out.systemd);
            for c in out.owners.iter().filter(|c| c.paths > 0) {
                let what = match args.owners.policy() {
                    OwnerPolicy::Remap => "remapped",
                    _ => "left with the old id",
                };
                println!("owners: {c}: {what}");
            }
            if let Some(n) = &try_note {
                println!("Trying generation {}: {n}.", out.generation);
            }
            for d in &out.drift {
                eprintln!("drift: {:<10} {}", d.kind, d.path);
            }
        }
    }
    if let (Some(secs), true) = (try_secs, args.foreground) {
        let store = Store::new(&args.root);
        let deadline = std::time::Instant::now() + Duration::from_secs(secs);
        while std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(200));
            if store.state()?.confirmed == Some(out.generation) {
                println!("Generation {} confirmed.", out.generation);
                return Ok(0);
            }
        }
        let (to, report) =
            reignite_reprovision::rollback::rollback_latest_with(&args.root, &systemd)?;
        println!(
            "Not confirmed within {secs}s: rolled back to generation {}.",
            to.unwrap_or(0)
        );
        print_systemd(&report);
        return Ok(1);
    }
    if let Some(e) = &out.systemd.error {
        anyhow::bail!(
            "generation {} is in place, but a unit action failed: {e}; fix the unit and run `systemctl daemon-reload`, or `reignite rollback`",
            out.generation
        );
    }
    Ok(0)
}
