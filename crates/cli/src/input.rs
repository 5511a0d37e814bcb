//! Config inputs for every command that takes a config: Ignition JSON or
//! Butane YAML, detected by content (DESIGN §3), read from a file or from
//! standard input (`-`). Butane is translated here, once, so every command
//! downstream sees Ignition JSON; Butane's warnings are printed to stderr in
//! its own raw format and a failed translation is an error naming the file.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use reignite_spec::report::Report;

/// Where Butane's `local:` references are resolved, shared by the commands
/// that accept configs.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ButaneArgs {
    /// Directory for Butane `local:` files and `storage.trees` (a sandbox:
    /// no `..`, no symlink escape). Only used when the config is Butane YAML.
    #[arg(long, short = 'd', value_name = "DIR")]
    pub files_dir: Option<PathBuf>,
}

/// A config as read, and as Ignition JSON.
#[derive(Debug, Clone)]
pub struct ConfigInput {
    /// File name for messages (`<stdin>` for standard input).
    pub name: String,
    /// Ignition JSON: the input itself, or the translation of Butane YAML.
    pub ignition: Vec<u8>,
}

/// Reads `path` (or stdin for `-`) and returns it as Ignition JSON.
pub fn read_config(path: &Path, butane: &ButaneArgs) -> Result<ConfigInput> {
    let (name, source) = read_bytes(path)?;
    if !reignite_butane::is_butane(&source) {
        return Ok(ConfigInput {
            name,
            ignition: source,
        });
    }
    let opts = reignite_butane::Options {
        files_dir: butane.files_dir.clone(),
        ..Default::default()
    };
    match reignite_butane::translate(&source, &opts) {
        Ok(t) => {
            if !t.report.entries.is_empty() {
                eprint!(
                    "{name}: Butane translation:\n{}",
                    render(&t.report, &name, &source)
                );
            }
            Ok(ConfigInput {
                name,
                ignition: t.json,
            })
        }
        Err(e) => bail!(
            "translating Butane config {name}: {}\n{}",
            e.error,
            render(&e.report, &name, &source).trim_end()
        ),
    }
}

/// Reads a file, or standard input for `-`, with the name to show in messages.
pub fn read_bytes(path: &Path) -> Result<(String, Vec<u8>)> {
    if path.as_os_str() == "-" {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .context("reading config from standard input")?;
        return Ok(("<stdin>".to_string(), buf));
    }
    let bytes =
        std::fs::read(path).with_context(|| format!("reading config {}", path.display()))?;
    Ok((path.display().to_string(), bytes))
}

/// Assembles `input` as Ignition's fetch stage does (base configs, merge
/// and replace chains, post-merge validation). On failure the validation
/// report, if any, is printed to stderr in Ignition's format first, so the
/// user sees which field of which config is wrong.
pub fn assemble(
    input: &ConfigInput,
    base_dir: Option<&Path>,
    platform: Option<&str>,
    opts: &reignite_fetch::AssembleOptions,
) -> Result<reignite_fetch::Assembled> {
    match reignite_fetch::assemble(&input.ignition, base_dir, platform, opts) {
        Ok(a) => {
            for e in &a.report.entries {
                eprintln!("{}: {e}", input.name);
            }
            Ok(a)
        }
        Err(e) => {
            if let Some(r) = e.report() {
                for entry in &r.entries {
                    eprintln!("{}: {entry}", input.name);
                }
            }
            Err(anyhow::Error::new(e).context(format!("config {} is not usable", input.name)))
        }
    }
}

/// Adapts the fetch crate's fetcher to the engine's `Fetch` trait (shared by
/// `apply`, `boot` and `switch`).
pub struct EngineFetcher(pub reignite_fetch::Fetcher);

impl std::fmt::Debug for EngineFetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EngineFetcher")
    }
}

impl reignite_engine::Fetch for EngineFetcher {
    fn fetch_into(
        &self,
        resource: &reignite_spec::Resource,
        out: &mut dyn std::io::Write,
    ) -> std::result::Result<u64, Box<dyn std::error::Error + Send + Sync>> {
        self.0.fetch_into(resource, out).map_err(|e| e.into())
    }
}

fn render(report: &Report, name: &str, source: &[u8]) -> String {
    reignite_butane::format_report(report, true, name, source, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_passes_through_and_butane_is_translated() {
        let dir = tempfile::tempdir().unwrap();
        let json = dir.path().join("c.ign");
        std::fs::write(&json, br#"{"ignition":{"version":"3.3.0"}}"#).unwrap();
        let got = read_config(&json, &ButaneArgs::default()).unwrap();
        assert_eq!(got.ignition, br#"{"ignition":{"version":"3.3.0"}}"#);

        let bu = dir.path().join("c.bu");
        std::fs::write(&bu, "variant: flatcar\nversion: 1.0.0\nstorage:\n  files:\n    - path: /etc/x\n      contents:\n        inline: hi\n").unwrap();
        let got = read_config(&bu, &ButaneArgs::default()).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&got.ignition).unwrap();
        assert_eq!(v["ignition"]["version"], "3.3.0");
        assert_eq!(v["storage"]["files"][0]["path"], "/etc/x");
        assert_eq!(v["storage"]["files"][0]["contents"]["source"], "data:,hi");
    }

    #[test]
    fn bad_butane_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let bu = dir.path().join("bad.bu");
        std::fs::write(&bu, "variant: flatcar\nversion: 9.9.9\n").unwrap();
        let err = read_config(&bu, &ButaneArgs::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("bad.bu"), "{err}");
        assert!(err.contains("No translator exists"), "{err}");
    }
}
