//! Atomic, durable file replacement relative to a directory file descriptor.
//!
//! The sequence is always: create a uniquely named temporary file in the
//! target's own directory (`O_CREAT|O_EXCL`, never following a symlink), fill
//! it, `fchown` (if an owner is given), then `fchmod` (chown first, because
//! the kernel clears setuid/setgid bits on chown), `fsync`, `renameat` over the
//! target and `fsync` of the directory. With [`Durability::Deferred`] the two
//! fsyncs are skipped and the caller promises one [`sync_filesystem`] before it
//! records anything that depends on the data being on disk; this is how a
//! large apply avoids thousands of journal commits.
//!
//! If filling the file fails, the temporary file is removed and the target is
//! untouched: a failed hash check never leaves anything at the target path.

use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;
use std::sync::atomic::{AtomicU64, Ordering};

use rustix::fs::{Mode, OFlags};

/// When data written by [`atomic_write_at`] reaches the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// fsync the file before the rename and the directory after it.
    #[default]
    Fsync,
    /// Skip both fsyncs; the caller runs [`sync_filesystem`] later.
    Deferred,
}

/// Permissions and durability of an atomically written file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteOptions {
    /// Permission bits including setuid/setgid/sticky (`0o7777` mask).
    pub mode: u32,
    /// `(uid, gid)` to `fchown` to before the mode is set; `None` keeps the
    /// creating process's ids.
    pub owner: Option<(u32, u32)>,
    /// See [`Durability`].
    pub durability: Durability,
}

impl Default for WriteOptions {
    fn default() -> Self {
        Self {
            mode: 0o644,
            owner: None,
            durability: Durability::Fsync,
        }
    }
}

/// An atomic write failed; names the file and the step.
#[derive(Debug, thiserror::Error)]
#[error("{step} {name}: {source}")]
pub struct AtomicWriteError {
    /// The step that failed ("creating temporary file for", "renaming into", ...).
    pub step: &'static str,
    /// The target name inside its directory.
    pub name: String,
    /// The underlying error; for a failed `fill` it is the closure's error.
    #[source]
    pub source: io::Error,
}

impl AtomicWriteError {
    fn new(step: &'static str, name: &OsStr, source: impl Into<io::Error>) -> Self {
        Self {
            step,
            name: name.to_string_lossy().into_owned(),
            source: source.into(),
        }
    }
}

impl From<AtomicWriteError> for io::Error {
    fn from(e: AtomicWriteError) -> Self {
        io::Error::new(e.source.kind(), e.to_string())
    }
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// The prefix of every temporary file this module creates, so leftovers of an
/// interrupted run are recognisable.
pub const TEMP_PREFIX: &str = ".reignite-tmp-";

/// The process id, asked of the kernel once (it is part of every temporary
/// name). Names stay unique in practice through the counter and the
/// nanoseconds; `O_EXCL` guarantees nothing is ever clobbered.
fn pid() -> u32 {
    static PID: AtomicU64 = AtomicU64::new(0);
    let cached = PID.load(Ordering::Relaxed);
    if cached != 0 {
        return cached as u32;
    }
    let p = std::process::id();
    PID.store(u64::from(p), Ordering::Relaxed);
    p
}

fn temp_name(target: &OsStr) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    // Keep part of the target name for debuggability, bounded so the whole
    // name stays below NAME_MAX.
    let stem: String = target
        .to_string_lossy()
        .chars()
        .filter(|c| *c != '/')
        .take(64)
        .collect();
    format!("{TEMP_PREFIX}{stem}-{}-{n}-{nanos:x}", pid())
}

/// Atomically replaces `name` in directory `dir` with a file whose contents
/// are produced by `fill`, which receives the open temporary file (positioned
/// at its start). Returns what `fill` returned.
///
/// `name` must be a single path component. An existing directory at `name`
/// makes the rename fail; an existing symlink at `name` is replaced, never
/// followed.
pub fn atomic_write_at<T>(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    opts: &WriteOptions,
    fill: impl FnOnce(&mut File) -> io::Result<T>,
) -> Result<T, AtomicWriteError> {
    if name.as_bytes().contains(&b'/') || name.is_empty() || name == ".." || name == "." {
        return Err(AtomicWriteError::new(
            "refusing to write",
            name,
            io::Error::new(io::ErrorKind::InvalidInput, "not a single path component"),
        ));
    }
    let tmp = temp_name(name);
    let fd = rustix::fs::openat(
        dir,
        tmp.as_str(),
        OFlags::CREATE | OFlags::EXCL | OFlags::RDWR | OFlags::CLOEXEC | OFlags::NOFOLLOW,
        Mode::from_raw_mode(0o600),
    )
    .map_err(|e| AtomicWriteError::new("creating temporary file for", name, e))?;
    let mut file = File::from(fd);
    let result = (|| {
        let value = fill(&mut file).map_err(|e| AtomicWriteError::new("writing", name, e))?;
        if let Some((uid, gid)) = opts.owner {
            rustix::fs::fchown(
                &file,
                Some(rustix::fs::Uid::from_raw(uid)),
                Some(rustix::fs::Gid::from_raw(gid)),
            )
            .map_err(|e| AtomicWriteError::new("changing owner of", name, e))?;
        }
        rustix::fs::fchmod(&file, Mode::from_raw_mode(opts.mode & 0o7777))
            .map_err(|e| AtomicWriteError::new("changing mode of", name, e))?;
        if opts.durability == Durability::Fsync {
            file.sync_all()
                .map_err(|e| AtomicWriteError::new("syncing", name, e))?;
        }
        rustix::fs::renameat(dir, tmp.as_str(), dir, name)
            .map_err(|e| AtomicWriteError::new("renaming into", name, e))?;
        Ok(value)
    })();
    match result {
        Ok(value) => {
            if opts.durability == Durability::Fsync {
                rustix::fs::fsync(dir)
                    .map_err(|e| AtomicWriteError::new("syncing directory of", name, e))?;
            }
            Ok(value)
        }
        Err(e) => {
            let _ = rustix::fs::unlinkat(dir, tmp.as_str(), rustix::fs::AtFlags::empty());
            Err(e)
        }
    }
}

/// Like [`atomic_write_at`], for a `name` that is expected not to exist yet:
/// the contents go to an unnamed `O_TMPFILE` in `dir`, which gets its owner
/// and mode and is then linked in as `name` — one directory operation instead
/// of a temporary name plus a rename, and nothing to clean up after a crash.
/// The file is created with its final permission bits, and `fchown` /
/// `fchmod` are only called when the result differs (umask, special bits,
/// another owner, a setgid directory). Falls back to [`atomic_write_at`]
/// where `O_TMPFILE` is not supported; if `name` exists after all, it is
/// replaced atomically as there.
pub fn atomic_create_at<T>(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    opts: &WriteOptions,
    fill: impl FnOnce(&mut File) -> io::Result<T>,
) -> Result<T, AtomicWriteError> {
    if name.as_bytes().contains(&b'/') || name.is_empty() || name == ".." || name == "." {
        return atomic_write_at(dir, name, opts, fill);
    }
    // Created with the permission bits it will have (the umask may take some
    // away; fixed below): nobody can open an unnamed file by a name.
    let fd = match rustix::fs::openat(
        dir,
        ".",
        OFlags::TMPFILE | OFlags::RDWR | OFlags::CLOEXEC,
        Mode::from_raw_mode(opts.mode & 0o777),
    ) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::OPNOTSUPP)
        | Err(rustix::io::Errno::ISDIR)
        | Err(rustix::io::Errno::INVAL)
        | Err(rustix::io::Errno::NOSYS) => return atomic_write_at(dir, name, opts, fill),
        Err(e) => {
            return Err(AtomicWriteError::new(
                "creating temporary file for",
                name,
                e,
            ))
        }
    };
    let mut file = File::from(fd);
    let value = fill(&mut file).map_err(|e| AtomicWriteError::new("writing", name, e))?;
    // Owner and mode only where creation did not already give the right ones
    // (usually it did: two inode updates fewer per file).
    let st = rustix::fs::fstat(&file)
        .map_err(|e| AtomicWriteError::new("inspecting temporary file for", name, e))?;
    let mut chowned = false;
    if let Some((uid, gid)) = opts.owner {
        if (st.st_uid, st.st_gid) != (uid, gid) {
            rustix::fs::fchown(
                &file,
                Some(rustix::fs::Uid::from_raw(uid)),
                Some(rustix::fs::Gid::from_raw(gid)),
            )
            .map_err(|e| AtomicWriteError::new("changing owner of", name, e))?;
            chowned = true;
        }
    }
    if chowned || st.st_mode & 0o7777 != opts.mode & 0o7777 {
        rustix::fs::fchmod(&file, Mode::from_raw_mode(opts.mode & 0o7777))
            .map_err(|e| AtomicWriteError::new("changing mode of", name, e))?;
    }
    if opts.durability == Durability::Fsync {
        file.sync_all()
            .map_err(|e| AtomicWriteError::new("syncing", name, e))?;
    }
    let link = |to: &OsStr| -> rustix::io::Result<()> {
        match rustix::fs::linkat(&file, "", dir, to, rustix::fs::AtFlags::EMPTY_PATH) {
            // AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH; /proc does not.
            Err(rustix::io::Errno::NOENT) | Err(rustix::io::Errno::PERM) => {
                let proc = format!("/proc/self/fd/{}", file.as_fd().as_raw_fd());
                rustix::fs::linkat(
                    rustix::fs::CWD,
                    proc.as_str(),
                    dir,
                    to,
                    rustix::fs::AtFlags::SYMLINK_FOLLOW,
                )
            }
            r => r,
        }
    };
    match link(name) {
        Ok(()) => {}
        Err(rustix::io::Errno::EXIST) => {
            // Something is there after all: replace it atomically.
            let tmp = temp_name(name);
            link(OsStr::new(&tmp))
                .map_err(|e| AtomicWriteError::new("creating temporary file for", name, e))?;
            if let Err(e) = rustix::fs::renameat(dir, tmp.as_str(), dir, name) {
                let _ = rustix::fs::unlinkat(dir, tmp.as_str(), rustix::fs::AtFlags::empty());
                return Err(AtomicWriteError::new("renaming into", name, e));
            }
        }
        Err(e) => return Err(AtomicWriteError::new("linking into", name, e)),
    }
    if opts.durability == Durability::Fsync {
        rustix::fs::fsync(dir)
            .map_err(|e| AtomicWriteError::new("syncing directory of", name, e))?;
    }
    Ok(value)
}

/// An unnamed scratch file in `dir` (`O_TMPFILE`; where that is not
/// supported, a uniquely named temporary file that is unlinked at once), for
/// data that must be complete before it is used — e.g. fetched fragments
/// appended to an existing file only once all of them were fetched and
/// verified. Nothing of it is left in `dir` once the file is closed.
pub fn scratch_file_in(dir: BorrowedFd<'_>) -> io::Result<File> {
    match rustix::fs::openat(
        dir,
        ".",
        OFlags::TMPFILE | OFlags::RDWR | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o600),
    ) {
        Ok(fd) => return Ok(File::from(fd)),
        Err(rustix::io::Errno::OPNOTSUPP)
        | Err(rustix::io::Errno::ISDIR)
        | Err(rustix::io::Errno::INVAL)
        | Err(rustix::io::Errno::NOSYS) => {}
        Err(e) => return Err(e.into()),
    }
    let tmp = temp_name(OsStr::new("scratch"));
    let fd = rustix::fs::openat(
        dir,
        tmp.as_str(),
        OFlags::CREATE | OFlags::EXCL | OFlags::RDWR | OFlags::CLOEXEC | OFlags::NOFOLLOW,
        Mode::from_raw_mode(0o600),
    )?;
    rustix::fs::unlinkat(dir, tmp.as_str(), rustix::fs::AtFlags::empty())?;
    Ok(File::from(fd))
}

/// Flushes the whole filesystem containing `fd` (`syncfs(2)`).
pub fn sync_filesystem(fd: impl AsFd) -> io::Result<()> {
    rustix::fs::syncfs(fd).map_err(io::Error::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    fn dirfd(p: &std::path::Path) -> File {
        File::open(p).unwrap()
    }

    fn entries(p: &std::path::Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(p)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn writes_contents_and_mode() {
        let t = tempfile::tempdir().unwrap();
        let d = dirfd(t.path());
        for durability in [Durability::Fsync, Durability::Deferred] {
            let opts = WriteOptions {
                mode: 0o640,
                owner: None,
                durability,
            };
            let n = atomic_write_at(d.as_fd(), OsStr::new("f"), &opts, |f| {
                f.write_all(b"hello")?;
                Ok(5)
            })
            .unwrap();
            assert_eq!(n, 5);
            let md = std::fs::metadata(t.path().join("f")).unwrap();
            assert_eq!(md.permissions().mode() & 0o7777, 0o640);
            assert_eq!(std::fs::read(t.path().join("f")).unwrap(), b"hello");
        }
        assert_eq!(entries(t.path()), ["f"]);
    }

    #[test]
    fn failed_fill_leaves_target_and_no_temp() {
        let t = tempfile::tempdir().unwrap();
        std::fs::write(t.path().join("f"), "old").unwrap();
        let d = dirfd(t.path());
        let err = atomic_write_at(d.as_fd(), OsStr::new("f"), &WriteOptions::default(), |f| {
            f.write_all(b"partial")?;
            Err::<(), _>(io::Error::other("hash mismatch"))
        })
        .unwrap_err();
        assert!(err.to_string().contains("hash mismatch"), "{err}");
        assert_eq!(std::fs::read(t.path().join("f")).unwrap(), b"old");
        assert_eq!(entries(t.path()), ["f"]);
    }

    #[test]
    fn replaces_symlink_without_following() {
        let t = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let victim = outside.path().join("victim");
        std::fs::write(&victim, "keep").unwrap();
        std::os::unix::fs::symlink(&victim, t.path().join("f")).unwrap();
        let d = dirfd(t.path());
        atomic_write_at(d.as_fd(), OsStr::new("f"), &WriteOptions::default(), |f| {
            f.write_all(b"new")
        })
        .unwrap();
        assert_eq!(std::fs::read(&victim).unwrap(), b"keep");
        assert!(std::fs::symlink_metadata(t.path().join("f"))
            .unwrap()
            .is_file());
    }

    #[test]
    fn rejects_multi_component_names() {
        let t = tempfile::tempdir().unwrap();
        let d = dirfd(t.path());
        for bad in ["a/b", "..", ".", ""] {
            assert!(atomic_write_at(
                d.as_fd(),
                OsStr::new(bad),
                &WriteOptions::default(),
                |_| Ok(())
            )
            .is_err());
        }
    }

    #[test]
    fn owner_is_set_before_mode_so_setuid_survives() {
        if !rustix::process::geteuid().is_root() {
            eprintln!("skipping owner_is_set_before_mode_so_setuid_survives: needs root");
            return;
        }
        let t = tempfile::tempdir().unwrap();
        let d = dirfd(t.path());
        let opts = WriteOptions {
            mode: 0o4755,
            owner: Some((1234, 2345)),
            durability: Durability::Fsync,
        };
        atomic_write_at(d.as_fd(), OsStr::new("suid"), &opts, |f| f.write_all(b"x")).unwrap();
        let md = std::fs::metadata(t.path().join("suid")).unwrap();
        assert_eq!((md.uid(), md.gid()), (1234, 2345));
        assert_eq!(md.mode() & 0o7777, 0o4755);
    }

    #[test]
    fn create_links_new_files_and_replaces_existing_ones() {
        let t = tempfile::tempdir().unwrap();
        let d = dirfd(t.path());
        for durability in [Durability::Fsync, Durability::Deferred] {
            let opts = WriteOptions {
                mode: 0o640,
                owner: None,
                durability,
            };
            let _ = std::fs::remove_file(t.path().join("new"));
            atomic_create_at(d.as_fd(), OsStr::new("new"), &opts, |f| f.write_all(b"one")).unwrap();
            let md = std::fs::metadata(t.path().join("new")).unwrap();
            assert_eq!(md.permissions().mode() & 0o7777, 0o640);
            assert_eq!(std::fs::read(t.path().join("new")).unwrap(), b"one");
            // Present after all: replaced, as atomic_write_at would.
            atomic_create_at(d.as_fd(), OsStr::new("new"), &opts, |f| f.write_all(b"two")).unwrap();
            assert_eq!(std::fs::read(t.path().join("new")).unwrap(), b"two");
        }
        let err = atomic_create_at(
            d.as_fd(),
            OsStr::new("failed"),
            &WriteOptions::default(),
            |f| {
                f.write_all(b"partial")?;
                Err::<(), _>(io::Error::other("hash mismatch"))
            },
        )
        .unwrap_err();
        assert!(err.to_string().contains("hash mismatch"), "{err}");
        assert_eq!(entries(t.path()), ["new"]);
    }

    #[test]
    fn scratch_files_leave_nothing_behind() {
        use std::io::{Read, Seek};
        let t = tempfile::tempdir().unwrap();
        let mut f = scratch_file_in(dirfd(t.path()).as_fd()).unwrap();
        f.write_all(b"data").unwrap();
        f.rewind().unwrap();
        let mut s = String::new();
        f.read_to_string(&mut s).unwrap();
        assert_eq!(s, "data");
        assert!(entries(t.path()).is_empty());
    }

    #[test]
    fn create_gives_modes_the_umask_would_take_away() {
        let t = tempfile::tempdir().unwrap();
        let d = dirfd(t.path());
        for (name, mode) in [("a", 0o666), ("b", 0o600), ("c", 0o777), ("d", 0o1755)] {
            let opts = WriteOptions {
                mode,
                owner: None,
                durability: Durability::Deferred,
            };
            atomic_create_at(d.as_fd(), OsStr::new(name), &opts, |f| f.write_all(b"x")).unwrap();
            let md = std::fs::metadata(t.path().join(name)).unwrap();
            assert_eq!(md.permissions().mode() & 0o7777, mode, "{name}");
        }
    }

    #[test]
    fn syncfs_works() {
        let t = tempfile::tempdir().unwrap();
        sync_filesystem(dirfd(t.path())).unwrap();
    }
}
