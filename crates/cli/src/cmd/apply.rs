//! `reignite apply`.

/// Arguments of `reignite apply`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `reignite apply`.
pub fn run(_args: Args) -> anyhow::Result<i32> {
    anyhow::bail!("`reignite apply` is not implemented yet")
}
