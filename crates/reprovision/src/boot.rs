//! `reignite boot`: the initramfs half of a reset, runnable on any directory
//! root. Order (DESIGN §4): recover an interrupted transition; find the staged
//! reset (reignite's or flatcar-reset's marker); load and **validate** the
//! config before touching anything; refuse to drop data kept by the previous
//! generation unless allowed; move every non-kept path into the trash; restore
//! the image defaults from the factory tree; run the files stage; record the
//! generation; clear the markers. The trash waits for `confirm`.
//!
//! The files stage is behind [`Provisioner`] so this crate does not depend on
//! the engine's build; the CLI supplies the engine-backed implementation.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::generations::{self, NewGeneration, Store};
use crate::keep::{KeepPattern, KeepSet};
use crate::reset;
use crate::trash::{Journal, Phase, Trash};
use crate::{failpoint, scan, util};

/// The files stage, as the boot executor needs it.
pub trait Provisioner {
    /// Parses and validates `config`, returning its canonical JSON. Must not
    /// touch any root.
    fn validate(&self, config: &[u8]) -> Result<Vec<u8>, String>;
    /// Applies the canonical config to `root` (files stage: nodes, units,
    /// users, keys) and returns the manifest as JSON.
    fn apply(&self, root: &Path, canonical: &[u8]) -> Result<serde_json::Value, String>;
    /// Called once the transition that called [`Provisioner::apply`] is
    /// over — its generation recorded, or the previous one restored (the
    /// engine drops its apply journal here). A failure is only logged.
    fn finished(&self, _root: &Path) -> Result<(), String> {
        Ok(())
    }
}

/// Errors of the boot executor.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BootError {
    /// The config is invalid; nothing was changed.
    #[error("the new config is invalid; nothing was changed: {0}")]
    InvalidConfig(String),
    /// No config could be found.
    #[error("a reset is staged but no config was found (staged config, /oem/config.ign); nothing was changed")]
    NoConfig,
    /// The files stage failed; the previous generation was restored.
    #[error("applying the new config failed and the previous generation was restored: {0}")]
    ApplyFailed(String),
    /// Data kept by the previous generation would be lost.
    #[error("refusing to reset: {} path(s) kept by generation {from} are not kept by the new keep-set (first: /{}); pass --allow-data-loss to drop them", paths.len(), paths.first().map(String::as_str).unwrap_or(""))]
    DataNoLongerKept {
        /// The previous generation.
        from: u64,
        /// Root-relative paths.
        paths: Vec<String>,
    },
    /// Keep-set problem.
    #[error(transparent)]
    Keep(#[from] crate::keep::KeepError),
    /// Trash problem.
    #[error(transparent)]
    Trash(#[from] crate::trash::TrashError),
    /// Store problem.
    #[error(transparent)]
    Store(#[from] generations::StoreError),
    /// Staging files.
    #[error(transparent)]
    Reset(#[from] reset::ResetError),
    /// Scan problem.
    #[error(transparent)]
    Scan(#[from] scan::ScanError),
    /// Restoring the factory tree.
    #[error("restoring image defaults from {path}")]
    Factory {
        /// Path.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// Kept data is owned by ids that change, and no owner policy was given.
    #[error("refusing: kept data is owned by ids that change in the new config: {}; pass --remap-owners to chown it to the new ids, or --keep-owner-ids to leave the numeric owners as they are", .0.iter().filter(|c| c.paths > 0).map(ToString::to_string).collect::<Vec<_>>().join(", "))]
    OwnerIdsChanged(Vec<crate::owners::IdChange>),
    /// Walking or chowning kept data.
    #[error("checking the owners of kept data under {path}")]
    Owners {
        /// The root.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// A systemctl call before the transition failed; nothing else changed.
    #[error("{0}; nothing else was changed")]
    Systemd(String),
    /// A failpoint (tests).
    #[error(transparent)]
    Failpoint(#[from] failpoint::Failpoint),
}

/// Options of [`boot`].
#[derive(Debug, Clone)]
pub struct BootOptions {
    /// The factory tree, relative to the root (systemd's `usr/share/factory`).
    pub factory: String,
    /// Config to use instead of the staged one.
    pub config: Option<Vec<u8>>,
}

impl Default for BootOptions {
    fn default() -> Self {
        BootOptions {
            factory: "usr/share/factory".into(),
            config: None,
        }
    }
}

/// What [`boot`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BootOutcome {
    /// Nothing staged, nothing to recover.
    Nothing,
    /// A reset was executed and recorded as this generation.
    Reset {
        /// New generation.
        generation: u64,
        /// Number of subtrees moved to the trash.
        moved: usize,
        /// Warnings (unmatched patterns...).
        warnings: Vec<String>,
    },
    /// A tried generation's deadline passed; it was rolled back to this one.
    RevertedTo(u64),
}

fn sha256_hex(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

/// Extracts keep.d patterns from the files a config declares under
/// `/etc/reignite/keep.d/` (inline `data:` contents only, as the keep-set
/// must be known before anything is fetched or wiped).
pub fn config_keep_patterns(canonical: &[u8]) -> Result<Vec<KeepPattern>, BootError> {
    let v: serde_json::Value =
        serde_json::from_slice(canonical).map_err(|e| BootError::InvalidConfig(e.to_string()))?;
    let mut out = Vec::new();
    let prefix = format!("/{}/", crate::keep::KEEP_D);
    for f in v["storage"]["files"].as_array().into_iter().flatten() {
        let Some(path) = f["path"].as_str().filter(|p| p.starts_with(&prefix)) else {
            continue;
        };
        let mut text = Vec::new();
        let src = f["contents"]["source"].as_str();
        let appends = f["append"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|a| a["source"].as_str());
        for s in std::iter::once(src).chain(appends).flatten() {
            let data = decode_data_url(s).ok_or_else(|| {
                BootError::InvalidConfig(format!(
                    "{path}: a keep-set file must have inline (data:) contents, not {s:.40}"
                ))
            })?;
            text.extend(data);
        }
        if f["contents"]["compression"]
            .as_str()
            .is_some_and(|c| !c.is_empty())
        {
            return Err(BootError::InvalidConfig(format!(
                "{path}: a keep-set file must not be compressed"
            )));
        }
        out.extend(crate::keep::parse_keep_file(
            &String::from_utf8_lossy(&text),
            path,
        )?);
    }
    Ok(out)
}

/// Decodes an RFC 2397 `data:` URL (percent or base64 encoding).
pub(crate) fn decode_data_url(url: &str) -> Option<Vec<u8>> {
    let rest = url.strip_prefix("data:")?;
    let (meta, data) = rest.split_once(',')?;
    let pct = percent_decode(data)?;
    if meta.ends_with(";base64") {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD
            .decode(pct.trim_ascii())
            .ok()
    } else {
        Some(pct)
    }
}

fn percent_decode(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let h = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(h, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Some(out)
}

/// Copies the factory tree into the root wherever the target is missing
/// (systemd-tmpfiles `C` semantics), with mode and owner.
pub fn restore_factory(root: &Path, factory_rel: &str) -> Result<usize, BootError> {
    let factory = root.join(factory_rel);
    if !factory.is_dir() {
        return Ok(0);
    }
    fn copy(src: &Path, dst: &Path, n: &mut usize) -> std::io::Result<()> {
        for e in std::fs::read_dir(src)? {
            let e = e?;
            let s = e.path();
            let d = dst.join(e.file_name());
            let md = std::fs::symlink_metadata(&s)?;
            let exists = std::fs::symlink_metadata(&d).is_ok();
            let ft = md.file_type();
            if ft.is_dir() {
                if !exists {
                    std::fs::create_dir(&d)?;
                    std::os::unix::fs::lchown(&d, Some(md.uid()), Some(md.gid()))?;
                    std::fs::set_permissions(
                        &d,
                        std::os::unix::fs::PermissionsExt::from_mode(md.mode() & 0o7777),
                    )?;
                    *n += 1;
                }
                if std::fs::symlink_metadata(&d)?.is_dir() {
                    copy(&s, &d, n)?;
                }
            } else if !exists {
                if ft.is_symlink() {
                    std::os::unix::fs::symlink(std::fs::read_link(&s)?, &d)?;
                    std::os::unix::fs::lchown(&d, Some(md.uid()), Some(md.gid()))?;
                } else if ft.is_file() {
                    let bytes = std::fs::read(&s)?;
                    let name = e.file_name();
                    util::write_bytes(dst, &name.to_string_lossy(), &bytes, md.mode() & 0o7777)?;
                    std::os::unix::fs::lchown(&d, Some(md.uid()), Some(md.gid()))?;
                    // chown may clear setuid bits: set the mode again.
                    std::fs::set_permissions(
                        &d,
                        std::os::unix::fs::PermissionsExt::from_mode(md.mode() & 0o7777),
                    )?;
                }
                *n += 1;
            }
        }
        Ok(())
    }
    let mut n = 0;
    copy(&factory, root, &mut n).map_err(|source| BootError::Factory {
        path: factory.clone(),
        source,
    })?;
    Ok(n)
}

/// Runs the boot executor on `root`.
pub fn boot(
    root: &Path,
    prov: &dyn Provisioner,
    opts: &BootOptions,
) -> Result<BootOutcome, BootError> {
    let store = Store::new(root);
    let trash = Trash::new(root);
    trash.purge_leftovers()?;
    // 1. Recovery of an interrupted transition.
    let mut resume: Option<Journal> = None;
    for mut j in trash.journals()? {
        match j.phase {
            Phase::RollingBack | Phase::RolledBack => {
                crate::rollback::rollback_reset(root, &mut j)?;
            }
            // A switch interrupted before its commit is undone: its config
            // is not staged anywhere to finish it with.
            Phase::Moving | Phase::Moved | Phase::Provisioning if j.kind == "switch" => {
                crate::rollback::rollback_reset(root, &mut j)?;
            }
            Phase::Moving | Phase::Moved | Phase::Provisioning => resume = Some(j),
            Phase::Provisioned => {
                let st = store.state()?;
                // A crash after the commit but before the markers were
                // cleared: the staging that produced this generation is done.
                if st.current == Some(j.generation) {
                    if let Some((r, _)) = reset::staged(root)? {
                        if r.from_generation == j.from_generation {
                            reset::clear_after_boot(root)?;
                        }
                    }
                }
                if st.try_deadline.is_some_and(|d| d <= generations::now())
                    && st.current == Some(j.generation)
                {
                    let to = crate::rollback::rollback_reset(root, &mut j)?;
                    return Ok(BootOutcome::RevertedTo(to));
                }
            }
        }
    }
    // 2. What is staged.
    let staged = reset::staged(root)?;
    let marker = reset::flatcar_marker(root)?;
    if staged.is_none() && marker.is_none() && resume.is_none() {
        return Ok(BootOutcome::Nothing);
    }
    let (req, staged_cfg) = match staged {
        Some((r, c)) => (Some(r), c),
        None => (None, None),
    };
    // 3. The config, validated before anything is touched.
    let raw = match (&opts.config, staged_cfg) {
        (Some(c), _) => c.clone(),
        (None, Some(c)) => c,
        (None, None) => {
            std::fs::read(root.join("oem/config.ign")).map_err(|_| BootError::NoConfig)?
        }
    };
    let canonical = prov.validate(&raw).map_err(BootError::InvalidConfig)?;
    // 4. The keep-set: the config's keep.d, the staged patterns, or the
    //    flatcar marker's regex when only flatcar-reset staged.
    let mut patterns = config_keep_patterns(&canonical)?;
    let keep_machine_id = req.as_ref().is_some_and(|r| r.keep_machine_id);
    match (&req, &marker) {
        (Some(r), _) => patterns.extend(
            r.keep
                .iter()
                .map(KeepPattern::reparse)
                .collect::<Result<Vec<_>, _>>()?,
        ),
        (None, Some(m)) => patterns.push(KeepPattern::parse(
            &format!("regex:{m}"),
            "/selective-os-reset",
        )?),
        (None, None) => {}
    }
    if keep_machine_id {
        patterns.push(KeepPattern::parse(
            "regex:/etc/machine-id",
            "--keep-machine-id",
        )?);
    }
    if let Some(j) = &resume {
        // Resuming: the journal's keep-set is authoritative.
        patterns = j
            .keep
            .iter()
            .map(KeepPattern::reparse)
            .collect::<Result<_, _>>()?;
    }
    let keep = KeepSet::new(patterns)?;
    let from = store.state()?.current;
    let mut warnings = Vec::new();
    let mut j = match resume {
        Some(mut j) => {
            trash.resume(&mut j)?;
            // Start the interrupted provisioning over from a clean state.
            trash.clear_partial(&j, &keep)?;
            j
        }
        None => {
            let mut sc = scan::scan(root, &keep)?;
            if !keep_machine_id {
                // flatcar-reset deletes it unconditionally so systemd runs
                // its first boot (preset-all); it goes to the trash here.
                if let Some(i) = sc.kept.iter().position(|k| k.path == "etc/machine-id") {
                    sc.kept.remove(i);
                    sc.removals.push(scan::Removal {
                        path: "etc/machine-id".into(),
                        kind: scan::EntryKind::File,
                    });
                }
            }
            for (i, hit) in sc.pattern_hits.iter().enumerate() {
                let p = &keep.patterns()[i];
                if !hit && p.syntax != crate::keep::Syntax::Builtin {
                    warnings.push(format!(
                        "keep pattern {:?} ({}) matches nothing",
                        p.text, p.origin
                    ));
                }
            }
            let allow = req.as_ref().is_some_and(|r| r.allow_data_loss);
            if let (Some(f), false) = (from, allow) {
                let lost = data_no_longer_kept(root, &store, f, &keep)?;
                if !lost.is_empty() {
                    return Err(BootError::DataNoLongerKept {
                        from: f,
                        paths: lost,
                    });
                }
            }
            let n = store.next_number()?;
            trash.begin(n, from, &keep, &sc)?
        }
    };
    let moved = j.moved.len();
    // 5. Image defaults, then the files stage.
    trash.set_phase(&mut j, Phase::Provisioning)?;
    // Staged by reignite: refuse by default; flatcar-reset's marker alone:
    // its behaviour (numeric owners stay), with a warning.
    let policy = req
        .as_ref()
        .map_or(crate::owners::OwnerPolicy::Keep, |r| r.owners);
    let result = restore_factory(root, &opts.factory).and_then(|_| {
        failpoint::hit("boot::apply")?;
        let m = prov
            .apply(root, &canonical)
            .and_then(|mut m| {
                // With the machine ID kept there is no systemd first boot to
                // apply the presets: apply them here.
                if keep_machine_id {
                    crate::enable::apply_enablement(root, &mut m)
                        .map_err(|e| format!("enabling units: {e}"))?;
                }
                Ok(m)
            })
            .map_err(BootError::ApplyFailed)?;
        let old = trash.dir(j.generation).join("old");
        let owners = kept_owner_changes(root, &old, &keep, policy)?;
        for c in owners.iter().filter(|c| c.paths > 0) {
            warnings.push(match policy {
                crate::owners::OwnerPolicy::Remap => format!("kept data remapped: {c}"),
                _ => format!("kept data keeps its numeric owner: {c}"),
            });
        }
        Ok(m)
    });
    let manifest = match result {
        Ok(m) => m,
        Err(e) => {
            // The previous generation comes back; the error says why.
            trash.rollback(&mut j)?;
            let _ = prov.finished(root);
            return Err(e);
        }
    };
    // 6. Record, commit, clear the markers.
    let try_deadline = req
        .as_ref()
        .and_then(|r| r.try_seconds)
        .map(|s| generations::now() + s);
    let sha = sha256_hex(&canonical);
    store.record_as(
        j.generation,
        &NewGeneration {
            config: &canonical,
            config_sha256: &sha,
            manifest: &manifest,
            keep: &keep.declared().cloned().collect::<Vec<_>>(),
            command: "reset",
            try_deadline,
        },
    )?;
    trash.set_phase(&mut j, Phase::Provisioned)?;
    if let Err(e) = prov.finished(root) {
        tracing::warn!("after recording generation {}: {e}", j.generation);
    }
    reset::clear_after_boot(root)?;
    Ok(BootOutcome::Reset {
        generation: j.generation,
        moved,
        warnings,
    })
}

/// After the files stage of a reset: accounts whose id changed between the
/// trashed databases (`old`) and the new ones, with the kept entries they
/// own; refused, remapped or left as `policy` says.
fn kept_owner_changes(
    root: &Path,
    old: &Path,
    keep: &KeepSet,
    policy: crate::owners::OwnerPolicy,
) -> Result<Vec<crate::owners::IdChange>, BootError> {
    use crate::owners;
    let (ou, og) = owners::read_ids(old);
    let (nu, ng) = owners::read_ids(root);
    let mut changes = owners::id_changes(&ou, &nu, &og, &ng);
    if changes.is_empty() {
        return Ok(changes);
    }
    let kept: Vec<String> = scan::scan(root, keep)?
        .kept
        .into_iter()
        .filter(|k| keep.patterns()[k.pattern].syntax != crate::keep::Syntax::Builtin)
        .map(|k| k.path)
        .collect();
    let fail = |source| BootError::Owners {
        path: root.to_path_buf(),
        source,
    };
    owners::count(root, &kept, &owners::skip_system, &mut changes).map_err(fail)?;
    if changes.iter().any(|c| c.paths > 0) {
        match policy {
            owners::OwnerPolicy::Refuse => return Err(BootError::OwnerIdsChanged(changes)),
            owners::OwnerPolicy::Remap => {
                owners::remap(root, &kept, &owners::skip_system, &changes).map_err(fail)?;
            }
            owners::OwnerPolicy::Keep => {}
        }
    }
    Ok(changes)
}

/// Root-relative paths kept by generation `from`'s keep-set that `new` no
/// longer keeps.
pub fn data_no_longer_kept(
    root: &Path,
    store: &Store,
    from: u64,
    new: &KeepSet,
) -> Result<Vec<String>, BootError> {
    let mut old = store.keep(from)?;
    // A generation recorded by `apply` (the engine) has no keep.json: its
    // keep-set is its config's keep.d. Without the config the previous
    // keep-set is unknown, which is an error, not an empty keep-set.
    old.extend(config_keep_patterns(&store.config(from)?)?);
    if old.is_empty() {
        return Ok(Vec::new());
    }
    let old = KeepSet::new(
        old.iter()
            .map(KeepPattern::reparse)
            .collect::<Result<_, _>>()?,
    )?;
    let s = scan::scan(root, &old)?;
    Ok(s.kept
        .into_iter()
        .filter(|k| old.patterns()[k.pattern].syntax != crate::keep::Syntax::Builtin)
        .filter(|k| new.matches(&format!("/{}", k.path)).is_none())
        .map(|k| k.path)
        .collect())
}
