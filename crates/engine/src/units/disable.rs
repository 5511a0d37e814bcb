//! What `systemctl --root R disable UNIT` (systemd 252, which Ignition 2.14
//! runs for `enabled: false`) does to `/etc/systemd/system`, natively:
//!
//! * a masked unit (its first unit file in the search path is a link to
//!   `/dev/null` or an empty file) is left alone entirely ("Unit … is
//!   masked, ignoring");
//! * otherwise every symlink with a valid unit name anywhere below
//!   `/etc/systemd/system` is removed when its name is the unit's, or its
//!   name's template is, or its destination (followed inside the root, a
//!   missing tail allowed) is a removed link or has the unit's name;
//!   each removed link's path is marked too and the walk repeats, so links
//!   to removed links go as well (systemd's `remove_marked_symlinks`);
//! * directories a removal leaves empty are removed up to, not including,
//!   `/etc/systemd/system` (`rmdir_parents`).

use std::collections::BTreeSet;

use crate::context::{ApplyError, Ctx, IoContext};
use crate::root::{clean, is_dir, is_file, is_symlink, split_parent};

use super::UNITS_DIR;

/// Where systemd looks for unit files under `--root`, in order.
const SEARCH_PATH: &[&str] = &[
    "/etc/systemd/system.control",
    "/run/systemd/system.control",
    "/run/systemd/transient",
    "/run/systemd/generator.early",
    "/etc/systemd/system",
    "/etc/systemd/system.attached",
    "/run/systemd/system",
    "/run/systemd/system.attached",
    "/run/systemd/generator",
    "/usr/local/lib/systemd/system",
    "/usr/lib/systemd/system",
    "/run/systemd/generator.late",
];

const SUFFIXES: &[&str] = &[
    ".service",
    ".socket",
    ".target",
    ".device",
    ".mount",
    ".automount",
    ".swap",
    ".timer",
    ".path",
    ".slice",
    ".scope",
];

/// systemd's `unit_name_is_valid(name, UNIT_NAME_ANY)`, roughly: a known
/// suffix, a non-empty prefix, only `[A-Za-z0-9:_.\-@\\]`, at most one `@`.
fn valid_unit_name(name: &str) -> bool {
    let Some(suffix) = SUFFIXES.iter().find(|s| name.ends_with(*s)) else {
        return false;
    };
    let prefix = &name[..name.len() - suffix.len()];
    !prefix.is_empty()
        && !prefix.starts_with('@')
        && prefix.matches('@').count() <= 1
        && name.len() <= 255
        && prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ":_.-@\\".contains(c))
}

/// `foo@bar.service` → `foo@.service`.
fn template(name: &str) -> Option<String> {
    let (head, rest) = name.split_once('@')?;
    let dot = rest.rfind('.')?;
    Some(format!("{head}@{}", &rest[dot..]))
}

fn read_link(ctx: &Ctx<'_>, path: &str) -> Result<String, ApplyError> {
    let (parent, name) = split_parent(path);
    let dir = ctx
        .root
        .open_dir(parent)
        .ctx(|| format!("opening {parent}"))?;
    let t =
        rustix::fs::readlinkat(&dir, name, Vec::new()).ctx(|| format!("reading link {path}"))?;
    Ok(t.to_string_lossy().into_owned())
}

/// The in-root path `link` (a symlink, resolved parents) finally points to;
/// a missing component ends the walk (`CHASE_NONEXISTENT`).
fn chase(ctx: &Ctx<'_>, link: &str) -> Result<String, ApplyError> {
    let mut path = link.to_string();
    for _ in 0..40 {
        let Some(st) = ctx.root.lstat(&path).ctx(|| format!("inspecting {path}"))? else {
            return Ok(path);
        };
        if !is_symlink(&st) {
            return Ok(path);
        }
        let target = read_link(ctx, &path)?;
        let next = if target.starts_with('/') {
            target
        } else {
            format!("{}/{target}", split_parent(&path).0)
        };
        path = ctx.root.resolve(&clean(&next))?;
    }
    Ok(path)
}

/// True when the first unit file named `unit` in the search path is a link
/// to `/dev/null` or an empty file.
fn masked(ctx: &Ctx<'_>, unit: &str) -> Result<bool, ApplyError> {
    for dir in SEARCH_PATH {
        let path = ctx.root.resolve(&format!("{dir}/{unit}"))?;
        let Some(st) = ctx.root.lstat(&path).ctx(|| format!("inspecting {path}"))? else {
            continue;
        };
        if is_symlink(&st) {
            let dest = chase(ctx, &path)?;
            return Ok(dest == "/dev/null"
                || ctx
                    .root
                    .stat_follow(&dest)
                    .ok()
                    .flatten()
                    .is_some_and(|st| is_file(&st) && st.st_size == 0));
        }
        return Ok(is_file(&st) && st.st_size == 0);
    }
    Ok(false)
}

/// Disables `unit` as `systemctl disable` does (see the module docs).
pub(crate) fn disable(ctx: &mut Ctx<'_>, unit: &str) -> Result<(), ApplyError> {
    if masked(ctx, unit)? {
        tracing::info!("unit {unit} is masked; disable leaves its links alone");
        return Ok(());
    }
    let top = ctx.root.resolve(UNITS_DIR)?;
    if !ctx
        .root
        .lstat(&top)
        .ok()
        .flatten()
        .is_some_and(|st| is_dir(&st))
    {
        return Ok(());
    }
    let mut marks = BTreeSet::from([unit.to_string()]);
    loop {
        let mut links = Vec::new();
        walk(ctx, &top, &mut links)?;
        let mut restart = false;
        for link in links {
            let name = split_parent(&link).1;
            let found =
                marks.contains(name) || template(name).is_some_and(|t| marks.contains(&t)) || {
                    let dest = chase(ctx, &link)?;
                    marks.contains(&dest) || marks.contains(split_parent(&dest).1)
                };
            if !found {
                continue;
            }
            ctx.commit_point()?;
            ctx.forget_dirs();
            ctx.root
                .remove_all(&link)
                .ctx(|| format!("removing enablement symlink {link}"))?;
            ctx.event("units", link.clone(), "removed");
            rmdir_parents(ctx, &link, &top)?;
            restart |= marks.insert(link);
        }
        if !restart {
            return Ok(());
        }
    }
}

/// Every symlink with a valid unit name below `dir` (symlinks to
/// directories are not descended into).
fn walk(ctx: &Ctx<'_>, dir: &str, out: &mut Vec<String>) -> Result<(), ApplyError> {
    let fd = ctx.root.open_dir(dir).ctx(|| format!("opening {dir}"))?;
    let mut names = Vec::new();
    for e in rustix::fs::Dir::read_from(&fd).ctx(|| format!("reading {dir}"))? {
        let e = e.ctx(|| format!("reading {dir}"))?;
        let n = e.file_name().to_string_lossy().into_owned();
        if n != "." && n != ".." {
            names.push(n);
        }
    }
    names.sort();
    for n in names {
        let path = format!("{}/{n}", dir.trim_end_matches('/'));
        let Some(st) = ctx.root.lstat(&path).ctx(|| format!("inspecting {path}"))? else {
            continue;
        };
        if is_dir(&st) {
            walk(ctx, &path, out)?;
        } else if is_symlink(&st) && valid_unit_name(&n) {
            out.push(path);
        }
    }
    Ok(())
}

/// Removes the directories above `path` that are now empty, up to `top`.
fn rmdir_parents(ctx: &mut Ctx<'_>, path: &str, top: &str) -> Result<(), ApplyError> {
    let mut dir = split_parent(path).0.to_string();
    while dir.len() > top.len() && dir.starts_with(top) {
        let (parent, name) = split_parent(&dir);
        let pfd = ctx
            .root
            .open_dir(parent)
            .ctx(|| format!("opening {parent}"))?;
        match rustix::fs::unlinkat(&pfd, name, rustix::fs::AtFlags::REMOVEDIR) {
            Ok(()) => ctx.event("units", dir.clone(), "removed"),
            Err(rustix::io::Errno::NOTEMPTY)
            | Err(rustix::io::Errno::EXIST)
            | Err(rustix::io::Errno::NOENT) => return Ok(()),
            Err(e) => return Err(e).ctx(|| format!("removing empty directory {dir}")),
        }
        dir = parent.to_string();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_names() {
        assert!(valid_unit_name("foo.service"));
        assert!(valid_unit_name("foo@bar.service"));
        assert!(valid_unit_name("multi-user.target"));
        assert!(!valid_unit_name("foo"));
        assert!(!valid_unit_name(".service"));
        assert!(!valid_unit_name("a@b@c.service"));
        assert_eq!(template("foo@bar.service").as_deref(), Some("foo@.service"));
        assert_eq!(template("foo.service"), None);
    }
}
