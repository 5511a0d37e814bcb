//! The walk that decides, for every path on ROOT, whether a reset keeps it,
//! moves it to the trash, or must not touch it.
//!
//! The walk never leaves the root filesystem (entries whose `st_dev` differs
//! are reported and left alone), never enters `/usr`, `/boot`, `/oem`,
//! `/lost+found` or the trash, treats symlinks as leaves (lstat semantics;
//! flatcar-reset's `[ -d ]` followed them), never descends into a subtree the
//! keep-set keeps whole, and collapses every subtree with nothing kept into
//! one move — so the cost is proportional to the number of *decisions*, not
//! of files.

use std::collections::HashSet;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use crate::keep::{Below, KeepSet, Verdict};

/// Top-level names a reset never touches: other filesystems in Flatcar's
/// layout, filesystem infrastructure, reignite's trash, and flatcar-reset's
/// marker and backup (the marker is removed after the boot instead, so a
/// rollback never brings a consumed staging back).
pub const PROTECTED: &[&str] = &[
    "usr",
    "boot",
    "oem",
    "lost+found",
    crate::trash::TRASH_DIR,
    crate::reset::MARKER,
    "flatcar-backup",
];

/// What kind of filesystem object an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EntryKind {
    /// Regular file.
    File,
    /// Directory.
    Directory,
    /// Symbolic link.
    Link,
    /// Device, fifo or socket.
    Special,
}

impl EntryKind {
    fn of(ft: std::fs::FileType) -> Self {
        if ft.is_symlink() {
            EntryKind::Link
        } else if ft.is_dir() {
            EntryKind::Directory
        } else if ft.is_file() {
            EntryKind::File
        } else {
            debug_assert!(
                ft.is_fifo() || ft.is_socket() || ft.is_block_device() || ft.is_char_device()
            );
            EntryKind::Special
        }
    }
}

/// A path the reset removes (moves to the trash), relative to the root
/// (`opt/app`, no leading slash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removal {
    /// Relative path.
    pub path: String,
    /// Its kind.
    pub kind: EntryKind,
}

/// A path the reset keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kept {
    /// Relative path.
    pub path: String,
    /// Index into [`KeepSet::patterns`] of the pattern that keeps it.
    pub pattern: usize,
    /// Whether the whole subtree is kept (not walked).
    pub subtree: bool,
}

/// The result of a scan.
#[derive(Debug, Default)]
pub struct Scan {
    /// Subtrees to move to the trash, in walk order (sorted by name).
    pub removals: Vec<Removal>,
    /// Paths kept by a pattern (ancestors kept only for their children are
    /// not listed).
    pub kept: Vec<Kept>,
    /// Paths left alone and why (mount points, protected names).
    pub skipped: Vec<(String, &'static str)>,
    /// For each pattern index, whether it matched anything.
    pub pattern_hits: Vec<bool>,
}

/// Errors while scanning.
#[derive(Debug, thiserror::Error)]
#[error("reading {path}")]
pub struct ScanError {
    /// The path (absolute inside the target).
    pub path: String,
    /// The cause.
    #[source]
    pub source: std::io::Error,
}

/// Scans the target root `root` against `keep`.
pub fn scan(root: &Path, keep: &KeepSet) -> Result<Scan, ScanError> {
    let md = std::fs::symlink_metadata(root).map_err(|e| ScanError {
        path: "/".into(),
        source: e,
    })?;
    let mut out = Scan {
        pattern_hits: vec![false; keep.patterns().len()],
        ..Scan::default()
    };
    let mounts = mounts_below(root);
    let mut mount_parents = HashSet::new();
    for m in &mounts {
        let mut a = m.as_str();
        while let Some((parent, _)) = a.rsplit_once('/') {
            mount_parents.insert(parent.to_string());
            a = parent;
        }
    }
    let walker = Walker {
        root,
        dev: md.dev(),
        keep,
        mounts,
        mount_parents,
    };
    walker.dir("", &keep.root(), &mut out)?;
    Ok(out)
}

struct Walker<'a> {
    root: &'a Path,
    dev: u64,
    keep: &'a KeepSet,
    /// Root-relative mount points below the root (from mountinfo).
    mounts: HashSet<String>,
    /// Their ancestors: directories that must be walked, never moved whole
    /// (renaming a directory carries the mounts inside it along).
    mount_parents: HashSet<String>,
}

/// Mount points strictly below `root`, root-relative, from
/// `/proc/self/mountinfo` (empty when unavailable).
pub(crate) fn mounts_below(root: &Path) -> HashSet<String> {
    let Ok(root) = std::fs::canonicalize(root) else {
        return HashSet::new();
    };
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return HashSet::new();
    };
    let prefix = format!("{}/", root.to_string_lossy().trim_end_matches('/'));
    info.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(unescape_mountinfo)
        .filter_map(|m| m.strip_prefix(&prefix).map(str::to_string))
        .filter(|m| !m.is_empty())
        .collect()
}

/// Decodes mountinfo's octal escapes (`\040` for a space, ...).
fn unescape_mountinfo(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn join(rel: &str, name: &str) -> String {
    if rel.is_empty() {
        name.to_string()
    } else {
        format!("{rel}/{name}")
    }
}

impl Walker<'_> {
    /// Walks directory `rel` (verdict `v`); returns whether anything in it
    /// stays (kept, skipped or an ancestor of such).
    fn dir(&self, rel: &str, v: &Verdict, out: &mut Scan) -> Result<bool, ScanError> {
        let abs = self.root.join(rel);
        let err = |e| ScanError {
            path: format!("/{rel}"),
            source: e,
        };
        let mut names: Vec<(std::ffi::OsString, std::fs::FileType)> = std::fs::read_dir(&abs)
            .map_err(err)?
            .map(|e| e.and_then(|e| Ok((e.file_name(), e.file_type()?))))
            .collect::<Result<_, _>>()
            .map_err(err)?;
        names.sort_by(|a, b| a.0.cmp(&b.0));
        let mut stays = false;
        for (name, ft) in names {
            let name_s = name.to_string_lossy().into_owned();
            let path = join(rel, &name_s);
            if rel.is_empty() && PROTECTED.contains(&name_s.as_str()) {
                out.skipped.push((path, "protected"));
                stays = true;
                continue;
            }
            let kind = EntryKind::of(ft);
            if self.mounts.contains(&path) {
                out.skipped.push((path, "other filesystem"));
                stays = true;
                continue;
            }
            if kind == EntryKind::Directory {
                let md =
                    std::fs::symlink_metadata(self.root.join(&path)).map_err(|e| ScanError {
                        path: format!("/{path}"),
                        source: e,
                    })?;
                if md.dev() != self.dev {
                    out.skipped.push((path, "other filesystem"));
                    stays = true;
                    continue;
                }
            }
            let mut cv = self
                .keep
                .child(v, std::os::unix::ffi::OsStrExt::as_bytes(name.as_os_str()));
            let is_dir = kind == EntryKind::Directory;
            if is_dir && self.mount_parents.contains(&path) && !matches!(cv.below, Below::All(_)) {
                // A mount point is inside: walk it so the mount stays put
                // (renaming the directory would carry the mount along).
                cv.below = Below::Some;
            }
            match (cv.kept_by, cv.below) {
                (Some(p), Below::All(_)) => {
                    out.pattern_hits[p] = true;
                    out.kept.push(Kept {
                        path,
                        pattern: p,
                        subtree: true,
                    });
                    stays = true;
                }
                (None, Below::All(p)) => {
                    // Everything below is kept but not the entry itself: it
                    // stays as a parent if it has children.
                    let nonempty = is_dir
                        && std::fs::read_dir(self.root.join(&path))
                            .map_err(|e| ScanError {
                                path: format!("/{path}"),
                                source: e,
                            })?
                            .next()
                            .is_some();
                    if nonempty {
                        out.pattern_hits[p] = true;
                        out.kept.push(Kept {
                            path,
                            pattern: p,
                            subtree: true,
                        });
                        stays = true;
                    } else {
                        out.removals.push(Removal { path, kind });
                    }
                }
                (Some(p), _) => {
                    out.pattern_hits[p] = true;
                    out.kept.push(Kept {
                        path: path.clone(),
                        pattern: p,
                        subtree: !is_dir,
                    });
                    if is_dir {
                        self.dir(&path, &cv, out)?;
                    }
                    stays = true;
                }
                (None, Below::Some) if is_dir => {
                    let mark = out.removals.len();
                    let (kmark, smark) = (out.kept.len(), out.skipped.len());
                    if self.dir(&path, &cv, out)? {
                        stays = true;
                    } else {
                        // Nothing inside stays: one move for the whole dir.
                        out.removals.truncate(mark);
                        debug_assert_eq!((out.kept.len(), out.skipped.len()), (kmark, smark));
                        out.removals.push(Removal { path, kind });
                    }
                }
                (None, _) => out.removals.push(Removal { path, kind }),
            }
        }
        Ok(stays)
    }
}

/// Total size in bytes and number of entries of the subtree at `path`
/// (not following symlinks, not crossing filesystems). Descriptor-relative:
/// one `getdents64` pass and one `fstatat` by name per entry, no path built.
pub fn du(path: &Path) -> (u64, u64) {
    use rustix::fs::{FileType, Mode, OFlags};
    let mut acc = (0, 0);
    let Ok(st) = rustix::fs::lstat(path) else {
        return acc;
    };
    acc.1 += 1;
    match FileType::from_raw_mode(st.st_mode) {
        FileType::RegularFile => acc.0 += st.st_size as u64,
        FileType::Directory => {
            let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
            if let Ok(fd) = rustix::fs::open(path, flags, Mode::empty()) {
                du_dir(std::os::fd::AsFd::as_fd(&fd), st.st_dev, &mut acc);
            }
        }
        _ => {}
    }
    acc
}

fn du_dir(dir: std::os::fd::BorrowedFd<'_>, dev: u64, acc: &mut (u64, u64)) {
    use rustix::fs::{AtFlags, FileType, Mode, OFlags};
    let mut buf = vec![std::mem::MaybeUninit::uninit(); 16 * 1024];
    let mut it = rustix::fs::RawDir::new(dir, &mut buf);
    while let Some(Ok(e)) = it.next() {
        let name = e.file_name();
        if matches!(name.to_bytes(), b"." | b"..") {
            continue;
        }
        let Ok(st) = rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) else {
            continue;
        };
        if st.st_dev != dev {
            continue;
        }
        acc.1 += 1;
        match FileType::from_raw_mode(st.st_mode) {
            FileType::RegularFile => acc.0 += st.st_size as u64,
            FileType::Directory => {
                let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
                if let Ok(fd) = rustix::fs::openat(dir, name, flags, Mode::empty()) {
                    du_dir(std::os::fd::AsFd::as_fd(&fd), dev, acc);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keep::KeepPattern;

    fn tree(root: &Path, files: &[&str]) {
        for f in files {
            let p = root.join(f);
            if let Some(d) = f.strip_suffix('/') {
                std::fs::create_dir_all(root.join(d)).unwrap();
            } else {
                std::fs::create_dir_all(p.parent().unwrap()).unwrap();
                std::fs::write(p, f).unwrap();
            }
        }
    }

    #[test]
    fn collapses_and_keeps_parents() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        tree(
            r,
            &[
                "etc/ssh/ssh_host_rsa_key",
                "etc/ssh/sshd_config",
                "etc/hostname",
                "opt/app/bin/x",
                "var/lib/docker/a/b",
                "var/lib/other/f",
                "var/lib/reignite/generations/1/x",
                "usr/bin/sh",
                "empty/",
            ],
        );
        std::os::unix::fs::symlink("usr/bin", r.join("bin")).unwrap();
        let keep = KeepSet::new(vec![
            KeepPattern::parse("/var/lib/docker/**", "t").unwrap(),
            KeepPattern::parse("/etc/ssh/ssh_host_*", "t").unwrap(),
            KeepPattern::parse("/nothing/**", "t").unwrap(),
        ])
        .unwrap();
        let s = scan(r, &keep).unwrap();
        let removed: Vec<_> = s.removals.iter().map(|r| r.path.as_str()).collect();
        assert_eq!(
            removed,
            [
                "bin",
                "empty",
                "etc/hostname",
                "etc/ssh/sshd_config",
                "opt",
                "var/lib/other"
            ]
        );
        assert_eq!(
            s.removals[0].kind,
            EntryKind::Link,
            "symlink to a dir is a leaf"
        );
        let kept: Vec<_> = s.kept.iter().map(|k| k.path.as_str()).collect();
        assert_eq!(
            kept,
            [
                "etc/ssh/ssh_host_rsa_key",
                "var/lib/docker",
                "var/lib/reignite"
            ]
        );
        assert_eq!(s.skipped, vec![("usr".to_string(), "protected")]);
        assert_eq!(s.pattern_hits, [true, true, true, false]);
    }

    #[test]
    fn dollar_keeps_dir_but_not_contents() {
        let d = tempfile::tempdir().unwrap();
        tree(d.path(), &["etc/mypath/a", "etc/mypath/sub/b"]);
        let keep = KeepSet::new(vec![KeepPattern::flatcar("/etc/mypath$").unwrap()]).unwrap();
        let s = scan(d.path(), &keep).unwrap();
        let removed: Vec<_> = s.removals.iter().map(|r| r.path.as_str()).collect();
        assert_eq!(removed, ["etc/mypath/a", "etc/mypath/sub"]);
    }

    #[test]
    fn mountinfo_escapes() {
        assert_eq!(unescape_mountinfo(r"/a\040b\011c"), "/a b\tc");
        assert_eq!(unescape_mountinfo(r"/plain\x"), r"/plain\x");
    }

    #[test]
    fn du_counts() {
        let d = tempfile::tempdir().unwrap();
        tree(d.path(), &["a/b", "a/c/d"]);
        assert_eq!(du(&d.path().join("a")), (3 + 5, 4));
    }
}
