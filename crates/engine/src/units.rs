//! systemd units, dropins, masks and the preset file
//! (ignition-semantics.md §6.8).
//!
//! Unit files and dropins are always (re)written, 0644 and owned by the
//! applying process (0:0 as root), as Ignition leaves them. `mask: true`
//! replaces the unit path with a link to `/dev/null`; `mask: false` removes
//! such a link. Presets go to `/etc/systemd/system-preset/20-ignition.preset`,
//! sorted by `"<unit>-enabled|disabled"` as Ignition ≥ 2.15 writes them, but
//! the file is *regenerated* from the config rather than appended to, so a
//! re-run does not duplicate lines. No D-Bus, no `systemctl`: disabling a
//! unit writes the `disable` line and removes its symlinks under
//! `/etc/systemd/system`, and the directories that leaves empty, natively as
//! `systemctl --root R disable` (which Ignition 2.14 runs) does
//! (`units/disable.rs`).

use std::collections::BTreeMap;

use reignite_spec::Systemd;
use reignite_sysutil::WriteOptions;

use crate::context::{ApplyError, Ctx, IoContext};
use crate::manifest::{Origin, RecordKind, UnitRecord};
use crate::root::{is_symlink, split_parent};

mod disable;

/// Where unit files live.
pub const UNITS_DIR: &str = "/etc/systemd/system";
/// The preset file.
pub const PRESET_PATH: &str = "/etc/systemd/system-preset/20-ignition.preset";

/// Writes a small 0644 file owned by us (root) through the journal and
/// records it in the manifest (unit files, drop-ins, the preset file, the kargs file).
pub(crate) fn write_simple(
    ctx: &mut Ctx<'_>,
    path: &str,
    contents: &str,
    origin: Origin,
) -> Result<(), ApplyError> {
    let resolved = ctx.root.resolve(path)?;
    let existed = ctx.root.lstat(&resolved).ok().flatten().is_some();
    if !existed {
        ctx.note_created(&resolved)?;
    }
    let created = !existed || ctx.created_before(&resolved);
    // No chown: Ignition writes these as itself and never changes their
    // owner (0:0 when run as root; an unprivileged run keeps its own ids
    // instead of failing).
    let opts = WriteOptions {
        mode: 0o644,
        owner: None,
        durability: ctx.durability,
    };
    let content = ctx.write_file(&resolved, opts, &mut |w| {
        w.write_all(contents.as_bytes())
            .ctx(|| format!("writing {path}"))
    })?;
    ctx.record(
        &resolved,
        Some(path),
        RecordKind::File,
        origin,
        created,
        Some(content),
    )
}

/// Splits `foo@bar.service` into (`foo@.service`, `bar`).
fn parse_instance(name: &str) -> Result<(String, String), ApplyError> {
    let at = name.find('@').expect("caller checked");
    let dot = name.rfind('.').ok_or_else(|| {
        ApplyError::Conflict(format!("invalid systemd unit name {name:?}: no extension"))
    })?;
    if dot < at {
        return Err(ApplyError::Conflict(format!(
            "invalid instantiated unit name {name:?}"
        )));
    }
    Ok((
        format!("{}{}", &name[..=at], &name[dot..]),
        name[at + 1..dot].to_string(),
    ))
}

struct Preset {
    unit: String,
    enabled: bool,
    instances: Option<Vec<String>>,
}

/// Writes units, dropins, masks and presets.
pub(crate) fn run(ctx: &mut Ctx<'_>, cfg: &Systemd) -> Result<(), ApplyError> {
    let mut presets: BTreeMap<String, Preset> = BTreeMap::new();
    for unit in &cfg.units {
        let mut dropins = Vec::new();
        for d in &unit.dropins {
            if let Some(c) = &d.contents {
                let path = format!("{UNITS_DIR}/{}.d/{}", unit.name, d.name);
                write_simple(ctx, &path, c, Origin::Dropin)?;
                dropins.push(d.name.clone());
                ctx.event("units", path, "written");
            }
        }
        let unit_path = format!("{UNITS_DIR}/{}", unit.name);
        let has_contents = unit.contents.as_deref().is_some_and(|c| !c.is_empty());
        if let Some(c) = unit.contents.as_deref().filter(|c| !c.is_empty()) {
            write_simple(ctx, &unit_path, c, Origin::Unit)?;
            ctx.event("units", unit.name.clone(), "written");
        }
        if let Some(enabled) = unit.enabled {
            let state = if enabled { "enabled" } else { "disabled" };
            if unit.name.contains('@') {
                let (template, instance) = parse_instance(&unit.name)?;
                presets
                    .entry(format!("{template}-{state}"))
                    .or_insert_with(|| Preset {
                        unit: template,
                        enabled,
                        instances: Some(Vec::new()),
                    })
                    .instances
                    .get_or_insert_with(Vec::new)
                    .push(instance);
            } else {
                let key = format!("{}-{state}", unit.name);
                if presets.contains_key(&key) {
                    return Err(ApplyError::Conflict(format!(
                        "{key:?} key is already present in the presets map"
                    )));
                }
                presets.insert(
                    key,
                    Preset {
                        unit: unit.name.clone(),
                        enabled,
                        instances: None,
                    },
                );
            }
        }
        match unit.mask {
            Some(true) => {
                let resolved = ctx.root.resolve(&unit_path)?;
                ctx.commit_point()?;
                if !ctx.journal.created.is_empty() {
                    ctx.note_parents(&resolved, false)?;
                }
                let existed_as_mask = is_dev_null_link(ctx, &resolved)?;
                if !existed_as_mask {
                    let dir = ctx.ensure_parent(&resolved)?;
                    ctx.root
                        .remove_all(&resolved)
                        .ctx(|| format!("removing {unit_path}"))?;
                    let (_, name) = split_parent(&resolved);
                    ctx.note_created(&resolved)?;
                    rustix::fs::symlinkat("/dev/null", &dir, name)
                        .ctx(|| format!("masking unit {}", unit.name))?;
                }
                let created = !existed_as_mask || ctx.created_before(&resolved);
                ctx.record(
                    &resolved,
                    Some(&unit_path),
                    RecordKind::Symlink,
                    Origin::Mask,
                    created,
                    None,
                )?;
                ctx.event("units", unit.name.clone(), "masked");
            }
            Some(false) => {
                let resolved = ctx.root.resolve(&unit_path)?;
                if is_dev_null_link(ctx, &resolved)? {
                    ctx.commit_point()?;
                    ctx.root
                        .remove_all(&resolved)
                        .ctx(|| format!("unmasking unit {}", unit.name))?;
                    ctx.event("units", unit.name.clone(), "unmasked");
                }
            }
            None => {}
        }
        ctx.manifest.units.push(UnitRecord {
            name: unit.name.clone(),
            has_contents,
            dropins,
            enabled: unit.enabled,
            mask: unit.mask,
        });
    }
    if presets.is_empty() {
        return Ok(());
    }
    let mut lines = Vec::new();
    for p in presets.values() {
        let unit = match &p.instances {
            Some(inst) => format!("{} {}", p.unit, inst.join(" ")),
            None => p.unit.clone(),
        };
        if p.enabled {
            lines.push(format!("enable {unit}"));
        } else {
            disable::disable(ctx, &p.unit)?;
            lines.push(format!("disable {unit}"));
        }
    }
    let mut text = lines.join("\n");
    text.push('\n');
    write_simple(ctx, PRESET_PATH, &text, Origin::Preset)?;
    ctx.manifest.preset_lines = lines;
    ctx.event("presets", PRESET_PATH, "written");
    Ok(())
}

fn is_dev_null_link(ctx: &Ctx<'_>, resolved: &str) -> Result<bool, ApplyError> {
    match ctx
        .root
        .lstat(resolved)
        .ctx(|| format!("inspecting {resolved}"))?
    {
        Some(st) if is_symlink(&st) => {
            let (parent, name) = split_parent(resolved);
            let dir = ctx
                .root
                .open_dir(parent)
                .ctx(|| format!("opening {parent}"))?;
            let t = rustix::fs::readlinkat(&dir, name, Vec::new())
                .ctx(|| format!("reading link {resolved}"))?;
            Ok(t.as_bytes() == b"/dev/null")
        }
        _ => Ok(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_names() {
        assert_eq!(
            parse_instance("foo@bar.service").unwrap(),
            ("foo@.service".to_string(), "bar".to_string())
        );
        assert!(parse_instance("foo@bar").is_err());
    }
}
