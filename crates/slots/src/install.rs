//! Payload install into a slot: checks everything that can be checked before
//! the first byte is written (size, detached ed25519 signature, expected
//! SHA-256), makes the target unbootable, then streams the payload through a
//! reader → hasher → writer chain of threads while a second chain re-reads
//! every flushed window from the device (with `O_DIRECT` where supported)
//! and hashes it, so the two SHA-256 passes and the I/O overlap. Memory is a
//! few fixed buffers. Design and measured figures: docs/slots.md.

mod keys;
mod pipeline;

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::sync_channel;

use ed25519_dalek::{Signature, VerifyingKey};
use sha2::{Digest, Sha256};

pub use keys::{parse_public_key, parse_sha256, parse_signature};
use pipeline::{Chain, Source, Stage};

use crate::dev::{BlockDev, Reread, Writer};
use crate::disk::Disk;
use crate::journal::Journal;
use crate::slots::{SlotId, Slots};
use crate::Error;

/// Bytes per I/O chunk.
pub const DEFAULT_CHUNK: usize = 2 << 20;
/// Bytes written between flushes, each window then re-read by the verifier
/// while later windows are written.
pub const DEFAULT_WINDOW: u64 = 32 << 20;
/// Buffers circulating in the payload chain (reader, hasher, writer, one
/// spare) and in the verifier's chain.
const WRITE_BUFFERS: usize = 4;
const VERIFY_BUFFERS: usize = 3;

/// A public key with the signature to check the payload against.
#[derive(Debug, Clone)]
pub struct SignatureCheck {
    /// The configured key.
    pub key: VerifyingKey,
    /// The detached signature over the payload bytes (pure Ed25519, as
    /// `openssl pkeyutl -sign -rawin` makes).
    pub signature: Signature,
}

/// How to install.
#[derive(Default)]
pub struct InstallOptions<'a> {
    /// The SHA-256 the payload must have.
    pub expected_sha256: Option<[u8; 32]>,
    /// Signature to verify before writing.
    pub signature: Option<SignatureCheck>,
    /// A key is configured: refuse unsigned payloads.
    pub require_signature: bool,
    /// Activate the slot after a verified install.
    pub activate: bool,
    /// Allow table changes that leave nothing bootable.
    pub force: bool,
    /// Chunk size (default [`DEFAULT_CHUNK`]).
    pub chunk_size: Option<usize>,
    /// Bytes written between flushes when verifying behind the writer
    /// (default [`DEFAULT_WINDOW`]).
    pub verify_window: Option<u64>,
    /// Called with (phase, bytes done, bytes total).
    pub progress: Option<&'a (dyn Fn(&str, u64, u64) + Sync)>,
}

impl std::fmt::Debug for InstallOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InstallOptions")
            .field("expected_sha256", &self.expected_sha256.map(hex::encode))
            .field("signature", &self.signature.is_some())
            .field("require_signature", &self.require_signature)
            .field("activate", &self.activate)
            .finish()
    }
}

/// What an install did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct InstallReport {
    /// Target slot.
    pub slot: SlotId,
    /// Payload size.
    pub bytes: u64,
    /// SHA-256 of the payload, as written and as re-read.
    pub sha256: String,
    /// Whether the signature was verified.
    pub signature_verified: bool,
    /// Whether the slot was activated.
    pub activated: bool,
}

fn io_err(context: String) -> impl FnOnce(std::io::Error) -> Error {
    move |source| Error::Io { context, source }
}

/// Reads the payload in chunks (the chains' source). `buf` may be padded
/// up to an alignment; only the payload's bytes are read into it.
fn payload_source<'f>(file: &'f File, path: &'f Path, size: u64) -> Source<'f> {
    Box::new(move |off, buf| {
        let n = (size - off).min(buf.len() as u64) as usize;
        file.read_exact_at(&mut buf[..n], off)
            .map_err(io_err(format!(
                "reading payload {} at byte {off}",
                path.display()
            )))
    })
}

fn hash_stage(h: &mut Sha256) -> Stage<'_> {
    Box::new(move |_, b| {
        h.update(b);
        Ok(())
    })
}

type Progress<'p> = &'p (dyn Fn(&str, u64, u64) + Sync);

/// The pass before anything is written: SHA-256 and, when a signature is
/// given, the Ed25519 check, each on its own thread.
fn check_pass(
    file: &File,
    path: &Path,
    size: u64,
    chunk: usize,
    signature: Option<&SignatureCheck>,
    progress: Progress<'_>,
) -> Result<[u8; 32], Error> {
    let mut h = Sha256::new();
    let mut verifier = match signature {
        Some(s) => Some(s.key.verify_stream(&s.signature).map_err(|e| {
            Error::Signature(format!("malformed signature: {e}; nothing was written"))
        })?),
        None => None,
    };
    {
        let mut stages = vec![hash_stage(&mut h)];
        if let Some(v) = verifier.as_mut() {
            stages.push(Box::new(move |_, b: &[u8]| {
                v.update(b);
                Ok(())
            }));
        }
        stages.push(Box::new(|off, b: &[u8]| {
            progress("checking", off + b.len() as u64, size);
            Ok(())
        }));
        Chain {
            total: size,
            chunk,
            buffers: WRITE_BUFFERS,
            align: 1,
        }
        .run(payload_source(file, path, size), stages)?;
    }
    if let Some(v) = verifier {
        v.finalize_and_verify().map_err(|_| {
            Error::Signature(format!(
                "payload {} does not match its signature under the configured key; nothing was written",
                path.display()
            ))
        })?;
    }
    Ok(h.finalize().into())
}

/// Where the payload goes and how.
struct Job<'a> {
    file: &'a File,
    path: &'a Path,
    base: u64,
    size: u64,
    chunk: usize,
    window: u64,
    target: SlotId,
    progress: Progress<'a>,
}

/// The stage that writes each chunk at `base + off` (the aligned part
/// through `direct` when given, the rest through `dev`) and, every `window`
/// bytes and at the end, reports the end of the written range on `done`.
/// A direct write refused with `EINVAL` (a file system stricter than it
/// said) switches this and every later chunk to `dev` and sets `buffered`,
/// so the flusher goes back to flushing every window.
fn write_stage<'a, D: BlockDev + Send>(
    dev: &'a mut D,
    mut direct: Option<(Writer, usize)>,
    buffered: &'a AtomicBool,
    job: &'a Job<'a>,
    mut done: impl FnMut(u64) -> Result<(), Error> + Send + 'a,
) -> Stage<'a> {
    let mut reported = 0u64;
    Box::new(move |off, b: &[u8]| {
        let err = |at: u64| io_err(format!("writing {} at byte {at}", job.target));
        let mut split = 0;
        if let Some((w, align)) = direct.as_mut() {
            let n = b.len() / *align * *align;
            match w(job.base + off, &b[..n]) {
                Ok(()) => split = n,
                Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => {
                    tracing::debug!("direct write refused ({e}); writing through the page cache");
                    direct = None;
                    buffered.store(true, Ordering::Release);
                }
                Err(e) => return Err(err(off)(e)),
            }
        }
        if split < b.len() {
            let at = off + split as u64;
            dev.write_at(job.base + at, &b[split..]).map_err(err(at))?;
        }
        let end = off + b.len() as u64;
        (job.progress)("writing", end, job.size);
        if end - reported >= job.window || end == job.size {
            done(end)?;
            reported = end;
        }
        Ok(())
    })
}

/// Writes the payload and, on other threads, flushes each finished window
/// and re-reads it from the device. Returns the SHA-256 of what was written
/// (when `hash_written`) and of what was read back.
fn write_and_verify<D: BlockDev + Send>(
    dev: &mut D,
    reread: Reread,
    job: &Job<'_>,
    hash_written: bool,
) -> Result<(Option<[u8; 32]>, [u8; 32]), Error> {
    let Reread {
        mut flush,
        buffered,
        direct,
    } = reread;
    let (base, size, target) = (job.base, job.size, job.target);
    let dev_len = dev.len_bytes();
    // Direct reads need aligned offsets and lengths; the slot start and the
    // chunk size usually are, and the last chunk is read rounded up (the
    // bytes past the payload are not hashed).
    let (mut read, align, direct_write) = match direct {
        Some(d)
            if base % d.align as u64 == 0
                && job.chunk % d.align == 0
                && base + size.div_ceil(d.align as u64) * d.align as u64 <= dev_len =>
        {
            (d.read, d.align, d.write.map(|w| (w, d.align)))
        }
        _ => (buffered, 1, None),
    };
    // Direct writes are on the device when they return, so only the last
    // window (with the unaligned tail written through the page cache) needs
    // the flush before it is re-read; buffered writes are flushed and
    // dropped from the cache window by window.
    let flush_every_window = direct_write.is_none();
    let buffered = AtomicBool::new(flush_every_window);
    tracing::debug!(
        "writing {target} {}, re-reading it {}",
        if flush_every_window {
            "through the page cache"
        } else {
            "with O_DIRECT"
        },
        if align > 1 {
            "with O_DIRECT"
        } else {
            "through the page cache after flush and drop"
        }
    );
    let writing_done = AtomicBool::new(false);
    let buffered = &buffered;
    std::thread::scope(|scope| {
        // writer → flusher: ends of written windows; flusher → verifier:
        // ends of durable windows.
        let (written_tx, written_rx) = sync_channel::<u64>(1024);
        let (durable_tx, durable_rx) = sync_channel::<u64>(1024);
        let flusher = scope.spawn(move || -> Result<(), Error> {
            let mut from = 0u64;
            for end in written_rx {
                if buffered.load(Ordering::Acquire) || end == size {
                    flush(base + from, end - from)
                        .map_err(io_err(format!("flushing {target} up to byte {end}")))?;
                    from = end;
                }
                // A closed channel means the verifier failed; its error is
                // reported when it is joined.
                let _ = durable_tx.send(end);
            }
            Ok(())
        });
        let writing_done = &writing_done;
        let verifier = scope.spawn(move || -> Result<[u8; 32], Error> {
            let mut vh = Sha256::new();
            let mut durable = 0u64;
            let source: Source<'_> = Box::new(move |off, buf| {
                let need = (off + buf.len() as u64).min(size);
                while durable < need {
                    durable = durable_rx.recv().map_err(|_| {
                        Error::Verify(format!(
                            "the write of {target} stopped at byte {durable}, before byte {need} was written"
                        ))
                    })?;
                }
                read(base + off, buf).map_err(io_err(format!("re-reading {target} at byte {off}")))
            });
            let progress_stage: Stage<'_> = Box::new(|off, b: &[u8]| {
                if writing_done.load(Ordering::Relaxed) {
                    (job.progress)("verifying", off + b.len() as u64, size);
                }
                Ok(())
            });
            Chain {
                total: size,
                chunk: job.chunk,
                buffers: VERIFY_BUFFERS,
                align,
            }
            .run(source, vec![hash_stage(&mut vh), progress_stage])?;
            Ok(vh.finalize().into())
        });
        let mut wh = hash_written.then(Sha256::new);
        let write_result = {
            let mut stages = Vec::new();
            if let Some(h) = wh.as_mut() {
                stages.push(hash_stage(h));
            }
            let write_align = if flush_every_window { 1 } else { align };
            stages.push(write_stage(dev, direct_write, buffered, job, move |end| {
                written_tx
                    .send(end)
                    .map_err(|_| Error::Verify(format!("the flusher of {target} stopped")))
            }));
            Chain {
                total: size,
                chunk: job.chunk,
                buffers: WRITE_BUFFERS,
                align: write_align,
            }
            .run(payload_source(job.file, job.path, size), stages)
        };
        writing_done.store(true, Ordering::Relaxed);
        let flushed = flusher
            .join()
            .unwrap_or_else(|_| Err(pipeline_panic("flusher")));
        let verified = verifier
            .join()
            .unwrap_or_else(|_| Err(pipeline_panic("verifier")));
        // The flusher's error explains a writer that stopped because of it;
        // a write error explains a verifier that ran out of data.
        flushed?;
        write_result?;
        let reread = verified?;
        Ok((wh.map(|h| h.finalize().into()), reread))
    })
}

fn pipeline_panic(what: &str) -> Error {
    Error::Io {
        context: format!("{what} thread"),
        source: std::io::Error::other("panicked"),
    }
}

/// For devices without a second handle: write everything, flush, drop the
/// cache, then re-read through the device.
fn write_then_verify<D: BlockDev + Send>(
    dev: &mut D,
    job: &Job<'_>,
    hash_written: bool,
) -> Result<(Option<[u8; 32]>, [u8; 32]), Error> {
    let (base, size, target) = (job.base, job.size, job.target);
    let mut wh = hash_written.then(Sha256::new);
    {
        let mut stages = Vec::new();
        if let Some(h) = wh.as_mut() {
            stages.push(hash_stage(h));
        }
        let buffered = AtomicBool::new(true);
        stages.push(write_stage(&mut *dev, None, &buffered, job, |_| Ok(())));
        Chain {
            total: size,
            chunk: job.chunk,
            buffers: WRITE_BUFFERS,
            align: 1,
        }
        .run(payload_source(job.file, job.path, size), stages)?;
    }
    dev.flush().map_err(io_err(format!("flushing {target}")))?;
    // Re-read from the device, not from the page cache.
    dev.drop_cache(base, size);
    let mut rh = Sha256::new();
    {
        let d = &mut *dev;
        let source: Source<'_> = Box::new(move |off, buf| {
            d.read_at(base + off, buf)
                .map_err(io_err(format!("re-reading {target} at byte {off}")))
        });
        let progress_stage: Stage<'_> = Box::new(|off, b: &[u8]| {
            (job.progress)("verifying", off + b.len() as u64, size);
            Ok(())
        });
        Chain {
            total: size,
            chunk: job.chunk,
            buffers: VERIFY_BUFFERS,
            align: 1,
        }
        .run(source, vec![hash_stage(&mut rh), progress_stage])?;
    }
    Ok((wh.map(|h| h.finalize().into()), rh.finalize().into()))
}

/// Installs the payload at `payload` into slot `target`.
pub fn install<D: BlockDev + Send>(
    disk: &mut Disk<D>,
    journal: Option<&Journal>,
    target: SlotId,
    payload: &Path,
    opts: &InstallOptions<'_>,
) -> Result<InstallReport, Error> {
    let chunk = opts.chunk_size.unwrap_or(DEFAULT_CHUNK).max(4096);
    let noop = |_: &str, _: u64, _: u64| {};
    let progress: &(dyn Fn(&str, u64, u64) + Sync) = opts.progress.unwrap_or(&noop);
    let file = File::open(payload).map_err(|source| Error::Io {
        context: format!("opening payload {}", payload.display()),
        source,
    })?;
    let size = file
        .metadata()
        .map_err(|source| Error::Io {
            context: format!("reading size of payload {}", payload.display()),
            source,
        })?
        .len();
    let (header, entries) = disk.current();
    let slots = Slots::find(entries, header.entry_size())?;
    let slot = slots.get(target).clone();
    let ss = disk.dev().sector_size();
    // A CRC-valid table can still place a slot outside the usable range or
    // past the end of the device; writing there would hit the GPT, another
    // partition or grow an image file.
    if slot.first_lba < header.first_usable()
        || slot.last_lba > header.last_usable()
        || slot.last_lba >= disk.dev().sectors()
        || slot.sectors() == 0
    {
        return Err(Error::Refused(format!(
            "{target} spans LBA {}..={}, outside the usable range {}..={} of the device ({} sectors); nothing was written",
            slot.first_lba,
            slot.last_lba,
            header.first_usable(),
            header.last_usable(),
            disk.dev().sectors()
        )));
    }
    let capacity = slot.sectors() * ss;
    if size == 0 {
        return Err(Error::Refused(format!(
            "payload {} is empty",
            payload.display()
        )));
    }
    if size > capacity {
        return Err(Error::PayloadTooLarge {
            payload: size,
            slot: target,
            capacity,
        });
    }
    if opts.require_signature && opts.signature.is_none() {
        return Err(Error::Signature(
            "a payload key is configured, so a detached signature (--signature) is required; nothing was written".into(),
        ));
    }
    // Everything that can refuse the payload runs before the first write.
    let pre_hash = if opts.signature.is_some() || opts.expected_sha256.is_some() {
        let digest = check_pass(
            &file,
            payload,
            size,
            chunk,
            opts.signature.as_ref(),
            progress,
        )?;
        if let Some(want) = opts.expected_sha256 {
            if want != digest {
                return Err(Error::HashMismatch {
                    what: format!("payload {} (nothing was written)", payload.display()),
                    expected: hex::encode(want),
                    actual: hex::encode(digest),
                });
            }
        }
        Some(digest)
    } else {
        None
    };
    // A half-written slot must never be bootable.
    let disabled = slots.disable_for_install(target, opts.force)?;
    disk.commit(
        disabled.entries(),
        journal,
        &format!("disable {target} for install"),
    )?;

    let job = Job {
        file: &file,
        path: payload,
        base: slot.first_lba * ss,
        size,
        chunk,
        window: opts
            .verify_window
            .unwrap_or(DEFAULT_WINDOW)
            .max(chunk as u64),
        target,
        progress,
    };
    // With a first pass the verified digest is known: the re-read must match
    // it, which also catches a payload changed between the passes, so the
    // write pass does not hash again. Without one, the write pass hashes.
    let hash_written = pre_hash.is_none();
    let (hashed, reread) = match disk.dev().reread() {
        Some(r) => write_and_verify(disk.dev_mut(), r, &job, hash_written)?,
        None => write_then_verify(disk.dev_mut(), &job, hash_written)?,
    };
    let written: [u8; 32] = match (hashed, pre_hash) {
        (Some(h), _) | (None, Some(h)) => h,
        (None, None) => unreachable!("one of the two digests exists"),
    };
    if reread != written {
        let what = if pre_hash.is_some() {
            "the verified payload has (the payload changed while it was written, or the device corrupted it)"
        } else {
            "was written"
        };
        return Err(Error::Verify(format!(
            "{target} reads back as sha256 {} but {} {what}; {target} stays disabled",
            hex::encode(reread),
            hex::encode(written)
        )));
    }
    let mut activated = false;
    if opts.activate {
        let (header, entries) = disk.current();
        let now = Slots::find(entries, header.entry_size())?;
        let active = now.activate(target)?;
        disk.commit(active.entries(), journal, &format!("activate {target}"))?;
        activated = true;
    }
    Ok(InstallReport {
        slot: target,
        bytes: size,
        sha256: hex::encode(written),
        signature_verified: opts.signature.is_some(),
        activated,
    })
}
