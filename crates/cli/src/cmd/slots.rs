//! `reignite slots`.

/// Arguments of `reignite slots`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `reignite slots`.
pub fn run(_args: Args) -> anyhow::Result<i32> {
    anyhow::bail!("`reignite slots` is not implemented yet")
}
