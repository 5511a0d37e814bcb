//! `reignite translate`: Butane YAML → Ignition JSON, with Butane's flags,
//! report formats and exit codes (0 ok, 1 translation failure or warnings
//! under `--strict`, 2 usage).

use std::io::{IsTerminal as _, Read as _, Write as _};
use std::path::PathBuf;

use anyhow::Context as _;
use reignite_butane::{run_cli, Options};

/// Arguments of `reignite translate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Fail if the translation produced any warning.
    #[arg(short, long)]
    strict: bool,
    /// Indent the JSON output.
    #[arg(short, long)]
    pretty: bool,
    /// Only check the config; write no output.
    #[arg(short, long)]
    check: bool,
    /// Directory that `local:`, `contents_local`, `ssh_authorized_keys_local`
    /// and `storage.trees` read from (a sandbox: no `..`, no symlink escape).
    #[arg(short = 'd', long, value_name = "DIR")]
    files_dir: Option<PathBuf>,
    /// Write the output here instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Report in Butane's raw format (`error at $.path, line L col C: msg`).
    #[arg(long)]
    raw_errors: bool,
    /// Colour the report: auto, always or never (`--color` alone: always).
    #[arg(
        long,
        visible_alias = "colour",
        value_name = "WHEN",
        default_value = "auto",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "always"
    )]
    color: String,
    /// Butane config to translate (stdin when absent).
    input: Option<PathBuf>,
}

/// Runs `reignite translate`.
pub fn run(args: Args) -> anyhow::Result<i32> {
    let (data, filename) = match &args.input {
        Some(p) => (
            std::fs::read(p).with_context(|| format!("failed to open {}", p.display()))?,
            p.display().to_string(),
        ),
        None => {
            let mut buf = Vec::new();
            std::io::stdin()
                .read_to_end(&mut buf)
                .context("failed to read stdin")?;
            (buf, "<stdin>".to_string())
        }
    };
    let color = match args.color.as_str() {
        "always" | "yes" => true,
        "never" | "no" => false,
        _ => std::env::var_os("NO_COLOR").is_none() && std::io::stderr().is_terminal(),
    };
    let opts = Options {
        files_dir: args.files_dir.clone(),
        pretty: args.pretty,
        no_resource_auto_compression: false,
    };
    let outcome = run_cli(&data, &filename, &opts, args.strict, args.raw_errors, color);
    let _ = std::io::stderr()
        .lock()
        .write_all(outcome.stderr.as_bytes());
    let Some(out) = outcome.stdout else {
        return Ok(outcome.code);
    };
    if args.check {
        return Ok(0);
    }
    match &args.output {
        Some(p) => {
            std::fs::write(p, &out).with_context(|| format!("failed to write {}", p.display()))?
        }
        None => {
            let mut so = std::io::stdout().lock();
            so.write_all(&out).context("failed to write stdout")?;
            so.flush().context("failed to write stdout")?;
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    fn run(args: &[&str]) -> i32 {
        crate::run(std::iter::once("reignite").chain(args.iter().copied()))
    }

    #[test]
    fn translates_to_a_file_and_applies_strict_and_usage_codes() {
        let d = tempfile::tempdir().unwrap();
        let input = d.path().join("c.bu");
        let out = d.path().join("c.ign");
        let (i, o) = (input.to_str().unwrap(), out.to_str().unwrap());
        std::fs::write(&input, "variant: flatcar\nversion: 1.0.0\n").unwrap();
        assert_eq!(run(&["translate", "-o", o, i]), 0);
        assert_eq!(run(&["translate", "--color", "-o", o, i]), 0);
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            "{\"ignition\":{\"version\":\"3.3.0\"}}\n"
        );

        // A warning: fine without --strict, exit 1 and no output with it.
        std::fs::remove_file(&out).unwrap();
        std::fs::write(&input, "variant: flatcar\nversion: 1.0.0\nbogus: 1\n").unwrap();
        assert_eq!(run(&["translate", "--raw-errors", "-o", o, i]), 0);
        assert!(out.exists());
        std::fs::remove_file(&out).unwrap();
        assert_eq!(run(&["translate", "--strict", "-o", o, i]), 1);
        assert!(!out.exists());

        // Translation errors exit 1; usage errors 2.
        std::fs::write(&input, "variant: nope\nversion: 1.0.0\n").unwrap();
        assert_eq!(run(&["translate", "-o", o, i]), 1);
        assert_eq!(run(&["translate", i, i]), 2);

        // --check writes nothing.
        std::fs::write(&input, "variant: fcos\nversion: 1.6.0\n").unwrap();
        assert_eq!(run(&["translate", "--check", "--pretty", "-o", o, i]), 0);
        assert!(!out.exists());
    }
}
