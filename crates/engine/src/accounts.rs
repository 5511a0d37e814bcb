//! The target root's account databases (`/etc/passwd`, `shadow`, `group`,
//! `gshadow`): reading for name → id lookups, and the in-memory model that the
//! users/groups step edits before writing each file once, atomically.
//!
//! Lookups also consult `/usr/lib/passwd` and `/usr/lib/group` (nss-altfiles
//! on CoreOS-style images, ignition#1596/#1601) after `/etc`. Edits only touch
//! the `/etc` files. Lines that do not parse are kept verbatim.

use std::collections::BTreeMap;
use std::io::Read;
use std::os::fd::AsFd;

use reignite_sysutil::{Durability, WriteOptions};

use crate::context::{ApplyError, IoContext};
use crate::root::{split_parent, Root};

/// One database file, as lines split on `:` (unparsable lines kept as-is).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table {
    /// Whether the file existed.
    pub present: bool,
    /// The lines, each split into fields.
    pub lines: Vec<Vec<String>>,
    /// Mode, uid, gid of the existing file (to keep them on rewrite).
    pub perms: Option<(u32, u32, u32)>,
    /// True once edited.
    pub dirty: bool,
}

impl Table {
    fn parse(text: &str) -> Vec<Vec<String>> {
        text.lines()
            .map(|l| l.split(':').map(str::to_string).collect())
            .collect()
    }

    /// The fields of the entry named `name`.
    pub fn get(&self, name: &str) -> Option<&Vec<String>> {
        self.lines.iter().find(|l| l[0] == name && l.len() > 1)
    }

    /// Mutable fields of the entry named `name`.
    pub fn get_mut(&mut self, name: &str) -> Option<&mut Vec<String>> {
        self.dirty = true;
        self.lines.iter_mut().find(|l| l[0] == name && l.len() > 1)
    }

    /// Adds or replaces the entry `fields[0]`.
    pub fn upsert(&mut self, fields: Vec<String>) {
        self.dirty = true;
        match self
            .lines
            .iter_mut()
            .find(|l| l[0] == fields[0] && l.len() > 1)
        {
            Some(l) => *l = fields,
            None => self.lines.push(fields),
        }
    }

    /// Removes the entry `name`; true if it existed.
    pub fn remove(&mut self, name: &str) -> bool {
        let before = self.lines.len();
        self.lines.retain(|l| !(l[0] == name && l.len() > 1));
        let removed = self.lines.len() != before;
        self.dirty |= removed;
        removed
    }

    /// The file's text.
    pub fn render(&self) -> String {
        let mut s = String::new();
        for l in &self.lines {
            s.push_str(&l.join(":"));
            s.push('\n');
        }
        s
    }

    /// The numeric field `idx` of every entry.
    pub fn ids(&self, idx: usize) -> Vec<u32> {
        self.lines
            .iter()
            .filter_map(|l| l.get(idx).and_then(|v| v.parse().ok()))
            .collect()
    }
}

/// The four databases plus the altfiles ones (read-only).
#[derive(Debug, Clone, Default)]
pub struct AccountDb {
    /// `/etc/passwd`.
    pub passwd: Table,
    /// `/etc/shadow`.
    pub shadow: Table,
    /// `/etc/group`.
    pub group: Table,
    /// `/etc/gshadow`.
    pub gshadow: Table,
    /// `/usr/lib/passwd` (lookups only).
    pub alt_passwd: Table,
    /// `/usr/lib/group` (lookups only).
    pub alt_group: Table,
}

/// `/etc/login.defs` and `/etc/default/useradd` of the target root.
#[derive(Debug, Clone, Default)]
pub struct Defs {
    values: BTreeMap<String, String>,
    useradd: BTreeMap<String, String>,
}

impl Defs {
    /// Reads both files (missing files mean compiled-in defaults).
    pub fn load(root: &Root) -> Result<Self, ApplyError> {
        let mut d = Defs::default();
        if let Some(t) = read_text(root, "/etc/login.defs")? {
            for l in t.lines() {
                let l = l.trim();
                if l.starts_with('#') || l.is_empty() {
                    continue;
                }
                let mut it = l.split_whitespace();
                if let (Some(k), Some(v)) = (it.next(), it.next()) {
                    d.values
                        .insert(k.to_string(), v.trim_matches('"').to_string());
                }
            }
        }
        if let Some(t) = read_text(root, "/etc/default/useradd")? {
            for l in t.lines() {
                let l = l.trim();
                if l.starts_with('#') {
                    continue;
                }
                if let Some((k, v)) = l.split_once('=') {
                    d.useradd
                        .insert(k.trim().to_string(), v.trim().trim_matches('"').to_string());
                }
            }
        }
        Ok(d)
    }

    /// A numeric login.defs value (octal with a leading 0, as shadow reads it).
    pub fn num(&self, key: &str, default: i64) -> i64 {
        self.values
            .get(key)
            .and_then(|v| {
                if v.len() > 1 && v.starts_with('0') {
                    i64::from_str_radix(&v[1..], 8).ok()
                } else {
                    v.parse().ok()
                }
            })
            .unwrap_or(default)
    }

    /// A login.defs value as written.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }

    /// A yes/no login.defs value.
    pub fn flag(&self, key: &str) -> bool {
        self.values
            .get(key)
            .is_some_and(|v| v.eq_ignore_ascii_case("yes"))
    }

    /// A `/etc/default/useradd` value.
    pub fn useradd(&self, key: &str) -> Option<&str> {
        self.useradd.get(key).map(String::as_str)
    }

    /// `[min, max]` for new uids (`what` = "UID") or gids ("GID").
    pub fn range(&self, what: &str, system: bool) -> (u32, u32) {
        let min = self.num(&format!("{what}_MIN"), 1000);
        if system {
            let smin = self.num(&format!("SYS_{what}_MIN"), 101);
            let smax = self.num(&format!("SYS_{what}_MAX"), min - 1);
            (smin as u32, smax as u32)
        } else {
            (min as u32, self.num(&format!("{what}_MAX"), 60000) as u32)
        }
    }
}

/// Reads a whole file (resolved in the root); `None` when missing.
pub(crate) fn read_text(root: &Root, path: &str) -> Result<Option<String>, ApplyError> {
    let resolved = root.resolve(path)?;
    let (parent, name) = split_parent(&resolved);
    let dir = match root.open_dir(parent) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).ctx(|| format!("opening {parent}")),
    };
    let fd = match rustix::fs::openat(
        &dir,
        name,
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC | rustix::fs::OFlags::NOFOLLOW,
        rustix::fs::Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::NOENT) => return Ok(None),
        Err(e) => return Err(e).ctx(|| format!("opening {path}")),
    };
    let mut s = String::new();
    std::fs::File::from(fd)
        .read_to_string(&mut s)
        .ctx(|| format!("reading {path}"))?;
    Ok(Some(s))
}

fn load_table(root: &Root, path: &str) -> Result<Table, ApplyError> {
    let perms = root
        .resolve(path)
        .ok()
        .and_then(|p| root.lstat(&p).ok().flatten())
        .map(|st| (st.st_mode & 0o7777, st.st_uid, st.st_gid));
    Ok(match read_text(root, path)? {
        Some(t) => Table {
            present: true,
            lines: Table::parse(&t),
            perms,
            dirty: false,
        },
        None => Table::default(),
    })
}

impl AccountDb {
    /// Reads the databases of the target root.
    pub fn load(root: &Root) -> Result<Self, ApplyError> {
        Ok(Self {
            passwd: load_table(root, "/etc/passwd")?,
            shadow: load_table(root, "/etc/shadow")?,
            group: load_table(root, "/etc/group")?,
            gshadow: load_table(root, "/etc/gshadow")?,
            alt_passwd: load_table(root, "/usr/lib/passwd")?,
            alt_group: load_table(root, "/usr/lib/group")?,
        })
    }

    /// The passwd entry of `name` (`/etc` first, then `/usr/lib`).
    pub fn user(&self, name: &str) -> Option<&Vec<String>> {
        self.passwd
            .get(name)
            .or_else(|| self.alt_passwd.get(name))
            .filter(|l| l.len() >= 7)
    }

    /// The group entry of `name` (`/etc` first, then `/usr/lib`).
    pub fn group_entry(&self, name: &str) -> Option<&Vec<String>> {
        self.group
            .get(name)
            .or_else(|| self.alt_group.get(name))
            .filter(|l| l.len() >= 3)
    }

    /// uid of user `name`.
    pub fn uid_of(&self, name: &str) -> Option<u32> {
        self.user(name).and_then(|l| l[2].parse().ok())
    }

    /// gid of group `name`.
    pub fn gid_of(&self, name: &str) -> Option<u32> {
        self.group_entry(name).and_then(|l| l[2].parse().ok())
    }

    /// Every uid in use.
    pub fn used_uids(&self) -> Vec<u32> {
        let mut v = self.passwd.ids(2);
        v.extend(self.alt_passwd.ids(2));
        v
    }

    /// Every gid in use.
    pub fn used_gids(&self) -> Vec<u32> {
        let mut v = self.group.ids(2);
        v.extend(self.alt_group.ids(2));
        v
    }

    /// Writes every edited `/etc` database atomically, keeping the existing
    /// file's mode and owner (new files: passwd/group 0644, shadow/gshadow
    /// 0640 — Debian's defaults).
    pub fn write(
        &mut self,
        root: &Root,
        durability: Durability,
    ) -> Result<Vec<String>, ApplyError> {
        let mut written = Vec::new();
        for (path, table, default_mode) in [
            ("/etc/passwd", &mut self.passwd, 0o644),
            ("/etc/shadow", &mut self.shadow, 0o640),
            ("/etc/group", &mut self.group, 0o644),
            ("/etc/gshadow", &mut self.gshadow, 0o640),
        ] {
            if !table.dirty {
                continue;
            }
            let resolved = root.resolve(path)?;
            let (parent, name) = split_parent(&resolved);
            let (dir, _) = root
                .mkdir_all(parent, 0o755)
                .ctx(|| format!("creating {parent}"))?;
            let (mode, uid, gid) = table.perms.unwrap_or((default_mode, 0, 0));
            let text = table.render();
            reignite_sysutil::atomic_write_at(
                dir.as_fd(),
                std::ffi::OsStr::new(name),
                &WriteOptions {
                    mode,
                    owner: Some((uid, gid)),
                    durability,
                },
                |f| std::io::Write::write_all(f, text.as_bytes()),
            )
            .ctx(|| format!("writing {path}"))?;
            table.dirty = false;
            table.present = true;
            written.push(resolved);
        }
        Ok(written)
    }
}

/// Picks a new id as shadow-utils' `find_new_uid`/`find_new_gid` do: for
/// normal accounts one above the highest used id in `[min, max]` (the lowest
/// free one when that overflows), for system accounts one below the lowest
/// used (the highest free one when that underflows). A free `preferred` id in
/// range wins.
pub fn allocate_id(
    used: &[u32],
    (min, max): (u32, u32),
    system: bool,
    preferred: Option<u32>,
) -> Option<u32> {
    let is_used = |id: u32| used.contains(&id);
    if let Some(p) = preferred {
        if p >= min && p <= max && !is_used(p) {
            return Some(p);
        }
    }
    let in_range: Vec<u32> = used
        .iter()
        .copied()
        .filter(|u| *u >= min && *u <= max)
        .collect();
    if system {
        let candidate = match in_range.iter().min() {
            Some(&lowest) => lowest.checked_sub(1),
            None => Some(max),
        };
        match candidate {
            Some(c) if c >= min && !is_used(c) => Some(c),
            _ => (min..=max).rev().find(|id| !is_used(*id)),
        }
    } else {
        let candidate = match in_range.iter().max() {
            Some(&highest) => highest.checked_add(1),
            None => Some(min),
        };
        match candidate {
            Some(c) if c <= max && !is_used(c) => Some(c),
            _ => (min..=max).find(|id| !is_used(*id)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocation_matches_shadow_utils() {
        let r = (1000, 60000);
        assert_eq!(allocate_id(&[0, 1], r, false, None), Some(1000));
        assert_eq!(allocate_id(&[0, 1000, 2000], r, false, None), Some(2001));
        assert_eq!(allocate_id(&[1000, 60000], r, false, None), Some(1001));
        assert_eq!(allocate_id(&[1000], r, false, Some(1500)), Some(1500));
        assert_eq!(allocate_id(&[1000], r, false, Some(1000)), Some(1001));
        let s = (101, 999);
        assert_eq!(allocate_id(&[0], s, true, None), Some(999));
        assert_eq!(allocate_id(&[999, 998], s, true, None), Some(997));
        assert_eq!(allocate_id(&[101, 999], s, true, None), Some(998));
    }

    #[test]
    fn tables_round_trip_and_edit() {
        let mut t = Table {
            present: true,
            lines: Table::parse("root:x:0:0:root:/root:/bin/sh\n# comment\n"),
            perms: None,
            dirty: false,
        };
        assert_eq!(t.render(), "root:x:0:0:root:/root:/bin/sh\n# comment\n");
        t.upsert(vec!["a".into(), "x".into(), "5".into(), "5".into()]);
        assert!(t.get("a").is_some());
        assert!(t.remove("a"));
        assert!(!t.remove("a"));
        assert_eq!(t.ids(2), vec![0]);
    }

    #[test]
    fn defs_parse_octal_and_ranges() {
        let mut d = Defs::default();
        d.values.insert("UMASK".into(), "022".into());
        d.values.insert("UID_MIN".into(), "500".into());
        assert_eq!(d.num("UMASK", 0), 0o22);
        assert_eq!(d.range("UID", false), (500, 60000));
        assert_eq!(d.range("UID", true), (101, 499));
        assert_eq!(d.range("GID", false), (1000, 60000));
    }
}
