//! `switch`: live transition from generation N to a new config, without a
//! reboot and without a wipe.
//!
//! Everything generation N created (its manifest's `created` nodes: files,
//! links, directories that hold nothing else, unit files, dropins, the preset
//! file, SSH key fragments) is moved into the trash, users and groups N
//! created are dropped from the account databases (whose previous versions
//! go to the trash too), and then the new config is applied to the root —
//! so what is still declared is written fresh (drift in managed files is
//! restored), what is no longer declared is gone, and the preset file is
//! regenerated, not appended. Undeclared state N did not create stays and is
//! reported as drift. Rollback moves what the new generation created aside
//! and renames N's nodes back.
//!
//! Crash safety is the trash journal's (kind `switch`): an interrupted switch
//! is completed by running it again with the same config, or undone by
//! `rollback`. On a live `/` with systemd, units are stopped, reloaded,
//! preset and (optionally) restarted around the file changes — see
//! [`crate::systemd`].

use std::collections::{BTreeSet, HashSet};
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::boot::{BootError, Provisioner};
use crate::generations::{self, NewGeneration, Store};
use crate::keep::KeepSet;
use crate::scan::{EntryKind, Removal, Scan};
use crate::systemd::{Systemd, SystemdReport};
use crate::trash::{Phase, Trash};
use crate::{failpoint, util};

const ACCOUNT_DBS: [&str; 4] = ["etc/passwd", "etc/shadow", "etc/group", "etc/gshadow"];

/// What [`switch`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwitchOutcome {
    /// The new generation.
    pub generation: u64,
    /// Subtrees of the previous generation moved to the trash.
    pub moved: usize,
    /// Remaining undeclared state.
    pub drift: Vec<crate::plan::DriftItem>,
    /// Unit actions on a live root (or why there were none). A failed
    /// action after the commit is in `systemd.error`.
    pub systemd: SystemdReport,
    /// Accounts whose id changed, with the entries they own outside what
    /// the new generation wrote (remapped with `--remap-owners`).
    pub owners: Vec<crate::owners::IdChange>,
}

/// Options of [`switch_with`].
#[derive(Debug, Clone)]
pub struct SwitchOptions {
    /// `--try`: seconds the new generation has to be confirmed.
    pub try_seconds: Option<u64>,
    /// Unit actions on a live root.
    pub systemd: Systemd,
    /// Data owned by an id that changes: refuse, remap or keep.
    pub owners: crate::owners::OwnerPolicy,
}

impl Default for SwitchOptions {
    fn default() -> Self {
        SwitchOptions {
            try_seconds: None,
            systemd: Systemd::skipped("not requested"),
            owners: Default::default(),
        }
    }
}

fn rel(p: &str) -> String {
    p.trim_start_matches('/').to_string()
}

/// Reduces a set of root-relative paths to the subtrees that can move
/// whole: a directory is included only when everything in it is included;
/// included paths below an included directory are dropped.
pub(crate) fn collapse(root: &Path, paths: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut all: Vec<String> = paths
        .into_iter()
        .filter(|p| {
            !p.is_empty()
                && !p.starts_with("var/lib/reignite")
                && !p.starts_with(crate::trash::TRASH_DIR)
        })
        .filter(|p| !crate::scan::PROTECTED.contains(&p.split('/').next().unwrap_or("")))
        .filter(|p| std::fs::symlink_metadata(root.join(p)).is_ok())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    all.sort_by_key(|p| std::cmp::Reverse(p.matches('/').count()));
    let mut inc: HashSet<String> = HashSet::new();
    for p in &all {
        let abs = root.join(p);
        let is_dir = std::fs::symlink_metadata(&abs)
            .map(|m| m.is_dir())
            .unwrap_or(false);
        if is_dir {
            let Ok(rd) = std::fs::read_dir(&abs) else {
                continue;
            };
            let ok = rd
                .flatten()
                .all(|e| inc.contains(&format!("{p}/{}", e.file_name().to_string_lossy())));
            if !ok {
                continue;
            }
        }
        inc.insert(p.clone());
    }
    let mut out: Vec<String> = inc
        .iter()
        .filter(|p| {
            let mut a = p.as_str();
            while let Some((parent, _)) = a.rsplit_once('/') {
                if inc.contains(parent) {
                    return false;
                }
                a = parent;
            }
            true
        })
        .cloned()
        .collect();
    out.sort();
    out
}

/// Root-relative paths of the nodes and unit files a config declares.
fn declared_paths(cfg: &serde_json::Value) -> Vec<String> {
    let mut out = Vec::new();
    for k in ["files", "directories", "links"] {
        for n in cfg["storage"][k].as_array().into_iter().flatten() {
            if let Some(p) = n["path"].as_str() {
                out.push(rel(p));
            }
        }
    }
    for u in cfg["systemd"]["units"].as_array().into_iter().flatten() {
        if let Some(name) = u["name"].as_str() {
            out.push(format!("etc/systemd/system/{name}"));
            for d in u["dropins"].as_array().into_iter().flatten() {
                if let Some(dn) = d["name"].as_str() {
                    out.push(format!("etc/systemd/system/{name}.d/{dn}"));
                }
            }
        }
    }
    out
}

/// The proper ancestors of a root-relative path (`a/b/c` -> `a/b`, `a`).
fn ancestors(p: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut a = p;
    while let Some((parent, _)) = a.rsplit_once('/') {
        out.push(parent.to_string());
        a = parent;
    }
    out
}

fn created_paths(m: &serde_json::Value) -> Vec<String> {
    m["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|n| n["created"].as_bool().unwrap_or(true))
        .filter(|n| n["origin"].as_str() != Some("account-database"))
        .filter_map(|n| n["path"].as_str().map(rel))
        .collect()
}

/// Account names generation N created: (users, groups).
fn created_accounts(m: &serde_json::Value) -> (HashSet<String>, HashSet<String>) {
    let mut users = HashSet::new();
    let mut groups = HashSet::new();
    for u in m["users"].as_array().into_iter().flatten() {
        if u["action"].as_str() == Some("created") {
            if let Some(n) = u["name"].as_str() {
                users.insert(n.to_string());
            }
            if let Some(g) = u["user-group"].as_str() {
                groups.insert(g.to_string());
            }
        }
    }
    for g in m["groups"].as_array().into_iter().flatten() {
        if g["action"].as_str() == Some("created") {
            if let Some(n) = g["name"].as_str() {
                groups.insert(n.to_string());
            }
        }
    }
    (users, groups)
}

/// Writes the account databases from their trashed originals, without the
/// accounts generation N created (and without those users in group member
/// lists).
fn write_filtered_accounts(
    root: &Path,
    old: &Path,
    users: &HashSet<String>,
    groups: &HashSet<String>,
) -> std::io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    for db in ACCOUNT_DBS {
        let src = old.join(db);
        let Ok(text) = std::fs::read_to_string(&src) else {
            continue;
        };
        let md = std::fs::metadata(&src)?;
        let is_group = db.ends_with("group") || db.ends_with("gshadow");
        let mut out = String::new();
        for line in text.lines() {
            let name = line.split(':').next().unwrap_or("");
            if (is_group && groups.contains(name)) || (!is_group && users.contains(name)) {
                continue;
            }
            if is_group {
                // Drop removed users from the member list (last field).
                let mut f: Vec<String> = line.split(':').map(str::to_string).collect();
                if let Some(last) = f.last_mut() {
                    *last = last
                        .split(',')
                        .filter(|m| !m.is_empty() && !users.contains(*m))
                        .collect::<Vec<_>>()
                        .join(",");
                }
                out.push_str(&f.join(":"));
            } else {
                out.push_str(line);
            }
            out.push('\n');
        }
        let dir = root.join("etc");
        let name = db.trim_start_matches("etc/");
        util::write_bytes(&dir, name, out.as_bytes(), md.mode() & 0o7777)?;
        std::os::unix::fs::lchown(dir.join(name), Some(md.uid()), Some(md.gid()))?;
    }
    Ok(())
}

/// Accounts whose id the switch changed (trashed databases in `old` against
/// the new ones), with the entries they own that the new generation did not
/// write; refused, remapped or left as `policy` says.
fn owner_changes(
    root: &Path,
    old: &Path,
    manifest: &serde_json::Value,
    policy: crate::owners::OwnerPolicy,
) -> Result<Vec<crate::owners::IdChange>, BootError> {
    use crate::owners;
    let (ou, og) = owners::read_ids(old);
    let (nu, ng) = owners::read_ids(root);
    let mut changes = owners::id_changes(&ou, &nu, &og, &ng);
    if changes.is_empty() {
        return Ok(changes);
    }
    let written: HashSet<String> = created_paths(manifest).into_iter().collect();
    let skip = |rel: &str| owners::skip_system(rel) || written.contains(rel);
    let fail = |source| BootError::Owners {
        path: root.to_path_buf(),
        source,
    };
    owners::count(root, &[String::new()], &skip, &mut changes).map_err(fail)?;
    if changes.iter().any(|c| c.paths > 0) {
        match policy {
            owners::OwnerPolicy::Refuse => return Err(BootError::OwnerIdsChanged(changes)),
            owners::OwnerPolicy::Remap => {
                owners::remap(root, &[String::new()], &skip, &changes).map_err(fail)?;
            }
            owners::OwnerPolicy::Keep => {}
        }
    }
    Ok(changes)
}

/// Switches `root` live to `config` (no unit actions).
pub fn switch(
    root: &Path,
    prov: &dyn Provisioner,
    config: &[u8],
    try_seconds: Option<u64>,
) -> Result<SwitchOutcome, BootError> {
    let opts = SwitchOptions {
        try_seconds,
        ..SwitchOptions::default()
    };
    switch_with(root, prov, config, &opts)
}

/// Switches `root` live to `config`.
pub fn switch_with(
    root: &Path,
    prov: &dyn Provisioner,
    config: &[u8],
    opts: &SwitchOptions,
) -> Result<SwitchOutcome, BootError> {
    let try_seconds = opts.try_seconds;
    let store = Store::new(root);
    let trash = Trash::new(root);
    let canonical = prov.validate(config).map_err(BootError::InvalidConfig)?;
    let st = store.state()?;
    let from = st.current.ok_or(generations::StoreError::Empty)?;
    let pending = trash
        .journals()?
        .into_iter()
        .find(|j| j.kind == "switch" && j.phase != Phase::Provisioned);
    let sha = hex::encode(Sha256::digest(&canonical));
    if pending.is_none() && store.meta(from)?.config_sha256 == sha {
        // Already the current config (e.g. a switch repeated after a crash
        // right after its commit): nothing to do but report drift.
        let drift = crate::plan::drift(root, "usr/share/factory")?;
        return Ok(SwitchOutcome {
            generation: from,
            moved: 0,
            drift,
            systemd: opts.systemd.report(Default::default()),
            owners: Vec::new(),
        });
    }
    let old_manifest: serde_json::Value = store.manifest(from)?;
    let new_cfg: serde_json::Value = serde_json::from_slice(&canonical).unwrap_or_default();
    let old_cfg: Option<serde_json::Value> = store
        .config(from)
        .ok()
        .and_then(|c| serde_json::from_slice(&c).ok());
    let mut units = opts
        .systemd
        .report(crate::systemd::unit_actions(old_cfg.as_ref(), &new_cfg));
    let (users, groups) = created_accounts(&old_manifest);
    let mut j = match pending {
        // An interrupted switch: finish it with this config.
        Some(mut j) if matches!(j.phase, Phase::Moving | Phase::Moved | Phase::Provisioning) => {
            trash.resume(&mut j)?;
            j
        }
        Some(mut j) => {
            trash.rollback(&mut j)?;
            return Err(BootError::ApplyFailed(
                "an interrupted rollback was completed; run the switch again".into(),
            ));
        }
        None => {
            // Removed units stop before their files go; a failure here
            // changes nothing else.
            opts.systemd
                .before_files(&mut units)
                .map_err(|e| BootError::Systemd(e.to_string()))?;
            let mut paths = created_paths(&old_manifest);
            let mut removals: Vec<Removal> = collapse(root, paths.drain(..))
                .into_iter()
                .map(|p| Removal {
                    kind: EntryKind::File,
                    path: p,
                })
                .collect();
            // The account databases always go to the trash and are written
            // anew: the engine edits them in place, and a rollback must give
            // back the exact previous files.
            for db in ACCOUNT_DBS {
                if root.join(db).exists() && !removals.iter().any(|r| r.path == db) {
                    removals.push(Removal {
                        kind: EntryKind::File,
                        path: db.to_string(),
                    });
                }
            }
            let scan = Scan {
                removals,
                ..Scan::default()
            };
            let n = store.next_number()?;
            trash.begin_kind(n, Some(from), &KeepSet::new(Vec::new())?, &scan, "switch")?
        }
    };
    let moved = j.moved.len();
    trash.set_phase(&mut j, Phase::Provisioning)?;
    let old = trash.dir(j.generation).join("old");
    // The manifest of a files stage that ran, for the undo of a refusal
    // after it (everything it created goes aside, not only declared nodes).
    let mut applied: Option<serde_json::Value> = None;
    // Directories a failing files stage may create for the declared nodes
    // (missing now, after the moves): its undo removes them too, or a full
    // disk would leave e.g. an empty `/opt` behind.
    let missing_parents: Vec<String> = declared_paths(&new_cfg)
        .iter()
        .flat_map(|p| ancestors(p))
        .filter(|a| std::fs::symlink_metadata(root.join(a)).is_err())
        .collect();
    let result = write_filtered_accounts(root, &old, &users, &groups)
        .map_err(|source| BootError::Factory {
            path: root.join("etc"),
            source,
        })
        .and_then(|_| {
            failpoint::hit("switch::apply")?;
            // No first boot on a live switch: apply the presets here.
            let m = prov
                .apply(root, &canonical)
                .and_then(|mut m| {
                    crate::enable::apply_enablement(root, &mut m)
                        .map_err(|e| format!("enabling units: {e}"))?;
                    Ok(m)
                })
                .map_err(BootError::ApplyFailed)?;
            applied = Some(m.clone());
            let owners = owner_changes(root, &old, &m, opts.owners)?;
            Ok((m, owners))
        });
    let (manifest, owners) = match result {
        Ok(m) => m,
        Err(e) => {
            // Undo: what the config declares (and the account databases)
            // goes aside, the previous generation's nodes come back.
            let v: serde_json::Value = serde_json::from_slice(&canonical).unwrap_or_default();
            let mut written: Vec<String> = ACCOUNT_DBS
                .iter()
                .filter(|d| j.moved.iter().any(|m| m == *d))
                .map(|s| s.to_string())
                .collect();
            written.extend(declared_paths(&v));
            if let Some(m) = &applied {
                written.extend(created_paths(m));
            }
            written.extend(missing_parents);
            let written = collapse(root, written);
            trash.rollback_with(&mut j, Some(written))?;
            let _ = prov.finished(root);
            if !units.calls.is_empty() {
                let mut after = opts.systemd.report(Default::default());
                let _ = opts.systemd.after_files(&mut after);
                return Err(BootError::ApplyFailed(format!(
                    "{e}; units stopped before the switch were not started again: {}",
                    units.actions.stop.join(" ")
                )));
            }
            return Err(e);
        }
    };
    let keep = crate::boot::config_keep_patterns(&canonical)?;
    store.record_as(
        j.generation,
        &NewGeneration {
            config: &canonical,
            config_sha256: &sha,
            manifest: &manifest,
            keep: &keep,
            command: "switch",
            try_deadline: try_seconds.map(|s| generations::now() + s),
        },
    )?;
    trash.set_phase(&mut j, Phase::Provisioned)?;
    if let Err(e) = prov.finished(root) {
        tracing::warn!("after recording generation {}: {e}", j.generation);
    }
    // The generation is committed: a failed unit action is reported in
    // `systemd.error`, not undone.
    let _ = opts.systemd.after_files(&mut units);
    let drift = crate::plan::drift(root, "usr/share/factory")?;
    Ok(SwitchOutcome {
        generation: j.generation,
        moved,
        drift,
        systemd: units,
        owners,
    })
}

/// Rolls back switch journal `j`: the new generation's nodes go aside, the
/// previous generation's come back.
pub(crate) fn rollback_switch(root: &Path, j: &mut crate::trash::Journal) -> Result<(), BootError> {
    let store = Store::new(root);
    let trash = Trash::new(root);
    let written = if j.phase == Phase::RollingBack {
        None
    } else {
        let m: serde_json::Value = store.manifest(j.generation).unwrap_or_default();
        let mut w = created_paths(&m);
        w.extend(
            ACCOUNT_DBS
                .iter()
                .filter(|d| j.moved.iter().any(|m| m == *d))
                .map(|s| s.to_string()),
        );
        Some(collapse(root, w))
    };
    trash.rollback_with(j, written)?;
    Ok(())
}
