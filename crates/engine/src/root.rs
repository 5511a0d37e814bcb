//! The target root, opened once as a directory file descriptor, and every
//! filesystem primitive the stages need, confined to it.
//!
//! Config paths are resolved component by component inside the root: each
//! intermediate symlink is followed *as if the root were `/`* (absolute
//! targets restart at the root, `..` stops at the root), through chains of any
//! length; the last component is never followed, as in Ignition, so an
//! existing symlink can be replaced. The resolved path is what ordering,
//! duplicate detection and the manifest use. Every actual operation then opens
//! the resolved parent with `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)`
//! and works relative to that descriptor, so even a root that changes under us
//! cannot make a write land outside it. Upstream Ignition resolves one level
//! only and can be led outside its root (ignition-semantics.md §6.3).

use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags, Stat};

/// Symlinks followed while resolving one path before giving up (as the kernel).
const MAX_SYMLINKS: usize = 40;

/// What an intermediate path component is, for resolution.
#[derive(Debug, Clone)]
enum Lookup {
    /// Does not exist (nor does anything below it).
    Missing,
    /// Exists and is not a symlink.
    Other,
    /// A symlink with this (UTF-8) target.
    Symlink(String),
}

/// Remembered lookups of [`Root::resolve_cached`], valid while the root is
/// not modified.
#[derive(Debug, Default)]
pub struct ResolveCache(std::collections::HashMap<String, Lookup>);

/// The target root.
#[derive(Debug)]
pub struct Root {
    fd: OwnedFd,
    display: PathBuf,
}

/// Something went wrong resolving a path inside the root.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ResolveError {
    /// More than 40 symlinks on the way (as the kernel allows).
    #[error("too many levels of symbolic links resolving {0}")]
    Loop(String),
    /// A symlink on the way has a target that is not UTF-8.
    #[error("symlink {link} on the way to {path} has a target that is not UTF-8")]
    NotUtf8 {
        /// The path being resolved.
        path: String,
        /// The offending link (resolved).
        link: String,
    },
    /// An I/O error while looking at a component.
    #[error("resolving {path}: {source}")]
    Io {
        /// The path being resolved.
        path: String,
        /// The error.
        #[source]
        source: io::Error,
    },
}

/// Lexically cleans an absolute path as Go's `filepath.Clean` does: repeated
/// slashes and `.` removed, `..` applied lexically and stopping at `/`.
pub fn clean(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    format!("/{}", parts.join("/"))
}

/// Splits a clean absolute path into parent and last component (`/` has none).
pub fn split_parent(path: &str) -> (&str, &str) {
    match path.rfind('/') {
        Some(0) => ("/", &path[1..]),
        Some(i) => (&path[..i], &path[i + 1..]),
        None => ("/", path),
    }
}

/// Number of components of a clean absolute path (`/` is 0).
pub fn depth(path: &str) -> usize {
    path.split('/').filter(|c| !c.is_empty()).count()
}

fn rel(path: &str) -> &str {
    let r = path.trim_start_matches('/');
    if r.is_empty() {
        "."
    } else {
        r
    }
}

fn in_root_flags() -> ResolveFlags {
    ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS
}

impl Root {
    /// Opens `path` as the target root. This is the only place an ambient path
    /// is used; callers in the CLI name it with `--root`.
    pub fn open(path: &Path) -> io::Result<Self> {
        let fd = rustix::fs::open(
            path,
            OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(io::Error::from)?;
        Ok(Self {
            fd,
            display: path.to_path_buf(),
        })
    }

    /// The root as given (for messages only; never used to open anything).
    pub fn display(&self) -> &Path {
        &self.display
    }

    /// The root directory descriptor.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Fails unless the root's filesystem is mounted read-write and the
    /// directory is writable by us.
    pub fn check_writable(&self) -> io::Result<()> {
        let vfs = rustix::fs::fstatvfs(&self.fd)?;
        if vfs.f_flag.contains(rustix::fs::StatVfsMountFlags::RDONLY) {
            return Err(io::Error::from(rustix::io::Errno::ROFS));
        }
        rustix::fs::accessat(
            &self.fd,
            ".",
            rustix::fs::Access::WRITE_OK,
            AtFlags::EACCESS,
        )?;
        Ok(())
    }

    /// Resolves `path` (absolute, as in a config) inside the root: every
    /// component but the last is followed if it is a symlink. Returns a clean
    /// absolute in-root path. Missing components are fine (they will be
    /// created).
    pub fn resolve(&self, path: &str) -> Result<String, ResolveError> {
        self.resolve_with(path, None)
    }

    /// [`Root::resolve`] for a batch of paths resolved while nothing in the
    /// root changes: what each intermediate prefix is (symlink target, or
    /// not a symlink) is remembered in `cache`, and components below a
    /// missing prefix are known to be missing without a lookup. The cache
    /// must be dropped as soon as the root is modified.
    pub fn resolve_cached(
        &self,
        path: &str,
        cache: &mut ResolveCache,
    ) -> Result<String, ResolveError> {
        self.resolve_with(path, Some(cache))
    }

    fn resolve_with(
        &self,
        path: &str,
        mut cache: Option<&mut ResolveCache>,
    ) -> Result<String, ResolveError> {
        let mut queue: Vec<String> = clean(path)
            .split('/')
            .filter(|c| !c.is_empty())
            .rev()
            .map(str::to_string)
            .collect();
        let mut resolved: Vec<String> = Vec::new();
        let mut links = 0;
        while let Some(c) = queue.pop() {
            match c.as_str() {
                "" | "." => continue,
                ".." => {
                    resolved.pop();
                    continue;
                }
                _ => {}
            }
            if queue.is_empty() {
                resolved.push(c);
                break;
            }
            let parent_key = resolved.join("/");
            let candidate = format!("{parent_key}/{c}");
            let candidate = candidate.trim_start_matches('/');
            let known = cache.as_deref().and_then(|m| {
                m.0.get(candidate).cloned().or_else(|| {
                    // Below a missing directory everything is missing.
                    matches!(m.0.get(parent_key.as_str()), Some(Lookup::Missing))
                        .then_some(Lookup::Missing)
                })
            });
            let lookup = match known {
                Some(l) => l,
                None => {
                    let l = self.lookup(path, candidate)?;
                    if let Some(m) = cache.as_deref_mut() {
                        m.0.insert(candidate.to_string(), l.clone());
                    }
                    l
                }
            };
            if let Lookup::Symlink(target) = lookup {
                links += 1;
                if links > MAX_SYMLINKS {
                    return Err(ResolveError::Loop(path.to_string()));
                }
                if target.starts_with('/') {
                    resolved.clear();
                }
                for t in target.split('/').filter(|c| !c.is_empty()).rev() {
                    queue.push(t.to_string());
                }
            } else {
                resolved.push(c);
            }
        }
        Ok(format!("/{}", resolved.join("/")))
    }

    /// What the in-root prefix `candidate` (relative, made of components
    /// known not to be symlinks) is, for [`Root::resolve`].
    fn lookup(&self, path: &str, candidate: &str) -> Result<Lookup, ResolveError> {
        // `candidate`'s parents are known not to be symlinks, so a plain *at
        // lookup relative to the root fd sees the same node the kernel would
        // under RESOLVE_IN_ROOT.
        let st = match rustix::fs::statat(&self.fd, candidate, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            Err(rustix::io::Errno::NOENT) | Err(rustix::io::Errno::NOTDIR) => {
                return Ok(Lookup::Missing)
            }
            Err(e) => {
                return Err(ResolveError::Io {
                    path: path.to_string(),
                    source: e.into(),
                })
            }
        };
        if FileType::from_raw_mode(st.st_mode) != FileType::Symlink {
            return Ok(Lookup::Other);
        }
        let target = rustix::fs::readlinkat(&self.fd, candidate, Vec::new()).map_err(|e| {
            ResolveError::Io {
                path: path.to_string(),
                source: e.into(),
            }
        })?;
        let target = target.into_string().map_err(|_| ResolveError::NotUtf8 {
            path: path.to_string(),
            link: format!("/{candidate}"),
        })?;
        Ok(Lookup::Symlink(target))
    }

    /// Opens an existing directory (resolved path) confined to the root.
    pub fn open_dir(&self, dir: &str) -> io::Result<OwnedFd> {
        Ok(rustix::fs::openat2(
            &self.fd,
            rel(dir),
            OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
            in_root_flags(),
        )?)
    }

    /// Opens `path` following a final symlink, confined to the root; `None`
    /// when it does not exist (also for a dangling link).
    pub fn stat_follow(&self, path: &str) -> io::Result<Option<Stat>> {
        match rustix::fs::openat2(
            &self.fd,
            rel(path),
            OFlags::PATH | OFlags::CLOEXEC,
            Mode::empty(),
            in_root_flags(),
        ) {
            Ok(fd) => Ok(Some(rustix::fs::fstat(&fd)?)),
            Err(rustix::io::Errno::NOENT) | Err(rustix::io::Errno::NOTDIR) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// `lstat` of a resolved path; `None` when it (or its parent) is missing.
    pub fn lstat(&self, path: &str) -> io::Result<Option<Stat>> {
        if path == "/" {
            return Ok(Some(rustix::fs::fstat(&self.fd)?));
        }
        let (parent, name) = split_parent(path);
        let dir = match self.open_dir(parent) {
            Ok(d) => d,
            Err(e)
                if e.raw_os_error() == Some(rustix::io::Errno::NOENT.raw_os_error())
                    || e.raw_os_error() == Some(rustix::io::Errno::NOTDIR.raw_os_error()) =>
            {
                return Ok(None)
            }
            Err(e) => return Err(e),
        };
        lstat_at(dir.as_fd(), name)
    }

    /// Creates the directory `dir` (resolved) and its missing parents with
    /// `mode` (umask ignored, owner = us), returning its descriptor and the
    /// directories created, outermost first. Refuses to traverse a symlink
    /// (the resolved path has none unless the root changed under us).
    pub fn mkdir_all(&self, dir: &str, mode: u32) -> io::Result<(OwnedFd, Vec<String>)> {
        // Usually the directory exists already: one lookup with the same
        // restrictions as the walk below (beneath the root, no symlinks).
        if let Ok(fd) = rustix::fs::openat2(
            &self.fd,
            rel(dir),
            OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
            ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS,
        ) {
            return Ok((fd, Vec::new()));
        }
        let mut created = Vec::new();
        let mut cur = rustix::io::dup(&self.fd)?;
        let mut prefix = String::new();
        for c in dir.split('/').filter(|c| !c.is_empty()) {
            prefix.push('/');
            prefix.push_str(c);
            let open = |cur: &OwnedFd| {
                rustix::fs::openat2(
                    cur,
                    c,
                    OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
                    Mode::empty(),
                    ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS,
                )
            };
            let next = match open(&cur) {
                Ok(fd) => fd,
                Err(rustix::io::Errno::NOENT) => {
                    match rustix::fs::mkdirat(&cur, c, Mode::from_raw_mode(mode)) {
                        Ok(()) => {
                            let fd = open(&cur)?;
                            // The umask may have taken bits away.
                            if rustix::fs::fstat(&fd)?.st_mode & 0o7777 != mode & 0o7777 {
                                rustix::fs::fchmod(&fd, Mode::from_raw_mode(mode))?;
                            }
                            created.push(prefix.clone());
                            fd
                        }
                        Err(rustix::io::Errno::EXIST) => open(&cur)?,
                        Err(e) => return Err(e.into()),
                    }
                }
                Err(rustix::io::Errno::LOOP) => {
                    return Err(io::Error::other(format!(
                        "{prefix} is a symlink that appeared during the apply"
                    )))
                }
                Err(rustix::io::Errno::NOTDIR) => {
                    return Err(io::Error::other(format!("{prefix} is not a directory")))
                }
                Err(e) => return Err(e.into()),
            };
            cur = next;
        }
        Ok((cur, created))
    }

    /// Removes `path` (resolved) and, if it is a directory, everything below
    /// it, never following symlinks (Go's `os.RemoveAll`). Missing is fine.
    pub fn remove_all(&self, path: &str) -> io::Result<()> {
        if path == "/" {
            return Err(io::Error::other("refusing to remove the root"));
        }
        let (parent, name) = split_parent(path);
        let dir = match self.open_dir(parent) {
            Ok(d) => d,
            Err(e) if e.raw_os_error() == Some(rustix::io::Errno::NOENT.raw_os_error()) => {
                return Ok(())
            }
            Err(e) => return Err(e),
        };
        remove_all_at(dir.as_fd(), OsStr::new(name))
    }
}

/// `lstat` of `name` in `dir`; `None` when missing.
pub fn lstat_at(dir: BorrowedFd<'_>, name: &str) -> io::Result<Option<Stat>> {
    match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => Ok(Some(st)),
        Err(rustix::io::Errno::NOENT) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Recursively removes `name` in `dir` without following symlinks.
pub fn remove_all_at(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<()> {
    match rustix::fs::unlinkat(dir, name, AtFlags::empty()) {
        Ok(()) => return Ok(()),
        Err(rustix::io::Errno::NOENT) => return Ok(()),
        Err(rustix::io::Errno::ISDIR) | Err(rustix::io::Errno::PERM) => {}
        Err(e) => return Err(e.into()),
    }
    let sub = match rustix::fs::openat(
        dir,
        name,
        OFlags::DIRECTORY | OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::NOENT) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    let mut names = Vec::new();
    let it = rustix::fs::Dir::read_from(&sub)?;
    for entry in it {
        let entry = entry?;
        let n = entry.file_name().to_bytes();
        if n != b"." && n != b".." {
            names.push(<OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(n).to_owned());
        }
    }
    for n in names {
        remove_all_at(sub.as_fd(), &n)?;
    }
    match rustix::fs::unlinkat(dir, name, AtFlags::REMOVEDIR) {
        Ok(()) | Err(rustix::io::Errno::NOENT) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// True when `st` is a symlink.
pub fn is_symlink(st: &Stat) -> bool {
    FileType::from_raw_mode(st.st_mode) == FileType::Symlink
}

/// True when `st` is a directory.
pub fn is_dir(st: &Stat) -> bool {
    FileType::from_raw_mode(st.st_mode) == FileType::Directory
}

/// True when `st` is a regular file.
pub fn is_file(st: &Stat) -> bool {
    FileType::from_raw_mode(st.st_mode) == FileType::RegularFile
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn root() -> (tempfile::TempDir, Root) {
        let t = tempfile::tempdir().unwrap();
        let r = Root::open(t.path()).unwrap();
        (t, r)
    }

    #[test]
    fn clean_matches_go() {
        for (i, o) in [
            ("/", "/"),
            ("//a//b/", "/a/b"),
            ("/a/./b/../c", "/a/c"),
            ("/../../x", "/x"),
            ("/a/..", "/"),
        ] {
            assert_eq!(clean(i), o, "{i}");
        }
        assert_eq!(split_parent("/a/b/c"), ("/a/b", "c"));
        assert_eq!(split_parent("/a"), ("/", "a"));
        assert_eq!(depth("/"), 0);
        assert_eq!(depth("/a/b"), 2);
    }

    #[test]
    fn resolves_chains_inside_root() {
        let (t, r) = root();
        let p = t.path();
        std::fs::create_dir_all(p.join("real/dir")).unwrap();
        symlink("/y", p.join("x")).unwrap();
        symlink("/real", p.join("y")).unwrap();
        symlink("../../real/dir", p.join("real/rel")).unwrap();
        symlink("/../../../..", p.join("up")).unwrap();
        assert_eq!(r.resolve("/x/f").unwrap(), "/real/f");
        assert_eq!(r.resolve("/x/rel/f").unwrap(), "/real/dir/f");
        assert_eq!(r.resolve("/up/etc/passwd").unwrap(), "/etc/passwd");
        // the last component is never followed
        assert_eq!(r.resolve("/x").unwrap(), "/x");
        assert_eq!(r.resolve("/missing/a/b").unwrap(), "/missing/a/b");
    }

    #[test]
    fn resolve_detects_loops() {
        let (t, r) = root();
        symlink("/b", t.path().join("a")).unwrap();
        symlink("/a", t.path().join("b")).unwrap();
        assert!(matches!(r.resolve("/a/f"), Err(ResolveError::Loop(_))));
    }

    #[test]
    fn mkdir_all_reports_created_and_sets_mode() {
        let (t, r) = root();
        std::fs::create_dir(t.path().join("a")).unwrap();
        let (_fd, created) = r.mkdir_all("/a/b/c", 0o755).unwrap();
        assert_eq!(created, ["/a/b", "/a/b/c"]);
        let (_fd, created) = r.mkdir_all("/a/b/c", 0o755).unwrap();
        assert!(created.is_empty());
    }

    #[test]
    fn mkdir_all_refuses_symlinks() {
        let (t, r) = root();
        let outside = tempfile::tempdir().unwrap();
        symlink(outside.path(), t.path().join("esc")).unwrap();
        assert!(r.mkdir_all("/esc/x", 0o755).is_err());
        assert!(!outside.path().join("x").exists());
    }

    #[test]
    fn open_dir_stays_inside() {
        let (t, r) = root();
        let outside = tempfile::tempdir().unwrap();
        symlink(outside.path(), t.path().join("esc")).unwrap();
        // The absolute link is re-rooted: it names <root><outside path>, which
        // does not exist, instead of the real outside directory.
        assert!(r.open_dir("/esc").is_err());
    }

    #[test]
    fn remove_all_does_not_follow() {
        let (t, r) = root();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("keep"), "x").unwrap();
        std::fs::create_dir_all(t.path().join("d/e")).unwrap();
        symlink(outside.path(), t.path().join("d/e/link")).unwrap();
        std::fs::write(t.path().join("d/e/f"), "x").unwrap();
        r.remove_all("/d").unwrap();
        assert!(!t.path().join("d").exists());
        assert!(outside.path().join("keep").exists());
        r.remove_all("/nonexistent/x").unwrap();
    }
}
