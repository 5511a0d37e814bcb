//! Report entries during translation, their correlation with YAML
//! positions (vcontext's "deepest existing node" rule), and the two output
//! formats: Butane's raw `error at $.path, line L col C: msg` lines and the
//! pretty format with the YAML line and a caret.

use reignite_spec::report::{ConfigPath, Entry, Kind, PathElem, Report};

use crate::yaml::{Kind as YKind, Node, Pos};

/// A YAML-side path.
pub type P = ConfigPath;

/// Short path builders.
pub trait PathExt {
    fn f(&self, name: &str) -> P;
    fn i(&self, idx: usize) -> P;
    /// A path naming a mapping key (its marker is the key, not the value).
    fn key(&self, name: &str) -> KeyPath;
}

impl PathExt for P {
    fn f(&self, name: &str) -> P {
        self.field(name)
    }
    fn i(&self, idx: usize) -> P {
        self.index(idx)
    }
    fn key(&self, name: &str) -> KeyPath {
        KeyPath(self.field(name))
    }
}

/// A path whose last element is a mapping key.
#[derive(Debug, Clone)]
pub struct KeyPath(pub P);

/// A report entry before correlation.
#[derive(Debug, Clone)]
pub struct Diag {
    pub kind: Kind,
    pub path: P,
    /// Marker at the key rather than the value.
    pub key: bool,
    /// Explicit position (JSON parse errors of embedded configs).
    pub pos: Option<Pos>,
    pub msg: String,
}

/// Anything usable as a diagnostic location.
pub trait Loc {
    fn into_parts(self) -> (P, bool);
}
impl Loc for P {
    fn into_parts(self) -> (P, bool) {
        (self, false)
    }
}
impl Loc for &P {
    fn into_parts(self) -> (P, bool) {
        (self.clone(), false)
    }
}
impl Loc for KeyPath {
    fn into_parts(self) -> (P, bool) {
        (self.0, true)
    }
}

impl Diag {
    pub fn new(kind: Kind, at: impl Loc, msg: impl Into<String>) -> Self {
        let (path, key) = at.into_parts();
        Self {
            kind,
            path,
            key,
            pos: None,
            msg: msg.into(),
        }
    }
    pub fn err(at: impl Loc, msg: impl Into<String>) -> Self {
        Self::new(Kind::Error, at, msg)
    }
    pub fn warn(at: impl Loc, msg: impl Into<String>) -> Self {
        Self::new(Kind::Warning, at, msg)
    }
}

/// Position of the deepest node of `path` that exists in the YAML tree.
pub fn locate(root: Option<&Node>, path: &P, key: bool) -> Option<Pos> {
    let mut n = root?;
    let mut pos = n.pos;
    let last = path.0.len();
    for (depth, el) in path.0.iter().enumerate() {
        match (&n.kind, el) {
            (YKind::Map(pairs), PathElem::Field(name)) => {
                let Some((k, v)) = pairs.iter().rev().find(|(k, _)| k.scalar() == Some(name))
                else {
                    break;
                };
                if key && depth + 1 == last {
                    return Some(k.pos);
                }
                n = v;
            }
            (YKind::Seq(items), PathElem::Index(i)) => match items.get(*i) {
                Some(v) => n = v,
                None => break,
            },
            _ => break,
        }
        pos = n.pos;
    }
    Some(pos)
}

/// Converts diagnostics to report entries with positions.
pub fn correlate(root: Option<&Node>, diags: &[Diag]) -> Report {
    let entries = diags
        .iter()
        .map(|d| {
            let pos = d.pos.or_else(|| locate(root, &d.path, d.key));
            Entry {
                kind: d.kind,
                path: if d.pos.is_some() && d.path.0.is_empty() {
                    None
                } else {
                    Some(d.path.clone())
                },
                line: pos.map(|p| p.line),
                column: pos.map(|p| p.col),
                message: d.msg.clone(),
            }
        })
        .collect();
    Report { entries }
}

/// Butane's raw format: one `Entry.String()` per line.
pub fn format_raw(r: &Report) -> String {
    let mut s = String::new();
    for e in &r.entries {
        s.push_str(&raw_line(e));
        s.push('\n');
    }
    s
}

fn raw_line(e: &Entry) -> String {
    let pos = match (e.line, e.column) {
        (Some(l), Some(c)) => Some(format!("line {l} col {c}")),
        _ => None,
    };
    let path = e.path.as_ref().filter(|p| !p.0.is_empty());
    let at = match (path, pos) {
        (Some(p), Some(pos)) => format!(" at {p}, {pos}"),
        (None, Some(pos)) => format!(" at {pos}"),
        (Some(p), None) => format!(" at {p}"),
        (None, None) => String::new(),
    };
    format!("{}{at}: {}", e.kind, e.message)
}

const RED: &str = "\x1b[1;31m";
const YELLOW: &str = "\x1b[1;33m";
const CYAN: &str = "\x1b[1;36m";
const BLUE: &str = "\x1b[1;34m";
const RESET: &str = "\x1b[0m";

fn paint(text: &str, code: &str, on: bool) -> String {
    if on {
        format!("{code}{text}{RESET}")
    } else {
        text.to_string()
    }
}

/// Butane 0.29's pretty format: severity and path, `--> file:L:C`, two
/// lines of context each side, a caret run up to the next whitespace.
pub fn format_pretty(r: &Report, filename: &str, source: &str, color: bool) -> String {
    let lines: Vec<&str> = source.split('\n').collect();
    let mut out = String::new();
    for (i, e) in r.entries.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&pretty_entry(e, filename, &lines, color));
    }
    out
}

fn pretty_entry(e: &Entry, filename: &str, lines: &[&str], color: bool) -> String {
    let (Some(line), Some(col)) = (e.line, e.column) else {
        return raw_line(e) + "\n";
    };
    if line < 1 || line > lines.len() || col < 1 || col > lines[line - 1].chars().count() {
        return raw_line(e) + "\n";
    }
    let kc = match e.kind {
        Kind::Error => RED,
        Kind::Warning => YELLOW,
        Kind::Info => CYAN,
    };
    let path = e.path.as_ref().filter(|p| !p.0.is_empty());
    let head = match path {
        Some(p) => format!("{}[{p}]:\n", paint(&e.kind.to_string(), kc, color)),
        None => format!("{}:\n", paint(&e.kind.to_string(), kc, color)),
    };
    let mut b = head;
    b.push_str(&format!(
        "  {} {filename}:{line}:{col}\n",
        paint("-->", BLUE, color)
    ));
    let first = line.saturating_sub(2).max(1);
    let last = (line + 2).min(lines.len());
    let w = last.to_string().len();
    let gutter = " ".repeat(w);
    b.push_str(&format!(" {gutter} |\n"));
    for n in first..=last {
        let text = lines[n - 1];
        b.push_str(&format!(
            " {} | {text}\n",
            paint(&format!("{n:>w$}"), BLUE, color)
        ));
        if n == line {
            let rest: String = text.chars().skip(col - 1).collect();
            let run = rest
                .chars()
                .position(char::is_whitespace)
                .unwrap_or(rest.chars().count());
            b.push_str(&format!(
                " {gutter} | {}{} {}\n",
                " ".repeat(col - 1),
                paint(&"^".repeat(run), BLUE, color),
                e.message
            ));
        }
    }
    b.push_str(&format!(" {gutter} |\n"));
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pretty_matches_butane_layout() {
        let src = "a: 1\nb:\n  c: xyz q\n";
        let mut e = Entry::error(ConfigPath::root().field("b").field("c"), "bad");
        e.line = Some(3);
        e.column = Some(6);
        let r = Report { entries: vec![e] };
        let s = format_pretty(&r, "f.bu", src, false);
        assert_eq!(
            s,
            "error[$.b.c]:\n  --> f.bu:3:6\n   |\n 1 | a: 1\n 2 | b:\n 3 |   c: xyz q\n   |      ^^^ bad\n 4 | \n   |\n"
        );
        assert_eq!(format_raw(&r), "error at $.b.c, line 3 col 6: bad\n");
    }
}
