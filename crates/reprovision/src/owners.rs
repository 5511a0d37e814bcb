//! Kept data whose owner's id changes: a user or group that keeps its name
//! but gets a different uid/gid in the new generation would otherwise leave
//! kept files owned by a stale number (or by whoever gets that number next).
//!
//! [`id_changes`] compares two pairs of account databases by name; `plan`
//! predicts from the ids the new config sets explicitly, `switch` and `boot`
//! check the real databases after the files stage. [`walk`] visits kept
//! entries without following symlinks and without entering other
//! filesystems, descriptor-relative from the root (so it stays inside it);
//! [`remap`] `lchown`s entries owned by an old id to the new one and puts
//! back setuid/setgid bits that the kernel clears on chown.
//!
//! What happens is the caller's [`OwnerPolicy`]: refuse (the default), remap
//! (`--remap-owners`), or leave the numbers as they are (`--keep-owner-ids`).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use serde::{Deserialize, Serialize};

/// What to do with kept data owned by an id that changes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OwnerPolicy {
    /// Refuse the transition (the default).
    #[default]
    Refuse,
    /// `--remap-owners`: chown to the new id.
    Remap,
    /// `--keep-owner-ids`: leave the numeric owners as they are.
    Keep,
}

/// A user or group whose id changes, and how many kept entries it owns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct IdChange {
    /// `user` or `group`.
    pub kind: &'static str,
    /// Account name.
    pub name: String,
    /// Id now.
    pub old: u32,
    /// Id in the new generation.
    pub new: u32,
    /// Kept entries owned by `old`.
    pub paths: u64,
}

impl std::fmt::Display for IdChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} {} -> {} ({} path(s))",
            self.kind, self.name, self.old, self.new, self.paths
        )
    }
}

/// `name -> id` of a passwd or group file (third field).
pub fn parse_ids(text: &str) -> BTreeMap<String, u32> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.split(':');
            let name = f.next()?;
            let id = f.nth(1)?.parse().ok()?;
            Some((name.to_string(), id))
        })
        .collect()
}

/// Accounts present in both with different ids (users first).
pub fn id_changes(
    old_users: &BTreeMap<String, u32>,
    new_users: &BTreeMap<String, u32>,
    old_groups: &BTreeMap<String, u32>,
    new_groups: &BTreeMap<String, u32>,
) -> Vec<IdChange> {
    let mut out = Vec::new();
    for (kind, old, new) in [
        ("user", old_users, new_users),
        ("group", old_groups, new_groups),
    ] {
        for (name, o) in old {
            if let Some(n) = new.get(name).filter(|n| *n != o) {
                out.push(IdChange {
                    kind,
                    name: name.clone(),
                    old: *o,
                    new: *n,
                    paths: 0,
                });
            }
        }
    }
    out
}

/// The databases of `dir` (a root, or a trash's `old/`): (users, groups).
pub fn read_ids(dir: &Path) -> (BTreeMap<String, u32>, BTreeMap<String, u32>) {
    let read = |p: &str| {
        std::fs::read_to_string(dir.join(p))
            .map(|t| parse_ids(&t))
            .unwrap_or_default()
    };
    (read("etc/passwd"), read("etc/group"))
}

/// The changes a config's explicit `uid`/`gid` make against `root`'s
/// current databases (ids the engine allocates are only known afterwards).
pub fn predicted_changes(root: &Path, config: &serde_json::Value) -> Vec<IdChange> {
    let (old_u, old_g) = read_ids(root);
    let explicit = |list: &serde_json::Value, key: &str| -> BTreeMap<String, u32> {
        list.as_array()
            .into_iter()
            .flatten()
            .filter_map(|x| Some((x["name"].as_str()?.to_string(), x[key].as_u64()? as u32)))
            .collect()
    };
    id_changes(
        &old_u,
        &explicit(&config["passwd"]["users"], "uid"),
        &old_g,
        &explicit(&config["passwd"]["groups"], "gid"),
    )
}

/// `lstat` data [`walk`] passes on.
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// `st_mode`.
    pub mode: u32,
}

fn io(e: rustix::io::Errno) -> std::io::Error {
    e.into()
}

fn visit(
    parent: BorrowedFd<'_>,
    name: &std::ffi::OsStr,
    rel: &str,
    dev: u64,
    skip: &dyn Fn(&str) -> bool,
    f: &mut dyn FnMut(BorrowedFd<'_>, &std::ffi::OsStr, &str, Entry) -> std::io::Result<()>,
) -> std::io::Result<()> {
    if skip(rel) {
        return Ok(());
    }
    let st = match rustix::fs::statat(parent, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(s) => s,
        Err(rustix::io::Errno::NOENT) => return Ok(()),
        Err(e) => return Err(io(e)),
    };
    if st.st_dev != dev {
        // Another filesystem mounted here: neither entered nor touched.
        return Ok(());
    }
    let e = Entry {
        uid: st.st_uid,
        gid: st.st_gid,
        mode: st.st_mode,
    };
    f(parent, name, rel, e)?;
    if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
        let sub = rustix::fs::openat(
            parent,
            name,
            OFlags::DIRECTORY | OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(io)?;
        for n in list(&sub)? {
            let child = format!("{rel}/{}", n.to_string_lossy());
            visit(sub.as_fd(), &n, &child, dev, skip, f)?;
        }
    }
    Ok(())
}

fn list(dir: &OwnedFd) -> std::io::Result<Vec<OsString>> {
    let mut names = Vec::new();
    for entry in rustix::fs::Dir::read_from(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let n = entry.file_name().to_bytes();
        if n != b"." && n != b".." {
            names.push(std::ffi::OsStr::from_bytes(n).to_owned());
        }
    }
    names.sort();
    Ok(names)
}

/// Visits `subtrees` (root-relative; `""` is every top-level entry of the
/// root) and everything below them, lstat-wise, on the root's filesystem
/// only. Intermediate components are opened with `O_NOFOLLOW`, so nothing
/// outside the root is reached; `skip` prunes root-relative paths.
pub fn walk(
    root: &Path,
    subtrees: &[String],
    skip: &dyn Fn(&str) -> bool,
    f: &mut dyn FnMut(BorrowedFd<'_>, &std::ffi::OsStr, &str, Entry) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let rfd = rustix::fs::open(
        root,
        OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(io)?;
    let dev = rustix::fs::fstat(&rfd).map_err(io)?.st_dev;
    for t in subtrees {
        let t = t.trim_matches('/');
        if t.is_empty() {
            for n in list(&rfd)? {
                let rel = n.to_string_lossy().into_owned();
                visit(rfd.as_fd(), &n, &rel, dev, skip, f)?;
            }
            continue;
        }
        let (parent_rel, name) = t.rsplit_once('/').unwrap_or(("", t));
        let mut parent = rustix::fs::openat(
            &rfd,
            ".",
            OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(io)?;
        let mut reachable = true;
        for c in parent_rel.split('/').filter(|c| !c.is_empty()) {
            match rustix::fs::openat(
                &parent,
                c,
                OFlags::DIRECTORY | OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            ) {
                Ok(d) => parent = d,
                // A symlink or a vanished directory on the way: not kept data.
                Err(_) => {
                    reachable = false;
                    break;
                }
            }
        }
        if reachable {
            visit(parent.as_fd(), std::ffi::OsStr::new(name), t, dev, skip, f)?;
        }
    }
    Ok(())
}

/// Counts, per change, the entries below `subtrees` owned by its old id.
pub fn count(
    root: &Path,
    subtrees: &[String],
    skip: &dyn Fn(&str) -> bool,
    changes: &mut [IdChange],
) -> std::io::Result<()> {
    if changes.is_empty() {
        return Ok(());
    }
    walk(root, subtrees, skip, &mut |_, _, _, e| {
        for c in changes.iter_mut() {
            let id = if c.kind == "user" { e.uid } else { e.gid };
            if id == c.old {
                c.paths += 1;
            }
        }
        Ok(())
    })
}

/// `lchown`s every entry below `subtrees` owned by a changed id to the new
/// id (uid and gid independently); setuid/setgid bits are put back. Returns
/// the number of entries changed.
pub fn remap(
    root: &Path,
    subtrees: &[String],
    skip: &dyn Fn(&str) -> bool,
    changes: &[IdChange],
) -> std::io::Result<u64> {
    let uids: BTreeMap<u32, u32> = changes
        .iter()
        .filter(|c| c.kind == "user")
        .map(|c| (c.old, c.new))
        .collect();
    let gids: BTreeMap<u32, u32> = changes
        .iter()
        .filter(|c| c.kind == "group")
        .map(|c| (c.old, c.new))
        .collect();
    let mut n = 0;
    walk(root, subtrees, skip, &mut |parent, name, rel, e| {
        let u = uids.get(&e.uid).copied();
        let g = gids.get(&e.gid).copied();
        if u.is_none() && g.is_none() {
            return Ok(());
        }
        rustix::fs::chownat(
            parent,
            name,
            u.map(rustix::fs::Uid::from_raw),
            g.map(rustix::fs::Gid::from_raw),
            AtFlags::SYMLINK_NOFOLLOW,
        )
        .map_err(|err| std::io::Error::other(format!("changing the owner of /{rel}: {err}")))?;
        let ft = FileType::from_raw_mode(e.mode);
        if ft != FileType::Symlink && e.mode & 0o6000 != 0 {
            rustix::fs::chmodat(
                parent,
                name,
                Mode::from_raw_mode(e.mode & 0o7777),
                AtFlags::empty(),
            )
            .map_err(|err| std::io::Error::other(format!("restoring the mode of /{rel}: {err}")))?;
        }
        n += 1;
        Ok(())
    })?;
    Ok(n)
}

/// Top-level entries a whole-root walk never enters: kernel filesystems,
/// the image, reignite's state and trash.
pub fn skip_system(rel: &str) -> bool {
    let top = rel.split('/').next().unwrap_or("");
    matches!(top, "proc" | "sys" | "dev" | "run" | "tmp")
        || crate::scan::PROTECTED.contains(&top)
        || rel == crate::generations::STATE_REL
        || rel.starts_with(&format!("{}/", crate::generations::STATE_REL))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn changes_by_name() {
        let old_u =
            parse_ids("root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n");
        let new_u = parse_ids("root:x:0:0::/root:/bin/sh\nalice:x:1001:1001::/home/alice:/bin/sh\nbob:x:1000:1000::/:/bin/sh\n");
        let old_g = parse_ids("alice:x:1000:\n");
        let new_g = parse_ids("alice:x:1000:\n");
        let c = id_changes(&old_u, &new_u, &old_g, &new_g);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].to_string(), "user alice 1000 -> 1001 (0 path(s))");
    }

    #[test]
    fn remap_swaps_ids_without_following_links() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        std::fs::create_dir_all(r.join("srv/data/sub")).unwrap();
        std::fs::write(r.join("srv/data/sub/f"), "x").unwrap();
        std::fs::write(r.join("srv/data/g"), "y").unwrap();
        std::fs::write(r.join("outside"), "z").unwrap();
        std::os::unix::fs::symlink("/outside", r.join("srv/data/link")).unwrap();
        let own = |p: &str, u: u32, g: u32| {
            std::os::unix::fs::lchown(r.join(p), Some(u), Some(g)).unwrap();
        };
        own("srv/data", 1000, 1000);
        own("srv/data/sub", 1000, 1000);
        own("srv/data/sub/f", 1000, 50);
        own("srv/data/g", 1001, 1000);
        own("srv/data/link", 1000, 1000);
        own("outside", 1000, 1000);
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            r.join("srv/data/sub/f"),
            std::fs::Permissions::from_mode(0o4755),
        )
        .unwrap();
        let mut changes = vec![
            IdChange {
                kind: "user",
                name: "alice".into(),
                old: 1000,
                new: 1001,
                paths: 0,
            },
            IdChange {
                kind: "user",
                name: "bob".into(),
                old: 1001,
                new: 1000,
                paths: 0,
            },
            IdChange {
                kind: "group",
                name: "alice".into(),
                old: 1000,
                new: 2000,
                paths: 0,
            },
        ];
        count(r, &["srv/data".into()], &|_| false, &mut changes).unwrap();
        assert_eq!(
            changes.iter().map(|c| c.paths).collect::<Vec<_>>(),
            [4, 1, 4]
        );
        assert_eq!(
            remap(r, &["srv/data".into()], &|_| false, &changes).unwrap(),
            5
        );
        let o = |p: &str| {
            let m = std::fs::symlink_metadata(r.join(p)).unwrap();
            (m.uid(), m.gid())
        };
        assert_eq!(o("srv/data"), (1001, 2000));
        assert_eq!(o("srv/data/sub/f"), (1001, 50));
        assert_eq!(o("srv/data/g"), (1000, 2000), "swapped, not chained");
        assert_eq!(o("srv/data/link"), (1001, 2000), "the link itself");
        assert_eq!(o("outside"), (1000, 1000), "its target untouched");
        assert_eq!(
            std::fs::metadata(r.join("srv/data/sub/f")).unwrap().mode() & 0o7777,
            0o4755,
            "setuid kept"
        );
    }
}
