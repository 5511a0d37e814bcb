//! Shared helpers for the engine's integration tests: a `data:`-URL fetcher
//! (base64 and percent encodings, sha256/sha512 verification), config
//! builders and tree snapshots.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use base64::Engine as _;
use reignite_engine::{apply, ApplyError, ApplyOptions, Event, Fetch, Outcome, Root};
use reignite_spec::{Config, Resource};
use sha2::Digest;

/// Decodes `data:` URLs; verifies `verification.hash` over the bytes.
#[derive(Debug, Default)]
pub struct DataFetcher;

fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

pub fn decode_data_url(src: &str) -> Result<Vec<u8>, String> {
    let rest = src.strip_prefix("data:").ok_or("not a data URL")?;
    let (meta, data) = rest.split_once(',').ok_or("no comma")?;
    if meta.ends_with(";base64") {
        base64::engine::general_purpose::STANDARD
            .decode(data)
            .map_err(|e| e.to_string())
    } else {
        Ok(percent_decode(data))
    }
}

impl Fetch for DataFetcher {
    fn fetch_into(
        &self,
        r: &Resource,
        out: &mut dyn Write,
    ) -> Result<u64, Box<dyn std::error::Error + Send + Sync>> {
        let src = r.source.as_deref().unwrap_or("");
        let bytes = if src.is_empty() {
            Vec::new()
        } else {
            decode_data_url(src)?
        };
        if let Some(h) = &r.verification.hash {
            let (func, want) = h.split_once('-').ok_or("bad hash")?;
            let got = match func {
                "sha256" => hex::encode(sha2::Sha256::digest(&bytes)),
                "sha512" => hex::encode(sha2::Sha512::digest(&bytes)),
                _ => return Err("unknown hash".into()),
            };
            // Write first, then fail: the engine must discard the temp file.
            out.write_all(&bytes)?;
            if got != want.to_ascii_lowercase() {
                return Err(format!(
                    "hash verification failed (calculated {got} but expected {want})"
                )
                .into());
            }
            return Ok(bytes.len() as u64);
        }
        out.write_all(&bytes)?;
        Ok(bytes.len() as u64)
    }
}

pub fn data(s: &str) -> Resource {
    Resource {
        source: Some(format!(
            "data:;base64,{}",
            base64::engine::general_purpose::STANDARD.encode(s)
        )),
        ..Default::default()
    }
}

pub fn config(json: serde_json::Value) -> Config {
    serde_json::from_value(json).expect("test config parses")
}

pub fn opts(f: &DataFetcher) -> ApplyOptions<'_> {
    let mut o = ApplyOptions::new(f);
    o.boot_id = Some("00000000-0000-0000-0000-000000000000".into());
    o.now = Some(1_795_636_555);
    o
}

pub fn run(root: &Path, cfg: &Config) -> Result<Outcome, ApplyError> {
    let f = DataFetcher;
    let r = Root::open(root).unwrap();
    apply(&r, cfg, opts(&f), &mut |_e: &Event| {})
}

pub fn run_failing_at(root: &Path, cfg: &Config, n: usize) -> Result<Outcome, ApplyError> {
    let f = DataFetcher;
    let r = Root::open(root).unwrap();
    let mut o = opts(&f);
    o.fail_at = Some(n);
    apply(&r, cfg, o, &mut |_e: &Event| {})
}

/// A snapshot of a tree: path → (kind, mode, uid, gid, contents or target).
pub fn snapshot(root: &Path, skip_state: bool) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    walk(root, root, &mut out, skip_state);
    out
}

fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>, skip_state: bool) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let p = e.path();
        let rel = format!("/{}", p.strip_prefix(root).unwrap().display());
        if skip_state && rel.starts_with("/var/lib/reignite") {
            continue;
        }
        let md = std::fs::symlink_metadata(&p).unwrap();
        let ft = md.file_type();
        let desc = if ft.is_symlink() {
            format!(
                "link {}:{} -> {}",
                md.uid(),
                md.gid(),
                std::fs::read_link(&p).unwrap().display()
            )
        } else if ft.is_dir() {
            format!("dir {:o} {}:{}", md.mode() & 0o7777, md.uid(), md.gid())
        } else {
            let c = std::fs::read(&p).unwrap();
            let c = if rel == "/etc/.ignition-result.json" {
                b"(result)".to_vec()
            } else {
                c
            };
            format!(
                "file {:o} {}:{} {:?}",
                md.mode() & 0o7777,
                md.uid(),
                md.gid(),
                String::from_utf8_lossy(&c)
            )
        };
        out.insert(rel, desc);
        if ft.is_dir() {
            walk(root, &p, out, skip_state);
        }
    }
}

pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// What Debian's Ignition 2.14 needs in a directory root to run its files
/// stage without SELinux: `/etc/selinux/config` naming a policy and that
/// policy's (empty) `file_contexts`; `setfiles` itself is a no-op on `PATH`.
pub fn selinux_stub(root: &std::path::Path) {
    let ctx = root.join("etc/selinux/targeted/contexts/files");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(root.join("etc/selinux/config"), "SELINUXTYPE=targeted\n").unwrap();
    std::fs::write(ctx.join("file_contexts"), "").unwrap();
}

/// Prepares `work` for one Debian Ignition 2.14 run: a no-op `setfiles`
/// in `work/bin` and the config in `work/config.ign`. Returns the `PATH`
/// to run it with (`work/bin` first).
pub fn ignition_workdir(work: &std::path::Path, config: &str) -> String {
    use std::os::unix::fs::PermissionsExt;
    let bin = work.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let setfiles = bin.join("setfiles");
    std::fs::write(&setfiles, "#!/bin/sh\ncat >/dev/null\n").unwrap();
    std::fs::set_permissions(&setfiles, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(work.join("config.ign"), config).unwrap();
    format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// Adds the arguments and environment of Ignition's `stage` with the
/// `file` platform against `root`, its cache and state files in `work`.
pub fn ignition_stage<'c>(
    cmd: &'c mut std::process::Command,
    work: &std::path::Path,
    root: &std::path::Path,
    stage: &str,
    path: &str,
) -> &'c mut std::process::Command {
    cmd.args(["-platform", "file", "-stage", stage, "-root"])
        .arg(root)
        .arg("-config-cache")
        .arg(work.join("ignition.json"))
        .arg("-state-file")
        .arg(work.join("state"))
        .arg("-log-to-stdout")
        .env("IGNITION_CONFIG_FILE", work.join("config.ign"))
        .env("PATH", path)
}
