//! The intent journal of a table change. Written (atomically, durably) before
//! the first sector of a commit and removed after the read-back check, it
//! holds the whole new entry array, so the next run can finish the change
//! whatever sector the interruption hit (see `Disk::recover`).

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::Error;

/// Version of the on-disk record format.
const VERSION: u32 = 1;

/// The content of a journal file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Record {
    /// Format version (1).
    pub version: u32,
    /// Disk GUID of the table being changed.
    pub disk_guid: String,
    /// Human description ("activate USR-B").
    pub operation: String,
    /// Entry-array CRC before the change.
    pub old_entries_crc: u32,
    /// Entry-array CRC after the change.
    pub new_entries_crc: u32,
    /// The whole new entry array, hex.
    pub new_entries: String,
}

/// A journal file location.
#[derive(Debug, Clone)]
pub struct Journal {
    path: PathBuf,
}

fn jerr(path: &Path, reason: impl std::fmt::Display) -> Error {
    Error::Journal {
        path: path.display().to_string(),
        reason: reason.to_string(),
    }
}

impl Journal {
    /// A journal stored at `path` (its directory is created on first use).
    pub fn new(path: impl Into<PathBuf>) -> Journal {
        Journal { path: path.into() }
    }

    /// Where the journal lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Durably records the intent before any sector is written.
    pub fn begin(&self, rec: &Record) -> Result<(), Error> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        std::fs::create_dir_all(dir).map_err(|e| jerr(&self.path, e))?;
        let d = File::open(dir).map_err(|e| jerr(&self.path, e))?;
        let name = self
            .path
            .file_name()
            .ok_or_else(|| jerr(&self.path, "journal path has no file name"))?;
        let body = serde_json::to_vec(rec).map_err(|e| jerr(&self.path, e))?;
        reignite_sysutil::atomic_write_at(
            d.as_fd(),
            name,
            &reignite_sysutil::WriteOptions {
                mode: 0o600,
                ..Default::default()
            },
            |f| f.write_all(&body),
        )
        .map_err(|e| jerr(&self.path, e))
    }

    /// The pending record, if an operation was interrupted.
    pub fn load(&self) -> Result<Option<Record>, Error> {
        let mut f = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(jerr(&self.path, e)),
        };
        let mut s = String::new();
        f.read_to_string(&mut s).map_err(|e| jerr(&self.path, e))?;
        let rec: Record = serde_json::from_str(&s).map_err(|e| jerr(&self.path, e))?;
        if rec.version != VERSION {
            return Err(jerr(
                &self.path,
                format!("unsupported journal version {}", rec.version),
            ));
        }
        Ok(Some(rec))
    }

    /// Removes the record once the change is verified on disk.
    pub fn clear(&self) -> Result<(), Error> {
        match std::fs::remove_file(&self.path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(jerr(&self.path, e)),
        }
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            let d = File::open(dir).map_err(|e| jerr(&self.path, e))?;
            rustix::fs::fsync(&d).map_err(|e| jerr(&self.path, e))?;
        }
        Ok(())
    }
}

impl Record {
    /// Builds a record for a change of `old` into `new`.
    pub fn new(disk_guid: String, operation: &str, old: &[u8], new: &[u8]) -> Record {
        Record {
            version: VERSION,
            disk_guid,
            operation: operation.to_string(),
            old_entries_crc: crate::gpt::array_crc(old),
            new_entries_crc: crate::gpt::array_crc(new),
            new_entries: hex::encode(new),
        }
    }

    /// The new entry array.
    pub fn new_entries(&self) -> Result<Vec<u8>, String> {
        let v = hex::decode(&self.new_entries).map_err(|e| e.to_string())?;
        if crate::gpt::array_crc(&v) != self.new_entries_crc {
            return Err("entry array does not match its CRC".into());
        }
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn begin_load_clear_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::new(dir.path().join("sub/x.journal"));
        assert_eq!(j.load().unwrap(), None);
        let rec = Record::new("g".into(), "activate USR-B", &[1, 2], &[3, 4]);
        j.begin(&rec).unwrap();
        let back = j.load().unwrap().unwrap();
        assert_eq!(back, rec);
        assert_eq!(back.new_entries().unwrap(), vec![3, 4]);
        j.clear().unwrap();
        assert_eq!(j.load().unwrap(), None);
        j.clear().unwrap();
    }

    #[test]
    fn tampered_record_is_rejected() {
        let mut rec = Record::new("g".into(), "x", &[1], &[2]);
        rec.new_entries = "03".into();
        assert!(rec.new_entries().unwrap_err().contains("CRC"));
    }
}
