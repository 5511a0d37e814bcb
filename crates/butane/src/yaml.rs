//! YAML front end: builds a position-carrying node tree from `saphyr-parser`
//! events, the equivalent of go-yaml's `yaml.Node` tree that Butane decodes
//! from and that vcontext uses for line/column markers.
//!
//! Aliases are kept as shared references (`Rc`) to the anchored node, so an
//! alias bomb costs no memory while parsing; expansion is budgeted later by
//! the decoder. Nesting depth and node count are bounded here.

use std::collections::HashMap;
use std::rc::Rc;

use saphyr_parser::{Event, Parser, ScalarStyle};

/// Maximum nesting depth of collections.
pub const MAX_DEPTH: usize = 256;
/// Maximum number of parsed nodes (before alias expansion).
pub const MAX_NODES: usize = 1_000_000;

/// 1-based line and column (in characters), as go-yaml reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
}

/// How a scalar was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Plain,
    Quoted,
    Block,
}

/// A parsed YAML node.
#[derive(Debug)]
pub struct Node {
    pub pos: Pos,
    pub kind: Kind,
}

/// The shape of a node.
#[derive(Debug)]
pub enum Kind {
    Scalar {
        value: String,
        style: Style,
        tag: Option<String>,
    },
    Seq(Vec<Rc<Node>>),
    /// Key/value pairs in document order (duplicates kept; the decoder
    /// rejects them like go-yaml).
    Map(Vec<(Rc<Node>, Rc<Node>)>),
    /// An alias to an anchored node; `pos` is the alias's own position.
    Alias(Rc<Node>),
}

impl Node {
    /// Follows aliases to the node they stand for.
    pub fn resolved(&self) -> &Node {
        let mut n = self;
        let mut hops = 0;
        while let Kind::Alias(t) = &n.kind {
            n = t;
            hops += 1;
            if hops > MAX_DEPTH {
                break;
            }
        }
        n
    }

    /// The scalar text, when this is a scalar.
    pub fn scalar(&self) -> Option<&str> {
        match &self.kind {
            Kind::Scalar { value, .. } => Some(value),
            _ => None,
        }
    }

    /// Whether this is a plain (untagged, unquoted) null scalar.
    pub fn is_null(&self) -> bool {
        match &self.kind {
            Kind::Scalar { value, style, tag } => {
                if let Some(t) = tag {
                    return t == "!!null";
                }
                *style == Style::Plain
                    && matches!(value.as_str(), "" | "~" | "null" | "Null" | "NULL")
            }
            _ => false,
        }
    }

    /// Value for `key` in a mapping (last occurrence), without following
    /// merge keys.
    pub fn get(&self, key: &str) -> Option<&Rc<Node>> {
        match &self.kind {
            Kind::Map(pairs) => pairs
                .iter()
                .rev()
                .find(|(k, _)| k.scalar() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }
}

/// A YAML syntax or limit error, worded like go-yaml (`yaml: line N: ...`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct YamlError(pub String);

enum Frame {
    Seq(Pos, usize, Vec<Rc<Node>>),
    Map(Pos, usize, Vec<Rc<Node>>),
}

fn pos_of(m: &saphyr_parser::Marker) -> Pos {
    Pos {
        line: m.line(),
        col: m.col() + 1,
    }
}

/// Maps the parser's character indexes to byte offsets (monotonically).
#[derive(Default)]
struct Cursor {
    chars: usize,
    bytes: usize,
}

impl Cursor {
    fn byte_of(&mut self, src: &str, char_idx: usize) -> usize {
        if char_idx < self.chars {
            self.chars = 0;
            self.bytes = 0;
        }
        let mut it = src[self.bytes..].char_indices();
        while self.chars < char_idx {
            match it.next() {
                Some((_, c)) => {
                    self.bytes += c.len_utf8();
                    self.chars += 1;
                }
                None => break,
            }
        }
        self.bytes
    }

    /// Position of the block indicator before a block scalar's content.
    fn indicator(&mut self, src: &str, content: usize, content_pos: Pos) -> Pos {
        let at = self.byte_of(src, content);
        let head = &src.as_bytes()[..at];
        let Some(ind) = head.iter().rposition(|&b| b == b'|' || b == b'>') else {
            return content_pos;
        };
        let newlines = head[ind..].iter().filter(|&&b| b == b'\n').count();
        let line_start = head[..ind]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        let col = src[line_start..ind].chars().count() + 1;
        Pos {
            line: content_pos.line.saturating_sub(newlines).max(1),
            col,
        }
    }
}

/// go-yaml words libyaml's problems without their context
/// (`while parsing …,`) and says "did not find expected …".
fn go_message(info: &str) -> String {
    let problem = match info.strip_prefix("while ") {
        Some(rest) => rest.split_once(", ").map_or(info, |(_, p)| p),
        None => info,
    };
    if problem.starts_with("expected ") {
        format!("did not find {problem}")
    } else if problem == "found a tab" {
        "found character that cannot start any token".into()
    } else {
        problem.to_string()
    }
}

/// Parses the first document of `src`. An empty document yields `None`.
pub fn parse(src: &str) -> Result<Option<Rc<Node>>, YamlError> {
    let mut parser = Parser::new_from_str(src);
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, Rc<Node>> = HashMap::new();
    let mut root: Option<Rc<Node>> = None;
    let mut count = 0usize;
    let mut in_doc = false;
    let mut cursor = Cursor::default();
    while let Some(ev) = parser.next_event() {
        let (ev, span) = ev.map_err(|e| {
            YamlError(format!(
                "yaml: line {}: {}",
                e.marker().line(),
                go_message(e.info())
            ))
        })?;
        let pos = pos_of(&span.start);
        let node = match ev {
            Event::StreamStart | Event::Nothing => continue,
            Event::StreamEnd => break,
            Event::DocumentStart(_) => {
                in_doc = true;
                continue;
            }
            Event::DocumentEnd => {
                if in_doc {
                    break;
                }
                continue;
            }
            Event::Alias(id) => match anchors.get(&id) {
                Some(t) => Rc::new(Node {
                    pos,
                    kind: Kind::Alias(t.clone()),
                }),
                None => {
                    return Err(YamlError(format!(
                        "yaml: line {}: unknown anchor referenced",
                        pos.line
                    )))
                }
            },
            Event::Scalar(value, style, anchor, tag) => {
                let block = matches!(style, ScalarStyle::Literal | ScalarStyle::Folded);
                let style = match style {
                    ScalarStyle::Plain => Style::Plain,
                    ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted => Style::Quoted,
                    _ => Style::Block,
                };
                // go-yaml places block scalars at their `|`/`>` indicator.
                let pos = if block {
                    cursor.indicator(src, span.start.index(), pos)
                } else {
                    pos
                };
                let tag = tag.map(|t| {
                    if t.handle == "tag:yaml.org,2002:" || t.handle == "!!" {
                        format!("!!{}", t.suffix)
                    } else {
                        format!("{}{}", t.handle, t.suffix)
                    }
                });
                let n = Rc::new(Node {
                    pos,
                    kind: Kind::Scalar {
                        value: value.into_owned(),
                        style,
                        tag,
                    },
                });
                if anchor > 0 {
                    anchors.insert(anchor, n.clone());
                }
                n
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(YamlError(format!(
                        "yaml: line {}: exceeded max depth of {MAX_DEPTH}",
                        pos.line
                    )));
                }
                let is_seq = matches!(ev, Event::SequenceStart(..));
                stack.push(if is_seq {
                    Frame::Seq(pos, anchor, Vec::new())
                } else {
                    Frame::Map(pos, anchor, Vec::new())
                });
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (n, anchor) = match stack.pop() {
                    Some(Frame::Seq(p, a, items)) => (
                        Rc::new(Node {
                            pos: p,
                            kind: Kind::Seq(items),
                        }),
                        a,
                    ),
                    Some(Frame::Map(p, a, items)) => {
                        let mut pairs = Vec::with_capacity(items.len() / 2);
                        let mut it = items.into_iter();
                        while let (Some(k), Some(v)) = (it.next(), it.next()) {
                            pairs.push((k, v));
                        }
                        // Block mappings start at their first key, as in go-yaml.
                        let p = pairs.first().map(|(k, _)| k.pos).unwrap_or(p);
                        (
                            Rc::new(Node {
                                pos: p,
                                kind: Kind::Map(pairs),
                            }),
                            a,
                        )
                    }
                    None => return Err(YamlError("yaml: unbalanced collection".into())),
                };
                if anchor > 0 {
                    anchors.insert(anchor, n.clone());
                }
                n
            }
        };
        count += 1;
        if count > MAX_NODES {
            return Err(YamlError("yaml: document too large".into()));
        }
        match stack.last_mut() {
            Some(Frame::Seq(_, _, items)) | Some(Frame::Map(_, _, items)) => items.push(node),
            None => {
                root = Some(node);
            }
        }
    }
    Ok(root)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based() {
        let n = parse("a:\n  b: [x, y]\n  c: |\n    t\n").unwrap().unwrap();
        let a = n.get("a").unwrap();
        assert_eq!(a.pos, Pos { line: 2, col: 3 });
        let b = a.get("b").unwrap();
        assert_eq!(b.pos, Pos { line: 2, col: 6 });
        let c = a.get("c").unwrap();
        assert_eq!(c.pos.line, 3);
        assert_eq!(c.pos.col, 6);
    }

    #[test]
    fn aliases_share_nodes() {
        let n = parse("a: &x {k: v}\nb: *x\n").unwrap().unwrap();
        let b = n.get("b").unwrap();
        assert!(matches!(b.kind, Kind::Alias(_)));
        assert_eq!(b.resolved().get("k").unwrap().scalar(), Some("v"));
        assert_eq!(b.pos, Pos { line: 2, col: 4 });
    }

    #[test]
    fn depth_is_bounded() {
        let deep = "[".repeat(MAX_DEPTH + 5) + &"]".repeat(MAX_DEPTH + 5);
        assert!(parse(&deep).is_err());
    }

    #[test]
    fn syntax_errors_read_like_go_yaml() {
        assert_eq!(
            parse("a: b: c\n").unwrap_err().0,
            "yaml: line 1: mapping values are not allowed in this context"
        );
        assert_eq!(
            parse("x: [a\n").unwrap_err().0,
            "yaml: line 2: did not find expected ',' or ']'"
        );
    }

    #[test]
    fn syntax_errors_name_the_line() {
        let e = parse("a: b\n c: d\n  - x\n").unwrap_err();
        assert!(e.0.starts_with("yaml: line "), "{e}");
    }
}
