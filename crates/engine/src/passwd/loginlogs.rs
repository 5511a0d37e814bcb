//! `usermod --uid`'s updates of the per-uid login records in the target:
//! `/var/log/lastlog` (292-byte `struct lastlog`) and `/var/log/faillog`
//! (32-byte `struct faillog`), both arrays indexed by uid (x86_64 and other
//! LP64 layouts). As shadow-utils 4.13's `update_lastlog`/`update_faillog`:
//! when the file exists, the old uid's record is copied to the new uid's
//! slot (the old one stays); when the file is too short to hold the old
//! record, an existing record at the new slot whose first field (login time,
//! failure count) is non-zero is zeroed. `LASTLOG_UID_MAX` (login.defs)
//! bounds the lastlog update.

use std::os::unix::fs::FileExt;

use rustix::fs::{Mode, OFlags, ResolveFlags};

use crate::accounts::Defs;
use crate::context::{ApplyError, Ctx, IoContext};

/// One per-uid record file.
struct Log {
    path: &'static str,
    record: usize,
    /// Bytes of the field that says whether a record is in use.
    key: usize,
}

const LASTLOG: Log = Log {
    path: "/var/log/lastlog",
    record: 292,
    key: 4,
};

const FAILLOG: Log = Log {
    path: "/var/log/faillog",
    record: 32,
    key: 2,
};

/// Moves the login records of `old_uid` to `new_uid`.
pub(crate) fn update(
    ctx: &mut Ctx<'_>,
    defs: &Defs,
    old_uid: u32,
    new_uid: u32,
) -> Result<(), ApplyError> {
    let max = defs.num("LASTLOG_UID_MAX", i64::from(u32::MAX));
    if i64::from(new_uid) <= max {
        copy_record(ctx, &LASTLOG, old_uid, new_uid)?;
    }
    copy_record(ctx, &FAILLOG, old_uid, new_uid)
}

fn copy_record(ctx: &mut Ctx<'_>, log: &Log, old: u32, new: u32) -> Result<(), ApplyError> {
    let path = log.path;
    let fd = match rustix::fs::openat2(
        ctx.root.fd(),
        path.trim_start_matches('/'),
        OFlags::RDWR | OFlags::CLOEXEC | OFlags::NONBLOCK,
        Mode::empty(),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
    ) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::NOENT) | Err(rustix::io::Errno::NOTDIR) => return Ok(()),
        Err(e) => return Err(e).ctx(|| format!("opening {path}")),
    };
    let f = std::fs::File::from(fd);
    let at = |uid: u32| uid as u64 * log.record as u64;
    let mut rec = vec![0u8; log.record];
    let full = |f: &std::fs::File, buf: &mut [u8], off: u64| -> std::io::Result<bool> {
        let mut n = 0;
        while n < buf.len() {
            match f.read_at(&mut buf[n..], off + n as u64)? {
                0 => return Ok(false),
                k => n += k,
            }
        }
        Ok(true)
    };
    let write = if full(&f, &mut rec, at(old)).ctx(|| format!("reading {path}"))? {
        true
    } else if full(&f, &mut rec, at(new)).ctx(|| format!("reading {path}"))? {
        let in_use = rec[..log.key].iter().any(|b| *b != 0);
        rec.iter_mut().for_each(|b| *b = 0);
        in_use
    } else {
        false
    };
    if write {
        ctx.commit_point()?;
        f.write_all_at(&rec, at(new))
            .and_then(|()| f.sync_all())
            .ctx(|| format!("copying the {path} record of uid {old} to uid {new}"))?;
    }
    Ok(())
}
