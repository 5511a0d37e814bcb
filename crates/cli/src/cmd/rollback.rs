//! `reignite rollback`: returns to the previous generation by renaming the
//! trash of the newest transition back (exactly the previous tree).

use std::path::PathBuf;

use anyhow::{Context, Result};

/// Arguments of `reignite rollback`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Target root.
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
}

/// Runs `reignite rollback`.
pub fn run(args: Args) -> Result<i32> {
    super::boot::recover_hold(&args.root)?;
    match reignite_reprovision::rollback::rollback_latest(&args.root)
        .with_context(|| format!("rolling back on {}", args.root.display()))?
    {
        Some(g) => {
            println!("Rolled back: generation {g} is active again.");
            Ok(0)
        }
        None => anyhow::bail!(
            "nothing to roll back: the trash holds no transition (after `reignite confirm` the previous state is gone; rollback of a live `switch` is not implemented yet)"
        ),
    }
}
