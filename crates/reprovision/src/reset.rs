//! Staging a reset for the next boot, in reignite's own format and with
//! flatcar-reset's markers so either initramfs half can pick it up.
//!
//! What staging writes (all inside the target root):
//! * `/var/lib/reignite/staged/reset.json` — keep-set, machine-id policy,
//!   `--try` deadline, the generation it was staged from; and
//!   `/var/lib/reignite/staged/config.json` — the validated new config
//!   (validation is the caller's job and happens *before* this is called);
//! * `/selective-os-reset` — flatcar-reset's marker: one line, the combined
//!   ERE of the `-K` entries plus `/flatcar-backup|/flatcar-backup/.*|/selective-os-reset`;
//! * `/boot/flatcar/first_boot` — the first-boot flag on the ESP;
//! * with `-F`: `/oem/config.ign`, and `ignition.config.url=` removed from
//!   `/oem/grub.cfg`; with `-U`: `/oem/config.ign` removed and a
//!   `set linux_append="$linux_append ignition.config.url=URL"` line; with
//!   `-M`: a `systemd.machine_id=<id>` line, without it any such token removed.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::keep::{KeepPattern, Syntax};
use crate::util;

/// Staged-reset directory relative to the root.
pub const STAGED_REL: &str = "var/lib/reignite/staged";
/// flatcar-reset's marker on ROOT.
pub const MARKER: &str = "selective-os-reset";
/// The first-boot flag on the ESP, relative to the root.
pub const FIRST_BOOT: &str = "boot/flatcar/first_boot";

/// Whether the process runs with effective uid 0 (flatcar-reset's check).
pub fn running_as_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// Errors of reset staging.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ResetError {
    /// I/O.
    #[error("{op} {path}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// On which path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Usage error (flatcar-reset's checks).
    #[error("{0}")]
    Usage(String),
}

fn io<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> ResetError + 'a {
    move |source| ResetError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// The staged request, as `reset.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Staged {
    /// Format version (1).
    pub format: u32,
    /// Extra keep patterns (`--keep`, `-K`); the config's keep.d adds more.
    pub keep: Vec<KeepPattern>,
    /// Keep `/etc/machine-id` (no systemd first boot; reignite enables the
    /// declared units itself).
    pub keep_machine_id: bool,
    /// `--try`: seconds the new generation has to be confirmed after boot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub try_seconds: Option<u64>,
    /// Generation active when the reset was staged.
    pub from_generation: Option<u64>,
    /// Whether `config.json` was staged (otherwise the boot uses
    /// `/oem/config.ign` like flatcar-reset).
    pub has_config: bool,
    /// Allow dropping paths kept by the previous generation.
    #[serde(default)]
    pub allow_data_loss: bool,
    /// Kept data owned by an id that changes: refuse, remap or keep.
    #[serde(default)]
    pub owners: crate::owners::OwnerPolicy,
    /// The plan hash the user approved, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_hash: Option<String>,
}

/// OEM-partition edits of flatcar-reset's `-F`/`-U`/`-M`.
#[derive(Debug, Clone, Default)]
pub struct OemEdits {
    /// `-F FILE` contents, copied verbatim to `/oem/config.ign`.
    pub ignition_file: Option<Vec<u8>>,
    /// `-U URL`.
    pub ignition_url: Option<String>,
    /// `-M`: the machine id to pin (read from `/etc/machine-id`).
    pub machine_id: Option<String>,
}

/// flatcar-reset's combined keep regex for the `/selective-os-reset` marker.
pub fn marker_regex(patterns: &[KeepPattern]) -> String {
    let mut out = String::from("(");
    for p in patterns.iter().filter(|p| p.syntax == Syntax::Flatcar) {
        let e = p.text.strip_suffix('/').unwrap_or(&p.text);
        if e.starts_with('/') && !e.ends_with(['$', ')', '*', ']', '?']) {
            out.push_str(&format!("{e}/.*|"));
        }
        out.push_str(&format!("{e}|"));
    }
    out.push_str("/flatcar-backup|/flatcar-backup/.*|/selective-os-reset)");
    out
}

/// Stages a reset of `root`. `config` is the already validated canonical
/// config (None: use `/oem/config.ign` at boot, as flatcar-reset does).
///
/// A staging that fails part-way (e.g. a full disk) is removed again —
/// together with any earlier staging it was replacing — so `boot` never
/// runs a mix of two stagings, nor one the user was told had failed.
pub fn stage(
    root: &Path,
    staged: &Staged,
    config: Option<&[u8]>,
    oem: &OemEdits,
) -> Result<(), ResetError> {
    if oem.ignition_file.is_some() && oem.ignition_url.is_some() {
        return Err(ResetError::Usage(
            "-F/--ignition-file and -U/--ignition-url are mutually exclusive".into(),
        ));
    }
    check_oem(oem)?;
    stage_files(root, staged, config, oem).inspect_err(|_| {
        if let Err(e) = unstage(root) {
            tracing::warn!("removing the failed staging: {e}");
        }
    })
}

fn stage_files(
    root: &Path,
    staged: &Staged,
    config: Option<&[u8]>,
    oem: &OemEdits,
) -> Result<(), ResetError> {
    let dir = root.join(STAGED_REL);
    std::fs::create_dir_all(&dir).map_err(io("creating", &dir))?;
    if let Some(c) = config {
        util::write_bytes(&dir, "config.json", c, 0o600).map_err(io("writing", &dir))?;
    } else {
        let _ = std::fs::remove_file(dir.join("config.json"));
    }
    util::write_json(&dir, "reset.json", staged, 0o644).map_err(io("writing", &dir))?;
    // flatcar-compatible markers.
    let marker = format!("{}\n", marker_regex(&staged.keep));
    util::write_bytes(root, MARKER, marker.as_bytes(), 0o644).map_err(io("writing", root))?;
    edit_oem(root, oem)?;
    let flag = root.join(FIRST_BOOT);
    let flag_dir = flag.parent().unwrap_or(root);
    std::fs::create_dir_all(flag_dir).map_err(io("creating", flag_dir))?;
    util::write_bytes(flag_dir, "first_boot", b"", 0o644).map_err(io("writing", &flag))?;
    Ok(())
}

/// A staged request with its config (when one was staged).
pub type StagedReset = (Staged, Option<Vec<u8>>);

/// Reads the staged reset, if any.
pub fn staged(root: &Path) -> Result<Option<StagedReset>, ResetError> {
    let dir = root.join(STAGED_REL);
    let p = dir.join("reset.json");
    let Some(s): Option<Staged> = util::read_json(&p).map_err(io("reading", &p))? else {
        return Ok(None);
    };
    let cfg = if s.has_config {
        let c = dir.join("config.json");
        Some(std::fs::read(&c).map_err(io("reading", &c))?)
    } else {
        None
    };
    Ok(Some((s, cfg)))
}

/// Whether only flatcar-reset's marker (no reignite staging) is present.
pub fn flatcar_marker(root: &Path) -> Result<Option<String>, ResetError> {
    let p = root.join(MARKER);
    match std::fs::read_to_string(&p) {
        Ok(s) if !s.trim().is_empty() => Ok(Some(s.trim().to_string())),
        Ok(_) => Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io("reading", &p)(e)),
    }
}

/// `-S`/`--stop`: unstage (markers and reignite's staging). Like
/// flatcar-reset, OEM edits of an earlier staging are *not* reverted.
pub fn unstage(root: &Path) -> Result<(), ResetError> {
    for rel in [MARKER, FIRST_BOOT] {
        let p = root.join(rel);
        match std::fs::remove_file(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io("removing", &p)(e)),
        }
    }
    let d = root.join(STAGED_REL);
    match std::fs::remove_dir_all(&d) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io("removing", &d)(e)),
    }
}

/// Clears the markers after a successful boot (what `ignition-quench` and
/// `initrd-setup-root` do) and the staged request.
pub fn clear_after_boot(root: &Path) -> Result<(), ResetError> {
    unstage(root)
}

/// Removes every `TOKEN…` word from `set linux_append=` lines, then drops
/// lines left empty (flatcar-reset's sed edits).
fn strip_token(text: &str, token: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let mut l = line.to_string();
        while let Some(i) = l.find(token) {
            let end = l[i..]
                .find([' ', '"', '\''])
                .map(|e| i + e)
                .unwrap_or(l.len());
            let start = if i > 0 && l.as_bytes()[i - 1] == b' ' {
                i - 1
            } else {
                i
            };
            l.replace_range(start..end, "");
        }
        if l.trim() == r#"set linux_append="$linux_append""# {
            continue;
        }
        out.push_str(&l);
        out.push('\n');
    }
    out
}

/// Rejects a `-U` URL that would break GRUB's double-quoted string (or is
/// empty), before it is fetched or written anywhere.
pub fn check_url(url: &str) -> Result<(), ResetError> {
    if url.is_empty() || url.contains(['"', '$', '\\', '\n', ' ']) {
        return Err(ResetError::Usage(format!(
            "refusing URL {url:?}: it would break GRUB's double-quoted string (quote characters, '$', '\\', spaces)"
        )));
    }
    Ok(())
}

/// Rejects OEM edits that would corrupt GRUB's config, before anything is
/// written.
fn check_oem(oem: &OemEdits) -> Result<(), ResetError> {
    if let Some(url) = &oem.ignition_url {
        check_url(url)?;
    }
    if let Some(id) = &oem.machine_id {
        if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ResetError::Usage(format!(
                "/etc/machine-id holds {id:?}, not a 32-digit hex machine ID"
            )));
        }
    }
    Ok(())
}

fn edit_oem(root: &Path, oem: &OemEdits) -> Result<(), ResetError> {
    let oem_dir = root.join("oem");
    let grub = oem_dir.join("grub.cfg");
    let read_grub = || -> Result<Option<String>, ResetError> {
        match std::fs::read_to_string(&grub) {
            Ok(s) => Ok(Some(s)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io("reading", &grub)(e)),
        }
    };
    let mut text = read_grub()?;
    let needs_oem =
        oem.ignition_file.is_some() || oem.ignition_url.is_some() || oem.machine_id.is_some();
    if needs_oem {
        std::fs::create_dir_all(&oem_dir).map_err(io("creating", &oem_dir))?;
    }
    if let Some(f) = &oem.ignition_file {
        if let Some(t) = text.as_mut() {
            *t = strip_token(t, "ignition.config.url=");
        }
        util::write_bytes(&oem_dir, "config.ign", f, 0o600).map_err(io("writing", &oem_dir))?;
    }
    if let Some(url) = &oem.ignition_url {
        let _ = std::fs::remove_file(oem_dir.join("config.ign"));
        let mut t = strip_token(&text.unwrap_or_default(), "ignition.config.url=");
        t.push_str(&format!(
            "set linux_append=\"$linux_append ignition.config.url={url}\"\n"
        ));
        text = Some(t);
    }
    if let Some(t) = text.as_mut() {
        *t = strip_token(t, "systemd.machine_id=");
    }
    if let Some(id) = &oem.machine_id {
        let mut t = text.unwrap_or_default();
        t.push_str(&format!(
            "set linux_append=\"$linux_append systemd.machine_id={id}\"\n"
        ));
        text = Some(t);
    }
    if let Some(t) = text {
        if needs_oem || grub.exists() {
            util::write_bytes(&oem_dir, "grub.cfg", t.as_bytes(), 0o644)
                .map_err(io("writing", &grub))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn staged_req(keep: Vec<KeepPattern>) -> Staged {
        Staged {
            format: 1,
            keep,
            keep_machine_id: false,
            try_seconds: None,
            from_generation: Some(1),
            has_config: true,
            allow_data_loss: false,
            owners: Default::default(),
            plan_hash: None,
        }
    }

    #[test]
    fn marker_matches_flatcar_generate_regex() {
        let k = vec![
            KeepPattern::flatcar("/etc/ssh/ssh_host_.*").unwrap(),
            KeepPattern::flatcar("/var/log/").unwrap(),
            KeepPattern::flatcar("/etc/mypath$").unwrap(),
        ];
        assert_eq!(
            marker_regex(&k),
            "(/etc/ssh/ssh_host_.*|/var/log/.*|/var/log|/etc/mypath$|/flatcar-backup|/flatcar-backup/.*|/selective-os-reset)"
        );
        assert_eq!(
            marker_regex(&[]),
            "(/flatcar-backup|/flatcar-backup/.*|/selective-os-reset)"
        );
    }

    #[test]
    fn stage_writes_markers_and_unstage_removes_them() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        std::fs::create_dir_all(r.join("oem")).unwrap();
        std::fs::write(
            r.join("oem/grub.cfg"),
            "set linux_append=\"$linux_append systemd.machine_id=0123456789abcdef0123456789abcdef\"\nset oem_id=\"qemu\"\n",
        )
        .unwrap();
        let req = staged_req(vec![KeepPattern::flatcar("/var/log").unwrap()]);
        let oem = OemEdits {
            ignition_file: Some(b"{\"ignition\":{}}".to_vec()),
            ..Default::default()
        };
        stage(r, &req, Some(b"{}"), &oem).unwrap();
        assert!(std::fs::read_to_string(r.join(MARKER))
            .unwrap()
            .starts_with("(/var/log/.*|/var/log|"));
        assert!(r.join(FIRST_BOOT).exists());
        assert_eq!(
            std::fs::read(r.join("oem/config.ign")).unwrap(),
            b"{\"ignition\":{}}"
        );
        assert_eq!(
            std::fs::read_to_string(r.join("oem/grub.cfg")).unwrap(),
            "set oem_id=\"qemu\"\n",
            "without -M the pinned machine id is dropped"
        );
        let (s, c) = staged(r).unwrap().unwrap();
        assert_eq!(s, req);
        assert_eq!(c.unwrap(), b"{}");
        unstage(r).unwrap();
        assert!(!r.join(MARKER).exists() && !r.join(FIRST_BOOT).exists());
        assert!(staged(r).unwrap().is_none());
        assert!(
            r.join("oem/config.ign").exists(),
            "-S does not revert OEM edits, like flatcar-reset"
        );
    }

    #[test]
    fn url_and_machine_id_lines() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        std::fs::create_dir_all(r.join("oem")).unwrap();
        std::fs::write(r.join("oem/config.ign"), "{}").unwrap();
        let oem = OemEdits {
            ignition_url: Some("https://example.com/c.ign".into()),
            machine_id: Some("0123456789abcdef0123456789abcdef".into()),
            ..Default::default()
        };
        stage(r, &staged_req(vec![]), None, &oem).unwrap();
        assert!(!r.join("oem/config.ign").exists());
        assert_eq!(
            std::fs::read_to_string(r.join("oem/grub.cfg")).unwrap(),
            "set linux_append=\"$linux_append ignition.config.url=https://example.com/c.ign\"\n\
             set linux_append=\"$linux_append systemd.machine_id=0123456789abcdef0123456789abcdef\"\n"
        );
        // Staging again replaces, never duplicates.
        stage(r, &staged_req(vec![]), None, &oem).unwrap();
        assert_eq!(
            std::fs::read_to_string(r.join("oem/grub.cfg"))
                .unwrap()
                .lines()
                .count(),
            2
        );
        let bad = OemEdits {
            ignition_url: Some("http://x/\"$y".into()),
            ..Default::default()
        };
        assert!(matches!(
            stage(r, &staged_req(vec![]), None, &bad),
            Err(ResetError::Usage(_))
        ));
        let both = OemEdits {
            ignition_url: Some("u".into()),
            ignition_file: Some(vec![]),
            ..Default::default()
        };
        assert!(matches!(
            stage(r, &staged_req(vec![]), None, &both),
            Err(ResetError::Usage(_))
        ));
    }
}
