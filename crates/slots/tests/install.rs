//! Payload install on Flatcar-layout images: the verified happy path, and
//! every kind of bad input refused with a precise message and the image left
//! byte-for-byte unchanged.

mod common;

use std::path::Path;

use common::*;
use ed25519_dalek::{Signer, SigningKey};
use reignite_slots::dev::{Reader, Reread};
use reignite_slots::install::{install, InstallOptions, SignatureCheck};
use reignite_slots::{BlockDev, Disk, FileDev, Journal, MemDev, SlotId, Slots};
use sha2::{Digest, Sha256};

fn open(p: &Path) -> Disk<FileDev> {
    Disk::open(FileDev::open(p, true, 512).unwrap()).unwrap()
}

fn digest_file(p: &Path) -> [u8; 32] {
    Sha256::digest(std::fs::read(p).unwrap()).into()
}

fn payload(dir: &Path, len: usize) -> (std::path::PathBuf, Vec<u8>) {
    let data: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
    let p = dir.join("usr.img");
    std::fs::write(&p, &data).unwrap();
    (p, data)
}

fn key() -> SigningKey {
    SigningKey::from_bytes(&[42u8; 32])
}

#[test]
fn verified_install_writes_and_activates() {
    if !have_sgdisk("verified_install_writes_and_activates") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("disk.img");
    flatcar_small(&img, &[]);
    let (p, data) = payload(dir.path(), 3 * 1024 * 1024 + 512);
    let sk = key();
    let opts = InstallOptions {
        expected_sha256: Some(Sha256::digest(&data).into()),
        signature: Some(SignatureCheck {
            key: sk.verifying_key(),
            signature: sk.sign(&data),
        }),
        require_signature: true,
        activate: true,
        chunk_size: Some(1 << 20),
        // Several flush-and-verify windows, the last one partial.
        verify_window: Some(1 << 20),
        ..Default::default()
    };
    let mut d = open(&img);
    let j = Journal::new(dir.path().join("j"));
    let r = install(&mut d, Some(&j), SlotId::B, &p, &opts).unwrap();
    assert_eq!(r.bytes, data.len() as u64);
    assert_eq!(r.sha256, hex::encode(Sha256::digest(&data)));
    assert!(r.signature_verified && r.activated);
    let info = sgdisk_info(&img, 4).unwrap();
    assert_eq!(info.attributes, 0x0012_0000_0000_0000);
    assert!(sgdisk_clean(&img));
    let mut got = vec![0u8; data.len()];
    use std::os::unix::fs::FileExt;
    std::fs::File::open(&img)
        .unwrap()
        .read_exact_at(&mut got, info.first * 512)
        .unwrap();
    assert!(got == data, "slot holds the payload");
}

/// Runs an install expected to fail; checks the message and that the image
/// did not change at all.
fn refused(img: &Path, p: &Path, opts: &InstallOptions<'_>, want: &str) {
    let before = digest_file(img);
    let mut d = open(img);
    let e = install(&mut d, None, SlotId::B, p, opts)
        .unwrap_err()
        .to_string();
    assert!(e.contains(want), "got: {e}\nwant: {want}");
    drop(d);
    assert_eq!(digest_file(img), before, "image changed after: {e}");
}

#[test]
fn bad_input_is_refused_and_nothing_is_written() {
    if !have_sgdisk("bad_input_is_refused_and_nothing_is_written") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("disk.img");
    flatcar_small(&img, &[]);
    let (p, data) = payload(dir.path(), 64 * 1024);
    let sk = key();
    let other = SigningKey::from_bytes(&[9u8; 32]);

    let big = dir.path().join("big.img");
    std::fs::File::create(&big)
        .unwrap()
        .set_len((16 << 20) + 1)
        .unwrap();
    refused(
        &img,
        &big,
        &InstallOptions::default(),
        "payload is 16777217 bytes but USR-B holds only 16777216 bytes; nothing was written",
    );

    let empty = dir.path().join("empty");
    std::fs::write(&empty, b"").unwrap();
    refused(&img, &empty, &InstallOptions::default(), "is empty");

    let wrong_sig = InstallOptions {
        signature: Some(SignatureCheck {
            key: sk.verifying_key(),
            signature: other.sign(&data),
        }),
        require_signature: true,
        ..Default::default()
    };
    refused(
        &img,
        &p,
        &wrong_sig,
        "does not match its signature under the configured key; nothing was written",
    );

    let wrong_key = InstallOptions {
        signature: Some(SignatureCheck {
            key: other.verifying_key(),
            signature: sk.sign(&data),
        }),
        ..Default::default()
    };
    refused(&img, &p, &wrong_key, "does not match its signature");

    let unsigned = InstallOptions {
        require_signature: true,
        ..Default::default()
    };
    refused(
        &img,
        &p,
        &unsigned,
        "a detached signature (--signature) is required; nothing was written",
    );

    let want = [0xabu8; 32];
    let wrong_hash = InstallOptions {
        expected_sha256: Some(want),
        ..Default::default()
    };
    refused(
        &img,
        &p,
        &wrong_hash,
        &format!(
            "(nothing was written): expected sha256 {}, got {}",
            hex::encode(want),
            hex::encode(Sha256::digest(&data))
        ),
    );

    // Damaged tables: a corrupt CRC or a truncated image.
    use std::os::unix::fs::FileExt;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&img)
        .unwrap();
    f.write_all_at(&[0xff], 2 * 512 + 300).unwrap();
    drop(f);
    refused(&img, &p, &InstallOptions::default(), "the GPT must be repaired before it is changed (primary GPT damaged: entry array CRC mismatch at LBA 2");

    flatcar_small(&img, &[]);
    let f = std::fs::OpenOptions::new().write(true).open(&img).unwrap();
    f.set_len(63 << 20).unwrap();
    drop(f);
    refused(
        &img,
        &p,
        &InstallOptions::default(),
        "backup GPT damaged: header LBA 131071 is beyond the end of the device (129024 sectors)",
    );
}

/// A device whose reads of the slot come back corrupted: the re-read check
/// must catch it and leave the slot disabled.
#[derive(Debug)]
struct BitRot(MemDev, u64);

impl BlockDev for BitRot {
    fn sector_size(&self) -> u64 {
        self.0.sector_size()
    }
    fn len_bytes(&self) -> u64 {
        self.0.len_bytes()
    }
    fn read_at(&mut self, off: u64, buf: &mut [u8]) -> std::io::Result<()> {
        self.0.read_at(off, buf)?;
        if (off..off + buf.len() as u64).contains(&self.1) {
            buf[(self.1 - off) as usize] ^= 1;
        }
        Ok(())
    }
    fn write_at(&mut self, off: u64, buf: &[u8]) -> std::io::Result<()> {
        self.0.write_at(off, buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

#[test]
fn reread_check_catches_corruption_on_the_device() {
    if !have_sgdisk("reread_check_catches_corruption_on_the_device") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("disk.img");
    flatcar_small(&img, &[]);
    let sectors = (64u64 << 20) / 512;
    let mem = MemDev::from_image_regions(&img, 512, &[(0, 34), (sectors - 33, 33)]).unwrap();
    let first_b = {
        let d = Disk::open(mem.clone()).unwrap();
        let (h, e) = d.current();
        Slots::find(e, h.entry_size())
            .unwrap()
            .get(SlotId::B)
            .first_lba
    };
    let (p, data) = payload(dir.path(), 8192);
    // With a verified digest from the first pass, the re-read is held to it.
    let mut d = Disk::open(BitRot(mem.clone(), first_b * 512 + 5000)).unwrap();
    let opts = InstallOptions {
        expected_sha256: Some(Sha256::digest(&data).into()),
        ..Default::default()
    };
    let e = install(&mut d, None, SlotId::B, &p, &opts)
        .unwrap_err()
        .to_string();
    assert!(e.contains("the verified payload has"), "{e}");
    let mut d = Disk::open(BitRot(mem, first_b * 512 + 5000)).unwrap();
    let opts = InstallOptions {
        activate: true,
        ..Default::default()
    };
    let e = install(&mut d, None, SlotId::B, &p, &opts)
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("verification failed: USR-B reads back as sha256"),
        "{e}"
    );
    assert!(e.ends_with("USR-B stays disabled"), "{e}");
    let (h, e) = d.current();
    let s = Slots::find(e, h.entry_size()).unwrap();
    assert_eq!(s.get(SlotId::B).bits().priority, 0);
    assert_eq!(s.next(), Some(SlotId::A));
}

/// A real image file whose re-read handles can be made to return a flipped
/// bit at `rot` (a byte offset in the image) and can have direct I/O taken
/// away, so the concurrent write-and-verify path is tested both ways.
#[derive(Debug)]
struct RotFile {
    dev: FileDev,
    rot: Option<u64>,
    direct: bool,
    /// Direct writes at or after this image offset fail with EINVAL.
    einval_from: Option<u64>,
}

fn rotting(mut r: Reader, rot: Option<u64>) -> Reader {
    Box::new(move |off, buf: &mut [u8]| {
        r(off, buf)?;
        if let Some(at) = rot.filter(|at| (off..off + buf.len() as u64).contains(at)) {
            buf[(at - off) as usize] ^= 0x10;
        }
        Ok(())
    })
}

impl BlockDev for RotFile {
    fn sector_size(&self) -> u64 {
        self.dev.sector_size()
    }
    fn len_bytes(&self) -> u64 {
        self.dev.len_bytes()
    }
    fn read_at(&mut self, off: u64, buf: &mut [u8]) -> std::io::Result<()> {
        self.dev.read_at(off, buf)
    }
    fn write_at(&mut self, off: u64, buf: &[u8]) -> std::io::Result<()> {
        self.dev.write_at(off, buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.dev.flush()
    }
    fn reread(&self) -> Option<Reread> {
        let mut r = self.dev.reread()?;
        r.buffered = rotting(r.buffered, self.rot);
        r.direct = match (self.direct, r.direct) {
            (true, Some(mut d)) => {
                d.read = rotting(d.read, self.rot);
                if let (Some(from), Some(mut w)) = (self.einval_from, d.write.take()) {
                    d.write = Some(Box::new(move |off, buf: &[u8]| {
                        if off >= from {
                            return Err(std::io::Error::from(std::io::ErrorKind::InvalidInput));
                        }
                        w(off, buf)
                    }));
                }
                Some(d)
            }
            _ => None,
        };
        Some(r)
    }
}

fn slot_b_start(img: &Path) -> u64 {
    let d = open(img);
    let (h, e) = d.current();
    Slots::find(e, h.entry_size())
        .unwrap()
        .get(SlotId::B)
        .first_lba
        * 512
}

/// Odd payload sizes (an unaligned tail after direct writes), small chunks
/// and windows, with and without direct I/O: the slot holds exactly the
/// payload, the bytes after it are untouched, and a flipped bit in the
/// re-read anywhere — first chunk, a middle window, the tail — is caught
/// with the slot left disabled.
#[test]
fn concurrent_verify_writes_exactly_and_catches_rot() {
    if !have_sgdisk("concurrent_verify_writes_exactly_and_catches_rot") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("disk.img");
    flatcar_small(&img, &[]);
    let has_direct = FileDev::open(&img, true, 512)
        .unwrap()
        .reread()
        .unwrap()
        .direct
        .is_some();
    if !has_direct {
        eprintln!(
            "note: {} has no O_DIRECT; the direct cases run buffered",
            dir.path().display()
        );
    }
    for direct in [true, false] {
        for len in [3 * 65536 + 777, 65536 * 5, 1000] {
            flatcar_small(&img, &[]);
            let start = slot_b_start(&img);
            // A marker just past the payload must survive.
            use std::os::unix::fs::FileExt;
            let f = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(&img)
                .unwrap();
            f.write_all_at(&[0x5a; 4096], start + len as u64).unwrap();
            drop(f);
            let (p, data) = payload(dir.path(), len);
            let opts = InstallOptions {
                activate: true,
                chunk_size: Some(65536),
                verify_window: Some(2 * 65536),
                ..Default::default()
            };
            let dev = RotFile {
                dev: FileDev::open(&img, true, 512).unwrap(),
                rot: None,
                direct,
                einval_from: None,
            };
            let mut d = Disk::open(dev).unwrap();
            let r = install(&mut d, None, SlotId::B, &p, &opts).unwrap();
            assert!(r.activated, "direct={direct} len={len}");
            drop(d);
            let mut got = vec![0u8; len + 4096];
            std::fs::File::open(&img)
                .unwrap()
                .read_exact_at(&mut got, start)
                .unwrap();
            assert!(
                got[..len] == data[..],
                "direct={direct} len={len}: slot content"
            );
            assert!(
                got[len..].iter().all(|b| *b == 0x5a),
                "direct={direct} len={len}: bytes after the payload"
            );
            assert!(sgdisk_clean(&img));

            for (at, pre) in [(0, false), (len as u64 / 2, true), (len as u64 - 1, false)] {
                {
                    flatcar_small(&img, &[]);
                    let dev = RotFile {
                        dev: FileDev::open(&img, true, 512).unwrap(),
                        rot: Some(start + at),
                        direct,
                        einval_from: None,
                    };
                    let mut d = Disk::open(dev).unwrap();
                    let opts = InstallOptions {
                        activate: true,
                        expected_sha256: pre.then(|| Sha256::digest(&data).into()),
                        chunk_size: Some(65536),
                        verify_window: Some(2 * 65536),
                        ..Default::default()
                    };
                    let e = install(&mut d, None, SlotId::B, &p, &opts)
                        .unwrap_err()
                        .to_string();
                    assert!(
                        e.starts_with("verification failed: USR-B reads back as sha256")
                            && e.ends_with("USR-B stays disabled"),
                        "direct={direct} len={len} at={at}: {e}"
                    );
                    let (h, e) = d.current();
                    let s = Slots::find(e, h.entry_size()).unwrap();
                    assert_eq!(s.get(SlotId::B).bits().priority, 0);
                    assert_eq!(s.next(), Some(SlotId::A));
                }
            }
        }
    }
}

/// A file system that accepts the probe but refuses direct writes part-way:
/// the install falls back to the page cache (flushing every window again)
/// and the slot still holds exactly the payload.
#[test]
fn refused_direct_writes_fall_back_to_buffered() {
    if !have_sgdisk("refused_direct_writes_fall_back_to_buffered") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("disk.img");
    let len = 5 * 65536 + 300;
    flatcar_small(&img, &[]);
    if FileDev::open(&img, true, 512)
        .unwrap()
        .reread()
        .unwrap()
        .direct
        .is_none()
    {
        eprintln!(
            "SKIP refused_direct_writes_fall_back_to_buffered: no O_DIRECT in {}",
            dir.path().display()
        );
        return;
    }
    for from in [0u64, 2 * 65536] {
        flatcar_small(&img, &[]);
        let start = slot_b_start(&img);
        let (p, data) = payload(dir.path(), len);
        let dev = RotFile {
            dev: FileDev::open(&img, true, 512).unwrap(),
            rot: None,
            direct: true,
            einval_from: Some(start + from),
        };
        let mut d = Disk::open(dev).unwrap();
        let opts = InstallOptions {
            activate: true,
            chunk_size: Some(65536),
            verify_window: Some(65536),
            ..Default::default()
        };
        install(&mut d, None, SlotId::B, &p, &opts).unwrap();
        drop(d);
        use std::os::unix::fs::FileExt;
        let mut got = vec![0u8; len];
        std::fs::File::open(&img)
            .unwrap()
            .read_exact_at(&mut got, start)
            .unwrap();
        assert!(got == data, "fallback from byte {from}: slot content");
        assert!(sgdisk_clean(&img));
    }
}
