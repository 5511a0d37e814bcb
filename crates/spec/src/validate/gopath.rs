//! Go's `path` package semantics (`Clean`, `Join`, `Ext`) for slash-separated
//! paths. Ignition's rules are defined in terms of these functions ("path is
//! not fully simplified" means `path.Clean(p) != p`), so they are reproduced
//! byte for byte rather than approximated with `std::path`.

/// Go `path.Clean`: the shortest lexically equivalent path.
pub(crate) fn clean(path: &str) -> String {
    let p = path.as_bytes();
    if p.is_empty() {
        return ".".to_string();
    }
    let rooted = p[0] == b'/';
    let n = p.len();
    let mut out: Vec<u8> = Vec::with_capacity(n);
    let (mut r, mut dotdot) = (0usize, 0usize);
    if rooted {
        out.push(b'/');
        r = 1;
        dotdot = 1;
    }
    while r < n {
        if p[r] == b'/' || (p[r] == b'.' && (r + 1 == n || p[r + 1] == b'/')) {
            r += 1;
        } else if p[r] == b'.' && p[r + 1] == b'.' && (r + 2 == n || p[r + 2] == b'/') {
            r += 2;
            if out.len() > dotdot {
                let mut w = out.len() - 1;
                while w > dotdot && out[w] != b'/' {
                    w -= 1;
                }
                out.truncate(w);
            } else if !rooted {
                if !out.is_empty() {
                    out.push(b'/');
                }
                out.extend_from_slice(b"..");
                dotdot = out.len();
            }
        } else {
            if (rooted && out.len() != 1) || (!rooted && !out.is_empty()) {
                out.push(b'/');
            }
            while r < n && p[r] != b'/' {
                out.push(p[r]);
                r += 1;
            }
        }
    }
    if out.is_empty() {
        return ".".to_string();
    }
    // Only ASCII bytes were inserted or removed, at ASCII boundaries.
    String::from_utf8(out).unwrap_or_default()
}

/// Go `path.IsAbs`.
pub(crate) fn is_abs(path: &str) -> bool {
    path.starts_with('/')
}

/// Go `path.Join` of two elements.
pub(crate) fn join(a: &str, b: &str) -> String {
    match (a.is_empty(), b.is_empty()) {
        (true, true) => String::new(),
        (true, false) => clean(b),
        (false, true) => clean(a),
        (false, false) => clean(&format!("{a}/{b}")),
    }
}

/// Go `path.Ext`: the suffix from the final `.` of the last element.
pub(crate) fn ext(path: &str) -> &str {
    for (i, c) in path.bytes().enumerate().rev() {
        if c == b'/' {
            break;
        }
        if c == b'.' {
            return &path[i..];
        }
    }
    ""
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_matches_go() {
        // Cases from Go's path_test.go.
        let cases = [
            ("", "."),
            ("abc", "abc"),
            ("abc/def", "abc/def"),
            (".", "."),
            ("..", ".."),
            ("../..", "../.."),
            ("/", "/"),
            ("abc/", "abc"),
            ("/abc/def/", "/abc/def"),
            ("abc//def//ghi", "abc/def/ghi"),
            ("//abc", "/abc"),
            ("abc/./def", "abc/def"),
            ("/./abc/def", "/abc/def"),
            ("abc/.", "abc"),
            ("abc/def/ghi/../jkl", "abc/def/jkl"),
            ("abc/def/../ghi/../jkl", "abc/jkl"),
            ("abc/def/..", "abc"),
            ("abc/def/../..", "."),
            ("/abc/def/../..", "/"),
            ("abc/def/../../..", ".."),
            ("/abc/def/../../..", "/"),
            ("abc/def/../../../ghi/jkl/../../../mno", "../../mno"),
            ("abc/./../def", "def"),
            ("abc//./../def", "def"),
            ("abc/../../././../def", "../../def"),
            ("/é/./ü", "/é/ü"),
        ];
        for (i, o) in cases {
            assert_eq!(clean(i), o, "clean({i:?})");
        }
    }

    #[test]
    fn join_and_ext() {
        assert_eq!(join("/a/b", "../c"), "/a/c");
        assert_eq!(join("/a/b", ""), "/a/b");
        assert_eq!(ext("foo.service"), ".service");
        assert_eq!(ext("a.d/foo"), "");
        assert_eq!(ext("foo"), "");
        assert_eq!(ext("foo."), ".");
    }
}
