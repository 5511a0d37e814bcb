//! The plan of a live `switch` from the current generation N to a new
//! config: per node, unit, user, group and kernel argument — `create`
//! (declared, new), `update` (declared content differs / modified since
//! generation N / rewritten unchanged), `remove` (leftover of generation N),
//! and `keep` for undeclared state a switch leaves in place (reported drift).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use sha2::{Digest, Sha256};

use super::{Change, Plan, Summary};
use crate::boot::{decode_data_url, BootError};
use crate::generations::{Store, StoreError};

fn change(action: &'static str, reason: impl Into<String>, path: impl Into<String>) -> Change {
    Change {
        action,
        reason: reason.into(),
        path: path.into(),
        kind: None,
        bytes: None,
        entries: None,
    }
}

fn names(v: &serde_json::Value, key: &str) -> BTreeSet<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|x| x[key].as_str().map(str::to_string))
        .collect()
}

/// Builds the plan of `reignite switch` on `root` to `canonical`.
pub fn switch_plan(root: &Path, canonical: &[u8]) -> Result<Plan, BootError> {
    let store = Store::new(root);
    let n = store.state()?.current.ok_or(StoreError::Empty)?;
    let m: serde_json::Value = store.manifest(n)?;
    let v: serde_json::Value =
        serde_json::from_slice(canonical).map_err(|e| BootError::InvalidConfig(e.to_string()))?;
    let mut changes = Vec::new();
    // Declared storage nodes of the new config, with the sha256 of inline
    // file contents when it can be known without fetching.
    let mut declared: BTreeMap<String, Option<String>> = BTreeMap::new();
    for k in ["directories", "links"] {
        for p in names(&v["storage"][k], "path") {
            declared.insert(p, None);
        }
    }
    for f in v["storage"]["files"].as_array().into_iter().flatten() {
        let Some(p) = f["path"].as_str() else {
            continue;
        };
        let inline = f["contents"]["source"].as_str().and_then(decode_data_url);
        let plain = f["contents"]["compression"]
            .as_str()
            .is_none_or(str::is_empty)
            && f["append"].as_array().is_none_or(Vec::is_empty);
        let sha = inline
            .filter(|_| plain)
            .map(|b| hex::encode(Sha256::digest(&b)));
        declared.insert(p.to_string(), sha);
    }
    let units = names(&v["systemd"]["units"], "name");
    // Directories the new config needs as parents: those of its declared
    // nodes, unit files and drop-ins, the preset file, home directories and
    // the files every apply writes. A parent directory of generation N that
    // is still such a parent is not a leftover.
    let mut needed: Vec<String> = declared.keys().cloned().collect();
    for u in v["systemd"]["units"].as_array().into_iter().flatten() {
        let name = u["name"].as_str().unwrap_or_default();
        needed.push(format!("/etc/systemd/system/{name}.d/x"));
        needed.push("/etc/systemd/system-preset/20-ignition.preset".to_string());
    }
    for u in v["passwd"]["users"].as_array().into_iter().flatten() {
        let home = u["homeDir"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| format!("/home/{}", u["name"].as_str().unwrap_or_default()));
        needed.push(format!("{home}/.ssh/authorized_keys.d/ignition"));
    }
    needed.push("/etc/.ignition-result.json".to_string());
    needed.push("/etc/reignite/kargs.json".to_string());
    let is_needed_parent = |dir: &str| {
        let prefix = format!("{}/", dir.trim_end_matches('/'));
        needed.iter().any(|p| p.starts_with(&prefix))
    };
    let link_targets: BTreeMap<String, String> = v["storage"]["links"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|l| {
            Some((
                l["path"].as_str()?.to_string(),
                l["target"].as_str()?.to_string(),
            ))
        })
        .collect();
    let old_nodes: Vec<&serde_json::Value> = m["nodes"].as_array().into_iter().flatten().collect();
    let mut seen = BTreeSet::new();
    for node in old_nodes.iter().rev() {
        let Some(path) = node["path"].as_str() else {
            continue;
        };
        if !seen.insert(path.to_string()) || !node["created"].as_bool().unwrap_or(true) {
            continue;
        }
        let origin = node["origin"].as_str().unwrap_or("declared");
        let still = match origin {
            "unit" | "dropin" | "mask" => {
                let unit = path
                    .trim_start_matches("/etc/systemd/system/")
                    .split('/')
                    .next()
                    .unwrap_or("");
                units.contains(unit.trim_end_matches(".d"))
            }
            "preset" | "result" | "kernel-arguments" | "account-database" => true,
            "declared" => declared.contains_key(path),
            "parent" => declared.contains_key(path) || is_needed_parent(path),
            // Home directories and SSH key files follow their users.
            _ => true,
        };
        if !still {
            changes.push(change(
                "remove",
                format!("leftover of generation {n}"),
                path,
            ));
            continue;
        }
        if origin == "declared" || origin == "unit" || origin == "dropin" {
            let current = crate::tree::hash_file(&root.join(path.trim_start_matches('/'))).ok();
            let recorded = node["sha256"].as_str().map(str::to_string);
            let reason = match (&recorded, declared.get(path)) {
                (Some(r), _) if current.as_ref() != Some(r) => {
                    Some(format!("modified since generation {n}"))
                }
                (Some(r), Some(Some(new))) if r != new => {
                    Some("declared content differs".to_string())
                }
                // Same recorded and declared content: nothing to do.
                (Some(_), Some(Some(_))) => None,
                // Remote or compressed contents are only known at switch time.
                (Some(_), Some(None)) => {
                    Some("rewritten (content known only when fetched)".to_string())
                }
                _ => match (node["target"].as_str(), link_targets.get(path)) {
                    (Some(old), Some(new)) if old != new => {
                        Some("declared link target differs".to_string())
                    }
                    _ => None,
                },
            };
            if let Some(reason) = reason {
                changes.push(change("update", reason, path));
            }
        }
    }
    for p in declared.keys() {
        if !seen.contains(p) {
            changes.push(change("create", "declared", p.clone()));
        }
    }
    // Units, users, groups, kernel arguments.
    let old_units = names(&m["units"], "name");
    let created = |list: &serde_json::Value| -> BTreeSet<String> {
        list.as_array()
            .into_iter()
            .flatten()
            .filter(|x| x["action"].as_str() == Some("created"))
            .filter_map(|x| x["name"].as_str().map(str::to_string))
            .collect()
    };
    let sets = [
        ("unit:", old_units, units.clone()),
        (
            "user:",
            created(&m["users"]),
            names(&v["passwd"]["users"], "name"),
        ),
        (
            "group:",
            created(&m["groups"]),
            names(&v["passwd"]["groups"], "name"),
        ),
    ];
    for (prefix, old, new) in sets {
        for x in old.difference(&new) {
            changes.push(change(
                "remove",
                format!("leftover of generation {n}"),
                format!("{prefix}{x}"),
            ));
        }
        for x in new.iter() {
            let (a, r) = if old.contains(x) {
                ("update", "declared")
            } else {
                ("create", "declared")
            };
            changes.push(change(a, r, format!("{prefix}{x}")));
        }
    }
    let old_k: BTreeSet<String> = m["kernel-arguments"]["should-exist"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|x| x.as_str().map(str::to_string))
        .collect();
    let new_k: BTreeSet<String> = v["kernelArguments"]["shouldExist"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|x| x.as_str().map(str::to_string))
        .collect();
    for k in old_k.difference(&new_k) {
        changes.push(change(
            "remove",
            format!("leftover of generation {n}"),
            format!("karg:{k}"),
        ));
    }
    for k in new_k.difference(&old_k) {
        changes.push(change("create", "declared", format!("karg:{k}")));
    }
    for d in super::drift(root, "usr/share/factory")? {
        if d.kind == "undeclared" {
            changes.push(change(
                "keep",
                "undeclared (a switch leaves it; a reset removes it)",
                d.path,
            ));
        }
    }
    let mut summary = Summary::default();
    for c in &changes {
        match c.action {
            "create" => summary.create += 1,
            "update" => summary.update += 1,
            "remove" => summary.remove += 1,
            _ => summary.keep += 1,
        }
    }
    let mut plan = Plan {
        format: 1,
        kind: "switch",
        root_generation: Some(n),
        config_sha256: hex::encode(Sha256::digest(canonical)),
        keep: Vec::new(),
        changes,
        data_no_longer_kept: Vec::new(),
        warnings: Vec::new(),
        owner_changes: {
            // What generation N created is rewritten by the switch.
            let created: BTreeSet<String> = old_nodes
                .iter()
                .filter(|n| n["created"].as_bool().unwrap_or(true))
                .filter_map(|n| Some(n["path"].as_str()?.trim_start_matches('/').to_string()))
                .collect();
            let skip = |rel: &str| crate::owners::skip_system(rel) || created.contains(rel);
            let mut c = crate::owners::predicted_changes(root, &v);
            crate::owners::count(root, &[String::new()], &skip, &mut c).map_err(|source| {
                BootError::Owners {
                    path: root.to_path_buf(),
                    source,
                }
            })?;
            c
        },
        unit_actions: Some(crate::systemd::unit_actions(
            store
                .config(n)
                .ok()
                .and_then(|c| serde_json::from_slice(&c).ok())
                .as_ref(),
            &v,
        )),
        summary,
        hash: String::new(),
    };
    plan.hash = hex::encode(Sha256::digest(
        serde_json::to_vec(&plan).unwrap_or_default(),
    ));
    Ok(plan)
}
