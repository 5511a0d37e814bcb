//! Returning to the previous generation.
//!
//! After a reset the trash holds the previous root: rollback renames it back
//! exactly (see [`crate::trash::Trash::rollback`]) and marks the store.

use std::path::Path;

use crate::boot::BootError;
use crate::generations::Store;
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
    let trash = Trash::new(root);
    let Some(mut j) = trash.journals()?.pop() else {
        return Ok(None);
    };
    if j.phase == Phase::RolledBack {
        trash.purge(j.generation)?;
        return Ok(None);
    }
    rollback_reset(root, &mut j).map(Some)
}

/// `reignite confirm`: commits the current generation and purges every
/// finished transition's trash. Returns the purged generations.
pub fn confirm(root: &Path) -> Result<Vec<u64>, BootError> {
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
