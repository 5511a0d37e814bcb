//! Unit enablement without systemd's first boot.
//!
//! Ignition only writes a preset file; systemd applies it in its first boot
//! (no `/etc/machine-id`). A `switch`, and a `reset --keep-machine-id`, have no
//! first boot, so reignite applies the presets of the declared units itself,
//! as `systemctl preset` would: for `enabled: true`, a symlink
//! `/etc/systemd/system/<target>.wants/<unit>` for every `WantedBy=` (and
//! `.requires` for `RequiredBy=`) of the unit's `[Install]` section; for
//! `enabled: false`, such links are removed. The links are added to the
//! generation's manifest, so the next transition removes them when the unit
//! is no longer declared.

use std::path::Path;

const UNIT_DIRS: &[&str] = &[
    "etc/systemd/system",
    "usr/lib/systemd/system",
    "lib/systemd/system",
];

/// The unit file for `name` (`foo@bar.service` falls back to `foo@.service`)
/// as (root-relative dir, file name).
fn find_unit(root: &Path, name: &str) -> Option<(&'static str, String)> {
    let template = name.split_once('@').map(|(a, b)| {
        let ext = b.rsplit_once('.').map(|(_, e)| e).unwrap_or("service");
        format!("{a}@.{ext}")
    });
    for d in UNIT_DIRS {
        for n in std::iter::once(name.to_string()).chain(template.clone()) {
            let p = root.join(d).join(&n);
            if std::fs::symlink_metadata(&p).is_ok_and(|m| m.is_file()) {
                return Some((d, n));
            }
        }
    }
    None
}

/// A unit masked in `/etc/systemd/system` (a link to `/dev/null` or an empty
/// file): systemctl ignores enable/disable/preset for it, so do we.
fn is_masked(root: &Path, name: &str) -> bool {
    let p = root.join("etc/systemd/system").join(name);
    match std::fs::symlink_metadata(&p) {
        Ok(m) if m.file_type().is_symlink() => {
            std::fs::read_link(&p).is_ok_and(|t| t == Path::new("/dev/null"))
        }
        Ok(m) => m.is_file() && m.len() == 0,
        Err(_) => false,
    }
}

/// `(WantedBy, RequiredBy)` targets of a unit file's `[Install]` section.
fn install_targets(text: &str) -> Vec<(String, &'static str)> {
    let mut out = Vec::new();
    let mut in_install = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_install = line == "[Install]";
            continue;
        }
        if !in_install {
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            let suffix = match k.trim() {
                "WantedBy" => "wants",
                "RequiredBy" => "requires",
                _ => continue,
            };
            out.extend(v.split_whitespace().map(|t| (t.to_string(), suffix)));
        }
    }
    out
}

/// Applies the enablement of the units in `manifest` (JSON of the engine's
/// manifest) to `root` and records the links it creates in `manifest`.
pub fn apply_enablement(root: &Path, manifest: &mut serde_json::Value) -> std::io::Result<usize> {
    let units: Vec<(String, Option<bool>)> = manifest["units"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|u| Some((u["name"].as_str()?.to_string(), u["enabled"].as_bool())))
        .collect();
    let mut added = Vec::new();
    for (name, enabled) in units {
        let Some(enabled) = enabled else { continue };
        if is_masked(root, &name) {
            continue;
        }
        let Some((dir, file)) = find_unit(root, &name) else {
            continue;
        };
        let text = std::fs::read_to_string(root.join(dir).join(&file)).unwrap_or_default();
        for (target, suffix) in install_targets(&text) {
            let rel_dir = format!("etc/systemd/system/{target}.{suffix}");
            let link = root.join(&rel_dir).join(&name);
            if enabled {
                if std::fs::symlink_metadata(&link).is_ok() {
                    continue;
                }
                if !root.join(&rel_dir).exists() {
                    std::fs::create_dir_all(root.join(&rel_dir))?;
                    added.push(serde_json::json!({
                        "path": format!("/{rel_dir}"), "kind": "directory", "origin": "unit", "created": true,
                        "mode": 0o755, "uid": 0, "gid": 0
                    }));
                }
                let target_path = format!("/{dir}/{file}");
                std::os::unix::fs::symlink(&target_path, &link)?;
                added.push(serde_json::json!({
                    "path": format!("/{rel_dir}/{name}"), "kind": "symlink", "origin": "unit", "created": true,
                    "target": target_path, "mode": 0o777, "uid": 0, "gid": 0
                }));
            } else if std::fs::symlink_metadata(&link).is_ok_and(|m| m.file_type().is_symlink()) {
                std::fs::remove_file(&link)?;
                // As `systemctl disable`: a `.wants`/`.requires` directory the
                // removal leaves empty goes too (fails harmlessly when not empty).
                let _ = std::fs::remove_dir(root.join(&rel_dir));
            }
        }
    }
    let n = added.len();
    if let Some(nodes) = manifest["nodes"].as_array_mut() {
        nodes.extend(added);
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enables_and_disables_like_systemctl_preset() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        std::fs::create_dir_all(r.join("etc/systemd/system")).unwrap();
        std::fs::write(
            r.join("etc/systemd/system/app.service"),
            "[Unit]\n[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\nRequiredBy=x.target y.target\n",
        )
        .unwrap();
        std::fs::create_dir_all(r.join("usr/lib/systemd/system")).unwrap();
        std::fs::write(
            r.join("usr/lib/systemd/system/getty@.service"),
            "[Install]\nWantedBy=getty.target\n",
        )
        .unwrap();
        std::fs::create_dir_all(r.join("etc/systemd/system/old.target.wants")).unwrap();
        std::os::unix::fs::symlink(
            "/x",
            r.join("etc/systemd/system/old.target.wants/off.service"),
        )
        .unwrap();
        std::fs::write(
            r.join("etc/systemd/system/off.service"),
            "[Install]\nWantedBy=old.target\n",
        )
        .unwrap();
        let mut m = serde_json::json!({"nodes": [], "units": [
            {"name": "app.service", "enabled": true},
            {"name": "getty@tty1.service", "enabled": true},
            {"name": "off.service", "enabled": false},
            {"name": "none.service"}
        ]});
        let n = apply_enablement(r, &mut m).unwrap();
        let link = |p: &str| std::fs::read_link(r.join(p)).unwrap().display().to_string();
        assert_eq!(
            link("etc/systemd/system/multi-user.target.wants/app.service"),
            "/etc/systemd/system/app.service"
        );
        assert_eq!(
            link("etc/systemd/system/y.target.requires/app.service"),
            "/etc/systemd/system/app.service"
        );
        assert_eq!(
            link("etc/systemd/system/getty.target.wants/getty@tty1.service"),
            "/usr/lib/systemd/system/getty@.service"
        );
        assert!(
            std::fs::symlink_metadata(r.join("etc/systemd/system/old.target.wants")).is_err(),
            "the disabled link and the .wants directory it leaves empty are gone"
        );
        assert_eq!(n, 8, "4 directories and 4 links recorded");
        assert_eq!(m["nodes"].as_array().unwrap().len(), 8);
        // Idempotent.
        assert_eq!(apply_enablement(r, &mut m).unwrap(), 0);
    }

    #[test]
    fn masked_units_are_left_alone() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        let sys = r.join("etc/systemd/system");
        std::fs::create_dir_all(sys.join("old.target.wants")).unwrap();
        std::fs::create_dir_all(r.join("usr/lib/systemd/system")).unwrap();
        std::fs::write(
            r.join("usr/lib/systemd/system/m.service"),
            "[Install]\nWantedBy=old.target\n",
        )
        .unwrap();
        std::os::unix::fs::symlink("/dev/null", sys.join("m.service")).unwrap();
        std::os::unix::fs::symlink("/x", sys.join("old.target.wants/m.service")).unwrap();
        let mut m = serde_json::json!({"nodes": [], "units": [
            {"name": "m.service", "enabled": false}
        ]});
        assert_eq!(apply_enablement(r, &mut m).unwrap(), 0);
        assert!(std::fs::symlink_metadata(sys.join("old.target.wants/m.service")).is_ok());
        let mut m = serde_json::json!({"nodes": [], "units": [
            {"name": "m.service", "enabled": true}
        ]});
        assert_eq!(apply_enablement(r, &mut m).unwrap(), 0);
    }
}
