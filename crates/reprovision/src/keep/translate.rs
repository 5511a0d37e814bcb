//! Translation of keep patterns into the regex dialect of `regex-automata`.
//!
//! Two input languages exist: reignite globs (`/var/lib/docker/**`,
//! `/etc/ssh/ssh_host_*`) and POSIX extended regular expressions with the
//! meaning `find -regextype egrep -regex` gives them in flatcar-reset (the
//! regex must match the *whole* path). Both are turned into a regex whose
//! language is the set of kept paths; the caller compiles it anchored at both
//! ends, so `^`/`$` inside an ERE keep their POSIX meaning (they only anchor).

/// Characters that must be escaped to be literal in the Rust regex syntax.
/// Deliberately not "all punctuation": `\<` and `\>` mean word boundaries there.
const META: &str = r"\.+*?()|[]{}^$#&-~";

fn push_literal(out: &mut String, c: char) {
    if META.contains(c) {
        out.push('\\');
    }
    out.push(c);
}

/// Translates a bracket expression starting at `chars[i] == '['`; returns the
/// index after the closing `]`. `glob` selects glob rules (`!` negates and the
/// class never matches `/`).
fn bracket(chars: &[char], mut i: usize, out: &mut String, glob: bool) -> Result<usize, String> {
    i += 1;
    out.push('[');
    let mut negated = false;
    if matches!(chars.get(i), Some('^')) || (glob && matches!(chars.get(i), Some('!'))) {
        negated = true;
        out.push('^');
        i += 1;
    }
    if glob && negated {
        out.push('/');
    }
    if chars.get(i) == Some(&']') {
        out.push_str(r"\]");
        i += 1;
    }
    loop {
        let Some(&c) = chars.get(i) else {
            return Err("unterminated bracket expression '['".into());
        };
        match c {
            ']' => {
                out.push(']');
                return Ok(i + 1);
            }
            '[' if matches!(chars.get(i + 1), Some(':')) => {
                // POSIX character class such as [:alpha:]: same spelling in Rust.
                let rest: String = chars[i..].iter().collect();
                let end = rest
                    .find(":]")
                    .ok_or_else(|| "unterminated character class '[:'".to_string())?;
                out.push_str(&rest[..end + 2]);
                i += rest[..end + 2].chars().count();
            }
            '[' if matches!(chars.get(i + 1), Some('.' | '=')) => {
                return Err(
                    "collating elements and equivalence classes ([. .] [= =]) are not supported"
                        .into(),
                );
            }
            '-' => {
                out.push('-');
                i += 1;
            }
            // In a POSIX bracket expression a backslash is an ordinary
            // character; everything else that is special to Rust gets escaped.
            _ => {
                push_literal(out, c);
                i += 1;
            }
        }
    }
}

/// Translates a POSIX ERE (GNU egrep flavour as used by `find`) into the
/// `regex-automata` syntax with the same language under whole-string matching.
pub(crate) fn ere_to_regex(ere: &str) -> Result<String, String> {
    let chars: Vec<char> = ere.chars().collect();
    let mut out = String::with_capacity(ere.len() + 8);
    let mut i = 0;
    // True where a repetition operator would have nothing to repeat; POSIX
    // (and GNU) then read it as a literal character.
    let mut at_start = true;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' => {
                let Some(&n) = chars.get(i + 1) else {
                    return Err("trailing backslash".into());
                };
                match n {
                    'w' | 'W' | 's' | 'S' | 'b' | 'B' | '<' | '>' => {
                        out.push('\\');
                        out.push(n);
                    }
                    '`' => out.push_str(r"\A"),
                    '\'' => out.push_str(r"\z"),
                    '1'..='9' => return Err("back-references (\\1..\\9) are not supported".into()),
                    _ if n.is_ascii_alphanumeric() => {
                        return Err(format!("unsupported escape '\\{n}'"));
                    }
                    _ => push_literal(&mut out, n),
                }
                i += 2;
                at_start = false;
            }
            '[' => {
                i = bracket(&chars, i, &mut out, false)?;
                at_start = false;
            }
            '*' | '+' | '?' if at_start => {
                push_literal(&mut out, c);
                i += 1;
                at_start = false;
            }
            '{' => {
                // An interval only when well formed and after an atom;
                // otherwise GNU reads '{' literally.
                let rest: String = chars[i + 1..].iter().collect();
                let close = rest.find('}');
                let valid = !at_start
                    && close.is_some_and(|e| {
                        let body = &rest[..e];
                        let mut parts = body.splitn(2, ',');
                        let lo = parts.next().unwrap_or("");
                        let hi = parts.next();
                        !lo.is_empty()
                            && lo.chars().all(|d| d.is_ascii_digit())
                            && hi.is_none_or(|h| h.chars().all(|d| d.is_ascii_digit()))
                    });
                if let (true, Some(e)) = (valid, close) {
                    out.push('{');
                    out.push_str(&rest[..e]);
                    out.push('}');
                    i += e + 2;
                } else {
                    push_literal(&mut out, '{');
                    i += 1;
                }
                at_start = false;
            }
            '(' | '|' | '^' => {
                out.push(c);
                i += 1;
                at_start = true;
            }
            '.' | '$' | ')' | '*' | '+' | '?' => {
                out.push(c);
                i += 1;
                at_start = false;
            }
            _ => {
                push_literal(&mut out, c);
                i += 1;
                at_start = false;
            }
        }
    }
    Ok(out)
}

/// Translates a reignite glob into a regex. `*` and `?` never match `/`; `**`
/// as a whole segment matches any number of segments; `{a,b}` alternates;
/// `[...]`/`[!...]` are classes. A glob that matches a directory keeps its
/// whole subtree, so the result ends in `(?:/.*)?`.
pub(crate) fn glob_to_regex(glob: &str) -> Result<String, String> {
    let glob = if glob.len() > 1 {
        glob.strip_suffix('/').unwrap_or(glob)
    } else {
        glob
    };
    if !glob.starts_with('/') {
        return Err("a glob must be an absolute path".into());
    }
    let chars: Vec<char> = glob.chars().collect();
    let mut out = String::with_capacity(glob.len() + 16);
    let mut i = 0;
    let mut braces = 0usize;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '*' if chars.get(i + 1) == Some(&'*') => {
                let seg_start = i == 0 || chars[i - 1] == '/';
                let next = chars.get(i + 2);
                if seg_start && next == Some(&'/') {
                    out.push_str("(?:.*/)?");
                    i += 3;
                } else if seg_start && next.is_none() {
                    // "/a/**" matches "/a" itself and everything below it.
                    if out.ends_with('/') {
                        out.pop();
                    }
                    out.push_str("(?:/.*)?");
                    i += 2;
                } else {
                    out.push_str("[^/]*");
                    i += 2;
                }
            }
            '*' => {
                out.push_str("[^/]*");
                i += 1;
            }
            '?' => {
                out.push_str("[^/]");
                i += 1;
            }
            '[' => i = bracket(&chars, i, &mut out, true)?,
            '{' => {
                braces += 1;
                out.push_str("(?:");
                i += 1;
            }
            ',' if braces > 0 => {
                out.push('|');
                i += 1;
            }
            '}' if braces > 0 => {
                braces -= 1;
                out.push(')');
                i += 1;
            }
            '\\' => {
                let Some(&n) = chars.get(i + 1) else {
                    return Err("trailing backslash".into());
                };
                push_literal(&mut out, n);
                i += 2;
            }
            _ => {
                push_literal(&mut out, c);
                i += 1;
            }
        }
    }
    if braces > 0 {
        return Err("unterminated '{' alternative".into());
    }
    if !out.ends_with("(?:/.*)?") {
        out.push_str("(?:/.*)?");
    }
    Ok(out)
}

/// The leading literal part of a regex produced by this module, used to
/// reject patterns that can only name paths under `/usr`.
pub(crate) fn literal_prefix(regex: &str) -> String {
    let mut out = String::new();
    let mut chars = regex.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(n) if META.contains(n) => out.push(n),
                _ => break,
            },
            '^' if out.is_empty() => {}
            c if META.contains(c) => {
                // A following repetition makes the previous char optional.
                break;
            }
            c => {
                if matches!(chars.peek(), Some('*' | '?' | '{')) {
                    break;
                }
                out.push(c);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ere_translation_table() {
        let cases = [
            ("/etc/ssh/ssh_host_.*", r"/etc/ssh/ssh_host_.*"),
            ("/var/log", "/var/log"),
            ("/etc/mypath$", "/etc/mypath$"),
            ("^/etc/mypath", "^/etc/mypath"),
            ("/etc/mypat[h]", "/etc/mypat[h]"),
            ("(/etc/mypath)", "(/etc/mypath)"),
            (r"/a[\]b", r"/a[\\]b"),
            ("/a[]x]", r"/a[\]x]"),
            ("/a[[:digit:]]+", "/a[[:digit:]]+"),
            ("*x", r"\*x"),
            ("(+x|?y)", r"(\+x|\?y)"),
            ("/a{2}", "/a{2}"),
            ("/a{x", r"/a\{x"),
            ("/a-b~c&d#e", r"/a\-b\~c\&d\#e"),
            (r"/a\.b", r"/a\.b"),
            (r"/\<x", r"/\<x"),
        ];
        for (ere, want) in cases {
            assert_eq!(ere_to_regex(ere).unwrap(), want, "{ere}");
        }
    }

    #[test]
    fn ere_rejects_unsupported() {
        for bad in [r"/a\1", "/a[b", r"/a\", "/a[[.x.]]", r"/\d"] {
            assert!(ere_to_regex(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn glob_translation_table() {
        let cases = [
            ("/var/lib/docker/**", "/var/lib/docker(?:/.*)?"),
            ("/var/log/", r"/var/log(?:/.*)?"),
            ("/etc/ssh/ssh_host_*", r"/etc/ssh/ssh_host_[^/]*(?:/.*)?"),
            ("/home/**/.ssh", r"/home/(?:.*/)?\.ssh(?:/.*)?"),
            ("/a/{b,c}", r"/a/(?:b|c)(?:/.*)?"),
            ("/a/[!x]", r"/a/[^/x](?:/.*)?"),
            ("/a?", r"/a[^/](?:/.*)?"),
        ];
        for (g, want) in cases {
            assert_eq!(glob_to_regex(g).unwrap(), want, "{g}");
        }
        assert!(glob_to_regex("var/log").is_err());
        assert!(glob_to_regex("/a/{b").is_err());
    }

    #[test]
    fn literal_prefixes() {
        assert_eq!(literal_prefix("/usr/share/x(?:/.*)?"), "/usr/share/x");
        assert_eq!(
            literal_prefix(r"/etc/ssh/ssh_host_.*"),
            "/etc/ssh/ssh_host_"
        );
        assert_eq!(literal_prefix("^/usr"), "/usr");
        assert_eq!(literal_prefix("/us?r"), "/u");
        assert_eq!(literal_prefix(r"/a\.b"), "/a.b");
    }
}
