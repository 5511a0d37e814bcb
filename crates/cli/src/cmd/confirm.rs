//! `reignite confirm`: commits the current (tried) generation and purges the
//! trash of finished transitions.

use std::path::PathBuf;

use anyhow::{Context, Result};

/// Arguments of `reignite confirm`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Target root.
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
}

/// Runs `reignite confirm`.
pub fn run(args: Args) -> Result<i32> {
    let purged = reignite_reprovision::rollback::confirm(&args.root)
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
    Ok(0)
}
