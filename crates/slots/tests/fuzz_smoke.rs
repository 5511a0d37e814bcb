//! A stable-toolchain stand-in for the cargo-fuzz target (`crates/slots/fuzz`):
//! a few thousand deterministic mutations of small, valid GPT images (512-
//! and 4096-byte sectors, default and moved entry arrays, 128- and 256-byte
//! entries) go through `reignite_slots::fuzzing::check_image`, the same
//! function the fuzz target calls: reading, selection, every slot command, a
//! commit and a repair. Mutations: bit flips in headers and entries, with and
//! without fixing the CRCs afterwards (so headers that are CRC-valid but
//! inconsistent are common), truncations, absurd entry counts and sizes,
//! out-of-range LBAs, inverted and overlapping partitions, duplicated GUIDs.
//! None may panic or take long; the counts show the mutations reach every
//! stage. The seed images are built here, byte by byte from the UEFI layout,
//! not with the crate's own encoder.

use std::path::Path;
use std::time::{Duration, Instant};

mod common;

use common::build::*;
use common::{USR, USR_A, USR_B};
use reignite_slots::fuzzing::{check_image, Outcome};

/// Seed images and their sector sizes.
fn seeds() -> Vec<(usize, Vec<u8>)> {
    let mut out = Vec::new();
    for (ss, sectors, entry_size, entries, p_entries) in [
        (512usize, 200usize, 128usize, 128usize, 2u64),
        (512, 260, 256, 64, 2),
        (512, 240, 128, 128, 10),
        (4096, 40, 128, 128, 2),
        (4096, 48, 128, 256, 3),
    ] {
        let l = Layout {
            ss,
            sectors,
            entry_size,
            entries,
            p_entries,
        };
        let n = (entries * entry_size).div_ceil(ss) as u64;
        let first = p_entries + n;
        let last = sectors as u64 - 2 - n;
        let span = (last - first + 1) / 4;
        let parts = [
            Part {
                ty: LINUX,
                uniq: [1; 16],
                first,
                last: first + span - 1,
                attrs: 1 << 60,
                name: "OEM",
            },
            Part {
                ty: USR,
                uniq: guid(USR_A),
                first: first + span,
                last: first + 2 * span - 1,
                attrs: (1 << 48) | (1 << 56) | 0x5,
                name: "USR-A",
            },
            Part {
                ty: USR,
                uniq: guid(USR_B),
                first: first + 2 * span,
                last: first + 3 * span - 1,
                attrs: 0,
                name: "USR-B",
            },
        ];
        out.push((ss, build(&l, &parts)));
    }
    out
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}
fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

/// Header LBAs of an image: 1 and what the primary names as its alternate
/// (or the last sector).
fn header_lbas(img: &[u8], ss: usize) -> Vec<usize> {
    let sectors = img.len() / ss;
    let mut v = vec![1];
    if sectors > 2 {
        let alt = u64_at(img, ss + 32);
        v.push(if (alt as usize) < sectors && alt > 1 {
            alt as usize
        } else {
            sectors - 1
        });
    }
    v
}

/// Recomputes the entry-array CRC (when the array is inside the image) and
/// the header CRC of the header at `lba`, as a consistent forger would.
fn fix_crcs(img: &mut [u8], ss: usize, lba: usize) {
    let h = lba * ss;
    if h + ss > img.len() {
        return;
    }
    let at = u64_at(img, h + 72);
    let bytes = u32_at(img, h + 80) as u64 * u32_at(img, h + 84) as u64;
    if bytes <= 4 << 20 {
        if let Some(start) = at.checked_mul(ss as u64) {
            if start + bytes <= img.len() as u64 {
                let crc = crc32fast::hash(&img[start as usize..(start + bytes) as usize]);
                put(img, h + 88, &crc.to_le_bytes());
            }
        }
    }
    let size = (u32_at(img, h + 12) as usize).clamp(20, ss);
    put(img, h + 16, &[0; 4]);
    let crc = crc32fast::hash(&img[h..h + size]);
    put(img, h + 16, &crc.to_le_bytes());
}

const ABSURD64: &[u64] = &[
    0,
    1,
    2,
    3,
    33,
    34,
    u32::MAX as u64,
    u64::MAX,
    u64::MAX - 1,
    1 << 40,
];
const ABSURD32: &[u32] = &[
    0,
    1,
    64,
    92,
    93,
    127,
    129,
    256,
    4096,
    1 << 20,
    1 << 25,
    u32::MAX,
];

fn mutate(rng: &mut Rng, ss: usize, seed: &[u8]) -> Vec<u8> {
    let mut img = seed.to_vec();
    let hdrs = header_lbas(&img, ss);
    for _ in 0..1 + rng.below(3) {
        let lba = hdrs[rng.below(hdrs.len())];
        let h = lba * ss;
        if h + ss > img.len() {
            continue;
        }
        let entries_at = (u64_at(&img, h + 72) as usize).saturating_mul(ss);
        let fix = rng.below(3) != 0;
        match rng.below(9) {
            // Bit flip in a header.
            0 => {
                let bit = rng.below(92 * 8);
                img[h + bit / 8] ^= 1 << (bit % 8);
            }
            // Bit flip in an entry array (mostly in the used entries).
            1 if entries_at < img.len() => {
                let span =
                    (img.len() - entries_at).min(if rng.below(4) == 0 { 16384 } else { 384 });
                let bit = rng.below(span * 8);
                img[entries_at + bit / 8] ^= 1 << (bit % 8);
            }
            // Absurd 64-bit header field: LBAs and usable range.
            2 => {
                let field = [24, 32, 40, 48, 72][rng.below(5)];
                let v = ABSURD64[rng.below(ABSURD64.len())];
                put(&mut img, h + field, &v.to_le_bytes());
            }
            // Absurd 32-bit header field: size, entry count and size.
            3 => {
                let field = [12, 80, 84][rng.below(3)];
                let v = ABSURD32[rng.below(ABSURD32.len())];
                put(&mut img, h + field, &v.to_le_bytes());
            }
            // Entry fields: inverted, huge or overlapping ranges, attributes.
            4 if entries_at.saturating_add(3 * 128) <= img.len() => {
                let e = entries_at + 128 * rng.below(3);
                let field = [32, 40, 48][rng.below(3)];
                let v = match rng.below(3) {
                    0 => ABSURD64[rng.below(ABSURD64.len())],
                    1 => u64_at(&img, entries_at + 128 * rng.below(3) + 32),
                    _ => rng.next(),
                };
                put(&mut img, e + field, &v.to_le_bytes());
            }
            // Duplicate an entry over another (GUID clashes, twin slots).
            5 if entries_at.saturating_add(3 * 128) <= img.len() => {
                let (a, b) = (rng.below(3), rng.below(3));
                let src = img[entries_at + 128 * a..entries_at + 128 * (a + 1)].to_vec();
                put(&mut img, entries_at + 128 * b, &src);
            }
            // Truncate the image.
            6 => {
                let cut = if rng.below(2) == 0 {
                    rng.below(img.len() / ss + 1) * ss
                } else {
                    rng.below(img.len() + 1)
                };
                img.truncate(cut);
            }
            // Lose or swap a whole header sector.
            7 => {
                if rng.below(2) == 0 {
                    img[h..h + ss].fill(0);
                } else if let Some(&other) = hdrs
                    .iter()
                    .find(|&&o| o != lba && (o + 1) * ss <= img.len())
                {
                    let copy = img[other * ss..(other + 1) * ss].to_vec();
                    put(&mut img, h, &copy);
                }
            }
            // Random byte anywhere.
            _ if !img.is_empty() => {
                let at = rng.below(img.len());
                img[at] = rng.next() as u8;
            }
            _ => {}
        }
        if fix {
            fix_crcs(&mut img, ss, lba);
        }
    }
    img
}

#[test]
fn mutated_tables_never_panic_and_round_trip() {
    let iters: usize = std::env::var("FUZZ_SMOKE_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000);
    let seeds = seeds();
    // The seeds themselves are fully accepted.
    for (ss, img) in &seeds {
        assert_eq!(
            check_image(*ss as u64, img),
            Outcome::Slots,
            "seed with {ss}-byte sectors"
        );
    }
    // FUZZ_SMOKE_CORPUS=DIR writes the seeds in the fuzz target's input
    // format (a mode byte choosing the sector size, then the image).
    if let Some(dir) = std::env::var_os("FUZZ_SMOKE_CORPUS") {
        std::fs::create_dir_all(&dir).unwrap();
        for (i, (ss, img)) in seeds.iter().enumerate() {
            let mut input = vec![u8::from(*ss == 4096)];
            input.extend_from_slice(img);
            std::fs::write(Path::new(&dir).join(format!("seed-{i}")), input).unwrap();
        }
    }
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    let start = Instant::now();
    let (mut rejected, mut table_only, mut slots) = (0, 0, 0);
    let mut slowest = Duration::ZERO;
    for i in 0..iters {
        let (ss, seed) = &seeds[i % seeds.len()];
        let input = mutate(&mut rng, *ss, seed);
        let t = Instant::now();
        let outcome = std::panic::catch_unwind(|| check_image(*ss as u64, &input));
        let outcome = match outcome {
            Ok(o) => o,
            Err(_) => {
                let path = std::env::temp_dir().join(format!("gpt-fuzz-smoke-{i}.img"));
                std::fs::write(&path, &input).unwrap();
                panic!(
                    "input {i} ({ss}-byte sectors) panicked; saved as {}",
                    path.display()
                );
            }
        };
        slowest = slowest.max(t.elapsed());
        match outcome {
            Outcome::Rejected => rejected += 1,
            Outcome::TableOnly => table_only += 1,
            Outcome::Slots => slots += 1,
        }
    }
    println!(
        "gpt fuzz smoke: {iters} inputs in {:?} (slowest {slowest:?}): {rejected} rejected, {table_only} read without a slot pair, {slots} through every slot command",
        start.elapsed()
    );
    assert!(
        slowest < Duration::from_secs(2),
        "an input took {slowest:?}"
    );
    assert!(
        rejected > iters / 50 && table_only > iters / 200 && slots > iters / 10,
        "mutations too mild or too harsh: {rejected}/{table_only}/{slots}"
    );
}

/// The largest entry array we accept (4 MiB: 32768 entries), every entry in
/// use with its own GUID: read, looked up and committed quickly (a quadratic
/// duplicate check here would be a hang for the fuzzer).
#[test]
fn a_full_maximal_entry_array_is_fast() {
    let l = Layout {
        ss: 512,
        sectors: 2 * 8192 + 2 + 64 + 8,
        entry_size: 128,
        entries: 32768,
        p_entries: 2,
    };
    let first = 2 + 8192u64;
    let mut parts: Vec<Part> = (0..32768u32)
        .map(|i| {
            let mut uniq = [0u8; 16];
            uniq[..4].copy_from_slice(&i.to_le_bytes());
            uniq[15] = 0x42;
            Part {
                ty: LINUX,
                uniq,
                first: first + 64,
                last: first + 64,
                attrs: 0,
                name: "x",
            }
        })
        .collect();
    parts[7] = Part {
        ty: USR,
        uniq: guid(USR_A),
        first,
        last: first + 31,
        attrs: (2 << 48) | (1 << 56),
        name: "USR-A",
    };
    parts[32767] = Part {
        ty: USR,
        uniq: guid(USR_B),
        first: first + 32,
        last: first + 63,
        attrs: 0,
        name: "USR-B",
    };
    let img = build(&l, &parts);
    let t = Instant::now();
    assert_eq!(check_image(512, &img), Outcome::Slots);
    let took = t.elapsed();
    println!("32768 used entries checked in {took:?}");
    assert!(took < Duration::from_secs(10), "{took:?}");
}
