//! Block access to a disk: a trait with a file/block-device implementation
//! and an in-memory, fault-injecting implementation used to prove the commit
//! protocol survives a crash at every sector boundary.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::Path;

/// Sector-addressed storage the slot manager reads and writes.
pub trait BlockDev {
    /// Logical sector size in bytes (512 or 4096).
    fn sector_size(&self) -> u64;
    /// Size in bytes.
    fn len_bytes(&self) -> u64;
    /// Reads exactly `buf.len()` bytes at byte offset `off`.
    fn read_at(&mut self, off: u64, buf: &mut [u8]) -> io::Result<()>;
    /// Writes all of `buf` at byte offset `off`.
    fn write_at(&mut self, off: u64, buf: &[u8]) -> io::Result<()>;
    /// Makes every completed write durable (fdatasync; a cache flush on a
    /// block device).
    fn flush(&mut self) -> io::Result<()>;
    /// Drops `[off, off + len)` from the page cache so the next read comes
    /// from the device (best effort; a no-op where there is no cache).
    fn drop_cache(&mut self, _off: u64, _len: u64) {}
    /// Handles for a verifier thread that re-reads what was written while
    /// writing goes on; `None` when the device has none (the re-read then
    /// runs after the write, through [`BlockDev::read_at`]).
    fn reread(&self) -> Option<Reread> {
        None
    }
    /// Number of whole sectors.
    fn sectors(&self) -> u64 {
        self.len_bytes() / self.sector_size()
    }
}

/// A positioned reader usable from another thread.
pub type Reader = Box<dyn FnMut(u64, &mut [u8]) -> io::Result<()> + Send>;

/// A positioned writer usable from another thread.
pub type Writer = Box<dyn FnMut(u64, &[u8]) -> io::Result<()> + Send>;

/// Makes `[off, off + len)` durable and drops it from the page cache.
pub type Flusher = Box<dyn FnMut(u64, u64) -> io::Result<()> + Send>;

/// What a verifier thread needs beside the writer: a way to make a written
/// range durable, and ways to read it back from the device.
pub struct Reread {
    /// fdatasync, then `POSIX_FADV_DONTNEED` of the range (its pages are
    /// clean by then), so a buffered read afterwards comes from the device.
    pub flush: Flusher,
    /// A reader through the page cache; only honest after `flush`.
    pub buffered: Reader,
    /// `O_DIRECT` access, where the file system or device supports it.
    pub direct: Option<DirectIo>,
}

/// `O_DIRECT` handles on the device: no page cache between us and it.
pub struct DirectIo {
    /// Alignment (bytes) of offsets, lengths and buffer addresses.
    pub align: usize,
    /// Reads from the device.
    pub read: Reader,
    /// Writes to the device (absent on a read-only handle); a write returns
    /// once the device holds the data, a flush makes it durable.
    pub write: Option<Writer>,
}

impl std::fmt::Debug for Reread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reread")
            .field("direct", &self.direct)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for DirectIo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirectIo")
            .field("align", &self.align)
            .field("writable", &self.write.is_some())
            .finish_non_exhaustive()
    }
}

/// A disk image file or a block device.
#[derive(Debug)]
pub struct FileDev {
    file: File,
    writable: bool,
    sector_size: u64,
    len: u64,
}

impl FileDev {
    /// Opens `path` read-only or read-write. For a block device the logical
    /// sector size comes from `BLKSSZGET`; for an image file it is
    /// `image_sector_size` (512 unless told otherwise).
    pub fn open(path: &Path, writable: bool, image_sector_size: u64) -> io::Result<FileDev> {
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(writable)
            .open(path)?;
        let meta = file.metadata()?;
        use std::os::unix::fs::FileTypeExt;
        let sector_size = if meta.file_type().is_block_device() {
            u64::from(rustix::fs::ioctl_blksszget(&file)?)
        } else {
            image_sector_size
        };
        // Seeking to the end gives the size of regular files and block
        // devices alike without another ioctl.
        let len = file.seek(SeekFrom::End(0))?;
        Ok(FileDev {
            file,
            writable,
            sector_size,
            len,
        })
    }

    /// The underlying file, for payload streaming.
    pub fn file(&self) -> &File {
        &self.file
    }
}

impl BlockDev for FileDev {
    fn sector_size(&self) -> u64 {
        self.sector_size
    }
    fn len_bytes(&self) -> u64 {
        self.len
    }
    fn read_at(&mut self, off: u64, buf: &mut [u8]) -> io::Result<()> {
        self.file.read_exact_at(buf, off)
    }
    fn write_at(&mut self, off: u64, buf: &[u8]) -> io::Result<()> {
        self.file.write_all_at(buf, off)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.sync_data()
    }
    fn reread(&self) -> Option<Reread> {
        let flush_file = self.file.try_clone().ok()?;
        let flush: Flusher = Box::new(move |off, len| {
            flush_file.sync_data()?;
            drop_cached(&flush_file, off, len);
            Ok(())
        });
        let read_file = self.file.try_clone().ok()?;
        let buffered: Reader = Box::new(move |off, buf| read_file.read_exact_at(buf, off));
        let direct =
            open_direct(&self.file, self.sector_size, self.writable).and_then(|(f, align)| {
                let write = match self.writable {
                    true => {
                        let w = f.try_clone().ok()?;
                        let w: Writer = Box::new(move |off, buf| w.write_all_at(buf, off));
                        Some(w)
                    }
                    false => None,
                };
                let read: Reader = Box::new(move |off, buf| f.read_exact_at(buf, off));
                Some(DirectIo { align, read, write })
            });
        Some(Reread {
            flush,
            buffered,
            direct,
        })
    }
    fn drop_cache(&mut self, off: u64, len: u64) {
        drop_cached(&self.file, off, len);
    }
}

/// Drops `[off, off + len)` of `file` from the page cache. Only clean pages
/// are dropped, so this follows a flush; best effort.
fn drop_cached(file: &File, off: u64, len: u64) {
    let _ = rustix::fs::fadvise(
        file,
        off,
        std::num::NonZeroU64::new(len),
        rustix::fs::Advice::DontNeed,
    );
}

/// Opens a second, `O_DIRECT` description of the same open file (through
/// `/proc/self/fd`, so a renamed or replaced path cannot substitute another
/// file) and finds the alignment direct reads need: `statx(STATX_DIOALIGN)`
/// where the kernel reports it (Linux 6.1+), else the logical sector size.
/// One aligned read at offset 0 proves it works; any failure means "no
/// direct I/O here" (tmpfs before 6.6, some FUSE and network file systems).
fn open_direct(file: &File, sector_size: u64, writable: bool) -> Option<(File, usize)> {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::OpenOptionsExt;
    let direct = std::fs::OpenOptions::new()
        .read(true)
        .write(writable)
        .custom_flags(rustix::fs::OFlags::DIRECT.bits() as i32)
        .open(format!("/proc/self/fd/{}", file.as_raw_fd()))
        .ok()?;
    let mut align = sector_size.max(512) as usize;
    if let Ok(st) = rustix::fs::statx(
        &direct,
        "",
        rustix::fs::AtFlags::EMPTY_PATH,
        rustix::fs::StatxFlags::DIOALIGN,
    ) {
        if st.stx_mask & rustix::fs::StatxFlags::DIOALIGN.bits() != 0 {
            if st.stx_dio_offset_align == 0 {
                return None;
            }
            align = align
                .max(st.stx_dio_offset_align as usize)
                .max(st.stx_dio_mem_align as usize);
        }
    }
    if !align.is_power_of_two() || align > 1 << 20 {
        return None;
    }
    let mut probe = AlignedBuf::new(align, align);
    direct.read_exact_at(probe.as_mut_slice(), 0).ok()?;
    Some((direct, align))
}

/// A heap buffer whose start is aligned for direct I/O.
#[derive(Debug)]
pub struct AlignedBuf {
    raw: Vec<u8>,
    start: usize,
    len: usize,
}

impl AlignedBuf {
    /// `len` zero bytes starting at an address that is a multiple of `align`
    /// (a power of two).
    pub fn new(len: usize, align: usize) -> AlignedBuf {
        let raw = vec![0u8; len + align];
        let addr = raw.as_ptr() as usize;
        let start = (align - addr % align) % align;
        AlignedBuf { raw, start, len }
    }
    /// The aligned bytes.
    pub fn as_slice(&self) -> &[u8] {
        &self.raw[self.start..self.start + self.len]
    }
    /// The aligned bytes, mutably.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        &mut self.raw[self.start..self.start + self.len]
    }
}

/// One recorded write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// A write of whole sectors starting at this LBA.
    Write {
        /// First sector.
        lba: u64,
        /// Number of sectors.
        sectors: u64,
    },
    /// A flush.
    Flush,
}

/// A sparse in-memory disk that records writes and can "lose power" after a
/// given number of written sectors: the sector that would exceed the budget
/// and everything after it is never stored, and every later call fails.
#[derive(Debug, Clone)]
pub struct MemDev {
    sector_size: u64,
    sectors: u64,
    data: BTreeMap<u64, Vec<u8>>,
    /// Every write and flush, in order.
    pub log: Vec<Op>,
    budget: Option<u64>,
    crashed: bool,
}

impl MemDev {
    /// An all-zero disk of `sectors` sectors.
    pub fn new(sector_size: u64, sectors: u64) -> MemDev {
        MemDev {
            sector_size,
            sectors,
            data: BTreeMap::new(),
            log: Vec::new(),
            budget: None,
            crashed: false,
        }
    }

    /// A disk holding `image` (cut to whole sectors); all-zero sectors are
    /// not stored.
    pub fn from_bytes(sector_size: u64, image: &[u8]) -> MemDev {
        let ss = sector_size as usize;
        let mut d = MemDev::new(sector_size, (image.len() / ss) as u64);
        for (lba, s) in image.chunks_exact(ss).enumerate() {
            if s.iter().any(|b| *b != 0) {
                d.data.insert(lba as u64, s.to_vec());
            }
        }
        d
    }

    /// Loads the sectors `ranges` (first LBA, count) of an image file; all
    /// other sectors read as zero. Enough for GPT work on a large sparse image.
    pub fn from_image_regions(
        path: &Path,
        sector_size: u64,
        ranges: &[(u64, u64)],
    ) -> io::Result<MemDev> {
        let f = File::open(path)?;
        let sectors = f.metadata()?.len() / sector_size;
        let mut d = MemDev::new(sector_size, sectors);
        for &(start, count) in ranges {
            for lba in start..(start + count).min(sectors) {
                let mut buf = vec![0u8; sector_size as usize];
                f.read_exact_at(&mut buf, lba * sector_size)?;
                if buf.iter().any(|b| *b != 0) {
                    d.data.insert(lba, buf);
                }
            }
        }
        Ok(d)
    }

    /// Writes the stored sectors into a sparse image file of the full size.
    pub fn save_sparse(&self, path: &Path) -> io::Result<()> {
        let f = File::create(path)?;
        f.set_len(self.sectors * self.sector_size)?;
        for (lba, buf) in &self.data {
            f.write_all_at(buf, lba * self.sector_size)?;
        }
        Ok(())
    }

    /// After `sectors` more sectors have been written, the device dies.
    pub fn crash_after(&mut self, sectors: u64) {
        self.budget = Some(sectors);
    }

    /// True once the simulated power loss happened.
    pub fn crashed(&self) -> bool {
        self.crashed
    }

    /// Powers the device back on: no budget, log cleared, data kept.
    pub fn revive(&mut self) {
        self.budget = None;
        self.crashed = false;
        self.log.clear();
    }

    /// Total sectors written according to the log.
    pub fn written_sectors(&self) -> u64 {
        self.log
            .iter()
            .map(|o| match o {
                Op::Write { sectors, .. } => *sectors,
                Op::Flush => 0,
            })
            .sum()
    }

    /// Raw sector content (zeros when never written).
    pub fn sector(&self, lba: u64) -> Vec<u8> {
        self.data
            .get(&lba)
            .cloned()
            .unwrap_or_else(|| vec![0; self.sector_size as usize])
    }

    fn power_lost() -> io::Error {
        io::Error::other("simulated power loss")
    }
}

impl BlockDev for MemDev {
    fn sector_size(&self) -> u64 {
        self.sector_size
    }
    fn len_bytes(&self) -> u64 {
        self.sectors * self.sector_size
    }
    fn read_at(&mut self, off: u64, buf: &mut [u8]) -> io::Result<()> {
        if self.crashed {
            return Err(Self::power_lost());
        }
        if off + buf.len() as u64 > self.len_bytes() {
            return Err(io::Error::from(io::ErrorKind::UnexpectedEof));
        }
        let ss = self.sector_size;
        let mut pos = off;
        let mut done = 0usize;
        while done < buf.len() {
            let lba = pos / ss;
            let within = (pos % ss) as usize;
            let n = (ss as usize - within).min(buf.len() - done);
            match self.data.get(&lba) {
                Some(s) => buf[done..done + n].copy_from_slice(&s[within..within + n]),
                None => buf[done..done + n].fill(0),
            }
            done += n;
            pos += n as u64;
        }
        Ok(())
    }
    fn write_at(&mut self, off: u64, buf: &[u8]) -> io::Result<()> {
        if self.crashed {
            return Err(Self::power_lost());
        }
        let ss = self.sector_size;
        if off % ss != 0 || buf.len() as u64 % ss != 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "MemDev takes whole-sector writes only",
            ));
        }
        if off + buf.len() as u64 > self.len_bytes() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "write past end",
            ));
        }
        let first = off / ss;
        let count = buf.len() as u64 / ss;
        self.log.push(Op::Write {
            lba: first,
            sectors: count,
        });
        for i in 0..count {
            if let Some(b) = self.budget.as_mut() {
                if *b == 0 {
                    self.crashed = true;
                    return Err(Self::power_lost());
                }
                *b -= 1;
            }
            let chunk = &buf[(i * ss) as usize..((i + 1) * ss) as usize];
            self.data.insert(first + i, chunk.to_vec());
        }
        Ok(())
    }
    fn flush(&mut self) -> io::Result<()> {
        if self.crashed {
            return Err(Self::power_lost());
        }
        self.log.push(Op::Flush);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memdev_crashes_at_the_sector_budget() {
        let mut d = MemDev::new(512, 16);
        d.crash_after(2);
        let err = d.write_at(512, &[7u8; 512 * 3]).unwrap_err();
        assert_eq!(err.to_string(), "simulated power loss");
        assert!(d.crashed());
        d.revive();
        let mut b = vec![0u8; 512 * 3];
        d.read_at(512, &mut b).unwrap();
        assert!(b[..1024].iter().all(|x| *x == 7));
        assert!(
            b[1024..].iter().all(|x| *x == 0),
            "third sector must not land"
        );
    }

    #[test]
    fn memdev_reads_span_sectors() {
        let mut d = MemDev::new(512, 4);
        d.write_at(512, &[1u8; 512]).unwrap();
        let mut b = [9u8; 10];
        d.read_at(507, &mut b).unwrap();
        assert_eq!(b, [0, 0, 0, 0, 0, 1, 1, 1, 1, 1]);
        assert!(d.read_at(2040, &mut b).is_err());
    }
}
