//! Podman Quadlets (`systemd.quadlets`, base v0_8_exp: flatcar
//! 1.2.0-experimental, fcos 1.8.0-experimental): each quadlet becomes a file
//! under `/etc/containers/systemd` (rootful) or `/etc/containers/systemd/users`,
//! its drop-ins files under `<name>.d/`, and a template instance
//! (`web@8080.container`) a symlink to its template.

use crate::decode::DObj;
use crate::diag::{Diag, PathExt, P};
use crate::local;
use crate::out::J;
use crate::schema;
use crate::translate::{Tracker, Tx, ERR_NODE_EXISTS, MAX_LOCAL_FILE};

pub const ERR_BAD_EXTENSION: &str = "unsupported file extension for quadlet: must be one of .container, .volume, .network, .kube, .image, .build, .pod, or .artifact";
pub const ERR_TEMPLATE_CONTENTS: &str = "template instances cannot have contents or contents_local";

const EXTENSIONS: &[&str] = &[
    ".container",
    ".volume",
    ".network",
    ".kube",
    ".image",
    ".build",
    ".pod",
    ".artifact",
];

/// `Quadlet.Validate`.
pub fn validate(o: &DObj, p: &P, out: &mut Vec<Diag>) {
    let name = o.str("name").unwrap_or("");
    if !EXTENSIONS.iter().any(|e| name.ends_with(e)) {
        out.push(Diag::err(p.f("name"), ERR_BAD_EXTENSION));
        return;
    }
    if template_of(name).is_some() {
        for k in ["contents", "contents_local"] {
            if o.get(k).is_some() {
                out.push(Diag::err(p.f(k), ERR_TEMPLATE_CONTENTS));
            }
        }
    } else if o.get("contents").is_some() && o.get("contents_local").is_some() {
        out.push(Diag::err(
            p.f("contents_local"),
            crate::validate::ERR_TOO_MANY_SYSTEMD_SOURCES,
        ));
    }
}

/// `isTemplateInstance`: `a@b.ext` → `a@.ext`.
fn template_of(name: &str) -> Option<String> {
    let at = name.find('@')?;
    let dot = name.rfind('.')?;
    if at + 1 == dot {
        return None;
    }
    Some(format!("{}@.{}", &name[..at], &name[dot + 1..]))
}

fn dest(rootful: bool, name: &str) -> String {
    let base = if rootful {
        "/etc/containers/systemd"
    } else {
        "/etc/containers/systemd/users"
    };
    local::join(base, name)
}

/// `processQuadlets`.
pub fn process(tx: &mut Tx<'_>, cfg: &DObj, root: &mut J) {
    let quadlets = cfg
        .obj("systemd")
        .map(|s| s.objs("quadlets"))
        .unwrap_or_default();
    if quadlets.is_empty() {
        return;
    }
    let mut st = std::mem::replace(root.obj_mut(&schema::CONFIG, "storage"), J::obj(None));
    if st.from.is_none() {
        st.from = Some(P::root().f("systemd").f("quadlets"));
    }
    let mut t = Tracker::new(&st);
    for (n, q) in quadlets.into_iter().enumerate() {
        let qp = P::root().f("systemd").f("quadlets").i(n);
        let name = q.str("name").unwrap_or("");
        let rootful = q.bool("rootful").unwrap_or(false);
        let path = dest(rootful, name);
        if let Some(template) = template_of(name) {
            if t.exists(&path) {
                tx.diags.push(Diag::err(&qp, ERR_NODE_EXISTS));
            } else {
                let mut l = J::obj(Some(qp.clone()));
                l.set(&schema::LINK, "path", J::str(&path, Some(qp.f("name"))));
                l.set(&schema::LINK, "target", J::str(template, Some(qp.clone())));
                let links = st.list_mut(&schema::STORAGE, "links");
                links.push(l);
                t.links.insert(path.clone(), links.len() - 1);
            }
        } else {
            add_file(tx, &mut st, &mut t, q, &path, &qp);
        }
        for (i, d) in q.objs("dropins").into_iter().enumerate() {
            let dp = qp.f("dropins").i(i);
            let dpath = format!("{path}.d/{}", d.str("name").unwrap_or(""));
            add_file(tx, &mut st, &mut t, d, &dpath, &dp);
        }
    }
    *root.obj_mut(&schema::CONFIG, "storage") = st;
}

/// `addFileWithContents`: a new 0644 file from `contents` or
/// `contents_local`.
fn add_file(tx: &mut Tx<'_>, st: &mut J, t: &mut Tracker, o: &DObj, path: &str, p: &P) {
    if t.exists(path) {
        tx.diags.push(Diag::err(p, ERR_NODE_EXISTS));
        return;
    }
    let mut f = J::obj(Some(p.clone()));
    f.set(&schema::FILE, "path", J::str(path, Some(p.f("name"))));
    let mut bytes = Vec::new();
    let mut cp = p.clone();
    if let Some(rel) = o.str("contents_local").filter(|s| !s.is_empty()) {
        cp = p.f("contents_local");
        match local::read(rel, tx.files_dir, MAX_LOCAL_FILE) {
            Ok(b) => bytes = b,
            Err(e) => {
                tx.diags.push(Diag::err(&cp, e));
                return;
            }
        }
    }
    if let Some(text) = o.str("contents").filter(|s| !s.is_empty()) {
        cp = p.f("contents");
        bytes = text.as_bytes().to_vec();
    }
    let mut res = J::obj(Some(cp.clone()));
    tx.data_url(&bytes, &mut res, &cp);
    f.set(&schema::FILE, "contents", res);
    f.set(&schema::FILE, "mode", J::int(0o644, Some(p.clone())));
    let files = st.list_mut(&schema::STORAGE, "files");
    files.push(f);
    t.files.insert(path.to_string(), files.len() - 1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_instances() {
        assert_eq!(
            template_of("web@8080.container").as_deref(),
            Some("web@.container")
        );
        assert_eq!(template_of("web@.container"), None);
        assert_eq!(template_of("web.container"), None);
        assert_eq!(
            dest(true, "a.container"),
            "/etc/containers/systemd/a.container"
        );
        assert_eq!(
            dest(false, "a.container"),
            "/etc/containers/systemd/users/a.container"
        );
    }
}
