//! Small helpers over `reignite_sysutil`'s atomic write: durable JSON files
//! and directory syncs.

use std::ffi::OsStr;
use std::fs::File;
use std::io::Write;
use std::os::fd::AsFd;
use std::path::Path;

/// Writes `value` as pretty JSON to `dir/name`, atomically and durably, with
/// mode `mode` (state files hold no secrets, but the trash journal is 0600).
pub(crate) fn write_json<T: serde::Serialize>(
    dir: &Path,
    name: &str,
    value: &T,
    mode: u32,
) -> std::io::Result<()> {
    let bytes = serde_json::to_vec_pretty(value).map_err(std::io::Error::other)?;
    write_bytes(dir, name, &bytes, mode)
}

/// Writes `bytes` to `dir/name`, atomically and durably.
pub(crate) fn write_bytes(dir: &Path, name: &str, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let d = File::open(dir)?;
    let opts = reignite_sysutil::WriteOptions {
        mode,
        ..Default::default()
    };
    reignite_sysutil::atomic_write_at(d.as_fd(), OsStr::new(name), &opts, |f| f.write_all(bytes))
        .map_err(|e| std::io::Error::other(e.to_string()))
}

/// Reads and parses a JSON file; `Ok(None)` when it does not exist.
pub(crate) fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> std::io::Result<Option<T>> {
    match std::fs::read(path) {
        Ok(b) => serde_json::from_slice(&b).map(Some).map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{}: {e}", path.display()),
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Flushes the filesystem holding `path` (one `syncfs` instead of an fsync
/// per rename).
pub(crate) fn sync_fs(path: &Path) -> std::io::Result<()> {
    reignite_sysutil::sync_filesystem(File::open(path)?.as_fd())
}

/// Creates `path` and missing parents with mode 0700 (trash scaffolding).
pub(crate) fn mkdir_p(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
}
