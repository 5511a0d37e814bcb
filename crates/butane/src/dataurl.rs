//! Data URLs as Butane builds them (`base/util/url.go`): the shortest of
//! percent-escaped text, base64, and (when the user set no compression)
//! gzip+base64, which must beat the others by the length of `"gzip"`.

use base64::Engine as _;
use flate2::{Compress, Compression, Crc, FlushCompress, Status};

/// The chosen encoding: the `source` URL and the `compression` to emit
/// (`Some("")` when the user set none, `Some("gzip")` when we compressed,
/// `None` to keep the user's own compression value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataUrl {
    pub url: String,
    pub compression: Option<&'static str>,
}

/// `dataurl.Escape`: keeps `[A-Za-z0-9-_.!~*'()]`, `%XX` for the rest.
pub fn escape(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
            s.push(b as char);
        } else {
            s.push('%');
            s.push(HEX[(b >> 4) as usize] as char);
            s.push(HEX[(b & 15) as usize] as char);
        }
    }
    s
}

thread_local! {
    /// One deflate state reused for every embedded file: building a fresh
    /// best-compression state per file dominated the cost of translating
    /// thousands of small files.
    static DEFLATE: std::cell::RefCell<Compress> =
        std::cell::RefCell::new(Compress::new(Compression::best(), false));
}

/// gzip at best compression with Go's header (mtime 0, XFL 2, OS 255).
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() / 2 + 64);
    out.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 255]);
    DEFLATE.with(|d| {
        let mut d = d.borrow_mut();
        d.reset();
        let mut body = Vec::with_capacity(bytes.len() + bytes.len() / 1000 + 64);
        loop {
            let consumed = d.total_in() as usize;
            match d.compress_vec(&bytes[consumed..], &mut body, FlushCompress::Finish) {
                Ok(Status::StreamEnd) => break,
                Ok(_) => body.reserve(body.capacity().max(64)),
                Err(_) => break,
            }
        }
        out.extend_from_slice(&body);
    });
    let mut crc = Crc::new();
    crc.update(bytes);
    out.extend_from_slice(&crc.sum().to_le_bytes());
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out
}

/// Butane's `MakeDataURL`.
pub fn make(contents: &[u8], user_compression: Option<&str>, allow_compression: bool) -> DataUrl {
    let user_set = user_compression.is_some_and(|c| !c.is_empty());
    let b64 = base64::engine::general_purpose::STANDARD;
    // Compare encoded lengths before building the losing strings.
    let escaped_len = contents
        .iter()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(b) {
                1
            } else {
                3
            }
        })
        .sum::<usize>()
        + 1;
    let b64_len = ";base64,".len() + contents.len().div_ceil(3) * 4;
    let mut opaque = if b64_len < escaped_len {
        format!(";base64,{}", b64.encode(contents))
    } else {
        format!(",{}", escape(contents))
    };
    let mut compression = if user_set { None } else { Some("") };
    if !user_set && allow_compression {
        let gz = gzip(contents);
        let gz_len = ";base64,".len() + gz.len().div_ceil(3) * 4;
        if gz_len + 4 < opaque.len() {
            opaque = format!(";base64,{}", b64.encode(&gz));
            compression = Some("gzip");
        }
    }
    DataUrl {
        url: format!("data:{opaque}"),
        compression,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read as _;

    #[test]
    fn plain_text_is_escaped() {
        let d = make(b"hello\n", None, true);
        assert_eq!(d.url, "data:,hello%0A");
        assert_eq!(d.compression, Some(""));
    }

    #[test]
    fn binary_prefers_base64() {
        let d = make(&[0u8, 1, 2, 3, 255, 254], None, true);
        assert_eq!(d.url, "data:;base64,AAECA//+");
    }

    #[test]
    fn repetitive_text_is_gzipped_and_round_trips() {
        let text = "a fairly repetitive line of text\n".repeat(50);
        let d = make(text.as_bytes(), None, true);
        assert_eq!(d.compression, Some("gzip"));
        let b = d.url.strip_prefix("data:;base64,").unwrap();
        let gz = base64::engine::general_purpose::STANDARD.decode(b).unwrap();
        assert_eq!(&gz[..10], &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 255]);
        let mut out = String::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, text);
    }

    fn decode(d: &DataUrl) -> Vec<u8> {
        let rest = d.url.strip_prefix("data:").unwrap();
        let raw = if let Some(b) = rest.strip_prefix(";base64,") {
            base64::engine::general_purpose::STANDARD.decode(b).unwrap()
        } else {
            let e = rest.strip_prefix(',').unwrap().as_bytes();
            let mut out = Vec::new();
            let mut i = 0;
            while i < e.len() {
                if e[i] == b'%' {
                    let h = std::str::from_utf8(&e[i + 1..i + 3]).unwrap();
                    out.push(u8::from_str_radix(h, 16).unwrap());
                    i += 3;
                } else {
                    out.push(e[i]);
                    i += 1;
                }
            }
            out
        };
        if d.compression == Some("gzip") {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(&raw[..])
                .read_to_end(&mut out)
                .unwrap();
            out
        } else {
            raw
        }
    }

    /// Property: every encoding choice decodes back to the input, and the
    /// chosen URL is never longer than the plain alternatives.
    #[test]
    fn random_contents_round_trip() {
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..500 {
            let len = (next() % 700) as usize;
            let alphabet = [2u64, 4, 26, 95, 256][(next() % 5) as usize];
            let data: Vec<u8> = (0..len)
                .map(|_| {
                    let v = next() % alphabet;
                    if alphabet == 256 {
                        v as u8
                    } else {
                        b' ' + v as u8
                    }
                })
                .collect();
            let d = make(&data, None, true);
            assert_eq!(decode(&d), data);
            let plain = (",".len() + escape(&data).len())
                .min(";base64,".len() + data.len().div_ceil(3) * 4);
            assert!(d.url.len() - "data:".len() <= plain);
        }
    }

    #[test]
    fn user_compression_is_kept() {
        let text = "x".repeat(500);
        let d = make(text.as_bytes(), Some("gzip"), true);
        assert_eq!(d.compression, None);
        assert!(d.url.starts_with("data:,xxx"));
    }
}
