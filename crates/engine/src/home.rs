//! Home directories as `useradd --create-home` makes them: parents 0755
//! root-owned, the home itself with `HOME_MODE` (or `0777 & ~UMASK`) owned by
//! the user and their primary group, and a complete copy of the skeleton
//! (`SKEL`, default `/etc/skel`) with modes kept and everything owned by the
//! user. An existing home is left alone (useradd copies nothing then),
//! unless an interrupted earlier attempt of this apply created it, in which
//! case the copy is completed.

use std::os::fd::AsFd;

use reignite_sysutil::WriteOptions;

use crate::accounts::Defs;
use crate::context::{ApplyError, Ctx, IoContext};
use crate::manifest::{Origin, RecordKind};
use crate::root::{is_dir, is_file, is_symlink, split_parent};

/// Creates a home directory with a copy of the skeleton (useradd -m).
/// Returns false when it already existed (useradd then copies nothing),
/// unless an interrupted earlier attempt created it.
pub(crate) fn create_home(
    ctx: &mut Ctx<'_>,
    defs: &Defs,
    home: &str,
    uid: u32,
    gid: u32,
) -> Result<bool, ApplyError> {
    let resolved = ctx.root.resolve(home)?;
    let key = format!("home:{resolved}");
    let existed = ctx
        .root
        .lstat(&resolved)
        .ctx(|| format!("inspecting {home}"))?;
    if existed.is_some() && !ctx.created_before(&key) {
        tracing::warn!("home directory {home} already exists; not copying the skeleton");
        return Ok(false);
    }
    ctx.commit_point()?;
    let umask = defs.num("UMASK", 0o22) as u32;
    let mode = defs.num("HOME_MODE", i64::from(0o777 & !umask)) as u32 & 0o7777;
    ctx.note_created(&key)?;
    let parent_fd = ctx.ensure_parent(&resolved)?;
    let (_, name) = split_parent(&resolved);
    match rustix::fs::mkdirat(&parent_fd, name, rustix::fs::Mode::from_raw_mode(0o700)) {
        Ok(()) | Err(rustix::io::Errno::EXIST) => {}
        Err(e) => return Err(e).ctx(|| format!("creating home directory {home}")),
    }
    let skel = defs.useradd("SKEL").unwrap_or("/etc/skel").to_string();
    copy_skel(ctx, &skel, &resolved, uid, gid)?;
    let fd = ctx
        .root
        .open_dir(&resolved)
        .ctx(|| format!("opening {home}"))?;
    rustix::fs::fchown(
        &fd,
        Some(rustix::fs::Uid::from_raw(uid)),
        Some(rustix::fs::Gid::from_raw(gid)),
    )
    .ctx(|| format!("changing owner of {home}"))?;
    rustix::fs::fchmod(&fd, rustix::fs::Mode::from_raw_mode(mode))
        .ctx(|| format!("changing mode of {home}"))?;
    ctx.record(
        &resolved,
        Some(home),
        RecordKind::Directory,
        Origin::Home,
        true,
        None,
    )?;
    Ok(true)
}

/// Copies the skeleton directory `skel` (inside the root) into `dest`,
/// recursively, owned by uid:gid, keeping modes and symlink targets.
fn copy_skel(
    ctx: &mut Ctx<'_>,
    skel: &str,
    dest: &str,
    uid: u32,
    gid: u32,
) -> Result<(), ApplyError> {
    let skel_r = ctx.root.resolve(skel)?;
    let src = match ctx.root.open_dir(&skel_r) {
        Ok(fd) => fd,
        Err(_) => return Ok(()),
    };
    let mut names = Vec::new();
    let it = rustix::fs::Dir::read_from(&src).ctx(|| format!("reading {skel}"))?;
    for e in it {
        let e = e.ctx(|| format!("reading {skel}"))?;
        let n = e.file_name().to_string_lossy().into_owned();
        if n != "." && n != ".." {
            names.push(n);
        }
    }
    names.sort();
    let dest_fd = ctx.root.open_dir(dest).ctx(|| format!("opening {dest}"))?;
    let owner = Some((uid, gid));
    for n in names {
        let Some(st) =
            crate::root::lstat_at(src.as_fd(), &n).ctx(|| format!("inspecting {skel}/{n}"))?
        else {
            continue;
        };
        let target = format!("{}/{n}", dest.trim_end_matches('/'));
        if let Some(existing) =
            crate::root::lstat_at(dest_fd.as_fd(), &n).ctx(|| format!("inspecting {target}"))?
        {
            // Copied by an interrupted earlier attempt (the caller only
            // copies into a home this apply created): record, and complete
            // subdirectories.
            if is_dir(&existing) && is_dir(&st) {
                copy_skel(
                    ctx,
                    &format!("{}/{n}", skel_r.trim_end_matches('/')),
                    &target,
                    uid,
                    gid,
                )?;
                ctx.record(
                    &target,
                    None,
                    RecordKind::Directory,
                    Origin::Home,
                    true,
                    None,
                )?;
            } else if is_symlink(&existing) {
                ctx.record(&target, None, RecordKind::Symlink, Origin::Home, true, None)?;
            } else if is_file(&existing) {
                let fd = rustix::fs::openat(
                    &dest_fd,
                    n.as_str(),
                    rustix::fs::OFlags::RDONLY
                        | rustix::fs::OFlags::NOFOLLOW
                        | rustix::fs::OFlags::CLOEXEC,
                    rustix::fs::Mode::empty(),
                )
                .ctx(|| format!("opening {target}"))?;
                let content = crate::context::sha256_of(std::fs::File::from(fd))
                    .ctx(|| format!("reading {target}"))?;
                ctx.record(
                    &target,
                    None,
                    RecordKind::File,
                    Origin::Home,
                    true,
                    Some(content),
                )?;
            }
            continue;
        }
        let mode = st.st_mode & 0o7777;
        if is_dir(&st) {
            rustix::fs::mkdirat(&dest_fd, n.as_str(), rustix::fs::Mode::from_raw_mode(0o700))
                .ctx(|| format!("creating {target}"))?;
            rustix::fs::chownat(
                &dest_fd,
                n.as_str(),
                Some(rustix::fs::Uid::from_raw(uid)),
                Some(rustix::fs::Gid::from_raw(gid)),
                rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
            )
            .ctx(|| format!("changing owner of {target}"))?;
            rustix::fs::chmodat(
                &dest_fd,
                n.as_str(),
                rustix::fs::Mode::from_raw_mode(mode),
                rustix::fs::AtFlags::empty(),
            )
            .ctx(|| format!("changing mode of {target}"))?;
            copy_skel(
                ctx,
                &format!("{}/{n}", skel_r.trim_end_matches('/')),
                &target,
                uid,
                gid,
            )?;
            ctx.record(
                &target,
                None,
                RecordKind::Directory,
                Origin::Home,
                true,
                None,
            )?;
        } else if is_symlink(&st) {
            let t = rustix::fs::readlinkat(&src, n.as_str(), Vec::new())
                .ctx(|| format!("reading link {skel}/{n}"))?;
            rustix::fs::symlinkat(t.as_c_str(), &dest_fd, n.as_str())
                .ctx(|| format!("creating link {target}"))?;
            rustix::fs::chownat(
                &dest_fd,
                n.as_str(),
                Some(rustix::fs::Uid::from_raw(uid)),
                Some(rustix::fs::Gid::from_raw(gid)),
                rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
            )
            .ctx(|| format!("changing owner of {target}"))?;
            ctx.record(&target, None, RecordKind::Symlink, Origin::Home, true, None)?;
        } else if is_file(&st) {
            let sfd = rustix::fs::openat(
                &src,
                n.as_str(),
                rustix::fs::OFlags::RDONLY
                    | rustix::fs::OFlags::NOFOLLOW
                    | rustix::fs::OFlags::CLOEXEC,
                rustix::fs::Mode::empty(),
            )
            .ctx(|| format!("opening {skel}/{n}"))?;
            let mut sfile = std::fs::File::from(sfd);
            let opts = WriteOptions {
                mode,
                owner,
                durability: ctx.durability,
            };
            let content = ctx.write_file(&target, opts, &mut |w| {
                std::io::copy(&mut sfile, w)
                    .map(|_| ())
                    .ctx(|| format!("copying {skel}/{n}"))
            })?;
            ctx.record(
                &target,
                None,
                RecordKind::File,
                Origin::Home,
                true,
                Some(content),
            )?;
        }
    }
    Ok(())
}
