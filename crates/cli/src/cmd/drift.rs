//! `reignite drift`: lists state on the root that the current generation
//! does not declare (undeclared paths outside the keep-set and the factory
//! tree) and managed files modified or missing since it was recorded.
//! Changes nothing.

use std::path::PathBuf;

use anyhow::{Context, Result};

/// Arguments of `reignite drift`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Target root.
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
    /// Factory tree, relative to the root.
    #[arg(long, value_name = "DIR", default_value = "usr/share/factory")]
    pub factory: String,
    /// Output format.
    #[arg(long, value_enum, default_value = "human")]
    pub format: super::status::Format,
}

/// Runs `reignite drift`.
pub fn run(args: Args) -> Result<i32> {
    let items = reignite_reprovision::plan::drift(&args.root, &args.factory)
        .with_context(|| format!("looking for drift on {}", args.root.display()))?;
    match args.format {
        super::status::Format::Json => {
            println!(
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({"format": 1, "drift": items}))?
            )
        }
        super::status::Format::Human => {
            for i in &items {
                println!("{:<10} {}", i.kind, i.path);
            }
            eprintln!("{} finding(s).", items.len());
        }
    }
    Ok(0)
}
