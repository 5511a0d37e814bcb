//! The fetch error type. Display texts start with Ignition's own message where
//! Ignition has one (`resource not found`, `hash verification failed (...)`,
//! `compression is not supported with that scheme`, ...) and then name the URL
//! and, for HTTP, the last status, so a failing node can be diagnosed from one
//! line.

use std::fmt;

/// Everything that can go wrong while fetching a resource.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// The source is not a URL reignite can parse.
    #[error("unable to parse URL {url}: {reason}")]
    InvalidUrl { url: String, reason: String },
    /// A scheme Ignition does not support (there is no `file://`).
    #[error("unsupported source scheme {scheme:?} in {url}")]
    UnsupportedScheme { scheme: String, url: String },
    /// `compression` set on a scheme that cannot decompress (S3, like Ignition).
    #[error("compression is not supported with that scheme: {url}")]
    CompressionUnsupportedScheme { url: String },
    /// `compression` is neither empty nor `gzip`.
    #[error("invalid compression method {compression:?}")]
    InvalidCompression { compression: String },
    /// `verification.hash` without a `-`.
    #[error("malformed hash specifier {hash:?}")]
    MalformedHash { hash: String },
    /// `verification.hash` with a function other than sha256/sha512.
    #[error("unrecognized hash function {function:?}")]
    UnrecognizedHash { function: String },
    /// A `data:` URL that Ignition's RFC 2397 parser rejects.
    #[error("invalid data URL {url}: {reason}")]
    DataUrl { url: String, reason: String },
    /// HTTP 404 (or TFTP "file not found").
    #[error("resource not found: {url}{}", status_suffix(*.status))]
    NotFound { url: String, status: Option<u16> },
    /// Any other HTTP status below 500 that is not success; not retried.
    #[error("failed to fetch resource: {url} returned HTTP {status}")]
    HttpStatus { url: String, status: u16 },
    /// Retries ran out of time (`ignition.timeouts.httpTotal` or the bound
    /// configured for the CLI).
    #[error("unable to fetch resource in time: {url} (after {attempts} attempts; last: {last})")]
    Timeout {
        url: String,
        attempts: u32,
        last: LastAttempt,
    },
    /// A request that cannot be retried (bad URI, redirect loop, ...).
    #[error("failed to fetch resource: {url}: {reason}")]
    Request { url: String, reason: String },
    /// Access to a cloud object was denied and reignite has no credentials.
    #[error(
        "access denied to {url} (HTTP {status}): fetching it needs {provider} credentials, \
         which reignite does not support yet (only publicly readable objects can be \
         fetched); make the object public or serve it over https"
    )]
    CredentialsRequired {
        url: String,
        status: u16,
        provider: &'static str,
    },
    /// A TFTP transfer failed.
    #[error("failed to fetch resource: {url}: tftp: {reason}")]
    Tftp { url: String, reason: String },
    /// Reading the body (or TFTP blocks) failed midway.
    #[error("failed to fetch resource: reading {url}")]
    Read {
        url: String,
        #[source]
        source: std::io::Error,
    },
    /// gzip decompression failed.
    #[error("failed to decompress {url}")]
    Decompress {
        url: String,
        #[source]
        source: std::io::Error,
    },
    /// Writing to the caller's output failed.
    #[error("writing data fetched from {url}")]
    Write {
        url: String,
        #[source]
        source: std::io::Error,
    },
    /// The (decompressed) bytes do not match `verification.hash`.
    #[error("hash verification failed (calculated {calculated} but expected {expected})")]
    HashMismatch {
        url: String,
        calculated: String,
        expected: String,
    },
    /// `fetch_bytes` got more than its limit.
    #[error("resource {url} is larger than the limit of {limit} bytes")]
    TooLarge { url: String, limit: usize },
    /// A CA bundle from `ignition.security.tls.certificateAuthorities` is unusable.
    #[error("unable to decode PEM block in CA {source_url}: {reason}")]
    Ca { source_url: String, reason: String },
    /// Fetching a CA bundle failed.
    #[error("unable to fetch CA {source_url}")]
    CaFetch {
        source_url: String,
        #[source]
        inner: Box<FetchError>,
    },
    /// `ignition.proxy` holds a proxy URL that cannot be used.
    #[error("invalid proxy {proxy:?}: {reason}")]
    Proxy { proxy: String, reason: String },
}

fn status_suffix(status: Option<u16>) -> String {
    match status {
        Some(s) => format!(" (HTTP {s})"),
        None => String::new(),
    }
}

/// What the last attempt of a retried fetch ended with.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LastAttempt {
    /// No attempt could be made before the deadline.
    None,
    /// The server answered with this (5xx) status.
    Status(u16),
    /// The request failed without a status (connect, TLS, timeout...).
    Transport(String),
}

impl fmt::Display for LastAttempt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LastAttempt::None => f.write_str("no attempt made"),
            LastAttempt::Status(s) => write!(f, "HTTP {s}"),
            LastAttempt::Transport(e) => f.write_str(e),
        }
    }
}

impl FetchError {
    /// The URL the error is about (shortened and without credentials), when
    /// there is one.
    pub fn url(&self) -> Option<&str> {
        match self {
            FetchError::InvalidUrl { url, .. }
            | FetchError::UnsupportedScheme { url, .. }
            | FetchError::CompressionUnsupportedScheme { url }
            | FetchError::DataUrl { url, .. }
            | FetchError::NotFound { url, .. }
            | FetchError::HttpStatus { url, .. }
            | FetchError::Timeout { url, .. }
            | FetchError::Request { url, .. }
            | FetchError::CredentialsRequired { url, .. }
            | FetchError::Tftp { url, .. }
            | FetchError::Read { url, .. }
            | FetchError::Decompress { url, .. }
            | FetchError::Write { url, .. }
            | FetchError::HashMismatch { url, .. }
            | FetchError::TooLarge { url, .. } => Some(url),
            FetchError::Ca { source_url, .. } | FetchError::CaFetch { source_url, .. } => {
                Some(source_url)
            }
            FetchError::InvalidCompression { .. }
            | FetchError::MalformedHash { .. }
            | FetchError::UnrecognizedHash { .. }
            | FetchError::Proxy { .. } => None,
        }
    }

    /// The last HTTP status seen, when there was one.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            FetchError::NotFound { status, .. } => *status,
            FetchError::HttpStatus { status, .. }
            | FetchError::CredentialsRequired { status, .. } => Some(*status),
            FetchError::Timeout {
                last: LastAttempt::Status(s),
                ..
            } => Some(*s),
            FetchError::CaFetch { inner, .. } => inner.http_status(),
            _ => None,
        }
    }
}

/// Shortens a URL for messages: long `data:` URLs are cut, and user
/// information (`user:password@`) is replaced so secrets never reach logs.
pub(crate) fn display_url(source: &str) -> String {
    const MAX_DATA: usize = 64;
    if source.starts_with("data:") && source.len() > MAX_DATA {
        let mut cut = MAX_DATA;
        while !source.is_char_boundary(cut) {
            cut -= 1;
        }
        return format!("{}...", &source[..cut]);
    }
    if let Some(scheme_end) = source.find("://") {
        let rest = &source[scheme_end + 3..];
        let auth_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        if let Some(at) = rest[..auth_end].rfind('@') {
            return format!("{}://<redacted>@{}", &source[..scheme_end], &rest[at + 1..]);
        }
    }
    source.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_texts_match_ignition() {
        let e = FetchError::HashMismatch {
            url: "x".into(),
            calculated: "ab".into(),
            expected: "cd".into(),
        };
        assert_eq!(
            e.to_string(),
            "hash verification failed (calculated ab but expected cd)"
        );
        let e = FetchError::NotFound {
            url: "http://h/x".into(),
            status: Some(404),
        };
        assert_eq!(e.to_string(), "resource not found: http://h/x (HTTP 404)");
        assert_eq!(e.http_status(), Some(404));
        assert_eq!(e.url(), Some("http://h/x"));
        let e = FetchError::CompressionUnsupportedScheme {
            url: "s3://b/k".into(),
        };
        assert!(e
            .to_string()
            .starts_with("compression is not supported with that scheme"));
    }

    #[test]
    fn urls_are_shortened_and_redacted() {
        let long = format!("data:,{}", "a".repeat(200));
        assert_eq!(display_url(&long).len(), 64 + 3);
        assert_eq!(
            display_url("http://u:secret@host/p?q@x"),
            "http://<redacted>@host/p?q@x"
        );
        assert_eq!(display_url("http://host/a@b"), "http://host/a@b");
    }
}
