//! The parse pipeline, as Ignition's `ParseCompatibleVersion` runs it:
//! empty check → JSON syntax → version stub → exact-version dispatch →
//! decode under that version's schema → validation (rules, duplicates,
//! unused keys, then positions) → translation up to the newest version.

use std::fmt;

use crate::decode::{decode_config, version_stub};
use crate::json::{self, Lines};
use crate::report::{Entry, Kind, Report};
use crate::types::Config;
use crate::unused::{locate, place, unused_keys};

/// The spec versions this crate accepts, oldest first; the index is the
/// schema's version number.
pub const SUPPORTED_VERSIONS: [&str; 8] = [
    "3.0.0",
    "3.1.0",
    "3.2.0",
    "3.3.0",
    "3.4.0",
    "3.5.0",
    "3.6.0",
    "3.7.0-experimental",
];

/// The version every config is translated to.
pub const NEWEST_VERSION: &str = "3.7.0-experimental";

/// A successfully parsed config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    /// The config translated to the newest version.
    pub config: Config,
    /// The spec version the config was written in.
    pub version: semver::Version,
    /// Warnings (never errors) with positions, in Ignition's order.
    pub report: Report,
}

/// Why a config was rejected. `Display` gives Ignition's error text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// Zero bytes of input.
    #[error("not a config (empty)")]
    Empty,
    /// `ignition.version` is not a semantic version (Go `go-semver` rules).
    #[error("invalid config version (couldn't parse)")]
    InvalidVersion,
    /// A version this crate does not accept (exact match required).
    #[error("unsupported config version")]
    UnsupportedVersion,
    /// Invalid JSON, a JSON type error or validation errors: the report has
    /// at least one error entry.
    #[error("config is not valid")]
    Invalid(Report),
}

impl ParseError {
    /// The report of an invalid config (empty for the version errors).
    pub fn report(&self) -> Report {
        match self {
            ParseError::Invalid(r) => r.clone(),
            _ => Report::default(),
        }
    }
}

/// `coreos/go-semver`'s `NewVersion`: `MAJOR.MINOR.PATCH[-pre][+meta]`
/// with Go `ParseInt` numbers (so `03.3.0` parses) and identifiers
/// `[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*`.
pub(crate) fn go_semver(s: &str) -> Option<(i64, i64, i64, String, String)> {
    let (rest, meta) = s.split_once('+').unwrap_or((s, ""));
    let (rest, pre) = rest.split_once('-').unwrap_or((rest, ""));
    let parts: Vec<&str> = rest.splitn(3, '.').collect();
    if parts.len() != 3 {
        return None;
    }
    let ident = |id: &str| {
        id.is_empty()
            || id
                .split('.')
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
    };
    if !ident(pre) || !ident(meta) {
        return None;
    }
    let n = |p: &str| p.parse::<i64>().ok();
    Some((
        n(parts[0])?,
        n(parts[1])?,
        n(parts[2])?,
        pre.into(),
        meta.into(),
    ))
}

/// Exact-version dispatch: the schema version index of `v`.
pub(crate) fn dispatch(v: &str) -> Result<u8, ParseError> {
    let parsed = go_semver(v).ok_or(ParseError::InvalidVersion)?;
    match parsed {
        (3, m @ 0..=6, 0, pre, meta) if pre.is_empty() && meta.is_empty() => Ok(m as u8),
        (3, 7, 0, pre, meta) if pre == "experimental" && meta.is_empty() => Ok(7),
        _ => Err(ParseError::UnsupportedVersion),
    }
}

/// The `semver::Version` of schema version `minor`.
pub(crate) fn version_of(minor: u8) -> semver::Version {
    semver::Version::parse(SUPPORTED_VERSIONS[minor as usize]).expect("valid constant")
}

fn json_error(msg: String, offset: usize, lines: &Lines) -> ParseError {
    let mut e = Entry {
        kind: Kind::Error,
        path: None,
        line: None,
        column: None,
        message: msg,
    };
    place(&mut e, lines, offset);
    ParseError::Invalid(Report { entries: vec![e] })
}

/// Parses, validates and translates a config. See the crate docs.
pub fn parse(bytes: &[u8]) -> Result<Parsed, ParseError> {
    if bytes.is_empty() {
        return Err(ParseError::Empty);
    }
    let lines = Lines::new(bytes);
    let mut tree = json::parse(bytes).map_err(|e| json_error(e.msg, e.offset, &lines))?;
    let stub = version_stub(&tree, bytes).map_err(|e| json_error(e.msg, e.offset, &lines))?;
    let minor = dispatch(&stub)?;
    let decoded =
        decode_config(&mut tree, bytes, minor).map_err(|e| json_error(e.msg, e.offset, &lines))?;
    let config = crate::build::build(&decoded, minor);
    // The version package checks the typed version again.
    if dispatch(&config.ignition.version).ok() != Some(minor) {
        return Err(ParseError::UnsupportedVersion);
    }
    let version = version_of(minor);

    let mut entries: Vec<(Entry, usize)> = Vec::new();
    for e in crate::validate::validate(&config, &version)
        .into_iter()
        .chain(crate::validate::duplicates(&config))
    {
        let off = e.path.as_ref().map_or(0, |p| locate(&tree, p));
        entries.push((e, off));
    }
    entries.extend(unused_keys(&tree, &decoded, minor));
    let report = Report {
        entries: entries
            .into_iter()
            .map(|(mut e, off)| {
                place(&mut e, &lines, off);
                e
            })
            .collect(),
    };
    if report.is_fatal() {
        return Err(ParseError::Invalid(report));
    }
    Ok(Parsed {
        config: translate(config, minor),
        version,
        report,
    })
}

/// Translates a config decoded as version `minor` up to the newest version:
/// specs before 3.6.0 lose the special mode bits (`&^ 07000`) of files and
/// directories, and `version` becomes [`NEWEST_VERSION`]. Unlike upstream,
/// `tang.advertisement` is kept (see docs/validate.md).
pub(crate) fn translate(mut cfg: Config, minor: u8) -> Config {
    if minor < 6 {
        for f in &mut cfg.storage.files {
            f.mode = f.mode.map(|m| m & !0o7000);
        }
        for d in &mut cfg.storage.directories {
            d.mode = d.mode.map(|m| m & !0o7000);
        }
    }
    cfg.ignition.version = NEWEST_VERSION.to_string();
    cfg
}

/// Validates a merged config with the newest version's rules, without the
/// duplicate check and without positions (Ignition's post-merge check).
pub fn validate_merged(cfg: &Config) -> Report {
    Report {
        entries: crate::validate::validate(cfg, &version_of(crate::schema::NEWEST)),
    }
}

impl fmt::Display for Parsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "config (spec {})", self.version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_semver_quirks() {
        assert_eq!(dispatch("3.3.0"), Ok(3));
        assert_eq!(dispatch("03.3.0"), Ok(3));
        assert_eq!(dispatch("3.3.0-"), Ok(3));
        assert_eq!(dispatch("3.7.0-experimental"), Ok(7));
        assert_eq!(dispatch("3.3"), Err(ParseError::InvalidVersion));
        assert_eq!(dispatch("v3.3.0"), Err(ParseError::InvalidVersion));
        assert_eq!(dispatch("+3.3.0"), Err(ParseError::InvalidVersion));
        assert_eq!(dispatch("3.3.0.1"), Err(ParseError::InvalidVersion));
        assert_eq!(dispatch(""), Err(ParseError::InvalidVersion));
        assert_eq!(dispatch("3.3.0+meta"), Err(ParseError::UnsupportedVersion));
        assert_eq!(dispatch("2.3.0"), Err(ParseError::UnsupportedVersion));
        assert_eq!(
            dispatch("3.4.0-experimental"),
            Err(ParseError::UnsupportedVersion)
        );
        assert_eq!(
            dispatch("3.6.0-experimental"),
            Err(ParseError::UnsupportedVersion)
        );
        assert_eq!(dispatch("3.7.0"), Err(ParseError::UnsupportedVersion));
        assert_eq!(dispatch("3.8.0"), Err(ParseError::UnsupportedVersion));
    }
}
