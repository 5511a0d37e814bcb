//! Mapping of report paths on the generated Ignition JSON back to the
//! Butane YAML: through the translation origins recorded on the output tree
//! (Butane's `TranslationSet`), falling back to snake-casing the JSON path as
//! Butane does. The validation itself is `reignite_spec::parse`.

use reignite_spec::report::{Kind, PathElem};

use crate::diag::{Diag, P};
use crate::out::{J, JV};
use crate::schema::snake;

/// A diagnostic on a JSON path, mapped to its YAML origin.
pub fn json_diag(root: &J, jp: &P, warn: bool, msg: impl Into<String>) -> Diag {
    let kind = if warn { Kind::Warning } else { Kind::Error };
    let mut n = Some(root);
    for el in &jp.0 {
        n = n.and_then(|j| match (el, &j.v) {
            (PathElem::Field(k), JV::Obj(_)) => j.get(k),
            (PathElem::Index(i), JV::Arr(a)) => a.get(*i),
            _ => None,
        });
    }
    let path = match n.and_then(|j| j.from.clone()) {
        Some(p) => p,
        None => reignite_spec::report::ConfigPath(
            jp.0.iter()
                .map(|e| match e {
                    PathElem::Field(s) => PathElem::Field(snake(s)),
                    i => i.clone(),
                })
                .collect(),
        ),
    };
    Diag::new(kind, path, msg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::PathExt;

    #[test]
    fn json_paths_fall_back_to_snake_case() {
        let root = J::obj(None);
        let d = json_diag(&root, &P::root().f("storage").f("sizeMiB"), false, "x");
        assert_eq!(d.path.to_string(), "$.storage.size_mib");
    }

    #[test]
    fn json_paths_use_recorded_origins() {
        let from = P::root().f("storage").f("trees").i(0);
        let mut root = J::obj(None);
        if let JV::Obj(f) = &mut root.v {
            f.push((
                "files".into(),
                J::arr(vec![J::obj(Some(from.clone()))], None),
            ));
        }
        let d = json_diag(&root, &P::root().f("files").i(0), true, "x");
        assert_eq!(d.path, from);
        assert_eq!(d.kind, Kind::Warning);
    }
}
