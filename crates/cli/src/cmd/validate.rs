//! `reignite validate`.

/// Arguments of `reignite validate`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `reignite validate`.
pub fn run(_args: Args) -> anyhow::Result<i32> {
    anyhow::bail!("`reignite validate` is not implemented yet")
}
