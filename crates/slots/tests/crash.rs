//! Crash simulation: every command's writes are interrupted after every
//! sector (power loss through the fault-injecting `MemDev`). After each
//! interruption the table must be readable by us and by `sgdisk` with the
//! same slot bits (old or new, never neither), and the next run must converge:
//! with the journal to the intended table, without it to a clean old or new
//! table. Prints how many crash points were covered.

mod common;

use std::path::Path;

use common::*;
use reignite_slots::install::{install, InstallOptions};
use reignite_slots::select::boot_once;
use reignite_slots::{BlockDev, Disk, Error, Health, Journal, MemDev, SlotId, Slots};

type Op = dyn Fn(&mut Disk<MemDev>, &Journal) -> Result<(), Error>;

fn slots(d: &Disk<MemDev>) -> Slots {
    let (h, e) = d.current();
    Slots::find(e, h.entry_size()).unwrap()
}

fn entries(d: &MemDev) -> Vec<u8> {
    Disk::open(d.clone()).unwrap().current().1.to_vec()
}

fn slot_attrs(d: &Disk<MemDev>) -> (u64, u64) {
    let s = slots(d);
    (s.get(SlotId::A).attrs, s.get(SlotId::B).attrs)
}

fn commit_op(f: fn(&Slots) -> Slots, what: &'static str) -> Box<Op> {
    Box::new(move |d, j| {
        let next = f(&slots(d));
        d.commit(next.entries(), Some(j), what)
    })
}

fn grub_boot(d: &mut Disk<MemDev>, j: &Journal) -> Result<(), Error> {
    let s = slots(d);
    let mut attrs = [s.get(SlotId::A).attrs, s.get(SlotId::B).attrs];
    boot_once(&mut attrs);
    let (h, e) = d.current();
    let (es, mut e) = (h.entry_size(), e.to_vec());
    reignite_slots::gpt::set_attributes(&mut e, es, s.get(SlotId::A).index, attrs[0]);
    reignite_slots::gpt::set_attributes(&mut e, es, s.get(SlotId::B).index, attrs[1]);
    d.commit(&e, Some(j), "grub boot")
}

#[derive(Default, Debug)]
struct Tally {
    points: u64,
    primary_invalid: u64,
    sgdisk_runs: u64,
}

/// Runs `op` on `base` crashing after every sector; `allowed` are the tables
/// that may be seen after a crash; `converged` is the table the next run must
/// reach (after `rerun` when given, else after journal recovery).
fn crash_everywhere(
    name: &str,
    base: &MemDev,
    op: &Op,
    allowed: &[Vec<u8>],
    converged: &[u8],
    rerun: bool,
    tally: &mut Tally,
) {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("crashed.img");
    // Clean run: how many sectors does the command write?
    let mut clean = Disk::open(base.clone()).unwrap();
    let j = Journal::new(dir.path().join("clean.journal"));
    op(&mut clean, &j).unwrap();
    let total = clean.into_dev().written_sectors();
    assert!(total > 0, "{name}: wrote nothing");
    for k in 0..=total {
        let mut dev = base.clone();
        dev.crash_after(k);
        let j = Journal::new(dir.path().join(format!("{k}.journal")));
        let mut disk = Disk::open(dev).unwrap();
        let r = op(&mut disk, &j);
        let mut dev = disk.into_dev();
        assert_eq!(
            r.is_err(),
            k < total,
            "{name}: crash after {k}/{total} sectors"
        );
        dev.revive();
        // Readable by us, old or new.
        let d = Disk::open(dev.clone())
            .unwrap_or_else(|e| panic!("{name}: unreadable after {k} sectors: {e}"));
        assert!(
            allowed.iter().any(|a| a.as_slice() == d.current().1),
            "{name}: after {k} sectors the table is neither old nor new"
        );
        if !d.primary().is_valid() {
            tally.primary_invalid += 1;
        }
        // Readable by sgdisk, with the same bits.
        dev.save_sparse(&img).unwrap();
        let ours = slot_attrs(&d);
        let (a, b) = (sgdisk_info(&img, 3), sgdisk_info(&img, 4));
        let theirs = (a.map(|i| i.attributes), b.map(|i| i.attributes));
        assert_eq!(
            theirs,
            (Some(ours.0), Some(ours.1)),
            "{name}: sgdisk after {k} sectors"
        );
        tally.sgdisk_runs += 2;
        // Next run with the journal converges to the intended table.
        let mut next = Disk::open(dev.clone()).unwrap();
        next.recover(&j).unwrap();
        if rerun {
            next.repair().unwrap();
            op(&mut next, &j).unwrap();
        }
        assert_eq!(
            next.health(),
            Health::Clean,
            "{name}: after {k} sectors + recovery"
        );
        assert_eq!(
            next.current().1,
            converged,
            "{name}: did not converge after {k} sectors"
        );
        next.into_dev().save_sparse(&img).unwrap();
        assert!(
            sgdisk_clean(&img),
            "{name}: sgdisk -v after {k} sectors + recovery"
        );
        tally.sgdisk_runs += 1;
        // Without the journal, repair alone gives a clean old or new table.
        let mut alone = Disk::open(dev.clone()).unwrap();
        alone.repair().unwrap();
        assert_eq!(alone.health(), Health::Clean);
        assert!(allowed.iter().any(|a| a.as_slice() == alone.current().1));
        tally.points += 1;
    }
    println!("{name}: {} crash points, every one recovered", total + 1);
}

fn classic_base(dir: &Path) -> MemDev {
    let img = dir.join("flatcar.img");
    flatcar_classic(&img, &["-A", "3:set:60"]);
    let last = CLASSIC_SECTORS - 33;
    MemDev::from_image_regions(&img, 512, &[(0, 34), (last, 33)]).unwrap()
}

fn apply(dev: &MemDev, op: &Op) -> MemDev {
    let dir = tempfile::tempdir().unwrap();
    let mut d = Disk::open(dev.clone()).unwrap();
    op(&mut d, &Journal::new(dir.path().join("j"))).unwrap();
    let mut dev = d.into_dev();
    dev.revive();
    dev
}

#[test]
fn every_table_write_survives_a_crash_at_every_sector() {
    if !have_sgdisk("every_table_write_survives_a_crash_at_every_sector") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let fresh = classic_base(dir.path());
    let mut tally = Tally::default();
    let activate = commit_op(|s| s.activate(SlotId::B).unwrap(), "activate USR-B");
    let boot: Box<Op> = Box::new(grub_boot);
    let good = commit_op(|s| s.mark_good(SlotId::B).unwrap(), "mark USR-B good");
    let rollback = commit_op(
        |s| s.rollback(SlotId::A, false).unwrap(),
        "roll back to USR-A",
    );
    let bad = commit_op(|s| s.mark_bad(SlotId::B, false).unwrap(), "mark USR-B bad");
    let steps: [(&str, &Op); 5] = [
        ("activate", activate.as_ref()),
        ("GRUB boot", boot.as_ref()),
        ("mark-good", good.as_ref()),
        ("rollback", rollback.as_ref()),
        ("mark-bad", bad.as_ref()),
    ];
    let mut cur = fresh;
    for (name, op) in steps {
        let after = apply(&cur, op);
        let (old, new) = (entries(&cur), entries(&after));
        assert_ne!(old, new, "{name} changes the table");
        crash_everywhere(name, &cur, op, &[old, new.clone()], &new, false, &mut tally);
        cur = after;
    }
    println!("{tally:?}");
}

#[test]
fn repair_survives_a_crash_at_every_sector() {
    if !have_sgdisk("repair_survives_a_crash_at_every_sector") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let fresh = classic_base(dir.path());
    let good = entries(&fresh);
    let mut tally = Tally::default();
    let last = CLASSIC_SECTORS - 1;
    let zero = vec![0u8; 512];
    let damage: [(&str, Vec<u64>); 3] = [
        ("repair of a wiped primary", (1..34).collect()),
        ("repair of a wiped backup", (last - 32..=last).collect()),
        ("repair of a primary header", vec![1]),
    ];
    let repair: Box<Op> = Box::new(|d, _| d.repair().map(|_| ()));
    for (name, sectors) in damage {
        let mut dev = fresh.clone();
        for s in sectors {
            dev.write_at(s * 512, &zero).unwrap();
        }
        dev.revive();
        crash_everywhere(
            name,
            &dev,
            repair.as_ref(),
            std::slice::from_ref(&good),
            &good,
            true,
            &mut tally,
        );
    }
    println!("{tally:?}");
}

#[test]
fn install_survives_a_crash_at_every_sector() {
    if !have_sgdisk("install_survives_a_crash_at_every_sector") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("small.img");
    flatcar_small(&img, &[]);
    let sectors = (64u64 << 20) / 512;
    let base = MemDev::from_image_regions(&img, 512, &[(0, 34), (sectors - 33, 33)]).unwrap();
    let payload = dir.path().join("payload");
    let data: Vec<u8> = (0..16 * 1024u32).map(|i| (i * 7 % 253) as u8).collect();
    std::fs::write(&payload, &data).unwrap();
    let p2 = payload.clone();
    let op: Box<Op> = Box::new(move |d, j| {
        let opts = InstallOptions {
            activate: true,
            chunk_size: Some(4096),
            ..Default::default()
        };
        install(d, Some(j), SlotId::B, &p2, &opts).map(|_| ())
    });
    let s0 = slots(&Disk::open(base.clone()).unwrap());
    let disabled = s0.mark_bad(SlotId::B, false).unwrap();
    let active = disabled.activate(SlotId::B).unwrap();
    let allowed = [
        s0.entries().to_vec(),
        disabled.entries().to_vec(),
        active.entries().to_vec(),
    ];
    let mut tally = Tally::default();
    crash_everywhere(
        "install",
        &base,
        op.as_ref(),
        &allowed,
        active.entries(),
        true,
        &mut tally,
    );
    println!("{tally:?}");
}

#[test]
fn journal_of_a_change_overtaken_by_another_writer_is_discarded() {
    if !have_sgdisk("journal_of_a_change_overtaken_by_another_writer_is_discarded") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let fresh = classic_base(dir.path());
    let j = Journal::new(dir.path().join("j"));
    // Crash activate after the backup is written (before the primary).
    let mut dev = fresh.clone();
    dev.crash_after(2);
    let mut d = Disk::open(dev).unwrap();
    let next = slots(&d).activate(SlotId::B).unwrap();
    assert!(d
        .commit(next.entries(), Some(&j), "activate USR-B")
        .is_err());
    let mut dev = d.into_dev();
    dev.revive();
    // Someone else (a repair that trusts the primary, then another change)
    // writes a third table before we run again.
    let mut other = Disk::open(dev).unwrap();
    other.repair().unwrap();
    let third = slots(&other).mark_good(SlotId::A).unwrap();
    let third = third
        .rollback(SlotId::A, false)
        .unwrap()
        .mark_bad(SlotId::B, false)
        .unwrap();
    let mut raw = third.entries().to_vec();
    // Flip a foreign attribute bit so the table differs from old and new.
    let idx = third.get(SlotId::A).index;
    raw[idx * 128 + 48] ^= 1;
    other.commit(&raw, None, "other writer").unwrap();
    let mut d = Disk::open(other.into_dev()).unwrap();
    let msg = d.recover(&j).unwrap().unwrap();
    assert!(
        msg.starts_with("discarded the journal of the interrupted 'activate USR-B'"),
        "{msg}"
    );
    assert_eq!(
        d.current().1,
        raw.as_slice(),
        "the other writer's table stays"
    );
    assert!(j.load().unwrap().is_none());
}
