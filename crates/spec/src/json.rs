//! A JSON reader that behaves like Go's `encoding/json` scanner, as Ignition
//! sees it through `coreos/go-json` and `vcontext`.
//!
//! It builds an arena tree (no recursion, so neither parsing nor dropping a
//! 10,000-deep document can overflow the stack) in which every node keeps the
//! byte index Ignition uses for its line/column: one past the opening brace
//! for objects and arrays, the first byte for literals, the opening quote for
//! object keys. Syntax errors carry Go's exact message and offset (`invalid
//! character 't' after top-level value`, `unexpected end of JSON input`,
//! `invalid character '[' exceeded max depth`), so reports can be compared
//! as text with `ignition-validate`.

/// Go's `maxNestingDepth`.
const MAX_DEPTH: usize = 10_000;

/// String bytes that need no attention: printable ASCII except `"` and `\\`.
static PLAIN: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0x20;
    while c < 0x80 {
        t[c] = c != b'"' as usize && c != b'\\' as usize;
        c += 1;
    }
    t
};

/// Index of a node in [`Tree::nodes`].
pub(crate) type NodeId = usize;

/// A value in the tree.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum JVal {
    Null,
    Bool(bool),
    /// A number; its literal text is `src[start..end]`.
    Num,
    Str(String),
    Arr(Vec<NodeId>),
    Obj(Vec<Member>),
}

/// One `"key": value` of an object, in document order (duplicates kept).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Member {
    pub key: String,
    /// Byte index of the key's opening quote.
    pub key_pos: usize,
    pub val: NodeId,
}

/// A node with its positions.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct JNode {
    /// Go's `Node.Start`: one past `{`/`[`, or the literal's first byte.
    pub start: usize,
    /// One past the last byte of a literal (Go's `readIndex()` after it);
    /// for objects and arrays, one past the closing bracket.
    pub end: usize,
    pub val: JVal,
}

impl JNode {
    /// Go's name of the JSON kind, as used in `cannot unmarshal <kind>`.
    pub(crate) fn kind_name(&self) -> &'static str {
        match self.val {
            JVal::Null => "null",
            JVal::Bool(_) => "bool",
            JVal::Num => "number",
            JVal::Str(_) => "string",
            JVal::Arr(_) => "array",
            JVal::Obj(_) => "object",
        }
    }

    /// Offset Go reports for a type error on this value: after `{`/`[` for
    /// containers, after the literal otherwise.
    pub(crate) fn type_error_offset(&self) -> usize {
        match self.val {
            JVal::Arr(_) | JVal::Obj(_) => self.start,
            _ => self.end,
        }
    }
}

/// A parsed document: node 0 is the root.
#[derive(Debug, Clone)]
pub(crate) struct Tree {
    pub nodes: Vec<JNode>,
}

impl Tree {
    pub(crate) fn root(&self) -> &JNode {
        &self.nodes[0]
    }

    pub(crate) fn node(&self, id: NodeId) -> &JNode {
        &self.nodes[id]
    }

    /// Go-json's map semantics: the last member with exactly this key.
    pub(crate) fn get_member(&self, id: NodeId, key: &str) -> Option<&Member> {
        match &self.nodes[id].val {
            JVal::Obj(ms) => ms.iter().rev().find(|m| m.key == key),
            _ => None,
        }
    }
}

/// A syntax error: Go's message and `SyntaxError.Offset`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub msg: String,
    pub offset: usize,
}

/// Go's `quoteChar`: how a byte is shown in `invalid character X`.
pub(crate) fn quote_char(c: u8) -> String {
    match c {
        b'\'' => "'\\''".into(),
        b'"' => "'\"'".into(),
        _ => {
            // strconv.Quote(string(rune(c))) without its double quotes.
            let r = char::from(c);
            let body = match c {
                0x07 => "\\a".into(),
                0x08 => "\\b".into(),
                0x0c => "\\f".into(),
                b'\n' => "\\n".into(),
                b'\r' => "\\r".into(),
                b'\t' => "\\t".into(),
                0x0b => "\\v".into(),
                b'\\' => "\\\\".into(),
                0..=0x1f | 0x7f => format!("\\x{c:02x}"),
                0x80..=0xa0 | 0xad => format!("\\u{:04x}", c as u32),
                _ => r.to_string(),
            };
            format!("'{body}'")
        }
    }
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

/// What the parser expects next.
enum Expect {
    Value,
    Key,
    Colon,
    AfterValue,
}

enum Frame {
    Obj {
        id: NodeId,
        members: Vec<Member>,
        /// Key read, waiting for its value.
        key: Option<(String, usize)>,
    },
    Arr {
        id: NodeId,
        items: Vec<NodeId>,
    },
}

struct Parser<'a> {
    src: &'a [u8],
    i: usize,
    nodes: Vec<JNode>,
    stack: Vec<Frame>,
}

impl Parser<'_> {
    fn err<T>(&self, context: &str) -> Result<T, SyntaxError> {
        match self.src.get(self.i) {
            Some(&c) => Err(SyntaxError {
                msg: format!("invalid character {} {context}", quote_char(c)),
                offset: self.i + 1,
            }),
            None => Err(eof(self.src)),
        }
    }

    fn skip_ws(&mut self) {
        while self.i < self.src.len() && is_space(self.src[self.i]) {
            self.i += 1;
        }
    }

    fn push_node(&mut self, start: usize, end: usize, val: JVal) -> NodeId {
        self.nodes.push(JNode { start, end, val });
        self.nodes.len() - 1
    }

    /// Parses the whole document with an explicit state instead of
    /// recursion.
    fn document(&mut self) -> Result<(), SyntaxError> {
        let mut expect = Expect::Value;
        loop {
            self.skip_ws();
            expect = match expect {
                Expect::Value => self.value_start()?,
                Expect::Key => {
                    self.key()?;
                    Expect::Colon
                }
                Expect::Colon => {
                    match self.src.get(self.i) {
                        Some(b':') => self.i += 1,
                        Some(_) => return self.err("after object key"),
                        None => return Err(eof(self.src)),
                    }
                    Expect::Value
                }
                Expect::AfterValue => {
                    let Some(top) = self.stack.last() else {
                        // Top level complete.
                        if self.i < self.src.len() {
                            return self.err("after top-level value");
                        }
                        return Ok(());
                    };
                    let is_obj = matches!(top, Frame::Obj { .. });
                    let c = match self.src.get(self.i) {
                        Some(&c) => c,
                        None => return Err(eof(self.src)),
                    };
                    match (is_obj, c) {
                        (true, b',') => {
                            self.i += 1;
                            Expect::Key
                        }
                        (false, b',') => {
                            self.i += 1;
                            Expect::Value
                        }
                        (true, b'}') | (false, b']') => {
                            self.i += 1;
                            self.close();
                            Expect::AfterValue
                        }
                        (true, _) => return self.err("after object key:value pair"),
                        (false, _) => return self.err("after array element"),
                    }
                }
            };
        }
    }

    /// Pops the innermost container and attaches it to its parent.
    fn close(&mut self) {
        let end = self.i;
        let (id, val) = match self.stack.pop() {
            Some(Frame::Obj { id, members, .. }) => (id, JVal::Obj(members)),
            Some(Frame::Arr { id, items }) => (id, JVal::Arr(items)),
            None => return,
        };
        self.nodes[id].val = val;
        self.nodes[id].end = end;
        self.attach(id);
    }

    /// Hands a finished value to the enclosing container.
    fn attach(&mut self, id: NodeId) {
        match self.stack.last_mut() {
            Some(Frame::Obj { members, key, .. }) => {
                if let Some((k, pos)) = key.take() {
                    members.push(Member {
                        key: k,
                        key_pos: pos,
                        val: id,
                    });
                }
            }
            Some(Frame::Arr { items, .. }) => items.push(id),
            None => {}
        }
    }

    /// Reads an object key (at `"`) and leaves the frame waiting for `:`.
    fn key(&mut self) -> Result<(), SyntaxError> {
        if self.src.get(self.i) != Some(&b'"') {
            return self.err("looking for beginning of object key string");
        }
        let pos = self.i;
        let s = self.string()?;
        if let Some(Frame::Obj { key, .. }) = self.stack.last_mut() {
            *key = Some((s, pos));
        }
        Ok(())
    }

    /// Starts a value at `self.i` (whitespace skipped): reads a literal
    /// completely, or opens a container; says what comes next.
    fn value_start(&mut self) -> Result<Expect, SyntaxError> {
        let Some(&c) = self.src.get(self.i) else {
            return Err(eof(self.src));
        };
        let start = self.i;
        match c {
            b'{' | b'[' => {
                self.i += 1;
                if self.stack.len() + 1 > MAX_DEPTH {
                    return Err(SyntaxError {
                        msg: format!("invalid character {} exceeded max depth", quote_char(c)),
                        offset: self.i,
                    });
                }
                let id = self.push_node(self.i, self.i, JVal::Null);
                self.skip_ws();
                let (frame, close, next) = if c == b'{' {
                    let f = Frame::Obj {
                        id,
                        members: Vec::new(),
                        key: None,
                    };
                    (f, b'}', Expect::Key)
                } else {
                    let f = Frame::Arr {
                        id,
                        items: Vec::new(),
                    };
                    (f, b']', Expect::Value)
                };
                self.stack.push(frame);
                if self.src.get(self.i) == Some(&close) {
                    self.i += 1;
                    self.close();
                    return Ok(Expect::AfterValue);
                }
                Ok(next)
            }
            b'"' => {
                let s = self.string()?;
                let id = self.push_node(start, self.i, JVal::Str(s));
                self.attach(id);
                Ok(Expect::AfterValue)
            }
            b'-' | b'0'..=b'9' => {
                self.number()?;
                let id = self.push_node(start, self.i, JVal::Num);
                self.attach(id);
                Ok(Expect::AfterValue)
            }
            b't' => self.literal("true", JVal::Bool(true)),
            b'f' => self.literal("false", JVal::Bool(false)),
            b'n' => self.literal("null", JVal::Null),
            _ => self.err("looking for beginning of value"),
        }
    }

    fn literal(&mut self, word: &'static str, val: JVal) -> Result<Expect, SyntaxError> {
        let start = self.i;
        for (k, &w) in word.as_bytes().iter().enumerate().skip(1) {
            self.i = start + k;
            match self.src.get(self.i) {
                Some(&c) if c == w => {}
                Some(_) => {
                    return self.err(&format!("in literal {word} (expecting '{}')", w as char))
                }
                None => return Err(eof(self.src)),
            }
        }
        self.i = start + word.len();
        let id = self.push_node(start, self.i, val);
        self.attach(id);
        Ok(Expect::AfterValue)
    }

    fn digits(&mut self) {
        while self.src.get(self.i).is_some_and(u8::is_ascii_digit) {
            self.i += 1;
        }
    }

    /// Scans a number following Go's scanner states.
    fn number(&mut self) -> Result<(), SyntaxError> {
        if self.src[self.i] == b'-' {
            self.i += 1;
            match self.src.get(self.i) {
                Some(b'0'..=b'9') => {}
                Some(_) => return self.err("in numeric literal"),
                None => return Err(eof(self.src)),
            }
        }
        if self.src[self.i] == b'0' {
            self.i += 1;
        } else {
            self.digits();
        }
        if self.src.get(self.i) == Some(&b'.') {
            self.i += 1;
            match self.src.get(self.i) {
                Some(b'0'..=b'9') => self.digits(),
                Some(_) => return self.err("after decimal point in numeric literal"),
                None => return Err(eof(self.src)),
            }
        }
        if matches!(self.src.get(self.i), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.src.get(self.i), Some(b'+' | b'-')) {
                self.i += 1;
            }
            match self.src.get(self.i) {
                Some(b'0'..=b'9') => self.digits(),
                Some(_) => return self.err("in exponent of numeric literal"),
                None => return Err(eof(self.src)),
            }
        }
        Ok(())
    }

    /// Scans a string at `"` and returns its value decoded like Go's
    /// `unquote` (invalid UTF-8 and lone surrogates become U+FFFD).
    fn string(&mut self) -> Result<String, SyntaxError> {
        self.i += 1;
        let body_start = self.i;
        let mut simple = true;
        loop {
            // Skip plain ASCII quickly (a plain loop: fast even unoptimised).
            while self.i < self.src.len() && PLAIN[self.src[self.i] as usize] {
                self.i += 1;
            }
            let Some(&c) = self.src.get(self.i) else {
                return Err(eof(self.src));
            };
            match c {
                b'"' => break,
                b'\\' => {
                    simple = false;
                    self.i += 1;
                    match self.src.get(self.i) {
                        Some(b'b' | b'f' | b'n' | b'r' | b't' | b'\\' | b'/' | b'"') => self.i += 1,
                        Some(b'u') => {
                            for _ in 0..4 {
                                self.i += 1;
                                match self.src.get(self.i) {
                                    Some(h) if h.is_ascii_hexdigit() => {}
                                    Some(_) => {
                                        return self.err("in \\u hexadecimal character escape")
                                    }
                                    None => return Err(eof(self.src)),
                                }
                            }
                            self.i += 1;
                        }
                        Some(_) => return self.err("in string escape code"),
                        None => return Err(eof(self.src)),
                    }
                }
                0..=0x1f => return self.err("in string literal"),
                _ => {
                    if c >= 0x80 {
                        simple = false;
                    }
                    self.i += 1;
                }
            }
        }
        let body = &self.src[body_start..self.i];
        self.i += 1;
        if simple {
            // ASCII without escapes.
            return Ok(String::from_utf8(body.to_vec()).unwrap_or_default());
        }
        Ok(unquote(body))
    }
}

fn eof(src: &[u8]) -> SyntaxError {
    SyntaxError {
        msg: "unexpected end of JSON input".into(),
        offset: src.len(),
    }
}

fn hex4(b: &[u8]) -> Option<u32> {
    let s = std::str::from_utf8(b.get(..4)?).ok()?;
    u32::from_str_radix(s, 16).ok()
}

/// Go's `unquoteBytes` on a syntactically valid string body.
fn unquote(b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'\\' {
            let e = b[i + 1];
            i += 2;
            let ch = match e {
                b'b' => '\u{8}',
                b'f' => '\u{c}',
                b'n' => '\n',
                b'r' => '\r',
                b't' => '\t',
                b'u' => {
                    let r = hex4(&b[i..]).unwrap_or(0xfffd);
                    i += 4;
                    if (0xd800..0xe000).contains(&r) {
                        // A surrogate: combine with a following low one.
                        let low = if b.get(i..i + 2) == Some(b"\\u") {
                            hex4(&b[i + 2..])
                        } else {
                            None
                        };
                        match low {
                            Some(lo)
                                if (0xd800..0xdc00).contains(&r)
                                    && (0xdc00..0xe000).contains(&lo) =>
                            {
                                i += 6;
                                char::from_u32(0x10000 + ((r - 0xd800) << 10) + (lo - 0xdc00))
                                    .unwrap_or('\u{fffd}')
                            }
                            _ => '\u{fffd}',
                        }
                    } else {
                        char::from_u32(r).unwrap_or('\u{fffd}')
                    }
                }
                other => other as char,
            };
            out.push(ch);
            continue;
        }
        if c < 0x80 {
            out.push(c as char);
            i += 1;
            continue;
        }
        // One UTF-8 sequence, or U+FFFD for each invalid byte (Go's
        // utf8.DecodeRune semantics).
        let w = match c {
            0xc2..=0xdf => 2,
            0xe0..=0xef => 3,
            0xf0..=0xf4 => 4,
            _ => 0,
        };
        match b.get(i..i + w).filter(|_| w > 0).map(std::str::from_utf8) {
            Some(Ok(s)) => {
                out.push_str(s);
                i += w;
            }
            _ => {
                out.push('\u{fffd}');
                i += 1;
            }
        }
    }
    out
}

/// Parses `src` into a tree, or returns Go's syntax error.
pub(crate) fn parse(src: &[u8]) -> Result<Tree, SyntaxError> {
    let mut p = Parser {
        src,
        i: 0,
        nodes: Vec::new(),
        stack: Vec::new(),
    };
    p.document()?;
    Ok(Tree { nodes: p.nodes })
}

/// Maps byte offsets to Ignition's 1-based line and byte column. An offset
/// at or past the end gives line 0 col 0, as `vcontext`'s `FixLineColumn`
/// never reaches it (`unexpected end of JSON input` is reported so).
#[derive(Debug)]
pub(crate) struct Lines<'a> {
    src: &'a [u8],
    /// Line start offsets, computed on first use (most configs have no
    /// entries, so most parses never need them).
    starts: std::cell::OnceCell<Vec<usize>>,
}

impl<'a> Lines<'a> {
    pub(crate) fn new(src: &'a [u8]) -> Self {
        Self {
            src,
            starts: std::cell::OnceCell::new(),
        }
    }

    pub(crate) fn line_col(&self, offset: usize) -> (usize, usize) {
        if offset >= self.src.len() {
            return (0, 0);
        }
        let starts = self.starts.get_or_init(|| {
            let mut v = vec![0];
            for (i, &c) in self.src.iter().enumerate() {
                if c == b'\n' {
                    v.push(i + 1);
                }
            }
            v
        });
        let line = starts.partition_point(|&s| s <= offset);
        (line, offset - starts[line - 1] + 1)
    }
}

/// Renders a tree node back to compact JSON (tests and debugging).
#[cfg(test)]
pub(crate) fn render(t: &Tree, id: NodeId, src: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let n = t.node(id);
    match &n.val {
        JVal::Null => out.push_str("null"),
        JVal::Bool(b) => {
            let _ = write!(out, "{b}");
        }
        JVal::Num => out.push_str(std::str::from_utf8(&src[n.start..n.end]).unwrap_or("?")),
        JVal::Str(s) => {
            let _ = write!(out, "{s:?}");
        }
        JVal::Arr(items) => {
            out.push('[');
            for (k, &c) in items.iter().enumerate() {
                if k > 0 {
                    out.push(',');
                }
                out.push_str(&render(t, c, src));
            }
            out.push(']');
        }
        JVal::Obj(ms) => {
            out.push('{');
            for (k, m) in ms.iter().enumerate() {
                if k > 0 {
                    out.push(',');
                }
                let _ = write!(out, "{:?}:{}", m.key, render(t, m.val, src));
            }
            out.push('}');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(s: &str) -> (String, usize) {
        let e = parse(s.as_bytes()).unwrap_err();
        (e.msg, e.offset)
    }

    #[test]
    fn positions_match_go_json() {
        // The document of go-json's TestDecodeNode.
        let src = "{\n\t\"array\": [1, 2,\n\t{\"z\": \"a\"}],\n\t\"object\": {\n\t\t\"foo\": \"bar\"\n\t},\n\t\"int\": 12,\n\t\"str\": \"s\"\n\t}";
        let t = parse(src.as_bytes()).unwrap();
        assert_eq!(t.root().start, 1);
        let arr = t.get_member(0, "array").unwrap();
        assert_eq!((arr.key_pos, t.node(arr.val).start), (3, 13));
        let JVal::Arr(items) = &t.node(arr.val).val else {
            panic!()
        };
        let starts: Vec<usize> = items.iter().map(|&i| t.node(i).start).collect();
        assert_eq!(starts, vec![13, 16, 21]);
        let z = t.get_member(items[2], "z").unwrap();
        assert_eq!((z.key_pos, t.node(z.val).start), (21, 26));
        let obj = t.get_member(0, "object").unwrap();
        assert_eq!((obj.key_pos, t.node(obj.val).start), (34, 45));
        let foo = t.get_member(obj.val, "foo").unwrap();
        assert_eq!((foo.key_pos, t.node(foo.val).start), (48, 55));
        let int = t.get_member(0, "int").unwrap();
        assert_eq!((int.key_pos, t.node(int.val).start), (66, 73));
        let s = t.get_member(0, "str").unwrap();
        assert_eq!((s.key_pos, t.node(s.val).start), (78, 85));
    }

    #[test]
    fn syntax_errors_like_go() {
        // Offsets checked against ignition-validate 2.14 (col = offset + 1).
        assert_eq!(
            err(r#"{"ignition":{"version":"3.3.0"}} true"#),
            ("invalid character 't' after top-level value".into(), 34)
        );
        assert_eq!(
            err(r#"{"a":{"b": 420, }}"#),
            (
                "invalid character '}' looking for beginning of object key string".into(),
                17
            )
        );
        assert_eq!(err(r#"{"a":"#), ("unexpected end of JSON input".into(), 5));
        assert_eq!(err("   "), ("unexpected end of JSON input".into(), 3));
        assert_eq!(
            err("{\"a\":\"\u{1}\"}"),
            ("invalid character '\\x01' in string literal".into(), 7)
        );
        assert_eq!(
            err("{\"a\":\u{c3}}"),
            (
                "invalid character 'Ã' looking for beginning of value".into(),
                6
            )
        );
        assert_eq!(
            err("[1,]").0,
            "invalid character ']' looking for beginning of value"
        );
        assert_eq!(err("{\"a\" 1}").0, "invalid character '1' after object key");
        assert_eq!(
            err("{\"a\":1 2}").0,
            "invalid character '2' after object key:value pair"
        );
        assert_eq!(err("[1 2]").0, "invalid character '2' after array element");
        assert_eq!(
            err("[tru]").0,
            "invalid character ']' in literal true (expecting 'e')"
        );
        assert_eq!(
            err("[nul]").0,
            "invalid character ']' in literal null (expecting 'l')"
        );
        assert_eq!(
            err("[fals]").0,
            "invalid character ']' in literal false (expecting 'e')"
        );
        assert_eq!(err("[-]").0, "invalid character ']' in numeric literal");
        assert_eq!(
            err("[1.]").0,
            "invalid character ']' after decimal point in numeric literal"
        );
        assert_eq!(
            err("[1e]").0,
            "invalid character ']' in exponent of numeric literal"
        );
        assert_eq!(err("[01]").0, "invalid character '1' after array element");
        assert_eq!(
            err(r#"["\x"]"#).0,
            "invalid character 'x' in string escape code"
        );
        assert_eq!(
            err(r#"["\u12g4"]"#).0,
            "invalid character 'g' in \\u hexadecimal character escape"
        );
        assert_eq!(
            err("'").0,
            "invalid character '\\'' looking for beginning of value"
        );
        assert_eq!(
            err("\u{7f}").0,
            "invalid character '\\x7f' looking for beginning of value"
        );
    }

    #[test]
    fn depth_limit_without_stack_overflow() {
        let ok = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(parse(ok.as_bytes()).is_ok());
        let deep = format!("{}{}", "[".repeat(10_001), "]".repeat(10_001));
        assert_eq!(
            err(&deep),
            ("invalid character '[' exceeded max depth".into(), 10_001)
        );
        // Far deeper than any stack could recurse.
        let deeper = "[".repeat(1_000_000);
        assert!(parse(deeper.as_bytes()).is_err());
    }

    #[test]
    fn strings_decode_like_go() {
        let mut src = br#"["a\u00e9\ud83d\ude00\ud800x\n\/", ""#.to_vec();
        src.extend_from_slice(b"\xff\xc3\xa9\"]");
        let t = parse(&src).unwrap();
        let JVal::Arr(items) = &t.root().val else {
            panic!()
        };
        assert_eq!(
            t.node(items[0]).val,
            JVal::Str("a\u{e9}\u{1f600}\u{fffd}x\n/".into())
        );
        assert_eq!(t.node(items[1]).val, JVal::Str("\u{fffd}\u{e9}".into()));
    }

    #[test]
    fn duplicate_keys_kept_in_order() {
        let src = br#"{"a":1,"b":[true,null],"a":{"c":"d"}}"#;
        let t = parse(src).unwrap();
        assert_eq!(
            render(&t, 0, src),
            r#"{"a":1,"b":[true,null],"a":{"c":"d"}}"#
        );
        let last = t.get_member(0, "a").unwrap();
        assert_eq!(last.key_pos, 23);
    }

    #[test]
    fn line_and_column() {
        let l = Lines::new(b"ab\ncd\n");
        assert_eq!(l.line_col(0), (1, 1));
        assert_eq!(l.line_col(2), (1, 3));
        assert_eq!(l.line_col(3), (2, 1));
        assert_eq!(l.line_col(6), (0, 0));
    }
}
