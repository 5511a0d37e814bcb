//! Decoding a JSON tree into one spec version's schema with the exact
//! semantics of Go's `encoding/json`, which real configs depend on:
//!
//! * keys match fields exactly, else case-insensitively; unknown keys are
//!   skipped (the unused-key warnings come from a separate walk);
//! * a repeated key decodes again **into the same value**: objects merge
//!   field by field, arrays are re-decoded element by element into the
//!   existing slice (so elements of an earlier array can survive, see
//!   [`GList`]);
//! * `null` resets pointers and slices and is a no-op for everything else;
//! * a wrong JSON kind, or a number that is not an `int`, is Go's
//!   `UnmarshalTypeError` with its message and offset; the first one in
//!   document order is reported.
//!
//! The result is a generic value ([`GVal`]) shaped by the schema table; the
//! `build` module turns it into the typed [`crate::Config`].

use crate::json::{JNode, JVal, NodeId, Tree};
use crate::schema::{find_field, StructDef, Ty};

/// A decoded Go value. `Nil` is a nil pointer/slice or a zero value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum GVal {
    Nil,
    Str(String),
    Int(i64),
    Bool(bool),
    Struct(Box<GStruct>),
    List(GList),
}

/// A decoded struct: the fields that were set, by index into
/// `def.fields` (sparse, so absent fields cost nothing).
#[derive(Debug, Clone)]
pub(crate) struct GStruct {
    pub def: &'static StructDef,
    pub vals: Vec<(usize, GVal)>,
}

impl PartialEq for GStruct {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self.def, other.def)
            && (0..self.def.fields.len()).all(|i| self.get(i) == other.get(i))
    }
}

static NIL: GVal = GVal::Nil;

impl GStruct {
    pub(crate) fn zero(def: &'static StructDef) -> Self {
        Self {
            def,
            vals: Vec::new(),
        }
    }

    /// The value of field `idx` (`Nil` when never set).
    pub(crate) fn get(&self, idx: usize) -> &GVal {
        self.vals
            .iter()
            .find(|(i, _)| *i == idx)
            .map_or(&NIL, |(_, v)| v)
    }

    fn slot_mut(&mut self, idx: usize) -> &mut GVal {
        let pos = match self.vals.iter().position(|(i, _)| *i == idx) {
            Some(p) => p,
            None => {
                self.vals.push((idx, GVal::Nil));
                self.vals.len() - 1
            }
        };
        &mut self.vals[pos].1
    }
}

/// A Go slice: `items[..len]` are the elements; `items[len..]` are stale
/// elements still in the backing array, which Go's decoder reuses when a
/// later array for the same key is longer (up to `cap`). Capacity grows as
/// in Go 1.19's `encoding/json` (the Debian 2.14 oracle): `cap + cap/2`,
/// at least 4, copying only the live elements.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct GList {
    pub items: Vec<GVal>,
    pub len: usize,
    pub cap: usize,
}

impl GList {
    pub(crate) fn live(&self) -> &[GVal] {
        &self.items[..self.len]
    }
}

/// Go's `UnmarshalTypeError`, with the context Go adds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TypeError {
    pub msg: String,
    pub offset: usize,
}

struct Decoder<'a> {
    tree: &'a mut Tree,
    src: &'a [u8],
    minor: u8,
    /// Go's `errorContext.FieldStack`.
    fields: Vec<&'static str>,
}

impl Decoder<'_> {
    fn type_error(&self, node: &JNode, value: String, owner: &str, go_ty: &str) -> TypeError {
        TypeError {
            msg: format!(
                "json: cannot unmarshal {value} into Go struct field {owner}.{} of type {go_ty}",
                self.fields.join(".")
            ),
            offset: node.type_error_offset(),
        }
    }

    fn object(
        &mut self,
        id: NodeId,
        def: &'static StructDef,
        out: &mut GStruct,
    ) -> Result<(), TypeError> {
        let JVal::Obj(members) = &self.tree.nodes[id].val else {
            return Ok(());
        };
        let targets: Vec<(usize, NodeId)> = members
            .iter()
            .filter_map(|m| find_field(def, &m.key, self.minor).map(|idx| (idx, m.val)))
            .collect();
        for (idx, val) in targets {
            let f = &def.fields[idx];
            self.fields.push(f.name);
            self.value(val, f.ty, f.ptr, f.go, def.go, out.slot_mut(idx))?;
            self.fields.pop();
        }
        Ok(())
    }

    /// Decodes node `id` into `slot` of kind `ty`.
    fn value(
        &mut self,
        id: NodeId,
        ty: Ty,
        ptr: bool,
        go_ty: &'static str,
        owner: &'static str,
        slot: &mut GVal,
    ) -> Result<(), TypeError> {
        let node = &self.tree.nodes[id];
        if let JVal::Null = node.val {
            if ptr || matches!(ty, Ty::StrList(_) | Ty::StructList(_)) {
                *slot = GVal::Nil;
            }
            return Ok(());
        }
        let kind = node.kind_name();
        match (ty, &node.val) {
            (Ty::Str, JVal::Str(_)) => {
                // Each node is decoded once: move the string out.
                if let JVal::Str(s) = &mut self.tree.nodes[id].val {
                    *slot = GVal::Str(std::mem::take(s));
                }
            }
            (Ty::Int, JVal::Num) => {
                let lit = std::str::from_utf8(&self.src[node.start..node.end]).unwrap_or("");
                match lit.parse::<i64>() {
                    Ok(n) => *slot = GVal::Int(n),
                    Err(_) => {
                        return Err(self.type_error(node, format!("number {lit}"), owner, go_ty))
                    }
                }
            }
            (Ty::Bool, JVal::Bool(b)) => *slot = GVal::Bool(*b),
            (Ty::Struct(def), JVal::Obj(_)) => {
                if !matches!(slot, GVal::Struct(_)) {
                    *slot = GVal::Struct(Box::new(GStruct::zero(def)));
                }
                let GVal::Struct(s) = slot else {
                    unreachable!()
                };
                self.object(id, def, s)?;
            }
            (Ty::StrList(_) | Ty::StructList(_), JVal::Arr(items)) => {
                let items = items.clone();
                if items.is_empty() {
                    *slot = GVal::List(GList::default());
                    return Ok(());
                }
                if !matches!(slot, GVal::List(_)) {
                    *slot = GVal::List(GList::default());
                }
                let GVal::List(list) = slot else {
                    unreachable!()
                };
                let (ety, ego) = match ty {
                    Ty::StrList(elem) => (Ty::Str, elem),
                    Ty::StructList(def) => (Ty::Struct(def), def.go_ty),
                    _ => unreachable!(),
                };
                for (i, &item) in items.iter().enumerate() {
                    if i >= list.cap {
                        list.items.truncate(list.len);
                        list.cap = (list.cap + list.cap / 2).max(4);
                    }
                    if i >= list.len {
                        list.len = i + 1;
                    }
                    while list.items.len() < list.len {
                        list.items.push(match ety {
                            Ty::Struct(def) => GVal::Struct(Box::new(GStruct::zero(def))),
                            _ => GVal::Nil,
                        });
                    }
                    self.value(item, ety, false, ego, owner, &mut list.items[i])?;
                }
                list.len = items.len();
            }
            _ => return Err(self.type_error(node, kind.to_string(), owner, go_ty)),
        }
        Ok(())
    }
}

/// Decodes the whole document (root must be an object; checked by the
/// version stub before) as version `minor`'s `Config`. String values are
/// moved out of the tree; keys and positions stay.
pub(crate) fn decode_config(tree: &mut Tree, src: &[u8], minor: u8) -> Result<GStruct, TypeError> {
    let mut d = Decoder {
        tree,
        src,
        minor,
        fields: Vec::new(),
    };
    let mut cfg = GStruct::zero(&crate::schema::CONFIG);
    d.object(0, &crate::schema::CONFIG, &mut cfg)?;
    Ok(cfg)
}

/// Ignition's `util.GetConfigVersion`: decodes only
/// `struct { Ignition struct { Version string } }` (Go names without tags, so
/// matched case-insensitively) and returns the version string, `""` when
/// absent.
pub(crate) fn version_stub(tree: &Tree, src: &[u8]) -> Result<String, TypeError> {
    let _ = src;
    let root = tree.root();
    let members = match &root.val {
        JVal::Null => return Ok(String::new()),
        JVal::Obj(ms) => ms,
        _ => {
            return Err(TypeError {
                msg: format!(
                    "json: cannot unmarshal {} into Go value of type util.versionStub",
                    root.kind_name()
                ),
                offset: root.type_error_offset(),
            })
        }
    };
    let mut version = String::new();
    let matches = |key: &str, name: &str| key == name || crate::schema::fold_eq(key, name);
    for m in members.iter().filter(|m| matches(&m.key, "Ignition")) {
        let ign = tree.node(m.val);
        let inner = match &ign.val {
            JVal::Null => continue,
            JVal::Obj(ms) => ms,
            _ => {
                return Err(TypeError {
                    msg: format!(
                        "json: cannot unmarshal {} into Go struct field versionStub.Ignition of type struct {{ Version string }}",
                        ign.kind_name()
                    ),
                    offset: ign.type_error_offset(),
                })
            }
        };
        for v in inner.iter().filter(|v| matches(&v.key, "Version")) {
            let n = tree.node(v.val);
            match &n.val {
                JVal::Null => {}
                JVal::Str(s) => version = s.clone(),
                _ => {
                    return Err(TypeError {
                        msg: format!(
                            "json: cannot unmarshal {} into Go struct field .Ignition.Version of type string",
                            n.kind_name()
                        ),
                        offset: n.type_error_offset(),
                    })
                }
            }
        }
    }
    Ok(version)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::parse;

    fn dec(src: &str, minor: u8) -> Result<GStruct, TypeError> {
        let mut t = parse(src.as_bytes()).unwrap();
        decode_config(&mut t, src.as_bytes(), minor)
    }

    fn err(src: &str) -> (String, usize) {
        let e = dec(src, 3).unwrap_err();
        (e.msg, e.offset)
    }

    #[test]
    fn type_errors_like_go() {
        // Messages and offsets checked against ignition-validate 2.14.
        let pre = r#"{"ignition":{"version":"3.3.0"},"storage":{"files":[{"path":"/foo","#;
        let e = err(&format!(r#"{pre}"mode":"420"}}]}}}}"#));
        assert_eq!(
            e,
            (
                "json: cannot unmarshal string into Go struct field File.storage.files.mode of type int".into(),
                79
            )
        );
        let e = err(&format!(r#"{pre}"mode":1e3}}]}}}}"#));
        assert_eq!(
            e.0,
            "json: cannot unmarshal number 1e3 into Go struct field File.storage.files.mode of type int"
        );
        let e = err(&format!(r#"{pre}"mode":420.5}}]}}}}"#));
        assert!(e.0.contains("number 420.5 into"), "{e:?}");
        let e = err(&format!(r#"{pre}"mode":99999999999999999999}}]}}}}"#));
        assert!(e.0.contains("number 99999999999999999999 into"), "{e:?}");
        let e = err(&format!(r#"{pre}"contents":{{"source":5}}}}]}}}}"#));
        assert_eq!(
            e.0,
            "json: cannot unmarshal number into Go struct field Resource.storage.files.contents.source of type string"
        );
        let e = err(r#"{"ignition":{"version":"3.3.0"},"storage":{"files":{"path":"/foo"}}}"#);
        assert_eq!(
            e,
            (
                "json: cannot unmarshal object into Go struct field Storage.storage.files of type []types.File".into(),
                52
            )
        );
        let e = err(r#"{"passwd":{"users":[{"groups":[5]}]}}"#);
        assert_eq!(
            e.0,
            "json: cannot unmarshal number into Go struct field PasswdUser.passwd.users.groups of type types.Group"
        );
        let e = err(r#"{"storage":{"files":[{"overwrite":"yes"}]}}"#);
        assert!(
            e.0.ends_with("File.storage.files.overwrite of type bool"),
            "{e:?}"
        );
    }

    #[test]
    fn version_specific_type_names() {
        let t = r#"{"storage":{"files":[{"contents":{"source":5}}]}}"#;
        let e = dec(t, 0).unwrap_err();
        assert!(
            e.msg.contains("FileContents.storage.files.contents.source"),
            "{e:?}"
        );
        let t = r#"{"storage":{"luks":[{"clevis":5}]}}"#;
        assert!(dec(t, 2).unwrap_err().msg.ends_with("of type types.Clevis"));
        // In 3.1 luks does not exist: the key is skipped, not an error.
        assert!(dec(t, 1).is_ok());
    }

    fn files(cfg: &GStruct) -> Vec<GStruct> {
        let GVal::Struct(st) = cfg.get(3) else {
            panic!()
        };
        let GVal::List(l) = st.get(2) else { panic!() };
        l.live()
            .iter()
            .map(|v| match v {
                GVal::Struct(s) => (**s).clone(),
                _ => panic!(),
            })
            .collect()
    }

    #[test]
    fn duplicate_keys_merge_into_existing_values() {
        // Objects merge; the first array's element 0 is decoded into again.
        let c = dec(
            r#"{"storage":{"files":[{"path":"/a","overwrite":true}],"files":[{"path":"/b"}]}}"#,
            3,
        )
        .unwrap();
        let f = files(&c);
        assert_eq!(f.len(), 1);
        assert_eq!(*f[0].get(2), GVal::Str("/b".into()));
        assert_eq!(*f[0].get(1), GVal::Bool(true));
        // A shorter middle array leaves a stale element that a later,
        // longer array picks up again (observed with ignition-validate).
        let c = dec(
            r#"{"storage":{"files":[{"path":"/a"},{"path":"/b","overwrite":true},{"path":"/c"}],"files":[{"path":"/x"}],"files":[{"path":"/y"},{"path":"/z"}]}}"#,
            3,
        )
        .unwrap();
        let f = files(&c);
        assert_eq!(f.len(), 2);
        assert_eq!(*f[1].get(2), GVal::Str("/z".into()));
        assert_eq!(*f[1].get(1), GVal::Bool(true));
        // `[]` and null reset the slice completely.
        for reset in ["[]", "null"] {
            let c = dec(
                &format!(
                    r#"{{"storage":{{"files":[{{"path":"/a","overwrite":true}}],"files":{reset},"files":[{{"path":"/b"}}]}}}}"#
                ),
                3,
            )
            .unwrap();
            assert_eq!(*files(&c)[0].get(1), GVal::Nil, "{reset}");
        }
    }

    #[test]
    fn null_resets_pointers_only() {
        let c = dec(
            r#"{"storage":{"files":[{"path":"/a","mode":420,"path":null,"mode":null}]}}"#,
            3,
        )
        .unwrap();
        let f = files(&c);
        assert_eq!(*f[0].get(2), GVal::Str("/a".into()));
        assert_eq!(*f[0].get(8), GVal::Nil);
    }

    #[test]
    fn case_insensitive_keys_and_last_wins() {
        let c = dec(r#"{"storage":{"files":[{"path":"foo","Path":"/bar"}]}}"#, 3).unwrap();
        assert_eq!(*files(&c)[0].get(2), GVal::Str("/bar".into()));
    }

    #[test]
    fn stub() {
        let v = |s: &str| {
            let t = parse(s.as_bytes()).unwrap();
            version_stub(&t, s.as_bytes())
        };
        assert_eq!(v(r#"{"IGNITION":{"Version":"3.3.0"}}"#).unwrap(), "3.3.0");
        assert_eq!(
            v(r#"{"ignition":{"version":"3.3.0"},"ignition":{"config":{}}}"#).unwrap(),
            "3.3.0"
        );
        assert_eq!(v("null").unwrap(), "");
        let e = v("[]").unwrap_err();
        assert_eq!(
            (e.msg.as_str(), e.offset),
            (
                "json: cannot unmarshal array into Go value of type util.versionStub",
                1
            )
        );
        let e = v(r#"{"ignition":{"version":3}}"#).unwrap_err();
        assert_eq!(
            (e.msg.as_str(), e.offset),
            (
                "json: cannot unmarshal number into Go struct field .Ignition.Version of type string",
                24
            )
        );
    }
}
