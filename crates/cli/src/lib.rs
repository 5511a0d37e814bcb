//! Command-line front end of reignite: argument parsing, output formatting and
//! exit codes. Every subcommand lives in its own module under `cmd/`; all real
//! work happens in the domain crates.

use std::ffi::OsString;

use clap::{Parser, Subcommand};

mod cmd;
mod input;

/// Provisioning and drift-free reconfiguration for immutable Linux hosts.
///
/// Exit status: 0 success, 1 failure, 2 usage error. Data goes to stdout,
/// diagnostics to stderr. Human output is not meant for parsing: use
/// `--format json` where offered.
#[derive(Debug, Parser)]
#[command(name = "reignite", version, help_expected = true, max_term_width = 80)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Parse and validate Ignition JSON or Butane YAML configs.
    Validate(cmd::validate::Args),
    /// Translate a Butane YAML config into Ignition JSON.
    Translate(cmd::translate::Args),
    /// Provision a target root from a config (Ignition's fetch and files stages).
    Apply(cmd::apply::Args),
    /// Manage GPT A/B USR slots: status, install, activate, mark-good, rollback.
    Slots(cmd::slots::Args),
    /// Show what `reset` (or `switch`) would change, with a reason for each change.
    Plan(cmd::plan::Args),
    /// Live transition to a new config, no reboot (systemd units on a live /).
    Switch(cmd::switch::Args),
    /// Stage a full reset for the next boot (also flatcar-reset's options).
    Reset(cmd::reset::Args),
    /// Initramfs entry point: run a staged reset against the root.
    Boot(cmd::boot::Args),
    /// Commit the current generation and purge the trash.
    Confirm(cmd::confirm::Args),
    /// Return to the previous generation.
    Rollback(cmd::rollback::Args),
    /// List the recorded generations and their state.
    Status(cmd::status::Args),
    /// List undeclared and modified state without changing anything.
    Drift(cmd::drift::Args),
}

/// Runs the command line `args` and returns the process exit code.
pub fn run<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let mut args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    // Invoked as `flatcar-reset`: behave as that tool.
    if args
        .first()
        .and_then(|a| std::path::Path::new(a).file_name())
        .is_some_and(|n| n == "flatcar-reset")
    {
        args.splice(1..1, ["reset".into(), "--flatcar".into()]);
    }
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    init_logging();
    let result = match cli.command {
        Command::Validate(a) => cmd::validate::run(a),
        Command::Translate(a) => cmd::translate::run(a),
        Command::Apply(a) => cmd::apply::run(a),
        Command::Slots(a) => cmd::slots::run(a),
        Command::Plan(a) => cmd::plan::run(a),
        Command::Switch(a) => cmd::switch::run(a),
        Command::Reset(a) => cmd::reset::run(a),
        Command::Boot(a) => cmd::boot::run(a),
        Command::Confirm(a) => cmd::confirm::run(a),
        Command::Rollback(a) => cmd::rollback::run(a),
        Command::Status(a) => cmd::status::run(a),
        Command::Drift(a) => cmd::drift::run(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            if is_broken_pipe(&e) {
                return 0;
            }
            eprintln!("error: {e:#}");
            1
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("REIGNITE_LOG").unwrap_or_else(|_| EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .without_time()
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
