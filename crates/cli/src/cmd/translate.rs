//! `reignite translate`.

/// Arguments of `reignite translate`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `reignite translate`.
pub fn run(_args: Args) -> anyhow::Result<i32> {
    anyhow::bail!("`reignite translate` is not implemented yet")
}
