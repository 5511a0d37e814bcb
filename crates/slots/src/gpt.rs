//! A small GPT codec that keeps every byte it does not own.
//!
//! Headers are kept as their whole raw sector and entries as the raw entry
//! array, so fields this crate does not understand (larger header sizes,
//! entry sizes above 128, reserved bytes, attribute bits other than the slot
//! bits) survive a rewrite unchanged. Validation follows GRUB's `grub_gpt_read`
//! (ab-slots.md §4.2), so a table we accept is one GRUB accepts.

use std::fmt;

/// The header signature at offset 0 of LBA 1 and of the backup LBA.
pub const SIGNATURE: &[u8; 8] = b"EFI PART";
/// Smallest header size allowed by the UEFI spec.
pub const MIN_HEADER_SIZE: u32 = 92;
/// GRUB refuses entry arrays smaller than this many bytes.
pub const MIN_ARRAY_BYTES: u64 = 16 * 1024;
/// Sanity bound on the entry array (sgdisk allows at most 4 MiB too).
pub const MAX_ARRAY_BYTES: u64 = 4 * 1024 * 1024;

/// A GPT GUID in its on-disk (mixed-endian) byte order.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Guid(pub [u8; 16]);

impl Guid {
    /// Parses the canonical `8-4-4-4-12` text form (case-insensitive).
    pub fn parse(s: &str) -> Option<Guid> {
        let bytes = s.as_bytes();
        if bytes.len() != 36 || [8, 13, 18, 23].iter().any(|&i| bytes[i] != b'-') {
            return None;
        }
        let hex: String = s.chars().filter(|c| *c != '-').collect();
        let b = hex::decode(&hex).ok()?;
        let mut g = [0u8; 16];
        // The first three groups are little-endian on disk.
        g[0..4].copy_from_slice(&[b[3], b[2], b[1], b[0]]);
        g[4..6].copy_from_slice(&[b[5], b[4]]);
        g[6..8].copy_from_slice(&[b[7], b[6]]);
        g[8..16].copy_from_slice(&b[8..16]);
        Some(Guid(g))
    }

    /// True for the all-zero GUID that marks an unused entry.
    pub fn is_zero(&self) -> bool {
        self.0 == [0; 16]
    }
}

impl fmt::Display for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let g = &self.0;
        write!(
            f,
            "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{}-{}",
            g[3],
            g[2],
            g[1],
            g[0],
            g[5],
            g[4],
            g[7],
            g[6],
            hex::encode(&g[8..10]),
            hex::encode(&g[10..16])
        )
    }
}

impl fmt::Debug for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(b[off..off + 4].try_into().expect("4 bytes"))
}

fn u64_at(b: &[u8], off: usize) -> u64 {
    u64::from_le_bytes(b[off..off + 8].try_into().expect("8 bytes"))
}

/// One GPT header, kept as its whole raw sector.
#[derive(Clone, PartialEq, Eq)]
pub struct Header {
    raw: Vec<u8>,
}

impl fmt::Debug for Header {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Header")
            .field("my_lba", &self.my_lba())
            .field("alternate_lba", &self.alternate_lba())
            .field("entries_lba", &self.entries_lba())
            .field("entries", &(self.num_entries(), self.entry_size()))
            .field("entries_crc", &format_args!("{:08x}", self.entries_crc()))
            .finish()
    }
}

impl Header {
    /// Parses and validates the header sector read from `lba` of a device
    /// with `dev_sectors` sectors. The error is a one-line reason.
    pub fn parse(sector: &[u8], lba: u64, dev_sectors: u64) -> Result<Header, String> {
        let ss = sector.len() as u64;
        if &sector[..8] != SIGNATURE {
            return Err(format!("no GPT signature at LBA {lba}"));
        }
        let h = Header {
            raw: sector.to_vec(),
        };
        let rev = u32_at(sector, 8);
        if rev >> 16 != 1 {
            return Err(format!("unsupported GPT revision {rev:#010x} at LBA {lba}"));
        }
        let hs = h.header_size();
        if hs < MIN_HEADER_SIZE || u64::from(hs) > ss {
            return Err(format!(
                "header size {hs} at LBA {lba} is outside 92..={ss}"
            ));
        }
        let stored = u32_at(sector, 16);
        let computed = h.compute_crc();
        if stored != computed {
            return Err(format!(
                "header CRC mismatch at LBA {lba} (stored {stored:08x}, computed {computed:08x})"
            ));
        }
        if h.my_lba() != lba {
            return Err(format!(
                "header at LBA {lba} says it lives at LBA {}",
                h.my_lba()
            ));
        }
        let es = h.entry_size();
        if es < 128 || !es.is_power_of_two() {
            return Err(format!("entry size {es} at LBA {lba} is not 128·2^n"));
        }
        let bytes = h.array_bytes();
        if !(MIN_ARRAY_BYTES..=MAX_ARRAY_BYTES).contains(&bytes) {
            return Err(format!(
                "entry array of {bytes} bytes at LBA {lba} is outside {MIN_ARRAY_BYTES}..={MAX_ARRAY_BYTES}"
            ));
        }
        let (first, last) = (h.first_usable(), h.last_usable());
        // A usable range past the end of the device is not checked here: a
        // truncated image still reads (its slots show), while the missing
        // backup blocks every write.
        if first > last {
            return Err(format!(
                "usable range {first}..={last} at LBA {lba} is empty"
            ));
        }
        let start = h.entries_lba();
        // The array is at least one sector (MIN_ARRAY_BYTES), so `- 1` is
        // safe; a start near u64::MAX must not wrap around.
        let Some(end) = start.checked_add(h.array_sectors(ss) - 1) else {
            return Err(format!(
                "entry array LBA {start} of the header at LBA {lba} is beyond any device"
            ));
        };
        let overlaps_usable = start <= last && end >= first;
        if start < 2 || end >= dev_sectors || overlaps_usable || (start..=end).contains(&lba) {
            return Err(format!(
                "entry array LBA {start}..={end} of the header at LBA {lba} overlaps the header, the partitions or the end of the device"
            ));
        }
        Ok(h)
    }

    /// The raw sector.
    pub fn raw(&self) -> &[u8] {
        &self.raw
    }
    /// Header size in bytes (covered by the header CRC).
    pub fn header_size(&self) -> u32 {
        u32_at(&self.raw, 12)
    }
    /// LBA of this header.
    pub fn my_lba(&self) -> u64 {
        u64_at(&self.raw, 24)
    }
    /// LBA of the other header.
    pub fn alternate_lba(&self) -> u64 {
        u64_at(&self.raw, 32)
    }
    /// First usable LBA for partitions.
    pub fn first_usable(&self) -> u64 {
        u64_at(&self.raw, 40)
    }
    /// Last usable LBA for partitions.
    pub fn last_usable(&self) -> u64 {
        u64_at(&self.raw, 48)
    }
    /// Disk GUID.
    pub fn disk_guid(&self) -> Guid {
        Guid(self.raw[56..72].try_into().expect("16 bytes"))
    }
    /// Starting LBA of this copy's entry array.
    pub fn entries_lba(&self) -> u64 {
        u64_at(&self.raw, 72)
    }
    /// Number of entries in the array.
    pub fn num_entries(&self) -> u32 {
        u32_at(&self.raw, 80)
    }
    /// Size of one entry in bytes.
    pub fn entry_size(&self) -> u32 {
        u32_at(&self.raw, 84)
    }
    /// CRC32 of the entry array.
    pub fn entries_crc(&self) -> u32 {
        u32_at(&self.raw, 88)
    }
    /// Size of the entry array in bytes.
    pub fn array_bytes(&self) -> u64 {
        u64::from(self.num_entries()) * u64::from(self.entry_size())
    }
    /// Size of the entry array in whole sectors.
    pub fn array_sectors(&self, sector_size: u64) -> u64 {
        self.array_bytes().div_ceil(sector_size)
    }

    /// CRC32 over the first `header_size` bytes with the CRC field zeroed.
    pub fn compute_crc(&self) -> u32 {
        let n = (self.header_size() as usize).min(self.raw.len());
        let mut h = crc32fast::Hasher::new();
        h.update(&self.raw[..16]);
        h.update(&[0; 4]);
        h.update(&self.raw[20..n]);
        h.finalize()
    }

    /// A copy of this header placed at `my_lba`, pointing at `alternate_lba`
    /// and at an entry array at `entries_lba` with CRC `entries_crc`; every
    /// other byte (disk GUID, usable range, reserved bytes) is kept.
    pub fn relocated(
        &self,
        my_lba: u64,
        alternate_lba: u64,
        entries_lba: u64,
        entries_crc: u32,
    ) -> Header {
        let mut raw = self.raw.clone();
        raw[24..32].copy_from_slice(&my_lba.to_le_bytes());
        raw[32..40].copy_from_slice(&alternate_lba.to_le_bytes());
        raw[72..80].copy_from_slice(&entries_lba.to_le_bytes());
        raw[88..92].copy_from_slice(&entries_crc.to_le_bytes());
        let mut h = Header { raw };
        let crc = h.compute_crc();
        h.raw[16..20].copy_from_slice(&crc.to_le_bytes());
        h
    }

    /// True when `other` is the mirror of this header: same disk, usable
    /// range, entry geometry and entry CRC, each pointing at the other.
    pub fn mirrors(&self, other: &Header) -> bool {
        self.alternate_lba() == other.my_lba()
            && other.alternate_lba() == self.my_lba()
            && self.first_usable() == other.first_usable()
            && self.last_usable() == other.last_usable()
            && self.disk_guid() == other.disk_guid()
            && self.num_entries() == other.num_entries()
            && self.entry_size() == other.entry_size()
            && self.entries_crc() == other.entries_crc()
    }
}

/// CRC32 of an entry array, as stored in the header.
pub fn array_crc(entries: &[u8]) -> u32 {
    crc32fast::hash(entries)
}

/// Read-only view of one partition entry (`entry_size` raw bytes).
#[derive(Clone, Copy)]
pub struct Entry<'a>(pub &'a [u8]);

impl fmt::Debug for Entry<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Entry")
            .field("type", &self.type_guid())
            .field("guid", &self.unique_guid())
            .field("name", &self.name())
            .field("attrs", &format_args!("{:#018x}", self.attributes()))
            .finish()
    }
}

impl Entry<'_> {
    /// Partition type GUID (all zero = unused entry).
    pub fn type_guid(&self) -> Guid {
        Guid(self.0[0..16].try_into().expect("16 bytes"))
    }
    /// Unique partition GUID.
    pub fn unique_guid(&self) -> Guid {
        Guid(self.0[16..32].try_into().expect("16 bytes"))
    }
    /// First LBA of the partition.
    pub fn first_lba(&self) -> u64 {
        u64_at(self.0, 32)
    }
    /// Last LBA of the partition (inclusive).
    pub fn last_lba(&self) -> u64 {
        u64_at(self.0, 40)
    }
    /// The 64-bit attribute field.
    pub fn attributes(&self) -> u64 {
        u64_at(self.0, 48)
    }
    /// The partition name (UTF-16LE, up to the first NUL).
    pub fn name(&self) -> String {
        let units: Vec<u16> = self.0[56..128]
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .take_while(|u| *u != 0)
            .collect();
        String::from_utf16_lossy(&units)
    }
    /// True when the entry is in use.
    pub fn is_used(&self) -> bool {
        !self.type_guid().is_zero()
    }
}

/// Returns entry `index` (0-based) of an entry array.
pub fn entry(entries: &[u8], entry_size: u32, index: usize) -> Entry<'_> {
    let es = entry_size as usize;
    Entry(&entries[index * es..(index + 1) * es])
}

/// Overwrites the attribute field of entry `index` (0-based) in place.
pub fn set_attributes(entries: &mut [u8], entry_size: u32, index: usize, attrs: u64) {
    let off = index * entry_size as usize + 48;
    entries[off..off + 8].copy_from_slice(&attrs.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guid_round_trip_and_mixed_endian_layout() {
        let s = "5dfbf5f4-2848-4bac-aa5e-0d9a20b745a6";
        let g = Guid::parse(s).unwrap();
        assert_eq!(g.0[0..4], [0xf4, 0xf5, 0xfb, 0x5d]);
        assert_eq!(g.0[8..10], [0xaa, 0x5e]);
        assert_eq!(g.to_string(), s);
        assert_eq!(Guid::parse(&s.to_uppercase()), Some(g));
        assert_eq!(Guid::parse("5dfbf5f4-2848-4bac-aa5e-0d9a20b745a"), None);
        assert_eq!(Guid::parse("5dfbf5f42-848-4bac-aa5e-0d9a20b745a6"), None);
    }

    fn sample_header() -> Vec<u8> {
        let mut s = vec![0u8; 512];
        s[..8].copy_from_slice(SIGNATURE);
        s[8..12].copy_from_slice(&0x0001_0000u32.to_le_bytes());
        s[12..16].copy_from_slice(&92u32.to_le_bytes());
        s[24..32].copy_from_slice(&1u64.to_le_bytes());
        s[32..40].copy_from_slice(&999u64.to_le_bytes());
        s[40..48].copy_from_slice(&34u64.to_le_bytes());
        s[48..56].copy_from_slice(&966u64.to_le_bytes());
        s[72..80].copy_from_slice(&2u64.to_le_bytes());
        s[80..84].copy_from_slice(&128u32.to_le_bytes());
        s[84..88].copy_from_slice(&128u32.to_le_bytes());
        let h = Header { raw: s };
        h.relocated(1, 999, 2, 0).raw
    }

    #[test]
    fn header_validation_reasons() {
        let good = sample_header();
        assert!(Header::parse(&good, 1, 1000).is_ok());
        let mut bad = good.clone();
        bad[100] ^= 1; // outside header_size: not covered by the CRC
        assert!(Header::parse(&bad, 1, 1000).is_ok());
        bad[60] ^= 1;
        let e = Header::parse(&bad, 1, 1000).unwrap_err();
        assert!(e.contains("header CRC mismatch at LBA 1"), "{e}");
        let e = Header::parse(&good, 999, 1000).unwrap_err();
        assert!(e.contains("says it lives at LBA 1"), "{e}");
        let e = Header::parse(&good, 1, 20).unwrap_err();
        assert!(
            e.contains("overlaps the header, the partitions or the end"),
            "{e}"
        );
        let e = Header::parse(&[0u8; 512], 1, 1000).unwrap_err();
        assert_eq!(e, "no GPT signature at LBA 1");
    }

    #[test]
    fn header_in_a_4096_byte_sector() {
        // 128 entries of 128 bytes are 4 sectors of 4096 bytes (32 of 512).
        let mut s = vec![0u8; 4096];
        s[..512].copy_from_slice(&sample_header());
        s[40..48].copy_from_slice(&6u64.to_le_bytes());
        s[48..56].copy_from_slice(&58u64.to_le_bytes());
        let h = Header { raw: s }.relocated(1, 63, 2, 0);
        let p = Header::parse(h.raw(), 1, 64).unwrap();
        assert_eq!((p.array_sectors(4096), p.array_sectors(512)), (4, 32));
        // Bytes past the 92-byte header in the 4096-byte sector are kept.
        let mut raw = h.raw().to_vec();
        raw[4000] = 0xaa;
        let b = Header { raw }.relocated(63, 1, 59, 0);
        assert_eq!(b.raw()[4000], 0xaa);
        assert!(Header::parse(b.raw(), 63, 64).is_ok());
        // Entries at LBA 2..=5 must end before first usable LBA 6.
        let e = Header::parse(h.relocated(1, 63, 3, 0).raw(), 1, 64).unwrap_err();
        assert!(e.contains("entry array LBA 3..=6"), "{e}");
        let e = Header::parse(h.relocated(1, 63, u64::MAX - 1, 0).raw(), 1, 64).unwrap_err();
        assert!(e.contains("beyond any device"), "{e}");
    }

    #[test]
    fn relocated_keeps_unknown_bytes_and_mirrors() {
        let mut raw = sample_header();
        raw[12..16].copy_from_slice(&96u32.to_le_bytes());
        raw[92..96].copy_from_slice(b"XTRA");
        let p = Header { raw }.relocated(1, 999, 2, 7);
        let b = p.relocated(999, 1, 967, 7);
        assert_eq!(&b.raw()[92..96], b"XTRA");
        assert!(Header::parse(b.raw(), 999, 1000).is_ok());
        assert!(p.mirrors(&b) && b.mirrors(&p));
        assert!(!p.mirrors(&p.relocated(999, 1, 967, 8)));
    }

    #[test]
    fn entry_fields_and_attribute_write() {
        let mut arr = vec![0u8; 256];
        arr[128..144].copy_from_slice(
            &Guid::parse("5dfbf5f4-2848-4bac-aa5e-0d9a20b745a6")
                .unwrap()
                .0,
        );
        for (i, u) in "USR-B".encode_utf16().enumerate() {
            arr[128 + 56 + 2 * i..128 + 58 + 2 * i].copy_from_slice(&u.to_le_bytes());
        }
        arr[128 + 48..128 + 56].copy_from_slice(&(1u64 << 60).to_le_bytes());
        set_attributes(&mut arr, 128, 1, 0x0012_0000_0000_0000);
        let e = entry(&arr, 128, 1);
        assert_eq!(e.name(), "USR-B");
        assert_eq!(e.attributes(), 0x0012_0000_0000_0000);
        assert!(e.is_used() && !entry(&arr, 128, 0).is_used());
    }
}
