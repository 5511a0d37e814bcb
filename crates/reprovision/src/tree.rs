//! Full-fidelity snapshots of a directory tree (kind, mode, owner, content
//! hash, link target) for comparisons: the equivalence guarantee, crash
//! tests and `drift`.

use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use sha2::{Digest, Sha256};

/// The recorded state of one node.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NodeState {
    /// `file`, `dir`, `link` or `special`.
    pub kind: String,
    /// Permission bits (`0o7777`).
    pub mode: u32,
    /// Owner uid.
    pub uid: u32,
    /// Owner gid.
    pub gid: u32,
    /// sha256 of the contents (files), the link target (links), or empty.
    pub content: String,
}

/// sha256 of a file's contents as lowercase hex.
pub fn hash_file(path: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// The state of the node at `path` (not following a final symlink).
pub fn node_state(path: &Path) -> std::io::Result<NodeState> {
    let md = std::fs::symlink_metadata(path)?;
    let ft = md.file_type();
    let (kind, content) = if ft.is_symlink() {
        (
            "link",
            std::fs::read_link(path)?.to_string_lossy().into_owned(),
        )
    } else if ft.is_dir() {
        ("dir", String::new())
    } else if ft.is_file() {
        ("file", hash_file(path)?)
    } else {
        ("special", format!("{:o}", md.mode() & 0o170000))
    };
    Ok(NodeState {
        kind: kind.into(),
        mode: md.mode() & 0o7777,
        uid: md.uid(),
        gid: md.gid(),
        content,
    })
}

/// Snapshots every node below `root` (relative paths, `/`-separated),
/// skipping top-level names in `exclude`.
pub fn snapshot(root: &Path, exclude: &[&str]) -> std::io::Result<BTreeMap<String, NodeState>> {
    fn walk(
        root: &Path,
        rel: &str,
        exclude: &[&str],
        out: &mut BTreeMap<String, NodeState>,
    ) -> std::io::Result<()> {
        for e in std::fs::read_dir(root.join(rel))? {
            let e = e?;
            let name = e.file_name().to_string_lossy().into_owned();
            if rel.is_empty() && exclude.contains(&name.as_str()) {
                continue;
            }
            let p = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            let st = node_state(&root.join(&p))?;
            let is_dir = st.kind == "dir";
            out.insert(p.clone(), st);
            if is_dir {
                walk(root, &p, exclude, out)?;
            }
        }
        Ok(())
    }
    let mut out = BTreeMap::new();
    walk(root, "", exclude, &mut out)?;
    Ok(out)
}
