//! `reignite switch`: live transition to a new config, no reboot: the
//! previous generation's nodes (and accounts) are moved to the trash, the new
//! config is applied, remaining undeclared drift is reported. `--try`
//! records the generation as tried; with `--foreground` the command waits
//! and rolls back itself unless `reignite confirm` comes in time (otherwise
//! the next `reignite boot` reverts an expired try).
//!
//! Not done: systemd interaction on a live `/` (daemon-reload, stopping
//! removed units, `--restart-units`) and a transient systemd timer for `--try`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use reignite_reprovision::generations::Store;

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
    pub butane: crate::input::ButaneArgs,
    /// The new config: Ignition JSON or Butane YAML (`-` = stdin).
    #[arg(value_name = "CONFIG")]
    pub config: PathBuf,
}

/// Runs `reignite switch`.
pub fn run(args: Args) -> Result<i32> {
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
    let prov = super::boot::EngineProvisioner::default();
    let out = reignite_reprovision::switch::switch(&args.root, &prov, &bytes, try_secs)
        .with_context(|| {
            format!(
                "switching {} to {}",
                args.root.display(),
                args.config.display()
            )
        })?;
    println!(
        "Switched {} to generation {} ({} subtree(s) of the previous generation moved to the trash).",
        args.root.display(),
        out.generation,
        out.moved
    );
    for d in &out.drift {
        eprintln!("drift: {:<10} {}", d.kind, d.path);
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
        let to = reignite_reprovision::rollback::rollback_latest(&args.root)?;
        println!(
            "Not confirmed within {secs}s: rolled back to generation {}.",
            to.unwrap_or(0)
        );
        return Ok(1);
    }
    Ok(0)
}
