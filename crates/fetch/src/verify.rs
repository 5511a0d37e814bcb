//! Decompression and hash verification of a fetched stream, as Ignition's
//! `decompressCopyHashAndVerify` does it: optional gzip (multi-member), the
//! hash computed over the *decompressed* bytes, checked after everything was
//! written.

use std::cell::Cell;
use std::io::{self, Read, Write};

use sha2::{Digest, Sha256, Sha512};

use crate::error::FetchError;

/// How an expected digest is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HashCompare {
    /// File contents and CAs: the expected hex is decoded, so case does not
    /// matter (Ignition decodes with `hex.DecodeString`).
    Decoded,
    /// Merged/replaced configs: compared as a lower-case hex string
    /// (Ignition's `util.AssertValid`), so upper-case hex fails.
    LowerHexString,
}

/// A parsed `verification.hash`.
#[derive(Debug, Clone)]
pub(crate) struct Expected {
    function: HashFn,
    /// The hex text after the `-`, as written.
    hex: String,
}

#[derive(Debug, Clone, Copy)]
enum HashFn {
    Sha256,
    Sha512,
}

impl Expected {
    /// Parses `<function>-<hex>`; `None` for an unset or empty hash.
    pub(crate) fn parse(hash: Option<&str>) -> Result<Option<Self>, FetchError> {
        let Some(hash) = hash.filter(|h| !h.is_empty()) else {
            return Ok(None);
        };
        let Some((function, hex)) = hash.split_once('-') else {
            return Err(FetchError::MalformedHash { hash: hash.into() });
        };
        let function = match function {
            "sha256" => HashFn::Sha256,
            "sha512" => HashFn::Sha512,
            other => {
                return Err(FetchError::UnrecognizedHash {
                    function: other.into(),
                })
            }
        };
        Ok(Some(Expected {
            function,
            hex: hex.to_string(),
        }))
    }

    pub(crate) fn hasher(&self) -> Hasher {
        match self.function {
            HashFn::Sha256 => Hasher::Sha256(Sha256::new()),
            HashFn::Sha512 => Hasher::Sha512(Sha512::new()),
        }
    }

    /// Compares a finished digest.
    pub(crate) fn check(
        &self,
        digest: &[u8],
        compare: HashCompare,
        url: &str,
    ) -> Result<(), FetchError> {
        let calculated = hex::encode(digest);
        let ok = match compare {
            HashCompare::Decoded => match hex::decode(&self.hex) {
                Ok(want) => want == digest,
                Err(_) => {
                    return Err(FetchError::MalformedHash {
                        hash: self.hex.clone(),
                    })
                }
            },
            HashCompare::LowerHexString => calculated == self.hex,
        };
        if ok {
            Ok(())
        } else {
            let expected = match compare {
                // Ignition prints the decoded sum re-encoded (lower case).
                HashCompare::Decoded => self.hex.to_ascii_lowercase(),
                HashCompare::LowerHexString => self.hex.clone(),
            };
            Err(FetchError::HashMismatch {
                url: url.to_string(),
                calculated,
                expected,
            })
        }
    }
}

/// A running sha256/sha512.
#[derive(Debug)]
pub(crate) enum Hasher {
    Sha256(Sha256),
    Sha512(Sha512),
}

impl Hasher {
    fn update(&mut self, b: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(b),
            Hasher::Sha512(h) => h.update(b),
        }
    }
    fn finish(self) -> Vec<u8> {
        match self {
            Hasher::Sha256(h) => h.finalize().to_vec(),
            Hasher::Sha512(h) => h.finalize().to_vec(),
        }
    }
}

/// Checks `compression` and says whether gzip applies.
pub(crate) fn is_gzip(compression: Option<&str>) -> Result<bool, FetchError> {
    match compression.unwrap_or("") {
        "" => Ok(false),
        "gzip" => Ok(true),
        other => Err(FetchError::InvalidCompression {
            compression: other.into(),
        }),
    }
}

/// Wraps a reader so that its own I/O errors can be told apart from
/// decompression errors after passing through the gzip decoder.
struct SourceReader<'a, R> {
    inner: R,
    failed: &'a Cell<bool>,
}

impl<R: Read> Read for SourceReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let r = self.inner.read(buf);
        if matches!(&r, Err(e) if e.kind() != io::ErrorKind::Interrupted) {
            self.failed.set(true);
        }
        r
    }
}

/// Copies `src` into `out`, decompressing and hashing on the way; returns the
/// number of (decompressed) bytes written. `limit` caps that number.
pub(crate) fn copy_verified(
    src: &mut dyn Read,
    gzip: bool,
    expected: Option<&Expected>,
    compare: HashCompare,
    out: &mut dyn Write,
    limit: Option<usize>,
    url: &str,
) -> Result<u64, FetchError> {
    let source_failed = Cell::new(false);
    let mut source = SourceReader {
        inner: src,
        failed: &source_failed,
    };
    let mut hasher = expected.map(Expected::hasher);
    let mut buf = vec![0u8; 64 * 1024];
    let mut total: u64 = 0;
    {
        let mut gz;
        let reader: &mut dyn Read = if gzip {
            gz = flate2::read::MultiGzDecoder::new(&mut source);
            &mut gz
        } else {
            &mut source
        };
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if gzip && !source_failed.get() => {
                    return Err(FetchError::Decompress {
                        url: url.into(),
                        source: e,
                    })
                }
                Err(source) => {
                    return Err(FetchError::Read {
                        url: url.into(),
                        source,
                    })
                }
            };
            total += n as u64;
            if let Some(limit) = limit {
                if total > limit as u64 {
                    return Err(FetchError::TooLarge {
                        url: url.into(),
                        limit,
                    });
                }
            }
            if let Some(h) = hasher.as_mut() {
                h.update(&buf[..n]);
            }
            out.write_all(&buf[..n])
                .map_err(|source| FetchError::Write {
                    url: url.into(),
                    source,
                })?;
        }
    }
    out.flush().map_err(|source| FetchError::Write {
        url: url.into(),
        source,
    })?;
    if let (Some(exp), Some(h)) = (expected, hasher) {
        exp.check(&h.finish(), compare, url)?;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::GzEncoder;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn run(
        input: &[u8],
        gzip: bool,
        hash: Option<&str>,
        compare: HashCompare,
    ) -> Result<Vec<u8>, FetchError> {
        let exp = Expected::parse(hash)?;
        let mut out = Vec::new();
        let n = copy_verified(
            &mut &input[..],
            gzip,
            exp.as_ref(),
            compare,
            &mut out,
            None,
            "u",
        )?;
        assert_eq!(n as usize, out.len());
        Ok(out)
    }

    const HELLO_SHA256: &str = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";

    #[test]
    fn hash_over_decompressed_bytes_multi_member() {
        let mut two = gz(b"hel");
        two.extend(gz(b"lo"));
        let h = format!("sha256-{HELLO_SHA256}");
        assert_eq!(
            run(&two, true, Some(&h), HashCompare::Decoded).unwrap(),
            b"hello"
        );
    }

    #[test]
    fn case_rules_differ_for_files_and_configs() {
        let upper = format!("sha256-{}", HELLO_SHA256.to_uppercase());
        assert!(run(b"hello", false, Some(&upper), HashCompare::Decoded).is_ok());
        let err = run(b"hello", false, Some(&upper), HashCompare::LowerHexString).unwrap_err();
        assert!(matches!(err, FetchError::HashMismatch { .. }), "{err}");
    }

    #[test]
    fn mismatch_after_writing() {
        let h = format!("sha512-{}", "00".repeat(64));
        let exp = Expected::parse(Some(&h)).unwrap();
        let mut out = Vec::new();
        let err = copy_verified(
            &mut &b"hello"[..],
            false,
            exp.as_ref(),
            HashCompare::Decoded,
            &mut out,
            None,
            "u",
        )
        .unwrap_err();
        assert_eq!(out, b"hello");
        let msg = err.to_string();
        assert!(
            msg.starts_with("hash verification failed (calculated 9b71d224"),
            "{msg}"
        );
        assert!(msg.ends_with(&format!("but expected {})", "00".repeat(64))));
    }

    #[test]
    fn bad_hash_specs_and_compression() {
        assert!(matches!(
            Expected::parse(Some("sha256")),
            Err(FetchError::MalformedHash { .. })
        ));
        assert!(matches!(
            Expected::parse(Some("md5-00")),
            Err(FetchError::UnrecognizedHash { .. })
        ));
        assert!(Expected::parse(Some("")).unwrap().is_none());
        assert!(matches!(
            is_gzip(Some("xz")),
            Err(FetchError::InvalidCompression { .. })
        ));
        assert!(!is_gzip(Some("")).unwrap());
        let err = run(b"not gzip", true, None, HashCompare::Decoded).unwrap_err();
        assert!(matches!(err, FetchError::Decompress { .. }), "{err}");
    }

    #[test]
    fn limit_is_enforced() {
        let mut out = Vec::new();
        let err = copy_verified(
            &mut &b"hello"[..],
            false,
            None,
            HashCompare::Decoded,
            &mut out,
            Some(4),
            "u",
        )
        .unwrap_err();
        assert!(matches!(err, FetchError::TooLarge { limit: 4, .. }));
    }
}
