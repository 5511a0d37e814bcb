//! Command-line contract checks on the built binary (DESIGN.md §3): every
//! subcommand's `--help` fits in 80 columns, usage errors exit 2 with a message
//! on stderr and nothing on stdout, and `--version` names the package version.

use std::path::PathBuf;
use std::process::{Command, Output};

fn reignite_bin() -> PathBuf {
    std::env::var_os("REIGNITE_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_reignite-under-test").into())
}

/// Runs `reignite ARGS` as a user would: argv[0] `reignite`, no terminal,
/// no `COLUMNS`, so clap picks its own default width.
fn reignite(args: &[&str]) -> Output {
    use std::os::unix::process::CommandExt;
    Command::new(reignite_bin())
        .arg0("reignite")
        .env_remove("COLUMNS")
        .env_remove("REIGNITE_LOG")
        .args(args)
        .output()
        .expect("running reignite")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Subcommand names listed under `Commands:` in a help text (without `help`).
fn subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| l.trim_end() != "Commands:")
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter(|l| !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .filter(|c| c != "help")
        .collect()
}

/// Every command path (`[]`, `["apply"]`, `["slots", "status"]`, ...).
fn all_command_paths() -> Vec<Vec<String>> {
    let mut paths = vec![vec![]];
    let mut i = 0;
    while i < paths.len() {
        let mut args: Vec<&str> = paths[i].iter().map(String::as_str).collect();
        args.push("--help");
        let help = text(&reignite(&args).stdout);
        for sub in subcommands(&help) {
            let mut p = paths[i].clone();
            p.push(sub);
            paths.push(p);
        }
        i += 1;
    }
    paths
}

#[test]
fn every_help_fits_in_80_columns() {
    let paths = all_command_paths();
    assert!(
        paths.len() >= 5,
        "expected several subcommands, found {paths:?}"
    );
    let mut too_wide = Vec::new();
    for p in &paths {
        let mut args: Vec<&str> = p.iter().map(String::as_str).collect();
        args.push("--help");
        let out = reignite(&args);
        assert!(
            out.status.success(),
            "reignite {args:?} failed: {}",
            text(&out.stderr)
        );
        let help = text(&out.stdout);
        assert!(
            help.contains("Usage: reignite"),
            "reignite {args:?}:\n{help}"
        );
        for line in help.lines().filter(|l| l.chars().count() > 80) {
            too_wide.push(format!(
                "reignite {}: {} columns: {line}",
                p.join(" "),
                line.chars().count()
            ));
        }
    }
    eprintln!("checked --help of {} commands: {:?}", paths.len(), paths);
    assert!(
        too_wide.is_empty(),
        "help lines wider than 80 columns:\n{}",
        too_wide.join("\n")
    );
}

#[test]
fn usage_errors_exit_2_with_a_message_on_stderr() {
    let mut cases: Vec<Vec<String>> = vec![
        vec![],
        vec!["no-such-command".into()],
        vec!["--no-such-flag".into()],
        vec!["apply".into()],
        vec!["apply".into(), "--root".into()],
        vec!["validate".into()],
    ];
    for p in all_command_paths().into_iter().filter(|p| !p.is_empty()) {
        let mut bad = p.clone();
        bad.push("--definitely-not-a-flag".into());
        cases.push(bad);
    }
    for args in &cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = reignite(&args);
        let err = text(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(2),
            "reignite {args:?}: stderr {err}"
        );
        assert!(
            !err.trim().is_empty(),
            "reignite {args:?}: no message on stderr"
        );
        assert!(
            out.stdout.is_empty(),
            "reignite {args:?}: stdout {}",
            text(&out.stdout)
        );
    }
    eprintln!("checked {} usage errors", cases.len());
}

#[test]
fn version_names_the_package_version() {
    let out = reignite(&["--version"]);
    assert!(out.status.success());
    assert_eq!(
        text(&out.stdout),
        format!("reignite {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn subcommand_parser_reads_the_commands_section() {
    let help = "Intro\n\nCommands:\n  validate   Check\n  slots      Slots\n             more text\n  help       Print\n\nOptions:\n  -h\n";
    assert_eq!(subcommands(help), ["validate", "slots"]);
}
