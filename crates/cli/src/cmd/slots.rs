//! `reignite slots`: the GPT A/B USR slot manager. Opens the disk (an image
//! file or the block device holding the running `/usr`), finishes any change
//! an earlier run left half-done (journal), then runs one subcommand. All
//! decisions live in `reignite_slots`; this module parses arguments, finds
//! the device, the booted slot and the journal, and prints results.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use reignite_slots::install::{self, InstallOptions, SignatureCheck};
use reignite_slots::{booted_from_cmdline, Disk, FileDev, Journal, SlotId, Slots};

mod output;

/// Default public key; when it exists, every payload must be signed.
pub const DEFAULT_KEY: &str = "/etc/reignite/slots/payload-key.pub";
/// Default file listing units that must be active before mark-good.
pub const DEFAULT_REQUIRED_UNITS: &str = "/etc/reignite/slots/required-units";
/// Where journals of block devices live.
const JOURNAL_DIR: &str = "/var/lib/reignite/slots";

/// Arguments of `reignite slots`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Disk image file or block device; `auto` finds the disk holding the
    /// partition with USR-A's GUID.
    #[arg(long, short = 'd', global = true, default_value = "auto")]
    pub device: String,

    /// Logical sector size of an image file (block devices report their own).
    #[arg(
        long,
        global = true,
        default_value_t = 512,
        help_heading = "Advanced Options"
    )]
    pub sector_size: u64,

    /// Intent journal file [default: /var/lib/reignite/slots/<disk-guid>.journal
    /// for block devices, <image>.slots-journal for image files].
    #[arg(long, global = true, help_heading = "Advanced Options")]
    pub journal: Option<PathBuf>,

    /// The slot the running system booted (USR-A, USR-B, A, B or a partition
    /// GUID) instead of reading /proc/cmdline.
    #[arg(long, global = true)]
    pub booted: Option<String>,

    /// What to do.
    #[command(subcommand)]
    pub command: Sub,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned text (not for parsing).
    Human,
    /// One JSON object.
    Json,
}

/// Subcommands of `reignite slots`.
#[derive(Debug, clap::Subcommand)]
pub enum Sub {
    /// Show the slots, their bits and sizes, the next boot and the booted slot.
    Status {
        /// Output format.
        #[arg(long, value_enum, default_value = "human")]
        format: Format,
    },
    /// Show the slot GRUB's gptprio.next boots next, optionally over N boots.
    Next {
        /// Simulate this many boots and show how the bits evolve.
        #[arg(long, default_value_t = 0)]
        simulate_boots: usize,
        /// In the simulation, mark each booted slot good after it boots.
        #[arg(long)]
        mark_good: bool,
        /// Output format.
        #[arg(long, value_enum, default_value = "human")]
        format: Format,
    },
    /// Write an update payload to the passive slot and verify it.
    Install {
        /// The payload (a raw USR partition image).
        payload: PathBuf,
        /// Expected SHA-256 of the payload (64 hex digits).
        #[arg(long)]
        sha256: Option<String>,
        /// Detached Ed25519 signature over the payload (raw, hex or base64).
        #[arg(long)]
        signature: Option<PathBuf>,
        /// Public key to verify with; when given or when /etc/reignite/slots/
        /// payload-key.pub exists, a valid signature is required.
        #[arg(long)]
        key: Option<PathBuf>,
        /// Slot to write [default: the one not booted].
        #[arg(long)]
        target: Option<String>,
        /// Activate the slot after a verified install.
        #[arg(long)]
        activate: bool,
        /// Allow a table that GRUB could not boot from.
        #[arg(long)]
        force: bool,
    },
    /// Make a slot boot next once: priority above the other, tries 1, successful 0.
    Activate {
        /// Slot to activate [default: the one not booted].
        #[arg(long)]
        slot: Option<String>,
    },
    /// Mark a slot as booted successfully (successful 1, tries 0).
    MarkGood {
        /// Slot [default: the booted one].
        #[arg(long)]
        slot: Option<String>,
        /// A unit that must be active first (repeatable).
        #[arg(long = "require-unit", value_name = "UNIT")]
        require_units: Vec<String>,
        /// File listing required units, one per line [default:
        /// /etc/reignite/slots/required-units, if it exists].
        #[arg(long, value_name = "FILE")]
        required_units_file: Option<PathBuf>,
        /// Seconds to wait for the required units to become active.
        #[arg(long, default_value_t = 0)]
        timeout: u64,
    },
    /// Mark a slot bad: priority 0, tries 0, successful 0.
    MarkBad {
        /// Slot [default: the booted one].
        #[arg(long)]
        slot: Option<String>,
        /// Allow leaving no bootable slot.
        #[arg(long)]
        force: bool,
    },
    /// Boot the other slot next, if it booted successfully before.
    Rollback {
        /// Slot to go back to [default: the one not booted].
        #[arg(long)]
        to: Option<String>,
        /// Also roll back to a slot that never booted successfully (one try).
        #[arg(long)]
        force: bool,
    },
    /// Restore a damaged or diverged GPT copy from the valid one and finish
    /// interrupted changes.
    Repair,
}

/// Runs `reignite slots`.
pub fn run(args: Args) -> anyhow::Result<i32> {
    let device = resolve_device(&args.device)?;
    let writable = !matches!(args.command, Sub::Status { .. } | Sub::Next { .. });
    let dev = FileDev::open(&device, writable, args.sector_size)
        .with_context(|| format!("opening {}", device.display()))?;
    let is_block = dev.file().metadata().map(|m| {
        use std::os::unix::fs::FileTypeExt;
        m.file_type().is_block_device()
    })?;
    let mut disk =
        Disk::open(dev).with_context(|| format!("reading the GPT of {}", device.display()))?;
    let guid = disk.current().0.disk_guid();
    let journal = Journal::new(match &args.journal {
        Some(p) => p.clone(),
        None if is_block => Path::new(JOURNAL_DIR).join(format!("{guid}.journal")),
        None => {
            let mut p = device.clone().into_os_string();
            p.push(".slots-journal");
            PathBuf::from(p)
        }
    });
    let pending = journal.load().ok().flatten().is_some();
    if writable {
        if let Some(msg) = disk
            .recover(&journal)
            .with_context(|| format!("finishing an interrupted change on {}", device.display()))?
        {
            eprintln!("{msg}");
        }
    }
    let dev_name = device.display().to_string();
    let booted = booted_slot(&args.booted, is_block, &disk)?;
    match args.command {
        Sub::Status { format } => {
            output::status(&disk, &dev_name, booted, pending, format)?;
            Ok(0)
        }
        Sub::Next {
            simulate_boots,
            mark_good,
            format,
        } => {
            let slots = slots_of(&disk)?;
            output::next(&slots, simulate_boots, mark_good, format)?;
            Ok(if slots.next().is_some() { 0 } else { 1 })
        }
        Sub::Repair => {
            match disk
                .repair()
                .with_context(|| format!("repairing the GPT of {dev_name}"))?
            {
                Some(msg) => eprintln!("{msg}"),
                None => eprintln!("{dev_name}: both GPT copies are valid and agree; nothing to do"),
            }
            Ok(0)
        }
        Sub::Install {
            payload,
            sha256,
            signature,
            key,
            target,
            activate,
            force,
        } => {
            let slots = slots_of(&disk)?;
            let target = match target {
                Some(t) => parse_slot(&t, &slots)?,
                None => need_booted(booted)?.0.peer(),
            };
            if let Some((b, _)) = booted {
                if b == target {
                    bail!("refusing to overwrite {target}, the booted slot");
                }
            }
            let key_path = key.or_else(|| Some(PathBuf::from(DEFAULT_KEY)).filter(|p| p.exists()));
            let require_signature = key_path.is_some();
            let check = match (&key_path, &signature) {
                (Some(k), Some(s)) => {
                    let kb =
                        std::fs::read(k).with_context(|| format!("reading key {}", k.display()))?;
                    let sb = std::fs::read(s)
                        .with_context(|| format!("reading signature {}", s.display()))?;
                    Some(SignatureCheck {
                        key: install::parse_public_key(&kb)
                            .with_context(|| format!("key {}", k.display()))?,
                        signature: install::parse_signature(&sb)
                            .with_context(|| format!("signature {}", s.display()))?,
                    })
                }
                (None, Some(_)) => bail!("--signature needs --key (or {DEFAULT_KEY})"),
                _ => None,
            };
            let expected_sha256 = sha256.as_deref().map(install::parse_sha256).transpose()?;
            let bar = output::progress_bar();
            let progress = |phase: &str, done: u64, total: u64| {
                bar.set_length(total);
                bar.set_message(phase.to_string());
                bar.set_position(done);
            };
            let opts = InstallOptions {
                expected_sha256,
                signature: check,
                require_signature,
                activate,
                force,
                chunk_size: None,
                verify_window: None,
                progress: Some(&progress),
            };
            let result = install::install(&mut disk, Some(&journal), target, &payload, &opts);
            bar.finish_and_clear();
            let report = result.with_context(|| {
                format!(
                    "installing {} into {target} of {dev_name}",
                    payload.display()
                )
            })?;
            eprintln!(
                "installed {} bytes into {} (sha256 {}{}){}",
                report.bytes,
                report.slot,
                report.sha256,
                if report.signature_verified {
                    ", signature verified"
                } else {
                    ""
                },
                if report.activated {
                    "; activated for the next boot"
                } else {
                    ""
                }
            );
            Ok(0)
        }
        Sub::Activate { slot } => change(&mut disk, &journal, &dev_name, |s| {
            let id = pick(slot.as_deref(), s, || Ok(need_booted(booted)?.0.peer()))?;
            Ok((s.activate(id)?, format!("activate {id}")))
        }),
        Sub::MarkGood {
            slot,
            require_units,
            required_units_file,
            timeout,
        } => {
            let mut units = require_units;
            let file = required_units_file
                .or_else(|| Some(PathBuf::from(DEFAULT_REQUIRED_UNITS)).filter(|p| p.exists()));
            if let Some(f) = file {
                units.extend(output::read_unit_list(&f)?);
            }
            output::wait_for_units(&units, timeout)?;
            change(&mut disk, &journal, &dev_name, |s| {
                let id = pick(slot.as_deref(), s, || Ok(need_booted(booted)?.0))?;
                Ok((s.mark_good(id)?, format!("mark {id} good")))
            })
        }
        Sub::MarkBad { slot, force } => change(&mut disk, &journal, &dev_name, |s| {
            let id = pick(slot.as_deref(), s, || Ok(need_booted(booted)?.0))?;
            Ok((s.mark_bad(id, force)?, format!("mark {id} bad")))
        }),
        Sub::Rollback { to, force } => change(&mut disk, &journal, &dev_name, |s| {
            let id = pick(to.as_deref(), s, || Ok(need_booted(booted)?.0.peer()))?;
            Ok((s.rollback(id, force)?, format!("roll back to {id}")))
        }),
    }
}

/// Applies one table change and reports the bits before and after.
fn change(
    disk: &mut Disk<FileDev>,
    journal: &Journal,
    dev_name: &str,
    op: impl FnOnce(&Slots) -> anyhow::Result<(Slots, String)>,
) -> anyhow::Result<i32> {
    let before = slots_of(disk)?;
    let (after, what) = op(&before)?;
    disk.commit(after.entries(), Some(journal), &what)
        .with_context(|| format!("{what} on {dev_name}"))?;
    for id in [SlotId::A, SlotId::B] {
        let (b, a) = (before.get(id).bits(), after.get(id).bits());
        if b != a {
            eprintln!("{id}: {b} -> {a}");
        }
    }
    match after.next() {
        Some(n) => eprintln!("{what}: done; next boot: {n}"),
        None => eprintln!("{what}: done; WARNING: no slot is bootable, GRUB will halt"),
    }
    Ok(0)
}

fn slots_of(disk: &Disk<FileDev>) -> anyhow::Result<Slots> {
    let (h, e) = disk.current();
    Ok(Slots::find(e, h.entry_size())?)
}

fn pick(
    given: Option<&str>,
    slots: &Slots,
    default: impl FnOnce() -> anyhow::Result<SlotId>,
) -> anyhow::Result<SlotId> {
    match given {
        Some(s) => parse_slot(s, slots),
        None => default(),
    }
}

/// Parses `USR-A`, `A`, `USR-B`, `B` (any case) or a partition GUID.
fn parse_slot(s: &str, slots: &Slots) -> anyhow::Result<SlotId> {
    match s.to_ascii_uppercase().as_str() {
        "A" | "USR-A" | "ROOT-A" => return Ok(SlotId::A),
        "B" | "USR-B" | "ROOT-B" => return Ok(SlotId::B),
        _ => {}
    }
    let g = reignite_slots::gpt::Guid::parse(&s.to_ascii_lowercase());
    for id in [SlotId::A, SlotId::B] {
        if g == Some(slots.get(id).guid) {
            return Ok(id);
        }
    }
    bail!("{s:?} is not a slot: use USR-A, USR-B or one of their partition GUIDs")
}

/// The booted slot and where that knowledge came from.
type Booted = Option<(SlotId, &'static str)>;

fn booted_slot(
    given: &Option<String>,
    is_block: bool,
    disk: &Disk<FileDev>,
) -> anyhow::Result<Booted> {
    let slots = match slots_of(disk) {
        Ok(s) => s,
        Err(_) if given.is_none() => return Ok(None),
        Err(e) => return Err(e),
    };
    if let Some(g) = given {
        return Ok(Some((parse_slot(g, &slots)?, "--booted")));
    }
    if !is_block {
        return Ok(None);
    }
    let cmdline = std::fs::read_to_string("/proc/cmdline").unwrap_or_default();
    Ok(booted_from_cmdline(&cmdline, &slots).map(|id| (id, "/proc/cmdline")))
}

fn need_booted(b: Booted) -> anyhow::Result<(SlotId, &'static str)> {
    b.ok_or_else(|| {
        anyhow::anyhow!(
            "cannot tell which slot is booted (/proc/cmdline names none of this disk's slots, or the device is an image file); pass --booted USR-A or --booted USR-B, or name the slot"
        )
    })
}

/// `auto` → the whole disk holding the partition with USR-A's GUID.
fn resolve_device(spec: &str) -> anyhow::Result<PathBuf> {
    if spec != "auto" {
        return Ok(PathBuf::from(spec));
    }
    let link = format!(
        "/dev/disk/by-partuuid/{}",
        reignite_slots::slots::USR_A_GUID
    );
    let part = std::fs::canonicalize(&link).with_context(|| {
        format!("finding the disk with USR-A ({link}); pass --device DISK or an image file")
    })?;
    let name = part
        .file_name()
        .and_then(|n| n.to_str())
        .context("partition device has no name")?;
    // /sys/class/block/<part> links to .../block/<disk>/<part>.
    let sys = std::fs::canonicalize(format!("/sys/class/block/{name}"))
        .with_context(|| format!("resolving /sys/class/block/{name}"))?;
    let disk = sys
        .parent()
        .and_then(|p| p.file_name())
        .and_then(|n| n.to_str())
        .context("finding the parent disk in sysfs")?;
    Ok(PathBuf::from("/dev").join(disk))
}

/// Whether progress bars may be drawn.
fn stderr_is_tty() -> bool {
    std::io::stderr().is_terminal()
}
