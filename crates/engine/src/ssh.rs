//! SSH authorized-keys fragments (ignition-semantics.md §6.10):
//! `<home>/.ssh/authorized_keys.d/ignition`, with the home directory taken
//! from the target's passwd and resolved inside the root.
//!
//! Ignition creates the directories and the file *as the user*
//! (setfsuid/setfsgid), so missing directories are 0700 and owned by the user
//! and their primary group, and creating them fails with "permission denied"
//! where the user could not have created them (for example a missing home
//! under a root-owned `/home`). reignite checks the same permission instead of
//! switching ids, and fails the same way.

use reignite_spec::PasswdUser;
use reignite_sysutil::WriteOptions;
use rustix::fs::{AtFlags, Gid, Mode, Uid};

use crate::context::{ApplyError, Ctx, IoContext};
use crate::manifest::{Origin, RecordKind, SshKeyRecord};
use crate::root::split_parent;

/// Whether `uid`/`gid` may create entries in a directory with this stat.
fn writable_by(st: &rustix::fs::Stat, uid: u32, gid: u32) -> bool {
    if uid == 0 {
        return true;
    }
    let mode = st.st_mode;
    if st.st_uid == uid {
        mode & 0o300 == 0o300
    } else if st.st_gid == gid {
        mode & 0o030 == 0o030
    } else {
        mode & 0o003 == 0o003
    }
}

/// Writes the key fragment of `u` (who exists in the target's passwd).
pub(crate) fn write_keys(ctx: &mut Ctx<'_>, u: &PasswdUser) -> Result<(), ApplyError> {
    let db = ctx.accounts()?;
    let line = db.user(&u.name).cloned().ok_or_else(|| {
        ApplyError::Accounts(format!(
            "failed to add keys to user {:?}: no such user in the target root",
            u.name
        ))
    })?;
    let uid: u32 = line[2].parse().unwrap_or(0);
    let gid: u32 = line[3].parse().unwrap_or(0);
    let keys_dir = format!(
        "{}/.ssh/authorized_keys.d",
        ctx.root.resolve(&line[5])?.trim_end_matches('/')
    );
    let keys_dir = ctx.root.resolve(&keys_dir)?;
    // Missing directories, outermost first.
    let mut missing = Vec::new();
    let mut d = keys_dir.clone();
    while d != "/"
        && ctx
            .root
            .lstat(&d)
            .ctx(|| format!("inspecting {d}"))?
            .is_none()
    {
        missing.push(d.clone());
        d = split_parent(&d).0.to_string();
    }
    // Directories an interrupted earlier attempt created.
    for p in [split_parent(&keys_dir).0.to_string(), keys_dir.clone()] {
        if !missing.contains(&p) && ctx.created_before(&p) {
            ctx.recorded_parents.insert(p.clone());
            ctx.record(&p, None, RecordKind::Directory, Origin::SshKeys, true, None)?;
        }
    }
    missing.reverse();
    if let Some(first) = missing.first() {
        let parent = split_parent(first).0;
        let st = ctx
            .root
            .lstat(parent)
            .ctx(|| format!("inspecting {parent}"))?;
        if !st.is_some_and(|st| writable_by(&st, uid, gid)) {
            return Err(ApplyError::Accounts(format!(
                "failed to add keys to user {:?}: creating parent dirs for \"{keys_dir}/ignition\": permission denied",
                u.name
            )));
        }
    }
    for dir in missing {
        ctx.commit_point()?;
        ctx.note_created(&dir)?;
        ctx.recorded_parents.insert(dir.clone());
        let (parent, name) = split_parent(&dir);
        let pfd = ctx
            .root
            .open_dir(parent)
            .ctx(|| format!("opening {parent}"))?;
        match rustix::fs::mkdirat(&pfd, name, Mode::from_raw_mode(0o700)) {
            Ok(()) | Err(rustix::io::Errno::EXIST) => {}
            Err(e) => return Err(e).ctx(|| format!("creating {dir}")),
        }
        rustix::fs::chownat(
            &pfd,
            name,
            Some(Uid::from_raw(uid)),
            Some(Gid::from_raw(gid)),
            AtFlags::SYMLINK_NOFOLLOW,
        )
        .ctx(|| format!("changing owner of {dir}"))?;
        rustix::fs::chmodat(&pfd, name, Mode::from_raw_mode(0o700), AtFlags::empty())
            .ctx(|| format!("changing mode of {dir}"))?;
        ctx.record(
            &dir,
            None,
            RecordKind::Directory,
            Origin::SshKeys,
            true,
            None,
        )?;
    }
    let path = format!("{keys_dir}/ignition");
    let mut text = u.ssh_authorized_keys.join("\n");
    text.push('\n');
    let opts = WriteOptions {
        mode: 0o600,
        owner: Some((uid, gid)),
        durability: ctx.durability,
    };
    let content = ctx.write_file(&path, opts, &mut |w| {
        w.write_all(text.as_bytes())
            .ctx(|| format!("writing {path}"))
    })?;
    ctx.manifest.ssh_keys.push(SshKeyRecord {
        user: u.name.clone(),
        path: path.clone(),
        sha256: content.0.clone(),
        keys: u.ssh_authorized_keys.len(),
    });
    ctx.record(
        &path,
        None,
        RecordKind::File,
        Origin::SshKeys,
        true,
        Some(content),
    )?;
    ctx.event("ssh-keys", &u.name, "written");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permission_model() {
        let mut st = some_stat();
        st.st_mode = 0o40755;
        st.st_uid = 0;
        st.st_gid = 0;
        assert!(writable_by(&st, 0, 0));
        assert!(!writable_by(&st, 500, 500));
        st.st_uid = 500;
        assert!(writable_by(&st, 500, 500));
        st.st_mode = 0o41777;
        st.st_uid = 0;
        assert!(writable_by(&st, 500, 500));
    }

    fn some_stat() -> rustix::fs::Stat {
        rustix::fs::stat(".").expect("stat of the working directory")
    }
}
