//! Ignition's `ValidateUnusedKeys` and `Report.Correlate`, on our JSON tree.
//!
//! The unused-key check walks the *decoded* config pre-order in Go field
//! order and, for every struct that has a JSON node at the same path
//! (looked up with exact keys, the last of duplicate keys winning, as
//! go-json's map does), warns about each key that is not exactly one of the
//! struct's JSON names — so `"Path"` is applied case-insensitively *and*
//! reported as `unused key Path`. A struct whose JSON node is not an object
//! (`"storage": null`, `"files": [null]`) gets vcontext's "context tree does
//! not match" warning. Within one object, keys are reported in document
//! order (Go iterates a map, i.e. randomly).

use crate::decode::{GStruct, GVal};
use crate::json::{JVal, Lines, NodeId, Tree};
use crate::report::{ConfigPath, Entry, PathElem};
use crate::schema::{StructDef, Ty};

/// An unused-key walk's output: entries with their byte offsets.
pub(crate) fn unused_keys(tree: &Tree, cfg: &GStruct, minor: u8) -> Vec<(Entry, usize)> {
    let mut w = Walker {
        tree,
        minor,
        out: Vec::new(),
        path: Vec::new(),
    };
    w.walk(cfg.def, Some(cfg), Some(0));
    w.out
}

/// One step of the current path, without allocating.
#[derive(Clone, Copy)]
enum Seg {
    Field(&'static str),
    Index(usize),
}

struct Walker<'a> {
    tree: &'a Tree,
    minor: u8,
    out: Vec<(Entry, usize)>,
    /// The path of the struct being walked.
    path: Vec<Seg>,
}

impl Walker<'_> {
    /// The current path as a `ConfigPath` (only built for entries).
    fn config_path(&self) -> ConfigPath {
        ConfigPath(
            self.path
                .iter()
                .map(|s| match *s {
                    Seg::Field(f) => PathElem::Field(f.to_string()),
                    Seg::Index(i) => PathElem::Index(i),
                })
                .collect(),
        )
    }

    fn walk(&mut self, def: &'static StructDef, val: Option<&GStruct>, tnode: Option<NodeId>) {
        let obj = match tnode.map(|t| self.tree.node(t)) {
            None => None,
            Some(n) => match &n.val {
                JVal::Obj(members) => {
                    let minor = self.minor;
                    let known = |k: &str| {
                        def.fields
                            .iter()
                            .any(|f| f.in_version(minor) && f.name == k)
                    };
                    if members.iter().any(|m| !known(&m.key)) {
                        // Unique unknown keys, each at its last occurrence.
                        let mut keys: Vec<(&str, usize)> = Vec::new();
                        let mut seen = std::collections::HashMap::new();
                        for m in members.iter().filter(|m| !known(&m.key)) {
                            match seen.get(m.key.as_str()) {
                                Some(&i) => keys[i] = (m.key.as_str(), m.key_pos),
                                None => {
                                    seen.insert(m.key.as_str(), keys.len());
                                    keys.push((&m.key, m.key_pos));
                                }
                            }
                        }
                        keys.sort_by_key(|&(_, pos)| pos);
                        let path = self.config_path();
                        for (k, pos) in keys {
                            self.out.push((
                                Entry::warning(path.field(k), format!("unused key {k}")),
                                pos,
                            ));
                        }
                    }
                    tnode
                }
                _ => {
                    let path = self.config_path();
                    self.out.push((
                        Entry::warning(
                            path.clone(),
                            format!(
                                "context tree does not match content tree at {path}. Line and column reporting may be inconsistent. Unused keys may not be reported."
                            ),
                        ),
                        n.start,
                    ));
                    None
                }
            },
        };
        for (idx, f) in def.fields.iter().enumerate() {
            if !f.in_version(self.minor) {
                continue;
            }
            let slot = val.map(|v| v.get(idx));
            let child_t = obj
                .and_then(|t| self.tree.get_member(t, f.name))
                .map(|m| m.val);
            match f.ty {
                Ty::Struct(d) => {
                    let sval = match slot {
                        Some(GVal::Struct(s)) => Some(&**s),
                        _ => None,
                    };
                    if f.ptr && sval.is_none() {
                        continue; // nil pointer: not descended
                    }
                    self.path.push(Seg::Field(f.name));
                    self.walk(d, sval, child_t);
                    self.path.pop();
                }
                Ty::StructList(d) => {
                    let Some(GVal::List(l)) = slot else { continue };
                    let items = child_t.and_then(|t| match &self.tree.node(t).val {
                        JVal::Arr(items) => Some(items),
                        _ => None,
                    });
                    for (i, e) in l.live().iter().enumerate() {
                        let et = items.and_then(|it| it.get(i).copied());
                        let ev = match e {
                            GVal::Struct(s) => Some(&**s),
                            _ => None,
                        };
                        self.path.push(Seg::Field(f.name));
                        self.path.push(Seg::Index(i));
                        self.walk(d, ev, et);
                        self.path.truncate(self.path.len() - 2);
                    }
                }
                _ => {}
            }
        }
    }
}

/// Byte offset of the deepest node that exists for `path` (vcontext's
/// `getDeepestNode`).
pub(crate) fn locate(tree: &Tree, path: &ConfigPath) -> usize {
    let mut id = 0;
    for e in &path.0 {
        let next = match (e, &tree.node(id).val) {
            (PathElem::Field(name), JVal::Obj(_)) => tree.get_member(id, name).map(|m| m.val),
            (PathElem::Index(i), JVal::Arr(items)) => items.get(*i).copied(),
            _ => None,
        };
        match next {
            Some(n) => id = n,
            None => break,
        }
    }
    tree.node(id).start
}

/// Sets line and column of `e` from a byte offset.
pub(crate) fn place(e: &mut Entry, lines: &Lines, offset: usize) {
    let (l, c) = lines.line_col(offset);
    e.line = Some(l);
    e.column = Some(c);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::decode_config;
    use crate::json::parse;

    fn run(src: &str, minor: u8) -> Vec<(String, usize)> {
        let mut t = parse(src.as_bytes()).unwrap();
        let cfg = decode_config(&mut t, src.as_bytes(), minor).unwrap();
        unused_keys(&t, &cfg, minor)
            .into_iter()
            .map(|(e, off)| (format!("{}: {}", e.path.unwrap(), e.message), off))
            .collect()
    }

    #[test]
    fn unknown_and_wrong_case_keys_at_key_positions() {
        let src = r#"{"ignition":{"version":"3.3.0"},"x":1,"storage":{"files":[{"Path":"/a","b":2,"b":3}]}}"#;
        assert_eq!(
            run(src, 3),
            vec![
                ("$.x: unused key x".into(), 32),
                ("$.storage.files.0.Path: unused key Path".into(), 59),
                // A repeated unknown key once, at its last occurrence.
                ("$.storage.files.0.b: unused key b".into(), 77),
            ]
        );
    }

    #[test]
    fn only_the_last_duplicate_object_is_checked() {
        // go-json keeps the last "storage" only, so "bogus" is not seen.
        let src = r#"{"storage":{"bogus":1},"storage":{}}"#;
        assert!(run(src, 3).is_empty());
    }

    #[test]
    fn null_struct_warns_but_nil_pointer_struct_does_not() {
        let w = run(r#"{"storage":null}"#, 3);
        assert_eq!(w.len(), 1);
        assert!(w[0].0.starts_with("$.storage: context tree does not match"));
        // 3.2's `clevis` is a pointer: null leaves it nil, nothing to check.
        let src = r#"{"storage":{"luks":[{"name":"l","clevis":null}]}}"#;
        assert!(run(src, 2).is_empty());
        // 3.3's `clevis` is a struct: null is a mismatch.
        assert_eq!(run(src, 3).len(), 1);
    }

    #[test]
    fn locate_finds_the_deepest_existing_node() {
        let src = br#"{"storage":{"files":[{"path":"x"}]}}"#;
        let t = parse(src).unwrap();
        let p = ConfigPath::root().field("storage").field("files").index(0);
        assert_eq!(locate(&t, &p.field("path")), 29);
        // `mode` is absent: the file object (one past its brace).
        assert_eq!(locate(&t, &p.field("mode")), 22);
        assert_eq!(locate(&t, &ConfigPath::root().field("systemd")), 1);
    }
}
