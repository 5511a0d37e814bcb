//! What Debian's `usermod --root` (shadow-utils 4.13) does to the filesystem
//! after it has written the account databases, for the options Ignition
//! passes (`--home D --move-home`, `--uid`, `--gid`), in the tool's order:
//!
//! 1. `--move-home` to a different path: fails if the new path exists
//!    ("directory D exists") or the old home is not a directory; renames the
//!    old home (a missing one only warns) and re-owns the moved tree;
//! 2. a new uid: the mail spool `MAIL_DIR/<name>` (default `/var/mail`) is
//!    given the new uid if the old uid owned it;
//! 3. without a move, a new uid or gid re-owns the home tree, if the home is
//!    owned by the old (or new) uid: every entry (symlinks not followed)
//!    owned by the old uid gets the new uid, every entry with the old gid the
//!    new gid (`chown_tree`). A home that is a symlink fails ("Failed to
//!    change ownership of the home directory"), after the databases were
//!    written, as the tool does.
//!
//! `userdel --remove` removes the spool file too ([`remove_mailbox`]).
//!
//! A new uid also moves the `/var/log/lastlog` and `faillog` records
//! (`loginlogs.rs`).
//!
//! The intended change is journalled before the databases are written, so
//! an apply interrupted after that (when the databases already show the new
//! ids and home) still re-owns and moves on the next run.

use std::ffi::CStr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::fs::{AtFlags, Gid, Mode, OFlags, ResolveFlags, Uid};
use serde::{Deserialize, Serialize};

use crate::accounts::Defs;
use crate::context::{ApplyError, Ctx, IoContext};
use crate::root::{is_dir, is_symlink, split_parent};

/// Journal key prefix of a pending [`Usermod`].
const KEY: &str = "usermod:";

/// The filesystem side of one `usermod` call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Usermod {
    pub name: String,
    /// The home before the call.
    pub home: String,
    /// `--home D --move-home` with D different from `home` (trailing
    /// slashes removed, as usermod stores it).
    pub move_to: Option<String>,
    pub old_uid: u32,
    pub new_uid: Option<u32>,
    pub old_gid: u32,
    pub new_gid: Option<u32>,
}

fn err(msg: String) -> ApplyError {
    ApplyError::Accounts(msg)
}

impl Usermod {
    /// True when the call touches the filesystem at all.
    pub fn needed(&self) -> bool {
        self.move_to.is_some() || self.new_uid.is_some() || self.new_gid.is_some()
    }

    fn key(&self) -> String {
        format!(
            "{KEY}{}",
            serde_json::to_string(self).expect("usermod record serialises")
        )
    }

    /// Journals the intended change (before the databases are written).
    pub fn note(&self, ctx: &mut Ctx<'_>) -> Result<(), ApplyError> {
        ctx.note_created(&self.key())
    }

    /// The change an interrupted earlier attempt journalled for `name`.
    pub fn pending(ctx: &Ctx<'_>, name: &str) -> Option<Self> {
        ctx.journal
            .created
            .iter()
            .filter_map(|k| k.strip_prefix(KEY))
            .filter_map(|j| serde_json::from_str::<Self>(j).ok())
            .find(|u| u.name == name)
    }

    /// Performs the call's filesystem changes. `resumed`: completing an
    /// interrupted earlier attempt, where a move may already have happened.
    pub fn apply(&self, ctx: &mut Ctx<'_>, defs: &Defs, resumed: bool) -> Result<(), ApplyError> {
        let ids = (self.old_uid, self.new_uid, self.old_gid, self.new_gid);
        let reown = self.new_uid.is_some() || self.new_gid.is_some();
        if let Some(to) = &self.move_to {
            self.move_home(ctx, to, reown, resumed)?;
        }
        if let Some(new_uid) = self.new_uid {
            self.mailbox(ctx, defs, new_uid)?;
            super::loginlogs::update(ctx, defs, self.old_uid, new_uid)?;
        }
        if self.move_to.is_some() || !reown {
            return Ok(());
        }
        let resolved = ctx.root.resolve(&self.home)?;
        let Some(st) = ctx
            .root
            .stat_follow(&resolved)
            .ctx(|| format!("inspecting {}", self.home))?
        else {
            return Ok(());
        };
        if st.st_uid != self.old_uid && Some(st.st_uid) != self.new_uid {
            return Ok(());
        }
        ctx.commit_point()?;
        let (parent, name) = split_parent(&resolved);
        let failed = || {
            err(format!(
                "failed to modify user {}: usermod: Failed to change ownership of the home directory {}",
                self.name, self.home
            ))
        };
        let pfd = ctx.root.open_dir(parent).map_err(|_| failed())?;
        chown_tree_at(pfd.as_fd(), c(name)?.as_c_str(), ids).map_err(|_| failed())
    }

    fn move_home(
        &self,
        ctx: &mut Ctx<'_>,
        to: &str,
        reown: bool,
        resumed: bool,
    ) -> Result<(), ApplyError> {
        let ids = (self.old_uid, self.new_uid, self.old_gid, self.new_gid);
        let from_r = ctx.root.resolve(&self.home)?;
        let to_r = ctx.root.resolve(to)?;
        let target = ctx.root.lstat(&to_r).ctx(|| format!("inspecting {to}"))?;
        let source = ctx
            .root
            .stat_follow(&from_r)
            .ctx(|| format!("inspecting {}", self.home))?;
        let moved = if resumed && target.is_some() && source.is_none() {
            // Renamed by the interrupted attempt; re-owning may be partial.
            true
        } else {
            if target.is_some() {
                let what = if ctx.root.stat_follow(&to_r).ok().flatten().is_some() {
                    format!("directory {to} exists")
                } else {
                    format!("cannot rename directory {} to {to}", self.home)
                };
                return Err(err(format!(
                    "failed to modify user {}: usermod: {what}",
                    self.name
                )));
            }
            match source {
                None => {
                    tracing::warn!(
                        "usermod: the previous home directory ({}) of {} does not exist; move skipped",
                        self.home,
                        self.name
                    );
                    return Ok(());
                }
                Some(st) if !is_dir(&st) => {
                    return Err(err(format!(
                        "failed to modify user {}: usermod: The previous home directory ({}) was not a directory. It is not removed and no home directories are created.",
                        self.name, self.home
                    )));
                }
                Some(_) => {}
            }
            ctx.commit_point()?;
            // No parents are created: a missing one fails the rename.
            let (fp, fname) = split_parent(&from_r);
            let (tp, tname) = split_parent(&to_r);
            let renamed = ctx.root.open_dir(fp).and_then(|fdir| {
                let tdir = ctx.root.open_dir(tp)?;
                Ok(rustix::fs::renameat(&fdir, fname, &tdir, tname)?)
            });
            if let Err(e) = renamed {
                return Err(err(format!(
                    "failed to modify user {}: usermod: cannot rename directory {} to {to}: {e}",
                    self.name, self.home
                )));
            }
            true
        };
        if moved && reown {
            ctx.commit_point()?;
            let (tp, tname) = split_parent(&to_r);
            let tdir = ctx.root.open_dir(tp).ctx(|| format!("opening {tp}"))?;
            chown_tree_at(tdir.as_fd(), c(tname)?.as_c_str(), ids).map_err(|_| {
                err(format!(
                    "failed to modify user {}: usermod: Failed to change ownership of the home directory {to}",
                    self.name
                ))
            })?;
        }
        Ok(())
    }

    /// `move_mailbox`: the spool file gets the new uid if the old one owns it.
    fn mailbox(&self, ctx: &mut Ctx<'_>, defs: &Defs, new_uid: u32) -> Result<(), ApplyError> {
        let Some(path) = mail_spool(defs, &self.name) else {
            return Ok(());
        };
        let fd = match rustix::fs::openat2(
            ctx.root.fd(),
            path.trim_start_matches('/'),
            OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC,
            Mode::empty(),
            ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
        ) {
            Ok(fd) => fd,
            Err(rustix::io::Errno::NOENT) | Err(rustix::io::Errno::NOTDIR) => return Ok(()),
            Err(e) => return Err(e).ctx(|| format!("opening mail spool {path}")),
        };
        let st = rustix::fs::fstat(&fd).ctx(|| format!("inspecting {path}"))?;
        if st.st_uid != self.old_uid {
            if st.st_uid != new_uid {
                tracing::warn!("usermod: {path} not owned by {}; left alone", self.name);
            }
            return Ok(());
        }
        ctx.commit_point()?;
        rustix::fs::fchown(&fd, Some(Uid::from_raw(new_uid)), None)
            .ctx(|| format!("changing owner of mail spool {path}"))
    }
}

/// The user's mail spool file as shadow-utils finds it: `MAIL_DIR/<name>`,
/// `/var/mail/<name>` when neither `MAIL_DIR` nor `MAIL_FILE` is set, none
/// with only `MAIL_FILE` (a file inside the home).
pub(crate) fn mail_spool(defs: &Defs, name: &str) -> Option<String> {
    let dir = match (defs.get("MAIL_DIR"), defs.get("MAIL_FILE")) {
        (Some(d), _) => d,
        (None, Some(_)) => return None,
        (None, None) => "/var/mail",
    };
    Some(format!("{}/{name}", dir.trim_end_matches('/')))
}

/// `userdel --remove`'s `remove_mailbox`: unlinks the spool file if the
/// user (`uid`) owns it, leaves it with a warning otherwise.
pub(crate) fn remove_mailbox(
    ctx: &mut Ctx<'_>,
    defs: &Defs,
    name: &str,
    uid: &str,
) -> Result<(), ApplyError> {
    let Some(path) = mail_spool(defs, name) else {
        return Ok(());
    };
    let resolved = ctx.root.resolve(&path)?;
    let Some(st) = ctx
        .root
        .stat_follow(&resolved)
        .ctx(|| format!("inspecting {path}"))?
    else {
        return Ok(());
    };
    if st.st_uid.to_string() != uid {
        tracing::warn!("userdel: {path} not owned by {name}, not removing");
        return Ok(());
    }
    ctx.commit_point()?;
    let (parent, file) = split_parent(&resolved);
    let dir = ctx
        .root
        .open_dir(parent)
        .ctx(|| format!("opening {parent}"))?;
    match rustix::fs::unlinkat(&dir, file, AtFlags::empty()) {
        Ok(()) | Err(rustix::io::Errno::NOENT) => Ok(()),
        Err(e) => Err(e).ctx(|| format!("removing mail spool {path}")),
    }
}

fn c(name: &str) -> Result<std::ffi::CString, ApplyError> {
    std::ffi::CString::new(name).map_err(|_| err(format!("path component {name:?} contains NUL")))
}

/// (old uid, new uid, old gid, new gid); `None` leaves that id alone.
type Ids = (u32, Option<u32>, u32, Option<u32>);

/// The ids `st`'s owner changes to, if any (shadow's `chown_tree` rule).
fn new_owner(st: &rustix::fs::Stat, (ou, nu, og, ng): Ids) -> Option<(Option<Uid>, Option<Gid>)> {
    let uid = nu.filter(|_| st.st_uid == ou).map(Uid::from_raw);
    let gid = ng.filter(|_| st.st_gid == og).map(Gid::from_raw);
    (uid.is_some() || gid.is_some()).then_some((uid, gid))
}

/// shadow's `chown_tree_at`: opens `name` in `dir` as a directory without
/// following a symlink, re-owns its entries depth first (directories'
/// contents before the directory), then the directory itself.
fn chown_tree_at(dir: BorrowedFd<'_>, name: &CStr, ids: Ids) -> rustix::io::Result<()> {
    let fd: OwnedFd = rustix::fs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let mut names = Vec::new();
    for e in rustix::fs::Dir::read_from(&fd)? {
        let e = e?;
        let n = e.file_name();
        if n.to_bytes() != b"." && n.to_bytes() != b".." {
            names.push(n.to_owned());
        }
    }
    for n in names {
        let st = rustix::fs::statat(&fd, n.as_c_str(), AtFlags::SYMLINK_NOFOLLOW)?;
        if is_dir(&st) && !is_symlink(&st) {
            chown_tree_at(fd.as_fd(), n.as_c_str(), ids)?;
        }
        if let Some((u, g)) = new_owner(&st, ids) {
            rustix::fs::chownat(&fd, n.as_c_str(), u, g, AtFlags::SYMLINK_NOFOLLOW)?;
        }
    }
    let st = rustix::fs::fstat(&fd)?;
    if let Some((u, g)) = new_owner(&st, ids) {
        rustix::fs::fchown(&fd, u, g)?;
    }
    Ok(())
}

/// The home `usermod --home` stores: trailing slashes removed.
pub(crate) fn usermod_home(arg: &str) -> String {
    let t = arg.trim_end_matches('/');
    if t.is_empty() {
        "/".to_string()
    } else {
        t.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_rule_changes_matching_ids_only() {
        let mut st = rustix::fs::stat(".").expect("stat of the working directory");
        st.st_uid = 1500;
        st.st_gid = 777;
        let ids = (1500, Some(2500), 1500, None);
        assert_eq!(new_owner(&st, ids), Some((Some(Uid::from_raw(2500)), None)));
        st.st_uid = 0;
        assert_eq!(new_owner(&st, ids), None);
        st.st_gid = 1500;
        let ids = (1500, None, 1500, Some(1600));
        assert_eq!(new_owner(&st, ids), Some((None, Some(Gid::from_raw(1600)))));
    }

    #[test]
    fn home_argument_loses_trailing_slashes() {
        assert_eq!(usermod_home("/home/new/"), "/home/new");
        assert_eq!(usermod_home("/home/new"), "/home/new");
        assert_eq!(usermod_home("/"), "/");
    }
}
