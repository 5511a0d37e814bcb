//! `reignite confirm`: commits the current (tried) generation, purges the
//! trash of finished transitions and, on a live `/` with systemd, stops the
//! `--try` revert timer.

use std::path::PathBuf;

use anyhow::{Context, Result};

use super::switch::{detect_systemd, print_systemd, SystemdArgs};

/// Arguments of `reignite confirm`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Target root.
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
    #[command(flatten)]
    pub systemd: SystemdArgs,
}

/// Runs `reignite confirm`.
pub fn run(args: Args) -> Result<i32> {
    let systemd = detect_systemd(&args.root, &args.systemd);
    let (purged, report) = reignite_reprovision::rollback::confirm_with(&args.root, &systemd)
        .with_context(|| format!("confirming on {}", args.root.display()))?;
    let cur = reignite_reprovision::generations::Store::new(&args.root)
        .state()?
        .current;
    match cur {
        Some(c) => println!(
            "Generation {c} confirmed; purged the trash of {} transition(s).",
            purged.len()
        ),
        None => println!(
            "No generation recorded; purged the trash of {} transition(s).",
            purged.len()
        ),
    }
    print_systemd(&report);
    if let Some(e) = &report.error {
        anyhow::bail!(
            "confirmed, but the --try timer could not be stopped ({e}); when it fires it finds the generation confirmed and does nothing"
        );
    }
    Ok(0)
}
