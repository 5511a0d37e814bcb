//! The trash: journaled renames of everything a reset removes into
//! `<root>/.reignite-trash/<generation>/old/<path>` (same filesystem, O(1) per
//! subtree), and the exact way back.
//!
//! Journal (`<trash>/<gen>/journal.json`, written atomically, 0600) records
//! the phase and the full list of moves *before* the first rename. Each move
//! is a single `rename(2)`, so after a crash every listed path is either at
//! its source or in the trash; recovery decides per entry by existence:
//!
//! | phase | meaning | recovery |
//! |---|---|---|
//! | `moving` | renames in progress | [`Trash::resume`] finishes them, or [`Trash::rollback`] |
//! | `moved` | all non-kept paths are in the trash, nothing new written | run the files stage, or roll back (renames only) |
//! | `provisioning` | the new config is being written | re-run the files stage (idempotent), or roll back |
//! | `provisioned` | new generation written and recorded; waiting for confirm | `confirm` purges, `rollback` restores |
//! | `rolling-back` | new state moved to `new/`, old state moved back | [`Trash::rollback`] again (idempotent) |
//! | `rolled-back` | the old state is back | purge the trash directory |
//!
//! Purging renames `<gen>` to `<gen>.purging` first, so a crash mid-purge
//! never leaves a half-deleted trash that looks restorable; the deletion
//! itself ([`purge`]) is parallel, descriptor-relative and idempotent.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::failpoint::{self, Failpoint};
use crate::keep::{KeepPattern, KeepSet};
use crate::scan::Scan;
use crate::util;

/// Name of the trash directory at the top of the root filesystem.
pub const TRASH_DIR: &str = ".reignite-trash";

/// Errors of trash operations.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrashError {
    /// A filesystem operation failed.
    #[error("{op} {path}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// On which path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Both the original and the trashed copy of a path exist.
    #[error("cannot restore /{0}: something new exists at that path and it is not kept; it was left in the trash")]
    Conflict(String),
    /// A failpoint tripped (tests).
    #[error(transparent)]
    Failpoint(#[from] Failpoint),
    /// The journal's keep-set no longer compiles.
    #[error(transparent)]
    Keep(#[from] crate::keep::KeepError),
    /// Scanning the root failed.
    #[error(transparent)]
    Scan(#[from] crate::scan::ScanError),
}

fn io<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> TrashError + 'a {
    move |source| TrashError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// The phase of a transition, as recorded in the journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// Renames into the trash in progress.
    Moving,
    /// Everything non-kept is in the trash; nothing new written yet.
    Moved,
    /// The new config is being written (committed before the files stage).
    Provisioning,
    /// The new generation is provisioned and recorded.
    Provisioned,
    /// Returning to the previous state.
    RollingBack,
    /// The previous state is back.
    RolledBack,
}

/// The journal of one transition.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Journal {
    /// Format version (1).
    pub version: u32,
    /// The generation this transition creates.
    pub generation: u64,
    /// The generation active before it.
    pub from_generation: Option<u64>,
    /// Current phase.
    pub phase: Phase,
    /// The keep-set in force.
    pub keep: Vec<KeepPattern>,
    /// Root-relative paths moved into `old/`.
    pub moved: Vec<String>,
    /// `reset` (everything non-kept moves) or `switch` (only the previous
    /// generation's nodes move).
    #[serde(default = "default_kind")]
    pub kind: String,
    /// Root-relative paths moved into `new/` by a rollback.
    #[serde(default)]
    pub aside: Vec<String>,
}

fn default_kind() -> String {
    "reset".into()
}

/// The trash of one target root.
#[derive(Debug, Clone)]
pub struct Trash {
    root: PathBuf,
}

fn exists(p: &Path) -> bool {
    std::fs::symlink_metadata(p).is_ok()
}

impl Trash {
    /// The trash of target root `root`.
    pub fn new(root: &Path) -> Self {
        Trash {
            root: root.to_path_buf(),
        }
    }

    /// `<root>/.reignite-trash/<gen>`.
    pub fn dir(&self, generation: u64) -> PathBuf {
        self.root.join(TRASH_DIR).join(generation.to_string())
    }

    /// Reads the journal of `generation`, if any.
    pub fn journal(&self, generation: u64) -> Result<Option<Journal>, TrashError> {
        let p = self.dir(generation).join("journal.json");
        util::read_json(&p).map_err(io("reading", &p))
    }

    /// Every journal in the trash, oldest generation first.
    pub fn journals(&self) -> Result<Vec<Journal>, TrashError> {
        let top = self.root.join(TRASH_DIR);
        let rd = match std::fs::read_dir(&top) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io("reading", &top)(e)),
        };
        let mut gens: Vec<u64> = rd
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse().ok())
            .collect();
        gens.sort_unstable();
        let mut out = Vec::new();
        for g in gens {
            if let Some(j) = self.journal(g)? {
                out.push(j);
            }
        }
        Ok(out)
    }

    fn save(&self, j: &Journal) -> Result<(), TrashError> {
        let d = self.dir(j.generation);
        util::write_json(&d, "journal.json", j, 0o600).map_err(io("writing journal in", &d))
    }

    /// Records `phase` in the journal (a commit point).
    pub fn set_phase(&self, j: &mut Journal, phase: Phase) -> Result<(), TrashError> {
        j.phase = phase;
        self.save(j)?;
        failpoint::hit(match phase {
            Phase::Moving => "trash::phase-moving",
            Phase::Moved => "trash::phase-moved",
            Phase::Provisioning => "trash::phase-provisioning",
            Phase::Provisioned => "trash::phase-provisioned",
            Phase::RollingBack => "trash::phase-rolling-back",
            Phase::RolledBack => "trash::phase-rolled-back",
        })?;
        Ok(())
    }

    /// Starts a transition to `generation`: journals the removals of `scan`
    /// and moves them into the trash. Returns the journal in phase `moved`.
    pub fn begin(
        &self,
        generation: u64,
        from_generation: Option<u64>,
        keep: &KeepSet,
        scan: &Scan,
    ) -> Result<Journal, TrashError> {
        self.begin_kind(generation, from_generation, keep, scan, "reset")
    }

    /// [`Trash::begin`] for a transition of `kind` (`reset`, `switch`).
    pub fn begin_kind(
        &self,
        generation: u64,
        from_generation: Option<u64>,
        keep: &KeepSet,
        scan: &Scan,
        kind: &str,
    ) -> Result<Journal, TrashError> {
        let d = self.dir(generation);
        if exists(&d) {
            // A leftover of an abandoned earlier attempt at this generation
            // that never got a journal (crash before the first commit).
            if self.journal(generation)?.is_some() {
                return Err(TrashError::Io {
                    op: "starting a transition in",
                    path: d,
                    source: std::io::Error::new(
                        std::io::ErrorKind::AlreadyExists,
                        "an unfinished transition exists; run `reignite boot`, `rollback` or `confirm` first",
                    ),
                });
            }
            std::fs::remove_dir_all(&d).map_err(io("removing", &d))?;
        }
        util::mkdir_p(&d.join("old")).map_err(io("creating", &d))?;
        let mut j = Journal {
            version: 1,
            generation,
            from_generation,
            phase: Phase::Moving,
            keep: keep.declared().cloned().collect(),
            moved: scan.removals.iter().map(|r| r.path.clone()).collect(),
            kind: kind.to_string(),
            aside: Vec::new(),
        };
        self.set_phase(&mut j, Phase::Moving)?;
        self.resume(&mut j)?;
        Ok(j)
    }

    /// Finishes the renames of a journal in phase `moving` (idempotent) and
    /// commits phase `moved`. Other phases are left unchanged.
    pub fn resume(&self, j: &mut Journal) -> Result<(), TrashError> {
        if j.phase != Phase::Moving {
            return Ok(());
        }
        let old = self.dir(j.generation).join("old");
        for p in &j.moved {
            let src = self.root.join(p);
            let dst = old.join(p);
            if exists(&src) && !exists(&dst) {
                if let Some(parent) = dst.parent() {
                    util::mkdir_p(parent).map_err(io("creating", parent))?;
                }
                failpoint::hit("trash::rename")?;
                std::fs::rename(&src, &dst).map_err(io("moving to the trash", &src))?;
            }
        }
        util::sync_fs(&self.root).map_err(io("syncing", &self.root))?;
        self.set_phase(j, Phase::Moved)
    }

    /// Returns the root to the state before the transition: everything not
    /// kept that exists now is moved into `new/`, then every moved path is
    /// renamed back. Idempotent; safe to re-run after a crash at any point.
    /// The trash directory of the generation is purged at the end.
    pub fn rollback(&self, j: &mut Journal) -> Result<(), TrashError> {
        self.rollback_with(j, None)
    }

    /// [`Trash::rollback`] with the list of paths the transition wrote given
    /// by the caller (a `switch` knows them from the new manifest) instead of
    /// everything the keep-set does not keep.
    pub fn rollback_with(
        &self,
        j: &mut Journal,
        written: Option<Vec<String>>,
    ) -> Result<(), TrashError> {
        if j.phase == Phase::RolledBack {
            return self.purge(j.generation);
        }
        let d = self.dir(j.generation);
        let wrote_new = matches!(j.phase, Phase::Provisioning | Phase::Provisioned);
        if j.phase != Phase::RollingBack && wrote_new {
            let keep = KeepSet::new(
                j.keep
                    .iter()
                    .map(KeepPattern::reparse)
                    .collect::<Result<_, _>>()?,
            )?;
            // Only what the transition wrote is moved aside: paths that
            // were moved to the trash are restored over an empty spot.
            j.aside = match written {
                Some(w) => w,
                None => crate::scan::scan(&self.root, &keep)?
                    .removals
                    .into_iter()
                    .map(|r| r.path)
                    .collect(),
            };
            util::mkdir_p(&d.join("new")).map_err(io("creating", &d))?;
            self.set_phase(j, Phase::RollingBack)?;
        } else if j.phase != Phase::RollingBack {
            // Nothing new was written: renaming back is the whole rollback.
            j.aside.clear();
            self.set_phase(j, Phase::RollingBack)?;
        }
        let new = d.join("new");
        for p in &j.aside {
            let src = self.root.join(p);
            let dst = new.join(p);
            if exists(&src) && !exists(&dst) {
                if let Some(parent) = dst.parent() {
                    util::mkdir_p(parent).map_err(io("creating", parent))?;
                }
                failpoint::hit("trash::aside")?;
                std::fs::rename(&src, &dst).map_err(io("moving aside", &src))?;
            }
        }
        let old = d.join("old");
        let mut conflicts = Vec::new();
        for p in &j.moved {
            let src = old.join(p);
            let dst = self.root.join(p);
            if !exists(&src) {
                continue;
            }
            if exists(&dst) {
                conflicts.push(p.clone());
                continue;
            }
            if let Some(parent) = dst.parent() {
                std::fs::create_dir_all(parent).map_err(io("creating", parent))?;
            }
            failpoint::hit("trash::restore")?;
            std::fs::rename(&src, &dst).map_err(io("restoring", &dst))?;
        }
        if let Some(c) = conflicts.into_iter().next() {
            return Err(TrashError::Conflict(c));
        }
        util::sync_fs(&self.root).map_err(io("syncing", &self.root))?;
        self.set_phase(j, Phase::RolledBack)?;
        self.purge(j.generation)
    }

    /// Before re-running an interrupted provisioning (phase
    /// `provisioning`): everything not kept that exists now was written by
    /// the interrupted attempt (the previous state is all in `old/`), so it
    /// is moved to `partial/` and deleted — including temporary files of
    /// interrupted atomic writes. Idempotent. Returns how many subtrees.
    pub fn clear_partial(&self, j: &Journal, keep: &KeepSet) -> Result<usize, TrashError> {
        if j.phase != Phase::Provisioning {
            return Ok(0);
        }
        let partial = self.dir(j.generation).join("partial");
        if exists(&partial) {
            std::fs::remove_dir_all(&partial).map_err(io("removing", &partial))?;
        }
        let scan = crate::scan::scan(&self.root, keep)?;
        for r in &scan.removals {
            let src = self.root.join(&r.path);
            let dst = partial.join(&r.path);
            if let Some(parent) = dst.parent() {
                util::mkdir_p(parent).map_err(io("creating", parent))?;
            }
            std::fs::rename(&src, &dst).map_err(io("moving aside", &src))?;
        }
        if exists(&partial) {
            std::fs::remove_dir_all(&partial).map_err(io("removing", &partial))?;
        }
        Ok(scan.removals.len())
    }

    /// Deletes the trash of `generation` for good (after confirm or a
    /// finished rollback).
    pub fn purge(&self, generation: u64) -> Result<(), TrashError> {
        let d = self.dir(generation);
        let purging = self
            .root
            .join(TRASH_DIR)
            .join(format!("{generation}.purging"));
        if exists(&d) {
            std::fs::rename(&d, &purging).map_err(io("renaming", &d))?;
            failpoint::hit("trash::purge")?;
        }
        self.purge_leftovers()
    }

    /// Removes `*.purging` leftovers of interrupted purges.
    pub fn purge_leftovers(&self) -> Result<(), TrashError> {
        let top = self.root.join(TRASH_DIR);
        let Ok(rd) = std::fs::read_dir(&top) else {
            return Ok(());
        };
        for e in rd.flatten() {
            if e.file_name().to_string_lossy().ends_with(".purging") {
                // Never delete into another filesystem, whatever happened.
                if !crate::scan::mounts_below(&e.path()).is_empty() {
                    return Err(TrashError::Io {
                        op: "purging",
                        path: e.path(),
                        source: std::io::Error::other(
                            "a filesystem is mounted inside the trash; unmount it first",
                        ),
                    });
                }
                let top = e.path();
                purge::purge_tree(&top, purge::default_threads()).map_err(|f| TrashError::Io {
                    op: f.op,
                    path: top.join(&f.rel),
                    source: f.source,
                })?;
            }
        }
        Ok(())
    }
}

mod purge;
#[cfg(test)]
mod tests;
