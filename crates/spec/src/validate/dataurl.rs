//! Strict RFC 2397 `data:` URL check with the error texts of
//! `github.com/vincent-petithory/dataurl` v1.0.0, which Ignition uses to
//! validate data URLs (`missing media type slash`, `missing comma before
//! data`, `illegal base64 data at input byte 4`, ...). The lexer's states and
//! the parser's item handling (parameter unquoting and unescaping, base64 and
//! percent decoding) are modelled so that the first error is the same one Go
//! reports. Decoding the payload itself is `reignite-fetch`'s job.

const PREFIX: &str = "data:";

#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    MediaType,
    ParamAttr,
    LeftQuote,
    ParamVal(String),
    Base64,
    Comma,
    Data(String),
    Eof,
    Error(String),
}

fn is_tspecial(r: char) -> bool {
    matches!(
        r,
        '(' | ')' | '<' | '>' | '@' | ',' | ';' | ':' | '\\' | '"' | '/' | '[' | ']' | '?' | '='
    )
}

fn is_token(r: char) -> bool {
    r.is_ascii() && !r.is_ascii_control() && !r.is_whitespace() && !is_tspecial(r)
}

fn is_url_char(r: char) -> bool {
    r.is_ascii()
        && !(r as u32 <= 0x1f || r as u32 == 0x7f)
        && !matches!(
            r,
            ' ' | '<' | '>' | '#' | '"' | '{' | '}' | '|' | '\\' | '^' | '[' | ']' | '`'
        )
}

fn is_base64_char(r: char) -> bool {
    r.is_ascii_alphanumeric() || matches!(r, '+' | '/' | '=' | '\n')
}

fn is_discrete_or_composite(s: &str) -> bool {
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
    .any(|p| s.starts_with(p))
}

struct Lexer<'a> {
    input: &'a str,
    start: usize,
    pos: usize,
    width: usize,
    seen_base64: bool,
    items: Vec<Item>,
}

#[derive(Clone, Copy)]
enum State {
    AfterPrefix,
    XToken,
    Discrete,
    MediaSep,
    AfterMediaSep,
    AfterSubType,
    ParamSemicolon,
    AfterParamSemicolon,
    InParamAttr,
    AfterParamEqual,
    InQuoted,
    Escaped,
    InParamVal,
    AfterParamVal,
    DataComma,
    Data,
    Base64Data,
}

impl Lexer<'_> {
    fn next(&mut self) -> Option<char> {
        match self.input[self.pos..].chars().next() {
            None => {
                self.width = 0;
                None
            }
            Some(c) => {
                self.width = c.len_utf8();
                self.pos += self.width;
                Some(c)
            }
        }
    }
    fn backup(&mut self) {
        self.pos -= self.width;
    }
    fn emit(&mut self, item: Item) {
        self.items.push(item);
        self.start = self.pos;
    }
    fn cur(&self) -> String {
        self.input[self.start..self.pos].to_string()
    }
    fn fail(&mut self, msg: &str) -> Option<State> {
        self.items.push(Item::Error(msg.to_string()));
        None
    }

    fn run(&mut self) {
        if !self.input.starts_with(PREFIX) {
            self.fail("missing data prefix");
            return;
        }
        self.pos = PREFIX.len();
        self.start = self.pos;
        let mut state = Some(State::AfterPrefix);
        while let Some(s) = state {
            state = self.step(s);
        }
    }

    fn step(&mut self, s: State) -> Option<State> {
        use State::*;
        match s {
            AfterPrefix => match self.next() {
                Some(';') => {
                    self.backup();
                    Some(ParamSemicolon)
                }
                Some(',') => {
                    self.backup();
                    Some(DataComma)
                }
                None => self.fail("missing comma before data"),
                Some('x') | Some('X') => {
                    if self.next() == Some('-') {
                        Some(XToken)
                    } else {
                        Some(Discrete)
                    }
                }
                Some(r) if is_token(r) => Some(Discrete),
                Some(_) => self.fail("invalid character after data prefix"),
            },
            XToken | Discrete => loop {
                match self.next() {
                    Some('/') => {
                        self.backup();
                        if matches!(s, Discrete) && !is_discrete_or_composite(&self.cur()) {
                            return self.fail("invalid media type");
                        }
                        if self.pos > self.start {
                            self.emit(Item::MediaType);
                        }
                        return Some(MediaSep);
                    }
                    None => return self.fail("missing media type slash"),
                    Some(r) if is_token(r) => {}
                    Some(_) => return self.fail("invalid character for media type"),
                }
            },
            MediaSep => {
                self.next();
                self.start = self.pos;
                Some(AfterMediaSep)
            }
            AfterMediaSep => loop {
                match self.next() {
                    Some(';') | Some(',') => {
                        self.backup();
                        self.start = self.pos;
                        return Some(AfterSubType);
                    }
                    None => return self.fail("incomplete media type"),
                    Some(r) if is_token(r) => {}
                    Some(_) => return self.fail("invalid character for media subtype"),
                }
            },
            AfterSubType | AfterParamVal => match self.next() {
                Some(';') => {
                    self.backup();
                    Some(ParamSemicolon)
                }
                Some(',') => {
                    self.backup();
                    Some(DataComma)
                }
                None => self.fail("missing comma before data"),
                Some(_) => self.fail("expected semicolon or comma"),
            },
            ParamSemicolon => {
                self.next();
                self.start = self.pos;
                Some(AfterParamSemicolon)
            }
            AfterParamSemicolon => match self.next() {
                None | Some('=') | Some(',') => self.fail("unterminated parameter sequence"),
                Some(r) if is_token(r) => {
                    self.backup();
                    Some(InParamAttr)
                }
                Some(_) => self.fail("invalid character for parameter attribute"),
            },
            InParamAttr => loop {
                match self.next() {
                    Some('=') => {
                        self.backup();
                        if self.pos > self.start {
                            self.emit(Item::ParamAttr);
                        }
                        self.next();
                        self.start = self.pos;
                        return Some(AfterParamEqual);
                    }
                    Some(',') => {
                        self.backup();
                        if self.pos > self.start {
                            let v = self.cur();
                            if v != "base64" {
                                return self.fail(&format!("expected base64, got {v}"));
                            }
                            self.seen_base64 = true;
                            self.emit(Item::Base64);
                        }
                        return Some(DataComma);
                    }
                    None => return self.fail("unterminated parameter sequence"),
                    Some(r) if is_token(r) => {}
                    Some(_) => return self.fail("invalid character for parameter attribute"),
                }
            },
            AfterParamEqual => match self.next() {
                Some('"') => {
                    self.emit(Item::LeftQuote);
                    Some(InQuoted)
                }
                None => self.fail("missing comma before data"),
                Some(r) if is_token(r) => Some(InParamVal),
                Some(_) => self.fail("invalid character for parameter value"),
            },
            InQuoted => loop {
                match self.next() {
                    None => return self.fail("unclosed quoted string"),
                    Some('\\') => return Some(Escaped),
                    Some('"') => {
                        self.backup();
                        if self.pos > self.start {
                            let v = self.cur();
                            self.emit(Item::ParamVal(v));
                        }
                        self.next();
                        self.start = self.pos;
                        return Some(AfterParamVal);
                    }
                    Some(r) if r.is_ascii() => {}
                    Some(_) => return self.fail("invalid character for parameter value"),
                }
            },
            Escaped => match self.next() {
                Some(r) if r.is_ascii() => Some(InQuoted),
                None => self.fail("unexpected eof"),
                Some(_) => self.fail("invalid escaped character"),
            },
            InParamVal => loop {
                match self.next() {
                    Some(';') | Some(',') => {
                        self.backup();
                        if self.pos > self.start {
                            let v = self.cur();
                            self.emit(Item::ParamVal(v));
                        }
                        return Some(AfterParamVal);
                    }
                    None => return self.fail("missing comma before data"),
                    Some(r) if is_token(r) => {}
                    Some(_) => return self.fail("invalid character for parameter value"),
                }
            },
            DataComma => {
                self.next();
                self.emit(Item::Comma);
                Some(if self.seen_base64 { Base64Data } else { Data })
            }
            Data | Base64Data => {
                let ok: fn(char) -> bool = if matches!(s, Data) {
                    is_url_char
                } else {
                    is_base64_char
                };
                while let Some(r) = self.next() {
                    if !ok(r) {
                        return self.fail("invalid data character");
                    }
                }
                if self.pos > self.start {
                    let v = self.cur();
                    self.emit(Item::Data(v));
                }
                self.emit(Item::Eof);
                None
            }
        }
    }
}

/// `dataurl.DecodeString(s)` succeeds: `Err(Go's error text)` otherwise.
pub(crate) fn decode_check(s: &str) -> Result<(), String> {
    let mut lx = Lexer {
        input: s,
        start: 0,
        pos: 0,
        width: 0,
        seen_base64: false,
        items: Vec::new(),
    };
    lx.run();
    let mut unquote_next = false;
    let mut base64 = false;
    for item in lx.items {
        match item {
            Item::Error(e) => return Err(e),
            Item::LeftQuote => unquote_next = true,
            Item::ParamVal(v) => {
                if unquote_next {
                    unquote_next = false;
                    go_unquote_check(&v).map_err(|_| "invalid syntax".to_string())?;
                } else {
                    rfc2396_unescape_check(&v)?;
                }
            }
            Item::Base64 => base64 = true,
            Item::Data(d) => {
                if base64 {
                    go_base64_check(d.as_bytes())
                        .map_err(|n| format!("illegal base64 data at input byte {n}"))?;
                } else {
                    rfc2396_unescape_check(&d)?;
                }
            }
            Item::Eof => return Ok(()),
            Item::MediaType | Item::ParamAttr | Item::Comma => {}
        }
    }
    Ok(())
}

/// dataurl's `Unescape` (only ASCII reaches it, the lexer guarantees that).
fn rfc2396_unescape_check(s: &str) -> Result<(), String> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            for k in 1..=2 {
                match b.get(i + k) {
                    None => return Err("rfc2396: unexpected end of unescape sequence".into()),
                    Some(c) if !c.is_ascii_hexdigit() => {
                        return Err("rfc2396: invalid char 0x25 in unescape sequence".into())
                    }
                    Some(_) => {}
                }
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    Ok(())
}

/// Go `strconv.Unquote` on `"` + s + `"` succeeds (s is ASCII, without an
/// unescaped `"`).
fn go_unquote_check(s: &str) -> Result<(), ()> {
    let b = s.as_bytes();
    if b.contains(&b'\n') {
        return Err(());
    }
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => return Err(()),
            b'\\' => {
                let c = *b.get(i + 1).ok_or(())?;
                i += 2;
                let hex = |n: usize, i: usize| -> Result<u32, ()> {
                    let d = b.get(i..i + n).ok_or(())?;
                    if !d.iter().all(u8::is_ascii_hexdigit) {
                        return Err(());
                    }
                    u32::from_str_radix(std::str::from_utf8(d).map_err(|_| ())?, 16).map_err(|_| ())
                };
                match c {
                    b'a' | b'b' | b'f' | b'n' | b'r' | b't' | b'v' | b'\\' | b'"' => {}
                    b'x' => {
                        hex(2, i)?;
                        i += 2;
                    }
                    b'u' | b'U' => {
                        let n = if c == b'u' { 4 } else { 8 };
                        let v = hex(n, i)?;
                        if char::from_u32(v).is_none() {
                            return Err(());
                        }
                        i += n;
                    }
                    b'0'..=b'7' => {
                        let d = b.get(i..i + 2).ok_or(())?;
                        if !d.iter().all(|x| (b'0'..=b'7').contains(x)) {
                            return Err(());
                        }
                        let v = u32::from(c - b'0') * 64
                            + u32::from(d[0] - b'0') * 8
                            + u32::from(d[1] - b'0');
                        if v > 255 {
                            return Err(());
                        }
                        i += 2;
                    }
                    _ => return Err(()),
                }
            }
            _ => i += 1,
        }
    }
    Ok(())
}

/// Go `base64.StdEncoding.DecodeString` error offsets
/// (`CorruptInputError`), newlines and carriage returns ignored.
pub(crate) fn go_base64_check(src: &[u8]) -> Result<(), usize> {
    let valid = |c: u8| c.is_ascii_alphanumeric() || c == b'+' || c == b'/';
    let is_nl = |c: u8| c == b'\n' || c == b'\r';
    let mut si = 0usize;
    while si < src.len() {
        let mut j = 0usize;
        while j < 4 {
            if si == src.len() {
                if j == 0 {
                    return Ok(());
                }
                return Err(si - j);
            }
            let c = src[si];
            si += 1;
            if valid(c) {
                j += 1;
                continue;
            }
            if is_nl(c) {
                continue;
            }
            if c != b'=' {
                return Err(si - 1);
            }
            match j {
                0 | 1 => return Err(si - 1),
                2 => {
                    while si < src.len() && is_nl(src[si]) {
                        si += 1;
                    }
                    if si == src.len() {
                        return Err(src.len());
                    }
                    if src[si] != b'=' {
                        return Err(si - 1);
                    }
                    si += 1;
                }
                _ => {}
            }
            while si < src.len() && is_nl(src[si]) {
                si += 1;
            }
            if si < src.len() {
                return Err(si);
            }
            return Ok(());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_valid_urls() {
        for ok in [
            "data:,",
            "data:,hello",
            "data:,hello%20world",
            "data:text/plain,x",
            "data:text/plain;charset=utf-8,x",
            "data:text/plain;charset=\"utf\\\"8\",x",
            "data:;base64,aGVsbG8=",
            "data:text/plain;base64,aGVs\nbG8=",
            "data:application/octet-stream;base64,",
            "data:x-foo/bar,x",
            "data:textual/plain,x",
            // An empty quoted value leaves the unquote flag set for the next value.
            "data:;a=\"\";b=%zz,x",
        ] {
            assert_eq!(decode_check(ok), Ok(()), "{ok:?}");
        }
    }

    #[test]
    fn reports_go_errors() {
        let cases = [
            ("DATA:,x", "missing data prefix"),
            ("data:", "missing comma before data"),
            ("data:text", "missing media type slash"),
            ("data:foo/bar,x", "invalid media type"),
            ("data:te\"xt/plain,x", "invalid character for media type"),
            ("data:text/plain", "incomplete media type"),
            ("data:text/pl\"ain,x", "invalid character for media subtype"),
            ("data:text/plain;,x", "unterminated parameter sequence"),
            ("data:text/plain;a", "unterminated parameter sequence"),
            ("data:text/plain;a=b", "missing comma before data"),
            ("data:;foo,x", "expected base64, got foo"),
            ("data:;a=\"b", "unclosed quoted string"),
            ("data:;a=\"\\z\",x", "invalid syntax"),
            (
                "data:;a=%zz,x",
                "rfc2396: invalid char 0x25 in unescape sequence",
            ),
            ("data:,a b", "invalid data character"),
            ("data:,%4", "rfc2396: unexpected end of unescape sequence"),
            (
                "data:,%zz",
                "rfc2396: invalid char 0x25 in unescape sequence",
            ),
            ("data:;base64,a", "illegal base64 data at input byte 0"),
            (
                "data:;base64,aGVsbG8",
                "illegal base64 data at input byte 4",
            ),
            (
                "data:;base64,aGVsbG8=x",
                "illegal base64 data at input byte 8",
            ),
            (
                "data:;base64,aG=sbG8=",
                "illegal base64 data at input byte 2",
            ),
            (
                "data:;base64,aGVsbG8=aaaa",
                "illegal base64 data at input byte 8",
            ),
            ("data:;base64,!", "invalid data character"),
            ("data:text/plain x,y", "invalid character for media subtype"),
            ("data:;a=\"b\"x,y", "expected semicolon or comma"),
        ];
        for (input, want) in cases {
            assert_eq!(decode_check(input), Err(want.to_string()), "{input:?}");
        }
    }

    #[test]
    fn base64_offsets() {
        assert_eq!(go_base64_check(b"QUJD"), Ok(()));
        assert_eq!(go_base64_check(b"QUI="), Ok(()));
        assert_eq!(go_base64_check(b"QQ=="), Ok(()));
        assert_eq!(go_base64_check(b"QQ="), Err(3));
        assert_eq!(go_base64_check(b"Q==="), Err(1));
        assert_eq!(go_base64_check(b"QUJDQ"), Err(4));
        assert_eq!(go_base64_check(b"QU\nJD\n"), Ok(()));
    }
}
