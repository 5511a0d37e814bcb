//! Privileged suite (needs root and `losetup --sector-size`): a loop device
//! with 4096-byte logical sectors, partitioned by `sgdisk` (which honours the
//! device's logical sector size), read and changed by the slot manager. The
//! layout is checked from raw bytes (primary header at byte 4096 = LBA 1,
//! entries at LBA 2 = byte 8192, backup header in the last 4096-byte
//! sector), and `sgdisk -v` / `sgdisk -i` must agree with us after every
//! command: activate, GRUB's decrement, mark-good, mark-bad, rollback,
//! install (O_DIRECT at 4096-byte alignment) and repair. Skips with a
//! printed reason when not root or when losetup cannot set a sector size.
//! Nothing outside a temporary image is touched; the loop device is
//! detached on drop.

mod common;

use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use reignite_slots::install::{install, InstallOptions};
use reignite_slots::{BlockDev, Disk, FileDev, Health, Journal, SlotBits, SlotId, Slots};

const SS: u64 = 4096;
const IMAGE_BYTES: u64 = 128 << 20;

/// A loop device attached to an image; detached when dropped.
struct Loop(PathBuf);

impl Drop for Loop {
    fn drop(&mut self) {
        let _ = Command::new("losetup").arg("-d").arg(&self.0).status();
    }
}

fn skip(why: &str) -> Option<(tempfile::TempDir, PathBuf, Loop)> {
    eprintln!("SKIP privileged_4k: {why}");
    None
}

fn setup() -> Option<(tempfile::TempDir, PathBuf, Loop)> {
    if !rustix::process::geteuid().is_root() {
        return skip("needs root to attach a loop device");
    }
    if !have_sgdisk("privileged_4k") {
        return None;
    }
    let help = Command::new("losetup").arg("--help").output();
    match help {
        Ok(h) if String::from_utf8_lossy(&h.stdout).contains("--sector-size") => {}
        _ => return skip("losetup is missing or has no --sector-size"),
    }
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("disk4k.img");
    std::fs::File::create(&img)
        .unwrap()
        .set_len(IMAGE_BYTES)
        .unwrap();
    let out = Command::new("losetup")
        .args(["--find", "--show", "--sector-size", "4096"])
        .arg(&img)
        .output()
        .unwrap();
    if !out.status.success() {
        return skip(&format!(
            "losetup --sector-size 4096 failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let dev = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    Some((dir, img, Loop(dev)))
}

/// Flatcar's partition set, scaled down, in 4096-byte sectors.
fn partition(dev: &Path) {
    let a_t = format!("3:{USR}");
    let b_t = format!("4:{USR}");
    let a_g = format!("3:{USR_A}");
    let b_g = format!("4:{USR_B}");
    let args = [
        "--disk-guid=00000000-0000-0000-0000-000000000004",
        "-n",
        "1:0:+8M",
        "-t",
        "1:c12a7328-f81f-11d2-ba4b-00a0c93ec93b",
        "-c",
        "1:EFI-SYSTEM",
        "-A",
        "1:set:2",
        "-n",
        "3:0:+32M",
        "-t",
        &a_t,
        "-c",
        "3:USR-A",
        "-u",
        &a_g,
        "-A",
        "3:set:48",
        "-A",
        "3:set:56",
        "-A",
        "3:set:60",
        "-n",
        "4:0:+32M",
        "-t",
        &b_t,
        "-c",
        "4:USR-B",
        "-u",
        &b_g,
        "-n",
        "9:0:0",
        "-t",
        "9:3884dd41-8582-4404-b9a8-e9b84f2df50e",
        "-c",
        "9:ROOT",
    ];
    let out = sgdisk(&args, dev);
    assert!(
        out.status.success(),
        "sgdisk on {}: {}",
        dev.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

/// Reads the on-disk layout from raw bytes, independently of our codec:
/// (primary entries LBA, backup header LBA, backup entries LBA).
fn raw_layout(dev: &Path) -> (u64, u64, u64) {
    let f = std::fs::File::open(dev).unwrap();
    let mut s = vec![0u8; SS as usize];
    f.read_exact_at(&mut s, 512).unwrap();
    assert_ne!(
        &s[..8],
        b"EFI PART",
        "no 512-byte-sector header at byte 512"
    );
    f.read_exact_at(&mut s, SS).unwrap();
    assert_eq!(&s[..8], b"EFI PART", "primary header at byte 4096");
    assert_eq!(u64_at(&s, 24), 1, "primary my_lba");
    let (entries, alt) = (u64_at(&s, 72), u64_at(&s, 32));
    let last = IMAGE_BYTES / SS - 1;
    assert_eq!(alt, last, "backup header at the last 4096-byte LBA");
    f.read_exact_at(&mut s, alt * SS).unwrap();
    assert_eq!(&s[..8], b"EFI PART", "backup header at byte {}", alt * SS);
    assert_eq!(u64_at(&s, 24), last, "backup my_lba");
    (entries, alt, u64_at(&s, 72))
}

fn open(dev: &Path) -> Disk<FileDev> {
    // The 512 passed here is the image-file default; a block device reports
    // its own logical sector size, which must win.
    Disk::open(FileDev::open(dev, true, 512).unwrap()).unwrap()
}

fn slots(d: &Disk<FileDev>) -> Slots {
    let (h, e) = d.current();
    Slots::find(e, h.entry_size()).unwrap()
}

/// `sgdisk -v` is clean, `sgdisk -i` shows the slot bits we expect, the
/// foreign bits are intact, and our reading agrees.
fn agree(dev: &Path, a: (u8, u8, bool), b: (u8, u8, bool), step: &str) {
    assert!(sgdisk_clean(dev), "{step}: sgdisk -v reports problems");
    let bits = |(priority, tries, successful): (u8, u8, bool)| SlotBits {
        priority,
        tries,
        successful,
    };
    let ia = sgdisk_info(dev, 3).unwrap();
    let ib = sgdisk_info(dev, 4).unwrap();
    assert_eq!(
        SlotBits::from_attrs(ia.attributes),
        bits(a),
        "{step}: USR-A per sgdisk"
    );
    assert_eq!(
        SlotBits::from_attrs(ib.attributes),
        bits(b),
        "{step}: USR-B per sgdisk"
    );
    assert_ne!(ia.attributes & (1 << 60), 0, "{step}: USR-A kept bit 60");
    assert_ne!(
        sgdisk_info(dev, 1).unwrap().attributes & (1 << 2),
        0,
        "{step}: ESP kept bit 2"
    );
    let d = open(dev);
    assert_eq!(d.health(), Health::Clean, "{step}");
    let s = slots(&d);
    assert_eq!(s.get(SlotId::A).bits(), bits(a), "{step}: our USR-A");
    assert_eq!(s.get(SlotId::B).bits(), bits(b), "{step}: our USR-B");
    assert_eq!(
        (s.get(SlotId::B).first_lba, s.get(SlotId::B).last_lba),
        (ib.first, ib.last),
        "{step}: USR-B range in 4096-byte sectors"
    );
}

#[test]
fn slots_on_a_4k_logical_sector_loop_device() {
    let Some((dir, img, lo)) = setup() else {
        return;
    };
    let dev = lo.0.clone();
    partition(&dev);
    let (p_entries, backup, b_entries) = raw_layout(&dev);
    assert_eq!(p_entries, 2, "entries at LBA 2 = byte 8192");
    // 128 entries of 128 bytes = 16 KiB = 4 sectors of 4096 bytes.
    assert_eq!(b_entries, backup - 4);

    let d = open(&dev);
    assert_eq!(d.dev().sector_size(), SS, "BLKSSZGET");
    let (h, _) = d.current();
    assert_eq!(
        (h.my_lba(), h.entries_lba(), h.alternate_lba()),
        (1, 2, backup)
    );
    assert_eq!(d.backup().header.as_ref().unwrap().entries_lba(), b_entries);
    agree(&dev, (1, 0, true), (0, 0, false), "fresh");

    let j = Journal::new(dir.path().join("journal"));
    let step = |name: &str, f: &dyn Fn(&Slots) -> Slots| {
        let mut d = open(&dev);
        let next = f(&slots(&d));
        d.commit(next.entries(), Some(&j), name).unwrap();
    };
    step("activate", &|s| s.activate(SlotId::B).unwrap());
    agree(&dev, (1, 0, true), (2, 1, false), "activate");
    // GRUB's boot: tries 1 → 0 on the chosen slot.
    step("grub boot", &|s| {
        let mut attrs = [s.get(SlotId::A).attrs, s.get(SlotId::B).attrs];
        assert_eq!(reignite_slots::select::boot_once(&mut attrs), Some(1));
        let mut e = s.entries().to_vec();
        reignite_slots::gpt::set_attributes(&mut e, 128, s.get(SlotId::A).index, attrs[0]);
        reignite_slots::gpt::set_attributes(&mut e, 128, s.get(SlotId::B).index, attrs[1]);
        Slots::find(&e, 128).unwrap()
    });
    agree(&dev, (1, 0, true), (2, 0, false), "grub boot");
    step("mark-good", &|s| s.mark_good(SlotId::B).unwrap());
    agree(&dev, (1, 0, true), (2, 0, true), "mark-good");
    step("rollback", &|s| s.rollback(SlotId::A, false).unwrap());
    let d = open(&dev);
    let s = slots(&d);
    assert_eq!(s.next(), Some(SlotId::A), "rollback makes USR-A next");
    let (a, b) = (s.get(SlotId::A).bits(), s.get(SlotId::B).bits());
    drop(d);
    agree(
        &dev,
        (a.priority, a.tries, a.successful),
        (b.priority, b.tries, b.successful),
        "rollback",
    );
    step("mark-bad", &|s| s.mark_bad(SlotId::B, false).unwrap());
    agree(
        &dev,
        (a.priority, a.tries, a.successful),
        (0, 0, false),
        "mark-bad",
    );

    // Install: an odd-sized payload, O_DIRECT at 4096-byte alignment with a
    // tail through the page cache.
    let payload = dir.path().join("usr.img");
    let data: Vec<u8> = (0..(5 << 20) + 1234u32).map(|i| (i % 239) as u8).collect();
    std::fs::write(&payload, &data).unwrap();
    let mut d = open(&dev);
    let r = d.dev().reread().unwrap();
    assert_eq!(
        r.direct.as_ref().map(|d| d.align),
        Some(4096),
        "O_DIRECT alignment"
    );
    drop(r);
    let opts = InstallOptions {
        activate: true,
        chunk_size: Some(1 << 20),
        verify_window: Some(2 << 20),
        ..Default::default()
    };
    install(&mut d, Some(&j), SlotId::B, &payload, &opts).unwrap();
    drop(d);
    agree(
        &dev,
        (a.priority, a.tries, a.successful),
        (a.priority + 1, 1, false),
        "install",
    );
    let first = sgdisk_info(&dev, 4).unwrap().first;
    let mut got = vec![0u8; data.len()];
    std::fs::File::open(&dev)
        .unwrap()
        .read_exact_at(&mut got, first * SS)
        .unwrap();
    assert!(
        got == data,
        "USR-B holds the payload at byte {}",
        first * SS
    );

    // Repair: destroy the backup header, then restore it from the primary.
    let f = std::fs::OpenOptions::new().write(true).open(&dev).unwrap();
    f.write_all_at(&vec![0u8; SS as usize], backup * SS)
        .unwrap();
    f.sync_all().unwrap();
    drop(f);
    let mut d = open(&dev);
    assert!(
        matches!(d.health(), Health::BackupDamaged(_)),
        "{}",
        d.health()
    );
    assert!(d
        .repair()
        .unwrap()
        .unwrap()
        .contains("restored the backup GPT"));
    drop(d);
    assert_eq!(raw_layout(&dev), (2, backup, b_entries));
    agree(
        &dev,
        (a.priority, a.tries, a.successful),
        (a.priority + 1, 1, false),
        "repair",
    );

    // The backing file is a 4096-byte-sector image: it reads the same with
    // the sector size given, and not at all as 512-byte sectors.
    let entries = open(&dev).current().1.to_vec();
    drop(lo);
    let d = Disk::open(FileDev::open(&img, false, 4096).unwrap()).unwrap();
    assert_eq!(d.health(), Health::Clean);
    assert_eq!(d.current().1, &entries[..]);
    let e = Disk::open(FileDev::open(&img, false, 512).unwrap()).unwrap_err();
    assert!(e.to_string().contains("no GPT signature at LBA 1"), "{e}");
}
