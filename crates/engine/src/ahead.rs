//! Journal lines written ahead for new files with inline contents.
//!
//! Every file the files stage creates is announced in the journal (a
//! `created` and an `intent` line with the sha256 of its contents) before it
//! appears, so a re-run after an interruption recognises it as reignite's
//! own. One journal write per file costs as much as writing the file itself,
//! so for a window of upcoming nodes at a time, the files that are absent
//! and whose contents are in the config (`data:` URLs, or no source) are
//! decoded and hashed first and announced together in one write; each is
//! then created from the decoded bytes. An announcement for a file that an
//! interruption kept from being created is harmless: on the re-run the file
//! is absent and is simply created. A window entry whose contents cannot be
//! decoded (or that exists, is overwritten or has appends) is not announced
//! ahead and goes the usual way, failing in its turn.
//!
//! A file announced ahead is still absent at its turn: only its own entry
//! creates that path (resolved paths are unique), and other entries only
//! create its parents or remove things. Its turn therefore does not look
//! again; should something outside the apply create it meanwhile, it is
//! replaced atomically, as after any lookup.

use std::collections::HashSet;

use reignite_spec::File;

use crate::context::{ApplyError, Ctx, HashingWriter, JournalEntry};
use crate::files::fetch_with;
use crate::root::split_parent;

/// Upcoming nodes looked at per journal write.
pub(crate) const WINDOW: usize = 128;

/// Decoded contents of a file announced ahead, and their sha256.
#[derive(Debug)]
pub(crate) struct Prepared {
    pub data: Vec<u8>,
    pub sha256: String,
}

fn inline(f: &File) -> bool {
    f.node.overwrite != Some(true)
        && f.append.is_empty()
        && f.contents
            .source
            .as_deref()
            .is_none_or(|s| s.starts_with("data:"))
}

/// Announces the absent inline-content files among `files` (resolved path,
/// entry) in one journal write and keeps their contents in `ctx.prepared`.
pub(crate) fn announce<'f>(
    ctx: &mut Ctx<'_>,
    files: impl Iterator<Item = (&'f str, &'f File)>,
) -> Result<(), ApplyError> {
    let mut lines = Vec::new();
    // Parents found missing: nothing below them exists (one lookup each).
    let mut missing: HashSet<&str> = HashSet::new();
    for (resolved, f) in files {
        if !inline(f) || ctx.prepared.contains_key(resolved) {
            continue;
        }
        let parent = split_parent(resolved).0;
        if !missing.contains(parent) {
            match ctx.root_lstat_parent_missing(resolved) {
                Ok((None, true)) => {
                    missing.insert(parent);
                }
                Ok((None, false)) => {}
                _ => continue,
            }
        }
        let mut w = HashingWriter::new(Vec::new());
        if f.contents.source.is_some()
            && fetch_with(ctx.fetcher, &f.node.path, &f.contents, &mut w).is_err()
        {
            continue;
        }
        let (data, sha256, _) = w.finish();
        lines.push(JournalEntry::Created {
            what: resolved.to_string(),
        });
        lines.push(JournalEntry::Intent {
            path: resolved.to_string(),
            sha256: sha256.clone(),
        });
        ctx.prepared
            .insert(resolved.to_string(), Prepared { data, sha256 });
    }
    ctx.journal.append_all(&lines)
}
