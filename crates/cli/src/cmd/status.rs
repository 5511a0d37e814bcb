//! `reignite status`: the generations recorded on a root, their state
//! (active, trying, previous, rolled-back, superseded) and any unfinished
//! transition in the trash.

use std::path::PathBuf;

use anyhow::{Context, Result};
use reignite_reprovision::generations::Store;
use reignite_reprovision::trash::Trash;

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A table for people (not for parsing).
    Human,
    /// One JSON object (schema in docs/status.md).
    Json,
}

/// Arguments of `reignite status`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Target root.
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value = "human")]
    pub format: Format,
}

/// Runs `reignite status`.
pub fn run(args: Args) -> Result<i32> {
    let store = Store::new(&args.root);
    let list = store.list().context("reading the generation store")?;
    let st = store.state().context("reading the generation store")?;
    let journals = Trash::new(&args.root)
        .journals()
        .context("reading the trash")?;
    match args.format {
        Format::Json => {
            let v = serde_json::json!({
                "format": 1,
                "current": st.current,
                "confirmed": st.confirmed,
                "try-deadline": st.try_deadline,
                "generations": list,
                "transitions": journals.iter().map(|j| serde_json::json!({
                    "generation": j.generation,
                    "from": j.from_generation,
                    "phase": j.phase,
                    "moved": j.moved.len(),
                })).collect::<Vec<_>>(),
            });
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        Format::Human => {
            if list.is_empty() {
                println!("No generation recorded on {}.", args.root.display());
            }
            for g in &list {
                println!(
                    "{:>4}  {:<12} {:<8} from {:<5} config {}",
                    g.meta.number,
                    g.state,
                    g.meta.command,
                    g.meta.from.map_or("-".to_string(), |f| f.to_string()),
                    &g.meta
                        .config_sha256
                        .get(..12)
                        .unwrap_or(&g.meta.config_sha256),
                );
            }
            if let Some(d) = st.try_deadline {
                println!("Generation {} is being tried: confirm before unix time {d} or it is rolled back.", st.current.unwrap_or(0));
            }
            for j in journals {
                println!(
                    "Trash of generation {}: phase {:?}, {} subtree(s); `reignite confirm` purges it, `reignite rollback` restores it.",
                    j.generation,
                    j.phase,
                    j.moved.len()
                );
            }
        }
    }
    Ok(0)
}
