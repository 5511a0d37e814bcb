//! `reignite reset`: stage a full wipe-and-reprovision for the next boot
//! (executed by `reignite boot`). Also a drop-in for flatcar-reset: it
//! accepts `-F -U -K -M -B -S -P -W -D -R` with their meaning and writes the
//! same markers; invoked as `flatcar-reset` (argv[0]) it behaves as that
//! tool. Deliberate differences are listed in docs/reset.md.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use reignite_reprovision::keep::{KeepPattern, KeepSet};
use reignite_reprovision::owners::OwnerPolicy;
use reignite_reprovision::reset::{self, OemEdits, Staged};

/// Arguments of `reignite reset`.
#[derive(Debug, clap::Args)]
#[command(infer_long_args = true)]
pub struct Args {
    /// Target root.
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
    /// Extra keep pattern (glob, or `regex:ERE`); repeatable.
    #[arg(long, value_name = "P")]
    pub keep: Vec<String>,
    /// Keep the machine ID (also pinned with a `systemd.machine_id=` karg in /oem/grub.cfg).
    #[arg(short = 'M', long)]
    pub keep_machine_id: bool,
    /// Revert at the next boot unless `reignite confirm` comes within DURATION (e.g. 10m).
    #[arg(long = "try", value_name = "DURATION")]
    pub try_for: Option<String>,
    /// Allow dropping paths the previous generation kept.
    #[arg(long)]
    pub allow_data_loss: bool,
    #[command(flatten)]
    pub owners: super::switch::OwnerArgs,
    /// Refuse unless the plan in FILE (from `reignite plan -o`) is still exact.
    #[arg(long, value_name = "FILE")]
    pub plan: Option<PathBuf>,
    /// flatcar-reset: Ignition config file (also copied to /oem/config.ign).
    #[arg(short = 'F', long = "ignition-file", value_name = "FILE")]
    pub ignition_file: Option<PathBuf>,
    /// flatcar-reset: Ignition config URL, fetched and validated now (also a karg in /oem/grub.cfg).
    #[arg(short = 'U', long = "ignition-url", value_name = "URL")]
    pub ignition_url: Option<String>,
    /// Give up fetching the -U URL after this many seconds.
    #[arg(
        long,
        default_value_t = 60,
        value_name = "SECS",
        help_heading = "Advanced Options"
    )]
    pub fetch_bound: u64,
    /// flatcar-reset: the positional arguments are keep regexes (`/.*` auto-appended).
    #[arg(short = 'K', long = "keep-paths")]
    pub keep_paths: bool,
    /// flatcar-reset: back up deleted paths (always done: the trash keeps them until confirm).
    #[arg(short = 'B', long)]
    pub backup: bool,
    /// flatcar-reset: unstage a staged reset.
    #[arg(short = 'S', long)]
    pub stop: bool,
    /// flatcar-reset: print the paths that would be deleted.
    #[arg(short = 'P', long)]
    pub preview_delete: bool,
    /// flatcar-reset: print the paths that would be kept.
    #[arg(short = 'W', long)]
    pub preview_keep: bool,
    /// flatcar-reset: delete the backup (purges the trash, like `reignite confirm`).
    #[arg(short = 'D', long)]
    pub delete_backup: bool,
    /// flatcar-reset: restore the backup (like `reignite rollback`).
    #[arg(short = 'R', long)]
    pub restore_backup: bool,
    /// Behave exactly as flatcar-reset (set when invoked as `flatcar-reset`).
    #[arg(long, hide = true)]
    pub flatcar: bool,
    #[command(flatten)]
    pub butane: crate::input::ButaneArgs,
    /// CONFIG (Ignition JSON or Butane YAML), or with -K the keep entries.
    #[arg(value_name = "CONFIG|PATHS")]
    pub args: Vec<String>,
}

/// Parses `30s`, `10m`, `2h`, `1d` or plain seconds.
pub(crate) fn parse_duration(s: &str) -> Result<u64> {
    let (num, mul) = match s.chars().last() {
        Some('s') => (&s[..s.len() - 1], 1),
        Some('m') => (&s[..s.len() - 1], 60),
        Some('h') => (&s[..s.len() - 1], 3600),
        Some('d') => (&s[..s.len() - 1], 86400),
        _ => (s, 1),
    };
    let n: u64 = num
        .parse()
        .with_context(|| format!("invalid duration {s:?}; use e.g. 90s, 10m, 2h"))?;
    Ok(n * mul)
}

/// `-U URL`: fetches the config now, so that an unreachable URL stages
/// nothing; the caller validates it.
fn fetch_url(url: &str, bound_secs: u64) -> Result<Vec<u8>> {
    reset::check_url(url).map_err(anyhow::Error::new)?;
    let mut opts = reignite_fetch::FetchOptions::default();
    opts.unlimited_total_bound = Some(std::time::Duration::from_secs(bound_secs));
    let fetcher = reignite_fetch::Fetcher::new(opts).context("setting up fetching")?;
    let res = reignite_spec::Resource {
        source: Some(url.to_string()),
        ..Default::default()
    };
    fetcher.fetch_bytes(&res, 64 << 20).with_context(|| {
        format!(
            "fetching the config from -U {url} (nothing was staged; check the URL, or use -F FILE)"
        )
    })
}

/// Runs `reignite reset`.
pub fn run(args: Args) -> Result<i32> {
    let exclusive = [
        args.stop,
        args.preview_delete,
        args.preview_keep,
        args.delete_backup,
        args.restore_backup,
    ];
    if exclusive.iter().filter(|x| **x).count() > 1 {
        bail!("Only one exclusive action allowed");
    }
    if args.ignition_file.is_some() && args.ignition_url.is_some() {
        bail!("-F/--ignition-file and -U/--ignition-url are mutually exclusive");
    }
    let mut keep: Vec<KeepPattern> = super::plan::keep_flags(&args.keep)?;
    let mut config_path: Option<PathBuf> = args.ignition_file.clone();
    if args.keep_paths {
        if args.args.is_empty() {
            bail!("-K/--keep-paths needs at least one path or regex");
        }
        for e in &args.args {
            keep.push(KeepPattern::flatcar(e).map_err(anyhow::Error::new)?);
        }
    } else if args.flatcar && !args.args.is_empty() {
        bail!(
            "Found unused arguments: {} (use -K/--keep-paths)",
            args.args.join(" ")
        );
    } else if args.args.len() > 1 {
        bail!(
            "expected one CONFIG, got {}; to keep paths use --keep or -K",
            args.args.len()
        );
    } else if let Some(c) = args.args.first() {
        if config_path.is_some() {
            bail!("give the config either as CONFIG or with -F, not both");
        }
        config_path = Some(PathBuf::from(c));
    }
    if args.flatcar && !reset::running_as_root() {
        bail!("Need to run as root");
    }
    let root = &args.root;
    super::check_root(root)?;
    if args.stop {
        reset::unstage(root).context("unstaging")?;
        println!("Staged reset removed (edits of /oem from earlier stagings are kept, as flatcar-reset does).");
        return Ok(0);
    }
    if args.delete_backup {
        let purged = reignite_reprovision::rollback::confirm(root).context("purging the trash")?;
        println!("Purged the trash of {} transition(s).", purged.len());
        return Ok(0);
    }
    if args.restore_backup {
        return super::rollback::run(super::rollback::Args {
            root: root.clone(),
            if_unconfirmed: false,
            systemd: Default::default(),
            format: super::switch::Format::Human,
        });
    }
    let canonical = match (&config_path, &args.ignition_url) {
        (Some(p), _) => {
            let input = crate::input::read_config(p, &args.butane)?;
            Some(
                super::boot::validate_config(&input.name, &input.ignition)
                    .context("nothing was staged")?
                    .1,
            )
        }
        // The URL's config is fetched and validated at staging; the boot
        // uses the staged copy of what was validated.
        (None, Some(url)) => Some(
            super::boot::validate_config(url, &fetch_url(url, args.fetch_bound)?)
                .with_context(|| {
                    format!("the config at -U {url} is not usable; nothing was staged")
                })?
                .1,
        ),
        (None, None) => None,
    };
    if args.preview_delete || args.preview_keep {
        let mut pats = keep.clone();
        if let Some(c) = &canonical {
            pats.extend(reignite_reprovision::boot::config_keep_patterns(c)?);
        }
        let ks = KeepSet::new(pats)?;
        let sc = reignite_reprovision::scan::scan(root, &ks)?;
        if args.preview_delete {
            for r in &sc.removals {
                println!("/{}", r.path);
            }
        } else {
            for k in &sc.kept {
                println!("/{}", k.path);
            }
        }
        return Ok(0);
    }
    if canonical.is_none() && args.ignition_url.is_none() && !root.join("oem/config.ign").exists() {
        bail!("no config given: pass CONFIG (or -F FILE); nothing was staged");
    }
    // The plan: refuses dropped data, checks a reviewed plan, shows warnings.
    if let Some(c) = &canonical {
        let plan = reignite_reprovision::plan::reset_plan(root, c, &keep, args.keep_machine_id)?;
        for w in &plan.warnings {
            eprintln!("warning: {w}");
        }
        if let Some(pf) = &args.plan {
            super::plan::check_plan_file(pf, &plan)?;
        }
        let owned: Vec<_> = plan.owner_changes.iter().filter(|c| c.paths > 0).collect();
        if !owned.is_empty() && args.owners.policy() == OwnerPolicy::Refuse {
            for c in &owned {
                eprintln!("  kept data owned by an id that changes: {c}");
            }
            bail!("kept data is owned by users or groups whose id the new config changes; pass --remap-owners to chown it to the new ids, or --keep-owner-ids to leave it; nothing was staged");
        }
        if !plan.data_no_longer_kept.is_empty() && !args.allow_data_loss {
            for p in &plan.data_no_longer_kept {
                let (bytes, entries) =
                    reignite_reprovision::scan::du(&root.join(p.trim_start_matches('/')));
                eprintln!("  data no longer kept: {p} ({entries} entries, {bytes} bytes)");
            }
            bail!("the new keep-set drops data the previous generation kept; pass --allow-data-loss to accept; nothing was staged");
        }
    }
    let machine_id = if args.keep_machine_id {
        let p = root.join("etc/machine-id");
        Some(
            std::fs::read_to_string(&p)
                .with_context(|| format!("reading {}", p.display()))?
                .trim()
                .to_string(),
        )
    } else {
        None
    };
    let staged = Staged {
        format: 1,
        keep,
        keep_machine_id: args.keep_machine_id,
        try_seconds: args.try_for.as_deref().map(parse_duration).transpose()?,
        from_generation: reignite_reprovision::generations::Store::new(root)
            .state()?
            .current,
        has_config: canonical.is_some(),
        allow_data_loss: args.allow_data_loss,
        owners: args.owners.policy(),
        plan_hash: None,
    };
    let oem = OemEdits {
        ignition_file: match &args.ignition_file {
            Some(f) => Some(super::boot::read_config(f, &args.butane)?),
            None => None,
        },
        ignition_url: args.ignition_url.clone(),
        machine_id,
    };
    if root.join(reset::MARKER).exists() {
        eprintln!("INFO: An OS reset was staged already from a previous run.");
    }
    reset::stage(root, &staged, canonical.as_deref(), &oem).context(
        "staging the reset failed; nothing is staged (an earlier staging was removed too)",
    )?;
    if args.backup {
        eprintln!(
            "note: -B is implied: removed paths stay in /.reignite-trash until `reignite confirm`."
        );
    }
    println!(
        "Reset staged on {}; it runs at the next boot (`systemctl reboot`, or `reignite boot --root {}`).",
        root.display(),
        root.display()
    );
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s").unwrap(), 90);
        assert_eq!(parse_duration("10m").unwrap(), 600);
        assert_eq!(parse_duration("2h").unwrap(), 7200);
        assert_eq!(parse_duration("5").unwrap(), 5);
        assert!(parse_duration("x").is_err());
    }
}

/// flatcar-reset compatibility through the real command line (argv[0]
/// `flatcar-reset`), on a scratch root.
#[cfg(test)]
mod flatcar_cli {
    use std::path::Path;

    fn run(args: &[&str]) -> i32 {
        crate::run(args.iter().map(|s| s.to_string()))
    }

    fn root() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        for (p, c) in [
            ("etc/machine-id", "0123456789abcdef0123456789abcdef\n"),
            ("etc/ssh/ssh_host_rsa_key", "k"),
            ("etc/ssh/sshd_config", "c"),
            ("etc/mypath/child", "x"),
            ("var/log/journal/j", "log"),
            ("opt/junk", "j"),
        ] {
            std::fs::create_dir_all(r.join(p).parent().unwrap()).unwrap();
            std::fs::write(r.join(p), c).unwrap();
        }
        d
    }

    fn config(dir: &Path) -> String {
        let p = dir.join("config.ign");
        std::fs::write(&p, r#"{"ignition":{"version":"3.4.0"}}"#).unwrap();
        p.display().to_string()
    }

    #[test]
    fn stages_with_flatcar_options_and_markers() {
        let d = root();
        let r = d.path().display().to_string();
        let cfg = config(d.path());
        // getopt-style permutation and an abbreviated long option.
        let code = run(&[
            "/usr/bin/flatcar-reset",
            "--root",
            &r,
            "--keep-path",
            "/etc/ssh/ssh_host_.*",
            "/var/log",
            "-F",
            &cfg,
            "-M",
        ]);
        assert_eq!(code, 0);
        let marker = std::fs::read_to_string(d.path().join("selective-os-reset")).unwrap();
        assert_eq!(
            marker.trim(),
            "(/etc/ssh/ssh_host_.*|/var/log/.*|/var/log|/flatcar-backup|/flatcar-backup/.*|/selective-os-reset)"
        );
        assert!(d.path().join("boot/flatcar/first_boot").exists());
        assert!(d.path().join("oem/config.ign").exists());
        let grub = std::fs::read_to_string(d.path().join("oem/grub.cfg")).unwrap();
        assert!(
            grub.contains("systemd.machine_id=0123456789abcdef0123456789abcdef"),
            "{grub}"
        );
        assert_eq!(run(&["flatcar-reset", "--root", &r, "-S"]), 0);
        assert!(!d.path().join("selective-os-reset").exists());
        assert!(!d.path().join("boot/flatcar/first_boot").exists());
    }

    #[test]
    fn usage_errors_like_flatcar_reset() {
        let d = root();
        let r = d.path().display().to_string();
        let cfg = config(d.path());
        assert_eq!(
            run(&["flatcar-reset", "--root", &r, "/var/log", "-F", &cfg]),
            1,
            "positionals without -K"
        );
        assert_eq!(
            run(&["flatcar-reset", "--root", &r, "-K", "-F", &cfg]),
            1,
            "-K without entries"
        );
        assert_eq!(
            run(&["flatcar-reset", "--root", &r, "-S", "-P"]),
            1,
            "two exclusive actions"
        );
        assert_eq!(
            run(&["flatcar-reset", "--root", &r, "-K", "./etc", "-F", &cfg]),
            1,
            "relative entry"
        );
        assert_eq!(
            run(&["flatcar-reset", "--root", &r, "-K", "etc", "-F", &cfg]),
            1,
            "not absolute"
        );
        assert_eq!(
            run(&[
                "flatcar-reset",
                "--root",
                &r,
                "-F",
                &cfg,
                "-U",
                "http://x/c.ign"
            ]),
            1,
            "-F with -U"
        );
        assert_eq!(
            run(&["flatcar-reset", "--root", &r, "-K", "/usr/lib", "-F", &cfg]),
            1,
            "/usr is an error"
        );
        assert!(
            !d.path().join("selective-os-reset").exists(),
            "nothing staged by any of them"
        );
        let bad = d.path().join("bad.ign");
        std::fs::write(&bad, "{not json").unwrap();
        assert_eq!(
            run(&[
                "flatcar-reset",
                "--root",
                &r,
                "-F",
                &bad.display().to_string()
            ]),
            1
        );
        assert!(
            !d.path().join("oem/config.ign").exists(),
            "an invalid config is never staged"
        );
    }

    /// Serves `body` over HTTP on 127.0.0.1 for every request; returns the URL.
    fn serve(body: &'static str) -> String {
        use std::io::{BufRead, BufReader, Write};
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        std::thread::spawn(move || {
            for s in l.incoming().flatten() {
                let mut r = BufReader::new(&s);
                let mut line = String::new();
                while r.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                    line.clear();
                }
                let _ = write!(
                    &s,
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        format!("http://{addr}/config.ign")
    }

    #[test]
    fn url_is_fetched_validated_staged_and_booted() {
        let d = root();
        let r = d.path().display().to_string();
        std::fs::create_dir_all(d.path().join("oem")).unwrap();
        std::fs::write(d.path().join("oem/config.ign"), "{}").unwrap();
        let url = serve(
            r#"{"ignition":{"version":"3.4.0"},"storage":{"files":[{"path":"/etc/from-url","contents":{"source":"data:,fetched"}}]}}"#,
        );
        assert_eq!(run(&["flatcar-reset", "--root", &r, "-U", &url]), 0);
        assert!(!d.path().join("oem/config.ign").exists());
        let grub = std::fs::read_to_string(d.path().join("oem/grub.cfg")).unwrap();
        assert_eq!(
            grub,
            format!("set linux_append=\"$linux_append ignition.config.url={url}\"\n")
        );
        let staged =
            std::fs::read_to_string(d.path().join("var/lib/reignite/staged/config.json")).unwrap();
        assert!(staged.contains("/etc/from-url"), "{staged}");
        // The boot uses the validated copy, not the URL (gone by now or not).
        assert_eq!(run(&["reignite", "boot", "--root", &r]), 0);
        assert_eq!(
            std::fs::read_to_string(d.path().join("etc/from-url")).unwrap(),
            "fetched"
        );
        assert!(!d.path().join("opt/junk").exists(), "reset ran");
        assert!(
            !d.path().join("var/lib/reignite/apply.journal").exists(),
            "the engine's journal is dropped after the generation is recorded"
        );
    }

    #[test]
    fn unreachable_or_invalid_url_stages_nothing() {
        let d = root();
        let r = d.path().display().to_string();
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let dead = format!("http://127.0.0.1:{port}/config.ign");
        let started = std::time::Instant::now();
        assert_eq!(
            run(&[
                "flatcar-reset",
                "--root",
                &r,
                "--fetch-bound",
                "1",
                "-U",
                &dead
            ]),
            1
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(30));
        let invalid = serve(r#"{"ignition":{"version":"9.9.9"}}"#);
        assert_eq!(run(&["flatcar-reset", "--root", &r, "-U", &invalid]), 1);
        for p in [
            "selective-os-reset",
            "boot/flatcar/first_boot",
            "oem/grub.cfg",
            "var/lib/reignite/staged",
        ] {
            assert!(!d.path().join(p).exists(), "{p} written");
        }
        assert!(d.path().join("opt/junk").exists());
    }
}
