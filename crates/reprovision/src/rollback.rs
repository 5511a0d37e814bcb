//! Returning to the previous generation.
//!
//! After a reset the trash holds the previous root: rollback renames it back
//! exactly (see [`crate::trash::Trash::rollback`]) and marks the store. On a
//! live root the `_with` variants also carry out the unit actions of going
//! back (see [`crate::systemd`]) and stop a pending `--try` revert timer.

use std::path::Path;

use crate::boot::BootError;
use crate::generations::Store;
use crate::systemd::{Systemd, SystemdReport};
use crate::trash::{Journal, Phase, Trash};

/// Rolls back the reset or switch recorded by journal `j`; returns the generation that
/// is current afterwards.
pub fn rollback_reset(root: &Path, j: &mut Journal) -> Result<u64, BootError> {
    let trash = Trash::new(root);
    let store = Store::new(root);
    if j.kind == "switch" {
        crate::switch::rollback_switch(root, j)?;
    } else {
        trash.rollback(j)?;
    }
    let to = match j.from_generation {
        Some(f) => f,
        None => return Ok(0),
    };
    store.mark_rolled_back(to)?;
    Ok(to)
}

/// `reignite rollback` after a reset: the newest transition whose trash is
/// still there is undone. Returns the generation now current, or `None` when
/// nothing can be rolled back from the trash.
pub fn rollback_latest(root: &Path) -> Result<Option<u64>, BootError> {
    rollback_latest_with(root, &Systemd::skipped("not requested")).map(|(g, _)| g)
}

/// [`rollback_latest`] with the unit actions of going back on a live root:
/// units only the undone generation has are stopped before their files go,
/// then daemon-reload, presets and (with `--restart-units`) restarts. A
/// unit action failing after the files are back is reported in the
/// report's `error`.
pub fn rollback_latest_with(
    root: &Path,
    systemd: &Systemd,
) -> Result<(Option<u64>, SystemdReport), BootError> {
    let trash = Trash::new(root);
    let store = Store::new(root);
    let Some(mut j) = trash.journals()?.pop() else {
        return Ok((None, systemd.report(Default::default())));
    };
    if j.phase == Phase::RolledBack {
        trash.purge(j.generation)?;
        return Ok((None, systemd.report(Default::default())));
    }
    let cfg = |n: Option<u64>| -> Option<serde_json::Value> {
        serde_json::from_slice(&store.config(n?).ok()?).ok()
    };
    let undone = cfg(Some(j.generation)).filter(|_| j.phase == Phase::Provisioned);
    let back = cfg(j.from_generation).unwrap_or_default();
    let mut report = systemd.report(crate::systemd::unit_actions(undone.as_ref(), &back));
    systemd
        .cancel_revert(&mut report)
        .map_err(|e| BootError::Systemd(e.to_string()))?;
    systemd
        .before_files(&mut report)
        .map_err(|e| BootError::Systemd(e.to_string()))?;
    let to = rollback_reset(root, &mut j)?;
    let _ = systemd.after_files(&mut report);
    Ok((Some(to), report))
}

/// `reignite confirm`: commits the current generation and purges every
/// finished transition's trash. Returns the purged generations.
pub fn confirm(root: &Path) -> Result<Vec<u64>, BootError> {
    confirm_with(root, &Systemd::skipped("not requested")).map(|(p, _)| p)
}

/// [`confirm`], then stopping a pending `--try` revert timer on a live
/// root. The commit comes first: a timer that cannot be stopped finds the
/// generation confirmed and does nothing (`rollback --if-unconfirmed`); the
/// failure is in the report's `error`.
pub fn confirm_with(
    root: &Path,
    systemd: &Systemd,
) -> Result<(Vec<u64>, SystemdReport), BootError> {
    let purged = confirm_inner(root)?;
    let mut report = systemd.report(Default::default());
    let _ = systemd.cancel_revert(&mut report);
    Ok((purged, report))
}

fn confirm_inner(root: &Path) -> Result<Vec<u64>, BootError> {
    let trash = Trash::new(root);
    let store = Store::new(root);
    let st = store.state()?;
    if st.current != st.confirmed {
        store.confirm()?;
    }
    let mut purged = Vec::new();
    for j in trash.journals()? {
        match j.phase {
            Phase::Provisioned | Phase::RolledBack => {
                trash.purge(j.generation)?;
                purged.push(j.generation);
            }
            // An unfinished transition is never purged: `boot` resumes it.
            _ => {}
        }
    }
    trash.purge_leftovers()?;
    Ok(purged)
}
