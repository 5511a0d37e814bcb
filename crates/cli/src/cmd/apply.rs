//! `reignite apply`: first-boot provisioning of a target root — Ignition's
//! fetch stage (config assembly with base configs, merge/replace chains,
//! validation) and files stage, recorded as generation 1. Re-running the same
//! apply is a no-op; an interrupted apply is completed by running it again.
//!
//! Output: with `--format json`, one JSON object per line on stdout for each
//! event (`{"step":…,"subject":…,"action":…}`) and a final summary object;
//! the human format prints a short summary and is not meant for parsing.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use anyhow::{Context, Result};
use reignite_engine::{ApplyOptions, Event, Outcome, Root};

/// Arguments of `reignite apply`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Target root directory (the host's `/` when provisioning in place).
    #[arg(long, value_name = "DIR")]
    pub root: PathBuf,

    /// Directory holding base configs (`base.d/*.ign`,
    /// `base.platform.d/<platform>/*.ign`), merged under the user config.
    #[arg(long, value_name = "DIR")]
    pub base_dir: Option<PathBuf>,

    /// Platform name selecting `base.platform.d/<platform>`.
    #[arg(long, value_name = "NAME")]
    pub platform: Option<String>,

    /// Output format: human summary (default on a terminal) or JSON Lines events.
    #[arg(long, value_enum)]
    pub format: Option<Format>,

    /// fsync every file as it is written instead of one syncfs at the end.
    #[arg(long, help_heading = "Advanced Options")]
    pub fsync_each: bool,

    /// Give up fetching a remote resource after this many seconds when the
    /// config sets no `ignition.timeouts.httpTotal` (Ignition retries forever).
    #[arg(
        long,
        default_value_t = 300,
        value_name = "SECS",
        help_heading = "Advanced Options"
    )]
    pub fetch_bound: u64,

    #[command(flatten)]
    pub butane: crate::input::ButaneArgs,

    /// Config to apply: Ignition JSON or Butane YAML; `-` reads standard input.
    #[arg(value_name = "CONFIG")]
    pub config: PathBuf,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A short summary for people (not for parsing).
    Human,
    /// JSON Lines: one event per line, then a summary object.
    Json,
}

/// Runs `reignite apply`.
pub fn run(args: Args) -> Result<i32> {
    let format = args.format.unwrap_or(if std::io::stdout().is_terminal() {
        Format::Human
    } else {
        Format::Json
    });
    let md = std::fs::metadata(&args.root)
        .with_context(|| format!("target root {}", args.root.display()))?;
    if !md.is_dir() {
        anyhow::bail!(
            "target root {} is not a directory; pass a directory with --root",
            args.root.display()
        );
    }
    let input = crate::input::read_config(&args.config, &args.butane)?;
    let mut fetch_opts = reignite_fetch::FetchOptions::default();
    fetch_opts.unlimited_total_bound = Some(std::time::Duration::from_secs(args.fetch_bound));
    let mut assemble_opts = reignite_fetch::AssembleOptions::default();
    assemble_opts.fetch = fetch_opts.clone();
    // The whole config (base configs, merges, replace) is fetched and
    // validated before anything in the root is touched.
    let assembled = crate::input::assemble(
        &input,
        args.base_dir.as_deref(),
        args.platform.as_deref(),
        &assemble_opts,
    )?;
    let config = assembled.config;
    let fetcher = reignite_fetch::Fetcher::new(fetch_opts)
        .and_then(|f| f.with_config(&config))
        .context("setting up fetching (timeouts, proxy, CA bundles)")?;
    let fetcher = crate::input::EngineFetcher(fetcher);
    let root = Root::open(&args.root)
        .with_context(|| format!("opening target root {}", args.root.display()))?;
    let mut opts = ApplyOptions::new(&fetcher);
    if args.fsync_each {
        opts.durability = reignite_sysutil::Durability::Fsync;
    }
    // Events are buffered (one write per 64 KiB, not per event) and flushed
    // when the apply ends, also when it fails.
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let mut io_err: Option<std::io::Error> = None;
    let mut count = 0usize;
    let mut on_event = |e: &Event| {
        count += 1;
        if format == Format::Json && io_err.is_none() {
            let r = serde_json::to_writer(&mut out, e)
                .map_err(std::io::Error::from)
                .and_then(|()| out.write_all(b"\n"));
            if let Err(err) = r {
                io_err = Some(err);
            }
        }
    };
    let result = reignite_engine::apply(&root, &config, opts, &mut on_event);
    if let Some(e) = io_err {
        return Err(e).context("writing events to stdout");
    }
    let flushed = out.flush();
    let outcome = result.with_context(|| {
        format!(
            "applying {} to {}",
            args.config.display(),
            args.root.display()
        )
    })?;
    flushed.context("writing events to stdout")?;
    let (generation, status, nodes) = match &outcome {
        Outcome::Applied {
            generation,
            manifest,
        } => (*generation, "applied", manifest.nodes.len()),
        Outcome::AlreadyApplied { generation } => (*generation, "already-applied", 0),
        _ => (0, "unknown", 0),
    };
    match format {
        Format::Json => {
            let summary = serde_json::json!({
                "summary": {
                    "status": status,
                    "generation": generation,
                    "nodes": nodes,
                    "events": count,
                }
            });
            writeln!(out, "{summary}").context("writing the summary")?;
        }
        Format::Human => {
            if status == "applied" {
                writeln!(
                    out,
                    "Applied {} to {}: generation {generation}, {nodes} nodes recorded.",
                    args.config.display(),
                    args.root.display()
                )
            } else {
                writeln!(
                    out,
                    "{} is already applied to {} (generation {generation}); nothing changed.",
                    args.config.display(),
                    args.root.display()
                )
            }
            .context("writing the summary")?;
        }
    }
    out.flush().context("writing the summary")?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Wrap {
        #[command(flatten)]
        args: Args,
    }

    fn args(list: &[&str]) -> Args {
        let mut v = vec!["apply"];
        v.extend_from_slice(list);
        Wrap::try_parse_from(v).expect("arguments parse").args
    }

    fn json_args(root: &std::path::Path, cfg: &std::path::Path) -> Args {
        args(&[
            "--root",
            root.to_str().unwrap(),
            "--format",
            "json",
            "--fetch-bound",
            "5",
            cfg.to_str().unwrap(),
        ])
    }

    #[test]
    fn parses_the_contract_flags() {
        let a = args(&[
            "--root",
            "/r",
            "--base-dir",
            "/b",
            "--platform",
            "qemu",
            "--format",
            "json",
            "c.ign",
        ]);
        assert_eq!(a.root, PathBuf::from("/r"));
        assert_eq!(a.base_dir, Some(PathBuf::from("/b")));
        assert_eq!(a.platform.as_deref(), Some("qemu"));
        assert_eq!(a.format, Some(Format::Json));
        assert_eq!(a.config, PathBuf::from("c.ign"));
        assert!(
            Wrap::try_parse_from(["apply", "c.ign"]).is_err(),
            "--root is required"
        );
    }

    #[test]
    fn applies_then_is_a_noop() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("root");
        std::fs::create_dir(&root).unwrap();
        let cfg = t.path().join("c.ign");
        std::fs::write(
            &cfg,
            r#"{"ignition":{"version":"3.3.0"},"storage":{"files":[{"path":"/etc/hostname","contents":{"source":"data:,h%0A"}}]}}"#,
        )
        .unwrap();
        let mk = || json_args(&root, &cfg);
        assert_eq!(run(mk()).unwrap(), 0);
        assert_eq!(
            std::fs::read_to_string(root.join("etc/hostname")).unwrap(),
            "h\n"
        );
        assert_eq!(run(mk()).unwrap(), 0);
    }

    #[test]
    fn errors_name_the_root_and_the_config() {
        let t = tempfile::tempdir().unwrap();
        let file = t.path().join("notadir");
        std::fs::write(&file, "x").unwrap();
        let base = json_args(&file, &t.path().join("missing.ign"));
        let e = format!("{:#}", run(base).unwrap_err());
        assert!(
            e.contains("is not a directory") && e.contains("notadir"),
            "{e}"
        );
        let e = format!(
            "{:#}",
            run(json_args(t.path(), &t.path().join("missing.ign"))).unwrap_err()
        );
        assert!(e.contains("missing.ign"), "{e}");
    }

    #[test]
    fn invalid_config_changes_nothing() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("root");
        std::fs::create_dir(&root).unwrap();
        let cfg = t.path().join("bad.ign");
        std::fs::write(
            &cfg,
            r#"{"ignition":{"version":"3.3.0"},"storage":{"files":[{"path":"relative"}]}}"#,
        )
        .unwrap();
        let r = run(json_args(&root, &cfg));
        assert!(r.is_err());
        assert_eq!(
            std::fs::read_dir(&root).unwrap().count(),
            0,
            "root untouched"
        );
    }
}
