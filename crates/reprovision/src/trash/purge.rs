//! Deleting a trash directory for good, faster than `rm -rf` and more
//! carefully.
//!
//! * **Descriptor-relative.** Every directory is opened relative to its
//!   parent's descriptor by a single name with `openat2(RESOLVE_BENEATH |
//!   RESOLVE_NO_XDEV | RESOLVE_NO_SYMLINKS)` and `O_NOFOLLOW`: the purge never
//!   leaves the directory it was given, never follows a symbolic link (links
//!   are unlinked like files) and refuses to enter a mount point (`EXDEV`,
//!   bind mounts of the same filesystem included). Kernels without `openat2`
//!   fall back to `openat(O_NOFOLLOW)` plus a device-number check.
//! * **Few system calls.** Entries are read with `getdents64` into a 64 KiB
//!   buffer and their `d_type` decides between `unlinkat` and descending (a
//!   `stat` only for filesystems that report `DT_UNKNOWN`); names go straight
//!   from the buffer to `unlinkat`, in directory order, with no path built
//!   per entry.
//! * **Parallel.** The calling thread walks the top of the tree breadth-first
//!   (up to [`SKELETON_DIRS`] directories, whose descriptors it keeps) and
//!   hands the work out as it goes — batches of file names and whole
//!   subdirectories below the skeleton — to `threads - 1` helpers, then joins
//!   them as a worker itself. Subtrees are independent, so the only ordering
//!   left is that the skeleton's own directories are removed last, deepest
//!   first.
//! * **Idempotent.** Entries that are already gone (`ENOENT`) are skipped, so
//!   re-running a purge that was interrupted (the trash directory was renamed
//!   to `*.purging` first) finishes the job.

use std::ffi::{CStr, CString, OsStr};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

/// Directories the coordinating thread expands itself before handing whole
/// subtrees out (their descriptors stay open until the end).
const SKELETON_DIRS: usize = 256;
/// File names per batch handed to a worker.
const BATCH: usize = 512;
/// `getdents64` buffer per directory level.
const DENTS_BUF: usize = 64 * 1024;

/// A failure, with the path (relative to the purged directory) where it
/// happened and the operation.
#[derive(Debug)]
pub(crate) struct PurgeError {
    /// What was being done.
    pub op: &'static str,
    /// Relative to the purged directory.
    pub rel: PathBuf,
    /// The cause.
    pub source: std::io::Error,
}

/// Components of a failing path, innermost first (built only on error).
struct Fail {
    op: &'static str,
    names: Vec<CString>,
    errno: Errno,
}

impl Fail {
    fn new(op: &'static str, name: &CStr, errno: Errno) -> Self {
        Fail {
            op,
            names: vec![name.to_owned()],
            errno,
        }
    }
    fn here(op: &'static str, errno: Errno) -> Self {
        Fail {
            op,
            names: Vec::new(),
            errno,
        }
    }
    fn under(mut self, name: &CStr) -> Self {
        self.names.push(name.to_owned());
        self
    }
    fn into_error(self, base: &Path) -> PurgeError {
        let mut rel = base.to_path_buf();
        for n in self.names.iter().rev() {
            rel.push(OsStr::from_bytes(n.to_bytes()));
        }
        let source = if self.errno == Errno::XDEV {
            std::io::Error::other("a filesystem is mounted there; unmount it first")
        } else {
            std::io::Error::from(self.errno)
        };
        PurgeError {
            op: self.op,
            rel,
            source,
        }
    }
}

/// Shared, read-only facts about the walk.
struct Ctx {
    /// Device of the purged directory (for the fallback without `openat2`).
    dev: u64,
    /// Cleared once `openat2` reports `ENOSYS`.
    openat2: AtomicBool,
    /// Entries removed so far (progress).
    removed: AtomicU64,
    /// Set on the first failure: everyone stops.
    failed: AtomicBool,
}

impl Ctx {
    /// Opens the subdirectory `name` of `parent` without following links or
    /// crossing mounts.
    fn open_dir(&self, parent: BorrowedFd<'_>, name: &CStr) -> Result<OwnedFd, Errno> {
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        if self.openat2.load(Ordering::Relaxed) {
            let resolve = ResolveFlags::BENEATH
                | ResolveFlags::NO_XDEV
                | ResolveFlags::NO_SYMLINKS
                | ResolveFlags::NO_MAGICLINKS;
            match rustix::fs::openat2(parent, name, flags, Mode::empty(), resolve) {
                Err(Errno::NOSYS) => self.openat2.store(false, Ordering::Relaxed),
                Err(Errno::AGAIN) => {} // racing rename elsewhere: plain openat below
                r => return r,
            }
        }
        let fd = rustix::fs::openat(parent, name, flags, Mode::empty())?;
        if rustix::fs::fstat(&fd)?.st_dev != self.dev {
            return Err(Errno::XDEV);
        }
        Ok(fd)
    }

    /// Removes the non-directory `name` of `dir`.
    fn unlink(&self, dir: BorrowedFd<'_>, name: &CStr) -> Result<(), Fail> {
        match rustix::fs::unlinkat(dir, name, AtFlags::empty()) {
            Ok(()) => {
                self.removed.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(Errno::NOENT) => Ok(()),
            // It became (or was) a directory after all.
            Err(Errno::ISDIR) | Err(Errno::PERM) if is_dir(dir, name) => {
                self.remove_subdir(dir, name, &mut Bufs::default())
            }
            Err(e) => Err(Fail::new("removing", name, e)),
        }
    }

    /// Removes the subdirectory `name` of `parent` and everything in it.
    fn remove_subdir(
        &self,
        parent: BorrowedFd<'_>,
        name: &CStr,
        bufs: &mut Bufs,
    ) -> Result<(), Fail> {
        let fd = match self.open_dir(parent, name) {
            Ok(fd) => fd,
            Err(Errno::NOENT) => return Ok(()),
            // Not a directory (any more): a file or a link, unlinked as such.
            Err(Errno::NOTDIR) | Err(Errno::LOOP) => return self.unlink(parent, name),
            Err(e) => return Err(Fail::new("opening", name, e)),
        };
        self.clear(fd.as_fd(), bufs).map_err(|f| f.under(name))?;
        drop(fd);
        match rustix::fs::unlinkat(parent, name, AtFlags::REMOVEDIR) {
            Ok(()) => {
                self.removed.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(Errno::NOENT) => Ok(()),
            Err(e) => Err(Fail::new("removing the directory", name, e)),
        }
    }

    /// Empties the directory `dir`, depth first, in directory order.
    fn clear(&self, dir: BorrowedFd<'_>, bufs: &mut Bufs) -> Result<(), Fail> {
        let mut buf = bufs.take();
        let r = self.clear_with(dir, &mut buf, bufs);
        bufs.put(buf);
        r
    }

    fn clear_with(
        &self,
        dir: BorrowedFd<'_>,
        buf: &mut [MaybeUninit<u8>],
        bufs: &mut Bufs,
    ) -> Result<(), Fail> {
        let mut it = rustix::fs::RawDir::new(dir, buf);
        while let Some(e) = it.next() {
            if self.failed.load(Ordering::Relaxed) {
                return Err(Fail::here(
                    "stopped after an error elsewhere in",
                    Errno::CANCELED,
                ));
            }
            let e = e.map_err(|e| Fail::here("reading", e))?;
            let name = e.file_name();
            if is_dot(name) {
                continue;
            }
            match entry_type(dir, name, e.file_type()) {
                FileType::Directory => self.remove_subdir(dir, name, bufs)?,
                _ => self.unlink(dir, name)?,
            }
        }
        Ok(())
    }
}

/// Reusable `getdents64` buffers, one per directory level in use.
#[derive(Default)]
struct Bufs(Vec<Vec<MaybeUninit<u8>>>);

impl Bufs {
    fn take(&mut self) -> Vec<MaybeUninit<u8>> {
        self.0
            .pop()
            .unwrap_or_else(|| vec![MaybeUninit::uninit(); DENTS_BUF])
    }
    fn put(&mut self, b: Vec<MaybeUninit<u8>>) {
        self.0.push(b);
    }
}

fn is_dot(name: &CStr) -> bool {
    matches!(name.to_bytes(), b"." | b"..")
}

fn is_dir(dir: BorrowedFd<'_>, name: &CStr) -> bool {
    rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)
        .is_ok_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::Directory)
}

/// `d_type`, or a `stat` when the filesystem does not report it.
fn entry_type(dir: BorrowedFd<'_>, name: &CStr, t: FileType) -> FileType {
    if t != FileType::Unknown {
        return t;
    }
    match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => FileType::from_raw_mode(st.st_mode),
        Err(_) => FileType::Unknown, // unlinked as a file; errors show there
    }
}

/// A directory of the skeleton: its descriptor and where it is.
struct SkelDir {
    fd: Arc<OwnedFd>,
    /// Index of the parent in the skeleton (`None` for the top).
    parent: Option<usize>,
    name: CString,
}

/// Work handed to a worker, relative to a skeleton directory.
enum Unit {
    /// Non-directories to unlink.
    Files(usize, Arc<OwnedFd>, Vec<CString>),
    /// A whole subdirectory to remove.
    Dir(usize, Arc<OwnedFd>, CString),
}

/// Deletes `top` and everything below it with `threads` threads; returns how
/// many entries were removed. `Ok(0)` when `top` does not exist.
pub(crate) fn purge_tree(top: &Path, threads: usize) -> Result<u64, PurgeError> {
    let err = |op: &'static str, e: Errno| PurgeError {
        op,
        rel: PathBuf::new(),
        source: e.into(),
    };
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let fd = match rustix::fs::open(top, flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(Errno::NOENT) => return Ok(0),
        Err(e) => return Err(err("opening", e)),
    };
    let dev = rustix::fs::fstat(&fd)
        .map_err(|e| err("inspecting", e))?
        .st_dev;
    let ctx = Ctx {
        dev,
        openat2: AtomicBool::new(true),
        removed: AtomicU64::new(0),
        failed: AtomicBool::new(false),
    };
    let mut skel = vec![SkelDir {
        fd: Arc::new(fd),
        parent: None,
        name: CString::default(),
    }];
    let first_error: Mutex<Option<PurgeError>> = Mutex::new(None);
    let fail = |rel: PathBuf, f: Fail| {
        ctx.failed.store(true, Ordering::Relaxed);
        let mut slot = first_error.lock().unwrap_or_else(|p| p.into_inner());
        // The first real error wins over "stopped because of it".
        let cancelled =
            |e: &PurgeError| e.source.raw_os_error() == Some(Errno::CANCELED.raw_os_error());
        if slot
            .as_ref()
            .is_none_or(|e| cancelled(e) && f.errno != Errno::CANCELED)
        {
            *slot = Some(f.into_error(&rel));
        }
    };
    let threads = threads.max(1);
    let (tx, rx) = mpsc::channel::<Unit>();
    let rx = Mutex::new(rx);
    let work = |skel_paths: &dyn Fn(usize) -> PathBuf| {
        let mut bufs = Bufs::default();
        loop {
            let unit = match rx.lock().unwrap_or_else(|p| p.into_inner()).recv() {
                Ok(u) => u,
                Err(_) => return,
            };
            if ctx.failed.load(Ordering::Relaxed) {
                continue; // drain
            }
            let (at, r) = match unit {
                Unit::Files(at, dir, names) => (
                    at,
                    names.iter().try_for_each(|n| ctx.unlink(dir.as_fd(), n)),
                ),
                Unit::Dir(at, dir, name) => (at, ctx.remove_subdir(dir.as_fd(), &name, &mut bufs)),
            };
            if let Err(f) = r {
                fail(skel_paths(at), f);
            }
        }
    };
    // Names of the skeleton's directories (indices are stable, the list
    // only grows), for error messages of the helpers.
    let names: Mutex<Vec<(Option<usize>, CString)>> = Mutex::new(Vec::new());
    let path_of = |at: usize| {
        let names = names.lock().unwrap_or_else(|p| p.into_inner());
        let mut parts = Vec::new();
        let mut i = Some(at);
        while let Some(k) = i {
            let Some((p, n)) = names.get(k) else { break };
            parts.push(n.clone());
            i = *p;
        }
        let mut rel = PathBuf::new();
        for n in parts.iter().rev() {
            rel.push(OsStr::from_bytes(n.to_bytes()));
        }
        rel
    };
    std::thread::scope(|s| {
        for _ in 1..threads {
            s.spawn(|| work(&path_of));
        }
        // Breadth-first expansion of the skeleton by this thread.
        names
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((None, CString::default()));
        let mut bufs = Bufs::default();
        let mut next = 0;
        while next < skel.len() && !ctx.failed.load(Ordering::Relaxed) {
            let at = next;
            next += 1;
            let dir = Arc::clone(&skel[at].fd);
            let mut files = Vec::new();
            let mut buf = bufs.take();
            let mut it = rustix::fs::RawDir::new(dir.as_fd(), &mut buf);
            while let Some(e) = it.next() {
                let e = match e {
                    Ok(e) => e,
                    Err(e) => {
                        fail(path_of(at), Fail::here("reading", e));
                        break;
                    }
                };
                let name = e.file_name();
                if is_dot(name) {
                    continue;
                }
                if entry_type(dir.as_fd(), name, e.file_type()) != FileType::Directory {
                    files.push(name.to_owned());
                    if files.len() == BATCH {
                        let batch = std::mem::take(&mut files);
                        let _ = tx.send(Unit::Files(at, Arc::clone(&dir), batch));
                    }
                    continue;
                }
                if skel.len() >= SKELETON_DIRS {
                    let _ = tx.send(Unit::Dir(at, Arc::clone(&dir), name.to_owned()));
                    continue;
                }
                match ctx.open_dir(dir.as_fd(), name) {
                    Ok(fd) => {
                        names
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .push((Some(at), name.to_owned()));
                        skel.push(SkelDir {
                            fd: Arc::new(fd),
                            parent: Some(at),
                            name: name.to_owned(),
                        });
                    }
                    Err(Errno::NOENT) => {}
                    Err(Errno::NOTDIR) | Err(Errno::LOOP) => files.push(name.to_owned()),
                    Err(e) => {
                        fail(path_of(at), Fail::new("opening", name, e));
                        break;
                    }
                }
            }
            bufs.put(buf);
            if !files.is_empty() {
                let _ = tx.send(Unit::Files(at, Arc::clone(&dir), files));
            }
        }
        drop(tx);
        work(&path_of);
    });
    if let Some(e) = first_error.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    // The skeleton, deepest first (children were appended after parents).
    while let Some(d) = skel.pop() {
        let Some(p) = d.parent else { break };
        drop(d.fd);
        match rustix::fs::unlinkat(skel[p].fd.as_fd(), &d.name, AtFlags::REMOVEDIR) {
            Ok(()) | Err(Errno::NOENT) => {
                ctx.removed.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                let mut rel = PathBuf::new();
                let mut chain = vec![d.name.clone()];
                let mut i = Some(p);
                while let Some(k) = i {
                    chain.push(skel[k].name.clone());
                    i = skel[k].parent;
                }
                for n in chain.iter().rev() {
                    rel.push(OsStr::from_bytes(n.to_bytes()));
                }
                return Err(PurgeError {
                    op: "removing the directory",
                    rel,
                    source: e.into(),
                });
            }
        }
    }
    drop(skel);
    match rustix::fs::rmdir(top) {
        Ok(()) | Err(Errno::NOENT) => {}
        Err(e) => return Err(err("removing the directory", e)),
    }
    Ok(ctx.removed.load(Ordering::Relaxed) + 1)
}

#[cfg(test)]
mod tests;

/// Threads for a purge: `REIGNITE_PURGE_THREADS` if set (benchmarks), else
/// the machine's parallelism, at most 4 (unlinks in independent directories
/// scale until the filesystem journal saturates).
pub(crate) fn default_threads() -> usize {
    if let Some(n) = std::env::var("REIGNITE_PURGE_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    {
        return n.clamp(1, 64);
    }
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(4)
}
