//! In-place appends: `storage.files[].append` on a regular file that exists
//! (and is not overwritten) is appended to the existing inode, opened
//! `O_APPEND`, as Ignition does (ignition-semantics.md §6.5) — so every hard
//! link to the file sees the new contents and keeps sharing the inode.
//!
//! Crash safety without a copy of the file:
//! 1. every fragment is fetched and verified first, into an unnamed scratch
//!    file next to the target: a failed fetch or hash check changes nothing;
//! 2. the journal announces the append — the file's current size and sha256,
//!    and the size and sha256 it will have — and is synced (whatever the
//!    durability mode) before the first byte is appended;
//! 3. the fragments are appended and the file is fsynced, then its owner and
//!    mode are applied (chown before chmod).
//!
//! A re-run after an interruption finds the announcement: a file that has
//! the announced final size and hash was completed and is left as it is; a
//! file that still starts with the announced original contents and is no
//! longer than announced holds a partial append, is truncated back to its
//! original size and appended to again. Either way the data ends up in the
//! file exactly once. A file changed in some other way since is appended to
//! as found (with a warning). A completed apply is recorded as a generation,
//! and running the same config again is a no-op before any node is looked
//! at, so a completed append is never repeated.

use std::io::{self, Read, Seek, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::FileExt;

use reignite_spec::File;
use rustix::fs::{Mode, OFlags, Stat};
use sha2::{Digest, Sha256};

use crate::context::{ApplyError, Ctx, HashingWriter, IoContext, JournalEntry};
use crate::files::fetch_with;
use crate::manifest::{Origin, RecordKind};
use crate::passwd::lookup_ids;
use crate::root::{is_file, split_parent};

/// sha256 state after the first `n` bytes of `file` (read with `pread`, so
/// the file offset is untouched).
fn hash_prefix(file: &std::fs::File, n: u64) -> io::Result<Sha256> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut off = 0u64;
    while off < n {
        let want = usize::try_from((n - off).min(buf.len() as u64)).expect("bounded");
        let got = file.read_at(&mut buf[..want], off)?;
        if got == 0 {
            return Err(io::Error::from(io::ErrorKind::UnexpectedEof));
        }
        h.update(&buf[..got]);
        off += got as u64;
    }
    Ok(h)
}

fn hex_of(h: Sha256) -> String {
    hex::encode(h.finalize())
}

/// Appends `f.append` to the existing regular file at `resolved` (`st` is its
/// `lstat`), in place.
pub(crate) fn append_in_place(
    ctx: &mut Ctx<'_>,
    f: &File,
    resolved: &str,
    st: &Stat,
) -> Result<(), ApplyError> {
    let path = &f.node.path;
    // Unknown users or groups fail before anything is fetched or written.
    let (uid, gid) = lookup_ids(
        ctx,
        path,
        &f.node.user,
        &f.node.group,
        (st.st_uid, st.st_gid),
    )?;
    let mode = f
        .mode
        .map(|m| m as u32 & 0o7777)
        .unwrap_or(st.st_mode & 0o7777);
    let (parent, name) = split_parent(resolved);
    let dir = ctx
        .root
        .open_dir(parent)
        .ctx(|| format!("opening {parent}"))?;
    let fd = rustix::fs::openat(
        &dir,
        name,
        OFlags::RDWR | OFlags::APPEND | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .ctx(|| format!("error appending to {path:?}: opening it"))?;
    let mut file = std::fs::File::from(fd);
    let size_now = |file: &std::fs::File| -> Result<u64, ApplyError> {
        let st = rustix::fs::fstat(file).ctx(|| format!("stat() failed on {path}"))?;
        if !is_file(&st) {
            return Err(ApplyError::Conflict(format!(
                "error appending to {path:?}: can only append to files"
            )));
        }
        Ok(st.st_size as u64)
    };
    let mut size = size_now(&file)?;

    if let Some(a) = ctx.journal.appends.get(resolved).cloned() {
        let read_err = || format!("reading {path}");
        if size == a.len && hex_of(hash_prefix(&file, a.len).ctx(read_err)?) == a.sha256 {
            // The interrupted attempt appended everything; owner and mode
            // may still be missing.
            return finish(ctx, f, resolved, &file, (uid, gid, mode), (a.sha256, a.len));
        }
        if size >= a.size
            && size <= a.len
            && hex_of(hash_prefix(&file, a.size).ctx(read_err)?) == a.prefix_sha256
        {
            tracing::info!("{path}: undoing the partial append of an interrupted apply");
            rustix::fs::ftruncate(&file, a.size)
                .ctx(|| format!("truncating {path} to its size before the interrupted append"))?;
            size = a.size;
        } else {
            tracing::warn!(
                "{path} changed since an interrupted apply announced an append to it; appending to its current contents"
            );
        }
    }

    // What is there now, then every fragment, fetched and verified into a
    // scratch file before anything is appended.
    let prefix = hash_prefix(&file, size).ctx(|| format!("reading {path}"))?;
    let prefix_sha256 = hex_of(prefix.clone());
    let mut scratch = reignite_sysutil::scratch_file_in(dir.as_fd())
        .ctx(|| format!("creating a scratch file in {parent} for appending to {path}"))?;
    let mut ends = Vec::with_capacity(f.append.len());
    let (sha256, len) = {
        let mut w = HashingWriter {
            inner: io::BufWriter::with_capacity(1 << 16, &mut scratch),
            hasher: prefix,
            len: size,
        };
        for r in &f.append {
            fetch_with(ctx.fetcher, path, r, &mut w)?;
            ends.push(w.len - size);
        }
        let (buf, sha, len) = w.finish();
        buf.into_inner()
            .map_err(|e| e.into_error())
            .ctx(|| format!("writing the scratch file for {path}"))?;
        (sha, len)
    };
    scratch
        .rewind()
        .ctx(|| format!("reading the scratch file for {path}"))?;

    ctx.commit_point()?;
    ctx.journal.append_synced(&JournalEntry::Append {
        path: resolved.to_string(),
        size,
        prefix_sha256,
        len,
        sha256: sha256.clone(),
    })?;
    ctx.commit_point()?;
    let mut copied = 0u64;
    let mut buf = vec![0u8; 1 << 16];
    for (i, end) in ends.iter().enumerate() {
        let mut part = (&mut scratch).take(end - copied);
        loop {
            let n = part
                .read(&mut buf)
                .ctx(|| format!("reading the scratch file for {path}"))?;
            if n == 0 {
                break;
            }
            file.write_all(&buf[..n])
                .ctx(|| format!("error appending to {path:?}"))?;
        }
        copied = *end;
        if i + 1 < ends.len() {
            // Between two fragments: a partial append.
            ctx.commit_point()?;
        }
    }
    file.sync_all().ctx(|| format!("syncing {path}"))?;
    ctx.commit_point()?;
    finish(ctx, f, resolved, &file, (uid, gid, mode), (sha256, len))
}

/// Owner and mode (chown first: it clears setuid/setgid), manifest record
/// and event of an appended file.
fn finish(
    ctx: &mut Ctx<'_>,
    f: &File,
    resolved: &str,
    file: &std::fs::File,
    (uid, gid, mode): (u32, u32, u32),
    content: (String, u64),
) -> Result<(), ApplyError> {
    let path = &f.node.path;
    rustix::fs::fchown(
        file,
        Some(rustix::fs::Uid::from_raw(uid)),
        Some(rustix::fs::Gid::from_raw(gid)),
    )
    .ctx(|| format!("failed to change ownership of {path}"))?;
    rustix::fs::fchmod(file, Mode::from_raw_mode(mode))
        .ctx(|| format!("failed to change mode of {path}"))?;
    let created = ctx.created_before(resolved);
    ctx.record(
        resolved,
        Some(path),
        RecordKind::File,
        Origin::Declared,
        created,
        Some(content),
    )?;
    ctx.event("files", path.clone(), "appended");
    Ok(())
}
