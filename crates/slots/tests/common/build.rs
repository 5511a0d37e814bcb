//! Builds small GPT disk images byte by byte from the UEFI layout (protective
//! MBR, headers with CRCs, both entry arrays), independently of the crate's
//! own encoder, for tests that need sector sizes or layouts `sgdisk` cannot
//! make on a plain file (4096-byte sectors, moved entry arrays, huge arrays).
#![allow(dead_code)]

pub const LINUX: &str = "0fc63daf-8483-4772-8e79-3d69d8477de4";

/// On-disk GUID bytes: the first three groups little-endian.
pub fn guid(s: &str) -> [u8; 16] {
    let hex: String = s.chars().filter(|c| *c != '-').collect();
    let b: Vec<u8> = (0..16)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    let mut g = [0u8; 16];
    g[..4].copy_from_slice(&[b[3], b[2], b[1], b[0]]);
    g[4..6].copy_from_slice(&[b[5], b[4]]);
    g[6..8].copy_from_slice(&[b[7], b[6]]);
    g[8..].copy_from_slice(&b[8..]);
    g
}

pub struct Part {
    pub ty: &'static str,
    pub uniq: [u8; 16],
    pub first: u64,
    pub last: u64,
    pub attrs: u64,
    pub name: &'static str,
}

pub struct Layout {
    pub ss: usize,
    pub sectors: usize,
    pub entry_size: usize,
    pub entries: usize,
    /// Primary entry array LBA (2 unless moved).
    pub p_entries: u64,
}

pub fn put(img: &mut [u8], at: usize, v: &[u8]) {
    img[at..at + v.len()].copy_from_slice(v);
}

pub fn header(
    l: &Layout,
    my: u64,
    alt: u64,
    entries_lba: u64,
    first: u64,
    last: u64,
    crc: u32,
) -> Vec<u8> {
    let mut h = vec![0u8; l.ss];
    put(&mut h, 0, b"EFI PART");
    put(&mut h, 8, &0x0001_0000u32.to_le_bytes());
    put(&mut h, 12, &92u32.to_le_bytes());
    put(&mut h, 24, &my.to_le_bytes());
    put(&mut h, 32, &alt.to_le_bytes());
    put(&mut h, 40, &first.to_le_bytes());
    put(&mut h, 48, &last.to_le_bytes());
    put(&mut h, 56, &[0x11; 16]);
    put(&mut h, 72, &entries_lba.to_le_bytes());
    put(&mut h, 80, &(l.entries as u32).to_le_bytes());
    put(&mut h, 84, &(l.entry_size as u32).to_le_bytes());
    put(&mut h, 88, &crc.to_le_bytes());
    let c = crc32fast::hash(&h[..92]);
    put(&mut h, 16, &c.to_le_bytes());
    h
}

pub fn build(l: &Layout, parts: &[Part]) -> Vec<u8> {
    let mut img = vec![0u8; l.ss * l.sectors];
    // Protective MBR.
    img[510] = 0x55;
    img[511] = 0xaa;
    img[446 + 4] = 0xee;
    let mut arr = vec![0u8; l.entries * l.entry_size];
    for (i, p) in parts.iter().enumerate() {
        let e = &mut arr[i * l.entry_size..(i + 1) * l.entry_size];
        put(e, 0, &guid(p.ty));
        put(e, 16, &p.uniq);
        put(e, 32, &p.first.to_le_bytes());
        put(e, 40, &p.last.to_le_bytes());
        put(e, 48, &p.attrs.to_le_bytes());
        for (j, u) in p.name.encode_utf16().enumerate() {
            put(e, 56 + 2 * j, &u.to_le_bytes());
        }
    }
    let n = (arr.len()).div_ceil(l.ss) as u64;
    let last_lba = l.sectors as u64 - 1;
    let b_entries = last_lba - n;
    let first_usable = l.p_entries + n;
    let last_usable = b_entries - 1;
    let crc = crc32fast::hash(&arr);
    put(&mut img, l.p_entries as usize * l.ss, &arr);
    put(&mut img, b_entries as usize * l.ss, &arr);
    let p = header(l, 1, last_lba, l.p_entries, first_usable, last_usable, crc);
    let b = header(l, last_lba, 1, b_entries, first_usable, last_usable, crc);
    put(&mut img, l.ss, &p);
    put(&mut img, last_lba as usize * l.ss, &b);
    img
}
