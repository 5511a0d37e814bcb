//! The slot manager against `sgdisk` on disk images in Flatcar's layout:
//! after every operation `sgdisk -v` finds no problem and `sgdisk -i` shows
//! exactly the bits we meant, with every other partition unchanged.

mod common;

use std::path::Path;

use common::*;
use reignite_slots::select::boot_once;
use reignite_slots::{Disk, Error, FileDev, Health, Journal, SlotBits, SlotId, Slots};

fn open(p: &Path) -> Disk<FileDev> {
    Disk::open(FileDev::open(p, true, 512).unwrap()).unwrap()
}

fn slots(d: &Disk<FileDev>) -> Slots {
    let (h, e) = d.current();
    Slots::find(e, h.entry_size()).unwrap()
}

fn bits(p: u8, t: u8, s: bool) -> SlotBits {
    SlotBits {
        priority: p,
        tries: t,
        successful: s,
    }
}

/// sgdisk agrees with our view and nothing but the slot bits moved.
fn check(image: &Path, before: &[(usize, Option<Info>)], a: SlotBits, b: SlotBits, step: &str) {
    assert!(sgdisk_clean(image), "{step}: sgdisk -v reports problems");
    let now = sgdisk_all(image);
    for ((n, old), (_, new)) in before.iter().zip(&now) {
        let (old, new) = (old.as_ref().unwrap(), new.as_ref().unwrap());
        let mask = reignite_slots::select::SLOT_MASK;
        assert_eq!(
            (
                old.attributes & !mask,
                &old.name,
                &old.unique_guid,
                &old.type_guid,
                old.first,
                old.last
            ),
            (
                new.attributes & !mask,
                &new.name,
                &new.unique_guid,
                &new.type_guid,
                new.first,
                new.last
            ),
            "{step}: partition {n} changed beyond the slot bits"
        );
    }
    let info = |n: usize| {
        now.iter()
            .find(|(m, _)| *m == n)
            .unwrap()
            .1
            .clone()
            .unwrap()
    };
    assert_eq!(
        SlotBits::from_attrs(info(3).attributes),
        a,
        "{step}: USR-A per sgdisk"
    );
    assert_eq!(
        SlotBits::from_attrs(info(4).attributes),
        b,
        "{step}: USR-B per sgdisk"
    );
    let d = open(image);
    assert_eq!(d.health(), Health::Clean, "{step}");
    let s = slots(&d);
    assert_eq!(
        (s.get(SlotId::A).bits(), s.get(SlotId::B).bits()),
        (a, b),
        "{step}: our view"
    );
}

/// Emulates GRUB: one gptprio.next boot written back to the disk.
fn grub_boot(image: &Path, j: &Journal) -> Option<SlotId> {
    let mut d = open(image);
    let s = slots(&d);
    let mut attrs = [s.get(SlotId::A).attrs, s.get(SlotId::B).attrs];
    let picked = boot_once(&mut attrs);
    let (h, e) = d.current();
    let mut e = e.to_vec();
    let es = h.entry_size();
    reignite_slots::gpt::set_attributes(&mut e, es, s.get(SlotId::A).index, attrs[0]);
    reignite_slots::gpt::set_attributes(&mut e, es, s.get(SlotId::B).index, attrs[1]);
    d.commit(&e, Some(j), "grub boot").unwrap();
    picked.map(|i| [SlotId::A, SlotId::B][i])
}

#[test]
fn full_update_cycle_matches_sgdisk_after_every_step() {
    if !have_sgdisk("full_update_cycle_matches_sgdisk_after_every_step") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("flatcar.img");
    // Foreign bits that must survive: read-only on A, legacy-boot on B.
    flatcar_classic(&img, &["-A", "3:set:60", "-A", "4:set:2", "-A", "1:set:2"]);
    let j = Journal::new(dir.path().join("j"));
    let base = sgdisk_all(&img);
    check(
        &img,
        &base,
        bits(1, 0, true),
        bits(0, 0, false),
        "fresh image",
    );

    let mut d = open(&img);
    let s = slots(&d).activate(SlotId::B).unwrap();
    d.commit(s.entries(), Some(&j), "activate").unwrap();
    check(&img, &base, bits(1, 0, true), bits(2, 1, false), "staged");
    assert_eq!(
        sgdisk_info(&img, 4).unwrap().attributes & !(1 << 2),
        0x0012_0000_0000_0000
    );

    assert_eq!(grub_boot(&img, &j), Some(SlotId::B));
    check(
        &img,
        &base,
        bits(1, 0, true),
        bits(2, 0, false),
        "after GRUB's decrement",
    );

    let mut d = open(&img);
    let s = slots(&d).mark_good(SlotId::B).unwrap();
    d.commit(s.entries(), Some(&j), "mark-good").unwrap();
    check(
        &img,
        &base,
        bits(1, 0, true),
        bits(2, 0, true),
        "marked good",
    );
    assert_eq!(
        sgdisk_info(&img, 4).unwrap().attributes & !(1 << 2),
        0x0102_0000_0000_0000
    );

    // Next update goes to A; it fails to boot and GRUB falls back to B.
    let mut d = open(&img);
    let s = slots(&d).activate(SlotId::A).unwrap();
    d.commit(s.entries(), Some(&j), "activate A").unwrap();
    check(&img, &base, bits(3, 1, false), bits(2, 0, true), "A staged");
    assert_eq!(grub_boot(&img, &j), Some(SlotId::A));
    assert_eq!(
        grub_boot(&img, &j),
        Some(SlotId::B),
        "fallback after a failed try"
    );
    check(
        &img,
        &base,
        bits(3, 0, false),
        bits(2, 0, true),
        "fell back",
    );

    // Rollback to A is refused (never good) unless forced.
    let d = open(&img);
    let e = slots(&d)
        .rollback(SlotId::A, false)
        .unwrap_err()
        .to_string();
    assert!(e.contains("USR-A never booted successfully"), "{e}");

    let mut d = open(&img);
    let s = slots(&d).mark_bad(SlotId::A, false).unwrap();
    d.commit(s.entries(), Some(&j), "mark-bad").unwrap();
    check(
        &img,
        &base,
        bits(0, 0, false),
        bits(2, 0, true),
        "A marked bad",
    );
    let d = open(&img);
    let e = slots(&d)
        .mark_bad(SlotId::B, false)
        .unwrap_err()
        .to_string();
    assert!(e.contains("would leave no bootable slot"), "{e}");
    assert!(
        j.load().unwrap().is_none(),
        "journal cleared after each commit"
    );
}

#[test]
fn numbering_names_and_gaps_survive() {
    if !have_sgdisk("numbering_names_and_gaps_survive") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("flatcar.img");
    flatcar_classic(&img, &[]);
    let mut d = open(&img);
    let s = slots(&d).activate(SlotId::B).unwrap();
    d.commit(s.entries(), None, "activate").unwrap();
    for n in [5, 8] {
        assert!(sgdisk_info(&img, n).is_none_or(|i| i.type_guid.starts_with("00000000")));
    }
    let labels: Vec<String> = sgdisk_all(&img)
        .into_iter()
        .map(|(_, i)| i.unwrap().name)
        .collect();
    assert_eq!(
        labels,
        [
            "EFI-SYSTEM",
            "BIOS-BOOT",
            "USR-A",
            "USR-B",
            "OEM",
            "OEM-CONFIG",
            "ROOT"
        ]
    );
}

#[test]
fn non_default_entry_array_location_is_kept() {
    if !have_sgdisk("non_default_entry_array_location_is_kept") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("small.img");
    flatcar_small(&img, &["-j", "1024"]);
    let d = open(&img);
    assert_eq!(d.primary().header.as_ref().unwrap().entries_lba(), 1024);
    let mut d = open(&img);
    let s = slots(&d).activate(SlotId::B).unwrap();
    d.commit(s.entries(), None, "activate").unwrap();
    let d = open(&img);
    assert_eq!(d.primary().header.as_ref().unwrap().entries_lba(), 1024);
    assert!(sgdisk_clean(&img));
    assert_eq!(
        sgdisk_info(&img, 4).unwrap().attributes,
        0x0012_0000_0000_0000
    );
}

fn corrupt(img: &Path, offset: u64) {
    use std::os::unix::fs::FileExt;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(img)
        .unwrap();
    let mut b = [0u8; 1];
    f.read_exact_at(&mut b, offset).unwrap();
    f.write_all_at(&[b[0] ^ 0x5a], offset).unwrap();
}

fn gpt_regions(img: &Path) -> Vec<u8> {
    use std::os::unix::fs::FileExt;
    let f = std::fs::File::open(img).unwrap();
    let len = f.metadata().unwrap().len();
    let mut a = vec![0u8; 34 * 512];
    f.read_exact_at(&mut a, 0).unwrap();
    let mut b = vec![0u8; 33 * 512];
    f.read_exact_at(&mut b, len - 33 * 512).unwrap();
    a.extend(b);
    a
}

#[test]
fn damaged_copies_are_refused_for_changes_and_repaired() {
    if !have_sgdisk("damaged_copies_are_refused_for_changes_and_repaired") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("small.img");
    let last = (64u64 << 20) / 512 - 1;
    // (what, byte offset, expected health prefix)
    let cases = [
        (
            "primary header",
            512 + 40,
            "primary GPT damaged: header CRC mismatch at LBA 1",
        ),
        (
            "primary entries",
            2 * 512 + 130,
            "primary GPT damaged: entry array CRC mismatch at LBA 2",
        ),
        (
            "backup header",
            last * 512 + 40,
            "backup GPT damaged: header CRC mismatch at LBA",
        ),
        (
            "backup entries",
            (last - 32) * 512 + 5,
            "backup GPT damaged: entry array CRC mismatch",
        ),
    ];
    for (what, off, msg) in cases {
        flatcar_small(&img, &[]);
        corrupt(&img, off);
        let mut d = open(&img);
        let h = d.health().to_string();
        assert!(h.starts_with(msg), "{what}: {h}");
        // Still readable: the slots come from the valid copy.
        assert_eq!(slots(&d).next(), Some(SlotId::A), "{what}");
        let before = gpt_regions(&img);
        let s = slots(&d).activate(SlotId::B).unwrap();
        let e = d.commit(s.entries(), None, "activate").unwrap_err();
        assert!(matches!(e, Error::NeedsRepair(_)), "{what}: {e}");
        assert!(e.to_string().contains("run `reignite slots repair`"));
        assert_eq!(gpt_regions(&img), before, "{what}: nothing written");
        let done = d.repair().unwrap().unwrap();
        assert!(done.starts_with("restored the"), "{what}: {done}");
        assert!(sgdisk_clean(&img), "{what}: sgdisk after repair");
        assert_eq!(open(&img).health(), Health::Clean);
        assert_eq!(open(&img).repair().unwrap(), None);
    }
}

#[test]
fn both_copies_bad_and_truncated_images_are_refused() {
    if !have_sgdisk("both_copies_bad_and_truncated_images_are_refused") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("small.img");
    flatcar_small(&img, &[]);
    let last = (64u64 << 20) / 512 - 1;
    corrupt(&img, 512 + 40);
    corrupt(&img, last * 512 + 40);
    let e = Disk::open(FileDev::open(&img, true, 512).unwrap())
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("no valid GPT: primary: header CRC mismatch at LBA 1")
            && e.contains("backup: header CRC mismatch at LBA 131071"),
        "{e}"
    );

    flatcar_small(&img, &[]);
    let f = std::fs::OpenOptions::new().write(true).open(&img).unwrap();
    f.set_len(60 << 20).unwrap();
    drop(f);
    let before = gpt_regions(&img);
    let mut d = open(&img);
    let h = d.health().to_string();
    assert!(
        h.contains("beyond the end of the device (122880 sectors): truncated image"),
        "{h}"
    );
    let e = d.repair().unwrap_err().to_string();
    assert!(
        e.contains("the image is truncated or the disk shrank"),
        "{e}"
    );
    let s = slots(&d).activate(SlotId::B).unwrap();
    assert!(d.commit(s.entries(), None, "x").is_err());
    assert_eq!(
        gpt_regions(&img),
        before,
        "nothing written to a truncated image"
    );
}

#[test]
fn ambiguous_tables_are_refused() {
    if !have_sgdisk("ambiguous_tables_are_refused") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("small.img");
    let third = format!("5:{USR}");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["-n", "5:34:2047", "-t", &third, "-c", "5:USR-C"],
            "partition 5 (\"USR-C\"",
        ),
        (
            vec!["-n", "5:34:2047", "-t", &third, "-c", "5:USR-B"],
            "partitions 4 and 5 both identify as USR-B",
        ),
        (
            vec!["-t", "4:0fc63daf-8483-4772-8e79-3d69d8477de4"],
            "no USR-B entry",
        ),
        (
            vec!["-c", "4:USR-A"],
            "partition 4 has the GUID of USR-B but the label \"USR-A\"",
        ),
    ];
    for (extra, msg) in cases {
        flatcar_small(&img, &extra);
        let d = open(&img);
        let (h, e) = d.current();
        let err = Slots::find(e, h.entry_size()).unwrap_err().to_string();
        assert!(
            err.starts_with("ambiguous slot table: ") && err.contains(msg),
            "{err}"
        );
    }
    // Labels alone identify slots when the GUIDs are not Flatcar's.
    flatcar_small(
        &img,
        &[
            "-u",
            "3:11111111-2222-3333-4444-555555555555",
            "-u",
            "4:11111111-2222-3333-4444-666666666666",
        ],
    );
    let d = open(&img);
    assert_eq!(slots(&d).get(SlotId::B).number(), 4);
}
