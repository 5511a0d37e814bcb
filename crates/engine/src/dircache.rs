//! Descriptors of parent directories kept open during the files stage, so a
//! node whose directory was already opened for an earlier node costs no
//! path walk (the benchmark config spreads 2,000 files round-robin over 350
//! directories, so a cache of the last directory alone never hits).
//!
//! Why a cached descriptor cannot lead a write outside the root:
//! * Every descriptor enters the cache from a confined lookup only —
//!   `Root::open_dir` (`openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)`) or
//!   `Root::mkdir_all` (`openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)` from
//!   the root descriptor). At that moment it is a directory inside the root.
//! * A descriptor names an inode, not a path: symlinks created or swapped in
//!   the root afterwards cannot redirect it, and every operation through it
//!   takes a single name (`*at` with one component, never following a final
//!   symlink).
//! * The only way for a directory inode inside the root to end up outside it
//!   is a `rename(2)` (or a mount) by another process, which must be able to
//!   name a destination outside the root — someone who can write outside the
//!   root already. Uncached, the same race exists between the confined
//!   `openat2` of a parent and the `*at` call that follows it; the cache
//!   widens that window from microseconds to the files stage, nothing more.
//! * Our own changes never invalidate an entry behind our back: the cache is
//!   emptied before anything is removed (`overwrite: true`), and the files
//!   stage otherwise never renames or replaces a directory (a directory in
//!   the way of a file, link or other node is an error).
//! * It is created empty when the files stage starts and dropped when it
//!   ends, and bounded, so it cannot exhaust the descriptor limit.

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::rc::Rc;

/// Cached directories at most; when full, the cache starts over (well below
/// the usual soft limit of 1,024 descriptors).
const MAX_DIRS: usize = 512;

/// Open directory descriptors by resolved in-root path.
#[derive(Debug, Default)]
pub(crate) struct DirCache(HashMap<String, Rc<OwnedFd>>);

impl DirCache {
    pub fn get(&self, dir: &str) -> Option<Rc<OwnedFd>> {
        self.0.get(dir).cloned()
    }

    pub fn insert(&mut self, dir: &str, fd: &Rc<OwnedFd>) {
        if self.0.len() >= MAX_DIRS && !self.0.contains_key(dir) {
            self.0.clear();
        }
        self.0.insert(dir.to_string(), Rc::clone(fd));
    }

    pub fn clear(&mut self) {
        self.0.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_and_cleared() {
        let mut c = DirCache::default();
        let fd = Rc::new(
            rustix::fs::open(".", rustix::fs::OFlags::RDONLY, rustix::fs::Mode::empty()).unwrap(),
        );
        for i in 0..MAX_DIRS + 10 {
            c.insert(&format!("/d{i}"), &fd);
            assert!(c.0.len() <= MAX_DIRS);
        }
        assert!(c.get(&format!("/d{}", MAX_DIRS + 9)).is_some());
        c.clear();
        assert!(c.get("/d0").is_none());
    }
}
