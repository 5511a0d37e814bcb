//! Shared fixtures: a small image tree and a test provisioner.
//!
//! `TestProvisioner` stands in for the engine's files stage (which lives in
//! another crate and is wired in by the CLI): it writes `storage.files`
//! (inline `data:` contents), `storage.directories` and `storage.links` with
//! mode and owner, and returns a manifest listing them. It is deliberately
//! simple and deterministic, so the tests prove the reset machinery — the
//! keep-set, trash, factory restore and generation record — not the engine.

#![allow(dead_code)]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use reignite_reprovision::boot;
use reignite_reprovision::boot::Provisioner;
use reignite_reprovision::generations::{NewGeneration, Store};
use reignite_reprovision::reset::Staged;

#[derive(Default)]
pub struct TestProvisioner {
    /// Fail like a full disk when writing this path.
    pub fail_on: Option<String>,
}

fn data(url: &str) -> Vec<u8> {
    let rest = url
        .strip_prefix("data:,")
        .expect("test configs use data:, URLs");
    let mut out = Vec::new();
    let b = rest.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            out.push(
                u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap(), 16).unwrap(),
            );
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

fn mkparents(root: &Path, rel: &str) {
    let p = root.join(rel.trim_start_matches('/'));
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
}

impl Provisioner for TestProvisioner {
    fn validate(&self, config: &[u8]) -> Result<Vec<u8>, String> {
        let v: serde_json::Value = serde_json::from_slice(config).map_err(|e| e.to_string())?;
        if v["ignition"]["version"].as_str().is_none() {
            return Err("error at $.ignition.version: missing".into());
        }
        serde_json::to_vec(&v).map_err(|e| e.to_string())
    }

    fn apply(&self, root: &Path, canonical: &[u8]) -> Result<serde_json::Value, String> {
        let v: serde_json::Value = serde_json::from_slice(canonical).unwrap();
        let mut nodes = Vec::new();
        for d in v["storage"]["directories"].as_array().into_iter().flatten() {
            let path = d["path"].as_str().unwrap();
            let p = root.join(path.trim_start_matches('/'));
            std::fs::create_dir_all(&p).map_err(|e| e.to_string())?;
            let mode = d["mode"].as_u64().unwrap_or(0o755) as u32;
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
            nodes.push(serde_json::json!({"path": path, "kind": "directory", "mode": mode}));
        }
        for f in v["storage"]["files"].as_array().into_iter().flatten() {
            let path = f["path"].as_str().unwrap();
            mkparents(root, path);
            let p = root.join(path.trim_start_matches('/'));
            let bytes = data(f["contents"]["source"].as_str().unwrap_or("data:,"));
            if self.fail_on.as_deref() == Some(path) {
                return Err(format!("writing {path}: No space left on device"));
            }
            std::fs::write(&p, &bytes).map_err(|e| e.to_string())?;
            let mode = f["mode"].as_u64().unwrap_or(0o644) as u32;
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
            let sha = {
                use sha2::Digest;
                hex::encode(sha2::Sha256::digest(&bytes))
            };
            nodes.push(serde_json::json!({"path": path, "kind": "file", "mode": mode, "size": bytes.len(), "sha256": sha}));
        }
        for l in v["storage"]["links"].as_array().into_iter().flatten() {
            let path = l["path"].as_str().unwrap();
            mkparents(root, path);
            let p = root.join(path.trim_start_matches('/'));
            let _ = std::fs::remove_file(&p);
            std::os::unix::fs::symlink(l["target"].as_str().unwrap(), &p)
                .map_err(|e| e.to_string())?;
            nodes.push(serde_json::json!({"path": path, "kind": "symlink"}));
        }
        Ok(serde_json::json!({"format": 1, "nodes": nodes}))
    }
}

/// The OS image: `/usr` with a factory tree for `/etc`.
pub fn image(root: &Path) {
    for (p, c, mode) in [
        ("usr/bin/sh", "#!sh", 0o755),
        ("usr/lib/os-release", "ID=test", 0o644),
        (
            "usr/share/factory/etc/passwd",
            "root:x:0:0::/root:/bin/sh\n",
            0o644,
        ),
        ("usr/share/factory/etc/shadow", "root:*:::::::\n", 0o600),
        (
            "usr/share/factory/etc/ssh/sshd_config",
            "PermitRootLogin no\n",
            0o600,
        ),
    ] {
        let p = root.join(p);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, c).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    std::os::unix::fs::symlink(
        "../usr/lib/os-release",
        root.join("usr/share/factory/etc/os-release"),
    )
    .unwrap();
}

/// A config (Ignition-shaped JSON) writing `files` (path, contents) and an
/// optional keep.d file.
pub fn config(files: &[(&str, &str)], keep: &[&str]) -> Vec<u8> {
    let enc = |s: &str| -> String {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"/._-".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    };
    let mut fs: Vec<serde_json::Value> = files
        .iter()
        .map(|(p, c)| serde_json::json!({"path": p, "mode": 420, "contents": {"source": format!("data:,{}", enc(c))}}))
        .collect();
    if !keep.is_empty() {
        let text = keep.join("\n") + "\n";
        fs.push(serde_json::json!({"path": "/etc/reignite/keep.d/50-test", "mode": 420, "contents": {"source": format!("data:,{}", enc(&text))}}));
    }
    serde_json::to_vec(
        &serde_json::json!({"ignition": {"version": "3.4.0"}, "storage": {"files": fs}}),
    )
    .unwrap()
}

/// Copies a tree with metadata (`cp -a`).
pub fn copy_tree(src: &Path, dst: &Path) {
    let st = std::process::Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", src.display()))
        .arg(dst)
        .status()
        .unwrap();
    assert!(st.success());
}

/// A staged request, built from its JSON form so that fields added later
/// with a default need no change here.
pub fn staged_request(
    from_generation: Option<u64>,
    allow_data_loss: bool,
    keep_machine_id: bool,
    try_seconds: Option<u64>,
) -> Staged {
    serde_json::from_value(serde_json::json!({
        "format": 1, "keep": [], "keep-machine-id": keep_machine_id,
        "try-seconds": try_seconds, "from-generation": from_generation,
        "has-config": true, "allow-data-loss": allow_data_loss,
    }))
    .expect("a valid staged request")
}

/// First boot: factory defaults, apply, record generation 1.
pub fn provision(root: &Path, cfg: &[u8]) {
    let p = TestProvisioner::default();
    let canonical = p.validate(cfg).unwrap();
    boot::restore_factory(root, "usr/share/factory").unwrap();
    let m = p.apply(root, &canonical).unwrap();
    let keep = boot::config_keep_patterns(&canonical).unwrap();
    Store::new(root)
        .record(&NewGeneration {
            config: &canonical,
            config_sha256: "c0",
            manifest: &m,
            keep: &keep,
            command: "apply",
            try_deadline: None,
        })
        .unwrap();
}
