//! Ignition's config merge as Butane uses it to splice generated sections
//! (mount units, boot device, GRUB) in front of the user's config
//! (`MergeTranslatedConfigs`): the parent's list entries come first; a child
//! entry with the same key is merged into the parent's entry in place;
//! other child entries follow in order. Scalars of the child win.

use crate::out::{J, JV};
use crate::schema::{Def, Ty};

/// The identifying field of entries of list `key`, if keyed.
fn list_key(list: &str) -> Option<&'static [&'static str]> {
    Some(match list {
        "files" | "directories" | "links" => &["path"],
        "units" | "dropins" | "users" | "groups" | "luks" | "raid" => &["name"],
        "disks" | "filesystems" => &["device"],
        "partitions" => &["number", "label"],
        _ => return None,
    })
}

fn entry_key(e: &J, fields: &[&str]) -> Option<String> {
    for f in fields {
        match e.get(f).map(|j| &j.v) {
            Some(JV::Int(i)) if *i != 0 => return Some(format!("{f}={i}")),
            Some(JV::Str(s)) => return Some(format!("{f}={s}")),
            _ => {}
        }
    }
    None
}

/// Merges `child` into `parent`.
pub fn merge(parent: J, child: J) -> J {
    merge_named(parent, child, "")
}

fn merge_named(parent: J, child: J, name: &str) -> J {
    match (parent.v, child.v) {
        (JV::Obj(pf), JV::Obj(cf)) => {
            let mut out = pf;
            for (k, cv) in cf {
                if let Some(pos) = out.iter().position(|(pk, _)| *pk == k) {
                    let pv = std::mem::replace(&mut out[pos].1, J::obj(None));
                    out[pos].1 = merge_named(pv, cv, &k);
                } else {
                    out.push((k, cv));
                }
            }
            J {
                v: JV::Obj(out),
                from: child.from.or(parent.from),
                weak: child.weak && parent.weak,
            }
        }
        (JV::Arr(pa), JV::Arr(ca)) => {
            let mut out = pa;
            match list_key(name) {
                Some(fields) => {
                    for c in ca {
                        let ck = entry_key(&c, fields);
                        let hit = ck.as_ref().and_then(|ck| {
                            out.iter()
                                .position(|p| entry_key(p, fields).as_ref() == Some(ck))
                        });
                        match hit {
                            Some(i) => {
                                let p = std::mem::replace(&mut out[i], J::obj(None));
                                out[i] = merge_named(p, c, "");
                            }
                            None => out.push(c),
                        }
                    }
                }
                None => out.extend(ca),
            }
            J {
                v: JV::Arr(out),
                from: child.from.or(parent.from),
                weak: false,
            }
        }
        (_, cv) => J {
            v: cv,
            from: child.from,
            weak: child.weak,
        },
    }
}

/// Restores Go struct field order after merges: fields of every object
/// sorted by `def`'s order, recursively.
pub fn normalize(j: &mut J, def: &'static Def) {
    let JV::Obj(fields) = &mut j.v else { return };
    fields.sort_by_key(|(k, _)| def.order(k));
    for (k, v) in fields.iter_mut() {
        let Some(f) = def.fields.iter().find(|f| f.json == k.as_str()) else {
            continue;
        };
        match f.ty {
            Ty::Obj(d) => normalize(v, d),
            Ty::ListObj(d) => {
                if let JV::Arr(items) = &mut v.v {
                    items.iter_mut().for_each(|i| normalize(i, d));
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::out::to_json;

    fn unit(name: &str, contents: Option<&str>) -> J {
        let mut u = J::obj(None);
        if let JV::Obj(f) = &mut u.v {
            if let Some(c) = contents {
                f.push(("contents".into(), J::str(c, None)));
            }
            f.push(("name".into(), J::str(name, None)));
        }
        u
    }

    #[test]
    fn parent_entries_first_child_overrides() {
        let p = J::arr(vec![unit("a.mount", Some("gen"))], None);
        let c = J::arr(
            vec![unit("b.service", None), unit("a.mount", Some("user"))],
            None,
        );
        let m = merge_named(p, c, "units");
        assert_eq!(
            to_json(&m, false),
            r#"[{"contents":"user","name":"a.mount"},{"name":"b.service"}]"#
        );
    }
}
