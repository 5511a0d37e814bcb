//! Full comparison of Ignition's tree with reignite's: every path, type,
//! contents, mode, owner, symlink target and hard-link group. Differences
//! covered by a global [`Exception`](crate::exceptions::Exception) are kept
//! apart as "excused" so the summary can show them.

use std::fmt;

use crate::exceptions::{Exception, PRESET_ORDER, REIGNITE_STATE, RESULT_DATE, SHADOW_UTILS_FILES};
use crate::passwd;
use crate::tree::{Kind, Node, Tree};

/// Where reignite keeps its generations.
pub const STATE_DIR: &str = "/var/lib/reignite";
/// Ignition's result file.
pub const RESULT_FILE: &str = "/etc/.ignition-result.json";
/// The preset file written for `enabled`.
pub const PRESET_FILE: &str = "/etc/systemd/system-preset/20-ignition.preset";

/// Side files of shadow-utils (see [`SHADOW_UTILS_FILES`]).
pub const SHADOW_SIDE_FILES: [&str; 5] = [
    "/etc/.pwd.lock",
    "/etc/passwd-",
    "/etc/shadow-",
    "/etc/group-",
    "/etc/gshadow-",
];

/// One difference: a path (or a pseudo-path such as `(exit)`) and what differs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// Path inside the root, or a pseudo-path in parentheses.
    pub path: String,
    /// What differs, Ignition's value first.
    pub detail: String,
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.detail)
    }
}

/// A difference tolerated by a global exception.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Excused {
    /// The exception that covers it.
    pub exception: &'static Exception,
    /// The difference itself.
    pub difference: Difference,
}

/// Result of comparing two trees.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Comparison {
    /// Differences not covered by any exception.
    pub differences: Vec<Difference>,
    /// Differences covered by a global exception.
    pub excused: Vec<Excused>,
}

impl Comparison {
    fn differ(&mut self, path: &str, detail: String) {
        self.differences.push(Difference {
            path: path.to_string(),
            detail,
        });
    }

    fn excuse(&mut self, exception: &'static Exception, path: &str, detail: String) {
        self.excused.push(Excused {
            exception,
            difference: Difference {
                path: path.to_string(),
                detail,
            },
        });
    }
}

fn in_state_dir(path: &str) -> bool {
    path == STATE_DIR || path.starts_with(&format!("{STATE_DIR}/"))
}

/// Compares Ignition's tree `ign` with reignite's tree `rei`.
pub fn compare_trees(ign: &Tree, rei: &Tree) -> Comparison {
    let mut c = Comparison::default();
    let mut paths: Vec<&String> = ign.nodes.keys().chain(rei.nodes.keys()).collect();
    paths.sort();
    paths.dedup();
    for path in paths {
        match (ign.nodes.get(path), rei.nodes.get(path)) {
            (Some(a), Some(b)) => compare_nodes(&mut c, path, a, b),
            (Some(a), None) => {
                let detail = format!("only in ignition ({})", a.describe());
                if SHADOW_SIDE_FILES.contains(&path.as_str()) {
                    c.excuse(&SHADOW_UTILS_FILES, path, detail);
                } else {
                    c.differ(path, detail);
                }
            }
            (None, Some(b)) => {
                let detail = format!("only in reignite ({})", b.describe());
                let state_parent = (path == "/var" || path == "/var/lib") && b.kind == Kind::Dir;
                if in_state_dir(path) || state_parent {
                    c.excuse(&REIGNITE_STATE, path, detail);
                } else {
                    c.differ(path, detail);
                }
            }
            (None, None) => unreachable!(),
        }
    }
    let groups = |t: &Tree| -> Vec<Vec<String>> {
        let mut g: Vec<Vec<String>> = t
            .hard_link_groups()
            .into_iter()
            .filter(|g| !g.iter().any(|p| in_state_dir(p)))
            .collect();
        g.sort();
        g
    };
    let (ga, gb) = (groups(ign), groups(rei));
    for g in ga.iter().filter(|g| !gb.contains(g)) {
        c.differ(
            "(hard links)",
            format!("group {{{}}} only in ignition", g.join(", ")),
        );
    }
    for g in gb.iter().filter(|g| !ga.contains(g)) {
        c.differ(
            "(hard links)",
            format!("group {{{}}} only in reignite", g.join(", ")),
        );
    }
    c
}

fn compare_nodes(c: &mut Comparison, path: &str, a: &Node, b: &Node) {
    if a.kind.name() != b.kind.name() {
        c.differ(
            path,
            format!(
                "type {} (ignition) vs {} (reignite)",
                a.describe(),
                b.describe()
            ),
        );
        return;
    }
    if a.mode != b.mode {
        c.differ(
            path,
            format!(
                "mode {:04o} (ignition) vs {:04o} (reignite)",
                a.mode, b.mode
            ),
        );
    }
    if a.uid != b.uid {
        c.differ(
            path,
            format!("uid {} (ignition) vs {} (reignite)", a.uid, b.uid),
        );
    }
    if a.gid != b.gid {
        c.differ(
            path,
            format!("gid {} (ignition) vs {} (reignite)", a.gid, b.gid),
        );
    }
    match (&a.kind, &b.kind) {
        (Kind::Symlink(ta), Kind::Symlink(tb)) if ta != tb => c.differ(
            path,
            format!("symlink target {ta:?} (ignition) vs {tb:?} (reignite)"),
        ),
        (Kind::File(da), Kind::File(db)) if da != db => compare_contents(c, path, da, db),
        _ => {}
    }
}

fn compare_contents(c: &mut Comparison, path: &str, a: &[u8], b: &[u8]) {
    let (ta, tb) = (String::from_utf8_lossy(a), String::from_utf8_lossy(b));
    if path == RESULT_FILE {
        let strip = |t: &str| {
            serde_json::from_str::<serde_json::Value>(t)
                .ok()
                .map(|mut v| {
                    if let Some(o) = v.as_object_mut() {
                        o.remove("provisioningDate");
                    }
                    v
                })
        };
        let (ja, jb) = (strip(&ta), strip(&tb));
        if ja.is_some() && ja == jb {
            c.excuse(&RESULT_DATE, path, "provisioningDate differs".into());
        } else {
            c.differ(
                path,
                format!("result differs: {ta} (ignition) vs {tb} (reignite)"),
            );
        }
        return;
    }
    if path == PRESET_FILE {
        let sorted = |t: &str| {
            let mut l: Vec<String> = t.lines().map(str::to_string).collect();
            l.sort();
            l
        };
        if sorted(&ta) == sorted(&tb) && ta.ends_with('\n') == tb.ends_with('\n') {
            c.excuse(&PRESET_ORDER, path, "same lines, other order".into());
            return;
        }
    }
    if let Some(fields) = passwd::fields_of(path) {
        let d = passwd::compare(path, fields, &ta, &tb);
        for line in d.differences {
            c.differ(path, line);
        }
        for (e, line) in d.excused {
            c.excuse(e, path, line);
        }
        return;
    }
    c.differ(path, contents_diff(a, b));
}

/// A readable description of how two contents differ: a unified diff for text,
/// sizes and the first differing offset for binary data.
pub fn contents_diff(a: &[u8], b: &[u8]) -> String {
    match (std::str::from_utf8(a), std::str::from_utf8(b)) {
        (Ok(ta), Ok(tb)) => {
            let diff = similar::TextDiff::from_lines(ta, tb)
                .unified_diff()
                .context_radius(2)
                .header("ignition", "reignite")
                .to_string();
            let mut lines: Vec<&str> = diff.lines().collect();
            let more = lines.len().saturating_sub(40);
            lines.truncate(40);
            let mut s = format!("contents differ\n    {}", lines.join("\n    "));
            if more > 0 {
                s.push_str(&format!("\n    ... {more} more diff lines"));
            }
            if !ta.ends_with('\n') || !tb.ends_with('\n') {
                s.push_str(&format!(
                    "\n    raw: {ta:?} (ignition) vs {tb:?} (reignite)"
                ));
            }
            s
        }
        _ => {
            let first = a
                .iter()
                .zip(b)
                .position(|(x, y)| x != y)
                .unwrap_or(a.len().min(b.len()));
            format!(
                "binary contents differ: {} bytes (ignition) vs {} bytes (reignite), first difference at byte {first}",
                a.len(),
                b.len()
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(kind: Kind, mode: u32) -> Node {
        Node {
            kind,
            mode,
            uid: 0,
            gid: 0,
            inode: (1, 0),
        }
    }

    fn tree(nodes: &[(&str, Node)]) -> Tree {
        let mut t = Tree::default();
        for (i, (p, n)) in nodes.iter().enumerate() {
            let mut n = n.clone();
            n.inode = (1, i as u64 + 10);
            t.nodes.insert(p.to_string(), n);
        }
        t
    }

    fn file(s: &str) -> Node {
        node(Kind::File(s.as_bytes().to_vec()), 0o644)
    }

    fn lines(c: &Comparison) -> Vec<String> {
        c.differences.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn identical_trees_are_equal() {
        let t = tree(&[("/", node(Kind::Dir, 0o755)), ("/a", file("x"))]);
        assert_eq!(compare_trees(&t, &t), Comparison::default());
    }

    #[test]
    fn reports_presence_type_mode_owner_target_and_contents() {
        let a = tree(&[
            ("/gone", file("x")),
            ("/t", file("x")),
            ("/m", file("same\n")),
            ("/l", node(Kind::Symlink("/a".into()), 0o777)),
            ("/c", file("one\ntwo\n")),
        ]);
        let mut owned = file("same\n");
        owned.mode = 0o600;
        owned.uid = 1500;
        let b = tree(&[
            ("/t", node(Kind::Dir, 0o755)),
            ("/m", owned),
            ("/l", node(Kind::Symlink("a".into()), 0o777)),
            ("/c", file("one\nTWO\n")),
            ("/new", file("")),
        ]);
        assert_eq!(
            lines(&compare_trees(&a, &b)),
            [
                "/c: contents differ\n    --- ignition\n    +++ reignite\n    @@ -1,2 +1,2 @@\n     one\n    -two\n    +TWO",
                "/gone: only in ignition (file 0644 0:0)",
                "/l: symlink target \"/a\" (ignition) vs \"a\" (reignite)",
                "/m: mode 0644 (ignition) vs 0600 (reignite)",
                "/m: uid 0 (ignition) vs 1500 (reignite)",
                "/new: only in reignite (file 0644 0:0)",
                "/t: type file 0644 0:0 (ignition) vs directory 0755 0:0 (reignite)",
            ]
        );
    }

    #[test]
    fn reports_hard_link_grouping() {
        let a = tree(&[("/a", file("x")), ("/b", file("x"))]);
        let mut b = a.clone();
        b.nodes.get_mut("/b").unwrap().inode = b.nodes["/a"].inode;
        assert_eq!(
            lines(&compare_trees(&a, &b)),
            ["(hard links): group {/a, /b} only in reignite"]
        );
    }

    #[test]
    fn excuses_state_dir_result_date_and_preset_order_only() {
        let a = tree(&[
            (
                RESULT_FILE,
                file(
                    r#"{"provisioningBootID":"b","provisioningDate":"1","userConfigProvided":true}"#,
                ),
            ),
            (PRESET_FILE, file("enable a.service\ndisable b.service\n")),
        ]);
        let b = tree(&[
            (
                RESULT_FILE,
                file(
                    r#"{"provisioningBootID":"b","provisioningDate":"2","userConfigProvided":true}"#,
                ),
            ),
            (PRESET_FILE, file("disable b.service\nenable a.service\n")),
            ("/var", node(Kind::Dir, 0o755)),
            ("/var/lib", node(Kind::Dir, 0o755)),
            ("/var/lib/reignite", node(Kind::Dir, 0o700)),
            ("/var/lib/reignite/gen", file("{}")),
        ]);
        let c = compare_trees(&a, &b);
        assert_eq!(lines(&c), Vec::<String>::new());
        let ids: Vec<&str> = c.excused.iter().map(|e| e.exception.id).collect();
        assert_eq!(
            ids,
            [
                "result-date",
                "preset-order",
                "reignite-state",
                "reignite-state",
                "reignite-state",
                "reignite-state"
            ]
        );

        let worse = tree(&[
            (
                RESULT_FILE,
                file(
                    r#"{"provisioningBootID":"b","provisioningDate":"2","userConfigProvided":false}"#,
                ),
            ),
            (PRESET_FILE, file("enable a.service\nenable b.service\n")),
            ("/var", node(Kind::File(vec![]), 0o644)),
        ]);
        assert_eq!(compare_trees(&a, &worse).differences.len(), 3);
    }

    #[test]
    fn excuses_shadow_utils_side_files_only_on_ignitions_side() {
        let a = tree(&[("/etc/.pwd.lock", file("")), ("/etc/passwd-", file("old"))]);
        let c = compare_trees(&a, &Tree::default());
        assert!(c.differences.is_empty());
        assert_eq!(c.excused.len(), 2);
        assert_eq!(compare_trees(&Tree::default(), &a).differences.len(), 2);
    }

    #[test]
    fn account_databases_are_compared_by_field() {
        let a = tree(&[("/etc/group", file("root:x:0:\nusers:x:100:\n"))]);
        let b = tree(&[("/etc/group", file("root:x:0:\nusers:x:100:bob\n"))]);
        assert_eq!(
            lines(&compare_trees(&a, &b)),
            ["/etc/group: entry users: field members \"\" (ignition) vs \"bob\" (reignite)"]
        );
    }

    #[test]
    fn binary_contents_name_the_first_differing_byte() {
        assert_eq!(
            contents_diff(&[0xff, 1, 2], &[0xff, 1, 3, 4]),
            "binary contents differ: 3 bytes (ignition) vs 4 bytes (reignite), first difference at byte 2"
        );
    }
}
