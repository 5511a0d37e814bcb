//! The manifest: the record of everything one apply produced in the target
//! root. It is written with each generation under `/var/lib/reignite/` and is
//! the input of reconfiguration (`plan`, `switch`, `reset`): whatever a
//! generation's manifest lists and the next config no longer declares is a
//! leftover; everything else on the root that is not data is drift.
//!
//! Paths are absolute paths *inside* the target root, after full symlink
//! resolution of every component but the last (the node itself is never
//! followed), so two entries never name the same place twice.

use serde::{Deserialize, Serialize};

/// Version of the manifest format; bumped on incompatible changes.
pub const MANIFEST_FORMAT: u32 = 1;

/// Everything one apply produced.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Manifest {
    /// [`MANIFEST_FORMAT`] at the time of writing.
    pub format: u32,
    /// sha256 (hex) of the canonical config JSON this manifest was produced from.
    pub config_sha256: String,
    /// Every filesystem node written or adjusted, in the order it was
    /// processed: declared nodes, missing parents created for them, unit
    /// files, dropins, masks, the preset file, home directories, SSH key files,
    /// the kernel-arguments record and the result file.
    pub nodes: Vec<NodeRecord>,
    /// systemd units as declared (after processing).
    pub units: Vec<UnitRecord>,
    /// The lines of `/etc/systemd/system-preset/20-ignition.preset`, sorted as
    /// Ignition ≥ 2.15 writes them. Empty when no unit sets `enabled`.
    pub preset_lines: Vec<String>,
    /// Groups created, modified or removed.
    pub groups: Vec<GroupRecord>,
    /// Users created, modified or removed.
    pub users: Vec<UserRecord>,
    /// SSH authorized-keys fragments written.
    pub ssh_keys: Vec<SshKeyRecord>,
    /// Kernel arguments the config asks for.
    pub kernel_arguments: KernelArgumentsRecord,
}

/// What kind of node a [`NodeRecord`] describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RecordKind {
    /// A regular file.
    File,
    /// A directory.
    Directory,
    /// A symbolic link.
    Symlink,
    /// A hard link to another path (same inode as `target`).
    HardLink,
}

/// Why a node exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Origin {
    /// A `storage.files`/`directories`/`links` entry.
    Declared,
    /// A missing parent directory created for a declared node (0755, 0:0).
    Parent,
    /// `/etc/systemd/system/<unit>` with contents.
    Unit,
    /// `/etc/systemd/system/<unit>.d/<dropin>`.
    Dropin,
    /// `/etc/systemd/system/<unit>` → `/dev/null`.
    Mask,
    /// `/etc/systemd/system-preset/20-ignition.preset`.
    Preset,
    /// A home directory created for a user (including skel copies).
    Home,
    /// `~/.ssh/authorized_keys.d/ignition` or its directories.
    SshKeys,
    /// reignite's kernel-arguments record.
    KernelArguments,
    /// `/etc/.ignition-result.json`.
    Result,
    /// `/etc/passwd`, `/etc/shadow`, `/etc/group`, `/etc/gshadow` (and their
    /// `-` backups) rewritten by the users/groups step.
    AccountDatabase,
}

/// One node in the target root as the apply left it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct NodeRecord {
    /// Resolved absolute path inside the root.
    pub path: String,
    /// The path as written in the config, when it differs from `path`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_path: Option<String>,
    /// File, directory, symlink or hard link.
    pub kind: RecordKind,
    /// Why it exists.
    pub origin: Origin,
    /// True when this apply created (or replaced) the node; false when the
    /// node existed and only its owner/mode or appended data were applied.
    pub created: bool,
    /// Files: sha256 (hex) of the final contents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Files: size in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Symlinks: the stored target, verbatim. Hard links: the resolved
    /// in-root path of the linked file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Permission bits (`st_mode & 0o7777`); 0o777 for symlinks.
    pub mode: u32,
    /// Owner uid.
    pub uid: u32,
    /// Owner gid.
    pub gid: u32,
}

/// One `systemd.units[]` entry after processing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct UnitRecord {
    /// Unit name, e.g. `foo.service` or `foo@bar.service`.
    pub name: String,
    /// True when a unit file with contents was written.
    pub has_contents: bool,
    /// Dropin names written under `<name>.d/`.
    pub dropins: Vec<String>,
    /// `enabled` from the config (None = unset, no preset line).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// `mask` from the config.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mask: Option<bool>,
}

/// What the users/groups step did to an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AccountAction {
    /// It did not exist and was created.
    Created,
    /// It existed and was modified (or left as it was).
    Modified,
    /// `shouldExist: false` and it existed: removed.
    Removed,
    /// `shouldExist: false` and it did not exist.
    Absent,
}

/// A `passwd.groups[]` entry after processing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct GroupRecord {
    /// Group name.
    pub name: String,
    /// What was done.
    pub action: AccountAction,
    /// The gid (None when removed/absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gid: Option<u32>,
    /// The `/etc/group` line as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_line: Option<String>,
    /// The `/etc/gshadow` line as written (when the root has gshadow).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gshadow_line: Option<String>,
}

/// A `passwd.users[]` entry after processing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct UserRecord {
    /// User name.
    pub name: String,
    /// What was done.
    pub action: AccountAction,
    /// uid (None when removed/absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    /// Primary gid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gid: Option<u32>,
    /// Home directory (absolute, inside the root).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub home: Option<String>,
    /// True when the home directory was created by this apply.
    #[serde(default)]
    pub home_created: bool,
    /// A user private group created together with the user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_group: Option<String>,
    /// Supplementary groups the user was added to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// The `/etc/passwd` line as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passwd_line: Option<String>,
    /// The `/etc/shadow` line as written (when the root has shadow).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shadow_line: Option<String>,
}

/// An SSH authorized-keys fragment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct SshKeyRecord {
    /// The user the keys belong to.
    pub user: String,
    /// Resolved path of the fragment file.
    pub path: String,
    /// sha256 (hex) of the fragment's contents.
    pub sha256: String,
    /// Number of keys.
    pub keys: usize,
}

/// `kernelArguments` as declared; the boot integration makes the kernel
/// command line match.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct KernelArgumentsRecord {
    /// Arguments that must be present.
    pub should_exist: Vec<String>,
    /// Arguments that must be absent.
    pub should_not_exist: Vec<String>,
}

impl Manifest {
    /// An empty manifest for a config whose canonical JSON hashes to `config_sha256`.
    pub fn new(config_sha256: impl Into<String>) -> Self {
        Self {
            format: MANIFEST_FORMAT,
            config_sha256: config_sha256.into(),
            ..Self::default()
        }
    }

    /// The record for `path` (resolved), if any; the last one wins when a path
    /// was touched twice (e.g. a unit written and then masked).
    pub fn node(&self, path: &str) -> Option<&NodeRecord> {
        self.nodes.iter().rev().find(|n| n.path == path)
    }

    /// Every distinct path the apply created, in processing order.
    pub fn created_paths(&self) -> impl Iterator<Item = &str> {
        let mut seen = std::collections::HashSet::new();
        self.nodes
            .iter()
            .filter(|n| n.created)
            .map(|n| n.path.as_str())
            .filter(move |p| seen.insert(*p))
    }

    /// Serialises to pretty JSON (the on-disk format).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("manifest serialisation cannot fail")
    }

    /// Parses the on-disk format.
    pub fn from_json(s: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Manifest {
        let mut m = Manifest::new("ab");
        m.nodes.push(NodeRecord {
            path: "/etc/foo".into(),
            config_path: None,
            kind: RecordKind::File,
            origin: Origin::Declared,
            created: true,
            sha256: Some("00".into()),
            size: Some(3),
            target: None,
            mode: 0o644,
            uid: 0,
            gid: 0,
        });
        m.nodes.push(NodeRecord {
            path: "/etc/foo".into(),
            kind: RecordKind::Symlink,
            target: Some("/dev/null".into()),
            sha256: None,
            size: None,
            origin: Origin::Mask,
            ..m.nodes[0].clone()
        });
        m.units.push(UnitRecord {
            name: "a.service".into(),
            has_contents: true,
            dropins: vec!["x.conf".into()],
            enabled: Some(true),
            mask: None,
        });
        m.preset_lines.push("enable a.service".into());
        m.users.push(UserRecord {
            name: "core".into(),
            action: AccountAction::Created,
            uid: Some(1000),
            gid: Some(1000),
            home: Some("/home/core".into()),
            home_created: true,
            user_group: Some("core".into()),
            groups: vec!["wheel".into()],
            passwd_line: Some("core:x:1000:1000::/home/core:/bin/sh".into()),
            shadow_line: None,
        });
        m
    }

    #[test]
    fn round_trips_through_json() {
        let m = sample();
        let back = Manifest::from_json(&m.to_json()).unwrap();
        assert_eq!(m, back);
        assert!(m.to_json().contains("\"origin\": \"mask\""));
        assert!(m.to_json().contains("\"kind\": \"symlink\""));
    }

    #[test]
    fn rejects_unknown_fields() {
        let mut v: serde_json::Value = serde_json::from_str(&sample().to_json()).unwrap();
        v["surprise"] = serde_json::json!(1);
        assert!(Manifest::from_json(&v.to_string()).is_err());
    }

    #[test]
    fn last_record_wins_and_created_paths_are_distinct() {
        let m = sample();
        assert_eq!(m.node("/etc/foo").unwrap().origin, Origin::Mask);
        assert_eq!(m.created_paths().collect::<Vec<_>>(), ["/etc/foo"]);
    }
}
