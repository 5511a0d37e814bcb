//! Payload install into a slot: checks everything that can be checked before
//! the first byte is written (size, detached ed25519 signature, expected
//! SHA-256), makes the target unbootable, streams the payload while hashing
//! it, flushes, drops the written range from the page cache and hashes it
//! again from the device. Hashing and signature checking run on their own
//! threads beside the I/O; memory stays bounded by a few chunks.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;

use base64::Engine as _;
use ed25519_dalek::{Signature, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::dev::BlockDev;
use crate::disk::Disk;
use crate::journal::Journal;
use crate::slots::{SlotId, Slots};
use crate::Error;

/// Bytes per I/O chunk.
pub const DEFAULT_CHUNK: usize = 2 << 20;
/// Bytes flushed and handed to the verifier at a time.
pub const DEFAULT_WINDOW: u64 = 64 << 20;
/// Chunks queued per consumer thread.
const DEPTH: usize = 2;

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

/// Parses a public key: 32 raw bytes, 64 hex digits, or an Ed25519
/// `-----BEGIN PUBLIC KEY-----` PEM (as `openssl pkey -pubout` writes).
pub fn parse_public_key(data: &[u8]) -> Result<VerifyingKey, Error> {
    const SPKI_PREFIX: [u8; 12] = [
        0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
    ];
    let text = std::str::from_utf8(data).ok().map(str::trim);
    let raw: Vec<u8> =
        if let Some(pem) = text.filter(|t| t.starts_with("-----BEGIN PUBLIC KEY-----")) {
            let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
            let der = base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .map_err(|e| Error::Signature(format!("public key PEM: {e}")))?;
            match der.strip_prefix(&SPKI_PREFIX[..]) {
                Some(k) => k.to_vec(),
                None => {
                    return Err(Error::Signature(
                        "public key PEM is not an Ed25519 key".into(),
                    ))
                }
            }
        } else if let Some(h) = text.filter(|t| t.len() == 64) {
            hex::decode(h).map_err(|e| Error::Signature(format!("public key hex: {e}")))?
        } else {
            data.to_vec()
        };
    let arr: [u8; 32] = raw.as_slice().try_into().map_err(|_| {
        Error::Signature(format!(
            "public key must be 32 bytes, 64 hex digits or an Ed25519 PEM (got {} bytes)",
            data.len()
        ))
    })?;
    VerifyingKey::from_bytes(&arr).map_err(|e| Error::Signature(format!("public key: {e}")))
}

/// Parses a SHA-256 given as 64 hex digits (optionally `sha256-` or
/// `sha256:` prefixed).
pub fn parse_sha256(s: &str) -> Result<[u8; 32], Error> {
    let h = s
        .trim()
        .trim_start_matches("sha256-")
        .trim_start_matches("sha256:");
    let v = hex::decode(h).map_err(|e| Error::Refused(format!("--sha256 {s:?}: {e}")))?;
    v.as_slice()
        .try_into()
        .map_err(|_| Error::Refused(format!("--sha256 {s:?}: expected 64 hex digits")))
}

/// Parses a detached signature: 64 raw bytes, 128 hex digits or base64.
pub fn parse_signature(data: &[u8]) -> Result<Signature, Error> {
    let text = std::str::from_utf8(data).ok().map(str::trim);
    let raw = if data.len() == 64 {
        data.to_vec()
    } else if let Some(h) = text.filter(|t| t.len() == 128) {
        hex::decode(h).map_err(|e| Error::Signature(format!("signature hex: {e}")))?
    } else if let Some(b) = text {
        base64::engine::general_purpose::STANDARD
            .decode(b)
            .map_err(|e| Error::Signature(format!("signature base64: {e}")))?
    } else {
        data.to_vec()
    };
    let arr: [u8; 64] = raw.as_slice().try_into().map_err(|_| {
        Error::Signature(format!(
            "signature must be 64 bytes, 128 hex digits or base64 of 64 bytes (got {} bytes)",
            data.len()
        ))
    })?;
    Ok(Signature::from_bytes(&arr))
}

type Consumer<'a> = Box<dyn FnMut(u64, &[u8]) -> Result<(), Error> + Send + 'a>;

/// Reads `total` bytes in chunks with `read` and hands every chunk to each
/// consumer on its own thread, in order.
fn pump<'a>(
    mut read: impl FnMut(u64, &mut [u8]) -> Result<(), Error>,
    total: u64,
    chunk: usize,
    consumers: Vec<Consumer<'a>>,
    progress: &dyn Fn(u64),
) -> Result<(), Error> {
    std::thread::scope(|scope| {
        let mut senders = Vec::new();
        let mut handles = Vec::new();
        for mut c in consumers {
            let (tx, rx): (_, Receiver<(u64, Arc<Vec<u8>>)>) = sync_channel(DEPTH);
            senders.push(tx);
            handles.push(scope.spawn(move || -> Result<(), Error> {
                for (off, buf) in rx {
                    c(off, &buf)?;
                }
                Ok(())
            }));
        }
        let mut read_result = Ok(());
        let mut off = 0u64;
        'outer: while off < total {
            let n = (total - off).min(chunk as u64) as usize;
            let mut buf = vec![0u8; n];
            if let Err(e) = read(off, &mut buf) {
                read_result = Err(e);
                break;
            }
            let buf = Arc::new(buf);
            for tx in &senders {
                if tx.send((off, Arc::clone(&buf))).is_err() {
                    // A consumer failed; its error is reported below.
                    break 'outer;
                }
            }
            off += n as u64;
            progress(off);
        }
        drop(senders);
        let mut result = read_result;
        for h in handles {
            let r = h.join().unwrap_or_else(|_| {
                Err(Error::Io {
                    context: "hashing thread".into(),
                    source: io::Error::other("panicked"),
                })
            });
            if result.is_ok() {
                result = r;
            }
        }
        result
    })
}

fn sha_consumer(h: &mut Sha256) -> Consumer<'_> {
    Box::new(move |_, b| {
        h.update(b);
        Ok(())
    })
}

fn read_file_at<'f>(
    f: &'f File,
    what: &'static str,
) -> impl FnMut(u64, &mut [u8]) -> Result<(), Error> + 'f {
    move |off, buf| {
        f.read_exact_at(buf, off).map_err(|source| Error::Io {
            context: format!("reading {what} at byte {off}"),
            source,
        })
    }
}

fn flush_err(target: SlotId) -> impl FnOnce(io::Error) -> Error {
    move |source| Error::Io {
        context: format!("flushing {target}"),
        source,
    }
}

/// Streams the payload into the slot (hashing it when `h` is given) and
/// flushes.
#[allow(clippy::too_many_arguments)]
fn write_pass<D: BlockDev + Send>(
    dev: &mut D,
    file: &File,
    base: u64,
    size: u64,
    chunk: usize,
    h: Option<&mut Sha256>,
    target: SlotId,
    progress: &(dyn Fn(&str, u64, u64) + Sync),
) -> Result<(), Error> {
    {
        let d = &mut *dev;
        let writer: Consumer<'_> = Box::new(move |off, b: &[u8]| {
            d.write_at(base + off, b).map_err(|source| Error::Io {
                context: format!("writing {target} at byte {off}"),
                source,
            })
        });
        let mut consumers = vec![writer];
        if let Some(h) = h {
            consumers.push(sha_consumer(h));
        }
        pump(
            read_file_at(file, "payload"),
            size,
            chunk,
            consumers,
            &|d| progress("writing", d, size),
        )?;
    }
    dev.flush().map_err(flush_err(target))
}

/// Like [`write_pass`], with a verifier thread re-reading each flushed
/// window from the device; returns the SHA-256 of what it read.
#[allow(clippy::too_many_arguments)]
fn write_and_verify<D: BlockDev + Send>(
    dev: &mut D,
    mut reader: crate::dev::Reader,
    file: &File,
    base: u64,
    size: u64,
    chunk: usize,
    window: u64,
    h: Option<&mut Sha256>,
    target: SlotId,
    progress: &(dyn Fn(&str, u64, u64) + Sync),
) -> Result<[u8; 32], Error> {
    std::thread::scope(|scope| {
        let (wtx, wrx) = sync_channel::<(u64, u64)>(1024);
        let verifier = scope.spawn(move || -> Result<[u8; 32], Error> {
            let mut vh = Sha256::new();
            let mut buf = vec![0u8; chunk];
            for (start, end) in wrx {
                let mut off = start;
                while off < end {
                    let n = (end - off).min(chunk as u64) as usize;
                    reader(base + off, &mut buf[..n]).map_err(|source| Error::Io {
                        context: format!("re-reading {target} at byte {off}"),
                        source,
                    })?;
                    vh.update(&buf[..n]);
                    off += n as u64;
                }
            }
            Ok(vh.finalize().into())
        });
        let mut flushed = 0u64;
        let write_result = {
            let d = &mut *dev;
            let writer: Consumer<'_> = Box::new(move |off, b: &[u8]| {
                d.write_at(base + off, b).map_err(|source| Error::Io {
                    context: format!("writing {target} at byte {off}"),
                    source,
                })?;
                let end = off + b.len() as u64;
                if end - flushed >= window || end == size {
                    d.flush().map_err(flush_err(target))?;
                    d.drop_cache(base + flushed, end - flushed);
                    // A closed channel means the verifier failed; its error
                    // is reported when it is joined.
                    let _ = wtx.send((flushed, end));
                    flushed = end;
                }
                Ok(())
            });
            let mut consumers = vec![writer];
            if let Some(h) = h {
                consumers.push(sha_consumer(h));
            }
            pump(
                read_file_at(file, "payload"),
                size,
                chunk,
                consumers,
                &|d| progress("writing", d, size),
            )
        };
        let verified = verifier.join().unwrap_or_else(|_| {
            Err(Error::Io {
                context: "verifier thread".into(),
                source: io::Error::other("panicked"),
            })
        });
        write_result?;
        verified
    })
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
    let mut pre_hash = None;
    if opts.signature.is_some() || opts.expected_sha256.is_some() {
        let mut h = Sha256::new();
        let mut verifier = match &opts.signature {
            Some(s) => Some(s.key.verify_stream(&s.signature).map_err(|e| {
                Error::Signature(format!("malformed signature: {e}; nothing was written"))
            })?),
            None => None,
        };
        {
            let mut consumers = vec![sha_consumer(&mut h)];
            if let Some(v) = verifier.as_mut() {
                consumers.push(Box::new(move |_, b: &[u8]| {
                    v.update(b);
                    Ok(())
                }));
            }
            pump(
                read_file_at(&file, "payload"),
                size,
                chunk,
                consumers,
                &|d| progress("checking", d, size),
            )?;
        }
        if let Some(v) = verifier {
            v.finalize_and_verify().map_err(|_| {
                Error::Signature(format!(
                    "payload {} does not match its signature under the configured key; nothing was written",
                    payload.display()
                ))
            })?;
        }
        let digest: [u8; 32] = h.finalize().into();
        if let Some(want) = opts.expected_sha256 {
            if want != digest {
                return Err(Error::HashMismatch {
                    what: format!("payload {} (nothing was written)", payload.display()),
                    expected: hex::encode(want),
                    actual: hex::encode(digest),
                });
            }
        }
        pre_hash = Some(digest);
    }
    // A half-written slot must never be bootable.
    let disabled = slots.disable_for_install(target, opts.force)?;
    disk.commit(
        disabled.entries(),
        journal,
        &format!("disable {target} for install"),
    )?;

    let base = slot.first_lba * ss;
    // With a first pass the verified digest is known: the re-read must match
    // it, which also catches a payload changed between the passes, so the
    // write pass does not hash again. Without one, the write pass hashes.
    let mut h = pre_hash.is_none().then(Sha256::new);
    let window = opts
        .verify_window
        .unwrap_or(DEFAULT_WINDOW)
        .max(chunk as u64);
    let reread: [u8; 32] = match disk.dev().reader() {
        // Verify behind the writer: every `window` bytes are flushed, dropped
        // from the page cache and re-read by another thread while writing
        // goes on, so the re-read costs little extra time.
        Some(reader) => {
            let dev = disk.dev_mut();
            write_and_verify(
                dev,
                reader,
                &file,
                base,
                size,
                chunk,
                window,
                h.as_mut(),
                target,
                progress,
            )?
        }
        None => {
            write_pass(
                disk.dev_mut(),
                &file,
                base,
                size,
                chunk,
                h.as_mut(),
                target,
                progress,
            )?;
            // Re-read from the device, not from the page cache.
            disk.dev_mut().drop_cache(base, size);
            let mut rh = Sha256::new();
            let dev = disk.dev_mut();
            pump(
                |off, buf: &mut [u8]| {
                    dev.read_at(base + off, buf).map_err(|source| Error::Io {
                        context: format!("re-reading {target} at byte {off}"),
                        source,
                    })
                },
                size,
                chunk,
                vec![sha_consumer(&mut rh)],
                &|d| progress("verifying", d, size),
            )?;
            rh.finalize().into()
        }
    };
    let written: [u8; 32] = match (h, pre_hash) {
        (Some(h), _) => h.finalize().into(),
        (None, Some(p)) => p,
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

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};

    #[test]
    fn key_and_signature_formats() {
        let sk = SigningKey::from_bytes(&[7u8; 32]);
        let pk = sk.verifying_key();
        assert_eq!(parse_public_key(pk.as_bytes()).unwrap(), pk);
        assert_eq!(
            parse_public_key(hex::encode(pk.as_bytes()).as_bytes()).unwrap(),
            pk
        );
        let mut der = vec![
            0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
        ];
        der.extend_from_slice(pk.as_bytes());
        let pem = format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            base64::engine::general_purpose::STANDARD.encode(&der)
        );
        assert_eq!(parse_public_key(pem.as_bytes()).unwrap(), pk);
        let e = parse_public_key(b"short").unwrap_err().to_string();
        assert!(e.contains("got 5 bytes"), "{e}");
        let sig = sk.sign(b"msg");
        assert_eq!(parse_signature(&sig.to_bytes()).unwrap(), sig);
        assert_eq!(
            parse_signature(hex::encode(sig.to_bytes()).as_bytes()).unwrap(),
            sig
        );
        let b64 = base64::engine::general_purpose::STANDARD.encode(sig.to_bytes());
        assert_eq!(parse_signature(b64.as_bytes()).unwrap(), sig);
    }

    #[test]
    fn pump_delivers_every_chunk_in_order_to_every_consumer() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        let (mut a, mut b) = (Vec::new(), Vec::new());
        pump(
            |off, buf| {
                buf.copy_from_slice(&data[off as usize..off as usize + buf.len()]);
                Ok(())
            },
            data.len() as u64,
            4096,
            vec![
                Box::new(|_, c: &[u8]| {
                    a.extend_from_slice(c);
                    Ok(())
                }),
                Box::new(|_, c: &[u8]| {
                    b.extend_from_slice(c);
                    Ok(())
                }),
            ],
            &|_| {},
        )
        .unwrap();
        assert_eq!(a, data);
        assert_eq!(b, data);
    }

    #[test]
    fn pump_reports_a_consumer_failure() {
        let r = pump(
            |_, _| Ok(()),
            1 << 20,
            4096,
            vec![Box::new(|off, _: &[u8]| {
                if off >= 8192 {
                    Err(Error::Refused("boom".into()))
                } else {
                    Ok(())
                }
            })],
            &|_| {},
        );
        assert_eq!(r.unwrap_err().to_string(), "refusing: boom");
    }
}
