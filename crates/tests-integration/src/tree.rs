//! Snapshot of a directory tree as plain data, for comparing two roots.
//!
//! Every node below the root (and the root itself, as `/`) is recorded without
//! following symlinks: its type, full contents for regular files, the target
//! of symlinks, permission bits including setuid/setgid/sticky, uid, gid and
//! the inode identity, from which hard-link groups are derived.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

/// The type of a node, with what identifies it beyond its metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A regular file and its bytes.
    File(Vec<u8>),
    /// A directory.
    Dir,
    /// A symlink and its target, verbatim.
    Symlink(String),
    /// A FIFO, socket or device node (named).
    Other(&'static str),
}

impl Kind {
    /// A short name for messages.
    pub fn name(&self) -> &'static str {
        match self {
            Kind::File(_) => "file",
            Kind::Dir => "directory",
            Kind::Symlink(_) => "symlink",
            Kind::Other(n) => n,
        }
    }
}

/// One node of a tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Type and type-specific payload.
    pub kind: Kind,
    /// `st_mode & 07777`.
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// `(st_dev, st_ino)`, for hard-link grouping only.
    pub inode: (u64, u64),
}

impl Node {
    /// One-line description: `file 0644 0:0`.
    pub fn describe(&self) -> String {
        format!(
            "{} {:04o} {}:{}",
            self.kind.name(),
            self.mode,
            self.uid,
            self.gid
        )
    }
}

/// All nodes of a tree, keyed by absolute path inside the root (`/`, `/etc`, ...).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tree {
    /// Nodes in path order.
    pub nodes: BTreeMap<String, Node>,
}

impl Tree {
    /// Records every node under `root`.
    pub fn capture(root: &Path) -> io::Result<Tree> {
        let mut tree = Tree::default();
        tree.visit(root, "/")?;
        Ok(tree)
    }

    fn visit(&mut self, fs_path: &Path, rel: &str) -> io::Result<()> {
        let meta = fs::symlink_metadata(fs_path)?;
        let ft = meta.file_type();
        let kind = if ft.is_dir() {
            Kind::Dir
        } else if ft.is_file() {
            Kind::File(fs::read(fs_path)?)
        } else if ft.is_symlink() {
            Kind::Symlink(fs::read_link(fs_path)?.to_string_lossy().into_owned())
        } else if ft.is_fifo() {
            Kind::Other("fifo")
        } else if ft.is_socket() {
            Kind::Other("socket")
        } else if ft.is_block_device() {
            Kind::Other("block device")
        } else {
            Kind::Other("char device")
        };
        let is_dir = kind == Kind::Dir;
        self.nodes.insert(
            rel.to_string(),
            Node {
                kind,
                mode: meta.mode() & 0o7777,
                uid: meta.uid(),
                gid: meta.gid(),
                inode: (meta.dev(), meta.ino()),
            },
        );
        if is_dir {
            for entry in fs::read_dir(fs_path)? {
                let entry = entry?;
                let name = entry.file_name().to_string_lossy().into_owned();
                let child = if rel == "/" {
                    format!("/{name}")
                } else {
                    format!("{rel}/{name}")
                };
                self.visit(&entry.path(), &child)?;
            }
        }
        Ok(())
    }

    /// Groups of two or more non-directory paths sharing one inode, each group
    /// sorted; the groups themselves in order.
    pub fn hard_link_groups(&self) -> BTreeSet<Vec<String>> {
        let mut by_inode: BTreeMap<(u64, u64), Vec<String>> = BTreeMap::new();
        for (path, node) in &self.nodes {
            if node.kind != Kind::Dir {
                by_inode.entry(node.inode).or_default().push(path.clone());
            }
        }
        by_inode.into_values().filter(|g| g.len() > 1).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{symlink, PermissionsExt};

    #[test]
    fn captures_types_modes_targets_and_links() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        fs::create_dir(r.join("d")).unwrap();
        fs::set_permissions(r.join("d"), fs::Permissions::from_mode(0o1750)).unwrap();
        fs::write(r.join("d/f"), b"abc").unwrap();
        fs::set_permissions(r.join("d/f"), fs::Permissions::from_mode(0o640)).unwrap();
        fs::hard_link(r.join("d/f"), r.join("h")).unwrap();
        symlink("../nowhere", r.join("d/l")).unwrap();

        let t = Tree::capture(r).unwrap();
        let keys: Vec<&str> = t.nodes.keys().map(String::as_str).collect();
        assert_eq!(keys, ["/", "/d", "/d/f", "/d/l", "/h"]);
        assert_eq!(t.nodes["/d"].kind, Kind::Dir);
        assert_eq!(t.nodes["/d"].mode, 0o1750);
        assert_eq!(t.nodes["/d/f"].kind, Kind::File(b"abc".to_vec()));
        assert_eq!(t.nodes["/d/f"].describe(), {
            let n = &t.nodes["/d/f"];
            format!("file 0640 {}:{}", n.uid, n.gid)
        });
        assert_eq!(t.nodes["/d/l"].kind, Kind::Symlink("../nowhere".into()));
        let groups: Vec<Vec<String>> = t.hard_link_groups().into_iter().collect();
        assert_eq!(groups, vec![vec!["/d/f".to_string(), "/h".to_string()]]);
    }

    #[test]
    fn separate_files_with_equal_contents_are_not_a_group() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("a"), b"x").unwrap();
        fs::write(dir.path().join("b"), b"x").unwrap();
        assert!(Tree::capture(dir.path())
            .unwrap()
            .hard_link_groups()
            .is_empty());
    }
}
