//! `reignite plan`: what `reignite reset` would do to `--root`, every change
//! with its reason, grouped and summarised; `--format json` for machines
//! (schema in docs/plan.md). Changes nothing. `--switch` plans a live
//! `reignite switch` instead.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::{Context, Result};
use reignite_reprovision::keep::KeepPattern;
use reignite_reprovision::plan::{reset_plan, Plan};

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Grouped, summarised text for people (not for parsing).
    Human,
    /// One JSON object.
    Json,
}

/// Arguments of `reignite plan`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Target root.
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
    /// Extra keep pattern (glob, or `regex:ERE`); repeatable.
    #[arg(long, value_name = "P")]
    pub keep: Vec<String>,
    /// Plan a live `switch` instead of a `reset`.
    #[arg(long)]
    pub switch: bool,
    /// Plan as if `--keep-machine-id` were given.
    #[arg(long)]
    pub keep_machine_id: bool,
    /// Output format.
    #[arg(long, value_enum, default_value = "human")]
    pub format: Format,
    /// Write the JSON plan here too (for `reset --plan FILE`).
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub butane: crate::input::ButaneArgs,
    /// The new config: Ignition JSON or Butane YAML (`-` = stdin).
    #[arg(value_name = "CONFIG")]
    pub config: PathBuf,
}

/// Parses `--keep` values.
pub(crate) fn keep_flags(values: &[String]) -> Result<Vec<KeepPattern>> {
    values
        .iter()
        .map(|v| KeepPattern::parse(v, "--keep").map_err(anyhow::Error::new))
        .collect()
}

/// Computes the plan (shared with `reset --plan`).
pub(crate) fn compute(
    root: &std::path::Path,
    config: &std::path::Path,
    keep: &[KeepPattern],
    keep_mid: bool,
    butane: &crate::input::ButaneArgs,
) -> Result<Plan> {
    let bytes = super::boot::read_config(config, butane)?;
    let (_, canonical) = super::boot::validate_config(&config.display().to_string(), &bytes)?;
    reset_plan(root, &canonical, keep, keep_mid)
        .with_context(|| format!("planning a reset of {}", root.display()))
}

/// Computes a switch plan (shared with `switch --plan`).
pub(crate) fn compute_switch(
    root: &std::path::Path,
    config: &std::path::Path,
    butane: &crate::input::ButaneArgs,
) -> Result<Plan> {
    let bytes = super::boot::read_config(config, butane)?;
    let (_, canonical) = super::boot::validate_config(&config.display().to_string(), &bytes)?;
    reignite_reprovision::plan::switch_plan(root, &canonical)
        .with_context(|| format!("planning a switch of {}", root.display()))
}

/// Refuses unless the plan saved in `file` still has the hash of `plan`.
pub(crate) fn check_plan_file(file: &std::path::Path, plan: &Plan) -> Result<()> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let want: serde_json::Value = serde_json::from_str(&text).context("parsing the plan file")?;
    if want["hash"].as_str() != Some(plan.hash.as_str()) {
        anyhow::bail!(
            "the host or the config changed since the plan in {} was made; run `reignite plan` again",
            file.display()
        );
    }
    Ok(())
}

fn human(p: &Plan, color: bool) -> String {
    let (r, g, y, n) = if color {
        ("\x1b[31m", "\x1b[32m", "\x1b[33m", "\x1b[0m")
    } else {
        ("", "", "", "")
    };
    let mut s = String::new();
    let mut groups: Vec<(&str, &str)> = Vec::new();
    for c in &p.changes {
        if !groups
            .iter()
            .any(|(a, re)| *a == c.action && *re == c.reason)
        {
            groups.push((c.action, &c.reason));
        }
    }
    for (action, reason) in groups {
        let col = match action {
            "remove" => r,
            "create" | "update" => g,
            _ => y,
        };
        let items: Vec<_> = p
            .changes
            .iter()
            .filter(|c| c.action == action && c.reason == reason)
            .collect();
        s.push_str(&format!("{col}{action}{n} ({reason}): {}\n", items.len()));
        for c in items {
            match c.bytes {
                Some(b) => s.push_str(&format!(
                    "  {}  ({} entries, {b} bytes)\n",
                    c.path,
                    c.entries.unwrap_or(0)
                )),
                None => s.push_str(&format!("  {}\n", c.path)),
            }
        }
    }
    for c in &p.owner_changes {
        let note = if c.paths > 0 {
            "kept data: needs --remap-owners or --keep-owner-ids"
        } else {
            "owns no kept data"
        };
        s.push_str(&format!("{y}owner id changes{n}: {c} ({note})\n"));
    }
    if let Some(u) = &p.unit_actions {
        let rows = [
            ("stop and disable", "unit file no longer declared", &u.stop),
            ("preset", "after daemon-reload", &u.preset),
            (
                "try-restart",
                "files changed; only with --restart-units",
                &u.changed,
            ),
        ];
        for (verb, why, units) in rows {
            if !units.is_empty() {
                s.push_str(&format!(
                    "{y}systemd {verb}{n} ({why}; on a live / only): {}\n",
                    units.join(" ")
                ));
            }
        }
    }
    for w in &p.warnings {
        s.push_str(&format!("{y}warning{n}: {w}\n"));
    }
    s.push_str(&format!(
        "Summary: {} to create, {} to update, {} to remove ({} entries, {} bytes), {} kept.\nPlan hash: {}\n",
        p.summary.create, p.summary.update, p.summary.remove, p.summary.remove_entries, p.summary.remove_bytes, p.summary.keep, p.hash
    ));
    s
}

/// Runs `reignite plan`.
pub fn run(args: Args) -> Result<i32> {
    let keep = keep_flags(&args.keep)?;
    let plan = if args.switch {
        compute_switch(&args.root, &args.config, &args.butane)?
    } else {
        compute(
            &args.root,
            &args.config,
            &keep,
            args.keep_machine_id,
            &args.butane,
        )?
    };
    let json = serde_json::to_string_pretty(&plan)?;
    if let Some(o) = &args.output {
        std::fs::write(o, &json).with_context(|| format!("writing {}", o.display()))?;
    }
    match args.format {
        Format::Json => println!("{json}"),
        Format::Human => print!("{}", human(&plan, std::io::stdout().is_terminal())),
    }
    Ok(0)
}
