//! systemd unit-file parsing with the error behaviour of go-systemd's
//! `unit.DeserializeOptions` (v22), which Ignition uses to reject unit and
//! drop-in contents (`invalid unit content: <err>`).
//!
//! go-systemd's lexer reads through a 4096-byte `bufio.Reader` and only
//! checks for over-long lines when at least 2048 bytes are buffered before a
//! lexing step, so whether a long line is caught depends on the buffer's fill
//! state. To report exactly what Ignition reports, the reader's buffering
//! (`fill`, `ReadRune`, `ReadBytes`, `UnreadRune`) is simulated step by step.

/// One `Key=Value` option with its section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UnitOption {
    pub section: String,
    pub name: String,
    pub value: String,
}

const BUF_SIZE: usize = 4096;
const LINE_MAX: usize = 2048;

/// A model of Go's `bufio.Reader` over a `strings.Reader`, in absolute
/// offsets: `r..w` is the buffered window.
struct Buf<'a> {
    src: &'a [u8],
    r: usize,
    w: usize,
    eof: bool,
    last_rune: Option<usize>,
}

#[derive(Debug)]
enum ReadErr {
    Eof,
}

impl<'a> Buf<'a> {
    fn buffered(&self) -> usize {
        self.w - self.r
    }

    fn fill(&mut self) {
        let free = BUF_SIZE - self.buffered();
        let n = free.min(self.src.len() - self.w);
        if n == 0 {
            self.eof = true;
        } else {
            self.w += n;
        }
    }

    fn take_err(&mut self) -> ReadErr {
        self.eof = false;
        ReadErr::Eof
    }

    fn full_rune(b: &[u8]) -> bool {
        match b.first() {
            None => false,
            Some(&c) => {
                let need = if c < 0x80 {
                    1
                } else if c >> 5 == 0b110 {
                    2
                } else if c >> 4 == 0b1110 {
                    3
                } else if c >> 3 == 0b11110 {
                    4
                } else {
                    1
                };
                b.len() >= need
            }
        }
    }

    fn read_rune(&mut self) -> Result<char, ReadErr> {
        while self.r + 4 > self.w
            && !Self::full_rune(&self.src[self.r..self.w])
            && !self.eof
            && self.buffered() < BUF_SIZE
        {
            self.fill();
        }
        self.last_rune = None;
        if self.r == self.w {
            return Err(self.take_err());
        }
        let rest = &self.src[self.r..self.w];
        let (c, size) = match std::str::from_utf8(&rest[..rest.len().min(4)]) {
            Ok(s) => {
                let c = s.chars().next().unwrap_or('\u{fffd}');
                (c, c.len_utf8())
            }
            Err(e) if e.valid_up_to() > 0 => {
                let s = std::str::from_utf8(&rest[..e.valid_up_to()]).unwrap_or("\u{fffd}");
                let c = s.chars().next().unwrap_or('\u{fffd}');
                (c, c.len_utf8())
            }
            Err(_) => ('\u{fffd}', 1),
        };
        self.r += size;
        self.last_rune = Some(size);
        Ok(c)
    }

    fn unread_rune(&mut self) {
        if let Some(n) = self.last_rune.take() {
            self.r -= n;
        }
    }

    /// `ReadBytes(delim)`: the bytes up to and including `delim`, or up to
    /// the end with `Err(EOF)`.
    fn read_bytes(&mut self, delim: u8) -> (Vec<u8>, Option<ReadErr>) {
        let mut out = Vec::new();
        loop {
            let mut s = 0;
            let res = loop {
                if let Some(i) = self.src[self.r + s..self.w]
                    .iter()
                    .position(|&c| c == delim)
                {
                    let end = self.r + s + i + 1;
                    out.extend_from_slice(&self.src[self.r..end]);
                    self.r = end;
                    break Ok(());
                }
                if self.eof {
                    out.extend_from_slice(&self.src[self.r..self.w]);
                    self.r = self.w;
                    break Err(Some(self.take_err()));
                }
                if self.buffered() >= BUF_SIZE {
                    out.extend_from_slice(&self.src[self.r..self.w]);
                    self.r = self.w;
                    break Err(None); // ErrBufferFull: keep collecting
                }
                s = self.buffered();
                self.fill();
            };
            match res {
                Ok(()) => return (out, None),
                Err(Some(e)) => return (out, Some(e)),
                Err(None) => continue,
            }
        }
    }

    /// go-systemd's `toEOL`: (line without `\r`/`\n` suffixes, hit EOF).
    fn read_to_eol(&mut self) -> (Vec<u8>, bool) {
        let (mut line, err) = self.read_bytes(b'\n');
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        if line.last() == Some(&b'\n') {
            line.pop();
        }
        (line, err.is_some())
    }
}

enum Step {
    NextSection,
    SectionName,
    SectionSuffix(String),
    IgnoreLine(Box<Step>),
    NextSectionOrOption(String),
    OptionName(String),
    OptionValue(String, String, Vec<u8>),
}

fn trim_space(b: &[u8]) -> &[u8] {
    // Go's bytes.TrimSpace trims Unicode white space, as `str::trim` does.
    // Lines are cut at ASCII bytes of valid UTF-8, so they stay valid.
    match std::str::from_utf8(b) {
        Ok(s) => {
            let lead = s.len() - s.trim_start().len();
            let t = s.trim();
            &b[lead..lead + t.len()]
        }
        Err(_) => b.trim_ascii(),
    }
}

fn is_comment(c: char) -> bool {
    c == '#' || c == ';'
}

/// Go's `%q` of a byte string (for the "found garbage" message).
pub(crate) fn go_quote(b: &[u8]) -> String {
    let mut out = String::from("\"");
    for c in String::from_utf8_lossy(b).chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if c.is_control() => {
                if (c as u32) < 0x10000 {
                    out.push_str(&format!("\\u{:04x}", c as u32))
                } else {
                    out.push_str(&format!("\\U{:08x}", c as u32))
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// go-systemd `unit.DeserializeOptions`: the options, or the error text.
pub(crate) fn deserialize(contents: &str) -> Result<Vec<UnitOption>, String> {
    let mut b = Buf {
        src: contents.as_bytes(),
        r: 0,
        w: 0,
        eof: false,
        last_rune: None,
    };
    let mut opts = Vec::new();
    let mut sections = 0usize;
    let mut next = Some(Step::NextSection);
    while let Some(step) = next.take() {
        if b.buffered() >= LINE_MAX {
            let peek = &b.src[b.r..b.r + LINE_MAX];
            if !peek.iter().any(|&c| c == b'\r' || c == b'\n') {
                return Err(format!("line too long (max {LINE_MAX} bytes)"));
            }
        }
        next = match step {
            Step::NextSection => match b.read_rune() {
                Err(_) => None,
                Ok('[') => Some(Step::SectionName),
                Ok(c) if is_comment(c) => Some(Step::IgnoreLine(Box::new(Step::NextSection))),
                Ok(_) => Some(Step::NextSection),
            },
            Step::SectionName => {
                let (sec, err) = b.read_bytes(b']');
                if err.is_some() {
                    return Err("unable to find end of section".into());
                }
                let name = String::from_utf8_lossy(&sec[..sec.len() - 1]).into_owned();
                Some(Step::SectionSuffix(name))
            }
            Step::SectionSuffix(section) => {
                let (garbage, _) = b.read_to_eol();
                let garbage = trim_space(&garbage);
                if !garbage.is_empty() {
                    // go-systemd never sets the lexer's section field, so
                    // the name is always empty in this message.
                    return Err(format!(
                        "found garbage after section name : {}",
                        go_quote(garbage)
                    ));
                }
                sections += 1;
                Some(Step::NextSectionOrOption(section))
            }
            Step::IgnoreLine(then) => {
                loop {
                    let (mut line, _) = b.read_to_eol();
                    if line.last() == Some(&b' ') {
                        line.pop();
                    }
                    if line.last() != Some(&b'\\') {
                        break;
                    }
                }
                Some(*then)
            }
            Step::NextSectionOrOption(section) => match b.read_rune() {
                Err(_) => None,
                Ok(c) if c.is_whitespace() => Some(Step::NextSectionOrOption(section)),
                Ok('[') => Some(Step::SectionName),
                Ok(c) if is_comment(c) => Some(Step::IgnoreLine(Box::new(
                    Step::NextSectionOrOption(section),
                ))),
                Ok(_) => {
                    b.unread_rune();
                    Some(Step::OptionName(section))
                }
            },
            Step::OptionName(section) => {
                let mut partial = String::new();
                loop {
                    match b.read_rune() {
                        Err(ReadErr::Eof) => return Err("EOF".into()),
                        Ok('\n') | Ok('\r') => {
                            return Err(
                                "unexpected newline encountered while parsing option name".into()
                            )
                        }
                        Ok('=') => break,
                        Ok(c) => partial.push(c),
                    }
                }
                Some(Step::OptionValue(
                    section,
                    partial.trim().to_string(),
                    Vec::new(),
                ))
            }
            Step::OptionValue(section, name, mut partial) => {
                let (line, eof) = b.read_to_eol();
                let mut cont = false;
                if !trim_space(&line).is_empty() {
                    partial.extend_from_slice(&line);
                    if line.last() == Some(&b'\\') {
                        if !eof {
                            partial.push(b'\n');
                        }
                        cont = true;
                    }
                }
                if cont {
                    Some(Step::OptionValue(section, name, partial))
                } else {
                    let val = String::from_utf8_lossy(&partial).into_owned();
                    let value = if val.ends_with('\n') {
                        format!("{}\n", val.trim())
                    } else {
                        val.trim().to_string()
                    };
                    if sections == 0 {
                        return Err("unit file misparse: option before section".into());
                    }
                    opts.push(UnitOption {
                        section: section.clone(),
                        name,
                        value,
                    });
                    Some(Step::NextSectionOrOption(section))
                }
            }
        };
    }
    Ok(opts)
}

/// Ignition's `parse.ParseUnitContents`: `None` contents parse to no options.
pub(crate) fn parse_unit_contents(contents: Option<&str>) -> Result<Vec<UnitOption>, String> {
    match contents {
        None => Ok(Vec::new()),
        Some(c) => deserialize(c).map_err(|e| format!("invalid unit content: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_options() {
        let o = deserialize(
            "# comment \\\n continued\n[Unit]\nDescription = hi there \nExecStart=/bin/a \\\n  b\n\n[Install]\nWantedBy=multi-user.target",
        )
        .unwrap();
        assert_eq!(o.len(), 3);
        assert_eq!(o[0].section, "Unit");
        assert_eq!(o[0].name, "Description");
        assert_eq!(o[0].value, "hi there");
        assert_eq!(o[1].value, "/bin/a \\\n  b");
        assert_eq!(o[2].section, "Install");
        assert!(deserialize("").unwrap().is_empty());
        // Garbage before the first section is skipped character by character.
        assert!(deserialize("Foo=bar\n").unwrap().is_empty());
        // A section without options yields no options at all.
        assert!(deserialize("[Install]\n").unwrap().is_empty());
    }

    #[test]
    fn errors_match_go_systemd() {
        let cases = [
            ("[Unit", "unable to find end of section"),
            ("[Unit] x\n", "found garbage after section name : \"x\""),
            (
                "[Unit]\nFoo\nBar=1",
                "unexpected newline encountered while parsing option name",
            ),
            ("[Unit]\nFoo", "EOF"),
        ];
        for (input, want) in cases {
            assert_eq!(deserialize(input), Err(want.to_string()), "{input:?}");
        }
        assert_eq!(
            parse_unit_contents(Some("[Unit")),
            Err("invalid unit content: unable to find end of section".into())
        );
        assert_eq!(parse_unit_contents(None), Ok(vec![]));
    }

    #[test]
    fn long_lines_depend_on_buffering() {
        let long = "a".repeat(2100);
        let c = format!("[Service]\nExecStart={long}\n");
        assert_eq!(
            deserialize(&c),
            Err("line too long (max 2048 bytes)".into())
        );
        // Short total input: fewer than 2048 bytes are ever buffered.
        let c = format!("[Service]\nExecStart={}\n", "a".repeat(2000));
        assert!(deserialize(&c).is_ok());
        // A long line that starts when less than 2048 bytes remain buffered
        // slips through, as in go-systemd: 3000 bytes of short options fill
        // the 4096-byte buffer, the long line then starts near its end.
        let mut c = String::from("[Service]\n");
        while c.len() < 3500 {
            c.push_str("Environment=A=1\n");
        }
        c.push_str(&format!("ExecStart={}\n", "b".repeat(3000)));
        let slips = deserialize(&c);
        assert!(slips.is_ok(), "{slips:?}");
    }
}
