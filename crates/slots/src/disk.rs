//! Both copies of a GPT on one device: reading with CRC checks and fallback,
//! health, and the crash-safe commit (ab-slots.md §8.3).
//!
//! Commit order: backup entries, backup header, flush, primary entries,
//! primary header, flush, read back and compare. Only sectors whose content
//! changes are written. While the backup is being written the old primary is
//! intact; while the primary is being written the new backup is complete and
//! flushed; so at no instant are both copies invalid. The primary is the
//! commit point for GRUB and the kernel; the journal lets the next run roll a
//! half-done change forward.

use crate::dev::BlockDev;
use crate::gpt::{array_crc, Header};
use crate::journal::{Journal, Record};
use crate::Error;

/// What was found at one header location.
#[derive(Debug, Clone)]
pub struct CopyState {
    /// The header, when its own checks passed (even if the entries did not).
    pub header: Option<Header>,
    /// The entry array, when it matched the header's CRC.
    pub entries: Option<Vec<u8>>,
    /// Why this copy is not usable, if it is not.
    pub problem: Option<String>,
}

impl CopyState {
    /// Header and entries both valid.
    pub fn is_valid(&self) -> bool {
        self.header.is_some() && self.entries.is_some()
    }
    fn invalid(problem: String) -> CopyState {
        CopyState {
            header: None,
            entries: None,
            problem: Some(problem),
        }
    }
}

/// Agreement of the two copies.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Health {
    /// Both valid and mirror each other.
    Clean,
    /// Only the primary is valid; the backup has the given problem.
    BackupDamaged(String),
    /// Only the backup is valid; the primary has the given problem.
    PrimaryDamaged(String),
    /// Both valid but different; GRUB and the kernel use the primary.
    Diverged,
}

impl std::fmt::Display for Health {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Health::Clean => write!(f, "clean"),
            Health::BackupDamaged(p) => write!(f, "backup GPT damaged: {p}"),
            Health::PrimaryDamaged(p) => write!(f, "primary GPT damaged: {p}"),
            Health::Diverged => write!(f, "primary and backup GPT differ"),
        }
    }
}

/// A device with its GPT read.
#[derive(Debug)]
pub struct Disk<D: BlockDev> {
    dev: D,
    primary: CopyState,
    backup: CopyState,
}

fn io_err(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
    let context = context.into();
    move |source| Error::Io { context, source }
}

fn read_copy<D: BlockDev>(dev: &mut D, lba: u64) -> Result<CopyState, Error> {
    let ss = dev.sector_size();
    let sectors = dev.sectors();
    if lba >= sectors {
        return Ok(CopyState::invalid(format!(
            "header LBA {lba} is beyond the end of the device ({sectors} sectors): truncated image or shrunk disk"
        )));
    }
    let mut sector = vec![0u8; ss as usize];
    dev.read_at(lba * ss, &mut sector)
        .map_err(io_err(format!("reading GPT header at LBA {lba}")))?;
    let header = match Header::parse(&sector, lba, sectors) {
        Ok(h) => h,
        Err(p) => return Ok(CopyState::invalid(p)),
    };
    let mut entries = vec![0u8; header.array_bytes() as usize];
    let at = header.entries_lba();
    dev.read_at(at * ss, &mut entries)
        .map_err(io_err(format!("reading GPT entries at LBA {at}")))?;
    let crc = array_crc(&entries);
    if crc != header.entries_crc() {
        let problem = format!(
            "entry array CRC mismatch at LBA {at} (header says {:08x}, entries give {crc:08x})",
            header.entries_crc()
        );
        return Ok(CopyState {
            header: Some(header),
            entries: None,
            problem: Some(problem),
        });
    }
    Ok(CopyState {
        header: Some(header),
        entries: Some(entries),
        problem: None,
    })
}

impl<D: BlockDev> Disk<D> {
    /// Reads both copies. Fails only when neither is valid or on I/O errors.
    pub fn open(mut dev: D) -> Result<Disk<D>, Error> {
        let ss = dev.sector_size();
        if ss < 512 || !ss.is_power_of_two() {
            return Err(Error::Refused(format!("unsupported sector size {ss}")));
        }
        if dev.sectors() < 3 {
            return Err(Error::NoValidGpt {
                primary: format!("device has only {} bytes", dev.len_bytes()),
                backup: "no room for one".into(),
            });
        }
        let primary = read_copy(&mut dev, 1)?;
        let backup_lba = match &primary.header {
            Some(h) => h.alternate_lba(),
            None => dev.sectors() - 1,
        };
        let backup = read_copy(&mut dev, backup_lba)?;
        if !primary.is_valid() && !backup.is_valid() {
            return Err(Error::NoValidGpt {
                primary: primary.problem.clone().unwrap_or_default(),
                backup: backup.problem.clone().unwrap_or_default(),
            });
        }
        Ok(Disk {
            dev,
            primary,
            backup,
        })
    }

    /// The device.
    pub fn dev(&self) -> &D {
        &self.dev
    }
    /// The device, mutably (payload writes).
    pub fn dev_mut(&mut self) -> &mut D {
        &mut self.dev
    }
    /// Gives the device back.
    pub fn into_dev(self) -> D {
        self.dev
    }
    /// The primary copy as read.
    pub fn primary(&self) -> &CopyState {
        &self.primary
    }
    /// The backup copy as read.
    pub fn backup(&self) -> &CopyState {
        &self.backup
    }

    /// How the two copies relate.
    pub fn health(&self) -> Health {
        match (self.primary.is_valid(), self.backup.is_valid()) {
            (true, true) => {
                let (p, b) = (self.primary.header.as_ref(), self.backup.header.as_ref());
                if p.zip(b).is_some_and(|(p, b)| p.mirrors(b))
                    && self.primary.entries == self.backup.entries
                {
                    Health::Clean
                } else {
                    Health::Diverged
                }
            }
            (true, false) => Health::BackupDamaged(self.backup.problem.clone().unwrap_or_default()),
            (false, true) => {
                Health::PrimaryDamaged(self.primary.problem.clone().unwrap_or_default())
            }
            (false, false) => unreachable!("open() refuses a disk without a valid copy"),
        }
    }

    /// The authoritative header and entries: the primary when valid (as GRUB
    /// and the kernel decide), else the backup.
    pub fn current(&self) -> (&Header, &[u8]) {
        let c = if self.primary.is_valid() {
            &self.primary
        } else {
            &self.backup
        };
        (
            c.header.as_ref().expect("valid copy"),
            c.entries.as_deref().expect("valid copy"),
        )
    }

    /// Non-fatal observations about the layout.
    pub fn warnings(&self) -> Vec<String> {
        let mut w = Vec::new();
        let last = self.dev.sectors() - 1;
        let (h, _) = self.current();
        let alt = if h.my_lba() == 1 {
            h.alternate_lba()
        } else {
            h.my_lba()
        };
        if alt < last {
            w.push(format!(
                "backup GPT header is at LBA {alt}, not at the last LBA {last}: the disk grew since the table was written"
            ));
        }
        w
    }

    /// The header templates each copy should be written with: a copy keeps its
    /// own header (and so its entry-array location) when that header is
    /// intact; a lost header is rebuilt from the other one at the default place.
    fn templates(&self) -> Result<(Header, Header), Error> {
        let ss = self.dev.sector_size();
        let sectors = self.dev.sectors();
        let (p, b) = (self.primary.header.clone(), self.backup.header.clone());
        let (p, b) = match (p, b) {
            (Some(p), Some(b)) if p.mirrors(&b) => (p, b),
            // Both headers pass their own checks but disagree (usable range,
            // disk GUID, geometry): the copy GRUB would not use is rebuilt
            // from the one it would, keeping its entry-array location when
            // that location is valid for the rebuilt header.
            (Some(p), Some(b)) if self.primary.is_valid() => {
                let alt = p.alternate_lba();
                let moved = p.relocated(alt, 1, b.entries_lba(), p.entries_crc());
                let b = if Header::parse(moved.raw(), alt, sectors).is_ok() {
                    moved
                } else {
                    let n = p.array_sectors(ss);
                    if alt >= sectors || alt < n + 2 {
                        return Err(Error::Refused(format!(
                            "the backup GPT header belongs at LBA {alt}, which leaves no room for its entry array"
                        )));
                    }
                    p.relocated(alt, 1, alt - n, p.entries_crc())
                };
                (p, b)
            }
            (Some(p), Some(b)) => {
                let moved = b.relocated(1, b.my_lba(), p.entries_lba(), b.entries_crc());
                let p = if Header::parse(moved.raw(), 1, sectors).is_ok() {
                    moved
                } else if 2 + b.array_sectors(ss) <= b.first_usable() {
                    b.relocated(1, b.my_lba(), 2, b.entries_crc())
                } else {
                    return Err(Error::Refused(format!(
                        "no room for a primary entry array before first usable LBA {}",
                        b.first_usable()
                    )));
                };
                (p, b)
            }
            (Some(p), None) => {
                let alt = p.alternate_lba();
                let n = p.array_sectors(ss);
                if alt >= sectors || alt < n + 2 {
                    return Err(Error::Refused(format!(
                        "the backup GPT header belongs at LBA {alt}, beyond the end of the device ({sectors} sectors); the image is truncated or the disk shrank"
                    )));
                }
                let b = p.relocated(alt, 1, alt - n, p.entries_crc());
                (p, b)
            }
            (None, Some(b)) => {
                let n = b.array_sectors(ss);
                if 2 + n > b.first_usable() {
                    return Err(Error::Refused(format!(
                        "no room for a primary entry array before first usable LBA {}",
                        b.first_usable()
                    )));
                }
                let p = b.relocated(1, b.my_lba(), 2, b.entries_crc());
                (p, b)
            }
            (None, None) => unreachable!("open() refuses a disk without a valid copy"),
        };
        Ok((p, b))
    }

    /// Writes `want` over the sectors `[lba, lba + want.len())`, skipping
    /// sectors that already hold that content and coalescing runs.
    fn write_changed(&mut self, lba: u64, want: &[u8]) -> Result<(), Error> {
        let ss = self.dev.sector_size() as usize;
        let mut have = vec![0u8; want.len()];
        self.dev
            .read_at(lba * ss as u64, &mut have)
            .map_err(io_err(format!("reading LBA {lba}")))?;
        let n = want.len() / ss;
        let mut i = 0;
        while i < n {
            if want[i * ss..(i + 1) * ss] == have[i * ss..(i + 1) * ss] {
                i += 1;
                continue;
            }
            let start = i;
            while i < n && want[i * ss..(i + 1) * ss] != have[i * ss..(i + 1) * ss] {
                i += 1;
            }
            let at = lba + start as u64;
            self.dev
                .write_at(at * ss as u64, &want[start * ss..i * ss])
                .map_err(io_err(format!("writing GPT sectors at LBA {at}")))?;
        }
        Ok(())
    }

    /// Writes one copy: entries first, then the header that covers them.
    fn write_copy(&mut self, header: &Header, entries: &[u8]) -> Result<(), Error> {
        let ss = self.dev.sector_size();
        let at = header.entries_lba();
        let mut buf = vec![0u8; (header.array_sectors(ss) * ss) as usize];
        // Bytes after the array in its last sector are kept as they are.
        self.dev
            .read_at(at * ss, &mut buf)
            .map_err(io_err(format!("reading GPT entries at LBA {at}")))?;
        buf[..entries.len()].copy_from_slice(entries);
        self.write_changed(at, &buf)?;
        self.write_changed(header.my_lba(), header.raw())
    }

    fn flush(&mut self) -> Result<(), Error> {
        self.dev.flush().map_err(io_err("flushing the device"))
    }

    /// Writes `entries` to both copies in the safe order and verifies.
    fn write_both(&mut self, entries: &[u8]) -> Result<(), Error> {
        let (p, b) = self.templates()?;
        let crc = array_crc(entries);
        // Each header points at the other (a CRC-valid header may carry any
        // alternate LBA; the rewritten pair always mirrors).
        let b = b.relocated(b.my_lba(), 1, b.entries_lba(), crc);
        let p = p.relocated(1, b.my_lba(), p.entries_lba(), crc);
        self.write_copy(&b, entries)?;
        self.flush()?;
        self.write_copy(&p, entries)?;
        self.flush()?;
        self.reread()?;
        let ok = |c: &CopyState, h: &Header| {
            c.header.as_ref() == Some(h) && c.entries.as_deref() == Some(entries)
        };
        if !ok(&self.primary, &p) || !ok(&self.backup, &b) {
            return Err(Error::Verify(format!(
                "the GPT read back differs from what was written (primary: {}; backup: {})",
                self.primary.problem.as_deref().unwrap_or("content differs"),
                self.backup.problem.as_deref().unwrap_or("content differs")
            )));
        }
        Ok(())
    }

    fn reread(&mut self) -> Result<(), Error> {
        self.primary = read_copy(&mut self.dev, 1)?;
        let backup_lba = match &self.primary.header {
            Some(h) => h.alternate_lba(),
            None => self.dev.sectors() - 1,
        };
        self.backup = read_copy(&mut self.dev, backup_lba)?;
        Ok(())
    }

    /// Replaces the entry array. Requires a clean table; records the intent
    /// in `journal` (when given) before the first write and removes it after
    /// the read-back check.
    pub fn commit(
        &mut self,
        new_entries: &[u8],
        journal: Option<&Journal>,
        operation: &str,
    ) -> Result<(), Error> {
        let health = self.health();
        if health != Health::Clean {
            return Err(Error::NeedsRepair(health.to_string()));
        }
        let (h, old) = self.current();
        if old.len() != new_entries.len() {
            return Err(Error::Refused("entry array size changed".into()));
        }
        if old == new_entries {
            return Ok(());
        }
        let rec = Record::new(h.disk_guid().to_string(), operation, old, new_entries);
        if let Some(j) = journal {
            j.begin(&rec)?;
        }
        self.write_both(new_entries)?;
        if let Some(j) = journal {
            j.clear()?;
        }
        Ok(())
    }

    /// Restores a damaged or diverged copy from the authoritative one (the
    /// primary when valid, as GRUB does). Returns what was done, `None` when
    /// the table was already clean.
    pub fn repair(&mut self) -> Result<Option<String>, Error> {
        let health = self.health();
        if health == Health::Clean {
            return Ok(None);
        }
        let entries = self.current().1.to_vec();
        self.write_both(&entries)?;
        Ok(Some(match health {
            Health::BackupDamaged(p) => format!("restored the backup GPT from the primary ({p})"),
            Health::PrimaryDamaged(p) => format!("restored the primary GPT from the backup ({p})"),
            _ => "rewrote the backup GPT from the primary, which GRUB and the kernel use".into(),
        }))
    }

    /// Resolves an interrupted commit recorded in `journal`: rolls it forward
    /// when the disk still holds the old table, the new one, or a torn mix of
    /// the two; discards it (the change counts as not done) when the table was
    /// changed by someone else since. Returns a description of what happened.
    pub fn recover(&mut self, journal: &Journal) -> Result<Option<String>, Error> {
        let Some(rec) = journal.load()? else {
            return Ok(None);
        };
        let (h, _) = self.current();
        if h.disk_guid().to_string() != rec.disk_guid {
            return Err(Error::Journal {
                path: journal.path().display().to_string(),
                reason: format!(
                    "it belongs to disk {} but this disk is {}; remove it if that disk is gone",
                    rec.disk_guid,
                    h.disk_guid()
                ),
            });
        }
        let new = rec.new_entries().map_err(|reason| Error::Journal {
            path: journal.path().display().to_string(),
            reason,
        })?;
        let known = |c: &CopyState| {
            c.entries
                .as_deref()
                .map(array_crc)
                .is_some_and(|crc| crc == rec.old_entries_crc || crc == rec.new_entries_crc)
        };
        let ours = if self.primary.is_valid() {
            known(&self.primary)
        } else {
            known(&self.backup)
        };
        let msg = if !ours {
            format!(
                "discarded the journal of the interrupted '{}': the table changed since, so it was not applied",
                rec.operation
            )
        } else if self.health() == Health::Clean && self.current().1 == new.as_slice() {
            format!("the interrupted '{}' had completed", rec.operation)
        } else {
            self.write_both(&new)?;
            format!("finished the interrupted '{}'", rec.operation)
        };
        journal.clear()?;
        Ok(Some(msg))
    }
}
