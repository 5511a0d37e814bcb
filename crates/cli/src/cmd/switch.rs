//! `reignite switch`: live transition to a new config. Not implemented yet:
//! it needs an engine entry point that applies a config over an existing
//! generation (the engine's `apply` is first-boot only) plus removal of the
//! previous generation's leftovers; `reignite reset` + `reignite boot` is the
//! implemented path.

use std::path::PathBuf;

use anyhow::Result;

/// Arguments of `reignite switch`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Target root.
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
    /// Revert automatically unless confirmed within DURATION.
    #[arg(long, value_name = "DURATION")]
    pub r#try: Option<String>,
    /// The new config.
    #[arg(value_name = "CONFIG")]
    pub config: PathBuf,
}

/// Runs `reignite switch`.
pub fn run(_args: Args) -> Result<i32> {
    anyhow::bail!(
        "`reignite switch` is not implemented yet; use `reignite reset --root DIR CONFIG` followed by `reignite boot --root DIR` (or a reboot)"
    )
}
