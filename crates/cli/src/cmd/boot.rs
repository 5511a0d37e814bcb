//! `reignite boot`: the initramfs entry point — runs a staged reset (or
//! resumes/rolls back an interrupted one) against `--root`; runnable on any
//! directory root. Also holds the engine-backed [`EngineProvisioner`] and
//! config loading shared by the other reconfiguration commands.

use std::cell::RefCell;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use reignite_reprovision::boot::{self, BootOptions, BootOutcome, Provisioner};

/// Arguments of `reignite boot`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Target root (`/sysroot` in the initramfs).
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
    /// Factory tree with the image defaults, relative to the root.
    #[arg(long, value_name = "DIR", default_value = "usr/share/factory")]
    pub factory: String,
    /// Use this config (Ignition JSON or Butane YAML) instead of the staged one.
    #[arg(long, value_name = "CONFIG")]
    pub config: Option<PathBuf>,
    /// Where a reset's `--try` revert timer goes as runtime units (default in
    /// the initramfs: /run/systemd/system).
    #[arg(long, value_name = "DIR", help_heading = "Advanced Options")]
    pub try_timer_dir: Option<PathBuf>,
    #[command(flatten)]
    pub butane: crate::input::ButaneArgs,
}

/// Reads a config file (`-` = stdin) as Ignition JSON; Butane YAML is
/// translated (see [`crate::input`]).
pub(crate) fn read_config(path: &Path, butane: &crate::input::ButaneArgs) -> Result<Vec<u8>> {
    Ok(crate::input::read_config(path, butane)?.ignition)
}

/// Assembles and validates a config (fetch stage, no root touched) and
/// returns it with its canonical JSON. `name` (the file or URL) prefixes
/// every finding, so the report says which config is wrong.
pub(crate) fn validate_config(
    name: &str,
    bytes: &[u8],
) -> Result<(reignite_spec::Config, Vec<u8>)> {
    let opts = reignite_fetch::AssembleOptions::default();
    let input = crate::input::ConfigInput {
        name: name.to_string(),
        ignition: bytes.to_vec(),
    };
    let assembled = crate::input::assemble(&input, None, None, &opts)?;
    let (json, _) = reignite_engine::canonical_config(&assembled.config);
    Ok((assembled.config, json.into_bytes()))
}

/// The files stage through `reignite_engine::provision`: every stage, no
/// generation bookkeeping (reprovision's store records the generation). The
/// engine's apply journal stays until [`Provisioner::finished`], so an
/// interrupted files stage recognises its own nodes when run again.
#[derive(Default)]
pub(crate) struct EngineProvisioner {
    config: RefCell<Option<reignite_spec::Config>>,
}

/// Where releases before the switch to `provision` held the state directory
/// aside during the files stage.
const HOLD: &str = "var/lib/.reignite-hold";
const STATE: &str = "var/lib/reignite";

/// Puts a state directory back that an older release held aside and did
/// not restore (a crash during its files stage).
pub(crate) fn recover_hold(root: &Path) -> Result<()> {
    let hold = root.join(HOLD);
    if hold.exists() {
        let state = root.join(STATE);
        if state.exists() {
            std::fs::remove_dir_all(&state)
                .with_context(|| format!("removing {}", state.display()))?;
        }
        std::fs::rename(&hold, &state).with_context(|| format!("restoring {}", state.display()))?;
    }
    Ok(())
}

impl Provisioner for EngineProvisioner {
    fn validate(&self, config: &[u8]) -> std::result::Result<Vec<u8>, String> {
        let (cfg, canonical) =
            validate_config("the new config", config).map_err(|e| format!("{e:#}"))?;
        *self.config.borrow_mut() = Some(cfg);
        Ok(canonical)
    }

    fn apply(
        &self,
        root: &Path,
        _canonical: &[u8],
    ) -> std::result::Result<serde_json::Value, String> {
        let cfg = self
            .config
            .borrow()
            .clone()
            .ok_or("internal: apply before validate")?;
        let run = || -> Result<serde_json::Value> {
            let fetcher = reignite_fetch::Fetcher::new(reignite_fetch::FetchOptions::default())
                .and_then(|f| f.with_config(&cfg))
                .context("setting up fetching")?;
            let fetcher = crate::input::EngineFetcher(fetcher);
            let r = reignite_engine::Root::open(root)
                .with_context(|| format!("opening {}", root.display()))?;
            let manifest = reignite_engine::provision(
                &r,
                &cfg,
                reignite_engine::ApplyOptions::new(&fetcher),
                &mut |_| {},
            )
            .context("files stage")?;
            serde_json::to_value(&manifest).context("serialising the manifest")
        };
        run().map_err(|e| format!("{e:#}"))
    }

    fn finished(&self, root: &Path) -> std::result::Result<(), String> {
        let r = reignite_engine::Root::open(root)
            .map_err(|e| format!("opening {}: {e}", root.display()))?;
        reignite_engine::clear_journal(&r).map_err(|e| e.to_string())
    }
}

/// A reset staged with `--try`: schedules its revert. On the running
/// system's `/` with systemd: a transient timer (`systemd-run`); in the
/// initramfs (or with `--try-timer-dir`): runtime units the real system's
/// systemd starts after the switch to the new root; otherwise the next
/// `reignite boot` reverts an expired try.
fn schedule_try(args: &Args, generation: u64) -> Result<()> {
    use reignite_reprovision::generations;
    let st = generations::Store::new(&args.root).state()?;
    let Some(deadline) = st.try_deadline.filter(|_| st.current == Some(generation)) else {
        return Ok(());
    };
    let secs = deadline.saturating_sub(generations::now()).max(1);
    let systemd = super::switch::detect_systemd(&args.root, &Default::default());
    if systemd.skip_reason().is_none() {
        let mut report = systemd.report(Default::default());
        let cmd = super::switch::revert_command(&args.root, false)?;
        systemd.schedule_revert(&mut report, secs, &cmd)?;
        super::switch::print_systemd(&report);
        println!("Trying generation {generation}: reverts in {secs}s unless `reignite confirm`.");
        return Ok(());
    }
    let dir = args.try_timer_dir.clone().or_else(|| {
        Path::new("/etc/initrd-release")
            .exists()
            .then(|| PathBuf::from("/run/systemd/system"))
    });
    match dir {
        Some(dir) => {
            // After the switch to the new root, it is `/`.
            let cmd = super::switch::revert_command(Path::new("/"), false)?;
            reignite_reprovision::systemd::write_runtime_timer(&dir, secs, &cmd)
                .with_context(|| format!("writing the --try revert timer into {}", dir.display()))?;
            println!(
                "Trying generation {generation}: {}/{}.timer reverts it in {secs}s unless `reignite confirm`.",
                dir.display(),
                reignite_reprovision::systemd::TRY_UNIT
            );
        }
        None => println!(
            "Trying generation {generation}: no revert timer (not in the initramfs, no systemd on this root); the next `reignite boot` reverts it after {secs}s unless confirmed."
        ),
    }
    Ok(())
}

/// Runs `reignite boot`.
pub fn run(args: Args) -> Result<i32> {
    super::check_root(&args.root)?;
    recover_hold(&args.root)?;
    let config = args
        .config
        .as_deref()
        .map(|p| read_config(p, &args.butane))
        .transpose()?;
    let opts = BootOptions {
        factory: args.factory.clone(),
        config,
    };
    let prov = EngineProvisioner::default();
    let out = boot::boot(&args.root, &prov, &opts)
        .with_context(|| format!("boot on {}", args.root.display()))?;
    match out {
        BootOutcome::Nothing => {
            eprintln!("No reset staged on {}; nothing to do.", args.root.display())
        }
        BootOutcome::Reset {
            generation,
            moved,
            warnings,
        } => {
            for w in warnings {
                eprintln!("warning: {w}");
            }
            println!(
                "Reset {}: generation {generation} provisioned; {moved} subtree(s) moved to the trash until `reignite confirm`.",
                args.root.display()
            );
            schedule_try(&args, generation)?;
        }
        BootOutcome::RevertedTo(g) => {
            println!(
                "The tried generation was not confirmed in time; rolled back to generation {g}."
            )
        }
    }
    Ok(0)
}
