//! The GPT codec on plain image files with 4096-byte sectors (the sector
//! size `FileDev::open` is given for image files): a table built byte by
//! byte from the UEFI layout (tests/common/build.rs, not our encoder) is read
//! at byte 4096 / entries at byte 8192 / backup in the last 4096-byte
//! sector, a commit changes exactly the attribute bytes at those offsets in
//! both copies with CRCs a plain `crc32fast` agrees with, a repair restores
//! a lost backup header, and the same file read as 512-byte sectors has no
//! GPT. The loop-device version with `sgdisk` is tests/privileged_4k.rs.

mod common;

use std::os::unix::fs::FileExt;
use std::path::Path;

use common::build::*;
use common::{USR, USR_A, USR_B};
use reignite_slots::{BlockDev, Disk, FileDev, Health, SlotBits, SlotId, Slots};

const SS: usize = 4096;
const SECTORS: usize = 64;

fn image(path: &Path) {
    let l = Layout {
        ss: SS,
        sectors: SECTORS,
        entry_size: 128,
        entries: 128,
        p_entries: 2,
    };
    // 16 KiB of entries = 4 sectors: usable 6..=58, backup entries 59..=62.
    let parts = [
        Part {
            ty: LINUX,
            uniq: [9; 16],
            first: 6,
            last: 9,
            attrs: 1 << 2,
            name: "OEM",
        },
        Part {
            ty: USR,
            uniq: guid(USR_A),
            first: 10,
            last: 29,
            attrs: (1 << 48) | (1 << 56) | (1 << 60),
            name: "USR-A",
        },
        Part {
            ty: USR,
            uniq: guid(USR_B),
            first: 30,
            last: 49,
            attrs: 0,
            name: "USR-B",
        },
    ];
    std::fs::write(path, build(&l, &parts)).unwrap();
}

fn raw(path: &Path, off: u64, len: usize) -> Vec<u8> {
    let mut b = vec![0u8; len];
    std::fs::File::open(path)
        .unwrap()
        .read_exact_at(&mut b, off)
        .unwrap();
    b
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}
fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

/// Independent check of one copy: header at `lba`, CRCs right, and the
/// attributes of entry `index`.
fn copy_attrs(path: &Path, lba: u64, index: usize) -> u64 {
    let h = raw(path, lba * SS as u64, SS);
    assert_eq!(&h[..8], b"EFI PART", "header at byte {}", lba * SS as u64);
    assert_eq!(u64_at(&h, 24), lba);
    let mut z = h[..92].to_vec();
    z[16..20].fill(0);
    assert_eq!(
        crc32fast::hash(&z),
        u32_at(&h, 16),
        "header CRC at LBA {lba}"
    );
    let at = u64_at(&h, 72);
    let arr = raw(path, at * SS as u64, 128 * 128);
    assert_eq!(
        crc32fast::hash(&arr),
        u32_at(&h, 88),
        "entries CRC at LBA {at}"
    );
    u64_at(&arr, index * 128 + 48)
}

#[test]
fn image_file_with_4096_byte_sectors() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("4k.img");
    image(&img);

    let d = Disk::open(FileDev::open(&img, true, SS as u64).unwrap()).unwrap();
    assert_eq!(d.dev().sector_size(), SS as u64);
    assert_eq!(d.health(), Health::Clean);
    let (h, e) = d.current();
    assert_eq!((h.my_lba(), h.entries_lba(), h.alternate_lba()), (1, 2, 63));
    assert_eq!(d.backup().header.as_ref().unwrap().entries_lba(), 59);
    let s = Slots::find(e, h.entry_size()).unwrap();
    assert_eq!(
        (s.get(SlotId::B).first_lba, s.get(SlotId::B).sectors()),
        (30, 20)
    );
    assert_eq!(s.next(), Some(SlotId::A));

    let mut d = d;
    let next = s.activate(SlotId::B).unwrap();
    d.commit(next.entries(), None, "activate").unwrap();
    drop(d);
    let want = SlotBits {
        priority: 2,
        tries: 1,
        successful: false,
    };
    for lba in [1, 63] {
        assert_eq!(
            SlotBits::from_attrs(copy_attrs(&img, lba, 2)),
            want,
            "copy at LBA {lba}"
        );
        assert_eq!(copy_attrs(&img, lba, 1), (1 << 48) | (1 << 56) | (1 << 60));
        assert_eq!(copy_attrs(&img, lba, 0), 1 << 2);
    }

    // Lose the backup header; repair restores it where it was.
    let f = std::fs::OpenOptions::new().write(true).open(&img).unwrap();
    f.write_all_at(&[0u8; SS], 63 * SS as u64).unwrap();
    drop(f);
    let mut d = Disk::open(FileDev::open(&img, true, SS as u64).unwrap()).unwrap();
    assert!(
        matches!(d.health(), Health::BackupDamaged(_)),
        "{}",
        d.health()
    );
    d.repair().unwrap();
    drop(d);
    assert_eq!(SlotBits::from_attrs(copy_attrs(&img, 63, 2)), want);

    let e = Disk::open(FileDev::open(&img, false, 512).unwrap()).unwrap_err();
    assert!(e.to_string().contains("no GPT signature at LBA 1"), "{e}");
}
