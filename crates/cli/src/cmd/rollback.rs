//! `reignite rollback`: returns to the previous generation by renaming the
//! trash of the newest transition back (exactly the previous tree). On a
//! live `/` with systemd it carries out the unit actions of going back and
//! stops a pending `--try` revert timer. `--if-unconfirmed` is what that
//! timer runs: it does nothing once the generation is confirmed.

use std::path::PathBuf;

use anyhow::{Context, Result};
use reignite_reprovision::generations::Store;

use super::switch::{detect_systemd, print_systemd, Format, SystemdArgs};

/// Arguments of `reignite rollback`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Target root.
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
    /// Only roll back a generation that is still being tried (the `--try` timer).
    #[arg(long)]
    pub if_unconfirmed: bool,
    #[command(flatten)]
    pub systemd: SystemdArgs,
    /// Output format.
    #[arg(long, value_enum, default_value = "human")]
    pub format: Format,
}

/// Runs `reignite rollback`.
pub fn run(args: Args) -> Result<i32> {
    super::boot::recover_hold(&args.root)?;
    if args.if_unconfirmed {
        let st = Store::new(&args.root).state()?;
        if st.current == st.confirmed {
            match args.format {
                Format::Json => println!(
                    "{}",
                    serde_json::json!({"rolled-back-to": null, "reason": "confirmed"})
                ),
                Format::Human => println!(
                    "Generation {} is confirmed; nothing to roll back.",
                    st.current.map_or("-".into(), |g| g.to_string())
                ),
            }
            return Ok(0);
        }
    }
    let systemd = detect_systemd(&args.root, &args.systemd);
    let (to, report) = reignite_reprovision::rollback::rollback_latest_with(&args.root, &systemd)
        .with_context(|| format!("rolling back on {}", args.root.display()))?;
    let Some(g) = to else {
        anyhow::bail!(
            "nothing to roll back: the trash holds no transition (after `reignite confirm` the previous state is gone)"
        );
    };
    match args.format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({"rolled-back-to": g, "systemd": report})
            )?
        ),
        Format::Human => {
            println!("Rolled back: generation {g} is active again.");
            print_systemd(&report);
        }
    }
    if let Some(e) = &report.error {
        anyhow::bail!("generation {g} is back in place, but a unit action failed: {e}");
    }
    Ok(0)
}
