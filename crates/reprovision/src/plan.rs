//! Plans and drift reports: what a reset would do, with a reason for every
//! change, and what exists on a root that no generation declared.
//!
//! Plan JSON schema (format 1; documented in `docs/plan.md`):
//! `{format, kind:"reset"|"switch", root-generation, config-sha256, keep:[{text,syntax,origin}],
//!   changes:[{action, reason, path, kind?, bytes?, entries?}], data-no-longer-kept:[path],
//!   warnings:[..], owner-changes?:[{kind, name, old, new, paths}], unit-actions?:{stop, preset, changed}, summary:{create, remove, keep, remove-bytes, remove-entries}, hash}`
//! where `action` is `create`, `update`, `remove` or `keep` and `reason` one
//! of `declared`, `declared content differs`, `modified since generation N`,
//! `rewritten (unchanged)`, `leftover of generation N`, `undeclared`,
//! `keep: pattern P`, `data no longer kept`. Only paths, names and sizes appear: never file
//! contents or password hashes.

mod switch_plan;

pub use switch_plan::switch_plan;

use std::collections::HashSet;
use std::path::Path;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::boot::{config_keep_patterns, data_no_longer_kept, BootError};
use crate::generations::Store;
use crate::keep::{KeepPattern, KeepSet, Syntax};
use crate::scan::{self, EntryKind};

/// One change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Change {
    /// `create`, `remove`, `keep`.
    pub action: &'static str,
    /// Why.
    pub reason: String,
    /// Absolute path inside the root, or `unit:NAME`, `user:NAME`, `group:NAME`.
    pub path: String,
    /// Node kind for filesystem entries.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<EntryKind>,
    /// Bytes in the subtree (removals).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    /// Entries in the subtree (removals).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entries: Option<u64>,
}

/// Counts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Summary {
    /// Creations.
    pub create: usize,
    /// Updates (switch plans).
    pub update: usize,
    /// Removed subtrees.
    pub remove: usize,
    /// Kept paths.
    pub keep: usize,
    /// Bytes removed.
    pub remove_bytes: u64,
    /// Entries removed.
    pub remove_entries: u64,
}

/// A reset plan.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Plan {
    /// Format version (1).
    pub format: u32,
    /// `reset`.
    pub kind: &'static str,
    /// The current generation.
    pub root_generation: Option<u64>,
    /// sha256 of the new canonical config.
    pub config_sha256: String,
    /// The keep-set in force.
    pub keep: Vec<KeepPattern>,
    /// Every change.
    pub changes: Vec<Change>,
    /// Paths the previous generation kept that the new keep-set drops.
    pub data_no_longer_kept: Vec<String>,
    /// Warnings (unmatched patterns...).
    pub warnings: Vec<String>,
    /// Accounts the new config gives another explicit uid/gid, with the kept
    /// entries they own (switch and reset refuse these without
    /// `--remap-owners` or `--keep-owner-ids`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub owner_changes: Vec<crate::owners::IdChange>,
    /// Switch plans: what a switch on a live `/` with systemd does to units
    /// (stop, preset; `changed` are restarted with `--restart-units`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit_actions: Option<crate::systemd::UnitActions>,
    /// Counts.
    pub summary: Summary,
    /// sha256 over everything above.
    pub hash: String,
}

fn manifest_paths(store: &Store, generation: Option<u64>) -> Vec<(String, serde_json::Value)> {
    let Some(g) = generation else {
        return Vec::new();
    };
    let Ok(m) = store.manifest::<serde_json::Value>(g) else {
        return Vec::new();
    };
    m["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| Some((n["path"].as_str()?.to_string(), n.clone())))
        .collect()
}

/// Builds the plan of a reset of `root` to `canonical` with extra keep
/// patterns (`--keep`, `-K`).
pub fn reset_plan(
    root: &Path,
    canonical: &[u8],
    extra_keep: &[KeepPattern],
    keep_machine_id: bool,
) -> Result<Plan, BootError> {
    let store = Store::new(root);
    let cur = store.state()?.current;
    let mut patterns = config_keep_patterns(canonical)?;
    patterns.extend(extra_keep.iter().cloned());
    if keep_machine_id {
        patterns.push(KeepPattern::parse(
            "regex:/etc/machine-id",
            "--keep-machine-id",
        )?);
    }
    let keep = KeepSet::new(patterns)?;
    let mut sc = scan::scan(root, &keep)?;
    if !keep_machine_id {
        if let Some(i) = sc.kept.iter().position(|k| k.path == "etc/machine-id") {
            sc.kept.remove(i);
            sc.removals.push(scan::Removal {
                path: "etc/machine-id".into(),
                kind: EntryKind::File,
            });
        }
    }
    let created: HashSet<String> = manifest_paths(&store, cur)
        .into_iter()
        .filter(|(_, n)| n["created"].as_bool().unwrap_or(true))
        .map(|(p, _)| p)
        .collect();
    let mut changes = Vec::new();
    let mut summary = Summary::default();
    for r in &sc.removals {
        let abs = format!("/{}", r.path);
        let inside = format!("{abs}/");
        let reason = match (
            created.contains(&abs),
            created.iter().any(|c| c.starts_with(&inside)),
            cur,
        ) {
            (true, _, Some(g)) => format!("leftover of generation {g}"),
            (false, true, Some(g)) => {
                format!("leftover of generation {g} (with undeclared content)")
            }
            _ => "undeclared".to_string(),
        };
        let (bytes, entries) = scan::du(&root.join(&r.path));
        summary.remove += 1;
        summary.remove_bytes += bytes;
        summary.remove_entries += entries;
        changes.push(Change {
            action: "remove",
            reason,
            path: abs,
            kind: Some(r.kind),
            bytes: Some(bytes),
            entries: Some(entries),
        });
    }
    for k in &sc.kept {
        let p = &keep.patterns()[k.pattern];
        summary.keep += 1;
        changes.push(Change {
            action: "keep",
            reason: format!("keep: pattern {} ({})", p.text, p.origin),
            path: format!("/{}", k.path),
            kind: None,
            bytes: None,
            entries: None,
        });
    }
    let v: serde_json::Value =
        serde_json::from_slice(canonical).map_err(|e| BootError::InvalidConfig(e.to_string()))?;
    let mut declared = |prefix: &str, items: &serde_json::Value, key: &str| {
        for it in items.as_array().into_iter().flatten() {
            if let Some(n) = it[key].as_str() {
                summary.create += 1;
                changes.push(Change {
                    action: "create",
                    reason: "declared".into(),
                    path: format!("{prefix}{n}"),
                    kind: None,
                    bytes: None,
                    entries: None,
                });
            }
        }
    };
    declared("", &v["storage"]["directories"], "path");
    declared("", &v["storage"]["files"], "path");
    declared("", &v["storage"]["links"], "path");
    declared("unit:", &v["systemd"]["units"], "name");
    declared("group:", &v["passwd"]["groups"], "name");
    declared("user:", &v["passwd"]["users"], "name");
    let mut warnings = Vec::new();
    for (i, hit) in sc.pattern_hits.iter().enumerate() {
        let p = &keep.patterns()[i];
        if !hit && p.syntax != Syntax::Builtin {
            warnings.push(format!(
                "keep pattern {:?} ({}) matches nothing",
                p.text, p.origin
            ));
        }
    }
    let lost = match cur {
        Some(g) => data_no_longer_kept(root, &store, g, &keep)?,
        None => Vec::new(),
    };
    let mut owner_changes = crate::owners::predicted_changes(root, &v);
    if !owner_changes.is_empty() {
        let kept: Vec<String> = sc
            .kept
            .iter()
            .filter(|k| keep.patterns()[k.pattern].syntax != Syntax::Builtin)
            .map(|k| k.path.clone())
            .collect();
        crate::owners::count(root, &kept, &crate::owners::skip_system, &mut owner_changes)
            .map_err(|source| BootError::Owners {
                path: root.to_path_buf(),
                source,
            })?;
    }
    for l in &lost {
        changes.push(Change {
            action: "remove",
            reason: "data no longer kept".into(),
            path: format!("/{l}"),
            kind: None,
            bytes: None,
            entries: None,
        });
    }
    let mut plan = Plan {
        format: 1,
        kind: "reset",
        root_generation: cur,
        config_sha256: hex::encode(Sha256::digest(canonical)),
        keep: keep.declared().cloned().collect(),
        changes,
        data_no_longer_kept: lost.into_iter().map(|l| format!("/{l}")).collect(),
        warnings,
        owner_changes,
        unit_actions: None,
        summary,
        hash: String::new(),
    };
    plan.hash = hex::encode(Sha256::digest(
        serde_json::to_vec(&plan).unwrap_or_default(),
    ));
    Ok(plan)
}

/// One drift finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct DriftItem {
    /// `undeclared`, `modified`, `missing`.
    pub kind: &'static str,
    /// Absolute path in the root.
    pub path: String,
}

/// Escapes a literal path for a whole-path ERE.
fn ere_escape(p: &str) -> String {
    let mut o = String::with_capacity(p.len() + 8);
    for c in p.chars() {
        if r"\.[]()*+?{}|^$".contains(c) {
            o.push('\\');
        }
        o.push(c);
    }
    o
}

/// Undeclared state on `root`: paths neither declared by the current
/// generation's manifest, nor in the factory tree, nor kept; plus managed
/// files whose content differs from the manifest (`modified`) or that are
/// gone (`missing`). Changes nothing.
pub fn drift(root: &Path, factory_rel: &str) -> Result<Vec<DriftItem>, BootError> {
    let store = Store::new(root);
    let cur = store.state()?.current;
    let mut patterns: Vec<KeepPattern> = match cur {
        Some(g) => {
            let mut p = store.keep(g)?;
            // The config's own keep.d (generation 1 is recorded by the
            // engine, without keep.json).
            if let Ok(c) = store.config(g) {
                p.extend(config_keep_patterns(&c)?);
            }
            p
        }
        None => Vec::new(),
    };
    let nodes = manifest_paths(&store, cur);
    let mut out = Vec::new();
    let mut declared: Vec<String> = nodes.iter().map(|(p, _)| p.clone()).collect();
    let factory = root.join(factory_rel);
    if let Ok(t) = crate::tree::snapshot(&factory, &[]) {
        declared.extend(t.into_keys().map(|k| format!("/{k}")));
    }
    for p in declared
        .iter()
        .filter(|p| *p != "/usr" && !p.starts_with("/usr/"))
    {
        patterns.push(KeepPattern::parse(
            &format!("regex:{}", ere_escape(p)),
            "declared",
        )?);
    }
    let keep = KeepSet::new(patterns)?;
    let sc = scan::scan(root, &keep)?;
    for r in sc.removals {
        out.push(DriftItem {
            kind: "undeclared",
            path: format!("/{}", r.path),
        });
    }
    for (p, n) in &nodes {
        let Some(want) = n["sha256"].as_str() else {
            continue;
        };
        let abs = root.join(p.trim_start_matches('/'));
        match crate::tree::hash_file(&abs) {
            Ok(h) if h == want => {}
            Ok(_) => out.push(DriftItem {
                kind: "modified",
                path: p.clone(),
            }),
            Err(_) => out.push(DriftItem {
                kind: "missing",
                path: p.clone(),
            }),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_name_things_but_never_show_secrets() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("opt/x")).unwrap();
        std::fs::write(d.path().join("opt/x/f"), "12345").unwrap();
        let cfg = serde_json::json!({
            "ignition": {"version": "3.4.0"},
            "passwd": {"users": [{"name": "alice", "passwordHash": "$6$SECRETHASH"}]},
            "storage": {"files": [{"path": "/etc/token", "contents": {"source": "data:,TOPSECRET"}}]},
            "systemd": {"units": [{"name": "app.service", "contents": "[Service]\nEnvironment=PW=UNITSECRET\n"}]}
        });
        let plan = reset_plan(d.path(), &serde_json::to_vec(&cfg).unwrap(), &[], false).unwrap();
        let json = serde_json::to_string(&plan).unwrap();
        for secret in ["SECRETHASH", "TOPSECRET", "UNITSECRET"] {
            assert!(!json.contains(secret), "{secret} leaked: {json}");
        }
        let paths: Vec<_> = plan
            .changes
            .iter()
            .map(|c| (c.action, c.path.as_str()))
            .collect();
        assert!(paths.contains(&("create", "user:alice")));
        assert!(paths.contains(&("create", "/etc/token")));
        assert!(paths.contains(&("create", "unit:app.service")));
        assert!(paths.contains(&("remove", "/opt")));
        assert_eq!(
            (plan.summary.remove_bytes, plan.summary.remove_entries),
            (5, 3)
        );
        // The hash changes when the host changes.
        std::fs::write(d.path().join("opt/x/g"), "1").unwrap();
        let again = reset_plan(d.path(), &serde_json::to_vec(&cfg).unwrap(), &[], false).unwrap();
        assert_ne!(plan.hash, again.hash);
    }
}
