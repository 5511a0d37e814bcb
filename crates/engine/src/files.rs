//! The filesystem nodes of the files stage: `storage.directories`, `files` and
//! `links`, with Ignition's ordering and its rules for existing nodes
//! (ignition-semantics.md §6.4–§6.7).
//!
//! Ordering: directories, files and symlinks are stable-sorted by the depth of
//! their resolved path (config order breaks ties, unlike Go's unstable sort);
//! hard links follow in config order. Every content write goes to a temporary
//! file next to the target and is renamed into place (a file whose path is
//! absent: an unnamed `O_TMPFILE`, linked in), so a failed fetch or hash
//! check leaves nothing at the target path. Appends to an existing file are
//! done in place on its inode, as Ignition does, so hard links keep sharing
//! it; `crate::append` explains how they stay crash-safe and happen once.
//!
//! Idempotency: a file whose current contents equal what an interrupted
//! earlier attempt of this apply intended (journal) is reignite's own and is
//! not rewritten; every other existing node gets Ignition's rules and errors.

use std::collections::HashMap;
use std::io::Write;

use reignite_spec::{Config, Directory, File, Link, Node, Resource};
use reignite_sysutil::WriteOptions;

use crate::context::{describe_source, sha256_of, ApplyError, Ctx, IoContext};
use crate::manifest::{Origin, RecordKind};
use crate::passwd::lookup_ids;
use crate::root::{clean, depth, is_dir, is_file, is_symlink, split_parent};

enum Entry<'c> {
    Dir(&'c Directory),
    File(&'c File),
    Link(&'c Link),
}

impl Entry<'_> {
    fn node(&self) -> &Node {
        match self {
            Entry::Dir(d) => &d.node,
            Entry::File(f) => &f.node,
            Entry::Link(l) => &l.node,
        }
    }
    fn noun(&self) -> &'static str {
        match self {
            Entry::Dir(_) => "directory",
            Entry::File(_) => "file",
            Entry::Link(_) => "link",
        }
    }
}

/// Cleans a path the way Go's `filepath.Clean` does, for relative paths too.
fn go_clean(p: &str) -> String {
    if p.starts_with('/') {
        return clean(p);
    }
    let mut out: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if out.last().is_some_and(|l| *l != "..") {
                    out.pop();
                } else {
                    out.push("..");
                }
            }
            c => out.push(c),
        }
    }
    if out.is_empty() {
        ".".into()
    } else {
        out.join("/")
    }
}

/// Creates every node of `cfg`, in Ignition's order.
pub(crate) fn run(ctx: &mut Ctx<'_>, cfg: &Config) -> Result<(), ApplyError> {
    let mut seen: HashMap<String, String> = HashMap::new();
    let mut ordered: Vec<(usize, String, Entry<'_>)> = Vec::new();
    let mut hard: Vec<(String, Entry<'_>)> = Vec::new();
    let all = cfg
        .storage
        .directories
        .iter()
        .map(Entry::Dir)
        .chain(cfg.storage.files.iter().map(Entry::File))
        .chain(cfg.storage.links.iter().map(Entry::Link));
    // Nothing is written while the entries are resolved, so lookups of shared
    // parent directories are done once.
    let mut cache = crate::root::ResolveCache::default();
    for e in all {
        let path = &e.node().path;
        let resolved = ctx.root.resolve_cached(path, &mut cache)?;
        if let Some(other) = seen.get(&resolved) {
            return Err(ApplyError::Conflict(format!(
                "{} at {path} resolved to {resolved} after symlink chasing, but another entry with path {other} also resolves there",
                e.noun()
            )));
        }
        seen.insert(resolved.clone(), path.clone());
        match e {
            Entry::Link(l) if l.hard == Some(true) => hard.push((resolved, e)),
            e => ordered.push((depth(&resolved), resolved, e)),
        }
    }
    drop(cache);
    ordered.sort_by_key(|(d, _, _)| *d);
    ctx.cache_dirs(true);
    let r = create_all(ctx, ordered, hard);
    ctx.cache_dirs(false);
    r
}

/// Creates the sorted nodes, then the hard links.
fn create_all(
    ctx: &mut Ctx<'_>,
    ordered: Vec<(usize, String, Entry<'_>)>,
    hard: Vec<(String, Entry<'_>)>,
) -> Result<(), ApplyError> {
    let all: Vec<(String, Entry<'_>)> = ordered
        .into_iter()
        .map(|(_, r, e)| (r, e))
        .chain(hard)
        .collect();
    for (i, (resolved, e)) in all.iter().enumerate() {
        if i % crate::ahead::WINDOW == 0 {
            let window = all[i..].iter().take(crate::ahead::WINDOW);
            crate::ahead::announce(
                ctx,
                window.filter_map(|(r, e)| match e {
                    Entry::File(f) => Some((r.as_str(), *f)),
                    _ => None,
                }),
            )?;
        }
        let resolved = resolved.as_str();
        if e.node().overwrite == Some(true) {
            ctx.commit_point()?;
            ctx.forget_dirs();
            ctx.root
                .remove_all(resolved)
                .ctx(|| format!("error removing existing file {}", e.node().path))?;
        }
        match e {
            Entry::Dir(d) => directory(ctx, d, resolved)?,
            Entry::File(f) => file(ctx, f, resolved)?,
            Entry::Link(l) if l.hard == Some(true) => hard_link(ctx, l, resolved)?,
            Entry::Link(l) => symlink(ctx, l, resolved)?,
        }
    }
    Ok(())
}

/// lchown, then chmod when a mode is given (chown first so the kernel does
/// not clear setuid/setgid bits afterwards).
fn set_permissions(
    ctx: &mut Ctx<'_>,
    node: &Node,
    resolved: &str,
    mode: Option<i64>,
    default_owner: (u32, u32),
) -> Result<(), ApplyError> {
    let (uid, gid) = lookup_ids(ctx, &node.path, &node.user, &node.group, default_owner)?;
    let (parent, name) = split_parent(resolved);
    let dir = ctx
        .root
        .open_dir(parent)
        .ctx(|| format!("opening {parent}"))?;
    let target = if name.is_empty() { "." } else { name };
    rustix::fs::chownat(
        &dir,
        target,
        Some(rustix::fs::Uid::from_raw(uid)),
        Some(rustix::fs::Gid::from_raw(gid)),
        rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
    )
    .ctx(|| format!("failed to change ownership of {}", node.path))?;
    if let Some(m) = mode {
        rustix::fs::chmodat(
            &dir,
            target,
            rustix::fs::Mode::from_raw_mode(m as u32 & 0o7777),
            rustix::fs::AtFlags::empty(),
        )
        .ctx(|| format!("failed to change mode of {}", node.path))?;
    }
    Ok(())
}

/// The owner Ignition defaults to: that of the node, following a final
/// symlink (inside the root), or 0:0.
fn default_owner(ctx: &Ctx<'_>, resolved: &str) -> (u32, u32) {
    ctx.root
        .stat_follow(resolved)
        .ok()
        .flatten()
        .map(|st| (st.st_uid, st.st_gid))
        .unwrap_or((0, 0))
}

fn directory(ctx: &mut Ctx<'_>, d: &Directory, resolved: &str) -> Result<(), ApplyError> {
    if !ctx.journal.created.is_empty() {
        ctx.note_parents(resolved, false)?;
    }
    let path = &d.node.path;
    let st = ctx
        .root
        .lstat(resolved)
        .ctx(|| format!("stat() failed on {path}"))?;
    let created = match st {
        None => {
            ctx.commit_point()?;
            ctx.ensure_dir(resolved)?;
            // ensure_dir recorded it as a parent; it is declared.
            if let Some(last) = ctx.manifest.nodes.last() {
                if last.path == resolved {
                    ctx.manifest.nodes.pop();
                }
            }
            true
        }
        Some(st) if is_dir(&st) => {
            if !ctx.journal.created.is_empty() {
                ctx.note_parents(resolved, false)?;
            }
            ctx.recorded_parents.insert(resolved.to_string());
            ctx.created_before(resolved)
        }
        Some(_) => {
            return Err(ApplyError::Conflict(format!(
                "error creating directory {path}: A non-directory already exists and overwrite is false"
            )))
        }
    };
    let owner = default_owner(ctx, resolved);
    set_permissions(ctx, &d.node, resolved, d.mode, owner)?;
    ctx.record(
        resolved,
        Some(path),
        RecordKind::Directory,
        Origin::Declared,
        created,
        None,
    )?;
    ctx.event(
        "files",
        path.clone(),
        if created { "created" } else { "permissions" },
    );
    Ok(())
}

fn file(ctx: &mut Ctx<'_>, f: &File, resolved: &str) -> Result<(), ApplyError> {
    if !ctx.journal.created.is_empty() {
        ctx.note_parents(resolved, false)?;
    }
    let path = &f.node.path;
    if ctx.prepared.contains_key(resolved) {
        // Announced ahead, so found absent then and still absent now.
        return new_file(ctx, f, resolved);
    }
    let st = ctx
        .lstat(resolved)
        .ctx(|| format!("stat() failed on {path}"))?;
    let has_source = f.contents.source.is_some();
    // Is the existing file what an interrupted earlier attempt wrote?
    let ours = match (&st, ctx.journal.intents.get(resolved)) {
        (Some(st), Some(intended)) if is_file(st) => {
            current_sha(ctx, resolved)?.is_some_and(|h| &h == intended)
        }
        _ => false,
    };
    if ours {
        let owner = default_owner(ctx, resolved);
        set_permissions(ctx, &f.node, resolved, f.mode, owner)?;
        let content = current_content(ctx, resolved)?;
        let created = ctx.created_before(resolved);
        ctx.record(
            resolved,
            Some(path),
            RecordKind::File,
            Origin::Declared,
            created,
            content,
        )?;
        ctx.event("files", path.clone(), "unchanged");
        return Ok(());
    }
    let existing_regular = match &st {
        None => false,
        Some(st) if !is_file(st) => {
            return Err(ApplyError::Conflict(format!(
                "error creating file {path:?}: A non regular file exists there already and overwrite is false"
            )))
        }
        Some(_) if has_source => {
            return Err(ApplyError::Conflict(format!(
                "error creating file {path:?}: A file exists there already and overwrite is false"
            )))
        }
        Some(_) => true,
    };
    if existing_regular && f.append.is_empty() {
        // Only ownership and mode apply.
        let owner = default_owner(ctx, resolved);
        set_permissions(ctx, &f.node, resolved, f.mode, owner)?;
        let content = current_content(ctx, resolved)?;
        ctx.record(
            resolved,
            Some(path),
            RecordKind::File,
            Origin::Declared,
            false,
            content,
        )?;
        ctx.event("files", path.clone(), "permissions");
        return Ok(());
    }
    if let (Some(st), true) = (&st, existing_regular) {
        return crate::append::append_in_place(ctx, f, resolved, st);
    }
    new_file(ctx, f, resolved)
}

/// Creates the file at `resolved`, which is absent.
fn new_file(ctx: &mut Ctx<'_>, f: &File, resolved: &str) -> Result<(), ApplyError> {
    let path = &f.node.path;
    // A new file: 0644 unless the config says otherwise; the owner the
    // config names, else the one it gets by being created — as Ignition,
    // which chowns a new file to its own owner by default (0:0 as root; the
    // user's ids when not root, so no chown is needed, and the directory's
    // group below a setgid directory).
    let declared = f.node.user.id.is_some()
        || f.node.user.name.as_deref().is_some_and(|n| !n.is_empty())
        || f.node.group.id.is_some()
        || f.node.group.name.as_deref().is_some_and(|n| !n.is_empty());
    let owner = if declared {
        let me = (
            rustix::process::geteuid().as_raw(),
            rustix::process::getegid().as_raw(),
        );
        Some(lookup_ids(ctx, path, &f.node.user, &f.node.group, me)?)
    } else {
        None
    };
    let mode = f.mode.map(|m| m as u32 & 0o7777).unwrap_or(0o644);
    let opts = WriteOptions {
        mode,
        owner,
        durability: ctx.durability,
    };
    if let Some(p) = ctx.prepared.remove(resolved) {
        // Announced ahead (`crate::ahead`).
        let content = ctx.write_prepared_file(resolved, opts, &p)?;
        ctx.record(
            resolved,
            Some(path),
            RecordKind::File,
            Origin::Declared,
            true,
            Some(content),
        )?;
        ctx.event("files", path.clone(), "created");
        return Ok(());
    }
    ctx.note_created_for_write(resolved);
    let contents = &f.contents;
    let appends = &f.append;
    // The fetcher is borrowed inside the closure; Ctx is borrowed mutably by
    // write_new_file, so take what the closure needs up front.
    let fetcher = ctx.fetcher;
    let mut fill = |w: &mut dyn Write| {
        if contents.source.is_some() {
            fetch_with(fetcher, path, contents, w)?;
        }
        for a in appends {
            fetch_with(fetcher, path, a, w)?;
        }
        Ok(())
    };
    let content = ctx.write_new_file(resolved, opts, &mut fill)?;
    ctx.record(
        resolved,
        Some(path),
        RecordKind::File,
        Origin::Declared,
        true,
        Some(content),
    )?;
    ctx.event("files", path.clone(), "created");
    Ok(())
}

pub(crate) fn fetch_with(
    fetcher: &dyn crate::context::Fetch,
    path: &str,
    r: &Resource,
    w: &mut dyn Write,
) -> Result<(), ApplyError> {
    if r.source.as_deref() == Some("") && r.verification.hash.is_none() {
        return Ok(());
    }
    fetcher
        .fetch_into(r, w)
        .map(|_| ())
        .map_err(|error| ApplyError::Fetch {
            path: path.to_string(),
            source_url: describe_source(r),
            error,
        })
}

fn open_regular(ctx: &Ctx<'_>, resolved: &str) -> Result<Option<std::fs::File>, ApplyError> {
    let (parent, name) = split_parent(resolved);
    let dir = ctx
        .root
        .open_dir(parent)
        .ctx(|| format!("opening {parent}"))?;
    match rustix::fs::openat(
        &dir,
        name,
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    ) {
        Ok(fd) => Ok(Some(std::fs::File::from(fd))),
        Err(rustix::io::Errno::NOENT) => Ok(None),
        Err(e) => Err(e).ctx(|| format!("opening {resolved}")),
    }
}

fn current_content(ctx: &Ctx<'_>, resolved: &str) -> Result<Option<(String, u64)>, ApplyError> {
    match open_regular(ctx, resolved)? {
        Some(f) => Ok(Some(sha256_of(f).ctx(|| format!("reading {resolved}"))?)),
        None => Ok(None),
    }
}

fn current_sha(ctx: &Ctx<'_>, resolved: &str) -> Result<Option<String>, ApplyError> {
    Ok(current_content(ctx, resolved)?.map(|(h, _)| h))
}

fn symlink(ctx: &mut Ctx<'_>, l: &Link, resolved: &str) -> Result<(), ApplyError> {
    if !ctx.journal.created.is_empty() {
        ctx.note_parents(resolved, false)?;
    }
    let path = &l.node.path;
    let target = l.target.clone().unwrap_or_default();
    let st = ctx
        .root
        .lstat(resolved)
        .ctx(|| format!("stat() failed on {path}"))?;
    if let Some(st) = st {
        if !is_symlink(&st) {
            return Err(ApplyError::Conflict(format!(
                "error creating symlink {path}: a non-symlink already exists at that path and overwrite is false"
            )));
        }
        let (parent, name) = split_parent(resolved);
        let dir = ctx
            .root
            .open_dir(parent)
            .ctx(|| format!("opening {parent}"))?;
        let existing = rustix::fs::readlinkat(&dir, name, Vec::new())
            .ctx(|| format!("error reading link at {path}"))?
            .to_string_lossy()
            .into_owned();
        if go_clean(&existing) != go_clean(&target) {
            return Err(ApplyError::Conflict(format!(
                "error creating symlink {path}: a symlink exists at that path but points to {existing}, not {target} and overwrite is false"
            )));
        }
        // Ignition does nothing here, not even chown.
        let created = ctx.created_before(resolved);
        ctx.record(
            resolved,
            Some(path),
            RecordKind::Symlink,
            Origin::Declared,
            created,
            None,
        )?;
        ctx.event("files", path.clone(), "unchanged");
        return Ok(());
    }
    let dir = ctx.parent_dir(resolved)?;
    ctx.commit_point()?;
    ctx.note_created(resolved)?;
    let (_, name) = split_parent(resolved);
    rustix::fs::symlinkat(target.as_str(), &*dir, name)
        .ctx(|| format!("failed to create link {path:?}: could not create symlink"))?;
    let owner = default_owner(ctx, resolved);
    set_permissions(ctx, &l.node, resolved, None, owner)?;
    ctx.record(
        resolved,
        Some(path),
        RecordKind::Symlink,
        Origin::Declared,
        true,
        None,
    )?;
    ctx.event("files", path.clone(), "created");
    Ok(())
}

fn hard_link(ctx: &mut Ctx<'_>, l: &Link, resolved: &str) -> Result<(), ApplyError> {
    if !ctx.journal.created.is_empty() {
        ctx.note_parents(resolved, false)?;
    }
    let path = &l.node.path;
    let target = l.target.clone().unwrap_or_default();
    // Ignition joins even a relative target to the root (§6.7).
    let target_r = ctx.root.resolve(&format!("/{target}"))?;
    let target_st = ctx
        .root
        .lstat(&target_r)
        .ctx(|| format!("stat() failed on {target}"))?;
    let st = ctx
        .root
        .lstat(resolved)
        .ctx(|| format!("stat() failed on {path}"))?;
    if let Some(st) = st {
        let Some(tst) = target_st else {
            return Err(ApplyError::Conflict(format!(
                "error creating hard link {path}: target does not exist or stat() returned an err"
            )));
        };
        if (st.st_dev, st.st_ino) != (tst.st_dev, tst.st_ino) {
            return Err(ApplyError::Conflict(format!(
                "error creating hard link {path}: a file already exists at that path but is not the target and overwrite is false"
            )));
        }
        let created = ctx.created_before(resolved);
        record_hard(ctx, resolved, path, &target_r, created)?;
        ctx.event("files", path.clone(), "unchanged");
        return Ok(());
    }
    let dir = ctx.ensure_parent(resolved)?;
    let (tparent, tname) = split_parent(&target_r);
    let tdir = ctx
        .root
        .open_dir(tparent)
        .ctx(|| format!("failed to create link {path:?}: opening {tparent}"))?;
    ctx.commit_point()?;
    ctx.note_created(resolved)?;
    let (_, name) = split_parent(resolved);
    rustix::fs::linkat(&tdir, tname, &dir, name, rustix::fs::AtFlags::empty())
        .ctx(|| format!("failed to create link {path:?}"))?;
    record_hard(ctx, resolved, path, &target_r, true)?;
    ctx.event("files", path.clone(), "created");
    Ok(())
}

fn record_hard(
    ctx: &mut Ctx<'_>,
    resolved: &str,
    path: &str,
    target: &str,
    created: bool,
) -> Result<(), ApplyError> {
    let content = match ctx.root.lstat(resolved).ok().flatten() {
        Some(st) if is_file(&st) => current_content(ctx, resolved)?,
        _ => None,
    };
    ctx.record(
        resolved,
        Some(path),
        RecordKind::HardLink,
        Origin::Declared,
        created,
        content,
    )?;
    if let Some(last) = ctx.manifest.nodes.last_mut() {
        last.target = Some(target.to_string());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_clean_relative() {
        assert_eq!(go_clean("a/../b"), "b");
        assert_eq!(go_clean("../x/./y/"), "../x/y");
        assert_eq!(go_clean("/a//b/"), "/a/b");
        assert_eq!(go_clean(""), ".");
    }
}
