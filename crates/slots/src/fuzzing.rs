//! One entry point for the GPT fuzz target (`crates/slots/fuzz`) and its
//! stable-toolchain smoke test: arbitrary bytes are taken as a disk image
//! and go through everything that reads a table: both-copy reading, health,
//! slot lookup, the GRUB selection and boot simulation, every attribute
//! operation, and a commit and a repair on a copy of the image. Rejecting
//! is fine; panicking is not; and a table we accept must re-serialise to
//! the same table (written, read back, identical and clean).
//!
//! Not part of the supported API.

use crate::dev::MemDev;
use crate::disk::{Disk, Health};
use crate::slots::{SlotId, Slots};
use crate::Error;

/// How far an input got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// `Disk::open` refused it.
    Rejected,
    /// A table was read but holds no unambiguous slot pair.
    TableOnly,
    /// A slot pair was found and every operation ran.
    Slots,
}

/// Runs one image through the slot manager; panics (with a reason) when an
/// invariant breaks, which is what the fuzzer looks for.
pub fn check_image(sector_size: u64, image: &[u8]) -> Outcome {
    let dev = MemDev::from_bytes(sector_size, image);
    let disk = match Disk::open(dev.clone()) {
        Ok(d) => d,
        Err(_) => return Outcome::Rejected,
    };
    let health = disk.health();
    let _ = health.to_string();
    let _ = disk.warnings();
    let (header, entries) = disk.current();
    let (header, entries) = (header.clone(), entries.to_vec());
    assert_eq!(
        entries.len() as u64,
        header.array_bytes(),
        "entry array length"
    );

    // Repair (a no-op on a clean table) then reopen: the same entries must
    // come back, in a clean table.
    let mut copy = Disk::open(dev.clone()).expect("an image that opened once opens again");
    match copy.repair() {
        Ok(_) => {
            let again = Disk::open(copy.into_dev()).expect("a repaired table opens");
            assert_eq!(again.health(), Health::Clean, "a repaired table is clean");
            let (h2, e2) = again.current();
            assert_eq!(e2, &entries[..], "repair kept the entries");
            assert_eq!(h2.disk_guid(), header.disk_guid());
            assert_eq!(
                (h2.first_usable(), h2.last_usable()),
                (header.first_usable(), header.last_usable())
            );
            assert_eq!(
                (h2.num_entries(), h2.entry_size()),
                (header.num_entries(), header.entry_size())
            );
        }
        Err(Error::Refused(_) | Error::Verify(_)) => {}
        Err(e) => panic!("repair failed unexpectedly: {e}"),
    }

    let Ok(slots) = Slots::find(&entries, header.entry_size()) else {
        return Outcome::TableOnly;
    };
    let _ = slots.next();
    let _ = slots.in_table_order();
    for id in [SlotId::A, SlotId::B] {
        let s = slots.get(id);
        let _ = (s.bits(), s.sectors(), s.number());
    }
    for mark_good in [false, true] {
        let _ = slots.simulate(4, mark_good);
    }
    let _ = crate::slots::booted_from_cmdline("mount.usr=PARTLABEL=USR-B usr=PARTUUID=x", &slots);
    let results = [
        slots.activate(SlotId::B),
        slots.mark_good(SlotId::A),
        slots.mark_bad(SlotId::A, false),
        slots.mark_bad(SlotId::B, true),
        slots.rollback(SlotId::B, false),
        slots.rollback(SlotId::A, true),
        slots.disable_for_install(SlotId::B, true),
    ];
    // Commit one result on a copy: what we read back is what we wrote, and
    // every byte outside the slot attributes is unchanged.
    if let Some(Ok(changed)) = results.into_iter().find(|r| r.is_ok()) {
        let mut copy = Disk::open(dev).expect("opens again");
        match copy.commit(changed.entries(), None, "fuzz") {
            Ok(()) => {
                let again = Disk::open(copy.into_dev()).expect("a committed table opens");
                assert_eq!(again.health(), Health::Clean, "a committed table is clean");
                assert_eq!(again.current().1, changed.entries(), "commit round trip");
                let es = header.entry_size() as usize;
                let mask = crate::select::SLOT_MASK;
                for (i, (a, b)) in entries
                    .chunks_exact(es)
                    .zip(changed.entries().chunks_exact(es))
                    .enumerate()
                {
                    let attrs = |e: &[u8]| {
                        u64::from_le_bytes(e[48..56].try_into().expect("8 bytes")) & !mask
                    };
                    assert!(
                        a[..48] == b[..48] && a[56..] == b[56..] && attrs(a) == attrs(b),
                        "entry {i} changed beyond the slot bits"
                    );
                }
            }
            Err(Error::NeedsRepair(_) | Error::Refused(_) | Error::Verify(_)) => {}
            Err(e) => panic!("commit failed unexpectedly: {e}"),
        }
    }
    Outcome::Slots
}
