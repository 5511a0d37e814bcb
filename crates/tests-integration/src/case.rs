//! Corpus cases: one JSON file per case, holding a description, extra nodes
//! for the starting root, the config, whether both engines must succeed or
//! fail, and the per-case known differences (each with its reason).
//!
//! ```json
//! { "description": "…",
//!   "setup": [ {"path": "/etc/hostname", "contents": "old\n", "mode": "0600"},
//!              {"path": "/var/d", "directory": true},
//!              {"path": "/etc/l", "symlink": "hostname"},
//!              {"path": "/h", "hardlink": "/etc/hostname"} ],
//!   "expect": "success",
//!   "known": [ {"matches": "/etc/x: uid", "kind": "bug", "reason": "…"} ],
//!   "config": { "ignition": { "version": "3.3.0" } } }
//! ```
//!
//! `config_raw` (a string) replaces `config` when the exact bytes matter.
//! Every case starts from [`populate_base`]: a small Flatcar-like `/etc` with
//! `root` and `core` accounts and the SELinux stub Ignition 2.14 needs.

use std::fs;
use std::io;
use std::os::unix::fs::{lchown, symlink, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Whether both engines must succeed or both must fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Expect {
    /// Both exit 0.
    Success,
    /// Both exit non-zero.
    Failure,
}

/// A tolerated difference of one case.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Known {
    /// Substring of the difference line (`path: detail`) it covers.
    pub matches: String,
    /// `deliberate` (a design choice of reignite, usually an improvement),
    /// `ignition-2.14` (2.14 behaviour that later Ignition releases changed;
    /// reignite follows upstream) or `bug` (an open reignite bug).
    pub kind: String,
    /// Why.
    pub reason: String,
}

/// A node created in the starting root before either engine runs.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetupNode {
    /// Absolute path inside the root.
    pub path: String,
    /// Regular file with these contents.
    pub contents: Option<String>,
    /// A directory.
    #[serde(default)]
    pub directory: bool,
    /// A symlink with this target.
    pub symlink: Option<String>,
    /// A hard link to this existing path inside the root.
    pub hardlink: Option<String>,
    /// Octal permission bits, e.g. `"0600"`.
    pub mode: Option<String>,
    /// Owner (needs root).
    pub uid: Option<u32>,
    /// Group (needs root).
    pub gid: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseFile {
    description: String,
    #[serde(default)]
    setup: Vec<SetupNode>,
    expect: Expect,
    #[serde(default)]
    known: Vec<Known>,
    config: Option<serde_json::Value>,
    config_raw: Option<String>,
}

/// One corpus case.
#[derive(Debug, Clone)]
pub struct Case {
    /// File stem.
    pub name: String,
    /// What the case exercises.
    pub description: String,
    /// Extra starting nodes.
    pub setup: Vec<SetupNode>,
    /// Expected outcome of both engines.
    pub expect: Expect,
    /// Tolerated differences.
    pub known: Vec<Known>,
    /// The config bytes given to both engines.
    pub config: String,
}

impl Case {
    /// Parses one case file.
    pub fn load(path: &Path) -> Result<Case, String> {
        let text = fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let f: CaseFile =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let config = match (f.config, f.config_raw) {
            (Some(v), None) => serde_json::to_string(&v).expect("serialising a JSON value"),
            (None, Some(raw)) => raw,
            _ => {
                return Err(format!(
                    "{}: needs exactly one of config, config_raw",
                    path.display()
                ))
            }
        };
        Ok(Case {
            name: path
                .file_stem()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned(),
            description: f.description,
            setup: f.setup,
            expect: f.expect,
            known: f.known,
            config,
        })
    }

    /// Loads every `*.json` in `dir` (not recursive), sorted by name.
    pub fn load_dir(dir: &Path) -> Result<Vec<Case>, String> {
        let mut paths: Vec<PathBuf> = fs::read_dir(dir)
            .map_err(|e| format!("{}: {e}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        paths.sort();
        paths.iter().map(|p| Case::load(p)).collect()
    }
}

/// The starting root shared by every case: files as `(path, mode, contents)`.
const BASE_FILES: &[(&str, u32, &str)] = &[
    (
        "/etc/passwd",
        0o644,
        "root:x:0:0:root:/root:/bin/bash\ncore:x:500:500:Flatcar Admin:/home/core:/bin/bash\n",
    ),
    (
        "/etc/shadow",
        0o640,
        "root:*:19000:0:99999:7:::\ncore:*:19000:0:99999:7:::\n",
    ),
    (
        "/etc/group",
        0o644,
        "root:x:0:\nwheel:x:10:root,core\nusers:x:100:\ndocker:x:233:core\ncore:x:500:\n",
    ),
    (
        "/etc/gshadow",
        0o640,
        "root:*::\nwheel:*::root,core\nusers:*::\ndocker:*::core\ncore:!::\n",
    ),
    ("/etc/hostname", 0o644, "localhost\n"),
    // Ignition 2.14 relabels at the end of `files` and fails without these
    // (ignition-semantics.md §8.4); `setfiles` itself is a stub in PATH.
    ("/etc/selinux/config", 0o644, "SELINUXTYPE=targeted\n"),
    (
        "/etc/selinux/targeted/contexts/files/file_contexts",
        0o644,
        "",
    ),
];

/// Directories of the starting root as `(path, mode, uid:gid)`.
const BASE_DIRS: &[(&str, u32, u32)] = &[
    ("/etc/systemd/system", 0o755, 0),
    ("/root", 0o700, 0),
    ("/home/core", 0o755, 500),
    ("/usr/bin", 0o755, 0),
];

fn mkdirs(p: &Path) -> io::Result<()> {
    fs::create_dir_all(p)
}

fn set_mode(p: &Path, mode: u32) -> io::Result<()> {
    fs::set_permissions(p, fs::Permissions::from_mode(mode))
}

/// Fills `root` with the base tree. Owners other than the caller are only
/// set when running as root.
pub fn populate_base(root: &Path) -> io::Result<()> {
    for (path, mode, contents) in BASE_FILES {
        let p = root.join(&path[1..]);
        mkdirs(p.parent().expect("base paths have parents"))?;
        fs::write(&p, contents)?;
        set_mode(&p, *mode)?;
    }
    for (path, mode, owner) in BASE_DIRS {
        let p = root.join(&path[1..]);
        mkdirs(&p)?;
        set_mode(&p, *mode)?;
        if crate::is_root() {
            lchown(&p, Some(*owner), Some(*owner))?;
        }
    }
    Ok(())
}

/// Creates the case's setup nodes in `root`, in order.
pub fn populate_setup(root: &Path, setup: &[SetupNode]) -> io::Result<()> {
    for n in setup {
        let p = root.join(n.path.trim_start_matches('/'));
        if let Some(parent) = p.parent() {
            mkdirs(parent)?;
        }
        if let Some(c) = &n.contents {
            fs::write(&p, c)?;
        } else if n.directory {
            mkdirs(&p)?;
        } else if let Some(t) = &n.symlink {
            symlink(t, &p)?;
        } else if let Some(t) = &n.hardlink {
            fs::hard_link(root.join(t.trim_start_matches('/')), &p)?;
        } else {
            return Err(io::Error::other(format!(
                "setup node {} has no type",
                n.path
            )));
        }
        if let Some(m) = &n.mode {
            let mode = u32::from_str_radix(m, 8)
                .map_err(|e| io::Error::other(format!("mode {m:?} of {}: {e}", n.path)))?;
            set_mode(&p, mode)?;
        }
        if n.uid.is_some() || n.gid.is_some() {
            lchown(&p, n.uid, n.gid)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::{Kind, Tree};

    #[test]
    fn loads_a_case_and_builds_its_root() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("010-x.json");
        fs::write(
            &file,
            r#"{"description": "d", "expect": "failure",
                "setup": [{"path": "/a/f", "contents": "x", "mode": "0600"},
                          {"path": "/a/l", "symlink": "f"},
                          {"path": "/h", "hardlink": "/a/f"}],
                "config": {"ignition": {"version": "3.3.0"}}}"#,
        )
        .unwrap();
        let cases = Case::load_dir(dir.path()).unwrap();
        assert_eq!(cases.len(), 1);
        assert_eq!(cases[0].name, "010-x");
        assert_eq!(cases[0].expect, Expect::Failure);
        assert_eq!(cases[0].config, r#"{"ignition":{"version":"3.3.0"}}"#);

        let root = dir.path().join("root");
        populate_base(&root).unwrap();
        populate_setup(&root, &cases[0].setup).unwrap();
        let t = Tree::capture(&root).unwrap();
        assert_eq!(t.nodes["/a/f"].mode, 0o600);
        assert_eq!(t.nodes["/a/l"].kind, Kind::Symlink("f".into()));
        assert_eq!(t.hard_link_groups().len(), 1);
        assert!(t.nodes.contains_key("/etc/selinux/config"));
    }

    #[test]
    fn rejects_unknown_fields_and_missing_config() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.json");
        fs::write(
            &p,
            r#"{"description": "d", "expect": "success", "confg": {}}"#,
        )
        .unwrap();
        assert!(Case::load(&p).unwrap_err().contains("unknown field"));
        fs::write(&p, r#"{"description": "d", "expect": "success"}"#).unwrap();
        assert!(Case::load(&p).unwrap_err().contains("exactly one"));
    }
}
