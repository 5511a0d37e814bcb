//! `data:` URLs decoded with the strictness of the Go package Ignition uses
//! (vincent-petithory/dataurl, RFC 2397): a token media type whose type starts
//! with a discrete or composite type name (or `x-`), `;attr=value` parameters,
//! an optional trailing `;base64`, and data made only of ASCII URL characters
//! (percent escapes checked) or, for base64, only base64 characters with
//! canonical padding. The WHATWG parsers in crates are more lenient, so this is
//! a small hand-written lexer instead.

use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;

/// Go's `base64.StdEncoding`: padding required, non-zero trailing bits allowed.
const GO_STD: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::RequireCanonical),
);

/// Decodes a whole `data:` URL into its bytes. The error is the Go package's
/// message.
pub(crate) fn decode(url: &str) -> Result<Vec<u8>, String> {
    let rest = url
        .strip_prefix("data:")
        .ok_or_else(|| "missing data prefix".to_string())?;
    let b = rest.as_bytes();
    let mut i = 0;
    let mut base64 = false;

    // Media type (optional).
    match b.first() {
        None => return Err("missing comma before data".into()),
        Some(b';') | Some(b',') => {}
        Some(&c) if is_token(c) => {
            let start = i;
            let x_token = (c == b'x' || c == b'X') && b.get(1) == Some(&b'-');
            while i < b.len() && b[i] != b'/' {
                if !is_token(b[i]) {
                    return Err("invalid character for media type".into());
                }
                i += 1;
            }
            if i == b.len() {
                return Err("missing media type slash".into());
            }
            let ty = &rest[start..i];
            if !x_token && !is_discrete_or_composite(ty) {
                return Err("invalid media type".into());
            }
            i += 1; // '/'
            while i < b.len() && b[i] != b';' && b[i] != b',' {
                if !is_token(b[i]) {
                    return Err("invalid character for media subtype".into());
                }
                i += 1;
            }
            if i == b.len() {
                return Err("incomplete media type".into());
            }
        }
        Some(_) => return Err("invalid character after data prefix".into()),
    }

    // Parameters, then the optional `;base64`.
    while b[i] == b';' {
        i += 1;
        match b.get(i) {
            None | Some(b'=') | Some(b',') => return Err("unterminated parameter sequence".into()),
            Some(&c) if is_token(c) => {}
            Some(_) => return Err("invalid character for parameter attribute".into()),
        }
        let start = i;
        loop {
            match b.get(i) {
                None => return Err("unterminated parameter sequence".into()),
                Some(b'=') => break,
                Some(b',') => {
                    let v = &rest[start..i];
                    if v != "base64" {
                        return Err(format!("expected base64, got {v}"));
                    }
                    base64 = true;
                    break;
                }
                Some(&c) if is_token(c) => i += 1,
                Some(_) => return Err("invalid character for parameter attribute".into()),
            }
        }
        if base64 {
            break;
        }
        i += 1; // '='
        i = param_value(rest, i)?;
        match b.get(i) {
            Some(b';') | Some(b',') => {}
            None => return Err("missing comma before data".into()),
            Some(_) => return Err("expected semicolon or comma".into()),
        }
    }
    debug_assert_eq!(b[i], b',');
    let data = &rest[i + 1..];
    if base64 {
        if !data.bytes().all(is_base64) {
            return Err("invalid data character".into());
        }
        GO_STD
            .decode(data)
            .map_err(|e| format!("illegal base64 data: {e}"))
    } else {
        if !data.bytes().all(is_url_char) {
            return Err("invalid data character".into());
        }
        unescape(data)
    }
}

/// Lexes one parameter value starting at `i`; returns the index after it.
fn param_value(s: &str, mut i: usize) -> Result<usize, String> {
    let b = s.as_bytes();
    match b.get(i) {
        None => Err("missing comma before data".into()),
        Some(b'"') => {
            i += 1;
            loop {
                match b.get(i) {
                    None => return Err("unclosed quoted string".into()),
                    Some(b'\\') => {
                        // Go's strconv.Unquote accepts only known escapes; the
                        // simple single-character ones are what configs use.
                        match b.get(i + 1) {
                            None => return Err("unexpected eof".into()),
                            Some(c) if b"abfnrtv\\\"".contains(c) => i += 2,
                            Some(c) if c.is_ascii() => {
                                return Err("invalid syntax".into());
                            }
                            Some(_) => return Err("invalid escaped character".into()),
                        }
                    }
                    Some(b'"') => return Ok(i + 1),
                    Some(b'\n') => return Err("invalid syntax".into()),
                    Some(c) if c.is_ascii() => i += 1,
                    Some(_) => return Err("invalid character for parameter value".into()),
                }
            }
        }
        Some(&c) if is_token(c) => {
            let start = i;
            while let Some(&c) = b.get(i) {
                if c == b';' || c == b',' {
                    unescape(&s[start..i])?;
                    return Ok(i);
                }
                if !is_token(c) {
                    return Err("invalid character for parameter value".into());
                }
                i += 1;
            }
            Err("missing comma before data".into())
        }
        Some(_) => Err("invalid character for parameter value".into()),
    }
}

/// RFC 2396 unescaping: `%XX` with two hex digits, everything else literal.
fn unescape(s: &str) -> Result<Vec<u8>, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if !c.is_ascii() {
            return Err("rfc2396: non-ASCII char detected".into());
        }
        if c == b'%' {
            if i + 2 >= b.len() {
                return Err("rfc2396: unexpected end of unescape sequence".into());
            }
            let (h, l) = (b[i + 1], b[i + 2]);
            match (hex_val(h), hex_val(l)) {
                (Some(h), Some(l)) => out.push(h * 16 + l),
                _ => return Err("rfc2396: invalid char 0x25 in unescape sequence".into()),
            }
            i += 3;
        } else {
            out.push(c);
            i += 1;
        }
    }
    Ok(out)
}

fn hex_val(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

fn is_tspecial(c: u8) -> bool {
    b"()<>@,;:\\\"/[]?=".contains(&c)
}

fn is_token(c: u8) -> bool {
    c.is_ascii() && !c.is_ascii_control() && c != b' ' && !is_tspecial(c)
}

fn is_discrete_or_composite(ty: &str) -> bool {
    // The Go lexer compares prefixes, so `textual/x` passes too.
    [
        "text",
        "image",
        "audio",
        "video",
        "application",
        "message",
        "multipart",
    ]
    .iter()
    .any(|p| ty.starts_with(p))
}

fn is_url_char(c: u8) -> bool {
    c.is_ascii() && c > 0x1f && c != 0x7f && !b" <>#\"{}|\\^[]`".contains(&c)
}

fn is_base64(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'+' || c == b'/' || c == b'='
}

#[cfg(test)]
mod tests {
    use super::decode;

    #[test]
    fn accepts_what_ignition_accepts() {
        let ok: &[(&str, &[u8])] = &[
            ("data:,", b""),
            ("data:,hello", b"hello"),
            ("data:,hello%20world%0A", b"hello world\n"),
            ("data:,a%2fb", b"a/b"),
            ("data:text/plain;charset=utf-8,x", b"x"),
            ("data:text/plain;charset=\"utf-8\",x", b"x"),
            ("data:;base64,aGVsbG8=", b"hello"),
            ("data:text/plain;base64,aGVsbG8=", b"hello"),
            ("data:application/octet-stream;a=b;base64,AA==", b"\0"),
            ("data:x-foo/bar,y", b"y"),
            ("data:textual/x,y", b"y"),
            ("data:;base64,", b""),
            ("data:,a+b?c=d&e;f/g:h@i$,", b"a+b?c=d&e;f/g:h@i$,"),
            // Go's StdEncoding ignores non-zero trailing bits.
            ("data:;base64,aGVsbG9=", b"hello"),
        ];
        for (url, want) in ok {
            assert_eq!(decode(url).as_deref(), Ok(*want), "{url}");
        }
    }

    #[test]
    fn rejects_what_ignition_rejects() {
        let bad: &[(&str, &str)] = &[
            ("data:", "missing comma before data"),
            ("data:hello", "missing media type slash"),
            ("data:foo/bar,x", "invalid media type"),
            ("data:text/plain", "incomplete media type"),
            ("data:,hello world", "invalid data character"),
            ("data:,caf\u{e9}", "invalid data character"),
            ("data:,a#b", "invalid data character"),
            (
                "data:,%zz",
                "rfc2396: invalid char 0x25 in unescape sequence",
            ),
            ("data:,%4", "rfc2396: unexpected end of unescape sequence"),
            ("data:;base64,aGVsbG8", "illegal base64 data"),
            ("data:;base64,aGV sbG8=", "invalid data character"),
            ("data:;base64,aGVs-bG8=", "invalid data character"),
            ("data:;base65,x", "expected base64, got base65"),
            (
                "data:;base64;a=b,x",
                "invalid character for parameter attribute",
            ),
            ("data:;=x,", "unterminated parameter sequence"),
            ("data:;charset=\"x,", "unclosed quoted string"),
            ("data:@/x,", "invalid character after data prefix"),
            ("http:,x", "missing data prefix"),
        ];
        for (url, want) in bad {
            let err = decode(url).expect_err(url);
            assert!(err.starts_with(want), "{url}: got {err:?}, want {want:?}");
        }
    }
}
