//! Validation reports in Ignition's format: `error at $.a.0.b, line L col C: msg`.
//!
//! Entries are produced without positions by the validators (which work on
//! typed configs) and get their line and column attached afterwards from the
//! parsed JSON tree: the position of the deepest node that exists for the
//! entry's path, as Ignition does.

use std::fmt;

use serde::Serialize;

/// Severity of a report entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Error,
    Warning,
    Info,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Error => "error",
            Kind::Warning => "warning",
            Kind::Info => "info",
        })
    }
}

/// One step of a `$.a.0.b` path.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PathElem {
    Field(String),
    Index(usize),
}

/// A location in a config: `$` followed by fields and indexes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConfigPath(pub Vec<PathElem>);

impl ConfigPath {
    /// The root `$`.
    pub fn root() -> Self {
        Self::default()
    }

    /// This path extended by a field name.
    pub fn field(&self, name: &str) -> Self {
        let mut v = self.0.clone();
        v.push(PathElem::Field(name.to_string()));
        Self(v)
    }

    /// This path extended by a list index.
    pub fn index(&self, i: usize) -> Self {
        let mut v = self.0.clone();
        v.push(PathElem::Index(i));
        Self(v)
    }
}

impl fmt::Display for ConfigPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("$")?;
        for e in &self.0 {
            match e {
                PathElem::Field(s) => write!(f, ".{s}")?,
                PathElem::Index(i) => write!(f, ".{i}")?,
            }
        }
        Ok(())
    }
}

impl Serialize for ConfigPath {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// One report entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    pub kind: Kind,
    /// `None` for entries not tied to a location (JSON syntax errors carry
    /// only a position).
    pub path: Option<ConfigPath>,
    /// 1-based line and column, when known.
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

impl Entry {
    /// An error at `path`.
    pub fn error(path: ConfigPath, message: impl Into<String>) -> Self {
        Self {
            kind: Kind::Error,
            path: Some(path),
            line: None,
            column: None,
            message: message.into(),
        }
    }

    /// A warning at `path`.
    pub fn warning(path: ConfigPath, message: impl Into<String>) -> Self {
        Self {
            kind: Kind::Warning,
            path: Some(path),
            line: None,
            column: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for Entry {
    /// Ignition's exact line format: `error at $.x, line 1 col 2: msg`,
    /// `error at $.x: msg` without a position, `error at line 1 col 2: msg`
    /// without a path.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at ", self.kind)?;
        let pos = match (self.line, self.column) {
            (Some(l), Some(c)) => Some(format!("line {l} col {c}")),
            _ => None,
        };
        match (&self.path, pos) {
            (Some(p), Some(pos)) => write!(f, "{p}, {pos}")?,
            (Some(p), None) => write!(f, "{p}")?,
            (None, Some(pos)) => f.write_str(&pos)?,
            (None, None) => f.write_str("$")?,
        }
        write!(f, ": {}", self.message)
    }
}

/// An ordered list of entries.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    pub entries: Vec<Entry>,
}

impl Report {
    /// True when any entry is an error.
    pub fn is_fatal(&self) -> bool {
        self.entries.iter().any(|e| e.kind == Kind::Error)
    }

    /// Appends all entries of `other`.
    pub fn merge(&mut self, other: Report) {
        self.entries.extend(other.entries);
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for e in &self.entries {
            writeln!(f, "{e}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_ignition() {
        let mut e = Entry::error(
            ConfigPath::root()
                .field("storage")
                .field("files")
                .index(0)
                .field("path"),
            "path not absolute",
        );
        e.line = Some(5);
        e.column = Some(15);
        assert_eq!(
            e.to_string(),
            "error at $.storage.files.0.path, line 5 col 15: path not absolute"
        );
        e.line = None;
        assert_eq!(
            e.to_string(),
            "error at $.storage.files.0.path: path not absolute"
        );
    }
}
