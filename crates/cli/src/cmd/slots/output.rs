//! Printing for `reignite slots`: status tables, JSON, boot simulations,
//! the progress bar, and waiting for the units mark-good depends on.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use reignite_slots::{Disk, FileDev, Health, SlotId, Slots};
use serde_json::json;

use super::{slots_of, Booted, Format};

/// Prints `status`.
pub fn status(
    disk: &Disk<FileDev>,
    dev: &str,
    booted: Booted,
    pending: bool,
    format: Format,
) -> anyhow::Result<()> {
    use reignite_slots::BlockDev;
    let (h, _) = disk.current();
    let health = disk.health();
    let warnings = disk.warnings();
    let slots = slots_of(disk);
    let ss = disk.dev().sector_size();
    let next = slots.as_ref().ok().and_then(Slots::next);
    if format == Format::Json {
        let list: Vec<_> = match &slots {
            Ok(s) => s
                .in_table_order()
                .iter()
                .map(|s| {
                    let b = s.bits();
                    json!({
                        "name": s.id.name(),
                        "partition": s.number(),
                        "guid": s.guid.to_string(),
                        "label": s.label,
                        "first_lba": s.first_lba,
                        "last_lba": s.last_lba,
                        "size_bytes": s.sectors() * ss,
                        "attributes": format!("{:#018x}", s.attrs),
                        "priority": b.priority,
                        "tries": b.tries,
                        "successful": b.successful,
                    })
                })
                .collect(),
            Err(_) => Vec::new(),
        };
        let v = json!({
            "version": 1,
            "device": dev,
            "sector_size": ss,
            "disk_guid": h.disk_guid().to_string(),
            "health": if health == Health::Clean { "clean".to_string() } else { health.to_string() },
            "warnings": warnings,
            "pending_journal": pending,
            "slots_error": slots.as_ref().err().map(|e| format!("{e:#}")),
            "slots": list,
            "next_boot": next.map(SlotId::name),
            "booted": booted.map(|(b, _)| b.name()),
            "booted_source": booted.map(|(_, s)| s),
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    println!(
        "device:    {dev} ({ss}-byte sectors, disk GUID {})",
        h.disk_guid()
    );
    println!("GPT:       {health}");
    for w in &warnings {
        println!("warning:   {w}");
    }
    if pending {
        println!("journal:   an interrupted change is pending; the next write command finishes it");
    }
    let slots = slots?;
    println!();
    println!("SLOT   PART  GUID                                  LABEL   SIZE        ATTRIBUTES          P  T  S");
    for s in slots.in_table_order() {
        let b = s.bits();
        println!(
            "{:<6} {:<5} {:<37} {:<7} {:<11} {:#018x}  {:<2} {:<2} {}",
            s.id.name(),
            s.number(),
            s.guid,
            s.label,
            human_size(s.sectors() * ss),
            s.attrs,
            b.priority,
            b.tries,
            u8::from(b.successful)
        );
    }
    println!();
    match next {
        Some(n) => println!("next boot: {n} (GRUB gptprio.next)"),
        None => println!(
            "next boot: none; GRUB would halt with \"Reading or updating the GPT failed!\""
        ),
    }
    match booted {
        Some((b, src)) => println!("booted:    {b} (from {src})"),
        None => println!("booted:    unknown (pass --booted)"),
    }
    Ok(())
}

fn human_size(b: u64) -> String {
    if b >= 1 << 30 && b % (1 << 30) == 0 {
        format!("{} GiB", b >> 30)
    } else {
        format!("{} MiB", b >> 20)
    }
}

/// Prints `next`, with the optional boot simulation.
pub fn next(slots: &Slots, boots: usize, mark_good: bool, format: Format) -> anyhow::Result<()> {
    let steps = slots.simulate(boots, mark_good);
    if format == Format::Json {
        let v = json!({
            "version": 1,
            "next_boot": slots.next().map(SlotId::name),
            "start": { "USR-A": slots.get(SlotId::A).bits(), "USR-B": slots.get(SlotId::B).bits() },
            "boots": steps,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    match slots.next() {
        Some(n) => println!("{n}"),
        None => println!("none (GRUB halts)"),
    }
    if boots > 0 {
        println!();
        println!("BOOT  BOOTED  USR-A     USR-B");
        println!(
            "0     -       {:<9} {}",
            slots.get(SlotId::A).bits().to_string(),
            slots.get(SlotId::B).bits()
        );
        for s in steps {
            let booted = match s.booted {
                Some(b) => b.name().to_string(),
                None => "HALT".into(),
            };
            println!(
                "{:<5} {:<7} {:<9} {}{}",
                s.boot,
                booted,
                s.a.to_string(),
                s.b,
                if s.marked_good { "  (marked good)" } else { "" }
            );
        }
    }
    Ok(())
}

/// A progress bar on stderr, hidden when stderr is not a terminal.
pub fn progress_bar() -> indicatif::ProgressBar {
    if !super::stderr_is_tty() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(0);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{msg:>9} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// Reads a unit list: one unit per line, `#` comments and blank lines ignored.
pub fn read_unit_list(path: &Path) -> anyhow::Result<Vec<String>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(text
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect())
}

/// Waits until every unit is active (`systemctl is-active`), up to `timeout`
/// seconds; a failed unit or the timeout is an error and nothing is marked.
pub fn wait_for_units(units: &[String], timeout: u64) -> anyhow::Result<()> {
    if units.is_empty() {
        return Ok(());
    }
    let deadline = Instant::now() + Duration::from_secs(timeout);
    loop {
        let mut waiting = Vec::new();
        for u in units {
            let out = std::process::Command::new("systemctl")
                .args(["is-active", u])
                .stdin(std::process::Stdio::null())
                .output()
                .context("running systemctl is-active")?;
            let state = String::from_utf8_lossy(&out.stdout).trim().to_string();
            match state.as_str() {
                "active" => {}
                "failed" => bail!("required unit {u} failed; not marking the slot good"),
                _ => waiting.push(format!("{u} ({state})")),
            }
        }
        if waiting.is_empty() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!(
                "required units not active after {timeout} s: {}; not marking the slot good",
                waiting.join(", ")
            );
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}
